/* embed.c: text embedding for `query --text` (wired to the built-in BM25 embedding). */
#include "cli.h"

#include <ctype.h>
#include <jansson.h>
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

void vz_cli_print_text_hit(FILE *out, const vz_result *r, const char *query)
{
	json_t *payload = r->payload ? json_loadb(r->payload, r->payload_len, 0, NULL) : NULL;
	const char *text = json_string_value(json_object_get(payload, "text"));
	if (!text) {
		json_decref(payload);
		vz_print_result(out, r, false, true);
		return;
	}
	size_t len = strlen(text), at = first_query_word(text, len, query), start = at > 40 ? at - 40 : 0;
	/* begin and end on whole words and whole UTF-8 characters */
	if (start > 0) {
		while (start < at && !isspace((unsigned char)text[start])) start++;
		while (start < at && isspace((unsigned char)text[start])) start++;
	}
	vz_print_float(out, r->score);
	putc('\t', out);
	vz_print_safe(out, r->id, r->id_len);
	putc('\t', out);
	if (start > 0) fputs("...", out);
	/* the snippet is gathered, then printed with its control characters escaped */
	char *snip = NULL;
	size_t slen = 0;
	FILE *sf = open_memstream(&snip, &slen);
	if (!sf) { json_decref(payload); return; }
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
	putc('\n', out);
	json_decref(payload);
}
