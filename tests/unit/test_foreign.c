/* test_foreign.c: reading the export forms of other engines back (lib/foreign.c): each form as
 * the engine would hand it back, with the configuration from its definition when vz.json is
 * missing, and hostile directories refused with the file and row named. */
#include "t.h"

#include <sys/stat.h>

static void put(const char *dir, const char *name, const char *text)
{
	char path[512];
	mkdir(dir, 0777);
	snprintf(path, sizeof path, "%s/%s", dir, name);
	t_write(path, text, strlen(text));
}

TEST(export_target_and_metric_names)
{
	enum vz_export_target t;
	CHECK_OK(vz_export_target_parse("pgvector", &t));
	CHECK_INT(t, VZ_TO_PGVECTOR);
	CHECK_INT(vz_export_target_parse("weaviate", &t), VZ_EINVAL);
	CHECK_STR(vz_export_metric(VZ_TO_LANCEDB, VZ_METRIC_EUCLIDEAN), "l2");
	CHECK_STR(vz_export_metric(VZ_TO_QDRANT, VZ_METRIC_EUCLIDEAN), "Euclid");
	CHECK_STR(vz_export_metric(VZ_TO_MILVUS, VZ_METRIC_DOT), "IP");
	CHECK_STR(vz_export_metric(VZ_TO_PGVECTOR, VZ_METRIC_COSINE), "vector_cosine_ops");
	CHECK_STR(vz_export_definition_file(VZ_TO_QDRANT), "collection.json");
}

TEST(each_form_reads_back_without_vz_json)
{
	put("l", "table.json", "{\"name\":\"t\",\"vector_column\":\"vector\",\"dim\":2,\"distance_type\":\"dot\"}\n");
	put("l", "rows.jsonl", "{\"id\":\"a\\\"b\",\"vector\":[0.1,-2],\"payload\":\"{\\\"k\\\": [1, 2.50]}\"}\n"
			       "{\"id\":\"\\u00e9\",\"vector\":[3,4],\"payload\":null}\n");
	put("q", "collection.json", "{\"vectors\":{\"size\":2,\"distance\":\"Euclid\"}}");
	put("q", "points-000001.json", "{\"points\":[{\"id\":\"0e3a\",\"vector\":[0.1,-2],\"payload\":{\"vz_id\":\"a\\\"b\",\"vz_payload\":{\"k\": [1, 2.50]}}}]}");
	put("q", "points-000002.json", "{ \"points\" : [ {\"payload\":{\"vz_id\":\"\\u00e9\"},\"vector\":[3,4],\"id\":7} ] }\n");
	put("m", "schema.json", "{\"schema\":{\"fields\":[{\"fieldName\":\"id\"},{\"fieldName\":\"vector\",\"elementTypeParams\":{\"dim\":2}}]},"
				"\"indexParams\":[{\"metricType\":\"COSINE\"}]}");
	put("m", "rows.json", "{\"rows\":[{\"id\":\"a\\\"b\",\"vector\":[0.1,-2],\"payload\":{\"k\": [1, 2.50]}},\n{\"id\":\"\\u00e9\",\"vector\":[3,4],\"payload\":null}]}");
	put("p", "schema.sql", "CREATE TABLE t (id text PRIMARY KEY, embedding vector(2) NOT NULL, payload jsonb);\n"
			       "CREATE INDEX ON t USING hnsw (embedding vector_l2_ops);\n");
	put("p", "rows.csv", "id,embedding,payload\r\n\"a\"\"b\",\"[0.1,-2]\",\"{\"\"k\"\": [1, 2.50]}\"\r\n\xc3\xa9,\"[3,4]\",\r\n");
	static const char *const dirs[] = { "l", "q", "m", "p" };
	static const enum vz_metric metrics[] = { VZ_METRIC_DOT, VZ_METRIC_EUCLIDEAN, VZ_METRIC_COSINE, VZ_METRIC_EUCLIDEAN };
	for (int i = 0; i < 4; i++) {
		vz_config cfg;
		vz_batch b;
		CHECK_OK(vz_export_read(dirs[i], &cfg, &b));
		CHECK_INT(cfg.dim, 2);
		CHECK_INT(cfg.metric, metrics[i]);
		CHECK_INT(cfg.m, 16);
		CHECK_INT(b.n, 2);
		CHECK_STR(b.ids[0], "a\"b");
		CHECK_STR(b.ids[1], "\xc3\xa9");
		CHECK(b.payloads[0] && b.payload_lens[0] == 16 && !memcmp(b.payloads[0], "{\"k\": [1, 2.50]}", 16));
		CHECK(!b.payloads[1]);
		CHECK(vz_batch_row(&b, 0)[0] == 0.1f && vz_batch_row(&b, 0)[1] == -2.0f && vz_batch_row(&b, 1)[1] == 4.0f);
		vz_batch_free(&b);
	}
}

/* expect DIR fails with err and a message holding want */
static void refused(const char *dir, int err, const char *want)
{
	vz_config cfg;
	vz_batch b;
	int rc = vz_export_read(dir, &cfg, &b);
	if (rc != err || !strstr(vz_last_error(), want))
		t_fail(__FILE__, __LINE__, "%s: got %d '%s', want %d '%s'", dir, rc, vz_last_error(), err, want);
}

TEST(hostile_export_directories_are_refused_naming_file_and_row)
{
	refused("none", VZ_ENOENT, "not an export directory");
	put("a", "table.json", "{\"dim\":2,\"distance_type\":\"hamming\"}");
	refused("a", VZ_EDATA, "a/table.json: metric \"hamming\" is not one of cosine, l2, dot");
	put("b", "table.json", "{\"dim\":2,\"distance_type\":\"l2\"}");
	put("b", "rows.jsonl", "{\"id\":\"x\",\"vector\":[1,2]}\n{\"id\":\"y\",\"vector\":[1,2],\"payload\":{\"raw\":1}}\n");
	refused("b", VZ_EDATA, "b/rows.jsonl: row 2: \"payload\" must be a JSON string");
	put("b", "rows.jsonl", "{\"id\":\"x\",\"vector\":[1,2]} trailing\n");
	refused("b", VZ_EDATA, "b/rows.jsonl: row 1: trailing characters");
	put("b", "rows.jsonl", "{\"id\":\"x\",\"vector\":[1,2],\"id\":\"y\"}\n");
	refused("b", VZ_EDATA, "row 1: unknown or repeated key");
	put("b", "rows.jsonl", "{\"id\":\"x\",\"vector\":[[[[[[[[1,2]]]]]]]]}\n{\"id\":\"x\",\"vector\":[1,\"2\"]}\n");
	refused("b", VZ_EDATA, "b/rows.jsonl: row 1:");
	put("b", "vz.json", "{\"vz_dump\":1,\"config\":{\"dim\":3,\"metric\":\"euclidean\",\"m\":16,\"ef_construction\":200,\"ef_search\":64,"
			    "\"quantization\":\"none\",\"embedding\":\"\",\"checkpoint_ops\":1000,\"checkpoint_seconds\":300}}\n");
	refused("b", VZ_EDATA, "disagree with b/table.json");
	put("c", "collection.json", "{\"vectors\":{\"size\":2,\"distance\":\"Dot\"}}");
	put("c", "points-000001.json", "{\"points\":[{\"id\":1,\"vector\":[1,2],\"payload\":{\"city\":\"x\"}}]}");
	refused("c", VZ_EDATA, "c/points-000001.json: row 1: unknown or repeated key in \"payload\"");
	put("c", "points-000001.json", "{\"points\":[{\"id\":1,\"vector\":[1,2],\"payload\":{\"vz_id\":\"x\"}}],\"more\":1}");
	refused("c", VZ_EDATA, "only \"points\" expected");
	put("c", "points-000001.json", "{\"points\":[{\"id\":1,\"vector\":[1,2],\"payload\":{\"vz_id\":\"x\"}}");
	refused("c", VZ_EDATA, "c/points-000001.json: offset 0");
	put("d", "schema.sql", "CREATE TABLE t (embedding vector(2));\nCREATE INDEX ON t USING hnsw (embedding vector_l2_ops);\n");
	put("d", "rows.csv", "id,embedding,payload\n,\"[1,2]\",\n");
	refused("d", VZ_EDATA, "d/rows.csv: row 1: id and embedding must not be NULL");
	put("d", "rows.csv", "id,embedding,payload\n\"x,\"[1,2]\",\n");
	refused("d", VZ_EDATA, "d/rows.csv: row 1:");
	put("d", "rows.csv", "id,embedding\n");
	refused("d", VZ_EDATA, "d/rows.csv: line 1: the header");
	put("d", "rows.csv", "id,embedding,payload\nx,\"[1,2]\",\ny,\"[1]\",\n");
	refused("d", VZ_EDATA, "d/rows.csv: row 2: vector has dimension 1, expected 2");
}
