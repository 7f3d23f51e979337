/* write.h: helpers shared by the commands that change a collection. */
#ifndef VZ_CMD_WRITE_H
#define VZ_CMD_WRITE_H

#include "cli.h"

/* A batch of inserts whose WAL records would pass this many bytes takes the bulk path (written
 * straight into a new checkpoint as a segment without a graph, acknowledged before its index is
 * built, which the detached checkpoint does): a WAL that large costs every reader its replay
 * until a checkpoint folds it. Smaller batches go through the WAL and are acknowledged after its
 * fsync. */
#define VZ_CLI_BULK_WAL_BYTES (256ull << 20)
/* A batch of at least this many inserts is written as a segment without a graph (unless
 * checkpoints run inline, or --no-bulk): acknowledged as fast as the WAL would, and no reader
 * replays it from the log; the detached checkpoint indexes it. */
#define VZ_CLI_SEGMENT_ROWS 10000
/* That threshold, or VZ_BULK_BYTES's (bytes) when set to a number. */
uint64_t vz_cli_bulk_bytes(void);
/* A flag for vz_cli_write_batch (beside enum vz_write_flags): never take the bulk path. */
#define VZ_CLI_NO_BULK (1u << 30)

/* Reads FILE ("-" for stdin) in the given format (NULL: from the extension). Prints errors. */
int vz_cli_read_batch(struct vz_cli *cli, const char *path, const char *format, unsigned flags, uint64_t id_base, vz_batch *b);
/* Applies the batch to the collection as one transaction (forced_op: every entry's operation,
 * or 0 to use the batch's own). Prints the outcome; returns the exit code. */
int vz_cli_write_batch(struct vz_cli *cli, const char *coll, vz_batch *b, enum vz_op forced_op, unsigned flags,
		       int threads, bool json);

/* The automatic checkpoint of a collection holding at most this many floats (rows x dimension:
 * 1 MiB of vectors) runs in the writing command: it takes milliseconds. */
#define VZ_CLI_INLINE_CHECKPOINT_FLOATS (256u * 1024u)
/* After a write whose WAL reached the automatic checkpoint thresholds (work: the floats of the
 * collection; threads: the writer's --threads, 0 for every core, which the checkpoint's index
 * build uses too, so that --threads 1 gives a reproducible index): VZ_AUTO_CHECKPOINT decides. "auto" (the default) folds a small collection here
 * and starts a detached `vz checkpoint --if-needed` for a larger one, returning at once, as
 * `git gc --auto` does; "background" always detaches; "inline" always runs it here before the
 * command exits (it stops nobody either: see vz_checkpoint_dir); "off" leaves it to
 * `vz checkpoint`. True when a checkpoint ran here and folded the log. data_dir: the data
 * directory of coll, NULL for the command's own (vz build's is the workspace's). Also builds
 * the graph that vz build left to the checkpoint (VZ_WS_BUILD_DEFER_GRAPH). threads: for the
 * index build; 0 (not given): one here, every core in the detached one. */
bool vz_cli_auto_checkpoint(const struct vz_cli *cli, const char *data_dir, const char *coll, uint64_t work, int threads);

#endif
