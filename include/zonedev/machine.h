/*
 * A simulated machine: everything hangs off struct zd_machine (no globals),
 * so tests and comparisons run machines side by side. Created from a
 * description, torn down in reverse order leaving nothing in the host process.
 * Invariants: arch is this machine's copy; vmemmap + pfn is the pfn's struct
 * page for every pfn the coverage rule allows; max_pfn only grows and only
 * through System RAM hot-add.
 */
#ifndef ZONEDEV_MACHINE_H
#define ZONEDEV_MACHINE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <zonedev/arch.h>
#include <zonedev/ioport.h>
#include <zonedev/log.h>
#include <zonedev/memory_hotplug.h>
#include <zonedev/mm_types.h>
#include <zonedev/mmzone.h>
#include <zonedev/rcu.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Device descriptions (zonedev/nvdimm.h, zonedev/test_hmm.h). */
struct zd_nd_region_desc;
struct zd_dmirror_desc;

/* Where device-private pages live (design.md §5): physical address space
 * and the vmemmap (the kernel until 2026), or their own address space. */
enum zd_device_private_design { ZD_DEVICE_PRIVATE_PFN, ZD_DEVICE_PRIVATE_DPA };

/* /sys/kernel/mm/transparent_hugepage/enabled: which anonymous VMAs get
 * PMD-sized folios on a fault (madvise: only MADV_HUGEPAGE ones). */
enum zd_thp_policy { ZD_THP_MADVISE, ZD_THP_ALWAYS, ZD_THP_NEVER };

/* make_device_exclusive()'s rule for a page of a PTE-mapped large folio:
 * refused unless it is the head (v6.12's PageTail check: why three
 * hmm-tests fail there under THP=always), or taken like any page (v6.15's
 * rework, the newest and the default). */
enum zd_exclusive_era { ZD_EXCLUSIVE_ERA_V6_15, ZD_EXCLUSIVE_ERA_V6_12 };

struct zd_mem_range {
	phys_addr_t start, size;
	int node;
	const char *name;   /* reserved ranges: the iomem name ("Reserved" if NULL) */
};

struct zd_machine_desc {
	const char *arch;               /* profile name; "x86_64" if NULL */
	unsigned phys_bits;             /* 0: the profile's */
	unsigned va_bits;               /* arm64 only, 0: the profile's (e.g. 39 for a 3-level kernel) */
	uint64_t memory_block_size;     /* 0: the arch rule */
	int nr_nodes;                   /* 0: 1 */
	const struct zd_mem_range *ram; /* boot System RAM */
	size_t nr_ram;
	const struct zd_mem_range *reserved; /* other firmware ranges (top level) */
	size_t nr_reserved;
	const char *iomem_path;         /* import a /proc/iomem file instead */
	const struct zd_nd_region_desc *pmem;   /* persistent memory regions */
	size_t nr_pmem;
	const struct zd_dmirror_desc *gpus;     /* dmirror test devices (VRAM / coherent) */
	size_t nr_gpus;
	enum zd_device_private_design device_private;
	bool debug_vm;                  /* CONFIG_DEBUG_VM: poison fresh and removed memmap */
	FILE *log_echo;                 /* echo dmesg lines as they happen */
	enum zd_online_type auto_online_blocks;  /* /sys/devices/system/memory/auto_online_blocks */
	uint64_t crashkernel;           /* crashkernel=SIZE: reserved at boot (0: none) */
	uint64_t swiotlb_size;          /* swiotlb bounce buffer; 0: the arch's rule (64 MiB) */
	bool swiotlb_off;               /* no swiotlb (an IOMMU does the bouncing) */
	int console_loglevel;           /* 0: ZD_LOG_INFO; else the level + 1 (loglevel=) */
	const char *dyndbg;             /* dynamic-debug query applied before boot (dyndbg=) */
	bool host_memory_unguarded;     /* populate memmap even beyond the host's available RAM */
	enum zd_thp_policy transparent_hugepage;   /* default madvise */
	enum zd_exclusive_era device_exclusive_era;   /* default v6.15 */
	/* Called now and then from long operations (boot's sparse_init,
	 * __add_pages, memmap init) with what runs and how far it got in
	 * pages, for a progress display. It may run in several threads at
	 * once (two memremap_pages() callers) and with the hotplug lock held,
	 * so it must be thread-safe and must not call into the library.
	 * NULL: none. */
	void (*progress)(void *arg, const char *what, uint64_t done, uint64_t total);
	void *progress_arg;
};

/* The host memory guard (machine/hostmem.c): memmap in RAM is real host
 * memory. MemAvailable of the host in bytes (ZD_HOST_MEM_AVAILABLE in the
 * environment replaces it; UINT64_MAX when unknown), and whether need more
 * bytes fit in it with a sixteenth of it left to the host. */
uint64_t zd_host_mem_available(void);
bool zd_host_mem_fits(uint64_t need);

/* What boot kept from the buddy (memblock reservations), in pages: MemTotal
 * is present_pages - reserved_pages right after boot. */
struct zd_boot_memory {
	uint64_t present_pages;   /* boot RAM */
	uint64_t reserved_pages;  /* all of the below */
	uint64_t low_pages;       /* x86: the first 1 MiB */
	uint64_t kernel_pages;    /* code, rodata, data, bss */
	uint64_t crashkernel_pages;
	uint64_t memmap_pages;    /* boot memmap and its page tables */
	uint64_t hash_pages;      /* dentry and inode hash tables */
	uint64_t swiotlb_pages;
};

struct zd_phys_backing;
struct zd_xarray;
struct zd_device;
struct zd_memblock;
struct zd_pci;


#define ZD_FAULT_POINTS 32


struct zd_machine {
	struct zd_arch arch;

	/* base: log */
	pthread_mutex_t log_lock;         /* the ring, log_seq, log_echo, log_filter; a leaf */
	struct zd_log_line *log_ring;
	unsigned long log_seq;
	unsigned long warn_count;
	FILE *log_echo;
	struct zd_log_filter log_filter;  /* what the console shows (log_lock) */

	/* kernel: the physical address space */
	zd_rwlock_t resource_lock;   /* the iomem tree (readers walk, writers change) */
	struct zd_resource iomem_resource;

	/* mm: sparse model */
	struct zd_mem_section **mem_section;  /* NR_SECTION_ROOTS root pointers */
	uint64_t highest_present_section_nr;
	size_t usage_size;
	struct zd_rcu rcu;

	/* mm: the virtual memmap window */
	struct zd_page *vmemmap;          /* vmemmap + pfn == pfn_to_page(pfn) */
	void *vmemmap_window;
	size_t vmemmap_window_size;
	uint64_t vmemmap_start_pfn, vmemmap_end_pfn; /* coverage [start, end) */
	long vmemmap_mapped_bytes;        /* atomic: populated bytes */
	long nr_pagetable;                /* atomic: NR_PAGETABLE, process page-table pages */
	/* The RAM the memmap costs (sparse-vmemmap.c): frames and page-table
	 * pages behind the vmemmap, by index; hotplug lock (writer). */
	struct zd_xarray *vmemmap_frames, *vmemmap_tables;
	/* A range's sections (de)populated under one host mapping change
	 * (zd_vmemmap_batch_begin/end); hotplug lock (writer). */
	struct {
		uintptr_t lo, hi;                 /* host span; lo == hi: no batch */
		bool remove;
	} vmemmap_batch;

	/* Boot memory (memblock.c): allocates until memblock_free_all(), then
	 * only records what boot reserved. */
	struct zd_memblock *memblock;
	struct {
		uint64_t image_bytes[4];  /* kernel code, rodata, data, bss */
		uint64_t hash_bytes, swiotlb_bytes;
		struct zd_boot_memory mem;
	} boot;

	/* mm: hotplug. mem_hotplug_lock, writers: section words and usage,
	 * zone and node spans and present counts, the memory blocks, the
	 * vmemmap ledger; readers: stable views of those. device_hotplug_lock
	 * (outermost): add/remove_memory and block state changes. The owners
	 * record exclusive holders for the lock assertions (base/lockdep.h). */
	zd_rwlock_t mem_hotplug_lock;
	unsigned long mem_hotplug_writer;
	pthread_mutex_t device_hotplug_lock;
	unsigned long device_hotplug_owner;
	uint64_t memory_block_size;
	struct zd_xarray *memory_blocks;
	enum zd_online_type auto_online_blocks;  /* what add_memory onlines new blocks as */
	uint64_t max_pfn, max_low_pfn;    /* atomic reads */
	uint64_t memstart_pfn;            /* first boot RAM pfn */
	bool debug_vm;
	bool host_memory_unguarded;
	bool memmap_init_per_page;        /* the per-page memmap init the template replaces */
	bool booted;                      /* zd_machine_create() succeeded */
	void (*progress)(void *arg, const char *what, uint64_t done, uint64_t total);
	void *progress_arg;

	/* physical memory contents */
	pthread_mutex_t backing_lock;     /* the backings list and sections' phys_base */
	struct zd_phys_backing *backings;

	int nr_nodes;
	struct zd_pglist_data *node_data[ZD_MAX_NUMNODES];

	/* ZONE_DEVICE: pfn -> pgmap (the kernel's pgmap_array xarray), and the
	 * device-private address space of the dpa design (offset -> pgmap). */
	enum zd_device_private_design device_private;
	struct zd_rangemap pgmap_array, device_private_space;

	/* Processes (mm/mmap.c): every live address space, newest first. */
	pthread_mutex_t mm_list_lock;     /* mm_list and last_pid; a leaf */
	struct zd_mm *mm_list;
	int last_pid;
	uint64_t last_shmem_ino;          /* atomic: inodes of shared anonymous memory */
	uint64_t zero_pfn;                /* empty_zero_page: a page of the kernel's bss */
	/* Fault and mapping counters (atomic): vmstat pgfault, meminfo AnonPages. */
	unsigned long pgfault;
	long nr_anon_mapped;              /* NR_ANON_MAPPED, in pages */
	long nr_shmem;                    /* NR_SHMEM: pages in shmem caches */
	long nr_file_mapped;              /* NR_FILE_MAPPED: file, shmem and DAX pages mapped */
	unsigned long nr_foll_pin_acquired, nr_foll_pin_released;   /* vmstat */
	unsigned long pgmigrate_success, pgmigrate_fail;
	/* THP (huge_memory.c): the policy, the huge zero folio (allocated on
	 * its first read fault, kept to the end), vmstat's thp_* events and
	 * NR_ANON_THPS (meminfo AnonHugePages), in pages. */
	enum zd_thp_policy thp_enabled;
	enum zd_exclusive_era device_exclusive_era;
	struct zd_page *huge_zero_folio;  /* atomic pointer */
	unsigned long thp_fault_alloc, thp_fault_fallback, thp_zero_page_alloc,
		      thp_zero_page_alloc_failed, thp_split_pmd, thp_collapse_alloc,
		      thp_collapse_alloc_failed, thp_migration_success, thp_migration_fail;
	long nr_anon_thps;

	/* The device model: bound devices, newest first. */
	pthread_mutex_t device_lock;      /* the device list (not binding: each device's lock) */
	struct zd_device *devices;
	struct zd_pci *pci;               /* the PCI topology (drivers/pci); NULL until used */

	/* Fault injection (base/fault-inject.c). */
	struct {
		pthread_mutex_t lock;     /* the armed point and the pass counters */
		char point[64];
		unsigned long nth, seen;
		struct { char name[48]; unsigned long count; } hits[ZD_FAULT_POINTS];
	} fault;

	char errbuf[256];                 /* why the last create failed */
};

/* ERR_PTR on failure, with the reason in the log echo / stderr-free buffer. */
struct zd_machine *zd_machine_create(const struct zd_machine_desc *desc);
/* Reason text of the last failed zd_machine_create() on this thread. */
const char *zd_machine_create_error(void);
/* Which entry of the description the last failed zd_machine_create() on
 * this thread was about (list ZD_DESC_NONE: the machine as a whole;
 * ZD_DESC_IOMEM: the iomem_path file, unreadable or holding the bad
 * entry), so a caller can point at it. */
enum zd_desc_list { ZD_DESC_NONE, ZD_DESC_RAM, ZD_DESC_RESERVED, ZD_DESC_PMEM, ZD_DESC_GPU,
		    ZD_DESC_IOMEM };
struct zd_desc_blame {
	enum zd_desc_list list;
	size_t index;
};
struct zd_desc_blame zd_machine_create_blame(void);
void zd_machine_destroy(struct zd_machine *m);

static inline struct zd_page *zd_pfn_to_page(const struct zd_machine *m, uint64_t pfn)
{
	return m->vmemmap + pfn;
}
/* page_to_pfn() of a page outside the vmemmap (a dpa device-private page):
 * a caught misuse, WARNs and returns ZD_BAD_PFN. */
#define ZD_BAD_PFN (~0ULL)
uint64_t zd_page_to_pfn_misuse(const struct zd_machine *m, const struct zd_page *p);
/* Does p lie in the vmemmap (i.e. has it a pfn at all)? */
static inline bool zd_page_in_vmemmap(const struct zd_machine *m, const struct zd_page *p)
{
	uint64_t pfn = ((uintptr_t)p - (uintptr_t)m->vmemmap) / sizeof(struct zd_page);

	return pfn - m->vmemmap_start_pfn < m->vmemmap_end_pfn - m->vmemmap_start_pfn;
}
static inline uint64_t zd_page_to_pfn(const struct zd_machine *m, const struct zd_page *p)
{
	if (__builtin_expect(!zd_page_in_vmemmap(m, p), 0))
		return zd_page_to_pfn_misuse(m, p);
	return ((uintptr_t)p - (uintptr_t)m->vmemmap) / sizeof(struct zd_page);
}
static inline struct zd_zone *zd_page_zone(struct zd_machine *m, const struct zd_page *p)
{
	return &m->node_data[zd_page_to_nid(p)]->node_zones[zd_page_zonenum(p)];
}
static inline uint64_t zd_max_pfn(const struct zd_machine *m)
{
	return __atomic_load_n(&m->max_pfn, __ATOMIC_RELAXED);
}

/* Host memory of the physical contents of pfn (RAM); NULL without backing. */
void *zd_page_address(struct zd_machine *m, const struct zd_page *page);
void *zd_pfn_address(struct zd_machine *m, uint64_t pfn);

/* The boot reservations of m (a copy). */
void zd_boot_memory(const struct zd_machine *m, struct zd_boot_memory *out);

/* Host memory the memmap really occupies now (resident bytes, measured
 * with mincore over the populated vmemmap). */
uint64_t zd_vmemmap_resident_bytes(struct zd_machine *m);

#ifdef __cplusplus
}
#endif

#endif
