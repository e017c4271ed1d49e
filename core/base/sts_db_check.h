/* SPDX-License-Identifier: MIT */
#ifndef STS_DB_CHECK_H
#define STS_DB_CHECK_H

#include <stddef.h>

#include "sts_api.h"

/*
 * What can be checked of a state DB without trusting it (docs/state.md,
 * "Recovery"), and its online backup. Both open the file directly, never
 * through sts_db_open(), which refuses a damaged state.
 */

enum sts_db_level {
	STS_DB_NOTE = 0,	 /* worth knowing; nothing is wrong */
	STS_DB_INCONSISTENT = 1, /* readable, but rows disagree with each other */
	STS_DB_DAMAGED = 2,	 /* unusable: corrupt, not a database, schema too new */
};

struct sts_db_finding {
	enum sts_db_level level;
	char *check;   /* "integrity", "schema", "runs", "journal", "policies", ... */
	char *message; /* lowercase, one line */
};

struct sts_db_findings {
	struct sts_db_finding *v;
	size_t n;
	enum sts_db_level worst; /* STS_DB_NOTE without findings */
};

/* What this stsctl knows: a component and the last schema version it has. */
struct sts_db_component {
	const char *name;
	int version;
};

/*
 * Check the state DB at path: PRAGMA quick_check, then (when it passes)
 * integrity_check; each component's schema version against known[]; and
 * the consistency of its rows: runs still "running" while no process holds
 * the lock (PATH.lock), journal rows of no run, managed domains without any
 * run recorded, more than one current policy of a domain, hosted policies
 * of a domain without a label. Read-only.
 * STS_OK with ret filled (release with sts_db_findings_release), STS_ENOENT
 * (no file), STS_ENOMEM.
 */
STS_API int sts_db_check(const char *path, const struct sts_db_component *known, size_t n_known,
			 struct sts_db_findings *ret);
STS_API void sts_db_findings_release(struct sts_db_findings *f);

/*
 * Online backup of the state DB at path into dest through SQLite's backup
 * API, consistent while other processes read or write it: written to a
 * temporary file beside dest, checked (quick_check), fsync'd and renamed
 * over dest (then the directory fsync'd), mode 0600. STS_OK, STS_ENOENT
 * (no state), STS_EDB (a damaged state, or SQLite failed), -errno;
 * reterr gets the message.
 */
STS_API int sts_db_backup(const char *path, const char *dest, char **reterr);

#endif
