/*
 * vz.h: the public interface of libvz, the library under vz(1): durable vector collections on the
 * local filesystem. This is the one header a program includes; see vz(3) for an introduction, and
 * examples/ in the source tree for a complete program. Build with
 *     cc prog.c $(pkg-config --cflags --libs vz)
 *
 * Conventions, for every function declared here unless its comment says otherwise:
 *   - Functions return 0 (VZ_OK) on success or a negative enum vz_err code (vz_strerror names
 *     it). They never print and never exit. On failure they also record a one-line detail
 *     message for the calling thread, read with vz_last_error() (like dlerror):
 *     "wal.log: offset 4096: record checksum mismatch". Every function may also return
 *     VZ_ENOMEM, VZ_EOS (another operating-system error) and VZ_EINTERNAL (a bug).
 *   - Pointers returned through out-parameters are owned by the caller and released with the
 *     matching *_free / *_close function named in the comment. Borrowed pointers say so.
 *   - Collections are directories (a data directory holds dynamic/NAME and
 *     workspace/PROJECT/COLLECTION; vz_collection_path maps a name to one). Concurrent
 *     processes and threads are kept apart by a lock file per collection: readers share it,
 *     a writer holds it alone, and every wait is bounded (lock_timeout_ms, then VZ_EBUSY).
 *     One vz_collection handle must not be used by two threads at once; separate handles may.
 *   - Files: vz-format(5). Every change is durable (fsync) before a function returns success.
 */
#ifndef VZ_H
#define VZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VZ_VERSION "0.1.0"
/* The on-disk format version of the collections this library writes (metadata.json's
 * format_version: 3 for a dynamic collection with segments, 2 without), and the newest it
 * reads; vz-format(5). */
#define VZ_FORMAT_VERSION 3

/* ---------------------------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------------------------- */

/* Library error codes. Never renumbered: vz(1) maps each to one exit code (its EXIT STATUS). */
enum vz_err {
	VZ_OK = 0,
	VZ_EINVAL = -1,    /* invalid argument or usage (exit 64) */
	VZ_EDATA = -2,     /* bad input data: malformed line, wrong dimension, NaN (exit 65) */
	VZ_ENOENT = -3,    /* no such collection, id or file (exit 66) */
	VZ_EINTERNAL = -4, /* a bug: an invariant of the library itself failed (exit 70) */
	VZ_ENOMEM = -5,    /* out of memory (exit 71) */
	VZ_EOS = -6,       /* another operating-system error (exit 71) */
	VZ_EEXIST = -7,    /* already exists (exit 73) */
	VZ_EIO = -8,       /* I/O error: EIO, ENOSPC, EDQUOT, failed fsync (exit 74) */
	VZ_EBUSY = -9,     /* lock not obtained within the timeout: retry later (exit 75) */
	VZ_EPERM = -10,    /* not permitted: read-only workspace collection, permissions (exit 77) */
	VZ_ECONFIG = -11,  /* bad configuration file (exit 78) */
	VZ_ECORRUPT = -12, /* a stored file is damaged: checksum, structure or size (exit 65) */
	VZ_ERANGE = -13,   /* a size or count is beyond what the format or the input allows (exit 65) */
};

/* Short static description of an error code ("I/O error"). Never NULL. */
const char *vz_strerror(int err);


/* The detail message of the last failure in this thread (borrowed; valid until the next libvz
 * call in this thread). Empty string when none was recorded. */
const char *vz_last_error(void);

/* Default bounded wait in milliseconds (overridden by VZ_LOCK_TIMEOUT or --lock-timeout). */
#define VZ_LOCK_TIMEOUT_DEFAULT_MS 10000

/* ---------------------------------------------------------------------------------------------
 * The data directory: which one vz(1) uses (vz(1), FILES); first match wins.
 * ------------------------------------------------------------------------------------------- */
enum vz_datadir_source {
	VZ_DATADIR_OPTION = 1,  /* --data-dir */
	VZ_DATADIR_ENV,         /* VZ_DATA_DIR */
	VZ_DATADIR_WORKSPACE,   /* data/ beside the nearest vectorize-workspace.yml (cwd upward) */
	VZ_DATADIR_XDG,         /* $XDG_DATA_HOME/vz, else ~/.local/share/vz */
};
/* Resolves the data directory as vz(1) does (FILES: --data-dir, VZ_DATA_DIR, data/ beside the
 * nearest vectorize-workspace.yml, the XDG data directory) into out (cap bytes); sets *source, and the workspace file's path in
 * workspace_file when the source is VZ_DATADIR_WORKSPACE (may be NULL). Does not create it.
 * Errors: VZ_ERANGE (the path does not fit in cap), VZ_ENOENT (no home directory to fall back on). */
int vz_datadir_resolve(const char *option, char *out, size_t cap, enum vz_datadir_source *source,
		       char *workspace_file, size_t wcap);
/* Human-readable name of a source ("VZ_DATA_DIR environment variable"). */
const char *vz_datadir_source_name(enum vz_datadir_source s);
/* Finds vectorize-workspace.yml in the current directory or the nearest parent. VZ_ENOENT if none. */
int vz_find_workspace_file(char *out, size_t cap);

enum vz_metric { VZ_METRIC_COSINE = 1, VZ_METRIC_EUCLIDEAN = 2, VZ_METRIC_DOT = 3 };

/* "cosine", "euclidean", "dot_product". */
const char *vz_metric_name(enum vz_metric m);
/* Parses a metric name (also accepts "l2" and "dot"); VZ_EINVAL otherwise. */
int vz_metric_parse(const char *name, enum vz_metric *out);

enum vz_quant { VZ_QUANT_NONE = 0, VZ_QUANT_SQ8 = 1 };

#define VZ_MAX_DIM 65536
#define VZ_MAX_ID_LEN 255
#define VZ_MAX_PAYLOAD_LEN (16u << 20)

typedef struct vz_config {
	uint32_t dim;
	enum vz_metric metric;
	uint32_t m, ef_construction, ef_search;
	enum vz_quant quantization;
	char embedding[16];          /* "" (vectors only) or "bm25" (texts can be inserted/queried) */
	uint32_t checkpoint_ops;     /* automatic checkpoint after this many WAL operations */
	uint32_t checkpoint_seconds; /* ... or when the oldest un-checkpointed one is this old */
} vz_config;

/* Fills the defaults: cosine, m 16, ef_construction 200, ef_search 64, no quantization,
 * checkpoint after 1000 operations or 300 seconds; dim 0 (must be set). */
void vz_config_defaults(vz_config *c);
/* Checks ranges (dim 1..VZ_MAX_DIM, m 2..100, ef 1..10000...). Errors: VZ_EINVAL, with detail. */
int vz_config_validate(const vz_config *c);

/* Where a collection lives: NAME is data/dynamic/NAME, PROJECT/COLLECTION is
 * data/workspace/PROJECT/COLLECTION; the result goes to out (cap bytes), and whether it is a
 * workspace collection to *is_workspace (may be NULL). Names are [A-Za-z0-9][A-Za-z0-9._-]{0,63}.
 * Errors: VZ_EINVAL (a bad name), VZ_ERANGE (the path does not fit in cap). */
int vz_collection_path(const char *data_dir, const char *name, char *out, size_t cap, bool *is_workspace);

typedef struct vz_collection vz_collection;

enum vz_open_flags {
	VZ_OPEN_READ = 1,      /* shared lock; no file is changed */
	VZ_OPEN_WRITE = 2,     /* exclusive lock; finishes interrupted checkpoints/drops */
	/* A reader is refused (VZ_ECORRUPT) when the WAL is damaged before its end (not a torn
	 * tail): the rows it would serve lack acknowledged ones. With this flag it opens anyway,
	 * with vz_collection_warning set (vz info, which reports the damage). */
	VZ_OPEN_DAMAGED_OK = 4,
	/* index.hnsw is not opened: a handle for gets and `--text` queries (postings.bin ranks
	 * them); its vector queries scan every row exactly. */
	VZ_OPEN_NO_INDEX = 8,
};

/* Opens the collection in dir: takes the lock, reads metadata.json, maps vectors.bin and
 * index.hnsw (headers checked, nothing parsed or rebuilt), reads the WAL tail into an
 * in-memory delta. Release with vz_collection_close (which releases the lock). The handle is for
 * one thread at a time; other processes and handles see each other through the lock.
 * Errors: VZ_ENOENT (no collection in dir), VZ_EBUSY (the lock was not had within
 * lock_timeout_ms), VZ_ECORRUPT (a file is damaged: run vz_collection_recover), VZ_EPERM,
 * VZ_EIO, VZ_ENOMEM. */
int vz_collection_open(const char *dir, unsigned flags, int lock_timeout_ms, vz_collection **out);
void vz_collection_close(vz_collection *c);
/* The collection's directory (borrowed). */
const char *vz_collection_dir(const vz_collection *c);
/* The configuration (borrowed). */
const vz_config *vz_collection_config(const vz_collection *c);
/* Extra metadata members as raw JSON text (borrowed; "" when none). */
const char *vz_collection_extra_json(const vz_collection *c);
/* Whether c is a workspace collection (built by vz_workspace_build, read-only), as its
 * metadata.json's kind says. Cannot fail. */
bool vz_collection_is_workspace(const vz_collection *c);

typedef struct vz_result {
	const char *id;      /* borrowed from the collection: valid until close */
	size_t id_len;
	float score;         /* as vz(1) shows it: cosine similarity, dot product (higher is closer)
	                        or L2 distance (lower is closer) */
	float distance;      /* internal: smaller is closer for every metric */
	const char *payload; /* borrowed; NULL when the row has none */
	size_t payload_len;
} vz_result;

/* The k nearest live rows to query (dim floats; normalised here for cosine), merging the index
 * with the WAL delta (searched exactly). out has room for k results; *n gets how many, nearest
 * first. ef: the search breadth (0: the collection's ef_search). The results borrow from c.
 * k 0 gives no results. Errors: VZ_EDATA (a zero vector for cosine), VZ_ECORRUPT, VZ_ENOMEM. */
int vz_collection_query(vz_collection *c, const float *query, size_t k, size_t ef, vz_result *out, size_t *n);

/* ---- payload filters (lib/filter.c) ---- */

/* A parsed payload filter: the expression of `vz query --where` (grammar and semantics in
 * vz-query(1), FILTERS), e.g. `lang = "c" and stars >= 10`. */
typedef struct vz_filter vz_filter;
/* Parses text (NUL-terminated) into *out, freed with vz_filter_free. Errors: VZ_EINVAL for a
 * bad expression, the detail naming the column and what was expected there ("column 8:
 * expected a value (...), found 'and'"). */
int vz_filter_parse(const char *text, vz_filter **out);
void vz_filter_free(vz_filter *f);
/* Whether the payload (len bytes of JSON text; NULL: the row has none) satisfies f. Never
 * fails and never reads past len: malformed JSON is read as far as it is well formed. */
bool vz_filter_match(const vz_filter *f, const char *payload, size_t len);
/* How many queries will use f (default 1), which the choice between the graph and an exact scan
 * weighs: the scan evaluates the filter on every row once, then answers each query cheaply. */
void vz_filter_set_queries(vz_filter *f, size_t n);
/* vz_collection_query restricted to the rows whose payload satisfies f (NULL: every row), f
 * applied inside the search: rows failing it are walked through but never returned. The first
 * query with f evaluates it on a sample of the rows and chooses between the HNSW graph and an
 * exact scan of the matching rows (when few match); c keeps each row's answer and the choice
 * for the next queries with f, until it is closed or queried with another filter. The WAL
 * delta is filtered and searched exactly. Errors: those of vz_collection_query. */
int vz_collection_query_where(vz_collection *c, const float *query, size_t k, size_t ef, const vz_filter *f, vz_result *out,
			      size_t *n);
/* The choice of the last filtered query of c in words ("exact scan: 3 of 1024 sampled rows
 * match, some 29 of 10000 rows"), or NULL when c was not queried with a filter. Borrowed. */
const char *vz_collection_where_plan(const vz_collection *c);

/* Receives one query's results from vz_collection_query_batch: query i (from 0), n results
 * nearest first, borrowed until the call returns. A non-zero return ends the batch. */
typedef int (*vz_batch_emit)(void *ctx, size_t i, const vz_result *results, size_t n);
/* vz_collection_query of each of nq queries (nq * dim floats, one query after another), with
 * `threads` threads (0: one per core; 1: all on the calling thread), each query's results
 * handed to emit on the calling thread in query order, as they are ready. A batch of 1000
 * queries or more first loads what searches read into memory; a shorter one enters the
 * mapped pages ahead. Several threads search c at once inside this call only: c is still for
 * one thread at a time. Errors: those of vz_collection_query for the first query that fails
 * (the queries before it are handed over), VZ_ENOMEM, or what emit returned. */
int vz_collection_query_batch(vz_collection *c, const float *queries, size_t nq, size_t k, size_t ef, int threads,
			      vz_batch_emit emit, void *ctx);

/* ---- writing, reading and maintaining collections (lib/collection.c) ---- */

/* Creates the dynamic collection NAME in data_dir/dynamic/ (made if missing): the directory is
 * prepared under a temp name (metadata.json, wal.log with the CreateCollection record, LOCK),
 * made durable, then renamed into place. VZ_EEXIST when it exists; VZ_EINVAL for a bad name or
 * configuration; VZ_EIO, VZ_EPERM, VZ_ENOMEM. */
int vz_collection_create(const char *data_dir, const char *name, const vz_config *cfg);

/* Writes a DeleteCollection record, makes it durable, then removes the directory (renamed away
 * first, so a crash leaves either the collection or nothing visible; an interrupted removal is
 * finished by the next open or create). The collection must be open with VZ_OPEN_WRITE; it is
 * closed by this call whatever the result. Errors: VZ_EINVAL (not open for writing), VZ_EPERM (a
 * workspace collection), VZ_EIO. */
int vz_collection_drop(vz_collection *c);

/* One change in a transaction. */
enum vz_write_op { VZ_WRITE_INSERT = 1, VZ_WRITE_UPDATE = 2, VZ_WRITE_DELETE = 3, VZ_WRITE_UPSERT = 4 };
typedef struct vz_write {
	enum vz_write_op op;
	const char *id;
	size_t id_len;
	const float *vector;   /* dim floats (not for delete) */
	uint32_t dim;
	const char *payload;   /* raw JSON, or NULL (update: keep the old payload) */
	size_t payload_len;
	size_t line;           /* source line or row, for messages (0: unknown) */
} vz_write;

enum vz_write_flags {
	VZ_WRITE_MISSING_OK = 1, /* deleting an absent id is not an error */
	VZ_WRITE_BULK = 2,       /* fold the batch straight into a new checkpoint (no WAL copy) */
	VZ_WRITE_NO_AUTO_CHECKPOINT = 4,
	/* with VZ_WRITE_BULK: the vectors lie in a read-only file mapping, in row order, whose pages
	 * a bulk load lets go once read (madvise MADV_DONTNEED), so that the input is never all
	 * resident. Never for memory of your own (it would read back as zeros). */
	VZ_WRITE_RELEASE = 8,
	/* acknowledge a batch of inserts before its index is built: the batch (and the WAL's
	 * operations) are written as a segment without a graph (vz-format(5), Segments), made
	 * durable and committed; queries scan it exactly until a checkpoint builds its index
	 * (vz_checkpoint_dir, which stats->checkpoint_due asks for). Where a collection takes no
	 * more segments (8 of them, or sq8), or the batch is not all inserts, the batch goes through
	 * the WAL instead, or with VZ_WRITE_BULK into a new base with its index. */
	VZ_WRITE_DEFER_INDEX = 16,
};

typedef struct vz_write_stats {
	size_t inserted, updated, deleted, skipped;
	uint64_t first_seq, last_seq;  /* WAL records written (0 for a bulk write) */
	bool checkpointed;             /* an automatic (or bulk) checkpoint followed */
	bool terms_saved;              /* vz_collection_write_text: the document frequencies were saved */
	bool checkpoint_due;           /* the WAL has reached the thresholds and no checkpoint ran
	                                  (VZ_WRITE_NO_AUTO_CHECKPOINT), or a bulk write deferred its
	                                  index (VZ_WRITE_DEFER_INDEX): see vz_checkpoint_dir */
	bool checkpoint_failed;        /* the automatic checkpoint ran and failed: the transaction is
	                                  committed, vz_last_error says why the checkpoint failed */
} vz_write_stats;

/* Applies the writes as ONE transaction: all are checked first (dimension, NaN, existing id for
 * insert (VZ_EEXIST), missing id for update/delete (VZ_ENOENT), each naming the line), then
 * written to the WAL and made durable (fdatasync) before returning 0. Nothing is written when
 * any check fails. Afterwards an automatic checkpoint runs when one is due (unless
 * VZ_WRITE_NO_AUTO_CHECKPOINT); its failure is reported but the transaction stays committed
 * (stats->checkpointed false, return 0, vz_last_error says why). threads: for index builds.
 * Errors: VZ_EINVAL (not open for writing), VZ_EDATA (a wrong dimension, a NaN, a bad id or
 * payload), VZ_EEXIST, VZ_ENOENT, VZ_EPERM (a workspace collection), VZ_ECORRUPT (the WAL is
 * damaged: recover first), VZ_EIO (nothing is committed), VZ_ENOMEM. stats may be NULL. */
int vz_collection_write(vz_collection *c, const vz_write *w, size_t n, unsigned flags, int threads,
			vz_write_stats *stats);

/* Looks up one live id. On success fills r (borrowed pointers valid until the next write or
 * close) and *vector (dim floats, borrowed). Errors: VZ_ENOENT when the id is absent. */
int vz_collection_get(vz_collection *c, const char *id, size_t id_len, vz_result *r, const float **vector);

/* Calls fn for every live row, base rows first then the WAL delta in write order. Stops and
 * returns fn's value when it is non-zero; else VZ_OK (no error of its own). */
int vz_collection_foreach(vz_collection *c, int (*fn)(void *ctx, const vz_result *r, const float *vector), void *ctx);

/* Counts and state for `info` and `list`. */
typedef struct vz_collection_stats {
	uint64_t generation;
	uint64_t rows;            /* rows in vectors.bin, tombstones included */
	uint64_t live;            /* live vectors, WAL included */
	uint64_t tombstones;      /* dead rows in vectors.bin */
	uint64_t wal_ops;         /* committed operations in the WAL after the checkpoint */
	uint64_t wal_bytes;
	double wal_oldest_age;    /* seconds since the oldest un-checkpointed operation (0 if none) */
	int64_t checkpoint_time;  /* unix seconds of the last checkpoint (0: never) */
	uint64_t bytes;           /* total size of the collection's files */
	bool workspace;
	bool wal_damaged;         /* the WAL has damage after its good records (see vz_collection_warning) */
	uint32_t segments;        /* segments beside vectors.bin (seg-G.vec, seg-G.hnsw), their rows in rows */
	bool graph_deferred;      /* rows but no index.hnsw yet: a checkpoint builds it, searches scan */
} vz_collection_stats;
/* Fills st. Never fails (returns VZ_OK). */
int vz_collection_stats_get(vz_collection *c, vz_collection_stats *st);

/* A warning from open (e.g. "wal.log: offset 4096: record checksum mismatch; 2 later records
 * ignored: run vz recover"), or NULL. Borrowed. */
const char *vz_collection_warning(const vz_collection *c);

/* True when the WAL has reached the automatic checkpoint thresholds, or a segment waits for its
 * index (VZ_WRITE_DEFER_INDEX, or the first pass of a large log's checkpoint). */
bool vz_collection_checkpoint_due(vz_collection *c);

/* Folds the WAL into new vectors.bin/index.hnsw (new rows inserted into the existing graph;
 * rebuilt from live rows when tombstones pass 20%), switches atomically via metadata.json, then
 * restarts the WAL. A crash at any point leaves the state before or after. Needs VZ_OPEN_WRITE.
 * Does nothing (returns 0) when the WAL is empty unless force. Errors: VZ_EINVAL (not open for
 * writing), VZ_EPERM (a workspace collection), VZ_EIO, VZ_ENOMEM; the collection is then as before. */
int vz_collection_checkpoint(vz_collection *c, int threads, bool force);

/* Folds the WAL without stopping anyone (the checkpoint `vz checkpoint` and the automatic one
 * run): a snapshot of the collection (checkpoint files + WAL) is taken under the shared lock,
 * the new vectors.bin and index.hnsw are built in dir/.vztmp.checkpoint holding no lock of the
 * collection, so readers and writers go on; only the switch takes the exclusive lock (a rename
 * or three and a copy of the records written meanwhile into a restarted WAL: milliseconds).
 * One checkpoint of a collection runs at a time: a second one waits up to lock_timeout_ms
 * (without bound with VZ_CHECKPOINT_WAIT) and then fails with VZ_EBUSY naming the holder. A
 * crash at any point leaves the collection as before or as after. Errors: VZ_ENOENT (no such
 * collection, or dropped meanwhile), VZ_EBUSY (lock timeout; or the collection was recovered
 * or restored during the build: nothing switched), VZ_ECORRUPT (damage: run recover), VZ_EPERM
 * (a workspace collection), VZ_EIO (ENOSPC and the other I/O errors). */
enum vz_checkpoint_flags {
	VZ_CHECKPOINT_FORCE = 1,     /* rebuild (compact) even when nothing is in the WAL */
	VZ_CHECKPOINT_IF_NEEDED = 2, /* only when the automatic thresholds are reached, and not
	                                while another checkpoint runs (returns 0 at once) */
	VZ_CHECKPOINT_WAIT = 4,      /* wait for a running checkpoint without a time limit */
};
typedef struct vz_checkpoint_report {
	bool checkpointed;        /* false: nothing to fold, or not due (VZ_CHECKPOINT_IF_NEEDED) */
	uint64_t operations;      /* WAL operations in the snapshot */
	uint64_t kept_records;    /* records written during the build, carried into the new WAL */
	uint64_t generation, rows, live; /* of the new checkpoint */
	double seconds_locked;    /* how long the switch held the exclusive lock */
} vz_checkpoint_report;
int vz_checkpoint_dir(const char *dir, unsigned flags, int threads, int lock_timeout_ms, vz_checkpoint_report *rep);

enum vz_recover_mode {
	VZ_RECOVER_POINT_IN_TIME = 1, /* replay up to the first bad record, drop the rest */
	VZ_RECOVER_TOLERATE_TAIL = 2, /* like point in time, but fail if the damage is not a torn tail */
	VZ_RECOVER_ABSOLUTE = 3,      /* fail on any damage; change nothing */
	VZ_RECOVER_SALVAGE = 4,       /* keep every committed transaction that can be read */
};
/* "point-in-time", "tolerate-tail", "absolute", "salvage"; parse: VZ_EINVAL for another name. */
int vz_recover_mode_parse(const char *name, enum vz_recover_mode *out);
const char *vz_recover_mode_name(enum vz_recover_mode m);

typedef struct vz_recover_report {
	uint64_t records_replayed;     /* good WAL records */
	uint64_t transactions_replayed;
	uint64_t transactions_dropped; /* incomplete or unreadable transactions */
	uint64_t bytes_dropped;        /* WAL bytes after the damage that were not kept */
	uint64_t records_salvaged;     /* good records after damage kept (salvage) */
	int temps_removed;
	bool wal_damaged, torn_tail, index_rebuilt, checkpoint_written;
	bool terms_rebuilt;            /* terms.bin was made again from the stored texts */
	bool rebuilt_from_sources;     /* a workspace collection was built again (vz build --force) */
	/* Damage that nothing in the collection can repair (metadata.json, vectors.bin, the log's
	 * header or identity; a workspace collection whose sources are not known): nothing was
	 * changed; the error says what to restore or rebuild from. */
	bool restore_needed;
	/* Data the mode dropped: set when the log was damaged and records after the damage, or
	 * transactions it cut, are not in the result. With torn_tail, only the last write, which
	 * a crash cut short and so was never acknowledged; otherwise acknowledged data may be in it. */
	bool data_lost;
	uint64_t ids_lost;             /* ids of dropped records (all of them, even past lost_ids) */
	char lost_ids[1024];           /* "a, b, c" (cut with "..." when longer), or "" */
	char damage[256];              /* where and what, or "" */
	int graphs_rebuilt;            /* segment graphs (seg-G.hnsw) built again from their rows */
} vz_recover_report;

/* Recovers the collection in dir (exclusive lock): first checks every file as verify does and
 * refuses (VZ_ECORRUPT, rep->restore_needed, nothing changed) when one that cannot be derived
 * is damaged or does not belong (metadata.json, vectors.bin, the log's header); a damaged
 * workspace collection is built again from the sources its metadata.json names (refused as
 * above when it names none); then cleans temp files, finishes an
 * interrupted checkpoint or drop, scans the WAL in the given mode, rebuilds index.hnsw, a
 * segment's graph (seg-G.hnsw, from its seg-G.vec) and terms.bin when they fail their checks, writes a fresh checkpoint with everything recovered
 * (not with dry_run), and verifies it. What a damaged log cost is in rep->data_lost and
 * rep->lost_ids (rep must not be NULL). Errors: VZ_ECORRUPT when the mode forbids what was found
 * (nothing is changed), VZ_ENOENT, VZ_EBUSY, VZ_EPERM (the collection cannot be written), VZ_EIO,
 * VZ_ENOMEM. */
int vz_collection_recover(const char *dir, enum vz_recover_mode mode, bool dry_run, int threads,
			  int lock_timeout_ms, vz_recover_report *rep);

/* Verification report callback: one call per problem found. file is "vectors.bin" etc.,
 * offset is a byte offset in it (or -1), what names the broken invariant. */
typedef void (*vz_verify_cb)(void *ctx, const char *file, int64_t offset, const char *what);

/* Checks every checksum and structural invariant of the collection in dir (quick: headers and
 * metadata only). Takes a shared lock. Returns VZ_OK when it could run (problems are counted in
 * *problems and reported through cb, which may be NULL), or an error when it could not check at
 * all: VZ_ENOENT (no collection in dir), VZ_EBUSY, VZ_EIO, VZ_ENOMEM. */
int vz_collection_verify(const char *dir, bool quick, int lock_timeout_ms, vz_verify_cb cb, void *ctx, int *problems);

/* ---------------------------------------------------------------------------------------------
 * Texts: collections created with embedding "bm25" (vz_config.embedding) embed texts themselves
 * (vz-workspace(5): the built-in embedding; its document frequencies are kept in terms.bin).
 * ------------------------------------------------------------------------------------------- */

/* vz_collection_write where rows may be given as text: for every i with texts[i] not NULL,
 * w[i].vector and w[i].dim are ignored and the row gets its vector from the collection's
 * embedding (every text is first counted in the document frequencies, then each is embedded,
 * as vz build does), and a row without a payload gets {"text": TEXT} so that query results
 * show what matched. texts may be NULL (then this is vz_collection_write). w is not changed.
 * The document frequencies are saved after the transaction is durable; when that save fails
 * the rows stay written, 0 is returned, stats->terms_saved is false and vz_last_error says why.
 * Errors: those of vz_collection_write; VZ_EINVAL when texts are given and the collection has
 * no embedding; VZ_EDATA when a text has no terms (no letters or digits). */
int vz_collection_write_text(vz_collection *c, const vz_write *w, const char *const *texts, size_t n, unsigned flags,
			     int threads, vz_write_stats *stats);

/* vz_collection_query of the text (len bytes) embedded as a query with the collection's
 * embedding. Errors: those of vz_collection_query; VZ_EINVAL when the collection has no
 * embedding; VZ_EDATA when the text has no terms; VZ_ECORRUPT when terms.bin is damaged. */
int vz_collection_query_text(vz_collection *c, const char *text, size_t len, size_t k, size_t ef, vz_result *out,
			     size_t *n);

/* ---------------------------------------------------------------------------------------------
 * Workspaces: vectorize-workspace.yml (vz-workspace(5), both schemas) and vz build.
 * ------------------------------------------------------------------------------------------- */
#define VZ_WORKSPACE_FILE "vectorize-workspace.yml"
#define VZ_WS_MAX_FILE (1u << 20)   /* bigger YAML files are refused */
#define VZ_WS_MAX_ALIASES 64        /* more aliases are refused (alias bombs) */
#define VZ_WS_MAX_DEPTH 32          /* deeper nesting is refused */

/* The ranking of text search in a workspace collection (processing.text_search of
 * vz-workspace(5)): BM25F over each file's path and name, title and body. */
typedef struct vz_text_weights {
	float path, title, body; /* BM25F field weights */
	float k1, b;             /* saturation and length normalisation */
} vz_text_weights;
#define VZ_TEXT_WEIGHTS_DEFAULT { 1.0f, 1.0f, 1.0f, 1.2f, 0.75f }

typedef struct vz_ws_collection {
	char project[65];          /* project name */
	char name[65];             /* collection name */
	char full_name[131];       /* "project/collection" */
	char project_dir[4096];    /* the project's directory (relative paths resolved against the YAML's dir) */
	char **include, **exclude; /* glob patterns (**, *, ?, [..]) relative to project_dir */
	size_t n_include, n_exclude;
	vz_config cfg;             /* dim, metric, hnsw parameters, quantization, embedding "bm25";
	                              checkpoint_ops/seconds from a `checkpoint` section (else defaults) */
	uint32_t chunk_size, chunk_overlap; /* bytes */
	uint64_t max_file_size;    /* bytes; bigger files are skipped */
	vz_text_weights text;      /* text search ranking (processing.text_search) */
	uint64_t config_hash;      /* XXH3 of the effective configuration: a change rebuilds */
	int line;                  /* where it is declared in the YAML (1-based) */
	bool skip_hidden;          /* skip_hidden_files (default true): names starting with '.' are not read */
	char **extensions;         /* supported_extensions ("md", no dot), none: every extension */
	size_t n_extensions;
	uint32_t ngram_min, ngram_max; /* native_ngram's ngram_range (characters), else 0 */
} vz_ws_collection;

/* A project or collection of the workspace file that could not be declared (its entry is bad)
 * or built: the rest of the file is still read and built. */
typedef struct vz_ws_failure {
	char *message;             /* "file:line:column: why" */
	int err;                   /* the VZ_E* code */
	char project[65];          /* the project it belongs to ("" when unknown) */
} vz_ws_failure;

typedef struct vz_workspace {
	char path[4096];           /* the YAML file */
	char dir[4096];            /* its directory */
	char name[128];            /* workspace.name, or "" */
	vz_ws_collection *collections;
	size_t n;
	bool watcher_enabled;      /* file_watcher.enabled (default true) */
	uint32_t debounce_ms;      /* file_watcher.debounce_ms (default 500) */
	uint32_t checkpoint_ops, checkpoint_seconds; /* workspace-level `checkpoint`; 0 when absent */
	bool backup_set;           /* a `backup` section was given */
	char backup_directory[4096]; /* backup.directory, resolved against dir ("" when absent) */
	uint32_t backup_keep;      /* backup.keep (default 7) */
	bool backup_after_checkpoint; /* backup.after_checkpoint (default false) */
	char **warnings;           /* "file:line:col: unknown key 'x'" ... (n_warnings of them) */
	size_t n_warnings;
	char **not_applicable;     /* "file:line:col: KEY: why vz has no such thing", each key once */
	size_t n_not_applicable;
	vz_ws_failure *failures;   /* projects whose entry is bad (the others are still declared) */
	size_t n_failures;
	char **watch_paths;        /* file_watcher.watch_paths, resolved against dir (none: the projects) */
	size_t n_watch_paths;
	char **watch_exclude;      /* file_watcher.exclude_patterns (globs; changes there are ignored) */
	size_t n_watch_exclude;
	bool watch_auto_update;    /* file_watcher.enable_auto_update (default true): rebuild on changes */
	bool watch_hot_reload;     /* file_watcher.hot_reload (default true): re-read this file when it changes */
} vz_workspace;

/* Reads and validates the workspace file at path. Errors are VZ_ECONFIG with a detail starting
 * "path:line:column: "; a missing file is VZ_ENOENT. Unknown keys become warnings (not errors).
 * A bad project entry (or a bad collection in it) is not an error of the whole file: it is
 * recorded in failures, and the other projects are declared.
 * Free with vz_workspace_free (NULL is fine). */
int vz_workspace_load(const char *path, vz_workspace **out);
void vz_workspace_free(vz_workspace *w);
/* The collection named "project/collection", or NULL (borrowed from w). */
const vz_ws_collection *vz_workspace_find(const vz_workspace *w, const char *full_name);

typedef struct vz_ws_stats {
	size_t files, changed, added, removed, chunks;
	size_t too_large, binary; /* files skipped: over max_file_size, or with a NUL byte */
	bool not_built;     /* vz_workspace_diff: the collection has no cache.bin yet */
	bool rebuilt;       /* the configuration changed (or --force): everything was re-embedded */
	double seconds;
	/* vz_workspace_build only: files read (hashed, and embedded when changed); rows written to
	 * the snapshot anew; its tombstones after the build; and what became of the HNSW graph:
	 * "kept" (no rows changed), "extended" (by the new rows only), "built" (whole) or
	 * "deferred" (VZ_WS_BUILD_DEFER_GRAPH: none yet, vz_checkpoint_dir builds it) */
	size_t read, appended;
	uint64_t tombstones;
	const char *index;
} vz_ws_stats;
/* Progress: done of total files examined so far. */
typedef void (*vz_ws_progress_fn)(void *ctx, size_t done, size_t total);

/* Progress of the long operations of this process (index builds of inserts and checkpoints,
 * WAL writes, backups, restores, verification): fn(ctx, what, done, total) with what a short
 * phase name ("indexing", "writing", "archiving", "verifying", "restoring"), done of total
 * units. Reports are at most one per 100 ms and phase, always one when a phase ends
 * (done == total), from whichever thread does the work but never two at once. NULL turns it
 * off (the default). Process-wide; returns nothing and cannot fail. */
typedef void (*vz_progress_fn)(void *ctx, const char *what, uint64_t done, uint64_t total);
void vz_set_progress(vz_progress_fn fn, void *ctx);

/* Builds (incrementally) collection c of w into data_dir/workspace/P/C: walks the project,
 * re-reads and re-embeds only added and changed files (all of them with force or when the
 * configuration hash changed), writes the new checkpoint of the collection and its cache.bin
 * under the collection's exclusive lock. Files that vanish while being read are skipped.
 * progress (may be NULL) is called from this thread; st must not be NULL. flags:
 * VZ_WS_BUILD_FORCE re-reads every file; VZ_WS_BUILD_DEFER_GRAPH commits a snapshot written
 * whole without its HNSW graph (not for sq8), which vz_checkpoint_dir builds later (until
 * then --vector queries scan the rows exactly); an extended snapshot extends the graph as ever.
 * Errors: VZ_ENOENT (the project directory is missing), VZ_EBUSY (lock timeout), VZ_EIO, VZ_EPERM
 * (an unreadable directory), VZ_ENOMEM. */
enum { VZ_WS_BUILD_FORCE = 1, VZ_WS_BUILD_DEFER_GRAPH = 2 };
int vz_workspace_build(const vz_workspace *w, const vz_ws_collection *c, const char *data_dir, unsigned flags,
		       int threads, int lock_timeout_ms, vz_ws_progress_fn progress, void *ctx, vz_ws_stats *st);

/* What a build of c would do, without writing anything (and without the lock: a build running
 * meanwhile may make it out of date): fn(ctx, 'A'|'C'|'R', path) for each file added, changed
 * (its content hash differs: a file only touched is not changed) or removed since the last
 * build; st gets the counts (rebuilt: the configuration changed; not_built: never built).
 * Errors: VZ_ENOENT (the project directory is missing), VZ_ECORRUPT (a damaged cache.bin),
 * VZ_EIO, VZ_EPERM, VZ_ENOMEM. */
typedef void (*vz_ws_diff_fn)(void *ctx, char what, const char *path);
/* The id of chunk chunk of the file path (path_len bytes, relative to its project) in a workspace
 * collection, as vz_workspace_build names its rows: "PATH#CHUNK", or "xxh3:HASH#CHUNK" (the
 * XXH3-64 of the path, 16 hex digits) when that would pass VZ_MAX_ID_LEN. Into out (cap bytes,
 * VZ_MAX_ID_LEN + 1 always suffice). Errors: VZ_ERANGE when out is too small. */
int vz_ws_row_id(const char *path, size_t path_len, uint32_t chunk, char *out, size_t cap);
int vz_workspace_diff(const vz_workspace *w, const vz_ws_collection *c, const char *data_dir, vz_ws_diff_fn fn, void *ctx,
		      vz_ws_stats *st);

/* ---------------------------------------------------------------------------------------------
 * Backups and restores (vz-backup(1), vz-restore(1); the archive: vz-format(5), Backup archives)
 * ------------------------------------------------------------------------------------------- */
/* One tar archive (pax) compressed with zstd, every frame carrying
 * its content checksum, readable with `tar --zstd -xf`. The first entry is VZ_BACKUP_MANIFEST,
 * a JSON object:
 *   {"format":"vz-backup","format_version":1,"created":"2026-11-25T04:15:00Z","vz_version":"0.1.0",
 *    "collections":[{"name":"docs","kind":"dynamic","collection_id":"<32 hex digits>",
 *    "files":[{"path":"dynamic/docs/wal.log",
 *    "size":248,"xxh3":"89abcdef01234567"},...]},...],"file_count":N,"total_size":N}
 * then each collection's files at dynamic/NAME/FILE or workspace/PROJECT/COLLECTION/FILE (every
 * regular file of the collection except LOCK and .vztmp.* temp files), so that extracting an
 * archive inside a data directory recreates the collections (add an empty LOCK file to each).
 *
 * Archives are untrusted input: absolute paths, "..", links, devices, fifos, directories other
 * than the collections' own, duplicate entries, entries missing from the manifest, sizes other
 * than the manifest's, sizes beyond the bounds below, zstd frames without a checksum, and more
 * decompressed bytes than the manifest accounts for are all refused, before anything is written
 * outside a private temp directory. */
#define VZ_BACKUP_MANIFEST "vz-backup/manifest.json"
#define VZ_BACKUP_FORMAT_VERSION 1
#define VZ_BACKUP_MAX_MANIFEST (16u << 20)           /* bytes of manifest.json */
#define VZ_BACKUP_MAX_FILES 100000                   /* files listed in one manifest */
#define VZ_BACKUP_MAX_FILE ((uint64_t)1 << 40)       /* bytes of one file (1 TiB) */
#define VZ_BACKUP_MAX_TOTAL ((uint64_t)1 << 42)      /* bytes of all files together (4 TiB) */

typedef struct vz_backup_options {
	int level;           /* zstd level 1..19 (default 1) */
	int threads;         /* zstd worker threads; 0: compress in the calling thread (default: one per core) */
	int lock_timeout_ms; /* bounded wait for each collection's shared lock */
} vz_backup_options;

/* Fills the defaults: level 1 (float vectors, most of a collection, compress no better at the
 * higher levels: level 3 took 1.8x the processor time for an archive 0.06% smaller, 100k x 128), one
 * compression thread per online core (none on one core), VZ_LOCK_TIMEOUT_DEFAULT_MS. */
void vz_backup_options_default(vz_backup_options *o);

/* What a backup holds (filled by writers and by verify). */
typedef struct vz_backup_summary {
	size_t collections, files;
	uint64_t bytes;         /* the collections' file bytes (uncompressed) */
	uint64_t archive_bytes; /* size of the compressed archive */
	char created[32];       /* "2026-11-25T04:15:00Z" */
} vz_backup_summary;

/* Writes a backup of the named collections (NAME or PROJECT/COLLECTION; n may be 0 for an
 * archive without collections) to the open descriptor fd (fd_name is for messages). Each
 * collection is snapshotted under its shared lock, held only while its files are linked or
 * copied into a private staging directory in data_dir (wal.log, the only file changed in place,
 * is copied; every other file is only ever replaced by rename, so a hard link is a snapshot);
 * compression runs after the lock is released. Nothing is fsynced (the caller's business).
 * Errors: VZ_ENOENT (no such collection), VZ_EBUSY (lock timeout), VZ_EDATA (a collection holds
 * something other than regular files), VZ_EIO (writing failed), VZ_ENOMEM. sum may be NULL. */
int vz_backup_write_fd(const char *data_dir, const char *const *names, size_t n, const vz_backup_options *o,
		       int fd, const char *fd_name, vz_backup_summary *sum);

/* Like vz_backup_write_fd into path, atomically: a temp file beside path is written, fsynced,
 * read back (its bytes against the checksum of the compressed stream taken while writing it:
 * the trailer), renamed over path, and the directory fsynced. On any failure nothing is left
 * behind and an existing path is untouched. Errors: those of vz_backup_write_fd, and VZ_EIO
 * when the file does not read back as written. */
int vz_backup_write_file(const char *data_dir, const char *const *names, size_t n, const vz_backup_options *o,
			 const char *path, vz_backup_summary *sum);

/* For cron: writes PREFIX-YYYYMMDDTHHMMSSZ.tar.zst (UTC; ".N" before ".tar.zst" when that name
 * is taken) into dir (created if missing) like vz_backup_write_file, and only once it is
 * complete, verified, renamed into place and the directory fsynced, removes the oldest files
 * named PREFIX-<timestamp>[.N].tar.zst beyond the newest keep (keep 0: remove nothing; other
 * files are never touched). prefix NULL means "vz". The new file's path goes to written (cap
 * bytes; may be NULL). Errors: those of vz_backup_write_file. */
int vz_backup_write_dir(const char *data_dir, const char *const *names, size_t n, const vz_backup_options *o,
			const char *dir, const char *prefix, int keep, char *written, size_t cap, vz_backup_summary *sum);

/* Checks the backup at path ("-" reads stdin) without restoring anything: the zstd stream and
 * its checksums, the tar structure, the manifest, every entry against it (size and XXH3), and
 * with check_collections every collection inside (extracted into a private temp directory under
 * $TMPDIR, checked with vz_collection_verify, removed). Each problem is reported through cb
 * (may be NULL) as (file inside the archive or the archive's name, offset or -1, what is wrong)
 * and counted in *problems. Returns VZ_OK when the check could run (damage is a problem count,
 * not an error), VZ_ENOENT when path is missing, VZ_EIO/VZ_ENOMEM when it could not run. sum (may
 * be NULL) describes the manifest when one was read. */
int vz_backup_verify(const char *path, bool check_collections, vz_verify_cb cb, void *ctx, int *problems,
		     vz_backup_summary *sum);

enum vz_restore_flags {
	VZ_RESTORE_FORCE = 1, /* replace existing collections (after a safety backup of each) */
};

/* Called once per restored collection: its name in the data directory, and the safety backup
 * written of the collection it replaced (NULL when none existed). */
typedef void (*vz_restore_cb)(void *ctx, const char *name, const char *safety_backup);

/* Restores collections from the backup at path into data_dir (created if missing): the named
 * ones (names of collections in the backup; n 0: all of them), the single one under the name
 * as_name when it is not NULL. The archive is read once into a private staging directory inside
 * data_dir while every check of vz_backup_verify runs (problems go to problem_cb), then each
 * staged collection is checked with vz_collection_verify; only when everything passed is each
 * collection switched into place with one rename (RENAME_NOREPLACE, or RENAME_EXCHANGE under
 * the collection's exclusive lock with VZ_RESTORE_FORCE after a safety backup into safety_dir,
 * DATA_DIR/backups when NULL), and the parent directory fsynced.
 * Errors: VZ_ECORRUPT (the backup is damaged; nothing changed), VZ_EEXIST (a collection exists
 * and no VZ_RESTORE_FORCE; nothing changed), VZ_ENOENT (backup or named collection missing),
 * VZ_EINVAL (bad name, as_name with several collections), VZ_EBUSY, VZ_EIO. Collections are
 * switched one by one: when switching a later one fails, the earlier ones stay restored (each
 * reported through done_cb). */
int vz_backup_restore(const char *data_dir, const char *path, const char *const *names, size_t n, const char *as_name,
		      unsigned flags, const char *safety_dir, int lock_timeout_ms, vz_verify_cb problem_cb,
		      vz_restore_cb done_cb, void *ctx);

#ifdef __cplusplus
}
#endif

#endif /* VZ_H */
