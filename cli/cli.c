/* cli.c: the shared option parser, generated help, "did you mean" and message helpers. */
#include "cli.h"
#include "../lib/fmtfloat.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const struct vz_option vz_common_options[] = {
	{ "data-dir", 0, OPT_STRING, "DIR", "use DIR as the data directory (also VZ_DATA_DIR)", 0, 0, COMPLETE_DIR, NULL },
	{ "lock-timeout", 0, OPT_INT, "MS", "wait at most MS milliseconds for a lock (also VZ_LOCK_TIMEOUT)", 0, 86400000, COMPLETE_NONE, NULL },
	{ "quiet", 'q', OPT_FLAG, NULL, "print only data and errors", 0, 0, COMPLETE_NONE, NULL },
	{ "verbose", 'v', OPT_FLAG, NULL, "print what each step did and how long it took (on stderr)", 0, 0, COMPLETE_NONE, NULL },
	{ "help", 'h', OPT_FLAG, NULL, "show this help and exit", 0, 0, COMPLETE_NONE, NULL },
};
const int vz_ncommon_options = VZ_NOPTS(vz_common_options);
enum { COMMON_DATA_DIR, COMMON_LOCK_TIMEOUT, COMMON_QUIET, COMMON_VERBOSE, COMMON_HELP };

static const char *cmd_label(const struct vz_cli *cli)
{
	return cli && cli->cmd ? cli->cmd->name : NULL;
}

/* Control characters (C0 but for keep_nl's newline and tab, DEL, C1) and bytes that are not
 * UTF-8 print as git prints them in paths: a backslash and three octal digits. */
static void print_safe(FILE *out, const char *s, size_t len, bool keep_nl)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < len;) {
		/* a run of printable ASCII (ids, mostly) goes out in one write, not a write a byte */
		size_t run = i;
		while (run < len && u[run] >= 0x20 && u[run] < 0x7f) run++;
		if (run > i) {
			fwrite(u + i, 1, run - i, out);
			i = run;
			continue;
		}
		unsigned char c = u[i];
		size_t n = c < 0x80 ? 1 : vz_utf8_char_len(u + i, len - i);
		bool control = c < 0x20 || c == 0x7f || (c == 0xC2 && n == 2 && u[i + 1] < 0xA0);
		if (keep_nl && (c == '\n' || c == '\t')) control = false;
		if (!n || control) {
			for (size_t k = 0; k < (n ? n : 1); k++) fprintf(out, "\\%03o", u[i + k]);
			i += n ? n : 1;
			continue;
		}
		fwrite(u + i, 1, n, out);
		i += n;
	}
}

void vz_print_safe(FILE *out, const char *s, size_t len)
{
	print_safe(out, s, len, false);
}

static void vprint_safe(FILE *out, const char *fmt, va_list ap)
{
	char *text = NULL;
	int n = vasprintf(&text, fmt, ap);
	if (n >= 0) print_safe(out, text, (size_t)n, true);
	free(text);
}

void vz_printf_safe(FILE *out, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vprint_safe(out, fmt, ap);
	va_end(ap);
}

static void vmessage(const struct vz_cli *cli, const char *kind, const char *fmt, va_list ap)
{
	const char *label = cmd_label(cli);
	fflush(stdout);
	if (label) fprintf(stderr, "%s %s: %s", cli->prog, label, kind);
	else fprintf(stderr, "%s: %s", cli ? cli->prog : "vz", kind);
	/* a message may quote ids, paths or texts from data: they must not drive the terminal */
	vprint_safe(stderr, fmt, ap);
	fputc('\n', stderr);
}

void vz_errorf(const struct vz_cli *cli, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage(cli, "", fmt, ap);
	va_end(ap);
}

void vz_warnf(const struct vz_cli *cli, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage(cli, "warning: ", fmt, ap);
	va_end(ap);
}

void vz_infof(const struct vz_cli *cli, const char *fmt, ...)
{
	if (cli && cli->verbosity < 0) return;
	va_list ap;
	va_start(ap, fmt);
	vmessage(cli, "", fmt, ap);
	va_end(ap);
}

void vz_verbosef(const struct vz_cli *cli, const char *fmt, ...)
{
	if (!cli || cli->verbosity < 1) return;
	va_list ap;
	va_start(ap, fmt);
	vmessage(cli, "", fmt, ap);
	va_end(ap);
}

int vz_report(const struct vz_cli *cli, int err)
{
	const char *d = vz_last_error();
	if (d && *d) vz_errorf(cli, "%s", d);
	else vz_errorf(cli, "%s", vz_strerror(err));
	return vz_exit_code(err);
}

int vz_usage_error(const struct vz_cli *cli, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage(cli, "", fmt, ap);
	va_end(ap);
	if (cli && cli->cmd) {
		fprintf(stderr, "usage: ");
		vz_print_usage_line(stderr, cli->cmd);
		fprintf(stderr, "try '%s %s --help' for more information\n", cli->prog, cli->cmd->name);
	} else {
		fprintf(stderr, "try '%s --help' for more information\n", cli ? cli->prog : "vz");
	}
	return VZ_EXIT_USAGE;
}

/* ---- did you mean ---- */

static int edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64) return 99;
	int prev[65], cur[65];
	for (size_t j = 0; j <= lb; j++) prev[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			int del = prev[j] + 1, ins = cur[j - 1] + 1;
			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
		memcpy(prev, cur, sizeof(int) * (lb + 1));
	}
	return prev[lb];
}

const char *vz_did_you_mean(const char *word, const char *const *names, int n)
{
	const char *best = NULL;
	int best_d = 3;
	for (int i = 0; i < n; i++) {
		int d = edit_distance(word, names[i]);
		if (d < best_d) { best_d = d; best = names[i]; }
	}
	if (best) return best;
	size_t lw = strlen(word);
	for (int i = 0; i < n && lw >= 2; i++)
		if (!strncmp(names[i], word, lw)) return names[i];
	return NULL;
}

/* ---- help ---- */

static void print_wrapped(FILE *out, const char *text, int col, int indent);

void vz_print_usage_line(FILE *out, const struct vz_command *cmd)
{
	/* after "usage: " */
	int n = fprintf(out, "vz %s ", cmd->name);
	print_wrapped(out, cmd->usage ? cmd->usage : "", 7 + n, 7 + n);
}

#define HELP_WIDTH 80

/* Prints text wrapped at HELP_WIDTH columns: the first line goes on from column col (where the
 * caller left the cursor), the others start at column indent. A line break is a space (the
 * texts are reflowed), an empty line a paragraph break. */
static void print_wrapped(FILE *out, const char *text, int col, int indent)
{
	for (const char *p = text; *p;) {
		size_t word = strcspn(p, " \n");
		if (col > indent && col + 1 + (int)word > HELP_WIDTH) {
			fprintf(out, "\n%*s", indent, "");
			col = indent;
		} else if (col > indent) {
			putc(' ', out);
			col++;
		}
		fwrite(p, 1, word, out);
		col += (int)word;
		p += word;
		if (p[0] == '\n' && p[1] == '\n') {
			fprintf(out, "\n\n%*s", indent, "");
			col = indent;
			p += 2;
		}
		while (*p == ' ' || *p == '\n') p++;
		if (!*p) break;
	}
	putc('\n', out);
}

static void print_option(FILE *out, const struct vz_option *o)
{
	char left[64];
	int n;
	if (o->short_name) n = snprintf(left, sizeof left, "-%c, --%s", o->short_name, o->name);
	else n = snprintf(left, sizeof left, "    --%s", o->name);
	if (o->value_name && n > 0 && (size_t)n < sizeof left)
		snprintf(left + n, sizeof left - (size_t)n, " %s", o->value_name);
	n = fprintf(out, "  %-28s ", left);
	print_wrapped(out, o->help, n, 31);
}

void vz_print_command_help(FILE *out, const struct vz_command *cmd)
{
	fprintf(out, "usage: ");
	vz_print_usage_line(out, cmd);
	fprintf(out, "\n%s\n", cmd->summary);
	if (cmd->description) {
		putc('\n', out);
		print_wrapped(out, cmd->description, 0, 0);
	}
	if (cmd->nopts) {
		fprintf(out, "\noptions:\n");
		for (int i = 0; i < cmd->nopts; i++) print_option(out, &cmd->options[i]);
	}
	fprintf(out, "\ncommon options:\n");
	for (int i = 0; i < vz_ncommon_options; i++) print_option(out, &vz_common_options[i]);
	fprintf(out, "\nsee vz-%s(1) for details and examples\n", cmd->name);
}

int vz_unknown_command(struct vz_cli *cli, const char *name)
{
	const char *names[64];
	int n = 0;
	for (int i = 0; i < vz_ncommands && n < 64; i++) names[n++] = vz_commands[i]->name;
	const char *hint = vz_did_you_mean(name, names, n);
	if (hint) return vz_usage_error(cli, "unknown command '%s'; did you mean '%s'?", name, hint);
	return vz_usage_error(cli, "unknown command '%s'", name);
}

void vz_print_main_help(FILE *out)
{
	fprintf(out, "usage: vz [--data-dir DIR] [-q|-v] COMMAND [ARGS...]\n"
		     "       vz help COMMAND | vz COMMAND --help | vz --version\n\n"
		     "vz is a durable vector store on the local filesystem.\n\ncommands:\n");
	for (int i = 0; i < vz_ncommands; i++) {
		int n = fprintf(out, "  %-12s ", vz_commands[i]->name);
		print_wrapped(out, vz_commands[i]->summary, n, 15);
	}
	fprintf(out, "\nglobal options:\n");
	for (int i = 0; i < vz_ncommon_options; i++) print_option(out, &vz_common_options[i]);
	fprintf(out, "      --version                print the version and exit\n"
		     "\nexit status: 0 ok, 1 check failed, 64 usage, 65 bad data, 66 not found,\n"
		     "70 internal, 71 OS error, 73 exists, 74 I/O error, 75 busy (retry),\n"
		     "77 not permitted, 78 bad config\n"
		     "see vz(1)\n");
}

/* ---- parsing ---- */

/* The choice of words (space-separated) that text most likely means, into out: the other
 * systems' names of the same thing (l2 for euclidean, ip for dot_product), else the closest by
 * spelling. False when none is close. */
static bool choice_hint(const char *text, const char *words, char *out, size_t cap)
{
	static const char *const aliases[][2] = {
		{ "l2", "euclidean" }, { "euclid", "euclidean" }, { "ip", "dot_product" }, { "dot", "dot_product" },
		{ "inner_product", "dot_product" }, { "cos", "cosine" }, { "json", "jsonl" }, { "ndjson", "jsonl" },
		{ "int8", "sq8" }, { "scalar", "sq8" },
	};
	char buf[256];
	const char *names[32];
	int n = 0;
	snprintf(buf, sizeof buf, "%s", words);
	for (char *w = strtok(buf, " "); w && n < 32; w = strtok(NULL, " ")) names[n++] = w;
	const char *hint = NULL;
	for (size_t a = 0; !hint && a < sizeof aliases / sizeof aliases[0]; a++)
		if (!strcasecmp(text, aliases[a][0]))
			for (int i = 0; i < n; i++)
				if (!strcmp(names[i], aliases[a][1])) hint = names[i];
	if (!hint) hint = vz_did_you_mean(text, names, n);
	if (hint) snprintf(out, cap, "%s", hint);
	return hint != NULL;
}

/* The name of positional argument i in a usage line ("NAME --dim N [options]": 0 is NAME), or
 * NULL: words of capitals at the top level that do not follow an option. */
static bool usage_arg_name(const char *usage, int i, char *out, size_t cap)
{
	int depth = 0, index = 0;
	bool after_option = false;
	for (const char *p = usage ? usage : ""; *p;) {
		while (*p == ' ') p++;
		size_t len = strcspn(p, " ");
		if (!len) break;
		bool word = depth == 0 && !after_option && p[0] >= 'A' && p[0] <= 'Z';
		for (size_t k = 0; k < len; k++) {
			if (p[k] == '[' || p[k] == '(') depth++;
			else if (p[k] == ']' || p[k] == ')') depth--;
		}
		after_option = p[0] == '-';
		if (word) {
			if (index++ == i) {
				size_t l = strcspn(p, " .|");
				snprintf(out, cap, "%.*s", (int)l, p);
				return true;
			}
		}
		p += len;
	}
	return false;
}

static int parse_value(struct vz_cli *cli, const struct vz_option *o, const char *text, struct vz_opt_value *v)
{
	v->str = text;
	if (o->type == OPT_INT) {
		char *end;
		errno = 0;
		long long n = strtoll(text, &end, 10);
		if (errno || end == text || *end)
			return vz_usage_error(cli, "--%s: '%s' is not a whole number", o->name, text);
		if ((o->min != 0 || o->max != 0) && (n < o->min || n > o->max))
			return vz_usage_error(cli, "--%s: %lld is out of range [%.0f, %.0f]", o->name, n, o->min, o->max);
		v->num = n;
	} else if (o->type == OPT_DOUBLE) {
		char *end;
		errno = 0;
		double d = strtod(text, &end);
		if (errno || end == text || *end || !isfinite(d))
			return vz_usage_error(cli, "--%s: '%s' is not a number", o->name, text);
		if ((o->min != 0 || o->max != 0) && (d < o->min || d > o->max))
			return vz_usage_error(cli, "--%s: %g is out of range [%g, %g]", o->name, d, o->min, o->max);
		v->dbl = d;
	} else if (o->type == OPT_STRING && o->complete == COMPLETE_WORDS && o->words) {
		size_t tl = strlen(text);
		const char *w = o->words;
		bool ok = false;
		while (*w) {
			size_t wl = strcspn(w, " ");
			if (wl == tl && !strncmp(w, text, tl)) { ok = true; break; }
			w += wl;
			while (*w == ' ') w++;
		}
		if (!ok) {
			char hint[64];
			if (choice_hint(text, o->words, hint, sizeof hint)) return vz_usage_error(cli, "--%s: '%s' is not one of: %s; did you mean '%s'?", o->name, text, o->words, hint);
			return vz_usage_error(cli, "--%s: '%s' is not one of: %s", o->name, text, o->words);
		}
	}
	v->set = true;
	v->count++;
	return 0;
}

/* Finds an option by long name in the command's table, then the common one. *common is set
 * when it is a common option. */
static const struct vz_option *find_long(const struct vz_command *cmd, const char *name, size_t len, int *index, bool *common)
{
	for (int i = 0; i < cmd->nopts; i++)
		if (strlen(cmd->options[i].name) == len && !strncmp(cmd->options[i].name, name, len)) {
			*index = i; *common = false;
			return &cmd->options[i];
		}
	for (int i = 0; i < vz_ncommon_options; i++)
		if (strlen(vz_common_options[i].name) == len && !strncmp(vz_common_options[i].name, name, len)) {
			*index = i; *common = true;
			return &vz_common_options[i];
		}
	return NULL;
}

static const struct vz_option *find_short(const struct vz_command *cmd, char c, int *index, bool *common)
{
	for (int i = 0; i < cmd->nopts; i++)
		if (cmd->options[i].short_name == c) { *index = i; *common = false; return &cmd->options[i]; }
	for (int i = 0; i < vz_ncommon_options; i++)
		if (vz_common_options[i].short_name == c) { *index = i; *common = true; return &vz_common_options[i]; }
	return NULL;
}

static int unknown_option(struct vz_cli *cli, const struct vz_command *cmd, const char *name, size_t len)
{
	const char *names[VZ_MAX_OPTS + 8];
	int n = 0;
	for (int i = 0; i < cmd->nopts && n < VZ_MAX_OPTS; i++) names[n++] = cmd->options[i].name;
	for (int i = 0; i < vz_ncommon_options; i++) names[n++] = vz_common_options[i].name;
	char word[128];
	snprintf(word, sizeof word, "%.*s", (int)(len < 100 ? len : 100), name);
	const char *hint = vz_did_you_mean(word, names, n);
	if (hint) return vz_usage_error(cli, "unknown option '--%s'; did you mean '--%s'?", word, hint);
	return vz_usage_error(cli, "unknown option '--%s'", word);
}

static struct vz_opt_value common_values[8];

static int apply_common(struct vz_cli *cli, int index)
{
	struct vz_opt_value *v = &common_values[index];
	switch (index) {
	case COMMON_DATA_DIR: cli->data_dir_opt = v->str; break;
	case COMMON_LOCK_TIMEOUT: cli->lock_timeout_ms = (int)v->num; break;
	case COMMON_QUIET: cli->verbosity = -1; break;
	case COMMON_VERBOSE: cli->verbosity = cli->verbosity < 0 ? 1 : cli->verbosity + 1; break;
	}
	return 0;
}

int vz_parse_args(struct vz_cli *cli, const struct vz_command *cmd, int argc, char **argv, struct vz_args *args)
{
	memset(args, 0, sizeof *args);
	memset(common_values, 0, sizeof common_values);
	args->pos = calloc((size_t)argc + 1, sizeof(char *));
	if (!args->pos) { vz_errorf(cli, "out of memory"); return VZ_EXIT_OSERR; }
	bool want_help = false, options_done = false;
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];
		if (options_done || a[0] != '-' || a[1] == '\0') { args->pos[args->npos++] = a; continue; }
		if (!strcmp(a, "--")) { options_done = true; continue; }
		int index;
		bool common;
		const struct vz_option *o;
		if (a[1] == '-') {
			const char *name = a + 2, *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);
			if (!(o = find_long(cmd, name, len, &index, &common))) return unknown_option(cli, cmd, name, len);
			struct vz_opt_value *v = common ? &common_values[index] : &args->opt[index];
			if (o->type == OPT_FLAG) {
				if (eq) return vz_usage_error(cli, "option '--%s' takes no value", o->name);
				v->set = true;
				v->count++;
			} else {
				const char *val = eq ? eq + 1 : NULL;
				if (!val) {
					if (i + 1 >= argc) return vz_usage_error(cli, "option '--%s' needs a value (%s)", o->name, o->value_name);
					val = argv[++i];
				}
				int rc = parse_value(cli, o, val, v);
				if (rc) return rc;
			}
			if (common) {
				if (index == COMMON_HELP) want_help = true;
				else apply_common(cli, index);
			}
			continue;
		}
		/* a cluster of short options: -qv, -k10, -k 10 */
		for (char *p = a + 1; *p; p++) {
			if (!(o = find_short(cmd, *p, &index, &common))) {
				return vz_usage_error(cli, "unknown option '-%c'", *p);
			}
			struct vz_opt_value *v = common ? &common_values[index] : &args->opt[index];
			if (o->type == OPT_FLAG) {
				v->set = true;
				v->count++;
				if (common) {
					if (index == COMMON_HELP) want_help = true;
					else apply_common(cli, index);
				}
				continue;
			}
			const char *val = p[1] ? p + 1 : NULL;
			if (!val) {
				if (i + 1 >= argc) return vz_usage_error(cli, "option '-%c' needs a value (%s)", *p, o->value_name);
				val = argv[++i];
			}
			int rc = parse_value(cli, o, val, v);
			if (rc) return rc;
			if (common) apply_common(cli, index);
			break;
		}
	}
	if (want_help) {
		vz_print_command_help(stdout, cmd);
		return -1;
	}
	if (args->npos < cmd->min_args) {
		char name[64];
		if (usage_arg_name(cmd->usage, args->npos, name, sizeof name))
			return vz_usage_error(cli, "missing argument %s", name);
		return vz_usage_error(cli, "missing argument%s", cmd->min_args - args->npos > 1 ? "s" : "");
	}
	if (cmd->max_args >= 0 && args->npos > cmd->max_args)
		return vz_usage_error(cli, "unexpected argument '%s'", args->pos[cmd->max_args]);
	return 0;
}

/* ---- output ---- */

void vz_print_float(FILE *out, float f)
{
	char buf[VZ_FLOAT_CHARS];
	/* the shortest of %.6g..%.9g that reads back to the same float */
	fwrite(buf, 1, vz_format_float(buf, sizeof buf, f), out);
}
