/* delete.c: `vz delete COLL ID...`: remove vectors (tombstones until the next checkpoint). */
#include "write.h"

#include <stdlib.h>
#include <string.h>

enum { O_FILE, O_MISSING_OK, O_JSON };
static const struct vz_option options[] = {
	[O_FILE] = { "file", 0, OPT_STRING, "FILE", "read ids from FILE (one a line, or JSON lines with \"id\"; - for stdin)", 0, 0, COMPLETE_FILE, NULL },
	[O_MISSING_OK] = { "missing-ok", 0, OPT_FLAG, NULL, "ids that do not exist are skipped instead of refusing the batch", 0, 0, COMPLETE_NONE, NULL },
	[O_JSON] = { "json", 0, OPT_FLAG, NULL, "print what was written as a JSON object", 0, 0, COMPLETE_NONE, NULL },
};

static int run(struct vz_cli *cli, struct vz_args *args)
{
	vz_batch b = { 0 };
	int rc;
	if (opt_set(args, O_FILE)) {
		if (args->npos > 1) return vz_usage_error(cli, "give ids as arguments or with --file, not both");
		if ((rc = vz_cli_read_batch(cli, opt_str(args, O_FILE, "-"), "jsonl", VZ_READ_IDS_ONLY, 0, &b))) return rc;
	} else {
		if (args->npos < 2) return vz_usage_error(cli, "no ids to delete");
		b.n = (size_t)args->npos - 1;
		b.ids = args->pos + 1;
	}
	rc = vz_cli_write_batch(cli, args->pos[0], &b, VZ_OP_DELETE, opt_set(args, O_MISSING_OK) ? VZ_WRITE_MISSING_OK : 0, 1,
				opt_set(args, O_JSON));
	if (opt_set(args, O_FILE)) vz_batch_free(&b);
	return rc;
}

const struct vz_command vz_cmd_delete = {
	.name = "delete", .summary = "delete vectors by id (one transaction)", .usage = "COLL [ID...] [--file FILE] [options]",
	.options = options, .nopts = VZ_NOPTS(options), .min_args = 1, .max_args = -1, .arg_complete = COMPLETE_COLLECTION, .run = run,
};
