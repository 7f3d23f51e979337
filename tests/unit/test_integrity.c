/* test_integrity.c: every single-bit flip in every file is found by verify and named; the WAL
 * cut at every byte of its last records, with garbage appended, or damaged in the middle, is
 * handled by each recovery mode as vz-recover(1) says. */
#include "t.h"

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
