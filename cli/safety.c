/* safety.c: the safety backup written before a drop (lib/backup_write.c). */
#include "cli.h"

int vz_cli_safety_backup(struct vz_cli *cli, const char *name, const char *dir, char *written, size_t cap)
{
	char dd[VZ_PATH_MAX];
	int rc = vz_cli_data_dir(cli, dd, sizeof dd, NULL);
	if (!rc) rc = vz_backup_collection_to_dir(dd, name, dir, 0, cli->lock_timeout_ms, written, cap);
	if (rc) {
		int code = vz_report(cli, rc);
		if (rc != VZ_ENOENT && rc != VZ_EINVAL) vz_errorf(cli, "nothing was dropped (use --no-backup to drop without a safety backup)");
		return code;
	}
	vz_infof(cli, "safety backup of %s: %s", name, written);
	return 0;
}
