/* help.c: `vz help [COMMAND]`: the man page when man(1) and the page are available and stdout
 * is a terminal, the built-in help otherwise (so scripts and pipes get plain text). */
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>

static int run(struct vz_cli *cli, struct vz_args *args)
{
	if (args->npos == 0) {
		vz_print_main_help(stdout);
		return 0;
	}
	const struct vz_command *cmd = vz_find_command(args->pos[0]);
	if (!cmd) return vz_unknown_command(cli, args->pos[0]);
	if (isatty(STDOUT_FILENO) && !getenv("VZ_NO_MAN")) {
		char page[64];
		snprintf(page, sizeof page, "vz-%s", cmd->name);
		fflush(stdout);
		pid_t pid = fork();
		if (pid == 0) {
			int devnull = open("/dev/null", 1);
			if (devnull >= 0) dup2(devnull, 2);
			execlp("man", "man", page, (char *)NULL);
			_exit(127);
		}
		int status;
		if (pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0)
			return 0;
	}
	vz_print_command_help(stdout, cmd);
	return 0;
}

const struct vz_command vz_cmd_help = {
	.name = "help", .summary = "show help for vz or for one command", .usage = "[COMMAND]",
	.options = NULL, .nopts = 0, .min_args = 0, .max_args = 1, .run = run,
};
