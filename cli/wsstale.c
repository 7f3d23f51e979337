/* wsstale.c: tells a query of a workspace collection that its build may be stale, cheaply: the
 * build recorded the workspace file's size and mtime in metadata.json, and one stat says whether
 * the file changed since. Only then is the file parsed, to say whether this collection's
 * configuration changed. Files of the project are never looked at here (vz build --dry-run). */
#include "cli.h"

#include <jansson.h>
#include <string.h>
#include <sys/stat.h>

void vz_cli_warn_stale(const struct vz_cli *cli, vz_collection *c, const char *coll_dir)
{
	if (!vz_collection_is_workspace(c)) return;
	const char *extra = vz_collection_extra_json(c);
	json_t *root = json_loads(extra, 0, NULL); /* the "extra" object of metadata.json */
	json_t *ws = json_object_get(root, "workspace");
	const char *file = json_string_value(json_object_get(ws, "file"));
	json_t *size = json_object_get(ws, "file_size"), *mtime = json_object_get(ws, "file_mtime_ns");
	struct stat st;
	/* built before the size and mtime were recorded: only the configuration can be compared */
	bool recorded = json_is_integer(size) && json_is_integer(mtime);
	if (!file) goto out;
	if (recorded && stat(file, &st) != 0) {
		vz_warnf(cli, "%s, which this collection was built from, is gone", file);
		goto out;
	}
	if (recorded && (long long)st.st_size == json_integer_value(size) &&
	    (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec == json_integer_value(mtime))
		goto out; /* the common case: one stat */
	bool changed;
	if (vz_workspace_config_changed(coll_dir, file, &changed) == VZ_OK && changed)
		vz_warnf(cli, "the configuration of this collection changed in %s since it was built: run vz build", file);
	else if (recorded)
		vz_warnf(cli, "%s changed since this collection was built: run vz build (vz build --dry-run lists what changed)", file);
out:
	json_decref(root);
}
