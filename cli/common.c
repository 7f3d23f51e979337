/* common.c: helpers shared by the commands: the data directory and collection listing. */
#include "cli.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int vz_cli_check_data_dir(const char *dir)
{
	/* like ssh's StrictModes: anyone could plant files or links in a directory others may write */
	struct stat st;
	if (stat(dir, &st) == 0 && (st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX))
		return vz_fail(VZ_EPERM, "data directory %s is writable by others; refusing to use it (chmod o-w %s)", dir, dir);
	return VZ_OK;
}

int vz_cli_data_dir(const struct vz_cli *cli, char *out, size_t cap, enum vz_datadir_source *source)
{
	enum vz_datadir_source s;
	int rc = vz_datadir_resolve(cli->data_dir_opt, out, cap, source ? source : &s, NULL, 0);
	return rc ? rc : vz_cli_check_data_dir(out);
}

static void list_dir_names(const char *dir, const char *prefix, FILE *out)
{
	DIR *d = opendir(dir);
	if (!d) return;
	struct dirent *e;
	while ((e = readdir(d)))
		if (vz_name_valid(e->d_name)) fprintf(out, "%s%s\n", prefix, e->d_name);
	closedir(d);
}

int vz_list_collection_names(const struct vz_cli *cli, FILE *out)
{
	char dd[VZ_PATH_MAX], p[VZ_PATH_MAX];
	if (vz_cli_data_dir(cli, dd, sizeof dd, NULL)) return 0;
	snprintf(p, sizeof p, "%s/dynamic", dd);
	list_dir_names(p, "", out);
	snprintf(p, sizeof p, "%s/workspace", dd);
	DIR *d = opendir(p);
	if (!d) return 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!vz_name_valid(e->d_name)) continue;
		char sub[VZ_PATH_MAX], prefix[128];
		snprintf(sub, sizeof sub, "%s/%s", p, e->d_name);
		snprintf(prefix, sizeof prefix, "%s/", e->d_name);
		list_dir_names(sub, prefix, out);
	}
	closedir(d);
	return 0;
}

int vz_cli_collection_dir(const struct vz_cli *cli, const char *name, char *dir, size_t cap, bool *is_workspace)
{
	char dd[VZ_PATH_MAX];
	int rc = vz_cli_data_dir(cli, dd, sizeof dd, NULL);
	if (!rc) rc = vz_collection_path(dd, name, dir, cap, is_workspace);
	if (rc == VZ_EINVAL) return vz_usage_error(cli, "%s", vz_last_error());
	if (rc) return vz_report(cli, rc);
	return 0;
}

int vz_cli_report_missing(const struct vz_cli *cli, const char *name, const char *dir, int rc)
{
	struct stat st;
	if (rc != VZ_ENOENT || lstat(dir, &st) == 0) return vz_report(cli, rc); /* a file of it is missing: the library says which */
	if (!strchr(name, '/')) {
		vz_errorf(cli, "no such collection: %s (vz list shows the collections; vz create makes one)", name);
		return VZ_EXIT_NOINPUT;
	}
	/* a workspace collection: declared and not built, or not declared at all */
	char yml[VZ_PATH_MAX];
	vz_workspace *w = NULL;
	bool declared = vz_find_workspace_file(yml, sizeof yml) == VZ_OK && vz_workspace_load(yml, &w) == VZ_OK && vz_workspace_find(w, name);
	vz_workspace_free(w);
	if (declared) vz_errorf(cli, "no such collection: %s is declared in %s but not built: run vz build", name, yml);
	else vz_errorf(cli, "no such collection: %s (workspace collections are declared in %s and made by vz build)", name, VZ_WORKSPACE_FILE);
	return VZ_EXIT_NOINPUT;
}

int vz_cli_open(const struct vz_cli *cli, const char *name, unsigned flags, vz_collection **c)
{
	char dir[VZ_PATH_MAX];
	bool ws;
	int rc = vz_cli_collection_dir(cli, name, dir, sizeof dir, &ws);
	if (rc) return rc;
	if (ws && (flags & VZ_OPEN_WRITE)) {
		char yml[VZ_PATH_MAX] = "vectorize-workspace.yml";
		vz_find_workspace_file(yml, sizeof yml);
		vz_errorf(cli, "%s is a workspace collection and is read-only: edit %s and run 'vz build'", name, yml);
		return VZ_EXIT_NOPERM;
	}
	if ((rc = vz_collection_open(dir, flags, cli->lock_timeout_ms, c))) return vz_cli_report_missing(cli, name, dir, rc);
	const char *w = vz_collection_warning(*c);
	if (w) vz_warnf(cli, "%s: %s", name, w);
	return 0;
}

void vz_print_version(FILE *out)
{
	fprintf(out, "vz %s (format %d, backup format %d)\n", VZ_VERSION, VZ_FORMAT_VERSION, VZ_BACKUP_FORMAT_VERSION);
}

void vz_print_json_or_null(FILE *out, const char *s)
{
	if (s && *s) vz_json_string(out, s, strlen(s));
	else fputs("null", out);
}

void vz_print_vector(FILE *out, const float *v, uint32_t dim)
{
	putc('[', out);
	for (uint32_t i = 0; i < dim; i++) {
		if (i) putc(',', out);
		vz_print_float(out, v[i]);
	}
	putc(']', out);
}

void vz_print_result(FILE *out, const vz_result *r, bool json, bool with_score)
{
	if (json) {
		fputs("{\"id\":", out);
		vz_json_string(out, r->id, r->id_len);
		if (with_score) {
			fputs(",\"score\":", out);
			vz_print_float(out, r->score);
		}
		fputs(",\"payload\":", out);
		if (r->payload) fwrite(r->payload, 1, r->payload_len, out);
		else fputs("null", out);
		fputs("}\n", out);
		return;
	}
	if (with_score) {
		vz_print_float(out, r->score);
		putc('\t', out);
	}
	vz_print_safe(out, r->id, r->id_len);
	if (r->payload) {
		putc('\t', out);
		vz_print_safe(out, r->payload, r->payload_len);
	}
	putc('\n', out);
}

int vz_cli_threads(long long opt)
{
	if (opt > 0) return (int)opt;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

#include "targets.h"

int vz_cli_targets(struct vz_cli *cli, struct vz_args *args, bool all, char ***names, int *n)
{
	*names = NULL;
	*n = 0;
	if (all && args->npos) return vz_usage_error(cli, "give collection names or --all, not both");
	if (!all && !args->npos) return vz_usage_error(cli, "give collection names or --all");
	if (!all) {
		*names = calloc((size_t)args->npos, sizeof(char *));
		for (int i = 0; i < args->npos; i++) (*names)[(*n)++] = strdup(args->pos[i]);
		return 0;
	}
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	if (!mem) return vz_report(cli, vz_fail(VZ_ENOMEM, "out of memory"));
	vz_list_collection_names(cli, mem);
	fclose(mem);
	int cap = 0;
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		if (*n == cap) {
			cap = cap ? cap * 2 : 16;
			*names = realloc(*names, (size_t)cap * sizeof(char *));
		}
		(*names)[(*n)++] = strdup(line);
	}
	free(buf);
	return 0;
}

void vz_cli_targets_free(char **names, int n)
{
	for (int i = 0; i < n; i++) free(names[i]);
	free(names);
}

void vz_cli_print_backup_problem(bool json, const char *archive, const char *file, int64_t offset, const char *what)
{
	if (json) {
		fputc('{', stdout);
		if (archive) {
			printf("\"backup\":");
			vz_json_string(stdout, archive, strlen(archive));
			fputc(',', stdout);
		}
		printf("\"file\":");
		vz_json_string(stdout, file, strlen(file));
		printf(",\"offset\":%lld,\"problem\":", (long long)offset);
		vz_json_string(stdout, what, strlen(what));
		puts("}");
	} else if (offset >= 0) {
		vz_printf_safe(stdout, "%s: offset %lld: %s\n", file, (long long)offset, what);
	} else {
		vz_printf_safe(stdout, "%s: %s\n", file, what);
	}
}

void vz_print_dump_header(FILE *out, const vz_config *cfg)
{
	fprintf(out, "{\"vz_dump\":1,\"config\":{\"dim\":%u,\"metric\":\"%s\",\"m\":%u,\"ef_construction\":%u,\"ef_search\":%u,"
		     "\"quantization\":\"%s\",\"embedding\":\"%s\",\"checkpoint_ops\":%u,\"checkpoint_seconds\":%u}}\n",
		cfg->dim, vz_metric_name(cfg->metric), cfg->m, cfg->ef_construction, cfg->ef_search,
		cfg->quantization == VZ_QUANT_SQ8 ? "sq8" : "none", cfg->embedding, cfg->checkpoint_ops, cfg->checkpoint_seconds);
}
