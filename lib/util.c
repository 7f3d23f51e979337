/* util.c: file mapping, whole-file reads, names and small helpers. */

#include "vz.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int vz_map_file(const char *path, vz_map *m)
{
	m->data = NULL;
	m->size = 0;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) return vz_fail(VZ_ENOENT, "%s: no such file", path);
		if (errno == ELOOP) return vz_fail(VZ_EPERM, "%s: is a symlink; refusing to follow it", path);
		return vz_fail(vz_err_from_errno(errno), "%s: open: %s", path, strerror(errno));
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		return vz_fail(vz_err_from_errno(e), "%s: stat: %s", path, strerror(e));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return vz_fail(VZ_EDATA, "%s: not a regular file", path);
	}
	if (st.st_size > 0) {
		void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED) {
			int e = errno;
			close(fd);
			return vz_fail(vz_err_from_errno(e), "%s: mmap: %s", path, strerror(e));
		}
		m->data = p;
		m->size = (size_t)st.st_size;
	}
	close(fd);
	return VZ_OK;
}

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

/* Enters every page of [p, p+len) into the page tables (MADV_POPULATE_READ, Linux 5.14+;
 * before that, one read per page). */
static void populate(const unsigned char *p, size_t len)
{
	if (!len || madvise((void *)p, len, MADV_POPULATE_READ) == 0) return;
	long page = sysconf(_SC_PAGESIZE);
	volatile unsigned char sink = 0;
	for (size_t at = 0; at < len; at += (size_t)(page > 0 ? page : 4096)) sink ^= p[at];
	(void)sink;
}

#define HUGE_PAGE ((size_t)2 << 20)

/* Copies the mapped pages [start, start+len) into anonymous memory and moves that memory
 * over them with mremap, so every pointer into the mapping stays valid. The copy
 * goes 4 MiB at a time, each part of the file mapping dropped once copied, so the resident
 * size holds at most 4 MiB of the range twice. False when it could not (nothing changed then but the
 * dropped pages, which fault back in from the page cache). */
static bool move_to_anonymous(unsigned char *start, size_t len)
{
	unsigned char *base = mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED) return false;
	/* the same offset within a 2 MiB page as start, so that the kernel may later merge the
	 * pages into huge ones (khugepaged) without moving them */
	size_t shift = ((uintptr_t)start - (uintptr_t)base) & (HUGE_PAGE - 1);
	unsigned char *copy = base + shift;
	if (shift) munmap(base, shift);
	if (HUGE_PAGE - shift) munmap(copy + len, HUGE_PAGE - shift);
	const size_t part = 4u << 20;
	for (size_t at = 0; at < len; at += part) {
		size_t n = len - at < part ? len - at : part;
		memcpy(copy + at, start + at, n);
		madvise(start + at, n, MADV_DONTNEED);
	}
	if (mprotect(copy, len, PROT_READ) != 0 || mremap(copy, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, start) == MAP_FAILED) {
		munmap(copy, len);
		return false;
	}
	return true;
}

void vz_map_preload(const vz_map *m, size_t off, size_t len)
{
	if (!m->data || off >= m->size) return;
	if (len > m->size - off) len = m->size - off;
	long page = sysconf(_SC_PAGESIZE);
	size_t pg = page > 0 ? (size_t)page : 4096;
	/* the whole pages inside the range move; the partial pages at its ends are populated */
	uintptr_t lo = ((uintptr_t)m->data + off + pg - 1) & ~(uintptr_t)(pg - 1);
	uintptr_t hi = ((uintptr_t)m->data + off + len) & ~(uintptr_t)(pg - 1);
	if (hi <= lo || hi - lo < HUGE_PAGE || !move_to_anonymous((unsigned char *)lo, hi - lo)) {
		populate(m->data + off, len);
		return;
	}
	populate(m->data + off, lo - ((uintptr_t)m->data + off));
	populate((const unsigned char *)hi, (uintptr_t)m->data + off + len - hi);
}

static double seconds_now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

bool vz_map_prefault(const vz_map *m)
{
	/* the first 2 MiB tell how the page cache holds the file: one entry takes a few
	 * microseconds, 512 take some 60-100 (measured on the 1M x 128 index: a 32 MiB first part
	 * cost a one-shot query 1 ms, more than the faults it saved) */
	size_t part = 2u << 20;
	double spent = 0;
	for (size_t at = 0; m->data && at < m->size; at += part) {
		size_t n = m->size - at < part ? m->size - at : part;
		double t0 = seconds_now();
		if (madvise((void *)(m->data + at), n, MADV_POPULATE_READ) != 0) return false;
		double took = seconds_now() - t0;
		spent += took;
		/* and half a millisecond in all: a query visits a few thousand rows, so past a few
		 * hundred MiB the entries cost more than the faults they save (10M x 128, 7 GiB held
		 * in huge pages: 12 ms CPU to enter whole, 9 ms with 2 ms of entries, 6 ms with 0.5) */
		if (took > (at == 0 ? 30e-6 : 1e-3) || spent > 0.5e-3) return at + n >= m->size;
		part = 32u << 20;
	}
	return true;
}

void vz_map_advise_huge(const vz_map *m, bool huge)
{
	if (m->data && m->size >= (2u << 20)) madvise((void *)m->data, m->size, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
}

void vz_cache_huge(const char *path)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) return;
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= (2 << 20)) {
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		/* through a window of 32 MiB, so that the writer's peak RSS grows by no more */
		const size_t window = 32u << 20;
		for (size_t at = 0; at < (size_t)st.st_size; at += window) {
			size_t len = (size_t)st.st_size - at < window ? (size_t)st.st_size - at : window;
			vz_map m = { mmap(NULL, len, PROT_READ, MAP_SHARED, fd, (off_t)at), len };
			if (m.data == MAP_FAILED) break;
			madvise((void *)m.data, m.size, MADV_HUGEPAGE);
			populate(m.data, m.size);
			vz_unmap(&m);
		}
	}
	close(fd);
}

void vz_unmap(vz_map *m)
{
	if (m->data) munmap((void *)m->data, m->size);
	m->data = NULL;
	m->size = 0;
}

void vz_map_release(const void *from, const void *to)
{
	static uintptr_t page;
	if (!page) page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo = ((uintptr_t)from + page - 1) & ~(page - 1), hi = (uintptr_t)to & ~(page - 1);
	if (hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

void vz_release_behind(vz_releaser *r, const void *at)
{
	const char *p = at;
	if (!r->on) return;
	if (!r->done || p < r->done) r->done = p; /* the first row, or a new pass */
	else if (p - r->done >= (16 << 20)) {
		vz_map_release(r->done, p);
		r->done = p;
	}
}

int vz_read_file(const char *path, size_t max_len, char **out, size_t *len)
{
	return vz_read_file_lines(path, max_len, 0, out, len);
}

int vz_read_file_lines(const char *path, size_t max_len, size_t max_line, char **out, size_t *len)
{
	*out = NULL;
	if (len) *len = 0;
	int fd = (path[0] == '-' && path[1] == '\0') ? dup(0) : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT) return vz_fail(VZ_ENOENT, "%s: no such file", path);
		return vz_fail(vz_err_from_errno(errno), "%s: open: %s", path, strerror(errno));
	}
	/* Read up to max_len + 1 bytes: one byte past the limit proves the file is too large. */
	size_t limit = max_len + 1, cap = limit < 4096 ? limit : 4096, n = 0, line_start = 0, lines = 0;
	char *buf = malloc(cap + 1);
	if (!buf) { close(fd); return vz_fail(VZ_ENOMEM, "out of memory"); }
	for (;;) {
		if (n == cap) {
			if (cap >= limit) break;
			size_t ncap = cap * 2 > limit ? limit : cap * 2;
			char *nb = realloc(buf, ncap + 1);
			if (!nb) { free(buf); close(fd); return vz_fail(VZ_ENOMEM, "out of memory"); }
			buf = nb;
			cap = ncap;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR) continue;
			int e = errno;
			free(buf);
			close(fd);
			return vz_fail(vz_err_from_errno(e), "%s: read: %s", path, strerror(e));
		}
		if (r == 0) break;
		/* A line past max_line is refused as soon as it is seen, so a gigabyte-long line on a
		 * pipe costs max_line bytes of memory and no more reading. */
		for (const char *p = buf + n, *end = buf + n + r; max_line && p < end;) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			if (!nl && (size_t)(end - buf) - line_start > max_line) {
				free(buf);
				close(fd);
				return vz_fail(VZ_EDATA, "%s: line %zu: longer than %zu bytes", strcmp(path, "-") ? path : "stdin", lines + 1, max_line);
			}
			if (!nl) break;
			lines++;
			line_start = (size_t)(nl + 1 - buf);
			p = nl + 1;
		}
		n += (size_t)r;
	}
	if (n > max_len) {
		free(buf);
		close(fd);
		return vz_fail(VZ_ERANGE, "%s: larger than the limit of %zu bytes", path, max_len);
	}
	close(fd);
	buf[n] = '\0';
	*out = buf;
	if (len) *len = n;
	return VZ_OK;
}

bool vz_name_valid(const char *name)
{
	if (!name) return false;
	size_t n = strlen(name);
	if (n == 0 || n > 64) return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (i == 0 ? !alnum : !(alnum || c == '.' || c == '_' || c == '-')) return false;
	}
	return true;
}

size_t vz_utf8_char_len(const unsigned char *s, size_t left)
{
	if (!left) return 0;
	unsigned char c = s[0];
	size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
	if (!n || n > left) return 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xC0) != 0x80) return 0;
	uint32_t cp = n == 2 ? (c & 0x1Fu) << 6 | (s[1] & 0x3Fu)
		    : n == 3 ? (c & 0x0Fu) << 12 | (s[1] & 0x3Fu) << 6 | (s[2] & 0x3Fu)
		    : n == 4 ? (c & 0x07u) << 18 | (s[1] & 0x3Fu) << 12 | (s[2] & 0x3Fu) << 6 | (s[3] & 0x3Fu) : c;
	if ((n == 2 && cp < 0x80) || (n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	return n;
}

bool vz_utf8_valid(const char *s, size_t len, size_t *bad)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < len;) {
		if (u[i] < 0x80) { i++; continue; }
		size_t n = vz_utf8_char_len(u + i, len - i);
		if (!n) {
			if (bad) *bad = i;
			return false;
		}
		i += n;
	}
	return true;
}

int vz_path_fmt(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(out, cap, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= cap) return vz_fail(VZ_ERANGE, "path too long: %.80s...", out);
	return VZ_OK;
}

int vz_path_parent(const char *path, char *out, size_t cap)
{
	const char *slash = strrchr(path, '/');
	if (!slash) return vz_path_fmt(out, cap, ".");
	if (slash == path) return vz_path_fmt(out, cap, "/");
	return vz_path_fmt(out, cap, "%.*s", (int)(slash - path), path);
}

double vz_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
