/* thresholds.c: changes a dynamic collection's automatic checkpoint thresholds after create
 * (`vz checkpoint --set-ops/--set-seconds`): metadata.json is rewritten atomically, under the
 * collection's exclusive lock, with only those two fields changed. */
#include "internal.h"

int vz_collection_set_thresholds(const char *dir, uint32_t ops, uint32_t seconds, int lock_timeout_ms)
{
	vz_lock lock = VZ_LOCK_INIT;
	int rc = vz_collection_lock(dir, VZ_LOCK_EXCLUSIVE, lock_timeout_ms, &lock);
	if (rc) return rc;
	vz_meta m;
	if (!(rc = vz_meta_read(dir, &m))) {
		if (m.workspace) {
			rc = vz_fail(VZ_EPERM, "a workspace collection has no WAL to checkpoint: its thresholds do not apply");
		} else {
			if (ops) m.cfg.checkpoint_ops = ops;
			if (seconds) m.cfg.checkpoint_seconds = seconds;
			if (!(rc = vz_config_validate(&m.cfg))) rc = vz_meta_write(dir, &m);
		}
		vz_meta_free(&m);
	}
	vz_lock_release(&lock);
	return rc;
}
