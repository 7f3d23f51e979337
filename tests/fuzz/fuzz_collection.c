/* fuzz_collection.c: a whole small collection, with the input mutating one of its files (the
 * first byte picks which, the rest replaces it): open, query, get, verify, recover must never
 * crash. The seed corpus holds the real files of a small collection. */
#include "../../lib/vz.h"
#include "fuzz_common.h"

#include <string.h>

static void ignore(void *ctx, const char *file, int64_t off, const char *what)
{
	(void)ctx; (void)file; (void)off; (void)what;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char coll[160], pristine[160];
	static const char *const files[] = { "metadata.json", "vectors.bin", "index.hnsw", "wal.log" };
	if (!coll[0]) {
		/* build the pristine collection once per process */
		snprintf(coll, sizeof coll, "%s/data/dynamic/c", fuzz_dir());
		snprintf(pristine, sizeof pristine, "%s/pristine", fuzz_dir());
		char data_dir[160];
		snprintf(data_dir, sizeof data_dir, "%s/data", fuzz_dir());
		vz_config cfg;
		vz_config_defaults(&cfg);
		cfg.dim = 4;
		if (vz_collection_create(data_dir, "c", &cfg)) abort();
		vz_collection *c;
		if (vz_collection_open(coll, VZ_OPEN_WRITE, 1000, &c)) abort();
		float v[4] = { 1, 2, 3, 4 };
		char ids[20][8];
		vz_write w[20];
		for (int i = 0; i < 20; i++) {
			snprintf(ids[i], sizeof ids[i], "r%d", i);
			v[i % 4] += 1;
			w[i] = (vz_write){ VZ_WRITE_INSERT, ids[i], strlen(ids[i]), NULL, 4, "{\"p\":1}", 7, 0 };
			float *copy = malloc(sizeof v);
			memcpy(copy, v, sizeof v);
			w[i].vector = copy;
		}
		vz_collection_write(c, w, 15, 0, 1, NULL);
		vz_collection_checkpoint(c, 1, false);
		vz_collection_write(c, w + 15, 5, 0, 1, NULL);
		vz_collection_close(c);
		for (int i = 0; i < 20; i++) free((void *)w[i].vector);
		char cmd[512];
		snprintf(cmd, sizeof cmd, "cp -a %s %s", coll, pristine);
		if (system(cmd) != 0) abort();
	}
	char cmd[512], path[256];
	snprintf(cmd, sizeof cmd, "rm -rf %s && cp -a %s %s", coll, pristine, coll);
	if (system(cmd) != 0) abort();
	if (size == 0) return 0;
	snprintf(path, sizeof path, "%s/%s", coll, files[data[0] % 4]);
	fuzz_write(path, data + 1, size - 1);
	vz_collection *c;
	if (vz_collection_open(coll, VZ_OPEN_READ, 1000, &c) == VZ_OK) {
		float q[4] = { 1, 1, 1, 1 };
		vz_result r[5];
		size_t n;
		vz_collection_query(c, q, 5, 10, r, &n);
		const float *vec;
		vz_collection_get(c, "r3", 2, r, &vec);
		vz_collection_close(c);
	}
	int problems;
	vz_collection_verify(coll, false, 1000, ignore, NULL, &problems);
	vz_recover_report rep;
	vz_collection_recover(coll, VZ_RECOVER_SALVAGE, false, 1, 1000, &rep);
	return 0;
}
