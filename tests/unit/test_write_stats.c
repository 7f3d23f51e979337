/* test_write_stats.c: what a write tells its caller in fields rather than message text: a failed
 * automatic checkpoint (vz_write_stats.checkpoint_failed) and a workspace collection
 * (vz_collection_is_workspace), which vz(1) once matched in vz_last_error's text. */
#include "t.h"

/* The automatic checkpoint after a write, failing at each I/O call in turn: a write that
 * returns 0 is committed, and says in checkpoint_failed (not only in its message) when the
 * checkpoint that followed it failed. */
TEST(a_failed_automatic_checkpoint_is_a_field_of_the_write_stats)
{
	int failed = 0, folded = 0;
	for (int call = 1; call <= 80; call++) {
		char dd[64], dir[128];
		snprintf(dd, sizeof dd, "d%d", call);
		vz_config cfg;
		vz_config_defaults(&cfg);
		cfg.dim = 2;
		cfg.checkpoint_ops = 1;
		unsetenv("VZ_FAULT");
		vz_io_fault_reload();
		CHECK_OK(vz_collection_create(dd, "c", &cfg));
		snprintf(dir, sizeof dir, "%s/dynamic/c", dd);
		vz_collection *c;
		CHECK_OK(vz_collection_open(dir, VZ_OPEN_WRITE, 1000, &c));
		CHECK(!vz_collection_is_workspace(c));
		float v[2] = { 1, 0.5f };
		vz_write w = { .op = VZ_WRITE_INSERT, .id = "a", .id_len = 1, .vector = v, .dim = 2 };
		char spec[32];
		snprintf(spec, sizeof spec, "%d:EIO", call);
		setenv("VZ_FAULT", spec, 1);
		vz_io_fault_reload();
		vz_write_stats st;
		int rc = vz_collection_write(c, &w, 1, 0, 1, &st);
		unsetenv("VZ_FAULT");
		vz_io_fault_reload();
		if (rc == VZ_OK) {
			CHECK(st.checkpointed != st.checkpoint_failed);
			if (st.checkpoint_failed) {
				failed++;
				CHECK(strstr(vz_last_error(), "the transaction is committed, but the automatic checkpoint failed: "));
			} else {
				folded++;
			}
		}
		vz_collection_close(c);
		if (rc == VZ_OK) { /* committed either way: a fresh open finds the row */
			vz_result r;
			const float *got;
			CHECK_OK(vz_collection_open(dir, VZ_OPEN_READ, 1000, &c));
			CHECK_OK(vz_collection_get(c, "a", 1, &r, &got));
			vz_collection_close(c);
		}
	}
	CHECK(failed > 0 && folded > 0);
}
