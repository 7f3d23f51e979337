/* postings_delta.c: postings.delta, so that an incremental workspace build writes the postings
 * of the files it changed or added, not postings.bin whole (textindex.c), and the merged view
 * of the two that `query --text` ranks with (textsearch.c walks it through vz_ti_term).
 *
 * postings.delta: vz_file_header (magic VZPDELT1, version 1, generation = the snapshot's, aux =
 * the configuration hash, aux2 = the generation of the postings.bin it amends; body
 * checksummed), then the body:
 *   0  u64 dead: the number of postings.bin's files that are gone or replaced
 *   8  dead x u32: their file numbers in postings.bin, ascending
 *      zero bytes to a multiple of 8
 *      a body of postings.bin's layout (offsets relative to its own first byte) for the files
 *      that are not postings.bin's as they are there (changed, added, or only touched)
 * The merged view numbers files and chunks as a full build would (files by path): postings.bin's
 * live files and the delta's, merged by path; so a query ranks, scores and breaks ties as over
 * a postings.bin written whole. Its statistics are counted over the live files only: the
 * files, the chunks, each field's total terms (from the file and chunk tables), and each
 * term's files and chunks (vz_ti_term counts them as it walks the postings). */
#include "postings_delta.h"
#include "textindex_internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- the postings of one term over a plain index or a merged view ---- */

bool vz_ti_term(const vz_text_index *x, const char *t, size_t n, ti_term *tt)
{
	memset(tt, 0, sizeof *tt);
	tt->x = x;
	const vz_text_index *parts[2] = { x, NULL };
	if (x->from) parts[0] = x->part[0], parts[1] = x->part[1];
	for (int q = 0; q < 2 && parts[q]; q++) {
		int64_t e = vz_ti_lookup(parts[q], t, n);
		const unsigned char *fp, *cp;
		uint32_t nf, nc;
		if (e < 0 || !vz_ti_postings(parts[q], (uint64_t)e, &fp, &nf, &cp, &nc)) continue;
		tt->p[tt->n].ix = parts[q];
		tt->p[tt->n].to = x->from ? x->to[q] : NULL;
		tt->p[tt->n].fp = fp, tt->p[tt->n].cp = cp, tt->p[tt->n].nf = nf, tt->p[tt->n].nc = nc;
		tt->n++;
	}
	if (!x->from) {
		if (tt->n) tt->nf = tt->p[0].nf, tt->nc = tt->p[0].nc;
		return tt->n > 0;
	}
	/* df over the live files: each posting of a dead base file skipped */
	uint32_t f, c, tf;
	const unsigned char *post;
	while (vz_ti_next_file(tt, &f, &post)) tt->nf++;
	while (vz_ti_next_chunk(tt, &c, &tf)) tt->nc++;
	vz_ti_rewind(tt);
	return tt->n > 0;
}

bool vz_ti_next_file(ti_term *tt, uint32_t *file, const unsigned char **post)
{
	while (tt->fa < tt->n) {
		const vz_text_index *ix = tt->p[tt->fa].ix;
		if (tt->fi >= tt->p[tt->fa].nf) {
			tt->fa++, tt->fi = 0;
			continue;
		}
		const unsigned char *q = tt->p[tt->fa].fp + (uint64_t)tt->fi++ * FPOST;
		uint32_t f = vz_load_u32(q);
		if (f >= ix->files) continue;
		if (tt->p[tt->fa].to && (f = tt->p[tt->fa].to[f]) == UINT32_MAX) continue;
		*file = f, *post = q;
		return true;
	}
	return false;
}

bool vz_ti_next_chunk(ti_term *tt, uint32_t *chunk, uint32_t *tf)
{
	while (tt->ca < tt->n) {
		const vz_text_index *ix = tt->p[tt->ca].ix;
		if (tt->ci >= tt->p[tt->ca].nc) {
			tt->ca++, tt->ci = 0;
			continue;
		}
		const unsigned char *q = tt->p[tt->ca].cp + (uint64_t)tt->ci++ * CPOST;
		uint32_t c = vz_load_u32(q);
		if (c >= ix->chunks) continue;
		if (tt->p[tt->ca].to) { /* the part's chunk -> the merged one: its file's first, plus its place there */
			uint32_t lf = vz_load_u32(chunk_rec(ix, c)), g;
			if (lf >= ix->files || (g = tt->p[tt->ca].to[lf]) == UINT32_MAX) continue;
			const unsigned char *r = file_rec(ix, lf);
			uint32_t first = vz_load_u32(r + 24);
			if (c < first || c - first >= vz_load_u32(r + 28)) continue;
			uint64_t m = (uint64_t)vz_load_u32(file_rec(tt->x, g) + 24) + (c - first);
			if (m >= tt->x->chunks) continue;
			c = (uint32_t)m;
		}
		*chunk = c, *tf = vz_load_u32(q + 4);
		return true;
	}
	return false;
}

/* ---- the file ---- */

/* x as the postings.delta in the bytes data (a whole file, header first): its dead list and
 * the postings body after it laid out. */
static int delta_from_bytes(vz_text_index *x, const unsigned char *data, size_t size)
{
	vz_file_header h;
	int rc = vz_header_decode(data, size, VZ_MAGIC_PDELTA, PDELTA_VERSION, &h);
	if (rc) return rc;
	if (h.body_length != size - VZ_HEADER_SIZE)
		return vz_fail(VZ_ECORRUPT, "offset 24: body length %llu, file has %zu", (unsigned long long)h.body_length, size - VZ_HEADER_SIZE);
	const unsigned char *body = data + VZ_HEADER_SIZE;
	size_t bl = size - VZ_HEADER_SIZE;
	if (bl < 8) return vz_fail(VZ_ECORRUPT, "offset %d: body of %zu bytes has no dead file count", VZ_HEADER_SIZE, bl);
	uint64_t nd = vz_load_u64(body);
	if (nd > (bl - 8) / 4) return vz_fail(VZ_ECORRUPT, "offset %d: %llu dead files do not fit", VZ_HEADER_SIZE, (unsigned long long)nd);
	size_t pre = (size_t)(8 + nd * 4 + 7) & ~(size_t)7;
	if (pre > bl) return vz_fail(VZ_ECORRUPT, "offset %d: %llu dead files do not fit", VZ_HEADER_SIZE, (unsigned long long)nd);
	for (uint64_t k = 1; k < nd; k++)
		if (vz_load_u32(body + 8 + 4 * k) <= vz_load_u32(body + 8 + 4 * (k - 1)))
			return vz_fail(VZ_ECORRUPT, "offset %llu: dead file %llu out of order", (unsigned long long)(VZ_HEADER_SIZE + 8 + 4 * k), (unsigned long long)k);
	x->dead = body + 8, x->n_dead = nd;
	x->p = body + pre, x->size = bl - pre, x->at = VZ_HEADER_SIZE + pre;
	x->generation = h.generation, x->config = h.aux, x->base_generation = h.aux2;
	x->sum_p = body, x->sum_n = bl, x->sum = h.body_checksum;
	return vz_ti_layout(x);
}

static int delta_open(const char *path, vz_text_index **out)
{
	*out = NULL;
	vz_text_index *x = calloc(1, sizeof *x);
	if (!x) return vz_fail(VZ_ENOMEM, "out of memory");
	int rc = vz_map_file(path, &x->map);
	if (!rc) rc = delta_from_bytes(x, x->map.data, x->map.size);
	if (rc) {
		vz_fail_prefix(rc, "%s: ", path);
		vz_text_index_close(x);
		return rc;
	}
	*out = x;
	return VZ_OK;
}

static void put32(unsigned char *p, uint32_t v) { vz_store_u32(p, v); }
static void put64(unsigned char *p, uint64_t v) { vz_store_u64(p, v); }

static int cmp_paths(const vz_text_index *a, uint32_t i, const vz_text_index *b, uint32_t j, int *cmp)
{
	const char *p, *q;
	size_t pl, ql;
	int rc = vz_text_file_path(a, i, &p, &pl);
	if (!rc) rc = vz_text_file_path(b, j, &q, &ql);
	if (rc) return rc;
	int c = memcmp(p, q, pl < ql ? pl : ql);
	*cmp = c ? c : (pl > ql) - (pl < ql);
	return VZ_OK;
}

/* The merged view of base (postings.bin) and d (its postings.delta), which it takes over. */
static int merge(vz_text_index *base, vz_text_index *d, vz_text_index **out)
{
	*out = NULL;
	vz_text_index *x = calloc(1, sizeof *x);
	if (!x) {
		vz_text_index_close(base);
		vz_text_index_close(d);
		return vz_fail(VZ_ENOMEM, "out of memory");
	}
	x->part[0] = base, x->part[1] = d;
	int rc = VZ_OK;
	if (memcmp(&base->w, &d->w, sizeof base->w) || base->config != d->config)
		rc = vz_fail(VZ_ECORRUPT, "postings.delta: other ranking weights or configuration than postings.bin's");
	else if (d->base_generation != base->generation)
		rc = vz_fail(VZ_ECORRUPT, "postings.delta: offset 48: amends postings.bin of generation %llu, it is of %llu", (unsigned long long)d->base_generation,
			     (unsigned long long)base->generation);
	uint64_t nf = base->files + d->files - d->n_dead;
	if (!rc && (d->n_dead > base->files || nf > INT32_MAX)) rc = vz_fail(VZ_ECORRUPT, "postings.delta: %llu dead files of %llu", (unsigned long long)d->n_dead, (unsigned long long)base->files);
	if (!rc && (!(x->to[0] = calloc(base->files ? base->files : 1, 4)) || !(x->to[1] = calloc(d->files ? d->files : 1, 4)) || !(x->from = calloc(nf ? nf : 1, 4))))
		rc = vz_fail(VZ_ENOMEM, "out of memory");
	for (uint64_t k = 0; k < d->n_dead && !rc; k++) {
		uint32_t f = vz_load_u32(d->dead + 4 * k);
		if (f >= base->files) rc = vz_fail(VZ_ECORRUPT, "postings.delta: offset %llu: dead file %u of %llu", (unsigned long long)(VZ_HEADER_SIZE + 8 + 4 * k), f, (unsigned long long)base->files);
		else x->to[0][f] = UINT32_MAX;
	}
	/* by path: the live files of base and d's */
	uint64_t i = 0, j = 0, g = 0, nc = 0;
	while (!rc && (i < base->files || j < d->files)) {
		if (i < base->files && x->to[0][i] == UINT32_MAX) {
			i++;
			continue;
		}
		int cmp = i < base->files ? -1 : 1;
		if (i < base->files && j < d->files && (rc = cmp_paths(base, (uint32_t)i, d, (uint32_t)j, &cmp))) break;
		if (!cmp) {
			rc = vz_fail(VZ_ECORRUPT, "postings.delta: file %llu is a live file of postings.bin too", (unsigned long long)j);
			break;
		}
		if (g == nf) {
			rc = vz_fail(VZ_ECORRUPT, "postings.delta: more files than it counts");
			break;
		}
		int q = cmp < 0 ? 0 : 1;
		uint64_t l = q ? j++ : i++;
		const vz_text_index *ix = x->part[q];
		const unsigned char *r = file_rec(ix, (uint32_t)l);
		if ((uint64_t)vz_load_u32(r + 24) + vz_load_u32(r + 28) > ix->chunks) {
			rc = vz_fail(VZ_ECORRUPT, "%s: offset %llu: file %llu: chunks out of range", q ? "postings.delta" : "postings.bin",
				     (unsigned long long)(ix->at + ix->off_files + l * FILE_REC + 24), (unsigned long long)l);
			break;
		}
		x->to[q][l] = (uint32_t)g;
		x->from[g++] = (uint32_t)q << 31 | (uint32_t)l;
		nc += vz_load_u32(r + 28);
	}
	if (!rc && (g != nf || nc > UINT32_MAX)) rc = vz_fail(VZ_ECORRUPT, "postings.delta: %llu files, %llu counted", (unsigned long long)g, (unsigned long long)nf);
	/* the file and chunk tables, renumbered; the totals summed over them */
	uint64_t end = HEAD + nf * FILE_REC + nc * CHUNK_REC;
	if (!rc) rc = vz_buf_reserve(&x->own, end);
	if (!rc) {
		unsigned char *p = x->own.data;
		memset(p, 0, end);
		uint64_t c = 0, lens[3] = { 0 }, clen = 0;
		for (uint64_t k = 0; k < nf; k++) {
			const vz_text_index *ix = x->part[x->from[k] >> 31];
			uint32_t l = x->from[k] & INT32_MAX;
			unsigned char *r = p + HEAD + k * FILE_REC;
			memcpy(r, file_rec(ix, l), FILE_REC);
			uint32_t first = vz_load_u32(r + 24), cnt = vz_load_u32(r + 28);
			put32(r + 24, (uint32_t)c);
			for (int f = 0; f < 3; f++) lens[f] += vz_load_u32(r + 32 + 4 * f);
			for (uint32_t m = 0; m < cnt; m++, c++) {
				unsigned char *cr = p + HEAD + nf * FILE_REC + c * CHUNK_REC;
				memcpy(cr, chunk_rec(ix, first + m), CHUNK_REC);
				put32(cr, (uint32_t)k);
				clen += vz_load_u32(cr + 8);
			}
		}
		put32(p, 3);
		memcpy(p + 8, base->p + 8, 20); /* the weights */
		put64(p + 32, nf), put64(p + 40, nc), put64(p + 48, 0);
		put64(p + 56, lens[0]), put64(p + 64, lens[1]), put64(p + 72, lens[2]), put64(p + 80, clen);
		put64(p + 88, HEAD), put64(p + 96, HEAD + nf * FILE_REC), put64(p + 104, end), put64(p + 112, end), put64(p + 120, end);
		x->own.len = end;
		x->p = p, x->size = end, x->at = 0;
		x->generation = d->generation, x->config = base->config, x->base_generation = base->generation;
		rc = vz_ti_layout(x);
	}
	if (rc) {
		vz_text_index_close(x);
		return rc;
	}
	*out = x;
	return VZ_OK;
}

int vz_ti_open_delta(const char *dir, uint64_t generation, vz_text_index **out)
{
	*out = NULL;
	char path[VZ_PATH_MAX], bpath[VZ_PATH_MAX];
	vz_file_header h;
	int rc = vz_settle_data_file(dir, "postings.delta", VZ_MAGIC_PDELTA, generation, false, path, sizeof path);
	if (rc) return rc;
	if (access(path, F_OK) || vz_header_read(path, VZ_MAGIC_PDELTA, PDELTA_VERSION, &h) || h.generation != generation) return VZ_ENOENT;
	vz_text_index *d, *b;
	if ((rc = delta_open(path, &d))) return rc;
	if ((rc = vz_settle_data_file(dir, "postings.bin", VZ_MAGIC_POSTINGS, d->base_generation, false, bpath, sizeof bpath)) || (rc = vz_text_index_open(bpath, &b))) {
		vz_text_index_close(d);
		return rc;
	}
	if ((rc = merge(b, d, out))) vz_fail_prefix(rc, "%s: ", dir);
	return rc;
}

/* ---- writing ---- */

uint64_t vz_text_index_base_generation(const vz_text_index *x) { return x->from ? x->base_generation : x->generation; }

int vz_ti_delta_encode(const vz_text_index *prev, vz_text_doc *docs, const int64_t *from, size_t n, const vz_text_weights *w, vz_buf *out,
		       uint64_t *base_generation)
{
	const vz_text_index *base = prev->from ? prev->part[0] : prev;
	*base_generation = base->generation;
	/* postings.bin stays and the delta's postings may be taken over: a bit flip in either must
	 * not pass unseen (XXH3: a few ms for 20 MB) */
	if (base->sum_p && vz_hash64(base->sum_p, base->sum_n) != base->sum) return vz_fail(VZ_ECORRUPT, "postings.bin: body checksum mismatch");
	if (prev->from && vz_hash64(prev->part[1]->sum_p, prev->part[1]->sum_n) != prev->part[1]->sum)
		return vz_fail(VZ_ECORRUPT, "postings.delta: body checksum mismatch");
	unsigned char *kept = calloc(base->files ? base->files : 1, 1);
	vz_text_doc *dd = malloc((n ? n : 1) * sizeof *dd);
	int64_t *df = malloc((n ? n : 1) * sizeof *df);
	int rc = kept && dd && df ? VZ_OK : vz_fail(VZ_ENOMEM, "out of memory");
	size_t nd = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		uint32_t l = from[i] >= 0 && (uint64_t)from[i] < prev->files ? (prev->from ? prev->from[from[i]] : (uint32_t)from[i]) : UINT32_MAX;
		vz_text_file_stat fs;
		if (l != UINT32_MAX && !(l >> 31) && !vz_text_index_file(base, l, &fs) && fs.hash == docs[i].hash && fs.size == docs[i].size &&
		    fs.mtime_ns == docs[i].mtime_ns && fs.chunks == docs[i].n_chunks) {
			kept[l] = 1; /* postings.bin holds it as it is */
			continue;
		}
		dd[nd] = docs[i];
		df[nd++] = from[i];
	}
	uint64_t dead = 0;
	for (uint64_t f = 0; f < base->files; f++) dead += !kept[f];
	if (!rc) rc = vz_buf_u64(out, dead);
	for (uint64_t f = 0; f < base->files && !rc; f++)
		if (!kept[f]) rc = vz_buf_u32(out, (uint32_t)f);
	while (!rc && out->len % 8) rc = vz_buf_put(out, "", 1);
	vz_buf body = { 0 };
	if (!rc) rc = vz_text_index_encode(prev, df, dd, nd, w, &body);
	if (!rc) rc = vz_buf_put(out, body.data, body.len);
	vz_buf_free(&body);
	free(kept), free(dd), free(df);
	return rc;
}

int vz_ti_delta_write(const char *path, const vz_buf *body, uint64_t generation, uint64_t base_generation, uint64_t config_hash)
{
	vz_file_header h = { .version = PDELTA_VERSION, .generation = generation, .aux = config_hash, .aux2 = base_generation };
	memcpy(h.magic, VZ_MAGIC_PDELTA, 8);
	return vz_write_checked_file(path, &h, body->data, body->len);
}

/* ---- verify ---- */

static int check(vz_text_index *x, const unsigned char *data, size_t size)
{
	int rc = delta_from_bytes(x, data, size);
	if (!rc && vz_hash64(x->sum_p, x->sum_n) != x->sum) rc = vz_fail(VZ_ECORRUPT, "offset 32: body checksum mismatch");
	if (!rc) rc = vz_ti_check_body(x);
	return rc;
}

int vz_ti_delta_check(const char *path, uint64_t *generation, uint64_t *base_generation)
{
	vz_text_index *x = calloc(1, sizeof *x);
	if (!x) return vz_fail(VZ_ENOMEM, "out of memory");
	int rc = vz_map_file(path, &x->map);
	if (!rc) rc = check(x, x->map.data, x->map.size);
	if (!rc) *generation = x->generation, *base_generation = x->base_generation;
	if (rc) vz_fail_prefix(rc, "%s: ", path);
	vz_text_index_close(x);
	return rc;
}

int vz_ti_delta_check_bytes(const unsigned char *data, size_t len)
{
	vz_text_index x = { 0 };
	return check(&x, data, len);
}
