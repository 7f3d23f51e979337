/* hash_avx2.c: XXH3-64 with AVX2, for lib/hash.c to use on processors that have it: Debian's
 * libxxhash is built for SSE2 only, and checksums are most of the work of verify and backup
 * (AVX2 hashes about twice as fast). The same xxhash.h, inlined here under an AVX2 target;
 * the hashes are the same bits whichever code computes them. */
#include "vz.h"

#if defined(__x86_64__) && defined(__GNUC__)
#ifdef __clang__
#pragma clang attribute push(__attribute__((target("avx2"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2")
#endif
#define XXH_INLINE_ALL
#define XXH_VECTOR 2 /* XXH_AVX2 */
#include <immintrin.h> /* xxhash.h includes it only when the whole file is built for AVX2 */
#include <stdlib.h>
#include <xxhash.h>

uint64_t vz_hash64_avx2(const void *data, size_t len) { return XXH3_64bits(data, len); }

void *vz_hasher_new_avx2(void)
{
	XXH3_state_t *st = XXH3_createState();
	if (st) XXH3_64bits_reset(st);
	return st;
}

void vz_hasher_update_avx2(void *st, const void *data, size_t len) { XXH3_64bits_update(st, data, len); }
uint64_t vz_hasher_digest_avx2(const void *st) { return XXH3_64bits_digest(st); }
void vz_hasher_free_avx2(void *st) { XXH3_freeState(st); }
#ifdef __clang__
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif
