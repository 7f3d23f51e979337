/* t.h: a small unit-test framework. Each TEST runs in its own forked child with a fresh
 * temporary directory as its working directory, so a crash, an exit or an injected fault in one
 * test cannot affect another. CHECK failures print file:line and the expression, then exit. */
#ifndef VZ_T_H
#define VZ_T_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../lib/vz.h"

typedef void (*t_fn)(void);
void t_register(const char *name, t_fn fn, const char *file);
void t_fail(const char *file, int line, const char *fmt, ...) __attribute__((noreturn, format(printf, 3, 4)));
/* The test's own temporary directory (also the current directory while it runs). */
const char *t_dir(void);
/* Runs a shell command (sh -c) and returns its exit status, or 128+signal. */
int t_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Reads a whole file into a malloc'd buffer (NULL if missing); *len set when not NULL. */
char *t_slurp(const char *path, size_t *len);
/* Writes a whole file (plain libc, outside the I/O layer: test setup only). */
void t_write(const char *path, const void *data, size_t len);
/* Forks a child that runs with the I/O layer's faults armed from VZ_FAULT=SPEC (none when NULL)
 * and a pipe to the parent: returns 0 in the child (which writes to pipe_fd[1]) and the child's
 * pid in the parent (which reads pipe_fd[0]); each side's other end is closed. */
int t_fork_faulted(const char *spec, int pipe_fd[2]);
/* Creates collection NAME in ./data (dimension DIM, METRIC, QUANT; checkpoint_ops 1,000,000 so
 * that nothing checkpoints unless the test asks) and opens it for writing. */
vz_collection *t_create_open(const char *name, uint32_t dim, enum vz_metric metric, enum vz_quant quant);

#define TEST(name)                                                                       \
	static void test_##name(void);                                                   \
	__attribute__((constructor)) static void register_##name(void)                   \
	{                                                                                \
		t_register(#name, test_##name, __FILE__);                                \
	}                                                                                \
	static void test_##name(void)

#define CHECK(cond)                                                                      \
	do {                                                                             \
		if (!(cond)) t_fail(__FILE__, __LINE__, "%s", #cond);                    \
	} while (0)
#define CHECK_INT(a, b)                                                                  \
	do {                                                                             \
		long long a_ = (long long)(a), b_ = (long long)(b);                      \
		if (a_ != b_) t_fail(__FILE__, __LINE__, "%s == %s: got %lld, want %lld (%s)", #a, #b, a_, b_, vz_last_error()); \
	} while (0)
#define CHECK_STR(a, b)                                                                  \
	do {                                                                             \
		const char *a_ = (a), *b_ = (b);                                         \
		if (!a_ || !b_ || strcmp(a_, b_)) t_fail(__FILE__, __LINE__, "%s == %s: got '%s', want '%s'", #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); \
	} while (0)
#define CHECK_OK(expr)                                                                   \
	do {                                                                             \
		int rc_ = (expr);                                                        \
		if (rc_ != 0) t_fail(__FILE__, __LINE__, "%s: %s: %s", #expr, vz_strerror(rc_), vz_last_error()); \
	} while (0)

#endif
