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
	uint64_t at; /* the file offset of the body's first byte (for messages) */
	/* the checksummed bytes that hold the body (postings.bin's, or a whole postings.delta's),
	 * NULL for an index built in memory */
	const unsigned char *sum_p;
	size_t sum_n;
	uint64_t sum;
	/* a postings.delta (postings_delta.c): the base files it replaces (u32 each, ascending) */
	const unsigned char *dead;
	uint64_t n_dead, base_generation;
	/* the merged view of postings.bin (part[0]) and a postings.delta (part[1]): own holds the
	 * file and chunk tables in a full build's numbering (no terms: see vz_ti_term) */
	struct vz_text_index *part[2];
	uint32_t *to[2]; /* a part's file -> the merged file, UINT32_MAX when dead */
	uint32_t *from;  /* a merged file -> part << 31 | the part's file */
};

/* The tokens of s: each (folded, split, stop words dropped) term with its byte offset. */
typedef void (*token_fn)(void *ctx, const char *term, size_t n, size_t offset);
void vz_ti_tokens(const char *s, size_t len, token_fn fn, void *ctx);
/* The dictionary index of term t, or -1. */
int64_t vz_ti_lookup(const vz_text_index *x, const char *t, size_t n);
/* Term i's file and chunk postings, false when they do not fit the file. */
bool vz_ti_postings(const vz_text_index *x, uint64_t i, const unsigned char **fp, uint32_t *nf, const unsigned char **cp, uint32_t *nc);

/* Lays out (checks the head and section table of) the body at x->p, x->size. */
int vz_ti_layout(vz_text_index *x);
/* The checks of verify over an opened body (not its checksum). */
int vz_ti_check_body(const vz_text_index *x);

/* The postings of one query term over an index or a merged view (postings_delta.c): files and
 * chunks in the merged numbering, a dead base file's skipped. */
typedef struct ti_term {
	const vz_text_index *x;
	int n; /* parts that have the term */
	struct {
		const vz_text_index *ix;
		const uint32_t *to; /* NULL: a plain index */
		const unsigned char *fp, *cp;
		uint32_t nf, nc;
	} p[2];
	uint32_t nf, nc; /* files and chunks that have the term (df) */
	int fa, ca;      /* iteration: part and posting of the next file / chunk */
	uint32_t fi, ci;
} ti_term;
/* False when no part has the term. */
bool vz_ti_term(const vz_text_index *x, const char *t, size_t n, ti_term *tt);
/* The next file posting: its file and bytes (u32 file, u16 tf path, u16 tf title, u32 tf body). */
bool vz_ti_next_file(ti_term *tt, uint32_t *file, const unsigned char **post);
/* The next chunk posting: its chunk and tf. */
bool vz_ti_next_chunk(ti_term *tt, uint32_t *chunk, uint32_t *tf);
static inline void vz_ti_rewind(ti_term *tt) { tt->fa = tt->ca = 0, tt->fi = tt->ci = 0; }

static inline const unsigned char *file_rec(const vz_text_index *x, uint32_t f) { return x->p + x->off_files + (uint64_t)f * FILE_REC; }
static inline const unsigned char *chunk_rec(const vz_text_index *x, uint32_t c) { return x->p + x->off_chunks + (uint64_t)c * CHUNK_REC; }

#endif
