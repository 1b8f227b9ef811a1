/*
 * Errno names for messages and for scenario files ("expect_error: EBUSY").
 * The table holds the names zonedev can return or a scenario may expect.
 */
#include <zonedev/err.h>
#include <string.h>
#include <strings.h>

static const struct { int err; const char *name; } names[] = {
	{ EPERM, "EPERM" }, { ENOENT, "ENOENT" }, { EINTR, "EINTR" }, { EIO, "EIO" },
	{ ENXIO, "ENXIO" }, { E2BIG, "E2BIG" }, { EBADF, "EBADF" }, { EAGAIN, "EAGAIN" },
	{ ENOMEM, "ENOMEM" }, { EACCES, "EACCES" }, { EFAULT, "EFAULT" }, { EBUSY, "EBUSY" },
	{ EEXIST, "EEXIST" }, { ENODEV, "ENODEV" }, { EINVAL, "EINVAL" }, { ENOSPC, "ENOSPC" },
	{ EROFS, "EROFS" }, { ERANGE, "ERANGE" }, { EDOM, "EDOM" }, { ENOSYS, "ENOSYS" },
	{ ENOTSUP, "EOPNOTSUPP" }, { EOVERFLOW, "EOVERFLOW" }, { ETIMEDOUT, "ETIMEDOUT" },
	{ EHWPOISON, "EHWPOISON" }, { EREMOTEIO, "EREMOTEIO" }, { ESRCH, "ESRCH" },
	{ ENOTTY, "ENOTTY" }, { EFBIG, "EFBIG" }, { ECANCELED, "ECANCELED" },
	{ EDQUOT, "EDQUOT" }, { EISDIR, "EISDIR" },
};

const char *zd_errno_name(int err)
{
	if (err < 0)
		err = -err;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].err == err)
			return names[i].name;
	return NULL;
}

int zd_errno_from_name(const char *name)
{
	if (!strcasecmp(name, "ENOTSUP"))
		return ENOTSUP;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcasecmp(names[i].name, name))
			return names[i].err;
	return 0;
}
