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

struct vz_collection {
	char dir[4096];
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
int64_t vz_coll_base_find(const struct vz_collection *c, const char *id, size_t len);
int vz_coll_delta_put(struct vz_collection *c, const char *id, size_t len, const float *vec, const char *payload,
		      size_t payload_len, bool has_payload);
int vz_coll_cmp_u32(const void *a, const void *b);
int vz_coll_build_superseded(struct vz_collection *c);
int vz_coll_load(struct vz_collection *c, enum vz_wal_scan_mode scan, bool index_optional);
int vz_coll_finish_drop(struct vz_collection *c);
int vz_coll_open_in(const char *dir, unsigned flags, int timeout, enum vz_wal_scan_mode scan, bool index_optional,
		    vz_collection **out);

/* ---- coll_query.c ---- */
bool vz_coll_skip_base(void *ctx, uint32_t row);

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
int vz_coll_checkpoint_with(vz_collection *c, int threads, bool force, const vz_write *extra, size_t nextra, bool release_extra);

#endif
