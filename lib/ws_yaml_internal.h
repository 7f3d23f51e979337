/* ws_yaml_internal.h: what the two halves of the workspace reader share, kept out of lib/vz.h:
 * the parser state and the settings a level gives, the helpers that read one node with a
 * file:line:column message (static inline: both halves use them, and no name of theirs leaves
 * these files), and the entry points of ws_yaml.c (the YAML events pass, the sections of the
 * file) that workspace.c (projects, collections, the loader) calls. ws_yaml.c never calls
 * workspace.c. */
#ifndef VZ_WS_YAML_INTERNAL_H
#define VZ_WS_YAML_INTERNAL_H

#include "ws_internal.h"

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

static inline void settings_unset(settings *s)
{
	memset(s, 0, sizeof *s);
	s->dim = s->m = s->efc = s->efs = s->chunk_size = s->overlap = s->max_file = -1;
	s->ckpt_ops = s->ckpt_secs = s->metric = s->quant = -1;
	for (int i = 0; i < 5; i++) s->text[i] = -1;
	s->skip_hidden = s->ngram_min = s->ngram_max = -1;
}

static inline void settings_overlay(settings *base, const settings *over)
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

static inline int err_at(parser *p, const yaml_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static inline int err_at(parser *p, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	p->rc = vz_fail(VZ_ECONFIG, "%s:%zu:%zu: %s", p->path, n->start_mark.line + 1, n->start_mark.column + 1, msg);
	return p->rc;
}

static inline int warn_at(parser *p, const yaml_node_t *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static inline int warn_at(parser *p, const yaml_node_t *n, const char *fmt, ...)
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

static inline yaml_node_t *node(parser *p, int idx) { return yaml_document_get_node(&p->doc, idx); }

static inline const char *scalar(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

static inline int want(parser *p, yaml_node_t *n, yaml_node_type_t type, const char *what)
{
	if (n->type == type) return VZ_OK;
	const char *kind = type == YAML_MAPPING_NODE ? "a mapping" : type == YAML_SEQUENCE_NODE ? "a list" : "a value";
	return err_at(p, n, "%s must be %s", what, kind);
}

static inline int get_string(parser *p, yaml_node_t *n, const char *what, char *out, size_t cap)
{
	if (want(p, n, YAML_SCALAR_NODE, what)) return p->rc;
	if (n->data.scalar.length >= cap) return err_at(p, n, "%s is too long (at most %zu bytes)", what, cap - 1);
	memcpy(out, scalar(n), n->data.scalar.length + 1);
	return VZ_OK;
}

static inline int get_bool(parser *p, yaml_node_t *n, const char *what, bool *out)
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

static inline int each_pair(parser *p, yaml_node_t *map, const char *what, pair_fn fn, void *ctx)
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

static inline int unknown(parser *p, yaml_node_t *k, const char *where)
{
	p->last_unknown = k;
	return warn_at(p, k, "unknown key '%s' in %s (ignored)", scalar(k), where);
}
/* ---- ws_yaml.c ---- */

/* First pass over the events: bounds aliases and depth before anything is expanded. */
int vz_ws_prescan(const char *path, const unsigned char *data, size_t len);
/* Keys that any settings level accepts; VZ_ENOENT (without a message) when key is not one. */
int vz_ws_settings_pair(parser *p, const char *key, yaml_node_t *k, yaml_node_t *v, settings *s);
/* The keys of processing (and include_patterns/exclude_patterns of a collection); ctx: settings. */
int vz_ws_processing_pair(parser *p, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx);

typedef struct top_ctx {
	settings defaults;
	yaml_node_t *projects;
} top_ctx;
/* A top-level key of the workspace file; ctx: a top_ctx. */
int vz_ws_top_pair(parser *p, const char *key, yaml_node_t *k, yaml_node_t *v, void *ctx);

#endif
