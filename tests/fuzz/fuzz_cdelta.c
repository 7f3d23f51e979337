/* fuzz_cdelta.c: a workspace collection's cache.delta over its cache.bin: the input is u32 n,
 * n bytes of cache.bin, then the cache.delta (checksums made right, see fuzz_write_checked);
 * loading both (records and df table) must never crash. */
#include "../../lib/ws_internal.h"
#include "fuzz_common.h"

static void check(const char *path)
{
	(void)path;
	char cpath[128];
	snprintf(cpath, sizeof cpath, "%s/cache.bin", fuzz_dir());
	vz_ws_cache_check(cpath);
	vz_bm25 *m = NULL;
	if (vz_ws_cache_load_model(cpath, &m) == VZ_OK) {
		float v[4096];
		if (vz_bm25_dim(m) <= 4096) vz_bm25_embed_query(m, "restore a backup", 16, v);
		vz_bm25_free(m);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 4) return 0;
	uint32_t n = vz_load_u32(data);
	if (n > size - 4) n = (uint32_t)(size - 4);
	char path[128];
	snprintf(path, sizeof path, "%s/cache.bin", fuzz_dir());
	fuzz_write(path, data + 4, n);
	snprintf(path, sizeof path, "%s/cache.delta", fuzz_dir());
	fuzz_write_checked(path, data + 4 + n, size - 4 - n, check);
	return 0;
}
