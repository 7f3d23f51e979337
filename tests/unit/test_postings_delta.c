/* test_postings_delta.c: postings.delta (lib/postings_delta.c): postings.bin amended by a delta,
 * and by a delta of that merged view, ranks as an index written whole of the same files:
 * the same hits, scores (exactly), ties, grouped copies and file records. */
#include "t.h"

#include "../../lib/postings_delta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXF 40

typedef struct fileset {
	char path[MAXF][32];
	char text[MAXF][400];
	vz_text_chunk ch[MAXF][2];
	vz_text_doc d[MAXF];
	size_t n;
} fileset;

/* File name of number i with words from seed (two chunks when i is a multiple of 4; files 0
 * and 1 alike, so that copies are grouped). */
static void add(fileset *s, int i, unsigned seed, int64_t mtime)
{
	size_t k = s->n++;
	snprintf(s->path[k], sizeof s->path[k], "dir/f%02d.md", i);
	unsigned r = seed * 2654435761u + 12345;
	int len = snprintf(s->text[k], sizeof s->text[k], "# Title %d\n", i == 1 ? 0 : i);
	int words = 20 + (int)(r % 30);
	for (int w = 0; w < words; w++) {
		r = r * 1103515245u + 12345;
		len += snprintf(s->text[k] + len, sizeof s->text[k] - (size_t)len, "w%02u%s", (r >> 16) % 40, w % 9 == 8 ? "\n" : " ");
	}
	if (i == 1) memcpy(s->text[k], s->text[k - 1], sizeof s->text[k]), len = (int)strlen(s->text[k]);
	uint32_t cut = i % 4 == 0 ? (uint32_t)len / 2 : (uint32_t)len;
	s->ch[k][0] = (vz_text_chunk){ .text = s->text[k], .len = cut, .line = 1, .start = 0 };
	s->ch[k][1] = (vz_text_chunk){ .text = s->text[k] + cut, .len = (uint32_t)len - cut, .line = 3, .start = cut };
	s->d[k] = (vz_text_doc){ .path = s->path[k], .hash = vz_hash64(s->text[k], (size_t)len), .size = (uint64_t)len, .mtime_ns = mtime,
				 .chunks = s->ch[k], .n_chunks = cut < (uint32_t)len ? 2 : 1, .title = s->text[k] };
	s->d[k].title_len = (uint32_t)vz_text_title(s->text[k], cut);
}

/* from[i]: file of x with doc i's path and content, or -1 (as a build finds its kept files) */
static void match(const vz_text_index *x, const fileset *s, int64_t *from)
{
	for (size_t i = 0; i < s->n; i++) {
		from[i] = -1;
		for (uint32_t f = 0; f < vz_text_index_files(x); f++) {
			vz_text_file_stat fs;
			if (!vz_text_index_file(x, f, &fs) && fs.path_len == strlen(s->path[i]) && !memcmp(fs.path, s->path[i], fs.path_len) && fs.hash == s->d[i].hash)
				from[i] = f;
		}
	}
}

/* The answers of x and of full to each query, per file and per chunk, are the same. */
static int same_answers(const vz_text_index *x, const vz_text_index *full)
{
	const char *qs[] = { "w01 w02", "w03", "title w07 w33", "w39 w00 w11 w12", "f05 dir", "title 0" };
	int bad = 0;
	for (size_t q = 0; q < sizeof qs / sizeof qs[0]; q++)
		for (int chunks = 0; chunks < 2; chunks++) {
			vz_text_hit *a, *b;
			size_t na, nb;
			if (vz_text_search(x, qs[q], strlen(qs[q]), 50, chunks, &a, &na) || vz_text_search(full, qs[q], strlen(qs[q]), 50, chunks, &b, &nb)) return 1;
			if (na != nb || !na) bad++;
			for (size_t i = 0; i < na && i < nb; i++) {
				if (a[i].score != b[i].score || a[i].path_len != b[i].path_len || memcmp(a[i].path, b[i].path, a[i].path_len) || a[i].chunk != b[i].chunk ||
				    a[i].line != b[i].line || a[i].n_same != b[i].n_same || a[i].file != b[i].file)
					bad++;
				for (uint32_t j = 0; j < a[i].n_same && j < b[i].n_same; j++) bad += a[i].same[j] != b[i].same[j];
			}
			vz_text_hits_free(a, na);
			vz_text_hits_free(b, nb);
		}
	return bad;
}

static int delta(const vz_text_index *prev, fileset *s, uint64_t gen)
{
	int64_t from[MAXF];
	match(prev, s, from);
	vz_buf body = { 0 };
	uint64_t base_gen;
	vz_text_weights w = VZ_TEXT_WEIGHTS_DEFAULT;
	int rc = vz_ti_delta_encode(prev, s->d, from, s->n, &w, &body, &base_gen);
	if (!rc) rc = vz_ti_delta_write("postings.delta", &body, gen, base_gen, 77);
	vz_buf_free(&body);
	return rc;
}

TEST(postings_delta_ranks_as_a_full_index)
{
	static fileset a, b, c;
	vz_text_weights w = VZ_TEXT_WEIGHTS_DEFAULT;
	for (int i = 0; i < 20; i++) add(&a, i, (unsigned)i, 10);
	CHECK_OK(vz_text_index_write("postings.bin", a.d, a.n, &w, 1, 77));
	/* removed f03, changed f05 and f08 (two chunks), touched f07, added f25 and f26 */
	for (int i = 0; i < 20; i++)
		if (i != 3) add(&b, i, i == 5 || i == 8 ? 99u + (unsigned)i : (unsigned)i, i == 7 ? 11 : 10);
	add(&b, 25, 25, 10), add(&b, 26, 26, 10);
	vz_text_index *x0, *x, *full;
	CHECK_OK(vz_text_index_open_dir(".", 1, &x0));
	CHECK_OK(delta(x0, &b, 2));
	vz_text_index_close(x0);
	uint64_t gen = 0, bg = 0;
	CHECK_OK(vz_ti_delta_check("postings.delta", &gen, &bg));
	CHECK_INT(gen, 2);
	CHECK_INT(bg, 1);
	CHECK_OK(vz_text_index_open_dir(".", 2, &x));
	CHECK_OK(vz_text_index_build(b.d, b.n, &w, &full));
	CHECK_INT(vz_text_index_files(x), b.n);
	CHECK_INT(vz_text_index_generation(x), 2);
	for (uint32_t f = 0; f < b.n; f++) { /* the file records of a full build, in its order */
		vz_text_file_stat p, q;
		CHECK_OK(vz_text_index_file(x, f, &p));
		CHECK_OK(vz_text_index_file(full, f, &q));
		CHECK(p.path_len == q.path_len && !memcmp(p.path, q.path, p.path_len) && p.hash == q.hash && p.mtime_ns == q.mtime_ns && p.chunks == q.chunks);
	}
	CHECK_INT(same_answers(x, full), 0);
	vz_text_index_close(full);
	/* a delta of the merged view: f10 changed, f25 removed again, f30 added */
	for (size_t i = 0; i < b.n; i++) {
		int num = atoi(b.path[i] + 5);
		if (num == 25) continue;
		add(&c, num, num == 10 ? 777u : num == 5 || num == 8 ? 99u + (unsigned)num : (unsigned)num, num == 7 ? 11 : 10);
	}
	add(&c, 30, 30, 10);
	CHECK_OK(delta(x, &c, 3));
	vz_text_index_close(x);
	CHECK_OK(vz_text_index_open_dir(".", 3, &x));
	CHECK_OK(vz_text_index_build(c.d, c.n, &w, &full));
	CHECK_INT(vz_text_index_files(x), c.n);
	CHECK_INT(same_answers(x, full), 0);
	vz_text_index_close(full);
	vz_text_index_close(x);
	/* postings.bin of the delta's generation is the whole index: the delta is not read */
	CHECK_OK(vz_text_index_write("postings.bin", c.d, c.n, &w, 3, 77));
	CHECK_OK(vz_text_index_open_dir(".", 3, &x));
	CHECK_OK(vz_text_index_build(c.d, c.n, &w, &full));
	CHECK_INT(same_answers(x, full), 0);
	vz_text_index_close(full);
	vz_text_index_close(x);
}

TEST(postings_delta_refuses_damage)
{
	static fileset a, b;
	vz_text_weights w = VZ_TEXT_WEIGHTS_DEFAULT;
	for (int i = 0; i < 8; i++) add(&a, i, (unsigned)i, 10);
	CHECK_OK(vz_text_index_write("postings.bin", a.d, a.n, &w, 1, 77));
	for (int i = 0; i < 8; i++) add(&b, i, i == 2 ? 50u : (unsigned)i, 10);
	vz_text_index *x;
	CHECK_OK(vz_text_index_open_dir(".", 1, &x));
	CHECK_OK(delta(x, &b, 2));
	vz_text_index_close(x);
	FILE *f = fopen("postings.delta", "r+b");
	CHECK(f != NULL);
	fseek(f, -9, SEEK_END);
	int byte = fgetc(f);
	fseek(f, -9, SEEK_END);
	fputc(byte ^ 16, f);
	fclose(f);
	uint64_t gen, bg;
	CHECK_INT(vz_ti_delta_check("postings.delta", &gen, &bg), VZ_ECORRUPT);
	CHECK(strstr(vz_last_error(), "offset 32: body checksum mismatch") != NULL);
	/* a build that would take the delta's postings over refuses it */
	CHECK_OK(vz_text_index_open_dir(".", 2, &x));
	vz_buf body = { 0 };
	int64_t from[8] = { 0, 1, -1, 3, 4, 5, 6, 7 };
	CHECK_INT(vz_ti_delta_encode(x, b.d, from, b.n, &w, &body, &bg), VZ_ECORRUPT);
	vz_buf_free(&body);
	vz_text_index_close(x);
	/* a delta of another postings.bin than the one there */
	CHECK_OK(vz_text_index_write("postings.bin", a.d, a.n, &w, 0, 77));
	CHECK_INT(vz_text_index_open_dir(".", 2, &x), VZ_ECORRUPT);
	/* a delta of an older generation is left over: not read */
	CHECK_INT(vz_text_index_open_dir(".", 5, &x), VZ_ECORRUPT); /* postings.bin of 0, no delta of 5 */
	CHECK(strstr(vz_last_error(), "run vz build") != NULL);
	/* bytes that are no postings.delta */
	unsigned char junk[200] = { 0 };
	CHECK_INT(vz_ti_delta_check_bytes(junk, sizeof junk), VZ_ECORRUPT);
}
