/* fuzz_common.h: a private scratch directory for targets whose parsers read files. */
#ifndef VZ_FUZZ_COMMON_H
#define VZ_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

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

#endif
