/* recover.c: `vz recover [COLL... | --all] [--mode M] [--dry-run]`. */
#include "targets.h"

#include <string.h>

enum { O_ALL, O_MODE, O_DRY_RUN, O_THREADS, O_JSON };
static const struct vz_option options[] = {
	[O_ALL] = { "all", 0, OPT_FLAG, NULL, "every dynamic collection in the data directory", 0, 0, COMPLETE_NONE, NULL },
	[O_MODE] = { "mode", 0, OPT_STRING, "MODE", "point-in-time (default), tolerate-tail, absolute or salvage", 0, 0, COMPLETE_WORDS, "point-in-time tolerate-tail absolute salvage" },
	[O_DRY_RUN] = { "dry-run", 0, OPT_FLAG, NULL, "report what would be done; change nothing", 0, 0, COMPLETE_NONE, NULL },
	[O_THREADS] = { "threads", 0, OPT_INT, "N", "threads for index builds (default: every core)", 1, 1024, COMPLETE_NONE, NULL },
	[O_JSON] = { "json", 0, OPT_FLAG, NULL, "one JSON report per collection", 0, 0, COMPLETE_NONE, NULL },
};

static int run(struct vz_cli *cli, struct vz_args *args)
{
	enum vz_recover_mode mode = VZ_RECOVER_POINT_IN_TIME;
	if (opt_set(args, O_MODE) && vz_recover_mode_parse(opt_str(args, O_MODE, ""), &mode)) return vz_usage_error(cli, "%s", vz_last_error());
	char **names;
	int n, status = 0;
	int rc = vz_cli_targets(cli, args, opt_set(args, O_ALL), &names, &n);
	if (rc) return rc;
	bool dry = opt_set(args, O_DRY_RUN);
	for (int i = 0; i < n; i++) {
		if (opt_set(args, O_ALL) && strchr(names[i], '/')) continue;
		char dir[VZ_PATH_MAX];
		if ((rc = vz_cli_collection_dir(cli, names[i], dir, sizeof dir, NULL))) { status = rc; continue; }
		vz_recover_report r;
		rc = vz_collection_recover(dir, mode, dry, vz_cli_threads(opt_int(args, O_THREADS, 0)), cli->lock_timeout_ms, &r);
		if (opt_set(args, O_JSON)) {
			printf("{\"collection\":\"%s\",\"mode\":\"%s\",\"dry_run\":%s,\"ok\":%s,\"records_replayed\":%llu,\"transactions_replayed\":%llu,"
			       "\"transactions_dropped\":%llu,\"bytes_dropped\":%llu,\"records_salvaged\":%llu,\"temps_removed\":%d,"
			       "\"wal_damaged\":%s,\"torn_tail\":%s,\"index_rebuilt\":%s,\"terms_rebuilt\":%s,\"restore_needed\":%s,"
			       "\"graphs_rebuilt\":%d,\"data_lost\":%s,\"ids_lost\":%llu,\"lost_ids\":",
			       names[i], vz_recover_mode_name(mode), dry ? "true" : "false", rc ? "false" : "true",
			       (unsigned long long)r.records_replayed, (unsigned long long)r.transactions_replayed,
			       (unsigned long long)r.transactions_dropped, (unsigned long long)r.bytes_dropped,
			       (unsigned long long)r.records_salvaged, r.temps_removed, r.wal_damaged ? "true" : "false",
			       r.torn_tail ? "true" : "false", r.index_rebuilt ? "true" : "false", r.terms_rebuilt ? "true" : "false",
			       r.restore_needed ? "true" : "false", r.graphs_rebuilt, r.data_lost ? "true" : "false", (unsigned long long)r.ids_lost);
			vz_json_string(stdout, r.lost_ids, strlen(r.lost_ids));
			fputs(",\"damage\":", stdout);
			vz_json_string(stdout, r.damage, strlen(r.damage));
			puts("}");
		} else if (!rc) {
			char salvaged[64] = "";
			if (r.records_salvaged)
				snprintf(salvaged, sizeof salvaged, ", %llu record%s salvaged after the damage", (unsigned long long)r.records_salvaged,
					 VZ_S(r.records_salvaged));
			vz_infof(cli, "%s: %s%llu transaction%s replayed, %llu dropped, %llu WAL byte%s dropped%s%s", names[i], dry ? "(dry run) " : "",
				 (unsigned long long)r.transactions_replayed, VZ_S(r.transactions_replayed), (unsigned long long)r.transactions_dropped,
				 (unsigned long long)r.bytes_dropped, VZ_S(r.bytes_dropped), salvaged,
				 r.index_rebuilt ? (dry ? ", index would be rebuilt" : ", index rebuilt") : "");
			if (r.graphs_rebuilt)
				vz_infof(cli, "%s: %d segment graph%s %s from the segment's rows", names[i], r.graphs_rebuilt, VZ_S(r.graphs_rebuilt),
					 dry ? "would be rebuilt" : "rebuilt");
			if (r.rebuilt_from_sources) vz_infof(cli, "%s: rebuilt from its sources", names[i]);
			if (r.terms_rebuilt) vz_infof(cli, "%s: terms.bin %s from the stored texts", names[i], dry ? "would be rebuilt" : "rebuilt");
			if (r.damage[0]) vz_infof(cli, "%s: %s", names[i], r.damage);
		}
		if (rc) {
			/* damage nothing here can repair is a check that said no (exit 1), not an error */
			int code = vz_report(cli, rc);
			status = r.restore_needed ? VZ_EXIT_CHECK : code;
		} else if (r.data_lost && r.torn_tail) {
			/* a log cut inside its last records is what a crash during a write leaves: that
			 * write was never acknowledged, so this is no loss; still say what went */
			if (r.ids_lost)
				vz_warnf(cli, "%s: %s the unfinished write at the end of the log, never acknowledged (a crash cut it short; restore from a backup if it was acknowledged): ids %s",
					 names[i], dry ? "would drop" : "dropped", r.lost_ids);
			else
				vz_warnf(cli, "%s: %s %llu torn bytes at the end of the log, a write a crash cut short and never acknowledged", names[i],
					 dry ? "would drop" : "dropped", (unsigned long long)r.bytes_dropped);
		} else if (r.data_lost) {
			/* the log was damaged before its end: what the mode dropped may have been
			 * acknowledged; say which ids, and exit 1 */
			if (r.ids_lost)
				vz_errorf(cli, "%s: %s %llu record%s of the damaged log: ids %s%s", names[i], dry ? "would lose" : "lost",
					  (unsigned long long)r.ids_lost, r.ids_lost == 1 ? "" : "s", r.lost_ids,
					  r.bytes_dropped ? " (and records that could not be read)" : "");
			else
				vz_errorf(cli, "%s: %s %llu bytes of the damaged log that could not be read (a write cut short by a crash was never acknowledged; restore from a backup if it was)",
					  names[i], dry ? "would lose" : "lost", (unsigned long long)r.bytes_dropped);
			status = VZ_EXIT_CHECK;
		}
	}
	vz_cli_targets_free(names, n);
	return status;
}

const struct vz_command vz_cmd_recover = {
	.name = "recover", .summary = "replay the WAL, repair the index, clean up after a crash", .usage = "[COLL... | --all] [--mode MODE] [--dry-run]",
	.options = options, .nopts = VZ_NOPTS(options), .min_args = 0, .max_args = -1, .arg_complete = COMPLETE_COLLECTION, .run = run,
};
