/* workspace.c: the projects and collections of vectorize-workspace.yml (vz-workspace(5)), read
 * through ws_yaml.c: each collection's name checked and made unique, its effective settings
 * resolved (defaults, project, collection) and hashed, a bad project recorded while the others
 * are still read; and the loader and lookups of the public API. */
#include "ws_yaml_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
		return vz_ws_processing_pair(p, key, k, v, &c->s);
	int rc = vz_ws_settings_pair(p, key, k, v, &c->s);
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
	/* the terms of postings.bin: words and their stems, titles past licence notices (a build
	 * by an older vz rebuilds, its postings would not meet this one's query terms) */
	vz_hasher_update(h, "terms 2\n", 8);
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
	int rc = vz_ws_settings_pair(p, key, k, v, &pc->s);
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
	if ((rc = vz_ws_prescan(path, (unsigned char *)data, len))) {
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
		else if (!(rc = each_pair(&p, root, "the workspace file", vz_ws_top_pair, &t))) {
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
