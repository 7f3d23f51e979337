/* cli.h: the command table, the shared option parser and output helpers of the vz program.
 *
 * Each command lives in cmd/<name>.c and defines exactly one
 *     const struct vz_command vz_cmd_<name> = { ... };
 * The Makefile collects those definitions into the dispatch table (build/commands.h), so adding
 * a command means adding one file. Options are declared in a per-command table that also drives
 * the help text and the shell completions. */
#ifndef VZ_CLI_H
#define VZ_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "../lib/vz.h"

enum vz_opt_type {
	OPT_FLAG,   /* no value; counts occurrences (-vv) */
	OPT_STRING, /* any string */
	OPT_INT,    /* integer within [min, max] */
	OPT_DOUBLE, /* floating point within [min, max] */
};

/* What a value is, for completion: a file name, a directory, or one of a fixed list. */
enum vz_complete_kind { COMPLETE_NONE, COMPLETE_FILE, COMPLETE_DIR, COMPLETE_WORDS, COMPLETE_COLLECTION };

struct vz_option {
	const char *name;       /* long name without "--", e.g. "dim" */
	char short_name;        /* e.g. 'k', or 0 */
	enum vz_opt_type type;
	const char *value_name; /* "N", "FILE"; NULL for flags */
	const char *help;       /* one line, lowercase, no final full stop */
	double min, max;        /* bounds for OPT_INT / OPT_DOUBLE (both 0: no bounds) */
	enum vz_complete_kind complete;
	const char *words;      /* COMPLETE_WORDS: space-separated choices, also validated */
};

#define VZ_MAX_OPTS 48

/* The --format choices of the commands that read vectors (insert, update, query --batch). */
#define VZ_CLI_INPUT_FORMATS "jsonl fvecs npy csv jsonl.zst fvecs.zst npy.zst csv.zst jsonl.gz fvecs.gz npy.gz csv.gz"


struct vz_opt_value {
	bool set;
	int count;
	const char *str;
	long long num;
	double dbl;
};

struct vz_args {
	struct vz_opt_value opt[VZ_MAX_OPTS]; /* indexed like the command's option table */
	char **pos;                           /* positional arguments (borrowed from argv) */
	int npos;
};

/* Global settings, from options before the command or the common options after it. */
struct vz_cli {
	const char *prog;            /* "vz" */
	const struct vz_command *cmd;
	const char *data_dir_opt;    /* --data-dir, or NULL */
	int verbosity;               /* -1 with -q, 0 normally, 1+ with -v */
	int lock_timeout_ms;         /* --lock-timeout or VZ_LOCK_TIMEOUT, else the default */
};

struct vz_command {
	const char *name;
	const char *summary;          /* one line for `vz help` */
	const char *usage;            /* arguments after the command name, e.g. "NAME --dim N [options]" */
	const char *description;      /* a paragraph for `vz CMD --help` (may be NULL) */
	const struct vz_option *options;
	int nopts;
	int min_args, max_args;       /* positional count bounds; max -1 for unlimited */
	enum vz_complete_kind arg_complete; /* what positional arguments are */
	int (*run)(struct vz_cli *cli, struct vz_args *args); /* returns an exit code */
};

/* The plural ending of a count in a message: "1 file", "2 files". */
#define VZ_S(n) ((n) == 1 ? "" : "s")
#define VZ_NOPTS(arr) ((int)(sizeof(arr) / sizeof((arr)[0])))

/* The command table (sorted by name) and lookup (cli/table.c), and the usage error for a name
 * not in it, with a did-you-mean (cli/cli.c). */
extern const struct vz_command *const vz_commands[];
extern const int vz_ncommands;
const struct vz_command *vz_find_command(const char *name);
int vz_unknown_command(struct vz_cli *cli, const char *name);

/* `vz __complete WORD...` (cli/complete.c): prints the candidates, one a line. */
int vz_complete_main(int argc, char **argv);

/* Options every command accepts (after the command too): --data-dir, -q, -v, --lock-timeout, -h. */
extern const struct vz_option vz_common_options[];
extern const int vz_ncommon_options;

/* Parses argv (argv[0] is the command name) into args. Returns 0, or VZ_EXIT_USAGE after
 * printing the error and a hint, or -1 when --help was given and the help was printed
 * (the caller then exits with the status of flushing stdout). */
int vz_parse_args(struct vz_cli *cli, const struct vz_command *cmd, int argc, char **argv, struct vz_args *args);

/* Help text generated from the table. */
void vz_print_command_help(FILE *out, const struct vz_command *cmd);
void vz_print_usage_line(FILE *out, const struct vz_command *cmd);
void vz_print_main_help(FILE *out);

/* The closest name to word among names (edit distance <= 2, or a prefix), or NULL. */
const char *vz_did_you_mean(const char *word, const char *const *names, int n);

/* Messages on stderr: "vz CMD: message" (lowercase, no final full stop). */
void vz_errorf(const struct vz_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void vz_warnf(const struct vz_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Informational message on stderr, suppressed by -q. */
void vz_infof(const struct vz_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Detail on stderr only with -v: timings and what each step did. */
void vz_verbosef(const struct vz_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Progress bars on stderr (cli/progress.c), only when it is a terminal and without -q
 * (vz_cli_progress_wanted). vz_cli_bar draws "LABEL: WHAT [####    ] DONE/TOTAL" in place and
 * erases it when done reaches total; vz_cli_progress_start/end install and remove the library's
 * progress callback around a command (vz.c). */
bool vz_cli_progress_wanted(const struct vz_cli *cli);
void vz_cli_bar(const char *label, const char *what, uint64_t done, uint64_t total);
void vz_cli_bar_clear(void);
void vz_cli_progress_start(const struct vz_cli *cli);
void vz_cli_progress_end(void);
/* Reports a library failure (its code and vz_last_error detail) and returns the exit code. */
int vz_report(const struct vz_cli *cli, int err);
/* A usage error: prints the message and the usage line, returns VZ_EXIT_USAGE. */
int vz_usage_error(const struct vz_cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Writes s (len bytes) for a human reader: control characters (C0, DEL, C1) and bytes that are
 * not UTF-8 print as backslash-octal escapes (\033), as git prints paths, so that stored data
 * never drives the terminal. Every message and every non-JSON output of data goes through it. */
void vz_print_safe(FILE *out, const char *s, size_t len);
/* printf through vz_print_safe (newlines and tabs of the format kept): for lines that quote data. */
void vz_printf_safe(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints a float so that it reads back bit-identical (shortest round-trip, %.9g fallback). */
void vz_print_float(FILE *out, float f);

/* Option accessors. */
static inline bool opt_set(const struct vz_args *a, int i) { return a->opt[i].set; }
static inline const char *opt_str(const struct vz_args *a, int i, const char *dflt)
{
	return a->opt[i].set ? a->opt[i].str : dflt;
}
static inline long long opt_int(const struct vz_args *a, int i, long long dflt)
{
	return a->opt[i].set ? a->opt[i].num : dflt;
}
static inline double opt_double(const struct vz_args *a, int i, double dflt)
{
	return a->opt[i].set ? a->opt[i].dbl : dflt;
}

/* VZ_EPERM when dir is writable by others (and not sticky): the one check of a data directory. */
int vz_cli_check_data_dir(const char *dir);
/* The data directory for this invocation (--data-dir, VZ_DATA_DIR, workspace, XDG), checked. */
int vz_cli_data_dir(const struct vz_cli *cli, char *out, size_t cap, enum vz_datadir_source *source);
/* Workspace commands (cmd/build.c): the data directory of workspace w (--data-dir, VZ_DATA_DIR,
 * else data/ beside its file), and the report of its projects that could not be read (returns
 * the first one's exit code, or 0). */
int vz_cli_workspace_data_dir(const struct vz_cli *cli, const vz_workspace *w, char *out, size_t cap);
int vz_cli_workspace_failures(const struct vz_cli *cli, const vz_workspace *w);
/* Warns when collection c (in coll_dir) is a workspace collection whose workspace file changed
 * since its build (cli/wsstale.c): one stat; the file is parsed only when it changed. */
void vz_cli_warn_stale(const struct vz_cli *cli, vz_collection *c, const char *coll_dir);
/* Backups by kind (cmd/backup.c): the file name prefix of a backup of names (all: every
 * collection, --all or --auto): "vz" for all (the historical name), "vz-NAME" for one ('/' as
 * '.'), "vz-set-HASH" for another set; --keep counts only the backups of the same prefix. */
void vz_cli_backup_prefix(char *const *names, int n, bool all, char *out, size_t cap);
/* backup.after_checkpoint of the workspace file here: backs up the collections just
 * checkpointed (explicitly or automatically) into backup.directory (cmd/checkpoint.c). */
int vz_cli_backup_after_checkpoint(const struct vz_cli *cli, char **done, int ndone);
/* Prints the names of all collections (dynamic NAME and workspace PROJECT/COLLECTION). */
int vz_list_collection_names(const struct vz_cli *cli, FILE *out);

/* Checks the backup archive FILE without restoring it (`vz backup --verify`, `vz verify
 * --backup`): deep also verifies each collection inside. Prints each problem on stdout and the
 * outcome; returns 0, VZ_EXIT_CHECK when damaged, or the exit code of the error. */
int vz_cli_verify_backup(struct vz_cli *cli, const char *file, bool deep, bool json);
/* Prints one problem found in a backup archive (verify and restore): "FILE: offset N: WHAT", or
 * a JSON object with file, offset and problem (and backup, the archive, when not NULL). */
void vz_cli_print_backup_problem(bool json, const char *archive, const char *file, int64_t offset, const char *what);

/* Resolves NAME or PROJECT/COLLECTION to its directory in this invocation's data directory.
 * Prints the error and returns its exit code on failure, 0 on success. */
int vz_cli_collection_dir(const struct vz_cli *cli, const char *name, char *dir, size_t cap, bool *is_workspace);
/* Reports rc of opening collection name (directory dir): when dir does not exist, "no such
 * collection" with the full name and what to do (vz build for a workspace collection declared in
 * the workspace file, vz create otherwise); else the library's detail. Returns the exit code. */
int vz_cli_report_missing(const struct vz_cli *cli, const char *name, const char *dir, int rc);
/* Opens a collection for reading or writing; writing a workspace collection is refused with 77
 * naming the YAML file. Prints the error and returns its exit code on failure. Prints the
 * collection's warning (WAL damage) on stderr. */
int vz_cli_open(const struct vz_cli *cli, const char *name, unsigned flags, vz_collection **c);
/* Prints a query/get result: JSON object (id, score, payload) or text "score<TAB>id<TAB>payload". */
void vz_print_result(FILE *out, const vz_result *r, bool json, bool with_score);
/* Prints the first line of a vz dump, {"vz_dump":1,"config":{...}}, with its newline. */
void vz_print_dump_header(FILE *out, const vz_config *cfg);
/* `vz version` and `vz --version`: "vz 0.1.0 (format 2, backup format 1)". */
void vz_print_version(FILE *out);
/* Prints s as a JSON string, or null when it is NULL or empty (JSON output never says "" or
 * "never" for a value that is missing). */
void vz_print_json_or_null(FILE *out, const char *s);
/* Prints a float vector as a JSON array. */
void vz_print_vector(FILE *out, const float *v, uint32_t dim);
/* The number of threads for index builds: --threads if given (>0), else every core. */
int vz_cli_threads(long long opt);

#endif
