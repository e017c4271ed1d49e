/* SPDX-License-Identifier: MIT */
#ifndef STS_DIAG_JSON_H
#define STS_DIAG_JSON_H

#include <stdbool.h>

#include <jansson.h>

#include "sts_api.h"
#include "sts_diag.h"

/*
 * The one JSON schema of diagnostics (lint --json, validate --json;
 * docs/stsctl-validate.md): a document
 *   {"valid": bool, "errors": [D], "warnings": [D], "info": [D],
 *    "not_shown": N (only when findings were dropped)}
 * where each D is {"file", "line", "column", "path", "message", "rule"}:
 * file and path are null when unknown, line and column 0 when unknown,
 * rule is left out when the finding has none.
 */

/* A JSON string of s; bytes that are not UTF-8 are written as \xHH. NULL: no memory. */
STS_API json_t *sts_json_string_lossy(const char *s);
/* An array of the n strings of v, each as sts_json_string_lossy() (null for a
 * NULL entry). NULL: no memory. */
STS_API json_t *sts_json_strv(char *const *v, size_t n);

/* [D] for every finding of severity sev; NULL: no memory. */
STS_API json_t *sts_diags_json(const struct sts_diags *d, enum sts_severity sev);

/* The document above with "valid": valid; NULL: no memory. */
STS_API json_t *sts_diags_json_doc(const struct sts_diags *d, bool valid);

#endif
