/* test_durability.c: the collection is always exactly the state before or after a command.
 * Each command is run in a child process with VZ_FAULT making its Nth I/O call crash (SIGKILL)
 * or fail (EIO, ENOSPC), for every N; the parent then opens (and recovers when needed) and
 * compares the contents with an oracle, and verify must pass. */
#include "t.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DIM 8
#define DATA "data"
#define COLL "data/dynamic/c"

/* ---- helpers ---- */

static void make_vec(int seed, float *v)
{
	for (int i = 0; i < DIM; i++) v[i] = (float)sin(seed * 7.3 + i * 1.7) + (i == seed % DIM ? 2.0f : 0.0f);
}

static int insert_range(vz_collection *c, int from, int to, const char *prefix, enum vz_write_op op, unsigned flags)
{
	int n = to - from;
	vz_write *w = calloc((size_t)n, sizeof *w);
	float *vecs = calloc((size_t)n * DIM, sizeof(float));
	char (*ids)[32] = calloc((size_t)n, 32);
	char (*pl)[32] = calloc((size_t)n, 32);
	for (int i = 0; i < n; i++) {
		snprintf(ids[i], 32, "%s%d", prefix, from + i);
		snprintf(pl[i], 32, "{\"n\":%d}", from + i);
		make_vec(from + i + (op == VZ_WRITE_UPDATE ? 1000 : 0), vecs + i * DIM);
		w[i] = (vz_write){ op, ids[i], strlen(ids[i]), vecs + i * DIM, DIM, pl[i], strlen(pl[i]), (size_t)i + 1 };
	}
	int rc = vz_collection_write(c, w, (size_t)n, flags, 1, NULL);
	free(w);
	free(vecs);
	free(ids);
	free(pl);
	return rc;
}

struct sig { uint64_t h; uint64_t n; };

static int sig_row(void *ctx, const vz_result *r, const float *v)
{
	struct sig *s = ctx;
	/* order-independent: sum of per-row hashes */
	uint64_t h = vz_hash64(r->id, r->id_len);
	h ^= vz_hash64_seeded(v, DIM * sizeof(float), h);
	if (r->payload) h ^= vz_hash64_seeded(r->payload, r->payload_len, h + 1);
	s->h += h;
	s->n++;
	return 0;
}

/* The logical contents of collection c: (0,0) when it does not exist. */
static struct sig state_of(const char *dir)
{
	struct sig s = { 0, 0 };
	vz_collection *c;
	int rc = vz_collection_open(dir, VZ_OPEN_WRITE, 1000, &c);
	if (rc == VZ_ENOENT) return s;
	if (rc) {
		vz_recover_report rep;
		rc = vz_collection_recover(dir, VZ_RECOVER_POINT_IN_TIME, false, 1, 1000, &rep);
		if (rc == VZ_ENOENT) return s;
		if (rc) t_fail(__FILE__, __LINE__, "recover after the fault failed: %s", vz_last_error());
		if ((rc = vz_collection_open(dir, VZ_OPEN_READ, 1000, &c))) t_fail(__FILE__, __LINE__, "open after recover: %s", vz_last_error());
	}
	s.h = 1;
	vz_collection_foreach(c, sig_row, &s);
	vz_collection_close(c);
	return s;
}

static void no_problem(void *ctx, const char *file, int64_t off, const char *what)
{
	(void)ctx;
	t_fail(__FILE__, __LINE__, "verify: %s: offset %lld: %s", file, (long long)off, what);
}

static void verify_clean(const char *dir)
{
	struct stat st;
	if (stat(dir, &st) != 0) return;
	int problems;
	CHECK_OK(vz_collection_verify(dir, false, 1000, no_problem, NULL, &problems));
	CHECK_INT(problems, 0);
}

/* A reader opens every state a fault leaves, before any writer has finished or undone what
 * was interrupted (a checkpoint cut between its commit and its renames, for one). */
static void read_open_ok(const char *dir, const char *what)
{
	vz_collection *c;
	int rc = vz_collection_open(dir, VZ_OPEN_READ, 1000, &c);
	if (rc == VZ_ENOENT) return;
	if (rc) t_fail(__FILE__, __LINE__, "%s: a reader cannot open what the fault left: %s", what, vz_last_error());
	vz_collection_close(c);
}

typedef int (*op_fn)(void);

/* Runs op in a child under VZ_FAULT=spec; returns the child's status: 0 ok, 1 op failed,
 * 137 killed. *calls gets the number of I/O calls when the child finished. */
static int run_child(op_fn op, const char *spec, uint64_t *calls, int *err)
{
	int pfd[2];
	pid_t pid = t_fork_faulted(spec, pfd);
	if (pid == 0) {
		int rc = op();
		uint64_t info[2] = { vz_io_calls(), (uint64_t)(int64_t)rc };
		if (write(pfd[1], info, sizeof info) != sizeof info) _exit(3);
		_exit(rc ? 1 : 0);
	}
	uint64_t info[2] = { 0, 0 };
	ssize_t got = read(pfd[0], info, sizeof info);
	close(pfd[0]);
	int st;
	waitpid(pid, &st, 0);
	if (calls) *calls = got == sizeof info ? info[0] : 0;
	if (err) *err = got == sizeof info ? (int)(int64_t)info[1] : 0;
	if (WIFSIGNALED(st)) return 128 + WTERMSIG(st);
	return WEXITSTATUS(st);
}

static void restore_template(void)
{
	CHECK(t_sh("rm -rf " DATA " && cp -a template " DATA) == 0);
}

/* Runs op with every fault kind at every I/O call, checking before/after each time. */
static void exercise(op_fn setup, op_fn op, const char *name)
{
	CHECK(t_sh("rm -rf " DATA " template") == 0);
	if (setup) CHECK_INT(run_child(setup, NULL, NULL, NULL), 0);
	CHECK(t_sh("mkdir -p " DATA " && cp -a " DATA " template") == 0);
	struct sig before = state_of(COLL);
	restore_template();
	uint64_t calls;
	int err;
	CHECK_INT(run_child(op, NULL, &calls, &err), 0);
	struct sig after = state_of(COLL);
	verify_clean(COLL);
	if (calls == 0) t_fail(__FILE__, __LINE__, "%s made no I/O call", name);
	const char *kinds[] = { "crash", "torn", "EIO", "ENOSPC" };
	for (int k = 0; k < 4; k++) {
		for (uint64_t n = 1; n <= calls; n++) {
			restore_template();
			char spec[64];
			snprintf(spec, sizeof spec, "%llu:%s", (unsigned long long)n, kinds[k]);
			int st = run_child(op, spec, NULL, &err);
			read_open_ok(COLL, spec);
			if (k < 2 && st != 137) t_fail(__FILE__, __LINE__, "%s %s: not killed (status %d)", name, spec, st);
			if (k >= 2 && st == 1 && err != VZ_EIO)
				t_fail(__FILE__, __LINE__, "%s %s: failed with %s, want an I/O error", name, spec, vz_strerror(err));
			struct sig now = state_of(COLL);
			bool is_before = now.h == before.h && now.n == before.n, is_after = now.h == after.h && now.n == after.n;
			if (!is_before && !is_after)
				t_fail(__FILE__, __LINE__, "%s %s: state is neither before (%llu rows) nor after (%llu rows): %llu rows",
				       name, spec, (unsigned long long)before.n, (unsigned long long)after.n, (unsigned long long)now.n);
			/* a reported failure is never a change; a success is always the whole change */
			if (k >= 2 && st == 1 && !is_before) t_fail(__FILE__, __LINE__, "%s %s: failed, but the change is visible", name, spec);
			if (st == 0 && !is_after) t_fail(__FILE__, __LINE__, "%s %s: succeeded, but the change is missing", name, spec);
			verify_clean(COLL);
		}
	}
}

/* ---- the commands ---- */

static vz_config small_config(void)
{
	vz_config cfg;
	vz_config_defaults(&cfg);
	cfg.dim = DIM;
	cfg.metric = VZ_METRIC_EUCLIDEAN;
	cfg.checkpoint_ops = 1000000;
	return cfg;
}

static int op_create(void)
{
	vz_config cfg = small_config();
	return vz_collection_create(DATA, "c", &cfg);
}

static int with_write(int (*fn)(vz_collection *))
{
	vz_collection *c;
	int rc = vz_collection_open(COLL, VZ_OPEN_WRITE, 1000, &c);
	if (rc) return rc;
	rc = fn(c);
	vz_collection_close(c);
	return rc;
}

static int do_seed(vz_collection *c)
{
	int rc = insert_range(c, 0, 30, "a", VZ_WRITE_INSERT, 0);
	if (!rc) rc = vz_collection_checkpoint(c, 1, false);
	if (!rc) rc = insert_range(c, 30, 40, "a", VZ_WRITE_INSERT, 0); /* some rows only in the WAL */
	return rc;
}
static int setup_seeded(void)
{
	int rc = op_create();
	return rc ? rc : with_write(do_seed);
}

static int do_insert(vz_collection *c) { return insert_range(c, 100, 120, "b", VZ_WRITE_INSERT, 0); }
static int op_insert(void) { return with_write(do_insert); }
static int do_update(vz_collection *c) { return insert_range(c, 5, 15, "a", VZ_WRITE_UPDATE, 0); }
static int op_update(void) { return with_write(do_update); }
static int do_delete(vz_collection *c) { return insert_range(c, 20, 35, "a", VZ_WRITE_DELETE, 0); }
static int op_delete(void) { return with_write(do_delete); }
static int do_apply(vz_collection *c)
{
	float v[DIM];
	make_vec(77, v);
	vz_write w[4] = {
		{ VZ_WRITE_INSERT, "new1", 4, v, DIM, NULL, 0, 1 },
		{ VZ_WRITE_UPDATE, "a3", 2, v, DIM, "{\"u\":1}", 7, 2 },
		{ VZ_WRITE_DELETE, "a4", 2, NULL, 0, NULL, 0, 3 },
		{ VZ_WRITE_UPSERT, "a36", 3, v, DIM, NULL, 0, 4 },
	};
	return vz_collection_write(c, w, 4, 0, 1, NULL);
}
static int op_apply(void) { return with_write(do_apply); }
static int do_checkpoint(vz_collection *c) { return vz_collection_checkpoint(c, 1, false); }
static int op_checkpoint(void) { return with_write(do_checkpoint); }
static int do_bulk(vz_collection *c) { return insert_range(c, 200, 260, "bulk", VZ_WRITE_INSERT, VZ_WRITE_BULK); }
static int op_bulk(void) { return with_write(do_bulk); }
/* a bulk load of new rows into an empty collection indexes the caller's batch in place */
static int op_bulk_fresh(void) { return with_write(do_bulk); }
static int do_bulk_upsert(vz_collection *c) { return insert_range(c, 25, 45, "a", VZ_WRITE_UPSERT, VZ_WRITE_BULK); }
static int op_bulk_upsert(void) { return with_write(do_bulk_upsert); }
static int op_drop(void)
{
	vz_collection *c;
	int rc = vz_collection_open(COLL, VZ_OPEN_WRITE, 1000, &c);
	return rc ? rc : vz_collection_drop(c);
}
static int do_auto(vz_collection *c)
{
	/* crosses the automatic checkpoint threshold: write then checkpoint in one command */
	c = c;
	return insert_range(c, 300, 310, "auto", VZ_WRITE_INSERT, 0);
}
static int setup_auto(void)
{
	vz_config cfg = small_config();
	cfg.checkpoint_ops = 25;
	int rc = vz_collection_create(DATA, "c", &cfg);
	if (rc) return rc;
	vz_collection *c;
	if ((rc = vz_collection_open(COLL, VZ_OPEN_WRITE, 1000, &c))) return rc;
	rc = insert_range(c, 0, 20, "a", VZ_WRITE_INSERT, 0);
	vz_collection_close(c);
	return rc;
}
static int op_auto(void) { return with_write(do_auto); }

TEST(crash_and_io_errors_at_every_call_of_create) { exercise(NULL, op_create, "create"); }
TEST(crash_and_io_errors_at_every_call_of_insert) { exercise(setup_seeded, op_insert, "insert"); }
TEST(crash_and_io_errors_at_every_call_of_update) { exercise(setup_seeded, op_update, "update"); }
TEST(crash_and_io_errors_at_every_call_of_delete) { exercise(setup_seeded, op_delete, "delete"); }
TEST(crash_and_io_errors_at_every_call_of_apply) { exercise(setup_seeded, op_apply, "apply"); }
TEST(crash_and_io_errors_at_every_call_of_checkpoint) { exercise(setup_seeded, op_checkpoint, "checkpoint"); }
TEST(crash_and_io_errors_at_every_call_of_bulk_insert) { exercise(setup_seeded, op_bulk, "bulk insert"); }
TEST(crash_and_io_errors_at_every_call_of_bulk_insert_into_an_empty_collection) { exercise(op_create, op_bulk_fresh, "bulk insert (empty)"); }
TEST(crash_and_io_errors_at_every_call_of_bulk_upsert) { exercise(setup_seeded, op_bulk_upsert, "bulk upsert"); }
TEST(crash_and_io_errors_at_every_call_of_drop) { exercise(setup_seeded, op_drop, "drop"); }
TEST(crash_and_io_errors_at_every_call_of_insert_with_auto_checkpoint) { exercise(setup_auto, op_auto, "insert+auto checkpoint"); }

/* ---- checkpoints that stop no one ---- */

static int op_detached_checkpoint(void) { return vz_checkpoint_dir(COLL, 0, 1, 1000, NULL); }
TEST(crash_and_io_errors_at_every_call_of_a_detached_checkpoint) { exercise(setup_seeded, op_detached_checkpoint, "detached checkpoint"); }

static int do_one_more(vz_collection *c) { return insert_range(c, 500, 501, "during", VZ_WRITE_INSERT, 0); }
static int do_update_during(vz_collection *c) { return insert_range(c, 2, 4, "a", VZ_WRITE_UPDATE, 0); }

/* A detached checkpoint stopped before each of its I/O calls in turn; while it is stopped, a
 * writer inserts one row and updates two in two transactions. Every write that is not refused
 * as busy (the switch holds the lock) must be in the result, whether it landed in the snapshot,
 * between the snapshot and the switch (carried into the new WAL) or after; the checkpoint
 * itself must succeed; verify must be clean. The writer is refused only while the switch
 * runs, i.e. for a run of the last calls, never during the build. */
TEST(writes_during_a_detached_checkpoint_at_every_call_are_kept)
{
	CHECK(t_sh("rm -rf " DATA " template") == 0);
	CHECK_INT(run_child(setup_seeded, NULL, NULL, NULL), 0);
	CHECK(t_sh("cp -a " DATA " template") == 0);
	uint64_t calls;
	setenv("VZ_IO_TRACE", "trace", 1);
	CHECK_INT(run_child(op_detached_checkpoint, NULL, &calls, NULL), 0);
	unsetenv("VZ_IO_TRACE");
	CHECK(calls > 5);
	/* the oracle: the seeded state plus both writes, made without any checkpoint */
	restore_template();
	CHECK_INT(with_write(do_one_more), 0);
	CHECK_INT(with_write(do_update_during), 0);
	struct sig with_writes = state_of(COLL);
	restore_template();
	struct sig without = state_of(COLL);
	uint64_t first_busy = 0, last_busy = 0, busy = 0;
	for (uint64_t n = 1; n <= calls; n++) {
		restore_template();
		char spec[64];
		snprintf(spec, sizeof spec, "%llu:stop", (unsigned long long)n);
		pid_t pid = fork();
		if (pid == 0) {
			setenv("VZ_FAULT", spec, 1);
			vz_io_fault_reload();
			_exit(op_detached_checkpoint() ? 1 : 0);
		}
		int st;
		CHECK(waitpid(pid, &st, WUNTRACED) == pid && WIFSTOPPED(st));
		vz_collection *c;
		int rc = vz_collection_open(COLL, VZ_OPEN_WRITE, 50, &c);
		if (rc == VZ_OK) {
			CHECK_INT(do_one_more(c), 0);
			CHECK_INT(do_update_during(c), 0);
			vz_collection_close(c);
		} else {
			CHECK_INT(rc, VZ_EBUSY);
			if (!busy) first_busy = n;
			last_busy = n;
			busy++;
		}
		kill(pid, SIGCONT);
		CHECK(waitpid(pid, &st, 0) == pid);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
			t_fail(__FILE__, __LINE__, "checkpoint stopped at call %llu: status %d", (unsigned long long)n, st);
		struct sig now = state_of(COLL);
		struct sig want = rc == VZ_OK ? with_writes : without;
		if (now.h != want.h || now.n != want.n)
			t_fail(__FILE__, __LINE__, "write while the checkpoint was stopped at call %llu (%s): %llu rows, want %llu",
			       (unsigned long long)n, rc ? "refused" : "done", (unsigned long long)now.n, (unsigned long long)want.n);
		verify_clean(COLL);
	}
	/* refused only inside the switch: one run at the end, and never for most of the calls */
	if (busy) CHECK_INT(last_busy - first_busy + 1, busy);
	{
		/* the switch's first call: moving the staged vectors.bin.new into place */
		FILE *f = fopen("trace", "r");
		char line[8192];
		uint64_t at = 0;
		while (f && fgets(line, sizeof line, f))
			if (strstr(line, " rename ") && strstr(line, ".vztmp.checkpoint/vectors.bin.new")) { at = strtoull(line, NULL, 10); break; }
		if (f) fclose(f);
		if (!at) t_fail(__FILE__, __LINE__, "the trace shows no move of the staged vectors.bin.new");
		if (busy && first_busy <= at) t_fail(__FILE__, __LINE__, "a writer was refused at call %llu, before the switch (call %llu)",
					    (unsigned long long)first_busy, (unsigned long long)at);
	}
}
