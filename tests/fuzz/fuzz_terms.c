/* fuzz_terms.c: terms.bin, the document frequencies of a dynamic collection with an embedding. */
#include "../../lib/vz.h"
#include "fuzz_common.h"

static void check(const char *path)
{
	vz_bm25 *m = NULL;
	if (vz_bm25_load(path, &m) != VZ_OK) return;
	float v[4096];
	if (vz_bm25_dim(m) <= 4096) {
		vz_bm25_embed_query(m, "crash recovery of the log", 25, v);
		vz_bm25_add_document(m, "one more document", 17);
		vz_embed_text(m, "one more document", 17, v);
	}
	vz_bm25_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[128];
	snprintf(path, sizeof path, "%s/terms.bin", fuzz_dir());
	fuzz_write_checked(path, data, size, check);
	return 0;
}
