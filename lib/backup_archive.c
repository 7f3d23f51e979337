/* backup_archive.c: the zstd stream of a backup archive (vz-format(5), Backup archives): reading
 * decompresses with libzstd ourselves (refusing frames without a checksum and counting every
 * decompressed byte against the manifest's totals: no decompression bombs) and hands the tar
 * stream to libarchive; writing compresses the tar bytes libarchive hands us, so that the frame
 * checksum is always on and every output byte passes vz_io_write. */
#include "backup_internal.h"

#include <sys/mman.h>

void vz_bk_trailer_make(unsigned char t[TRAILER_SIZE], uint64_t length, uint64_t hash)
{
	vz_store_u32(t, TRAILER_MAGIC);
	vz_store_u32(t + 4, TRAILER_SIZE - 8);
	memcpy(t + 8, "VZBK", 4);
	vz_store_u32(t + 12, 1);
	vz_store_u64(t + 16, length);
	vz_store_u64(t + 24, hash);
}

/* The trailer at t (its magic number read already) closes `length` compressed bytes of this hash. */
static bool trailer_ok(const unsigned char *t, uint64_t length, uint64_t hash)
{
	unsigned char want[TRAILER_SIZE];
	vz_bk_trailer_make(want, length, hash);
	return !memcmp(t, want, TRAILER_SIZE);
}

void vz_bk_report(struct reader *r, const char *file, int64_t offset, const char *fmt, ...)
{
	char what[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	r->problems++;
	if (r->cb) r->cb(r->ctx, file, offset, what);
}

static int reader_refill(struct reader *r)
{
	if (r->in_pos > 0) {
		memmove(r->in, r->in + r->in_pos, r->in_len - r->in_pos);
		r->in_len -= r->in_pos;
		r->in_pos = 0;
	}
	size_t room = r->in_cap - r->in_len;
	if (room == 0 || r->in_eof) return 0;
	size_t got;
	if (r->mem) {
		got = r->mem_len - r->mem_pos < room ? r->mem_len - r->mem_pos : room;
		memcpy(r->in + r->in_len, r->mem + r->mem_pos, got);
		r->mem_pos += got;
	} else {
		ssize_t k;
		do k = read(r->fd, r->in + r->in_len, room);
		while (k < 0 && errno == EINTR);
		if (k < 0) {
			r->error = vz_fail(vz_err_from_errno(errno), "%s: read: %s", r->name, strerror(errno));
			return -1;
		}
		got = (size_t)k;
	}
	if (got == 0) r->in_eof = true;
	r->in_len += got;
	r->compressed_read += got;
	return 0;
}

/* libarchive's read callback: the next block of decompressed tar bytes; 0 at the end. */
la_ssize_t vz_bk_reader_read(struct archive *a, void *ctx, const void **buf)
{
	struct reader *r = ctx;
	for (;;) {
		if (r->in_pos == r->in_len && !r->in_eof && reader_refill(r)) goto fail;
		if (r->in_pos == r->in_len && r->in_eof) {
			if (r->in_frame) {
				snprintf(r->problem, sizeof r->problem, "truncated: the zstd stream ends inside a frame (after %llu compressed bytes)",
					 (unsigned long long)r->compressed_read);
				goto fail;
			}
			if (r->frames == 0) {
				snprintf(r->problem, sizeof r->problem, "empty file: not a zstd-compressed backup");
				goto fail;
			}
			if (!r->trailer_seen) {
				snprintf(r->problem, sizeof r->problem,
					 "truncated: no end-of-backup checksum after %llu compressed bytes (or not written by vz backup)",
					 (unsigned long long)r->compressed_read);
				goto fail;
			}
			return 0;
		}
		if (!r->in_frame) {
			/* a frame starts with the magic number and the frame header descriptor, whose
			 * bit 2 is the content checksum flag (RFC 8878 section 3.1.1) */
			if (r->in_len - r->in_pos < 5) {
				if (r->in_eof) {
					snprintf(r->problem, sizeof r->problem, "truncated: the zstd stream ends inside a frame header");
					goto fail;
				}
				if (reader_refill(r)) goto fail;
				continue;
			}
			uint32_t magic = vz_load_u32(r->in + r->in_pos);
			if (r->trailer_seen) {
				snprintf(r->problem, sizeof r->problem, "data after the end-of-backup checksum: refused");
				goto fail;
			}
			if (magic == TRAILER_MAGIC) {
				if (r->in_len - r->in_pos < TRAILER_SIZE && !r->in_eof) {
					if (reader_refill(r)) goto fail;
					continue;
				}
				const unsigned char *t = r->in + r->in_pos;
				if (r->in_len - r->in_pos < TRAILER_SIZE || !trailer_ok(t, r->consumed, vz_hasher_digest(r->consumed_hash))) {
					snprintf(r->problem, sizeof r->problem,
						 "the checksum of the compressed archive does not match: damaged or truncated");
					goto fail;
				}
				r->in_pos += TRAILER_SIZE;
				r->trailer_seen = true;
				continue;
			}
			if ((magic & 0xFFFFFFF0u) == 0x184D2A50u) {
				snprintf(r->problem, sizeof r->problem, "skippable zstd frame: refused");
				goto fail;
			}
			if (magic != 0xFD2FB528u) {
				snprintf(r->problem, sizeof r->problem, "offset %llu: not a zstd frame",
					 (unsigned long long)(r->compressed_read - (r->in_len - r->in_pos)));
				goto fail;
			}
			if (!(r->in[r->in_pos + 4] & 0x04)) {
				snprintf(r->problem, sizeof r->problem, "zstd frame without a content checksum: refused");
				goto fail;
			}
			r->in_frame = true;
			r->frames++;
		}
		ZSTD_inBuffer in = { r->in, r->in_len, r->in_pos };
		ZSTD_outBuffer out = { r->out, r->out_cap, 0 };
		size_t ret = ZSTD_decompressStream(r->dctx, &out, &in);
		vz_hasher_update(r->consumed_hash, r->in + r->in_pos, in.pos - r->in_pos);
		r->consumed += in.pos - r->in_pos;
		r->in_pos = in.pos;
		if (ZSTD_isError(ret)) {
			snprintf(r->problem, sizeof r->problem, "compressed data damaged near offset %llu: %s",
				 (unsigned long long)(r->compressed_read - (r->in_len - r->in_pos)), ZSTD_getErrorName(ret));
			goto fail;
		}
		if (ret == 0) r->in_frame = false; /* frame complete: its checksum matched */
		if (out.pos) {
			r->decompressed += out.pos;
			if (r->decompressed > r->limit) {
				snprintf(r->problem, sizeof r->problem,
					 "decompresses to more than %llu bytes, more than the manifest accounts for: refused",
					 (unsigned long long)r->limit);
				goto fail;
			}
			*buf = r->out;
			return (la_ssize_t)out.pos;
		}
	}
fail:
	archive_set_error(a, EINVAL, "%s", r->problem[0] ? r->problem : vz_last_error());
	return -1;
}

int vz_bk_reader_init(struct reader *r, const char *name, vz_verify_cb cb, void *ctx)
{
	memset(r, 0, sizeof *r);
	r->fd = -1;
	r->name = name;
	r->cb = cb;
	r->ctx = ctx;
	int rc = vz_zstd_load();
	if (rc) return rc;
	r->in_cap = ZSTD_DStreamInSize() * 4;
	r->out_cap = ZSTD_DStreamOutSize();
	r->in = malloc(r->in_cap);
	r->out = malloc(r->out_cap);
	r->dctx = ZSTD_createDCtx();
	r->data = malloc(CHUNK);
	r->consumed_hash = vz_hasher_new();
	r->limit = (uint64_t)VZ_BACKUP_MAX_MANIFEST + (1u << 20);
	if (!r->in || !r->out || !r->dctx || !r->data || !r->consumed_hash) return vz_fail(VZ_ENOMEM, "out of memory");
	return VZ_OK;
}

void vz_bk_reader_free(struct reader *r)
{
	free(r->in);
	free(r->out);
	free(r->data);
	vz_hasher_free(r->consumed_hash);
	if (r->dctx) ZSTD_freeDCtx(r->dctx); /* NULL: libzstd maybe not loaded */
}

int vz_bk_writer_push(struct writer *w, const void *data, size_t len, ZSTD_EndDirective mode)
{
	ZSTD_inBuffer in = { data, len, 0 };
	for (;;) {
		ZSTD_outBuffer out = { w->buf, w->cap, 0 };
		size_t left = ZSTD_compressStream2(w->cctx, &out, &in, mode);
		if (ZSTD_isError(left)) return vz_fail(VZ_EINTERNAL, "zstd: %s", ZSTD_getErrorName(left));
		if (out.pos) {
			int rc = vz_io_write(w->fd, w->buf, out.pos, w->name);
			if (rc) return rc;
			vz_hasher_update(w->hash, w->buf, out.pos);
			w->written += out.pos;
			/* the disk writes while the rest is compressed: the final fsync waits for less */
			if (w->written - w->flushed >= 8 * CHUNK) {
				vz_io_writeback(w->fd, (off_t)w->flushed, (off_t)(w->written - w->flushed));
				w->flushed = w->written;
			}
		}
		if (mode == ZSTD_e_end ? left == 0 : in.pos == in.size) return VZ_OK;
	}
}

la_ssize_t vz_bk_writer_cb(struct archive *a, void *ctx, const void *buf, size_t len)
{
	struct writer *w = ctx;
	if ((w->rc = vz_bk_writer_push(w, buf, len, ZSTD_e_continue))) {
		archive_set_error(a, EIO, "%s", vz_last_error());
		return -1;
	}
	return (la_ssize_t)len;
}

int vz_bk_writer_init(struct writer *w, int fd, const char *name, const vz_backup_options *o)
{
	memset(w, 0, sizeof *w);
	w->fd = fd;
	w->name = name;
	w->cap = 4 * CHUNK; /* large writes */
	int rc = vz_zstd_load();
	if (rc) return rc;
	w->buf = malloc(w->cap);
	w->cctx = ZSTD_createCCtx();
	w->hash = vz_hasher_new();
	if (!w->buf || !w->cctx || !w->hash) return vz_fail(VZ_ENOMEM, "out of memory");
	if (ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_compressionLevel, o->level)) ||
	    ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_checksumFlag, 1)))
		return vz_fail(VZ_EINVAL, "zstd: compression level %d is not supported", o->level);
	if (o->threads > 0 && ZSTD_isError(ZSTD_CCtx_setParameter(w->cctx, ZSTD_c_nbWorkers, o->threads)))
		return vz_fail(VZ_EINVAL, "zstd: %d compression threads are not supported by this libzstd", o->threads);
	return VZ_OK;
}

void vz_bk_writer_free(struct writer *w)
{
	free(w->buf);
	vz_hasher_free(w->hash);
	if (w->cctx) ZSTD_freeCCtx(w->cctx); /* NULL: libzstd maybe not loaded */
}

bool vz_bk_reads_back(int fd, uint64_t size)
{
	struct stat st;
	if (fstat(fd, &st) != 0 || (uint64_t)st.st_size != size || size < TRAILER_SIZE) return false;
	void *p = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, fd, 0);
	vz_hasher *h = vz_hasher_new();
	if (p == MAP_FAILED || !h) {
		if (p != MAP_FAILED) munmap(p, (size_t)size);
		vz_hasher_free(h);
		return false;
	}
	/* a part at a time, letting go of what is behind: an archive of any size */
	const unsigned char *d = p;
	vz_releaser rel = { true, NULL };
	for (uint64_t at = 0; at < size - TRAILER_SIZE;) {
		size_t n = size - TRAILER_SIZE - at < 4 * CHUNK ? (size_t)(size - TRAILER_SIZE - at) : 4 * CHUNK;
		vz_hasher_update(h, d + at, n);
		at += n;
		vz_release_behind(&rel, d + at);
	}
	bool ok = trailer_ok(d + size - TRAILER_SIZE, size - TRAILER_SIZE, vz_hasher_digest(h));
	vz_hasher_free(h);
	munmap(p, (size_t)size);
	return ok;
}
