/* SPDX-License-Identifier: MIT */
/*
 * plg_rest: what the in-tree REST DNS plugins share (README.md): the
 * settings every one of them has, the state of an HTTP API client (base URL,
 * bearer header, rate limiter, circuit breaker) with its load and release,
 * a secret read as one line, host-made strings and names as malloc'd
 * copies, percent-encoding and small pieces of the dns ops.
 *
 * A static helper compiled into each plugin that uses it: it includes only
 * <stsctl/plugin.h> and reaches the host through the plugin handle, as the
 * plugin itself does. Nothing here logs; errors go to call like the
 * plugin's own.
 */
#ifndef PLG_REST_H
#define PLG_REST_H

#include <stddef.h>

#include <stsctl/plugin.h>

/* ---- settings ---- */

/* "url": the API's base URL (dflt: its public one). */
#define PLG_SETTING_URL(dflt, desc)                                                                \
	STS_SETTING(.key = "url", .type = STS_SETTING_STRING, .def = dflt,                         \
		    .pattern = "https?://[^?#[:space:]]+",                                         \
		    .pattern_hint = "an http:// or https:// base URL without query",               \
		    .description = desc)

/* A pattern of "COUNT/WINDOW, ..." and its hint with the example windows
 * like ("1s, 5m or 1h"), for a limiter setting of the given key. */
#define PLG_SETTING_LIMITS(k, dflt, like, desc)                                                    \
	STS_SETTING(.key = k, .type = STS_SETTING_STRING, .def = dflt,                             \
		    .pattern = "[0-9]+/[0-9]*[smh]( *, *[0-9]+/[0-9]*[smh])*",                     \
		    .pattern_hint = "COUNT/WINDOW, ... with WINDOW like " like,                    \
		    .description = desc)

/* "rate_limit": the limits of plg_rest_load's limiter. */
#define PLG_SETTING_RATE_LIMIT(dflt, like, desc) PLG_SETTING_LIMITS("rate_limit", dflt, like, desc)

/* A required secret setting: the API's token or key. */
#define PLG_SETTING_TOKEN(k, desc)                                                                 \
	STS_SETTING(.key = k, .type = STS_SETTING_SECRET, .required = true, .description = desc)

/* The integer setting of a listing's page size: dflt, from lo to hi. */
#define PLG_SETTING_PAGE(k, dflt, lo, hi, desc)                                                    \
	STS_SETTING(.key = k, .type = STS_SETTING_INTEGER, .def = dflt, .range = true, .min = lo,  \
		    .max = hi, .description = desc)

/* "timeout": seconds per HTTP request (plg_rest.timeout_ms). */
#define PLG_SETTING_TIMEOUT                                                                        \
	STS_SETTING(.key = "timeout", .type = STS_SETTING_INTEGER, .def = "30", .range = true,     \
		    .min = 1, .max = 600, .description = "seconds per HTTP request")

/* The integer setting key (schema-checked) as unsigned. */
unsigned plg_uint(const json_t *settings, const char *key);

/* A malloc'd copy of the string setting key without trailing '/'; NULL when
 * it is absent or without memory. */
char *plg_setting_dup(const json_t *settings, const char *key);

/* ---- secrets ---- */

/* Flags of plg_secret_line and plg_rest_conf.token_flags. */
#define PLG_SECRET_TRIM_EOL  1u /* drop final line breaks (a file's last newline) */
#define PLG_SECRET_NO_BLANKS 2u /* refuse blanks and tabs as well as line breaks */

/*
 * The secret the reference ref names, as one line: a malloc'd copy in *ret.
 * One that is empty or holds a NUL or a line break (or, with
 * PLG_SECRET_NO_BLANKS, a blank) is STS_PLUGIN_ESECRET with the error
 * "WHAT is empty or holds a line break" (white space); what names it, as
 * "the token of 'token'". Free *ret with plg_wipe_free().
 */
int plg_secret_line(struct sts_plugin *p, const char *ref, unsigned flags, const char *what,
		    char **ret, struct sts_plugin_call *call);

/* explicit_bzero of the string s, then free; NULL does nothing. */
void plg_wipe_free(char *s);

/* free() each pointer given, in order (the plugins' STS_FREE_ALL). */
#define PLG_FREE_ALL(...)                                                                          \
	plg_free_all((void *[]){__VA_ARGS__}, sizeof((void *[]){__VA_ARGS__}) / sizeof(void *))
void plg_free_all(void *const *v, size_t n);

/* ---- an HTTP API client ---- */

struct plg_rest {
	char *base; /* url without trailing '/' */
	char *auth; /* "Authorization: Bearer ..." or NULL: wiped at release */
	long timeout_ms;
	unsigned page_size; /* of the conf's page_key; 0 without */
	struct sts_limiter *limiter;
	struct sts_breaker *breaker;
	const char *error_pointer; /* of its conf */
	const char *idempotent;
};

/* What plg_rest_load reads from the settings. */
struct plg_rest_conf {
	const char *url;	/* the base URL (NULL: the setting "url") */
	const char *token_key;	/* secret setting of a bearer token; NULL: none */
	const char *token_what; /* its name in errors, as "the token of 'token'" */
	unsigned token_flags;	/* PLG_SECRET_* */
	const char *page_key;	/* integer setting of plg_rest.page_size; NULL: none */
	/* of plg_rest_req, kept by reference (literals): the JSON pointer of
	 * the API's error text, the methods safe to repeat ("GET PUT DELETE";
	 * NULL: none) */
	const char *error_pointer;
	const char *idempotent;
};

/*
 * Fill r from the settings, in this order: base (conf->url or the "url"
 * setting, trailing '/' dropped), timeout_ms ("timeout"), the bearer header
 * of the token (conf->token_key), the limiter ("rate_limit") and a breaker.
 * On failure the error is in call; plg_rest_release(r) undoes a partial load.
 * plg_rest_open does the first three, plg_rest_limits the last two, for a
 * plugin that loads credentials of its own in between.
 */
int plg_rest_load(struct sts_plugin *p, struct plg_rest *r, const json_t *settings,
		  const struct plg_rest_conf *conf, struct sts_plugin_call *call);
int plg_rest_open(struct sts_plugin *p, struct plg_rest *r, const json_t *settings,
		  const struct plg_rest_conf *conf, struct sts_plugin_call *call);
int plg_rest_limits(struct sts_plugin *p, struct plg_rest *r, const json_t *settings,
		    struct sts_plugin_call *call);

/* A limiter of the limits in the string setting key; a failure says so in
 * call ("cannot make a rate limiter of 'SPEC'"). */
int plg_limiter(struct sts_plugin *p, const json_t *settings, const char *key,
		struct sts_limiter **ret, struct sts_plugin_call *call);

/* A request to r's API: base, auth (r's bearer header), limiter, breaker,
 * timeout, and the error pointer and idempotence of r's conf filled in; the
 * caller may set the rest (headers, another auth). */
struct sts_plugin_rest_req plg_rest_req(const struct plg_rest *r, const char *method,
					const char *path, const json_t *body);

/* plg_rest_req of the instance's plg_rest (its context's first member, as
 * PLG_REST_PLUGIN makes it) sent: the answer in *resp, release it either
 * way. */
int plg_rest_call(struct sts_plugin *p, const char *method, const char *path, const json_t *body,
		  struct sts_plugin_rest_resp *resp, struct sts_plugin_call *call);

/* plg_rest_call whose answer only its status matters. */
int plg_rest_send(struct sts_plugin *p, const char *method, const char *path, const json_t *body,
		  struct sts_plugin_call *call);

/* The path of page (from 1) of a listing at path, from the answer to the page
 * before (prev; NULL for the first) in *ret; NULL there: no more pages. */
typedef int plg_next_page(struct sts_plugin *p, const char *path, unsigned page, const json_t *prev,
			  char **ret);

/* For the plg_next_page of a listing paged by cursor: path (with '?' or '&')
 * and "SIZE_KEY=size", then, for a page after the first (after), the
 * answer's cursor percent-encoded as "&CURSOR_KEY=...", in *ret; NULL there
 * after a page whose answer names none (cursor NULL or ""). */
int plg_cursor_page(const char *path, const char *size_key, unsigned size, const char *cursor_key,
		    bool after, const char *cursor, char **ret);

/* How a provider pages its listings, for plg_list_pages. */
struct plg_pager {
	unsigned max_pages; /* more is STS_PLUGIN_ETOOLARGE */
	plg_next_page *next;
	/* the GET of one page; NULL: plg_rest_call's */
	int (*get)(struct sts_plugin *p, const char *path, struct sts_plugin_rest_resp *resp,
		   struct sts_plugin_call *call);
	bool past_empty; /* an empty page may have a next one: ask next */
	bool may_omit;	 /* an answer may leave an empty array out */
};

/*
 * The items of array key of every page of the listing at path, in *ret (a
 * new array): each page a GET of the path pg->next makes, until it makes
 * none or (unless pg->past_empty) a page is empty. A listing of more than
 * pg->max_pages pages is STS_PLUGIN_ETOOLARGE ("more than MAX pages of
 * KEY"), an answer without the array (unless pg->may_omit) or with another
 * type there STS_PLUGIN_EPARSE.
 */
int plg_list_pages(struct sts_plugin *p, const struct plg_pager *pg, const char *path,
		   const char *key, json_t **ret, struct sts_plugin_call *call);

/* The string member key of each item of the array items added to ret while
 * r is STS_PLUGIN_OK (items without it skipped); items is released. Returns
 * r or the first failure. */
int plg_zones_add(struct sts_plugin *p, int r, json_t *items, const char *key,
		  struct sts_zone_list *ret);

/* Free what r holds (the header wiped) and zero it; a zeroed r is fine. */
void plg_rest_release(struct sts_plugin *p, struct plg_rest *r);

/* ---- a plugin's load and unload ---- */

/*
 * A REST plugin's instance, as data: its context is ctx_size zeroed octets
 * (0: a struct plg_rest alone) whose first member is a struct plg_rest,
 * loaded with conf; then init
 * (NULL: none) reads the plugin's own settings. unload runs fini (NULL:
 * none) on what init made, then releases the plg_rest and the context. A
 * failed load undoes itself.
 */
struct plg_rest_plugin {
	size_t ctx_size;
	struct plg_rest_conf conf;
	int (*init)(struct sts_plugin *p, void *ctx, const json_t *settings,
		    struct sts_plugin_call *call);
	void (*fini)(struct sts_plugin *p, void *ctx);
};

int plg_rest_plugin_load(struct sts_plugin *p, const struct plg_rest_plugin *d,
			 const json_t *settings, struct sts_plugin_call *call);
void plg_rest_plugin_unload(struct sts_plugin *p, const struct plg_rest_plugin *d);

/* The plugin's struct plg_rest_plugin PREFIX_plugin of the designated
 * initialisers, and PREFIX_load and PREFIX_unload for STS_PLUGIN_API. */
#define PLG_REST_PLUGIN(PREFIX, ...)                                                               \
	static const struct plg_rest_plugin PREFIX##_plugin;                                       \
	static int PREFIX##_load(struct sts_plugin *p, const json_t *settings,                     \
				 struct sts_plugin_call *call)                                     \
	{                                                                                          \
		return plg_rest_plugin_load(p, &PREFIX##_plugin, settings, call);                  \
	}                                                                                          \
	static void PREFIX##_unload(struct sts_plugin *p)                                          \
	{                                                                                          \
		plg_rest_plugin_unload(p, &PREFIX##_plugin);                                       \
	}                                                                                          \
	static const struct plg_rest_plugin PREFIX##_plugin = {__VA_ARGS__}

/*
 * PLG_DNS_API(NAME, PREFIX, DESCRIPTION, CAPABILITIES): the plugin's
 * sts_plugin_api for the DNS provider NAME, made of the functions named
 * after PREFIX: PREFIX_schema, PREFIX_load, PREFIX_unload, PREFIX_probe and
 * the operations (PREFIX_dns) PREFIX_read, PREFIX_apply, PREFIX_caps and
 * PREFIX_zones.
 */
#define PLG_DNS_API(NAME, PREFIX, DESCRIPTION, CAPABILITIES)                                       \
	STS_PLUGIN_DNS_OPS(PREFIX##_dns, PREFIX##_read, PREFIX##_apply, PREFIX##_caps,             \
			   PREFIX##_zones);                                                        \
	STS_PLUGIN_API(NAME, STS_PLUGIN_DNS, .description = DESCRIPTION,                           \
		       .capabilities = CAPABILITIES, .schema = PREFIX##_schema,                    \
		       .load = PREFIX##_load, .unload = PREFIX##_unload, .probe = PREFIX##_probe,  \
		       .dns = &PREFIX##_dns)

/* ---- host-made strings ---- */

/* The host-allocated host_str of len octets as a malloc'd copy (NULL:
 * ENOMEM); host_str is freed either way. */
char *plg_own(struct sts_plugin *p, char *host_str, size_t len);

/* sts_plugin_name_normalize(name, flags) as a malloc'd string in *ret. */
int plg_norm(struct sts_plugin *p, const char *name, unsigned flags, char **ret);

/* The TXT text (quoted strings) unquoted by the host's codec: a malloc'd copy
 * of *ret_len octets in *ret; text it cannot read is the error "unreadable
 * TXT WHAT 'TEXT'" in call. */
int plg_txt_value(struct sts_plugin *p, const char *text, const char *what, char **ret,
		  size_t *ret_len, struct sts_plugin_call *call);

/* Whether name is one of the n names, in any case. */
bool plg_name_in(const char *name, const char *const *names, size_t n);

/* s percent-encoded for a URL path segment or query value: RFC 3986's
 * unreserved characters and those of keep (NULL: none) as they are; free(),
 * NULL without memory. */
char *plg_escape(const char *s, const char *keep);

/* Add the value v (len octets) to the rrset of owner and type in ret,
 * made with ttl when it is the first. */
int plg_rrset_put(struct sts_plugin *p, struct sts_rrsets *ret, const char *owner, const char *type,
		  uint32_t ttl, const char *v, size_t len);

/* The malloc'd value v of len octets added to rr while r is STS_PLUGIN_OK
 * (the result of the call that made v); v is freed either way. Returns r or
 * the failure of the add. */
int plg_rrset_take(struct sts_plugin *p, struct sts_rrset *rr, int r, char *v, size_t len);

/* Of the first nv values of rs, the index of one not kept yet that is the
 * len octets v, now marked in kept; nv when there is none (the record that
 * holds v is stale). */
size_t plg_keep_value(const struct sts_rrset *rs, size_t nv, bool *kept, const char *v, size_t len);

/* A record of one name and type as the provider listed it. */
struct plg_have {
	char *id;    /* the provider's id of the record, as text */
	char *value; /* in the engine's form, len octets */
	size_t len;
	uint32_t ttl;
};

/* How plg_sync writes, for a per-record API: arg is plg_sync's. */
struct plg_sync_ops {
	/* value as a new record (id NULL), or over the record id */
	int (*put)(struct sts_plugin *p, void *arg, const char *id, const char *value,
		   struct sts_plugin_call *call);
	/* the record id removed (one gone already counts as removed) */
	int (*del)(struct sts_plugin *p, void *arg, const char *id, struct sts_plugin_call *call);
};

/*
 * Make the n records have (one name and type) hold the first nv values of
 * rs at ttl, value by value: a record whose value stays is left alone
 * unless its TTL differs (then it is put again); a new value takes over a
 * record whose value goes (one write: no moment with none or both), else
 * it is a new record; the records left over are removed last.
 */
int plg_sync(struct sts_plugin *p, const struct sts_rrset *rs, size_t nv, uint32_t ttl,
	     const struct plg_have *have, size_t n, const struct plg_sync_ops *ops, void *arg,
	     struct sts_plugin_call *call);

/* For a records collection at path records (".../records"): body POSTed
 * to it (id NULL), or sent with method (PUT, PATCH) to records/id. */
int plg_record_put(struct sts_plugin *p, const char *records, const char *id, const char *method,
		   const json_t *body, struct sts_plugin_call *call);

/* DELETE records/id; one gone already (404) is deleted too. */
int plg_record_del(struct sts_plugin *p, const char *records, const char *id,
		   struct sts_plugin_call *call);

/* The id (as text) and ttl of a record with a numeric id into h. */
int plg_have_num(struct plg_have *h, json_int_t id, uint32_t ttl);

/* The end of a listing's n records have: on success (r) into *ret and
 * *ret_n, else freed. Returns r. */
int plg_have_done(int r, struct plg_have *have, size_t n, struct plg_have **ret, size_t *ret_n);

/* Free the ids and values of the n records have, and have. */
void plg_have_free(struct plg_have *have, size_t n);

/* The absolute name (final dot) of rel in zone: "" and "@" are the apex. */
int plg_absolute(struct sts_plugin *p, const char *zone, const char *rel, char **ret);

/* owner relative to zone (any spelling of both), malloc'd in *ret: apex for
 * the zone itself; STS_PLUGIN_EINVAL when owner is not in zone. */
int plg_relative(struct sts_plugin *p, const char *zone, const char *owner, const char *apex,
		 char **ret);

/* plg_relative for a name the engine asks to write: EINVAL with the error
 * "'OWNER' is not in zone 'ZONE'" in call. */
int plg_relative_in(struct sts_plugin *p, const char *zone, const char *owner, const char *apex,
		    char **ret, struct sts_plugin_call *call);

#endif
