/* fuzz_wal.c: wal.log scanning in both modes, and decoding every record found. */
#include "../../lib/vz.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[128];
	snprintf(path, sizeof path, "%s/wal.log", fuzz_dir());
	fuzz_write(path, data, size);
	for (int mode = VZ_WAL_SCAN_STOP; mode <= VZ_WAL_SCAN_SALVAGE; mode++) {
		vz_wal_log w;
		if (vz_wal_scan(path, mode, &w) != VZ_OK) continue;
		for (size_t i = 0; i < w.n; i++) {
			vz_wal_op op;
			uint32_t t = w.entries[i].type;
			if (t == VZ_WAL_INSERT || t == VZ_WAL_UPDATE || t == VZ_WAL_DELETE) vz_wal_decode_op(&w.entries[i], &op);
		}
		vz_wal_free(&w);
	}
	return 0;
}
