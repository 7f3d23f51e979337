/* info.c: `vz info [COLL]`: the data directory in use and why, or one collection's state. */
#include "cli.h"

#include <string.h>
#include <time.h>

enum { O_JSON };
static const struct vz_option options[] = {
	[O_JSON] = { "json", 0, OPT_FLAG, NULL, "print a JSON object", 0, 0, COMPLETE_NONE, NULL },
};

static void iso_time(int64_t t, char *out, size_t cap)
{
	if (!t) { snprintf(out, cap, "never"); return; }
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int run(struct vz_cli *cli, struct vz_args *args)
{
	bool json = opt_set(args, O_JSON);
	char dd[VZ_PATH_MAX];
	enum vz_datadir_source src;
	int rc = vz_cli_data_dir(cli, dd, sizeof dd, &src);
	if (rc) return vz_report(cli, rc);
	if (args->npos == 0) {
		if (json) {
			fputs("{\"data_dir\":", stdout);
			vz_json_string(stdout, dd, strlen(dd));
			fputs(",\"source\":", stdout);
			vz_json_string(stdout, vz_datadir_source_name(src), strlen(vz_datadir_source_name(src)));
			printf(",\"version\":\"%s\",\"simd\":\"%s\"}\n", VZ_VERSION, vz_simd_level());
		} else {
			vz_printf_safe(stdout, "data directory: %s\nchosen by:      %s\nvz version:     %s\nsimd kernels:   %s\n", dd,
			       vz_datadir_source_name(src), VZ_VERSION, vz_simd_level());
		}
		return 0;
	}
	vz_collection *c;
	if ((rc = vz_cli_open(cli, args->pos[0], VZ_OPEN_READ | VZ_OPEN_DAMAGED_OK, &c))) return rc;
	vz_collection_stats st;
	vz_collection_stats_get(c, &st);
	const vz_config *cfg = vz_collection_config(c);
	const char *warning = vz_collection_warning(c);
	char when[32];
	iso_time(st.checkpoint_time, when, sizeof when);
	const char *health = warning ? "damaged WAL: run vz recover" : "ok (run vz verify for a full check)";
	/* the base's graph: a workspace build may leave it to a checkpoint (searches scan meanwhile) */
	const char *graph = st.graph_deferred ? "deferred" : st.rows ? "built" : "none";
	if (json) {
		printf("{\"collection\":\"%s\",\"kind\":\"%s\",\"dim\":%u,\"metric\":\"%s\",\"m\":%u,\"ef_construction\":%u,\"ef_search\":%u,"
		       "\"quantization\":\"%s\",\"embedding\":",
		       args->pos[0], st.workspace ? "workspace" : "dynamic", cfg->dim, vz_metric_name(cfg->metric), cfg->m,
		       cfg->ef_construction, cfg->ef_search, cfg->quantization == VZ_QUANT_SQ8 ? "sq8" : "none");
		vz_print_json_or_null(stdout, cfg->embedding);
		printf(",\"vectors\":%llu,\"rows\":%llu,\"tombstones\":%llu,\"generation\":%llu,"
		       "\"wal_ops\":%llu,\"wal_bytes\":%llu,\"wal_oldest_seconds\":%.1f,\"last_checkpoint\":",
		       (unsigned long long)st.live, (unsigned long long)st.rows, (unsigned long long)st.tombstones,
		       (unsigned long long)st.generation, (unsigned long long)st.wal_ops, (unsigned long long)st.wal_bytes,
		       st.wal_oldest_age);
		vz_print_json_or_null(stdout, st.checkpoint_time ? when : NULL);
		printf(",\"segments\":%u,\"graph\":\"%s\",\"bytes\":%llu,\"checkpoint_ops\":%u,\"checkpoint_seconds\":%u,\"health\":",
		       st.segments, graph, (unsigned long long)st.bytes, cfg->checkpoint_ops, cfg->checkpoint_seconds);
		vz_json_string(stdout, health, strlen(health));
		puts("}");
	} else {
		printf("name:            %s (%s)\ndimension:       %u\nmetric:          %s\nhnsw:            m %u, ef_construction %u, ef_search %u\n"
		       "quantization:    %s\nembedding:       %s\nvectors:         %llu live (%llu rows, %llu tombstones in the checkpoint)\n"
		       "segments:        %u\ngraph:           %s\n"
		       "generation:      %llu\nlast checkpoint: %s\nwal:             %llu operation%s, %llu bytes, oldest %.0f s ago\n"
		       "auto checkpoint: after %u operations or %u s\nsize:            %llu bytes\nhealth:          %s\n",
		       args->pos[0], st.workspace ? "workspace" : "dynamic", cfg->dim, vz_metric_name(cfg->metric), cfg->m,
		       cfg->ef_construction, cfg->ef_search, cfg->quantization == VZ_QUANT_SQ8 ? "sq8" : "none",
		       cfg->embedding[0] ? cfg->embedding : "none", (unsigned long long)st.live, (unsigned long long)st.rows,
		       (unsigned long long)st.tombstones, st.segments, graph, (unsigned long long)st.generation, when, (unsigned long long)st.wal_ops,
		       st.wal_ops == 1 ? "" : "s", (unsigned long long)st.wal_bytes, st.wal_oldest_age, cfg->checkpoint_ops, cfg->checkpoint_seconds,
		       (unsigned long long)st.bytes, health);
	}
	vz_collection_close(c);
	return 0;
}

const struct vz_command vz_cmd_info = {
	.name = "info", .summary = "show the data directory in use, or a collection's state", .usage = "[COLL] [--json]",
	.options = options, .nopts = VZ_NOPTS(options), .min_args = 0, .max_args = 1, .arg_complete = COMPLETE_COLLECTION, .run = run,
};
