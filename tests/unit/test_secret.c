/* SPDX-License-Identifier: MIT */
/* Secret references ${env:NAME} / ${file:PATH} (core/base/sts_secret.c). */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sts_buf.h"
#include "sts_err.h"
#include "sts_fsutil.h"
#include "sts_receiver.h"
#include "sts_secret.h"

static char dir[] = "/tmp/sts-test-secret-XXXXXX";

static int setup(void **state)
{
	return mkdtemp(dir) ? 0 : -1;
}

static const char *const files[] = {"lf", "crlf", "two", "cr", "none", "empty", "max", "over"};

static int teardown(void **state)
{
	char path[256];
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	return rmdir(dir);
}

static void put(const char *name, const void *data, size_t len)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(sts_write_atomic(path, data, len, 0600, false), STS_OK);
}

static void test_is_ref(void **state)
{
	assert_true(sts_secret_is_ref("${env:X}"));
	assert_true(sts_secret_is_ref("${file:/run/x}"));
	assert_true(sts_secret_is_ref("${env:")); /* a reference, if a broken one */
	assert_false(sts_secret_is_ref("${ENV:X}"));
	assert_false(sts_secret_is_ref("x${env:X}"));
	assert_false(sts_secret_is_ref("$env:X"));
	assert_false(sts_secret_is_ref(""));
	assert_false(sts_secret_is_ref(NULL));
}

static void test_check(void **state)
{
	static const char *const good[] = {"${env:A}",
					   "${env:API_TOKEN_2}",
					   "${env:_x}",
					   "${file:/etc/stsctl/key}",
					   "${file:keys/a b.txt}",
					   "${file:c:\\x}"};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		const char *why = NULL;
		if (sts_secret_check(good[i], &why) != STS_OK)
			fail_msg("'%s' refused: %s", good[i], why);
	}
	static const struct {
		const char *ref;
		const char *why;
	} bad[] = {
	    {"${vault:x}", "not a secret reference: write ${env:NAME} or ${file:PATH}"},
	    {"plain", "not a secret reference: write ${env:NAME} or ${file:PATH}"},
	    {NULL, "not a secret reference: write ${env:NAME} or ${file:PATH}"},
	    {"${env:}", "secret reference must end with '}' and name a variable or file"},
	    {"${file:}", "secret reference must end with '}' and name a variable or file"},
	    {"${env:ABC", "secret reference must end with '}' and name a variable or file"},
	    {"${env:A}x", "secret reference must end with '}' and name a variable or file"},
	    {"${file:a}b}", "invalid character in secret reference"},
	    {"${file:a\nb}", "invalid character in secret reference"},
	    {"${env:A-B}", "environment variable names are letters, digits and '_'"},
	    {"${env:A B}", "environment variable names are letters, digits and '_'"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = NULL;
		assert_int_equal(sts_secret_check(bad[i].ref, &why), STS_EINVALID);
		assert_string_equal(why, bad[i].why);
	}
}

static void test_resolve_env(void **state)
{
	struct sts_secret *s = NULL;
	const char *why = NULL;
	setenv("STS_TEST_SECRET", "hunter2", 1);
	assert_int_equal(sts_secret_resolve("${env:STS_TEST_SECRET}", NULL, &s, &why), STS_OK);
	assert_string_equal(sts_secret_value(s), "hunter2");
	assert_int_equal(sts_secret_len(s), 7);
	sts_secret_free(s);

	setenv("STS_TEST_EMPTY", "", 1);
	assert_int_equal(sts_secret_resolve("${env:STS_TEST_EMPTY}", NULL, &s, &why), STS_OK);
	assert_int_equal(sts_secret_len(s), 0);
	sts_secret_free(s);

	s = NULL;
	unsetenv("STS_TEST_UNSET");
	assert_int_equal(sts_secret_resolve("${env:STS_TEST_UNSET}", NULL, &s, &why), STS_ESECRET);
	assert_string_equal(why, "environment variable is not set");
	assert_null(s);

	char *big = malloc(64 * 1024 + 2);
	memset(big, 'x', 64 * 1024 + 1);
	big[64 * 1024 + 1] = '\0';
	setenv("STS_TEST_BIG", big, 1);
	assert_int_equal(sts_secret_resolve("${env:STS_TEST_BIG}", NULL, &s, &why), STS_ESECRET);
	assert_string_equal(why, "secret is larger than 64 KiB");
	big[64 * 1024] = '\0';
	setenv("STS_TEST_BIG", big, 1);
	assert_int_equal(sts_secret_resolve("${env:STS_TEST_BIG}", NULL, &s, &why), STS_OK);
	assert_int_equal(sts_secret_len(s), 64 * 1024);
	sts_secret_free(s);
	free(big);

	assert_int_equal(sts_secret_resolve("${env:A-B}", NULL, &s, &why), STS_ESECRET);
	assert_string_equal(why, "environment variable names are letters, digits and '_'");
	sts_secret_free(NULL);
}

static void test_resolve_file(void **state)
{
	struct sts_secret *s = NULL;
	const char *why = NULL;
	char ref[512];
	put("lf", "k3y\n", 4);
	put("crlf", "k3y\r\n", 5);
	put("two", "k3y\n\n", 5);
	put("cr", "k3y\r", 4);
	put("none", "k3y", 3);
	put("empty", "", 0);

	/* relative to basedir; one trailing LF or CRLF dropped */
	static const struct {
		const char *name;
		const char *value;
	} cases[] = {
	    {"lf", "k3y"},   {"crlf", "k3y"}, {"two", "k3y\n"},
	    {"cr", "k3y\r"}, {"none", "k3y"}, {"empty", ""},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(ref, sizeof(ref), "${file:%s}", cases[i].name);
		assert_int_equal(sts_secret_resolve(ref, dir, &s, &why), STS_OK);
		assert_int_equal(sts_secret_len(s), strlen(cases[i].value));
		assert_memory_equal(sts_secret_value(s), cases[i].value, strlen(cases[i].value));
		assert_int_equal(sts_secret_value(s)[sts_secret_len(s)], '\0');
		sts_secret_free(s);
	}

	/* absolute paths ignore basedir */
	snprintf(ref, sizeof(ref), "${file:%s/lf}", dir);
	assert_int_equal(sts_secret_resolve(ref, "/nonexistent", &s, &why), STS_OK);
	assert_string_equal(sts_secret_value(s), "k3y");
	sts_secret_free(s);

	/* 64 KiB fits, one byte more does not */
	char *big = malloc(64 * 1024 + 1);
	memset(big, 'y', 64 * 1024 + 1);
	put("max", big, 64 * 1024);
	put("over", big, 64 * 1024 + 1);
	free(big);
	assert_int_equal(sts_secret_resolve("${file:max}", dir, &s, &why), STS_OK);
	assert_int_equal(sts_secret_len(s), 64 * 1024);
	sts_secret_free(s);
	s = NULL;
	assert_int_equal(sts_secret_resolve("${file:over}", dir, &s, &why), STS_ESECRET);
	assert_string_equal(why, "secret file is larger than 64 KiB");
	assert_null(s);

	/* messages never carry a path or a value */
	assert_int_equal(sts_secret_resolve("${file:missing}", dir, &s, &why), STS_ESECRET);
	assert_string_equal(why, "secret file cannot be read");
	assert_int_equal(sts_secret_resolve("${file:.}", dir, &s, &why), STS_ESECRET);
	assert_string_equal(why, "secret file cannot be read");
	assert_int_equal(sts_secret_resolve("${file:x", dir, &s, &why), STS_ESECRET);
	assert_null(s);
}

/* Once a secret is loaded the process is not dumpable (issue 12 §5); in a child. */
static void test_not_dumpable(void **state)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sts_secret *s = NULL;
		const char *why = NULL;
		/* earlier tests loaded secrets in the parent: start dumpable again */
		int ok = prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) == 0 &&
			 prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 1;
		setenv("STS_TEST_SECRET", "hunter2", 1);
		ok = ok && sts_secret_resolve("${env:STS_TEST_SECRET}", NULL, &s, &why) == STS_OK;
		ok = ok && prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0;
		sts_secret_free(s);
		_exit(ok ? 0 : 1);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_read_file(void **state)
{
	struct sts_secret *s = NULL;
	const char *why = NULL;
	char path[256];
	put("lf", "-----BEGIN X-----\nabc\n-----END X-----\n", 38);
	snprintf(path, sizeof(path), "%s/lf", dir);
	assert_int_equal(sts_secret_read_file(path, &s, &why), STS_OK);
	assert_int_equal(sts_secret_len(s), 38); /* the trailing newline is kept */
	sts_secret_free(s);
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(sts_secret_read_file(path, &s, &why), STS_ESECRET);
	assert_string_equal(why, "secret file cannot be read");
}

/*
 * Under ASan the heap and the shadow are reserved regions of terabytes that
 * a scan cannot walk: the test then scans what it can and does not insist
 * on finding the key while it is loaded (the plain build and valgrind do).
 */
#if defined(__SANITIZE_ADDRESS__)
#define SCAN_MAX       (1ul << 30)
#define SCAN_SEES_HEAP 0
#else
#define SCAN_MAX       (~0ul)
#define SCAN_SEES_HEAP 1
#endif

/*
 * Under valgrind, freed blocks stay in memcheck's quarantine unchanged: a
 * temporary copy the TLS library frees without wiping (not ours: natively,
 * without MALLOC_PERTURB_, nothing is left) would be found, so there the
 * test only checks that the scan sees the key while it is loaded.
 */
static bool under_valgrind(void)
{
	const char *pre = getenv("LD_PRELOAD");
	return pre && strstr(pre, "vgpreload");
}

/*
 * Does any readable, writable mapping of this process hold the bytes whose
 * XOR with 0x5a is needle_x? (The needle itself is never in memory.)
 */
static bool memory_holds(const unsigned char *needle_x, size_t n)
{
	FILE *maps = fopen("/proc/self/maps", "r");
	int mem = open("/proc/self/mem", O_RDONLY);
	assert_non_null(maps);
	assert_true(mem >= 0);
	static unsigned char buf[(1 << 20) + 256];
	char line[512];
	bool found = false;
	while (!found && fgets(line, sizeof(line), maps)) {
		unsigned long lo, hi;
		char perm[8];
		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perm) != 3 || perm[0] != 'r' ||
		    perm[1] != 'w' || strstr(line, "[vvar]") || hi - lo > SCAN_MAX)
			continue;
		for (unsigned long off = lo; !found && off < hi; off += 1 << 20) {
			size_t want = hi - off < (1 << 20) + n ? hi - off : (1 << 20) + n;
			ssize_t k = pread(mem, buf, want, (off_t)off);
			for (ssize_t i = 0; k > 0 && i + (ssize_t)n <= k && !found; i++) {
				size_t j = 0;
				while (j < n && (buf[i + j] ^ 0x5a) == needle_x[j])
					j++;
				found = j == n;
			}
		}
	}
	explicit_bzero(buf, sizeof(buf));
	fclose(maps);
	close(mem);
	return found;
}

static void no_reply(void *ud, const struct sts_receiver_request *req,
		     struct sts_receiver_reply *reply)
{
	(void)ud;
	(void)req;
	(void)reply;
}

/*
 * The receiver's private key read from a file is wiped once the TLS library
 * holds it (issue 12 §5): after start, no copy of the PEM text is left in the
 * process, neither the file buffer nor the receiver's copy. The key is made
 * by openssl(1), so this process never held it but through those paths.
 */
static void test_receiver_key_wiped(void **state)
{
	char key[256], cert[256], cmd[1024];
	snprintf(key, sizeof(key), "%s/rcv.key", dir);
	snprintf(cert, sizeof(cert), "%s/rcv.pem", dir);
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
		 "-keyout %s -out %s -subj /CN=localhost -days 1 >/dev/null 2>&1",
		 key, cert);
	assert_int_equal(system(cmd), 0);
	/* the needle: the key's second line, only ever held XORed */
	unsigned char needle_x[64];
	size_t n = 0;
	int fd = open(key, O_RDONLY);
	assert_true(fd >= 0);
	unsigned char c;
	int line = 0;
	while (n < sizeof(needle_x) && read(fd, &c, 1) == 1) {
		if (c == '\n') {
			if (++line == 2)
				break;
			continue;
		}
		if (line == 1)
			needle_x[n++] = c ^ 0x5a;
		c = 0;
	}
	c = 0;
	close(fd);
	assert_true(n >= 40);
	struct sts_buf cb;
	sts_buf_init(&cb, 1 << 20);
	assert_int_equal(sts_buf_read_file(&cb, cert), STS_OK);
	struct sts_secret *s = NULL;
	const char *why = NULL;
	assert_int_equal(sts_secret_read_file(key, &s, &why), STS_OK);
	if (SCAN_SEES_HEAP) /* the scan finds it while it is there */
		assert_true(memory_holds(needle_x, n));
	struct sts_receiver_opts o = {.listen = "127.0.0.1:0",
				      .cert_pem = sts_buf_str(&cb),
				      .key_pem = sts_secret_value(s),
				      .handler = no_reply};
	struct sts_receiver *rv = NULL;
	char *err = NULL;
	int r = sts_receiver_start(&o, &rv, &err);
	if (r != STS_OK)
		fail_msg("receiver: %s", err ? err : sts_strerror(r));
	sts_secret_free(s);
	bool left = memory_holds(needle_x, n);
	sts_receiver_stop(rv);
	sts_buf_release(&cb);
	unlink(key);
	unlink(cert);
	if (left && !under_valgrind())
		fail_msg("the PEM text of the key is still in memory after the receiver started");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_is_ref),
	    cmocka_unit_test(test_check),
	    cmocka_unit_test(test_resolve_env),
	    cmocka_unit_test(test_resolve_file),
	    cmocka_unit_test(test_not_dumpable),
	    cmocka_unit_test(test_read_file),
	    cmocka_unit_test(test_receiver_key_wiped),
	};
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, setup, teardown);
}
