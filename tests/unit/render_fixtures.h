/* SPDX-License-Identifier: MIT */
/*
 * Fixtures shared by test_render.c and test_render_out.c: hand-built
 * domains (the inventory loader is tested on its own), golden files in
 * tests/data/render/ (regenerate with STS_UPDATE_GOLDEN=1 after an
 * intended change, then review the diff), temporary directories and
 * shell helpers. Include after <cmocka.h>.
 */
#ifndef STS_TEST_RENDER_FIXTURES_H
#define STS_TEST_RENDER_FIXTURES_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sts_buf.h"
#include "sts_err.h"
#include "sts_fsutil.h"
#include "sts_inventory.h"
#include "sts_render.h"

static char *mx_two[] = {"mail.example.com", "*.mx.example.net"};
static char *rua_two[] = {"mailto:tlsrpt@example.com", "https://reports.example.com/v1/tlsrpt"};

static inline struct sts_domain domain(const char *name, enum sts_mode mode)
{
	return (struct sts_domain){
	    .name = (char *)name,
	    .mx = mx_two,
	    .n_mx = 2,
	    .mode = mode,
	    .max_age = 604800,
	    .rua = rua_two,
	    .n_rua = 2,
	    .ttl = 3600,
	    .hosting = STS_HOSTING_SELF,
	    .state = STS_STATE_PRESENT,
	    .line = 1,
	    .col = 1,
	};
}

static inline struct sts_domain delegated(const char *name, const char *zone, const char *policy)
{
	struct sts_domain d = domain(name, STS_MODE_ENFORCE);
	d.zone = (char *)zone;
	d.hosting = STS_HOSTING_DELEGATED;
	d.delegate_sts = "_mta-sts.provider.example";
	d.delegate_policy = (char *)policy;
	d.ttl = 300;
	return d;
}

static inline char *read_all(const char *path, size_t *len)
{
	struct sts_buf b;
	sts_buf_init(&b, STS_CAP_TEXT);
	if (sts_buf_read_file(&b, path) < 0) {
		sts_buf_release(&b);
		return NULL;
	}
	if (len)
		*len = b.len;
	return sts_buf_steal(&b);
}

/* Compare with tests/data/render/NAME, or write it when STS_UPDATE_GOLDEN is set. */
static inline void golden(const char *name, const char *data, size_t len)
{
	const char *dir = getenv("STS_TEST_DATA");
	char path[4096];
	snprintf(path, sizeof(path), "%s/render/%s", dir ? dir : "tests/data", name);
	if (getenv("STS_UPDATE_GOLDEN")) {
		assert_int_equal(sts_write_atomic(path, data, len, 0644, false), STS_OK);
		return;
	}
	size_t glen = 0;
	char *g = read_all(path, &glen);
	if (!g)
		fail_msg("cannot read golden file '%s'", path);
	size_t i = 0;
	while (i < len && i < glen && data[i] == g[i])
		i++;
	if (i != len || i != glen)
		fail_msg("'%s' differs at byte %zu (got %zu bytes, want %zu):\n%s", name, i, len,
			 glen, data);
	free(g);
}

static inline void golden_buf(const char *name, const struct sts_buf *b)
{
	golden(name, sts_buf_str(b), b->len);
}

static inline int run_quiet(const char *fmt, ...) STS_PRINTF(1, 2);
static inline int run_quiet(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static inline bool have(const char *prog)
{
	return run_quiet("command -v %s >/dev/null 2>&1", prog) == 0;
}

static inline char *tempdir(void)
{
	char *d = strdup("/tmp/sts-test-render-XXXXXX");
	assert_non_null(d);
	assert_non_null(mkdtemp(d));
	return d;
}

static inline void rmtree(char *d)
{
	assert_int_equal(run_quiet("rm -rf '%s'", d), 0);
	free(d);
}

#endif
