/* ws_cache.c: a workspace collection's cache.bin and cache.delta, read and written: the record
 * of each file a build read, so that the next build re-reads only what changed.
 *
 * cache.bin (vz_file_header VZ_MAGIC_CACHE, version 4; generation = the snapshot's, aux = the
 * configuration hash; body checksummed; parsed as untrusted input):
 *   16 bytes: the collection id (not in version 1, still read)
 *   df table (see ws_internal.h)
 *   u64 files, then per file (sorted by path):
 *     u32 path length, path, u64 size, u64 mtime (ns), u64 content hash (XXH3), u32 chunks,
 *     u64 first row (version 4 on: the snapshot's row of its first chunk, the others follow it;
 *     before, the rows were in file order, chunk order),
 *     then per chunk (the rows the file produced, in row order):
 *       u64 start, u64 end (byte range in the file), u32 first line (1-based; version 3 on),
 *       u32 text length, text, and before version 4 dim x f32 vector (skipped when read).
 * A build does not use a cache older than version 3 (it reads every file again): its chunks
 * have no lines for postings.bin. */
#include "ws_cache.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ws_file_free(ws_file *f)
{
	for (uint32_t i = 0; i < f->n_chunks; i++) {
		free(f->chunks[i].text);
		free(f->chunks[i].vec);
		free(f->chunks[i].payload);
	}
	free(f->chunks);
	free(f->path);
	memset(f, 0, sizeof *f);
}

void ws_cache_free(ws_cache *c)
{
	for (size_t i = 0; i < c->n; i++) ws_file_free(&c->files[i]);
	free(c->files);
	for (size_t i = 0; i < c->n_base; i++) free(c->base_paths[i]);
	free(c->base_paths);
	vz_bm25_free(c->model);
	memset(c, 0, sizeof *c);
}

static int read_file_record(vz_reader *r, uint32_t dim, uint32_t version, ws_file *f)
{
	uint32_t plen, n;
	uint64_t mtime;
	const unsigned char *p = NULL;
	size_t at = r->offset;
	int rc = vz_rd_u32(r, &plen);
	if (rc) return rc;
	if (plen == 0 || plen >= 4096) return vz_fail(VZ_ECORRUPT, "offset %zu: path length %u", at, plen);
	if ((rc = vz_rd_bytes(r, plen, &p))) return rc;
	if (memchr(p, 0, plen)) return vz_fail(VZ_ECORRUPT, "offset %zu: NUL in a path", at + 4);
	if (!(f->path = strndup((const char *)p, plen))) return vz_fail(VZ_ENOMEM, "out of memory");
	if ((rc = vz_rd_u64(r, &f->size)) || (rc = vz_rd_u64(r, &mtime)) || (rc = vz_rd_u64(r, &f->hash)) || (rc = vz_rd_u32(r, &n)) ||
	    (version >= 4 && (rc = vz_rd_u64(r, &f->first_row))))
		return rc;
	if (f->first_row > UINT64_MAX - n) return vz_fail(VZ_ECORRUPT, "offset %zu: first row %" PRIu64 " out of range", r->offset - 8, f->first_row);
	f->mtime_ns = (int64_t)mtime;
	/* each chunk takes at least 20 bytes (24 from version 3) plus, before version 4, its
	 * vector: bound the count by what is left */
	size_t per = (version >= 3 ? 24 : 20) + (version < 4 ? (size_t)dim * 4 : 0);
	if (n > r->left / per) return vz_fail(VZ_ECORRUPT, "offset %zu: %u chunks do not fit", r->offset - 4, n);
	if (n && !(f->chunks = calloc(n, sizeof *f->chunks))) return vz_fail(VZ_ENOMEM, "out of memory");
	for (uint32_t i = 0; i < n; i++) {
		ws_chunk *c = &f->chunks[i];
		f->n_chunks = i + 1;
		if ((rc = vz_rd_u64(r, &c->start)) || (rc = vz_rd_u64(r, &c->end)) || (version >= 3 && (rc = vz_rd_u32(r, &c->line))) ||
		    (rc = vz_rd_u32(r, &c->text_len)))
			return rc;
		if (c->start > c->end || c->end > f->size || c->end - c->start != c->text_len || (version >= 3 && (!c->line || c->line - 1 > c->start)))
			return vz_fail(VZ_ECORRUPT, "offset %zu: chunk range %" PRIu64 "..%" PRIu64 " (line %u) does not fit the file", r->offset - 24, c->start, c->end, c->line);
		if ((rc = vz_rd_bytes(r, c->text_len, &p))) return rc;
		if (!(c->text = malloc(c->text_len + 1u))) return vz_fail(VZ_ENOMEM, "out of memory");
		memcpy(c->text, p, c->text_len);
		c->text[c->text_len] = 0;
		if (version < 4 && (rc = vz_rd_bytes(r, (size_t)dim * 4, &p))) return rc;
	}
	return VZ_OK;
}

/* Loads cache.bin (only its df table into *model when model is not NULL); VZ_ENOENT when
 * missing, VZ_ECORRUPT when damaged (the caller rebuilds). */
static int base_load(const char *path, ws_cache *c, vz_bm25 **model)
{
	memset(c, 0, sizeof *c);
	vz_map map;
	int rc = vz_map_file(path, &map);
	if (rc) return rc;
	vz_file_header h = { 0 };
	vz_reader r;
	vz_bm25 *m = NULL;
	uint64_t n = 0;
	rc = vz_ws_open_body(&map, VZ_MAGIC_CACHE, CACHE_VERSION, &h, &r);
	if (!rc && h.version >= 2) {
		const unsigned char *idb;
		if (!(rc = vz_rd_bytes(&r, sizeof c->id.b, &idb))) memcpy(c->id.b, idb, sizeof c->id.b);
	}
	if (!rc) rc = vz_bm25_decode(&r, &m);
	if (!rc) vz_bm25_set_origin(m, &c->id, h.generation);
	if (!rc && !model) {
		c->dim = vz_bm25_dim(m);
		rc = vz_rd_u64(&r, &n);
		if (!rc && n > r.left / 36) rc = vz_fail(VZ_ECORRUPT, "offset %zu: %" PRIu64 " files do not fit", r.offset - 8, n);
		if (!rc && n && !(c->files = calloc(n, sizeof *c->files))) rc = vz_fail(VZ_ENOMEM, "out of memory");
		uint64_t row = 0; /* before version 4, in file order */
		for (uint64_t i = 0; i < n && !rc; i++) {
			c->n = i + 1;
			rc = read_file_record(&r, c->dim, h.version, &c->files[i]);
			c->files[i].in_base = true;
			if (!rc && h.version < 4) c->files[i].first_row = row;
			row += c->files[i].n_chunks;
			if (!rc && i > 0 && strcmp(c->files[i - 1].path, c->files[i].path) >= 0)
				rc = vz_fail(VZ_ECORRUPT, "offset %zu: files not sorted", r.offset);
		}
		if (!rc && r.left) rc = vz_fail(VZ_ECORRUPT, "offset %zu: trailing bytes", r.offset);
	}
	vz_unmap(&map);
	c->header = h;
	c->config_hash = h.aux;
	c->generation = c->base_generation = h.generation;
	c->version = h.version;
	c->has_base = !rc;
	if (!rc && model) *model = m;
	else if (!rc) c->model = m;
	else vz_bm25_free(m);
	if (rc) {
		ws_cache_free(c);
		vz_fail_prefix(rc, "%s: ", path);
	}
	return rc;
}

/* The path of the cache.delta beside the cache.bin at path. */
static int delta_path_of(const char *path, char *out, size_t cap)
{
	const char *slash = strrchr(path, '/');
	return slash ? vz_path_fmt(out, cap, "%.*s/cache.delta", (int)(slash - path), path) : vz_path_fmt(out, cap, "cache.delta");
}

/* Amends c, cache.bin as base_load left it (only its df table in *model when model is not
 * NULL), with the cache.delta at dpath when there is one of that cache.bin's generation (one of
 * an older cache.bin is left over from a crash: ignored). */
static int delta_apply(const char *dpath, ws_cache *c, vz_bm25 **model)
{
	vz_map map;
	int rc = vz_map_file(dpath, &map);
	if (rc == VZ_ENOENT) return VZ_OK;
	if (rc) return rc;
	vz_file_header h;
	vz_reader r;
	vz_bm25 *m = NULL;
	ws_file *recs = NULL, *out = NULL;
	char **gone = NULL;
	uint64_t n = 0, ng = 0;
	rc = vz_ws_open_body(&map, DELTA_MAGIC, DELTA_VERSION, &h, &r);
	if (!rc && h.aux2 != c->base_generation) goto done; /* of an older cache.bin */
	const unsigned char *idb;
	if (!rc && !(rc = vz_rd_bytes(&r, sizeof c->id.b, &idb)) && memcmp(idb, c->id.b, sizeof c->id.b))
		rc = vz_fail(VZ_ECORRUPT, "offset %d: another collection id than cache.bin's", VZ_HEADER_SIZE);
	if (!rc && h.aux != c->config_hash) rc = vz_fail(VZ_ECORRUPT, "offset 48: another configuration hash than cache.bin's");
	if (!rc) rc = vz_bm25_decode(&r, &m);
	if (!rc) vz_bm25_set_origin(m, &c->id, h.generation);
	if (!rc && model) {
		vz_bm25_free(*model);
		*model = m;
		m = NULL;
		c->generation = c->header.generation = h.generation;
		goto done;
	}
	if (!rc && vz_bm25_dim(m) != c->dim) rc = vz_fail(VZ_ECORRUPT, "offset %zu: dimension %u, cache.bin's is %u", r.offset, vz_bm25_dim(m), c->dim);
	if (!rc) rc = vz_rd_u64(&r, &n);
	if (!rc && n > r.left / 36) rc = vz_fail(VZ_ECORRUPT, "offset %zu: %" PRIu64 " files do not fit", r.offset - 8, n);
	if (!rc && !(recs = calloc(n ? n : 1, sizeof *recs))) rc = vz_fail(VZ_ENOMEM, "out of memory");
	size_t nrec = 0;
	for (uint64_t i = 0; i < n && !rc; i++) {
		nrec = i + 1;
		rc = read_file_record(&r, c->dim, CACHE_VERSION, &recs[i]);
		if (!rc && i > 0 && strcmp(recs[i - 1].path, recs[i].path) >= 0) rc = vz_fail(VZ_ECORRUPT, "offset %zu: files not sorted", r.offset);
	}
	/* the paths of cache.bin that are gone: u64 count, then each as u32 length and bytes */
	if (!rc) rc = vz_rd_u64(&r, &ng);
	if (!rc && ng > r.left / 5) rc = vz_fail(VZ_ECORRUPT, "offset %zu: %" PRIu64 " removed paths do not fit", r.offset - 8, ng);
	if (!rc && !(gone = calloc(ng ? ng : 1, sizeof *gone))) rc = vz_fail(VZ_ENOMEM, "out of memory");
	for (uint64_t i = 0; i < ng && !rc; i++) {
		uint32_t pl;
		const unsigned char *p;
		size_t at = r.offset;
		if ((rc = vz_rd_u32(&r, &pl)) || (pl == 0 || pl >= 4096 ? (rc = vz_fail(VZ_ECORRUPT, "offset %zu: path length %u", at, pl)) : 0) ||
		    (rc = vz_rd_bytes(&r, pl, &p)))
			break;
		if (memchr(p, 0, pl)) rc = vz_fail(VZ_ECORRUPT, "offset %zu: NUL in a path", at + 4);
		else if (!(gone[i] = strndup((const char *)p, pl))) rc = vz_fail(VZ_ENOMEM, "out of memory");
		else if (i > 0 && strcmp(gone[i - 1], gone[i]) >= 0) rc = vz_fail(VZ_ECORRUPT, "offset %zu: removed paths not sorted", at);
	}
	if (!rc && r.left) rc = vz_fail(VZ_ECORRUPT, "offset %zu: trailing bytes", r.offset);
	/* the merge by path: a record of the delta replaces cache.bin's, a removed path drops it */
	if (!rc && !(out = calloc(c->n + nrec + 1, sizeof *out))) rc = vz_fail(VZ_ENOMEM, "out of memory");
	size_t i = 0, j = 0, g = 0, k = 0;
	while (!rc && (i < c->n || j < nrec)) {
		int cmp = i < c->n && j < nrec ? strcmp(c->files[i].path, recs[j].path) : i < c->n ? -1 : 1;
		if (cmp > 0) {
			out[k++] = recs[j];
			memset(&recs[j++], 0, sizeof *recs);
			continue;
		}
		if (cmp == 0) {
			out[k++] = recs[j];
			memset(&recs[j++], 0, sizeof *recs);
			ws_file_free(&c->files[i++]);
			continue;
		}
		while (g < ng && strcmp(gone[g], c->files[i].path) < 0) g++;
		if (g < ng && !strcmp(gone[g], c->files[i].path)) ws_file_free(&c->files[i++]);
		else out[k++] = c->files[i++];
	}
	if (!rc) {
		free(c->files);
		c->files = out;
		c->n = k;
		out = NULL;
		vz_bm25_free(c->model);
		c->model = m;
		m = NULL;
		c->generation = c->header.generation = h.generation;
	}
	for (size_t x = 0; recs && x < nrec; x++) ws_file_free(&recs[x]);
done:
	free(recs);
	free(out);
	for (uint64_t x = 0; gone && x < ng; x++) free(gone[x]);
	free(gone);
	vz_bm25_free(m);
	vz_unmap(&map);
	return rc;
}

/* cache.bin at path, amended by the cache.delta beside it (see delta_save). */
int ws_cache_load(const char *path, ws_cache *c, vz_bm25 **model)
{
	int rc = base_load(path, c, model);
	if (rc) return rc;
	/* cache.bin's paths, for the next delta's removed ones */
	if (!model && c->n && !(c->base_paths = calloc(c->n, sizeof *c->base_paths))) rc = vz_fail(VZ_ENOMEM, "out of memory");
	for (size_t i = 0; !rc && !model && i < c->n; i++, c->n_base = i)
		if (!(c->base_paths[i] = strdup(c->files[i].path))) rc = vz_fail(VZ_ENOMEM, "out of memory");
	char dpath[VZ_PATH_MAX];
	if (!rc && !(rc = delta_path_of(path, dpath, sizeof dpath)) && (rc = delta_apply(dpath, c, model))) vz_fail_prefix(rc, "%s: ", dpath);
	if (rc) {
		if (model) {
			vz_bm25_free(*model);
			*model = NULL;
		}
		ws_cache_free(c);
	}
	return rc;
}

int vz_ws_cache_load_model(const char *path, vz_bm25 **out)
{
	ws_cache c;
	return ws_cache_load(path, &c, out);
}

int vz_ws_cache_info(const char *path, vz_file_header *h, vz_coll_id *id, uint64_t *chunks, uint64_t *rows_end)
{
	ws_cache c;
	int rc = ws_cache_load(path, &c, NULL);
	if (rc) return rc;
	*h = c.header;
	*id = c.id;
	*chunks = *rows_end = 0;
	for (size_t i = 0; i < c.n; i++) {
		*chunks += c.files[i].n_chunks;
		if (c.files[i].n_chunks && c.files[i].first_row + c.files[i].n_chunks > *rows_end) *rows_end = c.files[i].first_row + c.files[i].n_chunks;
	}
	ws_cache_free(&c);
	return VZ_OK;
}

int vz_ws_cache_check(const char *path)
{
	ws_cache c;
	int rc = ws_cache_load(path, &c, NULL);
	if (!rc) ws_cache_free(&c);
	return rc;
}

/* One file's record, as cache.bin and cache.delta hold it. */
static int put_file_record(vz_buf *b, const ws_file *f)
{
	size_t pl = strlen(f->path);
	int rc = vz_buf_u32(b, (uint32_t)pl);
	if (!rc) rc = vz_buf_put(b, f->path, pl);
	if (!rc) rc = vz_buf_u64(b, f->size);
	if (!rc) rc = vz_buf_u64(b, (uint64_t)f->mtime_ns);
	if (!rc) rc = vz_buf_u64(b, f->hash);
	if (!rc) rc = vz_buf_u32(b, f->n_chunks);
	if (!rc) rc = vz_buf_u64(b, f->n_chunks ? f->first_row : 0);
	for (uint32_t j = 0; j < f->n_chunks && !rc; j++) {
		const ws_chunk *ch = &f->chunks[j];
		rc = vz_buf_u64(b, ch->start);
		if (!rc) rc = vz_buf_u64(b, ch->end);
		if (!rc) rc = vz_buf_u32(b, ch->line);
		if (!rc) rc = vz_buf_u32(b, ch->text_len);
		if (!rc) rc = vz_buf_put(b, ch->text, ch->text_len);
	}
	return rc;
}

static int cache_save(const char *path, const ws_cache *c, const vz_bm25 *m)
{
	vz_buf b = { 0 };
	int rc = vz_buf_put(&b, c->id.b, sizeof c->id.b);
	if (!rc) rc = vz_bm25_encode(m, &b);
	if (!rc) rc = vz_buf_u64(&b, c->n);
	for (size_t i = 0; i < c->n && !rc; i++) rc = put_file_record(&b, &c->files[i]);
	if (!rc) {
		vz_file_header h = { .version = CACHE_VERSION, .generation = c->generation, .aux = c->config_hash };
		memcpy(h.magic, VZ_MAGIC_CACHE, 8);
		rc = vz_write_checked_file(path, &h, b.data, b.len);
	}
	vz_buf_free(&b);
	return rc;
}

/* cache.delta (vz_file_header "VZCDELT1", version 1; generation = the snapshot's, aux = the
 * configuration hash, aux2 = the generation of the cache.bin it amends; body checksummed):
 * 16 bytes collection id, the whole df table, u64 files and the records (as cache.bin's, sorted
 * by path) of the files whose record is not cache.bin's, then u64 count and the paths (u32
 * length, bytes; sorted) of cache.bin's files that are gone. Written instead of cache.bin
 * while cache.bin's rows still hold (a build that added a segment, or only touched files), so
 * that a build after one change writes that file's record, not every file's text. */
static int delta_save(const char *dpath, const ws_cache *c, const ws_cache *old, const vz_bm25 *m)
{
	vz_buf b = { 0 };
	size_t n = 0, ng = 0;
	for (size_t i = 0; i < c->n; i++) n += !c->files[i].in_base;
	int rc = vz_buf_put(&b, c->id.b, sizeof c->id.b);
	if (!rc) rc = vz_bm25_encode(m, &b);
	if (!rc) rc = vz_buf_u64(&b, n);
	for (size_t i = 0; i < c->n && !rc; i++)
		if (!c->files[i].in_base) rc = put_file_record(&b, &c->files[i]);
	for (int pass = 0; pass < 2 && !rc; pass++) { /* count the gone paths, then write them */
		if (pass) rc = vz_buf_u64(&b, ng);
		for (size_t i = 0, j = 0; i < old->n_base && !rc; i++) {
			int cmp = 1;
			for (; j < c->n && (cmp = strcmp(c->files[j].path, old->base_paths[i])) < 0; j++) {}
			if (j < c->n && !cmp) continue;
			if (!pass) ng++;
			else if (!(rc = vz_buf_u32(&b, (uint32_t)strlen(old->base_paths[i])))) rc = vz_buf_put(&b, old->base_paths[i], strlen(old->base_paths[i]));
		}
	}
	if (!rc) {
		vz_file_header h = { .version = DELTA_VERSION, .generation = c->generation, .aux = c->config_hash, .aux2 = old->base_generation };
		memcpy(h.magic, DELTA_MAGIC, 8);
		rc = vz_write_checked_file(dpath, &h, b.data, b.len);
	}
	vz_buf_free(&b);
	return rc;
}

/* Saves the records of c: as a cache.delta beside old's cache.bin when may_amend (the rows of
 * cache.bin's records still hold) and the changed records are few (a fifth of cache.bin's at
 * most), else as a new cache.bin and no cache.delta (removed after: a crash between leaves a
 * delta of an older cache.bin, which loads ignore). */
int ws_cache_store(const char *path, const ws_cache *c, const ws_cache *old, const vz_bm25 *m, bool may_amend)
{
	char dpath[VZ_PATH_MAX];
	int rc = delta_path_of(path, dpath, sizeof dpath);
	if (rc) return rc;
	size_t n = 0;
	for (size_t i = 0; i < c->n; i++) n += !c->files[i].in_base;
	if (may_amend && old->has_base && n * 5 <= old->n_base) return delta_save(dpath, c, old, m);
	if ((rc = cache_save(path, c, m))) return rc;
	return vz_io_unlink(dpath, true);
}
