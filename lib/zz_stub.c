/* TEMPORARY integration stand-in (exact search, jansson JSONL), deleted when the hnsw and input branches land. */
#include "vz.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
const char *vz_metric_name(enum vz_metric m) { return m == VZ_METRIC_COSINE ? "cosine" : m == VZ_METRIC_EUCLIDEAN ? "euclidean" : m == VZ_METRIC_DOT ? "dot_product" : "unknown"; }
int vz_metric_parse(const char *n, enum vz_metric *o) { if (!strcmp(n,"cosine")) *o=VZ_METRIC_COSINE; else if (!strcmp(n,"euclidean")||!strcmp(n,"l2")) *o=VZ_METRIC_EUCLIDEAN; else if (!strcmp(n,"dot_product")||!strcmp(n,"dot")) *o=VZ_METRIC_DOT; else return vz_fail(VZ_EINVAL,"unknown metric '%s'", n); return 0; }
float vz_l2sq(const float *a, const float *b, size_t d) { float s=0; for (size_t i=0;i<d;i++){float x=a[i]-b[i]; s+=x*x;} return s; }
float vz_dot(const float *a, const float *b, size_t d) { float s=0; for (size_t i=0;i<d;i++) s+=a[i]*b[i]; return s; }
float vz_distance(enum vz_metric m, const float *a, const float *b, size_t d) { return m==VZ_METRIC_EUCLIDEAN ? vz_l2sq(a,b,d) : m==VZ_METRIC_COSINE ? 1-vz_dot(a,b,d) : -vz_dot(a,b,d); }
float vz_score(enum vz_metric m, float d) { return m==VZ_METRIC_EUCLIDEAN ? sqrtf(d) : m==VZ_METRIC_COSINE ? 1-d : -d; }
int vz_normalize(float *v, size_t d) { double s=0; for (size_t i=0;i<d;i++) s+=(double)v[i]*v[i]; if (s==0) return vz_fail(VZ_EDATA,"zero vector"); float inv=(float)(1/sqrt(s)); for (size_t i=0;i<d;i++) v[i]*=inv; return 0; }
const char *vz_simd_level(void) { return "scalar"; }
int vz_simd_force(const char *l) { (void)l; return 0; }
struct vz_hnsw_builder { size_t n; uint32_t dim; enum vz_metric m; };
int vz_hnsw_builder_new(uint32_t dim, enum vz_metric metric, const vz_hnsw_params *p, const float *v, size_t cap, vz_hnsw_builder **out) { (void)p;(void)v;(void)cap; *out = calloc(1, sizeof **out); (*out)->dim=dim; (*out)->m=metric; return 0; }
int vz_hnsw_builder_from_index(const vz_hnsw_index *idx, const float *v, size_t cap, vz_hnsw_builder **out) { (void)v;(void)cap; *out = calloc(1, sizeof **out); (*out)->n=idx->count; (*out)->dim=idx->dim; (*out)->m=idx->metric; return 0; }
int vz_hnsw_builder_add(vz_hnsw_builder *b, size_t first, size_t count, int threads) { (void)threads; if (first != b->n) return vz_fail(VZ_EINTERNAL,"order"); b->n += count; return 0; }
int vz_hnsw_builder_write(vz_hnsw_builder *b, vz_tmpfile *out, uint64_t gen) { vz_file_header h = {.version=1,.generation=gen,.aux=b->n,.aux2=b->dim, .flags=b->m}; memcpy(h.magic, VZ_MAGIC_INDEX, 8); h.body_checksum = vz_hash64(NULL,0); unsigned char buf[64]; vz_header_encode(&h, buf); return vz_tmpfile_write(out, buf, 64); }
void vz_hnsw_builder_free(vz_hnsw_builder *b) { free(b); }
int vz_hnsw_open(const unsigned char *d, size_t size, uint32_t dim, enum vz_metric m, size_t rows, vz_hnsw_index *idx) { vz_file_header h; int rc = vz_header_decode(d, size, VZ_MAGIC_INDEX, 1, &h); if (rc) return rc; if (h.aux != rows || h.aux2 != dim) return vz_fail(VZ_ECORRUPT, "offset 40: row count %llu, expected %zu", (unsigned long long)h.aux, rows); idx->data=d; idx->size=size; idx->count=rows; idx->dim=dim; idx->metric=m; return 0; }
size_t vz_hnsw_count(const vz_hnsw_index *idx) { return idx->count; }
int vz_hnsw_search(const vz_hnsw_index *idx, const float *v, const float *q, size_t k, size_t ef, bool (*skip)(void*,uint32_t), void *ctx, vz_hit *out, size_t *n) { (void)ef; return vz_exact_search(v, idx->count, idx->dim, idx->metric, q, k, skip, ctx, out, n); }
int vz_hnsw_verify(const vz_hnsw_index *idx) { vz_file_header h; int rc = vz_header_decode(idx->data, idx->size, VZ_MAGIC_INDEX, 1, &h); if (rc) return rc; if (idx->size != 64) return vz_fail(VZ_ECORRUPT, "offset 64: trailing bytes"); return 0; }
int vz_exact_search(const float *v, size_t n, uint32_t dim, enum vz_metric m, const float *q, size_t k, bool (*skip)(void*,uint32_t), void *ctx, vz_hit *out, size_t *nout) {
	size_t got = 0;
	for (size_t r = 0; r < n; r++) {
		if (skip && skip(ctx, (uint32_t)r)) continue;
		float d = vz_distance(m, v + r * dim, q, dim);
		size_t pos = got < k ? got++ : k;
		if (pos == k) { if (k == 0 || d >= out[k-1].distance) continue; pos = k - 1; }
		while (pos > 0 && (out[pos-1].distance > d)) { out[pos] = out[pos-1]; pos--; }
		out[pos] = (vz_hit){ (uint32_t)r, d };
	}
	*nout = got; return 0;
}
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
