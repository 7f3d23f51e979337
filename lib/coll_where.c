/* coll_where.c: payload filters in the search of an open collection (vz query --where; the
 * grammar and evaluation are lib/filter.c's). A filter skips rows inside the HNSW search as
 * deleted rows are skipped, each base row's answer asked once per handle and filter (c->where);
 * before the first query a sample of the rows says how many match, and when few do, the
 * matching rows are scanned exactly instead (the cost model: vz_where_exact). */
#include "collection_internal.h"

#include <stdio.h>
#include <stdlib.h>

bool vz_coll_skip_where(void *ctx, uint32_t row)
{
	struct vz_coll_where *w = ctx;
	struct vz_collection *c = w->c;
	if (w->base_skips && vz_coll_skip_base(c, row)) return true;
	uint8_t *s = &c->where.state[row];
	if (!*s) {
		const char *id, *p;
		size_t il, pl;
		uint64_t local;
		const vz_vectors *v = vz_coll_layer(c, row, &local);
		if (vz_vectors_row(v, local, &id, &il, &p, &pl, NULL)) p = NULL, pl = 0; /* verify names it */
		*s = vz_filter_match(w->f, p, pl) ? 1 : 2;
	}
	return *s == 2;
}

int vz_coll_where_prepare(struct vz_collection *c, struct vz_coll_where *w, size_t ef)
{
	struct vz_where_memo *m = &c->where;
	size_t rows = c->nseg ? c->nrows : c->has_vec ? c->vec.rows : 0; /* the row space: base and segments */
	if (m->serial == vz_filter_serial(w->f) && m->rows == rows) return VZ_OK;
	vz_where_memo_free(m);
	if (!(m->state = calloc(rows ? rows : 1, 1))) return vz_fail(VZ_ENOMEM, "out of memory");
	m->serial = vz_filter_serial(w->f);
	m->rows = rows;
	/* every row of a small collection; else rows picked by a fixed hash, not evenly spaced,
	 * whose stride could fall in step with a pattern of the payloads (i % 100) */
	bool all = rows <= VZ_WHERE_SAMPLE;
	for (size_t i = 0; i < (all ? rows : VZ_WHERE_SAMPLE); i++) {
		size_t r = all ? i : (size_t)(vz_hash64(&i, sizeof i) % rows);
		if (w->base_skips && vz_coll_skip_base(c, (uint32_t)r)) continue;
		m->sampled++;
		m->hits += !vz_coll_skip_where(w, (uint32_t)r);
	}
	size_t gone = (size_t)c->meta.tombstones + c->nsup + c->ndead, live = rows > gone ? rows - gone : 0;
	m->estimate = m->sampled ? (size_t)((double)m->hits / (double)m->sampled * (double)live + 0.5) : 0;
	m->exact = !c->has_index || vz_where_exact(m->estimate, live, ef, c->meta.cfg.dim, vz_filter_queries(w->f));
	snprintf(m->plan, sizeof m->plan, "%s: %zu of %zu sampled rows match, some %zu of %zu rows", m->exact ? "exact scan" : "graph search",
		 m->hits, m->sampled, m->estimate, live);
	return VZ_OK;
}

const char *vz_collection_where_plan(const vz_collection *c) { return c->where.serial ? c->where.plan : NULL; }
