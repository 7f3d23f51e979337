/* backup_write.c: backups and restores (vz-format(5), Backup archives): a pax tar archive compressed with zstd,
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
 * written, and only into a staging directory.
 *
 * This file writes backups; the archive's zstd stream is in backup_archive.c, the manifest in
 * backup_manifest.c, reading and checking in backup_verify.c, restores in backup_restore.c. */
#include "backup_internal.h"

void vz_backup_options_default(vz_backup_options *o)
{
	o->level = 1;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	o->threads = cores > 1 ? (int)(cores < 256 ? cores : 256) : 0;
	o->lock_timeout_ms = VZ_LOCK_TIMEOUT_DEFAULT_MS;
}

static void utc_stamps(time_t t, char *iso, size_t icap, char *compact, size_t ccap)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	if (iso) strftime(iso, icap, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (compact) strftime(compact, ccap, "%Y%m%dT%H%M%SZ", &tm);
}

/* ---- the staging directory: DIR/.vztmp.stage.XXXX, owned while DIR/.../.owner is flocked ----
 * A crashed process leaves its staging directory behind; the next one to stage in the same
 * directory removes every staging directory whose owner lock it can take. */


static void stage_cleanup_stale(const char *parent)
{
	DIR *d = opendir(parent);
	if (!d) return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, STAGE_PREFIX, strlen(STAGE_PREFIX)) != 0) continue;
		char dir[VZ_PATH_MAX], owner[VZ_PATH_MAX];
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

int vz_bk_stage_open(const char *parent, struct stage *s)
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
		char owner[VZ_PATH_MAX];
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

void vz_bk_stage_close(struct stage *s)
{
	if (s->dir[0]) vz_io_remove_tree(s->dir);
	vz_lock_release(&s->owner);
	s->dir[0] = '\0';
}

/* ---- writing ---- */

/* Files over this size are hashed and compressed letting go of their pages behind (their
 * pages stay in the page cache: compressing them maps them again without reading the disk). */
#define BIG_FILE ((uint64_t)256 << 20)

struct staged_file {
	char path[400];   /* inside the archive */
	char src[VZ_PATH_MAX];   /* the staged copy */
	uint64_t size, hash;
	vz_map map;       /* of the staged copy: hashed, then compressed from, read once */
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
		char p[VZ_PATH_MAX];
		if ((rc = vz_path_fmt(p, sizeof p, "%s/%s", dir, nm))) break;
		if (lstat(p, &st) != 0) {
			if (errno == ENOENT) continue;
			rc = vz_fail(vz_err_from_errno(errno), "%s: %s", p, strerror(errno));
			break;
		}
		if (!S_ISREG(st.st_mode) || !vz_bk_file_name_ok(nm)) {
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

/* Maps a staged file (kept until the archive is written) and hashes it. */
static int map_and_hash(struct staged_file *f)
{
	int rc = vz_map_file(f->src, &f->map);
	if (rc) return rc;
	f->size = f->map.size;
	if (f->size <= BIG_FILE) {
		f->hash = vz_hash64(f->map.data, f->map.size);
		return VZ_OK;
	}
	/* a part at a time, letting go of what is behind, so that the resident size stays small */
	vz_hasher *h = vz_hasher_new();
	if (!h) return vz_fail(VZ_ENOMEM, "out of memory");
	vz_releaser rel = { true, NULL };
	for (uint64_t at = 0; at < f->size;) {
		size_t n = f->size - at < 8 * CHUNK ? (size_t)(f->size - at) : 8 * CHUNK;
		vz_hasher_update(h, f->map.data + at, n);
		at += n;
		vz_release_behind(&rel, f->map.data + at);
	}
	f->hash = vz_hasher_digest(h);
	vz_hasher_free(h);
	return VZ_OK;
}

/* Snapshots one collection into the staging directory: under its shared lock (unless the
 * caller holds a lock on it already), wal.log is copied and every other file hard-linked
 * (they are only ever replaced by rename, never changed in place: vz-format(5), Atomic replace). */
static int snapshot_collection(struct snapshot *s, const char *data_dir, const char *name, size_t index,
			       int lock_timeout_ms, bool caller_locked)
{
	char dir[VZ_PATH_MAX], prefix[160], sdir[VZ_PATH_MAX];
	bool ws;
	int rc = vz_bk_collection_prefix(name, prefix, sizeof prefix);
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
		char src[VZ_PATH_MAX];
		if ((rc = vz_path_fmt(src, sizeof src, "%s/%s", dir, names[i])) ||
		    (rc = vz_path_fmt(f.src, sizeof f.src, "%s/%s", sdir, names[i])) ||
		    (rc = vz_path_fmt(f.path, sizeof f.path, "%s/%s", prefix, names[i])))
			break;
		/* a hard link never follows a symlink; a name that became one would be refused when it
		 * is hashed (O_NOFOLLOW). Where the file system cannot link (another device, links not
		 * permitted), the file is copied; a failed write (VZ_EIO: I/O error, disk full) is final. */
		if (strcmp(names[i], "wal.log") != 0) {
			rc = vz_io_link(src, f.src);
			if (!rc) rc = snapshot_add(s, &f);
			if (!rc || rc == VZ_EIO || rc == VZ_ENOMEM) continue;
			rc = VZ_OK;
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
		if ((rc = map_and_hash(f))) return rc;
		char hex[17];
		snprintf(hex, sizeof hex, "%016llx", (unsigned long long)f->hash);
		json_t *jf = json_pack("{s:s, s:I, s:s}", "path", f->path, "size", (json_int_t)f->size, "xxh3", hex);
		if (!jf || json_array_append_new(files, jf)) return vz_fail(VZ_ENOMEM, "out of memory");
		if (vz_add_overflow_u64(s->total, f->size, &s->total)) return vz_fail(VZ_ERANGE, "backup too large");
	}
	return VZ_OK;
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
	int lrc = vz_bk_libarchive_load();
	if (lrc) return lrc;
	struct archive *a = archive_write_new();
	if (!a) return vz_fail(VZ_ENOMEM, "out of memory");
	int rc = VZ_OK;
	/* unblocked: libarchive hands each write straight to the compressor instead of cutting
	 * it into 10240-byte blocks (the end of the archive is then not padded to a block) */
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK || archive_write_set_bytes_per_block(a, 0) != ARCHIVE_OK ||
	    archive_write_open(a, w, NULL, vz_bk_writer_cb, NULL) != ARCHIVE_OK) {
		rc = archive_fail(a, w, "cannot start the archive");
		goto out;
	}
	size_t mlen = strlen(manifest);
	if ((rc = write_entry_header(a, w, VZ_BACKUP_MANIFEST, mlen, now))) goto out;
	if (archive_write_data(a, manifest, mlen) != (la_ssize_t)mlen) { rc = archive_fail(a, w, VZ_BACKUP_MANIFEST); goto out; }
	uint64_t total = 0, sent = 0; /* bytes, for vz_progress */
	for (size_t i = 0; i < s->nfiles; i++) total += s->files[i].size;
	for (size_t i = 0; i < s->nfiles && !rc; i++) {
		const struct staged_file *f = &s->files[i];
		if ((rc = write_entry_header(a, w, f->path, f->size, now))) break;
		/* from the mapping the hash was taken from: the bytes hashed are the bytes archived */
		vz_releaser rel = { f->size > BIG_FILE, NULL };
		for (uint64_t done = 0; done < f->size;) {
			size_t n = f->size - done < 8 * CHUNK ? (size_t)(f->size - done) : 8 * CHUNK;
			la_ssize_t k = archive_write_data(a, f->map.data + done, n);
			if (k <= 0) { rc = archive_fail(a, w, f->path); break; }
			done += (uint64_t)k;
			vz_release_behind(&rel, f->map.data + done);
			vz_progress("archiving", sent + done, total);
		}
		sent += f->size;
	}
	if (!rc && archive_write_close(a) != ARCHIVE_OK) rc = archive_fail(a, w, "finishing the archive");
	if (!rc) rc = vz_bk_writer_push(w, NULL, 0, ZSTD_e_end);
	if (!rc) {
		unsigned char t[TRAILER_SIZE];
		vz_bk_trailer_make(t, w->written, vz_hasher_digest(w->hash));
		if (!(rc = vz_io_write(w->fd, t, sizeof t, w->name))) w->written += sizeof t;
	}
out:
	archive_write_free(a);
	return rc;
}

/* Staging goes in the data directory (hard links, no copies); when that cannot be written (a
 * read-only data directory: reading must need no write access), in alt: beside the output. */
static int stage_open_for(const char *data_dir, const char *alt, struct stage *s)
{
	if (alt && access(data_dir, W_OK) != 0 && (errno == EACCES || errno == EPERM || errno == EROFS)) return vz_bk_stage_open(alt, s);
	return vz_bk_stage_open(data_dir, s);
}

/* Snapshots the collections (caller_locked: the caller holds the only collection's lock) and
 * writes the archive to fd, staging in stage_alt when the data directory cannot be written. */
static int backup_to_fd(const char *data_dir, const char *const *names, size_t n, const vz_backup_options *o,
			int fd, const char *fd_name, bool caller_locked, const char *stage_alt, vz_backup_summary *sum)
{
	int lrc = vz_zstd_load();
	if (lrc) return lrc;
	if (o->level < 1 || o->level > ZSTD_maxCLevel()) return vz_fail(VZ_EINVAL, "compression level %d is out of range (1..%d)", o->level, ZSTD_maxCLevel());
	if (o->threads < 0 || o->threads > 256) return vz_fail(VZ_EINVAL, "compression threads %d is out of range (0..256)", o->threads);
	struct snapshot s = { .stage = { .owner = VZ_LOCK_INIT } };
	struct writer w;
	char *text = NULL;
	json_t *root = NULL;
	int rc = vz_bk_writer_init(&w, fd, fd_name, o);
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
	for (size_t i = 0; i < s.nfiles; i++) vz_unmap(&s.files[i].map);
	free(s.files);
	vz_bk_stage_close(&s.stage);
	vz_bk_writer_free(&w);
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
	char beside[VZ_PATH_MAX];
	vz_backup_summary s;
	int rc = vz_path_parent(t->path, beside, sizeof beside);
	if (!rc) rc = backup_to_fd(data_dir, names, n, o, t->fd, t->path, caller_locked, beside, &s);
	if (!rc) rc = vz_io_fsync(t->fd, t->path);
	if (rc) return rc;
	/* what the file holds is what was written: its bytes read back against the checksum of
	 * the compressed stream taken while writing it (the data is not read a second time) */
	if (!vz_bk_reads_back(t->fd, s.archive_bytes))
		return vz_fail(VZ_EIO, "%s: the backup just written does not read back as written: not kept", t->target);
	if (sum) *sum = s;
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
			char p[VZ_PATH_MAX];
			if (!(rc = vz_path_fmt(p, sizeof p, "%s/%s", dir, list[i].name))) rc = vz_io_unlink(p, true);
		}
		if (!rc) rc = vz_io_fsync_dir(dir);
	}
	free(list);
	return rc;
}

/* The time to name a new backup of prefix in dir after: now, unless a backup there is stamped
 * now or later (two in one second, or a clock set back), then one second past the newest. The
 * old PREFIX-STAMP.N.tar.zst names of a second's later backups count as that second. */
static time_t next_stamp_time(const char *dir, const char *prefix, time_t now)
{
	char newest[17] = "";
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *e;
		char st[17];
		unsigned sq;
		while ((e = readdir(d)))
			if (parse_backup_name(e->d_name, prefix, st, &sq) && strcmp(st, newest) > 0) memcpy(newest, st, sizeof st);
		closedir(d);
	}
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	if (!newest[0] || !strptime(newest, "%Y%m%dT%H%M%SZ", &tm)) return now;
	time_t last = timegm(&tm);
	return last >= now ? last + 1 : now;
}

static int backup_into_dir(const char *data_dir, const char *const *names, size_t n, const vz_backup_options *o,
			   const char *dir, const char *prefix, int keep, bool caller_locked, char *written, size_t cap,
			   vz_backup_summary *sum)
{
	if (keep < 0) return vz_fail(VZ_EINVAL, "keep must be 0 (keep all) or more");
	int rc = vz_io_mkdir_p(dir, 0755);
	if (rc) return rc;
	char stamp[24], final[VZ_PATH_MAX];
	utc_stamps(time(NULL), NULL, 0, stamp, sizeof stamp);
	if ((rc = vz_path_fmt(final, sizeof final, "%s/%s-%s.tar.zst", dir, prefix, stamp))) return rc;
	vz_tmpfile t;
	if ((rc = vz_tmpfile_open(&t, final))) return rc;
	if ((rc = backup_to_tmpfile(data_dir, names, n, o, &t, caller_locked, sum))) { vz_tmpfile_abort(&t); return rc; }
	/* A name that sorts after every backup of the same set, by time, in ls and in any locale: the
	 * stamp of now, or one second past the newest there (a second backup within a second). */
	time_t when = next_stamp_time(dir, prefix, time(NULL));
	for (int tries = 0;; tries++, when++) {
		utc_stamps(when, NULL, 0, stamp, sizeof stamp);
		if ((rc = vz_path_fmt(final, sizeof final, "%s/%s-%s.tar.zst", dir, prefix, stamp))) break;
		rc = vz_io_rename_noreplace(t.path, final);
		if (rc != VZ_EEXIST || tries >= 3600) break; /* EEXIST: a backup running beside this one */
	}
	if (rc) { vz_tmpfile_abort(&t); return rc; }
	vz_io_close(t.fd);
	t.fd = -1;
	vz_hasher_free(t.hasher);
	t.hasher = NULL;
	if ((rc = vz_io_fsync_dir(dir))) {
		/* not known to be durable: a failed backup leaves no new file (best effort) */
		vz_io_unlink(final, true);
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
int vz_bk_safety_backup(const char *data_dir, const char *name, const char *dir, int keep, int lock_timeout_ms,
			 bool caller_locked, char *written, size_t cap)
{
	char prefix[160], defdir[VZ_PATH_MAX];
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
	return vz_bk_safety_backup(data_dir, name, dir, keep, lock_timeout_ms, false, written_path, cap);
}
