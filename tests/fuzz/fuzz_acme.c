/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the ACME client's parsers of a server's JSON
 * (core/acme/sts_acme_parse.c). The whole input is fed to each: the
 * problem document, the directory, the order and the authorization.
 * Aborts when a parse that succeeded misses what it promises (the
 * required members set, counts matching the arrays).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sts_acme.h"
#include "sts_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct sts_acme_problem p;
	if (sts_acme_problem_parse(s, size, 500, &p) == STS_OK && !p.type)
		abort();
	if (p.status != 500 && (p.status < 100 || p.status > 599))
		abort();
	sts_acme_problem_release(&p);

	struct sts_acme_directory d;
	if (sts_acme_directory_parse(s, size, &d) == STS_OK &&
	    (!d.new_nonce || !d.new_account || !d.new_order))
		abort();
	sts_acme_directory_release(&d);

	struct sts_acme_order o;
	if (sts_acme_order_parse(s, size, &o) == STS_OK) {
		if (!o.status || !o.finalize || (o.n_authz && !o.authz))
			abort();
		for (size_t i = 0; i < o.n_authz; i++)
			if (!o.authz[i])
				abort();
	}
	sts_acme_order_release(&o);

	struct sts_acme_authz z;
	if (sts_acme_authz_parse(s, size, &z) == STS_OK) {
		if (!z.status || !z.identifier)
			abort();
		for (size_t i = 0; i < z.n_chal; i++)
			if (!z.chal[i].type || !z.chal[i].url || !z.chal[i].status)
				abort();
	}
	sts_acme_authz_release(&z);
	return 0;
}
