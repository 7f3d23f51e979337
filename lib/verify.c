/* verify.c: full integrity checks of a collection, and recovery. */
#include "internal.h"

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

struct checker {
	vz_verify_cb cb;
	void *ctx;
	int problems;
};

static void problem(struct checker *k, const char *file, int64_t off, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void problem(struct checker *k, const char *file, int64_t off, const char *fmt, ...)
{
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	k->problems++;
	k->cb(k->ctx, file, off, what);
}

static void counting_cb(void *ctx, const char *file, int64_t off, const char *what)
{
	struct checker *k = ctx;
	k->problems++;
	k->cb(k->ctx, file, off, what);
}

/* Strips "path/to/dir/" from a detail so reports name the file as "vectors.bin: ...". */
static const char *short_detail(const char *detail, const char *dir)
{
	size_t l = strlen(dir);
	if (!strncmp(detail, dir, l) && detail[l] == '/') return detail + l + 1;
	return detail;
}

static void check_data_file(struct checker *k, const char *dir, const vz_meta *m, const char *name, bool quick)
{
	char path[4200];
	const vz_file_sum *want = !strcmp(name, "vectors.bin") ? &m->vectors : &m->index;
	if (m->rows == 0) return;
	/* an interrupted checkpoint may have left the committed file under another name */
	vz_settle_data_file(dir, name, !strcmp(name, "vectors.bin") ? VZ_MAGIC_VECTORS : VZ_MAGIC_INDEX, m->generation, false, path, sizeof path);
	if (!strcmp(name, "vectors.bin")) {
		vz_vectors v;
		int rc = vz_vectors_open(path, m->rows, m->cfg.dim, m->cfg.metric, &v);
		if (rc) { problem(k, name, 0, "%s", short_detail(vz_last_error(), dir)); return; }
		if (v.header.generation != m->generation) problem(k, name, 16, "generation %llu, metadata.json says %llu", (unsigned long long)v.header.generation, (unsigned long long)m->generation);
		if (v.map.size != want->size) problem(k, name, -1, "size %zu, metadata.json says %llu", v.map.size, (unsigned long long)want->size);
		if (v.header.body_checksum != want->body_checksum) problem(k, name, 32, "body checksum in the header differs from metadata.json");
		uint64_t tomb = 0;
		for (uint64_t r = 0; r < v.rows; r++) {
			unsigned f;
			if (!vz_vectors_row(&v, r, NULL, NULL, NULL, NULL, &f) && (f & VZ_ROW_TOMBSTONE)) tomb++;
		}
		if (tomb != m->tombstones) problem(k, name, -1, "%llu tombstones, metadata.json says %llu", (unsigned long long)tomb, (unsigned long long)m->tombstones);
		if (!quick) vz_vectors_verify(&v, counting_cb, k) ;
		vz_vectors_close(&v);
		return;
	}
	vz_map map;
	int rc = vz_map_file(path, &map);
	if (rc) { problem(k, name, -1, "%s", short_detail(vz_last_error(), dir)); return; }
	vz_hnsw_index idx;
	vz_file_header h;
	rc = vz_header_decode(map.data, map.size, VZ_MAGIC_INDEX, 1, &h);
	if (!rc) rc = vz_hnsw_open(map.data, map.size, m->cfg.dim, m->cfg.metric, m->rows, &idx);
	if (rc) {
		problem(k, name, 0, "%s", short_detail(vz_last_error(), dir));
	} else {
		if (h.generation != m->generation) problem(k, name, 16, "generation %llu, metadata.json says %llu", (unsigned long long)h.generation, (unsigned long long)m->generation);
		if (map.size != want->size) problem(k, name, -1, "size %zu, metadata.json says %llu", map.size, (unsigned long long)want->size);
		if (h.body_checksum != want->body_checksum) problem(k, name, 32, "body checksum in the header differs from metadata.json");
		if (!quick && vz_hnsw_verify(&idx)) problem(k, name, -1, "%s", vz_last_error());
	}
	vz_unmap(&map);
}

static void check_wal(struct checker *k, const char *dir, const vz_meta *m, bool quick)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/wal.log", dir);
	vz_wal_log w;
	int rc = vz_wal_scan(path, VZ_WAL_SCAN_STOP, &w);
	if (rc) { problem(k, "wal.log", 0, "%s", short_detail(vz_last_error(), dir)); return; }
	if (quick) { vz_wal_free(&w); return; }
	if (w.damaged)
		problem(k, "wal.log", (int64_t)w.damage_offset, "%s (%s; %llu bytes after it)", w.damage_what,
			w.torn_tail ? "a torn tail" : "good records follow: not just a torn tail",
			(unsigned long long)(w.map.size - w.damage_offset));
	uint64_t open_txn = 0;
	bool in_txn = false;
	for (size_t i = 0; i < w.n; i++) {
		const vz_wal_entry *e = &w.entries[i];
		if (e->type == VZ_WAL_BEGIN) {
			if (in_txn) problem(k, "wal.log", (int64_t)e->offset, "transaction %llu begins inside transaction %llu", (unsigned long long)e->txn, (unsigned long long)open_txn);
			in_txn = true;
			open_txn = e->txn;
		} else if (e->type == VZ_WAL_COMMIT) {
			if (!in_txn || e->txn != open_txn) problem(k, "wal.log", (int64_t)e->offset, "commit of transaction %llu that was not begun", (unsigned long long)e->txn);
			in_txn = false;
		} else {
			if (!in_txn || e->txn != open_txn) problem(k, "wal.log", (int64_t)e->offset, "%s record outside its transaction", vz_wal_type_name(e->type));
			if (e->type == VZ_WAL_INSERT || e->type == VZ_WAL_UPDATE || e->type == VZ_WAL_DELETE) {
				vz_wal_op op;
				if (vz_wal_decode_op(e, &op)) problem(k, "wal.log", (int64_t)e->offset, "%s", vz_last_error());
				else if (e->type != VZ_WAL_DELETE && op.dim != m->cfg.dim)
					problem(k, "wal.log", (int64_t)e->offset, "vector of dimension %u in a collection of %u", op.dim, m->cfg.dim);
			}
		}
	}
	/* an unfinished transaction at the very end was never acknowledged: not damage */
	vz_wal_free(&w);
}

/* postings.bin of a workspace collection (absent when it was built before it existed). */
static void check_postings(struct checker *k, const char *dir, const vz_meta *m, bool quick)
{
	char path[4200];
	uint64_t gen;
	if (vz_settle_data_file(dir, "postings.bin", VZ_MAGIC_POSTINGS, m->generation, false, path, sizeof path) || access(path, F_OK)) return;
	vz_text_index *x;
	int rc = quick ? vz_text_index_open(path, &x) : vz_text_index_check(path, &gen);
	if (rc) {
		const char *d = short_detail(vz_last_error(), dir);
		problem(k, "postings.bin", -1, "%s", strncmp(d, "postings.bin: ", 14) ? d : d + 14);
		return;
	}
	if (quick) {
		gen = vz_text_index_generation(x);
		vz_text_index_close(x);
	}
	if (gen != m->generation) problem(k, "postings.bin", 16, "generation %llu, metadata.json says %llu", (unsigned long long)gen, (unsigned long long)m->generation);
}

int vz_collection_verify(const char *dir, bool quick, int lock_timeout_ms, vz_verify_cb cb, void *ctx, int *problems)
{
	*problems = 0;
	vz_lock lock = VZ_LOCK_INIT;
	int rc = vz_collection_lock(dir, VZ_LOCK_SHARED, lock_timeout_ms, &lock);
	if (rc) return rc;
	struct checker k = { cb, ctx, 0 };
	vz_meta m;
	rc = vz_meta_read(dir, &m);
	if (rc) {
		problem(&k, "metadata.json", -1, "%s", short_detail(vz_last_error(), dir));
		/* without metadata the other files can still be checked on their own */
		char path[4200];
		const char *names[] = { "vectors.bin", "index.hnsw", "wal.log" };
		const char *magics[] = { VZ_MAGIC_VECTORS, VZ_MAGIC_INDEX, VZ_MAGIC_WAL };
		for (int i = 0; i < 3; i++) {
			snprintf(path, sizeof path, "%s/%s", dir, names[i]);
			vz_map mp;
			vz_file_header h;
			if (vz_map_file(path, &mp)) continue;
			if (vz_header_decode(mp.data, mp.size, magics[i], 1, &h)) problem(&k, names[i], 0, "%s", vz_last_error());
			else if (i < 2 && h.body_checksum != vz_hash64(mp.data + VZ_HEADER_SIZE, mp.size - VZ_HEADER_SIZE))
				problem(&k, names[i], -1, "body checksum mismatch");
			vz_unmap(&mp);
		}
		vz_lock_release(&lock);
		*problems = k.problems;
		return VZ_OK;
	}
	check_data_file(&k, dir, &m, "vectors.bin", quick);
	check_data_file(&k, dir, &m, "index.hnsw", quick);
	if (!m.workspace) check_wal(&k, dir, &m, quick);
	else check_postings(&k, dir, &m, quick);
	vz_meta_free(&m);
	vz_lock_release(&lock);
	*problems = k.problems;
	return VZ_OK;
}
