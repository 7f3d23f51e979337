/* coll_query.c: reading an open collection: k nearest neighbours (the index merged with the
 * delta), get, foreach, stats, and when a checkpoint is due. Split from collection.c, whose
 * struct it reads through collection_internal.h. */
#include "collection_internal.h"

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

/* ---- reading ---- */

/* Ids of results read with pread (struct vz_id_copy), VZ_IDS_READ_MAX bytes in all; past that,
 * results point into the mapping again. */
#define VZ_IDS_READ_MAX ((size_t)1 << 20)
static pthread_mutex_t ids_read_lock = PTHREAD_MUTEX_INITIALIZER; /* batches fill results on several threads */

/* len bytes of c's copies for an id, or NULL (none left or out of memory) */
static char *ids_read_take(struct vz_collection *c, size_t len)
{
	char *p = NULL;
	pthread_mutex_lock(&ids_read_lock);
	struct vz_id_copy *b = c->ids_read;
	if ((!b || b->used + len > sizeof b->data) && len <= sizeof b->data && c->ids_read_bytes + sizeof *b <= VZ_IDS_READ_MAX &&
	    (b = malloc(sizeof *b))) {
		b->next = c->ids_read;
		b->used = 0;
		c->ids_read = b;
		c->ids_read_bytes += sizeof *b;
	}
	if (b && b->used + len <= sizeof b->data) {
		p = b->data + b->used;
		b->used += len;
	}
	pthread_mutex_unlock(&ids_read_lock);
	return p;
}

/* Reads len bytes of vectors.bin at offset at into dst (the graph's pread descriptor); the
 * error, naming file and offset, as the graph's reads name theirs, when it cannot. */
static int read_vec_bytes(const struct vz_collection *c, void *dst, size_t len, uint64_t at)
{
	ssize_t got = pread(c->index.read_vec_fd, dst, len, (off_t)at);
	if (got == (ssize_t)len) return VZ_OK;
	return vz_fail(got < 0 ? vz_err_from_errno(errno) : VZ_ECORRUPT, "vectors.bin: reading at offset %llu: %s", (unsigned long long)at,
		       got < 0 ? strerror(errno) : "the file is shorter than when it was opened");
}

/* A base row's id (of a row without payload) read with pread while the graph is (by_read),
 * its record and id copied: a page fault each through the mapping, some 10 us at 10M x 128
 * (-k 50 against -k 1 at ef 64: 76 faults and 0.8 ms of CPU more, at load 8). NOT_READ, r
 * untouched, when it is not read so (the mapped row then answers, or fails as it does); the
 * error of a read that fails (the file cut short: the mapping is not touched). */
#define NOT_READ 1 /* (error codes are negative) */
static int read_base_id(struct vz_collection *c, uint64_t row, vz_result *r)
{
	const vz_vectors *v = &c->vec;
	unsigned char rec[VZ_ROWINFO_SIZE];
	vz_rowinfo ri;
	if (!c->index.by_read || row >= v->rows) return NOT_READ;
	int rc = read_vec_bytes(c, rec, sizeof rec, (uint64_t)(v->rowinfo - v->map.data) + row * VZ_ROWINFO_SIZE);
	if (rc) return rc;
	if (vz_vectors_rowinfo(v, row, rec, &ri) || (ri.flags & VZ_ROW_HAS_PAYLOAD)) return NOT_READ;
	char *id = ids_read_take(c, ri.id_len);
	if (!id) return NOT_READ;
	if ((rc = read_vec_bytes(c, id, ri.id_len, (uint64_t)(v->heap - v->map.data) + ri.id_off))) return rc;
	r->id = id;
	r->id_len = ri.id_len;
	return VZ_OK;
}

/* r for base row (of the row space), its id read with pread when read is set and the graph
 * is read so (a query's results); an error only from a read that fails (read_base_id) */
static int fill_base_result(struct vz_collection *c, uint32_t row, float dist, bool read, vz_result *r)
{
	memset(r, 0, sizeof *r);
	uint64_t local;
	const vz_vectors *v = vz_coll_layer(c, row, &local);
	int rc = read && v == &c->vec ? read_base_id(c, local, r) : NOT_READ;
	if (rc < 0) return rc;
	if (rc == NOT_READ) vz_vectors_row(v, local, &r->id, &r->id_len, &r->payload, &r->payload_len, NULL);
	r->distance = dist;
	r->score = vz_score(c->meta.cfg.metric, dist);
	return VZ_OK;
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

/* The skip of a segment's own search: its rows are numbered from 0, the row space's from first;
 * w, when a filter is given, skips the rows that fail it too. */
struct seg_skip { const struct vz_collection *c; struct vz_coll_where *w; uint64_t first; };

static bool skip_segment_row(void *ctx, uint32_t row)
{
	const struct seg_skip *s = ctx;
	uint32_t r = (uint32_t)(s->first + row);
	return s->w ? vz_coll_skip_where(s->w, r) : vz_coll_skip_base((void *)s->c, r);
}

/* The k best of two lists sorted by distance into out (a first on ties), b's rows moved by
 * b_first into row space; returns how many. */
static size_t merge_hits(const vz_hit *a, size_t na, const vz_hit *b, size_t nb, uint32_t b_first, size_t k, vz_hit *out)
{
	size_t i = 0, j = 0, n = 0;
	while (n < k && (i < na || j < nb)) {
		if (j >= nb || (i < na && a[i].distance <= b[j].distance)) out[n++] = a[i++];
		else {
			out[n] = b[j++];
			out[n++].row += b_first;
		}
	}
	return n;
}

/* An exact scan of rows [from, to) of a segment's vectors, nothing skipped (one half of scan_flat) */
struct half_scan {
	const float *vectors, *q;
	size_t from, to, k;
	uint32_t dim;
	enum vz_metric metric;
	vz_hit *hits;
	size_t n;
	int rc;
};

static void *half_scan_run(void *arg)
{
	struct half_scan *h = arg;
	h->rc = vz_exact_search(h->vectors + h->from * h->dim, h->to - h->from, h->dim, h->metric, h->q, h->k, NULL, NULL, h->hits, &h->n);
	for (size_t i = 0; !h->rc && i < h->n; i++) h->hits[i].row += (uint32_t)h->from;
	return NULL;
}

/* The exact scan of a segment without a graph (a large load before its index is built: 100k x
 * 128 floats are 51 MB, read at memory speed) in two halves on two threads when there is nothing
 * to skip and it is large (skip functions may keep memos: they are not called from threads);
 * else one vz_exact_search. out: the k best, sorted. */
static int scan_flat(const vz_vectors *v, uint32_t dim, enum vz_metric metric, const float *q, size_t k, bool (*skip)(void *, uint32_t),
		     void *ctx, vz_hit *out, size_t *nout)
{
	static const size_t min_floats = 1u << 20; /* 4 MiB: below it a thread costs more than it saves */
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	if (skip || cores < 2 || v->rows * dim < min_floats) return vz_exact_search(v->vectors, v->rows, dim, metric, q, k, skip, ctx, out, nout);
	struct half_scan h[2];
	size_t mid = v->rows / 2;
	for (int i = 0; i < 2; i++) h[i] = (struct half_scan){ v->vectors, q, i ? mid : 0, i ? v->rows : mid, k, dim, metric, NULL, 0, VZ_OK };
	h[0].hits = malloc(sizeof(vz_hit) * k * 2);
	if (!h[0].hits) return vz_fail(VZ_ENOMEM, "out of memory");
	h[1].hits = h[0].hits + k;
	pthread_t t;
	bool threaded = pthread_create(&t, NULL, half_scan_run, &h[1]) == 0;
	half_scan_run(&h[0]);
	if (threaded) pthread_join(t, NULL);
	else half_scan_run(&h[1]);
	int rc = h[0].rc ? h[0].rc : h[1].rc;
	*nout = rc ? 0 : merge_hits(h[0].hits, h[0].n, h[1].hits, h[1].n, 0, k, out);
	free(h[0].hits);
	return rc;
}

/* Searches each segment (its own graph, or exactly when it has none or exact is asked) and
 * merges its k best into hits[0..*nb) (k best of all, by distance), in row-space numbers. */
static int search_segments(const struct vz_collection *c, const float *q, size_t k, size_t ef, struct vz_coll_where *w, bool exact,
			   vz_hit *hits, size_t *nb)
{
	vz_hit *sh = malloc(sizeof(vz_hit) * k * 2);
	if (!sh) return vz_fail(VZ_ENOMEM, "out of memory");
	int rc = VZ_OK;
	for (uint32_t i = 0; i < c->nseg && !rc; i++) {
		const struct coll_segment *s = &c->seg[i];
		struct seg_skip ctx = { c, w, s->first };
		size_t ns = 0;
		/* nothing to skip (no filter, no tombstone in it, no row replaced anywhere): no row-info
		 * lookup per row, a cache miss each in an exact scan */
		const vz_segment_sum *g = &c->meta.segments[i];
		bool (*skip)(void *, uint32_t) = w || c->ndead || c->nsup || g->live != g->rows ? skip_segment_row : NULL;
		if (s->has_index && !exact) rc = vz_hnsw_search(&s->index, s->vec.vectors, q, k, ef, skip, &ctx, sh, &ns);
		else rc = scan_flat(&s->vec, c->meta.cfg.dim, c->meta.cfg.metric, q, k, skip, &ctx, sh, &ns);
		if (!rc) {
			vz_hit *merged = sh + k;
			*nb = merge_hits(hits, *nb, sh, ns, (uint32_t)s->first, k, merged);
			memcpy(hits, merged, *nb * sizeof *hits);
		}
	}
	free(sh);
	return rc;
}

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
	if ((rc = vz_coll_build_superseded(c))) goto out;
	size_t nb = 0;
	/* Without deleted or superseded rows nothing is skipped: no row-info lookup per visited node
	 * (a cache miss each, some 20% of a search). The tombstone count is metadata.json's, which
	 * verify checks against vectors.bin. */
	bool (*skip)(void *, uint32_t) = c->meta.tombstones || c->nsup || c->ndead ? vz_coll_skip_base : NULL;
	void *skip_ctx = c;
	if (!ef) ef = c->meta.cfg.ef_search;
	/* a filter (coll_where.c): rows that fail it are skipped as deleted ones are, inside the
	 * search, or the matching rows are scanned exactly when few match; a segment's rows are
	 * always checked for being dead */
	struct vz_coll_where w = { c, f, skip != NULL }, wseg = { c, f, true };
	if (f && (c->has_vec || c->nseg)) {
		if ((rc = vz_coll_where_prepare(c, &w, ef))) goto out;
		skip = vz_coll_skip_where;
		skip_ctx = &w;
	}
	bool exact = f && c->where.exact;
	if (c->has_vec && c->has_index && !exact) {
		rc = vz_hnsw_search(&c->index, c->vec.vectors, q, k, ef, skip, skip_ctx, hits, &nb);
	} else if (c->has_vec) {
		rc = vz_exact_search(c->vec.vectors, c->vec.rows, dim, c->meta.cfg.metric, q, k, skip, skip_ctx, hits, &nb);
	}
	if (!rc && c->nseg) rc = search_segments(c, q, k, ef, f ? &wseg : NULL, exact, hits, &nb);
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
			if ((rc = fill_base_result(c, hits[i].row, hits[i].distance, true, &out[*n]))) {
				*n = 0;
				goto out;
			}
			++*n;
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

/* path opened for reading when its 64-byte header is the same bytes as map's (generation and
 * body checksum in it), else -1 */
static int open_same(const char *path, const unsigned char *map)
{
	unsigned char h[VZ_HEADER_SIZE];
	/* O_NOATIME: each read would otherwise ask whether the access time is due (some 4% of a
	 * one-shot query's CPU at 10M); refused (EPERM) to one who neither owns the file nor may
	 * act as its owner, who reads without it */
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
	if (fd < 0 && errno == EPERM) fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) return -1;
	if (pread(fd, h, sizeof h, 0) != (ssize_t)sizeof h || memcmp(h, map, sizeof h) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Opens name (the file mapped at map) again for reading, or -1: it must still be the file
 * mapped, its header the same bytes, as a checkpoint may have put a new one in its place
 * since. NAME itself first: with the mapped header it is the file vz_settle_data_file would
 * pick (the committed generation, NAME before NAME.new and NAME.prev), without the four system
 * calls of that look (10M x 128: 8 of the 113 a one-shot query made besides the graph's
 * reads); then that look, for a NAME.new or NAME.prev mapped. */
static int reopen_mapped(const struct vz_collection *c, const char *name, const char *magic, const unsigned char *map)
{
	char path[VZ_PATH_MAX];
	int fd = vz_path_fmt(path, sizeof path, "%s/%s", c->dir, name) ? -1 : open_same(path, map);
	if (fd >= 0) return fd;
	if (vz_settle_data_file(c->dir, name, magic, c->meta.base_generation, false, path, sizeof path)) return -1;
	return open_same(path, map);
}

bool vz_coll_read_by_pread(struct vz_collection *c)
{
	if (c->index.by_read) return true;
	if (!c->has_vec || !c->has_index || (c->index.sq_codes && !c->index.float_codes) || c->index.packed || c->meta.cfg.quantization == VZ_QUANT_SQ8) return false;
	int ifd = reopen_mapped(c, "index.hnsw", VZ_MAGIC_INDEX, c->index_map.data);
	int vfd = ifd < 0 ? -1 : reopen_mapped(c, "vectors.bin", VZ_MAGIC_VECTORS, c->vec.map.data);
	if (vfd < 0) {
		if (ifd >= 0) close(ifd);
		return false;
	}
	c->index.read_index_fd = ifd;
	c->index.read_vec_fd = vfd;
	c->index.read_vec_base = c->vec.map.data;
	c->index.by_read = true;
	return true;
}

void vz_collection_warm(vz_collection *c, size_t nq, size_t ef)
{
	uint64_t rows = c->nseg ? c->nrows : c->has_vec ? c->vec.rows : 0;
	if (!ef) ef = c->meta.cfg.ef_search;
	if (nq >= 1000 && (uint64_t)nq * ef * 16 >= rows) {
		vz_collection_read_done(c);
		vz_collection_preload(c);
		return;
	}
	/* the queries visit under 1/VZ_READ_SPARSE of the base rows of files too large for a
	 * prefault to enter: a read costs less than the fault it saves (10M x 128: 1,000 visits
	 * 7.8 -> 3.3 ms of CPU); smaller files are mostly entered by the prefault (1M x 128, one
	 * query: 140 faults; some 1,080 reads cost 1-1.5 ms more at load 10) */
	bool sparse = (uint64_t)nq * ef * 16 * VZ_READ_SPARSE < (c->has_vec ? c->vec.rows : 0);
	if (sparse && c->index_map.size + c->vec.map.size > VZ_READ_BYTES && vz_coll_read_by_pread(c)) return;
	/* nor when the page cache holds index.hnsw in 4 KiB pages (a copied file, say), which the
	 * prefault leaves after its first 2 MiB, and the visits are scattered enough to fault one
	 * by one: each fault enters the 64 KiB around it, so it takes four times as many 64 KiB
	 * parts of vectors.bin as visits (1M x 128 with codes, one query: 1,048 faults and 5.3 ms
	 * of CPU mapped, about 4 read, at load 10; 100k: 406 faults, no faster read) */
	bool scattered = (uint64_t)nq * ef * 16 * 4 < (c->has_vec ? c->vec.map.size >> 16 : 0);
	if (c->has_index && !vz_map_prefault(&c->index_map) && scattered && vz_coll_read_by_pread(c)) return;
	if (c->has_vec && c->meta.cfg.quantization != VZ_QUANT_SQ8) vz_map_prefault(&c->vec.map);
}

int vz_collection_get(vz_collection *c, const char *id, size_t id_len, vz_result *r, const float **vector)
{
	int64_t at = vz_idmap_find(&c->dmap, id, id_len, vz_coll_delta_eq, c, NULL);
	if (at >= 0) {
		if (c->d[at].deleted) return vz_fail(VZ_ENOENT, "no such id: %.*s", (int)id_len, id);
		fill_delta_result(c, &c->d[at], 0, r);
		if (vector) *vector = c->d[at].vec;
		return VZ_OK;
	}
	int64_t row = vz_coll_base_find(c, id, id_len);
	if (row < 0) return vz_fail(VZ_ENOENT, "no such id: %.*s", (int)id_len, id);
	fill_base_result(c, (uint32_t)row, 0, false, r);
	if (vector) *vector = vz_coll_row_vector(c, (uint64_t)row);
	return VZ_OK;
}

int vz_collection_foreach(vz_collection *c, int (*fn)(void *ctx, const vz_result *r, const float *vector), void *ctx)
{
	int rc = vz_coll_build_superseded(c);
	if (rc) return rc;
	uint32_t dim = c->meta.cfg.dim;
	uint64_t rows = c->nseg ? c->nrows : c->has_vec ? c->vec.rows : 0;
	for (uint64_t row = 0; row < rows; row++) {
		if (vz_coll_skip_base(c, (uint32_t)row)) continue;
		vz_result r;
		fill_base_result(c, (uint32_t)row, 0, false, &r);
		if ((rc = fn(ctx, &r, c->nseg ? vz_coll_row_vector(c, row) : c->vec.vectors + row * dim))) return rc;
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
	for (uint32_t i = 0; i < c->nseg; i++) {
		const vz_vectors *v = &c->seg[i].vec;
		char name[64];
		vz_segment_name(c->meta.segments[i].generation, false, name, sizeof name);
		if (vz_hash64(v->map.data + VZ_HEADER_SIZE, v->map.size - VZ_HEADER_SIZE) != v->header.body_checksum)
			return vz_fail(VZ_ECORRUPT, "%s/%s: body checksum mismatch (bytes 64..end were changed): run vz verify", c->dir, name);
	}
	return VZ_OK;
}

static uint64_t file_size(const char *dir, const char *name)
{
	char p[VZ_PATH_MAX];
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
	int64_t live = (int64_t)c->meta.live - (int64_t)c->ndead;
	st->tombstones += c->ndead;
	for (uint32_t i = 0; i < c->meta.nsegments; i++) {
		const vz_segment_sum *g = &c->meta.segments[i];
		char name[64];
		st->rows += g->rows;
		st->tombstones += g->rows - g->live;
		live += (int64_t)g->live;
		for (int f = 0; f < 2; f++) {
			vz_segment_name(g->generation, f, name, sizeof name);
			st->bytes += file_size(c->dir, name);
		}
	}
	for (size_t i = 0; i < c->nd; i++) {
		bool was = c->d[i].base_row >= 0;
		bool is = !c->d[i].deleted;
		live += (int64_t)is - (int64_t)was;
	}
	st->live = live > 0 ? (uint64_t)live : 0;
	st->wal_ops = c->wal_ops;
	st->wal_bytes = c->has_wal ? c->wal.map.size : 0;
	st->wal_oldest_age = c->oldest_op ? vz_coll_wall_now() - c->oldest_op : 0;
	st->checkpoint_time = c->meta.checkpoint_time;
	st->segments = c->meta.nsegments;
	st->graph_deferred = c->meta.rows > 0 && !c->meta.index.present;
	const char *files[] = { "metadata.json", "vectors.bin", "index.hnsw", "wal.log", "cache.bin", "cache.delta", "postings.bin", "postings.delta" };
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) st->bytes += file_size(c->dir, files[i]);
	st->workspace = c->meta.workspace;
	st->wal_damaged = c->wal_corrupt;
	return VZ_OK;
}

bool vz_collection_checkpoint_due(vz_collection *c)
{
	/* a segment without a graph waits for its index (the second pass of a large log's
	 * checkpoint, or a bulk load acknowledged before it) */
	for (uint32_t i = 0; i < c->meta.nsegments; i++)
		if (!c->meta.segments[i].index.present) return true;
	if (c->wal_ops == 0) return false;
	return c->wal_ops >= c->meta.cfg.checkpoint_ops || vz_coll_wall_now() - c->oldest_op >= c->meta.cfg.checkpoint_seconds;
}

