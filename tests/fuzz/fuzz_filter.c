/* fuzz_filter.c: the --where parser and the payload scanner (lib/filter.c) never crash, leak or
 * read out of bounds. The input is an expression, a NUL byte, then a payload: the expression
 * is parsed, and when it parses, evaluated on the payload (an exact-size copy, so that a read
 * past its end is caught), and on no payload. */
#include "../../lib/vz.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t elen = nul ? (size_t)(nul - data) : size;
	char *expr = malloc(elen + 1);
	if (!expr) return 0;
	memcpy(expr, data, elen);
	expr[elen] = '\0';
	vz_filter *f;
	if (vz_filter_parse(expr, &f) == VZ_OK) {
		size_t plen = nul ? size - elen - 1 : 0;
		char *payload = malloc(plen ? plen : 1);
		if (payload) {
			if (plen) memcpy(payload, nul + 1, plen);
			(void)vz_filter_match(f, payload, plen);
			(void)vz_filter_match(f, NULL, 0);
			free(payload);
		}
		vz_filter_free(f);
	}
	free(expr);
	return 0;
}
