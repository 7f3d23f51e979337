/* postings_delta.h: postings.delta, the postings of the files an incremental workspace build
 * changed or added, beside the postings.bin they amend (postings_delta.c): what textindex.c
 * (opening), wsbuild.c (writing), verify.c and the fuzz targets use of it. */
#ifndef VZ_POSTINGS_DELTA_H
#define VZ_POSTINGS_DELTA_H

#include "ws_internal.h"

#define VZ_MAGIC_PDELTA "VZPDELT1"
#define PDELTA_VERSION 1

/* The merged view of postings.bin and the postings.delta of generation gen in dir: VZ_ENOENT
 * when there is no postings.delta of that generation; VZ_ECORRUPT when the two do not fit. */
int vz_ti_open_delta(const char *dir, uint64_t generation, vz_text_index **out);
/* The generation of x's postings.bin (x's own when no postings.delta amends it). */
uint64_t vz_text_index_base_generation(const vz_text_index *x);
/* The body of a postings.delta into out for docs (all the files of the next snapshot, sorted by
 * path; from[i] >= 0: doc i is file from[i] of prev, unchanged): the files prev's postings.bin
 * holds as they are stay there, the others' postings go into the delta, and the base files no
 * doc keeps are named dead. prev is postings.bin or a merged view; *base_generation is its
 * postings.bin's generation. VZ_ECORRUPT when prev's bytes do not hold (write postings.bin). */
int vz_ti_delta_encode(const vz_text_index *prev, vz_text_doc *docs, const int64_t *from, size_t n, const vz_text_weights *w, vz_buf *out,
		       uint64_t *base_generation);
/* Writes a body of vz_ti_delta_encode as the postings.delta at path (through lib/io.c). */
int vz_ti_delta_write(const char *path, const vz_buf *body, uint64_t generation, uint64_t base_generation, uint64_t config_hash);
/* verify: every byte and record of the postings.delta at path; its generation and that of the
 * postings.bin it amends. */
int vz_ti_delta_check(const char *path, uint64_t *generation, uint64_t *base_generation);
/* The checks of vz_ti_delta_check on the bytes of a whole file (the fuzz target's entry). */
int vz_ti_delta_check_bytes(const unsigned char *data, size_t len);

#endif
