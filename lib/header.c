/* header.c: the versioned 64-byte header that starts every binary file of the format. */
#include "vz.h"

#include <string.h>

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
