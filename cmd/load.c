/* load.c: `vz load COLL FILE`: create a collection from a `vz dump` image (also .zst or .gz). */
#include "write.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { O_FORCE, O_THREADS, O_JSON };
static const struct vz_option options[] = {
	[O_FORCE] = { "force", 0, OPT_FLAG, NULL, "drop an existing collection of that name first (no safety backup)", 0, 0, COMPLETE_NONE, NULL },
	[O_THREADS] = { "threads", 0, OPT_INT, "N", "threads for index builds (default: every core)", 1, 1024, COMPLETE_NONE, NULL },
	[O_JSON] = { "json", 0, OPT_FLAG, NULL, "print what was written as a JSON object", 0, 0, COMPLETE_NONE, NULL },
};

static int run(struct vz_cli *cli, struct vz_args *args)
{
	const char *name = args->pos[0], *path = args->pos[1];
	char *text;
	size_t len;
	vz_config cfg;
	vz_batch b;
	struct stat st;
	int rc;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		/* a directory written by vz export (for LanceDB, Qdrant, Milvus or pgvector) */
		if ((rc = vz_export_read(path, &cfg, &b))) return vz_report(cli, rc);
		goto have_batch;
	}
	rc = vz_read_file(path, (size_t)1 << 36, &text, &len);
	if (rc) return vz_report(cli, rc);
	enum vz_compression comp = vz_compression_of(path, (const unsigned char *)text, len);
	if (comp != VZ_COMP_NONE) { /* dump.jsonl.zst, dump.jsonl.gz */
		char *plain;
		size_t plen;
		rc = vz_decompress(path, comp, (const unsigned char *)text, len, (size_t)1 << 36, &plain, &plen);
		free(text);
		if (rc) return vz_report(cli, rc);
		text = plain;
		len = plen;
	}
	char *nl = memchr(text, '\n', len);
	size_t hl = nl ? (size_t)(nl - text) : len;
	const char *key = "{\"vz_dump\":1,\"config\":";
	if (hl < strlen(key) + 1 || strncmp(text, key, strlen(key)) != 0 || text[hl - 1] != '}') {
		free(text);
		return vz_report(cli, vz_fail(VZ_EDATA, "%s: line 1: not a vz dump header ({\"vz_dump\":1,\"config\":{...}})", path));
	}
	if ((rc = vz_config_from_json_text(text + strlen(key), hl - strlen(key) - 1, &cfg))) {
		free(text);
		/* the detail is copied out first: vz_fail formats into the buffer vz_last_error reads */
		char why[512];
		snprintf(why, sizeof why, "%s", vz_last_error());
		return vz_report(cli, vz_fail(VZ_EDATA, "%s: line 1: %s", path, why));
	}
	/* the header, read, becomes a blank line: the rows' line numbers are then the file's */
	memset(text, ' ', hl);
	rc = vz_batch_parse(path, (const unsigned char *)text, len, VZ_FMT_JSONL, cfg.dim, 0, 0, &b);
	free(text);
	if (rc) return vz_report(cli, rc);
have_batch:;
	char dd[VZ_PATH_MAX];
	if ((rc = vz_cli_data_dir(cli, dd, sizeof dd, NULL))) { vz_batch_free(&b); return vz_report(cli, rc); }
	if (opt_set(args, O_FORCE)) {
		vz_collection *old;
		char dir[VZ_PATH_MAX];
		if (!vz_cli_collection_dir(cli, name, dir, sizeof dir, NULL) && !vz_collection_open(dir, VZ_OPEN_WRITE, cli->lock_timeout_ms, &old) &&
		    (rc = vz_collection_drop(old))) {
			vz_batch_free(&b);
			return vz_report(cli, rc);
		}
	}
	if ((rc = vz_collection_create(dd, name, &cfg))) {
		vz_batch_free(&b);
		return rc == VZ_EINVAL ? vz_usage_error(cli, "%s", vz_last_error()) : vz_report(cli, rc);
	}
	rc = vz_cli_write_batch(cli, name, &b, VZ_OP_INSERT, 0, vz_cli_threads(opt_int(args, O_THREADS, 0)), opt_set(args, O_JSON));
	vz_batch_free(&b);
	if (rc) {
		/* all or nothing: do not leave an empty collection behind a refused load */
		char dir[VZ_PATH_MAX];
		vz_collection *made;
		if (!vz_cli_collection_dir(cli, name, dir, sizeof dir, NULL) && !vz_collection_open(dir, VZ_OPEN_WRITE, cli->lock_timeout_ms, &made))
			vz_collection_drop(made);
	}
	return rc;
}

const struct vz_command vz_cmd_load = {
	.name = "load", .summary = "create a collection from a vz dump file or a vz export directory", .usage = "COLL FILE|DIR [--force] [--json]",
	.options = options, .nopts = VZ_NOPTS(options), .min_args = 2, .max_args = 2, .arg_complete = COMPLETE_COLLECTION, .run = run,
};
