/* SPDX-License-Identifier: MIT */
/*
 * stsctl check: every MX record of a domain against the policy's patterns
 * (RFC 8461 §4.1) and each MX host's STARTTLS (§4.2, §7): rules M1-M6.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sts_check_int.h"
#include "sts_err.h"
#include "sts_mx.h"

/* ---- the run's MX probe cache: each host resolved and probed once ---- */

static unsigned bucket_of(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % CHECK_MX_BUCKETS;
}

static void probe_host(struct check_worker *w, struct check_mx_probe *p)
{
	const struct sts_check_opts *o = w->run->o;
	struct sts_dns_query q[2];
	sts_dns_query_init(&q[0], p->host, STS_DNS_A);
	sts_dns_query_init(&q[1], p->host, STS_DNS_AAAA);
	if (sts_resolver_run(w->res, q, 2) < 0)
		goto out;
	size_t n = q[0].n_addr + q[1].n_addr;
	if (n && (p->addrs = calloc(n, sizeof(char *)))) {
		for (size_t i = 0; i < q[0].n_addr; i++)
			p->addrs[p->n_addrs++] = q[0].addr[i];
		for (size_t i = 0; i < q[1].n_addr; i++)
			p->addrs[p->n_addrs++] = q[1].addr[i];
		q[0].n_addr = q[1].n_addr = 0; /* moved */
	}
	if (p->n_addrs)
		p->dns_status = STS_DNS_OK;
	else
		p->dns_status = q[0].status == STS_DNS_NODATA ? q[1].status : q[0].status;
	if (p->n_addrs && !o->no_smtp) {
		sts_starttls_probe(w->run->tls, p->host, (const char *const *)p->addrs, p->n_addrs,
				   &p->res);
		p->probed = true;
	}
out:
	sts_dns_query_release(&q[0]);
	sts_dns_query_release(&q[1]);
}

int check_mx_probe(struct check_worker *w, const char *host, long deadline,
		   const struct check_mx_probe **ret)
{
	struct check_run *run = w->run;
	unsigned b = bucket_of(host);
	pthread_mutex_lock(&run->mu);
	struct check_mx_probe *p = run->mx[b];
	while (p && strcmp(p->host, host) != 0)
		p = p->next;
	if (p) {
		/* another domain's worker probes it: wait, but not past our deadline */
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		long left = deadline - check_now_ms();
		left = left < 0 ? 0 : left;
		until.tv_sec += left / 1000;
		until.tv_nsec += (left % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		int k = 0;
		while (!p->done && k != ETIMEDOUT)
			k = pthread_cond_timedwait(&run->cv, &run->mu, &until);
		bool done = p->done;
		pthread_mutex_unlock(&run->mu);
		if (!done)
			return STS_ETIMEOUT;
		*ret = p;
		return STS_OK;
	}
	p = calloc(1, sizeof(*p));
	if (p && !(p->host = strdup(host))) {
		free(p);
		p = NULL;
	}
	if (p) {
		p->dns_status = STS_DNS_ERROR;
		p->next = run->mx[b];
		run->mx[b] = p;
	}
	pthread_mutex_unlock(&run->mu);
	if (!p)
		return STS_ENOMEM;
	probe_host(w, p);
	pthread_mutex_lock(&run->mu);
	p->done = true;
	pthread_cond_broadcast(&run->cv);
	pthread_mutex_unlock(&run->mu);
	*ret = p;
	return STS_OK;
}

void check_mx_cache_free(struct check_run *run)
{
	for (unsigned b = 0; b < CHECK_MX_BUCKETS; b++) {
		struct check_mx_probe *p = run->mx[b];
		while (p) {
			struct check_mx_probe *next = p->next;
			for (size_t i = 0; i < p->n_addrs; i++)
				free(p->addrs[i]);
			STS_FREE_ALL(p->addrs, p->host, p);
			p = next;
		}
	}
}

/* ---- the MX records of one domain ---- */

const char *check_consequence(enum sts_view v)
{
	switch (v) {
	case STS_VIEW_ENFORCE:
		return "senders will not deliver to it";
	case STS_VIEW_TESTING:
		return "senders deliver to it and report a failure; under enforce they would not";
	case STS_VIEW_NONE:
		return "no effect in mode none; under enforce senders would not deliver to it";
	case STS_VIEW_NO_POLICY:
		break;
	}
	return "no effect without a usable policy; under enforce senders would not deliver to it";
}

/* MX problems weigh as errors when senders apply a policy, else as warnings. */
static enum sts_severity mx_sev(const struct sts_check_domain *d)
{
	return d->view == STS_VIEW_ENFORCE || d->view == STS_VIEW_TESTING ? STS_SEV_ERROR
									  : STS_SEV_WARNING;
}

static void probe_findings(struct check_audit *a, struct sts_check_mx *m,
			   const struct check_mx_probe *p)
{
	struct sts_check_domain *d = a->d;
	enum sts_severity sev = mx_sev(d);
	const char *then = check_consequence(d->view);
	const struct sts_starttls_result *res = &p->res;
	if (!p->n_addrs) {
		check_add(a, sev, "M1",
			  "MX host '%s' has no address (%s): no sender can deliver to it", m->host,
			  sts_dns_status_name(p->dns_status));
		return;
	}
	if (!p->probed)
		return;
	if (res->address[0] && !(m->address = strdup(res->address)))
		a->err = STS_ENOMEM;
	if (res->stage != STS_STARTTLS_DONE && !(m->error = strdup(res->error)))
		a->err = STS_ENOMEM;
	switch (res->stage) {
	case STS_STARTTLS_CONNECT:
	case STS_STARTTLS_BANNER:
	case STS_STARTTLS_EHLO:
		check_add(a, STS_SEV_WARNING, "M1",
			  "SMTP with MX host '%s' failed: %s (port 25 blocked from here?)", m->host,
			  res->error);
		return;
	case STS_STARTTLS_NOTLS:
		check_add(a, sev, "M1", "MX host '%s': %s: %s", m->host, res->error, then);
		return;
	case STS_STARTTLS_HANDSHAKE:
		check_add(a, sev, "M1", "MX host '%s': %s: %s", m->host, res->error, then);
		return;
	case STS_STARTTLS_DONE:
		break;
	}
	m->starttls = true;
	memcpy(m->tls_version, res->tls_version, sizeof(m->tls_version));
	if (!sts_tls_version_ok(res->tls_version))
		check_add(a, sev, "M6",
			  "MX host '%s' negotiated %s; RFC 8461 §7.2 requires TLS 1.2 or newer: "
			  "senders that do not offer older versions cannot use TLS with it, %s",
			  m->host, res->tls_version, then);
	if (!res->have_cert) {
		check_add(a, sev, "M3", "MX host '%s' sent no certificate: %s", m->host, then);
		return;
	}
	if (res->not_after) {
		m->have_days = true;
		m->cert_days_left = check_days_left(res->not_after, a->now);
	}
	m->cert_valid = res->chain_ok && res->name_ok;
	char why[160] = "";
	if (res->not_after && res->not_after < a->now)
		snprintf(why, sizeof(why), "expired %ld days ago", -m->cert_days_left);
	else if (res->not_before > a->now)
		snprintf(why, sizeof(why), "not valid yet");
	else if (!res->chain_ok)
		snprintf(why, sizeof(why), "not trusted (%s)", res->verify_msg);
	if (why[0])
		check_add(a, sev, "M3", "certificate of MX host '%s' is %s: %s", m->host, why,
			  then);
	if (!res->name_ok) {
		check_add(
		    a, sev, "M3",
		    "certificate of MX host '%s' has no subjectAltName DNS name matching it: %s",
		    m->host, then);
		if (!why[0])
			snprintf(why, sizeof(why), "not valid for the name '%s'", m->host);
	}
	if (why[0] && !(m->cert_error = strdup(why)))
		a->err = STS_ENOMEM;
	int warn = check_warn_days(a->o);
	if (m->cert_valid && m->have_days && m->cert_days_left < warn)
		check_add(a, STS_SEV_WARNING, "M3",
			  "certificate of MX host '%s' expires in %ld days", m->host,
			  m->cert_days_left);
}

static bool policy_covers(const struct sts_policy *p, const char *host)
{
	for (size_t i = 0; i < p->n_mx; i++)
		if (sts_mx_match(p->mx[i], host))
			return true;
	return false;
}

void check_mx(struct check_audit *a, const struct sts_dns_query *q)
{
	struct sts_check_domain *d = a->d;
	d->mx_status = q->status;
	switch (q->status) {
	case STS_DNS_OK:
		break;
	case STS_DNS_NODATA:
		check_add(a, STS_SEV_WARNING, "M1",
			  "'%s' has no MX records: senders deliver to its own address records "
			  "(implicit MX), which the policy must then cover",
			  d->domain);
		return;
	case STS_DNS_NXDOMAIN:
		check_add(a, STS_SEV_ERROR, "M1", "'%s' does not exist (NXDOMAIN)", d->domain);
		return;
	default:
		check_add(a, STS_SEV_ERROR, "M1", "lookup of '%s' MX failed (%s)", d->domain,
			  sts_dns_status_name(q->status));
		return;
	}
	if (q->n_mx == 1 && !q->mx[0].host[0]) {
		check_add(
		    a, STS_SEV_INFO, "M1",
		    "'%s' has a null MX (RFC 7505): it accepts no mail, MTA-STS does not apply",
		    d->domain);
		return;
	}
	if (!(d->mx = calloc(q->n_mx, sizeof(*d->mx)))) {
		a->err = STS_ENOMEM;
		return;
	}
	size_t cap = a->o->max_mx ? a->o->max_mx : STS_CHECK_MAX_MX_DEFAULT;
	size_t n_capped = 0, n_late = 0;
	for (size_t i = 0; i < q->n_mx && a->err == STS_OK; i++) {
		const char *host = q->mx[i].host;
		bool seen = false;
		for (size_t j = 0; j < d->n_mx; j++)
			seen = seen || strcmp(d->mx[j].host, host) == 0;
		if (seen || !host[0])
			continue;
		struct sts_check_mx *m = &d->mx[d->n_mx];
		if (!(m->host = strdup(host))) {
			a->err = STS_ENOMEM;
			return;
		}
		d->n_mx++;
		m->pref = q->mx[i].pref;
		m->matches_policy = d->policy_valid && policy_covers(&d->policy, host);
		if (d->policy_valid && !m->matches_policy)
			check_add(a, d->policy.mode == STS_MODE_NONE ? STS_SEV_WARNING : mx_sev(d),
				  "M2",
				  "MX host '%s' is not covered by the policy's mx patterns: %s",
				  host, check_consequence(d->view));
		if (a->o->no_smtp)
			continue;
		/* fail closed: an MX host left unprobed is an error (limit-mx, limit-deadline) */
		const struct check_mx_probe *p = NULL;
		int r = STS_ETIMEOUT;
		if (d->n_mx > cap)
			n_capped++;
		else if (check_now_ms() < a->deadline &&
			 (r = check_mx_probe(a->w, host, a->deadline, &p)) == STS_ENOMEM) {
			a->err = r;
			return;
		}
		if (!p) {
			n_late += d->n_mx <= cap;
			m->skipped = true;
			if (!(m->error =
				  strdup(d->n_mx > cap ? "not probed: over the MX limit"
						       : "not probed: domain deadline reached")))
				a->err = STS_ENOMEM;
			continue;
		}
		m->probed = p->probed;
		probe_findings(a, m, p);
	}
	if (n_capped)
		check_add(a, STS_SEV_ERROR, "limit-mx",
			  "'%s' has %zu MX hosts; only the first %zu were probed, the other %zu "
			  "count as failed",
			  d->domain, d->n_mx, cap, n_capped);
	if (n_late)
		check_add(a, STS_SEV_ERROR, "limit-deadline",
			  "the check of '%s' reached its deadline (%g s): %zu MX hosts were not "
			  "probed and count as failed",
			  d->domain,
			  (double)(a->o->domain_timeout_ms > 0
				       ? a->o->domain_timeout_ms
				       : STS_CHECK_DOMAIN_TIMEOUT_DEFAULT_MS) /
			      1000.0,
			  n_late);
}
