/* verify.c: `vz verify [COLL... | --all]`: check every checksum and structural invariant. */
#include "targets.h"

#include <string.h>

enum { O_ALL, O_QUICK, O_JSON, O_BACKUP };
static const struct vz_option options[] = {
	[O_ALL] = { "all", 0, OPT_FLAG, NULL, "every collection in the data directory", 0, 0, COMPLETE_NONE, NULL },
	[O_QUICK] = { "quick", 0, OPT_FLAG, NULL, "headers and metadata only", 0, 0, COMPLETE_NONE, NULL },
	[O_BACKUP] = { "backup", 0, OPT_STRING, "FILE", "check the backup archive FILE instead (as vz backup --verify)", 0, 0, COMPLETE_FILE, NULL },
	[O_JSON] = { "json", 0, OPT_FLAG, NULL, "one JSON object per problem, then one per collection", 0, 0, COMPLETE_NONE, NULL },
};

struct report { const struct vz_cli *cli; const char *name; bool json; };

static void on_problem(void *ctx, const char *file, int64_t offset, const char *what)
{
	const struct report *r = ctx;
	if (r->json) {
		printf("{\"collection\":\"%s\",\"file\":\"%s\",\"offset\":%lld,\"problem\":", r->name, file, (long long)offset);
		vz_json_string(stdout, what, strlen(what));
		puts("}");
	} else if (offset >= 0) {
		vz_printf_safe(stdout, "%s: %s: offset %lld: %s\n", r->name, file, (long long)offset, what);
	} else {
		vz_printf_safe(stdout, "%s: %s: %s\n", r->name, file, what);
	}
}

static int run(struct vz_cli *cli, struct vz_args *args)
{
	if (opt_set(args, O_BACKUP)) {
		if (args->npos || opt_set(args, O_ALL))
			return vz_usage_error(cli, "--backup FILE checks an archive: name no collections with it");
		return vz_cli_verify_backup(cli, opt_str(args, O_BACKUP, NULL), !opt_set(args, O_QUICK), opt_set(args, O_JSON));
	}
	char **names;
	int n, status = 0, damaged = 0;
	int rc = vz_cli_targets(cli, args, opt_set(args, O_ALL), &names, &n);
	if (rc) return rc;
	for (int i = 0; i < n; i++) {
		char dir[VZ_PATH_MAX];
		if ((rc = vz_cli_collection_dir(cli, names[i], dir, sizeof dir, NULL))) { status = rc; continue; }
		struct report r = { cli, names[i], opt_set(args, O_JSON) };
		int problems;
		double t0 = vz_now();
		if ((rc = vz_collection_verify(dir, opt_set(args, O_QUICK), cli->lock_timeout_ms, on_problem, &r, &problems))) {
			status = vz_report(cli, rc);
			continue;
		}
		if (problems) damaged++;
		vz_verbosef(cli, "%s: %s check in %.3f s", names[i], opt_set(args, O_QUICK) ? "quick" : "full", vz_now() - t0);
		if (r.json) printf("{\"collection\":\"%s\",\"ok\":%s,\"problems\":%d}\n", names[i], problems ? "false" : "true", problems);
		else if (!problems) vz_infof(cli, "%s: ok", names[i]);
		else vz_errorf(cli, "%s: %d problem%s found", names[i], problems, problems > 1 ? "s" : "");
	}
	vz_cli_targets_free(names, n);
	if (status) return status;
	return damaged ? VZ_EXIT_CHECK : 0;
}

const struct vz_command vz_cmd_verify = {
	.name = "verify", .summary = "check every checksum and invariant; exit 1 on damage", .usage = "[COLL... | --all | --backup FILE] [--quick] [--json]",
	.description = "Each problem is printed on stdout as COLLECTION: FILE: offset N: what is wrong.",
	.options = options, .nopts = VZ_NOPTS(options), .min_args = 0, .max_args = -1, .arg_complete = COMPLETE_COLLECTION, .run = run,
};
