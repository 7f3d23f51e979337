/* test_input_text.c: the library side of issue 15's smaller input defects: what UTF-8 is,
 * .npy files of no rows and shapes with trailing text, a NUL in CSV, invalid UTF-8 in JSON lines,
 * and a detail message that quotes the previous one. */
#include "t.h"

TEST(utf8_rule_refuses_overlong_surrogates_and_past_u10ffff)
{
	size_t bad = 99;
	CHECK(vz_utf8_valid("", 0, &bad));
	CHECK(vz_utf8_valid("a\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80", 10, &bad));
	CHECK(vz_utf8_valid("\xf4\x8f\xbf\xbf", 4, &bad)); /* U+10FFFF */
	static const struct { const char *s; size_t at; } no[] = {
		{ "ab\xff", 2 }, { "\xc0\xaf", 0 }, { "x\xe0\x80\xaf", 1 }, { "\xed\xa0\x80", 0 }, { "\xf4\x90\x80\x80", 0 },
		{ "abc\xc3", 3 }, { "\x80", 0 }, { "\xe2\x82(", 0 }, { "\xf8\x88\x80\x80\x80", 0 },
	};
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++) {
		bad = 99;
		CHECK(!vz_utf8_valid(no[i].s, strlen(no[i].s), &bad));
		CHECK_INT(bad, no[i].at);
	}
	CHECK_INT(vz_utf8_char_len((const unsigned char *)"\xc3\xa9", 1), 0); /* cut short */
	CHECK_INT(vz_utf8_char_len((const unsigned char *)"\xc3\xa9", 2), 2);
}

/* an .npy of rows x 3 float32 whose header is hlen bytes (10 + hlen: aligned when a multiple of 4) */
static void write_npy(const char *path, const char *shape, size_t rows, size_t hlen)
{
	char h[256];
	int n = snprintf(h, sizeof h, "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }", shape);
	memset(h + n, ' ', hlen - (size_t)n - 1);
	h[hlen - 1] = '\n';
	size_t len = 10 + hlen + rows * 12;
	unsigned char *d = calloc(1, len);
	memcpy(d, "\x93NUMPY\x01\x00", 8);
	d[8] = (unsigned char)(hlen & 0xff);
	d[9] = (unsigned char)(hlen >> 8);
	memcpy(d + 10, h, hlen);
	for (size_t i = 0; i < rows * 3; i++) {
		float f = (float)(i + 1);
		memcpy(d + 10 + hlen + i * 4, &f, 4);
	}
	t_write(path, d, len);
	free(d);
}

TEST(npy_of_no_rows_reads_and_frees_mapped_or_not)
{
	for (size_t hlen = 117; hlen <= 118; hlen++)
		for (unsigned flags = 0; flags <= VZ_READ_MAPPED; flags += VZ_READ_MAPPED) {
			write_npy("e.npy", "(0, 3)", 0, hlen);
			vz_batch b;
			CHECK_OK(vz_batch_read("e.npy", VZ_FMT_AUTO, 0, flags, 0, &b));
			CHECK_INT(b.n, 0);
			vz_batch_free(&b); /* freed a pointer into the mapping before */
		}
}

TEST(npy_shape_with_trailing_text_is_refused)
{
	write_npy("g.npy", "(4, 3)garbage", 4, 118);
	vz_batch b;
	CHECK_INT(vz_batch_read("g.npy", VZ_FMT_AUTO, 0, VZ_READ_MAPPED, 0, &b), VZ_EDATA);
	CHECK_STR(vz_last_error(), "g.npy: bad shape (text after the closing parenthesis)");
	write_npy("ok.npy", "(4, 3)", 4, 118);
	CHECK_OK(vz_batch_read("ok.npy", VZ_FMT_AUTO, 0, VZ_READ_MAPPED, 0, &b));
	CHECK_INT(b.n, 4);
	CHECK_INT(b.dim, 3);
	vz_batch_free(&b);
}

TEST(csv_nul_and_invalid_utf8_are_refused_naming_line_and_byte)
{
	vz_batch b;
	static const char nul[] = "a,1,2\nx\0y,1,2\n";
	CHECK_INT(vz_batch_parse("in.csv", (const unsigned char *)nul, sizeof nul - 1, VZ_FMT_CSV, 0, 0, 0, &b), VZ_EDATA);
	CHECK_STR(vz_last_error(), "in.csv: line 2: byte 2: NUL byte");
	static const char u[] = "a,1,2\n\"b\xff\",1,2\n";
	CHECK_INT(vz_batch_parse("in.csv", (const unsigned char *)u, sizeof u - 1, VZ_FMT_CSV, 0, 0, 0, &b), VZ_EDATA);
	CHECK_STR(vz_last_error(), "in.csv: line 2: byte 3: invalid UTF-8");
	static const char j[] = "{\"id\":\"a\",\"vector\":[1]}\n\n{\"id\":\"b\",\"vector\":[1],\"payload\":\"\xc3(\"}\n";
	CHECK_INT(vz_batch_parse("in.jsonl", (const unsigned char *)j, sizeof j - 1, VZ_FMT_JSONL, 0, 0, 0, &b), VZ_EDATA);
	CHECK_STR(vz_last_error(), "in.jsonl: line 3: byte 35: invalid UTF-8");
	static const char ok[] = "{\"id\":\"\xc3\xa9\",\"vector\":[1],\"payload\":\"\\ud83d\\ude00\"}\n";
	CHECK_OK(vz_batch_parse("in.jsonl", (const unsigned char *)ok, sizeof ok - 1, VZ_FMT_JSONL, 0, 0, 0, &b));
	CHECK_STR(b.ids[0], "\xc3\xa9");
	vz_batch_free(&b);
}

TEST(fail_may_quote_the_last_error)
{
	vz_fail(VZ_ECONFIG, "unknown metric \"cosinex\"");
	CHECK_INT(vz_fail(VZ_EDATA, "%s: line 1: %s", "d.jsonl", vz_last_error()), VZ_EDATA);
	CHECK_STR(vz_last_error(), "d.jsonl: line 1: unknown metric \"cosinex\"");
}
