/* test_query_batch.c: vz_collection_query_batch answers every query exactly as
 * vz_collection_query does, in query order, with any number of threads, short batches and long
 * ones (which load the index first); a failing query or a caller that says stop ends the batch
 * after exactly the queries before it. A few queries on a large index read it with pread
 * (vz_hnsw_index.by_read) and answer the same; a file changed under them fails the query. */
#include "t.h"
#include "../../lib/collection_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIM 16
#define ROWS 3000
#define NQ 1500 /* above the 1000 from which a batch loads the index */
#define K 10

struct data {
	float *vecs;
	char (*ids)[16];
	vz_write *w;
};

static float rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (float)((*s >> 40) & 0xffff) / 65536.0f - 0.5f;
}

static struct data make(size_t n, uint64_t seed)
{
	struct data d = { malloc(sizeof(float) * DIM * n), malloc(16 * n), calloc(n, sizeof(vz_write)) };
	CHECK(d.vecs && d.ids && d.w);
	for (size_t i = 0; i < n * DIM; i++) d.vecs[i] = rnd(&seed);
	for (size_t i = 0; i < n; i++) {
		snprintf(d.ids[i], 16, "r%zu", i);
		d.w[i] = (vz_write){ VZ_WRITE_INSERT, d.ids[i], strlen(d.ids[i]), d.vecs + i * DIM, DIM, NULL, 0, i + 1 };
	}
	return d;
}

static void release(struct data *d)
{
	free(d->vecs);
	free(d->ids);
	free(d->w);
}

/* A collection with an index (ROWS bulk-loaded), a WAL delta (50 more rows) and a deleted row. */
static void build(const char *name, enum vz_metric metric)
{
	vz_config cfg;
	vz_config_defaults(&cfg);
	cfg.dim = DIM;
	cfg.metric = metric;
	cfg.checkpoint_ops = 1000000;
	CHECK_OK(vz_collection_create("data", name, &cfg));
	char dir[256];
	snprintf(dir, sizeof dir, "data/dynamic/%s", name);
	vz_collection *c;
	CHECK_OK(vz_collection_open(dir, VZ_OPEN_WRITE, 1000, &c));
	struct data base = make(ROWS, 1), more = make(50, 2);
	for (size_t i = 0; i < 50; i++) {
		snprintf(more.ids[i], 16, "d%zu", i);
		more.w[i].id_len = strlen(more.ids[i]);
	}
	CHECK_OK(vz_collection_write(c, base.w, ROWS, VZ_WRITE_BULK, 2, NULL));
	CHECK_OK(vz_collection_write(c, more.w, 50, 0, 1, NULL));
	vz_write del = { .op = VZ_WRITE_DELETE, .id = "r7", .id_len = 2 };
	CHECK_OK(vz_collection_write(c, &del, 1, 0, 1, NULL));
	vz_collection_close(c);
	release(&base);
	release(&more);
}

static vz_collection *open_read(const char *name)
{
	char dir[256];
	snprintf(dir, sizeof dir, "data/dynamic/%s", name);
	vz_collection *c;
	CHECK_OK(vz_collection_open(dir, VZ_OPEN_READ, 1000, &c));
	return c;
}

/* what a batch handed over: per query, its ids and distances, and in which order it came */
struct got {
	size_t calls, stop_at;
	int stop_rc;
	size_t *order, *n;
	char (*ids)[K][16];
	float (*dist)[K];
};

static int collect(void *ctx, size_t i, const vz_result *r, size_t n)
{
	struct got *g = ctx;
	if (g->calls == g->stop_at) return g->stop_rc;
	g->order[g->calls++] = i;
	g->n[i] = n;
	for (size_t j = 0; j < n && j < K; j++) {
		snprintf(g->ids[i][j], 16, "%.*s", (int)r[j].id_len, r[j].id);
		g->dist[i][j] = r[j].distance;
	}
	return 0;
}

static struct got got_new(size_t nq)
{
	struct got g = { 0, (size_t)-1, 0, calloc(nq, sizeof(size_t)), calloc(nq, sizeof(size_t)), calloc(nq, sizeof *g.ids),
			 calloc(nq, sizeof *g.dist) };
	CHECK(g.order && g.n && g.ids && g.dist);
	return g;
}

static void got_free(struct got *g)
{
	free(g->order);
	free(g->n);
	free(g->ids);
	free(g->dist);
}

/* the answers of one vz_collection_query per query, on a handle that was never preloaded */
static struct got one_by_one(const char *name, const float *q, size_t nq, size_t k)
{
	vz_collection *c = open_read(name);
	struct got g = got_new(nq);
	vz_result r[K];
	for (size_t i = 0; i < nq; i++) {
		size_t n;
		CHECK_OK(vz_collection_query(c, q + i * DIM, k, 32, r, &n));
		collect(&g, i, r, n);
	}
	vz_collection_close(c);
	return g;
}

static void check_same(const struct got *want, const struct got *g, size_t nq)
{
	CHECK_INT(g->calls, nq);
	for (size_t i = 0; i < nq; i++) {
		CHECK_INT(g->order[i], i);
		CHECK_INT(g->n[i], want->n[i]);
		for (size_t j = 0; j < g->n[i]; j++) {
			if (strcmp(g->ids[i][j], want->ids[i][j]) || g->dist[i][j] != want->dist[i][j])
				t_fail(__FILE__, __LINE__, "query %zu result %zu: %s %g, want %s %g", i, j, g->ids[i][j], g->dist[i][j],
				       want->ids[i][j], want->dist[i][j]);
		}
	}
}

TEST(batch_answers_as_single_queries_in_order_with_any_threads)
{
	build("b", VZ_METRIC_EUCLIDEAN);
	struct data q = make(NQ, 99);
	struct got want = one_by_one("b", q.vecs, NQ, K);
	CHECK_INT(want.n[0], K);
	int threads[] = { 1, 2, 3, 0 };
	size_t sizes[] = { NQ, 70, 1 }; /* a long batch (index loaded), short ones (prefaulted) */
	for (size_t s = 0; s < 3; s++) {
		for (size_t t = 0; t < 4; t++) {
			vz_collection *c = open_read("b");
			struct got g = got_new(sizes[s]);
			CHECK_OK(vz_collection_query_batch(c, q.vecs, sizes[s], K, 32, threads[t], collect, &g));
			check_same(&want, &g, sizes[s]);
			got_free(&g);
			vz_collection_close(c);
		}
	}
	/* k 0: every query handed over, with no results; no queries: nothing */
	vz_collection *c = open_read("b");
	struct got g = got_new(NQ);
	CHECK_OK(vz_collection_query_batch(c, q.vecs, 200, 0, 32, 2, collect, &g));
	CHECK_INT(g.calls, 200);
	for (size_t i = 0; i < 200; i++) CHECK_INT(g.n[i], 0);
	g.calls = 0;
	CHECK_OK(vz_collection_query_batch(c, q.vecs, 0, K, 32, 2, collect, &g));
	CHECK_INT(g.calls, 0);
	got_free(&g);
	vz_collection_close(c);
	got_free(&want);
	release(&q);
}

TEST(a_failing_query_or_a_stop_ends_the_batch_after_the_queries_before_it)
{
	build("cos", VZ_METRIC_COSINE);
	struct data q = make(NQ, 5);
	for (int d = 0; d < DIM; d++) q.vecs[700 * DIM + d] = 0; /* cosine has no direction for it */
	int threads[] = { 1, 2, 3 };
	for (size_t t = 0; t < 3; t++) {
		vz_collection *c = open_read("cos");
		struct got g = got_new(NQ);
		CHECK_INT(vz_collection_query_batch(c, q.vecs, NQ, K, 32, threads[t], collect, &g), VZ_EDATA);
		CHECK(strstr(vz_last_error(), "all zeros") != NULL);
		CHECK_INT(g.calls, 700);
		for (size_t i = 0; i < 700; i++) CHECK_INT(g.order[i], i);
		/* the caller stops it: its code comes back, nothing is handed over after */
		g.calls = 0;
		g.stop_at = 300;
		g.stop_rc = 42;
		CHECK_INT(vz_collection_query_batch(c, q.vecs, 600, K, 32, threads[t], collect, &g), 42);
		CHECK_INT(g.calls, 300);
		/* the handle still answers after both */
		vz_result r[K];
		size_t n;
		CHECK_OK(vz_collection_query(c, q.vecs, K, 32, r, &n));
		CHECK_INT(n, K);
		got_free(&g);
		vz_collection_close(c);
	}
	release(&q);
}

/* ef 5 from one query visits some 80 rows, under 1/VZ_READ_SPARSE of ROWS */
#define SPARSE_EF 5

TEST(a_few_queries_read_the_graph_with_pread_and_answer_the_same_bytes)
{
	CHECK((uint64_t)SPARSE_EF * 16 * VZ_READ_SPARSE < ROWS);
	build("p", VZ_METRIC_EUCLIDEAN);
	struct data q = make(200, 7);
	/* mapped: a handle never warmed */
	vz_collection *m = open_read("p");
	struct got want = got_new(200);
	vz_result r[K];
	size_t n;
	for (size_t i = 0; i < 200; i++) {
		CHECK_OK(vz_collection_query(m, q.vecs + i * DIM, K, SPARSE_EF, r, &n));
		collect(&want, i, r, n);
	}
	CHECK(!m->index.by_read);
	vz_collection_close(m);
	CHECK_INT(want.n[0], K);
	/* read with pread, a short batch on 1 and 2 threads: the same ids and distances (files this
	 * small are prefaulted and read through the mapping: vz_collection_warm reads files over
	 * VZ_READ_BYTES so) */
	for (int threads = 1; threads <= 2; threads++) {
		vz_collection *c = open_read("p");
		vz_collection_warm(c, 1, SPARSE_EF);
		CHECK(!c->index.by_read);
		CHECK(vz_coll_read_by_pread(c));
		CHECK(c->index.by_read);
		CHECK(c->index.read_index_fd >= 0 && c->index.read_vec_fd >= 0);
		struct got g = got_new(200);
		CHECK_OK(vz_collection_query_batch(c, q.vecs, 2, K, SPARSE_EF, threads, collect, &g));
		check_same(&want, &g, 2);
		CHECK(c->index.by_read);
		vz_collection_close(c);
		got_free(&g);
	}
	/* a batch that visits more than that is prefaulted, not read; a long one is loaded, and
	 * the descriptors of an earlier short one are closed */
	vz_collection *c = open_read("p");
	CHECK(vz_coll_read_by_pread(c));
	vz_collection_warm(c, 1, SPARSE_EF);
	CHECK(c->index.by_read);
	struct got g = got_new(200);
	CHECK_OK(vz_collection_query_batch(c, q.vecs, 200, K, SPARSE_EF, 1, collect, &g));
	check_same(&want, &g, 200);
	CHECK(c->index.by_read);
	vz_collection_warm(c, 1500, 64);
	CHECK(!c->index.by_read);
	CHECK(c->index.packed != NULL);
	vz_collection_close(c);
	got_free(&g);
	got_free(&want);
	release(&q);
}

TEST(a_graph_read_with_pread_that_shrinks_under_the_handle_fails_the_query_naming_the_file)
{
	build("s", VZ_METRIC_EUCLIDEAN);
	struct data q = make(1, 3);
	vz_collection *c = open_read("s");
	CHECK(vz_coll_read_by_pread(c));
	CHECK(c->index.by_read);
	/* cut index.hnsw to its header (as no writer of vz does: the reads find the file short) */
	CHECK_INT(truncate("data/dynamic/s/index.hnsw", 64), 0);
	vz_result r[K];
	size_t n = 99;
	CHECK_INT(vz_collection_query(c, q.vecs, K, SPARSE_EF, r, &n), VZ_ECORRUPT);
	CHECK_INT(n, 0);
	CHECK(strstr(vz_last_error(), "index.hnsw: reading at offset ") != NULL);
	CHECK(strstr(vz_last_error(), "the file is shorter than when it was opened") != NULL);
	vz_collection_close(c);
	/* opened again, the cut index is refused as unusable, and vz verify's checks name it */
	vz_collection *again;
	CHECK_INT(vz_collection_open("data/dynamic/s", VZ_OPEN_READ, 1000, &again), VZ_ECORRUPT);
	CHECK(strstr(vz_last_error(), "index unusable") != NULL);
	release(&q);
}

TEST(a_file_replaced_since_the_open_is_not_read_with_pread)
{
	build("x", VZ_METRIC_EUCLIDEAN);
	struct data q = make(1, 4);
	vz_collection *c = open_read("x");
	struct got want = got_new(1);
	vz_result r[K];
	size_t n;
	CHECK_OK(vz_collection_query(c, q.vecs, K, SPARSE_EF, r, &n));
	collect(&want, 0, r, n);
	/* a new index.hnsw in its place while the handle maps the old one: a copy with one byte
	 * of its header's generation changed, renamed over it */
	char *bytes;
	size_t len;
	CHECK_OK(vz_read_file("data/dynamic/x/index.hnsw", 1u << 30, &bytes, &len));
	bytes[16] ^= 1;
	FILE *f = fopen("data/dynamic/x/index.hnsw.tmp", "wb");
	CHECK(f && fwrite(bytes, 1, len, f) == len && fclose(f) == 0);
	free(bytes);
	CHECK_INT(rename("data/dynamic/x/index.hnsw.tmp", "data/dynamic/x/index.hnsw"), 0);
	/* its header is not the mapped one: the graph is not read from it, and the mapping answers */
	CHECK(!vz_coll_read_by_pread(c));
	CHECK(!c->index.by_read);
	struct got g = got_new(1);
	CHECK_OK(vz_collection_query(c, q.vecs, K, SPARSE_EF, r, &n));
	collect(&g, 0, r, n);
	check_same(&want, &g, 1);
	vz_collection_close(c);
	got_free(&g);
	got_free(&want);
	release(&q);
}

/* A float graph of VZ_SEARCH_CODES_MIN_ROWS rows (codes kept in index.hnsw), M 8, efC 32 */
static void build_codes(const char *name)
{
	vz_config cfg;
	vz_config_defaults(&cfg);
	cfg.dim = DIM;
	cfg.metric = VZ_METRIC_EUCLIDEAN;
	cfg.m = 8;
	cfg.ef_construction = 32;
	CHECK_OK(vz_collection_create("data", name, &cfg));
	char dir[256];
	snprintf(dir, sizeof dir, "data/dynamic/%s", name);
	vz_collection *c;
	CHECK_OK(vz_collection_open(dir, VZ_OPEN_WRITE, 1000, &c));
	struct data base = make(VZ_SEARCH_CODES_MIN_ROWS, 5);
	CHECK_OK(vz_collection_write(c, base.w, VZ_SEARCH_CODES_MIN_ROWS, VZ_WRITE_BULK, 2, NULL));
	vz_collection_close(c);
	release(&base);
}

/* Queries of a graph read with pread, c's answers into a new got */
static struct got query_all(vz_collection *c, const float *q, size_t nq, size_t ef)
{
	struct got g = got_new(nq);
	vz_result r[K];
	for (size_t i = 0; i < nq; i++) {
		size_t n;
		CHECK_OK(vz_collection_query(c, q + i * DIM, K, ef, r, &n));
		collect(&g, i, r, n);
	}
	return g;
}

/* A float graph with codes read with pread measures the codes it reads and re-ranks on the
 * floats it reads, as the mapped search does: the same ids and distances. Its codes cut short
 * under the handle, or a descriptor that cannot be read, fail the query naming index.hnsw;
 * level-0 lists overwritten with counts and ids out of range are answered without a crash. */
TEST(a_float_graph_with_codes_read_with_pread_answers_the_same_bytes_and_survives_damage)
{
	build_codes("k");
	struct data q = make(30, 8);
	vz_collection *m = open_read("k");
	CHECK(m->index.float_codes && m->index.sq_codes);
	struct got want = query_all(m, q.vecs, 30, 32);
	CHECK(!m->index.by_read);
	CHECK_INT(want.n[0], K);
	vz_collection_close(m);
	vz_collection *c = open_read("k");
	CHECK(vz_coll_read_by_pread(c));
	struct got g = query_all(c, q.vecs, 30, 32);
	check_same(&want, &g, 30);
	got_free(&g);
	/* the results' ids were read too, into copies outside the mapping that stay until close */
	vz_result first[K], r[K];
	size_t n0, n;
	CHECK_OK(vz_collection_query(c, q.vecs, K, 32, first, &n0));
	CHECK_INT(n0, K);
	for (size_t i = 0; i < 300; i++) CHECK_OK(vz_collection_query(c, q.vecs + (i % 30) * DIM, K, 32, r, &n));
	const unsigned char *map = c->vec.map.data;
	for (size_t j = 0; j < K; j++) {
		CHECK((const unsigned char *)first[j].id < map || (const unsigned char *)first[j].id >= map + c->vec.map.size);
		CHECK(first[j].id_len == strlen(want.ids[0][j]) && !memcmp(first[j].id, want.ids[0][j], first[j].id_len));
	}
	/* the best row's record pointing outside the heap: that result has no id, as through the
	 * mapping, and the others theirs */
	int64_t best = vz_coll_base_find(c, want.ids[0][0], strlen(want.ids[0][0]));
	CHECK(best >= 0);
	unsigned char bad[8];
	memset(bad, 0xee, sizeof bad);
	int vfd = open("data/dynamic/k/vectors.bin", O_WRONLY);
	off_t rec = (off_t)(c->vec.rowinfo - map + (uint64_t)best * VZ_ROWINFO_SIZE);
	unsigned char keep[8];
	CHECK(vfd >= 0 && pread(c->index.read_vec_fd, keep, sizeof keep, rec) == (ssize_t)sizeof keep);
	CHECK(pwrite(vfd, bad, sizeof bad, rec) == (ssize_t)sizeof bad);
	CHECK_OK(vz_collection_query(c, q.vecs, K, 32, r, &n));
	CHECK_INT(n, K);
	CHECK(r[0].id == NULL && r[0].id_len == 0);
	CHECK(r[1].id_len == strlen(want.ids[0][1]) && !memcmp(r[1].id, want.ids[0][1], r[1].id_len));
	CHECK(pwrite(vfd, keep, sizeof keep, rec) == (ssize_t)sizeof keep);
	close(vfd);
	/* a descriptor that cannot be read (a directory: EISDIR) fails the query with the errno */
	int ifd = c->index.read_index_fd, dfd = open("data", O_RDONLY | O_DIRECTORY);
	CHECK(dfd >= 0);
	c->index.read_index_fd = dfd;
	n = 99;
	CHECK_INT(vz_collection_query(c, q.vecs, K, 32, r, &n), VZ_EOS);
	CHECK_INT(n, 0);
	CHECK(strstr(vz_last_error(), "index.hnsw: reading at offset ") && strstr(vz_last_error(), strerror(EISDIR)));
	c->index.read_index_fd = ifd;
	close(dfd);
	/* every level-0 list made a count of 2^32-1 and ids past the last row: the search keeps to
	 * what it can reach (the descent's nodes), without a read or a step outside */
	size_t l0 = (size_t)((const unsigned char *)c->index.links0 - c->index_map.data);
	size_t l0_len = VZ_SEARCH_CODES_MIN_ROWS * (1 + (size_t)c->index.m0) * sizeof(uint32_t);
	unsigned char *ff = malloc(l0_len);
	CHECK(ff);
	memset(ff, 0xff, l0_len);
	int wfd = open("data/dynamic/k/index.hnsw", O_WRONLY);
	CHECK(wfd >= 0 && pwrite(wfd, ff, l0_len, (off_t)l0) == (ssize_t)l0_len);
	free(ff);
	for (size_t i = 0; i < 30; i++) {
		CHECK_OK(vz_collection_query(c, q.vecs + i * DIM, K, 32, r, &n));
		CHECK(n >= 1 && n <= K);
		for (size_t j = 0; j < n; j++) CHECK(r[j].id_len > 1 && r[j].id[0] == 'r');
	}
	/* vectors.bin cut where the row records start: the search reads its floats, then the
	 * first record read fails the query naming the file (the mapping is not touched) */
	CHECK_INT(truncate("data/dynamic/k/vectors.bin", (off_t)(c->vec.rowinfo - map)), 0);
	n = 99;
	CHECK_INT(vz_collection_query(c, q.vecs, K, 32, r, &n), VZ_ECORRUPT);
	CHECK_INT(n, 0);
	CHECK(strstr(vz_last_error(), "vectors.bin: reading at offset ") && strstr(vz_last_error(), "shorter than when it was opened"));
	/* the codes cut off (the file ends where they start): the first code read fails it */
	size_t codes = (size_t)(c->index.sq_codes - c->index_map.data);
	CHECK_INT(ftruncate(wfd, (off_t)codes), 0);
	close(wfd);
	n = 99;
	CHECK_INT(vz_collection_query(c, q.vecs, K, 32, r, &n), VZ_ECORRUPT);
	CHECK_INT(n, 0);
	CHECK(strstr(vz_last_error(), "index.hnsw: reading at offset ") != NULL);
	CHECK(strstr(vz_last_error(), "the file is shorter than when it was opened") != NULL);
	vz_collection_close(c);
	got_free(&want);
	release(&q);
}

/* The descent reads a node's upper lists (levels 1..L) in one block: the answers are the
 * mapping's; the block damaged in place is searched without a step outside; a file cut inside
 * the block fails the query naming the block's offset, and the same handle answers as before
 * once the bytes are back (a failed block is not kept for the next query). */
TEST(a_graph_read_with_pread_reads_a_nodes_upper_lists_in_one_block_and_fails_cleanly_short)
{
	build("u", VZ_METRIC_EUCLIDEAN);
	struct data q = make(30, 9);
	vz_collection *m = open_read("u");
	CHECK(m->index.max_level >= 2); /* 3000 nodes at M 16: levels 1 and 2 read in one block */
	struct got want = query_all(m, q.vecs, 30, SPARSE_EF);
	vz_collection_close(m);
	vz_collection *c = open_read("u");
	CHECK(vz_coll_read_by_pread(c));
	struct got g = query_all(c, q.vecs, 30, SPARSE_EF);
	check_same(&want, &g, 30);
	got_free(&g);
	const vz_hnsw_index *idx = &c->index;
	uint32_t ep = idx->entry_point, base = idx->upper_index[ep];
	size_t words = (size_t)idx->max_level * (1 + idx->m);
	off_t at = (off_t)((const unsigned char *)(idx->upper + base) - idx->data);
	uint32_t *keep = malloc(words * sizeof(uint32_t)), *bad = malloc(words * sizeof(uint32_t));
	CHECK(keep && bad);
	CHECK(pread(idx->read_index_fd, keep, words * sizeof(uint32_t), at) == (ssize_t)(words * sizeof(uint32_t)));
	/* the entry point's lists made a count of 2^32-1 and ids past the last row */
	memset(bad, 0xff, words * sizeof(uint32_t));
	int wfd = open("data/dynamic/u/index.hnsw", O_WRONLY);
	CHECK(wfd >= 0 && pwrite(wfd, bad, words * sizeof(uint32_t), at) == (ssize_t)(words * sizeof(uint32_t)));
	vz_result r[K];
	size_t n;
	for (size_t i = 0; i < 30; i++) {
		CHECK_OK(vz_collection_query(c, q.vecs + i * DIM, K, SPARSE_EF, r, &n));
		CHECK_INT(n, K);
		for (size_t j = 0; j < n; j++) CHECK(r[j].id_len > 1 && (r[j].id[0] == 'r' || r[j].id[0] == 'd'));
	}
	CHECK(pwrite(wfd, keep, words * sizeof(uint32_t), at) == (ssize_t)(words * sizeof(uint32_t)));
	/* cut one word into the block: its read comes back short */
	struct stat st;
	CHECK_INT(fstat(wfd, &st), 0);
	char *tail = malloc((size_t)st.st_size - (size_t)at);
	CHECK(tail && pread(idx->read_index_fd, tail, (size_t)st.st_size - (size_t)at, at) == st.st_size - at);
	CHECK_INT(ftruncate(wfd, at + 4), 0);
	n = 99;
	CHECK_INT(vz_collection_query(c, q.vecs, K, SPARSE_EF, r, &n), VZ_ECORRUPT);
	CHECK_INT(n, 0);
	char want_err[128];
	snprintf(want_err, sizeof want_err, "index.hnsw: reading at offset %lld: the file is shorter than when it was opened", (long long)at);
	CHECK(strstr(vz_last_error(), want_err) != NULL);
	/* the bytes back: the same handle answers as the mapping did */
	CHECK(pwrite(wfd, tail, (size_t)st.st_size - (size_t)at, at) == st.st_size - at);
	close(wfd);
	g = query_all(c, q.vecs, 30, SPARSE_EF);
	check_same(&want, &g, 30);
	got_free(&g);
	vz_collection_close(c);
	free(tail);
	free(keep);
	free(bad);
	got_free(&want);
	release(&q);
}

/* A read-only handle of a checkpoint interrupted after its commit maps index.hnsw.new (the
 * committed generation; index.hnsw another): the graph is read by pread from that same file,
 * not from index.hnsw, and answers as the mapping does. */
TEST(a_graph_mapped_from_its_new_file_is_read_with_pread_from_that_file)
{
	build("w", VZ_METRIC_EUCLIDEAN);
	struct data q = make(20, 10);
	vz_collection *m = open_read("w");
	struct got want = query_all(m, q.vecs, 20, SPARSE_EF);
	vz_collection_close(m);
	char *bytes;
	size_t len;
	CHECK_OK(vz_read_file("data/dynamic/w/index.hnsw", 1u << 30, &bytes, &len));
	CHECK_INT(rename("data/dynamic/w/index.hnsw", "data/dynamic/w/index.hnsw.new"), 0);
	bytes[16] ^= 1; /* another generation */
	FILE *f = fopen("data/dynamic/w/index.hnsw", "wb");
	CHECK(f && fwrite(bytes, 1, len, f) == len && fclose(f) == 0);
	free(bytes);
	vz_collection *c = open_read("w");
	CHECK(vz_coll_read_by_pread(c));
	struct stat mapped, read;
	CHECK_INT(stat("data/dynamic/w/index.hnsw.new", &mapped), 0);
	CHECK_INT(fstat(c->index.read_index_fd, &read), 0);
	CHECK(read.st_ino == mapped.st_ino && read.st_dev == mapped.st_dev);
	struct got g = query_all(c, q.vecs, 20, SPARSE_EF);
	check_same(&want, &g, 20);
	got_free(&g);
	vz_collection_close(c);
	got_free(&want);
	release(&q);
}
