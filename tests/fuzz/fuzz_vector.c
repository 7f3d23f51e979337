/* fuzz_vector.c: `query --vector` parsing. */
#include "../../lib/vz.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s) return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	float *v;
	uint32_t dim;
	if (vz_parse_vector(s, &v, &dim) == VZ_OK) free(v);
	free(s);
	return 0;
}
