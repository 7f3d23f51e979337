/* terms.c: the terms of the built-in embeddings (lib/embed.c's bm25, lib/embed_native.c's
 * native_bow and native_hash): runs of ASCII letters and digits or non-ASCII bytes, lowercased,
 * lightly stemmed, 2..64 bytes, common English function words left out; and the map that
 * counts them. Its own file so that both embeddings call it and neither calls the other back. */
#include "ws_internal.h"

#include <stdlib.h>
#include <string.h>

#define TERM_MAX 64

static bool word_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

/* A light suffix strip so that "replaying", "replayed" and "replays" meet "replay". */
static size_t stem(const char *t, size_t n)
{
	if (n > 5 && !memcmp(t + n - 3, "ing", 3)) return n - 3;
	if (n > 4 && !memcmp(t + n - 2, "ed", 2)) return n - 2;
	if (n > 4 && !memcmp(t + n - 2, "es", 2) && (t[n - 3] == 's' || t[n - 3] == 'x' || t[n - 3] == 'h')) return n - 2;
	if (n > 3 && t[n - 1] == 's' && t[n - 2] != 's') return n - 1;
	return n;
}

size_t vz_terms_stem(const char *t, size_t n) { return stem(t, n); }

/* The most frequent English function words. They occur in nearly every chunk, so their idf is
 * near zero, but on the document side (which has no idf) they would take most of each vector's
 * weight and, hashed into the same buckets as meaningful terms, blur them. */
static bool stopword(const char *t, size_t n)
{
	/* by length, each list its words back to back (a linear scan with strlen per word took a
	 * sixth of an incremental build) */
	static const char *const by_len[6] = { "", "", "anasatbebyifinisitofonortowe", "andareforhasitsthewasnotbutcanmayyou",
		"fromhaveintothatthenthiswerewillwithwhenyour", "theirtherethesewhich" };
	if (n < 2 || n > 5) return false;
	for (const char *w = by_len[n]; *w; w += n)
		if (w[0] == t[0] && !memcmp(w, t, n)) return true;
	return false;
}

void vz_terms_each(const char *text, size_t len, void (*fn)(void *ctx, uint64_t h), void *ctx)
{
	size_t i = 0;
	while (i < len) {
		while (i < len && !word_byte((unsigned char)text[i])) i++;
		size_t start = i;
		while (i < len && word_byte((unsigned char)text[i])) i++;
		size_t n = i - start;
		if (n < 2 || n > TERM_MAX) continue; /* single letters and long blobs carry no meaning */
		char term[TERM_MAX];
		for (size_t k = 0; k < n; k++) {
			char c = text[start + k];
			term[k] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
		}
		if (stopword(term, n)) continue;
		fn(ctx, vz_hash64(term, stem(term, n)));
	}
}

/* ---- a small open-addressing map from term hash to count ---- */

static uint64_t key_of(uint64_t h) { return h ? h : 1; }

static int map_grow(vz_term_map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	uint64_t *keys = calloc(cap, sizeof *keys);
	uint32_t *vals = calloc(cap, sizeof *vals);
	if (!keys || !vals) {
		free(keys);
		free(vals);
		m->failed = true;
		return vz_fail(VZ_ENOMEM, "out of memory (term table of %zu)", cap);
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->keys[i]) continue;
		size_t j = m->keys[i] & (cap - 1);
		while (keys[j]) j = (j + 1) & (cap - 1);
		keys[j] = m->keys[i];
		vals[j] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = keys;
	m->vals = vals;
	m->cap = cap;
	return VZ_OK;
}

/* The slot of key h, inserting it (count 0) when absent; NULL on out of memory. */
uint32_t *vz_term_slot(vz_term_map *m, uint64_t h)
{
	h = key_of(h);
	if ((m->n + 1) * 2 > m->cap && map_grow(m)) return NULL;
	size_t j = h & (m->cap - 1);
	while (m->keys[j] && m->keys[j] != h) j = (j + 1) & (m->cap - 1);
	if (!m->keys[j]) {
		m->keys[j] = h;
		m->n++;
	}
	return &m->vals[j];
}

uint32_t vz_term_get(const vz_term_map *m, uint64_t h)
{
	if (!m->cap) return 0;
	h = key_of(h);
	size_t j = h & (m->cap - 1);
	while (m->keys[j]) {
		if (m->keys[j] == h) return m->vals[j];
		j = (j + 1) & (m->cap - 1);
	}
	return 0;
}

void vz_term_map_free(vz_term_map *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof *m);
}
