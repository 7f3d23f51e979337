/* embed.c: text embedding for `query --text` (wired to the built-in BM25 embedding). */
#include "cli.h"

#include <string.h>

int vz_cli_embed_text(const struct vz_cli *cli, vz_collection *c, const char *coll_dir, const char *text, float *out)
{
	const vz_config *cfg = vz_collection_config(c);
	if (!cfg->embedding[0]) {
		vz_errorf(cli, "this collection has no built-in embedding: query it with --vector or --batch");
		return VZ_EXIT_USAGE;
	}
	/* a workspace collection: say so when its configuration changed since `vz build` */
	char yaml[4096];
	bool changed;
	if (strstr(vz_collection_extra_json(c), "\"workspace\"") && vz_find_workspace_file(yaml, sizeof yaml) == VZ_OK &&
	    vz_workspace_config_changed(coll_dir, yaml, &changed) == VZ_OK && changed)
		vz_warnf(cli, "the configuration of this collection changed in %s since it was built: run vz build", yaml);
	int rc = vz_embed_query(coll_dir, text, strlen(text), out, cfg->dim);
	return rc ? vz_report(cli, rc) : 0;
}
