/* test_powercut.c: vz's fsync discipline is complete. A sequence of writing commands runs in a
 * child under VZ_FAULT=N:powercut (and N:garble) for every I/O call N of the sequence: at the cut
 * the I/O layer throws away what a power cut would (writes not fsynced, directory changes whose
 * directory was not fsynced). The parent then checks against an oracle, the state after each
 * command run without faults: every acknowledged command is there, the one cut is all or
 * nothing, and verify is clean. */
#include "t.h"

#include <fcntl.h>
#include <math.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define DIM 8
#define DATA "data"
#define COLL "data/dynamic/c"
#define MAX_STEPS 12

typedef int (*step_fn)(void);

/* ---- the oracle: the logical contents of a collection ---- */

struct sig { uint64_t h, n; };

static int sig_row(void *ctx, const vz_result *r, const float *v)
{
	struct sig *s = ctx;
	uint64_t h = vz_hash64(r->id, r->id_len);
	h ^= vz_hash64_seeded(v, DIM * sizeof(float), h);
	if (r->payload) h ^= vz_hash64_seeded(r->payload, r->payload_len, h + 1);
	s->h += h; /* order-independent */
	s->n++;
	return 0;
}

static void no_problem(void *ctx, const char *file, int64_t off, const char *what)
{
	t_fail(__FILE__, __LINE__, "%s: verify: %s: offset %lld: %s", (const char *)ctx, file, (long long)off, what);
}

/* Contents of the collection at dir ((0,0) when it does not exist or was dropped) after opening
 * it for writing, as the next command would (that recovers the WAL: a torn tail is cut), and
 * verify is clean then. */
static struct sig state_of(const char *dir, const char *what)
{
	struct sig s = { 0, 0 };
	struct stat st;
	if (stat(dir, &st) != 0) return s;
	vz_collection *c;
	int rc = vz_collection_open(dir, VZ_OPEN_WRITE, 1000, &c);
	if (rc == VZ_ENOENT) return s;
	if (rc) t_fail(__FILE__, __LINE__, "%s: open %s: %s", what, dir, vz_last_error());
	s.h = 1;
	vz_collection_foreach(c, sig_row, &s);
	vz_collection_close(c);
	int problems;
	if ((rc = vz_collection_verify(dir, false, 1000, no_problem, (void *)what, &problems)))
		t_fail(__FILE__, __LINE__, "%s: verify %s: %s", what, dir, vz_last_error());
	return s;
}

/* ---- running a sequence ---- */

/* Runs steps[0..n) in a child (under VZ_FAULT=spec when not NULL). Returns how many were
 * acknowledged (succeeded); *killed says whether the child was killed, *calls (may be NULL)
 * gets the child's I/O calls when it ran to the end. */
static int run_steps(const step_fn *steps, int n, const char *spec, bool *killed, uint64_t *calls)
{
	int pfd[2];
	pid_t pid = t_fork_faulted(spec, pfd);
	if (pid == 0) {
		for (int i = 0; i < n; i++) {
			if (steps[i]()) {
				fprintf(stderr, "step %d: %s\n", i + 1, vz_last_error());
				_exit(1);
			}
			char ack = 1; /* the acknowledgement, as a command's exit status would be */
			if (write(pfd[1], &ack, 1) != 1) _exit(3);
		}
		uint64_t k = vz_io_calls();
		if (write(pfd[1], &k, sizeof k) != sizeof k) _exit(3);
		_exit(0);
	}
	unsigned char buf[MAX_STEPS + 8];
	size_t got = 0;
	ssize_t r;
	while ((r = read(pfd[0], buf + got, sizeof buf - got)) > 0) got += (size_t)r;
	close(pfd[0]);
	int st;
	waitpid(pid, &st, 0);
	*killed = WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
	if (!*killed && (!WIFEXITED(st) || WEXITSTATUS(st) != 0))
		t_fail(__FILE__, __LINE__, "under %s a step failed (status %d)", spec ? spec : "no fault", st);
	int acked = got > (size_t)n ? n : (int)got;
	if (calls) {
		*calls = 0;
		if (got == (size_t)n + sizeof *calls) memcpy(calls, buf + n, sizeof *calls);
	}
	return acked;
}

/* Back to the state before the sequence: the data directory of the template, nothing else. */
static void from_template(void)
{
	CHECK(t_sh("find . -mindepth 1 -maxdepth 1 ! -name template -exec rm -rf {} + && cp -a template " DATA) == 0);
}

typedef void (*extra_check)(int acked, const char *what);

/* Cuts the sequence at every I/O call, in both variants; dir is the collection compared with
 * the oracle, check (may be NULL) looks at anything else after each cut. */
static void cut_everywhere(step_fn setup, const step_fn *steps, int n, const char *dir, extra_check check)
{
	CHECK(t_sh("rm -rf " DATA " template && mkdir " DATA) == 0);
	bool killed;
	if (setup) CHECK_INT(run_steps(&setup, 1, NULL, &killed, NULL), 1);
	CHECK(t_sh("cp -a " DATA " template") == 0);
	struct sig want[MAX_STEPS + 1];
	uint64_t calls = 0;
	for (int k = 0; k <= n; k++) {
		from_template();
		CHECK_INT(run_steps(steps, k, NULL, &killed, &calls), k);
		want[k] = state_of(dir, "oracle");
	}
	CHECK(calls > 0);
	const char *kinds[] = { "powercut", "garble" };
	for (int v = 0; v < 2; v++) {
		for (uint64_t i = 1; i <= calls; i++) {
			from_template();
			char spec[64];
			snprintf(spec, sizeof spec, "%llu:%s", (unsigned long long)i, kinds[v]);
			int acked = run_steps(steps, n, spec, &killed, NULL);
			if (!killed) t_fail(__FILE__, __LINE__, "%s: not cut", spec);
			struct sig now = state_of(dir, spec);
			bool ok = (now.h == want[acked].h && now.n == want[acked].n) ||
				  (acked < n && now.h == want[acked + 1].h && now.n == want[acked + 1].n);
			if (!ok)
				t_fail(__FILE__, __LINE__, "%s: after %d acknowledged steps, %llu rows: neither step %d (%llu rows) nor step %d",
				       spec, acked, (unsigned long long)now.n, acked, (unsigned long long)want[acked].n, acked + 1);
			if (check) check(acked, spec);
		}
	}
}

/* ---- the commands ---- */

static void make_vec(int seed, float *v)
{
	for (int i = 0; i < DIM; i++) v[i] = (float)sin(seed * 7.3 + i * 1.7) + (i == seed % DIM ? 2.0f : 0.0f);
}

static int write_range(int from, int to, enum vz_write_op op, unsigned flags)
{
	vz_collection *c;
	int rc = vz_collection_open(COLL, VZ_OPEN_WRITE, 1000, &c);
	if (rc) return rc;
	int n = to - from;
	vz_write w[64];
	float vecs[64 * DIM];
	char ids[64][16], pl[64][32];
	for (int i = 0; i < n && i < 64; i++) {
		snprintf(ids[i], sizeof ids[i], "r%d", from + i);
		snprintf(pl[i], sizeof pl[i], "{\"n\":%d}", from + i);
		make_vec(from + i + (op == VZ_WRITE_UPSERT ? 500 : 0), vecs + i * DIM);
		w[i] = (vz_write){ op, ids[i], strlen(ids[i]), vecs + i * DIM, DIM, pl[i], strlen(pl[i]), (size_t)i + 1 };
	}
	rc = vz_collection_write(c, w, (size_t)n, flags, 1, NULL);
	vz_collection_close(c);
	return rc;
}

static vz_config config(uint64_t checkpoint_ops)
{
	vz_config cfg;
	vz_config_defaults(&cfg);
	cfg.dim = DIM;
	cfg.metric = VZ_METRIC_EUCLIDEAN;
	cfg.checkpoint_ops = checkpoint_ops;
	return cfg;
}

static int op_create(void)
{
	vz_config cfg = config(1000000);
	return vz_collection_create(DATA, "c", &cfg);
}
static int op_create_auto(void)
{
	vz_config cfg = config(12);
	return vz_collection_create(DATA, "c", &cfg);
}
static int op_insert(void) { return write_range(0, 10, VZ_WRITE_INSERT, 0); }
static int op_insert_more(void) { return write_range(10, 16, VZ_WRITE_INSERT, 0); }
static int op_bulk(void) { return write_range(30, 50, VZ_WRITE_INSERT, VZ_WRITE_BULK); }
static int op_apply(void)
{
	vz_collection *c;
	int rc = vz_collection_open(COLL, VZ_OPEN_WRITE, 1000, &c);
	if (rc) return rc;
	float v[DIM];
	make_vec(77, v);
	vz_write w[4] = {
		{ VZ_WRITE_INSERT, "new1", 4, v, DIM, NULL, 0, 1 },
		{ VZ_WRITE_UPDATE, "r3", 2, v, DIM, "{\"u\":1}", 7, 2 },
		{ VZ_WRITE_DELETE, "r4", 2, NULL, 0, NULL, 0, 3 },
		{ VZ_WRITE_UPSERT, "r2", 2, v, DIM, NULL, 0, 4 },
	};
	rc = vz_collection_write(c, w, 4, 0, 1, NULL);
	vz_collection_close(c);
	return rc;
}
static int op_checkpoint(void)
{
	vz_collection *c;
	int rc = vz_collection_open(COLL, VZ_OPEN_WRITE, 1000, &c);
	if (rc) return rc;
	rc = vz_collection_checkpoint(c, 1, false);
	vz_collection_close(c);
	return rc;
}
static int op_drop(void)
{
	vz_collection *c;
	int rc = vz_collection_open(COLL, VZ_OPEN_WRITE, 1000, &c);
	return rc ? rc : vz_collection_drop(c);
}

TEST(powercut_at_every_call_of_create_insert_apply_checkpoint_insert_drop)
{
	const step_fn steps[] = { op_create, op_insert, op_apply, op_checkpoint, op_insert_more, op_drop };
	cut_everywhere(NULL, steps, 6, COLL, NULL);
}

/* the checkpoint `vz checkpoint` and the automatic one run: built in .vztmp.checkpoint without
 * the collection's lock, switched in under it */
static int op_detached_checkpoint(void) { return vz_checkpoint_dir(COLL, 0, 1, 1000, NULL); }

TEST(powercut_at_every_call_of_inserts_and_detached_checkpoints)
{
	const step_fn steps[] = { op_insert, op_detached_checkpoint, op_insert_more, op_apply, op_detached_checkpoint };
	cut_everywhere(op_create, steps, 5, COLL, NULL);
}

TEST(powercut_at_every_call_of_inserts_crossing_the_automatic_checkpoint_and_a_bulk_insert)
{
	const step_fn steps[] = { op_insert, op_insert_more, op_bulk };
	cut_everywhere(op_create_auto, steps, 3, COLL, NULL);
}

/* incremental checkpoints write segments beside a base of 40 rows (vectors.bin and index.hnsw
 * untouched), then a forced one folds them into a new base (compaction) */
static int op_create_base(void)
{
	int rc = op_create();
	return rc ? rc : write_range(0, 40, VZ_WRITE_INSERT, VZ_WRITE_BULK);
}
static int op_upsert(void) { return write_range(2, 5, VZ_WRITE_UPSERT, 0); }
static int op_compact(void) { return vz_checkpoint_dir(COLL, VZ_CHECKPOINT_FORCE, 1, 1000, NULL); }

static void segments_as_expected(int acked, const char *what)
{
	/* after the first checkpoint (and until the compaction, which may be the step cut) the base is
	 * still generation 1's, with segments beside it */
	if (acked < 2 || acked > 3) return;
	char *m = t_slurp(COLL "/metadata.json", NULL);
	if (!m || !strstr(m, "\"base_generation\": 1,") || !strstr(m, "\"segments\": ["))
		t_fail(__FILE__, __LINE__, "%s: after %d steps metadata.json lists no segments beside the first base:\n%s", what, acked, m ? m : "(none)");
	free(m);
}

TEST(powercut_at_every_call_of_incremental_checkpoints_and_a_compaction)
{
	const step_fn steps[] = { op_apply, op_detached_checkpoint, op_upsert, op_detached_checkpoint, op_compact };
	cut_everywhere(op_create_base, steps, 5, COLL, segments_as_expected);
	/* and at the end the segments are folded: only the base is left */
	CHECK(access(COLL "/seg-2.vec", F_OK) != 0);
	CHECK(access(COLL "/seg-3.hnsw", F_OK) != 0);
}

/* a bulk load acknowledged before its index (VZ_WRITE_DEFER_INDEX): a segment without a graph,
 * into an empty collection, then beside a base; the detached checkpoint then builds the index */
static int op_bulk_deferred(void) { return write_range(0, 30, VZ_WRITE_INSERT, VZ_WRITE_BULK | VZ_WRITE_DEFER_INDEX | VZ_WRITE_NO_AUTO_CHECKPOINT); }
static int op_bulk_deferred_more(void) { return write_range(40, 60, VZ_WRITE_INSERT, VZ_WRITE_BULK | VZ_WRITE_DEFER_INDEX | VZ_WRITE_NO_AUTO_CHECKPOINT); }

static void deferred_as_expected(int acked, const char *what)
{
	/* after each deferred load a segment without a graph holds its rows (or, when the cut was
	 * in the checkpoint after it past its commit, a base with its index and no segment); after
	 * the last checkpoint only a base with its index */
	char *m = t_slurp(COLL "/metadata.json", NULL);
	const char *seg = m ? strstr(m, "\"segments\": [") : NULL;
	bool flat = seg && !strstr(seg, "\"index\""), indexed = !seg && access(COLL "/index.hnsw", F_OK) == 0;
	/* the checkpoint after the load is generation 2 (4): a base of the load's own generation
	 * would be an index built before the acknowledgement */
	char gen[32];
	snprintf(gen, sizeof gen, "\"generation\": %d,", acked + 1);
	if (indexed && (acked == 1 || acked == 3) && !strstr(m, gen)) indexed = false;
	if (((acked == 1 || acked == 3) && !flat && !indexed) || (acked == 4 && !indexed))
		t_fail(__FILE__, __LINE__, "%s: after %d steps neither a segment without an index nor an indexed base:\n%s", what, acked, m ? m : "(none)");
	free(m);
}

TEST(powercut_at_every_call_of_bulk_loads_acknowledged_before_their_index_and_the_checkpoints_that_index_them)
{
	const step_fn steps[] = { op_bulk_deferred, op_detached_checkpoint, op_bulk_deferred_more, op_detached_checkpoint };
	cut_everywhere(op_create, steps, 4, COLL, deferred_as_expected);
}

/* ---- backup and restore ---- */

static int op_seed(void)
{
	int rc = op_create();
	if (!rc) rc = op_insert();
	if (!rc) rc = op_checkpoint();
	if (!rc) rc = op_insert_more(); /* some rows only in the WAL */
	return rc;
}

static vz_backup_options backup_options(void)
{
	vz_backup_options o;
	vz_backup_options_default(&o);
	o.level = 1;
	o.lock_timeout_ms = 1000;
	return o;
}

static const char *const names[] = { "c" };

static int op_backup_file(void)
{
	vz_backup_options o = backup_options();
	return vz_backup_write_file(DATA, names, 1, &o, "bk.tar.zst", NULL);
}
static int op_backup_dir(void)
{
	vz_backup_options o = backup_options();
	return vz_backup_write_dir(DATA, names, 1, &o, "bkd", NULL, 2, NULL, 0, NULL);
}
static int op_restore_new(void)
{
	return vz_backup_restore("r", "bk.tar.zst", NULL, 0, NULL, 0, NULL, 1000, NULL, NULL, NULL);
}
static int op_restore_force(void)
{
	return vz_backup_restore(DATA, "bk.tar.zst", NULL, 0, NULL, VZ_RESTORE_FORCE, NULL, 1000, NULL, NULL, NULL);
}

/* Every backup file present verifies whole; an acknowledged one is present; a restore into r
 * has all of c or nothing (the restore is step 3), and all of it once acknowledged. */
static void backups_whole(int acked, const char *what)
{
	const char *files[] = { "bk.tar.zst", NULL };
	for (int i = 0; files[i]; i++) {
		if (access(files[i], F_OK) != 0) {
			if (acked >= 1) t_fail(__FILE__, __LINE__, "%s: acknowledged backup %s is missing", what, files[i]);
			continue;
		}
		int problems;
		if (vz_backup_verify(files[i], false, NULL, NULL, &problems, NULL) || problems)
			t_fail(__FILE__, __LINE__, "%s: backup %s does not verify: %s", what, files[i], vz_last_error());
	}
	if (t_sh("ls bkd/*.tar.zst >/dev/null 2>&1") == 0) {
		int problems;
		if (t_sh("for f in bkd/*.tar.zst; do echo $f; done > list.txt") != 0) t_fail(__FILE__, __LINE__, "ls");
		char *list = t_slurp("list.txt", NULL);
		for (char *line = strtok(list, "\n"); line; line = strtok(NULL, "\n"))
			if (vz_backup_verify(line, false, NULL, NULL, &problems, NULL) || problems)
				t_fail(__FILE__, __LINE__, "%s: backup %s does not verify", what, line);
		free(list);
	} else if (acked >= 2) {
		t_fail(__FILE__, __LINE__, "%s: acknowledged backup into bkd is missing", what);
	}
	struct sig src = state_of(COLL, what), restored = state_of("r/dynamic/c", what);
	if (restored.n == 0 && restored.h == 0) {
		if (acked >= 3) t_fail(__FILE__, __LINE__, "%s: acknowledged restore is missing", what);
	} else if (restored.h != src.h || restored.n != src.n) {
		t_fail(__FILE__, __LINE__, "%s: the restored collection differs from the source", what);
	}
}

TEST(powercut_at_every_call_of_backup_and_restore)
{
	/* the last backup cut after the restore was acknowledged: the restore must stay */
	const step_fn steps[] = { op_backup_file, op_backup_dir, op_restore_new, op_backup_dir };
	cut_everywhere(op_seed, steps, 4, COLL, backups_whole);
}

static int op_insert_after_backup(void) { return write_range(40, 45, VZ_WRITE_INSERT, 0); }

TEST(powercut_at_every_call_of_restore_force_over_a_changed_collection)
{
	/* the oracle: back to the backup's contents once the restore is acknowledged */
	const step_fn steps[] = { op_backup_file, op_insert_after_backup, op_restore_force, op_insert_after_backup };
	cut_everywhere(op_seed, steps, 4, COLL, NULL);
}

static int op_recover(void)
{
	vz_recover_report rep;
	return vz_collection_recover(COLL, VZ_RECOVER_POINT_IN_TIME, false, 1, 1000, &rep);
}
static int op_remove_index(void) { return vz_io_unlink(COLL "/index.hnsw", false); }

TEST(powercut_at_every_call_of_recover_writing_a_checkpoint_and_rebuilding_the_index)
{
	/* recover writes a fresh checkpoint of the WAL's rows, then rebuilds a missing index */
	const step_fn steps[] = { op_recover, op_insert_after_backup, op_remove_index, op_recover };
	cut_everywhere(op_seed, steps, 4, COLL, NULL);
}

/* ---- what a cut append leaves in wal.log ---- */

/* Flips one byte inside the record at index i of wal.log and scans the log again. */
static void scan_with_flip(size_t i, vz_wal_log *w)
{
	vz_wal_log before;
	CHECK_OK(vz_wal_scan(COLL "/wal.log", VZ_WAL_SCAN_STOP, &before));
	CHECK(i < before.n);
	size_t len;
	char *b = t_slurp(COLL "/wal.log", &len);
	b[before.entries[i].offset + 40] ^= 0x10;
	vz_wal_free(&before);
	t_write(COLL "/wal.log", b, len);
	free(b);
	CHECK_OK(vz_wal_scan(COLL "/wal.log", VZ_WAL_SCAN_STOP, w));
}

TEST(powercut_garbage_inside_the_last_transaction_is_a_torn_tail_but_not_inside_an_earlier_one)
{
	CHECK_OK(op_create());
	CHECK_OK(op_insert());      /* a transaction of 10 rows */
	CHECK_OK(op_insert_more()); /* the last one: begin, 6 rows, commit */
	vz_wal_log w;
	CHECK_OK(vz_wal_scan(COLL "/wal.log", VZ_WAL_SCAN_STOP, &w));
	size_t n = w.n;
	CHECK(n > 10 + 6);
	vz_wal_free(&w);
	CHECK(t_sh("cp " COLL "/wal.log good.log") == 0);
	/* the second row of the last transaction garbled, its later rows and commit intact: what
	 * a power cut during its append can leave, and it was never acknowledged */
	scan_with_flip(n - 6, &w);
	CHECK(w.damaged);
	CHECK(w.good_after_damage >= 5);
	CHECK(w.torn_tail);
	vz_wal_free(&w);
	/* a record of the first transaction garbled: the second one, written after the first was
	 * acknowledged, follows it, so this is damage */
	CHECK(t_sh("cp good.log " COLL "/wal.log") == 0);
	scan_with_flip(3, &w);
	CHECK(w.damaged);
	CHECK(!w.torn_tail);
	vz_wal_free(&w);
	/* and open for writing cuts only the former */
	CHECK(t_sh("cp good.log " COLL "/wal.log") == 0);
	scan_with_flip(n - 6, &w);
	vz_wal_free(&w);
	CHECK_INT(state_of(COLL, "open after the cut").n, 10);
	int problems;
	CHECK_OK(vz_collection_verify(COLL, false, 1000, NULL, NULL, &problems));
	CHECK_INT(problems, 0);
}

/* ---- the simulation itself ---- */

static int put(const char *path, const char *s, bool sync_file, bool sync_dir)
{
	int fd, rc = vz_io_open_write(path, O_WRONLY | O_CREAT | O_TRUNC, 0644, &fd);
	if (!rc) rc = vz_io_write(fd, s, strlen(s), path);
	if (!rc && sync_file) rc = vz_io_fsync(fd, path);
	vz_io_close(fd);
	if (!rc && sync_dir) rc = vz_io_fsync_dir("d");
	return rc;
}

/* Durable: d/a, d/c, d/e (file and directory synced); then changes none of which is synced
 * where it must be; the last call (the cut) is an unlink of a missing file. */
static int op_changes(void)
{
	int fd, rc = vz_io_mkdir("d", 0755, false);
	if (!rc) rc = vz_io_fsync_dir(".");
	if (!rc) rc = put("d/a", "AAAAAAAA", true, true);
	if (!rc) rc = put("d/c", "old c", true, true);
	if (!rc) rc = put("d/e", "e", true, true);
	if (!rc) rc = vz_io_open_write("d/a", O_WRONLY, 0644, &fd);
	if (!rc) rc = vz_io_pwrite(fd, "BB", 2, 2, "d/a"); /* never fsynced */
	vz_io_close(fd);
	if (!rc) rc = put("d/b", "b", true, false);     /* file synced, its directory not */
	if (!rc) rc = put("d/t", "new c", true, false);
	if (!rc) rc = vz_io_rename("d/t", "d/c");       /* replaces c, directory not synced */
	if (!rc) rc = vz_io_unlink("d/e", false);
	if (!rc) rc = vz_io_mkdir("d/sub", 0755, false);
	if (!rc) rc = vz_io_unlink("d/missing", true);
	return rc;
}

TEST(powercut_undoes_unsynced_writes_creates_renames_unlinks_and_mkdirs)
{
	step_fn step = op_changes;
	bool killed;
	uint64_t calls;
	CHECK_INT(run_steps(&step, 1, NULL, &killed, &calls), 1);
	CHECK(access("d/sub", F_OK) == 0 && access("d/e", F_OK) != 0);
	for (int v = 0; v < 2; v++) {
		CHECK(t_sh("rm -rf d") == 0);
		char spec[64];
		snprintf(spec, sizeof spec, "%llu:%s", (unsigned long long)calls, v ? "garble" : "powercut");
		CHECK_INT(run_steps(&step, 1, spec, &killed, NULL), 0);
		CHECK(killed);
		size_t len;
		char *a = t_slurp("d/a", &len), *c = t_slurp("d/c", NULL), *e = t_slurp("d/e", NULL);
		CHECK_INT(len, 8);
		if (v == 0) CHECK(a && !memcmp(a, "AAAAAAAA", 8));
		else CHECK(a && !memcmp(a, "AA", 2) && !memcmp(a + 4, "AAAA", 4)); /* bytes 2-3: any */
		CHECK(c && !strcmp(c, "old c"));
		CHECK(e && !strcmp(e, "e"));
		CHECK(access("d/b", F_OK) != 0);
		CHECK(access("d/t", F_OK) != 0);
		CHECK(access("d/sub", F_OK) != 0);
		free(a);
		free(c);
		free(e);
	}
}
