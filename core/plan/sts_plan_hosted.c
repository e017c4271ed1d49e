/* SPDX-License-Identifier: MIT */
/* Plan and apply of hosted domains: the hosted store and the MSP zone (issue 15). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sts_err.h"
#include "sts_hosted_label.h"
#include "sts_hosted_store.h"
#include "sts_mclock.h"
#include "sts_plan_hosted.h"

STS_API int sts_plan_hosted_setup(const struct sts_inventory *inv, struct sts_db *db,
				  struct sts_plan_domain *d)
{
	const struct sts_hosted_conf *h = inv ? inv->hosted : NULL;
	if (!h || !h->zone || !h->dns) {
		sts_plan_domain_fail(d, STS_EINVALID,
				     "'%s' is hosted but the inventory has no 'hosted' section "
				     "with a zone and a dns provider",
				     d->name);
		return STS_OK;
	}
	STS_FREE_ALL(d->zone, d->dns, d->web);
	d->web = NULL;
	d->dns = strdup(h->dns);
	d->zone = strdup(h->zone);
	if (!d->dns || !d->zone)
		return STS_ENOMEM;
	bool found = false;
	int r = db ? sts_hosted_label_get(db, d->name, d->label, &found) : STS_OK;
	if (r == STS_OK && !found)
		r = sts_hosted_label(d->name, d->label);
	if (r == STS_ENOMEM)
		return r;
	if (r < 0) {
		sts_plan_domain_fail(d, r, "cannot find the label of hosted '%s': %s", d->name,
				     sts_strerror(r));
		return STS_OK;
	}
	d->label_stored = found;
	d->hosted_cert_wait = h->certificate_wait;
	if (asprintf(&d->hosted_txt, "%s._mta-sts.%s.", d->label, d->zone) < 0) {
		d->hosted_txt = NULL;
		return STS_ENOMEM;
	}
	return STS_OK;
}

STS_API int sts_plan_hosted_want(const struct sts_plan_domain *d, uint32_t ttl,
				 struct sts_rrsets *want)
{
	char v[STS_ID_MAX + 32];
	if (!d->hosted_txt || !d->policy_text)
		return STS_OK;
	snprintf(v, sizeof(v), "v=STSv1; id=%s;", d->id);
	struct sts_rrset *rr = sts_rrsets_add(want, d->hosted_txt, "TXT", ttl);
	if (!rr || sts_rrset_add_value(rr, v, strlen(v)) < 0)
		return STS_ENOMEM;
	return STS_OK;
}

static void read_store(struct sts_db *db, struct sts_plan_domain *d)
{
	char host[300];
	struct sts_hosted_policy hp = {0};
	bool found = false;
	snprintf(host, sizeof(host), "mta-sts.%s", d->name);
	int r = db ? sts_hosted_policy_get(db, host, &hp, &found) : STS_OK;
	if (r == STS_OK && found) {
		d->actual.have_policy = true;
		/* the body as a string: a stored NUL makes it differ, as served */
		if (!(d->actual.policy = strndup((const char *)hp.body, hp.body_len)))
			r = STS_ENOMEM;
		else if (strlen(d->actual.policy) != hp.body_len)
			d->actual.policy[0] = '\0';
	}
	if (r < 0)
		sts_plan_domain_fail(d, r, "cannot read the hosted policy of '%s': %s", host,
				     r == STS_EDB ? sts_db_errmsg(db) : sts_strerror(r));
	sts_hosted_policy_release(&hp);
}

STS_API void sts_plan_hosted_read(struct sts_db *db, const struct sts_io *io,
				  struct sts_limits *lim, struct sts_plan_domain *d)
{
	read_store(db, d);
	if (d->err < 0 || !d->hosted_txt)
		return;
	const char *names[1] = {d->hosted_txt};
	struct sts_rrsets got;
	char *err = NULL;
	sts_rrsets_init(&got);
	sts_limits_acquire(lim, d->dns);
	int r = io->ops->dns_read(io->ud, d->dns, d->zone, names, 1, &got, &err);
	sts_limits_release(lim, d->dns);
	if (r == STS_ENOENT)
		r = STS_OK; /* no zone yet: nothing published */
	for (size_t i = 0; r == STS_OK && i < got.n; i++) {
		const struct sts_rrset *src = &got.v[i];
		if (!sts_name_eq(src->name, d->hosted_txt))
			continue;
		struct sts_rrset *rr =
		    sts_rrsets_add(&d->actual.rr, src->name, src->type, src->ttl);
		for (size_t k = 0; rr && k < src->n_values; k++)
			if (sts_rrset_add_value(rr, src->values[k], strlen(src->values[k])) < 0)
				rr = NULL;
		if (!rr)
			r = STS_ENOMEM;
	}
	if (r < 0)
		sts_plan_domain_fail(d, r, "cannot read zone '%s': %s", d->zone,
				     err ? err : sts_strerror(r));
	free(err);
	sts_rrsets_release(&got);
}

STS_API int sts_apply_hosted_put(struct sts_db *db, const struct sts_plan_domain *d, char **reterr)
{
	char label[STS_HOSTED_LABEL_LEN + 1], host[300];
	*reterr = NULL;
	if (!db) {
		*reterr = strdup("a hosted domain needs the state DB");
		return STS_EINVAL;
	}
	int r = sts_hosted_schema(db);
	if (r == STS_OK)
		r = sts_hosted_label_alloc(db, d->name, sts_db_now(db), label, NULL);
	if (r == STS_OK && strcmp(label, d->label) != 0) {
		if (asprintf(reterr, "its label is '%s', not '%s' as planned: plan again", label,
			     d->label) < 0)
			*reterr = NULL;
		return STS_ESTALE;
	}
	snprintf(host, sizeof(host), "mta-sts.%s", d->name);
	if (r == STS_OK)
		r = sts_hosted_policy_put(db, host, d->name, d->policy_text, strlen(d->policy_text),
					  d->id, d->max_age);
	if (r == STS_EDB && !(*reterr = strdup(sts_db_errmsg(db))))
		r = STS_ENOMEM;
	return r;
}

STS_API int sts_apply_hosted_delete(struct sts_db *db, const struct sts_plan_domain *d)
{
	char host[300];
	snprintf(host, sizeof(host), "mta-sts.%s", d->name);
	return db ? sts_hosted_policy_delete(db, host) : STS_EINVAL;
}

STS_API int sts_apply_hosted_get(struct sts_db *db, const struct sts_plan_domain *d,
				 struct sts_buf *ret)
{
	char host[300];
	struct sts_hosted_policy hp = {0};
	bool found = false;
	snprintf(host, sizeof(host), "mta-sts.%s", d->name);
	int r = db ? sts_hosted_policy_get(db, host, &hp, &found) : STS_EINVAL;
	if (r == STS_OK)
		r = found ? sts_buf_append(ret, hp.body, hp.body_len) : STS_ENOENT;
	sts_hosted_policy_release(&hp);
	return r;
}

#define CERT_POLL_MS 200

/* why the wait for c (found: a row) ends without a certificate */
static int cert_wait_error(const char *host, const struct sts_plan_domain *d,
			   const struct sts_hosted_cert *c, bool found, bool later, char **reterr)
{
	char at[32];
	int n;
	if (!found || !c->last_error)
		n = asprintf(reterr,
			     "no certificate for %s after %u s: serve has not tried to get one "
			     "(is stsctl serve running, with ACME, on this state?)",
			     host, d->hosted_cert_wait);
	else if (later) {
		sts_time_rfc3339(c->next_attempt, at);
		n = asprintf(reterr,
			     "no certificate for %s: serve's last attempt failed: %s; its next "
			     "attempt (%s) is after hosted.certificate_wait (%u s): apply again "
			     "then",
			     host, c->last_error, at, d->hosted_cert_wait);
	} else
		n = asprintf(reterr,
			     "no certificate for %s after %u s: serve's last attempt "
			     "failed: %s",
			     host, d->hosted_cert_wait, c->last_error);
	if (n < 0) {
		*reterr = NULL;
		return STS_ENOMEM;
	}
	return STS_ETIMEOUT;
}

STS_API int sts_apply_hosted_cert_wait(struct sts_db *db, const struct sts_plan_domain *d,
				       void (*note)(void *ud, const char *domain, const char *text),
				       void *ud, char **reterr)
{
	char host[300], text[400];
	*reterr = NULL;
	if (!db)
		return STS_EINVAL;
	snprintf(host, sizeof(host), "mta-sts.%s", d->name);
	long long t0 = sts_mclock_now_ns(NULL), limit = d->hosted_cert_wait * STS_NS_PER_S;
	for (bool told = false;; told = true) {
		struct sts_hosted_cert c = {0};
		bool found = false;
		int r = sts_hosted_cert_get(db, host, &c, &found);
		if (r == STS_OK && (!found || !c.chain_pem)) {
			long long left = limit - (sts_mclock_now_ns(NULL) - t0);
			/* serve tries again only after the wait: no use waiting */
			bool later = found && c.last_error &&
				     c.next_attempt > sts_db_now(db) + left / STS_NS_PER_S;
			if (left <= 0 || later)
				r = cert_wait_error(host, d, &c, found, later, reterr);
			else if (!told && note) {
				snprintf(text, sizeof(text),
					 "waiting for serve's certificate for %s (up to %u s)",
					 host, d->hosted_cert_wait);
				note(ud, d->name, text);
			}
			if (r == STS_OK)
				sts_mclock_sleep_ns(NULL, left < CERT_POLL_MS * STS_NS_PER_MS
							      ? left
							      : CERT_POLL_MS * STS_NS_PER_MS);
		} else if (r == STS_OK) {
			sts_hosted_cert_release(&c);
			return STS_OK;
		}
		sts_hosted_cert_release(&c);
		if (r == STS_EDB && !(*reterr = strdup(sts_db_errmsg(db))))
			r = STS_ENOMEM;
		if (r < 0)
			return r;
	}
}
