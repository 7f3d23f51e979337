/* safety.c: the safety backup written before a drop (wired to the backup library). */
#include "cli.h"

int vz_cli_safety_backup(struct vz_cli *cli, const char *name, const char *dir)
{
	(void)name;
	(void)dir;
	vz_errorf(cli, "safety backups are not available in this build: use --no-backup to drop without one");
	return VZ_EXIT_SOFTWARE;
}
