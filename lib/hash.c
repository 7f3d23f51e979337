/* hash.c: XXH3-64 checksums over libxxhash, or lib/hash_avx2.c where the processor has AVX2. */
#include "vz.h"
#include "cpu.h"

#include <stdlib.h>
#include <xxhash.h>

#if defined(__x86_64__) && defined(__GNUC__)
uint64_t vz_hash64_avx2(const void *data, size_t len);
void *vz_hasher_new_avx2(void);
void vz_hasher_update_avx2(void *st, const void *data, size_t len);
uint64_t vz_hasher_digest_avx2(const void *st);
void vz_hasher_free_avx2(void *st);
static bool avx2(void) { return VZ_CPU_HAS(AVX2); } /* cpu.h */
#else
static bool avx2(void) { return false; }
#define vz_hash64_avx2(d, l) 0
#define vz_hasher_new_avx2() NULL
#define vz_hasher_update_avx2(s, d, l) ((void)0)
#define vz_hasher_digest_avx2(s) 0
#define vz_hasher_free_avx2(s) ((void)0)
#endif

uint64_t vz_hash64(const void *data, size_t len) { return avx2() ? vz_hash64_avx2(data, len) : XXH3_64bits(data, len); }

uint64_t vz_hash64_seeded(const void *data, size_t len, uint64_t seed)
{
	return XXH3_64bits_withSeed(data, len, seed);
}

struct vz_hasher {
	bool avx2;
	void *st; /* an XXH3_state_t of the code chosen */
};

vz_hasher *vz_hasher_new(void)
{
	vz_hasher *h = malloc(sizeof *h);
	if (!h) return NULL;
	h->avx2 = avx2();
	if (h->avx2) {
		h->st = vz_hasher_new_avx2();
	} else if ((h->st = XXH3_createState())) {
		XXH3_64bits_reset(h->st);
	}
	if (!h->st) {
		free(h);
		return NULL;
	}
	return h;
}

void vz_hasher_update(vz_hasher *h, const void *data, size_t len)
{
	if (!len) return;
	if (h->avx2) vz_hasher_update_avx2(h->st, data, len);
	else XXH3_64bits_update(h->st, data, len);
}

uint64_t vz_hasher_digest(const vz_hasher *h) { return h->avx2 ? vz_hasher_digest_avx2(h->st) : XXH3_64bits_digest(h->st); }

void vz_hasher_free(vz_hasher *h)
{
	if (!h) return;
	if (h->avx2) vz_hasher_free_avx2(h->st);
	else XXH3_freeState(h->st);
	free(h);
}
