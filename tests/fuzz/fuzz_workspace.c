/* fuzz_workspace.c: vectorize-workspace.yml, both schemas, with libyaml underneath (aliases,
 * depth and size are bounded by the loader). */
#include "../../lib/vz.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[128];
	snprintf(path, sizeof path, "%s/vectorize-workspace.yml", fuzz_dir());
	fuzz_write(path, data, size);
	vz_workspace *w = NULL;
	if (vz_workspace_load(path, &w) == VZ_OK) vz_workspace_free(w);
	return 0;
}
