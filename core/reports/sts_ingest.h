/* SPDX-License-Identifier: MIT */
#ifndef STS_INGEST_H
#define STS_INGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "sts_api.h"
#include "sts_db.h"
#include "sts_dkim.h"
#include "sts_gzip.h"
#include "sts_reporters.h"
#include "sts_tlsrpt.h"

/*
 * TLS-RPT ingestion into the state DB (docs/stsctl-ingest.md): reports
 * from files and directories (.json, .json.gz, .eml), Maildir, IMAP and
 * the HTTPS receiver (sts_receiver.h) are parsed (sts_tlsrpt.h,
 * sts_mime.h), authenticated (sts_dkim.h), deduplicated, kept compressed
 * and counted into per-domain, per-day aggregates. Input that cannot be
 * used goes to a quarantine with the reason; nothing is dropped silently.
 *
 * Evidence: every report is stored with authenticated = 1 or 0, the
 * reason, and its reporter identity (sts_reporters.h: the organisational
 * domain of the verified DKIM d=, or the name of the trusted source it came
 * from). The rollout watcher counts authenticated reports of listed
 * reporters only, unless the inventory says "reports": {"evidence": "all"}.
 * A report whose DKIM key lookup failed for now (SERVFAIL, timeout) is
 * stored "pending" with its message and verified again by
 * sts_ingest_recheck_pending().
 */

/* ---- configuration: the inventory's top-level "reports" section ---- */

enum sts_imap_processed {
	STS_IMAP_SEEN, /* processed messages get \Seen; only UNSEEN ones are read */
	STS_IMAP_MOVE, /* processed messages are moved to move_to; all are read */
};

struct sts_ingest_source {
	char *spec;	/* a path, "maildir:PATH", "imap://..." or "imaps://..." */
	char *user;	/* IMAP login, NULL when none */
	char *password; /* IMAP: a secret reference (${env:..}, ${file:..}) or NULL */
	char *ca_file;	/* IMAP: CA bundle; NULL = the system store */
	enum sts_imap_processed processed;
	char *move_to;	       /* STS_IMAP_MOVE: the mailbox */
	bool trusted;	       /* files, directories, Maildir: count as evidence */
	char *name;	       /* the reporter a trusted source stands for (required then) */
	unsigned max_messages; /* IMAP: per run; 0 = 10000 */
};

#define STS_RECEIVER_DEFAULT_PATH "/tlsrpt"
#define STS_RECEIVER_MAX_BODY	  STS_CAP_REPORT_COMPRESSED

struct sts_ingest_https {
	bool present;		  /* the inventory has reports.https */
	char *listen;		  /* "ADDR:PORT", "[ADDR]:PORT" or ":PORT" */
	char *path;		  /* the only path that accepts POSTs */
	char *cert;		  /* PEM file of the certificate (chain) */
	char *key;		  /* PEM file of the key, or a secret reference to the PEM text */
	size_t max_body;	  /* bytes */
	bool trusted;		  /* posted reports count as evidence (authenticating proxy) */
	char *name;		  /* trusted: the reporter it stands for */
	unsigned max_connections; /* 0 = 64 */
	unsigned timeout_s;	  /* per connection; 0 = 30 */
	/* abuse limits (sts_receiver.h; 0 = the defaults there) */
	unsigned request_timeout_s;	      /* absolute, per request */
	size_t body_memory;		      /* bytes of bodies in memory, all requests */
	unsigned per_ip_connections;	      /* per client address (IPv6: /64) */
	unsigned per_ip_requests;	      /* per client and minute */
	long long quota_reports, quota_bytes; /* unauthenticated input stored; 0 = below */
};

/* The default storage quota for unauthenticated input, shared by ingest and
 * the receiver (sts_receiver.h names them STS_RECEIVER_QUOTA_*). */
#define STS_INGEST_QUOTA_REPORTS 100000
#define STS_INGEST_QUOTA_BYTES	 (1024LL * 1024 * 1024)

struct sts_ingest_retention {
	unsigned raw_days;	  /* raw reports; 0 = keep forever */
	unsigned report_days;	  /* report rows (dedup keys) and aggregates; 0 = forever */
	unsigned quarantine_days; /* quarantined input; 0 = forever */
};

#define STS_RETENTION_RAW_DAYS	      90
#define STS_RETENTION_REPORT_DAYS     730
#define STS_RETENTION_QUARANTINE_DAYS 90

struct sts_ingest_conf {
	struct sts_ingest_source *sources;
	size_t n_sources;
	struct sts_ingest_https https;
	/* DKIM keys, DNS, trusted MTAs; the arrays below are owned */
	char **key_names, **key_values;
	size_t n_keys;
	bool dkim_dns;
	char *dkim_resolver;
	long dkim_timeout_ms;
	char **trusted_mtas;
	size_t n_trusted_mtas;
	bool evidence_all;		 /* "evidence": "all": unauthenticated reports count too */
	struct sts_reporters *reporters; /* the effective reporter allow-list */
	struct sts_ingest_retention retention;
	char *basedir; /* relative paths and ${file:..} are relative to it */
};

/*
 * Read a "reports" object (inventory->root's, already validated by the
 * inventory loader; NULL = all defaults). Relative paths are resolved
 * against basedir. Returns STS_OK, STS_EINVALID (*reterr says why, a
 * malloc'd string) or STS_ENOMEM.
 */
STS_API int sts_ingest_conf_from_json(const json_t *reports, const char *basedir,
				      struct sts_ingest_conf **ret, char **reterr);
STS_API void sts_ingest_conf_free(struct sts_ingest_conf *c);
/* The configured source whose spec equals spec (URLs: also without a trailing '/'), or NULL. */
STS_API const struct sts_ingest_source *sts_ingest_conf_source(const struct sts_ingest_conf *c,
							       const char *spec);
/* The DKIM settings of c as a struct sts_dkim_conf (borrowing c's arrays). */
STS_API void sts_ingest_conf_dkim(const struct sts_ingest_conf *c, struct sts_dkim_conf *ret);

/* ---- schema ---- */

#define STS_INGEST_COMPONENT "reports"
/* Create or migrate the report tables (docs/stsctl-ingest.md). */
STS_API int sts_ingest_schema(struct sts_db *db);

/* ---- ingestion ---- */

enum sts_ingest_channel {
	STS_CH_FILE,	/* a .json / .json.gz file */
	STS_CH_EML,	/* an .eml file */
	STS_CH_MAILDIR, /* a Maildir message */
	STS_CH_IMAP,	/* an IMAP message */
	STS_CH_HTTPS,	/* an RFC 8460 §5.4 POST */
};
STS_API const char *sts_ingest_channel_name(enum sts_ingest_channel ch);

enum sts_ingest_outcome {
	STS_INGEST_STORED,	/* a new report */
	STS_INGEST_DUPLICATE,	/* seen before: not counted again */
	STS_INGEST_UPGRADED,	/* seen before unauthenticated, now authenticated */
	STS_INGEST_QUARANTINED, /* unusable input, kept with the reason */
	STS_INGEST_SKIPPED,	/* a file that is no report (by its name) */
	STS_INGEST_REFUSED,	/* would be pending past the storage quota: not stored,
				 * left in its source for the next run */
};
STS_API const char *sts_ingest_outcome_name(enum sts_ingest_outcome o);

/* One per report, per quarantined input and per skipped file. */
struct sts_ingest_event {
	enum sts_ingest_outcome outcome;
	enum sts_ingest_channel channel;
	const char *source; /* path, "maildir:PATH/cur/NAME", "imaps://host/INBOX;UID=7", peer */
	const char *organization; /* of the report, may be NULL */
	const char *report_id;	  /* may be NULL */
	bool authenticated;
	const char *auth_reason;
	const char *reason;   /* QUARANTINED: why; SKIPPED: why */
	size_t n_warnings;    /* parser warnings of the report */
	const char *warnings; /* their codes, space-separated ("" when none) */
	int64_t row;	      /* tlsrpt_reports.id or tlsrpt_quarantine.id; 0 if none */
};

struct sts_ingest_stats {
	size_t inputs; /* files, messages, POST bodies read */
	size_t stored; /* new reports */
	size_t duplicates;
	size_t upgraded;
	size_t quarantined; /* inputs or report parts quarantined (repeats included) */
	size_t skipped;
	size_t source_errors; /* sources that could not be read (each reported once) */
	size_t refused;	      /* inputs refused: the storage quota is full (left in place) */
};

struct sts_ingest_opts {
	const struct sts_ingest_conf *conf; /* NULL: defaults */
	bool trusted_files; /* `ingest --trusted`: files, directories, Maildir are authenticated */
	const char *trusted_name; /* `ingest --trusted NAME`: the reporter they stand for */
	unsigned jobs;		  /* parser threads for directories and Maildir; 0 = CPUs (max 8) */
	unsigned batch;		  /* reports per transaction; 0 = 2000 */
	void (*on_event)(void *ud, const struct sts_ingest_event *ev);
	/* a source (directory, mailbox) failed: called once, ingestion goes on */
	void (*on_source_error)(void *ud, const char *source, int err, const char *msg);
	void *ud;
};

struct sts_ingest;

/*
 * Bind to db (the caller holds the state lock) and migrate the schema.
 * Returns STS_OK, STS_EDB (sts_db_errmsg()), STS_ENOMEM, STS_EIO (DKIM).
 */
STS_API int sts_ingest_new(struct sts_db *db, const struct sts_ingest_opts *o,
			   struct sts_ingest **ret);
/* Rolls back what sts_ingest_finish() did not commit. */
STS_API void sts_ingest_free(struct sts_ingest *ing);
/* Commit the pending batch. STS_OK or STS_EDB. */
STS_API int sts_ingest_finish(struct sts_ingest *ing);
STS_API const struct sts_ingest_stats *sts_ingest_get_stats(const struct sts_ingest *ing);
/* Text of the last STS_EDB / source error ("" if none). */
STS_API const char *sts_ingest_errmsg(const struct sts_ingest *ing);

/*
 * One SOURCE as `stsctl ingest` takes it: "maildir:PATH", "imap://..."
 * or "imaps://..." (settings from the configured source with that spec),
 * else a file or a directory (read recursively: *.json, *.json.gz, *.eml;
 * other names are skipped). Returns STS_OK when the source was read
 * (whatever was quarantined), STS_ENOENT/-errno when it cannot be read,
 * STS_EINVAL for a bad spec, STS_ENET/STS_ETLS/STS_EAUTH for IMAP, STS_EDB
 * or STS_ENOMEM (ingestion must stop).
 */
STS_API int sts_ingest_source(struct sts_ingest *ing, const char *spec);
STS_API int sts_ingest_path(struct sts_ingest *ing, const char *path);
STS_API int sts_ingest_maildir(struct sts_ingest *ing, const char *dir);
STS_API int sts_ingest_imap(struct sts_ingest *ing, const struct sts_ingest_source *src);

/*
 * One report body (HTTPS POST, or a decoded attachment) or one e-mail
 * message, committed at once (the caller answers the sender only then).
 * ret_outcome/ret_reason (static or owned by ing until the next call; may
 * be NULL) say what happened to it; a message with several reports gives
 * the worst outcome. Returns STS_OK, STS_EDB or STS_ENOMEM.
 */
STS_API int sts_ingest_blob(struct sts_ingest *ing, const void *data, size_t len,
			    enum sts_ingest_channel ch, const char *source, bool authenticated,
			    const char *auth_reason, enum sts_ingest_outcome *ret_outcome,
			    const char **ret_reason);
STS_API int sts_ingest_message(struct sts_ingest *ing, const void *msg, size_t len,
			       enum sts_ingest_channel ch, const char *source,
			       enum sts_ingest_outcome *ret_outcome, const char **ret_reason);

/*
 * Verify again the reports left pending by a temporary DKIM key lookup
 * failure (their messages are kept): a pass makes them authenticated (the
 * better copy replaces the stored one), a permanent failure makes them
 * unauthenticated, another temporary failure leaves them pending.
 * *ret_n (may be NULL): how many are still pending. STS_OK, STS_EDB,
 * STS_ENOMEM.
 */
STS_API int sts_ingest_recheck_pending(struct sts_ingest *ing, size_t *ret_n);

/*
 * What the storage quota for unauthenticated input counts in db
 * (docs/stsctl-receive.md "Limits"): the reports stored not authenticated,
 * pending ones included, by the size of their raw report plus, when
 * pending, of their kept message; and the quarantined inputs. One scan of
 * each table. STS_OK or STS_EDB.
 */
STS_API int sts_ingest_quota_used(struct sts_db *db, long long *ret_n, long long *ret_bytes);
/* A signer controls its own DNS: pending is bounded (sts_ingest_recheck_pending). */
#define STS_PENDING_MAX_DAYS 3	 /* then unauthenticated */
#define STS_PENDING_PER_RUN  100 /* verified again per run, oldest first */
#define STS_PENDING_BUDGET_S 60	 /* seconds per run */
/*
 * The same for the watcher: with the settings of an inventory's "reports"
 * object (relative paths against basedir), on db (the caller holds the
 * state lock). Nothing pending: returns at once.
 */
STS_API int sts_ingest_recheck_db(struct sts_db *db, const json_t *reports, const char *basedir,
				  size_t *ret_n);

/*
 * Why a stored report is or is not evidence, for `report --json` and
 * `status --json`: *ret_why is NULL when it counts, else a static or
 * malloc'd (*ret_owned) text such as "reporter attacker.example is not in
 * reports.reporters". evidence_all: "evidence": "all" (everything counts).
 */
STS_API bool sts_ingest_evidence(const struct sts_reporters *l, bool evidence_all,
				 bool authenticated, bool pending, const char *reporter,
				 const char *auth_reason, char **ret_why);

/* ---- retention (stsctl prune, and the watcher) ---- */

struct sts_ingest_pruned {
	size_t raw;	   /* raw reports dropped (the report rows stay) */
	size_t reports;	   /* report rows deleted */
	size_t daily;	   /* aggregate rows deleted */
	size_t failures;   /* failure aggregate rows deleted */
	size_t quarantine; /* quarantined inputs deleted */
};

/*
 * Drop what is older than the retention periods, measured from the end of
 * the report's date range (quarantine: from when it was received) to the
 * DB's clock. dry_run counts without deleting. STS_OK or STS_EDB.
 */
STS_API int sts_ingest_prune(struct sts_db *db, const struct sts_ingest_retention *keep,
			     bool dry_run, struct sts_ingest_pruned *ret);

/*
 * Hex digest (16 characters + NUL) identifying a policy-string as a set of
 * lines (sts_tlsrpt_policy_lines_equal() rules): what the aggregates store
 * as policy_digest, so the watcher can match a served policy text (split
 * at line ends) to reports about it. "" for no lines.
 */
STS_API void sts_ingest_policy_digest(char *const *lines, size_t n, char out[17]);

#endif
