/* SPDX-License-Identifier: MIT */
#ifndef STS_MIME_H
#define STS_MIME_H

#include <stddef.h>
#include <time.h>

#include "sts_api.h"
#include "sts_diag.h"

/*
 * TLS-RPT report e-mail (RFC 8460 §5.3, docs/rfc-rules.md §8.2 E1-E6) taken apart with
 * GMime 3: the report attachments, decoded from base64 or quoted-printable
 * but still gzip when sent as application/tlsrpt+gzip (hand each one to
 * sts_tlsrpt_parse_blob()), plus the header fields the ingester checks.
 *
 * Accepted: multipart/report; report-type=tlsrpt (E1) with parts
 * application/tlsrpt+gzip or application/tlsrpt+json at any multipart depth;
 * a bare top-level application/tlsrpt+gzip|+json message (E6). Tolerated
 * with a warning: another multipart type, a missing report-type, and a
 * report sent as application/gzip, application/octet-stream or
 * application/json whose filename ends in .json.gz or .json. message/rfc822
 * parts are not opened: a forwarded report is not the reporter's message.
 * Rejected (STS_EINVALID): multipart/report with another report-type, a
 * message without any report part. docs/tlsrpt-parsing.md has the details.
 */

#define STS_CAP_MAIL		(20u * 1024u * 1024u) /* one e-mail message */
#define STS_MIME_MAX_REPORTS	64		      /* report parts kept per message */
#define STS_MIME_MAX_MULTIPARTS 16 /* multipart and message parts (nesting costs CPU) */

struct sts_mime_blob {
	char *media_type;    /* lower case: "application/tlsrpt+gzip" */
	char *filename;	     /* Content-Disposition filename or Content-Type name; may be NULL */
	unsigned char *data; /* decoded bytes, NUL-terminated (not counted in len) */
	size_t len;
};

struct sts_mime_reports {
	/* header fields, unfolded and RFC 2047-decoded; NULL when absent */
	char *report_domain;	/* TLS-Report-Domain (E2), lower case */
	char *report_submitter; /* TLS-Report-Submitter (E2), lower case */
	char *subject;
	/* Subject parsed leniently (E3): Microsoft sends Report-ID without
	 * <...@...>; never authoritative (D4). Report-ID is without <>. */
	char *subject_domain;
	char *subject_submitter;
	char *subject_report_id;
	char *from;	  /* addr-spec of the first From mailbox */
	char *message_id; /* without <> */
	time_t date;	  /* Date header, 0 when absent or unparseable */
	/* Exact bytes of the top-level header block (each field with its own
	 * line ends, without the empty line) for DKIM and Authentication-Results;
	 * the body starts at msg + body_offset. */
	char *raw_headers;
	size_t raw_headers_len;
	size_t body_offset;
	struct sts_mime_blob *blobs;
	size_t n_blobs;
	const char **warnings; /* static codes, also in diags with details */
	size_t n_warnings;
};

/*
 * Extract every report attachment from one RFC 5322 message (len bytes,
 * CRLF or LF). On success *ret is new (sts_mime_reports_free()) and holds at
 * least one blob; on failure *ret is untouched and diags has the reason.
 * Returns STS_OK, STS_ETOOLARGE (message over STS_CAP_MAIL, more than
 * STS_MIME_MAX_MULTIPARTS multipart and message parts, a decoded part over
 * STS_CAP_REPORT_COMPRESSED), STS_EPARSE (not a MIME message),
 * STS_EINVALID (no report part, report-type not tlsrpt) or STS_ENOMEM.
 */
STS_API int sts_mime_extract_reports(const void *msg, size_t len, struct sts_mime_reports **ret,
				     struct sts_diags *diags);

STS_API void sts_mime_reports_free(struct sts_mime_reports *r);

#endif
