/* fuzz_backup.c: backup archives from memory (lib/backup_*.c): the zstd frames and the
 * end-of-backup checksum, the tar structure, the manifest (JSON), every entry checked against it.
 * An input starting with 't' is a plain tar stream: it is compressed here (checksum flag on, the
 * trailer added) so that mutations reach the tar and manifest checks instead of failing the
 * compressed-stream checksums. Any other input is verified as it is. */
#include "../../lib/vz.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int problems;
	if (size == 0 || data[0] != 't') {
		vz_backup_verify_buffer(data, size, NULL, NULL, &problems);
		return 0;
	}
	size_t cap = ZSTD_compressBound(size - 1) + 32;
	unsigned char *z = malloc(cap);
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	if (!z || !cc) abort();
	ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, 1);
	ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 1);
	size_t len = ZSTD_compress2(cc, z, cap, data + 1, size - 1);
	if (ZSTD_isError(len)) abort();
	/* the end-of-backup trailer (see lib/backup_internal.h) */
	unsigned char *t = z + len;
	vz_store_u32(t, 0x184D2A5Au);
	vz_store_u32(t + 4, 24);
	memcpy(t + 8, "VZBK", 4);
	vz_store_u32(t + 12, 1);
	vz_store_u64(t + 16, len);
	vz_store_u64(t + 24, vz_hash64(z, len));
	vz_backup_verify_buffer(z, len + 32, NULL, NULL, &problems);
	ZSTD_freeCCtx(cc);
	free(z);
	return 0;
}
