/* collection.c: opening a collection: checkpoint files mapped, WAL tail replayed into an
 * in-memory delta; paths and locks. The rest of a collection's life is in coll_query.c,
 * coll_write.c, coll_checkpoint.c, coll_create.c and coll_recover.c (collection_internal.h).
 *
 * Checkpoint protocol (generation G to G+1), each step durable before the next:
 *   1. vectors.bin.new and index.hnsw.new written (temp file, fsync, rename, directory fsync);
 *   2. metadata.json replaced atomically: generation G+1, the WAL position folded, checksums.
 *      This is the commit point;
 *   3. the .new files renamed over vectors.bin and index.hnsw, directory fsync;
 *   4. wal.log replaced by wal.log.new, written in step 1, that starts after the folded
 *      sequence number (its salt and first sequence number are in metadata.json): empty, or
 *      holding copies of the records written while a detached checkpoint was built.
 * A detached checkpoint (vz_checkpoint_dir) builds step 1 in .vztmp.checkpoint from a snapshot
 * taken under the shared lock, holding no lock of the collection meanwhile; steps 1 (the move
 * into place and the log) to 4 run under the exclusive lock.
 * Open reads metadata.json first and takes each file from the name whose header carries the
 * committed generation (finishing steps 3-4 when it holds the exclusive lock), and checks that
 * every file carries the collection id of metadata.json. WAL records at or below metadata's
 * wal_seq are already folded and skipped (a log of format version 1, restarted after the
 * commit). */
#include "collection_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

double vz_coll_wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int64_t vz_coll_unix_now(void) { return (int64_t)time(NULL); }

/* Scales v to unit length for cosine. A vector already of unit length (within float rounding)
 * is left bit for bit as it is, so that a dump loaded back stores exactly the same floats. */
int vz_coll_unit_length(float *v, uint32_t dim)
{
	double norm = 0;
	for (uint32_t i = 0; i < dim; i++) norm += (double)v[i] * v[i];
	if (fabs(norm - 1.0) < 1e-6) return VZ_OK;
	return vz_normalize(v, dim);
}

/* ---- id map ---- */

int vz_idmap_grow(struct idmap *m, size_t want, uint64_t (*hash_of)(void *ctx, uint32_t index), void *ctx)
{
	size_t n = 64;
	while (n < want * 2) n *= 2;
	uint32_t *s = calloc(n, sizeof *s);
	if (!s) return vz_fail(VZ_ENOMEM, "out of memory");
	for (size_t i = 0; i < m->nslots; i++) {
		if (!m->slots[i]) continue;
		size_t at = hash_of(ctx, m->slots[i] - 1) & (n - 1);
		while (s[at]) at = (at + 1) & (n - 1);
		s[at] = m->slots[i];
	}
	free(m->slots);
	m->slots = s;
	m->nslots = n;
	return VZ_OK;
}

/* Returns the index stored for id, or -1; *slot_out gets the slot where it is or would go. */
int64_t vz_idmap_find(const struct idmap *m, const char *id, size_t len, vz_idmap_eq eq, void *ctx, size_t *slot_out)
{
	if (!m->nslots) return -1;
	size_t at = vz_hash64(id, len) & (m->nslots - 1);
	while (m->slots[at]) {
		if (eq(ctx, m->slots[at] - 1, id, len)) {
			if (slot_out) *slot_out = at;
			return m->slots[at] - 1;
		}
		at = (at + 1) & (m->nslots - 1);
	}
	if (slot_out) *slot_out = at;
	return -1;
}

void vz_idmap_free(struct idmap *m)
{
	free(m->slots);
	memset(m, 0, sizeof *m);
}

bool vz_coll_delta_eq(void *ctx, uint32_t i, const char *id, size_t len)
{
	const struct vz_collection *c = ctx;
	return c->d[i].id_len == len && !memcmp(c->d[i].id, id, len);
}

static uint64_t delta_hash(void *ctx, uint32_t i)
{
	const struct vz_collection *c = ctx;
	return vz_hash64(c->d[i].id, c->d[i].id_len);
}

/* ---- paths and locks ---- */

int vz_collection_path(const char *data_dir, const char *name, char *out, size_t cap, bool *is_workspace)
{
	const char *slash = strchr(name, '/');
	bool ws = slash != NULL;
	if (is_workspace) *is_workspace = ws;
	if (!ws) {
		if (!vz_name_valid(name))
			return vz_fail(VZ_EINVAL, "'%s' is not a valid collection name (letters, digits, '.', '_', '-'; at most 64; starting with a letter or digit)", name);
		return vz_path_fmt(out, cap, "%s/dynamic/%s", data_dir, name);
	}
	char project[128];
	size_t pl = (size_t)(slash - name);
	if (pl >= sizeof project || !vz_name_valid(slash + 1)) goto bad;
	memcpy(project, name, pl);
	project[pl] = '\0';
	if (!vz_name_valid(project)) goto bad;
	return vz_path_fmt(out, cap, "%s/workspace/%s/%s", data_dir, project, slash + 1);
bad:
	return vz_fail(VZ_EINVAL, "'%s' is not a valid collection name (NAME or PROJECT/COLLECTION)", name);
}

const char *vz_coll_base_name(const char *dir)
{
	const char *s = strrchr(dir, '/');
	return s ? s + 1 : dir;
}

/* A collection directory must be a real directory inside the data directory: a symlink planted
 * there would send every write somewhere else. */
int vz_coll_check_dir(const char *dir)
{
	struct stat st;
	if (lstat(dir, &st) != 0) return vz_fail(VZ_ENOENT, "no such collection: %s", vz_coll_base_name(dir));
	if (S_ISLNK(st.st_mode)) return vz_fail(VZ_EPERM, "%s: is a symlink; refusing to use it as a collection", dir);
	if (!S_ISDIR(st.st_mode)) return vz_fail(VZ_ECORRUPT, "%s: not a directory", dir);
	return VZ_OK;
}

int vz_collection_lock(const char *dir, enum vz_lock_mode mode, int timeout_ms, vz_lock *lock)
{
	char path[VZ_PATH_MAX];
	int rc = vz_path_fmt(path, sizeof path, "%s/LOCK", dir);
	if (rc) return rc;
	if ((rc = vz_coll_check_dir(dir))) return rc;
	for (int attempt = 0; attempt < 100; attempt++) {
		rc = vz_lock_acquire(path, mode, timeout_ms, false, lock);
		if (rc == VZ_ENOENT) return vz_fail(VZ_ENOENT, "no such collection: %s", vz_coll_base_name(dir));
		if (rc) return rc;
		/* the collection may have been dropped or replaced (restore) while we waited: the lock
		 * is only ours if the path still names the file we locked */
		struct stat a, b;
		if (fstat(lock->fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) return VZ_OK;
		vz_lock_release(lock);
		if (stat(path, &b) != 0) return vz_fail(VZ_ENOENT, "no such collection: %s (it was dropped)", vz_coll_base_name(dir));
	}
	return vz_fail(VZ_EBUSY, "%s: the collection keeps being replaced; retry later", dir);
}

/* The checkpoint lock is an flock on the collection directory itself (no file to create, back up
 * or leave behind): one checkpoint of a collection at a time. It is always taken before the
 * collection's LOCK, never while holding it, so the two cannot deadlock. */
int vz_coll_checkpoint_lock(const char *dir, int timeout_ms, vz_lock *l)
{
	int rc = vz_lock_acquire(dir, VZ_LOCK_EXCLUSIVE, timeout_ms, false, l);
	if (rc == VZ_EBUSY) vz_fail_prefix(rc, "a checkpoint of %s is already running: ", vz_coll_base_name(dir));
	return rc;
}

/* Takes the checkpoint lock if nobody holds it, without waiting and without asking who does. */
bool vz_coll_try_checkpoint_lock(const char *dir, vz_lock *l)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) return false;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) { close(fd); return false; }
	l->fd = fd;
	l->mode = VZ_LOCK_EXCLUSIVE;
	return true;
}

/* ---- loading ---- */

static void delta_clear(struct vz_collection *c)
{
	for (size_t i = 0; i < c->nd; i++) {
		free(c->d[i].id);
		free(c->d[i].vec);
		free(c->d[i].payload);
	}
	free(c->d);
	c->d = NULL;
	c->nd = c->capd = 0;
	vz_idmap_free(&c->dmap);
	free(c->superseded);
	c->superseded = NULL;
	c->nsup = 0;
	c->wal_ops = 0;
	c->oldest_op = 0;
}

/* Ends the reading of the graph by pread (vz_collection_warm): its descriptors closed. */
void vz_collection_read_done(struct vz_collection *c)
{
	if (!c->index.by_read) return;
	close(c->index.read_index_fd);
	close(c->index.read_vec_fd);
	c->index.by_read = false;
}

void vz_coll_ids_read_free(struct vz_collection *c)
{
	while (c->ids_read) {
		struct vz_id_copy *next = c->ids_read->next;
		free(c->ids_read);
		c->ids_read = next;
	}
	c->ids_read_bytes = 0;
}

void vz_coll_unload(struct vz_collection *c)
{
	delta_clear(c);
	vz_hnsw_unpack(&c->index);
	vz_collection_read_done(c);
	vz_coll_ids_read_free(c);
	if (c->has_vec) vz_vectors_close(&c->vec);
	if (c->rerank_fd >= 0) close(c->rerank_fd);
	c->rerank_fd = -1;
	vz_unmap(&c->index_map);
	if (c->has_wal) vz_wal_free(&c->wal);
	vz_meta_free(&c->meta);
	vz_buf_free(&c->writer.buf);
	vz_where_memo_free(&c->where);
	vz_coll_close_segments(c);
	c->has_vec = c->has_index = c->has_wal = false;
}

/* Base row of id (live rows only), or -1. */
int64_t vz_coll_base_find(const struct vz_collection *c, const char *id, size_t len)
{
	if (c->nseg) return vz_coll_layers_find(c, id, len);
	return c->has_vec ? vz_vectors_find(&c->vec, id, len) : -1;
}

/* Records a new state for id in the delta (insert/update: vec set; delete: vec NULL).
 * keep_payload: an update without a payload keeps the previous one. Takes ownership of nothing:
 * copies what it keeps. */
int vz_coll_delta_put(struct vz_collection *c, const char *id, size_t len, const float *vec, const char *payload,
		     size_t payload_len, bool has_payload)
{
	uint32_t dim = c->meta.cfg.dim;
	size_t slot = 0;
	int64_t at = vz_idmap_find(&c->dmap, id, len, vz_coll_delta_eq, c, &slot);
	struct delta_entry *e;
	const char *old_payload = NULL;
	size_t old_len = 0;
	bool old_has = false;
	if (at < 0) {
		if (c->nd == c->capd) {
			size_t nc = c->capd ? c->capd * 2 : 64;
			struct delta_entry *nd = realloc(c->d, nc * sizeof *nd);
			if (!nd) return vz_fail(VZ_ENOMEM, "out of memory");
			c->d = nd;
			c->capd = nc;
		}
		if ((c->nd + 1) * 2 > c->dmap.nslots) {
			int rc = vz_idmap_grow(&c->dmap, c->nd + 1, delta_hash, c);
			if (rc) return rc;
			vz_idmap_find(&c->dmap, id, len, vz_coll_delta_eq, c, &slot);
		}
		e = &c->d[c->nd];
		memset(e, 0, sizeof *e);
		if (!(e->id = malloc(len + 1))) return vz_fail(VZ_ENOMEM, "out of memory");
		memcpy(e->id, id, len);
		e->id[len] = '\0';
		e->id_len = len;
		e->base_row = vz_coll_base_find(c, id, len);
		e->deleted = true; /* until filled below */
		uint64_t local = 0;
		const vz_vectors *layer = e->base_row >= 0 ? vz_coll_layer(c, (uint64_t)e->base_row, &local) : NULL;
		if (layer) vz_vectors_row(layer, local, NULL, NULL, &old_payload, &old_len, NULL);
		old_has = old_payload != NULL;
		c->dmap.slots[slot] = (uint32_t)(c->nd + 1);
		c->nd++;
		c->sup_dirty = true;
	} else {
		e = &c->d[at];
		old_payload = e->payload;
		old_len = e->payload_len;
		old_has = e->has_payload && !e->deleted;
	}
	if (!vec) {
		free(e->vec);
		free(e->payload);
		e->vec = NULL;
		e->payload = NULL;
		e->has_payload = false;
		e->payload_len = 0;
		e->deleted = true;
		return VZ_OK;
	}
	if (!has_payload && old_has) { payload = old_payload; payload_len = old_len; has_payload = true; }
	char *p = NULL;
	if (has_payload) {
		if (!(p = malloc(payload_len + 1))) return vz_fail(VZ_ENOMEM, "out of memory");
		memcpy(p, payload, payload_len);
		p[payload_len] = '\0';
	}
	if (!e->vec && !(e->vec = malloc(sizeof(float) * dim))) { free(p); return vz_fail(VZ_ENOMEM, "out of memory"); }
	memcpy(e->vec, vec, sizeof(float) * dim);
	free(e->payload);
	e->payload = p;
	e->payload_len = has_payload ? payload_len : 0;
	e->has_payload = has_payload;
	e->deleted = false;
	return VZ_OK;
}

int vz_coll_cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

int vz_coll_build_superseded(struct vz_collection *c)
{
	if (!c->sup_dirty) return VZ_OK;
	free(c->superseded);
	c->superseded = NULL;
	c->nsup = 0;
	if (c->nd) {
		if (!(c->superseded = malloc(c->nd * sizeof(uint32_t)))) return vz_fail(VZ_ENOMEM, "out of memory");
		for (size_t i = 0; i < c->nd; i++)
			if (c->d[i].base_row >= 0) c->superseded[c->nsup++] = (uint32_t)c->d[i].base_row;
		qsort(c->superseded, c->nsup, sizeof(uint32_t), vz_coll_cmp_u32);
	}
	c->sup_dirty = false;
	return VZ_OK;
}

/* Applies the complete transactions of the scanned WAL (records after the checkpoint). */
static int replay(struct vz_collection *c)
{
	const vz_wal_log *w = &c->wal;
	float *tmp = malloc(sizeof(float) * c->meta.cfg.dim);
	if (!tmp) return vz_fail(VZ_ENOMEM, "out of memory");
	int rc = VZ_OK;
	size_t pos = 0;
	vz_wal_txn t;
	while (!rc && vz_wal_next_txn(w, c->meta.wal_seq, &pos, &t)) {
		if (!t.complete) continue;
		double when = t.when ? t.when : vz_coll_wall_now();
		for (size_t j = t.begin + 1; j < t.end && !rc; j++) {
			const vz_wal_entry *op = &w->entries[j];
			if (op->txn != t.txn) continue;
			if (op->type == VZ_WAL_DROP) { c->dropped = true; continue; }
			if (op->type != VZ_WAL_INSERT && op->type != VZ_WAL_UPDATE && op->type != VZ_WAL_DELETE) continue;
			vz_wal_op o;
			if ((rc = vz_wal_decode_op(op, &o))) break;
			if (op->type == VZ_WAL_DELETE) {
				rc = vz_coll_delta_put(c, o.id, o.id_len, NULL, NULL, 0, false);
			} else {
				if (o.dim != c->meta.cfg.dim) { rc = vz_fail(VZ_ECORRUPT, "wal.log: offset %llu: vector of dimension %u in a collection of %u", (unsigned long long)op->offset, o.dim, c->meta.cfg.dim); break; }
				memcpy(tmp, o.vector, sizeof(float) * o.dim);
				rc = vz_coll_delta_put(c, o.id, o.id_len, tmp, o.payload, o.payload_len, o.has_payload);
			}
			c->wal_ops++;
			if (!c->oldest_op || when < c->oldest_op) c->oldest_op = when;
		}
	}
	free(tmp);
	return rc;
}

static void wal_writer_init(struct vz_collection *c)
{
	const vz_wal_log *w = &c->wal;
	c->writer.salt = w->header.aux;
	if (c->wal_kept) {
		const vz_wal_entry *last = &w->entries[c->wal_kept - 1];
		c->writer.next_seq = last->seq + 1;
		c->writer.prev_checksum = last->checksum;
	} else {
		c->writer.next_seq = w->header.aux2;
		c->writer.prev_checksum = w->header.aux;
	}
	/* never reuse a sequence number that a checkpoint already folded */
	if (c->writer.next_seq <= c->meta.wal_seq) c->writer.next_seq = c->meta.wal_seq + 1;
	c->wal_end = w->valid_end;
}

/* Cuts off what a crashed append left at the end of wal.log, so that the next transaction
 * follows a committed one and the log verifies clean: torn bytes, and whole records of a
 * transaction whose commit record never made it (SIGKILL can end a pwrite short at any page,
 * and a page can end on a record boundary). Neither was acknowledged. valid_end moves back to
 * the cut and wal_kept to the records before it, from the last of which the writer chains on
 * (wal_writer_init). The scanned records stay listed as found, for recover's report; the
 * payloads of those past the cut are gone, and none is read: replay reads only whole
 * transactions. */
static int cut_unacknowledged_tail(struct vz_collection *c, const char *path)
{
	vz_wal_log *w = &c->wal;
	size_t keep = w->n;
	while (keep > 0 && w->entries[keep - 1].type != VZ_WAL_COMMIT) keep--;
	uint64_t end = keep < w->n ? w->entries[keep].offset : w->valid_end;
	if (end == w->map.size) return VZ_OK;
	int fd, rc = vz_io_open_write(path, O_WRONLY, 0644, &fd);
	if (rc) return rc;
	rc = vz_io_ftruncate(fd, (off_t)end, path);
	if (!rc) rc = vz_io_fdatasync(fd, path);
	vz_io_close(fd);
	if (rc) return rc;
	w->valid_end = end;
	c->wal_kept = keep;
	return VZ_OK;
}

/* Loads everything for an open or after a checkpoint. The lock is already held. */
int vz_coll_load(struct vz_collection *c, enum vz_wal_scan_mode scan, bool index_optional)
{
	bool write = c->flags & VZ_OPEN_WRITE;
	char path[VZ_PATH_MAX];
	int rc;
	if (write) {
		/* a detached checkpoint stages its files in .vztmp.checkpoint while holding the
		 * checkpoint lock: temp files are only leftovers when nobody holds it */
		vz_lock ck = VZ_LOCK_INIT;
		if (vz_coll_try_checkpoint_lock(c->dir, &ck)) {
			rc = vz_cleanup_temps(c->dir, NULL);
			vz_lock_release(&ck);
			if (rc) return rc;
		}
	}
	if ((rc = vz_meta_read(c->dir, &c->meta))) return rc;
	if (c->meta.rows > 0) {
		if ((rc = vz_settle_data_file(c->dir, "vectors.bin", VZ_MAGIC_VECTORS, c->meta.base_generation, write, path, sizeof path))) return rc;
		if ((rc = vz_vectors_open(path, c->meta.rows, c->meta.cfg.dim, c->meta.cfg.metric, &c->vec))) return rc;
		c->has_vec = true;
		vz_map_advise_huge(&c->vec.map, c->meta.cfg.quantization != VZ_QUANT_SQ8);
		if (c->meta.cfg.quantization == VZ_QUANT_SQ8 && (c->rerank_fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
			return vz_fail(vz_err_from_errno(errno), "%s: open: %s", path, strerror(errno));
		if ((rc = vz_meta_check_header(&c->meta, "vectors.bin", &c->vec.header, true)))
			return vz_fail_prefix(rc, "%s: ", c->dir);
		rc = VZ_ENOENT; /* VZ_OPEN_NO_INDEX, or a graph not built yet: as a missing index.hnsw, without the error */
		bool want_index = !(c->flags & VZ_OPEN_NO_INDEX) && c->meta.index.present;
		if (want_index) {
			if ((rc = vz_settle_data_file(c->dir, "index.hnsw", VZ_MAGIC_INDEX, c->meta.base_generation, write, path, sizeof path))) return rc;
			rc = vz_map_file(path, &c->index_map);
		}
		if (!rc) rc = vz_hnsw_open(c->index_map.data, c->index_map.size, c->meta.cfg.dim, c->meta.cfg.metric, c->meta.rows, &c->index);
		if (!rc) {
			vz_file_header h;
			rc = vz_header_decode(c->index_map.data, c->index_map.size, VZ_MAGIC_INDEX, 2, &h);
			if (rc) vz_fail_prefix(rc, "%s: ", path);
			else if ((rc = vz_meta_check_header(&c->meta, "index.hnsw", &h, true))) vz_fail_prefix(rc, "%s: ", c->dir);
		}
		if (rc && !index_optional && want_index) {
			if (rc == VZ_ENOENT || rc == VZ_ECORRUPT) vz_fail_prefix(rc, "index unusable (run vz recover to rebuild it): ");
			return rc;
		}
		c->has_index = rc == VZ_OK;
		if (!c->has_index) vz_unmap(&c->index_map);
		else vz_map_advise_huge(&c->index_map, true);
		if (c->has_index && c->index.sq_codes && c->rerank_fd >= 0) {
			c->index.rerank_fd = c->rerank_fd;
			c->index.rerank_off = (uint64_t)((const unsigned char *)c->vec.vectors - c->vec.map.data);
		}
	} else if (write) {
		/* a checkpoint that emptied the collection may have left old data files behind */
		for (int i = 0; i < 2; i++) {
			const char *n = i ? "index.hnsw" : "vectors.bin";
			char p2[VZ_PATH_MAX];
			if ((rc = vz_path_fmt(path, sizeof path, "%s/%s", c->dir, n)) ||
			    (rc = vz_path_fmt(p2, sizeof p2, "%s/%s.new", c->dir, n)))
				return rc;
			if ((rc = vz_io_unlink(path, true)) || (rc = vz_io_unlink(p2, true))) return rc;
			if ((rc = vz_path_fmt(p2, sizeof p2, "%s/%s.prev", c->dir, n)) || (rc = vz_io_unlink(p2, true))) return rc;
		}
	}
	if (write && (rc = vz_coll_remove_unlisted_segments(c->dir, &c->meta))) return rc;
	if ((rc = vz_coll_open_segments(c))) return rc;
	if (c->meta.workspace) return VZ_OK; /* no log: a build writes its snapshots whole or as segments */
	/* a checkpoint interrupted after its commit may have left the new log as wal.log.new */
	if (c->meta.has_wal_start) {
		if ((rc = vz_settle_data_file(c->dir, "wal.log", VZ_MAGIC_WAL, c->meta.generation, write, path, sizeof path))) return rc;
	} else if ((rc = vz_path_fmt(path, sizeof path, "%s/wal.log", c->dir))) {
		return rc;
	}
	if ((rc = vz_wal_scan(path, scan, &c->wal))) {
		if (rc == VZ_ENOENT) return vz_fail(VZ_ECORRUPT, "%s: missing (a dynamic collection needs its WAL; run vz recover)", path);
		return rc;
	}
	c->has_wal = true;
	if ((rc = vz_meta_check_wal(&c->meta, &c->wal.header))) return vz_fail_prefix(rc, "%s: ", c->dir);
	c->wal_kept = c->wal.n;
	if (write && (!c->wal.damaged || c->wal.torn_tail) && (rc = cut_unacknowledged_tail(c, path))) return rc;
	if (c->wal.damaged && !c->wal.torn_tail) {
		c->wal_corrupt = true;
		snprintf(c->warning, sizeof c->warning,
			 "wal.log: offset %llu: %s; %zu later records are ignored: run vz recover (see vz-recover(1))",
			 (unsigned long long)c->wal.damage_offset, c->wal.damage_what, c->wal.good_after_damage);
	}
	wal_writer_init(c);
	if ((rc = replay(c))) return rc;
	return vz_coll_build_superseded(c);
}

/* Renames the directory away (atomic: the collection is gone), then removes it. */
int vz_coll_finish_drop(struct vz_collection *c)
{
	char parent[VZ_PATH_MAX], away[VZ_PATH_MAX], dirlock[VZ_PATH_MAX];
	int rc = vz_path_parent(c->dir, parent, sizeof parent);
	if (!rc) rc = vz_path_fmt(away, sizeof away, "%s/.vztmp.drop.%s.%016llx", parent, vz_coll_base_name(c->dir), (unsigned long long)vz_random_u64());
	if (!rc) rc = vz_path_fmt(dirlock, sizeof dirlock, "%s/.lock", parent);
	if (rc) return rc;
	vz_lock dl = VZ_LOCK_INIT;
	if ((rc = vz_lock_acquire(dirlock, VZ_LOCK_EXCLUSIVE, 10000, true, &dl))) return rc;
	rc = vz_io_rename_noreplace(c->dir, away);
	if (!rc) rc = vz_io_fsync_dir(parent);
	if (!rc) rc = vz_io_remove_tree(away);
	vz_lock_release(&dl);
	return rc;
}

/* An empty handle of the collection at dir, opened with flags: nothing loaded, no lock held and
 * no file open (vz_collection_close frees it as it is). Every opener starts from this one. */
int vz_coll_new(const char *dir, unsigned flags, struct vz_collection **out)
{
	*out = NULL;
	struct vz_collection *c = calloc(1, sizeof *c);
	if (!c) return vz_fail(VZ_ENOMEM, "out of memory");
	c->lock.fd = -1;
	c->rerank_fd = -1;
	c->flags = flags;
	int rc = vz_path_fmt(c->dir, sizeof c->dir, "%s", dir);
	if (rc) {
		free(c);
		return rc;
	}
	*out = c;
	return VZ_OK;
}

int vz_coll_open_in(const char *dir, unsigned flags, int timeout, enum vz_wal_scan_mode scan, bool index_optional,
		   vz_collection **out)
{
	*out = NULL;
	struct vz_collection *c;
	int rc = vz_coll_new(dir, flags, &c);
	if (rc) return rc;
	rc = vz_collection_lock(dir, (flags & VZ_OPEN_WRITE) ? VZ_LOCK_EXCLUSIVE : VZ_LOCK_SHARED, timeout, &c->lock);
	if (!rc) rc = vz_coll_load(c, scan, index_optional);
	if (!rc && c->wal_corrupt && !(flags & (VZ_OPEN_WRITE | VZ_OPEN_DAMAGED_OK)))
		rc = vz_fail(VZ_ECORRUPT, "%s/%s", dir, c->warning);
	if (!rc && c->dropped) {
		/* a drop was committed but its removal was interrupted: finish it when we may write */
		if (flags & VZ_OPEN_WRITE) vz_coll_finish_drop(c);
		rc = vz_fail(VZ_ENOENT, "no such collection: %s (it was dropped)", vz_coll_base_name(dir));
	}
	if (rc) {
		vz_collection_close(c);
		return rc;
	}
	*out = c;
	return VZ_OK;
}

int vz_collection_open(const char *dir, unsigned flags, int lock_timeout_ms, vz_collection **out)
{
	return vz_coll_open_in(dir, flags, lock_timeout_ms, VZ_WAL_SCAN_STOP, false, out);
}

void vz_collection_close(vz_collection *c)
{
	if (!c) return;
	vz_coll_unload(c);
	vz_lock_release(&c->lock);
	free(c);
}

const vz_config *vz_collection_config(const vz_collection *c) { return &c->meta.cfg; }
const char *vz_collection_extra_json(const vz_collection *c) { return c->meta.extra_json ? c->meta.extra_json : ""; }
const char *vz_collection_warning(const vz_collection *c) { return c->warning[0] ? c->warning : NULL; }
bool vz_collection_is_workspace(const vz_collection *c) { return c->meta.workspace; }
const char *vz_collection_dir(const vz_collection *c) { return c->dir; }

/* The skip of every search: deleted, replaced (a newer segment) and superseded (the delta) rows.
 * Here, beside the state it reads, so that the query and filter files both call down to it. */
bool vz_coll_skip_base(void *ctx, uint32_t row)
{
	const struct vz_collection *c = ctx;
	if (c->nseg) {
		if (vz_coll_row_dead(c, row)) return true;
	} else if (c->vec.rowinfo[(uint64_t)row * VZ_ROWINFO_SIZE + 18] & VZ_ROW_TOMBSTONE) {
		return true;
	}
	return c->nsup && bsearch(&row, c->superseded, c->nsup, sizeof(uint32_t), vz_coll_cmp_u32) != NULL;
}
