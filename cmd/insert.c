/* insert.c: `vz insert COLL [FILE|-]`: add vectors as one transaction. */
#include "write.h"

#include <stdlib.h>
#include <string.h>

enum { O_FORMAT, O_UPSERT, O_ID_BASE, O_THREADS, O_BULK, O_NO_BULK, O_JSON };
static const struct vz_option options[] = {
	[O_FORMAT] = { "format", 0, OPT_STRING, "FMT", "input format: jsonl, fvecs, npy or csv (default: from the extension)", 0, 0, COMPLETE_WORDS, "jsonl fvecs npy csv" },
	[O_UPSERT] = { "upsert", 0, OPT_FLAG, NULL, "replace ids that already exist instead of refusing the batch", 0, 0, COMPLETE_NONE, NULL },
	[O_ID_BASE] = { "id-base", 0, OPT_INT, "N", "first id for rows without ids (fvecs, npy, csv; default 0)", 0, 1e15, COMPLETE_NONE, NULL },
	[O_THREADS] = { "threads", 0, OPT_INT, "N", "threads for index builds (default: every core; 1 is reproducible)", 1, 1024, COMPLETE_NONE, NULL },
	[O_BULK] = { "bulk", 0, OPT_FLAG, NULL, "write straight into a new checkpoint, not through the WAL (default for 10000+ rows)", 0, 0, COMPLETE_NONE, NULL },
	[O_NO_BULK] = { "no-bulk", 0, OPT_FLAG, NULL, "always go through the WAL", 0, 0, COMPLETE_NONE, NULL },
	[O_JSON] = { "json", 0, OPT_FLAG, NULL, "print what was written as a JSON object", 0, 0, COMPLETE_NONE, NULL },
};

static int run(struct vz_cli *cli, struct vz_args *args)
{
	const char *coll = args->pos[0], *path = args->npos > 1 ? args->pos[1] : "-";
	vz_batch b;
	int rc = vz_cli_read_batch(cli, path, opt_str(args, O_FORMAT, NULL), 0, (uint64_t)opt_int(args, O_ID_BASE, 0), &b);
	if (rc) return rc;
	if (opt_set(args, O_BULK) && opt_set(args, O_NO_BULK)) { vz_batch_free(&b); return vz_usage_error(cli, "--bulk and --no-bulk exclude each other"); }
	unsigned flags = opt_set(args, O_BULK) ? VZ_WRITE_BULK : opt_set(args, O_NO_BULK) ? VZ_CLI_NO_BULK : 0;
	rc = vz_cli_write_batch(cli, coll, &b, opt_set(args, O_UPSERT) ? VZ_OP_UPSERT : VZ_OP_INSERT, flags,
				vz_cli_threads(opt_int(args, O_THREADS, 0)), opt_set(args, O_JSON));
	vz_batch_free(&b);
	return rc;
}

const struct vz_command vz_cmd_insert = {
	.name = "insert", .summary = "add vectors to a collection (one transaction)", .usage = "COLL [FILE|-] [options]",
	.description = "Reads JSON lines ({\"id\":..,\"vector\":[..],\"payload\":..}), .fvecs, .npy (float32, 2-D) or CSV.\n"
		       "The whole input is one transaction: a bad line refuses all of it, naming the line.",
	.options = options, .nopts = VZ_NOPTS(options), .min_args = 1, .max_args = 2, .arg_complete = COMPLETE_COLLECTION, .run = run,
};
