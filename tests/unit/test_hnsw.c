/* test_hnsw.c: recall on real SIFT data against exact ground truth, every metric against brute
 * force, skip(), multi-threaded and incremental builds, reproducible single-thread builds, sq8,
 * every SIMD kernel against scalar, and damaged indexes refused without a crash. */
#include "t.h"

#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Loads rows [from, to) of the SIFT-5k TSV (128 ints and a trailing id per line). */
static float *load_sift(int from, int to)
{
	const char *root = getenv("VZ_ROOT");
	char path[4096];
	snprintf(path, sizeof path, "%s/tests/fixtures/sift5k/sift-dataset-5k.tsv", root ? root : ".");
	FILE *f = fopen(path, "r");
	if (!f) t_fail(__FILE__, __LINE__, "cannot open %s (set VZ_ROOT to the checkout)", path);
	float *v = malloc(sizeof(float) * 128 * (size_t)(to - from));
	char line[8192];
	int row = 0;
	while (fgets(line, sizeof line, f) && row < to) {
		if (row >= from) {
			char *p = line;
			for (int d = 0; d < 128; d++) v[(size_t)(row - from) * 128 + d] = strtof(p, &p);
		}
		row++;
	}
	fclose(f);
	if (row < to) t_fail(__FILE__, __LINE__, "only %d SIFT rows", row);
	return v;
}

static vz_hnsw_builder *build(const float *v, size_t n, uint32_t dim, enum vz_metric m, int threads, bool sq8)
{
	vz_hnsw_params p = { .m = 16, .ef_construction = 200, .seed = 42, .sq8 = sq8 };
	vz_hnsw_builder *b;
	CHECK_OK(vz_hnsw_builder_new(dim, m, &p, v, n, &b));
	CHECK_OK(vz_hnsw_builder_add(b, 0, n, threads));
	return b;
}

/* The quantizer's ranges and codes (vz_sq8_*) of rows: lo/step of dim floats, codes n * dim. */
static void quantize(const float *v, size_t n, uint32_t dim, float *lo, float *step, uint8_t *codes)
{
	float *hi = malloc(sizeof(float) * dim);
	vz_sq8_range_start(lo, hi, dim);
	for (size_t i = 0; i < n; i++) vz_sq8_range_add(lo, hi, v + i * dim, dim);
	vz_sq8_range_finish(lo, hi, step, dim);
	for (size_t i = 0; i < n; i++) vz_sq8_encode(v + i * dim, lo, step, dim, codes + i * dim);
	free(hi);
}

static vz_hnsw_builder *build_on_codes(const float *lo, const float *step, const uint8_t *codes, size_t n, uint32_t dim,
				       enum vz_metric m, int threads)
{
	vz_hnsw_params p = { .m = 16, .ef_construction = 200, .seed = 42, .sq8 = true };
	vz_hnsw_builder *b;
	CHECK_OK(vz_hnsw_builder_new(dim, m, &p, NULL, n, &b));
	CHECK_OK(vz_hnsw_builder_use_codes(b, lo, step, codes, NULL, NULL));
	CHECK_OK(vz_hnsw_builder_add(b, 0, n, threads));
	return b;
}

/* Writes the builder to path and maps it. */
static void write_and_open(vz_hnsw_builder *b, const char *path, vz_map *map, vz_hnsw_index *idx, size_t n, uint32_t dim, enum vz_metric m)
{
	vz_tmpfile t;
	CHECK_OK(vz_tmpfile_open(&t, path));
	CHECK_OK(vz_hnsw_builder_write(b, &t, NULL, 1));
	CHECK_OK(vz_tmpfile_commit(&t));
	CHECK_OK(vz_map_file(path, map));
	CHECK_OK(vz_hnsw_open(map->data, map->size, dim, m, n, idx));
	CHECK_OK(vz_hnsw_verify(idx));
}

static double recall(const vz_hnsw_index *idx, const float *base, size_t n, const float *q, size_t nq, uint32_t dim, enum vz_metric m,
		     size_t ef, bool (*skip)(void *, uint32_t))
{
	size_t hit = 0, total = 0;
	vz_hit got[10], want[10];
	for (size_t i = 0; i < nq; i++) {
		size_t ng, nw;
		CHECK_OK(vz_hnsw_search(idx, base, q + i * dim, 10, ef, skip, NULL, got, &ng));
		CHECK_OK(vz_exact_search(base, n, dim, m, q + i * dim, 10, skip, NULL, want, &nw));
		for (size_t a = 0; a < nw; a++)
			for (size_t b = 0; b < ng; b++)
				if (want[a].row == got[b].row) { hit++; break; }
		total += nw;
		for (size_t b = 1; b < ng; b++) CHECK(got[b - 1].distance <= got[b].distance);
	}
	return (double)hit / (double)total;
}

TEST(sift_recall_at_ef_128_is_at_least_0_99)
{
	float *base = load_sift(0, 4500), *q = load_sift(4500, 5000);
	vz_hnsw_builder *b = build(base, 4500, 128, VZ_METRIC_EUCLIDEAN, 1, false);
	vz_map map;
	vz_hnsw_index idx;
	write_and_open(b, "index.hnsw", &map, &idx, 4500, 128, VZ_METRIC_EUCLIDEAN);
	double r = recall(&idx, base, 4500, q, 500, 128, VZ_METRIC_EUCLIDEAN, 128, NULL);
	if (r < 0.99) t_fail(__FILE__, __LINE__, "recall@10 at ef=128 is %.4f", r);
	vz_hnsw_builder_free(b);
	vz_unmap(&map);
}

static void random_vectors(float *v, size_t n, uint32_t dim, unsigned seed, bool unit)
{
	srand(seed);
	for (size_t i = 0; i < n; i++) {
		for (uint32_t d = 0; d < dim; d++) v[i * dim + d] = (float)rand() / RAND_MAX - 0.5f + (float)((i * 7 + d) % 5) * 0.1f;
		if (unit) vz_normalize(v + i * dim, dim);
	}
}

/* every metric, with the graph built on the floats and (sq8) on their codes */
TEST(every_metric_against_brute_force)
{
	enum vz_metric ms[] = { VZ_METRIC_COSINE, VZ_METRIC_EUCLIDEAN, VZ_METRIC_DOT };
	const size_t n = 3000, nq = 100;
	const uint32_t dim = 33; /* odd: the SIMD kernels' tails */
	float *v = malloc(sizeof(float) * n * dim), *q = malloc(sizeof(float) * nq * dim), lo[33], step[33];
	uint8_t *codes = malloc(n * dim);
	for (int i = 0; i < 6; i++) {
		enum vz_metric m = ms[i % 3];
		bool on_codes = i >= 3;
		random_vectors(v, n, dim, 1 + i % 3, m == VZ_METRIC_COSINE);
		random_vectors(q, nq, dim, 100 + i % 3, m == VZ_METRIC_COSINE);
		if (on_codes) quantize(v, n, dim, lo, step, codes);
		vz_hnsw_builder *b = on_codes ? build_on_codes(lo, step, codes, n, dim, m, 2) : build(v, n, dim, m, 2, false);
		vz_map map;
		vz_hnsw_index idx;
		write_and_open(b, "index.hnsw", &map, &idx, n, dim, m);
		double r = recall(&idx, v, n, q, nq, dim, m, 200, NULL);
		if (r < 0.95) t_fail(__FILE__, __LINE__, "%s%s: recall@10 at ef=200 is %.4f", vz_metric_name(m), on_codes ? " on codes" : "", r);
		vz_hnsw_builder_free(b);
		vz_unmap(&map);
		unlink("index.hnsw");
	}
	free(v);
	free(q);
	free(codes);
}

static bool skip_odd(void *ctx, uint32_t row)
{
	(void)ctx;
	return row % 2 == 1;
}

TEST(skipped_rows_are_never_returned)
{
	const size_t n = 2000;
	float *v = malloc(sizeof(float) * n * 16);
	random_vectors(v, n, 16, 5, false);
	vz_hnsw_builder *b = build(v, n, 16, VZ_METRIC_EUCLIDEAN, 1, false);
	vz_map map;
	vz_hnsw_index idx;
	write_and_open(b, "index.hnsw", &map, &idx, n, 16, VZ_METRIC_EUCLIDEAN);
	vz_hit got[10];
	size_t ng;
	for (size_t i = 0; i < 50; i++) {
		CHECK_OK(vz_hnsw_search(&idx, v, v + (2 * i + 1) * 16, 10, 64, skip_odd, NULL, got, &ng));
		CHECK_INT(ng, 10);
		for (size_t j = 0; j < ng; j++) CHECK(got[j].row % 2 == 0);
	}
	CHECK(recall(&idx, v, n, v + 16, 50, 16, VZ_METRIC_EUCLIDEAN, 100, skip_odd) >= 0.95);
	vz_hnsw_builder_free(b);
	vz_unmap(&map);
	free(v);
}

/* on floats, on floats with sq8 codes, and on the codes alone */
TEST(single_thread_builds_are_byte_identical)
{
	float *base = load_sift(0, 2000), lo[128], step[128];
	uint8_t *codes = malloc(2000 * 128);
	quantize(base, 2000, 128, lo, step, codes);
	for (int sq = 0; sq < 3; sq++) {
		vz_hnsw_builder *a = sq == 2 ? build_on_codes(lo, step, codes, 2000, 128, VZ_METRIC_EUCLIDEAN, 1)
					     : build(base, 2000, 128, VZ_METRIC_EUCLIDEAN, 1, sq);
		vz_hnsw_builder *b = sq == 2 ? build_on_codes(lo, step, codes, 2000, 128, VZ_METRIC_EUCLIDEAN, 1)
					     : build(base, 2000, 128, VZ_METRIC_EUCLIDEAN, 1, sq);
		vz_map ma, mb;
		vz_hnsw_index ia, ib;
		write_and_open(a, "a.hnsw", &ma, &ia, 2000, 128, VZ_METRIC_EUCLIDEAN);
		write_and_open(b, "b.hnsw", &mb, &ib, 2000, 128, VZ_METRIC_EUCLIDEAN);
		CHECK(ma.size == mb.size && memcmp(ma.data, mb.data, ma.size) == 0);
		vz_unmap(&ma);
		vz_unmap(&mb);
		vz_hnsw_builder_free(a);
		vz_hnsw_builder_free(b);
	}
	free(codes);
	free(base);
}

/* 4500 x 128 floats (2.3 MB) pass the 2 MiB past which a float graph is searched on sq8 codes
 * while it is built (hnsw_build.c): the index written is still a float one (no sq8 section),
 * as good at ef 64 and 128, and reproducible on one thread; the 2000-row build above is not. */
TEST(float_build_past_2_mib_on_codes_writes_the_same_float_index_format)
{
	float *base = load_sift(0, 4500), *q = load_sift(4500, 5000);
	vz_hnsw_builder *a = build(base, 4500, 128, VZ_METRIC_EUCLIDEAN, 1, false), *b = build(base, 4500, 128, VZ_METRIC_EUCLIDEAN, 1, false);
	vz_hnsw_builder *t = build(base, 4500, 128, VZ_METRIC_EUCLIDEAN, 2, false);
	vz_map ma, mb, mt;
	vz_hnsw_index ia, ib, it;
	write_and_open(a, "a.hnsw", &ma, &ia, 4500, 128, VZ_METRIC_EUCLIDEAN);
	write_and_open(b, "b.hnsw", &mb, &ib, 4500, 128, VZ_METRIC_EUCLIDEAN);
	write_and_open(t, "t.hnsw", &mt, &it, 4500, 128, VZ_METRIC_EUCLIDEAN);
	CHECK(ma.size == mb.size && memcmp(ma.data, mb.data, ma.size) == 0);
	CHECK(ia.sq_codes == NULL && it.sq_codes == NULL && ma.size == mt.size);
	double r64 = recall(&it, base, 4500, q, 500, 128, VZ_METRIC_EUCLIDEAN, 64, NULL);
	double r128 = recall(&ia, base, 4500, q, 500, 128, VZ_METRIC_EUCLIDEAN, 128, NULL);
	if (r64 < 0.98 || r128 < 0.99) t_fail(__FILE__, __LINE__, "recall@10 at ef 64 %.4f, at ef 128 %.4f", r64, r128);
	vz_unmap(&ma);
	vz_unmap(&mb);
	vz_unmap(&mt);
	vz_hnsw_builder_free(a);
	vz_hnsw_builder_free(b);
	vz_hnsw_builder_free(t);
	free(base);
	free(q);
}

static float uniform01(uint64_t *x)
{
	*x = *x * 6364136223846793005ull + 1442695040888963407ull;
	return (float)(*x >> 40) / 16777216.0f;
}

/* rows of dim Gaussian-ish values around 40 random centres (a sum of four uniforms), seeded */
static float *clustered(size_t n, uint32_t dim, uint64_t seed)
{
	float *v = malloc(sizeof(float) * n * dim), centre[40][128];
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
#define NEXT() uniform01(&x)
	for (int c = 0; c < 40; c++)
		for (uint32_t d = 0; d < dim; d++) centre[c][d] = NEXT() * 8 - 4;
	for (size_t i = 0; i < n; i++) {
		int c = (int)(NEXT() * 40) % 40;
		for (uint32_t d = 0; d < dim; d++) v[i * dim + d] = centre[c][d] + (NEXT() + NEXT() + NEXT() + NEXT() - 2);
	}
#undef NEXT
	return v;
}

/* A float graph built on codes of one step (each node's codes against the others', in
 * integers) is as good as the one built on the floats: recall@10 within 0.01 at ef 16, 64 and
 * 128, euclidean and cosine, on 4000 generated rows (under 2 MiB, so the plain build keeps its
 * floats). The index is a float one. Not for sq8 nor the dot product. */
TEST(graph_on_codes_of_one_step_keeps_the_recall_of_the_float_graph)
{
	const size_t n = 4000, nq = 200;
	enum vz_metric metrics[2] = { VZ_METRIC_EUCLIDEAN, VZ_METRIC_COSINE };
	for (int mi = 0; mi < 2; mi++) {
		float *v = clustered(n + nq, 128, 5 + mi), *q = v + n * 128, lo[128], step[128];
		if (metrics[mi] == VZ_METRIC_COSINE)
			for (size_t i = 0; i < n + nq; i++) CHECK_OK(vz_normalize(v + i * 128, 128));
		uint8_t *codes = malloc(n * 128);
		quantize(v, n, 128, lo, step, codes);
		vz_sq8_step_uniform(step, 128);
		for (int d = 1; d < 128; d++) CHECK(step[d] == step[0] && step[0] > 0);
		for (size_t i = 0; i < n; i++) vz_sq8_encode(v + i * 128, lo, step, 128, codes + i * 128);
		vz_hnsw_builder *f = build(v, n, 128, metrics[mi], 2, false), *c;
		vz_hnsw_params p = { .m = 16, .ef_construction = 200, .seed = 42 };
		CHECK_OK(vz_hnsw_builder_new(128, metrics[mi], &p, NULL, n, &c));
		CHECK_OK(vz_hnsw_builder_on_codes(c, codes));
		CHECK_OK(vz_hnsw_builder_add(c, 0, n, 2));
		vz_map mf, mc;
		vz_hnsw_index xf, xc;
		write_and_open(f, "f.hnsw", &mf, &xf, n, 128, metrics[mi]);
		write_and_open(c, "c.hnsw", &mc, &xc, n, 128, metrics[mi]);
		CHECK(xc.sq_codes == NULL && mf.size == mc.size);
		size_t efs[3] = { 16, 64, 128 };
		for (int e = 0; e < 3; e++) {
			double rf = recall(&xf, v, n, q, nq, 128, metrics[mi], efs[e], NULL);
			double rc = recall(&xc, v, n, q, nq, 128, metrics[mi], efs[e], NULL);
			if (rc < rf - 0.01 || rc < 0.8)
				t_fail(__FILE__, __LINE__, "%s ef %zu: recall@10 on codes %.4f, on floats %.4f", vz_metric_name(metrics[mi]), efs[e], rc, rf);
		}
		vz_unmap(&mf);
		vz_unmap(&mc);
		vz_hnsw_builder_free(f);
		vz_hnsw_builder_free(c);
		free(codes);
		free(v);
	}
	/* not for a graph of sq8 codes, nor for the dot product (not ranked as by L2) */
	uint8_t one[128] = { 0 };
	vz_hnsw_builder *b;
	vz_hnsw_params p = { .m = 16, .ef_construction = 200, .seed = 42, .sq8 = true };
	CHECK_OK(vz_hnsw_builder_new(128, VZ_METRIC_EUCLIDEAN, &p, NULL, 1, &b));
	CHECK_INT(vz_hnsw_builder_on_codes(b, one), VZ_EINVAL);
	vz_hnsw_builder_free(b);
	p.sq8 = false;
	CHECK_OK(vz_hnsw_builder_new(128, VZ_METRIC_DOT, &p, NULL, 1, &b));
	CHECK_INT(vz_hnsw_builder_on_codes(b, one), VZ_EINVAL);
	vz_hnsw_builder_free(b);
	CHECK(vz_hnsw_build_on_codes(VZ_METRIC_EUCLIDEAN, 4097, 128) && vz_hnsw_build_on_codes(VZ_METRIC_COSINE, 4097, 128));
	CHECK(!vz_hnsw_build_on_codes(VZ_METRIC_EUCLIDEAN, 4096, 128) && !vz_hnsw_build_on_codes(VZ_METRIC_DOT, 1000000, 128));
}

TEST(incremental_insert_into_an_existing_index_keeps_recall)
{
	float *base = load_sift(0, 4500), *q = load_sift(4500, 4700);
	vz_hnsw_builder *b = build(base, 3000, 128, VZ_METRIC_EUCLIDEAN, 1, false);
	vz_map map;
	vz_hnsw_index idx;
	write_and_open(b, "old.hnsw", &map, &idx, 3000, 128, VZ_METRIC_EUCLIDEAN);
	vz_hnsw_builder *grown;
	CHECK_OK(vz_hnsw_builder_from_index(&idx, base, 4500, &grown));
	CHECK_OK(vz_hnsw_builder_add(grown, 3000, 1500, 2));
	vz_map map2;
	vz_hnsw_index idx2;
	write_and_open(grown, "new.hnsw", &map2, &idx2, 4500, 128, VZ_METRIC_EUCLIDEAN);
	double r = recall(&idx2, base, 4500, q, 200, 128, VZ_METRIC_EUCLIDEAN, 128, NULL);
	if (r < 0.98) t_fail(__FILE__, __LINE__, "recall after an incremental insert: %.4f", r);
	vz_unmap(&map);
	vz_unmap(&map2);
	vz_hnsw_builder_free(b);
	vz_hnsw_builder_free(grown);
}

TEST(sq8_with_reranking_keeps_recall)
{
	float *base = load_sift(0, 4500), *q = load_sift(4500, 4800);
	vz_hnsw_builder *b = build(base, 4500, 128, VZ_METRIC_EUCLIDEAN, 2, true);
	vz_map map;
	vz_hnsw_index idx;
	write_and_open(b, "index.hnsw", &map, &idx, 4500, 128, VZ_METRIC_EUCLIDEAN);
	CHECK(idx.sq_codes != NULL);
	double r = recall(&idx, base, 4500, q, 300, 128, VZ_METRIC_EUCLIDEAN, 128, NULL);
	if (r < 0.97) t_fail(__FILE__, __LINE__, "sq8 recall@10 at ef=128 is %.4f", r);
	vz_unmap(&map);
	vz_hnsw_builder_free(b);
}

TEST(sq8_quantizer_maps_each_range_onto_0_to_255)
{
	/* dimension 0 spans 0..255 (step 1), 1 is constant, 2 spans -2..-1 */
	const float rows[3][3] = { { 0, 7, -2 }, { 255, 7, -1 }, { 100, 7, -1.75f } };
	float lo[3], hi[3], step[3];
	vz_sq8_range_start(lo, hi, 3);
	for (int i = 0; i < 3; i++) vz_sq8_range_add(lo, hi, rows[i], 3);
	vz_sq8_range_finish(lo, hi, step, 3);
	CHECK(lo[0] == 0 && step[0] == 1.0f && lo[1] == 7 && step[1] == 0 && lo[2] == -2 && step[2] == 1.0f / 255.0f);
	uint8_t c[3];
	vz_sq8_encode(rows[2], lo, step, 3, c);
	CHECK(c[0] == 100 && c[1] == 0 && c[2] == 64); /* -1.75 is 63.75 steps up: the nearest code */
	/* values outside the range clamp; a constant dimension is code 0 whatever the value */
	const float out[3] = { 300, -50, -3 };
	vz_sq8_encode(out, lo, step, 3, c);
	CHECK(c[0] == 255 && c[1] == 0 && c[2] == 0);
	const float near[3] = { 99.6f, 7, -1 };
	vz_sq8_encode(near, lo, step, 3, c);
	CHECK(c[0] == 100 && c[2] == 255);
	/* no rows: minimum 0, step 0 */
	vz_sq8_range_start(lo, hi, 3);
	vz_sq8_range_finish(lo, hi, step, 3);
	CHECK(lo[0] == 0 && step[0] == 0 && lo[2] == 0 && step[2] == 0);
}

/* SIFT rows [0, n) as a base, with their sq8 ranges and codes, and rows 4500..4799 as queries */
struct sift_codes { float *base, *q; float lo[128], step[128]; uint8_t *codes; };

static void sift_codes_load(struct sift_codes *s, size_t n)
{
	s->base = load_sift(0, (int)n);
	s->q = load_sift(4500, 4800);
	s->codes = malloc(n * 128);
	CHECK(s->codes != NULL);
	quantize(s->base, n, 128, s->lo, s->step, s->codes);
}

static void sift_codes_free(struct sift_codes *s)
{
	free(s->codes);
	free(s->base);
	free(s->q);
}

/* a row reader over an array of floats: counts the reads of each row, fails on fail_at */
struct reader { const float *v; uint32_t dim; _Atomic unsigned *reads; size_t fail_at; };

static int read_counted(void *ctx, uint64_t row, uint32_t dim, float *scratch, const float **out)
{
	struct reader *r = ctx;
	(void)scratch;
	CHECK(dim == r->dim);
	r->reads[row]++;
	if (row == r->fail_at) return vz_fail(VZ_EIO, "row %llu: reading failed", (unsigned long long)row);
	*out = r->v + row * dim;
	return VZ_OK;
}

TEST(sq8_graph_built_on_codes_with_exact_row_queries_reads_each_row_once)
{
	const size_t n = 4500;
	struct sift_codes s;
	sift_codes_load(&s, n);
	struct reader rd = { s.base, 128, calloc(n, sizeof(unsigned)), (size_t)-1 };
	vz_hnsw_params p = { .m = 16, .ef_construction = 200, .seed = 42, .sq8 = true };
	vz_hnsw_builder *b;
	CHECK_OK(vz_hnsw_builder_new(128, VZ_METRIC_EUCLIDEAN, &p, NULL, n, &b));
	CHECK_OK(vz_hnsw_builder_use_codes(b, s.lo, s.step, s.codes, read_counted, &rd));
	CHECK_OK(vz_hnsw_builder_add(b, 0, n, 2));
	for (size_t i = 0; i < n; i++)
		if (rd.reads[i] != 1) t_fail(__FILE__, __LINE__, "row %zu read %u times", i, (unsigned)rd.reads[i]);
	vz_map map;
	vz_hnsw_index idx;
	write_and_open(b, "rows.hnsw", &map, &idx, n, 128, VZ_METRIC_EUCLIDEAN);
	double r = recall(&idx, s.base, n, s.q, 300, 128, VZ_METRIC_EUCLIDEAN, 128, NULL);
	if (r < 0.98) t_fail(__FILE__, __LINE__, "recall@10 at ef=128 with exact row queries: %.4f", r);
	CHECK(!memcmp(idx.sq_codes, s.codes, n * 128));
	vz_unmap(&map);
	vz_hnsw_builder_free(b);
	/* a failed read fails the build with its error */
	rd.fail_at = 1234;
	CHECK_OK(vz_hnsw_builder_new(128, VZ_METRIC_EUCLIDEAN, &p, NULL, n, &b));
	CHECK_OK(vz_hnsw_builder_use_codes(b, s.lo, s.step, s.codes, read_counted, &rd));
	CHECK_INT(vz_hnsw_builder_add(b, 0, n, 2), VZ_EIO);
	CHECK(strstr(vz_last_error(), "row 1234: reading failed"));
	vz_hnsw_builder_free(b);
	free((void *)rd.reads);
	sift_codes_free(&s);
}

TEST(sq8_graph_built_on_codes_keeps_recall_and_stores_the_same_codes)
{
	const size_t n = 4500;
	struct sift_codes s;
	sift_codes_load(&s, n);
	vz_hnsw_builder *b = build_on_codes(s.lo, s.step, s.codes, n, 128, VZ_METRIC_EUCLIDEAN, 2);
	vz_map map;
	vz_hnsw_index idx;
	write_and_open(b, "codes.hnsw", &map, &idx, n, 128, VZ_METRIC_EUCLIDEAN);
	double r = recall(&idx, s.base, n, s.q, 300, 128, VZ_METRIC_EUCLIDEAN, 128, NULL);
	if (r < 0.97) t_fail(__FILE__, __LINE__, "recall@10 at ef=128 of a graph built on codes: %.4f", r);
	/* the stored ranges and codes are those a build on the floats stores */
	vz_hnsw_builder *fb = build(s.base, n, 128, VZ_METRIC_EUCLIDEAN, 2, true);
	vz_map fmap;
	vz_hnsw_index fidx;
	write_and_open(fb, "floats.hnsw", &fmap, &fidx, n, 128, VZ_METRIC_EUCLIDEAN);
	CHECK(!memcmp(idx.sq_min, fidx.sq_min, sizeof s.lo) && !memcmp(idx.sq_step, fidx.sq_step, sizeof s.step));
	CHECK(!memcmp(idx.sq_codes, s.codes, n * 128) && !memcmp(fidx.sq_codes, s.codes, n * 128));
	/* only an sq8 index is built on codes */
	vz_hnsw_params p = { .m = 16, .ef_construction = 200, .seed = 42 };
	vz_hnsw_builder *plain;
	CHECK_OK(vz_hnsw_builder_new(128, VZ_METRIC_EUCLIDEAN, &p, s.base, n, &plain));
	CHECK_INT(vz_hnsw_builder_use_codes(plain, s.lo, s.step, s.codes, NULL, NULL), VZ_EINVAL);
	vz_hnsw_builder_free(plain);
	vz_unmap(&map);
	vz_unmap(&fmap);
	vz_hnsw_builder_free(b);
	vz_hnsw_builder_free(fb);
	sift_codes_free(&s);
}

TEST(sq8_reranking_through_a_descriptor_equals_the_mapped_one_and_a_short_file_is_an_error)
{
	float *base = load_sift(0, 4500), *q = load_sift(4500, 4600);
	vz_hnsw_builder *b = build(base, 4500, 128, VZ_METRIC_EUCLIDEAN, 1, true);
	vz_map map;
	vz_hnsw_index idx;
	write_and_open(b, "index.hnsw", &map, &idx, 4500, 128, VZ_METRIC_EUCLIDEAN);
	CHECK(idx.rerank_fd == -1);
	/* the float vectors 100 bytes into a file, as vectors.bin holds them after its header */
	FILE *f = fopen("floats.bin", "wb");
	CHECK(f != NULL);
	char pad[100] = { 0 };
	CHECK(fwrite(pad, 1, sizeof pad, f) == sizeof pad);
	CHECK(fwrite(base, sizeof(float) * 128, 4500, f) == 4500);
	CHECK(fclose(f) == 0);
	int fd = open("floats.bin", O_RDONLY);
	CHECK(fd >= 0);
	vz_hnsw_index by_fd = idx;
	by_fd.rerank_fd = fd;
	by_fd.rerank_off = sizeof pad;
	for (size_t i = 0; i < 100; i++) {
		vz_hit a[10], c[10];
		size_t na, nc;
		CHECK_OK(vz_hnsw_search(&idx, base, q + i * 128, 10, 64, NULL, NULL, a, &na));
		/* the mapped vectors are not read: a NULL pointer would crash if they were */
		CHECK_OK(vz_hnsw_search(&by_fd, NULL, q + i * 128, 10, 64, NULL, NULL, c, &nc));
		CHECK(na == 10 && nc == 10);
		for (size_t j = 0; j < na; j++) CHECK(a[j].row == c[j].row && a[j].distance == c[j].distance);
	}
	/* cut the file inside row 4000: the query nearest to row 4000 must re-rank it */
	CHECK(truncate("floats.bin", (off_t)(sizeof pad + 4000 * 128 * sizeof(float) + 10)) == 0);
	vz_hit h[10];
	size_t nh = 99;
	CHECK(vz_hnsw_search(&by_fd, NULL, base + 4000 * 128, 10, 64, NULL, NULL, h, &nh) == VZ_ECORRUPT);
	CHECK(nh == 0);
	CHECK(strstr(vz_last_error(), "vectors.bin: reading row 4000 at offset 2048100") != NULL);
	CHECK(strstr(vz_last_error(), "shorter than its rows") != NULL);
	close(fd);
	vz_unmap(&map);
	vz_hnsw_builder_free(b);
	free(base);
	free(q);
}

TEST(every_simd_kernel_equals_scalar_on_odd_dimensions)
{
	const char *levels[] = { "sse", "avx2", "avx512" };
	float a[800], b[800], step[800];
	uint8_t codes[800];
	srand(9);
	for (int i = 0; i < 800; i++) {
		a[i] = (float)rand() / RAND_MAX * 4 - 2;
		b[i] = (float)rand() / RAND_MAX * 4 - 2;
		step[i] = (float)rand() / RAND_MAX / 64;
		codes[i] = (uint8_t)(rand() & 255);
	}
	uint32_t dims[70];
	int nd = 0;
	for (uint32_t d = 1; d <= 67; d++) dims[nd++] = d;
	dims[nd++] = 128;
	dims[nd++] = 784;
	int tested = 0;
	for (int l = 0; l < 3; l++) {
		if (vz_simd_force(levels[l]) != VZ_OK) continue; /* this CPU lacks it: covered where it has it */
		tested++;
		for (int i = 0; i < nd; i++) {
			CHECK_OK(vz_simd_force(levels[l]));
			float l2 = vz_l2sq(a + 3, b + 1, dims[i]), dot = vz_dot(a + 3, b + 1, dims[i]);
			CHECK_OK(vz_simd_force("scalar"));
			float l2s = vz_l2sq(a + 3, b + 1, dims[i]), dots = vz_dot(a + 3, b + 1, dims[i]);
			if (fabsf(l2 - l2s) > 1e-4f * (1 + fabsf(l2s)) || fabsf(dot - dots) > 1e-4f * (1 + fabsf(dots)))
				t_fail(__FILE__, __LINE__, "%s dim %u: l2 %g vs %g, dot %g vs %g", levels[l], dims[i], l2, l2s, dot, dots);
			/* the sq8 kernels, on codes at an odd address */
			CHECK_OK(vz_simd_force(levels[l]));
			float q2 = vz_sq8_kernel_for(VZ_METRIC_EUCLIDEAN)(a + 3, step + 1, codes + 5, dims[i]);
			float qd = vz_sq8_kernel_for(VZ_METRIC_DOT)(b + 1, NULL, codes + 5, dims[i]);
			CHECK_OK(vz_simd_force("scalar"));
			float q2s = vz_sq8_kernel_for(VZ_METRIC_EUCLIDEAN)(a + 3, step + 1, codes + 5, dims[i]);
			float qds = vz_sq8_kernel_for(VZ_METRIC_DOT)(b + 1, NULL, codes + 5, dims[i]);
			if (fabsf(q2 - q2s) > 1e-4f * (1 + fabsf(q2s)) || fabsf(qd - qds) > 1e-4f * (1 + fabsf(qds)))
				t_fail(__FILE__, __LINE__, "%s dim %u: sq8 l2 %g vs %g, sq8 dot %g vs %g", levels[l], dims[i], q2, q2s, qd, qds);
			if (dims[i] == 3) { /* the scalar one itself, against the formula */
				float want2 = 0, wantd = 0;
				for (int k = 0; k < 3; k++) {
					float d = a[3 + k] - step[1 + k] * codes[5 + k];
					want2 += d * d;
					wantd += b[1 + k] * codes[5 + k];
				}
				CHECK(fabsf(q2s - want2) <= 1e-5f * (1 + want2) && fabsf(qds - wantd) <= 1e-5f * (1 + fabsf(wantd)));
			}
		}
	}
	CHECK(tested >= 1);
	CHECK_INT(vz_simd_force("avx9000"), VZ_EINVAL);
}

/* The code-to-code kernel of builds on codes, at every level this CPU has, against the sum
 * written out here: random codes, rows of only 0 against only 255 (the largest terms), every
 * length from 0 to 67 (each tail) and 128, 784 and 4096, at odd addresses. */
TEST(u8_kernel_equals_the_integer_sum_at_every_level_with_extreme_codes)
{
	const char *levels[] = { "scalar", "sse", "avx2", "avx512" };
	static uint8_t a[4200], b[4200], zeros[4200], full[4200];
	srand(17);
	for (int i = 0; i < 4200; i++) {
		a[i] = (uint8_t)(rand() & 255);
		b[i] = (uint8_t)(rand() & 255);
		full[i] = 255;
	}
	a[7] = 0, b[7] = 255, a[8] = 255, b[8] = 0; /* extremes inside the random rows too */
	size_t dims[72];
	int nd = 0;
	for (size_t d = 0; d <= 67; d++) dims[nd++] = d;
	dims[nd++] = 128;
	dims[nd++] = 784;
	dims[nd++] = 4096;
	int tested = 0;
	for (int l = 0; l < 4; l++) {
		if (vz_simd_force(levels[l]) != VZ_OK) continue;
		tested++;
		vz_u8_kernel k = vz_u8_l2_kernel();
		for (int i = 0; i < nd; i++) {
			uint64_t want = 0;
			for (size_t j = 0; j < dims[i]; j++) {
				int64_t d = (int64_t)a[3 + j] - b[1 + j];
				want += (uint64_t)(d * d);
			}
			uint32_t got = k(a + 3, b + 1, dims[i]);
			if (got != want) t_fail(__FILE__, __LINE__, "%s dim %zu: %u, want %llu", levels[l], dims[i], got, (unsigned long long)want);
			CHECK_INT(k(zeros + 1, full + 2, dims[i]), 65025ull * dims[i]);
			CHECK_INT(k(full + 1, zeros, dims[i]), 65025ull * dims[i]);
			CHECK_INT(k(a + 3, a + 3, dims[i]), 0);
			CHECK_INT(k(b + 1, a + 3, dims[i]), got); /* symmetric */
		}
	}
	CHECK(tested >= 2);
}

/* v (|v| < 2048) in binary16, written out by hand: the test does not trust the converter it tests. */
static uint16_t half_of_int(int v)
{
	if (v == 0) return 0;
	uint16_t sign = v < 0 ? 0x8000 : 0;
	unsigned m = (unsigned)(v < 0 ? -v : v);
	int e = 31 - __builtin_clz(m);
	return (uint16_t)(sign | (unsigned)(e + 15) << 10 | ((m << (10 - e)) & 0x3ff));
}

/* The half-precision kernels share the float kernels' bodies (only the row's load differs): on
 * rows whose values are halves exactly, every dimension (each loop and tail of the bodies) and
 * both metrics give the float kernel's result bit for bit; at a level without them, none. */
TEST(half_kernels_equal_the_float_kernels_bit_for_bit)
{
	float a[800], b[800];
	uint16_t h[800];
	unsigned s = 11;
	for (int i = 0; i < 800; i++) {
		a[i] = (float)rand_r(&s) / RAND_MAX * 512 - 256;  /* the query: any float */
		int v = (int)(rand_r(&s) % 4096) - 2048;         /* the row: integers, halves exactly */
		b[i] = (float)v;
		h[i] = half_of_int(v);
	}
	char level[16];
	snprintf(level, sizeof level, "%s", vz_simd_level());
	CHECK_OK(vz_simd_force("sse"));
	CHECK(vz_h16_kernel_for(VZ_METRIC_EUCLIDEAN) == NULL && vz_h16_kernel_for(VZ_METRIC_DOT) == NULL);
	if (vz_simd_force("avx2") != VZ_OK || !vz_h16_kernel_for(VZ_METRIC_EUCLIDEAN)) { /* no AVX2 or F16C here */
		CHECK_OK(vz_simd_force(level));
		return;
	}
	enum vz_metric ms[] = { VZ_METRIC_EUCLIDEAN, VZ_METRIC_DOT };
	int compared = 0;
	for (int mi = 0; mi < 2; mi++) {
		vz_kernel f = vz_kernel_for(ms[mi]);
		vz_h16_kernel hk = vz_h16_kernel_for(ms[mi]);
		for (uint32_t d = 1; d <= 784; d += d < 80 ? 1 : 89) {
			float want = f(a + 1, b + 3, d), got = hk(a + 1, h + 3, d);
			if (memcmp(&want, &got, sizeof want))
				t_fail(__FILE__, __LINE__, "metric %d dim %u: half kernel %.9g, float kernel %.9g", mi, d, got, want);
			compared++;
		}
	}
	CHECK(compared > 160);
	/* a half row that is not the float row gives another result: the comparison can fail */
	h[3] ^= 1;
	float w = vz_kernel_for(VZ_METRIC_EUCLIDEAN)(a + 1, b + 3, 16), g = vz_h16_kernel_for(VZ_METRIC_EUCLIDEAN)(a + 1, h + 3, 16);
	CHECK(w != g);
	CHECK_OK(vz_simd_force(level));
}

TEST(damaged_indexes_are_refused_never_a_crash)
{
	const size_t n = 500;
	float *v = malloc(sizeof(float) * n * 8);
	random_vectors(v, n, 8, 3, false);
	vz_hnsw_builder *b = build(v, n, 8, VZ_METRIC_EUCLIDEAN, 1, false);
	vz_map map;
	vz_hnsw_index idx;
	write_and_open(b, "index.hnsw", &map, &idx, n, 8, VZ_METRIC_EUCLIDEAN);
	size_t size = map.size;
	unsigned char *orig = malloc(size), *bad = malloc(size);
	memcpy(orig, map.data, size);
	vz_unmap(&map);
	/* truncated at many lengths */
	for (size_t len = 0; len < size; len += 97) CHECK_INT(vz_hnsw_open(orig, len, 8, VZ_METRIC_EUCLIDEAN, n, &idx), VZ_ECORRUPT);
	/* a count larger than the file */
	memcpy(bad, orig, size);
	vz_store_u64(bad + 64, n * 100);
	CHECK_INT(vz_hnsw_open(bad, size, 8, VZ_METRIC_EUCLIDEAN, n * 100, &idx), VZ_ECORRUPT);
	/* every byte flipped in turn: open or verify says so, and searching never crashes */
	vz_hit got[5];
	size_t ng;
	for (size_t at = 0; at < size; at++) {
		memcpy(bad, orig, size);
		bad[at] ^= 0xff;
		if (vz_hnsw_open(bad, size, 8, VZ_METRIC_EUCLIDEAN, n, &idx) != VZ_OK) continue;
		CHECK_OK(vz_hnsw_search(&idx, v, v, 5, 32, NULL, NULL, got, &ng));
		CHECK_INT(vz_hnsw_verify(&idx), VZ_ECORRUPT);
	}
	/* a neighbour id out of range, with the checksum made right: verify names it */
	memcpy(bad, orig, size);
	uint64_t links0 = vz_load_u64(bad + 64 + 40);
	vz_store_u32(bad + links0 + 4, (uint32_t)n + 7);
	vz_file_header h;
	CHECK_OK(vz_header_decode(orig, size, VZ_MAGIC_INDEX, 2, &h));
	h.body_checksum = vz_hash64(bad + 64, size - 64);
	vz_header_encode(&h, bad);
	CHECK_OK(vz_hnsw_open(bad, size, 8, VZ_METRIC_EUCLIDEAN, n, &idx));
	CHECK_OK(vz_hnsw_search(&idx, v, v, 5, 32, NULL, NULL, got, &ng));
	CHECK_INT(vz_hnsw_verify(&idx), VZ_ECORRUPT);
	CHECK(strstr(vz_last_error(), "out of range") != NULL);
	free(orig);
	free(bad);
	free(v);
	vz_hnsw_builder_free(b);
}

/* Sets the body checksum of the index file image bad (size bytes) to what its body hashes to. */
static void fix_checksum(unsigned char *bad, size_t size)
{
	vz_file_header h;
	CHECK_OK(vz_header_decode(bad, size, VZ_MAGIC_INDEX, 2, &h));
	h.body_checksum = vz_hash64(bad + 64, size - 64);
	vz_header_encode(&h, bad);
}

/* verify checks the links of a run of nodes at once, the runs as the body is hashed (16 KiB at a
 * time): a bad id in any slot of any node, at either end of a run or across the edge of a part,
 * is named with its node and offset, the first of two bad nodes is the one named, a slot past a
 * node's count is not a link, and a damaged body is still named as such first. m 3, 5 and 16:
 * rows of 7, 11 and 33 words, so slots past the last whole eight are checked too. */
TEST(verify_names_the_first_bad_link_of_any_node_in_any_slot)
{
	const size_t n = 700;
	const uint32_t dim = 4;
	const uint32_t ms[] = { 3, 5, 16 };
	float *v = malloc(sizeof(float) * n * dim);
	random_vectors(v, n, dim, 5, false);
	for (int mi = 0; mi < 3; mi++) {
		vz_hnsw_params p = { .m = ms[mi], .ef_construction = 40, .seed = 42 };
		vz_hnsw_builder *b;
		CHECK_OK(vz_hnsw_builder_new(dim, VZ_METRIC_EUCLIDEAN, &p, v, n, &b));
		CHECK_OK(vz_hnsw_builder_add(b, 0, n, 1));
		vz_map map;
		vz_hnsw_index idx;
		write_and_open(b, "links.hnsw", &map, &idx, n, dim, VZ_METRIC_EUCLIDEAN);
		size_t size = map.size;
		uint32_t m0 = idx.m0;
		CHECK_INT(m0, 2 * ms[mi]);
		unsigned char *orig = malloc(size), *good = malloc(size), *bad = malloc(size);
		memcpy(orig, map.data, size);
		vz_unmap(&map);
		uint64_t links0 = vz_load_u64(orig + 64 + 40), row = (1 + (uint64_t)m0) * 4;
		/* the first and last nodes, every 61st, and each node whose row crosses a 16 KiB edge */
		for (size_t i = 0; i < n; i++) {
			uint64_t at = links0 + i * row;
			if (i % 61 && i != n - 1 && at / 16384 == (at + row - 1) / 16384) continue;
			/* as built, then full: m0 links to other nodes (no node of a small graph may be) */
			for (int full = 0; full < 2; full++) {
				memcpy(good, orig, size);
				if (full) {
					vz_store_u32(good + at, m0);
					for (uint32_t j = 0; j < m0; j++) vz_store_u32(good + at + 4 + 4 * j, (uint32_t)((i + 1 + j) % n));
					fix_checksum(good, size);
					CHECK_OK(vz_hnsw_open(good, size, dim, VZ_METRIC_EUCLIDEAN, n, &idx));
					CHECK_OK(vz_hnsw_verify(&idx));
				}
				uint32_t cnt = vz_load_u32(good + at);
				CHECK(cnt > 0 && cnt <= m0);
				for (uint32_t j = 0; j < m0; j++) {
					/* out of range, or the node itself, by turns (past the count: out of range,
					 * never the 0 an unused slot may hold already) */
					uint32_t val = j % 2 && j < cnt ? (uint32_t)i : (uint32_t)(n + j);
					memcpy(bad, good, size);
					vz_store_u32(bad + at + 4 + 4 * j, val);
					CHECK_OK(vz_hnsw_open(bad, size, dim, VZ_METRIC_EUCLIDEAN, n, &idx));
					CHECK_INT(vz_hnsw_verify(&idx), VZ_ECORRUPT);
					CHECK_STR(vz_last_error(), "offset 64: body checksum mismatch");
					fix_checksum(bad, size);
					CHECK_OK(vz_hnsw_open(bad, size, dim, VZ_METRIC_EUCLIDEAN, n, &idx));
					if (j >= cnt) { /* past the count: not a link */
						CHECK_OK(vz_hnsw_verify(&idx));
						continue;
					}
					char want[160];
					snprintf(want, sizeof want, "offset %llu: node %zu: neighbour id %u out of range",
						 (unsigned long long)(at + 4 + 4 * j), i, val);
					CHECK_INT(vz_hnsw_verify(&idx), VZ_ECORRUPT);
					CHECK_STR(vz_last_error(), want);
					/* a later node damaged too: the first is still the one named */
					if (i + 1 < n) {
						vz_store_u32(bad + links0 + (n - 1) * row + 4, (uint32_t)n);
						fix_checksum(bad, size);
						CHECK_OK(vz_hnsw_open(bad, size, dim, VZ_METRIC_EUCLIDEAN, n, &idx));
						CHECK_INT(vz_hnsw_verify(&idx), VZ_ECORRUPT);
						CHECK_STR(vz_last_error(), want);
					}
				}
			}
			/* a count above m0 */
			memcpy(bad, orig, size);
			vz_store_u32(bad + at, m0 + 1);
			fix_checksum(bad, size);
			CHECK_OK(vz_hnsw_open(bad, size, dim, VZ_METRIC_EUCLIDEAN, n, &idx));
			char want[160];
			snprintf(want, sizeof want, "offset %llu: node %zu has %u links at level 0 (at most %u)", (unsigned long long)at, i, m0 + 1, m0);
			CHECK_INT(vz_hnsw_verify(&idx), VZ_ECORRUPT);
			CHECK_STR(vz_last_error(), want);
		}
		/* an upper link to a node below its level: the last level-0 node (past the last whole
		 * eight nodes when n is not a multiple of eight) and one in the middle; to a node at or
		 * above the level: fine */
		uint64_t levels = vz_load_u64(orig + 64 + 32), uidx = vz_load_u64(orig + 64 + 48), upper = vz_load_u64(orig + 64 + 56);
		size_t low[2] = { n, n }, high = n;
		for (size_t i = n / 2; i < n && low[0] == n; i++)
			if (!orig[levels + i]) low[0] = i;
		for (size_t i = n; i-- > 0 && low[1] == n;)
			if (!orig[levels + i]) low[1] = i;
		CHECK(low[0] < n / 8 * 8 && low[1] >= n / 8 * 8 && low[1] < n);
		int tried = 0;
		for (size_t i = 0; i < n; i++) {
			uint32_t lv = orig[levels + i];
			if (!lv) continue;
			if (high == n) { high = i; continue; } /* the first: the good target of the others */
			for (uint32_t lev = 1; lev <= lv; lev++) {
				uint64_t block = upper + 4 * (vz_load_u32(orig + uidx + 4 * i) + (uint64_t)(lev - 1) * (1 + ms[mi]));
				uint32_t cnt = vz_load_u32(orig + block);
				for (uint32_t j = 0; j < cnt; j += cnt - 1 > 0 ? cnt - 1 : 1) {
					for (int k = 0; k < 2; k++) {
						memcpy(bad, orig, size);
						vz_store_u32(bad + block + 4 + 4 * j, (uint32_t)low[k]);
						fix_checksum(bad, size);
						CHECK_OK(vz_hnsw_open(bad, size, dim, VZ_METRIC_EUCLIDEAN, n, &idx));
						char want[160];
						snprintf(want, sizeof want, "node %zu: level %u neighbour %zu out of range or below that level", i, lev, low[k]);
						CHECK_INT(vz_hnsw_verify(&idx), VZ_ECORRUPT);
						CHECK_STR(vz_last_error(), want);
						tried++;
					}
					if (orig[levels + high] >= lev) {
						memcpy(bad, orig, size);
						vz_store_u32(bad + block + 4 + 4 * j, (uint32_t)high);
						fix_checksum(bad, size);
						CHECK_OK(vz_hnsw_open(bad, size, dim, VZ_METRIC_EUCLIDEAN, n, &idx));
						CHECK_OK(vz_hnsw_verify(&idx));
					}
				}
			}
		}
		CHECK(tried > 20);
		free(orig);
		free(good);
		free(bad);
		vz_hnsw_builder_free(b);
	}
	free(v);
}

TEST(packed_index_answers_exactly_as_the_mapped_one)
{
	enum vz_metric ms[] = { VZ_METRIC_COSINE, VZ_METRIC_EUCLIDEAN, VZ_METRIC_DOT };
	const size_t n = 2500, nq = 60;
	const uint32_t dim = 19; /* odd: no kernel runs only whole vector registers */
	float *v = malloc(sizeof(float) * n * dim), *q = malloc(sizeof(float) * nq * dim);
	for (int mi = 0; mi < 3; mi++) {
		random_vectors(v, n, dim, 11 + mi, ms[mi] == VZ_METRIC_COSINE);
		random_vectors(q, nq, dim, 99 + mi, ms[mi] == VZ_METRIC_COSINE);
		for (int sq8 = 0; sq8 < 2; sq8++) {
			vz_hnsw_builder *b = build(v, n, dim, ms[mi], 1, sq8);
			vz_map map;
			vz_hnsw_index idx;
			write_and_open(b, "i.hnsw", &map, &idx, n, dim, ms[mi]);
			vz_hit before[nq][10], after[10];
			size_t nb[nq], na;
			for (size_t i = 0; i < nq; i++) CHECK_OK(vz_hnsw_search(&idx, v, q + i * dim, 10, 40, skip_odd, NULL, before[i], &nb[i]));
			float *copy = malloc(sizeof(float) * n * dim);
			memcpy(copy, v, sizeof(float) * n * dim);
			/* half the time from a file mapping of the vectors, whose pages pack lets go */
			vz_map vmap = { 0 };
			if (mi != 1) {
				t_write("v.bin", v, sizeof(float) * n * dim);
				CHECK_OK(vz_map_file("v.bin", &vmap));
			}
			CHECK_OK(vz_hnsw_pack(&idx, vmap.data ? (const float *)vmap.data : v, vmap.data != NULL));
			CHECK(!memcmp(copy, v, sizeof(float) * n * dim)); /* the caller's memory is left alone */
			if (vmap.data) CHECK(!memcmp(copy, vmap.data, sizeof(float) * n * dim)); /* and the file reads back */
			free(copy);
			/* sq8 searches read codes: nothing to pack */
			CHECK(sq8 ? idx.packed == NULL : idx.packed != NULL);
			CHECK_OK(vz_hnsw_pack(&idx, v, false)); /* twice is once */
			for (size_t i = 0; i < nq; i++) {
				CHECK_OK(vz_hnsw_search(&idx, v, q + i * dim, 10, 40, skip_odd, NULL, after, &na));
				CHECK_INT(na, nb[i]);
				for (size_t j = 0; j < na; j++) {
					CHECK_INT(after[j].row, before[i][j].row);
					CHECK(after[j].distance == before[i][j].distance);
					CHECK(after[j].row % 2 == 0); /* skipped rows stay skipped */
				}
			}
			/* the mapped file is untouched: still verifies */
			CHECK_OK(vz_hnsw_verify(&idx));
			vz_hnsw_unpack(&idx);
			vz_hnsw_unpack(&idx);
			CHECK(idx.packed == NULL);
			CHECK_OK(vz_hnsw_search(&idx, v, q, 10, 40, skip_odd, NULL, after, &na));
			CHECK_INT(after[0].row, before[0][0].row);
			vz_unmap(&map);
			vz_unmap(&vmap);
			vz_hnsw_builder_free(b);
			unlink("i.hnsw");
		}
	}
	free(v);
	free(q);
}

/* Rows whose every value is a half exactly (pixels, SIFT's integers) pack in binary16 and answer
 * bit for bit as the mapped floats; one value that is not (a fraction, out of range, too small)
 * keeps the floats. Odd and long dimensions: every part of the kernels runs. */
TEST(half_packed_index_answers_exactly_as_the_mapped_one)
{
	enum vz_metric ms[] = { VZ_METRIC_EUCLIDEAN, VZ_METRIC_DOT, VZ_METRIC_COSINE };
	const uint32_t dims[] = { 19, 100 };
	const size_t n = 1000, nq = 40;
	const float spoil[] = { 0.1f, 70000.0f, 1e-6f, 0 }; /* 0: nothing spoilt */
	bool have_kernel = vz_h16_kernel_for(VZ_METRIC_EUCLIDEAN) != NULL;
	for (int mi = 0; mi < 3; mi++) {
		for (int di = 0; di < 2; di++) {
			uint32_t dim = dims[di];
			float *v = malloc(sizeof(float) * n * dim), *q = malloc(sizeof(float) * nq * dim);
			unsigned s = 7 + mi * 3 + di;
			/* pixel-like integers (cosine: the same over 256, powers of two apart: exact) */
			for (size_t i = 0; i < n * dim; i++) v[i] = (float)(rand_r(&s) % 256) / (ms[mi] == VZ_METRIC_COSINE ? 256.0f : 1.0f);
			for (size_t i = 0; i < nq * dim; i++) q[i] = (float)(rand_r(&s) % 256) / 7.0f; /* queries need not be */
			for (int sp = 0; sp < 4; sp++) {
				float keep = v[(n / 2) * dim + dim / 2];
				if (spoil[sp]) v[(n / 2) * dim + dim / 2] = spoil[sp];
				vz_hnsw_builder *b = build(v, n, dim, ms[mi], 1, false);
				vz_map map;
				vz_hnsw_index idx;
				write_and_open(b, "h.hnsw", &map, &idx, n, dim, ms[mi]);
				vz_hit before[nq][10], after[10];
				size_t nb[nq], na;
				for (size_t i = 0; i < nq; i++) CHECK_OK(vz_hnsw_search(&idx, v, q + i * dim, 10, 40, NULL, NULL, before[i], &nb[i]));
				CHECK_OK(vz_hnsw_pack(&idx, v, false));
				CHECK(idx.packed != NULL);
				if (idx.packed_half != (have_kernel && !spoil[sp]))
					t_fail(__FILE__, __LINE__, "metric %d dim %u spoil %g: packed_half %d", mi, dim, spoil[sp], idx.packed_half);
				for (size_t i = 0; i < nq; i++) {
					CHECK_OK(vz_hnsw_search(&idx, v, q + i * dim, 10, 40, NULL, NULL, after, &na));
					CHECK_INT(na, nb[i]);
					for (size_t j = 0; j < na; j++) {
						CHECK_INT(after[j].row, before[i][j].row);
						CHECK(after[j].distance == before[i][j].distance);
					}
				}
				vz_hnsw_unpack(&idx);
				CHECK(!idx.packed && !idx.packed_half);
				vz_unmap(&map);
				vz_hnsw_builder_free(b);
				unlink("h.hnsw");
				v[(n / 2) * dim + dim / 2] = keep;
			}
			free(v);
			free(q);
		}
	}
}

/* A float graph of VZ_SEARCH_CODES_MIN_ROWS rows keeps codes of its rows in its file (header
 * flags bit 1), whether built on the floats (encoded by the writer) or on codes of one step
 * (the builder's, kept): searches measure them and answer with exact float distances (euclidean
 * and cosine), recall@10
 * within 0.01 of the float search at the same ef; a byte of the codes flipped is found by
 * verify; a graph extended from it stays a float graph; one row fewer keeps no codes. */
TEST(float_graph_of_64ki_rows_searches_on_codes_with_exact_distances)
{
	const size_t n = VZ_SEARCH_CODES_MIN_ROWS, nq = 100;
	const uint32_t dim = 16;
	float *v = clustered(n + nq, dim, 11), *q = v + n * dim, lo[16], step[16];
	CHECK(vz_hnsw_search_on_codes(VZ_METRIC_EUCLIDEAN, n) && vz_hnsw_search_on_codes(VZ_METRIC_COSINE, n));
	CHECK(!vz_hnsw_search_on_codes(VZ_METRIC_EUCLIDEAN, n - 1) && !vz_hnsw_search_on_codes(VZ_METRIC_DOT, n));
	uint8_t *codes = malloc(n * dim);
	quantize(v, n, dim, lo, step, codes);
	vz_sq8_step_uniform(step, dim);
	for (size_t i = 0; i < n; i++) vz_sq8_encode(v + i * dim, lo, step, dim, codes + i * dim);
	vz_hnsw_params p = { .m = 8, .ef_construction = 32, .seed = 42 };
	vz_hnsw_builder *f, *c;
	CHECK_OK(vz_hnsw_builder_new(dim, VZ_METRIC_EUCLIDEAN, &p, v, n, &f));
	CHECK_OK(vz_hnsw_builder_add(f, 0, n, 2));
	CHECK_OK(vz_hnsw_builder_new(dim, VZ_METRIC_EUCLIDEAN, &p, NULL, n, &c));
	CHECK_OK(vz_hnsw_builder_on_codes(c, codes));
	vz_hnsw_builder_keep_codes(c, lo, step);
	CHECK_OK(vz_hnsw_builder_add(c, 0, n, 2));
	vz_map mf, mc;
	vz_hnsw_index xf, xc;
	write_and_open(f, "f.hnsw", &mf, &xf, n, dim, VZ_METRIC_EUCLIDEAN);
	write_and_open(c, "c.hnsw", &mc, &xc, n, dim, VZ_METRIC_EUCLIDEAN);
	vz_file_header h;
	CHECK_OK(vz_header_decode(mc.data, mc.size, VZ_MAGIC_INDEX, 2, &h));
	CHECK_INT(h.flags, 2);
	CHECK(xf.sq_codes && xf.float_codes && xc.sq_codes && xc.float_codes);
	/* the builder's codes, as given; the writer's, each row encoded on its dimension's range */
	CHECK(memcmp(xc.sq_codes, codes, n * dim) == 0 && memcmp(xc.sq_min, lo, sizeof lo) == 0 && memcmp(xc.sq_step, step, sizeof step) == 0);
	uint8_t want[16];
	for (size_t i = 0; i < n; i += 997) {
		vz_sq8_encode(v + i * dim, xf.sq_min, xf.sq_step, dim, want);
		CHECK(memcmp(xf.sq_codes + i * dim, want, dim) == 0);
	}
	const vz_hnsw_index *with[2] = { &xf, &xc };
	for (int w = 0; w < 2; w++) {
		vz_hnsw_index floats = *with[w];
		floats.sq_codes = NULL; /* the same graph searched on its floats */
		size_t efs[2] = { 32, 64 };
		for (int e = 0; e < 2; e++) {
			double rc = recall(with[w], v, n, q, nq, dim, VZ_METRIC_EUCLIDEAN, efs[e], NULL);
			double rf = recall(&floats, v, n, q, nq, dim, VZ_METRIC_EUCLIDEAN, efs[e], NULL);
			if (rc < rf - 0.01 || rc < 0.85) t_fail(__FILE__, __LINE__, "ef %zu: recall@10 on codes %.4f, on floats %.4f", efs[e], rc, rf);
		}
		/* every answer's distance is the float distance to its row, bit for bit */
		vz_hit got[10];
		size_t ng;
		for (size_t i = 0; i < nq; i++) {
			CHECK_OK(vz_hnsw_search(with[w], v, q + i * dim, 10, 16, NULL, NULL, got, &ng));
			CHECK_INT(ng, 10);
			for (size_t k = 0; k < ng; k++) {
				float d = vz_distance(VZ_METRIC_EUCLIDEAN, v + (size_t)got[k].row * dim, q + i * dim, dim);
				CHECK(memcmp(&d, &got[k].distance, sizeof d) == 0);
			}
		}
	}
	/* a byte of the codes flipped: open takes it, searches do not crash, verify finds it */
	unsigned char *bad = malloc(mc.size);
	memcpy(bad, mc.data, mc.size);
	bad[(size_t)(xc.sq_codes - mc.data) + 12345] ^= 0x10;
	vz_hnsw_index xb;
	CHECK_OK(vz_hnsw_open(bad, mc.size, dim, VZ_METRIC_EUCLIDEAN, n, &xb));
	vz_hit got[10];
	size_t ng;
	CHECK_OK(vz_hnsw_search(&xb, v, q, 10, 16, NULL, NULL, got, &ng));
	CHECK_INT(vz_hnsw_verify(&xb), VZ_ECORRUPT);
	CHECK(strstr(vz_last_error(), "checksum") != NULL);
	/* both flag bits at once is no index of this format */
	bad[(size_t)(xc.sq_codes - mc.data) + 12345] ^= 0x10;
	CHECK_OK(vz_header_decode(bad, mc.size, VZ_MAGIC_INDEX, 2, &h));
	h.flags = 3;
	vz_header_encode(&h, bad);
	CHECK_INT(vz_hnsw_open(bad, mc.size, dim, VZ_METRIC_EUCLIDEAN, n, &xb), VZ_ECORRUPT);
	free(bad);
	/* extended, it is a float graph (built on codes again, not an sq8 one) and keeps codes */
	vz_hnsw_builder *g;
	CHECK_OK(vz_hnsw_builder_from_index(&xc, NULL, n, &g));
	CHECK_OK(vz_hnsw_builder_on_codes(g, codes));
	vz_hnsw_builder_free(g);
	/* cosine (unit rows): the same, on codes its writer encoded */
	for (size_t i = 0; i < n + nq; i++) CHECK_OK(vz_normalize(v + i * dim, dim));
	vz_hnsw_builder *cb;
	CHECK_OK(vz_hnsw_builder_new(dim, VZ_METRIC_COSINE, &p, v, n, &cb));
	CHECK_OK(vz_hnsw_builder_add(cb, 0, n, 2));
	vz_map mcos;
	vz_hnsw_index xcos;
	write_and_open(cb, "cos.hnsw", &mcos, &xcos, n, dim, VZ_METRIC_COSINE);
	CHECK(xcos.sq_codes && xcos.float_codes);
	vz_hnsw_index cfloats = xcos;
	cfloats.sq_codes = NULL;
	double rcos = recall(&xcos, v, n, q, nq, dim, VZ_METRIC_COSINE, 64, NULL), rfl = recall(&cfloats, v, n, q, nq, dim, VZ_METRIC_COSINE, 64, NULL);
	if (rcos < rfl - 0.01 || rcos < 0.85) t_fail(__FILE__, __LINE__, "cosine ef 64: recall@10 on codes %.4f, on floats %.4f", rcos, rfl);
	CHECK_OK(vz_hnsw_search(&xcos, v, q, 10, 64, NULL, NULL, got, &ng));
	for (size_t k = 0; k < ng; k++) {
		float d = vz_distance(VZ_METRIC_COSINE, v + (size_t)got[k].row * dim, q, dim);
		CHECK(memcmp(&d, &got[k].distance, sizeof d) == 0);
	}
	vz_unmap(&mcos);
	vz_hnsw_builder_free(cb);
	/* one row fewer: no codes, as before */
	vz_hnsw_builder *s;
	CHECK_OK(vz_hnsw_builder_new(dim, VZ_METRIC_EUCLIDEAN, &p, v, n - 1, &s));
	CHECK_OK(vz_hnsw_builder_add(s, 0, n - 1, 2));
	vz_map ms;
	vz_hnsw_index xs;
	write_and_open(s, "s.hnsw", &ms, &xs, n - 1, dim, VZ_METRIC_EUCLIDEAN);
	CHECK(xs.sq_codes == NULL && !xs.float_codes);
	vz_unmap(&ms);
	vz_unmap(&mf);
	vz_unmap(&mc);
	vz_hnsw_builder_free(s);
	vz_hnsw_builder_free(f);
	vz_hnsw_builder_free(c);
	free(codes);
	free(v);
}
