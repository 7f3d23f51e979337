/* collection_internal.h: what the parts of a dynamic collection's code share (collection.c:
 * open and replay; coll_query.c, coll_write.c, coll_checkpoint.c, coll_create.c,
 * coll_recover.c): the open collection's struct and the helpers more than one part calls. Not
 * for any other file of the library. */
#ifndef VZ_COLLECTION_INTERNAL_H
#define VZ_COLLECTION_INTERNAL_H

#include "ws_internal.h"
#include "filter.h"

struct delta_entry {
	char *id;
	size_t id_len;
	float *vec;          /* dim floats, owned; NULL when deleted */
	char *payload;
	size_t payload_len;
	bool has_payload;
	bool deleted;
	int64_t base_row;    /* the row of vectors.bin this id had at open, or -1 */
};

/* An open-addressing map from id to an index (+1) into an array, used for the delta and for
 * checking a batch against itself. */
struct idmap {
	uint32_t *slots;
	size_t nslots, used;
};

/* An opened segment (coll_segment.c). */
struct coll_segment {
	vz_vectors vec;
	bool has_vec;
	vz_map index_map;
	vz_hnsw_index index;
	bool has_index;       /* false: a segment without a graph, searched exactly */
	uint64_t first;       /* the row number of its row 0 in the collection's row space */
};

struct vz_collection {
	char dir[VZ_PATH_MAX];
	unsigned flags;
	vz_lock lock;
	vz_meta meta;
	vz_vectors vec;
	bool has_vec;
	vz_map index_map;
	vz_hnsw_index index;
	bool has_index;
	int rerank_fd;        /* sq8: vectors.bin open for the index's re-ranking reads, else -1 */
	vz_wal_log wal;
	bool has_wal;
	uint64_t wal_end;     /* append position */
	size_t wal_kept;      /* records of wal still in the file, the writer's chain goes on from the last */
	bool wal_corrupt;     /* damage that is not a torn tail: writes refused until recover */
	vz_wal_writer writer;
	struct delta_entry *d;
	size_t nd, capd;
	struct idmap dmap;
	uint32_t *superseded; /* sorted base rows replaced or deleted by the delta */
	size_t nsup;
	bool sup_dirty;
	uint64_t wal_ops;
	double oldest_op;     /* unix seconds of the oldest un-checkpointed operation, 0 if none */
	bool dropped;
	char warning[512];
	struct vz_where_memo where; /* the last --where filter's answers for the base rows */
	struct coll_segment *seg; /* meta.nsegments of them, oldest first */
	uint32_t nseg;
	uint64_t nrows;       /* base rows + segment rows: the row space */
	uint64_t *dead;       /* bitmap over the row space: replaced by a newer segment (NULL without) */
	uint64_t ndead;
	struct vz_id_copy *ids_read; /* ids of results read with pread (coll_query.c), kept until unload */
	size_t ids_read_bytes;
};

/* A block of ids copied for results read with pread: blocks never move (a result points into
 * one until unload), the newest first. */
struct vz_id_copy {
	struct vz_id_copy *next;
	size_t used;
	char data[4000];
};

/* ---- collection.c ---- */
double vz_coll_wall_now(void);
int64_t vz_coll_unix_now(void);
int vz_coll_unit_length(float *v, uint32_t dim);
typedef bool (*vz_idmap_eq)(void *ctx, uint32_t index, const char *id, size_t len);
int vz_idmap_grow(struct idmap *m, size_t want, uint64_t (*hash_of)(void *ctx, uint32_t index), void *ctx);
int64_t vz_idmap_find(const struct idmap *m, const char *id, size_t len, vz_idmap_eq eq, void *ctx, size_t *slot_out);
void vz_idmap_free(struct idmap *m);
bool vz_coll_delta_eq(void *ctx, uint32_t i, const char *id, size_t len);
const char *vz_coll_base_name(const char *dir);
int vz_coll_check_dir(const char *dir);
int vz_coll_checkpoint_lock(const char *dir, int timeout_ms, vz_lock *l);
bool vz_coll_try_checkpoint_lock(const char *dir, vz_lock *l);
void vz_coll_unload(struct vz_collection *c);
/* Frees the ids that results read with pread point to (at unload: results live until then). */
void vz_coll_ids_read_free(struct vz_collection *c);
int64_t vz_coll_base_find(const struct vz_collection *c, const char *id, size_t len);
int vz_coll_delta_put(struct vz_collection *c, const char *id, size_t len, const float *vec, const char *payload,
		      size_t payload_len, bool has_payload);
int vz_coll_cmp_u32(const void *a, const void *b);
int vz_coll_build_superseded(struct vz_collection *c);
int vz_coll_new(const char *dir, unsigned flags, struct vz_collection **out);
int vz_coll_load(struct vz_collection *c, enum vz_wal_scan_mode scan, bool index_optional);
int vz_coll_finish_drop(struct vz_collection *c);
int vz_coll_open_in(const char *dir, unsigned flags, int timeout, enum vz_wal_scan_mode scan, bool index_optional,
		    vz_collection **out);

/* ---- coll_query.c ---- */
bool vz_coll_skip_base(void *ctx, uint32_t row);

/* vz_collection_warm reads the base graph with pread (vz_hnsw_index.by_read) when the queries
 * visit under 1/VZ_READ_SPARSE of its rows (a query visits some 16 x ef nodes): one query at
 * ef 64 from 33k rows up. */
#define VZ_READ_SPARSE 32
/* ... and index.hnsw and vectors.bin together are larger than this: more than half a
 * millisecond of page-table entries (vz_map_prefault's budget) enters at best. */
#define VZ_READ_BYTES ((size_t)1 << 30)
/* Has the base graph read with pread (vz_hnsw_index.by_read); false when it cannot be (no
 * float graph, sq8, loaded, or the files in place are not the ones mapped). */
bool vz_coll_read_by_pread(struct vz_collection *c);
/* Closes the descriptors of a graph read with pread: searches read the mapping again (nothing when it is not read so). */
void vz_collection_read_done(struct vz_collection *c);

/* ---- coll_where.c ---- */
/* What a filtered search passes its skip function: the rows vz_coll_skip_base skips (when
 * base_skips) and those whose payload fails f. */
struct vz_coll_where {
	struct vz_collection *c;
	const vz_filter *f;
	bool base_skips;
};
bool vz_coll_skip_where(void *ctx, uint32_t row);
/* Binds c->where to w->f (each base row's answer, kept for the next queries with the same
 * filter) and chooses the plan (c->where.exact) from a sample of the rows. */
int vz_coll_where_prepare(struct vz_collection *c, struct vz_coll_where *w, size_t ef);

/* ---- coll_checkpoint.c ---- */
/* flags: VZ_CK_FORCE, a new generation even with nothing to fold (a segment, or only the next
 * log); VZ_CK_COMPACT, fold the segments and the delta into a new base (vz checkpoint --force) */
enum { VZ_CK_FORCE = 1, VZ_CK_COMPACT = 2, VZ_CK_FLAT = 4 /* the delta as a segment without a graph */ };
/* A detached checkpoint of at least this many operations first writes them as a segment without
 * a graph, then builds the index (vz_checkpoint_dir). */
#define VZ_FLAT_SEGMENT_ROWS 10000
int vz_coll_checkpoint_with(vz_collection *c, int threads, unsigned flags, const vz_write *extra, size_t nextra, bool release_extra);
/* What a checkpoint waits for before it reads the rows or the graph of the base to write a new
 * base, and before its commit: recover's full check of the files, run while the log is
 * replayed and a segment built (coll_recover.c). wait returns non-zero to stop the checkpoint,
 * which then removes what it wrote and returns that code; it may be called more than once. */
typedef struct vz_ck_gate { int (*wait)(struct vz_ck_gate *g); } vz_ck_gate;
int vz_coll_checkpoint_gated(vz_collection *c, int threads, unsigned flags, vz_ck_gate *gate);

/* ---- coll_segment.c ---- */
/* The vectors file holding row (of the row space) and the row's number in it. */
const vz_vectors *vz_coll_layer(const struct vz_collection *c, uint64_t row, uint64_t *local);
const float *vz_coll_row_vector(const struct vz_collection *c, uint64_t row);
/* A tombstone, or replaced by a newer segment (not counting the delta). */
bool vz_coll_row_dead(const struct vz_collection *c, uint64_t row);
/* The row of id's current state in the base and the segments (live rows only), or -1. */
int64_t vz_coll_layers_find(const struct vz_collection *c, const char *id, size_t len);
/* Opens the segments metadata.json lists (after the base) and marks the rows they replace. */
int vz_coll_open_segments(struct vz_collection *c);
void vz_coll_close_segments(struct vz_collection *c);
/* Removes seg-* files that m does not list (an interrupted checkpoint's, or folded ones). */
/* Writes the graph of builder b as ipath (a temp file committed over it, through lib/io.c) and
 * its size and body checksum into isum, for metadata.json (coll_checkpoint.c). */
int vz_coll_write_graph_file(vz_hnsw_builder *b, const char *ipath, const vz_coll_id *id, uint64_t gen, vz_file_sum *isum);
/* Whether name is a segment's file, seg-G.vec or seg-G.hnsw (nothing after it): *gen its
 * generation, *graph whether it is the graph. */
bool vz_segment_file_name(const char *name, uint64_t *gen, bool *graph);
/* Whether metadata.json (m) lists the segment of generation gen. */
bool vz_meta_lists_segment(const vz_meta *m, uint64_t gen);
int vz_coll_remove_unlisted_segments(const char *dir, const vz_meta *m);

#endif
