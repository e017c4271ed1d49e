/* SPDX-License-Identifier: MIT */
/*
 * stsctl lint: check one policy body, one TXT record or one mx match
 * strictly against RFC 8461 / RFC 8460 (core/rfc/sts_policy.h does the work).
 * The verdict ("valid", "invalid", "match", "no match") or the JSON document
 * goes to stdout; findings, usage and I/O errors go to stderr.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "sts_buf.h"
#include "sts_diag_json.h"
#include "sts_err.h"
#include "sts_mx.h"
#include "sts_policy.h"
#include "sts_record.h"

static const char *const lint_usage[] = {
    "stsctl lint policy [--json] FILE|-",
    "stsctl lint sts-record [--json] TEXT",
    "stsctl lint tlsrpt-record [--json] TEXT",
    "stsctl lint mx-match [--json] PATTERN HOSTNAME",
    "",
    "Check an MTA-STS policy body, an _mta-sts or _smtp._tls TXT record, or",
    "whether an mx pattern covers a host name, strictly per RFC 8461/8460.",
    "",
    "    --json      print the result as JSON",
    "    -h, --help  show this help",
    NULL,
};

static json_t *kv_json(const struct sts_kv *kv, size_t n)
{
	json_t *o = json_object();
	for (size_t i = 0; o && i < n; i++) {
		if (json_object_get(o, kv[i].key))
			continue; /* first wins, as in the parsers */
		if (json_object_set_new(o, kv[i].key, json_string(kv[i].value)) < 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

/*
 * Report one parse: human ("valid"/"invalid" on stdout, findings on stderr)
 * or JSON (sts_diag_json.h's {"valid","errors","warnings","info"} plus the
 * parsed fields in extra,
 * whose reference is stolen). STS_OK / STS_EINVALID / STS_ETOOLARGE are
 * verdicts; anything else is a failure to lint.
 */
static int report(const struct cli_ctx *ctx, int r, const struct sts_diags *d, json_t *extra)
{
	if (r != STS_OK && r != STS_EINVALID && r != STS_ETOOLARGE) {
		json_decref(extra);
		sts_log_errno(r, "cannot lint");
		return cli_exit_for(r);
	}
	bool valid = r == STS_OK;
	int rc = valid ? EXIT_OK : EXIT_FAIL;
	if (!ctx->json) {
		json_decref(extra);
		cli_print_diags(d);
		printf("%s\n", valid ? "valid" : "invalid");
		return rc;
	}
	json_t *doc = sts_diags_json_doc(d, valid);
	if (doc && (!extra || json_object_update(doc, extra) < 0)) {
		json_decref(doc);
		doc = NULL;
	}
	json_decref(extra);
	if (cli_json_print(doc) < 0)
		return EXIT_USAGE;
	return rc;
}

static void name_diags(struct sts_diags *d, const char *name)
{
	for (size_t i = 0; i < d->n; i++) {
		if (!d->v[i].file)
			d->v[i].file = strdup(name);
	}
}

static int lint_policy(const struct cli_ctx *ctx, char **args)
{
	const char *path = args[0];
	const char *name = strcmp(path, "-") == 0 ? "<stdin>" : path;
	struct sts_buf in;
	struct sts_diags d;
	struct sts_policy pol;
	int rc;
	sts_buf_init(&in, STS_CAP_POLICY);
	sts_diags_init(&d);
	sts_policy_init(&pol);
	int r = sts_buf_read_file(&in, path);
	if (r == STS_ETOOLARGE) {
		r = sts_diags_add(&d, STS_SEV_ERROR, "P6", NULL, 0, 0, NULL,
				  "policy is larger than %u bytes; senders may refuse it",
				  STS_CAP_POLICY);
		if (r == STS_OK)
			r = STS_ETOOLARGE;
	} else if (r < 0) {
		sts_log_errno(r, "cannot read policy '%s'", name);
		rc = r == STS_ENOMEM ? EXIT_INTERNAL : EXIT_USAGE;
		goto out;
	} else {
		r = sts_policy_parse(in.data, in.len, &pol, &d);
	}
	json_t *extra = NULL;
	if (ctx->json)
		extra = json_pack("{s:{s:s?,s:s?,s:o,s:o*,s:o*}}", "policy", "version", pol.version,
				  "mode", sts_mode_name(pol.mode), "max_age",
				  pol.max_age >= 0 ? json_integer(pol.max_age) : json_null(), "mx",
				  sts_json_strv(pol.mx, pol.n_mx), "extensions",
				  kv_json(pol.ext, pol.n_ext));
	name_diags(&d, name);
	rc = report(ctx, r, &d, extra);
out:
	sts_policy_release(&pol);
	sts_diags_release(&d);
	sts_buf_release(&in);
	return rc;
}

static int lint_sts_record(const struct cli_ctx *ctx, char **args)
{
	struct sts_diags d;
	struct sts_sts_record rec;
	sts_diags_init(&d);
	int r = sts_sts_record_parse(args[0], strlen(args[0]), &rec, &d);
	json_t *extra = NULL;
	if (ctx->json)
		extra = json_pack("{s:s?,s:o*}", "id", rec.id, "extensions",
				  kv_json(rec.ext, rec.n_ext));
	int rc = report(ctx, r, &d, extra);
	sts_sts_record_release(&rec);
	sts_diags_release(&d);
	return rc;
}

static int lint_tlsrpt_record(const struct cli_ctx *ctx, char **args)
{
	struct sts_diags d;
	struct sts_tlsrpt_record rec;
	sts_diags_init(&d);
	int r = sts_tlsrpt_record_parse(args[0], strlen(args[0]), &rec, &d);
	json_t *extra = NULL;
	if (ctx->json)
		extra = json_pack("{s:o*,s:o*}", "rua", sts_json_strv(rec.rua, rec.n_rua),
				  "extensions", kv_json(rec.ext, rec.n_ext));
	int rc = report(ctx, r, &d, extra);
	sts_tlsrpt_record_release(&rec);
	sts_diags_release(&d);
	return rc;
}

/*
 * Both names are compared as A-labels: each is converted as the inventory
 * converts names (sts_mx_name_alabel: one trailing dot dropped, lower case,
 * U-labels to A-labels), and the pattern is then checked as a policy mx
 * value. A name that libidn2 cannot convert makes the result invalid, with
 * a finding that names the argument.
 */
static int lint_mx_match(const struct cli_ctx *ctx, char **args)
{
	const char *pattern = args[0], *host = args[1];
	struct sts_diags d;
	const char *why = NULL;
	char *apat = NULL, *ahost = NULL;
	bool valid = true;
	int rc, r;
	if (!*host)
		return cli_usage_error(lint_usage, "empty hostname");
	sts_diags_init(&d);
	r = sts_mx_name_alabel(pattern, &apat, &why);
	if (r == STS_EINVALID) {
		valid = false;
		r = sts_diags_add(
		    &d, STS_SEV_ERROR, "B7", NULL, 0, 0, NULL,
		    "invalid mx pattern '%s' (PATTERN): not a valid IDNA2008 name: %s", pattern,
		    why);
	} else if (r == STS_OK && sts_mx_pattern_check(apat, &why) != STS_OK) {
		valid = false;
		r = sts_diags_add(&d, STS_SEV_ERROR, "B7", NULL, 0, 0, NULL,
				  "invalid mx pattern '%s': %s", pattern, why);
	}
	if (r == STS_OK && sts_mx_name_alabel(host, &ahost, &why) == STS_EINVALID) {
		valid = false;
		r = sts_diags_add(
		    &d, STS_SEV_ERROR, "M2", NULL, 0, 0, NULL,
		    "invalid host name '%s' (HOSTNAME): not a valid IDNA2008 name: %s", host, why);
	}
	if (r != STS_OK) {
		sts_log_err("out of memory");
		rc = EXIT_INTERNAL;
		goto out;
	}
	bool match = valid && sts_mx_match(apat, ahost);
	if (ctx->json) {
		json_t *doc = json_pack("{s:b,s:o,s:o,s:s?,s:s?}", "match", match, "pattern",
					sts_json_string_lossy(pattern), "hostname",
					sts_json_string_lossy(host), "pattern_alabel", apat,
					"hostname_alabel", ahost);
		if (doc && !valid &&
		    (json_object_set_new(doc, "valid", json_false()) < 0 ||
		     json_object_set_new(doc, "errors", sts_diags_json(&d, STS_SEV_ERROR)) < 0)) {
			json_decref(doc);
			doc = NULL;
		}
		rc = cli_json_print(doc) < 0 ? EXIT_USAGE : match ? EXIT_OK : EXIT_FAIL;
	} else if (!valid) {
		cli_print_diags(&d);
		printf("invalid\n");
		rc = EXIT_FAIL;
	} else {
		printf("%s\n", match ? "match" : "no match");
		rc = match ? EXIT_OK : EXIT_FAIL;
	}
out:
	free(apat);
	free(ahost);
	sts_diags_release(&d);
	return rc;
}

struct lint_sub {
	const char *name;
	int nargs;
	int (*fn)(const struct cli_ctx *ctx, char **args);
};

static const struct lint_sub subs[] = {
    {"policy", 1, lint_policy},
    {"sts-record", 1, lint_sts_record},
    {"tlsrpt-record", 1, lint_tlsrpt_record},
    {"mx-match", 2, lint_mx_match},
};

static int run(struct cli_ctx *ctx)
{
	const char *what = ctx->argv[0];
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (strcmp(subs[i].name, what) != 0)
			continue;
		int have = ctx->argc - 1;
		if (have != subs[i].nargs)
			return cli_usage_error(lint_usage, "'lint %s' takes %d argument%s, got %d",
					       what, subs[i].nargs, subs[i].nargs > 1 ? "s" : "",
					       have);
		return subs[i].fn(ctx, ctx->argv + 1);
	}
	return cli_usage_error(lint_usage, "unknown lint target '%s'", what);
}

static const struct cli_opt lint_opts[] = {
    CLI_JSON,
    CLI_END,
};

CLI_COMMAND(lint, .min_args = 1, .max_args = -1, .arg_name = "what to lint");
