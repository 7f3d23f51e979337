/* test_defer.c: writes acknowledged before their index (VZ_WRITE_DEFER_INDEX). A batch of new
 * rows is committed as a segment without a graph (the log's operations folded with it), read
 * back exactly, and indexed by the next checkpoint; where no segment can be taken (sq8, a batch
 * that is not all inserts) it goes through the WAL, or with VZ_WRITE_BULK into an indexed base.
 * The power cuts of the same path are in test_powercut.c. */
#include "t.h"

#include <math.h>
#include <unistd.h>

#define DIM 12

static vz_write *rows_of(int first, int n, enum vz_write_op op, float *vecs, char (*ids)[16])
{
	vz_write *w = calloc((size_t)n, sizeof *w);
	CHECK(w != NULL);
	for (int i = 0; i < n; i++) {
		snprintf(ids[i], 16, "r%d", first + i);
		for (int j = 0; j < DIM; j++) vecs[i * DIM + j] = (float)sin((first + i) * 1.3 + j * 0.7) + (j == (first + i) % DIM ? 3.0f : 0.0f);
		w[i] = (vz_write){ op, ids[i], strlen(ids[i]), vecs + i * DIM, DIM, NULL, 0, (size_t)i + 1 };
	}
	return w;
}

static void no_problem(void *ctx, const char *file, int64_t off, const char *what)
{
	(void)ctx;
	t_fail(__FILE__, __LINE__, "verify: %s: offset %lld: %s", file, (long long)off, what);
}

/* the nearest row to row i's own vector is row i */
static void finds_itself(vz_collection *c, int i, const float *v)
{
	vz_result r[3];
	size_t n;
	char id[16];
	snprintf(id, sizeof id, "r%d", i);
	CHECK_OK(vz_collection_query(c, v, 3, 64, r, &n));
	CHECK(n == 3);
	CHECK(r[0].id_len == strlen(id) && !memcmp(r[0].id, id, r[0].id_len));
	CHECK(r[0].distance < 1e-4f);
}

TEST(defer_index_commits_a_segment_without_a_graph_that_the_next_checkpoint_indexes)
{
	vz_collection *c = t_create_open("c", DIM, VZ_METRIC_COSINE, VZ_QUANT_NONE);
	static float vecs[600 * DIM];
	static char ids[600][16];
	/* ten operations in the log first: the segment folds them too */
	vz_write *w0 = rows_of(0, 10, VZ_WRITE_INSERT, vecs, ids);
	vz_write_stats st;
	CHECK_OK(vz_collection_write(c, w0, 10, VZ_WRITE_NO_AUTO_CHECKPOINT, 1, &st));
	CHECK(st.last_seq > 0 && !st.checkpointed);
	vz_write *w = rows_of(10, 500, VZ_WRITE_INSERT, vecs + 10 * DIM, ids + 10);
	CHECK_OK(vz_collection_write(c, w, 500, VZ_WRITE_DEFER_INDEX | VZ_WRITE_NO_AUTO_CHECKPOINT, 1, &st));
	CHECK(st.inserted == 500 && st.checkpointed && st.checkpoint_due && st.last_seq == 0);
	vz_collection_stats s;
	vz_collection_stats_get(c, &s);
	CHECK(s.live == 510 && s.wal_ops == 0 && s.generation == 1);
	CHECK(access("data/dynamic/c/seg-1.vec", F_OK) == 0 && access("data/dynamic/c/seg-1.hnsw", F_OK) != 0);
	CHECK(access("data/dynamic/c/index.hnsw", F_OK) != 0);
	CHECK(vz_collection_checkpoint_due(c));
	/* read back exactly, cosine rows normalised as the log's are */
	for (int i = 0; i < 510; i += 101) finds_itself(c, i, vecs + i * DIM);
	vz_result r;
	const float *v;
	CHECK_OK(vz_collection_get(c, "r300", 4, &r, &v));
	double norm = 0;
	for (int j = 0; j < DIM; j++) norm += (double)v[j] * v[j];
	CHECK(fabs(norm - 1) < 1e-5);
	vz_collection_close(c);
	int problems;
	CHECK_OK(vz_collection_verify("data/dynamic/c", false, 1000, no_problem, NULL, &problems));
	CHECK(problems == 0);
	/* the checkpoint it asks for builds the index: a base, no segment */
	vz_checkpoint_report rep;
	CHECK_OK(vz_checkpoint_dir("data/dynamic/c", VZ_CHECKPOINT_IF_NEEDED, 1, 1000, &rep));
	CHECK(rep.checkpointed && rep.generation == 2 && rep.live == 510);
	CHECK(access("data/dynamic/c/index.hnsw", F_OK) == 0 && access("data/dynamic/c/seg-1.vec", F_OK) != 0);
	CHECK_OK(vz_collection_open("data/dynamic/c", VZ_OPEN_READ, 1000, &c));
	CHECK(!vz_collection_checkpoint_due(c));
	for (int i = 0; i < 510; i += 101) finds_itself(c, i, vecs + i * DIM);
	vz_collection_close(c);
	free(w0);
	free(w);
}

TEST(defer_index_goes_through_the_wal_where_no_segment_can_be_taken)
{
	static float vecs[300 * DIM];
	static char ids[300][16];
	vz_write_stats st;
	vz_collection_stats s;
	/* not all inserts: the log */
	vz_collection *c = t_create_open("m", DIM, VZ_METRIC_EUCLIDEAN, VZ_QUANT_NONE);
	vz_write *w = rows_of(0, 100, VZ_WRITE_INSERT, vecs, ids);
	w[99] = (vz_write){ VZ_WRITE_DELETE, "r0", 2, NULL, 0, NULL, 0, 100 }; /* r0, inserted above */
	CHECK_OK(vz_collection_write(c, w, 100, VZ_WRITE_DEFER_INDEX | VZ_WRITE_NO_AUTO_CHECKPOINT, 1, &st));
	CHECK(!st.checkpointed && st.last_seq > 0 && st.deleted == 1);
	vz_collection_stats_get(c, &s);
	CHECK(s.wal_ops == 100 && s.generation == 0 && s.live == 98);
	vz_collection_close(c);
	free(w);
	/* sq8 (its graph re-ranks from vectors.bin: no segments): the log; with VZ_WRITE_BULK an
	 * indexed base */
	c = t_create_open("q", DIM, VZ_METRIC_EUCLIDEAN, VZ_QUANT_SQ8);
	w = rows_of(0, 100, VZ_WRITE_INSERT, vecs, ids);
	CHECK_OK(vz_collection_write(c, w, 100, VZ_WRITE_DEFER_INDEX | VZ_WRITE_NO_AUTO_CHECKPOINT, 1, &st));
	CHECK(!st.checkpointed && st.last_seq > 0);
	free(w);
	w = rows_of(100, 200, VZ_WRITE_INSERT, vecs + 100 * DIM, ids + 100);
	CHECK_OK(vz_collection_write(c, w, 200, VZ_WRITE_BULK | VZ_WRITE_DEFER_INDEX | VZ_WRITE_NO_AUTO_CHECKPOINT, 1, &st));
	CHECK(st.checkpointed && !st.checkpoint_due);
	vz_collection_stats_get(c, &s);
	CHECK(s.live == 300 && s.wal_ops == 0 && s.generation == 1);
	CHECK(access("data/dynamic/q/index.hnsw", F_OK) == 0 && access("data/dynamic/q/seg-1.vec", F_OK) != 0);
	finds_itself(c, 150, vecs + 150 * DIM);
	vz_collection_close(c);
	free(w);
}

/* A segment without a graph of over 2^20 floats is scanned in two halves on two threads: the
 * k best equal a brute force over the same rows, ties and all */
TEST(defer_index_large_segment_scan_equals_brute_force)
{
	enum { N = 90000, K = 10 };
	vz_collection *c = t_create_open("big", DIM, VZ_METRIC_EUCLIDEAN, VZ_QUANT_NONE);
	float *vecs = malloc(sizeof(float) * N * DIM);
	char (*ids)[16] = malloc(16 * (size_t)N);
	CHECK(vecs && ids);
	vz_write *w = rows_of(0, N, VZ_WRITE_INSERT, vecs, ids);
	/* rows 0..99 repeat row 100..199: equal distances across the two halves' boundary too */
	memcpy(vecs + (N / 2) * DIM, vecs, sizeof(float) * DIM * 100);
	vz_write_stats st;
	CHECK_OK(vz_collection_write(c, w, N, VZ_WRITE_DEFER_INDEX | VZ_WRITE_NO_AUTO_CHECKPOINT, 1, &st));
	CHECK(st.checkpointed && st.checkpoint_due);
	for (int qi = 0; qi < 5; qi++) {
		const float *q = vecs + (size_t)(qi * 17989 % N) * DIM;
		/* brute force: the K smallest distances */
		float best[K];
		for (int i = 0; i < K; i++) best[i] = INFINITY;
		for (int r = 0; r < N; r++) {
			float d = vz_distance(VZ_METRIC_EUCLIDEAN, vecs + (size_t)r * DIM, q, DIM);
			if (d >= best[K - 1]) continue;
			int p = K - 1;
			while (p > 0 && best[p - 1] > d) { best[p] = best[p - 1]; p--; }
			best[p] = d;
		}
		vz_result res[K];
		size_t n;
		CHECK_OK(vz_collection_query(c, q, K, 64, res, &n));
		CHECK(n == K);
		for (int i = 0; i < K; i++) CHECK(fabsf(res[i].distance - best[i]) <= 1e-5f * (1 + best[i]));
	}
	vz_collection_close(c);
	free(w);
	free(vecs);
	free(ids);
}
