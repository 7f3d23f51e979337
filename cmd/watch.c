/* watch.c: `vz watch`: keeps the workspace collections built while their files change
 * (inotify on every project directory, or file_watcher.watch_paths, recursively; bursts of
 * changes are debounced), and re-reads the workspace file when it changes (hot_reload). */
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

enum { O_DEBOUNCE, O_FILE, O_JSON };
static const struct vz_option options[] = {
	[O_DEBOUNCE] = { "debounce", 0, OPT_INT, "MS", "wait for MS quiet milliseconds before rebuilding (default: file_watcher.debounce_ms, else 500)", 0, 600000, COMPLETE_NONE, NULL },
	[O_FILE] = { "workspace", 'w', OPT_STRING, "FILE", "the workspace file (default: vectorize-workspace.yml here or above); its data/ beside it", 0, 0, COMPLETE_FILE, NULL },
	[O_JSON] = { "json", 0, OPT_FLAG, NULL, "print each build's summary as a JSON object (as vz build --json does)", 0, 0, COMPLETE_NONE, NULL },
};

/* A watched directory and its path (to watch new subdirectories). */
struct watched {
	int wd;
	char *path;
};

struct watcher {
	int fd;
	struct watched *dirs;
	size_t n, cap;
	dev_t data_dev;
	ino_t data_ino;
	int yaml_wd;          /* the workspace file's directory (not recursive) */
	const char *yaml_name; /* the workspace file's base name */
	bool reload;          /* the workspace file changed */
};

static bool skipped(const char *name)
{
	return !strcmp(name, ".git") || !strcmp(name, "node_modules") || !strcmp(name, "target") || !strcmp(name, "dist") ||
	       !strcmp(name, "build");
}

/* Watches dir and its subdirectories (a directory that vanishes meanwhile is simply skipped). */
static void watch_tree(struct watcher *wt, const char *dir, int depth)
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
	wt->dirs[wt->n++] = (struct watched){ wd, copy };
	DIR *d = opendir(dir);
	if (!d) return;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || skipped(e->d_name)) continue;
		if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) continue;
		char sub[VZ_PATH_MAX];
		if (snprintf(sub, sizeof sub, "%s/%s", dir, e->d_name) >= (int)sizeof sub) continue;
		watch_tree(wt, sub, depth + 1);
	}
	closedir(d);
}

static struct watched *find_wd(struct watcher *wt, int wd)
{
	for (size_t i = 0; i < wt->n; i++)
		if (wt->dirs[i].wd == wd) return &wt->dirs[i];
	return NULL;
}

/* Marks dirty the collections whose project holds path, or lies under it (a directory above a
 * project was moved). Returns true when any was. */
static bool mark_path(const vz_workspace *w, const char *path, bool *dirty)
{
	bool any = false;
	size_t pl = strlen(path);
	for (size_t i = 0; i < w->n; i++) {
		const char *d = w->collections[i].project_dir;
		size_t dl = strlen(d);
		bool inside = pl >= dl && !strncmp(path, d, dl) && (path[dl] == '/' || !path[dl] || (dl == 1 && d[0] == '/'));
		bool above = dl > pl && !strncmp(path, d, pl) && d[pl] == '/';
		if (inside || above) dirty[i] = any = true;
	}
	return any;
}

/* file_watcher.exclude_patterns: a change to a matching name or path is not one */
static bool excluded(const vz_workspace *w, const char *path)
{
	for (size_t i = 0; i < w->n_watch_exclude; i++) {
		size_t dl = strlen(w->dir);
		const char *rel = !strncmp(path, w->dir, dl) && path[dl] == '/' ? path + dl + 1 : path;
		if (vz_glob_match(w->watch_exclude[i], rel)) return true;
	}
	return false;
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
			if (ev->wd == wt->yaml_wd && ev->len && !strcmp(ev->name, wt->yaml_name)) {
				wt->reload = true;
				any = true;
			}
			struct watched *d = find_wd(wt, ev->wd);
			if (!d) continue;
			if (ev->len && skipped(ev->name)) continue;
			char full[VZ_PATH_MAX];
			if (snprintf(full, sizeof full, "%s%s%s", d->path, ev->len ? "/" : "", ev->len ? ev->name : "") >= (int)sizeof full)
				continue;
			if (excluded(w, full)) continue;
			if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO)) && ev->len)
				watch_tree(wt, full, 0); /* may move wt->dirs: d is not used after */
			if (mark_path(w, full, dirty)) any = true;
		}
	}
}

static void unwatch_all(struct watcher *wt)
{
	if (wt->fd >= 0) close(wt->fd);
	wt->fd = -1;
	for (size_t i = 0; i < wt->n; i++) free(wt->dirs[i].path);
	wt->n = 0;
	wt->yaml_wd = -1;
}

/* Watches what workspace w says (watch_paths, else every project directory) and its file. */
static int watch_all(const struct vz_cli *cli, struct watcher *wt, const vz_workspace *w, bool *dirty)
{
	wt->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (wt->fd < 0) return vz_report(cli, vz_fail(vz_err_from_errno(errno), "inotify: %s", strerror(errno)));
	if (w->n_watch_paths)
		for (size_t i = 0; i < w->n_watch_paths; i++) watch_tree(wt, w->watch_paths[i], 0);
	else
		for (size_t i = 0; i < w->n; i++) {
			bool seen = false;
			for (size_t j = 0; j < i && !seen; j++) seen = !strcmp(w->collections[j].project_dir, w->collections[i].project_dir);
			if (!seen) watch_tree(wt, w->collections[i].project_dir, 0);
		}
	for (size_t i = 0; i < w->n; i++) dirty[i] = true; /* start from an up-to-date state */
	wt->yaml_wd = -1;
	if (w->watch_hot_reload) {
		wt->yaml_name = strrchr(w->path, '/') ? strrchr(w->path, '/') + 1 : w->path;
		wt->yaml_wd = inotify_add_watch(wt->fd, w->dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_ONLYDIR | IN_MASK_ADD);
	}
	vz_infof(cli, "watching %zu directories of %s", wt->n, w->path);
	return 0;
}

static int run(struct vz_cli *cli, struct vz_args *args)
{
	vz_workspace *w;
	const char *file = opt_str(args, O_FILE, NULL);
	int ec = vz_cli_load_workspace(cli, file, &w);
	if (ec) return ec;
	char yaml[VZ_PATH_MAX];
	snprintf(yaml, sizeof yaml, "%s", w->path); /* reloads read the same file */
	vz_cli_workspace_failures(cli, w);
	struct watcher wt = { .fd = -1, .yaml_wd = -1 };
	bool *dirty = NULL;
	int sfd = -1;
	char data_dir[VZ_PATH_MAX];
	if (!w->watcher_enabled) {
		vz_infof(cli, "file watching is off in %s (file_watcher.enabled: false): nothing to do", w->path);
		goto out;
	}
	dirty = calloc(w->n ? w->n : 1, sizeof *dirty);
	int rc = vz_cli_workspace_data_dir(cli, w, data_dir, sizeof data_dir);
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
	if (sfd < 0) {
		ec = vz_report(cli, vz_fail(vz_err_from_errno(errno), "signalfd: %s", strerror(errno)));
		goto out;
	}
	struct stat st;
	if (vz_io_mkdir_p(data_dir, 0755) == VZ_OK && stat(data_dir, &st) == 0) {
		wt.data_dev = st.st_dev;
		wt.data_ino = st.st_ino;
	}
	if ((ec = watch_all(cli, &wt, w, dirty))) goto out;
	bool pending = true, first = true; /* the first round (and the one after a reload) builds */
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
		if (n == 0 && pending && wt.reload) {
			/* the workspace file changed: read it again (a bad edit keeps the last good one) */
			wt.reload = false;
			vz_workspace *nw;
			if (vz_cli_load_workspace(cli, yaml, &nw)) {
				vz_warnf(cli, "%s: keeping the previous workspace until the file is fixed", yaml);
			} else {
				bool *nd = calloc(nw->n ? nw->n : 1, sizeof *nd);
				if (!nd) {
					vz_workspace_free(nw);
					ec = vz_report(cli, vz_fail(VZ_ENOMEM, "out of memory"));
					break;
				}
				vz_infof(cli, "%s changed: reloaded", yaml);
				vz_cli_workspace_failures(cli, nw);
				unwatch_all(&wt);
				vz_workspace_free(w);
				free(dirty);
				w = nw;
				dirty = nd;
				if (!opt_set(args, O_DEBOUNCE)) debounce = (int)w->debounce_ms;
				if (!w->watcher_enabled) {
					vz_infof(cli, "file watching is off in %s (file_watcher.enabled: false): stopping", w->path);
					break;
				}
				if ((ec = watch_all(cli, &wt, w, dirty))) break;
				first = true;
			}
		}
		if (n == 0 && pending) {
			pending = false;
			for (size_t i = 0; i < w->n; i++) {
				if (!dirty[i]) continue;
				dirty[i] = false;
				if (!w->watch_auto_update && !first) { /* enable_auto_update: false: say so, do not build */
					vz_infof(cli, "%s: files changed (file_watcher.enable_auto_update is false: run vz build)", w->collections[i].full_name);
					continue;
				}
				/* a failed build (a file vanished mid-walk, a busy lock) is reported; the next
				 * change tries again */
				vz_cli_build_one(cli, w, &w->collections[i], data_dir, false, 0, opt_set(args, O_JSON), false);
			}
			first = false;
		}
	}
out:
	unwatch_all(&wt);
	if (sfd >= 0) close(sfd);
	free(wt.dirs);
	free(dirty);
	vz_workspace_free(w);
	return ec;
}

const struct vz_command vz_cmd_watch = {
	.name = "watch", .summary = "rebuild workspace collections as their files change",
	.usage = "[-w FILE] [--debounce MS] [--json]",
	.description = "Builds the workspace collections, then watches every project directory (or "
		       "file_watcher.watch_paths; recursively, new directories included) and rebuilds the affected "
		       "collections once changes have been quiet for the debounce time. A change of the workspace file "
		       "itself re-reads it (file_watcher.hot_reload). Exits 0 on SIGINT or SIGTERM.",
	.options = options, .nopts = VZ_NOPTS(options), .min_args = 0, .max_args = 0, .run = run,
};
