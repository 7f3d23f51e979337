/* coll_write.c: transactional writes of a dynamic collection: a batch checked against the
 * collection and itself, appended to the WAL as one transaction, applied to the delta; bulk
 * loads straight into a checkpoint. */
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
	int64_t at = vz_idmap_find(&c->dmap, id, len, vz_coll_delta_eq, c, NULL);
	if (at >= 0) return !c->d[at].deleted;
	return vz_coll_base_find(c, id, len) >= 0;
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
	int rc = vz_idmap_grow(&s.map, n + 1, seen_hash, &s);
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
		int64_t prev = vz_idmap_find(&s.map, x->id, x->id_len, seen_eq, &s, &slot);
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
	vz_idmap_free(&s.map);
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
	/* VZ_WRITE_DEFER_INDEX alone: new rows as a segment without a graph where the collection
	 * takes one (so that no reader replays them from the log), else through the WAL */
	if (!bulk && (flags & VZ_WRITE_DEFER_INDEX) && all_inserts && c->meta.nsegments < VZ_MAX_SEGMENTS &&
	    vz_id_is_set(&c->meta.id))
		bulk = true;
	/* a bulk write is made durable by its own checkpoint, which needs the checkpoint lock: while
	 * a detached checkpoint builds, the batch goes through the WAL instead (never wait for it,
	 * and never wait for it while holding the lock its switch needs) */
	vz_lock ck = VZ_LOCK_INIT;
	if (bulk && !vz_coll_try_checkpoint_lock(c->dir, &ck)) bulk = false;
	if (bulk && all_inserts) {
		/* the common bulk load: new rows only, straight from the batch into the checkpoint;
		 * with VZ_WRITE_DEFER_INDEX as a segment without a graph, the index left to the next
		 * checkpoint (the second pass of a large log's) */
		unsigned ckflags = flags & VZ_WRITE_DEFER_INDEX ? VZ_CK_FLAT : 0;
		if ((rc = vz_coll_checkpoint_with(c, threads, ckflags, w, n, flags & VZ_WRITE_RELEASE))) {
			vz_coll_unload(c);
			int rc2 = vz_coll_load(c, VZ_WAL_SCAN_STOP, false);
			(void)rc2;
			goto out;
		}
		st->inserted = n;
		st->checkpointed = true;
		st->checkpoint_due = vz_collection_checkpoint_due(c); /* the index, when deferred */
		goto out;
	}
	if (!bulk) {
		uint64_t txn, count = 0;
		for (size_t i = 0; i < n; i++) count += ops[i] != 0;
		rc = vz_wal_encode_begin(&c->writer, (uint32_t)count, &txn);
		vz_buf rec = { 0 };
		for (size_t i = 0; i < n && !rc; i++) {
			if (!ops[i]) continue;
			rec.len = 0;
			const float *v = NULL;
			if (ops[i] != VZ_WRITE_DELETE) {
				memcpy(norm, w[i].vector, sizeof(float) * dim);
				if (c->meta.cfg.metric == VZ_METRIC_COSINE) vz_coll_unit_length(norm, dim);
				v = norm;
			}
			rc = vz_wal_encode_op(&rec, w[i].id, w[i].id_len, v, dim, w[i].payload, w[i].payload_len, w[i].payload != NULL);
			if (!rc) rc = vz_wal_encode(&c->writer, ops[i] == VZ_WRITE_INSERT ? VZ_WAL_INSERT : ops[i] == VZ_WRITE_UPDATE ? VZ_WAL_UPDATE : VZ_WAL_DELETE,
						  txn, rec.data, rec.len);
			vz_progress("writing", (i + 1) / 2, n); /* rows: half for the records, half for the rows in memory */
		}
		vz_buf_free(&rec);
		if (!rc) rc = vz_wal_encode_commit(&c->writer, txn, (uint32_t)count);
		char wal[VZ_PATH_MAX];
		uint64_t len = c->writer.buf.len;
		st->first_seq = txn;
		st->last_seq = c->writer.next_seq - 1;
		if (!rc) rc = vz_path_fmt(wal, sizeof wal, "%s/wal.log", c->dir);
		if (!rc) rc = vz_wal_append(wal, c->wal_end, &c->writer);
		if (rc) {
			/* nothing was acknowledged: forget the encoded records and the sequence numbers */
			c->writer.buf.len = 0;
			vz_coll_unload(c);
			int rc2 = vz_coll_load(c, VZ_WAL_SCAN_STOP, false);
			(void)rc2;
			goto out;
		}
		c->wal_end += len;
	}
	/* the transaction is durable (or, for bulk, about to be made so by the checkpoint) */
	double now = vz_coll_wall_now();
	for (size_t i = 0; i < n && !rc; i++) {
		if (!ops[i]) { st->skipped++; continue; }
		if (ops[i] == VZ_WRITE_DELETE) {
			rc = vz_coll_delta_put(c, w[i].id, w[i].id_len, NULL, NULL, 0, false);
			st->deleted++;
		} else {
			memcpy(norm, w[i].vector, sizeof(float) * dim);
			if (c->meta.cfg.metric == VZ_METRIC_COSINE) vz_coll_unit_length(norm, dim);
			rc = vz_coll_delta_put(c, w[i].id, w[i].id_len, norm, w[i].payload, w[i].payload_len, w[i].payload != NULL);
			if (ops[i] == VZ_WRITE_INSERT) st->inserted++;
			else st->updated++;
		}
		c->wal_ops++;
		if (!c->oldest_op) c->oldest_op = now;
		if (!bulk) vz_progress("writing", (n + i + 1) / 2, n);
	}
	if (rc) goto out;
	if (bulk) {
		rc = vz_coll_checkpoint_with(c, threads, flags & VZ_WRITE_DEFER_INDEX ? VZ_CK_FLAT : 0, NULL, 0, false);
		if (rc) {
			/* the batch was never durable: drop it from memory */
			vz_coll_unload(c);
			int rc2 = vz_coll_load(c, VZ_WAL_SCAN_STOP, false);
			(void)rc2;
			goto out;
		}
		st->checkpointed = true;
		st->checkpoint_due = vz_collection_checkpoint_due(c);
	} else if (vz_collection_checkpoint_due(c)) {
		if (flags & VZ_WRITE_NO_AUTO_CHECKPOINT) {
			st->checkpoint_due = true;
		} else {
			/* a detached checkpoint already running will not fold this transaction; the
			 * next write that finds the thresholds reached starts the next one */
			int crc = ck.fd >= 0 || vz_coll_try_checkpoint_lock(c->dir, &ck) ? vz_coll_checkpoint_with(c, threads, false, NULL, 0, false) : VZ_EBUSY;
			st->checkpointed = crc == VZ_OK;
			st->checkpoint_failed = crc && crc != VZ_EBUSY;
			if (st->checkpoint_failed) vz_fail_prefix(crc, "the transaction is committed, but the automatic checkpoint failed: ");
		}
	}
out:
	vz_lock_release(&ck);
	free(ops);
	free(norm);
	return rc;
}

