/* lock.c: flock-based collection locks with a bounded wait and the holder's pid. */

#include "vz.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

pid_t vz_lock_holder(int fd, pid_t exclude_pid)
{
	struct stat st;
	if (fstat(fd, &st) != 0) return 0;
	FILE *f = fopen("/proc/locks", "re");
	if (!f) return 0;
	char line[512];
	pid_t found = 0;
	while (fgets(line, sizeof line, f)) {
		/* "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" ; blocked waiters have "->" */
		char kind[16], adv[16], rw[16], devino[64];
		int pid;
		const char *p = strchr(line, ':');
		if (!p || strstr(line, "->")) continue;
		if (sscanf(p + 1, "%15s %15s %15s %d %63s", kind, adv, rw, &pid, devino) != 5) continue;
		if (strcmp(kind, "FLOCK") != 0 || pid == exclude_pid) continue;
		unsigned maj, min;
		unsigned long long ino;
		if (sscanf(devino, "%x:%x:%llu", &maj, &min, &ino) != 3) continue;
		if (ino == (unsigned long long)st.st_ino && maj == major(st.st_dev) && min == minor(st.st_dev)) {
			found = pid;
			break;
		}
	}
	fclose(f);
	return found;
}

int vz_lock_acquire(const char *path, enum vz_lock_mode mode, int timeout_ms, bool create, vz_lock *lock)
{
	lock->fd = -1;
	int fd;
	if (create) {
		/* Lock files are never written, only opened: creating one is not a data change, but it
		 * still goes through the I/O layer so that no file is ever made through a symlink. */
		int rc = vz_io_open_write(path, O_RDWR | O_CREAT, 0644, &fd);
		if (rc) return rc;
	} else {
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT) return vz_fail(VZ_ENOENT, "%s: no such lock file", path);
			if (errno == ELOOP) return vz_fail(VZ_EPERM, "%s: is a symlink; refusing to follow it", path);
			return vz_fail(vz_err_from_errno(errno), "%s: open: %s", path, strerror(errno));
		}
	}
	int op = (mode == VZ_LOCK_EXCLUSIVE ? LOCK_EX : LOCK_SH) | LOCK_NB;
	double deadline = vz_now() + timeout_ms / 1000.0;
	long sleep_us = 1000;
	for (;;) {
		if (flock(fd, op) == 0) break;
		if (errno == EINTR) continue;
		if (errno != EWOULDBLOCK) {
			int e = errno;
			close(fd);
			return vz_fail(vz_err_from_errno(e), "%s: flock: %s", path, strerror(e));
		}
		if (vz_now() >= deadline) {
			pid_t holder = vz_lock_holder(fd, getpid());
			close(fd);
			if (holder > 0)
				return vz_fail(VZ_EBUSY, "%s: locked by process %d; gave up after %d ms (retry later or raise --lock-timeout)",
					       path, (int)holder, timeout_ms);
			return vz_fail(VZ_EBUSY, "%s: locked by another process; gave up after %d ms (retry later or raise --lock-timeout)",
				       path, timeout_ms);
		}
		struct timespec ts = { 0, sleep_us * 1000 };
		nanosleep(&ts, NULL);
		if (sleep_us < 50000) sleep_us *= 2;
	}
	lock->fd = fd;
	lock->mode = mode;
	return VZ_OK;
}

void vz_lock_release(vz_lock *lock)
{
	if (lock->fd >= 0) close(lock->fd);
	lock->fd = -1;
}
