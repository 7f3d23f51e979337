/* ws_cache.h: the records of a workspace collection's files (cache.bin, amended by cache.delta),
 * shared by ws_cache.c, which reads and writes them, and wsbuild.c, which builds from them. */
#ifndef VZ_WS_CACHE_H
#define VZ_WS_CACHE_H

#include "ws_internal.h"

#define DELTA_MAGIC "VZCDELT1" /* cache.delta: the records that differ from cache.bin's */
#define DELTA_VERSION 1
#define CACHE_VERSION 4 /* 1 carries no collection id (2 added it), 1 and 2 no chunk lines (3 added them), 1 to 3 no rows (4) */
#define NO_ROW UINT64_MAX /* a file whose rows are not in the snapshot yet */

typedef struct ws_chunk {
	uint64_t start, end;
	uint32_t line;
	char *text;
	uint32_t text_len;
	float *vec; /* embedded in this build, or NULL (see ensure_vectors) */
	char *payload; /* its row's payload, made by the thread that read it, or NULL (make_rows) */
	uint32_t payload_len;
} ws_chunk;

typedef struct ws_file {
	char *path;
	uint64_t size;
	int64_t mtime_ns;
	uint64_t hash;
	uint32_t n_chunks;
	uint64_t first_row; /* the snapshot's row of chunk 0, or NO_ROW */
	ws_chunk *chunks;
	/* read in this build: the df counts of its chunks' terms and its tokens for postings.bin
	 * were counted by the thread that read it (see read_changed) */
	bool fresh;
	vz_text_pre pre;
	bool in_base; /* the record of cache.bin as it is there (not cache.delta's, not changed since) */
} ws_file;

typedef struct ws_cache {
	vz_file_header header; /* of the file it was loaded from */
	uint32_t version;
	uint64_t config_hash, generation;
	vz_coll_id id;
	uint32_t dim;
	ws_file *files;
	size_t n;
	vz_bm25 *model; /* the df table of the chunks of files */
	/* cache.bin's own: its generation and its paths (sorted), which a cache.delta amends */
	bool has_base;
	uint64_t base_generation;
	char **base_paths;
	size_t n_base;
} ws_cache;

/* A binary file's record: no rows. */
static inline bool ws_file_skipped(const ws_file *f) { return f->hash == 0 && f->n_chunks == 0; }

void ws_file_free(ws_file *f);
void ws_cache_free(ws_cache *c);
/* cache.bin at path, amended by the cache.delta beside it; *model (when model is not NULL) its df table */
int ws_cache_load(const char *path, ws_cache *c, vz_bm25 **model);
/* Saves the records of c: as a cache.delta beside old's cache.bin when may_amend allows, else
 * as a new cache.bin (and no cache.delta) */
int ws_cache_store(const char *path, const ws_cache *c, const ws_cache *old, const vz_bm25 *m, bool may_amend);

#endif
