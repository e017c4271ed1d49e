/* SPDX-License-Identifier: MIT */
/*
 * Parsers of an ACME server's JSON (RFC 8555 §7.1): the directory, orders,
 * authorizations with their challenges, and problem documents (RFC 7807).
 * Untrusted input: every string is checked for type, nothing is assumed.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sts_acme.h"
#include "sts_buf.h"
#include "sts_err.h"

/* no ACME object needs more; deeper is refused before jansson recurses */
#define ACME_MAX_JSON  (256 * 1024)
#define ACME_MAX_ITEMS 100

/* zero *ret (size bytes), then parse body as a JSON object */
static json_t *load_object(const char *body, size_t len, void *ret, size_t size)
{
	memset(ret, 0, size);
	if (!body || len > ACME_MAX_JSON)
		return NULL;
	json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	if (j && !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* a string member, copied; NULL when absent or not a string */
static char *str_dup(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? strdup(s) : NULL;
}

/*
 * Member k of j as an array of at most ACME_MAX_ITEMS items in *ret_a, and
 * in *ret_v (a T **: copied, not cast) a zeroed array of as many elements
 * of size bytes, NULL when empty; STS_EPARSE, STS_ENOMEM.
 */
static int array_of(const json_t *j, const char *k, size_t size, json_t **ret_a, void *ret_v)
{
	json_t *a = json_object_get(j, k);
	void *v = NULL;
	*ret_a = a;
	if (!json_is_array(a) || json_array_size(a) > ACME_MAX_ITEMS)
		return STS_EPARSE;
	if (json_array_size(a) && !(v = calloc(json_array_size(a), size)))
		return STS_ENOMEM;
	memcpy(ret_v, &v, sizeof(v));
	return STS_OK;
}

void sts_acme_problem_release(struct sts_acme_problem *p)
{
	if (!p)
		return;
	free(p->type);
	free(p->detail);
	memset(p, 0, sizeof *p);
}

static void problem_of(const json_t *j, long http_status, struct sts_acme_problem *p)
{
	p->type = str_dup(j, "type");
	p->detail = str_dup(j, "detail");
	json_int_t st = json_integer_value(json_object_get(j, "status"));
	p->status = st >= 100 && st <= 599 ? (long)st : http_status;
}

int sts_acme_problem_parse(const char *body, size_t len, long http_status,
			   struct sts_acme_problem *ret)
{
	json_t *j = load_object(body, len, ret, sizeof *ret);
	if (!j) {
		ret->status = http_status;
		return STS_EPARSE;
	}
	problem_of(j, http_status, ret);
	json_decref(j);
	return ret->type ? STS_OK : STS_EPARSE;
}

void sts_acme_directory_release(struct sts_acme_directory *d)
{
	if (!d)
		return;
	STS_FREE_ALL(d->new_nonce, d->new_account, d->new_order, d->terms_of_service);
	memset(d, 0, sizeof *d);
}

int sts_acme_directory_parse(const char *body, size_t len, struct sts_acme_directory *ret)
{
	json_t *j = load_object(body, len, ret, sizeof *ret);
	if (!j)
		return STS_EPARSE;
	ret->new_nonce = str_dup(j, "newNonce");
	ret->new_account = str_dup(j, "newAccount");
	ret->new_order = str_dup(j, "newOrder");
	ret->terms_of_service = str_dup(json_object_get(j, "meta"), "termsOfService");
	json_decref(j);
	if (!ret->new_nonce || !ret->new_account || !ret->new_order) {
		sts_acme_directory_release(ret);
		return STS_EPARSE;
	}
	return STS_OK;
}

void sts_acme_authz_release(struct sts_acme_authz *z)
{
	if (!z)
		return;
	free(z->status);
	free(z->identifier);
	for (size_t i = 0; i < z->n_chal; i++)
		STS_FREE_ALL(z->chal[i].type, z->chal[i].url, z->chal[i].token, z->chal[i].status);
	free(z->chal);
	sts_acme_problem_release(&z->error);
	memset(z, 0, sizeof *z);
}

int sts_acme_authz_parse(const char *body, size_t len, struct sts_acme_authz *ret)
{
	json_t *j = load_object(body, len, ret, sizeof *ret);
	if (!j)
		return STS_EPARSE;
	int r = STS_EPARSE;
	json_t *chal, *c;
	ret->status = str_dup(j, "status");
	ret->identifier = str_dup(json_object_get(j, "identifier"), "value");
	if (!ret->status || !ret->identifier ||
	    (r = array_of(j, "challenges", sizeof *ret->chal, &chal, &ret->chal)) < 0)
		goto out;
	r = STS_EPARSE;
	size_t i;
	json_array_foreach(chal, i, c)
	{
		struct sts_acme_challenge *x = &ret->chal[ret->n_chal++];
		x->type = str_dup(c, "type");
		x->url = str_dup(c, "url");
		x->token = str_dup(c, "token");
		x->status = str_dup(c, "status");
		if (!x->type || !x->url || !x->status)
			goto out;
		json_t *e = json_object_get(c, "error");
		if (json_is_object(e) && !ret->error.type)
			problem_of(e, 0, &ret->error);
	}
	r = STS_OK;
out:
	json_decref(j);
	if (r < 0)
		sts_acme_authz_release(ret);
	return r;
}

/* An RFC 3339 time in UTC ("2026-12-14T10:00:00Z", fraction allowed); 0 when not one. */
static long long time_of(const char *s)
{
	struct tm tm = {0};
	const char *p = s ? strptime(s, "%Y-%m-%dT%H:%M:%S", &tm) : NULL;
	if (p && *p == '.')
		p += 1 + strspn(p + 1, "0123456789");
	return p && (*p == 'Z' || *p == 'z') && !p[1] ? (long long)timegm(&tm) : 0;
}

void sts_acme_order_release(struct sts_acme_order *o)
{
	if (!o)
		return;
	STS_FREE_ALL(o->status, o->finalize, o->certificate);
	sts_strv_free(o->authz, o->n_authz);
	sts_acme_problem_release(&o->error);
	memset(o, 0, sizeof *o);
}

int sts_acme_order_parse(const char *body, size_t len, struct sts_acme_order *ret)
{
	json_t *j = load_object(body, len, ret, sizeof *ret);
	if (!j)
		return STS_EPARSE;
	int r = STS_EPARSE;
	json_t *az, *a, *e;
	ret->status = str_dup(j, "status");
	ret->finalize = str_dup(j, "finalize");
	ret->certificate = str_dup(j, "certificate");
	if (!ret->status || !ret->finalize ||
	    (r = array_of(j, "authorizations", sizeof(char *), &az, &ret->authz)) < 0)
		goto out;
	r = STS_EPARSE;
	size_t i;
	json_array_foreach(az, i, a)
	{
		if (!json_is_string(a))
			goto out;
		if (!(ret->authz[ret->n_authz] = strdup(json_string_value(a)))) {
			r = STS_ENOMEM;
			goto out;
		}
		ret->n_authz++;
	}
	if (json_is_object(e = json_object_get(j, "error")))
		problem_of(e, 0, &ret->error);
	ret->expires = time_of(json_string_value(json_object_get(j, "expires")));
	r = STS_OK;
out:
	json_decref(j);
	if (r < 0)
		sts_acme_order_release(ret);
	return r;
}
