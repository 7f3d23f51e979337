/* fuzz_jsonl.c: the jsonl input parser never crashes, leaks or reads out of bounds. */
#include "../../lib/vz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	vz_batch b;
	if (vz_batch_parse("fuzz", data, size, VZ_FMT_JSONL, 0, 0, 0, &b) == VZ_OK) vz_batch_free(&b);
	if (vz_batch_parse("fuzz", data, size, VZ_FMT_JSONL, 3, 0 | VZ_READ_TEXT_OK, 7, &b) == VZ_OK) vz_batch_free(&b);
	if (vz_batch_parse("fuzz", data, size, VZ_FMT_JSONL, 0, VZ_READ_QUERIES, 0, &b) == VZ_OK) vz_batch_free(&b);
	return 0;
}
