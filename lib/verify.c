/* verify.c: full integrity checks of a collection, and recovery. */
#include "postings_delta.h"
#include "ws_cache.h"
#include "ws_internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int vz_recover_mode_parse(const char *name, enum vz_recover_mode *out)
{
	if (!strcmp(name, "point-in-time")) *out = VZ_RECOVER_POINT_IN_TIME;
	else if (!strcmp(name, "tolerate-tail")) *out = VZ_RECOVER_TOLERATE_TAIL;
	else if (!strcmp(name, "absolute")) *out = VZ_RECOVER_ABSOLUTE;
	else if (!strcmp(name, "salvage")) *out = VZ_RECOVER_SALVAGE;
	else return vz_fail(VZ_EINVAL, "unknown recovery mode '%s' (point-in-time, tolerate-tail, absolute, salvage)", name);
	return VZ_OK;
}

const char *vz_recover_mode_name(enum vz_recover_mode m)
{
	switch (m) {
	case VZ_RECOVER_POINT_IN_TIME: return "point-in-time";
	case VZ_RECOVER_TOLERATE_TAIL: return "tolerate-tail";
	case VZ_RECOVER_ABSOLUTE: return "absolute";
	case VZ_RECOVER_SALVAGE: return "salvage";
	}
	return "unknown";
}

/* Problems found while checks run in two threads (or before their turn), kept to be reported
 * in order. */
struct found { char *file, *what; int64_t off; };
struct found_list { struct found *a; size_t n, cap; bool lost; };

struct checker {
	vz_verify_cb cb;
	void *ctx;
	int problems;
	struct found_list *defer; /* problems go here instead of to cb while set */
	/* for naming metadata.json when every other file disagrees with it the same way */
	int id_checked, foreign, gen_checked, newer;
	vz_coll_id other;
};

static void problem(struct checker *k, const char *file, int64_t off, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void found_cb(void *ctx, const char *file, int64_t off, const char *what)
{
	struct found_list *l = ctx;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 8;
		struct found *a = realloc(l->a, cap * sizeof *a);
		if (!a) { l->lost = true; return; }
		l->a = a;
		l->cap = cap;
	}
	char *f = strdup(file), *w = strdup(what);
	if (!f || !w) {
		free(f);
		free(w);
		l->lost = true;
		return;
	}
	l->a[l->n++] = (struct found){ f, w, off };
}

static void problem(struct checker *k, const char *file, int64_t off, const char *fmt, ...)
{
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	if (k->defer) {
		found_cb(k->defer, file, off, what);
		return;
	}
	k->problems++;
	k->cb(k->ctx, file, off, what);
}

/* Reports the problems kept in l, in the order they were found, and empties it. */
static void found_flush(struct checker *k, struct found_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++) {
		problem(k, l->a[i].file, l->a[i].off, "%s", l->a[i].what);
		free(l->a[i].file);
		free(l->a[i].what);
	}
	if (l->lost) problem(k, name, -1, "out of memory while checking: some problems were not recorded");
	free(l->a);
	memset(l, 0, sizeof *l);
}

/* Strips "path/to/dir/" from a detail so reports name the file as "vectors.bin: ...". */
static const char *short_detail(const char *detail, const char *dir)
{
	size_t l = strlen(dir);
	if (!strncmp(detail, dir, l) && detail[l] == '/') return detail + l + 1;
	return detail;
}

/* The detail without a leading "NAME: " (the report names the file already). */
static const char *without_name(const char *detail, const char *name)
{
	size_t l = strlen(name);
	if (!strncmp(detail, name, l) && detail[l] == ':' && detail[l + 1] == ' ') return detail + l + 2;
	return detail;
}

/* Maps the file at path and checks its header (any version this vz reads); the mapping is kept
 * for the checks that follow (unmapped on failure). */
static int map_with_header(const char *path, const char *magic, vz_map *map, vz_file_header *h)
{
	int rc = vz_map_file(path, map);
	if (rc) return rc;
	if ((rc = vz_header_decode(map->data, map->size, magic, 2, h))) vz_unmap(map);
	return rc;
}

/* Reads and checks the header of the file at path. */
static int read_header(const char *path, const char *magic, vz_file_header *h)
{
	vz_map map;
	int rc = map_with_header(path, magic, &map, h);
	if (!rc) vz_unmap(&map);
	return rc;
}

/* Whether the header h of file name belongs with metadata m (identity, and generation when
 * check_gen); counts what disagrees for blame_metadata. */
static bool check_identity(struct checker *k, const vz_meta *m, const char *name, const vz_file_header *h, bool check_gen)
{
	vz_coll_id id;
	if (vz_id_is_set(&m->id)) {
		k->id_checked++;
		if (vz_header_id(h, &id) && !vz_id_equal(&id, &m->id)) {
			if (k->foreign == 0 || vz_id_equal(&id, &k->other)) k->foreign++;
			k->other = id;
		}
	}
	if (check_gen) {
		k->gen_checked++;
		if (h->generation > m->generation) k->newer++;
	}
	int rc = !strcmp(name, "wal.log") ? vz_meta_check_wal(m, h) : vz_meta_check_header(m, name, h, check_gen);
	if (rc) problem(k, name, 0, "%s", without_name(vz_last_error(), name));
	return rc == VZ_OK;
}

/* vectors.bin's rows are checked in parts, taken by whichever thread is free, so that the two
 * threads finish together: the body's hash (one pass, one thread) is the longest job, the index
 * and the parts of the rows fill the other thread and then both. The rows in ROW_PARTS parts
 * (vz_vectors_scan_rows: each row's entry, state and print, in row order), then, once every
 * part's are written, the id map in WALK_PARTS parts (vz_vectors_walk_id_map, in slot order);
 * the last of those reports the rows (vz_vectors_report_rows) and counts the map's entries. */
enum { ROW_PARTS = 8, WALK_PARTS = 4, JOBS = 2 + ROW_PARTS + WALK_PARTS };

/* vectors.bin and index.hnsw, open for their full checks (vz_verify_locked runs them on both
 * cores: see deep_checks), and what those find. */
struct deep {
	bool vectors_open, index_open;
	vz_vectors v;
	vz_map imap;
	vz_hnsw_index idx;
	struct found_list body, rows[ROW_PARTS], walk[WALK_PARTS], id_map, index;
	uint64_t live[ROW_PARTS], tombstones[ROW_PARTS]; /* found in each part of the rows */
	uint64_t used[WALK_PARTS];       /* id map entries found in each part of the map */
	uint64_t want_tombstones;        /* metadata.json's count */
	int next;                        /* the next of the jobs to take */
	int walks_left;                  /* parts of the map not done: the last reports the rows */
	int vectors_users;               /* jobs not done with vectors.bin: the last unmaps it */
	uint32_t *rowword;               /* every row's word (vz_vectors_scan_rows; NULL: out of memory) */
	int scans_left;                  /* parts whose row words are not written yet */
	pthread_mutex_t lock;            /* guards scans_left */
	pthread_cond_t scanned;          /* scans_left fell to 0 */
};

/* The quick check's count: the flags byte of each row entry alone (the full check looks at
 * the rest of each entry, and counts there). */
static uint64_t count_tombstones(const vz_vectors *v)
{
	uint64_t tomb = 0;
	for (uint64_t r = 0; r < v->rows; r++) tomb += (v->rowinfo[r * VZ_ROWINFO_SIZE + 18] & VZ_ROW_TOMBSTONE) != 0;
	return tomb;
}

/* The O(1) checks of a data file against metadata.json; the full ones are left to deep_checks
 * (through d) unless quick. */
static void check_data_file(struct checker *k, const char *dir, const vz_meta *m, const char *name, bool quick, struct deep *d)
{
	char path[VZ_PATH_MAX];
	bool is_vectors = !strcmp(name, "vectors.bin");
	const vz_file_sum *want = is_vectors ? &m->vectors : &m->index;
	const char *magic = is_vectors ? VZ_MAGIC_VECTORS : VZ_MAGIC_INDEX;
	if (m->rows == 0) return;
	if (!is_vectors && !want->present) return; /* a workspace graph not built yet (meta.c allows it) */
	/* an interrupted checkpoint may have left the committed file under another name */
	vz_settle_data_file(dir, name, magic, m->base_generation, false, path, sizeof path);
	vz_file_header h;
	vz_map map;
	int rc = map_with_header(path, magic, &map, &h);
	if (rc == VZ_ENOENT) { problem(k, name, -1, "missing (metadata.json lists it)"); return; }
	if (rc) { problem(k, name, 0, "%s", short_detail(vz_last_error(), dir)); return; }
	if (!check_identity(k, m, name, &h, true)) { vz_unmap(&map); return; }
	if (is_vectors) {
		vz_vectors v;
		rc = vz_vectors_open_mapped(path, &map, m->rows, m->cfg.dim, m->cfg.metric, &v);
		if (rc) { problem(k, name, 0, "%s", short_detail(vz_last_error(), dir)); return; }
		if (v.map.size != want->size) problem(k, name, -1, "size %zu, metadata.json says %llu", v.map.size, (unsigned long long)want->size);
		if (v.header.body_checksum != want->body_checksum) problem(k, name, 32, "body checksum in the header differs from metadata.json");
		if (!quick) { /* the tombstones are counted with the rest of the rows */
			d->v = v;
			d->want_tombstones = m->tombstones;
			d->vectors_open = true;
			return;
		}
		uint64_t tomb = count_tombstones(&v);
		if (tomb != m->tombstones) problem(k, name, -1, "%llu tombstones, metadata.json says %llu", (unsigned long long)tomb, (unsigned long long)m->tombstones);
		vz_vectors_close(&v);
		return;
	}
	vz_hnsw_index idx;
	rc = vz_hnsw_open(map.data, map.size, m->cfg.dim, m->cfg.metric, m->rows, &idx);
	if (rc) {
		problem(k, name, 0, "%s", short_detail(vz_last_error(), dir));
	} else {
		if (map.size != want->size) problem(k, name, -1, "size %zu, metadata.json says %llu", map.size, (unsigned long long)want->size);
		if (h.body_checksum != want->body_checksum) problem(k, name, 32, "body checksum in the header differs from metadata.json");
		if (!quick) {
			d->idx = idx;
			d->imap = map;
			d->index_open = true;
			return;
		}
	}
	vz_unmap(&map);
}

/* vz_vectors_verify names vectors.bin: a segment's problems carry the segment's name */
struct renamed { struct checker *k; const char *name; };

static void renamed_cb(void *ctx, const char *file, int64_t offset, const char *what)
{
	const struct renamed *r = ctx;
	(void)file;
	problem(r->k, r->name, offset, "%s", what);
}

/* The segments metadata.json lists (format_version 3): each file there, of its collection and
 * generation, of the size and body checksum listed, whole (body hash) and, unless quick, sound
 * inside (rows, graph). A segment's rows exist nowhere else: recover refuses to go on without
 * them (restore from a backup). */
static void check_segments(struct checker *k, const char *dir, const vz_meta *m, bool quick)
{
	for (uint32_t i = 0; i < m->nsegments; i++) {
		const vz_segment_sum *g = &m->segments[i];
		for (int f = 0; f < 2; f++) {
			char name[64], path[VZ_PATH_MAX];
			const vz_file_sum *want = f ? &g->index : &g->vectors;
			const char *magic = f ? VZ_MAGIC_INDEX : VZ_MAGIC_VECTORS;
			if (f && !want->present) continue; /* a segment without a graph */
			vz_segment_name(g->generation, f, name, sizeof name);
			snprintf(path, sizeof path, "%s/%s", dir, name);
			vz_map map;
			vz_file_header h;
			bool whole = false;
			int rc = vz_map_file(path, &map);
			if (rc == VZ_ENOENT) { problem(k, name, -1, "missing (metadata.json lists it)"); continue; }
			if (rc) { problem(k, name, -1, "%s", short_detail(vz_last_error(), dir)); continue; }
			rc = vz_header_decode(map.data, map.size, magic, 2, &h);
			if (rc) problem(k, name, 0, "%s", short_detail(vz_last_error(), dir));
			else if (check_identity(k, m, name, &h, true)) {
				if (map.size != want->size) problem(k, name, -1, "size %zu, metadata.json says %llu", map.size, (unsigned long long)want->size);
				if (h.body_checksum != want->body_checksum) problem(k, name, 32, "body checksum in the header differs from metadata.json");
				else if (vz_hash64(map.data + VZ_HEADER_SIZE, map.size - VZ_HEADER_SIZE) != h.body_checksum)
					problem(k, name, -1, "body checksum mismatch (bytes 64..end were changed)");
				else whole = true;
				if (whole && f && !quick) {
					vz_hnsw_index idx;
					if (vz_hnsw_open(map.data, map.size, m->cfg.dim, m->cfg.metric, g->rows, &idx) || vz_hnsw_verify(&idx))
						problem(k, name, -1, "%s", short_detail(vz_last_error(), dir));
				}
			}
			vz_unmap(&map);
			if (f || quick || !whole) continue;
			vz_vectors v;
			if (vz_vectors_open(path, g->rows, m->cfg.dim, m->cfg.metric, &v)) {
				problem(k, name, 0, "%s", short_detail(vz_last_error(), dir));
				continue;
			}
			struct renamed r = { k, name };
			vz_vectors_verify(&v, renamed_cb, &r);
			vz_vectors_close(&v);
		}
	}
}

/* Takes the jobs of deep_checks one at a time until none is left, the longest first:
 * vectors.bin's body (its checksum and every float finite, in one pass over the bytes),
 * index.hnsw (checksum and graph), each part of vectors.bin's rows (entries, ids hashed, live
 * rows and tombstones counted), then each part of its id map. A thread that takes a part of the
 * map before the last part of the rows is written waits for it: the other thread is writing it,
 * never waiting itself. */
static void *deep_jobs(void *arg)
{
	struct deep *d = arg;
	for (int job; (job = __atomic_fetch_add(&d->next, 1, __ATOMIC_RELAXED)) < JOBS;) {
		if (job == 1) {
			if (d->index_open && vz_hnsw_verify(&d->idx)) found_cb(&d->index, "index.hnsw", -1, vz_last_error());
			vz_unmap(&d->imap); /* here, while the other thread works, not after */
			continue;
		}
		if (!d->vectors_open) continue;
		bool mem = d->rowword != NULL;
		if (job == 0) vz_vectors_verify_body(&d->v, found_cb, &d->body);
		if (job >= 2 && job < 2 + ROW_PARTS) {
			int part = job - 2;
			uint64_t from = d->v.rows * (uint64_t)part / ROW_PARTS, to = d->v.rows * (uint64_t)(part + 1) / ROW_PARTS;
			if (mem) vz_vectors_scan_rows(&d->v, from, to, d->rowword, &d->live[part], &d->tombstones[part]);
			pthread_mutex_lock(&d->lock);
			if (--d->scans_left == 0) pthread_cond_broadcast(&d->scanned);
			pthread_mutex_unlock(&d->lock);
		}
		if (job >= 2 + ROW_PARTS) {
			int part = job - 2 - ROW_PARTS;
			pthread_mutex_lock(&d->lock);
			while (d->scans_left > 0) pthread_cond_wait(&d->scanned, &d->lock);
			pthread_mutex_unlock(&d->lock);
			if (mem) vz_vectors_walk_id_map(&d->v, part, WALK_PARTS, d->rowword, &d->used[part], found_cb, &d->walk[part]);
			if (__atomic_sub_fetch(&d->walks_left, 1, __ATOMIC_ACQ_REL) == 0) {
				uint64_t live = 0, used = 0;
				for (int p = 0; p < ROW_PARTS && mem; p++) {
					uint64_t from = d->v.rows * (uint64_t)p / ROW_PARTS, to = d->v.rows * (uint64_t)(p + 1) / ROW_PARTS;
					vz_vectors_report_rows(&d->v, from, to, d->rowword, found_cb, &d->rows[p]);
					live += d->live[p];
				}
				for (int p = 0; p < WALK_PARTS; p++) used += d->used[p];
				if (mem) vz_vectors_id_map_count(&d->v, used, live, found_cb, &d->id_map);
				else found_cb(&d->id_map, "vectors.bin", -1, "out of memory: the rows and the id map were not checked");
			}
		}
		if (__atomic_sub_fetch(&d->vectors_users, 1, __ATOMIC_ACQ_REL) == 0) vz_vectors_close(&d->v);
	}
	return NULL;
}

/* The full checks of vectors.bin and index.hnsw, on two threads (both cores). Problems are
 * reported in one order whichever thread found them: vectors.bin's (body, tombstone count, rows,
 * id map), then pending (index.hnsw's O(1) checks), then index.hnsw's. */
static void deep_checks(struct checker *k, struct deep *d, struct found_list *pending)
{
	pthread_t t;
	d->walks_left = WALK_PARTS;
	d->vectors_users = 1 + ROW_PARTS + WALK_PARTS;
	d->scans_left = ROW_PARTS;
	size_t rows = d->vectors_open && d->v.rows ? (size_t)d->v.rows : 1;
	d->rowword = d->vectors_open ? malloc(sizeof *d->rowword * rows) : NULL;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->scanned, NULL);
	bool threaded = (d->vectors_open || d->index_open) && pthread_create(&t, NULL, deep_jobs, d) == 0;
	deep_jobs(d);
	if (threaded) pthread_join(t, NULL);
	bool mem = d->rowword != NULL;
	free(d->rowword);
	d->rowword = NULL;
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->scanned);
	found_flush(k, &d->body, "vectors.bin");
	uint64_t tomb = 0;
	for (int p = 0; p < ROW_PARTS; p++) tomb += d->tombstones[p];
	if (d->vectors_open && mem && tomb != d->want_tombstones)
		problem(k, "vectors.bin", -1, "%llu tombstones, metadata.json says %llu", (unsigned long long)tomb, (unsigned long long)d->want_tombstones);
	for (int p = 0; p < ROW_PARTS; p++) found_flush(k, &d->rows[p], "vectors.bin");
	for (int p = 0; p < WALK_PARTS; p++) found_flush(k, &d->walk[p], "vectors.bin");
	found_flush(k, &d->id_map, "vectors.bin");
	found_flush(k, pending, "index.hnsw");
	found_flush(k, &d->index, "index.hnsw");
	d->vectors_open = d->index_open = false; /* the jobs unmapped both files */
}

static void check_wal(struct checker *k, const char *dir, const vz_meta *m, bool quick)
{
	char path[VZ_PATH_MAX];
	snprintf(path, sizeof path, "%s/wal.log", dir);
	if (m->has_wal_start) vz_settle_data_file(dir, "wal.log", VZ_MAGIC_WAL, m->generation, false, path, sizeof path);
	vz_wal_log w;
	int rc = vz_wal_scan(path, VZ_WAL_SCAN_STOP, &w);
	if (rc == VZ_ENOENT) { problem(k, "wal.log", -1, "missing (a dynamic collection needs its log)"); return; }
	if (rc) { problem(k, "wal.log", 0, "%s", short_detail(vz_last_error(), dir)); return; }
	bool ok = check_identity(k, m, "wal.log", &w.header, m->has_wal_start);
	if (quick || !ok) { vz_wal_free(&w); return; }
	if (w.damaged)
		problem(k, "wal.log", (int64_t)w.damage_offset, "%s (%s; %llu bytes after it)", w.damage_what,
			w.torn_tail ? "a torn tail" : "good records follow: not just a torn tail",
			(unsigned long long)(w.map.size - w.damage_offset));
	/* the transactions as replay finds them (vz_wal_next_txn): what lies outside one, and a
	 * transaction that is not whole, is damage; an unfinished transaction at the very end was
	 * never acknowledged: not damage */
	size_t pos = 0;
	bool more = true;
	while (more) {
		vz_wal_txn t;
		more = vz_wal_next_txn(&w, 0, &pos, &t);
		for (size_t i = t.stray; i < t.begin; i++) {
			const vz_wal_entry *e = &w.entries[i];
			if (e->type == VZ_WAL_COMMIT) problem(k, "wal.log", (int64_t)e->offset, "commit of transaction %llu that was not begun", (unsigned long long)e->txn);
			else problem(k, "wal.log", (int64_t)e->offset, "%s record outside its transaction", vz_wal_type_name(e->type));
		}
		if (!more) break;
		for (size_t i = t.begin + 1; i < t.end; i++) {
			const vz_wal_entry *e = &w.entries[i];
			if (e->txn != t.txn) problem(k, "wal.log", (int64_t)e->offset, "%s record outside its transaction", vz_wal_type_name(e->type));
			if (e->type == VZ_WAL_INSERT || e->type == VZ_WAL_UPDATE || e->type == VZ_WAL_DELETE) {
				vz_wal_op op;
				if (vz_wal_decode_op(e, &op)) problem(k, "wal.log", (int64_t)e->offset, "%s", vz_last_error());
				else if (e->type != VZ_WAL_DELETE && op.dim != m->cfg.dim)
					problem(k, "wal.log", (int64_t)e->offset, "vector of dimension %u in a collection of %u", op.dim, m->cfg.dim);
			}
		}
		if (t.ended_by_begin)
			problem(k, "wal.log", (int64_t)w.entries[t.end].offset, "transaction %llu begins inside transaction %llu",
				(unsigned long long)w.entries[t.end].txn, (unsigned long long)t.txn);
		else if (t.end < w.n && !t.complete)
			problem(k, "wal.log", (int64_t)w.entries[t.end].offset, "transaction %llu is not whole (its commit record does not match its begin and operations)",
				(unsigned long long)t.txn);
	}
	vz_wal_free(&w);
}

/* The header of a file of a workspace collection that amends another (cache.delta,
 * postings.delta): its magic, its size, and (*gen) its generation; false after a problem. */
static bool check_delta_header(struct checker *k, const char *dir, const char *path, const char *name, const char *magic, uint32_t version,
			       vz_file_header *h)
{
	vz_map map;
	int rc = vz_map_file(path, &map);
	if (!rc && (rc = vz_header_decode(map.data, map.size, magic, version, h))) vz_unmap(&map);
	if (rc) {
		problem(k, name, -1, "%s", without_name(short_detail(vz_last_error(), dir), name));
		return false;
	}
	size_t size = map.size;
	vz_unmap(&map);
	if (h->body_length != size - VZ_HEADER_SIZE) {
		problem(k, name, 24, "body length %llu, file has %zu", (unsigned long long)h->body_length, size - VZ_HEADER_SIZE);
		return false;
	}
	return true;
}

/* postings.delta, when one of the snapshot's generation amends postings.bin (lib/postings_delta.c):
 * its header (quick) or every byte, and that the two fit; *base_gen the generation of the
 * postings.bin it amends. False when there is none (a leftover of another generation is not
 * looked at, as readers do not). */
static bool check_postings_delta(struct checker *k, const char *dir, const vz_meta *m, bool quick, uint64_t *base_gen)
{
	char path[VZ_PATH_MAX];
	vz_file_header h;
	if (vz_settle_data_file(dir, "postings.delta", VZ_MAGIC_PDELTA, m->generation, false, path, sizeof path) || access(path, F_OK)) return false;
	if (!check_delta_header(k, dir, path, "postings.delta", VZ_MAGIC_PDELTA, PDELTA_VERSION, &h)) {
		*base_gen = UINT64_MAX;
		return true;
	}
	if (h.generation != m->generation) return false;
	*base_gen = h.aux2;
	uint64_t gen;
	if (!quick && vz_ti_delta_check(path, &gen, base_gen)) {
		problem(k, "postings.delta", -1, "%s", without_name(short_detail(vz_last_error(), dir), "postings.delta"));
		*base_gen = UINT64_MAX;
		return true;
	}
	vz_text_index *x;
	int rc = vz_text_index_open_dir(dir, m->generation, &x);
	if (rc && rc != VZ_ENOENT) problem(k, "postings.delta", -1, "%s", without_name(short_detail(vz_last_error(), dir), "postings.delta"));
	vz_text_index_close(x);
	return true;
}

/* postings.bin of a workspace collection (absent when it was built before it existed), and the
 * postings.delta that amends it. */
static void check_postings(struct checker *k, const char *dir, const vz_meta *m, bool quick)
{
	char path[VZ_PATH_MAX];
	uint64_t gen, want = m->generation;
	vz_file_header h;
	if (vz_settle_data_file(dir, "postings.bin", VZ_MAGIC_POSTINGS, m->generation, false, path, sizeof path) || access(path, F_OK)) return;
	if ((vz_header_read(path, VZ_MAGIC_POSTINGS, 1, &h) || h.generation != m->generation) && check_postings_delta(k, dir, m, quick, &want)) {
		if (want == UINT64_MAX || vz_settle_data_file(dir, "postings.bin", VZ_MAGIC_POSTINGS, want, false, path, sizeof path)) return;
	}
	vz_text_index *x;
	int rc = quick ? vz_text_index_open(path, &x) : vz_text_index_check(path, &gen);
	if (rc) {
		const char *d = short_detail(vz_last_error(), dir);
		problem(k, "postings.bin", -1, "%s", without_name(d, "postings.bin"));
		return;
	}
	if (quick) {
		gen = vz_text_index_generation(x);
		vz_text_index_close(x);
	}
	if (gen != want) problem(k, "postings.bin", 16, "generation %llu, %s says %llu", (unsigned long long)gen, want == m->generation ? "metadata.json" : "postings.delta", (unsigned long long)want);
}

/* terms.bin (dynamic collections with an embedding): every byte (checksum), the table's
 * structure, the collection id, and a save count no lower than the checkpoint's. */
static void check_terms(struct checker *k, const char *dir, const vz_meta *m, bool quick)
{
	char path[VZ_PATH_MAX];
	snprintf(path, sizeof path, "%s/terms.bin", dir);
	vz_file_header h;
	int rc = read_header(path, VZ_MAGIC_TERMS, &h);
	if (rc == VZ_ENOENT) {
		if (m->terms_saves > 0) problem(k, "terms.bin", -1, "missing, metadata.json says it was saved %llu times", (unsigned long long)m->terms_saves);
		return;
	}
	if (rc) { problem(k, "terms.bin", 0, "%s", vz_last_error()); return; }
	if (!check_identity(k, m, "terms.bin", &h, false)) return;
	if (h.generation < m->terms_saves)
		problem(k, "terms.bin", 16, "saved %llu times, metadata.json says %llu (an older copy?)", (unsigned long long)h.generation,
			(unsigned long long)m->terms_saves);
	if (quick) return;
	vz_bm25 *model;
	if ((rc = vz_bm25_load(path, &model))) { problem(k, "terms.bin", -1, "%s", short_detail(vz_last_error(), dir)); return; }
	if (vz_bm25_dim(model) != m->cfg.dim) problem(k, "terms.bin", VZ_HEADER_SIZE, "dimension %u, the collection has %u", vz_bm25_dim(model), m->cfg.dim);
	vz_bm25_free(model);
}

/* cache.bin (workspace collections): every byte, its structure, the collection id, the
 * snapshot's generation, and one chunk per live row. */
static void check_cache(struct checker *k, const char *dir, const vz_meta *m)
{
	char path[VZ_PATH_MAX];
	snprintf(path, sizeof path, "%s/cache.bin", dir);
	vz_file_header h;
	vz_coll_id id;
	uint64_t chunks, rows_end;
	int rc = vz_ws_cache_info(path, &h, &id, &chunks, &rows_end);
	if (rc == VZ_ENOENT) { problem(k, "cache.bin", -1, "missing (vz build --force makes it again)"); return; }
	if (rc) {
		/* the records that amend cache.bin (lib/wsbuild.c): named as their own file */
		const char *d = short_detail(vz_last_error(), dir);
		if (!strncmp(d, "cache.delta: ", 13)) problem(k, "cache.delta", -1, "%s", d + 13);
		else problem(k, "cache.bin", -1, "%s", d);
		return;
	}
	char want[33], got[33];
	if (vz_id_is_set(&m->id)) {
		k->id_checked++;
		vz_id_hex(&m->id, want);
		if (h.version < 2) {
			problem(k, "cache.bin", 8, "format version %u carries no collection id, metadata.json names %s (an older copy?)", h.version, want);
			return;
		}
		if (!vz_id_equal(&id, &m->id)) {
			if (k->foreign == 0 || vz_id_equal(&id, &k->other)) k->foreign++;
			k->other = id;
			vz_id_hex(&id, got);
			problem(k, "cache.bin", VZ_HEADER_SIZE, "belongs to collection %s, this is %s", got, want);
			return;
		}
	}
	k->gen_checked++;
	/* the row space: the base's rows, then each segment's; a segment's row replaces the base
	 * row of its id, so with segments the live rows listed are at most the chunks plus those */
	uint64_t rows = m->rows, live = m->live;
	for (uint32_t i = 0; i < m->nsegments; i++) {
		rows += m->segments[i].rows;
		live += m->segments[i].live;
	}
	if (h.generation > m->generation) k->newer++;
	if (h.generation != m->generation)
		problem(k, "cache.bin", 16, "generation %llu, metadata.json says %llu (%s)", (unsigned long long)h.generation,
			(unsigned long long)m->generation, h.generation < m->generation ? "an older copy?" : "a newer copy?");
	else if (m->nsegments ? chunks > live : chunks != live)
		problem(k, "cache.bin", -1, "%llu chunks, metadata.json says %llu live rows", (unsigned long long)chunks, (unsigned long long)live);
	else if (rows_end > rows)
		problem(k, "cache.bin", -1, "names rows up to %llu, metadata.json says %llu rows", (unsigned long long)rows_end, (unsigned long long)rows);
}

/* verify --quick: the headers of cache.bin and of the cache.delta that amends it (magic, size,
 * generation). */
static void check_cache_quick(struct checker *k, const char *dir, const vz_meta *m)
{
	char path[VZ_PATH_MAX];
	vz_file_header h, d;
	snprintf(path, sizeof path, "%s/cache.bin", dir);
	if (access(path, F_OK)) { problem(k, "cache.bin", -1, "missing (vz build --force makes it again)"); return; }
	if (!check_delta_header(k, dir, path, "cache.bin", VZ_MAGIC_CACHE, CACHE_VERSION, &h)) return;
	const char *name = "cache.bin";
	snprintf(path, sizeof path, "%s/cache.delta", dir);
	if (!access(path, F_OK)) {
		if (!check_delta_header(k, dir, path, "cache.delta", DELTA_MAGIC, DELTA_VERSION, &d)) return;
		if (d.aux2 == h.generation) h = d, name = "cache.delta"; /* else left over from a crash: not read */
	}
	if (h.generation != m->generation)
		problem(k, name, 16, "generation %llu, metadata.json says %llu (%s)", (unsigned long long)h.generation, (unsigned long long)m->generation,
			h.generation < m->generation ? "an older copy?" : "a newer copy?");
}

/* When every other file disagrees with metadata.json in the same way, it is metadata.json that
 * is the odd one out: say so. */
static void blame_metadata(struct checker *k, const vz_meta *m)
{
	char want[33], got[33];
	if (k->id_checked > 0 && k->foreign == k->id_checked) {
		vz_id_hex(&m->id, want);
		vz_id_hex(&k->other, got);
		problem(k, "metadata.json", -1, "names collection %s, every other file belongs to %s (a copy from another collection?)", want, got);
	} else if (k->gen_checked > 0 && k->newer == k->gen_checked) {
		problem(k, "metadata.json", -1, "generation %llu, every other file is of a later one (an older copy?)", (unsigned long long)m->generation);
	}
}

int vz_verify_locked(const char *dir, bool quick, vz_verify_cb cb, void *ctx, int *problems)
{
	*problems = 0;
	struct checker k = { .cb = cb, .ctx = ctx };
	vz_meta m;
	int rc = vz_meta_read(dir, &m);
	if (rc) {
		problem(&k, "metadata.json", -1, "%s", rc == VZ_ENOENT ? "missing" : short_detail(vz_last_error(), dir));
		/* without metadata the other files can still be checked on their own */
		char path[VZ_PATH_MAX];
		const char *names[] = { "vectors.bin", "index.hnsw", "wal.log", "terms.bin", "cache.bin" };
		const char *magics[] = { VZ_MAGIC_VECTORS, VZ_MAGIC_INDEX, VZ_MAGIC_WAL, VZ_MAGIC_TERMS, VZ_MAGIC_CACHE };
		for (int i = 0; i < 5; i++) {
			snprintf(path, sizeof path, "%s/%s", dir, names[i]);
			vz_map mp;
			vz_file_header h;
			if (vz_map_file(path, &mp)) continue;
			if (vz_header_decode(mp.data, mp.size, magics[i], 2, &h)) problem(&k, names[i], 0, "%s", vz_last_error());
			else if (i != 2 && h.body_checksum != vz_hash64(mp.data + VZ_HEADER_SIZE, mp.size - VZ_HEADER_SIZE))
				problem(&k, names[i], -1, "body checksum mismatch");
			vz_unmap(&mp);
		}
		*problems = k.problems;
		return VZ_OK;
	}
	/* progress (vz_progress): the five files, one step each */
	vz_progress("verifying", 0, 5);
	struct deep d = { 0 };
	struct found_list pending = { 0 };
	check_data_file(&k, dir, &m, "vectors.bin", quick, &d);
	vz_progress("verifying", 1, 5);
	k.defer = &pending;
	check_data_file(&k, dir, &m, "index.hnsw", quick, &d);
	k.defer = NULL;
	deep_checks(&k, &d, &pending);
	vz_progress("verifying", 2, 5);
	check_segments(&k, dir, &m, quick);
	if (!m.workspace) check_wal(&k, dir, &m, quick);
	else check_postings(&k, dir, &m, quick);
	vz_progress("verifying", 3, 5);
	if (!m.workspace && m.cfg.embedding[0]) check_terms(&k, dir, &m, quick);
	vz_progress("verifying", 4, 5);
	/* cache.bin holds the df table that embeds query texts: a snapshot without an embedding
	 * (written by the library alone) has none */
	if (m.workspace && !quick && m.cfg.embedding[0]) check_cache(&k, dir, &m);
	else if (m.workspace && m.cfg.embedding[0]) check_cache_quick(&k, dir, &m);
	vz_progress("verifying", 5, 5);
	blame_metadata(&k, &m);
	vz_meta_free(&m);
	*problems = k.problems;
	return VZ_OK;
}

int vz_collection_verify(const char *dir, bool quick, int lock_timeout_ms, vz_verify_cb cb, void *ctx, int *problems)
{
	*problems = 0;
	vz_lock lock = VZ_LOCK_INIT;
	int rc = vz_collection_lock(dir, VZ_LOCK_SHARED, lock_timeout_ms, &lock);
	if (rc) return rc;
	rc = vz_verify_locked(dir, quick, cb, ctx, problems);
	vz_lock_release(&lock);
	return rc;
}
