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

/* A workspace collection whose directory holds no snapshot (its first build failed). */
static bool unbuilt(const struct vz_cli *cli, const char *name)
{
	char dir[VZ_PATH_MAX], meta[VZ_PATH_MAX];
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
	char dd[VZ_PATH_MAX], mine[VZ_PATH_MAX];
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

/* One line of the listing; built collections have st and cfg, the others state "not built". */
struct row {
	const char *name;
	bool built, workspace;
	uint32_t dim;
	const char *metric;
	unsigned long long vectors, wal_ops, bytes;
};

static int cmp_row(const void *a, const void *b)
{
	return strcmp(((const struct row *)a)->name, ((const struct row *)b)->name);
}

static void print_json(const struct row *r)
{
	printf("{\"collection\":");
	vz_json_string(stdout, r->name, strlen(r->name));
	printf(",\"kind\":\"%s\",", r->workspace ? "workspace" : "dynamic");
	if (!r->built) {
		printf("\"dim\":null,\"metric\":null,\"vectors\":null,\"wal_ops\":null,\"bytes\":null,\"state\":\"not built\"}\n");
		return;
	}
	printf("\"dim\":%u,\"metric\":\"%s\",\"vectors\":%llu,\"wal_ops\":%llu,\"bytes\":%llu,\"state\":\"ok\"}\n", r->dim, r->metric,
	       r->vectors, r->wal_ops, r->bytes);
}

/* The text table: each column as wide as its widest cell, numbers right-aligned; the header line
 * only when asked (not with -q, as before). */
static void print_table(const struct row *rows, size_t n, bool header)
{
	enum { NCOL = 8 };
	static const char *const head[NCOL] = { "NAME", "KIND", "DIM", "METRIC", "VECTORS", "WAL_OPS", "BYTES", "STATE" };
	static const bool right[NCOL] = { false, false, true, false, true, true, true, false };
	char (*cell)[NCOL][32] = calloc(n ? n : 1, sizeof *cell);
	if (!cell) return;
	int width[NCOL];
	for (int c = 0; c < NCOL; c++) width[c] = (int)strlen(head[c]);
	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		snprintf(cell[i][1], 32, "%s", r->workspace ? "workspace" : "dynamic");
		if (r->built) {
			snprintf(cell[i][2], 32, "%u", r->dim);
			snprintf(cell[i][3], 32, "%s", r->metric);
			snprintf(cell[i][4], 32, "%llu", r->vectors);
			snprintf(cell[i][5], 32, "%llu", r->wal_ops);
			snprintf(cell[i][6], 32, "%llu", r->bytes);
		} else
			for (int c = 2; c < 7; c++) snprintf(cell[i][c], 32, "-");
		snprintf(cell[i][7], 32, "%s", r->built ? "ok" : "not built");
		int nl = (int)strlen(r->name);
		if (nl > width[0]) width[0] = nl;
		for (int c = 1; c < NCOL; c++)
			if ((int)strlen(cell[i][c]) > width[c]) width[c] = (int)strlen(cell[i][c]);
	}
	for (int c = 0; header && c < NCOL - 1; c++) printf(right[c] ? "%*s  " : "%-*s  ", width[c], head[c]);
	if (header) printf("%s\n", head[NCOL - 1]);
	for (size_t i = 0; i < n; i++) {
		vz_printf_safe(stdout, "%-*s  ", width[0], rows[i].name);
		for (int c = 1; c < NCOL - 1; c++) printf(right[c] ? "%*s  " : "%-*s  ", width[c], cell[i][c]);
		printf("%s\n", cell[i][NCOL - 1]);
	}
	free(cell);
}

static int run(struct vz_cli *cli, struct vz_args *args)
{
	char **names;
	int n, status = 0;
	char dd[VZ_PATH_MAX];
	enum vz_datadir_source src;
	int rc = vz_cli_data_dir(cli, dd, sizeof dd, &src);
	if (rc) return vz_report(cli, rc);
	struct stat dst;
	if ((src == VZ_DATADIR_OPTION || src == VZ_DATADIR_ENV) && stat(dd, &dst) != 0) {
		/* a mistyped VZ_DATA_DIR or --data-dir would list nothing: say so (the default one
		 * not made yet is just empty) */
		vz_errorf(cli, "data directory %s (%s) does not exist", dd, vz_datadir_source_name(src));
		return VZ_EXIT_NOINPUT;
	}
	if ((rc = vz_cli_targets(cli, args, true, &names, &n))) return rc;
	bool json = opt_set(args, O_JSON);
	/* the declared collections of the workspace file here (read quietly: vz build reports on it) */
	char yml[VZ_PATH_MAX];
	vz_workspace *w = NULL;
	if (vz_find_workspace_file(yml, sizeof yml) == VZ_OK && vz_workspace_load(yml, &w)) w = NULL;
	if (w && !workspace_data_dir(cli, w, names, n)) { /* another data directory: not this file's */
		vz_workspace_free(w);
		w = NULL;
	}
	struct row *rows = calloc((size_t)n + (w ? w->n : 0) + 1, sizeof *rows);
	if (!rows) { vz_cli_targets_free(names, n); vz_workspace_free(w); return vz_report(cli, vz_fail(VZ_ENOMEM, "out of memory")); }
	size_t nr = 0;
	for (int i = 0; i < n; i++) {
		vz_collection *c;
		struct row *r = &rows[nr];
		r->name = names[i];
		r->workspace = strchr(names[i], '/') != NULL;
		if (unbuilt(cli, names[i])) { nr++; continue; }
		if ((rc = vz_cli_open(cli, names[i], VZ_OPEN_READ | VZ_OPEN_DAMAGED_OK, &c))) { status = rc; continue; }
		vz_collection_stats st;
		vz_collection_stats_get(c, &st);
		const vz_config *cfg = vz_collection_config(c);
		r->built = true;
		r->workspace = st.workspace;
		r->dim = cfg->dim;
		r->metric = vz_metric_name(cfg->metric);
		r->vectors = st.live;
		r->wal_ops = st.wal_ops;
		r->bytes = st.bytes;
		vz_collection_close(c);
		nr++;
	}
	for (size_t i = 0; w && i < w->n; i++)
		if (!listed(names, n, w->collections[i].full_name))
			rows[nr++] = (struct row){ .name = w->collections[i].full_name, .workspace = true };
	qsort(rows, nr, sizeof *rows, cmp_row);
	if (json)
		for (size_t i = 0; i < nr; i++) print_json(&rows[i]);
	else if (nr)
		print_table(rows, nr, cli->verbosity >= 0);
	free(rows);
	vz_workspace_free(w);
	vz_cli_targets_free(names, n);
	return status;
}

const struct vz_command vz_cmd_list = {
	.name = "list", .summary = "list collections with their sizes", .usage = "[--json]",
	.description = "Lists every collection of the data directory and the collections the workspace file here "
		       "(or above) declares that are not built (state \"not built\"), sorted by name.",
	.options = options, .nopts = VZ_NOPTS(options), .min_args = 0, .max_args = 0, .run = run,
};
