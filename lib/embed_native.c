/* embed_native.c: the workspace file's native embedding models, computed from the text alone
 * (no weights, no corpus statistics), so a document and a query embed the same way:
 *   native_bow    bag of words: the count of each term (embed.c's terms: lowercased, stemmed,
 *                 stop words left out) in bucket hash % dim, L2-normalised;
 *   native_hash   the hashing trick: each term adds 1 + log(count) to bucket hash % dim with a
 *                 sign from another bit of its hash (collisions cancel out on average);
 *   native_ngram  character n-grams of ngram_range [MIN, MAX] of the lowercased text (runs of
 *                 non-alphanumeric ASCII count as one space), signed-hashed like native_hash.
 * A model is named in cache.bin by one u32 (see vz_native_code), kept where the df table of
 * bm25 has its reserved word, so `query --text` embeds with the model the build used. */
#include "ws_internal.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { NATIVE_BOW = 1, NATIVE_HASH = 2, NATIVE_NGRAM = 3 };

bool vz_embedding_known(const char *name)
{
	return !strcmp(name, "bm25") || vz_native_code(name, 1, 1) != 0;
}

uint32_t vz_native_code(const char *name, uint32_t ngram_min, uint32_t ngram_max)
{
	if (!strcmp(name, "native_bow")) return NATIVE_BOW;
	if (!strcmp(name, "native_hash")) return NATIVE_HASH;
	if (!strcmp(name, "native_ngram")) return NATIVE_NGRAM | (ngram_min & 0xFF) << 8 | (ngram_max & 0xFF) << 16;
	return 0;
}

bool vz_native_valid(uint32_t code)
{
	uint32_t kind = code & 0xFF, lo = code >> 8 & 0xFF, hi = code >> 16 & 0xFF;
	if (code >> 24) return false;
	if (kind == NATIVE_BOW || kind == NATIVE_HASH) return lo == 0 && hi == 0;
	return kind == NATIVE_NGRAM && lo >= 1 && lo <= hi && hi <= 16;
}

struct acc {
	float *out;
	uint32_t dim;
	uint64_t *seen; /* term hashes in order of first appearance, for counts (native_hash) */
	uint32_t *count;
	size_t n, cap;
	vz_term_map at; /* term hash -> 1 + its index in seen */
	int rc;
};

static void bow_term(void *ctx, uint64_t h)
{
	struct acc *a = ctx;
	a->out[h % a->dim] += 1;
}

static void count_term(void *ctx, uint64_t h)
{
	struct acc *a = ctx;
	if (a->rc) return;
	uint32_t *at = vz_term_slot(&a->at, h);
	if (!at) {
		a->rc = VZ_ENOMEM;
		return;
	}
	if (*at) {
		a->count[*at - 1]++;
		return;
	}
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 64;
		uint64_t *s = realloc(a->seen, cap * sizeof *s);
		if (s) a->seen = s;
		uint32_t *c = s ? realloc(a->count, cap * sizeof *c) : NULL;
		if (c) a->count = c;
		if (!s || !c) {
			a->rc = VZ_ENOMEM;
			return;
		}
		a->cap = cap;
	}
	a->seen[a->n] = h;
	a->count[a->n++] = 1;
	*at = (uint32_t)a->n;
}

static void add_signed(struct acc *a)
{
	for (size_t i = 0; i < a->n; i++) {
		uint64_t h = a->seen[i];
		float w = (float)(1 + log((double)a->count[i]));
		a->out[h % a->dim] += (h >> 62 & 1) ? -w : w;
	}
}

/* Character n-grams: lowercased, non-alphanumeric ASCII runs folded to one space. */
static int ngrams(struct acc *a, const char *text, size_t len, uint32_t lo, uint32_t hi)
{
	char *t = malloc(len + 2);
	if (!t) return vz_fail(VZ_ENOMEM, "out of memory");
	size_t n = 0;
	t[n++] = ' ';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c < 0x80 && !isalnum(c)) {
			if (t[n - 1] != ' ') t[n++] = ' ';
		} else {
			t[n++] = (char)(c < 0x80 ? tolower(c) : c);
		}
	}
	bool words = false;
	for (size_t i = 0; i < n && !words; i++) words = t[i] != ' ';
	for (size_t i = 0; words && i < n && !a->rc; i++)
		for (uint32_t g = lo; g <= hi && i + g <= n; g++) {
			if (g > 1 && t[i] == ' ' && t[i + g - 1] == ' ') continue; /* spaces at both ends: no new context */
			if (g == 1 && t[i] == ' ') continue;
			count_term(a, vz_hash64(t + i, g) ^ g);
		}
	free(t);
	return a->rc;
}

int vz_native_embed(uint32_t code, uint32_t dim, const char *text, size_t len, float *out)
{
	memset(out, 0, dim * sizeof *out);
	struct acc a = { .out = out, .dim = dim };
	uint32_t kind = code & 0xFF;
	int rc = VZ_OK;
	if (kind == NATIVE_BOW) vz_terms_each(text, len, bow_term, &a);
	else if (kind == NATIVE_HASH) vz_terms_each(text, len, count_term, &a);
	else rc = ngrams(&a, text, len, code >> 8 & 0xFF, code >> 16 & 0xFF);
	if (!rc) rc = a.rc;
	if (!rc && kind != NATIVE_BOW) add_signed(&a);
	free(a.seen);
	free(a.count);
	vz_term_map_free(&a.at);
	if (rc) return rc == VZ_ENOMEM ? vz_fail(VZ_ENOMEM, "out of memory") : rc;
	double s = 0;
	for (uint32_t i = 0; i < dim; i++) s += (double)out[i] * out[i];
	if (s <= 0) return vz_fail(VZ_EDATA, "text has no words to embed");
	float inv = (float)(1 / sqrt(s));
	for (uint32_t i = 0; i < dim; i++) out[i] *= inv;
	return VZ_OK;
}
