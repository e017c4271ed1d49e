/* SPDX-License-Identifier: MIT */
#ifndef STS_API_H
#define STS_API_H

/* libsts is built with hidden visibility; exported symbols carry STS_API. */
#define STS_API __attribute__((visibility("default")))

#define STS_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* STS_TESTABLE: static, except in unit-test builds (curl's UNITTEST). */
#ifdef STS_UNIT_TESTS
#define STS_TESTABLE STS_API
#else
#define STS_TESTABLE static
#endif

#endif
