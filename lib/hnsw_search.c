/* hnsw_search.c: searching an HNSW graph - the visited set, best-first search of a level and
 * greedy descent (shared with the builder), and vz_hnsw_search of a mapped or packed index;
 * also vz_exact_search, the brute force the tests and small collections use. */
#include "hnsw_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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

/* Switches the set to dense marks for a graph of n nodes (false: back to the hash set). */
int hnsw_visited_mode(struct visited *v, bool dense, size_t n)
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

/* Empties the set for a new search. */
int hnsw_visited_reset(struct visited *v)
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

/* The per-query terms of sq8_dist: r = q - min (euclidean), qs = q * step and base = q . min
 * (dot products); r and qs are dim floats each, in the caller's buf (2 * dim floats). */
void hnsw_sq8_query_prepare(const struct graph *g, const float *q, float *buf, struct sq8_query *sq)
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

/* read_links of a graph read by pread: the list into buf (1 + m0 words), its ids from buf[1];
 * an upper level's from rd->up, where the node's levels 1..lev are read in one block (the
 * lists of its lower levels follow, for the descent's next level: the same bounds hold, as
 * the block ends where level lev's list ends) */
static const uint32_t *read_links_pread(const struct graph *g, uint32_t node, uint32_t lev, uint32_t *buf, uint32_t cap, uint32_t *count)
{
	struct hnsw_reader *rd = g->rd;
	const uint32_t *l;
	if (lev == 0) {
		l = g->links0 + (size_t)node * g->lstride;
	} else {
		size_t words = 1 + (size_t)g->m;
		if (rd->up && rd->up_node == node && lev <= rd->up_levels) {
			l = rd->up + (lev - 1) * words;
			*count = l[0] < cap ? l[0] : cap;
			return l + 1;
		}
		uint32_t base;
		if (!reader_get(rd, rd->index_fd, rd->index_base, "index.hnsw", g->upper_index + node, &base, sizeof base) || base == NONE)
			return buf;
		uint64_t off = (uint64_t)base + (uint64_t)(lev - 1) * words;
		if (off + words > g->upper_len) return buf;
		if (rd->up) {
			rd->up_node = NONE;
			if (!reader_get(rd, rd->index_fd, rd->index_base, "index.hnsw", g->upper + base, rd->up, sizeof(uint32_t) * lev * words))
				return buf;
			rd->up_node = node;
			rd->up_levels = lev;
			l = rd->up + (lev - 1) * words;
			*count = l[0] < cap ? l[0] : cap;
			return l + 1;
		}
		l = g->upper + off;
	}
	if (!reader_get(rd, rd->index_fd, rd->index_base, "index.hnsw", l, buf, sizeof(uint32_t) * (1 + (size_t)(lev ? g->m : g->m0))))
		return buf;
	*count = buf[0] < cap ? buf[0] : cap;
	return buf + 1;
}

/* A node's neighbour list at lev (at most cap ids; *count of them): while building, copied
 * into buf under the node's stripe lock, as other threads rewrite lists; in a finished graph,
 * read in place (the copy was 2% of a query's time on Fashion-MNIST), or with pread into buf
 * (1 + m0 words) when the graph is read so. */
static inline const uint32_t *read_links(const struct search_ctx *s, uint32_t node, uint32_t lev, uint32_t *buf, uint32_t cap,
					 uint32_t *count)
{
	*count = 0;
	if (s->g->rd) return read_links_pread(s->g, node, lev, buf, cap, count);
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

/* Greedy descent on one upper level: returns the closest node found from *cur. A graph read
 * by pread marks the nodes it measures in s->vis (the caller empties it before level 0) and
 * measures none twice: a node measured before was no closer than *cur_d then, and *cur_d only
 * falls, so the answer is the same with one read less (10M x 128: 47 of 1,163 reads) */
void hnsw_greedy(struct search_ctx *s, uint32_t *cur, float *cur_d, uint32_t lev, uint32_t *buf)
{
	bool changed = true;
	while (changed) {
		changed = false;
		uint32_t n;
		const uint32_t *nbs = read_links(s, *cur, lev, buf, s->g->m, &n);
		for (uint32_t i = 0; i < n; i++) {
			uint32_t nb = nbs[i];
			if (nb >= s->g->n || (s->g->rd && !visit(s->vis, nb))) continue;
			float d = node_dist(s, nb);
			if (d < *cur_d) { *cur_d = d; *cur = nb; changed = true; }
		}
	}
}

static bool heap_grow(heap *h)
{
	pair *a = realloc(h->a, h->cap * 2 * sizeof(pair));
	if (!a) return false;
	h->a = a;
	h->cap *= 2;
	return true;
}

/* Where node's distance is read: its sq8 codes or its floats. */
static inline const void *row_of(const struct search_ctx *s, uint32_t node)
{
	const struct graph *g = s->g;
	if (s->sq || s->qc) return g->sq_codes + (size_t)node * g->dim;
	return g->h16 ? (const void *)(g->h16 + (size_t)node * g->hstride) : (const void *)(g->vectors + (size_t)node * g->vstride);
}

/* Asks for the cache lines of a row after its first. */
static inline void prefetch_rest(const void *row, size_t bytes)
{
	const char *line = (const char *)((uintptr_t)row & ~(uintptr_t)63), *last = (const char *)row + bytes - 1;
	for (line += 64; line <= last; line += 64) __builtin_prefetch(line);
}

/* Asks for every cache line of a row, its first too. */
static inline void prefetch_row(const void *row, size_t bytes)
{
	__builtin_prefetch(row);
	prefetch_rest(row, bytes);
}

/* Best-first search of one level from ep; leaves up to ef results in s->top (a max-heap). */
void hnsw_search_level(struct search_ctx *s, uint32_t ep, float ep_d, uint32_t lev, size_t ef, uint32_t *buf)
{
	const struct graph *g = s->g;
	uint32_t cap = lev == 0 ? g->m0 : g->m;
	size_t row_bytes = (size_t)g->dim * (s->sq || s->qc ? 1 : g->h16 ? sizeof(uint16_t) : sizeof(float));
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
		/* the neighbours not visited yet, their first line asked for; then, while one is
		 * measured, the rest of the next one's row (the hardware's prefetcher starts only a few
		 * lines in: a 784-float row is 49 lines) */
		uint32_t todo[n ? n : 1], t = 0;
		for (uint32_t i = 0; i < n; i++) {
			uint32_t nb = nbs[i];
			if (nb >= g->n || !visit(s->vis, nb)) continue;
			todo[t++] = nb;
			if (!g->rd) __builtin_prefetch(row_of(s, nb));
		}
		for (uint32_t i = 0; i < t; i++) {
			uint32_t nb = todo[i];
			if (i + 1 < t && !g->rd) prefetch_rest(row_of(s, todo[i + 1]), row_bytes);
			float d = node_dist(s, nb);
			if (s->top.n < ef || d < bound) {
				/* a filter that skips most rows keeps top short, so that every node
				 * reached becomes a candidate: the heap grows (or, out of memory, the
				 * node is left out) */
				if (s->cand.n == s->cand.cap && !heap_grow(&s->cand)) continue;
				heap_push(&s->cand, (pair){ d, nb }, false);
				/* the links of the node expanded next, as hnswlib does (not those of every
				 * neighbour: most are never expanded) */
				if (!g->rd) __builtin_prefetch(g->links0 + (size_t)s->cand.a[0].id * g->lstride);
				if (!s->skip || !s->skip(s->skip_ctx, nb)) {
					heap_push(&s->top, (pair){ d, nb }, true);
					if (s->top.n > ef) heap_pop(&s->top, true);
					bound = s->top.a[0].d;
				}
			}
		}
	}
}

int hnsw_ctx_init(struct search_ctx *s, size_t ef)
{
	size_t cap = ef * 32 + 256; /* candidates can outgrow ef; grown on demand below */
	s->cand.a = malloc(cap * sizeof(pair));
	s->top.a = malloc((ef + 2) * sizeof(pair));
	s->cand.cap = cap;
	s->top.cap = ef + 2;
	if (!s->cand.a || !s->top.a) return vz_fail(VZ_ENOMEM, "out of memory");
	return hnsw_visited_reset(s->vis);
}

void hnsw_ctx_free(struct search_ctx *s)
{
	free(s->cand.a);
	free(s->top.a);
}

size_t vz_hnsw_count(const vz_hnsw_index *idx) { return idx->count; }

/* Where a packed row's vector starts (u32 words): past its links, on a 64-byte boundary, so
 * that a distance reads as few cache lines as the vector fills (128 floats: 8, where from just
 * past the links they spanned 9) */
static inline size_t packed_vector_at(const vz_hnsw_index *idx)
{
	return (1 + (size_t)idx->m0 + 15) & ~(size_t)15;
}

static void graph_of_index(const vz_hnsw_index *idx, const float *vectors, struct graph *g)
{
	*g = (struct graph){ .n = (uint32_t)idx->count, .dim = idx->dim, .m = idx->m, .m0 = idx->m0, .max_level = idx->max_level,
			     .ep = idx->entry_point, .metric = idx->metric, .vectors = vectors, .levels = idx->levels,
			     .links0 = (uint32_t *)idx->links0, .upper_index = idx->upper_index, .upper = idx->upper,
			     .upper_len = idx->upper_len, .sq_min = idx->sq_min, .sq_step = idx->sq_step, .sq_codes = idx->sq_codes,
			     .vstride = idx->dim, .lstride = 1 + (size_t)idx->m0, .kernel = vz_kernel_for(idx->metric) };
	if (idx->packed && idx->packed_half) {
		g->links0 = idx->packed;
		g->lstride = idx->packed_stride;
		g->h16 = (const uint16_t *)(idx->packed + packed_vector_at(idx));
		g->hstride = idx->packed_stride * 2;
		g->hkernel = vz_h16_kernel_for(idx->metric);
	} else if (idx->packed) {
		g->links0 = idx->packed;
		g->vectors = (const float *)(idx->packed + packed_vector_at(idx));
		g->vstride = g->lstride = idx->packed_stride;
	}
}

/* f as binary16 in *h, when it converts exactly (zero or a normal half; no subnormals). */
static inline bool half_exact(float f, uint16_t *h)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	uint32_t sign = (u >> 16) & 0x8000, a = u & 0x7fffffff;
	int e = (int)(a >> 23) - 127;
	if (a == 0) {
		*h = (uint16_t)sign;
		return true;
	}
	if (e < -14 || e > 15 || (a & 0x1fff)) return false;
	*h = (uint16_t)(sign | (uint32_t)(e + 15) << 10 | (a & 0x7fffff) >> 13);
	return true;
}

/* vz_hnsw_pack's copy with each vector in binary16, rows 64-byte aligned: half the bytes a
 * distance reads. Only where every value converts exactly (pixels, SIFT's integers...), so
 * distances are the float kernel's bit for bit and answers do not change (Fashion-MNIST-784,
 * 10,000 queries, ef 20, one thread: whole `vz query --batch` process CPU time 0.69x, peak RSS
 * 225 -> 138 MiB, 7 interleaved pairs at load 17). False, with nothing kept,
 * at the first value that does not (or without a kernel for it). */
static bool pack_half(vz_hnsw_index *idx, const float *vectors, bool mapped)
{
	if (!vz_h16_kernel_for(idx->metric)) return false;
	size_t links = 1 + (size_t)idx->m0, at = packed_vector_at(idx), stride = (at + (idx->dim + 1) / 2 + 15) & ~(size_t)15, bytes;
	if (vz_mul_overflow(idx->count, stride * sizeof(uint32_t), &bytes)) return false;
	uint32_t *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) return false;
	const size_t batch = 1024;
	for (size_t i = 0; i < idx->count; i++) {
		uint32_t *row = p + i * stride;
		memcpy(row, idx->links0 + i * links, links * sizeof(uint32_t));
		uint16_t *h = (uint16_t *)(row + at);
		const float *v = vectors + i * idx->dim;
		for (uint32_t d = 0; d < idx->dim; d++) {
			if (!half_exact(v[d], &h[d])) {
				munmap(p, bytes);
				return false;
			}
		}
		if (mapped && ((i + 1) % batch == 0 || i + 1 == idx->count)) {
			size_t from = i + 1 - ((i % batch) + 1);
			vz_map_release(idx->links0 + from * links, idx->links0 + (i + 1) * links);
			vz_map_release(vectors + from * idx->dim, vectors + (i + 1) * idx->dim);
		}
	}
	mprotect(p, bytes, PROT_READ);
	idx->packed = p;
	idx->packed_bytes = bytes;
	idx->packed_stride = stride;
	idx->packed_half = true;
	return true;
}

int vz_hnsw_pack(vz_hnsw_index *idx, const float *vectors, bool mapped)
{
	if (idx->packed || idx->sq_codes || idx->count == 0) return VZ_OK;
	if (pack_half(idx, vectors, mapped)) return VZ_OK;
	size_t at = packed_vector_at(idx), stride = (at + idx->dim + 15) & ~(size_t)15, bytes;
	if (vz_mul_overflow(idx->count, stride * sizeof(uint32_t), &bytes)) return vz_fail(VZ_ENOMEM, "index too large to load");
	uint32_t *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) return vz_fail(VZ_ENOMEM, "out of memory to load the index (%zu bytes)", bytes);
	/* no MADV_HUGEPAGE: measured on this project's VMs, 2 MiB pages made the load slower
	 * (compaction, zeroing) and the searches after it no faster (QPS medians 0.62 -> 0.82
	 * of hnswlib's on 1M x 128 without them). Measured again (10,000 queries, ef 80, one
	 * thread, `vz query --batch` process CPU time, 5 interleaved pairs, load 10): 1M x 128
	 * 3.3 -> 4.5 s with them, 43% of it clear_page_erms zeroing fresh 2 MiB pages (the VM
	 * backs each on first touch), though 100k x 128 gained (585 -> 520 ms). */
	const size_t batch = 1024; /* nodes copied between drops: a few MiB held twice at most */
	for (size_t i = 0; i < idx->count; i++) {
		memcpy(p + i * stride, idx->links0 + i * (1 + idx->m0), (1 + (size_t)idx->m0) * sizeof(uint32_t));
		memcpy(p + i * stride + at, vectors + i * idx->dim, (size_t)idx->dim * sizeof(float));
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
	idx->packed_half = false;
}

static _Thread_local struct visited query_visited;

void vz_hnsw_search_thread_done(void)
{
	free(query_visited.slot);
	free(query_visited.mark);
	memset(&query_visited, 0, sizeof query_visited);
}

int vz_hnsw_search(const vz_hnsw_index *idx, const float *vectors, const float *query, size_t k, size_t ef,
		   bool (*skip)(void *ctx, uint32_t row), void *ctx, vz_hit *out, size_t *nout)
{
	*nout = 0;
	if (idx->count == 0 || k == 0) return VZ_OK;
	struct graph g;
	graph_of_index(idx, vectors, &g);
	struct hnsw_reader rd = { .index_fd = idx->read_index_fd, .vec_fd = idx->read_vec_fd, .index_base = idx->data, .vec_base = idx->read_vec_base,
				  .up_node = NONE };
	/* a few queries read by pread read what the mapped search would: a float graph's codes
	 * (128 bytes of index.hnsw at 128 dimensions), then the floats of the beam re-ranked, so
	 * that the answers are the same bytes (sq8 collections are not read so) */
	if (idx->by_read && !idx->packed && (!g.sq_codes || idx->float_codes)) {
		if (!(rd.vbuf = malloc(sizeof(float) * g.dim))) return vz_fail(VZ_ENOMEM, "out of memory");
		if (g.max_level) rd.up = malloc(sizeof(uint32_t) * g.max_level * (1 + (size_t)g.m)); /* NULL: list by list */
		g.rd = &rd;
	}
	if (ef < k) ef = k;
	struct sq8_query sq = { 0 };
	bool use_sq = g.sq_codes != NULL;
	if (use_sq) {
		float *buf = malloc(sizeof(float) * g.dim * 2);
		if (!buf) return vz_fail(VZ_ENOMEM, "out of memory");
		hnsw_sq8_query_prepare(&g, query, buf, &sq);
		/* an sq8 collection's graph, built on codes, widens the beam to make up for
		 * approximate distances; a float graph's codes (one step at most 1/255 of the
		 * widest range) keep the recall of its float search at the same ef, the beam
		 * re-ranked (1M x 128, ef 96: recall@10 0.9556 on floats, 0.9526 on codes) */
		if (!idx->float_codes) ef = ef * 2 > ef + 32 ? ef * 2 : ef + 32;
	}
	struct search_ctx s = { .g = &g, .q = query, .sq = use_sq ? &sq : NULL, .vis = &query_visited, .skip = skip, .skip_ctx = ctx };
	hnsw_visited_mode(&query_visited, idx->packed != NULL, g.n);
	uint32_t *buf = malloc(sizeof(uint32_t) * (g.m0 + 1));
	int rc = buf ? hnsw_ctx_init(&s, ef) : vz_fail(VZ_ENOMEM, "out of memory");
	uint32_t cur = g.ep;
	float cur_d = 0;
	if (!rc) {
		cur_d = node_dist(&s, cur);
		if (g.rd) visit(s.vis, cur);
		for (uint32_t lev = g.max_level; lev > 0; lev--) hnsw_greedy(&s, &cur, &cur_d, lev, buf);
		if (g.rd && g.max_level) rc = hnsw_visited_reset(s.vis);
	}
	if (!rc) {
		hnsw_search_level(&s, cur, cur_d, 0, ef, buf);
		size_t n = s.top.n;
		pair *all = s.cand.a; /* reuse: the candidate heap is no longer needed */
		for (size_t i = n; i > 0; i--) all[i - 1] = heap_pop(&s.top, true);
		if (use_sq) {
			/* re-rank on the float vectors (sq.r, done with, holds one read) */
			size_t len = sizeof(float) * g.dim;
			/* a float graph's codes order the beam well enough that only its best
			 * max(2k, ef/2) need their floats (1M x 128, ef 96: recall@10 0.9526 re-ranking
			 * 20, 48 or all 96, 0.9413 re-ranking 10; 64Ki x 16 unit rows, cosine, ef 64:
			 * 0.980 re-ranking 20, 0.992 re-ranking 32, as on the floats), each row asked
			 * for four ahead: a row is eight cache lines, all of them a miss */
			size_t nr = n, want = k * 2 > ef / 2 ? k * 2 : ef / 2;
			if (idx->float_codes && want < nr) nr = want;
			/* ahead: the floats are read from the mapping (the vectors argument), so their
			 * rows can be asked for before they are measured; not when they come by pread,
			 * from rerank_fd (an sq8 collection) or through g.rd (a float graph's codes
			 * searched by_read: dist_to reads each row) */
			bool ahead = idx->rerank_fd < 0 && !g.rd;
			for (size_t i = 0; ahead && i < 4 && i < nr; i++) prefetch_row(g.vectors + (size_t)all[i].id * g.vstride, len);
			for (size_t i = 0; i < nr && !rc; i++) {
				if (idx->rerank_fd < 0) {
					if (ahead && i + 4 < nr) prefetch_row(g.vectors + (size_t)all[i + 4].id * g.vstride, len);
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
			n = nr;
			qsort(all, n, sizeof(pair), pair_cmp);
		}
		if (!rc && rd.err)
			rc = vz_fail(rd.err, "%s: reading at offset %llu: %s", rd.err_file, (unsigned long long)rd.err_off,
				     rd.err_errno ? strerror(rd.err_errno) : "the file is shorter than when it was opened");
		for (size_t i = 0; !rc && i < n && i < k; i++) out[i] = (vz_hit){ all[i].id, all[i].d };
		if (!rc) *nout = n < k ? n : k;
	}
	hnsw_ctx_free(&s);
	free(buf);
	free(sq.r);
	free(rd.vbuf);
	free(rd.up);
	return rc;
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
