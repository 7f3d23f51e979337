/* ws_internal.h: helpers shared by the workspace files (embed.c, embed_dir.c, embed_native.c, walk.c, wsbuild.c);
 * not part of the public API. */
#ifndef VZ_WS_INTERNAL_H
#define VZ_WS_INTERNAL_H

#include "internal.h"

/* A reader over untrusted bytes: every take checks the remaining length first. */
typedef struct vz_reader {
	const unsigned char *p;
	size_t left;
	size_t offset; /* bytes consumed so far, for messages */
} vz_reader;
int vz_rd_u32(vz_reader *r, uint32_t *v);
int vz_rd_u64(vz_reader *r, uint64_t *v);
int vz_rd_bytes(vz_reader *r, size_t n, const unsigned char **out);

/* The df table body (shared by terms.bin and cache.bin): u32 dim, u32 0, u64 documents,
 * u64 terms, then terms x (u64 term hash, u32 df) sorted by hash. */
int vz_bm25_encode(const vz_bm25 *m, vz_buf *b);
int vz_bm25_decode(vz_reader *r, vz_bm25 **out);

/* Calls fn for each term of text (lowercased, stemmed) with its 64-bit hash (lib/terms.c). */
void vz_terms_each(const char *text, size_t len, void (*fn)(void *ctx, uint64_t h), void *ctx);
/* The length of term t (n bytes, lowercase) without its plural or -ed/-ing suffix ("replays",
 * "replayed" and "replaying" all give "replay"): n when it has none. */
size_t vz_terms_stem(const char *t, size_t n);

/* A small open-addressing map from a term's hash to a u32 (terms.c): zero it to start. */
typedef struct vz_term_map {
	uint64_t *keys; /* 0 marks an empty slot (a zero hash is remapped to 1) */
	uint32_t *vals;
	size_t cap, n;
	bool failed;
} vz_term_map;
/* The value of h, inserted as 0 when absent; NULL when out of memory. */
uint32_t *vz_term_slot(vz_term_map *m, uint64_t h);
/* The value of h (0 when absent). */
uint32_t vz_term_get(const vz_term_map *m, uint64_t h);
void vz_term_map_free(vz_term_map *m);
/* vz_embed_text, and when it embeds, each distinct term of text counted once more in *df (so
 * that df counts the chunks of a file that hold each term: see vz_bm25_add_df). VZ_ENOMEM
 * (df may then be partly counted), VZ_EDATA. */
int vz_embed_text_df(const vz_bm25 *m, const char *text, size_t len, float *out, vz_term_map *df);
/* Adds `documents` documents whose terms df counts to the df table of m: the same table as
 * vz_bm25_add_document of each of them. VZ_ENOMEM. */
int vz_bm25_add_df(vz_bm25 *m, const vz_term_map *df, uint64_t documents);

/* vz_text_index_write_from (textindex.c) in two halves: the body of postings.bin in memory (no I/O: it may
 * run on another thread while this one writes other files, as lib/io.c is for one thread at a
 * time), then the file (through lib/io.c). The same errors. */
int vz_text_index_encode(const vz_text_index *old, const int64_t *from, vz_text_doc *docs, size_t n, const vz_text_weights *w,
			 vz_buf *body);
int vz_text_index_write_body(const char *path, const vz_buf *body, uint64_t generation, uint64_t config_hash);
/* Checks a mapped file's header (magic, version), body length and body checksum; r gets the body. */
int vz_ws_open_body(const vz_map *map, const char *magic, uint32_t version, vz_file_header *h, vz_reader *r);
/* Loads only the df table of a cache.bin (VZ_ENOENT when there is none). */
int vz_ws_cache_load_model(const char *path, vz_bm25 **out);
/* Reads all of cache.bin (model and per-file records) and frees it: VZ_OK when it is intact.
 * For the fuzz target and checks; builds use the loader directly. */
int vz_ws_cache_check(const char *path);
/* Reads all of cache.bin like vz_ws_cache_check and tells what it holds: its header, the
 * collection id it carries (zero for version 1), the number of chunks (live rows) and the end
 * of the rows its files name (no more than the snapshot's rows). */
int vz_ws_cache_info(const char *path, vz_file_header *h, vz_coll_id *id, uint64_t *chunks, uint64_t *rows_end);
/* Where a df table came from: the collection id and the save count of terms.bin (its header's
 * generation), or the generation of cache.bin. */
void vz_bm25_set_origin(vz_bm25 *m, const vz_coll_id *id, uint64_t saves);
void vz_bm25_origin(const vz_bm25 *m, vz_coll_id *id, uint64_t *saves);
double vz_bm25_idf(const vz_bm25 *m, uint64_t h);

/* ---- embed_native.c: native_bow, native_hash, native_ngram ---- */
/* The u32 naming a native model in a df table (0: bm25 or not a native name). */
uint32_t vz_native_code(const char *name, uint32_t ngram_min, uint32_t ngram_max);
bool vz_native_valid(uint32_t code);
/* The vector of text under native model code into out[dim] (documents and queries alike);
 * VZ_EDATA when the text has nothing to embed. */
int vz_native_embed(uint32_t code, uint32_t dim, const char *text, size_t len, float *out);
/* Makes m embed with native model code (0: bm25) from now on. */
void vz_bm25_set_native(vz_bm25 *m, uint32_t code);

/* ---- walk.c ---- */
typedef struct vz_ws_entry {
	char *path;        /* relative to the project directory */
	uint64_t size;
	int64_t mtime_ns;
} vz_ws_entry;
/* The files of collection c (include/exclude patterns, always-skipped paths, max size), sorted
 * by path. Free with vz_ws_entries_free. */
int vz_ws_walk(const vz_ws_collection *c, const char *data_dir, vz_ws_entry **out, size_t *n);
/* Files the last vz_ws_walk of this thread left out for being larger than max_file_size. */
size_t vz_ws_walk_too_large(void);
void vz_ws_entries_free(vz_ws_entry *e, size_t n);
/* True for lock files and vz's own LOCK and temp files: never indexed. */
bool vz_ws_lock_file(const char *name);

typedef struct vz_ws_span {
	size_t start, end;
} vz_ws_span;
/* Chunk boundaries of t: at most size bytes each, consecutive ones overlapping by about
 * overlap bytes, breaking at sentence ends or whitespace, never inside a UTF-8 character. */
int vz_ws_chunks(const char *t, size_t len, uint32_t size, uint32_t overlap, vz_ws_span **out, size_t *n);

#endif
