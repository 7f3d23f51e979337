/* vectors.c: vectors.bin, the rows of a checkpoint, laid out to be mapped and used in place.
 *
 * Layout (little-endian; every section starts on a 64-byte boundary):
 *   0    vz_file_header: magic VZVECS01, version 2: aux and aux2 = the collection id (version 1,
 *        still read: aux = rows, aux2 = dim), body_checksum over bytes 64..end
 *   64   layout: u64 rows, u32 dim, u32 metric, u64 vectors_off, u64 rowinfo_off, u64 heap_off,
 *        u64 heap_len, u64 hash_off, u64 hash_slots
 *   vectors_off  rows * dim float32, row-major (cosine rows are unit length)
 *   rowinfo_off  rows * 24 bytes: u64 id_off, u64 payload_off (into the heap), u16 id_len,
 *                u16 flags (1 tombstone, 2 has payload), u32 payload_len
 *   heap_off     ids and payloads, byte for byte
 *   hash_off     hash_slots (a power of two >= 2 * live rows) u32 entries: row + 1 of a live row
 *                whose XXH3(id) lands there (linear probing), 0 for empty. */
#include "internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VECTORS_VERSION 2

static uint64_t align64(uint64_t x) { return (x + 63) & ~(uint64_t)63; }

int vz_vectors_open(const char *path, uint64_t expect_rows, uint32_t dim, enum vz_metric metric, vz_vectors *v)
{
	vz_map map;
	int rc = vz_map_file(path, &map);
	if (rc) {
		memset(v, 0, sizeof *v);
		return rc;
	}
	return vz_vectors_open_mapped(path, &map, expect_rows, dim, metric, v);
}

int vz_vectors_open_mapped(const char *path, vz_map *map, uint64_t expect_rows, uint32_t dim, enum vz_metric metric, vz_vectors *v)
{
	memset(v, 0, sizeof *v);
	v->map = *map;
	memset(map, 0, sizeof *map);
	int rc;
	const unsigned char *d = v->map.data;
	uint64_t size = v->map.size;
	if ((rc = vz_header_decode(d, size, VZ_MAGIC_VECTORS, VECTORS_VERSION, &v->header))) goto bad;
	if (size < VZ_HEADER_SIZE + VZ_VECTORS_LAYOUT_SIZE) { rc = vz_fail(VZ_ECORRUPT, "offset 64: file too short for its layout block"); goto bad; }
	if (v->header.body_length != size - VZ_HEADER_SIZE) {
		rc = vz_fail(VZ_ECORRUPT, "offset 24: header says the body is %llu bytes, the file has %llu",
			     (unsigned long long)v->header.body_length, (unsigned long long)(size - VZ_HEADER_SIZE));
		goto bad;
	}
	const unsigned char *L = d + VZ_HEADER_SIZE;
	v->rows = vz_load_u64(L);
	v->dim = vz_load_u32(L + 8);
	v->metric = (enum vz_metric)vz_load_u32(L + 12);
	uint64_t vec_off = vz_load_u64(L + 16), ri_off = vz_load_u64(L + 24), heap_off = vz_load_u64(L + 32);
	v->heap_len = vz_load_u64(L + 40);
	uint64_t hash_off = vz_load_u64(L + 48);
	v->hash_slots = vz_load_u64(L + 56);
	bool v1 = v->header.version == 1; /* the rows and dimension repeated in the header */
	if (v->rows != expect_rows || (v1 && v->header.aux != v->rows)) {
		rc = vz_fail(VZ_ECORRUPT, "offset 64: %llu rows, metadata.json says %llu", (unsigned long long)v->rows,
			     (unsigned long long)expect_rows);
		goto bad;
	}
	if (v->dim != dim || (v1 && v->header.aux2 != dim)) { rc = vz_fail(VZ_ECORRUPT, "offset 72: dimension %u, expected %u", v->dim, dim); goto bad; }
	if (v->metric != metric) { rc = vz_fail(VZ_ECORRUPT, "offset 76: metric %u does not match the configuration", (unsigned)v->metric); goto bad; }
	uint64_t vec_len, ri_len, hash_len, end;
	if (vz_mul_overflow_u64(v->rows, (uint64_t)dim * 4, &vec_len) || vz_mul_overflow_u64(v->rows, VZ_ROWINFO_SIZE, &ri_len) ||
	    vz_mul_overflow_u64(v->hash_slots, 4, &hash_len)) {
		rc = vz_fail(VZ_ECORRUPT, "offset 64: section sizes overflow");
		goto bad;
	}
	/* sections must be in order, aligned, and inside the file */
	uint64_t expect = align64(VZ_HEADER_SIZE + VZ_VECTORS_LAYOUT_SIZE);
	const char *what = NULL;
	if (vec_off != expect) what = "vectors section offset";
	else if (vz_add_overflow_u64(vec_off, vec_len, &end) || ri_off != align64(end)) what = "rowinfo section offset";
	else if (vz_add_overflow_u64(ri_off, ri_len, &end) || heap_off != align64(end)) what = "heap section offset";
	else if (vz_add_overflow_u64(heap_off, v->heap_len, &end) || hash_off != align64(end)) what = "hash section offset";
	else if (vz_add_overflow_u64(hash_off, hash_len, &end) || end != size) what = "section sizes do not add up to the file size";
	else if (v->hash_slots && (v->hash_slots & (v->hash_slots - 1))) what = "hash slot count is not a power of two";
	if (what) { rc = vz_fail(VZ_ECORRUPT, "offset 64: %s", what); goto bad; }
	v->vectors = (const float *)(d + vec_off);
	v->rowinfo = d + ri_off;
	v->heap = d + heap_off;
	v->hash = d + hash_off;
	return VZ_OK;
bad:
	vz_fail_prefix(rc, "%s: ", path);
	vz_vectors_close(v);
	return rc;
}

void vz_vectors_close(vz_vectors *v)
{
	vz_unmap(&v->map);
	memset(v, 0, sizeof *v);
}

/* false (the error set) when the record points outside the heap */
static inline bool rowinfo_decode(const vz_vectors *v, uint64_t row, const unsigned char *r, vz_rowinfo *ri)
{
	uint64_t id_off = vz_load_u64(r), pl_off = vz_load_u64(r + 8);
	size_t il = (size_t)r[16] | (size_t)r[17] << 8;
	unsigned f = (unsigned)r[18] | (unsigned)r[19] << 8;
	uint32_t pl = vz_load_u32(r + 20);
	if (id_off > v->heap_len || il > v->heap_len - id_off || il == 0 || il > VZ_MAX_ID_LEN ||
	    ((f & VZ_ROW_HAS_PAYLOAD) && (pl_off > v->heap_len || pl > v->heap_len - pl_off))) {
		vz_fail(VZ_ECORRUPT, "vectors.bin: offset %llu: row %llu points outside the heap",
			(unsigned long long)(v->rowinfo - v->map.data + row * VZ_ROWINFO_SIZE), (unsigned long long)row);
		return false;
	}
	*ri = (vz_rowinfo){ id_off, (f & VZ_ROW_HAS_PAYLOAD) ? pl_off : 0, il, (f & VZ_ROW_HAS_PAYLOAD) ? pl : 0, f };
	return true;
}

int vz_vectors_rowinfo(const vz_vectors *v, uint64_t row, const unsigned char *r, vz_rowinfo *ri)
{
	return rowinfo_decode(v, row, r, ri) ? VZ_OK : VZ_ECORRUPT;
}

int vz_vectors_row(const vz_vectors *v, uint64_t row, const char **id, size_t *id_len, const char **payload,
		   size_t *payload_len, unsigned *flags)
{
	if (row >= v->rows) {
		vz_fail(VZ_EINTERNAL, "row %llu out of range", (unsigned long long)row);
		return VZ_EINTERNAL; /* (a constant: callers inlining this know their outputs are set on VZ_OK) */
	}
	vz_rowinfo ri;
	if (!rowinfo_decode(v, row, v->rowinfo + row * VZ_ROWINFO_SIZE, &ri)) return VZ_ECORRUPT;
	if (id) *id = (const char *)v->heap + ri.id_off;
	if (id_len) *id_len = ri.id_len;
	if (payload) *payload = (ri.flags & VZ_ROW_HAS_PAYLOAD) ? (const char *)v->heap + ri.pl_off : NULL;
	if (payload_len) *payload_len = ri.pl_len;
	if (flags) *flags = ri.flags;
	return VZ_OK;
}

int64_t vz_vectors_find(const vz_vectors *v, const char *id, size_t id_len)
{
	if (!v->hash_slots) return -1;
	uint64_t mask = v->hash_slots - 1, slot = vz_hash64(id, id_len) & mask;
	for (uint64_t probe = 0; probe < v->hash_slots; probe++, slot = (slot + 1) & mask) {
		uint32_t e = vz_load_u32(v->hash + slot * 4);
		if (e == 0) return -1;
		const char *rid;
		size_t rl;
		unsigned f;
		if (e - 1 >= v->rows || vz_vectors_row(v, e - 1, &rid, &rl, NULL, NULL, &f)) continue;
		if (rl == id_len && !memcmp(rid, id, id_len) && !(f & VZ_ROW_TOMBSTONE)) return (int64_t)(e - 1);
	}
	return -1;
}

typedef uint32_t u32x8 __attribute__((vector_size(32)));

/* True when the n floats at u (read as their bits) are all finite: no exponent of all ones,
 * which is what carries into the sign bit when 1 is added to the exponent of the magnitude.
 * Four vectors of eight at a time into four accumulators, so that the loads, not the chain of
 * ORs into one, set the pace (the floats are in L1, just hashed); the rest one at a time. */
__attribute__((target_clones("avx2", "default"))) static bool all_finite(const uint32_t *u, size_t n)
{
	u32x8 b0 = { 0 }, b1 = { 0 }, b2 = { 0 }, b3 = { 0 }, x0, x1, x2, x3;
	size_t i = 0;
	for (; i + 32 <= n; i += 32) {
		memcpy(&x0, u + i, sizeof x0);
		memcpy(&x1, u + i + 8, sizeof x1);
		memcpy(&x2, u + i + 16, sizeof x2);
		memcpy(&x3, u + i + 24, sizeof x3);
		b0 |= (x0 & 0x7fffffffu) + 0x00800000u;
		b1 |= (x1 & 0x7fffffffu) + 0x00800000u;
		b2 |= (x2 & 0x7fffffffu) + 0x00800000u;
		b3 |= (x3 & 0x7fffffffu) + 0x00800000u;
	}
	b0 |= b1 | b2 | b3;
	uint32_t bad = 0;
	for (int q = 0; q < 8; q++) bad |= b0[q];
	for (; i < n; i++) bad |= (u[i] & 0x7fffffffu) + 0x00800000u;
	return !(bad & 0x80000000u);
}

/* Reports the live rows with a non-finite value among floats [from, to) of the vectors section,
 * each once (*last_row: the last row reported, across calls); returns how many. */
static int report_non_finite(const vz_vectors *v, uint64_t from, uint64_t to, uint64_t *last_row, vz_verify_cb cb, void *ctx)
{
	const uint32_t *u = (const uint32_t *)v->vectors;
	int problems = 0;
	for (uint64_t i = from; i < to; i++) {
		uint64_t r = i / v->dim;
		unsigned f;
		if ((int32_t)(u[i] & 0x7fffffffu) <= 0x7f7fffff || r == *last_row) continue;
		*last_row = r;
		if (vz_vectors_row(v, r, NULL, NULL, NULL, NULL, &f) || (f & VZ_ROW_TOMBSTONE)) continue;
		char what[256];
		snprintf(what, sizeof what, "row %llu: NaN or infinite value", (unsigned long long)r);
		cb(ctx, "vectors.bin", (int64_t)((const unsigned char *)(u + i) - v->map.data), what);
		problems++;
	}
	return problems;
}

int vz_vectors_verify_body(const vz_vectors *v, vz_verify_cb cb, void *ctx)
{
	int problems = 0;
	uint64_t last_row = UINT64_MAX;
	const unsigned char *d = v->map.data;
	uint64_t vec_from = (uint64_t)((const unsigned char *)v->vectors - d), vec_to = vec_from + v->rows * v->dim * 4;
	vz_hasher *h = vz_hasher_new();
	uint64_t body = h ? 0 : vz_hash64(d + VZ_HEADER_SIZE, v->map.size - VZ_HEADER_SIZE);
	/* a part at a time: the floats of a part are checked while it is in the cache from hashing */
	const uint64_t part = 16u << 10;
	for (uint64_t at = VZ_HEADER_SIZE; at < v->map.size;) {
		uint64_t end = (at / part + 1) * part;
		if (end > v->map.size) end = v->map.size;
		if (h) vz_hasher_update(h, d + at, (size_t)(end - at));
		uint64_t a = at > vec_from ? at : vec_from, b = end < vec_to ? end : vec_to;
		if (a < b && !all_finite((const uint32_t *)(d + a), (size_t)(b - a) / 4) && problems <= 20)
			problems += report_non_finite(v, (a - vec_from) / 4, (b - vec_from) / 4, &last_row, cb, ctx);
		at = end;
	}
	if (h) {
		body = vz_hasher_digest(h);
		vz_hasher_free(h);
	}
	if (body != v->header.body_checksum) {
		cb(ctx, "vectors.bin", -1, "body checksum mismatch (bytes 64..end were changed)");
		problems++;
	}
	return problems;
}

int vz_vectors_verify(const vz_vectors *v, vz_verify_cb cb, void *ctx)
{
	return vz_vectors_verify_body(v, cb, ctx) + vz_vectors_verify_rows(v, cb, ctx);
}

int vz_vectors_verify_rows(const vz_vectors *v, vz_verify_cb cb, void *ctx)
{
	uint64_t live = 0, tombstones = 0;
	int problems = vz_vectors_verify_row_range(v, 0, v->rows, NULL, &live, &tombstones, cb, ctx);
	return problems > 20 ? problems : problems + vz_vectors_verify_id_map(v, live, cb, ctx);
}

void vz_vectors_id_prints(const vz_vectors *v, uint64_t from, uint64_t to, uint32_t *prints)
{
	for (uint64_t r = from; r < to; r++) {
		const char *id;
		size_t len;
		unsigned f;
		prints[r] = 0;
		if (!vz_vectors_row(v, r, &id, &len, NULL, NULL, &f) && !(f & VZ_ROW_TOMBSTONE)) prints[r] = (uint32_t)vz_hash64(id, len);
	}
}

/* Whether row r (id, il, first slot `slot`) is what vz_vectors_find(id) answers, as it would
 * answer it, without reading the ids of the rows probed before r's slot unless their length is
 * r's (or, with prints, their print is r's): the rows probed before it are gathered here, their
 * row entries (prints) fetched ahead by the caller. */
enum { PROBED_MAX = 64 };
static int gather_probed(const vz_vectors *v, const uint32_t *prints, uint64_t r, uint64_t slot, uint32_t *probed, int *n)
{
	uint64_t mask = v->hash_slots - 1;
	*n = 0;
	for (uint64_t probe = 0; probe < v->hash_slots; probe++, slot = (slot + 1) & mask) {
		uint32_t e = vz_load_u32(v->hash + slot * 4);
		if (e == 0) return -1; /* not found */
		if (e == r + 1) return 0;
		if (e - 1 >= v->rows) continue; /* never a match */
		if (*n == PROBED_MAX) return 1; /* a long run: vz_vectors_find decides */
		probed[(*n)++] = e - 1;
		if (prints) __builtin_prefetch(prints + (e - 1));
		else __builtin_prefetch(v->rowinfo + (uint64_t)(e - 1) * VZ_ROWINFO_SIZE);
	}
	return -1;
}

int vz_vectors_verify_row_range(const vz_vectors *v, uint64_t from, uint64_t to, const uint32_t *prints, uint64_t *live,
				uint64_t *tombstones, vz_verify_cb cb, void *ctx)
{
	int problems = 0;
	char what[256];
	uint64_t mask = v->hash_slots - 1;
	/* a batch at a time: every live row's id hashed and its first slot fetched ahead, so that the
	 * id map's random reads overlap instead of waiting one after the other; the rows whose first
	 * slot holds another row then have the rows probed before theirs fetched ahead too */
	enum { BATCH = 32 };
	const char *ids[BATCH];
	size_t lens[BATCH];
	uint64_t slots[BATCH];
	uint32_t print[BATCH];
	int state[BATCH], nprobed[BATCH];
	uint32_t probed[BATCH][PROBED_MAX];
	for (uint64_t at = from; at < to; at += BATCH) {
		uint64_t n = to - at < BATCH ? to - at : BATCH;
		for (uint64_t i = 0; i < n; i++) {
			uint64_t r = at + i;
			unsigned f;
			ids[i] = NULL;
			if (vz_vectors_row(v, r, &ids[i], &lens[i], NULL, NULL, &f)) {
				snprintf(what, sizeof what, "row %llu: id or payload outside the heap", (unsigned long long)r);
				cb(ctx, "vectors.bin", (int64_t)((v->rowinfo - v->map.data) + r * VZ_ROWINFO_SIZE), what);
				if (++problems > 20) return problems;
				ids[i] = NULL;
				continue;
			}
			if (f & VZ_ROW_TOMBSTONE) {
				++*tombstones;
				ids[i] = NULL;
				continue;
			}
			++*live;
			if (!v->hash_slots) continue;
			/* a live row's print is the low half of its hash: its first slot, when the map has
			 * no more than 2^32 slots, without hashing its id again */
			uint64_t h = prints && mask <= UINT32_MAX ? prints[r] : vz_hash64(ids[i], lens[i]);
			slots[i] = h & mask;
			print[i] = (uint32_t)h;
			__builtin_prefetch(v->hash + slots[i] * 4);
		}
		for (uint64_t i = 0; i < n; i++) {
			state[i] = 0;
			nprobed[i] = 0;
			if (ids[i] && v->hash_slots) state[i] = gather_probed(v, prints, at + i, slots[i], probed[i], &nprobed[i]);
		}
		/* the ids of probed rows as long as r's are compared: fetch them (with prints: those
		 * whose print is r's, almost never, so none) */
		for (uint64_t i = 0; i < n && !prints; i++)
			for (int j = 0; ids[i] && j < nprobed[i]; j++) {
				const unsigned char *e = v->rowinfo + (uint64_t)probed[i][j] * VZ_ROWINFO_SIZE;
				uint64_t off = vz_load_u64(e); /* a damaged offset may point anywhere: fetch only inside the heap */
				if (((size_t)e[16] | (size_t)e[17] << 8) == lens[i] && off < v->heap_len) __builtin_prefetch(v->heap + off);
			}
		for (uint64_t i = 0; i < n; i++) {
			uint64_t r = at + i;
			if (!ids[i]) continue;
			bool found = v->hash_slots && state[i] == 0;
			for (int j = 0; found && j < nprobed[i]; j++) {
				const char *rid;
				size_t rl;
				unsigned f;
				/* as vz_vectors_find: an earlier live row of the same id is what it answers (a
				 * tombstone, a broken entry or another id has another print) */
				if (prints && prints[probed[i][j]] != print[i]) continue;
				if (vz_vectors_row(v, probed[i][j], &rid, &rl, NULL, NULL, &f)) continue;
				if (rl == lens[i] && !memcmp(rid, ids[i], rl) && !(f & VZ_ROW_TOMBSTONE)) found = false;
			}
			if (state[i] == 1) found = vz_vectors_find(v, ids[i], lens[i]) == (int64_t)r;
			if (!found) {
				snprintf(what, sizeof what, "row %llu: id '%.*s' is not found through the id map (or is a duplicate)",
					 (unsigned long long)r, (int)(lens[i] > 64 ? 64 : lens[i]), ids[i]);
				cb(ctx, "vectors.bin", (int64_t)((v->rowinfo - v->map.data) + r * VZ_ROWINFO_SIZE), what);
				if (++problems > 20) return problems;
			}
		}
	}
	return problems;
}

int vz_vectors_verify_id_map(const vz_vectors *v, uint64_t live, vz_verify_cb cb, void *ctx)
{
	int problems = 0;
	char what[256];
	uint64_t used = 0;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	/* one branch-free pass (vectorized) when every entry is in range, as it is unless damaged */
	const uint32_t *h = (const uint32_t *)(const void *)v->hash; /* 64-byte aligned in the mapping */
	uint32_t top = 0;
	for (uint64_t s = 0; s < v->hash_slots; s++) {
		used += h[s] != 0;
		top = h[s] > top ? h[s] : top;
	}
	if (top <= v->rows) goto counted;
	used = 0;
#endif
	for (uint64_t s = 0; s < v->hash_slots; s++) {
		uint32_t e = vz_load_u32(v->hash + s * 4);
		if (!e) continue;
		used++;
		if (e - 1 >= v->rows) {
			snprintf(what, sizeof what, "id map slot %llu: row %u out of range", (unsigned long long)s, e - 1);
			cb(ctx, "vectors.bin", (int64_t)(v->hash - v->map.data + s * 4), what);
			problems++;
		}
	}
counted:
	if (used != live) {
		snprintf(what, sizeof what, "id map holds %llu entries for %llu live rows", (unsigned long long)used,
			 (unsigned long long)live);
		cb(ctx, "vectors.bin", (int64_t)(v->hash - v->map.data), what);
		problems++;
	}
	return problems;
}

int vz_vectors_write(const char *to, const vz_coll_id *id, uint64_t generation, uint32_t dim, enum vz_metric metric,
		     vz_row_reader read, void *ctx, const vz_out_row *rows, uint64_t n, vz_file_sum *sum)
{
	if (n > UINT32_MAX - 1) return vz_fail(VZ_ERANGE, "too many rows (%llu)", (unsigned long long)n);
	uint64_t live = 0, heap_len = 0;
	for (uint64_t r = 0; r < n; r++) {
		if (!rows[r].tombstone) live++;
		heap_len += rows[r].id_len + (rows[r].has_payload ? rows[r].payload_len : 0);
	}
	uint64_t slots = 16;
	while (slots < 2 * live) slots *= 2;
	uint64_t vec_off = align64(VZ_HEADER_SIZE + VZ_VECTORS_LAYOUT_SIZE);
	uint64_t ri_off = align64(vec_off + n * dim * 4);
	uint64_t heap_off = align64(ri_off + n * VZ_ROWINFO_SIZE);
	uint64_t hash_off = align64(heap_off + heap_len);
	uint64_t total = hash_off + slots * 4;

	/* the hash table and rowinfo are built in memory (small next to the vectors) */
	unsigned char *hash = calloc(slots, 4), *ri = malloc(n * VZ_ROWINFO_SIZE + 1);
	float *scratch = malloc(sizeof(float) * dim + 1);
	if (!hash || !ri || !scratch) {
		free(hash);
		free(ri);
		free(scratch);
		return vz_fail(VZ_ENOMEM, "out of memory writing vectors.bin");
	}
	uint64_t at = 0;
	for (uint64_t r = 0; r < n; r++) {
		unsigned char *e = ri + r * VZ_ROWINFO_SIZE;
		vz_store_u64(e, at);
		at += rows[r].id_len;
		vz_store_u64(e + 8, rows[r].has_payload ? at : 0);
		if (rows[r].has_payload) at += rows[r].payload_len;
		unsigned f = (rows[r].tombstone ? VZ_ROW_TOMBSTONE : 0) | (rows[r].has_payload ? VZ_ROW_HAS_PAYLOAD : 0);
		e[16] = (unsigned char)rows[r].id_len;
		e[17] = (unsigned char)(rows[r].id_len >> 8);
		e[18] = (unsigned char)f;
		e[19] = 0;
		vz_store_u32(e + 20, rows[r].has_payload ? (uint32_t)rows[r].payload_len : 0);
		if (rows[r].tombstone) continue;
		uint64_t slot = vz_hash64(rows[r].id, rows[r].id_len) & (slots - 1);
		while (vz_load_u32(hash + slot * 4)) slot = (slot + 1) & (slots - 1);
		vz_store_u32(hash + slot * 4, (uint32_t)(r + 1));
	}

	vz_tmpfile t;
	int rc = vz_tmpfile_open(&t, to);
	if (rc) { free(hash); free(ri); free(scratch); return rc; }
	vz_hasher *body = vz_hasher_new();
	unsigned char zeros[64] = { 0 }, head[VZ_HEADER_SIZE] = { 0 }, layout[VZ_VECTORS_LAYOUT_SIZE];
	vz_store_u64(layout, n);
	vz_store_u32(layout + 8, dim);
	vz_store_u32(layout + 12, (uint32_t)metric);
	vz_store_u64(layout + 16, vec_off);
	vz_store_u64(layout + 24, ri_off);
	vz_store_u64(layout + 32, heap_off);
	vz_store_u64(layout + 40, heap_len);
	vz_store_u64(layout + 48, hash_off);
	vz_store_u64(layout + 56, slots);
	uint64_t pos = VZ_HEADER_SIZE;
#define EMIT(p, len)                                                                     \
	do {                                                                             \
		size_t len_ = (len);                                                     \
		if (!rc && len_ > 0) {                                                   \
			rc = vz_stage_write(&stage, (p), len_);                          \
			vz_hasher_update(body, (p), len_);                               \
			pos += len_;                                                     \
		}                                                                        \
	} while (0)
#define PAD_TO(off)                                                                      \
	do {                                                                             \
		while (!rc && pos < (off)) {                                             \
			size_t z = (off) - pos > sizeof zeros ? sizeof zeros : (size_t)((off) - pos); \
			EMIT(zeros, z);                                                  \
		}                                                                        \
	} while (0)
	if (!body) rc = vz_fail(VZ_ENOMEM, "out of memory");
	if (!rc) rc = vz_tmpfile_write(&t, head, sizeof head); /* placeholder, rewritten at the end */
	vz_stage stage; /* ids and payloads come a row at a time */
	vz_stage_init(&stage, &t, 1u << 20);
	EMIT(layout, sizeof layout);
	PAD_TO(vec_off);
	/* row by row through the stage: the rows need not be in memory together */
	for (uint64_t r = 0; r < n && !rc; r++) {
		const float *row;
		if (!(rc = read(ctx, r, dim, scratch, &row))) EMIT(row, (size_t)dim * 4);
	}
	PAD_TO(ri_off);
	EMIT(ri, n * VZ_ROWINFO_SIZE);
	PAD_TO(heap_off);
	for (uint64_t r = 0; r < n && !rc; r++) {
		EMIT(rows[r].id, rows[r].id_len);
		if (rows[r].has_payload) EMIT(rows[r].payload, rows[r].payload_len);
	}
	PAD_TO(hash_off);
	EMIT(hash, slots * 4);
#undef EMIT
#undef PAD_TO
	int frc = vz_stage_finish(&stage);
	if (!rc) rc = frc;
	free(hash);
	free(ri);
	free(scratch);
	if (!rc && pos != total) rc = vz_fail(VZ_EINTERNAL, "vectors.bin: wrote %llu bytes, planned %llu", (unsigned long long)pos, (unsigned long long)total);
	if (!rc) {
		vz_file_header h = { .version = VECTORS_VERSION, .generation = generation, .body_length = total - VZ_HEADER_SIZE,
				     .body_checksum = vz_hasher_digest(body) };
		rc = vz_header_write_start(&t, VZ_MAGIC_VECTORS, id, &h);
		sum->present = true;
		sum->size = total;
		sum->body_checksum = h.body_checksum;
	}
	vz_hasher_free(body);
	if (rc) { vz_tmpfile_abort(&t); return rc; }
	return vz_tmpfile_commit_as(&t, to);
}
