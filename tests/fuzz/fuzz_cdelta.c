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
	fuzz_base_and_delta(data, size, "cache.bin", "cache.delta", check);
	return 0;
}
