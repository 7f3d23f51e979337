/* test_workspace.c: the workspace file (both schemas, defaults, errors with line:column, unknown
 * keys, alias bombs), glob patterns, chunking, the project walk and incremental builds. */
#include "t.h"

#include <sys/stat.h>
#include <unistd.h>

static void put(const char *path, const char *text) { t_write(path, text, strlen(text)); }

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
	CHECK_INT(c->cfg.ef_construction, 200);
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

TEST(ws_incremental_equals_force_2000_files)
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
	vz_workspace *w = load_ok("defaults: { embedding: { dimension: 64 } }\n"
				  "projects:\n  - name: p\n    path: p\n    collections:\n      - name: c\n");
	vz_ws_stats st;
	CHECK_OK(vz_workspace_build(w, &w->collections[0], "data", false, 1, 1000, NULL, NULL, &st));
	CHECK_INT(st.added, 2000);
	put("p/f0100.txt", "a completely different note about violin canyon violin.\n");
	CHECK_OK(vz_workspace_build(w, &w->collections[0], "data", false, 1, 1000, NULL, NULL, &st));
	CHECK_INT(st.files, 2000);
	CHECK_INT(st.changed, 1);
	CHECK_INT(st.added, 0);
	CHECK_INT(st.removed, 0);
	CHECK_OK(vz_workspace_build(w, &w->collections[0], "full", true, 1, 1000, NULL, NULL, &st));
	CHECK_INT(st.added, 2000);
	static const char *const queries[] = { "violin canyon", "river engine garden", "copper winter", "harbor tunnel orbit", "puzzle" };
	for (size_t i = 0; i < 5; i++) {
		char a[2048], b[2048];
		top_ids("data/workspace/p/c", queries[i], a, sizeof a);
		top_ids("full/workspace/p/c", queries[i], b, sizeof b);
		CHECK_STR(a, b);
	}
	char a[2048];
	top_ids("data/workspace/p/c", "violin canyon violin", a, sizeof a);
	CHECK(!strncmp(a, "f0100.txt#0 ", 12));
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
