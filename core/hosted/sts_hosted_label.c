/* SPDX-License-Identifier: MIT */
/*
 * Hosted domains' labels (sts_hosted_label.h): base32 of SHA-256, stored
 * once in hosted_domains with a bounded, deterministic collision fallback.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "sts_dname.h"
#include "sts_err.h"
#include "sts_hosted_label.h"

/* D as an A-label, lower case, no trailing dot: a malloc'd copy */
static int normalized(const char *domain, char **ret)
{
	const char *why = NULL;
	int r = sts_dname_normalize(domain, 0, ret, &why);
	if (r != STS_OK)
		return r == STS_ENOMEM ? r : STS_EINVAL;
	size_t n = strlen(*ret);
	if (n && (*ret)[n - 1] == '.')
		(*ret)[n - 1] = '\0';
	if (sts_dname_check(*ret, STS_DNAME_DOMAIN) != STS_DNAME_OK) {
		free(*ret);
		*ret = NULL;
		return STS_EINVAL;
	}
	return STS_OK;
}

/* RFC 4648 §6, lower case */
static void base32_prefix(const unsigned char *in, size_t n, char *out, size_t want)
{
	static const char alpha[] = "abcdefghijklmnopqrstuvwxyz234567";
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < n && o < want; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5 && o < want) {
			out[o++] = alpha[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	out[o] = '\0';
}

STS_API int sts_hosted_label_nth(const char *domain, unsigned n, char out[STS_HOSTED_LABEL_LEN + 1])
{
	char *a = NULL, *in = NULL;
	int r = normalized(domain, &a);
	if (r < 0)
		return r;
	if (n && asprintf(&in, "%s#%u", a, n) < 0)
		in = NULL, r = STS_ENOMEM;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	const char *msg = n ? in : a;
	if (r == STS_OK && !EVP_Digest(msg, strlen(msg), md, &mdlen, EVP_sha256(), NULL))
		r = STS_ENOMEM;
	if (r == STS_OK)
		base32_prefix(md, mdlen, out, STS_HOSTED_LABEL_LEN);
	free(in);
	free(a);
	return r;
}

STS_API int sts_hosted_label(const char *domain, char out[STS_HOSTED_LABEL_LEN + 1])
{
	return sts_hosted_label_nth(domain, 0, out);
}

/* One text column of the first row of sql bound to arg, under the hold. */
static int select_text(struct sts_db *db, const char *sql, const char *arg, char *ret, size_t cap,
		       bool *ret_found)
{
	struct sts_db_stmt *st = NULL;
	*ret_found = false;
	if (sts_db_prepare(db, sql, &st) != STS_OK)
		return STS_EDB;
	sts_db_bind_text(st, 1, arg);
	int rc = sts_db_step(st), r = STS_OK;
	if (rc == STS_DB_ROW) {
		const char *s = sts_db_col_text(st, 0);
		if (s && strlen(s) < cap) {
			memcpy(ret, s, strlen(s) + 1);
			*ret_found = true;
		}
	} else if (rc != STS_DB_DONE) {
		r = STS_EDB;
	}
	sts_db_finalize(st);
	return r;
}

static bool table_exists(struct sts_db *db)
{
	bool found = false;
	return sts_db_has_table(db, "hosted_domains", &found) == STS_OK && found;
}

STS_API int sts_hosted_label_get(struct sts_db *db, const char *domain,
				 char ret[STS_HOSTED_LABEL_LEN + 1], bool *ret_found)
{
	char *a = NULL;
	*ret_found = false;
	int r = normalized(domain, &a);
	if (r < 0)
		return r;
	sts_db_hold(db);
	if (table_exists(db))
		r = select_text(db, "SELECT label FROM hosted_domains WHERE domain = ?", a, ret,
				STS_HOSTED_LABEL_LEN + 1, ret_found);
	sts_db_unhold(db);
	free(a);
	return r;
}

STS_API int sts_hosted_label_alloc(struct sts_db *db, const char *domain, int64_t now,
				   char ret[STS_HOSTED_LABEL_LEN + 1], bool *ret_new)
{
	char *a = NULL, label[STS_HOSTED_LABEL_LEN + 1], owner[256];
	bool found = false, fresh = false;
	int r = normalized(domain, &a);
	if (r < 0)
		return r;
	if ((r = sts_db_begin(db)) < 0)
		goto out;
	r = select_text(db, "SELECT label FROM hosted_domains WHERE domain = ?", a, label,
			sizeof(label), &found);
	for (unsigned n = 0; r == STS_OK && !found; n++) {
		if (n > STS_HOSTED_LABEL_TRIES) {
			r = STS_EEXIST;
			break;
		}
		if ((r = sts_hosted_label_nth(a, n, label)) < 0)
			break;
		bool taken = false;
		r = select_text(db, "SELECT domain FROM hosted_domains WHERE label = ?", label,
				owner, sizeof(owner), &taken);
		if (r < 0 || taken)
			continue;
		r = sts_db_execf(
		    db, "INSERT INTO hosted_domains (domain, label, since) VALUES (?, ?, ?)", "tti",
		    a, label, now);
		found = fresh = r == STS_OK;
	}
	if (r == STS_OK)
		r = sts_db_commit(db);
	else
		sts_db_rollback(db);
	if (r == STS_OK) {
		memcpy(ret, label, sizeof(label));
		if (ret_new)
			*ret_new = fresh;
	}
out:
	free(a);
	return r;
}
