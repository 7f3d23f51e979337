/* write.c: what insert, update, delete and apply share: reading a batch, turning it into one
 * transaction, and reporting what was written. */
#include "write.h"

#include <stdlib.h>
#include <string.h>

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
		w[i].line = b->lines ? b->lines[i] : i + 1;
		if (op != VZ_OP_INSERT) insert_only = false;
	}
	/* big loads skip the WAL: the batch goes straight into a new checkpoint (still atomic) */
	if (insert_only && b->n >= VZ_CLI_BULK_MIN && !(flags & VZ_CLI_NO_BULK)) flags |= VZ_WRITE_BULK;
	if (!insert_only && (flags & VZ_WRITE_BULK)) flags &= ~(unsigned)VZ_WRITE_BULK;
	flags &= ~VZ_CLI_NO_BULK;
	if (b->map.data) flags |= VZ_WRITE_RELEASE; /* the rows are the input file's mapping */
	vz_write_stats st;
	/* rows given as text (JSON lines with "text", or insert --text) are embedded by the library */
	rc = vz_collection_write_text(c, w, (const char *const *)b->texts, b->n, flags, threads, &st);
	if (!rc && !st.terms_saved) vz_warnf(cli, "%s: %s", coll, vz_last_error());
	free(w);
	const char *detail = rc ? NULL : vz_last_error();
	bool cp_failed = !rc && !st.checkpointed && detail && strstr(detail, "automatic checkpoint failed");
	vz_collection_close(c);
	if (rc) return vz_report(cli, rc);
	if (cp_failed) vz_warnf(cli, "%s", detail);
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
