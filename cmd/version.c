/* version.c: `vz version`. */
#include "cli.h"

enum { O_JSON };
static const struct vz_option options[] = {
	[O_JSON] = { "json", 0, OPT_FLAG, NULL, "print a JSON object", 0, 0, COMPLETE_NONE, NULL },
};

static int run(struct vz_cli *cli, struct vz_args *args)
{
	(void)cli;
	if (opt_set(args, O_JSON))
		printf("{\"version\":\"%s\",\"format_version\":%d,\"backup_format_version\":%d}\n", VZ_VERSION, VZ_FORMAT_VERSION,
		       VZ_BACKUP_FORMAT_VERSION);
	else
		vz_print_version(stdout);
	return 0;
}

const struct vz_command vz_cmd_version = {
	.name = "version", .summary = "print the version of vz and of its on-disk format", .usage = "[--json]",
	.options = options, .nopts = VZ_NOPTS(options), .min_args = 0, .max_args = 0, .run = run,
};
