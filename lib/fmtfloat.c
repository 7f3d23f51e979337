/* fmtfloat.c: vz_format_float, a float as the shortest of %.6g..%.9g that reads back to the
 * same float. It exists because vz(1) prints a score per result: done with snprintf and strtof
 * per precision tried, formatting was 15% of a whole `vz query --batch` process (100k x 128,
 * 10,000 queries, ef 20, perf). Here the digits come from exact integer arithmetic and the
 * read-back from one correctly rounded double operation; what that cannot settle (values out of
 * the range below, an exact half between two floats) goes the old way. Same bytes either way
 * (tests/unit/test_fmtfloat.c compares them on every kind of value). */
#include "fmtfloat.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t format_slow(char *buf, size_t size, float f)
{
	for (int prec = 6; prec <= 9; prec++) {
		snprintf(buf, size, "%.*g", prec, (double)f);
		if (strtof(buf, NULL) == f) break;
	}
	return strlen(buf);
}

static const double pow10d[] = { 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15 };

static unsigned __int128 pow10q(int n)
{
	unsigned __int128 p = 1;
	while (n-- > 0) p *= 10;
	return p;
}

/* a = m * 2^e rounded (half to even, as printf) to p significant digits: q in [10^(p-1),
 * 10^p), a ~ q * 10^(*x - p + 1). *x starts as an estimate of floor(log10(a)). */
static void digits(uint32_t m, int e, int p, int *x, uint64_t *q)
{
	for (;;) {
		int k = p - 1 - *x;
		unsigned __int128 num = m, den = 1;
		if (k >= 0) num *= pow10q(k);
		else den *= pow10q(-k);
		if (e >= 0) num <<= e;
		else den <<= -e;
		unsigned __int128 d = num / den, r = num % den;
		uint64_t lo = (uint64_t)pow10q(p - 1), hi = lo * 10;
		if (d < lo) { (*x)--; continue; }
		if (d >= hi) { (*x)++; continue; }
		*q = (uint64_t)d;
		if (2 * r > den || (2 * r == den && (*q & 1))) (*q)++;
		if (*q == hi) {
			*q = lo;
			(*x)++;
		}
		return;
	}
}

/* 1: q * 10^n reads back as a (strtof would give a), 0: it does not, -1: not settled here. */
static int reads_back(uint64_t q, int n, float a)
{
	/* q < 2^30 and 10^|n| (|n| <= 15) are exact doubles: one correctly rounded operation, and
	 * rounding is monotone, so the double and the decimal fall on the same side of any float's
	 * halfway point, unless the double is that point itself */
	double d = n >= 0 ? (double)q * pow10d[n] : (double)q / pow10d[-n];
	float t = (float)d;
	if ((double)t == d) return t == a;
	float other = d > (double)t ? nextafterf(t, INFINITY) : nextafterf(t, 0);
	if (d == ((double)t + (double)other) / 2) return -1;
	return t == a;
}

/* %.{p}g of (sign) q * 10^(x - p + 1), q of p digits. */
static size_t format_g(char *buf, bool neg, uint64_t q, int p, int x)
{
	char dig[10];
	for (int i = p - 1; i >= 0; i--) {
		dig[i] = (char)('0' + q % 10);
		q /= 10;
	}
	int nd = p;
	while (nd > 1 && dig[nd - 1] == '0') nd--;
	char *o = buf;
	if (neg) *o++ = '-';
	if (x < -4 || x >= p) {
		*o++ = dig[0];
		if (nd > 1) {
			*o++ = '.';
			memcpy(o, dig + 1, (size_t)nd - 1);
			o += nd - 1;
		}
		*o++ = 'e';
		*o++ = x < 0 ? '-' : '+';
		int ax = x < 0 ? -x : x;
		if (ax >= 100) *o++ = (char)('0' + ax / 100);
		*o++ = (char)('0' + ax / 10 % 10);
		*o++ = (char)('0' + ax % 10);
	} else if (x >= 0) {
		for (int i = 0; i <= x; i++) *o++ = i < nd ? dig[i] : '0';
		if (nd > x + 1) {
			*o++ = '.';
			memcpy(o, dig + x + 1, (size_t)(nd - x - 1));
			o += nd - x - 1;
		}
	} else {
		*o++ = '0';
		*o++ = '.';
		for (int i = 0; i < -x - 1; i++) *o++ = '0';
		memcpy(o, dig, (size_t)nd);
		o += nd;
	}
	*o = 0;
	return (size_t)(o - buf);
}

size_t vz_format_float(char *buf, size_t size, float f)
{
	float a = fabsf(f);
	/* the range where every quantity below fits its type: 10^x at most 10^14, q * 10^n with
	 * |n| <= 15, numerator and denominator under 2^100 */
	if (size < VZ_FLOAT_CHARS || !(a >= 1e-4f && a < 1e15f)) return format_slow(buf, size, f);
	uint32_t bits;
	memcpy(&bits, &a, sizeof bits);
	uint32_t m = (bits & 0x7fffff) | 0x800000;
	int e = (int)(bits >> 23) - 150; /* a = m * 2^e: normal, as a >= 1e-4 */
	int x = (int)floor(log10((double)a));
	for (int p = 6; p <= 9; p++) {
		uint64_t q;
		digits(m, e, p, &x, &q);
		int ok = reads_back(q, x - p + 1, a);
		if (ok < 0) break;
		if (ok || p == 9) return format_g(buf, f < 0, q, p, x);
	}
	return format_slow(buf, size, f);
}
