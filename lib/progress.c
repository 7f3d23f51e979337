/* progress.c: the progress of long library operations (index builds, WAL writes, backups,
 * restores, verification), reported to the one callback a program installed with
 * vz_set_progress (vz(1) draws a bar on a terminal). The loops call vz_progress for every step;
 * this file throttles the reports to one per 100 ms and per phase, serialises them across the
 * threads of an index build, and always reports the end of a phase. */
#include "vz.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

static vz_progress_fn progress_fn;
static void *progress_ctx;
static pthread_mutex_t progress_lock = PTHREAD_MUTEX_INITIALIZER;
static double last_report;
static const char *last_what;
static atomic_bool progress_on;

void vz_set_progress(vz_progress_fn fn, void *ctx)
{
	pthread_mutex_lock(&progress_lock);
	progress_fn = fn;
	progress_ctx = ctx;
	last_what = NULL;
	atomic_store(&progress_on, fn != NULL);
	pthread_mutex_unlock(&progress_lock);
}

void vz_progress(const char *what, uint64_t done, uint64_t total)
{
	if (!atomic_load_explicit(&progress_on, memory_order_relaxed)) return; /* the common case: one load */
	bool end = done >= total;
	/* a step in the middle skips the report rather than wait for another thread's */
	if (end ? pthread_mutex_lock(&progress_lock) != 0 : pthread_mutex_trylock(&progress_lock) != 0) return;
	double now = vz_now();
	bool new_phase = last_what != what && (!last_what || strcmp(last_what, what));
	if (progress_fn && (end || new_phase || now - last_report >= 0.1)) {
		last_report = now;
		last_what = what;
		progress_fn(progress_ctx, what, done, total);
	}
	pthread_mutex_unlock(&progress_lock);
}
