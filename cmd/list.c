/* list.c: `vz list`: every collection with its counts, and the collections the workspace file
 * declares that are not built (yet, or because their build failed). */
#include "targets.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { O_JSON };
static const struct vz_option options[] = {
	[O_JSON] = { "json", 0, OPT_FLAG, NULL, "one JSON object a line", 0, 0, COMPLETE_NONE, NULL },
};

static void print_unbuilt(const char *name, bool json)
{
	if (json) {
		printf("{\"name\":");
		vz_json_string(stdout, name, strlen(name));
		printf(",\"kind\":\"workspace\",\"state\":\"not built\"}\n");
	} else {
		printf("%-32s %-9s %5s %-11s %10s %8s %12s %s\n", name, "workspace", "-", "-", "-", "-", "-", "not built");
	}
}

/* A workspace collection whose directory holds no snapshot (its first build failed). */
static bool unbuilt(const struct vz_cli *cli, const char *name)
{
	char dir[4200], meta[4300];
	bool ws;
	struct stat st;
	if (!strchr(name, '/') || vz_cli_collection_dir(cli, name, dir, sizeof dir, &ws)) return false;
	snprintf(meta, sizeof meta, "%s/metadata.json", dir);
	return stat(meta, &st) != 0;
}

/* Whether the data directory in use is workspace w's: data/ beside its file, or one that holds
 * a collection it declares (VZ_DATA_DIR pointing elsewhere shows only what is there). */
static bool workspace_data_dir(const struct vz_cli *cli, const vz_workspace *w, char **names, int n)
{
	for (int j = 0; j < n; j++)
		if (vz_workspace_find(w, names[j])) return true;
	char dd[4096], mine[4096];
	struct stat a, b;
	return vz_cli_data_dir(cli, dd, sizeof dd, NULL) == VZ_OK && vz_path_fmt(mine, sizeof mine, "%s/data", w->dir) == VZ_OK &&
	       stat(dd, &a) == 0 && stat(mine, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* True when name is among the collections found in the data directory. */
static bool listed(char **names, int n, const char *name)
{
	for (int j = 0; j < n; j++)
		if (!strcmp(names[j], name)) return true;
	return false;
}

static int run(struct vz_cli *cli, struct vz_args *args)
{
	char **names;
	int n, status = 0;
	int rc = vz_cli_targets(cli, args, true, &names, &n);
	if (rc) return rc;
	bool json = opt_set(args, O_JSON);
	/* the declared collections of the workspace file here (read quietly: vz build reports on it) */
	char yml[4096];
	vz_workspace *w = NULL;
	if (vz_find_workspace_file(yml, sizeof yml) == VZ_OK && vz_workspace_load(yml, &w)) w = NULL;
	if (w && !workspace_data_dir(cli, w, names, n)) { /* another data directory: not this file's */
		vz_workspace_free(w);
		w = NULL;
	}
	size_t declared_unbuilt = 0;
	for (size_t i = 0; w && i < w->n; i++) declared_unbuilt += !listed(names, n, w->collections[i].full_name);
	if (!json && (n || declared_unbuilt) && cli->verbosity >= 0)
		printf("%-32s %-9s %5s %-11s %10s %8s %12s %s\n", "NAME", "KIND", "DIM", "METRIC", "VECTORS", "WAL_OPS", "BYTES", "STATE");
	for (int i = 0; i < n; i++) {
		vz_collection *c;
		if (unbuilt(cli, names[i])) {
			print_unbuilt(names[i], json);
			continue;
		}
		if ((rc = vz_cli_open(cli, names[i], VZ_OPEN_READ | VZ_OPEN_DAMAGED_OK, &c))) { status = rc; continue; }
		vz_collection_stats st;
		vz_collection_stats_get(c, &st);
		const vz_config *cfg = vz_collection_config(c);
		if (json)
			printf("{\"name\":\"%s\",\"kind\":\"%s\",\"dim\":%u,\"metric\":\"%s\",\"vectors\":%llu,\"wal_ops\":%llu,\"bytes\":%llu}\n",
			       names[i], st.workspace ? "workspace" : "dynamic", cfg->dim, vz_metric_name(cfg->metric),
			       (unsigned long long)st.live, (unsigned long long)st.wal_ops, (unsigned long long)st.bytes);
		else
			printf("%-32s %-9s %5u %-11s %10llu %8llu %12llu %s\n", names[i], st.workspace ? "workspace" : "dynamic", cfg->dim,
			       vz_metric_name(cfg->metric), (unsigned long long)st.live, (unsigned long long)st.wal_ops, (unsigned long long)st.bytes,
			       "ok");
		vz_collection_close(c);
	}
	for (size_t i = 0; w && i < w->n; i++)
		if (!listed(names, n, w->collections[i].full_name)) print_unbuilt(w->collections[i].full_name, json);
	vz_workspace_free(w);
	vz_cli_targets_free(names, n);
	return status;
}

const struct vz_command vz_cmd_list = {
	.name = "list", .summary = "list collections with their sizes", .usage = "[--json]",
	.description = "Lists every collection of the data directory, then the collections the workspace file here "
		       "(or above) declares that are not built, with the state \"not built\".",
	.options = options, .nopts = VZ_NOPTS(options), .min_args = 0, .max_args = 0, .run = run,
};
