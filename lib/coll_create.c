/* coll_create.c: a dynamic collection comes and goes: create (a new directory renamed into
 * place), drop (DeleteCollection made durable in the WAL, then the directory removed). */
#include "collection_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- create and drop ---- */

int vz_collection_create(const char *data_dir, const char *name, const vz_config *cfg)
{
	if (!vz_name_valid(name)) return vz_fail(VZ_EINVAL, "'%s' is not a valid collection name (letters, digits, '.', '_', '-'; at most 64; starting with a letter or digit)", name);
	int rc = vz_config_validate(cfg);
	if (rc) return rc;
	char parent[VZ_PATH_MAX], final[VZ_PATH_MAX], tmp[VZ_PATH_MAX], p[VZ_PATH_MAX], dirlock[VZ_PATH_MAX];
	if ((rc = vz_path_fmt(parent, sizeof parent, "%s/dynamic", data_dir))) return rc;
	if ((rc = vz_io_mkdir_p(parent, 0755))) return rc;
	if ((rc = vz_path_fmt(final, sizeof final, "%s/%s", parent, name))) return rc;
	if ((rc = vz_path_fmt(dirlock, sizeof dirlock, "%s/.lock", parent))) return rc;
	/* creators and droppers serialise on dynamic/.lock, so cleaning temp dirs is safe */
	vz_lock dl = VZ_LOCK_INIT;
	if ((rc = vz_lock_acquire(dirlock, VZ_LOCK_EXCLUSIVE, 10000, true, &dl))) return rc;
	if ((rc = vz_cleanup_temps(parent, NULL))) goto out;
	struct stat st;
	if (lstat(final, &st) == 0) { rc = vz_fail(VZ_EEXIST, "collection %s already exists", name); goto out; }
	uint64_t rnd = vz_random_u64();
	if ((rc = vz_path_fmt(tmp, sizeof tmp, "%s/.vztmp.create.%s.%016llx", parent, name, (unsigned long long)rnd))) goto out;
	if ((rc = vz_io_mkdir(tmp, 0755, false))) goto out;
	int fd;
	if ((rc = vz_path_fmt(p, sizeof p, "%s/LOCK", tmp)) || (rc = vz_io_open_write(p, O_WRONLY | O_CREAT | O_EXCL, 0644, &fd))) goto fail;
	vz_io_close(fd);
	vz_meta m = { .cfg = *cfg, .created = vz_coll_unix_now(), .has_wal_start = true, .wal_salt = vz_random_u64(), .wal_first_seq = 1 };
	vz_id_new(&m.id);
	if ((rc = vz_meta_write(tmp, &m))) goto fail;
	vz_wal_writer w = { 0 };
	if ((rc = vz_path_fmt(p, sizeof p, "%s/wal.log", tmp)) || (rc = vz_wal_reset(p, &m.id, 0, m.wal_salt, 1, &w))) goto fail;
	vz_buf conf = { 0 };
	uint64_t txn = 0;
	rc = vz_config_to_json(cfg, &conf);
	if (!rc) rc = vz_wal_encode_begin(&w, 1, &txn);
	if (!rc) rc = vz_wal_encode(&w, VZ_WAL_CREATE, txn, conf.data, conf.len);
	if (!rc) rc = vz_wal_encode_commit(&w, txn, 1);
	vz_buf_free(&conf);
	if (!rc) rc = vz_wal_append(p, VZ_HEADER_SIZE, &w);
	vz_buf_free(&w.buf);
	if (rc) goto fail;
	if ((rc = vz_io_fsync_dir(tmp))) goto fail;
	if ((rc = vz_io_rename_noreplace(tmp, final))) {
		if (rc == VZ_EEXIST) vz_fail(VZ_EEXIST, "collection %s already exists", name);
		goto fail;
	}
	if ((rc = vz_io_fsync_dir(parent))) {
		/* not known to be durable: undo, so a reported failure leaves nothing behind */
		char saved[1024];
		snprintf(saved, sizeof saved, "%s", vz_last_error());
		if (vz_io_rename(final, tmp) == VZ_OK) vz_io_remove_tree(tmp);
		vz_fail(rc, "%s", saved);
	}
	goto out;
fail:
	vz_io_remove_tree(tmp);
out:
	vz_lock_release(&dl);
	return rc;
}

int vz_collection_drop(vz_collection *c)
{
	int rc = VZ_OK;
	if (!(c->flags & VZ_OPEN_WRITE)) rc = vz_fail(VZ_EINTERNAL, "drop needs the collection open for writing");
	else if (c->meta.workspace) rc = vz_fail(VZ_EPERM, "workspace collections are removed by vz build, not dropped");
	if (!rc && c->has_wal && !c->wal_corrupt) {
		/* DeleteCollection is durable before anything disappears: a crash after this point
		 * finishes the drop on the next open, a crash before leaves the collection whole */
		uint64_t txn = 0;
		char wal[VZ_PATH_MAX];
		rc = vz_wal_encode_begin(&c->writer, 1, &txn);
		if (!rc) rc = vz_wal_encode(&c->writer, VZ_WAL_DROP, txn, NULL, 0);
		if (!rc) rc = vz_wal_encode_commit(&c->writer, txn, 1);
		if (!rc) rc = vz_path_fmt(wal, sizeof wal, "%s/wal.log", c->dir);
		if (!rc) rc = vz_wal_append(wal, c->wal_end, &c->writer);
	}
	/* Once DeleteCollection is durable the collection is gone for every reader; if removing
	 * the files fails now, the next open or create finishes it, so the drop has succeeded. */
	if (!rc) vz_coll_finish_drop(c);
	vz_collection_close(c);
	return rc;
}

