/* test_verify_rows.c: verify's check of vectors.bin's rows against its id map reads ahead (a
 * batch of ids hashed, the rows probed before each fetched), and must say of each row exactly
 * what vz_vectors_find says: found, or not found / shadowed by an earlier live row of the same id.
 * Files with duplicate ids, tombstones and ids moved out of their slot's reach are checked
 * against that oracle. */
#include "t.h"

#include "../../lib/internal.h"

#include <stdint.h>

#define DIM 2

static int zero_row(void *ctx, uint64_t row, uint32_t dim, float *scratch, const float **out)
{
	(void)ctx;
	(void)row;
	for (uint32_t i = 0; i < dim; i++) scratch[i] = (float)i;
	*out = scratch;
	return VZ_OK;
}

struct seen { int problems; uint64_t rows[64]; };

static void on_problem(void *ctx, const char *file, int64_t offset, const char *what)
{
	struct seen *s = ctx;
	unsigned long long r;
	CHECK_STR(file, "vectors.bin");
	CHECK(offset > 0);
	if (sscanf(what, "row %llu:", &r) == 1 && s->problems < 64) s->rows[s->problems] = r;
	s->problems++;
}

/* Writes n rows named by name(i) (tombstones where tomb(i)), then checks that the row check
 * names exactly the live rows vz_vectors_find does not answer with, in row order. */
static void check_against_find(uint64_t n, void (*name)(uint64_t, char *), bool (*tomb)(uint64_t), int want_problems)
{
	char (*ids)[24] = calloc(n, sizeof *ids);
	vz_out_row *rows = calloc(n, sizeof *rows);
	CHECK(ids && rows);
	for (uint64_t i = 0; i < n; i++) {
		name(i, ids[i]);
		rows[i] = (vz_out_row){ ids[i], strlen(ids[i]), NULL, 0, false, tomb(i) };
	}
	vz_file_sum sum;
	vz_coll_id cid;
	vz_id_new(&cid);
	CHECK_OK(vz_vectors_write("v.bin", &cid, 1, DIM, VZ_METRIC_EUCLIDEAN, zero_row, NULL, rows, n, &sum));
	vz_vectors v;
	CHECK_OK(vz_vectors_open("v.bin", n, DIM, VZ_METRIC_EUCLIDEAN, &v));
	uint64_t want_live = 0;
	int oracle = 0;
	uint64_t oracle_rows[64];
	for (uint64_t r = 0; r < n; r++) {
		if (tomb(r)) continue;
		want_live++;
		if (vz_vectors_find(&v, ids[r], strlen(ids[r])) != (int64_t)r && oracle < 64) oracle_rows[oracle++] = r;
	}
	/* in parts, as verify runs it: without the ids' prints, then with them (written in parts
	 * too, all before the first part's rows) */
	uint32_t *prints = malloc(sizeof *prints * n);
	CHECK(prints);
	for (int with = 0; with < 2; with++) {
		struct seen s = { 0 };
		uint64_t live = 0, tombs = 0;
		if (with) {
			vz_vectors_id_prints(&v, n / 3, n, prints);
			vz_vectors_id_prints(&v, 0, n / 3, prints);
			for (uint64_t r = 0; r < n; r++) CHECK_INT(prints[r], tomb(r) ? 0 : (uint32_t)vz_hash64(ids[r], strlen(ids[r])));
		}
		vz_vectors_verify_row_range(&v, 0, n / 2, with ? prints : NULL, &live, &tombs, on_problem, &s);
		vz_vectors_verify_row_range(&v, n / 2, n, with ? prints : NULL, &live, &tombs, on_problem, &s);
		CHECK_INT(live, want_live);
		CHECK_INT(tombs, n - want_live);
		CHECK_INT(s.problems, oracle);
		CHECK_INT(oracle, want_problems);
		for (int i = 0; i < oracle && i < 20; i++) CHECK_INT(s.rows[i], oracle_rows[i]);
	}
	free(prints);
	vz_vectors_close(&v);
	free(ids);
	free(rows);
}

static void plain(uint64_t i, char *out) { snprintf(out, 24, "row-%llu", (unsigned long long)i); }
static void dup_every_97(uint64_t i, char *out) { snprintf(out, 24, "row-%llu", (unsigned long long)(i % 97 == 5 ? i - 5 : i)); }
/* rows 0-999 (tombstones) and 1000-1009 and 2000-2009 (live) share the ids id0-id9 and id0-id999 */
static void dup_tombstoned(uint64_t i, char *out)
{
	if (i < 1000 || (i >= 1000 && i < 1010) || (i >= 2000 && i < 2010)) snprintf(out, 24, "id%llu", (unsigned long long)(i % 1000));
	else snprintf(out, 24, "row-%llu", (unsigned long long)i);
}
static bool none(uint64_t i) { (void)i; return false; }
static bool every_7th(uint64_t i) { return i % 7 == 3; }
static bool first_thousand(uint64_t i) { return i < 1000; }

TEST(row_check_finds_every_row_of_a_sound_file)
{
	/* at most half the slots used: thousands of rows not in their first slot */
	check_against_find(5000, plain, none, 0);
	check_against_find(5000, plain, every_7th, 0);
}

TEST(row_check_names_each_row_an_earlier_live_row_of_the_same_id_shadows)
{
	/* rows 5, 102, 199, ... repeat the id of the row 5 before them: each later one is shadowed
	 * (fewer than the 20 a half reports before it stops) */
	check_against_find(3000, dup_every_97, none, 3000 / 97 + (3000 % 97 > 5));
	/* a repeated id whose earlier rows are tombstones is no duplicate; one of a live row is */
	check_against_find(3000, dup_tombstoned, first_thousand, 10);
}
