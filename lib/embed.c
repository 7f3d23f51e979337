/* embed.c: the built-in text embedding (vz-workspace(5); terms.bin: vz-format(5)): BM25-weighted terms, feature-hashed
 * into the dimension with a fixed hash (XXH3 of the term: low bits pick the bucket, the top bit
 * the sign), L2-normalised.
 *
 * The split between the two sides is what makes incremental builds exact: a document (chunk)
 * vector carries only its BM25 term-frequency saturation (k1 1.2, b 0.75 against a fixed
 * reference length), so it never depends on the rest of the corpus; the query vector carries
 * the idf of each of its terms, computed from the document frequencies persisted with the
 * collection. Their dot product is then the BM25 sum over shared terms (up to hashing and the
 * normalisation of cosine). */
#include "ws_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BM25_K1 1.2
#define BM25_B 0.75
/* Reference document length in terms for the b normalisation (a 2 KB chunk holds about 300). */
#define BM25_REF_LEN 256.0
#define TERMS_VERSION 2 /* 1, still read, carries no collection id */


static void count_term(void *ctx, uint64_t h)
{
	vz_term_map *m = ctx;
	if (m->failed) return;
	uint32_t *v = vz_term_slot(m, h);
	if (v && *v < UINT32_MAX) (*v)++;
}

/* The term frequencies of text; the number of terms in *total. */
static int term_counts(const char *text, size_t len, vz_term_map *m, size_t *total)
{
	memset(m, 0, sizeof *m);
	vz_terms_each(text, len, count_term, m);
	if (m->failed) {
		vz_term_map_free(m);
		return VZ_ENOMEM;
	}
	*total = 0;
	for (size_t i = 0; i < m->cap; i++) *total += m->vals[i];
	return VZ_OK;
}

/* ---- the model: dimension and document frequencies ---- */

struct vz_bm25 {
	uint32_t dim;
	uint32_t native; /* a native model's code (embed_native.c), 0 for bm25 */
	uint64_t documents;
	vz_term_map df;
	vz_coll_id id;  /* the collection it belongs to (zero: unknown) */
	uint64_t saves; /* terms.bin: how many times it was saved; cache.bin: its generation */
};

void vz_bm25_set_origin(vz_bm25 *m, const vz_coll_id *id, uint64_t saves)
{
	m->id = *id;
	m->saves = saves;
}

void vz_bm25_origin(const vz_bm25 *m, vz_coll_id *id, uint64_t *saves)
{
	*id = m->id;
	*saves = m->saves;
}

int vz_bm25_new(uint32_t dim, vz_bm25 **out)
{
	*out = NULL;
	if (dim < 1 || dim > VZ_MAX_DIM) return vz_fail(VZ_EINVAL, "bm25: dimension %u out of range 1..%u", dim, VZ_MAX_DIM);
	vz_bm25 *m = calloc(1, sizeof *m);
	if (!m) return vz_fail(VZ_ENOMEM, "out of memory");
	m->dim = dim;
	*out = m;
	return VZ_OK;
}

void vz_bm25_free(vz_bm25 *m)
{
	if (!m) return;
	vz_term_map_free(&m->df);
	free(m);
}

uint32_t vz_bm25_dim(const vz_bm25 *m) { return m->dim; }
void vz_bm25_set_native(vz_bm25 *m, uint32_t code) { m->native = code; }
uint64_t vz_bm25_documents(const vz_bm25 *m) { return m->documents; }

static int change_document(vz_bm25 *m, const char *text, size_t len, bool add)
{
	vz_term_map tf;
	size_t total;
	int rc = term_counts(text, len, &tf, &total);
	if (rc) return rc;
	for (size_t i = 0; i < tf.cap && !rc; i++) {
		if (!tf.keys[i]) continue;
		uint32_t *v = vz_term_slot(&m->df, tf.keys[i]);
		if (!v) rc = VZ_ENOMEM;
		else if (add && *v < UINT32_MAX) (*v)++;
		else if (!add && *v > 0) (*v)--;
	}
	vz_term_map_free(&tf);
	if (rc) return rc;
	if (add) m->documents++;
	else if (m->documents > 0) m->documents--;
	return VZ_OK;
}

int vz_bm25_add_document(vz_bm25 *m, const char *text, size_t len) { return change_document(m, text, len, true); }
int vz_bm25_remove_document(vz_bm25 *m, const char *text, size_t len) { return change_document(m, text, len, false); }

static void add_hashed(float *out, uint32_t dim, uint64_t h, double w)
{
	out[h % dim] += (float)((h >> 63) ? -w : w);
}

static int normalise(float *out, uint32_t dim, const char *what)
{
	double s = 0;
	for (uint32_t i = 0; i < dim; i++) s += (double)out[i] * out[i];
	if (s <= 0) return vz_fail(VZ_EDATA, "%s has no words to embed", what);
	float inv = (float)(1 / sqrt(s));
	for (uint32_t i = 0; i < dim; i++) out[i] *= inv;
	return VZ_OK;
}

/* The vector of text into out, and its distinct terms counted in *df when df is not NULL. */
static int embed_document(const vz_bm25 *m, const char *text, size_t len, float *out, vz_term_map *df)
{
	vz_term_map tf;
	size_t total;
	int rc;
	if (m->native) {
		if ((rc = vz_native_embed(m->native, m->dim, text, len, out)) || !df) return rc;
		if ((rc = term_counts(text, len, &tf, &total))) return rc;
	} else {
		memset(out, 0, m->dim * sizeof *out);
		if ((rc = term_counts(text, len, &tf, &total))) return rc;
		double norm_len = BM25_K1 * (1 - BM25_B + BM25_B * (double)total / BM25_REF_LEN);
		for (size_t i = 0; i < tf.cap; i++) {
			if (!tf.keys[i]) continue;
			double f = tf.vals[i];
			add_hashed(out, m->dim, tf.keys[i], f * (BM25_K1 + 1) / (f + norm_len));
		}
		rc = normalise(out, m->dim, "text");
	}
	for (size_t i = 0; i < tf.cap && df && !rc; i++) {
		if (!tf.keys[i]) continue;
		uint32_t *v = vz_term_slot(df, tf.keys[i]);
		if (!v) rc = VZ_ENOMEM;
		else if (*v < UINT32_MAX) (*v)++;
	}
	vz_term_map_free(&tf);
	return rc;
}

int vz_embed_text(const vz_bm25 *m, const char *text, size_t len, float *out) { return embed_document(m, text, len, out, NULL); }

int vz_embed_text_df(const vz_bm25 *m, const char *text, size_t len, float *out, vz_term_map *df)
{
	return embed_document(m, text, len, out, df);
}

int vz_bm25_add_df(vz_bm25 *m, const vz_term_map *df, uint64_t documents)
{
	for (size_t i = 0; i < df->cap; i++) {
		if (!df->keys[i]) continue;
		uint32_t *v = vz_term_slot(&m->df, df->keys[i]);
		if (!v) return VZ_ENOMEM;
		*v = df->vals[i] > UINT32_MAX - *v ? UINT32_MAX : *v + df->vals[i];
	}
	m->documents += documents;
	return VZ_OK;
}

double vz_bm25_idf(const vz_bm25 *m, uint64_t h)
{
	double n = (double)m->documents, df = vz_term_get(&m->df, h);
	if (df > n) df = n;
	return log(1 + (n - df + 0.5) / (df + 0.5));
}

int vz_bm25_embed_query(const vz_bm25 *m, const char *text, size_t len, float *out)
{
	if (m->native) return vz_native_embed(m->native, m->dim, text, len, out);
	memset(out, 0, m->dim * sizeof *out);
	vz_term_map tf;
	size_t total;
	int rc = term_counts(text, len, &tf, &total);
	if (rc) return rc;
	/* a term no document has can only match through a hash collision: it gets no weight,
	 * unless no term of the query is known at all (then every term counts the same) */
	bool known = false;
	for (size_t i = 0; i < tf.cap; i++)
		if (tf.keys[i] && vz_term_get(&m->df, tf.keys[i])) {
			add_hashed(out, m->dim, tf.keys[i], vz_bm25_idf(m, tf.keys[i]));
			known = true;
		}
	for (size_t i = 0; i < tf.cap && !known; i++)
		if (tf.keys[i]) add_hashed(out, m->dim, tf.keys[i], 1.0);
	vz_term_map_free(&tf);
	return normalise(out, m->dim, "query");
}

/* ---- persistence ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

int vz_bm25_encode(const vz_bm25 *m, vz_buf *b)
{
	size_t n = 0;
	uint64_t *keys = malloc((m->df.n ? m->df.n : 1) * sizeof *keys);
	if (!keys) return vz_fail(VZ_ENOMEM, "out of memory");
	for (size_t i = 0; i < m->df.cap; i++)
		if (m->df.keys[i] && m->df.vals[i]) keys[n++] = m->df.keys[i];
	qsort(keys, n, sizeof *keys, cmp_u64); /* sorted: the same table always encodes the same */
	int rc = vz_buf_u32(b, m->dim);
	if (!rc) rc = vz_buf_u32(b, m->native);
	if (!rc) rc = vz_buf_u64(b, m->documents);
	if (!rc) rc = vz_buf_u64(b, n);
	for (size_t i = 0; i < n && !rc; i++) {
		rc = vz_buf_u64(b, keys[i]);
		if (!rc) rc = vz_buf_u32(b, vz_term_get(&m->df, keys[i]));
	}
	free(keys);
	return rc;
}

int vz_rd_bytes(vz_reader *r, size_t n, const unsigned char **out)
{
	if (n > r->left) return vz_fail(VZ_ECORRUPT, "offset %zu: %zu bytes wanted, %zu left", r->offset, n, r->left);
	*out = r->p;
	r->p += n;
	r->left -= n;
	r->offset += n;
	return VZ_OK;
}

int vz_rd_u32(vz_reader *r, uint32_t *v)
{
	const unsigned char *p = NULL;
	int rc = vz_rd_bytes(r, 4, &p);
	if (!rc) *v = vz_load_u32(p);
	return rc;
}

int vz_rd_u64(vz_reader *r, uint64_t *v)
{
	const unsigned char *p = NULL;
	int rc = vz_rd_bytes(r, 8, &p);
	if (!rc) *v = vz_load_u64(p);
	return rc;
}

int vz_bm25_decode(vz_reader *r, vz_bm25 **out)
{
	uint32_t dim, zero;
	uint64_t docs, n;
	*out = NULL;
	size_t at = r->offset;
	int rc = vz_rd_u32(r, &dim);
	if (!rc) rc = vz_rd_u32(r, &zero);
	if (!rc) rc = vz_rd_u64(r, &docs);
	if (!rc) rc = vz_rd_u64(r, &n);
	if (rc) return rc;
	if (dim < 1 || dim > VZ_MAX_DIM) return vz_fail(VZ_ECORRUPT, "offset %zu: dimension %u out of range", at, dim);
	if (zero && !vz_native_valid(zero)) return vz_fail(VZ_ECORRUPT, "offset %zu: unknown embedding model %#x", at + 4, zero);
	if (n > r->left / 12) return vz_fail(VZ_ECORRUPT, "offset %zu: %llu terms do not fit in %zu bytes", at + 16, (unsigned long long)n, r->left);
	vz_bm25 *m;
	if ((rc = vz_bm25_new(dim, &m))) return rc;
	m->documents = docs;
	m->native = zero;
	uint64_t prev = 0;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t h;
		uint32_t df;
		size_t here = r->offset;
		if ((rc = vz_rd_u64(r, &h)) || (rc = vz_rd_u32(r, &df))) break;
		if (i > 0 && h <= prev) {
			rc = vz_fail(VZ_ECORRUPT, "offset %zu: term table not sorted", here);
			break;
		}
		prev = h;
		uint32_t *v = vz_term_slot(&m->df, h);
		if (!v) {
			rc = VZ_ENOMEM;
			break;
		}
		*v = df;
	}
	if (rc) {
		vz_bm25_free(m);
		return rc;
	}
	*out = m;
	return VZ_OK;
}

int vz_bm25_save(const vz_bm25 *m, const char *path)
{
	vz_buf body = { 0 };
	int rc = vz_bm25_encode(m, &body);
	/* generation: the save count, so that an older copy is told apart (metadata.json keeps the
	 * count at each checkpoint); aux and aux2: the collection id */
	vz_file_header h = { .version = TERMS_VERSION, .generation = m->saves + 1 };
	vz_id_to_words(&m->id, &h.aux, &h.aux2);
	memcpy(h.magic, VZ_MAGIC_TERMS, 8);
	if (!rc) rc = vz_write_checked_file(path, &h, body.data, body.len);
	vz_buf_free(&body);
	return rc;
}

/* Checks a whole file's header and body checksum; r gets the body. */
int vz_ws_open_body(const vz_map *map, const char *magic, uint32_t version, vz_file_header *h, vz_reader *r)
{
	int rc = vz_header_decode(map->data, map->size, magic, version, h);
	if (rc) return rc;
	if (h->body_length != map->size - VZ_HEADER_SIZE)
		return vz_fail(VZ_ECORRUPT, "offset 24: body length %llu, file has %zu", (unsigned long long)h->body_length, map->size - VZ_HEADER_SIZE);
	if (vz_hash64(map->data + VZ_HEADER_SIZE, map->size - VZ_HEADER_SIZE) != h->body_checksum)
		return vz_fail(VZ_ECORRUPT, "offset 32: body checksum mismatch");
	*r = (vz_reader){ .p = map->data + VZ_HEADER_SIZE, .left = map->size - VZ_HEADER_SIZE, .offset = VZ_HEADER_SIZE };
	return VZ_OK;
}

int vz_bm25_load(const char *path, vz_bm25 **out)
{
	*out = NULL;
	vz_map map;
	int rc = vz_map_file(path, &map);
	if (rc) return rc;
	vz_file_header h;
	vz_reader r;
	rc = vz_ws_open_body(&map, VZ_MAGIC_TERMS, TERMS_VERSION, &h, &r);
	if (!rc) rc = vz_bm25_decode(&r, out);
	if (!rc) {
		vz_header_id(&h, &(*out)->id);
		(*out)->saves = h.generation;
	}
	if (!rc && r.left) {
		vz_bm25_free(*out);
		*out = NULL;
		rc = vz_fail(VZ_ECORRUPT, "offset %zu: trailing bytes", r.offset);
	}
	vz_unmap(&map);
	if (rc) vz_fail_prefix(rc, "%s: ", path);
	return rc;
}

int vz_bm25_save_dir(const vz_bm25 *m, const char *collection_dir)
{
	char path[VZ_PATH_MAX];
	int rc = vz_path_fmt(path, sizeof path, "%s/terms.bin", collection_dir);
	if (rc) return rc;
	if (vz_id_is_set(&m->id)) return vz_bm25_save(m, path);
	/* a table made without the collection's identity takes it from metadata.json */
	vz_meta meta;
	if ((rc = vz_meta_read(collection_dir, &meta))) return rc == VZ_ENOENT ? vz_bm25_save(m, path) : rc;
	vz_bm25 copy = *m;
	copy.id = meta.id;
	vz_meta_free(&meta);
	return vz_bm25_save(&copy, path);
}
