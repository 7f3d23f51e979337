/* backup.c: `vz backup`: consistent, compressed, self-verifying backups (vz-backup(1); the archive: vz-format(5), Backup archives).
 *   vz backup [COLL... | --all] -o FILE|-       one archive (atomic for FILE; streamed for -)
 *   vz backup [COLL... | --all] --dir D --keep N  cron: a new timestamped file, then retention
 *   vz backup --auto                              cron: the `backup` section of the workspace file
 *   vz backup --verify FILE                       check an archive without restoring it */
#include "targets.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { O_ALL, O_OUTPUT, O_DIR, O_KEEP, O_LEVEL, O_THREADS, O_VERIFY, O_QUICK, O_AUTO, O_JSON };
static const struct vz_option options[] = {
	[O_ALL] = { "all", 0, OPT_FLAG, NULL, "every collection in the data directory", 0, 0, COMPLETE_NONE, NULL },
	[O_OUTPUT] = { "output", 'o', OPT_STRING, "FILE", "write the archive to FILE (- for stdout)", 0, 0, COMPLETE_FILE, NULL },
	[O_DIR] = { "dir", 0, OPT_STRING, "DIR", "write vz-YYYYMMDDTHHMMSSZ.tar.zst into DIR", 0, 0, COMPLETE_DIR, NULL },
	[O_KEEP] = { "keep", 0, OPT_INT, "N", "with --dir: keep the newest N backups, remove older ones (0: all)", 0, 100000, COMPLETE_NONE, NULL },
	[O_LEVEL] = { "level", 0, OPT_INT, "N", "zstd compression level (default 1)", 1, 19, COMPLETE_NONE, NULL },
	[O_THREADS] = { "threads", 0, OPT_INT, "N", "zstd compression threads (default: one per core; 0: none)", 0, 256, COMPLETE_NONE, NULL },
	[O_VERIFY] = { "verify", 0, OPT_STRING, "FILE", "check the backup FILE without restoring it; exit 1 when damaged", 0, 0, COMPLETE_FILE, NULL },
	[O_QUICK] = { "quick", 0, OPT_FLAG, NULL, "with --verify: check the archive and manifest only, not each collection", 0, 0, COMPLETE_NONE, NULL },
	[O_AUTO] = { "auto", 0, OPT_FLAG, NULL, "back up every collection as the workspace file's backup section says", 0, 0, COMPLETE_NONE, NULL },
	[O_JSON] = { "json", 0, OPT_FLAG, NULL, "print JSON objects (one per problem, then a summary)", 0, 0, COMPLETE_NONE, NULL },
};

struct problems { bool json; const char *archive; };

static void on_problem(void *ctx, const char *file, int64_t offset, const char *what)
{
	const struct problems *p = ctx;
	vz_cli_print_backup_problem(p->json, p->archive, file, offset, what);
}

static void print_summary(const struct vz_cli *cli, const char *file, const vz_backup_summary *s, bool json)
{
	if (json) {
		printf("{\"backup\":");
		vz_json_string(stdout, file, strlen(file));
		printf(",\"created\":\"%s\",\"collections\":%zu,\"files\":%zu,\"bytes\":%llu,\"archive_bytes\":%llu}\n", s->created,
		       s->collections, s->files, (unsigned long long)s->bytes, (unsigned long long)s->archive_bytes);
	} else {
		vz_infof(cli, "%s: %zu collection%s, %zu file%s, %llu bytes (%llu compressed)", file, s->collections,
			 VZ_S(s->collections), s->files, VZ_S(s->files), (unsigned long long)s->bytes, (unsigned long long)s->archive_bytes);
	}
}

static int verify(struct vz_cli *cli, struct vz_args *args)
{
	if (args->npos || opt_set(args, O_ALL) || opt_set(args, O_OUTPUT) || opt_set(args, O_DIR) || opt_set(args, O_AUTO))
		return vz_usage_error(cli, "--verify FILE takes no collections and no output");
	return vz_cli_verify_backup(cli, opt_str(args, O_VERIFY, NULL), !opt_set(args, O_QUICK), opt_set(args, O_JSON));
}

int vz_cli_verify_backup(struct vz_cli *cli, const char *file, bool deep, bool json)
{
	struct problems p = { json, file };
	int problems;
	vz_backup_summary s;
	int rc = vz_backup_verify(file, deep, on_problem, &p, &problems, &s);
	if (rc) return vz_report(cli, rc);
	if (problems) {
		if (p.json) {
			printf("{\"backup\":");
			vz_json_string(stdout, file, strlen(file));
			printf(",\"ok\":false,\"problems\":%d}\n", problems);
		}
		vz_errorf(cli, "%s: damaged: %d problem%s found", file, problems, problems > 1 ? "s" : "");
		return VZ_EXIT_CHECK;
	}
	if (p.json) print_summary(cli, file, &s, true);
	else vz_infof(cli, "%s: ok (%s; %zu collection%s, %zu file%s, %llu bytes)", file, s.created, s.collections,
		      VZ_S(s.collections), s.files, VZ_S(s.files), (unsigned long long)s.bytes);
	return 0;
}

/* `backup.after_checkpoint`: fold each dynamic collection's WAL first, so the backup needs no
 * replay. A collection that cannot be checkpointed is still backed up (with its WAL). */
static void checkpoint_all(struct vz_cli *cli, char **names, int n)
{
	for (int i = 0; i < n; i++) {
		if (strchr(names[i], '/')) continue;
		char cdir[VZ_PATH_MAX];
		if (vz_cli_collection_dir(cli, names[i], cdir, sizeof cdir, NULL)) continue;
		/* built without the collection's lock, as every checkpoint: writers go on meanwhile */
		int rc = vz_checkpoint_dir(cdir, 0, vz_cli_threads(0), cli->lock_timeout_ms, NULL);
		if (rc) vz_warnf(cli, "%s: checkpoint before the backup failed: %s", names[i], vz_last_error());
	}
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void vz_cli_backup_prefix(char *const *names, int n, bool all, char *out, size_t cap)
{
	if (all || n <= 0) {
		snprintf(out, cap, "vz");
	} else if (n == 1) {
		snprintf(out, cap, "vz-%s", names[0]);
		for (char *p = out; *p; p++)
			if (*p == '/') *p = '.';
	} else { /* the set, whatever order it was named in */
		char **sorted = malloc((size_t)n * sizeof *sorted);
		uint64_t h = 0;
		if (sorted) {
			memcpy(sorted, names, (size_t)n * sizeof *sorted);
			qsort(sorted, (size_t)n, sizeof *sorted, cmp_str);
			vz_hasher *x = vz_hasher_new();
			for (int i = 0; x && i < n; i++) vz_hasher_update(x, sorted[i], strlen(sorted[i]) + 1);
			if (x) h = vz_hasher_digest(x);
			vz_hasher_free(x);
			free(sorted);
		}
		snprintf(out, cap, "vz-set-%016llx", (unsigned long long)h);
	}
}

/* With --all: an entry of the data directory that is not a real collection directory (a
 * symlink planted under dynamic/) is reported and left out, so that the others are still
 * backed up; the exit status says so at the end. */
static int drop_unusable(struct vz_cli *cli, const char *dd, char **names, int *n)
{
	int status = 0, kept = 0;
	for (int i = 0; i < *n; i++) {
		char dir[VZ_PATH_MAX];
		struct stat st;
		bool ws;
		int rc = vz_collection_path(dd, names[i], dir, sizeof dir, &ws);
		if (!rc && lstat(dir, &st) == 0 && S_ISLNK(st.st_mode)) rc = vz_fail(VZ_EPERM, "%s: is a symlink; refusing to back it up", dir);
		else if (!rc && lstat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) rc = vz_fail(VZ_ECORRUPT, "%s: not a directory; not backed up", dir);
		if (rc) {
			status = vz_report(cli, rc);
			free(names[i]);
			continue;
		}
		names[kept++] = names[i];
	}
	*n = kept;
	return status;
}

static int run(struct vz_cli *cli, struct vz_args *args)
{
	if (opt_set(args, O_VERIFY)) return verify(cli, args);
	if (opt_set(args, O_QUICK)) return vz_usage_error(cli, "--quick goes with --verify");
	bool automatic = opt_set(args, O_AUTO);
	const char *out = opt_str(args, O_OUTPUT, NULL), *dir = opt_str(args, O_DIR, NULL);
	int keep = (int)opt_int(args, O_KEEP, 0);
	bool after_checkpoint = false;
	vz_workspace *ws = NULL;
	if (automatic) {
		if (args->npos || opt_set(args, O_ALL) || out) return vz_usage_error(cli, "--auto backs up every collection into the configured directory");
		char yml[VZ_PATH_MAX];
		int rc = vz_find_workspace_file(yml, sizeof yml);
		if (!rc) rc = vz_workspace_load(yml, &ws);
		if (rc && !dir) {
			vz_report(cli, rc);
			vz_errorf(cli, "--auto needs %s with a backup section (or --dir)", VZ_WORKSPACE_FILE);
			return vz_exit_code(rc) == VZ_EXIT_NOINPUT ? VZ_EXIT_CONFIG : vz_exit_code(rc);
		}
		if (ws && ws->backup_set) {
			if (!dir && ws->backup_directory[0]) dir = ws->backup_directory;
			if (!opt_set(args, O_KEEP)) keep = (int)ws->backup_keep;
			after_checkpoint = ws->backup_after_checkpoint;
		}
		if (!dir) {
			vz_errorf(cli, "%s: no backup directory (add backup: {directory: DIR, keep: N} or give --dir)", ws ? ws->path : VZ_WORKSPACE_FILE);
			vz_workspace_free(ws);
			return VZ_EXIT_CONFIG;
		}
	} else if (!!out == !!dir) {
		return vz_usage_error(cli, "give exactly one of -o FILE, -o - or --dir DIR");
	}
	if (opt_set(args, O_KEEP) && !dir) { vz_workspace_free(ws); return vz_usage_error(cli, "--keep goes with --dir"); }
	if (out && !strcmp(out, "-") && isatty(STDOUT_FILENO)) {
		vz_workspace_free(ws);
		vz_errorf(cli, "refusing to write a compressed archive to a terminal: redirect stdout or use -o FILE");
		return VZ_EXIT_USAGE;
	}
	char **names;
	int n;
	int rc = vz_cli_targets(cli, args, automatic || opt_set(args, O_ALL), &names, &n);
	if (rc) { vz_workspace_free(ws); return rc; }
	char dd[VZ_PATH_MAX];
	if ((rc = vz_cli_data_dir(cli, dd, sizeof dd, NULL))) { rc = vz_report(cli, rc); goto out; }
	int skipped = automatic || opt_set(args, O_ALL) ? drop_unusable(cli, dd, names, &n) : 0;
	if (after_checkpoint) checkpoint_all(cli, names, n);
	vz_backup_options o;
	vz_backup_options_default(&o);
	o.level = (int)opt_int(args, O_LEVEL, o.level);
	o.threads = (int)opt_int(args, O_THREADS, o.threads);
	o.lock_timeout_ms = cli->lock_timeout_ms;
	vz_backup_summary s;
	char written[VZ_PATH_MAX];
	const char *const *cnames = (const char *const *)names;
	double t0 = vz_now();
	if (dir) {
		char prefix[200]; /* --keep counts the backups of this same set only */
		vz_cli_backup_prefix(names, n, automatic || opt_set(args, O_ALL), prefix, sizeof prefix);
		if ((rc = vz_backup_write_dir(dd, cnames, (size_t)n, &o, dir, prefix, keep, written, sizeof written, &s))) { rc = vz_report(cli, rc); goto out; }
		if (opt_set(args, O_JSON)) print_summary(cli, written, &s, true);
		else if (cli->verbosity >= 0) puts(written); /* the name of the new archive; -q: nothing */
		print_summary(cli, written, &s, false);
	} else if (!strcmp(out, "-")) {
		if ((rc = vz_backup_write_fd(dd, cnames, (size_t)n, &o, STDOUT_FILENO, "stdout", &s))) { rc = vz_report(cli, rc); goto out; }
		print_summary(cli, "stdout", &s, false);
	} else {
		if ((rc = vz_backup_write_file(dd, cnames, (size_t)n, &o, out, &s))) { rc = vz_report(cli, rc); goto out; }
		if (opt_set(args, O_JSON)) print_summary(cli, out, &s, true);
		print_summary(cli, out, &s, false);
	}
	vz_verbosef(cli, "%d collection%s archived in %.3f s (zstd level %d, %d thread%s)", n, VZ_S(n), vz_now() - t0, o.level, o.threads,
		    VZ_S(o.threads));
	rc = skipped;
out:
	vz_cli_targets_free(names, n);
	vz_workspace_free(ws);
	return rc;
}

const struct vz_command vz_cmd_backup = {
	.name = "backup", .summary = "write a consistent, compressed, self-verifying backup",
	.usage = "[COLL... | --all] (-o FILE | -o - | --dir DIR [--keep N]) | --auto | --verify FILE",
	.description = "The archive is a tar file compressed with zstd: `tar --zstd -tf FILE` lists it. Its first entry, "
		       VZ_BACKUP_MANIFEST ", lists every file with its size and XXH3 checksum. With --verify, each problem is "
		       "printed on stdout as FILE: what is wrong.",
	.options = options, .nopts = VZ_NOPTS(options), .min_args = 0, .max_args = -1, .arg_complete = COMPLETE_COLLECTION, .run = run,
};
