/* internal.h: declarations shared between libvz's own files; not part of the public API. */
#ifndef VZ_INTERNAL_H
#define VZ_INTERNAL_H

#include "vz.h"

/* A growable byte buffer. */
typedef struct vz_buf {
	unsigned char *data;
	size_t len, cap;
} vz_buf;
int vz_buf_reserve(vz_buf *b, size_t more);
int vz_buf_put(vz_buf *b, const void *p, size_t n);
int vz_buf_u16(vz_buf *b, uint16_t v);
int vz_buf_u32(vz_buf *b, uint32_t v);
int vz_buf_u64(vz_buf *b, uint64_t v);
int vz_buf_pad(vz_buf *b, size_t align);
int vz_buf_printf(vz_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vz_buf_free(vz_buf *b);

/* The one JSON string writer (lib/json.c): s as a quoted JSON string literal, through put
 * (called with runs of bytes; its non-zero return stops the writing and is returned).
 * Invalid UTF-8 becomes \ufffd, or with VZ_JSON_KEEP_INVALID is passed through as it is
 * (for text a strict reader checks next, so that it can name the line and byte). */
enum { VZ_JSON_KEEP_INVALID = 1 };
typedef int (*vz_json_sink)(void *ctx, const char *p, size_t n);
int vz_json_escape(const char *s, size_t len, unsigned flags, vz_json_sink put, void *ctx);
int vz_buf_json_string(vz_buf *b, const char *s, size_t len, unsigned flags);

/* WAL writing: records are encoded into a buffer, then appended with one write and made
 * durable with fdatasync before the caller reports success. */
typedef struct vz_wal_writer {
	uint64_t salt;
	uint64_t next_seq;
	uint64_t prev_checksum;
	vz_buf buf;
} vz_wal_writer;
/* Encodes one record into w->buf, advancing the sequence and the chain. */
int vz_wal_encode(vz_wal_writer *w, uint32_t type, uint64_t txn, const void *payload, size_t len);
/* Writes a fresh wal.log at path (header only: version 2 with the collection id, the salt,
 * first sequence first_seq) atomically. */
int vz_wal_reset(const char *path, const vz_coll_id *id, uint64_t generation, uint64_t salt, uint64_t first_seq, vz_wal_writer *w);
/* Appends w->buf to the log at path at offset `at` (truncating anything after it first when
 * the file is longer: a torn tail), then fdatasync. Clears w->buf. */
int vz_wal_append(const char *path, uint64_t at, vz_wal_writer *w);
/* Writes (atomically) a log for `generation` of collection id, under `salt` (0: a random one),
 * whose records are copies of keep[0..n) (seq first_seq, first_seq + 1, ...: records a
 * checkpoint did not fold), chained anew. vz_wal_reset is the same with no records. */
int vz_wal_restart_with(const char *path, const vz_coll_id *id, uint64_t generation, uint64_t salt, uint64_t first_seq,
			const vz_wal_entry *keep, size_t n);
/* Random 64-bit value (getentropy). */
uint64_t vz_random_u64(void);

int vz_wal_encode_op(vz_buf *b, const char *id, size_t id_len, const float *v, uint32_t dim,
		     const char *payload, size_t payload_len, bool has_payload);

/* A transaction's framing, the one encoder of it: vz_wal_encode_begin encodes the begin record
 * (wall-clock milliseconds now, count operations) and gives the transaction's number (the
 * begin record's sequence number); the operations follow (vz_wal_encode with that txn), then
 * vz_wal_encode_commit with the same count. */
int vz_wal_encode_begin(vz_wal_writer *w, uint32_t count, uint64_t *txn);
int vz_wal_encode_commit(vz_wal_writer *w, uint64_t txn, uint32_t count);

#endif

/* ---- metadata.json (lib/meta.c) ---- */
typedef struct vz_file_sum {
	bool present;
	uint64_t size;
	uint64_t body_checksum;
} vz_file_sum;

/* A segment (metadata format_version 3): the rows one incremental checkpoint folded, in
 * seg-G.vec (the vectors.bin format; deletes are tombstone rows) and seg-G.hnsw (a graph over
 * its rows alone), G the generation of the checkpoint that wrote them (lib/coll_segment.c). */
#define VZ_MAX_SEGMENTS 8
typedef struct vz_segment_sum {
	uint64_t generation, rows, live;
	vz_file_sum vectors, index;
} vz_segment_sum;
/* seg-GEN.vec or seg-GEN.hnsw: its path in dir, its name */
int vz_segment_path(const char *dir, uint64_t gen, bool index, char *out, size_t cap);
void vz_segment_name(uint64_t gen, bool index, char *out, size_t cap);

typedef struct vz_meta {
	vz_config cfg;
	bool workspace;
	uint64_t generation;
	uint64_t wal_seq;        /* last WAL sequence folded into this checkpoint */
	uint64_t rows, live, tombstones;
	int64_t created, checkpoint_time; /* unix seconds */
	vz_file_sum vectors, index;
	uint32_t format_version; /* as read: 1 (no identity) or 2 */
	vz_coll_id id;           /* the collection's identity; all zero for format_version 1 */
	/* What wal.log must start with (format_version 2, dynamic collections): a header of this
	 * generation, this salt and this first sequence number. */
	bool has_wal_start;
	uint64_t wal_salt, wal_first_seq;
	uint64_t terms_saves;    /* terms.bin's save count when the checkpoint was taken (0: none) */
	char *extra_json;        /* extra top-level members as raw text ("" when none), malloc'd */
	/* format_version 3: the generation vectors.bin and index.hnsw were written by (older than
	 * `generation` when incremental checkpoints added segments since; equal without), and the
	 * segments, oldest first. Written as version 2 when there are none. */
	uint64_t base_generation;
	uint32_t nsegments;
	vz_segment_sum segments[VZ_MAX_SEGMENTS];
} vz_meta;

int vz_config_to_json(const vz_config *c, vz_buf *b);
/* Reads and checks metadata.json in dir (its own checksum, every field). */
int vz_meta_read(const char *dir, vz_meta *m);
/* Writes metadata.json atomically (the commit point of a checkpoint). */
int vz_meta_write(const char *dir, const vz_meta *m);
void vz_meta_free(vz_meta *m);

/* Checks that a file header belongs with metadata m: the same collection (when m has an
 * identity) and, with check_gen, the same generation. VZ_ECORRUPT naming the file otherwise
 * ("index.hnsw: generation 1, metadata.json says 2 (an older copy?)"). */
int vz_meta_check_header(const vz_meta *m, const char *name, const vz_file_header *h, bool check_gen);
/* Checks wal.log's header against what m says the log starts with (VZ_ECORRUPT naming it). */
int vz_meta_check_wal(const vz_meta *m, const vz_file_header *h);

/* vz_collection_verify for a caller that holds the collection's lock already. */
int vz_verify_locked(const char *dir, bool quick, vz_verify_cb cb, void *ctx, int *problems);

/* Finds, among NAME, NAME.new and NAME.prev in dir, the data file of generation gen (see the
 * checkpoint protocol in collection.c) and puts its path in out (NAME when none matches). With
 * write access, moves it to NAME and removes the other candidates. */
int vz_settle_data_file(const char *dir, const char *name, const char *magic, uint64_t gen, bool write, char *out, size_t cap);

/* ---- vectors.bin (lib/vectors.c) ---- */
#define VZ_ROW_TOMBSTONE 1u
#define VZ_ROW_HAS_PAYLOAD 2u
#define VZ_ROWINFO_SIZE 24
#define VZ_VECTORS_LAYOUT_SIZE 64

typedef struct vz_vectors {
	vz_map map;
	vz_file_header header;
	uint64_t rows;
	uint32_t dim;
	enum vz_metric metric;
	const float *vectors;            /* rows*dim, 64-byte aligned in the file */
	const unsigned char *rowinfo;    /* rows * VZ_ROWINFO_SIZE */
	const unsigned char *heap;
	uint64_t heap_len;
	const unsigned char *hash;       /* hash_slots u32: row+1, 0 empty */
	uint64_t hash_slots;
} vz_vectors;

/* Maps and checks (O(1)) vectors.bin; rows/dim/metric must equal the expectation. */
int vz_vectors_open(const char *path, uint64_t expect_rows, uint32_t dim, enum vz_metric metric, vz_vectors *v);
/* The same over a mapping of path made already: v takes it over (*map is left empty), also on failure. */
int vz_vectors_open_mapped(const char *path, vz_map *map, uint64_t expect_rows, uint32_t dim, enum vz_metric metric, vz_vectors *v);
void vz_vectors_close(vz_vectors *v);
/* A row's record (VZ_ROWINFO_SIZE bytes) decoded: its id and payload as offsets into the heap */
typedef struct vz_rowinfo {
	uint64_t id_off, pl_off;
	size_t id_len;
	uint32_t pl_len;
	unsigned flags;
} vz_rowinfo;
/* Decodes the record r of row (its row-info bytes, mapped or read with pread), checked against
 * the heap's bounds; VZ_ECORRUPT, naming the record's offset, when it points outside. */
int vz_vectors_rowinfo(const vz_vectors *v, uint64_t row, const unsigned char *r, vz_rowinfo *ri);
/* Row accessors; they check bounds so a damaged file never makes them read outside the map. */
int vz_vectors_row(const vz_vectors *v, uint64_t row, const char **id, size_t *id_len, const char **payload,
		   size_t *payload_len, unsigned *flags);
/* The live row holding id, or -1. */
int64_t vz_vectors_find(const vz_vectors *v, const char *id, size_t id_len);
/* Full check of every row, the heap and the hash table; reports through cb; returns problems.
 * It is the two halves below, which may run in two threads at once: the body checksum with
 * every float finite (one pass over the bytes), and the rows, heap and id map. */
int vz_vectors_verify(const vz_vectors *v, vz_verify_cb cb, void *ctx);
int vz_vectors_verify_body(const vz_vectors *v, vz_verify_cb cb, void *ctx);
int vz_vectors_verify_rows(const vz_vectors *v, vz_verify_cb cb, void *ctx);
/* vz_vectors_verify_rows in parts that may run at once, in three steps, each done by all its
 * parts before the next begins, over one word per row (rowword: VZ_ROWWORD_*):
 * 1. vz_vectors_scan_rows, rows [from, to) in row order: 0 for a tombstone, VZ_ROWWORD_BROKEN
 *    for an entry outside the heap, else VZ_ROWWORD_LIVE and the print (the low 30 bits of the
 *    hash of its id); adds the live rows and the tombstones found to the counts.
 * 2. vz_vectors_walk_id_map, part `part` of `parts` of the id map in slot order: each entry's row
 *    in range (else reported, up to 21 times a part), counted in *used, and marked (VZ_ROWWORD_MARK) when it is what
 *    vz_vectors_find answers for its id: its first slot reached with no empty slot between, no
 *    earlier live row of the same id on the way (ids compared only where the prints are equal).
 *    The map is read once, in order; each entry's row word at random, fetched ahead.
 * 3. vz_vectors_report_rows, rows [from, to) in row order: each entry outside the heap and each
 *    live row not found through the map, named (it stops after 20 problems); and, once,
 *    vz_vectors_id_map_count: the entries used against the live rows. */
#define VZ_ROWWORD_LIVE 0x80000000u
#define VZ_ROWWORD_MARK 0x40000000u /* with LIVE: found through the id map */
#define VZ_ROWWORD_BROKEN VZ_ROWWORD_MARK
#define VZ_ROWWORD_PRINT 0x3fffffffu
void vz_vectors_scan_rows(const vz_vectors *v, uint64_t from, uint64_t to, uint32_t *rowword, uint64_t *live, uint64_t *tombstones);
int vz_vectors_walk_id_map(const vz_vectors *v, int part, int parts, uint32_t *rowword, uint64_t *used, vz_verify_cb cb, void *ctx);
int vz_vectors_report_rows(const vz_vectors *v, uint64_t from, uint64_t to, const uint32_t *rowword, vz_verify_cb cb, void *ctx);
int vz_vectors_id_map_count(const vz_vectors *v, uint64_t used, uint64_t live, vz_verify_cb cb, void *ctx);

/* One row for the writer: where its id/payload bytes come from. */
typedef struct vz_out_row {
	const char *id;
	size_t id_len;
	const char *payload;
	size_t payload_len;
	bool has_payload;
	bool tombstone;
} vz_out_row;
/* Writes vectors.bin for rows into a temp file and commits it as `to`; each row's floats are
 * asked of read, once per row in order 0..n-1, so that they never need to be in memory at
 * once. Fills sum with size and body checksum. */
int vz_vectors_write(const char *to, const vz_coll_id *id, uint64_t generation, uint32_t dim, enum vz_metric metric,
		     vz_row_reader read, void *ctx, const vz_out_row *rows, uint64_t n, vz_file_sum *sum);
