/* TEMPORARY integration stand-in (exact search, jansson JSONL), deleted when the hnsw and input branches land. */
#include "vz.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
/* input stub: JSONL only, via jansson */
#include <jansson.h>
int vz_input_format_parse(const char *name, enum vz_input_format *out) { (void)name; *out = VZ_FMT_JSONL; return 0; }
enum vz_input_format vz_input_format_from_path(const char *path) { (void)path; return VZ_FMT_JSONL; }
void vz_batch_free(vz_batch *b) { for (size_t i=0;i<b->n;i++){ free(b->ids[i]); free(b->payloads[i]); } free(b->ids); free(b->payloads); free(b->payload_lens); free(b->vectors); free(b->ops); free(b->lines); memset(b,0,sizeof *b); }
int vz_batch_parse(const char *name, const unsigned char *data, size_t len, enum vz_input_format fmt, uint32_t expect_dim, unsigned flags, uint64_t id_base, vz_batch *b) {
	(void)fmt; (void)id_base; memset(b,0,sizeof *b);
	size_t cap = 16; b->ids = calloc(cap, sizeof(char*)); b->payloads = calloc(cap, sizeof(char*)); b->payload_lens = calloc(cap, sizeof(size_t)); b->ops = calloc(cap, sizeof(enum vz_op)); b->lines = calloc(cap, sizeof(size_t)); b->vectors = NULL;
	size_t line = 0; const char *p = (const char*)data, *end = p + len;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)); if (!nl) nl = end; line++;
		if (nl == p) { p = nl + 1; continue; }
		json_error_t e; json_t *o = json_loadb(p, (size_t)(nl - p), 0, &e);
		if (!o) { vz_batch_free(b); return vz_fail(VZ_EDATA, "%s: line %zu: %s", name, line, e.text); }
		if (b->n == cap) { cap *= 2; b->ids = realloc(b->ids, cap*sizeof(char*)); b->payloads = realloc(b->payloads, cap*sizeof(char*)); b->payload_lens = realloc(b->payload_lens, cap*sizeof(size_t)); b->ops = realloc(b->ops, cap*sizeof(enum vz_op)); b->lines = realloc(b->lines, cap*sizeof(size_t)); }
		json_t *id = json_object_get(o, "id"), *vec = json_object_get(o, "vector"), *pl = json_object_get(o, "payload"), *op = json_object_get(o, "op");
		if (!json_is_string(id)) { json_decref(o); vz_batch_free(b); return vz_fail(VZ_EDATA, "%s: line %zu: no id", name, line); }
		size_t i = b->n++; b->ids[i] = strdup(json_string_value(id)); b->lines[i] = line; b->ops[i] = VZ_OP_INSERT;
		b->payloads[i] = pl ? json_dumps(pl, JSON_COMPACT|JSON_ENCODE_ANY) : NULL; b->payload_lens[i] = pl ? strlen(b->payloads[i]) : 0;
		if (op && (flags & VZ_READ_OPS)) { const char *s = json_string_value(op); b->ops[i] = !strcmp(s,"update") ? VZ_OP_UPDATE : !strcmp(s,"delete") ? VZ_OP_DELETE : !strcmp(s,"upsert") ? VZ_OP_UPSERT : VZ_OP_INSERT; }
		if (json_is_array(vec)) {
			uint32_t d = (uint32_t)json_array_size(vec);
			if (!b->dim) b->dim = d;
			if (d != b->dim || (expect_dim && d != expect_dim)) { json_decref(o); vz_batch_free(b); return vz_fail(VZ_EDATA, "%s: line %zu: vector has dimension %u, expected %u", name, line, d, expect_dim ? expect_dim : b->dim); }
			b->vectors = realloc(b->vectors, cap * d * sizeof(float));
			for (uint32_t j = 0; j < d; j++) b->vectors[i*d+j] = (float)json_number_value(json_array_get(vec, j));
		}
		json_decref(o); p = nl + 1;
	}
	if (!b->vectors) b->vectors = calloc(1, 4);
	return 0;
}
int vz_batch_read(const char *path, enum vz_input_format fmt, uint32_t expect_dim, unsigned flags, uint64_t id_base, vz_batch *out) {
	char *buf; size_t len; int rc = vz_read_file(path, (size_t)1 << 32, &buf, &len); if (rc) return rc;
	rc = vz_batch_parse(path, (unsigned char*)buf, len, fmt, expect_dim, flags, id_base, out); free(buf); return rc;
}
int vz_parse_vector(const char *text, float **out, uint32_t *dim) {
	json_error_t e; json_t *a = json_loads(text, 0, &e); if (!json_is_array(a)) { json_decref(a); return vz_fail(VZ_EDATA, "not a JSON array"); }
	*dim = (uint32_t)json_array_size(a); *out = malloc(4 * (*dim + 1)); for (uint32_t j = 0; j < *dim; j++) (*out)[j] = (float)json_number_value(json_array_get(a, j)); json_decref(a); return 0;
}
