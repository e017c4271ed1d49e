/* SPDX-License-Identifier: MIT */
/*
 * zonefile: RFC 1035 zone files on the local file system, one file per
 * zone (DIR/<zone>.zone by default). Only the rrsets named in a change are
 * touched; every other byte stays as it was, except the SOA serial, which
 * is bumped in a file that has an SOA. A missing file is created as a
 * fragment holding only stsctl's records, for the real zone file to
 * $INCLUDE. Files are replaced atomically (temp file, fsync, rename).
 */
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
};

static const struct sts_plugin_setting zonefile_schema[] = {
    {"directory", STS_SETTING_PATH, true, NULL, "directory holding one file per zone"},
    {"file", STS_SETTING_STRING, false, "{zone}.zone",
     "file name inside the directory; {zone} is the zone apex"},
    {"serial", STS_SETTING_STRING, false, "date",
     "SOA serial scheme: date (YYYYMMDDnn) or increment (+1)"},
    {NULL, 0, false, NULL, NULL},
};

static int zonefile_check(const json_t *settings, struct sts_plugin_check *args)
{
	const char *serial = json_string_value(json_object_get(settings, "serial"));
	const char *file = json_string_value(json_object_get(settings, "file"));
	if (serial && strcmp(serial, "date") != 0 && strcmp(serial, "increment") != 0) {
		args->key = "serial";
		args->err_str = "serial must be 'date' or 'increment'";
		return STS_EINVALID;
	}
	if (file && (strchr(file, '/') || !strstr(file, "{zone}"))) {
		args->key = "file";
		args->err_str = "file must be a plain file name containing '{zone}'";
		return STS_EINVALID;
	}
	return STS_OK;
}

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

static int zonefile_load(struct sts_plugin *p, const json_t *settings)
{
	struct zonefile *zf = calloc(1, sizeof(*zf));
	if (!zf)
		return STS_ENOMEM;
	sts_plugin_ctx_set(p, zf);
	zf->dir = strdup(json_string_value(json_object_get(settings, "directory")));
	zf->file = strdup(json_string_value(json_object_get(settings, "file")));
	const char *serial = json_string_value(json_object_get(settings, "serial"));
	zf->serial = strcmp(serial, "increment") == 0 ? ZF_SERIAL_INCREMENT : ZF_SERIAL_DATE;
	if (!zf->dir || !zf->file) {
		zonefile_unload(p);
		return STS_ENOMEM;
	}
	/* a missing directory is made by the first apply (mode 0755) */
	struct stat st;
	if (stat(zf->dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
		sts_plugin_error(p, "'%s' is not a directory", zf->dir);
		zonefile_unload(p);
		return STS_EINVAL;
	}
	return STS_OK;
}

/* Path of the zone's file; the zone is a DNS name, never a path. */
static int zone_path(struct sts_plugin *p, const char *zone, char **ret, char **ret_apex)
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
		sts_plugin_error(p, "invalid zone name '%s'", zone);
		return STS_EINVAL;
	}
	char *apex = strndup(zone, n);
	if (!apex)
		return STS_ENOMEM;
	for (char *s = apex; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s + 32);
	const char *t = strstr(zf->file, "{zone}");
	if (asprintf(ret, "%s/%.*s%s%s", zf->dir, (int)(t - zf->file), zf->file, apex, t + 6) < 0) {
		free(apex);
		return STS_ENOMEM;
	}
	*ret_apex = apex;
	return STS_OK;
}

/* Whole file into a NUL-terminated malloc'd string; STS_ENOENT if missing. */
static int slurp(struct sts_plugin *p, const char *path, char **ret, size_t *ret_len,
		 mode_t *ret_mode)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			sts_plugin_error(p, "cannot open '%s': %s", path, strerror(errno));
		return -errno;
	}
	struct zf_str s = {0};
	struct stat st;
	int r = fstat(fd, &st) < 0 ? -errno : STS_OK;
	char buf[65536];
	while (r == STS_OK) {
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
			sts_plugin_error(p, "'%s' is larger than %u bytes", path, ZONE_FILE_MAX);
			r = STS_ETOOLARGE;
			break;
		}
		r = zf_str_add(&s, buf, (size_t)n);
	}
	close(fd);
	if (r == STS_OK && !s.p)
		r = zf_str_add(&s, "", 0);
	if (r < 0) {
		if (r != STS_ETOOLARGE)
			sts_plugin_error(p, "cannot read '%s': %s", path, strerror(-r));
		zf_str_release(&s);
		return r;
	}
	*ret = s.p;
	*ret_len = s.n;
	*ret_mode = st.st_mode & 07777;
	return STS_OK;
}

static int parse(struct sts_plugin *p, const char *path, const char *text, size_t len,
		 const char *apex, struct zf_zone *ret)
{
	unsigned line = 0;
	const char *why = NULL;
	int r = zf_parse(text, len, apex, ret, &line, &why);
	if (r == STS_EPARSE)
		sts_plugin_error(p, "'%s' line %u: %s", path, line, why);
	else if (r == STS_OK && ret->has_include)
		sts_plugin_log(p, STS_PLOG_DEBUG,
			       "'%s' uses $INCLUDE: records in included files are not read", path);
	return r;
}

static struct sts_rrset *find_rrset(struct sts_rrsets *l, size_t from, const char *name,
				    const char *type)
{
	for (size_t i = from; i < l->n; i++)
		if (zf_name_eq(l->v[i].name, name) && strcmp(l->v[i].type, type) == 0)
			return &l->v[i];
	return NULL;
}

static int zonefile_read(struct sts_plugin *p, const char *zone, const char *const *names, size_t n,
			 struct sts_rrsets *ret)
{
	char *path = NULL, *apex = NULL, *text = NULL;
	size_t len = 0;
	mode_t mode;
	struct zf_zone z = {0};
	size_t base = ret->n;
	int r = zone_path(p, zone, &path, &apex);
	if (r < 0)
		return r;
	r = slurp(p, path, &text, &len, &mode);
	if (r == STS_ENOENT) {
		r = STS_OK; /* no file yet: an empty fragment, created by apply() */
		goto out;
	}
	if (r < 0 || (r = parse(p, path, text, len, apex, &z)) < 0)
		goto out;
	for (size_t i = 0; i < z.n; i++) {
		const struct zf_entry *e = &z.e[i];
		bool wanted = false;
		for (size_t k = 0; e->kind == ZF_RECORD && k < n && !wanted; k++)
			wanted = zf_name_eq(e->owner, names[k]);
		if (!wanted)
			continue;
		struct sts_rrset *rr = find_rrset(ret, base, e->owner, e->type);
		if (!rr)
			rr = sts_plugin_rrset_add(p, ret, e->owner, e->type, e->ttl);
		if (!rr || sts_plugin_rrset_add_value(p, rr, e->value, strlen(e->value)) < 0) {
			r = STS_ENOMEM;
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
			  const struct sts_rrset_change *changes, size_t n)
{
	const struct zonefile *zf = sts_plugin_ctx_get(p);
	char *path = NULL, *apex = NULL, *text = NULL;
	size_t len = 0;
	mode_t mode = 0644;
	struct zf_zone z = {0}, check = {0};
	struct zf_str out = {0};
	char err[512] = "";
	bool changed = false;
	int r = zone_path(p, zone, &path, &apex);
	if (r < 0)
		return r;
	r = slurp(p, path, &text, &len, &mode);
	if (r == STS_ENOENT) {
		mode = 0644;
		if (asprintf(&text,
			     "; stsctl: MTA-STS and TLS-RPT records of zone %s.\n"
			     "; A fragment: $INCLUDE it from the zone's master file.\n",
			     apex) < 0) {
			text = NULL;
			r = STS_ENOMEM;
			goto out;
		}
		len = strlen(text);
		r = STS_OK;
	}
	if (r < 0 || (r = parse(p, path, text, len, apex, &z)) < 0)
		goto out;
	r = zf_edit(&z, apex, changes, n, zf->serial, time(NULL), &out, &changed, err, sizeof(err));
	if (r < 0) {
		sts_plugin_error(p, "'%s': %s", path, err);
		goto out;
	}
	if (!changed)
		goto out;
	/* never write what we could not read back */
	if (parse(p, path, out.p, out.n, apex, &check) < 0) {
		sts_plugin_error(p, "'%s': the edited zone does not parse (a bug)", path);
		r = STS_EPROVIDER;
		goto out;
	}
	r = sts_plugin_write_atomic(p, path, out.p, out.n, (unsigned)mode);
	if (r < 0) {
		sts_plugin_error(p, "cannot write '%s': %s", path, strerror(-r));
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

static const struct sts_dns_ops zonefile_ops = {
    .struct_size = sizeof(struct sts_dns_ops),
    .read = zonefile_read,
    .apply = zonefile_apply,
    .caps = zonefile_caps,
};

STS_PLUGIN_API(zonefile, STS_PLUGIN_DNS, .description = "RFC 1035 zone files or fragments",
	       .schema = zonefile_schema, .check = zonefile_check, .load = zonefile_load,
	       .unload = zonefile_unload, .dns = &zonefile_ops);
