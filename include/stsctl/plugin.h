/* SPDX-License-Identifier: MIT */
#ifndef STSCTL_PLUGIN_H
#define STSCTL_PLUGIN_H

/*
 * stsctl provider plugin SDK, ABI version 2 (docs/plugin-abi.md).
 *
 *     #include <stsctl/plugin.h>      cflags: pkg-config --cflags stsctl-plugin
 *
 * This header is self-contained: it includes system headers and jansson
 * only, and a plugin includes nothing else from stsctl and links nothing
 * from it. Every host service is reached through the opaque handles with
 * the static inline wrappers at the end of this file.
 *
 * A plugin is a shared object <name>.so in a directory plugins-2 that
 * exports exactly one symbol, `sts_plugin_api`, a const struct
 * sts_plugin_api made with STS_PLUGIN_API(). The host dlopen()s it with
 * RTLD_NOW|RTLD_LOCAL, checks abi_version, struct_size and name before
 * calling anything, validates the provider's settings against the schema
 * (types, ranges, enums, patterns), and only then calls load(). Plugins
 * never print, write to stdio or exit.
 *
 * Compatibility (struct_size rules):
 *   - Fields of every struct here are only ever appended. Each struct that
 *     can grow starts with uint32_t struct_size, set to sizeof() of the
 *     struct as its author compiled it.
 *   - A struct the plugin fills (descriptor, ops, schema entries, HTTP and
 *     REST requests) is read by the host only up to its struct_size:
 *     fields past it count as zero.
 *   - A struct the host fills for the plugin (caps, check args, HTTP and
 *     REST responses, rrsets and changes) carries the host's struct_size;
 *     a plugin reads or writes a field appended after ABI 2.0 only when
 *     STS_PLUGIN_HAS(ptr, type, field) says it is there.
 *   - Arrays cross the boundary as NULL-terminated arrays of pointers
 *     (schema, changes) or are built by host functions behind an opaque
 *     type (rrset lists, zone lists, buffers): never as arrays of structs
 *     whose stride would change with a new field.
 *   - An incompatible change bumps STS_PLUGIN_ABI_VERSION and the install
 *     directory plugins-<ABI>. A plugin of another ABI is refused with a
 *     message naming both versions.
 *
 * Errors: every op returns STS_PLUGIN_OK or a negative enum sts_plugin_err
 * (the same numbers as stsctl's enum sts_err) and may explain itself with
 * sts_plugin_error(call, ...) into the per-call context it was given; no
 * error state lives in the plugin instance.
 *
 * Threading contract (the host keeps it; a plugin may rely on it):
 *   - load() and unload() never run concurrently with anything else on the
 *     same instance. check() may run at any time: it must be pure.
 *   - dns read()/apply() for DIFFERENT zones may run concurrently on one
 *     instance when caps.max_concurrency > 1 (at most that many at once);
 *     with max_concurrency 1 (the default) every op of an instance is
 *     serialised. Two ops on the SAME zone never overlap.
 *   - web get()/put()/del() for different hosts likewise, bounded by the
 *     web caps' max_concurrency.
 *   - zones() and probe() may run concurrently with read() (never with
 *     apply() of the zone they touch); caps() may run at any time after
 *     load() and must only read the instance state.
 *   - Every host service is thread-safe. A struct sts_plugin_call belongs
 *     to one op on one thread and is valid only during that op.
 *   - Instance state shared between concurrent ops (caches, counters) is
 *     the plugin's to lock.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <jansson.h>

#define STS_PLUGIN_ABI_VERSION 2u

/* The one exported symbol. */
#define STS_PLUGIN_SYMBOL "sts_plugin_api"

#define STS_PLUGIN_EXPORT __attribute__((visibility("default")))

/* Does a host-filled struct carry field? (see the struct_size rules) */
#define STS_PLUGIN_HAS(ptr, type, field)                                                           \
	((ptr)->struct_size >= offsetof(type, field) + sizeof(((type *)0)->field))

/* ------------------------------------------------------------------ */
/* Errors                                                             */
/* ------------------------------------------------------------------ */

/*
 * The error codes a plugin returns: the same numbers as stsctl's enum
 * sts_err (the host asserts that at compile time). Append-only.
 */
enum sts_plugin_err {
	STS_PLUGIN_OK = 0,
	STS_PLUGIN_ENOMEM = -ENOMEM,
	STS_PLUGIN_EINVAL = -EINVAL, /* a bad argument */
	STS_PLUGIN_EIO = -EIO,
	STS_PLUGIN_ENOENT = -ENOENT, /* zone / file / record not there */
	STS_PLUGIN_EEXIST = -EEXIST,
	STS_PLUGIN_EACCES = -EACCES, /* permission denied (files, remote paths) */
	STS_PLUGIN_ENOSPC = -ENOSPC,
	STS_PLUGIN_EAGAIN = -EAGAIN, /* try later: rate limited, circuit open */

	STS_PLUGIN_EPARSE = -1000,	 /* unparsable input (a zone file, an answer) */
	STS_PLUGIN_EINVALID = -1001,	 /* settings rejected (check()) */
	STS_PLUGIN_ETOOLARGE = -1002,	 /* a size cap was hit */
	STS_PLUGIN_EPLUGIN = -1003,	 /* (host) plugin not found or not loadable */
	STS_PLUGIN_EABI = -1004,	 /* (host) ABI mismatch */
	STS_PLUGIN_ESECRET = -1005,	 /* a secret cannot be resolved or is unusable */
	STS_PLUGIN_EPROVIDER = -1006,	 /* the provider reported an error */
	STS_PLUGIN_ECONFLICT = -1007,	 /* a foreign record blocks the change (CNAME) */
	STS_PLUGIN_ESTALE = -1008,	 /* the zone changed under us */
	STS_PLUGIN_EVERIFY = -1009,	 /* (host) */
	STS_PLUGIN_ELOCKED = -1010,	 /* (host) */
	STS_PLUGIN_EDB = -1011,		 /* (host) */
	STS_PLUGIN_ENET = -1012,	 /* network error */
	STS_PLUGIN_ETIMEOUT = -1013,	 /* timed out */
	STS_PLUGIN_ETLS = -1014,	 /* TLS handshake or certificate failure */
	STS_PLUGIN_EAUTH = -1015,	 /* credentials rejected by the provider */
	STS_PLUGIN_EUNSUPPORTED = -1016, /* the op is not supported */
	STS_PLUGIN_EREFUSED = -1017,	 /* a safety rule refused the op */
};

/* ------------------------------------------------------------------ */
/* Handles                                                            */
/* ------------------------------------------------------------------ */

struct sts_plugin;	/* one provider instance; owned by the host */
struct sts_plugin_call; /* one op in progress: where its error text goes */
struct sts_host_api;	/* the host's function table (below) */
struct sts_buf;		/* a bounded byte buffer of the host */
struct sts_rrsets;	/* a list of rrsets the host builds (sts_plugin_rrset_add) */
struct sts_zone_list;	/* a list of zone names (sts_plugin_zone_add) */
struct sts_secret;	/* a resolved secret, wiped when freed */
struct sts_limiter;	/* a rate limiter of the host */
struct sts_breaker;	/* a circuit breaker of the host */

enum sts_plugin_kind {
	STS_PLUGIN_DNS = 1, /* publishes DNS records: struct sts_dns_ops */
	STS_PLUGIN_WEB = 2, /* publishes policy files: struct sts_web_ops */
};

enum sts_plugin_log_level {
	STS_PLOG_ERROR,
	STS_PLOG_WARNING,
	STS_PLOG_INFO,
	STS_PLOG_DEBUG,
};

/*
 * Capabilities: what the plugin does, declared truthfully (stsctl plugins
 * --json lists them; the conformance suites decide from them which cases
 * apply). Unknown bits are ignored by older hosts.
 */
#define STS_PLUGIN_CAP_HTTP	   (1u << 0)   /* talks HTTP(S) through the host */
#define STS_PLUGIN_CAP_PAGING	   (1u << 1)   /* the provider lists records in pages */
#define STS_PLUGIN_CAP_CREDENTIALS (1u << 2)   /* needs credentials the provider checks */
#define STS_PLUGIN_CAP_BATCH	   (1u << 3)   /* apply() commits a zone's changes at once */
#define STS_PLUGIN_CAP_ALL	   0x0000000fu /* the bits this header defines */

/* ------------------------------------------------------------------ */
/* Settings schema                                                    */
/* ------------------------------------------------------------------ */

enum sts_setting_type {
	STS_SETTING_STRING = 1,
	STS_SETTING_INTEGER,	 /* JSON integer; .range = true bounds it */
	STS_SETTING_BOOL,	 /* JSON true/false */
	STS_SETTING_PATH,	 /* string; made absolute against the inventory's directory */
	STS_SETTING_SECRET,	 /* string "${env:NAME}" or "${file:PATH}", never clear text */
	STS_SETTING_STRING_LIST, /* array of strings (choices/pattern apply to each) */
	STS_SETTING_OBJECT,	 /* JSON object, checked by the plugin's check() */
};

/*
 * One key of a plugin's settings; make entries with STS_SETTING(...). A
 * schema is a NULL-terminated array of pointers to them:
 *
 *   static const struct sts_plugin_setting *const schema[] = {
 *       STS_SETTING(.key = "port", .type = STS_SETTING_INTEGER, .def = "53",
 *                   .range = true, .min = 1, .max = 65535,
 *                   .description = "server port"),
 *       NULL,
 *   };
 *
 * The key "plugin" is reserved. def is the default in text form (string,
 * path, secret literally; integer decimal; bool "true"/"false"; list and
 * object JSON text); NULL = no default. The host fills in defaults before
 * load() and checks, with a message naming providers.NAME.KEY:
 *   range    integers: min <= value <= max
 *   choices  strings (and each list element): one of the NULL-terminated list
 *   pattern  strings (and each list element): the whole value matches this
 *            POSIX extended regular expression (the host anchors it);
 *            pattern_hint says in words what matches ("letters, digits, '-'")
 * so a plugin's check() is left with what the schema cannot say.
 */
struct sts_plugin_setting {
	uint32_t struct_size; /* sizeof(struct sts_plugin_setting) */
	const char *key;
	enum sts_setting_type type;
	bool required;
	const char *def;
	const char *description; /* one line, shown by `stsctl plugins` */
	bool range;		 /* min and max apply */
	int64_t min;
	int64_t max;
	const char *const *choices; /* NULL-terminated; NULL = any */
	const char *pattern;	    /* POSIX ERE; NULL = any */
	const char *pattern_hint;
};

#define STS_SETTING(...)                                                                           \
	(&(const struct sts_plugin_setting){.struct_size = sizeof(struct sts_plugin_setting),      \
					    __VA_ARGS__})

/*
 * Extra validation after the schema passed, filled by check(): on failure
 * return an error and set key (NULL: the whole section) and err_str
 * (static text, lowercase, no trailing period).
 */
struct sts_plugin_check {
	uint32_t struct_size; /* set by the host */
	const char *key;
	const char *err_str;
};

/* ------------------------------------------------------------------ */
/* DNS data model                                                     */
/* ------------------------------------------------------------------ */

/*
 * An rrset: every record of one (name, type) with one TTL. Made by the
 * host (sts_plugin_rrset_add); a plugin reads the ones it is given.
 *   name   absolute, lower case, ends in '.'
 *   type   upper-case mnemonic: "TXT", "CNAME", "A", "AAAA", "MX", ...
 *   values TXT: the character-strings concatenated, without quotes or
 *          escapes (sts_plugin_txt_quote/_unquote convert);
 *          CNAME: absolute target ending in '.';
 *          anything else: the rdata in presentation format.
 */
struct sts_rrset {
	uint32_t struct_size;
	char *name;
	char *type;
	uint32_t ttl;
	char **values;
	size_t n_values;
};

enum sts_change_action {
	STS_CHANGE_CREATE = 1, /* no rrset at (name, type) yet: create it */
	STS_CHANGE_REPLACE,    /* the rrset at (name, type) becomes exactly rrset */
	STS_CHANGE_DELETE,     /* remove the whole rrset at (name, type) */
};

/*
 * One change to one rrset. The engine computes the complete desired content
 * of (name, type): for REPLACE, rrset->values holds stsctl's own values AND
 * every foreign value at that (name, type) that must be kept (a foreign TXT
 * beside the v=STSv1 one). DELETE is only sent when no foreign value remains.
 * old is the content the engine saw in read() (NULL for CREATE); a provider
 * may use it for value-level APIs or as a precondition. Plugins must not
 * touch values that are in both old and rrset (zonefile keeps those lines
 * byte for byte). All memory belongs to the host.
 */
struct sts_rrset_change {
	uint32_t struct_size;
	enum sts_change_action action;
	const struct sts_rrset *rrset; /* DELETE: name and type only are used */
	const struct sts_rrset *old;
};

/* Filled by dns caps(); the host zeroes it and sets struct_size first. */
struct sts_dns_caps {
	uint32_t struct_size;
	bool batch;		  /* apply() commits all changes of a zone at once */
	unsigned max_concurrency; /* zones in flight at once; 0 = 1 */
	unsigned rate_per_sec;	  /* apply()/read() calls per second; 0 = unlimited */
	unsigned max_batch;	  /* changes per apply() call; 0 = unlimited */
	/*
	 * Appended after ABI 2.0 (STS_PLUGIN_HAS): the TTLs the provider keeps,
	 * ascending, when it rounds any other to the nearest of them (a tie to
	 * the larger), as Linode does. The plan engine then plans the TTL that
	 * will be kept, so a TTL the provider cannot keep is not rewritten on
	 * every run. The plugin's static storage; NULL = every TTL is kept.
	 */
	const uint32_t *kept_ttls;
	size_t n_kept_ttls;
	/*
	 * Appended after kept_ttls (STS_PLUGIN_HAS): read() also takes names
	 * NULL and n 0, meaning every rrset of the zone, and that costs less
	 * than reading many names one by one (a listing with paging). The
	 * plan engine then reads a zone whole when it wants the names of at
	 * least STS_PLAN_READ_ZONE_MIN domains of it (docs/plugin-abi.md).
	 */
	bool read_zone;
};

struct sts_dns_ops {
	uint32_t struct_size; /* sizeof(struct sts_dns_ops) */
	/*
	 * Append to ret every rrset (every type, foreign ones included) at
	 * each of the n owner names in zone. zone is the apex without the
	 * trailing dot; names are absolute with the dot. A name with nothing
	 * at it adds nothing. A missing zone is STS_PLUGIN_ENOENT. names NULL
	 * (n 0) asks for every rrset of the zone; the host passes it only to
	 * a plugin whose caps() set read_zone.
	 */
	int (*read)(struct sts_plugin *p, const char *zone, const char *const *names, size_t n,
		    struct sts_rrsets *ret, struct sts_plugin_call *call);
	/*
	 * Apply the n changes (changes[n] is NULL) to zone, in order, as one
	 * transaction where the provider can (caps.batch); otherwise change by
	 * change, stopping at the first failure. A change that would put a
	 * CNAME beside anything else is STS_PLUGIN_ECONFLICT.
	 */
	int (*apply)(struct sts_plugin *p, const char *zone,
		     const struct sts_rrset_change *const *changes, size_t n,
		     struct sts_plugin_call *call);
	void (*caps)(struct sts_plugin *p, struct sts_dns_caps *ret); /* optional */
	/*
	 * Optional: add to ret (sts_plugin_zone_add) every zone these
	 * credentials can manage, apex without the trailing dot. With it, a
	 * domain of the inventory may leave out "zone" for a provider of this
	 * plugin: the host picks the longest listed zone the name is in.
	 */
	int (*zones)(struct sts_plugin *p, struct sts_zone_list *ret, struct sts_plugin_call *call);
};

/* ------------------------------------------------------------------ */
/* Web operations                                                     */
/* ------------------------------------------------------------------ */

/* Filled by web caps(); the host sets defaults and struct_size first. */
struct sts_web_caps {
	uint32_t struct_size;
	bool verify_https;	  /* the engine may fetch https://HOST/.well-known/... after put */
	unsigned max_concurrency; /* 0 = 1 */
};

/*
 * host is the policy host "mta-sts.<domain>", lower case, no trailing dot.
 * The file is the one served at https://HOST/.well-known/mta-sts.txt.
 */
struct sts_web_ops {
	uint32_t struct_size; /* sizeof(struct sts_web_ops) */
	/* Append the current file to ret (sts_plugin_buf_append honours its cap:
	 * STS_PLUGIN_ETOOLARGE); STS_PLUGIN_ENOENT when there is none. */
	int (*get)(struct sts_plugin *p, const char *host, struct sts_buf *ret,
		   struct sts_plugin_call *call);
	/* Replace the file atomically: readers see the old or the new one. */
	int (*put)(struct sts_plugin *p, const char *host, const void *data, size_t len,
		   struct sts_plugin_call *call);
	/* Remove the file; STS_PLUGIN_ENOENT when there was none. */
	int (*del)(struct sts_plugin *p, const char *host, struct sts_plugin_call *call);
	void (*caps)(struct sts_plugin *p, struct sts_web_caps *ret); /* optional */
};

/* ------------------------------------------------------------------ */
/* The descriptor                                                     */
/* ------------------------------------------------------------------ */

struct sts_plugin_api {
	uint32_t abi_version; /* STS_PLUGIN_ABI_VERSION: the first field of every ABI */
	uint32_t struct_size; /* sizeof(struct sts_plugin_api) the plugin was built with */
	const char *name;     /* equals the file name without ".so" */
	enum sts_plugin_kind kind;
	const char *description; /* one line */
	uint32_t capabilities;	 /* STS_PLUGIN_CAP_* */
	/* NULL-terminated array of pointers (STS_SETTING); NULL = no settings */
	const struct sts_plugin_setting *const *schema;
	/* optional: extra validation of the (schema-checked) settings; pure */
	int (*check)(const json_t *settings, struct sts_plugin_check *args);
	/*
	 * Create the instance state. settings is borrowed (schema-checked,
	 * defaults filled in, paths absolute): copy what you keep and store it
	 * with sts_plugin_ctx_set(). On failure load() frees what it made and
	 * says why with sts_plugin_error(call, ...).
	 */
	int (*load)(struct sts_plugin *p, const json_t *settings, struct sts_plugin_call *call);
	void (*unload)(struct sts_plugin *p); /* free the ctx; optional */
	/*
	 * Optional: check credentials and permissions without changing
	 * anything (an API call that lists, a query with the key, a directory
	 * that is writable). STS_PLUGIN_OK or the provider's own error text.
	 */
	int (*probe)(struct sts_plugin *p, struct sts_plugin_call *call);
	const struct sts_dns_ops *dns; /* kind == STS_PLUGIN_DNS */
	const struct sts_web_ops *web; /* kind == STS_PLUGIN_WEB */
};

/*
 * STS_PLUGIN_API(zonefile, STS_PLUGIN_DNS, .schema = ..., .load = ..., .dns = &ops);
 * defines the exported descriptor with version, size and name filled in.
 */
#define STS_PLUGIN_API(NAME, KIND, ...)                                                            \
	STS_PLUGIN_EXPORT const struct sts_plugin_api sts_plugin_api = {                           \
	    .abi_version = STS_PLUGIN_ABI_VERSION,                                                 \
	    .struct_size = sizeof(struct sts_plugin_api),                                          \
	    .name = #NAME,                                                                         \
	    .kind = KIND,                                                                          \
	    __VA_ARGS__}

/*
 * STS_PLUGIN_DNS_OPS(my_ops, my_read, my_apply, my_caps, my_zones);
 * STS_PLUGIN_WEB_OPS(my_ops, my_get, my_put, my_del, my_caps);
 * define the operations table (struct_size filled in) that .dns / .web of
 * STS_PLUGIN_API point to. Optional operations may be NULL.
 */
#define STS_PLUGIN_DNS_OPS(VAR, READ, APPLY, CAPS, ZONES)                                          \
	static const struct sts_dns_ops VAR = {.struct_size = sizeof(struct sts_dns_ops),          \
					       .read = (READ),                                     \
					       .apply = (APPLY),                                   \
					       .caps = (CAPS),                                     \
					       .zones = (ZONES)}
#define STS_PLUGIN_WEB_OPS(VAR, GET, PUT, DEL, CAPS)                                               \
	static const struct sts_web_ops VAR = {.struct_size = sizeof(struct sts_web_ops),          \
					       .get = (GET),                                       \
					       .put = (PUT),                                       \
					       .del = (DEL),                                       \
					       .caps = (CAPS)}

/* ------------------------------------------------------------------ */
/* Host service types                                                 */
/* ------------------------------------------------------------------ */

/* One HTTP request through the host's libcurl (sts_plugin_http). */
struct sts_plugin_http_req {
	uint32_t struct_size; /* sizeof(struct sts_plugin_http_req) */
	const char *method;   /* NULL = "GET" (or "POST" when body is set) */
	const char *url;
	const char *const *headers; /* "Name: value", NULL-terminated; NULL = none */
	const void *body;	    /* NULL = no body */
	size_t body_len;
	long timeout_ms;       /* per attempt; 0 = the host's default */
	size_t max_response;   /* body cap; 0 = the host's default (1 MiB) */
	unsigned max_attempts; /* 0 = the host's default; 1 = no retry */
	bool follow_redirects; /* default off; at most 3, never to another protocol */
	/*
	 * Appended after ABI 2.0 (a host that predates them ignores them):
	 * idempotent  the API documents this POST/PATCH as safe to repeat:
	 *             retried on timeouts and any 5xx as a PUT would be
	 * limiter     acquired before each attempt (a retry too); NULL = none
	 * retry_on    answers retried like a 503 (backoff, Retry-After) although
	 *             their status is not: "STATUS TEXT" lines, an answer of
	 *             STATUS whose body contains TEXT, e.g. an API that says
	 *             "slow down" with a 400: "400 <Code>Throttling</Code>";
	 *             NULL-terminated; NULL = none
	 */
	bool idempotent;
	struct sts_limiter *limiter;
	const char *const *retry_on;
};

/* Filled by the host; release with sts_plugin_http_release(). */
struct sts_plugin_http_resp {
	uint32_t struct_size; /* set by the plugin before the call: what it can take */
	long status;	      /* final HTTP status; 0 when none */
	const char *body;     /* NUL-terminated ("" when empty) */
	size_t body_len;
	unsigned attempts; /* how many requests were sent */
	const char *effective_url;
	void *host_priv; /* the host's; do not touch */
};

/*
 * A JSON request to a REST API (sts_plugin_rest): the host joins base and
 * path, sends body as application/json, parses the answer, retries what is
 * safe to repeat, waits for the limiter, consults the breaker and maps the
 * status to an error, keeping the provider's own error text in the call.
 */
struct sts_plugin_rest_req {
	uint32_t struct_size;	    /* sizeof(struct sts_plugin_rest_req) */
	const char *method;	    /* NULL = "GET" */
	const char *base;	    /* "https://api.example.net/v1" (no trailing '/') */
	const char *path;	    /* "/zones/example.org/records", already escaped; NULL = "" */
	const char *auth;	    /* one header line "Authorization: Bearer ..." (never logged) */
	const char *const *headers; /* more "Name: value" lines, NULL-terminated */
	const json_t *body;	    /* NULL = no body */
	/*
	 * GET, HEAD, PUT and DELETE are retried with backoff on connection
	 * failures, 429 and 5xx, honouring Retry-After (which also pauses the
	 * limiter for every caller); a POST or PATCH only when it is safe to
	 * repeat and says so here, else it is sent exactly once.
	 */
	bool idempotent;
	/* Where the provider's error text is in an error body: a JSON pointer
	 * ("/message", "/errors/0/message"); NULL = the first of "/message",
	 * "/error/message", "/errors/0/message", "/error", "/detail". */
	const char *error_pointer;
	struct sts_limiter *limiter; /* acquired before each attempt; NULL = none */
	struct sts_breaker *breaker; /* NULL = none */
	long timeout_ms;	     /* per attempt; 0 = the host's default */
	size_t max_response;	     /* 0 = the host's default (1 MiB) */
	unsigned max_attempts;	     /* 0 = the host's default */
};

/*
 * The answer of sts_plugin_rest (filled for any HTTP status); release with
 * sts_plugin_rest_release(). Returned errors:
 *   2xx -> OK; 401 -> EAUTH; 403 -> EACCES; 404 -> ENOENT;
 *   409, 412 -> ECONFLICT; 429 and 5xx (after the retries) -> EAGAIN;
 *   other statuses, or a 2xx body that is not JSON -> EPROVIDER;
 *   no answer -> ENET, ETIMEOUT, ETLS, ETOOLARGE; breaker open -> EAGAIN;
 *   no rate-limit slot in time -> ETIMEOUT.
 * Every error leaves its text in the call, with the provider's own words:
 * "HTTP 404 from GET /zones/9: Zone not found" (a secret in it is
 * replaced by "[secret]" only when it came through a secret reference).
 */
struct sts_plugin_rest_resp {
	uint32_t struct_size; /* set by the plugin before the call */
	long status;	      /* 0 when no answer */
	json_t *json;	      /* the parsed body, NULL when empty; owned by resp */
	unsigned attempts;
	const char *retry_after; /* the Retry-After header of the answer, or NULL */
	void *host_priv;	 /* the host's; do not touch */
};

/* Circuit breaker: open after `failures` failed requests in a row; while
 * open, requests fail at once (EAGAIN) for open_ms, then one trial. */
struct sts_plugin_breaker_conf {
	uint32_t struct_size;
	unsigned failures; /* 0 = 5 */
	unsigned open_ms;  /* 0 = 30000 */
};

/* Flags of sts_plugin_name_normalize. */
#define STS_NAME_DOT   (1u << 0) /* result ends in '.' (absolute) */
#define STS_NAME_NODOT (1u << 1) /* result has no trailing '.' */

/* ------------------------------------------------------------------ */
/* The host's function table                                          */
/* ------------------------------------------------------------------ */

/*
 * Plugins use the wrappers below. Functions are only appended; a wrapper
 * of a function appended after ABI 2.0 checks host->struct_size and
 * returns STS_PLUGIN_EUNSUPPORTED on an older host.
 */
struct sts_host_api {
	uint32_t abi_version;
	uint32_t struct_size;
	/* instance */
	void (*vlog)(struct sts_plugin *p, enum sts_plugin_log_level level, const char *fmt,
		     va_list ap);
	void *(*ctx_get)(const struct sts_plugin *p);
	void (*ctx_set)(struct sts_plugin *p, void *ctx);
	const char *(*basedir)(const struct sts_plugin *p);  /* inventory directory */
	const char *(*instance)(const struct sts_plugin *p); /* provider name */
	/* per-call error */
	void (*verror)(struct sts_plugin_call *call, const char *fmt, va_list ap);
	/* HTTP */
	int (*http)(struct sts_plugin *p, const struct sts_plugin_http_req *req,
		    struct sts_plugin_http_resp *ret, struct sts_plugin_call *call);
	void (*http_release)(struct sts_plugin_http_resp *resp);
	const char *(*http_header)(const struct sts_plugin_http_resp *resp, const char *name);
	/* secrets */
	int (*secret)(struct sts_plugin *p, const char *ref, struct sts_secret **ret,
		      struct sts_plugin_call *call);
	const char *(*secret_value)(const struct sts_secret *s);
	size_t (*secret_len)(const struct sts_secret *s);
	void (*secret_free)(struct sts_secret *s);
	/* lists */
	struct sts_rrset *(*rrset_add)(struct sts_rrsets *list, const char *name, const char *type,
				       uint32_t ttl);
	int (*rrset_add_value)(struct sts_rrset *rr, const char *value, size_t len);
	int (*zone_add)(struct sts_zone_list *list, const char *zone);
	/* buffers */
	int (*buf_append)(struct sts_buf *b, const void *data, size_t len);
	const char *(*buf_data)(const struct sts_buf *b);
	size_t (*buf_len)(const struct sts_buf *b);
	void (*buf_truncate)(struct sts_buf *b, size_t len);
	/* files */
	int (*write_atomic)(const char *path, const void *data, size_t len, unsigned mode);
	/* memory the host allocated for the plugin (txt, names) */
	void (*free)(void *ptr);
	/* REST services */
	int (*rest)(struct sts_plugin *p, const struct sts_plugin_rest_req *req,
		    struct sts_plugin_rest_resp *ret, struct sts_plugin_call *call);
	void (*rest_release)(struct sts_plugin_rest_resp *resp);
	int (*limiter_new)(const char *spec, struct sts_limiter **ret);
	int (*limiter_acquire)(struct sts_limiter *l, long max_wait_ms);
	void (*limiter_free)(struct sts_limiter *l);
	int (*breaker_new)(const struct sts_plugin_breaker_conf *conf, struct sts_breaker **ret);
	int (*breaker_allow)(struct sts_breaker *b);
	void (*breaker_record)(struct sts_breaker *b, bool ok);
	void (*breaker_free)(struct sts_breaker *b);
	int (*txt_quote)(const char *value, size_t len, char **ret);
	int (*txt_unquote)(const char *text, size_t len, char **ret, size_t *ret_len);
	int (*name_normalize)(const char *name, unsigned flags, char **ret);
	/* lists, continued */
	struct sts_rrset *(*rrset_find)(struct sts_rrsets *list, const char *name,
					const char *type);
	/* buffers, continued */
	size_t (*buf_max)(const struct sts_buf *b);
};

/* The handles are opaque except for their first member, the host table. */
struct sts_plugin_head {
	const struct sts_host_api *host;
};

static inline const struct sts_host_api *sts_plugin_host(const struct sts_plugin *p)
{
	return ((const struct sts_plugin_head *)(const void *)p)->host;
}

static inline const struct sts_host_api *sts_plugin_call_host(const struct sts_plugin_call *c)
{
	return ((const struct sts_plugin_head *)(const void *)c)->host;
}

/* ------------------------------------------------------------------ */
/* Wrappers: instance, errors, logging                                */
/* ------------------------------------------------------------------ */

/* Log a line; the host prefixes it with "[dns:zonefile] " (kind:name). */
static inline void sts_plugin_log(struct sts_plugin *p, enum sts_plugin_log_level level,
				  const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static inline void sts_plugin_log(struct sts_plugin *p, enum sts_plugin_log_level level,
				  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sts_plugin_host(p)->vlog(p, level, fmt, ap);
	va_end(ap);
}

/*
 * Say why the current op fails (shown with the error it returns): one
 * line, lowercase start, no trailing period, the provider's own words
 * where there are some. A later call replaces the text.
 */
static inline void sts_plugin_error(struct sts_plugin_call *call, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline void sts_plugin_error(struct sts_plugin_call *call, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sts_plugin_call_host(call)->verror(call, fmt, ap);
	va_end(ap);
}

static inline void *sts_plugin_ctx_get(const struct sts_plugin *p)
{
	return sts_plugin_host(p)->ctx_get(p);
}

static inline void sts_plugin_ctx_set(struct sts_plugin *p, void *ctx)
{
	sts_plugin_host(p)->ctx_set(p, ctx);
}

/* For load(): a zeroed context of size bytes, set as the instance's; NULL without memory. */
static inline void *sts_plugin_ctx_new(struct sts_plugin *p, size_t size)
{
	void *ctx = calloc(1, size);
	if (ctx)
		sts_plugin_ctx_set(p, ctx);
	return ctx;
}

/* Directory of the inventory file, for the plugin's own relative paths. */
static inline const char *sts_plugin_basedir(const struct sts_plugin *p)
{
	return sts_plugin_host(p)->basedir(p);
}

/* The provider instance name ("providers.NAME"). */
static inline const char *sts_plugin_instance(const struct sts_plugin *p)
{
	return sts_plugin_host(p)->instance(p);
}

/* ------------------------------------------------------------------ */
/* Wrappers: HTTP and REST                                            */
/* ------------------------------------------------------------------ */

/*
 * HTTP(S) through the host's libcurl handles of this instance: timeouts,
 * response cap, retries with backoff on 429/5xx honouring Retry-After, TLS
 * verification always on. STS_PLUGIN_OK means a response arrived (check
 * ret->status); release ret with sts_plugin_http_release() either way.
 */
static inline int sts_plugin_http(struct sts_plugin *p, const struct sts_plugin_http_req *req,
				  struct sts_plugin_http_resp *ret, struct sts_plugin_call *call)
{
	ret->struct_size = sizeof(*ret);
	return sts_plugin_host(p)->http(p, req, ret, call);
}

static inline void sts_plugin_http_release(struct sts_plugin *p, struct sts_plugin_http_resp *resp)
{
	sts_plugin_host(p)->http_release(resp);
}

/* Value of the first response header called name (any case), or NULL. */
static inline const char *sts_plugin_http_header(struct sts_plugin *p,
						 const struct sts_plugin_http_resp *resp,
						 const char *name)
{
	return sts_plugin_host(p)->http_header(resp, name);
}

/* A JSON request (struct sts_plugin_rest_req); release ret either way. */
static inline int sts_plugin_rest(struct sts_plugin *p, const struct sts_plugin_rest_req *req,
				  struct sts_plugin_rest_resp *ret, struct sts_plugin_call *call)
{
	ret->struct_size = sizeof(*ret);
	return sts_plugin_host(p)->rest(p, req, ret, call);
}

static inline void sts_plugin_rest_release(struct sts_plugin *p, struct sts_plugin_rest_resp *resp)
{
	sts_plugin_host(p)->rest_release(resp);
}

/*
 * A rate limiter for the provider's documented limits: spec is a
 * comma-separated list of "COUNT/WINDOW" with WINDOW a number and a unit
 * s, m or h ("10/1s", "1200/5m, 20/1s"): every window holds at most COUNT
 * requests. Thread-safe; share one per instance (make it in load()).
 */
static inline int sts_plugin_limiter_new(struct sts_plugin *p, const char *spec,
					 struct sts_limiter **ret)
{
	return sts_plugin_host(p)->limiter_new(spec, ret);
}

/* Wait for a slot: STS_PLUGIN_OK, or EAGAIN when it would take longer than
 * max_wait_ms (< 0 = wait as long as it takes). */
static inline int sts_plugin_limiter_acquire(struct sts_plugin *p, struct sts_limiter *l,
					     long max_wait_ms)
{
	return sts_plugin_host(p)->limiter_acquire(l, max_wait_ms);
}

static inline void sts_plugin_limiter_free(struct sts_plugin *p, struct sts_limiter *l)
{
	sts_plugin_host(p)->limiter_free(l);
}

/* A circuit breaker for sts_plugin_rest_req.breaker; conf may be NULL. */
static inline int sts_plugin_breaker_new(struct sts_plugin *p,
					 const struct sts_plugin_breaker_conf *conf,
					 struct sts_breaker **ret)
{
	return sts_plugin_host(p)->breaker_new(conf, ret);
}

/* For requests made without sts_plugin_rest: may one go now (OK), or is the
 * circuit open (EAGAIN)? Then record how it went. */
static inline int sts_plugin_breaker_allow(struct sts_plugin *p, struct sts_breaker *b)
{
	return sts_plugin_host(p)->breaker_allow(b);
}

static inline void sts_plugin_breaker_record(struct sts_plugin *p, struct sts_breaker *b, bool ok)
{
	sts_plugin_host(p)->breaker_record(b, ok);
}

static inline void sts_plugin_breaker_free(struct sts_plugin *p, struct sts_breaker *b)
{
	sts_plugin_host(p)->breaker_free(b);
}

/* ------------------------------------------------------------------ */
/* Wrappers: DNS text                                                 */
/* ------------------------------------------------------------------ */

/*
 * TXT value (the strings concatenated) -> presentation: split into
 * character-strings of at most 255 octets, each quoted, '"' and '\'
 * escaped, other bytes outside 0x20-0x7e as \DDD, joined by one space.
 * *ret is the host's: free it with sts_plugin_free().
 */
static inline int sts_plugin_txt_quote(struct sts_plugin *p, const char *value, size_t len,
				       char **ret)
{
	return sts_plugin_host(p)->txt_quote(value, len, ret);
}

/* Presentation (quoted or bare strings, escapes) -> the value; EPARSE. */
static inline int sts_plugin_txt_unquote(struct sts_plugin *p, const char *text, size_t len,
					 char **ret, size_t *ret_len)
{
	return sts_plugin_host(p)->txt_unquote(text, len, ret, ret_len);
}

/* A DNS name in one form: lower case, IDN to A-labels, one trailing dot
 * (STS_NAME_DOT) or none (STS_NAME_NODOT); EINVAL for an invalid name. */
static inline int sts_plugin_name_normalize(struct sts_plugin *p, const char *name, unsigned flags,
					    char **ret)
{
	return sts_plugin_host(p)->name_normalize(name, flags, ret);
}

static inline void sts_plugin_free(struct sts_plugin *p, void *ptr)
{
	sts_plugin_host(p)->free(ptr);
}

/* ------------------------------------------------------------------ */
/* Wrappers: secrets, lists, buffers, files                           */
/* ------------------------------------------------------------------ */

/* Resolve a ${env:..}/${file:..} reference; free with sts_plugin_secret_free().
 * On failure the call holds why. */
static inline int sts_plugin_secret(struct sts_plugin *p, const char *ref, struct sts_secret **ret,
				    struct sts_plugin_call *call)
{
	return sts_plugin_host(p)->secret(p, ref, ret, call);
}

static inline const char *sts_plugin_secret_value(struct sts_plugin *p, const struct sts_secret *s)
{
	return sts_plugin_host(p)->secret_value(s);
}

static inline size_t sts_plugin_secret_len(struct sts_plugin *p, const struct sts_secret *s)
{
	return sts_plugin_host(p)->secret_len(s);
}

static inline void sts_plugin_secret_free(struct sts_plugin *p, struct sts_secret *s)
{
	sts_plugin_host(p)->secret_free(s);
}

/* Append an empty rrset to list (strings copied, name lower-cased); NULL on
 * ENOMEM. The pointer is valid until the next add to the list. */
static inline struct sts_rrset *sts_plugin_rrset_add(struct sts_plugin *p, struct sts_rrsets *list,
						     const char *name, const char *type,
						     uint32_t ttl)
{
	return sts_plugin_host(p)->rrset_add(list, name, type, ttl);
}

/* Append one value (len bytes, copied and NUL-terminated). */
static inline int sts_plugin_rrset_add_value(struct sts_plugin *p, struct sts_rrset *rr,
					     const char *value, size_t len)
{
	return sts_plugin_host(p)->rrset_add_value(rr, value, len);
}

/*
 * The rrset at (name, type) in list (names compared without case and
 * trailing dot), or NULL. A pointer from sts_plugin_rrset_add or _find is
 * valid until the next sts_plugin_rrset_add to the same list.
 */
static inline struct sts_rrset *sts_plugin_rrset_find(struct sts_plugin *p, struct sts_rrsets *list,
						      const char *name, const char *type)
{
	return sts_plugin_host(p)->rrset_find(list, name, type);
}

/* Append a zone (copied; trailing dot dropped, lower-cased) to a zones() list. */
static inline int sts_plugin_zone_add(struct sts_plugin *p, struct sts_zone_list *list,
				      const char *zone)
{
	return sts_plugin_host(p)->zone_add(list, zone);
}

/* Append to a host buffer, honouring its cap (STS_PLUGIN_ETOOLARGE). */
static inline int sts_plugin_buf_append(struct sts_plugin *p, struct sts_buf *b, const void *data,
					size_t len)
{
	return sts_plugin_host(p)->buf_append(b, data, len);
}

/* The text of a host buffer ("" when empty), and its length. */
static inline const char *sts_plugin_buf_data(struct sts_plugin *p, const struct sts_buf *b)
{
	return sts_plugin_host(p)->buf_data(b);
}

static inline size_t sts_plugin_buf_len(struct sts_plugin *p, const struct sts_buf *b)
{
	return sts_plugin_host(p)->buf_len(b);
}

/* The buffer's cap: appending past it fails with STS_PLUGIN_ETOOLARGE. */
static inline size_t sts_plugin_buf_max(struct sts_plugin *p, const struct sts_buf *b)
{
	return sts_plugin_host(p)->buf_max(b);
}

/* Cut the buffer back to len bytes (len <= its length). */
static inline void sts_plugin_buf_truncate(struct sts_plugin *p, struct sts_buf *b, size_t len)
{
	sts_plugin_host(p)->buf_truncate(b, len);
}

/* Temp file + fsync + rename + fsync(dir); missing parents made 0755. */
static inline int sts_plugin_write_atomic(struct sts_plugin *p, const char *path, const void *data,
					  size_t len, unsigned mode)
{
	return sts_plugin_host(p)->write_atomic(path, data, len, mode);
}

#endif
