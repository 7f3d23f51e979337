/* write.h: helpers shared by the commands that change a collection. */
#ifndef VZ_CMD_WRITE_H
#define VZ_CMD_WRITE_H

#include "cli.h"

/* A batch of at least this many inserts takes the bulk path (no WAL copy). */
#define VZ_CLI_BULK_MIN 10000
/* A flag for vz_cli_write_batch (beside enum vz_write_flags): never take the bulk path. */
#define VZ_CLI_NO_BULK (1u << 30)

/* Reads FILE ("-" for stdin) in the given format (NULL: from the extension). Prints errors. */
int vz_cli_read_batch(struct vz_cli *cli, const char *path, const char *format, unsigned flags, uint64_t id_base, vz_batch *b);
/* Applies the batch to the collection as one transaction (forced_op: every entry's operation,
 * or 0 to use the batch's own). Prints the outcome; returns the exit code. */
int vz_cli_write_batch(struct vz_cli *cli, const char *coll, vz_batch *b, enum vz_op forced_op, unsigned flags,
		       int threads, bool json);

#endif
