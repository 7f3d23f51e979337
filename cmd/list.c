/* list.c: `vz list`: every collection with its counts. */
#include "targets.h"

#include <stdlib.h>
#include <string.h>

enum { O_JSON };
static const struct vz_option options[] = {
	[O_JSON] = { "json", 0, OPT_FLAG, NULL, "one JSON object a line", 0, 0, COMPLETE_NONE, NULL },
};

static int run(struct vz_cli *cli, struct vz_args *args)
{
	char **names;
	int n, status = 0;
	int rc = vz_cli_targets(cli, args, true, &names, &n);
	if (rc) return rc;
	bool json = opt_set(args, O_JSON);
	if (!json && n && cli->verbosity >= 0) printf("%-32s %-9s %5s %-11s %10s %8s %12s\n", "NAME", "KIND", "DIM", "METRIC", "VECTORS", "WAL_OPS", "BYTES");
	for (int i = 0; i < n; i++) {
		vz_collection *c;
		if ((rc = vz_cli_open(cli, names[i], VZ_OPEN_READ | VZ_OPEN_DAMAGED_OK, &c))) { status = rc; continue; }
		vz_collection_stats st;
		vz_collection_stats_get(c, &st);
		const vz_config *cfg = vz_collection_config(c);
		if (json)
			printf("{\"name\":\"%s\",\"kind\":\"%s\",\"dim\":%u,\"metric\":\"%s\",\"vectors\":%llu,\"wal_ops\":%llu,\"bytes\":%llu}\n",
			       names[i], st.workspace ? "workspace" : "dynamic", cfg->dim, vz_metric_name(cfg->metric),
			       (unsigned long long)st.live, (unsigned long long)st.wal_ops, (unsigned long long)st.bytes);
		else
			printf("%-32s %-9s %5u %-11s %10llu %8llu %12llu\n", names[i], st.workspace ? "workspace" : "dynamic", cfg->dim,
			       vz_metric_name(cfg->metric), (unsigned long long)st.live, (unsigned long long)st.wal_ops, (unsigned long long)st.bytes);
		vz_collection_close(c);
	}
	vz_cli_targets_free(names, n);
	return status;
}

const struct vz_command vz_cmd_list = {
	.name = "list", .summary = "list collections with their sizes", .usage = "[--json]",
	.options = options, .nopts = VZ_NOPTS(options), .min_args = 0, .max_args = 0, .run = run,
};
