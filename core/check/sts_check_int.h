/* SPDX-License-Identifier: MIT */
#ifndef STS_CHECK_INT_H
#define STS_CHECK_INT_H

/*
 * Internal to sts_check*.c: the run, its workers and the MX probe cache.
 * Files call only downward: sts_check.c (the run) -> sts_check_domain.c
 * (one domain) -> sts_check_mx.c, sts_check_drift.c -> sts_check_util.c
 * (shared helpers); sts_check_out.c -> sts_check_util.c.
 */

#include <pthread.h>

#include "sts_check.h"
#include "sts_http.h"
#include "sts_resolve.h"
#include "sts_starttls.h"

/* One MX host, resolved and probed once per run. */
struct check_mx_probe {
	struct check_mx_probe *next; /* hash chain */
	char *host;
	bool done;
	enum sts_dns_status dns_status; /* of the address lookup */
	char **addrs;
	size_t n_addrs;
	bool probed;
	struct sts_starttls_result res;
};

#define CHECK_MX_BUCKETS 4096u

struct check_run {
	const struct sts_check_opts *o;
	long long now;
	struct sts_starttls *tls;
	void *store; /* the trust anchors, loaded once for every worker and probe */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	const char *const *names;
	struct sts_check_report *report;
	struct check_worker **idle; /* the workers not checking a domain now */
	size_t n_idle, done, failed;
	int err;
	struct check_mx_probe *mx[CHECK_MX_BUCKETS];
};

struct check_worker {
	struct check_run *run;
	struct sts_resolver *res;
	struct sts_http *http;
};

/* The audit of one domain in progress. */
struct check_audit {
	struct check_worker *w;
	const struct sts_check_opts *o;
	long long now;
	struct sts_check_domain *d;
	int err;       /* STS_ENOMEM once an allocation failed */
	long deadline; /* CLOCK_MONOTONIC ms: no MX is resolved or probed after it */
	/* the lookups of _mta-sts.D (TXT) and mta-sts.D (A, AAAA), for check_hosted */
	const struct sts_dns_query *q_sts, *q_ph4, *q_ph6;
};

/* ---- sts_check_util.c ---- */

/* CLOCK_MONOTONIC in ms. */
long check_now_ms(void);

/* Add a finding (message formatted like printf). */
void check_add(struct check_audit *a, enum sts_severity sev, const char *rule, const char *fmt, ...)
    STS_PRINTF(4, 5);

/* Certificates expiring within this many days draw a warning. */
int check_warn_days(const struct sts_check_opts *o);

/* Days from now until t (floor; negative in the past). */
long check_days_left(long long t, long long now);

/* ---- sts_check_mx.c, sts_check_drift.c ---- */

/* What a sender does with an MX that fails, under the domain's view. */
const char *check_consequence(enum sts_view v);

/* The MX records and their probes; the _smtp._tls record; drift. */
void check_mx(struct check_audit *a, const struct sts_dns_query *q);
void check_tlsrpt(struct check_audit *a, const struct sts_dns_query *q);
void check_drift(struct check_audit *a);
/* sts_check_hosted.c: the customer's CNAMEs of a hosted domain (HOSTED-1, HOSTED-2) */
void check_hosted(struct check_audit *a);

/*
 * The probe of host, made by this worker or waited for until deadline
 * (CLOCK_MONOTONIC ms). STS_OK (*ret set), STS_ETIMEOUT (another worker's
 * probe of it is still running at the deadline), STS_ENOMEM.
 */
int check_mx_probe(struct check_worker *w, const char *host, long deadline,
		   const struct check_mx_probe **ret);
/* Free the run's probes. */
void check_mx_cache_free(struct check_run *run);

/* ---- sts_check_domain.c ---- */

/* Audit one domain into d (zeroed by the caller). STS_OK or STS_ENOMEM. */
int check_domain(struct check_worker *w, const char *name, struct sts_check_domain *d);

/* ---- sts_check_out.c ---- */

/* JSON string of s (bytes that are not UTF-8 as \xHH; null for NULL), array of strings. */
json_t *check_json_str(const char *s);

#endif
