/* get.c: `vz get COLL ID...`: print stored vectors' payloads (and vectors). */
#include "cli.h"

#include <string.h>

enum { O_JSON, O_VECTOR };
static const struct vz_option options[] = {
	[O_JSON] = { "json", 0, OPT_FLAG, NULL, "one JSON object a line: id, payload (and vector)", 0, 0, COMPLETE_NONE, NULL },
	[O_VECTOR] = { "vector", 0, OPT_FLAG, NULL, "include the stored vector", 0, 0, COMPLETE_NONE, NULL },
};

static int run(struct vz_cli *cli, struct vz_args *args)
{
	vz_collection *c;
	int rc = vz_cli_open(cli, args->pos[0], VZ_OPEN_READ, &c);
	if (rc) return rc;
	bool json = opt_set(args, O_JSON), with_vec = opt_set(args, O_VECTOR);
	uint32_t dim = vz_collection_config(c)->dim;
	int status = 0;
	for (int i = 1; i < args->npos; i++) {
		vz_result r;
		const float *v;
		int g = vz_collection_get(c, args->pos[i], strlen(args->pos[i]), &r, &v);
		if (g) {
			status = vz_report(cli, g);
			continue;
		}
		if (json) {
			fputs("{\"id\":", stdout);
			vz_json_string(stdout, r.id, r.id_len);
			fputs(",\"payload\":", stdout);
			if (r.payload) fwrite(r.payload, 1, r.payload_len, stdout);
			else fputs("null", stdout);
			if (with_vec) {
				fputs(",\"vector\":", stdout);
				vz_print_vector(stdout, v, dim);
			}
			fputs("}\n", stdout);
		} else {
			/* as query prints a hit: no payload, no column (but an empty one before a vector) */
			vz_print_safe(stdout, r.id, r.id_len);
			if (r.payload || with_vec) putchar('\t');
			if (r.payload) vz_print_safe(stdout, r.payload, r.payload_len);
			if (with_vec) {
				putchar('\t');
				vz_print_vector(stdout, v, dim);
			}
			putchar('\n');
		}
	}
	vz_collection_close(c);
	return status;
}

const struct vz_command vz_cmd_get = {
	.name = "get", .summary = "print vectors by id", .usage = "COLL ID... [--json] [--vector]",
	.description = "Exits 66 if any id does not exist (the others are still printed).",
	.options = options, .nopts = VZ_NOPTS(options), .min_args = 2, .max_args = -1, .arg_complete = COMPLETE_COLLECTION, .run = run,
};
