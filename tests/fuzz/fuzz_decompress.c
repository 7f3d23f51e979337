/* fuzz_decompress.c: compressed input (lib/decompress.c) never crashes, leaks, reads out of
 * bounds or allocates past its bound, whatever the bytes claim. */
#include "../../lib/vz.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int comp = VZ_COMP_ZSTD; comp <= VZ_COMP_GZIP; comp++) {
		char *out;
		size_t len;
		if (vz_decompress("fuzz", (enum vz_compression)comp, data, size, 1 << 20, &out, &len) == VZ_OK) free(out);
	}
	return 0;
}
