/* test_fmtfloat.c: vz_format_float (lib/fmtfloat.c) writes exactly what the shortest of
 * snprintf's %.6g..%.9g that strtof reads back writes, on every kind of float. */
#include "t.h"

#include <float.h>
#include <math.h>
#include <stdint.h>

#include "../../lib/fmtfloat.h"

static void reference(char *buf, size_t size, float f)
{
	for (int prec = 6; prec <= 9; prec++) {
		snprintf(buf, size, "%.*g", prec, (double)f);
		if (strtof(buf, NULL) == f) break;
	}
}

static int checked;

static void same(float f)
{
	char want[64], got[VZ_FLOAT_CHARS];
	reference(want, sizeof want, f);
	size_t n = vz_format_float(got, sizeof got, f);
	if (strcmp(got, want) || n != strlen(want))
		t_fail(__FILE__, __LINE__, "%a: wrote \"%s\" (%zu), printf and strtof give \"%s\"", (double)f, got, n, want);
	checked++;
}

static void both_signs(float f)
{
	same(f);
	same(-f);
}

TEST(format_float_writes_what_printf_and_strtof_choose)
{
	/* any bit pattern: every exponent, zeros, subnormals, inf, nan (the fallback's ground) */
	uint64_t s = 88172645463325252ull;
	for (int i = 0; i < 100000; i++) {
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		uint32_t u = (uint32_t)s;
		float f;
		memcpy(&f, &u, sizeof f);
		same(f);
	}
	float special[] = { 0.0f, -0.0f, INFINITY, -INFINITY, NAN, 1e-45f, FLT_MIN, FLT_MAX, 1e-4f, 1e15f, 0.1f, 0.2f, 0.3f, 1.0f / 3 };
	for (size_t i = 0; i < sizeof special / sizeof *special; i++) same(special[i]);
	/* the fast path's range, at random: scores and distances */
	for (int i = 0; i < 100000; i++) {
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		double r = (double)(s >> 11) / 9007199254740992.0;
		both_signs((float)pow(10, -4 + 19 * r));
	}
	/* around every power of ten, where the exponent and the %g style change */
	for (int p = -6; p <= 16; p++) {
		float t = (float)pow(10, p), d = t, u = t;
		for (int i = 0; i < 50; i++) {
			both_signs(d);
			both_signs(u);
			d = nextafterf(d, 0);
			u = nextafterf(u, INFINITY);
		}
	}
	/* exact halves, where printf rounds to even: 100000.5 .. at 6 digits, 1000000.5 .. at 7 */
	for (int i = 0; i < 20000; i++) {
		both_signs(100000.5f + (float)i);
		both_signs(1000000.5f + (float)(i * 37));
		both_signs(0.5f + (float)(i * 431));
		both_signs((float)(i * 1000 + 500) * 1024.0f); /* ...500 times a power of two: exact ties */
	}
	/* short decimals, whose shortest form is the 6-digit one */
	for (int i = 1; i < 20000; i++) {
		both_signs((float)i / 1000);
		both_signs((float)i * 0.0001f);
	}
	CHECK(checked > 500000);
	/* a buffer too small for the fast path still gets printf's bytes, cut short */
	char small[8];
	vz_format_float(small, sizeof small, 1.0f / 3);
	CHECK(!strcmp(small, "0.33333"));
}
