/* write.c: what insert, update, delete and apply share: reading a batch, turning it into one
 * transaction, and reporting what was written. */
#include "write.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int vz_cli_write_batch(struct vz_cli *cli, const char *coll, vz_batch *b, enum vz_op forced_op, unsigned flags,
		       int threads, bool json)
{
	vz_collection *c;
	int rc = vz_cli_open(cli, coll, VZ_OPEN_WRITE, &c);
	if (rc) return rc;
	vz_write *w = calloc(b->n ? b->n : 1, sizeof *w);
	if (!w) {
		vz_collection_close(c);
		vz_errorf(cli, "out of memory");
		return VZ_EXIT_OSERR;
	}
	bool insert_only = true;
	for (size_t i = 0; i < b->n; i++) {
		enum vz_op op = forced_op ? forced_op : b->ops ? b->ops[i] : VZ_OP_INSERT;
		w[i].op = (enum vz_write_op)op;
		w[i].id = b->ids[i];
		w[i].id_len = strlen(b->ids[i]);
		w[i].vector = b->dim ? vz_batch_row(b, i) : NULL;
		w[i].dim = op == VZ_OP_DELETE ? 0 : b->dim;
		w[i].payload = b->payloads ? b->payloads[i] : NULL;
		w[i].payload_len = b->payload_lens ? b->payload_lens[i] : 0;
		w[i].line = b->lines ? b->lines[i] : 0; /* ids given as arguments: no line to name */
		if (op != VZ_OP_INSERT) insert_only = false;
	}
	/* very big loads skip the WAL: the batch goes straight into a new checkpoint (still atomic),
	 * acknowledged before its index is built (a segment without a graph, which the detached
	 * checkpoint indexes) unless checkpoints run inline; --bulk builds the index before it
	 * replies (scripts and benchmarks time it as the build) */
	uint64_t wal_bytes = (uint64_t)b->n * (64 + 4ull * b->dim);
	for (size_t i = 0; b->payload_lens && i < b->n; i++) wal_bytes += b->payload_lens[i];
	const char *mode = getenv("VZ_AUTO_CHECKPOINT");
	bool inline_ck = mode && !strcmp(mode, "inline");
	if (insert_only && !(flags & (VZ_CLI_NO_BULK | VZ_WRITE_BULK))) {
		if (wal_bytes > vz_cli_bulk_bytes()) flags |= VZ_WRITE_BULK | (inline_ck ? 0 : VZ_WRITE_DEFER_INDEX);
		else if (b->n >= VZ_CLI_SEGMENT_ROWS && !inline_ck) flags |= VZ_WRITE_DEFER_INDEX; /* a segment, or the WAL */
	}
	if (!insert_only && (flags & VZ_WRITE_BULK)) flags &= ~(unsigned)VZ_WRITE_BULK;
	flags &= ~VZ_CLI_NO_BULK;
	if (b->map.data) flags |= VZ_WRITE_RELEASE; /* the rows are the input file's mapping */
	vz_write_stats st;
	double t0 = vz_now();
	/* rows given as text (JSON lines with "text", or insert --text) are embedded by the library */
	rc = vz_collection_write_text(c, w, (const char *const *)b->texts, b->n, flags | VZ_WRITE_NO_AUTO_CHECKPOINT, threads, &st);
	if (!rc && !st.terms_saved) vz_warnf(cli, "%s: %s", coll, vz_last_error());
	free(w);
	const char *detail = rc ? NULL : vz_last_error();
	bool cp_failed = !rc && st.checkpoint_failed;
	vz_collection_stats cs = { 0 };
	if (!rc && st.checkpoint_due) vz_collection_stats_get(c, &cs);
	uint64_t work = (cs.live + cs.tombstones) * vz_collection_config(c)->dim; /* floats a checkpoint rewrites */
	vz_collection_close(c);
	if (rc) return vz_report(cli, rc);
	vz_verbosef(cli, "%s: %zu row%s written %s in %.3f s (sequence numbers %llu to %llu)%s", coll, b->n, VZ_S(b->n),
		    !st.checkpointed ? "through the WAL, acknowledged after its fsync"
		    : st.checkpoint_due ? "straight into a segment, its index left to the checkpoint (bulk)"
		    : "straight into a new checkpoint (bulk)",
		    vz_now() - t0, (unsigned long long)st.first_seq, (unsigned long long)st.last_seq,
		    st.checkpoint_due ? "; the automatic checkpoint thresholds are reached" : "");
	if (cp_failed) vz_warnf(cli, "%s", detail);
	if (st.checkpoint_due && vz_cli_auto_checkpoint(cli, NULL, coll, work, threads)) st.checkpointed = true;
	if (json)
		printf("{\"collection\":\"%s\",\"inserted\":%zu,\"updated\":%zu,\"deleted\":%zu,\"skipped\":%zu,\"first_seq\":%llu,\"last_seq\":%llu,\"checkpointed\":%s}\n",
		       coll, st.inserted, st.updated, st.deleted, st.skipped, (unsigned long long)st.first_seq,
		       (unsigned long long)st.last_seq, st.checkpointed ? "true" : "false");
	else
		vz_infof(cli, "%s: %zu inserted, %zu updated, %zu deleted%s", coll, st.inserted, st.updated, st.deleted,
			 st.checkpointed ? " (checkpointed)" : "");
	if (st.checkpointed) { /* an automatic checkpoint: backup.after_checkpoint follows it too */
		fflush(stdout);
		char *done[1] = { (char *)coll };
		return vz_cli_backup_after_checkpoint(cli, done, 1);
	}
	return 0;
}

int vz_cli_read_batch(struct vz_cli *cli, const char *path, const char *format, unsigned flags, uint64_t id_base, vz_batch *b)
{
	enum vz_input_format fmt = VZ_FMT_AUTO;
	if (format && vz_input_format_parse(format, &fmt)) return vz_usage_error(cli, "%s", vz_last_error());
	/* JSON lines may carry "text" instead of "vector": collections with an embedding take them */
	int rc = vz_batch_read(path, fmt, 0, flags | VZ_READ_TEXT_OK, id_base, b);
	if (rc) return vz_report(cli, rc);
	return 0;
}

/* Starts `vz --data-dir DIR checkpoint --if-needed -q COLL` detached: its own session, nice 10,
 * its output to /dev/null, a grandchild so that nobody waits for it (or reaps it) and a pipe
 * reading our output ends with us. Nothing of this process is inherited but the binary: every
 * descriptor vz opens is close-on-exec. */
static void spawn_checkpoint(const struct vz_cli *cli, const char *data_dir, const char *coll, int threads)
{
	char dd[VZ_PATH_MAX];
	if (data_dir) snprintf(dd, sizeof dd, "%s", data_dir);
	else if (vz_cli_data_dir(cli, dd, sizeof dd, NULL)) return;
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) { vz_warnf(cli, "%s: could not start the automatic checkpoint: %s", coll, strerror(errno)); return; }
	if (pid == 0) {
		setsid();
		if (fork() != 0) _exit(0);
		int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (fd >= 0) { dup2(fd, 0); dup2(fd, 1); dup2(fd, 2); }
		/* and nothing else: a pipe or a test harness's descriptor held open by the checkpoint
		 * would make whoever reads it wait for the checkpoint */
		closefrom(3);
		/* background work yields the processors to the commands people are waiting for */
		errno = 0;
		if (nice(10) == -1 && errno) {}
		char nthreads[32];
		snprintf(nthreads, sizeof nthreads, "%d", threads > 0 ? threads : 0);
		char *argv[] = { "vz", "--data-dir", dd, "checkpoint", "--if-needed", "-q", (char *)coll, "--threads", nthreads, NULL };
		if (threads <= 0) argv[7] = NULL; /* the writer's --threads, if it had one */
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
}

bool vz_cli_auto_checkpoint(const struct vz_cli *cli, const char *data_dir, const char *coll, uint64_t work, int threads)
{
	const char *mode = getenv("VZ_AUTO_CHECKPOINT");
	if (!mode || !*mode) mode = "auto";
	if (!strcmp(mode, "off")) return false;
	if (strcmp(mode, "auto") && strcmp(mode, "background") && strcmp(mode, "inline")) {
		vz_warnf(cli, "VZ_AUTO_CHECKPOINT=%s: expected auto, background, inline or off; using auto", mode);
		mode = "auto";
	}
	/* auto: a small collection is folded here (milliseconds, and the next command finds it
	 * folded); a larger one by a detached process */
	if (!strcmp(mode, "background") || (!strcmp(mode, "auto") && work > VZ_CLI_INLINE_CHECKPOINT_FLOATS)) {
		spawn_checkpoint(cli, data_dir, coll, threads);
		return false;
	}
	char dir[VZ_PATH_MAX];
	vz_checkpoint_report rep;
	if (data_dir ? vz_collection_path(data_dir, coll, dir, sizeof dir, NULL) : vz_cli_collection_dir(cli, coll, dir, sizeof dir, NULL)) return false;
	int rc = vz_checkpoint_dir(dir, VZ_CHECKPOINT_IF_NEEDED, threads > 0 ? threads : 1, cli->lock_timeout_ms, &rep);
	if (rc == VZ_EBUSY) return false; /* one is running: it, or the next write, folds the log */
	if (rc) vz_warnf(cli, "%s: the transaction is committed, but the automatic checkpoint failed: %s", coll, vz_last_error());
	return rc == VZ_OK && rep.checkpointed;
}

uint64_t vz_cli_bulk_bytes(void)
{
	const char *e = getenv("VZ_BULK_BYTES");
	char *end;
	unsigned long long v = e && *e ? strtoull(e, &end, 10) : 0;
	return e && *e && !*end ? (uint64_t)v : VZ_CLI_BULK_WAL_BYTES;
}
