/* SPDX-License-Identifier: MIT */
/*
 * Inventory v1 (core/inventory/sts_inventory*.c): every error class at its exact
 * line and column, all in one run; inheritance; IDN; secrets; examples.
 * Fixtures: tests/data/inventory/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sts_buf.h"
#include "sts_err.h"
#include "sts_inventory.h"

static char *read_data(const char *dir, const char *name)
{
	const char *base = getenv(dir);
	char path[4096];
	struct sts_buf b;
	assert_non_null(base);
	snprintf(path, sizeof(path), "%s/%s", base, name);
	sts_buf_init(&b, 64u * 1024u * 1024u);
	if (sts_buf_read_file(&b, path) != STS_OK)
		fail_msg("cannot read '%s'", path);
	return sts_buf_steal(&b);
}

/* JSON written with single quotes in C strings: 'a' -> "a" */
static char *J(const char *s)
{
	char *out = strdup(s);
	for (char *p = out; *p; p++)
		if (*p == '\'')
			*p = '"';
	return out;
}

/* Every diag formatted one per line, in order. */
static char *format_all(const struct sts_diags *d)
{
	struct sts_buf b;
	sts_buf_init(&b, 1u << 20);
	for (size_t i = 0; i < d->n; i++) {
		assert_int_equal(sts_diag_format(&d->v[i], &b), STS_OK);
		sts_buf_putc(&b, '\n');
	}
	return sts_buf_steal(&b);
}

static int parse_text(const char *text, struct sts_inventory **inv, struct sts_diags *d)
{
	sts_diags_init(d);
	int r = sts_inventory_parse(text, strlen(text), "t.json", inv, d);
	sts_diags_sort(d);
	return r;
}

/* Is there a diag "t.json:...: SEV: PATH: MESSAGE"? (line:col not compared) */
static bool has_diag(const struct sts_diags *d, enum sts_severity sev, const char *path,
		     const char *message)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct sts_diag *x = &d->v[i];
		if (x->severity == sev && strcmp(x->message, message) == 0 &&
		    ((!path && !x->path) || (path && x->path && strcmp(path, x->path) == 0)))
			return true;
	}
	return false;
}

#define N_OF_E(a) (sizeof(a) / sizeof((a)[0]))

/* ---- every error class, each at the line and column of its value ---- */

struct expect {
	const char *prefix; /* text just before the offending value or key */
	const char *value;  /* the value (or key) as written: its first byte is the position */
	int nth;	    /* which occurrence of prefix+value, from 0 */
	const char *diag;   /* "SEV: PATH: MESSAGE" as sts_diag_format prints it */
};

static const struct expect broken[] = {
    {"\"version\": ", "2", 0, "error: version: unsupported version 2: this stsctl reads version 1"},
    {"", "\"provider\"", 0, "error: provider: unknown key 'provider': did you mean 'providers'?"},
    {"{", "\"name\": \"x.example\"", 0,
     "error: defaults.name: 'name' is not allowed in defaults: it belongs in a domain"},
    {"\"max_age\": ", "3600", 0,
     "warning: defaults.max_age: max_age 3600 is below 86400 (one day): a policy that "
     "expires so soon protects little, use days or weeks"},
    {"\"token\": ", "\"${env:BAD-NAME}\"", 0,
     "error: providers.web.token: invalid secret reference: environment variable names are "
     "letters, digits and '_'"},
    {"\"api\": ", "{\"token\"", 0,
     "error: providers.api: missing 'plugin' (the plugin this provider uses)"},
    {"    ", "\"dns\": {\"plugin\": \"zonefile\"}", 0,
     "error: providers.dns: duplicate key (first at line 6, column 5)"},
    {"    ", "\"my web\"", 0,
     "error: providers[\"my web\"]: invalid provider name 'my web' (letters, digits, '_', '-', "
     "'.'; at most 64)"},
    {"\"plugin\": ", "\"Local\"", 0,
     "error: providers[\"my web\"].plugin: invalid plugin name 'Local' (lower-case letters, "
     "digits, '_' and '-')"},
    {"\"mode\": ", "\"enforcing\"", 0,
     "error: tenants.acme.mode: invalid mode 'enforcing': did you mean 'enforce'?"},
    {"", "\"maxage\"", 0,
     "error: domains[0].maxage: unknown key 'maxage': did you mean 'max_age'?"},
    {"[", "\"192.0.2.25\"", 0,
     "error: domains[1].mx[0]: [B7] invalid mx pattern '192.0.2.25': IP addresses are not "
     "allowed: mx needs a host name"},
    {"[", "\"mail*.star.example\"", 0,
     "error: domains[2].mx[0]: [B7] invalid mx pattern 'mail*.star.example': '*' is allowed "
     "only as the whole left-most label ('*.example.com')"},
    {"\"mx\": ", "\"mail.type.example\"", 0,
     "error: domains[3].mx: expected an array, got a string"},
    {"\"ttl\": ", "\"3600\"", 0, "error: domains[4].ttl: expected an integer (ttl), got a string"},
    {"\"max_age\": ", "31557601", 0,
     "error: domains[5].max_age: [B6] max_age 31557601 is out of range 1..31557600"},
    {"\"max_age\": ", "0", 0,
     "error: domains[6].max_age: [B13] max_age 0 is valid per RFC 8461 but real senders "
     "reject it (chasquid, go-mtasts): use at least 86400"},
    {"[", "\"http://r.example/x\"", 0,
     "error: domains[7].tlsrpt.rua[0]: invalid rua URI 'http://r.example/x': http: is not "
     "allowed: use https:"},
    {"[", "\"mailto:a,b@comma.example\"", 0,
     "error: domains[8].tlsrpt.rua[0]: invalid rua URI 'mailto:a,b@comma.example': ',', '!' "
     "and ';' must be percent-encoded (%2C, %21, %3B)"},
    {"\"name\": ", "\"ok.example\"", 1,
     "error: domains[9].name: duplicate domain 'ok.example' (also at domains[0], line 16)"},
    {"\"name\": ",
     "\"b\xc3\xbc"
     "cher.example\"",
     0,
     "info: domains[10].name: converted 'b\xc3\xbc"
     "cher.example' to A-label 'xn--bcher-kva.example'"},
    {"\"name\": ", "\"xn--bcher-kva.example\"", 0,
     "error: domains[11].name: duplicate domain 'xn--bcher-kva.example' (also at domains[10] "
     "as 'b\xc3\xbc"
     "cher.example', line 26)"},
    {"    ", "{\"name\": \"nomx.example\"}", 0,
     "error: domains[12]: [B7] no 'mx': set the MX host patterns here, in the tenant or in "
     "defaults"},
    {"    ", "{\"name\": \"none.example\"", 0,
     "error: domains[13]: [B12] no 'mx': a mode none policy keeps its mx lines (senders reject "
     "it without); set 'mx' here, in the tenant or in defaults"},
    {"\"dns\": ", "\"dsn\"", 0,
     "error: domains[14].dns: undefined provider 'dsn': did you mean 'dns'?"},
    {"\"tenant\": ", "\"acmee\"", 0,
     "error: domains[14].tenant: undefined tenant 'acmee': did you mean 'acme'?"},
    {"\"zone\": ", "\"other.example\"", 0,
     "error: domains[15].zone: zone 'other.example' is not 'sub.zone.example' or a parent of it"},
    {"\"hosting\": ", "\"delegated\"", 0,
     "error: domains[16].hosting: expected \"self\", \"hosted\" or {\"delegate\": {...}}, "
     "got a string 'delegated'"},
    {"\"state\": ", "\"removed\"", 0,
     "error: domains[17].state: invalid state 'removed': use 'present' or 'absent'"},
    {"\"name\": ", "\"192.0.2.1\"", 0,
     "error: domains[18].name: invalid domain name '192.0.2.1': an IP address is not a domain "
     "name"},
    {"    ", "{\"mx\": [\"m.example\"]}", 0, "error: domains[19]: missing 'name'"},
    {"    ", "\"just-a-string.example\"", 0,
     "error: domains[20]: expected an object, got a string"},
};

/* line:column of the nth occurrence of prefix+value, computed independently */
static void locate(const char *text, const struct expect *e, unsigned *line, unsigned *col)
{
	char needle[512];
	snprintf(needle, sizeof(needle), "%s%s", e->prefix, e->value);
	for (char *q = needle; *q; q++)
		if (*q == '\'')
			*q = '"'; /* needles for J() texts may use single quotes */
	const char *p = text;
	for (int i = 0; i <= e->nth; i++) {
		p = strstr(i ? p + 1 : p, needle);
		if (!p)
			fail_msg("fixture has no '%s' (#%d)", needle, e->nth);
	}
	p += strlen(e->prefix);
	*line = 1;
	const char *start = text;
	for (const char *q = text; q < p; q++)
		if (*q == '\n') {
			(*line)++;
			start = q + 1;
		}
	*col = (unsigned)(p - start) + 1;
}

/* Every expected diag at the located position, and nothing else. */
static void check_diags(const char *text, const char *file, const struct expect *e, size_t n,
			int want_rc, size_t want_domains)
{
	struct sts_diags d;
	sts_diags_init(&d);
	size_t nd = 0;
	assert_int_equal(sts_inventory_validate_text(text, strlen(text), file, &nd, &d), want_rc);
	assert_int_equal(nd, want_domains);
	sts_diags_sort(&d);
	char *got = format_all(&d);
	for (size_t i = 0; i < n; i++) {
		unsigned line, col;
		char want[1024];
		locate(text, &e[i], &line, &col);
		snprintf(want, sizeof(want), "%s:%u:%u: %s\n", file, line, col, e[i].diag);
		if (!strstr(got, want)) {
			fprintf(stderr, "# got:\n%s", got);
			fail_msg("missing diagnostic: %s", want);
		}
	}
	if (d.n != n)
		fail_msg("%zu diagnostics, want %zu:\n%s", d.n, n, got);
	free(got);
	sts_diags_release(&d);
}

static void check_broken(const char *text)
{
	check_diags(text, "broken.json", broken, sizeof(broken) / sizeof(broken[0]), STS_EINVALID,
		    21);
}

static void test_every_error_in_one_run(void **state)
{
	char *text = read_data("STS_TEST_DATA", "inventory/broken.json");
	check_broken(text);
	free(text);
}

static void test_crlf_same_positions(void **state)
{
	char *text = read_data("STS_TEST_DATA", "inventory/broken.json");
	size_t n = strlen(text), k = 0;
	char *crlf = malloc(2 * n + 1);
	for (size_t i = 0; i < n; i++) {
		if (text[i] == '\n')
			crlf[k++] = '\r';
		crlf[k++] = text[i];
	}
	crlf[k] = '\0';
	check_broken(crlf); /* locate() counts LF only: columns are the same */
	free(crlf);
	free(text);
}

static void test_syntax_error(void **state)
{
	char *text = read_data("STS_TEST_DATA", "inventory/syntax.json");
	struct sts_diags d;
	size_t n = 7;
	sts_diags_init(&d);
	assert_int_equal(sts_inventory_validate_text(text, strlen(text), "syntax.json", &n, &d),
			 STS_EPARSE);
	assert_int_equal(n, 0);
	assert_int_equal(d.n, 1);
	char *got = format_all(&d);
	assert_string_equal(got, "syntax.json:5:50: error: domains[1]: invalid JSON: expected ',' "
				 "or '}'\n");
	free(got);
	sts_diags_release(&d);
	free(text);

	/* not an object at the top */
	struct sts_inventory *inv = NULL;
	assert_int_equal(parse_text("\n  [1]", &inv, &d), STS_EINVALID);
	assert_null(inv);
	got = format_all(&d);
	assert_string_equal(got,
			    "t.json:2:3: error: an inventory is a JSON object, got an array\n");
	free(got);
	sts_diags_release(&d);
}

/* ---- inheritance ---- */

static void test_inheritance(void **state)
{
	char *text = read_data("STS_TEST_DATA", "inventory/inherit.json");
	struct sts_inventory *inv = NULL;
	struct sts_diags d;
	assert_int_equal(parse_text(text, &inv, &d), STS_OK);
	assert_int_equal(d.n, 0);
	assert_int_equal(inv->n_domains, 4);
	assert_int_equal(inv->n_tenants, 2);
	assert_int_equal(inv->n_providers, 3);

	const struct sts_domain *p = sts_inventory_find(inv, "plain.example");
	assert_ptr_equal(p, &inv->domains[0]);
	assert_null(p->tenant);
	assert_int_equal(p->mode, STS_MODE_TESTING);
	assert_int_equal(p->max_age, 1209600);
	assert_int_equal(p->ttl, 300);
	assert_string_equal(p->dns, "dns");
	assert_string_equal(p->web, "web");
	assert_int_equal(p->n_mx, 1);
	assert_string_equal(p->mx[0], "*.mx.msp.example");
	assert_int_equal(p->n_rua, 1);
	assert_string_equal(p->rua[0], "mailto:tlsrpt@msp.example");
	assert_int_equal(p->hosting, STS_HOSTING_SELF);
	assert_string_equal(p->zone, "plain.example");
	assert_true(json_is_true(json_object_get(p->verify, "https")));
	assert_null(p->rollout);
	assert_null(p->json);
	assert_int_equal(p->state, STS_STATE_PRESENT);
	assert_int_equal(p->line, 26);
	assert_int_equal(p->col, 5);
	assert_int_equal(p->name_line, 26);
	assert_int_equal(p->name_col, 14);

	/* tenant over defaults */
	const struct sts_domain *a = &inv->domains[1];
	assert_string_equal(a->tenant, "acme");
	assert_int_equal(a->mode, STS_MODE_ENFORCE);
	assert_int_equal(a->n_mx, 2);
	assert_string_equal(a->mx[1], "mx2.acme.example");
	assert_string_equal(a->zone, "acme.example");
	assert_string_equal(a->dns, "dns2");
	assert_string_equal(a->web, "web");
	assert_int_equal(a->max_age, 1209600);
	assert_int_equal(json_integer_value(json_object_get(a->rollout, "window_days")), 7);

	/* domain over tenant */
	const struct sts_domain *s = &inv->domains[2];
	assert_int_equal(s->mode, STS_MODE_NONE);
	assert_int_equal(s->max_age, 86400);
	assert_int_equal(s->ttl, 60);
	assert_int_equal(s->n_mx, 1);
	assert_string_equal(s->mx[0], "mx.shop.acme.example");
	assert_string_equal(s->zone, "shop.acme.example");
	assert_string_equal(s->dns, "dns2");
	assert_ptr_equal(s->rollout, a->rollout);

	/* delegated hosting, an empty rua list replaces the inherited one */
	const struct sts_domain *g = &inv->domains[3];
	assert_int_equal(g->hosting, STS_HOSTING_DELEGATED);
	assert_string_equal(g->delegate_sts, "_mta-sts.provider.example");
	assert_string_equal(g->delegate_policy, "mta-sts.provider.example");
	assert_int_equal(g->n_rua, 0);
	assert_int_equal(g->state, STS_STATE_ABSENT);
	assert_true(json_is_false(json_object_get(g->verify, "https")));
	assert_string_equal(json_string_value(json_object_get(g->verify, "ca_file")), "ca.pem");
	/* one inherited list, shared */
	assert_ptr_equal(g->mx, p->mx);

	/* sections other modules read */
	assert_null(json_object_get(inv->root, "domains"));
	assert_string_equal(
	    json_string_value(json_array_get(
		json_object_get(json_object_get(inv->root, "reports"), "sources"), 0)),
	    "maildir:/var/mail/tlsrpt");
	assert_ptr_equal(inv->defaults, json_object_get(inv->root, "defaults"));
	const struct sts_provider *pr = sts_inventory_provider(inv, "dns2");
	assert_non_null(pr);
	assert_string_equal(pr->plugin, "zonefile");
	assert_string_equal(json_string_value(json_object_get(pr->settings, "directory")),
			    "out/zones2");
	assert_int_equal(pr->line, 15);
	assert_null(sts_inventory_provider(inv, "nope"));
	assert_string_equal(inv->tenants[1].name, "deleg");
	assert_non_null(json_object_get(inv->tenants[1].settings, "hosting"));
	assert_int_equal(inv->version, 1);
	assert_string_equal(inv->path, "t.json");
	assert_string_equal(inv->dir, ".");
	sts_inventory_free(inv);
	sts_diags_release(&d);
	free(text);
}

static void test_builtin_defaults(void **state)
{
	char *t = J("{'version': 1, 'domains': [{'name': 'a.example', 'mx': ['mx.a.example']}]}");
	struct sts_inventory *inv = NULL;
	struct sts_diags d;
	assert_int_equal(parse_text(t, &inv, &d), STS_OK);
	const struct sts_domain *a = &inv->domains[0];
	assert_int_equal(a->mode, STS_DEFAULT_MODE);
	assert_int_equal(a->mode, STS_MODE_TESTING);
	assert_int_equal(a->max_age, STS_DEFAULT_MAX_AGE);
	assert_int_equal(a->ttl, STS_DEFAULT_TTL);
	assert_int_equal(a->hosting, STS_HOSTING_SELF);
	assert_string_equal(a->zone, "a.example");
	assert_null(a->dns);
	assert_null(a->web);
	assert_int_equal(a->n_rua, 0);
	assert_null(a->verify);
	assert_null(inv->defaults);
	assert_int_equal(inv->n_providers, 0);
	sts_inventory_free(inv);
	sts_diags_release(&d);
	free(t);

	/* an empty inventory is valid; a missing version is not */
	t = J("{'version': 1}");
	assert_int_equal(parse_text(t, &inv, &d), STS_OK);
	assert_int_equal(inv->n_domains, 0);
	assert_null(sts_inventory_find(inv, "a.example"));
	sts_inventory_free(inv);
	sts_diags_release(&d);
	free(t);
	inv = NULL;
	assert_int_equal(parse_text("{}", &inv, &d), STS_EINVALID);
	assert_null(inv);
	assert_true(has_diag(&d, STS_SEV_ERROR, NULL, "missing 'version': write \"version\": 1"));
	assert_int_equal(d.v[0].line, 1);
	assert_int_equal(d.v[0].col, 1);
	sts_diags_release(&d);
}

/* ---- names ---- */

static void test_idn_and_case(void **state)
{
	char *t = J("{'version': 1, 'domains': [\n"
		    " {'name': 'B\xc3\x9c"
		    "CHER.example.', 'mx': ['*.m\xc3\xa4il.b\xc3\xbc"
		    "cher.example', 'MX2.Example.NET.']},\n"
		    " {'name': 'Upper.Example'},\n"
		    " {'name': 'caf\xc3\xa9.example', 'mx': ['mx.example']}\n"
		    "], 'defaults': {'mx': ['mx.example']}}");
	struct sts_inventory *inv = NULL;
	struct sts_diags d;
	assert_int_equal(parse_text(t, &inv, &d), STS_OK);
	const struct sts_domain *b = &inv->domains[0];
	assert_string_equal(b->name, "xn--bcher-kva.example");
	assert_string_equal(b->name_input, "B\xc3\x9c"
					   "CHER.example.");
	assert_string_equal(b->mx[0], "*.xn--mil-qla.xn--bcher-kva.example");
	assert_string_equal(b->mx[1], "mx2.example.net");
	assert_string_equal(inv->domains[1].name, "upper.example");
	assert_string_equal(inv->domains[1].name_input, "Upper.Example");
	assert_string_equal(inv->domains[2].name_input, "caf\xc3\xa9.example");
	assert_string_equal(inv->domains[2].name, "xn--caf-dma.example");
	/* lookups take any case and one trailing dot */
	assert_ptr_equal(sts_inventory_find(inv, "XN--BCHER-KVA.example."), b);
	assert_null(sts_inventory_find(inv, "b\xc3\xbc"
					    "cher.example"));
	/* said so in the output: one info per conversion, nothing for case */
	char *got = format_all(&d);
	assert_string_equal(got, "t.json:2:11: info: domains[0].name: converted 'B\xc3\x9c"
				 "CHER.example.' to A-label 'xn--bcher-kva.example'\n"
				 "t.json:2:38: info: domains[0].mx[0]: converted '*.m\xc3\xa4"
				 "il.b\xc3\xbc"
				 "cher.example' to A-label '*.xn--mil-qla.xn--bcher-kva.example'\n"
				 "t.json:4:11: info: domains[2].name: converted 'caf\xc3\xa9"
				 ".example' to A-label 'xn--caf-dma.example'\n");
	free(got);
	sts_inventory_free(inv);
	sts_diags_release(&d);
	free(t);
}

static void test_duplicate_ulabel_alabel(void **state)
{
	/* U-label after its A-label, and two spellings of one name */
	char *t = J("{'version': 1, 'defaults': {'mx': ['mx.example']}, 'domains': [\n"
		    " {'name': 'xn--bcher-kva.example'},\n"
		    " {'name': 'b\xc3\xbc"
		    "cher.example'},\n"
		    " {'name': 'a.example'},\n"
		    " {'name': 'A.EXAMPLE.'}]}");
	struct sts_inventory *inv = NULL;
	struct sts_diags d;
	assert_int_equal(parse_text(t, &inv, &d), STS_EINVALID);
	assert_int_equal(d.n_errors, 2);
	char *got = format_all(&d);
	assert_string_equal(got,
			    "t.json:3:11: info: domains[1].name: converted 'b\xc3\xbc"
			    "cher.example' to A-label 'xn--bcher-kva.example'\n"
			    "t.json:3:11: error: domains[1].name: duplicate domain 'b\xc3\xbc"
			    "cher.example' ('xn--bcher-kva.example', also at domains[0], line 2)\n"
			    "t.json:5:11: error: domains[3].name: duplicate domain 'a.example' "
			    "(also at domains[2], line 4)\n");
	free(got);
	sts_diags_release(&d);
	free(t);
}

static void test_bad_names(void **state)
{
	static const struct {
		const char *name;
		const char *why;
	} cases[] = {
	    {"", "empty name"},
	    {"example", "single-label name: write the full domain name"},
	    {"a..example", "empty label"},
	    {"-a.example", "label starts or ends with '-'"},
	    {"a_b.example", "'_' is not allowed in a host name"},
	    {"*.example.com", "'*' is not allowed in a domain name"},
	    {"a b.example", "invalid character (letters, digits, '-' and '.' only)"},
	    {"1.2.3.4", "an IP address is not a domain name"},
	    {"a.123", "an IP address is not a domain name"},
	    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example",
	     "label longer than 63 octets"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[512], msg[512];
		struct sts_inventory *inv = NULL;
		struct sts_diags d;
		snprintf(
		    text, sizeof(text),
		    "{\"version\": 1, \"domains\": [{\"name\": \"%s\", \"mx\": [\"m.example\"]}]}",
		    cases[i].name);
		snprintf(msg, sizeof(msg), "invalid domain name '%s': %s", cases[i].name,
			 cases[i].why);
		assert_int_equal(parse_text(text, &inv, &d), STS_EINVALID);
		if (!has_diag(&d, STS_SEV_ERROR, "domains[0].name", msg))
			fail_msg("case %zu: no '%s'", i, msg);
		assert_int_equal(d.v[0].col, 37);
		sts_diags_release(&d);
	}
	/* a name that is not valid IDNA */
	char *t = J("{'version': 1, 'domains': [{'name': '\xe2\x98\x83\xcc\x81.example', 'mx': "
		    "['m.example']}]}");
	struct sts_inventory *inv = NULL;
	struct sts_diags d;
	assert_int_equal(parse_text(t, &inv, &d), STS_EINVALID);
	assert_int_equal(d.n_errors, 1);
	assert_non_null(strstr(d.v[0].message, "invalid domain name '\xe2\x98\x83\xcc\x81"
					       ".example': "));
	sts_diags_release(&d);
	free(t);
}

/* ---- values ---- */

static const struct expect values[] = {
    {"", "'ruf'", 0, "error: defaults.tlsrpt.ruf: unknown key 'ruf': did you mean 'rua'?"},
    {"'max_age': ", "86399", 0,
     "warning: domains[0].max_age: max_age 86399 is below 86400 (one day): a policy that "
     "expires so soon protects little, use days or weeks"},
    {"'m.example', ", "'M.example'", 0,
     "warning: domains[0].mx[1]: duplicate mx pattern 'm.example'"},
    {"'ttl': ", "2147483648", 0,
     "error: domains[1].ttl: ttl 2147483648 is out of range 1..2147483647"},
    {"'max_age': ", "-5", 0,
     "error: domains[2].max_age: [B6] max_age -5 is out of range 1..31557600"},
    {"'mode': ", "'TESTING'", 0,
     "error: domains[2].mode: invalid mode 'TESTING': did you mean 'testing'?"},
    {"'tlsrpt': ", "{}", 0,
     "error: domains[2].tlsrpt: missing 'rua' (an empty list publishes no TLS-RPT record)"},
    {"'max_age': ", "6.5", 0,
     "error: domains[3].max_age: expected an integer (max_age), got a number"},
    {"'mx': ", "[]", 0,
     "error: domains[3].mx: [B7] 'mx' is empty: every policy lists its MX host patterns, even "
     "in mode none"},
    {"", "'https:r'", 0,
     "error: domains[3].tlsrpt.rua[2]: invalid rua URI 'https:r': https: URI needs a host "
     "('https://host/path')"},
    {"'hosting': {'delegate': ", "{'policy_host'", 0,
     "error: domains[4].hosting.delegate: missing 'sts': the CNAME target of _mta-sts.DOMAIN "
     "(RFC 8461 section 8.2)"},
    {"", "'delegat'", 0,
     "error: domains[5].hosting.delegat: unknown key 'delegat': did you mean 'delegate'?"},
    {"'policy_host': ", "'_x.p.example'", 0,
     "error: domains[6].hosting.delegate.policy_host: invalid policy host '_x.p.example': '_' "
     "is not allowed in a host name"},
    {"", "'stss'", 0,
     "error: domains[6].hosting.delegate.stss: unknown key 'stss': did you mean 'sts'?"},
    {"'https': ", "'yes'", 0, "error: domains[7].verify.https: expected a boolean, got a string"},
    {"", "'ca_fle'", 0,
     "error: domains[7].verify.ca_fle: unknown key 'ca_fle': did you mean 'ca_file'?"},
    {"'rollout': ", "[]", 0, "error: domains[7].rollout: expected an object, got an array"},
    {"'zone': ", "'example'", 0,
     "error: domains[7].zone: invalid zone 'example': single-label name: write the full "
     "domain name"},
    {"'web': ", "'w'", 0,
     "error: domains[8].web: undefined provider 'w': define it under 'providers'"},
    {"'m.example', ", "3", 0, "error: domains[8].mx[1]: expected a string, got an integer"},
    {"'reports': ", "[]", 0, "error: reports: expected an object, got an array"},
};

/* Names of 243-253 octets are valid but cannot be published: a warning (issue 12 §5). */
static void test_long_names(void **state)
{
	static const char l62[] = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghij";
	const size_t len[] = {242, 243, 253};
	for (size_t k = 0; k < 3; k++) {
		char name[300], text[700], msg[600];
		struct sts_inventory *inv = NULL;
		struct sts_diags d;
		snprintf(name, sizeof(name), "%s.%s.%s.%.*s.test", l62, l62, l62,
			 (int)(len[k] - 194), l62);
		assert_int_equal(strlen(name), len[k]);
		snprintf(text, sizeof(text),
			 "{\"version\": 1, \"domains\": [{\"name\": \"%s\", \"mx\": "
			 "[\"m.example\"]}]}",
			 name);
		assert_int_equal(parse_text(text, &inv, &d), STS_OK);
		snprintf(msg, sizeof(msg),
			 "domain name '%.80s...' is %zu octets: its record '_smtp._tls.' + name "
			 "would be longer than 253, so it cannot be rendered or published (at "
			 "most 242 octets)",
			 name, len[k]);
		assert_int_equal(d.n_warnings, k == 0 ? 0 : 1);
		if (k && !has_diag(&d, STS_SEV_WARNING, "domains[0].name", msg))
			fail_msg("%zu octets: no '%s' in\n%s", len[k], msg,
				 d.n ? d.v[0].message : "");
		sts_diags_release(&d);
		sts_inventory_free(inv);
	}
}

static void test_values(void **state)
{
	char *t =
	    J("{'version': 1, 'providers': {'dns': {'plugin': 'zonefile'}},\n"
	      "'defaults': {'mx': ['m.example'], 'tlsrpt': {'rua': ['mailto:a@b.example'], "
	      "'ruf': []}},\n"
	      "'domains': [\n"
	      "{'name': 'a.example', 'max_age': 86399, 'mx': ['m.example', 'M.example']},\n"
	      "{'name': 'b.example', 'max_age': 86400, 'ttl': 2147483648},\n"
	      "{'name': 'c.example', 'max_age': -5, 'mode': 'TESTING', 'tlsrpt': {}},\n"
	      "{'name': 'd.example', 'max_age': 6.5, 'mx': [], 'tlsrpt': {'rua': "
	      "['https://r.example/v1', 'mailto:x@y.example?subject=a%2Cb', 'https:r']}},\n"
	      "{'name': 'e.example', 'hosting': {'delegate': {'policy_host': 'p.example'}}},\n"
	      "{'name': 'f.example', 'hosting': {'delegat': {}}},\n"
	      "{'name': 'g.example', 'hosting': {'delegate': {'sts': '_mta-sts.p.example', "
	      "'policy_host': '_x.p.example', 'stss': 1}}},\n"
	      "{'name': 'h.example', 'verify': {'https': 'yes', 'ca_fle': 'x'}, 'rollout': [], "
	      "'zone': 'example'},\n"
	      "{'name': 'i.example', 'dns': 'dns', 'web': 'w', 'mx': ['m.example', 3]}\n"
	      "], 'reports': [], 'watch': {}}");
	check_diags(t, "t.json", values, sizeof(values) / sizeof(values[0]), STS_EINVALID, 9);
	free(t);
}

/* ---- secrets: syntax only, never resolved nor printed ---- */

static const struct expect secrets[] = {
    {"'a': ", "'${env:}'", 0,
     "error: providers.bad.a: invalid secret reference: secret reference must end with '}' "
     "and name a variable or file"},
    {"'b': ", "'${vault:x}'", 0,
     "error: providers.bad.b: invalid secret reference: not a secret reference: write "
     "${env:NAME} or ${file:PATH}"},
    {"'c': [", "'${file:/x'", 0,
     "error: providers.bad.c[0]: invalid secret reference: secret reference must end with "
     "'}' and name a variable or file"},
    {"'e': ", "'${env:A B}'", 0,
     "error: providers.bad.e: invalid secret reference: environment variable names are "
     "letters, digits and '_'"},
};

static void test_secrets(void **state)
{
	setenv("STS_TEST_TOKEN", "s3cr3t-value", 1);
	char *t =
	    J("{'version': 1, 'providers': {\n"
	      " 'pdns': {'plugin': 'powerdns', 'api_key': '${env:STS_TEST_TOKEN}',\n"
	      "          'tsig': {'secret': '${file:keys/tsig.key}'}, 'list': ['${env:OK_1}']},\n"
	      " 'bad': {'plugin': 'powerdns', 'a': '${env:}', 'b': '${vault:x}',\n"
	      "         'c': ['${file:/x'], 'd': 'plain ${env:X} text', 'e': '${env:A B}'}}}");
	check_diags(t, "t.json", secrets, sizeof(secrets) / sizeof(secrets[0]), STS_EINVALID, 0);
	/* never the value of a reference, let alone of a secret */
	struct sts_inventory *inv = NULL;
	struct sts_diags d;
	assert_int_equal(parse_text(t, &inv, &d), STS_EINVALID);
	char *got = format_all(&d);
	assert_null(strstr(got, "vault"));
	assert_null(strstr(got, "A B"));
	assert_null(strstr(got, "s3cr3t"));
	free(got);
	sts_diags_release(&d);
	free(t);

	/* valid references stay unresolved in the settings */
	t = J("{'version': 1, 'providers': {'pdns': {'plugin': 'powerdns', "
	      "'api_key': '${env:STS_TEST_TOKEN}'}}}");
	assert_int_equal(parse_text(t, &inv, &d), STS_OK);
	assert_string_equal(
	    json_string_value(json_object_get(inv->providers[0].settings, "api_key")),
	    "${env:STS_TEST_TOKEN}");
	sts_inventory_free(inv);
	sts_diags_release(&d);
	free(t);
}

/* ---- references and suggestions ---- */

static const struct expect suggestions[] = {
    {"", "'domain'", 0, "error: domain: unknown key 'domain': did you mean 'domains'?"},
    {"", "'moed'", 0,
     "error: tenants.customer-1234.moed: unknown key 'moed': did you mean 'mode'?"},
    /* names too far apart get no suggestion */
    {"'tenant': ", "'customer-5678'", 0,
     "error: domains[0].tenant: undefined tenant 'customer-5678': define it under 'tenants'"},
    {"", "'colour'", 0, "error: domains[0].colour: unknown key 'colour'"},
};

static void test_suggestions(void **state)
{
	char *t =
	    J("{'version': 1, 'domain': [], 'tenants': {'customer-1234': {'mx': ['m.example'], "
	      "'moed': 'none'}},\n"
	      "'domains': [{'name': 'a.example', 'tenant': 'customer-5678', 'colour': 1}]}");
	check_diags(t, "t.json", suggestions, sizeof(suggestions) / sizeof(suggestions[0]),
		    STS_EINVALID, 1);
	free(t);
}

static void test_zone_inherited(void **state)
{
	char *t = J("{'version': 1, 'defaults': {'mx': ['m.example']},\n"
		    "'tenants': {'t': {'zone': 'customer.example'}},\n"
		    "'domains': [{'name': 'a.customer.example', 'tenant': 't'},\n"
		    "            {'name': 'customer.example.', 'tenant': 't'},\n"
		    "            {'name': 'xcustomer.example', 'tenant': 't'}]}");
	static const struct expect zone[] = {
	    {"'name': ", "'xcustomer.example'", 0,
	     "error: domains[2].name: zone 'customer.example' (from tenant 't') is not "
	     "'xcustomer.example' or a parent of it"},
	};
	check_diags(t, "t.json", zone, 1, STS_EINVALID, 3);
	free(t);
}

static void test_broken_provider_is_defined(void **state)
{
	/* a provider that is not an object is one error, not one per reference too */
	char *t = J("{'version': 1, 'providers': {'d': 'zonefile'},\n"
		    "'domains': [{'name': 'a.example', 'mx': ['m.example'], 'dns': 'd'}]}");
	static const struct expect e[] = {
	    {"'d': ", "'zonefile'", 0, "error: providers.d: expected an object, got a string"},
	};
	check_diags(t, "t.json", e, 1, STS_EINVALID, 1);
	free(t);
}

/* ---- the "hosted" section and "hosting": "hosted" (issue 15) ---- */

static void test_hosted(void **state)
{
	(void)state;
	struct sts_inventory *inv = NULL;
	struct sts_diags d;
	char *t = J("{'version': 1, 'providers': {'msp': {'plugin': 'zonefile'}},\n"
		    "'hosted': {'zone': 'STS.\u00fcmsp.example.', 'dns': 'msp', 'edge': "
		    "'edge.msp.example',\n"
		    " 'acme': {'directory': 'https://ca.example/dir', 'contact': "
		    "['mailto:ops@msp.example'],\n"
		    "  'ca_file': '${file:/etc/pebble.pem}'}},\n"
		    "'tenants': {'c': {'hosting': 'hosted'}},\n"
		    "'domains': [{'name': 'a.example', 'mx': ['m.example'], 'tenant': 'c'},\n"
		    " {'name': 'b.example', 'mx': ['m.example']}]}");
	assert_int_equal(parse_text(t, &inv, &d), STS_OK);
	assert_non_null(inv->hosted);
	assert_string_equal(inv->hosted->zone, "sts.xn--msp-goa.example");
	assert_string_equal(inv->hosted->dns, "msp");
	assert_string_equal(inv->hosted->edge, "edge.msp.example");
	assert_string_equal(inv->hosted->acme_directory, "https://ca.example/dir");
	assert_int_equal(inv->hosted->n_acme_contact, 1);
	assert_string_equal(inv->hosted->acme_contact[0], "mailto:ops@msp.example");
	assert_string_equal(inv->hosted->acme_ca_file, "${file:/etc/pebble.pem}");
	assert_string_equal(inv->hosted->listen, ":443");
	assert_int_equal(inv->hosted->line, 2);
	assert_int_equal(sts_inventory_find(inv, "a.example")->hosting, STS_HOSTING_HOSTED);
	assert_int_equal(sts_inventory_find(inv, "b.example")->hosting, STS_HOSTING_SELF);
	sts_inventory_free(inv);
	sts_diags_release(&d);
	free(t);
}

static const struct expect hosted_errors[] = {
    {"'hosted': ", "{'zone'", 0,
     "error: hosted: missing 'edge': the host name customers' mta-sts CNAMEs point to"},
    {"'hosted': ", "{'zone'", 0,
     "error: hosted: missing 'acme': the ACME directory that issues the certificates of "
     "mta-sts.DOMAIN"},
    {"'zone': ", "'x'", 0,
     "error: hosted.zone: invalid zone 'x': single-label name: write the full domain name"},
    {"'dns': ", "'msq'", 0, "error: hosted.dns: undefined provider 'msq': did you mean 'msp'?"},
    {"", "'egde'", 0, "error: hosted.egde: unknown key 'egde': did you mean 'edge'?"},
    {"'listen': ", "'443'", 0,
     "error: hosted.listen: expected ADDR:PORT, [ADDR]:PORT or :PORT (port 1..65535)"},
    {"'hosting': ", "'hostd'", 0,
     "error: domains[0].hosting: invalid hosting 'hostd': did you mean 'hosted'?"},
};

static const struct expect hosted_acme_errors[] = {
    {"'directory': ", "'http://ca.example/dir'", 0,
     "error: hosted.acme.directory: invalid ACME directory 'http://ca.example/dir': an "
     "https:// URL"},
    {"", "'ops@msp.example'", 0,
     "error: hosted.acme.contact[0]: invalid ACME contact 'ops@msp.example': write "
     "mailto:ADDRESS (RFC 8555 section 7.3)"},
    {"'hosting': ", "'hosted'", 0,
     "error: domains[0].hosting: \"hosting\": \"hosted\" needs the top-level 'hosted' section "
     "(the MSP zone, its dns provider, the edge host, the ACME directory)"},
};

static void test_hosted_errors(void **state)
{
	(void)state;
	char *t = J("{'version': 1, 'providers': {'msp': {'plugin': 'zonefile'}},\n"
		    "'hosted': {'zone': 'x', 'dns': 'msq', 'egde': 'e.example', 'listen': '443'},\n"
		    "'domains': [{'name': 'a.example', 'mx': ['m.example'], 'hosting': 'hostd'}]}");
	check_diags(t, "t.json", hosted_errors, N_OF_E(hosted_errors), STS_EINVALID, 1);
	free(t);
	/* the errors of acme; and a hosted domain without the section */
	t = J("{'version': 1, 'providers': {'msp': {'plugin': 'zonefile'}},\n"
	      "'domains': [{'name': 'a.example', 'mx': ['m.example'], 'hosting': 'hosted'}]}");
	check_diags(t, "t.json", hosted_acme_errors + 2, 1, STS_EINVALID, 1);
	free(t);
	t = J("{'version': 1, 'providers': {'msp': {'plugin': 'zonefile'}},\n"
	      "'hosted': {'zone': 'sts.msp.example', 'dns': 'msp', 'edge': 'e.example',\n"
	      " 'acme': {'directory': 'http://ca.example/dir', 'contact': ['ops@msp.example']}},\n"
	      "'domains': []}");
	check_diags(t, "t.json", hosted_acme_errors, 2, STS_EINVALID, 0);
	free(t);
}

/* ---- examples/ validate cleanly ---- */

static void test_examples(void **state)
{
	const char *root = getenv("STS_SOURCE_ROOT");
	char path[4096];
	struct sts_inventory *inv = NULL;
	struct sts_diags d;
	assert_non_null(root);

	snprintf(path, sizeof(path), "%s/examples/single-domain.json", root);
	sts_diags_init(&d);
	assert_int_equal(sts_inventory_load(path, &inv, &d), STS_OK);
	assert_int_equal(d.n, 0);
	assert_int_equal(inv->n_domains, 1);
	assert_string_equal(sts_inventory_provider(inv, "dns")->plugin, "zonefile");
	assert_string_equal(sts_inventory_provider(inv, "web")->plugin, "local");
	assert_non_null(strstr(inv->dir, "examples"));
	sts_inventory_free(inv);
	sts_diags_release(&d);

	snprintf(path, sizeof(path), "%s/examples/msp.json", root);
	assert_int_equal(sts_inventory_load(path, &inv, &d), STS_OK);
	assert_int_equal(d.n_errors, 0);
	assert_int_equal(d.n_warnings, 0);
	assert_true(inv->n_domains >= 300);
	assert_true(inv->n_tenants >= 3);
	size_t modes[3] = {0}, delegated = 0, parent_zone = 0, converted = 0;
	for (size_t i = 0; i < inv->n_domains; i++) {
		const struct sts_domain *x = &inv->domains[i];
		modes[x->mode]++;
		delegated += x->hosting == STS_HOSTING_DELEGATED;
		parent_zone += strcmp(x->zone, x->name) != 0;
		converted += x->name_input != NULL;
	}
	assert_true(modes[STS_MODE_NONE] > 0 && modes[STS_MODE_TESTING] > 0 &&
		    modes[STS_MODE_ENFORCE] > 0);
	assert_true(delegated > 0 && parent_zone > 0 && converted > 0);
	/* the U-label domain is announced */
	assert_true(d.n > 0 && d.v[0].severity == STS_SEV_INFO);
	sts_inventory_free(inv);
	sts_diags_release(&d);

	assert_int_equal(sts_inventory_load("/nonexistent/inv.json", &inv, &d), STS_ENOENT);
	sts_diags_release(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_error_in_one_run),
	    cmocka_unit_test(test_crlf_same_positions),
	    cmocka_unit_test(test_syntax_error),
	    cmocka_unit_test(test_inheritance),
	    cmocka_unit_test(test_builtin_defaults),
	    cmocka_unit_test(test_idn_and_case),
	    cmocka_unit_test(test_duplicate_ulabel_alabel),
	    cmocka_unit_test(test_bad_names),
	    cmocka_unit_test(test_long_names),
	    cmocka_unit_test(test_values),
	    cmocka_unit_test(test_secrets),
	    cmocka_unit_test(test_suggestions),
	    cmocka_unit_test(test_zone_inherited),
	    cmocka_unit_test(test_broken_provider_is_defined),
	    cmocka_unit_test(test_examples),
	    cmocka_unit_test(test_hosted),
	    cmocka_unit_test(test_hosted_errors),
	};
	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
