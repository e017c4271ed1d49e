/* SPDX-License-Identifier: MIT */
/*
 * zonefile: RFC 1035 zone files on the local file system, one file per
 * zone (DIR/<zone>.zone by default). Only the rrsets named in a change are
 * touched; every other byte stays as it was, except the SOA serial, which
 * is bumped in a file that has an SOA. A missing file is an error unless
 * the provider says "create": true; then it is created as a fragment
 * holding only stsctl's records, for the real zone file to $INCLUDE.
 * Files are replaced atomically (temp file, fsync, rename).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "zf.h"

#define ZONE_FILE_MAX (256u * 1024u * 1024u)
#define ZONE_NAME_MAX 253

struct zonefile {
	char *dir;
	char *file; /* template with {zone} */
	enum zf_serial serial;
	bool create; /* "create": a missing zone file is made (a fragment) */
};

static const struct sts_plugin_setting *const zonefile_schema[] = {
    STS_SETTING(.key = "directory", .type = STS_SETTING_PATH, .required = true,
		.description = "directory holding one file per zone"),
    STS_SETTING(.key = "file", .type = STS_SETTING_STRING, .def = "{zone}.zone",
		.description = "file name inside the directory; {zone} is the zone apex",
		.pattern = "[^/{}]*[{]zone[}][^/{}]*",
		.pattern_hint = "a plain file name containing '{zone}' once"),
    STS_SETTING(.key = "serial", .type = STS_SETTING_STRING, .def = "date",
		.description = "SOA serial scheme: date (YYYYMMDDnn) or increment (+1)",
		.choices = (const char *const[]){"date", "increment", NULL}),
    STS_SETTING(.key = "create", .type = STS_SETTING_BOOL, .def = "false",
		.description = "create a zone file that does not exist, as a fragment to "
			       "$INCLUDE; without it a missing file is an error"),
    NULL,
};

static void zonefile_unload(struct sts_plugin *p)
{
	struct zonefile *zf = sts_plugin_ctx_get(p);
	if (zf) {
		free(zf->dir);
		free(zf->file);
	}
	free(zf);
	sts_plugin_ctx_set(p, NULL);
}

static int zonefile_load(struct sts_plugin *p, const json_t *settings, struct sts_plugin_call *call)
{
	struct zonefile *zf = sts_plugin_ctx_new(p, sizeof(*zf));
	if (!zf)
		return STS_PLUGIN_ENOMEM;
	zf->dir = strdup(json_string_value(json_object_get(settings, "directory")));
	zf->file = strdup(json_string_value(json_object_get(settings, "file")));
	const char *serial = json_string_value(json_object_get(settings, "serial"));
	zf->serial = strcmp(serial, "increment") == 0 ? ZF_SERIAL_INCREMENT : ZF_SERIAL_DATE;
	zf->create = json_is_true(json_object_get(settings, "create"));
	if (!zf->dir || !zf->file) {
		zonefile_unload(p);
		return STS_PLUGIN_ENOMEM;
	}
	/* a missing directory is made by the first apply (mode 0755) */
	struct stat st;
	if (stat(zf->dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
		sts_plugin_error(call, "'%s' is not a directory", zf->dir);
		zonefile_unload(p);
		return STS_PLUGIN_EINVAL;
	}
	return STS_PLUGIN_OK;
}

/* Path of the zone's file; the zone is a DNS name, never a path. */
static int zone_path(struct sts_plugin *p, const char *zone, char **ret, char **ret_apex,
		     struct sts_plugin_call *call)
{
	const struct zonefile *zf = sts_plugin_ctx_get(p);
	size_t n = strlen(zone);
	if (n && zone[n - 1] == '.')
		n--;
	bool ok = n > 0 && n <= ZONE_NAME_MAX && zone[0] != '.';
	for (size_t i = 0; ok && i < n; i++) {
		char c = zone[i];
		ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		     c == '-' || c == '_' || (c == '.' && zone[i + 1] != '.');
	}
	if (!ok) {
		sts_plugin_error(call, "invalid zone name '%s'", zone);
		return STS_PLUGIN_EINVAL;
	}
	char *apex = strndup(zone, n);
	if (!apex)
		return STS_PLUGIN_ENOMEM;
	for (char *s = apex; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s + 32);
	const char *t = strstr(zf->file, "{zone}");
	if (asprintf(ret, "%s/%.*s%s%s", zf->dir, (int)(t - zf->file), zf->file, apex, t + 6) < 0) {
		*ret = NULL;
		free(apex);
		return STS_PLUGIN_ENOMEM;
	}
	*ret_apex = apex;
	return STS_PLUGIN_OK;
}

/* Whole file into a NUL-terminated malloc'd string; STS_PLUGIN_ENOENT if missing. */
static int slurp(const char *path, char **ret, size_t *ret_len, mode_t *ret_mode,
		 struct sts_plugin_call *call)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			sts_plugin_error(call, "cannot open '%s': %s", path, strerror(errno));
		return -errno;
	}
	struct zf_str s = {0};
	struct stat st;
	int r = fstat(fd, &st) < 0 ? -errno : STS_PLUGIN_OK;
	char buf[65536];
	while (r == STS_PLUGIN_OK) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			break;
		}
		if (n == 0)
			break;
		if (s.n + (size_t)n > ZONE_FILE_MAX) {
			sts_plugin_error(call, "'%s' is larger than %u bytes", path, ZONE_FILE_MAX);
			r = STS_PLUGIN_ETOOLARGE;
			break;
		}
		r = zf_str_add(&s, buf, (size_t)n);
	}
	close(fd);
	if (r == STS_PLUGIN_OK && !s.p)
		r = zf_str_add(&s, "", 0);
	if (r < 0) {
		if (r != STS_PLUGIN_ETOOLARGE)
			sts_plugin_error(call, "cannot read '%s': %s", path, strerror(-r));
		zf_str_release(&s);
		return r;
	}
	*ret = s.p;
	*ret_len = s.n;
	*ret_mode = st.st_mode & 07777;
	return STS_PLUGIN_OK;
}

static int parse(struct sts_plugin *p, const char *path, const char *text, size_t len,
		 const char *apex, struct zf_zone *ret, struct sts_plugin_call *call)
{
	unsigned line = 0;
	const char *why = NULL;
	int r = zf_parse(text, len, apex, ret, &line, &why);
	if (r == STS_PLUGIN_EPARSE)
		sts_plugin_error(call, "'%s' line %u: %s", path, line, why);
	else if (r == STS_PLUGIN_OK && ret->has_include)
		sts_plugin_log(p, STS_PLOG_DEBUG,
			       "'%s' uses $INCLUDE: records in included files are not read", path);
	return r;
}

/* A zone file that does not exist: made only with "create": true (else the
 * zone's real file may be under another name, and a fragment without SOA
 * would be written beside it unnoticed). */
static bool missing_ok(struct sts_plugin *p, const char *path, struct sts_plugin_call *call)
{
	const struct zonefile *zf = sts_plugin_ctx_get(p);
	if (!zf->create)
		sts_plugin_error(
		    call,
		    "zone file '%s' does not exist: create it, or set \"create\": true "
		    "on the provider to let stsctl create it",
		    path);
	return zf->create;
}

/* The zone's file path, apex and text (zone_path, slurp): STS_PLUGIN_ENOENT
 * when the file does not exist but may be created (missing_ok), EINVALID
 * when it may not. What is set is the caller's to free, on failure too. */
static int load_zone(struct sts_plugin *p, const char *zone, char **path, char **apex, char **text,
		     size_t *len, mode_t *mode, struct sts_plugin_call *call)
{
	int r = zone_path(p, zone, path, apex, call);
	if (r < 0)
		return r;
	r = slurp(*path, text, len, mode, call);
	if (r == STS_PLUGIN_ENOENT && !missing_ok(p, *path, call))
		r = STS_PLUGIN_EINVALID;
	return r;
}

static int zonefile_read(struct sts_plugin *p, const char *zone, const char *const *names, size_t n,
			 struct sts_rrsets *ret, struct sts_plugin_call *call)
{
	char *path = NULL, *apex = NULL, *text = NULL;
	size_t len = 0;
	mode_t mode;
	struct zf_zone z = {0};
	int r = load_zone(p, zone, &path, &apex, &text, &len, &mode, call);
	if (r == STS_PLUGIN_ENOENT) {
		r = STS_PLUGIN_OK; /* no file yet: an empty fragment, created by apply() */
		goto out;
	}
	if (r < 0 || (r = parse(p, path, text, len, apex, &z, call)) < 0)
		goto out;
	for (size_t i = 0; i < z.n; i++) {
		const struct zf_entry *e = &z.e[i];
		bool wanted = false;
		for (size_t k = 0; e->kind == ZF_RECORD && k < n && !wanted; k++)
			wanted = zf_name_eq(e->owner, names[k]);
		if (!wanted)
			continue;
		struct sts_rrset *rr = sts_plugin_rrset_find(p, ret, e->owner, e->type);
		if (!rr)
			rr = sts_plugin_rrset_add(p, ret, e->owner, e->type, e->ttl);
		if (!rr || sts_plugin_rrset_add_value(p, rr, e->value, strlen(e->value)) < 0) {
			r = STS_PLUGIN_ENOMEM;
			goto out;
		}
	}
out:
	zf_zone_release(&z);
	free(text);
	free(path);
	free(apex);
	return r;
}

static int zonefile_apply(struct sts_plugin *p, const char *zone,
			  const struct sts_rrset_change *const *changes, size_t n,
			  struct sts_plugin_call *call)
{
	const struct zonefile *zf = sts_plugin_ctx_get(p);
	char *path = NULL, *apex = NULL, *text = NULL;
	size_t len = 0;
	mode_t mode = 0644;
	struct zf_zone z = {0}, check = {0};
	struct zf_str out = {0};
	char err[512] = "";
	bool changed = false;
	int r = load_zone(p, zone, &path, &apex, &text, &len, &mode, call);
	if (r == STS_PLUGIN_ENOENT) {
		mode = 0644;
		if (asprintf(&text,
			     "; stsctl: MTA-STS and TLS-RPT records of zone %s.\n"
			     "; A fragment: $INCLUDE it from the zone's master file.\n",
			     apex) < 0) {
			text = NULL;
			r = STS_PLUGIN_ENOMEM;
			goto out;
		}
		len = strlen(text);
		r = STS_PLUGIN_OK;
	}
	if (r < 0 || (r = parse(p, path, text, len, apex, &z, call)) < 0)
		goto out;
	r = zf_edit(p, &z, apex, changes, n, zf->serial, time(NULL), &out, &changed, err,
		    sizeof(err));
	if (r < 0) {
		sts_plugin_error(call, "'%s': %s", path, err);
		goto out;
	}
	if (!changed)
		goto out;
	/* never write what we could not read back */
	if (parse(p, path, out.p, out.n, apex, &check, call) < 0) {
		sts_plugin_error(call, "'%s': the edited zone does not parse (a bug)", path);
		r = STS_PLUGIN_EPROVIDER;
		goto out;
	}
	r = sts_plugin_write_atomic(p, path, out.p, out.n, (unsigned)mode);
	if (r < 0) {
		sts_plugin_error(call, "cannot write '%s': %s", path, strerror(-r));
		goto out;
	}
	sts_plugin_log(p, STS_PLOG_DEBUG, "'%s': %zu changes written", path, n);
out:
	zf_zone_release(&check);
	zf_zone_release(&z);
	zf_str_release(&out);
	free(text);
	free(path);
	free(apex);
	return r;
}

static void zonefile_caps(struct sts_plugin *p, struct sts_dns_caps *ret)
{
	ret->batch = true;	  /* one file write per zone */
	ret->max_concurrency = 8; /* zones are separate files */
}

/* The zones are the files of the directory that fit the file template. */
static int zonefile_zones(struct sts_plugin *p, struct sts_zone_list *ret,
			  struct sts_plugin_call *call)
{
	const struct zonefile *zf = sts_plugin_ctx_get(p);
	const char *t = strstr(zf->file, "{zone}");
	size_t pre = (size_t)(t - zf->file), post = strlen(t + 6);
	DIR *d = opendir(zf->dir);
	if (!d) {
		if (errno == ENOENT)
			return STS_PLUGIN_OK; /* no zone yet */
		sts_plugin_error(call, "cannot list '%s': %s", zf->dir, strerror(errno));
		return STS_PLUGIN_EIO;
	}
	int r = STS_PLUGIN_OK;
	struct dirent *e;
	while (r == STS_PLUGIN_OK && (e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n <= pre + post || strncmp(e->d_name, zf->file, pre) != 0 ||
		    strcmp(e->d_name + n - post, t + 6) != 0 || e->d_name[pre] == '.')
			continue;
		char zone[ZONE_NAME_MAX + 1];
		size_t zn = n - pre - post;
		if (zn > ZONE_NAME_MAX)
			continue;
		memcpy(zone, e->d_name + pre, zn);
		zone[zn] = '\0';
		r = sts_plugin_zone_add(p, ret, zone);
		if (r == STS_PLUGIN_EINVAL)
			r = STS_PLUGIN_OK; /* not a zone's file */
	}
	closedir(d);
	return r;
}

/* The directory must be writable (or, missing, its parent: apply makes it). */
static int zonefile_probe(struct sts_plugin *p, struct sts_plugin_call *call)
{
	const struct zonefile *zf = sts_plugin_ctx_get(p);
	if (access(zf->dir, W_OK | X_OK) == 0)
		return STS_PLUGIN_OK;
	if (errno == ENOENT) {
		char *parent = strdup(zf->dir);
		char *slash = parent ? strrchr(parent, '/') : NULL;
		if (!parent)
			return STS_PLUGIN_ENOMEM;
		if (slash)
			*(slash == parent ? slash + 1 : slash) = '\0';
		bool ok = slash && access(parent, W_OK | X_OK) == 0;
		free(parent);
		if (ok)
			return STS_PLUGIN_OK;
	}
	sts_plugin_error(call, "directory '%s' is not writable: %s", zf->dir, strerror(errno));
	return STS_PLUGIN_EACCES;
}

STS_PLUGIN_DNS_OPS(zonefile_ops, zonefile_read, zonefile_apply, zonefile_caps, zonefile_zones);

STS_PLUGIN_API(zonefile, STS_PLUGIN_DNS, .description = "RFC 1035 zone files or fragments",
	       .capabilities = STS_PLUGIN_CAP_BATCH, .schema = zonefile_schema,
	       .load = zonefile_load, .unload = zonefile_unload, .probe = zonefile_probe,
	       .dns = &zonefile_ops);
