/*
 * The kernel's alignment and size helpers (include/linux/align.h, sizes.h)
 * for the library's sources, and ULL() for printing 64-bit values with
 * %llx. Power-of-two alignments only, as in the kernel; IS_ALIGNED is the
 * kernel's mask test (meaningless for other alignments, exactly as there).
 */
#ifndef ZD_BASE_ALIGN_H
#define ZD_BASE_ALIGN_H

#define ULL(x) ((unsigned long long)(x))

#define ZD_ALIGN(x, a)       (((x) + (a) - 1) & ~((__typeof__(x))(a) - 1))
#define ZD_ALIGN_DOWN(x, a)  ((x) & ~((__typeof__(x))(a) - 1))
#define ZD_IS_ALIGNED(x, a)  (((x) & ((__typeof__(x))(a) - 1)) == 0)

#define SZ_1M   (1ULL << 20)
#define SZ_2M   (2ULL << 20)
#define SZ_16M  (16ULL << 20)
#define SZ_128M (128ULL << 20)
#define SZ_256M (256ULL << 20)
#define SZ_512M (512ULL << 20)
#define SZ_1G   (1ULL << 30)
#define SZ_2G   (2ULL << 30)
#define SZ_4G   (4ULL << 30)
#define SZ_64G  (64ULL << 30)

#endif
