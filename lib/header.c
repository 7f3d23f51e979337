/* header.c: the versioned 64-byte header that starts every binary file of the format, the
 * collection identity that version 2 headers carry, and which of a file's names (NAME, NAME.new,
 * NAME.prev) carries the committed generation. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

void vz_header_encode(const vz_file_header *h, unsigned char out[VZ_HEADER_SIZE])
{
	memcpy(out, h->magic, 8);
	vz_store_u32(out + 8, h->version);
	vz_store_u32(out + 12, h->flags);
	vz_store_u64(out + 16, h->generation);
	vz_store_u64(out + 24, h->body_length);
	vz_store_u64(out + 32, h->body_checksum);
	vz_store_u64(out + 40, h->aux);
	vz_store_u64(out + 48, h->aux2);
	vz_store_u64(out + 56, vz_hash64(out, 56));
}

int vz_header_decode(const unsigned char *buf, size_t len, const char *want_magic,
		     uint32_t max_version, vz_file_header *h)
{
	if (len < VZ_HEADER_SIZE)
		return vz_fail(VZ_ECORRUPT, "offset 0: file is %zu bytes, shorter than its %d-byte header",
			       len, VZ_HEADER_SIZE);
	if (memcmp(buf, want_magic, 8) != 0)
		return vz_fail(VZ_ECORRUPT, "offset 0: bad magic (not a %.8s file)", want_magic);
	memcpy(h->magic, buf, 8);
	h->version = vz_load_u32(buf + 8);
	h->flags = vz_load_u32(buf + 12);
	h->generation = vz_load_u64(buf + 16);
	h->body_length = vz_load_u64(buf + 24);
	h->body_checksum = vz_load_u64(buf + 32);
	h->aux = vz_load_u64(buf + 40);
	h->aux2 = vz_load_u64(buf + 48);
	h->header_checksum = vz_load_u64(buf + 56);
	if (h->header_checksum != vz_hash64(buf, 56))
		return vz_fail(VZ_ECORRUPT, "offset 56: header checksum mismatch");
	if (h->version == 0 || h->version > max_version)
		return vz_fail(VZ_ECORRUPT, "offset 8: unsupported format version %u (this vz reads up to %u)",
			       h->version, max_version);
	return VZ_OK;
}

bool vz_id_is_set(const vz_coll_id *id)
{
	for (int i = 0; i < 16; i++)
		if (id->b[i]) return true;
	return false;
}

bool vz_id_equal(const vz_coll_id *a, const vz_coll_id *b) { return memcmp(a->b, b->b, 16) == 0; }

void vz_id_new(vz_coll_id *id)
{
	size_t got = 0;
	while (got < sizeof id->b) {
		ssize_t n = getrandom(id->b + got, sizeof id->b - got, 0);
		if (n > 0) got += (size_t)n;
		else if (n < 0 && errno != EINTR) break;
	}
	if (got < sizeof id->b) {
		/* no entropy source at all: still unique enough to tell collections apart */
		uint64_t a = vz_random_u64(), b = vz_random_u64() ^ (uint64_t)getpid();
		vz_id_from_words(a, b, id);
	}
	if (!vz_id_is_set(id)) id->b[0] = 1;
}

void vz_id_hex(const vz_coll_id *id, char out[33])
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[id->b[i] >> 4];
		out[2 * i + 1] = hex[id->b[i] & 15];
	}
	out[32] = '\0';
}

int vz_id_parse(const char *s, vz_coll_id *id)
{
	for (int i = 0; i < 32; i++) {
		char c = s[i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (v < 0) return vz_fail(VZ_ECORRUPT, "collection id is not 32 lowercase hexadecimal digits");
		if (i % 2 == 0) id->b[i / 2] = (unsigned char)(v << 4);
		else id->b[i / 2] |= (unsigned char)v;
	}
	if (s[32]) return vz_fail(VZ_ECORRUPT, "collection id is not 32 lowercase hexadecimal digits");
	return VZ_OK;
}

void vz_id_to_words(const vz_coll_id *id, uint64_t *a, uint64_t *b)
{
	*a = vz_load_u64(id->b);
	*b = vz_load_u64(id->b + 8);
}

void vz_id_from_words(uint64_t a, uint64_t b, vz_coll_id *id)
{
	vz_store_u64(id->b, a);
	vz_store_u64(id->b + 8, b);
}

bool vz_header_id(const vz_file_header *h, vz_coll_id *id)
{
	memset(id, 0, sizeof *id);
	if (h->version < 2 || !memcmp(h->magic, VZ_MAGIC_CACHE, 8)) return false;
	if (!memcmp(h->magic, VZ_MAGIC_WAL, 8)) vz_id_from_words(h->body_length, h->body_checksum, id);
	else vz_id_from_words(h->aux, h->aux2, id);
	return true;
}

int vz_write_checked_file(const char *path, vz_file_header *h, const void *body, size_t len)
{
	h->body_length = len;
	h->body_checksum = vz_hash64(body, len);
	unsigned char head[VZ_HEADER_SIZE];
	vz_header_encode(h, head);
	vz_tmpfile t;
	int rc = vz_tmpfile_open(&t, path);
	if (rc) return rc;
	rc = vz_tmpfile_write(&t, head, sizeof head);
	if (!rc) rc = vz_tmpfile_write(&t, body, len);
	if (rc) {
		vz_tmpfile_abort(&t);
		return rc;
	}
	return vz_tmpfile_commit(&t);
}

int vz_header_write_start(vz_tmpfile *t, const char *magic, const vz_coll_id *id, vz_file_header *h)
{
	memcpy(h->magic, magic, 8);
	if (id) vz_id_to_words(id, &h->aux, &h->aux2);
	unsigned char head[VZ_HEADER_SIZE];
	vz_header_encode(h, head);
	return vz_io_pwrite(t->fd, head, sizeof head, 0, t->path);
}

uint64_t vz_random_u64(void)
{
	uint64_t v = 0;
	if (getentropy(&v, sizeof v) != 0) v = (uint64_t)getpid() * 0x9E3779B97F4A7C15ull ^ (uint64_t)(vz_now() * 1e9);
	return v ? v : 1;
}

int vz_header_read(const char *path, const char *want_magic, uint32_t max_version, vz_file_header *h)
{
	unsigned char buf[VZ_HEADER_SIZE];
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) return vz_fail(VZ_ENOENT, "%s: no such file", path);
	if (fd < 0 && errno == ELOOP) return vz_fail(VZ_EPERM, "%s: is a symlink; refusing to follow it", path);
	if (fd < 0) return vz_fail(vz_err_from_errno(errno), "%s: open: %s", path, strerror(errno));
	ssize_t got = pread(fd, buf, sizeof buf, 0);
	int e = errno;
	close(fd);
	if (got < 0) return vz_fail(vz_err_from_errno(e), "%s: read: %s", path, strerror(e));
	return vz_header_decode(buf, (size_t)got, want_magic, max_version, h);
}

/* The generation in path's header: only the header is read (the caller maps the file it picks,
 * a second mapping of the whole file here cost a text query two maps of each file). */
static int file_generation(const char *path, const char *magic, uint64_t *gen)
{
	vz_file_header h;
	int rc = vz_header_read(path, magic, 2, &h);
	if (rc) return rc;
	*gen = h.generation;
	return VZ_OK;
}

/* Picks, among NAME, NAME.new (a checkpoint interrupted after its commit) and NAME.prev (one
 * interrupted or undone before its end), the file whose header carries the committed generation.
 * With write access, moves it to NAME and removes the other candidates. */
int vz_settle_data_file(const char *dir, const char *name, const char *magic, uint64_t gen, bool write, char *out, size_t cap)
{
	static const char *const suffix[3] = { "", ".new", ".prev" };
	char cand[3][VZ_PATH_MAX];
	int found = -1, rc;
	for (int i = 0; i < 3; i++) {
		if ((rc = vz_path_fmt(cand[i], sizeof cand[i], "%s/%s%s", dir, name, suffix[i]))) return rc;
		uint64_t g = 0;
		if (found < 0 && access(cand[i], F_OK) == 0 && file_generation(cand[i], magic, &g) == VZ_OK && g == gen) found = i;
	}
	snprintf(out, cap, "%s", cand[found > 0 ? found : 0]);
	if (!write || found < 0) return VZ_OK;
	bool changed = false;
	if (found > 0) {
		if ((rc = vz_io_rename(cand[found], cand[0]))) return rc;
		snprintf(out, cap, "%s", cand[0]);
		changed = true;
	}
	for (int i = 1; i < 3; i++) {
		if (i == found || access(cand[i], F_OK) != 0) continue;
		if ((rc = vz_io_unlink(cand[i], true))) return rc;
		changed = true;
	}
	return changed ? vz_io_fsync_dir(dir) : VZ_OK;
}
