/* ws_yaml.c: reads vectorize-workspace.yml (vz-workspace(5)) with libyaml, in both schemas:
 *   simplified: workspace, defaults{embedding, dimension, metric, indexing, processing},
 *               projects[].collections[] with include_patterns/exclude_patterns and overrides;
 *   full:       global{default_embedding, default_collection, default_indexing, processing},
 *               projects[], processing, monitoring, validation, file_watcher.
 * The file is first scanned as events to bound its size, aliases and depth (so an alias bomb is
 * refused before anything expands it), then loaded as a document whose nodes keep their marks
 * for file:line:column messages. This file reads the keys; workspace.c makes the projects and
 * collections of them and holds the loader. */
#include "ws_yaml_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

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
		bool b = false; /* set by get_bool when it succeeds (inlined from the header, gcc cannot tell) */
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

int vz_ws_processing_pair(parser *p, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
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
int vz_ws_settings_pair(parser *p, const char *key, yaml_node_t *k, yaml_node_t *v, settings *s)
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
	if (!strcmp(key, "processing")) return each_pair(p, v, "processing", vz_ws_processing_pair, s);
	if (!strcmp(key, "checkpoint")) return each_pair(p, v, "checkpoint", checkpoint_pair, s);
	if (!strcmp(key, "description")) return VZ_OK; /* informational */
	if (!strcmp(key, "compression")) return not_applicable(p, k, "vz does not compress vectors (see quantization: sq8)");
	return file_key(p, key, k, v, s);
}

static int defaults_pair(parser *p, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	int rc = vz_ws_settings_pair(p, key, k, v, ctx);
	return rc == VZ_ENOENT ? unknown(p, k, "defaults") : rc;
}

/* global (full schema) */
static int default_collection_pair(parser *p, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	int rc = vz_ws_settings_pair(p, key, k, v, ctx);
	return rc == VZ_ENOENT ? unknown(p, k, "default_collection") : rc;
}

static int global_pair(parser *p, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	settings *s = ctx;
	if (!strcmp(key, "default_embedding")) return parse_embedding(p, v, s);
	if (!strcmp(key, "default_collection")) return each_pair(p, v, "default_collection", default_collection_pair, s);
	if (!strcmp(key, "default_indexing")) return each_pair(p, v, "default_indexing", indexing_pair, s);
	if (!strcmp(key, "processing")) return each_pair(p, v, "processing", vz_ws_processing_pair, s);
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
	int rc = vz_ws_settings_pair(p, key, k, v, s);
	if (rc != VZ_ENOENT) return rc;
	rc = top_sections(p, key, k, v);
	return rc == VZ_ENOENT ? unknown(p, k, "global_settings") : rc;
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

int vz_ws_top_pair(parser *p, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx)
{
	top_ctx *t = ctx;
	if (!strcmp(key, "workspace")) return each_pair(p, v, "workspace", workspace_pair, NULL);
	if (!strcmp(key, "defaults")) return each_pair(p, v, "defaults", defaults_pair, &t->defaults);
	if (!strcmp(key, "global")) return each_pair(p, v, "global", global_pair, &t->defaults);
	if (!strcmp(key, "processing")) return each_pair(p, v, "processing", vz_ws_processing_pair, &t->defaults);
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
int vz_ws_prescan(const char *path, const unsigned char *data, size_t len)
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
