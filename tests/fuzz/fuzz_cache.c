/* fuzz_cache.c: a workspace collection's cache.bin (BM25 model and per-file records). */
#include "../../lib/ws_internal.h"
#include "fuzz_common.h"

static void check(const char *path)
{
	vz_ws_cache_check(path);
	vz_bm25 *m = NULL;
	if (vz_ws_cache_load_model(path, &m) == VZ_OK) {
		float v[4096];
		if (vz_bm25_dim(m) <= 4096) vz_bm25_embed_query(m, "restore a backup", 16, v);
		vz_bm25_free(m);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[128];
	snprintf(path, sizeof path, "%s/cache.bin", fuzz_dir());
	fuzz_write_checked(path, data, size, check);
	return 0;
}
