/* complete.c: `vz __complete WORD...`, the one source of truth for the bash, zsh and fish
 * completion scripts. The words are the command line after "vz" up to and including the word
 * being completed (possibly empty). Prints one candidate a line; the special line "__files__"
 * or "__dirs__" asks the shell to complete file or directory names instead. */
#include "cli.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

int vz_list_collection_names(const struct vz_cli *cli, FILE *out);

static void emit_if_prefix(const char *cand, const char *prefix)
{
	if (!strncmp(cand, prefix, strlen(prefix))) printf("%s\n", cand);
}

static void emit_option_names(const struct vz_option *opts, int n, const char *prefix)
{
	char buf[96];
	for (int i = 0; i < n; i++) {
		snprintf(buf, sizeof buf, "--%s", opts[i].name);
		emit_if_prefix(buf, prefix);
	}
}

static void emit_words(const char *words, const char *prefix)
{
	char buf[128];
	while (*words) {
		size_t wl = strcspn(words, " ");
		snprintf(buf, sizeof buf, "%.*s", (int)wl, words);
		emit_if_prefix(buf, prefix);
		words += wl;
		while (*words == ' ') words++;
	}
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The collection names starting with prefix, sorted (directory order is arbitrary, and the
 * shells show candidates in the order given). */
static void emit_collections(const struct vz_cli *cli, const char *prefix)
{
	char *text = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&text, &len);
	if (!mem) return;
	vz_list_collection_names(cli, mem);
	if (fclose(mem) != 0) { free(text); return; }
	size_t n = 0, cap = 0;
	char **names = NULL;
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, prefix, strlen(prefix)) != 0) continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			char **grown = realloc(names, cap * sizeof *names);
			if (!grown) break;
			names = grown;
		}
		names[n++] = line;
	}
	if (n) qsort(names, n, sizeof *names, compare_strings);
	for (size_t i = 0; i < n; i++) puts(names[i]);
	free(names);
	free(text);
}

static const struct vz_option *option_named(const struct vz_command *cmd, const char *word)
{
	if (strncmp(word, "--", 2) != 0) {
		if (word[0] == '-' && word[1] && !word[2]) {
			for (int i = 0; i < cmd->nopts; i++)
				if (cmd->options[i].short_name == word[1]) return &cmd->options[i];
			for (int i = 0; i < vz_ncommon_options; i++)
				if (vz_common_options[i].short_name == word[1]) return &vz_common_options[i];
		}
		return NULL;
	}
	for (int i = 0; i < cmd->nopts; i++)
		if (!strcmp(cmd->options[i].name, word + 2)) return &cmd->options[i];
	for (int i = 0; i < vz_ncommon_options; i++)
		if (!strcmp(vz_common_options[i].name, word + 2)) return &vz_common_options[i];
	return NULL;
}

static void complete_kind(enum vz_complete_kind kind, const char *words, const char *cur, struct vz_cli *cli)
{
	switch (kind) {
	case COMPLETE_FILE: puts("__files__"); break;
	case COMPLETE_DIR: puts("__dirs__"); break;
	case COMPLETE_WORDS: emit_words(words ? words : "", cur); break;
	case COMPLETE_COLLECTION: emit_collections(cli, cur); break;
	case COMPLETE_NONE: break;
	}
}

/* What the positional argument number `index` (from 0) of cmd is, read from its usage line so
 * that the completion and the help can never disagree: the first is cmd->arg_complete; a later
 * one is a file for FILE, a directory for DIR, a collection for COLL..., else free text. A last
 * placeholder ending in "..." repeats. Option names and their placeholders are skipped. */
static enum vz_complete_kind positional_kind(const struct vz_command *cmd, int index)
{
	if (index == 0) return cmd->arg_complete;
	char words[16][64];
	int n = 0;
	bool after_option = false;
	for (const char *u = cmd->usage ? cmd->usage : ""; *u && n < 16;) {
		u += strspn(u, " []()|");
		size_t len = strcspn(u, " []()|");
		if (!len) break;
		if (u[0] == '-') after_option = true;
		else if (after_option) after_option = false;
		else if (!strncmp(u, "...", len)) {
			if (n > 0 && !strstr(words[n - 1], "...")) strncat(words[n - 1], "...", sizeof words[0] - strlen(words[n - 1]) - 1);
		} else if (strncmp(u, "options", len) != 0) {
			snprintf(words[n++], sizeof words[0], "%.*s", (int)len, u);
		}
		u += len;
	}
	const char *word = index < n ? words[index] : n > 0 && strstr(words[n - 1], "...") ? words[n - 1] : "";
	if (!strncmp(word, "FILE", 4)) return COMPLETE_FILE;
	if (!strncmp(word, "DIR", 3)) return COMPLETE_DIR;
	if (!strncmp(word, "COLL", 4) || strstr(word, "COLLECTION")) return cmd->arg_complete;
	return COMPLETE_NONE;
}

/* Whether the word at argv[at] is the value of the option before it. */
static bool takes_value(const struct vz_command *cmd, const char *word)
{
	if (word[0] != '-' || !word[1] || strchr(word, '=')) return false;
	const struct vz_option *o = option_named(cmd, word);
	return o && o->type != OPT_FLAG;
}

int vz_complete_main(int argc, char **argv)
{
	struct vz_cli cli = { .prog = "vz", .verbosity = -1, .lock_timeout_ms = 0 };
	const char *cur = argc > 0 ? argv[argc - 1] : "";
	const char *prev = argc >= 2 ? argv[argc - 2] : "";
	int i = 0;
	/* global options before the command; the last word is the one being completed */
	while (i < argc - 1 && argv[i][0] == '-') {
		if (!strcmp(argv[i], "--data-dir") || !strcmp(argv[i], "--lock-timeout")) {
			if (i + 1 < argc - 1 && !strcmp(argv[i], "--data-dir")) cli.data_dir_opt = argv[i + 1];
			i++;
		}
		i++;
	}
	if (i >= argc - 1) {
		if (argc >= 2 && i == argc) {
			/* completing the value of a global option */
			if (!strcmp(prev, "--data-dir")) puts("__dirs__");
			return 0;
		}
		if (cur[0] == '-') {
			emit_option_names(vz_common_options, vz_ncommon_options, cur);
			emit_if_prefix("--version", cur);
			return 0;
		}
		for (int c = 0; c < vz_ncommands; c++) emit_if_prefix(vz_commands[c]->name, cur);
		return 0;
	}
	const struct vz_command *cmd = vz_find_command(argv[i]);
	if (!cmd) return 0;
	const struct vz_option *po = (argc - 2 > i) ? option_named(cmd, prev) : NULL;
	if (po && po->type != OPT_FLAG && !strchr(prev, '=')) {
		if (!strcmp(po->name, "data-dir")) puts("__dirs__");
		else complete_kind(po->complete, po->words, cur, &cli);
		return 0;
	}
	if (cur[0] == '-') {
		emit_option_names(cmd->options, cmd->nopts, cur);
		emit_option_names(vz_common_options, vz_ncommon_options, cur);
		return 0;
	}
	if (!strcmp(cmd->name, "help")) {
		if (argc - 2 == i)
			for (int c = 0; c < vz_ncommands; c++) emit_if_prefix(vz_commands[c]->name, cur);
		return 0;
	}
	int index = 0;
	for (int w = i + 1; w < argc - 1; w++) {
		if (takes_value(cmd, argv[w])) w++;
		else if (argv[w][0] != '-' || !argv[w][1]) index++;
	}
	complete_kind(positional_kind(cmd, index), NULL, cur, &cli);
	return 0;
}
