/* SPDX-License-Identifier: MIT */
/*
 * The reporter allow-list (sts_reporters.h): the built-in reporters, the
 * inventory's reports.reporters adjustments, the names of trusted sources,
 * and the organisational domain of a signing domain through libpsl.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpsl.h>

#include "sts_buf.h"
#include "sts_err.h"
#include "sts_reporters.h"

/*
 * Organisational domains that sign TLS reports today. Each entry says
 * where we know it from; docs/security.md repeats the table. A domain
 * that is not here can still be listed with reports.reporters.add.
 */
static const struct sts_reporter_builtin builtin[] = {
    {"google.com", "samples 02, 04 and 14 of ../shared/samples/tlsrpt (DKIM d=google.com, "
		   "organization-name \"Google Inc.\")"},
    {"microsoft.com", "samples 03, 07 and 09 (DKIM d=microsoft.com, \"Microsoft Corporation\"; "
		      "Outlook.com and Exchange Online report under this name)"},
    {"mail.ru", "samples 05 and 06 (DKIM d=corp.mail.ru, whose organisational domain is mail.ru)"},
    {"socketlabs.com", "sample 13 (contact-info tlsrpt-feedback@socketlabs.com)"},
    {"yahoo.com", "public reports of receivers naming Yahoo among TLS-RPT senders (no sample)"},
    {"comcast.net", "public reports of receivers naming Comcast among TLS-RPT senders (no sample)"},
    {NULL, NULL},
};

/* psl_latest: the newer of the system's list and the built-in one; loaded
 * once, shared read-only by every thread (ingestion prepares in workers) */
static const psl_ctx_t *psl;
static pthread_once_t psl_once = PTHREAD_ONCE_INIT;

static void psl_load(void)
{
	psl = psl_latest(NULL);
	if (!psl)
		psl = psl_builtin();
}

STS_API const struct sts_reporter_builtin *sts_reporters_builtin(void)
{
	return builtin;
}

STS_API int sts_reporters_orgdomain(const char *name, char **ret)
{
	if (!name || !*name)
		return STS_EINVAL;
	size_t n = strlen(name);
	if (n > 253 + 1)
		return STS_EINVAL;
	char buf[256];
	memcpy(buf, name, n + 1);
	if (buf[n - 1] == '.')
		buf[--n] = '\0';
	if (!n || buf[0] == '.' || strstr(buf, ".."))
		return STS_EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = buf[i];
		if (c >= 'A' && c <= 'Z')
			buf[i] = (char)(c + 32);
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
			   c == '.' || c == '_'))
			return STS_EINVAL; /* A-labels only: d= is ASCII (RFC 6376 §3.5) */
	}
	pthread_once(&psl_once, psl_load);
	if (!psl)
		return STS_EINVAL;
	const char *reg = psl_registrable_domain(psl, buf);
	if (!reg || !*reg)
		return STS_EINVAL;
	if (!(*ret = strdup(reg)))
		return STS_ENOMEM;
	return STS_OK;
}

struct sts_reporters {
	char **v;
	size_t n, cap;
};

static int add(struct sts_reporters *l, const char *s)
{
	if (!s || !*s || sts_reporters_has(l, s))
		return STS_OK;
	if (sts_array_grow(&l->v, l->n, &l->cap, sizeof(*l->v), 16) < 0)
		return STS_ENOMEM;
	size_t n = strlen(s);
	char *c = strdup(s);
	if (!c)
		return STS_ENOMEM;
	if (n && c[n - 1] == '.')
		c[n - 1] = '\0';
	for (char *p = c; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + 32);
	l->v[l->n++] = c;
	return STS_OK;
}

static void drop(struct sts_reporters *l, const char *s)
{
	for (size_t i = 0; s && i < l->n; i++)
		if (strcasecmp(l->v[i], s) == 0) {
			free(l->v[i]);
			l->v[i] = l->v[--l->n];
			return;
		}
}

static const char *str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static bool trusted(const json_t *o)
{
	return json_is_true(json_object_get(o, "trusted"));
}

STS_API int sts_reporters_from_json(const json_t *reports, struct sts_reporters **ret)
{
	struct sts_reporters *l = calloc(1, sizeof(*l));
	int r = STS_OK;
	size_t i;
	json_t *e;
	if (!l)
		return STS_ENOMEM;
	for (const struct sts_reporter_builtin *b = builtin; r == STS_OK && b->domain; b++)
		r = add(l, b->domain);
	const json_t *rep = json_object_get(reports, "reporters");
	const json_t *v = json_object_get(rep, "add");
	for (i = 0; r == STS_OK && i < json_array_size(v); i++)
		r = add(l, json_string_value(json_array_get(v, i)));
	v = json_object_get(rep, "remove");
	for (i = 0; i < json_array_size(v); i++)
		drop(l, json_string_value(json_array_get(v, i)));
	/* a trusted source stands for one reporter, named by the operator */
	v = json_object_get(reports, "sources");
	for (i = 0; r == STS_OK && i < json_array_size(v); i++) {
		e = json_array_get(v, i);
		if (json_is_object(e) && trusted(e))
			r = add(l, str(e, "name"));
	}
	const json_t *https = json_object_get(reports, "https");
	if (r == STS_OK && trusted(https))
		r = add(l, str(https, "name"));
	if (r < 0) {
		sts_reporters_free(l);
		return r;
	}
	*ret = l;
	return STS_OK;
}

STS_API void sts_reporters_free(struct sts_reporters *l)
{
	if (!l)
		return;
	sts_strv_free(l->v, l->n);
	free(l);
}

STS_API bool sts_reporters_has(const struct sts_reporters *l, const char *identity)
{
	if (!l || !identity || !*identity)
		return false;
	size_t n = strlen(identity);
	if (identity[n - 1] == '.')
		n--;
	for (size_t i = 0; i < l->n; i++)
		if (strlen(l->v[i]) == n && strncasecmp(l->v[i], identity, n) == 0)
			return true;
	return false;
}

STS_API size_t sts_reporters_count(const struct sts_reporters *l)
{
	return l ? l->n : 0;
}

STS_API const char *sts_reporters_get(const struct sts_reporters *l, size_t i)
{
	return l && i < l->n ? l->v[i] : NULL;
}
