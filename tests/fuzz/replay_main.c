/* replay_main.c: runs a libFuzzer target over every file of the given directories (or files),
 * without libFuzzer, so that `make check` replays each corpus with the normal compiler (and under
 * ASan in `make check-asan`). Prints "N inputs"; a crash or abort fails the run. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) { fprintf(stderr, "%s: cannot open\n", path); return 1; }
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	uint8_t *buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) { fclose(f); free(buf); return 1; }
	fclose(f);
	LLVMFuzzerTestOneInput(buf, (size_t)n);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	int count = 0, bad = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) != 0) { fprintf(stderr, "%s: no such file\n", argv[i]); return 1; }
		if (!S_ISDIR(st.st_mode)) { bad |= run_file(argv[i]); count++; continue; }
		DIR *d = opendir(argv[i]);
		struct dirent *e;
		while (d && (e = readdir(d))) {
			if (e->d_name[0] == '.') continue;
			char p[4096];
			snprintf(p, sizeof p, "%s/%s", argv[i], e->d_name);
			bad |= run_file(p);
			count++;
		}
		if (d) closedir(d);
	}
	printf("%d inputs\n", count);
	return bad || count == 0;
}
