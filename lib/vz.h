/*
 * vz.h (lib/): libvz's private header, shared by lib/, cmd/, the tests and the bench. It holds the
 * internals (the I/O layer, mapping, the format's load/store helpers, the HNSW builder, WAL
 * records, the embedding, CLI exit codes) on top of the public API in include/vz.h, which it
 * includes. Programs using the library include only <vz.h> (include/vz.h, installed).
 *
 * Conventions, for every function declared here unless its comment says otherwise:
 *   - Functions return 0 (VZ_OK) on success or a negative enum vz_err code. They never print and
 *     never exit. On failure they also record a one-line detail message for the calling thread,
 *     read with vz_last_error() (like dlerror): "wal.log: offset 4096: record checksum mismatch".
 *   - Pointers returned through out-parameters are owned by the caller and released with the
 *     matching *_free / *_close function named in the comment. Borrowed pointers say so.
 *   - Every write, fsync, rename, unlink, truncate, mkdir and directory fsync goes through the
 *     vz_io_* layer below, so tests can inject failures and crashes at any I/O point.
 *   - Sizes from files are untrusted: every length is checked against the real file size with
 *     checked arithmetic (vz_add_overflow / vz_mul_overflow) before anything is allocated.
 */
#ifndef VZ_PRIVATE_H
#define VZ_PRIVATE_H

#include "../include/vz.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

/* The size of every buffer that holds a path: the longest path the kernel takes (PATH_MAX,
 * 4096 with its NUL) and room for the longest suffix vz puts after one (".vztmp.checkpoint",
 * "/wal.log.new", ".lock", a backup's time stamp). A path formatted into one never needs to be
 * cut; if one ever were, what is left is longer than PATH_MAX, so that no system call takes it
 * and a cut path cannot name another file. */
#define VZ_PATH_MAX (4096 + 512)



/* Records a detail message for the calling thread and returns err, so that library code can
 * write `return vz_fail(VZ_EDATA, "line %zu: bad vector", n);`. */
int vz_fail(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Like vz_fail, with the message prefixed to the detail already recorded ("wal.log: " + old).
 * Used to add context while an error travels up. Returns err. */
int vz_fail_prefix(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Maps an errno value to a vz_err code: EIO/ENOSPC/EDQUOT/EROFS -> VZ_EIO, ENOENT -> VZ_ENOENT,
 * EEXIST -> VZ_EEXIST, EACCES/EPERM -> VZ_EPERM, ENOMEM -> VZ_ENOMEM, else VZ_EOS. */
int vz_err_from_errno(int errnum);

/* The process exit code for an error code, per the table in vz(1). 0 for VZ_OK. */
int vz_exit_code(int err);

/* Process exit codes (sysexits-style). Never renumbered. */
enum vz_exit {
	VZ_EXIT_OK = 0,
	VZ_EXIT_CHECK = 1,     /* a check said no (verify found damage) */
	VZ_EXIT_USAGE = 64,
	VZ_EXIT_DATAERR = 65,
	VZ_EXIT_NOINPUT = 66,
	VZ_EXIT_SOFTWARE = 70,
	VZ_EXIT_OSERR = 71,
	VZ_EXIT_CANTCREAT = 73,
	VZ_EXIT_IOERR = 74,
	VZ_EXIT_TEMPFAIL = 75,
	VZ_EXIT_NOPERM = 77,
	VZ_EXIT_CONFIG = 78,
};

/* ---------------------------------------------------------------------------------------------
 * Checked arithmetic: true when the result overflowed (the out value is then unspecified).
 * ------------------------------------------------------------------------------------------- */
static inline bool vz_add_overflow(size_t a, size_t b, size_t *out) { return __builtin_add_overflow(a, b, out); }
static inline bool vz_mul_overflow(size_t a, size_t b, size_t *out) { return __builtin_mul_overflow(a, b, out); }
static inline bool vz_add_overflow_u64(uint64_t a, uint64_t b, uint64_t *out) { return __builtin_add_overflow(a, b, out); }
static inline bool vz_mul_overflow_u64(uint64_t a, uint64_t b, uint64_t *out) { return __builtin_mul_overflow(a, b, out); }

/* ---------------------------------------------------------------------------------------------
 * Checksums (XXH3 from libxxhash)
 * ------------------------------------------------------------------------------------------- */

/* XXH3-64 of len bytes at data (data may be NULL when len is 0). */
uint64_t vz_hash64(const void *data, size_t len);
/* XXH3-64 with a seed: used to chain WAL records (seed = previous record's checksum). */
uint64_t vz_hash64_seeded(const void *data, size_t len, uint64_t seed);

/* Streaming XXH3-64 over many buffers. Create with vz_hasher_new (NULL on out of memory),
 * feed with vz_hasher_update, read with vz_hasher_digest (may be called more than once),
 * release with vz_hasher_free (NULL is fine). */
typedef struct vz_hasher vz_hasher;
vz_hasher *vz_hasher_new(void);
void vz_hasher_update(vz_hasher *h, const void *data, size_t len);
uint64_t vz_hasher_digest(const vz_hasher *h);
void vz_hasher_free(vz_hasher *h);

/* ---------------------------------------------------------------------------------------------
 * The I/O layer. Every on-disk change in libvz passes through these functions.
 *
 * Fault injection (tests only, read once from the environment on first use):
 *   VZ_FAULT="N:ERRNO"  the Nth counted call fails with that errno (EIO, ENOSPC, EDQUOT, EROFS,
 *                       or a number) without doing anything.
 *   VZ_FAULT="N:crash"  the process kills itself with SIGKILL at the Nth counted call, before
 *                       doing it (a simulated crash).
 *   VZ_FAULT="N:torn"   at the Nth counted call, if it is a write, half the bytes are written,
 *                       then the process kills itself; other calls behave as crash.
 *   VZ_FAULT="N:powercut"  a simulated power cut at the Nth counted call, before doing it: every
 *                       file changed since its last fsync/fdatasync gets back the contents it
 *                       had then; every create, mkdir, rename, unlink and rmdir not followed by
 *                       an fsync of its directory (vz_io_fsync_dir; for a rename, the directory of
 *                       the new name) is undone, newest first; then the process kills itself.
 *                       The layer keeps what it needs for that (durable contents of the changed
 *                       and the removed files) in memory from the first call on.
 *   VZ_FAULT="N:garble"  the same, but the ranges written since the last fsync hold, per 512-byte
 *                       sector, the new bytes, the old ones, zeros or random bytes (seeded by N),
 *                       as a disk that wrote some of them; file sizes stay as written.
 *   VZ_FAULT="N:stop"   the process stops itself (SIGSTOP) before the Nth counted call and goes
 *                       on when continued: a test acts on the collection at that exact point.
 *   VZ_IO_TRACE=PATH    every counted call appends "N op path" to PATH (never itself counted).
 * Counted calls: vz_io_open_write, vz_io_write, vz_io_pwrite, vz_io_fsync, vz_io_fdatasync,
 * vz_io_rename, vz_io_rename_noreplace, vz_io_rename_exchange, vz_io_unlink, vz_io_rmdir,
 * vz_io_mkdir, vz_io_ftruncate, vz_io_fsync_dir, vz_io_link.
 * All return 0 or a vz_err (from errno via vz_err_from_errno) with the path in the detail.
 * A failed fsync is final: callers report it and never retry.
 * ------------------------------------------------------------------------------------------- */

/* Number of counted I/O calls made so far by this process (for tests). */
uint64_t vz_io_calls(void);
/* Re-reads VZ_FAULT / VZ_IO_TRACE and resets the call counter (for tests that set the
 * environment after the first I/O call of the process). */
void vz_io_fault_reload(void);

/* Opens path for writing with flags (O_WRONLY or O_RDWR, plus O_CREAT/O_EXCL/O_TRUNC/O_APPEND
 * as wanted); O_NOFOLLOW and O_CLOEXEC are always added, so no file is opened through a
 * symlink. mode is filtered by the process umask as usual. On success *fd is open. */
int vz_io_open_write(const char *path, int flags, mode_t mode, int *fd);
/* Writes all len bytes (retrying short writes and EINTR). path is only for messages. */
int vz_io_write(int fd, const void *buf, size_t len, const char *path);
/* Writes all len bytes at offset. */
int vz_io_pwrite(int fd, const void *buf, size_t len, off_t offset, const char *path);
int vz_io_fsync(int fd, const char *path);
int vz_io_fdatasync(int fd, const char *path);
int vz_io_ftruncate(int fd, off_t len, const char *path);
int vz_io_rename(const char *from, const char *to);
/* Renames, failing with VZ_EEXIST when `to` exists (renameat2 RENAME_NOREPLACE). */
int vz_io_rename_noreplace(const char *from, const char *to);
/* Swaps the two names atomically (RENAME_EXCHANGE); both must exist. */
int vz_io_rename_exchange(const char *a, const char *b);
/* Unlinks path; a missing path is success when missing_ok. */
int vz_io_unlink(const char *path, bool missing_ok);
int vz_io_rmdir(const char *path);
/* Starts writing bytes [from, from+len) of fd to the disk now (sync_file_range WRITE), so that a
 * later fsync has less left to wait for: a hint for long sequential writes, not counted, never
 * an error (durability still takes vz_io_fsync). */
void vz_io_writeback(int fd, off_t from, off_t len);
/* Makes `to` a new hard link to the file `from` (never following a symlink at from); VZ_EEXIST
 * when `to` exists. */
int vz_io_link(const char *from, const char *to);
/* Creates a directory; an existing directory is success when exist_ok (a non-directory, or a
 * symlink, at path is VZ_EEXIST). */
int vz_io_mkdir(const char *path, mode_t mode, bool exist_ok);
/* Opens the directory (O_DIRECTORY|O_NOFOLLOW) and fsyncs it, so renames and creations in it
 * are durable. */
int vz_io_fsync_dir(const char *dir);
/* Closes fd (not counted: close cannot lose data that fsync has made durable). */
void vz_io_close(int fd);

/* Creates every missing directory of path (like mkdir -p), each through vz_io_mkdir, fsyncing
 * the parent of each directory it creates. Refuses to pass through a symlink (VZ_EPERM). */
int vz_io_mkdir_p(const char *path, mode_t mode);

/* Removes a directory tree (files, then the directory), never following symlinks. A missing
 * path is success. */
int vz_io_remove_tree(const char *path);

/* ---------------------------------------------------------------------------------------------
 * Atomic replace: a new file appears whole under its final name or not at all.
 * Write a temp file (random name, O_EXCL|O_NOFOLLOW) in the same directory, fsync it, rename it
 * over the target, fsync the directory. Temp names start with ".vztmp." so that
 * vz_cleanup_temps can remove leftovers of a crash.
 * ------------------------------------------------------------------------------------------- */
typedef struct vz_tmpfile {
	int fd;              /* open for writing; write through vz_io_write / vz_tmpfile_write */
	char path[VZ_PATH_MAX];     /* the temp file's path */
	char target[VZ_PATH_MAX];   /* the final path */
	uint64_t written;    /* bytes written through vz_tmpfile_write */
	vz_hasher *hasher;   /* XXH3 of everything written through vz_tmpfile_write */
} vz_tmpfile;

/* Creates a temp file beside target with mode 0644 (& ~umask). On success the caller must end
 * with exactly one of vz_tmpfile_commit or vz_tmpfile_abort. */
int vz_tmpfile_open(vz_tmpfile *t, const char *target);
/* Appends len bytes and feeds them to the running checksum. */
int vz_tmpfile_write(vz_tmpfile *t, const void *buf, size_t len);
/* fsync, rename over the target, fsync the directory. On failure the temp file is removed (best
 * effort) and the target is untouched or already whole-new (if only the directory fsync failed,
 * which is reported: the rename may not be durable). Always releases t. */
int vz_tmpfile_commit(vz_tmpfile *t);
/* Like commit, but renames to `to` instead of t->target (for files staged under another name). */
int vz_tmpfile_commit_as(vz_tmpfile *t, const char *to);
/* Removes the temp file and releases t. Never fails (errors are ignored: cleanup is retried by
 * vz_cleanup_temps). */
void vz_tmpfile_abort(vz_tmpfile *t);

/* Appends to a temp file through a staging buffer, so that a writer emitting a row at a time
 * (ids, codes) makes one system call a megabyte, not one a row. Pieces as large as the buffer
 * go straight through. Without memory for the buffer every piece goes straight through. */
typedef struct vz_stage {
	vz_tmpfile *t;
	unsigned char *buf; /* owned; NULL: unbuffered */
	size_t used, cap;
} vz_stage;
/* Starts staging for t (cap bytes of buffer). Never fails. */
void vz_stage_init(vz_stage *s, vz_tmpfile *t, size_t cap);
/* Appends len bytes (vz_tmpfile_write's errors, possibly for bytes staged earlier). */
int vz_stage_write(vz_stage *s, const void *buf, size_t len);
/* Writes what is staged and frees the buffer; call before anything else writes to t (a pwrite
 * of the header, a commit) and on every path out, errors included (then its result may be
 * ignored). */
int vz_stage_finish(vz_stage *s);

/* Writes len bytes at buf to path atomically (vz_tmpfile_open + write + commit). */
int vz_atomic_write(const char *path, const void *buf, size_t len);

/* Removes leftover temp files (".vztmp.*") in dir. Sets *removed to how many (may be NULL). */
int vz_cleanup_temps(const char *dir, int *removed);

/* ---------------------------------------------------------------------------------------------
 * Locks: flock on a lock file, shared for readers and exclusive for writers, with a bounded
 * wait. Never a stale lock: the kernel drops flock locks when the holder dies.
 * ------------------------------------------------------------------------------------------- */
enum vz_lock_mode { VZ_LOCK_SHARED = 1, VZ_LOCK_EXCLUSIVE = 2 };

typedef struct vz_lock {
	int fd;
	enum vz_lock_mode mode;
} vz_lock;

#define VZ_LOCK_INIT { .fd = -1, .mode = 0 }


/* Locks the file at path (created 0644 when create is true; otherwise a missing file is
 * VZ_ENOENT), waiting at most timeout_ms (0: try once). On VZ_EBUSY the detail names the
 * holder's pid when the kernel reports it (/proc/locks). The lock file is never removed. */
int vz_lock_acquire(const char *path, enum vz_lock_mode mode, int timeout_ms, bool create, vz_lock *lock);
/* Releases the lock (closing the descriptor). Safe on a released lock or one set to VZ_LOCK_INIT. */
void vz_lock_release(vz_lock *lock);
/* The pid holding a lock on the file open as fd, or 0 if none or unknown (reads /proc/locks). */
pid_t vz_lock_holder(int fd, pid_t exclude_pid);

/* ---------------------------------------------------------------------------------------------
 * Versioned file header: the first 64 bytes of every binary file of the format.
 * All integers little-endian. header_checksum = XXH3-64 of the first 56 bytes.
 * body_checksum = XXH3-64 of every byte after the header (checked by verify, not on open, so
 * that opening a large mapped file costs nothing).
 * ------------------------------------------------------------------------------------------- */
#define VZ_HEADER_SIZE 64
#define VZ_MAGIC_VECTORS "VZVECS01"
#define VZ_MAGIC_INDEX   "VZHNSW01"
#define VZ_MAGIC_WAL     "VZWAL001"
#define VZ_MAGIC_CACHE   "VZCACHE1"

typedef struct vz_file_header {
	char magic[8];           /* one of VZ_MAGIC_* (not NUL-terminated) */
	uint32_t version;        /* format version of this file kind */
	uint32_t flags;          /* kind-specific */
	uint64_t generation;     /* checkpoint generation this file belongs to */
	uint64_t body_length;    /* bytes after the header */
	uint64_t body_checksum;  /* XXH3-64 of the body */
	uint64_t aux;            /* kind-specific (e.g. WAL: salt) */
	uint64_t aux2;           /* kind-specific (e.g. WAL: first sequence number) */
	uint64_t header_checksum;
} vz_file_header;

/* A collection's identity: 128 random bits fixed when it is created (getrandom), carried by
 * every file it writes so that a file of another collection is never taken for its own. All
 * zero: none (a collection of format version 1, until its next checkpoint gives it one). */
typedef struct vz_coll_id { unsigned char b[16]; } vz_coll_id;
bool vz_id_is_set(const vz_coll_id *id);
bool vz_id_equal(const vz_coll_id *a, const vz_coll_id *b);
/* A new random identity (getrandom; never all zero). */
void vz_id_new(vz_coll_id *id);
/* 32 lowercase hexadecimal digits and a NUL. */
void vz_id_hex(const vz_coll_id *id, char out[33]);
/* Parses 32 hexadecimal digits; VZ_ECORRUPT otherwise. */
int vz_id_parse(const char *hex, vz_coll_id *id);
/* The identity as two header words (first 8 bytes little-endian in a, last 8 in b), and back. */
void vz_id_to_words(const vz_coll_id *id, uint64_t *a, uint64_t *b);
void vz_id_from_words(uint64_t a, uint64_t b, vz_coll_id *id);
/* The identity a header of version 2 or later carries (vectors.bin, index.hnsw, terms.bin:
 * aux and aux2; wal.log: the body_length and body_checksum words, unused by a log). False for
 * version 1 and for cache.bin (whose body starts with it). */
bool vz_header_id(const vz_file_header *h, vz_coll_id *id);

/* Serialises h into out[VZ_HEADER_SIZE], computing header_checksum. */
void vz_header_encode(const vz_file_header *h, unsigned char out[VZ_HEADER_SIZE]);
/* Writes path atomically (temp file, fsync, rename, directory fsync) as h followed by body, with
 * h's body_length and body_checksum set from body: the one writer of whole checksummed files. */
int vz_write_checked_file(const char *path, vz_file_header *h, const void *body, size_t len);
/* The writing side of vz_header_decode for a file streamed into t behind a VZ_HEADER_SIZE
 * placeholder, once its body is written: sets h's magic, and aux and aux2 to id (NULL: left as
 * the caller set them), then writes the encoded header at offset 0 of t. The caller sets
 * version, flags, generation, body_length and body_checksum. vz_io_pwrite's errors. */
int vz_header_write_start(vz_tmpfile *t, const char *magic, const vz_coll_id *id, vz_file_header *h);
/* Parses and checks a header: length >= VZ_HEADER_SIZE, magic equal to want_magic, header
 * checksum, version <= max_version. VZ_ECORRUPT with a detail naming the field otherwise. */
int vz_header_decode(const unsigned char *buf, size_t len, const char *want_magic,
		     uint32_t max_version, vz_file_header *h);
/* Reads and checks the header of the file at path (only its first VZ_HEADER_SIZE bytes), as
 * vz_header_decode does; errors of open and read as VZ_ENOENT, VZ_EPERM, VZ_EIO. */
int vz_header_read(const char *path, const char *want_magic, uint32_t max_version, vz_file_header *h);

/* Little-endian load/store helpers for format code. */
static inline uint32_t vz_load_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t vz_load_u64(const unsigned char *p)
{
	return (uint64_t)vz_load_u32(p) | (uint64_t)vz_load_u32(p + 4) << 32;
}
static inline void vz_store_u32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v; p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16); p[3] = (unsigned char)(v >> 24);
}
static inline void vz_store_u64(unsigned char *p, uint64_t v)
{
	vz_store_u32(p, (uint32_t)v);
	vz_store_u32(p + 4, (uint32_t)(v >> 32));
}

/* ---------------------------------------------------------------------------------------------
 * Read-only file mapping (mmap) with the size checked.
 * ------------------------------------------------------------------------------------------- */
typedef struct vz_map {
	const unsigned char *data; /* NULL when size is 0 */
	size_t size;
} vz_map;

/* Maps the whole file read-only (O_NOFOLLOW). VZ_ENOENT if missing. Release with vz_unmap. */
int vz_map_file(const char *path, vz_map *m);
void vz_unmap(vz_map *m);
/* Lets the whole pages inside [from, to) of a read-only file mapping go from this process
 * (madvise MADV_DONTNEED): the page cache keeps them and a later read maps them again, but
 * they stop counting in the resident size. Never for anonymous or written memory: that
 * would read back as zeros. */
void vz_map_release(const void *from, const void *to);
/* A reader moving forward through a read-only file mapping: vz_release_behind lets go (with
 * vz_map_release) what lies 16 MiB or more behind `at`, so that a pass over gigabytes of
 * mapped rows does not leave them all counted in the resident size. Off (on false): nothing
 * is let go, for memory of one's own. A position before the last starts a new pass. */
typedef struct vz_releaser { bool on; const char *done; } vz_releaser;
void vz_release_behind(vz_releaser *r, const void *at);
/* Loads bytes [off, off+len) of the mapping into memory for a long run of reads: the whole
 * pages of the range are copied into anonymous memory and moved over the mapping in place
 * (mremap), so pointers into it stay valid and reads take no page faults, whatever becomes
 * of the page cache; the resident size grows by the range once (the copy goes a part at a
 * time). Ranges under 2 MiB, and any step that fails, fall back to entering the
 * pages into the page tables (MADV_POPULATE_READ). Never fails: it is only about speed. */
void vz_map_preload(const vz_map *m, size_t off, size_t len);
/* Asks for huge pages (huge true) or refuses them for a mapping of 2 MiB or more. A search
 * reads scattered vectors: with 4 KiB pages nearly every one costs a TLB miss and, in a new
 * process, a page fault; mapped 2 MiB at a time (the kernel reads the file into 2 MiB
 * page-cache folios; THP "madvise" mode is enough) an in-memory search ran 1.5x faster. But
 * each page touched counts whole in the resident size: refuse them for data read sparsely
 * (the float vectors of an sq8 collection, read only to re-rank). Only a hint. */
void vz_map_advise_huge(const vz_map *m, bool huge);
/* Enters the mapping's pages into the page tables, a first 2 MiB and then 32 MiB at a time,
 * while that is cheap: when the page cache holds the file in 2 MiB folios (one entry per
 * 2 MiB). It stops when the first part takes over 30 us or a later one over a millisecond
 * (4 KiB pages: 512 entries per 2 MiB); the rest then faults in as it is read. Only about
 * speed: true when every page was entered, false when it stopped. */
bool vz_map_prefault(const vz_map *m);
/* Re-reads a file just written (and fsynced) into the page cache as 2 MiB folios: drops its
 * clean pages, then reads it through a huge-page mapping. Pages written with write() sit in
 * small folios that every later mapping maps 4 KiB at a time; re-read this way, a search's
 * scattered reads take a TLB miss per 2 MiB instead of per vector. Costs one sequential read
 * of the file; files under 2 MiB are left alone. Only a hint: errors are ignored. */
void vz_cache_huge(const char *path);
/* Reads the whole file into a malloc'd buffer (NUL-terminated for convenience; *len excludes
 * the NUL), refusing files larger than max_len (VZ_ERANGE). Caller frees *out. */
int vz_read_file(const char *path, size_t max_len, char **out, size_t *len);
/* Like vz_read_file, for line-oriented text: a line longer than max_line bytes (0: no limit) is
 * refused with VZ_EDATA naming its number, as soon as it is read. */
int vz_read_file_lines(const char *path, size_t max_len, size_t max_line, char **out, size_t *len);

/* ---------------------------------------------------------------------------------------------
 * Names and paths
 * ------------------------------------------------------------------------------------------- */

/* True when name matches [A-Za-z0-9][A-Za-z0-9._-]{0,63}: a collection or project name that is
 * never a path. */
bool vz_name_valid(const char *name);

/* The length of the well-formed UTF-8 character at s (at most left bytes): 1 to 4, or 0 when
 * the bytes there are not one (overlong forms, surrogates and code points past U+10FFFF are not). */
size_t vz_utf8_char_len(const unsigned char *s, size_t left);
/* True when s[0..len) is well-formed UTF-8; else false with *bad the offset of the first bad byte. */
bool vz_utf8_valid(const char *s, size_t len, size_t *bad);

/* snprintf into a fixed buffer; VZ_ERANGE (with detail) when the result would be truncated. */
int vz_path_fmt(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The directory that holds path: path up to its last '/' ("/" for "/x", "." for a name without
 * one). VZ_ERANGE (with detail) when it does not fit in out. */
int vz_path_parent(const char *path, char *out, size_t cap);

/* Monotonic clock in seconds. */
double vz_now(void);

/* Writes s (len bytes) as a JSON string literal with quotes, escaping as RFC 8259 requires
 * (the CLI's output, and the {"text": ...} payload of text rows). */
void vz_json_string(FILE *out, const char *s, size_t len);


/* Reports step done of total of phase what (a string literal) to vz_set_progress's callback,
 * throttled (lib/progress.c). Cheap when no callback is set: loops call it for every step. */
void vz_progress(const char *what, uint64_t done, uint64_t total);

/* ===== sections below are added by the modules built on the foundation ===== */

/* ---------------------------------------------------------------------------------------------
 * Metrics and distance kernels (lib/distance.c). SIMD chosen at run time.
 * Internal distance: smaller is closer. euclidean: squared L2; cosine: 1 - dot (vectors are
 * L2-normalised on insert); dot_product: -dot.
 * ------------------------------------------------------------------------------------------- */

float vz_l2sq(const float *a, const float *b, size_t dim);
float vz_dot(const float *a, const float *b, size_t dim);
/* The internal distance of the metric (see above). */
float vz_distance(enum vz_metric m, const float *a, const float *b, size_t dim);
/* The kernel behind vz_distance for m, chosen now: the squared L2 distance for euclidean, the
 * dot product otherwise (vz_distance is 1 - dot for cosine, -dot for dot_product). For inner
 * loops, where two calls and a check per distance show on short vectors. */
typedef float (*vz_kernel)(const float *a, const float *b, size_t dim);
vz_kernel vz_kernel_for(enum vz_metric m);
/* The sq8 kernel for m at the chosen level: dim one-byte codes c against a query prepared
 * once per search. Euclidean: the sum of (q[i] - step[i] * c[i])^2, q being the query minus
 * the quantizer's minima. Otherwise: the sum of q[i] * c[i], q being the query times the steps
 * (step unused). */
typedef float (*vz_sq8_kernel)(const float *q, const float *step, const uint8_t *c, size_t dim);
vz_sq8_kernel vz_sq8_kernel_for(enum vz_metric m);
/* The squared L2 distance of two rows of dim one-byte codes, exact (an integer), at the
 * chosen level (AVX2 at avx2 and avx512, else scalar): what graph builds on codes measure. */
typedef uint32_t (*vz_u8_kernel)(const uint8_t *a, const uint8_t *b, size_t dim);
vz_u8_kernel vz_u8_l2_kernel(void);
/* The kernel of vz_kernel_for(m) with the second vector in binary16, computing exactly what
 * that kernel computes on the floats the halves hold (same operations, same order), or NULL
 * where there is none at the chosen level (only avx2 with F16C has one). */
typedef float (*vz_h16_kernel)(const float *a, const uint16_t *b, size_t dim);
vz_h16_kernel vz_h16_kernel_for(enum vz_metric m);
/* The score shown to users for an internal distance: cosine similarity for cosine, the dot
 * product for dot_product (higher is better), the L2 distance for euclidean (lower is better). */
float vz_score(enum vz_metric m, float distance);
/* L2-normalises v in place; VZ_EDATA when its norm is 0. */
int vz_normalize(float *v, size_t dim);

/* The kernel level in use: "avx512", "avx2", "sse", "scalar". */
const char *vz_simd_level(void);
/* Forces a kernel level (tests and benchmarks; also env VZ_SIMD). VZ_EINVAL when the CPU lacks it. */
int vz_simd_force(const char *level);

/* ===== section: hnsw (lib/hnsw_build.c, lib/hnsw_search.c, lib/hnsw_file.c) ===== */
typedef struct vz_hnsw_params { uint32_t m; uint32_t ef_construction; uint64_t seed; bool sq8; } vz_hnsw_params;
typedef struct vz_hit { uint32_t row; float distance; } vz_hit;
typedef struct vz_hnsw_builder vz_hnsw_builder;
/* An opened index.hnsw: pointers into the caller's mapping (borrowed), checked by vz_hnsw_open
 * to lie inside it. The layout is described at the top of lib/hnsw_file.c and in vz-format(5). */
typedef struct vz_hnsw_index {
	const unsigned char *data;
	size_t size;
	size_t count;
	uint32_t dim;
	enum vz_metric metric;
	uint32_t m, m0, max_level, entry_point;
	const uint8_t *levels;
	const uint32_t *links0, *upper_index, *upper;
	uint64_t upper_len;
	const float *sq_min, *sq_step;
	const uint8_t *sq_codes;
	/* set by vz_hnsw_pack: per node, its layer-0 links then (from the next 64-byte boundary)
	 * its vector, rows packed_stride u32 apart, 64-byte aligned;
	 * the vector in binary16 when packed_half (every value of the rows converts exactly) */
	uint32_t *packed;
	size_t packed_bytes, packed_stride;
	bool packed_half;
	/* sq8 re-ranking reads each float vector with pread from this descriptor (not owned), at
	 * rerank_off + row * dim * 4, rather than through the vectors argument: a mapped read
	 * maps 64 KiB around it (fault-around), so a batch of 1000 queries on 1M x 768 held
	 * 2.8 GB of vectors.bin resident for some 130 vectors read per query. -1 (what
	 * vz_hnsw_open sets): read the vectors argument. */
	int rerank_fd;
	uint64_t rerank_off;
	/* by_read (set by the collection for a few queries on a large index, false from
	 * vz_hnsw_open): a search of the unpacked float graph reads each link list and vector it
	 * visits with pread, from read_index_fd (the file mapped at data) and read_vec_fd (the
	 * file whose mapping starts at read_vec_base, where the vectors argument points), at the
	 * offset it has in its mapping: a page fault per scattered node, and the page-table
	 * entries torn down at exit, cost some three times a read (hnsw_internal.h). Descriptors
	 * not owned; the answers are the same bytes. A failed or short read fails the search. */
	bool by_read;
	int read_index_fd, read_vec_fd;
	const unsigned char *read_vec_base;
	/* the sq8 section is the codes of a float graph (header flags bit 1), not of an sq8
	 * collection: a search measures them, then re-ranks its whole beam on the exact floats
	 * (the vectors argument), at the ef it was given (vz_hnsw_search_on_codes) */
	bool float_codes;
} vz_hnsw_index;
int vz_hnsw_builder_new(uint32_t dim, enum vz_metric metric, const vz_hnsw_params *p,
                        const float *vectors, size_t capacity, vz_hnsw_builder **out);
int vz_hnsw_builder_from_index(const vz_hnsw_index *idx, const float *vectors, size_t capacity, vz_hnsw_builder **out);
/* Sets *out to the dim floats of one row: a pointer valid until the next call, into the
 * caller's memory or into scratch (dim floats the caller of the reader owns). A failure (an
 * error code, with vz_fail) fails the operation reading with it. */
typedef int (*vz_row_reader)(void *ctx, uint64_t row, uint32_t dim, float *scratch, const float **out);
/* Builds an sq8 index (p->sq8) on its codes instead of float vectors, so that the floats
 * never have to be in memory at once: distances between nodes are those of their decoded
 * codes. min and step are dim floats each, codes capacity * dim bytes (vz_sq8_encode), all
 * borrowed until vz_hnsw_builder_free and filled in for every row before it is added; the
 * vectors given to vz_hnsw_builder_new/_from_index are not read (pass NULL). rows, when not
 * NULL, gives a row's floats as it is inserted (once per row, from any builder thread, in
 * about ascending order), to be the exact query of its own search: a better graph than its
 * decoded codes give. Call it before vz_hnsw_builder_add. VZ_EINVAL for an index without sq8. */
int vz_hnsw_builder_use_codes(vz_hnsw_builder *b, const float *min, const float *step, const uint8_t *codes, vz_row_reader rows,
                              void *rows_ctx);
/* sq8 quantization: dimension d maps [min[d], min[d] + 255 * step[d]] onto codes 0..255.
 * start sets the ranges empty (lo and hi are dim floats), add widens them by one row,
 * finish turns them into minima (in lo) and steps (0 for a dimension with one value, or
 * with no rows, whose minimum is then 0). encode writes dim codes for one row, rounding to
 * the nearest code and clamping values outside the range. */
void vz_sq8_range_start(float *lo, float *hi, uint32_t dim);
void vz_sq8_range_add(float *lo, float *hi, const float *row, uint32_t dim);
void vz_sq8_range_finish(float *lo, const float *hi, float *step, uint32_t dim);
void vz_sq8_encode(const float *row, const float *min, const float *step, uint32_t dim, uint8_t *codes);
/* Floats past this many bytes are searched on sq8 codes while the graph is built. A build
 * waits mostly on the rows it measures coming from memory (at 100k x 128, 70% of the distance
 * kernel's time is its first load); codes are a quarter of the bytes. Smaller sets stay in
 * the cache and keep their floats. */
#define VZ_BUILD_CODES_MIN (2u << 20)
/* Every step made the largest of them: codes of one step, whose squared L2 distances are
 * that step squared times an exact integer (vz_u8_l2_kernel). */
void vz_sq8_step_uniform(float *step, uint32_t dim);
/* Builds a float graph (not sq8; euclidean, or cosine on unit rows) on codes of one step
 * (vz_sq8_step_uniform, capacity * dim bytes, kept by the caller until the builder is freed):
 * each node's codes against the others', and no floats read at all (vectors may be NULL).
 * Call it before vz_hnsw_builder_add. VZ_EINVAL for an sq8 or dot-product builder. */
int vz_hnsw_builder_on_codes(vz_hnsw_builder *b, const uint8_t *codes);
/* Whether a float graph of rows x dim with this metric is built on codes of one step: past
 * VZ_BUILD_CODES_MIN bytes of floats, euclidean or cosine. */
bool vz_hnsw_build_on_codes(enum vz_metric metric, uint64_t rows, uint32_t dim);
/* Whether the index.hnsw of a float graph of rows with this metric keeps sq8 codes of
 * its rows for searches (vz_hnsw_index.float_codes): from VZ_SEARCH_CODES_MIN_ROWS rows,
 * euclidean or cosine. A search then reads a byte per dimension of each node it measures
 * instead of four, and the floats only of the best of its beam: 1M x 128, one graph with and
 * without codes, 10,000 queries at ef 96, one thread, whole `vz query --batch` process CPU
 * 0.61x (3.39 -> 2.08 s, medians of 3 interleaved pairs at load 7), recall@10 0.9556 ->
 * 0.9526; 100k x 128 at ef 12 0.79x.
 * Fewer rows (Fashion-MNIST's 60,000, whose pixels pack exactly in half precision:
 * vz_hnsw_pack) keep the float search as measured. */
#define VZ_SEARCH_CODES_MIN_ROWS 65536u
bool vz_hnsw_search_on_codes(enum vz_metric metric, uint64_t rows);
/* Keeps the codes of a float graph built on them (vz_hnsw_builder_on_codes), of ranges min
 * and step (dim floats each, borrowed until vz_hnsw_builder_free), for vz_hnsw_builder_write
 * to write when vz_hnsw_search_on_codes says so (without them, it encodes the floats given to
 * the builder). */
void vz_hnsw_builder_keep_codes(vz_hnsw_builder *b, const float *min, const float *step);
int vz_hnsw_builder_add(vz_hnsw_builder *b, size_t first, size_t count, int threads);
/* Writes the index into out: a version 2 header carrying id (NULL: none) and generation. */
int vz_hnsw_builder_write(vz_hnsw_builder *b, vz_tmpfile *out, const vz_coll_id *id, uint64_t generation);
void vz_hnsw_builder_free(vz_hnsw_builder *b);
int vz_hnsw_open(const unsigned char *data, size_t size, uint32_t dim, enum vz_metric metric,
                 size_t expect_rows, vz_hnsw_index *idx);
int vz_hnsw_search(const vz_hnsw_index *idx, const float *vectors, const float *query, size_t k, size_t ef,
                   bool (*skip)(void *ctx, uint32_t row), void *ctx, vz_hit *out, size_t *nout);
int vz_hnsw_verify(const vz_hnsw_index *idx);
/* Frees what vz_hnsw_search keeps per thread (its visited set): for a thread that searched and
 * is about to end. */
void vz_hnsw_search_thread_done(void);
/* Copies each node's layer-0 links and its vector (from vectors, the collection's rows) side
 * by side into anonymous memory, hnswlib's layout, which later searches of idx
 * use: a visit then reads one place instead of two (two TLB misses and two cache misses). For
 * long batches. When mapped is true, the index's data and vectors are read-only file
 * mappings, and their pages are let go as they are copied (MADV_DONTNEED), so the resident
 * size holds them once; never pass true for memory of your own (it would be zeroed). Not for
 * sq8 indexes (VZ_OK, nothing done). VZ_ENOMEM when the memory cannot be had (the index keeps
 * working as it was). Undo with vz_hnsw_unpack before idx or the vectors go away. */
int vz_hnsw_pack(vz_hnsw_index *idx, const float *vectors, bool mapped);
void vz_hnsw_unpack(vz_hnsw_index *idx);
int vz_exact_search(const float *vectors, size_t n, uint32_t dim, enum vz_metric metric, const float *query,
                    size_t k, bool (*skip)(void *ctx, uint32_t row), void *ctx, vz_hit *out, size_t *nout);

/* ===== section: input formats (lib/input.c) ===== */
/* A format may carry a compression (VZ_FMT_ZSTD or VZ_FMT_GZIP or'ed in: "jsonl.zst" parses
 * to VZ_FMT_JSONL | VZ_FMT_ZSTD); VZ_FMT_BASE strips it. vz_batch_read also knows a compressed
 * file by its suffix (.zst, .gz: the format is then the suffix before it) or its magic bytes. */
enum vz_input_format { VZ_FMT_AUTO = 0, VZ_FMT_JSONL, VZ_FMT_FVECS, VZ_FMT_NPY, VZ_FMT_CSV, VZ_FMT_ZSTD = 0x100, VZ_FMT_GZIP = 0x200 };
#define VZ_FMT_BASE(f) ((enum vz_input_format)((f) & 0xff))
enum vz_op { VZ_OP_INSERT = 1, VZ_OP_UPDATE = 2, VZ_OP_DELETE = 3, VZ_OP_UPSERT = 4 };
int vz_input_format_parse(const char *name, enum vz_input_format *out);
enum vz_input_format vz_input_format_from_path(const char *path);
typedef struct vz_batch {
	size_t n;
	uint32_t dim;
	float *vectors;  /* row i at vz_batch_row(b, i) */
	size_t stride;   /* floats from one row to the next; 0: dim (packed) */
	vz_map map;      /* VZ_READ_MAPPED: the input file, vectors pointing into it (read-only) */
	char **ids;
	char **payloads;
	size_t *payload_lens;
	char **texts;
	enum vz_op *ops;
	size_t *lines;
} vz_batch;
/* VZ_READ_MAPPED: a regular .fvecs or .npy file is left mapped, its rows used where they lie
 * (b->map, b->stride) rather than copied: a 3 GB input then costs no memory of its own, and the
 * pages read to check it are let go. The file must not change until vz_batch_free (a
 * truncated mapping faults). Other inputs are read as without the flag. */
/* VZ_READ_QUERIES: query vectors (`query --batch`): a JSON line may be a bare array, "id" is
 * optional (ids[i] NULL without one; always NULL for .fvecs and .npy rows) and may repeat. */
enum vz_read_flags { VZ_READ_OPS = 1, VZ_READ_TEXT_OK = 2, VZ_READ_IDS_ONLY = 4, VZ_READ_MAPPED = 8, VZ_READ_QUERIES = 16 };
/* Row i's floats in a batch with vectors (packed, or stride apart when left in a mapping). */
static inline const float *vz_batch_row(const vz_batch *b, size_t i)
{
	return b->vectors + i * (b->stride ? b->stride : b->dim);
}
int vz_batch_read(const char *path, enum vz_input_format fmt, uint32_t expect_dim, unsigned flags,
                  uint64_t id_base, vz_batch *out);
int vz_batch_parse(const char *name, const unsigned char *data, size_t len, enum vz_input_format fmt,
                   uint32_t expect_dim, unsigned flags, uint64_t id_base, vz_batch *out);
void vz_batch_free(vz_batch *b);
int vz_parse_vector(const char *text, float **out, uint32_t *dim);
/* Compressed input (lib/decompress.c). vz_compression_of: by path's suffix (.zst, .gz), else by
 * data's magic bytes (either may be NULL). vz_decompress: the whole stream into a malloc'd,
 * NUL-terminated out; VZ_EDATA naming name and the offset for a damaged or cut-short stream,
 * VZ_ERANGE past max bytes, VZ_ENOMEM. */
enum vz_compression { VZ_COMP_NONE, VZ_COMP_ZSTD, VZ_COMP_GZIP };
enum vz_compression vz_compression_of(const char *path, const unsigned char *data, size_t len);
int vz_decompress(const char *name, enum vz_compression comp, const unsigned char *in, size_t len, size_t max,
                  char **out, size_t *olen);

/* ===== section: collections and WAL (lib/wal.c, lib/collection.c) ===== */

/* A collection directory holds: metadata.json (configuration, checkpoint generation, WAL
 * position, counts and the checksum of each file: the commit point of a checkpoint),
 * vectors.bin (rows, ids, payloads), index.hnsw (the graph), wal.log (dynamic only), cache.bin
 * (workspace only), LOCK (the flock file; never deleted while the collection exists). */

/* The longest input line read (JSON lines, CSV): a payload, the longest vector and an id fit. */
#define VZ_MAX_INPUT_LINE ((size_t)64 << 20)

/* Parses a configuration object as written in metadata.json and dump headers (every field
 * required; validated). VZ_ECORRUPT with detail otherwise. */
int vz_config_from_json_text(const char *text, size_t len, vz_config *c);


/* ===== section: export forms of other engines (lib/foreign.c) ===== */

/* `vz export --to TARGET` writes a directory: vz.json (the dump header), the engine's
 * definition of the table (table.json, collection.json, schema.json or schema.sql, carrying
 * the metric in the engine's own words) and the rows in the form its bulk import takes. */
enum vz_export_target { VZ_TO_LANCEDB, VZ_TO_QDRANT, VZ_TO_MILVUS, VZ_TO_PGVECTOR, VZ_TO_COUNT };
const char *vz_export_target_name(enum vz_export_target t);
const char *vz_export_definition_file(enum vz_export_target t);
/* VZ_EINVAL with detail for an unknown name. */
int vz_export_target_parse(const char *name, enum vz_export_target *t);
/* The metric as the engine names it (LanceDB "cosine", Qdrant "Euclid", Milvus "IP", pgvector
 * "vector_cosine_ops"...). */
const char *vz_export_metric(enum vz_export_target t, enum vz_metric m);
/* Reads an export directory back (any of the four forms, told apart by the definition file):
 * the configuration (vz.json when present, else the defaults with the definition's dimension
 * and metric) and every row. VZ_EDATA naming the file and row for anything malformed. */
int vz_export_read(const char *dir, vz_config *cfg, vz_batch *b);


/* Takes the collection's lock (dir/LOCK) shared or exclusive, waiting at most timeout_ms;
 * VZ_ENOENT when the collection does not exist (or vanished while waiting, e.g. dropped). */
int vz_collection_lock(const char *dir, enum vz_lock_mode mode, int timeout_ms, vz_lock *lock);
/* Checks the body checksum of vectors.bin (every byte of the checkpoint's rows), for a reader
 * about to read them all (dump): damage is then an error, not rows printed wrong. VZ_ECORRUPT
 * naming the file. */
int vz_collection_check_rows(vz_collection *c);
/* Sets the automatic checkpoint thresholds of the dynamic collection in dir (0: leave that one
 * as it is) in its metadata.json, under its exclusive lock (lib/thresholds.c). VZ_EPERM for a
 * workspace collection, VZ_EINVAL for a value out of range. */
int vz_collection_set_thresholds(const char *dir, uint32_t ops, uint32_t seconds, int lock_timeout_ms);

/* One row to write. vector has cfg->dim floats (normalised by the writer for cosine). */
typedef struct vz_row {
	const char *id;
	size_t id_len;
	const float *vector;
	const char *payload; /* raw JSON text, or NULL */
	size_t payload_len;
} vz_row;

/* Writes a complete checkpoint of rows into dir (which must exist and be locked by the
 * caller, or be private to it): vectors.bin and index.hnsw (built with `threads` threads; 1
 * gives a byte-identical result for the same input), then metadata.json as the commit point.
 * extra_json is text inserted as extra members of metadata.json's top-level object (e.g.
 * "\"workspace\":{...}"), or NULL. Used by workspace builds, bulk loads and restores.
 * defer_graph: no index.hnsw (metadata.json lists none); vz_checkpoint_dir builds it later. */
int vz_collection_write_snapshot(const char *dir, const vz_config *cfg, const vz_row *rows, size_t n,
				 int threads, uint64_t generation, const char *extra_json, bool defer_graph);
/* The same, calling before_commit(ctx) when the data files are written and before the commit:
 * its error (nothing committed then) is returned. For a caller that writes files of its own
 * meanwhile that must be complete when the snapshot is committed (a workspace's postings). */
int vz_collection_write_snapshot_then(const char *dir, const vz_config *cfg, const vz_row *rows, size_t n, int threads,
				      uint64_t generation, const char *extra_json, bool defer_graph, int (*before_commit)(void *ctx),
				      void *ctx);

/* Writes the next snapshot of the workspace collection in dir (locked by the caller) as one
 * more segment (seg-G.vec, seg-G.hnsw: coll_segment.c) beside its committed rows (the base's,
 * then each segment's), which are not written again: the rows of add[], then a tombstone row
 * for each row numbered in dead[] whose id no row of add[] takes over. *first_new gets the row
 * number of add[0] in that sequence. With VZ_MAX_SEGMENTS segments already, they are folded
 * into a new base instead (every row keeps its number, the base's graph is extended). VZ_EINVAL
 * when there is no graph to extend (no rows, no usable index.hnsw, sq8) or a dead row is out of
 * range; VZ_ECORRUPT when a file kept is damaged (body checksums): write a full snapshot
 * instead. */
int vz_collection_extend_snapshot(const char *dir, const uint64_t *dead, size_t n_dead, const vz_row *add, size_t n_add,
				  int threads, const char *extra_json, uint64_t *first_new);

/* Loads what searches read into memory, as hnswlib's load does: each node's links and vector
 * side by side (vz_hnsw_pack; an sq8 index is loaded whole instead, with
 * vz_map_preload). A single query is fastest without: it visits a few thousand scattered
 * vectors of the mapping. A long batch, whose queries together visit most of them, runs
 * faster with it; the load costs about what 1000 queries gain. */
void vz_collection_preload(vz_collection *c);
/* Readies c for nq queries at ef (0: the collection's ef_search) by what pays:
 * vz_collection_preload when the batch visits about as many nodes as there are (a query visits
 * some 16 x ef); else a prefault, which enters the pages of index.hnsw and of vectors.bin (not
 * the float vectors of an sq8 collection) into the page tables ahead while that is cheap
 * (vz_map_prefault: a first query on a million rows otherwise takes a hundred page faults at
 * some 40 us each in a VM; entered in one call they cost 1.4 ms, 6.7 -> 4.2 ms with the
 * query). But the base graph is read with pread (vz_hnsw_index.by_read; 10M x 128, one query:
 * 7.8 -> 3.3 ms of CPU) when the batch visits under a 32nd of the rows and index.hnsw and
 * vectors.bin are over 1 GiB together, or when the prefault of index.hnsw stops (its page
 * cache in 4 KiB pages) and the visits are scattered over vectors.bin (coll_query.c). A
 * thousand queries visit most of a million rows but a quarter of ten million: loading those
 * whole took 7 GiB and longer than the queries. */
void vz_collection_warm(vz_collection *c, size_t nq, size_t ef);

/* ---- the write-ahead log (lib/wal.c) ----
 * wal.log: a vz_file_header (magic VZ_MAGIC_WAL; aux = salt, a random 64-bit value chosen when
 * the log is (re)started; aux2 = the sequence number of the first record), then records, each
 * 8-byte aligned:
 *   u32 length of the payload, u16 type, u16 flags, u64 sequence, u64 transaction,
 *   u64 previous record's checksum (the salt for the first), u64 checksum, payload, zero padding.
 * checksum = XXH3-64 seeded with the salt over the first 32 header bytes and the payload. Each
 * record is checkable alone (salvage can find the next good one); the previous-checksum chain and
 * the sequence numbers detect stale, reordered or foreign records. */
enum vz_wal_type {
	VZ_WAL_CREATE = 1, /* payload: the configuration as JSON */
	VZ_WAL_DROP = 2,   /* DeleteCollection */
	VZ_WAL_INSERT = 3, /* u16 id length, id, u32 dim, dim floats, u32 payload length, payload */
	VZ_WAL_UPDATE = 4, /* as insert */
	VZ_WAL_DELETE = 5, /* u16 id length, id */
	VZ_WAL_BEGIN = 6,  /* u64 wall-clock milliseconds, u32 operations in the transaction */
	VZ_WAL_COMMIT = 7, /* u32 operations in the transaction */
};
#define VZ_WAL_RECORD_HEADER 40

/* Name of a record type ("insert"). */
const char *vz_wal_type_name(uint32_t type);

typedef struct vz_wal_entry {
	uint64_t offset;     /* of the record in wal.log */
	uint32_t type;
	uint64_t seq, txn;
	uint32_t length;     /* payload bytes */
	uint64_t checksum;
	const unsigned char *payload; /* into the log's mapping */
	bool checksum_ok;    /* false only in salvage listings of damaged records */
} vz_wal_entry;

enum vz_wal_scan_mode {
	VZ_WAL_SCAN_STOP = 1,    /* stop at the first bad record (point in time) */
	VZ_WAL_SCAN_SALVAGE = 2, /* skip bad bytes and keep every record that checks out */
};

typedef struct vz_wal_log {
	vz_map map;
	vz_file_header header;
	vz_wal_entry *entries; /* good records in log order */
	size_t n;
	uint64_t valid_end;    /* offset just past the last good record before any damage */
	bool damaged;          /* something after valid_end is not a good record */
	uint64_t damage_offset;
	char damage_what[160];
	bool torn_tail;        /* the damage is only a tail: in the last transaction, no later one follows */
	size_t good_after_damage; /* good records found after the damage (salvage scan) */
	uint64_t bytes_lost;   /* bytes of the log not covered by good records */
} vz_wal_log;

/* Maps and scans wal.log. A missing file is VZ_ENOENT; a bad header is VZ_ECORRUPT. Damage
 * after the header is not an error: it is described in the result. Free with vz_wal_free. */
int vz_wal_scan(const char *path, enum vz_wal_scan_mode mode, vz_wal_log *out);
void vz_wal_free(vz_wal_log *w);


/* The fields of an insert, update or delete record (pointers into the record: borrowed). */
typedef struct vz_wal_op {
	const char *id;
	size_t id_len;
	uint32_t dim;
	const unsigned char *vector; /* dim floats, possibly unaligned */
	const char *payload;
	size_t payload_len;
	bool has_payload;
} vz_wal_op;
/* Decodes an insert/update/delete record; VZ_ECORRUPT (naming the offset) when malformed. */
int vz_wal_decode_op(const vz_wal_entry *e, vz_wal_op *op);

/* One transaction of a scanned log, as vz_wal_next_txn finds it: entries[begin] is its begin
 * record, entries[end] its commit record (end == n: the log ends before its commit). The one
 * rule for whole transactions: complete when the commit is there, carries the same
 * transaction, no sequence number is missing between the two and the commit counts as many
 * operations as lie between them (a salvage scan can skip a damaged record in the middle, and
 * half a transaction is never applied nor reported as replayed). Only complete transactions
 * are replayed. Records from `stray` up to `begin` belong to no transaction (a commit or an
 * operation without its begin): no transaction applies them. */
typedef struct vz_wal_txn {
	size_t stray, begin, end;
	uint64_t txn;
	bool complete;
	bool ended_by_begin;  /* incomplete because another begin came before any commit */
	double when;          /* unix seconds of the begin record, 0 when it carries none */
} vz_wal_txn;
/* Steps to the next transaction of w whose begin record's sequence number is above after_seq
 * (records at or below it are folded). *pos starts at 0. False at the end of the log; then
 * t->stray..w->n are the records left after the last transaction (t->begin == w->n). */
bool vz_wal_next_txn(const vz_wal_log *w, uint64_t after_seq, size_t *pos, vz_wal_txn *t);


/* ===== section: workspace (lib/workspace.c, lib/ws_yaml.c, lib/embed.c) ===== */

/* The built-in text embedding (lib/embed.c), vz-workspace(5) and vz-format(5), terms.bin. Terms are runs of ASCII letters
 * and digits or non-ASCII bytes, lowercased, lightly stemmed, 2..64 bytes, common English
 * function words left out; each is hashed with XXH3 into a bucket (hash % dim) with a sign (the top bit). A document vector holds the BM25
 * term-frequency saturation of its terms (k1 1.2, b 0.75 against a fixed reference length of
 * 256 terms), so it never depends on the rest of the corpus; a query vector holds the idf of
 * its terms from the document frequencies (df) of the collection. Both are L2-normalised. */
#define VZ_MAGIC_TERMS "VZTERMS1"
typedef struct vz_bm25 vz_bm25;

/* An empty model (no documents) of dimension dim. Free with vz_bm25_free (NULL is fine). */
int vz_bm25_new(uint32_t dim, vz_bm25 **out);
void vz_bm25_free(vz_bm25 *m);
uint32_t vz_bm25_dim(const vz_bm25 *m);
/* Number of documents counted in the df table. */
uint64_t vz_bm25_documents(const vz_bm25 *m);
/* Counts text as one more document (each distinct term's df + 1) / one fewer (df - 1, never
 * below 0). Dynamic collections call add on insert --text and remove on delete of a text row. */
int vz_bm25_add_document(vz_bm25 *m, const char *text, size_t len);
int vz_bm25_remove_document(vz_bm25 *m, const char *text, size_t len);
/* The document vector of text into out[dim]. VZ_EDATA when the text has no terms. Does not
 * change the df table (call vz_bm25_add_document for that). */
int vz_embed_text(const vz_bm25 *m, const char *text, size_t len, float *out);
/* The query vector of text (idf weights from m) into out[dim]. VZ_EDATA when no terms. */
int vz_bm25_embed_query(const vz_bm25 *m, const char *text, size_t len, float *out);
/* terms.bin: the df table of a dynamic collection (vz_file_header VZ_MAGIC_TERMS, checksummed
 * body; parsed as untrusted input). load: VZ_ENOENT when missing, VZ_ECORRUPT when damaged.
 * save: atomic replace. */
int vz_bm25_load(const char *path, vz_bm25 **out);
int vz_bm25_save(const vz_bm25 *m, const char *path);
/* The model of the collection in collection_dir: the df table of its cache.bin (workspace) or
 * of its terms.bin (dynamic), or an empty model of dimension dim when it has neither.
 * VZ_ECORRUPT when the stored dimension is not dim. Free with vz_bm25_free. */
int vz_bm25_open_dir(const char *collection_dir, uint32_t dim, vz_bm25 **out);
/* Saves m as collection_dir/terms.bin (dynamic collections; atomic replace). The intended use
 * by `insert --text` under the collection's exclusive lock: vz_bm25_open_dir, then per text
 * vz_bm25_add_document + vz_embed_text (the row's vector), write the rows, then
 * vz_bm25_save_dir. A crash in between only leaves the df counts (query weights) slightly off. */
int vz_bm25_save_dir(const vz_bm25 *m, const char *collection_dir);
/* Embeds a query for the collection in collection_dir (vz_bm25_open_dir + vz_bm25_embed_query). */
int vz_embed_query(const char *collection_dir, const char *text, size_t len, float *out, uint32_t dim);

/* Text search (lib/textindex.c; vz-format(5), postings.bin): postings.bin, an inverted index of a
 * workspace collection (layout in lib/textindex.c and vz-format(5)), ranked with BM25F over
 * each file's path and name, title and body. Terms: runs of ASCII letters and digits or
 * non-ASCII bytes, split further at camelCase changes (the whole word is a term too),
 * lowercased, 2..64 bytes, common English function words left out; no stemming (it measured
 * worse: see vz-format(5)). */
#define VZ_MAGIC_POSTINGS "VZPOST01"
/* vz_text_weights and VZ_TEXT_WEIGHTS_DEFAULT: in include/vz.h (part of vz_ws_collection) */
typedef struct vz_text_chunk {
	const char *text;
	uint32_t len;
	uint32_t line;  /* 1-based line of its first byte */
	uint64_t start; /* byte offset in the file */
	uint32_t terms; /* set by vz_text_index_write */
} vz_text_chunk;
typedef struct vz_text_doc {
	const char *path;    /* sorted, distinct */
	uint64_t hash;       /* of the content: identical files are grouped in results */
	const char *title;   /* the title field: see vz_text_title */
	uint32_t title_len;
	vz_text_chunk *chunks;
	uint32_t n_chunks;
	uint64_t size;       /* of the file, and its modification time: the stat-first check */
	int64_t mtime_ns;
	uint32_t len[3];     /* set by vz_text_index_write */
	const struct vz_text_pre *pre; /* its tokens, counted by vz_text_tokens_add, or NULL */
} vz_text_doc;
/* Tokenizing while the files are read, on each reading thread: a thread's tokens state keeps
 * the tokens of the docs it was given (its own term table and postings) until
 * vz_text_index_write* takes them over (doc.pre), with no tokenizing there: the same bytes. */
typedef struct vz_text_tokens vz_text_tokens;
typedef struct vz_text_pre {
	vz_text_tokens *t;
	size_t fp0, fp1, cp0, cp1; /* its file and chunk postings in t */
	uint32_t chunk0, chunks;   /* its first chunk in t, and how many */
	uint32_t len[3];           /* terms in its path, title and body fields */
} vz_text_pre;
/* VZ_ENOMEM. */
int vz_text_tokens_new(vz_text_tokens **out);
void vz_text_tokens_free(vz_text_tokens *t);
/* Counts the tokens of d (path, title and chunks, as vz_text_index_write would) into t, and
 * where they are into *pre. Not thread-safe for one t. VZ_ENOMEM, VZ_EINVAL (more than 2^32
 * files or chunks in t; then t takes no more). */
int vz_text_tokens_add(vz_text_tokens *t, vz_text_doc *d, vz_text_pre *pre);
/* The length of the title field of a file whose first bytes are t: everything up to 300 bytes
 * past the start of its title line (the line after a NAME line as in man pages, the first
 * Markdown heading, else the first non-blank line), so the lead of the text counts too. */
size_t vz_text_title(const char *t, size_t len);
/* Writes postings.bin for docs at path (atomic replace, through lib/io.c). */
int vz_text_index_write(const char *path, vz_text_doc *docs, size_t n, const vz_text_weights *w, uint64_t generation, uint64_t config_hash);
/* The same, taking the postings of doc i from file from[i] of old when from[i] >= 0 (the same
 * path, content hash and chunks; old written by this tokenizer) instead of tokenizing its text
 * again: the same bytes, in a fraction of the time. VZ_ECORRUPT when old does not hold
 * together (tokenize every file then), VZ_ENOMEM, VZ_EIO. */
typedef struct vz_text_index vz_text_index;
int vz_text_index_write_from(const char *path, const vz_text_index *old, const int64_t *from, vz_text_doc *docs, size_t n,
			     const vz_text_weights *w, uint64_t generation, uint64_t config_hash);
/* Maps postings.bin and checks its header and section table (not the body checksum). */
int vz_text_index_open(const char *path, vz_text_index **out);
/* Opens the postings.bin of collection directory dir that belongs to its committed generation
 * (or postings.bin.new left by a build interrupted after its commit). VZ_ENOENT when there is
 * none; VZ_ECORRUPT when damaged or of another generation. */
int vz_text_index_open_dir(const char *dir, uint64_t generation, vz_text_index **out);
/* An index of docs in memory, ranked the same way (dynamic text collections). */
int vz_text_index_build(vz_text_doc *docs, size_t n, const vz_text_weights *w, vz_text_index **out);
void vz_text_index_close(vz_text_index *x);
uint64_t vz_text_index_generation(const vz_text_index *x);
uint64_t vz_text_index_files(const vz_text_index *x);
vz_text_weights vz_text_index_weights(const vz_text_index *x);
/* The configuration hash of the workspace collection it was built for (header aux). */
uint64_t vz_text_index_config(const vz_text_index *x);
typedef struct vz_text_file_stat {
	const char *path;
	size_t path_len;
	uint64_t size;
	int64_t mtime_ns;
	uint64_t hash;
	uint32_t chunks;
} vz_text_file_stat;
/* What the file table says of file i (in path order). */
int vz_text_index_file(const vz_text_index *x, uint32_t i, vz_text_file_stat *out);
/* Full check (body checksum, every record); *generation gets the header's. */
int vz_text_index_check(const char *path, uint64_t *generation);
typedef struct vz_text_hit {
	double score;
	uint32_t file;       /* index in the file table */
	uint32_t chunk;      /* the chunk's index in its file: its row id is PATH#CHUNK */
	uint32_t line;       /* 1-based first line of the chunk */
	const char *path;    /* into the mapping */
	size_t path_len;
	uint32_t *same;      /* files identical to this one (grouped under it) */
	uint32_t n_same;
} vz_text_hit;
/* The k best files (best chunk each, identical files grouped) or with chunks the k best chunks
 * for query. VZ_EDATA when the query has no terms. Free with vz_text_hits_free. */
int vz_text_search(const vz_text_index *x, const char *query, size_t qlen, size_t k, bool chunks, vz_text_hit **out, size_t *n);
void vz_text_hits_free(vz_text_hit *h, size_t n);
int vz_text_file_path(const vz_text_index *x, uint32_t file, const char **path, size_t *len);
/* Offset in text of the start of its passage that matches query best: of the windows of 320
 * bytes from a term that is also a term of query, the one with the most distinct query terms,
 * then the most matches, the earliest of equals (0 when none). Snippets and path:LINE show it. */
size_t vz_text_best_match(const char *text, size_t len, const char *query, size_t qlen);

/* True for the built-in embedding models: bm25 and the native ones of the workspace file
 * (native_bow, native_hash, native_ngram; lib/embed_native.c). */
bool vz_embedding_known(const char *name);

/* Returns VZ_EPERM with the detail "p/docs is a workspace collection: edit
 * /path/vectorize-workspace.yml and run vz build" (the file found from the current directory
 * upward; "vectorize-workspace.yml" when none is found). */
int vz_workspace_readonly_error(const char *collection_name);

/* Sets *changed when the effective configuration of the collection in collection_dir (a
 * data/workspace/P/C directory) in the workspace file yaml_path differs from the one it was
 * built with (cache.bin), or the collection is no longer in the file. */
int vz_workspace_config_changed(const char *collection_dir, const char *yaml_path, bool *changed);

/* Glob match of a relative path: `**` any number of whole segments, `*` and `?` within one
 * segment, `[...]` a class (`[!...]` negated). A pattern without '/' matches the base name. */
bool vz_glob_match(const char *pattern, const char *path);



/* The safety backup written before a collection is dropped or replaced: one collection into
 * dir (DATA_DIR/backups when NULL) as vz-NAME-<timestamp>.tar.zst ('/' of a workspace name
 * becomes '.'), keeping the newest keep of that collection's safety backups (0: all). */
int vz_backup_collection_to_dir(const char *data_dir, const char *name, const char *dir, int keep,
				int lock_timeout_ms, char *written_path, size_t cap);


/* vz_backup_verify over an archive in memory, without the collection checks (fuzzing). */
int vz_backup_verify_buffer(const void *data, size_t len, vz_verify_cb cb, void *ctx, int *problems);


/* ===== end of sections ===== */

#endif /* VZ_PRIVATE_H */
