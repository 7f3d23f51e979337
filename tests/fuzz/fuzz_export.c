/* fuzz_export.c: reading an export directory back (lib/foreign.c) never crashes, leaks or reads
 * out of bounds. The first byte picks the engine (and whether vz.json is there); the rest is
 * its rows file, beside a valid definition of dimension 3. */
#include "fuzz_common.h"

#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const defs[VZ_TO_COUNT] = {
		"{\"dim\":3,\"distance_type\":\"l2\"}",
		"{\"vectors\":{\"size\":3,\"distance\":\"Euclid\"}}",
		"{\"schema\":{\"fields\":[{\"fieldName\":\"vector\",\"elementTypeParams\":{\"dim\":3}}]},\"indexParams\":[{\"metricType\":\"L2\"}]}",
		"CREATE TABLE t (id text, embedding vector(3));\nCREATE INDEX ON t USING hnsw (embedding vector_l2_ops);\n",
	};
	static const char *const rows[VZ_TO_COUNT] = { "rows.jsonl", "points-000001.json", "rows.json", "rows.csv" };
	static const char vzjson[] = "{\"vz_dump\":1,\"config\":{\"dim\":3,\"metric\":\"euclidean\",\"m\":16,\"ef_construction\":200,"
				     "\"ef_search\":64,\"quantization\":\"none\",\"embedding\":\"\",\"checkpoint_ops\":1000,\"checkpoint_seconds\":300}}\n";
	if (size < 1) return 0;
	char dir[128], path[256];
	snprintf(dir, sizeof dir, "%s/x", fuzz_dir());
	/* the last input's files go first: one engine's definition at a time */
	for (int i = 0; i < VZ_TO_COUNT; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, vz_export_definition_file((enum vz_export_target)i));
		unlink(path);
		snprintf(path, sizeof path, "%s/%s", dir, rows[i]);
		unlink(path);
	}
	snprintf(path, sizeof path, "%s/vz.json", dir);
	unlink(path);
	mkdir(dir, 0777);
	int t = data[0] % VZ_TO_COUNT;
	snprintf(path, sizeof path, "%s/%s", dir, vz_export_definition_file((enum vz_export_target)t));
	fuzz_write(path, (const uint8_t *)defs[t], strlen(defs[t]));
	if (data[0] & 4) {
		snprintf(path, sizeof path, "%s/vz.json", dir);
		fuzz_write(path, (const uint8_t *)vzjson, sizeof vzjson - 1);
	}
	snprintf(path, sizeof path, "%s/%s", dir, rows[t]);
	fuzz_write(path, data + 1, size - 1);
	vz_config cfg;
	vz_batch b;
	if (vz_export_read(dir, &cfg, &b) == VZ_OK) vz_batch_free(&b);
	return 0;
}
