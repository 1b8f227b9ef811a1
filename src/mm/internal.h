/*
 * Declarations shared inside the mm layer only (mm/internal.h in the
 * kernel): the sparse-model and vmemmap entry points machine boot and
 * hotplug use, and the memmap init helpers. Not part of the public API.
 */
#ifndef ZD_MM_INTERNAL_H
#define ZD_MM_INTERNAL_H

#include <zonedev/machine.h>
#include <zonedev/memory.h>
#include <zonedev/memory_hotplug.h>
#include <zonedev/memremap.h>

/* sparse.c */
int zd_sparse_init(struct zd_machine *m);
void zd_sparse_fini(struct zd_machine *m);
/* Boot: mark [pfn, pfn+nr) present, early and online with a whole-section memmap. */
int zd_sparse_init_boot_range(struct zd_machine *m, int nid, uint64_t pfn, uint64_t nr);
void zd_online_mem_sections(struct zd_machine *m, uint64_t pfn, uint64_t end_pfn);
void zd_offline_mem_sections(struct zd_machine *m, uint64_t pfn, uint64_t end_pfn);
void zd_section_taint_zone_device(struct zd_machine *m, uint64_t pfn);
bool zd_subsection_populated(struct zd_machine *m, uint64_t pfn);

/* sparse-vmemmap.c */
int zd_vmemmap_init(struct zd_machine *m);
void zd_vmemmap_fini(struct zd_machine *m);
/* True if pfn's struct page can exist at all (arch coverage rule). */
bool zd_vmemmap_covers(const struct zd_machine *m, uint64_t pfn, uint64_t nr);
struct zd_page *zd___populate_section_memmap(struct zd_machine *m, uint64_t pfn, uint64_t nr,
					     int nid, struct zd_vmem_altmap *altmap,
					     struct zd_dev_pagemap *pgmap);
void zd_depopulate_section_memmap(struct zd_machine *m, uint64_t pfn, uint64_t nr,
				  struct zd_vmem_altmap *altmap);
/* Pages of RAM the memmap holds now: frames and page tables (boot and later). */
/* One host mapping change for all the sections of [pfn, pfn + nr) that
 * __add_pages/__remove_pages (de)populate in between (no altmap: those
 * map the device file per block); end says whether the add succeeded. */
void zd_vmemmap_batch_begin(struct zd_machine *m, uint64_t pfn, uint64_t nr,
			    struct zd_vmem_altmap *altmap, struct zd_dev_pagemap *pgmap, bool remove);
void zd_vmemmap_batch_end(struct zd_machine *m, bool ok);
uint64_t zd_vmemmap_charged_pages(struct zd_machine *m);
/* vmemmap_can_optimize(): compound device memmap without an altmap whose
 * folios span more than VMEMMAP_RESERVE_NR memmap pages, on an arch that
 * opts in: only the first two memmap pages of each folio get written. */
bool zd_vmemmap_can_optimize(const struct zd_machine *m, const struct zd_vmem_altmap *altmap,
			     const struct zd_dev_pagemap *pgmap);
static inline unsigned long zd_pgmap_vmemmap_shift(const struct zd_dev_pagemap *pgmap)
{
	return pgmap ? pgmap->vmemmap_shift : 0;
}
/* Struct pages written per folio of a deduplicated memmap. */
uint64_t zd_compound_nr_pages(const struct zd_machine *m, const struct zd_vmem_altmap *altmap,
			      const struct zd_dev_pagemap *pgmap);
/* Host bytes the memmap of nr pages makes resident once initialised: none
 * on an altmap, two memmap pages per folio when deduplicated, else 64 per
 * page. */
uint64_t zd_vmemmap_host_bytes(const struct zd_machine *m, uint64_t nr,
			       const struct zd_vmem_altmap *altmap,
			       const struct zd_dev_pagemap *pgmap);
/* -ENOMEM with a message naming what, the need, the host's figure and what
 * would avoid it, when need bytes of memmap would not fit in the host; 0
 * when they do or the machine lifted the guard. */
int zd_host_mem_guard(struct zd_machine *m, uint64_t need, const char *what, const char *avoid);
/* Report progress of a long loop (machine desc's progress callback). */
static inline void zd_progress(struct zd_machine *m, const char *what, uint64_t done,
			       uint64_t total)
{
	if (m->progress)
		m->progress(m->progress_arg, what, done, total);
}
/* Every this many pages or sections a loop reports: often enough for a
 * display (a few ms), rare enough to cost nothing. */
#define ZD_PROGRESS_PAGES    (1ULL << 18)
#define ZD_PROGRESS_SECTIONS 64
/* "512 GiB": whole units, rounded up. */
const char *zd_host_fmt_size(char *buf, size_t len, uint64_t bytes);
/* altmap_alloc_block_buf() in pfns; returns the first pfn or UINT64_MAX. */
uint64_t zd_altmap_alloc_pfns(struct zd_machine *m, struct zd_vmem_altmap *altmap, uint64_t nr_pfns);
void zd_vmem_altmap_free(struct zd_vmem_altmap *altmap, uint64_t nr_pfns);

/* memremap.c */
const char *zd_pgmap_private_problem(const struct zd_dev_pagemap *pgmap);
/* The pgmap's reference, completion and fsdax wait queue, and their end. */
void zd_pgmap_lifetime_init(struct zd_dev_pagemap *pgmap);
void zd_pgmap_lifetime_fini(struct zd_dev_pagemap *pgmap);
/* Kill the reference, return bulk refs, wait (logging) until it drains. */
void zd_pgmap_kill_and_wait(struct zd_dev_pagemap *pgmap);

/* mm_init.c */
void zd___init_single_page(struct zd_page *page, int zone, int nid);
void zd_memmap_init_range(struct zd_machine *m, uint64_t nr, int nid, int zone, uint64_t start_pfn,
			  struct zd_vmem_altmap *altmap, int migratetype, bool hotplug);
void zd_set_pageblock_migratetype(struct zd_machine *m, uint64_t pfn, int migratetype);
int zd_get_pageblock_migratetype(struct zd_machine *m, uint64_t pfn);
void zd_memmap_init_zone_device(struct zd_machine *m, struct zd_zone *zone, uint64_t start_pfn,
				uint64_t nr_pages, struct zd_dev_pagemap *pgmap);
/* Device pages outside the vmemmap (dpa): first .. first+nr of one pgmap. */
void zd_init_zone_device_pages(struct zd_machine *m, struct zd_page *first, uint64_t nr, int nid,
			       struct zd_dev_pagemap *pgmap, uint64_t written_per_folio);
void zd_init_currently_empty_zone(struct zd_zone *zone, uint64_t start_pfn, uint64_t size);
void zd_zone_init_free_lists(struct zd_zone *zone);

/* page_alloc.c: a reserved (memblock) range becomes managed and free
 * (free_reserved_page() for each page). */
void zd_free_reserved_pages(struct zd_machine *m, uint64_t pfn, uint64_t nr);
/* start_isolate_page_range()/undo_isolate_page_range() of one zone's
 * pageblocks: isolated, no free block there is handed out; undone, they
 * are MIGRATE_MOVABLE (the counter lets the allocator skip the check
 * while no block of the zone is isolated). */
void zd_isolate_pageblocks(struct zd_machine *m, uint64_t pfn, uint64_t nr, bool isolate);

/* memblock.c: boot memory and its reservations (see the file). */
int zd_memblock_init(struct zd_machine *m);
void zd_memblock_fini(struct zd_machine *m);
bool zd_memblock_active(const struct zd_machine *m);
int zd_memblock_add(struct zd_machine *m, uint64_t pfn, uint64_t nr, int nid);
int zd_memblock_reserve(struct zd_machine *m, uint64_t pfn, uint64_t nr, const char *why);
/* Top-down: nr pages aligned to align pages below limit (0: none), on nid
 * if it can; UINT64_MAX (logged) when nothing fits. */
uint64_t zd_memblock_alloc(struct zd_machine *m, int nid, uint64_t nr, uint64_t align,
			   uint64_t limit, const char *why);
/* Reserved pages (of one purpose, or all with why NULL). */
uint64_t zd_memblock_reserved_pages(const struct zd_machine *m, const char *why);
void zd_memblock_free_all(struct zd_machine *m);

/* machine/setup.c: the arch's boot reservations. */
int zd_setup_arch_reserve(struct zd_machine *m, const struct zd_machine_desc *d,
			  const struct zd_mem_range *ram, size_t nr);
int zd_setup_late_reserve(struct zd_machine *m, const struct zd_machine_desc *d,
			  uint64_t present_pages, phys_addr_t max_possible);
void zd_mem_init_print_info(struct zd_machine *m, uint64_t present_pages);

/* machine/physmem.c: host backing of RAM contents */
int zd_physmem_map_ram(struct zd_machine *m, uint64_t pfn, uint64_t nr);
void zd_physmem_unmap_ram(struct zd_machine *m, uint64_t pfn, uint64_t nr);
void zd_physmem_fini(struct zd_machine *m);

/* memory_hotplug.c: lock_device_hotplug(), recording the holder. */
void zd_lock_device_hotplug(struct zd_machine *m);
void zd_unlock_device_hotplug(struct zd_machine *m);
/* memory_hotplug.c: grow a zone's or node's span to cover [pfn, pfn+nr). */
void zd_resize_range(uint64_t *start, uint64_t *spanned, uint64_t pfn, uint64_t nr);
/* memory_hotplug.c: -EINVAL (logged) unless start and size are whole memory blocks. */
int zd_check_hotplug_memory_range(struct zd_machine *m, phys_addr_t start, phys_addr_t size);

/* memory.c (drivers/base) */
int zd_memory_dev_init(struct zd_machine *m);
void zd_memory_dev_fini(struct zd_machine *m);
int zd_create_memory_block_devices(struct zd_machine *m, phys_addr_t start, phys_addr_t size,
				   int nid, enum zd_mem_state state, enum zd_zone_type zone);
void zd_remove_memory_block_devices(struct zd_machine *m, phys_addr_t start, phys_addr_t size);
/* memory_block_change_state() with device_hotplug_lock held (add_memory's
 * auto-online). */
int zd_memory_block_online_locked(struct zd_machine *m, uint64_t id, enum zd_online_type type);
/* -EBUSY unless every block in the range is offline. */
int zd_memory_blocks_all_offline(struct zd_machine *m, phys_addr_t start, phys_addr_t size);

/* vma.c: the VMA array of an mm (mmap_lock held for writing to change it). */
#include <zonedev/mm.h>
#include <zonedev/pgtable.h>
uint64_t zd_vma_pages(const struct zd_vm_area_struct *vma);
/* Index of the first VMA ending above addr (map_count if none). */
size_t zd_vma_index(struct zd_mm *mm, uint64_t addr);
/* Insert (sorted); 0 or -ENOMEM. Does not account total_vm. */
int zd_vma_link(struct zd_mm *mm, struct zd_vm_area_struct *vma);
/* Take vma out of the array and out of total_vm. */
int zd_vma_detach(struct zd_mm *mm, struct zd_vm_area_struct *vma);
struct zd_vm_area_struct *zd_vm_area_dup(const struct zd_vm_area_struct *orig);
void zd_vm_area_free(struct zd_vm_area_struct *vma);
/* vm_ops->close, then free (a detached VMA). */
void zd_remove_vma(struct zd_vm_area_struct *vma);
/* Cut vma at addr into [start, addr) (vma) and [addr, end) (new);
 * count_checked: the caller checked max_map_count already (munmap). */
int zd_split_vma(struct zd_mm *mm, struct zd_vm_area_struct *vma, uint64_t addr,
		 bool count_checked);
bool zd_vma_can_merge(const struct zd_vm_area_struct *a, const struct zd_vm_area_struct *b);
/* Merge vma with its neighbours where allowed; the VMA that holds it now. */
struct zd_vm_area_struct *zd_vma_merge_neighbours(struct zd_mm *mm,
						  struct zd_vm_area_struct *vma);
/* Split the VMAs at start and end so that [start, end) is whole VMAs;
 * a refusal leaves them as they were. unmapping: munmap's count rule. */
int zd_vma_isolate_range(struct zd_mm *mm, uint64_t start, uint64_t end, bool unmapping);

/* mmap.c */
/* Remove every VMA part in [start, end) (aligned); write lock held. */
int zd_do_munmap(struct zd_mm *mm, uint64_t start, uint64_t end);
/* A free range of len bytes (vm_unmapped_area, top-down), or -errno. */
int64_t zd_get_unmapped_area(struct zd_mm *mm, struct zd_file *file, uint64_t addr,
			     uint64_t len, uint64_t pgoff, unsigned long flags);
/* calc_vm_prot_bits(). */
uint64_t zd_calc_vm_prot_bits(unsigned long prot);
bool zd_mmap_write_locked(struct zd_mm *mm);
/* This thread holds mm's mmap_lock for reading. */
bool zd_mmap_read_held(const struct zd_mm *mm);

/* rmap.c: anon_vma references (the root lives while anything below does),
 * anon_vma_prepare/fork, linear_page_index and the per-page rmap calls. */
struct zd_anon_vma;
void zd_get_anon_vma(struct zd_anon_vma *av);
void zd_put_anon_vma(struct zd_anon_vma *av);   /* NULL allowed; frees after a grace period */
/* A reference unless the last one is gone (folio_get_anon_vma's inc_not_zero),
 * inside an RCU read section. */
bool zd_anon_vma_tryget(struct zd_anon_vma *av);
struct zd_anon_vma *zd_anon_vma_root(const struct zd_anon_vma *av);
int zd_anon_vma_prepare(struct zd_vm_area_struct *vma);
/* The child VMA vma (a copy of pvma) gets its own anon_vma below pvma's. */
int zd_anon_vma_fork(struct zd_vm_area_struct *vma, const struct zd_vm_area_struct *pvma);
uint64_t zd_linear_page_index(const struct zd_vm_area_struct *vma, uint64_t addr);
/* A new page mapped once, exclusively (RMAP_EXCLUSIVE). */
void zd_folio_add_new_anon_rmap(struct zd_page *folio, struct zd_vm_area_struct *vma,
				uint64_t addr);
/* fork: one more mapping, no longer exclusive; -EBUSY for a pinned
 * exclusive page, which the caller copies instead. */
int zd_folio_try_dup_anon_rmap_pte(struct zd_page *folio);
void zd_folio_remove_rmap_pte(struct zd_machine *m, struct zd_page *folio);
/* The same for a PMD-sized anonymous folio mapped by one PMD entry
 * (_entire_mapcount; NR_ANON_THPS). */
void zd_folio_add_new_anon_rmap_pmd(struct zd_page *folio, struct zd_vm_area_struct *vma,
				    uint64_t haddr);
int zd_folio_try_dup_anon_rmap_pmd(struct zd_page *folio);
void zd_folio_remove_rmap_pmd(struct zd_machine *m, struct zd_page *folio);
/* folio_add_file_rmap_pte/pmd(): one more mapping of a file, shmem or
 * DAX folio (a PTE of a small one, or a leaf mapping a whole one); its
 * first counts its pages in NR_FILE_MAPPED (meminfo Mapped), and the
 * removal of its last takes them out again. */
void zd_folio_add_file_rmap(struct zd_machine *m, struct zd_page *folio);
/* An existing anonymous page gains a mapping (remove_migration_pte). */
void zd_folio_add_anon_rmap_pte(struct zd_machine *m, struct zd_page *folio, bool exclusive);

/* migrate.c: move a locked anonymous base page, which the caller holds a
 * reference on, to dst (a fresh page, one reference): 0, -EAGAIN when it
 * is referenced beyond its mappings, -EBUSY when an exclusive mapping is
 * pinned, -EINVAL for a page that is not anonymous or is large; on failure
 * every entry maps the page again. migrate_range moves what it can of
 * [pfn, pfn + nr) to pages outside it (the number moved, or -ENOMEM).
 * A fault on a migration entry waits with zd_migration_entry_wait. */
int zd_migrate_folio(struct zd_machine *m, struct zd_page *folio, struct zd_page *dst);
long zd_migrate_range(struct zd_machine *m, uint64_t pfn, uint64_t nr);
void zd_migration_entry_wait(struct zd_machine *m, struct zd_page *page);
/* migrate_device.c: do_swap_page()'s waits on a locked entry's page (a
 * reference taken under the PTL) and its device-private branch
 * (migrate_to_ram with the page locked); vmf's PTE is unlocked. */
void zd_entry_wait_on_locked(struct zd_vm_fault *vmf, struct zd_page *page);
unsigned zd_do_device_private_fault(struct zd_vm_fault *vmf, struct zd_page *page);
/* migrate_to_ram of page with its entry's table locked (unlocked on
 * return); driver_pte is vmf->pte as the driver sees it (NULL: a PMD). */
unsigned zd_device_private_migrate_to_ram(struct zd_vm_fault *vmf, struct zd_page *page,
					  uint64_t *driver_pte);
/* remove_device_exclusive_entry() (vmf's PTE unlocked), and the PTE a
 * device-exclusive entry goes back to (its table locked, page locked). */
unsigned zd_remove_device_exclusive_entry(struct zd_vm_fault *vmf, struct zd_page *page);
void zd_restore_exclusive_pte(struct zd_vm_area_struct *vma, struct zd_page *page, uint64_t *pte);
/* folio_try_get(): a reference unless the last one went (never revive a
 * page being freed). */
static inline bool zd_folio_try_get(struct zd_page *page)
{
	int ref = __atomic_load_n(&page->_refcount, __ATOMIC_RELAXED);

	do {
		if (ref <= 0)
			return false;
	} while (!__atomic_compare_exchange_n(&page->_refcount, &ref, ref + 1, false,
					      __ATOMIC_ACQUIRE, __ATOMIC_RELAXED));
	return true;
}

/* rmap.c: rmap_walk_anon()/rmap_walk_file() (mapping with av NULL): fn on
 * each entry that maps page at index (its present or device-private
 * entries, its migration entries, the THP PMD its folio starts, or the
 * PTE table of a whole PMD block), under that table's lock; visits every
 * process with its mmap_lock for reading. */
enum zd_walk_what { ZD_WALK_PRESENT, ZD_WALK_MIGRATION, ZD_WALK_THP_PMD, ZD_WALK_PTE_TABLE };
typedef int (*zd_rmap_fn)(struct zd_vm_area_struct *vma, uint64_t addr, uint64_t *pte, void *arg);
int zd_rmap_walk(struct zd_machine *m, struct zd_page *page, uint64_t index,
		 struct zd_anon_vma *av, const void *mapping, enum zd_walk_what what, zd_rmap_fn fn,
		 void *arg);
/* The same for the nr pages from page at [index, index + nr) (PRESENT and
 * MIGRATION only): one walk of the processes for a whole folio. */
int zd_rmap_walk_nr(struct zd_machine *m, struct zd_page *page, uint64_t index, uint64_t nr,
		    struct zd_anon_vma *av, const void *mapping, enum zd_walk_what what,
		    zd_rmap_fn fn, void *arg);
/* try_to_migrate of a shmem page in every process that maps its file. */
int zd_try_to_migrate_file(struct zd_machine *m, struct zd_page *page, const void *mapping);
/* The pieces split_folio uses: the folio's anon_vma (a reference, NULL
 * when unmapped); try_to_migrate of one page (its pfn's, at index in the
 * anon_vma's space: 0, or -EBUSY for a pinned exclusive page, whose
 * mappings the caller restores); remove_migration_ptes onto dst; the
 * split of every PMD mapping a THP. */
struct zd_anon_vma *zd_folio_get_anon_vma(struct zd_machine *m, struct zd_page *folio);
int zd_try_to_migrate(struct zd_machine *m, struct zd_page *page, uint64_t index,
		      struct zd_anon_vma *av);
void zd_remove_migration_ptes(struct zd_machine *m, struct zd_page *old, uint64_t index,
			      struct zd_anon_vma *av, struct zd_page *dst);
/* The same for the nr pages from old, each onto dst's page of its index. */
void zd_remove_migration_ptes_nr(struct zd_machine *m, struct zd_page *old, uint64_t index,
				 uint64_t nr, struct zd_anon_vma *av, struct zd_page *dst);
void zd_split_huge_pmds(struct zd_machine *m, struct zd_page *folio, struct zd_anon_vma *av);
/* split_folio() of a locked anonymous THP the caller holds a reference
 * on, into base pages (the caller keeps its lock and reference on the
 * first): 0, -EBUSY (pinned), -EAGAIN (referenced beyond its mappings). */
int zd_split_folio(struct zd_machine *m, struct zd_page *folio);
void zd_split_unmapped_folio(struct zd_machine *m, struct zd_page *folio, bool dirty);

/* pagewalk.c: level arithmetic, the entry mapping one address (lockless:
 * the slot of the PTE or huge leaf, with its level; NULL when a table on
 * the way is missing) and a walk calling fn on every used PTE slot of
 * [start, end) with its table locked (fn's nonzero return stops it). */
struct zd_page *zd_pt_table_page(struct zd_machine *m, zd_pte_t e);
uint64_t *zd_pt_slot(struct zd_machine *m, struct zd_page *table, int level, uint64_t addr);
int zd_pt_next_level(const struct zd_arch *a, int level);
uint64_t *zd_lookup_slot(struct zd_mm *mm, uint64_t addr, enum zd_pt_level *level);
typedef int (*zd_pte_fn)(struct zd_mm *mm, uint64_t *pte, uint64_t addr, void *arg);
int zd_walk_pte_range(struct zd_mm *mm, uint64_t start, uint64_t end, zd_pte_fn fn, void *arg);
/* The same, with huge leaves (PMD/PUD) given to leaf_fn (their table
 * locked, addr the leaf's start); without one a huge leaf WARNs. */
typedef int (*zd_leaf_fn)(struct zd_mm *mm, uint64_t *slot, enum zd_pt_level level,
			  uint64_t addr, void *arg);
/* A THP leaf a range covers in part, or met by a walk without leaf_fn, is
 * split and its PTEs walked; a leaf_fn that split its leaf itself returns
 * ZD_WALK_AGAIN to have the PTEs walked. */
#define ZD_WALK_AGAIN 0x57414c4b
int zd_walk_range(struct zd_mm *mm, uint64_t start, uint64_t end, zd_pte_fn fn,
		  zd_leaf_fn leaf_fn, void *arg);
/* The slot of addr's entry at a PUD or PMD level, the tables above it
 * allocated; its table in *ptl (not locked). NULL: no memory, or a
 * larger leaf above. */
uint64_t *zd_huge_slot_alloc(struct zd_mm *mm, uint64_t addr, enum zd_pt_level level,
			     struct zd_page **ptl);
/* The same without allocating: zd_huge_slot_lookup (zonedev/pgalloc.h). */

/* Faults of one access (or one GUP page) before it is called stuck: far
 * more than any migration storm needs, so only a fault that resolves
 * nothing ends with a WARN. */
#define ZD_FAULT_RETRY_LIMIT 100000

/* memory.c: faults' helpers for the VMA operations. vm_get_page_prot() as
 * ZD_PTE_* bits; vm_normal_page() (NULL for special entries and the zero
 * page); zap of [start, end) of vma (pages unmapped and released, tables
 * kept); fork's copy of a VMA's entries; mprotect's and mremap's entry
 * changes. */
unsigned zd_vma_pte_prot(uint64_t vm_flags);
/* The bytes behind a pfn: RAM, or a CPU-addressable device page. */
void *zd_pfn_kaddr(struct zd_machine *m, uint64_t pfn);
/* A present leaf's ZD_PTE_* bits / the same entry with other bits
 * (pte_modify and the pte_mk* helpers). */
unsigned zd_pte_prot(struct zd_mm *mm, zd_pte_t e);
zd_pte_t zd_pte_reprot(struct zd_mm *mm, zd_pte_t e, unsigned prot);
/* pgtable-generic.c: a locked present leaf's rights changed atomically
 * against the MMU's accessed/dirty updates; the old entry. */
zd_pte_t zd_leaf_modify_prot(struct zd_mm *mm, uint64_t *slot, enum zd_pt_level level,
			     unsigned keep, unsigned set);
struct zd_page *zd_vm_normal_page(struct zd_mm *mm, zd_pte_t pte);
void zd_zap_page_range(struct zd_vm_area_struct *vma, uint64_t start, uint64_t end);
/* unmap_mapping_range() of a whole device file: every VMA of every process
 * mapping a file with these f_op and private_data is zapped (mmap.c). */
void zd_unmap_file_mappings(struct zd_machine *m, const struct zd_file_operations *f_op,
			    const void *private_data);
/* The same zap without a notifier: munmap and exit bracket the span with UNMAP. */
void zd_unmap_page_range(struct zd_vm_area_struct *vma, uint64_t start, uint64_t end);
/* rss_stat and the counter a mapped page is in (mm_counter()). */
void zd_add_mm_counter(struct zd_mm *mm, int member, long value);
int zd_mm_counter(struct zd_page *page);

/* huge_memory.c: the PUD/PMD fault path (VM_FAULT_FALLBACK: go on to
 * PTEs) and a leaf's zap (a zd_leaf_fn on a mmu_gather); memory.c: a zap
 * of only the huge leaves of [start, end). */
unsigned zd_huge_fault(struct zd_vm_fault *vmf);
int zd_zap_leaf(struct zd_mm *mm, uint64_t *slot, enum zd_pt_level level, uint64_t addr,
		void *arg);
/* Anonymous THP: the policy's verdict for addr's PMD block of vma; a
 * present PMD leaf of a THP or the huge zero folio; split_huge_pmd with
 * the PMD's table locked (false: not a THP, nothing changed); fork's
 * copy_huge_pmd (0, -ENOMEM, or ZD_WALK_AGAIN after splitting a pinned
 * folio's PMD for the PTE copy); change_huge_pmd; MADV_FREE of a whole
 * THP (a zd_leaf_fn). */
bool zd_thp_vma_allowable(const struct zd_vm_area_struct *vma, uint64_t addr);
bool zd_pmd_is_thp(struct zd_mm *mm, zd_pte_t e, enum zd_pt_level level);
bool zd_is_huge_zero_pfn(struct zd_machine *m, uint64_t pfn);
bool zd_split_huge_pmd_locked(struct zd_mm *mm, uint64_t *slot);
int zd_copy_huge_pmd(struct zd_vm_area_struct *dst, struct zd_vm_area_struct *src,
		     uint64_t *src_slot, uint64_t addr);
void zd_change_huge_pmd(struct zd_vm_area_struct *vma, uint64_t *slot);
bool zd_move_huge_pmd(struct zd_mm *mm, uint64_t old_addr, uint64_t new_addr);
bool zd_remap_thp_pmd_locked(struct zd_mm *mm, uint64_t *slot, struct zd_page *folio);
/* huge_memory_softleaf.c: device-private PMD entries (a 2 MiB device
 * folio, 6.19+). is_device_private gives the folio (head) and its
 * writability; splittable: a THP or such an entry (split_huge_pmd takes
 * both); the fault (table locked, unlocked on return); hole insertion;
 * fork's copy (0, -ENOMEM or ZD_WALK_AGAIN); mprotect; the zap of a
 * cleared entry. */
bool zd_pmd_is_device_private(struct zd_mm *mm, zd_pte_t e, enum zd_pt_level level,
			      struct zd_page **folio, bool *write);
bool zd_pmd_is_splittable(struct zd_mm *mm, zd_pte_t e, enum zd_pt_level level);
zd_pte_t zd_make_device_private_pmd(struct zd_machine *m, struct zd_page *folio, bool write);
unsigned zd_do_huge_pmd_device_private(struct zd_vm_fault *vmf, struct zd_page *folio);
bool zd_migrate_vma_insert_huge_pmd_page(struct zd_vm_area_struct *vma, uint64_t haddr,
					 struct zd_page *folio);
int zd_copy_device_private_pmd(struct zd_vm_area_struct *dst, struct zd_vm_area_struct *src,
			       uint64_t *src_slot, uint64_t addr);
void zd_change_device_private_pmd(struct zd_vm_area_struct *vma, uint64_t *slot);
void zd_zap_device_private_pmd(struct zd_mm *mm, struct zd_page *folio, void *tlb);
struct zd_page *zd_pgtable_trans_huge_withdraw(struct zd_mm *mm);
/* migrate_device_thp.c: migrate_vma's compound entries. collect_huge_pmd
 * fills the entries of a whole PMD block at addr (returns how many; 0:
 * not a block it takes, walk it by PTEs); unmap_folio reaches a large
 * folio's other mappings; remap_folio rewrites every page's migration
 * entries (onto dst) and, with a vma, re-forms its PMD at addr;
 * split_compound splits src[i]'s folio or hole for order-0 destinations. */
struct zd_migrate_vma;
struct zd_page *zd_migrate_fault_folio(const struct zd_migrate_vma *args);
unsigned long zd_migrate_vma_collect_huge_pmd(struct zd_machine *m, struct zd_migrate_vma *args,
					      uint64_t addr, bool *unmapped);
void zd_migrate_unmap_folio(struct zd_machine *m, struct zd_page *folio, struct zd_anon_vma *av);
void zd_migrate_remap_folio(struct zd_machine *m, struct zd_page *folio, struct zd_page *dst,
			    struct zd_anon_vma *av, struct zd_vm_area_struct *vma, uint64_t addr);
void zd_migrate_split_compound(struct zd_machine *m, struct zd_migrate_vma *args, unsigned long i);
/* khugepaged.c's pieces of huge_memory.c: a zeroed THP (NULL when none
 * can be had; nothing counted), its PMD mapping into slot (the table
 * locked), and the deposit of the PTE table that goes with a THP PMD. */
struct zd_page *zd_alloc_thp(struct zd_machine *m);
void zd_thp_map_pmd(struct zd_vm_area_struct *vma, uint64_t *slot, struct zd_page *folio,
		    uint64_t haddr);
void zd_pgtable_trans_huge_deposit(struct zd_mm *mm, struct zd_page *table);
/* MADV_COLLAPSE of [start, end) of vma (khugepaged.c); mmap_lock held for
 * writing. */
int zd_madvise_collapse(struct zd_vm_area_struct *vma, uint64_t start, uint64_t end);
int zd_madvise_free_huge_pmd(struct zd_mm *mm, uint64_t *slot, enum zd_pt_level level,
			     uint64_t addr, void *arg);
void zd_zap_huge_leaves(struct zd_vm_area_struct *vma, uint64_t start, uint64_t end);
int zd_copy_page_range(struct zd_vm_area_struct *dst, struct zd_vm_area_struct *src);
void zd_change_protection(struct zd_vm_area_struct *vma, uint64_t start, uint64_t end);
int zd_move_page_tables(struct zd_vm_area_struct *vma, uint64_t old_addr,
			struct zd_vm_area_struct *new_vma, uint64_t new_addr, uint64_t len);

/* shmem.c: MAP_SHARED|MAP_ANONYMOUS's own shmem file (0 or -ENOMEM);
 * a reference on a shmem page's inode (NULL once it is going), and its
 * put; migration's page cache replacement of old by new (a fresh page),
 * only while old is still cached with exactly refs references (-EAGAIN
 * otherwise). */
void *zd_shmem_mapping_get(struct zd_machine *m, struct zd_page *page);
void zd_shmem_mapping_put(void *mapping);
int zd_shmem_replace_folio(void *mapping, struct zd_page *old, struct zd_page *new, int refs);
int zd_shmem_zero_setup(struct zd_vm_area_struct *vma);

/* pgtable-generic.c: a table's destructor and free, after its grace period
 * (mmu_gather.c); uncounts it from the machine's PageTables. */
void zd_pagetable_dtor_free(struct zd_machine *m, struct zd_page *pt);

/* memory.c: the mm's PGD (0 or -ENOMEM) and its end at exit (every table
 * freed); free_pgtables for [start, end) of an unmapped range, freeing
 * only tables that map nothing outside [floor, ceiling) (ceiling 0: the top
 * of the address space). mmap_lock held for writing. */
int zd_pgd_alloc(struct zd_mm *mm);
void zd_pgd_free(struct zd_mm *mm);
void zd_free_pgtables(struct zd_mm *mm, uint64_t start, uint64_t end, uint64_t floor,
		      uint64_t ceiling);

#endif
