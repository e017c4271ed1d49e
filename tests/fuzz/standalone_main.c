/* SPDX-License-Identifier: MIT */
/*
 * Replays a fuzz target's corpus without libFuzzer (libvips fuzz/,
 * Knot tests-fuzz/main.c): every file under the directories or files given
 * is fed once to LLVMFuzzerTestOneInput. Prints TAP, one line per input.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sts_buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count;

static int run_file(const char *path)
{
	struct sts_buf b;
	sts_buf_init(&b, 64u * 1024u * 1024u);
	if (sts_buf_read_file(&b, path) < 0) {
		printf("not ok %d - %s (cannot read)\n", ++count, path);
		sts_buf_release(&b);
		return 1;
	}
	/* hand the target an exact-size heap copy so ASan sees overreads */
	uint8_t *copy = malloc(b.len ? b.len : 1);
	if (!copy)
		return 1;
	memcpy(copy, b.data, b.len);
	LLVMFuzzerTestOneInput(copy, b.len);
	free(copy);
	sts_buf_release(&b);
	printf("ok %d - %s\n", ++count, path);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_path(const char *path)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		printf("not ok %d - %s (missing)\n", ++count, path);
		return 1;
	}
	if (!S_ISDIR(st.st_mode))
		return run_file(path);
	DIR *d = opendir(path);
	if (!d)
		return 1;
	char **names = NULL;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char **nn = realloc(names, (n + 1) * sizeof(*names));
		if (!nn)
			break;
		names = nn;
		if (asprintf(&names[n], "%s/%s", path, e->d_name) < 0)
			break;
		n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), cmp);
	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		bad |= run_path(names[i]);
		free(names[i]);
	}
	free(names);
	return bad;
}

int main(int argc, char **argv)
{
	int bad = 0;
	for (int i = 1; i < argc; i++)
		bad |= run_path(argv[i]);
	printf("1..%d\n", count);
	return bad || count == 0;
}
