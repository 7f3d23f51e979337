/* walk.c: what a workspace build reads: glob patterns, the project walk (with the paths that
 * are always skipped) and the chunking of text. */
#include "ws_internal.h"

#include <dirent.h>
#include <limits.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define WALK_MAX_DEPTH 64

/* ---- glob ---- */

/* Matches one class "[...]" at *pp against c; advances *pp past it. -1 when malformed. */
static int match_class(const char **pp, char c)
{
	const char *p = *pp + 1;
	bool neg = *p == '!' || *p == '^';
	if (neg) p++;
	bool hit = false, first = true;
	while (*p && (*p != ']' || first)) {
		first = false;
		char lo = *p, hi = lo;
		if (p[1] == '-' && p[2] && p[2] != ']') {
			hi = p[2];
			p += 2;
		}
		if (c >= lo && c <= hi) hit = true;
		p++;
	}
	if (*p != ']') return -1;
	*pp = p + 1;
	return hit != neg;
}

/* Backtracking over '*' and '**' is exponential on hostile patterns ("*a*a*a*a*a*a*a*b" against
 * a long name of a's, from a workspace file): a (pattern, path) position pair at a star that
 * failed once fails again, so each is remembered and tried at most once. */
struct glob_memo {
	const char *p0, *s0;
	size_t slen;
	unsigned char *failed; /* a bit per (pattern offset, path offset); NULL: no memo */
};

static bool match_here(struct glob_memo *m, const char *p, const char *s);

static bool match_star(struct glob_memo *m, const char *p, const char *s)
{
	size_t key = (size_t)(p - m->p0) * (m->slen + 1) + (size_t)(s - m->s0);
	if (m->failed && (m->failed[key / 8] >> (key % 8) & 1)) return false;
	bool ok = false;
	if (p[1] == '*' && (p[2] == '/' || !p[2])) {
		const char *rest = p[2] ? p + 3 : p + 2;
		if (!*rest) return true;
		/* zero or more whole segments */
		for (const char *t = s;; t++) {
			if ((t == s || t[-1] == '/') && match_here(m, rest, t)) { ok = true; break; }
			if (!*t) break;
		}
	} else {
		const char *q = p;
		while (*q == '*') q++;
		for (const char *t = s;; t++) {
			if (match_here(m, q, t)) { ok = true; break; }
			if (!*t || *t == '/') break;
		}
	}
	if (!ok && m->failed) m->failed[key / 8] |= (unsigned char)(1u << (key % 8));
	return ok;
}

static bool match_here(struct glob_memo *m, const char *p, const char *s)
{
	while (*p) {
		if (*p == '*') return match_star(m, p, s);
		if (!*s) return false;
		if (*p == '?') {
			if (*s == '/') return false;
		} else if (*p == '[') {
			const char *q = p;
			int r = match_class(&q, *s);
			if (r < 0) {
				if (*s != '[') return false; /* a lone '[' is literal */
			} else {
				if (!r || *s == '/') return false;
				p = q;
				s++;
				continue;
			}
		} else if (*p != *s) {
			return false;
		}
		p++;
		s++;
	}
	return !*s;
}

static bool match_memo(const char *pattern, const char *path)
{
	size_t plen = strlen(pattern), slen = strlen(path), bytes = ((plen + 1) * (slen + 1) + 7) / 8;
	unsigned char small[512];
	struct glob_memo m = { pattern, path, slen, bytes <= sizeof small ? small : calloc(bytes, 1) };
	if (m.failed == small) memset(small, 0, bytes);
	bool ok = match_here(&m, pattern, path);
	if (m.failed != small) free(m.failed);
	return ok;
}

bool vz_glob_match(const char *pattern, const char *path)
{
	if (!strchr(pattern, '/')) {
		const char *base = strrchr(path, '/');
		if (match_memo(pattern, base ? base + 1 : path)) return true;
	}
	return match_memo(pattern, path);
}

/* ---- walk ---- */

static bool skipped_dir(const char *name)
{
	static const char *const names[] = { ".git", "node_modules", "target", "dist", "build" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strcmp(name, names[i])) return true;
	return false;
}

bool vz_ws_lock_file(const char *name)
{
	size_t n = strlen(name);
	if (n > 5 && !strcmp(name + n - 5, ".lock")) return true;
	return !strcmp(name, "package-lock.json") || !strcmp(name, "pnpm-lock.yaml") || !strcmp(name, "npm-shrinkwrap.json") ||
	       !strcmp(name, "LOCK") || !strncmp(name, ".vztmp.", 7);
}

/* supported_extensions: the name ends in ".EXT" for one of them (all when none is given) */
static bool extension_wanted(const vz_ws_collection *c, const char *name)
{
	if (!c->n_extensions) return true;
	const char *dot = strrchr(name, '.');
	for (size_t i = 0; dot && i < c->n_extensions; i++)
		if (!strcasecmp(dot + 1, c->extensions[i])) return true;
	return false;
}

static bool wanted(const vz_ws_collection *c, const char *rel)
{
	bool in = false;
	for (size_t i = 0; i < c->n_include && !in; i++) in = vz_glob_match(c->include[i], rel);
	for (size_t i = 0; i < c->n_exclude && in; i++) in = !vz_glob_match(c->exclude[i], rel);
	return in;
}

typedef struct walker {
	const vz_ws_collection *c;
	dev_t skip_dev;
	ino_t skip_ino;
	bool have_skip;
	vz_ws_entry *out;
	size_t n, cap;
	size_t too_large;
} walker;

static _Thread_local size_t last_too_large;

size_t vz_ws_walk_too_large(void) { return last_too_large; }

static int push(walker *w, const char *rel, const struct stat *st)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 256;
		vz_ws_entry *e = realloc(w->out, cap * sizeof *e);
		if (!e) return vz_fail(VZ_ENOMEM, "out of memory");
		w->out = e;
		w->cap = cap;
	}
	char *p = strdup(rel);
	if (!p) return vz_fail(VZ_ENOMEM, "out of memory");
	w->out[w->n++] = (vz_ws_entry){ .path = p, .size = (uint64_t)st->st_size,
					 .mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec };
	return VZ_OK;
}

static int walk_dir(walker *w, int dfd, char *rel, size_t rel_len, int depth)
{
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return VZ_OK;
	}
	int rc = VZ_OK;
	struct dirent *de;
	while (!rc && (de = readdir(d))) {
		const char *name = de->d_name;
		if (!strcmp(name, ".") || !strcmp(name, "..")) continue;
		if (name[0] == '.' && w->c->skip_hidden) continue; /* .env, .ssh, .cache: secrets and noise */
		size_t nl = strlen(name);
		if (rel_len + nl + 2 >= PATH_MAX) continue; /* longer than the kernel takes: skipped */
		struct stat st;
		if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW)) continue; /* vanished meanwhile */
		size_t at = rel_len;
		if (rel_len) rel[at++] = '/';
		memcpy(rel + at, name, nl + 1);
		if (S_ISDIR(st.st_mode)) {
			bool data_dir = w->have_skip && st.st_dev == w->skip_dev && st.st_ino == w->skip_ino;
			if (!skipped_dir(name) && !data_dir && depth < WALK_MAX_DEPTH) {
				int sub = openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
				if (sub >= 0) rc = walk_dir(w, sub, rel, at + nl, depth + 1);
			}
		} else if (S_ISREG(st.st_mode) && !vz_ws_lock_file(name) && extension_wanted(w->c, name) && wanted(w->c, rel)) {
			if ((uint64_t)st.st_size <= w->c->max_file_size) rc = push(w, rel, &st);
			else w->too_large++;
		}
		rel[rel_len] = 0;
	}
	closedir(d);
	return rc;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const vz_ws_entry *)a)->path, ((const vz_ws_entry *)b)->path);
}

void vz_ws_entries_free(vz_ws_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) free(e[i].path);
	free(e);
}

int vz_ws_walk(const vz_ws_collection *c, const char *data_dir, vz_ws_entry **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	walker w = { .c = c };
	struct stat st;
	if (data_dir && stat(data_dir, &st) == 0) {
		w.skip_dev = st.st_dev;
		w.skip_ino = st.st_ino;
		w.have_skip = true;
	}
	int dfd = open(c->project_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 && (errno == ENOENT || errno == ENOTDIR))
		return vz_fail(VZ_ECONFIG, "project %s: path %s: no such directory", c->project, c->project_dir);
	if (dfd < 0) return vz_fail(vz_err_from_errno(errno), "project %s: %s: %s", c->project, c->project_dir, strerror(errno));
	char rel[VZ_PATH_MAX] = "";
	int rc = walk_dir(&w, dfd, rel, 0, 0);
	last_too_large = w.too_large;
	if (rc) {
		vz_ws_entries_free(w.out, w.n);
		return rc;
	}
	if (w.n) qsort(w.out, w.n, sizeof *w.out, cmp_entry);
	*out = w.out;
	*n = w.n;
	return VZ_OK;
}

/* ---- chunks ---- */

static bool space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v'; }
static bool continuation(unsigned char c) { return (c & 0xC0) == 0x80; }

/* Where to end a chunk that may not go past limit: after a sentence end or paragraph break in
 * the second half, else after the last whitespace, else before a UTF-8 character start. */
static size_t chunk_end(const char *t, size_t start, size_t limit)
{
	size_t half = start + (limit - start) / 2;
	for (size_t i = limit; i > half; i--) {
		if (i - start < 2) break;
		char a = t[i - 2], b = t[i - 1];
		if (space(b) && (a == '.' || a == '!' || a == '?' || a == '\n')) return i;
	}
	for (size_t i = limit; i > half; i--)
		if (space(t[i - 1])) return i;
	size_t i = limit;
	while (i > start + 1 && continuation((unsigned char)t[i])) i--;
	return i;
}

int vz_ws_chunks(const char *t, size_t len, uint32_t size, uint32_t overlap, vz_ws_span **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	size_t cap = 0, start = 0;
	while (start < len) {
		size_t end = len - start <= size ? len : chunk_end(t, start, start + size);
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			vz_ws_span *s = realloc(*out, cap * sizeof *s);
			if (!s) {
				free(*out);
				*out = NULL;
				*n = 0;
				return vz_fail(VZ_ENOMEM, "out of memory");
			}
			*out = s;
		}
		(*out)[(*n)++] = (vz_ws_span){ start, end };
		if (end == len) break;
		/* the next chunk starts overlap bytes back, at a word start, always moving forward */
		size_t next = end > start + overlap ? end - overlap : end;
		if (next <= start) next = end;
		while (next < end && !space(t[next - 1])) next++;
		while (next < end && continuation((unsigned char)t[next])) next++;
		start = next;
	}
	return VZ_OK;
}
