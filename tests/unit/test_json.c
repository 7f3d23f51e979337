/* test_json.c: the one JSON string writer (lib/json.c): what each byte becomes, that the FILE and
 * buffer forms agree, and that a failing sink stops the writing. */
#include "t.h"
#include "../../lib/internal.h"

static char *escaped(const char *s, size_t len, unsigned flags)
{
	vz_buf b = { 0 };
	CHECK_OK(vz_buf_json_string(&b, s, len, flags));
	CHECK_OK(vz_buf_put(&b, "", 1));
	return (char *)b.data;
}

TEST(json_string_escapes_controls_del_quotes_and_keeps_utf8)
{
	static const char in[] = "a\"b\\c\n\r\t\b\f\x01\x1f\x7f z\xc3\xa9\xe2\x82\xac";
	char *out = escaped(in, sizeof in - 1, 0);
	CHECK_STR(out, "\"a\\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f\\u007f z\xc3\xa9\xe2\x82\xac\"");
	free(out);
	/* a NUL inside the text is a character like any other */
	out = escaped("x\0y", 3, 0);
	CHECK_STR(out, "\"x\\u0000y\"");
	free(out);
	out = escaped("", 0, 0);
	CHECK_STR(out, "\"\"");
	free(out);
	/* C1 controls (U+0080..U+009F: CSI is U+009B) are escaped too; U+00A0 is not */
	out = escaped("a\xc2\x9b[2J\xc2\x80\xc2\x9f\xc2\xa0" "b", 13, 0);
	CHECK_STR(out, "\"a\\u009b[2J\\u0080\\u009f\xc2\xa0" "b\"");
	free(out);
}

TEST(json_string_replaces_invalid_utf8_or_keeps_it_when_asked)
{
	/* a lone continuation byte, a cut-short two-byte character, an overlong '/' */
	static const char in[] = "a\x80" "b\xc3" "c\xc0\xaf";
	char *out = escaped(in, sizeof in - 1, 0);
	CHECK_STR(out, "\"a\\ufffdb\\ufffdc\\ufffd\\ufffd\"");
	free(out);
	out = escaped(in, sizeof in - 1, VZ_JSON_KEEP_INVALID);
	CHECK_STR(out, "\"a\x80" "b\xc3" "c\xc0\xaf\"");
	free(out);
}

TEST(json_string_to_a_file_equals_the_buffer_form)
{
	static const char in[] = "id \"7\"\ttab\x7f\xff end";
	FILE *f = fopen("out.json", "w");
	CHECK(f != NULL);
	vz_json_string(f, in, sizeof in - 1);
	CHECK(fclose(f) == 0);
	char *file = t_slurp("out.json", NULL), *buf = escaped(in, sizeof in - 1, 0);
	CHECK_STR(file, buf);
	free(file);
	free(buf);
}

static int fail_second(void *ctx, const char *p, size_t n)
{
	(void)p, (void)n;
	return ++*(int *)ctx == 2 ? VZ_EIO : 0;
}

TEST(json_string_stops_at_the_first_failing_write)
{
	int calls = 0;
	CHECK_INT(vz_json_escape("ab\ncd\nef", 8, 0, fail_second, &calls), VZ_EIO);
	CHECK_INT(calls, 2);
}
