/* fuzz_text.c: the text search's reading of a file's own bytes (not of postings.bin): its terms
 * (splitting, folding, stems), its title (NAME lines, headings, licence notices skipped) and the
 * passage a snippet shows, on any bytes: the input is a file's text, searched with its own
 * first words and with a fixed query, as one document of an index built in memory. */
#include "../../lib/vz.h"

#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (1u << 20)) return 0;
	const char *text = (const char *)data;
	size_t title = vz_text_title(text, size);
	if (title > size) __builtin_trap();
	vz_text_chunk chunk = { .text = text, .len = (uint32_t)size, .line = 1 };
	vz_text_doc doc = { .path = "src/some_file.c", .hash = 1, .title = text, .title_len = (uint32_t)title, .chunks = &chunk, .n_chunks = 1 };
	vz_text_weights w = VZ_TEXT_WEIGHTS_DEFAULT;
	vz_text_index *x;
	if (vz_text_index_build(&doc, 1, &w, &x) != VZ_OK) return 0;
	const char *queries[2] = { "compare two strings ignoring case", text };
	size_t qlen[2] = { strlen(queries[0]), size < 64 ? size : 64 };
	for (int q = 0; q < 2; q++) {
		if (vz_text_best_match(text, size, queries[q], qlen[q]) > size) __builtin_trap();
		for (int chunks = 0; chunks < 2; chunks++) {
			vz_text_hit *h;
			size_t n;
			if (vz_text_search(x, queries[q], qlen[q], 10, chunks, &h, &n) == VZ_OK) vz_text_hits_free(h, n);
		}
	}
	vz_text_index_close(x);
	return 0;
}
