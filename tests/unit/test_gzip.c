/* SPDX-License-Identifier: MIT */
/* Bounded gunzip (core/base/sts_gzip.c): members, truncation, garbage, bombs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include <cmocka.h>

#include "sts_buf.h"
#include "sts_err.h"
#include "sts_gzip.h"

/* gzip one buffer in memory (one member) */
static unsigned char *gz(const void *in, size_t len, size_t *ret_len)
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

static const char *last_msg(const struct sts_diags *d)
{
	return d->n ? d->v[d->n - 1].message : "";
}

static void test_magic(void **state)
{
	assert_true(sts_gzip_is_gzip("\x1f\x8b\x08", 3));
	assert_true(sts_gzip_is_gzip("\x1f\x8b", 2));
	assert_false(sts_gzip_is_gzip("\x1f", 1));
	assert_false(sts_gzip_is_gzip("", 0));
	assert_false(sts_gzip_is_gzip("{\"a\":1}", 7));
	assert_false(sts_gzip_is_gzip("\x8b\x1f", 2));
}

static void test_roundtrip(void **state)
{
	static const char text[] = "{\"organization-name\":\"Example\",\"policies\":[]}\n";
	size_t zlen, olen = 0;
	unsigned char *z = gz(text, strlen(text), &zlen);
	char *out = NULL;
	struct sts_diags d;
	sts_diags_init(&d);
	assert_int_equal(sts_gzip_inflate(z, zlen, 1024, &out, &olen, &d), STS_OK);
	assert_int_equal(olen, strlen(text));
	assert_string_equal(out, text); /* NUL-terminated */
	assert_int_equal(d.n, 0);
	free(out);
	free(z);
	sts_diags_release(&d);
}

static void test_empty_member(void **state)
{
	size_t zlen, olen = 99;
	unsigned char *z = gz("", 0, &zlen);
	char *out = NULL;
	assert_int_equal(sts_gzip_inflate(z, zlen, 1024, &out, &olen, NULL), STS_OK);
	assert_int_equal(olen, 0);
	assert_non_null(out);
	assert_string_equal(out, "");
	free(out);
	free(z);
}

static void test_multiple_members(void **state)
{
	size_t la, lb, olen;
	unsigned char *a = gz("hello ", 6, &la);
	unsigned char *b = gz("world", 5, &lb);
	unsigned char *cat = malloc(la + lb + 4);
	memcpy(cat, a, la);
	memcpy(cat + la, b, lb);
	memset(cat + la + lb, 0, 4); /* NUL padding is ignored */
	char *out = NULL;
	assert_int_equal(sts_gzip_inflate(cat, la + lb + 4, 1024, &out, &olen, NULL), STS_OK);
	assert_int_equal(olen, 11);
	assert_string_equal(out, "hello world");
	free(out);
	/* the cap covers all members together */
	out = NULL;
	assert_int_equal(sts_gzip_inflate(cat, la + lb, 8, &out, &olen, NULL), STS_ETOOLARGE);
	assert_null(out);
	free(a);
	free(b);
	free(cat);
}

static void test_trailing_garbage(void **state)
{
	size_t zlen, olen = 0;
	unsigned char *z = gz("{}", 2, &zlen);
	unsigned char *g = malloc(zlen + 5);
	memcpy(g, z, zlen);
	memcpy(g + zlen, "junk!", 5);
	char *out = NULL;
	struct sts_diags d;
	sts_diags_init(&d);
	assert_int_equal(sts_gzip_inflate(g, zlen + 5, 1024, &out, &olen, &d), STS_EPARSE);
	assert_null(out);
	assert_int_equal(d.n_errors, 1);
	assert_string_equal(last_msg(&d), "trailing data after gzip member");
	sts_diags_release(&d);
	free(g);
	free(z);
}

static void test_truncated(void **state)
{
	char text[4096];
	for (size_t i = 0; i < sizeof(text); i++)
		text[i] = (char)('a' + (i * 7 + i / 13) % 26);
	size_t zlen;
	unsigned char *z = gz(text, sizeof(text), &zlen);
	/* every cut, from inside the header to the last trailer byte */
	for (size_t cut = 2; cut < zlen; cut++) {
		char *out = NULL;
		size_t olen = 0;
		struct sts_diags d;
		sts_diags_init(&d);
		int r = sts_gzip_inflate(z, cut, 1 << 20, &out, &olen, &d);
		assert_int_equal(r, STS_EPARSE);
		assert_null(out);
		assert_int_equal(d.n_errors, 1);
		assert_string_equal(last_msg(&d), "gzip stream is truncated");
		sts_diags_release(&d);
	}
	free(z);
}

static void test_corrupt(void **state)
{
	size_t zlen, olen;
	unsigned char *z = gz("{\"report\":true}", 15, &zlen);
	char *out = NULL;
	struct sts_diags d;
	sts_diags_init(&d);
	z[zlen - 8] ^= 0xff; /* CRC32 */
	assert_int_equal(sts_gzip_inflate(z, zlen, 1024, &out, &olen, &d), STS_EPARSE);
	assert_null(out);
	assert_string_equal(last_msg(&d), "corrupt gzip stream: incorrect data check");
	z[zlen - 8] ^= 0xff;
	z[zlen - 1] ^= 0x01; /* ISIZE */
	assert_int_equal(sts_gzip_inflate(z, zlen, 1024, &out, &olen, &d), STS_EPARSE);
	assert_string_equal(last_msg(&d), "corrupt gzip stream: incorrect length check");
	z[zlen - 1] ^= 0x01;
	z[2] = 7; /* compression method other than deflate */
	assert_int_equal(sts_gzip_inflate(z, zlen, 1024, &out, &olen, &d), STS_EPARSE);
	assert_string_equal(last_msg(&d), "corrupt gzip stream: unknown compression method");
	assert_int_equal(d.n_errors, 3);
	assert_null(out);
	sts_diags_release(&d);
	free(z);
}

static void test_not_gzip(void **state)
{
	char *out = NULL;
	size_t olen;
	struct sts_diags d;
	sts_diags_init(&d);
	assert_int_equal(sts_gzip_inflate("{}", 2, 1024, &out, &olen, &d), STS_EPARSE);
	assert_int_equal(sts_gzip_inflate("", 0, 1024, &out, &olen, &d), STS_EPARSE);
	/* a zlib (RFC 1950) stream is not gzip */
	unsigned char zl[64];
	uLongf zll = sizeof(zl);
	assert_int_equal(compress(zl, &zll, (const Bytef *)"{}", 2), Z_OK);
	assert_int_equal(sts_gzip_inflate(zl, zll, 1024, &out, &olen, &d), STS_EPARSE);
	assert_string_equal(last_msg(&d), "input is not a gzip stream");
	assert_null(out);
	sts_diags_release(&d);
}

static void test_input_cap(void **state)
{
	size_t n = STS_CAP_REPORT_COMPRESSED + 1;
	unsigned char *big = calloc(1, n);
	big[0] = 0x1f;
	big[1] = 0x8b;
	char *out = NULL;
	size_t olen;
	struct sts_diags d;
	sts_diags_init(&d);
	assert_int_equal(sts_gzip_inflate(big, n, STS_CAP_REPORT, &out, &olen, &d), STS_ETOOLARGE);
	assert_string_equal(last_msg(&d), "compressed report is larger than 10485760 bytes");
	assert_null(out);
	sts_diags_release(&d);
	free(big);
}

/*
 * A gzip member declaring 1000 MiB of zeros, built without compressing
 * 1000 MiB: after Z_FULL_FLUSH deflate keeps no history, so every further
 * 1 MiB chunk of zeros compresses to the same bytes; repeat those, close
 * with an empty final block and a trailer (CRC32, ISIZE) for the full size.
 */
#define BOMB_MIB 1000u
static unsigned char *make_bomb(size_t *ret_len)
{
	size_t mib = 1u << 20;
	unsigned char *zeros = calloc(1, mib);
	size_t cap = 4u << 20, len = 0, chunk_len[3];
	unsigned char *chunk[3];
	z_stream zs;

	memset(&zs, 0, sizeof(zs));
	assert_int_equal(deflateInit2(&zs, 9, Z_DEFLATED, 16 + MAX_WBITS, 9, Z_DEFAULT_STRATEGY),
			 Z_OK);
	for (int i = 0; i < 3; i++) {
		chunk[i] = malloc(cap);
		zs.next_in = zeros;
		zs.avail_in = (uInt)mib;
		zs.next_out = chunk[i];
		zs.avail_out = (uInt)cap;
		assert_int_equal(deflate(&zs, Z_FULL_FLUSH), Z_OK);
		assert_int_equal(zs.avail_in, 0);
		chunk_len[i] = cap - zs.avail_out;
	}
	deflateEnd(&zs);
	/* chunks 2 and 3 are identical: the repeatable unit */
	assert_int_equal(chunk_len[1], chunk_len[2]);
	assert_memory_equal(chunk[1], chunk[2], chunk_len[1]);

	size_t total = chunk_len[0] + (BOMB_MIB - 1) * chunk_len[1] + 2 + 8;
	unsigned char *bomb = malloc(total);
	memcpy(bomb, chunk[0], chunk_len[0]);
	len = chunk_len[0];
	for (unsigned i = 1; i < BOMB_MIB; i++, len += chunk_len[1])
		memcpy(bomb + len, chunk[1], chunk_len[1]);
	bomb[len++] = 0x03; /* final, fixed Huffman, end of block */
	bomb[len++] = 0x00;
	uLong crc1 = crc32(0, zeros, (uInt)mib), crc = crc1;
	for (unsigned i = 1; i < BOMB_MIB; i++)
		crc = crc32_combine(crc, crc1, (z_off_t)mib);
	uint32_t isize = BOMB_MIB * (uint32_t)mib;
	for (int i = 0; i < 4; i++)
		bomb[len++] = (unsigned char)(crc >> (8 * i));
	for (int i = 0; i < 4; i++)
		bomb[len++] = (unsigned char)(isize >> (8 * i));
	assert_int_equal(len, total);
	for (int i = 0; i < 3; i++)
		free(chunk[i]);
	free(zeros);
	*ret_len = len;
	return bomb;
}

static void test_bomb_stops_at_cap(void **state)
{
	size_t blen, olen = 0;
	unsigned char *bomb = make_bomb(&blen);
	/* ~1 MB of input declaring 1000 MiB */
	assert_true(blen < 2u << 20);
	uint32_t isize = (uint32_t)bomb[blen - 4] | (uint32_t)bomb[blen - 3] << 8 |
			 (uint32_t)bomb[blen - 2] << 16 | (uint32_t)bomb[blen - 1] << 24;
	assert_int_equal(isize, 1000u * 1024u * 1024u);

	/* sanity: the bomb is a valid gzip stream (first 64 KiB decode) */
	z_stream zs;
	unsigned char head[65536];
	memset(&zs, 0, sizeof(zs));
	assert_int_equal(inflateInit2(&zs, 16 + MAX_WBITS), Z_OK);
	zs.next_in = bomb;
	zs.avail_in = (uInt)blen;
	zs.next_out = head;
	zs.avail_out = sizeof(head);
	assert_int_equal(inflate(&zs, Z_NO_FLUSH), Z_OK);
	assert_int_equal(zs.avail_out, 0);
	inflateEnd(&zs);

	char *out = NULL;
	struct sts_diags d;
	sts_diags_init(&d);
	clock_t t0 = clock();
	assert_int_equal(sts_gzip_inflate(bomb, blen, STS_CAP_REPORT, &out, &olen, &d),
			 STS_ETOOLARGE);
	/* stopped at the cap: far less work than inflating 1000 MiB */
	assert_true((double)(clock() - t0) / CLOCKS_PER_SEC < 30.0);
	assert_null(out);
	assert_int_equal(olen, 0);
	assert_int_equal(d.n_errors, 1);
	assert_string_equal(last_msg(&d),
			    "decompressed report exceeds 10485760 bytes (gzip bomb?)");
	sts_diags_release(&d);
	free(bomb);
}

static void test_bomb_ratio(void **state)
{
	/* 4 MiB of zeros: ~4 KiB compressed, under the 10 MiB cap but ~1000:1 */
	size_t n = 4u << 20, zlen, olen;
	char *zeros = calloc(1, n);
	unsigned char *z = gz(zeros, n, &zlen);
	assert_true(zlen < 8192);
	char *out = NULL;
	struct sts_diags d;
	sts_diags_init(&d);
	assert_int_equal(sts_gzip_inflate(z, zlen, STS_CAP_REPORT, &out, &olen, &d), STS_ETOOLARGE);
	assert_null(out);
	assert_string_equal(last_msg(&d), "compression ratio exceeds 200:1 (gzip bomb?)");
	sts_diags_release(&d);
	/* small outputs are never refused for their ratio */
	free(z);
	z = gz(zeros, STS_GZIP_MIN_RATIO_CHECK, &zlen);
	assert_int_equal(sts_gzip_inflate(z, zlen, STS_CAP_REPORT, &out, &olen, NULL), STS_OK);
	assert_int_equal(olen, STS_GZIP_MIN_RATIO_CHECK);
	free(out);
	free(z);
	free(zeros);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_magic),
	    cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_empty_member),
	    cmocka_unit_test(test_multiple_members),
	    cmocka_unit_test(test_trailing_garbage),
	    cmocka_unit_test(test_truncated),
	    cmocka_unit_test(test_corrupt),
	    cmocka_unit_test(test_not_gzip),
	    cmocka_unit_test(test_input_cap),
	    cmocka_unit_test(test_bomb_stops_at_cap),
	    cmocka_unit_test(test_bomb_ratio),
	};
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
