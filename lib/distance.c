/* distance.c: distance kernels (scalar, SSE, AVX2+FMA, AVX-512) chosen once at run time.
 * The binary is built for baseline x86-64; wider kernels are compiled with target attributes
 * and used only when the CPU has them (VZ_SIMD or vz_simd_force can pin a level for tests). */
#include "vz.h"
#include "cpu.h"

#include <math.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define VZ_X86 1
#endif

const char *vz_metric_name(enum vz_metric m)
{
	switch (m) {
	case VZ_METRIC_COSINE: return "cosine";
	case VZ_METRIC_EUCLIDEAN: return "euclidean";
	case VZ_METRIC_DOT: return "dot_product";
	}
	return "unknown";
}

int vz_metric_parse(const char *name, enum vz_metric *out)
{
	if (!strcmp(name, "cosine")) *out = VZ_METRIC_COSINE;
	else if (!strcmp(name, "euclidean") || !strcmp(name, "l2")) *out = VZ_METRIC_EUCLIDEAN;
	else if (!strcmp(name, "dot_product") || !strcmp(name, "dot")) *out = VZ_METRIC_DOT;
	else return vz_fail(VZ_EINVAL, "unknown metric '%s' (cosine, euclidean, dot_product)", name);
	return VZ_OK;
}

static float l2sq_scalar(const float *a, const float *b, size_t n)
{
	float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	size_t i = 0;
	for (; i + 4 <= n; i += 4) {
		float d0 = a[i] - b[i], d1 = a[i + 1] - b[i + 1], d2 = a[i + 2] - b[i + 2], d3 = a[i + 3] - b[i + 3];
		s0 += d0 * d0; s1 += d1 * d1; s2 += d2 * d2; s3 += d3 * d3;
	}
	for (; i < n; i++) { float d = a[i] - b[i]; s0 += d * d; }
	return (s0 + s1) + (s2 + s3);
}

static float dot_scalar(const float *a, const float *b, size_t n)
{
	float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	size_t i = 0;
	for (; i + 4 <= n; i += 4) {
		s0 += a[i] * b[i]; s1 += a[i + 1] * b[i + 1]; s2 += a[i + 2] * b[i + 2]; s3 += a[i + 3] * b[i + 3];
	}
	for (; i < n; i++) s0 += a[i] * b[i];
	return (s0 + s1) + (s2 + s3);
}

/* sq8: codes c (one byte a dimension) against a query prepared once per search: for
 * euclidean, r = query - minimum and step per dimension, the sum of (r - step * c)^2; for the
 * dot product, w = query * step, the sum of w * c. The SIMD kernels end with these for their
 * tails: always inlined, so that the tail is compiled with VEX encodings inside them. Called,
 * legacy SSE code would run with the upper halves of the vector registers dirty, which stalls
 * every call (6x slower sq8 distances on 96 dimensions, whose tail is empty). */
static inline __attribute__((always_inline)) float sq8_l2_scalar(const float *r, const float *step, const uint8_t *c, size_t n)
{
	float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	size_t i = 0;
	for (; i + 4 <= n; i += 4) {
		float d0 = r[i] - step[i] * (float)c[i], d1 = r[i + 1] - step[i + 1] * (float)c[i + 1];
		float d2 = r[i + 2] - step[i + 2] * (float)c[i + 2], d3 = r[i + 3] - step[i + 3] * (float)c[i + 3];
		s0 += d0 * d0; s1 += d1 * d1; s2 += d2 * d2; s3 += d3 * d3;
	}
	for (; i < n; i++) { float d = r[i] - step[i] * (float)c[i]; s0 += d * d; }
	return (s0 + s1) + (s2 + s3);
}

static inline __attribute__((always_inline)) float sq8_dot_scalar(const float *w, const float *unused, const uint8_t *c, size_t n)
{
	(void)unused;
	float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	size_t i = 0;
	for (; i + 4 <= n; i += 4) {
		s0 += w[i] * (float)c[i]; s1 += w[i + 1] * (float)c[i + 1];
		s2 += w[i + 2] * (float)c[i + 2]; s3 += w[i + 3] * (float)c[i + 3];
	}
	for (; i < n; i++) s0 += w[i] * (float)c[i];
	return (s0 + s1) + (s2 + s3);
}

/* u8: the squared L2 distance of two rows of one-byte codes, exact in integers (each term at
 * most 255^2, so the sum fits 32 bits up to 66,000 dimensions). Graph builds on codes measure
 * code against code with it (hnsw_build.c): no conversion to floats at all. */
static inline __attribute__((always_inline)) uint32_t u8_l2sq_scalar(const uint8_t *a, const uint8_t *b, size_t n)
{
	uint32_t s0 = 0, s1 = 0;
	size_t i = 0;
	for (; i + 2 <= n; i += 2) {
		int d0 = (int)a[i] - (int)b[i], d1 = (int)a[i + 1] - (int)b[i + 1];
		s0 += (uint32_t)(d0 * d0);
		s1 += (uint32_t)(d1 * d1);
	}
	if (i < n) { int d = (int)a[i] - (int)b[i]; s0 += (uint32_t)(d * d); }
	return s0 + s1;
}

static uint32_t u8_l2sq_plain(const uint8_t *a, const uint8_t *b, size_t n) { return u8_l2sq_scalar(a, b, n); }

#ifdef VZ_X86
__attribute__((target("sse2"))) static float hsum128(__m128 v)
{
	__m128 sh = _mm_shuffle_ps(v, v, _MM_SHUFFLE(2, 3, 0, 1));
	__m128 s = _mm_add_ps(v, sh);
	sh = _mm_movehl_ps(sh, s);
	s = _mm_add_ss(s, sh);
	return _mm_cvtss_f32(s);
}

__attribute__((target("sse2"))) static float l2sq_sse(const float *a, const float *b, size_t n)
{
	__m128 acc0 = _mm_setzero_ps(), acc1 = _mm_setzero_ps();
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		__m128 d0 = _mm_sub_ps(_mm_loadu_ps(a + i), _mm_loadu_ps(b + i));
		__m128 d1 = _mm_sub_ps(_mm_loadu_ps(a + i + 4), _mm_loadu_ps(b + i + 4));
		acc0 = _mm_add_ps(acc0, _mm_mul_ps(d0, d0));
		acc1 = _mm_add_ps(acc1, _mm_mul_ps(d1, d1));
	}
	for (; i + 4 <= n; i += 4) {
		__m128 d = _mm_sub_ps(_mm_loadu_ps(a + i), _mm_loadu_ps(b + i));
		acc0 = _mm_add_ps(acc0, _mm_mul_ps(d, d));
	}
	float s = hsum128(_mm_add_ps(acc0, acc1));
	for (; i < n; i++) { float d = a[i] - b[i]; s += d * d; }
	return s;
}

__attribute__((target("sse2"))) static float dot_sse(const float *a, const float *b, size_t n)
{
	__m128 acc0 = _mm_setzero_ps(), acc1 = _mm_setzero_ps();
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		acc0 = _mm_add_ps(acc0, _mm_mul_ps(_mm_loadu_ps(a + i), _mm_loadu_ps(b + i)));
		acc1 = _mm_add_ps(acc1, _mm_mul_ps(_mm_loadu_ps(a + i + 4), _mm_loadu_ps(b + i + 4)));
	}
	for (; i + 4 <= n; i += 4) acc0 = _mm_add_ps(acc0, _mm_mul_ps(_mm_loadu_ps(a + i), _mm_loadu_ps(b + i)));
	float s = hsum128(_mm_add_ps(acc0, acc1));
	for (; i < n; i++) s += a[i] * b[i];
	return s;
}

/* four codes as floats: bytes widened with zeros (SSE2 has no pmovzx) */
__attribute__((target("sse2"))) static inline __m128 codes4_sse(const uint8_t *c)
{
	int32_t word;
	memcpy(&word, c, 4);
	__m128i z = _mm_setzero_si128();
	__m128i x = _mm_unpacklo_epi16(_mm_unpacklo_epi8(_mm_cvtsi32_si128(word), z), z);
	return _mm_cvtepi32_ps(x);
}

__attribute__((target("sse2"))) static float sq8_l2_sse(const float *r, const float *step, const uint8_t *c, size_t n)
{
	__m128 acc = _mm_setzero_ps();
	size_t i = 0;
	for (; i + 4 <= n; i += 4) {
		__m128 d = _mm_sub_ps(_mm_loadu_ps(r + i), _mm_mul_ps(_mm_loadu_ps(step + i), codes4_sse(c + i)));
		acc = _mm_add_ps(acc, _mm_mul_ps(d, d));
	}
	return hsum128(acc) + sq8_l2_scalar(r + i, step + i, c + i, n - i);
}

__attribute__((target("sse2"))) static float sq8_dot_sse(const float *w, const float *unused, const uint8_t *c, size_t n)
{
	(void)unused;
	__m128 acc = _mm_setzero_ps();
	size_t i = 0;
	for (; i + 4 <= n; i += 4) acc = _mm_add_ps(acc, _mm_mul_ps(_mm_loadu_ps(w + i), codes4_sse(c + i)));
	return hsum128(acc) + sq8_dot_scalar(w + i, NULL, c + i, n - i);
}

__attribute__((target("avx2,fma"))) static float hsum256(__m256 v)
{
	__m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
	__m128 s = _mm_add_ps(lo, hi);
	__m128 sh = _mm_shuffle_ps(s, s, _MM_SHUFFLE(2, 3, 0, 1));
	s = _mm_add_ps(s, sh);
	sh = _mm_movehl_ps(sh, s);
	s = _mm_add_ss(s, sh);
	return _mm_cvtss_f32(s);
}

/* The AVX2 bodies, one per metric, parameterised by how 8 (load8) and 1 (load1) values of the
 * row b are read: floats as they are, or binary16 widened as they are loaded (F16C). Always
 * inlined with a constant loader, so that each kernel below is compiled as if written out, and
 * float and half rows go through the same operations in the same order: rows whose floats
 * convert exactly give bit-identical results. */
__attribute__((target("avx2,fma"), always_inline)) static inline __m256 row_f32_8(const void *b, size_t i)
{
	return _mm256_loadu_ps((const float *)b + i);
}

__attribute__((target("avx2,fma"), always_inline)) static inline float row_f32_1(const void *b, size_t i)
{
	return ((const float *)b)[i];
}

typedef __m256 (*row_load8)(const void *b, size_t i);
typedef float (*row_load1)(const void *b, size_t i);

__attribute__((target("avx2,fma"), always_inline)) static inline float l2sq_avx2_body(const float *a, const void *b, size_t n,
										      row_load8 load8, row_load1 load1)
{
	__m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
	size_t i = 0;
	if (n >= 64) {
		/* four chains, not two: two wait on the FMA latency (Fashion-MNIST-784, 10,000 queries,
		 * whole `vz query --batch` process: user time 0.92x, 5 interleaved pairs at load 13) */
		__m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
		for (; i + 32 <= n; i += 32) {
			__m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), load8(b, i));
			__m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), load8(b, i + 8));
			__m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 16), load8(b, i + 16));
			__m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 24), load8(b, i + 24));
			acc0 = _mm256_fmadd_ps(d0, d0, acc0);
			acc1 = _mm256_fmadd_ps(d1, d1, acc1);
			acc2 = _mm256_fmadd_ps(d2, d2, acc2);
			acc3 = _mm256_fmadd_ps(d3, d3, acc3);
		}
		acc0 = _mm256_add_ps(acc0, acc2);
		acc1 = _mm256_add_ps(acc1, acc3);
	}
	for (; i + 16 <= n; i += 16) {
		__m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), load8(b, i));
		__m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), load8(b, i + 8));
		acc0 = _mm256_fmadd_ps(d0, d0, acc0);
		acc1 = _mm256_fmadd_ps(d1, d1, acc1);
	}
	for (; i + 8 <= n; i += 8) {
		__m256 d = _mm256_sub_ps(_mm256_loadu_ps(a + i), load8(b, i));
		acc0 = _mm256_fmadd_ps(d, d, acc0);
	}
	float s = hsum256(_mm256_add_ps(acc0, acc1));
	for (; i < n; i++) { float d = a[i] - load1(b, i); s += d * d; }
	return s;
}

__attribute__((target("avx2,fma"), always_inline)) static inline float dot_avx2_body(const float *a, const void *b, size_t n,
										     row_load8 load8, row_load1 load1)
{
	__m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
	size_t i = 0;
	for (; i + 16 <= n; i += 16) {
		acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), load8(b, i), acc0);
		acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), load8(b, i + 8), acc1);
	}
	for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), load8(b, i), acc0);
	float s = hsum256(_mm256_add_ps(acc0, acc1));
	for (; i < n; i++) s += a[i] * load1(b, i);
	return s;
}

__attribute__((target("avx2,fma"))) static float l2sq_avx2(const float *a, const float *b, size_t n)
{
	return l2sq_avx2_body(a, b, n, row_f32_8, row_f32_1);
}

__attribute__((target("avx2,fma"))) static float dot_avx2(const float *a, const float *b, size_t n)
{
	return dot_avx2_body(a, b, n, row_f32_8, row_f32_1);
}

__attribute__((target("avx512f"))) static float l2sq_avx512(const float *a, const float *b, size_t n)
{
	__m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
	size_t i = 0;
	for (; i + 32 <= n; i += 32) {
		__m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
		__m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16));
		acc0 = _mm512_fmadd_ps(d0, d0, acc0);
		acc1 = _mm512_fmadd_ps(d1, d1, acc1);
	}
	for (; i + 16 <= n; i += 16) {
		__m512 d = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
		acc0 = _mm512_fmadd_ps(d, d, acc0);
	}
	if (i < n) {
		/* the tail through a mask: no scalar loop, no read past the end */
		__mmask16 m = (__mmask16)((1u << (n - i)) - 1);
		__m512 d = _mm512_sub_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i));
		acc1 = _mm512_fmadd_ps(d, d, acc1);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

__attribute__((target("avx512f"))) static float dot_avx512(const float *a, const float *b, size_t n)
{
	__m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
	size_t i = 0;
	for (; i + 32 <= n; i += 32) {
		acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
		acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), acc1);
	}
	for (; i + 16 <= n; i += 16) acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc0);
	if (i < n) {
		__mmask16 m = (__mmask16)((1u << (n - i)) - 1);
		acc1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), acc1);
	}
	return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
}

__attribute__((target("avx2,fma"))) static inline __m256 codes8_avx2(const uint8_t *c)
{
	return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)c)));
}

__attribute__((target("avx2,fma"))) static float sq8_l2_avx2(const float *r, const float *step, const uint8_t *c, size_t n)
{
	__m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
	size_t i = 0;
	for (; i + 16 <= n; i += 16) {
		__m256 d0 = _mm256_fnmadd_ps(_mm256_loadu_ps(step + i), codes8_avx2(c + i), _mm256_loadu_ps(r + i));
		__m256 d1 = _mm256_fnmadd_ps(_mm256_loadu_ps(step + i + 8), codes8_avx2(c + i + 8), _mm256_loadu_ps(r + i + 8));
		acc0 = _mm256_fmadd_ps(d0, d0, acc0);
		acc1 = _mm256_fmadd_ps(d1, d1, acc1);
	}
	for (; i + 8 <= n; i += 8) {
		__m256 d = _mm256_fnmadd_ps(_mm256_loadu_ps(step + i), codes8_avx2(c + i), _mm256_loadu_ps(r + i));
		acc0 = _mm256_fmadd_ps(d, d, acc0);
	}
	return hsum256(_mm256_add_ps(acc0, acc1)) + sq8_l2_scalar(r + i, step + i, c + i, n - i);
}

__attribute__((target("avx2,fma"))) static float sq8_dot_avx2(const float *w, const float *unused, const uint8_t *c, size_t n)
{
	(void)unused;
	__m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
	size_t i = 0;
	for (; i + 16 <= n; i += 16) {
		acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), codes8_avx2(c + i), acc0);
		acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i + 8), codes8_avx2(c + i + 8), acc1);
	}
	for (; i + 8 <= n; i += 8) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(w + i), codes8_avx2(c + i), acc0);
	return hsum256(_mm256_add_ps(acc0, acc1)) + sq8_dot_scalar(w + i, NULL, c + i, n - i);
}

/* |a - b| per byte as max - min (no overflow in eight bits), widened to 16 bits against zero
 * and squared and summed in pairs by vpmaddwd: 32 codes an iteration */
__attribute__((target("avx2"))) static uint32_t u8_l2sq_avx2(const uint8_t *a, const uint8_t *b, size_t n)
{
	__m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256(), z = _mm256_setzero_si256();
	size_t i = 0;
	for (; i + 32 <= n; i += 32) {
		__m256i x = _mm256_loadu_si256((const __m256i *)(a + i)), y = _mm256_loadu_si256((const __m256i *)(b + i));
		__m256i d = _mm256_sub_epi8(_mm256_max_epu8(x, y), _mm256_min_epu8(x, y));
		__m256i lo = _mm256_unpacklo_epi8(d, z), hi = _mm256_unpackhi_epi8(d, z);
		acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(lo, lo));
		acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(hi, hi));
	}
	if (i + 16 <= n) {
		__m256i x = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(a + i)));
		__m256i y = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(b + i)));
		__m256i d = _mm256_sub_epi16(x, y);
		acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(d, d));
		i += 16;
	}
	__m256i acc = _mm256_add_epi32(acc0, acc1);
	__m128i s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
	s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
	return (uint32_t)_mm_cvtsi128_si32(s) + u8_l2sq_scalar(a + i, b + i, n - i);
}

__attribute__((target("avx512f"))) static inline __m512 codes16_avx512(const uint8_t *c)
{
	return _mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)c)));
}

__attribute__((target("avx512f"))) static float sq8_l2_avx512(const float *r, const float *step, const uint8_t *c, size_t n)
{
	__m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
	size_t i = 0;
	for (; i + 32 <= n; i += 32) {
		__m512 d0 = _mm512_fnmadd_ps(_mm512_loadu_ps(step + i), codes16_avx512(c + i), _mm512_loadu_ps(r + i));
		__m512 d1 = _mm512_fnmadd_ps(_mm512_loadu_ps(step + i + 16), codes16_avx512(c + i + 16), _mm512_loadu_ps(r + i + 16));
		acc0 = _mm512_fmadd_ps(d0, d0, acc0);
		acc1 = _mm512_fmadd_ps(d1, d1, acc1);
	}
	for (; i + 16 <= n; i += 16) {
		__m512 d = _mm512_fnmadd_ps(_mm512_loadu_ps(step + i), codes16_avx512(c + i), _mm512_loadu_ps(r + i));
		acc0 = _mm512_fmadd_ps(d, d, acc0);
	}
	/* the tail in scalar: a 16-byte load of the last codes could read past the end */
	return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) + sq8_l2_scalar(r + i, step + i, c + i, n - i);
}

__attribute__((target("avx512f"))) static float sq8_dot_avx512(const float *w, const float *unused, const uint8_t *c, size_t n)
{
	(void)unused;
	__m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
	size_t i = 0;
	for (; i + 32 <= n; i += 32) {
		acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), codes16_avx512(c + i), acc0);
		acc1 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i + 16), codes16_avx512(c + i + 16), acc1);
	}
	for (; i + 16 <= n; i += 16) acc0 = _mm512_fmadd_ps(_mm512_loadu_ps(w + i), codes16_avx512(c + i), acc0);
	return _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1)) + sq8_dot_scalar(w + i, NULL, c + i, n - i);
}
/* Half-precision rows (vz_hnsw_pack of integer-like data): the avx2 bodies above with each row
 * value converted from binary16 as it is loaded (F16C). */
__attribute__((target("avx2,fma,f16c"), always_inline)) static inline __m256 row_h16_8(const void *b, size_t i)
{
	return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)b + i)));
}

__attribute__((target("avx2,fma,f16c"), always_inline)) static inline float row_h16_1(const void *b, size_t i)
{
	return _cvtsh_ss(((const uint16_t *)b)[i]);
}

__attribute__((target("avx2,fma,f16c"))) static float l2sq_h16_avx2(const float *a, const uint16_t *b, size_t n)
{
	return l2sq_avx2_body(a, b, n, row_h16_8, row_h16_1);
}

__attribute__((target("avx2,fma,f16c"))) static float dot_h16_avx2(const float *a, const uint16_t *b, size_t n)
{
	return dot_avx2_body(a, b, n, row_h16_8, row_h16_1);
}
#endif

typedef float (*kernel)(const float *, const float *, size_t);

static struct {
	int ready;
	const char *level;
	kernel l2sq, dot;
	vz_sq8_kernel sq8_l2, sq8_dot;
	vz_h16_kernel h16_l2, h16_dot; /* NULL but at the avx2 level on a CPU with F16C */
	vz_u8_kernel u8_l2;
} simd;

static bool set_level(const char *level)
{
	simd.h16_l2 = simd.h16_dot = NULL; /* set again below by the one level that has them */
	simd.u8_l2 = u8_l2sq_plain;        /* AVX2 for the avx2 and avx512 levels, below */
	if (!strcmp(level, "scalar")) {
		simd.l2sq = l2sq_scalar; simd.dot = dot_scalar; simd.sq8_l2 = sq8_l2_scalar; simd.sq8_dot = sq8_dot_scalar;
	}
#ifdef VZ_X86
	else if (!strcmp(level, "sse") && VZ_CPU_HAS(SSE2)) {
		simd.l2sq = l2sq_sse; simd.dot = dot_sse; simd.sq8_l2 = sq8_l2_sse; simd.sq8_dot = sq8_dot_sse;
	} else if (!strcmp(level, "avx2") && VZ_CPU_HAS(AVX2) && VZ_CPU_HAS(FMA)) {
		simd.l2sq = l2sq_avx2; simd.dot = dot_avx2; simd.sq8_l2 = sq8_l2_avx2; simd.sq8_dot = sq8_dot_avx2;
		if (VZ_CPU_HAS(F16C)) { simd.h16_l2 = l2sq_h16_avx2; simd.h16_dot = dot_h16_avx2; }
		simd.u8_l2 = u8_l2sq_avx2;
	} else if (!strcmp(level, "avx512") && VZ_CPU_HAS(AVX512F)) {
		simd.l2sq = l2sq_avx512; simd.dot = dot_avx512; simd.sq8_l2 = sq8_l2_avx512; simd.sq8_dot = sq8_dot_avx512;
		if (VZ_CPU_HAS(AVX2)) simd.u8_l2 = u8_l2sq_avx2;
	}
#endif
	else return false;
	simd.level = !strcmp(level, "scalar") ? "scalar" : !strcmp(level, "sse") ? "sse" : !strcmp(level, "avx2") ? "avx2" : "avx512";
	return true;
}

/* The kernels are chosen once, by the first caller. Index builds call the kernels from several
 * threads at once, so the choice is made under pthread_once and published with release order:
 * a thread that sees ready == 1 also sees both kernel pointers (not, as before, a NULL one). */
static pthread_once_t simd_once = PTHREAD_ONCE_INIT;

static void choose_kernels(void)
{
	const char *want = getenv("VZ_SIMD");
	if (!(want && *want && set_level(want)) && !set_level("avx512") && !set_level("avx2") && !set_level("sse"))
		set_level("scalar");
	__atomic_store_n(&simd.ready, 1, __ATOMIC_RELEASE);
}

static void init_simd(void)
{
	if (!__atomic_load_n(&simd.ready, __ATOMIC_ACQUIRE)) pthread_once(&simd_once, choose_kernels);
}

const char *vz_simd_level(void)
{
	init_simd();
	return simd.level;
}

int vz_simd_force(const char *level)
{
	init_simd();
	if (!set_level(level)) return vz_fail(VZ_EINVAL, "SIMD level '%s' is unknown or not supported by this CPU", level);
	return VZ_OK;
}

float vz_l2sq(const float *a, const float *b, size_t dim)
{
	init_simd();
	return simd.l2sq(a, b, dim);
}

float vz_dot(const float *a, const float *b, size_t dim)
{
	init_simd();
	return simd.dot(a, b, dim);
}

vz_kernel vz_kernel_for(enum vz_metric m)
{
	init_simd();
	return m == VZ_METRIC_EUCLIDEAN ? simd.l2sq : simd.dot;
}

vz_h16_kernel vz_h16_kernel_for(enum vz_metric m)
{
	init_simd();
	return m == VZ_METRIC_EUCLIDEAN ? simd.h16_l2 : simd.h16_dot;
}

vz_sq8_kernel vz_sq8_kernel_for(enum vz_metric m)
{
	init_simd();
	return m == VZ_METRIC_EUCLIDEAN ? simd.sq8_l2 : simd.sq8_dot;
}

vz_u8_kernel vz_u8_l2_kernel(void)
{
	init_simd();
	return simd.u8_l2;
}

float vz_distance(enum vz_metric m, const float *a, const float *b, size_t dim)
{
	if (m == VZ_METRIC_EUCLIDEAN) return vz_l2sq(a, b, dim);
	float d = vz_dot(a, b, dim);
	return m == VZ_METRIC_COSINE ? 1.0f - d : -d;
}

float vz_score(enum vz_metric m, float distance)
{
	if (m == VZ_METRIC_EUCLIDEAN) return sqrtf(distance > 0 ? distance : 0);
	return m == VZ_METRIC_COSINE ? 1.0f - distance : -distance;
}

int vz_normalize(float *v, size_t dim)
{
	double s = 0;
	for (size_t i = 0; i < dim; i++) s += (double)v[i] * v[i];
	if (s == 0 || !isfinite(s)) return vz_fail(VZ_EDATA, "a zero vector has no direction");
	double inv = 1.0 / sqrt(s);
	for (size_t i = 0; i < dim; i++) v[i] = (float)(v[i] * inv);
	return VZ_OK;
}
