/* test_verify_rows.c: verify's check of vectors.bin's rows against its id map walks the map in
 * slot order (lib/vectors.c: vz_vectors_scan_rows, vz_vectors_walk_id_map,
 * vz_vectors_report_rows), and must say of each row exactly what vz_vectors_find says: found, or
 * not found / shadowed by an earlier live row of the same id, whichever part of the map it lies
 * in. Files with duplicate ids, tombstones, and maps damaged at their first and last slots and
 * rows (an entry moved out of its slot's reach, dropped, pointing past the rows, a full map, a
 * row entry outside the heap) are checked against that oracle and named. */
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

struct seen { int problems; uint64_t rows[64]; char last[256]; int64_t last_off; };

static void on_problem(void *ctx, const char *file, int64_t offset, const char *what)
{
	struct seen *s = ctx;
	unsigned long long r;
	CHECK_STR(file, "vectors.bin");
	CHECK(offset > 0);
	if (sscanf(what, "row %llu:", &r) == 1 && s->problems < 64) s->rows[s->problems] = r;
	snprintf(s->last, sizeof s->last, "%s", what);
	s->last_off = offset;
	s->problems++;
}

/* The whole check as verify runs it: the rows scanned in three parts out of order, the map
 * walked in `parts` parts out of order, the rows reported in two halves, then the count. */
static void run_check(const vz_vectors *v, int parts, struct seen *rows, struct seen *map, uint64_t *live, uint64_t *tombs)
{
	uint32_t *w = malloc(sizeof *w * (v->rows + 1));
	CHECK(w);
	uint64_t used = 0, n = v->rows;
	*live = *tombs = 0;
	vz_vectors_scan_rows(v, n / 3, n, w, live, tombs);
	vz_vectors_scan_rows(v, 0, n / 3, w, live, tombs);
	for (int p = parts - 1; p >= 0; p--) vz_vectors_walk_id_map(v, p, parts, w, &used, on_problem, map);
	vz_vectors_report_rows(v, 0, n / 2, w, on_problem, rows);
	vz_vectors_report_rows(v, n / 2, n, w, on_problem, rows);
	vz_vectors_id_map_count(v, used, *live, on_problem, map);
	free(w);
}

/* Writes n rows named by name(i) (tombstones where tomb(i)) to v.bin. */
static void write_rows(uint64_t n, void (*name)(uint64_t, char *), bool (*tomb)(uint64_t), char (*ids)[24])
{
	vz_out_row *rows = calloc(n, sizeof *rows);
	CHECK(rows);
	for (uint64_t i = 0; i < n; i++) {
		name(i, ids[i]);
		rows[i] = (vz_out_row){ ids[i], strlen(ids[i]), NULL, 0, false, tomb(i) };
	}
	vz_file_sum sum;
	vz_coll_id cid;
	vz_id_new(&cid);
	CHECK_OK(vz_vectors_write("v.bin", &cid, 1, DIM, VZ_METRIC_EUCLIDEAN, zero_row, NULL, rows, n, &sum));
	free(rows);
}

/* the rows the last check_against_find found named (all of them, up to 64) */
static uint64_t last_named[64];
static int last_nnamed;
static void t_reset_seen(void) { last_nnamed = 0; }
static bool seen_row(uint64_t r)
{
	for (int i = 0; i < last_nnamed; i++)
		if (last_named[i] == r) return true;
	return false;
}

/* Checks that the row check names exactly the live rows vz_vectors_find does not answer with,
 * in row order, with the map walked in 1, 2, 3 and 7 parts; want_map: the map's own problems. */
static void check_against_find(uint64_t n, char (*ids)[24], bool (*tomb)(uint64_t), int want_problems, int want_map)
{
	t_reset_seen();
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
	if (want_problems >= 0) CHECK_INT(oracle, want_problems);
	const int parts[] = { 1, 2, 3, 7 };
	for (int i = 0; i < 4; i++) {
		struct seen s = { 0 }, m = { 0 };
		uint64_t live, tombs;
		run_check(&v, parts[i], &s, &m, &live, &tombs);
		CHECK_INT(live, want_live);
		CHECK_INT(tombs, n - want_live);
		CHECK_INT(s.problems, oracle);
		for (int j = 0; j < oracle && j < 20; j++) CHECK_INT(s.rows[j], oracle_rows[j]);
		CHECK_INT(m.problems, want_map);
		last_nnamed = s.problems < 64 ? s.problems : 64;
		memcpy(last_named, s.rows, sizeof s.rows);
	}
	vz_vectors_close(&v);
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

static void check_named(uint64_t n, void (*name)(uint64_t, char *), bool (*tomb)(uint64_t), int want_problems)
{
	char(*ids)[24] = calloc(n, sizeof *ids);
	CHECK(ids);
	write_rows(n, name, tomb, ids);
	check_against_find(n, ids, tomb, want_problems, 0);
	free(ids);
}

TEST(row_check_finds_every_row_of_a_sound_file)
{
	/* at most half the slots used: thousands of rows not in their first slot, runs that wrap
	 * from the last slot to the first */
	check_named(5000, plain, none, 0);
	check_named(5000, plain, every_7th, 0);
	check_named(1, plain, none, 0);
	check_named(0, plain, none, 0);
}

TEST(row_check_names_each_row_an_earlier_live_row_of_the_same_id_shadows)
{
	/* rows 5, 102, 199, ... repeat the id of the row 5 before them: each later one is shadowed
	 * (fewer than the 20 a half reports before it stops) */
	check_named(3000, dup_every_97, none, 3000 / 97 + (3000 % 97 > 5));
	/* a repeated id whose earlier rows are tombstones is no duplicate; one of a live row is */
	check_named(3000, dup_tombstoned, first_thousand, 10);
}

/* ---- damage to the map and the rows, at the first and the last slot and row ---- */

#define N 2000

struct file { unsigned char *d; size_t len; uint64_t hash_off, slots, ri_off; };

static void load(struct file *f)
{
	f->d = (unsigned char *)t_slurp("v.bin", &f->len);
	vz_vectors v;
	CHECK_OK(vz_vectors_open("v.bin", N, DIM, VZ_METRIC_EUCLIDEAN, &v));
	f->hash_off = (uint64_t)(v.hash - v.map.data);
	f->slots = v.hash_slots;
	f->ri_off = (uint64_t)(v.rowinfo - v.map.data);
	vz_vectors_close(&v);
}

static uint32_t slot_get(const struct file *f, uint64_t s) { return vz_load_u32(f->d + f->hash_off + s * 4); }
static void slot_set(struct file *f, uint64_t s, uint32_t e) { vz_store_u32(f->d + f->hash_off + s * 4, e); }
static uint64_t slot_of(const struct file *f, uint64_t row)
{
	for (uint64_t s = 0; s < f->slots; s++)
		if (slot_get(f, s) == row + 1) return s;
	CHECK(!"row not in the map");
	return 0;
}
static uint64_t first_used(const struct file *f, bool last)
{
	for (uint64_t i = 0; i < f->slots; i++) {
		uint64_t s = last ? f->slots - 1 - i : i;
		if (slot_get(f, s)) return s;
	}
	CHECK(!"empty map");
	return 0;
}

/* One damage and its check: damage_begin gives h, a copy of f's bytes to damage; damage_check
 * writes it to v.bin, opens it as v and checks it, the map walked in `parts` parts (what it found
 * in rows, map, live and tombs; v stays open for more looks); damage_end closes v, gives v.bin
 * back f's bytes and frees the copy. */
struct damage {
	const struct file *f;
	struct file h;
	vz_vectors v;
	bool open;
	struct seen rows, map;
	uint64_t live, tombs;
};

static void damage_begin(struct damage *x, const struct file *f)
{
	memset(x, 0, sizeof *x);
	x->f = f;
	x->h = *f;
	x->h.d = malloc(f->len);
	CHECK(x->h.d);
	memcpy(x->h.d, f->d, f->len);
}

/* Writes the damaged copy to v.bin (for check_against_find) and closes v if open. */
static void damage_write(struct damage *x)
{
	if (x->open) vz_vectors_close(&x->v);
	x->open = false;
	t_write("v.bin", x->h.d, x->f->len);
}

static void damage_check(struct damage *x, int parts)
{
	damage_write(x);
	CHECK_OK(vz_vectors_open("v.bin", N, DIM, VZ_METRIC_EUCLIDEAN, &x->v));
	x->open = true;
	memset(&x->rows, 0, sizeof x->rows);
	memset(&x->map, 0, sizeof x->map);
	run_check(&x->v, parts, &x->rows, &x->map, &x->live, &x->tombs);
}

/* The copy undamaged again, for the next damage. */
static void damage_reset(struct damage *x) { memcpy(x->h.d, x->f->d, x->f->len); }

static void damage_end(struct damage *x)
{
	if (x->open) vz_vectors_close(&x->v);
	t_write("v.bin", x->f->d, x->f->len);
	free(x->h.d);
	memset(x, 0, sizeof *x);
}

/* damage_check in one part, and in five: the same problems found. */
static void check_damaged(struct damage *x)
{
	damage_check(x, 5);
	struct seen r5 = x->rows, m5 = x->map;
	damage_check(x, 1);
	CHECK_INT(x->live, N);
	CHECK_INT(r5.problems, x->rows.problems);
	CHECK_INT(m5.problems, x->map.problems);
	CHECK_STR(r5.last, x->rows.last);
	CHECK_STR(m5.last, x->map.last);
}

/* The rows of a sound file (plain ids, no tombstones) in v.bin and loaded in f, their ids in ids. */
static char (*sound_file(struct file *f))[24]
{
	char(*ids)[24] = calloc(N, sizeof *ids);
	CHECK(ids);
	write_rows(N, plain, none, ids);
	load(f);
	return ids;
}

TEST(row_check_names_a_row_moved_past_an_empty_slot_first_and_last)
{
	struct file f;
	char(*ids)[24] = sound_file(&f);
	for (uint64_t row = 0; row < N; row += N - 1) {
		/* the row's entry moved on past the end of its run and one empty slot more: out of
		 * reach of its first slot (rows after it in its run may lose their way too: the oracle
		 * says which) */
		struct damage x;
		damage_begin(&x, &f);
		uint64_t s = slot_of(&x.h, row), t = s, mask = x.h.slots - 1;
		while (slot_get(&x.h, t)) t = (t + 1) & mask;
		t = (t + 1) & mask;
		while (slot_get(&x.h, t)) t = (t + 1) & mask;
		slot_set(&x.h, s, 0);
		slot_set(&x.h, t, (uint32_t)row + 1);
		damage_write(&x);
		check_against_find(N, ids, none, -1, 0);
		CHECK(seen_row(row));
		damage_end(&x);
	}
	free(f.d);
	free(ids);
}

TEST(row_check_names_a_dropped_entry_and_one_past_the_rows_at_the_first_and_last_slot)
{
	struct file f;
	char(*ids)[24] = sound_file(&f);
	for (int last = 0; last < 2; last++) {
		struct damage x;
		damage_begin(&x, &f);
		/* the first (last) used slot emptied: its row is not found, the map holds one entry too few */
		uint64_t s = first_used(&f, last), row = slot_get(&f, s) - 1;
		slot_set(&x.h, s, 0);
		damage_write(&x);
		check_against_find(N, ids, none, -1, 1); /* rows that shared its run may lose their way too */
		CHECK(seen_row(row));
		check_damaged(&x);
		char want[160];
		snprintf(want, sizeof want, "id map holds %d entries for %d live rows", N - 1, N);
		CHECK_STR(x.map.last, want);
		/* the first (last) slot of the map pointing past the rows: named by its slot */
		damage_reset(&x);
		s = last ? f.slots - 1 : 0;
		bool was = slot_get(&f, s) != 0;
		slot_set(&x.h, s, N + 7);
		check_damaged(&x);
		/* in an empty slot, one entry too many; in a used one, its row is lost */
		CHECK_INT(x.map.problems, was ? 1 : 2);
		CHECK_INT(x.rows.problems > 0, was);
		if (!was) {
			snprintf(want, sizeof want, "id map holds %d entries for %d live rows", N + 1, N);
			CHECK_STR(x.map.last, want);
		}
		uint32_t *w = malloc(sizeof *w * N);
		uint64_t live = 0, tombs = 0, used = 0;
		vz_vectors_scan_rows(&x.v, 0, N, w, &live, &tombs);
		struct seen one = { 0 };
		vz_vectors_walk_id_map(&x.v, 0, 1, w, &used, on_problem, &one);
		snprintf(want, sizeof want, "id map slot %llu: row %d out of range", (unsigned long long)s, N + 6);
		CHECK_INT(one.problems, 1);
		CHECK_STR(one.last, want);
		CHECK_INT(one.last_off, (int64_t)(f.hash_off + s * 4));
		free(w);
		damage_end(&x);
	}
	free(f.d);
	free(ids);
}

TEST(row_check_of_a_map_pointing_past_the_rows_everywhere_names_21_slots_a_part_and_counts_them_all)
{
	struct file f;
	char(*ids)[24] = sound_file(&f);
	struct damage x;
	damage_begin(&x, &f);
	for (uint64_t s = 0; s < f.slots; s++) slot_set(&x.h, s, N + 1 + (uint32_t)s);
	damage_check(&x, 1);
	CHECK_INT(x.rows.problems, 2 * 21); /* each half of the rows stops after 21 */
	CHECK_INT(x.map.problems, 21 + 1);
	char want[96];
	snprintf(want, sizeof want, "id map holds %llu entries for %d live rows", (unsigned long long)f.slots, N);
	CHECK_STR(x.map.last, want);
	damage_end(&x);
	free(f.d);
	free(ids);
}

TEST(row_check_names_a_row_entry_outside_the_heap_first_and_last)
{
	struct file f;
	char(*ids)[24] = sound_file(&f);
	for (uint64_t row = 0; row < N; row += N - 1) {
		struct damage x;
		damage_begin(&x, &f);
		vz_store_u64(x.h.d + f.ri_off + row * VZ_ROWINFO_SIZE, (uint64_t)1 << 40); /* its id's offset */
		damage_check(&x, 3);
		char want[96];
		snprintf(want, sizeof want, "row %llu: id or payload outside the heap", (unsigned long long)row);
		CHECK_INT(x.rows.problems, 1);
		CHECK_STR(x.rows.last, want);
		CHECK_INT(x.rows.last_off, (int64_t)(f.ri_off + row * VZ_ROWINFO_SIZE));
		CHECK_INT(x.live, N - 1);
		/* its entry in the map is one more than the live rows */
		CHECK_INT(x.map.problems, 1);
		snprintf(want, sizeof want, "id map holds %d entries for %d live rows", N, N - 1);
		CHECK_STR(x.map.last, want);
		damage_end(&x);
	}
	free(f.d);
	free(ids);
}

TEST(row_check_of_a_full_map_finds_the_rows_that_wrap_and_counts_the_rest)
{
	struct file f;
	char(*ids)[24] = sound_file(&f);
	/* every empty slot filled with the entry of the row before it (the run wraps at the end):
	 * each row is still what vz_vectors_find answers, the map holds too many entries */
	struct damage x;
	damage_begin(&x, &f);
	struct file *h = &x.h;
	uint64_t filled = 0, mask = f.slots - 1;
	for (uint64_t s = 0; s < f.slots; s++)
		if (!slot_get(h, s)) {
			uint64_t p = (s + mask) & mask;
			while (!slot_get(h, p)) p = (p + mask) & mask;
			slot_set(h, s, slot_get(h, p));
			filled++;
		}
	CHECK(filled > 0);
	damage_write(&x);
	check_against_find(N, ids, none, 0, 1);
	/* a row whose first slot is among the last ones, its entry moved to slot 0: with no empty
	 * slot, the search from its first slot wraps to it (the walk of a full map begins at slot 0) */
	uint64_t wrap = N, held = slot_get(h, 0) - 1;
	for (uint64_t r = 0; r < N && wrap == N; r++)
		if ((vz_hash64(ids[r], strlen(ids[r])) & mask) >= f.slots - 32 && r != held) wrap = r;
	CHECK(wrap < N);
	unsigned char *keep = malloc(f.len);
	memcpy(keep, h->d, f.len);
	for (uint64_t s = 1; s < f.slots; s++) /* its other entries given to the row it displaces */
		if (slot_get(h, s) == wrap + 1) slot_set(h, s, (uint32_t)held + 1);
	slot_set(h, 0, (uint32_t)wrap + 1);
	damage_write(&x);
	check_against_find(N, ids, none, -1, 1);
	CHECK(!seen_row(wrap));
	memcpy(h->d, keep, f.len);
	free(keep);
	/* and with row 0 and the last row dropped from it (a duplicate of another row in their place) */
	slot_set(h, slot_of(&f, 0), 5);
	slot_set(h, slot_of(&f, N - 1), 5);
	damage_check(&x, 1);
	bool first = false, lastrow = false;
	for (int i = 0; i < x.rows.problems; i++) {
		first |= x.rows.rows[i] == 0;
		lastrow |= x.rows.rows[i] == N - 1;
	}
	CHECK(first && lastrow);
	for (int i = 0; i < x.rows.problems; i++) CHECK(vz_vectors_find(&x.v, ids[x.rows.rows[i]], strlen(ids[x.rows.rows[i]])) != (int64_t)x.rows.rows[i]);
	damage_end(&x);
	free(f.d);
	free(ids);
}
