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
#include "cpu.h"

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
static inline __attribute__((always_inline)) bool all_finite_body(const uint32_t *u, size_t n)
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
/* the body compiled for AVX2 where the processor has it (cpu.h) */
VZ_CPU_AVX2_OR_BASELINE(bool, all_finite, (const uint32_t *u, size_t n), (u, n))

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

/* The body is hashed from the mapping. Measured at 1M x 128 (550 MB) with the page cache in
 * 4 KiB pages (a copied collection): the same pass over pread into a reused 32 KiB-1 MiB buffer
 * cost as much processor time (the copy costs what the page-table entries do: 59 against 58-60
 * ms), and 1.2x as much with the cache in 2 MiB folios (59 against 44 ms); MAP_POPULATE took
 * 1.1x the time, MADV_POPULATE_READ ahead of the pass 1/7 of the faults for no less time, and
 * prefetching the next 4 KiB page as it is hashed bought nothing. */
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
	uint64_t live = 0, tombstones = 0, used = 0;
	uint32_t *rowword = malloc(sizeof *rowword * (v->rows ? v->rows : 1));
	if (!rowword) {
		cb(ctx, "vectors.bin", -1, "out of memory: the rows and the id map were not checked");
		return 1;
	}
	vz_vectors_scan_rows(v, 0, v->rows, rowword, &live, &tombstones);
	int problems = vz_vectors_walk_id_map(v, 0, 1, rowword, &used, cb, ctx);
	problems += vz_vectors_report_rows(v, 0, v->rows, rowword, cb, ctx);
	problems += vz_vectors_id_map_count(v, used, live, cb, ctx);
	free(rowword);
	return problems;
}

void vz_vectors_scan_rows(const vz_vectors *v, uint64_t from, uint64_t to, uint32_t *rowword, uint64_t *live, uint64_t *tombstones)
{
	for (uint64_t r = from; r < to; r++) {
		const char *id;
		size_t len;
		unsigned f;
		if (vz_vectors_row(v, r, &id, &len, NULL, NULL, &f)) {
			rowword[r] = VZ_ROWWORD_BROKEN;
		} else if (f & VZ_ROW_TOMBSTONE) {
			rowword[r] = 0;
			++*tombstones;
		} else {
			rowword[r] = VZ_ROWWORD_LIVE | ((uint32_t)vz_hash64(id, len) & VZ_ROWWORD_PRINT);
			++*live;
		}
	}
}

/* Where a part of the walk of the id map begins: the first empty slot at or after the start of
 * its share of the slots, as a position that counts on past the last slot (the slot is the
 * position modulo the slot count). Part `parts` (the end of the last) is the slot count past
 * the first empty slot of the map. */
static uint64_t walk_start(const vz_vectors *v, int part, int parts)
{
	uint64_t n = v->hash_slots, mask = n - 1, from = n * (uint64_t)part / (uint64_t)parts;
	if (part == parts) return n + walk_start(v, 0, parts);
	for (uint64_t pos = from; pos < from + n; pos++)
		if (vz_load_u32(v->hash + (pos & mask) * 4) == 0) return pos;
	return from; /* no empty slot at all */
}

int vz_vectors_walk_id_map(const vz_vectors *v, int part, int parts, uint32_t *rowword, uint64_t *used, vz_verify_cb cb, void *ctx)
{
	int problems = 0;
	char what[256];
	if (!v->hash_slots) return 0;
	/* the part takes the positions after its start, up to and with the next part's start */
	uint64_t mask = v->hash_slots - 1, from = walk_start(v, part, parts), to = walk_start(v, part + 1, parts);
	/* a map with no empty slot: one walk of every slot, and the rows whose first slot lies
	 * before where it began are looked up the way vz_vectors_find looks */
	bool full = vz_load_u32(v->hash + (from & mask) * 4) != 0;
	if (full) {
		if (part) return 0;
		from = UINT64_MAX; /* positions 0 on */
		to = v->hash_slots - 1;
	}
	/* a print holds a row's first slot when the map has no more slots than it has bits */
	bool homes = mask <= VZ_ROWWORD_PRINT;
	/* the last RING slots walked: the row each holds (UINT32_MAX: none that is live) and its
	 * print; only the slots of the run an entry is in are looked at, all of them written */
	enum { RING = 64, BATCH = 64 };
	uint32_t ring_row[RING], ring_print[RING] = { 0 };
	struct { uint64_t pos, run; uint32_t e; } list[BATCH];
	uint64_t run = 0; /* slots since the last empty one */
	for (uint64_t at = from + 1, end = to + 1; at != end;) {
		/* a batch of slots: the entries gathered without a branch on each slot (about half are
		 * empty, at random, which no branch predicts), each with the run before it, and their
		 * row words (read at random) fetched ahead */
		uint64_t n = 0, count = end - at < BATCH ? end - at : BATCH;
		for (uint64_t i = 0; i < count; i++) {
			uint64_t pos = at + i;
			uint32_t e = vz_load_u32(v->hash + (pos & mask) * 4), r = e - 1;
			uint64_t used_slot = e != 0;
			list[n].pos = pos;
			list[n].run = run;
			list[n].e = e;
			n += used_slot;
			run = (run + 1) & (0 - used_slot);
			__builtin_prefetch(rowword + (r < v->rows ? r : 0));
		}
		at += count;
		*used += n;
		for (uint64_t j = 0; j < n; j++) {
			uint64_t pos = list[j].pos, s = pos & mask, before = list[j].run, r = list[j].e - 1;
			ring_row[pos % RING] = UINT32_MAX;
			if (r >= v->rows) {
				if (problems > 20) continue; /* named up to 21 times a part, as the rows are */
				snprintf(what, sizeof what, "id map slot %llu: row %llu out of range", (unsigned long long)s, (unsigned long long)r);
				cb(ctx, "vectors.bin", (int64_t)(v->hash - v->map.data + s * 4), what);
				problems++;
				continue;
			}
			uint32_t w = __atomic_load_n(&rowword[r], __ATOMIC_RELAXED), print = w & VZ_ROWWORD_PRINT;
			if (!(w & VZ_ROWWORD_LIVE)) continue; /* a tombstone or a broken entry: never an answer */
			/* its id is read only when needed: a row entry and an id at random would be most of the
			 * cost of a look-up */
			const char *id = NULL;
			size_t len = 0;
			if (!homes) vz_vectors_row(v, r, &id, &len, NULL, NULL, NULL);
			uint64_t home = (homes ? print : vz_hash64(id, len)) & mask, dist = (s - home) & mask;
			bool found = true;
			if (dist > before && !full) {
				found = false; /* an empty slot between its first slot and this one: vz_vectors_find stops there */
			} else if (dist > before || dist >= RING) {
				/* its first slot before where the walk began (a full map), or a long run:
				 * vz_vectors_find decides */
				vz_vectors_row(v, r, &id, &len, NULL, NULL, NULL);
				found = vz_vectors_find(v, id, len) == (int64_t)r;
			} else {
				/* as vz_vectors_find, from its first slot on: this row met again, or an earlier live
				 * row of the same id (a tombstone, a broken entry or another id has another print) */
				for (uint64_t k = dist; k >= 1; k--) {
					uint32_t o = ring_row[(pos - k) % RING];
					if (o == UINT32_MAX || ring_print[(pos - k) % RING] != print) continue;
					if (o == r) break;
					const char *oid;
					size_t ol;
					if (!id) vz_vectors_row(v, r, &id, &len, NULL, NULL, NULL);
					vz_vectors_row(v, o, &oid, &ol, NULL, NULL, NULL);
					if (ol == len && !memcmp(oid, id, len)) {
						found = false;
						break;
					}
				}
			}
			/* a row listed in two slots of two parts: both store the same word */
			if (found && !(w & VZ_ROWWORD_MARK)) __atomic_store_n(&rowword[r], w | VZ_ROWWORD_MARK, __ATOMIC_RELAXED);
			ring_row[pos % RING] = (uint32_t)r;
			ring_print[pos % RING] = print;
		}
	}
	return problems;
}

int vz_vectors_report_rows(const vz_vectors *v, uint64_t from, uint64_t to, const uint32_t *rowword, vz_verify_cb cb, void *ctx)
{
	int problems = 0;
	char what[256];
	for (uint64_t r = from; r < to; r++) {
		uint32_t w = rowword[r];
		const char *id;
		size_t len;
		if (w == VZ_ROWWORD_BROKEN) {
			snprintf(what, sizeof what, "row %llu: id or payload outside the heap", (unsigned long long)r);
		} else if ((w & VZ_ROWWORD_LIVE) && !(w & VZ_ROWWORD_MARK) && v->hash_slots) {
			vz_vectors_row(v, r, &id, &len, NULL, NULL, NULL);
			snprintf(what, sizeof what, "row %llu: id '%.*s' is not found through the id map (or is a duplicate)",
				 (unsigned long long)r, (int)(len > 64 ? 64 : len), id);
		} else {
			continue;
		}
		cb(ctx, "vectors.bin", (int64_t)((v->rowinfo - v->map.data) + r * VZ_ROWINFO_SIZE), what);
		if (++problems > 20) break;
	}
	return problems;
}

int vz_vectors_id_map_count(const vz_vectors *v, uint64_t used, uint64_t live, vz_verify_cb cb, void *ctx)
{
	char what[256];
	if (used == live) return 0;
	snprintf(what, sizeof what, "id map holds %llu entries for %llu live rows", (unsigned long long)used, (unsigned long long)live);
	cb(ctx, "vectors.bin", (int64_t)(v->hash - v->map.data), what);
	return 1;
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
