/* create.c: `vz create NAME --dim N ...`: a new dynamic collection. */
#include "cli.h"

#include <string.h>

enum { O_DIM, O_METRIC, O_M, O_EFC, O_EFS, O_QUANT, O_EMBEDDING, O_CP_OPS, O_CP_SECONDS, O_JSON };
static const struct vz_option options[] = {
	[O_DIM] = { "dim", 0, OPT_INT, "N", "vector dimension (required)", 1, VZ_MAX_DIM, COMPLETE_NONE, NULL },
	[O_METRIC] = { "metric", 0, OPT_STRING, "METRIC", "cosine (default), euclidean or dot_product", 0, 0, COMPLETE_WORDS, "cosine euclidean dot_product" },
	[O_M] = { "m", 0, OPT_INT, "N", "HNSW links per node (default 16)", 2, 128, COMPLETE_NONE, NULL },
	[O_EFC] = { "ef-construction", 0, OPT_INT, "N", "HNSW build candidate list (default 200)", 1, 10000, COMPLETE_NONE, NULL },
	[O_EFS] = { "ef-search", 0, OPT_INT, "N", "HNSW search candidate list (default 64)", 1, 10000, COMPLETE_NONE, NULL },
	[O_QUANT] = { "quantization", 0, OPT_STRING, "Q", "none (default) or sq8", 0, 0, COMPLETE_WORDS, "none sq8" },
	[O_EMBEDDING] = { "embedding", 0, OPT_STRING, "MODEL", "built-in text embedding for --text (bm25)", 0, 0, COMPLETE_WORDS, "bm25" },
	[O_CP_OPS] = { "checkpoint-ops", 0, OPT_INT, "N", "automatic checkpoint after N WAL operations (default 1000)", 1, 100000000, COMPLETE_NONE, NULL },
	[O_CP_SECONDS] = { "checkpoint-seconds", 0, OPT_INT, "S", "... or when the oldest is S seconds old (default 300)", 1, 100000000, COMPLETE_NONE, NULL },
	[O_JSON] = { "json", 0, OPT_FLAG, NULL, "print the new collection's configuration as JSON", 0, 0, COMPLETE_NONE, NULL },
};

static int run(struct vz_cli *cli, struct vz_args *args)
{
	const char *name = args->pos[0];
	if (!opt_set(args, O_DIM)) return vz_usage_error(cli, "--dim is required");
	vz_config cfg;
	vz_config_defaults(&cfg);
	cfg.dim = (uint32_t)opt_int(args, O_DIM, 0);
	if (opt_set(args, O_METRIC) && vz_metric_parse(opt_str(args, O_METRIC, ""), &cfg.metric))
		return vz_usage_error(cli, "%s", vz_last_error());
	cfg.m = (uint32_t)opt_int(args, O_M, cfg.m);
	cfg.ef_construction = (uint32_t)opt_int(args, O_EFC, cfg.ef_construction);
	cfg.ef_search = (uint32_t)opt_int(args, O_EFS, cfg.ef_search);
	cfg.quantization = !strcmp(opt_str(args, O_QUANT, "none"), "sq8") ? VZ_QUANT_SQ8 : VZ_QUANT_NONE;
	if (opt_set(args, O_EMBEDDING)) snprintf(cfg.embedding, sizeof cfg.embedding, "%s", opt_str(args, O_EMBEDDING, ""));
	/* the workspace file's checkpoint section is the default of new dynamic collections */
	char yml[VZ_PATH_MAX];
	vz_workspace *ws = NULL;
	if (!(opt_set(args, O_CP_OPS) && opt_set(args, O_CP_SECONDS)) && vz_find_workspace_file(yml, sizeof yml) == VZ_OK &&
	    vz_workspace_load(yml, &ws) == VZ_OK) {
		if (ws->checkpoint_ops) cfg.checkpoint_ops = ws->checkpoint_ops;
		if (ws->checkpoint_seconds) cfg.checkpoint_seconds = ws->checkpoint_seconds;
	}
	vz_workspace_free(ws);
	cfg.checkpoint_ops = (uint32_t)opt_int(args, O_CP_OPS, cfg.checkpoint_ops);
	cfg.checkpoint_seconds = (uint32_t)opt_int(args, O_CP_SECONDS, cfg.checkpoint_seconds);
	if (strchr(name, '/'))
		return vz_usage_error(cli, "'%s': workspace collections (PROJECT/COLLECTION) are declared in vectorize-workspace.yml, not created", name);
	if (!vz_name_valid(name))
		return vz_usage_error(cli, "'%s' is not a valid collection name (letters, digits, '.', '_', '-'; at most 64; starting with a letter or digit)", name);
	char dd[VZ_PATH_MAX];
	int rc = vz_cli_data_dir(cli, dd, sizeof dd, NULL);
	if (!rc) rc = vz_collection_create(dd, name, &cfg);
	if (rc == VZ_EINVAL) return vz_usage_error(cli, "%s", vz_last_error());
	if (rc) return vz_report(cli, rc);
	if (opt_set(args, O_JSON)) {
		printf("{\"collection\":\"%s\",\"dim\":%u,\"metric\":\"%s\",\"m\":%u,\"ef_construction\":%u,\"ef_search\":%u,\"quantization\":\"%s\",\"embedding\":",
		       name, cfg.dim, vz_metric_name(cfg.metric), cfg.m, cfg.ef_construction, cfg.ef_search,
		       cfg.quantization == VZ_QUANT_SQ8 ? "sq8" : "none");
		vz_print_json_or_null(stdout, cfg.embedding);
		puts("}");
	} else
		vz_infof(cli, "created %s (dim %u, %s)", name, cfg.dim, vz_metric_name(cfg.metric));
	return 0;
}

const struct vz_command vz_cmd_create = {
	.name = "create", .summary = "create a dynamic collection", .usage = "NAME --dim N [options]",
	.description = "Creates an empty read-write collection in the data directory's dynamic/ folder.",
	.options = options, .nopts = VZ_NOPTS(options), .min_args = 1, .max_args = 1, .run = run,
};
