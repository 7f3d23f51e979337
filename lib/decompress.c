/* decompress.c: compressed input (.zst with libzstd, .gz with zlib) for the batch readers of
 * lib/input.c: `vz insert docs rows.jsonl.zst`, `zcat`-free pipes. The whole stream is
 * decompressed into memory, bounded like any input, then parsed as the format it holds. */
#include "vz.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "zstd_load.h"

enum vz_compression vz_compression_of(const char *path, const unsigned char *data, size_t len)
{
	size_t pl = path ? strlen(path) : 0;
	if (pl > 4 && !strcmp(path + pl - 4, ".zst")) return VZ_COMP_ZSTD;
	if (pl > 3 && !strcmp(path + pl - 3, ".gz")) return VZ_COMP_GZIP;
	if (data && len >= 4 && !memcmp(data, "\x28\xb5\x2f\xfd", 4)) return VZ_COMP_ZSTD;
	if (data && len >= 2 && data[0] == 0x1f && data[1] == 0x8b) return VZ_COMP_GZIP;
	return VZ_COMP_NONE;
}

static int grow(unsigned char **out, size_t *cap, size_t need, size_t max, const char *name)
{
	if (need <= *cap) return VZ_OK;
	if (need > max) return vz_fail(VZ_ERANGE, "%s: decompresses to more than the limit of %zu bytes", name, max);
	size_t ncap = *cap ? *cap : 1 << 16;
	while (ncap < need) ncap *= 2;
	if (ncap > max) ncap = max;
	unsigned char *n = realloc(*out, ncap + 1);
	if (!n) return vz_fail(VZ_ENOMEM, "out of memory");
	*out = n;
	*cap = ncap;
	return VZ_OK;
}

static int unzstd(const char *name, const unsigned char *in, size_t len, size_t max, unsigned char **out, size_t *olen)
{
	int rc = vz_zstd_load();
	if (rc) return vz_fail_prefix(rc, "%s: ", name);
	ZSTD_DStream *z = ZSTD_createDStream();
	if (!z) return vz_fail(VZ_ENOMEM, "out of memory");
	ZSTD_inBuffer ib = { in, len, 0 };
	size_t cap = 0, n = 0, ret = 1;
	while (!rc) {
		if ((rc = grow(out, &cap, n + ZSTD_DStreamOutSize(), max + ZSTD_DStreamOutSize(), name))) break;
		ZSTD_outBuffer ob = { *out, cap, n };
		ret = ZSTD_decompressStream(z, &ob, &ib);
		if (ZSTD_isError(ret)) {
			rc = vz_fail(VZ_EDATA, "%s: offset %zu: not a valid zstd stream: %s", name, ib.pos, ZSTD_getErrorName(ret));
			break;
		}
		n = ob.pos;
		if (n > max) rc = vz_fail(VZ_ERANGE, "%s: decompresses to more than the limit of %zu bytes", name, max);
		else if (ib.pos == ib.size && ob.pos < ob.size) break; /* all input read, all output flushed */
	}
	ZSTD_freeDStream(z);
	if (!rc && ret != 0) rc = vz_fail(VZ_EDATA, "%s: offset %zu: the zstd stream is cut short", name, len);
	*olen = n;
	return rc;
}

static int ungzip(const char *name, const unsigned char *in, size_t len, size_t max, unsigned char **out, size_t *olen)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	if (inflateInit2(&z, 15 + 32) != Z_OK) return vz_fail(VZ_ENOMEM, "out of memory"); /* gzip or zlib header */
	size_t cap = 0, n = 0, pos = 0;
	int rc = VZ_OK, zr = Z_OK;
	while (!rc) {
		if ((rc = grow(out, &cap, n + (1 << 16), max + (1 << 16), name))) break;
		size_t in_part = len - pos > (1u << 30) ? (1u << 30) : len - pos;
		z.next_in = (unsigned char *)in + pos;
		z.avail_in = (uInt)in_part;
		z.next_out = *out + n;
		z.avail_out = (uInt)(cap - n > (1u << 30) ? (1u << 30) : cap - n);
		size_t before_out = z.avail_out;
		zr = inflate(&z, Z_NO_FLUSH);
		pos += in_part - z.avail_in;
		n += before_out - z.avail_out;
		if (zr == Z_STREAM_END) {
			/* concatenated members (gzip a; gzip b; cat) are one stream, as gzip -d reads them */
			if (pos < len && inflateReset(&z) == Z_OK) continue;
			break;
		}
		if (zr != Z_OK && zr != Z_BUF_ERROR) {
			rc = vz_fail(VZ_EDATA, "%s: offset %zu: not a valid gzip stream: %s", name, pos, z.msg ? z.msg : "data error");
			break;
		}
		if (n > max) rc = vz_fail(VZ_ERANGE, "%s: decompresses to more than the limit of %zu bytes", name, max);
		else if (pos == len && z.avail_out > 0) {
			rc = vz_fail(VZ_EDATA, "%s: offset %zu: the gzip stream is cut short", name, len);
		}
	}
	inflateEnd(&z);
	*olen = n;
	return rc;
}

int vz_decompress(const char *name, enum vz_compression comp, const unsigned char *in, size_t len, size_t max,
		  char **out, size_t *olen)
{
	*out = NULL;
	*olen = 0;
	unsigned char *buf = NULL;
	int rc = comp == VZ_COMP_ZSTD ? unzstd(name, in, len, max, &buf, olen)
		 : comp == VZ_COMP_GZIP ? ungzip(name, in, len, max, &buf, olen)
		 : vz_fail(VZ_EINVAL, "%s: not compressed", name);
	if (rc) {
		free(buf);
		*olen = 0;
		return rc;
	}
	if (!buf && !(buf = malloc(1))) return vz_fail(VZ_ENOMEM, "out of memory");
	buf[*olen] = '\0';
	*out = (char *)buf;
	return VZ_OK;
}
