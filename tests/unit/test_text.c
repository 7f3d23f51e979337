/* test_text.c: the text search index (lib/textindex.c): terms, postings.bin written, read,
 * ranked and checked, and its refusal of damaged bytes. */
#include "t.h"

#include <string.h>

static vz_text_chunk chunks[6];
static vz_text_doc docs[4];

/* Four files: two identical, one long with the match in its second chunk, one camelCase. */
static void make_docs(void)
{
	static const char *a = "# Airships\nA zeppelin is a rigid airship.\n";
	static const char *c1 = "# Weather\nrain and wind and rain\n";
	static const char *c2 = "more rain\nthe zeppelin moored above the harbour\n";
	static const char *d = "parseHttpHeader reads the HTTPServer_config of a request\n";
	memset(docs, 0, sizeof docs);
	chunks[0] = (vz_text_chunk){ .text = a, .len = (uint32_t)strlen(a), .line = 1, .start = 0 };
	chunks[1] = chunks[0];
	chunks[2] = (vz_text_chunk){ .text = c1, .len = (uint32_t)strlen(c1), .line = 1, .start = 0 };
	chunks[3] = (vz_text_chunk){ .text = c2, .len = (uint32_t)strlen(c2), .line = 3, .start = strlen(c1) };
	chunks[4] = (vz_text_chunk){ .text = d, .len = (uint32_t)strlen(d), .line = 1, .start = 0 };
	const char *paths[4] = { "a/ship.md", "b/ship.md", "code/http_parser.c", "long.md" };
	vz_text_chunk *cs[4] = { &chunks[0], &chunks[1], &chunks[4], &chunks[2] };
	uint32_t nc[4] = { 1, 1, 1, 2 };
	for (int i = 0; i < 4; i++) {
		docs[i].path = paths[i];
		docs[i].hash = i < 2 ? 7 : (uint64_t)i + 100;
		docs[i].size = 1000 + (uint64_t)i;
		docs[i].mtime_ns = -5 - i;
		docs[i].chunks = cs[i];
		docs[i].n_chunks = nc[i];
		docs[i].title = cs[i]->text;
		docs[i].title_len = (uint32_t)vz_text_title(cs[i]->text, cs[i]->len);
	}
}

TEST(text_index_ranks_groups_and_splits_words)
{
	make_docs();
	vz_text_weights w = VZ_TEXT_WEIGHTS_DEFAULT;
	CHECK_OK(vz_text_index_write("postings.bin", docs, 4, &w, 5, 77));
	uint64_t gen = 0;
	CHECK_OK(vz_text_index_check("postings.bin", &gen));
	CHECK_INT(gen, 5);
	vz_text_index *x;
	CHECK_OK(vz_text_index_open("postings.bin", &x));
	CHECK_INT(vz_text_index_files(x), 4);
	CHECK_INT(vz_text_index_config(x), 77);
	vz_text_file_stat fs;
	CHECK_OK(vz_text_index_file(x, 3, &fs));
	CHECK(fs.path_len == 7 && !memcmp(fs.path, "long.md", 7));
	CHECK_INT(fs.size, 1003);
	CHECK_INT(fs.mtime_ns, -8);
	CHECK_INT(fs.chunks, 2);
	CHECK_INT(vz_text_index_file(x, 4, &fs), VZ_ECORRUPT);
	vz_text_hit *h;
	size_t n;
	/* per file: the identical ships grouped, long.md's best chunk is its second */
	CHECK_OK(vz_text_search(x, "zeppelin", 8, 10, false, &h, &n));
	CHECK_INT(n, 2);
	bool ship_first = !strncmp(h[0].path, "a/ship.md", h[0].path_len);
	const vz_text_hit *ship = ship_first ? &h[0] : &h[1], *lng = ship_first ? &h[1] : &h[0];
	CHECK_INT(ship->path_len, 9);
	CHECK_INT(ship->n_same, 1);
	const char *p;
	size_t pl;
	CHECK_OK(vz_text_file_path(x, ship->same[0], &p, &pl));
	CHECK(pl == 9 && !memcmp(p, "b/ship.md", 9));
	CHECK(lng->path_len == 7 && !memcmp(lng->path, "long.md", 7));
	CHECK_INT(lng->chunk, 1);
	CHECK_INT(lng->line, 3);
	vz_text_hits_free(h, n);
	/* per chunk: every chunk with the term, no grouping */
	CHECK_OK(vz_text_search(x, "zeppelin", 8, 10, true, &h, &n));
	CHECK_INT(n, 3);
	vz_text_hits_free(h, n);
	/* camelCase, snake_case and acronyms split; the whole word matches too; case folds */
	const char *qs[] = { "http header", "PARSEHTTPHEADER", "server config", "parser" };
	for (size_t i = 0; i < 4; i++) {
		CHECK_OK(vz_text_search(x, qs[i], strlen(qs[i]), 10, false, &h, &n));
		CHECK_INT(n, 1);
		CHECK(h[0].path_len == 18 && !memcmp(h[0].path, "code/http_parser.c", 18));
		vz_text_hits_free(h, n);
	}
	/* stems: "airships" and "mooring" find airship and moored; the word as written scores more
	 * than another word of its stem (both a/ship.md and long.md have "rain"/"airship"...) */
	CHECK_OK(vz_text_search(x, "airships", 8, 10, false, &h, &n));
	CHECK_INT(n, 1);
	CHECK(h[0].path_len == 9 && !memcmp(h[0].path, "a/ship.md", 9));
	vz_text_hits_free(h, n);
	CHECK_OK(vz_text_search(x, "mooring", 7, 10, false, &h, &n));
	CHECK_INT(n, 1);
	CHECK(h[0].path_len == 7 && !memcmp(h[0].path, "long.md", 7));
	vz_text_hits_free(h, n);
	/* no hashing: a word no file has finds nothing */
	CHECK_OK(vz_text_search(x, "submarine", 9, 10, false, &h, &n));
	CHECK_INT(n, 0);
	vz_text_hits_free(h, n);
	CHECK_INT(vz_text_search(x, "the of and", 10, 10, false, &h, &n), VZ_EDATA);
	/* the title field makes a title word count more than the same word in a body */
	CHECK_OK(vz_text_search(x, "rain", 4, 10, false, &h, &n));
	CHECK_INT(n, 1);
	vz_text_hits_free(h, n);
	vz_text_index_close(x);
	/* a word meets its plural through the stem: "zeppelins" is the first match */
	CHECK_INT(vz_text_best_match("Rain, then zeppelins and a Zeppelin", 35, "zeppelin", 8), 11);
	CHECK_INT(vz_text_best_match("Rain, then zeppelin and a blimp", 31, "zeppelins", 9), 11);
	CHECK_INT(vz_text_best_match("nothing", 7, "zeppelin", 8), 0);
	/* the passage with the most distinct query terms, then the most matches, wins */
	char far[1200];
	snprintf(far, sizeof far, "rain once.%600s rain and snow, snow again.", "");
	CHECK_INT(vz_text_best_match(far, strlen(far), "snow rain", 9), 611);
	snprintf(far, sizeof far, "rain snow.%600s rain and snow, snow again.", "");
	CHECK_INT(vz_text_best_match(far, strlen(far), "snow rain", 9), 611);
	snprintf(far, sizeof far, "rain snow snow.%600s rain and snow.", "");
	CHECK_INT(vz_text_best_match(far, strlen(far), "snow rain", 9), 0);
	/* the same input writes the same bytes */
	CHECK_OK(vz_text_index_write("again.bin", docs, 4, &w, 5, 77));
	CHECK_INT(t_sh("cmp -s postings.bin again.bin"), 0);
}

TEST(text_index_title_field)
{
	const char *man = "LS(1)   User Commands   LS(1)\n\nNAME\n       ls - list directory contents\n\nSYNOPSIS\n";
	size_t n = vz_text_title(man, strlen(man));
	CHECK_INT(n, strlen(man)); /* shorter than 300 bytes past the NAME line: all of it */
	char big[1000];
	memset(big, 'x', sizeof big);
	memcpy(big, "intro\n\n# Heading\n", 17);
	CHECK_INT(vz_text_title(big, sizeof big), 9 + 300); /* from the heading's text */
	memcpy(big, "\n\n  first line\n", 15);
	CHECK_INT(vz_text_title(big, sizeof big), 4 + 300);
	/* #include is no heading, "# Real" is */
	memcpy(big, "/* hi */\n#include <a.h>\n# Real\n", 31);
	CHECK_INT(vz_text_title(big, sizeof big), 26 + 300);
	memset(big, 'x', sizeof big);
	memcpy(big, "#!/bin/sh\n#define x\n", 20);
	CHECK_INT(vz_text_title(big, sizeof big), 0 + 300);
	/* a licence notice first (block comment, // or # lines): the title starts past it */
	static const char *const lic[] = { "/* Copyright (C) 1991 Someone.\n   The GNU C Library is free. */\n\n/* String handling */\n",
		"// SPDX-License-Identifier: MIT\n// more words\n\nString handling\n",
		"# Copyright 2020 Someone\n# All rights reserved.\n  \nString handling\n" };
	for (size_t i = 0; i < 3; i++) {
		memset(big, 'x', sizeof big);
		memcpy(big, lic[i], strlen(lic[i]));
		size_t at = (size_t)(strstr(lic[i], "String") - lic[i]) - (i == 0 ? 3 : 0);
		CHECK_INT(vz_text_title(big, sizeof big), at + 300);
	}
	/* a first line that describes the file is kept, notice or not after it */
	memset(big, 'x', sizeof big);
	memcpy(big, "/* Error messages.\n   Copyright (C) 1995 Someone. */\n", 53);
	CHECK_INT(vz_text_title(big, sizeof big), 0 + 300);
}

TEST(text_index_damage_is_refused)
{
	make_docs();
	vz_text_weights w = VZ_TEXT_WEIGHTS_DEFAULT;
	CHECK_OK(vz_text_index_write("postings.bin", docs, 4, &w, 9, 77));
	size_t len;
	char *data = t_slurp("postings.bin", &len);
	uint64_t gen;
	vz_text_index *x;
	/* every single flipped byte is caught by the full check; none crashes a search */
	for (size_t i = 0; i < len; i++) {
		data[i] ^= 0x41;
		t_write("bad.bin", data, len);
		CHECK_INT(vz_text_index_check("bad.bin", &gen), VZ_ECORRUPT);
		if (vz_text_index_open("bad.bin", &x) == VZ_OK) {
			vz_text_hit *h;
			size_t n;
			if (vz_text_search(x, "zeppelin rain http", 18, 10, false, &h, &n) == VZ_OK) vz_text_hits_free(h, n);
			if (vz_text_search(x, "zeppelin rain http", 18, 10, true, &h, &n) == VZ_OK) vz_text_hits_free(h, n);
			vz_text_index_close(x);
		}
		data[i] ^= 0x41;
	}
	for (size_t cut = 0; cut < len; cut += 7) {
		t_write("short.bin", data, cut);
		CHECK_INT(vz_text_index_check("short.bin", &gen), VZ_ECORRUPT);
		CHECK_INT(vz_text_index_open("short.bin", &x), VZ_ECORRUPT);
	}
	free(data);
	CHECK_INT(vz_text_index_open("missing.bin", &x), VZ_ENOENT);
	/* by directory: the file of the committed generation, else a refusal naming both */
	CHECK_INT(t_sh("mkdir -p c && cp postings.bin c/postings.bin.new"), 0);
	CHECK_OK(vz_text_index_open_dir("c", 9, &x));
	vz_text_index_close(x);
	CHECK_INT(vz_text_index_open_dir("c", 8, &x), VZ_ENOENT); /* none of generation 8 */
	CHECK_INT(t_sh("cp postings.bin c/postings.bin"), 0);
	CHECK_INT(vz_text_index_open_dir("c", 8, &x), VZ_ECORRUPT);
	CHECK(strstr(vz_last_error(), "generation 9, the collection's is 8") != NULL);
	CHECK_INT(vz_text_index_open_dir("nowhere", 1, &x), VZ_ENOENT);
}

/* Tokens counted on the threads that read the files (vz_text_tokens_add: two states, the docs
 * dealt between them out of path order, one counted and then not indexed, as a file only
 * touched) give postings.bin the same bytes as tokenizing it there, overlapping chunks too,
 * and again in a second write (each build maps the states' terms anew). */
TEST(text_index_tokens_from_reading_threads_same_bytes)
{
	make_docs();
	chunks[3].start = chunks[2].len - 5; /* long.md's chunks overlap by 5 bytes */
	vz_text_weights w = VZ_TEXT_WEIGHTS_DEFAULT;
	CHECK_OK(vz_text_index_write("plain.bin", docs, 4, &w, 5, 77));
	vz_text_tokens *t[2];
	CHECK_OK(vz_text_tokens_new(&t[0]));
	CHECK_OK(vz_text_tokens_new(&t[1]));
	vz_text_pre pre[4], dropped;
	CHECK_OK(vz_text_tokens_add(t[1], &docs[2], &dropped));
	const int order[4] = { 3, 1, 0, 2 };
	for (int k = 0; k < 4; k++) CHECK_OK(vz_text_tokens_add(t[k % 2], &docs[order[k]], &pre[order[k]]));
	for (int i = 0; i < 4; i++) {
		docs[i].pre = &pre[i];
		memset(docs[i].len, 0xee, sizeof docs[i].len); /* set again from the tokens */
		for (uint32_t j = 0; j < docs[i].n_chunks; j++) docs[i].chunks[j].terms = 12345;
	}
	size_t la, lb, lc;
	char *a = t_slurp("plain.bin", &la);
	for (int round = 0; round < 2; round++) {
		CHECK_OK(vz_text_index_write("pre.bin", docs, 4, &w, 5, 77));
		char *b = t_slurp("pre.bin", &lb);
		CHECK(a && b && la == lb && !memcmp(a, b, la));
		free(b);
	}
	/* a doc whose chunks are not those it was tokenized with is refused, not indexed wrong */
	docs[3].n_chunks = 1;
	CHECK_INT(vz_text_index_write("bad.bin", docs, 4, &w, 5, 77), VZ_EINVAL);
	CHECK(!t_slurp("bad.bin", &lc));
	free(a);
	vz_text_tokens_free(t[0]);
	vz_text_tokens_free(t[1]);
}
