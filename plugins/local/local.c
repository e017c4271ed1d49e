/* SPDX-License-Identifier: MIT */
/*
 * local: a web root per policy host on the local file system.
 *   root "/srv/www/{host}"  ->  /srv/www/mta-sts.example.com/.well-known/mta-sts.txt
 *   root "/srv/www"         ->  the same ({host} is appended when absent)
 * Files are written atomically (temp file, fsync, rename, fsync of the
 * directory) with mode 0644; directories are created with mode 0755.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stsctl/plugin.h>

#define HOST_MAX    253
#define WELL_KNOWN  ".well-known"
#define POLICY_FILE "mta-sts.txt"

struct local {
	char *root; /* template with exactly one {host} */
};

static const struct sts_plugin_setting *const local_schema[] = {
    STS_SETTING(.key = "root", .type = STS_SETTING_PATH, .required = true,
		.description = "web root per policy host: a directory (ROOT/{host}) or a "
			       "template with {host}"),
    NULL,
};

static int local_check(const json_t *settings, struct sts_plugin_check *args)
{
	const char *root = json_string_value(json_object_get(settings, "root"));
	const char *brace = root ? strchr(root, '{') : NULL;
	const char *t = root ? strstr(root, "{host}") : NULL;
	if (brace && (brace != t || strchr(t + 6, '{'))) {
		args->key = "root";
		args->err_str = "the root template may hold '{host}' once and no other placeholder";
		return STS_PLUGIN_EINVALID;
	}
	return STS_PLUGIN_OK;
}

static void local_unload(struct sts_plugin *p)
{
	struct local *l = sts_plugin_ctx_get(p);
	if (l)
		free(l->root);
	free(l);
	sts_plugin_ctx_set(p, NULL);
}

static int local_load(struct sts_plugin *p, const json_t *settings, struct sts_plugin_call *call)
{
	const char *root = json_string_value(json_object_get(settings, "root"));
	struct local *l = sts_plugin_ctx_new(p, sizeof(*l));
	if (!l)
		return STS_PLUGIN_ENOMEM;
	size_t n = strlen(root);
	while (n > 1 && root[n - 1] == '/')
		n--;
	int rc = strstr(root, "{host}") ? asprintf(&l->root, "%.*s", (int)n, root)
					: asprintf(&l->root, "%.*s/{host}", (int)n, root);
	if (rc < 0) {
		l->root = NULL;
		local_unload(p);
		return STS_PLUGIN_ENOMEM;
	}
	return STS_PLUGIN_OK;
}

/* A policy host is a DNS name: refuse anything that could escape the root. */
static bool host_ok(const char *h)
{
	size_t n = strlen(h);
	if (n == 0 || n > HOST_MAX || h[0] == '.' || h[0] == '-' || h[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		      c == '_'))
			return false;
		if (c == '.' && h[i + 1] == '.')
			return false;
	}
	return true;
}

/* dir = the host's web root; file = dir/.well-known/mta-sts.txt */
static int paths(struct sts_plugin *p, const char *host, char **dir, char **wk, char **file,
		 struct sts_plugin_call *call)
{
	const struct local *l = sts_plugin_ctx_get(p);
	*dir = *wk = *file = NULL;
	if (!host_ok(host)) {
		sts_plugin_error(call, "invalid policy host '%s'", host);
		return STS_PLUGIN_EINVAL;
	}
	const char *t = strstr(l->root, "{host}");
	if (asprintf(dir, "%.*s%s%s", (int)(t - l->root), l->root, host, t + 6) < 0) {
		*dir = NULL;
		return STS_PLUGIN_ENOMEM;
	}
	if (asprintf(wk, "%s/" WELL_KNOWN, *dir) < 0) {
		*wk = NULL;
		return STS_PLUGIN_ENOMEM;
	}
	if (asprintf(file, "%s/" POLICY_FILE, *wk) < 0) {
		*file = NULL;
		return STS_PLUGIN_ENOMEM;
	}
	return STS_PLUGIN_OK;
}

static void free3(char *a, char *b, char *c)
{
	free(a);
	free(b);
	free(c);
}

static int local_get(struct sts_plugin *p, const char *host, struct sts_buf *ret,
		     struct sts_plugin_call *call)
{
	char *dir, *wk, *file;
	int r = paths(p, host, &dir, &wk, &file, call);
	int fd = -1;
	if (r < 0)
		goto out;
	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		r = -errno;
		if (r != STS_PLUGIN_ENOENT)
			sts_plugin_error(call, "cannot open '%s': %s", file, strerror(errno));
		goto out;
	}
	char buf[8192];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			sts_plugin_error(call, "cannot read '%s': %s", file, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if ((r = sts_plugin_buf_append(p, ret, buf, (size_t)n)) < 0) {
			sts_plugin_error(call, "'%s' is too large", file);
			goto out;
		}
	}
	r = STS_PLUGIN_OK;
out:
	if (fd >= 0)
		close(fd);
	free3(dir, wk, file);
	return r;
}

static int local_put(struct sts_plugin *p, const char *host, const void *data, size_t len,
		     struct sts_plugin_call *call)
{
	char *dir, *wk, *file;
	int r = paths(p, host, &dir, &wk, &file, call);
	if (r < 0)
		goto out;
	r = sts_plugin_write_atomic(p, file, data, len, 0644);
	if (r < 0)
		sts_plugin_error(call, "cannot write '%s': %s", file, strerror(-r));
	else
		sts_plugin_log(p, STS_PLOG_DEBUG, "wrote '%s' (%zu bytes)", file, len);
out:
	free3(dir, wk, file);
	return r;
}

static void fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

static int local_del(struct sts_plugin *p, const char *host, struct sts_plugin_call *call)
{
	char *dir, *wk, *file;
	int r = paths(p, host, &dir, &wk, &file, call);
	if (r < 0)
		goto out;
	if (unlink(file) < 0) {
		r = -errno;
		if (r != STS_PLUGIN_ENOENT)
			sts_plugin_error(call, "cannot remove '%s': %s", file, strerror(errno));
		goto out;
	}
	fsync_dir(wk);
	/* an empty .well-known is ours to remove; anything else in it stays */
	if (rmdir(wk) == 0)
		fsync_dir(dir);
	sts_plugin_log(p, STS_PLOG_DEBUG, "removed '%s'", file);
	r = STS_PLUGIN_OK;
out:
	free3(dir, wk, file);
	return r;
}

/* The fixed directory above every host's root (what the template starts
 * with, up to the last '/' before {host}) must exist and be writable. */
static int local_probe(struct sts_plugin *p, struct sts_plugin_call *call)
{
	const struct local *l = sts_plugin_ctx_get(p);
	const char *t = strstr(l->root, "{host}");
	size_t n = (size_t)(t - l->root);
	while (n > 0 && l->root[n - 1] != '/')
		n--;
	char *dir = strndup(l->root, n > 1 ? n - 1 : n);
	if (!dir)
		return STS_PLUGIN_ENOMEM;
	int r = STS_PLUGIN_OK;
	if (access(dir, W_OK | X_OK) < 0) {
		r = errno == ENOENT ? STS_PLUGIN_ENOENT : STS_PLUGIN_EACCES;
		sts_plugin_error(call, "directory '%s' is not writable: %s", dir, strerror(errno));
	}
	free(dir);
	return r;
}

static void local_caps(struct sts_plugin *p, struct sts_web_caps *ret)
{
	ret->verify_https = false; /* a directory: whether it is served is not ours to know */
	ret->max_concurrency = 8;
}

STS_PLUGIN_WEB_OPS(local_ops, local_get, local_put, local_del, local_caps);

STS_PLUGIN_API(local, STS_PLUGIN_WEB, .description = "policy files in a local web root per host",
	       .capabilities = 0, .schema = local_schema, .check = local_check, .load = local_load,
	       .unload = local_unload, .probe = local_probe, .web = &local_ops);
