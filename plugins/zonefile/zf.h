/* SPDX-License-Identifier: MIT */
#ifndef ZF_H
#define ZF_H

/*
 * zonefile plugin internals: a line-preserving view of an RFC 1035 master
 * file. zf_parse() splits the text into entries (records, directives,
 * blank/comment lines), each a byte range of whole lines, and interprets
 * the records (owner, TTL, type, normalised value). zf_edit() turns a
 * batch of rrset changes into byte edits of only the affected entries
 * plus the SOA serial; every other byte stays as it was.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <stsctl/plugin.h>

#define ZF_TYPE_MAX 16

enum zf_kind {
	ZF_BLANK,     /* empty or comment-only line */
	ZF_DIRECTIVE, /* $ORIGIN, $TTL, $INCLUDE, $GENERATE, ... */
	ZF_RECORD,
};

struct zf_entry {
	enum zf_kind kind;
	size_t start, end;	     /* whole lines, including the last newline */
	unsigned line;		     /* first line, 1-based */
	bool blank_owner;	     /* owner inherited from the previous record */
	size_t owner_off, owner_len; /* the owner as written (explicit owners only) */
	char *owner;		     /* absolute, lower case, ends in '.' */
	char type[ZF_TYPE_MAX];	     /* upper case */
	uint32_t ttl;
	char *value;		       /* TXT: strings concatenated and unescaped; names absolute */
	size_t serial_off, serial_len; /* SOA: the serial as written */
};

struct zf_zone {
	const char *text; /* borrowed */
	size_t len;
	struct zf_entry *e;
	size_t n;
	bool has_include;
};

/* A small growable string (plugins do not link libsts). */
struct zf_str {
	char *p;
	size_t n, cap;
};

int zf_str_add(struct zf_str *s, const char *p, size_t n);
int zf_str_puts(struct zf_str *s, const char *p);
int zf_str_printf(struct zf_str *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void zf_str_release(struct zf_str *s);

/*
 * Parse text as the master file of zone (apex without the final dot; the
 * initial $ORIGIN). On a syntax error returns STS_PLUGIN_EPARSE with *reterr_line
 * and reterr (static text) set.
 */
int zf_parse(const char *text, size_t len, const char *zone, struct zf_zone *ret,
	     unsigned *reterr_line, const char **reterr);
void zf_zone_release(struct zf_zone *z);

/* name as written -> absolute lower-case name with the dot; "@" = origin. */
char *zf_absname(const char *name, size_t len, const char *origin);
/* Same name? Case-insensitive, trailing dot optional. */
bool zf_name_eq(const char *a, const char *b);

enum zf_serial {
	ZF_SERIAL_DATE,	     /* YYYYMMDDnn: today's 00, or +1 when not older */
	ZF_SERIAL_INCREMENT, /* +1 */
};

uint32_t zf_next_serial(uint32_t old, enum zf_serial mode, time_t now);

/*
 * Apply changes to z (zone apex without dot) into out (the whole new file
 * text). *ret_changed is false when the file would not change (out is
 * then empty). Errors: STS_PLUGIN_ECONFLICT, STS_PLUGIN_EINVAL, STS_PLUGIN_ENOMEM with a
 * message in err.
 */
int zf_edit(struct sts_plugin *p, const struct zf_zone *z, const char *zone,
	    const struct sts_rrset_change *const *changes, size_t n, enum zf_serial mode,
	    time_t now, struct zf_str *out, bool *ret_changed, char *err, size_t err_size);

#endif
