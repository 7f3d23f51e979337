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
	if (vz_workspace_load(path, &w) != VZ_OK) return 0;
	/* the patterns it declares are matched against paths (hostile patterns must stay cheap) */
	static const char *const paths[] = { "a.md", "docs/x/y/readme.md", "src/main.c", "a/b/c/d/e/f/g/h/i/j/k.txt",
					     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", ".hidden/x" };
	for (size_t i = 0; i < w->n; i++)
		for (size_t j = 0; j < sizeof paths / sizeof paths[0]; j++) {
			for (size_t k = 0; k < w->collections[i].n_include; k++) vz_glob_match(w->collections[i].include[k], paths[j]);
			for (size_t k = 0; k < w->collections[i].n_exclude; k++) vz_glob_match(w->collections[i].exclude[k], paths[j]);
		}
	vz_workspace_free(w);
	return 0;
}
