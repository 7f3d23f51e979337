/* restore.c: `vz restore FILE [COLL...] [--as NAME] [--force]`: verify, extract beside, switch. */
#include "cli.h"

#include <string.h>

enum { O_AS, O_FORCE, O_SAFETY_DIR, O_JSON };
static const struct vz_option options[] = {
	[O_AS] = { "as", 0, OPT_STRING, "NAME", "restore the one collection under another name", 0, 0, COMPLETE_NONE, NULL },
	[O_FORCE] = { "force", 'f', OPT_FLAG, NULL, "replace existing collections (a safety backup of each is kept)", 0, 0, COMPLETE_NONE, NULL },
	[O_SAFETY_DIR] = { "safety-dir", 0, OPT_STRING, "DIR", "where --force keeps safety backups (default DATA_DIR/backups)", 0, 0, COMPLETE_DIR, NULL },
	[O_JSON] = { "json", 0, OPT_FLAG, NULL, "one JSON object per problem or restored collection", 0, 0, COMPLETE_NONE, NULL },
};

struct out { const struct vz_cli *cli; bool json; };

static void on_problem(void *ctx, const char *file, int64_t offset, const char *what)
{
	const struct out *o = ctx;
	vz_cli_print_backup_problem(o->json, NULL, file, offset, what);
}

static void on_restored(void *ctx, const char *name, const char *safety)
{
	const struct out *o = ctx;
	if (o->json) {
		printf("{\"collection\":");
		vz_json_string(stdout, name, strlen(name));
		printf(",\"safety_backup\":");
		if (safety) vz_json_string(stdout, safety, strlen(safety));
		else printf("null");
		puts("}");
		return;
	}
	if (safety) vz_infof(o->cli, "restored %s (the collection it replaced is saved in %s)", name, safety);
	else vz_infof(o->cli, "restored %s", name);
}

static int run(struct vz_cli *cli, struct vz_args *args)
{
	const char *file = args->pos[0];
	const char *as = opt_str(args, O_AS, NULL);
	if (as && args->npos > 2) return vz_usage_error(cli, "--as NAME restores one collection");
	char dd[VZ_PATH_MAX];
	int rc = vz_cli_data_dir(cli, dd, sizeof dd, NULL);
	if (rc) return vz_report(cli, rc);
	struct out o = { cli, opt_set(args, O_JSON) };
	rc = vz_backup_restore(dd, file, (const char *const *)args->pos + 1, (size_t)args->npos - 1, as,
			       opt_set(args, O_FORCE) ? VZ_RESTORE_FORCE : 0, opt_str(args, O_SAFETY_DIR, NULL), cli->lock_timeout_ms,
			       on_problem, on_restored, &o);
	if (rc == VZ_EINVAL) return vz_usage_error(cli, "%s", vz_last_error());
	return rc ? vz_report(cli, rc) : 0;
}

const struct vz_command vz_cmd_restore = {
	.name = "restore", .summary = "restore collections from a backup (verified first, switched atomically)",
	.usage = "FILE [COLL...] [--as NAME] [--force]",
	.description = "Nothing changes unless the whole backup verifies. An existing collection is replaced only with --force, "
		       "after a safety backup of it. Exit 73 when a collection exists, 65 when the backup is damaged.",
	.options = options, .nopts = VZ_NOPTS(options), .min_args = 1, .max_args = -1, .arg_complete = COMPLETE_FILE, .run = run,
};
