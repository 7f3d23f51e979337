/* fuzz_metadata.c: metadata.json (its own checksum is recomputed over the input so that the
 * parser behind it is reached too). */
#include "../../lib/internal.h"
#include "fuzz_common.h"

#include <inttypes.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[128];
	snprintf(path, sizeof path, "%s/metadata.json", fuzz_dir());
	vz_meta m;
	fuzz_write(path, data, size);
	if (vz_meta_read(fuzz_dir(), &m) == VZ_OK) vz_meta_free(&m);
	/* the same bytes with a valid checksum member appended */
	char *buf = malloc(size + 64);
	if (!buf) return 0;
	memcpy(buf, data, size);
	int n = snprintf(buf + size, 64, ",\n  \"meta_xxh3\": \"%016" PRIx64 "\"\n}\n", vz_hash64(data, size));
	fuzz_write(path, (const uint8_t *)buf, size + (size_t)n);
	free(buf);
	if (vz_meta_read(fuzz_dir(), &m) == VZ_OK) vz_meta_free(&m);
	return 0;
}
