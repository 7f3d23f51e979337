/* coll_recover.c: vz recover: check every file first, then rebuild what can be made again from
 * the rest (index, a segment's graph, terms, a checkpoint of the replayed WAL) or refuse and say
 * "restore from a backup"; workspace collections are built again from their sources. */
#include "collection_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- recovery ---- */

static void ignore_problem(void *ctx, const char *file, int64_t offset, const char *what)
{
	(void)ctx; (void)file; (void)offset; (void)what;
}

/* What recover's first check found, by file: what it may rebuild and what it must not touch. */
struct found {
	bool fatal, index, terms, wal_records;
	uint32_t ngraphs;
	uint64_t graphs[VZ_MAX_SEGMENTS]; /* generations of the segments whose graph (seg-G.hnsw) failed */
	char first_fatal[256];
};

/* A segment's graph is derived from its rows (seg-G.vec, checksummed): damage there is rebuilt,
 * as index.hnsw's is; false for every other file. */
static bool note_graph(struct found *f, const char *file)
{
	uint64_t gen;
	bool graph;
	if (!vz_segment_file_name(file, &gen, &graph) || !graph) return false;
	for (uint32_t i = 0; i < f->ngraphs; i++)
		if (f->graphs[i] == gen) return true;
	if (f->ngraphs == VZ_MAX_SEGMENTS) return false;
	f->graphs[f->ngraphs++] = gen;
	return true;
}

static void sort_problem(void *ctx, const char *file, int64_t offset, const char *what)
{
	struct found *f = ctx;
	bool fatal = false;
	if (!strcmp(file, "index.hnsw")) f->index = true;
	else if (note_graph(f, file)) { /* rebuilt from its segment's rows */
	} else if (!strcmp(file, "terms.bin")) f->terms = true;
	/* record damage is the recovery mode's business; a header, an identity or a missing log
	 * (reported at offset 0 or without one) is not */
	else if (!strcmp(file, "wal.log") && offset >= VZ_HEADER_SIZE) f->wal_records = true;
	else fatal = true;
	if (fatal && !f->fatal) {
		f->fatal = true;
		snprintf(f->first_fatal, sizeof f->first_fatal, "%s: %s", file, what);
	}
}

/* Adds the ids of the insert/update/delete records among entries [from, to) to the report. */
static void note_lost(vz_recover_report *rep, const vz_wal_log *w, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		const vz_wal_entry *e = &w->entries[i];
		vz_wal_op op;
		if ((e->type != VZ_WAL_INSERT && e->type != VZ_WAL_UPDATE && e->type != VZ_WAL_DELETE) || vz_wal_decode_op(e, &op)) continue;
		rep->ids_lost++;
		size_t at = strlen(rep->lost_ids), cap = sizeof rep->lost_ids;
		if (at + op.id_len + 8 >= cap) {
			if (at + 4 < cap && strcmp(rep->lost_ids + (at >= 3 ? at - 3 : 0), "...")) snprintf(rep->lost_ids + at, cap - at, "...");
			continue;
		}
		snprintf(rep->lost_ids + at, cap - at, "%s%.*s", at ? ", " : "", (int)op.id_len, op.id);
	}
}

/* From a salvage scan of a damaged log: the ids of the records that the mode will not apply
 * (whole transactions past the damage in point-in-time, transactions that lost a record in
 * salvage, the unfinished one at the end). */
static void list_lost(vz_recover_report *rep, const vz_wal_log *w, uint64_t after_seq, enum vz_recover_mode mode)
{
	size_t pos = 0;
	vz_wal_txn t;
	while (vz_wal_next_txn(w, after_seq, &pos, &t)) {
		bool past = t.end < w->n && w->entries[t.end].offset >= w->damage_offset;
		if (!t.complete || (mode != VZ_RECOVER_SALVAGE && past)) note_lost(rep, w, t.begin, t.end);
	}
}

/* Builds the workspace collection in dir again from its sources (vz build --force), when its
 * metadata.json can be read and names the workspace file; VZ_ENOENT when it cannot say. The
 * collection is the one dir names, whatever metadata.json says (it may be another's copy, in
 * which case it goes, so that the rebuild gets an identity of its own). */
static int rebuild_from_sources(const char *dir, int threads, int lock_timeout_ms, vz_recover_report *rep)
{
	vz_meta m;
	if (vz_meta_read(dir, &m)) return VZ_ENOENT;
	json_t *o = m.extra_json ? json_loads(m.extra_json, 0, NULL) : NULL;
	json_t *ws = json_object_get(o, "workspace"), *file = json_object_get(ws, "file"), *coll = json_object_get(ws, "collection");
	char yml[VZ_PATH_MAX] = "", data[VZ_PATH_MAX], name[140], named[140] = "";
	if (json_is_string(file)) snprintf(yml, sizeof yml, "%s", json_string_value(file));
	if (json_is_string(coll)) snprintf(named, sizeof named, "%s", json_string_value(coll));
	json_decref(o);
	vz_meta_free(&m);
	/* dir is DATA/workspace/PROJECT/COLLECTION */
	snprintf(data, sizeof data, "%s", dir);
	char *cut[3];
	for (int i = 0; i < 3; i++) {
		cut[i] = strrchr(data, '/');
		if (!cut[i] || !yml[0]) return VZ_ENOENT;
		*cut[i] = '\0';
	}
	snprintf(name, sizeof name, "%s/%s", cut[1] + 1, cut[0] + 1);
	vz_workspace *w;
	if (vz_workspace_load(yml, &w)) return VZ_ENOENT;
	const vz_ws_collection *wc = vz_workspace_find(w, name);
	int rc = VZ_ENOENT;
	if (wc) {
		/* a metadata.json copied from another collection would lend it its identity */
		char meta_path[VZ_PATH_MAX];
		if (strcmp(named, name) && !vz_path_fmt(meta_path, sizeof meta_path, "%s/metadata.json", dir)) vz_io_unlink(meta_path, true);
		vz_ws_stats st;
		rc = vz_workspace_build(w, wc, data, VZ_WS_BUILD_FORCE, threads, lock_timeout_ms, NULL, NULL, &st);
		if (!rc) {
			int problems;
			rep->rebuilt_from_sources = true;
			rep->index_rebuilt = true;
			rc = vz_collection_verify(dir, false, lock_timeout_ms, ignore_problem, NULL, &problems);
			if (!rc && problems) rc = vz_fail(VZ_ECORRUPT, "rebuilt from %s, but verify still finds %d problems: run vz verify for details", yml, problems);
		}
	}
	vz_workspace_free(w);
	return rc;
}

struct text_ctx { vz_bm25 *m; int rc; };

static int add_text(void *ctx, const vz_result *r, const float *vector)
{
	(void)vector;
	struct text_ctx *t = ctx;
	if (!r->payload) return VZ_OK;
	json_t *o = json_loadb(r->payload, r->payload_len, 0, NULL);
	json_t *text = json_is_object(o) ? json_object_get(o, "text") : NULL;
	int rc = json_is_string(text) ? vz_bm25_add_document(t->m, json_string_value(text), json_string_length(text)) : VZ_OK;
	json_decref(o);
	return rc;
}

/* Makes terms.bin again from the texts the rows store (their payload's "text"), with a save
 * count past every earlier one. Texts inserted with a payload of their own, and deleted ones,
 * are no longer known: their document counts are gone. */
static int rebuild_terms(struct vz_collection *c)
{
	vz_bm25 *m;
	int rc = vz_bm25_new(c->meta.cfg.dim, &m);
	if (rc) return rc;
	vz_bm25_set_origin(m, &c->meta.id, c->meta.terms_saves);
	struct text_ctx t = { m, 0 };
	rc = vz_collection_foreach(c, add_text, &t);
	if (!rc) rc = vz_bm25_save_dir(m, c->dir);
	vz_bm25_free(m);
	return rc;
}

/* Builds the graph of the segment of generation gen (seg-G.hnsw) again from its rows: seg-G.vec,
 * which the first check found whole (its body checksum, as metadata.json lists it), holds every
 * vector the graph links (tombstone rows as zeros, as the checkpoint that wrote it gave them).
 * The new graph goes in whole or not at all (a temp file renamed over the damaged one, through
 * lib/io.c), then metadata.json, the commit, records its size and checksum. A crash between the
 * two leaves a graph that metadata.json does not vouch for: readers refuse it and verify names
 * it, as they did the damaged one, and the next recover builds it again. */
static int rebuild_graph(const char *dir, vz_meta *m, uint64_t gen, int threads)
{
	vz_segment_sum *g = NULL;
	for (uint32_t i = 0; i < m->nsegments; i++)
		if (m->segments[i].generation == gen) g = &m->segments[i];
	char vpath[VZ_PATH_MAX], ipath[VZ_PATH_MAX];
	/* a segment's graph is a float graph, an sq8 collection's too (vz-format(5), Segments) */
	if (!g || !g->index.present)
		return vz_fail(VZ_ECORRUPT, "seg-%llu.hnsw: metadata.json lists no graph to rebuild: restore from a backup (nothing was changed)",
			       (unsigned long long)gen);
	int rc = vz_segment_path(dir, gen, false, vpath, sizeof vpath);
	if (!rc) rc = vz_segment_path(dir, gen, true, ipath, sizeof ipath);
	vz_vectors v;
	if (rc || (rc = vz_vectors_open(vpath, g->rows, m->cfg.dim, m->cfg.metric, &v))) return rc;
	vz_hnsw_params p = { .m = m->cfg.m, .ef_construction = m->cfg.ef_construction, .seed = 42 };
	vz_hnsw_builder *b = NULL;
	vz_file_sum sum = { 0 };
	rc = vz_hnsw_builder_new(m->cfg.dim, m->cfg.metric, &p, v.vectors, g->rows, &b);
	if (!rc) rc = vz_hnsw_builder_add(b, 0, g->rows, threads > 0 ? threads : 1);
	if (!rc) rc = vz_coll_write_graph_file(b, ipath, &m->id, gen, &sum);
	vz_hnsw_builder_free(b);
	vz_vectors_close(&v);
	if (rc) return rc;
	g->index = sum;
	return vz_meta_write(dir, m);
}

/* Rebuilds the graphs the first check found damaged or missing (f->graphs). */
static int rebuild_graphs(const char *dir, const struct found *f, int threads)
{
	vz_meta m;
	int rc = vz_meta_read(dir, &m);
	if (rc) return rc;
	for (uint32_t i = 0; !rc && i < f->ngraphs; i++) rc = rebuild_graph(dir, &m, f->graphs[i], threads);
	vz_meta_free(&m);
	return rc;
}

static void count_transactions(const vz_wal_log *w, uint64_t after_seq, vz_recover_report *rep)
{
	for (size_t i = 0; i < w->n; i++) rep->records_replayed += w->entries[i].seq > after_seq;
	size_t pos = 0;
	vz_wal_txn t;
	/* the rule replay applies: a transaction missing a record is dropped, not replayed */
	while (vz_wal_next_txn(w, after_seq, &pos, &t)) {
		if (t.complete) rep->transactions_replayed++;
		else rep->transactions_dropped++;
	}
}

static int recover_locked(struct vz_collection *c, const char *dir, enum vz_recover_mode mode, bool dry_run, int threads,
			  int lock_timeout_ms, vz_recover_report *rep);
static int recover_checked(struct vz_collection *c, const char *dir, enum vz_recover_mode mode, bool dry_run, int threads,
			   int lock_timeout_ms, vz_recover_report *rep, const struct found *found, int problems, vz_ck_gate *gate);

/* The transactions a dry run would replay, from the log as the mode reads it (the collection
 * cannot be opened while a segment's graph is damaged). */
static int count_from_log(const char *dir, enum vz_recover_mode mode, vz_recover_report *rep)
{
	char wal[VZ_PATH_MAX];
	vz_meta m;
	vz_wal_log w;
	int rc = vz_meta_read(dir, &m);
	if (rc) return rc;
	uint64_t after = m.wal_seq;
	bool settle = m.has_wal_start;
	if (settle) rc = vz_settle_data_file(dir, "wal.log", VZ_MAGIC_WAL, m.generation, false, wal, sizeof wal);
	else rc = vz_path_fmt(wal, sizeof wal, "%s/wal.log", dir);
	vz_meta_free(&m);
	if (rc || (rc = vz_wal_scan(wal, mode == VZ_RECOVER_SALVAGE ? VZ_WAL_SCAN_SALVAGE : VZ_WAL_SCAN_STOP, &w))) return rc;
	count_transactions(&w, after, rep);
	vz_wal_free(&w);
	return VZ_OK;
}

/* Recovery rewrites files: without write access it says so before it reads anything, rather
 * than failing halfway in a way that looks like damage. */
static int check_writable(const char *dir)
{
	char wal[VZ_PATH_MAX];
	const char *what = dir;
	int e = 0;
	if (access(dir, W_OK) != 0) e = errno;
	else if (!vz_path_fmt(wal, sizeof wal, "%s/wal.log", dir) && access(wal, W_OK) != 0 && errno != ENOENT) e = errno, what = wal;
	if (!e) return VZ_OK;
	if (e == EACCES || e == EPERM || e == EROFS)
		return vz_fail(VZ_EPERM, "%s: cannot write: %s (recover needs write access; nothing was changed, use --dry-run to see what it would do)", what,
			       e == EROFS ? "read-only file system" : "permission denied");
	return vz_fail(vz_err_from_errno(e), "%s: access: %s", what, strerror(e));
}

int vz_collection_recover(const char *dir, enum vz_recover_mode mode, bool dry_run, int threads, int lock_timeout_ms,
			  vz_recover_report *rep)
{
	memset(rep, 0, sizeof *rep);
	struct vz_collection *c;
	int rc = vz_coll_new(dir, dry_run ? VZ_OPEN_READ : VZ_OPEN_WRITE, &c);
	if (rc) return rc;
	vz_lock ck = VZ_LOCK_INIT;
	/* the checkpoint lock before the collection's (the order every checkpoint takes them in):
	 * recover writes a checkpoint, and a detached one must not switch in under it */
	if (!rc && !dry_run) rc = vz_coll_check_dir(dir);
	if (!rc && !dry_run) rc = vz_coll_checkpoint_lock(dir, lock_timeout_ms, &ck);
	if (!rc) rc = vz_collection_lock(dir, VZ_LOCK_EXCLUSIVE, lock_timeout_ms, &c->lock);
	if (!rc && !dry_run) rc = check_writable(dir);
	if (rc) { vz_collection_close(c); vz_lock_release(&ck); return rc; }
	rc = recover_locked(c, dir, mode, dry_run, threads, lock_timeout_ms, rep);
	vz_lock_release(&ck);
	return rc;
}

/* Whether opening dir for writing leaves it as it is: nothing there but the files metadata.json
 * lists (and LOCK, terms.bin, the log), so no file that a crash left to settle or remove, and a
 * log that ends with a whole transaction (none to cut). */
static bool settled(const char *dir)
{
	vz_meta m;
	if (vz_meta_read(dir, &m)) return false;
	bool ok = !m.workspace;
	DIR *d = ok ? opendir(dir) : NULL;
	struct dirent *e;
	while (d && ok && (e = readdir(d))) {
		const char *n = e->d_name;
		uint64_t gen;
		bool graph;
		if (!strcmp(n, ".") || !strcmp(n, "..") || !strcmp(n, "LOCK") || !strcmp(n, "metadata.json") || !strcmp(n, "wal.log") ||
		    !strcmp(n, "terms.bin") || (m.rows > 0 && (!strcmp(n, "vectors.bin") || !strcmp(n, "index.hnsw"))))
			continue;
		ok = vz_segment_file_name(n, &gen, &graph) && vz_meta_lists_segment(&m, gen);
	}
	if (d) closedir(d);
	vz_meta_free(&m);
	char wal[VZ_PATH_MAX];
	vz_wal_log w;
	if (!ok || vz_path_fmt(wal, sizeof wal, "%s/wal.log", dir) || vz_wal_scan(wal, VZ_WAL_SCAN_STOP, &w)) return false;
	ok = !w.damaged && w.valid_end == w.map.size && (w.n == 0 || w.entries[w.n - 1].type == VZ_WAL_COMMIT);
	vz_wal_free(&w);
	return ok;
}

/* The full check of every file (vz_verify_locked) on a thread of its own, while recover replays
 * the log and writes the checkpoint's segment: the checkpoint waits for it (the gate) before its
 * commit, and before it reads the base to write a new one. keep, a second descriptor of the
 * collection's lock, holds the lock until the check passed, for recover to go on under it when
 * the check finds damage. */
struct beside {
	vz_ck_gate gate; /* first: the checkpoint is handed &gate */
	pthread_t thread;
	const char *dir;
	int keep, rc, problems;
	bool joined;
	struct found f;
};

static void *beside_run(void *arg)
{
	struct beside *b = arg;
	b->rc = vz_verify_locked(b->dir, false, sort_problem, &b->f, &b->problems);
	return NULL;
}

static void beside_join(struct beside *b)
{
	if (!b->joined) pthread_join(b->thread, NULL);
	b->joined = true;
}

static int beside_wait(vz_ck_gate *g)
{
	struct beside *b = (struct beside *)g;
	beside_join(b);
	if (b->rc || b->problems) return vz_fail(VZ_ECORRUPT, "%s: the check of the files found damage", b->dir);
	if (b->keep >= 0) close(b->keep);
	b->keep = -1;
	return VZ_OK;
}

static int recover_locked(struct vz_collection *c, const char *dir, enum vz_recover_mode mode, bool dry_run, int threads,
			  int lock_timeout_ms, vz_recover_report *rep)
{
	/* Check everything before committing anything: what cannot be made again from the rest is
	 * never written over (a checkpoint of a damaged vectors.bin would make the damage look
	 * whole), and what can is rebuilt after the checkpoint's own checks pass. */
	struct found f = { 0 };
	int problems, rc;
	struct beside b = { .gate.wait = beside_wait, .dir = dir, .keep = -1 };
	/* When nothing is left to settle, the check runs beside the replay and the checkpoint's
	 * segment (the files are read, not changed, until the gate): when it finds damage, the
	 * segment goes and recover starts again from the check's findings, as if it had waited. */
	if (!dry_run && settled(dir) && (b.keep = fcntl(c->lock.fd, F_DUPFD_CLOEXEC, 0)) >= 0) {
		if (pthread_create(&b.thread, NULL, beside_run, &b) == 0) {
			rc = recover_checked(c, dir, mode, dry_run, threads, lock_timeout_ms, rep, &f, 0, &b.gate);
			beside_join(&b);
			if (!b.rc && !b.problems) {
				if (b.keep >= 0) close(b.keep);
				return rc;
			}
			/* nothing was committed (the gate said no, or it was not reached): what was written
			 * for the checkpoint goes, then the usual way, under the lock keep still holds */
			vz_meta m;
			if (vz_meta_read(dir, &m) == VZ_OK) {
				vz_coll_remove_unlisted_segments(dir, &m);
				vz_meta_free(&m);
			}
			vz_cleanup_temps(dir, NULL);
			memset(rep, 0, sizeof *rep);
			if ((rc = vz_coll_new(dir, VZ_OPEN_WRITE, &c))) {
				close(b.keep);
				return rc;
			}
			c->lock = (vz_lock){ .fd = b.keep, .mode = VZ_LOCK_EXCLUSIVE };
			if (!b.rc) return recover_checked(c, dir, mode, dry_run, threads, lock_timeout_ms, rep, &b.f, b.problems, NULL);
		} else {
			close(b.keep);
		}
	}
	if ((rc = vz_verify_locked(dir, false, sort_problem, &f, &problems))) { vz_collection_close(c); return rc; }
	return recover_checked(c, dir, mode, dry_run, threads, lock_timeout_ms, rep, &f, problems, NULL);
}

/* Recovery once the check's findings are known (found, problems), or, with gate, while the check
 * runs (found empty: the checkpoint waits for the gate before its commit). */
static int recover_checked(struct vz_collection *c, const char *dir, enum vz_recover_mode mode, bool dry_run, int threads,
			   int lock_timeout_ms, vz_recover_report *rep, const struct found *found, int problems, vz_ck_gate *gate)
{
	int rc = VZ_OK;
	struct found f = *found;
	vz_meta meta;
	bool workspace = false;
	if (vz_meta_read(dir, &meta) == VZ_OK) {
		workspace = meta.workspace;
		vz_meta_free(&meta);
	}
	if (workspace && problems && !dry_run) {
		/* a workspace collection is made from its sources, all of it: build it again when
		 * metadata.json says from which workspace file */
		vz_collection_close(c);
		rc = rebuild_from_sources(dir, threads, lock_timeout_ms, rep);
		if (rc != VZ_ENOENT) return rc;
		if ((rc = vz_coll_new(dir, 0, &c))) return rc;
	}
	if (workspace && problems) {
		rep->restore_needed = true;
		snprintf(rep->damage, sizeof rep->damage, "%s", f.first_fatal[0] ? f.first_fatal : f.index ? "index.hnsw: damaged" : "cache.bin: damaged");
		vz_collection_close(c);
		return vz_fail(VZ_ECORRUPT, "%s: rebuild the collection from its sources with vz build --force (nothing was changed)", rep->damage);
	}
	if (f.fatal) {
		rep->restore_needed = true;
		snprintf(rep->damage, sizeof rep->damage, "%s", f.first_fatal);
		vz_collection_close(c);
		return vz_fail(VZ_ECORRUPT, "%s: cannot be rebuilt from the other files: restore from a backup (nothing was changed)", rep->damage);
	}
	if (workspace) {
		/* nothing damaged: only leftovers of a crash to clean */
		if (!dry_run) rc = vz_cleanup_temps(dir, &rep->temps_removed);
		vz_collection_close(c);
		return rc;
	}

	/* look at the WAL first: the mode decides whether we may go on at all */
	char wal[VZ_PATH_MAX];
	vz_wal_log w;
	bool dynamic = access((snprintf(wal, sizeof wal, "%s/wal.log", dir), wal), F_OK) == 0;
	if (dynamic) {
		if ((rc = vz_wal_scan(wal, VZ_WAL_SCAN_SALVAGE, &w))) { vz_collection_close(c); return rc; }
		rep->wal_damaged = w.damaged;
		rep->torn_tail = w.torn_tail;
		if (w.damaged)
			snprintf(rep->damage, sizeof rep->damage, "wal.log: offset %llu: %s (%s)", (unsigned long long)w.damage_offset,
				 w.damage_what, w.torn_tail ? "torn tail" : "good records follow it");
		rep->records_salvaged = mode == VZ_RECOVER_SALVAGE ? w.good_after_damage : 0;
		rep->bytes_dropped = !w.damaged ? 0 : mode == VZ_RECOVER_SALVAGE ? w.bytes_lost : w.map.size - w.damage_offset;
		if (w.damaged) {
			/* damage can have taken acknowledged records: name what is not kept */
			vz_meta m2;
			if (vz_meta_read(dir, &m2) == VZ_OK) {
				list_lost(rep, &w, m2.wal_seq, mode);
				vz_meta_free(&m2);
			}
			rep->data_lost = true;
		}
		vz_wal_free(&w);
		if (w.damaged && mode == VZ_RECOVER_ABSOLUTE) rc = vz_fail(VZ_ECORRUPT, "%s; mode absolute allows no damage: nothing was changed", rep->damage);
		else if (w.damaged && mode == VZ_RECOVER_TOLERATE_TAIL && !w.torn_tail)
			rc = vz_fail(VZ_ECORRUPT, "%s; mode tolerate-tail allows only a torn tail: nothing was changed (point-in-time or salvage would go on)", rep->damage);
		if (rc) { vz_collection_close(c); return rc; }
	}
	if (!dry_run && (rc = vz_cleanup_temps(dir, &rep->temps_removed))) { vz_collection_close(c); return rc; }
	/* a damaged segment graph first: the collection does not open without it */
	rep->graphs_rebuilt = (int)f.ngraphs;
	if (f.ngraphs && dry_run) {
		vz_collection_close(c);
		return count_from_log(dir, mode, rep);
	}
	if (f.ngraphs && (rc = rebuild_graphs(dir, &f, threads))) {
		vz_collection_close(c);
		return rc;
	}
	rc = vz_coll_load(c, mode == VZ_RECOVER_SALVAGE ? VZ_WAL_SCAN_SALVAGE : VZ_WAL_SCAN_STOP, true);
	if (rc) {
		vz_collection_close(c);
		/* a backup is the answer to damage, not to a file that could not be opened or read */
		return rc == VZ_ECORRUPT || rc == VZ_EDATA ? vz_fail_prefix(rc, "cannot recover (restore from a backup): ") : rc;
	}
	if (c->dropped) {
		rc = dry_run ? VZ_OK : gate ? gate->wait(gate) : VZ_OK;
		if (!rc && !dry_run) rc = vz_coll_finish_drop(c);
		vz_collection_close(c);
		return rc ? rc : vz_fail(VZ_ENOENT, "the collection was dropped; its removal is now finished");
	}
	if (c->has_wal) count_transactions(&c->wal, c->meta.wal_seq, rep);
	/* the first check walked the graph already (f.index says what it found) */
	if (c->has_index && f.index) {
		vz_unmap(&c->index_map);
		c->has_index = false;
	}
	rep->index_rebuilt = c->meta.rows > 0 && !c->has_index;
	rep->terms_rebuilt = f.terms;
	if (dry_run) { vz_collection_close(c); return VZ_OK; }
	c->wal_corrupt = false;
	/* before the checkpoint, which records terms.bin's save count */
	if (f.terms && (rc = rebuild_terms(c))) { vz_collection_close(c); return vz_fail_prefix(rc, "terms.bin: "); }
	/* incremental (a segment or only the next log) unless the base needs rebuilding: the
	 * checkpoint lock is ours */
	rc = vz_coll_checkpoint_gated(c, threads, VZ_CK_FORCE, gate);
	if (!rc && gate) rc = gate->wait(gate); /* it waited for the check already: nothing is "ok" without it */
	rep->checkpoint_written = rc == VZ_OK;
	/* the base is the one checked in full above when the checkpoint left it alone: the files
	 * this one wrote (a segment, the log, metadata.json) are checked against each other */
	bool base_kept = c->meta.base_generation != c->meta.generation;
	vz_collection_close(c);
	if (rc) return rc;
	rc = vz_collection_verify(dir, base_kept, lock_timeout_ms, ignore_problem, NULL, &problems);
	if (rc) return rc;
	if (problems) return vz_fail(VZ_ECORRUPT, "recovered, but verify still finds %d problems: run vz verify for details", problems);
	return VZ_OK;
}
