/* SPDX-License-Identifier: MIT */
#ifndef STS_CHECK_H
#define STS_CHECK_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "sts_api.h"
#include "sts_buf.h"
#include "sts_diag.h"
#include "sts_inventory.h"
#include "sts_policy.h"
#include "sts_progress.h"
#include "sts_resolve.h"

/*
 * Live audit of MTA-STS and TLS-RPT deployments (stsctl check): per domain,
 * everything a sending MTA does and everything an operator needs to know.
 *
 *  - _mta-sts TXT: CNAMEs followed, character-strings joined, exactly one
 *    v=STSv1 record, strict syntax (T*);
 *  - the policy over HTTPS from mta-sts.<domain>, at the addresses our own
 *    resolver found: SNI, a certificate valid for the policy host (chain,
 *    SAN dNSName, dates: C1, C2), only 200 (P3), no redirects (P4),
 *    text/plain (P2), 64 KiB at most (P6), every policy rule (B*);
 *  - every MX record, each against the policy's patterns (M1, M2) and each
 *    probed over STARTTLS on port 25: TLS 1.2 or newer (M6), certificate
 *    chain, name and days left (M3, M4); at most max_mx hosts and within
 *    the domain's deadline (limit-mx, limit-deadline: errors);
 *  - _smtp._tls TXT (R*);
 *  - with an inventory: drift between the rendered desired state and what
 *    is served (policy text, id, mode, TLS-RPT rua, delegation CNAME).
 *
 * Each domain gets findings (rule id, severity, message saying what a
 * sender will do), the view a sender has (enforce, testing, none or
 * no-policy) and a verdict: fail with any error, warn with any warning,
 * else pass.
 *
 * Domains run concurrently on up to `concurrency` threads; an MX host
 * shared by many domains is probed once per run.
 */

enum sts_verdict {
	STS_VERDICT_PASS,
	STS_VERDICT_WARN,
	STS_VERDICT_FAIL,
};

/* What a sending MTA that follows RFC 8461 applies to the domain. */
enum sts_view {
	STS_VIEW_NO_POLICY, /* no usable policy: as if MTA-STS were not deployed */
	STS_VIEW_NONE,	    /* a valid policy in mode none */
	STS_VIEW_TESTING,
	STS_VIEW_ENFORCE,
};

STS_API const char *sts_verdict_name(enum sts_verdict v); /* "pass", "warn", "fail" */
STS_API const char *sts_view_name(enum sts_view v); /* "no-policy", "none", "testing", "enforce" */

struct sts_check_opts {
	const char *resolver; /* "IP[:PORT]"; NULL: /etc/resolv.conf */
	const char *ca_file;  /* trust anchors for the policy host and the MX hosts; NULL: system */
	unsigned smtp_port;   /* 0 = 25 */
	unsigned https_port;  /* 0 = 443 */
	long dns_timeout_ms;  /* per lookup; 0 = 5000 */
	long timeout_ms;      /* per connection (policy fetch, STARTTLS probe); 0 = 15000 */
	unsigned concurrency; /* domains at a time; 0 = 10, at most STS_CHECK_CONCURRENCY_MAX */
	const char *helo;     /* EHLO name; NULL: "localhost" */
	bool no_smtp;	      /* skip the STARTTLS probes */
	/*
	 * Connect the policy fetch to this IP address instead of the policy
	 * host's DNS addresses (apply's verify.resolve, curl's --resolve); the
	 * lookup still runs and a policy host without an address is still a
	 * finding, since senders need DNS. NULL: the DNS addresses.
	 */
	const char *policy_address;
	int warn_days; /* certificates expiring sooner draw a warning; 0 = 14, < 0 never */
	/*
	 * Limits a hostile domain cannot stretch (fail closed: an MX host left
	 * unprobed by either is an error finding, so the domain fails).
	 * max_mx: MX hosts probed per domain, 0 = STS_CHECK_MAX_MX_DEFAULT;
	 * the rest get rule limit-mx. domain_timeout_ms: per domain, from its
	 * first lookup, 0 = STS_CHECK_DOMAIN_TIMEOUT_DEFAULT_MS; it is checked
	 * before each MX host is resolved and probed (a probe under way ends
	 * within timeout_ms), the MX hosts left get rule limit-deadline.
	 */
	unsigned max_mx;
	long domain_timeout_ms;
	long long now; /* Unix time for days left; 0 = now */
	/* desired state for drift; NULL = none. Borrowed for the run. */
	const struct sts_inventory *inventory;
	/* called after each domain (failed: verdict fail), from the worker
	 * threads, one call at a time; NULL: none */
	sts_progress_fn *progress;
	void *progress_ud;
};

#define STS_CHECK_CONCURRENCY_MAX	    512
#define STS_CHECK_MAX_MX_DEFAULT	    32
#define STS_CHECK_MAX_MX_MAX		    1000
#define STS_CHECK_DOMAIN_TIMEOUT_DEFAULT_MS 120000L

struct sts_check_mx {
	char *host; /* lower case, no trailing dot */
	unsigned pref;
	bool matches_policy; /* meaningful when the domain has a valid policy */
	bool probed;	     /* a STARTTLS probe ran */
	bool skipped;	     /* left unprobed by max_mx or the domain deadline (error says which) */
	char *address;	     /* the address probed, or NULL */
	bool starttls;	     /* TLS established through STARTTLS */
	char tls_version[16];
	bool cert_valid; /* chain, SAN name and dates */
	bool have_days;
	long cert_days_left; /* negative once expired */
	char *error;	     /* why the probe stopped short, or NULL */
	char *cert_error;    /* why the certificate is not valid, or NULL */
};

struct sts_check_domain {
	char *domain; /* A-label, lower case */
	enum sts_verdict verdict;
	enum sts_view view;

	/* _mta-sts */
	enum sts_dns_status txt_status;
	char *txt_cname;  /* _mta-sts is a CNAME to this name (first link), or NULL */
	size_t n_sts_txt; /* v=STSv1 records found */
	char *txt;	  /* the only one, or NULL */
	bool txt_valid;
	char *id; /* the id of a valid record */

	/* policy */
	char *policy_host;
	size_t n_policy_addr; /* addresses of the policy host */
	bool fetched;	      /* an HTTP response came back */
	long http_status;
	char *content_type;
	char *location;	    /* of a redirect */
	char *policy_text;  /* the body of a 200, or NULL */
	bool policy_valid;  /* the body parsed without errors */
	bool policy_usable; /* everything a sender needs: TXT, 200, type, certificate, body */
	struct sts_policy policy;

	/* the policy host's certificate */
	bool ph_have_cert;
	bool ph_cert_valid;
	bool ph_have_days;
	long ph_days_left;
	char ph_tls_version[16];

	/* MX */
	enum sts_dns_status mx_status;
	struct sts_check_mx *mx; /* in preference order */
	size_t n_mx;

	/* _smtp._tls */
	enum sts_dns_status tlsrpt_status;
	size_t n_tlsrpt_txt;
	char *tlsrpt; /* the only v=TLSRPTv1 record, or NULL */
	bool tlsrpt_valid;
	char **rua;
	size_t n_rua;

	/* in the order found; rule ids of docs/rfc-rules.md, drift-* or limit-* */
	struct sts_diags findings;
};

struct sts_check_report {
	struct sts_check_domain *domains; /* in the order asked */
	size_t n;
	size_t n_pass, n_warn, n_fail;
};

/*
 * Normalise a domain name as given on the command line: one trailing dot
 * dropped, U-labels to A-labels (libidn2), lower case; then letters,
 * digits and '-' in 1..63-byte labels, at most 253 bytes, two labels at
 * least. STS_OK (*ret malloc'd), STS_EINVAL (*reterr: static text),
 * STS_ENOMEM.
 */
STS_API int sts_check_domain_name(const char *in, char **ret, const char **reterr);

/*
 * Audit names[0..n) (already normalised). STS_OK: ret holds one result per
 * name, in order, whatever each found. STS_EINVAL: a bad option (*reterr
 * says which; reterr may be NULL), STS_EIO: the CA file or the resolver
 * could not be set up, STS_ENOMEM. Release ret in every case.
 */
STS_API int sts_check_run(const char *const *names, size_t n, const struct sts_check_opts *o,
			  struct sts_check_report *ret, const char **reterr);
STS_API void sts_check_report_release(struct sts_check_report *r);

/*
 * The two CNAMEs the customer of a hosted domain D publishes
 * (docs/hosted.md): `_mta-sts.D CNAME <label>._mta-sts.<hosted zone>` and
 * `mta-sts.D CNAME <edge>`, and what DNS shows at each name.
 */
enum sts_hosted_rec_state {
	STS_HOSTED_REC_PRESENT,	  /* a CNAME to the target */
	STS_HOSTED_REC_MISSING,	  /* nothing at the name */
	STS_HOSTED_REC_ELSEWHERE, /* a CNAME to another name (found) */
	STS_HOSTED_REC_CONFLICT,  /* no CNAME but a record of type found: the customer removes it */
	STS_HOSTED_REC_UNKNOWN,	  /* the lookup failed (found: its DNS status) */
};

struct sts_hosted_rec {
	char *name;   /* absolute, with the final dot */
	char *target; /* absolute, with the final dot */
	enum sts_hosted_rec_state state;
	char *found; /* see the states; NULL otherwise */
};

STS_API const char *sts_hosted_rec_state_name(enum sts_hosted_rec_state s);
/* rec[0] (_mta-sts) and rec[1] (mta-sts) of domain with label under h; UNKNOWN until evaluated */
STS_API int sts_hosted_recs_init(struct sts_hosted_rec rec[2], const char *domain,
				 const char *label, const struct sts_hosted_conf *h);
/*
 * The state of rec from the lookups of its name (q: TXT for _mta-sts, A
 * for mta-sts; q2 (may be NULL): AAAA). A CNAME to rec->target or to one
 * of accept[0..n_accept) counts as present.
 */
STS_API int sts_hosted_rec_eval(struct sts_hosted_rec *rec, const struct sts_dns_query *q,
				const struct sts_dns_query *q2, const char *const *accept,
				size_t n_accept);
/* "in place", "missing: add it", ... (one line, no final period) */
STS_API int sts_hosted_rec_describe(const struct sts_hosted_rec *rec, struct sts_buf *out);
STS_API void sts_hosted_rec_release(struct sts_hosted_rec *rec);

/* The --json document: {"domains":[...]} (docs/stsctl-check.md). NULL: no memory. */
STS_API json_t *sts_check_json(const struct sts_check_report *r);

/* The human report, one block per domain. */
STS_API int sts_check_text(const struct sts_check_report *r, struct sts_buf *out);

#endif
