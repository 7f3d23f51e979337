/* query.c: `vz query COLL`: k nearest neighbours of a vector, of each vector of a batch, or of a text. */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

enum { O_VECTOR, O_BATCH, O_TEXT, O_K, O_EF, O_FORMAT, O_JSON, O_CHUNKS, O_WHERE, O_THREADS };
static const struct vz_option options[] = {
	[O_VECTOR] = { "vector", 0, OPT_STRING, "JSON", "the query vector as a JSON array", 0, 0, COMPLETE_NONE, NULL },
	[O_BATCH] = { "batch", 0, OPT_STRING, "FILE", "one query per vector of FILE (JSON lines of {\"vector\"} or arrays, .fvecs, .npy, .csv; .zst/.gz; - for stdin)", 0, 0, COMPLETE_FILE, NULL },
	[O_TEXT] = { "text", 0, OPT_STRING, "TEXT", "embed TEXT with the collection's built-in embedding", 0, 0, COMPLETE_NONE, NULL },
	[O_K] = { "k", 'k', OPT_INT, "N", "number of neighbours (default 10)", 1, 100000, COMPLETE_NONE, NULL },
	[O_EF] = { "ef", 0, OPT_INT, "N", "search candidate list (default: the collection's ef_search)", 1, 100000, COMPLETE_NONE, NULL },
	[O_FORMAT] = { "format", 0, OPT_STRING, "FMT", "format of --batch: jsonl, fvecs, npy or csv, each maybe .zst or .gz (default: from the extension)", 0, 0, COMPLETE_WORDS, VZ_CLI_INPUT_FORMATS },
	[O_JSON] = { "json", 0, OPT_FLAG, NULL, "one JSON object a line", 0, 0, COMPLETE_NONE, NULL },
	[O_CHUNKS] = { "chunks", 0, OPT_FLAG, NULL, "with --text: every matching chunk, not the best one of each file", 0, 0, COMPLETE_NONE, NULL },
	[O_WHERE] = { "where", 0, OPT_STRING, "EXPR", "keep only rows whose payload satisfies EXPR", 0, 0, COMPLETE_NONE, NULL },
	[O_THREADS] = { "threads", 0, OPT_INT, "N", "threads answering a --batch (default: every core)", 1, 1024, COMPLETE_NONE, NULL },
};

/* --where: the filter, parsed before the collection is opened (a bad expression is a usage
 * error, exit 64, naming the column); NULL without the option. */
static int parse_where(struct vz_cli *cli, struct vz_args *args, vz_filter **f)
{
	*f = NULL;
	if (!opt_set(args, O_WHERE)) return 0;
	if (opt_set(args, O_TEXT)) return vz_usage_error(cli, "--where goes with --vector or --batch, not --text");
	if (vz_filter_parse(opt_str(args, O_WHERE, ""), f)) return vz_usage_error(cli, "--where: %s", vz_last_error());
	return 0;
}

int vz_cli_embed_text(const struct vz_cli *cli, vz_collection *c, const char *coll_dir, const char *text, float *out);
/* Prints a --text result as "score<TAB>id<TAB>snippet" when its payload has a "text" member
 * (workspace chunks, inserted texts), else as vz_print_result does. */
void vz_cli_print_text_hit(FILE *out, const vz_result *r, const char *query);
/* Answers a --text query from the collection's postings.bin: VZ_ENOENT (nothing printed) when
 * it has none or one of another generation, else an exit status. */
int vz_cli_text_search(const struct vz_cli *cli, vz_collection *c, const char *coll_dir, const char *query, size_t k, bool chunks, bool json);

/* One query of a batch, streamed as it is ready. JSON: {"query":N,"id":ID or null,"results":
 * [{"id","score"}...]}; text: one line a hit, QUERY<TAB>SCORE<TAB>ID, QUERY the query's id, or
 * its number from 0 when it has none; a query without hits prints nothing in text. */
/* i in decimal: printf's parsing of its format was a few percent of a long batch's output */
static void put_index(size_t i)
{
	char d[24], *p = d + sizeof d;
	do *--p = (char)('0' + i % 10);
	while (i /= 10);
	fwrite(p, 1, (size_t)(d + sizeof d - p), stdout);
}

static void print_batch_result(size_t i, const char *qid, const vz_result *res, size_t n, bool json)
{
	if (json) {
		fputs("{\"query\":", stdout);
		put_index(i);
		fputs(",\"id\":", stdout);
		if (qid) vz_json_string(stdout, qid, strlen(qid));
		else fputs("null", stdout);
		fputs(",\"results\":[", stdout);
		for (size_t j = 0; j < n; j++) {
			fputs(j ? ",{\"id\":" : "{\"id\":", stdout);
			vz_json_string(stdout, res[j].id, res[j].id_len);
			fputs(",\"score\":", stdout);
			vz_print_float(stdout, res[j].score);
			putchar('}');
		}
		fputs("]}\n", stdout);
		return;
	}
	for (size_t j = 0; j < n; j++) {
		if (qid) vz_print_safe(stdout, qid, strlen(qid));
		else put_index(i);
		putchar('\t');
		vz_print_float(stdout, res[j].score);
		putchar('\t');
		vz_print_safe(stdout, res[j].id, res[j].id_len);
		putchar('\n');
	}
}

/* --batch: the library answers the queries (vz_collection_query_batch, --threads), this prints
 * them in order as they come. */
struct batch_out { const vz_batch *b; bool json; };

static int print_batch_results(void *ctx, size_t i, const vz_result *r, size_t n)
{
	const struct batch_out *o = ctx;
	print_batch_result(i, o->b->ids ? o->b->ids[i] : NULL, r, n, o->json);
	return ferror(stdout) ? VZ_EIO : VZ_OK;
}

static int run_batch(const struct vz_cli *cli, vz_collection *c, const vz_batch *b, size_t k, size_t ef, bool json, int threads)
{
	struct batch_out o = { b, json };
	int rc = vz_collection_query_batch(c, b->vectors, b->n, k, ef, threads, print_batch_results, &o);
	/* a closed or full stdout stops the batch quietly, as a failed printf did */
	return rc == VZ_EIO && ferror(stdout) ? 0 : rc ? vz_report(cli, rc) : 0;
}

static int run(struct vz_cli *cli, struct vz_args *args)
{
	int given = opt_set(args, O_VECTOR) + opt_set(args, O_BATCH) + opt_set(args, O_TEXT);
	if (given != 1) return vz_usage_error(cli, "give exactly one of --vector, --batch or --text");
	if (opt_set(args, O_CHUNKS) && !opt_set(args, O_TEXT)) return vz_usage_error(cli, "--chunks goes with --text");
	size_t k = (size_t)opt_int(args, O_K, 10), ef = (size_t)opt_int(args, O_EF, 0);
	bool json = opt_set(args, O_JSON);
	vz_filter *where;
	int rc = parse_where(cli, args, &where);
	if (rc) return rc;
	vz_batch b = { 0 };
	float *single = NULL;
	uint32_t qdim = 0;
	size_t nq = 1;
	if (opt_set(args, O_VECTOR)) {
		if ((rc = vz_parse_vector(opt_str(args, O_VECTOR, ""), &single, &qdim))) {
			vz_fail_prefix(rc, "--vector: ");
			return vz_report(cli, rc);
		}
	} else if (opt_set(args, O_BATCH)) {
		enum vz_input_format fmt = VZ_FMT_AUTO;
		if (opt_set(args, O_FORMAT) && vz_input_format_parse(opt_str(args, O_FORMAT, ""), &fmt))
			return vz_usage_error(cli, "%s", vz_last_error());
		if ((rc = vz_batch_read(opt_str(args, O_BATCH, "-"), fmt, 0, VZ_READ_QUERIES, 0, &b))) return vz_report(cli, rc);
		qdim = b.dim;
		nq = b.n;
	}
	if (where) vz_filter_set_queries(where, nq);
	vz_collection *c;
	/* a text query ranks with postings.bin: index.hnsw is not needed */
	if ((rc = vz_cli_open(cli, args->pos[0], VZ_OPEN_READ | (opt_set(args, O_TEXT) ? VZ_OPEN_NO_INDEX : 0), &c))) goto out_free;
	const vz_config *cfg = vz_collection_config(c);
	char dir[VZ_PATH_MAX] = "";
	/* the collection's folder, for a text query and a workspace collection only (finding it
	 * again stats each folder of the path: a few percent of a one-shot query's system calls) */
	bool have_dir = (opt_set(args, O_TEXT) || strchr(args->pos[0], '/')) && vz_cli_collection_dir(cli, args->pos[0], dir, sizeof dir, NULL) == 0;
	/* a workspace collection: say so when its workspace file changed since `vz build` (a --text
	 * query says it on its own path) */
	if (!opt_set(args, O_TEXT) && strchr(args->pos[0], '/') && have_dir) vz_cli_warn_stale(cli, c, dir);
	if (opt_set(args, O_TEXT)) {
		rc = vz_cli_text_search(cli, c, dir, opt_str(args, O_TEXT, ""), k, opt_set(args, O_CHUNKS), json);
		if (rc != VZ_ENOENT) goto out;
		rc = 0;
		qdim = cfg->dim;
		if (!(single = malloc(sizeof(float) * qdim))) { rc = vz_report(cli, vz_fail(VZ_ENOMEM, "out of memory")); goto out; }
		if ((rc = vz_cli_embed_text(cli, c, dir, opt_str(args, O_TEXT, ""), single))) goto out;
	}
	if (nq > 0 && qdim != cfg->dim) {
		rc = vz_report(cli, vz_fail(VZ_EDATA, "query vectors have dimension %u, the collection has %u", qdim, cfg->dim));
		goto out;
	}
	/* a filtered batch is answered query by query below: the filter's rows are evaluated once,
	 * on this thread, and kept for every query */
	if (opt_set(args, O_BATCH) && !where) {
		rc = run_batch(cli, c, &b, k, ef, json, vz_cli_threads(opt_int(args, O_THREADS, 0)));
		goto out;
	}
	vz_collection_warm(c, nq, ef);
	vz_result *res = malloc(sizeof(vz_result) * k);
	if (!res) { rc = vz_report(cli, vz_fail(VZ_ENOMEM, "out of memory")); goto out; }
	for (size_t i = 0; i < nq && rc == 0; i++) {
		const float *q = single ? single : b.vectors + i * b.dim;
		size_t n;
		int qrc = vz_collection_query_where(c, q, k, ef, where, res, &n);
		if (qrc) { rc = vz_report(cli, qrc); break; }
		if (where && i == 0 && cli->verbosity > 0 && vz_collection_where_plan(c))
			fprintf(stderr, "%s: --where: %s\n", cli->prog, vz_collection_where_plan(c));
		if (opt_set(args, O_BATCH)) {
			print_batch_result(i, b.ids ? b.ids[i] : NULL, res, n, json);
		} else {
			for (size_t j = 0; j < n; j++) {
				if (!json && opt_set(args, O_TEXT)) vz_cli_print_text_hit(stdout, &res[j], opt_str(args, O_TEXT, ""));
				else vz_print_result(stdout, &res[j], json, true);
			}
		}
		if (ferror(stdout)) break;
	}
	free(res);
out:
	vz_collection_close(c);
out_free:
	free(single);
	vz_filter_free(where);
	if (opt_set(args, O_BATCH)) vz_batch_free(&b);
	return rc;
}

const struct vz_command vz_cmd_query = {
	.name = "query", .summary = "find the nearest neighbours of a vector or a text", .usage = "COLL (--vector JSON | --batch FILE | --text TEXT) [-k N] [options]",
	.description = "Scores: cosine similarity for cosine and the dot product for dot_product (higher is better),\n"
		       "the L2 distance for euclidean (lower is better). Results are best first.",
	.options = options, .nopts = VZ_NOPTS(options), .min_args = 1, .max_args = 1, .arg_complete = COMPLETE_COLLECTION, .run = run,
};
