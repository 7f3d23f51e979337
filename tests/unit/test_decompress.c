/* test_decompress.c: compressed input (lib/decompress.c) and the query form of JSON lines
 * (VZ_READ_QUERIES): round trips through zstd and gzip, streams cut short or damaged, the size
 * bound, and query lines with and without ids and as bare arrays. */
#include "t.h"

#include <zlib.h>
#include <zstd.h>

static const char rows[] = "{\"id\":\"a\",\"vector\":[1,0,0]}\n{\"id\":\"b\",\"vector\":[0,1,0],\"payload\":{\"x\":1}}\n";

/* gzip of in (one member), into a malloc'd buffer */
static unsigned char *gz(const void *in, size_t len, size_t *out_len)
{
	z_stream z;
	memset(&z, 0, sizeof z);
	CHECK(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
	size_t cap = deflateBound(&z, (uLong)len) + 32;
	unsigned char *out = malloc(cap);
	z.next_in = (unsigned char *)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	CHECK(deflate(&z, Z_FINISH) == Z_STREAM_END);
	*out_len = cap - z.avail_out;
	deflateEnd(&z);
	return out;
}

static unsigned char *zst(const void *in, size_t len, size_t *out_len)
{
	size_t cap = ZSTD_compressBound(len);
	unsigned char *out = malloc(cap);
	*out_len = ZSTD_compress(out, cap, in, len, 3);
	CHECK(!ZSTD_isError(*out_len));
	return out;
}

TEST(zstd_and_gzip_round_trip_by_suffix_magic_and_format)
{
	size_t zl, gl;
	unsigned char *z = zst(rows, sizeof rows - 1, &zl), *g = gz(rows, sizeof rows - 1, &gl);
	CHECK_INT(vz_compression_of("r.jsonl.zst", NULL, 0), VZ_COMP_ZSTD);
	CHECK_INT(vz_compression_of("r.jsonl.gz", NULL, 0), VZ_COMP_GZIP);
	CHECK_INT(vz_compression_of("-", z, zl), VZ_COMP_ZSTD);
	CHECK_INT(vz_compression_of("-", g, gl), VZ_COMP_GZIP);
	CHECK_INT(vz_compression_of("r.jsonl", (const unsigned char *)rows, sizeof rows - 1), VZ_COMP_NONE);
	char *out;
	size_t ol;
	CHECK_OK(vz_decompress("r.zst", VZ_COMP_ZSTD, z, zl, 1 << 20, &out, &ol));
	CHECK_INT(ol, sizeof rows - 1);
	CHECK(!memcmp(out, rows, ol) && out[ol] == '\0');
	free(out);
	CHECK_OK(vz_decompress("r.gz", VZ_COMP_GZIP, g, gl, 1 << 20, &out, &ol));
	CHECK_INT(ol, sizeof rows - 1);
	CHECK(!memcmp(out, rows, ol));
	free(out);
	/* two gzip members, as `cat a.gz b.gz` makes: one stream, as gzip -d reads it */
	unsigned char *two = malloc(2 * gl);
	memcpy(two, g, gl);
	memcpy(two + gl, g, gl);
	CHECK_OK(vz_decompress("r.gz", VZ_COMP_GZIP, two, 2 * gl, 1 << 20, &out, &ol));
	CHECK_INT(ol, 2 * (sizeof rows - 1));
	free(out);
	free(two);
	/* vz_batch_read: the suffix says, or --format's FMT.zst, or the magic bytes of a file without one */
	t_write("r.jsonl.zst", z, zl);
	t_write("r.jsonl.gz", g, gl);
	t_write("nosuffix", z, zl);
	enum vz_input_format f;
	CHECK_OK(vz_input_format_parse("jsonl.zst", &f));
	CHECK_INT(f, VZ_FMT_JSONL | VZ_FMT_ZSTD);
	CHECK_INT(vz_input_format_from_path("x/v.npy.gz"), VZ_FMT_NPY);
	CHECK_INT(vz_input_format_parse("jsonl.bz2", &f), VZ_EINVAL);
	const char *paths[] = { "r.jsonl.zst", "r.jsonl.gz", "nosuffix" };
	for (int i = 0; i < 3; i++) {
		vz_batch b;
		CHECK_OK(vz_batch_read(paths[i], VZ_FMT_AUTO, 3, 0, 0, &b));
		CHECK_INT(b.n, 2);
		CHECK_STR(b.ids[1], "b");
		CHECK_INT(b.payload_lens[1], 7);
		vz_batch_free(&b);
	}
	vz_batch b;
	CHECK_OK(vz_batch_read("nosuffix", VZ_FMT_JSONL | VZ_FMT_ZSTD, 3, 0, 0, &b));
	CHECK_INT(b.n, 2);
	vz_batch_free(&b);
	free(z);
	free(g);
}

TEST(cut_short_damaged_and_oversized_streams_are_refused_naming_file_and_offset)
{
	size_t zl, gl;
	unsigned char *z = zst(rows, sizeof rows - 1, &zl), *g = gz(rows, sizeof rows - 1, &gl);
	char *out = (char *)1;
	size_t ol = 7;
	CHECK_INT(vz_decompress("c.zst", VZ_COMP_ZSTD, z, zl - 3, 1 << 20, &out, &ol), VZ_EDATA);
	CHECK(strstr(vz_last_error(), "c.zst: offset ") && strstr(vz_last_error(), "cut short"));
	CHECK(out == NULL && ol == 0);
	CHECK_INT(vz_decompress("c.gz", VZ_COMP_GZIP, g, gl - 9, 1 << 20, &out, &ol), VZ_EDATA);
	CHECK(strstr(vz_last_error(), "c.gz: offset ") && strstr(vz_last_error(), "cut short"));
	unsigned char bad[64];
	memcpy(bad, g, 10);
	memset(bad + 10, 0xff, sizeof bad - 10);
	CHECK_INT(vz_decompress("d.gz", VZ_COMP_GZIP, bad, sizeof bad, 1 << 20, &out, &ol), VZ_EDATA);
	CHECK(strstr(vz_last_error(), "d.gz: offset ") && strstr(vz_last_error(), "not a valid gzip stream"));
	memcpy(bad, "\x28\xb5\x2f\xfd", 4);
	CHECK_INT(vz_decompress("d.zst", VZ_COMP_ZSTD, bad, sizeof bad, 1 << 20, &out, &ol), VZ_EDATA);
	CHECK(strstr(vz_last_error(), "d.zst: offset "));
	/* a bomb: many bytes from few, past the bound, is refused rather than allocated */
	size_t big = 8 << 20;
	char *zeros = calloc(1, big);
	size_t bzl, bgl;
	unsigned char *bz = zst(zeros, big, &bzl), *bg = gz(zeros, big, &bgl);
	CHECK_INT(vz_decompress("b.zst", VZ_COMP_ZSTD, bz, bzl, 1 << 20, &out, &ol), VZ_ERANGE);
	CHECK(strstr(vz_last_error(), "b.zst: decompresses to more than the limit of 1048576 bytes"));
	CHECK_INT(vz_decompress("b.gz", VZ_COMP_GZIP, bg, bgl, 1 << 20, &out, &ol), VZ_ERANGE);
	free(zeros);
	free(bz);
	free(bg);
	free(z);
	free(g);
}

TEST(query_lines_take_bare_arrays_and_optional_ids)
{
	const char q[] = "{\"vector\":[1,0,0]}\n[0,1,0]\n{\"id\":\"q\",\"vector\":[0,0,1]}\n{\"id\":\"q\",\"vector\":[1,1,1],\"payload\":1}\n";
	vz_batch b;
	CHECK_OK(vz_batch_parse("q", (const unsigned char *)q, sizeof q - 1, VZ_FMT_JSONL, 0, VZ_READ_QUERIES, 0, &b));
	CHECK_INT(b.n, 4);
	CHECK_INT(b.dim, 3);
	CHECK(b.ids[0] == NULL && b.ids[1] == NULL);
	CHECK_STR(b.ids[2], "q");
	CHECK_STR(b.ids[3], "q"); /* a query id may repeat */
	CHECK(vz_batch_row(&b, 1)[1] == 1.0f && vz_batch_row(&b, 2)[2] == 1.0f);
	vz_batch_free(&b);
	/* without the flag, a bare array and a missing id are refused as before */
	CHECK_INT(vz_batch_parse("q", (const unsigned char *)q, sizeof q - 1, VZ_FMT_JSONL, 0, 0, 0, &b), VZ_EDATA);
	CHECK(strstr(vz_last_error(), "q: line 1: no \"id\""));
	const char arr[] = "[1,0,0]\n";
	CHECK_INT(vz_batch_parse("a", (const unsigned char *)arr, sizeof arr - 1, VZ_FMT_JSONL, 0, 0, 0, &b), VZ_EDATA);
	CHECK(strstr(vz_last_error(), "a: line 1: a JSON object expected"));
	/* a query cut short names its column */
	const char cut[] = "[1,0,0]\n[1,0,\n";
	CHECK_INT(vz_batch_parse("c", (const unsigned char *)cut, sizeof cut - 1, VZ_FMT_JSONL, 0, VZ_READ_QUERIES, 0, &b), VZ_EDATA);
	CHECK_STR(vz_last_error(), "c: line 2: the array ends after value 2: a number or ']' expected (column 6)");
}
