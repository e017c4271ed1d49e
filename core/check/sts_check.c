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

#include "sts_buf.h"
#include "sts_check_int.h"
#include "sts_dname.h"
#include "sts_err.h"
#include "sts_pool.h"

/* The check's wording of a name problem (tests/cli/test_check_cli.py). */
static const char *hostname_problem(const char *s)
{
	enum sts_dname_problem p = sts_dname_check(s, STS_DNAME_MULTI_LABEL);
	switch (p) {
	case STS_DNAME_OK:
		return NULL;
	case STS_DNAME_TOO_LONG:
		return "longer than 253 bytes";
	case STS_DNAME_LABEL_TOO_LONG:
		return "a label is longer than 63 bytes";
	case STS_DNAME_HYPHEN:
		return "a label starts or ends with '-'";
	case STS_DNAME_STAR:
	case STS_DNAME_UNDERSCORE_CHAR:
	case STS_DNAME_BAD_CHAR:
		return "only letters, digits, '-' and '.' are allowed";
	case STS_DNAME_ONE_LABEL:
		return "not a domain (one label)";
	default:
		return sts_dname_problem_str(p); /* empty name, empty label */
	}
}

STS_API int sts_check_domain_name(const char *in, char **ret, const char **reterr)
{
	char *s = NULL;
	int r = sts_dname_normalize(in, 0, &s, reterr);
	if (r != STS_OK)
		return r == STS_EINVALID ? STS_EINVAL : r;
	const char *why = hostname_problem(s);
	if (why) {
		free(s);
		*reterr = why;
		return STS_EINVAL;
	}
	*ret = s;
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

/* sts_pool: check domain i with a worker of its own (there are as many as threads). */
static void check_one(void *ud, size_t i)
{
	struct check_run *run = ud;
	pthread_mutex_lock(&run->mu);
	struct check_worker *w = run->err < 0 ? NULL : run->idle[--run->n_idle];
	pthread_mutex_unlock(&run->mu);
	if (!w)
		return;
	int r = check_domain(w, run->names[i], &run->report->domains[i]);
	pthread_mutex_lock(&run->mu);
	run->idle[run->n_idle++] = w;
	if (r < 0 && run->err == STS_OK)
		run->err = r;
	run->done++;
	run->failed += run->report->domains[i].verdict == STS_VERDICT_FAIL;
	if (run->o->progress)
		run->o->progress(run->o->progress_ud, run->done, run->report->n, run->failed);
	pthread_mutex_unlock(&run->mu);
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
	run->idle = calloc(nw, sizeof(*run->idle));
	size_t ready = 0;
	int r = w && run->idle ? sts_trust_store_new(o->ca_file, &run->store) : STS_ENOMEM;
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
		run->idle[run->n_idle++] = &w[ready];
	}
	sts_pool_run(n, (unsigned)nw, check_one, run);
	r = run->err;
	for (size_t i = 0; r == STS_OK && i < n; i++) {
		enum sts_verdict v = ret->domains[i].verdict;
		ret->n_pass += v == STS_VERDICT_PASS;
		ret->n_warn += v == STS_VERDICT_WARN;
		ret->n_fail += v == STS_VERDICT_FAIL;
	}
out:
	STS_ARRAY_FREE(w, ready, worker_release);
	free(run->idle);
	sts_starttls_free(run->tls);
	sts_trust_store_free(run->store);
	check_mx_cache_free(run);
	pthread_cond_destroy(&run->cv);
	pthread_mutex_destroy(&run->mu);
	free(run);
	return r;
}

static void mx_release(struct sts_check_mx *m)
{
	STS_FREE_ALL(m->host, m->address, m->error, m->cert_error);
}

static void domain_release(struct sts_check_domain *d)
{
	STS_FREE_ALL(d->domain, d->txt_cname, d->txt, d->id, d->policy_host, d->content_type,
		     d->location, d->policy_text);
	sts_policy_release(&d->policy);
	STS_ARRAY_FREE(d->mx, d->n_mx, mx_release);
	free(d->tlsrpt);
	sts_strv_free(d->rua, d->n_rua);
	sts_diags_release(&d->findings);
}

STS_API void sts_check_report_release(struct sts_check_report *r)
{
	if (!r)
		return;
	STS_ARRAY_FREE(r->domains, r->n, domain_release);
	memset(r, 0, sizeof(*r));
}
