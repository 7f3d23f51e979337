/* textsearch.c: `query --text` over postings.bin (its layout: textindex.c, vz-format(5)): the
 * query's terms, BM25F scores per file with its best chunk or per chunk, and the passage a
 * snippet shows. */
#include "textindex_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct qterms {
	char t[32][TERM_MAX];
	size_t n[32];
	size_t count;
} qterms;

static void add_qterm(void *ctx, const char *t, size_t n, size_t offset)
{
	(void)offset;
	qterms *q = ctx;
	for (size_t i = 0; i < q->count; i++)
		if (q->n[i] == n && !memcmp(q->t[i], t, n)) return;
	if (q->count == 32) return;
	memcpy(q->t[q->count], t, n);
	q->n[q->count++] = n;
}

/* The passage of a text that a snippet shows: the query terms found in it, by offset. */
#define PASSAGE 320 /* bytes from a match: about fifty words, as passage retrieval takes */
#define PASSAGE_MATCHES 4096

typedef struct matches {
	const qterms *q;
	uint32_t at[PASSAGE_MATCHES];
	uint8_t term[PASSAGE_MATCHES];
	size_t n;
} matches;

static void match_token(void *ctx, const char *t, size_t n, size_t offset)
{
	matches *m = ctx;
	if (m->n == PASSAGE_MATCHES || offset > UINT32_MAX) return;
	for (size_t i = 0; i < m->q->count; i++)
		if (m->q->n[i] == n && !memcmp(m->q->t[i], t, n)) {
			m->at[m->n] = (uint32_t)offset;
			m->term[m->n++] = (uint8_t)i;
			return;
		}
}

size_t vz_text_best_match(const char *text, size_t len, const char *query, size_t qlen)
{
	qterms q = { .count = 0 };
	vz_ti_tokens(query, qlen, add_qterm, &q);
	matches *m = malloc(sizeof *m);
	if (!m) return 0;
	m->q = &q;
	m->n = 0;
	vz_ti_tokens(text, len, match_token, m);
	/* slide a window of PASSAGE bytes from each match: the most distinct query terms, then the
	 * most matches, win; the earliest of equals */
	uint32_t count[32] = { 0 };
	size_t distinct = 0, j = 0, best_score = 0, best = 0;
	for (size_t i = 0; i < m->n; i++) {
		for (; j < m->n && m->at[j] < (uint64_t)m->at[i] + PASSAGE; j++) distinct += count[m->term[j]]++ == 0;
		size_t score = distinct * PASSAGE_MATCHES + (j - i);
		if (score > best_score) best_score = score, best = m->at[i];
		distinct -= --count[m->term[i]] == 0;
	}
	free(m);
	return best;
}

static double idf(uint64_t n, uint64_t df)
{
	if (df > n) df = n;
	return log(1 + ((double)n - (double)df + 0.5) / ((double)df + 0.5));
}

static double saturate(const vz_text_index *x, double tf, double len, double avg)
{
	if (tf <= 0) return 0;
	double norm = 1 - x->w.b + x->w.b * len / avg;
	return tf * (x->w.k1 + 1) / (tf + x->w.k1 * norm);
}

/* The weighted BM25 term-frequency part of field f (0 path, 1 title, 2 body) of a file. Each
 * field saturates on its own and the weighted parts add up (as FTS5's column weights do): a
 * term in the title counts beside many in the body, where one saturation over the weighted sum
 * (classic BM25F) let long bodies drown the title (top-3 hit rate 0.84 against 0.90 on the
 * man-page corpus of tests/cli/textsearch.bats). */
static double field_score(const vz_text_index *x, const unsigned char *frec, int f, double tf)
{
	double w = f == 0 ? x->w.path : f == 1 ? x->w.title : x->w.body;
	return w * saturate(x, tf, vz_load_u32(frec + 32 + 4 * f), x->avg[f]);
}

typedef struct cand {
	double score;
	uint32_t id;
} cand;

static int cmp_cand(const void *a, const void *b)
{
	const cand *x = a, *y = b;
	if (x->score != y->score) return x->score < y->score ? 1 : -1;
	return (x->id > y->id) - (x->id < y->id);
}


void vz_text_hits_free(vz_text_hit *h, size_t n)
{
	for (size_t i = 0; h && i < n; i++) free(h[i].same);
	free(h);
}

static int fill_hit(const vz_text_index *x, vz_text_hit *h, uint32_t file, uint32_t chunk, double score)
{
	memset(h, 0, sizeof *h);
	h->score = score;
	h->file = file;
	const unsigned char *c = chunk_rec(x, chunk);
	h->chunk = vz_load_u32(c + 12);
	h->line = vz_load_u32(c + 4);
	return vz_text_file_path(x, file, &h->path, &h->path_len);
}

/* Every chunk that has a query term in its body or its file's path or title, scored with
 * BM25F: the file's path and title fields beside the chunk's body. */
static int search_chunks(const vz_text_index *x, const qterms *q, size_t k, vz_text_hit **out, size_t *n)
{
	double *cs = calloc(x->chunks ? x->chunks : 1, sizeof *cs), *pf = calloc(x->files ? x->files : 1, sizeof *pf);
	uint32_t *stamp = calloc(x->chunks ? x->chunks : 1, sizeof *stamp);
	cand *cands = NULL;
	int rc = cs && pf && stamp ? VZ_OK : vz_fail(VZ_ENOMEM, "out of memory");
	for (size_t t = 0; t < q->count && !rc; t++) {
		ti_term tt; /* the term's postings, over postings.bin and a postings.delta */
		uint32_t f, ch, ctf;
		const unsigned char *fp;
		if (!vz_ti_term(x, q->t[t], q->n[t], &tt)) continue;
		double w = idf(x->chunks, tt.nc > tt.nf ? tt.nc : tt.nf);
		while (vz_ti_next_file(&tt, &f, &fp)) {
			const unsigned char *r = file_rec(x, f);
			pf[f] = field_score(x, r, 0, fp[4] | fp[5] << 8) + field_score(x, r, 1, fp[6] | fp[7] << 8);
		}
		while (vz_ti_next_chunk(&tt, &ch, &ctf)) {
			const unsigned char *cr = chunk_rec(x, ch);
			uint32_t cf = vz_load_u32(cr);
			if (cf >= x->files) continue;
			double tf = ctf;
			cs[ch] += w * (pf[cf] + x->w.body * saturate(x, tf, vz_load_u32(cr + 8), x->cavg));
			stamp[ch] = (uint32_t)t + 1;
		}
		vz_ti_rewind(&tt);
		while (vz_ti_next_file(&tt, &f, &fp)) {
			if (pf[f] > 0) {
				const unsigned char *r = file_rec(x, f);
				uint64_t first = vz_load_u32(r + 24), cnt = vz_load_u32(r + 28);
				for (uint64_t c = first; c < first + cnt && c < x->chunks; c++)
					if (stamp[c] != t + 1) cs[c] += w * pf[f];
			}
			pf[f] = 0;
		}
	}
	size_t m = 0;
	if (!rc) {
		for (uint64_t c = 0; c < x->chunks; c++) m += cs[c] > 0;
		if (!(cands = malloc((m ? m : 1) * sizeof *cands))) rc = vz_fail(VZ_ENOMEM, "out of memory");
	}
	if (!rc) {
		m = 0;
		for (uint64_t c = 0; c < x->chunks; c++)
			if (cs[c] > 0) cands[m++] = (cand){ cs[c], (uint32_t)c };
		qsort(cands, m, sizeof *cands, cmp_cand);
		if (m > k) m = k;
		if (!(*out = calloc(m ? m : 1, sizeof **out))) rc = vz_fail(VZ_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < m && !rc; i++) {
		rc = fill_hit(x, &(*out)[i], vz_load_u32(chunk_rec(x, cands[i].id)), cands[i].id, cands[i].score);
		*n = i + 1;
	}
	free(cs), free(pf), free(stamp), free(cands);
	if (rc) {
		vz_text_hits_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

/* Files ranked with BM25F over path, title and body; identical files (same content hash)
 * grouped under the best of them; each hit shows its file's best chunk (BM25 of the chunk's
 * body, the first chunk when only the path or title matched). */
static int search_files(const vz_text_index *x, const qterms *q, size_t k, vz_text_hit **out, size_t *n)
{
	double *fs = calloc(x->files ? x->files : 1, sizeof *fs);
	cand *cands = NULL;
	ti_term ent[32]; /* each term's postings, over postings.bin and a postings.delta */
	bool has[32];
	int rc = fs ? VZ_OK : vz_fail(VZ_ENOMEM, "out of memory");
	for (size_t t = 0; t < q->count && !rc; t++) {
		if (!(has[t] = vz_ti_term(x, q->t[t], q->n[t], &ent[t]))) continue;
		double w = idf(x->files, ent[t].nf);
		uint32_t f;
		const unsigned char *p;
		while (vz_ti_next_file(&ent[t], &f, &p)) {
			const unsigned char *r = file_rec(x, f);
			fs[f] += w * (field_score(x, r, 0, p[4] | p[5] << 8) + field_score(x, r, 1, p[6] | p[7] << 8) + field_score(x, r, 2, vz_load_u32(p + 8)));
		}
	}
	size_t m = 0;
	if (!rc) {
		for (uint64_t f = 0; f < x->files; f++) m += fs[f] > 0;
		if (!(cands = malloc((m ? m : 1) * sizeof *cands))) rc = vz_fail(VZ_ENOMEM, "out of memory");
	}
	vz_text_hit *hits = NULL;
	size_t nh = 0;
	if (!rc) {
		m = 0;
		for (uint64_t f = 0; f < x->files; f++)
			if (fs[f] > 0) cands[m++] = (cand){ fs[f], (uint32_t)f };
		qsort(cands, m, sizeof *cands, cmp_cand);
		if (!(hits = calloc(k < m ? k : m ? m : 1, sizeof *hits))) rc = vz_fail(VZ_ENOMEM, "out of memory");
	}
	/* group identical files: the first (best) of each content hash is the hit */
	for (size_t i = 0; i < m && !rc; i++) {
		uint32_t f = cands[i].id;
		uint64_t h = vz_load_u64(file_rec(x, f));
		size_t j = 0;
		while (j < nh && vz_load_u64(file_rec(x, hits[j].file)) != h) j++;
		if (j < nh) {
			uint32_t *s = realloc(hits[j].same, (hits[j].n_same + 1) * sizeof *s);
			if (!s) { rc = vz_fail(VZ_ENOMEM, "out of memory"); break; }
			hits[j].same = s;
			s[hits[j].n_same++] = f;
			continue;
		}
		if (nh == k) continue; /* later ones may still be copies of a hit */
		const unsigned char *r = file_rec(x, f);
		if (!vz_load_u32(r + 28) || vz_load_u32(r + 24) >= x->chunks) continue;
		rc = fill_hit(x, &hits[nh], f, vz_load_u32(r + 24), cands[i].score);
		nh++;
	}
	/* the best chunk of each hit */
	double *cs = NULL;
	if (!rc && nh) {
		for (size_t i = 0; i < x->files; i++) fs[i] = 0;
		for (size_t i = 0; i < nh; i++) fs[hits[i].file] = 1; /* now: which files are hits */
		if (!(cs = calloc(x->chunks ? x->chunks : 1, sizeof *cs))) rc = vz_fail(VZ_ENOMEM, "out of memory");
	}
	for (size_t t = 0; t < q->count && !rc && nh; t++) {
		if (!has[t]) continue;
		double w = idf(x->chunks, ent[t].nc);
		uint32_t c, ctf;
		while (vz_ti_next_chunk(&ent[t], &c, &ctf)) {
			const unsigned char *cr = chunk_rec(x, c);
			uint32_t f = vz_load_u32(cr);
			if (f >= x->files || !fs[f]) continue;
			double tf = ctf;
			cs[c] += w * saturate(x, tf, vz_load_u32(cr + 8), x->cavg);
		}
	}
	for (size_t i = 0; i < nh && !rc; i++) {
		const unsigned char *r = file_rec(x, hits[i].file);
		uint64_t first = vz_load_u32(r + 24), cnt = vz_load_u32(r + 28), best = first;
		for (uint64_t c = first; c < first + cnt && c < x->chunks; c++)
			if (cs[c] > cs[best]) best = c;
		const unsigned char *cr = chunk_rec(x, (uint32_t)best);
		hits[i].chunk = vz_load_u32(cr + 12);
		hits[i].line = vz_load_u32(cr + 4);
	}
	free(cs), free(fs), free(cands);
	if (rc) {
		vz_text_hits_free(hits, nh);
		return rc;
	}
	*out = hits;
	*n = nh;
	return VZ_OK;
}

int vz_text_search(const vz_text_index *x, const char *query, size_t qlen, size_t k, bool chunks, vz_text_hit **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	qterms q = { .count = 0 };
	vz_ti_tokens(query, qlen, add_qterm, &q);
	if (!q.count) return vz_fail(VZ_EDATA, "the query has no words to search for");
	if (!k) return VZ_OK;
	return chunks ? search_chunks(x, &q, k, out, n) : search_files(x, &q, k, out, n);
}

