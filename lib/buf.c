/* buf.c: a growable byte buffer used to encode records and files before writing them. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vz_buf_reserve(vz_buf *b, size_t more)
{
	size_t need;
	if (vz_add_overflow(b->len, more, &need)) return vz_fail(VZ_ENOMEM, "buffer size overflow");
	if (need <= b->cap) return VZ_OK;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need) {
		if (vz_mul_overflow(cap, 2, &cap)) return vz_fail(VZ_ENOMEM, "buffer size overflow");
	}
	unsigned char *p = realloc(b->data, cap);
	if (!p) return vz_fail(VZ_ENOMEM, "out of memory (%zu bytes)", cap);
	b->data = p;
	b->cap = cap;
	return VZ_OK;
}

int vz_buf_put(vz_buf *b, const void *p, size_t n)
{
	int rc = vz_buf_reserve(b, n);
	if (rc) return rc;
	if (n) memcpy(b->data + b->len, p, n);
	b->len += n;
	return VZ_OK;
}

int vz_buf_u16(vz_buf *b, uint16_t v)
{
	unsigned char p[2] = { (unsigned char)v, (unsigned char)(v >> 8) };
	return vz_buf_put(b, p, 2);
}

int vz_buf_u32(vz_buf *b, uint32_t v)
{
	unsigned char p[4];
	vz_store_u32(p, v);
	return vz_buf_put(b, p, 4);
}

int vz_buf_u64(vz_buf *b, uint64_t v)
{
	unsigned char p[8];
	vz_store_u64(p, v);
	return vz_buf_put(b, p, 8);
}

int vz_buf_pad(vz_buf *b, size_t align)
{
	static const unsigned char zeros[64];
	size_t rem = b->len % align;
	return rem ? vz_buf_put(b, zeros, align - rem) : VZ_OK;
}

int vz_buf_printf(vz_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) return vz_fail(VZ_EINTERNAL, "format error");
	int rc = vz_buf_reserve(b, (size_t)n + 1);
	if (rc) return rc;
	va_start(ap, fmt);
	vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return VZ_OK;
}

void vz_buf_free(vz_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}
