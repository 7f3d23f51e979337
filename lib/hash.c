/* hash.c: XXH3-64 checksums over libxxhash. */
#include "vz.h"

#include <xxhash.h>

uint64_t vz_hash64(const void *data, size_t len) { return XXH3_64bits(data, len); }

uint64_t vz_hash64_seeded(const void *data, size_t len, uint64_t seed)
{
	return XXH3_64bits_withSeed(data, len, seed);
}

struct vz_hasher { XXH3_state_t *st; };

vz_hasher *vz_hasher_new(void)
{
	XXH3_state_t *st = XXH3_createState();
	if (!st) return NULL;
	XXH3_64bits_reset(st);
	return (vz_hasher *)st;
}

void vz_hasher_update(vz_hasher *h, const void *data, size_t len)
{
	if (len) XXH3_64bits_update((XXH3_state_t *)h, data, len);
}

uint64_t vz_hasher_digest(const vz_hasher *h) { return XXH3_64bits_digest((const XXH3_state_t *)h); }

void vz_hasher_free(vz_hasher *h)
{
	if (h) XXH3_freeState((XXH3_state_t *)h);
}
