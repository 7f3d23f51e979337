/* json.c: the one JSON string writer. Every JSON string vz writes (the CLI's output, payloads
 * and metadata of workspace builds, the rows `vz load` rewrites from other engines' exports)
 * is escaped here, so that all of them agree: '"', '\\' and the short escapes of RFC 8259,
 * \u00XX for the other control characters, DEL and C1's (so a terminal never receives one raw), and
 * text that is not UTF-8 either replaced by U+FFFD (what vz prints must parse) or, on request,
 * passed through for a strict reader to refuse with its line and byte. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

/* the escape of byte c, or NULL when it is written as it is (ASCII) or is the start of a
 * multi-byte character */
static const char *escape_of(unsigned char c, char buf[7])
{
	switch (c) {
	case '"': return "\\\"";
	case '\\': return "\\\\";
	case '\n': return "\\n";
	case '\r': return "\\r";
	case '\t': return "\\t";
	case '\b': return "\\b";
	case '\f': return "\\f";
	}
	if (c < 0x20 || c == 0x7f) {
		static const char hex[] = "0123456789abcdef";
		memcpy(buf, "\\u00", 4);
		buf[4] = hex[c >> 4], buf[5] = hex[c & 15], buf[6] = '\0';
		return buf;
	}
	return NULL;
}

int vz_json_escape(const char *s, size_t len, unsigned flags, vz_json_sink put, void *ctx)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t run = 0; /* start of the bytes not yet written that need no escape */
	int rc = put(ctx, "\"", 1);
	for (size_t i = 0; i < len && !rc;) {
		char buf[7];
		const char *esc = escape_of(u[i], buf);
		size_t n = 1;
		if (!esc && u[i] >= 0x80) {
			n = vz_utf8_char_len(u + i, len - i);
			if (!n) {
				if (flags & VZ_JSON_KEEP_INVALID) n = 1;
				else esc = "\\ufffd", n = 1;
			} else if (n == 2 && u[i] == 0xC2 && u[i + 1] < 0xA0) { /* C1: U+0080..U+009F */
				static const char hex[] = "0123456789abcdef";
				memcpy(buf, "\\u00", 4);
				buf[4] = hex[u[i + 1] >> 4], buf[5] = hex[u[i + 1] & 15], buf[6] = '\0';
				esc = buf;
			}
		}
		if (esc) {
			if (i > run) rc = put(ctx, s + run, i - run);
			if (!rc) rc = put(ctx, esc, strlen(esc));
			i += n;
			run = i;
		} else
			i += n;
	}
	if (!rc && len > run) rc = put(ctx, s + run, len - run);
	return rc ? rc : put(ctx, "\"", 1);
}

static int put_buf(void *ctx, const char *p, size_t n) { return vz_buf_put(ctx, p, n); }

int vz_buf_json_string(vz_buf *b, const char *s, size_t len, unsigned flags)
{
	return vz_json_escape(s, len, flags, put_buf, b);
}

static int put_file(void *ctx, const char *p, size_t n)
{
	/* a failed write shows in ferror(out), which the CLI checks before it exits */
	fwrite(p, 1, n, ctx);
	return 0;
}

void vz_json_string(FILE *out, const char *s, size_t len) { vz_json_escape(s, len, 0, put_file, out); }
