/* checkpoint.c: `vz checkpoint [COLL... | --all] [--if-needed]`: fold the WAL into the data files;
 * `vz checkpoint COLL --set-ops N --set-seconds S`: change when it happens automatically. */
#include "targets.h"

#include <stdlib.h>
#include <string.h>

enum { O_ALL, O_IF_NEEDED, O_WAIT, O_THREADS, O_JSON, O_SET_OPS, O_SET_SECONDS, O_COMPACT };
static const struct vz_option options[] = {
	[O_ALL] = { "all", 0, OPT_FLAG, NULL, "every dynamic collection in the data directory", 0, 0, COMPLETE_NONE, NULL },
	[O_IF_NEEDED] = { "if-needed", 0, OPT_FLAG, NULL, "only when the automatic thresholds are reached (for cron)", 0, 0, COMPLETE_NONE, NULL },
	[O_WAIT] = { "wait", 0, OPT_FLAG, NULL, "wait for a running checkpoint however long it takes, then fold what is left", 0, 0, COMPLETE_NONE, NULL },
	[O_THREADS] = { "threads", 0, OPT_INT, "N", "threads for index builds (default: every core; 1 is reproducible)", 1, 1024, COMPLETE_NONE, NULL },
	[O_JSON] = { "json", 0, OPT_FLAG, NULL, "one JSON object per collection", 0, 0, COMPLETE_NONE, NULL },
	[O_SET_OPS] = { "set-ops", 0, OPT_INT, "N", "from now on, checkpoint automatically after N WAL operations (no checkpoint now)", 1, 100000000, COMPLETE_NONE, NULL },
	[O_SET_SECONDS] = { "set-seconds", 0, OPT_INT, "S", "... or when the oldest is S seconds old (no checkpoint now)", 1, 100000000, COMPLETE_NONE, NULL },
	[O_COMPACT] = { "compact", 0, OPT_FLAG, NULL, "fold the segments and the WAL into a new vectors.bin and index.hnsw, even with nothing to fold", 0, 0, COMPLETE_NONE, NULL },
};

/* The workspace file's `backup: {after_checkpoint: true}`: the collections just checkpointed
 * are backed up together into backup.directory, keeping backup.keep archives. Without a
 * workspace file or with the setting off, nothing is done. A failed backup is an error of this
 * command (cron mails it) although the checkpoints stand. */
int vz_cli_backup_after_checkpoint(const struct vz_cli *cli, char **done, int ndone)
{
	if (!ndone) return 0;
	char yml[VZ_PATH_MAX];
	vz_workspace *ws = NULL;
	if (vz_find_workspace_file(yml, sizeof yml) || vz_workspace_load(yml, &ws)) {
		vz_workspace_free(ws);
		return 0;
	}
	int rc = 0;
	if (ws->backup_set && ws->backup_after_checkpoint) {
		char dd[VZ_PATH_MAX], written[VZ_PATH_MAX], prefix[200];
		vz_cli_backup_prefix(done, ndone, false, prefix, sizeof prefix);
		vz_backup_options o;
		vz_backup_summary s;
		vz_backup_options_default(&o);
		o.lock_timeout_ms = cli->lock_timeout_ms;
		if (!ws->backup_directory[0]) {
			vz_errorf(cli, "%s: backup.after_checkpoint is set but backup.directory is not", ws->path);
			rc = VZ_EXIT_CONFIG;
		} else if ((rc = vz_cli_data_dir(cli, dd, sizeof dd, NULL)) ||
			   (rc = vz_backup_write_dir(dd, (const char *const *)done, (size_t)ndone, &o, ws->backup_directory, prefix,
						     (int)ws->backup_keep, written, sizeof written, &s))) {
			vz_fail_prefix(rc, "backup after checkpoint: ");
			rc = vz_report(cli, rc);
		} else {
			vz_infof(cli, "backup after checkpoint: %s", written);
		}
	}
	vz_workspace_free(ws);
	return rc;
}

/* --set-ops / --set-seconds: the thresholds of each named dynamic collection */
static int set_thresholds(struct vz_cli *cli, struct vz_args *args, char **names, int n)
{
	int status = 0;
	uint32_t ops = (uint32_t)opt_int(args, O_SET_OPS, 0), secs = (uint32_t)opt_int(args, O_SET_SECONDS, 0);
	for (int i = 0; i < n; i++) {
		if (opt_set(args, O_ALL) && strchr(names[i], '/')) continue;
		char dir[VZ_PATH_MAX];
		bool ws;
		int rc = vz_cli_collection_dir(cli, names[i], dir, sizeof dir, &ws);
		if (rc) { status = rc; continue; }
		if ((rc = vz_collection_set_thresholds(dir, ops, secs, cli->lock_timeout_ms))) {
			vz_fail_prefix(rc, "%s: ", names[i]);
			status = vz_report(cli, rc);
			continue;
		}
		vz_collection *c;
		if ((rc = vz_cli_open(cli, names[i], VZ_OPEN_READ, &c))) { status = rc; continue; }
		const vz_config *cfg = vz_collection_config(c);
		if (opt_set(args, O_JSON))
			printf("{\"collection\":\"%s\",\"checkpoint_ops\":%u,\"checkpoint_seconds\":%u}\n", names[i], cfg->checkpoint_ops,
			       cfg->checkpoint_seconds);
		else
			vz_infof(cli, "%s: automatic checkpoint after %u operations or %u s", names[i], cfg->checkpoint_ops, cfg->checkpoint_seconds);
		vz_collection_close(c);
	}
	return status;
}

static int run(struct vz_cli *cli, struct vz_args *args)
{
	char **names;
	int n, status = 0, ndone = 0;
	int rc = vz_cli_targets(cli, args, opt_set(args, O_ALL), &names, &n);
	if (rc) return rc;
	if (opt_set(args, O_SET_OPS) || opt_set(args, O_SET_SECONDS)) {
		if (opt_set(args, O_IF_NEEDED)) status = vz_usage_error(cli, "--set-ops and --set-seconds change thresholds; they do not go with --if-needed");
		else status = set_thresholds(cli, args, names, n);
		vz_cli_targets_free(names, n);
		return status;
	}
	char **done = calloc((size_t)n + 1, sizeof *done);
	if (!done) { vz_cli_targets_free(names, n); return vz_report(cli, vz_fail(VZ_ENOMEM, "out of memory")); }
	unsigned flags = (opt_set(args, O_IF_NEEDED) ? VZ_CHECKPOINT_IF_NEEDED : 0) | (opt_set(args, O_WAIT) ? VZ_CHECKPOINT_WAIT : 0) |
			 (opt_set(args, O_COMPACT) ? VZ_CHECKPOINT_FORCE : 0);
	for (int i = 0; i < n; i++) {
		if (opt_set(args, O_ALL) && strchr(names[i], '/')) continue; /* workspace: rebuilt by vz build */
		char dir[VZ_PATH_MAX];
		bool ws;
		if ((rc = vz_cli_collection_dir(cli, names[i], dir, sizeof dir, &ws))) { status = rc; continue; }
		/* a workspace collection: only the graph a build left to the checkpoint (else refused) */
		double t0 = vz_now();
		vz_checkpoint_report rep;
		/* the index is built without the collection's lock: readers and writers go on */
		if ((rc = vz_checkpoint_dir(dir, flags, vz_cli_threads(opt_int(args, O_THREADS, 0)), cli->lock_timeout_ms, &rep))) {
			status = vz_cli_report_missing(cli, names[i], dir, rc);
			continue;
		}
		vz_collection_stats now = { 0 };
		if (!rep.checkpointed) {
			vz_collection *c;
			if ((rc = vz_cli_open(cli, names[i], VZ_OPEN_READ, &c))) { status = rc; continue; }
			vz_collection_stats_get(c, &now);
			vz_collection_close(c);
		} else {
			now.generation = rep.generation;
			now.rows = rep.rows;
			now.live = rep.live;
			done[ndone++] = names[i];
		}
		if (opt_set(args, O_JSON))
			printf("{\"collection\":\"%s\",\"checkpointed\":%s,\"operations\":%llu,\"generation\":%llu,\"rows\":%llu,\"live\":%llu,\"kept_records\":%llu,\"seconds\":%.3f,\"seconds_locked\":%.3f}\n",
			       names[i], rep.checkpointed ? "true" : "false", (unsigned long long)rep.operations,
			       (unsigned long long)now.generation, (unsigned long long)now.rows, (unsigned long long)now.live,
			       (unsigned long long)rep.kept_records, vz_now() - t0, rep.seconds_locked);
		else if (!rep.checkpointed)
			vz_infof(cli, "%s: not needed (%llu operation%s in the WAL)", names[i], (unsigned long long)rep.operations, VZ_S(rep.operations));
		else if (ws)
			vz_infof(cli, "%s: graph built; generation %llu, %llu live vector%s", names[i], (unsigned long long)now.generation,
				 (unsigned long long)now.live, VZ_S(now.live));
		else
			vz_infof(cli, "%s: folded %llu operation%s; generation %llu, %llu live vector%s", names[i],
				 (unsigned long long)rep.operations, VZ_S(rep.operations), (unsigned long long)now.generation,
				 (unsigned long long)now.live, VZ_S(now.live));
		if (!opt_set(args, O_JSON) && rep.checkpointed)
			vz_verbosef(cli, "%s: %llu rows in its files, %llu WAL records kept for later transactions, %.3f s (%.3f s holding the lock)",
				    names[i], (unsigned long long)now.rows, (unsigned long long)rep.kept_records, vz_now() - t0, rep.seconds_locked);
	}
	if ((rc = vz_cli_backup_after_checkpoint(cli, done, ndone)) && !status) status = rc;
	free(done);
	vz_cli_targets_free(names, n);
	return status;
}

const struct vz_command vz_cmd_checkpoint = {
	.name = "checkpoint", .summary = "fold the WAL into vectors.bin and index.hnsw", .usage = "[COLL... | --all] [--if-needed] [options] | COLL... --set-ops N --set-seconds S",
	.options = options, .nopts = VZ_NOPTS(options), .min_args = 0, .max_args = -1, .arg_complete = COMPLETE_COLLECTION, .run = run,
};
