/* test_wsforms.c: the schema forms of the original system's workspace files (comment-only
 * trailing documents, global_settings, keys listed as not applicable, bad project entries that
 * do not stop the others), the file-selection keys, and the native embedding models. */
#include "t.h"

#include <math.h>

#include "../../lib/ws_internal.h"

static vz_workspace *load(const char *yaml)
{
	t_write("vectorize-workspace.yml", yaml, strlen(yaml));
	vz_workspace *w = NULL;
	CHECK_OK(vz_workspace_load("vectorize-workspace.yml", &w));
	return w;
}

static bool has(char **lines, size_t n, const char *want)
{
	for (size_t i = 0; i < n; i++)
		if (strstr(lines[i], want)) return true;
	return false;
}

TEST(wsforms_trailing_comment_documents)
{
	vz_workspace *w = load("projects:\n  - name: p\n    path: .\n    collections:\n      - name: c\n---\n# notes\n# more notes\n---\n");
	CHECK_INT(w->n, 1);
	CHECK_INT(w->n_failures, 0);
	vz_workspace_free(w);
	const char *two = "projects: []\n---\nx: 1\n", *null_doc = "projects: []\n--- ~\n";
	t_write("vectorize-workspace.yml", two, strlen(two));
	CHECK_INT(vz_workspace_load("vectorize-workspace.yml", &w), VZ_ECONFIG);
	CHECK(strstr(vz_last_error(), ":3:1: only the first YAML document may have content"));
	/* an explicit empty value is not a comment */
	t_write("vectorize-workspace.yml", null_doc, strlen(null_doc));
	CHECK_INT(vz_workspace_load("vectorize-workspace.yml", &w), VZ_ECONFIG);
}

TEST(wsforms_global_settings_file_watcher)
{
	vz_workspace *w = load("global_settings:\n"
			       "  file_watcher:\n"
			       "    enabled: true\n"
			       "    watch_paths: [\"src\", \"/abs/docs\"]\n"
			       "    auto_discovery: true\n"
			       "    enable_auto_update: false\n"
			       "    hot_reload: false\n"
			       "    exclude_patterns: [\"*.tmp\"]\n"
			       "    debounce_ms: 150\n"
			       "projects:\n"
			       "  - name: p\n"
			       "    path: src\n"
			       "    collections:\n"
			       "      - name: c\n"
			       "        description: \"direct patterns\"\n"
			       "        include_patterns: [\"**/*.md\"]\n"
			       "        exclude_patterns: [\"tmp/**\"]\n");
	CHECK_INT(w->n_warnings, 0);
	CHECK_INT(w->n_watch_paths, 2);
	CHECK(strstr(w->watch_paths[0], "/src") && w->watch_paths[0][0] == '/');
	CHECK_STR(w->watch_paths[1], "/abs/docs");
	CHECK_INT(w->n_watch_exclude, 1);
	CHECK_STR(w->watch_exclude[0], "*.tmp");
	CHECK(!w->watch_auto_update);
	CHECK(!w->watch_hot_reload);
	CHECK_INT(w->debounce_ms, 150);
	CHECK_INT(w->n_not_applicable, 1);
	CHECK(strstr(w->not_applicable[0], "vectorize-workspace.yml:5:5: auto_discovery: "));
	CHECK_INT(w->collections[0].n_include, 1);
	CHECK_STR(w->collections[0].include[0], "**/*.md");
	CHECK_STR(w->collections[0].exclude[0], "tmp/**");
	vz_workspace_free(w);
}

TEST(wsforms_not_applicable_listed_once)
{
	vz_workspace *w = load("processing:\n"
			       "  parallel_processing: true\n"
			       "  memory_limit_mb: 512\n"
			       "  retry_attempts: 3\n"
			       "monitoring: { enabled: true }\n"
			       "projects:\n"
			       "  - name: p\n"
			       "    path: .\n"
			       "    collections:\n"
			       "      - name: a\n"
			       "        compression: { enabled: true }\n"
			       "      - name: b\n"
			       "        compression: { enabled: true }\n");
	CHECK_INT(w->n_warnings, 0);
	CHECK_INT(w->n_not_applicable, 5); /* compression twice: listed once */
	CHECK(has(w->not_applicable, w->n_not_applicable, ":2:3: parallel_processing: "));
	CHECK(has(w->not_applicable, w->n_not_applicable, ":3:3: memory_limit_mb: vz has no memory limit"));
	CHECK(has(w->not_applicable, w->n_not_applicable, ":4:3: retry_attempts: vz does not retry"));
	CHECK(has(w->not_applicable, w->n_not_applicable, ":5:1: monitoring: "));
	CHECK(has(w->not_applicable, w->n_not_applicable, ":11:9: compression: "));
	vz_workspace_free(w);
}

TEST(wsforms_bad_project_does_not_stop_the_others)
{
	vz_workspace *w = load("projects:\n"
			       "  - name: a\n"
			       "    path: .\n"
			       "    collections:\n"
			       "      - name: c\n"
			       "  - name: typo\n"
			       "    path: .\n"
			       "    collectons:\n"
			       "      - name: d\n"
			       "  - name: bad\n"
			       "    path: .\n"
			       "    collections:\n"
			       "      - name: e\n"
			       "        metric: manhattan\n"
			       "  - name: z\n"
			       "    path: .\n"
			       "    collections:\n"
			       "      - name: f\n");
	CHECK_INT(w->n, 2);
	CHECK_STR(w->collections[0].full_name, "a/c");
	CHECK_STR(w->collections[1].full_name, "z/f");
	CHECK_INT(w->n_failures, 2);
	CHECK(strstr(w->failures[0].message, ":8:5: project 'typo' has no collections: unknown key 'collectons' (did you mean 'collections'?)"));
	CHECK_STR(w->failures[0].project, "typo");
	CHECK(strstr(w->failures[1].message, ":14:17: unknown metric 'manhattan'"));
	CHECK_INT(w->failures[1].err, VZ_ECONFIG);
	vz_workspace_free(w);
}

TEST(wsforms_file_selection_and_models)
{
	vz_workspace *w = load("defaults:\n"
			       "  embedding: { model: native_ngram, dimension: 64, parameters: { ngram_range: [2, 3] } }\n"
			       "  processing:\n"
			       "    max_file_size_mb: 2\n"
			       "    supported_extensions: [\".md\", \"txt\", \"*.c\"]\n"
			       "    file_processing: { skip_hidden_files: false }\n"
			       "projects:\n"
			       "  - name: p\n"
			       "    path: ./sub/\n"
			       "    collections:\n"
			       "      - name: a\n"
			       "      - name: b\n"
			       "        embedding: { model: onnx_model }\n"
			       "      - name: c\n"
			       "        embedding: { model: native_bow }\n"
			       "        processing: { file_processing: { skip_hidden_files: true } }\n");
	CHECK_INT(w->n, 3);
	const vz_ws_collection *a = &w->collections[0], *b = &w->collections[1], *c = &w->collections[2];
	CHECK_STR(a->cfg.embedding, "native_ngram");
	CHECK_INT(a->ngram_min, 2);
	CHECK_INT(a->ngram_max, 3);
	CHECK_INT(a->max_file_size, 2u << 20);
	CHECK(!a->skip_hidden);
	CHECK(c->skip_hidden);
	CHECK_INT(a->n_extensions, 3);
	CHECK_STR(a->extensions[0], "md");
	CHECK_STR(a->extensions[1], "txt");
	CHECK_STR(a->extensions[2], "c");
	CHECK_STR(b->cfg.embedding, "bm25"); /* the documented fallback */
	CHECK_STR(c->cfg.embedding, "native_bow");
	CHECK(strstr(a->project_dir, "/sub") && !strstr(a->project_dir, "/./"));
	/* the fallback is said once, for b only, where the model is named */
	CHECK_INT(w->n_warnings, 1);
	CHECK(has(w->warnings, w->n_warnings, ":13:29: p/b: embedding model 'onnx_model' needs trained weights vz cannot have: bm25 is used instead"));
	CHECK(a->config_hash != c->config_hash);
	vz_workspace_free(w);
	const char *bad = "defaults: { embedding: { ngram_range: [4, 2] } }\nprojects: []\n";
	t_write("vectorize-workspace.yml", bad, strlen(bad));
	CHECK_INT(vz_workspace_load("vectorize-workspace.yml", &w), VZ_ECONFIG);
	CHECK(strstr(vz_last_error(), ":1:39: ngram_range [4, 2]: the minimum is above the maximum"));
}

static double dot(const float *a, const float *b, uint32_t dim)
{
	double s = 0;
	for (uint32_t i = 0; i < dim; i++) s += (double)a[i] * b[i];
	return s;
}

TEST(wsforms_native_models)
{
	enum { D = 256 };
	float a[D], b[D], c[D];
	const char *doc = "The lighthouse keeper trims the lamp wick every evening.";
	const char *near = "lamp wick of the lighthouse", *far = "quarterly tax filing deadlines";
	uint32_t codes[] = { vz_native_code("native_bow", 0, 0), vz_native_code("native_hash", 0, 0), vz_native_code("native_ngram", 3, 5) };
	for (size_t m = 0; m < 3; m++) {
		CHECK(codes[m] && vz_native_valid(codes[m]));
		CHECK_OK(vz_native_embed(codes[m], D, doc, strlen(doc), a));
		CHECK(fabs(dot(a, a, D) - 1) < 1e-5); /* L2-normalised */
		CHECK_OK(vz_native_embed(codes[m], D, near, strlen(near), b));
		CHECK_OK(vz_native_embed(codes[m], D, far, strlen(far), c));
		CHECK(dot(a, b, D) > 0.3);
		CHECK(dot(a, b, D) > dot(a, c, D) + 0.2);
		CHECK_INT(vz_native_embed(codes[m], D, "  ,;  ", 6, c), VZ_EDATA);
	}
	/* bag of words: counts, never negative; the hashed models carry signs */
	CHECK_OK(vz_native_embed(codes[0], D, doc, strlen(doc), a));
	for (int i = 0; i < D; i++) CHECK(a[i] >= 0);
	/* n-grams see inside words: a misspelling still matches */
	CHECK_OK(vz_native_embed(codes[2], D, "lighthouse", 10, a));
	CHECK_OK(vz_native_embed(codes[2], D, "lighthoose", 10, b));
	CHECK(dot(a, b, D) > 0.4);
	CHECK(!vz_native_valid(3 | 5u << 8 | 2u << 16)); /* min above max */
	CHECK(!vz_native_valid(9));
	CHECK_INT(vz_native_code("bm25", 0, 0), 0);
	/* the model travels with the df table (cache.bin), so a query embeds the same way */
	vz_bm25 *m, *back;
	CHECK_OK(vz_bm25_new(D, &m));
	vz_bm25_set_native(m, codes[2]);
	vz_buf buf = { 0 };
	CHECK_OK(vz_bm25_encode(m, &buf));
	vz_reader r = { buf.data, buf.len, 0 };
	CHECK_OK(vz_bm25_decode(&r, &back));
	CHECK_OK(vz_embed_text(back, doc, strlen(doc), a));
	CHECK_OK(vz_bm25_embed_query(back, doc, strlen(doc), b));
	CHECK(fabs(dot(a, b, D) - 1) < 1e-5);
	vz_bm25_free(back);
	buf.data[4] = 0x7f; /* an unknown model code is damage */
	r = (vz_reader){ buf.data, buf.len, 0 };
	CHECK_INT(vz_bm25_decode(&r, &back), VZ_ECORRUPT);
	vz_buf_free(&buf);
	vz_bm25_free(m);
}

TEST(wsforms_projects_and_collections_by_name)
{
	vz_workspace *w = load("projects:\n"
			       "  p:\n"
			       "    path: sub\n"
			       "    collections:\n"
			       "      docs:\n"
			       "        include_patterns: [\"*.md\"]\n"
			       "      all:\n"
			       "  q:\n"
			       "    path: sub\n"
			       "    collections: [ { name: c } ]\n"
			       "  \"bad name!\":\n"
			       "    path: sub\n"
			       "    collections: { x: {} }\n");
	CHECK_INT(w->n, 3);
	CHECK_STR(w->collections[0].full_name, "p/docs");
	CHECK_STR(w->collections[0].include[0], "*.md");
	CHECK_INT(w->collections[0].line, 6);
	CHECK_STR(w->collections[1].full_name, "p/all");
	CHECK_STR(w->collections[1].include[0], "**");
	CHECK_INT(w->collections[1].line, 7);
	CHECK_STR(w->collections[2].full_name, "q/c");
	CHECK_INT(w->n_failures, 1);
	CHECK(strstr(w->failures[0].message, ":11:3: invalid project name 'bad name!'"));
	vz_workspace_free(w);
}

TEST(wsforms_model_keys_anywhere)
{
	vz_workspace *w = load("defaults:\n"
			       "  embedding_model: native_hash\n"
			       "  chunk_size: 700\n"
			       "  embedding: { dimension: 32, model_path: /models/x.onnx, max_features: 5000 }\n"
			       "projects:\n"
			       "  - name: p\n"
			       "    path: .\n"
			       "    collections:\n"
			       "      - name: c\n"
			       "        chunk_overlap: 70\n");
	CHECK_INT(w->n_warnings, 0);
	CHECK_STR(w->collections[0].cfg.embedding, "native_hash");
	CHECK_INT(w->collections[0].cfg.dim, 32);
	CHECK_INT(w->collections[0].chunk_size, 700);
	CHECK_INT(w->collections[0].chunk_overlap, 70);
	CHECK_INT(w->n_not_applicable, 2);
	CHECK(has(w->not_applicable, w->n_not_applicable, ":4:31: model_path: vz runs no trained models"));
	CHECK(has(w->not_applicable, w->n_not_applicable, ":4:59: max_features: "));
	vz_workspace_free(w);
}
