/* SPDX-License-Identifier: MIT */
/* The renewal policy of ACME certificates: a pure function of its input. */
#include "sts_acme.h"

/* splitmix64: a well-mixed value from any seed */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static long long later(long long a, long long b)
{
	return a > b ? a : b;
}

long long sts_acme_renew_at(const struct sts_acme_renew_in *in)
{
	long long at = in->now;
	long long life = in->not_after - in->not_before;
	if (in->not_after > in->now && life > 0) {
		/* two thirds of the lifetime, earlier by up to a thirtieth */
		at = in->not_before + life / 3 * 2 + (life % 3) * 2 / 3;
		long long span = life / 30;
		if (span > 0)
			at -= (long long)(mix(in->seed) % (uint64_t)(span + 1));
	}
	if (in->failures > 0) {
		long long b = 60;
		for (unsigned i = 1; i < in->failures && b < STS_ACME_BACKOFF_MAX; i++)
			b *= 2;
		if (b > STS_ACME_BACKOFF_MAX)
			b = STS_ACME_BACKOFF_MAX;
		at = later(at, in->last_failure + b);
	}
	return later(at, in->retry_after);
}
