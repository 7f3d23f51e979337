/* embed.c: text embedding for `query --text` (wired to the built-in BM25 embedding). */
#include "cli.h"

#include <ctype.h>
#include <jansson.h>
#include <string.h>
#include <strings.h>

/* Characters of chunk text shown after each text query result. */
#define VZ_SNIPPET_CHARS 160

/* A workspace collection: says so when its configuration changed since `vz build`. */
static void warn_config_changed(const struct vz_cli *cli, vz_collection *c, const char *coll_dir)
{
	char yaml[4096];
	bool changed;
	if (strstr(vz_collection_extra_json(c), "\"workspace\"") && vz_find_workspace_file(yaml, sizeof yaml) == VZ_OK &&
	    vz_workspace_config_changed(coll_dir, yaml, &changed) == VZ_OK && changed)
		vz_warnf(cli, "the configuration of this collection changed in %s since it was built: run vz build", yaml);
}

int vz_cli_embed_text(const struct vz_cli *cli, vz_collection *c, const char *coll_dir, const char *text, float *out)
{
	const vz_config *cfg = vz_collection_config(c);
	if (!cfg->embedding[0]) {
		vz_errorf(cli, "this collection has no built-in embedding: query it with --vector or --batch");
		return VZ_EXIT_USAGE;
	}
	warn_config_changed(cli, c, coll_dir);
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

/* Prints text[start..] as a one-line snippet: runs of white space as one space, control
 * characters left out, at most VZ_SNIPPET_CHARS characters, whole UTF-8 characters. */
static void print_snippet(FILE *out, const char *text, size_t len, size_t start)
{
	if (start > 0) fputs("...", out);
	size_t shown = 0, i = start;
	bool space = false;
	for (; i < len && shown < VZ_SNIPPET_CHARS; i++) {
		unsigned char ch = (unsigned char)text[i];
		if (isspace(ch)) { space = shown > 0; continue; } /* runs of white space (newlines too) print as one space */
		if (ch < 0x20 || ch == 0x7f) continue;            /* no raw control characters on a terminal */
		if (space) { putc(' ', out); shown++; space = false; }
		putc(ch, out);
		if ((ch & 0xC0) != 0x80) shown++;
	}
	while (i < len && ((unsigned char)text[i] & 0xC0) == 0x80) putc(text[i++], out);
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
	fwrite(r->id, 1, r->id_len, out);
	putc('\t', out);
	print_snippet(out, text, len, snippet_start(text, at));
	putc('\n', out);
	json_decref(payload);
}

int vz_cli_text_search(const struct vz_cli *cli, vz_collection *c, const char *coll_dir, const char *query, size_t k, bool chunks, bool json)
{
	vz_collection_stats st;
	int rc = vz_collection_stats_get(c, &st);
	if (rc) return vz_report(cli, rc);
	vz_text_index *x;
	/* none: a collection built before postings.bin existed, or a dynamic one: the vectors answer */
	if ((rc = vz_text_index_open_dir(coll_dir, st.generation, &x))) return rc == VZ_ENOENT ? rc : vz_report(cli, rc);
	warn_config_changed(cli, c, coll_dir);
	vz_text_hit *hits;
	size_t n;
	if ((rc = vz_text_search(x, query, strlen(query), k, chunks, &hits, &n))) goto out;
	char id[4200];
	for (size_t i = 0; i < n; i++) {
		const vz_text_hit *h = &hits[i];
		snprintf(id, sizeof id, "%.*s#%u", (int)h->path_len, h->path, h->chunk);
		vz_result r;
		const float *v;
		const char *text = "";
		json_t *payload = NULL;
		if (!vz_collection_get(c, id, strlen(id), &r, &v) && r.payload) {
			payload = json_loadb(r.payload, r.payload_len, 0, NULL);
			const char *t = json_string_value(json_object_get(payload, "text"));
			if (t) text = t;
		}
		size_t len = strlen(text), at = vz_text_first_match(text, len, query, strlen(query)), start = snippet_start(text, at);
		uint32_t line = h->line;
		for (size_t j = 0; j < at; j++) line += text[j] == '\n'; /* the line of the first match */
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
			printf("\t%.*s:%u\t", (int)h->path_len, h->path, line);
			print_snippet(stdout, text, len, start);
			if (h->n_same) {
				printf("\t(+%u identical:", h->n_same);
				for (uint32_t j = 0; j < h->n_same; j++) {
					const char *p;
					size_t pl;
					vz_text_file_path(x, h->same[j], &p, &pl);
					printf(" %.*s", (int)pl, p);
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
