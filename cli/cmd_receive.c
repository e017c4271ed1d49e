/* SPDX-License-Identifier: MIT */
/* stsctl receive: the HTTPS receiver for RFC 8460 §5.4 POSTs, until a signal. */
#include <stddef.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "sts_buf.h"
#include "sts_err.h"
#include "sts_receiver.h"
#include "sts_secret.h"

/* docs/stsctl-receive.md's SYNOPSIS block must equal this (tests/cli/help_docs.py). */
static const char *const receive_usage[] = {
    "stsctl receive --inventory FILE [--state PATH] [--listen ADDR:PORT]",
    "",
    "Run the HTTPS receiver for TLS reports POSTed to an https: rua (RFC 8460",
    "section 5.4) with the inventory's reports.https settings (certificate, key,",
    "path, body limit, trusted), until SIGTERM or SIGINT. It answers 201 for a",
    "new report, 200 for a duplicate, 400 for an unusable one (quarantined), 405,",
    "413 or 415 for a wrong method, size or media type, 429 past a per-client",
    "limit, and 503 while the state is locked, too many bodies are in memory or",
    "the quota for unauthenticated input is full; a request not complete within",
    "reports.https.request_timeout is cut off. The lock PATH.lock is taken for",
    "each write.",
    "",
    "  -i, --inventory FILE  the inventory with reports.https (required)",
    "      --state PATH      state database (default ./stsctl.db); the lock is PATH.lock",
    "      --listen ADDR:PORT  listen there instead of reports.https.listen (port 0:",
    "                        any free port); the address is printed on start",
    "  -h, --help            show this help",
    "",
    "Exit status: 0 stopped by a signal; 1 the inventory is invalid or has no",
    "reports.https; 2 usage error, or the receiver cannot start; 3 the state is",
    "locked by another stsctl at start.",
    NULL,
};

struct receive_args {
	const char *listen;
};

static const struct cli_opt receive_opts[] = {
    CLI_INVENTORY('i'),
    CLI_STATE,
    CLI_STRING("listen", 0, struct receive_args, listen),
    CLI_END,
};

/*
 * From the receiver's threads, one call at a time; sts_log_info escapes
 * the path (a request for "/x%0a<3>..." is one line) and writes the line
 * at once.
 */
static void on_access(void *ud, const char *peer, const char *method, const char *path,
		      unsigned status, const char *message)
{
	(void)ud;
	sts_log_info("receive: %s %s from %s: %u %s", method, path, peer, status, message);
}

static void on_event(void *ud, const struct sts_ingest_event *ev)
{
	(void)ud;
	if (ev->outcome == STS_INGEST_QUARANTINED)
		sts_log_warn("quarantined '%s': %s", ev->source, ev->reason ? ev->reason : "");
	else
		sts_log_debug("%s '%s': %s %s", sts_ingest_outcome_name(ev->outcome), ev->source,
			      ev->organization ? ev->organization : "(no organization)",
			      ev->report_id ? ev->report_id : "(no report-id)");
}

/* a PEM file, or for the key also a secret reference to the PEM text */
static char *read_pem(const char *what, const char *ref, const char *basedir)
{
	if (!ref) {
		sts_log_err("reports.https has no '%s'", what);
		return NULL;
	}
	if (sts_secret_is_ref(ref)) {
		struct sts_secret *s = NULL;
		const char *why = NULL;
		if (sts_secret_resolve(ref, basedir, &s, &why) < 0) {
			sts_log_err("reports.https.%s: %s", what, why);
			return NULL;
		}
		char *v = strdup(sts_secret_value(s));
		sts_secret_free(s);
		return v;
	}
	if (strcmp(what, "key") == 0) {
		/* a private key: read as a secret (one buffer, wiped), never by realloc */
		struct sts_secret *s = NULL;
		const char *why = NULL;
		if (sts_secret_read_file(ref, &s, &why) < 0) {
			sts_log_err("cannot read reports.https.key '%s': %s", ref, why);
			return NULL;
		}
		char *v = strdup(sts_secret_value(s));
		sts_secret_free(s);
		return v;
	}
	struct sts_buf b;
	sts_buf_init(&b, 1u << 20);
	int r = sts_buf_read_file(&b, ref);
	if (r < 0) {
		sts_log_errno(r, "cannot read reports.https.%s '%s'", what, ref);
		sts_buf_release(&b);
		return NULL;
	}
	return sts_buf_steal(&b);
}

static int serve(struct cli_ctx *c, const char *listen)
{
	const struct sts_ingest_https *h = &c->conf->https;
	struct sts_ingest *ing = NULL;
	struct sts_receiver *rv = NULL;
	struct sts_receiver_store store;
	char *cert = NULL, *key = NULL, *err = NULL;
	int rc = EXIT_USAGE;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	/* before any thread starts: they all inherit the mask, only sigwait sees them */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN); /* a sender that hangs up must not stop the receiver */
	struct sts_ingest_opts o = {.conf = c->conf, .on_event = on_event, .batch = 1};
	int r = sts_ingest_new(c->db, &o, &ing);
	/* the schema is there: from now on the lock is taken for each write */
	sts_lock_release(c->lock);
	c->lock = NULL;
	if (r < 0) {
		cli_db_error(c, r);
		return EXIT_FAIL;
	}
	sts_receiver_store_init(&store, ing, h->trusted, c->state_path);
	sts_receiver_store_quota(&store, c->db, h->quota_reports, h->quota_bytes);
	if (!(cert = read_pem("cert", h->cert, c->conf->basedir)) ||
	    !(key = read_pem("key", h->key, c->conf->basedir)))
		goto out;
	struct sts_receiver_opts ro = {
	    .listen = listen ? listen : h->listen,
	    .path = h->path,
	    .cert_pem = cert,
	    .key_pem = key,
	    .max_body = h->max_body,
	    .max_connections = h->max_connections,
	    .per_ip_connections = h->per_ip_connections,
	    .per_ip_requests = h->per_ip_requests,
	    .timeout_s = h->timeout_s,
	    .request_timeout_s = h->request_timeout_s,
	    .body_memory = h->body_memory,
	    .handler = sts_receiver_store_handler,
	    .ud = &store,
	    .on_access = on_access,
	};
	r = sts_receiver_start(&ro, &rv, &err);
	explicit_bzero(key, strlen(key));
	if (r < 0) {
		sts_log_err("%s", err ? err : sts_strerror(r));
		rc = r == STS_ENOMEM ? EXIT_INTERNAL : EXIT_USAGE;
		goto out;
	}
	char host[128];
	const char *colon = strrchr(ro.listen, ':');
	snprintf(host, sizeof(host), "%.*s", (int)(colon - ro.listen), ro.listen);
	printf("listening on https://%s:%u%s\n", host[0] ? host : "0.0.0.0", sts_receiver_port(rv),
	       ro.path);
	fflush(stdout);
	int sig = 0;
	sigwait(&set, &sig);
	sts_log_info("receive: %s, stopping", strsignal(sig));
	sts_receiver_stop(rv);
	rc = EXIT_OK;
out:
	sts_receiver_store_release(&store);
	sts_ingest_free(ing);
	STS_FREE_ALL(cert, key, err);
	return rc;
}

static int run(struct cli_ctx *ctx)
{
	const struct receive_args *a = ctx->args;
	if (!ctx->conf->https.present) {
		sts_log_err("inventory '%s' has no reports.https section", ctx->inventory_path);
		return EXIT_FAIL;
	}
	if (!a->listen && !ctx->conf->https.listen) {
		sts_log_err("reports.https has no 'listen'");
		return EXIT_FAIL;
	}
	return serve(ctx, a->listen);
}

CLI_COMMAND(receive, .args_size = sizeof(struct receive_args));
