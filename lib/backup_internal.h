/* backup_internal.h: what the files of backups share (lib/backup_libarchive.c, backup_archive.c,
 * backup_manifest.c, backup_verify.c, backup_write.c, backup_restore.c): the archive's
 * structures and the functions one file calls in another; not part of the API. */
#ifndef VZ_BACKUP_INTERNAL_H
#define VZ_BACKUP_INTERNAL_H

#include "internal.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <dlfcn.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include "zstd_load.h"

/* libarchive is loaded with dlopen when a backup is first read or written, not linked: it pulls
 * in a dozen libraries (libxml2, ICU, nettle, ...) whose loading cost every vz process about
 * 9 ms at start, a query included. The calls below go through these pointers. */
#define VZ_ARCHIVE_FUNCS(X) X(archive_entry_filetype) X(archive_entry_free) X(archive_entry_hardlink) X(archive_entry_new) X(archive_entry_pathname) X(archive_entry_set_filetype) X(archive_entry_set_mtime) X(archive_entry_set_pathname) X(archive_entry_set_perm) X(archive_entry_set_size) X(archive_entry_size) X(archive_entry_size_is_set) X(archive_entry_sparse_count) X(archive_entry_symlink) X(archive_error_string) X(archive_read_data) X(archive_read_free) X(archive_read_new) X(archive_read_next_header) X(archive_read_open) X(archive_read_support_format_tar) X(archive_set_error) X(archive_write_close) X(archive_write_data) X(archive_write_free) X(archive_write_header) X(archive_write_new) X(archive_write_open) X(archive_write_set_format_pax_restricted) X(archive_write_set_bytes_per_block)
struct vz_bk_libarchive {
#define VZ_ARCHIVE_POINTER(f) __typeof__(f) *f;
	VZ_ARCHIVE_FUNCS(VZ_ARCHIVE_POINTER)
#undef VZ_ARCHIVE_POINTER
	bool loaded;
	char error[200];
};
extern struct vz_bk_libarchive vz_bk_libarchive;

/* VZ_OK once libarchive is loaded, else VZ_EOS naming why (the package libarchive13 missing). */
int vz_bk_libarchive_load(void);

/* lib/backup_libarchive.c fills the pointers: it defines VZ_BK_LIBARCHIVE_LOADER */
#ifndef VZ_BK_LIBARCHIVE_LOADER
#define archive_entry_filetype (vz_bk_libarchive.archive_entry_filetype)
#define archive_entry_free (vz_bk_libarchive.archive_entry_free)
#define archive_entry_hardlink (vz_bk_libarchive.archive_entry_hardlink)
#define archive_entry_new (vz_bk_libarchive.archive_entry_new)
#define archive_entry_pathname (vz_bk_libarchive.archive_entry_pathname)
#define archive_entry_set_filetype (vz_bk_libarchive.archive_entry_set_filetype)
#define archive_entry_set_mtime (vz_bk_libarchive.archive_entry_set_mtime)
#define archive_entry_set_pathname (vz_bk_libarchive.archive_entry_set_pathname)
#define archive_entry_set_perm (vz_bk_libarchive.archive_entry_set_perm)
#define archive_entry_set_size (vz_bk_libarchive.archive_entry_set_size)
#define archive_entry_size (vz_bk_libarchive.archive_entry_size)
#define archive_entry_size_is_set (vz_bk_libarchive.archive_entry_size_is_set)
#define archive_entry_sparse_count (vz_bk_libarchive.archive_entry_sparse_count)
#define archive_entry_symlink (vz_bk_libarchive.archive_entry_symlink)
#define archive_error_string (vz_bk_libarchive.archive_error_string)
#define archive_read_data (vz_bk_libarchive.archive_read_data)
#define archive_read_free (vz_bk_libarchive.archive_read_free)
#define archive_read_new (vz_bk_libarchive.archive_read_new)
#define archive_read_next_header (vz_bk_libarchive.archive_read_next_header)
#define archive_read_open (vz_bk_libarchive.archive_read_open)
#define archive_read_support_format_tar (vz_bk_libarchive.archive_read_support_format_tar)
#define archive_set_error (vz_bk_libarchive.archive_set_error)
#define archive_write_close (vz_bk_libarchive.archive_write_close)
#define archive_write_data (vz_bk_libarchive.archive_write_data)
#define archive_write_free (vz_bk_libarchive.archive_write_free)
#define archive_write_header (vz_bk_libarchive.archive_write_header)
#define archive_write_new (vz_bk_libarchive.archive_write_new)
#define archive_write_open (vz_bk_libarchive.archive_write_open)
#define archive_write_set_format_pax_restricted (vz_bk_libarchive.archive_write_set_format_pax_restricted)
#define archive_write_set_bytes_per_block (vz_bk_libarchive.archive_write_set_bytes_per_block)
#endif

#define CHUNK (1u << 20)
#define STAGE_PREFIX ".vztmp.stage."

/* The end-of-backup trailer: a zstd skippable frame (ignored by zstd and tar) holding the XXH3 of
 * every compressed byte before it. zstd's own frame checksum covers the decompressed content
 * only; this one also catches damage that decodes to the same content (a flipped unused bit of a
 * frame header) and a stream cut exactly between two frames. Layout, little-endian: u32 magic,
 * u32 payload size (24), "VZBK", u32 version (1), u64 compressed length, u64 XXH3-64. */
#define TRAILER_MAGIC 0x184D2A5Au
#define TRAILER_SIZE 32

/* ---- the staging directory: DIR/.vztmp.stage.XXXX, owned while DIR/.../.owner is flocked ----
 * A crashed process leaves its staging directory behind; the next one to stage in the same
 * directory removes every staging directory whose owner lock it can take. */
struct stage {
	char dir[VZ_PATH_MAX];
	vz_lock owner;
};

/* ---- the manifest ---- */

struct mfile {
	char path[400];       /* inside the archive */
	const char *base;     /* into path: the file name */
	uint64_t size, hash;
	size_t coll;
	bool seen;
};

struct mcoll {
	char name[140];       /* NAME or PROJECT/COLLECTION */
	char prefix[160];     /* dynamic/NAME or workspace/PROJECT/COLLECTION */
	size_t first, n;      /* its files in manifest.files */
	bool selected;        /* restore: extract it */
	char target[140];     /* restore: name to restore it as */
	char stage[VZ_PATH_MAX];     /* restore/verify: where its files are extracted */
	vz_coll_id id;        /* "collection_id" of the manifest: what its metadata.json must name (zero: none listed) */
};

struct manifest {
	char created[32];
	char vz_version[32];
	struct mcoll *colls;
	size_t ncolls;
	struct mfile *files;
	size_t nfiles;
	uint64_t total;
	size_t *by_path;      /* indexes of files sorted by path */
};

/* ---- reading: zstd decompression feeding libarchive ---- */

struct reader {
	/* source: a descriptor or memory */
	int fd;
	const unsigned char *mem;
	size_t mem_len, mem_pos;
	const char *name;          /* the archive, for messages */
	ZSTD_DCtx *dctx;
	unsigned char *in, *out;
	unsigned char *data;       /* entry data (CHUNK bytes) */
	size_t in_cap, in_pos, in_len, out_cap;
	bool in_eof, in_frame, trailer_seen;
	size_t frames;
	vz_hasher *consumed_hash;  /* XXH3 of the compressed bytes before the trailer */
	uint64_t consumed;
	uint64_t compressed_read, decompressed, limit;
	/* the first problem found while decompressing (the tar reader then fails) */
	char problem[400];
	int error;                 /* a failure to read the source (not damage) */
	/* reporting */
	vz_verify_cb cb;
	void *ctx;
	int problems;
	/* progress (vz_progress): the phase ("verifying" when NULL), entry bytes read of the manifest's */
	const char *phase;
	uint64_t entry_bytes, entry_total;
};

/* What the scan does with the files: nothing (verify), or extract selected collections. */
struct sink {
	/* called once the manifest is read: select collections and prepare staging */
	int (*manifest)(void *sctx, struct manifest *m);
	/* 1: extract this file (open it), 0: only check it */
	int (*begin)(void *sctx, const struct manifest *m, const struct mfile *f, int *fd, char *path, size_t cap);
	void *sctx;
};

/* ---- extraction into a staging directory (restore, and verify's collection checks) ---- */

struct extract {
	const char *stage;        /* the staging directory */
	const char *const *names; /* restore: selection (n 0: all) */
	size_t n;
	const char *as_name;
	bool all;                 /* verify: extract everything */
};

/* The compressed output: libarchive hands us tar bytes, we compress and write them. */
struct writer {
	int fd;
	const char *name;
	ZSTD_CCtx *cctx;
	unsigned char *buf;
	size_t cap;
	int rc;
	uint64_t written;
	uint64_t flushed;    /* bytes whose writing to the disk was started (vz_io_writeback) */
	vz_hasher *hash;     /* of everything written, for the trailer */
};

/* ---- functions of one file called in another ---- */

/* backup_manifest.c */
bool vz_bk_file_name_ok(const char *s);
int vz_bk_collection_prefix(const char *name, char *out, size_t cap);
void vz_bk_manifest_free(struct manifest *m);
struct mfile *vz_bk_manifest_find(const struct manifest *m, const char *path);
int vz_bk_manifest_parse(const char *text, size_t len, struct manifest *m);
uint64_t vz_bk_manifest_stream_bound(const struct manifest *m, size_t manifest_len);

/* backup_archive.c */
void vz_bk_report(struct reader *r, const char *file, int64_t offset, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
la_ssize_t vz_bk_reader_read(struct archive *a, void *ctx, const void **buf);
int vz_bk_reader_init(struct reader *r, const char *name, vz_verify_cb cb, void *ctx);
void vz_bk_reader_free(struct reader *r);
int vz_bk_writer_push(struct writer *w, const void *data, size_t len, ZSTD_EndDirective mode);
la_ssize_t vz_bk_writer_cb(struct archive *a, void *ctx, const void *buf, size_t len);
int vz_bk_writer_init(struct writer *w, int fd, const char *name, const vz_backup_options *o);
void vz_bk_writer_free(struct writer *w);
/* The end-of-backup trailer closing `length` compressed bytes whose XXH3 is hash. */
void vz_bk_trailer_make(unsigned char t[TRAILER_SIZE], uint64_t length, uint64_t hash);
/* True when the archive open at fd is `size` bytes that end with a trailer whose checksum and
 * length match the bytes before it. */
bool vz_bk_reads_back(int fd, uint64_t size);

/* backup_verify.c */
int vz_bk_scan(struct reader *r, const struct sink *sink, struct manifest *m);
int vz_bk_extract_manifest(void *sctx, struct manifest *m);
int vz_bk_extract_begin(void *sctx, const struct manifest *m, const struct mfile *f, int *fd, char *path, size_t cap);
int vz_bk_verify_extracted(struct reader *r, const struct manifest *m, int lock_timeout_ms);
int vz_bk_open_archive(const char *path, int *fd);
void vz_bk_close_archive(int fd);

/* backup_write.c */
int vz_bk_stage_open(const char *parent, struct stage *s);
void vz_bk_stage_close(struct stage *s);
int vz_bk_safety_backup(const char *data_dir, const char *name, const char *dir, int keep, int lock_timeout_ms,
			bool caller_locked, char *written, size_t cap);

#endif
