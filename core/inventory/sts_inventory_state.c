/* SPDX-License-Identifier: MIT */
/* The inventory's "state" section and the check of a state location (sts_inventory_state.h). */
#include <string.h>
#include <strings.h>

#include "sts_db.h"
#include "sts_err.h"
#include "sts_inventory_state.h"
#include "sts_inventory_int.h"
#include "sts_secret.h"

static const char *const state_keys[] = {"url", "password"};

/* a password= parameter in the query string (libpq reads one there too) */
static bool query_has_password(const char *q)
{
	while (q && *q) {
		q++; /* the '?' or the '&' */
		if (strncasecmp(q, "password=", 9) == 0 || strcasecmp(q, "password") == 0 ||
		    strncasecmp(q, "password&", 9) == 0)
			return true;
		q = strchr(q, '&');
	}
	return false;
}

STS_API const char *sts_state_location_problem(const char *s)
{
	if (!*s)
		return "empty: a path or a postgresql:// URL";
	if (!sts_db_location_is_url(s)) {
		const char *sch = strstr(s, "://");
		if (sch && !memchr(s, '/', (size_t)(sch - s)))
			return "not a path or a postgresql:// URL";
		return NULL;
	}
	const char *a = strstr(s, "://") + 3;
	size_t n = strcspn(a, "/?#");
	const char *at = NULL;
	for (size_t i = 0; i < n; i++) /* the last '@' of the authority ends the user */
		if (a[i] == '@')
			at = a + i;
	if ((at && memchr(a, ':', (size_t)(at - a))) || query_has_password(strchr(a, '?')))
		return "a password in the URL is refused: write the URL without it and give "
		       "the password in the inventory (\"state\": {\"password\": "
		       "\"${file:PATH}\"}) or in libpq's password file (~/.pgpass)";
	return NULL;
}

void sts_inv_parse_state(struct vctx *c, const struct pctx *p, const struct sts_jval *v)
{
	if (sts_inv_object_keys(c, p, v, state_keys, N_OF(state_keys)) < 0)
		return;
	const struct sts_jval *url = sts_jobj_get(v, "url");
	const struct sts_jval *pw = sts_jobj_get(v, "password");
	struct pctx up = {p, "url", 0}, pp = {p, "password", 0};
	const char *why;
	bool is_url = false;
	if (url && sts_inv_want(c, &up, url, STS_JSTRING)) {
		if (strlen(url->u.s.p) != url->u.s.len)
			ERR(c, &up, url->off, "contains a NUL byte");
		else if ((why = sts_state_location_problem(url->u.s.p)))
			ERR(c, &up, url->off, "%s", why);
		is_url = sts_db_location_is_url(url->u.s.p);
	}
	if (!pw || !sts_inv_want(c, &pp, pw, STS_JSTRING))
		return;
	if (!sts_secret_is_ref(pw->u.s.p) && strncmp(pw->u.s.p, "${", 2) != 0)
		ERR(c, &pp, pw->off, "a password in clear text: write ${env:NAME} or ${file:PATH}");
	else if (sts_secret_check(pw->u.s.p, &why) != STS_OK)
		ERR(c, &pp, pw->off, "invalid secret reference: %s", why);
	else if (!url)
		ERR(c, &pp, pw->off,
		    "a password without \"url\": it is the password of the "
		    "postgresql:// URL in \"url\"");
	else if (url->type == STS_JSTRING && !is_url)
		ERR(c, &pp, pw->off, "a password for a path: only a postgresql:// URL takes one");
}
