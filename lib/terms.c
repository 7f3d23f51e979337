/* terms.c: the terms of the built-in embeddings (lib/embed.c's bm25, lib/embed_native.c's
 * native_bow and native_hash): runs of ASCII letters and digits or non-ASCII bytes, lowercased,
 * lightly stemmed, 2..64 bytes, common English function words left out. Its own file so that
 * both embeddings call it and neither calls the other back. */
#include "ws_internal.h"

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
