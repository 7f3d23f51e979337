/* drop.c: `vz drop NAME`: delete a dynamic collection (after a safety backup). */
#include "cli.h"

enum { O_NO_BACKUP, O_BACKUP_DIR, O_JSON };
static const struct vz_option options[] = {
	[O_NO_BACKUP] = { "no-backup", 0, OPT_FLAG, NULL, "do not write a safety backup first", 0, 0, COMPLETE_NONE, NULL },
	[O_BACKUP_DIR] = { "backup-dir", 0, OPT_STRING, "DIR", "where the safety backup goes (default DATA_DIR/backups)", 0, 0, COMPLETE_DIR, NULL },
	[O_JSON] = { "json", 0, OPT_FLAG, NULL, "print {\"collection\",\"safety_backup\"} (null with --no-backup)", 0, 0, COMPLETE_NONE, NULL },
};

/* Writes the safety backup of name into dir (NULL: DATA_DIR/backups), its path into written. */
int vz_cli_safety_backup(struct vz_cli *cli, const char *name, const char *dir, char *written, size_t cap);

static int run(struct vz_cli *cli, struct vz_args *args)
{
	const char *name = args->pos[0];
	/* a workspace collection is refused before anything is written, the safety backup included */
	char dir[VZ_PATH_MAX];
	bool ws;
	int vrc = vz_cli_collection_dir(cli, name, dir, sizeof dir, &ws);
	if (vrc) return vrc;
	if (ws) {
		char yml[VZ_PATH_MAX] = "vectorize-workspace.yml";
		vz_find_workspace_file(yml, sizeof yml);
		vz_errorf(cli, "%s is a workspace collection and is read-only: remove it from %s and run 'vz build'", name, yml);
		return VZ_EXIT_NOPERM;
	}
	char written[VZ_PATH_MAX] = "";
	if (!opt_set(args, O_NO_BACKUP)) {
		int rc = vz_cli_safety_backup(cli, name, opt_str(args, O_BACKUP_DIR, NULL), written, sizeof written);
		if (rc) return rc;
	}
	vz_collection *c;
	int rc = vz_cli_open(cli, name, VZ_OPEN_WRITE, &c);
	if (rc) return rc;
	if ((rc = vz_collection_drop(c))) return vz_report(cli, rc);
	if (opt_set(args, O_JSON)) {
		printf("{\"collection\":\"%s\",\"safety_backup\":", name);
		vz_print_json_or_null(stdout, written);
		puts("}");
	} else {
		vz_infof(cli, "dropped %s", name);
	}
	return 0;
}

const struct vz_command vz_cmd_drop = {
	.name = "drop", .summary = "delete a dynamic collection (after a safety backup)", .usage = "NAME [--no-backup] [--backup-dir DIR] [--json]",
	.options = options, .nopts = VZ_NOPTS(options), .min_args = 1, .max_args = 1, .arg_complete = COMPLETE_COLLECTION, .run = run,
};
