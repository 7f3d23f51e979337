/* test_foundation.c: errors, header, I/O layer fault injection, atomic replace, locks, names. */

#include "t.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

TEST(error_codes_map_to_exit_codes)
{
	CHECK_INT(vz_exit_code(VZ_OK), 0);
	CHECK_INT(vz_exit_code(VZ_EINVAL), 64);
	CHECK_INT(vz_exit_code(VZ_EDATA), 65);
	CHECK_INT(vz_exit_code(VZ_ECORRUPT), 65);
	CHECK_INT(vz_exit_code(VZ_ENOENT), 66);
	CHECK_INT(vz_exit_code(VZ_EINTERNAL), 70);
	CHECK_INT(vz_exit_code(VZ_ENOMEM), 71);
	CHECK_INT(vz_exit_code(VZ_EEXIST), 73);
	CHECK_INT(vz_exit_code(VZ_EIO), 74);
	CHECK_INT(vz_exit_code(VZ_EBUSY), 75);
	CHECK_INT(vz_exit_code(VZ_EPERM), 77);
	CHECK_INT(vz_exit_code(VZ_ECONFIG), 78);
	CHECK_INT(vz_err_from_errno(ENOSPC), VZ_EIO);
	CHECK_INT(vz_err_from_errno(ENOENT), VZ_ENOENT);
	CHECK_STR(vz_strerror(VZ_EBUSY), "busy");
	CHECK(strcmp(vz_strerror(12345), "unknown error") == 0);
}

TEST(fail_records_detail_and_prefix)
{
	CHECK_INT(vz_fail(VZ_EDATA, "line %d: bad", 7), VZ_EDATA);
	CHECK_STR(vz_last_error(), "line 7: bad");
	CHECK_INT(vz_fail_prefix(VZ_EDATA, "in.jsonl: "), VZ_EDATA);
	CHECK_STR(vz_last_error(), "in.jsonl: line 7: bad");
}

TEST(checked_arithmetic_detects_overflow)
{
	size_t out;
	CHECK(!vz_add_overflow(1, 2, &out) && out == 3);
	CHECK(vz_add_overflow(SIZE_MAX, 1, &out));
	CHECK(vz_mul_overflow(SIZE_MAX / 2 + 1, 2, &out));
	uint64_t o64;
	CHECK(vz_mul_overflow_u64(UINT64_MAX, 3, &o64));
	CHECK(!vz_mul_overflow_u64(1u << 20, 1u << 20, &o64) && o64 == (uint64_t)1 << 40);
}

TEST(header_round_trip_and_every_corruption_detected)
{
	vz_file_header h = { .version = 1, .flags = 3, .generation = 9, .body_length = 100,
			     .body_checksum = 0xabcdef, .aux = 5, .aux2 = 6 };
	memcpy(h.magic, VZ_MAGIC_VECTORS, 8);
	unsigned char buf[VZ_HEADER_SIZE];
	vz_header_encode(&h, buf);
	vz_file_header got;
	CHECK_OK(vz_header_decode(buf, sizeof buf, VZ_MAGIC_VECTORS, 1, &got));
	CHECK_INT(got.generation, 9);
	CHECK_INT(got.body_length, 100);
	CHECK_INT(got.aux2, 6);
	CHECK_INT(vz_header_decode(buf, sizeof buf, VZ_MAGIC_INDEX, 1, &got), VZ_ECORRUPT);
	CHECK_INT(vz_header_decode(buf, 63, VZ_MAGIC_VECTORS, 1, &got), VZ_ECORRUPT);
	for (int bit = 0; bit < VZ_HEADER_SIZE * 8; bit++) {
		unsigned char c[VZ_HEADER_SIZE];
		memcpy(c, buf, sizeof c);
		c[bit / 8] ^= (unsigned char)(1 << (bit % 8));
		CHECK_INT(vz_header_decode(c, sizeof c, VZ_MAGIC_VECTORS, 1, &got), VZ_ECORRUPT);
	}
	h.version = 2;
	vz_header_encode(&h, buf);
	CHECK_INT(vz_header_decode(buf, sizeof buf, VZ_MAGIC_VECTORS, 1, &got), VZ_ECORRUPT);
	CHECK(strstr(vz_last_error(), "version 2") != NULL);
}

/* vz_header_write_start: the header a streamed file gets at offset 0 once its body is written,
 * read back by vz_header_decode with the id in aux and aux2; without an id, aux and aux2 stay as
 * set; a full disk at that write is the caller's error and leaves no file behind. */
TEST(header_written_at_start_reads_back_and_reports_a_full_disk)
{
	vz_coll_id id;
	vz_id_new(&id);
	const char body[] = "a streamed body";
	for (int with_id = 0; with_id < 2; with_id++) {
		const char *name = with_id ? "with-id" : "without-id";
		vz_tmpfile t;
		CHECK_OK(vz_tmpfile_open(&t, name));
		unsigned char zero[VZ_HEADER_SIZE] = { 0 };
		CHECK_OK(vz_tmpfile_write(&t, zero, sizeof zero));
		CHECK_OK(vz_tmpfile_write(&t, body, sizeof body));
		vz_file_header h = { .version = 2, .flags = 1, .generation = 7, .body_length = sizeof body,
				     .body_checksum = vz_hash64(body, sizeof body), .aux = 11, .aux2 = 12 };
		CHECK_OK(vz_header_write_start(&t, VZ_MAGIC_INDEX, with_id ? &id : NULL, &h));
		CHECK_OK(vz_tmpfile_commit(&t));
		size_t len = 0;
		unsigned char *got = (unsigned char *)t_slurp(name, &len);
		CHECK(got);
		CHECK_INT(len, VZ_HEADER_SIZE + sizeof body);
		CHECK(memcmp(got + VZ_HEADER_SIZE, body, sizeof body) == 0);
		vz_file_header d;
		CHECK_OK(vz_header_decode(got, len, VZ_MAGIC_INDEX, 2, &d));
		CHECK(memcmp(d.magic, VZ_MAGIC_INDEX, 8) == 0);
		CHECK_INT(d.version, 2);
		CHECK_INT(d.flags, 1);
		CHECK_INT(d.generation, 7);
		CHECK_INT(d.body_length, sizeof body);
		CHECK(d.body_checksum == vz_hash64(body, sizeof body));
		vz_coll_id back;
		CHECK(vz_header_id(&d, &back));
		if (with_id) {
			CHECK(vz_id_equal(&back, &id));
		} else {
			CHECK_INT(d.aux, 11);
			CHECK_INT(d.aux2, 12);
		}
		/* the same bytes as the reading side's encoder gives for h as filled in */
		unsigned char enc[VZ_HEADER_SIZE];
		vz_header_encode(&h, enc);
		CHECK(memcmp(got, enc, VZ_HEADER_SIZE) == 0);
		free(got);
	}
	pid_t pid = fork();
	if (pid == 0) {
		vz_tmpfile t;
		unsigned char zero[VZ_HEADER_SIZE] = { 0 };
		if (vz_tmpfile_open(&t, "full") || vz_tmpfile_write(&t, zero, sizeof zero)) _exit(2);
		setenv("VZ_FAULT", "1:ENOSPC", 1); /* counted from the reload: the header's pwrite */
		vz_io_fault_reload();
		vz_file_header h = { .version = 2 };
		int rc = vz_header_write_start(&t, VZ_MAGIC_VECTORS, &id, &h);
		vz_tmpfile_abort(&t);
		_exit(rc == VZ_EIO && strstr(vz_last_error(), "No space left") ? 0 : 3);
	}
	int st;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(access("full", F_OK) != 0);
}

TEST(hash_streaming_equals_one_shot)
{
	const char *s = "the quick brown fox jumps over the lazy dog";
	vz_hasher *h = vz_hasher_new();
	vz_hasher_update(h, s, 10);
	vz_hasher_update(h, s + 10, strlen(s) - 10);
	CHECK(vz_hasher_digest(h) == vz_hash64(s, strlen(s)));
	vz_hasher_free(h);
	CHECK(vz_hash64_seeded(s, 5, 1) != vz_hash64_seeded(s, 5, 2));
}

/* vz_hash64 and vz_hasher take lib/hash_avx2.c's code where the processor has AVX2: the same
 * bits as libxxhash's XXH3 at every length class (short, mid, long with a partial stripe and
 * block) and any split of the stream. */
TEST(hash_is_xxh3_whichever_code_computes_it)
{
	size_t max = (1u << 20) + 4093;
	unsigned char *buf = malloc(max);
	CHECK(buf);
	uint64_t x = 88172645463325252ull;
	for (size_t i = 0; i < max; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		buf[i] = (unsigned char)x;
	}
	size_t lens[] = { 0, 1, 3, 4, 8, 9, 16, 17, 128, 129, 240, 241, 1024, 1025, 4096 + 7, 65536 + 63, max };
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		uint64_t want = XXH3_64bits(buf, lens[i]);
		CHECK(vz_hash64(buf, lens[i]) == want);
		vz_hasher *h = vz_hasher_new();
		CHECK(h);
		for (size_t at = 0; at < lens[i];) {
			size_t n = (at * 7 + 13) % 70001 + 1;
			if (n > lens[i] - at) n = lens[i] - at;
			vz_hasher_update(h, buf + at, n);
			at += n;
		}
		CHECK(vz_hasher_digest(h) == want);
		vz_hasher_free(h);
	}
	free(buf);
}

TEST(names_are_never_paths)
{
	CHECK(vz_name_valid("docs"));
	CHECK(vz_name_valid("a.b_c-1"));
	CHECK(vz_name_valid("0"));
	const char *bad[] = { "", "../x", "/etc", "a/b", ".hidden", "-x", "_x", "a\nb", "a b", "é" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) CHECK(!vz_name_valid(bad[i]));
	char longname[66];
	memset(longname, 'a', 65);
	longname[65] = '\0';
	CHECK(!vz_name_valid(longname));
	longname[64] = '\0';
	CHECK(vz_name_valid(longname));
}

static int count_temps(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, ".vztmp.", 7)) n++;
	closedir(d);
	return n;
}

/* Runs an atomic replace of target with content in a child process under VZ_FAULT=spec.
 * Returns the child's exit status (or 128+signal). */
static int atomic_write_in_child(const char *spec, const char *target, const char *content)
{
	pid_t pid = fork();
	if (pid == 0) {
		setenv("VZ_FAULT", spec, 1);
		vz_io_fault_reload();
		int rc = vz_atomic_write(target, content, strlen(content));
		_exit(rc == 0 ? 0 : 10 + (-rc));
	}
	int st;
	waitpid(pid, &st, 0);
	return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
}

TEST(atomic_replace_is_old_or_new_under_every_fault)
{
	const char *old = "old content\n";
	char newc[5000];
	memset(newc, 'n', sizeof newc - 1);
	newc[sizeof newc - 1] = '\0';
	const char *kinds[] = { "EIO", "ENOSPC", "crash", "torn" };
	for (size_t k = 0; k < 4; k++) {
		int calls_seen = 0;
		for (int n = 1; n < 50; n++) {
			t_write("target", old, strlen(old));
			char spec[32];
			snprintf(spec, sizeof spec, "%d:%s", n, kinds[k]);
			int st = atomic_write_in_child(spec, "target", newc);
			size_t len;
			char *got = t_slurp("target", &len);
			CHECK(got != NULL);
			bool is_old = !strcmp(got, old), is_new = !strcmp(got, newc);
			if (!is_old && !is_new) t_fail(__FILE__, __LINE__, "%s: target is neither old nor new", spec);
			free(got);
			if (st == 0) {
				/* the fault was beyond the last call: the write completed */
				CHECK(is_new);
				calls_seen = n - 1;
				break;
			}
			if (k < 2) {
				/* an I/O error is reported as the I/O exit and leaves no temp file */
				CHECK_INT(st, 10 + (-VZ_EIO));
				CHECK_INT(count_temps("."), 0);
			} else {
				CHECK_INT(st, 128 + SIGKILL);
			}
			/* the next call cleans up what a crash left behind */
			int removed;
			CHECK_OK(vz_cleanup_temps(".", &removed));
			CHECK_INT(count_temps("."), 0);
		}
		/* open, write, fsync, rename, fsync_dir */
		CHECK_INT(calls_seen, 5);
	}
}

TEST(io_layer_counts_and_fails_the_chosen_call)
{
	pid_t pid = fork();
	if (pid == 0) {
		setenv("VZ_FAULT", "2:ENOSPC", 1);
		vz_io_fault_reload();
		int fd;
		if (vz_io_open_write("f", O_WRONLY | O_CREAT, 0644, &fd)) _exit(2);
		int rc = vz_io_write(fd, "abc", 3, "f");
		_exit(rc == VZ_EIO && strstr(vz_last_error(), "No space left") && vz_io_calls() == 2 ? 0 : 3);
	}
	int st;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	size_t len = 99;
	char *c = t_slurp("f", &len);
	CHECK(c && len == 0);
	free(c);
}

TEST(staged_writes_arrive_whole_in_order_in_few_calls_and_report_a_failed_flush)
{
	/* 3000 small pieces and two large ones, through a 4 KiB stage and through none */
	unsigned char big[10000];
	for (size_t i = 0; i < sizeof big; i++) big[i] = (unsigned char)(i * 7);
	for (int buffered = 0; buffered < 2; buffered++) {
		vz_tmpfile t;
		CHECK_OK(vz_tmpfile_open(&t, buffered ? "staged" : "direct"));
		vz_stage st;
		vz_stage_init(&st, &t, buffered ? 4096 : 0);
		size_t before = vz_io_calls();
		char want[3 * 3000 + 2 * sizeof big], *w = want;
		for (int i = 0; i < 3000; i++) {
			char piece[4];
			snprintf(piece, sizeof piece, "%03d", i % 1000);
			CHECK_OK(vz_stage_write(&st, piece, 3));
			memcpy(w, piece, 3), w += 3;
			if (i == 1000 || i == 2999) {
				CHECK_OK(vz_stage_write(&st, big, sizeof big));
				memcpy(w, big, sizeof big), w += sizeof big;
			}
			CHECK_OK(vz_stage_write(&st, "", 0));
		}
		CHECK_OK(vz_stage_finish(&st));
		size_t calls = vz_io_calls() - before;
		/* buffered: 9000 bytes in 4 KiB stages plus two direct pieces; direct: a call a piece */
		if (buffered) CHECK(calls <= 8);
		else CHECK(calls == 3002);
		CHECK_INT(t.written, sizeof want);
		CHECK_OK(vz_tmpfile_commit(&t));
		size_t len = 0;
		char *got = t_slurp(buffered ? "staged" : "direct", &len);
		CHECK(got && len == sizeof want && !memcmp(got, want, len));
		free(got);
	}
	/* the disk fills while the stage is flushed: the error comes back from the write that
	 * flushed, or from finish */
	pid_t pid = fork();
	if (pid == 0) {
		vz_tmpfile t;
		if (vz_tmpfile_open(&t, "full")) _exit(2);
		vz_stage st;
		vz_stage_init(&st, &t, 4096);
		setenv("VZ_FAULT", "1:ENOSPC", 1); /* counted from the reload: the first flush */
		vz_io_fault_reload();
		int rc = VZ_OK;
		for (int i = 0; i < 2000 && !rc; i++) rc = vz_stage_write(&st, "0123456789", 10);
		int frc = vz_stage_finish(&st);
		vz_tmpfile_abort(&t);
		_exit(rc == VZ_EIO && frc == VZ_OK && strstr(vz_last_error(), "No space left") ? 0 : 3);
	}
	int status;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(access("full", F_OK) != 0);
}

TEST(io_refuses_symlinks)
{
	CHECK(symlink("/tmp/vz-should-not-exist", "link") == 0);
	int fd;
	CHECK_INT(vz_io_open_write("link", O_WRONLY | O_CREAT, 0644, &fd), VZ_EPERM);
	CHECK(access("/tmp/vz-should-not-exist", F_OK) != 0);
	CHECK(mkdir("real", 0755) == 0 && symlink("real", "dirlink") == 0);
	CHECK_INT(vz_io_mkdir_p("dirlink", 0755), VZ_EPERM);
	CHECK_OK(vz_io_mkdir_p("a/b/c", 0755));
	struct stat st;
	CHECK(stat("a/b/c", &st) == 0 && S_ISDIR(st.st_mode));
	CHECK_OK(vz_io_remove_tree("a"));
	CHECK(stat("a", &st) != 0);
}

TEST(io_respects_umask)
{
	umask(077);
	CHECK_OK(vz_atomic_write("f", "x", 1));
	struct stat st;
	CHECK(stat("f", &st) == 0);
	CHECK_INT(st.st_mode & 0777, 0600);
}

TEST(map_and_read_file)
{
	t_write("m", "hello", 5);
	vz_map m;
	CHECK_OK(vz_map_file("m", &m));
	CHECK(m.size == 5 && !memcmp(m.data, "hello", 5));
	vz_unmap(&m);
	CHECK_INT(vz_map_file("missing", &m), VZ_ENOENT);
	char *buf;
	size_t len;
	CHECK_OK(vz_read_file("m", 100, &buf, &len));
	CHECK(len == 5 && !strcmp(buf, "hello"));
	free(buf);
	CHECK_INT(vz_read_file("m", 4, &buf, &len), VZ_ERANGE);
}

TEST(lock_exclusive_blocks_then_busy_names_holder)
{
	int pfd[2];
	CHECK(pipe(pfd) == 0);
	pid_t holder = fork();
	if (holder == 0) {
		vz_lock l;
		if (vz_lock_acquire("LOCK", VZ_LOCK_EXCLUSIVE, 0, true, &l)) _exit(2);
		if (write(pfd[1], "x", 1) != 1) _exit(3);
		sleep(30);
		_exit(0);
	}
	char c;
	CHECK(read(pfd[0], &c, 1) == 1);
	vz_lock l = VZ_LOCK_INIT;
	double t0 = vz_now();
	CHECK_INT(vz_lock_acquire("LOCK", VZ_LOCK_EXCLUSIVE, 200, true, &l), VZ_EBUSY);
	double waited = vz_now() - t0;
	CHECK(waited >= 0.19 && waited < 5);
	char want[64];
	snprintf(want, sizeof want, "process %d", (int)holder);
	if (!strstr(vz_last_error(), want)) t_fail(__FILE__, __LINE__, "detail '%s' does not name %s", vz_last_error(), want);
	CHECK_INT(vz_lock_acquire("LOCK", VZ_LOCK_SHARED, 0, true, &l), VZ_EBUSY);
	kill(holder, SIGKILL);
	waitpid(holder, NULL, 0);
	/* the kernel dropped the dead holder's lock: no stale lock to clean by hand */
	CHECK_OK(vz_lock_acquire("LOCK", VZ_LOCK_EXCLUSIVE, 1000, true, &l));
	vz_lock_release(&l);
	vz_lock_release(&l);
}

TEST(lock_readers_share)
{
	vz_lock a = VZ_LOCK_INIT, b = VZ_LOCK_INIT, w = VZ_LOCK_INIT;
	CHECK_OK(vz_lock_acquire("LOCK", VZ_LOCK_SHARED, 0, true, &a));
	CHECK_OK(vz_lock_acquire("LOCK", VZ_LOCK_SHARED, 0, true, &b));
	CHECK_INT(vz_lock_acquire("LOCK", VZ_LOCK_EXCLUSIVE, 50, true, &w), VZ_EBUSY);
	vz_lock_release(&a);
	vz_lock_release(&b);
	CHECK_OK(vz_lock_acquire("LOCK", VZ_LOCK_EXCLUSIVE, 0, true, &w));
	vz_lock_release(&w);
	CHECK_INT(vz_lock_acquire("nolock", VZ_LOCK_SHARED, 0, false, &w), VZ_ENOENT);
}

TEST(datadir_first_match_wins)
{
	char out[4096];
	enum vz_datadir_source s;
	setenv("VZ_DATA_DIR", "/env/dir", 1);
	CHECK_OK(vz_datadir_resolve("/opt/dir", out, sizeof out, &s, NULL, 0));
	CHECK_STR(out, "/opt/dir");
	CHECK_INT(s, VZ_DATADIR_OPTION);
	CHECK_OK(vz_datadir_resolve(NULL, out, sizeof out, &s, NULL, 0));
	CHECK_STR(out, "/env/dir");
	CHECK_INT(s, VZ_DATADIR_ENV);
	unsetenv("VZ_DATA_DIR");
	CHECK(mkdir("ws", 0755) == 0 && mkdir("ws/sub", 0755) == 0);
	t_write("ws/vectorize-workspace.yml", "x: 1\n", 5);
	CHECK(chdir("ws/sub") == 0);
	char ws[4096];
	CHECK_OK(vz_datadir_resolve(NULL, out, sizeof out, &s, ws, sizeof ws));
	CHECK_INT(s, VZ_DATADIR_WORKSPACE);
	char want[4200];
	snprintf(want, sizeof want, "%s/ws/data", t_dir());
	CHECK_STR(out, want);
	CHECK(chdir("/") == 0);
	setenv("XDG_DATA_HOME", "/xdg", 1);
	CHECK_OK(vz_datadir_resolve(NULL, out, sizeof out, &s, NULL, 0));
	CHECK_STR(out, "/xdg/vz");
	CHECK_INT(s, VZ_DATADIR_XDG);
}
