/* test_text_rows.c: the library's text rows and text queries (lib/text.c): texts are embedded with
 * the collection's model, counted in terms.bin once the rows are durable, given {"text": ...}
 * payloads; refused without an embedding or without terms, with nothing written. */
#include "t.h"

#include <sys/stat.h>

static vz_collection *open_new(const char *name, const char *embedding, uint32_t dim, char *dir)
{
	vz_config cfg;
	vz_config_defaults(&cfg);
	cfg.dim = dim;
	strcpy(cfg.embedding, embedding);
	CHECK_OK(vz_collection_create(t_dir(), name, &cfg));
	CHECK_OK(vz_collection_path(t_dir(), name, dir, 4096, NULL));
	vz_collection *c;
	CHECK_OK(vz_collection_open(dir, VZ_OPEN_WRITE, 1000, &c));
	return c;
}

static uint64_t live_rows(vz_collection *c)
{
	vz_collection_stats st;
	CHECK_OK(vz_collection_stats_get(c, &st));
	return st.live;
}

TEST(text_rows_embedded_counted_and_found)
{
	char dir[4096];
	vz_collection *c = open_new("notes", "bm25", 64, dir);
	const char *texts[3] = { "the lighthouse keeper climbs the stairs", NULL, "backups are verified before restore" };
	float v[64] = { 1 };
	vz_write w[3] = { { .op = VZ_WRITE_INSERT, .id = "keeper", .id_len = 6 },
			  { .op = VZ_WRITE_INSERT, .id = "vec", .id_len = 3, .vector = v, .dim = 64 },
			  { .op = VZ_WRITE_INSERT, .id = "backup", .id_len = 6, .payload = "{\"n\":1}", .payload_len = 7 } };
	vz_write_stats st;
	CHECK_OK(vz_collection_write_text(c, w, texts, 3, 0, 1, &st));
	CHECK_INT(st.inserted, 3);
	CHECK(st.terms_saved);
	CHECK(w[0].vector == NULL); /* the caller's rows are left as they were */

	/* a text row without a payload shows its text; one with a payload keeps it */
	vz_result r;
	const float *vec;
	CHECK_OK(vz_collection_get(c, "keeper", 6, &r, &vec));
	CHECK_INT(r.payload_len, strlen("{\"text\":\"the lighthouse keeper climbs the stairs\"}"));
	CHECK(!memcmp(r.payload, "{\"text\":\"the lighthouse keeper climbs the stairs\"}", r.payload_len));
	CHECK_OK(vz_collection_get(c, "backup", 6, &r, &vec));
	CHECK(r.payload_len == 7 && !memcmp(r.payload, "{\"n\":1}", 7));

	/* the text rows' vectors are the model's document vectors */
	vz_bm25 *m;
	char terms[4200];
	snprintf(terms, sizeof terms, "%s/terms.bin", dir);
	CHECK_OK(vz_bm25_load(terms, &m));
	CHECK_INT(vz_bm25_documents(m), 2);
	float want[64];
	CHECK_OK(vz_embed_text(m, texts[0], strlen(texts[0]), want));
	CHECK_OK(vz_collection_get(c, "keeper", 6, &r, &vec));
	for (int i = 0; i < 64; i++) CHECK(vec[i] == want[i]);
	vz_bm25_free(m);

	/* a query in words finds the row that has them */
	vz_result res[2];
	size_t n;
	CHECK_OK(vz_collection_query_text(c, "verified backups", 16, 2, 0, res, &n));
	CHECK(n >= 1);
	CHECK(res[0].id_len == 6 && !memcmp(res[0].id, "backup", 6));
	vz_collection_close(c);
}

TEST(text_rows_refused_leave_nothing_written)
{
	char dir[4096], plain[4096];
	/* no embedding: texts and text queries are refused */
	vz_collection *c = open_new("plain", "", 8, plain);
	const char *texts[1] = { "some words" };
	vz_write w[1] = { { .op = VZ_WRITE_INSERT, .id = "a", .id_len = 1 } };
	CHECK_INT(vz_collection_write_text(c, w, texts, 1, 0, 1, NULL), VZ_EINVAL);
	CHECK(strstr(vz_last_error(), "no built-in embedding"));
	CHECK_INT(live_rows(c), 0);
	vz_result res[1];
	size_t n = 9;
	CHECK_INT(vz_collection_query_text(c, "words", 5, 1, 0, res, &n), VZ_EINVAL);
	CHECK_INT(n, 0);
	vz_collection_close(c);

	/* a text without terms fails the whole transaction, and no frequency is counted */
	c = open_new("notes", "bm25", 32, dir);
	const char *two[2] = { "good words here", "!!! ... ???" };
	vz_write w2[2] = { { .op = VZ_WRITE_INSERT, .id = "a", .id_len = 1 }, { .op = VZ_WRITE_INSERT, .id = "b", .id_len = 1 } };
	CHECK_INT(vz_collection_write_text(c, w2, two, 2, 0, 1, NULL), VZ_EDATA);
	CHECK_INT(live_rows(c), 0);
	char terms[4200];
	struct stat sb;
	snprintf(terms, sizeof terms, "%s/terms.bin", dir);
	CHECK(stat(terms, &sb) != 0);
	CHECK_INT(vz_collection_query_text(c, "???", 3, 1, 0, res, &n), VZ_EDATA);

	/* a bad row beside the texts (an existing id) also leaves the frequencies alone */
	CHECK_OK(vz_collection_write_text(c, w2, two, 1, 0, 1, NULL));
	CHECK_INT(vz_collection_write_text(c, w2, two, 1, 0, 1, NULL), VZ_EEXIST);
	vz_bm25 *m;
	CHECK_OK(vz_bm25_load(terms, &m));
	CHECK_INT(vz_bm25_documents(m), 1);
	vz_bm25_free(m);
	CHECK_INT(live_rows(c), 1);
	vz_collection_close(c);
}
