/* wal.c: `vz wal COLL`: list the WAL's records, for manual repair. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

enum { O_JSON, O_SALVAGE };
static const struct vz_option options[] = {
	[O_JSON] = { "json", 0, OPT_FLAG, NULL, "one JSON object a record", 0, 0, COMPLETE_NONE, NULL },
	[O_SALVAGE] = { "salvage", 0, OPT_FLAG, NULL, "also list good records found after damage", 0, 0, COMPLETE_NONE, NULL },
};

static int run(struct vz_cli *cli, struct vz_args *args)
{
	char dir[VZ_PATH_MAX], path[VZ_PATH_MAX];
	bool ws;
	int rc = vz_cli_collection_dir(cli, args->pos[0], dir, sizeof dir, &ws);
	if (rc) return rc;
	if (ws) return vz_report(cli, vz_fail(VZ_EINVAL, "%s is a workspace collection: it has no WAL", args->pos[0]));
	vz_lock lock = VZ_LOCK_INIT;
	if ((rc = vz_collection_lock(dir, VZ_LOCK_SHARED, cli->lock_timeout_ms, &lock))) return vz_report(cli, rc);
	snprintf(path, sizeof path, "%s/wal.log", dir);
	vz_wal_log w;
	rc = vz_wal_scan(path, opt_set(args, O_SALVAGE) ? VZ_WAL_SCAN_SALVAGE : VZ_WAL_SCAN_STOP, &w);
	vz_lock_release(&lock);
	if (rc) return vz_report(cli, rc);
	/* each record's transaction as replay and recover judge it (vz_wal_next_txn) */
	const char **state = calloc(w.n ? w.n : 1, sizeof *state);
	if (!state) {
		vz_wal_free(&w);
		return vz_report(cli, vz_fail(VZ_ENOMEM, "out of memory"));
	}
	size_t pos = 0;
	vz_wal_txn t;
	for (size_t i = 0; i < w.n; i++) state[i] = "none";
	while (vz_wal_next_txn(&w, 0, &pos, &t))
		for (size_t i = t.begin; i <= t.end && i < w.n; i++)
			if (i < t.end || !t.ended_by_begin) state[i] = t.complete ? "committed" : "incomplete";
	bool json = opt_set(args, O_JSON);
	if (!json) printf("%-8s %-10s %-8s %-8s %-10s %8s %-8s %s\n", "OFFSET", "SEQ", "TYPE", "TXN", "ID", "SIZE", "CHECKSUM", "TXN-STATE");
	for (size_t i = 0; i < w.n; i++) {
		const vz_wal_entry *e = &w.entries[i];
		vz_wal_op op = { 0 };
		bool has_id = (e->type == VZ_WAL_INSERT || e->type == VZ_WAL_UPDATE || e->type == VZ_WAL_DELETE) && !vz_wal_decode_op(e, &op);
		if (json) {
			printf("{\"offset\":%llu,\"seq\":%llu,\"type\":\"%s\",\"txn\":%llu,\"id\":", (unsigned long long)e->offset,
			       (unsigned long long)e->seq, vz_wal_type_name(e->type), (unsigned long long)e->txn);
			if (has_id) vz_json_string(stdout, op.id, op.id_len);
			else fputs("null", stdout);
			printf(",\"size\":%u,\"checksum_ok\":%s,\"txn_state\":\"%s\"}\n", e->length, e->checksum_ok ? "true" : "false", state[i]);
		} else {
			vz_printf_safe(stdout, "%-8llu %-10llu %-8s %-8llu %-10.*s %8u %-8s %s\n", (unsigned long long)e->offset, (unsigned long long)e->seq,
			       vz_wal_type_name(e->type), (unsigned long long)e->txn, has_id ? (int)op.id_len : 1, has_id ? op.id : "-",
			       e->length, e->checksum_ok ? "ok" : "BAD", state[i]);
		}
	}
	if (w.damaged) {
		if (json) {
			printf("{\"offset\":%llu,\"damage\":", (unsigned long long)w.damage_offset);
			vz_json_string(stdout, w.damage_what, strlen(w.damage_what));
			printf(",\"torn_tail\":%s,\"good_records_after\":%zu}\n", w.torn_tail ? "true" : "false", w.good_after_damage);
		} else {
			vz_printf_safe(stdout, "%-8llu damage: %s (%s)\n", (unsigned long long)w.damage_offset, w.damage_what,
			       w.torn_tail ? "torn tail" : "good records follow: see --salvage and vz recover");
		}
	}
	free(state);
	vz_wal_free(&w);
	return 0;
}

const struct vz_command vz_cmd_wal = {
	.name = "wal", .summary = "list the records of a collection's write-ahead log", .usage = "COLL [--json] [--salvage]",
	.options = options, .nopts = VZ_NOPTS(options), .min_args = 1, .max_args = 1, .arg_complete = COMPLETE_COLLECTION, .run = run,
};
