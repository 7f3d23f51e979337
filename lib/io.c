/* io.c: the one I/O layer through which every on-disk change passes, with fault injection.
 *
 * Why one layer: durability bugs hide in the rare paths (a failed fsync, a crash between a
 * rename and a directory fsync). Counting every mutating call lets the tests fail or crash
 * each one in turn (VZ_FAULT) and prove that the files are always the old or the new state.
 * The power-cut mode (N:powercut, N:garble) goes further: it also throws away, at the cut,
 * whatever the page cache would lose with the power, so a missing fsync shows up in the tests. */

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

enum fault_kind { FAULT_NONE, FAULT_ERRNO, FAULT_CRASH, FAULT_TORN, FAULT_STOP, FAULT_POWERCUT, FAULT_GARBLE };

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
	else if (!strcmp(what, "powercut")) io.kind = FAULT_POWERCUT;
	else if (!strcmp(what, "garble")) io.kind = FAULT_GARBLE;
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

static void pc_cut(void) __attribute__((noreturn));

static void die_now(void)
{
	/* A real crash: no atexit handlers, no stdio flush, no cleanup. */
	kill(getpid(), SIGKILL);
	_exit(137);
}

/* A plain positioned write of all of buf (the power-cut's own, never counted). */
static int write_all_raw(int fd, const unsigned char *p, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t w = pwrite(fd, p, len, off);
		if (w < 0 && errno == EINTR) continue;
		if (w <= 0) return -1;
		p += w; len -= (size_t)w; off += w;
	}
	return 0;
}
/* ---- power-cut simulation (VZ_FAULT=N:powercut and N:garble) ----
 *
 * A crash keeps everything the process wrote (it is in the page cache); a power cut does not.
 * In power-cut mode the layer remembers, for every file changed since its last fsync or
 * fdatasync, its durable contents (read before the first change) and the ranges written since;
 * and, in order, every create, mkdir, rename, unlink and rmdir whose directory has not been
 * fsynced since (with the durable contents of whatever a rename replaced or an unlink removed).
 * At call N, before doing it, the cut puts the files back to their durable contents (garble: the
 * ranges written since the fsync hold, per 512-byte sector, the new bytes, the old ones, zeros
 * or random bytes, as a disk that wrote part of them), undoes the directory changes newest first
 * and kills the process. A rename is durable once the directory of its new name is fsynced
 * (between two directories too: journalling file systems commit a rename whole; vz renames
 * out of temporary directories only, whose state does not matter). */

struct pc_range { off_t off; size_t len; };

struct pc_file {
	dev_t dev;
	ino_t ino;
	int wfd, rfd;              /* our own descriptors: they outlive the caller's close */
	bool dirty;                /* changed since the last fsync */
	unsigned char *snap;       /* its durable contents */
	size_t snap_len;
	struct pc_range *ranges;   /* written since the last fsync */
	size_t nranges, cap;
};

enum pc_op { PC_CREATE, PC_MKDIR, PC_RENAME, PC_EXCHANGE, PC_UNLINK, PC_RMDIR };

struct pc_dirop {
	enum pc_op op;
	char *path, *from;         /* from: a rename's old name */
	dev_t dev;
	ino_t ino;                 /* the directory whose fsync makes the change durable */
	bool had_file, had_dir;    /* the name held a file (contents below) or an empty directory */
	unsigned char *old;
	size_t old_len;
	mode_t old_mode;
};

static struct {
	struct pc_file *f;
	size_t nf, capf;
	struct pc_dirop *d;
	size_t nd, capd;
} pc;

static bool pc_on(void) { return io.kind == FAULT_POWERCUT || io.kind == FAULT_GARBLE; }


static void *pc_grow(void *p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap) return p;
	size_t c = *cap ? *cap * 2 : 16;
	void *q = realloc(p, c * size);
	if (!q) die_now(); /* the simulation cannot go on faithfully: stop as a crash would */
	*cap = c;
	return q;
}

/* Reads all of fd from offset 0 into a malloc'd buffer. */
static unsigned char *pc_read_all(int fd, size_t *len)
{
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) die_now();
	size_t n = (size_t)st.st_size, got = 0;
	unsigned char *b = malloc(n ? n : 1);
	if (!b) die_now();
	while (got < n) {
		ssize_t r = pread(fd, b + got, n - got, (off_t)got);
		if (r < 0 && errno == EINTR) continue;
		if (r <= 0) break;
		got += (size_t)r;
	}
	*len = got;
	return b;
}

static struct pc_file *pc_find(dev_t dev, ino_t ino)
{
	for (size_t i = 0; i < pc.nf; i++)
		if (pc.f[i].dev == dev && pc.f[i].ino == ino) return &pc.f[i];
	return NULL;
}

static struct pc_file *pc_file_of(int fd)
{
	struct stat st;
	if (fstat(fd, &st) != 0) die_now();
	struct pc_file *f = pc_find(st.st_dev, st.st_ino);
	if (f) return f;
	pc.f = pc_grow(pc.f, &pc.capf, pc.nf, sizeof *pc.f);
	f = &pc.f[pc.nf++];
	memset(f, 0, sizeof *f);
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	/* new open file descriptions, not dups: a dup would share (and so keep) the caller's flock */
	char proc[64];
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	f->wfd = open(proc, O_WRONLY | O_CLOEXEC);
	f->rfd = open(proc, O_RDONLY | O_CLOEXEC);
	if (f->wfd < 0 || f->rfd < 0) die_now(); /* cannot simulate faithfully: stop as a crash */
	return f;
}

/* The file is about to change: keep its durable contents if they are not kept yet. */
static void pc_dirty(struct pc_file *f)
{
	if (f->dirty) return;
	f->snap = pc_read_all(f->rfd, &f->snap_len);
	f->dirty = true;
	f->nranges = 0;
}

static void pc_write(int fd, size_t len, off_t off, bool positioned)
{
	if (!pc_on() || len == 0) return;
	if (!positioned) {
		struct stat st;
		int fl = fcntl(fd, F_GETFL);
		if (fl >= 0 && (fl & O_APPEND)) off = fstat(fd, &st) == 0 ? st.st_size : 0;
		else off = lseek(fd, 0, SEEK_CUR);
	}
	struct pc_file *f = pc_file_of(fd);
	pc_dirty(f);
	f->ranges = pc_grow(f->ranges, &f->cap, f->nranges, sizeof *f->ranges);
	f->ranges[f->nranges++] = (struct pc_range){ off, len };
}

static void pc_truncate(int fd)
{
	if (pc_on()) pc_dirty(pc_file_of(fd));
}

static void pc_synced(int fd)
{
	struct stat st;
	if (!pc_on() || fstat(fd, &st) != 0) return;
	struct pc_file *f = pc_find(st.st_dev, st.st_ino);
	if (!f || !f->dirty) return;
	free(f->snap);
	f->snap = NULL;
	f->snap_len = 0;
	f->nranges = 0;
	f->dirty = false;
}

/* The durable contents of the file at path (NULL when it is no regular file). */
static unsigned char *pc_durable_copy(const char *path, size_t *len, mode_t *mode, bool *is_dir)
{
	struct stat st;
	*is_dir = false;
	if (lstat(path, &st) != 0) return NULL;
	*mode = st.st_mode & 07777;
	if (S_ISDIR(st.st_mode)) { *is_dir = true; return NULL; }
	if (!S_ISREG(st.st_mode)) return NULL;
	struct pc_file *f = pc_find(st.st_dev, st.st_ino);
	if (f && f->dirty) {
		unsigned char *b = malloc(f->snap_len ? f->snap_len : 1);
		if (!b) die_now();
		memcpy(b, f->snap, f->snap_len);
		*len = f->snap_len;
		return b;
	}
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) die_now();
	unsigned char *b = pc_read_all(fd, len);
	close(fd);
	return b;
}

/* Records a directory change just made; old (may be NULL) is the durable copy of what it replaced. */
static void pc_dir_change(enum pc_op op, const char *path, const char *from, unsigned char *old, size_t old_len,
			  mode_t old_mode, bool had_dir)
{
	pc.d = pc_grow(pc.d, &pc.capd, pc.nd, sizeof *pc.d);
	struct pc_dirop *d = &pc.d[pc.nd++];
	memset(d, 0, sizeof *d);
	d->op = op;
	d->path = strdup(path);
	d->from = from ? strdup(from) : NULL;
	if (!d->path || (from && !d->from)) die_now();
	d->had_file = old != NULL;
	d->had_dir = had_dir;
	d->old = old;
	d->old_len = old_len;
	d->old_mode = old_mode;
	char dir[VZ_PATH_MAX];
	struct stat st;
	if (vz_path_parent(path, dir, sizeof dir) || stat(dir, &st) != 0) die_now();
	d->dev = st.st_dev;
	d->ino = st.st_ino;
}

static void pc_dir_synced(const char *dir)
{
	struct stat st;
	if (!pc_on() || stat(dir, &st) != 0) return;
	size_t keep = 0;
	for (size_t i = 0; i < pc.nd; i++) {
		struct pc_dirop *d = &pc.d[i];
		if (d->dev == st.st_dev && d->ino == st.st_ino) {
			free(d->path);
			free(d->from);
			free(d->old);
		} else {
			pc.d[keep++] = *d;
		}
	}
	pc.nd = keep;
}

static void pc_rm_tree(const char *path)
{
	DIR *dir = opendir(path);
	if (dir) {
		struct dirent *e;
		while ((e = readdir(dir))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
			char child[VZ_PATH_MAX];
			snprintf(child, sizeof child, "%s/%s", path, e->d_name);
			struct stat st;
			if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode)) pc_rm_tree(child);
			else unlink(child);
		}
		closedir(dir);
	}
	rmdir(path);
}

static void pc_put_back(const char *path, const unsigned char *b, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) return;
	if (write_all_raw(fd, b, len, 0)) { /* best effort: nothing else can be done at the cut */ }
	close(fd);
}

static uint64_t pc_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Garble: the durable contents, with each written sector (new size kept) as the new bytes,
 * the old ones, zeros or random bytes. */
static void pc_garble(struct pc_file *f, uint64_t *seed)
{
	size_t n;
	unsigned char *now = pc_read_all(f->rfd, &n);
	for (size_t r = 0; r < f->nranges; r++) {
		size_t a = (size_t)f->ranges[r].off, b = a + f->ranges[r].len;
		if (b > n) b = n;
		while (a < b) {
			size_t end = (a / 512 + 1) * 512;
			if (end > b) end = b;
			uint64_t pick = pc_rand(seed) % 4;
			for (size_t i = a; i < end; i++) {
				if (pick == 1) now[i] = i < f->snap_len ? f->snap[i] : 0;
				else if (pick == 2) now[i] = 0;
				else if (pick == 3) now[i] = (unsigned char)pc_rand(seed);
			}
			a = end;
		}
	}
	write_all_raw(f->wfd, now, n, 0);
	free(now);
}

static void pc_cut(void)
{
	uint64_t seed = io.at * 0x9E3779B97F4A7C15ull | 1;
	for (size_t i = 0; i < pc.nf; i++) {
		struct pc_file *f = &pc.f[i];
		if (!f->dirty) continue;
		if (io.kind == FAULT_GARBLE) {
			pc_garble(f, &seed);
		} else {
			if (ftruncate(f->wfd, (off_t)f->snap_len) != 0) { /* best effort */ }
			write_all_raw(f->wfd, f->snap, f->snap_len, 0);
		}
	}
	for (size_t i = pc.nd; i-- > 0;) {
		struct pc_dirop *d = &pc.d[i];
		switch (d->op) {
		case PC_CREATE: unlink(d->path); break;
		case PC_MKDIR: pc_rm_tree(d->path); break;
		case PC_RMDIR: mkdir(d->path, 0755); break;
		case PC_UNLINK:
			if (d->had_file) pc_put_back(d->path, d->old, d->old_len, d->old_mode);
			break;
		case PC_RENAME:
			if (rename(d->path, d->from) != 0) break;
			if (d->had_file) pc_put_back(d->path, d->old, d->old_len, d->old_mode);
			else if (d->had_dir) mkdir(d->path, d->old_mode);
			break;
		case PC_EXCHANGE: renameat2(AT_FDCWD, d->path, AT_FDCWD, d->from, RENAME_EXCHANGE); break;
		}
	}
	die_now();
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
	case FAULT_POWERCUT:
	case FAULT_GARBLE: pc_cut();
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
	for (size_t i = 0; i < pc.nf; i++) {
		close(pc.f[i].wfd);
		close(pc.f[i].rfd);
		free(pc.f[i].snap);
		free(pc.f[i].ranges);
	}
	for (size_t i = 0; i < pc.nd; i++) {
		free(pc.d[i].path);
		free(pc.d[i].from);
		free(pc.d[i].old);
	}
	free(pc.f);
	free(pc.d);
	memset(&pc, 0, sizeof pc);
	load_fault_config();
}

int vz_io_open_write(const char *path, int flags, mode_t mode, int *fd)
{
	int g = io_gate("open", path);
	if (g < 0) die_now();
	if (g) return os_fail(g, "open", path);
	struct stat before;
	bool existed = pc_on() && lstat(path, &before) == 0;
	size_t old_len = 0;
	mode_t old_mode = 0;
	bool old_dir;
	unsigned char *old = existed && (flags & O_TRUNC) ? pc_durable_copy(path, &old_len, &old_mode, &old_dir) : NULL;
	int f = open(path, flags | O_NOFOLLOW | O_CLOEXEC, mode);
	if (f < 0) {
		free(old);
		if (errno == ELOOP) return vz_fail(VZ_EPERM, "%s: refusing to open through a symlink", path);
		return os_fail(errno, "open", path);
	}
	if (pc_on()) {
		struct pc_file *pf = pc_file_of(f);
		if (!existed && (flags & O_CREAT)) {
			pc_dirty(pf); /* new: its durable contents are none */
			pc_dir_change(PC_CREATE, path, NULL, NULL, 0, 0, false);
		} else if (old && !pf->dirty) {
			pf->snap = old; /* truncated by the open: durable contents read before */
			pf->snap_len = old_len;
			pf->dirty = true;
			old = NULL;
		}
		free(old);
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
	pc_write(fd, len, off, positioned);
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
	/* in power-cut mode the simulation decides what is durable: no need to wait for the disk */
	if (!pc_on() && fsync(fd) != 0) return os_fail(errno, "fsync", path);
	pc_synced(fd);
	return VZ_OK;
}

int vz_io_fdatasync(int fd, const char *path)
{
	SIMPLE_GATE("fdatasync", path);
	if (!pc_on() && fdatasync(fd) != 0) return os_fail(errno, "fdatasync", path);
	pc_synced(fd);
	return VZ_OK;
}

int vz_io_ftruncate(int fd, off_t len, const char *path)
{
	SIMPLE_GATE("ftruncate", path);
	pc_truncate(fd);
	if (ftruncate(fd, len) != 0) return os_fail(errno, "truncate", path);
	return VZ_OK;
}

int vz_io_rename(const char *from, const char *to)
{
	SIMPLE_GATE("rename", to);
	size_t old_len = 0;
	mode_t old_mode = 0;
	bool old_dir = false;
	unsigned char *old = pc_on() ? pc_durable_copy(to, &old_len, &old_mode, &old_dir) : NULL;
	if (rename(from, to) != 0) { free(old); return os_fail(errno, "rename", to); }
	if (pc_on()) pc_dir_change(PC_RENAME, to, from, old, old_len, old_mode, old_dir);
	return VZ_OK;
}

int vz_io_rename_noreplace(const char *from, const char *to)
{
	SIMPLE_GATE("rename", to);
	if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) != 0) {
		if (errno == EEXIST) return vz_fail(VZ_EEXIST, "%s: already exists", to);
		return os_fail(errno, "rename", to);
	}
	if (pc_on()) pc_dir_change(PC_RENAME, to, from, NULL, 0, 0, false);
	return VZ_OK;
}

int vz_io_rename_exchange(const char *a, const char *b)
{
	SIMPLE_GATE("rename", b);
	if (renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE) != 0) return os_fail(errno, "rename", b);
	if (pc_on()) pc_dir_change(PC_EXCHANGE, b, a, NULL, 0, 0, false);
	return VZ_OK;
}

int vz_io_unlink(const char *path, bool missing_ok)
{
	SIMPLE_GATE("unlink", path);
	size_t old_len = 0;
	mode_t old_mode = 0;
	bool old_dir = false;
	unsigned char *old = pc_on() ? pc_durable_copy(path, &old_len, &old_mode, &old_dir) : NULL;
	if (unlink(path) != 0) {
		free(old);
		if (errno == ENOENT && missing_ok) return VZ_OK;
		return os_fail(errno, "unlink", path);
	}
	if (pc_on()) pc_dir_change(PC_UNLINK, path, NULL, old, old_len, old_mode, false);
	return VZ_OK;
}

int vz_io_rmdir(const char *path)
{
	SIMPLE_GATE("rmdir", path);
	if (rmdir(path) != 0) return os_fail(errno, "rmdir", path);
	if (pc_on()) pc_dir_change(PC_RMDIR, path, NULL, NULL, 0, 0, false);
	return VZ_OK;
}

void vz_io_writeback(int fd, off_t from, off_t len)
{
	if (sync_file_range(fd, from, len, SYNC_FILE_RANGE_WRITE) != 0) { /* a pipe, or not supported: only a hint */ }
}

int vz_io_link(const char *from, const char *to)
{
	SIMPLE_GATE("link", to);
	if (linkat(AT_FDCWD, from, AT_FDCWD, to, 0) != 0) {
		if (errno == EEXIST) return vz_fail(VZ_EEXIST, "%s: already exists", to);
		return os_fail(errno, "link", to);
	}
	if (pc_on()) pc_dir_change(PC_CREATE, to, NULL, NULL, 0, 0, false);
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
	if (pc_on()) pc_dir_change(PC_MKDIR, path, NULL, NULL, 0, 0, false);
	return VZ_OK;
}

int vz_io_fsync_dir(const char *dir)
{
	SIMPLE_GATE("fsync_dir", dir);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) return os_fail(errno, "open directory", dir);
	int rc = !pc_on() && fsync(fd) != 0 ? os_fail(errno, "fsync directory", dir) : VZ_OK;
	close(fd);
	if (!rc) pc_dir_synced(dir);
	return rc;
}

void vz_io_close(int fd)
{
	if (fd >= 0) close(fd);
}

int vz_io_mkdir_p(const char *path, mode_t mode)
{
	char buf[VZ_PATH_MAX];
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
			char parent[VZ_PATH_MAX];
			if ((rc = vz_path_parent(buf, parent, sizeof parent)) || (rc = vz_io_fsync_dir(parent))) return rc;
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
		char child[VZ_PATH_MAX];
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
	char dir[VZ_PATH_MAX];
	int prc = vz_path_parent(target, dir, sizeof dir);
	if (prc) return prc;
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
	char dir[VZ_PATH_MAX];
	if ((rc = vz_path_parent(to, dir, sizeof dir))) return rc;
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
		char p[VZ_PATH_MAX];
		if ((rc = vz_path_fmt(p, sizeof p, "%s/%s", dir, e->d_name))) break;
		if ((rc = vz_io_remove_tree(p))) break;
		if (removed) (*removed)++;
	}
	closedir(d);
	return rc;
}
