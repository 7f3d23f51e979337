/* dump.c: `vz dump COLL`: a lossless JSON-lines image (for vz load), or plain JSON lines, .npy,
 * .fvecs or CSV for other tools (each of which vz insert reads back). */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { O_OUTPUT, O_FORMAT, O_IDS, O_NO_CONFIG };
static const struct vz_option options[] = {
	[O_OUTPUT] = { "output", 'o', OPT_STRING, "FILE", "write to FILE instead of stdout", 0, 0, COMPLETE_FILE, NULL },
	[O_FORMAT] = { "format", 0, OPT_STRING, "FMT", "jsonl (default: lossless, for vz load), npy, fvecs (vectors only) or csv (ids and vectors)", 0, 0, COMPLETE_WORDS, "jsonl npy fvecs csv" },
	[O_IDS] = { "ids", 0, OPT_STRING, "FILE", "with --format npy or fvecs: write the ids, one a line, to FILE", 0, 0, COMPLETE_FILE, NULL },
	[O_NO_CONFIG] = { "no-config", 0, OPT_FLAG, NULL, "jsonl without the configuration line: plain rows for vz insert and other tools", 0, 0, COMPLETE_NONE, NULL },
};

enum dump_format { DUMP_JSONL, DUMP_NPY, DUMP_FVECS, DUMP_CSV };
struct dump_ctx { FILE *out; uint32_t dim; uint64_t rows; FILE *ids; enum dump_format fmt; };

/* A CSV row: the id always quoted (RFC 4180, "" for a quote), so that an id that looks like a
 * number reads back as an id, then the floats. */
static void csv_row(FILE *out, const vz_result *r, const float *v, uint32_t dim)
{
	putc('"', out);
	for (size_t i = 0; i < r->id_len; i++) {
		if (r->id[i] == '"') putc('"', out);
		putc(r->id[i], out);
	}
	putc('"', out);
	for (uint32_t i = 0; i < dim; i++) {
		putc(',', out);
		vz_print_float(out, v[i]);
	}
	putc('\n', out);
}

static int dump_row(void *ctx, const vz_result *r, const float *v)
{
	struct dump_ctx *d = ctx;
	d->rows++;
	if (d->fmt == DUMP_CSV) {
		csv_row(d->out, r, v, d->dim);
		return ferror(d->out) ? VZ_EIO : 0;
	}
	if (d->fmt == DUMP_NPY || d->fmt == DUMP_FVECS) {
		int32_t dim = (int32_t)d->dim; /* .fvecs: each row is its dimension, then the floats */
		if (d->fmt == DUMP_FVECS && fwrite(&dim, sizeof dim, 1, d->out) != 1) return VZ_EIO;
		if (fwrite(v, sizeof(float), d->dim, d->out) != d->dim) return VZ_EIO;
		if (d->ids) {
			fwrite(r->id, 1, r->id_len, d->ids);
			fputc('\n', d->ids);
		}
		return 0;
	}
	fputs("{\"id\":", d->out);
	vz_json_string(d->out, r->id, r->id_len);
	fputs(",\"vector\":", d->out);
	vz_print_vector(d->out, v, d->dim);
	if (r->payload) {
		fputs(",\"payload\":", d->out);
		fwrite(r->payload, 1, r->payload_len, d->out);
	}
	fputs("}\n", d->out);
	return ferror(d->out) ? VZ_EIO : 0;
}

static int count_row(void *ctx, const vz_result *r, const float *v)
{
	(void)r;
	(void)v;
	(*(uint64_t *)ctx)++;
	return 0;
}

/* Creates a new file (never replacing one) through the I/O layer, as a stream. */
static int create_new(const char *path, FILE **out)
{
	int fd, rc = vz_io_open_write(path, O_WRONLY | O_CREAT | O_EXCL, 0666, &fd);
	if (rc) return rc;
	if (!(*out = fdopen(fd, "wb"))) {
		rc = vz_fail(vz_err_from_errno(errno), "%s: cannot create: %s", path, strerror(errno));
		vz_io_close(fd);
	}
	return rc;
}

static int run(struct vz_cli *cli, struct vz_args *args)
{
	const char *fmt = opt_str(args, O_FORMAT, "jsonl");
	enum dump_format f = !strcmp(fmt, "npy") ? DUMP_NPY : !strcmp(fmt, "fvecs") ? DUMP_FVECS : !strcmp(fmt, "csv") ? DUMP_CSV : DUMP_JSONL;
	bool npy = f == DUMP_NPY, binary = npy || f == DUMP_FVECS;
	if (!binary && opt_set(args, O_IDS)) return vz_usage_error(cli, "--ids goes with --format npy or fvecs");
	if (f != DUMP_JSONL && opt_set(args, O_NO_CONFIG)) return vz_usage_error(cli, "--no-config goes with --format jsonl (the other formats have no configuration line)");
	const char *outp = opt_str(args, O_OUTPUT, "-");
	bool to_stdout = !strcmp(outp, "-");
	if (binary && to_stdout && isatty(STDOUT_FILENO))
		return vz_usage_error(cli, "refusing to write binary .%s data to a terminal (use -o FILE or a pipe)", fmt);
	vz_collection *c;
	int rc = vz_cli_open(cli, args->pos[0], VZ_OPEN_READ, &c);
	if (rc) return rc;
	const vz_config *cfg = vz_collection_config(c);
	/* every row is about to be read: a damaged one is an error, never a row printed wrong */
	if ((rc = vz_collection_check_rows(c))) {
		vz_collection_close(c);
		return vz_report(cli, rc);
	}
	FILE *out = stdout;
	if (!to_stdout && (rc = create_new(outp, &out))) {
		vz_collection_close(c);
		return vz_report(cli, rc);
	}
	struct dump_ctx d = { out, cfg->dim, 0, NULL, f };
	if (binary && opt_set(args, O_IDS) && (rc = create_new(opt_str(args, O_IDS, ""), &d.ids))) {
		rc = vz_report(cli, rc);
		goto out;
	}
	if (npy) {
		uint64_t n = 0;
		vz_collection_foreach(c, count_row, &n);
		char header[128];
		int hl = snprintf(header, sizeof header, "{'descr': '<f4', 'fortran_order': False, 'shape': (%llu, %u), }", (unsigned long long)n, cfg->dim);
		int total = 10 + hl + 1, pad = (64 - total % 64) % 64;
		fwrite("\x93NUMPY\x01\x00", 1, 8, out);
		uint16_t hlen = (uint16_t)(hl + pad + 1);
		fputc(hlen & 0xff, out);
		fputc(hlen >> 8, out);
		fwrite(header, 1, (size_t)hl, out);
		for (int i = 0; i < pad; i++) fputc(' ', out);
		fputc('\n', out);
	} else if (f == DUMP_CSV) {
		fputs("id", out); /* the header: vz insert skips a first line whose first field is id */
		for (uint32_t i = 0; i < cfg->dim; i++) fprintf(out, ",v%u", i);
		putc('\n', out);
	} else if (f == DUMP_JSONL && !opt_set(args, O_NO_CONFIG)) {
		/* the header line carries the configuration, so load recreates the collection exactly */
		vz_print_dump_header(out, cfg);
	}
	rc = vz_collection_foreach(c, dump_row, &d);
	if (rc) rc = vz_report(cli, vz_fail(VZ_EIO, "write error"));
	if (d.ids && fclose(d.ids) != 0 && !rc) rc = vz_report(cli, vz_fail(VZ_EIO, "%s: write error", opt_str(args, O_IDS, "")));
out:
	if (!to_stdout && fclose(out) != 0 && !rc) rc = vz_report(cli, vz_fail(VZ_EIO, "%s: write error", outp));
	vz_collection_close(c);
	if (!rc) vz_infof(cli, "%s: %llu vector%s dumped", args->pos[0], (unsigned long long)d.rows, VZ_S(d.rows));
	return rc;
}

const struct vz_command vz_cmd_dump = {
	.name = "dump", .summary = "write a collection as JSON lines, .npy, .fvecs or CSV", .usage = "COLL [-o FILE] [--format jsonl|npy|fvecs|csv] [--no-config] [--ids FILE]",
	.description = "The first line holds the configuration; each other line is {\"id\",\"vector\",\"payload\"}, with floats\n"
		       "printed so that they read back bit-identical. vz load reads it back; vz insert reads it, or the\n"
		       "other formats, into an existing collection.",
	.options = options, .nopts = VZ_NOPTS(options), .min_args = 1, .max_args = 1, .arg_complete = COMPLETE_COLLECTION, .run = run,
};
