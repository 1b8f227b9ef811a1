/*
 * /proc/PID/maps (fs/proc/task_mmu.c): one line per VMA as
 * show_map_vma() prints it: start-end, rwx and s/p, the file offset,
 * dev major:minor, inode, then (padded to column 73) the name: the file's
 * path, else the owner's vm_ops->name. Anonymous memory has no name.
 * Invariants: read under mmap_read_lock, so the lines are one snapshot;
 * the format is the kernel's byte for byte (lower-case hex, at least 8
 * digits, the space after the inode even when no name follows).
 */
#include <string.h>

#include <zonedev/machine.h>
#include <zonedev/mm.h>

/* seq_setwidth(m, 25 + sizeof(void *) * 6 - 1) on a 64-bit kernel. */
#define MAPS_NAME_COLUMN 72

void zd_show_maps(struct zd_mm *mm, FILE *f)
{
	zd_mmap_read_lock(mm);
	for (size_t i = 0; i < mm->map_count; i++) {
		struct zd_vm_area_struct *vma = mm->vmas[i];
		const struct zd_file *file = vma->vm_file;
		const char *name = file ? file->path : NULL;
		uint64_t flags = vma->vm_flags;
		char line[160];
		int n;

		if (!name && vma->vm_ops && vma->vm_ops->name)
			name = vma->vm_ops->name(vma);
		n = snprintf(line, sizeof(line), "%08llx-%08llx %c%c%c%c %08llx %02x:%02x %llu ",
			     (unsigned long long)vma->vm_start, (unsigned long long)vma->vm_end,
			     flags & ZD_VM_READ ? 'r' : '-', flags & ZD_VM_WRITE ? 'w' : '-',
			     flags & ZD_VM_EXEC ? 'x' : '-', flags & ZD_VM_MAYSHARE ? 's' : 'p',
			     file ? (unsigned long long)vma->vm_pgoff << mm->m->arch.page_shift : 0ULL,
			     file ? file->dev_major : 0, file ? file->dev_minor : 0,
			     file ? (unsigned long long)file->ino : 0ULL);
		fputs(line, f);
		if (name) {
			/* seq_pad(): spaces up to the column, then one more */
			fprintf(f, "%*s %s", n < MAPS_NAME_COLUMN ? MAPS_NAME_COLUMN - n : 0, "",
				name);
		}
		fputc('\n', f);
	}
	zd_mmap_read_unlock(mm);
}
