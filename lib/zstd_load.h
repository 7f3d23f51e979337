/* zstd_load.h: libzstd's functions through pointers that lib/zstd_load.c fills with dlopen when
 * a .zst input or a backup is first read or written, as libarchive's are (backup_internal.h):
 * linked, loading libzstd.so.1 cost every vz process, a one-shot query included, about 0.1 ms
 * at start (1M and 10M x 128 one-shot queries: some 4% of the process). Include it after
 * <zstd.h>; the calls below go through the pointers once vz_zstd_load() said VZ_OK. */
#ifndef VZ_ZSTD_LOAD_H
#define VZ_ZSTD_LOAD_H

#include <stdbool.h>
#include <zstd.h>

#define VZ_ZSTD_FUNCS(X) X(ZSTD_CCtx_setParameter) X(ZSTD_DStreamInSize) X(ZSTD_DStreamOutSize) X(ZSTD_compressStream2) X(ZSTD_createCCtx) X(ZSTD_createDCtx) X(ZSTD_createDStream) X(ZSTD_decompressStream) X(ZSTD_freeCCtx) X(ZSTD_freeDCtx) X(ZSTD_freeDStream) X(ZSTD_getErrorName) X(ZSTD_isError) X(ZSTD_maxCLevel)
struct vz_zstd {
#define VZ_ZSTD_POINTER(f) __typeof__(f) *f;
	VZ_ZSTD_FUNCS(VZ_ZSTD_POINTER)
#undef VZ_ZSTD_POINTER
	bool loaded;
	char error[200];
};
extern struct vz_zstd vz_zstd;

/* VZ_OK once libzstd is loaded (any thread, any number of times), else VZ_EOS naming why (the
 * package libzstd1 missing, or a library of that name without one of the functions). */
int vz_zstd_load(void);

/* lib/zstd_load.c fills the pointers: it defines VZ_ZSTD_LOADER */
#ifndef VZ_ZSTD_LOADER
#define ZSTD_CCtx_setParameter (vz_zstd.ZSTD_CCtx_setParameter)
#define ZSTD_DStreamInSize (vz_zstd.ZSTD_DStreamInSize)
#define ZSTD_DStreamOutSize (vz_zstd.ZSTD_DStreamOutSize)
#define ZSTD_compressStream2 (vz_zstd.ZSTD_compressStream2)
#define ZSTD_createCCtx (vz_zstd.ZSTD_createCCtx)
#define ZSTD_createDCtx (vz_zstd.ZSTD_createDCtx)
#define ZSTD_createDStream (vz_zstd.ZSTD_createDStream)
#define ZSTD_decompressStream (vz_zstd.ZSTD_decompressStream)
#define ZSTD_freeCCtx (vz_zstd.ZSTD_freeCCtx)
#define ZSTD_freeDCtx (vz_zstd.ZSTD_freeDCtx)
#define ZSTD_freeDStream (vz_zstd.ZSTD_freeDStream)
#define ZSTD_getErrorName (vz_zstd.ZSTD_getErrorName)
#define ZSTD_isError (vz_zstd.ZSTD_isError)
#define ZSTD_maxCLevel (vz_zstd.ZSTD_maxCLevel)
#endif

#endif
