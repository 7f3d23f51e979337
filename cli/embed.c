/* embed.c: text embedding for `query --text` (wired to the built-in BM25 embedding). */
#include "cli.h"

#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Characters of chunk text shown after each text query result. */
#define VZ_SNIPPET_CHARS 160

int vz_cli_embed_text(const struct vz_cli *cli, vz_collection *c, const char *coll_dir, const char *text, float *out)
{
	const vz_config *cfg = vz_collection_config(c);
	if (!cfg->embedding[0]) {
		vz_errorf(cli, "this collection has no built-in embedding: query it with --vector or --batch");
		return VZ_EXIT_USAGE;
	}
	/* a workspace collection: say so when its workspace file changed since `vz build` */
	vz_cli_warn_stale(cli, c, coll_dir);
	int rc = vz_embed_query(coll_dir, text, strlen(text), out, cfg->dim);
	return rc ? vz_report(cli, rc) : 0;
}

/* Case-insensitive search for the first word of the query (three letters or more) in text, so
 * the snippet shows where the match is rather than the chunk's first line. */
static size_t first_query_word(const char *text, size_t len, const char *query)
{
	for (const char *q = query; *q;) {
		while (*q && !isalnum((unsigned char)*q)) q++;
		const char *w = q;
		while (*q && isalnum((unsigned char)*q)) q++;
		size_t wl = (size_t)(q - w);
		if (wl < 3) continue;
		for (size_t i = 0; i + wl <= len; i++)
			if (!strncasecmp(text + i, w, wl)) return i;
	}
	return 0;
}

/* Prints text[start..] as a one-line snippet: runs of white space as one space, at most
 * VZ_SNIPPET_CHARS characters, whole UTF-8 characters, cut ends marked "...", gathered first
 * and printed with its control characters escaped (vz_print_safe). */
static void print_snippet(FILE *out, const char *text, size_t len, size_t start)
{
	if (start > 0) fputs("...", out);
	char *snip = NULL;
	size_t slen = 0;
	FILE *sf = open_memstream(&snip, &slen);
	if (!sf) return;
	size_t shown = 0, i = start;
	bool space = false;
	for (; i < len && shown < VZ_SNIPPET_CHARS; i++) {
		unsigned char ch = (unsigned char)text[i];
		if (isspace(ch)) { space = shown > 0; continue; } /* runs of white space (newlines too) print as one space */
		if (space) { putc(' ', sf); shown++; space = false; }
		putc(ch, sf);
		if ((ch & 0xC0) != 0x80) shown++;
	}
	while (i < len && ((unsigned char)text[i] & 0xC0) == 0x80) putc(text[i++], sf);
	fclose(sf);
	vz_print_safe(out, snip, slen);
	free(snip);
	if (i < len) fputs("...", out);
}

/* Where a snippet around offset at starts: about 40 bytes before it, on a word. */
static size_t snippet_start(const char *text, size_t at)
{
	size_t start = at > 40 ? at - 40 : 0;
	if (start > 0) {
		while (start < at && !isspace((unsigned char)text[start])) start++;
		while (start < at && isspace((unsigned char)text[start])) start++;
	}
	return start;
}

void vz_cli_print_text_hit(FILE *out, const vz_result *r, const char *query)
{
	json_t *payload = r->payload ? json_loadb(r->payload, r->payload_len, 0, NULL) : NULL;
	const char *text = json_string_value(json_object_get(payload, "text"));
	if (!text) {
		json_decref(payload);
		vz_print_result(out, r, false, true);
		return;
	}
	size_t len = strlen(text), at = first_query_word(text, len, query);
	vz_print_float(out, r->score);
	putc('\t', out);
	vz_print_safe(out, r->id, r->id_len);
	putc('\t', out);
	print_snippet(out, text, len, snippet_start(text, at));
	putc('\n', out);
	json_decref(payload);
}

/* The texts of a dynamic collection's rows (payload member "text"), for dynamic_search. */
struct rows {
	char **ids, **texts;
	size_t n, cap;
};

static int collect_row(void *ctx, const vz_result *r, const float *vector)
{
	(void)vector;
	struct rows *t = ctx;
	json_t *payload = r->payload ? json_loadb(r->payload, r->payload_len, 0, NULL) : NULL;
	const char *text = json_string_value(json_object_get(payload, "text"));
	int rc = VZ_OK;
	if (text) {
		if (t->n == t->cap) {
			size_t cap = t->cap ? t->cap * 2 : 256;
			char **a = realloc(t->ids, cap * sizeof *a), **b = a ? realloc(t->texts, cap * sizeof *b) : NULL;
			if (a) t->ids = a;
			if (b) t->texts = b;
			if (!a || !b) rc = vz_fail(VZ_ENOMEM, "out of memory");
			else t->cap = cap;
		}
		if (!rc) {
			t->ids[t->n] = strndup(r->id, r->id_len);
			t->texts[t->n] = strdup(text);
			if (t->ids[t->n] && t->texts[t->n]) t->n++;
			else {
				free(t->ids[t->n]);
				free(t->texts[t->n]);
				rc = vz_fail(VZ_ENOMEM, "out of memory");
			}
		}
	}
	json_decref(payload);
	return rc;
}

/* A dynamic collection with the built-in embedding: the same ranking as a workspace's, from an
 * index of its texts built for the query (each row a document: its id as the path, its text
 * as title lead and body), so that it needs no state beyond the rows and a dumped and loaded
 * collection answers the same. */
static int dynamic_search(const struct vz_cli *cli, vz_collection *c, const char *query, size_t k, bool json)
{
	struct rows t = { 0 };
	vz_text_doc *docs = NULL;
	vz_text_chunk *chunks = NULL;
	vz_text_index *x = NULL;
	vz_text_hit *hits = NULL;
	size_t n = 0;
	vz_text_weights w = VZ_TEXT_WEIGHTS_DEFAULT;
	int rc = vz_collection_foreach(c, collect_row, &t);
	if (!rc && (!(docs = calloc(t.n ? t.n : 1, sizeof *docs)) || !(chunks = calloc(t.n ? t.n : 1, sizeof *chunks))))
		rc = vz_fail(VZ_ENOMEM, "out of memory");
	for (size_t i = 0; i < t.n && !rc; i++) {
		size_t len = strlen(t.texts[i]);
		chunks[i] = (vz_text_chunk){ .text = t.texts[i], .len = (uint32_t)len, .line = 1 };
		docs[i] = (vz_text_doc){ .path = t.ids[i], .hash = i, .title = t.texts[i], .title_len = (uint32_t)vz_text_title(t.texts[i], len),
					 .chunks = &chunks[i], .n_chunks = 1 };
	}
	if (!rc) rc = vz_text_index_build(docs, t.n, &w, &x);
	if (!rc) rc = vz_text_search(x, query, strlen(query), k, false, &hits, &n);
	for (size_t i = 0; i < n && !rc; i++) {
		vz_result r;
		const float *v;
		const char *id = t.ids[hits[i].file];
		if (vz_collection_get(c, id, strlen(id), &r, &v)) continue;
		r.score = (float)hits[i].score;
		if (json) vz_print_result(stdout, &r, true, true);
		else vz_cli_print_text_hit(stdout, &r, query);
	}
	vz_text_hits_free(hits, n);
	vz_text_index_close(x);
	for (size_t i = 0; i < t.n; i++) free(t.ids[i]), free(t.texts[i]);
	free(t.ids), free(t.texts), free(docs), free(chunks);
	return rc ? vz_report(cli, rc) : 0;
}

int vz_cli_text_search(const struct vz_cli *cli, vz_collection *c, const char *coll_dir, const char *query, size_t k, bool chunks, bool json)
{
	vz_collection_stats st;
	int rc = vz_collection_stats_get(c, &st);
	if (rc) return vz_report(cli, rc);
	vz_text_index *x;
	if (!vz_collection_is_workspace(c))
		return vz_collection_config(c)->embedding[0] ? dynamic_search(cli, c, query, k, json) : VZ_ENOENT;
	/* none: a collection built before postings.bin existed: the vectors answer */
	if ((rc = vz_text_index_open_dir(coll_dir, st.generation, &x))) return rc == VZ_ENOENT ? rc : vz_report(cli, rc);
	vz_cli_warn_stale(cli, c, coll_dir);
	vz_text_hit *hits;
	size_t n;
	if ((rc = vz_text_search(x, query, strlen(query), k, chunks, &hits, &n))) goto out;
	char id[VZ_PATH_MAX];
	for (size_t i = 0; i < n; i++) {
		const vz_text_hit *h = &hits[i];
		if (vz_ws_row_id(h->path, h->path_len, h->chunk, id, sizeof id)) continue; /* cannot be: id has room */
		vz_result r;
		const float *v;
		const char *text = "";
		json_t *payload = NULL;
		if (!vz_collection_get(c, id, strlen(id), &r, &v) && r.payload) {
			payload = json_loadb(r.payload, r.payload_len, 0, NULL);
			const char *t = json_string_value(json_object_get(payload, "text"));
			if (t) text = t;
		}
		size_t len = strlen(text), at = vz_text_best_match(text, len, query, strlen(query)), start = snippet_start(text, at);
		uint32_t line = h->line;
		for (size_t j = 0; j < at; j++) line += text[j] == '\n'; /* the line of the best passage */
		if (json) {
			fputs("{\"path\":", stdout);
			vz_json_string(stdout, h->path, h->path_len);
			printf(",\"line\":%u,\"id\":", line);
			vz_json_string(stdout, id, strlen(id));
			fputs(",\"score\":", stdout);
			vz_print_float(stdout, (float)h->score);
			fputs(",\"text\":", stdout);
			vz_json_string(stdout, text, len);
			if (h->n_same) {
				fputs(",\"same\":[", stdout);
				for (uint32_t j = 0; j < h->n_same; j++) {
					const char *p;
					size_t pl;
					vz_text_file_path(x, h->same[j], &p, &pl);
					if (j) putchar(',');
					vz_json_string(stdout, p, pl);
				}
				putchar(']');
			}
			fputs("}\n", stdout);
		} else {
			vz_print_float(stdout, (float)h->score);
			putchar('\t');
			vz_print_safe(stdout, h->path, h->path_len);
			printf(":%u\t", line);
			print_snippet(stdout, text, len, start);
			if (h->n_same) {
				printf("\t(+%u identical:", h->n_same);
				for (uint32_t j = 0; j < h->n_same; j++) {
					const char *p;
					size_t pl;
					vz_text_file_path(x, h->same[j], &p, &pl);
					putchar(' ');
					vz_print_safe(stdout, p, pl);
				}
				putchar(')');
			}
			putchar('\n');
		}
		json_decref(payload);
	}
	vz_text_hits_free(hits, n);
out:
	vz_text_index_close(x);
	return rc ? vz_report(cli, rc) : 0;
}
