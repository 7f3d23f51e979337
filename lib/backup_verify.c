/* backup_verify.c: reading a backup (vz-format(5), Backup archives): one scan of the archive in
 * which every entry is checked against the manifest before a byte of it is written, and only into
 * a staging directory; vz_backup_verify and the extraction that restore uses. */
#include "backup_internal.h"

/* Reports a tar-level failure, preferring the decompressor's own diagnosis. */
static void report_archive(struct reader *r, struct archive *a, const char *when)
{
	if (r->error) return;
	if (r->problem[0]) vz_bk_report(r, r->name, -1, "%s", r->problem);
	else vz_bk_report(r, r->name, -1, "%s: %s", when, archive_error_string(a) ? archive_error_string(a) : "tar structure damaged");
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
	if (!path || !path[0]) { vz_bk_report(r, r->name, -1, "an entry without a name"); return NULL; }
	if (path[0] == '/') { vz_bk_report(r, path, -1, "absolute path in the archive: refused"); return NULL; }
	for (const char *p = path; *p;) {
		size_t seg = strcspn(p, "/");
		if (seg == 2 && p[0] == '.' && p[1] == '.') { vz_bk_report(r, path, -1, "path with '..' in the archive: refused"); return NULL; }
		p += seg;
		if (*p == '/') p++;
	}
	if (archive_entry_hardlink(e)) { vz_bk_report(r, path, -1, "hard link in the archive: refused"); return NULL; }
	if (archive_entry_symlink(e) || archive_entry_filetype(e) == AE_IFLNK) {
		vz_bk_report(r, path, -1, "symbolic link in the archive: refused");
		return NULL;
	}
	mode_t type = archive_entry_filetype(e);
	if (type == AE_IFDIR && allowed_dir(m, path)) { *skip_dir = true; return NULL; }
	if (type != AE_IFREG) {
		const char *what = type == AE_IFDIR ? "directory" : type == AE_IFCHR || type == AE_IFBLK ? "device" :
				   type == AE_IFIFO ? "fifo" : type == AE_IFSOCK ? "socket" : "special file";
		vz_bk_report(r, path, -1, "%s entry in the archive: refused", what);
		return NULL;
	}
	if (archive_entry_sparse_count(e) > 0) { vz_bk_report(r, path, -1, "sparse entry in the archive: refused"); return NULL; }
	struct mfile *f = vz_bk_manifest_find(m, path);
	if (!f) { vz_bk_report(r, path, -1, "entry not listed in the manifest: refused"); return NULL; }
	if (f->seen) { vz_bk_report(r, path, -1, "duplicate entry in the archive: refused"); return NULL; }
	f->seen = true;
	if (!archive_entry_size_is_set(e)) { vz_bk_report(r, path, -1, "entry without a size"); return NULL; }
	int64_t size = archive_entry_size(e);
	if (size < 0 || (uint64_t)size != f->size) {
		vz_bk_report(r, path, -1, "entry holds %lld bytes, the manifest says %llu%s", (long long)size, (unsigned long long)f->size,
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
			vz_bk_report(r, f->path, (int64_t)got, "more data than the manifest says (%llu bytes): refused", (unsigned long long)f->size);
			*fatal = true;
			break;
		}
		vz_hasher_update(h, buf, (size_t)k);
		if (fd >= 0 && (rc = vz_io_write(fd, buf, (size_t)k, out_path))) break;
		got += (uint64_t)k;
		r->entry_bytes += (uint64_t)k;
		vz_progress(r->phase ? r->phase : "verifying", r->entry_bytes, r->entry_total);
	}
	if (!rc && !*fatal) {
		if (got != f->size)
			vz_bk_report(r, f->path, (int64_t)got, "truncated: %llu of %llu bytes", (unsigned long long)got, (unsigned long long)f->size);
		else if (vz_hasher_digest(h) != f->hash)
			vz_bk_report(r, f->path, -1, "checksum mismatch: the content differs from the manifest (xxh3 %016llx, manifest %016llx)",
			       (unsigned long long)vz_hasher_digest(h), (unsigned long long)f->hash);
	}
	vz_hasher_free(h);
	return rc;
}

static la_ssize_t drain(struct archive *a, struct reader *r)
{
	const void *buf;
	la_ssize_t k;
	while ((k = vz_bk_reader_read(a, r, &buf)) > 0) {}
	return k;
}

/* Scans the whole archive once: every check of vz_backup_verify, files handed to the sink.
 * m receives the manifest (when one was read; free with vz_bk_manifest_free). Returns 0 when the scan
 * ran (problems counted in r), an error when it could not (reading the source, writing a file). */
int vz_bk_scan(struct reader *r, const struct sink *sink, struct manifest *m)
{
	memset(m, 0, sizeof *m);
	int lrc = vz_bk_libarchive_load();
	if (lrc) return lrc;
	struct archive *a = archive_read_new();
	if (!a) return vz_fail(VZ_ENOMEM, "out of memory");
	archive_read_support_format_tar(a);
	int rc = VZ_OK;
	char *mtext = NULL;
	if (archive_read_open(a, r, NULL, vz_bk_reader_read, NULL) != ARCHIVE_OK) {
		report_archive(r, a, "cannot read the archive");
		goto out;
	}
	struct archive_entry *e;
	int st = archive_read_next_header(a, &e);
	if (st == ARCHIVE_EOF) { vz_bk_report(r, r->name, -1, "empty archive: no manifest"); goto out; }
	if (st != ARCHIVE_OK) { report_archive(r, a, "first entry"); goto out; }
	const char *p0 = archive_entry_pathname(e);
	if (!p0 || strcmp(p0, VZ_BACKUP_MANIFEST) || archive_entry_filetype(e) != AE_IFREG) {
		vz_bk_report(r, p0 ? p0 : r->name, -1, "the first entry is not %s: not a vz backup", VZ_BACKUP_MANIFEST);
		goto out;
	}
	int64_t msize = archive_entry_size(e);
	if (msize <= 0 || msize > (int64_t)VZ_BACKUP_MAX_MANIFEST) {
		vz_bk_report(r, VZ_BACKUP_MANIFEST, -1, "size %lld is out of range (1..%u)", (long long)msize, VZ_BACKUP_MAX_MANIFEST);
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
		vz_bk_report(r, VZ_BACKUP_MANIFEST, -1, "truncated: %zu of %lld bytes", have, (long long)msize);
		goto out;
	}
	if ((rc = vz_bk_manifest_parse(mtext, have, m))) {
		if (rc == VZ_ENOMEM) goto out;
		/* the file is named once: its name is taken off the message if the message has it */
		const char *why = vz_last_error();
		if (!strncmp(why, VZ_BACKUP_MANIFEST ": ", strlen(VZ_BACKUP_MANIFEST ": "))) why += strlen(VZ_BACKUP_MANIFEST ": ");
		vz_bk_report(r, VZ_BACKUP_MANIFEST, -1, "%s", why);
		rc = VZ_OK;
		goto out;
	}
	r->limit = vz_bk_manifest_stream_bound(m, have) + r->out_cap; /* + one block read ahead */
	for (size_t i = 0; i < m->nfiles; i++) r->entry_total += m->files[i].size;
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
		char out_path[VZ_PATH_MAX] = "";
		if (sink && sink->begin && (rc = sink->begin(sink->sctx, m, f, &fd, out_path, sizeof out_path))) goto out;
		rc = read_entry(r, a, f, fd, out_path, &fatal);
		if (fd >= 0) {
			if (!rc) rc = vz_io_fsync(fd, out_path);
			vz_io_close(fd);
		}
		if (rc || fatal) goto out;
	}
	for (size_t i = 0; i < m->nfiles; i++)
		if (!m->files[i].seen) vz_bk_report(r, m->files[i].path, -1, "missing from the archive");
	/* read the compressed stream to its end so that every frame's checksum is checked */
	if (drain(a, r) < 0 && !r->error) vz_bk_report(r, r->name, -1, "%s", r->problem);
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

int vz_bk_extract_manifest(void *sctx, struct manifest *m)
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
		char lock[VZ_PATH_MAX];
		int fd;
		if ((rc = vz_path_fmt(lock, sizeof lock, "%s/LOCK", c->stage)) ||
		    (rc = vz_io_open_write(lock, O_WRONLY | O_CREAT | O_EXCL, 0644, &fd)))
			return rc;
		vz_io_close(fd);
	}
	return VZ_OK;
}

int vz_bk_extract_begin(void *sctx, const struct manifest *m, const struct mfile *f, int *fd, char *path, size_t cap)
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
	vz_bk_report(cr->r, path, offset, "%s", what);
}

int vz_bk_verify_extracted(struct reader *r, const struct manifest *m, int lock_timeout_ms)
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
				vz_bk_report(r, c->prefix, -1, "metadata.json names collection %s, the manifest %s", got, want);
			}
			vz_meta_free(&meta);
		}
		if (rc == VZ_ECORRUPT || rc == VZ_ERANGE || rc == VZ_EDATA) {
			vz_bk_report(r, c->prefix, -1, "collection cannot be checked: %s", vz_last_error());
			continue;
		}
		if (rc) return rc;
	}
	return VZ_OK;
}

int vz_bk_open_archive(const char *path, int *fd)
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

void vz_bk_close_archive(int fd)
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
	int rc = vz_bk_open_archive(path, &fd);
	if (rc) return rc;
	if ((rc = vz_bk_reader_init(&r, path, cb, ctx))) goto out;
	r.fd = fd;
	struct extract x = { .all = true };
	struct sink sk = { vz_bk_extract_manifest, vz_bk_extract_begin, &x };
	if (check_collections) {
		const char *tmp = getenv("TMPDIR");
		if ((rc = vz_bk_stage_open(tmp && tmp[0] ? tmp : "/tmp", &s))) goto out;
		x.stage = s.dir;
	}
	rc = vz_bk_scan(&r, check_collections ? &sk : NULL, &m);
	if (!rc && check_collections && r.problems == 0) rc = vz_bk_verify_extracted(&r, &m, 0);
	fill_summary(&m, &r, sum);
	vz_bk_manifest_free(&m);
	*problems = r.problems;
out:
	vz_bk_stage_close(&s);
	vz_bk_reader_free(&r);
	vz_bk_close_archive(fd);
	return rc;
}

int vz_backup_verify_buffer(const void *data, size_t len, vz_verify_cb cb, void *ctx, int *problems)
{
	*problems = 0;
	struct reader r;
	int rc = vz_bk_reader_init(&r, "(memory)", cb, ctx);
	if (!rc) {
		r.mem = data ? data : (const unsigned char *)"";
		r.mem_len = len;
		struct manifest m;
		rc = vz_bk_scan(&r, NULL, &m);
		vz_bk_manifest_free(&m);
		*problems = r.problems;
	}
	vz_bk_reader_free(&r);
	return rc;
}
