/* SPDX-License-Identifier: MIT */
#ifndef STS_TXT_H
#define STS_TXT_H

#include <stddef.h>

#include "sts_api.h"
#include "sts_buf.h"

/*
 * The one TXT codec (RFC 1035 §3.3.14 and §5.1). A TXT value is a string
 * of octets; on the wire it is one or more character-strings of at most
 * 255 octets each, and in presentation format (zone files, most provider
 * APIs) each character-string is written as a quoted string.
 *
 * No function here keeps state or allocates behind the caller's back: all
 * are safe to call from any number of threads at once.
 */

/* Octets in one character-string. */
#define STS_TXT_STRING_MAX 255

/*
 * value split into character-strings: strings 0..n-2 hold 255 octets,
 * the last one the rest. An empty value is one empty string.
 */
struct sts_txt_strings {
	size_t n;
	char **s;    /* n copies, each NUL-terminated (a value may hold NUL octets: use len) */
	size_t *len; /* n lengths, each at most STS_TXT_STRING_MAX */
};

/* STS_OK or STS_ENOMEM (*ret is then empty). Release with sts_txt_strings_release(). */
STS_API int sts_txt_split(const void *value, size_t len, struct sts_txt_strings *ret);
/* Frees what sts_txt_split() allocated; the struct is left empty. NULL is fine. */
STS_API void sts_txt_strings_release(struct sts_txt_strings *s);

/*
 * Presentation format of value (len octets): its character-strings (as
 * sts_txt_split() cuts them), each in double quotes, separated by one
 * space. Inside the quotes '"' and '\' are written \" and \\, octets below
 * 0x20 and from 0x7f up as \DDD (three decimal digits), the rest as they
 * are. An empty value is "". Examples: v=STSv1; -> "v=STSv1;",
 * 300 x -> "xxx...x" "xxx...x" (255 + 45).
 *
 * sts_txt_encode_buf appends to out: STS_OK, STS_ETOOLARGE (out's cap;
 * out may then hold part of it) or STS_ENOMEM.
 * sts_txt_encode returns a new NUL-terminated string (free()) and its
 * length (ret_len may be NULL): STS_OK or STS_ENOMEM.
 */
STS_API int sts_txt_encode_buf(const void *value, size_t len, struct sts_buf *out);
STS_API int sts_txt_encode(const void *value, size_t len, char **ret, size_t *ret_len);

/* Where and why sts_txt_decode() failed. */
struct sts_txt_error {
	size_t offset;	 /* octet of text where the problem is */
	const char *msg; /* static English text, e.g. "unterminated quoted string" */
};

/*
 * Parse presentation format: a sequence of character-strings separated
 * by blanks (space, tab, CR, LF), each either quoted ("...", may hold
 * blanks) or unquoted (ends at a blank or a '"'). In both, \DDD is the
 * octet DDD (exactly three digits, at most 255) and \X is X for any other
 * character. Every character-string holds at most 255 octets once
 * unescaped. Other octets (UTF-8 included) are taken as they are.
 *
 * *ret is the concatenation of all strings, NUL-terminated (free()), and
 * *ret_len its length (it may hold NUL octets from \000). An input of only
 * blanks gives "". Returns STS_OK, STS_EPARSE (reterr, when not NULL, says
 * where and why: a bad escape, an unterminated quote, a string over 255
 * octets) or STS_ENOMEM. ret and ret_len are set only on success.
 */
STS_API int sts_txt_decode(const char *text, size_t len, char **ret, size_t *ret_len,
			   struct sts_txt_error *reterr);

#endif
