/* fuzz_header.c: the versioned file header. */
#include "../../lib/vz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vz_file_header h;
	const char *magics[] = { VZ_MAGIC_VECTORS, VZ_MAGIC_INDEX, VZ_MAGIC_WAL, VZ_MAGIC_CACHE };
	for (int i = 0; i < 4; i++) vz_header_decode(data, size, magics[i], 1, &h);
	return 0;
}
