/* build.c: `vz build [PROJECT/COLLECTION ...]`: (re)builds the workspace collections of
 * vectorize-workspace.yml, re-embedding only the files that changed. */
#include "cli.h"
#include "write.h"

#include <stdlib.h>

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { O_FORCE, O_THREADS, O_JSON, O_FILE, O_DRY_RUN };
static const struct vz_option options[] = {
	[O_FORCE] = { "force", 0, OPT_FLAG, NULL, "re-read and re-embed every file", 0, 0, COMPLETE_NONE, NULL },
	[O_THREADS] = { "threads", 0, OPT_INT, "N", "threads for the index build (default 1: reproducible; its detached checkpoint: every core)", 1, 256, COMPLETE_NONE, NULL },
	[O_JSON] = { "json", 0, OPT_FLAG, NULL, "print one JSON object per collection", 0, 0, COMPLETE_NONE, NULL },
	[O_FILE] = { "workspace", 'w', OPT_STRING, "FILE", "the workspace file (default: vectorize-workspace.yml here or above); its data/ beside it", 0, 0, COMPLETE_FILE, NULL },
	[O_DRY_RUN] = { "dry-run", 'n', OPT_FLAG, NULL, "say which files changed since the last build, write nothing", 0, 0, COMPLETE_NONE, NULL },
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
	vz_cli_bar(p->name, "files", done, total);
}

/* Loads the workspace file named by --workspace, or the nearest one, printing its warnings. */
int vz_cli_load_workspace(const struct vz_cli *cli, const char *file, vz_workspace **out)
{
	char path[VZ_PATH_MAX];
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

/* The data directory of workspace w: --data-dir or VZ_DATA_DIR when given, else data/ beside
 * the workspace file (the one named by -w, or the nearest one). */
int vz_cli_workspace_data_dir(const struct vz_cli *cli, const vz_workspace *w, char *out, size_t cap)
{
	enum vz_datadir_source src;
	int rc = vz_datadir_resolve(cli->data_dir_opt, out, cap, &src, NULL, 0);
	if (rc) return rc;
	if (src != VZ_DATADIR_OPTION && src != VZ_DATADIR_ENV && (rc = vz_path_fmt(out, cap, "%s/data", w->dir))) return rc;
	return vz_cli_check_data_dir(out); /* the directory used, and only it */
}

/* Prints the projects of w that could not be read (file:line:column: why); returns the exit code
 * of the first, or 0. */
int vz_cli_workspace_failures(const struct vz_cli *cli, const vz_workspace *w)
{
	int ec = 0;
	for (size_t i = 0; i < w->n_failures; i++) {
		vz_errorf(cli, "%s", w->failures[i].message);
		if (!ec) ec = vz_exit_code(w->failures[i].err);
	}
	return ec;
}

/* Builds one collection and prints its summary line (or JSON object). Returns an exit code. */
int vz_cli_build_one(const struct vz_cli *cli, const vz_workspace *w, const vz_ws_collection *c, const char *data_dir,
		     bool force, int threads, bool json, bool bar)
{
	struct progress p = { .name = c->full_name };
	vz_ws_stats st;
	/* the HNSW graph of a collection written whole is left to the automatic checkpoint (as a
	 * bulk insert's index), unless VZ_AUTO_CHECKPOINT=inline: --text answers are ready sooner */
	const char *mode = getenv("VZ_AUTO_CHECKPOINT");
	unsigned flags = (force ? VZ_WS_BUILD_FORCE : 0) | (mode && !strcmp(mode, "inline") ? 0 : VZ_WS_BUILD_DEFER_GRAPH);
	int rc = vz_workspace_build(w, c, data_dir, flags, threads > 0 ? threads : 1, cli->lock_timeout_ms, bar ? show_progress : NULL, &p, &st);
	/* a small graph is built here (threads 0, not given: one thread), a large one by a
	 * detached `vz checkpoint --if-needed` (threads 0: on every core) */
	if (!rc && !strcmp(st.index, "deferred") &&
	    vz_cli_auto_checkpoint(cli, data_dir, c->full_name, (uint64_t)st.chunks * c->cfg.dim, threads))
		st.index = "built";
	if (rc) { /* where the collection is declared, and why it failed */
		vz_errorf(cli, "%s:%d: %s", w->path, c->line, vz_last_error());
		if (json) {
			printf("{\"collection\":");
			vz_json_string(stdout, c->full_name, strlen(c->full_name));
			printf(",\"line\":%d,\"error\":", c->line);
			vz_json_string(stdout, vz_last_error(), strlen(vz_last_error()));
			printf(",\"exit\":%d}\n", vz_exit_code(rc));
			fflush(stdout);
		}
		return vz_exit_code(rc);
	}
	if (json) {
		printf("{\"collection\":");
		vz_json_string(stdout, c->full_name, strlen(c->full_name));
		printf(",\"files\":%zu,\"changed\":%zu,\"added\":%zu,\"removed\":%zu,\"chunks\":%zu,\"too_large\":%zu,\"binary\":%zu,"
		       "\"embedding\":\"%s\",\"rebuilt\":%s,\"read\":%zu,\"index\":\"%s\",\"appended\":%zu,\"tombstones\":%llu,\"seconds\":%.3f}\n",
		       st.files, st.changed, st.added, st.removed, st.chunks, st.too_large, st.binary, c->cfg.embedding,
		       st.rebuilt ? "true" : "false", st.read, st.index, st.appended, (unsigned long long)st.tombstones, st.seconds);
	} else if (cli->verbosity >= 0) { /* the summary is a report, not data: -q silences it */
		char skipped[96] = "";
		if (st.too_large || st.binary)
			snprintf(skipped, sizeof skipped, ", %zu skipped (%zu too large, %zu binary)", st.too_large + st.binary, st.too_large, st.binary);
		printf("%s: %zu file%s, %zu changed, %zu added, %zu removed, %zu chunk%s%s, %.2f s%s\n", c->full_name, st.files,
		       VZ_S(st.files), st.changed, st.added, st.removed, st.chunks, VZ_S(st.chunks), skipped, st.seconds, st.rebuilt ? " (rebuilt)" : "");
		if (cli->verbosity > 0)
			printf("%s: %zu file%s read, index %s, %zu row%s appended, %llu tombstone%s\n", c->full_name, st.read, VZ_S(st.read), st.index,
			       st.appended, VZ_S(st.appended), (unsigned long long)st.tombstones, VZ_S(st.tombstones));
	}
	fflush(stdout);
	return 0;
}

struct diff_ctx {
	const char *name;
	bool json;
};

static void print_diff(void *ctx, char what, const char *path)
{
	struct diff_ctx *d = ctx;
	const char *word = what == 'A' ? "added" : what == 'C' ? "changed" : "removed";
	if (d->json) {
		printf("{\"collection\":");
		vz_json_string(stdout, d->name, strlen(d->name));
		printf(",\"%s\":", word);
		vz_json_string(stdout, path, strlen(path));
		printf("}\n");
	} else {
		vz_printf_safe(stdout, "%s: %s %s\n", d->name, word, path); /* a file name is data: escaped */
	}
}

/* --dry-run for one collection: one line per changed file, then the counts. */
static int dry_run_one(const struct vz_cli *cli, const vz_workspace *w, const vz_ws_collection *c, const char *data_dir, bool json)
{
	struct diff_ctx d = { c->full_name, json };
	vz_ws_stats st;
	int rc = vz_workspace_diff(w, c, data_dir, print_diff, &d, &st);
	if (rc) {
		vz_errorf(cli, "%s:%d: %s", w->path, c->line, vz_last_error());
		return vz_exit_code(rc);
	}
	const char *state = st.not_built ? "not built" : st.rebuilt ? "configuration changed: a build re-embeds every file" : NULL;
	if (json) {
		printf("{\"collection\":");
		vz_json_string(stdout, c->full_name, strlen(c->full_name));
		printf(",\"files\":%zu,\"changed\":%zu,\"added\":%zu,\"removed\":%zu,\"too_large\":%zu,\"binary\":%zu,"
		       "\"built\":%s,\"config_changed\":%s,\"dry_run\":true}\n",
		       st.files, st.changed, st.added, st.removed, st.too_large, st.binary, st.not_built ? "false" : "true",
		       st.rebuilt ? "true" : "false");
	} else if (cli->verbosity >= 0) {
		printf("%s: %zu file%s, %zu changed, %zu added, %zu removed%s%s (dry run: nothing written)\n", c->full_name, st.files,
		       VZ_S(st.files), st.changed, st.added, st.removed, state ? ", " : "", state ? state : "");
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
	if (cli->verbosity >= 1) /* keys of the original system that name what vz does not have */
		for (size_t i = 0; i < w->n_not_applicable; i++) vz_infof(cli, "%s (accepted, not applicable)", w->not_applicable[i]);
	char data_dir[VZ_PATH_MAX];
	int drc = vz_cli_workspace_data_dir(cli, w, data_dir, sizeof data_dir);
	if (drc) {
		ec = vz_report(cli, drc);
		goto out;
	}
	/* a failing project or collection is reported and the others are built: the exit code is
	 * the first failure's */
	ec = args->npos ? 0 : vz_cli_workspace_failures(cli, w);
	bool bar = vz_cli_progress_wanted(cli) && !opt_set(args, O_JSON);
	for (size_t i = 0; i < w->n; i++) {
		const vz_ws_collection *c = &w->collections[i];
		bool chosen = args->npos == 0;
		for (int j = 0; j < args->npos && !chosen; j++) chosen = !strcmp(args->pos[j], c->full_name);
		if (!chosen) continue;
		int one = opt_set(args, O_DRY_RUN) ? dry_run_one(cli, w, c, data_dir, opt_set(args, O_JSON))
						   : vz_cli_build_one(cli, w, c, data_dir, opt_set(args, O_FORCE),
								      (int)opt_int(args, O_THREADS, 0), opt_set(args, O_JSON), bar);
		if (one && !ec) ec = one;
	}
out:
	vz_workspace_free(w);
	return ec;
}

const struct vz_command vz_cmd_build = {
	.name = "build", .summary = "build the workspace collections of vectorize-workspace.yml",
	.usage = "[PROJECT/COLLECTION ...] [-w FILE] [--force] [--dry-run] [--threads N] [--json]",
	.description = "Walks each project of the workspace file, chunks and embeds its text files with the built-in "
		       "BM25 embedding and writes data/workspace/PROJECT/COLLECTION. Only added, changed and removed "
		       "files are re-read; a change of a collection's configuration rebuilds it. A failing project or "
		       "collection is reported (file:line: why) and the others are still built; the exit code is the "
		       "first failure's. --dry-run lists the files added, changed and removed since the last build.",
	.options = options, .nopts = VZ_NOPTS(options), .min_args = 0, .max_args = -1, .run = run,
};
