/* fuzz_common.h: a private scratch directory for targets whose parsers read files. */
#ifndef VZ_FUZZ_COMMON_H
#define VZ_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../lib/vz.h"

static char fuzz_dir_path[64];

static void fuzz_dir_remove(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", fuzz_dir_path);
	if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", fuzz_dir_path);
}

static const char *fuzz_dir(void)
{
	if (!fuzz_dir_path[0]) {
		snprintf(fuzz_dir_path, sizeof fuzz_dir_path, "/tmp/vzfuzz.XXXXXX");
		if (!mkdtemp(fuzz_dir_path)) abort();
		atexit(fuzz_dir_remove);
	}
	return fuzz_dir_path;
}

static void fuzz_write(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "wb");
	if (!f) abort();
	if (size) fwrite(data, 1, size, f);
	fclose(f);
}

/* Writes data to path as it is, then calls check; then, when data holds a file header, writes it
 * again with the header's body length and both checksums made right for the bytes that follow,
 * so that the parser behind the checksum is reached too, and calls check again. */
static inline void fuzz_write_checked(const char *path, const uint8_t *data, size_t size, void (*check)(const char *path))
{
	fuzz_write(path, data, size);
	check(path);
	if (size < VZ_HEADER_SIZE) return;
	uint8_t *fixed = malloc(size);
	if (!fixed) return;
	memcpy(fixed, data, size);
	vz_file_header h;
	memcpy(h.magic, fixed, 8);
	h.version = vz_load_u32(fixed + 8);
	h.flags = vz_load_u32(fixed + 12);
	h.generation = vz_load_u64(fixed + 16);
	h.body_length = size - VZ_HEADER_SIZE;
	h.body_checksum = vz_hash64(fixed + VZ_HEADER_SIZE, size - VZ_HEADER_SIZE);
	h.aux = vz_load_u64(fixed + 40);
	h.aux2 = vz_load_u64(fixed + 48);
	vz_header_encode(&h, fixed);
	fuzz_write(path, fixed, size);
	free(fixed);
	check(path);
}

/* A base file and a delta over it from one input (u32 n, n bytes of the base written as base
 * in the scratch directory, then the delta written as delta through fuzz_write_checked). */
static inline void fuzz_base_and_delta(const uint8_t *data, size_t size, const char *base, const char *delta,
				       void (*check)(const char *path))
{
	if (size < 4) return;
	uint32_t n = vz_load_u32(data);
	if (n > size - 4) n = (uint32_t)(size - 4);
	char path[128];
	snprintf(path, sizeof path, "%s/%s", fuzz_dir(), base);
	fuzz_write(path, data + 4, n);
	snprintf(path, sizeof path, "%s/%s", fuzz_dir(), delta);
	fuzz_write_checked(path, data + 4 + n, size - 4 - n, check);
}

#endif
