/*
 * A PCI topology (drivers/pci/probe.c, include/linux/pci.h) and the P2PDMA
 * distance and map-type computation over it (drivers/pci/p2pdma.c).
 * Host bridges own a root bus and a memory window in the machine's iomem
 * tree; root ports, switch ports and endpoint functions are struct
 * zd_pci_dev on buses below. 64-bit prefetchable BARs are placed inside the
 * host bridge's window; their bus address is the CPU address minus the
 * window's offset (pcibios_resource_to_bus).
 * Invariants: a device never moves or leaves its bus before the machine is
 * torn down, so upstream-bridge pointers stay valid without references; bus
 * numbers are unique within a domain; every BAR resource lies inside its
 * host bridge's window; a failed add changes nothing.
 */
#ifndef ZONEDEV_PCI_H
#define ZONEDEV_PCI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <zonedev/ioport.h>

#ifdef __cplusplus
extern "C" {
#endif

struct zd_machine;

#define ZD_PCI_STD_NUM_BARS 6
#define ZD_PCI_DEVFN(slot, func) ((((slot) & 0x1f) << 3) | ((func) & 0x07))
#define ZD_PCI_SLOT(devfn) (((devfn) >> 3) & 0x1f)
#define ZD_PCI_FUNC(devfn) ((devfn) & 0x07)

/* include/linux/ioport.h: BAR flags beyond the type bits. */
#define ZD_IORESOURCE_PREFETCH 0x00002000UL
#define ZD_IORESOURCE_MEM_64   0x00100000UL

/* include/uapi/linux/pci_regs.h: PCIe port types and the ACS control bits. */
enum zd_pcie_type {
	ZD_PCI_EXP_TYPE_ENDPOINT = 0x0,
	ZD_PCI_EXP_TYPE_ROOT_PORT = 0x4,
	ZD_PCI_EXP_TYPE_UPSTREAM = 0x5,
	ZD_PCI_EXP_TYPE_DOWNSTREAM = 0x6,
	ZD_PCI_EXP_TYPE_RC_END = 0x9,   /* our host-bridge device 00.0 */
};
#define ZD_PCI_ACS_SV 0x0001   /* source validation */
#define ZD_PCI_ACS_TB 0x0002   /* translation blocking */
#define ZD_PCI_ACS_RR 0x0004   /* P2P request redirect */
#define ZD_PCI_ACS_CR 0x0008   /* P2P completion redirect */
#define ZD_PCI_ACS_UF 0x0010   /* upstream forwarding */
#define ZD_PCI_ACS_EC 0x0020   /* P2P egress control */
#define ZD_PCI_ACS_DT 0x0040   /* direct translated P2P */

#define ZD_PCI_VENDOR_ID_INTEL  0x8086
#define ZD_PCI_VENDOR_ID_AMD    0x1022
#define ZD_PCI_VENDOR_ID_GOOGLE 0x1ae0

struct zd_pci_bus;
struct zd_pci_host_bridge;

struct zd_pci_p2pdma;
struct zd_iommu_domain;

struct zd_pci_dev {
	struct zd_pci_bus *bus;          /* the bus it sits on */
	struct zd_pci_bus *subordinate;  /* bridges: the bus behind it */
	struct zd_pci_dev *bus_next;     /* next device on bus, in devfn order */
	unsigned devfn;
	uint16_t vendor, device;
	enum zd_pcie_type pcie_type;
	char name[16];                   /* pci_name(): "DDDD:BB:SS.F" */
	/* ACS extended capability: acs_cap 0 means none (pdev->acs_cap). The
	 * control word and the egress vector are config space: written with
	 * zd_pci_set_acs(), read atomically by the distance code. */
	uint16_t acs_cap, acs_ctrl;
	uint32_t acs_egress;             /* egress control vector, one bit per port */
	bool acs_egress_unreadable;
	struct zd_resource *resource[ZD_PCI_STD_NUM_BARS];  /* NULL: BAR unused */
	struct zd_pci_p2pdma *p2pdma;    /* provider state (RCU; drivers/pci/p2pdma.c) */
	struct zd_iommu_domain *iommu_domain;  /* its DMA domain, made on first map */
	const struct zd_pci_driver *driver;    /* bound driver, or NULL */
	void *driver_data;                     /* pci_get_drvdata() */
};

/* A bound driver: remove() runs before the device goes (machine
 * teardown), as device_del() unbinds. */
struct zd_pci_driver {
	const char *name;
	void (*remove)(struct zd_pci_dev *dev);
};

struct zd_pci_bus {
	struct zd_pci_bus *parent;       /* NULL: a root bus */
	struct zd_pci_dev *self;         /* the bridge leading here; NULL on a root bus */
	struct zd_pci_host_bridge *host;
	struct zd_pci_dev *devices;      /* sorted by devfn */
	unsigned number;
};

struct zd_pci_host_bridge {
	struct zd_machine *m;
	struct zd_pci_host_bridge *next;
	int domain;
	struct zd_pci_bus *bus;          /* the root bus */
	struct zd_resource *window;      /* "PCI Bus DDDD:BB" in iomem */
	uint64_t mem_offset;             /* CPU address - bus address */
	bool iommu;                      /* DMA of devices below goes through an IOMMU */
	unsigned next_busnr;             /* the next subordinate bus number */
};

struct zd_pci_host_bridge_desc {
	int domain;                      /* -1: the next free one */
	phys_addr_t mem_start, mem_size; /* the MMIO window (CPU addresses) */
	uint64_t mem_offset;             /* CPU - bus address (0: identity) */
	/* The device at 00.0 on the root bus that the whitelist looks at
	 * (pci_host_bridge_dev); vendor 0: no such device, so the first root
	 * port answers for the host bridge. */
	uint16_t vendor, device;
	/* Devices below translate their DMA through an IOMMU (dma-iommu:
	 * IOVAs) instead of dma-direct (CPU physical addresses). */
	bool iommu;
};

/* Adds a host bridge with its root bus and claims its window in iomem;
 * ERR_PTR(-EINVAL) on a bad window or a used domain, -EBUSY if the window
 * overlaps a busy range. Torn down with the machine. */
struct zd_pci_host_bridge *zd_pci_host_bridge_add(struct zd_machine *m,
						  const struct zd_pci_host_bridge_desc *d);
/* One PCIe port with a fresh secondary bus, placed as an imported
 * topology needs: a root port on a root bus, a switch's upstream port
 * below a root or downstream port (slot 0: a link), a downstream port on a
 * switch's internal bus. slot -1 takes the next free one; secondary -1 the
 * next bus number, else that number (never below the next free one: bus
 * numbers grow depth first). ERR_PTR: -EINVAL (no such place, a slot past
 * 31 or a function past 7, a bus number out of order), -EBUSY (that slot
 * and function taken), -ENOSPC. */
struct zd_pci_port_desc {
	uint16_t vendor, device;
	int slot, secondary;       /* -1: the next free one */
	int fn;                    /* 0..7; another function needs its slot given */
};
struct zd_pci_dev *zd_pci_port_add(struct zd_pci_bus *bus, enum zd_pcie_type type,
				   const struct zd_pci_port_desc *d);
/* A root port on hb's root bus (next free slot) with a fresh secondary bus. */
struct zd_pci_dev *zd_pci_root_port_add(struct zd_pci_host_bridge *hb, uint16_t vendor,
					uint16_t device);
/* A switch below port: its upstream port on port's secondary bus, an
 * internal bus, and nr_down (1..32) downstream ports on it, each with a
 * secondary bus; downstream ports are returned in down[] (may be NULL).
 * Returns the upstream port. */
struct zd_pci_dev *zd_pci_switch_add(struct zd_pci_dev *port, uint16_t vendor, uint16_t device,
				     unsigned nr_down, struct zd_pci_dev **down);

struct zd_pci_endpoint_desc {
	uint16_t vendor, device;
	unsigned nr_functions;           /* 0 means 1; at most 8 */
	/* 64-bit prefetchable memory BARs: bar_size[i] != 0 uses BARs i and
	 * i+1 (i even), a power of two >= 4 KiB, naturally aligned in the
	 * host window. Every function gets the same BARs. */
	uint64_t bar_size[ZD_PCI_STD_NUM_BARS];
};
/* An endpoint device (all its functions) in the next free slot of port's
 * secondary bus; returns function 0 (the others: zd_pci_get_slot). */
struct zd_pci_dev *zd_pci_endpoint_add(struct zd_pci_dev *port,
				       const struct zd_pci_endpoint_desc *d);

/* Give dev an ACS capability (cap bits) and set its control word and
 * egress vector; -EINVAL for bits outside the capability. */
int zd_pci_set_acs(struct zd_pci_dev *dev, uint16_t cap, uint16_t ctrl, uint32_t egress);

/* pci_get_domain_bus_and_slot() without the reference. */
struct zd_pci_dev *zd_pci_get_slot(struct zd_machine *m, int domain, unsigned bus,
				   unsigned devfn);
/* pci_upstream_bridge(): the bridge above dev, NULL on a root bus. */
struct zd_pci_dev *zd_pci_upstream_bridge(const struct zd_pci_dev *dev);
struct zd_pci_host_bridge *zd_pci_find_host_bridge(const struct zd_pci_bus *bus);
static inline phys_addr_t zd_pci_resource_start(const struct zd_pci_dev *d, int bar)
{
	return d->resource[bar] ? d->resource[bar]->start : 0;
}
static inline phys_addr_t zd_pci_resource_len(const struct zd_pci_dev *d, int bar)
{
	return d->resource[bar] ? zd_resource_size(d->resource[bar]) : 0;
}
/* pci_bus_address(): the BAR's start as the bus sees it. */
uint64_t zd_pci_bus_address(const struct zd_pci_dev *d, int bar);

/* ---- P2PDMA distance (drivers/pci/p2pdma.c) ---- */

/* Values of the 2025+ enum (NONE added; v6.2 numbered from 1 without it). */
enum zd_pci_p2pdma_map_type {
	ZD_PCI_P2PDMA_MAP_UNKNOWN = 0,
	ZD_PCI_P2PDMA_MAP_NONE,
	ZD_PCI_P2PDMA_MAP_NOT_SUPPORTED,
	ZD_PCI_P2PDMA_MAP_BUS_ADDR,
	ZD_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE,
};
const char *zd_pci_p2pdma_map_type_name(enum zd_pci_p2pdma_map_type t);

/* Which kernel's rules: v6.x (any RR|CR|EC on the path redirects; GUP
 * refuses FOLL_LONGTERM with FOLL_PCI_P2PDMA, as mainline's is_valid_gup_args
 * still does in 6.12) or the newest tree's (the per-port ACS decision of
 * PCIe r7.0 §6.12.3, and the posted "mm/gup: allow FOLL_LONGTERM &
 * FOLL_PCI_P2PDMA": a long-term pin is allowed and only delays unbind). */
enum zd_p2pdma_era { ZD_P2PDMA_ERA_V6X, ZD_P2PDMA_ERA_NEW };
enum zd_p2pdma_era zd_pci_p2pdma_era(struct zd_machine *m);

/* Machine-wide P2PDMA settings: the era, the CPU that cpu_supports_p2pdma()
 * asks about (x86 vendor ID and family), and whether the host-bridge
 * whitelist is consulted at all (off: only the CPU rule allows routing
 * through host bridges; a test knob, the kernel has no such switch). */
void zd_pci_p2pdma_set_era(struct zd_machine *m, enum zd_p2pdma_era era);
void zd_pci_set_cpu(struct zd_machine *m, uint16_t vendor, unsigned family);
void zd_pci_p2pdma_set_whitelist(struct zd_machine *m, bool on);
/* CONFIG_PCI_P2PDMA (default y): off, every P2PDMA call answers as the
 * kernel's stubs do (add_resource -EOPNOTSUPP, distance -1, alloc and
 * find NULL, virt_to_bus 0, has_p2pmem false, map type NOT_SUPPORTED). */
void zd_pci_set_config_p2pdma(struct zd_machine *m, bool on);

/* ACS redirect decision of one port in the new era: 0 (no redirect), 1
 * (redirect) or -1 (not supported). */
int zd_pci_acs_p2pdma_decision(uint16_t ctrl, bool has_target, int egress_bit);

/* calc_map_type_and_dist(): the map type from provider to client and the
 * distance in *dist; verbose logs the kernel's warnings. */
enum zd_pci_p2pdma_map_type zd_pci_p2pdma_map_type_dist(struct zd_pci_dev *provider,
							struct zd_pci_dev *client, int *dist,
							bool verbose);
/* pci_p2pdma_distance_many(): summed distance, or -1 when a client is not
 * a PCI device (NULL entry), there are none, or any path is NOT_SUPPORTED. */
int zd_pci_p2pdma_distance_many(struct zd_pci_dev *provider, struct zd_pci_dev **clients,
				int num_clients, bool verbose);
static inline int zd_pci_p2pdma_distance(struct zd_pci_dev *provider, struct zd_pci_dev *client,
					 bool verbose)
{
	return zd_pci_p2pdma_distance_many(provider, &client, 1, verbose);
}

/* Every ordered pair of distinct endpoint functions (the first 256): the
 * distance and map type, computed as calc_map_type_and_dist() without
 * verbose (so an ACS detour past an unlisted host bridge still logs the
 * kernel's whitelist line). */
void zd_pci_p2pdma_show(struct zd_machine *m, FILE *f);

/* ---- P2PDMA providers (drivers/pci/p2pdma.c, spec devices.md 1.2-1.7) ---- */

/* pci_p2pdma_add_resource(): size bytes of BAR bar from offset (size 0:
 * the rest of the BAR) become p2pmem: one MEMORY_DEVICE_PCI_P2PDMA pgmap
 * and one pool chunk whose "phys" is the PCI bus address. -EINVAL (not a
 * memory BAR, offset or size past its end), -ENOMEM, memremap's errno. */
int zd_pci_p2pdma_add_resource(struct zd_pci_dev *pdev, int bar, size_t size, uint64_t offset);
/* pci_alloc_p2pmem()/pci_free_p2pmem(): size bytes of the provider's
 * memory (a host address: the bytes a peer DMAs are real), each holding a
 * reference on its pgmap; NULL without p2pmem or room, or once the
 * provider is going. Free with the same size. */
void *zd_pci_alloc_p2pmem(struct zd_pci_dev *pdev, size_t size);
void zd_pci_free_p2pmem(struct zd_pci_dev *pdev, void *addr, size_t size);
/* pci_p2pmem_virt_to_bus(): the bus address of an allocation, 0 if none. */
uint64_t zd_pci_p2pmem_virt_to_bus(struct zd_pci_dev *pdev, void *addr);
/* The struct page of an allocation's byte (virt_to_page()), or NULL. */
struct zd_page *zd_pci_p2pmem_virt_to_page(struct zd_pci_dev *pdev, void *addr);
/* pci_p2pmem_alloc_sgl()/_free_sgl(): a one-entry scatterlist over a
 * fresh allocation of length bytes (*nents = 1), NULL when alloc fails. */
struct zd_scatterlist;
struct zd_scatterlist *zd_pci_p2pmem_alloc_sgl(struct zd_pci_dev *pdev, unsigned *nents,
					       uint32_t length);
void zd_pci_p2pmem_free_sgl(struct zd_pci_dev *pdev, struct zd_scatterlist *sgl);
/* pci_p2pdma_map_type(): the provider's cached map type for client, or
 * calc_map_type_and_dist() (verbose) when none is cached; NOT_SUPPORTED
 * for a provider without p2pmem or no client. Every computation with a
 * provider that has p2pmem fills the cache, which is never invalidated
 * (as the kernel's: an ACS change shows only on a new provider). */
enum zd_pci_p2pdma_map_type zd_pci_p2pdma_map_type(struct zd_pci_dev *provider,
						   struct zd_pci_dev *client);
/* struct pci_p2pdma_map_state: what a mapping of one scatterlist learnt
 * about the last P2PDMA pgmap it met, so a run of segments from one
 * provider asks for the map type once. Zero it before the first segment. */
struct zd_pci_p2pdma_map_state {
	const void *pgmap;
	enum zd_pci_p2pdma_map_type map;
	int64_t bus_off;                 /* BUS_ADDR: bus address - CPU address */
};
/* pci_p2pdma_state(): for a P2PDMA page, the map type from its provider
 * to client (state->bus_off then holds the offset to add for BUS_ADDR);
 * MAP_NONE for any other page. */
enum zd_pci_p2pdma_map_type zd_pci_p2pdma_state(struct zd_pci_p2pdma_map_state *state,
						struct zd_machine *m, struct zd_page *page,
						struct zd_pci_dev *client);
/* The host bytes behind [bus, bus + len) of some provider's p2pmem (what a
 * peer reaches by that bus address), NULL if no provider has them. */
void *zd_pci_p2pdma_bus_to_virt(struct zd_machine *m, uint64_t bus, size_t len);
/* The same by CPU physical address (a BAR reached through the host bridge). */
void *zd_pci_p2pdma_phys_to_virt(struct zd_machine *m, uint64_t phys, size_t len);
/* pci_p2pmem_publish() / pci_has_p2pmem(). */
void zd_pci_p2pmem_publish(struct zd_pci_dev *pdev, bool publish);
bool zd_pci_has_p2pmem(struct zd_pci_dev *pdev);
/* pci_p2pmem_find_many(): the published provider closest to every client
 * (ties broken by the machine's seeded random choice), or NULL. */
struct zd_pci_dev *zd_pci_p2pmem_find_many(struct zd_machine *m, struct zd_pci_dev **clients,
					   int num_clients);
/* The p2pmem/ sysfs group: "size", "available", "published" into buf as
 * the kernel prints them; the length, -ENOENT without the group, -EINVAL
 * for another name. */
int zd_pci_p2pmem_attr(struct zd_pci_dev *pdev, const char *name, char *buf, size_t len);
/* The p2pmem/allocate sysfs file, opened (one reference, zd_fput): each
 * mmap of it (MAP_SHARED, offset 0) is a fresh allocation of the VMA's
 * length whose pages are vm_insert_page()d; -EINVAL for a private mapping
 * or another offset, -ENOMEM when the pool has no room, -ENODEV once the
 * provider is gone. ERR_PTR(-ENOENT) without the p2pmem group. */
struct zd_file;
struct zd_file *zd_pci_p2pmem_allocate_open(struct zd_pci_dev *pdev);
/* pci_p2pdma_release(): user mappings of the allocate file zapped,
 * unpublished and unreachable (RCU), then every pgmap torn down, which
 * waits for every allocation and every pinned page to be freed. */
void zd_pci_p2pdma_release(struct zd_pci_dev *pdev);

/* lspci -tv style tree of every domain. */
void zd_pci_dump_tree(struct zd_machine *m, FILE *f);
/* Every endpoint function's vendor, device, resource, driver and p2pmem/
 * sysfs attributes, as `grep .` over them prints (pci-sysfs.c). */
void zd_pci_sysfs_show(struct zd_machine *m, FILE *f);

/* internal to the machine layer: teardown. */
void zd_pci_fini(struct zd_machine *m);

#ifdef __cplusplus
}
#endif

#endif
