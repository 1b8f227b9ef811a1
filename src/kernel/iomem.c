/*
 * Read-only views of a machine's resource tree, all built on
 * zd_walk_iomem_res(): the System RAM walks (walk_system_ram_range,
 * page_is_ram), the /proc/iomem text as root sees it, a JSON form, and the
 * parser that reads a real /proc/iomem back for import. Never changes the
 * tree; walk callbacks of callers run with the lock dropped.
 * Invariant: dump(parse(text)) of a consistent /proc/iomem is the same text.
 */
#include <zonedev/err.h>
#include <zonedev/ioport.h>
#include <zonedev/machine.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "base/rwlock.h"

/* /proc/iomem indents at most this many levels. */
#define IOMEM_MAX_LEVEL 5

struct dump_ctx {
	FILE *f;
	const struct zd_resource *root;
	int width;
};


/* ------------------------------------------------------------- System RAM */

struct next_res {
	phys_addr_t start, end, lo, hi;
	unsigned long flags, desc;
};

static int next_res_cb(const struct zd_resource *p, void *arg)
{
	struct next_res *n = arg;

	if (!zd_resource_type_match(p, n->flags, n->desc))
		return 0;
	n->lo = p->start > n->start ? p->start : n->start;
	n->hi = p->end < n->end ? p->end : n->end;
	return 1;
}

/*
 * First resource in pre-order (parents before children) that overlaps
 * [start, end] and carries all of flags; its overlap with the range goes to
 * *lo / *hi.
 */
static bool find_next_iomem_res(struct zd_machine *m, phys_addr_t start, phys_addr_t end,
				unsigned long flags, unsigned long desc, phys_addr_t *lo,
				phys_addr_t *hi)
{
	struct next_res n = { .start = start, .end = end, .flags = flags, .desc = desc };

	if (!zd_walk_iomem_res(m, start, end, &n, next_res_cb))
		return false;
	*lo = n.lo;
	*hi = n.hi;
	return true;
}

int zd_walk_system_ram_range(struct zd_machine *m, uint64_t start_pfn, uint64_t nr_pages,
			     void *arg, int (*func)(uint64_t pfn, uint64_t nr, void *arg))
{
	const unsigned shift = m->arch.page_shift;
	const unsigned long flags = ZD_IORESOURCE_SYSTEM_RAM | ZD_IORESOURCE_BUSY;
	const uint64_t max_pfn = ~(phys_addr_t)0 >> shift;
	uint64_t last_pfn;
	phys_addr_t start, end, lo, hi;
	int ret = -EINVAL;

	if (nr_pages == 0 || start_pfn > max_pfn)
		return -EINVAL;
	last_pfn = nr_pages - 1 > max_pfn - start_pfn ? max_pfn : start_pfn + nr_pages - 1;
	start = (phys_addr_t)start_pfn << shift;
	end = ((phys_addr_t)last_pfn << shift) | ((1ULL << shift) - 1);

	while (start < end && find_next_iomem_res(m, start, end, flags, ZD_IORES_DESC_NONE,
						  &lo, &hi)) {
		uint64_t pfn, end_pfn;

		/* Only whole pages inside the RAM range count. */
		if (lo + ((1ULL << shift) - 1) < lo)
			break;          /* starts inside the very last page */
		pfn = (lo + ((1ULL << shift) - 1)) >> shift;
		end_pfn = hi == ~(phys_addr_t)0 ? (hi >> shift) + 1 : (hi + 1) >> shift;
		if (end_pfn > pfn)
			ret = func(pfn, end_pfn - pfn, arg);
		if (ret)
			break;
		if (hi == ~(phys_addr_t)0)
			break;
		start = hi + 1;
	}
	return ret;
}

static int is_ram_cb(uint64_t pfn, uint64_t nr, void *arg)
{
	return 1;
}

int zd_page_is_ram(struct zd_machine *m, uint64_t pfn)
{
	return zd_walk_system_ram_range(m, pfn, 1, NULL, is_ram_cb) == 1;
}

/* ------------------------------------------------------------------ text */

/* One /proc/iomem line per resource, indented by depth (capped, as the
 * kernel caps it). */
static int dump_line(const struct zd_resource *p, void *arg)
{
	struct dump_ctx *c = arg;
	const struct zd_resource *q;
	int depth = 0;

	for (q = p; depth < IOMEM_MAX_LEVEL && q->parent != c->root; q = q->parent)
		depth++;
	fprintf(c->f, "%*s%0*llx-%0*llx : %s\n", depth * 2, "", c->width,
		(unsigned long long)p->start, c->width, (unsigned long long)p->end,
		p->name ? p->name : "<BAD>");
	return 0;
}

void zd_iomem_dump(struct zd_machine *m, FILE *f)
{
	struct dump_ctx c = { .f = f, .root = &m->iomem_resource,
			      .width = m->iomem_resource.end < 0x10000 ? 4 : 8 };

	zd_walk_iomem_res(m, 0, ~(phys_addr_t)0, &c, dump_line);
}

static void json_string(FILE *f, const char *s)
{
	if (!s) {
		fputs("null", f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json_children(FILE *f, const struct zd_resource *parent)
{
	const struct zd_resource *r;

	fputc('[', f);
	for (r = parent->child; r; r = r->sibling) {
		/* Addresses and bit masks as "0x..." strings, the CLI's JSON rule
		 * (a 64-bit address is not exact in a JSON number). */
		fprintf(f, "{\"start\":\"0x%llx\",\"end\":\"0x%llx\",\"name\":",
			(unsigned long long)r->start, (unsigned long long)r->end);
		json_string(f, r->name);
		fprintf(f, ",\"flags\":\"0x%lx\",\"desc\":%lu,\"children\":", r->flags, r->desc);
		json_children(f, r);
		fputc('}', f);
		if (r->sibling)
			fputc(',', f);
	}
	fputc(']', f);
}

void zd_iomem_dump_json(struct zd_machine *m, FILE *f)
{
	pthread_rwlock_rdlock(ZD_RWLOCK(&m->resource_lock));
	json_children(f, &m->iomem_resource);
	pthread_rwlock_unlock(ZD_RWLOCK(&m->resource_lock));
	fputc('\n', f);
}

/* ------------------------------------------------------------------ parser */

/* Deepest indentation the parser accepts (the kernel prints at most 5). */
#define IOMEM_PARSE_MAX_DEPTH 32

__attribute__((format(printf, 5, 6)))
static int parse_error(char *err, size_t errlen, int rc, unsigned long lineno,
		       const char *fmt, ...)
{
	va_list ap;
	int k = 0;

	if (!err || !errlen)
		return rc;
	if (lineno)
		k = snprintf(err, errlen, "line %lu: ", lineno);
	if (k < 0 || (size_t)k >= errlen)
		return rc;
	va_start(ap, fmt);
	vsnprintf(err + k, errlen - (size_t)k, fmt, ap);
	va_end(ap);
	return rc;
}

/* Hex digits at *p (no "0x"), at most 16; advances *p. */
static bool parse_hex(const char **p, phys_addr_t *v)
{
	const char *s = *p;
	phys_addr_t x = 0;
	int digits = 0;

	for (;; s++, digits++) {
		int d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (*s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (*s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			break;
		if (x >> 60)
			return false;   /* more than 64 bits */
		x = x << 4 | (phys_addr_t)d;
	}
	if (!digits)
		return false;
	*p = s;
	*v = x;
	return true;
}

struct parsed {
	struct zd_iomem_entry e;
	unsigned long lineno;
};

/* Nesting: children inside their parent, siblings in order and disjoint. */
static int check_nesting(const struct parsed *v, size_t nr, char *err, size_t errlen)
{
	long last[IOMEM_PARSE_MAX_DEPTH + 1];

	for (size_t d = 0; d <= IOMEM_PARSE_MAX_DEPTH; d++)
		last[d] = -1;
	for (size_t i = 0; i < nr; i++) {
		const struct zd_iomem_entry *e = &v[i].e;
		unsigned d = e->depth;

		if (d > 0 && last[d - 1] < 0)
			return parse_error(err, errlen, -EINVAL, v[i].lineno,
					   "indented %u levels but the entry above is not its parent",
					   d);
		if (d > 0) {
			const struct parsed *par = &v[last[d - 1]];

			if (e->start < par->e.start || e->end > par->e.end)
				return parse_error(err, errlen, -EINVAL, v[i].lineno,
						   "%llx-%llx is not inside its parent on line %lu",
						   (unsigned long long)e->start,
						   (unsigned long long)e->end, par->lineno);
		}
		/*
		 * Entries deeper than the kernel's indentation cap print at the
		 * cap, mixed with their parents: no sibling order to check there.
		 */
		if (last[d] >= 0 && d != IOMEM_MAX_LEVEL && v[last[d]].e.end >= e->start)
			return parse_error(err, errlen, -EINVAL, v[i].lineno,
					   "%llx-%llx overlaps or precedes its sibling on line %lu",
					   (unsigned long long)e->start,
					   (unsigned long long)e->end, v[last[d]].lineno);
		last[d] = (long)i;
		for (unsigned k = d + 1; k <= IOMEM_PARSE_MAX_DEPTH; k++)
			last[k] = -1;
	}
	return 0;
}

/*
 * A listing is read in bounded lines and up to a bounded total, so a file
 * that is no listing (/dev/zero, a FIFO that never ends) is refused after a
 * few KiB instead of growing one line without end. A real /proc/iomem has
 * lines under 100 bytes and is some KiB long even on large machines.
 */
#define IOMEM_LINE_MAX 1024
#define IOMEM_TEXT_MAX (16UL << 20)

/* One line into buf (newline kept, NULs counted): its length, 0 at end of
 * file, -1 when it does not fit in cap - 1 bytes. */
static ssize_t read_line(FILE *f, char *buf, size_t cap)
{
	size_t len = 0;
	int c;

	while ((c = getc(f)) != EOF) {
		if (len + 1 >= cap)
			return -1;
		buf[len++] = (char)c;
		if (c == '\n')
			break;
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

int zd_iomem_parse(FILE *f, struct zd_iomem_entry **out, size_t *n, char *err, size_t errlen)
{
	struct parsed *v = NULL;
	size_t nr = 0, cap = 0, total = 0;
	unsigned long lineno = 0;
	bool any_nonzero = false;
	char line[IOMEM_LINE_MAX];
	ssize_t len;
	int ret = 0;

	*out = NULL;
	*n = 0;
	if (err && errlen)
		err[0] = '\0';
	while ((len = read_line(f, line, sizeof(line))) != 0) {
		struct zd_iomem_entry e = { 0 };
		const char *p = line;
		size_t spaces = 0, namelen;

		lineno++;
		if (len < 0) {
			ret = parse_error(err, errlen, -EINVAL, lineno,
					  "longer than %d bytes: not a /proc/iomem listing",
					  IOMEM_LINE_MAX - 1);
			goto fail;
		}
		total += (size_t)len;
		if (total > IOMEM_TEXT_MAX) {
			ret = parse_error(err, errlen, -EFBIG, lineno,
					  "the listing passes %lu MiB: not a /proc/iomem listing",
					  IOMEM_TEXT_MAX >> 20);
			goto fail;
		}
		/* A NUL ends the text (the name is read up to it): strip the
		 * line end there too, or "S\r\0..." keeps a CR the dump prints
		 * and its next import strips. */
		len = (ssize_t)strnlen(line, (size_t)len);
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (line[strspn(line, " \t")] == '\0')
			continue;       /* blank line */
		while (*p == ' ')
			p++, spaces++;
		if (*p == '\t') {
			ret = parse_error(err, errlen, -EINVAL, lineno, "tab in the indentation");
			goto fail;
		}
		if (spaces % 2) {
			ret = parse_error(err, errlen, -EINVAL, lineno,
					  "odd indentation (%zu spaces); /proc/iomem indents by 2",
					  spaces);
			goto fail;
		}
		if (spaces / 2 > IOMEM_PARSE_MAX_DEPTH) {
			ret = parse_error(err, errlen, -EINVAL, lineno,
					  "nested deeper than %d levels", IOMEM_PARSE_MAX_DEPTH);
			goto fail;
		}
		e.depth = (unsigned)(spaces / 2);
		if (!parse_hex(&p, &e.start)) {
			ret = parse_error(err, errlen, -EINVAL, lineno,
					  "expected a hex start address at \"%.20s\"", p);
			goto fail;
		}
		if (*p++ != '-') {
			ret = parse_error(err, errlen, -EINVAL, lineno,
					  "expected '-' after the start address");
			goto fail;
		}
		if (!parse_hex(&p, &e.end)) {
			ret = parse_error(err, errlen, -EINVAL, lineno,
					  "expected a hex end address at \"%.20s\"", p);
			goto fail;
		}
		/* " : name"; an editor may have eaten the space after an empty name. */
		if (strncmp(p, " : ", 3) == 0) {
			p += 3;
		} else if (strcmp(p, " :") == 0) {
			p += 2;
		} else {
			ret = parse_error(err, errlen, -EINVAL, lineno,
					  "expected \" : \" and a name after the addresses");
			goto fail;
		}
		if (e.start > e.end) {
			ret = parse_error(err, errlen, -EINVAL, lineno,
					  "start %llx is above end %llx",
					  (unsigned long long)e.start, (unsigned long long)e.end);
			goto fail;
		}
		namelen = strlen(p);
		if (namelen >= sizeof(e.name))
			namelen = sizeof(e.name) - 1;   /* long names are cut, not refused */
		/* a cut can leave CRs from inside the name at its end, which the
		 * dump would print and its next import strip */
		while (namelen && p[namelen - 1] == '\r')
			namelen--;
		memcpy(e.name, p, namelen);
		e.name[namelen] = '\0';
		if (e.start || e.end)
			any_nonzero = true;

		if (nr == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct parsed *nv = realloc(v, ncap * sizeof(*nv));

			if (!nv) {
				ret = parse_error(err, errlen, -ENOMEM, lineno, "out of memory");
				goto fail;
			}
			v = nv;
			cap = ncap;
		}
		v[nr].e = e;
		v[nr].lineno = lineno;
		nr++;
	}
	if (ferror(f)) {
		/* a directory opens for reading and fails on the first read */
		int e = errno ? errno : EIO;

		ret = parse_error(err, errlen, -e, 0, "read error after line %lu (%s)", lineno,
				  strerror(e));
		goto fail;
	}
	if (nr && !any_nonzero) {
		ret = parse_error(err, errlen, -EPERM, 0,
				  "every address is zero: the kernel hides /proc/iomem addresses "
				  "from readers without CAP_SYS_ADMIN (read it as root)");
		goto fail;
	}
	ret = check_nesting(v, nr, err, errlen);
	if (ret)
		goto fail;

	if (nr) {
		*out = malloc(nr * sizeof(**out));
		if (!*out) {
			ret = parse_error(err, errlen, -ENOMEM, 0, "out of memory");
			goto fail;
		}
		for (size_t i = 0; i < nr; i++)
			(*out)[i] = v[i].e;
	}
	*n = nr;
	free(v);
	return 0;

fail:
	free(v);
	return ret;
}
