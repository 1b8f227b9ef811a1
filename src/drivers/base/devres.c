/*
 * Device-managed resources (drivers/base/devres.c): actions and memory tied
 * to a device's binding, released newest-first when the driver goes away.
 * Invariant: each entry is released exactly once; release runs without the
 * devres lock held, so an action may block or take other locks.
 */
#include <zonedev/device.h>
#include <zonedev/err.h>
#include <zonedev/machine.h>
#include <stdlib.h>

#include "drivers/base/base.h"

struct zd_devres {
	struct zd_devres *next;
	void (*action)(void *);
	void *data;
	/* devm_kzalloc memory follows the header */
	_Alignas(16) unsigned char mem[];
};

static void devres_add(struct zd_device *dev, struct zd_devres *dr)
{
	pthread_mutex_lock(&dev->devres_lock);
	dr->next = dev->devres;
	dev->devres = dr;
	pthread_mutex_unlock(&dev->devres_lock);
}

int zd_devm_add_action(struct zd_device *dev, void (*action)(void *), void *data)
{
	struct zd_devres *dr = calloc(1, sizeof(*dr));

	if (!dr)
		return -ENOMEM;
	dr->action = action;
	dr->data = data;
	devres_add(dev, dr);
	return 0;
}

int zd_devm_add_action_or_reset(struct zd_device *dev, void (*action)(void *), void *data)
{
	int rc = zd_devm_add_action(dev, action, data);

	if (rc)
		action(data);
	return rc;
}

int zd_devm_release_action(struct zd_device *dev, void (*action)(void *), void *data)
{
	struct zd_devres **pp, *dr = NULL;

	pthread_mutex_lock(&dev->devres_lock);
	for (pp = &dev->devres; *pp; pp = &(*pp)->next)
		if ((*pp)->action == action && (*pp)->data == data) {
			dr = *pp;
			*pp = dr->next;
			break;
		}
	pthread_mutex_unlock(&dev->devres_lock);
	if (!dr) {
		ZD_WARN(dev->machine, true, "%s: no devres action to release", dev->name);
		return -ENOENT;
	}
	dr->action(dr->data);
	free(dr);
	return 0;
}

void *zd_devm_kzalloc(struct zd_device *dev, size_t size)
{
	struct zd_devres *dr = calloc(1, sizeof(*dr) + size);

	if (!dr)
		return NULL;
	devres_add(dev, dr);
	return dr->mem;
}

void zd_devres_release_all(struct zd_device *dev)
{
	for (;;) {
		struct zd_devres *dr;

		pthread_mutex_lock(&dev->devres_lock);
		dr = dev->devres;
		if (dr)
			dev->devres = dr->next;
		pthread_mutex_unlock(&dev->devres_lock);
		if (!dr)
			return;
		if (dr->action)
			dr->action(dr->data);
		free(dr);
	}
}

size_t zd_devres_count(struct zd_device *dev)
{
	size_t n = 0;

	pthread_mutex_lock(&dev->devres_lock);
	for (struct zd_devres *dr = dev->devres; dr; dr = dr->next)
		n++;
	pthread_mutex_unlock(&dev->devres_lock);
	return n;
}
