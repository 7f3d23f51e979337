/* hnsw_internal.h: what the three parts of the HNSW index share - the graph view of a builder
 * or a mapped index, small heaps, the visited set, sq8 distances, one search's state and the
 * builder - so that searching (hnsw_search.c), building (hnsw_build.c) and the file
 * (hnsw_file.c: index.hnsw written, opened and verified) each live in a file of their own. */
#ifndef VZ_HNSW_INTERNAL_H
#define VZ_HNSW_INTERNAL_H

#include "vz.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#define INDEX_VERSION 2
#define LAYOUT_SIZE 128
#define NONE 0xffffffffu
#define MAX_LEVEL 30
#define STRIPES 4096

/* ---- small heaps of (distance, node) ---- */

typedef struct { float d; uint32_t id; } pair;
typedef struct { pair *a; size_t n, cap; } heap;

static inline bool worse(pair x, pair y) { return x.d > y.d || (x.d == y.d && x.id > y.id); }

/* max-heap when max is true (the worst on top), min-heap otherwise */
static inline void heap_push(heap *h, pair p, bool max)
{
	size_t i = h->n++;
	while (i > 0) {
		size_t parent = (i - 1) / 2;
		bool up = max ? worse(p, h->a[parent]) : worse(h->a[parent], p);
		if (!up) break;
		h->a[i] = h->a[parent];
		i = parent;
	}
	h->a[i] = p;
}

static inline pair heap_pop(heap *h, bool max)
{
	pair top = h->a[0], last = h->a[--h->n];
	size_t i = 0, n = h->n;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n) break;
		if (c + 1 < n && (max ? worse(h->a[c + 1], h->a[c]) : worse(h->a[c], h->a[c + 1]))) c++;
		if (max ? !worse(h->a[c], last) : !worse(last, h->a[c])) break;
		h->a[i] = h->a[c];
		i = c;
	}
	if (n) h->a[i] = last;
	return top;
}

static inline int pair_cmp(const void *x, const void *y)
{
	const pair *a = x, *b = y;
	return worse(*a, *b) ? 1 : worse(*b, *a) ? -1 : 0;
}

/* ---- a graph view shared by the builder and the mapped index ---- */

struct graph {
	uint32_t n, dim, m, m0, max_level, ep;
	enum vz_metric metric;
	const float *vectors;
	const uint8_t *levels;
	uint32_t *links0;
	size_t vstride, lstride;      /* floats between vectors, u32 between layer-0 link blocks */
	vz_kernel kernel;             /* vz_kernel_for(metric) */
	uint32_t **upper_ptrs;        /* builder: per node, NULL when level 0 */
	const uint32_t *upper_index;  /* mapped */
	const uint32_t *upper;
	uint64_t upper_len;
	const float *sq_min, *sq_step; /* sq8 */
	const uint8_t *sq_codes;
	vz_u8_kernel u8;              /* builder on codes of one step: code against code (sq_codes) */
	const uint16_t *h16;          /* packed in half precision: rows hstride u16 apart, read with hkernel */
	size_t hstride;
	vz_h16_kernel hkernel;
	struct hnsw_reader *rd;       /* a mapped index read with pread (vz_hnsw_index.by_read), else NULL */
};

/* One search's reads of a mapped index by pread (vz_hnsw_index.by_read): a pointer into a
 * mapping is read at its offset in the file (p - base) instead of being dereferenced, so a
 * few queries on a large index take a system call per node rather than a page fault (and
 * its page-table entries, torn down again at exit): 10M x 128, 1000 scattered rows, 6.7 ms
 * of CPU mapped, 2.1 ms read. err: the first failed read (the search goes on with infinite
 * distances and empty lists, then fails). */
struct hnsw_reader {
	int index_fd, vec_fd;
	const unsigned char *index_base, *vec_base;
	float *vbuf;                  /* dim floats: the vector (or a float graph's codes) last read */
	/* the upper lists of levels 1..up_levels of node up_node (NONE: none), read in one block:
	 * the descent reads a node's list on each level it passes on it (10M x 128: 13 lists of 8
	 * nodes, each with its upper_index entry: 26 reads, now 15); NULL when out of memory */
	uint32_t *up, up_node, up_levels;
	int err, err_errno;
	const char *err_file;
	uint64_t err_off;
};
/* Reads len bytes at p, a pointer into the mapping that starts at base, from fd (the file
 * mapped there) into dst; false, with rd->err set on the first failure, when it could not. */
static inline bool reader_get(struct hnsw_reader *rd, int fd, const unsigned char *base, const char *file, const void *p, void *dst,
		       size_t len)
{
	uint64_t off = (uint64_t)((const unsigned char *)p - base);
	ssize_t got = pread(fd, dst, len, (off_t)off);
	if (got == (ssize_t)len) return true;
	if (!rd->err) {
		rd->err = got < 0 ? vz_err_from_errno(errno) : VZ_ECORRUPT;
		rd->err_errno = got < 0 ? errno : 0;
		rd->err_file = file;
		rd->err_off = off;
	}
	return false;
}

/* The vector of node into rd->vbuf; NULL when it could not be read (rd->err set). */
static inline const float *hnsw_read_vector(const struct graph *g, uint32_t node)
{
	struct hnsw_reader *rd = g->rd;
	const float *v = g->vectors + (size_t)node * g->vstride;
	return reader_get(rd, rd->vec_fd, rd->vec_base, "vectors.bin", v, rd->vbuf, sizeof(float) * g->dim) ? rd->vbuf : NULL;
}

/* The sq8 codes of node (dim bytes of index.hnsw) into rd->vbuf; NULL when they could not be
 * read (rd->err set). */
static inline const uint8_t *hnsw_read_codes(const struct graph *g, uint32_t node)
{
	struct hnsw_reader *rd = g->rd;
	const uint8_t *c = g->sq_codes + (size_t)node * g->dim;
	return reader_get(rd, rd->index_fd, rd->index_base, "index.hnsw", c, rd->vbuf, g->dim) ? (const uint8_t *)rd->vbuf : NULL;
}

static inline const uint32_t *links_at(const struct graph *g, uint32_t node, uint32_t lev)
{
	if (lev == 0) return g->links0 + (size_t)node * g->lstride;
	if (g->upper_ptrs) return g->upper_ptrs[node] ? g->upper_ptrs[node] + (size_t)(lev - 1) * (1 + g->m) : NULL;
	uint32_t base = g->upper_index[node];
	if (base == NONE) return NULL;
	uint64_t off = (uint64_t)base + (uint64_t)(lev - 1) * (1 + g->m);
	if (off + 1 + g->m > g->upper_len) return NULL;
	return g->upper + off;
}

/* the metric's distance from what its kernel gives */
static inline float metric_dist(const struct graph *g, float d)
{
	return g->metric == VZ_METRIC_EUCLIDEAN ? d : g->metric == VZ_METRIC_COSINE ? 1.0f - d : -d;
}

static inline float dist_vec(const struct graph *g, const float *q, const float *v)
{
	/* vz_distance, with the kernel looked up once per search */
	return metric_dist(g, g->kernel(q, v, g->dim));
}

static inline float dist_to(const struct graph *g, const float *q, uint32_t node)
{
	if (g->rd) {
		const float *v = hnsw_read_vector(g, node);
		return v ? dist_vec(g, q, v) : INFINITY;
	}
	if (g->h16) return metric_dist(g, g->hkernel(q, g->h16 + (size_t)node * g->hstride, g->dim));
	return dist_vec(g, q, g->vectors + (size_t)node * g->vstride);
}

/* ---- searching (hnsw_search.c) ---- */

/* The nodes one search has visited: an open-addressing set of node+1 (0 is empty), sized to
 * twice what a search visits rather than to the graph. A search visits a few thousand nodes;
 * an array of a mark per node (4 MB for a million rows) would cost a new process a page
 * fault for nearly every node it visits, and a long batch a cache miss per check. */
struct visited {
	uint32_t *slot;
	size_t cap;  /* a power of two, or 0 before the first search */
	size_t used;
	/* dense mode (builds, and searches of a packed index, all in memory for a long batch): an
	 * epoch per node, so a check is one load and clearing is one increment (Fashion-MNIST,
	 * 2 threads: build 16.9 -> 15.4 s, medians of 4 interleaved rounds; 1M x 128: the same) */
	uint16_t *mark;
	size_t nodes;
	uint16_t epoch;
	bool dense;
};

/* sq8 distance of query q (with per-query precomputation in qx) to a node's codes */
struct sq8_query { float *r; float *qs; float base; vz_sq8_kernel kernel; };

static inline float sq8_dist(const struct graph *g, const struct sq8_query *sq, uint32_t node)
{
	const uint8_t *c = g->rd ? hnsw_read_codes(g, node) : g->sq_codes + (size_t)node * g->dim;
	if (!c) return INFINITY;
	if (g->metric == VZ_METRIC_EUCLIDEAN) return sq->kernel(sq->r, g->sq_step, c, g->dim);
	float s = sq->kernel(sq->qs, NULL, c, g->dim) + sq->base;
	return g->metric == VZ_METRIC_COSINE ? 1.0f - s : -s;
}

typedef bool (*skip_fn)(void *ctx, uint32_t row);

struct search_ctx {
	const struct graph *g;
	const float *q;
	const struct sq8_query *sq;   /* approximate distances when set */
	const uint8_t *qc;            /* or: the query's own codes, measured with g->u8 */
	pthread_mutex_t *locks;       /* builder: stripe locks to read neighbour lists */
	struct visited *vis;
	skip_fn skip;
	void *skip_ctx;
	heap cand, top;
};

static inline float node_dist(const struct search_ctx *s, uint32_t node)
{
	if (s->qc) return (float)s->g->u8(s->qc, s->g->sq_codes + (size_t)node * s->g->dim, s->g->dim);
	return s->sq ? sq8_dist(s->g, s->sq, node) : dist_to(s->g, s->q, node);
}

/* Switches the set to dense marks for a graph of n nodes (false: back to the hash set). */
int hnsw_visited_mode(struct visited *v, bool dense, size_t n);
/* Empties the set for a new search. */
int hnsw_visited_reset(struct visited *v);
/* The per-query terms of sq8_dist, in the caller's buf (2 * dim floats). */
void hnsw_sq8_query_prepare(const struct graph *g, const float *q, float *buf, struct sq8_query *sq);
/* Greedy descent on one upper level: returns the closest node found from *cur. */
void hnsw_greedy(struct search_ctx *s, uint32_t *cur, float *cur_d, uint32_t lev, uint32_t *buf);
/* Best-first search of one level from ep; leaves up to ef results in s->top (a max-heap). */
void hnsw_search_level(struct search_ctx *s, uint32_t ep, float ep_d, uint32_t lev, size_t ef, uint32_t *buf);
int hnsw_ctx_init(struct search_ctx *s, size_t ef);
void hnsw_ctx_free(struct search_ctx *s);
size_t vz_hnsw_count(const vz_hnsw_index *idx);

/* ---- the builder ---- */

struct vz_hnsw_builder {
	struct graph g;
	size_t capacity;
	uint32_t ef_construction;
	uint64_t seed;
	bool sq8;
	vz_row_reader rows; /* on codes: each inserted row's floats, its exact query (NULL: decoded) */
	void *rows_ctx;
	uint8_t *levels;
	uint32_t *links0;
	uint32_t **upper;
	pthread_mutex_t locks[STRIPES];
	pthread_mutex_t global;
	/* a float graph searched on sq8 codes while it is built (hnsw_build.c, build_codes):
	 * the codes and their ranges, made for one vz_hnsw_builder_add and freed by it */
	uint8_t *build_codes;
	float *build_ranges;
	/* a float graph built on codes: their ranges, to write the codes beside it for searches
	 * (vz_hnsw_builder_keep_codes) */
	const float *keep_min, *keep_step;
	double mult;
	_Atomic size_t next;
	size_t end;
	int error;
};

#endif
