/* input.c: vectors from JSON lines, .fvecs, .npy and CSV; operations for apply; ids for delete.
 * Every input is untrusted: lengths and counts are checked against the real size before
 * allocating, and the first problem refuses the whole batch, naming the file and line or row.
 * JSON lines use a small strict scanner (RFC 8259) rather than a DOM parser so that a payload is
 * kept byte for byte as the raw span of its value, and floats parse with strtof directly.
 * Unknown keys in a JSON line are refused: a typo ("vectr") must not silently drop data. */
#include "vz.h"

#include <sys/stat.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64
#define MAX_INPUT ((size_t)1 << 36)

int vz_input_format_parse(const char *name, enum vz_input_format *out)
{
	size_t l = strlen(name);
	unsigned comp = 0;
	if (l > 4 && !strcmp(name + l - 4, ".zst")) comp = VZ_FMT_ZSTD, l -= 4;
	else if (l > 3 && !strcmp(name + l - 3, ".gz")) comp = VZ_FMT_GZIP, l -= 3;
	char base[16];
	snprintf(base, sizeof base, "%.*s", (int)(l < 15 ? l : 15), name);
	if (!strcmp(base, "jsonl") || !strcmp(base, "json") || !strcmp(base, "ndjson")) *out = VZ_FMT_JSONL;
	else if (!strcmp(base, "fvecs")) *out = VZ_FMT_FVECS;
	else if (!strcmp(base, "npy")) *out = VZ_FMT_NPY;
	else if (!strcmp(base, "csv")) *out = VZ_FMT_CSV;
	else return vz_fail(VZ_EINVAL, "unknown input format '%s' (jsonl, fvecs, npy, csv; each may end in .zst or .gz)", name);
	*out = (enum vz_input_format)(*out | comp);
	return VZ_OK;
}

enum vz_input_format vz_input_format_from_path(const char *path)
{
	const char *dot = strrchr(path, '.');
	if (!dot || strchr(dot, '/')) return VZ_FMT_JSONL;
	if (!strcmp(dot, ".zst") || !strcmp(dot, ".gz")) { /* rows.jsonl.zst: the suffix before */
		size_t l = (size_t)(dot - path);
		const char *inner = dot;
		while (inner > path && inner[-1] != '.' && inner[-1] != '/') inner--;
		if (inner == path || inner[-1] != '.') return VZ_FMT_JSONL;
		size_t il = l - (size_t)(inner - path);
		if (il == 5 && !strncmp(inner, "fvecs", 5)) return VZ_FMT_FVECS;
		if (il == 3 && !strncmp(inner, "npy", 3)) return VZ_FMT_NPY;
		if (il == 3 && !strncmp(inner, "csv", 3)) return VZ_FMT_CSV;
		return VZ_FMT_JSONL;
	}
	if (!strcmp(dot, ".fvecs")) return VZ_FMT_FVECS;
	if (!strcmp(dot, ".npy")) return VZ_FMT_NPY;
	if (!strcmp(dot, ".csv")) return VZ_FMT_CSV;
	return VZ_FMT_JSONL;
}

void vz_batch_free(vz_batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		if (b->ids) free(b->ids[i]);
		if (b->payloads) free(b->payloads[i]);
		if (b->texts) free(b->texts[i]);
	}
	free(b->ids);
	free(b->payloads);
	free(b->payload_lens);
	free(b->texts);
	if (!b->map.data) free(b->vectors);
	free(b->ops);
	free(b->lines);
	vz_unmap(&b->map);
	memset(b, 0, sizeof *b);
}

/* ---- growing the batch ---- */

struct builder {
	vz_batch *b;
	size_t cap;        /* entries */
	size_t vcap;       /* floats */
	const char *name;
};

static int grow(struct builder *g)
{
	vz_batch *b = g->b;
	if (b->n < g->cap) return VZ_OK;
	size_t nc = g->cap ? g->cap * 2 : 1024;
#define RE(field) do { void *p_ = realloc(b->field, nc * sizeof *b->field); if (!p_) return vz_fail(VZ_ENOMEM, "out of memory"); b->field = p_; } while (0)
	RE(ids); RE(payloads); RE(payload_lens); RE(texts); RE(ops); RE(lines);
#undef RE
	memset(b->ids + g->cap, 0, (nc - g->cap) * sizeof *b->ids);
	memset(b->payloads + g->cap, 0, (nc - g->cap) * sizeof *b->payloads);
	memset(b->texts + g->cap, 0, (nc - g->cap) * sizeof *b->texts);
	g->cap = nc;
	return VZ_OK;
}

static int reserve_floats(struct builder *g, size_t need)
{
	if (need <= g->vcap) return VZ_OK;
	size_t nc = g->vcap ? g->vcap : 4096;
	while (nc < need) nc *= 2;
	float *p = realloc(g->b->vectors, nc * sizeof(float));
	if (!p) return vz_fail(VZ_ENOMEM, "out of memory");
	g->b->vectors = p;
	g->vcap = nc;
	return VZ_OK;
}

static char *dup_span(const char *s, size_t n)
{
	char *p = malloc(n + 1);
	if (p) { memcpy(p, s, n); p[n] = '\0'; }
	return p;
}

static int check_id(const char *name, const char *unit, size_t at, const char *id, size_t len)
{
	if (len == 0) return vz_fail(VZ_EDATA, "%s: %s %zu: empty id", name, unit, at);
	if (len > VZ_MAX_ID_LEN) return vz_fail(VZ_EDATA, "%s: %s %zu: id of %zu bytes (at most %d)", name, unit, at, len, VZ_MAX_ID_LEN);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)id[i] < 0x20 || id[i] == 0x7f) return vz_fail(VZ_EDATA, "%s: %s %zu: control character in id", name, unit, at);
	return VZ_OK;
}

/* Duplicate ids within one batch are refused (except in apply, where order means something). */
static int check_duplicates(const char *name, vz_batch *b, const char *unit)
{
	size_t slots = 64;
	while (slots < b->n * 2) slots *= 2;
	uint32_t *t = calloc(slots, sizeof *t);
	if (!t) return vz_fail(VZ_ENOMEM, "out of memory");
	int rc = VZ_OK;
	for (size_t i = 0; i < b->n && !rc; i++) {
		size_t l = strlen(b->ids[i]), s = vz_hash64(b->ids[i], l) & (slots - 1);
		for (; t[s]; s = (s + 1) & (slots - 1))
			if (!strcmp(b->ids[t[s] - 1], b->ids[i])) {
				rc = vz_fail(VZ_EDATA, "%s: %s %zu: duplicate id '%s' (also on %s %zu)", name, unit, b->lines[i], b->ids[i], unit, b->lines[t[s] - 1]);
				break;
			}
		if (!rc) t[s] = (uint32_t)(i + 1);
	}
	free(t);
	return rc;
}

/* ---- a strict JSON scanner ---- */

struct scan {
	const char *p, *end;
	const char *name;
	size_t line;
	char why[160];
	const char *at; /* where the first failure was found (its column is reported) */
};

static void ws(struct scan *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\r')) s->p++;
}

static bool fail(struct scan *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(struct scan *s, const char *fmt, ...)
{
	if (!s->why[0]) {
		s->at = s->p;
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(s->why, sizeof s->why, fmt, ap);
		va_end(ap);
	}
	return false;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Scans a string; when out is given, decodes it (escapes, \u with surrogates) into malloc'd out. */
static bool scan_string(struct scan *s, char **out, size_t *out_len)
{
	if (s->p >= s->end || *s->p != '"') return fail(s, "'\"' expected");
	s->p++;
	const char *start = s->p;
	size_t cap = 0, n = 0;
	char *buf = NULL;
	if (out) {
		cap = 64;
		if (!(buf = malloc(cap))) return fail(s, "out of memory");
	}
	for (;;) {
		if (s->p >= s->end) { free(buf); return fail(s, "unterminated string"); }
		unsigned char c = (unsigned char)*s->p++;
		if (c == '"') break;
		if (c < 0x20) { free(buf); return fail(s, "control character in a string"); }
		uint32_t cp = c;
		bool raw = true;
		if (c == '\\') {
			if (s->p >= s->end) { free(buf); return fail(s, "unterminated escape"); }
			char e = *s->p++;
			raw = false;
			switch (e) {
			case '"': cp = '"'; break;
			case '\\': cp = '\\'; break;
			case '/': cp = '/'; break;
			case 'b': cp = '\b'; break;
			case 'f': cp = '\f'; break;
			case 'n': cp = '\n'; break;
			case 'r': cp = '\r'; break;
			case 't': cp = '\t'; break;
			case 'u': {
				if (s->end - s->p < 4) { free(buf); return fail(s, "short \\u escape"); }
				cp = 0;
				for (int i = 0; i < 4; i++) {
					int h = hexval(s->p[i]);
					if (h < 0) { free(buf); return fail(s, "bad \\u escape"); }
					cp = cp << 4 | (uint32_t)h;
				}
				s->p += 4;
				if (cp >= 0xD800 && cp <= 0xDBFF) {
					uint32_t lo = 0;
					if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u') { free(buf); return fail(s, "lone surrogate in \\u escape"); }
					for (int i = 0; i < 4; i++) {
						int h = hexval(s->p[2 + i]);
						if (h < 0) { free(buf); return fail(s, "bad \\u escape"); }
						lo = lo << 4 | (uint32_t)h;
					}
					if (lo < 0xDC00 || lo > 0xDFFF) { free(buf); return fail(s, "bad surrogate pair"); }
					s->p += 6;
					cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
				} else if (cp >= 0xDC00 && cp <= 0xDFFF) {
					free(buf);
					return fail(s, "lone surrogate in \\u escape");
				}
				break;
			}
			default: free(buf); return fail(s, "bad escape '\\%c'", e);
			}
		}
		if (!out) continue;
		if (n + 4 >= cap) {
			cap *= 2;
			char *nb = realloc(buf, cap);
			if (!nb) { free(buf); return fail(s, "out of memory"); }
			buf = nb;
		}
		if (raw || cp < 0x80) buf[n++] = (char)cp;
		else if (cp < 0x800) { buf[n++] = (char)(0xC0 | cp >> 6); buf[n++] = (char)(0x80 | (cp & 0x3F)); }
		else if (cp < 0x10000) { buf[n++] = (char)(0xE0 | cp >> 12); buf[n++] = (char)(0x80 | ((cp >> 6) & 0x3F)); buf[n++] = (char)(0x80 | (cp & 0x3F)); }
		else { buf[n++] = (char)(0xF0 | cp >> 18); buf[n++] = (char)(0x80 | ((cp >> 12) & 0x3F)); buf[n++] = (char)(0x80 | ((cp >> 6) & 0x3F)); buf[n++] = (char)(0x80 | (cp & 0x3F)); }
	}
	(void)start;
	if (out) {
		buf[n] = '\0';
		*out = buf;
		if (out_len) *out_len = n;
	}
	return true;
}

static bool scan_number(struct scan *s, double *out)
{
	const char *q = s->p;
	if (q < s->end && *q == '-') q++;
	if (q >= s->end || *q < '0' || *q > '9') return fail(s, "number expected");
	if (*q == '0') q++;
	else while (q < s->end && *q >= '0' && *q <= '9') q++;
	if (q < s->end && *q == '.') {
		q++;
		if (q >= s->end || *q < '0' || *q > '9') return fail(s, "digit expected after '.'");
		while (q < s->end && *q >= '0' && *q <= '9') q++;
	}
	if (q < s->end && (*q == 'e' || *q == 'E')) {
		q++;
		if (q < s->end && (*q == '+' || *q == '-')) q++;
		if (q >= s->end || *q < '0' || *q > '9') return fail(s, "digit expected in exponent");
		while (q < s->end && *q >= '0' && *q <= '9') q++;
	}
	if (out) {
		char tmp[64];
		size_t l = (size_t)(q - s->p);
		if (l >= sizeof tmp) return fail(s, "number too long");
		memcpy(tmp, s->p, l);
		tmp[l] = '\0';
		*out = strtod(tmp, NULL);
	}
	s->p = q;
	return true;
}

static bool scan_value(struct scan *s, int depth)
{
	if (depth > MAX_DEPTH) return fail(s, "nesting deeper than %d", MAX_DEPTH);
	ws(s);
	if (s->p >= s->end) return fail(s, "value expected");
	char c = *s->p;
	if (c == '"') return scan_string(s, NULL, NULL);
	if (c == '{' || c == '[') {
		char close = c == '{' ? '}' : ']';
		s->p++;
		ws(s);
		if (s->p < s->end && *s->p == close) { s->p++; return true; }
		for (;;) {
			if (c == '{') {
				ws(s);
				if (!scan_string(s, NULL, NULL)) return false;
				ws(s);
				if (s->p >= s->end || *s->p != ':') return fail(s, "':' expected");
				s->p++;
			}
			if (!scan_value(s, depth + 1)) return false;
			ws(s);
			if (s->p < s->end && *s->p == ',') { s->p++; continue; }
			if (s->p < s->end && *s->p == close) { s->p++; return true; }
			return fail(s, "',' or '%c' expected", close);
		}
	}
	if (c == '-' || (c >= '0' && c <= '9')) return scan_number(s, NULL);
	static const char *const words[] = { "true", "false", "null" };
	for (int i = 0; i < 3; i++) {
		size_t l = strlen(words[i]);
		if ((size_t)(s->end - s->p) >= l && !memcmp(s->p, words[i], l)) { s->p += l; return true; }
	}
	return fail(s, "unexpected '%c'", c);
}

/* Reads a JSON array of numbers into the batch's float storage at *at (grown as needed). */
static bool scan_vector(struct scan *s, struct builder *g, size_t at, uint32_t *dim)
{
	ws(s);
	if (s->p >= s->end || *s->p != '[') return fail(s, "\"vector\" must be an array of numbers");
	s->p++;
	uint32_t n = 0;
	ws(s);
	if (s->p < s->end && *s->p == ']') { s->p++; *dim = 0; return true; }
	for (;;) {
		ws(s);
		if (s->p >= s->end) return fail(s, "the array ends after value %u: a number or ']' expected", n);
		if (n >= VZ_MAX_DIM) return fail(s, "vector longer than %d values", VZ_MAX_DIM);
		if (reserve_floats(g, at + n + 1)) return fail(s, "out of memory");
		const char *num = s->p;
		char *end;
		errno = 0;
		float f = strtof(num, &end);
		/* strtof accepts more than JSON (hex, inf, nan, leading '+'): re-check the grammar */
		struct scan chk = *s;
		if (!scan_number(&chk, NULL) || chk.p != end) return fail(s, "value %u of the vector is not a JSON number", n + 1);
		if (!isfinite(f) || errno == ERANGE) {
			if (isfinite(f) && fabsf(f) < 1.0f) f = 0.0f; /* underflow to zero is fine */
			else return fail(s, "value %u of the vector is not a finite float32", n + 1);
		}
		g->b->vectors[at + n++] = f;
		s->p = end;
		ws(s);
		if (s->p < s->end && *s->p == ',') { s->p++; continue; }
		if (s->p < s->end && *s->p == ']') { s->p++; break; }
		return fail(s, "',' or ']' expected in the vector");
	}
	*dim = n;
	return true;
}

static int parse_jsonl(const char *name, const char *data, size_t len, uint32_t expect_dim, unsigned flags, vz_batch *b)
{
	struct builder g = { .b = b, .name = name };
	const char *p = data, *end = data + len;
	size_t line = 0;
	int rc = VZ_OK;
	bool ids_only = flags & VZ_READ_IDS_ONLY;
	if (len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) p += 3; /* a UTF-8 byte order mark (Windows editors) */
	while (p < end && !rc) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		line++;
		const char *line_start = p;
		struct scan s = { .p = p, .end = le, .name = name, .line = line };
		p = nl ? nl + 1 : end;
		size_t bad;
		/* JSON is UTF-8 (RFC 8259): what is stored must print back as valid JSON */
		if (!vz_utf8_valid(s.p, (size_t)(s.end - s.p), &bad)) {
			rc = vz_fail(VZ_EDATA, "%s: line %zu: byte %zu: invalid UTF-8", name, line, bad + 1);
			break;
		}
		ws(&s);
		if (s.p == s.end) continue; /* blank line */
		if ((rc = grow(&g))) break;
		size_t i = b->n;
		b->ids[i] = NULL;
		b->payloads[i] = NULL;
		b->payload_lens[i] = 0;
		b->texts[i] = NULL;
		b->ops[i] = VZ_OP_INSERT;
		b->lines[i] = line;
		if (ids_only && *s.p != '{') {
			/* a bare id a line */
			const char *e = s.end;
			while (e > s.p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) e--;
			if ((rc = check_id(name, "line", line, s.p, (size_t)(e - s.p)))) break;
			if (!(b->ids[i] = dup_span(s.p, (size_t)(e - s.p)))) { rc = vz_fail(VZ_ENOMEM, "out of memory"); break; }
			b->n++;
			continue;
		}
		bool queries = flags & VZ_READ_QUERIES;
		if (line == 1 && !queries && !ids_only && !strncmp(s.p, "{\"vz_dump\":", 11) && (size_t)(s.end - s.p) > 11)
			continue; /* the configuration line of a vz dump: its rows insert as they are */
		if (*s.p != '{' && !(queries && *s.p == '[')) {
			rc = vz_fail(VZ_EDATA, "%s: line %zu: a JSON object expected ({\"id\":..,\"vector\":[..]}%s), not '%c'", name, line,
				     queries ? " or a bare array" : "", *s.p);
			break;
		}
		bool have_vec = false, have_op = false, bare = *s.p == '[';
		unsigned seen = 0;
		uint32_t dim = 0;
		size_t vat = b->n * (b->dim ? b->dim : (expect_dim ? expect_dim : 0));
		/* vectors are stored at n*dim; until the dimension is known, the first one goes at 0 */
		if (b->n > 0 && b->dim == 0) vat = 0;
		if (!bare) s.p++;
		ws(&s);
		bool ok = true;
		if (bare) ok = have_vec = scan_vector(&s, &g, vat, &dim);
		else if (s.p < s.end && *s.p == '}') s.p++;
		else
			for (;;) {
				ws(&s);
				char *key = NULL;
				if (!(ok = scan_string(&s, &key, NULL))) break;
				ws(&s);
				if (s.p >= s.end || *s.p != ':') { free(key); ok = fail(&s, "':' expected"); break; }
				/* a key given twice is refused: which one counts would be a guess */
				static const char *const known[] = { "id", "vector", "payload", "text", "op" };
				bool twice = false;
				for (unsigned k = 0; k < 5; k++)
					if (!strcmp(key, known[k])) {
						twice = seen & (1u << k);
						seen |= 1u << k;
					}
				if (twice) { ok = fail(&s, "key \"%s\" given twice", key); free(key); break; }
				s.p++;
				ws(&s);
				if (!strcmp(key, "id")) {
					free(b->ids[i]);
					b->ids[i] = NULL; /* a repeated key that fails to scan leaves no dangling pointer */
					size_t il;
					ok = scan_string(&s, &b->ids[i], &il);
					if (ok && (rc = check_id(name, "line", line, b->ids[i], il))) { free(key); break; }
					if (ok && strlen(b->ids[i]) != il) ok = fail(&s, "NUL in id");
				} else if (!strcmp(key, "vector") && !ids_only) {
					ok = scan_vector(&s, &g, vat, &dim);
					have_vec = ok;
				} else if (!strcmp(key, "payload") && !ids_only) {
					const char *start = s.p;
					ok = scan_value(&s, 1);
					if (ok) {
						size_t pl = (size_t)(s.p - start);
						if (pl > VZ_MAX_PAYLOAD_LEN) { free(key); rc = vz_fail(VZ_EDATA, "%s: line %zu: payload of %zu bytes (at most %u)", name, line, pl, VZ_MAX_PAYLOAD_LEN); break; }
						free(b->payloads[i]);
						b->payloads[i] = NULL;
						if (!(b->payloads[i] = dup_span(start, pl))) { free(key); rc = vz_fail(VZ_ENOMEM, "out of memory"); break; }
						b->payload_lens[i] = pl;
					}
				} else if (!strcmp(key, "text") && (flags & VZ_READ_TEXT_OK)) {
					free(b->texts[i]);
					b->texts[i] = NULL;
					ok = scan_string(&s, &b->texts[i], NULL);
				} else if (!strcmp(key, "op") && (flags & VZ_READ_OPS)) {
					char *op = NULL;
					ok = scan_string(&s, &op, NULL);
					if (ok) {
						have_op = true;
						if (!strcmp(op, "insert")) b->ops[i] = VZ_OP_INSERT;
						else if (!strcmp(op, "update")) b->ops[i] = VZ_OP_UPDATE;
						else if (!strcmp(op, "delete")) b->ops[i] = VZ_OP_DELETE;
						else if (!strcmp(op, "upsert")) b->ops[i] = VZ_OP_UPSERT;
						else ok = fail(&s, "unknown op \"%.20s\" (insert, update, delete, upsert)", op);
					}
					free(op);
				} else {
					ok = fail(&s, "unknown key \"%.40s\"", key);
				}
				free(key);
				if (!ok) break;
				ws(&s);
				if (s.p < s.end && *s.p == ',') { s.p++; continue; }
				if (s.p < s.end && *s.p == '}') { s.p++; break; }
				ok = fail(&s, "',' or '}' expected");
				break;
			}
		if (rc) break;
		if (ok) {
			ws(&s);
			if (s.p != s.end) ok = fail(&s, "trailing characters after the object");
		}
		if (!ok) {
			/* the column in bytes, counted from 1, as jq and Python's json report it */
			size_t col = s.at ? (size_t)(s.at - line_start) + 1 : 1;
			rc = vz_fail(VZ_EDATA, "%s: line %zu: %s (column %zu)", name, line, s.why, col);
			break;
		}
		if (!b->ids[i] && !queries) { rc = vz_fail(VZ_EDATA, "%s: line %zu: no \"id\"", name, line); break; }
		if ((flags & VZ_READ_OPS) && !have_op) { rc = vz_fail(VZ_EDATA, "%s: line %zu: no \"op\"", name, line); break; }
		if (have_vec && b->texts[i]) { rc = vz_fail(VZ_EDATA, "%s: line %zu: both \"vector\" and \"text\" (give one)", name, line); break; }
		bool needs_vec = !ids_only && b->ops[i] != VZ_OP_DELETE;
		if (needs_vec && !have_vec && !b->texts[i]) {
			rc = vz_fail(VZ_EDATA, "%s: line %zu: no \"vector\"%s", name, line, (flags & VZ_READ_TEXT_OK) ? " or \"text\"" : "");
			break;
		}
		if (have_vec) {
			if (dim == 0) { rc = vz_fail(VZ_EDATA, "%s: line %zu: empty vector", name, line); break; }
			uint32_t want = b->dim ? b->dim : expect_dim;
			if (want && dim != want) {
				rc = vz_fail(VZ_EDATA, "%s: line %zu: vector has dimension %u, expected %u", name, line, dim, want);
				break;
			}
			if (!b->dim) {
				b->dim = dim;
				/* move the first vector into place for rows seen before it (deletes) */
				if (b->n > 0) {
					if ((rc = reserve_floats(&g, (b->n + 1) * dim))) break;
					memmove(b->vectors + b->n * dim, b->vectors, dim * sizeof(float));
					memset(b->vectors, 0, b->n * dim * sizeof(float));
				}
			}
		} else if (b->dim) {
			if ((rc = reserve_floats(&g, (b->n + 1) * b->dim))) break;
			memset(b->vectors + b->n * b->dim, 0, b->dim * sizeof(float));
		}
		b->n++;
	}
	if (rc && b->n < g.cap) {
		/* the row being read when the error came is not counted in n: free what it holds */
		free(b->ids[b->n]);
		free(b->payloads[b->n]);
		free(b->texts[b->n]);
		b->ids[b->n] = b->payloads[b->n] = b->texts[b->n] = NULL;
	}
	if (!rc && !(flags & (VZ_READ_OPS | VZ_READ_QUERIES)) && !ids_only) rc = check_duplicates(name, b, "line");
	return rc;
}

/* ---- binary formats ---- */

/* Rows of a matrix: numbered ids and row numbers (the "line" an error names), each array sized
 * once. The arrays of payloads, texts and operations stay NULL (no row has one; readers of a
 * batch take NULL as none): with the doubling, 30 MiB of a 1M-row bulk load's peak. */
static int add_numbered_rows(struct builder *g, size_t rows, uint32_t dim, uint64_t id_base, const char *unit)
{
	vz_batch *b = g->b;
	(void)unit;
	b->ids = calloc(rows ? rows : 1, sizeof *b->ids);
	b->lines = malloc(sizeof *b->lines * (rows ? rows : 1));
	if (!b->ids || !b->lines) return vz_fail(VZ_ENOMEM, "out of memory for %zu rows", rows);
	for (size_t r = 0; r < rows; r++) {
		char id[32];
		snprintf(id, sizeof id, "%llu", (unsigned long long)(id_base + r));
		if (!(b->ids[r] = strdup(id))) return vz_fail(VZ_ENOMEM, "out of memory");
		b->lines[r] = r + 1;
		b->n = r + 1;
	}
	b->dim = dim;
	return VZ_OK;
}

/* Every value finite; rows stride floats apart. In a mapping (mapped true) the pages read are
 * let go behind the check, so that checking the input does not leave it all resident. */
static int check_floats(const char *name, const float *v, size_t rows, uint32_t dim, size_t stride, bool mapped)
{
	vz_releaser read = { .on = mapped };
	for (size_t r = 0; r < rows; r++) {
		for (uint32_t d = 0; d < dim; d++)
			if (!isfinite(v[r * stride + d])) return vz_fail(VZ_EDATA, "%s: row %zu: value %u is NaN or infinite", name, r + 1, d + 1);
		vz_release_behind(&read, v + r * stride);
	}
	return VZ_OK;
}

/* keep: the input is a mapping the batch takes over (VZ_READ_MAPPED); its rows are checked
 * in place and not copied. */
static int parse_fvecs(const char *name, const unsigned char *d, size_t len, uint32_t expect_dim, uint64_t id_base, vz_batch *b,
		       bool mapped, bool keep)
{
	if (len == 0) return VZ_OK;
	if (len < 4) return vz_fail(VZ_EDATA, "%s: row 1: truncated dimension", name);
	uint32_t dim = vz_load_u32(d);
	if (dim == 0 || dim > VZ_MAX_DIM) return vz_fail(VZ_EDATA, "%s: row 1: dimension %u out of range [1, %d]", name, dim, VZ_MAX_DIM);
	if (expect_dim && dim != expect_dim) return vz_fail(VZ_EDATA, "%s: row 1: vector has dimension %u, expected %u", name, dim, expect_dim);
	size_t stride = 4 + (size_t)dim * 4;
	if (len % stride) return vz_fail(VZ_EDATA, "%s: %zu bytes is not a whole number of rows of %zu bytes (row %zu is cut short)", name, len, stride, len / stride + 1);
	size_t rows = len / stride;
	struct builder g = { .b = b, .name = name };
	/* a mapped input's rows are let go once read: held once, not twice (the page cache
	 * keeps them; only our resident size drops) */
	vz_releaser read = { .on = mapped };
	if (keep) { /* the rows where they lie, one dimension word apart */
		b->vectors = (float *)(d + 4);
		b->stride = dim + 1;
	} else {
		b->vectors = malloc(rows * dim * sizeof(float) + 1);
		if (!b->vectors) return vz_fail(VZ_ENOMEM, "out of memory for %zu rows", rows);
		g.vcap = rows * dim;
	}
	for (size_t r = 0; r < rows; r++) {
		if (vz_load_u32(d + r * stride) != dim)
			return vz_fail(VZ_EDATA, "%s: row %zu: dimension %u, the first row has %u", name, r + 1, vz_load_u32(d + r * stride), dim);
		if (!keep) memcpy(b->vectors + r * dim, d + r * stride + 4, (size_t)dim * 4);
		vz_release_behind(&read, d + r * stride);
	}
	int rc = check_floats(name, b->vectors, rows, dim, keep ? b->stride : dim, keep);
	return rc ? rc : add_numbered_rows(&g, rows, dim, id_base, "row");
}

static int parse_npy(const char *name, const unsigned char *d, size_t len, uint32_t expect_dim, uint64_t id_base, vz_batch *b, bool mapped,
		     bool keep)
{
	if (len < 10 || memcmp(d, "\x93NUMPY", 6) != 0) return vz_fail(VZ_EDATA, "%s: not a .npy file (bad magic)", name);
	unsigned major = d[6];
	size_t hl, off;
	if (major == 1) { hl = (size_t)d[8] | (size_t)d[9] << 8; off = 10; }
	else if (major == 2 || major == 3) {
		if (len < 12) return vz_fail(VZ_EDATA, "%s: truncated header", name);
		hl = vz_load_u32(d + 8);
		off = 12;
	} else return vz_fail(VZ_EDATA, "%s: unsupported .npy version %u", name, major);
	if (hl > len - off || hl > 65536) return vz_fail(VZ_EDATA, "%s: header length %zu runs past the file", name, hl);
	char *h = dup_span((const char *)d + off, hl);
	if (!h) return vz_fail(VZ_ENOMEM, "out of memory");
	int rc = VZ_OK;
	const char *descr = strstr(h, "'descr'"), *fo = strstr(h, "'fortran_order'"), *sh = strstr(h, "'shape'");
	unsigned long long rows = 0, cols = 0;
	if (!descr || !fo || !sh) rc = vz_fail(VZ_EDATA, "%s: header lacks descr, fortran_order or shape", name);
	else if (!strstr(descr, "'<f4'") || strstr(descr, "'<f4'") - descr > 16) rc = vz_fail(VZ_EDATA, "%s: dtype is not little-endian float32 ('<f4')", name);
	else if (strncmp(fo + 15, ": False", 7) != 0 && strncmp(fo + 15, ":False", 6) != 0) rc = vz_fail(VZ_EDATA, "%s: Fortran order is not supported (save with C order)", name);
	else {
		const char *p = strchr(sh, '(');
		char *e;
		if (!p) rc = vz_fail(VZ_EDATA, "%s: bad shape", name);
		else {
			rows = strtoull(p + 1, &e, 10);
			while (*e == ' ') e++;
			if (*e != ',') rc = vz_fail(VZ_EDATA, "%s: shape must be 2-D (rows, dim)", name);
			else {
				const char *c0 = e + 1;
				while (*c0 == ' ') c0++;
				cols = strtoull(c0, &e, 10);
				if (e == c0) e = (char *)"x"; /* (N,) is 1-D */
				while (*e == ' ' || *e == ',') e++;
				if (*e != ')') rc = vz_fail(VZ_EDATA, "%s: shape must be 2-D (rows, dim)", name);
				else {
					/* what follows the tuple ends the entry: `(4, 3)garbage` is not a shape */
					for (e++; *e == ' '; e++) {}
					if (*e != ',' && *e != '}') rc = vz_fail(VZ_EDATA, "%s: bad shape (text after the closing parenthesis)", name);
				}
			}
		}
	}
	free(h);
	if (rc) return rc;
	if (cols == 0 || cols > VZ_MAX_DIM) return vz_fail(VZ_EDATA, "%s: dimension %llu out of range [1, %d]", name, cols, VZ_MAX_DIM);
	if (expect_dim && cols != expect_dim) return vz_fail(VZ_EDATA, "%s: vectors have dimension %llu, expected %u", name, cols, expect_dim);
	uint64_t bytes;
	if (vz_mul_overflow_u64(rows, cols * 4, &bytes) || bytes != len - off - hl)
		return vz_fail(VZ_EDATA, "%s: header says %llu x %llu float32 (%llu bytes), the file holds %zu", name, rows, cols,
			       (unsigned long long)(rows * cols * 4), len - off - hl);
	struct builder g = { .b = b, .name = name };
	if (keep && (off + hl) % 4 == 0) { /* floats aligned in the mapping: used where they are */
		b->vectors = (float *)(d + off + hl);
		if ((rc = check_floats(name, b->vectors, rows, (uint32_t)cols, cols, true))) return rc;
		return add_numbered_rows(&g, rows, (uint32_t)cols, id_base, "row");
	}
	b->vectors = malloc(bytes + 1);
	if (!b->vectors) return vz_fail(VZ_ENOMEM, "out of memory");
	const size_t chunk = 16u << 20;
	vz_releaser read = { .on = mapped };
	for (uint64_t at = 0; at < bytes; at += chunk) {
		size_t part = bytes - at < chunk ? (size_t)(bytes - at) : chunk;
		vz_release_behind(&read, d + off + hl + at);
		memcpy((unsigned char *)b->vectors + at, d + off + hl + at, part);
	}
	g.vcap = rows * cols;
	if ((rc = check_floats(name, b->vectors, rows, (uint32_t)cols, cols, false))) return rc;
	return add_numbered_rows(&g, rows, (uint32_t)cols, id_base, "row");
}

/* ---- CSV: `id,f1,f2,...` or only numbers; RFC 4180 quotes for ids ---- */

static int parse_csv(const char *name, const char *data, size_t len, uint32_t expect_dim, uint64_t id_base, vz_batch *b)
{
	struct builder g = { .b = b, .name = name };
	const char *p = data, *end = data + len;
	size_t line = 0, row = 0;
	int with_ids = -1;
	if (len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3)) p += 3; /* a UTF-8 byte order mark (spreadsheets write one) */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *le = nl ? nl : end;
		line++;
		const char *q = p;
		p = nl ? nl + 1 : end;
		if (le > q && le[-1] == '\r') le--;
		if (q == le) continue;
		const char *nul = memchr(q, '\0', (size_t)(le - q));
		if (nul) return vz_fail(VZ_EDATA, "%s: line %zu: byte %zu: NUL byte", name, line, (size_t)(nul - q) + 1);
		size_t bad;
		if (!vz_utf8_valid(q, (size_t)(le - q), &bad)) return vz_fail(VZ_EDATA, "%s: line %zu: byte %zu: invalid UTF-8", name, line, bad + 1);
		/* first field */
		char *id = NULL;
		const char *f = q;
		if (*f == '"') {
			size_t cap = (size_t)(le - f) + 1, n = 0;
			id = malloc(cap);
			if (!id) return vz_fail(VZ_ENOMEM, "out of memory");
			f++;
			for (;;) {
				if (f >= le) { free(id); return vz_fail(VZ_EDATA, "%s: line %zu: unterminated quoted field", name, line); }
				if (*f == '"') {
					if (f + 1 < le && f[1] == '"') { id[n++] = '"'; f += 2; continue; }
					f++;
					break;
				}
				id[n++] = *f++;
			}
			id[n] = '\0';
			if (f < le && *f != ',') { free(id); return vz_fail(VZ_EDATA, "%s: line %zu: ',' expected after a quoted field", name, line); }
		} else {
			const char *c = memchr(f, ',', (size_t)(le - f));
			const char *fe = c ? c : le;
			char *e;
			char tmp[64];
			size_t fl = (size_t)(fe - f);
			bool numeric = false;
			if (fl < sizeof tmp) {
				memcpy(tmp, f, fl);
				tmp[fl] = '\0';
				strtof(tmp, &e);
				numeric = fl > 0 && *e == '\0';
			}
			if (!numeric) {
				/* not a number: an id column */
				if (!(id = dup_span(f, fl))) return vz_fail(VZ_ENOMEM, "out of memory");
				f = fe;
			}
		}
		if (with_ids < 0) {
			with_ids = id != NULL;
			/* a header row: `id,...` or names that are not numbers */
			if (id && !strcmp(id, "id")) { free(id); continue; }
		}
		if ((id != NULL) != (with_ids == 1)) {
			free(id);
			return vz_fail(VZ_EDATA, "%s: line %zu: %s", name, line, with_ids ? "no id in the first field" : "an id where the other rows have none");
		}
		int rc = grow(&g);
		if (rc) { free(id); return rc; }
		size_t i = b->n;
		b->payloads[i] = NULL;
		b->payload_lens[i] = 0;
		b->texts[i] = NULL;
		b->ops[i] = VZ_OP_INSERT;
		b->lines[i] = line;
		if (!id) {
			char num[32];
			snprintf(num, sizeof num, "%llu", (unsigned long long)(id_base + row));
			id = strdup(num);
		}
		b->ids[i] = id;
		if ((rc = check_id(name, "line", line, id, strlen(id)))) { b->n++; return rc; }
		b->n++;
		row++;
		if (with_ids) { if (f < le && *f == ',') f++; else return vz_fail(VZ_EDATA, "%s: line %zu: no values after the id", name, line); }
		uint32_t dim = 0;
		size_t base = i * (b->dim ? b->dim : 0);
		if (!b->dim) base = 0;
		while (f <= le) {
			const char *c = memchr(f, ',', (size_t)(le - f));
			const char *fe = c ? c : le;
			char tmp[64], *e;
			size_t fl = (size_t)(fe - f);
			while (fl && (*f == ' ')) { f++; fl--; }
			if (fl == 0 || fl >= sizeof tmp) return vz_fail(VZ_EDATA, "%s: line %zu: value %u is empty or too long", name, line, dim + 1);
			memcpy(tmp, f, fl);
			tmp[fl] = '\0';
			errno = 0;
			float v = strtof(tmp, &e);
			while (*e == ' ') e++;
			if (*e || !isfinite(v)) return vz_fail(VZ_EDATA, "%s: line %zu: value %u ('%s') is not a finite number", name, line, dim + 1, tmp);
			if (dim >= VZ_MAX_DIM) return vz_fail(VZ_EDATA, "%s: line %zu: more than %d values", name, line, VZ_MAX_DIM);
			if ((rc = reserve_floats(&g, base + dim + 1))) return rc;
			b->vectors[base + dim++] = v;
			if (!c) break;
			f = c + 1;
		}
		uint32_t want = b->dim ? b->dim : expect_dim;
		if (want && dim != want) return vz_fail(VZ_EDATA, "%s: line %zu: vector has dimension %u, expected %u", name, line, dim, want);
		b->dim = dim;
	}
	return check_duplicates(name, b, "line");
}

/* map: the input is this read-only file mapping (data, len), whose pages are let go as they
 * are parsed; with VZ_READ_MAPPED, binary rows are left in it and it becomes the batch's
 * (out->map set: the caller must not unmap it). */
static int batch_parse(const char *name, const unsigned char *data, size_t len, enum vz_input_format fmt, uint32_t expect_dim,
		       unsigned flags, uint64_t id_base, vz_batch *out, const vz_map *map)
{
	memset(out, 0, sizeof *out);
	if (fmt == VZ_FMT_AUTO) fmt = vz_input_format_from_path(name);
	bool mapped = map != NULL, keep = mapped && (flags & VZ_READ_MAPPED);
	int rc;
	switch (fmt) {
	case VZ_FMT_FVECS: rc = parse_fvecs(name, data, len, expect_dim, id_base, out, mapped, keep); break;
	case VZ_FMT_NPY: rc = parse_npy(name, data, len, expect_dim, id_base, out, mapped, keep); break;
	case VZ_FMT_CSV: rc = parse_csv(name, (const char *)data, len, expect_dim, id_base, out); break;
	default: rc = parse_jsonl(name, (const char *)data, len, expect_dim, flags, out); break;
	}
	if (!rc && out->n && (flags & VZ_READ_OPS) && fmt != VZ_FMT_JSONL && fmt != VZ_FMT_AUTO)
		rc = vz_fail(VZ_EDATA, "%s: operations must be JSON lines", name);
	if (!rc && (flags & VZ_READ_QUERIES) && (fmt == VZ_FMT_FVECS || fmt == VZ_FMT_NPY))
		for (size_t i = 0; i < out->n; i++) { /* rows of a matrix are queries without ids */
			free(out->ids[i]);
			out->ids[i] = NULL;
		}
	/* rows left in the mapping: the batch owns it from here, or, refused, must not free them */
	/* (<=: a file of no rows leaves vectors just past the end of the mapping, still not ours) */
	bool borrowed = keep && out->vectors && (const unsigned char *)out->vectors >= data &&
			(const unsigned char *)out->vectors <= data + len;
	if (borrowed && rc) out->vectors = NULL;
	if (borrowed && !rc) out->map = *map;
	if (rc) vz_batch_free(out);
	return rc;
}

int vz_batch_parse(const char *name, const unsigned char *data, size_t len, enum vz_input_format fmt, uint32_t expect_dim,
		   unsigned flags, uint64_t id_base, vz_batch *out)
{
	return batch_parse(name, data, len, fmt, expect_dim, flags, id_base, out, NULL);
}

/* A compressed input: read whole, decompressed, parsed as the format it holds. */
static int read_compressed(const char *path, const char *name, enum vz_compression comp, char *raw, size_t rlen,
			   enum vz_input_format fmt, uint32_t expect_dim, unsigned flags, uint64_t id_base, vz_batch *out)
{
	char *data = NULL;
	size_t len = 0;
	int rc = VZ_OK;
	if (!raw && (rc = vz_read_file(path, MAX_INPUT, &raw, &rlen))) return rc;
	rc = vz_decompress(name, comp, (const unsigned char *)raw, rlen, MAX_INPUT, &data, &len);
	free(raw);
	if (rc) return rc;
	rc = vz_batch_parse(name, (const unsigned char *)data, len, fmt, expect_dim, flags, id_base, out);
	free(data);
	return rc;
}

int vz_batch_read(const char *path, enum vz_input_format fmt, uint32_t expect_dim, unsigned flags, uint64_t id_base, vz_batch *out)
{
	memset(out, 0, sizeof *out);
	char *data;
	size_t len;
	const char *name = !strcmp(path, "-") ? "stdin" : path;
	enum vz_compression comp = (fmt & VZ_FMT_ZSTD) ? VZ_COMP_ZSTD : (fmt & VZ_FMT_GZIP) ? VZ_COMP_GZIP
				   : vz_compression_of(path, NULL, 0);
	fmt = VZ_FMT_BASE(fmt);
	if (fmt == VZ_FMT_AUTO) fmt = vz_input_format_from_path(path);
	if (comp != VZ_COMP_NONE) return read_compressed(path, name, comp, NULL, 0, fmt, expect_dim, flags, id_base, out);
	bool lines = fmt == VZ_FMT_JSONL || fmt == VZ_FMT_CSV;
	struct stat st;
	if (!lines && strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size <= MAX_INPUT) {
		/* a binary file is mapped, not read: parsed rows are let go as they are copied */
		vz_map m;
		int rc = vz_map_file(path, &m);
		if (rc) return rc;
		rc = batch_parse(path, m.data, m.size, fmt, expect_dim, flags, id_base, out, &m);
		if (out->map.data != m.data) vz_unmap(&m);
		return rc;
	}
	int rc = vz_read_file_lines(path, MAX_INPUT, lines ? VZ_MAX_INPUT_LINE : 0, &data, &len);
	if (rc) return rc;
	/* a compressed stream without a suffix to tell (a pipe): known by its magic bytes */
	if ((comp = vz_compression_of(NULL, (const unsigned char *)data, len)) != VZ_COMP_NONE)
		return read_compressed(path, name, comp, data, len, fmt, expect_dim, flags, id_base, out);
	rc = vz_batch_parse(name, (const unsigned char *)data, len, fmt, expect_dim, flags, id_base, out);
	free(data);
	return rc;
}

int vz_parse_vector(const char *text, float **out, uint32_t *dim)
{
	*out = NULL;
	vz_batch b = { 0 };
	struct builder g = { .b = &b, .name = "--vector" };
	struct scan s = { .p = text, .end = text + strlen(text), .name = "--vector" };
	uint32_t d = 0;
	bool ok = scan_vector(&s, &g, 0, &d);
	if (ok) {
		ws(&s);
		while (s.p < s.end && *s.p == '\n') s.p++;
		if (s.p != s.end) ok = fail(&s, "trailing characters after the array");
	}
	if (ok && d == 0) ok = fail(&s, "empty vector");
	if (!ok) {
		free(b.vectors);
		return vz_fail(VZ_EDATA, "%s", s.why);
	}
	*out = b.vectors;
	*dim = d;
	return VZ_OK;
}
