/* apply.c: `vz apply COLL [FILE|-]`: many operations as one atomic transaction. */
#include "write.h"

enum { O_THREADS, O_JSON };
static const struct vz_option options[] = {
	[O_THREADS] = { "threads", 0, OPT_INT, "N", "threads for index builds (default: every core)", 1, 1024, COMPLETE_NONE, NULL },
	[O_JSON] = { "json", 0, OPT_FLAG, NULL, "print what was written as a JSON object", 0, 0, COMPLETE_NONE, NULL },
};

static int run(struct vz_cli *cli, struct vz_args *args)
{
	vz_batch b;
	int rc = vz_cli_read_batch(cli, args->npos > 1 ? args->pos[1] : "-", "jsonl", VZ_READ_OPS, 0, &b);
	if (rc) return rc;
	rc = vz_cli_write_batch(cli, args->pos[0], &b, 0, 0, vz_cli_threads(opt_int(args, O_THREADS, 0)), opt_set(args, O_JSON));
	vz_batch_free(&b);
	return rc;
}

const struct vz_command vz_cmd_apply = {
	.name = "apply", .summary = "apply inserts, updates and deletes as one transaction", .usage = "COLL [FILE|-] [options]",
	.description = "Each JSON line is {\"op\":\"insert\"|\"update\"|\"delete\"|\"upsert\",\"id\":..,\"vector\":[..],\"payload\":..}.\n"
		       "All operations are applied, or none: any bad line refuses the whole file.",
	.options = options, .nopts = VZ_NOPTS(options), .min_args = 1, .max_args = 2, .arg_complete = COMPLETE_COLLECTION, .run = run,
};
