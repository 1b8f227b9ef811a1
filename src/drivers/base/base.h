/*
 * Declarations shared by the drivers/base files only (drivers/base/base.h).
 */
#ifndef ZD_DRIVERS_BASE_H
#define ZD_DRIVERS_BASE_H

#include <zonedev/device.h>

void zd_devres_release_all(struct zd_device *dev);

#endif
