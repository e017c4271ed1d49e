/* SPDX-License-Identifier: MIT */
/* stsctl serve: the hosted MTA-STS policy server (core/hosted/sts_serve.h), until a signal. */
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-daemon.h>

#include "cli.h"
#include "commands.h"
#include "sts_buf.h"
#include "sts_err.h"
#include "sts_hosted_store.h"
#include "sts_serve.h"

/* docs/stsctl-serve.md's SYNOPSIS block must equal this (tests/cli/help_docs.py). */
static const char *const serve_usage[] = {
    "stsctl serve [--listen ADDR:PORT] [--http ADDR:PORT] [--state PATH]",
    "             [--max-connections N] [--per-ip-connections N] [--handshake-timeout S]",
    "             [--request-timeout S] [--max-header BYTES] [--cache N]",
    "",
    "Serve the policies of the hosted domains (docs/hosted.md) over HTTPS from the",
    "state database, until SIGTERM or SIGINT: GET or HEAD",
    "/.well-known/mta-sts.txt on a hosted name answers 200 text/plain with the",
    "exact stored bytes, another path 404, another method 405, a Host header",
    "naming another host than the TLS server name 421. TLS 1.2 and 1.3 only; the",
    "certificate is chosen per server name from the store, and a name without a",
    "policy and a valid certificate is refused with the unrecognized_name alert.",
    "A policy or certificate written to the store is served within a second.",
    "",
    "      --listen ADDR:PORT  HTTPS address (default [::]:443; port 0: any free",
    "                        port); the address is printed on start",
    "      --http ADDR:PORT  also answer ACME HTTP-01 challenges there (plain HTTP,",
    "                        only /.well-known/acme-challenge/)",
    "      --state PATH      state database (default ./stsctl.db)",
    "      --max-connections N  open connections in total (default 4096)",
    "      --per-ip-connections N  per client address or IPv6 /64 (default 64)",
    "      --handshake-timeout S  TLS handshake deadline (default 10)",
    "      --request-timeout S  absolute deadline of a connection (default 30)",
    "      --max-header BYTES  request line and headers (default 8192)",
    "      --cache N         parsed certificates kept (default 1024)",
    "  -h, --help            show this help",
    "",
    "Exit status: 0 stopped by a signal; 2 usage error, the state database cannot",
    "be used, or the server cannot start (address in use, bad address); 3 the",
    "state is locked by another stsctl at start; 70 internal error.",
    NULL,
};

struct serve_args {
	const char *listen, *http;
	unsigned max_conn, per_ip, handshake, request, max_header, cache;
};

static const struct cli_opt serve_opts[] = {
    CLI_STATE,
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

static int run(struct cli_ctx *c)
{
	const struct serve_args *a = c->args;
	struct sts_serve *srv = NULL;
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
		sts_log_err("%s", err ? err : sts_strerror(r));
		free(err);
		return r == STS_ENOMEM ? EXIT_INTERNAL : EXIT_USAGE;
	}
#ifdef STS_TEST_HOOKS
	test_challenges(srv);
#endif
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
	sts_serve_stop(srv);
	return EXIT_OK;
}

CLI_COMMAND(serve, .args_size = sizeof(struct serve_args));
