/* backup_manifest.c: a backup's manifest.json (vz-format(5), Backup archives): the names a backup
 * may carry, and the parsing and validation of an untrusted manifest. */
#include "backup_internal.h"

/* ---- names ---- */

/* A file name inside a collection that a backup may carry and a restore may create: a plain
 * name (no '/', not hidden, so never ".", ".." or a .vztmp file), not LOCK. */
bool vz_bk_file_name_ok(const char *s)
{
	size_t len = strlen(s);
	if (len == 0 || len > 255 || s[0] == '.' || !strcmp(s, "LOCK")) return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* The archive directory of a collection: dynamic/NAME or workspace/PROJECT/COLLECTION. */
int vz_bk_collection_prefix(const char *name, char *out, size_t cap)
{
	const char *slash = strchr(name, '/');
	if (!slash) {
		if (!vz_name_valid(name)) return vz_fail(VZ_EINVAL, "'%s' is not a valid collection name", name);
		return vz_path_fmt(out, cap, "dynamic/%s", name);
	}
	char project[80];
	size_t plen = (size_t)(slash - name);
	if (plen >= sizeof project) return vz_fail(VZ_EINVAL, "'%s' is not a valid collection name", name);
	memcpy(project, name, plen);
	project[plen] = '\0';
	if (!vz_name_valid(project) || !vz_name_valid(slash + 1))
		return vz_fail(VZ_EINVAL, "'%s' is not a valid collection name", name);
	return vz_path_fmt(out, cap, "workspace/%s", name);
}

void vz_bk_manifest_free(struct manifest *m)
{
	free(m->colls);
	free(m->files);
	free(m->by_path);
	memset(m, 0, sizeof *m);
}

static int cmp_path(const void *a, const void *b, void *ctx)
{
	const struct manifest *m = ctx;
	return strcmp(m->files[*(const size_t *)a].path, m->files[*(const size_t *)b].path);
}

struct mfile *vz_bk_manifest_find(const struct manifest *m, const char *path)
{
	size_t lo = 0, hi = m->nfiles;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(m->files[m->by_path[mid]].path, path);
		if (c == 0) return &m->files[m->by_path[mid]];
		if (c < 0) lo = mid + 1;
		else hi = mid;
	}
	return NULL;
}

/* Indexes the files by path (bsearch) and refuses duplicates. */
static int manifest_index(struct manifest *m)
{
	m->by_path = malloc((m->nfiles ? m->nfiles : 1) * sizeof *m->by_path);
	if (!m->by_path) return vz_fail(VZ_ENOMEM, "out of memory");
	for (size_t i = 0; i < m->nfiles; i++) m->by_path[i] = i;
	qsort_r(m->by_path, m->nfiles, sizeof *m->by_path, cmp_path, m);
	for (size_t i = 1; i < m->nfiles; i++)
		if (!strcmp(m->files[m->by_path[i]].path, m->files[m->by_path[i - 1]].path))
			return vz_fail(VZ_ECORRUPT, VZ_BACKUP_MANIFEST ": lists %s twice", m->files[m->by_path[i]].path);
	return VZ_OK;
}

static int hex64(const char *s, uint64_t *out)
{
	if (strlen(s) != 16) return -1;
	uint64_t v = 0;
	for (int i = 0; i < 16; i++) {
		char c = s[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0) return -1;
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return 0;
}

#define MBAD(...) vz_fail(VZ_ECORRUPT, VZ_BACKUP_MANIFEST ": " __VA_ARGS__)

static int manifest_parse_file(struct manifest *m, const struct mcoll *c, size_t ci, json_t *jf, size_t fi)
{
	json_t *jp = json_object_get(jf, "path"), *js = json_object_get(jf, "size"), *jh = json_object_get(jf, "xxh3");
	if (!json_is_object(jf) || !json_is_string(jp) || !json_is_integer(js) || !json_is_string(jh))
		return MBAD("%s: file %zu: needs a path, a size and an xxh3 checksum", c->name, fi);
	const char *path = json_string_value(jp);
	size_t plen = strlen(c->prefix);
	if (strncmp(path, c->prefix, plen) != 0 || path[plen] != '/' || !vz_bk_file_name_ok(path + plen + 1))
		return MBAD("%s: file path '%.300s' is not a plain file of %s/", c->name, path, c->prefix);
	json_int_t size = json_integer_value(js);
	if (size < 0 || (uint64_t)size > VZ_BACKUP_MAX_FILE)
		return MBAD("%s: %s: size %lld is out of range", c->name, path, (long long)size);
	struct mfile *f = &m->files[m->nfiles];
	memset(f, 0, sizeof *f);
	snprintf(f->path, sizeof f->path, "%s", path);
	f->base = f->path + plen + 1;
	f->size = (uint64_t)size;
	f->coll = ci;
	if (hex64(json_string_value(jh), &f->hash)) return MBAD("%s: %s: xxh3 is not 16 lowercase hex digits", c->name, path);
	if (vz_add_overflow_u64(m->total, f->size, &m->total) || m->total > VZ_BACKUP_MAX_TOTAL)
		return MBAD("the files' total size is beyond the bound of %llu bytes", (unsigned long long)VZ_BACKUP_MAX_TOTAL);
	m->nfiles++;
	return VZ_OK;
}

/* Parses and validates manifest.json (untrusted). */
int vz_bk_manifest_parse(const char *text, size_t len, struct manifest *m)
{
	memset(m, 0, sizeof *m);
	json_error_t jerr;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) return MBAD("line %d column %d: %s", jerr.line, jerr.column, jerr.text);
	int rc = VZ_OK;
	json_t *jfmt = json_object_get(root, "format"), *jver = json_object_get(root, "format_version");
	json_t *jcreated = json_object_get(root, "created"), *jvz = json_object_get(root, "vz_version");
	json_t *jcolls = json_object_get(root, "collections");
	json_t *jcount = json_object_get(root, "file_count"), *jtotal = json_object_get(root, "total_size");
	if (!json_is_object(root) || !json_is_string(jfmt) || strcmp(json_string_value(jfmt), "vz-backup")) {
		rc = MBAD("not a vz backup manifest (no \"format\":\"vz-backup\")");
		goto out;
	}
	if (!json_is_integer(jver) || json_integer_value(jver) < 1) { rc = MBAD("bad format_version"); goto out; }
	if (json_integer_value(jver) > VZ_BACKUP_FORMAT_VERSION) {
		rc = MBAD("format version %lld is newer than this vz understands (%d): upgrade vz",
			  (long long)json_integer_value(jver), VZ_BACKUP_FORMAT_VERSION);
		goto out;
	}
	if (!json_is_string(jcreated) || !json_is_string(jvz) || !json_is_array(jcolls) || !json_is_integer(jcount) ||
	    !json_is_integer(jtotal)) {
		rc = MBAD("needs created, vz_version, collections, file_count and total_size");
		goto out;
	}
	snprintf(m->created, sizeof m->created, "%s", json_string_value(jcreated));
	snprintf(m->vz_version, sizeof m->vz_version, "%s", json_string_value(jvz));
	size_t ncolls = json_array_size(jcolls), nfiles = 0;
	for (size_t i = 0; i < ncolls; i++) {
		json_t *files = json_object_get(json_array_get(jcolls, i), "files");
		if (!json_is_array(files)) { rc = MBAD("collection %zu: no files array", i); goto out; }
		nfiles += json_array_size(files);
		if (nfiles > VZ_BACKUP_MAX_FILES) { rc = MBAD("more than %d files", VZ_BACKUP_MAX_FILES); goto out; }
	}
	if (ncolls > VZ_BACKUP_MAX_FILES) { rc = MBAD("more than %d collections", VZ_BACKUP_MAX_FILES); goto out; }
	m->colls = calloc(ncolls ? ncolls : 1, sizeof *m->colls);
	m->files = calloc(nfiles ? nfiles : 1, sizeof *m->files);
	if (!m->colls || !m->files) { rc = vz_fail(VZ_ENOMEM, "out of memory"); goto out; }
	for (size_t i = 0; i < ncolls; i++) {
		json_t *jc = json_array_get(jcolls, i);
		json_t *jn = json_object_get(jc, "name"), *jk = json_object_get(jc, "kind"), *files = json_object_get(jc, "files");
		if (!json_is_string(jn) || !json_is_string(jk)) { rc = MBAD("collection %zu: needs a name and a kind", i); goto out; }
		struct mcoll *c = &m->colls[i];
		const char *name = json_string_value(jn), *kind = json_string_value(jk);
		if (strlen(name) >= sizeof c->name || vz_bk_collection_prefix(name, c->prefix, sizeof c->prefix)) {
			rc = MBAD("collection %zu: '%.200s' is not a valid collection name", i, name);
			goto out;
		}
		if (strcmp(kind, strchr(name, '/') ? "workspace" : "dynamic")) {
			rc = MBAD("collection %s: kind '%.40s' does not match its name", name, kind);
			goto out;
		}
		for (size_t j = 0; j < i; j++)
			if (!strcmp(m->colls[j].name, name)) { rc = MBAD("collection %s is listed twice", name); goto out; }
		json_t *jid = json_object_get(jc, "collection_id");
		if (jid && (!json_is_string(jid) || vz_id_parse(json_string_value(jid), &c->id))) {
			rc = MBAD("collection %s: collection_id is not 32 hexadecimal digits", name);
			goto out;
		}
		snprintf(c->name, sizeof c->name, "%s", name);
		snprintf(c->target, sizeof c->target, "%s", name);
		c->first = m->nfiles;
		for (size_t j = 0; j < json_array_size(files); j++)
			if ((rc = manifest_parse_file(m, c, i, json_array_get(files, j), j))) goto out;
		c->n = m->nfiles - c->first;
		m->ncolls++;
	}
	if ((uint64_t)json_integer_value(jcount) != m->nfiles || (uint64_t)json_integer_value(jtotal) != m->total) {
		rc = MBAD("file_count/total_size (%lld/%lld) do not match the files listed (%zu/%llu)",
			  (long long)json_integer_value(jcount), (long long)json_integer_value(jtotal), m->nfiles,
			  (unsigned long long)m->total);
		goto out;
	}
	rc = manifest_index(m);
out:
	json_decref(root);
	if (rc) vz_bk_manifest_free(m);
	return rc;
}

/* The most decompressed bytes a tar stream of this manifest can honestly take: each entry's
 * data rounded to 512-byte blocks plus room for its headers (ustar header and a pax extended
 * header), the manifest entry, the directory entries other tools add (up to three per
 * collection, and vz-backup/), and the end of archive padded to a 10240-byte block. */
uint64_t vz_bk_manifest_stream_bound(const struct manifest *m, size_t manifest_len)
{
	uint64_t bound = (uint64_t)manifest_len + 8192 + 20480 + ((uint64_t)m->ncolls * 3 + 1) * 4096;
	for (size_t i = 0; i < m->nfiles; i++) bound += (m->files[i].size + 511) / 512 * 512 + 4096;
	return bound;
}
