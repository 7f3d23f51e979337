/* embed.c: text embedding for `query --text` (wired to the built-in BM25 embedding). */
#include "cli.h"

int vz_cli_embed_text(const struct vz_cli *cli, vz_collection *c, const char *coll_dir, const char *text, float *out)
{
	(void)coll_dir;
	(void)text;
	(void)out;
	if (!vz_collection_config(c)->embedding[0]) {
		vz_errorf(cli, "this collection has no built-in embedding: query it with --vector or --batch");
		return VZ_EXIT_USAGE;
	}
	vz_errorf(cli, "text embedding is not available in this build");
	return VZ_EXIT_SOFTWARE;
}
