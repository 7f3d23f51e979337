/* quickstart.c: the first program to read when using libvz (vz(3)). It creates a collection,
 * inserts vectors as a transaction and queries them, then does the same with texts in a
 * collection with the built-in embedding, checks both collections, and prints what it found.
 * Build and run it against an installed libvz:
 *
 *     cc -o quickstart quickstart.c $(pkg-config --cflags --libs vz)
 *     VZ_DATA_DIR=/tmp/vz-example ./quickstart
 *
 * The data directory is found as vz(1) finds it (VZ_DATA_DIR, then data/ beside the nearest
 * vectorize-workspace.yml, then ~/.local/share/vz), so `vz list` shows what this made. */
#include <vz.h>

#include <stdio.h>
#include <string.h>

/* Prints the failed call, the error's name and the library's detail message; returns 1. */
static int fail(const char *what, int err)
{
	fprintf(stderr, "quickstart: %s: %s: %s\n", what, vz_strerror(err), vz_last_error());
	return 1;
}

static void print_results(const char *title, const vz_result *r, size_t n)
{
	printf("%s\n", title);
	for (size_t i = 0; i < n; i++) /* ids and payloads are borrowed from the open collection */
		printf("  %.*s  score %.3f  %.*s\n", (int)r[i].id_len, r[i].id, r[i].score,
		       (int)r[i].payload_len, r[i].payload ? r[i].payload : "");
}

/* Creates the collection NAME (if missing) and opens it for writing: an exclusive lock, waited
 * for at most 10 s. The path of its directory goes to dir. */
static int create_and_open(const char *data, const char *name, const vz_config *cfg, char *dir, size_t cap,
			   vz_collection **c)
{
	int rc = vz_collection_create(data, name, cfg);
	if (rc && rc != VZ_EEXIST) return fail("creating a collection", rc); /* EEXIST: run before */
	if ((rc = vz_collection_path(data, name, dir, cap, NULL))) return fail("naming a collection", rc);
	if ((rc = vz_collection_open(dir, VZ_OPEN_WRITE, VZ_LOCK_TIMEOUT_DEFAULT_MS, c))) return fail("opening", rc);
	return 0;
}

/* Folds the log into the index files, closes (which releases the lock), then checks every
 * checksum and structure of what is on disk. */
static int checkpoint_close_verify(vz_collection *c, const char *dir)
{
	int rc = vz_collection_checkpoint(c, 1, false), problems = 0;
	vz_collection_close(c);
	if (rc) return fail("checkpointing", rc);
	if ((rc = vz_collection_verify(dir, false, VZ_LOCK_TIMEOUT_DEFAULT_MS, NULL, NULL, &problems)))
		return fail("verifying", rc);
	printf("verify: %d problems\n", problems);
	return problems != 0;
}

int main(void)
{
	char data[4096], dir[4096];
	enum vz_datadir_source source; /* which rule found it (vz_datadir_source_name) */
	int rc = vz_datadir_resolve(NULL, data, sizeof data, &source, NULL, 0);
	if (rc) return fail("finding the data directory", rc);

	/* 1. Vectors: a collection of 4-dimensional vectors compared by cosine similarity. */
	vz_config cfg;
	vz_config_defaults(&cfg);
	cfg.dim = 4;
	vz_collection *c;
	if (create_and_open(data, "points", &cfg, dir, sizeof dir, &c)) return 1;

	/* One transaction of three rows (upserts, so that running twice is fine): durable when the
	 * call returns 0, and nothing is written when any row is refused. */
	static const float v[3][4] = { { 1, 0, 0, 0 }, { 0.9f, 0.1f, 0, 0 }, { 0, 0, 1, 0 } };
	const char *ids[3] = { "north", "north-east", "up" };
	const char *payloads[3] = { "{\"deg\":0}", "{\"deg\":6}", NULL };
	vz_write w[3];
	for (int i = 0; i < 3; i++)
		w[i] = (vz_write){ .op = VZ_WRITE_UPSERT, .id = ids[i], .id_len = strlen(ids[i]), .vector = v[i], .dim = 4,
				   .payload = payloads[i], .payload_len = payloads[i] ? strlen(payloads[i]) : 0 };
	vz_write_stats st;
	if ((rc = vz_collection_write(c, w, 3, 0, 1, &st))) return fail("writing vectors", rc);

	/* The 2 nearest rows to a vector. */
	vz_result r[2];
	size_t n;
	const float q[4] = { 1, 0.05f, 0, 0 };
	if ((rc = vz_collection_query(c, q, 2, 0, r, &n))) return fail("querying by vector", rc);
	print_results("nearest to [1, 0.05, 0, 0]:", r, n);
	if (checkpoint_close_verify(c, dir)) return 1;

	/* 2. Texts: a collection with the built-in embedding (bm25, 256 dimensions) takes texts,
	 *    which the library turns into vectors; each row's payload becomes {"text": ...}. */
	cfg.dim = 256;
	strcpy(cfg.embedding, "bm25");
	if (create_and_open(data, "notes", &cfg, dir, sizeof dir, &c)) return 1;
	const char *texts[3] = { "the lighthouse keeper climbs the stairs at dusk",
				 "backups are verified before they are restored",
				 "a collection is a directory of checksummed files" };
	vz_write t[3] = { { .op = VZ_WRITE_UPSERT, .id = "keeper", .id_len = 6 },
			  { .op = VZ_WRITE_UPSERT, .id = "backup", .id_len = 6 },
			  { .op = VZ_WRITE_UPSERT, .id = "files", .id_len = 5 } };
	if ((rc = vz_collection_write_text(c, t, texts, 3, 0, 1, &st))) return fail("writing texts", rc);
	const char *words = "how is a backup restored";
	if ((rc = vz_collection_query_text(c, words, strlen(words), 1, 0, r, &n))) return fail("querying by text", rc);
	print_results("nearest to \"how is a backup restored\":", r, n);
	return checkpoint_close_verify(c, dir);
}
