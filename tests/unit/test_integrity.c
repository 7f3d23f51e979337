/* test_integrity.c: every single-bit flip in every file is found by verify and named; the WAL
 * cut at every byte of its last records, with garbage appended, or damaged in the middle, is
 * handled by each recovery mode as vz-recover(1) says. */
#include "t.h"

#include "../../lib/internal.h"

#include <fcntl.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIM 4
#define COLL "data/dynamic/c"

static int write_n(vz_collection *c, int from, int n, const char *prefix)
{
	vz_write w[64];
	float v[64][DIM];
	char ids[64][16];
	for (int i = 0; i < n; i++) {
		snprintf(ids[i], sizeof ids[i], "%s%d", prefix, from + i);
		for (int d = 0; d < DIM; d++) v[i][d] = (float)cos((from + i) * 1.3 + d) + (d == 0 ? 1.5f : 0);
		w[i] = (vz_write){ VZ_WRITE_INSERT, ids[i], strlen(ids[i]), v[i], DIM, "{\"k\":[1,2]}", 11, 0 };
	}
	return vz_collection_write(c, w, (size_t)n, 0, 1, NULL);
}

/* A small collection: 12 rows checkpointed, then 3 transactions of 2 rows in the WAL. */
static void build(void)
{
	vz_config cfg;
	vz_config_defaults(&cfg);
	cfg.dim = DIM;
	cfg.metric = VZ_METRIC_EUCLIDEAN;
	CHECK_OK(vz_collection_create("data", "c", &cfg));
	vz_collection *c;
	CHECK_OK(vz_collection_open(COLL, VZ_OPEN_WRITE, 1000, &c));
	CHECK_OK(write_n(c, 0, 12, "a"));
	CHECK_OK(vz_collection_checkpoint(c, 1, false));
	for (int t = 0; t < 3; t++) CHECK_OK(write_n(c, 100 + 2 * t, 2, "t"));
	vz_collection_close(c);
}

struct seen { char files[8][32]; int n; };

static void collect(void *ctx, const char *file, int64_t off, const char *what)
{
	(void)off;
	(void)what;
	struct seen *s = ctx;
	if (s->n < 8) snprintf(s->files[s->n++], 32, "%s", file);
}

static void first_problem(void *ctx, const char *file, int64_t off, const char *what)
{
	char *first = ctx;
	if (!*first) snprintf(first, 512, "%s: offset %lld: %s", file, (long long)off, what);
}

TEST(every_bit_flip_in_every_file_is_found_and_named)
{
	build();
	int problems;
	struct seen s = { .n = 0 };
	CHECK_OK(vz_collection_verify(COLL, false, 1000, collect, &s, &problems));
	CHECK_INT(problems, 0);
	const char *files[] = { "metadata.json", "vectors.bin", "index.hnsw", "wal.log" };
	for (int f = 0; f < 4; f++) {
		char path[256];
		snprintf(path, sizeof path, COLL "/%s", files[f]);
		size_t len;
		unsigned char *orig = (unsigned char *)t_slurp(path, &len);
		CHECK(orig && len > 0);
		for (size_t bit = 0; bit < len * 8; bit++) {
			orig[bit / 8] ^= (unsigned char)(1u << (bit % 8));
			t_write(path, orig, len);
			orig[bit / 8] ^= (unsigned char)(1u << (bit % 8));
			struct seen got = { .n = 0 };
			int rc = vz_collection_verify(COLL, false, 1000, collect, &got, &problems);
			if (rc) t_fail(__FILE__, __LINE__, "%s bit %zu: verify could not run: %s", files[f], bit, vz_last_error());
			if (problems == 0) t_fail(__FILE__, __LINE__, "%s: flipping bit %zu (byte %zu) went unnoticed", files[f], bit, bit / 8);
			bool named = false;
			for (int i = 0; i < got.n; i++) named |= !strcmp(got.files[i], files[f]);
			if (!named) t_fail(__FILE__, __LINE__, "%s bit %zu: the report names %s, not the file", files[f], bit, got.files[0]);
		}
		t_write(path, orig, len);
		free(orig);
	}
}

TEST(truncation_and_damage_are_named_by_verify)
{
	build();
	struct stat st;
	CHECK(stat(COLL "/vectors.bin", &st) == 0);
	CHECK(truncate(COLL "/vectors.bin", st.st_size - 1) == 0);
	struct seen got = { .n = 0 };
	int problems;
	CHECK_OK(vz_collection_verify(COLL, false, 1000, collect, &got, &problems));
	CHECK(problems > 0);
	CHECK_STR(got.files[0], "vectors.bin");
	/* and open refuses it with a clear error instead of reading past the end */
	vz_collection *c;
	CHECK_INT(vz_collection_open(COLL, VZ_OPEN_READ, 1000, &c), VZ_ECORRUPT);
	CHECK(strstr(vz_last_error(), "vectors.bin") != NULL);
}

static int count_live(void)
{
	vz_collection *c;
	if (vz_collection_open(COLL, VZ_OPEN_READ, 1000, &c)) return -1;
	vz_collection_stats st;
	vz_collection_stats_get(c, &st);
	vz_collection_close(c);
	return (int)st.live;
}

static void check_mode(enum vz_recover_mode mode, int want_rc, int want_live, const char *what)
{
	vz_recover_report rep;
	int rc = vz_collection_recover(COLL, mode, false, 1, 1000, &rep);
	if (rc != want_rc) t_fail(__FILE__, __LINE__, "%s, mode %s: recover returned %d %s (%s), want %d %s", what, vz_recover_mode_name(mode), rc,
				  vz_strerror(rc), vz_last_error(), want_rc, vz_strerror(want_rc));
	if (rc == VZ_OK) {
		int live = count_live();
		if (live != want_live) t_fail(__FILE__, __LINE__, "%s, mode %s: %d live vectors, want %d", what, vz_recover_mode_name(mode), live, want_live);
		int problems;
		struct seen s = { .n = 0 };
		CHECK_OK(vz_collection_verify(COLL, false, 1000, collect, &s, &problems));
		CHECK_INT(problems, 0);
	}
}

TEST(wal_cut_at_every_byte_of_the_last_transaction)
{
	build();
	CHECK(t_sh("cp -a data pristine") == 0);
	vz_wal_log w;
	CHECK_OK(vz_wal_scan(COLL "/wal.log", VZ_WAL_SCAN_STOP, &w));
	/* the last transaction starts at its BEGIN record: the third from the end */
	uint64_t last_begin = w.entries[w.n - 4].offset, size = w.map.size;
	CHECK_INT(w.entries[w.n - 4].type, VZ_WAL_BEGIN);
	uint64_t boundaries[4] = { w.entries[w.n - 4].offset, w.entries[w.n - 3].offset, w.entries[w.n - 2].offset, w.entries[w.n - 1].offset };
	vz_wal_free(&w);
	enum vz_recover_mode modes[] = { VZ_RECOVER_POINT_IN_TIME, VZ_RECOVER_TOLERATE_TAIL, VZ_RECOVER_ABSOLUTE, VZ_RECOVER_SALVAGE };
	for (uint64_t cut = last_begin; cut < size; cut++) {
		for (int m = 0; m < 4; m++) {
			CHECK(t_sh("rm -rf data && cp -a pristine data") == 0);
			CHECK(truncate(COLL "/wal.log", (off_t)cut) == 0);
			char what[64];
			snprintf(what, sizeof what, "wal cut at %llu of %llu", (unsigned long long)cut, (unsigned long long)size);
			/* the torn transaction was never acknowledged: 12 + 2 + 2 remain. A cut between
			 * whole records leaves no damaged bytes, only an unfinished transaction, which
			 * even absolute drops; a cut inside a record is damage absolute refuses. */
			bool clean_cut = false;
			for (int b = 0; b < 4; b++) clean_cut |= cut == boundaries[b];
			if (modes[m] == VZ_RECOVER_ABSOLUTE && !clean_cut) check_mode(modes[m], VZ_ECORRUPT, 0, what);
			else check_mode(modes[m], VZ_OK, 16, what);
		}
		/* and the report counts the unfinished transaction it drops, once its begin record is whole */
		CHECK(t_sh("rm -rf data && cp -a pristine data") == 0);
		CHECK(truncate(COLL "/wal.log", (off_t)cut) == 0);
		vz_recover_report rep;
		CHECK_OK(vz_collection_recover(COLL, VZ_RECOVER_POINT_IN_TIME, false, 1, 1000, &rep));
		uint64_t want_dropped = cut >= boundaries[1];
		if (rep.transactions_dropped != want_dropped || rep.transactions_replayed != 2)
			t_fail(__FILE__, __LINE__, "wal cut at %llu: recover reports %llu transactions replayed, %llu dropped; want 2 and %llu",
			       (unsigned long long)cut, (unsigned long long)rep.transactions_replayed, (unsigned long long)rep.transactions_dropped,
			       (unsigned long long)want_dropped);
		/* readers need no recover for a torn tail */
		CHECK(t_sh("rm -rf data && cp -a pristine data") == 0);
		CHECK(truncate(COLL "/wal.log", (off_t)cut) == 0);
		CHECK_INT(count_live(), 16);
		/* nor do writers: the next transaction replaces the unacknowledged one (torn bytes or
		 * whole records without their commit), and the log verifies clean. Appending after
		 * whole records of an unfinished transaction made "transaction N begins inside
		 * transaction M" (seen after SIGKILL ended a pwrite on a record boundary). */
		vz_collection *c;
		CHECK_OK(vz_collection_open(COLL, VZ_OPEN_WRITE, 1000, &c));
		CHECK_OK(write_n(c, 900, 3, "after"));
		vz_collection_close(c);
		CHECK_INT(count_live(), 19);
		int problems;
		char first[512] = "";
		CHECK_OK(vz_collection_verify(COLL, false, 1000, first_problem, first, &problems));
		if (problems) t_fail(__FILE__, __LINE__, "wal cut at %llu, then a write: %d problems, first: %s", (unsigned long long)cut, problems, first);
	}
}

TEST(wal_with_garbage_appended)
{
	build();
	CHECK(t_sh("cp -a data pristine") == 0);
	enum vz_recover_mode modes[] = { VZ_RECOVER_POINT_IN_TIME, VZ_RECOVER_TOLERATE_TAIL, VZ_RECOVER_ABSOLUTE, VZ_RECOVER_SALVAGE };
	for (int m = 0; m < 4; m++) {
		CHECK(t_sh("rm -rf data && cp -a pristine data && head -c 333 /dev/urandom >> " COLL "/wal.log") == 0);
		if (modes[m] == VZ_RECOVER_ABSOLUTE) check_mode(modes[m], VZ_ECORRUPT, 0, "garbage appended");
		else check_mode(modes[m], VZ_OK, 18, "garbage appended");
	}
	/* absolute changed nothing: the garbage is still there and readers still see 18 */
	CHECK(t_sh("rm -rf data && cp -a pristine data && head -c 333 /dev/urandom >> " COLL "/wal.log") == 0);
	CHECK_INT(count_live(), 18);
}

TEST(wal_damaged_in_the_middle)
{
	build();
	vz_wal_log w;
	CHECK_OK(vz_wal_scan(COLL "/wal.log", VZ_WAL_SCAN_STOP, &w));
	/* damage the first record of the second transaction (its BEGIN), leaving later ones whole */
	size_t second = 0;
	for (size_t i = 0, begins = 0; i < w.n; i++)
		if (w.entries[i].type == VZ_WAL_BEGIN && w.entries[i].seq > 0 && ++begins == 2) { second = i; break; }
	uint64_t off = w.entries[second + 1].offset + VZ_WAL_RECORD_HEADER + 3;
	vz_wal_free(&w);
	CHECK(t_sh("cp -a data pristine") == 0);
	char cmd[256];
	snprintf(cmd, sizeof cmd, "printf '\\377' | dd of=" COLL "/wal.log bs=1 seek=%llu conv=notrunc 2>/dev/null", (unsigned long long)off);
	CHECK(t_sh("%s", cmd) == 0);
	/* readers are refused (what comes before the damage lacks acknowledged rows), unless they
	 * ask to see it, and are warned */
	vz_collection *c;
	CHECK_INT(vz_collection_open(COLL, VZ_OPEN_READ, 1000, &c), VZ_ECORRUPT);
	CHECK(strstr(vz_last_error(), "wal.log: offset") != NULL);
	CHECK_OK(vz_collection_open(COLL, VZ_OPEN_READ | VZ_OPEN_DAMAGED_OK, 1000, &c));
	CHECK(vz_collection_warning(c) != NULL);
	CHECK(strstr(vz_collection_warning(c), "run vz recover") != NULL);
	vz_collection_close(c);
	/* writers are refused until a recover decides */
	CHECK_OK(vz_collection_open(COLL, VZ_OPEN_WRITE, 1000, &c));
	CHECK_INT(write_n(c, 500, 1, "x"), VZ_ECORRUPT);
	vz_collection_close(c);
	CHECK(t_sh("cp -a data damaged") == 0);
	check_mode(VZ_RECOVER_TOLERATE_TAIL, VZ_ECORRUPT, 0, "middle damage");
	check_mode(VZ_RECOVER_ABSOLUTE, VZ_ECORRUPT, 0, "middle damage");
	CHECK(t_sh("cmp -s data/dynamic/c/wal.log damaged/dynamic/c/wal.log") == 0); /* nothing changed */
	CHECK(t_sh("rm -rf data && cp -a damaged data") == 0);
	check_mode(VZ_RECOVER_POINT_IN_TIME, VZ_OK, 14, "middle damage"); /* stops before transaction 2 */
	CHECK(t_sh("rm -rf data && cp -a damaged data") == 0);
	check_mode(VZ_RECOVER_SALVAGE, VZ_OK, 16, "middle damage"); /* keeps transaction 3 too */
}

TEST(recover_rebuilds_a_missing_or_damaged_index)
{
	build();
	CHECK(unlink(COLL "/index.hnsw") == 0);
	vz_collection *c;
	CHECK_INT(vz_collection_open(COLL, VZ_OPEN_READ, 1000, &c), VZ_ENOENT);
	CHECK(strstr(vz_last_error(), "vz recover") != NULL);
	vz_recover_report rep;
	CHECK_OK(vz_collection_recover(COLL, VZ_RECOVER_POINT_IN_TIME, false, 1, 1000, &rep));
	CHECK(rep.index_rebuilt);
	CHECK_INT(count_live(), 18);
}

TEST(recover_dry_run_changes_nothing)
{
	build();
	CHECK(t_sh("head -c 50 /dev/urandom >> " COLL "/wal.log && cp -a data before") == 0);
	vz_recover_report rep;
	CHECK_OK(vz_collection_recover(COLL, VZ_RECOVER_POINT_IN_TIME, true, 1, 1000, &rep));
	CHECK(rep.wal_damaged && rep.torn_tail);
	CHECK_INT(rep.bytes_dropped, 50);
	CHECK_INT(rep.transactions_replayed, 3);
	CHECK(t_sh("diff -r data before") == 0);
}

TEST(leftover_temp_files_are_removed)
{
	build();
	t_write(COLL "/.vztmp.vectors.bin.abcdef", "junk", 4);
	vz_recover_report rep;
	CHECK_OK(vz_collection_recover(COLL, VZ_RECOVER_POINT_IN_TIME, false, 1, 1000, &rep));
	CHECK_INT(rep.temps_removed, 1);
	CHECK(access(COLL "/.vztmp.vectors.bin.abcdef", F_OK) != 0);
}

/* The full check of vectors.bin hashes its body and checks every float on one pass, a part of
 * 256 KiB at a time: a NaN or infinity is reported once per live row at its exact offset, on
 * either side of a part boundary, never for a tombstone, never for the largest finite value
 * or a denormal; the body checksum still covers every byte. */
struct problem_list { int n; int64_t off[16]; char what[16][128]; };

static void keep_problem(void *ctx, const char *file, int64_t off, const char *what)
{
	struct problem_list *l = ctx;
	CHECK_STR(file, "vectors.bin");
	if (l->n < 16) {
		l->off[l->n] = off;
		snprintf(l->what[l->n], sizeof l->what[0], "%s", what);
	}
	l->n++;
}

static void set_float_bits(unsigned char *d, uint64_t off, uint32_t bits) { memcpy(d + off, &bits, 4); }

TEST(verify_finds_every_non_finite_float_of_a_live_row_on_its_one_pass)
{
	enum { D = 128, ROWS = 1200 };
	vz_config cfg;
	vz_config_defaults(&cfg);
	cfg.dim = D;
	cfg.metric = VZ_METRIC_EUCLIDEAN;
	CHECK_OK(vz_collection_create("data", "c", &cfg));
	vz_collection *c;
	CHECK_OK(vz_collection_open(COLL, VZ_OPEN_WRITE, 1000, &c));
	static float v[100][D];
	for (int b = 0; b < ROWS / 100; b++) {
		vz_write w[100];
		char ids[100][16];
		for (int i = 0; i < 100; i++) {
			snprintf(ids[i], sizeof ids[i], "r%d", b * 100 + i);
			for (int d = 0; d < D; d++) v[i][d] = (float)sin((b * 100 + i) * 0.7 + d);
			w[i] = (vz_write){ VZ_WRITE_INSERT, ids[i], strlen(ids[i]), v[i], D, NULL, 0, 0 };
		}
		CHECK_OK(vz_collection_write(c, w, 100, 0, 1, NULL));
	}
	CHECK_OK(vz_collection_checkpoint(c, 1, true));
	vz_collection_close(c);
	size_t len;
	unsigned char *d = (unsigned char *)t_slurp(COLL "/vectors.bin", &len);
	CHECK(d && len > 2 * (256u << 10));
	uint64_t vec_off;
	memcpy(&vec_off, d + VZ_HEADER_SIZE + 16, 8);
	uint64_t ri_off;
	memcpy(&ri_off, d + VZ_HEADER_SIZE + 24, 8);
	const uint64_t part = 256u << 10, row_bytes = D * 4;
	/* a row across the first boundary, bad on both sides: one report, at its first bad float;
	 * a row whose only bad float is the first of the third part */
	uint64_t at_a = part - 8, at_inf = vec_off + 700 * row_bytes + 5 * 4, at_c = 2 * part;
	uint64_t row_a = (at_a - vec_off) / row_bytes, row_c = (at_c - vec_off) / row_bytes;
	CHECK(row_a == (part - vec_off) / row_bytes && (part - vec_off) % row_bytes != 0); /* the row crosses the boundary */
	CHECK(row_c > 700 && row_c < ROWS);
	set_float_bits(d, at_a, 0x7fc00000);             /* NaN */
	set_float_bits(d, at_a + 4, 0xffc00001);         /* another NaN in the same row */
	set_float_bits(d, part, 0xff800000);             /* -inf in the same row, in the next part */
	set_float_bits(d, at_inf, 0x7f800000);           /* +inf */
	set_float_bits(d, at_c, 0x7f800001);             /* NaN */
	set_float_bits(d, vec_off + 3 * row_bytes, 0x7f7fffff);  /* the largest finite float */
	set_float_bits(d, vec_off + 4 * row_bytes + 8, 0x00000001); /* a denormal */
	/* a tombstone holding a NaN: not a live row, not reported */
	set_float_bits(d, vec_off + 900 * row_bytes + 12, 0x7fffffff);
	d[ri_off + 900 * VZ_ROWINFO_SIZE + 18] |= VZ_ROW_TOMBSTONE;
	vz_file_header h;
	CHECK_OK(vz_header_decode(d, len, VZ_MAGIC_VECTORS, 2, &h));
	h.body_checksum = vz_hash64(d + VZ_HEADER_SIZE, len - VZ_HEADER_SIZE);
	vz_header_encode(&h, d);
	t_write("v.bin", d, len);
	vz_vectors vv;
	CHECK_OK(vz_vectors_open("v.bin", ROWS, D, VZ_METRIC_EUCLIDEAN, &vv));
	struct problem_list l = { 0 };
	CHECK_INT(vz_vectors_verify_body(&vv, keep_problem, &l), 3);
	CHECK_INT(l.n, 3);
	char want[128];
	snprintf(want, sizeof want, "row %llu: NaN or infinite value", (unsigned long long)row_a);
	CHECK_STR(l.what[0], want);
	CHECK(l.off[0] == (int64_t)at_a);
	CHECK_STR(l.what[1], "row 700: NaN or infinite value");
	CHECK(l.off[1] == (int64_t)at_inf);
	snprintf(want, sizeof want, "row %llu: NaN or infinite value", (unsigned long long)row_c);
	CHECK_STR(l.what[2], want);
	CHECK(l.off[2] == (int64_t)at_c);
	vz_vectors_close(&vv);
	/* one byte changed without its checksum: the same pass says so */
	d[len - 1] ^= 1;
	t_write("v.bin", d, len);
	CHECK_OK(vz_vectors_open("v.bin", ROWS, D, VZ_METRIC_EUCLIDEAN, &vv));
	memset(&l, 0, sizeof l);
	CHECK_INT(vz_vectors_verify_body(&vv, keep_problem, &l), 4);
	CHECK_STR(l.what[3], "body checksum mismatch (bytes 64..end were changed)");
	vz_vectors_close(&vv);
	free(d);
}

static int finite_row(void *ctx, uint64_t row, uint32_t dim, float *scratch, const float **out)
{
	(void)ctx;
	for (uint32_t i = 0; i < dim; i++) scratch[i] = (float)row - (float)i * 0.25f; /* 0 and negatives too */
	*out = scratch;
	return VZ_OK;
}

/* The finite check's kernel (four vectors of eight floats at a time, then one at a time) against
 * what a float is: a NaN or an infinity at every position of a vectors section whose length is
 * no multiple of 8 or 32 (29 x 37 floats), and of one shorter than a whole step (3 x 5), is
 * reported once, at its row and offset; the largest finite floats and denormals beside it are not. */
TEST(verify_finds_a_non_finite_float_at_every_position)
{
	const uint32_t dims[2] = { 37, 5 }, nrows[2] = { 29, 3 };
	const uint32_t bad[5] = { 0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0xffffffff };
	for (int s = 0; s < 2; s++) {
		uint32_t dim = dims[s], n = nrows[s];
		vz_out_row *rows = calloc(n, sizeof *rows);
		char (*ids)[16] = calloc(n, sizeof *ids);
		for (uint32_t r = 0; r < n; r++) {
			snprintf(ids[r], sizeof ids[r], "r%u", r);
			rows[r] = (vz_out_row){ ids[r], strlen(ids[r]), NULL, 0, false, false };
		}
		vz_file_sum sum;
		vz_coll_id cid;
		vz_id_new(&cid);
		CHECK_OK(vz_vectors_write("f.bin", &cid, 1, dim, VZ_METRIC_EUCLIDEAN, finite_row, NULL, rows, n, &sum));
		size_t len;
		unsigned char *orig = (unsigned char *)t_slurp("f.bin", &len), *d = malloc(len);
		CHECK(orig && d);
		uint64_t vec_off;
		memcpy(&vec_off, orig + VZ_HEADER_SIZE + 16, 8);
		/* rewritten in place, never truncated (a truncated file's rewrite is flushed at close) */
		int fd = open("f.bin", O_WRONLY);
		CHECK(fd >= 0);
		for (uint64_t p = 0; p < (uint64_t)n * dim; p++) {
			memcpy(d, orig, len);
			set_float_bits(d, vec_off + 4 * p, bad[p % 5]);
			/* finite neighbours at the edge: the largest magnitude, a denormal */
			if (p > 0) set_float_bits(d, vec_off + 4 * (p - 1), p % 2 ? 0x7f7fffff : 0xff7fffff);
			if (p + 1 < (uint64_t)n * dim) set_float_bits(d, vec_off + 4 * (p + 1), p % 2 ? 0x00000001 : 0x807fffff);
			vz_file_header h;
			CHECK_OK(vz_header_decode(d, len, VZ_MAGIC_VECTORS, 2, &h));
			h.body_checksum = vz_hash64(d + VZ_HEADER_SIZE, len - VZ_HEADER_SIZE);
			vz_header_encode(&h, d);
			CHECK(pwrite(fd, d, len, 0) == (ssize_t)len);
			vz_vectors vv;
			CHECK_OK(vz_vectors_open("f.bin", n, dim, VZ_METRIC_EUCLIDEAN, &vv));
			struct problem_list l = { 0 };
			CHECK_INT(vz_vectors_verify_body(&vv, keep_problem, &l), 1);
			char want[64];
			snprintf(want, sizeof want, "row %llu: NaN or infinite value", (unsigned long long)(p / dim));
			CHECK_STR(l.what[0], want);
			CHECK(l.off[0] == (int64_t)(vec_off + 4 * p));
			vz_vectors_close(&vv);
		}
		close(fd);
		free(orig);
		free(d);
		free(ids);
		free(rows);
	}
}
