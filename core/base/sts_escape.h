/* SPDX-License-Identifier: MIT */
#ifndef STS_ESCAPE_H
#define STS_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sts_api.h"
#include "sts_buf.h"

/*
 * The one escaping function for text that reaches a terminal or a log
 * (log lines, `report --format text`): whatever a report, a request path
 * or a header holds, the output is one line of valid UTF-8 that no
 * terminal or journal interprets.
 *
 * - bytes below 0x20 and 0x7f (DEL)        -> \xHH ("\x1b", "\x0a")
 * - C1 controls U+0080..U+009F (UTF-8 C2 80..C2 9F; a terminal may take
 *   U+009B as CSI)                         -> \u00HH
 * - a byte that does not start or continue valid UTF-8 (overlong forms,
 *   surrogates and code points above U+10FFFF included) -> \xHH
 *
 * Everything else, the backslash included, is copied as it is.
 */

/*
 * Length of the valid UTF-8 sequence (RFC 3629: no overlong forms, no
 * surrogates, at most U+10FFFF) at s, n > 0 bytes available: 1..4, or 0
 * when s[0] starts no valid sequence. *ret_cp (when not NULL) is its
 * code point.
 */
STS_API size_t sts_utf8_seq(const unsigned char *s, size_t n, uint32_t *ret_cp);

/* Would sts_escape_append() change these n bytes? */
STS_API bool sts_escape_needed(const char *s, size_t n);
/*
 * Append s (n bytes, NULs included) escaped to b. STS_OK or STS_ETOOLARGE
 * (b is left as it was) / STS_ENOMEM.
 */
STS_API int sts_escape_append(struct sts_buf *b, const char *s, size_t n);
/*
 * The string s as a terminal should show it: s itself when nothing needs
 * escaping, else its escaped form in tmp (valid until tmp is used again),
 * or "(unprintable)" past tmp's cap.
 */
STS_API const char *sts_escape_str(struct sts_buf *tmp, const char *s);

#endif
