/* SPDX-License-Identifier: MIT */
/*
 * stsctl check: live audit of MTA-STS and TLS-RPT deployments
 * (core/check/sts_check.h does the work). The report goes to stdout (text or
 * --json); usage and I/O errors to stderr; a progress bar on a terminal.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cmd_check.h"
#include "commands.h"
#include "sts_buf.h"
#include "sts_err.h"

const char *const check_usage[] = {
    "stsctl check [OPTIONS] DOMAIN...",
    "stsctl check [OPTIONS] --file FILE",
    "stsctl check [OPTIONS] --inventory FILE [DOMAIN...]",
    "",
    "Audit live MTA-STS and TLS-RPT deployments as sending MTAs see them: the",
    "_mta-sts record, the policy over HTTPS, every MX against the policy and over",
    "STARTTLS, the _smtp._tls record; with --inventory, drift from the inventory.",
    "",
    "    --json                 print the report as JSON",
    "    --inventory FILE       compare with the inventory; without DOMAIN, check",
    "                           every domain in it",
    "    -f, --file FILE        read domains from FILE, one per line ('-': stdin)",
    "    --concurrency N        check N domains at a time (default 10, at most 512)",
    "    --resolver IP[:PORT]   send DNS queries to this server, not resolv.conf's",
    "    --ca-file FILE         trust anchors for the policy and MX certificates",
    "    --smtp-port PORT       probe MX hosts on PORT instead of 25",
    "    --https-port PORT      fetch policies from PORT instead of 443",
    "    --timeout SECONDS      per connection (default 15)",
    "    --dns-timeout SECONDS  per DNS lookup (default 5)",
    "    --no-smtp              skip the STARTTLS probes of the MX hosts",
    "    --helo NAME            EHLO name of the probes (default localhost)",
    "    --warn-days N          warn about certificates expiring within N days",
    "                           (default 14)",
    "    --max-mx N             probe at most N MX hosts per domain; more fail",
    "                           the domain (default 32, at most 1000)",
    "    --domain-timeout SECONDS",
    "                           probe no MX host of a domain after this long;",
    "                           the ones left fail it (default 120)",
    "    --progress, --no-progress",
    "                           progress bar on standard error (default: when it",
    "                           is a terminal)",
    "    -h, --help             show this help",
    "",
    "Exit status: 0 no domain fails (warnings allowed), 1 a domain fails, 2 usage",
    "or I/O error.",
    NULL,
};

/* ---- options and helpers shared with onboard (cmd_check.h) ---- */

void netopts_init(struct netopts *n)
{
	memset(n, 0, sizeof(*n));
	n->progress = -1;
}

static int parse_seconds(const char *arg, long *ret_ms)
{
	char *end;
	errno = 0;
	double s = strtod(arg, &end);
	if (errno || end == arg || *end || !(s > 0) || s > 3600)
		return -1;
	*ret_ms = (long)(s * 1000.0 + 0.5);
	return *ret_ms > 0 ? 0 : -1;
}

static int parse_uint(const char *arg, unsigned long min, unsigned long max, unsigned long *ret)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] == '-' || v < min || v > max)
		return -1;
	*ret = v;
	return 0;
}

/* IPv4[:PORT], IPv6, or [IPv6]:PORT */
static bool resolver_ok(const char *arg)
{
	char host[64];
	const char *port = NULL;
	unsigned char buf[16];
	unsigned long v;
	const char *colon = strchr(arg, ':');
	if (arg[0] == '[') {
		const char *end = strchr(arg, ']');
		if (!end || (size_t)(end - arg - 1) >= sizeof(host) || end[1] != ':')
			return false;
		snprintf(host, sizeof(host), "%.*s", (int)(end - arg - 1), arg + 1);
		port = end + 2;
	} else if (colon && colon == strrchr(arg, ':')) {
		if ((size_t)(colon - arg) >= sizeof(host))
			return false;
		snprintf(host, sizeof(host), "%.*s", (int)(colon - arg), arg);
		port = colon + 1;
	} else if (strlen(arg) < sizeof(host)) {
		snprintf(host, sizeof(host), "%s", arg);
	} else {
		return false;
	}
	if (inet_pton(AF_INET, host, buf) != 1 && inet_pton(AF_INET6, host, buf) != 1)
		return false;
	return !port || parse_uint(port, 1, 65535, &v) == 0;
}

int netopts_parse(struct netopts *n, int c, const char *arg, const char *const *usage)
{
	struct sts_check_opts *o = &n->check;
	unsigned long v;
	switch (c) {
	case NETOPT_RESOLVER:
		if (!resolver_ok(arg)) {
			cli_usage_error(
			    usage, "invalid resolver '%s': not an IP address with an optional port",
			    arg);
			return -1;
		}
		o->resolver = arg;
		return 1;
	case NETOPT_CA_FILE:
		if (access(arg, R_OK) != 0) {
			sts_log_errno(-errno, "cannot read CA file '%s'", arg);
			return -1;
		}
		o->ca_file = arg;
		return 1;
	case NETOPT_SMTP_PORT:
	case NETOPT_HTTPS_PORT:
		if (parse_uint(arg, 1, 65535, &v) < 0) {
			cli_usage_error(usage, "invalid port '%s'", arg);
			return -1;
		}
		if (c == NETOPT_SMTP_PORT)
			o->smtp_port = (unsigned)v;
		else
			o->https_port = (unsigned)v;
		return 1;
	case NETOPT_TIMEOUT:
	case NETOPT_DNS_TIMEOUT:
		if (parse_seconds(arg, c == NETOPT_TIMEOUT ? &o->timeout_ms : &o->dns_timeout_ms) <
		    0) {
			cli_usage_error(usage, "invalid number of seconds '%s'", arg);
			return -1;
		}
		return 1;
	case NETOPT_CONCURRENCY:
		if (parse_uint(arg, 1, STS_CHECK_CONCURRENCY_MAX, &v) < 0) {
			cli_usage_error(usage, "invalid concurrency '%s' (1 to %d)", arg,
					STS_CHECK_CONCURRENCY_MAX);
			return -1;
		}
		o->concurrency = (unsigned)v;
		return 1;
	case NETOPT_HELO:
		o->helo = arg;
		return 1;
	case NETOPT_PROGRESS:
		n->progress = 1;
		return 1;
	case NETOPT_NO_PROGRESS:
		n->progress = 0;
		return 1;
	}
	return 0;
}

struct bar {
	long last_ms;
	bool drawn;
};

static long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* Called by the workers one at a time (core holds a lock around it). */
static void draw_bar(size_t done, size_t total, void *ud)
{
	struct bar *b = ud;
	long now = mono_ms();
	if (done < total && now - b->last_ms < 100)
		return;
	b->last_ms = now;
	b->drawn = true;
	int width = 30, fill = total ? (int)(done * (size_t)width / total) : width;
	fprintf(stderr, "\rchecking [%.*s%*s] %zu/%zu", fill,
		"==============================", width - fill, "", done, total);
	fflush(stderr);
}

static struct bar the_bar;

void netopts_progress(struct netopts *n)
{
	bool on = n->progress == 1 || (n->progress == -1 && cli_stderr_tty());
	if (!on || cli_verbosity < 1)
		return;
	memset(&the_bar, 0, sizeof(the_bar));
	n->check.progress = draw_bar;
	n->check.progress_ud = &the_bar;
}

void netopts_progress_done(struct netopts *n)
{
	if (n->check.progress && the_bar.drawn)
		fprintf(stderr, "\r\033[K");
}

int netopts_fail(int r, const char *why, const char *what)
{
	if (why)
		sts_log_err("cannot %s: %s", what, why);
	else
		sts_log_errno(r, "cannot %s", what);
	return r == STS_EINVAL ? EXIT_USAGE : cli_exit_for(r);
}

int namelist_add(struct namelist *l, const char *name, const char *const *usage)
{
	char *norm = NULL;
	const char *why = NULL;
	int r = sts_check_domain_name(name, &norm, &why);
	if (r == STS_ENOMEM) {
		sts_log_err("out of memory");
		return EXIT_INTERNAL;
	}
	if (r < 0)
		return cli_usage_error(usage, "invalid domain '%s': %s", name, why);
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		char **v = realloc(l->v, cap * sizeof(*v));
		if (!v) {
			free(norm);
			sts_log_err("out of memory");
			return EXIT_INTERNAL;
		}
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = norm;
	return 0;
}

int namelist_read(struct namelist *l, const char *path, const char *const *usage)
{
	struct sts_buf b;
	sts_buf_init(&b, STS_CAP_TEXT);
	int r = sts_buf_read_file(&b, path);
	if (r < 0) {
		sts_log_errno(r, "cannot read '%s'", path);
		sts_buf_release(&b);
		return cli_exit_for(r);
	}
	char *save = NULL;
	int rc = 0;
	for (char *line = strtok_r(b.data ? b.data : (char *)"", "\n", &save); line && !rc;
	     line = strtok_r(NULL, "\n", &save)) {
		line[strcspn(line, "#\r")] = '\0';
		char *p = line + strspn(line, " \t");
		size_t n = strcspn(p, " \t");
		if (!n)
			continue;
		p[n] = '\0';
		rc = namelist_add(l, p, usage);
	}
	sts_buf_release(&b);
	return rc;
}

int cli_inventory_load(const char *path, struct sts_inventory **ret)
{
	struct sts_diags d;
	sts_diags_init(&d);
	int r = sts_inventory_load(path, ret, &d);
	if (r < 0) {
		cli_print_diags(&d);
		if (r != STS_EINVALID && r != STS_EPARSE)
			sts_log_errno(r, "cannot read inventory '%s'", path);
	}
	sts_diags_release(&d);
	return r < 0 ? cli_exit_for(r) : 0;
}

void namelist_release(struct namelist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* ---- stsctl check ---- */

enum {
	OPT_JSON = 0x200,
	OPT_INVENTORY,
	OPT_NO_SMTP,
	OPT_WARN_DAYS,
	OPT_MAX_MX,
	OPT_DOMAIN_TIMEOUT,
};

static int print_report(const struct sts_check_report *rep, bool json)
{
	if (json)
		return cli_json_print(sts_check_json(rep)) < 0 ? EXIT_USAGE : EXIT_OK;
	struct sts_buf out;
	sts_buf_init(&out, (size_t)1 << 30);
	int r = sts_check_text(rep, &out);
	if (r < 0) {
		sts_buf_release(&out);
		sts_log_errno(r, "cannot write the report");
		return cli_exit_for(r);
	}
	fwrite(sts_buf_str(&out), 1, out.len, stdout);
	sts_buf_release(&out);
	if (rep->n > 1)
		printf("%zu domains: %zu pass, %zu warn, %zu fail\n", rep->n, rep->n_pass,
		       rep->n_warn, rep->n_fail);
	return EXIT_OK;
}

int cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"json", no_argument, NULL, OPT_JSON},
	    {"inventory", required_argument, NULL, OPT_INVENTORY},
	    {"file", required_argument, NULL, 'f'},
	    {"no-smtp", no_argument, NULL, OPT_NO_SMTP},
	    {"warn-days", required_argument, NULL, OPT_WARN_DAYS},
	    {"max-mx", required_argument, NULL, OPT_MAX_MX},
	    {"domain-timeout", required_argument, NULL, OPT_DOMAIN_TIMEOUT},
	    {"help", no_argument, NULL, 'h'},
	    NETOPT_LONGOPTS,
	    {NULL, 0, NULL, 0},
	};
	struct netopts net;
	struct namelist names = {0};
	struct sts_inventory *inv = NULL;
	struct sts_check_report rep = {0};
	const char *inv_path = NULL;
	bool json = false;
	int c, rc = EXIT_OK;
	netopts_init(&net);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "hf:", opts, NULL)) != -1) {
		int k = netopts_parse(&net, c, optarg, check_usage);
		if (k < 0) {
			rc = EXIT_USAGE;
			goto out;
		}
		if (k > 0)
			continue;
		unsigned long v;
		switch (c) {
		case OPT_JSON:
			json = true;
			break;
		case OPT_INVENTORY:
			inv_path = optarg;
			break;
		case 'f':
			if ((rc = namelist_read(&names, optarg, check_usage)))
				goto out;
			break;
		case OPT_NO_SMTP:
			net.check.no_smtp = true;
			break;
		case OPT_WARN_DAYS:
			if (parse_uint(optarg, 0, 3650, &v) < 0) {
				rc = cli_usage_error(check_usage, "invalid number of days '%s'",
						     optarg);
				goto out;
			}
			net.check.warn_days = v ? (int)v : -1;
			break;
		case OPT_MAX_MX:
			if (parse_uint(optarg, 1, STS_CHECK_MAX_MX_MAX, &v) < 0) {
				rc = cli_usage_error(check_usage, "invalid MX limit '%s' (1 to %d)",
						     optarg, STS_CHECK_MAX_MX_MAX);
				goto out;
			}
			net.check.max_mx = (unsigned)v;
			break;
		case OPT_DOMAIN_TIMEOUT:
			if (parse_seconds(optarg, &net.check.domain_timeout_ms) < 0) {
				rc = cli_usage_error(check_usage, "invalid number of seconds '%s'",
						     optarg);
				goto out;
			}
			break;
		case 'h':
			cli_usage(stdout, check_usage);
			goto out;
		default:
			rc = cli_usage_error(check_usage, "unknown option '%s'", argv[optind - 1]);
			goto out;
		}
	}
	for (int i = optind; i < argc; i++)
		if ((rc = namelist_add(&names, argv[i], check_usage)))
			goto out;
	if (inv_path) {
		if ((rc = cli_inventory_load(inv_path, &inv)))
			goto out;
		size_t given = names.n;
		for (size_t i = 0; !given && i < inv->n_domains; i++)
			if ((rc = namelist_add(&names, inv->domains[i].name, check_usage)))
				goto out;
		net.check.inventory = inv;
	}
	if (names.n == 0) {
		rc = cli_usage_error(check_usage, "no domain to check");
		goto out;
	}
	netopts_progress(&net);
	const char *why = NULL;
	int r = sts_check_run((const char *const *)names.v, names.n, &net.check, &rep, &why);
	netopts_progress_done(&net);
	if (r < 0) {
		rc = netopts_fail(r, why, "check");
		goto out;
	}
	rc = print_report(&rep, json);
	if (rc == EXIT_OK && rep.n_fail)
		rc = EXIT_FAIL;
out:
	sts_check_report_release(&rep);
	sts_inventory_free(inv);
	namelist_release(&names);
	return rc;
}
