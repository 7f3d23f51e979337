/* fuzz_index.c: index.hnsw: open, search (over stand-in vectors), verify, and growing it. */
#include "../../lib/vz.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 80) return 0;
	uint64_t n = vz_load_u64(data + 64);
	uint32_t dim = vz_load_u32(data + 72);
	enum vz_metric metric = (enum vz_metric)vz_load_u32(data + 76);
	if (n > 4096 || dim == 0 || dim > 64) return 0;
	vz_hnsw_index idx;
	if (vz_hnsw_open(data, size, dim, metric, n, &idx) != VZ_OK) return 0;
	float *vecs = calloc((size_t)(n + 1) * dim, sizeof(float)), *q = calloc(dim, sizeof(float));
	for (size_t i = 0; i < (size_t)n * dim; i++) vecs[i] = (float)(i % 7) - 3.0f;
	vz_hit hits[8];
	size_t nh;
	vz_hnsw_search(&idx, vecs, q, 8, 16, NULL, NULL, hits, &nh);
	vz_hnsw_verify(&idx);
	vz_hnsw_builder *b;
	if (vz_hnsw_builder_from_index(&idx, vecs, n + 1, &b) == VZ_OK) vz_hnsw_builder_free(b);
	free(vecs);
	free(q);
	return 0;
}
