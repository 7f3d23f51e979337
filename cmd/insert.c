/* insert.c: `vz insert COLL [FILE|-]`: add vectors as one transaction. */
#include "write.h"

#include <stdlib.h>
#include <string.h>

enum { O_FORMAT, O_TEXT, O_ID, O_PAYLOAD, O_UPSERT, O_ID_BASE, O_THREADS, O_BULK, O_NO_BULK, O_JSON };
static const struct vz_option options[] = {
	[O_FORMAT] = { "format", 0, OPT_STRING, "FMT", "input format: jsonl, fvecs, npy or csv, each maybe .zst or .gz (default: from the extension)", 0, 0, COMPLETE_WORDS, VZ_CLI_INPUT_FORMATS },
	[O_TEXT] = { "text", 0, OPT_STRING, "TEXT", "insert one text, embedded by the collection's built-in embedding (needs --id)", 0, 0, COMPLETE_NONE, NULL },
	[O_ID] = { "id", 0, OPT_STRING, "ID", "the id of the --text row", 0, 0, COMPLETE_NONE, NULL },
	[O_PAYLOAD] = { "payload", 0, OPT_STRING, "JSON", "the payload of the --text row (default: {\"text\": TEXT})", 0, 0, COMPLETE_NONE, NULL },
	[O_UPSERT] = { "upsert", 0, OPT_FLAG, NULL, "replace ids that already exist instead of refusing the batch", 0, 0, COMPLETE_NONE, NULL },
	[O_ID_BASE] = { "id-base", 0, OPT_INT, "N", "first id for rows without ids (fvecs, npy, csv; default 0)", 0, 1e15, COMPLETE_NONE, NULL },
	[O_THREADS] = { "threads", 0, OPT_INT, "N", "threads for index builds (default: every core; 1 is reproducible)", 1, 1024, COMPLETE_NONE, NULL },
	[O_BULK] = { "bulk", 0, OPT_FLAG, NULL, "write straight into a new checkpoint, its index built before the reply (past 256 MiB of log, or 10000 rows: a segment, indexed in the background)", 0, 0, COMPLETE_NONE, NULL },
	[O_NO_BULK] = { "no-bulk", 0, OPT_FLAG, NULL, "always go through the WAL (no segment, no new checkpoint)", 0, 0, COMPLETE_NONE, NULL },
	[O_JSON] = { "json", 0, OPT_FLAG, NULL, "print what was written as a JSON object", 0, 0, COMPLETE_NONE, NULL },
};

/* --text/--id/--payload become one JSON line read by the same parser as a file, so the id and
 * payload are checked exactly as they would be there. */
static int parse_text_row(struct vz_args *args, bool with_payload, vz_batch *b)
{
	char *line = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&line, &len);
	if (!f) return vz_fail(VZ_ENOMEM, "out of memory");
	const char *id = opt_str(args, O_ID, ""), *text = opt_str(args, O_TEXT, "");
	/* refused here: vz_json_string would turn what is not UTF-8 into U+FFFD, silently */
	const char *what[] = { "--id", "--text", "--payload" }, *val[] = { id, text, with_payload ? opt_str(args, O_PAYLOAD, "") : "" };
	for (int k = 0; k < 3; k++) {
		size_t bad;
		if (!vz_utf8_valid(val[k], strlen(val[k]), &bad)) {
			fclose(f);
			free(line);
			return vz_fail(VZ_EDATA, "%s: byte %zu: invalid UTF-8", what[k], bad + 1);
		}
	}
	fputs("{\"id\":", f);
	vz_json_string(f, id, strlen(id));
	fputs(",\"text\":", f);
	vz_json_string(f, text, strlen(text));
	if (with_payload) fprintf(f, ",\"payload\":%s", opt_str(args, O_PAYLOAD, ""));
	fputc('}', f);
	if (fclose(f)) {
		free(line);
		return vz_fail(VZ_ENOMEM, "out of memory");
	}
	int rc = vz_batch_parse("--text", (const unsigned char *)line, len, VZ_FMT_JSONL, 0, VZ_READ_TEXT_OK, 0, b);
	free(line);
	return rc;
}

static int text_row(struct vz_cli *cli, struct vz_args *args, vz_batch *b)
{
	int rc = parse_text_row(args, false, b);
	if (rc || !opt_set(args, O_PAYLOAD)) return rc ? vz_report(cli, rc) : 0;
	vz_batch_free(b);
	/* the id and text passed without it: a refusal now is the payload's */
	if ((rc = parse_text_row(args, true, b)) == VZ_EDATA && strncmp(vz_last_error(), "--payload: byte ", 16) != 0)
		vz_fail(VZ_EDATA, "--payload: not one valid JSON value (at most %u bytes)", VZ_MAX_PAYLOAD_LEN);
	return rc ? vz_report(cli, rc) : 0;
}

static int run(struct vz_cli *cli, struct vz_args *args)
{
	const char *coll = args->pos[0], *path = args->npos > 1 ? args->pos[1] : "-";
	vz_batch b;
	int rc;
	if (opt_set(args, O_TEXT)) {
		if (args->npos > 1) return vz_usage_error(cli, "--text inserts one row: give no FILE with it");
		if (!opt_set(args, O_ID)) return vz_usage_error(cli, "--text needs --id ID");
		if ((rc = text_row(cli, args, &b))) return rc;
	} else if (opt_set(args, O_ID) || opt_set(args, O_PAYLOAD)) {
		return vz_usage_error(cli, "--id and --payload go with --text (rows from a file carry their own)");
	} else if ((rc = vz_cli_read_batch(cli, path, opt_str(args, O_FORMAT, NULL), VZ_READ_MAPPED, (uint64_t)opt_int(args, O_ID_BASE, 0), &b))) {
		return rc;
	}
	if (opt_set(args, O_BULK) && opt_set(args, O_NO_BULK)) { vz_batch_free(&b); return vz_usage_error(cli, "--bulk and --no-bulk exclude each other"); }
	unsigned flags = opt_set(args, O_BULK) ? VZ_WRITE_BULK : opt_set(args, O_NO_BULK) ? VZ_CLI_NO_BULK : 0;
	rc = vz_cli_write_batch(cli, coll, &b, opt_set(args, O_UPSERT) ? VZ_OP_UPSERT : VZ_OP_INSERT, flags,
				vz_cli_threads(opt_int(args, O_THREADS, 0)), opt_set(args, O_JSON));
	vz_batch_free(&b);
	return rc;
}

const struct vz_command vz_cmd_insert = {
	.name = "insert", .summary = "add vectors to a collection (one transaction)", .usage = "COLL [FILE|-] [options]",
	.description = "Reads JSON lines ({\"id\":..,\"vector\":[..],\"payload\":..}), .fvecs, .npy (float32, 2-D) or CSV.\n"
		       "The whole input is one transaction: a bad line refuses all of it, naming the line.\n"
		       "A collection created with --embedding bm25 also takes texts: JSON lines with \"text\" in\n"
		       "place of \"vector\", or one row with --text and --id.",
	.options = options, .nopts = VZ_NOPTS(options), .min_args = 1, .max_args = 2, .arg_complete = COMPLETE_COLLECTION, .run = run,
};
