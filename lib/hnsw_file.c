/* hnsw_file.c: index.hnsw, the file of the HNSW graph - written from a builder, opened in place
 * from a read-only mapping, and verified.
 *
 * index.hnsw (little-endian; sections start on 64-byte boundaries):
 *   0    vz_file_header: magic VZHNSW01, version 2, flags bit 0 = sq8, bit 1 = codes of a
 *        float graph for searches (sq8 section present either way), aux and aux2 = the
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
#include "hnsw_internal.h"
#include "cpu.h"

#include <stdlib.h>
#include <string.h>

bool vz_hnsw_search_on_codes(enum vz_metric metric, uint64_t rows)
{
	return metric != VZ_METRIC_DOT && rows >= VZ_SEARCH_CODES_MIN_ROWS;
}

void vz_hnsw_builder_keep_codes(vz_hnsw_builder *b, const float *min, const float *step)
{
	b->keep_min = min;
	b->keep_step = step;
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
	/* a float graph's codes, for searches: those it was built on (one step), or its floats
	 * encoded here (ranges of each dimension) */
	bool fcodes = !b->sq8 && vz_hnsw_search_on_codes(g->metric, n) && ((g->sq_codes && b->keep_min) || g->vectors);
	bool section = b->sq8 || fcodes;
	uint64_t sq8_off = section ? end : 0;
	if (section) end = sq8_off + (uint64_t)g->dim * 8 + n * g->dim;
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
	if ((b->sq8 && !g->vectors) || (fcodes && g->sq_codes && b->keep_min)) {
		/* built on codes: they and their ranges are the caller's */
		PAD(sq8_off);
		EMIT(b->sq8 ? g->sq_min : b->keep_min, (size_t)g->dim * 4);
		EMIT(b->sq8 ? g->sq_step : b->keep_step, (size_t)g->dim * 4);
		for (uint64_t i = 0; i < n; i += 4096) EMIT(g->sq_codes + i * g->dim, (size_t)((n - i < 4096 ? n - i : 4096) * g->dim));
	} else if (section) {
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
		vz_file_header hd = { .version = INDEX_VERSION, .flags = b->sq8 ? 1 : fcodes ? 2 : 0, .generation = generation,
				      .body_length = end - VZ_HEADER_SIZE, .body_checksum = vz_hasher_digest(h) };
		rc = vz_header_write_start(out, VZ_MAGIC_INDEX, id, &hd);
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
		if ((h.flags & 3) == 0 || (h.flags & 3) == 3 || sq8_off != ((end + 63) & ~(uint64_t)63) || vz_mul_overflow_u64(n, dim, &codes) ||
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
		idx->float_codes = !(h.flags & 1);
	}
	return VZ_OK;
}

/* True when none of the cnt neighbour ids at l (room slots, cnt <= room) is n or more or self:
 * eight slots at a time without a branch (those past cnt masked off), so that the compiler
 * vectorizes it; the ids of a good index are all fine. */
static inline __attribute__((always_inline)) bool links_ok_body(const uint32_t *l, uint32_t cnt, uint32_t room, uint32_t n, uint32_t self)
{
	uint32_t bad = 0;
	size_t j = 0;
	for (; j < cnt && j + 8 <= room; j += 8) {
		const uint32_t *b = l + j;
		uint32_t left = cnt - (uint32_t)j;
		for (uint32_t q = 0; q < 8; q++) bad |= (uint32_t)(q < left) & ((uint32_t)(b[q] >= n) | (uint32_t)(b[q] == self));
	}
	for (; j < cnt; j++) bad |= (uint32_t)(l[j] >= n) | (uint32_t)(l[j] == self);
	return !bad;
}
/* the body compiled for AVX2 where the processor has it (cpu.h) */
VZ_CPU_AVX2_OR_BASELINE(bool, links_ok, (const uint32_t *l, uint32_t cnt, uint32_t room, uint32_t n, uint32_t self), (l, cnt, room, n, self))

typedef uint32_t u32x8 __attribute__((vector_size(32)));
typedef int32_t i32x8 __attribute__((vector_size(32)));

/* True when every node of [from, to) has at most m0 level-0 links and none of them is n or more
 * or the node itself: what links_ok says of each node, for a run of nodes at once, eight slots
 * at a time (those past a node's count masked off) into one accumulator tested at the end, not
 * one test per node; check_nodes then looks for the first bad node only in a run that has one. */
static inline __attribute__((always_inline)) bool links0_run_ok_body(const uint32_t *links0, size_t from, size_t to, uint32_t m0, uint32_t n)
{
	i32x8 bad = { 0 };
	uint32_t other = 0;
	size_t row = 1 + (size_t)m0;
	for (size_t i = from; i < to; i++) {
		const uint32_t *l = links0 + i * row;
		uint32_t cnt = l[0], self = (uint32_t)i, j = 0;
		other |= cnt > m0;
		/* the slots' numbers compared signed (one instruction, not three): a count above m0
		 * (one that would read negative among them) is bad already */
		i32x8 slot = { 0, 1, 2, 3, 4, 5, 6, 7 }, count = (i32x8){ 0 } + (int32_t)cnt;
		for (; j + 8 <= m0; j += 8, slot += 8) {
			u32x8 x;
			memcpy(&x, l + 1 + j, sizeof x);
			bad |= (slot < count) & (i32x8)((x >= n) | (x == self));
		}
		for (; j < m0 && j < cnt; j++) other |= (l[1 + j] >= n) | (l[1 + j] == self);
	}
	for (int q = 0; q < 8; q++) other |= (uint32_t)bad[q];
	return !other;
}
/* the body compiled for AVX2 where the processor has it (cpu.h) */
VZ_CPU_AVX2_OR_BASELINE(bool, links0_run_ok, (const uint32_t *links0, size_t from, size_t to, uint32_t m0, uint32_t n), (links0, from, to, m0, n))

/* A bit per node, set when its level is above 0: what the upper links of level 1 (most of them)
 * ask of their neighbours, in an eighth of the bytes of the levels (in the cache, where the
 * levels of a large graph would be a miss for each neighbour). NULL when out of memory. */
static uint64_t *upper_nodes(const vz_hnsw_index *idx)
{
	size_t n = idx->count;
	uint64_t *up = calloc(n / 64 + 1, 8);
	if (!up) return NULL;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t x, t;
		memcpy(&x, idx->levels + i, 8);
		/* the top bit of each byte that is not 0, then those 8 bits gathered into one byte */
		t = (((x & 0x7f7f7f7f7f7f7f7fu) + 0x7f7f7f7f7f7f7f7fu) | x) & 0x8080808080808080u;
		up[i / 64] |= (((t >> 7) * 0x0102040810204080u) >> 56) << (i % 64);
	}
	for (; i < n; i++) up[i / 64] |= (uint64_t)(idx->levels[i] != 0) << (i % 64);
	return up;
}

/* The structure of nodes [*next, to) (their levels, links and upper-level blocks, in order:
 * *expect_upper is where the next node's upper links must begin); *next is the node after the
 * last one checked. up: upper_nodes (or NULL). */
static int check_nodes(const vz_hnsw_index *idx, const uint64_t *up, size_t *next, size_t to, uint64_t *expect_upper)
{
	size_t n = idx->count;
	size_t links0_base = (size_t)((const unsigned char *)idx->links0 - idx->data);
	bool links_fine = *next < to && links0_run_ok(idx->links0, *next, to, idx->m0, (uint32_t)n);
	for (size_t i = *next; i < to; i++, *next = i) {
		uint32_t lv = idx->levels[i];
		if (lv > idx->max_level)
			return vz_fail(VZ_ECORRUPT, "offset %zu: node %zu has level %u above the top level %u",
				       (size_t)(idx->levels - idx->data) + i, i, lv, idx->max_level);
		const uint32_t *l = idx->links0 + i * (1 + idx->m0);
		/* in a run known good, no node's count or ids need a look of their own */
		if (!links_fine && l[0] > idx->m0) return vz_fail(VZ_ECORRUPT, "offset %zu: node %zu has %u links at level 0 (at most %u)", links0_base + i * (1 + idx->m0) * 4, i, l[0], idx->m0);
		if (!links_fine && !links_ok(l + 1, l[0], idx->m0, (uint32_t)n, (uint32_t)i)) /* which one, and where */
			for (uint32_t j = 0; j < l[0]; j++)
				if (l[1 + j] >= n || l[1 + j] == i)
					return vz_fail(VZ_ECORRUPT, "offset %zu: node %zu: neighbour id %u out of range", links0_base + (i * (1 + idx->m0) + 1 + j) * 4, i, l[1 + j]);
		uint32_t base = idx->upper_index[i];
		if (lv == 0) {
			if (base != NONE) return vz_fail(VZ_ECORRUPT, "node %zu: level 0 but has upper links", i);
			continue;
		}
		if (base != *expect_upper) return vz_fail(VZ_ECORRUPT, "node %zu: upper links at word %u, expected %llu", i, base, (unsigned long long)*expect_upper);
		*expect_upper += (uint64_t)lv * (1 + idx->m);
		if (*expect_upper > idx->upper_len) return vz_fail(VZ_ECORRUPT, "node %zu: upper links past the end", i);
		for (uint32_t lev = 1; lev <= lv; lev++) {
			const uint32_t *u = idx->upper + base + (size_t)(lev - 1) * (1 + idx->m);
			if (u[0] > idx->m) return vz_fail(VZ_ECORRUPT, "node %zu: %u links at level %u (at most %u)", i, u[0], lev, idx->m);
			for (uint32_t j = 0; j < u[0]; j++)
				if (u[1 + j] >= n || u[1 + j] == i ||
				    (lev == 1 && up ? !(up[u[1 + j] / 64] >> (u[1 + j] % 64) & 1) : idx->levels[u[1 + j]] < lev))
					return vz_fail(VZ_ECORRUPT, "node %zu: level %u neighbour %u out of range or below that level", i, lev, u[1 + j]);
		}
	}
	return VZ_OK;
}

int vz_hnsw_verify(const vz_hnsw_index *idx)
{
	size_t n = idx->count, next = 0;
	uint64_t expect_upper = 0, body;
	int rc = VZ_OK;
	/* a part at a time: the nodes whose level-0 links were just hashed are checked while those
	 * links are in the cache (one read of the largest section from memory, not two); a damaged
	 * body is reported as such even when its structure failed first, as a whole hash would */
	uint64_t *up = upper_nodes(idx);
	vz_hasher *h = vz_hasher_new();
	if (h) {
		size_t links0_base = (size_t)((const unsigned char *)idx->links0 - idx->data), row = (1 + (size_t)idx->m0) * 4;
		const size_t part = 16u << 10;
		for (size_t at = VZ_HEADER_SIZE; at < idx->size;) {
			size_t end = (at / part + 1) * part;
			if (end > idx->size) end = idx->size;
			vz_hasher_update(h, idx->data + at, end - at);
			size_t upto = end <= links0_base ? 0 : (end - links0_base) / row;
			if (!rc && upto > next) rc = check_nodes(idx, up, &next, upto < n ? upto : n, &expect_upper);
			at = end;
		}
		body = vz_hasher_digest(h);
		vz_hasher_free(h);
	} else {
		body = vz_hash64(idx->data + VZ_HEADER_SIZE, idx->size - VZ_HEADER_SIZE);
	}
	if (body != vz_load_u64(idx->data + 32)) rc = vz_fail(VZ_ECORRUPT, "offset 64: body checksum mismatch");
	else if (!rc) rc = check_nodes(idx, up, &next, n, &expect_upper);
	free(up);
	if (rc) return rc;
	if (expect_upper != idx->upper_len) return vz_fail(VZ_ECORRUPT, "upper links: %llu words used of %llu", (unsigned long long)expect_upper, (unsigned long long)idx->upper_len);
	if (n && idx->levels[idx->entry_point] != idx->max_level)
		return vz_fail(VZ_ECORRUPT, "entry point %u is on level %u, not the top level %u", idx->entry_point, idx->levels[idx->entry_point], idx->max_level);
	return VZ_OK;
}
