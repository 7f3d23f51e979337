/* fuzz_vectors.c: vectors.bin: open (O(1) checks), every row accessor, lookups, full verify. */
#include "../../lib/internal.h"
#include "fuzz_common.h"

static void ignore(void *ctx, const char *file, int64_t off, const char *what)
{
	(void)ctx; (void)file; (void)off; (void)what;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[128];
	snprintf(path, sizeof path, "%s/vectors.bin", fuzz_dir());
	fuzz_write(path, data, size);
	/* the row count and dimension come from the file's own layout block, as a reader trusting
	 * metadata.json would pass them */
	uint64_t rows = size >= 80 ? vz_load_u64(data + 64) : 0;
	uint32_t dim = size >= 80 ? vz_load_u32(data + 72) : 1;
	enum vz_metric metric = size >= 80 ? (enum vz_metric)vz_load_u32(data + 76) : VZ_METRIC_COSINE;
	vz_vectors v;
	if (vz_vectors_open(path, rows, dim, metric, &v) != VZ_OK) return 0;
	for (uint64_t r = 0; r < v.rows && r < 1000; r++) {
		const char *id, *pl;
		size_t il, pll;
		unsigned f;
		if (vz_vectors_row(&v, r, &id, &il, &pl, &pll, &f) == VZ_OK) vz_vectors_find(&v, id, il);
	}
	vz_vectors_find(&v, "x", 1);
	vz_vectors_verify(&v, ignore, NULL);
	vz_vectors_close(&v);
	return 0;
}
