/* query_batch.c: vz_collection_query_batch, a batch of vector queries answered by one or more
 * threads and handed to the caller in query order. It exists so that vz(1) and any program
 * using the library run a batch the same way: the index loaded or prefaulted for the batch's
 * size, the searches spread over threads, the results streamed in order with bounded memory. */
#include "vz.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK 64          /* queries a thread takes at a time */
#define SLOTS_PER_THREAD 4 /* blocks answered ahead of the one being handed out, per thread */

struct slot {
	vz_result *res;  /* BLOCK * k */
	size_t n[BLOCK];
	size_t failed_at; /* the first query of the block that failed, or BLOCK */
	int rc;
	char error[256];
	bool done;
};

struct batch {
	vz_collection *c;
	const float *queries;
	size_t from, nq, k, stride, ef, dim, nblocks, nslots; /* queries from..nq-1, in blocks; stride: results a query has room for */
	struct slot *slots;
	pthread_mutex_t mu;
	pthread_cond_t ready, space;
	size_t next, emitted; /* blocks claimed by a worker, handed to the caller */
	bool stop;
};

static void answer_block(struct batch *b, size_t block, struct slot *s)
{
	size_t first = b->from + block * BLOCK, count = b->nq - first < BLOCK ? b->nq - first : BLOCK;
	s->failed_at = BLOCK;
	s->rc = VZ_OK;
	for (size_t i = 0; i < count; i++) {
		int rc = vz_collection_query(b->c, b->queries + (first + i) * b->dim, b->k, b->ef, s->res + i * b->stride, &s->n[i]);
		if (rc) {
			s->failed_at = i;
			s->rc = rc;
			snprintf(s->error, sizeof s->error, "%s", vz_last_error());
			return;
		}
	}
}

static void *worker(void *arg)
{
	struct batch *b = arg;
	pthread_mutex_lock(&b->mu);
	for (;;) {
		while (!b->stop && b->next < b->nblocks && b->next >= b->emitted + b->nslots) pthread_cond_wait(&b->space, &b->mu);
		if (b->stop || b->next >= b->nblocks) break;
		size_t block = b->next++;
		struct slot *s = &b->slots[block % b->nslots];
		pthread_mutex_unlock(&b->mu);
		answer_block(b, block, s);
		pthread_mutex_lock(&b->mu);
		s->done = true;
		pthread_cond_broadcast(&b->ready);
	}
	pthread_mutex_unlock(&b->mu);
	vz_hnsw_search_thread_done();
	return NULL;
}

/* Queries from..to-1 on this thread, each handed over once answered. */
static int run_here(vz_collection *c, const float *queries, size_t from, size_t to, size_t k, size_t ef, size_t dim,
		    vz_result *res, vz_batch_emit emit, void *ctx)
{
	for (size_t i = from; i < to; i++) {
		size_t n;
		int rc = vz_collection_query(c, queries + i * dim, k, ef, res, &n);
		if (!rc) rc = emit(ctx, i, res, n);
		if (rc) return rc;
	}
	return VZ_OK;
}

/* Hands the answered blocks to emit in order as they come; the first error (by query order) ends it. */
static int hand_over(struct batch *b, vz_batch_emit emit, void *ctx)
{
	int rc = VZ_OK;
	for (size_t block = 0; block < b->nblocks && !rc; block++) {
		struct slot *s = &b->slots[block % b->nslots];
		pthread_mutex_lock(&b->mu);
		while (!s->done) pthread_cond_wait(&b->ready, &b->mu);
		pthread_mutex_unlock(&b->mu);
		size_t first = b->from + block * BLOCK, count = b->nq - first < BLOCK ? b->nq - first : BLOCK;
		for (size_t i = 0; i < count && !rc; i++) {
			if (i == s->failed_at) rc = vz_fail(s->rc, "%s", s->error);
			else rc = emit(ctx, first + i, s->res + i * b->stride, s->n[i]);
		}
		pthread_mutex_lock(&b->mu);
		s->done = false;
		b->emitted++;
		if (rc) b->stop = true;
		pthread_cond_broadcast(&b->space);
		pthread_mutex_unlock(&b->mu);
	}
	return rc;
}

int vz_collection_query_batch(vz_collection *c, const float *queries, size_t nq, size_t k, size_t ef, int threads,
			      vz_batch_emit emit, void *ctx)
{
	if (nq == 0) return VZ_OK;
	size_t dim = vz_collection_config(c)->dim;
	if (threads <= 0) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n > 0 ? (int)n : 1;
	}
	vz_collection_warm(c, nq, ef);
	size_t kk = k ? k : 1;
	vz_result *one = malloc(sizeof(vz_result) * kk);
	if (!one) return vz_fail(VZ_ENOMEM, "out of memory");
	/* the first query here, before any thread: it also builds what a handle computes on its
	 * first query (the superseded rows), after which queries only read the handle */
	int rc = run_here(c, queries, 0, 1, k, ef, dim, one, emit, ctx);
	size_t nblocks = (nq - 1 + BLOCK - 1) / BLOCK;
	if (!rc && (threads == 1 || nblocks < 2)) rc = run_here(c, queries, 1, nq, k, ef, dim, one, emit, ctx);
	free(one);
	if (rc || threads == 1 || nblocks < 2) return rc;
	if ((size_t)threads > nblocks) threads = (int)nblocks;
	struct batch b = { .c = c, .queries = queries, .from = 1, .nq = nq, .k = k, .stride = kk, .ef = ef, .dim = dim, .nblocks = nblocks,
			   .nslots = (size_t)threads * SLOTS_PER_THREAD };
	if (b.nslots > nblocks) b.nslots = nblocks;
	b.slots = calloc(b.nslots, sizeof *b.slots);
	vz_result *all = b.slots ? malloc(sizeof(vz_result) * kk * BLOCK * b.nslots) : NULL;
	pthread_t *t = calloc((size_t)threads, sizeof *t);
	if (!b.slots || !all || !t) {
		free(b.slots);
		free(all);
		free(t);
		return vz_fail(VZ_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < b.nslots; i++) b.slots[i].res = all + i * kk * BLOCK;
	pthread_mutex_init(&b.mu, NULL);
	pthread_cond_init(&b.ready, NULL);
	pthread_cond_init(&b.space, NULL);
	int started = 0;
	for (; started < threads; started++)
		if (pthread_create(&t[started], NULL, worker, &b)) break;
	/* no thread at all: this one answers them */
	rc = started ? hand_over(&b, emit, ctx) : run_here(c, queries, 1, nq, k, ef, dim, all, emit, ctx);
	pthread_mutex_lock(&b.mu);
	b.stop = true;
	pthread_cond_broadcast(&b.space);
	pthread_mutex_unlock(&b.mu);
	for (int i = 0; i < started; i++) pthread_join(t[i], NULL);
	pthread_mutex_destroy(&b.mu);
	pthread_cond_destroy(&b.ready);
	pthread_cond_destroy(&b.space);
	free(b.slots);
	free(all);
	free(t);
	return rc;
}
