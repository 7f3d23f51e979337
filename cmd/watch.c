/* watch.c: `vz watch`: keeps the workspace collections built while their files change
 * (inotify on every project directory, recursively; bursts of changes are debounced). */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

int vz_cli_load_workspace(const struct vz_cli *cli, const char *file, vz_workspace **out);
int vz_cli_build_one(const struct vz_cli *cli, const vz_workspace *w, const vz_ws_collection *c, const char *data_dir,
		     bool force, int threads, bool json, bool bar);

enum { O_DEBOUNCE, O_FILE };
static const struct vz_option options[] = {
	[O_DEBOUNCE] = { "debounce", 0, OPT_INT, "MS", "wait for MS quiet milliseconds before rebuilding (default: file_watcher.debounce_ms, else 500)", 0, 600000, COMPLETE_NONE, NULL },
	[O_FILE] = { "workspace", 'w', OPT_STRING, "FILE", "the workspace file (default: vectorize-workspace.yml here or above)", 0, 0, COMPLETE_FILE, NULL },
};

/* A watched directory: which project it belongs to and its path (to watch new subdirectories). */
struct watched {
	int wd;
	size_t project; /* index of a collection of that project: all of its collections are affected */
	char *path;
};

struct watcher {
	int fd;
	struct watched *dirs;
	size_t n, cap;
	dev_t data_dev;
	ino_t data_ino;
};

static bool skipped(const char *name)
{
	return !strcmp(name, ".git") || !strcmp(name, "node_modules") || !strcmp(name, "target") || !strcmp(name, "dist") ||
	       !strcmp(name, "build");
}

/* Watches dir and its subdirectories (a directory that vanishes meanwhile is simply skipped). */
static void watch_tree(struct watcher *wt, const char *dir, size_t project, int depth)
{
	struct stat st;
	if (depth > 64 || lstat(dir, &st) || !S_ISDIR(st.st_mode)) return;
	if (st.st_dev == wt->data_dev && st.st_ino == wt->data_ino) return;
	int wd = inotify_add_watch(wt->fd, dir, IN_CREATE | IN_DELETE | IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_FROM |
						   IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW);
	if (wd < 0) return;
	if (wt->n == wt->cap) {
		size_t cap = wt->cap ? wt->cap * 2 : 64;
		struct watched *d = realloc(wt->dirs, cap * sizeof *d);
		if (!d) return;
		wt->dirs = d;
		wt->cap = cap;
	}
	char *copy = strdup(dir);
	if (!copy) return;
	wt->dirs[wt->n++] = (struct watched){ wd, project, copy };
	DIR *d = opendir(dir);
	if (!d) return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || skipped(e->d_name)) continue;
		if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) continue;
		char sub[4096];
		if (snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name) >= (int)sizeof sub) continue;
		watch_tree(wt, sub, project, depth + 1);
	}
	closedir(d);
}

static struct watched *find_wd(struct watcher *wt, int wd)
{
	for (size_t i = 0; i < wt->n; i++)
		if (wt->dirs[i].wd == wd) return &wt->dirs[i];
	return NULL;
}

/* Marks the collections of project p (by the index of one of its collections) dirty. */
static void mark_project(const vz_workspace *w, size_t p, bool *dirty)
{
	for (size_t i = 0; i < w->n; i++)
		if (!strcmp(w->collections[i].project, w->collections[p].project)) dirty[i] = true;
}

/* Reads the pending events; returns true when any collection became dirty. */
static bool drain(struct watcher *wt, const vz_workspace *w, bool *dirty)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool any = false;
	for (;;) {
		ssize_t len = read(wt->fd, buf, sizeof buf);
		if (len <= 0) return any;
		for (char *p = buf; p < buf + len;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			p += sizeof *ev + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) { /* events were lost: rebuild everything */
				for (size_t i = 0; i < w->n; i++) dirty[i] = true;
				any = true;
				continue;
			}
			struct watched *d = find_wd(wt, ev->wd);
			if (!d) continue;
			if (ev->len && skipped(ev->name)) continue;
			if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO)) && ev->len) {
				char sub[4096];
				size_t project = d->project;
				if (snprintf(sub, sizeof sub, "%s/%s", d->path, ev->name) < (int)sizeof sub)
					watch_tree(wt, sub, project, 0); /* may move wt->dirs: d is not used after */
				mark_project(w, project, dirty);
				any = true;
				continue;
			}
			mark_project(w, d->project, dirty);
			any = true;
		}
	}
}

static int run(struct vz_cli *cli, struct vz_args *args)
{
	vz_workspace *w;
	int ec = vz_cli_load_workspace(cli, opt_str(args, O_FILE, NULL), &w);
	if (ec) return ec;
	struct watcher wt = { .fd = -1 };
	bool *dirty = calloc(w->n ? w->n : 1, sizeof *dirty);
	int sfd = -1;
	char data_dir[4096];
	int rc = vz_cli_data_dir(cli, data_dir, sizeof data_dir, NULL);
	if (rc || !dirty) {
		ec = vz_report(cli, rc ? rc : vz_fail(VZ_ENOMEM, "out of memory"));
		goto out;
	}
	int debounce = (int)opt_int(args, O_DEBOUNCE, w->debounce_ms);
	sigset_t mask;
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	wt.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (sfd < 0 || wt.fd < 0) {
		ec = vz_report(cli, vz_fail(vz_err_from_errno(errno), "inotify: %s", strerror(errno)));
		goto out;
	}
	struct stat st;
	if (vz_io_mkdir_p(data_dir, 0755) == VZ_OK && stat(data_dir, &st) == 0) {
		wt.data_dev = st.st_dev;
		wt.data_ino = st.st_ino;
	}
	for (size_t i = 0; i < w->n; i++) {
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++) seen = !strcmp(w->collections[j].project, w->collections[i].project);
		if (!seen) watch_tree(&wt, w->collections[i].project_dir, i, 0);
		dirty[i] = true; /* start from an up-to-date state */
	}
	vz_infof(cli, "watching %zu directories of %s", wt.n, w->path);
	bool pending = true;
	for (;;) {
		struct pollfd fds[2] = { { sfd, POLLIN, 0 }, { wt.fd, POLLIN, 0 } };
		/* with changes pending, wait for a quiet period before building */
		int n = poll(fds, 2, pending ? debounce : -1);
		if (n < 0 && errno != EINTR) {
			ec = vz_report(cli, vz_fail(vz_err_from_errno(errno), "poll: %s", strerror(errno)));
			break;
		}
		if (n > 0 && (fds[0].revents & POLLIN)) break; /* SIGINT or SIGTERM: a clean exit */
		if (n > 0 && (fds[1].revents & POLLIN)) {
			if (drain(&wt, w, dirty)) pending = true;
			continue;
		}
		if (n == 0 && pending) {
			pending = false;
			for (size_t i = 0; i < w->n; i++) {
				if (!dirty[i]) continue;
				dirty[i] = false;
				/* a failed build (a file vanished mid-walk, a busy lock) is reported; the next
				 * change tries again */
				vz_cli_build_one(cli, w, &w->collections[i], data_dir, false, 1, false, false);
			}
		}
	}
out:
	if (wt.fd >= 0) close(wt.fd);
	if (sfd >= 0) close(sfd);
	for (size_t i = 0; i < wt.n; i++) free(wt.dirs[i].path);
	free(wt.dirs);
	free(dirty);
	vz_workspace_free(w);
	return ec;
}

const struct vz_command vz_cmd_watch = {
	.name = "watch", .summary = "rebuild workspace collections as their files change",
	.usage = "[--debounce MS]",
	.description = "Builds the workspace collections, then watches every project directory (recursively, new "
		       "directories included) and rebuilds the affected collections once changes have been quiet for "
		       "the debounce time. Exits 0 on SIGINT or SIGTERM.",
	.options = options, .nopts = VZ_NOPTS(options), .min_args = 0, .max_args = 0, .run = run,
};
