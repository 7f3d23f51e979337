/* test_bulk.c: large loads. A bulk insert of new rows goes from the caller's batch straight
 * into the checkpoint (indexed in place for an empty collection), binary input files are
 * mapped and let go as they are parsed, new data files are re-read into huge pages, and
 * preloading a collection changes no answer. Each path is checked against the plain one. */
#include "t.h"

#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIM 24
#define ROWS 3000

static void fill(float *v, size_t n, uint32_t dim, unsigned seed)
{
	uint64_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < n * dim; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		v[i] = (float)((x >> 40) % 20001) / 10000.0f - 1.0f;
	}
}

struct rows {
	vz_write *w;
	float *vecs;
	char (*ids)[24];
	char (*pl)[24];
	size_t n;
};

/* n insert rows r<first..>; vectors in one array unless scattered (each row its own block) */
static struct rows make_rows(size_t first, size_t n, unsigned seed, bool scattered)
{
	struct rows r = { calloc(n, sizeof(vz_write)), calloc(n * DIM * (scattered ? 2 : 1), sizeof(float)), calloc(n, 24), calloc(n, 24), n };
	CHECK(r.w && r.vecs && r.ids && r.pl);
	fill(r.vecs, n * (scattered ? 2 : 1), DIM, seed);
	for (size_t i = 0; i < n; i++) {
		snprintf(r.ids[i], 24, "r%zu", first + i);
		snprintf(r.pl[i], 24, "{\"n\":%zu}", first + i);
		/* scattered: row i at block 2i, so no row follows the one before it */
		const float *v = r.vecs + (scattered ? 2 * i : i) * DIM;
		r.w[i] = (vz_write){ VZ_WRITE_INSERT, r.ids[i], strlen(r.ids[i]), v, DIM, r.pl[i], strlen(r.pl[i]), i + 1 };
	}
	return r;
}

static void free_rows(struct rows *r)
{
	free(r->w);
	free(r->vecs);
	free(r->ids);
	free(r->pl);
}

static vz_collection *create_open(const char *name, enum vz_metric metric)
{
	return t_create_open(name, DIM, metric, VZ_QUANT_NONE);
}

/* every row of r is in c with its vector (normalised when cosine) and payload, exactly */
static void check_rows(vz_collection *c, const struct rows *r, bool cosine)
{
	for (size_t i = 0; i < r->n; i++) {
		vz_result res;
		const float *v;
		CHECK_INT(vz_collection_get(c, r->w[i].id, r->w[i].id_len, &res, &v), VZ_OK);
		CHECK(res.payload && res.payload_len == strlen(r->pl[i]) && !memcmp(res.payload, r->pl[i], res.payload_len));
		float want[DIM];
		memcpy(want, r->w[i].vector, sizeof want);
		if (cosine) CHECK_INT(vz_normalize(want, DIM), VZ_OK);
		for (int d = 0; d < DIM; d++)
			if (cosine ? fabsf(v[d] - want[d]) > 1e-6f : v[d] != want[d])
				t_fail(__FILE__, __LINE__, "row %zu value %d: %g, want %g", i, d, v[d], want[d]);
	}
}

static void query_ids(vz_collection *c, const float *q, char out[10][24])
{
	vz_result res[10];
	size_t n;
	CHECK_INT(vz_collection_query(c, q, 10, 64, res, &n), VZ_OK);
	CHECK_INT(n, 10);
	memset(out, 0, sizeof(char[10][24]));
	for (size_t i = 0; i < n; i++) snprintf(out[i], 24, "%.*s", (int)res[i].id_len, res[i].id);
}

TEST(bulk_load_into_an_empty_collection_equals_the_logged_path)
{
	struct rows r = make_rows(0, ROWS, 1, false);
	vz_collection *bulk = create_open("bulk", VZ_METRIC_EUCLIDEAN), *logged = create_open("logged", VZ_METRIC_EUCLIDEAN);
	vz_write_stats st;
	CHECK_INT(vz_collection_write(bulk, r.w, r.n, VZ_WRITE_BULK, 1, &st), VZ_OK);
	CHECK_INT(st.inserted, ROWS);
	CHECK(st.checkpointed);
	CHECK_INT(st.first_seq, 0); /* nothing went through the WAL */
	CHECK_INT(vz_collection_write(logged, r.w, r.n, 0, 1, NULL), VZ_OK);
	CHECK_INT(vz_collection_checkpoint(logged, 1, false), VZ_OK);
	vz_collection_close(bulk);
	vz_collection_close(logged);
	/* reopened from disk: the same rows, and (single-threaded builds) the same answers */
	CHECK_INT(vz_collection_open("data/dynamic/bulk", VZ_OPEN_READ, 1000, &bulk), VZ_OK);
	CHECK_INT(vz_collection_open("data/dynamic/logged", VZ_OPEN_READ, 1000, &logged), VZ_OK);
	check_rows(bulk, &r, false);
	vz_collection_stats s;
	CHECK_INT(vz_collection_stats_get(bulk, &s), VZ_OK);
	CHECK_INT(s.wal_ops, 0);
	for (size_t i = 0; i < 50; i++) {
		char a[10][24], b[10][24];
		query_ids(bulk, r.w[i * 7].vector, a);
		query_ids(logged, r.w[i * 7].vector, b);
		CHECK(!strcmp(a[0], r.ids[i * 7])); /* a stored row is its own nearest neighbour */
		CHECK(!memcmp(a, b, sizeof a));
	}
	vz_collection_close(bulk);
	vz_collection_close(logged);
	int problems = -1;
	CHECK_INT(vz_collection_verify("data/dynamic/bulk", false, 1000, NULL, NULL, &problems), VZ_OK);
	CHECK_INT(problems, 0);
	free_rows(&r);
}

TEST(bulk_load_of_scattered_or_cosine_rows_copies_and_leaves_the_batch_alone)
{
	struct rows r = make_rows(0, 500, 2, true), r2 = make_rows(0, 500, 3, false);
	float *before = malloc(500 * DIM * sizeof(float));
	memcpy(before, r2.vecs, 500 * DIM * sizeof(float));
	vz_collection *a = create_open("a", VZ_METRIC_EUCLIDEAN), *b = create_open("b", VZ_METRIC_COSINE);
	CHECK_INT(vz_collection_write(a, r.w, r.n, VZ_WRITE_BULK, 2, NULL), VZ_OK);
	CHECK_INT(vz_collection_write(b, r2.w, r2.n, VZ_WRITE_BULK, 2, NULL), VZ_OK);
	check_rows(a, &r, false);
	check_rows(b, &r2, true);
	/* the caller's vectors were normalised in a copy, not in place */
	CHECK(!memcmp(before, r2.vecs, 500 * DIM * sizeof(float)));
	free(before);
	vz_collection_close(a);
	vz_collection_close(b);
	free_rows(&r);
	free_rows(&r2);
}

TEST(bulk_load_joins_the_base_and_the_wal_tail)
{
	vz_collection *c = create_open("c", VZ_METRIC_EUCLIDEAN);
	struct rows base = make_rows(0, 400, 4, false), tail = make_rows(400, 30, 5, false), more = make_rows(430, 700, 6, false);
	CHECK_INT(vz_collection_write(c, base.w, base.n, 0, 1, NULL), VZ_OK);
	CHECK_INT(vz_collection_checkpoint(c, 1, false), VZ_OK);
	CHECK_INT(vz_collection_write(c, tail.w, tail.n, 0, 1, NULL), VZ_OK);
	vz_write del = { VZ_WRITE_DELETE, "r7", 2, NULL, 0, NULL, 0, 1 };
	CHECK_INT(vz_collection_write(c, &del, 1, 0, 1, NULL), VZ_OK);
	CHECK_INT(vz_collection_write(c, more.w, more.n, VZ_WRITE_BULK, 2, NULL), VZ_OK);
	vz_collection_close(c);
	CHECK_INT(vz_collection_open("data/dynamic/c", VZ_OPEN_READ, 1000, &c), VZ_OK);
	vz_collection_stats s;
	CHECK_INT(vz_collection_stats_get(c, &s), VZ_OK);
	CHECK_INT(s.wal_ops, 0); /* the tail was folded by the bulk checkpoint */
	CHECK_INT(s.live, 400 - 1 + 30 + 700);
	base.n = 7; /* r0..r6: r7 is deleted */
	check_rows(c, &base, false);
	check_rows(c, &tail, false);
	check_rows(c, &more, false);
	vz_result res;
	CHECK_INT(vz_collection_get(c, "r7", 2, &res, NULL), VZ_ENOENT);
	/* a bulk insert of an id already present is refused whole */
	vz_collection_close(c);
	CHECK_INT(vz_collection_open("data/dynamic/c", VZ_OPEN_WRITE, 1000, &c), VZ_OK);
	struct rows again = make_rows(5000, 2, 7, false);
	snprintf(again.ids[1], 24, "r3");
	again.w[1].id_len = 2;
	CHECK_INT(vz_collection_write(c, again.w, again.n, VZ_WRITE_BULK, 1, NULL), VZ_EEXIST);
	CHECK_INT(vz_collection_get(c, "r5000", 5, &res, NULL), VZ_ENOENT);
	vz_collection_close(c);
	free_rows(&base);
	free_rows(&tail);
	free_rows(&more);
	free_rows(&again);
}

/* a file of n rows x dim as .fvecs (npy false) or .npy */
static void write_vectors_file(const char *path, const float *v, size_t n, uint32_t dim, bool npy)
{
	FILE *f = fopen(path, "wb");
	CHECK(f);
	if (npy) {
		char h[128];
		int hl = snprintf(h, sizeof h, "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %u), }", n, dim);
		while ((10 + hl + 1) % 64) h[hl++] = ' ';
		h[hl++] = '\n';
		unsigned char pre[10] = { 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hl & 0xff), (unsigned char)(hl >> 8) };
		CHECK(fwrite(pre, 1, 10, f) == 10 && fwrite(h, 1, (size_t)hl, f) == (size_t)hl);
		CHECK(fwrite(v, sizeof(float) * dim, n, f) == n);
	} else {
		for (size_t i = 0; i < n; i++) CHECK(fwrite(&dim, 4, 1, f) == 1 && fwrite(v + i * dim, sizeof(float) * dim, 1, f) == 1);
	}
	CHECK(fclose(f) == 0);
}

TEST(binary_files_over_the_release_chunk_read_exactly_as_parsed_from_memory)
{
	/* 40000 x 128 floats: 20 MB, past the 16 MiB chunks that are let go while parsing */
	const size_t n = 40000;
	const uint32_t dim = 128;
	float *v = malloc(n * dim * sizeof(float));
	CHECK(v);
	for (size_t i = 0; i < n * dim; i++) v[i] = (float)(i % 9973) * 0.25f - (float)(i % 7);
	for (int npy = 0; npy < 2; npy++) {
		const char *path = npy ? "big.npy" : "big.fvecs";
		write_vectors_file(path, v, n, dim, npy);
		vz_batch mapped, parsed;
		CHECK_INT(vz_batch_read(path, VZ_FMT_AUTO, 0, 0, 0, &mapped), VZ_OK);
		size_t len;
		char *bytes = t_slurp(path, &len);
		CHECK_INT(vz_batch_parse(path, (const unsigned char *)bytes, len, npy ? VZ_FMT_NPY : VZ_FMT_FVECS, 0, 0, 0, &parsed), VZ_OK);
		CHECK_INT(mapped.n, n);
		CHECK_INT(mapped.dim, dim);
		CHECK(!memcmp(mapped.vectors, v, n * dim * sizeof(float)));
		CHECK(!memcmp(parsed.vectors, v, n * dim * sizeof(float)));
		CHECK(!strcmp(mapped.ids[n - 1], "39999") && !strcmp(parsed.ids[n - 1], "39999"));
		/* the same file through a pipe (not mappable) reads the same */
		vz_batch piped;
		CHECK_INT(t_sh("mkfifo pipe && (cat %s > pipe &)", path), 0);
		CHECK_INT(vz_batch_read("pipe", npy ? VZ_FMT_NPY : VZ_FMT_FVECS, 0, 0, 0, &piped), VZ_OK);
		CHECK_INT(piped.n, n);
		CHECK(!memcmp(piped.vectors, v, n * dim * sizeof(float)));
		unlink("pipe");
		/* one value in the last chunk made NaN: refused, naming the row, as from memory */
		float nan = NAN;
		memcpy(bytes + len - 4, &nan, 4); /* the last value of the last row */
		t_write(path, bytes, len);
		vz_batch bad;
		CHECK_INT(vz_batch_read(path, VZ_FMT_AUTO, 0, 0, 0, &bad), VZ_EDATA);
		CHECK(strstr(vz_last_error(), "row 40000"));
		vz_batch_free(&mapped);
		vz_batch_free(&parsed);
		vz_batch_free(&piped);
		free(bytes);
	}
	free(v);
}

TEST(huge_page_reread_keeps_the_file_and_ignores_what_it_cannot_do)
{
	size_t len = (3u << 20) + 12345;
	unsigned char *d = malloc(len);
	CHECK(d);
	for (size_t i = 0; i < len; i++) d[i] = (unsigned char)(i * 131 + (i >> 13));
	t_write("f", d, len);
	uint64_t h = vz_hash64(d, len);
	vz_cache_huge("f");
	size_t got;
	unsigned char *back = (unsigned char *)t_slurp("f", &got);
	CHECK_INT(got, len);
	CHECK(vz_hash64(back, got) == h);
	vz_cache_huge("missing");   /* no file: nothing happens */
	vz_cache_huge(".");         /* not a regular file */
	free(back);
	free(d);
}

TEST(preloading_a_collection_changes_no_answer)
{
	struct rows r = make_rows(0, ROWS, 8, false);
	vz_collection *c = create_open("p", VZ_METRIC_EUCLIDEAN);
	CHECK_INT(vz_collection_write(c, r.w, r.n, VZ_WRITE_BULK, 2, NULL), VZ_OK);
	vz_collection_close(c);
	CHECK_INT(vz_collection_open("data/dynamic/p", VZ_OPEN_READ, 1000, &c), VZ_OK);
	char before[40][10][24], after[10][24];
	for (int i = 0; i < 40; i++) query_ids(c, r.w[i * 11 + 3].vector, before[i]);
	vz_collection_preload(c);
	for (int i = 0; i < 40; i++) {
		query_ids(c, r.w[i * 11 + 3].vector, after);
		CHECK(!memcmp(before[i], after, sizeof after));
	}
	vz_collection_close(c);
	free_rows(&r);
}

TEST(sq8_collection_reranks_on_the_exact_float_vectors)
{
	struct rows r = make_rows(0, ROWS, 9, false);
	vz_collection *c = t_create_open("q8", DIM, VZ_METRIC_EUCLIDEAN, VZ_QUANT_SQ8);
	CHECK_INT(vz_collection_write(c, r.w, r.n, VZ_WRITE_BULK, 1, NULL), VZ_OK);
	vz_collection_close(c);
	CHECK_INT(vz_collection_open("data/dynamic/q8", VZ_OPEN_READ, 1000, &c), VZ_OK);
	for (int preload = 0; preload < 2; preload++) {
		if (preload) vz_collection_preload(c);
		for (size_t i = 0; i < 50; i++) {
			const float *q = r.w[i * 13].vector;
			vz_result res[10];
			size_t n;
			CHECK_INT(vz_collection_query(c, q, 10, 64, res, &n), VZ_OK);
			CHECK_INT(n, 10);
			/* a stored row is its own nearest neighbour, at distance 0 exactly (sq8 alone
			 * would not give 0), and every distance is the float one, read back from disk */
			CHECK(res[0].id_len == strlen(r.ids[i * 13]) && !memcmp(res[0].id, r.ids[i * 13], res[0].id_len));
			CHECK(res[0].distance == 0.0f);
			for (size_t j = 0; j < n; j++) {
				vz_result got;
				const float *v;
				CHECK_INT(vz_collection_get(c, res[j].id, res[j].id_len, &got, &v), VZ_OK);
				CHECK(res[j].distance == vz_distance(VZ_METRIC_EUCLIDEAN, q, v, DIM));
				if (j) CHECK(res[j - 1].distance <= res[j].distance);
			}
		}
	}
	vz_collection_close(c);
	free_rows(&r);
}

/* The same bytes but for the collection id (header bytes 40-55) and the header checksum that
 * covers it: each collection has its own. */
static bool same_file(const char *a, const char *b)
{
	size_t la, lb;
	char *x = t_slurp(a, &la), *y = t_slurp(b, &lb);
	bool same = la == lb && la >= 64 && !memcmp(x, y, 40) && !memcmp(x + 64, y + 64, la - 64);
	free(x);
	free(y);
	return same;
}

/* the rows of batch b as writes (ids and vectors the batch's), as vz insert makes them */
static vz_write *batch_writes(const vz_batch *b)
{
	vz_write *w = calloc(b->n, sizeof *w);
	CHECK(w);
	for (size_t i = 0; i < b->n; i++)
		w[i] = (vz_write){ VZ_WRITE_INSERT, b->ids[i], strlen(b->ids[i]), vz_batch_row(b, i), b->dim,
				   NULL, 0, i + 1 };
	return w;
}

TEST(a_mapped_input_loads_into_sq8_exactly_as_a_copied_one)
{
	struct rows r = make_rows(0, ROWS, 11, false);
	for (int npy = 0; npy < 2; npy++) {
		const char *path = npy ? "in.npy" : "in.fvecs";
		write_vectors_file(path, r.vecs, ROWS, DIM, npy);
		vz_batch mapped, copied;
		CHECK_INT(vz_batch_read(path, VZ_FMT_AUTO, 0, VZ_READ_MAPPED, 0, &mapped), VZ_OK);
		CHECK_INT(vz_batch_read(path, VZ_FMT_AUTO, 0, 0, 0, &copied), VZ_OK);
		/* the rows stay in the file's mapping, .fvecs rows one dimension word apart */
		CHECK(mapped.map.data != NULL && copied.map.data == NULL);
		CHECK_INT(mapped.stride, npy ? 0 : DIM + 1);
		CHECK_INT(copied.stride, 0);
		vz_write *wm = batch_writes(&mapped), *wc = batch_writes(&copied);
		for (size_t i = 0; i < ROWS; i++) CHECK(!memcmp(wm[i].vector, r.vecs + i * DIM, sizeof(float) * DIM));
		enum vz_metric metrics[2] = { VZ_METRIC_EUCLIDEAN, VZ_METRIC_COSINE };
		for (int m = 0; m < 2; m++) {
			char a[32], b[32], f[32], pa[96], pb[96], pf[96];
			snprintf(a, sizeof a, "m%d%d", npy, m);
			snprintf(b, sizeof b, "c%d%d", npy, m);
			snprintf(f, sizeof f, "f%d%d", npy, m);
			vz_collection *ca = t_create_open(a, DIM, metrics[m], VZ_QUANT_SQ8), *cb = t_create_open(b, DIM, metrics[m], VZ_QUANT_SQ8);
			vz_collection *cf = create_open(f, metrics[m]);
			CHECK_INT(vz_collection_write(ca, wm, ROWS, VZ_WRITE_BULK | VZ_WRITE_RELEASE, 1, NULL), VZ_OK);
			CHECK_INT(vz_collection_write(cb, wc, ROWS, VZ_WRITE_BULK, 1, NULL), VZ_OK);
			CHECK_INT(vz_collection_write(cf, wc, ROWS, VZ_WRITE_BULK, 1, NULL), VZ_OK);
			vz_collection_close(ca);
			vz_collection_close(cb);
			vz_collection_close(cf);
			/* byte for byte the same files, whether the rows were mapped and let go or copied;
			 * and the same stored floats (normalised for cosine) as without sq8 */
			const char *names[2] = { "vectors.bin", "index.hnsw" };
			for (int k = 0; k < 2; k++) {
				snprintf(pa, sizeof pa, "data/dynamic/%s/%s", a, names[k]);
				snprintf(pb, sizeof pb, "data/dynamic/%s/%s", b, names[k]);
				snprintf(pf, sizeof pf, "data/dynamic/%s/%s", f, names[k]);
				CHECK(same_file(pa, pb));
				if (k == 0) CHECK(same_file(pa, pf));
			}
			snprintf(pa, sizeof pa, "data/dynamic/%s", a);
			CHECK_INT(vz_collection_open(pa, VZ_OPEN_READ, 1000, &ca), VZ_OK);
			for (size_t i = 0; i < 40; i++) {
				vz_result res[10];
				size_t n;
				CHECK_INT(vz_collection_query(ca, r.vecs + i * 71 * DIM, 10, 64, res, &n), VZ_OK);
				CHECK(n == 10 && res[0].id_len == strlen(copied.ids[i * 71]) && !memcmp(res[0].id, copied.ids[i * 71], res[0].id_len));
			}
			vz_collection_close(ca);
		}
		/* the pages let go read back the same */
		for (size_t i = 0; i < ROWS; i++) CHECK(!memcmp(wm[i].vector, r.vecs + i * DIM, sizeof(float) * DIM));
		free(wm);
		free(wc);
		vz_batch_free(&mapped);
		vz_batch_free(&copied);
		/* refusals are the same with the rows left in place: a NaN, a row of another dimension */
		size_t len;
		char *bytes = t_slurp(path, &len);
		float nan = NAN;
		memcpy(bytes + len - 8, &nan, 4);
		t_write(path, bytes, len);
		CHECK_INT(vz_batch_read(path, VZ_FMT_AUTO, 0, VZ_READ_MAPPED, 0, &mapped), VZ_EDATA);
		CHECK(strstr(vz_last_error(), "row 3000: value 23 is NaN or infinite"));
		if (!npy) {
			uint32_t other = DIM - 1;
			memcpy(bytes + (size_t)1234 * (DIM + 1) * 4, &other, 4);
			t_write(path, bytes, len);
			CHECK_INT(vz_batch_read(path, VZ_FMT_AUTO, 0, VZ_READ_MAPPED, 0, &mapped), VZ_EDATA);
			CHECK(strstr(vz_last_error(), "row 1235: dimension 23, the first row has 24"));
		}
		CHECK(mapped.map.data == NULL && mapped.n == 0);
		free(bytes);
	}
	/* input that cannot be mapped is read as without the flag */
	vz_batch piped;
	CHECK_INT(t_sh("mkfifo pipe && (cat in.fvecs > pipe &)"), 0);
	CHECK_INT(vz_batch_read("pipe", VZ_FMT_FVECS, 0, VZ_READ_MAPPED, 0, &piped), VZ_EDATA); /* the NaN, through the pipe */
	unlink("pipe");
	const char *line = "{\"id\":\"a\",\"vector\":[1,2]}\n";
	t_write("rows.jsonl", line, strlen(line));
	CHECK_INT(vz_batch_read("rows.jsonl", VZ_FMT_AUTO, 0, VZ_READ_MAPPED, 0, &piped), VZ_OK);
	CHECK(piped.n == 1 && piped.map.data == NULL && piped.stride == 0 && piped.vectors[1] == 2.0f);
	vz_batch_free(&piped);
	free_rows(&r);
}

TEST(sq8_checkpoints_stream_base_delta_and_new_rows_and_drop_the_deleted)
{
	/* base 3000 (bulk), 200 through the WAL, 1000 deleted (a compacting checkpoint, over 20%
	 * tombstones), then 300 more through the WAL (an incremental one, on the existing graph) */
	vz_collection *c = t_create_open("s", DIM, VZ_METRIC_EUCLIDEAN, VZ_QUANT_SQ8);
	struct rows base = make_rows(0, ROWS, 12, false), tail = make_rows(ROWS, 200, 13, true), more = make_rows(ROWS + 200, 300, 14, false);
	/* single-threaded builds: the same graphs, so the same answers, every run */
	CHECK_INT(vz_collection_write(c, base.w, base.n, VZ_WRITE_BULK, 1, NULL), VZ_OK);
	CHECK_INT(vz_collection_write(c, tail.w, tail.n, 0, 1, NULL), VZ_OK);
	vz_write *del = calloc(1000, sizeof *del);
	for (size_t i = 0; i < 1000; i++) del[i] = (vz_write){ VZ_WRITE_DELETE, base.ids[i * 3], strlen(base.ids[i * 3]), NULL, 0, NULL, 0, i + 1 };
	CHECK_INT(vz_collection_write(c, del, 1000, 0, 1, NULL), VZ_OK);
	for (int round = 0; round < 2; round++) {
		if (round) CHECK_INT(vz_collection_write(c, more.w, more.n, 0, 1, NULL), VZ_OK);
		CHECK_INT(vz_collection_checkpoint(c, 1, false), VZ_OK);
		vz_collection_close(c);
		CHECK_INT(vz_collection_open("data/dynamic/s", VZ_OPEN_WRITE, 1000, &c), VZ_OK);
		vz_collection_stats st;
		CHECK_INT(vz_collection_stats_get(c, &st), VZ_OK);
		CHECK_INT(st.wal_ops, 0);
		CHECK_INT(st.live, ROWS - 1000 + 200 + (round ? 300 : 0));
		CHECK_INT(st.tombstones, 0);
		/* a deleted row never comes back; a live one is its own nearest neighbour at distance 0
		 * (an approximate search may miss one now and then: at most 1 in 100) */
		const struct rows *sets[3] = { &base, &tail, &more };
		size_t asked = 0, missed = 0;
		for (int k = 0; k < (round ? 3 : 2); k++) {
			for (size_t i = 0; i < sets[k]->n; i += 7) {
				vz_result res[10];
				size_t n;
				CHECK_INT(vz_collection_query(c, sets[k]->w[i].vector, 10, 64, res, &n), VZ_OK);
				CHECK_INT(n, 10);
				bool deleted = k == 0 && i % 3 == 0;
				for (size_t j = 0; j < n; j++)
					CHECK(!(res[j].id_len > 1 && res[j].id[0] == 'r' && atoi(res[j].id + 1) < ROWS && atoi(res[j].id + 1) % 3 == 0));
				if (deleted) continue;
				asked++;
				if (res[0].id_len == sets[k]->w[i].id_len && !memcmp(res[0].id, sets[k]->w[i].id, res[0].id_len))
					CHECK(res[0].distance == 0.0f);
				else
					missed++;
			}
		}
		if (missed * 100 > asked) t_fail(__FILE__, __LINE__, "round %d: %zu of %zu rows not found first", round, missed, asked);
		check_rows(c, &tail, false);
		if (round) check_rows(c, &more, false);
	}
	vz_collection_close(c);
	int problems = -1;
	CHECK_INT(vz_collection_verify("data/dynamic/s", false, 1000, NULL, NULL, &problems), VZ_OK);
	CHECK_INT(problems, 0);
	free(del);
	free_rows(&base);
	free_rows(&tail);
	free_rows(&more);
}

/* Past 2 MiB of floats a euclidean or cosine checkpoint streams its rows (ranges, then
 * vectors.bin and the codes of one step the graph is built on) and never gathers them into one
 * array: a mapped .fvecs (rows one dimension word apart, let go once read), the same rows
 * copied into one array, and the logged path all write the same vectors.bin and index.hnsw
 * (one build thread), whose rows are the input's floats exactly (normalised for cosine), as
 * the dot product's packed path stores them; each collection verifies clean. */
TEST(strided_input_streams_into_the_same_files_as_packed_rows)
{
	enum { N = 4200, D = 128 }; /* 2.15 MB of floats */
	float *v = malloc(sizeof(float) * N * D);
	fill(v, N, D, 21);
	write_vectors_file("in.fvecs", v, N, D, false);
	vz_batch mapped, copied;
	CHECK_INT(vz_batch_read("in.fvecs", VZ_FMT_AUTO, 0, VZ_READ_MAPPED, 0, &mapped), VZ_OK);
	CHECK_INT(vz_batch_read("in.fvecs", VZ_FMT_AUTO, 0, 0, 0, &copied), VZ_OK);
	CHECK_INT(mapped.stride, D + 1);
	CHECK(vz_hnsw_build_on_codes(VZ_METRIC_EUCLIDEAN, N, D));
	vz_write *wm = batch_writes(&mapped), *wc = batch_writes(&copied);
	enum vz_metric metrics[3] = { VZ_METRIC_EUCLIDEAN, VZ_METRIC_COSINE, VZ_METRIC_DOT };
	for (int m = 0; m < 3; m++) {
		const char *kind[3] = { "mapped", "copied", "logged" };
		for (int k = 0; k < 3 - m; k++) { /* the logged path for euclidean; the dot product's packed path mapped only */
			char name[32], dir[64];
			snprintf(name, sizeof name, "%s%d", kind[k], m);
			snprintf(dir, sizeof dir, "data/dynamic/%s", name);
			vz_config cfg;
			vz_config_defaults(&cfg);
			cfg.dim = D;
			cfg.metric = metrics[m];
			cfg.checkpoint_ops = 1000000;
			CHECK_INT(vz_collection_create("data", name, &cfg), VZ_OK);
			vz_collection *c;
			CHECK_INT(vz_collection_open(dir, VZ_OPEN_WRITE, 1000, &c), VZ_OK);
			if (k == 0) CHECK_INT(vz_collection_write(c, wm, N, VZ_WRITE_BULK | VZ_WRITE_RELEASE, 1, NULL), VZ_OK);
			if (k == 1) CHECK_INT(vz_collection_write(c, wc, N, VZ_WRITE_BULK, 1, NULL), VZ_OK);
			if (k == 2) {
				CHECK_INT(vz_collection_write(c, wc, N, 0, 1, NULL), VZ_OK);
				CHECK_INT(vz_collection_checkpoint(c, 1, false), VZ_OK);
			}
			vz_collection_close(c);
			CHECK_INT(vz_collection_open(dir, VZ_OPEN_READ, 1000, &c), VZ_OK);
			for (size_t i = 0; i < N; i += 7) {
				vz_result res;
				const float *got;
				CHECK_INT(vz_collection_get(c, copied.ids[i], strlen(copied.ids[i]), &res, &got), VZ_OK);
				float want[D];
				memcpy(want, v + i * D, sizeof want);
				if (metrics[m] == VZ_METRIC_COSINE) CHECK_OK(vz_normalize(want, D));
				if (memcmp(got, want, sizeof want)) t_fail(__FILE__, __LINE__, "%s row %zu: stored floats differ", name, i);
				if (i % 210 == 0) { /* and a stored row is its own nearest neighbour */
					vz_result top[10];
					size_t n;
					CHECK_INT(vz_collection_query(c, want, 10, 64, top, &n), VZ_OK);
					CHECK(n == 10 && top[0].id_len == strlen(copied.ids[i]) && !memcmp(top[0].id, copied.ids[i], top[0].id_len));
				}
			}
			vz_collection_close(c);
			int problems = -1;
			CHECK_INT(vz_collection_verify(dir, false, 1000, NULL, NULL, &problems), VZ_OK);
			CHECK_INT(problems, 0);
			if (k == 0) continue;
			const char *files[2] = { "vectors.bin", "index.hnsw" };
			for (int f = 0; f < 2; f++) {
				char pa[96], pb[96];
				snprintf(pa, sizeof pa, "data/dynamic/mapped%d/%s", m, files[f]);
				snprintf(pb, sizeof pb, "%s/%s", dir, files[f]);
				if (!same_file(pa, pb)) t_fail(__FILE__, __LINE__, "%s differs from %s", pb, pa);
			}
		}
	}
	for (size_t i = 0; i < N; i++) CHECK(!memcmp(wm[i].vector, v + i * D, sizeof(float) * D)); /* read back the same */
	free(wm);
	free(wc);
	vz_batch_free(&mapped);
	vz_batch_free(&copied);
	free(v);
}
