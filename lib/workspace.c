/* workspace.c: reads vectorize-workspace.yml (vz-workspace(5)) with libyaml, in both schemas:
 *   simplified: workspace, defaults{embedding, dimension, metric, indexing, processing},
 *               projects[].collections[] with include_patterns/exclude_patterns and overrides;
 *   full:       global{default_embedding, default_collection, default_indexing, processing},
 *               projects[], processing, monitoring, validation, file_watcher.
 * The file is first scanned as events to bound its size, aliases and depth (so an alias bomb is
 * refused before anything expands it), then loaded as a document whose nodes keep their marks
 * for file:line:column messages. */
#include "ws_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Settings that can be given at the defaults, project and collection levels; the most specific
 * one wins. -1 / "" means not given. */
typedef struct settings {
	char model[32];
	long long dim, m, efc, efs, chunk_size, overlap, max_file, ckpt_ops, ckpt_secs;
	long long metric, quant, skip_hidden, ngram_min, ngram_max;
	double text[5]; /* processing.text_search: path_weight, title_weight, body_weight, k1, b; < 0: not given */
	yaml_node_t *include, *exclude, *exts; /* sequences */
	char wanted_model[32];  /* a model that needs weights: model is its fallback */
	yaml_node_t *model_node; /* where the model was named */
} settings;

typedef struct parser {
	const char *path;
	yaml_document_t doc;
	vz_workspace *w;
	int rc;
	yaml_node_t *last_unknown; /* the last unknown key met (named when a required key is missing) */
} parser;

static void settings_unset(settings *s)
{
	memset(s, 0, sizeof *s);
	s->dim = s->m = s->efc = s->efs = s->chunk_size = s->overlap = s->max_file = -1;
	s->ckpt_ops = s->ckpt_secs = s->metric = s->quant = -1;
	for (int i = 0; i < 5; i++) s->text[i] = -1;
	s->skip_hidden = s->ngram_min = s->ngram_max = -1;
}

static void settings_overlay(settings *base, const settings *over)
{
	if (over->model[0]) {
		memcpy(base->model, over->model, sizeof base->model);
		memcpy(base->wanted_model, over->wanted_model, sizeof base->wanted_model);
		base->model_node = over->model_node;
	}
	long long *b[] = { &base->dim, &base->m, &base->efc, &base->efs, &base->chunk_size, &base->overlap,
			   &base->max_file, &base->ckpt_ops, &base->ckpt_secs, &base->metric, &base->quant,
			   &base->skip_hidden, &base->ngram_min, &base->ngram_max };
	const long long *o[] = { &over->dim, &over->m, &over->efc, &over->efs, &over->chunk_size, &over->overlap,
				 &over->max_file, &over->ckpt_ops, &over->ckpt_secs, &over->metric, &over->quant,
				 &over->skip_hidden, &over->ngram_min, &over->ngram_max };
	for (size_t i = 0; i < sizeof b / sizeof b[0]; i++)
		if (*o[i] >= 0) *b[i] = *o[i];
	for (int i = 0; i < 5; i++)
		if (over->text[i] >= 0) base->text[i] = over->text[i];
	if (over->include) base->include = over->include;
	if (over->exclude) base->exclude = over->exclude;
	if (over->exts) base->exts = over->exts;
}

static int err_at(parser *p, const yaml_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int err_at(parser *p, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	p->rc = vz_fail(VZ_ECONFIG, "%s:%zu:%zu: %s", p->path, n->start_mark.line + 1, n->start_mark.column + 1, msg);
	return p->rc;
}

static int warn_at(parser *p, const yaml_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int warn_at(parser *p, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[512], *line;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (asprintf(&line, "%s:%zu:%zu: %s", p->path, n->start_mark.line + 1, n->start_mark.column + 1, msg) < 0)
		return vz_fail(VZ_ENOMEM, "out of memory");
	char **w = realloc(p->w->warnings, (p->w->n_warnings + 1) * sizeof *w);
	if (!w) {
		free(line);
		return vz_fail(VZ_ENOMEM, "out of memory");
	}
	w[p->w->n_warnings++] = line;
	p->w->warnings = w;
	return VZ_OK;
}

static yaml_node_t *node(parser *p, int idx) { return yaml_document_get_node(&p->doc, idx); }

static const char *scalar(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

static int want(parser *p, yaml_node_t *n, yaml_node_type_t type, const char *what)
{
	if (n->type == type) return VZ_OK;
	const char *kind = type == YAML_MAPPING_NODE ? "a mapping" : type == YAML_SEQUENCE_NODE ? "a list" : "a value";
	return err_at(p, n, "%s must be %s", what, kind);
}

static int get_string(parser *p, yaml_node_t *n, const char *what, char *out, size_t cap)
{
	if (want(p, n, YAML_SCALAR_NODE, what)) return p->rc;
	if (n->data.scalar.length >= cap) return err_at(p, n, "%s is too long (at most %zu bytes)", what, cap - 1);
	memcpy(out, scalar(n), n->data.scalar.length + 1);
	return VZ_OK;
}

static int get_int(parser *p, yaml_node_t *n, const char *what, long long min, long long max, long long *out)
{
	if (want(p, n, YAML_SCALAR_NODE, what)) return p->rc;
	const char *s = scalar(n);
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (!*s || *end || errno) return err_at(p, n, "%s must be an integer, not '%s'", what, s);
	if (v < min || v > max) return err_at(p, n, "%s %lld out of range %lld..%lld", what, v, min, max);
	*out = v;
	return VZ_OK;
}

static int get_num(parser *p, yaml_node_t *n, const char *what, double min, double max, double *out)
{
	if (want(p, n, YAML_SCALAR_NODE, what)) return p->rc;
	const char *s = scalar(n);
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (!*s || *end || errno || v != v) return err_at(p, n, "%s must be a number, not '%s'", what, s);
	if (v < min || v > max) return err_at(p, n, "%s %g out of range %g..%g", what, v, min, max);
	*out = v;
	return VZ_OK;
}

static int get_bool(parser *p, yaml_node_t *n, const char *what, bool *out)
{
	if (want(p, n, YAML_SCALAR_NODE, what)) return p->rc;
	const char *s = scalar(n);
	if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "on")) *out = true;
	else if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "off")) *out = false;
	else return err_at(p, n, "%s must be true or false, not '%s'", what, s);
	return VZ_OK;
}

/* Iterates a mapping: for each pair, fn(p, key, value, ctx). Keys must be scalars. */
typedef int (*pair_fn)(parser *p, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx);

static int each_pair(parser *p, yaml_node_t *map, const char *what, pair_fn fn, void *ctx)
{
	if (want(p, map, YAML_MAPPING_NODE, what)) return p->rc;
	for (yaml_node_pair_t *pr = map->data.mapping.pairs.start; pr < map->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = node(p, pr->key), *v = node(p, pr->value);
		if (!k || !v) return err_at(p, map, "broken mapping in %s", what);
		if (k->type != YAML_SCALAR_NODE) return err_at(p, k, "keys of %s must be plain names", what);
		int rc = fn(p, scalar(k), k, v, ctx);
		if (rc) return rc;
	}
	return VZ_OK;
}

static int unknown(parser *p, yaml_node_t *k, const char *where)
{
	p->last_unknown = k;
	return warn_at(p, k, "unknown key '%s' in %s (ignored)", scalar(k), where);
}

/* A key of the original system that names something vz does not have: accepted, and listed
 * once (by `vz build -v`) with why it does not apply. */
static int not_applicable(parser *p, yaml_node_t *k, const char *why)
{
	vz_workspace *w = p->w;
	char *tail;
	if (asprintf(&tail, ": %s: %s", scalar(k), why) < 0) return vz_fail(VZ_ENOMEM, "out of memory");
	size_t tl = strlen(tail);
	for (size_t i = 0; i < w->n_not_applicable; i++) { /* the same key for the same reason: listed once */
		size_t ll = strlen(w->not_applicable[i]);
		if (ll >= tl && !strcmp(w->not_applicable[i] + ll - tl, tail)) {
			free(tail);
			return VZ_OK;
		}
	}
	free(tail);
	char *line;
	if (asprintf(&line, "%s:%zu:%zu: %s: %s", p->path, k->start_mark.line + 1, k->start_mark.column + 1, scalar(k), why) < 0)
		return vz_fail(VZ_ENOMEM, "out of memory");
	char **arr = realloc(w->not_applicable, (w->n_not_applicable + 1) * sizeof *arr);
	if (!arr) {
		free(line);
		return vz_fail(VZ_ENOMEM, "out of memory");
	}
	arr[w->n_not_applicable++] = line;
	w->not_applicable = arr;
	return VZ_OK;
}

/* ---- settings sections ---- */

static int check_patterns(parser *p, yaml_node_t *v, const char *what)
{
	if (want(p, v, YAML_SEQUENCE_NODE, what)) return p->rc;
	for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
		yaml_node_t *n = node(p, *it);
		if (!n || want(p, n, YAML_SCALAR_NODE, "a pattern")) return p->rc ? p->rc : err_at(p, v, "broken list");
		if (!n->data.scalar.length || n->data.scalar.length > 1024) return err_at(p, n, "a pattern must have 1..1024 bytes");
	}
	return VZ_OK;
}

/* The models that need trained weights vz cannot have, and the one used instead. */
#define WS_FALLBACK_MODEL "bm25"

static int set_model(parser *p, yaml_node_t *v, settings *s)
{
	if (get_string(p, v, "embedding model", s->model, sizeof s->model)) return p->rc;
	s->wanted_model[0] = 0;
	s->model_node = v;
	if (!strcmp(s->model, "real_model") || !strcmp(s->model, "onnx_model")) {
		/* said once per collection that uses it (finish_collection) */
		memcpy(s->wanted_model, s->model, sizeof s->wanted_model);
		strcpy(s->model, WS_FALLBACK_MODEL);
	} else if (!vz_embedding_known(s->model)) {
		warn_at(p, v, "embedding model '%s' is not built in: %s is used", s->model, WS_FALLBACK_MODEL);
		strcpy(s->model, WS_FALLBACK_MODEL);
	}
	return VZ_OK;
}

/* ngram_range: [MIN, MAX] (character n-grams of native_ngram) */
static int set_ngram_range(parser *p, yaml_node_t *v, settings *s)
{
	if (want(p, v, YAML_SEQUENCE_NODE, "ngram_range")) return p->rc;
	if (v->data.sequence.items.top - v->data.sequence.items.start != 2) return err_at(p, v, "ngram_range must be [MIN, MAX]");
	yaml_node_t *a = node(p, v->data.sequence.items.start[0]), *b = node(p, v->data.sequence.items.start[1]);
	if (!a || !b) return err_at(p, v, "broken list");
	if (get_int(p, a, "ngram_range minimum", 1, 16, &s->ngram_min) || get_int(p, b, "ngram_range maximum", 1, 16, &s->ngram_max))
		return p->rc;
	if (s->ngram_min > s->ngram_max) return err_at(p, v, "ngram_range [%lld, %lld]: the minimum is above the maximum", s->ngram_min, s->ngram_max);
	return VZ_OK;
}

/* Model parameters, under embedding.parameters or directly under embedding; VZ_ENOENT (without
 * a message) when key is not one. */
static int model_parameter(parser *p, const char *key, yaml_node_t *k, yaml_node_t *v, settings *s)
{
	if (!strcmp(key, "ngram_range")) return set_ngram_range(p, v, s);
	if (!strcmp(key, "k1") || !strcmp(key, "b"))
		return not_applicable(p, k, "bm25's k1 and b are fixed at 1.2 and 0.75 (see vz-workspace(5))");
	if (!strcmp(key, "model_path") || !strcmp(key, "model_name") || !strcmp(key, "device") || !strcmp(key, "batch_size") ||
	    !strcmp(key, "normalize") || !strcmp(key, "max_length") || !strcmp(key, "cache_dir"))
		return not_applicable(p, k, "vz runs no trained models: every vector is computed natively and L2-normalised");
	if (!strcmp(key, "max_features") || !strcmp(key, "vocab_size") || !strcmp(key, "vocabulary_size") || !strcmp(key, "min_df") ||
	    !strcmp(key, "max_df") || !strcmp(key, "use_idf") || !strcmp(key, "sublinear_tf") || !strcmp(key, "lowercase") ||
	    !strcmp(key, "analyzer") || !strcmp(key, "stop_words"))
		return not_applicable(p, k, "vz's models hash every lowercased term into the dimension: vocabulary and weighting options do not apply");
	return VZ_ENOENT;
}

static int embedding_parameters_pair(parser *p, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	int rc = model_parameter(p, key, k, v, ctx);
	return rc == VZ_ENOENT ? unknown(p, k, "embedding parameters") : rc;
}

static int embedding_pair(parser *p, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	settings *s = ctx;
	if (!strcmp(key, "model")) return set_model(p, v, s);
	if (!strcmp(key, "dimension")) return get_int(p, v, "dimension", 1, VZ_MAX_DIM, &s->dim);
	if (!strcmp(key, "parameters")) return each_pair(p, v, "embedding parameters", embedding_parameters_pair, s);
	int rc = model_parameter(p, key, k, v, s);
	return rc == VZ_ENOENT ? unknown(p, k, "embedding") : rc;
}

static int parse_embedding(parser *p, yaml_node_t *v, settings *s)
{
	if (v->type == YAML_SCALAR_NODE) return set_model(p, v, s);
	return each_pair(p, v, "embedding", embedding_pair, s);
}

static int set_metric(parser *p, yaml_node_t *v, settings *s)
{
	if (want(p, v, YAML_SCALAR_NODE, "metric")) return p->rc;
	enum vz_metric m;
	if (vz_metric_parse(scalar(v), &m)) return err_at(p, v, "unknown metric '%s' (cosine, euclidean, dot_product)", scalar(v));
	s->metric = m;
	return VZ_OK;
}

static int set_quant(parser *p, yaml_node_t *v, settings *s)
{
	if (want(p, v, YAML_SCALAR_NODE, "quantization")) return p->rc;
	const char *q = scalar(v);
	if (!strcmp(q, "none")) s->quant = VZ_QUANT_NONE;
	else if (!strcmp(q, "sq8")) s->quant = VZ_QUANT_SQ8;
	else if (v->data.scalar.length == 0) s->quant = VZ_QUANT_NONE;
	else return err_at(p, v, "unknown quantization '%s' (none, sq8)", q);
	return VZ_OK;
}

static int hnsw_pair(parser *p, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	settings *s = ctx;
	if (!strcmp(key, "m")) return get_int(p, v, "m", 2, 100, &s->m);
	if (!strcmp(key, "ef_construction")) return get_int(p, v, "ef_construction", 1, 10000, &s->efc);
	if (!strcmp(key, "ef_search")) return get_int(p, v, "ef_search", 1, 10000, &s->efs);
	return unknown(p, k, "indexing parameters");
}

static int indexing_pair(parser *p, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	if (!strcmp(key, "index_type") || !strcmp(key, "type")) {
		if (want(p, v, YAML_SCALAR_NODE, key)) return p->rc;
		if (strcmp(scalar(v), "hnsw")) return warn_at(p, v, "index_type '%s' is not supported: hnsw is used", scalar(v));
		return VZ_OK;
	}
	if (!strcmp(key, "parameters")) return each_pair(p, v, "indexing parameters", hnsw_pair, ctx);
	if (!strcmp(key, "m") || !strcmp(key, "ef_construction") || !strcmp(key, "ef_search")) return hnsw_pair(p, key, k, v, ctx);
	return unknown(p, k, "indexing");
}

/* Keys about which files are read, at processing or processing.file_processing; VZ_ENOENT
 * (without a message) when key is not one. */
static int file_key(parser *p, const char *key, yaml_node_t *k, yaml_node_t *v, settings *s)
{
	if (!strcmp(key, "max_file_size")) return get_int(p, v, "max_file_size", 1, 1LL << 30, &s->max_file);
	if (!strcmp(key, "max_file_size_mb")) {
		long long mb;
		if (get_int(p, v, "max_file_size_mb", 1, 1024, &mb)) return p->rc;
		s->max_file = mb << 20;
		return VZ_OK;
	}
	if (!strcmp(key, "skip_hidden_files")) {
		bool b;
		if (get_bool(p, v, "skip_hidden_files", &b)) return p->rc;
		s->skip_hidden = b;
		return VZ_OK;
	}
	if (!strcmp(key, "supported_extensions")) return check_patterns(p, v, "supported_extensions") ? p->rc : (s->exts = v, VZ_OK);
	if (!strcmp(key, "skip_binary_files"))
		return not_applicable(p, k, "binary files (a NUL byte in the first 8 KiB) are always skipped");
	if (!strcmp(key, "encoding")) return not_applicable(p, k, "every file is read as UTF-8 (invalid bytes become U+FFFD)");
	return VZ_ENOENT;
}

static int file_processing_pair(parser *p, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	int rc = file_key(p, key, k, v, ctx);
	return rc == VZ_ENOENT ? unknown(p, k, "file_processing") : rc;
}

static int text_search_pair(parser *p, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	settings *s = ctx;
	static const char *const keys[5] = { "path_weight", "title_weight", "body_weight", "k1", "b" };
	for (int i = 0; i < 5; i++)
		if (!strcmp(key, keys[i])) return get_num(p, v, keys[i], 0, i == 4 ? 1 : 100, &s->text[i]);
	return unknown(p, k, "text_search");
}

static int processing_pair(parser *p, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	settings *s = ctx;
	if (!strcmp(key, "chunk_size")) return get_int(p, v, "chunk_size", 64, 1 << 20, &s->chunk_size);
	if (!strcmp(key, "chunk_overlap")) return get_int(p, v, "chunk_overlap", 0, 1 << 20, &s->overlap);
	int rc = file_key(p, key, k, v, s);
	if (rc != VZ_ENOENT) return rc;
	if (!strcmp(key, "include_patterns")) return check_patterns(p, v, "include_patterns") ? p->rc : (s->include = v, VZ_OK);
	if (!strcmp(key, "exclude_patterns")) return check_patterns(p, v, "exclude_patterns") ? p->rc : (s->exclude = v, VZ_OK);
	if (!strcmp(key, "file_processing")) return each_pair(p, v, "file_processing", file_processing_pair, s);
	if (!strcmp(key, "text_search")) return each_pair(p, v, "text_search", text_search_pair, s);
	/* scheduling knobs of the original system; vz build uses --threads instead */
	if (!strcmp(key, "parallel_processing") || !strcmp(key, "max_concurrent_projects") ||
	    !strcmp(key, "max_concurrent_collections") || !strcmp(key, "batch_size") || !strcmp(key, "max_workers"))
		return not_applicable(p, k, "vz builds one collection after the other; vz build --threads N sets the index build's threads");
	if (!strcmp(key, "memory_limit") || !strcmp(key, "memory_limit_mb") || !strcmp(key, "max_memory_mb"))
		return not_applicable(p, k, "vz has no memory limit: it maps its files and holds one collection's chunks at a time");
	if (!strcmp(key, "retry_attempts") || !strcmp(key, "max_retries") || !strcmp(key, "retry_delay") || !strcmp(key, "timeout") ||
	    !strcmp(key, "timeout_seconds"))
		return not_applicable(p, k, "vz does not retry: a failing collection is reported and the others are built");
	return unknown(p, k, "processing");
}

static int checkpoint_pair(parser *p, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	settings *s = ctx;
	if (!strcmp(key, "ops")) return get_int(p, v, "checkpoint ops", 1, UINT32_MAX, &s->ckpt_ops);
	if (!strcmp(key, "seconds")) return get_int(p, v, "checkpoint seconds", 1, UINT32_MAX, &s->ckpt_secs);
	return unknown(p, k, "checkpoint");
}

/* Keys that any settings level accepts; VZ_ENOENT (without a message) when key is not one. */
static int settings_pair(parser *p, const char *key, yaml_node_t *k, yaml_node_t *v, settings *s)
{
	(void)k;
	if (!strcmp(key, "embedding")) return parse_embedding(p, v, s);
	if (!strcmp(key, "embedding_model") || !strcmp(key, "default_embedding_model")) return set_model(p, v, s);
	if (!strcmp(key, "chunk_size")) return get_int(p, v, "chunk_size", 64, 1 << 20, &s->chunk_size);
	if (!strcmp(key, "chunk_overlap")) return get_int(p, v, "chunk_overlap", 0, 1 << 20, &s->overlap);
	if (!strcmp(key, "dimension")) return get_int(p, v, "dimension", 1, VZ_MAX_DIM, &s->dim);
	if (!strcmp(key, "metric")) return set_metric(p, v, s);
	if (!strcmp(key, "quantization")) return set_quant(p, v, s);
	if (!strcmp(key, "indexing")) return each_pair(p, v, "indexing", indexing_pair, s);
	if (!strcmp(key, "processing")) return each_pair(p, v, "processing", processing_pair, s);
	if (!strcmp(key, "checkpoint")) return each_pair(p, v, "checkpoint", checkpoint_pair, s);
	if (!strcmp(key, "description")) return VZ_OK; /* informational */
	if (!strcmp(key, "compression")) return not_applicable(p, k, "vz does not compress vectors (see quantization: sq8)");
	return file_key(p, key, k, v, s);
}

static int defaults_pair(parser *p, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	int rc = settings_pair(p, key, k, v, ctx);
	return rc == VZ_ENOENT ? unknown(p, k, "defaults") : rc;
}

/* global (full schema) */
static int default_collection_pair(parser *p, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	int rc = settings_pair(p, key, k, v, ctx);
	return rc == VZ_ENOENT ? unknown(p, k, "default_collection") : rc;
}

static int global_pair(parser *p, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	settings *s = ctx;
	if (!strcmp(key, "default_embedding")) return parse_embedding(p, v, s);
	if (!strcmp(key, "default_collection")) return each_pair(p, v, "default_collection", default_collection_pair, s);
	if (!strcmp(key, "default_indexing")) return each_pair(p, v, "default_indexing", indexing_pair, s);
	if (!strcmp(key, "processing")) return each_pair(p, v, "processing", processing_pair, s);
	return unknown(p, k, "global");
}

static int watcher_pair(parser *p, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx);
static int top_sections(parser *p, const char *key, yaml_node_t *k, yaml_node_t *v);

/* global_settings (the later form): file_watcher, the global defaults, the top-level sections */
static int global_settings_pair(parser *p, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	settings *s = ctx;
	if (!strcmp(key, "file_watcher")) return each_pair(p, v, "file_watcher", watcher_pair, NULL);
	if (!strcmp(key, "default_embedding") || !strcmp(key, "default_collection") || !strcmp(key, "default_indexing"))
		return global_pair(p, key, k, v, s);
	int rc = settings_pair(p, key, k, v, s);
	if (rc != VZ_ENOENT) return rc;
	rc = top_sections(p, key, k, v);
	return rc == VZ_ENOENT ? unknown(p, k, "global_settings") : rc;
}

/* ---- projects and collections ---- */

typedef struct coll_ctx {
	settings s;
	char name[65];
	yaml_node_t *name_node;
} coll_ctx;

static int collection_pair(parser *p, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	coll_ctx *c = ctx;
	if (!strcmp(key, "name")) {
		c->name_node = v;
		return get_string(p, v, "collection name", c->name, sizeof c->name);
	}
	if (!strcmp(key, "include_patterns") || !strcmp(key, "exclude_patterns"))
		return processing_pair(p, key, k, v, &c->s);
	int rc = settings_pair(p, key, k, v, &c->s);
	return rc == VZ_ENOENT ? unknown(p, k, "collection") : rc;
}

static int add_patterns(parser *p, yaml_node_t *seq, char ***out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (!seq) return VZ_OK;
	size_t count = (size_t)(seq->data.sequence.items.top - seq->data.sequence.items.start);
	*out = calloc(count ? count : 1, sizeof **out);
	if (!*out) return vz_fail(VZ_ENOMEM, "out of memory");
	for (size_t i = 0; i < count; i++) {
		(*out)[i] = strdup(scalar(node(p, seq->data.sequence.items.start[i])));
		if (!(*out)[i]) return vz_fail(VZ_ENOMEM, "out of memory");
		(*n)++;
	}
	return VZ_OK;
}

/* Canonical text of the effective configuration, hashed into config_hash. */
static uint64_t config_hash(const vz_ws_collection *c)
{
	vz_hasher *h = vz_hasher_new();
	if (!h) return 0;
	char buf[512];
	int n = snprintf(buf, sizeof buf, "v1 %s %u %d %u %u %u %d %u %u %llu\n", c->cfg.embedding, c->cfg.dim, (int)c->cfg.metric,
			 c->cfg.m, c->cfg.ef_construction, c->cfg.ef_search, (int)c->cfg.quantization, c->chunk_size,
			 c->chunk_overlap, (unsigned long long)c->max_file_size);
	vz_hasher_update(h, buf, (size_t)n);
	vz_hasher_update(h, c->project_dir, strlen(c->project_dir) + 1);
	for (size_t i = 0; i < c->n_include; i++) vz_hasher_update(h, c->include[i], strlen(c->include[i]) + 1);
	vz_hasher_update(h, "\n", 1);
	for (size_t i = 0; i < c->n_exclude; i++) vz_hasher_update(h, c->exclude[i], strlen(c->exclude[i]) + 1);
	if (!c->skip_hidden || c->n_extensions || c->ngram_min) { /* absent: the hash of older builds */
		n = snprintf(buf, sizeof buf, "\nv2 %d %u %u\n", c->skip_hidden, c->ngram_min, c->ngram_max);
		vz_hasher_update(h, buf, (size_t)n);
		for (size_t i = 0; i < c->n_extensions; i++) vz_hasher_update(h, c->extensions[i], strlen(c->extensions[i]) + 1);
	}
	uint64_t d = vz_hasher_digest(h);
	vz_hasher_free(h);
	return d;
}

static int finish_collection(parser *p, const settings *s, const char *project, const char *project_dir,
			     const coll_ctx *c, yaml_node_t *at)
{
	vz_workspace *w = p->w;
	if (!c->name[0]) return err_at(p, at, "a collection needs a name");
	if (!vz_name_valid(c->name)) return err_at(p, c->name_node, "invalid collection name '%s' (letters, digits, '.', '_', '-')", c->name);
	for (size_t i = 0; i < w->n; i++)
		if (!strcmp(w->collections[i].project, project) && !strcmp(w->collections[i].name, c->name))
			return err_at(p, c->name_node, "collection '%s/%s' is defined twice", project, c->name);
	vz_ws_collection *arr = realloc(w->collections, (w->n + 1) * sizeof *arr);
	if (!arr) return vz_fail(VZ_ENOMEM, "out of memory");
	w->collections = arr;
	vz_ws_collection *wc = &arr[w->n++];
	memset(wc, 0, sizeof *wc);
	snprintf(wc->project, sizeof wc->project, "%s", project);
	snprintf(wc->name, sizeof wc->name, "%s", c->name);
	snprintf(wc->full_name, sizeof wc->full_name, "%s/%s", project, c->name);
	snprintf(wc->project_dir, sizeof wc->project_dir, "%s", project_dir);
	wc->line = (int)at->start_mark.line + 1;
	vz_config_defaults(&wc->cfg);
	snprintf(wc->cfg.embedding, sizeof wc->cfg.embedding, "%s", s->model[0] ? s->model : "bm25");
	wc->skip_hidden = s->skip_hidden != 0; /* default (-1): skipped */
	if (!strcmp(wc->cfg.embedding, "native_ngram")) {
		wc->ngram_min = s->ngram_min > 0 ? (uint32_t)s->ngram_min : 3;
		wc->ngram_max = s->ngram_max > 0 ? (uint32_t)s->ngram_max : wc->ngram_min > 5 ? wc->ngram_min : 5;
	} /* elsewhere ngram_range does not apply (a default for the native_ngram collections) */
	if (s->wanted_model[0]) {
		/* once per collection, at the line that names the model */
		const yaml_node_t *mn = s->model_node ? s->model_node : at;
		warn_at(p, (yaml_node_t *)mn, "%s: embedding model '%s' needs trained weights vz cannot have: %s is used instead",
			wc->full_name, s->wanted_model, wc->cfg.embedding);
	}
	wc->cfg.dim = s->dim >= 0 ? (uint32_t)s->dim : 512;
	if (s->metric >= 0) wc->cfg.metric = (enum vz_metric)s->metric;
	if (s->m >= 0) wc->cfg.m = (uint32_t)s->m;
	/* a graph for `--vector` queries only (`--text` ranks with postings.bin), which took 60%
	 * of a first build at the dynamic collections' 200: at 80 a first build takes half the CPU
	 * and recall@10 at ef 64 is 0.97 (0.99 at 200, 0.93 at 40; llvm-14's headers) */
	wc->cfg.ef_construction = s->efc >= 0 ? (uint32_t)s->efc : 80;
	if (s->efs >= 0) wc->cfg.ef_search = (uint32_t)s->efs;
	if (s->quant >= 0) wc->cfg.quantization = (enum vz_quant)s->quant;
	if (s->ckpt_ops >= 0) wc->cfg.checkpoint_ops = (uint32_t)s->ckpt_ops;
	if (s->ckpt_secs >= 0) wc->cfg.checkpoint_seconds = (uint32_t)s->ckpt_secs;
	wc->chunk_size = s->chunk_size >= 0 ? (uint32_t)s->chunk_size : 2048;
	wc->chunk_overlap = s->overlap >= 0 ? (uint32_t)s->overlap : 256;
	wc->max_file_size = s->max_file >= 0 ? (uint64_t)s->max_file : 10u << 20;
	wc->text = (vz_text_weights)VZ_TEXT_WEIGHTS_DEFAULT;
	float *tw[5] = { &wc->text.path, &wc->text.title, &wc->text.body, &wc->text.k1, &wc->text.b };
	for (int i = 0; i < 5; i++)
		if (s->text[i] >= 0) *tw[i] = (float)s->text[i];
	if (wc->chunk_overlap >= wc->chunk_size)
		return err_at(p, at, "chunk_overlap %u must be smaller than chunk_size %u", wc->chunk_overlap, wc->chunk_size);
	int rc = add_patterns(p, s->include, &wc->include, &wc->n_include);
	if (!rc) rc = add_patterns(p, s->exclude, &wc->exclude, &wc->n_exclude);
	if (!rc) rc = add_patterns(p, s->exts, &wc->extensions, &wc->n_extensions);
	for (size_t i = 0; !rc && i < wc->n_extensions; i++) /* ".md", "*.md" and "md" all mean md */
		memmove(wc->extensions[i], wc->extensions[i] + strspn(wc->extensions[i], "*."), strlen(wc->extensions[i] + strspn(wc->extensions[i], "*.")) + 1);
	if (!rc && !wc->n_include) {
		/* no include_patterns: every (non-skipped) file of the project */
		free(wc->include);
		wc->include = calloc(1, sizeof *wc->include);
		if (!wc->include || !(wc->include[0] = strdup("**"))) return vz_fail(VZ_ENOMEM, "out of memory");
		wc->n_include = 1;
	}
	if (rc) return rc;
	wc->config_hash = config_hash(wc);
	return VZ_OK;
}

typedef struct project_ctx {
	settings s;
	char name[65], path[VZ_PATH_MAX];
	bool enabled, has_path;
	yaml_node_t *name_node, *collections;
} project_ctx;

static int project_pair(parser *p, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	project_ctx *pc = ctx;
	if (!strcmp(key, "name")) {
		pc->name_node = v;
		return get_string(p, v, "project name", pc->name, sizeof pc->name);
	}
	if (!strcmp(key, "path")) {
		pc->has_path = true;
		return get_string(p, v, "project path", pc->path, sizeof pc->path);
	}
	if (!strcmp(key, "enabled")) return get_bool(p, v, "enabled", &pc->enabled);
	if (!strcmp(key, "collections")) {
		pc->collections = v;
		return v->type == YAML_MAPPING_NODE ? VZ_OK : want(p, v, YAML_SEQUENCE_NODE, "collections");
	}
	int rc = settings_pair(p, key, k, v, &pc->s);
	return rc == VZ_ENOENT ? unknown(p, k, "project") : rc;
}

/* A project entry pn; key: its name when projects is a mapping of NAME: entry (else NULL). */
static int parse_project(parser *p, yaml_node_t *pn, yaml_node_t *key, const settings *defaults)
{
	project_ctx pc = { .enabled = true };
	settings_unset(&pc.s);
	p->last_unknown = NULL;
	if (each_pair(p, pn, "a project", project_pair, &pc)) return p->rc;
	if (!pc.name[0] && key && get_string(p, key, "project name", pc.name, sizeof pc.name)) return p->rc;
	if (!pc.name_node) pc.name_node = key ? key : pn;
	if (!pc.name[0]) return err_at(p, pn, "a project needs a name");
	if (!vz_name_valid(pc.name)) return err_at(p, pc.name_node, "invalid project name '%s' (letters, digits, '.', '_', '-')", pc.name);
	if (!pc.has_path || !pc.path[0]) return err_at(p, pn, "project '%s' needs a path", pc.name);
	if (!pc.collections && p->last_unknown)
		return err_at(p, p->last_unknown, "project '%s' has no collections: unknown key '%s' (did you mean 'collections'?)", pc.name, scalar(p->last_unknown));
	if (!pc.collections) return err_at(p, pn, "project '%s' has no collections", pc.name);
	for (size_t i = 0; i < p->w->n; i++)
		if (!strcmp(p->w->collections[i].project, pc.name))
			return err_at(p, pc.name_node, "project '%s' is defined twice", pc.name);
	if (!pc.enabled) return VZ_OK;
	char dir[VZ_PATH_MAX];
	const char *rel = pc.path;
	while (rel[0] == '.' && rel[1] == '/') /* "./proj": proj */
		for (rel += 2; *rel == '/';) rel++;
	if (!*rel) rel = ".";
	int rc = pc.path[0] == '/' ? vz_path_fmt(dir, sizeof dir, "%s", pc.path)
				   : vz_path_fmt(dir, sizeof dir, "%s/%s", p->w->dir, rel);
	if (rc) return err_at(p, pn, "project path too long");
	size_t dl = strlen(dir);
	while (dl > 1 && dir[dl - 1] == '/') dir[--dl] = 0;
	if (dl > 2 && !strcmp(dir + dl - 2, "/.")) dir[dl - 2] = 0;
	settings proj = *defaults;
	settings_overlay(&proj, &pc.s);
	/* a list of entries, or a mapping of NAME: entry */
	bool by_name = pc.collections->type == YAML_MAPPING_NODE;
	size_t count = by_name ? (size_t)(pc.collections->data.mapping.pairs.top - pc.collections->data.mapping.pairs.start)
			       : (size_t)(pc.collections->data.sequence.items.top - pc.collections->data.sequence.items.start);
	for (size_t i = 0; i < count; i++) {
		yaml_node_t *cn = node(p, by_name ? pc.collections->data.mapping.pairs.start[i].value : pc.collections->data.sequence.items.start[i]);
		yaml_node_t *ck = by_name ? node(p, pc.collections->data.mapping.pairs.start[i].key) : NULL;
		coll_ctx c = { 0 };
		settings_unset(&c.s);
		if (!cn || (by_name && !ck)) return err_at(p, pn, "broken list");
		if (by_name && cn->type == YAML_SCALAR_NODE && !cn->data.scalar.length) cn = ck; /* "docs:" with nothing: defaults */
		else if (each_pair(p, cn, "a collection", collection_pair, &c)) return p->rc;
		if (by_name && !c.name[0]) {
			if (get_string(p, ck, "collection name", c.name, sizeof c.name)) return p->rc;
			c.name_node = ck;
		}
		settings eff = proj;
		settings_overlay(&eff, &c.s);
		if ((rc = finish_collection(p, &eff, pc.name, dir, &c, cn))) return rc;
	}
	return VZ_OK;
}

/* Records the failure just reported (vz_last_error) for project entry pn and clears it. */
static int project_failed(parser *p, yaml_node_t *pn, yaml_node_t *key)
{
	vz_workspace *w = p->w;
	vz_ws_failure *f = realloc(w->failures, (w->n_failures + 1) * sizeof *f);
	if (!f) return vz_fail(VZ_ENOMEM, "out of memory");
	w->failures = f;
	f = &f[w->n_failures];
	memset(f, 0, sizeof *f);
	f->err = p->rc;
	if (!(f->message = strdup(vz_last_error()))) return vz_fail(VZ_ENOMEM, "out of memory");
	w->n_failures++;
	/* the project's name, when it has one */
	if (key && key->type == YAML_SCALAR_NODE) snprintf(f->project, sizeof f->project, "%s", scalar(key));
	if (pn->type == YAML_MAPPING_NODE)
		for (yaml_node_pair_t *pr = pn->data.mapping.pairs.start; pr < pn->data.mapping.pairs.top; pr++) {
			yaml_node_t *k = node(p, pr->key), *v = node(p, pr->value);
			if (k && v && k->type == YAML_SCALAR_NODE && v->type == YAML_SCALAR_NODE && !strcmp(scalar(k), "name"))
				snprintf(f->project, sizeof f->project, "%s", scalar(v));
		}
	p->rc = VZ_OK;
	return VZ_OK;
}

/* ---- top level ---- */

static int workspace_pair(parser *p, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	(void)ctx;
	if (!strcmp(key, "name")) return get_string(p, v, "workspace name", p->w->name, sizeof p->w->name);
	if (!strcmp(key, "version") || !strcmp(key, "description") || !strcmp(key, "created_at") || !strcmp(key, "last_updated"))
		return VZ_OK; /* informational */
	return unknown(p, k, "workspace");
}

static int watcher_pair(parser *p, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	(void)ctx;
	long long ms;
	if (!strcmp(key, "enabled")) return get_bool(p, v, "file_watcher.enabled", &p->w->watcher_enabled);
	if (!strcmp(key, "debounce_ms") || !strcmp(key, "debounce_delay_ms")) {
		if (get_int(p, v, key, 0, 600000, &ms)) return p->rc;
		p->w->debounce_ms = (uint32_t)ms;
		return VZ_OK;
	}
	if (!strcmp(key, "watch_paths") || !strcmp(key, "exclude_patterns")) {
		bool paths = key[0] == 'w';
		if (check_patterns(p, v, key)) return p->rc;
		char ***arr = paths ? &p->w->watch_paths : &p->w->watch_exclude;
		size_t *n = paths ? &p->w->n_watch_paths : &p->w->n_watch_exclude;
		for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
			const char *s = scalar(node(p, *it));
			char *e = NULL;
			if (paths ? asprintf(&e, "%s%s%s", s[0] == '/' ? "" : p->w->dir, s[0] == '/' ? "" : "/", s) < 0 : !(e = strdup(s)))
				return vz_fail(VZ_ENOMEM, "out of memory");
			char **grown = realloc(*arr, (*n + 1) * sizeof *grown);
			if (!grown) {
				free(e);
				return vz_fail(VZ_ENOMEM, "out of memory");
			}
			grown[(*n)++] = e;
			*arr = grown;
		}
		return VZ_OK;
	}
	if (!strcmp(key, "enable_auto_update")) return get_bool(p, v, "enable_auto_update", &p->w->watch_auto_update);
	if (!strcmp(key, "hot_reload")) return get_bool(p, v, "hot_reload", &p->w->watch_hot_reload);
	if (!strcmp(key, "auto_discovery"))
		return not_applicable(p, k, "vz builds the projects this file declares; it does not discover others");
	if (!strcmp(key, "recursive")) return not_applicable(p, k, "vz watch always watches whole directory trees");
	if (!strcmp(key, "collection_name") || !strcmp(key, "max_file_size") || !strcmp(key, "polling_interval") ||
	    !strcmp(key, "poll_interval"))
		return not_applicable(p, k, "vz watch rebuilds the collections whose projects changed, with their own settings (inotify, no polling)");
	return unknown(p, k, "file_watcher");
}

static int backup_pair(parser *p, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	(void)ctx;
	vz_workspace *w = p->w;
	long long keep;
	if (!strcmp(key, "directory")) {
		char d[VZ_PATH_MAX];
		if (get_string(p, v, "backup directory", d, sizeof d)) return p->rc;
		if ((d[0] == '/' ? vz_path_fmt(w->backup_directory, sizeof w->backup_directory, "%s", d)
				 : vz_path_fmt(w->backup_directory, sizeof w->backup_directory, "%s/%s", w->dir, d)))
			return err_at(p, v, "backup directory too long");
		return VZ_OK;
	}
	if (!strcmp(key, "keep")) {
		if (get_int(p, v, "backup keep", 1, 100000, &keep)) return p->rc;
		w->backup_keep = (uint32_t)keep;
		return VZ_OK;
	}
	if (!strcmp(key, "after_checkpoint")) return get_bool(p, v, "backup after_checkpoint", &w->backup_after_checkpoint);
	return unknown(p, k, "backup");
}

typedef struct top_ctx {
	settings defaults;
	yaml_node_t *projects;
} top_ctx;

static int top_pair(parser *p, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	top_ctx *t = ctx;
	if (!strcmp(key, "workspace")) return each_pair(p, v, "workspace", workspace_pair, NULL);
	if (!strcmp(key, "defaults")) return each_pair(p, v, "defaults", defaults_pair, &t->defaults);
	if (!strcmp(key, "global")) return each_pair(p, v, "global", global_pair, &t->defaults);
	if (!strcmp(key, "processing")) return each_pair(p, v, "processing", processing_pair, &t->defaults);
	if (!strcmp(key, "projects")) {
		t->projects = v;
		return v->type == YAML_MAPPING_NODE ? VZ_OK : want(p, v, YAML_SEQUENCE_NODE, "projects");
	}
	if (!strcmp(key, "global_settings")) return each_pair(p, v, "global_settings", global_settings_pair, &t->defaults);
	if (!strcmp(key, "checkpoint")) {
		settings s;
		settings_unset(&s);
		if (each_pair(p, v, "checkpoint", checkpoint_pair, &s)) return p->rc;
		if (s.ckpt_ops >= 0) p->w->checkpoint_ops = (uint32_t)s.ckpt_ops;
		if (s.ckpt_secs >= 0) p->w->checkpoint_seconds = (uint32_t)s.ckpt_secs;
		/* the workspace-level setting is also the default of every collection */
		t->defaults.ckpt_ops = s.ckpt_ops >= 0 ? s.ckpt_ops : t->defaults.ckpt_ops;
		t->defaults.ckpt_secs = s.ckpt_secs >= 0 ? s.ckpt_secs : t->defaults.ckpt_secs;
		return VZ_OK;
	}
	if (!strcmp(key, "backup")) {
		p->w->backup_set = true;
		return each_pair(p, v, "backup", backup_pair, NULL);
	}
	int rc = top_sections(p, key, k, v);
	return rc == VZ_ENOENT ? unknown(p, k, "the workspace file") : rc;
}

/* Top-level sections that may also sit in global_settings; VZ_ENOENT when key is not one. */
static int top_sections(parser *p, const char *key, yaml_node_t *k, yaml_node_t *v)
{
	if (!strcmp(key, "file_watcher")) return each_pair(p, v, "file_watcher", watcher_pair, NULL);
	/* sections of the original system that vz has no use for: accepted whole, listed */
	if (!strcmp(key, "monitoring") || !strcmp(key, "logging") || !strcmp(key, "metrics"))
		return not_applicable(p, k, "vz has no monitoring service: it reports on stderr and in its exit codes");
	if (!strcmp(key, "validation"))
		return not_applicable(p, k, "vz always validates this file (file:line:column) and every file it reads (vz verify)");
	if (!strcmp(key, "performance") || !strcmp(key, "resources") || !strcmp(key, "limits"))
		return not_applicable(p, k, "vz has no memory or worker limits: it maps its files; vz build --threads N");
	if (!strcmp(key, "error_handling") || !strcmp(key, "retry"))
		return not_applicable(p, k, "vz does not retry: a failing collection is reported and the others are built");
	if (!strcmp(key, "security") || !strcmp(key, "api") || !strcmp(key, "server"))
		return not_applicable(p, k, "vz is a command with no server and no network access: the files' permissions guard the data");
	if (!strcmp(key, "cache") || !strcmp(key, "caching"))
		return not_applicable(p, k, "vz maps its files and keeps a cache.bin per workspace collection: nothing to configure");
	if (!strcmp(key, "alerts") || !strcmp(key, "notifications"))
		return not_applicable(p, k, "vz has no monitoring service: it reports on stderr and in its exit codes");
	(void)v;
	return VZ_ENOENT;
}

/* First pass over the events: bounds aliases and depth before anything is expanded. */
static int prescan(const char *path, const unsigned char *data, size_t len)
{
	yaml_parser_t ps;
	if (!yaml_parser_initialize(&ps)) return vz_fail(VZ_ENOMEM, "out of memory");
	yaml_parser_set_input_string(&ps, data, len);
	int rc = VZ_OK, depth = 0, aliases = 0, docs = 0;
	for (;;) {
		yaml_event_t ev;
		if (!yaml_parser_parse(&ps, &ev)) {
			rc = vz_fail(VZ_ECONFIG, "%s:%zu:%zu: %s%s%s", path, ps.problem_mark.line + 1, ps.problem_mark.column + 1,
				     ps.problem ? ps.problem : "syntax error", ps.context ? " " : "", ps.context ? ps.context : "");
			break;
		}
		yaml_event_type_t type = ev.type;
		size_t line = ev.start_mark.line + 1, col = ev.start_mark.column + 1;
		bool empty_scalar = type == YAML_SCALAR_EVENT && ev.data.scalar.length == 0 && ev.data.scalar.plain_implicit &&
				    !ev.data.scalar.anchor && !ev.data.scalar.tag;
		yaml_event_delete(&ev);
		if (type == YAML_STREAM_END_EVENT) break;
		if (type == YAML_DOCUMENT_START_EVENT) docs++;
		/* further documents may be empty or hold only comments (the full schema's examples
		 * end with one): such a document is one empty plain scalar */
		if (docs > 1 && type != YAML_DOCUMENT_START_EVENT && type != YAML_DOCUMENT_END_EVENT && !empty_scalar) {
			rc = vz_fail(VZ_ECONFIG, "%s:%zu:%zu: only the first YAML document may have content (later ones: comments only)", path, line, col);
			break;
		}
		if (type == YAML_ALIAS_EVENT && ++aliases > VZ_WS_MAX_ALIASES) {
			rc = vz_fail(VZ_ECONFIG, "%s:%zu:%zu: more than %d aliases", path, line, col, VZ_WS_MAX_ALIASES);
			break;
		}
		if ((type == YAML_MAPPING_START_EVENT || type == YAML_SEQUENCE_START_EVENT) && ++depth > VZ_WS_MAX_DEPTH) {
			rc = vz_fail(VZ_ECONFIG, "%s:%zu:%zu: nested deeper than %d levels", path, line, col, VZ_WS_MAX_DEPTH);
			break;
		}
		if (type == YAML_MAPPING_END_EVENT || type == YAML_SEQUENCE_END_EVENT) depth--;
	}
	yaml_parser_delete(&ps);
	return rc;
}

void vz_workspace_free(vz_workspace *w)
{
	if (!w) return;
	for (size_t i = 0; i < w->n; i++) {
		vz_ws_collection *c = &w->collections[i];
		for (size_t j = 0; j < c->n_include; j++) free(c->include[j]);
		for (size_t j = 0; j < c->n_exclude; j++) free(c->exclude[j]);
		for (size_t j = 0; j < c->n_extensions; j++) free(c->extensions[j]);
		free(c->include);
		free(c->exclude);
		free(c->extensions);
	}
	for (size_t i = 0; i < w->n_not_applicable; i++) free(w->not_applicable[i]);
	free(w->not_applicable);
	for (size_t i = 0; i < w->n_failures; i++) free(w->failures[i].message);
	free(w->failures);
	for (size_t i = 0; i < w->n_watch_paths; i++) free(w->watch_paths[i]);
	free(w->watch_paths);
	for (size_t i = 0; i < w->n_watch_exclude; i++) free(w->watch_exclude[i]);
	free(w->watch_exclude);
	free(w->collections);
	for (size_t i = 0; i < w->n_warnings; i++) free(w->warnings[i]);
	free(w->warnings);
	free(w);
}

int vz_workspace_load(const char *path, vz_workspace **out)
{
	*out = NULL;
	char *data;
	size_t len;
	int rc = vz_read_file(path, VZ_WS_MAX_FILE, &data, &len);
	if (rc == VZ_ERANGE) return vz_fail(VZ_ECONFIG, "%s:1:1: larger than %u bytes", path, VZ_WS_MAX_FILE);
	if (rc) return vz_fail_prefix(rc, "%s: ", path);
	if ((rc = prescan(path, (unsigned char *)data, len))) {
		free(data);
		return rc;
	}
	vz_workspace *w = calloc(1, sizeof *w);
	if (!w) {
		free(data);
		return vz_fail(VZ_ENOMEM, "out of memory");
	}
	w->watcher_enabled = true;
	w->watch_auto_update = true;
	w->watch_hot_reload = true;
	w->debounce_ms = 500;
	w->backup_keep = 7;
	char abs[VZ_PATH_MAX];
	if (!realpath(path, abs)) snprintf(abs, sizeof abs, "%s", path);
	snprintf(w->path, sizeof w->path, "%s", abs);
	vz_path_parent(abs, w->dir, sizeof w->dir);

	parser p = { .path = path, .w = w };
	yaml_parser_t ps;
	if (!yaml_parser_initialize(&ps)) rc = vz_fail(VZ_ENOMEM, "out of memory");
	else {
		yaml_parser_set_input_string(&ps, (unsigned char *)data, len);
		if (!yaml_parser_load(&ps, &p.doc))
			rc = vz_fail(VZ_ECONFIG, "%s:%zu:%zu: %s", path, ps.problem_mark.line + 1, ps.problem_mark.column + 1,
				     ps.problem ? ps.problem : "syntax error");
		yaml_parser_delete(&ps);
	}
	if (!rc) {
		yaml_node_t *root = yaml_document_get_root_node(&p.doc);
		top_ctx t = { 0 };
		settings_unset(&t.defaults);
		if (!root) rc = vz_fail(VZ_ECONFIG, "%s:1:1: the file is empty", path);
		else if (!(rc = each_pair(&p, root, "the workspace file", top_pair, &t))) {
			if (!t.projects) rc = err_at(&p, root, "no projects");
			else { /* a list of entries, or a mapping of NAME: entry */
				bool by_name = t.projects->type == YAML_MAPPING_NODE;
				size_t count = by_name ? (size_t)(t.projects->data.mapping.pairs.top - t.projects->data.mapping.pairs.start)
						       : (size_t)(t.projects->data.sequence.items.top - t.projects->data.sequence.items.start);
				for (size_t i = 0; !rc && i < count; i++) {
					yaml_node_t *pn = node(&p, by_name ? t.projects->data.mapping.pairs.start[i].value : t.projects->data.sequence.items.start[i]);
					yaml_node_t *pk = by_name ? node(&p, t.projects->data.mapping.pairs.start[i].key) : NULL;
					rc = pn && (!by_name || pk) ? parse_project(&p, pn, pk, &t.defaults) : err_at(&p, t.projects, "broken list");
					if (rc == VZ_ECONFIG && pn) rc = project_failed(&p, pn, pk); /* the others are still read */
				}
			}
		}
		yaml_document_delete(&p.doc);
	}
	free(data);
	if (rc) {
		vz_workspace_free(w);
		return rc;
	}
	*out = w;
	return VZ_OK;
}

const vz_ws_collection *vz_workspace_find(const vz_workspace *w, const char *full_name)
{
	for (size_t i = 0; i < w->n; i++)
		if (!strcmp(w->collections[i].full_name, full_name)) return &w->collections[i];
	return NULL;
}

int vz_workspace_readonly_error(const char *collection_name)
{
	char path[VZ_PATH_MAX];
	if (vz_find_workspace_file(path, sizeof path)) snprintf(path, sizeof path, "%s", VZ_WORKSPACE_FILE);
	return vz_fail(VZ_EPERM, "%s is a workspace collection: edit %s and run vz build", collection_name, path);
}
