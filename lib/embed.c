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
#define TERM_MAX 64
#define TERMS_VERSION 2 /* 1, still read, carries no collection id */

/* ---- tokenizer ---- */

static bool word_byte(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

/* A light suffix strip so that "replaying", "replayed" and "replays" meet "replay". */
static size_t stem(const char *t, size_t n)
{
	if (n > 5 && !memcmp(t + n - 3, "ing", 3)) return n - 3;
	if (n > 4 && !memcmp(t + n - 2, "ed", 2)) return n - 2;
	if (n > 4 && !memcmp(t + n - 2, "es", 2) && (t[n - 3] == 's' || t[n - 3] == 'x' || t[n - 3] == 'h')) return n - 2;
	if (n > 3 && t[n - 1] == 's' && t[n - 2] != 's') return n - 1;
	return n;
}

/* The most frequent English function words. They occur in nearly every chunk, so their idf is
 * near zero, but on the document side (which has no idf) they would take most of each vector's
 * weight and, hashed into the same buckets as meaningful terms, blur them. */
static bool stopword(const char *t, size_t n)
{
	/* by length, each list its words back to back (a linear scan with strlen per word took a
	 * sixth of an incremental build) */
	static const char *const by_len[6] = { "", "", "anasatbebyifinisitofonortowe", "andareforhasitsthewasnotbutcanmayyou",
		"fromhaveintothatthenthiswerewillwithwhenyour", "theirtherethesewhich" };
	if (n < 2 || n > 5) return false;
	for (const char *w = by_len[n]; *w; w += n)
		if (w[0] == t[0] && !memcmp(w, t, n)) return true;
	return false;
}

void vz_terms_each(const char *text, size_t len, void (*fn)(void *ctx, uint64_t h), void *ctx)
{
	size_t i = 0;
	while (i < len) {
		while (i < len && !word_byte((unsigned char)text[i])) i++;
		size_t start = i;
		while (i < len && word_byte((unsigned char)text[i])) i++;
		size_t n = i - start;
		if (n < 2 || n > TERM_MAX) continue; /* single letters and long blobs carry no meaning */
		char term[TERM_MAX];
		for (size_t k = 0; k < n; k++) {
			char c = text[start + k];
			term[k] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
		}
		if (stopword(term, n)) continue;
		fn(ctx, vz_hash64(term, stem(term, n)));
	}
}

/* ---- a small open-addressing map from term hash to count ---- */

typedef struct term_map {
	uint64_t *keys; /* 0 marks an empty slot (a zero hash is remapped to 1) */
	uint32_t *vals;
	size_t cap, n;
	bool failed;
} term_map;

static uint64_t key_of(uint64_t h) { return h ? h : 1; }

static int map_grow(term_map *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	uint64_t *keys = calloc(cap, sizeof *keys);
	uint32_t *vals = calloc(cap, sizeof *vals);
	if (!keys || !vals) {
		free(keys);
		free(vals);
		m->failed = true;
		return vz_fail(VZ_ENOMEM, "out of memory (term table of %zu)", cap);
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->keys[i]) continue;
		size_t j = m->keys[i] & (cap - 1);
		while (keys[j]) j = (j + 1) & (cap - 1);
		keys[j] = m->keys[i];
		vals[j] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = keys;
	m->vals = vals;
	m->cap = cap;
	return VZ_OK;
}

/* The slot of key h, inserting it (count 0) when absent; NULL on out of memory. */
static uint32_t *map_slot(term_map *m, uint64_t h)
{
	h = key_of(h);
	if ((m->n + 1) * 2 > m->cap && map_grow(m)) return NULL;
	size_t j = h & (m->cap - 1);
	while (m->keys[j] && m->keys[j] != h) j = (j + 1) & (m->cap - 1);
	if (!m->keys[j]) {
		m->keys[j] = h;
		m->n++;
	}
	return &m->vals[j];
}

static uint32_t map_get(const term_map *m, uint64_t h)
{
	if (!m->cap) return 0;
	h = key_of(h);
	size_t j = h & (m->cap - 1);
	while (m->keys[j]) {
		if (m->keys[j] == h) return m->vals[j];
		j = (j + 1) & (m->cap - 1);
	}
	return 0;
}

static void map_free(term_map *m)
{
	free(m->keys);
	free(m->vals);
	memset(m, 0, sizeof *m);
}

static void count_term(void *ctx, uint64_t h)
{
	term_map *m = ctx;
	if (m->failed) return;
	uint32_t *v = map_slot(m, h);
	if (v && *v < UINT32_MAX) (*v)++;
}

/* The term frequencies of text; the number of terms in *total. */
static int term_counts(const char *text, size_t len, term_map *m, size_t *total)
{
	memset(m, 0, sizeof *m);
	vz_terms_each(text, len, count_term, m);
	if (m->failed) {
		map_free(m);
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
	term_map df;
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
	map_free(&m->df);
	free(m);
}

uint32_t vz_bm25_dim(const vz_bm25 *m) { return m->dim; }
void vz_bm25_set_native(vz_bm25 *m, uint32_t code) { m->native = code; }
uint64_t vz_bm25_documents(const vz_bm25 *m) { return m->documents; }

static int change_document(vz_bm25 *m, const char *text, size_t len, bool add)
{
	term_map tf;
	size_t total;
	int rc = term_counts(text, len, &tf, &total);
	if (rc) return rc;
	for (size_t i = 0; i < tf.cap && !rc; i++) {
		if (!tf.keys[i]) continue;
		uint32_t *v = map_slot(&m->df, tf.keys[i]);
		if (!v) rc = VZ_ENOMEM;
		else if (add && *v < UINT32_MAX) (*v)++;
		else if (!add && *v > 0) (*v)--;
	}
	map_free(&tf);
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

int vz_embed_text(const vz_bm25 *m, const char *text, size_t len, float *out)
{
	if (m->native) return vz_native_embed(m->native, m->dim, text, len, out);
	memset(out, 0, m->dim * sizeof *out);
	term_map tf;
	size_t total;
	int rc = term_counts(text, len, &tf, &total);
	if (rc) return rc;
	double norm_len = BM25_K1 * (1 - BM25_B + BM25_B * (double)total / BM25_REF_LEN);
	for (size_t i = 0; i < tf.cap; i++) {
		if (!tf.keys[i]) continue;
		double f = tf.vals[i];
		add_hashed(out, m->dim, tf.keys[i], f * (BM25_K1 + 1) / (f + norm_len));
	}
	map_free(&tf);
	return normalise(out, m->dim, "text");
}

double vz_bm25_idf(const vz_bm25 *m, uint64_t h)
{
	double n = (double)m->documents, df = map_get(&m->df, h);
	if (df > n) df = n;
	return log(1 + (n - df + 0.5) / (df + 0.5));
}

int vz_bm25_embed_query(const vz_bm25 *m, const char *text, size_t len, float *out)
{
	if (m->native) return vz_native_embed(m->native, m->dim, text, len, out);
	memset(out, 0, m->dim * sizeof *out);
	term_map tf;
	size_t total;
	int rc = term_counts(text, len, &tf, &total);
	if (rc) return rc;
	/* a term no document has can only match through a hash collision: it gets no weight,
	 * unless no term of the query is known at all (then every term counts the same) */
	bool known = false;
	for (size_t i = 0; i < tf.cap; i++)
		if (tf.keys[i] && map_get(&m->df, tf.keys[i])) {
			add_hashed(out, m->dim, tf.keys[i], vz_bm25_idf(m, tf.keys[i]));
			known = true;
		}
	for (size_t i = 0; i < tf.cap && !known; i++)
		if (tf.keys[i]) add_hashed(out, m->dim, tf.keys[i], 1.0);
	map_free(&tf);
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
		if (!rc) rc = vz_buf_u32(b, map_get(&m->df, keys[i]));
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
		uint32_t *v = map_slot(&m->df, h);
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

/* Checks that the table m read from path belongs to the collection of metadata.json: its id,
 * and the generation (cache.bin) or a save count no lower than the checkpoint's (terms.bin). */
static int check_origin(const vz_bm25 *m, const vz_meta *meta, const char *path, bool cache)
{
	char want[33], got[33];
	if (vz_id_is_set(&meta->id) && !vz_id_equal(&m->id, &meta->id)) {
		vz_id_hex(&meta->id, want);
		if (!vz_id_is_set(&m->id))
			return vz_fail(VZ_ECORRUPT, "%s: carries no collection id, metadata.json names %s (an older copy?)", path, want);
		vz_id_hex(&m->id, got);
		return vz_fail(VZ_ECORRUPT, "%s: belongs to collection %s, this is %s", path, got, want);
	}
	if (cache && vz_id_is_set(&meta->id) && m->saves != meta->generation)
		return vz_fail(VZ_ECORRUPT, "%s: generation %llu, metadata.json says %llu (%s)", path, (unsigned long long)m->saves,
			       (unsigned long long)meta->generation, m->saves < meta->generation ? "an older copy?" : "a newer copy?");
	if (!cache && m->saves < meta->terms_saves)
		return vz_fail(VZ_ECORRUPT, "%s: saved %llu times, metadata.json says %llu (an older copy?)", path,
			       (unsigned long long)m->saves, (unsigned long long)meta->terms_saves);
	return VZ_OK;
}

int vz_bm25_open_dir(const char *collection_dir, uint32_t dim, vz_bm25 **out)
{
	*out = NULL;
	char path[4096];
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
		if (!rc && have_meta) (*out)->id = meta.id;
		goto out;
	}
check:
	if (!rc && (*out)->dim != dim)
		rc = vz_fail(VZ_ECORRUPT, "%s: dimension %u, the collection has %u", path, (*out)->dim, dim);
	if (!rc && have_meta) rc = check_origin(*out, &meta, path, cache);
	if (rc) {
		vz_bm25_free(*out);
		*out = NULL;
	}
out:
	if (have_meta) vz_meta_free(&meta);
	return rc;
}

int vz_bm25_save_dir(const vz_bm25 *m, const char *collection_dir)
{
	char path[4096];
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

int vz_embed_query(const char *collection_dir, const char *text, size_t len, float *out, uint32_t dim)
{
	vz_bm25 *m;
	int rc = vz_bm25_open_dir(collection_dir, dim, &m);
	if (rc) return rc;
	rc = vz_bm25_embed_query(m, text, len, out);
	vz_bm25_free(m);
	return rc;
}
