/* SPDX-License-Identifier: MIT */
/*
 * sftp: policy files on a remote web host over SFTP (libssh2).
 *   root "/var/www/{host}" -> /var/www/mta-sts.example.com/.well-known/mta-sts.txt
 *   root "/var/www"        -> the same ({host} is appended when absent)
 * One SSH connection per provider, opened at the first operation, reused
 * for every domain, reopened once when it broke; strict host key checking
 * against the known_hosts file of the settings; writes are atomic (temp
 * file, then posix-rename) with files 0644 and directories 0755.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sftp.h"

#define WELL_KNOWN  ".well-known"
#define POLICY_FILE "mta-sts.txt"
#define ROOT_MAX    (SFTP_PATH_MAX - SFTP_HOST_MAX - 128)

static const struct sts_plugin_setting *const sftp_schema[] = {
    STS_SETTING(.key = "host", .type = STS_SETTING_STRING, .required = true,
		.description = "SSH server: a name or an address"),
    STS_SETTING(.key = "port", .type = STS_SETTING_INTEGER, .def = "22", .description = "SSH port",
		.range = true, .min = 1, .max = 65535),
    STS_SETTING(.key = "user", .type = STS_SETTING_STRING, .required = true,
		.description = "login name on the server"),
    STS_SETTING(.key = "key_file", .type = STS_SETTING_PATH,
		.description = "private key (ed25519 or ECDSA; RSA only where the server accepts "
			       "ssh-rsa); without it, the keys of the SSH agent"),
    STS_SETTING(.key = "passphrase", .type = STS_SETTING_SECRET,
		.description = "passphrase of key_file"),
    STS_SETTING(.key = "known_hosts", .type = STS_SETTING_PATH, .required = true,
		.description = "known_hosts file with the server's host key (no trust on first "
			       "use)"),
    STS_SETTING(.key = "root", .type = STS_SETTING_STRING, .required = true,
		.description = "web root per policy host on the server: a directory "
			       "(ROOT/{host}) or a template with {host}"),
    STS_SETTING(.key = "timeout", .type = STS_SETTING_INTEGER, .def = "30",
		.description = "seconds for connecting and for each SSH or SFTP step (1 to 600)",
		.range = true, .min = 1, .max = 600),
    STS_SETTING(.key = "keepalive", .type = STS_SETTING_INTEGER, .def = "30",
		.description = "SSH keepalive after this many idle seconds; 0 = off (0 to 3600)",
		.range = true, .min = 0, .max = 3600),
    NULL,
};

static pthread_mutex_t lib_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned lib_refs;

static json_int_t int_of(const json_t *settings, const char *key)
{
	return json_integer_value(json_object_get(settings, key));
}

static const char *str_of(const json_t *settings, const char *key)
{
	return json_string_value(json_object_get(settings, key));
}

static bool printable(const char *v, const char *extra_bad)
{
	for (const unsigned char *c = (const unsigned char *)v; *c; c++)
		if (*c <= ' ' || *c == 0x7f || strchr(extra_bad, *c))
			return false;
	return true;
}

static int bad(struct sts_plugin_check *args, const char *key, const char *why)
{
	args->key = key;
	args->err_str = why;
	return STS_PLUGIN_EINVALID;
}

static bool has_dotdot(const char *root)
{
	size_t n = strlen(root);
	return strstr(root, "/../") || strncmp(root, "../", 3) == 0 || strcmp(root, "..") == 0 ||
	       (n >= 3 && strcmp(root + n - 3, "/..") == 0);
}

static int sftp_check(const json_t *settings, struct sts_plugin_check *args)
{
	const char *host = str_of(settings, "host"), *user = str_of(settings, "user");
	const char *root = str_of(settings, "root");
	if (!host || !*host || strlen(host) > SFTP_HOST_MAX || !printable(host, "/@\\\"'"))
		return bad(args, "host", "not a host name or address");
	if (!user || !*user || strlen(user) > 256 || !printable(user, ":/\\\"'"))
		return bad(args, "user", "not a user name");
	if (!root || !*root || strlen(root) > ROOT_MAX || !printable(root, "\\"))
		return bad(args, "root", "not a path (no blanks or control characters)");
	const char *brace = strchr(root, '{'), *t = strstr(root, "{host}");
	if (brace && (brace != t || strchr(t + 6, '{')))
		return bad(args, "root",
			   "the root template may hold '{host}' once and no other placeholder");
	if (has_dotdot(root))
		return bad(args, "root", "the root must not contain '..'");
	if (json_object_get(settings, "passphrase") && !json_object_get(settings, "key_file"))
		return bad(args, "passphrase", "a passphrase needs 'key_file'");
	return STS_PLUGIN_OK;
}

static void sftp_free(struct sftp *s)
{
	if (!s)
		return;
	free(s->c.host);
	free(s->c.user);
	free(s->c.key_file);
	free(s->c.passphrase_ref);
	free(s->c.known_hosts);
	free(s->c.root);
	free(s->name);
	free(s->kh_name);
	free(s->sticky_msg);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

static char *dup_or_null(const char *v, bool *oom)
{
	char *d = v ? strdup(v) : NULL;
	if (v && !d)
		*oom = true;
	return d;
}

/* libssh2 is initialised by the first instance loaded, left by the last unloaded. */
static int lib_ref(void)
{
	pthread_mutex_lock(&lib_mu);
	int rc = lib_refs++ == 0 ? libssh2_init(0) : 0;
	if (rc != 0)
		lib_refs--;
	pthread_mutex_unlock(&lib_mu);
	return rc;
}

static void lib_unref(void)
{
	pthread_mutex_lock(&lib_mu);
	if (lib_refs > 0 && --lib_refs == 0)
		libssh2_exit();
	pthread_mutex_unlock(&lib_mu);
}

static void sftp_unload(struct sts_plugin *p)
{
	struct sftp *s = sts_plugin_ctx_get(p);
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	if (s->k.ss)
		sftp_conn_close(s, true);
	pthread_mutex_unlock(&s->mu);
	sftp_free(s);
	sts_plugin_ctx_set(p, NULL);
	lib_unref();
}

static int sftp_load(struct sts_plugin *p, const json_t *settings, struct sts_plugin_call *call)
{
	int rc = lib_ref();
	if (rc != 0) {
		sts_plugin_error(call, "cannot initialise libssh2 (%d)", rc);
		return STS_PLUGIN_EPROVIDER;
	}
	struct sftp *s = sts_plugin_ctx_new(p, sizeof(*s));
	bool oom = false;
	if (!s) {
		lib_unref();
		return STS_PLUGIN_ENOMEM;
	}
	pthread_mutex_init(&s->mu, NULL);
	s->k.sock = -1;
	s->c.host = dup_or_null(str_of(settings, "host"), &oom);
	s->c.port = (unsigned)int_of(settings, "port");
	s->c.user = dup_or_null(str_of(settings, "user"), &oom);
	s->c.key_file = dup_or_null(str_of(settings, "key_file"), &oom);
	s->c.passphrase_ref = dup_or_null(str_of(settings, "passphrase"), &oom);
	s->c.known_hosts = dup_or_null(str_of(settings, "known_hosts"), &oom);
	s->c.timeout_ms = (long)int_of(settings, "timeout") * 1000;
	s->c.keepalive_s = (long)int_of(settings, "keepalive");
#ifdef STS_TEST_HOOKS
	/* test-only: behave as against a server without posix-rename */
	const char *e = getenv("STSCTL_TEST_SFTP_NO_POSIX_RENAME");
	s->c.no_posix_rename = e && strcmp(e, "1") == 0;
#endif
	const char *root = str_of(settings, "root");
	size_t n = strlen(root);
	while (n > 1 && root[n - 1] == '/')
		n--;
	if (oom ||
	    (strstr(root, "{host}") ? asprintf(&s->c.root, "%.*s", (int)n, root)
				    : asprintf(&s->c.root, "%.*s/{host}", (int)n, root)) < 0) {
		s->c.root = NULL;
		sftp_unload(p);
		return STS_PLUGIN_ENOMEM;
	}
	for (char *c = s->c.host; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	bool v6 = strchr(s->c.host, ':') != NULL;
	/* asprintf leaves its pointer undefined when it fails: NULL it, as
	 * sftp_unload frees both */
	if (asprintf(&s->name, v6 ? "[%s]:%u" : "%s:%u", s->c.host, s->c.port) < 0)
		s->name = NULL;
	else if ((s->c.port == 22 ? asprintf(&s->kh_name, "%s", s->c.host)
				  : asprintf(&s->kh_name, "[%s]:%u", s->c.host, s->c.port)) < 0)
		s->kh_name = NULL;
	if (!s->name || !s->kh_name) {
		sftp_unload(p);
		return STS_PLUGIN_ENOMEM;
	}
	return STS_PLUGIN_OK;
}

/* The policy host is a DNS name (lower case): nothing in it may leave the root. */
static bool host_ok(const char *h)
{
	static const char dns[] = "abcdefghijklmnopqrstuvwxyz0123456789-._";
	size_t n = strlen(h);
	return n > 0 && n <= SFTP_HOST_MAX && strspn(h, dns) == n && !strstr(h, "..") &&
	       h[0] != '.' && h[0] != '-' && h[n - 1] != '.';
}

/* ROOT(host)/.well-known/mta-sts.txt */
static int policy_path(struct sts_plugin *p, struct sts_plugin_call *call, const struct sftp *s,
		       const char *host, char **ret)
{
	*ret = NULL;
	if (!host_ok(host)) {
		sts_plugin_error(call, "invalid policy host '%s'", host);
		return STS_PLUGIN_EINVAL;
	}
	const char *t = strstr(s->c.root, "{host}");
	if (asprintf(ret, "%.*s%s%s/" WELL_KNOWN "/" POLICY_FILE, (int)(t - s->c.root), s->c.root,
		     host, t + 6) < 0) {
		*ret = NULL;
		return STS_PLUGIN_ENOMEM;
	}
	return STS_PLUGIN_OK;
}

enum op_kind { OP_GET, OP_PUT, OP_DEL, OP_STAT };

struct op {
	enum op_kind kind;
	const char *path;
	struct sts_buf *buf; /* get */
	const void *data;    /* put */
	size_t len;
};

/*
 * Run one operation on the connection (opened when needed). When a
 * reused connection turns out to be broken, it is reopened and the
 * operation repeated once: get, put (a temp file and a rename) and delete
 * can all be repeated safely.
 */
static int run(struct sts_plugin *p, struct sts_plugin_call *call, struct sftp *s,
	       const struct op *o)
{
	int r = STS_PLUGIN_OK;
	size_t start = o->buf ? sts_plugin_buf_len(p, o->buf) : 0;
	pthread_mutex_lock(&s->mu);
	for (int attempt = 0; attempt < 2; attempt++) {
		bool fresh = false;
		time_t now = time(NULL);
		if (s->k.ss && s->c.keepalive_s > 0 && now - s->k.last_use >= s->c.keepalive_s) {
			int next = 0;
			if (libssh2_keepalive_send(s->k.ss, &next) != 0) {
				sts_plugin_log(p, STS_PLOG_DEBUG, "keepalive to '%s' failed",
					       s->name);
				sftp_conn_close(s, false);
			} else {
				sts_plugin_log(p, STS_PLOG_DEBUG,
					       "keepalive to '%s' after %lld s idle", s->name,
					       (long long)(now - s->k.last_use));
			}
		}
		if (!s->k.ss) {
			if ((r = sftp_conn_open(p, call, s)) < 0)
				break;
			fresh = true;
		}
		enum sftp_fail how = SFTP_FAIL_NONE;
		switch (o->kind) {
		case OP_GET:
			r = sftp_file_get(p, call, s, o->path, o->buf, &how);
			break;
		case OP_PUT:
			r = sftp_file_put(p, call, s, o->path, o->data, o->len, &how);
			break;
		case OP_DEL:
			r = sftp_file_del(p, call, s, o->path, &how);
			break;
		case OP_STAT:
			r = sftp_file_stat_dir(p, call, s, o->path, &how);
			break;
		}
		s->k.last_use = time(NULL);
		if (r >= 0 || how != SFTP_FAIL_TRANSPORT)
			break;
		sftp_conn_close(s, false);
		if (fresh)
			break;
		if (o->buf)
			sts_plugin_buf_truncate(p, o->buf, start);
		sts_plugin_log(p, STS_PLOG_INFO, "connection to '%s' broke, reconnecting once",
			       s->name);
	}
	pthread_mutex_unlock(&s->mu);
	return r;
}

static int sftp_get(struct sts_plugin *p, const char *host, struct sts_buf *ret,
		    struct sts_plugin_call *call)
{
	struct sftp *s = sts_plugin_ctx_get(p);
	char *path;
	int r = policy_path(p, call, s, host, &path);
	if (r == STS_PLUGIN_OK)
		r = run(p, call, s, &(struct op){.kind = OP_GET, .path = path, .buf = ret});
	free(path);
	return r;
}

static int sftp_put(struct sts_plugin *p, const char *host, const void *data, size_t len,
		    struct sts_plugin_call *call)
{
	struct sftp *s = sts_plugin_ctx_get(p);
	char *path;
	int r = policy_path(p, call, s, host, &path);
	if (r == STS_PLUGIN_OK)
		r = run(p, call, s,
			&(struct op){.kind = OP_PUT, .path = path, .data = data, .len = len});
	free(path);
	return r;
}

static int sftp_del(struct sts_plugin *p, const char *host, struct sts_plugin_call *call)
{
	struct sftp *s = sts_plugin_ctx_get(p);
	char *path;
	int r = policy_path(p, call, s, host, &path);
	if (r == STS_PLUGIN_OK)
		r = run(p, call, s, &(struct op){.kind = OP_DEL, .path = path});
	free(path);
	return r;
}

/* Connect (host key, login) and stat the fixed directory above {host}. */
static int sftp_probe(struct sts_plugin *p, struct sts_plugin_call *call)
{
	struct sftp *s = sts_plugin_ctx_get(p);
	const char *t = strstr(s->c.root, "{host}");
	size_t n = (size_t)(t - s->c.root);
	while (n > 0 && s->c.root[n - 1] != '/')
		n--;
	char *dir = n ? strndup(s->c.root, n > 1 ? n - 1 : n) : strdup(".");
	if (!dir)
		return STS_PLUGIN_ENOMEM;
	int r = run(p, call, s, &(struct op){.kind = OP_STAT, .path = dir});
	free(dir);
	return r;
}

static void sftp_caps(struct sts_plugin *p, struct sts_web_caps *ret)
{
	ret->verify_https = true; /* a remote web host: fetch what senders fetch */
	ret->max_concurrency = 1; /* one connection, one operation at a time */
}

STS_PLUGIN_WEB_OPS(sftp_ops, sftp_get, sftp_put, sftp_del, sftp_caps);

STS_PLUGIN_API(sftp, STS_PLUGIN_WEB,
	       .description = "policy files on a remote web host over SFTP (libssh2)",
	       .capabilities = STS_PLUGIN_CAP_CREDENTIALS, .schema = sftp_schema,
	       .check = sftp_check, .load = sftp_load, .unload = sftp_unload, .probe = sftp_probe,
	       .web = &sftp_ops);
