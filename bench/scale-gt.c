/* scale-gt.c: exact nearest neighbours for bench/scale.sh, where numpy on Debian's reference
 * BLAS would take most of an hour (10M x 128 against 1,000 queries).
 *
 *   scale-gt BASE.fvecs QUERY.fvecs K THREADS OUT.ivecs
 *
 * Scans every base row against every query with the library's own squared-L2 kernel
 * (lib/distance.c, SIMD chosen at run time), in blocks of rows that stay in cache while every
 * query passes over them; THREADS split the rows, each keeping the best KEEP of every query.
 * The KEEP candidates are then ranked again in double precision, so that float rounding
 * cannot swap the K-th and the (K+1)-th, and the first K row numbers (0-based, the ids of a
 * `vz insert` of the .fvecs) of each query are written as .ivecs, nearest first. */
#include "../lib/vz.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEEP 32    /* float candidates per query, ranked again in double */
#define BLOCK 512  /* base rows a block: 256 KiB at 128 dimensions */

typedef struct { float d; uint32_t row; } cand;

typedef struct {
	const float *base; /* fvecs rows: dim + 1 floats each, the first the dimension */
	const float *q;    /* nq x dim, packed */
	size_t dim, nq, from, to;
	cand *best;        /* nq x KEEP, sorted nearest first */
} job;

static void die(const char *what, const char *path)
{
	fprintf(stderr, "scale-gt: %s: %s\n", path, what);
	exit(65);
}

/* maps an .fvecs file; *dim and *n from its size and first header */
static const float *map_fvecs(const char *path, size_t *dim, size_t *n)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st)) die(strerror(errno), path);
	int32_t d;
	if (st.st_size < 4 || pread(fd, &d, 4, 0) != 4 || d <= 0) die("no dimension at offset 0", path);
	size_t row = 4 * ((size_t)d + 1);
	if ((size_t)st.st_size % row) die("size is not a whole number of rows", path);
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) die(strerror(errno), path);
	close(fd);
	madvise(p, (size_t)st.st_size, MADV_SEQUENTIAL);
	*dim = (size_t)d;
	*n = (size_t)st.st_size / row;
	return p;
}

static void *scan(void *arg)
{
	job *j = arg;
	vz_kernel l2 = vz_kernel_for(VZ_METRIC_EUCLIDEAN);
	size_t stride = j->dim + 1;
	for (size_t i = 0; i < j->nq * KEEP; i++) j->best[i] = (cand){ 3.4e38f, UINT32_MAX };
	for (size_t b = j->from; b < j->to; b += BLOCK) {
		size_t e = b + BLOCK < j->to ? b + BLOCK : j->to;
		for (size_t qi = 0; qi < j->nq; qi++) {
			const float *q = j->q + qi * j->dim;
			cand *best = j->best + qi * KEEP;
			for (size_t r = b; r < e; r++) {
				float d = l2(q, j->base + r * stride + 1, j->dim);
				if (d >= best[KEEP - 1].d) continue;
				size_t k = KEEP - 1;
				for (; k > 0 && best[k - 1].d > d; k--) best[k] = best[k - 1];
				best[k] = (cand){ d, (uint32_t)r };
			}
		}
	}
	return NULL;
}

typedef struct { double d; uint32_t row; } exact;

static int by_distance(const void *a, const void *b)
{
	const exact *x = a, *y = b;
	return x->d < y->d ? -1 : x->d > y->d ? 1 : (x->row > y->row) - (x->row < y->row);
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: scale-gt BASE.fvecs QUERY.fvecs K THREADS OUT.ivecs\n");
		return 64;
	}
	size_t k = (size_t)atol(argv[3]), threads = (size_t)atol(argv[4]);
	if (k < 1 || k > KEEP || threads < 1 || threads > 64) {
		fprintf(stderr, "scale-gt: K must be 1..%d and THREADS 1..64\n", KEEP);
		return 64;
	}
	size_t dim, n, qdim, nq;
	const float *base = map_fvecs(argv[1], &dim, &n), *qraw = map_fvecs(argv[2], &qdim, &nq);
	if (qdim != dim) die("queries and base differ in dimension", argv[2]);
	if (n > UINT32_MAX) die("more rows than 32-bit row numbers", argv[1]);
	float *q = malloc(nq * dim * sizeof *q);
	job *jobs = calloc(threads, sizeof *jobs);
	pthread_t *tid = calloc(threads, sizeof *tid);
	if (!q || !jobs || !tid) die("out of memory", argv[2]);
	for (size_t i = 0; i < nq; i++) memcpy(q + i * dim, qraw + i * (dim + 1) + 1, dim * sizeof *q);
	for (size_t t = 0; t < threads; t++) {
		jobs[t] = (job){ base, q, dim, nq, n * t / threads, n * (t + 1) / threads, malloc(nq * KEEP * sizeof(cand)) };
		if (!jobs[t].best) die("out of memory", argv[1]);
		if (pthread_create(&tid[t], NULL, scan, &jobs[t])) die("cannot start a thread", argv[1]);
	}
	for (size_t t = 0; t < threads; t++) pthread_join(tid[t], NULL);
	FILE *out = fopen(argv[5], "wb");
	if (!out) die(strerror(errno), argv[5]);
	exact *all = malloc(threads * KEEP * sizeof *all);
	if (!all) die("out of memory", argv[5]);
	for (size_t qi = 0; qi < nq; qi++) {
		size_t m = 0;
		for (size_t t = 0; t < threads; t++)
			for (size_t i = 0; i < KEEP; i++) {
				cand c = jobs[t].best[qi * KEEP + i];
				if (c.row == UINT32_MAX) continue;
				const float *x = base + (size_t)c.row * (dim + 1) + 1, *y = q + qi * dim;
				double s = 0;
				for (size_t j = 0; j < dim; j++) s += ((double)x[j] - y[j]) * ((double)x[j] - y[j]);
				all[m++] = (exact){ s, c.row };
			}
		qsort(all, m, sizeof *all, by_distance);
		int32_t rec[1 + KEEP];
		rec[0] = (int32_t)k;
		for (size_t i = 0; i < k; i++) rec[1 + i] = i < m ? (int32_t)all[i].row : -1;
		if (fwrite(rec, 4, 1 + k, out) != 1 + k) die(strerror(errno), argv[5]);
	}
	if (fclose(out)) die(strerror(errno), argv[5]);
	return 0;
}
