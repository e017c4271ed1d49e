/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sts_buf.h"
#include "sts_err.h"
#include "sts_fsutil.h"

struct fx {
	char dir[64];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (!f)
		return -1;
	strcpy(f->dir, "/tmp/sts-test-fsutil-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	int rc = system(cmd);
	free(f);
	return rc == 0 ? 0 : -1;
}

static char *path(struct fx *f, const char *rel)
{
	static char buf[4][512];
	static int k;
	k = (k + 1) % 4;
	snprintf(buf[k], sizeof(buf[k]), "%s/%s", f->dir, rel);
	return buf[k];
}

static void assert_file(const char *p, const char *want)
{
	struct sts_buf b;
	sts_buf_init(&b, 1 << 20);
	assert_int_equal(sts_buf_read_file(&b, p), STS_OK);
	assert_int_equal(b.len, strlen(want));
	assert_memory_equal(b.data, want, b.len);
	sts_buf_release(&b);
}

/* Number of entries in dir other than . and .. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void test_write_atomic_creates_parents(void **state)
{
	struct fx *f = *state;
	const char *p = path(f, "a/b/c/file.txt");
	assert_int_equal(sts_write_atomic(p, "hello\r\n", 7, 0644, false), STS_OK);
	assert_file(p, "hello\r\n");
	struct stat st;
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_int_equal(stat(path(f, "a/b"), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0755);
	/* no temp file left behind */
	assert_int_equal(count_entries(path(f, "a/b/c")), 1);
}

/* Modes are set, not left to the umask (issue 12 §5): a web server reads what is published. */
static void test_modes_under_umask(void **state)
{
	struct fx *f = *state;
	struct stat st;
	bool created = false;
	mode_t old = umask(077);
	assert_int_equal(sts_write_atomic(path(f, "www/h/.well-known/p.txt"), "x", 1, 0644, false),
			 STS_OK);
	assert_int_equal(sts_mkdir_one(path(f, "one"), 0755, &created), STS_OK);
	assert_true(created);
	assert_int_equal(sts_mkdir_one(path(f, "one"), 0700, &created), STS_OK);
	assert_false(created); /* an existing directory is left as it is */
	assert_int_equal(sts_write_atomic(path(f, "private"), "x", 1, 0600, false), STS_OK);
	umask(0);
	assert_int_equal(sts_write_atomic(path(f, "private0"), "x", 1, 0600, false), STS_OK);
	umask(old);
	assert_int_equal(stat(path(f, "www/h/.well-known/p.txt"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	static const char *const dirs[] = {"www", "www/h", "www/h/.well-known", "one"};
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(stat(path(f, dirs[i]), &st), 0);
		assert_int_equal(st.st_mode & 07777, 0755);
	}
	assert_int_equal(stat(path(f, "private"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(stat(path(f, "private0"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(sts_mkdir_one(path(f, "private"), 0755, &created), -ENOTDIR);
}

static void test_write_atomic_replaces(void **state)
{
	struct fx *f = *state;
	const char *p = path(f, "x.conf");
	assert_int_equal(sts_write_atomic(p, "old content", 11, 0600, false), STS_OK);
	struct stat st1, st2;
	assert_int_equal(stat(p, &st1), 0);
	assert_int_equal(st1.st_mode & 07777, 0600);
	assert_int_equal(sts_write_atomic(p, "new", 3, 0644, true), STS_OK);
	assert_file(p, "new");
	assert_int_equal(stat(p, &st2), 0);
	assert_int_equal(st2.st_mode & 07777, 0644);
	/* replaced by rename: a new inode, so readers never see a partial file */
	assert_true(st1.st_ino != st2.st_ino);
	assert_int_equal(sts_write_atomic(p, "", 0, 0644, false), STS_OK);
	assert_file(p, "");
	assert_int_equal(count_entries(f->dir), 1);
}

static void test_write_atomic_fails_cleanly(void **state)
{
	struct fx *f = *state;
	/* a file where a directory should be (root ignores permissions) */
	assert_int_equal(sts_write_atomic(path(f, "blocker"), "x", 1, 0644, false), STS_OK);
	assert_int_equal(sts_write_atomic(path(f, "blocker/sub/file"), "y", 1, 0644, false),
			 -ENOTDIR);
	assert_int_equal(sts_write_atomic(path(f, "blocker/file"), "y", 1, 0644, false), -ENOTDIR);
	assert_file(path(f, "blocker"), "x");
	/* a directory where the file should be: the rename fails, the temp file goes */
	assert_int_equal(sts_mkdir_p(path(f, "isdir/inner"), 0755), STS_OK);
	int r = sts_write_atomic(path(f, "isdir"), "z", 1, 0644, false);
	assert_true(r == -EISDIR || r == -ENOTEMPTY || r == -EEXIST);
	assert_int_equal(count_entries(f->dir), 2);
	assert_int_equal(count_entries(path(f, "isdir")), 1);
}

static void test_mkdir_p(void **state)
{
	struct fx *f = *state;
	assert_int_equal(sts_mkdir_p(path(f, "p/q/r/"), 0700), STS_OK);
	struct stat st;
	assert_int_equal(stat(path(f, "p/q/r"), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	/* existing: fine, also with doubled slashes */
	assert_int_equal(sts_mkdir_p(path(f, "p/q/r"), 0755), STS_OK);
	assert_int_equal(sts_mkdir_p(path(f, "p//q/s"), 0755), STS_OK);
	assert_int_equal(stat(path(f, "p/q/s"), &st), 0);
	assert_int_equal(sts_mkdir_p(f->dir, 0755), STS_OK);
	assert_int_equal(sts_mkdir_p("/", 0755), STS_OK);
	assert_int_equal(sts_mkdir_p("", 0755), STS_EINVAL);
	/* a file in the way */
	assert_int_equal(sts_write_atomic(path(f, "p/file"), "1", 1, 0644, false), STS_OK);
	assert_int_equal(sts_mkdir_p(path(f, "p/file"), 0755), -ENOTDIR);
	assert_int_equal(sts_mkdir_p(path(f, "p/file/deeper/still"), 0755), -ENOTDIR);
}

static void test_mkdir_p_relative(void **state)
{
	struct fx *f = *state;
	char cwd[4096];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(f->dir), 0);
	int r1 = sts_mkdir_p("rel/a/b", 0755);
	int r2 = sts_write_atomic("plain.txt", "p", 1, 0644, false);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(r1, STS_OK);
	assert_int_equal(r2, STS_OK);
	assert_file(path(f, "plain.txt"), "p");
	struct stat st;
	assert_int_equal(stat(path(f, "rel/a/b"), &st), 0);
}

static void test_file_equals(void **state)
{
	struct fx *f = *state;
	const char *p = path(f, "eq.txt");
	assert_false(sts_file_equals(p, "abc", 3));
	assert_int_equal(sts_write_atomic(p, "abc", 3, 0644, false), STS_OK);
	assert_true(sts_file_equals(p, "abc", 3));
	assert_false(sts_file_equals(p, "abd", 3));
	assert_false(sts_file_equals(p, "ab", 2));
	assert_false(sts_file_equals(p, "abcd", 4));
	assert_false(sts_file_equals(f->dir, "", 0));
	/* larger than the 8 KiB read buffer, differing in the last byte */
	size_t n = 100000;
	char *big = malloc(n);
	assert_non_null(big);
	for (size_t i = 0; i < n; i++)
		big[i] = (char)('a' + i % 26);
	assert_int_equal(sts_write_atomic(p, big, n, 0644, false), STS_OK);
	assert_true(sts_file_equals(p, big, n));
	big[n - 1] ^= 1;
	assert_false(sts_file_equals(p, big, n));
	free(big);
	assert_int_equal(sts_write_atomic(p, "", 0, 0644, false), STS_OK);
	assert_true(sts_file_equals(p, "", 0));
}

static void test_syncfs_path(void **state)
{
	struct fx *f = *state;
	assert_int_equal(sts_syncfs_path(f->dir), STS_OK);
	assert_int_equal(sts_syncfs_path(path(f, "missing")), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_write_atomic_creates_parents, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_modes_under_umask, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_atomic_replaces, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_write_atomic_fails_cleanly, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mkdir_p, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mkdir_p_relative, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_file_equals, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_syncfs_path, setup, teardown),
	};
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
