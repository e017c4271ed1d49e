/* SPDX-License-Identifier: MIT */
#ifndef STS_REPORTERS_H
#define STS_REPORTERS_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "sts_api.h"

/*
 * Who counts as a reporter (docs/rollout.md "Evidence", docs/security.md).
 *
 * A TLS report is evidence for the rollout only when its identity is a
 * listed reporter. The identity of an e-mailed report is the
 * organisational domain (Public Suffix List, libpsl) of the d= of the DKIM
 * signature that verified it (or of the header.d of a trusted MTA's
 * Authentication-Results); the identity of a report from a trusted source
 * (a file, directory, Maildir, mailbox or receiver the operator vouches
 * for) is that source's name. What a report says about itself
 * (organization-name, contact-info, TLS-Report-Submitter) never is.
 *
 * The list: the built-in reporters below, plus reports.reporters.add,
 * minus reports.reporters.remove, plus the names of the configured trusted
 * sources (the operator listed them by configuring them).
 */

/* One built-in reporter: its organisational domain and where we know it from. */
struct sts_reporter_builtin {
	const char *domain;
	const char *source;
};

/* The built-in list, NULL-terminated (domain NULL). */
STS_API const struct sts_reporter_builtin *sts_reporters_builtin(void);

/*
 * The organisational domain of name (RFC 7489 §3.2 with the Public Suffix
 * List): lower case, no trailing dot; "mail.google.com" -> "google.com",
 * "corp.mail.ru" -> "mail.ru". STS_OK, STS_EINVAL (not a domain name, or a
 * public suffix itself), STS_ENOMEM; *ret is malloc'd.
 */
STS_API int sts_reporters_orgdomain(const char *name, char **ret);

struct sts_reporters;

/*
 * The effective list from the inventory's "reports" object (NULL: the
 * built-in list only): built-in + reporters.add - reporters.remove + the
 * names of sources and of the receiver with "trusted": true. The JSON is
 * expected to be validated (sts_inventory); entries that are not strings
 * are ignored. STS_OK or STS_ENOMEM.
 */
STS_API int sts_reporters_from_json(const json_t *reports, struct sts_reporters **ret);
STS_API void sts_reporters_free(struct sts_reporters *l);
/* Is identity (case-insensitive) listed? NULL or "" never is. */
STS_API bool sts_reporters_has(const struct sts_reporters *l, const char *identity);
STS_API size_t sts_reporters_count(const struct sts_reporters *l);
STS_API const char *sts_reporters_get(const struct sts_reporters *l, size_t i);

#endif
