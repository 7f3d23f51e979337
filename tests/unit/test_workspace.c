/* test_workspace.c: the workspace file (both schemas, defaults, errors with line:column, unknown
 * keys, alias bombs), glob patterns, chunking, the project walk and incremental builds. */
#include "t.h"

#include "../../lib/internal.h"

#include <sys/stat.h>
#include <unistd.h>

static void put(const char *path, const char *text) { t_write(path, text, strlen(text)); }

/* p/n0.md ... p/n(count-1).md: a titled note each, about a topic of its own */
static void put_notes(int count)
{
	mkdir("p", 0755);
	for (int i = 0; i < count; i++) {
		char path[32], text[64];
		snprintf(path, sizeof path, "p/n%d.md", i);
		snprintf(text, sizeof text, "# Note %d\nwords about topic %d\n", i, i);
		put(path, text);
	}
}

static vz_workspace *load_ok(const char *yaml)
{
	put("vectorize-workspace.yml", yaml);
	vz_workspace *w = NULL;
	CHECK_OK(vz_workspace_load("vectorize-workspace.yml", &w));
	return w;
}

/* Loads yaml expecting VZ_ECONFIG with a detail containing want ("file:line:col: ..."): an error
 * of the whole file, or (for an error inside a project entry) the file's one recorded failure. */
static void load_bad(const char *yaml, const char *want)
{
	put("vectorize-workspace.yml", yaml);
	vz_workspace *w = NULL;
	int rc = vz_workspace_load("vectorize-workspace.yml", &w);
	if (rc == VZ_OK) {
		CHECK_INT(w->n_failures, 1);
		if (w->n_failures == 1) {
			CHECK_INT(w->failures[0].err, VZ_ECONFIG);
			if (!strstr(w->failures[0].message, want))
				t_fail(__FILE__, __LINE__, "failure '%s' lacks '%s'", w->failures[0].message, want);
		}
		vz_workspace_free(w);
		return;
	}
	CHECK_INT(rc, VZ_ECONFIG);
	CHECK(w == NULL);
	if (!strstr(vz_last_error(), want)) t_fail(__FILE__, __LINE__, "error '%s' lacks '%s'", vz_last_error(), want);
}

TEST(ws_simplified_schema)
{
	vz_workspace *w = load_ok("workspace: { name: \"w\" }\n"
				  "defaults:\n"
				  "  embedding: { model: \"bm25\", dimension: 128 }\n"
				  "  metric: \"euclidean\"\n"
				  "  indexing: { index_type: \"hnsw\", parameters: { m: 12, ef_construction: 100, ef_search: 32 } }\n"
				  "  processing: { chunk_size: 512, chunk_overlap: 64, max_file_size: 1000 }\n"
				  "projects:\n"
				  "  - name: \"p\"\n"
				  "    path: \"sub/dir\"\n"
				  "    collections:\n"
				  "      - name: \"docs\"\n"
				  "        include_patterns: [\"**/*.md\"]\n"
				  "        exclude_patterns: [\"x/**\"]\n"
				  "      - name: \"code\"\n"
				  "        dimension: 64\n"
				  "        metric: \"dot_product\"\n"
				  "        indexing: { m: 8 }\n"
				  "        checkpoint: { ops: 5, seconds: 6 }\n"
				  "checkpoint: { ops: 10, seconds: 20 }\n"
				  "backup: { directory: \"bk\", keep: 3, after_checkpoint: true }\n"
				  "file_watcher: { debounce_ms: 250 }\n");
	CHECK_STR(w->name, "w");
	CHECK_INT(w->n, 2);
	const vz_ws_collection *d = vz_workspace_find(w, "p/docs"), *c = vz_workspace_find(w, "p/code");
	CHECK(d && c);
	CHECK_INT(d->cfg.dim, 128);
	CHECK_INT(d->cfg.metric, VZ_METRIC_EUCLIDEAN);
	CHECK_INT(d->cfg.m, 12);
	CHECK_INT(d->cfg.ef_construction, 100);
	CHECK_INT(d->cfg.ef_search, 32);
	CHECK_INT(d->chunk_size, 512);
	CHECK_INT(d->chunk_overlap, 64);
	CHECK_INT(d->max_file_size, 1000);
	CHECK_INT(d->n_include, 1);
	CHECK_STR(d->include[0], "**/*.md");
	CHECK_INT(d->n_exclude, 1);
	CHECK_INT(d->cfg.checkpoint_ops, 10);
	CHECK_INT(d->cfg.checkpoint_seconds, 20);
	CHECK_STR(d->cfg.embedding, "bm25");
	char want[4200];
	snprintf(want, sizeof want, "%s/sub/dir", w->dir);
	CHECK_STR(d->project_dir, want);
	CHECK_INT(c->cfg.dim, 64);
	CHECK_INT(c->cfg.metric, VZ_METRIC_DOT);
	CHECK_INT(c->cfg.m, 8);
	CHECK_INT(c->cfg.checkpoint_ops, 5);
	CHECK_INT(c->cfg.checkpoint_seconds, 6);
	CHECK_INT(c->n_include, 1);
	CHECK_STR(c->include[0], "**"); /* no include_patterns: every file */
	CHECK(c->config_hash != d->config_hash);
	CHECK_INT(w->checkpoint_ops, 10);
	CHECK(w->backup_set);
	snprintf(want, sizeof want, "%s/bk", w->dir);
	CHECK_STR(w->backup_directory, want);
	CHECK_INT(w->backup_keep, 3);
	CHECK(w->backup_after_checkpoint);
	CHECK_INT(w->debounce_ms, 250);
	CHECK_INT(w->n_warnings, 0);
	vz_workspace_free(w);
}

TEST(ws_full_schema)
{
	vz_workspace *w = load_ok("global:\n"
				  "  default_embedding: { model: \"bm25\", dimension: 256, parameters: { k1: 1.5 } }\n"
				  "  default_collection: { metric: \"dot_product\", compression: { enabled: false } }\n"
				  "  default_indexing: { index_type: \"hnsw\", parameters: { m: 24, ef_construction: 300, ef_search: 80 } }\n"
				  "  processing: { chunk_size: 1024, chunk_overlap: 128 }\n"
				  "projects:\n"
				  "  - name: \"p\"\n"
				  "    path: \"/abs/p\"\n"
				  "    enabled: true\n"
				  "    collections:\n"
				  "      - name: \"docs\"\n"
				  "        embedding: { model: \"bm25\", dimension: 96 }\n"
				  "        processing: { chunk_size: 300, chunk_overlap: 30, include_patterns: [\"docs/**\"] }\n"
				  "  - name: \"off\"\n"
				  "    path: \"x\"\n"
				  "    enabled: false\n"
				  "    collections: [ { name: \"y\" } ]\n"
				  "processing: { parallel_processing: true, file_processing: { max_file_size: 2048, encoding: \"utf-8\" } }\n"
				  "monitoring: { anything: [1, 2] }\n"
				  "validation: { strict: true }\n"
				  "file_watcher: { enabled: false, debounce_delay_ms: 800, watch_paths: [\"p\"] }\n");
	CHECK_INT(w->n, 1); /* the disabled project is left out */
	const vz_ws_collection *d = &w->collections[0];
	CHECK_STR(d->full_name, "p/docs");
	CHECK_STR(d->project_dir, "/abs/p");
	CHECK_INT(d->cfg.dim, 96);
	CHECK_INT(d->cfg.metric, VZ_METRIC_DOT);
	CHECK_INT(d->cfg.m, 24);
	CHECK_INT(d->cfg.ef_construction, 300);
	CHECK_INT(d->cfg.ef_search, 80);
	CHECK_INT(d->chunk_size, 300);
	CHECK_INT(d->chunk_overlap, 30);
	CHECK_INT(d->max_file_size, 2048);
	CHECK_STR(d->include[0], "docs/**");
	CHECK(!w->watcher_enabled);
	CHECK_INT(w->debounce_ms, 800);
	CHECK_INT(w->n_warnings, 0);
	vz_workspace_free(w);
}

TEST(ws_defaults)
{
	vz_workspace *w = load_ok("projects:\n  - name: p\n    path: .\n    collections:\n      - name: c\n");
	const vz_ws_collection *c = &w->collections[0];
	CHECK_INT(c->cfg.dim, 512);
	CHECK_INT(c->cfg.metric, VZ_METRIC_COSINE);
	CHECK_INT(c->cfg.m, 16);
	CHECK_INT(c->cfg.ef_construction, 80); /* workspace graphs serve --vector queries only */
	CHECK_INT(c->cfg.ef_search, 64);
	CHECK_INT(c->chunk_size, 2048);
	CHECK_INT(c->chunk_overlap, 256);
	CHECK_INT(c->max_file_size, 10u << 20);
	CHECK_STR(c->project_dir, w->dir);
	CHECK(w->watcher_enabled);
	CHECK_INT(w->debounce_ms, 500);
	CHECK(!w->backup_set);
	CHECK_INT(w->checkpoint_ops, 0);
	vz_workspace_free(w);
}

TEST(ws_unknown_keys_warn)
{
	vz_workspace *w = load_ok("projects:\n  - name: p\n    path: .\n    colour: blue\n    collections:\n      - name: c\n        flavour: 3\nextra: 1\n");
	CHECK_INT(w->n, 1);
	CHECK_INT(w->n_warnings, 3);
	/* the top level is read before the projects */
	CHECK(strstr(w->warnings[0], "vectorize-workspace.yml:8:1: unknown key 'extra'"));
	CHECK(strstr(w->warnings[1], "vectorize-workspace.yml:4:5: unknown key 'colour' in project"));
	CHECK(strstr(w->warnings[2], ":7:9: unknown key 'flavour' in collection"));
	vz_workspace_free(w);
}

TEST(ws_errors_have_line_and_column)
{
	load_bad("projects:\n  - name: p\n    path: .\n    collections:\n      - name: c\n        metric: manhattan\n",
		 "vectorize-workspace.yml:6:17: unknown metric 'manhattan'");
	load_bad("defaults:\n  embedding: { dimension: big }\nprojects: []\n", ":2:27: dimension must be an integer");
	load_bad("defaults:\n  embedding: { dimension: 70000 }\nprojects: []\n", ":2:27: dimension 70000 out of range");
	load_bad("projects:\n  - name: p\n    collections:\n      - name: c\n", ":2:5: project 'p' needs a path");
	load_bad("projects:\n  - name: p\n    path: .\n    collections:\n      - name: \"a b\"\n", ":5:15: invalid collection name");
	load_bad("projects:\n  - name: p\n    path: .\n    collections:\n      - name: c\n      - name: c\n", ":6:15: collection 'p/c' is defined twice");
	load_bad("projects: [ { name: p\n", "vectorize-workspace.yml:2:1:");
	load_bad("projects: 3\n", ":1:11: projects must be a list");
	load_bad("workspace: { name: w }\n", ":1:1: no projects");
	load_bad("", ":1:1: the file is empty");
	load_bad("processing: { chunk_size: 100, chunk_overlap: 200 }\nprojects:\n  - name: p\n    path: .\n    collections:\n      - name: c\n",
		 ":6:9: chunk_overlap 200 must be smaller than chunk_size 100");
	load_bad("a: 1\n---\nb: 2\n", ":3:1: only the first YAML document may have content");
	load_bad("a: 1\n---\n# notes\n---\n- x\n", ":5:1: only the first YAML document may have content");
}

TEST(ws_alias_bomb_refused)
{
	char yaml[4096] = "a: &a [x,x,x,x,x,x,x,x,x]\n";
	for (char c = 'b'; c <= 'm'; c++) {
		char line[128];
		snprintf(line, sizeof line, "%c: &%c [*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c,*%c]\n", c, c, c - 1, c - 1, c - 1, c - 1,
			 c - 1, c - 1, c - 1, c - 1, c - 1);
		strcat(yaml, line);
	}
	strcat(yaml, "projects: *m\n");
	load_bad(yaml, "more than 64 aliases");
}

TEST(ws_depth_and_size_bounded)
{
	char yaml[200] = "a: ";
	for (int i = 0; i < 40; i++) strcat(yaml, "[");
	load_bad(yaml, "nested deeper than 32 levels");
	char *big = malloc(VZ_WS_MAX_FILE + 10);
	memset(big, '#', VZ_WS_MAX_FILE + 10);
	t_write("vectorize-workspace.yml", big, VZ_WS_MAX_FILE + 10);
	free(big);
	vz_workspace *w;
	CHECK_INT(vz_workspace_load("vectorize-workspace.yml", &w), VZ_ECONFIG);
	CHECK(strstr(vz_last_error(), "larger than"));
	CHECK_INT(vz_workspace_load("missing.yml", &w), VZ_ENOENT);
}

TEST(ws_glob)
{
	/* hostile patterns from a workspace file answer at once, not after exponential backtracking */
	char name[400], deep[400];
	memset(name, 'a', 300);
	name[300] = '\0';
	CHECK(!vz_glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*b", name));
	CHECK(vz_glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*", name));
	for (int i = 0; i < 100; i++) memcpy(deep + 2 * i, "a/", 2);
	strcpy(deep + 200, "c");
	CHECK(!vz_glob_match("**/a/**/a/**/a/**/a/**/a/**/a/**/a/**/b", deep));
	CHECK(vz_glob_match("**/a/**/a/**/a/**/a/**/a/**/a/**/a/**/c", deep));
	CHECK(vz_glob_match("**/*.md", "a.md"));
	CHECK(vz_glob_match("**/*.md", "x/y/a.md"));
	CHECK(!vz_glob_match("**/*.md", "x/y/a.mdx"));
	CHECK(vz_glob_match("*.md", "deep/er/a.md")); /* no '/': the base name */
	CHECK(vz_glob_match("src/*.c", "src/a.c"));
	CHECK(!vz_glob_match("src/*.c", "src/sub/a.c"));
	CHECK(vz_glob_match("src/**", "src/sub/a.c"));
	CHECK(!vz_glob_match("src/**", "srcx/a.c"));
	CHECK(vz_glob_match("a/**/b.txt", "a/b.txt"));
	CHECK(vz_glob_match("a/**/b.txt", "a/x/y/b.txt"));
	CHECK(vz_glob_match("file?.txt", "file1.txt"));
	CHECK(!vz_glob_match("file?.txt", "file12.txt"));
	CHECK(vz_glob_match("[abc]*.c", "b1.c"));
	CHECK(!vz_glob_match("[abc]*.c", "d1.c"));
	CHECK(vz_glob_match("[!abc]*.c", "d1.c"));
	CHECK(vz_glob_match("[a-c]x", "bx"));
	CHECK(vz_glob_match("**", "any/thing"));
	CHECK(vz_glob_match("Makefile", "Makefile"));
}

TEST(ws_build_skips_and_incremental)
{
	mkdir("p", 0755);
	mkdir("p/.git", 0755);
	mkdir("p/node_modules", 0755);
	mkdir("p/sub", 0755);
	put("p/a.md", "Alpha beta. Gamma delta epsilon.");
	put("p/sub/b.md", "Second file about lighthouses and ships.");
	put("p/.git/c.md", "never");
	put("p/node_modules/d.md", "never");
	put("p/yarn.lock", "never");
	t_write("p/bin.md", "bin\0ary", 7);
	vz_workspace *w = load_ok("defaults: { embedding: { dimension: 64 } }\n"
				  "projects:\n  - name: p\n    path: p\n    collections:\n      - name: c\n        include_patterns: [\"**\"]\n");
	vz_ws_stats st;
	CHECK_OK(vz_workspace_build(w, &w->collections[0], "data", false, 1, 1000, NULL, NULL, &st));
	CHECK_INT(st.files, 2);
	CHECK_INT(st.added, 2);
	CHECK_INT(st.chunks, 2);
	struct stat sb;
	CHECK(stat("data/workspace/p/c/cache.bin", &sb) == 0);
	CHECK(stat("data/workspace/p/c/metadata.json", &sb) == 0);
	CHECK_OK(vz_workspace_build(w, &w->collections[0], "data", false, 1, 1000, NULL, NULL, &st));
	CHECK_INT(st.files, 2);
	CHECK_INT(st.added + st.changed + st.removed, 0);
	put("p/a.md", "Alpha beta. Gamma delta epsilon, changed.");
	unlink("p/sub/b.md");
	put("p/new.md", "A new file.");
	CHECK_OK(vz_workspace_build(w, &w->collections[0], "data", false, 1, 1000, NULL, NULL, &st));
	CHECK_INT(st.files, 2);
	CHECK_INT(st.changed, 1);
	CHECK_INT(st.added, 1);
	CHECK_INT(st.removed, 1);
	/* a damaged cache.bin is not trusted: at the next change everything is embedded again
	 * (with no change the stat-first check of postings.bin does not read it) */
	t_sh("printf 'XX' | dd of=data/workspace/p/c/cache.bin bs=1 seek=100 conv=notrunc 2>/dev/null");
	CHECK_OK(vz_workspace_build(w, &w->collections[0], "data", false, 1, 1000, NULL, NULL, &st));
	CHECK_INT(st.added + st.changed + st.removed, 0);
	CHECK_INT(st.files, 2);
	put("p/new.md", "A new file, longer.");
	CHECK_OK(vz_workspace_build(w, &w->collections[0], "data", false, 1, 1000, NULL, NULL, &st));
	CHECK_INT(st.added, 2);
	/* a configuration change rebuilds */
	vz_workspace_free(w);
	w = load_ok("defaults: { embedding: { dimension: 32 } }\n"
		    "projects:\n  - name: p\n    path: p\n    collections:\n      - name: c\n        include_patterns: [\"**\"]\n");
	bool changed = false;
	CHECK_OK(vz_workspace_config_changed("data/workspace/p/c", "vectorize-workspace.yml", &changed));
	CHECK(changed);
	CHECK_OK(vz_workspace_build(w, &w->collections[0], "data", false, 1, 1000, NULL, NULL, &st));
	CHECK(st.rebuilt);
	CHECK_INT(st.added, 2);
	CHECK_OK(vz_workspace_config_changed("data/workspace/p/c", "vectorize-workspace.yml", &changed));
	CHECK(!changed);
	vz_workspace_free(w);
}

/* The top-k ids of a text query on the collection in dir, joined with spaces. */
static void top_ids(const char *dir, const char *text, char *out, size_t cap)
{
	vz_collection *c;
	CHECK_OK(vz_collection_open(dir, VZ_OPEN_READ, 1000, &c));
	CHECK(vz_collection_is_workspace(c));
	float q[64];
	CHECK_OK(vz_embed_query(dir, text, strlen(text), q, 64));
	vz_result r[5];
	size_t n;
	CHECK_OK(vz_collection_query(c, q, 5, 64, r, &n));
	out[0] = 0;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(out);
		snprintf(out + l, cap - l, "%.*s ", (int)r[i].id_len, r[i].id);
	}
	vz_collection_close(c);
}

static void note_problem(void *ctx, const char *file, int64_t off, const char *what)
{
	(void)off;
	snprintf(ctx, 512, "%s: %s", file, what);
}

/* The live rows of a collection, order aside: their count and a sum of hashes of id, payload
 * and vector; and a copy of their vectors for exact searches. */
struct rows_seen {
	uint64_t n, sum;
	float *vecs;
	size_t cap;
};

static int see_row(void *ctx, const vz_result *r, const float *v)
{
	struct rows_seen *s = ctx;
	uint64_t h = vz_hash64(r->id, r->id_len) * 31 + vz_hash64(r->payload, r->payload_len);
	s->sum += h * 131 + vz_hash64(v, 64 * sizeof *v);
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		s->vecs = realloc(s->vecs, s->cap * 64 * sizeof *v);
		CHECK(s->vecs != NULL);
	}
	memcpy(s->vecs + s->n++ * 64, v, 64 * sizeof *v);
	return 0;
}

static struct rows_seen rows_of(const char *dir)
{
	struct rows_seen s = { 0 };
	vz_collection *c;
	CHECK_OK(vz_collection_open(dir, VZ_OPEN_READ, 1000, &c));
	CHECK_OK(vz_collection_foreach(c, see_row, &s));
	vz_collection_close(c);
	return s;
}

/* Of the 10 rows the graph of dir returns for query, how many are as close as the 10th
 * nearest by an exact scan of rows (ties count: texts repeat here). */
static int graph_recall10(const char *dir, const struct rows_seen *rows, const float *q)
{
	float best[10];
	for (int i = 0; i < 10; i++) best[i] = 1e30f;
	for (uint64_t r = 0; r < rows->n; r++) {
		float d = vz_distance(VZ_METRIC_COSINE, q, rows->vecs + r * 64, 64);
		for (int i = 0; i < 10; i++)
			if (d < best[i]) {
				memmove(best + i + 1, best + i, (9 - i) * sizeof *best);
				best[i] = d;
				break;
			}
	}
	vz_collection *c;
	CHECK_OK(vz_collection_open(dir, VZ_OPEN_READ, 1000, &c));
	vz_result res[10];
	size_t n;
	CHECK_OK(vz_collection_query(c, q, 10, 64, res, &n));
	int good = 0;
	for (size_t i = 0; i < n; i++) good += res[i].distance <= best[9] + 1e-5f;
	vz_collection_close(c);
	return good;
}

/* The text search answers of dir's postings.bin (and postings.delta) for query, as text. */
static void text_answers(const char *dir, const char *query, char *out, size_t cap)
{
	vz_meta m;
	CHECK_OK(vz_meta_read(dir, &m));
	vz_text_index *x;
	CHECK_OK(vz_text_index_open_dir(dir, m.generation, &x));
	vz_meta_free(&m);
	vz_text_hit *h;
	size_t n;
	CHECK_OK(vz_text_search(x, query, strlen(query), 10, true, &h, &n));
	out[0] = 0;
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(out);
		snprintf(out + l, cap - l, "%.*s#%u:%u %.6f;", (int)h[i].path_len, h[i].path, h[i].chunk, h[i].line, h[i].score);
	}
	vz_text_hits_free(h, n);
	vz_text_index_close(x);
}

/* An incremental build extends the graph and yet answers as a forced build does: the same
 * live rows (ids, payloads, vectors), the same postings and term statistics (text answers and
 * query vectors equal), verify clean, and --vector queries within the recall bound of a
 * fresh graph (each of 40 queries finds at least 9 of its 10 nearest). Then changes past a
 * fifth of the rows write the snapshot whole again, without tombstones. */
TEST(ws_incremental_extends_the_graph_2000_files)
{
	static const char *const words[] = { "river", "engine", "garden", "signal", "copper", "winter", "ladder", "violin",
					     "harbor", "pepper", "canyon", "marble", "orbit", "puzzle", "saddle", "tunnel" };
	mkdir("p", 0755);
	for (int i = 0; i < 2000; i++) {
		char path[64], text[256];
		snprintf(path, sizeof path, "p/f%04d.txt", i);
		snprintf(text, sizeof text, "note %d: the %s near the %s, then the %s.\n", i, words[i % 16], words[(i / 16) % 16], words[(i * 7) % 16]);
		put(path, text);
	}
	/* ef_construction 200 (not the workspace default 80): the recall bar below compares the
	 * extended graph with a rebuilt one, at the quality a dynamic collection gets */
	vz_workspace *w = load_ok("defaults: { embedding: { dimension: 64 } }\n"
				  "projects:\n  - name: p\n    path: p\n    collections:\n      - name: c\n"
				  "        indexing: { ef_construction: 200 }\n");
	vz_ws_stats st;
	CHECK_OK(vz_workspace_build(w, &w->collections[0], "data", false, 1, 1000, NULL, NULL, &st));
	CHECK_INT(st.added, 2000);
	CHECK_INT(st.read, 2000);
	CHECK_STR(st.index, "built");
	size_t l0;
	char *p0 = t_slurp("data/workspace/p/c/postings.bin", &l0);
	CHECK(p0 != NULL);
	put("p/f0100.txt", "a completely different note about violin canyon violin.\n");
	put("p/new.txt", "a new note about a harbor pepper.\n");
	CHECK_INT(t_sh("rm p/f0200.txt"), 0);
	CHECK_OK(vz_workspace_build(w, &w->collections[0], "data", false, 1, 1000, NULL, NULL, &st));
	CHECK_INT(st.files, 2000);
	CHECK_INT(st.changed, 1);
	CHECK_INT(st.added, 1);
	CHECK_INT(st.removed, 1);
	CHECK_INT(st.read, 2); /* the changed and the new file, no other */
	CHECK_STR(st.index, "extended");
	CHECK_INT(st.appended, 2);
	/* f0100's and f0200's old rows, and the tombstone row of the segment that removes f0200's
	 * (f0100's is taken over by its new row of the same id) */
	CHECK_INT(st.tombstones, 3);
	struct stat sb;
	CHECK(stat("data/workspace/p/c/seg-2.vec", &sb) == 0 && stat("data/workspace/p/c/seg-2.hnsw", &sb) == 0);
	int problems = -1;
	char said[512] = "";
	CHECK_OK(vz_collection_verify("data/workspace/p/c", false, 1000, note_problem, said, &problems));
	CHECK_STR(said, "");
	CHECK_INT(problems, 0);
	CHECK_OK(vz_workspace_build(w, &w->collections[0], "full", true, 1, 1000, NULL, NULL, &st));
	CHECK_STR(st.index, "built");
	CHECK_INT(st.tombstones, 0);
	/* postings.bin stays as it was; the changed and new files' postings are in postings.delta
	 * (the answers below equal a forced build's, which tokenized every file) */
	size_t la, ld;
	char *pa = t_slurp("data/workspace/p/c/postings.bin", &la), *pd = t_slurp("data/workspace/p/c/postings.delta", &ld);
	CHECK(pa && pd && la == l0 && !memcmp(pa, p0, la));
	CHECK(ld * 20 < la);
	free(p0);
	free(pa);
	free(pd);
	struct rows_seen a = rows_of("data/workspace/p/c"), b = rows_of("full/workspace/p/c");
	CHECK_INT(a.n, 2000);
	CHECK_INT(b.n, 2000);
	CHECK(a.sum == b.sum);
	static const char *const queries[] = { "violin canyon", "river engine garden", "copper winter", "harbor tunnel orbit", "puzzle",
					       "harbor pepper", "note 200", "note 1999" };
	for (size_t i = 0; i < sizeof queries / sizeof queries[0]; i++) {
		char x[4096], y[4096];
		text_answers("data/workspace/p/c", queries[i], x, sizeof x);
		text_answers("full/workspace/p/c", queries[i], y, sizeof y);
		CHECK_STR(x, y);
		float qa[64], qb[64];
		CHECK_OK(vz_embed_query("data/workspace/p/c", queries[i], strlen(queries[i]), qa, 64));
		CHECK_OK(vz_embed_query("full/workspace/p/c", queries[i], strlen(queries[i]), qb, 64));
		CHECK(!memcmp(qa, qb, sizeof qa));
	}
	char top[2048];
	top_ids("data/workspace/p/c", "violin canyon violin", top, sizeof top);
	CHECK(!strncmp(top, "f0100.txt#0 ", 12));
	for (int i = 0; i < 40; i++) {
		const float *q = a.vecs + (uint64_t)(i * 47 % 2000) * 64;
		CHECK(graph_recall10("data/workspace/p/c", &a, q) >= 9);
		CHECK(graph_recall10("full/workspace/p/c", &b, q) >= 9);
	}
	free(a.vecs);
	free(b.vecs);
	/* 500 of 2000 files changed: past a fifth of the rows, the snapshot is written whole */
	for (int i = 0; i < 500; i++) {
		char path[64], text[128];
		snprintf(path, sizeof path, "p/f%04d.txt", 1000 + i);
		snprintf(text, sizeof text, "rewritten note %d about a %s.\n", i, words[i % 16]);
		put(path, text);
	}
	CHECK_OK(vz_workspace_build(w, &w->collections[0], "data", false, 1, 1000, NULL, NULL, &st));
	CHECK_INT(st.changed, 500);
	CHECK_INT(st.read, 500);
	CHECK_STR(st.index, "built");
	CHECK_INT(st.tombstones, 0);
	CHECK_OK(vz_collection_verify("data/workspace/p/c", false, 1000, note_problem, said, &problems));
	CHECK_STR(said, "");
	CHECK_INT(problems, 0);
	vz_workspace_free(w);
}

/* cache.bin names the rows of each file: verify says when they lie past the snapshot's rows,
 * even in a file whose checksums hold (a bug, not a bit flip), and a build then writes the
 * snapshot whole instead of extending it. */
TEST(ws_cache_rows_checked_by_verify)
{
	put_notes(6);
	vz_workspace *w = load_ok("defaults: { embedding: { dimension: 8 } }\n"
				  "projects:\n  - name: p\n    path: p\n    collections:\n      - name: c\n");
	vz_ws_stats st;
	CHECK_OK(vz_workspace_build(w, &w->collections[0], "data", false, 1, 1000, NULL, NULL, &st));
	put("p/n3.md", "# Note 3\nwords about topic three, changed\n");
	CHECK_OK(vz_workspace_build(w, &w->collections[0], "data", false, 1, 1000, NULL, NULL, &st));
	CHECK_STR(st.index, "extended");
	size_t len;
	/* n3.md's new record is in cache.delta (cache.bin keeps the one of the first build) */
	unsigned char *b = (unsigned char *)t_slurp("data/workspace/p/c/cache.delta", &len);
	CHECK(b != NULL);
	/* n3.md's record: u32 path length, path, u64 size, u64 mtime, u64 hash, u32 chunks, u64 first row */
	unsigned char *at = memmem(b, len, "n3.md", 5);
	CHECK(at != NULL);
	at += 5 + 8 + 8 + 8 + 4;
	CHECK_INT(vz_load_u64(at), 6); /* appended after the 6 rows of the first build */
	vz_store_u64(at, 7);
	vz_file_header h;
	CHECK_OK(vz_header_decode(b, len, "VZCDELT1", 1, &h));
	h.body_checksum = vz_hash64(b + VZ_HEADER_SIZE, len - VZ_HEADER_SIZE);
	vz_header_encode(&h, b);
	t_write("data/workspace/p/c/cache.delta", b, len);
	free(b);
	int problems = 0;
	char said[512] = "";
	CHECK_OK(vz_collection_verify("data/workspace/p/c", false, 1000, note_problem, said, &problems));
	CHECK_INT(problems, 1);
	CHECK_STR(said, "cache.bin: names rows up to 8, metadata.json says 7 rows");
	put("p/n4.md", "# Note 4\nchanged as well\n");
	CHECK_OK(vz_workspace_build(w, &w->collections[0], "data", false, 1, 1000, NULL, NULL, &st));
	CHECK_STR(st.index, "built");
	CHECK_OK(vz_collection_verify("data/workspace/p/c", false, 1000, note_problem, said, &problems));
	CHECK_INT(problems, 0);
	vz_workspace_free(w);
}

/* VZ_WS_BUILD_DEFER_GRAPH: the snapshot without index.hnsw (verify clean, vector queries by an
 * exact scan), then vz_checkpoint_dir adds the graph at the same generation; an incremental
 * build without a graph writes the snapshot whole and defers again. */
TEST(ws_deferred_graph_added_by_the_checkpoint)
{
	put_notes(8);
	vz_workspace *w = load_ok("defaults: { embedding: { dimension: 8 } }\n"
				  "projects:\n  - name: p\n    path: p\n    collections:\n      - name: c\n");
	vz_ws_stats st;
	const char *dir = "data/workspace/p/c";
	CHECK_OK(vz_workspace_build(w, &w->collections[0], "data", VZ_WS_BUILD_DEFER_GRAPH, 1, 1000, NULL, NULL, &st));
	CHECK_STR(st.index, "deferred");
	struct stat sb;
	CHECK(stat("data/workspace/p/c/index.hnsw", &sb) != 0);
	int problems = -1;
	CHECK_OK(vz_collection_verify(dir, false, 1000, NULL, NULL, &problems));
	CHECK_INT(problems, 0);
	put("p/n3.md", "# Note 3\nwords about topic three, changed\n");
	CHECK_OK(vz_workspace_build(w, &w->collections[0], "data", VZ_WS_BUILD_DEFER_GRAPH, 1, 1000, NULL, NULL, &st));
	CHECK_STR(st.index, "deferred"); /* no graph to extend: written whole, deferred again */
	CHECK(stat("data/workspace/p/c/index.hnsw", &sb) != 0);
	vz_collection *c;
	vz_collection_stats cs;
	CHECK_OK(vz_collection_open(dir, VZ_OPEN_READ, 1000, &c));
	vz_collection_stats_get(c, &cs);
	uint64_t gen = cs.generation;
	vz_collection_close(c);
	vz_checkpoint_report rep;
	CHECK_OK(vz_checkpoint_dir(dir, VZ_CHECKPOINT_IF_NEEDED, 1, 1000, &rep));
	CHECK(rep.checkpointed);
	CHECK(stat("data/workspace/p/c/index.hnsw", &sb) == 0);
	CHECK_INT(rep.generation, gen);
	CHECK_OK(vz_collection_open(dir, VZ_OPEN_READ, 1000, &c));
	vz_collection_stats_get(c, &cs);
	CHECK_INT(cs.generation, gen);
	vz_collection_close(c);
	CHECK_OK(vz_collection_verify(dir, false, 1000, NULL, NULL, &problems));
	CHECK_INT(problems, 0);
	/* nothing more to do; a plain checkpoint is refused as ever */
	CHECK_OK(vz_checkpoint_dir(dir, VZ_CHECKPOINT_IF_NEEDED, 1, 1000, &rep));
	CHECK(!rep.checkpointed);
	CHECK_INT(vz_checkpoint_dir(dir, 0, 1, 1000, &rep), VZ_EPERM);
	put("p/n4.md", "# Note 4\nchanged as well\n");
	CHECK_OK(vz_workspace_build(w, &w->collections[0], "data", VZ_WS_BUILD_DEFER_GRAPH, 1, 1000, NULL, NULL, &st));
	CHECK_STR(st.index, "extended");
	vz_workspace_free(w);
}

TEST(ws_readonly_error)
{
	put("vectorize-workspace.yml", "projects: []\n");
	CHECK_INT(vz_workspace_readonly_error("p/docs"), VZ_EPERM);
	char want[4300];
	snprintf(want, sizeof want, "p/docs is a workspace collection: edit %s/vectorize-workspace.yml and run vz build", t_dir());
	CHECK_STR(vz_last_error(), want);
}

/* One row id for the build and for its readers (vz query --text): PATH#CHUNK, or by the path's
 * hash past VZ_MAX_ID_LEN; a buffer too small is refused, not cut. */
TEST(ws_row_id_names_rows_as_the_build_does)
{
	char id[VZ_MAX_ID_LEN + 1], longp[400];
	CHECK_OK(vz_ws_row_id("man/vz.1", 8, 3, id, sizeof id));
	CHECK_STR(id, "man/vz.1#3");
	memset(longp, 'a', sizeof longp - 1);
	longp[sizeof longp - 1] = '\0';
	CHECK_OK(vz_ws_row_id(longp, strlen(longp), 12, id, sizeof id));
	char want[64];
	snprintf(want, sizeof want, "xxh3:%016llx#12", (unsigned long long)vz_hash64(longp, strlen(longp)));
	CHECK_STR(id, want);
	char small[8];
	CHECK_INT(vz_ws_row_id("man/vz.1", 8, 3, small, sizeof small), VZ_ERANGE);
}
