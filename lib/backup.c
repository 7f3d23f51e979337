/* backup.c: backups and restores (vz-format(5), Backup archives): a pax tar archive compressed with zstd,
 * a manifest first, the collections' files after it. See the backup section of vz.h.
 *
 * Writing: each collection is snapshotted under its shared lock into a private staging directory
 * (hard links, and a copy of wal.log), the lock is released, the staged files are hashed, the
 * manifest is written, then the files. libarchive writes the tar; we compress it with libzstd
 * ourselves so that the frame checksum is always on and every output byte passes vz_io_write.
 *
 * Reading: we decompress with libzstd ourselves (refusing frames without a checksum and counting
 * every decompressed byte against the manifest's totals: no decompression bombs) and hand the
 * tar stream to libarchive. Every entry is checked against the manifest before a byte of it is
 * written, and only into a staging directory. */
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

/* libarchive is loaded with dlopen when a backup is first read or written, not linked: it pulls
 * in a dozen libraries (libxml2, ICU, nettle, ...) whose loading cost every vz process about
 * 9 ms at start, a query included. The calls below go through these pointers. */
#define VZ_ARCHIVE_FUNCS(X) X(archive_entry_filetype) X(archive_entry_free) X(archive_entry_hardlink) X(archive_entry_new) X(archive_entry_pathname) X(archive_entry_set_filetype) X(archive_entry_set_mtime) X(archive_entry_set_pathname) X(archive_entry_set_perm) X(archive_entry_set_size) X(archive_entry_size) X(archive_entry_size_is_set) X(archive_entry_sparse_count) X(archive_entry_symlink) X(archive_error_string) X(archive_read_data) X(archive_read_free) X(archive_read_new) X(archive_read_next_header) X(archive_read_open) X(archive_read_support_format_tar) X(archive_set_error) X(archive_write_close) X(archive_write_data) X(archive_write_free) X(archive_write_header) X(archive_write_new) X(archive_write_open) X(archive_write_set_format_pax_restricted)
static struct {
#define VZ_ARCHIVE_POINTER(f) __typeof__(f) *f;
	VZ_ARCHIVE_FUNCS(VZ_ARCHIVE_POINTER)
#undef VZ_ARCHIVE_POINTER
	bool loaded;
	char error[200];
} libarchive;
static pthread_once_t libarchive_once = PTHREAD_ONCE_INIT;

static void libarchive_open(void)
{
	void *h = dlopen("libarchive.so.13", RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(libarchive.error, sizeof libarchive.error, "%s", dlerror());
		return;
	}
#define VZ_ARCHIVE_SYMBOL(f) \
	if (!(*(void **)&libarchive.f = dlsym(h, #f))) { \
		snprintf(libarchive.error, sizeof libarchive.error, "libarchive.so.13 has no %s", #f); \
		return; \
	}
	VZ_ARCHIVE_FUNCS(VZ_ARCHIVE_SYMBOL)
#undef VZ_ARCHIVE_SYMBOL
	libarchive.loaded = true;
}

/* VZ_OK once libarchive is loaded, else VZ_EOS naming why (the package libarchive13 missing). */
static int libarchive_load(void)
{
	pthread_once(&libarchive_once, libarchive_open);
	return libarchive.loaded ? VZ_OK : vz_fail(VZ_EOS, "backups need libarchive (Debian package libarchive13): %s", libarchive.error);
}
#define archive_entry_filetype (libarchive.archive_entry_filetype)
#define archive_entry_free (libarchive.archive_entry_free)
#define archive_entry_hardlink (libarchive.archive_entry_hardlink)
#define archive_entry_new (libarchive.archive_entry_new)
#define archive_entry_pathname (libarchive.archive_entry_pathname)
#define archive_entry_set_filetype (libarchive.archive_entry_set_filetype)
#define archive_entry_set_mtime (libarchive.archive_entry_set_mtime)
#define archive_entry_set_pathname (libarchive.archive_entry_set_pathname)
#define archive_entry_set_perm (libarchive.archive_entry_set_perm)
#define archive_entry_set_size (libarchive.archive_entry_set_size)
#define archive_entry_size (libarchive.archive_entry_size)
#define archive_entry_size_is_set (libarchive.archive_entry_size_is_set)
#define archive_entry_sparse_count (libarchive.archive_entry_sparse_count)
#define archive_entry_symlink (libarchive.archive_entry_symlink)
#define archive_error_string (libarchive.archive_error_string)
#define archive_read_data (libarchive.archive_read_data)
#define archive_read_free (libarchive.archive_read_free)
#define archive_read_new (libarchive.archive_read_new)
#define archive_read_next_header (libarchive.archive_read_next_header)
#define archive_read_open (libarchive.archive_read_open)
#define archive_read_support_format_tar (libarchive.archive_read_support_format_tar)
#define archive_set_error (libarchive.archive_set_error)
#define archive_write_close (libarchive.archive_write_close)
#define archive_write_data (libarchive.archive_write_data)
#define archive_write_free (libarchive.archive_write_free)
#define archive_write_header (libarchive.archive_write_header)
#define archive_write_new (libarchive.archive_write_new)
#define archive_write_open (libarchive.archive_write_open)
#define archive_write_set_format_pax_restricted (libarchive.archive_write_set_format_pax_restricted)

#define CHUNK (1u << 20)
#define STAGE_PREFIX ".vztmp.stage."

/* The end-of-backup trailer: a zstd skippable frame (ignored by zstd and tar) holding the XXH3 of
 * every compressed byte before it. zstd's own frame checksum covers the decompressed content
 * only; this one also catches damage that decodes to the same content (a flipped unused bit of a
 * frame header) and a stream cut exactly between two frames. Layout, little-endian: u32 magic,
 * u32 payload size (24), "VZBK", u32 version (1), u64 compressed length, u64 XXH3-64. */
#define TRAILER_MAGIC 0x184D2A5Au
#define TRAILER_SIZE 32

void vz_backup_options_default(vz_backup_options *o)
{
	o->level = 3;
	o->threads = 0;
	o->lock_timeout_ms = VZ_LOCK_TIMEOUT_DEFAULT_MS;
}

/* ---- names ---- */

/* A file name inside a collection that a backup may carry and a restore may create: a plain
 * name (no '/', not hidden, so never ".", ".." or a .vztmp file), not LOCK. */
static bool file_name_ok(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > 255 || s[0] == '.' || !strcmp(s, "LOCK")) return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* The archive directory of a collection: dynamic/NAME or workspace/PROJECT/COLLECTION. */
static int collection_prefix(const char *name, char *out, size_t cap)
{
	const char *slash = strchr(name, '/');
	if (!slash) {
		if (!vz_name_valid(name)) return vz_fail(VZ_EINVAL, "'%s' is not a valid collection name", name);
		return vz_path_fmt(out, cap, "dynamic/%s", name);
	}
	char project[80];
	size_t plen = (size_t)(slash - name);
	if (plen >= sizeof project) return vz_fail(VZ_EINVAL, "'%s' is not a valid collection name", name);
	memcpy(project, name, plen);
	project[plen] = '\0';
	if (!vz_name_valid(project) || !vz_name_valid(slash + 1))
		return vz_fail(VZ_EINVAL, "'%s' is not a valid collection name", name);
	return vz_path_fmt(out, cap, "workspace/%s", name);
}

static void utc_stamps(time_t t, char *iso, size_t icap, char *compact, size_t ccap)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	if (iso) strftime(iso, icap, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (compact) strftime(compact, ccap, "%Y%m%dT%H%M%SZ", &tm);
}

static void parent_dir(const char *path, char *out, size_t cap)
{
	snprintf(out, cap, "%s", path);
	char *slash = strrchr(out, '/');
	if (!slash) snprintf(out, cap, ".");
	else if (slash == out) out[1] = '\0';
	else *slash = '\0';
}

/* ---- the staging directory: DIR/.vztmp.stage.XXXX, owned while DIR/.../.owner is flocked ----
 * A crashed process leaves its staging directory behind; the next one to stage in the same
 * directory removes every staging directory whose owner lock it can take. */
struct stage {
	char dir[4096];
	vz_lock owner;
};

static void stage_cleanup_stale(const char *parent)
{
	DIR *d = opendir(parent);
	if (!d) return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, STAGE_PREFIX, strlen(STAGE_PREFIX)) != 0) continue;
		char dir[4200], owner[4300];
		if (vz_path_fmt(dir, sizeof dir, "%s/%s", parent, e->d_name) ||
		    vz_path_fmt(owner, sizeof owner, "%s/.owner", dir))
			continue;
		vz_lock l = VZ_LOCK_INIT;
		if (vz_lock_acquire(owner, VZ_LOCK_EXCLUSIVE, 0, false, &l) != VZ_OK) continue; /* alive, or too young */
		vz_io_remove_tree(dir);
		vz_lock_release(&l);
	}
	closedir(d);
}

static int stage_open(const char *parent, struct stage *s)
{
	s->owner = (vz_lock)VZ_LOCK_INIT;
	s->dir[0] = '\0';
	stage_cleanup_stale(parent);
	for (int attempt = 0; attempt < 16; attempt++) {
		int rc = vz_path_fmt(s->dir, sizeof s->dir, "%s/" STAGE_PREFIX "%016llx", parent, (unsigned long long)vz_random_u64());
		if (rc) return rc;
		rc = vz_io_mkdir(s->dir, 0700, false);
		if (rc == VZ_EEXIST) continue;
		if (rc) return rc;
		char owner[4200];
		if ((rc = vz_path_fmt(owner, sizeof owner, "%s/.owner", s->dir)) ||
		    (rc = vz_lock_acquire(owner, VZ_LOCK_EXCLUSIVE, 0, true, &s->owner))) {
			vz_io_remove_tree(s->dir);
			s->dir[0] = '\0';
			return rc;
		}
		return VZ_OK;
	}
	return vz_fail(VZ_EEXIST, "%s: could not create a unique staging directory", parent);
}

static void stage_close(struct stage *s)
{
	if (s->dir[0]) vz_io_remove_tree(s->dir);
	vz_lock_release(&s->owner);
	s->dir[0] = '\0';
}

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
	char stage[4200];     /* restore/verify: where its files are extracted */
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

static void manifest_free(struct manifest *m)
{
	free(m->colls);
	free(m->files);
	free(m->by_path);
	memset(m, 0, sizeof *m);
}

static int cmp_path(const void *a, const void *b, void *ctx)
{
	const struct manifest *m = ctx;
	return strcmp(m->files[*(const size_t *)a].path, m->files[*(const size_t *)b].path);
}

static struct mfile *manifest_find(const struct manifest *m, const char *path)
{
	size_t lo = 0, hi = m->nfiles;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(m->files[m->by_path[mid]].path, path);
		if (c == 0) return &m->files[m->by_path[mid]];
		if (c < 0) lo = mid + 1;
		else hi = mid;
	}
	return NULL;
}

/* Indexes the files by path (bsearch) and refuses duplicates. */
static int manifest_index(struct manifest *m)
{
	m->by_path = malloc((m->nfiles ? m->nfiles : 1) * sizeof *m->by_path);
	if (!m->by_path) return vz_fail(VZ_ENOMEM, "out of memory");
	for (size_t i = 0; i < m->nfiles; i++) m->by_path[i] = i;
	qsort_r(m->by_path, m->nfiles, sizeof *m->by_path, cmp_path, m);
	for (size_t i = 1; i < m->nfiles; i++)
		if (!strcmp(m->files[m->by_path[i]].path, m->files[m->by_path[i - 1]].path))
			return vz_fail(VZ_ECORRUPT, VZ_BACKUP_MANIFEST ": lists %s twice", m->files[m->by_path[i]].path);
	return VZ_OK;
}

static int hex64(const char *s, uint64_t *out)
{
	if (strlen(s) != 16) return -1;
	uint64_t v = 0;
	for (int i = 0; i < 16; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0) return -1;
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return 0;
}

#define MBAD(...) vz_fail(VZ_ECORRUPT, VZ_BACKUP_MANIFEST ": " __VA_ARGS__)

static int manifest_parse_file(struct manifest *m, const struct mcoll *c, size_t ci, json_t *jf, size_t fi)
{
	json_t *jp = json_object_get(jf, "path"), *js = json_object_get(jf, "size"), *jh = json_object_get(jf, "xxh3");
	if (!json_is_object(jf) || !json_is_string(jp) || !json_is_integer(js) || !json_is_string(jh))
		return MBAD("%s: file %zu: needs a path, a size and an xxh3 checksum", c->name, fi);
	const char *path = json_string_value(jp);
	size_t plen = strlen(c->prefix);
	if (strncmp(path, c->prefix, plen) != 0 || path[plen] != '/' || !file_name_ok(path + plen + 1))
		return MBAD("%s: file path '%.300s' is not a plain file of %s/", c->name, path, c->prefix);
	json_int_t size = json_integer_value(js);
	if (size < 0 || (uint64_t)size > VZ_BACKUP_MAX_FILE)
		return MBAD("%s: %s: size %lld is out of range", c->name, path, (long long)size);
	struct mfile *f = &m->files[m->nfiles];
	memset(f, 0, sizeof *f);
	snprintf(f->path, sizeof f->path, "%s", path);
	f->base = f->path + plen + 1;
	f->size = (uint64_t)size;
	f->coll = ci;
	if (hex64(json_string_value(jh), &f->hash)) return MBAD("%s: %s: xxh3 is not 16 lowercase hex digits", c->name, path);
	if (vz_add_overflow_u64(m->total, f->size, &m->total) || m->total > VZ_BACKUP_MAX_TOTAL)
		return MBAD("the files' total size is beyond the bound of %llu bytes", (unsigned long long)VZ_BACKUP_MAX_TOTAL);
	m->nfiles++;
	return VZ_OK;
}

/* Parses and validates manifest.json (untrusted). */
static int manifest_parse(const char *text, size_t len, struct manifest *m)
{
	memset(m, 0, sizeof *m);
	json_error_t jerr;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) return MBAD("line %d column %d: %s", jerr.line, jerr.column, jerr.text);
	int rc = VZ_OK;
	json_t *jfmt = json_object_get(root, "format"), *jver = json_object_get(root, "format_version");
	json_t *jcreated = json_object_get(root, "created"), *jvz = json_object_get(root, "vz_version");
	json_t *jcolls = json_object_get(root, "collections");
	json_t *jcount = json_object_get(root, "file_count"), *jtotal = json_object_get(root, "total_size");
	if (!json_is_object(root) || !json_is_string(jfmt) || strcmp(json_string_value(jfmt), "vz-backup")) {
		rc = MBAD("not a vz backup manifest (no \"format\":\"vz-backup\")");
		goto out;
	}
	if (!json_is_integer(jver) || json_integer_value(jver) < 1) { rc = MBAD("bad format_version"); goto out; }
	if (json_integer_value(jver) > VZ_BACKUP_FORMAT_VERSION) {
		rc = MBAD("format version %lld is newer than this vz understands (%d): upgrade vz",
			  (long long)json_integer_value(jver), VZ_BACKUP_FORMAT_VERSION);
		goto out;
	}
	if (!json_is_string(jcreated) || !json_is_string(jvz) || !json_is_array(jcolls) || !json_is_integer(jcount) ||
	    !json_is_integer(jtotal)) {
		rc = MBAD("needs created, vz_version, collections, file_count and total_size");
		goto out;
	}
	snprintf(m->created, sizeof m->created, "%s", json_string_value(jcreated));
	snprintf(m->vz_version, sizeof m->vz_version, "%s", json_string_value(jvz));
	size_t ncolls = json_array_size(jcolls), nfiles = 0;
	for (size_t i = 0; i < ncolls; i++) {
		json_t *files = json_object_get(json_array_get(jcolls, i), "files");
		if (!json_is_array(files)) { rc = MBAD("collection %zu: no files array", i); goto out; }
		nfiles += json_array_size(files);
		if (nfiles > VZ_BACKUP_MAX_FILES) { rc = MBAD("more than %d files", VZ_BACKUP_MAX_FILES); goto out; }
	}
	if (ncolls > VZ_BACKUP_MAX_FILES) { rc = MBAD("more than %d collections", VZ_BACKUP_MAX_FILES); goto out; }
	m->colls = calloc(ncolls ? ncolls : 1, sizeof *m->colls);
	m->files = calloc(nfiles ? nfiles : 1, sizeof *m->files);
	if (!m->colls || !m->files) { rc = vz_fail(VZ_ENOMEM, "out of memory"); goto out; }
	for (size_t i = 0; i < ncolls; i++) {
		json_t *jc = json_array_get(jcolls, i);
		json_t *jn = json_object_get(jc, "name"), *jk = json_object_get(jc, "kind"), *files = json_object_get(jc, "files");
		if (!json_is_string(jn) || !json_is_string(jk)) { rc = MBAD("collection %zu: needs a name and a kind", i); goto out; }
		struct mcoll *c = &m->colls[i];
		const char *name = json_string_value(jn), *kind = json_string_value(jk);
		if (strlen(name) >= sizeof c->name || collection_prefix(name, c->prefix, sizeof c->prefix)) {
			rc = MBAD("collection %zu: '%.200s' is not a valid collection name", i, name);
			goto out;
		}
		if (strcmp(kind, strchr(name, '/') ? "workspace" : "dynamic")) {
			rc = MBAD("collection %s: kind '%.40s' does not match its name", name, kind);
			goto out;
		}
		for (size_t j = 0; j < i; j++)
			if (!strcmp(m->colls[j].name, name)) { rc = MBAD("collection %s is listed twice", name); goto out; }
		json_t *jid = json_object_get(jc, "collection_id");
		if (jid && (!json_is_string(jid) || vz_id_parse(json_string_value(jid), &c->id))) {
			rc = MBAD("collection %s: collection_id is not 32 hexadecimal digits", name);
			goto out;
		}
		snprintf(c->name, sizeof c->name, "%s", name);
		snprintf(c->target, sizeof c->target, "%s", name);
		c->first = m->nfiles;
		for (size_t j = 0; j < json_array_size(files); j++)
			if ((rc = manifest_parse_file(m, c, i, json_array_get(files, j), j))) goto out;
		c->n = m->nfiles - c->first;
		m->ncolls++;
	}
	if ((uint64_t)json_integer_value(jcount) != m->nfiles || (uint64_t)json_integer_value(jtotal) != m->total) {
		rc = MBAD("file_count/total_size (%lld/%lld) do not match the files listed (%zu/%llu)",
			  (long long)json_integer_value(jcount), (long long)json_integer_value(jtotal), m->nfiles,
			  (unsigned long long)m->total);
		goto out;
	}
	rc = manifest_index(m);
out:
	json_decref(root);
	if (rc) manifest_free(m);
	return rc;
}

/* The most decompressed bytes a tar stream of this manifest can honestly take: each entry's
 * data rounded to 512-byte blocks plus room for its headers (ustar header and a pax extended
 * header), the manifest entry, the directory entries other tools add (up to three per
 * collection, and vz-backup/), and the end of archive padded to a 10240-byte block. */
static uint64_t manifest_stream_bound(const struct manifest *m, size_t manifest_len)
{
	uint64_t bound = (uint64_t)manifest_len + 8192 + 20480 + ((uint64_t)m->ncolls * 3 + 1) * 4096;
	for (size_t i = 0; i < m->nfiles; i++) bound += (m->files[i].size + 511) / 512 * 512 + 4096;
	return bound;
}

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
};

static void report(struct reader *r, const char *file, int64_t offset, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void report(struct reader *r, const char *file, int64_t offset, const char *fmt, ...)
{
	char what[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	r->problems++;
	if (r->cb) r->cb(r->ctx, file, offset, what);
}

static int reader_refill(struct reader *r)
{
	if (r->in_pos > 0) {
		memmove(r->in, r->in + r->in_pos, r->in_len - r->in_pos);
		r->in_len -= r->in_pos;
		r->in_pos = 0;
	}
	size_t room = r->in_cap - r->in_len;
	if (room == 0 || r->in_eof) return 0;
	size_t got;
	if (r->mem) {
		got = r->mem_len - r->mem_pos < room ? r->mem_len - r->mem_pos : room;
		memcpy(r->in + r->in_len, r->mem + r->mem_pos, got);
		r->mem_pos += got;
	} else {
		ssize_t k;
		do k = read(r->fd, r->in + r->in_len, room);
		while (k < 0 && errno == EINTR);
		if (k < 0) {
			r->error = vz_fail(vz_err_from_errno(errno), "%s: read: %s", r->name, strerror(errno));
			return -1;
		}
		got = (size_t)k;
	}
	if (got == 0) r->in_eof = true;
	r->in_len += got;
	r->compressed_read += got;
	return 0;
}

/* libarchive's read callback: the next block of decompressed tar bytes; 0 at the end. */
static la_ssize_t reader_read(struct archive *a, void *ctx, const void **buf)
{
	struct reader *r = ctx;
	for (;;) {
		if (r->in_pos == r->in_len && !r->in_eof && reader_refill(r)) goto fail;
		if (r->in_pos == r->in_len && r->in_eof) {
			if (r->in_frame) {
				snprintf(r->problem, sizeof r->problem, "truncated: the zstd stream ends inside a frame (after %llu compressed bytes)",
					 (unsigned long long)r->compressed_read);
				goto fail;
			}
			if (r->frames == 0) {
				snprintf(r->problem, sizeof r->problem, "empty file: not a zstd-compressed backup");
				goto fail;
			}
			if (!r->trailer_seen) {
				snprintf(r->problem, sizeof r->problem,
					 "truncated: no end-of-backup checksum after %llu compressed bytes (or not written by vz backup)",
					 (unsigned long long)r->compressed_read);
				goto fail;
			}
			return 0;
		}
		if (!r->in_frame) {
			/* a frame starts with the magic number and the frame header descriptor, whose
			 * bit 2 is the content checksum flag (RFC 8878 section 3.1.1) */
			if (r->in_len - r->in_pos < 5) {
				if (r->in_eof) {
					snprintf(r->problem, sizeof r->problem, "truncated: the zstd stream ends inside a frame header");
					goto fail;
				}
				if (reader_refill(r)) goto fail;
				continue;
			}
			uint32_t magic = vz_load_u32(r->in + r->in_pos);
			if (r->trailer_seen) {
				snprintf(r->problem, sizeof r->problem, "data after the end-of-backup checksum: refused");
				goto fail;
			}
			if (magic == TRAILER_MAGIC) {
				if (r->in_len - r->in_pos < TRAILER_SIZE && !r->in_eof) {
					if (reader_refill(r)) goto fail;
					continue;
				}
				const unsigned char *t = r->in + r->in_pos;
				if (r->in_len - r->in_pos < TRAILER_SIZE || vz_load_u32(t + 4) != TRAILER_SIZE - 8 || memcmp(t + 8, "VZBK", 4) ||
				    vz_load_u32(t + 12) != 1 || vz_load_u64(t + 16) != r->consumed ||
				    vz_load_u64(t + 24) != vz_hasher_digest(r->consumed_hash)) {
					snprintf(r->problem, sizeof r->problem,
						 "the checksum of the compressed archive does not match: damaged or truncated");
					goto fail;
				}
				r->in_pos += TRAILER_SIZE;
				r->trailer_seen = true;
				continue;
			}
			if ((magic & 0xFFFFFFF0u) == 0x184D2A50u) {
				snprintf(r->problem, sizeof r->problem, "skippable zstd frame: refused");
				goto fail;
			}
			if (magic != 0xFD2FB528u) {
				snprintf(r->problem, sizeof r->problem, "offset %llu: not a zstd frame",
					 (unsigned long long)(r->compressed_read - (r->in_len - r->in_pos)));
				goto fail;
			}
			if (!(r->in[r->in_pos + 4] & 0x04)) {
				snprintf(r->problem, sizeof r->problem, "zstd frame without a content checksum: refused");
				goto fail;
			}
			r->in_frame = true;
			r->frames++;
		}
		ZSTD_inBuffer in = { r->in, r->in_len, r->in_pos };
		ZSTD_outBuffer out = { r->out, r->out_cap, 0 };
		size_t ret = ZSTD_decompressStream(r->dctx, &out, &in);
		vz_hasher_update(r->consumed_hash, r->in + r->in_pos, in.pos - r->in_pos);
		r->consumed += in.pos - r->in_pos;
		r->in_pos = in.pos;
		if (ZSTD_isError(ret)) {
			snprintf(r->problem, sizeof r->problem, "compressed data damaged near offset %llu: %s",
				 (unsigned long long)(r->compressed_read - (r->in_len - r->in_pos)), ZSTD_getErrorName(ret));
			goto fail;
		}
		if (ret == 0) r->in_frame = false; /* frame complete: its checksum matched */
		if (out.pos) {
			r->decompressed += out.pos;
			if (r->decompressed > r->limit) {
				snprintf(r->problem, sizeof r->problem,
					 "decompresses to more than %llu bytes, more than the manifest accounts for: refused",
					 (unsigned long long)r->limit);
				goto fail;
			}
			*buf = r->out;
			return (la_ssize_t)out.pos;
		}
	}
fail:
	archive_set_error(a, EINVAL, "%s", r->problem[0] ? r->problem : vz_last_error());
	return -1;
}

static int reader_init(struct reader *r, const char *name, vz_verify_cb cb, void *ctx)
{
	memset(r, 0, sizeof *r);
	r->fd = -1;
	r->name = name;
	r->cb = cb;
	r->ctx = ctx;
	r->in_cap = ZSTD_DStreamInSize() * 4;
	r->out_cap = ZSTD_DStreamOutSize();
	r->in = malloc(r->in_cap);
	r->out = malloc(r->out_cap);
	r->dctx = ZSTD_createDCtx();
	r->data = malloc(CHUNK);
	r->consumed_hash = vz_hasher_new();
	r->limit = (uint64_t)VZ_BACKUP_MAX_MANIFEST + (1u << 20);
	if (!r->in || !r->out || !r->dctx || !r->data || !r->consumed_hash) return vz_fail(VZ_ENOMEM, "out of memory");
	return VZ_OK;
}

static void reader_free(struct reader *r)
{
	free(r->in);
	free(r->out);
	free(r->data);
	vz_hasher_free(r->consumed_hash);
	ZSTD_freeDCtx(r->dctx);
}

/* What the scan does with the files: nothing (verify), or extract selected collections. */
struct sink {
	/* called once the manifest is read: select collections and prepare staging */
	int (*manifest)(void *sctx, struct manifest *m);
	/* 1: extract this file (open it), 0: only check it */
	int (*begin)(void *sctx, const struct manifest *m, const struct mfile *f, int *fd, char *path, size_t cap);
	void *sctx;
};

/* Reports a tar-level failure, preferring the decompressor's own diagnosis. */
static void report_archive(struct reader *r, struct archive *a, const char *when)
{
	if (r->error) return;
	if (r->problem[0]) report(r, r->name, -1, "%s", r->problem);
	else report(r, r->name, -1, "%s: %s", when, archive_error_string(a) ? archive_error_string(a) : "tar structure damaged");
}

/* Is path a directory the archive may name without listing it: a parent of a collection's files. */
static bool allowed_dir(const struct manifest *m, const char *path)
{
	char p[400];
	snprintf(p, sizeof p, "%s", path);
	size_t len = strlen(p);
	while (len > 0 && p[len - 1] == '/') p[--len] = '\0';
	if (!strcmp(p, "vz-backup")) return true;
	for (size_t i = 0; i < m->ncolls; i++) {
		const char *pre = m->colls[i].prefix;
		if (!strncmp(pre, p, len) && (pre[len] == '/' || pre[len] == '\0')) return true;
	}
	return false;
}

/* Checks an entry's header against the manifest: returns the file, or NULL after reporting. */
static struct mfile *check_entry(struct reader *r, const struct manifest *m, struct archive_entry *e, bool *skip_dir)
{
	*skip_dir = false;
	const char *path = archive_entry_pathname(e);
	if (!path || !path[0]) { report(r, r->name, -1, "an entry without a name"); return NULL; }
	if (path[0] == '/') { report(r, path, -1, "absolute path in the archive: refused"); return NULL; }
	for (const char *p = path; *p;) {
		size_t seg = strcspn(p, "/");
		if (seg == 2 && p[0] == '.' && p[1] == '.') { report(r, path, -1, "path with '..' in the archive: refused"); return NULL; }
		p += seg;
		if (*p == '/') p++;
	}
	if (archive_entry_hardlink(e)) { report(r, path, -1, "hard link in the archive: refused"); return NULL; }
	if (archive_entry_symlink(e) || archive_entry_filetype(e) == AE_IFLNK) {
		report(r, path, -1, "symbolic link in the archive: refused");
		return NULL;
	}
	mode_t type = archive_entry_filetype(e);
	if (type == AE_IFDIR && allowed_dir(m, path)) { *skip_dir = true; return NULL; }
	if (type != AE_IFREG) {
		const char *what = type == AE_IFDIR ? "directory" : type == AE_IFCHR || type == AE_IFBLK ? "device" :
				   type == AE_IFIFO ? "fifo" : type == AE_IFSOCK ? "socket" : "special file";
		report(r, path, -1, "%s entry in the archive: refused", what);
		return NULL;
	}
	if (archive_entry_sparse_count(e) > 0) { report(r, path, -1, "sparse entry in the archive: refused"); return NULL; }
	struct mfile *f = manifest_find(m, path);
	if (!f) { report(r, path, -1, "entry not listed in the manifest: refused"); return NULL; }
	if (f->seen) { report(r, path, -1, "duplicate entry in the archive: refused"); return NULL; }
	f->seen = true;
	if (!archive_entry_size_is_set(e)) { report(r, path, -1, "entry without a size"); return NULL; }
	int64_t size = archive_entry_size(e);
	if (size < 0 || (uint64_t)size != f->size) {
		report(r, path, -1, "entry holds %lld bytes, the manifest says %llu%s", (long long)size, (unsigned long long)f->size,
		       (uint64_t)size > f->size ? ": refused" : "");
		return NULL;
	}
	return f;
}

/* Reads one entry's data: hashes it, writes it to fd when fd >= 0. Returns 0, or an error when
 * writing failed (damage is reported, not returned). */
static int read_entry(struct reader *r, struct archive *a, const struct mfile *f, int fd, const char *out_path, bool *fatal)
{
	vz_hasher *h = vz_hasher_new();
	if (!h) return vz_fail(VZ_ENOMEM, "out of memory");
	uint64_t got = 0;
	int rc = VZ_OK;
	unsigned char *buf = r->data;
	for (;;) {
		la_ssize_t k = archive_read_data(a, buf, CHUNK);
		if (k == 0) break;
		if (k < 0) {
			if (!r->error) report_archive(r, a, f->path);
			*fatal = true;
			break;
		}
		if (got + (uint64_t)k > f->size) {
			report(r, f->path, (int64_t)got, "more data than the manifest says (%llu bytes): refused", (unsigned long long)f->size);
			*fatal = true;
			break;
		}
		vz_hasher_update(h, buf, (size_t)k);
		if (fd >= 0 && (rc = vz_io_write(fd, buf, (size_t)k, out_path))) break;
		got += (uint64_t)k;
	}
	if (!rc && !*fatal) {
		if (got != f->size)
			report(r, f->path, (int64_t)got, "truncated: %llu of %llu bytes", (unsigned long long)got, (unsigned long long)f->size);
		else if (vz_hasher_digest(h) != f->hash)
			report(r, f->path, -1, "checksum mismatch: the content differs from the manifest (xxh3 %016llx, manifest %016llx)",
			       (unsigned long long)vz_hasher_digest(h), (unsigned long long)f->hash);
	}
	vz_hasher_free(h);
	return rc;
}

static la_ssize_t drain(struct archive *a, struct reader *r)
{
	const void *buf;
	la_ssize_t k;
	while ((k = reader_read(a, r, &buf)) > 0) {}
	return k;
}

/* Scans the whole archive once: every check of vz_backup_verify, files handed to the sink.
 * m receives the manifest (when one was read; free with manifest_free). Returns 0 when the scan
 * ran (problems counted in r), an error when it could not (reading the source, writing a file). */
static int scan(struct reader *r, const struct sink *sink, struct manifest *m)
{
	memset(m, 0, sizeof *m);
	int lrc = libarchive_load();
	if (lrc) return lrc;
	struct archive *a = archive_read_new();
	if (!a) return vz_fail(VZ_ENOMEM, "out of memory");
	archive_read_support_format_tar(a);
	int rc = VZ_OK;
	char *mtext = NULL;
	if (archive_read_open(a, r, NULL, reader_read, NULL) != ARCHIVE_OK) {
		report_archive(r, a, "cannot read the archive");
		goto out;
	}
	struct archive_entry *e;
	int st = archive_read_next_header(a, &e);
	if (st == ARCHIVE_EOF) { report(r, r->name, -1, "empty archive: no manifest"); goto out; }
	if (st != ARCHIVE_OK) { report_archive(r, a, "first entry"); goto out; }
	const char *p0 = archive_entry_pathname(e);
	if (!p0 || strcmp(p0, VZ_BACKUP_MANIFEST) || archive_entry_filetype(e) != AE_IFREG) {
		report(r, p0 ? p0 : r->name, -1, "the first entry is not %s: not a vz backup", VZ_BACKUP_MANIFEST);
		goto out;
	}
	int64_t msize = archive_entry_size(e);
	if (msize <= 0 || msize > (int64_t)VZ_BACKUP_MAX_MANIFEST) {
		report(r, VZ_BACKUP_MANIFEST, -1, "size %lld is out of range (1..%u)", (long long)msize, VZ_BACKUP_MAX_MANIFEST);
		goto out;
	}
	if (!(mtext = malloc((size_t)msize + 1))) { rc = vz_fail(VZ_ENOMEM, "out of memory"); goto out; }
	size_t have = 0;
	for (;;) {
		la_ssize_t k = archive_read_data(a, mtext + have, (size_t)msize + 1 - have);
		if (k == 0) break;
		if (k < 0) { report_archive(r, a, VZ_BACKUP_MANIFEST); goto out; }
		have += (size_t)k;
		if (have > (size_t)msize) break;
	}
	if (have != (size_t)msize) {
		report(r, VZ_BACKUP_MANIFEST, -1, "truncated: %zu of %lld bytes", have, (long long)msize);
		goto out;
	}
	if ((rc = manifest_parse(mtext, have, m))) {
		if (rc == VZ_ENOMEM) goto out;
		/* the file is named once: its name is taken off the message if the message has it */
		const char *why = vz_last_error();
		if (!strncmp(why, VZ_BACKUP_MANIFEST ": ", strlen(VZ_BACKUP_MANIFEST ": "))) why += strlen(VZ_BACKUP_MANIFEST ": ");
		report(r, VZ_BACKUP_MANIFEST, -1, "%s", why);
		rc = VZ_OK;
		goto out;
	}
	r->limit = manifest_stream_bound(m, have) + r->out_cap; /* + one block read ahead */
	if (sink && sink->manifest && (rc = sink->manifest(sink->sctx, m))) goto out;
	for (;;) {
		st = archive_read_next_header(a, &e);
		if (st == ARCHIVE_EOF) break;
		if (st != ARCHIVE_OK) { report_archive(r, a, "after the last good entry"); goto out; }
		bool skip_dir, fatal = false;
		struct mfile *f = check_entry(r, m, e, &skip_dir);
		if (!f) {
			if (skip_dir) continue;
			goto out; /* a hostile or foreign entry: stop before reading anything more */
		}
		int fd = -1;
		char out_path[4400] = "";
		if (sink && sink->begin && (rc = sink->begin(sink->sctx, m, f, &fd, out_path, sizeof out_path))) goto out;
		rc = read_entry(r, a, f, fd, out_path, &fatal);
		if (fd >= 0) {
			if (!rc) rc = vz_io_fsync(fd, out_path);
			vz_io_close(fd);
		}
		if (rc || fatal) goto out;
	}
	for (size_t i = 0; i < m->nfiles; i++)
		if (!m->files[i].seen) report(r, m->files[i].path, -1, "missing from the archive");
	/* read the compressed stream to its end so that every frame's checksum is checked */
	if (drain(a, r) < 0 && !r->error) report(r, r->name, -1, "%s", r->problem);
out:
	free(mtext);
	archive_read_free(a);
	if (!rc && r->error) rc = r->error;
	return rc;
}

static void fill_summary(const struct manifest *m, const struct reader *r, vz_backup_summary *sum)
{
	if (!sum) return;
	memset(sum, 0, sizeof *sum);
	sum->collections = m->ncolls;
	sum->files = m->nfiles;
	sum->bytes = m->total;
	sum->archive_bytes = r->compressed_read;
	snprintf(sum->created, sizeof sum->created, "%s", m->created);
}

/* ---- extraction into a staging directory (restore, and verify's collection checks) ---- */

struct extract {
	const char *stage;        /* the staging directory */
	const char *const *names; /* restore: selection (n 0: all) */
	size_t n;
	const char *as_name;
	bool all;                 /* verify: extract everything */
};

static int extract_manifest(void *sctx, struct manifest *m)
{
	struct extract *x = sctx;
	if (x->as_name && x->n == 0 && m->ncolls != 1)
		return vz_fail(VZ_EINVAL, "--as needs exactly one collection (the backup holds %zu: name the one to restore)", m->ncolls);
	for (size_t i = 0; i < x->n; i++) {
		bool found = false;
		for (size_t j = 0; j < m->ncolls; j++)
			if (!strcmp(m->colls[j].name, x->names[i])) found = m->colls[j].selected = true;
		if (!found) return vz_fail(VZ_ENOENT, "collection %s is not in the backup", x->names[i]);
	}
	for (size_t j = 0; j < m->ncolls; j++) {
		struct mcoll *c = &m->colls[j];
		if (x->all || x->n == 0) c->selected = true;
		if (!c->selected) continue;
		if (x->as_name) snprintf(c->target, sizeof c->target, "%s", x->as_name);
		int rc = vz_path_fmt(c->stage, sizeof c->stage, "%s/c%zu", x->stage, j);
		if (!rc) rc = vz_io_mkdir(c->stage, 0755, false);
		if (rc) return rc;
		/* the restored collection needs its lock file (never part of a backup) */
		char lock[4400];
		int fd;
		if ((rc = vz_path_fmt(lock, sizeof lock, "%s/LOCK", c->stage)) ||
		    (rc = vz_io_open_write(lock, O_WRONLY | O_CREAT | O_EXCL, 0644, &fd)))
			return rc;
		vz_io_close(fd);
	}
	return VZ_OK;
}

static int extract_begin(void *sctx, const struct manifest *m, const struct mfile *f, int *fd, char *path, size_t cap)
{
	(void)sctx;
	const struct mcoll *c = &m->colls[f->coll];
	*fd = -1;
	if (!c->selected) return VZ_OK;
	int rc = vz_path_fmt(path, cap, "%s/%s", c->stage, f->base);
	if (!rc) rc = vz_io_open_write(path, O_WRONLY | O_CREAT | O_EXCL, 0644, fd);
	return rc;
}

/* Runs vz_collection_verify on each extracted collection, reporting problems by archive path. */
struct coll_report { struct reader *r; const struct mcoll *c; };
static void on_collection_problem(void *ctx, const char *file, int64_t offset, const char *what)
{
	const struct coll_report *cr = ctx;
	char path[600];
	snprintf(path, sizeof path, "%s/%s", cr->c->prefix, file);
	report(cr->r, path, offset, "%s", what);
}

static int verify_extracted(struct reader *r, const struct manifest *m, int lock_timeout_ms)
{
	for (size_t i = 0; i < m->ncolls; i++) {
		const struct mcoll *c = &m->colls[i];
		if (!c->selected) continue;
		struct coll_report cr = { r, c };
		int problems = 0;
		int rc = vz_io_fsync_dir(c->stage);
		if (!rc) rc = vz_collection_verify(c->stage, false, lock_timeout_ms, on_collection_problem, &cr, &problems);
		vz_meta meta;
		if (!rc && vz_id_is_set(&c->id) && vz_meta_read(c->stage, &meta) == VZ_OK) {
			if (!vz_id_equal(&meta.id, &c->id)) {
				char want[33], got[33];
				vz_id_hex(&c->id, want);
				vz_id_hex(&meta.id, got);
				report(r, c->prefix, -1, "metadata.json names collection %s, the manifest %s", got, want);
			}
			vz_meta_free(&meta);
		}
		if (rc == VZ_ECORRUPT || rc == VZ_ERANGE || rc == VZ_EDATA) {
			report(r, c->prefix, -1, "collection cannot be checked: %s", vz_last_error());
			continue;
		}
		if (rc) return rc;
	}
	return VZ_OK;
}

static int open_archive(const char *path, int *fd)
{
	if (!strcmp(path, "-")) { *fd = STDIN_FILENO; return VZ_OK; }
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0) {
		int e = errno;
		return vz_fail(e == ENOENT ? VZ_ENOENT : vz_err_from_errno(e), "%s: %s", path, strerror(e));
	}
	struct stat st;
	if (fstat(*fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(*fd);
		return vz_fail(VZ_EINVAL, "%s: is a directory, not a backup file", path);
	}
	return VZ_OK;
}

static void close_archive(int fd)
{
	if (fd != STDIN_FILENO) close(fd);
}

int vz_backup_verify(const char *path, bool check_collections, vz_verify_cb cb, void *ctx, int *problems,
		     vz_backup_summary *sum)
{
	*problems = 0;
	struct reader r;
	struct manifest m;
	struct stage s = { .owner = VZ_LOCK_INIT };
	int fd;
	int rc = open_archive(path, &fd);
	if (rc) return rc;
	if ((rc = reader_init(&r, path, cb, ctx))) goto out;
	r.fd = fd;
	struct extract x = { .all = true };
	struct sink sk = { extract_manifest, extract_begin, &x };
	if (check_collections) {
		const char *tmp = getenv("TMPDIR");
		if ((rc = stage_open(tmp && tmp[0] ? tmp : "/tmp", &s))) goto out;
		x.stage = s.dir;
	}
	rc = scan(&r, check_collections ? &sk : NULL, &m);
	if (!rc && check_collections && r.problems == 0) rc = verify_extracted(&r, &m, 0);
	fill_summary(&m, &r, sum);
	manifest_free(&m);
	*problems = r.problems;
out:
	stage_close(&s);
	reader_free(&r);
	close_archive(fd);
	return rc;
}

int vz_backup_verify_buffer(const void *data, size_t len, vz_verify_cb cb, void *ctx, int *problems)
{
	*problems = 0;
	struct reader r;
	int rc = reader_init(&r, "(memory)", cb, ctx);
	if (!rc) {
		r.mem = data ? data : (const unsigned char *)"";
		r.mem_len = len;
		struct manifest m;
		rc = scan(&r, NULL, &m);
		manifest_free(&m);
		*problems = r.problems;
	}
	reader_free(&r);
	return rc;
}

/* ---- writing ---- */

struct staged_file {
	char path[400];   /* inside the archive */
	char src[4400];   /* the staged copy */
	uint64_t size, hash;
};

struct snapshot {
	struct stage stage;
	struct staged_file *files;
	size_t nfiles, cap;
	json_t *collections;
	uint64_t total;
};

static int snapshot_add(struct snapshot *s, struct staged_file *f)
{
	if (s->nfiles == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 16;
		struct staged_file *nf = realloc(s->files, ncap * sizeof *nf);
		if (!nf) return vz_fail(VZ_ENOMEM, "out of memory");
		s->files = nf;
		s->cap = ncap;
	}
	s->files[s->nfiles++] = *f;
	return VZ_OK;
}

/* Copies src (open) to dst, through the I/O layer. */
static int copy_fd(int in, const char *src, const char *dst)
{
	int out, rc = vz_io_open_write(dst, O_WRONLY | O_CREAT | O_EXCL, 0600, &out);
	if (rc) return rc;
	unsigned char *buf = malloc(CHUNK);
	if (!buf) { vz_io_close(out); return vz_fail(VZ_ENOMEM, "out of memory"); }
	for (;;) {
		ssize_t k = read(in, buf, CHUNK);
		if (k < 0 && errno == EINTR) continue;
		if (k < 0) { rc = vz_fail(vz_err_from_errno(errno), "%s: read: %s", src, strerror(errno)); break; }
		if (k == 0) break;
		if ((rc = vz_io_write(out, buf, (size_t)k, dst))) break;
	}
	free(buf);
	vz_io_close(out);
	return rc;
}

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Lists the file names to back up in dir (sorted), refusing anything but regular files. */
static int list_collection_files(const char *dir, const char *prefix, char ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d) return vz_fail(vz_err_from_errno(errno), "%s: %s", dir, strerror(errno));
	char **names = NULL;
	size_t cnt = 0, cap = 0;
	int rc = VZ_OK;
	struct dirent *e;
	while ((e = readdir(d))) {
		const char *nm = e->d_name;
		if (!strcmp(nm, ".") || !strcmp(nm, "..") || !strcmp(nm, "LOCK") || !strncmp(nm, ".vztmp.", 7)) continue;
		struct stat st;
		char p[4400];
		if ((rc = vz_path_fmt(p, sizeof p, "%s/%s", dir, nm))) break;
		if (lstat(p, &st) != 0) {
			if (errno == ENOENT) continue;
			rc = vz_fail(vz_err_from_errno(errno), "%s: %s", p, strerror(errno));
			break;
		}
		if (!S_ISREG(st.st_mode) || !file_name_ok(nm)) {
			rc = vz_fail(VZ_EDATA, "%s/%s: not a regular file of the collection; refusing to back it up (move it away)", prefix, nm);
			break;
		}
		if (cnt == cap) {
			cap = cap ? cap * 2 : 16;
			char **nn = realloc(names, cap * sizeof *nn);
			if (!nn) { rc = vz_fail(VZ_ENOMEM, "out of memory"); break; }
			names = nn;
		}
		if (!(names[cnt] = strdup(nm))) { rc = vz_fail(VZ_ENOMEM, "out of memory"); break; }
		cnt++;
	}
	closedir(d);
	if (rc) {
		for (size_t i = 0; i < cnt; i++) free(names[i]);
		free(names);
		return rc;
	}
	if (cnt) qsort(names, cnt, sizeof *names, cmp_name);
	*out = names;
	*n = cnt;
	return VZ_OK;
}

static int hash_file(const char *path, uint64_t *size, uint64_t *hash)
{
	vz_map mp;
	int rc = vz_map_file(path, &mp);
	if (rc) return rc;
	*size = mp.size;
	*hash = vz_hash64(mp.data, mp.size);
	vz_unmap(&mp);
	return VZ_OK;
}

/* Snapshots one collection into the staging directory: under its shared lock (unless the
 * caller holds a lock on it already), wal.log is copied and every other file hard-linked
 * (they are only ever replaced by rename, never changed in place: vz-format(5), Atomic replace). */
static int snapshot_collection(struct snapshot *s, const char *data_dir, const char *name, size_t index,
			       int lock_timeout_ms, bool caller_locked)
{
	char dir[4400], prefix[160], sdir[4400];
	bool ws;
	int rc = collection_prefix(name, prefix, sizeof prefix);
	if (!rc) rc = vz_collection_path(data_dir, name, dir, sizeof dir, &ws);
	if (!rc) rc = vz_path_fmt(sdir, sizeof sdir, "%s/s%zu", s->stage.dir, index);
	if (!rc) rc = vz_io_mkdir(sdir, 0700, false);
	if (rc) return rc;
	vz_lock lock = VZ_LOCK_INIT;
	if (!caller_locked && (rc = vz_collection_lock(dir, VZ_LOCK_SHARED, lock_timeout_ms, &lock))) return rc;
	char **names;
	size_t n;
	size_t first = s->nfiles;
	if ((rc = list_collection_files(dir, prefix, &names, &n))) goto unlock;
	for (size_t i = 0; i < n && !rc; i++) {
		struct staged_file f = { 0 };
		char src[4400];
		if ((rc = vz_path_fmt(src, sizeof src, "%s/%s", dir, names[i])) ||
		    (rc = vz_path_fmt(f.src, sizeof f.src, "%s/%s", sdir, names[i])) ||
		    (rc = vz_path_fmt(f.path, sizeof f.path, "%s/%s", prefix, names[i])))
			break;
		/* linkat without AT_SYMLINK_FOLLOW never follows a link; a name that became a link would
		 * be refused when it is hashed (O_NOFOLLOW) */
		if (strcmp(names[i], "wal.log") != 0 && linkat(AT_FDCWD, src, AT_FDCWD, f.src, 0) == 0) {
			rc = snapshot_add(s, &f);
			continue;
		}
		int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (in < 0) { rc = vz_fail(vz_err_from_errno(errno), "%s: %s", src, strerror(errno)); break; }
		rc = copy_fd(in, src, f.src);
		close(in);
		if (!rc) rc = snapshot_add(s, &f);
	}
	for (size_t i = 0; i < n; i++) free(names[i]);
	free(names);
unlock:
	vz_lock_release(&lock);
	if (rc) return rc;
	/* hash outside the lock: the staged files are ours now */
	json_t *files = json_array();
	json_t *jc = json_pack("{s:s, s:s, s:o}", "name", name, "kind", ws ? "workspace" : "dynamic", "files", files);
	if (!jc || json_array_append_new(s->collections, jc)) return vz_fail(VZ_ENOMEM, "out of memory");
	/* the collection's identity, which its metadata.json inside must name (none before format 2) */
	vz_meta meta;
	if (vz_meta_read(sdir, &meta) == VZ_OK) {
		char idhex[33];
		vz_id_hex(&meta.id, idhex);
		if (vz_id_is_set(&meta.id) && json_object_set_new(jc, "collection_id", json_string(idhex))) rc = vz_fail(VZ_ENOMEM, "out of memory");
		vz_meta_free(&meta);
		if (rc) return rc;
	}
	for (size_t i = first; i < s->nfiles; i++) {
		struct staged_file *f = &s->files[i];
		if ((rc = hash_file(f->src, &f->size, &f->hash))) return rc;
		char hex[17];
		snprintf(hex, sizeof hex, "%016llx", (unsigned long long)f->hash);
		json_t *jf = json_pack("{s:s, s:I, s:s}", "path", f->path, "size", (json_int_t)f->size, "xxh3", hex);
		if (!jf || json_array_append_new(files, jf)) return vz_fail(VZ_ENOMEM, "out of memory");
		if (vz_add_overflow_u64(s->total, f->size, &s->total)) return vz_fail(VZ_ERANGE, "backup too large");
	}
	return VZ_OK;
}

/* The compressed output: libarchive hands us tar bytes, we compress and write them. */
struct writer {
	int fd;
	const char *name;
	ZSTD_CCtx *cctx;
	unsigned char *buf;
	size_t cap;
	int rc;
	uint64_t written;
	vz_hasher *hash;     /* of everything written, for the trailer */
};

static int writer_push(struct writer *w, const void *data, size_t len, ZSTD_EndDirective mode)
{
	ZSTD_inBuffer in = { data, len, 0 };
	for (;;) {
		ZSTD_outBuffer out = { w->buf, w->cap, 0 };
		size_t left = ZSTD_compressStream2(w->cctx, &out, &in, mode);
		if (ZSTD_isError(left)) return vz_fail(VZ_EINTERNAL, "zstd: %s", ZSTD_getErrorName(left));
		if (out.pos) {
			int rc = vz_io_write(w->fd, w->buf, out.pos, w->name);
			if (rc) return rc;
			vz_hasher_update(w->hash, w->buf, out.pos);
			w->written += out.pos;
		}
		if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size) return VZ_OK;
	}
}

static la_ssize_t writer_cb(struct archive *a, void *ctx, const void *buf, size_t len)
{
	struct writer *w = ctx;
	if ((w->rc = writer_push(w, buf, len, ZSTD_e_continue))) {
		archive_set_error(a, EIO, "%s", vz_last_error());
		return -1;
	}
	return (la_ssize_t)len;
}

static int archive_fail(struct archive *a, struct writer *w, const char *what)
{
	if (w->rc) return w->rc;
	return vz_fail(VZ_EIO, "%s: %s: %s", w->name, what, archive_error_string(a) ? archive_error_string(a) : "libarchive failed");
}

static int write_entry_header(struct archive *a, struct writer *w, const char *path, uint64_t size, time_t mtime)
{
	struct archive_entry *e = archive_entry_new();
	if (!e) return vz_fail(VZ_ENOMEM, "out of memory");
	archive_entry_set_pathname(e, path);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_mtime(e, mtime, 0);
	int st = archive_write_header(a, e);
	archive_entry_free(e);
	return st == ARCHIVE_OK ? VZ_OK : archive_fail(a, w, path);
}

static int write_archive(const struct snapshot *s, const char *manifest, time_t now, struct writer *w)
{
	int lrc = libarchive_load();
	if (lrc) return lrc;
	struct archive *a = archive_write_new();
	if (!a) return vz_fail(VZ_ENOMEM, "out of memory");
	int rc = VZ_OK;
	unsigned char *buf = NULL;
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_open(a, w, NULL, writer_cb, NULL) != ARCHIVE_OK) {
		rc = archive_fail(a, w, "cannot start the archive");
		goto out;
	}
	size_t mlen = strlen(manifest);
	if ((rc = write_entry_header(a, w, VZ_BACKUP_MANIFEST, mlen, now))) goto out;
	if (archive_write_data(a, manifest, mlen) != (la_ssize_t)mlen) { rc = archive_fail(a, w, VZ_BACKUP_MANIFEST); goto out; }
	if (!(buf = malloc(CHUNK))) { rc = vz_fail(VZ_ENOMEM, "out of memory"); goto out; }
	for (size_t i = 0; i < s->nfiles && !rc; i++) {
		const struct staged_file *f = &s->files[i];
		if ((rc = write_entry_header(a, w, f->path, f->size, now))) break;
		int in = open(f->src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (in < 0) { rc = vz_fail(vz_err_from_errno(errno), "%s: %s", f->src, strerror(errno)); break; }
		uint64_t done = 0;
		while (done < f->size) {
			ssize_t k = read(in, buf, CHUNK);
			if (k < 0 && errno == EINTR) continue;
			if (k <= 0) { rc = vz_fail(k < 0 ? vz_err_from_errno(errno) : VZ_EINTERNAL, "%s: staged file changed", f->src); break; }
			if (archive_write_data(a, buf, (size_t)k) != k) { rc = archive_fail(a, w, f->path); break; }
			done += (uint64_t)k;
		}
		close(in);
	}
	if (!rc && archive_write_close(a) != ARCHIVE_OK) rc = archive_fail(a, w, "finishing the archive");
	if (!rc) rc = writer_push(w, NULL, 0, ZSTD_e_end);
	if (!rc) {
		unsigned char t[TRAILER_SIZE];
		vz_store_u32(t, TRAILER_MAGIC);
		vz_store_u32(t + 4, TRAILER_SIZE - 8);
		memcpy(t + 8, "VZBK", 4);
		vz_store_u32(t + 12, 1);
		vz_store_u64(t + 16, w->written);
		vz_store_u64(t + 24, vz_hasher_digest(w->hash));
		if (!(rc = vz_io_write(w->fd, t, sizeof t, w->name))) w->written += sizeof t;
	}
out:
	free(buf);
	archive_write_free(a);
	return rc;
}

static int writer_init(struct writer *w, int fd, const char *name, const vz_backup_options *o)
{
	memset(w, 0, sizeof *w);
	w->fd = fd;
	w->name = name;
	w->cap = ZSTD_CStreamOutSize();
	w->buf = malloc(w->cap);
	w->cctx = ZSTD_createCCtx();
	w->hash = vz_hasher_new();
	if (!w->buf || !w->cctx || !w->hash) return vz_fail(VZ_ENOMEM, "out of memory");
	if (ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, o->level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1)))
		return vz_fail(VZ_EINVAL, "zstd: compression level %d is not supported", o->level);
	if (o->threads > 0 && ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_nbWorkers, o->threads)))
		return vz_fail(VZ_EINVAL, "zstd: %d compression threads are not supported by this libzstd", o->threads);
	return VZ_OK;
}

static void writer_free(struct writer *w)
{
	free(w->buf);
	vz_hasher_free(w->hash);
	ZSTD_freeCCtx(w->cctx);
}

/* Staging goes in the data directory (hard links, no copies); when that cannot be written (a
 * read-only data directory: reading must need no write access), in alt: beside the output. */
static int stage_open_for(const char *data_dir, const char *alt, struct stage *s)
{
	if (alt && access(data_dir, W_OK) != 0 && (errno == EACCES || errno == EPERM || errno == EROFS)) return stage_open(alt, s);
	return stage_open(data_dir, s);
}

/* Snapshots the collections (caller_locked: the caller holds the only collection's lock) and
 * writes the archive to fd, staging in stage_alt when the data directory cannot be written. */
static int backup_to_fd(const char *data_dir, const char *const *names, size_t n, const vz_backup_options *o,
			int fd, const char *fd_name, bool caller_locked, const char *stage_alt, vz_backup_summary *sum)
{
	if (o->level < 1 || o->level > ZSTD_maxCLevel()) return vz_fail(VZ_EINVAL, "compression level %d is out of range (1..%d)", o->level, ZSTD_maxCLevel());
	if (o->threads < 0 || o->threads > 256) return vz_fail(VZ_EINVAL, "compression threads %d is out of range (0..256)", o->threads);
	struct snapshot s = { .stage = { .owner = VZ_LOCK_INIT } };
	struct writer w;
	char *text = NULL;
	json_t *root = NULL;
	int rc = writer_init(&w, fd, fd_name, o);
	if (rc) goto out;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (!strcmp(names[i], names[j])) { rc = vz_fail(VZ_EINVAL, "collection %s is named twice", names[i]); goto out; }
	if (!(s.collections = json_array())) { rc = vz_fail(VZ_ENOMEM, "out of memory"); goto out; }
	if (n && (rc = stage_open_for(data_dir, stage_alt, &s.stage))) goto out; /* no collection, no staging (data_dir may not exist) */
	for (size_t i = 0; i < n; i++)
		if ((rc = snapshot_collection(&s, data_dir, names[i], i, o->lock_timeout_ms, caller_locked))) goto out;
	time_t now = time(NULL);
	char created[32];
	utc_stamps(now, created, sizeof created, NULL, 0);
	root = json_pack("{s:s, s:i, s:s, s:s, s:O, s:I, s:I}", "format", "vz-backup", "format_version", VZ_BACKUP_FORMAT_VERSION,
			 "created", created, "vz_version", VZ_VERSION, "collections", s.collections,
			 "file_count", (json_int_t)s.nfiles, "total_size", (json_int_t)s.total);
	if (!root || !(text = json_dumps(root, JSON_INDENT(1)))) { rc = vz_fail(VZ_ENOMEM, "out of memory"); goto out; }
	if ((rc = write_archive(&s, text, now, &w))) goto out;
	if (sum) {
		memset(sum, 0, sizeof *sum);
		sum->collections = n;
		sum->files = s.nfiles;
		sum->bytes = s.total;
		sum->archive_bytes = w.written;
		snprintf(sum->created, sizeof sum->created, "%s", created);
	}
out:
	free(text);
	json_decref(root);
	json_decref(s.collections);
	free(s.files);
	stage_close(&s.stage);
	writer_free(&w);
	return rc;
}

int vz_backup_write_fd(const char *data_dir, const char *const *names, size_t n, const vz_backup_options *o,
		       int fd, const char *fd_name, vz_backup_summary *sum)
{
	const char *tmp = getenv("TMPDIR");
	return backup_to_fd(data_dir, names, n, o, fd, fd_name, false, tmp && tmp[0] ? tmp : "/tmp", sum);
}

/* Writes the backup into an open temp file, fsyncs and verifies it. */
static int backup_to_tmpfile(const char *data_dir, const char *const *names, size_t n, const vz_backup_options *o,
			     vz_tmpfile *t, bool caller_locked, vz_backup_summary *sum)
{
	char beside[4096];
	parent_dir(t->path, beside, sizeof beside);
	int rc = backup_to_fd(data_dir, names, n, o, t->fd, t->path, caller_locked, beside, sum);
	if (!rc) rc = vz_io_fsync(t->fd, t->path);
	if (rc) return rc;
	int problems;
	if ((rc = vz_backup_verify(t->path, false, NULL, NULL, &problems, NULL))) return rc;
	if (problems) return vz_fail(VZ_EIO, "%s: the backup just written does not verify (%d problems): not kept", t->target, problems);
	return VZ_OK;
}

int vz_backup_write_file(const char *data_dir, const char *const *names, size_t n, const vz_backup_options *o,
			 const char *path, vz_backup_summary *sum)
{
	vz_tmpfile t;
	int rc = vz_tmpfile_open(&t, path);
	if (rc) return rc;
	if ((rc = backup_to_tmpfile(data_dir, names, n, o, &t, false, sum))) { vz_tmpfile_abort(&t); return rc; }
	return vz_tmpfile_commit(&t);
}

/* Backup file names in a --dir: PREFIX-YYYYMMDDTHHMMSSZ[.N].tar.zst. Parses the part after
 * "PREFIX-"; *order sorts them by time then N. */
static bool parse_backup_name(const char *name, const char *prefix, char stamp[17], unsigned *seq)
{
	size_t plen = strlen(prefix);
	if (strncmp(name, prefix, plen) || name[plen] != '-') return false;
	const char *p = name + plen + 1;
	for (int i = 0; i < 16; i++) {
		bool digit = p[i] >= '0' && p[i] <= '9';
		if (i == 8 ? p[i] != 'T' : i == 15 ? p[i] != 'Z' : !digit) return false;
	}
	memcpy(stamp, p, 16);
	stamp[16] = '\0';
	p += 16;
	*seq = 0;
	if (*p == '.' && p[1] >= '1' && p[1] <= '9') {
		p++;
		unsigned v = 0;
		int digits = 0;
		while (*p >= '0' && *p <= '9' && digits < 6) v = v * 10 + (unsigned)(*p++ - '0'), digits++;
		*seq = v;
	}
	return !strcmp(p, ".tar.zst");
}

struct kept { char name[300]; char stamp[17]; unsigned seq; };
static int cmp_kept_newest_first(const void *a, const void *b)
{
	const struct kept *x = a, *y = b;
	int c = strcmp(y->stamp, x->stamp);
	return c ? c : (y->seq > x->seq) - (y->seq < x->seq);
}

/* Removes the oldest PREFIX-<timestamp> backups in dir beyond the newest keep. */
static int prune(const char *dir, const char *prefix, int keep)
{
	DIR *d = opendir(dir);
	if (!d) return vz_fail(vz_err_from_errno(errno), "%s: %s", dir, strerror(errno));
	struct kept *list = NULL;
	size_t n = 0, cap = 0;
	int rc = VZ_OK;
	struct dirent *e;
	while ((e = readdir(d))) {
		struct kept k;
		if (strlen(e->d_name) >= sizeof k.name || !parse_backup_name(e->d_name, prefix, k.stamp, &k.seq)) continue;
		snprintf(k.name, sizeof k.name, "%s", e->d_name);
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			struct kept *nl = realloc(list, cap * sizeof *nl);
			if (!nl) { rc = vz_fail(VZ_ENOMEM, "out of memory"); break; }
			list = nl;
		}
		list[n++] = k;
	}
	closedir(d);
	if (!rc && n > (size_t)keep) {
		qsort(list, n, sizeof *list, cmp_kept_newest_first);
		for (size_t i = (size_t)keep; i < n && !rc; i++) {
			char p[4400];
			if (!(rc = vz_path_fmt(p, sizeof p, "%s/%s", dir, list[i].name))) rc = vz_io_unlink(p, true);
		}
		if (!rc) rc = vz_io_fsync_dir(dir);
	}
	free(list);
	return rc;
}

static int backup_into_dir(const char *data_dir, const char *const *names, size_t n, const vz_backup_options *o,
			   const char *dir, const char *prefix, int keep, bool caller_locked, char *written, size_t cap,
			   vz_backup_summary *sum)
{
	if (keep < 0) return vz_fail(VZ_EINVAL, "keep must be 0 (keep all) or more");
	int rc = vz_io_mkdir_p(dir, 0755);
	if (rc) return rc;
	char stamp[24], final[4400];
	utc_stamps(time(NULL), NULL, 0, stamp, sizeof stamp);
	if ((rc = vz_path_fmt(final, sizeof final, "%s/%s-%s.tar.zst", dir, prefix, stamp))) return rc;
	vz_tmpfile t;
	if ((rc = vz_tmpfile_open(&t, final))) return rc;
	if ((rc = backup_to_tmpfile(data_dir, names, n, o, &t, caller_locked, sum))) { vz_tmpfile_abort(&t); return rc; }
	/* a name that sorts after every backup of this second, even ones already pruned */
	unsigned seq = 0;
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *e;
		char st[17];
		unsigned sq;
		while ((e = readdir(d)))
			if (parse_backup_name(e->d_name, prefix, st, &sq) && !strcmp(st, stamp) && sq + 1 > seq) seq = sq + 1;
		closedir(d);
	}
	for (;; seq++) {
		if (seq && (rc = vz_path_fmt(final, sizeof final, "%s/%s-%s.%u.tar.zst", dir, prefix, stamp, seq))) break;
		rc = vz_io_rename_noreplace(t.path, final);
		if (rc != VZ_EEXIST || seq >= 999999) break;
	}
	if (rc) { vz_tmpfile_abort(&t); return rc; }
	vz_io_close(t.fd);
	t.fd = -1;
	vz_hasher_free(t.hasher);
	t.hasher = NULL;
	if ((rc = vz_io_fsync_dir(dir))) {
		/* not known to be durable: a failed backup leaves no new file (best effort) */
		unlink(final);
		return rc;
	}
	if (written && (rc = vz_path_fmt(written, cap, "%s", final))) return rc;
	return keep > 0 ? prune(dir, prefix, keep) : VZ_OK;
}

int vz_backup_write_dir(const char *data_dir, const char *const *names, size_t n, const vz_backup_options *o,
			const char *dir, const char *prefix, int keep, char *written, size_t cap, vz_backup_summary *sum)
{
	return backup_into_dir(data_dir, names, n, o, dir, prefix ? prefix : "vz", keep, false, written, cap, sum);
}

/* The safety backup of one collection (caller_locked: the caller holds its lock). */
static int safety_backup(const char *data_dir, const char *name, const char *dir, int keep, int lock_timeout_ms,
			 bool caller_locked, char *written, size_t cap)
{
	char prefix[160], defdir[4200];
	if (!dir) {
		int rc = vz_path_fmt(defdir, sizeof defdir, "%s/backups", data_dir);
		if (rc) return rc;
		dir = defdir;
	}
	snprintf(prefix, sizeof prefix, "vz-%s", name);
	for (char *p = prefix; *p; p++)
		if (*p == '/') *p = '.';
	vz_backup_options o;
	vz_backup_options_default(&o);
	o.lock_timeout_ms = lock_timeout_ms;
	const char *names[1] = { name };
	return backup_into_dir(data_dir, names, 1, &o, dir, prefix, keep, caller_locked, written, cap, NULL);
}

int vz_backup_collection_to_dir(const char *data_dir, const char *name, const char *dir, int keep,
				int lock_timeout_ms, char *written_path, size_t cap)
{
	return safety_backup(data_dir, name, dir, keep, lock_timeout_ms, false, written_path, cap);
}

/* ---- restore ---- */

/* Switches one staged collection into place. */
static int switch_collection(const char *data_dir, struct mcoll *c, unsigned flags, const char *safety_dir,
			     int lock_timeout_ms, char *safety, size_t scap)
{
	char target[4400], parent[4400], plock[4500];
	bool ws;
	safety[0] = '\0';
	int rc = vz_collection_path(data_dir, c->target, target, sizeof target, &ws);
	if (rc) return rc;
	parent_dir(target, parent, sizeof parent);
	if ((rc = vz_io_mkdir_p(parent, 0755)) || (rc = vz_path_fmt(plock, sizeof plock, "%s/.lock", parent))) return rc;
	struct stat st;
	bool exists = lstat(target, &st) == 0;
	vz_lock coll = VZ_LOCK_INIT, pl = VZ_LOCK_INIT;
	if (exists) {
		if (!(flags & VZ_RESTORE_FORCE))
			return vz_fail(VZ_EEXIST, "collection %s exists: use --force to replace it (a safety backup of it is kept)", c->target);
		/* same lock order as drop: the collection, then its parent directory */
		if ((rc = vz_collection_lock(target, VZ_LOCK_EXCLUSIVE, lock_timeout_ms, &coll))) return rc;
		if ((rc = safety_backup(data_dir, c->target, safety_dir, 0, lock_timeout_ms, true, safety, scap))) goto out;
	}
	if ((rc = vz_lock_acquire(plock, VZ_LOCK_EXCLUSIVE, lock_timeout_ms, true, &pl))) goto out;
	if (!exists) {
		rc = vz_io_rename_noreplace(c->stage, target);
		if (rc == VZ_EEXIST) rc = vz_fail(VZ_EEXIST, "collection %s appeared meanwhile: use --force to replace it", c->target);
	} else {
		/* the old collection now sits in the staging directory, which is removed at the end */
		rc = vz_io_rename_exchange(c->stage, target);
	}
	if (!rc) rc = vz_io_fsync_dir(parent);
out:
	vz_lock_release(&pl);
	vz_lock_release(&coll);
	return rc;
}

/* Reports the first problem of a restore as its error. */
struct restore_report {
	vz_verify_cb cb;
	void *ctx;
	char first[700];
};
static void on_restore_problem(void *ctx, const char *file, int64_t offset, const char *what)
{
	struct restore_report *rr = ctx;
	if (!rr->first[0]) {
		if (offset >= 0) snprintf(rr->first, sizeof rr->first, "%s: offset %lld: %s", file, (long long)offset, what);
		else snprintf(rr->first, sizeof rr->first, "%s: %s", file, what);
	}
	if (rr->cb) rr->cb(rr->ctx, file, offset, what);
}

int vz_backup_restore(const char *data_dir, const char *path, const char *const *names, size_t n, const char *as_name,
		      unsigned flags, const char *safety_dir, int lock_timeout_ms, vz_verify_cb problem_cb,
		      vz_restore_cb done_cb, void *ctx)
{
	char tmp[4400];
	if (as_name && collection_prefix(as_name, tmp, sizeof tmp)) return VZ_EINVAL;
	if (as_name && n > 1) return vz_fail(VZ_EINVAL, "--as needs exactly one collection");
	for (size_t i = 0; i < n; i++)
		if (collection_prefix(names[i], tmp, sizeof tmp)) return VZ_EINVAL;
	int fd;
	int rc = open_archive(path, &fd);
	if (rc) return rc;
	struct reader r;
	struct manifest m = { 0 };
	struct stage s = { .owner = VZ_LOCK_INIT };
	struct restore_report rr = { problem_cb, ctx, "" };
	if ((rc = reader_init(&r, path, on_restore_problem, &rr))) goto out;
	r.fd = fd;
	if ((rc = vz_io_mkdir_p(data_dir, 0755)) || (rc = stage_open(data_dir, &s))) goto out;
	struct extract x = { .stage = s.dir, .names = names, .n = n, .as_name = as_name };
	struct sink sk = { extract_manifest, extract_begin, &x };
	if ((rc = scan(&r, &sk, &m))) goto out;
	if (!r.problems) {
		/* refuse early, before checking the collections, when a target exists without --force */
		for (size_t i = 0; i < m.ncolls && !(flags & VZ_RESTORE_FORCE); i++) {
			char target[4400];
			struct stat st;
			if (!m.colls[i].selected) continue;
			if ((rc = vz_collection_path(data_dir, m.colls[i].target, target, sizeof target, NULL))) goto out;
			if (lstat(target, &st) == 0) {
				rc = vz_fail(VZ_EEXIST, "collection %s exists: use --force to replace it (a safety backup of it is kept)", m.colls[i].target);
				goto out;
			}
		}
		if ((rc = verify_extracted(&r, &m, lock_timeout_ms))) goto out;
	}
	if (r.problems) {
		rc = vz_fail(VZ_ECORRUPT, "%s: the backup is damaged (%d problem%s; first: %s): nothing was restored", path, r.problems,
			     r.problems > 1 ? "s" : "", rr.first);
		goto out;
	}
	for (size_t i = 0; i < m.ncolls; i++) {
		if (!m.colls[i].selected) continue;
		char safety[4400];
		if ((rc = switch_collection(data_dir, &m.colls[i], flags, safety_dir, lock_timeout_ms, safety, sizeof safety))) goto out;
		if (done_cb) done_cb(ctx, m.colls[i].target, safety[0] ? safety : NULL);
	}
out:
	manifest_free(&m);
	stage_close(&s);
	reader_free(&r);
	close_archive(fd);
	return rc;
}
