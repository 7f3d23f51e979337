/* header.c: the versioned 64-byte header that starts every binary file of the format, and the
 * collection identity that version 2 headers carry. */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

void vz_header_encode(const vz_file_header *h, unsigned char out[VZ_HEADER_SIZE])
{
	memcpy(out, h->magic, 8);
	vz_store_u32(out + 8, h->version);
	vz_store_u32(out + 12, h->flags);
	vz_store_u64(out + 16, h->generation);
	vz_store_u64(out + 24, h->body_length);
	vz_store_u64(out + 32, h->body_checksum);
	vz_store_u64(out + 40, h->aux);
	vz_store_u64(out + 48, h->aux2);
	vz_store_u64(out + 56, vz_hash64(out, 56));
}

int vz_header_decode(const unsigned char *buf, size_t len, const char *want_magic,
		     uint32_t max_version, vz_file_header *h)
{
	if (len < VZ_HEADER_SIZE)
		return vz_fail(VZ_ECORRUPT, "offset 0: file is %zu bytes, shorter than its %d-byte header",
			       len, VZ_HEADER_SIZE);
	if (memcmp(buf, want_magic, 8) != 0)
		return vz_fail(VZ_ECORRUPT, "offset 0: bad magic (not a %.8s file)", want_magic);
	memcpy(h->magic, buf, 8);
	h->version = vz_load_u32(buf + 8);
	h->flags = vz_load_u32(buf + 12);
	h->generation = vz_load_u64(buf + 16);
	h->body_length = vz_load_u64(buf + 24);
	h->body_checksum = vz_load_u64(buf + 32);
	h->aux = vz_load_u64(buf + 40);
	h->aux2 = vz_load_u64(buf + 48);
	h->header_checksum = vz_load_u64(buf + 56);
	if (h->header_checksum != vz_hash64(buf, 56))
		return vz_fail(VZ_ECORRUPT, "offset 56: header checksum mismatch");
	if (h->version == 0 || h->version > max_version)
		return vz_fail(VZ_ECORRUPT, "offset 8: unsupported format version %u (this vz reads up to %u)",
			       h->version, max_version);
	return VZ_OK;
}

bool vz_id_is_set(const vz_coll_id *id)
{
	for (int i = 0; i < 16; i++)
		if (id->b[i]) return true;
	return false;
}

bool vz_id_equal(const vz_coll_id *a, const vz_coll_id *b) { return memcmp(a->b, b->b, 16) == 0; }

void vz_id_new(vz_coll_id *id)
{
	size_t got = 0;
	while (got < sizeof id->b) {
		ssize_t n = getrandom(id->b + got, sizeof id->b - got, 0);
		if (n > 0) got += (size_t)n;
		else if (n < 0 && errno != EINTR) break;
	}
	if (got < sizeof id->b) {
		/* no entropy source at all: still unique enough to tell collections apart */
		uint64_t a = vz_random_u64(), b = vz_random_u64() ^ (uint64_t)getpid();
		vz_id_from_words(a, b, id);
	}
	if (!vz_id_is_set(id)) id->b[0] = 1;
}

void vz_id_hex(const vz_coll_id *id, char out[33])
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[id->b[i] >> 4];
		out[2 * i + 1] = hex[id->b[i] & 15];
	}
	out[32] = '\0';
}

int vz_id_parse(const char *s, vz_coll_id *id)
{
	for (int i = 0; i < 32; i++) {
		char c = s[i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (v < 0) return vz_fail(VZ_ECORRUPT, "collection id is not 32 lowercase hexadecimal digits");
		if (i % 2 == 0) id->b[i / 2] = (unsigned char)(v << 4);
		else id->b[i / 2] |= (unsigned char)v;
	}
	if (s[32]) return vz_fail(VZ_ECORRUPT, "collection id is not 32 lowercase hexadecimal digits");
	return VZ_OK;
}

void vz_id_to_words(const vz_coll_id *id, uint64_t *a, uint64_t *b)
{
	*a = vz_load_u64(id->b);
	*b = vz_load_u64(id->b + 8);
}

void vz_id_from_words(uint64_t a, uint64_t b, vz_coll_id *id)
{
	vz_store_u64(id->b, a);
	vz_store_u64(id->b + 8, b);
}

bool vz_header_id(const vz_file_header *h, vz_coll_id *id)
{
	memset(id, 0, sizeof *id);
	if (h->version < 2 || !memcmp(h->magic, VZ_MAGIC_CACHE, 8)) return false;
	if (!memcmp(h->magic, VZ_MAGIC_WAL, 8)) vz_id_from_words(h->body_length, h->body_checksum, id);
	else vz_id_from_words(h->aux, h->aux2, id);
	return true;
}

int vz_write_checked_file(const char *path, vz_file_header *h, const void *body, size_t len)
{
	h->body_length = len;
	h->body_checksum = vz_hash64(body, len);
	unsigned char head[VZ_HEADER_SIZE];
	vz_header_encode(h, head);
	vz_tmpfile t;
	int rc = vz_tmpfile_open(&t, path);
	if (rc) return rc;
	rc = vz_tmpfile_write(&t, head, sizeof head);
	if (!rc) rc = vz_tmpfile_write(&t, body, len);
	if (rc) {
		vz_tmpfile_abort(&t);
		return rc;
	}
	return vz_tmpfile_commit(&t);
}
