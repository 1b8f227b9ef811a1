/*
 * The machine file's 'pci:' key: a list of host bridges, each a tree of
 * root ports, switches and endpoints, parsed into a flat depth-first list
 * of declarations (struct pci_decl) and built with the library's
 * zd_pci_*_add() calls right after boot. A declaration's parent is an
 * earlier one, so building in order always finds it; every value is checked
 * while parsing, and what only the library can judge (window placement, BAR
 * space) fails the boot with the entry's position.
 */
#include "schema.h"
#include "scenario-internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zonedev/pci.h>

int pci_decl_add(struct scenario *s, yaml_node_t *n, enum pci_decl_kind kind, int parent,
		 struct pci_decl **out)
{
	struct pci_decl *d;

	if (s->nr_pci % 16 == 0) {
		d = realloc(s->pci, (s->nr_pci + 16) * sizeof(*d));
		if (!d)
			return yerr(YF, n, "out of memory");
		s->pci = d;
	}
	d = &s->pci[s->nr_pci++];
	memset(d, 0, sizeof(*d));
	d->kind = kind;
	d->parent = parent;
	d->domain = d->slot = d->secondary = -1;
	d->line = yline(n);
	d->col = ycol(n);
	*out = d;
	return 0;
}

/* "vvvv:dddd", as lspci -n prints it. */
static int get_id(struct scenario *s, yaml_node_t *map, const char *key, uint16_t *ven,
		  uint16_t *dev)
{
	yaml_node_t *v = ymap_get(YF, map, key);
	const char *t;
	unsigned a, b;
	int n = 0;

	if (!v)
		return yerr(YF, map, "missing key '%s' (a vendor:device ID such as 8086:2030)", key);
	t = yscalar(YF, v, key);
	if (!t)
		return -1;
	if (sscanf(t, "%4x:%4x%n", &a, &b, &n) != 2 || t[n] || n != 9)
		return yerr(YF, v, "'%s' is a vendor:device ID of 4 hex digits each (8086:2030), "
			    "not '%s'", key, t);
	*ven = (uint16_t)a;
	*dev = (uint16_t)b;
	return 0;
}

static int get_size(struct scenario *s, yaml_node_t *map, const char *key, bool req,
		    uint64_t *out)
{
	yaml_node_t *v = ymap_get(YF, map, key);
	const char *t, *why;

	if (!v)
		return req ? yerr(YF, map, "missing key '%s'", key) : 0;
	t = yscalar(YF, v, key);
	if (!t)
		return -1;
	if (parse_size(t, out, &why))
		return yerr(YF, v, "bad size '%s' for '%s': %s", t, key, why);
	return 0;
}

/* acs: the ACS control word (the capability then has every bit). */
static int get_acs(struct scenario *s, yaml_node_t *map, struct pci_decl *d)
{
	uint64_t v = 0;

	if (!ymap_get(YF, map, "acs"))
		return 0;
	if (get_size(s, map, "acs", false, &v))
		return -1;
	if (v > 0x7f)
		return yerr(YF, ymap_get(YF, map, "acs"), "acs is an ACS control word of bits "
			    "0x01 (SV) to 0x40 (DT), not 0x%llx", (unsigned long long)v);
	d->acs = (uint16_t)v;
	d->has_acs = true;
	return 0;
}

static int parse_below(struct scenario *s, yaml_node_t *n, int parent);

/* A root or downstream port: {id (root ports), acs, below}. */
static int parse_port(struct scenario *s, yaml_node_t *n, enum pci_decl_kind kind, int parent)
{
	static const char *const rp_keys[] = { "id", "acs", "below", NULL };
	static const char *const dp_keys[] = { "acs", "below", NULL };
	struct pci_decl *d;
	int me = (int)s->nr_pci;

	if (n->type != YAML_MAPPING_NODE)
		return yerr(YF, n, "a port is a mapping {%sacs, below}, not %s",
			    kind == PCI_DECL_ROOT_PORT ? "id, " : "", ykind(n));
	if (ymap_check(YF, n, kind == PCI_DECL_ROOT_PORT ? rp_keys : dp_keys, "a port",
		       kind == PCI_DECL_ROOT_PORT ? "id, acs, below" : "acs, below") ||
	    pci_decl_add(s, n, kind, parent, &d))
		return -1;
	if (kind == PCI_DECL_ROOT_PORT && get_id(s, n, "id", &d->vendor, &d->device))
		return -1;
	if (get_acs(s, n, d))
		return -1;
	return ymap_get(YF, n, "below") ? parse_below(s, ymap_get(YF, n, "below"), me) : 0;
}

static int parse_ports(struct scenario *s, yaml_node_t *map, const char *key,
		       enum pci_decl_kind kind, int parent, bool req)
{
	yaml_node_t *l = ymap_get(YF, map, key);
	size_t n;

	if (!l)
		return req ? yerr(YF, map, "missing key '%s'", key) : 0;
	if (l->type != YAML_SEQUENCE_NODE)
		return yerr(YF, l, "'%s' is a list of ports, not %s", key, ykind(l));
	n = (size_t)(l->data.sequence.items.top - l->data.sequence.items.start);
	if (kind == PCI_DECL_DOWN_PORT && (n < 1 || n > 32))
		return yerr(YF, l, "a switch has 1 to 32 downstream ports, not %zu", n);
	for (size_t i = 0; i < n; i++)
		if (parse_port(s, ynode(YF, l->data.sequence.items.start[i]), kind, parent))
			return -1;
	return 0;
}

/* What sits on a port's link: {switch: ID, acs, ports} or {endpoint: ID,
 * functions, bar}. */
static int parse_below(struct scenario *s, yaml_node_t *n, int parent)
{
	static const char *const sw_keys[] = { "switch", "acs", "ports", NULL };
	static const char *const ep_keys[] = { "endpoint", "functions", "bar", NULL };
	struct pci_decl *d;
	int me = (int)s->nr_pci;

	if (n->type != YAML_MAPPING_NODE)
		return yerr(YF, n, "'below' is a mapping {switch, acs, ports} or {endpoint, "
			    "functions, bar}, not %s", ykind(n));
	if (ymap_get(YF, n, "switch")) {
		if (ymap_check(YF, n, sw_keys, "a switch", "switch, acs, ports") ||
		    pci_decl_add(s, n, PCI_DECL_SWITCH, parent, &d) ||
		    get_id(s, n, "switch", &d->vendor, &d->device) || get_acs(s, n, d))
			return -1;
		return parse_ports(s, n, "ports", PCI_DECL_DOWN_PORT, me, true);
	}
	if (!ymap_get(YF, n, "endpoint"))
		return yerr(YF, n, "'below' needs 'switch' or 'endpoint'");
	if (ymap_check(YF, n, ep_keys, "an endpoint", "endpoint, functions, bar") ||
	    pci_decl_add(s, n, PCI_DECL_ENDPOINT, parent, &d) ||
	    get_id(s, n, "endpoint", &d->vendor, &d->device) ||
	    get_size(s, n, "bar", false, &d->bars[0]))
		return -1;
	d->nr = 1;
	if (get_size(s, n, "functions", false, &d->nr))
		return -1;
	if (d->nr < 1 || d->nr > 8)
		return yerr(YF, ymap_get(YF, n, "functions"), "a device has 1 to 8 functions, "
			    "not %llu", (unsigned long long)d->nr);
	return 0;
}

static int parse_iommu(struct scenario *s, yaml_node_t *e, struct pci_decl *d)
{
	const char *b;

	if (!ymap_get(YF, e, "iommu"))
		return 0;
	b = yscalar(YF, ymap_get(YF, e, "iommu"), "iommu");
	if (!b)
		return -1;
	if (parse_bool(b, &d->iommu))
		return yerr(YF, ymap_get(YF, e, "iommu"), "iommu is true or false, not '%s'", b);
	return 0;
}

/* {lspci: FILE, domain, window, size, offset, iommu}: the listing's tree
 * of that domain below a host bridge with this window. */
static int parse_lspci_entry(struct scenario *s, yaml_node_t *e, int me)
{
	const char *file = yscalar(YF, ymap_get(YF, e, "lspci"), "lspci");
	uint64_t domain = UINT64_MAX;
	struct pci_decl *d;
	char *path;
	int rc;

	if (!file)
		return -1;
	if (ymap_get(YF, e, "host_bridge") || ymap_get(YF, e, "root_ports"))
		return yerr(YF, e, "an lspci entry takes its host bridge and root ports from the "
			    "listing: no 'host_bridge' or 'root_ports' with it");
	d = &s->pci[me];   /* the entry's host declaration, made by the caller */
	if (parse_iommu(s, e, d) ||
	    get_size(s, e, "window", true, &d->start) || get_size(s, e, "size", true, &d->size) ||
	    get_size(s, e, "offset", false, &d->offset) ||
	    get_size(s, e, "domain", false, &domain))
		return -1;
	if (domain != UINT64_MAX && domain > 0xffff)
		return yerr(YF, ymap_get(YF, e, "domain"), "a PCI domain is 0 to ffff, not %llu",
			    (unsigned long long)domain);
	path = resolve_path(s, file);
	if (!path)
		return yerr(YF, e, "out of memory");
	rc = lspci_import(s, ymap_get(YF, e, "lspci"), path, domain == UINT64_MAX ? -1 : (int)domain,
			  me);
	if (rc) {
		free(path);
		return rc;
	}
	/* the declarations keep pointing at it: freed with the scenario */
	return scenario_keep(s, path);
}

int parse_pci(struct scenario *s, void *obj, const struct field *f, yaml_node_t *v)
{
	static const char *const keys[] = { "host_bridge", "window", "size", "offset",
					    "iommu", "root_ports", "lspci", "domain", NULL };
	size_t n;

	if (v->type != YAML_SEQUENCE_NODE)
		return yerr(YF, v, "machine.pci is a list of host bridges, not %s", ykind(v));
	n = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *e = ynode(YF, v->data.sequence.items.start[i]);
		struct pci_decl *d;
		const char *t;
		int me = (int)s->nr_pci;

		if (e->type != YAML_MAPPING_NODE)
			return yerr(YF, e, "each machine.pci entry is a mapping {host_bridge, "
				    "window, size, offset, iommu, root_ports} or {lspci, domain, "
				    "window, size, offset, iommu}, not %s", ykind(e));
		if (ymap_check(YF, e, keys, "a machine.pci entry",
			       "host_bridge, window, size, offset, iommu, root_ports, lspci, domain") ||
		    pci_decl_add(s, e, PCI_DECL_HOST, -1, &d))
			return -1;
		if (ymap_get(YF, e, "lspci")) {
			if (parse_lspci_entry(s, e, me))
				return -1;
			continue;
		}
		if (ymap_get(YF, e, "domain"))
			return yerr(YF, ymap_get(YF, e, "domain"), "'domain' picks a domain of an "
				    "lspci listing; a declared host bridge takes the next free one");
		t = ymap_get(YF, e, "host_bridge") ? yscalar(YF, ymap_get(YF, e, "host_bridge"),
							     "host_bridge") : "none";
		if (!t || (strcmp(t, "none") && get_id(s, e, "host_bridge", &d->vendor, &d->device)))
			return -1;
		if (parse_iommu(s, e, d) || get_size(s, e, "window", true, &d->start) ||
		    get_size(s, e, "size", true, &d->size) ||
		    get_size(s, e, "offset", false, &d->offset) ||
		    parse_ports(s, e, "root_ports", PCI_DECL_ROOT_PORT, me, false))
			return -1;
	}
	return 0;
}

/* The port a declaration hangs below: its parent's object. */
static struct zd_pci_bus *decl_bus(void **obj, const struct pci_decl *d)
{
	void *p = obj[d->parent];

	return d->kind == PCI_DECL_ROOT_PORT ? ((struct zd_pci_host_bridge *)p)->bus
					     : ((struct zd_pci_dev *)p)->subordinate;
}

/* Built in declaration order, which is depth first: each port takes its
 * bus number when it is reached, as enumeration hands them out. */
int scenario_pci_build(struct scenario *s, struct zd_machine *m, char *fail, size_t len)
{
	void **obj = calloc(s->nr_pci ? s->nr_pci : 1, sizeof(*obj));
	int rc = 0;

	if (!obj)
		return -ENOMEM;
	zd_pci_p2pdma_set_era(m, (enum zd_p2pdma_era)s->p2pdma_era);
	zd_pci_set_config_p2pdma(m, s->config_pci_p2pdma);
	zd_pci_set_cpu(m, (uint16_t)s->cpu_vendor, (unsigned)s->cpu_family);
	for (size_t i = 0; i < s->nr_pci && !rc; i++) {
		const struct pci_decl *d = &s->pci[i];
		struct zd_pci_port_desc pd = { d->vendor, d->device, d->slot, d->secondary, d->fn };
		void *r = NULL;

		switch (d->kind) {
		case PCI_DECL_HOST: {
			struct zd_pci_host_bridge_desc h = {
				.domain = d->domain, .mem_start = d->start, .mem_size = d->size,
				.mem_offset = d->offset, .vendor = d->vendor, .device = d->device,
				.iommu = d->iommu,
			};
			r = zd_pci_host_bridge_add(m, &h);
			break;
		}
		case PCI_DECL_ROOT_PORT:
			r = zd_pci_port_add(decl_bus(obj, d), ZD_PCI_EXP_TYPE_ROOT_PORT, &pd);
			break;
		case PCI_DECL_SWITCH:
			r = zd_pci_port_add(decl_bus(obj, d), ZD_PCI_EXP_TYPE_UPSTREAM, &pd);
			break;
		case PCI_DECL_DOWN_PORT:
			/* a declared port carries its switch's IDs */
			if (!pd.vendor) {
				pd.vendor = s->pci[d->parent].vendor;
				pd.device = s->pci[d->parent].device;
			}
			r = zd_pci_port_add(decl_bus(obj, d), ZD_PCI_EXP_TYPE_DOWNSTREAM, &pd);
			break;
		case PCI_DECL_ENDPOINT: {
			struct zd_pci_endpoint_desc e = { .vendor = d->vendor, .device = d->device,
							  .nr_functions = (unsigned)d->nr };

			memcpy(e.bar_size, d->bars, sizeof(e.bar_size));
			r = zd_pci_endpoint_add(obj[d->parent], &e);
			break;
		}
		}
		if (ZD_IS_ERR_OR_NULL(r)) {
			char e[32];

			rc = r ? (int)ZD_PTR_ERR(r) : -ENOMEM;
			snprintf(fail, len, "%s:%d:%d: machine.pci: cannot add it: %s (run with "
				 "--dmesg to see why)", d->file ? d->file : s->file, d->line, d->col,
				 fmt_errno(rc, e, sizeof(e)));
			break;
		}
		obj[i] = r;
		if (d->has_acs && d->kind != PCI_DECL_HOST)
			rc = zd_pci_set_acs(r, d->acs_cap ? d->acs_cap : 0x7f, d->acs, 0);
	}
	free(obj);
	return rc;
}
