/* progress.c: the progress bar vz draws on standard error when it is a terminal and -q was not
 * given: build's files, and the library's long phases (vz_set_progress) of insert, load,
 * checkpoint, backup, restore and verify. One line, redrawn in place, erased when done, so
 * that what is left on the terminal is the command's own output. */
#include "cli.h"

#include <unistd.h>

static const struct vz_cli *bar_cli;
static bool bar_drawn;

void vz_cli_bar(const char *label, const char *what, uint64_t done, uint64_t total)
{
	int width = 30, fill = total ? (int)((double)(done < total ? done : total) / (double)total * width) : width;
	fprintf(stderr, "\r%s: %s [%.*s%*s] %llu/%llu\033[K", label, what, fill, "##############################", width - fill, "",
		(unsigned long long)done, (unsigned long long)total);
	bar_drawn = true;
	if (done >= total) vz_cli_bar_clear();
	fflush(stderr);
}

void vz_cli_bar_clear(void)
{
	if (bar_drawn) fputs("\r\033[K", stderr);
	bar_drawn = false;
}

static void on_progress(void *ctx, const char *what, uint64_t done, uint64_t total)
{
	(void)ctx;
	char label[64];
	snprintf(label, sizeof label, "%s %s", bar_cli->prog, bar_cli->cmd ? bar_cli->cmd->name : "");
	vz_cli_bar(label, what, done, total);
}

bool vz_cli_progress_wanted(const struct vz_cli *cli)
{
	return cli->verbosity >= 0 && isatty(STDERR_FILENO);
}

void vz_cli_progress_start(const struct vz_cli *cli)
{
	if (!vz_cli_progress_wanted(cli)) return;
	bar_cli = cli;
	vz_set_progress(on_progress, NULL);
}

void vz_cli_progress_end(void)
{
	vz_set_progress(NULL, NULL);
	vz_cli_bar_clear();
	fflush(stderr);
}
