/* filter.c: payload filters (`vz query --where`): the expression grammar, its parser, and its
 * evaluation against one row's JSON payload. The grammar and its exact semantics are those of
 * vz-query(1), FILTERS. Evaluation reads the payload's raw JSON text where it lies (mapped
 * vectors.bin, the WAL delta) with a small bounded scanner, without building a tree or
 * allocating: a filter is evaluated for every row the search visits, or for every row of the
 * collection when the exact scan of the matching rows is chosen. Payloads were checked as JSON
 * when they were written, but the scanner never trusts them: anything malformed matches no
 * comparison and never reads outside the payload. */
#include "vz.h"
#include "filter.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_DEPTH 64    /* nesting of parentheses and `not` in an expression */
#define MAX_PATH 16     /* segments of a dotted key path */
#define MAX_JSON_DEPTH 512
#define VZ_FILTER_MAX 65536 /* bytes of an expression */

enum node_kind { N_AND, N_OR, N_NOT, N_CMP, N_IN, N_EXISTS };
enum cmp_op { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE };
enum lit_type { L_STR, L_NUM, L_TRUE, L_FALSE, L_NULL };

struct lit {
	enum lit_type t;
	char *s; /* L_STR: decoded UTF-8 bytes (may hold NUL) */
	size_t len;
	double num;
};

struct seg { char *s; size_t len; };

struct node {
	enum node_kind kind;
	enum cmp_op op;
	struct seg path[MAX_PATH];
	size_t nseg;
	struct lit *lits; /* N_CMP: one; N_IN: nlits */
	size_t nlits;
	struct node *a, *b;
};

struct vz_filter {
	struct node *root;
	uint64_t serial;
	size_t queries; /* vz_filter_set_queries */
};

/* ---------------------------------------------------------------------------------------------
 * JSON text, read where it lies
 * ------------------------------------------------------------------------------------------- */

static const char *ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')) p++;
	return p;
}

/* The end of the JSON string starting at p (on its opening quote), or NULL. */
static const char *skip_string(const char *p, const char *end)
{
	for (p++; p < end; p++) {
		if (*p == '\\') {
			if (++p >= end) return NULL;
		} else if (*p == '"') {
			return p + 1;
		}
	}
	return NULL;
}

/* The end of the JSON value starting at p (no leading space), or NULL when malformed. */
static const char *skip_value(const char *p, const char *end)
{
	if (p >= end) return NULL;
	if (*p == '"') return skip_string(p, end);
	if (*p != '{' && *p != '[') {
		const char *s = p;
		while (p < end && (isalnum((unsigned char)*p) || *p == '-' || *p == '+' || *p == '.')) p++;
		return p > s ? p : NULL;
	}
	int depth = 0;
	while (p < end) {
		char c = *p;
		if (c == '"') {
			if (!(p = skip_string(p, end))) return NULL;
			continue;
		}
		if (c == '{' || c == '[') {
			if (++depth > MAX_JSON_DEPTH) return NULL;
		} else if (c == '}' || c == ']') {
			if (--depth == 0) return p + 1;
		}
		p++;
	}
	return NULL;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

static long hex4(const char *p, const char *end)
{
	if (end - p < 4) return -1;
	long v = 0;
	for (int i = 0; i < 4; i++) {
		int h = hexval(p[i]);
		if (h < 0) return -1;
		v = v * 16 + h;
	}
	return v;
}

static size_t utf8_put(unsigned long cp, unsigned char *o)
{
	if (cp < 0x80) { o[0] = (unsigned char)cp; return 1; }
	if (cp < 0x800) { o[0] = (unsigned char)(0xc0 | cp >> 6); o[1] = (unsigned char)(0x80 | (cp & 0x3f)); return 2; }
	if (cp < 0x10000) {
		o[0] = (unsigned char)(0xe0 | cp >> 12); o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (unsigned char)(0xf0 | cp >> 18); o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f)); o[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return 4;
}

/* The next decoded piece of a JSON string body at *p (after the opening quote): up to 4 bytes
 * into o. Returns their count, 0 at the closing quote, -1 when malformed. */
static int str_next(const char **p, const char *end, unsigned char *o)
{
	const char *s = *p;
	if (s >= end) return -1;
	if (*s == '"') return 0;
	if (*s != '\\') { o[0] = (unsigned char)*s; *p = s + 1; return 1; }
	if (++s >= end) return -1;
	char c = *s++;
	static const char esc[] = "\"\\/bfnrt", val[] = "\"\\/\b\f\n\r\t";
	const char *e = c ? strchr(esc, c) : NULL;
	if (e) { o[0] = (unsigned char)val[e - esc]; *p = s; return 1; }
	if (c != 'u') return -1;
	long cp = hex4(s, end);
	if (cp < 0) return -1;
	s += 4;
	if (cp >= 0xd800 && cp <= 0xdbff && end - s >= 6 && s[0] == '\\' && s[1] == 'u') {
		long lo = hex4(s + 2, end);
		if (lo >= 0xdc00 && lo <= 0xdfff) {
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
			s += 6;
		}
	}
	*p = s;
	return (int)utf8_put((unsigned long)cp, o);
}

/* Compares the JSON string at p (on its opening quote) with the bytes of lit, byte by byte
 * after decoding (UTF-8 code point order). *bad is set when the string is malformed. */
static int str_cmp(const char *p, const char *end, const char *lit, size_t len, bool *bad)
{
	p++;
	size_t i = 0;
	unsigned char o[4];
	for (;;) {
		int n = str_next(&p, end, o);
		if (n < 0) { *bad = true; return 1; }
		if (n == 0) return i < len ? -1 : 0;
		for (int j = 0; j < n; j++, i++) {
			if (i >= len) return 1;
			if (o[j] != (unsigned char)lit[i]) return o[j] < (unsigned char)lit[i] ? -1 : 1;
		}
	}
}

/* The value of key seg in the object at p..end (on '{'): *vp..*ve. Later duplicates win, as
 * in JSON.parse and jansson. Returns whether it was found. */
static bool member(const char *p, const char *end, const struct seg *seg, const char **vp, const char **ve)
{
	bool found = false;
	p = ws(p + 1, end);
	if (p < end && *p == '}') return false;
	while (p < end) {
		if (*p != '"') return false;
		const char *k = p;
		if (!(p = skip_string(p, end))) return false;
		p = ws(p, end);
		if (p >= end || *p != ':') return false;
		p = ws(p + 1, end);
		const char *v = p;
		if (!(p = skip_value(p, end))) return false;
		bool bad = false;
		if (str_cmp(k, end, seg->s, seg->len, &bad) == 0 && !bad) {
			*vp = v;
			*ve = p;
			found = true;
		}
		p = ws(p, end);
		if (p < end && *p == ',') p = ws(p + 1, end);
		else break;
	}
	return found;
}

/* The value at path in payload: *vp..*ve. Returns whether it exists. */
static bool lookup(const char *payload, size_t len, const struct node *n, const char **vp, const char **ve)
{
	if (!payload) return false;
	const char *p = ws(payload, payload + len), *end = payload + len;
	for (size_t i = 0; i < n->nseg; i++) {
		if (p >= end || *p != '{') return false;
		if (!member(p, end, &n->path[i], &p, &end)) return false;
	}
	*vp = p;
	*ve = end;
	return true;
}

static bool parse_number(const char *p, const char *e, double *out)
{
	char buf[400];
	size_t n = (size_t)(e - p);
	if (n == 0 || n >= sizeof buf || !(*p == '-' || isdigit((unsigned char)*p))) return false;
	/* an integer of up to 15 digits is exact in a double: no strtod (a third of the time of
	 * evaluating `g < 10` on every row) */
	const char *d = p + (*p == '-');
	if (e - d >= 1 && e - d <= 15) {
		uint64_t v = 0;
		const char *q = d;
		while (q < e && isdigit((unsigned char)*q)) v = v * 10 + (uint64_t)(*q++ - '0');
		if (q == e) {
			*out = *p == '-' ? -(double)v : (double)v;
			return true;
		}
	}
	memcpy(buf, p, n);
	buf[n] = '\0';
	char *stop;
	*out = strtod(buf, &stop);
	return *stop == '\0';
}

/* -1, 0, 1 as value <=> literal; 2 when they are not comparable (other types, malformed). */
static int compare(const char *p, const char *e, const struct lit *l)
{
	switch (l->t) {
	case L_STR: {
		if (*p != '"') return 2;
		bool bad = false;
		int c = str_cmp(p, e, l->s, l->len, &bad);
		return bad ? 2 : c;
	}
	case L_NUM: {
		double v;
		if (!parse_number(p, e, &v)) return 2;
		return v < l->num ? -1 : v > l->num ? 1 : 0;
	}
	case L_TRUE: return e - p == 4 && !memcmp(p, "true", 4) ? 0 : 2;
	case L_FALSE: return e - p == 5 && !memcmp(p, "false", 5) ? 0 : 2;
	case L_NULL: return e - p == 4 && !memcmp(p, "null", 4) ? 0 : 2;
	}
	return 2;
}

static bool eval(const struct node *n, const char *payload, size_t len)
{
	const char *p, *e;
	switch (n->kind) {
	case N_AND:
	case N_OR: {
		/* chains are right-deep (parse_binary): walked in a loop, not recursion */
		enum node_kind k = n->kind;
		for (; n->kind == k; n = n->b)
			if (eval(n->a, payload, len) == (k == N_OR)) return k == N_OR;
		return eval(n, payload, len);
	}
	case N_NOT: return !eval(n->a, payload, len);
	case N_EXISTS: return lookup(payload, len, n, &p, &e);
	case N_IN:
		if (!lookup(payload, len, n, &p, &e)) return false;
		for (size_t i = 0; i < n->nlits; i++)
			if (compare(p, e, &n->lits[i]) == 0) return true;
		return false;
	case N_CMP: {
		if (!lookup(payload, len, n, &p, &e)) return n->op == OP_NE;
		int c = compare(p, e, &n->lits[0]);
		switch (n->op) {
		case OP_EQ: return c == 0;
		case OP_NE: return c != 0;
		case OP_LT: return c == -1;
		case OP_LE: return c == -1 || c == 0;
		case OP_GT: return c == 1;
		case OP_GE: return c == 1 || c == 0;
		}
	}
	}
	return false;
}

bool vz_filter_match(const vz_filter *f, const char *payload, size_t len)
{
	return eval(f->root, payload, len);
}

/* ---------------------------------------------------------------------------------------------
 * The expression grammar
 * ------------------------------------------------------------------------------------------- */

struct parser {
	const char *text, *p;
	int depth;
};

static void free_node(struct node *n)
{
	while (n) {
		for (size_t i = 0; i < n->nseg; i++) free(n->path[i].s);
		for (size_t i = 0; i < n->nlits; i++) free(n->lits[i].s);
		free(n->lits);
		free_node(n->a);
		struct node *next = n->b; /* chains are right-deep: no recursion along them */
		free(n);
		n = next;
	}
}

void vz_filter_free(vz_filter *f)
{
	if (!f) return;
	free_node(f->root);
	free(f);
}

static void skip_ws(struct parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r') ps->p++;
}

/* What the parser found at the current position, for messages. */
static void found(const struct parser *ps, char *buf, size_t cap)
{
	const char *p = ps->p;
	if (!*p) { snprintf(buf, cap, "the end of the expression"); return; }
	size_t n = 0;
	if (isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.')
		while (n < 20 && (isalnum((unsigned char)p[n]) || p[n] == '_' || p[n] == '-' || p[n] == '.')) n++;
	else if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
		{ snprintf(buf, cap, "byte 0x%02x", (unsigned char)*p); return; }
	else
		n = 1;
	snprintf(buf, cap, "'%.*s'", (int)n, p);
}

static int expected(const struct parser *ps, const char *what)
{
	char f[64];
	found(ps, f, sizeof f);
	return vz_fail(VZ_EINVAL, "column %zu: expected %s, found %s", (size_t)(ps->p - ps->text) + 1, what, f);
}

static bool is_word_char(char c) { return isalnum((unsigned char)c) || c == '_'; }

/* Whether a keyword (case-insensitive, whole word) is next; eats it if so. */
static bool keyword(struct parser *ps, const char *kw)
{
	skip_ws(ps);
	size_t n = strlen(kw);
	if (strncasecmp(ps->p, kw, n) || is_word_char(ps->p[n])) return false;
	ps->p += n;
	return true;
}

static bool is_reserved(const char *s, size_t n)
{
	static const char *const words[] = { "and", "or", "not", "in", "exists", "true", "false", "null" };
	for (size_t i = 0; i < sizeof words / sizeof *words; i++)
		if (strlen(words[i]) == n && !strncasecmp(s, words[i], n)) return true;
	return false;
}

static int parse_or(struct parser *ps, struct node **out);

/* A JSON string literal at ps->p (on '"'), decoded into *s (malloc'd, NUL-terminated). */
static int parse_string(struct parser *ps, char **s, size_t *len)
{
	const char *start = ps->p, *end = ps->p + strlen(ps->p);
	const char *q = skip_string(start, end);
	if (!q) return vz_fail(VZ_EINVAL, "column %zu: unterminated string", (size_t)(start - ps->text) + 1);
	char *buf = malloc((size_t)(q - start) + 1);
	if (!buf) return vz_fail(VZ_ENOMEM, "out of memory");
	size_t n = 0;
	const char *p = start + 1;
	for (;;) {
		if ((unsigned char)*p < 0x20) {
			free(buf);
			return vz_fail(VZ_EINVAL, "column %zu: control character in a string (write it as \\u%04x)", (size_t)(p - ps->text) + 1, (unsigned char)*p);
		}
		const char *at = p;
		int k = str_next(&p, end, (unsigned char *)buf + n);
		if (k < 0) {
			free(buf);
			return vz_fail(VZ_EINVAL, "column %zu: bad escape in a string (JSON escapes: \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)", (size_t)(at - ps->text) + 1);
		}
		if (k == 0) break;
		n += (size_t)k;
	}
	buf[n] = '\0';
	ps->p = q;
	*s = buf;
	*len = n;
	return VZ_OK;
}

static int parse_literal(struct parser *ps, struct lit *l, bool range)
{
	skip_ws(ps);
	memset(l, 0, sizeof *l);
	const char *what = range ? "a number or a string (ranges compare numbers with numbers, strings with strings)"
				 : "a value (a \"string\", a number, true, false or null)";
	if (*ps->p == '"') {
		l->t = L_STR;
		return parse_string(ps, &l->s, &l->len);
	}
	if (*ps->p == '-' || isdigit((unsigned char)*ps->p)) {
		/* JSON's number syntax: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
		const char *p = ps->p;
		if (*p == '-') p++;
		if (*p == '0') p++;
		else if (isdigit((unsigned char)*p)) while (isdigit((unsigned char)*p)) p++;
		else return ps->p = p, expected(ps, "a digit");
		if (*p == '.') {
			p++;
			if (!isdigit((unsigned char)*p)) return ps->p = p, expected(ps, "a digit after the decimal point");
			while (isdigit((unsigned char)*p)) p++;
		}
		if (*p == 'e' || *p == 'E') {
			p++;
			if (*p == '+' || *p == '-') p++;
			if (!isdigit((unsigned char)*p)) return ps->p = p, expected(ps, "a digit in the exponent");
			while (isdigit((unsigned char)*p)) p++;
		}
		if (is_word_char(*p) || *p == '.') return ps->p = p, expected(ps, "the end of the number");
		l->t = L_NUM;
		if (!parse_number(ps->p, p, &l->num) || !isfinite(l->num))
			return vz_fail(VZ_EINVAL, "column %zu: the number %.*s is out of range", (size_t)(ps->p - ps->text) + 1,
				       (int)(p - ps->p), ps->p);
		ps->p = p;
		return VZ_OK;
	}
	const char *at = ps->p;
	if (keyword(ps, "true")) l->t = L_TRUE;
	else if (keyword(ps, "false")) l->t = L_FALSE;
	else if (keyword(ps, "null")) l->t = L_NULL;
	else return expected(ps, what);
	if (range) {
		ps->p = at;
		return expected(ps, what);
	}
	return VZ_OK;
}

/* A key path: segments (identifiers or `backquoted`) joined by dots. */
static int parse_path(struct parser *ps, struct node *n)
{
	for (;;) {
		skip_ws(ps);
		const char *s = ps->p;
		size_t len;
		if (*s == '`') {
			const char *e = strchr(s + 1, '`');
			if (!e) return vz_fail(VZ_EINVAL, "column %zu: unterminated `key`", (size_t)(s - ps->text) + 1);
			if (e == s + 1) return expected(ps, "a key name between the backquotes");
			ps->p = e + 1;
			s++;
			len = (size_t)(e - s);
		} else {
			if (!(isalpha((unsigned char)*s) || *s == '_'))
				return expected(ps, n->nseg ? "a key name after '.'" : "a payload key, 'not' or '('");
			const char *e = s;
			while (is_word_char(*e) || *e == '-') e++;
			len = (size_t)(e - s);
			if (!n->nseg && is_reserved(s, len))
				return expected(ps, "a payload key, 'not' or '(' (write a key named like a keyword as `key`)");
			ps->p = e;
		}
		if (n->nseg == MAX_PATH) return vz_fail(VZ_EINVAL, "column %zu: a key path of more than %d parts", (size_t)(s - ps->text) + 1, MAX_PATH);
		char *c = malloc(len + 1);
		if (!c) return vz_fail(VZ_ENOMEM, "out of memory");
		memcpy(c, s, len);
		c[len] = '\0';
		n->path[n->nseg++] = (struct seg){ c, len };
		if (*ps->p != '.') return VZ_OK;
		ps->p++;
	}
}

static int add_lit(struct node *n, size_t *cap)
{
	if (n->nlits < *cap) return VZ_OK;
	size_t nc = *cap ? *cap * 2 : 4;
	struct lit *l = realloc(n->lits, nc * sizeof *l);
	if (!l) return vz_fail(VZ_ENOMEM, "out of memory");
	n->lits = l;
	*cap = nc;
	return VZ_OK;
}

/* KEY op VALUE | KEY [not] in (VALUE, ...) | KEY [not] exists */
static int parse_predicate(struct parser *ps, struct node **out)
{
	struct node *n = calloc(1, sizeof *n);
	if (!n) return vz_fail(VZ_ENOMEM, "out of memory");
	int rc = parse_path(ps, n);
	if (rc) goto fail;
	skip_ws(ps);
	const char *p = ps->p;
	int op = -1;
	size_t oplen = 1;
	if (p[0] == '=' && p[1] == '=') op = OP_EQ, oplen = 2;
	else if (p[0] == '=') op = OP_EQ;
	else if (p[0] == '!' && p[1] == '=') op = OP_NE, oplen = 2;
	else if (p[0] == '<' && p[1] == '>') op = OP_NE, oplen = 2;
	else if (p[0] == '<' && p[1] == '=') op = OP_LE, oplen = 2;
	else if (p[0] == '>' && p[1] == '=') op = OP_GE, oplen = 2;
	else if (p[0] == '<') op = OP_LT;
	else if (p[0] == '>') op = OP_GT;
	if (op >= 0) {
		ps->p += oplen;
		n->kind = N_CMP;
		n->op = (enum cmp_op)op;
		if (!(n->lits = malloc(sizeof *n->lits))) { rc = vz_fail(VZ_ENOMEM, "out of memory"); goto fail; }
		n->nlits = 1;
		if ((rc = parse_literal(ps, &n->lits[0], op >= OP_LT))) { n->nlits = 0; goto fail; }
		*out = n;
		return VZ_OK;
	}
	bool negate = false;
	if (keyword(ps, "not")) negate = true;
	if (keyword(ps, "exists")) {
		n->kind = N_EXISTS;
	} else if (keyword(ps, "in")) {
		n->kind = N_IN;
		skip_ws(ps);
		char close = *ps->p == '(' ? ')' : *ps->p == '[' ? ']' : 0;
		if (!close) { rc = expected(ps, "'(' to open the list of 'in'"); goto fail; }
		ps->p++;
		size_t cap = 0;
		for (;;) {
			if ((rc = add_lit(n, &cap))) goto fail;
			if ((rc = parse_literal(ps, &n->lits[n->nlits], false))) goto fail;
			n->nlits++;
			skip_ws(ps);
			if (*ps->p == ',') { ps->p++; continue; }
			if (*ps->p == close) { ps->p++; break; }
			rc = expected(ps, close == ')' ? "',' or ')'" : "',' or ']'");
			goto fail;
		}
	} else {
		rc = expected(ps, negate ? "'in' or 'exists' after 'not'"
					 : "an operator (=, !=, <, <=, >, >=, in, not in, exists, not exists)");
		goto fail;
	}
	if (negate) {
		struct node *m = calloc(1, sizeof *m);
		if (!m) { rc = vz_fail(VZ_ENOMEM, "out of memory"); goto fail; }
		m->kind = N_NOT;
		m->a = n;
		n = m;
	}
	*out = n;
	return VZ_OK;
fail:
	free_node(n);
	return rc;
}

static int parse_unary(struct parser *ps, struct node **out)
{
	if (++ps->depth > MAX_DEPTH) return vz_fail(VZ_EINVAL, "column %zu: nested deeper than %d", (size_t)(ps->p - ps->text) + 1, MAX_DEPTH);
	int rc;
	skip_ws(ps);
	if (keyword(ps, "not")) {
		struct node *n = calloc(1, sizeof *n);
		if (!n) return vz_fail(VZ_ENOMEM, "out of memory");
		n->kind = N_NOT;
		if ((rc = parse_unary(ps, &n->a))) { free(n); return rc; }
		*out = n;
	} else if (*ps->p == '(') {
		ps->p++;
		if ((rc = parse_or(ps, out))) return rc;
		skip_ws(ps);
		if (*ps->p != ')') { free_node(*out); *out = NULL; return expected(ps, "')' or an operator ('and', 'or')"); }
		ps->p++;
	} else if ((rc = parse_predicate(ps, out))) {
		return rc;
	}
	ps->depth--;
	return VZ_OK;
}

/* a and b and c (or the same with or) as a right-deep chain a and (b and c), so that eval and
 * free_node walk it in a loop however long it is */
static int parse_binary(struct parser *ps, struct node **out, bool is_or)
{
	int rc = is_or ? parse_binary(ps, out, false) : parse_unary(ps, out);
	struct node **tail = out;
	while (!rc && keyword(ps, is_or ? "or" : "and")) {
		struct node *n = calloc(1, sizeof *n);
		if (!n) { rc = vz_fail(VZ_ENOMEM, "out of memory"); break; }
		n->kind = is_or ? N_OR : N_AND;
		n->a = *tail;
		*tail = n;
		tail = &n->b;
		rc = is_or ? parse_binary(ps, tail, false) : parse_unary(ps, tail);
	}
	if (rc) { free_node(*out); *out = NULL; }
	return rc;
}

static int parse_or(struct parser *ps, struct node **out) { return parse_binary(ps, out, true); }

int vz_filter_parse(const char *text, vz_filter **out)
{
	*out = NULL;
	if (strlen(text) > VZ_FILTER_MAX)
		return vz_fail(VZ_EINVAL, "an expression of %zu bytes (at most %d)", strlen(text), VZ_FILTER_MAX);
	struct parser ps = { text, text, 0 };
	struct node *root = NULL;
	int rc = parse_or(&ps, &root);
	if (!rc) {
		skip_ws(&ps);
		if (*ps.p) {
			rc = expected(&ps, "'and', 'or' or the end of the expression");
			free_node(root);
		}
	}
	if (rc) return rc;
	vz_filter *f = malloc(sizeof *f);
	if (!f) { free_node(root); return vz_fail(VZ_ENOMEM, "out of memory"); }
	static _Atomic uint64_t serials;
	f->root = root;
	f->serial = ++serials;
	f->queries = 1;
	*out = f;
	return VZ_OK;
}

/* ---------------------------------------------------------------------------------------------
 * What a collection keeps of a filter (lib/filter.h)
 * ------------------------------------------------------------------------------------------- */

uint64_t vz_filter_serial(const vz_filter *f) { return f->serial; }

void vz_where_memo_free(struct vz_where_memo *m)
{
	free(m->state);
	memset(m, 0, sizeof *m);
}

void vz_filter_set_queries(vz_filter *f, size_t n) { f->queries = n ? n : 1; }
size_t vz_filter_queries(const vz_filter *f) { return f->queries; }

/* Costs in nanoseconds, measured on 100,000 x 64 rows at ef 64 (bench/filter.sh at 0.1% to 30%
 * selectivity, both plans forced, one query and batches of 200): evaluating a payload some 120,
 * a kept answer 2, a distance in a sequential scan dim / 2, a node the graph reaches some 150
 * (its distance, its answer, cache misses). To gather ef matching rows when a share p of the
 * rows match, the graph reaches some 16 * ef / p nodes (at most all of them). The exact scan
 * evaluates every row once, then per query reads every kept answer and computes a distance for
 * each matching row. With those, the model chose the faster plan at every point measured. */
bool vz_where_exact(size_t estimate, size_t live, size_t ef, uint32_t dim, size_t queries)
{
	double n = (double)live, m = (double)estimate, q = (double)queries;
	double reach = m > 0 ? 16.0 * (double)ef * n / m : n;
	if (reach > n) reach = n;
	double graph = q * reach * 150.0;
	double exact = n * 120.0 + q * (n * 2.0 + m * (double)dim / 2.0);
	return exact <= graph;
}
