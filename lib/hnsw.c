/* hnsw.c: the HNSW graph (hnswlib's algorithm: layers, the neighbour-selection heuristic, M links
 * on upper layers and 2M at layer 0), built in memory with any number of threads, written as
 * index.hnsw, and searched in place from a read-only mapping.
 *
 * index.hnsw (little-endian; sections start on 64-byte boundaries):
 *   0    vz_file_header: magic VZHNSW01, version 2, flags bit 0 = sq8, aux and aux2 = the
 *        collection id (version 1, still read: aux = node count, aux2 = dim),
 *        body_checksum = XXH3-64 of bytes 64..end
 *   64   layout, 128 bytes: u64 count, u32 dim, u32 metric, u32 m, u32 m0 (= 2m), u32 max_level,
 *        u32 entry_point (0xffffffff when empty), u64 levels_off, u64 links0_off,
 *        u64 upper_index_off, u64 upper_off, u64 upper_len (u32 words), u64 sq8_off (0: none),
 *        u32 ef_construction, u32 reserved, u64 seed, zeros
 *   levels_off       count bytes: each node's top level
 *   links0_off       count blocks of (1 + m0) u32: neighbour count, then neighbour rows
 *   upper_index_off  count u32: where the node's upper blocks start in the upper array (words),
 *                    0xffffffff for nodes on level 0 only
 *   upper_off        upper_len u32: for each node with level L > 0, L blocks of (1 + m) u32
 *                    for levels 1..L
 *   sq8_off          dim float minima, dim float steps, then count * dim u8 codes
 * Opening checks only the header and that these sections fit the file (O(1)); searches check
 * every neighbour id and block against the bounds as they go, so a damaged file can give poor
 * results but never a crash; vz_hnsw_verify checks everything. */
#include "vz.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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

static bool heap_grow(heap *h)
{
	pair *a = realloc(h->a, h->cap * 2 * sizeof(pair));
	if (!a) return false;
	h->a = a;
	h->cap *= 2;
	return true;
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

static int pair_cmp(const void *x, const void *y)
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
};

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

static inline float dist_vec(const struct graph *g, const float *q, const float *v)
{
	/* vz_distance, with the kernel looked up once per search */
	float d = g->kernel(q, v, g->dim);
	return g->metric == VZ_METRIC_EUCLIDEAN ? d : g->metric == VZ_METRIC_COSINE ? 1.0f - d : -d;
}

static inline float dist_to(const struct graph *g, const float *q, uint32_t node)
{
	return dist_vec(g, q, g->vectors + (size_t)node * g->vstride);
}

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

#define VISITED_MIN 8192

static int visited_grow(struct visited *v, size_t cap)
{
	uint32_t *slot = calloc(cap, sizeof(uint32_t));
	if (!slot) return vz_fail(VZ_ENOMEM, "out of memory");
	for (size_t i = 0; i < v->cap; i++) {
		if (!v->slot[i]) continue;
		size_t h = ((v->slot[i] - 1) * 2654435761u) & (cap - 1);
		while (slot[h]) h = (h + 1) & (cap - 1);
		slot[h] = v->slot[i];
	}
	free(v->slot);
	v->slot = slot;
	v->cap = cap;
	return VZ_OK;
}

/* Empties the set for a new search. */
/* Switches the set to dense marks for a graph of n nodes (false: back to the hash set). */
static int visited_mode(struct visited *v, bool dense, size_t n)
{
	v->dense = false;
	if (!dense) return VZ_OK;
	if (v->nodes < n) {
		free(v->mark);
		v->nodes = 0;
		if (!(v->mark = calloc(n, sizeof(uint16_t)))) return VZ_OK; /* the hash set serves */
		v->nodes = n;
		v->epoch = 0;
	}
	v->dense = true;
	return VZ_OK;
}

static int visited_reset(struct visited *v)
{
	if (v->dense) {
		if (++v->epoch == 0) {
			memset(v->mark, 0, v->nodes * sizeof(uint16_t));
			v->epoch = 1;
		}
		return VZ_OK;
	}
	if (!v->cap) return visited_grow(v, VISITED_MIN);
	if (v->used) memset(v->slot, 0, v->cap * sizeof(uint32_t));
	v->used = 0;
	return VZ_OK;
}

/* Adds node; true when it was not there yet. Out of memory to grow, it answers true (the node
 * is searched again: slower, still correct) and tries again at the next insertion. */
static inline bool visit(struct visited *v, uint32_t node)
{
	if (v->dense) {
		if (v->mark[node] == v->epoch) return false;
		v->mark[node] = v->epoch;
		return true;
	}
	if (v->used * 2 >= v->cap && visited_grow(v, v->cap * 2)) return true;
	uint32_t key = node + 1;
	size_t h = (node * 2654435761u) & (v->cap - 1);
	while (v->slot[h]) {
		if (v->slot[h] == key) return false;
		h = (h + 1) & (v->cap - 1);
	}
	v->slot[h] = key;
	v->used++;
	return true;
}

/* sq8 distance of query q (with per-query precomputation in qx) to a node's codes */
struct sq8_query { float *r; float *qs; float base; vz_sq8_kernel kernel; };

/* The per-query terms of sq8_dist: r = q - min (euclidean), qs = q * step and base = q . min
 * (dot products); r and qs are dim floats each, in the caller's buf (2 * dim floats). */
static void sq8_query_prepare(const struct graph *g, const float *q, float *buf, struct sq8_query *sq)
{
	sq->r = buf;
	sq->qs = buf + g->dim;
	sq->base = 0;
	sq->kernel = vz_sq8_kernel_for(g->metric);
	for (uint32_t i = 0; i < g->dim; i++) {
		sq->r[i] = q[i] - g->sq_min[i];
		sq->qs[i] = q[i] * g->sq_step[i];
		sq->base += q[i] * g->sq_min[i];
	}
}

static float sq8_dist(const struct graph *g, const struct sq8_query *sq, uint32_t node)
{
	const uint8_t *c = g->sq_codes + (size_t)node * g->dim;
	if (g->metric == VZ_METRIC_EUCLIDEAN) return sq->kernel(sq->r, g->sq_step, c, g->dim);
	float s = sq->kernel(sq->qs, NULL, c, g->dim) + sq->base;
	return g->metric == VZ_METRIC_COSINE ? 1.0f - s : -s;
}

typedef bool (*skip_fn)(void *ctx, uint32_t row);

struct search_ctx {
	const struct graph *g;
	const float *q;
	const struct sq8_query *sq;   /* approximate distances when set */
	pthread_mutex_t *locks;       /* builder: stripe locks to read neighbour lists */
	struct visited *vis;
	skip_fn skip;
	void *skip_ctx;
	heap cand, top;
};

static inline float node_dist(const struct search_ctx *s, uint32_t node)
{
	return s->sq ? sq8_dist(s->g, s->sq, node) : dist_to(s->g, s->q, node);
}

/* A node's own vector as the query of a search or of distances to other nodes: its floats,
 * or, in a graph built on sq8 codes (no floats), its codes decoded with the per-query terms
 * of sq8_dist. Distances between two nodes are then those of their decoded vectors. */
struct node_query { const float *q; struct sq8_query sq; bool on_codes; };
#define NODE_QUERY_FLOATS(dim) (3 * (size_t)(dim)) /* scratch one node_query needs */

static void node_query_set(const struct graph *g, uint32_t node, float *scratch, struct node_query *nq)
{
	nq->on_codes = g->vectors == NULL;
	if (!nq->on_codes) {
		nq->q = g->vectors + (size_t)node * g->vstride;
		return;
	}
	const uint8_t *c = g->sq_codes + (size_t)node * g->dim;
	for (uint32_t i = 0; i < g->dim; i++) scratch[i] = g->sq_min[i] + g->sq_step[i] * (float)c[i];
	nq->q = scratch;
	sq8_query_prepare(g, scratch, scratch + g->dim, &nq->sq);
}

static inline float node_query_dist(const struct graph *g, const struct node_query *nq, uint32_t node)
{
	return nq->on_codes ? sq8_dist(g, &nq->sq, node) : dist_to(g, nq->q, node);
}

/* A node's neighbour list at lev (at most cap ids; *count of them): while building, copied
 * into buf under the node's stripe lock, as other threads rewrite lists; in a finished graph,
 * read in place (the copy was 2% of a query's time on Fashion-MNIST). */
static inline const uint32_t *read_links(const struct search_ctx *s, uint32_t node, uint32_t lev, uint32_t *buf, uint32_t cap,
					 uint32_t *count)
{
	*count = 0;
	const uint32_t *l = links_at(s->g, node, lev);
	if (!l) return buf;
	if (!s->locks) {
		*count = l[0] < cap ? l[0] : cap;
		return l + 1;
	}
	pthread_mutex_lock(&s->locks[node % STRIPES]);
	uint32_t n = l[0] < cap ? l[0] : cap;
	memcpy(buf, l + 1, n * sizeof(uint32_t));
	pthread_mutex_unlock(&s->locks[node % STRIPES]);
	*count = n;
	return buf;
}

/* Greedy descent on one upper level: returns the closest node found from *cur. */
static void greedy(struct search_ctx *s, uint32_t *cur, float *cur_d, uint32_t lev, uint32_t *buf)
{
	bool changed = true;
	while (changed) {
		changed = false;
		uint32_t n;
		const uint32_t *nbs = read_links(s, *cur, lev, buf, s->g->m, &n);
		for (uint32_t i = 0; i < n; i++) {
			uint32_t nb = nbs[i];
			if (nb >= s->g->n) continue;
			float d = node_dist(s, nb);
			if (d < *cur_d) { *cur_d = d; *cur = nb; changed = true; }
		}
	}
}

/* Best-first search of one level from ep; leaves up to ef results in s->top (a max-heap). */
static void search_level(struct search_ctx *s, uint32_t ep, float ep_d, uint32_t lev, size_t ef, uint32_t *buf)
{
	const struct graph *g = s->g;
	uint32_t cap = lev == 0 ? g->m0 : g->m;
	s->cand.n = s->top.n = 0;
	visit(s->vis, ep);
	heap_push(&s->cand, (pair){ ep_d, ep }, false);
	float bound = INFINITY;
	if (!s->skip || !s->skip(s->skip_ctx, ep)) {
		heap_push(&s->top, (pair){ ep_d, ep }, true);
		bound = ep_d;
	}
	while (s->cand.n) {
		pair c = heap_pop(&s->cand, false);
		if (c.d > bound && s->top.n >= ef) break;
		uint32_t n;
		const uint32_t *nbs = read_links(s, c.id, lev, buf, cap, &n);
		for (uint32_t i = 0; i < n; i++) {
			uint32_t nb = nbs[i];
			if (nb < g->n) {
				if (s->sq) __builtin_prefetch(g->sq_codes + (size_t)nb * g->dim);
				else __builtin_prefetch(g->vectors + (size_t)nb * g->vstride);
			}
		}
		for (uint32_t i = 0; i < n; i++) {
			uint32_t nb = nbs[i];
			if (nb >= g->n || !visit(s->vis, nb)) continue;
			float d = node_dist(s, nb);
			if (s->top.n < ef || d < bound) {
				/* a filter that skips most rows keeps top short, so that every node
				 * reached becomes a candidate: the heap grows (or, out of memory, the
				 * node is left out) */
				if (s->cand.n == s->cand.cap && !heap_grow(&s->cand)) continue;
				heap_push(&s->cand, (pair){ d, nb }, false);
				/* the links of the node expanded next, as hnswlib does (not those of every
				 * neighbour: most are never expanded) */
				__builtin_prefetch(g->links0 + (size_t)s->cand.a[0].id * g->lstride);
				if (!s->skip || !s->skip(s->skip_ctx, nb)) {
					heap_push(&s->top, (pair){ d, nb }, true);
					if (s->top.n > ef) heap_pop(&s->top, true);
					bound = s->top.a[0].d;
				}
			}
		}
	}
}

static int ctx_init(struct search_ctx *s, size_t ef)
{
	size_t cap = ef * 32 + 256; /* candidates can outgrow ef; grown on demand below */
	s->cand.a = malloc(cap * sizeof(pair));
	s->top.a = malloc((ef + 2) * sizeof(pair));
	s->cand.cap = cap;
	s->top.cap = ef + 2;
	if (!s->cand.a || !s->top.a) return vz_fail(VZ_ENOMEM, "out of memory");
	return visited_reset(s->vis);
}

static void ctx_free(struct search_ctx *s)
{
	free(s->cand.a);
	free(s->top.a);
}

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
	double mult;
	_Atomic size_t next;
	size_t end;
	int error;
};

static uint64_t splitmix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ull;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
	return x ^ (x >> 31);
}

/* A node's level depends only on the seed and its row: reproducible whatever the threads. */
static uint8_t level_of(const vz_hnsw_builder *b, uint64_t row)
{
	double u = ((double)(splitmix(b->seed ^ (row * 0xD1B54A32D192ED03ull)) >> 11) + 1.0) / 9007199254740993.0;
	double l = -log(u) * b->mult;
	return (uint8_t)(l > MAX_LEVEL ? MAX_LEVEL : (int)l);
}

static int builder_alloc(vz_hnsw_builder *b, size_t capacity)
{
	b->capacity = capacity;
	size_t words;
	if (vz_mul_overflow(capacity ? capacity : 1, 1 + b->g.m0, &words)) return vz_fail(VZ_ENOMEM, "index too large");
	b->levels = calloc(capacity ? capacity : 1, 1);
	b->links0 = calloc(words, sizeof(uint32_t));
	b->upper = calloc(capacity ? capacity : 1, sizeof(uint32_t *));
	if (!b->levels || !b->links0 || !b->upper) return vz_fail(VZ_ENOMEM, "out of memory for an index of %zu nodes", capacity);
	for (int i = 0; i < STRIPES; i++) pthread_mutex_init(&b->locks[i], NULL);
	pthread_mutex_init(&b->global, NULL);
	b->g.levels = b->levels;
	b->g.links0 = b->links0;
	b->g.upper_ptrs = b->upper;
	return VZ_OK;
}

int vz_hnsw_builder_new(uint32_t dim, enum vz_metric metric, const vz_hnsw_params *p, const float *vectors, size_t capacity,
			vz_hnsw_builder **out)
{
	*out = NULL;
	if (p->m < 2 || p->m > 128 || dim == 0) return vz_fail(VZ_EINVAL, "bad HNSW parameters (m %u, dim %u)", p->m, dim);
	if (capacity >= NONE) return vz_fail(VZ_ERANGE, "too many vectors for one index (%zu)", capacity);
	vz_hnsw_builder *b = calloc(1, sizeof *b);
	if (!b) return vz_fail(VZ_ENOMEM, "out of memory");
	b->g = (struct graph){ .n = 0, .dim = dim, .m = p->m, .m0 = 2 * p->m, .ep = NONE, .metric = metric, .vectors = vectors,
			       .vstride = dim, .lstride = 1 + 2 * (size_t)p->m, .kernel = vz_kernel_for(metric) };
	b->ef_construction = p->ef_construction ? p->ef_construction : 200;
	b->seed = p->seed;
	b->sq8 = p->sq8;
	b->mult = 1.0 / log((double)p->m);
	int rc = builder_alloc(b, capacity);
	if (rc) { vz_hnsw_builder_free(b); return rc; }
	*out = b;
	return VZ_OK;
}

int vz_hnsw_builder_use_codes(vz_hnsw_builder *b, const float *min, const float *step, const uint8_t *codes, vz_row_reader rows,
			      void *rows_ctx)
{
	if (!b->sq8) return vz_fail(VZ_EINVAL, "hnsw: building on codes needs an sq8 index");
	b->rows = rows;
	b->rows_ctx = rows_ctx;
	b->g.vectors = NULL;
	b->g.sq_min = min;
	b->g.sq_step = step;
	b->g.sq_codes = codes;
	return VZ_OK;
}

void vz_sq8_range_start(float *lo, float *hi, uint32_t dim)
{
	for (uint32_t d = 0; d < dim; d++) {
		lo[d] = INFINITY;
		hi[d] = -INFINITY;
	}
}

void vz_sq8_range_add(float *lo, float *hi, const float *row, uint32_t dim)
{
	for (uint32_t d = 0; d < dim; d++) {
		if (row[d] < lo[d]) lo[d] = row[d];
		if (row[d] > hi[d]) hi[d] = row[d];
	}
}

void vz_sq8_range_finish(float *lo, const float *hi, float *step, uint32_t dim)
{
	for (uint32_t d = 0; d < dim; d++) {
		if (lo[d] > hi[d]) lo[d] = 0; /* no rows */
		step[d] = hi[d] > lo[d] ? (hi[d] - lo[d]) / 255.0f : 0;
	}
}

void vz_sq8_encode(const float *row, const float *min, const float *step, uint32_t dim, uint8_t *codes)
{
	for (uint32_t d = 0; d < dim; d++) {
		float c = step[d] > 0 ? (row[d] - min[d]) / step[d] : 0;
		codes[d] = (uint8_t)(c < 0 ? 0 : c > 255 ? 255 : lrintf(c));
	}
}

void vz_hnsw_builder_free(vz_hnsw_builder *b)
{
	if (!b) return;
	if (b->upper)
		for (size_t i = 0; i < b->capacity; i++) free(b->upper[i]);
	free(b->upper);
	free(b->levels);
	free(b->links0);
	free(b);
}

/* A builder thread's scratch for node_query: the inserted node, the target of a link, and the
 * neighbours the heuristic keeps (up to m0 of them). */
struct worker {
	vz_hnsw_builder *b;
	struct visited vis;
	float *node_buf, *dst_buf, *kept_buf;
	struct node_query *kept_q;
	int rc;
	char error[256]; /* vz_last_error of the thread that failed: it is per thread */
};

/* hnswlib's getNeighborsByHeuristic2: keep a candidate only if it is closer to the base than to
 * every neighbour already kept, so links spread in all directions. cand is sorted ascending.
 * Each kept neighbour is made a query once (on codes, a decoding) and measured against the
 * candidates after it, rather than each candidate against the kept: m preparations, not n. */
static size_t select_heuristic(const struct graph *g, pair *cand, size_t n, size_t m, pair *out, struct worker *w)
{
	size_t kept = 0;
	for (size_t i = 0; i < n && kept < m; i++) {
		bool good = true;
		for (size_t j = 0; j < kept; j++) {
			if (node_query_dist(g, &w->kept_q[j], cand[i].id) < cand[i].d) {
				good = false;
				break;
			}
		}
		if (!good) continue;
		if (kept + 1 < m) node_query_set(g, cand[i].id, w->kept_buf + kept * NODE_QUERY_FLOATS(g->dim), &w->kept_q[kept]);
		out[kept++] = cand[i];
	}
	return kept;
}

/* Links node `src` to `dst` at lev, shrinking dst's list with the heuristic when full. */
static void add_link(vz_hnsw_builder *b, uint32_t dst, uint32_t src, uint32_t lev, pair *scratch, pair *kept, struct worker *w)
{
	struct graph *g = &b->g;
	uint32_t cap = lev == 0 ? g->m0 : g->m;
	uint32_t *l = (uint32_t *)links_at(g, dst, lev);
	pthread_mutex_lock(&b->locks[dst % STRIPES]);
	uint32_t n = l[0];
	for (uint32_t i = 0; i < n; i++)
		if (l[1 + i] == src) { pthread_mutex_unlock(&b->locks[dst % STRIPES]); return; }
	if (n < cap) {
		l[1 + n] = src;
		l[0] = n + 1;
	} else {
		struct node_query dq;
		node_query_set(g, dst, w->dst_buf, &dq);
		for (uint32_t i = 0; i < n; i++) scratch[i] = (pair){ node_query_dist(g, &dq, l[1 + i]), l[1 + i] };
		scratch[n] = (pair){ node_query_dist(g, &dq, src), src };
		qsort(scratch, n + 1, sizeof(pair), pair_cmp);
		size_t k = select_heuristic(g, scratch, n + 1, cap, kept, w);
		for (size_t i = 0; i < k; i++) l[1 + i] = kept[i].id;
		l[0] = (uint32_t)k;
	}
	pthread_mutex_unlock(&b->locks[dst % STRIPES]);
}

static int insert_node(vz_hnsw_builder *b, uint32_t node, struct worker *w)
{
	struct graph *g = &b->g;
	uint32_t level = b->levels[node];
	pair *scratch = malloc(sizeof(pair) * (g->m0 + 2) * 2), *kept = scratch + g->m0 + 2;
	uint32_t *buf = malloc(sizeof(uint32_t) * (g->m0 + 1));
	pair *sorted = malloc(sizeof(pair) * (b->ef_construction + 2));
	pair *sel = malloc(sizeof(pair) * (g->m0 + 1));
	struct node_query nq;
	int rc = VZ_OK;
	if (b->rows) {
		/* the row's own floats against the codes, as a user's query is: quantization error
		 * on one side, where decoded codes have it on both (1M x 768 synthetic, recall@10 at
		 * ef 128: 0.979, against 0.932 with decoded codes and 0.955 for a graph built on floats) */
		const float *q;
		if (!(rc = b->rows(b->rows_ctx, node, g->dim, w->node_buf, &q))) {
			nq = (struct node_query){ .q = q, .on_codes = true };
			sq8_query_prepare(g, q, w->node_buf + g->dim, &nq.sq);
		}
	} else {
		node_query_set(g, node, w->node_buf, &nq);
	}
	struct search_ctx s = { .g = g, .q = nq.q, .sq = nq.on_codes ? &nq.sq : NULL, .locks = b->locks, .vis = &w->vis };
	if (!rc) rc = (!scratch || !buf || !sorted || !sel) ? vz_fail(VZ_ENOMEM, "out of memory") : ctx_init(&s, b->ef_construction);
	if (rc) goto out;
	/* a node above the current top level changes the entry point: hold the global lock for the
	 * whole insertion then, as hnswlib does */
	pthread_mutex_lock(&b->global);
	uint32_t ep = g->ep, max_level = g->max_level;
	bool top = ep == NONE || level > max_level;
	if (!top) pthread_mutex_unlock(&b->global);
	if (ep == NONE) {
		g->ep = node;
		g->max_level = level;
		pthread_mutex_unlock(&b->global);
		goto out;
	}
	uint32_t cur = ep;
	float cur_d = node_dist(&s, cur);
	for (uint32_t lev = max_level; lev > level; lev--) greedy(&s, &cur, &cur_d, lev, buf);
	for (int lev = (int)(level < max_level ? level : max_level); lev >= 0; lev--) {
		if ((rc = visited_reset(&w->vis))) break;
		search_level(&s, cur, cur_d, (uint32_t)lev, b->ef_construction, buf);
		size_t n = s.top.n;
		for (size_t i = n; i > 0; i--) sorted[i - 1] = heap_pop(&s.top, true);
		size_t k = select_heuristic(g, sorted, n, g->m, sel, w);
		uint32_t *mine = (uint32_t *)links_at(g, node, (uint32_t)lev);
		pthread_mutex_lock(&b->locks[node % STRIPES]);
		for (size_t i = 0; i < k; i++) mine[1 + i] = sel[i].id;
		mine[0] = (uint32_t)k;
		pthread_mutex_unlock(&b->locks[node % STRIPES]);
		for (size_t i = 0; i < k; i++) add_link(b, sel[i].id, node, (uint32_t)lev, scratch, kept, w);
		if (n) { cur = sorted[0].id; cur_d = sorted[0].d; }
	}
	if (top) {
		g->ep = node;
		g->max_level = level;
		pthread_mutex_unlock(&b->global);
	}
out:
	ctx_free(&s);
	free(scratch);
	free(buf);
	free(sorted);
	free(sel);
	return rc;
}

/* Records a builder thread's failure: its code, its message (vz_last_error is per thread, so
 * the caller of vz_hnsw_builder_add would not see it), and the flag that stops the others. */
static void worker_failed(struct worker *w, int rc)
{
	w->rc = rc;
	snprintf(w->error, sizeof w->error, "%s", vz_last_error());
	w->b->error = 1;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	vz_hnsw_builder *b = w->b;
	visited_mode(&w->vis, true, b->end);
	size_t q = NODE_QUERY_FLOATS(b->g.dim);
	w->node_buf = malloc(sizeof(float) * q * (2 + b->g.m0));
	w->kept_q = malloc(sizeof(struct node_query) * b->g.m0);
	if (w->node_buf) {
		w->dst_buf = w->node_buf + q;
		w->kept_buf = w->dst_buf + q;
	}
	if (!w->node_buf || !w->kept_q) {
		worker_failed(w, vz_fail(VZ_ENOMEM, "out of memory"));
		return NULL;
	}
	for (;;) {
		size_t i = atomic_fetch_add(&b->next, 1);
		if (i >= b->end || b->error) break;
		int rc = insert_node(b, (uint32_t)i, w);
		if (rc) {
			worker_failed(w, rc);
			break;
		}
	}
	return NULL;
}

int vz_hnsw_builder_add(vz_hnsw_builder *b, size_t first, size_t count, int threads)
{
	if (first != b->g.n || first + count > b->capacity)
		return vz_fail(VZ_EINTERNAL, "hnsw: rows must be added in order within the capacity");
	for (size_t i = first; i < first + count; i++) {
		b->levels[i] = level_of(b, i);
		if (b->levels[i] > 0) {
			b->upper[i] = calloc((size_t)b->levels[i] * (1 + b->g.m), sizeof(uint32_t));
			if (!b->upper[i]) return vz_fail(VZ_ENOMEM, "out of memory");
		}
	}
	/* every row is visible to searches from the start: links of rows not inserted yet are
	 * empty, which is harmless */
	b->g.n = (uint32_t)(first + count);
	atomic_store(&b->next, first);
	b->end = first + count;
	b->error = 0;
	if (threads < 1) threads = 1;
	if ((size_t)threads > count) threads = count ? (int)count : 1;
	struct worker *w = calloc((size_t)threads, sizeof *w);
	pthread_t *t = calloc((size_t)threads, sizeof *t);
	if (!w || !t) { free(w); free(t); return vz_fail(VZ_ENOMEM, "out of memory"); }
	int rc = VZ_OK;
	for (int i = 0; i < threads; i++) w[i].b = b;
	if (threads == 1) {
		worker_main(&w[0]);
	} else {
		int started = 0;
		for (; started < threads; started++)
			if (pthread_create(&t[started], NULL, worker_main, &w[started])) break;
		if (started == 0) worker_main(&w[0]);
		for (int i = 0; i < started; i++) pthread_join(t[i], NULL);
	}
	for (int i = 0; i < threads; i++) {
		if (w[i].rc && !rc) rc = vz_fail(w[i].rc, "%s", w[i].error);
		free(w[i].vis.slot);
		free(w[i].vis.mark);
		free(w[i].node_buf);
		free(w[i].kept_q);
	}
	free(w);
	free(t);
	return rc;
}

int vz_hnsw_builder_write(vz_hnsw_builder *b, vz_tmpfile *out, const vz_coll_id *id, uint64_t generation)
{
	const struct graph *g = &b->g;
	uint64_t n = g->n;
	uint64_t upper_len = 0;
	for (uint64_t i = 0; i < n; i++) upper_len += (uint64_t)b->levels[i] * (1 + g->m);
	if (upper_len >= NONE) return vz_fail(VZ_ERANGE, "index too large");
#define A64(x) (((x) + 63) & ~(uint64_t)63)
	uint64_t levels_off = VZ_HEADER_SIZE + LAYOUT_SIZE;
	uint64_t links0_off = A64(levels_off + n);
	uint64_t uidx_off = A64(links0_off + n * (1 + g->m0) * 4);
	uint64_t upper_off = A64(uidx_off + n * 4);
	uint64_t end = A64(upper_off + upper_len * 4);
	uint64_t sq8_off = b->sq8 ? end : 0;
	if (b->sq8) end = sq8_off + (uint64_t)g->dim * 8 + n * g->dim;
	unsigned char layout[LAYOUT_SIZE] = { 0 };
	vz_store_u64(layout, n);
	vz_store_u32(layout + 8, g->dim);
	vz_store_u32(layout + 12, (uint32_t)g->metric);
	vz_store_u32(layout + 16, g->m);
	vz_store_u32(layout + 20, g->m0);
	vz_store_u32(layout + 24, g->ep == NONE ? 0 : g->max_level);
	vz_store_u32(layout + 28, g->ep);
	vz_store_u64(layout + 32, levels_off);
	vz_store_u64(layout + 40, links0_off);
	vz_store_u64(layout + 48, uidx_off);
	vz_store_u64(layout + 56, upper_off);
	vz_store_u64(layout + 64, upper_len);
	vz_store_u64(layout + 72, sq8_off);
	vz_store_u32(layout + 80, b->ef_construction);
	vz_store_u64(layout + 88, b->seed);

	vz_hasher *h = vz_hasher_new();
	if (!h) return vz_fail(VZ_ENOMEM, "out of memory");
	unsigned char zeros[64] = { 0 }, head[VZ_HEADER_SIZE] = { 0 };
	uint64_t pos = VZ_HEADER_SIZE;
	int rc = vz_tmpfile_write(out, head, sizeof head);
	vz_stage stage; /* upper blocks and sq8 codes come a node at a time */
	vz_stage_init(&stage, out, 1u << 20);
#define EMIT(p, len)                                                          \
	do {                                                                  \
		size_t len_ = (size_t)(len);                                  \
		if (!rc && len_) {                                            \
			rc = vz_stage_write(&stage, (p), len_);               \
			vz_hasher_update(h, (p), len_);                       \
			pos += len_;                                          \
		}                                                             \
	} while (0)
#define PAD(off)                                                              \
	do {                                                                  \
		while (!rc && pos < (off)) {                                  \
			uint64_t z_ = (off) - pos > 64 ? 64 : (off) - pos;    \
			EMIT(zeros, z_);                                      \
		}                                                             \
	} while (0)
	EMIT(layout, sizeof layout);
	EMIT(b->levels, n);
	PAD(links0_off);
	EMIT(b->links0, n * (1 + g->m0) * 4);
	PAD(uidx_off);
	uint32_t *uidx = malloc((n ? n : 1) * 4);
	if (!uidx) rc = vz_fail(VZ_ENOMEM, "out of memory");
	uint64_t at = 0;
	for (uint64_t i = 0; i < n && uidx; i++) {
		uidx[i] = b->levels[i] ? (uint32_t)at : NONE;
		at += (uint64_t)b->levels[i] * (1 + g->m);
	}
	if (uidx) EMIT(uidx, n * 4);
	free(uidx);
	PAD(upper_off);
	for (uint64_t i = 0; i < n; i++)
		if (b->levels[i]) EMIT(b->upper[i], (size_t)b->levels[i] * (1 + g->m) * 4);
	if (b->sq8 && !g->vectors) {
		/* built on codes: they and their ranges are the caller's */
		PAD(sq8_off);
		EMIT(g->sq_min, (size_t)g->dim * 4);
		EMIT(g->sq_step, (size_t)g->dim * 4);
		for (uint64_t i = 0; i < n; i += 4096) EMIT(g->sq_codes + i * g->dim, (size_t)((n - i < 4096 ? n - i : 4096) * g->dim));
	} else if (b->sq8) {
		PAD(sq8_off);
		float *mn = malloc(sizeof(float) * g->dim * 3), *step = mn ? mn + g->dim : NULL, *hi = mn ? step + g->dim : NULL;
		uint8_t *codes = malloc(g->dim ? g->dim : 1);
		if (!mn || !codes) rc = vz_fail(VZ_ENOMEM, "out of memory");
		if (!rc) {
			vz_sq8_range_start(mn, hi, g->dim);
			for (uint64_t i = 0; i < n; i++) vz_sq8_range_add(mn, hi, g->vectors + i * g->dim, g->dim);
			vz_sq8_range_finish(mn, hi, step, g->dim);
		}
		EMIT(mn, (size_t)g->dim * 8);
		for (uint64_t i = 0; !rc && i < n; i++) {
			vz_sq8_encode(g->vectors + i * g->dim, mn, step, g->dim, codes);
			EMIT(codes, g->dim);
		}
		free(mn);
		free(codes);
	} else {
		PAD(end);
	}
#undef EMIT
#undef PAD
#undef A64
	int frc = vz_stage_finish(&stage);
	if (!rc) rc = frc;
	if (!rc && pos != end) rc = vz_fail(VZ_EINTERNAL, "index.hnsw: wrote %llu bytes, planned %llu", (unsigned long long)pos, (unsigned long long)end);
	if (!rc) {
		vz_file_header hd = { .version = INDEX_VERSION, .flags = b->sq8 ? 1 : 0, .generation = generation,
				      .body_length = end - VZ_HEADER_SIZE, .body_checksum = vz_hasher_digest(h) };
		if (id) vz_id_to_words(id, &hd.aux, &hd.aux2);
		memcpy(hd.magic, VZ_MAGIC_INDEX, 8);
		vz_header_encode(&hd, head);
		rc = vz_io_pwrite(out->fd, head, sizeof head, 0, out->path);
	}
	vz_hasher_free(h);
	return rc;
}

/* ---- the mapped index ---- */

int vz_hnsw_open(const unsigned char *data, size_t size, uint32_t dim, enum vz_metric metric, size_t expect_rows, vz_hnsw_index *idx)
{
	memset(idx, 0, sizeof *idx);
	idx->rerank_fd = -1;
	vz_file_header h;
	int rc = vz_header_decode(data, size, VZ_MAGIC_INDEX, INDEX_VERSION, &h);
	if (rc) return rc;
	bool v1 = h.version == 1; /* the node count and dimension repeated in the header */
	if (size < VZ_HEADER_SIZE + LAYOUT_SIZE) return vz_fail(VZ_ECORRUPT, "offset 64: file too short for its layout block");
	if (h.body_length != size - VZ_HEADER_SIZE)
		return vz_fail(VZ_ECORRUPT, "offset 24: header says the body is %llu bytes, the file has %zu",
			       (unsigned long long)h.body_length, size - VZ_HEADER_SIZE);
	const unsigned char *L = data + VZ_HEADER_SIZE;
	uint64_t n = vz_load_u64(L);
	idx->dim = vz_load_u32(L + 8);
	idx->metric = (enum vz_metric)vz_load_u32(L + 12);
	idx->m = vz_load_u32(L + 16);
	idx->m0 = vz_load_u32(L + 20);
	idx->max_level = vz_load_u32(L + 24);
	idx->entry_point = vz_load_u32(L + 28);
	uint64_t levels_off = vz_load_u64(L + 32), links0_off = vz_load_u64(L + 40), uidx_off = vz_load_u64(L + 48);
	uint64_t upper_off = vz_load_u64(L + 56);
	idx->upper_len = vz_load_u64(L + 64);
	uint64_t sq8_off = vz_load_u64(L + 72);
	if (n != expect_rows || (v1 && h.aux != n)) return vz_fail(VZ_ECORRUPT, "offset 64: %llu nodes, expected %zu", (unsigned long long)n, expect_rows);
	if (idx->dim != dim || (v1 && h.aux2 != dim)) return vz_fail(VZ_ECORRUPT, "offset 72: dimension %u, expected %u", idx->dim, dim);
	if (idx->metric != metric) return vz_fail(VZ_ECORRUPT, "offset 76: metric does not match the configuration");
	if (idx->m < 2 || idx->m > 128 || idx->m0 != 2 * idx->m) return vz_fail(VZ_ECORRUPT, "offset 80: bad link counts (m %u, m0 %u)", idx->m, idx->m0);
	if (idx->max_level > MAX_LEVEL) return vz_fail(VZ_ECORRUPT, "offset 88: max level %u out of range", idx->max_level);
	if (n > 0 ? idx->entry_point >= n : idx->entry_point != NONE) return vz_fail(VZ_ECORRUPT, "offset 92: entry point %u out of range", idx->entry_point);
	uint64_t end, words;
	const char *what = NULL;
	if (levels_off != VZ_HEADER_SIZE + LAYOUT_SIZE) what = "levels offset";
	else if (links0_off != ((levels_off + n + 63) & ~(uint64_t)63)) what = "layer-0 links offset";
	else if (vz_mul_overflow_u64(n, (uint64_t)(1 + idx->m0) * 4, &words) || vz_add_overflow_u64(links0_off, words, &end) ||
		 uidx_off != ((end + 63) & ~(uint64_t)63))
		what = "upper index offset";
	else if (upper_off != ((uidx_off + n * 4 + 63) & ~(uint64_t)63)) what = "upper links offset";
	else if (vz_mul_overflow_u64(idx->upper_len, 4, &words) || vz_add_overflow_u64(upper_off, words, &end) || end > size) what = "upper links length";
	else if (sq8_off) {
		uint64_t codes;
		if (!(h.flags & 1) || sq8_off != ((end + 63) & ~(uint64_t)63) || vz_mul_overflow_u64(n, dim, &codes) ||
		    sq8_off + (uint64_t)dim * 8 + codes != size)
			what = "sq8 section";
	} else if (((end + 63) & ~(uint64_t)63) != size) {
		what = "section sizes do not add up to the file size";
	}
	if (what) return vz_fail(VZ_ECORRUPT, "offset 64: %s", what);
	idx->data = data;
	idx->size = size;
	idx->count = n;
	idx->levels = data + levels_off;
	idx->links0 = (const uint32_t *)(data + links0_off);
	idx->upper_index = (const uint32_t *)(data + uidx_off);
	idx->upper = (const uint32_t *)(data + upper_off);
	if (sq8_off) {
		idx->sq_min = (const float *)(data + sq8_off);
		idx->sq_step = idx->sq_min + dim;
		idx->sq_codes = data + sq8_off + (uint64_t)dim * 8;
	}
	return VZ_OK;
}

size_t vz_hnsw_count(const vz_hnsw_index *idx) { return idx->count; }

static void graph_of_index(const vz_hnsw_index *idx, const float *vectors, struct graph *g)
{
	*g = (struct graph){ .n = (uint32_t)idx->count, .dim = idx->dim, .m = idx->m, .m0 = idx->m0, .max_level = idx->max_level,
			     .ep = idx->entry_point, .metric = idx->metric, .vectors = vectors, .levels = idx->levels,
			     .links0 = (uint32_t *)idx->links0, .upper_index = idx->upper_index, .upper = idx->upper,
			     .upper_len = idx->upper_len, .sq_min = idx->sq_min, .sq_step = idx->sq_step, .sq_codes = idx->sq_codes,
			     .vstride = idx->dim, .lstride = 1 + (size_t)idx->m0, .kernel = vz_kernel_for(idx->metric) };
	if (idx->packed) {
		g->links0 = idx->packed;
		g->vectors = (const float *)(idx->packed + 1 + idx->m0);
		g->vstride = g->lstride = idx->packed_stride;
	}
}

int vz_hnsw_pack(vz_hnsw_index *idx, const float *vectors, bool mapped)
{
	if (idx->packed || idx->sq_codes || idx->count == 0) return VZ_OK;
	size_t stride = 1 + (size_t)idx->m0 + idx->dim, bytes;
	if (vz_mul_overflow(idx->count, stride * sizeof(uint32_t), &bytes)) return vz_fail(VZ_ENOMEM, "index too large to load");
	uint32_t *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) return vz_fail(VZ_ENOMEM, "out of memory to load the index (%zu bytes)", bytes);
	/* no MADV_HUGEPAGE: measured on this project's VMs, 2 MiB pages made the load slower
	 * (compaction, zeroing) and the searches after it no faster (QPS medians 0.62 -> 0.82
	 * of hnswlib's on 1M x 128 without them) */
	const size_t batch = 1024; /* nodes copied between drops: a few MiB held twice at most */
	for (size_t i = 0; i < idx->count; i++) {
		memcpy(p + i * stride, idx->links0 + i * (1 + idx->m0), (1 + (size_t)idx->m0) * sizeof(uint32_t));
		memcpy(p + i * stride + 1 + idx->m0, vectors + i * idx->dim, (size_t)idx->dim * sizeof(float));
		/* the mapped pages copied are not read again: the resident size need not hold them twice */
		if (mapped && ((i + 1) % batch == 0 || i + 1 == idx->count)) {
			size_t from = i + 1 - ((i % batch) + 1);
			vz_map_release(idx->links0 + from * (1 + idx->m0), idx->links0 + (i + 1) * (1 + idx->m0));
			vz_map_release(vectors + from * idx->dim, vectors + (i + 1) * idx->dim);
		}
	}
	mprotect(p, bytes, PROT_READ);
	idx->packed = p;
	idx->packed_bytes = bytes;
	idx->packed_stride = stride;
	return VZ_OK;
}

void vz_hnsw_unpack(vz_hnsw_index *idx)
{
	if (idx->packed) munmap(idx->packed, idx->packed_bytes);
	idx->packed = NULL;
	idx->packed_bytes = idx->packed_stride = 0;
}

static _Thread_local struct visited query_visited;

int vz_hnsw_search(const vz_hnsw_index *idx, const float *vectors, const float *query, size_t k, size_t ef,
		   bool (*skip)(void *ctx, uint32_t row), void *ctx, vz_hit *out, size_t *nout)
{
	*nout = 0;
	if (idx->count == 0 || k == 0) return VZ_OK;
	struct graph g;
	graph_of_index(idx, vectors, &g);
	if (ef < k) ef = k;
	struct sq8_query sq = { 0 };
	bool use_sq = g.sq_codes != NULL;
	if (use_sq) {
		float *buf = malloc(sizeof(float) * g.dim * 2);
		if (!buf) return vz_fail(VZ_ENOMEM, "out of memory");
		sq8_query_prepare(&g, query, buf, &sq);
		ef = ef * 2 > ef + 32 ? ef * 2 : ef + 32; /* a wider beam makes up for approximate distances */
	}
	struct search_ctx s = { .g = &g, .q = query, .sq = use_sq ? &sq : NULL, .vis = &query_visited, .skip = skip, .skip_ctx = ctx };
	visited_mode(&query_visited, idx->packed != NULL, g.n);
	uint32_t *buf = malloc(sizeof(uint32_t) * (g.m0 + 1));
	int rc = buf ? ctx_init(&s, ef) : vz_fail(VZ_ENOMEM, "out of memory");
	if (!rc) {
		uint32_t cur = g.ep;
		float cur_d = node_dist(&s, cur);
		for (uint32_t lev = g.max_level; lev > 0; lev--) greedy(&s, &cur, &cur_d, lev, buf);
		search_level(&s, cur, cur_d, 0, ef, buf);
		size_t n = s.top.n;
		pair *all = s.cand.a; /* reuse: the candidate heap is no longer needed */
		for (size_t i = n; i > 0; i--) all[i - 1] = heap_pop(&s.top, true);
		if (use_sq) {
			/* re-rank on the float vectors (sq.r, done with, holds one read) */
			size_t len = sizeof(float) * g.dim;
			for (size_t i = 0; i < n && !rc; i++) {
				if (idx->rerank_fd < 0) {
					all[i].d = dist_to(&g, query, all[i].id);
					continue;
				}
				off_t at = (off_t)(idx->rerank_off + (uint64_t)all[i].id * len);
				ssize_t got = pread(idx->rerank_fd, sq.r, len, at);
				if (got != (ssize_t)len)
					rc = vz_fail(got < 0 ? vz_err_from_errno(errno) : VZ_ECORRUPT,
						     "vectors.bin: reading row %u at offset %lld: %s", all[i].id, (long long)at,
						     got < 0 ? strerror(errno) : "the file is shorter than its rows");
				else
					all[i].d = dist_vec(&g, query, sq.r);
			}
			qsort(all, n, sizeof(pair), pair_cmp);
		}
		for (size_t i = 0; !rc && i < n && i < k; i++) out[i] = (vz_hit){ all[i].id, all[i].d };
		if (!rc) *nout = n < k ? n : k;
	}
	ctx_free(&s);
	free(buf);
	free(sq.r);
	return rc;
}

int vz_hnsw_builder_from_index(const vz_hnsw_index *idx, const float *vectors, size_t capacity, vz_hnsw_builder **out)
{
	*out = NULL;
	if (capacity < idx->count) return vz_fail(VZ_EINTERNAL, "hnsw: capacity below the index size");
	vz_hnsw_params p = { .m = idx->m, .ef_construction = vz_load_u32(idx->data + VZ_HEADER_SIZE + 80),
			     .seed = vz_load_u64(idx->data + VZ_HEADER_SIZE + 88), .sq8 = idx->sq_codes != NULL };
	vz_hnsw_builder *b;
	int rc = vz_hnsw_builder_new(idx->dim, idx->metric, &p, vectors, capacity, &b);
	if (rc) return rc;
	size_t n = idx->count;
	memcpy(b->levels, idx->levels, n);
	memcpy(b->links0, idx->links0, n * (1 + idx->m0) * sizeof(uint32_t));
	for (size_t i = 0; i < n; i++) {
		uint32_t lv = b->levels[i];
		if (!lv) continue;
		uint32_t base = idx->upper_index[i];
		size_t words = (size_t)lv * (1 + idx->m);
		if (lv > idx->max_level || base == NONE || (uint64_t)base + words > idx->upper_len) {
			vz_hnsw_builder_free(b);
			return vz_fail(VZ_ECORRUPT, "index.hnsw: node %zu: upper links out of bounds", i);
		}
		if (!(b->upper[i] = malloc(words * sizeof(uint32_t)))) { vz_hnsw_builder_free(b); return vz_fail(VZ_ENOMEM, "out of memory"); }
		memcpy(b->upper[i], idx->upper + base, words * sizeof(uint32_t));
	}
	b->g.n = (uint32_t)n;
	b->g.ep = n ? idx->entry_point : NONE;
	b->g.max_level = idx->max_level;
	*out = b;
	return VZ_OK;
}

int vz_hnsw_verify(const vz_hnsw_index *idx)
{
	uint64_t body = vz_hash64(idx->data + VZ_HEADER_SIZE, idx->size - VZ_HEADER_SIZE);
	if (body != vz_load_u64(idx->data + 32)) return vz_fail(VZ_ECORRUPT, "offset 64: body checksum mismatch");
	size_t n = idx->count;
	uint64_t expect_upper = 0;
	size_t links0_base = (size_t)((const unsigned char *)idx->links0 - idx->data);
	for (size_t i = 0; i < n; i++) {
		uint32_t lv = idx->levels[i];
		if (lv > idx->max_level)
			return vz_fail(VZ_ECORRUPT, "offset %zu: node %zu has level %u above the top level %u",
				       (size_t)(idx->levels - idx->data) + i, i, lv, idx->max_level);
		const uint32_t *l = idx->links0 + i * (1 + idx->m0);
		if (l[0] > idx->m0) return vz_fail(VZ_ECORRUPT, "offset %zu: node %zu has %u links at level 0 (at most %u)", links0_base + i * (1 + idx->m0) * 4, i, l[0], idx->m0);
		for (uint32_t j = 0; j < l[0]; j++)
			if (l[1 + j] >= n || l[1 + j] == i)
				return vz_fail(VZ_ECORRUPT, "offset %zu: node %zu: neighbour id %u out of range", links0_base + (i * (1 + idx->m0) + 1 + j) * 4, i, l[1 + j]);
		uint32_t base = idx->upper_index[i];
		if (lv == 0) {
			if (base != NONE) return vz_fail(VZ_ECORRUPT, "node %zu: level 0 but has upper links", i);
			continue;
		}
		if (base != expect_upper) return vz_fail(VZ_ECORRUPT, "node %zu: upper links at word %u, expected %llu", i, base, (unsigned long long)expect_upper);
		expect_upper += (uint64_t)lv * (1 + idx->m);
		if (expect_upper > idx->upper_len) return vz_fail(VZ_ECORRUPT, "node %zu: upper links past the end", i);
		for (uint32_t lev = 1; lev <= lv; lev++) {
			const uint32_t *u = idx->upper + base + (size_t)(lev - 1) * (1 + idx->m);
			if (u[0] > idx->m) return vz_fail(VZ_ECORRUPT, "node %zu: %u links at level %u (at most %u)", i, u[0], lev, idx->m);
			for (uint32_t j = 0; j < u[0]; j++)
				if (u[1 + j] >= n || u[1 + j] == i || idx->levels[u[1 + j]] < lev)
					return vz_fail(VZ_ECORRUPT, "node %zu: level %u neighbour %u out of range or below that level", i, lev, u[1 + j]);
		}
	}
	if (expect_upper != idx->upper_len) return vz_fail(VZ_ECORRUPT, "upper links: %llu words used of %llu", (unsigned long long)expect_upper, (unsigned long long)idx->upper_len);
	if (n && idx->levels[idx->entry_point] != idx->max_level)
		return vz_fail(VZ_ECORRUPT, "entry point %u is on level %u, not the top level %u", idx->entry_point, idx->levels[idx->entry_point], idx->max_level);
	return VZ_OK;
}

int vz_exact_search(const float *vectors, size_t n, uint32_t dim, enum vz_metric metric, const float *query, size_t k,
		    bool (*skip)(void *ctx, uint32_t row), void *ctx, vz_hit *out, size_t *nout)
{
	heap top = { malloc(sizeof(pair) * (k + 1)), 0, k + 1 };
	if (!top.a) return vz_fail(VZ_ENOMEM, "out of memory");
	for (size_t r = 0; r < n; r++) {
		if (skip && skip(ctx, (uint32_t)r)) continue;
		pair p = { vz_distance(metric, vectors + r * dim, query, dim), (uint32_t)r };
		if (top.n < k) heap_push(&top, p, true);
		else if (k && worse(top.a[0], p)) { heap_pop(&top, true); heap_push(&top, p, true); }
	}
	size_t got = top.n;
	for (size_t i = got; i > 0; i--) {
		pair p = heap_pop(&top, true);
		out[i - 1] = (vz_hit){ p.id, p.d };
	}
	free(top.a);
	*nout = got;
	return VZ_OK;
}
