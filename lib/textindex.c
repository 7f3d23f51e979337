/* textindex.c: the index behind `query --text` (vz-query(1), vz-format(5)): the tokenizer and the
 * inverted index file postings.bin (written by workspace builds): building, writing, opening and
 * verifying it. Its BM25F ranking over three fields of each file (path and name, title, body),
 * per file with its best chunk or per chunk, is textsearch.c's; postings.delta, which an
 * incremental build writes beside it, and the view of the two merged, postings_delta.c's.
 *
 * postings.bin: vz_file_header (magic VZPOST01, version 1, generation = the snapshot's, aux =
 * the workspace collection's configuration hash),
 * then the body (all integers little-endian, offsets relative to the body's first byte):
 *   0   u32 fields (3), u32 flags (0)
 *   8   f32 weight path, f32 weight title, f32 weight body, f32 k1, f32 b
 *   28  u32 0
 *   32  u64 files, u64 chunks, u64 terms
 *   56  u64 total terms of the path, title and body fields over all files, u64 over all chunks
 *   88  u64 offsets of the file table, chunk table, term dictionary, postings, strings
 *   128 sections, in that order:
 *   file table, 64 bytes a file (sorted by path): u64 content hash, u32 path offset, u32 path
 *     length, u32 title offset, u32 title length (into strings), u32 first chunk, u32 chunks,
 *     u32 terms in path, title and body, u32 0, u64 size, u64 modification time (ns)
 *   chunk table, 16 bytes a chunk (files' chunks in order): u32 file, u32 first line (1-based),
 *     u32 terms, u32 index of the chunk in its file (its row id is PATH#INDEX)
 *   dictionary, 24 bytes a term (sorted by bytes): u32 string offset, u32 length, u32 files,
 *     u32 chunks, u64 offset of its postings
 *   postings of a term: files x (u32 file, u16 tf path, u16 tf title, u32 tf body) ascending
 *     by file, then chunks x (u32 chunk, u32 tf) ascending by chunk
 *   strings: the bytes of paths, titles and terms
 * Opening checks the header and that the sections fit (O(1)); every access checks its bounds,
 * so that a damaged file gives wrong answers at worst; verify checks the body checksum and
 * every record. */
#include "textindex_internal.h"
#include "postings_delta.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- tokens ---- */

static bool word_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}
static bool lower(unsigned char c) { return c >= 'a' && c <= 'z'; }
static bool upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }

static bool stopword(const char *t, size_t n)
{
	/* by length, each list its words back to back (a binary search with strncmp took a tenth of
	 * an incremental build) */
	static const char *const by_len[6] = { "", "a", "anasatbebydoifinisitmemynoofonorsotowe",
		"allandanyarebutcanforhadhashowitsnotourthewaswhoyou",
		"beendoeseachfromhaveintosomesuchthanthatthemthentheythiswerewhatwhenwillwithyour",
		"aboutcouldtheirtherethesethosewherewhichwhilewould" };
	if (n < 1 || n > 5) return false;
	for (const char *w = by_len[n]; *w; w += n)
		if (w[0] == t[0] && !memcmp(w, t, n)) return true;
	return false;
}


static void emit(const char *s, size_t n, size_t offset, token_fn fn, void *ctx)
{
	if (n < 2 || n > TERM_MAX) return;
	char t[TERM_MAX];
	for (size_t i = 0; i < n; i++) t[i] = upper((unsigned char)s[i]) ? (char)(s[i] - 'A' + 'a') : s[i];
	if (stopword(t, n)) return;
	fn(ctx, t, n, offset);
	/* and its stem, so that "threads" meets "thread" and "sorting" "sort", while the word as
	 * written still counts twice: top-3 hit rates (man pages, 49 held-out man questions, C
	 * headers) 0.90 0.88 0.73 without stems, 0.84 0.88 0.81 with stems alone, 0.86 0.86 0.81
	 * with both forms, 0.84 0.86 0.79 with Snowball's English stemmer alone (libstemmer) */
	size_t m = vz_terms_stem(t, n);
	if (m < n) fn(ctx, t, m, offset);
}

/* Words are runs of ASCII letters and digits or non-ASCII bytes, so snake_case, paths and
 * dotted names split at their punctuation; camelCase and HTTPServer split at the case change,
 * and the whole word is a term as well; each word is also indexed by its stem. */
void vz_ti_tokens(const char *s, size_t len, token_fn fn, void *ctx)
{
	size_t i = 0;
	while (i < len) {
		while (i < len && !word_byte((unsigned char)s[i])) i++;
		size_t a = i;
		while (i < len && word_byte((unsigned char)s[i])) i++;
		size_t e = i, p = a, parts = 0;
		for (size_t j = a + 1; j < e; j++) {
			unsigned char x = (unsigned char)s[j - 1], y = (unsigned char)s[j];
			if ((lower(x) && upper(y)) || (upper(x) && upper(y) && j + 1 < e && lower((unsigned char)s[j + 1]))) {
				emit(s + p, j - p, p, fn, ctx);
				p = j;
				parts++;
			}
		}
		if (e > p) emit(s + p, e - p, p, fn, ctx);
		if (parts) emit(s + a, e - a, a, fn, ctx);
	}
}

/* ---- the title field of a file: its first bytes up to LEAD past its title line (a man page's
 * NAME line, the first Markdown heading, or the first line past a licence notice), so that the lead of the text
 * that describes the file counts with its title (0.84 -> 0.90 on the man-page corpus) ---- */

static bool line_is(const char *l, size_t n, const char *word)
{
	while (n && (l[0] == ' ' || l[0] == '\t')) l++, n--;
	while (n && (l[n - 1] == ' ' || l[n - 1] == '\t' || l[n - 1] == '\r')) n--;
	return n == strlen(word) && !memcmp(l, word, n);
}

static bool blank(const char *l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (l[i] != ' ' && l[i] != '\t' && l[i] != '\r') return false;
	return true;
}

static bool notice(const char *l, size_t n)
{
	return memmem(l, n, "Copyright", 9) || memmem(l, n, "copyright", 9) || memmem(l, n, "COPYRIGHT", 9) ||
	       memmem(l, n, "License", 7) || memmem(l, n, "SPDX-", 5);
}

/* Where the text of t starts past a leading licence or copyright notice (a comment whose first
 * line says so: C's block comment or a run of // or # lines), so that a source file's title
 * is what follows it, not the same notice as in every other file (the C headers' top-3 hit
 * rate, words and stems indexed, 0.73 -> 0.81); 0 when t has none. */
static size_t past_notice(const char *t, size_t len)
{
	size_t a = 0;
	while (a < len && (t[a] == ' ' || t[a] == '\t' || t[a] == '\n' || t[a] == '\r')) a++;
	const char *nl = memchr(t + a, '\n', len - a);
	if (!notice(t + a, (nl ? (size_t)(nl - t) : len) - a)) return 0;
	if (len - a >= 2 && t[a] == '/' && t[a + 1] == '*') {
		const char *end = memmem(t + a + 2, len - a - 2, "*/", 2);
		return end ? (size_t)(end - t) + 2 : 0;
	}
	bool slashes = len - a >= 2 && t[a] == '/' && t[a + 1] == '/';
	if (!slashes && t[a] != '#') return 0;
	size_t i = a;
	while (i < len) {
		size_t b = i;
		while (b < len && (t[b] == ' ' || t[b] == '\t')) b++;
		if (slashes ? !(len - b >= 2 && t[b] == '/' && t[b + 1] == '/') : !(b < len && t[b] == '#')) break;
		nl = memchr(t + b, '\n', len - b);
		i = nl ? (size_t)(nl - t) + 1 : len;
	}
	return i;
}

static void title_line(const char *t, size_t len, size_t *start)
{
	size_t first = len, lines = 0;
	bool after_name = false;
	for (size_t i = past_notice(t, len); i < len && lines < 60; lines++) {
		const char *nl = memchr(t + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - t) : len, ln = e - i;
		const char *l = t + i;
		if (!blank(l, ln)) {
			size_t a = 0;
			while (a < ln && (l[a] == ' ' || l[a] == '\t')) a++;
			/* a Markdown heading: #s then a blank (#include, #define and #! are not) */
			bool heading = l[a] == '#' && a + 1 < ln && (l[a + 1] == '#' || l[a + 1] == ' ' || l[a + 1] == '\t');
			if (after_name || (heading && lines < 40) || line_is(l, ln, "NAME") || line_is(l, ln, ".SH NAME")) {
				if (after_name || heading) {
					while (a < ln && (l[a] == '#' || l[a] == ' ')) a++;
					*start = i + a;
					return;
				}
				after_name = true;
			} else if (first == len) {
				first = i + a;
			}
		}
		i = e + 1;
	}
	*start = first == len ? 0 : first;
}

size_t vz_text_title(const char *t, size_t len)
{
	size_t start;
	title_line(t, len, &start);
	size_t n = start + LEAD < len ? start + LEAD : len;
	while (n < len && ((unsigned char)t[n] & 0xC0) == 0x80) n++; /* a whole UTF-8 character */
	return n;
}

/* ---- building ---- */

typedef struct fpost { uint32_t term, file; uint16_t tf[2]; uint32_t body; } fpost;
typedef struct cpost { uint32_t term, chunk, tf; } cpost;

typedef struct builder {
	/* term table: open addressing over term ids, strings in an arena */
	uint32_t *slots; /* term id + 1, 0 empty */
	size_t cap, n_terms;
	uint32_t *str_off, *str_len;
	size_t terms_cap;
	vz_buf arena;
	/* per-document counting: mark[t] = document + 1 when t has an entry in the current one */
	uint32_t *fmark, *fidx, *cmark, *cidx;
	fpost *fp;
	size_t n_fp, fp_cap;
	cpost *cp;
	size_t n_cp, cp_cap;
	size_t fp_start, cp_start; /* first entry of the current file / chunk */
	uint32_t cur_file, cur_chunk;
	int field; /* 0 path, 1 title, 2 body, 3 chunk only */
	size_t skip_before;  /* body: offsets below this were counted by the previous chunk */
	uint64_t flen[3], clen;
	uint32_t cur_flen[3], cur_clen;
	int rc;
} builder;

static int term_id(builder *b, const char *t, size_t n, uint32_t *id)
{
	if ((b->n_terms + 1) * 2 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		uint32_t *s = calloc(cap, sizeof *s);
		if (!s) return vz_fail(VZ_ENOMEM, "out of memory (term table)");
		for (size_t i = 0; i < b->cap; i++) {
			if (!b->slots[i]) continue;
			uint32_t k = b->slots[i] - 1;
			size_t j = vz_hash64(b->arena.data + b->str_off[k], b->str_len[k]) & (cap - 1);
			while (s[j]) j = (j + 1) & (cap - 1);
			s[j] = b->slots[i];
		}
		free(b->slots);
		b->slots = s;
		b->cap = cap;
	}
	size_t j = vz_hash64(t, n) & (b->cap - 1);
	while (b->slots[j]) {
		uint32_t k = b->slots[j] - 1;
		if (b->str_len[k] == n && !memcmp(b->arena.data + b->str_off[k], t, n)) {
			*id = k;
			return VZ_OK;
		}
		j = (j + 1) & (b->cap - 1);
	}
	if (b->n_terms == b->terms_cap) {
		size_t c = b->terms_cap ? b->terms_cap * 2 : 1024;
		uint32_t *o = realloc(b->str_off, c * sizeof *o);
		if (o) b->str_off = o;
		uint32_t *l = realloc(b->str_len, c * sizeof *l);
		if (l) b->str_len = l;
		uint32_t *m[4] = { b->fmark, b->fidx, b->cmark, b->cidx };
		bool ok = o && l;
		for (int q = 0; q < 4 && ok; q++) {
			uint32_t *r = realloc(m[q], c * sizeof *r);
			if (!r) ok = false;
			else m[q] = r;
		}
		b->fmark = m[0], b->fidx = m[1], b->cmark = m[2], b->cidx = m[3];
		if (!ok) return vz_fail(VZ_ENOMEM, "out of memory (term table)");
		memset(b->fmark + b->terms_cap, 0, (c - b->terms_cap) * sizeof *b->fmark);
		memset(b->cmark + b->terms_cap, 0, (c - b->terms_cap) * sizeof *b->cmark);
		b->terms_cap = c;
	}
	if (b->arena.len + n > UINT32_MAX) return vz_fail(VZ_EINVAL, "too many distinct terms for postings.bin");
	uint32_t k = (uint32_t)b->n_terms++;
	b->str_off[k] = (uint32_t)b->arena.len;
	b->str_len[k] = (uint32_t)n;
	int rc = vz_buf_put(&b->arena, t, n);
	if (rc) return rc;
	b->slots[j] = k + 1;
	*id = k;
	return VZ_OK;
}

/* Room for entry n of the array p of *cap entries of size bytes each: p, or p moved to twice
 * the room (4096 at first), or NULL (out of memory; p is kept). One growth for both postings
 * arrays. */
static void *room_for(void *p, size_t n, size_t *cap, size_t size)
{
	if (n < *cap) return p;
	size_t c = *cap ? *cap * 2 : 4096;
	void *q = realloc(p, c * size);
	if (q) *cap = c;
	return q;
}

static int append_fp(builder *b, const fpost *f)
{
	fpost *p = room_for(b->fp, b->n_fp, &b->fp_cap, sizeof *p);
	if (!p) return vz_fail(VZ_ENOMEM, "out of memory (postings)");
	b->fp = p;
	b->fp[b->n_fp++] = *f;
	return VZ_OK;
}

static int append_cp(builder *b, const cpost *c)
{
	cpost *p = room_for(b->cp, b->n_cp, &b->cp_cap, sizeof *p);
	if (!p) return vz_fail(VZ_ENOMEM, "out of memory (postings)");
	b->cp = p;
	b->cp[b->n_cp++] = *c;
	return VZ_OK;
}

static void count_token(void *ctx, const char *t, size_t n, size_t offset)
{
	builder *b = ctx;
	uint32_t id = 0;
	if (b->rc || (b->rc = term_id(b, t, n, &id))) return;
	if (b->field == 3 || b->field == 2) {
		/* every token of a chunk counts for the chunk */
		if (b->cmark[id] != b->cur_chunk + 1) {
			b->cmark[id] = b->cur_chunk + 1;
			b->cidx[id] = (uint32_t)b->n_cp;
			if ((b->rc = append_cp(b, &(cpost){ id, b->cur_chunk, 0 }))) return;
		}
		b->cp[b->cidx[id]].tf++;
		b->cur_clen++;
		if (offset < b->skip_before) return; /* the overlap: the previous chunk counted it for the file */
	}
	int f = b->field == 3 ? 2 : b->field;
	if (b->fmark[id] != b->cur_file + 1) {
		b->fmark[id] = b->cur_file + 1;
		b->fidx[id] = (uint32_t)b->n_fp;
		if ((b->rc = append_fp(b, &(fpost){ id, b->cur_file, { 0, 0 }, 0 }))) return;
	}
	fpost *p = &b->fp[b->fidx[id]];
	if (f < 2) {
		if (p->tf[f] < UINT16_MAX) p->tf[f]++;
	} else if (p->body < UINT32_MAX) p->body++;
	b->cur_flen[f]++;
}

static const builder *sort_ctx;
static int cmp_term(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, c = *(const uint32_t *)y;
	const builder *b = sort_ctx;
	size_t la = b->str_len[a], lc = b->str_len[c];
	int r = memcmp(b->arena.data + b->str_off[a], b->arena.data + b->str_off[c], la < lc ? la : lc);
	return r ? r : (la > lc) - (la < lc);
}

static void put32(unsigned char *p, uint32_t v) { vz_store_u32(p, v); }
static void put64(unsigned char *p, uint64_t v) { vz_store_u64(p, v); }
static void putf(unsigned char *p, float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	vz_store_u32(p, u);
}

static int encode(builder *b, const vz_text_doc *docs, size_t n, size_t n_chunks, const vz_text_weights *w, vz_buf *out)
{
	/* term order: by bytes; rank[id] = position in the dictionary */
	uint32_t *order = malloc((b->n_terms ? b->n_terms : 1) * sizeof *order);
	uint32_t *rank = malloc((b->n_terms ? b->n_terms : 1) * sizeof *rank);
	size_t *fstart = calloc(b->n_terms + 1, sizeof *fstart), *cstart = calloc(b->n_terms + 1, sizeof *cstart);
	int rc = order && rank && fstart && cstart ? VZ_OK : vz_fail(VZ_ENOMEM, "out of memory");
	if (rc) goto out;
	for (uint32_t i = 0; i < b->n_terms; i++) order[i] = i;
	sort_ctx = b;
	qsort(order, b->n_terms, sizeof *order, cmp_term);
	for (uint32_t i = 0; i < b->n_terms; i++) rank[order[i]] = i;
	/* counting sort of the postings by dictionary position (stable: documents stay ascending) */
	for (size_t i = 0; i < b->n_fp; i++) fstart[rank[b->fp[i].term] + 1]++;
	for (size_t i = 0; i < b->n_cp; i++) cstart[rank[b->cp[i].term] + 1]++;
	for (size_t i = 0; i < b->n_terms; i++) fstart[i + 1] += fstart[i], cstart[i + 1] += cstart[i];
	uint64_t strings = 0;
	for (size_t i = 0; i < n; i++) strings += strlen(docs[i].path) + docs[i].title_len;
	strings += b->arena.len;
	uint64_t off_files = HEAD, off_chunks = off_files + (uint64_t)n * FILE_REC, off_dict = off_chunks + (uint64_t)n_chunks * CHUNK_REC;
	uint64_t off_post = off_dict + (uint64_t)b->n_terms * DICT_REC, off_str = off_post + (uint64_t)b->n_fp * FPOST + (uint64_t)b->n_cp * CPOST;
	if (strings > UINT32_MAX || n > UINT32_MAX || n_chunks > UINT32_MAX) { rc = vz_fail(VZ_EINVAL, "too much text for postings.bin"); goto out; }
	if ((rc = vz_buf_reserve(out, off_str + strings))) goto out;
	unsigned char *p = out->data;
	memset(p, 0, off_str);
	put32(p, 3);
	putf(p + 8, w->path), putf(p + 12, w->title), putf(p + 16, w->body), putf(p + 20, w->k1), putf(p + 24, w->b);
	put64(p + 32, n), put64(p + 40, n_chunks), put64(p + 48, b->n_terms);
	put64(p + 56, b->flen[0]), put64(p + 64, b->flen[1]), put64(p + 72, b->flen[2]), put64(p + 80, b->clen);
	put64(p + 88, off_files), put64(p + 96, off_chunks), put64(p + 104, off_dict), put64(p + 112, off_post), put64(p + 120, off_str);
	uint64_t s = off_str, c = 0;
	for (size_t i = 0; i < n; i++) {
		const vz_text_doc *d = &docs[i];
		unsigned char *r = p + off_files + i * FILE_REC;
		size_t pl = strlen(d->path);
		put64(r, d->hash);
		put32(r + 8, (uint32_t)(s - off_str)), put32(r + 12, (uint32_t)pl);
		memcpy(p + s, d->path, pl), s += pl;
		put32(r + 16, (uint32_t)(s - off_str)), put32(r + 20, d->title_len);
		if (d->title_len) memcpy(p + s, d->title, d->title_len), s += d->title_len;
		put32(r + 24, (uint32_t)c), put32(r + 28, d->n_chunks);
		put32(r + 32, d->len[0]), put32(r + 36, d->len[1]), put32(r + 40, d->len[2]);
		put64(r + 48, d->size), put64(r + 56, (uint64_t)d->mtime_ns);
		for (uint32_t j = 0; j < d->n_chunks; j++, c++) {
			unsigned char *q = p + off_chunks + c * CHUNK_REC;
			put32(q, (uint32_t)i), put32(q + 4, d->chunks[j].line), put32(q + 8, d->chunks[j].terms), put32(q + 12, j);
		}
	}
	uint64_t post = 0;
	for (size_t i = 0; i < b->n_terms; i++) {
		uint32_t id = order[i];
		unsigned char *r = p + off_dict + i * DICT_REC;
		put32(r, (uint32_t)(s - off_str)), put32(r + 4, b->str_len[id]);
		memcpy(p + s, b->arena.data + b->str_off[id], b->str_len[id]), s += b->str_len[id];
		put32(r + 8, (uint32_t)(fstart[i + 1] - fstart[i])), put32(r + 12, (uint32_t)(cstart[i + 1] - cstart[i]));
		put64(r + 16, post);
		post += (fstart[i + 1] - fstart[i]) * FPOST + (cstart[i + 1] - cstart[i]) * CPOST;
	}
	/* scatter the postings: fpos/cpos count what each term has so far */
	{
		size_t *fpos = calloc(b->n_terms + 1, sizeof *fpos), *cpos = calloc(b->n_terms + 1, sizeof *cpos);
		if (!fpos || !cpos) {
			free(fpos), free(cpos);
			rc = vz_fail(VZ_ENOMEM, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < b->n_fp; i++) {
			const fpost *f = &b->fp[i];
			uint32_t t = rank[f->term];
			unsigned char *r = p + off_post + vz_load_u64(p + off_dict + (uint64_t)t * DICT_REC + 16) + fpos[t]++ * FPOST;
			put32(r, f->file);
			r[4] = (unsigned char)f->tf[0], r[5] = (unsigned char)(f->tf[0] >> 8);
			r[6] = (unsigned char)f->tf[1], r[7] = (unsigned char)(f->tf[1] >> 8);
			put32(r + 8, f->body);
		}
		for (size_t i = 0; i < b->n_cp; i++) {
			const cpost *f = &b->cp[i];
			uint32_t t = rank[f->term];
			uint64_t nf = fstart[t + 1] - fstart[t];
			unsigned char *r = p + off_post + vz_load_u64(p + off_dict + (uint64_t)t * DICT_REC + 16) + nf * FPOST + cpos[t]++ * CPOST;
			put32(r, f->chunk), put32(r + 4, f->tf);
		}
		free(fpos);
		free(cpos);
	}
	out->len = s;
out:
	free(order);
	free(rank);
	free(fstart);
	free(cstart);
	return rc;
}

static void builder_free(builder *b)
{
	free(b->slots), free(b->str_off), free(b->str_len), free(b->fmark), free(b->fidx), free(b->cmark), free(b->cidx);
	free(b->fp), free(b->cp);
	vz_buf_free(&b->arena);
}

/* The postings of the files an index had before, bucketed by their file (chunk) in the new
 * one: see take_old. */
typedef struct old_posts {
	fpost *fp;
	cpost *cp;
	size_t *fstart, *cstart; /* per new file / new chunk: its range in fp / cp */
} old_posts;

static int take_old(builder *b, const vz_text_index *x, const int64_t *from, vz_text_doc *docs, size_t n, old_posts *op);
static void copy_old(builder *b, const vz_text_index *x, const old_posts *op, vz_text_doc *d, uint32_t file, int64_t from, size_t first_chunk);

/* Doc d as file `file` of b, its chunks from chunk first_chunk on: its tokens counted (its
 * field lengths and its chunks' term counts set). */
static void count_doc(builder *b, vz_text_doc *d, uint32_t file, size_t first_chunk)
{
	b->cur_file = file;
	memset(b->cur_flen, 0, sizeof b->cur_flen);
	b->field = 0;
	vz_ti_tokens(d->path, strlen(d->path), count_token, b);
	b->field = 1;
	vz_ti_tokens(d->title, d->title_len, count_token, b);
	uint64_t prev_end = 0;
	for (uint32_t j = 0; j < d->n_chunks && !b->rc; j++) {
		vz_text_chunk *ch = &d->chunks[j];
		b->cur_chunk = (uint32_t)(first_chunk + j);
		b->cur_clen = 0;
		b->field = 2;
		b->skip_before = prev_end > ch->start ? (size_t)(prev_end - ch->start) : 0;
		vz_ti_tokens(ch->text, ch->len, count_token, b);
		ch->terms = b->cur_clen;
		b->clen += b->cur_clen;
		if (ch->start + ch->len > prev_end) prev_end = ch->start + ch->len;
	}
	for (int f = 0; f < 3; f++) d->len[f] = b->cur_flen[f], b->flen[f] += b->cur_flen[f];
}

/* ---- tokenizing on the threads that read the files: each thread counts the tokens of its
 * files into its own builder (its own term ids, files and chunks numbered in the order it read
 * them); the build of postings.bin then only maps each term of a thread to the index's once
 * and copies the postings over, in file order: the same bytes as tokenizing there. ---- */

struct vz_text_tokens {
	builder b;
	uint32_t files, chunks; /* counted so far */
	uint32_t *gid;          /* during a build_body: term of b -> term of its builder, or UINT32_MAX */
};

int vz_text_tokens_new(vz_text_tokens **out)
{
	return (*out = calloc(1, sizeof **out)) ? VZ_OK : vz_fail(VZ_ENOMEM, "out of memory");
}

void vz_text_tokens_free(vz_text_tokens *t)
{
	if (!t) return;
	builder_free(&t->b);
	free(t->gid);
	free(t);
}

int vz_text_tokens_add(vz_text_tokens *t, vz_text_doc *d, vz_text_pre *pre)
{
	if (t->b.rc) return t->b.rc;
	if (t->files == UINT32_MAX || d->n_chunks > UINT32_MAX - 1 - t->chunks) return vz_fail(VZ_EINVAL, "too much text for one tokenizing thread");
	*pre = (vz_text_pre){ .t = t, .fp0 = t->b.n_fp, .cp0 = t->b.n_cp, .chunk0 = t->chunks, .chunks = d->n_chunks };
	count_doc(&t->b, d, t->files, t->chunks);
	if (t->b.rc) return t->b.rc;
	t->files++;
	t->chunks += d->n_chunks;
	pre->fp1 = t->b.n_fp;
	pre->cp1 = t->b.n_cp;
	memcpy(pre->len, d->len, sizeof pre->len);
	return VZ_OK;
}

/* The term of b for term k of tokens state t. */
static uint32_t global_term(builder *b, vz_text_tokens *t, uint32_t k)
{
	if (!t->gid) {
		if (!(t->gid = malloc((t->b.n_terms ? t->b.n_terms : 1) * sizeof *t->gid))) {
			b->rc = vz_fail(VZ_ENOMEM, "out of memory");
			return 0;
		}
		memset(t->gid, 0xff, t->b.n_terms * sizeof *t->gid);
	}
	if (t->gid[k] == UINT32_MAX && !b->rc) b->rc = term_id(b, (const char *)t->b.arena.data + t->b.str_off[k], t->b.str_len[k], &t->gid[k]);
	return t->gid[k];
}

/* Doc d as file `file` of b, its chunks from first_chunk on, from the tokens d->pre kept. */
static void merge_tokens(builder *b, vz_text_doc *d, uint32_t file, size_t first_chunk)
{
	const vz_text_pre *p = d->pre;
	vz_text_tokens *t = p->t;
	if (p->chunks != d->n_chunks) {
		b->rc = vz_fail(VZ_EINVAL, "%s: %u chunks tokenized, %u to index", d->path, p->chunks, d->n_chunks);
		return;
	}
	for (size_t k = p->fp0; k < p->fp1 && !b->rc; k++) {
		fpost f = t->b.fp[k];
		f.term = global_term(b, t, f.term);
		f.file = file;
		if (!b->rc) b->rc = append_fp(b, &f);
	}
	for (uint32_t j = 0; j < d->n_chunks; j++) d->chunks[j].terms = 0;
	for (size_t k = p->cp0; k < p->cp1 && !b->rc; k++) {
		cpost c = t->b.cp[k];
		uint32_t j = c.chunk - p->chunk0;
		c.term = global_term(b, t, c.term);
		c.chunk = (uint32_t)(first_chunk + j);
		d->chunks[j].terms += c.tf;
		if (!b->rc) b->rc = append_cp(b, &c);
	}
	for (int f = 0; f < 3; f++) d->len[f] = p->len[f], b->flen[f] += p->len[f];
	for (uint32_t j = 0; j < d->n_chunks; j++) b->clen += d->chunks[j].terms;
}

/* The body of postings.bin for docs into body. With old (an index of the same tokenizer and
 * weights), doc i with from[i] >= 0 is file from[i] of old, unchanged: its postings are taken
 * from there instead of tokenizing its text again; the bytes are the same. */
static int build_body(vz_text_doc *docs, size_t n, const vz_text_weights *w, const vz_text_index *old, const int64_t *from, vz_buf *body)
{
	builder b = { 0 };
	old_posts op[2] = { 0 };
	size_t n_chunks = 0;
	/* old may be a merged view (postings.bin and a postings.delta): from[] numbers its merged
	 * files, each taken from its part */
	const vz_text_index *parts[2] = { old, NULL };
	int64_t *pf[2] = { NULL, NULL };
	int np = old ? 1 : 0;
	if (old && old->from) {
		parts[0] = old->part[0], parts[1] = old->part[1], np = 2;
		for (int q = 0; q < 2 && !b.rc; q++) {
			if (!(pf[q] = malloc((n ? n : 1) * sizeof *pf[q]))) b.rc = vz_fail(VZ_ENOMEM, "out of memory");
			for (size_t i = 0; i < n && !b.rc; i++) {
				uint32_t l = from[i] >= 0 && (uint64_t)from[i] < old->files ? old->from[from[i]] : UINT32_MAX;
				pf[q][i] = l != UINT32_MAX && (int)(l >> 31) == q ? (int64_t)(l & INT32_MAX) : -1;
			}
		}
	} else if (old) {
		pf[0] = (int64_t *)from;
	}
	for (int q = 0; q < np && !b.rc; q++) {
		bool any = false; /* a part none of whose files is kept is not read (a delta's base) */
		for (size_t i = 0; i < n && !any; i++) any = pf[q][i] >= 0;
		if (any || np == 1) b.rc = take_old(&b, parts[q], pf[q], docs, n, &op[q]);
		else if (!(op[q].fstart = calloc(n + 2, sizeof *op[q].fstart)) || !(op[q].cstart = calloc(1, sizeof *op[q].cstart))) b.rc = vz_fail(VZ_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < n && !b.rc; i++) {
		vz_text_doc *d = &docs[i];
		int q = np == 2 && pf[1][i] >= 0 ? 1 : 0;
		if (np && pf[q][i] >= 0) {
			copy_old(&b, parts[q], &op[q], d, (uint32_t)i, pf[q][i], n_chunks);
			n_chunks += d->n_chunks;
			continue;
		}
		if (d->pre) merge_tokens(&b, d, (uint32_t)i, n_chunks);
		else count_doc(&b, d, (uint32_t)i, n_chunks);
		n_chunks += d->n_chunks;
	}
	int rc = b.rc;
	if (!rc) rc = encode(&b, docs, n, n_chunks, w, body);
	builder_free(&b);
	for (size_t i = 0; i < n; i++) /* the maps of the tokens states into this builder's terms */
		if (docs[i].pre && docs[i].pre->t->gid) {
			free(docs[i].pre->t->gid);
			docs[i].pre->t->gid = NULL;
		}
	for (int q = 0; q < 2; q++) free(op[q].fp), free(op[q].cp), free(op[q].fstart), free(op[q].cstart);
	if (np == 2) free(pf[0]), free(pf[1]);
	return rc;
}

int vz_text_index_write(const char *path, vz_text_doc *docs, size_t n, const vz_text_weights *w, uint64_t generation, uint64_t config_hash)
{
	return vz_text_index_write_from(path, NULL, NULL, docs, n, w, generation, config_hash);
}

int vz_text_index_write_from(const char *path, const vz_text_index *old, const int64_t *from, vz_text_doc *docs, size_t n,
			     const vz_text_weights *w, uint64_t generation, uint64_t config_hash)
{
	vz_buf body = { 0 };
	int rc = build_body(docs, n, w, old, from, &body);
	if (!rc) rc = vz_text_index_write_body(path, &body, generation, config_hash);
	vz_buf_free(&body);
	return rc;
}

int vz_text_index_encode(const vz_text_index *old, const int64_t *from, vz_text_doc *docs, size_t n, const vz_text_weights *w, vz_buf *body)
{
	return build_body(docs, n, w, old, from, body);
}

int vz_text_index_write_body(const char *path, const vz_buf *body, uint64_t generation, uint64_t config_hash)
{
	vz_file_header h = { .version = POSTINGS_VERSION, .generation = generation, .aux = config_hash };
	memcpy(h.magic, VZ_MAGIC_POSTINGS, 8);
	return vz_write_checked_file(path, &h, body->data, body->len);
}

/* ---- reading ---- */


static float getf(const unsigned char *p)
{
	uint32_t u = vz_load_u32(p);
	float f;
	memcpy(&f, &u, 4);
	return f;
}

int vz_ti_layout(vz_text_index *x)
{
	const unsigned char *p = x->p;
	if (x->size < HEAD) return vz_fail(VZ_ECORRUPT, "offset %d: body of %zu bytes is shorter than its %d-byte head", VZ_HEADER_SIZE, x->size, HEAD);
	if (vz_load_u32(p) != 3) return vz_fail(VZ_ECORRUPT, "offset %d: %u fields, want 3", VZ_HEADER_SIZE, vz_load_u32(p));
	x->w = (vz_text_weights){ getf(p + 8), getf(p + 12), getf(p + 16), getf(p + 20), getf(p + 24) };
	float *wv[] = { &x->w.path, &x->w.title, &x->w.body, &x->w.k1, &x->w.b };
	for (int i = 0; i < 5; i++)
		if (!(*wv[i] >= 0 && *wv[i] <= 1000)) return vz_fail(VZ_ECORRUPT, "offset %d: ranking parameter %d out of range", VZ_HEADER_SIZE + 8 + 4 * i, i);
	if (x->w.b > 1) return vz_fail(VZ_ECORRUPT, "offset %d: b %g above 1", VZ_HEADER_SIZE + 24, x->w.b);
	x->files = vz_load_u64(p + 32), x->chunks = vz_load_u64(p + 40), x->terms = vz_load_u64(p + 48);
	x->off_files = vz_load_u64(p + 88), x->off_chunks = vz_load_u64(p + 96), x->off_dict = vz_load_u64(p + 104);
	x->off_post = vz_load_u64(p + 112), x->off_str = vz_load_u64(p + 120);
	if (x->files > UINT32_MAX || x->chunks > UINT32_MAX || x->terms > UINT32_MAX || x->off_files != HEAD ||
	    x->off_chunks != HEAD + x->files * FILE_REC || x->off_dict != x->off_chunks + x->chunks * CHUNK_REC ||
	    x->off_post != x->off_dict + x->terms * DICT_REC || x->off_str < x->off_post || x->off_str > x->size)
		return vz_fail(VZ_ECORRUPT, "offset %d: section table does not fit the %zu-byte body", VZ_HEADER_SIZE + 88, x->size);
	for (int f = 0; f < 3; f++) {
		double t = (double)vz_load_u64(p + 56 + 8 * f);
		x->avg[f] = x->files && t > 0 ? t / (double)x->files : 1;
	}
	double ct = (double)vz_load_u64(p + 80);
	x->cavg = x->chunks && ct > 0 ? ct / (double)x->chunks : 1;
	return VZ_OK;
}

int vz_text_index_open(const char *path, vz_text_index **out)
{
	*out = NULL;
	vz_text_index *x = calloc(1, sizeof *x);
	if (!x) return vz_fail(VZ_ENOMEM, "out of memory");
	int rc = vz_map_file(path, &x->map);
	if (rc) {
		free(x);
		return rc;
	}
	vz_file_header h;
	rc = vz_header_decode(x->map.data, x->map.size, VZ_MAGIC_POSTINGS, POSTINGS_VERSION, &h);
	if (!rc && h.body_length != x->map.size - VZ_HEADER_SIZE)
		rc = vz_fail(VZ_ECORRUPT, "offset 24: body length %llu, file has %zu", (unsigned long long)h.body_length, x->map.size - VZ_HEADER_SIZE);
	if (!rc) {
		x->p = x->map.data + VZ_HEADER_SIZE;
		x->size = x->map.size - VZ_HEADER_SIZE;
		x->generation = h.generation;
		x->config = h.aux;
		x->at = VZ_HEADER_SIZE;
		x->sum_p = x->p, x->sum_n = x->size, x->sum = h.body_checksum;
		rc = vz_ti_layout(x);
	}
	if (rc) {
		vz_fail_prefix(rc, "%s: ", path);
		vz_text_index_close(x);
		return rc;
	}
	*out = x;
	return VZ_OK;
}

int vz_text_index_open_dir(const char *dir, uint64_t generation, vz_text_index **out)
{
	*out = NULL;
	char path[VZ_PATH_MAX];
	int rc = vz_settle_data_file(dir, "postings.bin", VZ_MAGIC_POSTINGS, generation, false, path, sizeof path);
	vz_file_header h;
	/* postings.bin of an older generation and a postings.delta of this one: merged */
	if (!rc && (vz_header_read(path, VZ_MAGIC_POSTINGS, POSTINGS_VERSION, &h) || h.generation != generation) &&
	    (rc = vz_ti_open_delta(dir, generation, out)) != VZ_ENOENT)
		return rc;
	if (rc == VZ_ENOENT) rc = VZ_OK;
	if (!rc) rc = vz_text_index_open(path, out);
	if (!rc && (*out)->generation != generation) {
		rc = vz_fail(VZ_ECORRUPT, "%s: generation %llu, the collection's is %llu (run vz build)", path,
			     (unsigned long long)(*out)->generation, (unsigned long long)generation);
		vz_text_index_close(*out);
		*out = NULL;
	}
	return rc;
}

int vz_text_index_build(vz_text_doc *docs, size_t n, const vz_text_weights *w, vz_text_index **out)
{
	*out = NULL;
	vz_text_index *x = calloc(1, sizeof *x);
	if (!x) return vz_fail(VZ_ENOMEM, "out of memory");
	int rc = build_body(docs, n, w, NULL, NULL, &x->own);
	if (!rc) {
		x->p = x->own.data;
		x->size = x->own.len;
		rc = vz_ti_layout(x);
	}
	if (rc) {
		vz_text_index_close(x);
		return rc;
	}
	*out = x;
	return VZ_OK;
}

void vz_text_index_close(vz_text_index *x)
{
	if (!x) return;
	for (int i = 0; i < 2; i++) {
		vz_text_index_close(x->part[i]);
		free(x->to[i]);
	}
	free(x->from);
	vz_buf_free(&x->own);
	vz_unmap(&x->map);
	free(x);
}

uint64_t vz_text_index_generation(const vz_text_index *x) { return x->generation; }
uint64_t vz_text_index_files(const vz_text_index *x) { return x->files; }
uint64_t vz_text_index_config(const vz_text_index *x) { return x->config; }
vz_text_weights vz_text_index_weights(const vz_text_index *x) { return x->w; }

/* A string of the strings section, or false when it does not fit. */
static bool str_at(const vz_text_index *x, uint32_t off, uint32_t len, const char **s)
{
	if ((uint64_t)off + len > x->size - x->off_str) return false;
	*s = (const char *)x->p + x->off_str + off;
	return true;
}


int vz_text_file_path(const vz_text_index *x, uint32_t file, const char **path, size_t *len)
{
	*path = "", *len = 0;
	if (file >= x->files) return vz_fail(VZ_ECORRUPT, "file %u of %llu", file, (unsigned long long)x->files);
	if (x->from) return vz_text_file_path(x->part[x->from[file] >> 31], x->from[file] & INT32_MAX, path, len); /* a merged view */
	const unsigned char *r = file_rec(x, file);
	uint32_t n = vz_load_u32(r + 12);
	if (!str_at(x, vz_load_u32(r + 8), n, path)) return vz_fail(VZ_ECORRUPT, "offset %llu: path out of bounds", (unsigned long long)(VZ_HEADER_SIZE + x->off_files + (uint64_t)file * FILE_REC + 8));
	*len = n;
	return VZ_OK;
}

int vz_text_index_file(const vz_text_index *x, uint32_t i, vz_text_file_stat *out)
{
	int rc = vz_text_file_path(x, i, &out->path, &out->path_len);
	if (rc) return rc;
	const unsigned char *r = file_rec(x, i);
	out->size = vz_load_u64(r + 48);
	out->mtime_ns = (int64_t)vz_load_u64(r + 56);
	out->chunks = vz_load_u32(r + 28);
	out->hash = vz_load_u64(r);
	return VZ_OK;
}

/* The dictionary entry of term t, or -1. */
int64_t vz_ti_lookup(const vz_text_index *x, const char *t, size_t n)
{
	uint64_t lo = 0, hi = x->terms;
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		const unsigned char *r = x->p + x->off_dict + mid * DICT_REC;
		const char *s;
		uint32_t l = vz_load_u32(r + 4);
		if (!str_at(x, vz_load_u32(r), l, &s)) return -1;
		int c = memcmp(s, t, l < n ? l : n);
		if (!c) c = (l > n) - (l < n);
		if (!c) return (int64_t)mid;
		if (c < 0) lo = mid + 1;
		else hi = mid;
	}
	return -1;
}

/* The postings of dictionary entry i: nf file postings at *fp, nc chunk postings at *cp;
 * false when they do not fit. */
bool vz_ti_postings(const vz_text_index *x, uint64_t i, const unsigned char **fp, uint32_t *nf, const unsigned char **cp, uint32_t *nc)
{
	const unsigned char *r = x->p + x->off_dict + i * DICT_REC;
	*nf = vz_load_u32(r + 8), *nc = vz_load_u32(r + 12);
	uint64_t off = vz_load_u64(r + 16), room = x->off_str - x->off_post;
	uint64_t need = (uint64_t)*nf * FPOST + (uint64_t)*nc * CPOST;
	if (off > room || need > room - off) return false;
	*fp = x->p + x->off_post + off;
	*cp = *fp + (uint64_t)*nf * FPOST;
	return true;
}

/* The postings of the files of x that docs keep (from[i] >= 0: doc i is file from[i] of x, the
 * same path, content and chunks), bucketed by their new file and chunk; their terms enter b.
 * VZ_ECORRUPT when x is damaged or does not hold together (the caller then tokenizes every
 * file). */
static int take_old(builder *b, const vz_text_index *x, const int64_t *from, vz_text_doc *docs, size_t n, old_posts *op)
{
	/* what is taken over gets a new checksum: a bit flip since the file was written must not
	 * pass into it unseen, so the old body is checked first (XXH3: a few ms for 20 MB) */
	if (x->sum_p && vz_hash64(x->sum_p, x->sum_n) != x->sum) return vz_fail(VZ_ECORRUPT, "%s: body checksum mismatch", x->dead ? "postings.delta" : "postings.bin");
	int64_t *to = malloc((x->files ? x->files : 1) * sizeof *to); /* old file -> new file, or -1 */
	size_t *cbase = malloc((n + 1) * sizeof *cbase);              /* new file -> its first new chunk */
	int rc = to && cbase ? VZ_OK : vz_fail(VZ_ENOMEM, "out of memory");
	for (uint64_t f = 0; f < x->files && !rc; f++) to[f] = -1;
	size_t nc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		cbase[i] = nc;
		nc += docs[i].n_chunks;
		if (from[i] < 0) continue;
		const unsigned char *r;
		if ((uint64_t)from[i] >= x->files || to[from[i]] >= 0 || vz_load_u32((r = file_rec(x, (uint32_t)from[i])) + 28) != docs[i].n_chunks ||
		    vz_load_u64(r) != docs[i].hash || (uint64_t)vz_load_u32(r + 24) + docs[i].n_chunks > x->chunks)
			rc = vz_fail(VZ_ECORRUPT, "postings.bin: file %lld is not the file it was", (long long)from[i]);
		else to[from[i]] = (int64_t)i;
	}
	cbase[n] = nc;
	if (!rc) {
		op->fstart = calloc(n + 2, sizeof *op->fstart);
		op->cstart = calloc(nc + 2, sizeof *op->cstart);
		if (!op->fstart || !op->cstart) rc = vz_fail(VZ_ENOMEM, "out of memory");
	}
	/* two passes over the dictionary: count what each new file and chunk gets, then place it */
	size_t nfp = 0, ncp = 0;
	for (int pass = 0; pass < 2 && !rc; pass++) {
		if (pass == 1) {
			for (size_t i = 0; i < n; i++) op->fstart[i + 1] += op->fstart[i];
			for (size_t i = 0; i < nc; i++) op->cstart[i + 1] += op->cstart[i];
			op->fp = malloc((nfp ? nfp : 1) * sizeof *op->fp);
			op->cp = malloc((ncp ? ncp : 1) * sizeof *op->cp);
			if (!op->fp || !op->cp) {
				rc = vz_fail(VZ_ENOMEM, "out of memory");
				break;
			}
		}
		for (uint64_t t = 0; t < x->terms && !rc; t++) {
			const unsigned char *fp, *cp, *d = x->p + x->off_dict + t * DICT_REC;
			uint32_t nf, ncp_t, id = 0;
			const char *str;
			if (!vz_ti_postings(x, t, &fp, &nf, &cp, &ncp_t) || !str_at(x, vz_load_u32(d), vz_load_u32(d + 4), &str) || vz_load_u32(d + 4) > TERM_MAX) {
				rc = vz_fail(VZ_ECORRUPT, "postings.bin: term %llu out of bounds", (unsigned long long)t);
				break;
			}
			bool named = false;
			for (uint32_t k = 0; k < nf + ncp_t && !rc; k++) {
				bool file = k < nf;
				const unsigned char *q = file ? fp + (uint64_t)k * FPOST : cp + (uint64_t)(k - nf) * CPOST;
				uint32_t of = vz_load_u32(q), oc = of;
				if (!file) {
					if (oc >= x->chunks) { rc = vz_fail(VZ_ECORRUPT, "postings.bin: chunk %u out of range", oc); break; }
					of = vz_load_u32(x->p + x->off_chunks + (uint64_t)oc * CHUNK_REC);
				}
				if (of >= x->files) { rc = vz_fail(VZ_ECORRUPT, "postings.bin: file %u out of range", of); break; }
				if (to[of] < 0) continue;
				size_t nfile = (size_t)to[of], nchunk = 0;
				if (!file) {
					uint32_t first = vz_load_u32(file_rec(x, of) + 24);
					if (oc < first || oc - first >= docs[nfile].n_chunks) { rc = vz_fail(VZ_ECORRUPT, "postings.bin: chunk %u not of file %u", oc, of); break; }
					nchunk = cbase[nfile] + (oc - first);
				}
				if (pass == 0) {
					if (file) op->fstart[nfile + 1]++, nfp++;
					else op->cstart[nchunk + 1]++, ncp++;
					continue;
				}
				if (!named && (rc = term_id(b, str, vz_load_u32(d + 4), &id))) break;
				named = true;
				if (file) op->fp[op->fstart[nfile]++] = (fpost){ id, (uint32_t)nfile, { (uint16_t)(q[4] | q[5] << 8), (uint16_t)(q[6] | q[7] << 8) }, vz_load_u32(q + 8) };
				else op->cp[op->cstart[nchunk]++] = (cpost){ id, (uint32_t)nchunk, vz_load_u32(q + 4) };
			}
		}
	}
	if (!rc) { /* the placing moved each start to the next one's: move them back */
		memmove(op->fstart + 1, op->fstart, n * sizeof *op->fstart), op->fstart[0] = 0;
		memmove(op->cstart + 1, op->cstart, nc * sizeof *op->cstart), op->cstart[0] = 0;
	}
	free(to);
	free(cbase);
	return rc;
}

/* Doc d, new file `file`, as file `from` of x: its postings (from take_old), field lengths and
 * chunk term counts. */
static void copy_old(builder *b, const vz_text_index *x, const old_posts *op, vz_text_doc *d, uint32_t file, int64_t from, size_t first_chunk)
{
	const unsigned char *r = file_rec(x, (uint32_t)from);
	for (size_t k = op->fstart[file]; k < op->fstart[file + 1] && !b->rc; k++) b->rc = append_fp(b, &op->fp[k]);
	for (int f = 0; f < 3; f++) d->len[f] = vz_load_u32(r + 32 + 4 * f), b->flen[f] += d->len[f];
	uint32_t oc = vz_load_u32(r + 24);
	for (uint32_t j = 0; j < d->n_chunks && !b->rc; j++) {
		size_t c = first_chunk + j;
		for (size_t k = op->cstart[c]; k < op->cstart[c + 1] && !b->rc; k++) b->rc = append_cp(b, &op->cp[k]);
		d->chunks[j].terms = vz_load_u32(x->p + x->off_chunks + (uint64_t)(oc + j) * CHUNK_REC + 8);
		b->clen += d->chunks[j].terms;
	}
}
/* ---- verify ---- */

int vz_text_index_check(const char *path, uint64_t *generation)
{
	vz_text_index *x;
	int rc = vz_text_index_open(path, &x);
	if (rc) return rc;
	*generation = x->generation;
	if (vz_hash64(x->sum_p, x->sum_n) != x->sum) rc = vz_fail(VZ_ECORRUPT, "offset 32: body checksum mismatch");
	if (!rc) rc = vz_ti_check_body(x);
	if (rc) vz_fail_prefix(rc, "%s: ", path);
	vz_text_index_close(x);
	return rc;
}

int vz_ti_check_body(const vz_text_index *x)
{
	int rc = VZ_OK;
	const unsigned char *p = x->p;
#define BAD(off, ...) do { rc = vz_fail(VZ_ECORRUPT, "offset %llu: " __VA_ARGS__); goto out; } while (0)
#define AT(o) (unsigned long long)(x->at + (o))
	uint64_t next_chunk = 0, lens[3] = { 0 }, clen = 0;
	const char *prev = NULL;
	size_t prev_len = 0;
	for (uint64_t f = 0; f < x->files; f++) {
		const unsigned char *r = file_rec(x, (uint32_t)f);
		uint64_t o = x->off_files + f * FILE_REC;
		const char *s, *t;
		if (!str_at(x, vz_load_u32(r + 8), vz_load_u32(r + 12), &s) || !vz_load_u32(r + 12)) BAD(0, "file %llu: path out of bounds", AT(o + 8), (unsigned long long)f);
		if (!str_at(x, vz_load_u32(r + 16), vz_load_u32(r + 20), &t)) BAD(0, "file %llu: title out of bounds", AT(o + 16), (unsigned long long)f);
		size_t l = vz_load_u32(r + 12);
		if (prev) {
			int c = memcmp(prev, s, prev_len < l ? prev_len : l);
			if (c > 0 || (!c && prev_len >= l)) BAD(0, "file %llu: paths not sorted", AT(o + 8), (unsigned long long)f);
		}
		prev = s, prev_len = l;
		if (vz_load_u32(r + 24) != next_chunk) BAD(0, "file %llu: first chunk %u, want %llu", AT(o + 24), (unsigned long long)f, vz_load_u32(r + 24), (unsigned long long)next_chunk);
		for (uint32_t j = 0; j < vz_load_u32(r + 28); j++, next_chunk++) {
			if (next_chunk >= x->chunks) BAD(0, "file %llu: more chunks than the table holds", AT(o + 28), (unsigned long long)f);
			const unsigned char *c = chunk_rec(x, (uint32_t)next_chunk);
			if (vz_load_u32(c) != f || vz_load_u32(c + 12) != j || !vz_load_u32(c + 4))
				BAD(0, "chunk %llu does not belong to file %llu as chunk %u", AT(x->off_chunks + next_chunk * CHUNK_REC), (unsigned long long)next_chunk, (unsigned long long)f, j);
			clen += vz_load_u32(c + 8);
		}
		for (int k = 0; k < 3; k++) lens[k] += vz_load_u32(r + 32 + 4 * k);
	}
	if (next_chunk != x->chunks) BAD(0, "the files have %llu chunks, the table %llu", AT(40), (unsigned long long)next_chunk, (unsigned long long)x->chunks);
	for (int k = 0; k < 3; k++)
		if (lens[k] != vz_load_u64(p + 56 + 8 * k)) BAD(0, "field %d: total length differs from the files'", AT(56 + 8 * k), k);
	if (clen != vz_load_u64(p + 80)) BAD(0, "total chunk length differs from the chunks'", AT(80));
	uint64_t post = 0;
	prev = NULL;
	for (uint64_t i = 0; i < x->terms; i++) {
		uint64_t o = x->off_dict + i * DICT_REC;
		const unsigned char *r = p + o;
		const char *s;
		size_t l = vz_load_u32(r + 4);
		if (!l || l > TERM_MAX || !str_at(x, vz_load_u32(r), (uint32_t)l, &s)) BAD(0, "term %llu out of bounds", AT(o), (unsigned long long)i);
		if (prev) {
			int c = memcmp(prev, s, prev_len < l ? prev_len : l);
			if (c > 0 || (!c && prev_len >= l)) BAD(0, "term %llu: dictionary not sorted", AT(o), (unsigned long long)i);
		}
		prev = s, prev_len = l;
		const unsigned char *fp, *cp;
		uint32_t nf, nc;
		if (vz_load_u64(r + 16) != post || !vz_ti_postings(x, i, &fp, &nf, &cp, &nc) || (!nf && !nc))
			BAD(0, "term %llu: postings out of place", AT(o + 16), (unsigned long long)i);
		for (uint32_t j = 0; j < nf; j++) {
			uint32_t f = vz_load_u32(fp + j * FPOST);
			if (f >= x->files || (j && f <= vz_load_u32(fp + (j - 1) * FPOST)))
				BAD(0, "term %llu: file posting %u out of order or range", AT(x->off_post + post + j * FPOST), (unsigned long long)i, j);
		}
		for (uint32_t j = 0; j < nc; j++) {
			uint32_t c = vz_load_u32(cp + j * CPOST);
			if (c >= x->chunks || (j && c <= vz_load_u32(cp + (j - 1) * CPOST)) || !vz_load_u32(cp + j * CPOST + 4))
				BAD(0, "term %llu: chunk posting %u out of order or range", AT(x->off_post + post + nf * FPOST + j * CPOST), (unsigned long long)i, j);
		}
		post += (uint64_t)nf * FPOST + (uint64_t)nc * CPOST;
	}
	if (post != x->off_str - x->off_post) BAD(0, "postings end at %llu, strings start at %llu", AT(x->off_post), (unsigned long long)AT(x->off_post + post), (unsigned long long)AT(x->off_str));
#undef BAD
#undef AT
out:
	return rc;
}
