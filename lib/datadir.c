/* datadir.c: which data directory is in use, and why (vz(1), FILES). */
#include "vz.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int datadir_resolve(const char *option, char *out, size_t cap, enum vz_datadir_source *source,
			   char *workspace_file, size_t wcap);

const char *vz_datadir_source_name(enum vz_datadir_source s)
{
	switch (s) {
	case VZ_DATADIR_OPTION: return "--data-dir option";
	case VZ_DATADIR_ENV: return "VZ_DATA_DIR environment variable";
	case VZ_DATADIR_WORKSPACE: return "beside the nearest vectorize-workspace.yml";
	case VZ_DATADIR_XDG: return "XDG default ($XDG_DATA_HOME/vz or ~/.local/share/vz)";
	}
	return "unknown";
}

int vz_find_workspace_file(char *out, size_t cap)
{
	char dir[PATH_MAX];
	if (!getcwd(dir, sizeof dir)) return vz_fail(VZ_ENOENT, "cannot read the current directory");
	for (;;) {
		char candidate[PATH_MAX + 32];
		snprintf(candidate, sizeof candidate, "%s/vectorize-workspace.yml", strcmp(dir, "/") ? dir : "");
		struct stat st;
		if (stat(candidate, &st) == 0 && S_ISREG(st.st_mode))
			return vz_path_fmt(out, cap, "%s", candidate);
		char up[sizeof dir];
		if (vz_path_parent(dir, up, sizeof up) || !strcmp(up, dir)) break;
		memcpy(dir, up, sizeof dir);
	}
	return vz_fail(VZ_ENOENT, "no vectorize-workspace.yml in this directory or any parent");
}

/* True when a component of path (which exists) is a symlink. */
static bool has_symlink(const char *path)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0') continue;
		char saved = *p;
		*p = '\0';
		struct stat st;
		if (lstat(buf, &st) == 0 && S_ISLNK(st.st_mode)) return true;
		*p = saved;
		if (!saved) return false;
	}
}

/* A symlink above the data directory, or the data directory itself being one, is the user's
 * business (a home on another disk): the part of the path that exists is replaced by its real
 * path, so that nothing vz does later (creating, fsyncing, refusing to follow links) meets that
 * link. Entries inside the data directory are never followed: they are refused where met. */
static int resolve_above(char *out, size_t cap)
{
	char path[PATH_MAX], real[PATH_MAX], tail[PATH_MAX] = "";
	if (snprintf(path, sizeof path, "%s", out) >= (int)sizeof path) return VZ_OK;
	size_t len = strlen(path);
	while (len > 1 && path[len - 1] == '/') path[--len] = '\0';
	/* the tail that does not exist yet is appended to the real path of what does */
	for (;;) {
		struct stat st;
		if (lstat(path, &st) == 0) break;
		char *s = strrchr(path, '/');
		if (!s || s == path) return VZ_OK;
		char t[PATH_MAX];
		snprintf(t, sizeof t, "%s%s", s, tail);
		snprintf(tail, sizeof tail, "%s", t);
		*s = '\0';
	}
	if (!has_symlink(path) || !realpath(path, real)) return VZ_OK;
	return vz_path_fmt(out, cap, "%s%s", strcmp(real, "/") || !tail[0] ? real : "", tail);
}

int vz_datadir_resolve(const char *option, char *out, size_t cap, enum vz_datadir_source *source,
		       char *workspace_file, size_t wcap)
{
	int rc = datadir_resolve(option, out, cap, source, workspace_file, wcap);
	return rc ? rc : resolve_above(out, cap);
}

static int datadir_resolve(const char *option, char *out, size_t cap, enum vz_datadir_source *source,
			   char *workspace_file, size_t wcap)
{
	if (workspace_file && wcap) workspace_file[0] = '\0';
	const char *env = getenv("VZ_DATA_DIR");
	if (option && *option) {
		*source = VZ_DATADIR_OPTION;
		return vz_path_fmt(out, cap, "%s", option);
	}
	if (env && *env) {
		*source = VZ_DATADIR_ENV;
		return vz_path_fmt(out, cap, "%s", env);
	}
	char ws[PATH_MAX + 32];
	if (vz_find_workspace_file(ws, sizeof ws) == VZ_OK) {
		*source = VZ_DATADIR_WORKSPACE;
		if (workspace_file && wcap) snprintf(workspace_file, wcap, "%s", ws);
		char dir[PATH_MAX + 32];
		int rc = vz_path_parent(ws, dir, sizeof dir);
		if (rc) return rc;
		return vz_path_fmt(out, cap, "%s/data", strcmp(dir, "/") ? dir : "");
	}
	*source = VZ_DATADIR_XDG;
	const char *xdg = getenv("XDG_DATA_HOME");
	if (xdg && *xdg) return vz_path_fmt(out, cap, "%s/vz", xdg);
	const char *home = getenv("HOME");
	if (!home || !*home) return vz_fail(VZ_ENOENT, "no data directory: set VZ_DATA_DIR or HOME");
	return vz_path_fmt(out, cap, "%s/.local/share/vz", home);
}
