/* filter.h: what a collection keeps of a payload filter (lib/filter.c) between the queries of
 * one open handle (lib/coll_where.c): each base row's answer, asked once, and the plan chosen
 * from a sample of the rows, an exact scan of the matching rows or the HNSW graph. */
#ifndef VZ_FILTER_H
#define VZ_FILTER_H

#include "vz.h"

struct vz_where_memo {
	uint64_t serial;     /* the filter answered (vz_filter_serial); 0: none yet */
	uint8_t *state;      /* per base row: 0 not asked yet, 1 matches, 2 does not */
	size_t rows;
	bool exact;          /* the plan: scan the matching rows exactly, else search the graph */
	size_t sampled, hits; /* live rows of the sample, and how many of them matched */
	size_t estimate;     /* live base rows expected to match */
	char plan[160];      /* the plan in words, for vz query -v */
};

/* A number that no other filter of this process has (never 0). */
uint64_t vz_filter_serial(const vz_filter *f);
/* Rows a sample takes (evenly spaced). */
#define VZ_WHERE_SAMPLE 1024
/* Whether an exact scan of the rows matching is expected to cost less than the graph search
 * at ef over queries queries, with estimate of the live rows matching (the model: filter.c). */
bool vz_where_exact(size_t estimate, size_t live, size_t ef, uint32_t dim, size_t queries);
/* The queries a filter was told it will serve (vz_filter_set_queries). */
size_t vz_filter_queries(const vz_filter *f);
void vz_where_memo_free(struct vz_where_memo *m);

#endif
