/* SPDX-License-Identifier: MIT */
/*
 * Plugin host: loader (search path, refusals), settings validation, host
 * services, and the two in-tree plugins (local, zonefile) driven through
 * the real loader and ABI.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sts_buf.h"
#include "sts_config.h"
#include "sts_diag.h"
#include "sts_err.h"
#include "sts_fsutil.h"
#include "sts_watch.h"
#include "sts_http.h"
#include "sts_plugin.h"

/* The text of the last failed plugin call (per-call errors: reterr). */
static char *last_err;
static char **E(void)
{
	free(last_err);
	last_err = NULL;
	return &last_err;
}

#define BUILD_DIR   STS_BUILD_PLUGIN_DIR
#define TESTING_DIR STS_TEST_PLUGIN_DIR

/* ---- helpers ---- */

static char last_log[4096];
static char last_prefix[64];
static int n_logs;

static void log_sink(void *ud, enum sts_plugin_log_level level, const char *prefix, const char *msg)
{
	(void)ud;
	(void)level;
	snprintf(last_prefix, sizeof(last_prefix), "%s", prefix);
	snprintf(last_log, sizeof(last_log), "%s", msg);
	n_logs++;
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static char *make_tmpdir(void)
{
	char *d = strdup("/tmp/sts-test-plugin-XXXXXX");
	assert_non_null(d);
	assert_non_null(mkdtemp(d));
	return d;
}

static void rm_tmpdir(char *d)
{
	nftw(d, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
	free(d);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static char *read_text(const char *path)
{
	struct sts_buf b;
	sts_buf_init(&b, 1u << 24);
	int r = sts_buf_read_file(&b, path);
	if (r < 0) {
		sts_buf_release(&b);
		return NULL;
	}
	char *s = sts_buf_steal(&b);
	return s ? s : strdup("");
}

static bool diags_have(const struct sts_diags *d, const char *needle, const char *path)
{
	for (size_t i = 0; i < d->n; i++)
		if (strstr(d->v[i].message, needle) &&
		    (!path || (d->v[i].path && strcmp(d->v[i].path, path) == 0)))
			return true;
	return false;
}

static struct sts_plugin_host *new_host(const char *dir)
{
	struct sts_plugin_host *h = NULL;
	assert_int_equal(sts_plugin_host_new(&h), STS_OK);
	const char *dirs[] = {dir ? dir : BUILD_DIR};
	assert_int_equal(sts_plugin_host_set_path(h, dirs, 1), STS_OK);
	sts_plugin_host_set_log(h, log_sink, NULL);
	return h;
}

/* ---- loader ---- */

static void test_find_good(void **state)
{
	(void)state;
	struct sts_plugin_host *h = new_host(NULL);
	struct sts_diags d;
	sts_diags_init(&d);
	const struct sts_plugin_api *api = NULL;
	assert_int_equal(sts_plugin_find(h, "local", &api, &d), STS_OK);
	assert_string_equal(api->name, "local");
	assert_int_equal(api->kind, STS_PLUGIN_WEB);
	assert_int_equal(api->abi_version, STS_PLUGIN_ABI_VERSION);
	assert_non_null(api->web);
	assert_int_equal(sts_plugin_find(h, "zonefile", &api, &d), STS_OK);
	assert_int_equal(api->kind, STS_PLUGIN_DNS);
	assert_int_equal(d.n, 0);
	assert_int_equal(sts_plugin_find(h, "nonesuch", &api, &d), STS_EPLUGIN);
	assert_true(diags_have(&d, "plugin 'nonesuch' not found", NULL));
	assert_int_equal(sts_plugin_find(h, "../local", &api, &d), STS_EPLUGIN);
	assert_true(diags_have(&d, "invalid plugin name", NULL));
	sts_diags_release(&d);
	sts_plugin_host_free(h);
}

static void expect_refused(const char *file, int err, const char *why)
{
	struct sts_plugin_host *h = new_host(TESTING_DIR);
	struct sts_diags d;
	sts_diags_init(&d);
	const struct sts_plugin_api *api = NULL;
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", TESTING_DIR, file);
	assert_int_equal(sts_plugin_load_file(h, path, &api, &d), err);
	assert_null(api);
	assert_int_equal(d.n_errors, 1);
	if (!diags_have(&d, why, NULL))
		fail_msg("'%s': got '%s', want '%s'", file, d.v[0].message, why);
	sts_diags_release(&d);
	sts_plugin_host_free(h);
}

static void test_refusals(void **state)
{
	(void)state;
	/* a v1 plugin: both versions named, and what to do */
	expect_refused("abi1.so", STS_EABI,
		       "plugin ABI 1, this stsctl needs ABI 2; rebuild the plugin against "
		       "stsctl-plugin 2");
	expect_refused("abi3.so", STS_EABI, "plugin ABI 3, this stsctl needs ABI 2");
	expect_refused("badpattern.so", STS_EABI,
		       "schema of 'x': pattern '(unclosed' does not compile");
	expect_refused("misnamed.so", STS_EABI,
		       "descriptor name 'other' does not match the file name 'misnamed'");
	expect_refused("nosym.so", STS_EPLUGIN, "no 'sts_plugin_api' symbol");
	expect_refused("small.so", STS_EABI, "descriptor size 8, expected at least");
	expect_refused("noops.so", STS_EABI, "dns plugin without complete dns operations");
	expect_refused("missing.so", STS_EPLUGIN, "not a regular file");
}

static void copy_file(const char *from, const char *to, mode_t mode)
{
	char *data = NULL;
	struct sts_buf b;
	sts_buf_init(&b, 1u << 26);
	assert_int_equal(sts_buf_read_file(&b, from), STS_OK);
	int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, b.data, b.len), (ssize_t)b.len);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
	sts_buf_release(&b);
	free(data);
}

static void test_world_writable(void **state)
{
	(void)state;
	char *dir = make_tmpdir();
	char so[512];
	snprintf(so, sizeof(so), "%s/local.so", dir);
	copy_file(BUILD_DIR "/local.so", so, 0755);
	struct sts_plugin_host *h = new_host(dir);
	struct sts_diags d;
	sts_diags_init(&d);
	const struct sts_plugin_api *api = NULL;

	assert_int_equal(chmod(dir, 0777), 0);
	assert_int_equal(sts_plugin_find(h, "local", &api, &d), STS_EPLUGIN);
	assert_true(diags_have(&d, "is world-writable", NULL));

	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(chmod(so, 0757), 0);
	assert_int_equal(sts_plugin_find(h, "local", &api, &d), STS_EPLUGIN);
	assert_true(diags_have(&d, "file is world-writable", NULL));

	assert_int_equal(chmod(so, 0755), 0);
	sts_diags_release(&d);
	sts_diags_init(&d);
	assert_int_equal(sts_plugin_find(h, "local", &api, &d), STS_OK);
	assert_string_equal(api->name, "local");
	assert_int_equal(d.n, 0);
	sts_diags_release(&d);
	sts_plugin_host_free(h);
	rm_tmpdir(dir);
}

static void test_search_path(void **state)
{
	(void)state;
	struct sts_plugin_host *h = NULL;
	setenv("STSCTL_PLUGIN_PATH", "/nonexistent/a:/nonexistent/b", 1);
	assert_int_equal(sts_plugin_host_new(&h), STS_OK);
	size_t n = 0;
	/* this test binary is not the build tree's stsctl: no build directory */
	const char *const *p = sts_plugin_host_path(h, &n);
	assert_int_equal(n, 3);
	assert_string_equal(p[0], "/nonexistent/a");
	assert_string_equal(p[1], "/nonexistent/b");
	assert_string_equal(p[2], STS_PLUGIN_DIR);
	unsetenv("STSCTL_PLUGIN_PATH");
	assert_int_equal(sts_plugin_host_set_path(h, NULL, 0), STS_OK);
	p = sts_plugin_host_path(h, &n);
	assert_int_equal(n, 1);
	assert_string_equal(p[0], STS_PLUGIN_DIR);
	sts_plugin_host_free(h);
}

static void test_scan(void **state)
{
	(void)state;
	struct sts_plugin_host *h = NULL;
	assert_int_equal(sts_plugin_host_new(&h), STS_OK);
	const char *dirs[] = {BUILD_DIR, TESTING_DIR};
	assert_int_equal(sts_plugin_host_set_path(h, dirs, 2), STS_OK);
	struct sts_plugin_info *v = NULL;
	size_t n = 0;
	assert_int_equal(sts_plugin_scan(h, &v, &n), STS_OK);
	int seen = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].name, "local") == 0 || strcmp(v[i].name, "zonefile") == 0) {
			assert_int_equal(v[i].err, STS_OK);
			assert_non_null(v[i].api);
			assert_null(v[i].reason);
			seen++;
		} else if (strcmp(v[i].name, "abi1") == 0) {
			assert_int_equal(v[i].err, STS_EABI);
			assert_null(v[i].api);
			assert_non_null(
			    strstr(v[i].reason, "plugin ABI 1, this stsctl needs ABI 2"));
			seen++;
		} else if (strcmp(v[i].name, "fakedns") == 0) {
			assert_int_equal(v[i].err, STS_OK);
			seen++;
		}
	}
	assert_int_equal(seen, 4);
	assert_true(n >= 8);
	sts_plugin_infos_free(v, n);
	sts_plugin_host_free(h);
}

/* ---- optional ops ---- */

static struct sts_plugin *open_fake(struct sts_plugin_host **h, const char *json)
{
	*h = new_host(TESTING_DIR);
	struct sts_diags d;
	struct sts_plugin *p = NULL;
	sts_diags_init(&d);
	json_t *s = json_loads(json, 0, NULL);
	assert_non_null(s);
	assert_int_equal(sts_plugin_open(*h, "fd", s, &p, &d), STS_OK);
	json_decref(s);
	sts_diags_release(&d);
	return p;
}

/* zones and probe; the error text belongs to the call that failed */
static void test_zones_probe(void **state)
{
	(void)state;
	struct sts_plugin_host *h;
	struct sts_plugin *p = open_fake(&h, "{\"plugin\":\"fakedns\",\"zone\":\"x\","
					     "\"zones\":[\"Example.COM.\",\"b.example\"],"
					     "\"probe_error\":\"key 'k' rejected: 403\"}");
	assert_true(sts_plugin_api_has_zones(sts_plugin_api_of(p)));
	char **z = NULL, *err = NULL;
	size_t n = 0;
	assert_int_equal(sts_plugin_dns_zones(p, &z, &n, &err), STS_OK);
	assert_null(err);
	assert_int_equal(n, 2);
	assert_string_equal(z[0], "b.example");
	assert_string_equal(z[1], "example.com");
	for (size_t i = 0; i < n; i++)
		free(z[i]);
	free(z);
	assert_int_equal(sts_plugin_probe(p, &err), STS_EAUTH);
	assert_string_equal(err, "key 'k' rejected: 403");
	free(err);
	/* the next call starts clean: no text from the probe */
	struct sts_rrsets l;
	sts_rrsets_init(&l);
	const char *names[] = {"a.example.com."};
	assert_int_equal(sts_plugin_dns_read(p, "example.com", names, 1, &l, &err), STS_OK);
	assert_null(err);
	sts_rrsets_release(&l);
	sts_plugin_close(p);
	sts_plugin_host_free(h);

	/* local: probe = the directory above {host} is writable */
	char *dir = make_tmpdir();
	char json[512];
	snprintf(json, sizeof(json), "{\"plugin\":\"local\",\"root\":\"%s/www/{host}\"}", dir);
	h = new_host(BUILD_DIR);
	struct sts_diags d;
	sts_diags_init(&d);
	json_t *s = json_loads(json, 0, NULL);
	assert_int_equal(sts_plugin_open(h, "www", s, &p, &d), STS_OK);
	assert_int_equal(sts_plugin_probe(p, &err), STS_ENOENT);
	assert_non_null(strstr(err, "/www' is not writable"));
	free(err);
	char www[300];
	snprintf(www, sizeof(www), "%s/www", dir);
	assert_int_equal(mkdir(www, 0755), 0);
	assert_int_equal(sts_plugin_probe(p, &err), STS_OK);
	assert_false(sts_plugin_api_has_zones(sts_plugin_api_of(p)));
	sts_plugin_close(p);
	json_decref(s);

	/* zonefile: zones = the files of the directory that fit the template */
	snprintf(json, sizeof(json), "{\"plugin\":\"zonefile\",\"directory\":\"%s\"}", www);
	s = json_loads(json, 0, NULL);
	assert_int_equal(sts_plugin_open(h, "zf", s, &p, &d), STS_OK);
	char f1[400], f2[400];
	snprintf(f1, sizeof(f1), "%s/example.org.zone", www);
	snprintf(f2, sizeof(f2), "%s/notes.txt", www);
	assert_int_equal(sts_write_atomic(f1, "", 0, 0644, false), STS_OK);
	assert_int_equal(sts_write_atomic(f2, "", 0, 0644, false), STS_OK);
	assert_int_equal(sts_plugin_dns_zones(p, &z, &n, &err), STS_OK);
	assert_int_equal(n, 1);
	assert_string_equal(z[0], "example.org");
	free(z[0]);
	free(z);
	assert_int_equal(sts_plugin_probe(p, &err), STS_OK);
	sts_plugin_close(p);
	json_decref(s);
	sts_diags_release(&d);
	sts_plugin_host_free(h);
	rm_tmpdir(dir);
}

/* the host services of the REST providers, through the handle's table */
static void test_rest_services(void **state)
{
	(void)state;
	struct sts_plugin_host *h;
	struct sts_plugin *p = open_fake(&h, "{\"plugin\":\"fakedns\",\"zone\":\"x\"}");
	char long_txt[301], *q = NULL, *v = NULL;
	size_t n = 0;
	memset(long_txt, 'a', 300);
	long_txt[300] = '\0';
	long_txt[0] = '"';
	assert_int_equal(sts_plugin_txt_quote(p, long_txt, 300, &q), STS_OK);
	assert_int_equal(strlen(q), 1 + 256 + 1 + 1 + 1 + 45 + 1); /* "\"aa..a" "a..a" */
	assert_int_equal(strncmp(q, "\"\\\"a", 4), 0);
	assert_int_equal(sts_plugin_txt_unquote(p, q, strlen(q), &v, &n), STS_OK);
	assert_int_equal(n, 300);
	assert_memory_equal(v, long_txt, 300);
	sts_plugin_free(p, q);
	sts_plugin_free(p, v);
	assert_int_equal(sts_plugin_txt_unquote(p, "\"open", 5, &v, &n), STS_EPARSE);

	assert_int_equal(sts_plugin_name_normalize(p, "_MTA-STS.Example.COM.", STS_NAME_NODOT, &v),
			 STS_OK);
	assert_string_equal(v, "_mta-sts.example.com");
	sts_plugin_free(p, v);
	assert_int_equal(sts_plugin_name_normalize(p, "Example.com", STS_NAME_DOT, &v), STS_OK);
	assert_string_equal(v, "example.com.");
	sts_plugin_free(p, v);
	assert_int_equal(sts_plugin_name_normalize(p, "a..b", STS_NAME_DOT, &v), STS_EINVAL);

	struct sts_limiter *l = NULL;
	assert_int_equal(sts_plugin_limiter_new(p, "nonsense", &l), STS_EINVAL);
	assert_int_equal(sts_plugin_limiter_new(p, "2/1h, 10/1s", &l), STS_OK);
	assert_int_equal(sts_plugin_limiter_acquire(p, l, 0), STS_OK);
	assert_int_equal(sts_plugin_limiter_acquire(p, l, 0), STS_OK);
	assert_int_equal(sts_plugin_limiter_acquire(p, l, 10), STS_EAGAIN); /* window full */
	sts_plugin_limiter_free(p, l);

	struct sts_breaker *b = NULL;
	struct sts_plugin_breaker_conf bc = {.struct_size = sizeof(bc), .failures = 2};
	assert_int_equal(sts_plugin_breaker_new(p, &bc, &b), STS_OK);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(sts_plugin_breaker_allow(p, b), STS_OK);
		sts_plugin_breaker_record(p, b, false);
	}
	assert_int_equal(sts_plugin_breaker_allow(p, b), STS_EAGAIN); /* open */
	sts_plugin_breaker_free(p, b);

	/* the JSON helper says why it cannot even start */
	struct sts_plugin_rest_req req = {.struct_size = sizeof(req), .base = "ftp://x"};
	struct sts_plugin_rest_resp resp;
	assert_int_equal(sts_plugin_rest(p, &req, &resp, NULL), STS_EINVAL);
	sts_plugin_rest_release(p, &resp);
	sts_plugin_close(p);
	sts_plugin_host_free(h);
}

static void test_longest_zone(void **state)
{
	(void)state;
	char *zones[] = {"example.com", "sub.example.com", "ample.com", "org"};
	assert_string_equal(sts_zone_longest_suffix("_mta-sts.a.sub.example.com.", zones, 4),
			    "sub.example.com");
	assert_string_equal(sts_zone_longest_suffix("mta-sts.example.com", zones, 4),
			    "example.com");
	assert_string_equal(sts_zone_longest_suffix("SUB.EXAMPLE.COM.", zones, 4),
			    "sub.example.com");
	assert_null(sts_zone_longest_suffix("xample.com", zones, 4));
	assert_string_equal(sts_zone_longest_suffix("a.org", zones, 4), "org");
	assert_null(sts_zone_longest_suffix("a.net", zones, 4));
}

/* ---- settings validation ---- */

static int validate_text(const char *json, json_t **ret, struct sts_diags *d);

/* ranges, string enums and patterns of the schema, checked by the host */
static void test_schema_checks(void **state)
{
	(void)state;
	static const struct {
		const char *json, *path, *msg;
	} bad[] = {
	    {"\"port\":70000", "providers.fd.port", "70000 is above the maximum 65535"},
	    {"\"port\":0", "providers.fd.port", "0 is below the minimum 1"},
	    {"\"mode\":\"medium\"", "providers.fd.mode", "'medium' is not one of 'fast', 'slow'"},
	    {"\"code\":\"x1\"", "providers.fd.code",
	     "'x1' does not match the pattern '[A-Z]{2}[0-9]+'"},
	    {"\"code\":\"AB1 \"", "providers.fd.code", "does not match the pattern"},
	    {"\"tags\":[\"ok\",\"Not\"]", "providers.fd.tags",
	     "'Not' is not valid here: lower-case letters"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char json[256];
		snprintf(json, sizeof(json), "{\"plugin\":\"fakedns\",\"zone\":\"a.example\",%s}",
			 bad[i].json);
		struct sts_diags d;
		json_t *out = NULL;
		sts_diags_init(&d);
		assert_int_equal(validate_text(json, &out, &d), STS_EINVALID);
		if (!diags_have(&d, bad[i].msg, bad[i].path))
			fail_msg("%s: got '%s'", bad[i].json, d.n ? d.v[0].message : "nothing");
		sts_diags_release(&d);
	}
	struct sts_diags d;
	json_t *out = NULL;
	sts_diags_init(&d);
	assert_int_equal(validate_text("{\"plugin\":\"fakedns\",\"zone\":\"a.example\","
				       "\"port\":65535,\"mode\":\"slow\",\"code\":\"AB12\"}",
				       &out, &d),
			 STS_OK);
	assert_int_equal(json_integer_value(json_object_get(out, "port")), 65535);
	json_decref(out);
	sts_diags_release(&d);
}

static int validate_text(const char *json, json_t **ret, struct sts_diags *d)
{
	struct sts_plugin_host *h = new_host(TESTING_DIR);
	const struct sts_plugin_api *api = NULL;
	assert_int_equal(sts_plugin_find(h, "fakedns", &api, d), STS_OK);
	json_t *s = json_loads(json, 0, NULL);
	assert_non_null(s);
	int r = sts_plugin_validate(api, "fd", s, "/inv/dir", ret, d);
	json_decref(s);
	sts_plugin_host_free(h);
	return r;
}

/*
 * http:// to anything but loopback is refused in provider settings unless
 * "insecure_http": true, and so is the watch webhook (issue 12 §5): an API
 * key never travels in clear by accident.
 */
static void test_cleartext_urls(void **state)
{
	(void)state;
	static const char *const remote[] = {
	    "http://192.0.2.1:8081",	      "HTTP://pdns.example.com/",
	    "http://user@10.1.1.1/x",	      "http://128.0.0.1",
	    "http://[2001:db8::1]:80/",	      "http://localhost.example.com",
	    "http://127.0.0.1@evil.example/", "http:///x",
	};
	static const char *const fine[] = {
	    "https://pdns.example.com",	      "http://127.0.0.1:8081", "http://127.9.9.9/",
	    "http://localhost:8081/api",      "http://[::1]:8081",     "http://[::ffff:127.0.0.1]/",
	    "http://evil.example@127.0.0.1/", "ftp://x.example",       "not a url",
	};
	for (size_t i = 0; i < sizeof(remote) / sizeof(*remote); i++)
		if (!sts_http_url_cleartext_remote(remote[i]))
			fail_msg("'%s' not seen as clear text off the machine", remote[i]);
	for (size_t i = 0; i < sizeof(fine) / sizeof(*fine); i++)
		if (sts_http_url_cleartext_remote(fine[i]))
			fail_msg("'%s' refused", fine[i]);
	struct sts_diags d;
	json_t *out = NULL;
	sts_diags_init(&d);
	assert_int_equal(validate_text("{\"plugin\":\"fakedns\",\"zone\":\"example.com\","
				       "\"url\":\"http://192.0.2.1:8081/\"}",
				       &out, &d),
			 STS_EINVALID);
	assert_true(diags_have(&d,
			       "'http://192.0.2.1:8081/' is plain http:// to a host that is not a "
			       "loopback address: use https://, or set \"insecure_http\": true",
			       "providers.fd.url"));
	sts_diags_release(&d);
	sts_diags_init(&d);
	assert_int_equal(validate_text("{\"plugin\":\"fakedns\",\"zone\":\"example.com\","
				       "\"url\":\"http://192.0.2.1:8081/\",\"insecure_http\":true}",
				       &out, &d),
			 STS_OK);
	assert_null(json_object_get(out, "insecure_http")); /* the host's, not the plugin's */
	json_decref(out);
	sts_diags_release(&d);
	sts_diags_init(&d);
	assert_int_equal(validate_text("{\"plugin\":\"fakedns\",\"zone\":\"example.com\","
				       "\"url\":\"http://127.0.0.1:8081/\"}",
				       &out, &d),
			 STS_OK);
	json_decref(out);
	sts_diags_release(&d);
	sts_diags_init(&d);
	assert_int_equal(validate_text("{\"plugin\":\"fakedns\",\"zone\":\"example.com\","
				       "\"insecure_http\":\"yes\"}",
				       &out, &d),
			 STS_EINVALID);
	assert_true(
	    diags_have(&d, "'insecure_http' must be true or false", "providers.fd.insecure_http"));
	sts_diags_release(&d);
	/* the watch webhook */
	struct sts_watch_conf wc;
	const char *why = NULL;
	json_t *w = json_pack("{s:s}", "webhook", "http://hooks.example.com/x");
	assert_int_equal(sts_watch_conf_from_json(w, &wc, &why), STS_EINVALID);
	assert_string_equal(why, "watch.webhook: plain http:// to a host that is not a loopback "
				 "address: use https://, or set \"insecure_http\": true");
	json_object_set_new(w, "insecure_http", json_true());
	assert_int_equal(sts_watch_conf_from_json(w, &wc, &why), STS_OK);
	json_decref(w);
	w = json_pack("{s:s}", "webhook", "http://127.0.0.1:9/hook");
	assert_int_equal(sts_watch_conf_from_json(w, &wc, &why), STS_OK);
	json_decref(w);
}

static void test_validate_errors(void **state)
{
	(void)state;
	struct sts_diags d;
	sts_diags_init(&d);
	json_t *out = NULL;
	int r = validate_text("{\"plugin\":\"fakedns\",\"zonee\":\"x\",\"count\":\"3\","
			      "\"flag\":1,\"dir\":\"\",\"token\":\"s3cret\",\"tags\":[\"a\",2],"
			      "\"extra\":[]}",
			      &out, &d);
	assert_int_equal(r, STS_EINVALID);
	assert_null(out);
	assert_true(
	    diags_have(&d, "unknown setting 'zonee' for plugin 'fakedns'", "providers.fd.zonee"));
	assert_true(diags_have(&d, "missing required setting 'zone'", "providers.fd.zone"));
	assert_true(diags_have(&d, "setting 'count' must be an integer", "providers.fd.count"));
	assert_true(diags_have(&d, "setting 'flag' must be true or false", "providers.fd.flag"));
	assert_true(diags_have(&d, "setting 'dir' must be a non-empty path", "providers.fd.dir"));
	assert_true(
	    diags_have(&d, "setting 'token': not a secret reference", "providers.fd.token"));
	assert_true(diags_have(&d, "must be a list of strings", "providers.fd.tags"));
	assert_true(diags_have(&d, "setting 'extra' must be an object", "providers.fd.extra"));
	assert_int_equal(d.n_errors, 8);
	/* the secret's text never reaches a message */
	for (size_t i = 0; i < d.n; i++)
		assert_null(strstr(d.v[i].message, "s3cret"));
	sts_diags_release(&d);

	sts_diags_init(&d);
	r = validate_text("{\"plugin\":\"fakedns\",\"zone\":\"z\",\"count\":-1}", &out, &d);
	assert_int_equal(r, STS_EINVALID);
	assert_true(diags_have(&d, "count must not be negative", "providers.fd.count"));
	sts_diags_release(&d);
}

static void test_validate_defaults(void **state)
{
	(void)state;
	struct sts_diags d;
	sts_diags_init(&d);
	json_t *out = NULL;
	int r = validate_text("{\"plugin\":\"fakedns\",\"zone\":\"z\",\"dir\":\"rel/d\","
			      "\"token\":\"${env:STS_T}\",\"extra\":{\"a\":1}}",
			      &out, &d);
	assert_int_equal(r, STS_OK);
	assert_int_equal(d.n, 0);
	assert_null(json_object_get(out, "plugin"));
	assert_int_equal(json_integer_value(json_object_get(out, "count")), 3);
	assert_true(json_is_false(json_object_get(out, "flag")));
	assert_string_equal(json_string_value(json_object_get(out, "dir")), "/inv/dir/rel/d");
	assert_string_equal(json_string_value(json_array_get(json_object_get(out, "tags"), 0)),
			    "a");
	assert_string_equal(json_string_value(json_object_get(out, "token")), "${env:STS_T}");
	json_decref(out);
	sts_diags_release(&d);
}

/* ---- host services through the fake dns plugin ---- */

static void test_host_services(void **state)
{
	(void)state;
	struct sts_plugin_host *h = new_host(TESTING_DIR);
	assert_int_equal(sts_plugin_host_set_basedir(h, "/inv"), STS_OK);
	struct sts_diags d;
	sts_diags_init(&d);
	struct sts_plugin *p = NULL;
	setenv("STS_TEST_TOKEN", "abcdefgh", 1);
	json_t *s = json_pack("{s:s, s:s, s:s, s:s}", "plugin", "fakedns", "zone", "example.com",
			      "token", "${env:STS_TEST_TOKEN}", "dir", "d");
	n_logs = 0;
	assert_int_equal(sts_plugin_open(h, "mydns", s, &p, &d), STS_OK);
	assert_string_equal(last_prefix, "dns:fakedns");
	assert_string_equal(last_log, "loaded for 'mydns' count 3 dir '/inv/d'");
	assert_int_equal(n_logs, 2);
	assert_string_equal(sts_plugin_name(p), "fakedns");
	assert_string_equal(sts_plugin_instance_name(p), "mydns");
	assert_int_equal(sts_plugin_kind(p), STS_PLUGIN_DNS);

	struct sts_dns_caps caps;
	sts_plugin_dns_caps(p, &caps);
	assert_true(caps.batch);
	assert_int_equal(caps.max_concurrency, 2);
	assert_int_equal(caps.rate_per_sec, 5);

	char *vals[] = {"v=STSv1; id=1;", "foreign"};
	struct sts_dns_change ch = {
	    .action = STS_CHANGE_CREATE,
	    .rrset = {.name = "_mta-sts.example.com.",
		      .type = "TXT",
		      .ttl = 300,
		      .values = vals,
		      .n_values = 2},
	};
	assert_int_equal(sts_plugin_dns_apply(p, "example.com", &ch, 1, E()), STS_OK);
	struct sts_rrsets l;
	sts_rrsets_init(&l);
	const char *names[] = {"_mta-sts.example.com.", "_smtp._tls.example.com."};
	assert_int_equal(sts_plugin_dns_read(p, "example.com", names, 2, &l, E()), STS_OK);
	assert_int_equal(l.n, 1);
	const struct sts_rrset *rr = sts_rrsets_find(&l, "_MTA-STS.example.com", "txt");
	assert_non_null(rr);
	assert_int_equal(rr->ttl, 300);
	assert_int_equal(rr->n_values, 2);
	assert_true(sts_rrset_has_value(rr, "foreign"));
	assert_false(sts_rrset_has_value(rr, "other"));
	sts_rrsets_release(&l);

	struct sts_buf b;
	sts_buf_init(&b, 100);
	assert_int_equal(sts_plugin_web_get(p, "mta-sts.example.com", &b, E()), STS_EUNSUPPORTED);
	sts_plugin_close(p);
	json_decref(s);

	/* load() failing: its detail reaches the diag */
	s = json_pack("{s:s, s:s, s:b}", "plugin", "fakedns", "zone", "z", "fail_load", 1);
	p = NULL;
	assert_int_equal(sts_plugin_open(h, "bad", s, &p, &d), STS_EPROVIDER);
	assert_null(p);
	assert_true(
	    diags_have(&d, "provider 'bad': plugin 'fakedns' failed to load: told to fail", NULL));
	json_decref(s);

	/* an unresolvable secret */
	unsetenv("STS_TEST_TOKEN");
	s = json_pack("{s:s, s:s, s:s}", "plugin", "fakedns", "zone", "z", "token",
		      "${env:STS_TEST_TOKEN}");
	assert_int_equal(sts_plugin_open(h, "sec", s, &p, &d), STS_ESECRET);
	assert_true(diags_have(&d, "cannot resolve secret", NULL));
	json_decref(s);

	/* no plugin key; unknown plugin */
	s = json_pack("{s:s}", "zone", "z");
	assert_int_equal(sts_plugin_open(h, "np", s, &p, &d), STS_EINVALID);
	assert_true(diags_have(&d, "does not name its plugin", "providers.np.plugin"));
	json_decref(s);
	sts_diags_release(&d);
	sts_plugin_host_free(h);
}

/* ---- local ---- */

static struct sts_plugin *open_local(struct sts_plugin_host *h, const char *root)
{
	struct sts_diags d;
	sts_diags_init(&d);
	struct sts_plugin *p = NULL;
	json_t *s = json_pack("{s:s, s:s}", "plugin", "local", "root", root);
	int r = sts_plugin_open(h, "web", s, &p, &d);
	if (r < 0)
		fail_msg("open local: %s", d.n ? d.v[0].message : sts_strerror(r));
	json_decref(s);
	sts_diags_release(&d);
	return p;
}

static void test_local(void **state)
{
	(void)state;
	char *dir = make_tmpdir();
	struct sts_plugin_host *h = new_host(NULL);
	struct sts_plugin *p = open_local(h, dir);
	const char *policy = "version: STSv1\r\nmode: testing\r\nmx: mx.example.com\r\n"
			     "max_age: 86400\r\n";
	struct sts_buf b;
	sts_buf_init(&b, 65536);
	struct sts_web_caps caps;
	sts_plugin_web_caps(p, &caps);
	assert_false(caps.verify_https);

	assert_int_equal(sts_plugin_web_get(p, "mta-sts.example.com", &b, E()), STS_ENOENT);
	assert_int_equal(sts_plugin_web_put(p, "mta-sts.example.com", policy, strlen(policy), E()),
			 STS_OK);
	char path[600];
	snprintf(path, sizeof(path), "%s/mta-sts.example.com/.well-known/mta-sts.txt", dir);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	char *got = read_text(path);
	assert_string_equal(got, policy);
	free(got);
	assert_int_equal(sts_plugin_web_get(p, "mta-sts.example.com", &b, E()), STS_OK);
	assert_string_equal(sts_buf_str(&b), policy);

	/* replace: no temp file left behind */
	assert_int_equal(sts_plugin_web_put(p, "mta-sts.example.com", "x", 1, E()), STS_OK);
	char wk[600];
	snprintf(wk, sizeof(wk), "%s/mta-sts.example.com/.well-known", dir);
	int entries = 0;
	DIR *dd = opendir(wk);
	assert_non_null(dd);
	for (struct dirent *e; (e = readdir(dd));)
		entries += e->d_name[0] != '.' || strlen(e->d_name) > 2;
	closedir(dd);
	assert_int_equal(entries, 1);

	/* the cap of the caller's buffer is honoured */
	struct sts_buf small;
	sts_buf_init(&small, 4);
	assert_int_equal(sts_plugin_web_put(p, "mta-sts.example.com", policy, strlen(policy), E()),
			 STS_OK);
	assert_int_equal(sts_plugin_web_get(p, "mta-sts.example.com", &small, E()), STS_ETOOLARGE);
	sts_buf_release(&small);

	/* paths that could escape the root are refused */
	assert_int_equal(sts_plugin_web_put(p, "../etc", "x", 1, E()), STS_EINVAL);
	assert_non_null(strstr(last_err, "invalid policy host '../etc'"));
	assert_int_equal(sts_plugin_web_put(p, "a/b", "x", 1, E()), STS_EINVAL);

	assert_int_equal(sts_plugin_web_del(p, "mta-sts.example.com", E()), STS_OK);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(stat(wk, &st), -1); /* empty .well-known removed */
	assert_int_equal(sts_plugin_web_del(p, "mta-sts.example.com", E()), STS_ENOENT);
	sts_plugin_close(p);

	/* template root */
	char tmpl[600];
	snprintf(tmpl, sizeof(tmpl), "%s/sites/{host}/public", dir);
	p = open_local(h, tmpl);
	assert_int_equal(sts_plugin_web_put(p, "mta-sts.example.net", "y", 1, E()), STS_OK);
	snprintf(path, sizeof(path), "%s/sites/mta-sts.example.net/public/.well-known/mta-sts.txt",
		 dir);
	got = read_text(path);
	assert_non_null(got);
	assert_string_equal(got, "y");
	free(got);
	sts_plugin_close(p);

	/* a second placeholder is refused by check() */
	struct sts_diags d;
	sts_diags_init(&d);
	json_t *s = json_pack("{s:s, s:s}", "plugin", "local", "root", "/x/{host}/{zone}");
	assert_int_equal(sts_plugin_open(h, "web", s, &p, &d), STS_EINVALID);
	assert_true(diags_have(&d, "no other placeholder", "providers.web.root"));
	json_decref(s);
	sts_diags_release(&d);
	sts_buf_release(&b);
	sts_plugin_host_free(h);
	rm_tmpdir(dir);
}

/* ---- zonefile ---- */

struct zf_fixture {
	char *dir;
	struct sts_plugin_host *h;
	struct sts_plugin *p;
};

static void zf_open(struct zf_fixture *f, const char *serial)
{
	f->dir = make_tmpdir();
	f->h = new_host(NULL);
	struct sts_diags d;
	sts_diags_init(&d);
	json_t *s = json_pack("{s:s, s:s, s:s, s:b}", "plugin", "zonefile", "directory", f->dir,
			      "serial", serial, "create", 1);
	assert_int_equal(sts_plugin_open(f->h, "dns", s, &f->p, &d), STS_OK);
	json_decref(s);
	sts_diags_release(&d);
}

static void zf_close(struct zf_fixture *f)
{
	sts_plugin_close(f->p);
	sts_plugin_host_free(f->h);
	rm_tmpdir(f->dir);
}

static char *zf_path(struct zf_fixture *f, const char *zone)
{
	char *p = NULL;
	assert_true(asprintf(&p, "%s/%s.zone", f->dir, zone) > 0);
	return p;
}

static void zf_write(struct zf_fixture *f, const char *zone, const char *text)
{
	char *p = zf_path(f, zone);
	write_text(p, text);
	free(p);
}

static char *zf_read(struct zf_fixture *f, const char *zone)
{
	char *p = zf_path(f, zone);
	char *t = read_text(p);
	free(p);
	return t;
}

/* named-checkzone -q ZONE FILE, run from dir (for $INCLUDE) */
static int checkzone(const char *dir, const char *zone, const char *file)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (chdir(dir) < 0)
			_exit(127);
		int null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		execlp("named-checkzone", "named-checkzone", "-q", zone, file, (char *)NULL);
		_exit(127);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char zone_a[] = "$TTL 3600\n"
			     "@\tIN\tSOA\tns1.example.com. hostmaster.example.com. 2024010101 "
			     "7200 3600 1209600 300\n"
			     "\tIN\tNS\tns1.example.com.\n"
			     "ns1\tIN\tA\t192.0.2.1\n"
			     "; policy record below\n"
			     "_mta-sts\t300\tIN\tTXT\t\"v=STSv1; id=old1;\"\n"
			     "_mta-sts  IN  TXT  \"foreign; with (semicolon)\"   ; keep me\n"
			     "mta-sts\tIN\tCNAME\tweb.example.net.\n"
			     "www\tIN\tA\t192.0.2.2\n";

static void test_zonefile_read(void **state)
{
	(void)state;
	struct zf_fixture f;
	zf_open(&f, "increment");
	zf_write(&f, "example.com", zone_a);
	struct sts_rrsets l;
	sts_rrsets_init(&l);
	const char *names[] = {"_mta-sts.example.com.", "mta-sts.example.com.",
			       "_smtp._tls.example.com."};
	assert_int_equal(sts_plugin_dns_read(f.p, "example.com", names, 3, &l, E()), STS_OK);
	assert_int_equal(l.n, 2);
	const struct sts_rrset *txt = sts_rrsets_find(&l, "_mta-sts.example.com.", "TXT");
	assert_non_null(txt);
	assert_int_equal(txt->n_values, 2);
	assert_string_equal(txt->values[0], "v=STSv1; id=old1;");
	assert_string_equal(txt->values[1], "foreign; with (semicolon)");
	assert_int_equal(txt->ttl, 300);
	const struct sts_rrset *cn = sts_rrsets_find(&l, "mta-sts.example.com.", "CNAME");
	assert_non_null(cn);
	assert_string_equal(cn->values[0], "web.example.net.");
	assert_int_equal(cn->ttl, 3600);
	sts_rrsets_release(&l);

	/* without "create": true, a missing file is refused, naming it and the setting */
	struct sts_diags d;
	sts_diags_init(&d);
	char *sub = NULL;
	assert_true(asprintf(&sub, "%s/new/zones", f.dir) > 0);
	json_t *s = json_pack("{s:s, s:s}", "plugin", "zonefile", "directory", sub);
	struct sts_plugin *p2 = NULL;
	assert_int_equal(sts_plugin_open(f.h, "dns2", s, &p2, &d), STS_OK);
	assert_int_equal(sts_plugin_dns_read(p2, "example.com", names, 3, &l, E()), STS_EINVALID);
	assert_non_null(strstr(last_err, "new/zones/example.com.zone' does not exist"));
	assert_non_null(strstr(last_err, "\"create\": true"));
	struct sts_dns_change c = {.action = STS_CHANGE_CREATE,
				   .rrset = {.name = "_mta-sts.example.com.",
					     .type = "TXT",
					     .ttl = 60,
					     .values = (char *[]){"v=STSv1; id=1;"},
					     .n_values = 1}};
	assert_int_equal(sts_plugin_dns_apply(p2, "example.com", &c, 1, E()), STS_EINVALID);
	sts_plugin_close(p2);
	json_decref(s);
	/* with it, a missing directory or file is an empty zone; apply creates both */
	s = json_pack("{s:s, s:s, s:b}", "plugin", "zonefile", "directory", sub, "create", 1);
	assert_int_equal(sts_plugin_open(f.h, "dns2", s, &p2, &d), STS_OK);
	assert_int_equal(sts_plugin_dns_read(p2, "example.com", names, 3, &l, E()), STS_OK);
	assert_int_equal(l.n, 0);
	assert_int_equal(sts_plugin_dns_apply(p2, "example.com", &c, 1, E()), STS_OK);
	assert_int_equal(sts_plugin_dns_read(p2, "example.com", names, 3, &l, E()), STS_OK);
	assert_int_equal(l.n, 1);
	sts_rrsets_release(&l);
	sts_plugin_close(p2);
	json_decref(s);
	/* a directory that is a file is refused at load */
	s = json_pack("{s:s, s:s}", "plugin", "zonefile", "directory", "/dev/null");
	assert_int_equal(sts_plugin_open(f.h, "dns3", s, &p2, &d), STS_EINVAL);
	assert_true(diags_have(&d, "'/dev/null' is not a directory", NULL));
	json_decref(s);
	free(sub);
	sts_diags_release(&d);

	assert_int_equal(sts_plugin_dns_read(f.p, "example.org", names, 3, &l, E()), STS_OK);
	assert_int_equal(l.n, 0);
	/* syntax errors name file and line */
	zf_write(&f, "bad.test", "@ IN SOA a. b. ( 1 2 3 4 5\nx IN A 192.0.2.1\n");
	assert_int_equal(sts_plugin_dns_read(f.p, "bad.test", names, 1, &l, E()), STS_EPARSE);
	assert_non_null(strstr(last_err, "bad.test.zone' line 1: unbalanced '('"));
	assert_int_equal(sts_plugin_dns_read(f.p, "../etc", names, 1, &l, E()), STS_EINVAL);
	zf_close(&f);
}

static void test_zonefile_replace_keeps_bytes(void **state)
{
	(void)state;
	struct zf_fixture f;
	zf_open(&f, "increment");
	zf_write(&f, "example.com", zone_a);
	char *vals[] = {"v=STSv1; id=new2;", "foreign; with (semicolon)"};
	char *oldv[] = {"v=STSv1; id=old1;", "foreign; with (semicolon)"};
	struct sts_rrset old = {.name = "_mta-sts.example.com.",
				.type = "TXT",
				.ttl = 300,
				.values = oldv,
				.n_values = 2};
	struct sts_dns_change ch = {.action = STS_CHANGE_REPLACE,
				    .rrset = {.name = "_mta-sts.example.com.",
					      .type = "TXT",
					      .ttl = 300,
					      .values = vals,
					      .n_values = 2},
				    .old = &old};
	assert_int_equal(sts_plugin_dns_apply(f.p, "example.com", &ch, 1, E()), STS_OK);
	char *got = zf_read(&f, "example.com");
	const char *want = "$TTL 3600\n"
			   "@\tIN\tSOA\tns1.example.com. hostmaster.example.com. 2024010102 "
			   "7200 3600 1209600 300\n"
			   "\tIN\tNS\tns1.example.com.\n"
			   "ns1\tIN\tA\t192.0.2.1\n"
			   "; policy record below\n"
			   "_mta-sts\t300\tIN\tTXT\t\"v=STSv1; id=new2;\"\n"
			   "_mta-sts  IN  TXT  \"foreign; with (semicolon)\"   ; keep me\n"
			   "mta-sts\tIN\tCNAME\tweb.example.net.\n"
			   "www\tIN\tA\t192.0.2.2\n";
	assert_string_equal(got, want);
	free(got);
	assert_int_equal(checkzone(f.dir, "example.com", "example.com.zone"), 0);

	/* the same content again: nothing written, serial unchanged */
	assert_int_equal(sts_plugin_dns_apply(f.p, "example.com", &ch, 1, E()), STS_OK);
	got = zf_read(&f, "example.com");
	assert_string_equal(got, want);
	free(got);

	/* CREATE of a new name lands at the end, absolute and explicit */
	char *rpt[] = {"v=TLSRPTv1; rua=mailto:tlsrpt@example.com"};
	struct sts_dns_change c2 = {.action = STS_CHANGE_CREATE,
				    .rrset = {.name = "_smtp._tls.example.com.",
					      .type = "TXT",
					      .ttl = 3600,
					      .values = rpt,
					      .n_values = 1}};
	assert_int_equal(sts_plugin_dns_apply(f.p, "example.com", &c2, 1, E()), STS_OK);
	got = zf_read(&f, "example.com");
	assert_non_null(strstr(got, " 2024010103 "));
	size_t n = strlen(got);
	const char *tail = "www\tIN\tA\t192.0.2.2\n_smtp._tls.example.com.\t3600\tIN\tTXT\t"
			   "\"v=TLSRPTv1; rua=mailto:tlsrpt@example.com\"\n";
	assert_true(n > strlen(tail));
	assert_string_equal(got + n - strlen(tail), tail);
	free(got);
	assert_int_equal(checkzone(f.dir, "example.com", "example.com.zone"), 0);
	zf_close(&f);
}

static const char zone_b[] = "$ORIGIN example.org.\n"
			     "$TTL 1h\n"
			     "@ IN SOA ns1 hostmaster (\n"
			     "\t\t2024010101 ; serial\n"
			     "\t\t2h 1h 2w\n"
			     "\t\t5m )\n"
			     "  IN NS ns1\n"
			     "ns1 IN A 192.0.2.1\n"
			     "_smtp._tls IN TXT \"v=TLSRPTv1; \" \"rua=mailto:a@example.org\"\n"
			     "           IN TXT \"other\"\n"
			     "$ORIGIN sub.example.org.\n"
			     "_mta-sts IN TXT \"v=STSv1; id=sub1;\"\n";

static void test_zonefile_multiline_soa_origin(void **state)
{
	(void)state;
	struct zf_fixture f;
	zf_open(&f, "date");
	zf_write(&f, "example.org", zone_b);
	struct sts_rrsets l;
	sts_rrsets_init(&l);
	const char *names[] = {"_smtp._tls.example.org.", "_mta-sts.sub.example.org."};
	assert_int_equal(sts_plugin_dns_read(f.p, "example.org", names, 2, &l, E()), STS_OK);
	assert_int_equal(l.n, 2);
	const struct sts_rrset *t = sts_rrsets_find(&l, "_smtp._tls.example.org.", "TXT");
	assert_non_null(t);
	assert_int_equal(t->n_values, 2);
	assert_string_equal(t->values[0], "v=TLSRPTv1; rua=mailto:a@example.org");
	assert_string_equal(t->values[1], "other");
	assert_int_equal(t->ttl, 3600);
	t = sts_rrsets_find(&l, "_mta-sts.sub.example.org.", "TXT");
	assert_non_null(t);
	assert_string_equal(t->values[0], "v=STSv1; id=sub1;");
	sts_rrsets_release(&l);

	/* delete the owned record whose owner the foreign line inherits */
	struct sts_dns_change ch[2] = {
	    {.action = STS_CHANGE_REPLACE,
	     .rrset = {.name = "_smtp._tls.example.org.",
		       .type = "TXT",
		       .ttl = 3600,
		       .values = (char *[]){"other"},
		       .n_values = 1}},
	    {.action = STS_CHANGE_DELETE,
	     .rrset = {.name = "_mta-sts.sub.example.org.", .type = "TXT"}},
	};
	assert_int_equal(sts_plugin_dns_apply(f.p, "example.org", ch, 2, E()), STS_OK);
	char *got = zf_read(&f, "example.org");
	char serial[64];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	snprintf(serial, sizeof(serial), "%04d%02d%02d00", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday);
	char want[1024];
	snprintf(want, sizeof(want),
		 "$ORIGIN example.org.\n"
		 "$TTL 1h\n"
		 "@ IN SOA ns1 hostmaster (\n"
		 "\t\t%s ; serial\n"
		 "\t\t2h 1h 2w\n"
		 "\t\t5m )\n"
		 "  IN NS ns1\n"
		 "ns1 IN A 192.0.2.1\n"
		 "_smtp._tls           IN TXT \"other\"\n"
		 "$ORIGIN sub.example.org.\n",
		 serial);
	assert_string_equal(got, want);
	free(got);
	assert_int_equal(checkzone(f.dir, "example.org", "example.org.zone"), 0);
	zf_close(&f);
}

/*
 * A blank-owner record after $TTL, $ORIGIN or $INCLUDE still belongs to the
 * record before the directive (issue 12 §5): when that record is deleted,
 * the blank-owner record keeps its owner (written absolute), and reading the
 * zone back finds each value at its name, nothing moved to 'ns1'.
 */
static void test_zonefile_blank_owner_after_directive(void **state)
{
	(void)state;
	static const char *const directives[] = {"$TTL 300\n", "$ORIGIN sub.example.com.\n",
						 "$INCLUDE extra.inc\n",
						 "$TTL 300\n; comment\n\n$INCLUDE extra.inc\n"};
	for (size_t k = 0; k < sizeof(directives) / sizeof(*directives); k++) {
		struct zf_fixture f;
		zf_open(&f, "increment");
		char *inc = NULL;
		assert_true(asprintf(&inc, "%s/extra.inc", f.dir) > 0);
		write_text(inc, "extra IN A 192.0.2.9\n");
		free(inc);
		char zone[1024];
		snprintf(zone, sizeof(zone),
			 "$ORIGIN example.com.\n"
			 "$TTL 3600\n"
			 "@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n"
			 "  IN NS ns1\n"
			 "ns1 IN A 192.0.2.1\n"
			 "_mta-sts IN TXT \"v=STSv1; id=old;\"\n"
			 "%s"
			 "  IN TXT \"site-verification=abc\"\n"
			 "  IN TXT \"another foreign\"\n"
			 "www IN A 192.0.2.2\n",
			 directives[k]);
		zf_write(&f, "example.com", zone);
		assert_int_equal(checkzone(f.dir, "example.com", "example.com.zone"), 0);
		/* stsctl takes its value away and keeps the foreign ones */
		struct sts_dns_change ch = {
		    .action = STS_CHANGE_REPLACE,
		    .rrset = {.name = "_mta-sts.example.com.",
			      .type = "TXT",
			      .ttl = 3600,
			      .values = (char *[]){"site-verification=abc", "another foreign"},
			      .n_values = 2}};
		assert_int_equal(sts_plugin_dns_apply(f.p, "example.com", &ch, 1, E()), STS_OK);
		char *got = zf_read(&f, "example.com");
		if (checkzone(f.dir, "example.com", "example.com.zone") != 0)
			fail_msg("case %zu: named-checkzone refuses:\n%s", k, got);
		/* round trip: each value where it was */
		struct sts_rrsets l;
		sts_rrsets_init(&l);
		const char *names[] = {"_mta-sts.example.com.", "ns1.example.com."};
		assert_int_equal(sts_plugin_dns_read(f.p, "example.com", names, 2, &l, E()),
				 STS_OK);
		const struct sts_rrset *t = sts_rrsets_find(&l, "_mta-sts.example.com.", "TXT");
		if (!t || t->n_values != 2)
			fail_msg("case %zu: the foreign TXT values left '_mta-sts':\n%s", k, got);
		assert_string_equal(t->values[0], "site-verification=abc");
		assert_string_equal(t->values[1], "another foreign");
		if (sts_rrsets_find(&l, "ns1.example.com.", "TXT"))
			fail_msg("case %zu: TXT moved to 'ns1':\n%s", k, got);
		assert_null(strstr(got, "v=STSv1"));
		assert_non_null(strstr(got, directives[k]));
		sts_rrsets_release(&l);
		if (k == 0) /* the exact bytes: only the owner and the serial change */
			assert_string_equal(
			    got, "$ORIGIN example.com.\n"
				 "$TTL 3600\n"
				 "@ IN SOA ns1 hostmaster 2 7200 3600 1209600 300\n"
				 "  IN NS ns1\n"
				 "ns1 IN A 192.0.2.1\n"
				 "$TTL 300\n"
				 "_mta-sts.example.com.  IN TXT \"site-verification=abc\"\n"
				 "  IN TXT \"another foreign\"\n"
				 "www IN A 192.0.2.2\n");
		free(got);
		zf_close(&f);
	}
}

static void test_zonefile_fragment(void **state)
{
	(void)state;
	struct zf_fixture f;
	zf_open(&f, "date");
	char long_txt[600];
	memset(long_txt, 'a', sizeof(long_txt) - 1);
	long_txt[sizeof(long_txt) - 1] = '\0';
	long_txt[10] = '"';
	struct sts_dns_change ch[3] = {
	    {.action = STS_CHANGE_CREATE,
	     .rrset = {.name = "_mta-sts.example.net.",
		       .type = "TXT",
		       .ttl = 300,
		       .values = (char *[]){"v=STSv1; id=abc;"},
		       .n_values = 1}},
	    {.action = STS_CHANGE_CREATE,
	     .rrset = {.name = "mta-sts.example.net.",
		       .type = "A",
		       .ttl = 300,
		       .values = (char *[]){"192.0.2.7"},
		       .n_values = 1}},
	    {.action = STS_CHANGE_CREATE,
	     .rrset = {.name = "long.example.net.",
		       .type = "TXT",
		       .ttl = 300,
		       .values = (char *[]){long_txt},
		       .n_values = 1}},
	};
	assert_int_equal(sts_plugin_dns_apply(f.p, "example.net", ch, 3, E()), STS_OK);
	char *got = zf_read(&f, "example.net");
	assert_non_null(got);
	assert_non_null(
	    strstr(got, "; stsctl: MTA-STS and TLS-RPT records of zone example.net.\n"));
	assert_non_null(strstr(got, "_mta-sts.example.net.\t300\tIN\tTXT\t\"v=STSv1; id=abc;\"\n"));
	assert_non_null(strstr(got, "mta-sts.example.net.\t300\tIN\tA\t192.0.2.7\n"));
	assert_null(strstr(got, "SOA"));
	free(got);

	/* the long value reads back whole (split into 255-octet strings on disk) */
	struct sts_rrsets l;
	sts_rrsets_init(&l);
	const char *names[] = {"long.example.net."};
	assert_int_equal(sts_plugin_dns_read(f.p, "example.net", names, 1, &l, E()), STS_OK);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0].values[0], long_txt);
	sts_rrsets_release(&l);

	/* a master file that $INCLUDEs the fragment passes named-checkzone */
	char *master = NULL;
	assert_true(asprintf(&master, "%s/master.zone", f.dir) > 0);
	write_text(master, "$TTL 3600\n"
			   "@ IN SOA ns1 hostmaster 1 7200 3600 1209600 300\n"
			   "  IN NS ns1\n"
			   "ns1 IN A 192.0.2.1\n"
			   "$INCLUDE example.net.zone\n");
	assert_int_equal(checkzone(f.dir, "example.net", "master.zone"), 0);
	free(master);
	zf_close(&f);
}

static void test_zonefile_conflict(void **state)
{
	(void)state;
	struct zf_fixture f;
	zf_open(&f, "increment");
	const char *text = "@ 3600 IN SOA ns1 hostmaster 7 7200 3600 1209600 300\n"
			   "@ 3600 IN NS ns1\n"
			   "ns1 3600 IN A 192.0.2.1\n"
			   "_mta-sts 3600 IN CNAME sts.provider.example.\n";
	zf_write(&f, "example.com", text);
	struct sts_rrsets l;
	sts_rrsets_init(&l);
	const char *names[] = {"_mta-sts.example.com."};
	assert_int_equal(sts_plugin_dns_read(f.p, "example.com", names, 1, &l, E()), STS_OK);
	assert_non_null(sts_rrsets_find(&l, "_mta-sts.example.com.", "CNAME"));
	sts_rrsets_release(&l);
	struct sts_dns_change ch = {.action = STS_CHANGE_CREATE,
				    .rrset = {.name = "_mta-sts.example.com.",
					      .type = "TXT",
					      .ttl = 300,
					      .values = (char *[]){"v=STSv1; id=x;"},
					      .n_values = 1}};
	assert_int_equal(sts_plugin_dns_apply(f.p, "example.com", &ch, 1, E()), STS_ECONFLICT);
	assert_non_null(
	    strstr(last_err, "'_mta-sts.example.com.' would hold a CNAME beside TXT records"));
	char *got = zf_read(&f, "example.com");
	assert_string_equal(got, text);
	free(got);

	/* outside the zone, SOA, duplicates: refused */
	ch.rrset.name = "_mta-sts.example.org.";
	assert_int_equal(sts_plugin_dns_apply(f.p, "example.com", &ch, 1, E()), STS_EINVAL);
	assert_non_null(strstr(last_err, "is not in zone 'example.com'"));
	ch.rrset.name = "example.com.";
	ch.rrset.type = "SOA";
	assert_int_equal(sts_plugin_dns_apply(f.p, "example.com", &ch, 1, E()), STS_EINVAL);

	/* delegation: delete the CNAME and create the TXT in one batch is fine */
	struct sts_dns_change two[2] = {
	    {.action = STS_CHANGE_DELETE,
	     .rrset = {.name = "_mta-sts.example.com.", .type = "CNAME"}},
	    {.action = STS_CHANGE_CREATE,
	     .rrset = {.name = "_mta-sts.example.com.",
		       .type = "TXT",
		       .ttl = 300,
		       .values = (char *[]){"v=STSv1; id=x;"},
		       .n_values = 1}},
	};
	assert_int_equal(sts_plugin_dns_apply(f.p, "example.com", two, 2, E()), STS_OK);
	got = zf_read(&f, "example.com");
	assert_null(strstr(got, "CNAME"));
	assert_non_null(strstr(got, " 8 7200"));
	free(got);
	assert_int_equal(checkzone(f.dir, "example.com", "example.com.zone"), 0);
	zf_close(&f);
}

static void test_zonefile_in_place(void **state)
{
	(void)state;
	struct zf_fixture f;
	zf_open(&f, "increment");
	const char *text = "$TTL 300\n"
			   "@ IN SOA ns1 hostmaster ( 41 7200 3600 1209600 300 )\n"
			   "  IN NS ns1\n"
			   "ns1 IN A 192.0.2.1\n"
			   "_mta-sts IN TXT ( \"v=STSv1; \" ; split over lines\n"
			   "                  \"id=a1;\" )\n"
			   "         IN TXT \"foreign\\032one\"\n"
			   "mta-sts IN A 192.0.2.9\n";
	zf_write(&f, "example.com", text);
	struct sts_rrsets l;
	sts_rrsets_init(&l);
	const char *names[] = {"_mta-sts.example.com."};
	assert_int_equal(sts_plugin_dns_read(f.p, "example.com", names, 1, &l, E()), STS_OK);
	const struct sts_rrset *rr = sts_rrsets_find(&l, names[0], "TXT");
	assert_non_null(rr);
	assert_int_equal(rr->n_values, 2);
	assert_string_equal(rr->values[0], "v=STSv1; id=a1;");
	assert_string_equal(rr->values[1], "foreign one");

	/* the multi-line owned record is rewritten where it was, owner kept */
	struct sts_dns_change ch = {
	    .action = STS_CHANGE_REPLACE,
	    .rrset = {.name = "_mta-sts.example.com.",
		      .type = "TXT",
		      .ttl = 300,
		      .values = (char *[]){"foreign one", "v=STSv1; id=b2;"},
		      .n_values = 2},
	    .old = rr};
	assert_int_equal(sts_plugin_dns_apply(f.p, "example.com", &ch, 1, E()), STS_OK);
	char *got = zf_read(&f, "example.com");
	assert_string_equal(got, "$TTL 300\n"
				 "@ IN SOA ns1 hostmaster ( 42 7200 3600 1209600 300 )\n"
				 "  IN NS ns1\n"
				 "ns1 IN A 192.0.2.1\n"
				 "_mta-sts\t300\tIN\tTXT\t\"v=STSv1; id=b2;\"\n"
				 "         IN TXT \"foreign\\032one\"\n"
				 "mta-sts IN A 192.0.2.9\n");
	free(got);
	assert_int_equal(checkzone(f.dir, "example.com", "example.com.zone"), 0);

	/* a TTL change of the rrset rewrites every line of it */
	struct sts_rrset old = {.name = "_mta-sts.example.com.", .type = "TXT", .ttl = 300};
	ch.old = &old;
	ch.rrset.ttl = 600;
	assert_int_equal(sts_plugin_dns_apply(f.p, "example.com", &ch, 1, E()), STS_OK);
	got = zf_read(&f, "example.com");
	assert_non_null(strstr(got, "_mta-sts\t600\tIN\tTXT\t\"v=STSv1; id=b2;\"\n"
				    "\t600\tIN\tTXT\t\"foreign one\"\n"));
	assert_non_null(strstr(got, "( 43 7200"));
	free(got);
	assert_int_equal(checkzone(f.dir, "example.com", "example.com.zone"), 0);

	/* the policy host: A replaced by a CNAME in one batch */
	struct sts_dns_change two[2] = {
	    {.action = STS_CHANGE_DELETE, .rrset = {.name = "mta-sts.example.com.", .type = "A"}},
	    {.action = STS_CHANGE_CREATE,
	     .rrset = {.name = "mta-sts.example.com.",
		       .type = "CNAME",
		       .ttl = 300,
		       .values = (char *[]){"sts.hoster.example."},
		       .n_values = 1}},
	};
	assert_int_equal(sts_plugin_dns_apply(f.p, "example.com", two, 2, E()), STS_OK);
	got = zf_read(&f, "example.com");
	assert_null(strstr(got, "192.0.2.9"));
	assert_non_null(strstr(got, "mta-sts.example.com.\t300\tIN\tCNAME\tsts.hoster.example.\n"));
	free(got);
	assert_int_equal(checkzone(f.dir, "example.com", "example.com.zone"), 0);
	sts_rrsets_release(&l);
	zf_close(&f);
}

/* A provider that keeps some TTLs only: the one it keeps for any other. */
static void test_dns_caps_ttl(void **state)
{
	(void)state;
	static const uint32_t kept[] = {0, 30, 120, 300, 3600};
	struct sts_dns_caps caps = {.struct_size = sizeof(caps)};
	assert_int_equal(sts_dns_caps_ttl(&caps, 61), 61); /* keeps every TTL */
	assert_int_equal(sts_dns_caps_ttl(NULL, 61), 61);
	caps.kept_ttls = kept;
	caps.n_kept_ttls = sizeof(kept) / sizeof(kept[0]);
	assert_int_equal(sts_dns_caps_ttl(&caps, 300), 300);
	assert_int_equal(sts_dns_caps_ttl(&caps, 60), 30);	/* nearest */
	assert_int_equal(sts_dns_caps_ttl(&caps, 75), 120);	/* a tie: the larger */
	assert_int_equal(sts_dns_caps_ttl(&caps, 86400), 3600); /* past the last */
	assert_int_equal(sts_dns_caps_ttl(&caps, 10), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_find_good),
	    cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_world_writable),
	    cmocka_unit_test(test_search_path),
	    cmocka_unit_test(test_scan),
	    cmocka_unit_test(test_validate_errors),
	    cmocka_unit_test(test_cleartext_urls),
	    cmocka_unit_test(test_validate_defaults),
	    cmocka_unit_test(test_schema_checks),
	    cmocka_unit_test(test_dns_caps_ttl),
	    cmocka_unit_test(test_zones_probe),
	    cmocka_unit_test(test_longest_zone),
	    cmocka_unit_test(test_rest_services),
	    cmocka_unit_test(test_host_services),
	    cmocka_unit_test(test_local),
	    cmocka_unit_test(test_zonefile_read),
	    cmocka_unit_test(test_zonefile_replace_keeps_bytes),
	    cmocka_unit_test(test_zonefile_multiline_soa_origin),
	    cmocka_unit_test(test_zonefile_fragment),
	    cmocka_unit_test(test_zonefile_blank_owner_after_directive),
	    cmocka_unit_test(test_zonefile_conflict),
	    cmocka_unit_test(test_zonefile_in_place),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
