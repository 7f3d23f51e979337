/* text.c: rows and queries given as text, for collections with the built-in embedding
 * (vz_collection_write_text, vz_collection_query_text): the rule that turns a text into a row
 * lives here, in the library, so that every program inserting texts follows the same one. */
#include "vz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int no_embedding(const vz_collection *c, const char *what)
{
	const char *dir = vz_collection_dir(c), *name = strrchr(dir, '/');
	return vz_fail(VZ_EINVAL, "%s has no built-in embedding: %s", name ? name + 1 : dir, what);
}

/* {"text": TEXT}, malloc'd, into *out (*len bytes). */
static int text_payload(const char *text, char **out, size_t *len)
{
	FILE *f = open_memstream(out, len);
	if (!f) return vz_fail(VZ_ENOMEM, "out of memory");
	fputs("{\"text\":", f);
	vz_json_string(f, text, strlen(text));
	fputc('}', f);
	if (fclose(f)) {
		free(*out);
		*out = NULL;
		return vz_fail(VZ_ENOMEM, "out of memory");
	}
	return VZ_OK;
}

int vz_collection_write_text(vz_collection *c, const vz_write *w, const char *const *texts, size_t n, unsigned flags,
			     int threads, vz_write_stats *stats)
{
	vz_write_stats local;
	if (!stats) stats = &local;
	size_t ntext = 0;
	for (size_t i = 0; texts && i < n; i++) ntext += texts[i] != NULL;
	if (!ntext) {
		int rc = vz_collection_write(c, w, n, flags, threads, stats);
		stats->terms_saved = !rc;
		return rc;
	}
	const vz_config *cfg = vz_collection_config(c);
	if (!cfg->embedding[0])
		return no_embedding(c, "insert vectors, or create the collection with --embedding bm25 to insert texts");
	/* the model is held from embedding to saving under the collection's exclusive lock (the
	 * handle is open for writing), so no other writer changes the terms meanwhile */
	vz_bm25 *m = NULL;
	int rc = vz_bm25_open_dir(vz_collection_dir(c), cfg->dim, &m);
	if (rc) return rc;
	vz_write *ww = malloc(n * sizeof *ww);
	float *vec = malloc(ntext * cfg->dim * sizeof(float));
	char **payloads = calloc(n, sizeof *payloads);
	if (!ww || !vec || !payloads) rc = vz_fail(VZ_ENOMEM, "out of memory");
	else memcpy(ww, w, n * sizeof *ww);
	for (size_t i = 0; i < n && !rc; i++)
		if (texts[i]) rc = vz_bm25_add_document(m, texts[i], strlen(texts[i]));
	for (size_t i = 0, k = 0; i < n && !rc; i++) {
		if (!texts[i]) continue;
		float *v = vec + k++ * cfg->dim;
		if ((rc = vz_embed_text(m, texts[i], strlen(texts[i]), v))) break;
		ww[i].vector = v;
		ww[i].dim = cfg->dim;
		if (!ww[i].payload && !(rc = text_payload(texts[i], &payloads[i], &ww[i].payload_len)))
			ww[i].payload = payloads[i];
	}
	if (!rc) rc = vz_collection_write(c, ww, n, flags, threads, stats);
	/* the frequencies are stored after the rows are durable: a crash in between leaves them
	 * short of those texts (query weights slightly off), no row is lost */
	if (!rc) {
		stats->terms_saved = true;
		if (vz_bm25_save_dir(m, vz_collection_dir(c))) {
			stats->terms_saved = false;
			vz_fail_prefix(VZ_OK, "the rows are written, but the term frequencies were not saved: ");
		}
	}
	if (payloads)
		for (size_t i = 0; i < n; i++) free(payloads[i]);
	free(payloads);
	free(vec);
	free(ww);
	vz_bm25_free(m);
	return rc;
}

int vz_collection_query_text(vz_collection *c, const char *text, size_t len, size_t k, size_t ef, vz_result *out,
			     size_t *n)
{
	*n = 0;
	const vz_config *cfg = vz_collection_config(c);
	if (!cfg->embedding[0]) return no_embedding(c, "query it with a vector");
	float *q = malloc(cfg->dim * sizeof(float));
	if (!q) return vz_fail(VZ_ENOMEM, "out of memory");
	int rc = vz_embed_query(vz_collection_dir(c), text, len, q, cfg->dim);
	if (!rc) rc = vz_collection_query(c, q, k, ef, out, n);
	free(q);
	return rc;
}
