/* build.c: `vz build [PROJECT/COLLECTION ...]`: (re)builds the workspace collections of
 * vectorize-workspace.yml, re-embedding only the files that changed. */
#include "cli.h"

#include <string.h>
#include <unistd.h>

enum { O_FORCE, O_THREADS, O_JSON, O_FILE };
static const struct vz_option options[] = {
	[O_FORCE] = { "force", 0, OPT_FLAG, NULL, "re-read and re-embed every file", 0, 0, COMPLETE_NONE, NULL },
	[O_THREADS] = { "threads", 0, OPT_INT, "N", "threads for the index build (default 1: reproducible)", 1, 256, COMPLETE_NONE, NULL },
	[O_JSON] = { "json", 0, OPT_FLAG, NULL, "print one JSON object per collection", 0, 0, COMPLETE_NONE, NULL },
	[O_FILE] = { "workspace", 'w', OPT_STRING, "FILE", "the workspace file (default: vectorize-workspace.yml here or above)", 0, 0, COMPLETE_FILE, NULL },
};

struct progress {
	const char *name;
	double last;
};

static void show_progress(void *ctx, size_t done, size_t total)
{
	struct progress *p = ctx;
	double now = vz_now();
	if (done != total && now - p->last < 0.1) return;
	p->last = now;
	int width = 30, fill = total ? (int)((double)done / (double)total * width) : width;
	fprintf(stderr, "\r%s [%.*s%*s] %zu/%zu files", p->name, fill, "##############################", width - fill, "", done, total);
	if (done == total) fputs("\r\033[K", stderr);
	fflush(stderr);
}

/* Loads the workspace file named by --workspace, or the nearest one, printing its warnings. */
int vz_cli_load_workspace(const struct vz_cli *cli, const char *file, vz_workspace **out)
{
	char path[4096];
	int rc;
	if (file) snprintf(path, sizeof path, "%s", file);
	else if ((rc = vz_find_workspace_file(path, sizeof path))) {
		vz_errorf(cli, "no %s in this directory or above (or give --workspace FILE)", VZ_WORKSPACE_FILE);
		return VZ_EXIT_CONFIG;
	}
	if ((rc = vz_workspace_load(path, out))) return vz_report(cli, rc);
	for (size_t i = 0; i < (*out)->n_warnings; i++) vz_warnf(cli, "%s", (*out)->warnings[i]);
	return 0;
}

/* Builds one collection and prints its summary line (or JSON object). Returns an exit code. */
int vz_cli_build_one(const struct vz_cli *cli, const vz_workspace *w, const vz_ws_collection *c, const char *data_dir,
		     bool force, int threads, bool json, bool bar)
{
	struct progress p = { .name = c->full_name };
	vz_ws_stats st;
	int rc = vz_workspace_build(w, c, data_dir, force, threads, cli->lock_timeout_ms, bar ? show_progress : NULL, &p, &st);
	if (rc) return vz_report(cli, rc);
	if (json) {
		printf("{\"collection\":");
		vz_json_string(stdout, c->full_name, strlen(c->full_name));
		printf(",\"files\":%zu,\"changed\":%zu,\"added\":%zu,\"removed\":%zu,\"chunks\":%zu,\"rebuilt\":%s,\"seconds\":%.3f}\n",
		       st.files, st.changed, st.added, st.removed, st.chunks, st.rebuilt ? "true" : "false", st.seconds);
	} else if (cli->verbosity >= 0) { /* the summary is a report, not data: -q silences it */
		printf("%s: %zu files, %zu changed, %zu added, %zu removed, %zu chunks, %.2f s%s\n", c->full_name, st.files,
		       st.changed, st.added, st.removed, st.chunks, st.seconds, st.rebuilt ? " (rebuilt)" : "");
	}
	fflush(stdout);
	return 0;
}

static int run(struct vz_cli *cli, struct vz_args *args)
{
	vz_workspace *w;
	int ec = vz_cli_load_workspace(cli, opt_str(args, O_FILE, NULL), &w);
	if (ec) return ec;
	for (int i = 0; i < args->npos; i++)
		if (!vz_workspace_find(w, args->pos[i])) {
			ec = vz_usage_error(cli, "no collection '%s' in %s", args->pos[i], w->path);
			goto out;
		}
	char data_dir[4096];
	enum vz_datadir_source src;
	int drc = vz_cli_data_dir(cli, data_dir, sizeof data_dir, &src);
	if (drc) {
		ec = vz_report(cli, drc);
		goto out;
	}
	bool bar = isatty(STDERR_FILENO) && cli->verbosity >= 0 && !opt_set(args, O_JSON);
	for (size_t i = 0; i < w->n; i++) {
		const vz_ws_collection *c = &w->collections[i];
		bool chosen = args->npos == 0;
		for (int j = 0; j < args->npos && !chosen; j++) chosen = !strcmp(args->pos[j], c->full_name);
		if (!chosen) continue;
		if ((ec = vz_cli_build_one(cli, w, c, data_dir, opt_set(args, O_FORCE), (int)opt_int(args, O_THREADS, 1),
					    opt_set(args, O_JSON), bar)))
			goto out;
	}
out:
	vz_workspace_free(w);
	return ec;
}

const struct vz_command vz_cmd_build = {
	.name = "build", .summary = "build the workspace collections of vectorize-workspace.yml",
	.usage = "[PROJECT/COLLECTION ...] [--force] [--threads N] [--json]",
	.description = "Walks each project of the workspace file, chunks and embeds its text files with the built-in "
		       "BM25 embedding and writes data/workspace/PROJECT/COLLECTION. Only added, changed and removed "
		       "files are re-read; a change of a collection's configuration rebuilds it.",
	.options = options, .nopts = VZ_NOPTS(options), .min_args = 0, .max_args = -1, .run = run,
};
