/* test_backup.c: backups and restores (lib/backup_*.c). Round trips with real collections,
 * damage of every kind (bit flips at every offset, truncation at many offsets, repacked archives),
 * hostile archives built here with libarchive + libzstd, and I/O faults at every call. */
#include "t.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

#define DIM 8
#define DATA "data"
#define COLL "data/dynamic/c"

/* ---- collections ---- */

static void make_vec(int seed, float *v)
{
	for (int i = 0; i < DIM; i++) v[i] = (float)sin(seed * 7.3 + i * 1.7) + (i == seed % DIM ? 2.0f : 0.0f);
}

static void insert_range(const char *dir, int from, int to)
{
	vz_collection *c;
	CHECK_OK(vz_collection_open(dir, VZ_OPEN_WRITE, 1000, &c));
	int n = to - from;
	vz_write *w = calloc((size_t)n, sizeof *w);
	float *vecs = calloc((size_t)n * DIM, sizeof(float));
	char (*ids)[32] = calloc((size_t)n, 32);
	char (*pl)[32] = calloc((size_t)n, 32);
	for (int i = 0; i < n; i++) {
		snprintf(ids[i], 32, "v%d", from + i);
		snprintf(pl[i], 32, "{\"n\":%d}", from + i);
		make_vec(from + i, vecs + i * DIM);
		w[i] = (vz_write){ VZ_WRITE_INSERT, ids[i], strlen(ids[i]), vecs + i * DIM, DIM, pl[i], strlen(pl[i]), (size_t)i + 1 };
	}
	CHECK_OK(vz_collection_write(c, w, (size_t)n, VZ_WRITE_NO_AUTO_CHECKPOINT, 1, NULL));
	free(w);
	free(vecs);
	free(ids);
	free(pl);
	vz_collection_close(c);
}

static void checkpoint(const char *dir)
{
	vz_collection *c;
	CHECK_OK(vz_collection_open(dir, VZ_OPEN_WRITE, 1000, &c));
	CHECK_OK(vz_collection_checkpoint(c, 1, true));
	vz_collection_close(c);
}

/* A dynamic collection "c" in data_dir: a checkpoint of rows 0..from and a WAL holding more. */
static void make_collection(const char *data_dir, const char *name, int checkpointed, int in_wal)
{
	vz_config cfg;
	vz_config_defaults(&cfg);
	cfg.dim = DIM;
	CHECK_OK(vz_collection_create(data_dir, name, &cfg));
	char dir[512];
	snprintf(dir, sizeof dir, "%s/dynamic/%s", data_dir, name);
	if (checkpointed) {
		insert_range(dir, 0, checkpointed);
		checkpoint(dir);
	}
	if (in_wal) insert_range(dir, checkpointed, checkpointed + in_wal);
}

/* The ids of the 10 nearest rows to a fixed query, as one string. */
static void query_ids(const char *dir, char *out, size_t cap)
{
	vz_collection *c;
	CHECK_OK(vz_collection_open(dir, VZ_OPEN_READ, 1000, &c));
	float q[DIM];
	make_vec(3, q);
	vz_result r[10];
	size_t n;
	CHECK_OK(vz_collection_query(c, q, 10, 64, r, &n));
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(out);
		snprintf(out + len, cap - len, "%.*s:%.5f ", (int)r[i].id_len, r[i].id, r[i].score);
	}
	vz_collection_close(c);
}

/* Every file under dir (recursively) with its XXH3, one "path hash" a line, sorted: a snapshot
 * of a directory tree to compare before and after. LOCK files are left out when skip_locks. */
static char *tree_snapshot(const char *dir, bool skip_locks)
{
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "cd %s 2>/dev/null && find . -type f %s | sort | while read f; do printf '%%s ' \"$f\"; cksum < \"$f\"; done > %s/snap.txt",
		 dir, skip_locks ? "! -name LOCK ! -name .lock" : "", t_dir());
	if (t_sh("%s", cmd) != 0) t_write("snap.txt", "", 0);
	char *s = t_slurp("snap.txt", NULL);
	unlink("snap.txt");
	return s ? s : strdup("");
}

/* ---- problem capture ---- */

struct seen {
	int n;
	char first_file[256];
	char first_what[600];
	char all[8192];
};

static void on_problem(void *ctx, const char *file, int64_t offset, const char *what)
{
	struct seen *s = ctx;
	(void)offset;
	if (s->n++ == 0) {
		snprintf(s->first_file, sizeof s->first_file, "%s", file);
		snprintf(s->first_what, sizeof s->first_what, "%s", what);
	}
	size_t len = strlen(s->all);
	snprintf(s->all + len, sizeof s->all - len, "%s: %s\n", file, what);
}

static vz_backup_options opts(void)
{
	vz_backup_options o;
	vz_backup_options_default(&o);
	o.lock_timeout_ms = 1000;
	return o;
}

static void backup_all(const char *data_dir, const char *path)
{
	const char *names[] = { "c" };
	vz_backup_options o = opts();
	CHECK_OK(vz_backup_write_file(data_dir, names, 1, &o, path, NULL));
}

/* ---- round trips ---- */

TEST(backup_round_trip_dynamic_and_workspace)
{
	make_collection(DATA, "c", 200, 50);
	/* a workspace collection: a snapshot written straight into data/workspace/p/w */
	CHECK_OK(vz_io_mkdir_p(DATA "/workspace/p/w", 0755));
	t_write(DATA "/workspace/p/w/LOCK", "", 0);
	vz_config cfg;
	vz_config_defaults(&cfg);
	cfg.dim = DIM;
	vz_row rows[20];
	float vecs[20][DIM];
	char ids[20][8];
	for (int i = 0; i < 20; i++) {
		make_vec(100 + i, vecs[i]);
		vz_normalize(vecs[i], DIM);
		snprintf(ids[i], sizeof ids[i], "w%d", i);
		rows[i] = (vz_row){ ids[i], strlen(ids[i]), vecs[i], NULL, 0 };
	}
	CHECK_OK(vz_collection_write_snapshot(DATA "/workspace/p/w", &cfg, rows, 20, 1, 1, NULL, false));

	const char *names[] = { "c", "p/w" };
	vz_backup_options o = opts();
	vz_backup_summary sum;
	CHECK_OK(vz_backup_write_file(DATA, names, 2, &o, "bk.tar.zst", &sum));
	CHECK_INT(sum.collections, 2);
	CHECK(sum.files >= 5);

	struct seen s = { 0 };
	int problems;
	vz_backup_summary vs;
	CHECK_OK(vz_backup_verify("bk.tar.zst", true, on_problem, &s, &problems, &vs));
	if (problems) t_fail(__FILE__, __LINE__, "problems: %s", s.all);
	CHECK_INT(vs.collections, 2);
	CHECK_INT(vs.files, sum.files);
	CHECK_INT(vs.bytes, sum.bytes);
	CHECK_STR(vs.created, sum.created);

	CHECK_OK(vz_backup_restore("data2", "bk.tar.zst", NULL, 0, NULL, 0, NULL, 1000, on_problem, NULL, &s));
	CHECK_INT(s.n, 0);
	/* byte for byte the same files, and the same answers */
	char *a = tree_snapshot(DATA, true), *b = tree_snapshot("data2", true);
	CHECK_STR(b, a);
	free(a);
	free(b);
	char qa[1024], qb[1024];
	query_ids(COLL, qa, sizeof qa);
	query_ids("data2/dynamic/c", qb, sizeof qb);
	CHECK_STR(qb, qa);
	CHECK(strlen(qa) > 20);
	query_ids(DATA "/workspace/p/w", qa, sizeof qa);
	query_ids("data2/workspace/p/w", qb, sizeof qb);
	CHECK_STR(qb, qa);
	int vp;
	CHECK_OK(vz_collection_verify("data2/dynamic/c", false, 1000, NULL, NULL, &vp));
	CHECK_INT(vp, 0);
	CHECK_OK(vz_collection_verify("data2/workspace/p/w", false, 1000, NULL, NULL, &vp));
	CHECK_INT(vp, 0);
	/* no staging directory is left behind */
	CHECK_INT(t_sh("ls -a data2 | grep -q vztmp"), 1);
	CHECK_INT(t_sh("ls -a data | grep -q vztmp"), 1);
}

TEST(backup_archive_is_standard_tar_zstd_with_checksums)
{
	make_collection(DATA, "c", 30, 5);
	backup_all(DATA, "bk.tar.zst");
	CHECK_INT(t_sh("tar --zstd -tf bk.tar.zst > list.txt"), 0);
	char *list = t_slurp("list.txt", NULL);
	CHECK(list && !strncmp(list, VZ_BACKUP_MANIFEST "\n", strlen(VZ_BACKUP_MANIFEST) + 1));
	CHECK(strstr(list, "dynamic/c/wal.log\n") && strstr(list, "dynamic/c/metadata.json\n"));
	CHECK(!strstr(list, "LOCK"));
	free(list);
	/* the zstd frame descriptor's content checksum bit, and `zstd -t` agrees */
	size_t len;
	unsigned char *bk = (unsigned char *)t_slurp("bk.tar.zst", &len);
	CHECK(len > 5 && vz_load_u32(bk) == 0xFD2FB528u && (bk[4] & 0x04));
	free(bk);
	CHECK_INT(t_sh("zstd -q -t bk.tar.zst"), 0);
	/* extracted by tar into a data directory (plus LOCK), it is the collection again */
	CHECK_INT(t_sh("mkdir x && cd x && tar --zstd -xf ../bk.tar.zst && touch dynamic/c/LOCK"), 0);
	char qa[1024], qb[1024];
	query_ids(COLL, qa, sizeof qa);
	query_ids("x/dynamic/c", qb, sizeof qb);
	CHECK_STR(qb, qa);
	char *m = t_slurp("x/" VZ_BACKUP_MANIFEST, NULL);
	CHECK(m && strstr(m, "\"format_version\": 1") && strstr(m, "\"vz_version\": \"" VZ_VERSION "\"") && strstr(m, "\"xxh3\""));
	free(m);
}

TEST(backup_levels_threads_and_stdout_fd)
{
	make_collection(DATA, "c", 50, 0);
	const char *names[] = { "c" };
	vz_backup_options o = opts();
	o.level = 19;
	o.threads = 2;
	CHECK_OK(vz_backup_write_file(DATA, names, 1, &o, "hi.tar.zst", NULL));
	int problems;
	CHECK_OK(vz_backup_verify("hi.tar.zst", true, NULL, NULL, &problems, NULL));
	CHECK_INT(problems, 0);
	o.level = 0;
	CHECK_INT(vz_backup_write_file(DATA, names, 1, &o, "bad.tar.zst", NULL), VZ_EINVAL);
	CHECK(access("bad.tar.zst", F_OK) != 0);
	o = opts();
	int fd;
	CHECK_OK(vz_io_open_write("fd.tar.zst", O_WRONLY | O_CREAT | O_TRUNC, 0644, &fd));
	CHECK_OK(vz_backup_write_fd(DATA, names, 1, &o, fd, "fd.tar.zst", NULL));
	close(fd);
	CHECK_OK(vz_backup_verify("fd.tar.zst", true, NULL, NULL, &problems, NULL));
	CHECK_INT(problems, 0);
	/* an unknown collection and a duplicate name */
	const char *missing[] = { "nope" };
	CHECK_INT(vz_backup_write_file(DATA, missing, 1, &o, "m.tar.zst", NULL), VZ_ENOENT);
	const char *twice[] = { "c", "c" };
	CHECK_INT(vz_backup_write_file(DATA, twice, 2, &o, "m.tar.zst", NULL), VZ_EINVAL);
	CHECK(access("m.tar.zst", F_OK) != 0);
}

TEST(backup_refuses_collections_holding_special_files)
{
	make_collection(DATA, "c", 10, 0);
	CHECK_INT(t_sh("ln -s /etc/passwd " COLL "/evil"), 0);
	const char *names[] = { "c" };
	vz_backup_options o = opts();
	CHECK_INT(vz_backup_write_file(DATA, names, 1, &o, "bk.tar.zst", NULL), VZ_EDATA);
	CHECK(strstr(vz_last_error(), "dynamic/c/evil"));
	CHECK(access("bk.tar.zst", F_OK) != 0);
	CHECK_INT(t_sh("rm " COLL "/evil && mkfifo " COLL "/fifo"), 0);
	CHECK_INT(vz_backup_write_file(DATA, names, 1, &o, "bk.tar.zst", NULL), VZ_EDATA);
	/* leftovers of a crash (.vztmp.*) are not part of the collection: skipped */
	CHECK_INT(t_sh("rm " COLL "/fifo && echo junk > " COLL "/.vztmp.x.1"), 0);
	CHECK_OK(vz_backup_write_file(DATA, names, 1, &o, "bk.tar.zst", NULL));
	CHECK_INT(t_sh("tar --zstd -tf bk.tar.zst | grep -q vztmp"), 1);
}

/* ---- damage ---- */

TEST(backup_every_flipped_bit_is_detected)
{
	make_collection(DATA, "c", 20, 3);
	backup_all(DATA, "bk.tar.zst");
	size_t len;
	unsigned char *bk = (unsigned char *)t_slurp("bk.tar.zst", &len);
	int problems;
	CHECK_OK(vz_backup_verify_buffer(bk, len, NULL, NULL, &problems));
	CHECK_INT(problems, 0);
	int undetected = 0;
	for (size_t off = 0; off < len; off++) {
		unsigned char bit = (unsigned char)(1u << (off % 8));
		bk[off] ^= bit;
		struct seen s = { 0 };
		CHECK_OK(vz_backup_verify_buffer(bk, len, on_problem, &s, &problems));
		if (problems == 0) {
			fprintf(stderr, "undetected flip at offset %zu of %zu\n", off, len);
			undetected++;
		}
		CHECK_INT(problems, s.n);
		bk[off] ^= bit;
	}
	CHECK_INT(undetected, 0);
	free(bk);
}

TEST(backup_truncation_at_many_offsets_is_detected)
{
	make_collection(DATA, "c", 20, 3);
	backup_all(DATA, "bk.tar.zst");
	size_t len;
	unsigned char *bk = (unsigned char *)t_slurp("bk.tar.zst", &len);
	int checked = 0;
	for (size_t cut = 0; cut < len; cut += (cut < 256 || cut + 256 > len) ? 1 : 17) {
		int problems;
		CHECK_OK(vz_backup_verify_buffer(bk, cut, NULL, NULL, &problems));
		if (problems == 0) t_fail(__FILE__, __LINE__, "archive cut at %zu of %zu bytes passed", cut, len);
		checked++;
	}
	CHECK(checked > 500);
	struct seen s = { 0 };
	int problems0;
	CHECK_OK(vz_backup_verify_buffer(bk, len - 32, on_problem, &s, &problems0));
	CHECK(problems0 > 0 && strstr(s.first_what, "no end-of-backup checksum"));
	/* and appended garbage */
	unsigned char *longer = malloc(len + 7);
	memcpy(longer, bk, len);
	memcpy(longer + len, "garbage", 7);
	int problems;
	CHECK_OK(vz_backup_verify_buffer(longer, len + 7, NULL, NULL, &problems));
	CHECK(problems > 0);
	free(longer);
	free(bk);
}

/* Appends vz's end-of-backup trailer (see lib/backup_internal.h) to a zstd stream made by other tools:
 * a skippable frame with the compressed length and its XXH3. */
static void add_trailer(unsigned char **buf, size_t *len)
{
	*buf = realloc(*buf, *len + 32);
	unsigned char *t = *buf + *len;
	vz_store_u32(t, 0x184D2A5Au);
	vz_store_u32(t + 4, 24);
	memcpy(t + 8, "VZBK", 4);
	vz_store_u32(t + 12, 1);
	vz_store_u64(t + 16, *len);
	vz_store_u64(t + 24, vz_hash64(*buf, *len));
	*len += 32;
}

/* Repacks bk.tar.zst through python's tarfile with one change (the python expression acts on
 * `members`, a list of (TarInfo, bytes)), recompressed with zstd --check. */
static void repack(const char *out, const char *change)
{
	static const char script[] =
		"import io, sys, tarfile\n"
		"src = tarfile.open(fileobj=io.BytesIO(sys.stdin.buffer.read()))\n"
		"members = [(m, src.extractfile(m).read() if m.isfile() else b'') for m in src.getmembers()]\n"
		"def data(name): return [d for m, d in members if m.name == name][0]\n"
		"def put(name, d, info=None):\n"
		"    i = info or tarfile.TarInfo(name); i.size = len(d)\n"
		"    for k, (m, _) in enumerate(members):\n"
		"        if m.name == name: members[k] = (i, d); return\n"
		"    members.append((i, d))\n"
		"exec(sys.argv[1])\n"
		"buf = io.BytesIO(); dst = tarfile.open(fileobj=buf, mode='w', format=tarfile.PAX_FORMAT)\n"
		"for m, d in members: dst.addfile(m, io.BytesIO(d) if m.isfile() else None)\n"
		"dst.close(); sys.stdout.buffer.write(buf.getvalue())\n";
	t_write("repack.py", script, strlen(script));
	t_write("change.py", change, strlen(change));
	if (t_sh("zstd -q -d -c bk.tar.zst | python3 repack.py \"$(cat change.py)\" | zstd -q --check -f -o %s", out) != 0)
		t_fail(__FILE__, __LINE__, "repack failed: %s", change);
	size_t len;
	unsigned char *z = (unsigned char *)t_slurp(out, &len);
	add_trailer(&z, &len);
	t_write(out, z, len);
	free(z);
}

TEST(backup_damaged_archives_refused_and_data_untouched)
{
	make_collection(DATA, "c", 40, 10);
	backup_all(DATA, "bk.tar.zst");
	/* the repacker itself changes nothing that matters: a plain repack verifies */
	repack("same.tar.zst", "pass");
	int problems;
	struct seen s0 = { 0 };
	CHECK_OK(vz_backup_verify("same.tar.zst", true, on_problem, &s0, &problems, NULL));
	if (problems) t_fail(__FILE__, __LINE__, "a plain repack fails: %s", s0.all);

	/* the restore target: an existing data directory with another collection */
	make_collection("target", "other", 5, 2);
	char *before = tree_snapshot("target", false);

	static const struct { const char *name, *change, *want_file, *want_what; } cases[] = {
		{ "extra file", "put('dynamic/c/extra.bin', b'hello')", "dynamic/c/extra.bin", "not listed in the manifest" },
		{ "missing file", "members[:] = [x for x in members if x[0].name != 'dynamic/c/wal.log']", "dynamic/c/wal.log", "missing" },
		{ "truncated file", "put('dynamic/c/wal.log', data('dynamic/c/wal.log')[:-100])", "dynamic/c/wal.log", "the manifest says" },
		{ "same-length replaced file", "d = bytearray(data('dynamic/c/wal.log')); d[200] ^= 1; put('dynamic/c/wal.log', bytes(d))", "dynamic/c/wal.log", "checksum mismatch" },
		{ "bad manifest", "put('vz-backup/manifest.json', b'{\"format\": \"vz-backup\", ')", VZ_BACKUP_MANIFEST, "line" },
		{ "manifest with a wrong checksum", "import re; put('vz-backup/manifest.json', re.sub(rb'\"xxh3\": \"[0-9a-f]', b'\"xxh3\": \"g', data('vz-backup/manifest.json'), count=1))", VZ_BACKUP_MANIFEST, "xxh3" },
		{ "manifest not first", "members.append(members.pop(0))", "dynamic/c/", "not vz-backup/manifest.json" },
		{ "newer format", "put('vz-backup/manifest.json', data('vz-backup/manifest.json').replace(b'\"format_version\": 1', b'\"format_version\": 9'))", VZ_BACKUP_MANIFEST, "newer" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		repack("bad.tar.zst", cases[i].change);
		struct seen s = { 0 };
		CHECK_OK(vz_backup_verify("bad.tar.zst", true, on_problem, &s, &problems, NULL));
		if (problems == 0) t_fail(__FILE__, __LINE__, "%s: verify passed", cases[i].name);
		if (!strstr(s.first_file, cases[i].want_file) || !strstr(s.first_what, cases[i].want_what))
			t_fail(__FILE__, __LINE__, "%s: first problem is '%s: %s'", cases[i].name, s.first_file, s.first_what);
		struct seen r = { 0 };
		int rc = vz_backup_restore("target", "bad.tar.zst", NULL, 0, NULL, VZ_RESTORE_FORCE, NULL, 1000, on_problem, NULL, &r);
		if (rc != VZ_ECORRUPT) t_fail(__FILE__, __LINE__, "%s: restore returned %d (%s)", cases[i].name, rc, vz_last_error());
		char *after = tree_snapshot("target", false);
		if (strcmp(before, after)) t_fail(__FILE__, __LINE__, "%s: the data directory changed", cases[i].name);
		free(after);
		CHECK_INT(t_sh("ls -a target | grep -q vztmp"), 1);
	}
	free(before);
}

TEST(backup_damaged_collection_inside_is_found_by_verify)
{
	make_collection(DATA, "c", 40, 0);
	/* a backup whose manifest matches a damaged vectors.bin: only the collection check sees it */
	CHECK_INT(t_sh("printf '\\377' | dd of=" COLL "/vectors.bin bs=1 seek=300 conv=notrunc 2>/dev/null"), 0);
	backup_all(DATA, "bk.tar.zst");
	int problems;
	CHECK_OK(vz_backup_verify("bk.tar.zst", false, NULL, NULL, &problems, NULL));
	CHECK_INT(problems, 0);
	struct seen s = { 0 };
	CHECK_OK(vz_backup_verify("bk.tar.zst", true, on_problem, &s, &problems, NULL));
	CHECK(problems > 0);
	CHECK(strstr(s.first_file, "dynamic/c/vectors.bin"));
	CHECK_INT(vz_backup_restore("data2", "bk.tar.zst", NULL, 0, NULL, 0, NULL, 1000, NULL, NULL, NULL), VZ_ECORRUPT);
	CHECK(access("data2/dynamic/c", F_OK) != 0);
}

/* ---- hostile archives, built here ---- */

struct ent {
	const char *path;
	mode_t type;          /* AE_IFREG, AE_IFLNK, ... */
	const char *data;
	int64_t size;         /* header size; -1: strlen(data) */
	const char *link;     /* symlink target, or hard link target when hard */
	bool hard;
};

/* A tar of the entries, then trailing_zeros zero bytes, compressed with zstd (checksum on or off). */
static unsigned char *build_archive(const struct ent *e, size_t n, size_t trailing_zeros, bool checksum, size_t *out_len)
{
	size_t cap = (8u << 20) + trailing_zeros, used = 0;
	unsigned char *tar = calloc(1, cap);
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	archive_write_set_bytes_per_block(a, 0);
	CHECK(archive_write_open_memory(a, tar, cap, &used) == ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *ae = archive_entry_new();
		archive_entry_set_pathname(ae, e[i].path);
		archive_entry_set_filetype(ae, e[i].type);
		archive_entry_set_perm(ae, 0644);
		if (e[i].link && e[i].hard) archive_entry_set_hardlink(ae, e[i].link);
		else if (e[i].link) archive_entry_set_symlink(ae, e[i].link);
		if (e[i].type == AE_IFCHR) archive_entry_set_rdev(ae, 0x0103);
		size_t dlen = e[i].data ? strlen(e[i].data) : 0;
		archive_entry_set_size(ae, e[i].size >= 0 ? e[i].size : (int64_t)dlen);
		if (archive_write_header(a, ae) != ARCHIVE_OK)
			t_fail(__FILE__, __LINE__, "%s: %s", e[i].path, archive_error_string(a));
		if (dlen) archive_write_data(a, e[i].data, dlen);
		archive_entry_free(ae);
	}
	CHECK(archive_write_close(a) == ARCHIVE_OK);
	archive_write_free(a);
	used += trailing_zeros;
	ZSTD_CCtx *cc = ZSTD_createCCtx();
	ZSTD_CCtx_setParameter(cc, ZSTD_c_checksumFlag, checksum ? 1 : 0);
	size_t zcap = ZSTD_compressBound(used);
	unsigned char *z = malloc(zcap);
	*out_len = ZSTD_compress2(cc, z, zcap, tar, used);
	CHECK(!ZSTD_isError(*out_len));
	ZSTD_freeCCtx(cc);
	free(tar);
	add_trailer(&z, out_len);
	return z;
}

/* A manifest for collection c listing files a.bin ("hello") and b.bin ("world!"). */
static char *manifest_text(uint64_t a_size)
{
	static char buf[2048];
	snprintf(buf, sizeof buf,
		 "{\"format\":\"vz-backup\",\"format_version\":1,\"created\":\"2026-11-25T04:15:00Z\",\"vz_version\":\"0.1.0\","
		 "\"collections\":[{\"name\":\"c\",\"kind\":\"dynamic\",\"files\":["
		 "{\"path\":\"dynamic/c/a.bin\",\"size\":%llu,\"xxh3\":\"%016llx\"},"
		 "{\"path\":\"dynamic/c/b.bin\",\"size\":6,\"xxh3\":\"%016llx\"}]}],\"file_count\":2,\"total_size\":%llu}",
		 (unsigned long long)a_size, (unsigned long long)vz_hash64("hello", 5), (unsigned long long)vz_hash64("world!", 6),
		 (unsigned long long)(a_size + 6));
	return buf;
}

static void write_file(const char *path, const unsigned char *data, size_t len)
{
	t_write(path, data, len);
}

TEST(backup_hostile_archives_refused_before_anything_is_written)
{
	const char *m = manifest_text(5);
	/* control: the well-formed archive passes the archive checks */
	struct ent good[] = {
		{ VZ_BACKUP_MANIFEST, AE_IFREG, m, -1, NULL, false },
		{ "dynamic/c/a.bin", AE_IFREG, "hello", -1, NULL, false },
		{ "dynamic/c/b.bin", AE_IFREG, "world!", -1, NULL, false },
	};
	size_t len;
	unsigned char *z = build_archive(good, 3, 0, true, &len);
	int problems;
	struct seen s0 = { 0 };
	CHECK_OK(vz_backup_verify_buffer(z, len, on_problem, &s0, &problems));
	if (problems) t_fail(__FILE__, __LINE__, "the control archive fails: %s", s0.all);
	free(z);

	static const struct { const char *name; struct ent bad; const char *want; } cases[] = {
		{ "absolute path", { "/tmp/vz-evil-abs", AE_IFREG, "x", -1, NULL, false }, "absolute path" },
		{ "dot-dot", { "dynamic/c/../../../vz-evil-dotdot", AE_IFREG, "x", -1, NULL, false }, "'..'" },
		{ "symlink", { "dynamic/c/a.bin", AE_IFLNK, NULL, 0, "/etc/passwd", false }, "symbolic link" },
		{ "hard link", { "dynamic/c/a.bin", AE_IFREG, NULL, 0, "/etc/passwd", true }, "hard link" },
		{ "device", { "dynamic/c/a.bin", AE_IFCHR, NULL, 0, NULL, false }, "device" },
		{ "fifo", { "dynamic/c/a.bin", AE_IFIFO, NULL, 0, NULL, false }, "fifo" },
		{ "foreign directory", { "etc/", AE_IFDIR, NULL, 0, NULL, false }, "directory" },
		{ "duplicate", { "dynamic/c/b.bin", AE_IFREG, "world!", -1, NULL, false }, "duplicate" },
		{ "not in manifest", { "dynamic/c/evil.bin", AE_IFREG, "x", -1, NULL, false }, "not listed" },
		{ "bigger than the manifest", { "dynamic/c/a.bin", AE_IFREG, "hello", 5000000, NULL, false }, "the manifest says" },
		{ "lock file", { "dynamic/c/LOCK", AE_IFREG, "", -1, NULL, false }, "not listed" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		/* the hostile entry comes after the good ones, except where it replaces a.bin */
		bool replaces = !strcmp(cases[i].bad.path, "dynamic/c/a.bin");
		struct ent e[4] = { good[0], good[1], good[2], cases[i].bad };
		if (replaces) e[1] = cases[i].bad;
		size_t n = replaces ? 3 : 4;
		z = build_archive(e, n, 0, true, &len);
		struct seen s = { 0 };
		CHECK_OK(vz_backup_verify_buffer(z, len, on_problem, &s, &problems));
		if (problems == 0 || !strstr(s.all, cases[i].want))
			t_fail(__FILE__, __LINE__, "%s: problems '%s'", cases[i].name, s.all);
		write_file("hostile.tar.zst", z, len);
		free(z);
		int rc = vz_backup_restore("data", "hostile.tar.zst", NULL, 0, NULL, VZ_RESTORE_FORCE, NULL, 1000, NULL, NULL, NULL);
		if (rc != VZ_ECORRUPT) t_fail(__FILE__, __LINE__, "%s: restore returned %d", cases[i].name, rc);
		/* nothing outside the (removed) staging directory */
		CHECK_INT(t_sh("test -z \"$(find data -mindepth 1)\""), 0);
		CHECK(access("/tmp/vz-evil-abs", F_OK) != 0);
		CHECK(access("../vz-evil-dotdot", F_OK) != 0);
	}
}

TEST(backup_hostile_manifests_and_streams_refused)
{
	size_t len;
	int problems;
	/* sizes beyond the global bound, in the manifest */
	char *huge = strdup(manifest_text(VZ_BACKUP_MAX_FILE + 1));
	struct ent e1[] = { { VZ_BACKUP_MANIFEST, AE_IFREG, huge, -1, NULL, false } };
	unsigned char *z = build_archive(e1, 1, 0, true, &len);
	struct seen s = { 0 };
	CHECK_OK(vz_backup_verify_buffer(z, len, on_problem, &s, &problems));
	CHECK(problems > 0 && strstr(s.first_what, "out of range"));
	free(z);
	free(huge);
	/* a decompression bomb: 64 MiB of zeros after the tar (compresses to almost nothing) */
	const char *m = manifest_text(5);
	struct ent good[] = {
		{ VZ_BACKUP_MANIFEST, AE_IFREG, m, -1, NULL, false },
		{ "dynamic/c/a.bin", AE_IFREG, "hello", -1, NULL, false },
		{ "dynamic/c/b.bin", AE_IFREG, "world!", -1, NULL, false },
	};
	z = build_archive(good, 3, 64u << 20, true, &len);
	CHECK(len < (1u << 20));
	memset(&s, 0, sizeof s);
	CHECK_OK(vz_backup_verify_buffer(z, len, on_problem, &s, &problems));
	CHECK(problems > 0 && strstr(s.all, "more than the manifest accounts for"));
	free(z);
	/* a zstd frame without its checksum */
	z = build_archive(good, 3, 0, false, &len);
	memset(&s, 0, sizeof s);
	CHECK_OK(vz_backup_verify_buffer(z, len, on_problem, &s, &problems));
	CHECK(problems > 0 && strstr(s.first_what, "without a content checksum"));
	free(z);
	/* not zstd at all, empty, a skippable frame */
	CHECK_OK(vz_backup_verify_buffer("not a backup at all", 19, NULL, NULL, &problems));
	CHECK(problems > 0);
	CHECK_OK(vz_backup_verify_buffer(NULL, 0, NULL, NULL, &problems));
	CHECK(problems > 0);
	unsigned char skip[12] = { 0x50, 0x2A, 0x4D, 0x18, 4, 0, 0, 0, 1, 2, 3, 4 };
	memset(&s, 0, sizeof s);
	CHECK_OK(vz_backup_verify_buffer(skip, sizeof skip, on_problem, &s, &problems));
	CHECK(problems > 0 && strstr(s.first_what, "skippable"));
	/* a manifest naming a path outside its collection, or a bad collection name */
	const char *evil_path = "{\"format\":\"vz-backup\",\"format_version\":1,\"created\":\"x\",\"vz_version\":\"x\",\"collections\":"
				"[{\"name\":\"c\",\"kind\":\"dynamic\",\"files\":[{\"path\":\"dynamic/c/../x\",\"size\":1,\"xxh3\":\"0000000000000000\"}]}],"
				"\"file_count\":1,\"total_size\":1}";
	const char *evil_name = "{\"format\":\"vz-backup\",\"format_version\":1,\"created\":\"x\",\"vz_version\":\"x\",\"collections\":"
				"[{\"name\":\"../c\",\"kind\":\"dynamic\",\"files\":[]}],\"file_count\":0,\"total_size\":0}";
	const char *texts[] = { evil_path, evil_name };
	for (int i = 0; i < 2; i++) {
		struct ent e[] = { { VZ_BACKUP_MANIFEST, AE_IFREG, texts[i], -1, NULL, false } };
		z = build_archive(e, 1, 0, true, &len);
		memset(&s, 0, sizeof s);
		CHECK_OK(vz_backup_verify_buffer(z, len, on_problem, &s, &problems));
		CHECK(problems > 0 && !strcmp(s.first_file, VZ_BACKUP_MANIFEST));
		free(z);
	}
}

/* ---- restore rules ---- */

static void on_done(void *ctx, const char *name, const char *safety)
{
	char *out = ctx;
	snprintf(out, 4096, "%s|%s", name, safety ? safety : "");
}

TEST(backup_restore_existing_needs_force_and_keeps_a_safety_backup)
{
	make_collection(DATA, "c", 30, 0);
	backup_all(DATA, "old.tar.zst");
	insert_range(COLL, 30, 40);
	char q_new[1024], q_old[1024];
	query_ids(COLL, q_new, sizeof q_new);
	char *before = tree_snapshot(DATA, false);
	CHECK_INT(vz_backup_restore(DATA, "old.tar.zst", NULL, 0, NULL, 0, NULL, 1000, NULL, NULL, NULL), VZ_EEXIST);
	char *after = tree_snapshot(DATA, false);
	CHECK_STR(after, before);
	free(after);
	free(before);

	char done[4096] = "";
	CHECK_OK(vz_backup_restore(DATA, "old.tar.zst", NULL, 0, NULL, VZ_RESTORE_FORCE, NULL, 1000, NULL, on_done, done));
	char *bar = strchr(done, '|');
	CHECK(bar && !strncmp(done, "c|", 2) && strstr(bar, DATA "/backups/vz-c-") && strstr(bar, ".tar.zst"));
	int problems;
	CHECK_OK(vz_backup_verify(bar + 1, true, NULL, NULL, &problems, NULL));
	CHECK_INT(problems, 0);
	/* the collection is the old one now; the safety backup holds the newer one */
	query_ids(COLL, q_old, sizeof q_old);
	CHECK(strcmp(q_old, q_new));
	CHECK_OK(vz_backup_restore("data3", bar + 1, NULL, 0, NULL, 0, NULL, 1000, NULL, NULL, NULL));
	char q3[1024];
	query_ids("data3/dynamic/c", q3, sizeof q3);
	CHECK_STR(q3, q_new);
	CHECK_INT(t_sh("ls -a " DATA "/dynamic | grep -q vztmp"), 1);
	CHECK_INT(t_sh("ls -a " DATA " | grep -q vztmp"), 1);
}

TEST(backup_restore_selection_and_as)
{
	make_collection(DATA, "c", 20, 0);
	make_collection(DATA, "d", 10, 0);
	const char *names[] = { "c", "d" };
	vz_backup_options o = opts();
	CHECK_OK(vz_backup_write_file(DATA, names, 2, &o, "bk.tar.zst", NULL));
	const char *only_d[] = { "d" };
	CHECK_OK(vz_backup_restore("r1", "bk.tar.zst", only_d, 1, NULL, 0, NULL, 1000, NULL, NULL, NULL));
	CHECK(access("r1/dynamic/d/metadata.json", F_OK) == 0);
	CHECK(access("r1/dynamic/c", F_OK) != 0);
	const char *only_c[] = { "c" };
	CHECK_OK(vz_backup_restore(DATA, "bk.tar.zst", only_c, 1, "c2", 0, NULL, 1000, NULL, NULL, NULL));
	char qa[1024], qb[1024];
	query_ids(COLL, qa, sizeof qa);
	query_ids(DATA "/dynamic/c2", qb, sizeof qb);
	CHECK_STR(qb, qa);
	/* --as with two collections, an unknown name, a bad name */
	CHECK_INT(vz_backup_restore("r2", "bk.tar.zst", NULL, 0, "x", 0, NULL, 1000, NULL, NULL, NULL), VZ_EINVAL);
	const char *nope[] = { "nope" };
	CHECK_INT(vz_backup_restore("r2", "bk.tar.zst", nope, 1, NULL, 0, NULL, 1000, NULL, NULL, NULL), VZ_ENOENT);
	CHECK_INT(vz_backup_restore("r2", "bk.tar.zst", only_c, 1, "../x", 0, NULL, 1000, NULL, NULL, NULL), VZ_EINVAL);
	CHECK_INT(vz_backup_restore("r2", "missing.tar.zst", NULL, 0, NULL, 0, NULL, 1000, NULL, NULL, NULL), VZ_ENOENT);
	CHECK_INT(t_sh("test -z \"$(ls -A r2/dynamic 2>/dev/null)\""), 0);
}

TEST(backup_restore_waits_for_the_lock_then_gives_up_busy)
{
	make_collection(DATA, "c", 10, 0);
	backup_all(DATA, "bk.tar.zst");
	vz_lock held = VZ_LOCK_INIT;
	CHECK_OK(vz_collection_lock(COLL, VZ_LOCK_SHARED, 1000, &held));
	pid_t pid = fork();
	if (pid == 0) {
		int rc = vz_backup_restore(DATA, "bk.tar.zst", NULL, 0, NULL, VZ_RESTORE_FORCE, NULL, 100, NULL, NULL, NULL);
		_exit(rc == VZ_EBUSY ? 0 : 1);
	}
	int status;
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	vz_lock_release(&held);
	/* a backup waits on an exclusive holder the same way */
	CHECK_OK(vz_collection_lock(COLL, VZ_LOCK_EXCLUSIVE, 1000, &held));
	pid = fork();
	if (pid == 0) {
		const char *names[] = { "c" };
		vz_backup_options o = opts();
		o.lock_timeout_ms = 100;
		_exit(vz_backup_write_file(DATA, names, 1, &o, "b2.tar.zst", NULL) == VZ_EBUSY && access("b2.tar.zst", F_OK) != 0 ? 0 : 1);
	}
	waitpid(pid, &status, 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	vz_lock_release(&held);
}

/* ---- --dir and retention ---- */

static int count_matching(const char *dir, const char *pattern)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "exit $(ls -A %s | grep -cE '%s')", dir, pattern);
	return t_sh("%s", cmd);
}

TEST(backup_dir_keeps_the_newest_and_nothing_else_is_touched)
{
	make_collection(DATA, "c", 10, 0);
	CHECK_OK(vz_io_mkdir_p("bk", 0755));
	t_write("bk/notes.txt", "mine", 4);
	t_write("bk/vz-other.tar.zst", "not a backup", 12);
	t_write("bk/vz-20000101T000000Z.tar.zst", "ancient", 7);
	const char *names[] = { "c" };
	vz_backup_options o = opts();
	char written[5][4096];
	for (int i = 0; i < 5; i++) {
		CHECK_OK(vz_backup_write_dir(DATA, names, 1, &o, "bk", NULL, 3, written[i], sizeof written[i], NULL));
		for (int j = 0; j < i; j++) CHECK(strcmp(written[i], written[j]) > 0); /* later backups sort after */
	}
	CHECK_INT(count_matching("bk", "^vz-[0-9]{8}T[0-9]{6}Z(\\.[0-9]+)?\\.tar\\.zst$"), 3);
	for (int i = 2; i < 5; i++) CHECK(access(written[i], F_OK) == 0);
	CHECK(access(written[0], F_OK) != 0 && access(written[1], F_OK) != 0);
	CHECK(access("bk/vz-20000101T000000Z.tar.zst", F_OK) != 0);
	CHECK(access("bk/notes.txt", F_OK) == 0 && access("bk/vz-other.tar.zst", F_OK) == 0);
	CHECK_INT(t_sh("ls -a bk | grep -q vztmp"), 1);
	int problems;
	CHECK_OK(vz_backup_verify(written[4], true, NULL, NULL, &problems, NULL));
	CHECK_INT(problems, 0);
	/* the safety-backup form names files per collection and prunes only those */
	char safety[4096];
	CHECK_OK(vz_backup_collection_to_dir(DATA, "c", "bk", 1, 1000, safety, sizeof safety));
	CHECK(strstr(safety, "bk/vz-c-"));
	CHECK_INT(count_matching("bk", "^vz-[0-9]{8}T"), 3);
}

/* ---- I/O faults ---- */

TEST(backup_enospc_at_every_io_call_leaves_earlier_backups_intact)
{
	make_collection(DATA, "c", 30, 5);
	const char *names[] = { "c" };
	vz_backup_options o = opts();
	char first[4096];
	CHECK_OK(vz_backup_write_dir(DATA, names, 1, &o, "bk", NULL, 2, first, sizeof first, NULL));
	size_t len0;
	char *first_bytes = t_slurp(first, &len0);
	uint64_t c0 = vz_io_calls();
	char probe[4096];
	CHECK_OK(vz_backup_write_dir(DATA, names, 1, &o, "probe", NULL, 2, probe, sizeof probe, NULL));
	int calls = (int)(vz_io_calls() - c0);
	CHECK(calls > 5);
	int failures = 0;
	for (int n = 1; n <= calls + 1; n++) {
		char env[32];
		snprintf(env, sizeof env, "%d:ENOSPC", n);
		setenv("VZ_FAULT", env, 1);
		vz_io_fault_reload();
		char out[4096] = "";
		int rc = vz_backup_write_dir(DATA, names, 1, &o, "bk", NULL, 0, out, sizeof out, NULL);
		unsetenv("VZ_FAULT");
		vz_io_fault_reload();
		if (rc) {
			failures++;
			if (rc != VZ_EIO) t_fail(__FILE__, __LINE__, "fault %d: error %d (%s)", n, rc, vz_last_error());
		} else if (out[0]) {
			int problems;
			CHECK_OK(vz_backup_verify(out, true, NULL, NULL, &problems, NULL));
			CHECK_INT(problems, 0);
			unlink(out);
		}
		/* the earlier backup is intact, no temp file is left */
		size_t len;
		char *now = t_slurp(first, &len);
		CHECK(now && len == len0 && !memcmp(now, first_bytes, len));
		free(now);
		if (t_sh("ls -a bk | grep -q vztmp") == 0) t_fail(__FILE__, __LINE__, "fault %d left a temp file", n);
		CHECK_INT(count_matching("bk", "tar.zst$"), 1);
	}
	/* only the removal of the staging directory may fail without failing the backup */
	CHECK(failures > calls / 2);
	free(first_bytes);
}

TEST(backup_restore_fault_at_every_io_call_is_all_or_nothing)
{
	make_collection(DATA, "c", 30, 5);
	backup_all(DATA, "bk.tar.zst");
	char want[1024];
	query_ids(COLL, want, sizeof want);
	uint64_t c0 = vz_io_calls();
	CHECK_OK(vz_backup_restore("probe", "bk.tar.zst", NULL, 0, NULL, 0, NULL, 1000, NULL, NULL, NULL));
	int calls = (int)(vz_io_calls() - c0);
	for (int n = 1; n <= calls; n++) {
		t_sh("rm -rf r");
		char env[32];
		snprintf(env, sizeof env, "%d:EIO", n);
		setenv("VZ_FAULT", env, 1);
		vz_io_fault_reload();
		int rc = vz_backup_restore("r", "bk.tar.zst", NULL, 0, NULL, 0, NULL, 1000, NULL, NULL, NULL);
		unsetenv("VZ_FAULT");
		vz_io_fault_reload();
		if (rc && rc != VZ_EIO) t_fail(__FILE__, __LINE__, "fault %d: error %d (%s)", n, rc, vz_last_error());
		if (access("r/dynamic/c", F_OK) == 0) {
			char got[1024];
			query_ids("r/dynamic/c", got, sizeof got);
			CHECK_STR(got, want);
		} else {
			CHECK(rc != 0);
		}
	}
}
