/* hnsw_build.c: building the HNSW graph (hnswlib's algorithm: layers, the neighbour-selection
 * heuristic, M links on upper layers and 2M at layer 0) in memory with any number of threads,
 * on float vectors or on sq8 codes (a float graph past BUILD_CODES_MIN is searched on codes
 * made for its build), and growing a builder from an opened index. */
#include "hnsw_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A node's own vector as the query of a search or of distances to other nodes: its floats,
 * or, in a graph built on sq8 codes (no floats), its codes decoded with the per-query terms
 * of sq8_dist. Distances between two nodes are then those of their decoded vectors. On codes
 * of one step (g->u8), its codes c, measured against the others' in integers. */
struct node_query { const float *q; struct sq8_query sq; bool on_codes; const uint8_t *c; };
#define NODE_QUERY_FLOATS(dim) (3 * (size_t)(dim)) /* scratch one node_query needs */

static void node_query_set(const struct graph *g, uint32_t node, float *scratch, struct node_query *nq)
{
	nq->on_codes = g->sq_codes != NULL;
	nq->c = NULL;
	if (g->u8) {
		nq->c = g->sq_codes + (size_t)node * g->dim;
		return;
	}
	if (g->vectors) {
		nq->q = g->vectors + (size_t)node * g->vstride;
		/* a float graph built on codes: the node's exact floats against the others' codes */
		if (nq->on_codes) hnsw_sq8_query_prepare(g, nq->q, scratch, &nq->sq);
		return;
	}
	const uint8_t *c = g->sq_codes + (size_t)node * g->dim;
	for (uint32_t i = 0; i < g->dim; i++) scratch[i] = g->sq_min[i] + g->sq_step[i] * (float)c[i];
	nq->q = scratch;
	hnsw_sq8_query_prepare(g, scratch, scratch + g->dim, &nq->sq);
}

static inline float node_query_dist(const struct graph *g, const struct node_query *nq, uint32_t node)
{
	if (nq->c) return (float)g->u8(nq->c, g->sq_codes + (size_t)node * g->dim, g->dim);
	return nq->on_codes ? sq8_dist(g, &nq->sq, node) : dist_to(g, nq->q, node);
}

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

void vz_sq8_step_uniform(float *step, uint32_t dim)
{
	float s = 0;
	for (uint32_t d = 0; d < dim; d++) s = step[d] > s ? step[d] : s;
	for (uint32_t d = 0; d < dim; d++) step[d] = s;
}

bool vz_hnsw_build_on_codes(enum vz_metric metric, uint64_t rows, uint32_t dim)
{
	return metric != VZ_METRIC_DOT && rows * dim * sizeof(float) > VZ_BUILD_CODES_MIN;
}

int vz_hnsw_builder_on_codes(vz_hnsw_builder *b, const uint8_t *codes)
{
	if (b->sq8 || b->g.metric == VZ_METRIC_DOT) return vz_fail(VZ_EINVAL, "hnsw: only a euclidean or cosine float graph is built on codes of one step");
	b->g.vectors = NULL;
	b->g.sq_codes = codes;
	b->g.u8 = vz_u8_l2_kernel();
	return VZ_OK;
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

/* The candidates a node's search keeps. On codes of one step, BEAM_ON_CODES_PCT percent of
 * ef_construction: their rounding (a step of 1/255 of the widest range in every dimension)
 * makes near neighbours tie or swap, and a wider beam keeps those a float search would have.
 * 1M x 128 synthetic, M 16, efC 200, 2 threads: see the README's build figures. */
enum { BEAM_ON_CODES_PCT = 110 };

static uint32_t build_beam(const vz_hnsw_builder *b)
{
	return b->g.u8 ? (uint32_t)((uint64_t)b->ef_construction * BEAM_ON_CODES_PCT / 100) : b->ef_construction;
}

static int insert_node(vz_hnsw_builder *b, uint32_t node, struct worker *w)
{
	struct graph *g = &b->g;
	uint32_t level = b->levels[node];
	pair *scratch = malloc(sizeof(pair) * (g->m0 + 2) * 2), *kept = scratch + g->m0 + 2;
	uint32_t *buf = malloc(sizeof(uint32_t) * (g->m0 + 1));
	uint32_t beam = build_beam(b);
	pair *sorted = malloc(sizeof(pair) * (beam + 2));
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
			hnsw_sq8_query_prepare(g, q, w->node_buf + g->dim, &nq.sq);
		}
	} else {
		node_query_set(g, node, w->node_buf, &nq);
	}
	struct search_ctx s = { .g = g, .q = nq.q, .sq = nq.on_codes && !nq.c ? &nq.sq : NULL, .qc = nq.c, .locks = b->locks, .vis = &w->vis };
	if (!rc) rc = (!scratch || !buf || !sorted || !sel) ? vz_fail(VZ_ENOMEM, "out of memory") : hnsw_ctx_init(&s, beam);
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
	for (uint32_t lev = max_level; lev > level; lev--) hnsw_greedy(&s, &cur, &cur_d, lev, buf);
	for (int lev = (int)(level < max_level ? level : max_level); lev >= 0; lev--) {
		if ((rc = hnsw_visited_reset(&w->vis))) break;
		hnsw_search_level(&s, cur, cur_d, (uint32_t)lev, beam, buf);
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
	hnsw_ctx_free(&s);
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
	hnsw_visited_mode(&w->vis, true, b->end);
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
		vz_progress("indexing", i + 1, b->end); /* rows of the index linked so far */
	}
	return NULL;
}

/* Codes of rows [0, n) of a float graph, for one vz_hnsw_builder_add. Euclidean and cosine
 * (unit rows, ranked as by L2): codes of one step in every dimension, so that the squared L2
 * distance of two rows is that step squared times an integer sum, and each node measures its
 * own codes against the others' with vz_u8_l2_kernel (100k x 128, 2 threads: see the README).
 * Dot product: each node is the query of its own search, exact floats against the others'
 * codes (the asymmetric distance of an sq8 search), in the search and in the choice of
 * neighbours alike. */
static int build_codes(vz_hnsw_builder *b, size_t n)
{
	struct graph *g = &b->g;
	uint32_t dim = g->dim;
	uint64_t bytes;
	if (vz_mul_overflow_u64(n, dim, &bytes)) return vz_fail(VZ_ENOMEM, "index too large");
	b->build_ranges = malloc(sizeof(float) * dim * 3);
	b->build_codes = malloc(bytes ? bytes : 1);
	if (!b->build_ranges || !b->build_codes) return vz_fail(VZ_ENOMEM, "out of memory for the build codes of %zu rows", n);
	float *lo = b->build_ranges, *step = lo + dim, *hi = step + dim;
	vz_sq8_range_start(lo, hi, dim);
	for (size_t i = 0; i < n; i++) vz_sq8_range_add(lo, hi, g->vectors + i * g->vstride, dim);
	vz_sq8_range_finish(lo, hi, step, dim);
	bool one_step = g->metric != VZ_METRIC_DOT;
	if (one_step) vz_sq8_step_uniform(step, dim);
	for (size_t i = 0; i < n; i++) vz_sq8_encode(g->vectors + i * g->vstride, lo, step, dim, b->build_codes + i * dim);
	g->sq_min = lo;
	g->sq_step = step;
	g->sq_codes = b->build_codes;
	g->u8 = one_step ? vz_u8_l2_kernel() : NULL;
	return VZ_OK;
}

static void build_codes_free(vz_hnsw_builder *b)
{
	if (b->g.sq_codes == b->build_codes) b->g.sq_codes = NULL, b->g.sq_min = b->g.sq_step = NULL, b->g.u8 = NULL;
	free(b->build_codes);
	free(b->build_ranges);
	b->build_codes = NULL;
	b->build_ranges = NULL;
}

/* Below this many rows in one call, one thread (see vz_hnsw_builder_add). */
enum { SMALL_BUILD_ROWS = 1024 };

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
	/* A small graph is built on one thread: the threads' interleaving would make its links (and
	 * so its approximate answers) differ from one build to the next, and for so few rows they
	 * gain nothing. Then a graph rebuilt by recover is the same bytes as the one it replaces. */
	if (threads < 1 || count < SMALL_BUILD_ROWS) threads = 1;
	if ((size_t)threads > count) threads = count ? (int)count : 1;
	struct worker *w = calloc((size_t)threads, sizeof *w);
	pthread_t *t = calloc((size_t)threads, sizeof *t);
	if (!w || !t) { free(w); free(t); return vz_fail(VZ_ENOMEM, "out of memory"); }
	int rc = VZ_OK;
	if (b->g.vectors && !b->g.sq_codes && (uint64_t)b->end * b->g.dim * sizeof(float) > VZ_BUILD_CODES_MIN &&
	    (rc = build_codes(b, b->end))) {
		build_codes_free(b);
		free(w);
		free(t);
		return rc;
	}
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
	build_codes_free(b);
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

int vz_hnsw_builder_from_index(const vz_hnsw_index *idx, const float *vectors, size_t capacity, vz_hnsw_builder **out)
{
	*out = NULL;
	if (capacity < idx->count) return vz_fail(VZ_EINTERNAL, "hnsw: capacity below the index size");
	vz_hnsw_params p = { .m = idx->m, .ef_construction = vz_load_u32(idx->data + VZ_HEADER_SIZE + 80),
			     .seed = vz_load_u64(idx->data + VZ_HEADER_SIZE + 88), .sq8 = idx->sq_codes != NULL && !idx->float_codes };
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
