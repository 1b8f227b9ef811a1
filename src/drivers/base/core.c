/*
 * Devices and driver binding (drivers/base/core.c, dd.c): registration on
 * the machine, probe and release. Binding state changes under the device's
 * devres lock; the machine's device list under m->device_lock.
 */
#include <zonedev/device.h>
#include <zonedev/err.h>
#include <zonedev/machine.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/base/base.h"

struct zd_device *zd_device_register(struct zd_machine *m, const char *name, int numa_node)
{
	struct zd_device *dev;

	if (!name || !*name || strlen(name) >= sizeof(dev->name)) {
		zd_pr_err(m, "device: invalid name \"%s\"", name ? name : "(null)");
		return ZD_ERR_PTR(-EINVAL);
	}
	if (numa_node < -1 || numa_node >= m->nr_nodes) {
		zd_pr_err(m, "device %s: node %d does not exist", name, numa_node);
		return ZD_ERR_PTR(-EINVAL);
	}
	pthread_mutex_lock(&m->device_lock);
	for (dev = m->devices; dev; dev = dev->next)
		if (!strcmp(dev->name, name))
			break;
	if (dev) {
		pthread_mutex_unlock(&m->device_lock);
		zd_pr_err(m, "device: %s already exists", name);
		return ZD_ERR_PTR(-EEXIST);
	}
	dev = calloc(1, sizeof(*dev));
	if (dev) {
		dev->machine = m;
		snprintf(dev->name, sizeof(dev->name), "%s", name);
		dev->numa_node = numa_node;
		pthread_mutex_init(&dev->devres_lock, NULL);
		dev->next = m->devices;
		m->devices = dev;
	}
	pthread_mutex_unlock(&m->device_lock);
	return dev ? dev : ZD_ERR_PTR(-ENOMEM);
}

struct zd_device *zd_device_find(struct zd_machine *m, const char *name)
{
	struct zd_device *dev;

	pthread_mutex_lock(&m->device_lock);
	for (dev = m->devices; dev && strcmp(dev->name, name); dev = dev->next)
		;
	pthread_mutex_unlock(&m->device_lock);
	return dev;
}

int zd_device_bind(struct zd_device *dev, const struct zd_device_driver *drv)
{
	int rc;

	pthread_mutex_lock(&dev->devres_lock);
	if (dev->driver) {
		pthread_mutex_unlock(&dev->devres_lock);
		zd_pr_err(dev->machine, "%s: already bound to %s", dev->name, dev->driver->name);
		return -EBUSY;
	}
	dev->driver = drv;
	pthread_mutex_unlock(&dev->devres_lock);
	rc = drv->probe ? drv->probe(dev) : 0;
	if (rc) {
		zd_pr_err(dev->machine, "%s: probe with driver %s failed with error %d (%s)",
			  dev->name, drv->name, rc, zd_errno_name(rc) ? zd_errno_name(rc) : "?");
		zd_devres_release_all(dev);
		pthread_mutex_lock(&dev->devres_lock);
		dev->driver = NULL;
		pthread_mutex_unlock(&dev->devres_lock);
	}
	return rc;
}

void zd_device_release_driver(struct zd_device *dev)
{
	const struct zd_device_driver *drv;

	pthread_mutex_lock(&dev->devres_lock);
	drv = dev->driver;
	pthread_mutex_unlock(&dev->devres_lock);
	if (!drv)
		return;
	if (drv->remove)
		drv->remove(dev);
	zd_devres_release_all(dev);
	pthread_mutex_lock(&dev->devres_lock);
	dev->driver = NULL;
	dev->driver_data = NULL;
	pthread_mutex_unlock(&dev->devres_lock);
}

void zd_device_unregister(struct zd_device *dev)
{
	struct zd_machine *m;
	struct zd_device **pp;

	if (ZD_IS_ERR_OR_NULL(dev))
		return;
	m = dev->machine;
	zd_device_release_driver(dev);
	/* Resources a device holds without a driver go with the device. */
	zd_devres_release_all(dev);
	pthread_mutex_lock(&m->device_lock);
	for (pp = &m->devices; *pp && *pp != dev; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = dev->next;
	pthread_mutex_unlock(&m->device_lock);
	if (dev->release)
		dev->release(dev);
	pthread_mutex_destroy(&dev->devres_lock);
	free(dev);
}
