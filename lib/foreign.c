/* foreign.c: the export forms of other engines (LanceDB, Qdrant, Milvus, pgvector), read back.
 * `vz export` writes a directory holding vz.json (the vz dump header: the whole configuration),
 * the engine's own definition of the table (which carries the metric in that engine's words)
 * and the rows in the form its bulk import takes. This file names the targets and metrics, and
 * turns such a directory back into a configuration and a batch for `vz load`: each row is
 * rewritten as a vz JSON line (id, vector and payload spans copied byte for byte, the payload
 * string of LanceDB and the CSV fields of pgvector decoded) and handed to vz_batch_parse, so
 * the one strict reader of JSON lines checks every value. */
#include "internal.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const target_names[VZ_TO_COUNT] = { "lancedb", "qdrant", "milvus", "pgvector" };
/* The file holding each engine's definition of the table. */
static const char *const def_files[VZ_TO_COUNT] = { "table.json", "collection.json", "schema.json", "schema.sql" };
/* Metric names, indexed by enum vz_metric (cosine, euclidean, dot), as each engine spells them:
 * LanceDB distanceType, Qdrant Distance, Milvus metric_type, pgvector operator class. */
static const char *const metric_names[VZ_TO_COUNT][4] = {
	{ NULL, "cosine", "l2", "dot" },
	{ NULL, "Cosine", "Euclid", "Dot" },
	{ NULL, "COSINE", "L2", "IP" },
	{ NULL, "vector_cosine_ops", "vector_l2_ops", "vector_ip_ops" },
};

const char *vz_export_target_name(enum vz_export_target t) { return t < VZ_TO_COUNT ? target_names[t] : "?"; }
const char *vz_export_definition_file(enum vz_export_target t) { return t < VZ_TO_COUNT ? def_files[t] : "?"; }

int vz_export_target_parse(const char *name, enum vz_export_target *t)
{
	for (int i = 0; i < VZ_TO_COUNT; i++)
		if (!strcmp(name, target_names[i])) { *t = (enum vz_export_target)i; return 0; }
	return vz_fail(VZ_EINVAL, "unknown target \"%s\" (lancedb, qdrant, milvus, pgvector)", name);
}

const char *vz_export_metric(enum vz_export_target t, enum vz_metric m)
{
	return t < VZ_TO_COUNT && m >= VZ_METRIC_COSINE && m <= VZ_METRIC_DOT ? metric_names[t][m] : NULL;
}

static int metric_from(enum vz_export_target t, const char *s, enum vz_metric *m)
{
	for (int i = VZ_METRIC_COSINE; i <= VZ_METRIC_DOT; i++)
		if (s && !strcmp(s, metric_names[t][i])) { *m = (enum vz_metric)i; return 0; }
	return -1;
}

/* ---- the vz JSON lines the rows become, in a vz_buf ---- */

static int put(vz_buf *o, const char *s, size_t n) { return vz_buf_put(o, s, n); }
static int puts_(vz_buf *o, const char *s) { return vz_buf_put(o, s, strlen(s)); }

/* ---- spans of JSON text: lenient (vz_batch_parse checks every value strictly afterwards) ---- */

struct span { const char *p, *end; };

static void ws(struct span *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\r' || *s->p == '\n')) s->p++;
}

static bool skip_value(struct span *s)
{
	ws(s);
	int depth = 0;
	bool in_str = false;
	const char *start = s->p;
	while (s->p < s->end) {
		char c = *s->p++;
		if (in_str) {
			if (c == '\\') { if (s->p >= s->end) return false; s->p++; }
			else if (c == '"') { in_str = false; if (!depth) return true; }
			continue;
		}
		if (c == '"') { in_str = true; continue; }
		if (c == '{' || c == '[') { depth++; continue; }
		if (c == '}' || c == ']') {
			if (!depth) { s->p--; return s->p > start; } /* the end of a scalar member */
			if (--depth < 0) return false;
			if (!depth) return true;
			continue;
		}
		if (!depth && (c == ',' || c == ':' || c == ' ' || c == '\t' || c == '\r' || c == '\n')) { s->p--; return s->p > start; }
	}
	return !depth && !in_str && s->p > start;
}

static bool eat(struct span *s, char c)
{
	ws(s);
	if (s->p < s->end && *s->p == c) { s->p++; return true; }
	return false;
}

/* The next member of an object whose '{' was eaten: key (raw, with quotes) and value spans.
 * Returns 1 for a member, 0 at the closing '}', -1 on bad syntax. */
static int next_member(struct span *s, bool *first, struct span *key, struct span *val)
{
	if (eat(s, '}')) return 0;
	if (!*first && !eat(s, ',')) return -1;
	*first = false;
	ws(s);
	key->p = s->p;
	if (s->p >= s->end || *s->p != '"' || !skip_value(s)) return -1;
	key->end = s->p;
	if (!eat(s, ':')) return -1;
	ws(s);
	val->p = s->p;
	if (!skip_value(s)) return -1;
	val->end = s->p;
	return 1;
}

static bool key_is(const struct span *k, const char *name)
{
	size_t n = strlen(name);
	return (size_t)(k->end - k->p) == n + 2 && !memcmp(k->p + 1, name, n);
}

static bool is_null(const struct span *v) { return v->end - v->p == 4 && !memcmp(v->p, "null", 4); }

/* Decodes a JSON string literal (escapes, surrogates) with jansson; NULL if it is not one. */
static json_t *decode_string(const struct span *v)
{
	json_t *j = json_loadb(v->p, (size_t)(v->end - v->p), JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (j && !json_is_string(j)) { json_decref(j); j = NULL; }
	return j;
}

/* One row as a vz JSON line. id is a JSON string literal, vector an array, payload raw JSON
 * text or NULL. */
static int put_row(vz_buf *o, const struct span *id, const struct span *vec, const char *payload, size_t plen)
{
	int rc = puts_(o, "{\"id\":");
	if (!rc) rc = put(o, id->p, (size_t)(id->end - id->p));
	if (!rc) rc = puts_(o, ",\"vector\":");
	if (!rc) rc = put(o, vec->p, (size_t)(vec->end - vec->p));
	if (!rc && payload) {
		if (!(rc = puts_(o, ",\"payload\":"))) rc = put(o, payload, plen);
	}
	return rc ? rc : puts_(o, "}\n");
}

static int bad(const char *file, size_t row, const char *what)
{
	return vz_fail(VZ_EDATA, "%s: row %zu: %s", file, row, what);
}

/* A row object {id, vector, payload}: LanceDB and Milvus (payload a JSON string holding its
 * JSON text, or null; Milvus also an object) and Qdrant (id a UUID, payload {"vz_id", "vz_payload"}). */
static int convert_row(enum vz_export_target t, const char *file, size_t row, struct span *s, vz_buf *o)
{
	if (!eat(s, '{')) return bad(file, row, "a JSON object expected");
	struct span key, val, id = { 0 }, vec = { 0 }, pay = { 0 };
	bool first = true, have_pay = false;
	int m;
	while ((m = next_member(s, &first, &key, &val)) == 1) {
		if (key_is(&key, "id") && !id.p) id = val;
		else if (key_is(&key, "vector") && !vec.p) vec = val;
		else if (key_is(&key, "payload") && !have_pay) { pay = val; have_pay = true; }
		else return bad(file, row, "unknown or repeated key");
	}
	if (m < 0) return bad(file, row, "bad JSON syntax");
	if (!id.p || !vec.p) return bad(file, row, "no \"id\" or no \"vector\"");
	if (t == VZ_TO_MILVUS && have_pay && pay.p < pay.end && *pay.p == '{') return put_row(o, &id, &vec, pay.p, (size_t)(pay.end - pay.p));
	if (t == VZ_TO_LANCEDB || t == VZ_TO_MILVUS) {
		/* the payload's JSON text as a string (Milvus also takes an object, above) */
		if (!have_pay || is_null(&pay)) return put_row(o, &id, &vec, NULL, 0);
		json_t *j = decode_string(&pay);
		if (!j) return bad(file, row, "\"payload\" must be a JSON string (the payload's JSON text) or null");
		int rc = put_row(o, &id, &vec, json_string_value(j), json_string_length(j));
		json_decref(j);
		return rc;
	}
	/* Qdrant: the point id is derived from the vz id, which the payload carries */
	if (!have_pay || !eat(&pay, '{')) return bad(file, row, "\"payload\" must be an object holding \"vz_id\"");
	struct span vid = { 0 }, vp = { 0 };
	first = true;
	while ((m = next_member(&pay, &first, &key, &val)) == 1) {
		if (key_is(&key, "vz_id") && !vid.p) vid = val;
		else if (key_is(&key, "vz_payload") && !vp.p) vp = val;
		else return bad(file, row, "unknown or repeated key in \"payload\" (vz_id, vz_payload)");
	}
	if (m < 0) return bad(file, row, "bad JSON syntax in \"payload\"");
	if (!vid.p) return bad(file, row, "no \"vz_id\" in \"payload\"");
	return put_row(o, &vid, &vec, vp.p && !is_null(&vp) ? vp.p : NULL, (size_t)(vp.end - vp.p));
}

/* {"points": [...]} (Qdrant) or {"rows": [...]} (Milvus): every element a row. */
static int convert_wrapped(enum vz_export_target t, const char *file, const char *text, size_t len, const char *root, vz_buf *o)
{
	struct span s = { text, text + len }, key, val;
	bool first = true;
	if (!eat(&s, '{') || next_member(&s, &first, &key, &val) != 1 || !key_is(&key, root) || !eat(&val, '['))
		return vz_fail(VZ_EDATA, "%s: offset 0: {\"%s\": [...]} expected", file, root);
	if (next_member(&s, &first, &key, &key) != 0 || (ws(&s), s.p != s.end))
		return vz_fail(VZ_EDATA, "%s: offset %zu: only \"%s\" expected in the top-level object", file, (size_t)(s.p - text), root);
	size_t row = 0;
	if (eat(&val, ']')) return 0;
	for (;;) {
		int rc = convert_row(t, file, ++row, &val, o);
		if (rc) return rc;
		if (eat(&val, ',')) continue;
		if (eat(&val, ']')) return 0;
		return bad(file, row, "',' or ']' expected after the row");
	}
}

/* One RFC 4180 field at *p (quoted or not); *is_null when unquoted and empty (PostgreSQL's
 * NULL in CSV). Returns the decoded field (malloc'd) or NULL on bad quoting. */
static char *csv_field(const char **p, const char *end, size_t *len, bool *is_null)
{
	vz_buf f = { 0 };
	*is_null = false;
	if (*p < end && **p == '"') {
		(*p)++;
		for (;;) {
			if (*p >= end) { vz_buf_free(&f); return NULL; }
			char c = *(*p)++;
			if (c == '"') {
				if (*p < end && **p == '"') { (*p)++; if (put(&f, "\"", 1)) { vz_buf_free(&f); return NULL; } continue; }
				break;
			}
			if (put(&f, &c, 1)) { vz_buf_free(&f); return NULL; }
		}
	} else {
		const char *q = *p;
		while (*p < end && **p != ',' && **p != '\n' && **p != '\r') (*p)++;
		*is_null = *p == q;
		if (put(&f, q, (size_t)(*p - q))) { vz_buf_free(&f); return NULL; }
	}
	if (put(&f, "", 1)) { vz_buf_free(&f); return NULL; }
	*len = f.len - 1;
	return (char *)f.data;
}

static int convert_csv(const char *file, const char *text, size_t len, vz_buf *o)
{
	const char *p = text, *end = text + len;
	static const char header[] = "id,embedding,payload";
	if (len < sizeof header - 1 || memcmp(p, header, sizeof header - 1))
		return vz_fail(VZ_EDATA, "%s: line 1: the header \"%s\" expected", file, header);
	p += sizeof header - 1;
	if (p < end && *p == '\r') p++;
	if (p < end && *p++ != '\n') return vz_fail(VZ_EDATA, "%s: line 1: the header \"%s\" expected", file, header);
	size_t row = 0;
	while (p < end) {
		row++;
		char *f[3] = { NULL, NULL, NULL };
		size_t fl[3];
		bool nul[3];
		int rc = 0;
		for (int i = 0; i < 3 && !rc; i++) {
			if (i && (p >= end || *p++ != ',')) { rc = bad(file, row, "three fields expected (id, embedding, payload)"); break; }
			if (!(f[i] = csv_field(&p, end, &fl[i], &nul[i]))) rc = bad(file, row, "unterminated quoted field");
		}
		if (!rc && p < end && *p == '\r') p++;
		if (!rc && p < end && *p++ != '\n') rc = bad(file, row, "end of line expected after three fields");
		if (!rc && (nul[0] || nul[1])) rc = bad(file, row, "id and embedding must not be NULL");
		if (!rc && (rc = put(o, "{\"id\":", 6)) == 0 && (rc = vz_buf_json_string(o, f[0], fl[0], VZ_JSON_KEEP_INVALID)) == 0 && (rc = puts_(o, ",\"vector\":")) == 0 &&
		    (rc = put(o, f[1], fl[1])) == 0 && !nul[2] && (rc = puts_(o, ",\"payload\":")) == 0)
			rc = put(o, f[2], fl[2]);
		if (!rc) rc = puts_(o, "}\n");
		for (int i = 0; i < 3; i++) free(f[i]);
		if (rc) return rc;
	}
	return 0;
}

/* The metric and dimension in the engine's definition file. */
static int read_definition(enum vz_export_target t, const char *path, uint32_t *dim, enum vz_metric *metric)
{
	char *text;
	size_t len;
	int rc = vz_read_file(path, 1 << 20, &text, &len);
	if (rc) return rc;
	long long d = -1;
	const char *ms = NULL;
	char msbuf[64] = "";
	if (t == VZ_TO_PGVECTOR) {
		const char *v = strstr(text, " vector(");
		if (v) d = strtoll(v + 8, NULL, 10);
		const char *u = strstr(text, "USING hnsw (embedding ");
		if (u) sscanf(u + 22, "%63[a-z0-9_]", msbuf), ms = msbuf;
	} else {
		json_error_t err;
		json_t *j = json_loadb(text, len, 0, &err);
		if (!j) {
			free(text);
			return vz_fail(VZ_EDATA, "%s: offset %d: %s", path, err.position, err.text);
		}
		json_t *dj = NULL, *mj = NULL;
		if (t == VZ_TO_LANCEDB) {
			dj = json_object_get(j, "dim");
			mj = json_object_get(j, "distance_type");
		} else if (t == VZ_TO_QDRANT) {
			json_t *v = json_object_get(j, "vectors");
			dj = json_object_get(v, "size");
			mj = json_object_get(v, "distance");
		} else {
			size_t i;
			json_t *f;
			json_array_foreach(json_object_get(json_object_get(j, "schema"), "fields"), i, f)
				if (json_is_string(json_object_get(f, "fieldName")) && !strcmp(json_string_value(json_object_get(f, "fieldName")), "vector"))
					dj = json_object_get(json_object_get(f, "elementTypeParams"), "dim");
			mj = json_object_get(json_array_get(json_object_get(j, "indexParams"), 0), "metricType");
		}
		if (json_is_integer(dj)) d = json_integer_value(dj);
		if (json_is_string(mj)) snprintf(msbuf, sizeof msbuf, "%s", json_string_value(mj)), ms = msbuf;
		json_decref(j);
	}
	free(text);
	if (d < 1 || d > VZ_MAX_DIM) return vz_fail(VZ_EDATA, "%s: no dimension between 1 and %d", path, VZ_MAX_DIM);
	if (metric_from(t, ms, metric))
		return vz_fail(VZ_EDATA, "%s: metric \"%s\" is not one of %s, %s, %s", path, ms ? ms : "", metric_names[t][1], metric_names[t][2], metric_names[t][3]);
	*dim = (uint32_t)d;
	return 0;
}

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static int add_file(enum vz_export_target t, const char *path, vz_buf *o)
{
	char *text;
	size_t len;
	int rc = vz_read_file(path, (size_t)1 << 36, &text, &len);
	if (rc) return rc;
	if (t == VZ_TO_LANCEDB) {
		const char *p = text, *end = text + len;
		for (size_t row = 1; p < end && !rc; row++) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			struct span s = { p, nl ? nl : end };
			if (!(rc = convert_row(t, path, row, &s, o)) && (ws(&s), s.p != s.end)) rc = bad(path, row, "trailing characters after the object");
			p = nl ? nl + 1 : end;
		}
	} else if (t == VZ_TO_PGVECTOR) {
		rc = convert_csv(path, text, len, o);
	} else {
		rc = convert_wrapped(t, path, text, len, t == VZ_TO_QDRANT ? "points" : "rows", o);
	}
	free(text);
	return rc;
}

int vz_export_read(const char *dir, vz_config *cfg, vz_batch *b)
{
	char path[VZ_PATH_MAX];
	int t = -1;
	for (int i = 0; i < VZ_TO_COUNT; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, def_files[i]);
		if (!exists(path)) continue;
		if (t >= 0) return vz_fail(VZ_EDATA, "%s: both %s and %s: which engine's export this is is unclear", dir, def_files[t], def_files[i]);
		t = i;
	}
	if (t < 0) return vz_fail(VZ_ENOENT, "%s: not an export directory (no table.json, collection.json, schema.json or schema.sql)", dir);
	snprintf(path, sizeof path, "%s/%s", dir, def_files[t]);
	uint32_t dim = 0;
	enum vz_metric metric = VZ_METRIC_COSINE;
	int rc = read_definition((enum vz_export_target)t, path, &dim, &metric);
	if (rc) return rc;
	/* vz.json, when there, gives the rest of the configuration (m, ef, quantization...) */
	vz_config_defaults(cfg);
	cfg->dim = dim;
	cfg->metric = metric;
	snprintf(path, sizeof path, "%s/vz.json", dir);
	if (exists(path)) {
		char *text;
		size_t len;
		if ((rc = vz_read_file(path, 1 << 20, &text, &len))) return rc;
		const char *key = "{\"vz_dump\":1,\"config\":";
		while (len && (text[len - 1] == '\n' || text[len - 1] == '\r')) len--;
		if (len < strlen(key) + 1 || strncmp(text, key, strlen(key)) || text[len - 1] != '}') rc = vz_fail(VZ_EDATA, "%s: offset 0: not a vz dump header", path);
		else if (vz_config_from_json_text(text + strlen(key), len - strlen(key) - 1, cfg)) rc = vz_fail_prefix(VZ_EDATA, "%s: ", path);
		free(text);
		if (rc) return rc;
		if (cfg->dim != dim || cfg->metric != metric)
			return vz_fail(VZ_EDATA, "%s: dimension %u and metric %s disagree with %s/%s (%u, %s)", path, cfg->dim, vz_metric_name(cfg->metric), dir,
				       def_files[t], dim, metric_names[t][metric]);
	}
	vz_buf o = { 0 };
	if (t == VZ_TO_QDRANT) {
		/* points-000001.json, points-000002.json, ... until the first missing one */
		for (unsigned i = 1; !rc; i++) {
			snprintf(path, sizeof path, "%s/points-%06u.json", dir, i);
			if (!exists(path)) break;
			rc = add_file((enum vz_export_target)t, path, &o);
		}
	} else {
		static const char *const files[VZ_TO_COUNT] = { "rows.jsonl", NULL, "rows.json", "rows.csv" };
		snprintf(path, sizeof path, "%s/%s", dir, files[t]);
		rc = add_file((enum vz_export_target)t, path, &o);
	}
	if (!rc) {
		/* the rewritten text has one line per row: its errors name the row of the rows file */
		static const char *const rows[VZ_TO_COUNT] = { "rows.jsonl", "points-*.json", "rows.json", "rows.csv" };
		snprintf(path, sizeof path, "%s/%s", dir, rows[t]);
		rc = vz_batch_parse(path, o.data ? o.data : (const unsigned char *)"", o.len, VZ_FMT_JSONL, dim, 0, 0, b);
		size_t pl = strlen(path);
		const char *why = vz_last_error();
		if (rc && !strncmp(why, path, pl) && !strncmp(why + pl, ": line ", 7)) {
			char msg[1024];
			snprintf(msg, sizeof msg, "%s", why + pl + 7);
			/* "line 3: ... (also on line 2)" reads as rows */
			char *also = strstr(msg, "on line ");
			if (also) memmove(also + 3, also + 3 + 1, strlen(also + 4) + 1), memcpy(also + 3, "row", 3);
			rc = vz_fail(rc, "%s: row %s", path, msg);
		}
	}
	vz_buf_free(&o);
	return rc;
}
