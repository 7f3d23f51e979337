/* fuzz_pdelta.c: a workspace collection's postings.delta over its postings.bin: the input is
 * u32 n, n bytes of postings.bin, then the postings.delta (checksums made right, see
 * fuzz_write_checked); its full check, and the merged view's searches and file records. */
#include "../../lib/postings_delta.h"
#include "fuzz_common.h"

static void check(const char *path)
{
	uint64_t gen = 0, base = 0;
	vz_ti_delta_check(path, &gen, &base);
	vz_file_header h;
	if (vz_header_read(path, VZ_MAGIC_PDELTA, PDELTA_VERSION, &h) != VZ_OK) return;
	vz_text_index *x;
	if (vz_text_index_open_dir(fuzz_dir(), h.generation, &x) != VZ_OK) return;
	for (int chunks = 0; chunks < 2; chunks++) {
		vz_text_hit *hits;
		size_t n;
		if (vz_text_search(x, "restore a backup of the zeppelin w001 w002", 42, 10, chunks, &hits, &n) == VZ_OK) vz_text_hits_free(hits, n);
	}
	vz_text_file_stat fs;
	for (uint32_t i = 0; i < 4; i++) vz_text_index_file(x, i, &fs);
	vz_text_index_close(x);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 4) return 0;
	uint32_t n = vz_load_u32(data);
	if (n > size - 4) n = (uint32_t)(size - 4);
	char path[128];
	snprintf(path, sizeof path, "%s/postings.bin", fuzz_dir());
	fuzz_write(path, data + 4, n);
	snprintf(path, sizeof path, "%s/postings.delta", fuzz_dir());
	fuzz_write_checked(path, data + 4 + n, size - 4 - n, check);
	return 0;
}
