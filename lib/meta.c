/* meta.c: the collection configuration and metadata.json, the commit point of a checkpoint.
 * metadata.json is a JSON object whose last member "meta_xxh3" is the XXH3-64 (hex) of every
 * byte before that member, so that any change to the file is detected. */
#include "internal.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define META_VERSION VZ_FORMAT_VERSION
#define META_MAX_SIZE (1u << 20)
static const char META_SUM_KEY[] = ",\n  \"meta_xxh3\": \"";

void vz_config_defaults(vz_config *c)
{
	memset(c, 0, sizeof *c);
	c->metric = VZ_METRIC_COSINE;
	c->m = 16;
	c->ef_construction = 200;
	c->ef_search = 64;
	c->quantization = VZ_QUANT_NONE;
	c->checkpoint_ops = 1000;
	c->checkpoint_seconds = 300;
}

int vz_config_validate(const vz_config *c)
{
	if (c->dim < 1 || c->dim > VZ_MAX_DIM) return vz_fail(VZ_EINVAL, "dimension %u is out of range [1, %d]", c->dim, VZ_MAX_DIM);
	if (c->metric < VZ_METRIC_COSINE || c->metric > VZ_METRIC_DOT) return vz_fail(VZ_EINVAL, "unknown metric");
	if (c->m < 2 || c->m > 128) return vz_fail(VZ_EINVAL, "m %u is out of range [2, 128]", c->m);
	if (c->ef_construction < 1 || c->ef_construction > 10000)
		return vz_fail(VZ_EINVAL, "ef_construction %u is out of range [1, 10000]", c->ef_construction);
	if (c->ef_search < 1 || c->ef_search > 10000) return vz_fail(VZ_EINVAL, "ef_search %u is out of range [1, 10000]", c->ef_search);
	if (c->quantization != VZ_QUANT_NONE && c->quantization != VZ_QUANT_SQ8) return vz_fail(VZ_EINVAL, "unknown quantization");
	if (c->embedding[0] && !vz_embedding_known(c->embedding))
		return vz_fail(VZ_EINVAL, "unknown embedding '%s' (bm25, native_bow, native_hash, native_ngram)", c->embedding);
	if (c->checkpoint_ops < 1) return vz_fail(VZ_EINVAL, "checkpoint_ops must be at least 1");
	if (c->checkpoint_seconds < 1) return vz_fail(VZ_EINVAL, "checkpoint_seconds must be at least 1");
	return VZ_OK;
}

int vz_config_to_json(const vz_config *c, vz_buf *b)
{
	return vz_buf_printf(b, "{\"dim\": %u, \"metric\": \"%s\", \"m\": %u, \"ef_construction\": %u, \"ef_search\": %u, "
			     "\"quantization\": \"%s\", \"embedding\": \"%s\", \"checkpoint_ops\": %u, \"checkpoint_seconds\": %u}",
			     c->dim, vz_metric_name(c->metric), c->m, c->ef_construction, c->ef_search,
			     c->quantization == VZ_QUANT_SQ8 ? "sq8" : "none", c->embedding, c->checkpoint_ops,
			     c->checkpoint_seconds);
}

static int get_uint(json_t *obj, const char *key, uint64_t max, uint64_t *out)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) > max)
		return vz_fail(VZ_ECORRUPT, "field \"%s\" is missing or not an integer in range", key);
	*out = (uint64_t)json_integer_value(v);
	return VZ_OK;
}

static int get_str(json_t *obj, const char *key, const char **out)
{
	json_t *v = json_object_get(obj, key);
	if (!json_is_string(v)) return vz_fail(VZ_ECORRUPT, "field \"%s\" is missing or not a string", key);
	*out = json_string_value(v);
	return VZ_OK;
}

static int config_from_json(json_t *o, vz_config *c)
{
	uint64_t v;
	const char *s = NULL;
	int rc;
	vz_config_defaults(c);
	if (!json_is_object(o)) return vz_fail(VZ_ECORRUPT, "\"config\" is not an object");
	if ((rc = get_uint(o, "dim", VZ_MAX_DIM, &v))) return rc;
	c->dim = (uint32_t)v;
	if ((rc = get_str(o, "metric", &s))) return rc;
	if (vz_metric_parse(s, &c->metric)) return vz_fail(VZ_ECORRUPT, "unknown metric \"%s\"", s);
	if ((rc = get_uint(o, "m", 1000, &v))) return rc;
	c->m = (uint32_t)v;
	if ((rc = get_uint(o, "ef_construction", 100000, &v))) return rc;
	c->ef_construction = (uint32_t)v;
	if ((rc = get_uint(o, "ef_search", 100000, &v))) return rc;
	c->ef_search = (uint32_t)v;
	if ((rc = get_str(o, "quantization", &s))) return rc;
	if (!strcmp(s, "sq8")) c->quantization = VZ_QUANT_SQ8;
	else if (!strcmp(s, "none")) c->quantization = VZ_QUANT_NONE;
	else return vz_fail(VZ_ECORRUPT, "unknown quantization \"%s\"", s);
	if ((rc = get_str(o, "embedding", &s))) return rc;
	if (strlen(s) >= sizeof c->embedding) return vz_fail(VZ_ECORRUPT, "embedding name too long");
	strcpy(c->embedding, s);
	if ((rc = get_uint(o, "checkpoint_ops", UINT32_MAX, &v))) return rc;
	c->checkpoint_ops = (uint32_t)v;
	if ((rc = get_uint(o, "checkpoint_seconds", UINT32_MAX, &v))) return rc;
	c->checkpoint_seconds = (uint32_t)v;
	if ((rc = vz_config_validate(c))) return vz_fail(VZ_ECORRUPT, "%s", vz_last_error());
	return VZ_OK;
}

int vz_config_from_json_text(const char *text, size_t len, vz_config *c)
{
	json_error_t err;
	json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	if (!o) return vz_fail(VZ_ECORRUPT, "configuration: %s", err.text);
	int rc = config_from_json(o, c);
	json_decref(o);
	return rc;
}

static int file_sum_from_json(json_t *files, const char *name, vz_file_sum *f)
{
	memset(f, 0, sizeof *f);
	json_t *o = json_object_get(files, name);
	if (!o) return VZ_OK;
	if (!json_is_object(o)) return vz_fail(VZ_ECORRUPT, "files.%s is not an object", name);
	const char *hex = NULL;
	int rc = get_uint(o, "size", INT64_MAX, &f->size);
	if (!rc) rc = get_str(o, "body_xxh3", &hex);
	if (rc) return vz_fail_prefix(rc, "files.%s: ", name);
	char *end;
	if (strlen(hex) != 16) return vz_fail(VZ_ECORRUPT, "files.%s.body_xxh3 is not 16 hex digits", name);
	f->body_checksum = strtoull(hex, &end, 16);
	if (*end) return vz_fail(VZ_ECORRUPT, "files.%s.body_xxh3 is not hex", name);
	f->present = true;
	return VZ_OK;
}

/* "base_generation" and "segments" of format_version 3 (see vz_meta). */
static int segments_from_json(json_t *o, vz_meta *m)
{
	int rc = get_uint(o, "base_generation", m->generation, &m->base_generation);
	json_t *segs = json_object_get(o, "segments");
	if (rc) return rc;
	if (!json_is_array(segs)) return vz_fail(VZ_ECORRUPT, "field \"segments\" is missing");
	if (json_array_size(segs) > VZ_MAX_SEGMENTS)
		return vz_fail(VZ_ECORRUPT, "%zu segments, at most %d", json_array_size(segs), VZ_MAX_SEGMENTS);
	uint64_t after = m->base_generation;
	for (size_t i = 0; i < json_array_size(segs); i++) {
		json_t *s = json_array_get(segs, i);
		vz_segment_sum *g = &m->segments[i];
		if (!json_is_object(s)) return vz_fail(VZ_ECORRUPT, "segments[%zu] is not an object", i);
		if ((rc = get_uint(s, "generation", m->generation, &g->generation)) || (rc = get_uint(s, "rows", UINT32_MAX, &g->rows)) ||
		    (rc = get_uint(s, "live", UINT32_MAX, &g->live)) || (rc = file_sum_from_json(s, "vectors", &g->vectors)) ||
		    (rc = file_sum_from_json(s, "index", &g->index)))
			return vz_fail_prefix(rc, "segments[%zu]: ", i);
		if (g->generation <= after || g->live > g->rows || g->rows == 0 || !g->vectors.present)
			return vz_fail(VZ_ECORRUPT, "segments[%zu]: generation %llu, rows %llu, live %llu: not a segment after generation %llu with its rows listed",
				       i, (unsigned long long)g->generation, (unsigned long long)g->rows, (unsigned long long)g->live,
				       (unsigned long long)after);
		after = g->generation;
		m->nsegments++;
	}
	return VZ_OK;
}

int vz_meta_read(const char *dir, vz_meta *m)
{
	memset(m, 0, sizeof *m);
	char path[VZ_PATH_MAX];
	int rc = vz_path_fmt(path, sizeof path, "%s/metadata.json", dir);
	if (rc) return rc;
	char *text;
	size_t len;
	struct stat st;
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return vz_fail(VZ_EPERM, "%s: not a regular file (a symlink?); refusing to read it", path);
	if ((rc = vz_read_file(path, META_MAX_SIZE, &text, &len))) {
		if (rc == VZ_ENOENT) return vz_fail(VZ_ENOENT, "%s: no such file", path);
		return rc;
	}
	/* own checksum first: any flipped bit anywhere is named before the parser sees it */
	char *sum = NULL;
	for (char *p = strstr(text, META_SUM_KEY); p; p = strstr(p + 1, META_SUM_KEY)) sum = p;
	if (!sum) { free(text); return vz_fail(VZ_ECORRUPT, "metadata.json: offset 0: no meta_xxh3 checksum member"); }
	const char *hex = sum + strlen(META_SUM_KEY);
	char *end;
	uint64_t want = strtoull(hex, &end, 16);
	if (end != hex + 16 || strcmp(end, "\"\n}\n") != 0) {
		free(text);
		return vz_fail(VZ_ECORRUPT, "metadata.json: offset %td: malformed meta_xxh3 member", sum - text);
	}
	char canonical[17];
	snprintf(canonical, sizeof canonical, "%016" PRIx64, want);
	if (memcmp(canonical, hex, 16) != 0 || vz_hash64(text, (size_t)(sum - text)) != want) {
		free(text);
		return vz_fail(VZ_ECORRUPT, "metadata.json: checksum mismatch (the file was changed or damaged)");
	}
	json_error_t err;
	json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
	free(text);
	if (!o) return vz_fail(VZ_ECORRUPT, "metadata.json: line %d column %d: %s", err.line, err.column, err.text);
	uint64_t v;
	const char *kind = NULL;
	json_t *files;
	if ((rc = get_uint(o, "format_version", 1000, &v))) goto out;
	if (v < 1 || v > META_VERSION) { rc = vz_fail(VZ_ECORRUPT, "unsupported format_version %llu (this vz reads up to %d)", (unsigned long long)v, META_VERSION); goto out; }
	m->format_version = (uint32_t)v;
	if (v >= 2) {
		const char *idhex = NULL;
		if ((rc = get_str(o, "collection_id", &idhex))) goto out;
		if ((rc = vz_id_parse(idhex, &m->id))) goto out;
		if (!vz_id_is_set(&m->id)) { rc = vz_fail(VZ_ECORRUPT, "field \"collection_id\" is zero"); goto out; }
		json_t *wal = json_object_get(o, "wal");
		if (wal) {
			const char *salt = NULL;
			char *salt_end;
			if (!json_is_object(wal)) { rc = vz_fail(VZ_ECORRUPT, "field \"wal\" is not an object"); goto out; }
			if ((rc = get_str(wal, "salt", &salt)) || (rc = get_uint(wal, "first_seq", INT64_MAX, &m->wal_first_seq))) goto out;
			m->wal_salt = strtoull(salt, &salt_end, 16);
			if (strlen(salt) != 16 || *salt_end) { rc = vz_fail(VZ_ECORRUPT, "wal.salt is not 16 hex digits"); goto out; }
			m->has_wal_start = true;
		}
		if (json_object_get(o, "terms_saves") && (rc = get_uint(o, "terms_saves", INT64_MAX, &m->terms_saves))) goto out;
	}
	if ((rc = get_str(o, "kind", &kind))) goto out;
	m->workspace = !strcmp(kind, "workspace");
	if (!m->workspace && strcmp(kind, "dynamic")) { rc = vz_fail(VZ_ECORRUPT, "unknown kind \"%s\"", kind); goto out; }
	if ((rc = config_from_json(json_object_get(o, "config"), &m->cfg))) goto out;
	if ((rc = get_uint(o, "generation", INT64_MAX, &m->generation))) goto out;
	if ((rc = get_uint(o, "wal_seq", INT64_MAX, &m->wal_seq))) goto out;
	if ((rc = get_uint(o, "rows", UINT32_MAX, &m->rows))) goto out;
	if ((rc = get_uint(o, "live", UINT32_MAX, &m->live))) goto out;
	if ((rc = get_uint(o, "tombstones", UINT32_MAX, &m->tombstones))) goto out;
	if ((rc = get_uint(o, "created", INT64_MAX, &v))) goto out;
	m->created = (int64_t)v;
	if ((rc = get_uint(o, "checkpoint_time", INT64_MAX, &v))) goto out;
	m->checkpoint_time = (int64_t)v;
	if (m->live + m->tombstones != m->rows) { rc = vz_fail(VZ_ECORRUPT, "live + tombstones != rows"); goto out; }
	files = json_object_get(o, "files");
	if (!json_is_object(files)) { rc = vz_fail(VZ_ECORRUPT, "field \"files\" is missing"); goto out; }
	if ((rc = file_sum_from_json(files, "vectors.bin", &m->vectors))) goto out;
	if ((rc = file_sum_from_json(files, "index.hnsw", &m->index))) goto out;
	/* a workspace collection's graph may not be built yet: it lists no index.hnsw then (a
	 * detached vz checkpoint adds it, vz-format(5) "Deferred graph") */
	if (m->rows > 0 && (!m->vectors.present || (!m->index.present && !m->workspace))) {
		rc = vz_fail(VZ_ECORRUPT, "rows > 0 but vectors.bin or index.hnsw is not listed");
		goto out;
	}
	m->base_generation = m->generation;
	if (m->format_version >= 3 && (rc = segments_from_json(o, m))) goto out;
	json_t *extra = json_object_get(o, "extra");
	if (extra) {
		char *s = json_dumps(extra, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!s) { rc = vz_fail(VZ_ENOMEM, "out of memory"); goto out; }
		m->extra_json = s;
	}
out:
	json_decref(o);
	if (rc) {
		vz_fail_prefix(rc, "%s: ", path);
		vz_meta_free(m);
	}
	if (!rc && !m->extra_json) m->extra_json = strdup("");
	return rc;
}

int vz_meta_write(const char *dir, const vz_meta *m)
{
	vz_buf b = { 0 };
	if (!vz_id_is_set(&m->id)) return vz_fail(VZ_EINTERNAL, "metadata.json: no collection id to write");
	char idhex[33];
	vz_id_hex(&m->id, idhex);
	/* version 2 while the base is of this generation and there are no segments: a collection
	 * without any reads as it always did */
	bool v3 = m->nsegments || m->base_generation != m->generation;
	int rc = vz_buf_printf(&b, "{\n  \"format_version\": %d,\n  \"kind\": \"%s\",\n  \"collection_id\": \"%s\",\n  \"config\": ",
			       v3 ? META_VERSION : 2, m->workspace ? "workspace" : "dynamic", idhex);
	if (!rc) rc = vz_config_to_json(&m->cfg, &b);
	if (!rc)
		rc = vz_buf_printf(&b, ",\n  \"generation\": %" PRIu64 ",\n  \"wal_seq\": %" PRIu64 ",\n  \"rows\": %" PRIu64
				       ",\n  \"live\": %" PRIu64 ",\n  \"tombstones\": %" PRIu64 ",\n  \"created\": %" PRId64
				       ",\n  \"checkpoint_time\": %" PRId64,
				   m->generation, m->wal_seq, m->rows, m->live, m->tombstones, m->created, m->checkpoint_time);
	/* "wal" goes before "files": the members keep one fixed order */
	if (!rc && m->has_wal_start)
		rc = vz_buf_printf(&b, ",\n  \"wal\": {\"salt\": \"%016" PRIx64 "\", \"first_seq\": %" PRIu64 "}", m->wal_salt, m->wal_first_seq);
	if (!rc) rc = vz_buf_printf(&b, ",\n  \"files\": {");
	const char *sep = "";
	const vz_file_sum *sums[2] = { &m->vectors, &m->index };
	const char *names[2] = { "vectors.bin", "index.hnsw" };
	for (int i = 0; i < 2 && !rc; i++) {
		if (!sums[i]->present) continue;
		rc = vz_buf_printf(&b, "%s\n    \"%s\": {\"size\": %" PRIu64 ", \"body_xxh3\": \"%016" PRIx64 "\"}", sep,
				   names[i], sums[i]->size, sums[i]->body_checksum);
		sep = ",";
	}
	if (!rc) rc = vz_buf_printf(&b, "\n  }");
	if (!rc && v3) rc = vz_buf_printf(&b, ",\n  \"base_generation\": %" PRIu64 ",\n  \"segments\": [%s", m->base_generation, m->nsegments ? "" : "]");
	for (uint32_t i = 0; i < m->nsegments && !rc; i++) {
		const vz_segment_sum *g = &m->segments[i];
		rc = vz_buf_printf(&b, "%s\n    {\"generation\": %" PRIu64 ", \"rows\": %" PRIu64 ", \"live\": %" PRIu64
				   ", \"vectors\": {\"size\": %" PRIu64 ", \"body_xxh3\": \"%016" PRIx64 "\"}",
				   i ? "," : "", g->generation, g->rows, g->live, g->vectors.size, g->vectors.body_checksum);
		/* a segment without a graph (written first, for a large log) lists none */
		if (!rc && g->index.present)
			rc = vz_buf_printf(&b, ", \"index\": {\"size\": %" PRIu64 ", \"body_xxh3\": \"%016" PRIx64 "\"}", g->index.size,
					   g->index.body_checksum);
		if (!rc) rc = vz_buf_printf(&b, "}");
		if (!rc && i + 1 == m->nsegments) rc = vz_buf_printf(&b, "\n  ]");
	}
	if (!rc && m->terms_saves) rc = vz_buf_printf(&b, ",\n  \"terms_saves\": %" PRIu64, m->terms_saves);
	if (!rc && m->extra_json && m->extra_json[0]) rc = vz_buf_printf(&b, ",\n  \"extra\": %s", m->extra_json);
	if (!rc) {
		uint64_t h = vz_hash64(b.data, b.len);
		rc = vz_buf_printf(&b, "%s%016" PRIx64 "\"\n}\n", META_SUM_KEY, h);
	}
	char path[VZ_PATH_MAX];
	if (!rc) rc = vz_path_fmt(path, sizeof path, "%s/metadata.json", dir);
	if (!rc) rc = vz_atomic_write(path, b.data, b.len);
	vz_buf_free(&b);
	return rc;
}

void vz_meta_free(vz_meta *m)
{
	free(m->extra_json);
	m->extra_json = NULL;
}

int vz_meta_check_header(const vz_meta *m, const char *name, const vz_file_header *h, bool check_gen)
{
	char want[33], got[33];
	vz_coll_id id;
	if (vz_id_is_set(&m->id)) {
		vz_id_hex(&m->id, want);
		if (!vz_header_id(h, &id))
			return vz_fail(VZ_ECORRUPT, "%s: format version %u carries no collection id, metadata.json names %s (an older copy?)",
				       name, h->version, want);
		if (!vz_id_is_set(&id))
			return vz_fail(VZ_ECORRUPT, "%s: carries no collection id, metadata.json names %s", name, want);
		if (!vz_id_equal(&id, &m->id)) {
			vz_id_hex(&id, got);
			return vz_fail(VZ_ECORRUPT, "%s: belongs to collection %s, this is %s", name, got, want);
		}
	}
	/* vectors.bin and index.hnsw are of the base generation, segments of their own */
	uint64_t want_gen = m->generation;
	if (!strcmp(name, "vectors.bin") || !strcmp(name, "index.hnsw")) want_gen = m->base_generation;
	else if (!strncmp(name, "seg-", 4)) want_gen = strtoull(name + 4, NULL, 10);
	if (check_gen && h->generation != want_gen)
		return vz_fail(VZ_ECORRUPT, "%s: generation %llu, metadata.json says %llu (%s)", name, (unsigned long long)h->generation,
			       (unsigned long long)want_gen, h->generation < want_gen ? "an older copy?" : "a newer copy?");
	return VZ_OK;
}

int vz_meta_check_wal(const vz_meta *m, const vz_file_header *h)
{
	int rc = vz_meta_check_header(m, "wal.log", h, m->has_wal_start);
	if (rc || !m->has_wal_start) return rc;
	if (h->aux != m->wal_salt)
		return vz_fail(VZ_ECORRUPT, "wal.log: salt %016llx, metadata.json says %016llx (a log of another checkpoint?)",
			       (unsigned long long)h->aux, (unsigned long long)m->wal_salt);
	if (h->aux2 != m->wal_first_seq)
		return vz_fail(VZ_ECORRUPT, "wal.log: first sequence number %llu, metadata.json says %llu", (unsigned long long)h->aux2,
			       (unsigned long long)m->wal_first_seq);
	return VZ_OK;
}
