/* wsbuild.c: `vz build` for one workspace collection (its files' records: ws_cache.c).
 *
 * An incremental build keeps the committed rows where they are and writes the rows of changed
 * and added files as a segment beside them (seg-G.vec and its graph seg-G.hnsw; the rows of
 * changed and removed files die: vz_collection_extend_snapshot), so that neither vectors.bin
 * nor index.hnsw is written again; a file's rows are numbered in the sequence of the base's
 * rows, then each segment's. With 8 segments, the segments and the new rows are folded into a
 * new base whose graph is the old one extended (every row keeps its number); when the dead rows
 * would pass a fifth of the rows, it writes the full snapshot in file order (no segments).
 * While the rows keep their numbers, cache.bin stays as it is too: the records that differ
 * from it go into cache.delta (ws_cache.c's delta_save), which loads apply over it, and
 * postings.bin stays too: the postings of the changed and added files go into postings.delta
 * (postings_delta.c), which queries merge with it; the folding build writes it whole again.
 * Keeping each chunk's text is what lets an incremental build re-read and re-embed only the
 * files that changed, and yet answer as a full build: an extended snapshot keeps the vectors of
 * the rows it keeps where they are, a snapshot written whole embeds the kept texts again (a
 * document vector depends on its text alone, so it gets the same bits). A binary file
 * (a NUL byte) is recorded with content hash 0 and no chunks, so that it is not read again
 * while its size and modification time stay the same. */
#include "ws_cache.h"
#include "postings_delta.h"

#include <fcntl.h>
#include <jansson.h>
#include <sys/stat.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BINARY_PROBE 8192
#define READ_THREADS_MAX 8 /* threads reading and embedding changed files */

static bool binary(const char *data, size_t len)
{
	return memchr(data, 0, len < BINARY_PROBE ? len : BINARY_PROBE) != NULL;
}

static int chunk_payload(vz_buf *pls, const char *path, uint32_t j, const ws_chunk *ch);
static int tokenize_file(vz_text_tokens *tok, ws_file *f);

/* Reads, chunks and embeds one file into f, and counts its terms (into df: each chunk once more
 * for each of its terms; *docs: its chunks) and tokens (into tok, f->pre). A text file whose
 * content hash is that of prev (its record of the last build, or NULL) is only touched: f
 * gets its size, time and hash, no chunks, nothing is counted (the caller keeps prev's rows,
 * by the same test). VZ_ENOENT when it vanished or is no longer a readable regular text file
 * (the caller skips it). */
static int embed_file(const vz_ws_collection *c, const vz_bm25 *m, const char *full, const vz_ws_entry *e, const ws_file *prev, ws_file *f,
		      vz_text_tokens *tok, vz_term_map *df, uint64_t *docs)
{
	char *data;
	size_t len;
	int rc = vz_read_file(full, c->max_file_size, &data, &len);
	if (rc == VZ_ENOMEM) return rc;
	if (rc) return VZ_ENOENT; /* vanished, replaced or grown past the limit meanwhile */
	memset(f, 0, sizeof *f);
	if (binary(data, len)) {
		free(data);
		f->size = len;
		f->mtime_ns = e->mtime_ns;
		return (f->path = strdup(e->path)) ? VZ_OK : vz_fail(VZ_ENOMEM, "out of memory");
	}
	f->size = len;
	f->mtime_ns = e->mtime_ns;
	f->hash = vz_hash64(data, len);
	if (prev && f->hash == prev->hash) {
		free(data);
		return (f->path = strdup(e->path)) ? VZ_OK : vz_fail(VZ_ENOMEM, "out of memory");
	}
	vz_ws_span *sp;
	size_t n;
	if ((rc = vz_ws_chunks(data, len, c->chunk_size, c->chunk_overlap, &sp, &n))) {
		free(data);
		return rc;
	}
	if (!(f->path = strdup(e->path)) || (n && !(f->chunks = calloc(n, sizeof *f->chunks)))) rc = vz_fail(VZ_ENOMEM, "out of memory");
	size_t line_at = 0;
	uint32_t line = 1;
	for (size_t i = 0; i < n && !rc; i++) {
		for (; line_at < sp[i].start; line_at++) line += data[line_at] == '\n';
		ws_chunk *ch = &f->chunks[f->n_chunks];
		size_t tl = sp[i].end - sp[i].start;
		if (!(ch->vec = malloc(c->cfg.dim * sizeof *ch->vec)) || !(ch->text = malloc(tl + 1))) {
			free(ch->vec);
			rc = vz_fail(VZ_ENOMEM, "out of memory");
			break;
		}
		rc = vz_embed_text_df(m, data + sp[i].start, tl, ch->vec, df);
		if (rc == VZ_EDATA) { /* no words in this chunk: not a row */
			free(ch->vec);
			free(ch->text);
			memset(ch, 0, sizeof *ch);
			rc = VZ_OK;
			continue;
		}
		memcpy(ch->text, data + sp[i].start, tl);
		ch->text[tl] = 0;
		ch->text_len = (uint32_t)tl;
		ch->start = sp[i].start;
		ch->end = sp[i].end;
		ch->line = line;
		vz_buf pl = { 0 };
		rc = chunk_payload(&pl, f->path, f->n_chunks, ch);
		char *fit = rc ? NULL : realloc(pl.data, pl.len); /* kept until the rows are written */
		if (fit) pl.data = (unsigned char *)fit;
		ch->payload = (char *)pl.data;
		ch->payload_len = (uint32_t)pl.len;
		if (!rc && pl.len > UINT32_MAX) rc = vz_fail(VZ_ERANGE, "%s: chunk %u: payload of %zu bytes", f->path, f->n_chunks, pl.len);
		f->n_chunks++;
	}
	free(sp);
	free(data);
	f->fresh = true;
	*docs += f->n_chunks;
	if (!rc) rc = tokenize_file(tok, f);
	if (rc) ws_file_free(f);
	return rc;
}

/* The tokens of file f for postings.bin (its title field: the lead of its first chunk), counted
 * into tok as write_postings would count them. */
static int tokenize_file(vz_text_tokens *tok, ws_file *f)
{
	vz_text_chunk one, *chunks = f->n_chunks > 1 ? calloc(f->n_chunks, sizeof *chunks) : &one;
	if (!chunks) return vz_fail(VZ_ENOMEM, "out of memory");
	vz_text_doc d = { .path = f->path, .chunks = chunks, .n_chunks = f->n_chunks };
	if (f->n_chunks) {
		d.title = f->chunks[0].text;
		d.title_len = (uint32_t)vz_text_title(f->chunks[0].text, f->chunks[0].text_len);
	}
	for (uint32_t j = 0; j < f->n_chunks; j++)
		chunks[j] = (vz_text_chunk){ .text = f->chunks[j].text, .len = f->chunks[j].text_len, .line = f->chunks[j].line, .start = f->chunks[j].start };
	int rc = vz_text_tokens_add(tok, &d, &f->pre);
	if (chunks != &one) free(chunks);
	return rc;
}

int vz_ws_row_id(const char *path, size_t path_len, uint32_t chunk, char *out, size_t cap)
{
	int n = snprintf(out, cap, "%.*s#%u", (int)path_len, path, chunk);
	if (n > VZ_MAX_ID_LEN) /* a very long path: name the row by the path's hash instead */
		n = snprintf(out, cap, "xxh3:%016" PRIx64 "#%u", vz_hash64(path, path_len), chunk);
	if (n < 0 || (size_t)n >= cap) return vz_fail(VZ_ERANGE, "row id of %s#%u: longer than %zu bytes", path, chunk, cap ? cap - 1 : 0);
	return VZ_OK;
}

static int row_id(vz_buf *ids, const char *path, uint32_t chunk)
{
	char id[VZ_MAX_ID_LEN + 1];
	int rc = vz_ws_row_id(path, strlen(path), chunk, id, sizeof id);
	return rc ? rc : vz_buf_printf(ids, "%s", id);
}

/* The extra members of metadata.json, as one object: "workspace" with the file, the
 * collection, its configuration hash, and the file's size and mtime at build time (so a query
 * can tell with one stat that the file changed since). NUL-terminated. */
static int ws_extra(const vz_workspace *w, const vz_ws_collection *wc, vz_buf *extra)
{
	struct stat st;
	if (stat(w->path, &st)) memset(&st, 0, sizeof st);
	int rc = vz_buf_put(extra, "{\"workspace\":{\"file\":", 21);
	if (!rc) rc = vz_buf_json_string(extra, w->path, strlen(w->path), 0);
	if (!rc) rc = vz_buf_printf(extra, ",\"collection\":");
	if (!rc) rc = vz_buf_json_string(extra, wc->full_name, strlen(wc->full_name), 0);
	if (!rc) rc = vz_buf_printf(extra, ",\"config_hash\":\"%016" PRIx64 "\",\"file_size\":%lld,\"file_mtime_ns\":%lld}}",
				    wc->config_hash, (long long)st.st_size,
				    (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec);
	if (!rc) rc = vz_buf_put(extra, "", 1);
	return rc;
}

/* The payload of chunk j of the file at path: its path, index, byte range and text, as JSON. */
static int chunk_payload(vz_buf *pls, const char *path, uint32_t j, const ws_chunk *ch)
{
	/* room for the usual escapes at once (a newline every 32 bytes, say), not many regrowths */
	int rc = vz_buf_reserve(pls, (size_t)ch->text_len + ch->text_len / 16 + strlen(path) + 96);
	if (!rc) rc = vz_buf_put(pls, "{\"path\":", 8);
	if (!rc) rc = vz_buf_json_string(pls, path, strlen(path), 0);
	if (!rc) rc = vz_buf_printf(pls, ",\"chunk\":%u,\"start\":%" PRIu64 ",\"end\":%" PRIu64 ",\"text\":", j, ch->start, ch->end);
	if (!rc) rc = vz_buf_json_string(pls, ch->text, ch->text_len, 0);
	if (!rc) rc = vz_buf_put(pls, "}", 1);
	return rc;
}

/* The rows of the files of c (of those with no row yet when fresh_only), in file order, chunk
 * order; their ids and payloads point into ids and pls. */
static int make_rows(const ws_cache *c, bool fresh_only, vz_row **out, size_t *nout, vz_buf *ids, vz_buf *pls)
{
	size_t n = 0;
	for (size_t i = 0; i < c->n; i++)
		if (!fresh_only || c->files[i].first_row == NO_ROW) n += c->files[i].n_chunks;
	vz_row *rows = calloc(n ? n : 1, sizeof *rows);
	size_t *id_off = calloc(n ? n : 1, sizeof *id_off), *pl_off = calloc(n ? n : 1, sizeof *pl_off);
	int rc = rows && id_off && pl_off ? VZ_OK : vz_fail(VZ_ENOMEM, "out of memory");
	size_t r = 0;
	for (size_t i = 0; i < c->n && !rc; i++) {
		const ws_file *f = &c->files[i];
		if (fresh_only && f->first_row != NO_ROW) continue;
		for (uint32_t j = 0; j < f->n_chunks && !rc; j++, r++) {
			const ws_chunk *ch = &f->chunks[j];
			id_off[r] = ids->len;
			rc = row_id(ids, f->path, j);
			rows[r].id_len = ids->len - id_off[r];
			rows[r].vector = ch->vec;
			if (ch->payload) { /* made by the thread that read the file */
				rows[r].payload = ch->payload;
				rows[r].payload_len = ch->payload_len;
				continue;
			}
			pl_off[r] = pls->len;
			if (!rc) rc = chunk_payload(pls, f->path, j, ch);
			rows[r].payload_len = pls->len - pl_off[r];
		}
	}
	/* the buffers may have moved while growing: point the rows into them now */
	for (size_t i = 0; i < n && !rc; i++) {
		rows[i].id = (const char *)ids->data + id_off[i];
		if (!rows[i].payload) rows[i].payload = (const char *)pls->data + pl_off[i];
	}
	free(id_off);
	free(pl_off);
	if (rc) {
		free(rows);
		return rc;
	}
	*out = rows;
	*nout = n;
	return VZ_OK;
}

/* Embeds again the chunks of c that have no vector (those cache.bin kept). */
static int ensure_vectors(ws_cache *c, const vz_bm25 *m)
{
	for (size_t i = 0; i < c->n; i++)
		for (uint32_t j = 0; j < c->files[i].n_chunks; j++) {
			ws_chunk *ch = &c->files[i].chunks[j];
			if (ch->vec) continue;
			if (!(ch->vec = malloc(c->dim * sizeof *ch->vec))) return vz_fail(VZ_ENOMEM, "out of memory");
			int rc = vz_embed_text(m, ch->text, ch->text_len, ch->vec);
			if (rc) return vz_fail(rc == VZ_EDATA ? VZ_ECORRUPT : rc, "%s: chunk %u has no words to embed", c->files[i].path, j);
		}
	return VZ_OK;
}

/* Writes the snapshot of cache c: rows in file order, chunk order (each file's first_row set);
 * before_commit(ctx), when not NULL, is called when its files are written, before the commit. */
static int write_snapshot(const char *dir, const char *extra, const vz_ws_collection *wc, ws_cache *c, const vz_bm25 *m, int threads,
			  bool defer_graph, int (*before_commit)(void *ctx), void *ctx)
{
	vz_row *rows = NULL;
	size_t n = 0;
	vz_buf ids = { 0 }, pls = { 0 };
	uint64_t row = 0;
	for (size_t i = 0; i < c->n; i++) {
		c->files[i].first_row = row;
		row += c->files[i].n_chunks;
	}
	int rc = ensure_vectors(c, m);
	if (!rc) rc = make_rows(c, false, &rows, &n, &ids, &pls);
	if (!rc) rc = vz_collection_write_snapshot_then(dir, &wc->cfg, rows, n, threads, c->generation, extra, defer_graph, before_commit, ctx);
	free(rows);
	vz_buf_free(&ids);
	vz_buf_free(&pls);
	return rc;
}

/* True when the rows that cache c gives its files lie among the n rows of the snapshot. */
static bool rows_fit(const ws_cache *c, uint64_t n)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->files[i].n_chunks && c->files[i].first_row != NO_ROW && (c->files[i].first_row > n || n - c->files[i].first_row < c->files[i].n_chunks))
			return false;
	return true;
}

/* The next snapshot as the committed one extended by a segment: the rows of the files of old
 * that are still there (changed or removed files) die, the files of c with no row yet are
 * appended. VZ_EINVAL or VZ_ECORRUPT when it cannot be done (vz_collection_extend_snapshot):
 * then nothing was written. */
static int extend_snapshot(const char *dir, const char *extra, const ws_cache *old, ws_cache *c, int threads)
{
	size_t n_dead = 0;
	for (size_t i = 0; i < old->n; i++) n_dead += old->files[i].n_chunks;
	uint64_t *dead = malloc((n_dead ? n_dead : 1) * sizeof *dead);
	if (!dead) return vz_fail(VZ_ENOMEM, "out of memory");
	n_dead = 0;
	for (size_t i = 0; i < old->n; i++)
		for (uint32_t j = 0; j < old->files[i].n_chunks; j++) dead[n_dead++] = old->files[i].first_row + j;
	vz_row *rows = NULL;
	size_t n = 0;
	vz_buf ids = { 0 }, pls = { 0 };
	uint64_t first = 0;
	int rc = make_rows(c, true, &rows, &n, &ids, &pls);
	if (!rc) rc = vz_collection_extend_snapshot(dir, dead, n_dead, rows, n, threads, extra, &first);
	for (size_t i = 0; i < c->n && !rc; i++) {
		ws_file *f = &c->files[i];
		if (f->first_row != NO_ROW) continue;
		f->first_row = first;
		first += f->n_chunks;
	}
	free(dead);
	free(rows);
	vz_buf_free(&ids);
	vz_buf_free(&pls);
	return rc;
}

/* The tombstone rows a segment needs for the records left in old (changed and removed files,
 * sorted by path): one for each of their chunks that the file's new rows in c (c->files with
 * no row yet, sorted by path) do not number again. */
static uint64_t tombstone_rows(const ws_cache *old, const ws_cache *c)
{
	uint64_t n = 0;
	size_t j = 0;
	for (size_t i = 0; i < old->n; i++) {
		const ws_file *f = &old->files[i];
		if (!f->path || !f->n_chunks) continue;
		int cmp = 1;
		for (; j < c->n && (cmp = strcmp(c->files[j].path, f->path)) < 0; j++) {}
		uint32_t kept = j < c->n && !cmp && c->files[j].first_row == NO_ROW ? c->files[j].n_chunks : 0;
		if (f->n_chunks > kept) n += f->n_chunks - kept;
	}
	return n;
}

/* postings.bin for the files of cache c (the snapshot of generation c->generation), as NAME
 * (postings.bin or postings.bin.new: see vz_workspace_build): what postings_prepare gathers
 * from c, so that postings_run can write it on another thread while c changes (write_snapshot
 * numbers its rows meanwhile). */
typedef struct postings_job {
	char path[VZ_PATH_MAX];
	const vz_ws_collection *wc;
	const vz_text_index *old;
	uint64_t generation;
	vz_text_doc *docs;
	vz_text_chunk *chunks;
	int64_t *from;
	size_t n;
	vz_buf body; /* encoded on another thread (postings_thread), written by postings_join */
	int rc;
	char msg[1024]; /* the error of the encoding on another thread */
	pthread_t thread;
	bool started;
} postings_job;

/* The files kept from the last build (first_row set) take their postings from old, its
 * postings.bin, when there is one. */
static int postings_prepare(postings_job *j, const char *dir, const char *name, const vz_ws_collection *wc, const ws_cache *c,
			    const vz_text_index *old)
{
	memset(j, 0, sizeof *j);
	j->wc = wc;
	j->generation = c->generation;
	int rc = vz_path_fmt(j->path, sizeof j->path, "%s/%s", dir, name);
	if (rc) return rc;
	vz_text_doc *docs = j->docs = calloc(c->n ? c->n : 1, sizeof *docs);
	size_t n = 0, nch = 0;
	for (size_t i = 0; i < c->n; i++) nch += c->files[i].n_chunks;
	vz_text_chunk *chunks = j->chunks = calloc(nch ? nch : 1, sizeof *chunks);
	if (!docs || !chunks) return vz_fail(VZ_ENOMEM, "out of memory");
	nch = 0;
	for (size_t i = 0; i < c->n; i++) {
		const ws_file *f = &c->files[i];
		vz_text_doc *d = &docs[n++];
		d->path = f->path;
		d->hash = f->hash;
		d->size = f->size;
		d->mtime_ns = f->mtime_ns;
		if (f->n_chunks) { /* else no words: no rows, no title */
			d->title = f->chunks[0].text;
			d->title_len = (uint32_t)vz_text_title(f->chunks[0].text, f->chunks[0].text_len);
		}
		d->chunks = chunks + nch;
		d->n_chunks = f->n_chunks;
		d->pre = f->fresh ? &f->pre : NULL; /* tokenized when it was read */
		for (uint32_t k = 0; k < f->n_chunks; k++, nch++)
			chunks[nch] = (vz_text_chunk){ .text = f->chunks[k].text, .len = f->chunks[k].text_len, .line = f->chunks[k].line, .start = f->chunks[k].start };
	}
	j->n = n;
	int64_t *from = old ? malloc((c->n ? c->n : 1) * sizeof *from) : NULL;
	if (old && !from) old = NULL; /* tokenize them all: slower, the same bytes */
	for (size_t i = 0, k = 0; old && i < c->n; i++) {
		vz_text_file_stat fs = { 0 };
		from[i] = -1;
		if (c->files[i].first_row == NO_ROW) continue;
		size_t pl = strlen(c->files[i].path);
		int cmp = -1;
		for (; k < vz_text_index_files(old) && !vz_text_index_file(old, (uint32_t)k, &fs); k++) {
			cmp = memcmp(fs.path, c->files[i].path, fs.path_len < pl ? fs.path_len : pl);
			if (!cmp) cmp = (fs.path_len > pl) - (fs.path_len < pl);
			if (cmp >= 0) break;
		}
		if (!cmp) from[i] = (int64_t)k;
	}
	j->old = old;
	j->from = from;
	return VZ_OK;
}

/* The body of postings.bin into j->body: no I/O, so that it can run on another thread. */
static int postings_encode(postings_job *j)
{
	int rc = vz_text_index_encode(j->old, j->from, j->docs, j->n, &j->wc->text, &j->body);
	if (rc == VZ_ECORRUPT && j->old) {
		j->body.len = 0;
		rc = vz_text_index_encode(NULL, NULL, j->docs, j->n, &j->wc->text, &j->body);
	}
	return rc;
}

static void *postings_thread(void *arg)
{
	postings_job *j = arg;
	if ((j->rc = postings_encode(j))) snprintf(j->msg, sizeof j->msg, "%s", vz_last_error());
	return NULL;
}

/* Waits for the encoding started on another thread, then writes the file here (lib/io.c is
 * for one thread at a time): a snapshot's before_commit. */
static int postings_join(void *arg)
{
	postings_job *j = arg;
	if (!j->started) return VZ_OK; /* run here (postings_run) before the snapshot was begun */
	pthread_join(j->thread, NULL);
	j->started = false;
	if (j->rc) return vz_fail(j->rc, "%s", j->msg);
	return vz_text_index_write_body(j->path, &j->body, j->generation, j->wc->config_hash);
}

static int postings_run(postings_job *j)
{
	int rc = postings_encode(j);
	return rc ? rc : vz_text_index_write_body(j->path, &j->body, j->generation, j->wc->config_hash);
}

/* postings.delta.new instead of postings.bin.new, here: the postings of the files that
 * postings.bin (of j->old) does not hold as they are. VZ_ECORRUPT when j->old's bytes do not
 * hold (then postings.bin is written whole). */
static int postings_delta_run(postings_job *j, const char *dir)
{
	uint64_t base_gen;
	int rc = vz_path_fmt(j->path, sizeof j->path, "%s/postings.delta.new", dir);
	if (!rc) rc = vz_ti_delta_encode(j->old, j->docs, j->from, j->n, &j->wc->text, &j->body, &base_gen);
	if (!rc) rc = vz_ti_delta_write(j->path, &j->body, j->generation, base_gen, j->wc->config_hash);
	vz_buf_free(&j->body);
	return rc;
}

/* A postings.bin written whole: no postings.delta (nor one a crash left) amends it. */
static int drop_postings_delta(const char *dir)
{
	char p[VZ_PATH_MAX];
	int rc = vz_path_fmt(p, sizeof p, "%s/postings.delta", dir);
	if (!rc) rc = vz_io_unlink(p, true);
	if (!rc && !(rc = vz_path_fmt(p, sizeof p, "%s/postings.delta.new", dir))) rc = vz_io_unlink(p, true);
	return rc;
}

static void postings_free(postings_job *j)
{
	if (j->started) pthread_join(j->thread, NULL);
	vz_buf_free(&j->body);
	free(j->from);
	free(j->docs);
	free(j->chunks);
	memset(j, 0, sizeof *j);
}

/* Writes postings.bin for the files of cache c as NAME, here (see postings_prepare). */
static int write_postings(const char *dir, const char *name, const vz_ws_collection *wc, const ws_cache *c, const vz_text_index *old)
{
	postings_job j;
	int rc = postings_prepare(&j, dir, name, wc, c, old);
	if (!rc) rc = postings_run(&j);
	postings_free(&j);
	return rc;
}

/* True when cache.bin is there, of this format version and of generation gen, or amended to
 * that generation by the cache.delta beside it (headers only). */
static bool cache_of_generation(const char *dir, uint64_t gen)
{
	char cp[VZ_PATH_MAX];
	vz_file_header h, d;
	if (vz_path_fmt(cp, sizeof cp, "%s/cache.bin", dir) || vz_header_read(cp, VZ_MAGIC_CACHE, CACHE_VERSION, &h) || h.version != CACHE_VERSION)
		return false;
	if (!vz_path_fmt(cp, sizeof cp, "%s/cache.delta", dir) && !vz_header_read(cp, DELTA_MAGIC, DELTA_VERSION, &d) && d.aux2 == h.generation)
		return d.generation == gen;
	return h.generation == gen;
}

/* postings.bin, open, when it and cache.bin are of generation gen and it has the weights of wc;
 * else NULL. (cache.bin too: a crash after the snapshot's commit leaves it behind, and then
 * the slow path writes it again.) */
static vz_text_index *open_current(const char *dir, const vz_ws_collection *wc, uint64_t gen)
{
	vz_text_index *x;
	if (!cache_of_generation(dir, gen) || vz_text_index_open_dir(dir, gen, &x)) return NULL;
	vz_text_weights w = vz_text_index_weights(x);
	if (vz_text_index_generation(x) == gen && !memcmp(&w, &wc->text, sizeof w)) return x;
	vz_text_index_close(x);
	return NULL;
}

/* True when postings.bin is there, of generation gen and with the weights of wc. */
static bool postings_current(const char *dir, const vz_ws_collection *wc, uint64_t gen)
{
	vz_text_index *x = open_current(dir, wc, gen);
	bool ok = x != NULL;
	vz_text_index_close(x);
	return ok;
}

/* The stat-first check (as git's index does): true when postings.bin of the committed
 * generation was built with this configuration from exactly these paths, sizes and
 * modification times, so that nothing needs reading; fills st. */
static bool unchanged(const char *dir, const vz_ws_collection *wc, const vz_ws_entry *ents, size_t n, uint64_t gen, vz_ws_stats *st)
{
	vz_text_index *x = open_current(dir, wc, gen);
	if (!x) return false;
	bool same = vz_text_index_config(x) == wc->config_hash && vz_text_index_files(x) == n;
	uint64_t chunks = 0, files = 0;
	for (size_t i = 0; i < n && same; i++) {
		vz_text_file_stat fs;
		same = !vz_text_index_file(x, (uint32_t)i, &fs) && fs.path_len == strlen(ents[i].path) &&
		       !memcmp(fs.path, ents[i].path, fs.path_len) && fs.size == ents[i].size && fs.mtime_ns == ents[i].mtime_ns;
		chunks += fs.chunks;
		files += !(fs.hash == 0 && fs.chunks == 0);
	}
	vz_text_index_close(x);
	if (same) {
		st->files = files;
		st->binary = n - files;
		st->chunks = chunks;
	}
	return same;
}

static int open_collection_dir(const char *data_dir, const vz_ws_collection *wc, int timeout_ms, char *dir, size_t cap, vz_lock *lock)
{
	int rc = vz_path_fmt(dir, cap, "%s/workspace/%s/%s", data_dir, wc->project, wc->name);
	if (rc || (rc = vz_io_mkdir_p(dir, 0755))) return rc;
	char lp[VZ_PATH_MAX];
	int fd;
	if ((rc = vz_path_fmt(lp, sizeof lp, "%s/LOCK", dir))) return rc;
	if ((rc = vz_io_open_write(lp, O_WRONLY | O_CREAT, 0644, &fd))) return rc;
	vz_io_close(fd);
	return vz_collection_lock(dir, VZ_LOCK_EXCLUSIVE, timeout_ms, lock);
}

/* ---- reading the files that changed, on every core ---- */

/* What embed_file made of one file, or its error (msg: the detail, from the reading thread). */
typedef struct read_result {
	ws_file f;
	int rc;
	char *msg;
} read_result;

typedef struct read_job {
	const vz_ws_collection *wc;
	const vz_bm25 *model;
	const vz_ws_entry *ents;
	ws_file *const *prev_of; /* per entry: its record of the last build, or NULL */
	const size_t *todo;
	size_t n_todo, next; /* next: the next item to take (atomic) */
	read_result *res;
} read_job;

typedef struct read_thread {
	read_job *j;
	vz_text_tokens *tok; /* this thread's: the tokens of the files it read */
	vz_term_map df;      /* the df counts of the chunks of the files it read (not only touched) */
	uint64_t docs;       /* and how many chunks they are */
} read_thread;

static void *read_worker(void *arg)
{
	read_thread *rt = arg;
	read_job *j = rt->j;
	for (;;) {
		size_t t = __atomic_fetch_add(&j->next, 1, __ATOMIC_RELAXED);
		if (t >= j->n_todo) break;
		const vz_ws_entry *e = &j->ents[j->todo[t]];
		read_result *r = &j->res[t];
		char full[VZ_PATH_MAX];
		r->rc = vz_path_fmt(full, sizeof full, "%s/%s", j->wc->project_dir, e->path);
		if (!r->rc) r->rc = embed_file(j->wc, j->model, full, e, j->prev_of[j->todo[t]], &r->f, rt->tok, &rt->df, &rt->docs);
		if (r->rc && r->rc != VZ_ENOENT) r->msg = strdup(vz_last_error());
	}
	return NULL;
}

static void read_results_free(read_result *res, size_t n)
{
	for (size_t i = 0; res && i < n; i++) {
		ws_file_free(&res[i].f);
		free(res[i].msg);
	}
	free(res);
}

/* Reads, chunks and embeds the files ents[todo[0..n)] into *out (one result each, in that
 * order), with a thread a core: each result depends on its file alone, so the same bytes come
 * out whatever the count (the model is only read). The tokens of the files a thread read go
 * into toks[thread] (READ_THREADS_MAX of them, made here; the caller frees them after
 * write_postings, which takes the tokens over), the df counts of their chunks into
 * df[thread] and their number into docs[thread] (zeroed by the caller; files only touched
 * count nothing: see embed_file). */
static int read_changed(const vz_ws_collection *wc, const vz_bm25 *model, const vz_ws_entry *ents, ws_file *const *prev_of,
			const size_t *todo, size_t n, read_result **out, vz_text_tokens **toks, vz_term_map *df, uint64_t *docs)
{
	read_job j = { .wc = wc, .model = model, .ents = ents, .prev_of = prev_of, .todo = todo, .n_todo = n };
	if (!(j.res = *out = calloc(n ? n : 1, sizeof *j.res))) return vz_fail(VZ_ENOMEM, "out of memory");
	cpu_set_t set; /* the cores this process may run on (taskset, cgroups) */
	int cores = sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 1;
	size_t threads = cores < 1 ? 1 : cores > READ_THREADS_MAX ? READ_THREADS_MAX : (size_t)cores;
	if (threads > n / 8 + 1) threads = n / 8 + 1; /* a few files: not worth a thread */
	pthread_t t[READ_THREADS_MAX];
	read_thread rt[READ_THREADS_MAX];
	for (size_t i = 0; i < threads; i++) {
		int rc = vz_text_tokens_new(&toks[i]);
		if (rc) return rc;
		rt[i] = (read_thread){ .j = &j, .tok = toks[i] };
	}
	size_t started = 0;
	for (; started + 1 < threads; started++)
		if (pthread_create(&t[started], NULL, read_worker, &rt[started + 1])) break;
	read_worker(&rt[0]); /* this thread reads too (alone when no thread started) */
	for (size_t i = 0; i < started; i++) pthread_join(t[i], NULL);
	for (size_t i = 0; i < threads; i++) {
		df[i] = rt[i].df;
		docs[i] = rt[i].docs;
	}
	return VZ_OK;
}

int vz_workspace_build(const vz_workspace *w, const vz_ws_collection *wc, const char *data_dir, unsigned flags,
		       int threads, int lock_timeout_ms, vz_ws_progress_fn progress, void *ctx, vz_ws_stats *st)
{
	double t0 = vz_now();
	bool force = flags & VZ_WS_BUILD_FORCE;
	memset(st, 0, sizeof *st);
	st->index = "kept";
	char dir[VZ_PATH_MAX], cpath[VZ_PATH_MAX];
	vz_lock lock = VZ_LOCK_INIT;
	int rc = open_collection_dir(data_dir, wc, lock_timeout_ms, dir, sizeof dir, &lock);
	if (rc) return vz_fail_prefix(rc, "%s: ", wc->full_name);
	ws_cache old = { 0 }, cur = { 0 };
	vz_ws_entry *ents = NULL;
	size_t n_ents = 0;
	vz_bm25 *model = NULL;
	vz_buf extra = { 0 }; /* metadata.json's extra members for this build */
	vz_text_index *prev_postings = NULL;
	vz_text_tokens *toks[READ_THREADS_MAX] = { 0 }; /* of the threads that read the files */
	vz_term_map dfs[READ_THREADS_MAX] = { 0 };      /* their counts of the terms of the files they read */
	uint64_t df_docs[READ_THREADS_MAX] = { 0 };
	if ((rc = vz_path_fmt(cpath, sizeof cpath, "%s/cache.bin", dir)) || (rc = ws_extra(w, wc, &extra))) goto out;
	vz_meta meta;
	uint64_t meta_gen = 0, meta_rows = 0;
	uint32_t meta_segs = 0;
	bool have_meta = vz_meta_read(dir, &meta) == VZ_OK, stamp_old = false;
	if (have_meta) {
		meta_gen = meta.generation;
		/* the row space: the base's rows, then each segment's (coll_segment.c) */
		meta_rows = meta.rows;
		meta_segs = meta.nsegments;
		for (uint32_t i = 0; i < meta.nsegments; i++) meta_rows += meta.segments[i].rows;
		json_t *a = json_loads(meta.extra_json, 0, NULL), *b = json_loadb((const char *)extra.data, extra.len - 1, 0, NULL);
		stamp_old = !a || !b || !json_equal(a, b);
		json_decref(a);
		json_decref(b);
		vz_meta_free(&meta);
	}
	if ((rc = vz_ws_walk(wc, data_dir, &ents, &n_ents))) goto out;
	st->too_large = vz_ws_walk_too_large();
	if (!force && have_meta && !stamp_old && unchanged(dir, wc, ents, n_ents, meta_gen, st)) {
		st->tombstones = meta_rows > st->chunks ? meta_rows - st->chunks : 0; /* the rows no file has */
		goto out;
	}
	if (ws_cache_load(cpath, &old, NULL) == VZ_ENOMEM) {
		rc = VZ_ENOMEM;
		goto out;
	}
	uint64_t generation = old.generation > meta_gen ? old.generation : meta_gen;
	/* the committed graph can be extended when cache.bin tells the rows of that snapshot */
	bool extensible = have_meta && old.n && old.generation == meta_gen && wc->cfg.quantization != VZ_QUANT_SQ8;
	if (force || old.config_hash != wc->config_hash || old.dim != wc->cfg.dim || (old.n && old.version < 3)) {
		extensible = false;
		st->rebuilt = old.n > 0 || force;
		ws_cache_free(&old);
	}
	/* the df table of the files kept is the old one, less the changed and removed files'
	 * chunks, plus the new ones' (the same counts as counting every chunk again) */
	bool count_all = !old.model;
	if (old.model) model = old.model, old.model = NULL;
	else if ((rc = vz_bm25_new(wc->cfg.dim, &model))) goto out;
	vz_bm25_set_native(model, vz_native_code(wc->cfg.embedding, wc->ngram_min, wc->ngram_max));
	cur.dim = wc->cfg.dim;
	cur.config_hash = wc->config_hash;
	if (n_ents && !(cur.files = calloc(n_ents, sizeof *cur.files))) {
		rc = vz_fail(VZ_ENOMEM, "out of memory");
		goto out;
	}
	size_t oi = 0;
	bool restat = false; /* the rows stay, the recorded sizes, times or binary files do not */
	/* first the stat-first match against the last build, then the files that differ are read
	 * on every core (read_changed), then taken in path order */
	ws_file **prev_of = calloc(n_ents ? n_ents : 1, sizeof *prev_of);
	size_t *todo = calloc(n_ents ? n_ents : 1, sizeof *todo), n_todo = 0;
	read_result *res = NULL;
	if (!prev_of || !todo) {
		free(prev_of);
		free(todo);
		rc = vz_fail(VZ_ENOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n_ents; i++) {
		const vz_ws_entry *e = &ents[i];
		for (; oi < old.n && strcmp(old.files[oi].path, e->path) < 0; oi++) {
			if (ws_file_skipped(&old.files[oi])) restat = true;
			else st->removed++;
		}
		ws_file *prev = oi < old.n && !strcmp(old.files[oi].path, e->path) ? &old.files[oi] : NULL;
		if (prev) oi++;
		prev_of[i] = prev;
		if (!(prev && prev->size == e->size && prev->mtime_ns == e->mtime_ns)) todo[n_todo++] = i;
	}
	for (; oi < old.n; oi++) {
		if (ws_file_skipped(&old.files[oi])) restat = true;
		else st->removed++;
	}
	rc = read_changed(wc, model, ents, prev_of, todo, n_todo, &res, toks, dfs, df_docs);
	for (size_t i = 0, t = 0; i < n_ents && !rc; i++) {
		const vz_ws_entry *e = &ents[i];
		ws_file *prev = prev_of[i];
		if (progress) progress(ctx, i, n_ents);
		if (t == n_todo || todo[t] != i) {
			cur.files[cur.n++] = *prev; /* unchanged: moved over with its rows, not re-read */
			memset(prev, 0, sizeof *prev);
			continue;
		}
		read_result *r = &res[t++];
		ws_file f = r->f;
		memset(&r->f, 0, sizeof r->f);
		rc = r->rc;
		st->read += rc == VZ_OK;
		if (rc == VZ_ENOENT) { /* vanished: as if it were not there */
			rc = VZ_OK;
			if (prev && !ws_file_skipped(prev)) st->removed++;
			if (prev && ws_file_skipped(prev)) restat = true;
			continue;
		}
		if (rc) {
			vz_fail(rc, "%s", r->msg ? r->msg : vz_strerror(rc));
			break;
		}
		if (prev && prev->hash == f.hash) {
			/* only touched: keep the old rows, take the new size (binary) and mtime */
			ws_file_free(&f);
			prev->size = e->size;
			prev->mtime_ns = e->mtime_ns;
			prev->in_base = false; /* a record unlike cache.bin's now */
			restat = true;
			cur.files[cur.n++] = *prev;
			memset(prev, 0, sizeof *prev);
			continue;
		}
		f.first_row = NO_ROW;
		if (prev && !ws_file_skipped(prev)) st->changed++;
		else if (!ws_file_skipped(&f)) st->added++;
		else restat = true; /* a new binary file, or a text file that became one */
		cur.files[cur.n++] = f;
	}
	read_results_free(res, n_todo);
	free(prev_of);
	free(todo);
	if (rc) goto out;
	if (progress) progress(ctx, n_ents, n_ents);
	for (size_t i = 0; i < old.n && !count_all; i++) /* what is left in old: changed and removed files */
		for (uint32_t j = 0; j < old.files[i].n_chunks && !rc; j++)
			rc = vz_bm25_remove_document(model, old.files[i].chunks[j].text, old.files[i].chunks[j].text_len);
	for (size_t i = 0; i < cur.n && !rc; i++) {
		st->chunks += cur.files[i].n_chunks;
		if (!count_all && cur.files[i].first_row != NO_ROW) continue; /* counted in the old table */
		if (cur.files[i].fresh) continue; /* its terms were counted when it was read: dfs */
		for (uint32_t j = 0; j < cur.files[i].n_chunks && !rc; j++)
			rc = vz_bm25_add_document(model, cur.files[i].chunks[j].text, cur.files[i].chunks[j].text_len);
	}
	for (int i = 0; i < READ_THREADS_MAX && !rc; i++) {
		rc = vz_bm25_add_df(model, &dfs[i], df_docs[i]);
		vz_term_map_free(&dfs[i]);
	}
	if (rc) goto out;
	for (size_t i = 0; i < cur.n; i++) {
		if (ws_file_skipped(&cur.files[i])) st->binary++;
		else st->files++;
	}
	/* the committed postings.bin, whose postings of the files kept are taken over */
	int prc = count_all ? VZ_ENOENT : vz_text_index_open_dir(dir, meta_gen, &prev_postings);
	if (prc == VZ_OK && vz_text_index_config(prev_postings) != wc->config_hash) {
		vz_text_index_close(prev_postings);
		prev_postings = NULL;
	} else if (prc == VZ_ECORRUPT) {
		/* a postings.delta (or its postings.bin) that does not open is not trusted: the
		 * snapshot is written whole */
		char dp[VZ_PATH_MAX];
		if (!vz_path_fmt(dp, sizeof dp, "%s/postings.delta", dir) && access(dp, F_OK) == 0) extensible = false;
	}
	bool dirty = st->rebuilt || st->changed || st->added || st->removed || !have_meta || old.config_hash != wc->config_hash;
	if (dirty) {
		cur.generation = generation + 1;
		/* postings.bin.new, then the snapshot's commit (metadata.json), then the rename to
		 * postings.bin: a crash anywhere leaves a postings file of the committed generation,
		 * which readers pick (vz_text_index_open_dir) */
		char settled[VZ_PATH_MAX];
		/* what is left in old is the records of changed and removed files: their rows die */
		uint64_t added = 0, live = 0;
		for (size_t i = 0; i < cur.n; i++) {
			live += cur.files[i].n_chunks;
			if (cur.files[i].first_row == NO_ROW) added += cur.files[i].n_chunks;
		}
		/* the rows after a segment: those there, the new ones, and a tombstone row for each
		 * dead row whose id (path#chunk) no new row takes over */
		uint64_t total = meta_rows + added + tombstone_rows(&old, &cur), dead = total > live ? total - live : 0;
		bool extend = extensible && rows_fit(&old, meta_rows) && rows_fit(&cur, meta_rows) && dead * 5 <= total;
		/* for a snapshot written whole, postings.bin.new is encoded on another thread while
		 * the snapshot's files are written, and written itself before the commit */
		postings_job pj;
		/* a segment (not the folding one) leaves postings.bin as it is too: the postings of
		 * the changed and added files go into postings.delta */
		bool pdelta = extend && prev_postings && meta_gen && meta_segs < VZ_MAX_SEGMENTS;
		uint64_t pbase_gen = prev_postings ? vz_text_index_base_generation(prev_postings) : 0;
		/* a committed postings.bin.new or postings.delta.new (a crash before its rename) takes
		 * its name first: the .new this build writes must not replace it */
		if (prev_postings && ((rc = vz_settle_data_file(dir, "postings.bin", VZ_MAGIC_POSTINGS, pbase_gen, true, settled, sizeof settled)) ||
				      (pbase_gen != meta_gen && (rc = vz_settle_data_file(dir, "postings.delta", VZ_MAGIC_PDELTA, meta_gen, true, settled, sizeof settled)))))
			goto out;
		rc = postings_prepare(&pj, dir, "postings.bin.new", wc, &cur, prev_postings);
		if (!rc && pdelta && (rc = postings_delta_run(&pj, dir)) == VZ_ECORRUPT) {
			/* postings.bin damaged: written whole; postings.delta damaged: not trusted, the
			 * snapshot is written whole */
			if (vz_text_index_base_generation(prev_postings) != vz_text_index_generation(prev_postings)) extend = false;
			pdelta = false;
			rc = vz_path_fmt(pj.path, sizeof pj.path, "%s/postings.bin.new", dir);
		}
		if (!rc && !pdelta && !extend && !pthread_create(&pj.thread, NULL, postings_thread, &pj)) pj.started = true;
		else if (!rc && !pdelta) rc = postings_run(&pj);
		if (rc) {
			postings_free(&pj);
			goto out;
		}
		rc = VZ_EINVAL;
		st->index = "extended";
		st->appended = added;
		st->tombstones = dead;
		if (extend) rc = extend_snapshot(dir, (const char *)extra.data, &old, &cur, threads);
		if (rc == VZ_EINVAL || rc == VZ_ECORRUPT) { /* too many tombstones, no graph to extend, or a damaged one */
			/* the graph, the most of a first build's time, can wait for a detached checkpoint:
			 * --text queries never use it, --vector ones scan the rows until it is there */
			bool defer = (flags & VZ_WS_BUILD_DEFER_GRAPH) && wc->cfg.quantization != VZ_QUANT_SQ8 && st->chunks > 0;
			st->index = defer ? "deferred" : "built";
			st->appended = st->chunks;
			st->tombstones = 0;
			if (pdelta) { /* a snapshot written whole after all: postings.bin too */
				pdelta = false;
				rc = vz_path_fmt(pj.path, sizeof pj.path, "%s/postings.bin.new", dir);
				if (!rc) rc = postings_run(&pj);
				if (rc) {
					postings_free(&pj);
					goto out;
				}
			}
			rc = write_snapshot(dir, (const char *)extra.data, wc, &cur, model, threads, defer, postings_join, &pj);
		}
		postings_free(&pj);
		if (rc) goto out;
		if (pdelta) {
			if ((rc = vz_settle_data_file(dir, "postings.delta", VZ_MAGIC_PDELTA, cur.generation, true, settled, sizeof settled)) ||
			    (rc = vz_settle_data_file(dir, "postings.bin", VZ_MAGIC_POSTINGS, pbase_gen, true, settled, sizeof settled)))
				goto out;
		} else if ((rc = vz_settle_data_file(dir, "postings.bin", VZ_MAGIC_POSTINGS, cur.generation, true, settled, sizeof settled)) ||
			   (rc = drop_postings_delta(dir)))
			goto out;
		/* cache.bin carries the identity the snapshot was given */
		if ((rc = vz_meta_read(dir, &meta))) goto out;
		cur.id = meta.id;
		vz_meta_free(&meta);
		/* a segment leaves the rows of cache.bin's records where they are: a delta will do */
		rc = ws_cache_store(cpath, &cur, &old, model, !strcmp(st->index, "extended"));
		goto out;
	}
	st->tombstones = meta_rows > st->chunks ? meta_rows - st->chunks : 0;
	if (restat || !postings_current(dir, wc, generation)) {
		/* the same rows, but files touched, binary files come or gone, a collection built
		 * before postings.bin existed, or other ranking weights: postings.bin and cache.bin
		 * of the same generation, so that the next build's stat-first check holds */
		cur.generation = generation;
		if ((rc = vz_meta_read(dir, &meta))) goto out;
		cur.id = meta.id; /* the snapshot's identity, as after a snapshot */
		vz_meta_free(&meta);
		if ((rc = write_postings(dir, "postings.bin", wc, &cur, prev_postings)) || (rc = drop_postings_delta(dir)) ||
		    (rc = ws_cache_store(cpath, &cur, &old, model, true)))
			goto out;
	}
	if (stamp_old && vz_meta_read(dir, &meta) == VZ_OK) {
		/* the workspace file changed, not this collection: only its record in metadata.json */
		char *prev = meta.extra_json;
		meta.extra_json = (char *)extra.data;
		rc = vz_meta_write(dir, &meta);
		meta.extra_json = prev;
		vz_meta_free(&meta);
	}
out:
	st->seconds = vz_now() - t0;
	vz_ws_entries_free(ents, n_ents);
	vz_bm25_free(model);
	vz_buf_free(&extra);
	vz_text_index_close(prev_postings);
	ws_cache_free(&old);
	ws_cache_free(&cur);
	for (int i = 0; i < READ_THREADS_MAX; i++) {
		vz_text_tokens_free(toks[i]);
		vz_term_map_free(&dfs[i]);
	}
	vz_lock_release(&lock);
	if (rc) vz_fail_prefix(rc, "%s: ", wc->full_name);
	return rc;
}

int vz_workspace_config_changed(const char *collection_dir, const char *yaml_path, bool *changed)
{
	*changed = true;
	char path[VZ_PATH_MAX];
	int rc = vz_path_fmt(path, sizeof path, "%s/cache.bin", collection_dir);
	if (rc) return rc;
	vz_file_header h;
	if ((rc = vz_header_read(path, VZ_MAGIC_CACHE, CACHE_VERSION, &h))) return rc == VZ_ECORRUPT ? vz_fail_prefix(rc, "%s: ", path) : rc;
	vz_workspace *w;
	if ((rc = vz_workspace_load(yaml_path, &w))) return rc;
	/* the collection's name is the last two components of its directory */
	char name[VZ_PATH_MAX];
	snprintf(name, sizeof name, "%s", collection_dir);
	size_t l = strlen(name);
	while (l > 1 && name[l - 1] == '/') name[--l] = 0;
	char *c = strrchr(name, '/'), *p = NULL;
	if (c) {
		*c = 0;
		p = strrchr(name, '/');
		*c = '/';
	}
	const vz_ws_collection *wc = vz_workspace_find(w, p ? p + 1 : name);
	*changed = !wc || wc->config_hash != h.aux;
	vz_workspace_free(w);
	return VZ_OK;
}

int vz_workspace_diff(const vz_workspace *w, const vz_ws_collection *wc, const char *data_dir, vz_ws_diff_fn fn, void *ctx,
		      vz_ws_stats *st)
{
	(void)w;
	double t0 = vz_now();
	memset(st, 0, sizeof *st);
	char cpath[VZ_PATH_MAX];
	int rc = vz_path_fmt(cpath, sizeof cpath, "%s/workspace/%s/%s/cache.bin", data_dir, wc->project, wc->name);
	if (rc) return rc;
	ws_cache old = { 0 };
	rc = ws_cache_load(cpath, &old, NULL);
	if (rc == VZ_ENOENT || rc == VZ_ECORRUPT) {
		st->not_built = rc == VZ_ENOENT;
		st->rebuilt = rc == VZ_ECORRUPT;
		rc = VZ_OK;
	}
	if (rc) return vz_fail_prefix(rc, "%s: ", wc->full_name);
	if (old.n && (old.config_hash != wc->config_hash || old.dim != wc->cfg.dim)) st->rebuilt = true;
	vz_ws_entry *ents = NULL;
	size_t n_ents = 0, oi = 0;
	if ((rc = vz_ws_walk(wc, data_dir, &ents, &n_ents))) goto out;
	st->too_large = vz_ws_walk_too_large();
	for (size_t i = 0; i < n_ents && !rc; i++) {
		const vz_ws_entry *e = &ents[i];
		while (oi < old.n && strcmp(old.files[oi].path, e->path) < 0) {
			if (!ws_file_skipped(&old.files[oi])) {
				st->removed++;
				if (fn) fn(ctx, 'R', old.files[oi].path);
			}
			oi++;
		}
		ws_file *prev = oi < old.n && !strcmp(old.files[oi].path, e->path) ? &old.files[oi++] : NULL;
		if (prev && prev->size == e->size && prev->mtime_ns == e->mtime_ns) {
			if (ws_file_skipped(prev)) st->binary++; /* recorded as binary: not read again */
			else st->files++;
			continue;
		}
		if (prev && ws_file_skipped(prev)) prev = NULL; /* a binary file's record has no rows to change */
		char full[VZ_PATH_MAX];
		char *data;
		size_t len;
		if ((rc = vz_path_fmt(full, sizeof full, "%s/%s", wc->project_dir, e->path))) break;
		int r = vz_read_file(full, wc->max_file_size, &data, &len);
		if (r == VZ_ENOMEM) {
			rc = r;
			break;
		}
		if (r) continue; /* vanished meanwhile */
		bool bin = binary(data, len);
		uint64_t h = vz_hash64(data, len);
		free(data);
		if (bin) {
			st->binary++;
			if (prev) {
				st->removed++;
				if (fn) fn(ctx, 'R', e->path);
			}
			continue;
		}
		st->files++;
		if (prev && prev->hash == h) continue; /* only touched */
		if (prev) st->changed++;
		else st->added++;
		if (fn) fn(ctx, prev ? 'C' : 'A', e->path);
	}
	for (; !rc && oi < old.n; oi++) {
		if (ws_file_skipped(&old.files[oi])) continue;
		st->removed++;
		if (fn) fn(ctx, 'R', old.files[oi].path);
	}
out:
	st->seconds = vz_now() - t0;
	vz_ws_entries_free(ents, n_ents);
	ws_cache_free(&old);
	if (rc) vz_fail_prefix(rc, "%s: ", wc->full_name);
	return rc;
}
