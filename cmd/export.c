/* export.c: `vz export COLL --to lancedb|qdrant|milvus|pgvector`: a directory in the form
 * another engine's bulk import takes, for moving off one machine (and back with `vz load`).
 * A command of its own rather than `dump --format`: its output is a directory of several
 * files (the engine's table definition carrying the metric, the rows, vz.json), not a stream. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

enum { O_TO, O_OUTPUT, O_FORCE, O_JSON };
static const struct vz_option options[] = {
	[O_TO] = { "to", 0, OPT_STRING, "ENGINE", "the engine whose import form to write", 0, 0, COMPLETE_WORDS, "lancedb qdrant milvus pgvector" },
	[O_OUTPUT] = { "output", 'o', OPT_STRING, "DIR", "the directory to create (default: COLL.ENGINE here)", 0, 0, COMPLETE_DIR, NULL },
	[O_FORCE] = { "force", 0, OPT_FLAG, NULL, "replace DIR if it holds an earlier export", 0, 0, COMPLETE_NONE, NULL },
	[O_JSON] = { "json", 0, OPT_FLAG, NULL, "print {\"collection\",\"vectors\",\"to\",\"output\"}", 0, 0, COMPLETE_NONE, NULL },
};

/* Qdrant: a new points file past this many bytes, well under its 32 MiB request limit. */
#define QDRANT_FILE_BYTES (8u << 20)

struct ex {
	enum vz_export_target to;
	const char *tmp; /* the directory being written */
	FILE *rows;
	uint32_t dim;
	uint64_t n;
	unsigned part; /* Qdrant: the points file being written, from 1 */
	bool failed;
	char why[512]; /* the first failure */
};

static void fail_with(struct ex *e, const char *what)
{
	if (!e->failed) snprintf(e->why, sizeof e->why, "%s", what);
	e->failed = true;
}

static FILE *create(struct ex *e, const char *name)
{
	char path[VZ_PATH_MAX];
	snprintf(path, sizeof path, "%s/%s", e->tmp, name);
	int fd;
	if (vz_io_open_write(path, O_WRONLY | O_CREAT | O_EXCL, 0666, &fd)) {
		fail_with(e, vz_last_error());
		return NULL;
	}
	FILE *f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		fail_with(e, strerror(errno));
	}
	return f;
}

/* Flushes, syncs (through the I/O layer) and closes; records the first failure. */
static void finish(struct ex *e, FILE *f, const char *name)
{
	if (!f) return;
	if (fflush(f) || ferror(f)) fail_with(e, strerror(errno ? errno : EIO));
	else if (vz_io_fsync(fileno(f), name)) fail_with(e, vz_last_error());
	if (fclose(f)) fail_with(e, strerror(errno));
}

/* A CSV field in double quotes, quotes doubled (RFC 4180, PostgreSQL's COPY ... CSV). */
static void csv_quoted(FILE *f, const char *s, size_t n)
{
	putc('"', f);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"') putc('"', f);
		putc(s[i], f);
	}
	putc('"', f);
}

/* The Qdrant point id of a vz id: its XXH3-128 as a UUID (version 8, RFC 9562), so that
 * exporting again upserts the same points. */
static void point_uuid(FILE *f, const char *id, size_t n)
{
	XXH128_hash_t h = XXH3_128bits(id, n);
	unsigned char b[16];
	for (int i = 0; i < 8; i++) {
		b[i] = (unsigned char)(h.high64 >> (56 - 8 * i));
		b[8 + i] = (unsigned char)(h.low64 >> (56 - 8 * i));
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x80);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	putc('"', f);
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10) putc('-', f);
		fprintf(f, "%02x", b[i]);
	}
	putc('"', f);
}

/* {"id":ID,"vector":[...],"payload":"JSON text"|null}: LanceDB's and Milvus's row, whose string
 * column keeps the payload byte for byte */
static void id_vector_payload_text(FILE *f, const vz_result *r, const float *v, uint32_t dim)
{
	fputs("{\"id\":", f);
	vz_json_string(f, r->id, r->id_len);
	fputs(",\"vector\":", f);
	vz_print_vector(f, v, dim);
	fputs(",\"payload\":", f);
	if (r->payload) vz_json_string(f, r->payload, r->payload_len);
	else fputs("null", f);
	putc('}', f);
}

static int row(void *ctx, const vz_result *r, const float *v)
{
	struct ex *e = ctx;
	FILE *f = e->rows;
	switch (e->to) {
	case VZ_TO_LANCEDB: /* one JSON object a line; the payload as its JSON text, a string column */
		id_vector_payload_text(f, r, v, e->dim);
		putc('\n', f);
		break;
	case VZ_TO_QDRANT: /* PUT /collections/NAME/points bodies: {"points":[...]} */
		if (f && ftell(f) > (long)QDRANT_FILE_BYTES) {
			fputs("\n]}\n", f);
			finish(e, f, "points file");
			f = e->rows = NULL;
		}
		if (!f) {
			char name[64];
			snprintf(name, sizeof name, "points-%06u.json", ++e->part);
			if (!(f = e->rows = create(e, name))) return VZ_EIO;
			fputs("{\"points\":[\n", f);
		} else {
			fputs(",\n", f);
		}
		fputs("{\"id\":", f);
		point_uuid(f, r->id, r->id_len);
		fputs(",\"vector\":", f);
		vz_print_vector(f, v, e->dim);
		fputs(",\"payload\":{\"vz_id\":", f);
		vz_json_string(f, r->id, r->id_len);
		if (r->payload) {
			fputs(",\"vz_payload\":", f);
			fwrite(r->payload, 1, r->payload_len, f);
		}
		fputs("}}", f);
		break;
	case VZ_TO_MILVUS: /* row-based JSON for bulk insert: {"rows":[...]} */
		/* a JSON field takes an object (re-encoded by Milvus) or a string of JSON text (kept
		 * as those bytes): the string carries any payload, byte for byte */
		if (e->n) fputs(",\n", f);
		id_vector_payload_text(f, r, v, e->dim);
		break;
	case VZ_TO_PGVECTOR: /* COPY ... WITH (FORMAT csv, HEADER true); an empty unquoted field is NULL */
		csv_quoted(f, r->id, r->id_len);
		fputs(",\"", f);
		vz_print_vector(f, v, e->dim);
		fputs("\",", f);
		if (r->payload) csv_quoted(f, r->payload, r->payload_len);
		putc('\n', f);
		break;
	default: return VZ_EINTERNAL;
	}
	e->n++;
	if (ferror(f)) {
		fail_with(e, strerror(errno ? errno : EIO));
		return VZ_EIO;
	}
	return 0;
}

/* The engine's definition of the table, with the metric in its words. */
static void definition(FILE *f, enum vz_export_target to, const char *table, const vz_config *cfg)
{
	const char *metric = vz_export_metric(to, cfg->metric);
	switch (to) {
	case VZ_TO_LANCEDB:
		fputs("{\"name\":", f);
		vz_json_string(f, table, strlen(table));
		fprintf(f, ",\"vector_column\":\"vector\",\"dim\":%u,\"distance_type\":\"%s\"}\n", cfg->dim, metric);
		break;
	case VZ_TO_QDRANT: /* PUT /collections/NAME body */
		fprintf(f, "{\"vectors\":{\"size\":%u,\"distance\":\"%s\"}}\n", cfg->dim, metric);
		break;
	case VZ_TO_MILVUS: /* POST /v2/vectordb/collections/create body */
		fprintf(f, "{\"collectionName\":\"%s\",\"schema\":{\"autoId\":false,\"enableDynamicField\":false,\"fields\":["
			   "{\"fieldName\":\"id\",\"dataType\":\"VarChar\",\"isPrimary\":true,\"elementTypeParams\":{\"max_length\":%d}},"
			   "{\"fieldName\":\"vector\",\"dataType\":\"FloatVector\",\"elementTypeParams\":{\"dim\":%u}},"
			   "{\"fieldName\":\"payload\",\"dataType\":\"JSON\",\"nullable\":true}]},"
			   "\"indexParams\":[{\"fieldName\":\"vector\",\"indexName\":\"vector\",\"metricType\":\"%s\",\"indexType\":\"AUTOINDEX\"}]}\n",
			table, VZ_MAX_ID_LEN, cfg->dim, metric);
		break;
	case VZ_TO_PGVECTOR:
		fprintf(f, "CREATE EXTENSION IF NOT EXISTS vector;\n"
			   "CREATE TABLE %s (id text PRIMARY KEY, embedding vector(%u) NOT NULL, payload jsonb);\n"
			   "CREATE INDEX ON %s USING hnsw (embedding %s);\n",
			table, cfg->dim, table, metric);
		break;
	default: break;
	}
}

static int run(struct vz_cli *cli, struct vz_args *args)
{
	const char *name = args->pos[0];
	if (!opt_set(args, O_TO)) return vz_usage_error(cli, "--to ENGINE is required (lancedb, qdrant, milvus, pgvector)");
	enum vz_export_target to;
	if (vz_export_target_parse(opt_str(args, O_TO, ""), &to)) return vz_usage_error(cli, "%s", vz_last_error());
	/* the table name: the collection's, with what SQL and Milvus names refuse made '_' */
	char table[300];
	snprintf(table, sizeof table, "%s%s", (name[0] >= '0' && name[0] <= '9') ? "_" : "", name);
	for (char *p = table; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_')) *p = '_';
	char dflt[400], out[VZ_PATH_MAX], tmp[VZ_PATH_MAX], old[VZ_PATH_MAX];
	snprintf(dflt, sizeof dflt, "%s.%s", name, vz_export_target_name(to));
	for (char *p = dflt; *p; p++)
		if (*p == '/') *p = '-';
	snprintf(out, sizeof out, "%s", opt_str(args, O_OUTPUT, dflt));
	size_t ol = strlen(out);
	while (ol > 1 && out[ol - 1] == '/') out[--ol] = '\0';
	struct stat st;
	bool replace = false;
	if (lstat(out, &st) == 0) {
		char probe[VZ_PATH_MAX];
		snprintf(probe, sizeof probe, "%s/vz.json", out);
		if (!opt_set(args, O_FORCE))
			return vz_report(cli, vz_fail(VZ_EEXIST, "%s: exists (--force replaces an earlier export)", out));
		if (!S_ISDIR(st.st_mode) || access(probe, F_OK))
			return vz_report(cli, vz_fail(VZ_EEXIST, "%s: exists and is not an earlier export (no vz.json): not replaced", out));
		replace = true;
	}
	vz_collection *c;
	int rc = vz_cli_open(cli, name, VZ_OPEN_READ, &c);
	if (rc) return rc;
	const vz_config *cfg = vz_collection_config(c);
	snprintf(tmp, sizeof tmp, "%s.tmp-%ld", out, (long)getpid());
	if (vz_io_mkdir(tmp, 0777, false)) {
		char why[512];
		snprintf(why, sizeof why, "%s", vz_last_error());
		vz_collection_close(c);
		return vz_report(cli, vz_fail(VZ_EIO, "%s: cannot write the export: %s", out, why));
	}
	struct ex e = { .to = to, .tmp = tmp, .dim = cfg->dim };
	FILE *f = create(&e, "vz.json");
	if (f) vz_print_dump_header(f, cfg);
	finish(&e, f, "vz.json");
	if ((f = create(&e, vz_export_definition_file(to)))) definition(f, to, table, cfg);
	finish(&e, f, vz_export_definition_file(to));
	static const char *const rows[VZ_TO_COUNT] = { "rows.jsonl", NULL, "rows.json", "rows.csv" };
	if (!e.failed && rows[to] && (e.rows = create(&e, rows[to]))) {
		if (to == VZ_TO_MILVUS) fputs("{\"rows\":[\n", e.rows);
		if (to == VZ_TO_PGVECTOR) fputs("id,embedding,payload\n", e.rows);
	}
	if (!e.failed) rc = vz_collection_foreach(c, row, &e);
	vz_collection_close(c);
	if (e.rows) {
		if (to == VZ_TO_MILVUS) fputs("\n]}\n", e.rows);
		if (to == VZ_TO_QDRANT) fputs("\n]}\n", e.rows);
		finish(&e, e.rows, "rows");
	}
	if (rc) fail_with(&e, vz_last_error());
	if (!e.failed && vz_io_fsync_dir(tmp)) fail_with(&e, vz_last_error());
	/* the directory appears complete or not at all; an earlier export goes only after */
	if (!e.failed && replace) {
		snprintf(old, sizeof old, "%s.old-%ld", out, (long)getpid());
		if (vz_io_rename(out, old)) fail_with(&e, vz_last_error());
	}
	if (!e.failed && vz_io_rename_noreplace(tmp, out)) {
		fail_with(&e, vz_last_error());
		if (replace) vz_io_rename(old, out);
	}
	if (e.failed) {
		vz_io_remove_tree(tmp);
		return vz_report(cli, vz_fail(VZ_EIO, "%s: cannot write the export: %s", out, e.why));
	}
	char parent[VZ_PATH_MAX];
	if (!vz_path_parent(out, parent, sizeof parent)) vz_io_fsync_dir(parent);
	if (replace) vz_io_remove_tree(old);
	if (opt_set(args, O_JSON)) {
		printf("{\"collection\":\"%s\",\"vectors\":%llu,\"to\":\"%s\",\"output\":", name, (unsigned long long)e.n,
		       vz_export_target_name(to));
		vz_print_json_or_null(stdout, out);
		puts("}");
	} else {
		vz_infof(cli, "%s: %llu vector%s exported for %s to %s", name, (unsigned long long)e.n, VZ_S(e.n), vz_export_target_name(to), out);
	}
	return 0;
}

const struct vz_command vz_cmd_export = {
	.name = "export", .summary = "write a collection in the import form of LanceDB, Qdrant, Milvus or pgvector",
	.usage = "COLL --to lancedb|qdrant|milvus|pgvector [-o DIR] [--force] [--json]",
	.description = "Writes the directory DIR: vz.json (the configuration), the engine's table definition with the metric\n"
		       "in its words, and the rows as its bulk import takes them (floats read back bit-identical).\n"
		       "vz load COLL DIR reads any of the four back.",
	.options = options, .nopts = VZ_NOPTS(options), .min_args = 1, .max_args = 1, .arg_complete = COMPLETE_COLLECTION, .run = run,
};
