/* vz.c: the entry point. Global options, dispatch by command name (or by the vz-<command>
 * name of a link to the binary), and the final check that stdout was really written. */
#include "cli.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

/* Flushes stdout and turns a failed write (ENOSPC on /dev/full, EIO) into the I/O exit code.
 * Scripts must be able to tell that output was lost. */
static int finish_stdout(struct vz_cli *cli, int code)
{
	if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0) {
		vz_errorf(cli, "write error on standard output");
		return code == 0 ? VZ_EXIT_IOERR : code;
	}
	return code;
}

/* A global option not known: the one it most likely means, else where command options go. */
static int unknown_global_option(struct vz_cli *cli, const char *a)
{
	static const char *const names[] = { "--data-dir", "--lock-timeout", "--quiet", "--verbose", "--help", "--version" };
	char word[64];
	snprintf(word, sizeof word, "%.*s", (int)strcspn(a, "="), a);
	const char *hint = a[1] == '-' ? vz_did_you_mean(word, names, VZ_NOPTS(names)) : NULL;
	if (hint) return vz_usage_error(cli, "unknown global option '%s'; did you mean '%s'?", word, hint);
	return vz_usage_error(cli, "unknown global option '%s' (command options go after the command)", a);
}

static int run_command(struct vz_cli *cli, const struct vz_command *cmd, int argc, char **argv)
{
	cli->cmd = cmd;
	struct vz_args args;
	int rc = vz_parse_args(cli, cmd, argc, argv, &args);
	double start = vz_now();
	if (rc == 0) {
		vz_cli_progress_start(cli);
		rc = cmd->run(cli, &args);
		vz_cli_progress_end();
	}
	if (rc >= 0) vz_verbosef(cli, "exit %d after %.3f s", rc, vz_now() - start);
	else if (rc == -1) rc = 0; /* --help was printed */
	free(args.pos);
	return finish_stdout(cli, rc);
}

int main(int argc, char **argv)
{
	/* SIGPIPE keeps its default action, so `vz dump x | head` ends quietly; make sure a parent
	 * that ignored it does not hand us an ignored disposition. */
	signal(SIGPIPE, SIG_DFL);

	struct vz_cli cli = { .prog = "vz", .verbosity = 0, .lock_timeout_ms = VZ_LOCK_TIMEOUT_DEFAULT_MS };
	const char *env_timeout = getenv("VZ_LOCK_TIMEOUT");
	if (env_timeout && *env_timeout) {
		char *end;
		long v = strtol(env_timeout, &end, 10);
		if (*end || v < 0 || v > 86400000) {
			vz_errorf(&cli, "VZ_LOCK_TIMEOUT: '%s' is not a number of milliseconds", env_timeout);
			return VZ_EXIT_USAGE;
		}
		cli.lock_timeout_ms = (int)v;
	}

	/* busybox style: a link named vz-<command>, the command one of the table, runs that command
	 * (as git does for git-<command>); any other name (vz-bench, a copy of the binary) is vz */
	const char *slash = argv[0] ? strrchr(argv[0], '/') : NULL;
	const char *base = slash ? slash + 1 : argv[0] ? argv[0] : "vz";
	const struct vz_command *link_cmd = !strncmp(base, "vz-", 3) ? vz_find_command(base + 3) : NULL;
	if (link_cmd) {
		argv[0] = (char *)link_cmd->name;
		return run_command(&cli, link_cmd, argc, argv);
	}

	/* global options before the command */
	int i = 1;
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (a[0] != '-' || !strcmp(a, "-")) break;
		if (!strcmp(a, "--")) { i++; break; }
		if (!strcmp(a, "--version")) {
			vz_print_version(stdout);
			return finish_stdout(&cli, 0);
		}
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			vz_print_main_help(stdout);
			return finish_stdout(&cli, 0);
		}
		if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) { cli.verbosity = -1; continue; }
		if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) { cli.verbosity++; continue; }
		if (!strcmp(a, "--data-dir") || !strncmp(a, "--data-dir=", 11)) {
			if (a[10] == '=') cli.data_dir_opt = a + 11;
			else if (i + 1 < argc) cli.data_dir_opt = argv[++i];
			else return vz_usage_error(&cli, "option '--data-dir' needs a value (DIR)");
			continue;
		}
		if (!strcmp(a, "--lock-timeout") || !strncmp(a, "--lock-timeout=", 15)) {
			const char *v = a[14] == '=' ? a + 15 : (i + 1 < argc ? argv[++i] : NULL);
			char *end;
			long t = v ? strtol(v, &end, 10) : -1;
			if (!v || *end || t < 0 || t > 86400000)
				return vz_usage_error(&cli, "--lock-timeout: needs a number of milliseconds");
			cli.lock_timeout_ms = (int)t;
			continue;
		}
		return unknown_global_option(&cli, a);
	}
	if (i >= argc) {
		vz_print_main_help(stderr);
		return VZ_EXIT_USAGE;
	}
	if (!strcmp(argv[i], "__complete")) return finish_stdout(&cli, vz_complete_main(argc - i - 1, argv + i + 1));
	const struct vz_command *cmd = vz_find_command(argv[i]);
	if (!cmd) return vz_unknown_command(&cli, argv[i]);
	return run_command(&cli, cmd, argc - i, argv + i);
}
