/* SPDX-License-Identifier: MIT */
#ifndef STS_JSONPOS_H
#define STS_JSONPOS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sts_api.h"
#include "sts_buf.h"

/*
 * JSON with positions. jansson gives line and column only for syntax
 * errors, and building a jansson tree for 100,000 domains alone takes about
 * a second; so the inventory is read by this small strict RFC 8259 parser
 * into a compact tree allocated from an arena, where every value and key
 * carries its byte offset. Offsets turn into line and column (1-based,
 * columns count bytes like gcc, a tab is one column, only LF ends a line)
 * through struct sts_jlines, only when a diagnostic needs them.
 *
 * Refused like jansson does: a byte order mark, "\u0000" in strings, lone
 * surrogates, invalid UTF-8, integers outside long long, numbers that
 * overflow a double, nesting deeper than STS_JSON_MAX_DEPTH.
 * Duplicate object keys are not fatal: they are collected in the document
 * (with their path) so a validator can report all of them at once.
 */

#define STS_JSON_MAX_DEPTH 512
#define STS_JSON_MAX_LEN   (UINT32_MAX - 1u)

/* ---- arena: many small allocations, freed at once ---- */
struct sts_arena_chunk;
struct sts_arena {
	struct sts_arena_chunk *head;
	size_t total; /* bytes handed out, for statistics */
};

STS_API void sts_arena_init(struct sts_arena *a);
STS_API void sts_arena_release(struct sts_arena *a);
/* 8-byte aligned, uninitialised; NULL on allocation failure. */
STS_API void *sts_arena_alloc(struct sts_arena *a, size_t n);
/* NUL-terminated copy of p[0..n). */
STS_API char *sts_arena_strndup(struct sts_arena *a, const char *p, size_t n);

/* ---- the tree ---- */
enum sts_jtype {
	STS_JNULL,
	STS_JFALSE,
	STS_JTRUE,
	STS_JINT,
	STS_JREAL,
	STS_JSTRING,
	STS_JARRAY,
	STS_JOBJECT,
};

struct sts_jmember;

struct sts_jval {
	uint8_t type; /* enum sts_jtype */
	uint32_t off; /* first byte of the value in the text */
	uint32_t end; /* one past its last byte */
	union {
		long long i;
		double d;
		struct {
			const char *p; /* decoded UTF-8, NUL-terminated (no NUL inside) */
			uint32_t len;
		} s;
		struct {
			struct sts_jval *v;
			uint32_t n;
		} a;
		struct {
			struct sts_jmember *m; /* in text order */
			uint32_t n;
		} o;
	} u;
};

struct sts_jmember {
	const char *key; /* decoded, NUL-terminated */
	uint32_t key_len;
	uint32_t key_off; /* the opening quote of the key */
	struct sts_jval val;
};

/* A duplicate key: the later occurrence, and where the first one is. */
struct sts_jdup {
	char *path; /* of the duplicate member ("providers.dns"), arena-allocated */
	uint32_t key_off;
	uint32_t first_off;
};

struct sts_jdoc {
	struct sts_arena arena; /* owns every node, string and path */
	struct sts_jval root;
	struct sts_jdup *dups;
	size_t n_dups;
	size_t n_dups_cap;
};

/* Where and why parsing stopped. path is the innermost container (malloc'd, may be NULL). */
struct sts_jerr {
	uint32_t off;
	const char *message; /* static */
	char *path;
};

/*
 * Parse text[0..len). STS_OK: doc->root is set (duplicates in doc->dups).
 * STS_EPARSE: reterr says where and why (free reterr->path); doc is still
 * released by the caller. STS_ETOOLARGE above STS_JSON_MAX_LEN, STS_ENOMEM.
 * Release doc with sts_jdoc_release either way.
 */
STS_API int sts_jdoc_parse(const char *text, size_t len, struct sts_jdoc *doc,
			   struct sts_jerr *reterr);
STS_API void sts_jdoc_release(struct sts_jdoc *doc);

/* Member named key (last one wins like jansson), or NULL; linear in members. */
STS_API const struct sts_jmember *sts_jobj_member(const struct sts_jval *obj, const char *key);
STS_API const struct sts_jval *sts_jobj_get(const struct sts_jval *obj, const char *key);

/* "an object", "a string", ... for messages. */
STS_API const char *sts_jtype_name(enum sts_jtype t);

/* ---- offsets to line:column ---- */
struct sts_jlines {
	const char *text;
	size_t len;
	/* queries in ascending order only scan forward from the last one ... */
	size_t last_off, last_line, last_start;
	/* ... the first one going back builds an index of line starts */
	uint32_t *starts;
	size_t n;
};

STS_API void sts_jlines_init(struct sts_jlines *l, const char *text, size_t len);
STS_API void sts_jlines_release(struct sts_jlines *l);
/* 1-based line and byte column of off (clamped to len). STS_OK or STS_ENOMEM. */
STS_API int sts_jlines_pos(struct sts_jlines *l, size_t off, unsigned *ret_line, unsigned *ret_col);

/* ---- JSON paths (docs/inventory.md): domains[3].mx[0], providers["my dns"].plugin ---- */

/*
 * Append one object key to a path: ".key" when key is an identifier
 * ([A-Za-z_][A-Za-z0-9_-]*), else ["key"] with '"', '\' and control
 * characters escaped as in JSON. No dot at the start of a path.
 */
STS_API int sts_jsonpath_key(struct sts_buf *path, const char *key, size_t len);
/* Append "[index]". */
STS_API int sts_jsonpath_index(struct sts_buf *path, size_t index);

#endif
