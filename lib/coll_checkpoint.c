/* coll_checkpoint.c: checkpoints: building vectors.bin and index.hnsw from the base, the delta
 * and a bulk batch; the commit protocol (described at the top of collection.c); the detached
 * checkpoint that stops no one (vz_checkpoint_dir); workspace snapshots. */
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
	bool on_codes; /* a float graph built on codes of one step, made as the rows stream */
};

/* Row r's floats where they lie, or normalised into scratch */
static const float *source_row(const struct row_source *s, uint64_t r, uint32_t dim, float *scratch)
{
	const float *p = s->packed ? s->packed + r * dim : s->row[r];
	if (r < s->first_new || !s->normalize_new) return p;
	memcpy(scratch, p, sizeof(float) * dim);
	vz_coll_unit_length(scratch, dim);
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
 * codes 0.7. The codes and ranges are made here, sized rows * dim + 3 * dim. one_step: codes
 * of one step for a float graph (src->on_codes; vz_hnsw_builder_on_codes), which then holds
 * codes and links, not floats as well (1M x 128: 512 MB of floats, 128 MB of codes). */
static int encode_sq8(struct row_source *src, uint64_t n, uint32_t dim, bool one_step, float **ranges, uint8_t **codes)
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
	if (one_step) vz_sq8_step_uniform(step, dim);
	src->min = lo;
	src->step = step;
	src->codes = *codes;
	return VZ_OK;
}

int vz_coll_write_graph_file(vz_hnsw_builder *b, const char *ipath, const vz_coll_id *id, uint64_t gen, vz_file_sum *isum)
{
	vz_tmpfile t;
	int rc = vz_tmpfile_open(&t, ipath);
	if (rc) return rc;
	rc = vz_hnsw_builder_write(b, &t, id, gen);
	if (!rc) {
		/* the index's own header carries its body checksum: keep it for metadata.json */
		unsigned char head[VZ_HEADER_SIZE];
		vz_file_header h;
		if (pread(t.fd, head, sizeof head, 0) != (ssize_t)sizeof head ||
		    vz_header_decode(head, sizeof head, VZ_MAGIC_INDEX, 2, &h))
			rc = vz_fail(VZ_EINTERNAL, "%s: could not read back the header just written", ipath);
		isum->present = true;
		isum->size = t.written;
		isum->body_checksum = h.body_checksum;
	}
	if (rc) vz_tmpfile_abort(&t);
	else rc = vz_tmpfile_commit_as(&t, ipath);
	return rc;
}

/* Writes vectors.bin.new and index.hnsw.new (or, with seg_gen, the files of that segment) for
 * rows [0,n) of src. When base_index is given (and not compacting), its graph holds rows
 * [0, n_base) and only the rest are inserted. */
static int write_data_files(const char *dir, const vz_config *cfg, const vz_coll_id *id, uint64_t gen, struct row_source *src,
			    const vz_out_row *rows, size_t n, const vz_hnsw_index *base_index, size_t n_base,
			    int threads, vz_file_sum *vsum, vz_file_sum *isum, uint64_t seg_gen)
{
	char vpath[VZ_PATH_MAX], ipath[VZ_PATH_MAX];
	bool sq8 = cfg->quantization == VZ_QUANT_SQ8;
	float *ranges = NULL;
	uint8_t *codes = NULL;
	int rc = seg_gen ? vz_segment_path(dir, seg_gen, false, vpath, sizeof vpath) : vz_path_fmt(vpath, sizeof vpath, "%s/vectors.bin.new", dir);
	if (!rc) rc = seg_gen ? vz_segment_path(dir, seg_gen, true, ipath, sizeof ipath) : vz_path_fmt(ipath, sizeof ipath, "%s/index.hnsw.new", dir);
	if (!rc && (sq8 || src->on_codes)) rc = encode_sq8(src, n, cfg->dim, !sq8, &ranges, &codes);
	if (!rc) rc = vz_vectors_write(vpath, id, gen, cfg->dim, cfg->metric, read_row, src, rows, n, vsum);
	if (rc || !isum) { free(ranges); free(codes); return rc; } /* no isum: a segment without a graph */
	const float *vectors = sq8 || src->on_codes ? NULL : src->packed;
	vz_hnsw_builder *b = NULL;
	vz_hnsw_params p = { .m = cfg->m, .ef_construction = cfg->ef_construction, .seed = 42, .sq8 = sq8 };
	if (base_index) rc = vz_hnsw_builder_from_index(base_index, vectors, n, &b);
	else rc = vz_hnsw_builder_new(cfg->dim, cfg->metric, &p, vectors, n, &b);
	if (!rc && sq8) rc = vz_hnsw_builder_use_codes(b, src->min, src->step, codes, build_row, src);
	else if (!rc && src->on_codes && !(rc = vz_hnsw_builder_on_codes(b, codes))) vz_hnsw_builder_keep_codes(b, src->min, src->step);
	size_t first = base_index ? n_base : 0; /* rows already in the graph */
	if (!rc && n > first) rc = vz_hnsw_builder_add(b, first, n - first, threads);
	if (!rc) rc = vz_coll_write_graph_file(b, ipath, id, gen, isum);
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
	char meta_path[VZ_PATH_MAX], p[3][VZ_PATH_MAX];
	static const char *const names[2] = { "vectors.bin", "index.hnsw" };
	int rc = vz_path_fmt(meta_path, sizeof meta_path, "%s/metadata.json", dir);
	if (rc) return rc;
	char *old = NULL;
	size_t old_len = 0;
	if (vz_read_file(meta_path, 1u << 20, &old, &old_len) != VZ_OK) old = NULL;
	bool base = m->rows > 0 && m->base_generation == m->generation; /* this checkpoint wrote the base */
	rc = vz_meta_write(dir, m);
	for (int i = 0; !rc && i < 2 && base; i++) {
		if ((rc = vz_path_fmt(p[0], sizeof p[0], "%s/%s", dir, names[i])) || (rc = vz_path_fmt(p[1], sizeof p[1], "%s/%s.new", dir, names[i])) ||
		    (rc = vz_path_fmt(p[2], sizeof p[2], "%s/%s.prev", dir, names[i])))
			break;
		if (access(p[0], F_OK) == 0 && (rc = vz_io_rename(p[0], p[2]))) break;
		if (i == 1 && !m->index.present) continue; /* a workspace graph deferred: the old one goes */
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
	for (int i = m->cfg.quantization == VZ_QUANT_SQ8 ? 1 : 0; i < 2 && base; i++)
		if (!vz_path_fmt(p[0], sizeof p[0], "%s/%s", dir, names[i])) vz_cache_huge(p[0]);
	/* segments folded into the base by this checkpoint (a workspace build's full snapshot too) */
	vz_coll_remove_unlisted_segments(dir, m);
	/* committed and durable: the previous files are garbage now (a failure to remove them is
	 * harmless: the next writer removes them) */
	for (int i = 0; i < 3; i++)
		if (!vz_path_fmt(p[2], sizeof p[2], "%s/%s.prev", dir, i < 2 ? names[i] : "wal.log") && access(p[2], F_OK) == 0) vz_io_unlink(p[2], true);
	return VZ_OK;
}

/* Chooses the identity of a collection of format version 1 at its first checkpoint, and
 * rewrites its terms.bin (if any) to carry it. A terms.bin that already carries one (rewritten
 * by a checkpoint that then failed) gives it, so that the two never disagree. */
static int upgrade_terms(const char *dir, vz_coll_id *id)
{
	char p[VZ_PATH_MAX];
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
	char p[VZ_PATH_MAX];
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

/* An incremental checkpoint: the delta's rows (n of them: its live rows, and a tombstone row
 * for each delete of a row the base or a segment holds) as a new segment with a graph of its
 * own (flat: without one, searched exactly until the next checkpoint folds it into the base);
 * the base and the older segments are not touched. Without rows it only starts the next log
 * (a new generation, the same files). */
/* The metadata of a new base of n_out rows (live of them live) following c's: the next
 * generation, its own base generation, the file sums cleared for the writer to fill. */
static vz_meta new_base_meta(const struct vz_collection *c, uint64_t n_out, uint64_t live)
{
	vz_meta m = c->meta;
	m.generation = c->meta.generation + 1;
	m.rows = n_out;
	m.live = live;
	m.tombstones = n_out - live;
	m.checkpoint_time = vz_coll_unix_now();
	memset(&m.vectors, 0, sizeof m.vectors);
	memset(&m.index, 0, sizeof m.index);
	m.base_generation = m.generation;
	return m;
}

static int segment_build(vz_collection *c, const char *out_dir, int threads, uint64_t n, const vz_write *extra, size_t nextra,
			 bool release_extra, bool flat, vz_meta *m_out, bool *built)
{
	uint32_t dim = c->meta.cfg.dim;
	uint64_t total = n + nextra;
	/* the rows' floats where they lie (the delta's, the caller's batch: normalised as they are
	 * read for cosine), a tombstone's all zeros */
	const float **ptr = malloc(sizeof *ptr * (size_t)(total ? total : 1));
	float *zero = calloc(dim, sizeof(float));
	vz_out_row *rows = calloc(total ? total : 1, sizeof *rows);
	if (!ptr || !zero || !rows) {
		free(ptr);
		free(zero);
		free(rows);
		return vz_fail(VZ_ENOMEM, "out of memory for a segment of %llu rows", (unsigned long long)total);
	}
	uint64_t at = 0, live = 0;
	for (size_t i = 0; i < c->nd; i++) {
		const struct delta_entry *e = &c->d[i];
		if (e->deleted && e->base_row < 0) continue;
		rows[at] = (vz_out_row){ e->id, e->id_len, e->payload, e->payload_len, e->has_payload && !e->deleted, e->deleted };
		ptr[at] = e->deleted ? zero : e->vec;
		live += !e->deleted;
		at++;
	}
	for (size_t i = 0; i < nextra; i++, at++, live++) {
		const vz_write *x = &extra[i];
		rows[at] = (vz_out_row){ x->id, x->id_len, x->payload, x->payload_len, x->payload != NULL, false };
		ptr[at] = x->vector;
	}
	vz_meta m = c->meta;
	m.generation = c->meta.generation + 1;
	m.wal_seq = last_committed_seq(c);
	m.checkpoint_time = vz_coll_unix_now();
	m.terms_saves = terms_saves(c->dir, &m);
	int rc = VZ_OK;
	if (total > 0) {
		vz_segment_sum *g = &m.segments[m.nsegments++];
		memset(g, 0, sizeof *g);
		g->generation = m.generation;
		g->rows = total;
		g->live = live;
		/* a graph reads packed rows: only a segment without one is written from the pointers */
		float *vecs = NULL;
		if (!flat && !(vecs = malloc(sizeof(float) * dim * (size_t)total))) rc = vz_fail(VZ_ENOMEM, "out of memory for a segment of %llu rows", (unsigned long long)total);
		for (uint64_t r = 0; vecs && r < total; r++) {
			memcpy(vecs + r * dim, ptr[r], sizeof(float) * dim);
			if (r >= n && c->meta.cfg.metric == VZ_METRIC_COSINE) vz_coll_unit_length(vecs + r * dim, dim);
		}
		struct row_source src = { .packed = vecs, .row = ptr, .first_new = vecs ? total : n,
					  .normalize_new = !vecs && c->meta.cfg.metric == VZ_METRIC_COSINE, .fresh.on = release_extra && !vecs };
		/* a segment holds float rows and a float graph, sq8 collections' too: compaction
		 * quantises them into the base (vz-format(5), Segments) */
		vz_config fcfg = c->meta.cfg;
		fcfg.quantization = VZ_QUANT_NONE;
		if (!rc)
			rc = write_data_files(out_dir, &fcfg, &m.id, m.generation, &src, rows, total, NULL, 0, threads, &g->vectors,
					      flat ? NULL : &g->index, m.generation);
		free(vecs);
	}
	if (!rc) {
		*m_out = m;
		*built = true;
	}
	free(ptr);
	free(zero);
	free(rows);
	return rc;
}

/* A checkpoint of the base, the delta and, for a bulk load, the new rows `extra` (all
 * inserts of ids not present, checked by the caller): those go from the caller's batch
 * straight into vectors.bin, never through the delta, so a bulk load holds its vectors once
 * (or, for a fresh collection, only in the caller's batch; for sq8, only as codes).
 * release_extra: extra's vectors lie in a read-only file mapping, in row order, whose pages
 * may be let go once read (VZ_WRITE_RELEASE). */
static int checkpoint_build(vz_collection *c, const char *out_dir, int threads, unsigned flags, const vz_write *extra, size_t nextra,
			    bool release_extra, vz_ck_gate *gate, vz_meta *m_out, bool *built)
{
	*built = false;
	bool force = flags & VZ_CK_FORCE;
	bool flat = false; /* a segment without a graph is there: its rows go into the base now */
	for (uint32_t i = 0; i < c->meta.nsegments; i++) flat |= !c->meta.segments[i].index.present;
	if (c->wal_corrupt) return vz_fail(VZ_ECORRUPT, "%s", c->warning);
	if (c->nd == 0 && nextra == 0 && !force && !flat && c->has_index == (c->meta.rows > 0)) return VZ_OK;
	threads = default_threads(threads);
	int rc = vz_coll_build_superseded(c);
	if (rc) return rc;
	uint32_t dim = c->meta.cfg.dim;
	/* the row space: the base's rows, then the segments' (coll_segment.c) */
	uint64_t n_base = c->nseg ? c->nrows : c->has_vec ? c->vec.rows : 0, tomb = 0, n_new = 0, seg_rows = 0, delta_rows = 0;
	for (uint64_t r = 0; r < n_base; r++) tomb += vz_coll_skip_base(c, (uint32_t)r);
	for (size_t i = 0; i < c->nd; i++) n_new += !c->d[i].deleted;
	for (size_t i = 0; i < c->nd; i++) delta_rows += !c->d[i].deleted || c->d[i].base_row >= 0;
	for (uint32_t i = 0; i < c->meta.nsegments; i++) seg_rows += c->meta.segments[i].rows;
	n_new += nextra;
	uint64_t total = n_base + n_new;
	/* compact when tombstones pass 20%, or when there is no usable graph to extend */
	bool compact = (tomb > 0 && tomb * 5 > total) || (n_base > 0 && !c->has_index) || (flags & VZ_CK_COMPACT);
	if ((flags & VZ_CK_COMPACT) && tomb == 0 && c->has_index) compact = false;
	/* an incremental checkpoint writes the delta as a segment and leaves the base as it is, while
	 * the segments stay few and small beside it (a quarter of its rows); otherwise this one folds
	 * them into a new base (compaction). Not for a collection of format version 1 (its first
	 * checkpoint rewrites every file). An sq8 collection's segments hold floats (segment_build). */
	/* a segment without a graph (the first pass of a large log, a bulk load acknowledged before
	 * its index): while the collection takes one more segment */
	if ((flags & VZ_CK_FLAT) && delta_rows + nextra > 0 && c->meta.nsegments < VZ_MAX_SEGMENTS && vz_id_is_set(&c->meta.id))
		return segment_build(c, out_dir, threads, delta_rows, extra, nextra, release_extra, true, m_out, built);
	if (!compact && !flat && !(flags & VZ_CK_COMPACT) && nextra == 0 && c->has_vec && c->has_index && vz_id_is_set(&c->meta.id) &&
	    (delta_rows == 0 || (c->meta.nsegments < VZ_MAX_SEGMENTS && (seg_rows + delta_rows) * 4 <= c->vec.rows)))
		return segment_build(c, out_dir, threads, delta_rows, NULL, 0, false, false, m_out, built);
	/* a new base is written from the rows and the graph of the old one: they must have passed
	 * the check first (a segment is written from the delta alone) */
	if (gate && (rc = gate->wait(gate))) return rc;
	uint64_t n_out = compact ? total - tomb : total;
	bool cosine = c->meta.cfg.metric == VZ_METRIC_COSINE;
	/* sq8 streams the rows (see encode_sq8), and so does a float graph built on codes of one
	 * step (vz_hnsw_build_on_codes: no floats in memory at all); other floats are gathered into
	 * one array, unless they are only the new rows, as they are: then the caller's array is
	 * indexed in place */
	bool sq8 = c->meta.cfg.quantization == VZ_QUANT_SQ8;
	bool on_codes = !sq8 && vz_hnsw_build_on_codes(c->meta.cfg.metric, n_out, dim), stream = sq8 || on_codes;
	bool in_place = !stream && n_out == nextra && !cosine && contiguous(extra, nextra, dim);
	struct row_source src = { .first_new = n_out - nextra, .normalize_new = stream && cosine, .base.on = !c->nseg,
				  .fresh.on = release_extra, .on_codes = on_codes };
	float *vecs = in_place || stream ? NULL : malloc(sizeof(float) * dim * (n_out ? n_out : 1));
	src.row = stream ? malloc(sizeof(float *) * (n_out ? n_out : 1)) : NULL;
	vz_out_row *rows = calloc(n_out ? n_out : 1, sizeof *rows);
	if ((!vecs && !in_place && !stream) || (stream && !src.row) || !rows) {
		free(vecs);
		free(src.row);
		free(rows);
		return vz_fail(VZ_ENOMEM, "out of memory for a checkpoint of %llu rows", (unsigned long long)n_out);
	}
	uint64_t at = 0, live = 0;
	/* the floats of output row `at`: one more pointer when streamed, else copied into vecs */
#define PUT_ROW(v)                                                                       \
	do {                                                                             \
		if (stream) src.row[at] = (v);                                           \
		else if (!in_place) memcpy(vecs + at * dim, (v), sizeof(float) * dim);   \
	} while (0)
	for (uint64_t r = 0; r < n_base; r++) {
		bool dead = vz_coll_skip_base(c, (uint32_t)r);
		if (dead && compact) continue;
		vz_out_row *o = &rows[at];
		const char *pl;
		size_t pll;
		uint64_t local;
		const vz_vectors *layer = vz_coll_layer(c, r, &local);
		const float *v = layer->vectors + local * dim;
		if ((rc = vz_vectors_row(layer, local, &o->id, &o->id_len, &pl, &pll, NULL))) goto out;
		o->payload = pl;
		o->payload_len = pll;
		o->has_payload = pl != NULL;
		o->tombstone = dead;
		live += !dead;
		PUT_ROW(v);
		if (!stream) vz_release_behind(&src.base, v);
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
		if (stream || in_place) continue;
		vz_release_behind(&src.fresh, x->vector);
		if (cosine) vz_coll_unit_length(vecs + at * dim, dim);
	}
#undef PUT_ROW
	src.packed = in_place ? extra[0].vector : vecs;
	vz_meta m = new_base_meta(c, n_out, live);
	m.wal_seq = last_committed_seq(c);
	m.nsegments = 0;
	/* a collection of format version 1 gets its identity now, with every file rewritten */
	if (!vz_id_is_set(&m.id) && (rc = upgrade_terms(c->dir, &m.id))) goto out;
	m.terms_saves = terms_saves(c->dir, &m);
	if (n_out > 0) {
		rc = write_data_files(out_dir, &c->meta.cfg, &m.id, m.generation, &src, rows, n_out,
				      compact || !c->has_index ? NULL : &c->index, compact ? kept_base : c->vec.rows, threads, &m.vectors, &m.index, 0);
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

/* Removes what a checkpoint built (m) and did not commit: its segment, or its NAME.new files. */
static void drop_built(const vz_collection *c, const vz_meta *m)
{
	static const char *const names[2] = { "vectors.bin.new", "index.hnsw.new" };
	char p[VZ_PATH_MAX];
	vz_coll_remove_unlisted_segments(c->dir, &c->meta);
	for (int i = 0; i < 2 && m->base_generation == m->generation; i++)
		if (!vz_path_fmt(p, sizeof p, "%s/%s", c->dir, names[i])) vz_io_unlink(p, true);
}

/* A checkpoint under the exclusive lock the caller holds (bulk loads, recover, and programs
 * that call vz_collection_checkpoint): build, the next (empty) log, commit, reload. */
static int checkpoint_with(vz_collection *c, int threads, unsigned flags, const vz_write *extra, size_t nextra, bool release_extra,
			   vz_ck_gate *gate)
{
	if (!(c->flags & VZ_OPEN_WRITE)) return vz_fail(VZ_EINTERNAL, "checkpoint needs the collection open for writing");
	vz_meta m;
	bool built;
	int rc = checkpoint_build(c, c->dir, threads, flags, extra, nextra, release_extra, gate, &m, &built);
	if (rc || !built) return rc;
	if (gate && (rc = gate->wait(gate))) {
		drop_built(c, &m);
		return rc;
	}
	if (c->has_wal) {
		/* the next log, empty, starting after the folded records: written before the commit,
		 * put in place by it, and named in metadata.json (salt, first sequence number) */
		char wal[VZ_PATH_MAX];
		m.has_wal_start = true;
		m.wal_salt = vz_random_u64();
		m.wal_first_seq = c->writer.next_seq;
		if ((rc = vz_path_fmt(wal, sizeof wal, "%s/wal.log.new", c->dir)) ||
		    (rc = vz_wal_reset(wal, &m.id, m.generation, m.wal_salt, m.wal_first_seq, NULL)))
			return rc;
	}
	if ((rc = commit_checkpoint(c->dir, &m))) return rc;
	/* reload from the new files: the delta is now folded */
	vz_coll_unload(c);
	c->wal_corrupt = false;
	c->warning[0] = '\0';
	return vz_coll_load(c, VZ_WAL_SCAN_STOP, false);
}

int vz_coll_checkpoint_with(vz_collection *c, int threads, unsigned flags, const vz_write *extra, size_t nextra, bool release_extra)
{
	return checkpoint_with(c, threads, flags, extra, nextra, release_extra, NULL);
}

int vz_coll_checkpoint_gated(vz_collection *c, int threads, unsigned flags, vz_ck_gate *gate)
{
	return checkpoint_with(c, threads, flags, NULL, 0, false, gate);
}

int vz_collection_checkpoint(vz_collection *c, int threads, bool force)
{
	vz_lock ck = VZ_LOCK_INIT;
	int rc = vz_coll_checkpoint_lock(c->dir, 0, &ck);
	if (!rc) rc = vz_coll_checkpoint_with(c, threads, force ? VZ_CK_FORCE | VZ_CK_COMPACT : 0, NULL, 0, false);
	vz_lock_release(&ck);
	return rc;
}

/* ---- checkpoints that stop no one ---- */

/* Moves the staged NAME.new files of a checkpoint from stage into dir, where commit_checkpoint
 * takes them (renames within one file system; the directory fsync follows in the commit). */
static int adopt_staged(const char *stage, const char *dir, const vz_meta *m)
{
	static const char *const names[2] = { "vectors.bin.new", "index.hnsw.new" };
	bool base = m->base_generation == m->generation;
	bool seg = m->nsegments && m->segments[m->nsegments - 1].generation == m->generation;
	for (int i = 0; i < 2 && (base ? m->rows > 0 : seg); i++) {
		if (!base && i && !m->segments[m->nsegments - 1].index.present) break;
		char from[VZ_PATH_MAX], to[VZ_PATH_MAX], segname[64];
		if (!base) vz_segment_name(m->generation, i, segname, sizeof segname);
		int rc = vz_path_fmt(from, sizeof from, "%s/%s", stage, base ? names[i] : segname);
		if (!rc && !base) rc = vz_path_fmt(to, sizeof to, "%s/%s", dir, segname);
		if (!rc && !base) rc = vz_io_rename(from, to);
		if (rc) return rc;
		if (!base) continue;
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
	char wal[VZ_PATH_MAX], walnew[VZ_PATH_MAX];
	int rc = vz_meta_read(dir, &cur);
	if (rc) return rc;
	uint64_t gen = cur.generation, rows = cur.rows, base_gen = cur.base_generation;
	bool wal_start = cur.has_wal_start;
	vz_meta_free(&cur);
	if (gen != snap_gen)
		return vz_fail(VZ_EBUSY, "%s: the collection changed during the checkpoint (generation %llu, the checkpoint started at %llu); nothing was switched",
			       dir, (unsigned long long)gen, (unsigned long long)snap_gen);
	/* an in-lock checkpoint interrupted after its commit may have left the committed files under
	 * NAME.new, the names the staged files and the new log are about to take: put them in place */
	if (rows > 0 &&
	    ((rc = vz_settle_data_file(dir, "vectors.bin", VZ_MAGIC_VECTORS, base_gen, true, wal, sizeof wal)) ||
	     (rc = vz_settle_data_file(dir, "index.hnsw", VZ_MAGIC_INDEX, base_gen, true, wal, sizeof wal))))
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
	size_t first = 0, end = 0, pos = 0;
	while (first < w.n && w.entries[first].seq <= built->wal_seq) first++;
	vz_wal_txn t;
	while (vz_wal_next_txn(&w, built->wal_seq, &pos, &t))
		if (t.end < w.n && !t.ended_by_begin) end = t.end + 1;
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

/* The deferred graph of the workspace collection *cp (open for reading under the shared lock,
 * the checkpoint lock held): built from the mapped vectors.bin without the collection's lock
 * (a build may go on meanwhile), written to the stage, then under the exclusive lock, when the
 * collection is still of the generation it was built for and has no graph, renamed to
 * index.hnsw and named in metadata.json (the commit point). The generation stays, so that
 * postings.bin and cache.bin remain those of the snapshot; an index.hnsw that a crash left
 * unnamed is ignored by readers and replaced here. A build that committed another snapshot
 * meanwhile: its graph is built again, at most three times, then VZ_EBUSY. */
static int workspace_graph(const char *dir, const char *stage, vz_collection **cp, int threads, int lock_timeout_ms,
			   vz_checkpoint_report *rep)
{
	int rc = VZ_OK;
	for (int pass = 0; pass < 3; pass++) {
		vz_collection *c = *cp;
		if (pass) {
			vz_collection_close(c);
			*cp = c = NULL;
			if ((rc = vz_coll_open_in(dir, VZ_OPEN_READ, lock_timeout_ms, VZ_WAL_SCAN_STOP, false, cp))) return rc;
			c = *cp;
			if (!c->meta.workspace || c->meta.rows == 0 || c->meta.index.present) return VZ_OK; /* done by another */
		}
		vz_lock_release(&c->lock);
		const vz_config *cfg = &c->meta.cfg;
		uint64_t gen = c->meta.generation, n = c->meta.rows;
		char staged[VZ_PATH_MAX], ipath[VZ_PATH_MAX];
		vz_hnsw_params p = { .m = cfg->m, .ef_construction = cfg->ef_construction, .seed = 42, .sq8 = false };
		vz_hnsw_builder *b = NULL;
		vz_file_sum isum = { 0 };
		if ((rc = vz_io_remove_tree(stage)) || (rc = vz_io_mkdir(stage, 0755, false)) ||
		    (rc = vz_path_fmt(staged, sizeof staged, "%s/index.hnsw", stage)) || (rc = vz_path_fmt(ipath, sizeof ipath, "%s/index.hnsw", dir)))
			return rc;
		rc = vz_hnsw_builder_new(cfg->dim, cfg->metric, &p, c->vec.vectors, n, &b);
		if (!rc) rc = vz_hnsw_builder_add(b, 0, n, threads);
		if (!rc) rc = vz_coll_write_graph_file(b, staged, &c->meta.id, gen, &isum);
		vz_hnsw_builder_free(b);
		if (rc) return rc;
		vz_lock lk = VZ_LOCK_INIT;
		if ((rc = vz_collection_lock(dir, VZ_LOCK_EXCLUSIVE, lock_timeout_ms, &lk))) return rc;
		double t0 = vz_coll_wall_now();
		vz_meta m;
		bool again = false;
		if ((rc = vz_meta_read(dir, &m))) {
			vz_lock_release(&lk);
			return rc;
		}
		if (m.generation != gen || m.rows != n || m.index.present) {
			again = !m.index.present && m.rows > 0; /* another snapshot, still without a graph */
		} else {
			m.index = isum;
			if (!(rc = vz_io_rename(staged, ipath)) && !(rc = vz_io_fsync_dir(dir))) rc = vz_meta_write(dir, &m);
			if (!rc) {
				rep->checkpointed = true;
				rep->generation = gen;
				rep->rows = m.rows;
				rep->live = m.live;
			}
		}
		vz_meta_free(&m);
		rep->seconds_locked += vz_coll_wall_now() - t0;
		vz_lock_release(&lk);
		if (rc || !again) return rc;
	}
	return vz_fail(VZ_EBUSY, "%s: builds kept replacing the snapshot whose graph was being built; nothing was switched", dir);
}

int vz_checkpoint_dir(const char *dir, unsigned flags, int threads, int lock_timeout_ms, vz_checkpoint_report *rep)
{
	vz_checkpoint_report local;
	if (!rep) rep = &local;
	memset(rep, 0, sizeof *rep);
	threads = default_threads(threads);
	vz_lock ck = VZ_LOCK_INIT;
	int rc = vz_coll_check_dir(dir);
	if (!rc && (flags & VZ_CHECKPOINT_IF_NEEDED) && !(flags & VZ_CHECKPOINT_WAIT) && !vz_coll_try_checkpoint_lock(dir, &ck))
		return VZ_OK; /* one is running: it does what is needed */
	if (!rc && ck.fd < 0) rc = vz_coll_checkpoint_lock(dir, (flags & VZ_CHECKPOINT_WAIT) ? INT_MAX / 2 : lock_timeout_ms, &ck);
	if (rc) return rc;
	char stage[VZ_PATH_MAX] = "";
	vz_collection *c = NULL;
	if ((rc = vz_path_fmt(stage, sizeof stage, "%s/.vztmp.checkpoint", dir))) goto out;
	/* a checkpointer that died left its staging behind: we hold the checkpoint lock, it is ours */
	if ((rc = vz_io_remove_tree(stage))) goto out;
	/* the snapshot: the checkpoint files and the WAL as they are now, read under the shared
	 * lock; then the lock goes and writers append while the index is built */
	if ((rc = vz_coll_open_in(dir, VZ_OPEN_READ, lock_timeout_ms, VZ_WAL_SCAN_STOP, false, &c))) {
		/* a drop that was interrupted: opening for writing finishes it (and says so) */
		if (rc == VZ_ENOENT && !vz_coll_open_in(dir, VZ_OPEN_WRITE, lock_timeout_ms, VZ_WAL_SCAN_STOP, false, &c)) rc = VZ_OK;
		if (rc) goto out;
		rc = vz_fail(VZ_EINTERNAL, "%s: could not be opened for reading, but could for writing", dir);
		goto out;
	}
	if (c->meta.workspace) {
		/* the one thing a checkpoint does for a workspace collection: the graph a build left
		 * to it; with one, nothing is due (an explicit checkpoint is refused, as ever) */
		if (c->meta.rows > 0 && !c->meta.index.present) rc = workspace_graph(dir, stage, &c, threads, lock_timeout_ms, rep);
		else if (!(flags & (VZ_CHECKPOINT_IF_NEEDED | VZ_CHECKPOINT_WAIT)))
			rc = vz_fail(VZ_EPERM, "%s: a workspace collection: vz build rebuilds it, there is no WAL to fold", dir);
		goto out;
	}
	rep->operations = c->wal_ops;
	if ((flags & VZ_CHECKPOINT_IF_NEEDED) && !vz_collection_checkpoint_due(c)) goto out;
	if (!vz_id_is_set(&c->meta.id)) {
		/* format version 1: this checkpoint gives the collection its identity and rewrites
		 * terms.bin with it, which only a holder of the exclusive lock may do (once) */
		vz_collection_close(c);
		if ((rc = vz_coll_open_in(dir, VZ_OPEN_WRITE, lock_timeout_ms, VZ_WAL_SCAN_STOP, false, &c))) goto out;
		rep->operations = c->wal_ops;
		if ((rc = vz_coll_checkpoint_with(c, threads, VZ_CK_FORCE | VZ_CK_COMPACT, NULL, 0, false))) goto out;
		rep->checkpointed = true;
		rep->generation = c->meta.generation;
		rep->rows = c->meta.rows;
		rep->live = c->meta.live;
		goto out;
	}
	/* A large log is folded in two passes: first into a segment without a graph (the rows
	 * written out, well under a second), so that the log is short again and readers map the
	 * rows instead of replaying them; then the index, by the compaction that a segment without
	 * a graph calls for (see checkpoint_build). */
	unsigned ckflags = flags & VZ_CHECKPOINT_FORCE ? VZ_CK_FORCE | VZ_CK_COMPACT : 0;
	if (!ckflags && c->meta.nsegments < VZ_MAX_SEGMENTS && c->nd >= VZ_FLAT_SEGMENT_ROWS)
		ckflags = VZ_CK_FLAT;
	for (int pass = 0; pass < 2; pass++) {
		if (pass) {
			/* the second pass: a new snapshot (writers went on meanwhile) */
			vz_collection_close(c);
			c = NULL;
			if ((rc = vz_io_remove_tree(stage)) || (rc = vz_coll_open_in(dir, VZ_OPEN_READ, lock_timeout_ms, VZ_WAL_SCAN_STOP, false, &c))) goto out;
			ckflags = 0;
		}
		vz_lock_release(&c->lock);
		uint64_t snap_gen = c->meta.generation;
		if ((rc = vz_io_mkdir(stage, 0755, false))) goto out;
		vz_meta m;
		bool built;
		/* what the snapshot holds live: the checkpoint's too, whether it writes a base or a segment */
		vz_collection_stats snap;
		vz_collection_stats_get(c, &snap);
		rc = checkpoint_build(c, stage, threads, ckflags, NULL, 0, false, NULL, &m, &built);
		if (rc || !built) goto out;
		vz_lock lk = VZ_LOCK_INIT;
		if ((rc = vz_collection_lock(dir, VZ_LOCK_EXCLUSIVE, lock_timeout_ms, &lk))) goto out;
		double t0 = vz_coll_wall_now();
		rc = checkpoint_switch(dir, stage, snap_gen, &m, &rep->kept_records);
		rep->seconds_locked += vz_coll_wall_now() - t0;
		vz_lock_release(&lk);
		if (rc) goto out;
		rep->checkpointed = true;
		rep->generation = m.generation;
		rep->rows = m.rows;
		for (uint32_t i = 0; i < m.nsegments; i++) rep->rows += m.segments[i].rows;
		rep->live = snap.live;
		if (!(ckflags & VZ_CK_FLAT)) break;
	}
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
				 uint64_t generation, const char *extra_json, bool defer_graph)
{
	return vz_collection_write_snapshot_then(dir, cfg, in, n, threads, generation, extra_json, defer_graph, NULL, NULL);
}

int vz_collection_write_snapshot_then(const char *dir, const vz_config *cfg, const vz_row *in, size_t n, int threads,
				      uint64_t generation, const char *extra_json, bool defer_graph, int (*before_commit)(void *ctx),
				      void *ctx)
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
		if (!rc && cfg->metric == VZ_METRIC_COSINE && vz_coll_unit_length(vecs + i * dim, dim))
			memset(vecs + i * dim, 0, sizeof(float) * dim); /* an empty text: kept, never close to anything */
		rows[i] = (vz_out_row){ in[i].id, in[i].id_len, in[i].payload, in[i].payload_len, in[i].payload != NULL, false };
	}
	vz_meta m = { .cfg = *cfg, .workspace = true, .generation = generation, .rows = n, .live = n,
		      .created = vz_coll_unix_now(), .checkpoint_time = vz_coll_unix_now() };
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
	m.base_generation = generation;
	if (!rc && n)
		rc = write_data_files(dir, cfg, &m.id, generation, &src, rows, n, NULL, 0, default_threads(threads), &m.vectors,
				      defer_graph ? NULL : &m.index, 0);
	if (!rc && before_commit) rc = before_commit(ctx);
	if (!rc) rc = commit_checkpoint(dir, &m);
	if (!rc) {
		char lock[VZ_PATH_MAX];
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

/* add[] sorted by id, for the lookup of a dead row's id among the rows that replace it */
static int row_id_cmp(const void *a, const void *b)
{
	const vz_row *x = *(const vz_row *const *)a, *y = *(const vz_row *const *)b;
	int c = memcmp(x->id, y->id, x->id_len < y->id_len ? x->id_len : y->id_len);
	return c ? c : (x->id_len > y->id_len) - (x->id_len < y->id_len);
}

static bool row_id_among(const vz_row *const *sorted, size_t n, const char *id, size_t len)
{
	vz_row key = { .id = id, .id_len = len };
	const vz_row *k = &key;
	return bsearch(&k, sorted, n, sizeof *sorted, row_id_cmp) != NULL;
}

/* A workspace collection's segments folded into a new base, with add[] after them: every row
 * of the sequence (the base's, then each segment's) keeps its number, those dead or numbered in
 * dead[] as tombstones, and the base's graph is extended by the rows after it, not built again
 * (so the rows that cache.bin names stay where they are). The caller holds the exclusive lock. */
static int fold_segments(struct vz_collection *c, const uint64_t *dead, size_t n_dead, const vz_row *add, size_t n_add, int threads,
			 const char *extra_json)
{
	uint32_t dim = c->meta.cfg.dim;
	uint64_t n_base = c->meta.rows, n_old = c->nrows, n_out = n_old + n_add, live = 0;
	float *vecs = malloc(sizeof(float) * dim * n_out);
	vz_out_row *rows = calloc(n_out, sizeof *rows);
	int rc = vecs && rows ? VZ_OK : vz_fail(VZ_ENOMEM, "out of memory for %llu rows", (unsigned long long)n_out);
	for (uint64_t r = 0; r < n_old && !rc; r++) {
		vz_out_row *o = &rows[r];
		uint64_t local;
		const vz_vectors *v = vz_coll_layer(c, r, &local);
		const char *pl;
		size_t pll;
		if ((rc = vz_vectors_row(v, local, &o->id, &o->id_len, &pl, &pll, NULL))) break;
		o->payload = pl;
		o->payload_len = pll;
		o->has_payload = pl != NULL;
		o->tombstone = r < n_base ? vz_coll_skip_base(c, (uint32_t)r) || vz_coll_row_dead(c, r) : vz_coll_row_dead(c, r);
		memcpy(vecs + r * dim, vz_coll_row_vector(c, r), sizeof(float) * dim);
	}
	for (size_t i = 0; i < n_dead && !rc; i++) {
		if (dead[i] >= n_old) rc = vz_fail(VZ_EINVAL, "row %llu is not one of the %llu rows", (unsigned long long)dead[i], (unsigned long long)n_old);
		else rows[dead[i]].tombstone = true;
	}
	for (size_t i = 0; i < n_add && !rc; i++) {
		uint64_t at = n_old + i;
		rows[at] = (vz_out_row){ add[i].id, add[i].id_len, add[i].payload, add[i].payload_len, add[i].payload != NULL, false };
		memcpy(vecs + at * dim, add[i].vector, sizeof(float) * dim);
		if (c->meta.cfg.metric == VZ_METRIC_COSINE && vz_coll_unit_length(vecs + at * dim, dim))
			memset(vecs + at * dim, 0, sizeof(float) * dim); /* an empty text, as in a full snapshot */
	}
	for (uint64_t r = 0; r < n_out && !rc; r++) live += !rows[r].tombstone;
	vz_meta m = { 0 };
	char *extra = NULL;
	if (!rc) {
		m = new_base_meta(c, n_out, live);
		m.nsegments = 0; /* folded: metadata.json lists none, the commit removes their files */
		if (extra_json && !(extra = strdup(extra_json))) rc = vz_fail(VZ_ENOMEM, "out of memory");
		m.extra_json = extra ? extra : c->meta.extra_json;
	}
	struct row_source src = { .packed = vecs, .first_new = n_out };
	if (!rc)
		rc = write_data_files(c->dir, &m.cfg, &m.id, m.generation, &src, rows, n_out, &c->index, n_base, default_threads(threads), &m.vectors,
				      &m.index, 0);
	if (!rc) rc = commit_checkpoint(c->dir, &m);
	free(extra);
	free(vecs);
	free(rows);
	return rc;
}

/* The next snapshot of a workspace collection as one more segment beside the base and the
 * segments it has (coll_segment.c), none of which is rewritten: seg-G.vec holds the rows of
 * add[], then a tombstone row for each row of dead[] whose id no row of add[] takes over (a
 * row of a segment replaces the live row of its id before it); seg-G.hnsw a graph over those
 * rows alone. The caller holds the exclusive lock. */
int vz_collection_extend_snapshot(const char *dir, const uint64_t *dead, size_t n_dead, const vz_row *add, size_t n_add,
				  int threads, const char *extra_json, uint64_t *first_new)
{
	struct vz_collection *c;
	int rc = vz_coll_new(dir, VZ_OPEN_WRITE, &c);
	if (rc) return rc;
	rc = vz_coll_load(c, VZ_WAL_SCAN_STOP, false);
	if (!rc && (!c->meta.workspace || !c->has_vec || !c->has_index || c->meta.cfg.quantization == VZ_QUANT_SQ8))
		rc = vz_fail(VZ_EINVAL, "%s: no graph of plain vectors to extend", dir);
	/* damage must not stay behind a segment unseen: the rows and graphs kept are checked whole
	 * (a hash of what is mapped, no write), and a damaged one makes the caller write it all */
	if (!rc) rc = vz_collection_check_rows(c);
	for (uint32_t i = 0; i <= c->nseg && !rc; i++) {
		const vz_map *map = i ? &c->seg[i - 1].index_map : &c->index_map;
		vz_file_header ih;
		char name[64] = "index.hnsw";
		if (i) vz_segment_name(c->meta.segments[i - 1].generation, true, name, sizeof name);
		if (i && !c->seg[i - 1].has_index) continue;
		if (vz_header_decode(map->data, map->size, VZ_MAGIC_INDEX, 2, &ih) ||
		    vz_hash64(map->data + VZ_HEADER_SIZE, map->size - VZ_HEADER_SIZE) != ih.body_checksum ||
		    (!i && ih.body_checksum != c->meta.index.body_checksum))
			rc = vz_fail(VZ_ECORRUPT, "%s/%s: body checksum mismatch", dir, name);
	}
	if (!rc && c->meta.nsegments >= VZ_MAX_SEGMENTS) {
		/* as many segments as there may be: this one goes into the base with them */
		rc = fold_segments(c, dead, n_dead, add, n_add, threads, extra_json);
		if (!rc && first_new) *first_new = c->nrows;
		vz_coll_unload(c);
		free(c);
		return rc;
	}
	uint32_t dim = c->meta.cfg.dim;
	const vz_row **sorted = NULL;
	vz_out_row *rows = NULL;
	float *vecs = NULL;
	uint64_t total = n_add;
	if (!rc && (!(sorted = malloc((n_add ? n_add : 1) * sizeof *sorted)) || !(rows = calloc(n_add + n_dead + 1, sizeof *rows))))
		rc = vz_fail(VZ_ENOMEM, "out of memory");
	for (size_t i = 0; i < n_add && !rc; i++) {
		if (add[i].id_len == 0 || add[i].id_len > VZ_MAX_ID_LEN) rc = vz_fail(VZ_EDATA, "row %zu: bad id length", i);
		sorted[i] = &add[i];
		rows[i] = (vz_out_row){ add[i].id, add[i].id_len, add[i].payload, add[i].payload_len, add[i].payload != NULL, false };
	}
	if (!rc) qsort(sorted, n_add, sizeof *sorted, row_id_cmp);
	for (size_t i = 0; i < n_dead && !rc; i++) {
		uint64_t local;
		const char *id;
		size_t len;
		if (dead[i] >= c->nrows) {
			rc = vz_fail(VZ_EINVAL, "row %llu is not one of the %llu rows", (unsigned long long)dead[i], (unsigned long long)c->nrows);
			break;
		}
		if (vz_coll_row_dead(c, dead[i])) continue;
		const vz_vectors *v = vz_coll_layer(c, dead[i], &local);
		if ((rc = vz_vectors_row(v, local, &id, &len, NULL, NULL, NULL))) break;
		if (!row_id_among(sorted, n_add, id, len)) rows[total++] = (vz_out_row){ id, len, NULL, 0, false, true };
	}
	if (!rc && total && !(vecs = calloc((size_t)total * dim, sizeof(float)))) rc = vz_fail(VZ_ENOMEM, "out of memory for %llu rows", (unsigned long long)total);
	for (size_t i = 0; i < n_add && !rc; i++) {
		memcpy(vecs + i * dim, add[i].vector, sizeof(float) * dim);
		if (c->meta.cfg.metric == VZ_METRIC_COSINE && vz_coll_unit_length(vecs + i * dim, dim))
			memset(vecs + i * dim, 0, sizeof(float) * dim); /* an empty text, as in a full snapshot */
	}
	vz_meta m = c->meta;
	m.extra_json = NULL;
	char *extra = NULL;
	if (!rc) {
		m.generation = c->meta.generation + 1;
		m.checkpoint_time = vz_coll_unix_now();
		if (extra_json && !(extra = strdup(extra_json))) rc = vz_fail(VZ_ENOMEM, "out of memory");
		m.extra_json = extra ? extra : c->meta.extra_json;
	}
	if (!rc && total) {
		vz_segment_sum *g = &m.segments[m.nsegments++];
		memset(g, 0, sizeof *g);
		g->generation = m.generation;
		g->rows = total;
		g->live = n_add;
		struct row_source src = { .packed = vecs, .first_new = total };
		rc = write_data_files(dir, &m.cfg, &m.id, m.generation, &src, rows, total, NULL, 0, default_threads(threads), &g->vectors,
				      &g->index, m.generation);
	}
	if (!rc) rc = commit_checkpoint(dir, &m);
	/* not committed: its files are left to the next writer's open, which removes segments that
	 * metadata.json does not list (that file may be the new one after a failed put-back) */
	if (!rc && first_new) *first_new = c->nrows;
	free(extra);
	free(vecs);
	free(rows);
	free(sorted);
	vz_coll_unload(c);
	free(c);
	return rc;
}
