/* io.c: the one I/O layer through which every on-disk change passes, with fault injection.
 *
 * Why one layer: durability bugs hide in the rare paths (a failed fsync, a crash between a
 * rename and a directory fsync). Counting every mutating call lets the tests fail or crash
 * each one in turn (VZ_FAULT) and prove that the files are always the old or the new state. */

#include "vz.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum fault_kind { FAULT_NONE, FAULT_ERRNO, FAULT_CRASH, FAULT_TORN, FAULT_STOP };

static struct {
	bool loaded;
	enum fault_kind kind;
	uint64_t at;
	int errnum;
	const char *trace;
	uint64_t calls;
} io;

static void load_fault_config(void)
{
	if (io.loaded) return;
	io.loaded = true;
	io.trace = getenv("VZ_IO_TRACE");
	const char *s = getenv("VZ_FAULT");
	if (!s || !*s) return;
	char *end;
	unsigned long long n = strtoull(s, &end, 10);
	if (*end != ':' || n == 0) return;
	const char *what = end + 1;
	io.at = n;
	if (!strcmp(what, "crash")) io.kind = FAULT_CRASH;
	else if (!strcmp(what, "torn")) io.kind = FAULT_TORN;
	else if (!strcmp(what, "stop")) io.kind = FAULT_STOP; /* SIGSTOP before the call: a test acts, then SIGCONT */
	else {
		io.kind = FAULT_ERRNO;
		if (!strcmp(what, "EIO")) io.errnum = EIO;
		else if (!strcmp(what, "ENOSPC")) io.errnum = ENOSPC;
		else if (!strcmp(what, "EDQUOT")) io.errnum = EDQUOT;
		else if (!strcmp(what, "EROFS")) io.errnum = EROFS;
		else if (!strcmp(what, "EACCES")) io.errnum = EACCES;
		else io.errnum = atoi(what) > 0 ? atoi(what) : EIO;
	}
}

static void die_now(void)
{
	/* A real crash: no atexit handlers, no stdio flush, no cleanup. */
	kill(getpid(), SIGKILL);
	_exit(137);
}

/* Counts one I/O call. Returns 0 to go ahead, an errno to fail with, or -1 for a torn write. */
static int io_gate(const char *op, const char *path)
{
	load_fault_config();
	io.calls++;
	if (io.trace) {
		int fd = open(io.trace, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (fd >= 0) {
			dprintf(fd, "%llu %s %s\n", (unsigned long long)io.calls, op, path ? path : "-");
			close(fd);
		}
	}
	if (io.kind == FAULT_NONE || io.calls != io.at) return 0;
	switch (io.kind) {
	case FAULT_ERRNO: return io.errnum;
	case FAULT_CRASH: die_now(); break;
	case FAULT_TORN: return -1;
	case FAULT_STOP: raise(SIGSTOP); break;
	case FAULT_NONE: break;
	}
	return 0;
}

static int os_fail(int e, const char *op, const char *path)
{
	return vz_fail(vz_err_from_errno(e), "%s: %s: %s", path ? path : "-", op, strerror(e));
}

uint64_t vz_io_calls(void) { return io.calls; }

void vz_io_fault_reload(void)
{
	memset(&io, 0, sizeof io);
	load_fault_config();
}

int vz_io_open_write(const char *path, int flags, mode_t mode, int *fd)
{
	int g = io_gate("open", path);
	if (g < 0) die_now();
	if (g) return os_fail(g, "open", path);
	int f = open(path, flags | O_NOFOLLOW | O_CLOEXEC, mode);
	if (f < 0) {
		if (errno == ELOOP) return vz_fail(VZ_EPERM, "%s: refusing to open through a symlink", path);
		return os_fail(errno, "open", path);
	}
	*fd = f;
	return VZ_OK;
}

static int write_loop(int fd, const unsigned char *p, size_t len, off_t off, bool positioned, const char *path)
{
	while (len > 0) {
		ssize_t w = positioned ? pwrite(fd, p, len, off) : write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR) continue;
			return os_fail(errno, "write", path);
		}
		if (w == 0) return os_fail(EIO, "write", path);
		p += w; len -= (size_t)w; off += w;
	}
	return VZ_OK;
}

static int gated_write(int fd, const void *buf, size_t len, off_t off, bool positioned, const char *path)
{
	int g = io_gate(positioned ? "pwrite" : "write", path);
	if (g > 0) return os_fail(g, "write", path);
	if (g < 0) {
		write_loop(fd, buf, len / 2, off, positioned, path);
		die_now();
	}
	return write_loop(fd, buf, len, off, positioned, path);
}

int vz_io_write(int fd, const void *buf, size_t len, const char *path)
{
	return gated_write(fd, buf, len, 0, false, path);
}

int vz_io_pwrite(int fd, const void *buf, size_t len, off_t offset, const char *path)
{
	return gated_write(fd, buf, len, offset, true, path);
}

#define SIMPLE_GATE(op, path)                                  \
	do {                                                   \
		int g_ = io_gate(op, path);                    \
		if (g_ < 0) die_now();                         \
		if (g_) return os_fail(g_, op, path);          \
	} while (0)

int vz_io_fsync(int fd, const char *path)
{
	SIMPLE_GATE("fsync", path);
	if (fsync(fd) != 0) return os_fail(errno, "fsync", path);
	return VZ_OK;
}

int vz_io_fdatasync(int fd, const char *path)
{
	SIMPLE_GATE("fdatasync", path);
	if (fdatasync(fd) != 0) return os_fail(errno, "fdatasync", path);
	return VZ_OK;
}

int vz_io_ftruncate(int fd, off_t len, const char *path)
{
	SIMPLE_GATE("ftruncate", path);
	if (ftruncate(fd, len) != 0) return os_fail(errno, "truncate", path);
	return VZ_OK;
}

int vz_io_rename(const char *from, const char *to)
{
	SIMPLE_GATE("rename", to);
	if (rename(from, to) != 0) return os_fail(errno, "rename", to);
	return VZ_OK;
}

int vz_io_rename_noreplace(const char *from, const char *to)
{
	SIMPLE_GATE("rename", to);
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) != 0) {
		if (errno == EEXIST) return vz_fail(VZ_EEXIST, "%s: already exists", to);
		return os_fail(errno, "rename", to);
	}
	return VZ_OK;
}

int vz_io_unlink(const char *path, bool missing_ok)
{
	SIMPLE_GATE("unlink", path);
	if (unlink(path) != 0) {
		if (errno == ENOENT && missing_ok) return VZ_OK;
		return os_fail(errno, "unlink", path);
	}
	return VZ_OK;
}

int vz_io_rmdir(const char *path)
{
	SIMPLE_GATE("rmdir", path);
	if (rmdir(path) != 0) return os_fail(errno, "rmdir", path);
	return VZ_OK;
}

int vz_io_mkdir(const char *path, mode_t mode, bool exist_ok)
{
	SIMPLE_GATE("mkdir", path);
	if (mkdir(path, mode) != 0) {
		struct stat st;
		if (errno == EEXIST && exist_ok && lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) return VZ_OK;
		if (errno == EEXIST) return vz_fail(VZ_EEXIST, "%s: already exists", path);
		return os_fail(errno, "mkdir", path);
	}
	return VZ_OK;
}

int vz_io_fsync_dir(const char *dir)
{
	SIMPLE_GATE("fsync_dir", dir);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) return os_fail(errno, "open directory", dir);
	int rc = fsync(fd) != 0 ? os_fail(errno, "fsync directory", dir) : VZ_OK;
	close(fd);
	return rc;
}

void vz_io_close(int fd)
{
	if (fd >= 0) close(fd);
}

static void parent_of(const char *path, char *out, size_t cap)
{
	snprintf(out, cap, "%s", path);
	char *slash = strrchr(out, '/');
	if (!slash) snprintf(out, cap, ".");
	else if (slash == out) out[1] = '\0';
	else *slash = '\0';
}

int vz_io_mkdir_p(const char *path, mode_t mode)
{
	char buf[4096];
	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
		return vz_fail(VZ_ERANGE, "%s: path too long", path);
	size_t len = strlen(buf);
	while (len > 1 && buf[len - 1] == '/') buf[--len] = '\0';
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0') continue;
		char saved = *p;
		*p = '\0';
		struct stat st;
		if (lstat(buf, &st) == 0) {
			if (S_ISLNK(st.st_mode) && saved != '\0') {
				/* A symlink in the middle is only acceptable above the data directory's own
				 * components; stat through it and require a directory. */
				if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
					return vz_fail(VZ_EEXIST, "%s: not a directory", buf);
			} else if (S_ISLNK(st.st_mode)) {
				return vz_fail(VZ_EPERM, "%s: is a symlink; refusing to use it", buf);
			} else if (!S_ISDIR(st.st_mode)) {
				return vz_fail(VZ_EEXIST, "%s: exists and is not a directory", buf);
			}
		} else if (errno == ENOENT) {
			int rc = vz_io_mkdir(buf, mode, true);
			if (rc) return rc;
			char parent[4096];
			parent_of(buf, parent, sizeof parent);
			if ((rc = vz_io_fsync_dir(parent))) return rc;
		} else {
			return os_fail(errno, "stat", buf);
		}
		*p = saved;
		if (saved == '\0') break;
	}
	return VZ_OK;
}

int vz_io_remove_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0) return errno == ENOENT ? VZ_OK : os_fail(errno, "stat", path);
	if (!S_ISDIR(st.st_mode)) return vz_io_unlink(path, true);
	DIR *d = opendir(path);
	if (!d) return os_fail(errno, "open directory", path);
	struct dirent *e;
	int rc = VZ_OK;
	while (rc == VZ_OK && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
		char child[4096];
		if ((rc = vz_path_fmt(child, sizeof child, "%s/%s", path, e->d_name))) break;
		rc = vz_io_remove_tree(child);
	}
	closedir(d);
	if (rc) return rc;
	return vz_io_rmdir(path);
}

/* ---- atomic replace ---- */

static void random_suffix(char *out, size_t n)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	unsigned char rnd[16];
	if (getentropy(rnd, sizeof rnd) != 0) {
		uint64_t t = (uint64_t)getpid() * 2654435761u ^ (uint64_t)(vz_now() * 1e9);
		for (size_t i = 0; i < sizeof rnd; i++) rnd[i] = (unsigned char)(t >> ((i % 8) * 8)) ^ (unsigned char)i;
	}
	for (size_t i = 0; i + 1 < n && i < sizeof rnd; i++) out[i] = alphabet[rnd[i] % (sizeof alphabet - 1)];
	out[n - 1] = '\0';
}

int vz_tmpfile_open(vz_tmpfile *t, const char *target)
{
	memset(t, 0, sizeof *t);
	t->fd = -1;
	if (snprintf(t->target, sizeof t->target, "%s", target) >= (int)sizeof t->target)
		return vz_fail(VZ_ERANGE, "%s: path too long", target);
	char dir[4096];
	parent_of(target, dir, sizeof dir);
	const char *base = strrchr(target, '/');
	base = base ? base + 1 : target;
	t->hasher = vz_hasher_new();
	if (!t->hasher) return vz_fail(VZ_ENOMEM, "out of memory");
	for (int attempt = 0; attempt < 16; attempt++) {
		char rnd[11];
		random_suffix(rnd, sizeof rnd);
		int rc = vz_path_fmt(t->path, sizeof t->path, "%s/.vztmp.%s.%s", dir, base, rnd);
		if (rc) { vz_hasher_free(t->hasher); t->hasher = NULL; return rc; }
		rc = vz_io_open_write(t->path, O_RDWR | O_CREAT | O_EXCL, 0644, &t->fd);
		if (rc == VZ_EEXIST) continue;
		if (rc) { vz_hasher_free(t->hasher); t->hasher = NULL; return rc; }
		return VZ_OK;
	}
	vz_hasher_free(t->hasher);
	t->hasher = NULL;
	return vz_fail(VZ_EEXIST, "%s: could not create a unique temp file", t->path);
}

int vz_tmpfile_write(vz_tmpfile *t, const void *buf, size_t len)
{
	int rc = vz_io_write(t->fd, buf, len, t->path);
	if (rc) return rc;
	vz_hasher_update(t->hasher, buf, len);
	t->written += len;
	return VZ_OK;
}

void vz_stage_init(vz_stage *s, vz_tmpfile *t, size_t cap)
{
	s->t = t;
	s->used = 0;
	s->buf = cap ? malloc(cap) : NULL;
	s->cap = s->buf ? cap : 0;
}

static int stage_flush(vz_stage *s)
{
	int rc = s->used ? vz_tmpfile_write(s->t, s->buf, s->used) : VZ_OK;
	s->used = 0;
	return rc;
}

int vz_stage_write(vz_stage *s, const void *buf, size_t len)
{
	if (len == 0) return VZ_OK;
	if (s->used + len > s->cap) {
		int rc = stage_flush(s);
		if (rc) return rc;
		if (len >= s->cap) return vz_tmpfile_write(s->t, buf, len);
	}
	memcpy(s->buf + s->used, buf, len);
	s->used += len;
	return VZ_OK;
}

int vz_stage_finish(vz_stage *s)
{
	int rc = stage_flush(s); /* nothing is staged without a buffer */
	free(s->buf);
	s->buf = NULL;
	s->cap = 0;
	return rc;
}

static void tmpfile_release(vz_tmpfile *t)
{
	vz_io_close(t->fd);
	t->fd = -1;
	vz_hasher_free(t->hasher);
	t->hasher = NULL;
}

void vz_tmpfile_abort(vz_tmpfile *t)
{
	if (t->fd < 0 && !t->hasher) return;
	tmpfile_release(t);
	/* Best effort and uncounted by design: a failed cleanup leaves a .vztmp file that
	 * vz_cleanup_temps removes later, never a wrong target. */
	unlink(t->path);
}

int vz_tmpfile_commit_as(vz_tmpfile *t, const char *to)
{
	int rc = vz_io_fsync(t->fd, t->path);
	if (rc) { vz_tmpfile_abort(t); return rc; }
	if ((rc = vz_io_rename(t->path, to))) { vz_tmpfile_abort(t); return rc; }
	tmpfile_release(t);
	char dir[4096];
	parent_of(to, dir, sizeof dir);
	return vz_io_fsync_dir(dir);
}

int vz_tmpfile_commit(vz_tmpfile *t) { return vz_tmpfile_commit_as(t, t->target); }

int vz_atomic_write(const char *path, const void *buf, size_t len)
{
	vz_tmpfile t;
	int rc = vz_tmpfile_open(&t, path);
	if (rc) return rc;
	if ((rc = vz_tmpfile_write(&t, buf, len))) { vz_tmpfile_abort(&t); return rc; }
	return vz_tmpfile_commit(&t);
}

int vz_cleanup_temps(const char *dir, int *removed)
{
	if (removed) *removed = 0;
	DIR *d = opendir(dir);
	if (!d) return errno == ENOENT ? VZ_OK : os_fail(errno, "open directory", dir);
	struct dirent *e;
	int rc = VZ_OK;
	while ((e = readdir(d))) {
		if (strncmp(e->d_name, ".vztmp.", 7) != 0) continue;
		char p[4096];
		if ((rc = vz_path_fmt(p, sizeof p, "%s/%s", dir, e->d_name))) break;
		if ((rc = vz_io_remove_tree(p))) break;
		if (removed) (*removed)++;
	}
	closedir(d);
	return rc;
}
