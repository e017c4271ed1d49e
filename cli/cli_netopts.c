/* SPDX-License-Identifier: MIT */
/* What stsctl check and stsctl onboard share (cli_netopts.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_netopts.h"
#include "sts_buf.h"
#include "sts_err.h"

int cli_parse_seconds(const char *arg, long *ret_ms)
{
	char *end;
	errno = 0;
	double s = strtod(arg, &end);
	if (errno || end == arg || *end || !(s > 0) || s > 3600)
		return -1;
	*ret_ms = (long)(s * 1000.0 + 0.5);
	return *ret_ms > 0 ? 0 : -1;
}

/* IPv4[:PORT], IPv6, or [IPv6]:PORT */
static bool resolver_ok(const char *arg)
{
	char host[64];
	const char *port = NULL;
	unsigned char buf[16];
	unsigned long v;
	const char *colon = strchr(arg, ':');
	if (arg[0] == '[') {
		const char *end = strchr(arg, ']');
		if (!end || (size_t)(end - arg - 1) >= sizeof(host) || end[1] != ':')
			return false;
		snprintf(host, sizeof(host), "%.*s", (int)(end - arg - 1), arg + 1);
		port = end + 2;
	} else if (colon && colon == strrchr(arg, ':')) {
		if ((size_t)(colon - arg) >= sizeof(host))
			return false;
		snprintf(host, sizeof(host), "%.*s", (int)(colon - arg), arg);
		port = colon + 1;
	} else if (strlen(arg) < sizeof(host)) {
		snprintf(host, sizeof(host), "%s", arg);
	} else {
		return false;
	}
	if (inet_pton(AF_INET, host, buf) != 1 && inet_pton(AF_INET6, host, buf) != 1)
		return false;
	return !port || cli_parse_ulong(port, 1, 65535, &v) == 0;
}

int netopt_resolver(struct cli_ctx *ctx, void *field, const char *value)
{
	if (!resolver_ok(value))
		return cli_usage_error(
		    ctx->def->usage,
		    "invalid resolver '%s': not an IP address with an optional port", value);
	*(const char **)field = value;
	return EXIT_OK;
}

int netopt_ca_file(struct cli_ctx *ctx, void *field, const char *value)
{
	(void)ctx;
	if (access(value, R_OK) != 0) {
		sts_log_errno(-errno, "cannot read CA file '%s'", value);
		return EXIT_USAGE;
	}
	*(const char **)field = value;
	return EXIT_OK;
}

int netopt_seconds(struct cli_ctx *ctx, void *field, const char *value)
{
	if (cli_parse_seconds(value, field) < 0)
		return cli_usage_error(ctx->def->usage, "invalid number of seconds '%s'", value);
	return EXIT_OK;
}

void netopts_progress(struct netopts *n, const char *what, size_t total)
{
	cli_progress_start(n->progress, what, "domains", total);
	n->check.progress = cli_progress_fn();
}

int netopts_done(struct netopts *n, int r, const char *why, const char *what)
{
	(void)n;
	cli_progress_end();
	if (r >= 0)
		return EXIT_OK;
	if (why)
		sts_log_err("cannot %s: %s", what, why);
	else
		sts_log_errno(r, "cannot %s", what);
	return r == STS_EINVAL ? EXIT_USAGE : cli_exit_for(r);
}

int namelist_add(struct namelist *l, const char *name, const char *const *usage)
{
	char *norm = NULL;
	const char *why = NULL;
	int r = sts_check_domain_name(name, &norm, &why);
	if (r == STS_ENOMEM) {
		sts_log_err("out of memory");
		return EXIT_INTERNAL;
	}
	if (r < 0)
		return cli_usage_error(usage, "invalid domain '%s': %s", name, why);
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		char **v = realloc(l->v, cap * sizeof(*v));
		if (!v) {
			free(norm);
			sts_log_err("out of memory");
			return EXIT_INTERNAL;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = norm;
	return 0;
}

int namelist_read(struct namelist *l, const char *path, const char *const *usage)
{
	struct sts_buf b;
	int r = cli_read_file(&b, STS_CAP_TEXT, path, "");
	if (r)
		return r;
	char *save = NULL;
	int rc = 0;
	for (char *line = strtok_r(b.data ? b.data : (char *)"", "\n", &save); line && !rc;
	     line = strtok_r(NULL, "\n", &save)) {
		line[strcspn(line, "#\r")] = '\0';
		char *p = line + strspn(line, " \t");
		size_t n = strcspn(p, " \t");
		if (!n)
			continue;
		p[n] = '\0';
		rc = namelist_add(l, p, usage);
	}
	sts_buf_release(&b);
	return rc;
}

void namelist_release(struct namelist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}
