/* runner.c: runs every registered TEST in a forked child; prints TAP-like lines and the final
 * "unit: N passed, N failed" line. An argument filters tests by substring. */

#include "t.h"

#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct test { const char *name, *file; t_fn fn; };
static struct test tests[2048];
static int ntests;
static char current_dir[4096];

void t_register(const char *name, t_fn fn, const char *file)
{
	if (ntests < 2048) tests[ntests++] = (struct test){ name, file, fn };
}

void t_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "  %s:%d: check failed: ", file, line);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	fflush(NULL);
	_exit(1);
}

const char *t_dir(void) { return current_dir; }

int t_sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	fflush(NULL);
	int st = system(cmd);
	if (st == -1) return -1;
	if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

char *t_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) { fclose(f); free(buf); return NULL; }
	buf[n] = '\0';
	fclose(f);
	if (len) *len = (size_t)n;
	return buf;
}

void t_write(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) t_fail(__FILE__, __LINE__, "cannot write %s", path);
}

static int by_file_then_order(const void *a, const void *b)
{
	const struct test *x = a, *y = b;
	int c = strcmp(x->file, y->file);
	return c ? c : (x < y ? -1 : x > y);
}

int main(int argc, char **argv)
{
	qsort(tests, (size_t)ntests, sizeof tests[0], by_file_then_order);
	const char *tmp = getenv("TMPDIR");
	int passed = 0, failed = 0, n = 0;
	for (int i = 0; i < ntests; i++) {
		if (argc > 1 && !strstr(tests[i].name, argv[1]) && !strstr(tests[i].file, argv[1])) continue;
		n++;
		snprintf(current_dir, sizeof current_dir, "%s/vzunit.XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(current_dir)) { perror("mkdtemp"); return 70; }
		fflush(NULL);
		pid_t pid = fork();
		if (pid == 0) {
			if (chdir(current_dir) != 0) _exit(2);
			unsetenv("VZ_FAULT");
			tests[i].fn();
			fflush(NULL);
			_exit(0);
		}
		int st = 0;
		waitpid(pid, &st, 0);
		bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
		if (ok) { passed++; printf("ok %d %s\n", n, tests[i].name); }
		else {
			failed++;
			if (WIFSIGNALED(st)) printf("not ok %d %s (killed by signal %d)\n", n, tests[i].name, WTERMSIG(st));
			else printf("not ok %d %s\n", n, tests[i].name);
		}
		fflush(stdout);
		char rm[4200];
		snprintf(rm, sizeof rm, "rm -rf '%s'", current_dir);
		if (system(rm) != 0) fprintf(stderr, "warning: could not remove %s\n", current_dir);
	}
	printf("unit: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}

vz_collection *t_create_open(const char *name, uint32_t dim, enum vz_metric metric, enum vz_quant quant)
{
	vz_config cfg;
	vz_config_defaults(&cfg);
	cfg.dim = dim;
	cfg.metric = metric;
	cfg.quantization = quant;
	cfg.checkpoint_ops = 1000000;
	CHECK(t_sh("mkdir -p data") == 0);
	CHECK_OK(vz_collection_create("data", name, &cfg));
	char dir[256];
	snprintf(dir, sizeof dir, "data/dynamic/%s", name);
	vz_collection *c;
	CHECK_OK(vz_collection_open(dir, VZ_OPEN_WRITE, 1000, &c));
	return c;
}

int t_fork_faulted(const char *spec, int pipe_fd[2])
{
	if (pipe(pipe_fd) != 0) t_fail(__FILE__, __LINE__, "pipe");
	pid_t pid = fork();
	if (pid < 0) t_fail(__FILE__, __LINE__, "fork");
	if (pid == 0) {
		close(pipe_fd[0]);
		if (spec) setenv("VZ_FAULT", spec, 1);
		else unsetenv("VZ_FAULT");
		vz_io_fault_reload();
		return 0;
	}
	close(pipe_fd[1]);
	return (int)pid;
}
