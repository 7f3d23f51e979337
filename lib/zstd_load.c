/* zstd_load.c: loads libzstd with dlopen when a .zst input or a backup is first read or
 * written (see zstd_load.h for why it is not linked). */
#define VZ_ZSTD_LOADER
#include "zstd_load.h"
#include "vz.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

struct vz_zstd vz_zstd;
static pthread_once_t zstd_once = PTHREAD_ONCE_INIT;

static void zstd_open(void)
{
	void *h = dlopen("libzstd.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(vz_zstd.error, sizeof vz_zstd.error, "%s", dlerror());
		return;
	}
#define VZ_ZSTD_SYMBOL(f) \
	if (!(*(void **)&vz_zstd.f = dlsym(h, #f))) { \
		snprintf(vz_zstd.error, sizeof vz_zstd.error, "libzstd.so.1 has no %s", #f); \
		return; \
	}
	VZ_ZSTD_FUNCS(VZ_ZSTD_SYMBOL)
#undef VZ_ZSTD_SYMBOL
	vz_zstd.loaded = true;
}

int vz_zstd_load(void)
{
	pthread_once(&zstd_once, zstd_open);
	return vz_zstd.loaded ? VZ_OK : vz_fail(VZ_EOS, "zstd needs libzstd (Debian package libzstd1): %s", vz_zstd.error);
}
