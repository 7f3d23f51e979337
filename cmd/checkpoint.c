/* checkpoint.c: `vz checkpoint [COLL... | --all] [--if-needed]`: fold the WAL into the data files. */
#include "targets.h"

#include <string.h>

enum { O_ALL, O_IF_NEEDED, O_THREADS, O_JSON };
static const struct vz_option options[] = {
	[O_ALL] = { "all", 0, OPT_FLAG, NULL, "every dynamic collection in the data directory", 0, 0, COMPLETE_NONE, NULL },
	[O_IF_NEEDED] = { "if-needed", 0, OPT_FLAG, NULL, "only when the automatic thresholds are reached (for cron)", 0, 0, COMPLETE_NONE, NULL },
	[O_THREADS] = { "threads", 0, OPT_INT, "N", "threads for index builds (default: every core; 1 is reproducible)", 1, 1024, COMPLETE_NONE, NULL },
	[O_JSON] = { "json", 0, OPT_FLAG, NULL, "one JSON object per collection", 0, 0, COMPLETE_NONE, NULL },
};

static int run(struct vz_cli *cli, struct vz_args *args)
{
	char **names;
	int n, status = 0;
	int rc = vz_cli_targets(cli, args, opt_set(args, O_ALL), &names, &n);
	if (rc) return rc;
	for (int i = 0; i < n; i++) {
		if (opt_set(args, O_ALL) && strchr(names[i], '/')) continue; /* workspace: rebuilt by vz build */
		vz_collection *c;
		if ((rc = vz_cli_open(cli, names[i], VZ_OPEN_WRITE, &c))) { status = rc; continue; }
		vz_collection_stats before;
		vz_collection_stats_get(c, &before);
		bool skip = opt_set(args, O_IF_NEEDED) && !vz_collection_checkpoint_due(c);
		double t0 = vz_now();
		if (!skip && (rc = vz_collection_checkpoint(c, vz_cli_threads(opt_int(args, O_THREADS, 0)), false))) {
			status = vz_report(cli, rc);
			vz_collection_close(c);
			continue;
		}
		vz_collection_stats after;
		vz_collection_stats_get(c, &after);
		vz_collection_close(c);
		if (opt_set(args, O_JSON))
			printf("{\"collection\":\"%s\",\"checkpointed\":%s,\"operations\":%llu,\"generation\":%llu,\"rows\":%llu,\"live\":%llu,\"seconds\":%.3f}\n",
			       names[i], skip || before.wal_ops == 0 ? "false" : "true", (unsigned long long)before.wal_ops,
			       (unsigned long long)after.generation, (unsigned long long)after.rows, (unsigned long long)after.live, vz_now() - t0);
		else if (skip)
			vz_infof(cli, "%s: not needed (%llu operations in the WAL)", names[i], (unsigned long long)before.wal_ops);
		else
			vz_infof(cli, "%s: folded %llu operations; generation %llu, %llu live vectors", names[i],
				 (unsigned long long)before.wal_ops, (unsigned long long)after.generation, (unsigned long long)after.live);
	}
	vz_cli_targets_free(names, n);
	return status;
}

const struct vz_command vz_cmd_checkpoint = {
	.name = "checkpoint", .summary = "fold the WAL into vectors.bin and index.hnsw", .usage = "[COLL... | --all] [--if-needed] [options]",
	.options = options, .nopts = VZ_NOPTS(options), .min_args = 0, .max_args = -1, .arg_complete = COMPLETE_COLLECTION, .run = run,
};
