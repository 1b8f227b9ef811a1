/*
 * The CPU of the model (what arch/<arch>/mm/fault.c and the MMU do for a
 * user access): the MMU's lockless walk of the tables, setting accessed and
 * dirty as the hardware does, then real bytes to or from the page; on a
 * miss the arch fault handler's checks (access_error: "segfault at ...
 * error 4/6") and zd_handle_mm_fault().
 * Invariants: an access copies bytes only inside an RCU read section that
 * began before it read the entry, so pages a zap or migration takes away
 * (after a grace period) are never touched; a faulting access retries
 * until the fault resolves, as the kernel retries the instruction.
 */
#include "internal.h"
#include "base/rcu.h"

#include <errno.h>
#include <string.h>

#include <zonedev/log.h>
#include <zonedev/pgtable.h>

/*
 * The MMU's part of one access within a page: walk without locks, and if
 * the leaf allows it, set accessed (and dirty) as the hardware does and
 * copy the bytes, all inside an RCU read section so that a zap's page
 * (freed after a grace period) is still the one the entry named. false:
 * the access faults.
 */
static bool mmu_access(struct zd_mm *mm, uint64_t addr, void *buf, size_t len, bool write)
{
	struct zd_machine *m = mm->m;
	const struct zd_pgtable_ops *o = mm->m->arch.pgtable;
	enum zd_pt_level level;
	bool ok = false;
	unsigned idx = zd_rcu_read_lock(&m->rcu);
	uint64_t *slot;

	/* each try walks again: a huge leaf may have become a table (a THP
	 * split) since the last look, and a table is no leaf to set bits in */
	for (int tries = 0; tries < 8 && (slot = zd_lookup_slot(mm, addr, &level)); tries++) {
		zd_pte_t e = o->ptep_get(slot), set;
		unsigned prot, want = ZD_PTE_USER | (write ? ZD_PTE_WRITE : ZD_PTE_READ);
		uint64_t span = 1ULL << m->arch.pt[level].shift, pfn;

		if (level != ZD_PT_PTE && o->is_table(&m->arch, e))
			continue;
		if (!o->pte_present(&m->arch, e) || o->pte_protnone(&m->arch, e))
			break;
		prot = o->leaf_prot(&m->arch, e);
		if ((prot & want) != want)
			break;
		set = o->mk_leaf(&m->arch, level, o->leaf_pfn(&m->arch, level, e),
				 prot | ZD_PTE_YOUNG | (write ? ZD_PTE_DIRTY : 0));
		if (set.val != e.val && !o->ptep_cmpxchg(slot, &e, set))
			continue;   /* changed under us: look again */
		pfn = o->leaf_pfn(&m->arch, level, e) + ((addr & (span - 1)) >> m->arch.page_shift);
		char *p = (char *)zd_pfn_kaddr(m, pfn) + (addr & (m->arch.page_size - 1));
		if (write)
			memcpy(p, buf, len);
		else
			memcpy(buf, p, len);
		ok = true;
		break;
	}
	zd_rcu_read_unlock(&m->rcu, idx);
	return ok;
}

/* The arch fault handler's verdict (access_error, then the fault's). */
static int user_fault(struct zd_mm *mm, uint64_t addr, bool write)
{
	struct zd_vm_area_struct *vma;
	unsigned ret;
	int err = 0;

	zd_mmap_read_lock(mm);
	vma = zd_vma_lookup(mm, addr);
	if (!vma || !(vma->vm_flags & (write ? ZD_VM_WRITE : ZD_VM_READ | ZD_VM_WRITE))) {
		zd_pr_info(mm->m, "pid %d: segfault at %llx error %d (%s)", mm->pid,
			   (unsigned long long)addr, write ? 6 : 4,
			   vma ? "no access right" : "no mapping");
		zd_mmap_read_unlock(mm);
		return -EFAULT;
	}
	ret = zd_handle_mm_fault(vma, addr, ZD_FAULT_FLAG_USER | (write ? ZD_FAULT_FLAG_WRITE : 0));
	if (ret & ZD_VM_FAULT_OOM)
		err = -ENOMEM;
	else if (ret & ZD_VM_FAULT_HWPOISON)
		err = -EHWPOISON;
	else if (ret & ZD_VM_FAULT_SIGBUS)
		err = -EIO;
	else if (ret & ZD_VM_FAULT_SIGSEGV)
		err = -EFAULT;
	if (err)
		zd_pr_info(mm->m, "pid %d: %s at %llx (%s fault)", mm->pid,
			   err == -EFAULT ? "SIGSEGV" : err == -ENOMEM ? "out of memory" : "SIGBUS",
			   (unsigned long long)addr, write ? "write" : "read");
	zd_mmap_read_unlock(mm);
	return err;
}

int zd_access_vm(struct zd_mm *mm, uint64_t addr, void *buf, size_t len, bool write)
{
	const uint64_t psize = mm->m->arch.page_size;

	while (len) {
		size_t n = psize - (addr & (psize - 1));
		int tries = 0, err;

		if (n > len)
			n = len;
		while (!mmu_access(mm, addr, buf, n, write)) {
			/* The kernel retries a faulting access for as long as it
			 * takes (a page may be migrated again and again); only a
			 * fault that never makes progress is a bug. */
			if (++tries > ZD_FAULT_RETRY_LIMIT) {
				ZD_WARN(mm->m, true, "pid %d: fault at 0x%llx resolved nothing",
					mm->pid, (unsigned long long)addr);
				return -EFAULT;
			}
			err = user_fault(mm, addr, write);
			if (err)
				return err;
		}
		addr += n;
		buf = (char *)buf + n;
		len -= n;
	}
	return 0;
}
