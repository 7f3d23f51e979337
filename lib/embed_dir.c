/* embed_dir.c: the text model of a collection directory, for queries and inserts: the df table
 * of its cache.bin (workspace collections, lib/wsbuild.c) or of its terms.bin (dynamic ones,
 * lib/embed.c), checked against metadata.json. Apart from embed.c so that the embedding does
 * not call the workspace build that calls it. */
#include "ws_internal.h"

#include <stdio.h>

/* Checks that the table m read from path belongs to the collection of metadata.json: its id,
 * and the generation (cache.bin) or a save count no lower than the checkpoint's (terms.bin). */
static int check_origin(const vz_bm25 *m, const vz_meta *meta, const char *path, bool cache)
{
	char want[33], got[33];
	vz_coll_id id;
	uint64_t saves;
	vz_bm25_origin(m, &id, &saves);
	if (vz_id_is_set(&meta->id) && !vz_id_equal(&id, &meta->id)) {
		vz_id_hex(&meta->id, want);
		if (!vz_id_is_set(&id))
			return vz_fail(VZ_ECORRUPT, "%s: carries no collection id, metadata.json names %s (an older copy?)", path, want);
		vz_id_hex(&id, got);
		return vz_fail(VZ_ECORRUPT, "%s: belongs to collection %s, this is %s", path, got, want);
	}
	if (cache && vz_id_is_set(&meta->id) && saves != meta->generation)
		return vz_fail(VZ_ECORRUPT, "%s: generation %llu, metadata.json says %llu (%s)", path, (unsigned long long)saves,
			       (unsigned long long)meta->generation, saves < meta->generation ? "an older copy?" : "a newer copy?");
	if (!cache && saves < meta->terms_saves)
		return vz_fail(VZ_ECORRUPT, "%s: saved %llu times, metadata.json says %llu (an older copy?)", path,
			       (unsigned long long)saves, (unsigned long long)meta->terms_saves);
	return VZ_OK;
}

int vz_bm25_open_dir(const char *collection_dir, uint32_t dim, vz_bm25 **out)
{
	*out = NULL;
	char path[VZ_PATH_MAX];
	vz_meta meta;
	bool have_meta = vz_meta_read(collection_dir, &meta) == VZ_OK, cache = true;
	int rc = vz_path_fmt(path, sizeof path, "%s/cache.bin", collection_dir);
	if (rc) goto out;
	rc = vz_ws_cache_load_model(path, out);
	if (rc == VZ_ENOENT && have_meta && meta.workspace) {
		rc = vz_fail(VZ_ECORRUPT, "%s: missing (vz build --force makes it again)", path);
		goto out;
	}
	if (rc != VZ_ENOENT) goto check;
	cache = false;
	if ((rc = vz_path_fmt(path, sizeof path, "%s/terms.bin", collection_dir))) goto out;
	rc = vz_bm25_load(path, out);
	if (rc == VZ_ENOENT) {
		/* no text was ever saved, or the file was lost: metadata.json knows which */
		if (have_meta && meta.terms_saves > 0) {
			rc = vz_fail(VZ_ECORRUPT, "%s: missing, metadata.json says it was saved %llu times (vz recover makes it again)", path,
				     (unsigned long long)meta.terms_saves);
			goto out;
		}
		rc = vz_bm25_new(dim, out);
		if (!rc && have_meta) vz_bm25_set_origin(*out, &meta.id, 0);
		goto out;
	}
check:
	if (!rc && vz_bm25_dim(*out) != dim)
		rc = vz_fail(VZ_ECORRUPT, "%s: dimension %u, the collection has %u", path, vz_bm25_dim(*out), dim);
	if (!rc && have_meta) rc = check_origin(*out, &meta, path, cache);
	if (rc) {
		vz_bm25_free(*out);
		*out = NULL;
	}
out:
	if (have_meta) vz_meta_free(&meta);
	return rc;
}

int vz_embed_query(const char *collection_dir, const char *text, size_t len, float *out, uint32_t dim)
{
	vz_bm25 *m;
	int rc = vz_bm25_open_dir(collection_dir, dim, &m);
	if (rc) return rc;
	rc = vz_bm25_embed_query(m, text, len, out);
	vz_bm25_free(m);
	return rc;
}
