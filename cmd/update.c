/* update.c: `vz update COLL [FILE|-]`: replace vectors (and payloads) of existing ids. */
#include "write.h"

enum { O_FORMAT, O_THREADS, O_JSON };
static const struct vz_option options[] = {
	[O_FORMAT] = { "format", 0, OPT_STRING, "FMT", "input format: jsonl, fvecs, npy or csv, each maybe .zst or .gz (default: from the extension)", 0, 0, COMPLETE_WORDS, VZ_CLI_INPUT_FORMATS },
	[O_THREADS] = { "threads", 0, OPT_INT, "N", "threads for index builds (default: every core)", 1, 1024, COMPLETE_NONE, NULL },
	[O_JSON] = { "json", 0, OPT_FLAG, NULL, "print what was written as a JSON object", 0, 0, COMPLETE_NONE, NULL },
};

static int run(struct vz_cli *cli, struct vz_args *args)
{
	vz_batch b;
	int rc = vz_cli_read_batch(cli, args->npos > 1 ? args->pos[1] : "-", opt_str(args, O_FORMAT, NULL), 0, 0, &b);
	if (rc) return rc;
	rc = vz_cli_write_batch(cli, args->pos[0], &b, VZ_OP_UPDATE, 0, vz_cli_threads(opt_int(args, O_THREADS, 0)), opt_set(args, O_JSON));
	vz_batch_free(&b);
	return rc;
}

const struct vz_command vz_cmd_update = {
	.name = "update", .summary = "replace existing vectors (one transaction)", .usage = "COLL [FILE|-] [options]",
	.description = "Like insert, but every id must exist. A line without a payload keeps the old payload;\n"
		       "\"payload\":null clears it.",
	.options = options, .nopts = VZ_NOPTS(options), .min_args = 1, .max_args = 2, .arg_complete = COMPLETE_COLLECTION, .run = run,
};
