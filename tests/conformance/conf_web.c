/* SPDX-License-Identifier: MIT */
/*
 * The web steps of a case (tests/conformance/web/cases.json), through the
 * host's calls of the plugin ops (sts_plugin_web_get/_put/_del, probe):
 *   put, get, del   with the data and the error each expects
 *   file            the published file on disk (the target's "file"
 *                   template): exists or not, its mode and its folders',
 *                   readable as the web server's user, its inode saved or
 *                   changed (a replace is a rename, never a rewrite in place)
 *   atomic          a reader loop beside `rounds` replacements that
 *                   alternate two sizes: every read is one whole file
 *   probe, probe_bad_credentials, bad_credentials
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "sts_buf.h"
#include "sts_err.h"

#define INODES_MAX 8
#define READS_MAX  200000 /* the atomic reader's bound */

struct web_case {
	struct conf *c;
	struct sts_plugin *p;
	const char *zone;
	struct {
		char *key;
		ino_t ino;
	} inodes[INODES_MAX];
};

static char *host_of(struct web_case *w, const json_t *step)
{
	char *h = NULL;
	const char *label = json_string_value(json_object_get(step, "host"));
	if (asprintf(&h, "mta-sts.%s.%s", label ? label : "x", w->zone) < 0)
		return NULL;
	return h;
}

/* The file as the plugin publishes it: the target's template with {host}. */
static char *path_of(struct web_case *w, const char *host)
{
	const char *t = conf_str(w->c, "file", "");
	const char *at = strstr(t, "{host}");
	char *s = NULL;
	if (!at || asprintf(&s, "%.*s%s%s", (int)(at - t), t, host, at + 6) < 0)
		return NULL;
	return s;
}

static void step_put(struct web_case *w, const json_t *step, const char *host)
{
	size_t len = 0;
	char *data = conf_data(step, &len), *err = NULL;
	int r = data ? sts_plugin_web_put(w->p, host, data, len, &err) : STS_ENOMEM;
	if (!conf_point(w->c, conf_expected(step, r), "put %zu octets at %s gives %s", len, host,
			conf_expect_text(step)))
		conf_diag("%s: %s", conf_err_name(r), err ? err : "");
	free(err);
	free(data);
}

static void step_get(struct web_case *w, const json_t *step, const char *host)
{
	struct sts_buf b;
	json_int_t cap = json_integer_value(json_object_get(step, "cap"));
	sts_buf_init(&b, cap ? (size_t)cap : 64u * 1024u);
	char *err = NULL;
	int r = sts_plugin_web_get(w->p, host, &b, &err);
	if (!conf_point(w->c, conf_expected(step, r), "get %s (cap %zu) gives %s", host,
			cap ? (size_t)cap : 64u * 1024u, conf_expect_text(step)))
		conf_diag("%s: %s", conf_err_name(r), err ? err : "");
	if (r == STS_OK && (json_object_get(step, "data") || json_object_get(step, "size"))) {
		size_t len = 0;
		char *want = conf_data(step, &len);
		bool same = want && b.len == len && memcmp(b.data, want, len) == 0;
		if (!conf_point(w->c, same, "get %s returns the %zu octets put", host, len))
			conf_diag("got %zu octets", b.len);
		free(want);
	}
	free(err);
	sts_buf_release(&b);
}

static void step_del(struct web_case *w, const json_t *step, const char *host)
{
	char *err = NULL;
	int r = sts_plugin_web_del(w->p, host, &err);
	if (!conf_point(w->c, conf_expected(step, r), "del %s gives %s", host,
			conf_expect_text(step)))
		conf_diag("%s: %s", conf_err_name(r), err ? err : "");
	free(err);
}

/* Read path as user (the web server's), in a child: 0 when the whole file reads. */
static int read_as(const char *user, const char *path, const char *want, size_t len)
{
	struct passwd *pw = getpwnam(user);
	if (!pw) {
		conf_diag("no user '%s' on this machine", user);
		return -1;
	}
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
			_exit(3);
		struct sts_buf b;
		sts_buf_init(&b, len + 1);
		_exit(sts_buf_read_file(&b, path) < 0		   ? 1
		      : b.len == len && !memcmp(b.data, want, len) ? 0
								   : 2);
	}
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void step_file(struct web_case *w, const json_t *step, const char *host)
{
	struct conf *c = w->c;
	char *path = path_of(w, host);
	struct stat st;
	bool exists = path && stat(path, &st) == 0;
	json_t *want_exists = json_object_get(step, "exists");
	if (want_exists &&
	    !conf_point(c, exists == json_is_true(want_exists), "the file of %s %s on disk", host,
			json_is_true(want_exists) ? "exists" : "does not exist")) {
		conf_diag("'%s' %s", path ? path : "", exists ? "exists" : "does not exist");
		goto out;
	}
	const char *mode = json_string_value(json_object_get(step, "mode"));
	if (mode && exists &&
	    !conf_point(c, (st.st_mode & 07777) == strtoul(mode, NULL, 8), "the file has mode %s",
			mode))
		conf_diag("it has %04o", (unsigned)(st.st_mode & 07777));
	const char *dmode = json_string_value(json_object_get(step, "dir_mode"));
	if (dmode && exists) {
		/* the folders the plugin made: mta-sts.HOST and .well-known */
		char *dir = strdup(path);
		bool ok = dir != NULL;
		for (int k = 0; ok && k < 2; k++) {
			char *slash = strrchr(dir, '/');
			struct stat ds;
			if (slash)
				*slash = '\0';
			ok = slash && stat(dir, &ds) == 0 &&
			     (ds.st_mode & 07777) == strtoul(dmode, NULL, 8);
			if (!ok)
				conf_diag("'%s' has mode %04o", dir,
					  (unsigned)(ds.st_mode & 07777));
		}
		conf_point(c, ok, "its two folders have mode %s", dmode);
		free(dir);
	}
	const char *user = json_string_value(json_object_get(step, "readable_by"));
	if (user && exists) {
		size_t len = 0;
		char *want = conf_data(step, &len);
		int r = want ? read_as(user, path, want, len) : -1;
		if (!conf_point(c, r == 0, "the web server's user '%s' reads the whole file", user))
			conf_diag("reader exit %d (1 cannot read, 2 other content, 3 setuid)", r);
		free(want);
	}
	const char *save = json_string_value(json_object_get(step, "save_inode"));
	const char *differs = json_string_value(json_object_get(step, "inode_differs"));
	for (size_t i = 0; exists && save && i < INODES_MAX; i++)
		if (!w->inodes[i].key) {
			w->inodes[i].key = strdup(save);
			w->inodes[i].ino = st.st_ino;
			conf_diag("inode %lu of %s saved", (unsigned long)st.st_ino, host);
			break;
		}
	if (differs && exists) {
		ino_t was = 0;
		for (size_t i = 0; i < INODES_MAX && w->inodes[i].key; i++)
			if (!strcmp(w->inodes[i].key, differs))
				was = w->inodes[i].ino;
		if (!conf_point(c, was && was != st.st_ino,
				"replaced by a rename: a new inode (not rewritten in place)"))
			conf_diag("inode before %lu, now %lu", (unsigned long)was,
				  (unsigned long)st.st_ino);
	}
out:
	free(path);
}

struct reader {
	const char *path;
	const char *a, *b;
	size_t la, lb;
	volatile int stop;
	unsigned long reads, torn, missing;
};

static void *reader_loop(void *arg)
{
	struct reader *r = arg;
	struct sts_buf b;
	sts_buf_init(&b, r->la + r->lb + 1);
	while (!r->stop && r->reads < READS_MAX) {
		sts_buf_reset(&b);
		int fd = open(r->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			r->missing++;
			continue;
		}
		int e = sts_buf_read_fd(&b, fd);
		close(fd);
		r->reads++;
		if (e < 0 || !((b.len == r->la && !memcmp(b.data, r->a, r->la)) ||
			       (b.len == r->lb && !memcmp(b.data, r->b, r->lb))))
			r->torn++;
	}
	sts_buf_release(&b);
	return NULL;
}

static void step_atomic(struct web_case *w, const json_t *step, const char *host)
{
	struct conf *c = w->c;
	json_t *a = json_object_get(step, "a"), *bb = json_object_get(step, "b");
	json_int_t rounds = json_integer_value(json_object_get(step, "rounds"));
	json_int_t max_s = json_integer_value(json_object_get(step, "max_seconds"));
	struct reader r = {.path = path_of(w, host)};
	char *da = conf_data(a, &r.la), *db = conf_data(bb, &r.lb), *err = NULL;
	r.a = da;
	r.b = db;
	int e = r.path && da && db ? sts_plugin_web_put(w->p, host, da, r.la, &err) : STS_ENOMEM;
	pthread_t t;
	if (e < 0 || pthread_create(&t, NULL, reader_loop, &r) != 0) {
		conf_point(c, false, "first put and reader start");
		conf_diag("%s: %s", conf_err_name(e), err ? err : "");
		goto out;
	}
	long t0 = conf_now_ms();
	json_int_t k = 0;
	for (; k < rounds && e == STS_OK && conf_now_ms() - t0 < max_s * 1000; k++)
		e = sts_plugin_web_put(w->p, host, k % 2 ? da : db, k % 2 ? r.la : r.lb, &err);
	r.stop = 1;
	pthread_join(t, NULL);
	if (!conf_point(c, e == STS_OK && k == rounds, "%lld puts within %lld s", rounds, max_s))
		conf_diag("%lld done, %s: %s", k, conf_err_name(e), err ? err : "");
	conf_point(c, r.reads >= (unsigned long)rounds && r.torn == 0 && r.missing == 0,
		   "reads alongside (at least %lld), each one whole file (%zu or %zu octets)",
		   rounds, r.la, r.lb);
	conf_diag("%lu reads", r.reads);
	if (r.torn || r.missing || r.reads < (unsigned long)rounds)
		conf_diag("%lu partial or mixed, %lu found no file, %lu reads", r.torn, r.missing,
			  r.reads);
out:
	free(err);
	free(da);
	free(db);
	free((char *)r.path);
}

static int put_one(struct sts_plugin *p, void *arg, char **reterr)
{
	const char *host = arg;
	return sts_plugin_web_put(p, host, "x\n", 2, reterr);
}

void conf_run_web(struct conf *c, const json_t *kase)
{
	struct web_case w = {.c = c, .zone = conf_str(c, "zone", "")};
	if (conf_open(c, "settings", &w.p, NULL) < 0) {
		conf_point(c, false, "open the provider instance");
		return;
	}
	size_t i;
	json_t *step;
	json_array_foreach(json_object_get(kase, "steps"), i, step)
	{
		const char *what = json_string_value(json_object_get(step, "op"));
		char *host = host_of(&w, step);
		if (!host || !what)
			conf_point(c, false, "a step with an op and a host");
		else if (!strcmp(what, "put"))
			step_put(&w, step, host);
		else if (!strcmp(what, "get"))
			step_get(&w, step, host);
		else if (!strcmp(what, "del"))
			step_del(&w, step, host);
		else if (!strcmp(what, "file"))
			step_file(&w, step, host);
		else if (!strcmp(what, "atomic"))
			step_atomic(&w, step, host);
		else if (!strcmp(what, "bad_credentials"))
			conf_creds(c, step, "put", put_one, host);
		else if (!strcmp(what, "probe_bad_credentials"))
			conf_creds(c, step, "probe", NULL, NULL);
		else if (!strcmp(what, "probe"))
			conf_probe(c, w.p);
		else
			conf_point(c, false, "unknown step '%s'", what);
		free(host);
	}
	for (size_t k = 0; k < INODES_MAX; k++)
		free(w.inodes[k].key);
	sts_plugin_close(w.p);
}
