/* wal.c: the write-ahead log: record framing, scanning (point in time or salvage), appending.
 * The layout is described in vz.h ("the write-ahead log"). */
#include "internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define WAL_VERSION 2 /* 1, still read, has no collection id */
#define NO_PAYLOAD 0xFFFFFFFFu
/* A record longer than this is damage, not data: bounds what a corrupt length can make us read. */
#define WAL_MAX_RECORD ((uint64_t)VZ_MAX_PAYLOAD_LEN + 4u * VZ_MAX_DIM + 1024u)

const char *vz_wal_type_name(uint32_t type)
{
	switch (type) {
	case VZ_WAL_CREATE: return "create";
	case VZ_WAL_DROP: return "drop";
	case VZ_WAL_INSERT: return "insert";
	case VZ_WAL_UPDATE: return "update";
	case VZ_WAL_DELETE: return "delete";
	case VZ_WAL_BEGIN: return "begin";
	case VZ_WAL_COMMIT: return "commit";
	}
	return "unknown";
}

static uint64_t record_checksum(const unsigned char *hdr32, const unsigned char *payload, uint32_t len, uint64_t salt)
{
	/* one pass over header and payload without copying: XXH3 streaming would need a state
	 * allocation per record, so hash the header, then seed the payload hash with it */
	uint64_t h = vz_hash64_seeded(hdr32, 32, salt);
	return vz_hash64_seeded(payload, len, h);
}

int vz_wal_encode(vz_wal_writer *w, uint32_t type, uint64_t txn, const void *payload, size_t len)
{
	if (len > WAL_MAX_RECORD) return vz_fail(VZ_ERANGE, "WAL record of %zu bytes is too large", len);
	int rc = vz_buf_reserve(&w->buf, VZ_WAL_RECORD_HEADER + len + 8);
	if (rc) return rc;
	unsigned char hdr[VZ_WAL_RECORD_HEADER];
	vz_store_u32(hdr, (uint32_t)len);
	hdr[4] = (unsigned char)type;
	hdr[5] = (unsigned char)(type >> 8);
	hdr[6] = hdr[7] = 0;
	vz_store_u64(hdr + 8, w->next_seq);
	vz_store_u64(hdr + 16, txn);
	vz_store_u64(hdr + 24, w->prev_checksum);
	uint64_t chk = record_checksum(hdr, payload, (uint32_t)len, w->salt);
	vz_store_u64(hdr + 32, chk);
	vz_buf_put(&w->buf, hdr, sizeof hdr);
	vz_buf_put(&w->buf, payload, len);
	vz_buf_pad(&w->buf, 8);
	w->prev_checksum = chk;
	w->next_seq++;
	return VZ_OK;
}

int vz_wal_encode_begin(vz_wal_writer *w, uint32_t count, uint64_t *txn)
{
	unsigned char begin[12];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	vz_store_u64(begin, (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
	vz_store_u32(begin + 8, count);
	*txn = w->next_seq;
	return vz_wal_encode(w, VZ_WAL_BEGIN, *txn, begin, sizeof begin);
}

int vz_wal_encode_commit(vz_wal_writer *w, uint64_t txn, uint32_t count)
{
	unsigned char commit[4];
	vz_store_u32(commit, count);
	return vz_wal_encode(w, VZ_WAL_COMMIT, txn, commit, sizeof commit);
}

int vz_wal_restart_with(const char *path, const vz_coll_id *id, uint64_t generation, uint64_t salt, uint64_t first_seq,
			const vz_wal_entry *keep, size_t n)
{
	vz_wal_writer w = { 0 };
	vz_file_header h = { .version = WAL_VERSION, .generation = generation, .aux = salt ? salt : vz_random_u64(), .aux2 = first_seq };
	/* a log has no body checksum: those two words carry the collection id */
	vz_id_to_words(id, &h.body_length, &h.body_checksum);
	memcpy(h.magic, VZ_MAGIC_WAL, 8);
	w.salt = w.prev_checksum = h.aux;
	w.next_seq = first_seq;
	int rc = vz_buf_reserve(&w.buf, VZ_HEADER_SIZE);
	if (!rc) {
		vz_header_encode(&h, w.buf.data);
		w.buf.len = VZ_HEADER_SIZE;
	}
	/* the records keep their sequence numbers and transactions; only the chain and the salt are
	 * new, so the log verifies as one written by a single writer */
	for (size_t i = 0; i < n && !rc; i++) {
		if (keep[i].seq != w.next_seq)
			rc = vz_fail(VZ_EINTERNAL, "%s: record %llu kept out of sequence (expected %llu)", path,
				     (unsigned long long)keep[i].seq, (unsigned long long)w.next_seq);
		else
			rc = vz_wal_encode(&w, keep[i].type, keep[i].txn, keep[i].payload, keep[i].length);
	}
	if (!rc) rc = vz_atomic_write(path, w.buf.data, w.buf.len);
	vz_buf_free(&w.buf);
	return rc;
}

int vz_wal_reset(const char *path, const vz_coll_id *id, uint64_t generation, uint64_t salt, uint64_t first_seq, vz_wal_writer *w)
{
	if (!salt) salt = vz_random_u64();
	int rc = vz_wal_restart_with(path, id, generation, salt, first_seq, NULL, 0);
	if (rc) return rc;
	if (w) {
		vz_buf_free(&w->buf);
		w->salt = salt;
		w->next_seq = first_seq;
		w->prev_checksum = salt;
	}
	return VZ_OK;
}

int vz_wal_append(const char *path, uint64_t at, vz_wal_writer *w)
{
	int fd, rc = vz_io_open_write(path, O_WRONLY, 0644, &fd);
	if (rc) return rc;
	struct stat st;
	if (fstat(fd, &st) != 0) { vz_io_close(fd); return vz_fail(VZ_EIO, "%s: stat failed", path); }
	if ((uint64_t)st.st_size > at) {
		/* a torn tail left by a crashed writer: it was never acknowledged, drop it first */
		if ((rc = vz_io_ftruncate(fd, (off_t)at, path))) { vz_io_close(fd); return rc; }
	} else if ((uint64_t)st.st_size < at) {
		vz_io_close(fd);
		return vz_fail(VZ_EINTERNAL, "%s: file is shorter than its last good record", path);
	}
	rc = vz_io_pwrite(fd, w->buf.data, w->buf.len, (off_t)at, path);
	if (!rc) rc = vz_io_fdatasync(fd, path);
	if (rc) {
		/* not acknowledged, so it must not appear later either: cut the records off again
		 * (best effort; if this fails too, the checksum chain still ends the log at `at` only
		 * when the bytes are torn, so keep the original error) */
		char saved[1024];
		snprintf(saved, sizeof saved, "%s", vz_last_error());
		if (vz_io_ftruncate(fd, (off_t)at, path) == VZ_OK) vz_io_fdatasync(fd, path);
		vz_fail(rc, "%s", saved);
	}
	vz_io_close(fd);
	w->buf.len = 0;
	return rc;
}

/* Checks one record at off. Returns true when it is whole and its checksum is right; fills e. */
static bool record_at(const vz_wal_log *w, uint64_t off, vz_wal_entry *e, char *why, size_t why_cap)
{
	const unsigned char *d = w->map.data;
	uint64_t size = w->map.size;
	if (size - off < VZ_WAL_RECORD_HEADER) {
		snprintf(why, why_cap, "truncated record header (%llu bytes left)", (unsigned long long)(size - off));
		return false;
	}
	const unsigned char *h = d + off;
	uint32_t len = vz_load_u32(h);
	/* the record with its padding must be whole: a log cut inside the padding is torn too */
	if (len > WAL_MAX_RECORD || ((VZ_WAL_RECORD_HEADER + (uint64_t)len + 7) & ~(uint64_t)7) > size - off) {
		snprintf(why, why_cap, "record length %u runs past the end of the log", len);
		return false;
	}
	e->offset = off;
	e->length = len;
	e->type = (uint32_t)h[4] | (uint32_t)h[5] << 8;
	e->seq = vz_load_u64(h + 8);
	e->txn = vz_load_u64(h + 16);
	e->checksum = vz_load_u64(h + 32);
	e->payload = h + VZ_WAL_RECORD_HEADER;
	e->checksum_ok = record_checksum(h, e->payload, len, w->header.aux) == e->checksum;
	if (!e->checksum_ok) {
		snprintf(why, why_cap, "record checksum mismatch");
		return false;
	}
	if (e->type < VZ_WAL_CREATE || e->type > VZ_WAL_COMMIT) {
		snprintf(why, why_cap, "unknown record type %u", e->type);
		return false;
	}
	/* padding is not covered by the checksum, so it must be zero to be trusted */
	uint64_t end = off + VZ_WAL_RECORD_HEADER + len, padded = (end + 7) & ~(uint64_t)7;
	for (uint64_t i = end; i < padded; i++)
		if (d[i] != 0) {
			snprintf(why, why_cap, "non-zero padding after record");
			return false;
		}
	return true;
}

static uint64_t record_span(const vz_wal_entry *e)
{
	return (VZ_WAL_RECORD_HEADER + (uint64_t)e->length + 7) & ~(uint64_t)7;
}

static int push_entry(vz_wal_log *w, size_t *cap, const vz_wal_entry *e)
{
	if (w->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		vz_wal_entry *ne = realloc(w->entries, nc * sizeof *ne);
		if (!ne) return vz_fail(VZ_ENOMEM, "out of memory reading the WAL");
		w->entries = ne;
		*cap = nc;
	}
	w->entries[w->n++] = *e;
	return VZ_OK;
}

int vz_wal_scan(const char *path, enum vz_wal_scan_mode mode, vz_wal_log *out)
{
	memset(out, 0, sizeof *out);
	int rc = vz_map_file(path, &out->map);
	if (rc) return rc;
	if ((rc = vz_header_decode(out->map.data, out->map.size, VZ_MAGIC_WAL, WAL_VERSION, &out->header))) {
		vz_fail_prefix(rc, "%s: ", path);
		vz_wal_free(out);
		return rc;
	}
	size_t cap = 0;
	uint64_t off = VZ_HEADER_SIZE, size = out->map.size;
	uint64_t expect_seq = out->header.aux2, prev = out->header.aux;
	char why[128];
	while (off < size) {
		vz_wal_entry e;
		bool ok = record_at(out, off, &e, why, sizeof why);
		if (ok && (e.seq != expect_seq || vz_load_u64(out->map.data + off + 24) != prev)) {
			snprintf(why, sizeof why, "record out of sequence (seq %llu, expected %llu) or chain broken",
				 (unsigned long long)e.seq, (unsigned long long)expect_seq);
			ok = false;
		}
		if (!ok) {
			out->damaged = true;
			out->damage_offset = off;
			snprintf(out->damage_what, sizeof out->damage_what, "%s", why);
			break;
		}
		if ((rc = push_entry(out, &cap, &e))) { vz_wal_free(out); return rc; }
		expect_seq = e.seq + 1;
		prev = e.checksum;
		off += record_span(&e);
	}
	out->valid_end = out->damaged ? out->damage_offset : size;
	if (!out->damaged) return VZ_OK;

	/* Look past the damage for records that still check out (8-byte aligned positions): none
	 * means a torn tail, the common result of a crash during an append. So do good records of
	 * only the transaction the damage is in when that is the last one: a power cut during an
	 * append (not yet fdatasynced, so never acknowledged) can leave any mix of its sectors
	 * written, garbage, zeros or new, so its own records may follow its damage. A record of a
	 * later transaction proves the damaged one was acknowledged: that is real damage. */
	bool in_txn = out->n > 0 && out->entries[out->n - 1].type != VZ_WAL_COMMIT;
	uint64_t last_txn = in_txn ? out->entries[out->n - 1].txn : expect_seq;
	size_t later_txns = 0;
	uint64_t covered = 0;
	for (uint64_t p = (out->damage_offset + 8) & ~(uint64_t)7; p + VZ_WAL_RECORD_HEADER <= size; p += 8) {
		vz_wal_entry e;
		if (!record_at(out, p, &e, why, sizeof why) || e.seq < expect_seq) continue;
		out->good_after_damage++;
		if (e.txn != last_txn) later_txns++;
		covered += record_span(&e);
		if (mode == VZ_WAL_SCAN_SALVAGE) {
			if ((rc = push_entry(out, &cap, &e))) { vz_wal_free(out); return rc; }
			expect_seq = e.seq + 1;
		}
		p += record_span(&e) - 8;
	}
	out->torn_tail = later_txns == 0;
	out->bytes_lost = size - out->damage_offset - covered;
	return VZ_OK;
}

void vz_wal_free(vz_wal_log *w)
{
	vz_unmap(&w->map);
	free(w->entries);
	w->entries = NULL;
	w->n = 0;
}

int vz_wal_encode_op(vz_buf *b, const char *id, size_t id_len, const float *v, uint32_t dim,
		     const char *payload, size_t payload_len, bool has_payload)
{
	int rc = vz_buf_u16(b, (uint16_t)id_len);
	if (!rc) rc = vz_buf_put(b, id, id_len);
	if (rc || !v) return rc;
	if ((rc = vz_buf_u32(b, dim))) return rc;
	for (uint32_t i = 0; i < dim && !rc; i++) {
		uint32_t bits;
		memcpy(&bits, &v[i], 4);
		rc = vz_buf_u32(b, bits);
	}
	if (!rc) rc = vz_buf_u32(b, has_payload ? (uint32_t)payload_len : NO_PAYLOAD);
	if (!rc && has_payload) rc = vz_buf_put(b, payload, payload_len);
	return rc;
}

int vz_wal_decode_op(const vz_wal_entry *e, vz_wal_op *op)
{
	memset(op, 0, sizeof *op);
	const unsigned char *p = e->payload;
	uint64_t len = e->length, at = 0;
	if (len < 2) goto bad;
	op->id_len = (size_t)p[0] | (size_t)p[1] << 8;
	at = 2;
	if (op->id_len == 0 || op->id_len > VZ_MAX_ID_LEN || len - at < op->id_len) goto bad;
	op->id = (const char *)p + at;
	at += op->id_len;
	if (e->type == VZ_WAL_DELETE) return at == len ? VZ_OK : vz_fail(VZ_ECORRUPT, "wal.log: offset %llu: trailing bytes in delete record", (unsigned long long)e->offset);
	if (len - at < 4) goto bad;
	op->dim = vz_load_u32(p + at);
	at += 4;
	if (op->dim == 0 || op->dim > VZ_MAX_DIM || (len - at) / 4 < op->dim) goto bad;
	op->vector = p + at;
	at += 4ull * op->dim;
	if (len - at < 4) goto bad;
	uint32_t pl = vz_load_u32(p + at);
	at += 4;
	if (pl != NO_PAYLOAD) {
		if (len - at != pl) goto bad;
		op->payload = (const char *)p + at;
		op->payload_len = pl;
		op->has_payload = true;
	} else if (at != len) {
		goto bad;
	}
	return VZ_OK;
bad:
	return vz_fail(VZ_ECORRUPT, "wal.log: offset %llu: malformed %s record", (unsigned long long)e->offset,
		       vz_wal_type_name(e->type));
}

bool vz_wal_next_txn(const vz_wal_log *w, uint64_t after_seq, size_t *pos, vz_wal_txn *t)
{
	size_t i = *pos;
	while (i < w->n && w->entries[i].seq <= after_seq) i++;
	memset(t, 0, sizeof *t);
	t->stray = i;
	while (i < w->n && w->entries[i].type != VZ_WAL_BEGIN) i++;
	t->begin = t->end = i;
	if (i == w->n) {
		*pos = i;
		return false;
	}
	const vz_wal_entry *b = &w->entries[i];
	t->txn = b->txn;
	t->when = b->length >= 8 ? (double)vz_load_u64(b->payload) / 1000.0 : 0;
	for (i++; i < w->n && w->entries[i].type != VZ_WAL_BEGIN && w->entries[i].type != VZ_WAL_COMMIT; i++)
		;
	t->end = i;
	if (i == w->n) {
		*pos = i;
		return true;
	}
	const vz_wal_entry *e = &w->entries[i];
	if (e->type == VZ_WAL_BEGIN) {
		t->ended_by_begin = true;
		*pos = i; /* the next transaction starts here */
		return true;
	}
	t->complete = e->txn == b->txn && i - t->begin == e->seq - b->seq && e->length >= 4 &&
		      vz_load_u32(e->payload) + 1 == i - t->begin;
	*pos = i + 1;
	return true;
}
