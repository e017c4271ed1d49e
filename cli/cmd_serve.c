/* SPDX-License-Identifier: MIT */
/* stsctl serve: the hosted MTA-STS policy server (core/hosted/sts_serve.h), until a signal. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "cli.h"
#include "cli_netopts.h"
#include "commands.h"
#include "sts_buf.h"
#include "sts_err.h"
#include "sts_hosted_store.h"
#include "sts_secret.h"
#include "sts_serve.h"
#include "sts_serve_acme.h"

/* docs/stsctl-serve.md's SYNOPSIS block must equal this (tests/cli/help_docs.py). */
static const char *const serve_usage[] = {
    "stsctl serve [--inventory FILE | INVENTORY] [--listen ADDR:PORT]",
    "             [--http ADDR:PORT] [--state PATH] [--max-connections N]",
    "             [--per-ip-connections N] [--handshake-timeout S] [--request-timeout S]",
    "             [--max-header BYTES] [--cache N]",
    "             [--acme-directory URL [--acme-contact mailto:ADDR]",
    "              [--acme-ca-file PATH] [--acme-challenge TYPE]... [--acme-interval S]]",
    "             [--resolver IP[:PORT]]",
    "",
    "Serve the policies of the hosted domains (docs/hosted.md) over HTTPS from the",
    "state database, until SIGTERM or SIGINT: GET or HEAD",
    "/.well-known/mta-sts.txt on a hosted name answers 200 text/plain with the",
    "exact stored bytes, another path 404, another method 405, a Host header",
    "naming another host than the TLS server name 421. TLS 1.2 and 1.3 only; the",
    "certificate is chosen per server name from the store, and a name without a",
    "policy and a valid certificate is refused with the unrecognized_name alert.",
    "A policy or certificate written to the store is served within a second.",
    "With an inventory that has a hosted section, --listen and the --acme-*",
    "settings default to its listen and acme (an option given wins).",
    "",
    "      --inventory FILE  take the defaults from the inventory's hosted section",
    "      --listen ADDR:PORT  HTTPS address (default hosted.listen, else [::]:443;",
    "                        port 0: any free port); the address is printed on start",
    "      --http ADDR:PORT  also answer ACME HTTP-01 challenges there (plain HTTP,",
    "                        only /.well-known/acme-challenge/)",
    "      --state PATH      state database (default ./stsctl.db)",
    "      --max-connections N  open connections in total (default 4096)",
    "      --per-ip-connections N  per client address or IPv6 /64 (default 64)",
    "      --handshake-timeout S  TLS handshake deadline (default 10)",
    "      --request-timeout S  absolute deadline of a connection (default 30)",
    "      --max-header BYTES  request line and headers (default 8192)",
    "      --cache N         hosted names kept parsed (default 16384)",
    "      --acme-directory URL  obtain and renew the certificates from this ACME",
    "                        directory (default hosted.acme.directory; without",
    "                        one, no ACME runs)",
    "      --acme-contact mailto:ADDR  the ACME account's contact",
    "      --acme-ca-file PATH  CA of the ACME server's API (default: the system's)",
    "      --acme-challenge TYPE  tls-alpn-01 or http-01 (needs --http), in order",
    "                        of preference; repeatable (default tls-alpn-01, then",
    "                        http-01 when --http is given)",
    "      --acme-interval S  seconds between renewal passes (default 3600); a",
    "                        pass also runs at start and when the store changes",
    "      --resolver IP[:PORT]  the DNS server of the delegation check (with an",
    "                        inventory: mta-sts.D must CNAME to hosted.edge before",
    "                        it is ordered; default: resolv.conf's servers)",
    "  -h, --help            show this help",
    "",
    "Exit status: 0 stopped by a signal; 1 the inventory is invalid; 2 usage",
    "error, the state database cannot be used, or the server cannot start",
    "(address in use, bad address); 3 the state is locked by another stsctl at",
    "start; 70 internal error.",
    NULL,
};

struct serve_args {
	const char *listen, *http;
	unsigned max_conn, per_ip, handshake, request, max_header, cache;
	const char *acme_dir, *acme_contact, *acme_ca;
	struct cli_list acme_chal;
	unsigned acme_interval;
	char *inv_ca;			 /* hosted.acme.ca_file as a path (owned) */
	const char *const *inv_contacts; /* hosted.acme.contact, NULL-terminated (borrowed) */
	const char *resolver;
};

static const struct cli_opt serve_opts[] = {
    CLI_STATE,
    CLI_INVENTORY(0),
    CLI_STRING("listen", 0, struct serve_args, listen),
    CLI_STRING("http", 0, struct serve_args, http),
    CLI_UINT("max-connections", 0, struct serve_args, max_conn, 1, 1000000,
	     "--max-connections %s: expected %lu to %lu"),
    CLI_UINT("per-ip-connections", 0, struct serve_args, per_ip, 1, 1000000,
	     "--per-ip-connections %s: expected %lu to %lu"),
    CLI_UINT("handshake-timeout", 0, struct serve_args, handshake, 1, 3600,
	     "--handshake-timeout %s: expected %lu to %lu seconds"),
    CLI_UINT("request-timeout", 0, struct serve_args, request, 1, 3600,
	     "--request-timeout %s: expected %lu to %lu seconds"),
    CLI_UINT("max-header", 0, struct serve_args, max_header, 256, 1048576,
	     "--max-header %s: expected %lu to %lu bytes"),
    CLI_UINT("cache", 0, struct serve_args, cache, 1, 10000000, "--cache %s: expected %lu to %lu"),
    CLI_STRING("acme-directory", 0, struct serve_args, acme_dir),
    CLI_STRING("acme-contact", 0, struct serve_args, acme_contact),
    CLI_STRING("acme-ca-file", 0, struct serve_args, acme_ca),
    CLI_LIST("acme-challenge", 0, struct serve_args, acme_chal),
    CLI_UINT("acme-interval", 0, struct serve_args, acme_interval, 10, 604800,
	     "--acme-interval %s: expected %lu to %lu seconds"),
    CLI_CALLBACK("resolver", 0, struct serve_args, resolver, netopt_resolver),
    CLI_END,
};

static bool watchdog;

/* From the server's thread, one call at a time; sts_log_* escapes the text. */
static void on_log(void *ud, enum sts_serve_level level, const char *msg)
{
	(void)ud;
	switch (level) {
	case STS_SERVE_ERR:
		sts_log_err("%s", msg);
		break;
	case STS_SERVE_WARN:
		sts_log_warn("%s", msg);
		break;
	case STS_SERVE_INFO:
		sts_log_info("%s", msg);
		break;
	default:
		sts_log_debug("%s", msg);
	}
}

/* Once a second from the event loop: the watchdog sees the loop itself alive. */
static void on_tick(void *ud)
{
	(void)ud;
	if (watchdog)
		sd_notify(0, "WATCHDOG=1");
}

#ifdef STS_TEST_HOOKS
static char *slurp(const char *path)
{
	struct sts_buf b;
	sts_buf_init(&b, 1u << 20);
	if (sts_buf_read_file(&b, path) < 0) {
		sts_buf_release(&b);
		return NULL;
	}
	return sts_buf_steal(&b);
}

/*
 * The challenge API without an ACME client (tests/cli/test_serve_cli.py):
 * STSCTL_TEST_SERVE_ALPN="HOST CERTFILE KEYFILE" and
 * STSCTL_TEST_SERVE_HTTP01="TOKEN KEYAUTH".
 */
static void test_challenges(struct sts_serve *srv)
{
	char host[256], cf[1024], kf[1024], tok[256], ka[1024];
	const char *e = getenv("STSCTL_TEST_SERVE_ALPN");
	if (e && sscanf(e, "%255s %1023s %1023s", host, cf, kf) == 3) {
		char *cert = slurp(cf), *key = slurp(kf);
		if (!cert || !key || sts_serve_alpn_challenge_set(srv, host, cert, key) < 0)
			sts_log_err("STSCTL_TEST_SERVE_ALPN: cannot set the challenge of '%s'",
				    host);
		free(cert);
		free(key);
	}
	e = getenv("STSCTL_TEST_SERVE_HTTP01");
	if (e && sscanf(e, "%255s %1023s", tok, ka) == 2 &&
	    sts_serve_http_challenge_set(srv, tok, ka) < 0)
		sts_log_err("STSCTL_TEST_SERVE_HTTP01: cannot set the token '%s'", tok);
}
#endif

/* The renewal thread: sts_serve_acme_pass on a DB connection of its own. */
#define ACME_STOP_WAIT 10 /* seconds serve waits for a running pass at SIGTERM */
struct acme_thread {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	struct sts_serve_acme_opts po;
	struct sts_acme_opts ao;
	struct sts_resolver_opts ro;
	const char *prefs[3];
	unsigned interval;
};

/* Wait up to s seconds for stop; true when asked to stop. */
static bool acme_wait(struct acme_thread *t, unsigned s)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += s;
	pthread_mutex_lock(&t->mu);
	while (!t->stop && pthread_cond_timedwait(&t->cv, &t->mu, &ts) != ETIMEDOUT)
		;
	bool stop = t->stop;
	pthread_mutex_unlock(&t->mu);
	return stop;
}

static void *acme_main(void *ud)
{
	struct acme_thread *t = ud;
	int64_t gen = -1, now_gen = 0;
	time_t next = 0;
	do {
		/* a pass at start, every interval, and when a write moved the generation */
		if (sts_hosted_generation(t->po.db, &now_gen) < 0)
			now_gen = gen;
		if (time(NULL) < next && now_gen == gen)
			continue;
		struct sts_serve_acme_report rep = {0};
		int r = sts_serve_acme_pass(&t->po, time(NULL), &rep);
		if (r < 0)
			sts_log_err("serve: acme pass failed: %s", sts_strerror(r));
		else
			sts_log_info("serve: acme pass: hosts=%u due=%u issued=%u failed=%u",
				     rep.hosts, rep.due, rep.issued, rep.failed);
		/* the pass's own certificate writes do not start another one */
		if (sts_hosted_generation(t->po.db, &gen) < 0)
			gen = now_gen;
		/* a pass stopped by the store or the account: again within a minute */
		next = time(NULL) + (r < 0 && t->interval > 60 ? 60 : t->interval);
		/* a host due before that (a retry after a failure): then */
		if (r == STS_OK && rep.next && rep.next < next)
			next = rep.next;
	} while (!acme_wait(t, 1));
	return NULL;
}

/*
 * The inventory's hosted section as the defaults of --listen and --acme-*
 * (an option given wins); EXIT_OK, or the exit code after logging why.
 */
static int inventory_defaults(struct cli_ctx *c, struct serve_args *a)
{
	const struct sts_hosted_conf *h = c->inv ? c->inv->hosted : NULL;
	if (!h)
		return EXIT_OK;
	/* ":443", hosted.listen's default, is serve's own [::]:443 (IPv4 too) */
	if (!a->listen && strcmp(h->listen, STS_HOSTED_DEFAULT_LISTEN) != 0)
		a->listen = h->listen;
	if (a->acme_dir || !h->acme_directory)
		return EXIT_OK; /* another ACME server: none of the inventory's account */
	a->acme_dir = h->acme_directory;
	if (!a->acme_contact && h->n_acme_contact)
		a->inv_contacts = (const char *const *)h->acme_contact; /* all of them */
	const char *ca = h->acme_ca_file;
	if (a->acme_ca || !ca)
		return EXIT_OK;
	/* a path, ${file:PATH} or ${env:NAME} holding a path (through the secrets
	 * module, as every reference): a relative one is relative to the inventory */
	struct sts_secret *sec = NULL;
	const char *why = NULL;
	size_t n = strlen(ca);
	int len = (int)n;
	if (strncmp(ca, "${file:", 7) == 0 && n > 8 && ca[n - 1] == '}') {
		ca += 7;
		len = (int)n - 8;
	} else if (sts_secret_is_ref(ca)) {
		int e = sts_secret_resolve(ca, c->inv->dir, &sec, &why);
		if (e < 0) {
			sts_log_err("inventory: hosted.acme.ca_file '%s': %s", h->acme_ca_file,
				    why ? why : sts_strerror(e));
			return e == STS_ENOMEM ? EXIT_INTERNAL : EXIT_USAGE;
		}
		ca = sts_secret_value(sec);
		len = (int)sts_secret_len(sec);
	}
	int r = ca[0] == '/' || !c->inv->dir
		    ? asprintf(&a->inv_ca, "%.*s", len, ca)
		    : asprintf(&a->inv_ca, "%s/%.*s", c->inv->dir, len, ca);
	sts_secret_free(sec);
	if (r < 0) {
		a->inv_ca = NULL;
		sts_log_err("out of memory");
		return EXIT_INTERNAL;
	}
	a->acme_ca = a->inv_ca;
	return EXIT_OK;
}

static void release(struct cli_ctx *c)
{
	struct serve_args *a = c->args;
	free(a->inv_ca);
}

/* The options checked and the pass's connection opened; EXIT_OK, or the error. */
static int acme_setup(struct cli_ctx *c, struct acme_thread *t)
{
	const struct serve_args *a = c->args;
	size_t n = 0;
	if (!a->acme_dir)
		return a->acme_contact || a->acme_ca || a->acme_chal.n || a->acme_interval
			   ? cli_usage_error(c->def->usage,
					     "the --acme-* options need --acme-directory")
			   : EXIT_OK;
	for (size_t i = 0; i < a->acme_chal.n; i++) {
		const char *v = a->acme_chal.v[i];
		if (strcmp(v, "tls-alpn-01") != 0 && strcmp(v, "http-01") != 0)
			return cli_usage_error(
			    c->def->usage, "--acme-challenge %s: expected tls-alpn-01 or http-01",
			    v);
		if (strcmp(v, "http-01") == 0 && !a->http)
			return cli_usage_error(c->def->usage,
					       "--acme-challenge http-01 needs --http");
		if (n < 2 && (n == 0 || strcmp(t->prefs[0], v) != 0))
			t->prefs[n++] = v;
	}
	if (n == 0) {
		t->prefs[n++] = "tls-alpn-01";
		if (a->http)
			t->prefs[n++] = "http-01";
	}
	t->prefs[n] = NULL;
	char *err = NULL;
	int r = sts_db_open(sts_db_path(c->db), 0, NULL, &t->po.db, &err);
	if (r < 0) {
		sts_log_err("%s: %s", sts_db_path(c->db), err ? err : sts_strerror(r));
		free(err);
		return EXIT_USAGE;
	}
	t->ao = (struct sts_acme_opts){.ca_file = a->acme_ca};
	t->po.directory_url = a->acme_dir;
	t->po.contact = a->acme_contact;
	t->po.contacts = a->inv_contacts;
	t->po.prefs = t->prefs;
	t->po.acme = &t->ao;
	/* with an inventory: only a host delegated to its edge is ordered */
	t->po.edge = c->inv && c->inv->hosted ? c->inv->hosted->edge : NULL;
	t->ro = (struct sts_resolver_opts){.server = a->resolver};
	t->po.resolve = &t->ro;
	t->interval = a->acme_interval ? a->acme_interval : 3600;
	return EXIT_OK;
}

static int acme_start(struct acme_thread *t, struct sts_serve *srv)
{
	if (!t->po.db)
		return EXIT_OK;
	t->po.srv = srv;
	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	if (pthread_create(&t->th, NULL, acme_main, t) != 0) {
		sts_log_err("serve: cannot start the renewal thread");
		sts_db_close(t->po.db);
		t->po.db = NULL;
		return EXIT_INTERNAL;
	}
	return EXIT_OK;
}

/*
 * Stop the renewal thread; true when it ended. A pass blocked in the ACME
 * server beyond ACME_STOP_WAIT seconds is left running (the caller exits).
 */
static bool acme_stop(struct acme_thread *t)
{
	if (!t->po.db)
		return true;
	pthread_mutex_lock(&t->mu);
	t->stop = true;
	pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mu);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ACME_STOP_WAIT;
	if (pthread_timedjoin_np(t->th, NULL, &ts) != 0) {
		sts_log_warn("serve: the acme pass did not end within %d s, exiting without it",
			     ACME_STOP_WAIT);
		return false;
	}
	sts_db_close(t->po.db);
	return true;
}

static int run(struct cli_ctx *c)
{
	const struct serve_args *a = c->args;
	struct sts_serve *srv = NULL;
	struct acme_thread acme = {0};
	char *err = NULL;
	uint64_t wd_usec = 0;
	sigset_t set;
	int r, sig = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	/* before the loop's thread starts: it inherits the mask, only sigwait sees them */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	r = sts_hosted_schema(c->db);
	/* the schema is there: serve only reads, and writes its heartbeat */
	sts_lock_release(c->lock);
	c->lock = NULL;
	if (r < 0) {
		cli_db_error(c, r);
		return cli_exit_for(r);
	}
	r = inventory_defaults(c, c->args);
	if (r == EXIT_OK)
		r = acme_setup(c, &acme);
	if (r != EXIT_OK)
		return r;
	watchdog = sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec > 0;
	struct sts_serve_opts o = {
	    .db = c->db,
	    .listen = a->listen,
	    .http_listen = a->http,
	    .max_connections = a->max_conn,
	    .per_ip_connections = a->per_ip,
	    .handshake_timeout_s = a->handshake,
	    .request_timeout_s = a->request,
	    .max_header = a->max_header,
	    .cache = a->cache,
	    .on_log = on_log,
	    .on_tick = on_tick,
	};
	r = sts_serve_start(&o, &srv, &err);
	if (r < 0) {
		sts_db_close(acme.po.db);
		sts_log_err("%s", err ? err : sts_strerror(r));
		free(err);
		return r == STS_ENOMEM ? EXIT_INTERNAL : EXIT_USAGE;
	}
#ifdef STS_TEST_HOOKS
	test_challenges(srv);
#endif
	r = acme_start(&acme, srv);
	if (r != EXIT_OK) {
		sts_serve_stop(srv);
		return r;
	}
	printf("listening on https port %u", sts_serve_port(srv));
	if (a->http)
		printf(", http port %u", sts_serve_http_port(srv));
	printf("\n");
	fflush(stdout);
	sts_log_info("serve: listening on %s", a->listen ? a->listen : STS_SERVE_LISTEN);
	sd_notifyf(0, "READY=1\nSTATUS=serving on %s", a->listen ? a->listen : STS_SERVE_LISTEN);
	sigwait(&set, &sig);
	sd_notify(0, "STOPPING=1");
	sts_log_info("serve: %s, stopping", strsignal(sig));
	if (!acme_stop(&acme)) {
		/* the pass still uses srv: no graceful stop, no last heartbeat */
		fflush(NULL);
		_exit(EXIT_OK);
	}
	sts_serve_stop(srv);
	return EXIT_OK;
}

CLI_COMMAND(serve, .args_size = sizeof(struct serve_args), .max_args = 1, .release = release);
