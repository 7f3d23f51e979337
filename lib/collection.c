/* collection.c: a collection's life: create, open (checkpoint files mapped, WAL tail replayed into
 * an in-memory delta), query (index merged with the delta), transactional writes through the WAL,
 * checkpoints, drop.
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
#include "ws_internal.h"
#include "filter.h"

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

struct delta_entry {
	char *id;
	size_t id_len;
	float *vec;          /* dim floats, owned; NULL when deleted */
	char *payload;
	size_t payload_len;
	bool has_payload;
	bool deleted;
	int64_t base_row;    /* the row of vectors.bin this id had at open, or -1 */
};

/* An open-addressing map from id to an index (+1) into an array, used for the delta and for
 * checking a batch against itself. */
struct idmap {
	uint32_t *slots;
	size_t nslots, used;
};

struct vz_collection {
	char dir[4096];
	unsigned flags;
	vz_lock lock;
	vz_meta meta;
	vz_vectors vec;
	bool has_vec;
	vz_map index_map;
	vz_hnsw_index index;
	bool has_index;
	int rerank_fd;        /* sq8: vectors.bin open for the index's re-ranking reads, else -1 */
	vz_wal_log wal;
	bool has_wal;
	uint64_t wal_end;     /* append position */
	size_t wal_kept;      /* records of wal still in the file, the writer's chain goes on from the last */
	bool wal_corrupt;     /* damage that is not a torn tail: writes refused until recover */
	vz_wal_writer writer;
	struct delta_entry *d;
	size_t nd, capd;
	struct idmap dmap;
	uint32_t *superseded; /* sorted base rows replaced or deleted by the delta */
	size_t nsup;
	bool sup_dirty;
	uint64_t wal_ops;
	double oldest_op;     /* unix seconds of the oldest un-checkpointed operation, 0 if none */
	bool dropped;
	char warning[512];
	struct vz_where_memo where; /* the last --where filter's answers for the base rows */
};

static double wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Scales v to unit length for cosine. A vector already of unit length (within float rounding)
 * is left bit for bit as it is, so that a dump loaded back stores exactly the same floats. */
static int unit_length(float *v, uint32_t dim)
{
	double norm = 0;
	for (uint32_t i = 0; i < dim; i++) norm += (double)v[i] * v[i];
	if (fabs(norm - 1.0) < 1e-6) return VZ_OK;
	return vz_normalize(v, dim);
}

/* ---- id map ---- */

typedef bool (*idmap_eq)(void *ctx, uint32_t index, const char *id, size_t len);

static int idmap_grow(struct idmap *m, size_t want, uint64_t (*hash_of)(void *ctx, uint32_t index), void *ctx)
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
static int64_t idmap_find(const struct idmap *m, const char *id, size_t len, idmap_eq eq, void *ctx, size_t *slot_out)
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

static void idmap_free(struct idmap *m)
{
	free(m->slots);
	memset(m, 0, sizeof *m);
}

static bool delta_eq(void *ctx, uint32_t i, const char *id, size_t len)
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

static const char *base_name(const char *dir)
{
	const char *s = strrchr(dir, '/');
	return s ? s + 1 : dir;
}

/* A collection directory must be a real directory inside the data directory: a symlink planted
 * there would send every write somewhere else. */
static int check_collection_dir(const char *dir)
{
	struct stat st;
	if (lstat(dir, &st) != 0) return vz_fail(VZ_ENOENT, "no such collection: %s", base_name(dir));
	if (S_ISLNK(st.st_mode)) return vz_fail(VZ_EPERM, "%s: is a symlink; refusing to use it as a collection", dir);
	if (!S_ISDIR(st.st_mode)) return vz_fail(VZ_ECORRUPT, "%s: not a directory", dir);
	return VZ_OK;
}

int vz_collection_lock(const char *dir, enum vz_lock_mode mode, int timeout_ms, vz_lock *lock)
{
	char path[4200];
	int rc = vz_path_fmt(path, sizeof path, "%s/LOCK", dir);
	if (rc) return rc;
	if ((rc = check_collection_dir(dir))) return rc;
	for (int attempt = 0; attempt < 100; attempt++) {
		rc = vz_lock_acquire(path, mode, timeout_ms, false, lock);
		if (rc == VZ_ENOENT) return vz_fail(VZ_ENOENT, "no such collection: %s", base_name(dir));
		if (rc) return rc;
		/* the collection may have been dropped or replaced (restore) while we waited: the lock
		 * is only ours if the path still names the file we locked */
		struct stat a, b;
		if (fstat(lock->fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev) return VZ_OK;
		vz_lock_release(lock);
		if (stat(path, &b) != 0) return vz_fail(VZ_ENOENT, "no such collection: %s (it was dropped)", base_name(dir));
	}
	return vz_fail(VZ_EBUSY, "%s: the collection keeps being replaced; retry later", dir);
}

/* The checkpoint lock is an flock on the collection directory itself (no file to create, back up
 * or leave behind): one checkpoint of a collection at a time. It is always taken before the
 * collection's LOCK, never while holding it, so the two cannot deadlock. */
static int checkpoint_lock(const char *dir, int timeout_ms, vz_lock *l)
{
	int rc = vz_lock_acquire(dir, VZ_LOCK_EXCLUSIVE, timeout_ms, false, l);
	if (rc == VZ_EBUSY) vz_fail_prefix(rc, "a checkpoint of %s is already running: ", base_name(dir));
	return rc;
}

/* Takes the checkpoint lock if nobody holds it, without waiting and without asking who does. */
static bool try_checkpoint_lock(const char *dir, vz_lock *l)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) return false;
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) { close(fd); return false; }
	l->fd = fd;
	l->mode = VZ_LOCK_EXCLUSIVE;
	return true;
}

/* ---- staged checkpoint files ---- */

static int file_generation(const char *path, const char *magic, uint64_t *gen)
{
	vz_map m;
	int rc = vz_map_file(path, &m);
	if (rc) return rc;
	vz_file_header h;
	rc = vz_header_decode(m.data, m.size, magic, 2, &h);
	vz_unmap(&m);
	if (rc) return rc;
	*gen = h.generation;
	return VZ_OK;
}

/* Picks, among NAME, NAME.new (a checkpoint interrupted after its commit) and NAME.prev (one
 * interrupted or undone before its end), the file whose header carries the committed generation.
 * With write access, moves it to NAME and removes the other candidates. */
int vz_settle_data_file(const char *dir, const char *name, const char *magic, uint64_t gen, bool write, char *out, size_t cap)
{
	static const char *const suffix[3] = { "", ".new", ".prev" };
	char cand[3][4200];
	int found = -1, rc;
	for (int i = 0; i < 3; i++) {
		if ((rc = vz_path_fmt(cand[i], sizeof cand[i], "%s/%s%s", dir, name, suffix[i]))) return rc;
		uint64_t g;
		if (found < 0 && access(cand[i], F_OK) == 0 && file_generation(cand[i], magic, &g) == VZ_OK && g == gen) found = i;
	}
	snprintf(out, cap, "%s", cand[found > 0 ? found : 0]);
	if (!write || found < 0) return VZ_OK;
	bool changed = false;
	if (found > 0) {
		if ((rc = vz_io_rename(cand[found], cand[0]))) return rc;
		snprintf(out, cap, "%s", cand[0]);
		changed = true;
	}
	for (int i = 1; i < 3; i++) {
		if (i == found || access(cand[i], F_OK) != 0) continue;
		if ((rc = vz_io_unlink(cand[i], true))) return rc;
		changed = true;
	}
	return changed ? vz_io_fsync_dir(dir) : VZ_OK;
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
	idmap_free(&c->dmap);
	free(c->superseded);
	c->superseded = NULL;
	c->nsup = 0;
	c->wal_ops = 0;
	c->oldest_op = 0;
}

static void unload(struct vz_collection *c)
{
	delta_clear(c);
	vz_hnsw_unpack(&c->index);
	if (c->has_vec) vz_vectors_close(&c->vec);
	if (c->rerank_fd >= 0) close(c->rerank_fd);
	c->rerank_fd = -1;
	vz_unmap(&c->index_map);
	if (c->has_wal) vz_wal_free(&c->wal);
	vz_meta_free(&c->meta);
	vz_buf_free(&c->writer.buf);
	vz_where_memo_free(&c->where);
	c->has_vec = c->has_index = c->has_wal = false;
}

/* Base row of id (live rows only), or -1. */
static int64_t base_find(const struct vz_collection *c, const char *id, size_t len)
{
	return c->has_vec ? vz_vectors_find(&c->vec, id, len) : -1;
}

/* Records a new state for id in the delta (insert/update: vec set; delete: vec NULL).
 * keep_payload: an update without a payload keeps the previous one. Takes ownership of nothing:
 * copies what it keeps. */
static int delta_put(struct vz_collection *c, const char *id, size_t len, const float *vec, const char *payload,
		     size_t payload_len, bool has_payload)
{
	uint32_t dim = c->meta.cfg.dim;
	size_t slot = 0;
	int64_t at = idmap_find(&c->dmap, id, len, delta_eq, c, &slot);
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
			int rc = idmap_grow(&c->dmap, c->nd + 1, delta_hash, c);
			if (rc) return rc;
			idmap_find(&c->dmap, id, len, delta_eq, c, &slot);
		}
		e = &c->d[c->nd];
		memset(e, 0, sizeof *e);
		if (!(e->id = malloc(len + 1))) return vz_fail(VZ_ENOMEM, "out of memory");
		memcpy(e->id, id, len);
		e->id[len] = '\0';
		e->id_len = len;
		e->base_row = base_find(c, id, len);
		e->deleted = true; /* until filled below */
		if (e->base_row >= 0)
			vz_vectors_row(&c->vec, (uint64_t)e->base_row, NULL, NULL, &old_payload, &old_len, NULL);
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

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static int build_superseded(struct vz_collection *c)
{
	if (!c->sup_dirty) return VZ_OK;
	free(c->superseded);
	c->superseded = NULL;
	c->nsup = 0;
	if (c->nd) {
		if (!(c->superseded = malloc(c->nd * sizeof(uint32_t)))) return vz_fail(VZ_ENOMEM, "out of memory");
		for (size_t i = 0; i < c->nd; i++)
			if (c->d[i].base_row >= 0) c->superseded[c->nsup++] = (uint32_t)c->d[i].base_row;
		qsort(c->superseded, c->nsup, sizeof(uint32_t), cmp_u32);
	}
	c->sup_dirty = false;
	return VZ_OK;
}

/* Whether the transaction from entries[begin] (its begin record) to entries[commit] is whole:
 * the same transaction, no sequence number missing between them, and as many operations as the
 * commit record counts. A salvage scan can skip a damaged record in the middle, and half a
 * transaction must never be applied (nor reported as replayed). */
static bool txn_complete(const vz_wal_log *w, size_t begin, size_t commit)
{
	const vz_wal_entry *b = &w->entries[begin], *e = &w->entries[commit];
	return e->txn == b->txn && commit - begin == e->seq - b->seq && e->length >= 4 &&
	       vz_load_u32(e->payload) + 1 == commit - begin;
}

/* Applies the committed transactions of the scanned WAL (records after the checkpoint). */
static int replay(struct vz_collection *c)
{
	const vz_wal_log *w = &c->wal;
	size_t begin = SIZE_MAX;
	uint64_t txn = 0;
	float *tmp = malloc(sizeof(float) * c->meta.cfg.dim);
	if (!tmp) return vz_fail(VZ_ENOMEM, "out of memory");
	int rc = VZ_OK;
	for (size_t i = 0; i < w->n && !rc; i++) {
		const vz_wal_entry *e = &w->entries[i];
		if (e->seq <= c->meta.wal_seq) continue;
		if (e->type == VZ_WAL_BEGIN) {
			begin = i;
			txn = e->txn;
			continue;
		}
		if (e->type != VZ_WAL_COMMIT) continue;
		if (begin == SIZE_MAX || e->txn != txn) continue; /* a commit without its begin: ignore */
		if (!txn_complete(w, begin, i)) {
			begin = SIZE_MAX;
			continue;
		}
		double when = w->entries[begin].length >= 8 ? (double)vz_load_u64(w->entries[begin].payload) / 1000.0 : wall_now();
		for (size_t j = begin + 1; j < i && !rc; j++) {
			const vz_wal_entry *op = &w->entries[j];
			if (op->txn != txn) continue;
			if (op->type == VZ_WAL_DROP) { c->dropped = true; continue; }
			if (op->type != VZ_WAL_INSERT && op->type != VZ_WAL_UPDATE && op->type != VZ_WAL_DELETE) continue;
			vz_wal_op o;
			if ((rc = vz_wal_decode_op(op, &o))) break;
			if (op->type == VZ_WAL_DELETE) {
				rc = delta_put(c, o.id, o.id_len, NULL, NULL, 0, false);
			} else {
				if (o.dim != c->meta.cfg.dim) { rc = vz_fail(VZ_ECORRUPT, "wal.log: offset %llu: vector of dimension %u in a collection of %u", (unsigned long long)op->offset, o.dim, c->meta.cfg.dim); break; }
				memcpy(tmp, o.vector, sizeof(float) * o.dim);
				rc = delta_put(c, o.id, o.id_len, tmp, o.payload, o.payload_len, o.has_payload);
			}
			c->wal_ops++;
			if (!c->oldest_op || when < c->oldest_op) c->oldest_op = when;
		}
		begin = SIZE_MAX;
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
static int load(struct vz_collection *c, enum vz_wal_scan_mode scan, bool index_optional)
{
	bool write = c->flags & VZ_OPEN_WRITE;
	char path[4200];
	int rc;
	if (write) {
		/* a detached checkpoint stages its files in .vztmp.checkpoint while holding the
		 * checkpoint lock: temp files are only leftovers when nobody holds it */
		vz_lock ck = VZ_LOCK_INIT;
		if (try_checkpoint_lock(c->dir, &ck)) {
			rc = vz_cleanup_temps(c->dir, NULL);
			vz_lock_release(&ck);
			if (rc) return rc;
		}
	}
	if ((rc = vz_meta_read(c->dir, &c->meta))) return rc;
	if (c->meta.rows > 0) {
		if ((rc = vz_settle_data_file(c->dir, "vectors.bin", VZ_MAGIC_VECTORS, c->meta.generation, write, path, sizeof path))) return rc;
		if ((rc = vz_vectors_open(path, c->meta.rows, c->meta.cfg.dim, c->meta.cfg.metric, &c->vec))) return rc;
		c->has_vec = true;
		vz_map_advise_huge(&c->vec.map, c->meta.cfg.quantization != VZ_QUANT_SQ8);
		if (c->meta.cfg.quantization == VZ_QUANT_SQ8 && (c->rerank_fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0)
			return vz_fail(vz_err_from_errno(errno), "%s: open: %s", path, strerror(errno));
		if ((rc = vz_meta_check_header(&c->meta, "vectors.bin", &c->vec.header, true)))
			return vz_fail_prefix(rc, "%s: ", c->dir);
		if ((rc = vz_settle_data_file(c->dir, "index.hnsw", VZ_MAGIC_INDEX, c->meta.generation, write, path, sizeof path))) return rc;
		rc = vz_map_file(path, &c->index_map);
		if (!rc) rc = vz_hnsw_open(c->index_map.data, c->index_map.size, c->meta.cfg.dim, c->meta.cfg.metric, c->meta.rows, &c->index);
		if (!rc) {
			vz_file_header h;
			rc = vz_header_decode(c->index_map.data, c->index_map.size, VZ_MAGIC_INDEX, 2, &h);
			if (rc) vz_fail_prefix(rc, "%s: ", path);
			else if ((rc = vz_meta_check_header(&c->meta, "index.hnsw", &h, true))) vz_fail_prefix(rc, "%s: ", c->dir);
		}
		if (rc && !index_optional) {
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
			char p2[4200];
			if ((rc = vz_path_fmt(path, sizeof path, "%s/%s", c->dir, n)) ||
			    (rc = vz_path_fmt(p2, sizeof p2, "%s/%s.new", c->dir, n)))
				return rc;
			if ((rc = vz_io_unlink(path, true)) || (rc = vz_io_unlink(p2, true))) return rc;
			if ((rc = vz_path_fmt(p2, sizeof p2, "%s/%s.prev", c->dir, n)) || (rc = vz_io_unlink(p2, true))) return rc;
		}
	}
	if (c->meta.workspace) return VZ_OK;
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
	return build_superseded(c);
}

static int finish_drop(struct vz_collection *c);

static int open_in(const char *dir, unsigned flags, int timeout, enum vz_wal_scan_mode scan, bool index_optional,
		   vz_collection **out)
{
	*out = NULL;
	struct vz_collection *c = calloc(1, sizeof *c);
	if (!c) return vz_fail(VZ_ENOMEM, "out of memory");
	c->lock.fd = -1;
	c->rerank_fd = -1;
	c->flags = flags;
	int rc = vz_path_fmt(c->dir, sizeof c->dir, "%s", dir);
	if (!rc) rc = vz_collection_lock(dir, (flags & VZ_OPEN_WRITE) ? VZ_LOCK_EXCLUSIVE : VZ_LOCK_SHARED, timeout, &c->lock);
	if (!rc) rc = load(c, scan, index_optional);
	if (!rc && c->wal_corrupt && !(flags & (VZ_OPEN_WRITE | VZ_OPEN_DAMAGED_OK)))
		rc = vz_fail(VZ_ECORRUPT, "%s/%s", dir, c->warning);
	if (!rc && c->dropped) {
		/* a drop was committed but its removal was interrupted: finish it when we may write */
		if (flags & VZ_OPEN_WRITE) finish_drop(c);
		rc = vz_fail(VZ_ENOENT, "no such collection: %s (it was dropped)", base_name(dir));
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
	return open_in(dir, flags, lock_timeout_ms, VZ_WAL_SCAN_STOP, false, out);
}

void vz_collection_close(vz_collection *c)
{
	if (!c) return;
	unload(c);
	vz_lock_release(&c->lock);
	free(c);
}

const vz_config *vz_collection_config(const vz_collection *c) { return &c->meta.cfg; }
const char *vz_collection_extra_json(const vz_collection *c) { return c->meta.extra_json ? c->meta.extra_json : ""; }
const char *vz_collection_warning(const vz_collection *c) { return c->warning[0] ? c->warning : NULL; }
const char *vz_collection_dir(const vz_collection *c) { return c->dir; }

/* ---- reading ---- */

static bool skip_base(void *ctx, uint32_t row)
{
	const struct vz_collection *c = ctx;
	const unsigned char *ri = c->vec.rowinfo + (uint64_t)row * VZ_ROWINFO_SIZE;
	if (ri[18] & VZ_ROW_TOMBSTONE) return true;
	return c->nsup && bsearch(&row, c->superseded, c->nsup, sizeof(uint32_t), cmp_u32) != NULL;
}

static void fill_base_result(const struct vz_collection *c, uint32_t row, float dist, vz_result *r)
{
	memset(r, 0, sizeof *r);
	vz_vectors_row(&c->vec, row, &r->id, &r->id_len, &r->payload, &r->payload_len, NULL);
	r->distance = dist;
	r->score = vz_score(c->meta.cfg.metric, dist);
}

static void fill_delta_result(const struct vz_collection *c, const struct delta_entry *e, float dist, vz_result *r)
{
	r->id = e->id;
	r->id_len = e->id_len;
	r->payload = e->has_payload ? e->payload : NULL;
	r->payload_len = e->payload_len;
	r->distance = dist;
	r->score = vz_score(c->meta.cfg.metric, dist);
}

/* ---- payload filters (vz query --where; the grammar in lib/filter.c) ---- */

struct where_ctx {
	struct vz_collection *c;
	const vz_filter *f;
	bool base_skips; /* deleted or superseded rows to skip first */
};

/* Skips the rows skip_base skips and those whose payload fails the filter, asking the filter
 * once per row and handle (c->where). */
static bool skip_where(void *ctx, uint32_t row)
{
	struct where_ctx *w = ctx;
	struct vz_collection *c = w->c;
	if (w->base_skips && skip_base(c, row)) return true;
	uint8_t *s = &c->where.state[row];
	if (!*s) {
		const char *id, *p;
		size_t il, pl;
		vz_vectors_row(&c->vec, row, &id, &il, &p, &pl, NULL);
		*s = vz_filter_match(w->f, p, pl) ? 1 : 2;
	}
	return *s == 2;
}

/* Binds c->where to the filter of w: a fresh answer per base row, and the plan from a sample
 * of them (kept for the next queries with the same filter, as a batch makes). */
static int where_prepare(struct vz_collection *c, struct where_ctx *w, size_t ef)
{
	struct vz_where_memo *m = &c->where;
	size_t rows = c->has_vec ? c->vec.rows : 0;
	if (m->serial == vz_filter_serial(w->f) && m->rows == rows) return VZ_OK;
	vz_where_memo_free(m);
	if (!(m->state = calloc(rows ? rows : 1, 1))) return vz_fail(VZ_ENOMEM, "out of memory");
	m->serial = vz_filter_serial(w->f);
	m->rows = rows;
	/* every row of a small collection; else rows picked by a fixed hash, not evenly spaced,
	 * whose stride could fall in step with a pattern of the payloads (i % 100) */
	bool all = rows <= VZ_WHERE_SAMPLE;
	for (size_t i = 0; i < (all ? rows : VZ_WHERE_SAMPLE); i++) {
		size_t r = all ? i : (size_t)(vz_hash64(&i, sizeof i) % rows);
		if (w->base_skips && skip_base(c, (uint32_t)r)) continue;
		m->sampled++;
		m->hits += !skip_where(w, (uint32_t)r);
	}
	size_t gone = (size_t)c->meta.tombstones + c->nsup, live = rows > gone ? rows - gone : 0;
	m->estimate = m->sampled ? (size_t)((double)m->hits / (double)m->sampled * (double)live + 0.5) : 0;
	m->exact = !c->has_index || vz_where_exact(m->estimate, live, ef, c->meta.cfg.dim, vz_filter_queries(w->f));
	snprintf(m->plan, sizeof m->plan, "%s: %zu of %zu sampled rows match, some %zu of %zu rows", m->exact ? "exact scan" : "graph search",
		 m->hits, m->sampled, m->estimate, live);
	return VZ_OK;
}

const char *vz_collection_where_plan(const vz_collection *c) { return c->where.serial ? c->where.plan : NULL; }

int vz_collection_query(vz_collection *c, const float *query, size_t k, size_t ef, vz_result *out, size_t *n)
{
	return vz_collection_query_where(c, query, k, ef, NULL, out, n);
}

int vz_collection_query_where(vz_collection *c, const float *query, size_t k, size_t ef, const vz_filter *f, vz_result *out,
			      size_t *n)
{
	*n = 0;
	if (k == 0) return VZ_OK;
	uint32_t dim = c->meta.cfg.dim;
	float *q = malloc(sizeof(float) * dim);
	vz_hit *hits = malloc(sizeof(vz_hit) * k * 2);
	if (!q || !hits) { free(q); free(hits); return vz_fail(VZ_ENOMEM, "out of memory"); }
	memcpy(q, query, sizeof(float) * dim);
	int rc = VZ_OK;
	if (c->meta.cfg.metric == VZ_METRIC_COSINE && (rc = vz_normalize(q, dim))) {
		rc = vz_fail(VZ_EDATA, "the query vector is all zeros (cosine needs a direction)");
		goto out;
	}
	if ((rc = build_superseded(c))) goto out;
	size_t nb = 0;
	/* Without deleted or superseded rows nothing is skipped: no row-info lookup per visited node
	 * (a cache miss each, some 20% of a search). The tombstone count is metadata.json's, which
	 * verify checks against vectors.bin. */
	bool (*skip)(void *, uint32_t) = c->meta.tombstones || c->nsup ? skip_base : NULL;
	void *skip_ctx = c;
	if (!ef) ef = c->meta.cfg.ef_search;
	/* a filter: rows that fail it are skipped as deleted ones are, inside the search */
	struct where_ctx w = { c, f, skip != NULL };
	if (f && c->has_vec) {
		if ((rc = where_prepare(c, &w, ef))) goto out;
		skip = skip_where;
		skip_ctx = &w;
	}
	if (c->has_vec && c->has_index && !(f && c->where.exact)) {
		rc = vz_hnsw_search(&c->index, c->vec.vectors, q, k, ef, skip, skip_ctx, hits, &nb);
	} else if (c->has_vec) {
		rc = vz_exact_search(c->vec.vectors, c->vec.rows, dim, c->meta.cfg.metric, q, k, skip, skip_ctx, hits, &nb);
	}
	if (rc) goto out;
	/* the delta is small: search it exactly and merge (k best of both, by distance then id) */
	vz_hit *dh = hits + k;
	size_t nd = 0;
	for (size_t i = 0; i < c->nd; i++) {
		if (c->d[i].deleted) continue;
		if (f && !vz_filter_match(f, c->d[i].has_payload ? c->d[i].payload : NULL, c->d[i].payload_len)) continue;
		float d = vz_distance(c->meta.cfg.metric, c->d[i].vec, q, dim);
		size_t pos = nd < k ? nd++ : k;
		if (pos == k) {
			if (d >= dh[k - 1].distance) continue;
			pos = k - 1;
		}
		while (pos > 0 && dh[pos - 1].distance > d) { dh[pos] = dh[pos - 1]; pos--; }
		dh[pos] = (vz_hit){ (uint32_t)i, d };
	}
	size_t i = 0, j = 0;
	while (*n < k && (i < nb || j < nd)) {
		if (j >= nd || (i < nb && hits[i].distance <= dh[j].distance)) {
			fill_base_result(c, hits[i].row, hits[i].distance, &out[(*n)++]);
			i++;
		} else {
			fill_delta_result(c, &c->d[dh[j].row], dh[j].distance, &out[(*n)++]);
			j++;
		}
	}
out:
	free(q);
	free(hits);
	return rc;
}

void vz_collection_preload(vz_collection *c)
{
	if (!c->has_index) return;
	/* each result reads its row's info and id: a page each, which a long batch reads nearly
	 * all of (31 MB for a million rows), and which would otherwise come from disk whenever
	 * the page cache has let them go */
	const unsigned char *lo = c->vec.rowinfo, *hi = c->vec.rowinfo + c->vec.rows * VZ_ROWINFO_SIZE;
	if (c->vec.heap && c->vec.heap < lo) lo = c->vec.heap;
	if (c->vec.heap && c->vec.heap + c->vec.heap_len > hi) hi = c->vec.heap + c->vec.heap_len;
	vz_map_preload(&c->vec.map, (size_t)(lo - c->vec.map.data), (size_t)(hi - lo));
	if (c->index.sq_codes) vz_map_preload(&c->index_map, 0, c->index_map.size);
	else if (vz_hnsw_pack(&c->index, c->vec.vectors, true) != VZ_OK) vz_map_preload(&c->index_map, 0, c->index_map.size);
}

void vz_collection_prefault(vz_collection *c)
{
	if (c->has_index) vz_map_prefault(&c->index_map);
	if (c->has_vec && c->meta.cfg.quantization != VZ_QUANT_SQ8) vz_map_prefault(&c->vec.map);
}

int vz_collection_get(vz_collection *c, const char *id, size_t id_len, vz_result *r, const float **vector)
{
	int64_t at = idmap_find(&c->dmap, id, id_len, delta_eq, c, NULL);
	if (at >= 0) {
		if (c->d[at].deleted) return vz_fail(VZ_ENOENT, "no such id: %.*s", (int)id_len, id);
		fill_delta_result(c, &c->d[at], 0, r);
		if (vector) *vector = c->d[at].vec;
		return VZ_OK;
	}
	int64_t row = base_find(c, id, id_len);
	if (row < 0) return vz_fail(VZ_ENOENT, "no such id: %.*s", (int)id_len, id);
	fill_base_result(c, (uint32_t)row, 0, r);
	if (vector) *vector = c->vec.vectors + (uint64_t)row * c->meta.cfg.dim;
	return VZ_OK;
}

int vz_collection_foreach(vz_collection *c, int (*fn)(void *ctx, const vz_result *r, const float *vector), void *ctx)
{
	int rc = build_superseded(c);
	if (rc) return rc;
	uint32_t dim = c->meta.cfg.dim;
	for (uint64_t row = 0; c->has_vec && row < c->vec.rows; row++) {
		if (skip_base(c, (uint32_t)row)) continue;
		vz_result r;
		fill_base_result(c, (uint32_t)row, 0, &r);
		if ((rc = fn(ctx, &r, c->vec.vectors + row * dim))) return rc;
	}
	for (size_t i = 0; i < c->nd; i++) {
		if (c->d[i].deleted) continue;
		vz_result r;
		fill_delta_result(c, &c->d[i], 0, &r);
		if ((rc = fn(ctx, &r, c->d[i].vec))) return rc;
	}
	return VZ_OK;
}

int vz_collection_check_rows(vz_collection *c)
{
	if (c->has_vec && (vz_hash64(c->vec.map.data + VZ_HEADER_SIZE, c->vec.map.size - VZ_HEADER_SIZE) != c->vec.header.body_checksum ||
			   (c->meta.vectors.present && c->vec.header.body_checksum != c->meta.vectors.body_checksum)))
		return vz_fail(VZ_ECORRUPT, "%s/vectors.bin: body checksum mismatch (bytes 64..end were changed): run vz verify", c->dir);
	return VZ_OK;
}

static uint64_t file_size(const char *dir, const char *name)
{
	char p[4200];
	struct stat st;
	if (vz_path_fmt(p, sizeof p, "%s/%s", dir, name) || stat(p, &st) != 0) return 0;
	return (uint64_t)st.st_size;
}

int vz_collection_stats_get(vz_collection *c, vz_collection_stats *st)
{
	memset(st, 0, sizeof *st);
	st->generation = c->meta.generation;
	st->rows = c->meta.rows;
	st->tombstones = c->meta.tombstones;
	int64_t live = (int64_t)c->meta.live;
	for (size_t i = 0; i < c->nd; i++) {
		bool was = c->d[i].base_row >= 0;
		bool is = !c->d[i].deleted;
		live += (int64_t)is - (int64_t)was;
	}
	st->live = live > 0 ? (uint64_t)live : 0;
	st->wal_ops = c->wal_ops;
	st->wal_bytes = c->has_wal ? c->wal.map.size : 0;
	st->wal_oldest_age = c->oldest_op ? wall_now() - c->oldest_op : 0;
	st->checkpoint_time = c->meta.checkpoint_time;
	const char *files[] = { "metadata.json", "vectors.bin", "index.hnsw", "wal.log", "cache.bin", "postings.bin" };
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) st->bytes += file_size(c->dir, files[i]);
	st->workspace = c->meta.workspace;
	st->wal_damaged = c->wal_corrupt;
	return VZ_OK;
}

bool vz_collection_checkpoint_due(vz_collection *c)
{
	if (c->wal_ops == 0) return false;
	return c->wal_ops >= c->meta.cfg.checkpoint_ops || wall_now() - c->oldest_op >= c->meta.cfg.checkpoint_seconds;
}

/* ---- checkpoints ---- */

static int default_threads(int threads)
{
	if (threads > 0) return threads;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

/* The floats of a checkpoint's output rows, read in order (once for the sq8 ranges, once to
 * write vectors.bin and encode): either packed in one array, or one pointer per row: kept
 * base rows (mapped vectors.bin), delta rows, then the caller's new rows from first_new on
 * (raw, normalised here for cosine). Mapped rows are let go behind the reader. */
struct row_source {
	const float *packed;
	const float **row;
	uint64_t kept_base, first_new;
	bool normalize_new;
	vz_releaser base, fresh;
	const float *min, *step; /* set: each row read is also encoded into codes */
	uint8_t *codes;
};

/* Row r's floats where they lie, or normalised into scratch */
static const float *source_row(const struct row_source *s, uint64_t r, uint32_t dim, float *scratch)
{
	const float *p = s->packed ? s->packed + r * dim : s->row[r];
	if (r < s->first_new || !s->normalize_new) return p;
	memcpy(scratch, p, sizeof(float) * dim);
	unit_length(scratch, dim);
	return scratch;
}

static int read_row(void *ctx, uint64_t r, uint32_t dim, float *scratch, const float **out)
{
	struct row_source *s = ctx;
	if (s->packed) { /* memory of our own, never let go */
	} else if (r < s->kept_base) vz_release_behind(&s->base, s->row[r]);
	else if (r >= s->first_new) vz_release_behind(&s->fresh, s->row[r]);
	const float *p = source_row(s, r, dim, scratch);
	if (s->codes) vz_sq8_encode(p, s->min, s->step, dim, s->codes + r * dim);
	*out = p;
	return VZ_OK;
}

/* The builder's reader (vz_hnsw_builder_use_codes): a row's floats as it is inserted, from any
 * of the build's threads. Rows come in about ascending order, so mapped ones are let go in
 * windows of 8192 rows, 4096 rows behind the one read: each window once, with nothing shared
 * between the threads (a row let go before a slow thread reads it is read back from the page
 * cache, no more). */
static int build_row(void *ctx, uint64_t r, uint32_t dim, float *scratch, const float **out)
{
	const struct row_source *s = ctx;
	*out = source_row(s, r, dim, scratch);
	const uint64_t lag = 4096, window = 8192;
	if (!s->packed && r % window == 0 && r >= lag + window) {
		uint64_t from = r - lag - window, to = r - lag;
		if ((s->fresh.on && from >= s->first_new) || (s->base.on && to <= s->kept_base)) vz_map_release(s->row[from], s->row[to]);
	}
	return VZ_OK;
}

/* sq8: the graph is built on codes, the floats are only streamed (ranges, then vectors.bin
 * and the codes together), so a load never holds them all: 1M x 768 floats are 2.9 GiB, their
 * codes 0.7. The codes and ranges are made here, sized rows * dim + 3 * dim. */
static int encode_sq8(struct row_source *src, uint64_t n, uint32_t dim, float **ranges, uint8_t **codes)
{
	float *lo = malloc(sizeof(float) * dim * 4), *hi = lo ? lo + dim : NULL, *step = lo ? hi + dim : NULL;
	uint64_t bytes;
	*codes = vz_mul_overflow_u64(n, dim, &bytes) ? NULL : malloc(bytes ? bytes : 1);
	*ranges = lo;
	if (!lo || !*codes) return vz_fail(VZ_ENOMEM, "out of memory for the sq8 codes of %llu rows", (unsigned long long)n);
	float *scratch = step + dim;
	vz_sq8_range_start(lo, hi, dim);
	for (uint64_t r = 0; r < n; r++) {
		const float *row;
		int rc = read_row(src, r, dim, scratch, &row);
		if (rc) return rc;
		vz_sq8_range_add(lo, hi, row, dim);
	}
	vz_sq8_range_finish(lo, hi, step, dim);
	src->min = lo;
	src->step = step;
	src->codes = *codes;
	return VZ_OK;
}

/* Writes vectors.bin.new and index.hnsw.new for rows [0,n) of src. When base_index is given
 * (and not compacting), its graph holds rows [0, n_base) and only the rest are inserted. */
static int write_data_files(const char *dir, const vz_config *cfg, const vz_coll_id *id, uint64_t gen, struct row_source *src,
			    const vz_out_row *rows, size_t n, const vz_hnsw_index *base_index, size_t n_base,
			    int threads, vz_file_sum *vsum, vz_file_sum *isum)
{
	char vpath[4200], ipath[4200];
	bool sq8 = cfg->quantization == VZ_QUANT_SQ8;
	float *ranges = NULL;
	uint8_t *codes = NULL;
	int rc = vz_path_fmt(vpath, sizeof vpath, "%s/vectors.bin.new", dir);
	if (!rc) rc = vz_path_fmt(ipath, sizeof ipath, "%s/index.hnsw.new", dir);
	if (!rc && sq8) rc = encode_sq8(src, n, cfg->dim, &ranges, &codes);
	if (!rc) rc = vz_vectors_write(vpath, id, gen, cfg->dim, cfg->metric, read_row, src, rows, n, vsum);
	if (rc) { free(ranges); free(codes); return rc; }
	const float *vectors = sq8 ? NULL : src->packed;
	vz_hnsw_builder *b = NULL;
	vz_hnsw_params p = { .m = cfg->m, .ef_construction = cfg->ef_construction, .seed = 42, .sq8 = sq8 };
	if (base_index) rc = vz_hnsw_builder_from_index(base_index, vectors, n, &b);
	else rc = vz_hnsw_builder_new(cfg->dim, cfg->metric, &p, vectors, n, &b);
	if (!rc && sq8) rc = vz_hnsw_builder_use_codes(b, src->min, src->step, codes, build_row, src);
	size_t first = base_index ? n_base : 0; /* rows already in the graph */
	if (!rc && n > first) rc = vz_hnsw_builder_add(b, first, n - first, threads);
	vz_tmpfile t;
	if (!rc) rc = vz_tmpfile_open(&t, ipath);
	if (!rc) {
		rc = vz_hnsw_builder_write(b, &t, id, gen);
		if (!rc) {
			/* the index's own header carries its body checksum: keep it for metadata.json */
			unsigned char head[VZ_HEADER_SIZE];
			vz_file_header h;
			if (pread(t.fd, head, sizeof head, 0) != (ssize_t)sizeof head ||
			    vz_header_decode(head, sizeof head, VZ_MAGIC_INDEX, 2, &h))
				rc = vz_fail(VZ_EINTERNAL, "index.hnsw: could not read back the header just written");
			isum->present = true;
			isum->size = t.written;
			isum->body_checksum = h.body_checksum;
		}
		if (rc) vz_tmpfile_abort(&t);
		else rc = vz_tmpfile_commit_as(&t, ipath);
	}
	vz_hnsw_builder_free(b);
	free(ranges);
	free(codes);
	return rc;
}

/* Steps 2-3 of the protocol: metadata.json (the commit point), then each NAME.new into place,
 * the old file kept as NAME.prev until the end. When any step fails, the previous
 * metadata.json is put back: a command that reports an error has changed nothing, and open
 * finds the files of the restored generation among NAME, NAME.new and NAME.prev. */
static int commit_checkpoint(const char *dir, const vz_meta *m)
{
	char meta_path[4200], p[3][4200];
	static const char *const names[2] = { "vectors.bin", "index.hnsw" };
	int rc = vz_path_fmt(meta_path, sizeof meta_path, "%s/metadata.json", dir);
	if (rc) return rc;
	char *old = NULL;
	size_t old_len = 0;
	if (vz_read_file(meta_path, 1u << 20, &old, &old_len) != VZ_OK) old = NULL;
	rc = vz_meta_write(dir, m);
	for (int i = 0; !rc && i < 2 && m->rows > 0; i++) {
		if ((rc = vz_path_fmt(p[0], sizeof p[0], "%s/%s", dir, names[i])) || (rc = vz_path_fmt(p[1], sizeof p[1], "%s/%s.new", dir, names[i])) ||
		    (rc = vz_path_fmt(p[2], sizeof p[2], "%s/%s.prev", dir, names[i])))
			break;
		if (access(p[0], F_OK) == 0 && (rc = vz_io_rename(p[0], p[2]))) break;
		rc = vz_io_rename(p[1], p[0]);
	}
	/* the new log, written before the commit, replaces the folded one */
	if (!rc && m->has_wal_start && !(rc = vz_path_fmt(p[1], sizeof p[1], "%s/wal.log.new", dir)) && access(p[1], F_OK) == 0) {
		if (!(rc = vz_path_fmt(p[0], sizeof p[0], "%s/wal.log", dir)) && !(rc = vz_path_fmt(p[2], sizeof p[2], "%s/wal.log.prev", dir)) &&
		    (access(p[0], F_OK) != 0 || !(rc = vz_io_rename(p[0], p[2]))))
			rc = vz_io_rename(p[1], p[0]);
	}
	if (!rc) rc = vz_io_fsync_dir(dir);
	if (rc) {
		char saved[1024];
		snprintf(saved, sizeof saved, "%s", vz_last_error());
		if (old) vz_atomic_write(meta_path, old, old_len);
		else vz_io_unlink(meta_path, true);
		vz_fail(rc, "%s", saved);
		free(old);
		return rc;
	}
	free(old);
	/* the next reader maps the new files in 2 MiB pages (not the float vectors of an sq8
	 * collection: see vz_map_advise_huge) */
	for (int i = m->cfg.quantization == VZ_QUANT_SQ8 ? 1 : 0; i < 2 && m->rows > 0; i++)
		if (!vz_path_fmt(p[0], sizeof p[0], "%s/%s", dir, names[i])) vz_cache_huge(p[0]);
	/* committed and durable: the previous files are garbage now (a failure to remove them is
	 * harmless: the next writer removes them) */
	for (int i = 0; i < 3; i++)
		if (!vz_path_fmt(p[2], sizeof p[2], "%s/%s.prev", dir, i < 2 ? names[i] : "wal.log") && access(p[2], F_OK) == 0) vz_io_unlink(p[2], true);
	return VZ_OK;
}

static int64_t unix_now(void) { return (int64_t)time(NULL); }

/* Chooses the identity of a collection of format version 1 at its first checkpoint, and
 * rewrites its terms.bin (if any) to carry it. A terms.bin that already carries one (rewritten
 * by a checkpoint that then failed) gives it, so that the two never disagree. */
static int upgrade_terms(const char *dir, vz_coll_id *id)
{
	char p[4200];
	vz_bm25 *t;
	uint64_t saves;
	vz_coll_id old;
	vz_id_new(id);
	if (vz_path_fmt(p, sizeof p, "%s/terms.bin", dir) || vz_bm25_load(p, &t)) return VZ_OK; /* none, or verify's to name */
	vz_bm25_origin(t, &old, &saves);
	int rc = VZ_OK;
	if (vz_id_is_set(&old)) *id = old;
	else {
		vz_bm25_set_origin(t, id, saves);
		rc = vz_bm25_save(t, p);
	}
	vz_bm25_free(t);
	return rc;
}

/* The save count of terms.bin (its header's generation) for metadata.json to remember: a later
 * copy of an older terms.bin is then told apart. What metadata.json had when it is unreadable
 * (verify and recover say why). */
static uint64_t terms_saves(const char *dir, const vz_meta *m)
{
	char p[4200];
	vz_map map;
	vz_file_header h;
	uint64_t saves = m->terms_saves;
	if (vz_path_fmt(p, sizeof p, "%s/terms.bin", dir) || vz_map_file(p, &map)) return saves;
	if (!vz_header_decode(map.data, map.size, VZ_MAGIC_TERMS, 2, &h) && !vz_meta_check_header(m, "terms.bin", &h, false) && h.generation > saves)
		saves = h.generation;
	vz_unmap(&map);
	return saves;
}

/* True when the n vectors of w lie one after the other in one array (a batch read from a
 * file), so that a checkpoint can index them where they are instead of copying them. */
static bool contiguous(const vz_write *w, size_t n, uint32_t dim)
{
	for (size_t i = 1; i < n; i++)
		if (w[i].vector != w[0].vector + i * dim) return false;
	return n > 0;
}

/* The sequence number of the last commit record replayed: what a checkpoint of this state folds.
 * Records after it (a transaction a crashed writer left without its commit) are not part of the
 * state and must stay in the log's numbering for the next writer, who cuts them. */
static uint64_t last_committed_seq(const struct vz_collection *c)
{
	if (!c->has_wal) return c->meta.wal_seq;
	for (size_t i = c->wal_kept; i > 0; i--)
		if (c->wal.entries[i - 1].type == VZ_WAL_COMMIT)
			return c->wal.entries[i - 1].seq > c->meta.wal_seq ? c->wal.entries[i - 1].seq : c->meta.wal_seq;
	return c->meta.wal_seq;
}

/* A checkpoint of the base, the delta and, for a bulk load, the new rows `extra` (all
 * inserts of ids not present, checked by the caller): those go from the caller's batch
 * straight into vectors.bin, never through the delta, so a bulk load holds its vectors once
 * (or, for a fresh collection, only in the caller's batch; for sq8, only as codes).
 * release_extra: extra's vectors lie in a read-only file mapping, in row order, whose pages
 * may be let go once read (VZ_WRITE_RELEASE). */
static int checkpoint_build(vz_collection *c, const char *out_dir, int threads, bool force, const vz_write *extra, size_t nextra,
			    bool release_extra, vz_meta *m_out, bool *built)
{
	*built = false;
	if (c->wal_corrupt) return vz_fail(VZ_ECORRUPT, "%s", c->warning);
	if (c->nd == 0 && nextra == 0 && !force && c->has_index == (c->meta.rows > 0)) return VZ_OK;
	threads = default_threads(threads);
	int rc = build_superseded(c);
	if (rc) return rc;
	uint32_t dim = c->meta.cfg.dim;
	uint64_t n_base = c->has_vec ? c->vec.rows : 0, tomb = 0, n_new = 0;
	for (uint64_t r = 0; r < n_base; r++) tomb += skip_base(c, (uint32_t)r);
	for (size_t i = 0; i < c->nd; i++) n_new += !c->d[i].deleted;
	n_new += nextra;
	uint64_t total = n_base + n_new;
	/* compact when tombstones pass 20%, or when there is no usable graph to extend */
	bool compact = (tomb > 0 && tomb * 5 > total) || (n_base > 0 && !c->has_index) || force;
	if (force && tomb == 0 && c->has_index) compact = false;
	uint64_t n_out = compact ? total - tomb : total;
	bool cosine = c->meta.cfg.metric == VZ_METRIC_COSINE;
	/* sq8 streams the rows (see encode_sq8); floats are gathered into one array, unless they
	 * are only the new rows, as they are: then the caller's array is indexed in place */
	bool sq8 = c->meta.cfg.quantization == VZ_QUANT_SQ8;
	bool in_place = !sq8 && n_out == nextra && !cosine && contiguous(extra, nextra, dim);
	struct row_source src = { .first_new = n_out - nextra, .normalize_new = sq8 && cosine, .base.on = true,
				  .fresh.on = release_extra };
	float *vecs = in_place || sq8 ? NULL : malloc(sizeof(float) * dim * (n_out ? n_out : 1));
	src.row = sq8 ? malloc(sizeof(float *) * (n_out ? n_out : 1)) : NULL;
	vz_out_row *rows = calloc(n_out ? n_out : 1, sizeof *rows);
	if ((!vecs && !in_place && !sq8) || (sq8 && !src.row) || !rows) {
		free(vecs);
		free(src.row);
		free(rows);
		return vz_fail(VZ_ENOMEM, "out of memory for a checkpoint of %llu rows", (unsigned long long)n_out);
	}
	uint64_t at = 0, live = 0;
	/* the floats of output row `at`: one more pointer for sq8, else copied into vecs */
#define PUT_ROW(v)                                                                       \
	do {                                                                             \
		if (sq8) src.row[at] = (v);                                              \
		else if (!in_place) memcpy(vecs + at * dim, (v), sizeof(float) * dim);   \
	} while (0)
	for (uint64_t r = 0; r < n_base; r++) {
		bool dead = skip_base(c, (uint32_t)r);
		if (dead && compact) continue;
		vz_out_row *o = &rows[at];
		const char *pl;
		size_t pll;
		if ((rc = vz_vectors_row(&c->vec, r, &o->id, &o->id_len, &pl, &pll, NULL))) goto out;
		o->payload = pl;
		o->payload_len = pll;
		o->has_payload = pl != NULL;
		o->tombstone = dead;
		live += !dead;
		PUT_ROW(c->vec.vectors + r * dim);
		if (!sq8) vz_release_behind(&src.base, c->vec.vectors + r * dim);
		at++;
	}
	uint64_t kept_base = at;
	src.kept_base = kept_base;
	for (size_t i = 0; i < c->nd; i++) {
		const struct delta_entry *e = &c->d[i];
		if (e->deleted) continue;
		rows[at] = (vz_out_row){ e->id, e->id_len, e->payload, e->payload_len, e->has_payload, false };
		PUT_ROW(e->vec);
		at++;
		live++;
	}
	for (size_t i = 0; i < nextra; i++, at++, live++) {
		const vz_write *x = &extra[i];
		rows[at] = (vz_out_row){ x->id, x->id_len, x->payload, x->payload_len, x->payload != NULL, false };
		PUT_ROW(x->vector);
		if (sq8 || in_place) continue;
		vz_release_behind(&src.fresh, x->vector);
		if (cosine) unit_length(vecs + at * dim, dim);
	}
#undef PUT_ROW
	src.packed = in_place ? extra[0].vector : vecs;
	vz_meta m = c->meta;
	m.generation = c->meta.generation + 1;
	m.wal_seq = last_committed_seq(c);
	m.rows = n_out;
	m.live = live;
	m.tombstones = n_out - live;
	m.checkpoint_time = unix_now();
	memset(&m.vectors, 0, sizeof m.vectors);
	memset(&m.index, 0, sizeof m.index);
	/* a collection of format version 1 gets its identity now, with every file rewritten */
	if (!vz_id_is_set(&m.id) && (rc = upgrade_terms(c->dir, &m.id))) goto out;
	m.terms_saves = terms_saves(c->dir, &m);
	if (n_out > 0) {
		rc = write_data_files(out_dir, &c->meta.cfg, &m.id, m.generation, &src, rows, n_out,
				      compact || !c->has_index ? NULL : &c->index, kept_base, threads, &m.vectors, &m.index);
		if (rc) goto out;
	}
	*m_out = m;
	*built = true;
out:
	free(vecs);
	free(src.row);
	free(rows);
	return rc;
}

/* A checkpoint under the exclusive lock the caller holds (bulk loads, recover, and programs
 * that call vz_collection_checkpoint): build, the next (empty) log, commit, reload. */
static int checkpoint_with(vz_collection *c, int threads, bool force, const vz_write *extra, size_t nextra, bool release_extra)
{
	if (!(c->flags & VZ_OPEN_WRITE)) return vz_fail(VZ_EINTERNAL, "checkpoint needs the collection open for writing");
	vz_meta m;
	bool built;
	int rc = checkpoint_build(c, c->dir, threads, force, extra, nextra, release_extra, &m, &built);
	if (rc || !built) return rc;
	if (c->has_wal) {
		/* the next log, empty, starting after the folded records: written before the commit,
		 * put in place by it, and named in metadata.json (salt, first sequence number) */
		char wal[4200];
		m.has_wal_start = true;
		m.wal_salt = vz_random_u64();
		m.wal_first_seq = c->writer.next_seq;
		if ((rc = vz_path_fmt(wal, sizeof wal, "%s/wal.log.new", c->dir)) ||
		    (rc = vz_wal_reset(wal, &m.id, m.generation, m.wal_salt, m.wal_first_seq, NULL)))
			return rc;
	}
	if ((rc = commit_checkpoint(c->dir, &m))) return rc;
	/* reload from the new files: the delta is now folded */
	unload(c);
	c->wal_corrupt = false;
	c->warning[0] = '\0';
	return load(c, VZ_WAL_SCAN_STOP, false);
}

int vz_collection_checkpoint(vz_collection *c, int threads, bool force)
{
	vz_lock ck = VZ_LOCK_INIT;
	int rc = checkpoint_lock(c->dir, 0, &ck);
	if (!rc) rc = checkpoint_with(c, threads, force, NULL, 0, false);
	vz_lock_release(&ck);
	return rc;
}

/* ---- checkpoints that stop no one ---- */

/* Moves the staged NAME.new files of a checkpoint from stage into dir, where commit_checkpoint
 * takes them (renames within one file system; the directory fsync follows in the commit). */
static int adopt_staged(const char *stage, const char *dir, const vz_meta *m)
{
	static const char *const names[2] = { "vectors.bin.new", "index.hnsw.new" };
	for (int i = 0; i < 2 && m->rows > 0; i++) {
		char from[4400], to[4400];
		int rc = vz_path_fmt(from, sizeof from, "%s/%s", stage, names[i]);
		if (!rc) rc = vz_path_fmt(to, sizeof to, "%s/%s", dir, names[i]);
		if (!rc) rc = vz_io_rename(from, to);
		if (rc) return rc;
	}
	return VZ_OK;
}

/* The switch of a detached checkpoint, under the exclusive lock: the collection must still be at
 * the generation the snapshot was taken from; the records appended since the snapshot (seq >
 * m->wal_seq) are carried into the new log. */
static int checkpoint_switch(const char *dir, const char *stage, uint64_t snap_gen, const vz_meta *built, uint64_t *kept)
{
	vz_meta cur;
	char wal[4200], walnew[4200];
	int rc = vz_meta_read(dir, &cur);
	if (rc) return rc;
	uint64_t gen = cur.generation, rows = cur.rows;
	bool wal_start = cur.has_wal_start;
	vz_meta_free(&cur);
	if (gen != snap_gen)
		return vz_fail(VZ_EBUSY, "%s: the collection changed during the checkpoint (generation %llu, the checkpoint started at %llu); nothing was switched",
			       dir, (unsigned long long)gen, (unsigned long long)snap_gen);
	/* an in-lock checkpoint interrupted after its commit may have left the committed files under
	 * NAME.new, the names the staged files and the new log are about to take: put them in place */
	if (rows > 0 &&
	    ((rc = vz_settle_data_file(dir, "vectors.bin", VZ_MAGIC_VECTORS, gen, true, wal, sizeof wal)) ||
	     (rc = vz_settle_data_file(dir, "index.hnsw", VZ_MAGIC_INDEX, gen, true, wal, sizeof wal))))
		return rc;
	if (wal_start && (rc = vz_settle_data_file(dir, "wal.log", VZ_MAGIC_WAL, gen, true, wal, sizeof wal))) return rc;
	if ((rc = vz_path_fmt(wal, sizeof wal, "%s/wal.log", dir)) || (rc = vz_path_fmt(walnew, sizeof walnew, "%s/wal.log.new", dir))) return rc;
	vz_wal_log w;
	if ((rc = vz_wal_scan(wal, VZ_WAL_SCAN_STOP, &w))) return rc;
	if (w.damaged && !w.torn_tail) {
		rc = vz_fail(VZ_ECORRUPT, "%s: offset %llu: %s; nothing was switched (run vz recover)", wal,
			     (unsigned long long)w.damage_offset, w.damage_what);
		vz_wal_free(&w);
		return rc;
	}
	/* keep whole transactions after the snapshot; a trailing one without its commit was never
	 * acknowledged (its writer died) and is left out, as the next writer would cut it */
	size_t first = 0, end = 0;
	while (first < w.n && w.entries[first].seq <= built->wal_seq) first++;
	for (size_t i = first; i < w.n; i++)
		if (w.entries[i].type == VZ_WAL_COMMIT) end = i + 1;
	if (end < first) end = first;
	if (first > 0 && w.entries[first - 1].seq != built->wal_seq) {
		rc = vz_fail(VZ_EINTERNAL, "%s: the log no longer holds record %llu that the checkpoint folded; nothing was switched", wal,
			     (unsigned long long)built->wal_seq);
		vz_wal_free(&w);
		return rc;
	}
	/* the next log holds copies of those records; written before the commit, put in place by it
	 * and named in metadata.json, as every checkpoint's */
	vz_meta m = *built;
	m.has_wal_start = true;
	m.wal_salt = vz_random_u64();
	m.wal_first_seq = built->wal_seq + 1;
	rc = vz_wal_restart_with(walnew, &m.id, m.generation, m.wal_salt, m.wal_first_seq, w.entries + first, end - first);
	*kept = end - first;
	vz_wal_free(&w);
	if (!rc) rc = adopt_staged(stage, dir, &m);
	if (!rc) rc = commit_checkpoint(dir, &m);
	if (rc) vz_io_unlink(walnew, true);
	return rc;
}

int vz_checkpoint_dir(const char *dir, unsigned flags, int threads, int lock_timeout_ms, vz_checkpoint_report *rep)
{
	vz_checkpoint_report local;
	if (!rep) rep = &local;
	memset(rep, 0, sizeof *rep);
	threads = default_threads(threads);
	vz_lock ck = VZ_LOCK_INIT;
	int rc = check_collection_dir(dir);
	if (!rc && (flags & VZ_CHECKPOINT_IF_NEEDED) && !(flags & VZ_CHECKPOINT_WAIT) && !try_checkpoint_lock(dir, &ck))
		return VZ_OK; /* one is running: it does what is needed */
	if (!rc && ck.fd < 0) rc = checkpoint_lock(dir, (flags & VZ_CHECKPOINT_WAIT) ? INT_MAX / 2 : lock_timeout_ms, &ck);
	if (rc) return rc;
	char stage[4200] = "";
	vz_collection *c = NULL;
	if ((rc = vz_path_fmt(stage, sizeof stage, "%s/.vztmp.checkpoint", dir))) goto out;
	/* a checkpointer that died left its staging behind: we hold the checkpoint lock, it is ours */
	if ((rc = vz_io_remove_tree(stage))) goto out;
	/* the snapshot: the checkpoint files and the WAL as they are now, read under the shared
	 * lock; then the lock goes and writers append while the index is built */
	if ((rc = open_in(dir, VZ_OPEN_READ, lock_timeout_ms, VZ_WAL_SCAN_STOP, false, &c))) {
		/* a drop that was interrupted: opening for writing finishes it (and says so) */
		if (rc == VZ_ENOENT && !open_in(dir, VZ_OPEN_WRITE, lock_timeout_ms, VZ_WAL_SCAN_STOP, false, &c)) rc = VZ_OK;
		if (rc) goto out;
		rc = vz_fail(VZ_EINTERNAL, "%s: could not be opened for reading, but could for writing", dir);
		goto out;
	}
	if (c->meta.workspace) { rc = vz_fail(VZ_EPERM, "workspace collections are rebuilt by vz build, not checkpointed"); goto out; }
	rep->operations = c->wal_ops;
	if ((flags & VZ_CHECKPOINT_IF_NEEDED) && !vz_collection_checkpoint_due(c)) goto out;
	if (!vz_id_is_set(&c->meta.id)) {
		/* format version 1: this checkpoint gives the collection its identity and rewrites
		 * terms.bin with it, which only a holder of the exclusive lock may do (once) */
		vz_collection_close(c);
		if ((rc = open_in(dir, VZ_OPEN_WRITE, lock_timeout_ms, VZ_WAL_SCAN_STOP, false, &c))) goto out;
		rep->operations = c->wal_ops;
		if ((rc = checkpoint_with(c, threads, true, NULL, 0, false))) goto out;
		rep->checkpointed = true;
		rep->generation = c->meta.generation;
		rep->rows = c->meta.rows;
		rep->live = c->meta.live;
		goto out;
	}
	vz_lock_release(&c->lock);
	uint64_t snap_gen = c->meta.generation;
	if ((rc = vz_io_mkdir(stage, 0755, false))) goto out;
	vz_meta m;
	bool built;
	rc = checkpoint_build(c, stage, threads, flags & VZ_CHECKPOINT_FORCE, NULL, 0, false,
			      &m, &built);
	if (rc || !built) goto out;
	vz_lock lk = VZ_LOCK_INIT;
	if ((rc = vz_collection_lock(dir, VZ_LOCK_EXCLUSIVE, lock_timeout_ms, &lk))) goto out;
	double t0 = wall_now();
	rc = checkpoint_switch(dir, stage, snap_gen, &m, &rep->kept_records);
	rep->seconds_locked = wall_now() - t0;
	vz_lock_release(&lk);
	if (rc) goto out;
	rep->checkpointed = true;
	rep->generation = m.generation;
	rep->rows = m.rows;
	rep->live = m.live;
out:
	vz_collection_close(c);
	if (stage[0]) {
		char saved[1024];
		snprintf(saved, sizeof saved, "%s", vz_last_error());
		vz_io_remove_tree(stage);
		if (rc) vz_fail(rc, "%s", saved);
	}
	vz_lock_release(&ck);
	return rc;
}

int vz_collection_write_snapshot(const char *dir, const vz_config *cfg, const vz_row *in, size_t n, int threads,
				 uint64_t generation, const char *extra_json)
{
	int rc = vz_config_validate(cfg);
	if (rc) return rc;
	uint32_t dim = cfg->dim;
	float *vecs = malloc(sizeof(float) * dim * (n ? n : 1));
	vz_out_row *rows = calloc(n ? n : 1, sizeof *rows);
	if (!vecs || !rows) { free(vecs); free(rows); return vz_fail(VZ_ENOMEM, "out of memory"); }
	for (size_t i = 0; i < n && !rc; i++) {
		if (in[i].id_len == 0 || in[i].id_len > VZ_MAX_ID_LEN) rc = vz_fail(VZ_EDATA, "row %zu: bad id length", i);
		memcpy(vecs + i * dim, in[i].vector, sizeof(float) * dim);
		if (!rc && cfg->metric == VZ_METRIC_COSINE && unit_length(vecs + i * dim, dim))
			memset(vecs + i * dim, 0, sizeof(float) * dim); /* an empty text: kept, never close to anything */
		rows[i] = (vz_out_row){ in[i].id, in[i].id_len, in[i].payload, in[i].payload_len, in[i].payload != NULL, false };
	}
	vz_meta m = { .cfg = *cfg, .workspace = true, .generation = generation, .rows = n, .live = n,
		      .created = unix_now(), .checkpoint_time = unix_now() };
	/* the identity stays for the collection's life: a rebuild keeps the one it has */
	vz_meta old;
	if (vz_meta_read(dir, &old) == VZ_OK) {
		m.id = old.id;
		vz_meta_free(&old);
	}
	if (!vz_id_is_set(&m.id)) vz_id_new(&m.id);
	char *extra = NULL;
	if (extra_json && extra_json[0]) {
		/* accept an object or bare members */
		size_t l = strlen(extra_json);
		extra = malloc(l + 3);
		if (!extra) rc = vz_fail(VZ_ENOMEM, "out of memory");
		else if (extra_json[0] == '{') memcpy(extra, extra_json, l + 1);
		else snprintf(extra, l + 3, "{%s}", extra_json);
	}
	m.extra_json = extra;
	struct row_source src = { .packed = vecs, .first_new = n };
	if (!rc && n) rc = write_data_files(dir, cfg, &m.id, generation, &src, rows, n, NULL, 0, default_threads(threads), &m.vectors, &m.index);
	if (!rc) rc = commit_checkpoint(dir, &m);
	if (!rc) {
		char lock[4200];
		int fd;
		/* the LOCK file makes the directory a collection others can lock */
		if (!(rc = vz_path_fmt(lock, sizeof lock, "%s/LOCK", dir)) && access(lock, F_OK) != 0 &&
		    !(rc = vz_io_open_write(lock, O_WRONLY | O_CREAT, 0644, &fd)))
			vz_io_close(fd);
	}
	free(extra);
	free(vecs);
	free(rows);
	return rc;
}

/* ---- writes ---- */

struct batch_seen {
	const vz_write *w;
	size_t n;
	bool *exists;     /* per entry: state after it */
	struct idmap map; /* id -> last entry index */
};

static bool seen_eq(void *ctx, uint32_t i, const char *id, size_t len)
{
	const struct batch_seen *s = ctx;
	return s->w[i].id_len == len && !memcmp(s->w[i].id, id, len);
}

static uint64_t seen_hash(void *ctx, uint32_t i)
{
	const struct batch_seen *s = ctx;
	return vz_hash64(s->w[i].id, s->w[i].id_len);
}

static bool exists_now(struct vz_collection *c, const char *id, size_t len)
{
	int64_t at = idmap_find(&c->dmap, id, len, delta_eq, c, NULL);
	if (at >= 0) return !c->d[at].deleted;
	return base_find(c, id, len) >= 0;
}

static const char *op_verb(enum vz_write_op op)
{
	return op == VZ_WRITE_INSERT ? "insert" : op == VZ_WRITE_UPDATE ? "update" : op == VZ_WRITE_DELETE ? "delete" : "upsert";
}

/* Checks every write against the collection and the batch itself; resolves upserts into
 * insert or update (resolved[i]); deletes of missing ids become VZ_WRITE_MISSING_OK skips (0). */
static int check_batch(struct vz_collection *c, const vz_write *w, size_t n, unsigned flags, enum vz_write_op *resolved)
{
	struct batch_seen s = { .w = w, .n = n };
	vz_releaser input = { .on = flags & VZ_WRITE_RELEASE };
	s.exists = calloc(n ? n : 1, sizeof(bool));
	if (!s.exists) return vz_fail(VZ_ENOMEM, "out of memory");
	int rc = idmap_grow(&s.map, n + 1, seen_hash, &s);
	uint32_t dim = c->meta.cfg.dim;
	for (size_t i = 0; i < n && !rc; i++) {
		const vz_write *x = &w[i];
		char where[64] = "";
		if (x->line) snprintf(where, sizeof where, "line %zu: ", x->line);
		if (x->id_len == 0 || x->id_len > VZ_MAX_ID_LEN || memchr(x->id, 0, x->id_len)) {
			rc = vz_fail(VZ_EDATA, "%sid must be 1 to %d bytes without NUL", where, VZ_MAX_ID_LEN);
			break;
		}
		if (x->op != VZ_WRITE_DELETE) {
			if (x->dim != dim) { rc = vz_fail(VZ_EDATA, "%svector has dimension %u, the collection has %u", where, x->dim, dim); break; }
			for (uint32_t j = 0; j < dim; j++)
				if (!isfinite(x->vector[j])) { rc = vz_fail(VZ_EDATA, "%svector value %u is not a finite number", where, j); break; }
			if (rc) break;
			if (c->meta.cfg.metric == VZ_METRIC_COSINE) {
				double norm = 0;
				for (uint32_t j = 0; j < dim; j++) norm += (double)x->vector[j] * x->vector[j];
				if (norm == 0) { rc = vz_fail(VZ_EDATA, "%sa zero vector has no direction (metric cosine)", where); break; }
			}
			if (x->payload && x->payload_len > VZ_MAX_PAYLOAD_LEN) { rc = vz_fail(VZ_EDATA, "%spayload larger than %u bytes", where, VZ_MAX_PAYLOAD_LEN); break; }
			vz_release_behind(&input, x->vector);
		}
		size_t slot = 0;
		int64_t prev = idmap_find(&s.map, x->id, x->id_len, seen_eq, &s, &slot);
		bool exists = prev >= 0 ? s.exists[prev] : exists_now(c, x->id, x->id_len);
		enum vz_write_op op = x->op;
		if (op == VZ_WRITE_UPSERT) op = exists ? VZ_WRITE_UPDATE : VZ_WRITE_INSERT;
		if (op == VZ_WRITE_INSERT && exists) {
			rc = vz_fail(VZ_EEXIST, "%sid '%.*s' already exists (use --upsert to replace it)", where, (int)x->id_len, x->id);
			break;
		}
		if ((op == VZ_WRITE_UPDATE || op == VZ_WRITE_DELETE) && !exists) {
			if (op == VZ_WRITE_DELETE && (flags & VZ_WRITE_MISSING_OK)) {
				resolved[i] = 0;
				continue;
			}
			rc = vz_fail(VZ_ENOENT, "%scannot %s id '%.*s': no such id", where, op_verb(op), (int)x->id_len, x->id);
			break;
		}
		resolved[i] = op;
		s.exists[i] = op != VZ_WRITE_DELETE;
		s.map.slots[slot] = (uint32_t)(i + 1);
	}
	idmap_free(&s.map);
	free(s.exists);
	return rc;
}

int vz_collection_write(vz_collection *c, const vz_write *w, size_t n, unsigned flags, int threads, vz_write_stats *st)
{
	vz_write_stats local;
	if (!st) st = &local;
	memset(st, 0, sizeof *st);
	if (!(c->flags & VZ_OPEN_WRITE)) return vz_fail(VZ_EINTERNAL, "collection not open for writing");
	if (c->meta.workspace) return vz_fail(VZ_EPERM, "workspace collections are read-only");
	if (c->wal_corrupt) return vz_fail(VZ_ECORRUPT, "%s", c->warning);
	if (n == 0) return VZ_OK;
	uint32_t dim = c->meta.cfg.dim;
	enum vz_write_op *ops = malloc(n * sizeof *ops);
	float *norm = malloc(sizeof(float) * dim);
	if (!ops || !norm) { free(ops); free(norm); return vz_fail(VZ_ENOMEM, "out of memory"); }
	int rc = check_batch(c, w, n, flags, ops);
	if (rc) goto out;
	bool bulk = flags & VZ_WRITE_BULK, all_inserts = true;
	for (size_t i = 0; i < n && all_inserts; i++) all_inserts = ops[i] == VZ_WRITE_INSERT;
	/* a bulk write is made durable by its own checkpoint, which needs the checkpoint lock: while
	 * a detached checkpoint builds, the batch goes through the WAL instead (never wait for it,
	 * and never wait for it while holding the lock its switch needs) */
	vz_lock ck = VZ_LOCK_INIT;
	if (bulk && !try_checkpoint_lock(c->dir, &ck)) bulk = false;
	if (bulk && all_inserts) {
		/* the common bulk load: new rows only, straight from the batch into the checkpoint */
		if ((rc = checkpoint_with(c, threads, false, w, n, flags & VZ_WRITE_RELEASE))) {
			unload(c);
			int rc2 = load(c, VZ_WAL_SCAN_STOP, false);
			(void)rc2;
			goto out;
		}
		st->inserted = n;
		st->checkpointed = true;
		goto out;
	}
	if (!bulk) {
		uint64_t txn = c->writer.next_seq, count = 0;
		for (size_t i = 0; i < n; i++) count += ops[i] != 0;
		unsigned char begin[12];
		vz_store_u64(begin, (uint64_t)(wall_now() * 1000));
		vz_store_u32(begin + 8, (uint32_t)count);
		rc = vz_wal_encode(&c->writer, VZ_WAL_BEGIN, txn, begin, sizeof begin);
		vz_buf rec = { 0 };
		for (size_t i = 0; i < n && !rc; i++) {
			if (!ops[i]) continue;
			rec.len = 0;
			const float *v = NULL;
			if (ops[i] != VZ_WRITE_DELETE) {
				memcpy(norm, w[i].vector, sizeof(float) * dim);
				if (c->meta.cfg.metric == VZ_METRIC_COSINE) unit_length(norm, dim);
				v = norm;
			}
			rc = vz_wal_encode_op(&rec, w[i].id, w[i].id_len, v, dim, w[i].payload, w[i].payload_len, w[i].payload != NULL);
			if (!rc) rc = vz_wal_encode(&c->writer, ops[i] == VZ_WRITE_INSERT ? VZ_WAL_INSERT : ops[i] == VZ_WRITE_UPDATE ? VZ_WAL_UPDATE : VZ_WAL_DELETE,
						  txn, rec.data, rec.len);
		}
		vz_buf_free(&rec);
		unsigned char commit[4];
		vz_store_u32(commit, (uint32_t)count);
		if (!rc) rc = vz_wal_encode(&c->writer, VZ_WAL_COMMIT, txn, commit, sizeof commit);
		char wal[4200];
		uint64_t len = c->writer.buf.len;
		st->first_seq = txn;
		st->last_seq = c->writer.next_seq - 1;
		if (!rc) rc = vz_path_fmt(wal, sizeof wal, "%s/wal.log", c->dir);
		if (!rc) rc = vz_wal_append(wal, c->wal_end, &c->writer);
		if (rc) {
			/* nothing was acknowledged: forget the encoded records and the sequence numbers */
			c->writer.buf.len = 0;
			unload(c);
			int rc2 = load(c, VZ_WAL_SCAN_STOP, false);
			(void)rc2;
			goto out;
		}
		c->wal_end += len;
	}
	/* the transaction is durable (or, for bulk, about to be made so by the checkpoint) */
	double now = wall_now();
	for (size_t i = 0; i < n && !rc; i++) {
		if (!ops[i]) { st->skipped++; continue; }
		if (ops[i] == VZ_WRITE_DELETE) {
			rc = delta_put(c, w[i].id, w[i].id_len, NULL, NULL, 0, false);
			st->deleted++;
		} else {
			memcpy(norm, w[i].vector, sizeof(float) * dim);
			if (c->meta.cfg.metric == VZ_METRIC_COSINE) unit_length(norm, dim);
			rc = delta_put(c, w[i].id, w[i].id_len, norm, w[i].payload, w[i].payload_len, w[i].payload != NULL);
			if (ops[i] == VZ_WRITE_INSERT) st->inserted++;
			else st->updated++;
		}
		c->wal_ops++;
		if (!c->oldest_op) c->oldest_op = now;
	}
	if (rc) goto out;
	if (bulk) {
		rc = checkpoint_with(c, threads, false, NULL, 0, false);
		if (rc) {
			/* the batch was never durable: drop it from memory */
			unload(c);
			int rc2 = load(c, VZ_WAL_SCAN_STOP, false);
			(void)rc2;
			goto out;
		}
		st->checkpointed = true;
	} else if (vz_collection_checkpoint_due(c)) {
		if (flags & VZ_WRITE_NO_AUTO_CHECKPOINT) {
			st->checkpoint_due = true;
		} else {
			/* a detached checkpoint already running will not fold this transaction; the
			 * next write that finds the thresholds reached starts the next one */
			int crc = ck.fd >= 0 || try_checkpoint_lock(c->dir, &ck) ? checkpoint_with(c, threads, false, NULL, 0, false) : VZ_EBUSY;
			st->checkpointed = crc == VZ_OK;
			if (crc && crc != VZ_EBUSY) vz_fail_prefix(crc, "the transaction is committed, but the automatic checkpoint failed: ");
		}
	}
out:
	vz_lock_release(&ck);
	free(ops);
	free(norm);
	return rc;
}

/* ---- create and drop ---- */

int vz_collection_create(const char *data_dir, const char *name, const vz_config *cfg)
{
	if (!vz_name_valid(name)) return vz_fail(VZ_EINVAL, "'%s' is not a valid collection name (letters, digits, '.', '_', '-'; at most 64; starting with a letter or digit)", name);
	int rc = vz_config_validate(cfg);
	if (rc) return rc;
	char parent[4200], final[4400], tmp[4400], p[4600], dirlock[4300];
	if ((rc = vz_path_fmt(parent, sizeof parent, "%s/dynamic", data_dir))) return rc;
	if ((rc = vz_io_mkdir_p(parent, 0755))) return rc;
	if ((rc = vz_path_fmt(final, sizeof final, "%s/%s", parent, name))) return rc;
	if ((rc = vz_path_fmt(dirlock, sizeof dirlock, "%s/.lock", parent))) return rc;
	/* creators and droppers serialise on dynamic/.lock, so cleaning temp dirs is safe */
	vz_lock dl = VZ_LOCK_INIT;
	if ((rc = vz_lock_acquire(dirlock, VZ_LOCK_EXCLUSIVE, 10000, true, &dl))) return rc;
	if ((rc = vz_cleanup_temps(parent, NULL))) goto out;
	struct stat st;
	if (lstat(final, &st) == 0) { rc = vz_fail(VZ_EEXIST, "collection %s already exists", name); goto out; }
	uint64_t rnd = vz_random_u64();
	if ((rc = vz_path_fmt(tmp, sizeof tmp, "%s/.vztmp.create.%s.%016llx", parent, name, (unsigned long long)rnd))) goto out;
	if ((rc = vz_io_mkdir(tmp, 0755, false))) goto out;
	int fd;
	if ((rc = vz_path_fmt(p, sizeof p, "%s/LOCK", tmp)) || (rc = vz_io_open_write(p, O_WRONLY | O_CREAT | O_EXCL, 0644, &fd))) goto fail;
	vz_io_close(fd);
	vz_meta m = { .cfg = *cfg, .created = unix_now(), .has_wal_start = true, .wal_salt = vz_random_u64(), .wal_first_seq = 1 };
	vz_id_new(&m.id);
	if ((rc = vz_meta_write(tmp, &m))) goto fail;
	vz_wal_writer w = { 0 };
	if ((rc = vz_path_fmt(p, sizeof p, "%s/wal.log", tmp)) || (rc = vz_wal_reset(p, &m.id, 0, m.wal_salt, 1, &w))) goto fail;
	vz_buf conf = { 0 };
	unsigned char begin[12] = { 0 }, commit[4] = { 0 };
	vz_store_u64(begin, (uint64_t)(wall_now() * 1000));
	vz_store_u32(begin + 8, 1);
	vz_store_u32(commit, 1);
	rc = vz_config_to_json(cfg, &conf);
	if (!rc) rc = vz_wal_encode(&w, VZ_WAL_BEGIN, 1, begin, sizeof begin);
	if (!rc) rc = vz_wal_encode(&w, VZ_WAL_CREATE, 1, conf.data, conf.len);
	if (!rc) rc = vz_wal_encode(&w, VZ_WAL_COMMIT, 1, commit, sizeof commit);
	vz_buf_free(&conf);
	if (!rc) rc = vz_wal_append(p, VZ_HEADER_SIZE, &w);
	vz_buf_free(&w.buf);
	if (rc) goto fail;
	if ((rc = vz_io_fsync_dir(tmp))) goto fail;
	if ((rc = vz_io_rename_noreplace(tmp, final))) {
		if (rc == VZ_EEXIST) vz_fail(VZ_EEXIST, "collection %s already exists", name);
		goto fail;
	}
	if ((rc = vz_io_fsync_dir(parent))) {
		/* not known to be durable: undo, so a reported failure leaves nothing behind */
		char saved[1024];
		snprintf(saved, sizeof saved, "%s", vz_last_error());
		if (vz_io_rename(final, tmp) == VZ_OK) vz_io_remove_tree(tmp);
		vz_fail(rc, "%s", saved);
	}
	goto out;
fail:
	vz_io_remove_tree(tmp);
out:
	vz_lock_release(&dl);
	return rc;
}

/* Renames the directory away (atomic: the collection is gone), then removes it. */
static int finish_drop(struct vz_collection *c)
{
	char parent[4096], away[4400], dirlock[4200];
	snprintf(parent, sizeof parent, "%s", c->dir);
	char *slash = strrchr(parent, '/');
	if (slash) *slash = '\0';
	else strcpy(parent, ".");
	int rc = vz_path_fmt(away, sizeof away, "%s/.vztmp.drop.%s.%016llx", parent, base_name(c->dir), (unsigned long long)vz_random_u64());
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

int vz_collection_drop(vz_collection *c)
{
	int rc = VZ_OK;
	if (!(c->flags & VZ_OPEN_WRITE)) rc = vz_fail(VZ_EINTERNAL, "drop needs the collection open for writing");
	else if (c->meta.workspace) rc = vz_fail(VZ_EPERM, "workspace collections are removed by vz build, not dropped");
	if (!rc && c->has_wal && !c->wal_corrupt) {
		/* DeleteCollection is durable before anything disappears: a crash after this point
		 * finishes the drop on the next open, a crash before leaves the collection whole */
		uint64_t txn = c->writer.next_seq;
		unsigned char begin[12] = { 0 }, commit[4] = { 0 };
		vz_store_u64(begin, (uint64_t)(wall_now() * 1000));
		vz_store_u32(begin + 8, 1);
		vz_store_u32(commit, 1);
		char wal[4200];
		rc = vz_wal_encode(&c->writer, VZ_WAL_BEGIN, txn, begin, sizeof begin);
		if (!rc) rc = vz_wal_encode(&c->writer, VZ_WAL_DROP, txn, NULL, 0);
		if (!rc) rc = vz_wal_encode(&c->writer, VZ_WAL_COMMIT, txn, commit, sizeof commit);
		if (!rc) rc = vz_path_fmt(wal, sizeof wal, "%s/wal.log", c->dir);
		if (!rc) rc = vz_wal_append(wal, c->wal_end, &c->writer);
	}
	/* Once DeleteCollection is durable the collection is gone for every reader; if removing
	 * the files fails now, the next open or create finishes it, so the drop has succeeded. */
	if (!rc) finish_drop(c);
	vz_collection_close(c);
	return rc;
}

/* ---- recovery ---- */

static void ignore_problem(void *ctx, const char *file, int64_t offset, const char *what)
{
	(void)ctx; (void)file; (void)offset; (void)what;
}

/* What recover's first check found, by file: what it may rebuild and what it must not touch. */
struct found {
	bool fatal, index, terms, wal_records;
	char first_fatal[256];
};

static void sort_problem(void *ctx, const char *file, int64_t offset, const char *what)
{
	struct found *f = ctx;
	bool fatal = false;
	if (!strcmp(file, "index.hnsw")) f->index = true;
	else if (!strcmp(file, "terms.bin")) f->terms = true;
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
	size_t begin = SIZE_MAX;
	for (size_t i = 0; i < w->n; i++) {
		const vz_wal_entry *e = &w->entries[i];
		if (e->seq <= after_seq) continue;
		bool past = e->offset >= w->damage_offset;
		if (e->type == VZ_WAL_BEGIN) {
			if (begin != SIZE_MAX) note_lost(rep, w, begin, i);
			begin = i;
		} else if (e->type == VZ_WAL_COMMIT && begin != SIZE_MAX) {
			bool kept = txn_complete(w, begin, i) && (mode == VZ_RECOVER_SALVAGE || !past);
			if (!kept) note_lost(rep, w, begin, i);
			begin = SIZE_MAX;
		}
	}
	if (begin != SIZE_MAX) note_lost(rep, w, begin, w->n);
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
	char yml[4096] = "", data[4096], name[140], named[140] = "";
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
		char meta_path[4200];
		if (strcmp(named, name) && !vz_path_fmt(meta_path, sizeof meta_path, "%s/metadata.json", dir)) vz_io_unlink(meta_path, true);
		vz_ws_stats st;
		rc = vz_workspace_build(w, wc, data, true, threads, lock_timeout_ms, NULL, NULL, &st);
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

static void count_transactions(const vz_wal_log *w, uint64_t after_seq, vz_recover_report *rep)
{
	size_t begin = SIZE_MAX; /* the open transaction's begin record */
	for (size_t i = 0; i < w->n; i++) {
		const vz_wal_entry *e = &w->entries[i];
		if (e->seq <= after_seq) continue;
		rep->records_replayed++;
		if (e->type == VZ_WAL_BEGIN) {
			if (begin != SIZE_MAX) rep->transactions_dropped++;
			begin = i;
		} else if (e->type == VZ_WAL_COMMIT && begin != SIZE_MAX) {
			/* the rule replay applies: a transaction missing a record is dropped, not replayed */
			if (txn_complete(w, begin, i)) rep->transactions_replayed++;
			else rep->transactions_dropped++;
			begin = SIZE_MAX;
		}
	}
	if (begin != SIZE_MAX) rep->transactions_dropped++;
}

static int recover_locked(struct vz_collection *c, const char *dir, enum vz_recover_mode mode, bool dry_run, int threads,
			  int lock_timeout_ms, vz_recover_report *rep);

/* Recovery rewrites files: without write access it says so before it reads anything, rather
 * than failing halfway in a way that looks like damage. */
static int check_writable(const char *dir)
{
	char wal[4200];
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
	struct vz_collection *c = calloc(1, sizeof *c);
	if (!c) return vz_fail(VZ_ENOMEM, "out of memory");
	c->lock.fd = -1;
	c->rerank_fd = -1;
	c->flags = dry_run ? VZ_OPEN_READ : VZ_OPEN_WRITE;
	vz_lock ck = VZ_LOCK_INIT;
	int rc = vz_path_fmt(c->dir, sizeof c->dir, "%s", dir);
	/* the checkpoint lock before the collection's (the order every checkpoint takes them in):
	 * recover writes a checkpoint, and a detached one must not switch in under it */
	if (!rc && !dry_run) rc = check_collection_dir(dir);
	if (!rc && !dry_run) rc = checkpoint_lock(dir, lock_timeout_ms, &ck);
	if (!rc) rc = vz_collection_lock(dir, VZ_LOCK_EXCLUSIVE, lock_timeout_ms, &c->lock);
	if (!rc && !dry_run) rc = check_writable(dir);
	if (rc) { vz_collection_close(c); vz_lock_release(&ck); return rc; }
	rc = recover_locked(c, dir, mode, dry_run, threads, lock_timeout_ms, rep);
	vz_lock_release(&ck);
	return rc;
}

static int recover_locked(struct vz_collection *c, const char *dir, enum vz_recover_mode mode, bool dry_run, int threads,
			  int lock_timeout_ms, vz_recover_report *rep)
{
	int rc = VZ_OK;
	/* Check everything before writing anything: what cannot be made again from the rest is
	 * never written over (a checkpoint of a damaged vectors.bin would make the damage look
	 * whole), and what can is rebuilt after the checkpoint's own checks pass. */
	struct found f = { 0 };
	int problems;
	vz_meta meta;
	bool workspace = false;
	if ((rc = vz_verify_locked(dir, false, sort_problem, &f, &problems))) { vz_collection_close(c); return rc; }
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
		if (!(c = calloc(1, sizeof *c))) return vz_fail(VZ_ENOMEM, "out of memory");
		c->lock.fd = -1;
		c->rerank_fd = -1;
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
	char wal[4200];
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
	rc = load(c, mode == VZ_RECOVER_SALVAGE ? VZ_WAL_SCAN_SALVAGE : VZ_WAL_SCAN_STOP, true);
	if (rc) {
		vz_collection_close(c);
		/* a backup is the answer to damage, not to a file that could not be opened or read */
		return rc == VZ_ECORRUPT || rc == VZ_EDATA ? vz_fail_prefix(rc, "cannot recover (restore from a backup): ") : rc;
	}
	if (c->dropped) {
		rc = dry_run ? VZ_OK : finish_drop(c);
		vz_collection_close(c);
		return rc ? rc : vz_fail(VZ_ENOENT, "the collection was dropped; its removal is now finished");
	}
	if (c->has_wal) count_transactions(&c->wal, c->meta.wal_seq, rep);
	if (c->has_index && (f.index || vz_hnsw_verify(&c->index) != VZ_OK)) {
		vz_unmap(&c->index_map);
		c->has_index = false;
	}
	rep->index_rebuilt = c->meta.rows > 0 && !c->has_index;
	rep->terms_rebuilt = f.terms;
	if (dry_run) { vz_collection_close(c); return VZ_OK; }
	c->wal_corrupt = false;
	/* before the checkpoint, which records terms.bin's save count */
	if (f.terms && (rc = rebuild_terms(c))) { vz_collection_close(c); return vz_fail_prefix(rc, "terms.bin: "); }
	rc = checkpoint_with(c, threads, true, NULL, 0, false); /* the checkpoint lock is ours */
	rep->checkpoint_written = rc == VZ_OK;
	vz_collection_close(c);
	if (rc) return rc;
	rc = vz_collection_verify(dir, false, lock_timeout_ms, ignore_problem, NULL, &problems);
	if (rc) return rc;
	if (problems) return vz_fail(VZ_ECORRUPT, "recovered, but verify still finds %d problems: run vz verify for details", problems);
	return VZ_OK;
}
