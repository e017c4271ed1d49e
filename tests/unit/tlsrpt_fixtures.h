/* SPDX-License-Identifier: MIT */
/*
 * Fixtures shared by test_ingest.c, test_receiver.c, test_report.c and
 * test_dkim.c: the sample reports in tests/data/tlsrpt/samples/, gzip in
 * memory, a temporary state DB with a fake clock and an ingest
 * configuration that never asks DNS. Include after <cmocka.h>.
 */
#ifndef STS_TEST_TLSRPT_FIXTURES_H
#define STS_TEST_TLSRPT_FIXTURES_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>
#include <zlib.h>

#include "state_fixture.h"
#include "sts_buf.h"
#include "sts_db.h"
#include "sts_err.h"
#include "sts_ingest.h"

#define TFX static __attribute__((unused))

static const char *const json_samples[] = {
    "01-rfc8460-appendix-b.json",
    "02-google-2022-sts-enforce.json",
    "03-microsoft-2023-datetime-without-timezone.json",
    "04-google-2024-no-policy-found.json",
    "05-mailru-2024-sts-fetch-error-http-status.json",
    "06-mailru-2023-sts-fetch-timeout.json",
    "07-microsoft-2024-sts-and-tlsa.json",
    "08-anonymized-google-style-validation-failure.json",
    "09-microsoft-2025-sts-fetch-error-no-ip-no-mx.json",
    "10-unknown-mta-2026-contact-info-null.json",
    "11-egressif-2024-no-policy-found-empty-arrays.json",
    "12-postfix-tlsrpt-reporter-2025-no-policy-domain.json",
    "13-socketlabs-2020-host-mismatch-misspelled-key.json",
    "14-google-2020-multi-policy-validation-failure.json",
};

static const char *const eml_samples[] = {
    "02-google-2022-sts-enforce.eml",	  "03-microsoft-2023-datetime-without-timezone.eml",
    "04-google-2024-no-policy-found.eml", "06-mailru-2023-sts-fetch-timeout.eml",
    "07-microsoft-2024-sts-and-tlsa.eml",
};

#define N_JSON (sizeof(json_samples) / sizeof(json_samples[0]))
#define N_EML  (sizeof(eml_samples) / sizeof(eml_samples[0]))

/* what the 14 JSON samples add up to */
#define SAMPLES_SUCCESSFUL 5399
#define SAMPLES_FAILED	   326

/* tests/data/tlsrpt/samples/NAME (malloc'd); "" gives the directory */
TFX char *sample_path(const char *name)
{
	const char *d = getenv("STS_TEST_DATA");
	char *p = NULL;
	assert_true(asprintf(&p, "%s/tlsrpt/samples/%s", d ? d : "tests/data", name) > 0);
	return p;
}

TFX unsigned char *read_all(const char *path, size_t *len)
{
	struct sts_buf b;
	sts_buf_init(&b, 64u << 20);
	assert_int_equal(sts_buf_read_file(&b, path), STS_OK);
	*len = b.len;
	return (unsigned char *)sts_buf_steal(&b);
}

/* one gzip member of in[0..len) */
TFX unsigned char *gz(const void *in, size_t len, size_t *ret_len)
{
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY),
			 Z_OK);
	size_t cap = deflateBound(&zs, (uLong)len) + 64;
	unsigned char *out = malloc(cap);
	assert_non_null(out);
	zs.next_in = (Bytef *)(uintptr_t)in;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)cap;
	assert_int_equal(deflate(&zs, Z_FINISH), Z_STREAM_END);
	*ret_len = zs.total_out;
	deflateEnd(&zs);
	return out;
}

/* JSON sample i, gzip-compressed or not; NULL past the last one */
TFX unsigned char *sample(size_t i, size_t *len, bool gzip)
{
	if (i >= N_JSON)
		return NULL;
	char *p = sample_path(json_samples[i]);
	unsigned char *j = read_all(p, len);
	free(p);
	if (!gzip)
		return j;
	unsigned char *z = gz(j, *len, len);
	free(j);
	return z;
}

/* a temporary directory with a state DB on a fake clock */
struct tdb {
	char dir[64];
	char db_path[128];
	time_t now;
	struct sts_clock clock;
	struct sts_db *db;
};

static time_t tdb_now(void *ud)
{
	return *(time_t *)ud;
}

TFX int tdb_open(struct tdb *t, const char *name)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/%s.XXXXXX", name);
	if (!mkdtemp(t->dir))
		return -1;
	snprintf(t->db_path, sizeof(t->db_path), "%s/state.db", t->dir);
	t->now = 1780272000; /* 2026-06-01 */
	t->clock.now = tdb_now;
	t->clock.ud = &t->now;
	return state_fixture_open(name, t->db_path, 0, &t->clock, &t->db, NULL) == STS_OK ? 0 : -1;
}

TFX int tdb_close(struct tdb *t)
{
	char cmd[128];
	sts_db_close(t->db);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* reports settings without DNS (no test asks the network), plus extra JSON */
TFX struct sts_ingest_conf *offline_conf(const char *basedir)
{
	json_t *j = json_pack("{s:{s:b}}", "dkim", "dns", 0);
	struct sts_ingest_conf *c = NULL;
	assert_int_equal(sts_ingest_conf_from_json(j, basedir, &c, NULL), STS_OK);
	json_decref(j);
	return c;
}

TFX int64_t q_int(struct sts_db *db, const char *sql, const char *arg, const char *arg2)
{
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(sts_db_handle(db), sql, -1, &st, NULL), SQLITE_OK);
	if (arg)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	if (arg2)
		sqlite3_bind_text(st, 2, arg2, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

#endif
