/*
 * libnvdimm core helpers (drivers/nvdimm/core.c, claim.c): the Fletcher-64
 * checksum that guards every info block, the superblock checksum wrapper and
 * little-endian field access. Pure functions: no state, no locks.
 */
#include <zonedev/nd_pfn.h>
#include <endian.h>
#include <string.h>

uint16_t zd_le16_get(const uint16_t *p) { return le16toh(*p); }
uint32_t zd_le32_get(const uint32_t *p) { return le32toh(*p); }
uint64_t zd_le64_get(const uint64_t *p) { return le64toh(*p); }
void zd_le16_put(uint16_t *p, uint16_t v) { *p = htole16(v); }
void zd_le32_put(uint32_t *p, uint32_t v) { *p = htole32(v); }
void zd_le64_put(uint64_t *p, uint64_t v) { *p = htole64(v); }

/*
 * Fletcher-64 as libnvdimm defines it: the buffer is a sequence of 32-bit
 * words; lo is their running sum modulo 2^32 and hi the running sum of the
 * successive lo values in 64 bits. The result packs the low half of hi above
 * lo. Words are read with memcpy so any buffer alignment is fine.
 */
uint64_t zd_nd_fletcher64(const void *buf, size_t len, bool le)
{
	const unsigned char *b = buf;
	uint32_t lo = 0;
	uint64_t hi = 0;

	for (size_t i = 0; i + 4 <= len; i += 4) {
		uint32_t w;

		memcpy(&w, b + i, sizeof(w));
		lo += le ? le32toh(w) : w;
		hi += lo;
	}
	return hi << 32 | lo;
}

uint64_t zd_nd_sb_checksum(struct zd_nd_pfn_sb *sb)
{
	uint64_t saved = sb->checksum, sum;

	sb->checksum = 0;
	sum = zd_nd_fletcher64(sb, sizeof(*sb), true);
	sb->checksum = saved;
	return sum;
}

uint64_t zd_nd_sb_checksum_const(const struct zd_nd_pfn_sb *sb)
{
	struct zd_nd_pfn_sb copy;

	memcpy(&copy, sb, sizeof(copy));
	return zd_nd_sb_checksum(&copy);
}

void zd_nd_sb_set_checksum(struct zd_nd_pfn_sb *sb)
{
	zd_le64_put(&sb->checksum, zd_nd_sb_checksum(sb));
}
