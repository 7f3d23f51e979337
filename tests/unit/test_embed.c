/* test_embed.c: the built-in BM25 embedding, terms.bin, and chunk boundaries. */
#include "t.h"

#include <math.h>

#include "../../lib/ws_internal.h"

static double norm(const float *v, uint32_t dim)
{
	double s = 0;
	for (uint32_t i = 0; i < dim; i++) s += (double)v[i] * v[i];
	return sqrt(s);
}

static double dot(const float *a, const float *b, uint32_t dim)
{
	double s = 0;
	for (uint32_t i = 0; i < dim; i++) s += (double)a[i] * b[i];
	return s;
}

TEST(embed_document_normalised_and_deterministic)
{
	vz_bm25 *m;
	CHECK_OK(vz_bm25_new(128, &m));
	float a[128], b[128];
	const char *t = "The Quick brown fox jumps over the lazy dog";
	CHECK_OK(vz_embed_text(m, t, strlen(t), a));
	CHECK(fabs(norm(a, 128) - 1) < 1e-5);
	/* case and stemming: the same terms give the same vector */
	const char *u = "the quick BROWN fox jump over the lazy dogs";
	CHECK_OK(vz_embed_text(m, u, strlen(u), b));
	CHECK(dot(a, b, 128) > 0.999);
	CHECK_INT(vz_embed_text(m, "!!! ... ?", 9, a), VZ_EDATA);
	CHECK_INT(vz_bm25_embed_query(m, "", 0, a), VZ_EDATA);
	vz_bm25_free(m);
	CHECK_INT(vz_bm25_new(0, &m), VZ_EINVAL);
}

TEST(embed_idf_prefers_rare_terms)
{
	vz_bm25 *m;
	CHECK_OK(vz_bm25_new(256, &m));
	const char *docs[] = { "common words everywhere zebra", "common words everywhere", "common words here",
			       "common words there", "common words again lighthouse" };
	float v[5][256], q[256];
	for (int i = 0; i < 5; i++) {
		CHECK_OK(vz_bm25_add_document(m, docs[i], strlen(docs[i])));
		CHECK_OK(vz_embed_text(m, docs[i], strlen(docs[i]), v[i]));
	}
	CHECK_INT(vz_bm25_documents(m), 5);
	/* "common" is in every document, "zebra" in one: the query finds the zebra document */
	CHECK_OK(vz_bm25_embed_query(m, "common zebra", 12, q));
	int best = 0;
	for (int i = 1; i < 5; i++)
		if (dot(q, v[i], 256) > dot(q, v[best], 256)) best = i;
	CHECK_INT(best, 0);
	CHECK(vz_bm25_idf(m, 0) > 0);
	CHECK_OK(vz_bm25_remove_document(m, docs[0], strlen(docs[0])));
	CHECK_INT(vz_bm25_documents(m), 4);
	vz_bm25_free(m);
}

TEST(embed_terms_file_roundtrip_and_damage)
{
	vz_bm25 *m, *back;
	CHECK_OK(vz_bm25_new(64, &m));
	CHECK_OK(vz_bm25_add_document(m, "alpha beta gamma", 16));
	CHECK_OK(vz_bm25_add_document(m, "alpha delta", 11));
	CHECK_OK(vz_bm25_save(m, "terms.bin"));
	CHECK_OK(vz_bm25_load("terms.bin", &back));
	CHECK_INT(vz_bm25_dim(back), 64);
	CHECK_INT(vz_bm25_documents(back), 2);
	float a[64], b[64];
	CHECK_OK(vz_bm25_embed_query(m, "alpha delta", 11, a));
	CHECK_OK(vz_bm25_embed_query(back, "alpha delta", 11, b));
	CHECK(!memcmp(a, b, sizeof a));
	vz_bm25_free(back);
	/* the same table encodes the same bytes */
	CHECK_OK(vz_bm25_save(m, "again.bin"));
	CHECK_INT(t_sh("cmp -s terms.bin again.bin"), 0);
	vz_bm25_free(m);
	size_t len;
	char *data = t_slurp("terms.bin", &len);
	data[len - 3] ^= 1; /* a flipped body byte */
	t_write("bad.bin", data, len);
	CHECK_INT(vz_bm25_load("bad.bin", &back), VZ_ECORRUPT);
	data[len - 3] ^= 1;
	t_write("short.bin", data, len - 5); /* truncated */
	CHECK_INT(vz_bm25_load("short.bin", &back), VZ_ECORRUPT);
	t_write("tiny.bin", data, 10);
	CHECK_INT(vz_bm25_load("tiny.bin", &back), VZ_ECORRUPT);
	free(data);
	CHECK_INT(vz_bm25_load("missing.bin", &back), VZ_ENOENT);
	/* a collection directory without a table gives an empty model of its dimension */
	CHECK_OK(vz_bm25_open_dir(".", 64, &back)); /* terms.bin is here */
	CHECK_INT(vz_bm25_documents(back), 2);
	vz_bm25_free(back);
	CHECK_INT(vz_bm25_open_dir(".", 32, &back), VZ_ECORRUPT);
	CHECK_OK(vz_bm25_open_dir("/nonexistent-dir", 32, &back));
	CHECK_INT(vz_bm25_documents(back), 0);
	vz_bm25_free(back);
	/* a dynamic collection's table: add, save, reopen */
	CHECK_INT(t_sh("mkdir coll"), 0);
	CHECK_OK(vz_bm25_open_dir("coll", 16, &back));
	CHECK_OK(vz_bm25_add_document(back, "one text", 8));
	CHECK_OK(vz_bm25_save_dir(back, "coll"));
	vz_bm25_free(back);
	CHECK_OK(vz_bm25_open_dir("coll", 16, &back));
	CHECK_INT(vz_bm25_documents(back), 1);
	vz_bm25_free(back);
}

static void check_chunks(const char *t, uint32_t size, uint32_t overlap)
{
	size_t len = strlen(t), n;
	vz_ws_span *s;
	CHECK_OK(vz_ws_chunks(t, len, size, overlap, &s, &n));
	if (!len) { /* nothing to chunk */
		CHECK_INT(n, 0);
		free(s);
		return;
	}
	CHECK(n >= 1);
	CHECK_INT(s[0].start, 0);
	CHECK_INT(s[n - 1].end, len);
	for (size_t i = 0; i < n; i++) {
		CHECK(s[i].end > s[i].start);
		CHECK(s[i].end - s[i].start <= size);
		/* never inside a UTF-8 character */
		CHECK(s[i].start == len || ((unsigned char)t[s[i].start] & 0xC0) != 0x80);
		CHECK(s[i].end == len || ((unsigned char)t[s[i].end] & 0xC0) != 0x80);
		if (i) {
			CHECK(s[i].start > s[i - 1].start);
			CHECK(s[i].start <= s[i - 1].end); /* covered without gaps */
		}
	}
	free(s);
}

TEST(embed_chunks_utf8_safe_and_overlapping)
{
	check_chunks("short", 64, 8);
	check_chunks("", 64, 8);
	char buf[4096] = "";
	for (int i = 0; i < 60; i++) strcat(buf, "Ünïcödé wörds — ");
	check_chunks(buf, 64, 16);
	char nospace[3000];
	for (int i = 0; i < 999; i++) memcpy(nospace + 3 * i, "\xe2\x82\xac", 3); /* euro signs, no spaces */
	nospace[2997] = 0;
	check_chunks(nospace, 64, 10);
	const char *sent = "First sentence here. Second sentence there. Third one is longer than the others are.";
	size_t n;
	vz_ws_span *s;
	CHECK_OK(vz_ws_chunks(sent, strlen(sent), 50, 0, &s, &n));
	CHECK_INT(s[0].end, 44); /* after "there. " */
	free(s);
}

/* The df counts taken while embedding (vz_embed_text_df, per file, then vz_bm25_add_df) make
 * the same table as vz_bm25_add_document of each chunk, and the same vectors as vz_embed_text;
 * a chunk with no words counts nothing. */
TEST(embed_df_while_embedding_same_table)
{
	static const char *const chunks[] = { "Replaying the log: replayed records, replays", "the log of a database and its log files",
					      "!!! ---", "zeppelin" };
	for (uint32_t native = 0; native < 2; native++) {
		vz_bm25 *a, *b;
		CHECK_OK(vz_bm25_new(64, &a));
		CHECK_OK(vz_bm25_new(64, &b));
		if (native) { /* a native model embeds its own way; its df table counts the same terms */
			vz_bm25_set_native(a, vz_native_code("native_bow", 0, 0));
			vz_bm25_set_native(b, vz_native_code("native_bow", 0, 0));
		}
		vz_term_map file = { 0 };
		uint64_t docs = 0;
		for (int i = 0; i < 4; i++) {
			float va[64], vb[64];
			int ra = vz_embed_text(a, chunks[i], strlen(chunks[i]), va);
			int rb = vz_embed_text_df(b, chunks[i], strlen(chunks[i]), vb, &file);
			CHECK_INT(rb, ra);
			if (ra) {
				CHECK_INT(ra, VZ_EDATA);
				continue;
			}
			CHECK(!memcmp(va, vb, sizeof va));
			CHECK_OK(vz_bm25_add_document(a, chunks[i], strlen(chunks[i])));
			docs++;
		}
		CHECK_INT(docs, 3);
		CHECK_OK(vz_bm25_add_df(b, &file, docs));
		vz_term_map_free(&file);
		vz_buf ea = { 0 }, eb = { 0 };
		CHECK_OK(vz_bm25_encode(a, &ea));
		CHECK_OK(vz_bm25_encode(b, &eb));
		CHECK(ea.len == eb.len && !memcmp(ea.data, eb.data, ea.len));
		CHECK_INT(vz_bm25_documents(b), 3);
		CHECK(vz_bm25_idf(b, 1) > vz_bm25_idf(b, vz_hash64("log", 3))); /* "log" is in two of three */
		vz_buf_free(&ea);
		vz_buf_free(&eb);
		vz_bm25_free(a);
		vz_bm25_free(b);
	}
}
