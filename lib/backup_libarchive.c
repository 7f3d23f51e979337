/* backup_libarchive.c: loads libarchive with dlopen when a backup is first read or written (see
 * backup_internal.h for why it is not linked). */
#define VZ_BK_LIBARCHIVE_LOADER
#include "backup_internal.h"

struct vz_bk_libarchive vz_bk_libarchive;
static pthread_once_t libarchive_once = PTHREAD_ONCE_INIT;

static void libarchive_open(void)
{
	void *h = dlopen("libarchive.so.13", RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(vz_bk_libarchive.error, sizeof vz_bk_libarchive.error, "%s", dlerror());
		return;
	}
#define VZ_ARCHIVE_SYMBOL(f) \
	if (!(*(void **)&vz_bk_libarchive.f = dlsym(h, #f))) { \
		snprintf(vz_bk_libarchive.error, sizeof vz_bk_libarchive.error, "libarchive.so.13 has no %s", #f); \
		return; \
	}
	VZ_ARCHIVE_FUNCS(VZ_ARCHIVE_SYMBOL)
#undef VZ_ARCHIVE_SYMBOL
	vz_bk_libarchive.loaded = true;
}

/* VZ_OK once libarchive is loaded, else VZ_EOS naming why (the package libarchive13 missing). */
int vz_bk_libarchive_load(void)
{
	pthread_once(&libarchive_once, libarchive_open);
	return vz_bk_libarchive.loaded ? VZ_OK : vz_fail(VZ_EOS, "backups need libarchive (Debian package libarchive13): %s", vz_bk_libarchive.error);
}
