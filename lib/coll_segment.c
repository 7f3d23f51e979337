/* coll_segment.c: the segments of a dynamic collection (metadata format_version 3). An
 * incremental checkpoint does not rewrite vectors.bin and index.hnsw (the base): it writes the
 * rows it folds as a new segment, seg-G.vec (the vectors.bin format, a delete as a tombstone
 * row) and seg-G.hnsw (a graph over those rows alone), G its generation. A reader sees the base
 * and the segments as one row space (base rows first, then each segment's, oldest first) in
 * which a row is dead when it is a tombstone or when a newer segment holds a row of the same id
 * (the "dead" bitmap, made at open: a lookup per segment row). A full checkpoint (compaction)
 * folds the segments into a new base. This file opens, looks up and removes segments; the
 * checkpoint writes them (coll_checkpoint.c); vz-format(5) describes them. */
#include "collection_internal.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int vz_segment_path(const char *dir, uint64_t gen, bool index, char *out, size_t cap)
{
	return vz_path_fmt(out, cap, "%s/seg-%llu.%s", dir, (unsigned long long)gen, index ? "hnsw" : "vec");
}

void vz_segment_name(uint64_t gen, bool index, char *out, size_t cap)
{
	snprintf(out, cap, "seg-%llu.%s", (unsigned long long)gen, index ? "hnsw" : "vec");
}

const vz_vectors *vz_coll_layer(const struct vz_collection *c, uint64_t row, uint64_t *local)
{
	if (!c->nseg || row < c->seg[0].first) {
		*local = row;
		return &c->vec;
	}
	uint32_t i = c->nseg;
	while (i > 1 && row < c->seg[i - 1].first) i--;
	*local = row - c->seg[i - 1].first;
	return &c->seg[i - 1].vec;
}

const float *vz_coll_row_vector(const struct vz_collection *c, uint64_t row)
{
	uint64_t local;
	const vz_vectors *v = vz_coll_layer(c, row, &local);
	return v->vectors + local * c->meta.cfg.dim;
}

bool vz_coll_row_dead(const struct vz_collection *c, uint64_t row)
{
	if (c->dead && (c->dead[row / 64] >> (row % 64) & 1)) return true;
	uint64_t local;
	const vz_vectors *v = vz_coll_layer(c, row, &local);
	return (v->rowinfo[local * VZ_ROWINFO_SIZE + 18] & VZ_ROW_TOMBSTONE) != 0;
}

/* The live row of id in the layers before `before` (the base is layer 0, segment i layer i + 1)
 * that no newer segment replaced, or -1. */
static int64_t find_before(const struct vz_collection *c, const char *id, size_t len, uint32_t before)
{
	for (uint32_t l = before; l-- > 0;) {
		const vz_vectors *v = l ? &c->seg[l - 1].vec : &c->vec;
		uint64_t first = l ? c->seg[l - 1].first : 0;
		if (!l && !c->has_vec) continue;
		int64_t r = vz_vectors_find(v, id, len);
		if (r < 0) continue;
		uint64_t g = first + (uint64_t)r;
		if (c->dead && (c->dead[g / 64] >> (g % 64) & 1)) continue;
		return (int64_t)g;
	}
	return -1;
}

int64_t vz_coll_layers_find(const struct vz_collection *c, const char *id, size_t len)
{
	/* a delete in a segment is a tombstone row, never found, that marked the row it deleted */
	return find_before(c, id, len, c->nseg + 1);
}

static int open_graph(struct vz_collection *c, const vz_segment_sum *g, struct coll_segment *s, char *path, size_t cap)
{
	char name[64];
	const vz_config *cfg = &c->meta.cfg;
	int rc;
	if ((rc = vz_segment_path(c->dir, g->generation, true, path, cap)) || (rc = vz_map_file(path, &s->index_map))) return rc;
	vz_segment_name(g->generation, true, name, sizeof name);
	vz_file_header h;
	if ((rc = vz_header_decode(s->index_map.data, s->index_map.size, VZ_MAGIC_INDEX, 2, &h))) return vz_fail_prefix(rc, "%s: ", path);
	if ((rc = vz_meta_check_header(&c->meta, name, &h, true))) return vz_fail_prefix(rc, "%s: ", c->dir);
	if (h.body_checksum != g->index.body_checksum)
		return vz_fail(VZ_ECORRUPT, "%s/%s: body checksum in the header differs from metadata.json", c->dir, name);
	if ((rc = vz_hnsw_open(s->index_map.data, s->index_map.size, cfg->dim, cfg->metric, g->rows, &s->index)))
		return vz_fail_prefix(rc, "%s: ", path);
	return VZ_OK;
}

static int open_one(struct vz_collection *c, const vz_segment_sum *g, struct coll_segment *s)
{
	char path[VZ_PATH_MAX], name[64];
	const vz_config *cfg = &c->meta.cfg;
	int rc = vz_segment_path(c->dir, g->generation, false, path, sizeof path);
	if (!rc) rc = vz_vectors_open(path, g->rows, cfg->dim, cfg->metric, &s->vec);
	if (rc) return rc;
	s->has_vec = true;
	vz_segment_name(g->generation, false, name, sizeof name);
	if ((rc = vz_meta_check_header(&c->meta, name, &s->vec.header, true))) return vz_fail_prefix(rc, "%s: ", c->dir);
	if (s->vec.header.body_checksum != g->vectors.body_checksum)
		return vz_fail(VZ_ECORRUPT, "%s/%s: body checksum in the header differs from metadata.json", c->dir, name);
	if (!g->index.present) return VZ_OK; /* no graph (yet) */
	if ((rc = open_graph(c, g, s, path, sizeof path)))
		/* derived from seg-G.vec: recover builds it again */
		return vz_fail_prefix(rc == VZ_ENOENT ? VZ_ECORRUPT : rc, "segment graph unusable (run vz recover to rebuild it): ");
	s->has_index = true;
	return VZ_OK;
}

int vz_coll_open_segments(struct vz_collection *c)
{
	const vz_meta *m = &c->meta;
	c->nrows = c->has_vec ? c->vec.rows : 0;
	if (!m->nsegments) return VZ_OK;
	if (!(c->seg = calloc(m->nsegments, sizeof *c->seg))) return vz_fail(VZ_ENOMEM, "out of memory");
	for (uint32_t i = 0; i < m->nsegments; i++) {
		c->nseg = i + 1;
		int rc = open_one(c, &m->segments[i], &c->seg[i]);
		if (rc) {
			if (rc == VZ_ENOENT) rc = vz_fail(VZ_ECORRUPT, "%s (metadata.json lists it): restore from a backup", vz_last_error());
			return rc;
		}
		c->seg[i].first = c->nrows;
		c->nrows += m->segments[i].rows;
	}
	if (!(c->dead = calloc((c->nrows + 63) / 64, sizeof *c->dead))) return vz_fail(VZ_ENOMEM, "out of memory");
	/* oldest segment first: each of its rows replaces the live row of its id in the layers
	 * before it, of which there is at most one not yet replaced (none when those hold no rows:
	 * a bulk load or a large log written into an empty collection is opened without a lookup) */
	for (uint32_t i = 0; i < c->nseg; i++) {
		const struct coll_segment *s = &c->seg[i];
		if (s->first == 0) continue;
		for (uint64_t r = 0; r < s->vec.rows; r++) {
			const char *id;
			size_t len;
			int rc = vz_vectors_row(&s->vec, r, &id, &len, NULL, NULL, NULL);
			if (rc) return rc;
			int64_t g = find_before(c, id, len, i + 1);
			if (g >= 0) {
				c->dead[(uint64_t)g / 64] |= 1ull << ((uint64_t)g % 64);
				c->ndead++;
			}
		}
	}
	return VZ_OK;
}

void vz_coll_close_segments(struct vz_collection *c)
{
	for (uint32_t i = 0; i < c->nseg; i++) {
		vz_hnsw_unpack(&c->seg[i].index);
		vz_unmap(&c->seg[i].index_map);
		if (c->seg[i].has_vec) vz_vectors_close(&c->seg[i].vec);
	}
	free(c->seg);
	free(c->dead);
	c->seg = NULL;
	c->dead = NULL;
	c->nseg = 0;
	c->ndead = 0;
	c->nrows = 0;
}

bool vz_segment_file_name(const char *name, uint64_t *gen, bool *graph)
{
	unsigned long long g;
	int end = 0;
	if (sscanf(name, "seg-%llu.%n", &g, &end) != 1 || !end) return false;
	*graph = !strcmp(name + end, "hnsw");
	*gen = g;
	return *graph || !strcmp(name + end, "vec");
}

bool vz_meta_lists_segment(const vz_meta *m, uint64_t gen)
{
	for (uint32_t i = 0; i < m->nsegments; i++)
		if (m->segments[i].generation == gen) return true;
	return false;
}

int vz_coll_remove_unlisted_segments(const char *dir, const vz_meta *m)
{
	DIR *d = opendir(dir);
	if (!d) return VZ_OK;
	struct dirent *e;
	bool removed = false;
	int rc = VZ_OK;
	while (!rc && (e = readdir(d))) {
		uint64_t gen;
		bool graph;
		if (!vz_segment_file_name(e->d_name, &gen, &graph) || vz_meta_lists_segment(m, gen)) continue;
		char p[VZ_PATH_MAX];
		if (!(rc = vz_path_fmt(p, sizeof p, "%s/%s", dir, e->d_name))) rc = vz_io_unlink(p, true);
		removed = true;
	}
	closedir(d);
	return !rc && removed ? vz_io_fsync_dir(dir) : rc;
}
