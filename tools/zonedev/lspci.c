/*
 * A PCI topology from `lspci -nn -vvv` text (with -D the domain is on each
 * line, without it every device is in domain 0000), as machine.pci's
 * {lspci: FILE} imports it: per device its BDF, class code and
 * vendor:device IDs (-nn), the bridge's secondary bus, the PCIe port type
 * from the Express capability, the 64-bit memory BARs' sizes and the ACS
 * capability and control words. The tree is rebuilt from the bus numbers,
 * keeping every root port's and downstream port's slot and every bridge's
 * secondary bus, so the model's BDFs are the listing's. What the model has
 * no place for is skipped and said once on stderr: devices on the root bus
 * that are not root ports (integrated endpoints), bridges that are not
 * PCIe ports, 32-bit BARs (BAR addresses are the model's own: it lays the
 * BARs out in the window the scenario gives).
 * Ports keep their function too: root ports are often functions of one
 * slot (Intel's 00:1c.0 and 00:1c.4).
 * Invariants: the declarations come out depth first, each after its
 * parent; a malformed line is an error naming the file and line; the text
 * read is bounded (tests/fuzz/fuzz_lspci.c holds the importer to these).
 */
#include "scenario-internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum port { P_NONE, P_ROOT, P_UP, P_DOWN, P_ENDPOINT, P_OTHER };

struct rec {
	int domain, bus, slot, fn, line;
	unsigned class;
	uint16_t vendor, device;
	int secondary;             /* bridges: -1 until the Bus: line */
	enum port port;
	uint64_t bars[6];
	uint16_t acs_cap, acs_ctl;
	bool has_acs, used;
};

struct listing {
	const char *path;
	struct rec *r;
	size_t n, skipped, bars32;
	char skip_what[160];
};

static int hexn(const char *p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!isxdigit((unsigned char)p[i]))
			return -1;
		v = v * 16 + (isdigit((unsigned char)p[i]) ? p[i] - '0' : (tolower(p[i]) - 'a' + 10));
	}
	*out = v;
	return 0;
}

/* "[dddd:]bb:ss.f " at the start of a line: its length, or 0. */
static size_t parse_bdf(const char *t, struct rec *r)
{
	const char *p = t;

	/* "0000:00:02.0" with -D; "00:02.0" (domain 0) without */
	if (hexn(p, 4, &r->domain) == 0 && p[4] == ':')
		p += 5;
	else
		r->domain = 0;
	if (hexn(p, 2, &r->bus) || p[2] != ':' || hexn(p + 3, 2, &r->slot) || p[5] != '.' ||
	    p[6] < '0' || p[6] > '7' || p[7] != ' ' || r->slot > 31)
		return 0;
	r->fn = p[6] - '0';
	return (size_t)(p + 8 - t);
}

/* The last "[vvvv:dddd]" of the line (the IDs -nn prints after the name). */
static bool parse_ids(const char *t, struct rec *r)
{
	for (const char *p = t + strlen(t); p-- > t;) {
		int v, d;

		if (*p == '[' && !hexn(p + 1, 4, &v) && p[5] == ':' && !hexn(p + 6, 4, &d) &&
		    p[10] == ']') {
			r->vendor = (uint16_t)v;
			r->device = (uint16_t)d;
			return true;
		}
	}
	return false;
}

/* "... [size=16M]": bytes. */
static uint64_t parse_bar_size(const char *t)
{
	const char *p = strstr(t, "[size=");
	char *end;
	uint64_t v;

	if (!p)
		return 0;
	v = strtoull(p + 6, &end, 10);
	switch (*end) {
	case 'K': return v << 10;
	case 'M': return v << 20;
	case 'G': return v << 30;
	case 'T': return v << 40;
	default: return v;
	}
}

/* "SrcValid+ TransBlk- ReqRedir+ ...": the ACS bits that are +. */
static uint16_t parse_acs_bits(const char *t)
{
	static const char *const names[] = { "SrcValid", "TransBlk", "ReqRedir", "CmpltRedir",
					     "UpstreamFwd", "EgressCtrl", "DirectTrans" };
	uint16_t v = 0;

	for (unsigned i = 0; i < 7; i++) {
		const char *p = strstr(t, names[i]);

		if (p && p[strlen(names[i])] == '+')
			v |= (uint16_t)(1u << i);
	}
	return v;
}

static enum port parse_express(const char *t)
{
	if (strstr(t, "Root Port"))
		return P_ROOT;
	if (strstr(t, "Upstream Port"))
		return P_UP;
	if (strstr(t, "Downstream Port"))
		return P_DOWN;
	if (strstr(t, "Root Complex Integrated Endpoint") || strstr(t, "Root Complex Event"))
		return P_OTHER;
	if (strstr(t, "Endpoint"))
		return P_ENDPOINT;
	return P_OTHER;
}

static int bad(struct scenario *s, yaml_node_t *at, const struct listing *l, int line,
	       const char *why)
{
	return yerr(YF, at, "lspci listing %s line %d: %s", l->path, line, why);
}

/* One line into the listing; 0 or -1. */
static int parse_line(struct scenario *s, yaml_node_t *at, struct listing *l, char *t, int line)
{
	struct rec r = { .secondary = -1, .line = line };
	struct rec *cur = l->n ? &l->r[l->n - 1] : NULL;
	size_t k;

	t[strcspn(t, "\n")] = '\0';
	if (!t[0] || t[0] == '#')
		return 0;
	if (!isspace((unsigned char)t[0])) {
		k = parse_bdf(t, &r);
		if (!k)
			return bad(s, at, l, line, "a device line starts with [DDDD:]BB:SS.F "
				   "(lspci -nn -vvv output)");
		/* "PCI bridge [0604]: ..." */
		{
			const char *cc = strstr(t + k, " [");
			int c = -1;

			/* %n is stored only when the ']' after the digits matched */
			if (!cc || sscanf(cc, " [%4x]%n", &r.class, &c) != 1 || c < 0 || cc[c] != ':')
				return bad(s, at, l, line, "no [class] code: run lspci with -nn");
		}
		if (!parse_ids(t, &r))
			return bad(s, at, l, line, "no [vendor:device] IDs: run lspci with -nn");
		if (l->n % 64 == 0) {
			struct rec *nr = realloc(l->r, (l->n + 64) * sizeof(*nr));

			if (!nr)
				return yerr(YF, at, "out of memory");
			l->r = nr;
		}
		l->r[l->n++] = r;
		return 0;
	}
	if (!cur)
		return bad(s, at, l, line, "a detail line before any device line");
	while (isspace((unsigned char)*t))
		t++;
	if (!strncmp(t, "Bus: ", 5)) {
		int pri, sec, sub;

		if (sscanf(t, "Bus: primary=%x, secondary=%x, subordinate=%x", &pri, &sec, &sub) != 3)
			return bad(s, at, l, line, "a Bus: line is 'Bus: primary=BB, secondary=BB, "
				   "subordinate=BB'");
		cur->secondary = sec;
	} else if (!strncmp(t, "Region ", 7) && strstr(t, "Memory at") && strstr(t, "64-bit")) {
		int bar = t[7] - '0';

		if (bar < 0 || bar > 4 || (bar & 1))
			return bad(s, at, l, line, "a 64-bit memory BAR is Region 0, 2 or 4");
		cur->bars[bar] = parse_bar_size(t);
	} else if (!strncmp(t, "Region ", 7) && strstr(t, "Memory at")) {
		l->bars32++;
	} else if (!strncmp(t, "Capabilities: ", 14) && strstr(t, "] Express")) {
		cur->port = parse_express(t);
	} else if (!strncmp(t, "ACSCap:", 7)) {
		cur->acs_cap = parse_acs_bits(t);
		cur->has_acs = true;
	} else if (!strncmp(t, "ACSCtl:", 7)) {
		cur->acs_ctl = parse_acs_bits(t);
		cur->has_acs = true;
	}
	return 0;
}

static void skip(struct listing *l, const struct rec *r, const char *why)
{
	size_t len = strlen(l->skip_what);

	if (!l->skipped++ || len < sizeof(l->skip_what) - 40)
		snprintf(l->skip_what + len, sizeof(l->skip_what) - len, "%s%02x:%02x.%x (%s)",
			 len ? ", " : "", r->bus, r->slot, r->fn, why);
}

static struct pci_decl *emit(struct scenario *s, yaml_node_t *at, const struct listing *l,
			     const struct rec *r, enum pci_decl_kind kind, int parent)
{
	struct pci_decl *d;

	if (pci_decl_add(s, at, kind, parent, &d))
		return NULL;
	d->vendor = r->vendor;
	d->device = r->device;
	d->file = l->path;
	d->line = r->line;
	d->col = 1;
	d->slot = kind == PCI_DECL_SWITCH ? -1 : r->slot;
	d->fn = kind == PCI_DECL_SWITCH || kind == PCI_DECL_ENDPOINT ? 0 : r->fn;
	d->secondary = r->secondary;
	if (r->has_acs && kind != PCI_DECL_ENDPOINT) {
		d->has_acs = true;
		d->acs = r->acs_ctl & (r->acs_cap ? r->acs_cap : 0x7f);
		d->acs_cap = r->acs_cap ? r->acs_cap : 0x7f;
	}
	return d;
}

static int import_below(struct scenario *s, yaml_node_t *at, struct listing *l, int domain,
			const struct rec *port, int parent);

/* The unused port of that type on bus with the lowest secondary number:
 * ports are built in bus-number order, which is enumeration's depth-first
 * order whatever their slots. */
static struct rec *next_port(struct listing *l, int domain, int bus, enum port type)
{
	struct rec *best = NULL;

	for (size_t i = 0; i < l->n; i++) {
		struct rec *r = &l->r[i];

		if (!r->used && r->domain == domain && r->bus == bus && r->port == type &&
		    r->secondary >= 0 && (!best || r->secondary < best->secondary))
			best = r;
	}
	return best;
}

/* A switch: its upstream port on the link, its downstream ports in slot
 * order, each followed by what is below it (depth first). */
static int import_switch(struct scenario *s, yaml_node_t *at, struct listing *l, int domain,
			 struct rec *up, int parent)
{
	int me = (int)s->nr_pci, nd = 0;

	up->used = true;
	if (!emit(s, at, l, up, PCI_DECL_SWITCH, parent))
		return -1;
	for (struct rec *r; (r = next_port(l, domain, up->secondary, P_DOWN)); nd++) {
		int dp = (int)s->nr_pci;

		r->used = true;
		if (!emit(s, at, l, r, PCI_DECL_DOWN_PORT, me) ||
		    import_below(s, at, l, domain, r, dp))
			return -1;
	}
	/* anything else on the internal bus has no place in a switch */
	for (size_t i = 0; i < l->n; i++)
		if (!l->r[i].used && l->r[i].domain == domain && l->r[i].bus == up->secondary) {
			l->r[i].used = true;
			skip(l, &l->r[i], "not a downstream port on a switch's bus");
		}
	return nd ? 0 : bad(s, at, l, up->line, "a switch upstream port with no downstream port");
}

/* What sits on port's link: a switch, an endpoint (all its functions), or
 * nothing. */
static int import_below(struct scenario *s, yaml_node_t *at, struct listing *l, int domain,
			const struct rec *port, int parent)
{
	struct rec *f0 = NULL;
	struct pci_decl *d;
	unsigned nfn = 0;

	for (size_t i = 0; i < l->n; i++) {
		struct rec *r = &l->r[i];

		if (r->used || r->domain != domain || r->bus != port->secondary)
			continue;
		if (r->port == P_UP && r->secondary >= 0 && r->slot == 0 && r->fn == 0)
			return import_switch(s, at, l, domain, r, parent);
		r->used = true;
		if (r->secondary >= 0 || r->slot != 0) {
			skip(l, r, r->secondary >= 0 ? "a bridge that is not a switch port"
						     : "not device 0 of a link");
			continue;
		}
		if (r->fn == 0)
			f0 = r;
		nfn = r->fn + 1u > nfn ? r->fn + 1u : nfn;
	}
	if (!nfn)
		return 0;
	if (!f0)
		return bad(s, at, l, port->line, "the device below has no function 0");
	d = emit(s, at, l, f0, PCI_DECL_ENDPOINT, parent);
	if (!d)
		return -1;
	d->nr = nfn;
	/* every function gets function 0's BARs */
	memcpy(d->bars, f0->bars, sizeof(d->bars));
	return 0;
}

/*
 * The listing, whole, NUL-terminated: NULL after the message. The text is
 * bounded, so a path that is no listing (/dev/zero, a FIFO that never
 * ends) is refused instead of read without end; a large server's
 * `lspci -vvv` is a few hundred KiB. A NUL byte means binary data.
 */
#define LSPCI_TEXT_MAX (64UL << 20)

static char *read_listing(struct scenario *s, yaml_node_t *at, const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *text = NULL, *nul = NULL;
	size_t n = 0, cap = 0, got;
	int err = 0;

	if (!f) {
		yerr(YF, at, "cannot read the lspci listing %s: %s", path, strerror(errno));
		return NULL;
	}
	while (n <= LSPCI_TEXT_MAX) {
		if (n == cap) {
			char *t = realloc(text, (cap += 1 << 16) + 1);

			if (!t) {
				err = ENOMEM;
				break;
			}
			text = t;
		}
		got = fread(text + n, 1, cap - n, f);
		if (!got || (nul = memchr(text + n, '\0', got)))
			break;
		n += got;
	}
	/* a directory opens for reading and fails on the first read */
	if (!err && ferror(f))
		err = errno ? errno : EIO;
	fclose(f);
	if (!err && !nul && n <= LSPCI_TEXT_MAX) {
		text[n] = '\0';
		*len = n;
		return text;
	}
	if (err)
		yerr(YF, at, "cannot read the lspci listing %s: %s", path, strerror(err));
	else if (nul)
		yerr(YF, at, "lspci listing %s holds a NUL byte (at offset %zu): not lspci text",
		     path, (size_t)(nul - text));
	else
		yerr(YF, at, "lspci listing %s passes %lu MiB: not lspci output", path,
		     LSPCI_TEXT_MAX >> 20);
	free(text);
	return NULL;
}

int lspci_import(struct scenario *s, yaml_node_t *at, const char *path, int domain, int host)
{
	struct listing l = { .path = path };
	int line = 0, rc = 0, roots = 0;
	size_t len;
	char *text = read_listing(s, at, path, &len);

	if (!text)
		return -1;
	for (char *t = text, *nl; !rc && t < text + len; t = nl + 1) {
		nl = strchr(t, '\n');
		if (!nl)
			nl = text + len;
		*nl = '\0';
		rc = parse_line(s, at, &l, t, ++line);
	}
	free(text);
	if (!rc && !l.n)
		rc = yerr(YF, at, "lspci listing %s has no device lines (lspci -nn -vvv output)",
			  path);
	if (!rc && domain < 0)
		domain = l.r[0].domain;
	for (size_t i = 0; !rc && i < l.n; i++) {
		struct rec *r = &l.r[i];

		if (r->domain == domain && r->bus == 0 && r->class == 0x0600 && r->slot == 0 &&
		    r->fn == 0) {
			r->used = true;
			s->pci[host].vendor = r->vendor;   /* the whitelist's device */
			s->pci[host].device = r->device;
		}
	}
	for (struct rec *r; !rc && (r = next_port(&l, domain, 0, P_ROOT)); roots++) {
		int me = (int)s->nr_pci;

		r->used = true;
		rc = emit(s, at, &l, r, PCI_DECL_ROOT_PORT, host) ? 0 : -1;
		if (!rc)
			rc = import_below(s, at, &l, domain, r, me);
	}
	for (size_t i = 0; !rc && i < l.n; i++)
		if (l.r[i].domain == domain && l.r[i].bus == 0 && !l.r[i].used) {
			l.r[i].used = true;
			skip(&l, &l.r[i], "on the root bus, not a root port");
		}
	if (!rc && !roots)
		rc = yerr(YF, at, "lspci listing %s: no root port in domain %04x", path, domain);
	for (size_t i = 0; !rc && i < l.n; i++)
		if (l.r[i].domain == domain && !l.r[i].used)
			skip(&l, &l.r[i], "on a bus no bridge leads to");
	s->pci[host].domain = domain;
	if (!rc && l.skipped)
		fprintf(stderr, "zonedev: %s: %zu device(s) not modelled: %s%s\n", path, l.skipped,
			l.skip_what, strlen(l.skip_what) >= sizeof(l.skip_what) - 40 ? ", ..." : "");
	if (!rc && l.bars32)
		fprintf(stderr, "zonedev: %s: %zu 32-bit memory BAR(s) not modelled (only 64-bit "
			"BARs are)\n", path, l.bars32);
	free(l.r);
	return rc;
}
