/* SPDX-License-Identifier: MIT */
/*
 * stsctl check: the run (worker threads over the domains, the MX probe
 * cache), name normalisation and the report's lifetime. The audit of one
 * domain is in sts_check_domain.c, the output in sts_check_out.c.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <idn2.h>

#include "sts_check_int.h"
#include "sts_err.h"

STS_API const char *sts_verdict_name(enum sts_verdict v)
{
	switch (v) {
	case STS_VERDICT_PASS:
		return "pass";
	case STS_VERDICT_WARN:
		return "warn";
	case STS_VERDICT_FAIL:
		break;
	}
	return "fail";
}

STS_API const char *sts_view_name(enum sts_view v)
{
	switch (v) {
	case STS_VIEW_NONE:
		return "none";
	case STS_VIEW_TESTING:
		return "testing";
	case STS_VIEW_ENFORCE:
		return "enforce";
	case STS_VIEW_NO_POLICY:
		break;
	}
	return "no-policy";
}

int check_warn_days(const struct sts_check_opts *o)
{
	return o->warn_days == 0 ? 14 : o->warn_days < 0 ? 0 : o->warn_days;
}

long check_days_left(long long t, long long now)
{
	long long d = t - now;
	long long days = d >= 0 ? d / 86400 : -((-d + 86399) / 86400);
	return (long)days;
}

/* Letters, digits and '-' in 1..63-byte labels, <= 253 bytes, >= 2 labels. */
static const char *hostname_problem(const char *s)
{
	size_t n = strlen(s), label = 0, labels = 1;
	if (n == 0)
		return "empty name";
	if (n > 253)
		return "longer than 253 bytes";
	for (size_t i = 0; i <= n; i++) {
		char c = s[i];
		if (c == '.' || c == '\0') {
			if (label == 0)
				return "empty label";
			if (s[i - 1] == '-' || s[i - label] == '-')
				return "a label starts or ends with '-'";
			if (c == '.')
				labels++;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)c) && c != '-')
			return "only letters, digits, '-' and '.' are allowed";
		if (++label > 63)
			return "a label is longer than 63 bytes";
	}
	return labels < 2 ? "not a domain (one label)" : NULL;
}

STS_API int sts_check_domain_name(const char *in, char **ret, const char **reterr)
{
	size_t n = strlen(in);
	if (n > 1 && in[n - 1] == '.')
		n--;
	char *s = strndup(in, n);
	if (!s)
		return STS_ENOMEM;
	bool ascii = true;
	for (const char *p = s; *p; p++)
		ascii = ascii && (unsigned char)*p < 0x80;
	if (!ascii) {
		char *a = NULL;
		int rc = idn2_to_ascii_8z(s, &a, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
		free(s);
		if (rc != IDN2_OK) {
			*reterr = rc == IDN2_MALLOC ? "out of memory" : idn2_strerror(rc);
			return rc == IDN2_MALLOC ? STS_ENOMEM : STS_EINVAL;
		}
		s = strdup(a);
		idn2_free(a);
		if (!s)
			return STS_ENOMEM;
	}
	for (char *p = s; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	const char *why = hostname_problem(s);
	if (why) {
		free(s);
		*reterr = why;
		return STS_EINVAL;
	}
	*ret = s;
	return STS_OK;
}

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

long check_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
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

static int worker_init(struct check_worker *w, struct check_run *run, const char **reterr)
{
	const struct sts_check_opts *o = run->o;
	memset(w, 0, sizeof(*w));
	w->run = run;
	struct sts_resolver_opts ro = {.server = o->resolver, .timeout_ms = o->dns_timeout_ms};
	int r = sts_resolver_new(&ro, &w->res, reterr);
	if (r < 0)
		return r;
	long t = o->timeout_ms > 0 ? o->timeout_ms : 15000;
	struct sts_http_opts ho = {
	    .ca_file = o->ca_file,
	    .trust_store = run->store,
	    .connect_timeout_ms = t,
	    .timeout_ms = t,
	    .max_response = STS_CAP_POLICY,
	    .max_attempts = 1,
	    .max_total_ms = t + 1000,
	};
	return sts_http_new(&ho, &w->http);
}

static void worker_release(struct check_worker *w)
{
	sts_resolver_free(w->res);
	sts_http_free(w->http);
}

static void *worker_main(void *arg)
{
	struct check_worker *w = arg;
	struct check_run *run = w->run;
	for (;;) {
		pthread_mutex_lock(&run->mu);
		size_t i = run->next;
		bool stop = i >= run->report->n || run->err < 0;
		if (!stop)
			run->next++;
		pthread_mutex_unlock(&run->mu);
		if (stop)
			break;
		int r = check_domain(w, run->names[i], &run->report->domains[i]);
		pthread_mutex_lock(&run->mu);
		if (r < 0 && run->err == STS_OK)
			run->err = r;
		run->done++;
		if (run->o->progress)
			run->o->progress(run->done, run->report->n, run->o->progress_ud);
		pthread_mutex_unlock(&run->mu);
	}
	return NULL;
}

static void cache_free(struct check_run *run)
{
	for (unsigned b = 0; b < CHECK_MX_BUCKETS; b++) {
		struct check_mx_probe *p = run->mx[b];
		while (p) {
			struct check_mx_probe *next = p->next;
			for (size_t i = 0; i < p->n_addrs; i++)
				free(p->addrs[i]);
			free(p->addrs);
			free(p->host);
			free(p);
			p = next;
		}
	}
}

STS_API int sts_check_run(const char *const *names, size_t n, const struct sts_check_opts *o,
			  struct sts_check_report *ret, const char **reterr)
{
	const char *dummy;
	if (!reterr)
		reterr = &dummy;
	*reterr = NULL;
	memset(ret, 0, sizeof(*ret));
	if (o->concurrency > STS_CHECK_CONCURRENCY_MAX) {
		*reterr = "concurrency above 512";
		return STS_EINVAL;
	}
	if (o->max_mx > STS_CHECK_MAX_MX_MAX || o->domain_timeout_ms < 0) {
		*reterr =
		    o->domain_timeout_ms < 0 ? "negative domain timeout" : "max_mx above 1000";
		return STS_EINVAL;
	}
	if (n == 0)
		return STS_OK;
	ret->domains = calloc(n, sizeof(*ret->domains));
	if (!ret->domains)
		return STS_ENOMEM;
	ret->n = n;
	for (size_t i = 0; i < n; i++)
		sts_diags_init(&ret->domains[i].findings);

	struct check_run *run = calloc(1, sizeof(*run));
	if (!run)
		return STS_ENOMEM;
	run->o = o;
	run->now = o->now ? o->now : (long long)time(NULL);
	run->names = names;
	run->report = ret;
	pthread_mutex_init(&run->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* the deadlines' clock */
	pthread_cond_init(&run->cv, &ca);
	pthread_condattr_destroy(&ca);
	size_t nw = o->concurrency ? o->concurrency : 10;
	if (nw > n)
		nw = n;
	struct check_worker *w = calloc(nw, sizeof(*w));
	pthread_t *thr = calloc(nw, sizeof(*thr));
	size_t started = 0, ready = 0;
	int r = w && thr ? sts_trust_store_new(o->ca_file, &run->store) : STS_ENOMEM;
	struct sts_starttls_opts so = {.port = o->smtp_port,
				       .timeout_ms = o->timeout_ms,
				       .ca_file = o->ca_file,
				       .helo = o->helo,
				       .trust_store = run->store};
	if (r == STS_OK)
		r = sts_starttls_new(&so, &run->tls);
	if (r < 0) {
		if (r == STS_EIO)
			*reterr = "cannot load the CA file";
		goto out;
	}
	for (; ready < nw; ready++) {
		r = worker_init(&w[ready], run, reterr);
		if (r < 0) {
			worker_release(&w[ready]);
			goto out;
		}
	}
	for (; started < nw; started++) {
		if (pthread_create(&thr[started], NULL, worker_main, &w[started]) != 0)
			break;
	}
	if (started == 0)
		worker_main(&w[0]); /* no thread at all: do the work here */
	for (size_t i = 0; i < started; i++)
		pthread_join(thr[i], NULL);
	r = run->err;
	for (size_t i = 0; r == STS_OK && i < n; i++) {
		enum sts_verdict v = ret->domains[i].verdict;
		ret->n_pass += v == STS_VERDICT_PASS;
		ret->n_warn += v == STS_VERDICT_WARN;
		ret->n_fail += v == STS_VERDICT_FAIL;
	}
out:
	for (size_t i = 0; i < ready; i++)
		worker_release(&w[i]);
	free(w);
	free(thr);
	sts_starttls_free(run->tls);
	sts_trust_store_free(run->store);
	cache_free(run);
	pthread_cond_destroy(&run->cv);
	pthread_mutex_destroy(&run->mu);
	free(run);
	return r;
}

static void mx_release(struct sts_check_mx *m)
{
	free(m->host);
	free(m->address);
	free(m->error);
	free(m->cert_error);
}

static void domain_release(struct sts_check_domain *d)
{
	free(d->domain);
	free(d->txt_cname);
	free(d->txt);
	free(d->id);
	free(d->policy_host);
	free(d->content_type);
	free(d->location);
	free(d->policy_text);
	sts_policy_release(&d->policy);
	for (size_t i = 0; i < d->n_mx; i++)
		mx_release(&d->mx[i]);
	free(d->mx);
	free(d->tlsrpt);
	sts_strv_free(d->rua, d->n_rua);
	sts_diags_release(&d->findings);
}

STS_API void sts_check_report_release(struct sts_check_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		domain_release(&r->domains[i]);
	free(r->domains);
	memset(r, 0, sizeof(*r));
}
