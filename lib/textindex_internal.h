/* textindex_internal.h: what the two halves of postings.bin's code share: its layout constants,
 * the opened index, and the tokenizer and lookups that building (textindex.c) and searching
 * (textsearch.c) both use. Private to those files. */
#ifndef VZ_TEXTINDEX_INTERNAL_H
#define VZ_TEXTINDEX_INTERNAL_H

#include "ws_internal.h"

#define POSTINGS_VERSION 1
#define TERM_MAX 64
#define LEAD 300 /* bytes of a file's title field past the start of its title line */
#define HEAD 128
#define FILE_REC 64
#define CHUNK_REC 16
#define DICT_REC 24
#define FPOST 12
#define CPOST 8

struct vz_text_index {
	vz_map map;
	vz_buf own; /* the body, for an index built in memory */
	const unsigned char *p; /* the body */
	size_t size;
	uint64_t generation, config;
	uint64_t files, chunks, terms;
	uint64_t off_files, off_chunks, off_dict, off_post, off_str;
	vz_text_weights w;
	double avg[3], cavg;
};

/* The tokens of s: each (folded, split, stop words dropped) term with its byte offset. */
typedef void (*token_fn)(void *ctx, const char *term, size_t n, size_t offset);
void vz_ti_tokens(const char *s, size_t len, token_fn fn, void *ctx);
/* The dictionary index of term t, or -1. */
int64_t vz_ti_lookup(const vz_text_index *x, const char *t, size_t n);
/* Term i's file and chunk postings, false when they do not fit the file. */
bool vz_ti_postings(const vz_text_index *x, uint64_t i, const unsigned char **fp, uint32_t *nf, const unsigned char **cp, uint32_t *nc);

static inline const unsigned char *file_rec(const vz_text_index *x, uint32_t f) { return x->p + x->off_files + (uint64_t)f * FILE_REC; }
static inline const unsigned char *chunk_rec(const vz_text_index *x, uint32_t c) { return x->p + x->off_chunks + (uint64_t)c * CHUNK_REC; }

#endif
