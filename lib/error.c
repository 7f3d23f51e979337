/* error.c: error codes, their messages and exit codes, and the per-thread detail message. */
#include "vz.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char detail[1024];

const char *vz_strerror(int err)
{
	switch (err) {
	case VZ_OK: return "success";
	case VZ_EINVAL: return "invalid argument";
	case VZ_EDATA: return "bad input data";
	case VZ_ENOENT: return "not found";
	case VZ_EINTERNAL: return "internal error";
	case VZ_ENOMEM: return "out of memory";
	case VZ_EOS: return "operating system error";
	case VZ_EEXIST: return "already exists";
	case VZ_EIO: return "I/O error";
	case VZ_EBUSY: return "busy";
	case VZ_EPERM: return "not permitted";
	case VZ_ECONFIG: return "bad configuration";
	case VZ_ECORRUPT: return "damaged file";
	case VZ_ERANGE: return "size out of range";
	}
	return "unknown error";
}

const char *vz_last_error(void) { return detail; }

int vz_fail(int err, const char *fmt, ...)
{
	/* formatted aside first: an argument may be vz_last_error() itself */
	char text[sizeof detail];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	memcpy(detail, text, sizeof detail);
	return err;
}

int vz_fail_prefix(int err, const char *fmt, ...)
{
	char prefix[512], old[sizeof detail];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof prefix, fmt, ap);
	va_end(ap);
	memcpy(old, detail, sizeof old);
	snprintf(detail, sizeof detail, "%s%s", prefix, old);
	return err;
}

int vz_err_from_errno(int e)
{
	switch (e) {
	case EIO: case ENOSPC: case EDQUOT: case EROFS: case EFBIG: return VZ_EIO;
	case ENOENT: case ENOTDIR: return VZ_ENOENT;
	case EEXIST: case ENOTEMPTY: return VZ_EEXIST;
	case EACCES: case EPERM: case ELOOP: return VZ_EPERM;
	case ENOMEM: return VZ_ENOMEM;
	case EWOULDBLOCK: return VZ_EBUSY;
	}
	return VZ_EOS;
}

int vz_exit_code(int err)
{
	switch (err) {
	case VZ_OK: return VZ_EXIT_OK;
	case VZ_EINVAL: return VZ_EXIT_USAGE;
	case VZ_EDATA: case VZ_ECORRUPT: case VZ_ERANGE: return VZ_EXIT_DATAERR;
	case VZ_ENOENT: return VZ_EXIT_NOINPUT;
	case VZ_EINTERNAL: return VZ_EXIT_SOFTWARE;
	case VZ_ENOMEM: case VZ_EOS: return VZ_EXIT_OSERR;
	case VZ_EEXIST: return VZ_EXIT_CANTCREAT;
	case VZ_EIO: return VZ_EXIT_IOERR;
	case VZ_EBUSY: return VZ_EXIT_TEMPFAIL;
	case VZ_EPERM: return VZ_EXIT_NOPERM;
	case VZ_ECONFIG: return VZ_EXIT_CONFIG;
	}
	return VZ_EXIT_SOFTWARE;
}
