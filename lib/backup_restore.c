/* backup_restore.c: vz_backup_restore: a scan into a staging directory, the collections checked,
 * then each switched into place (vz-format(5), Backup archives). */
#include "backup_internal.h"

/* ---- restore ---- */

/* Switches one staged collection into place. */
static int switch_collection(const char *data_dir, struct mcoll *c, unsigned flags, const char *safety_dir,
			     int lock_timeout_ms, char *safety, size_t scap)
{
	char target[VZ_PATH_MAX], parent[VZ_PATH_MAX], plock[VZ_PATH_MAX];
	bool ws;
	safety[0] = '\0';
	int rc = vz_collection_path(data_dir, c->target, target, sizeof target, &ws);
	if (rc) return rc;
	if ((rc = vz_path_parent(target, parent, sizeof parent)) || (rc = vz_io_mkdir_p(parent, 0755)) || (rc = vz_path_fmt(plock, sizeof plock, "%s/.lock", parent))) return rc;
	struct stat st;
	bool exists = lstat(target, &st) == 0;
	vz_lock coll = VZ_LOCK_INIT, pl = VZ_LOCK_INIT;
	if (exists) {
		if (!(flags & VZ_RESTORE_FORCE))
			return vz_fail(VZ_EEXIST, "collection %s exists: use --force to replace it (a safety backup of it is kept)", c->target);
		/* same lock order as drop: the collection, then its parent directory */
		if ((rc = vz_collection_lock(target, VZ_LOCK_EXCLUSIVE, lock_timeout_ms, &coll))) return rc;
		if ((rc = vz_bk_safety_backup(data_dir, c->target, safety_dir, 0, lock_timeout_ms, true, safety, scap))) goto out;
	}
	if ((rc = vz_lock_acquire(plock, VZ_LOCK_EXCLUSIVE, lock_timeout_ms, true, &pl))) goto out;
	if (!exists) {
		rc = vz_io_rename_noreplace(c->stage, target);
		if (rc == VZ_EEXIST) rc = vz_fail(VZ_EEXIST, "collection %s appeared meanwhile: use --force to replace it", c->target);
	} else {
		/* the old collection now sits in the staging directory, which is removed at the end */
		rc = vz_io_rename_exchange(c->stage, target);
	}
	if (!rc) rc = vz_io_fsync_dir(parent);
out:
	vz_lock_release(&pl);
	vz_lock_release(&coll);
	return rc;
}

/* Reports the first problem of a restore as its error. */
struct restore_report {
	vz_verify_cb cb;
	void *ctx;
	char first[700];
};
static void on_restore_problem(void *ctx, const char *file, int64_t offset, const char *what)
{
	struct restore_report *rr = ctx;
	if (!rr->first[0]) {
		if (offset >= 0) snprintf(rr->first, sizeof rr->first, "%s: offset %lld: %s", file, (long long)offset, what);
		else snprintf(rr->first, sizeof rr->first, "%s: %s", file, what);
	}
	if (rr->cb) rr->cb(rr->ctx, file, offset, what);
}

int vz_backup_restore(const char *data_dir, const char *path, const char *const *names, size_t n, const char *as_name,
		      unsigned flags, const char *safety_dir, int lock_timeout_ms, vz_verify_cb problem_cb,
		      vz_restore_cb done_cb, void *ctx)
{
	char tmp[VZ_PATH_MAX];
	if (as_name && vz_bk_collection_prefix(as_name, tmp, sizeof tmp)) return VZ_EINVAL;
	if (as_name && n > 1) return vz_fail(VZ_EINVAL, "--as needs exactly one collection");
	for (size_t i = 0; i < n; i++)
		if (vz_bk_collection_prefix(names[i], tmp, sizeof tmp)) return VZ_EINVAL;
	int fd;
	int rc = vz_bk_open_archive(path, &fd);
	if (rc) return rc;
	struct reader r;
	struct manifest m = { 0 };
	struct stage s = { .owner = VZ_LOCK_INIT };
	struct restore_report rr = { problem_cb, ctx, "" };
	if ((rc = vz_bk_reader_init(&r, path, on_restore_problem, &rr))) goto out;
	r.fd = fd;
	r.phase = "restoring";
	if ((rc = vz_io_mkdir_p(data_dir, 0755)) || (rc = vz_bk_stage_open(data_dir, &s))) goto out;
	struct extract x = { .stage = s.dir, .names = names, .n = n, .as_name = as_name };
	struct sink sk = { vz_bk_extract_manifest, vz_bk_extract_begin, &x };
	if ((rc = vz_bk_scan(&r, &sk, &m))) goto out;
	if (!r.problems) {
		/* refuse early, before checking the collections, when a target exists without --force */
		for (size_t i = 0; i < m.ncolls && !(flags & VZ_RESTORE_FORCE); i++) {
			char target[VZ_PATH_MAX];
			struct stat st;
			if (!m.colls[i].selected) continue;
			if ((rc = vz_collection_path(data_dir, m.colls[i].target, target, sizeof target, NULL))) goto out;
			if (lstat(target, &st) == 0) {
				rc = vz_fail(VZ_EEXIST, "collection %s exists: use --force to replace it (a safety backup of it is kept)", m.colls[i].target);
				goto out;
			}
		}
		if ((rc = vz_bk_verify_extracted(&r, &m, lock_timeout_ms))) goto out;
	}
	if (r.problems) {
		rc = vz_fail(VZ_ECORRUPT, "%s: the backup is damaged (%d problem%s; first: %s): nothing was restored", path, r.problems,
			     r.problems > 1 ? "s" : "", rr.first);
		goto out;
	}
	for (size_t i = 0; i < m.ncolls; i++) {
		if (!m.colls[i].selected) continue;
		char safety[VZ_PATH_MAX];
		if ((rc = switch_collection(data_dir, &m.colls[i], flags, safety_dir, lock_timeout_ms, safety, sizeof safety))) goto out;
		if (done_cb) done_cb(ctx, m.colls[i].target, safety[0] ? safety : NULL);
	}
out:
	vz_bk_manifest_free(&m);
	vz_bk_stage_close(&s);
	vz_bk_reader_free(&r);
	vz_bk_close_archive(fd);
	return rc;
}
