/* fuzz_postings.c: a workspace collection's postings.bin (the text search index): the full
 * check, and searches of a file that only passed the open's O(1) checks. */
#include "fuzz_common.h"

static void check(const char *path)
{
	uint64_t gen;
	vz_text_index_check(path, &gen);
	vz_text_index *x;
	if (vz_text_index_open(path, &x) != VZ_OK) return;
	for (int chunks = 0; chunks < 2; chunks++) {
		vz_text_hit *h;
		size_t n;
		if (vz_text_search(x, "restore a backup of the zeppelin", 32, 10, chunks, &h, &n) == VZ_OK) vz_text_hits_free(h, n);
	}
	vz_text_file_stat fs;
	for (uint32_t i = 0; i < 4; i++) vz_text_index_file(x, i, &fs);
	vz_text_index_close(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[128];
	snprintf(path, sizeof path, "%s/postings.bin", fuzz_dir());
	fuzz_write_checked(path, data, size, check);
	return 0;
}
