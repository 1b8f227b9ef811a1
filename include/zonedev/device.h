/*
 * A minimal device model (drivers/base): devices on a machine, a driver
 * bound to at most one device at a time, and device-managed resources
 * (devres) released in reverse order of acquisition on unbind.
 * Invariants: probe failure releases whatever probe acquired; unbind runs
 * the driver's remove, then every devres action newest-first; a device is
 * destroyed only after it is unbound.
 */
#ifndef ZONEDEV_DEVICE_H
#define ZONEDEV_DEVICE_H

#include <pthread.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct zd_machine;
struct zd_device;
struct zd_devres;

struct zd_device_driver {
	const char *name;
	int (*probe)(struct zd_device *dev);
	void (*remove)(struct zd_device *dev);
};

struct zd_device {
	struct zd_machine *machine;
	char name[64];
	int numa_node;
	const struct zd_device_driver *driver;
	void *driver_data;
	void *platform_data;         /* what the machine description gave the device */
	void (*release)(struct zd_device *dev);  /* runs when the device goes (optional) */
	pthread_mutex_t devres_lock;
	struct zd_devres *devres;    /* newest first */
	struct zd_device *next;      /* machine's device list */
};

/* A named device on m (ERR_PTR on failure); listed by the machine. */
struct zd_device *zd_device_register(struct zd_machine *m, const char *name, int numa_node);
/* Unbinds if bound, unlinks, runs dev->release and frees. */
void zd_device_unregister(struct zd_device *dev);
struct zd_device *zd_device_find(struct zd_machine *m, const char *name);
static inline const char *zd_dev_name(const struct zd_device *dev) { return dev->name; }
static inline int zd_dev_to_node(const struct zd_device *dev) { return dev->numa_node; }

/* Probe dev with drv: -EBUSY if a driver is bound; probe's error otherwise. */
int zd_device_bind(struct zd_device *dev, const struct zd_device_driver *drv);
/* remove(), then devres release newest-first. May block (e.g. waiting for
 * page references to drain); logs while it waits. */
void zd_device_release_driver(struct zd_device *dev);

/* devres */
int zd_devm_add_action(struct zd_device *dev, void (*action)(void *), void *data);
/* On failure runs action(data) at once and returns the error. */
int zd_devm_add_action_or_reset(struct zd_device *dev, void (*action)(void *), void *data);
/* Runs and removes the matching action now; -ENOENT if none. */
int zd_devm_release_action(struct zd_device *dev, void (*action)(void *), void *data);
void *zd_devm_kzalloc(struct zd_device *dev, size_t size);
/* Number of devres entries held (tests). */
size_t zd_devres_count(struct zd_device *dev);

#ifdef __cplusplus
}
#endif

#endif
