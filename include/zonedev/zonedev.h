/*
 * Umbrella header of libzonedev: include this to get the whole public API.
 */
#ifndef ZONEDEV_H
#define ZONEDEV_H

#include <zonedev/err.h>
#include <zonedev/log.h>
#include <zonedev/arch.h>
#include <zonedev/pgtable.h>
#include <zonedev/ioport.h>
#include <zonedev/mm_types.h>
#include <zonedev/mmzone.h>
#include <zonedev/rcu.h>
#include <zonedev/machine.h>
#include <zonedev/mm.h>
#include <zonedev/pgalloc.h>
#include <zonedev/memory_hotplug.h>
#include <zonedev/memory.h>
#include <zonedev/gfp.h>
#include <zonedev/percpu-refcount.h>
#include <zonedev/completion.h>
#include <zonedev/fault-inject.h>
#include <zonedev/crash-inject.h>
#include <zonedev/device.h>
#include <zonedev/memremap.h>
#include <zonedev/nd_pfn.h>
#include <zonedev/nvdimm.h>
#include <zonedev/dax.h>
#include <zonedev/test_hmm.h>
#include <zonedev/pci.h>
#include <zonedev/swapops.h>
#include <zonedev/migrate.h>
#include <zonedev/mmu_notifier.h>
#include <zonedev/hmm.h>
#include <zonedev/genalloc.h>
#include <zonedev/scatterlist.h>
#include <zonedev/dma-mapping.h>
#include <zonedev/nvme.h>

/* The version these headers belong to; zd_version() is the library's. */
#define ZONEDEV_VERSION "0.1.0"

#ifdef __cplusplus
extern "C" {
#endif

/* The running library's version, "0.1.0": a program built against one
 * release can tell which shared library it got. */
const char *zd_version(void);

#ifdef __cplusplus
}
#endif

#endif
