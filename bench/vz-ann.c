/* vz-ann.c: the query side of vz for bench/annbench/annbench.py's external-tool contract.
 *
 *   vz-ann query --index DATA_DIR --query Q.fvecs --k 10 --ef 64 --out ids.txt
 *
 * Opens DATA_DIR/dynamic/c (built by `vz create c` + `vz insert c BASE.fvecs`, whose ids are the
 * 0-based row numbers) through the same library call a `vz query` makes, answers every query
 * single-threaded, writes one line of k ids per query, and prints load_seconds and query_seconds
 * (search only), so the harness reports in-process QPS beside hnswlib's. */
#include "../lib/vz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static const char *arg(int argc, char **argv, const char *name, const char *dflt)
{
	for (int i = 2; i + 1 < argc; i += 2)
		if (!strcmp(argv[i], name)) return argv[i + 1];
	return dflt;
}

int main(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "query") != 0) {
		fprintf(stderr, "usage: vz-ann query --index DATA_DIR --query Q.fvecs --k K --ef EF --out FILE\n");
		return 64;
	}
	const char *index = arg(argc, argv, "--index", NULL), *qpath = arg(argc, argv, "--query", NULL);
	const char *out = arg(argc, argv, "--out", NULL);
	size_t k = (size_t)atol(arg(argc, argv, "--k", "10")), ef = (size_t)atol(arg(argc, argv, "--ef", "64"));
	if (!index || !qpath || !out || !k) {
		fprintf(stderr, "vz-ann: --index, --query, --out and --k are required\n");
		return 64;
	}
	vz_batch q;
	if (vz_batch_read(qpath, VZ_FMT_FVECS, 0, 0, 0, &q)) {
		fprintf(stderr, "vz-ann: %s\n", vz_last_error());
		return 65;
	}
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/dynamic/c", index);
	double t0 = now();
	vz_collection *c;
	if (vz_collection_open(dir, VZ_OPEN_READ, 10000, &c)) {
		fprintf(stderr, "vz-ann: %s\n", vz_last_error());
		return 66;
	}
	/* hnswlib's load reads its whole index into memory; the same here: every page mapped in
	 * before the timed searches, as `vz query --batch` does for a long batch */
	vz_collection_preload(c);
	double load = now() - t0;
	vz_result *res = malloc(sizeof *res * k);
	size_t *n = malloc(sizeof *n * q.n);
	char **ids = malloc(sizeof *ids * q.n * k);
	if (!res || !n || !ids) return 71;
	/* untimed warm-up on the first 200 queries, as hnsw_native does before its timed loop */
	for (size_t i = 0; i < q.n && i < 200; i++)
		if (vz_collection_query(c, q.vectors + i * q.dim, k, ef, res, &n[i])) {
			fprintf(stderr, "vz-ann: %s\n", vz_last_error());
			return 70;
		}
	double search = 0;
	for (size_t i = 0; i < q.n; i++) {
		double a = now();
		if (vz_collection_query(c, q.vectors + i * q.dim, k, ef, res, &n[i])) {
			fprintf(stderr, "vz-ann: %s\n", vz_last_error());
			return 70;
		}
		search += now() - a;
		/* ids are copied outside the timed part: the results point into the mapped files */
		for (size_t j = 0; j < n[i]; j++) ids[i * k + j] = strndup(res[j].id, res[j].id_len);
	}
	FILE *f = fopen(out, "w");
	if (!f) { perror(out); return 73; }
	for (size_t i = 0; i < q.n; i++) {
		for (size_t j = 0; j < n[i]; j++) {
			fprintf(f, j ? " %s" : "%s", ids[i * k + j]);
			free(ids[i * k + j]);
		}
		fputc('\n', f);
	}
	if (fclose(f)) { perror(out); return 74; }
	printf("load_seconds=%.6f query_seconds=%.6f qps=%.1f\n", load, search, search > 0 ? (double)q.n / search : 0.0);
	vz_collection_close(c);
	vz_batch_free(&q);
	free(res);
	free(n);
	free(ids);
	return 0;
}
