/* common.c: helpers shared by the commands: the data directory and collection listing. */
#include "cli.h"

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

int vz_cli_data_dir(const struct vz_cli *cli, char *out, size_t cap, enum vz_datadir_source *source)
{
	enum vz_datadir_source s;
	int rc = vz_datadir_resolve(cli->data_dir_opt, out, cap, source ? source : &s, NULL, 0);
	return rc;
}

static void list_dir_names(const char *dir, const char *prefix, FILE *out)
{
	DIR *d = opendir(dir);
	if (!d) return;
	struct dirent *e;
	while ((e = readdir(d)))
		if (vz_name_valid(e->d_name)) fprintf(out, "%s%s\n", prefix, e->d_name);
	closedir(d);
}

int vz_list_collection_names(const struct vz_cli *cli, FILE *out)
{
	char dd[4096], p[4200];
	if (vz_cli_data_dir(cli, dd, sizeof dd, NULL)) return 0;
	snprintf(p, sizeof p, "%s/dynamic", dd);
	list_dir_names(p, "", out);
	snprintf(p, sizeof p, "%s/workspace", dd);
	DIR *d = opendir(p);
	if (!d) return 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!vz_name_valid(e->d_name)) continue;
		char sub[4400], prefix[128];
		snprintf(sub, sizeof sub, "%s/%s", p, e->d_name);
		snprintf(prefix, sizeof prefix, "%s/", e->d_name);
		list_dir_names(sub, prefix, out);
	}
	closedir(d);
	return 0;
}
