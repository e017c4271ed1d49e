/* SPDX-License-Identifier: MIT */
/*
 * conformance TARGET.json CASES.json
 *
 * Loads the plugin TARGET names through the host's loader (as `stsctl plan`
 * and `apply` do), reads the capabilities its descriptor declares
 * (STS_PLUGIN_CAP_*), and runs every case
 * of CASES whose "needs" those capabilities cover, against the provider
 * instance of TARGET's "settings". Prints TAP: one point per checked step.
 * A case needing a capability the plugin does not declare is not applicable:
 * it is listed on a plain "# not applicable to PLUGIN: ..." line and has no
 * test point (never a SKIP, never an ok). Exit 0 only when every point is ok.
 */
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "sts_buf.h"
#include "sts_err.h"

static const struct {
	const char *name;
	int code;
} err_names[] = {
    {"OK", STS_OK},
    {"ENOMEM", STS_ENOMEM},
    {"EINVAL", STS_EINVAL},
    {"EIO", STS_EIO},
    {"ENOENT", STS_ENOENT},
    {"EEXIST", STS_EEXIST},
    {"EACCES", STS_EACCES},
    {"ENOSPC", STS_ENOSPC},
    {"EPARSE", STS_EPARSE},
    {"EINVALID", STS_EINVALID},
    {"ETOOLARGE", STS_ETOOLARGE},
    {"EPLUGIN", STS_EPLUGIN},
    {"ESECRET", STS_ESECRET},
    {"EPROVIDER", STS_EPROVIDER},
    {"ECONFLICT", STS_ECONFLICT},
    {"ENET", STS_ENET},
    {"ETIMEOUT", STS_ETIMEOUT},
    {"ETLS", STS_ETLS},
    {"EAUTH", STS_EAUTH},
    {"EUNSUPPORTED", STS_EUNSUPPORTED},
    {"EAGAIN", STS_EAGAIN},
    {"EABI", STS_EABI},
    {"ESTALE", STS_ESTALE},
    {"EVERIFY", STS_EVERIFY},
    {"ELOCKED", STS_ELOCKED},
    {"EDB", STS_EDB},
    {"EREFUSED", STS_EREFUSED},
};

bool conf_point(struct conf *c, bool ok, const char *fmt, ...)
{
	va_list ap;
	c->n++;
	if (!ok)
		c->failed++;
	printf("%sok %u - %s: ", ok ? "" : "not ", c->n, c->case_name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	return ok;
}

void conf_diag(const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (char *s = line, *nl; s && *s; s = nl) {
		nl = strchr(s, '\n');
		if (nl)
			*nl++ = '\0';
		printf("# %s\n", s);
	}
	fflush(stdout);
}

const char *conf_err_name(int r)
{
	for (size_t i = 0; i < sizeof(err_names) / sizeof(err_names[0]); i++)
		if (err_names[i].code == r)
			return err_names[i].name;
	return "E?";
}

bool conf_err_code(const char *name, int *ret)
{
	for (size_t i = 0; i < sizeof(err_names) / sizeof(err_names[0]); i++)
		if (strcmp(err_names[i].name, name) == 0) {
			*ret = err_names[i].code;
			return true;
		}
	return false;
}

const char *conf_str(const struct conf *c, const char *key, const char *dflt)
{
	const char *s = json_string_value(json_object_get(c->target, key));
	return s ? s : dflt;
}

long conf_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long)ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

int conf_open(struct conf *c, const char *key, struct sts_plugin **ret, char **reterr)
{
	json_t *s = json_object_get(c->target, key);
	*ret = NULL;
	if (reterr)
		*reterr = NULL;
	if (!json_is_object(s)) {
		conf_diag("the target has no '%s' object", key);
		return STS_EINVAL;
	}
	json_t *settings = json_deep_copy(s);
	json_object_set_new(settings, "plugin", json_string(c->plugin));
	struct sts_diags diags;
	struct sts_buf text;
	sts_diags_init(&diags);
	sts_buf_init(&text, 1u << 16);
	int r = sts_plugin_open(c->host, key, settings, ret, &diags);
	for (size_t i = 0; i < diags.n; i++)
		sts_buf_printf(&text, "%s%s%s%s", i ? "; " : "",
			       diags.v[i].path ? diags.v[i].path : "", diags.v[i].path ? ": " : "",
			       diags.v[i].message);
	if (r < 0 && !reterr)
		conf_diag("open %s: %s: %s", key, conf_err_name(r), sts_buf_str(&text));
	if (r < 0 && reterr)
		*reterr = strdup(sts_buf_str(&text));
	sts_buf_release(&text);
	sts_diags_release(&diags);
	json_decref(settings);
	return r;
}

int conf_hook(struct conf *c, const char *const *args, char **ret)
{
	const char *hook = conf_str(c, "hook", NULL);
	*ret = NULL;
	if (!hook) {
		conf_diag("the target has no hook");
		return STS_EINVAL;
	}
	const char *argv[16] = {hook};
	size_t k = 1;
	for (; args[k - 1] && k < 15; k++)
		argv[k] = args[k - 1];
	argv[k] = NULL;
	int fd[2];
	if (pipe(fd) < 0)
		return -errno;
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		dup2(fd[1], 1);
		close(fd[0]);
		close(fd[1]);
		execv(hook, (char *const *)argv);
		_exit(127);
	}
	close(fd[1]);
	struct sts_buf out;
	sts_buf_init(&out, 1u << 22);
	int r = sts_buf_read_fd(&out, fd[0]);
	close(fd[0]);
	int st = 0;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (r == STS_OK && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
		conf_diag("hook %s %s failed (status %d)", hook, args[0], st);
		r = STS_EIO;
	}
	if (r == STS_OK)
		*ret = strdup(sts_buf_str(&out));
	sts_buf_release(&out);
	return r < 0 ? r : *ret ? STS_OK : STS_ENOMEM;
}

int conf_faults(struct conf *c, const json_t *rules)
{
	const char *script = conf_str(c, "fault_script", NULL);
	const char *log = conf_str(c, "fault_log", NULL);
	if (!script || !log) {
		conf_diag("the target has no fault_script or fault_log");
		return STS_EINVAL;
	}
	FILE *f = fopen(script, "w");
	FILE *l = fopen(log, "w");
	size_t i;
	json_t *v;
	json_array_foreach(rules, i, v)
	{
		if (f)
			fprintf(f, "%s\n", json_string_value(v));
	}
	int r = f && l ? STS_OK : STS_EIO;
	if (f && fclose(f) != 0)
		r = STS_EIO;
	if (l)
		fclose(l);
	return r;
}

long conf_fault_count(struct conf *c, const char *cls)
{
	FILE *f = fopen(conf_str(c, "fault_log", ""), "r");
	char line[4096];
	long n = 0;
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char m[16] = "";
		if (sscanf(line, "%15s", m) != 1)
			continue;
		bool rd = !strcmp(m, "GET") || !strcmp(m, "HEAD");
		if (!strcmp(cls, m) || (!strcmp(cls, "READ") && rd) ||
		    (!strcmp(cls, "WRITE") && !rd) || !strcmp(cls, "*"))
			n++;
	}
	fclose(f);
	return n;
}

char *conf_data(const json_t *step, size_t *ret_len)
{
	const char *s = json_string_value(json_object_get(step, "data"));
	json_int_t size = json_integer_value(json_object_get(step, "size"));
	if (s) {
		*ret_len = strlen(s);
		return strdup(s);
	}
	/* a policy-shaped file of `size` octets, filled with "fill" lines */
	const char *fill = json_string_value(json_object_get(step, "fill"));
	char *d = malloc((size_t)size + 1);
	if (!d)
		return NULL;
	const char *head = "version: STSv1\nmode: testing\nmax_age: 86400\n";
	size_t n = 0, hl = strlen(head);
	for (; n < (size_t)size && n < hl; n++)
		d[n] = head[n];
	for (size_t k = 0; n < (size_t)size; n++, k++)
		d[n] = (k % 64 == 63) ? '\n' : (fill && *fill ? fill[k % strlen(fill)] : 'x');
	d[n] = '\0';
	*ret_len = n;
	return d;
}

bool conf_expected(const json_t *step, int r)
{
	const json_t *e = json_object_get(step, "expect");
	int code = STS_OK;
	if (json_is_array(e)) {
		size_t i;
		json_t *v;
		json_array_foreach(e, i, v)
		{
			if (conf_err_code(json_string_value(v), &code) && code == r)
				return true;
		}
		return false;
	}
	return (!e || conf_err_code(json_string_value(e), &code)) && code == r;
}

const char *conf_expect_text(const json_t *step)
{
	static char text[256]; /* the driver is single-threaded */
	const json_t *e = json_object_get(step, "expect");
	size_t i, n = 0;
	json_t *v;
	if (!json_is_array(e))
		return json_is_string(e) ? json_string_value(e) : "OK";
	text[0] = '\0';
	json_array_foreach(e, i, v)
	{
		int k = snprintf(text + n, sizeof(text) - n, "%s%s", i ? " or " : "",
				 json_string_value(v) ? json_string_value(v) : "?");
		if (k < 0 || (size_t)k >= sizeof(text) - n)
			break;
		n += (size_t)k;
	}
	return text;
}

void conf_creds(struct conf *c, const json_t *step, const char *what,
		int (*op)(struct sts_plugin *p, void *arg, char **reterr), void *arg)
{
	struct sts_plugin *bad = NULL;
	char *err = NULL;
	int r = conf_open(c, "bad_settings", &bad, &err);
	if (r == STS_OK)
		r = op ? op(bad, arg, &err) : sts_plugin_probe(bad, &err);
	const char *text = conf_str(c, "bad_credentials_text", "");
	if (!conf_point(c, conf_expected(step, r), "wrong credentials: %s gives %s", what,
			conf_expect_text(step)))
		conf_diag("got %s", conf_err_name(r));
	if (!conf_point(c, err && *text && strstr(err, text), "wrong credentials: %s says '%s'",
			what, text))
		conf_diag("got: %s", err ? err : "(no text)");
	free(err);
	sts_plugin_close(bad);
}

void conf_probe(struct conf *c, struct sts_plugin *p)
{
	char *err = NULL;
	int r = sts_plugin_probe(p, &err);
	if (!conf_point(c, r == STS_OK, "probe with the right settings is ok"))
		conf_diag("%s: %s", conf_err_name(r), err ? err : "");
	free(err);
}

static void log_sink(void *u, enum sts_plugin_log_level level, const char *prefix, const char *msg)
{
	if (level != STS_PLOG_DEBUG)
		printf("# [%s] %s\n", prefix, msg);
}

/* The capability bits a case needs, and their names in missing. */
static uint32_t needs_of(const json_t *kase, char *missing, size_t size)
{
	uint32_t need = 0;
	size_t i;
	json_t *v;
	missing[0] = '\0';
	json_array_foreach(json_object_get(kase, "needs"), i, v)
	{
		const char *want = json_string_value(v);
		unsigned bit = 0;
		for (; bit < 32; bit++)
			if (sts_plugin_cap_name(bit) && want &&
			    !strcmp(sts_plugin_cap_name(bit), want))
				break;
		if (bit == 32) {
			conf_diag("case '%s' needs an unknown capability '%s'",
				  json_string_value(json_object_get(kase, "name")),
				  want ? want : "");
			need |= 1u << 31;
			snprintf(missing, size, "unknown capability '%s'", want ? want : "");
			return need;
		}
		need |= 1u << bit;
		size_t l = strlen(missing);
		snprintf(missing + l, size - l, "%s%s", l ? ", " : "", want);
	}
	return need;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: conformance TARGET.json CASES.json\n");
		return 2;
	}
	json_error_t je;
	struct conf c = {0};
	json_t *cases = json_load_file(argv[2], 0, &je);
	c.target = json_load_file(argv[1], 0, &je);
	if (!c.target || !cases) {
		printf("Bail out! cannot read %s: %s\n", c.target ? argv[2] : argv[1], je.text);
		return 1;
	}
	c.plugin = conf_str(&c, "plugin", "");
	const char *kind = conf_str(&c, "kind", "");
	char *dir = strdup(argv[1]);
	const struct sts_plugin_api *api = NULL;
	struct sts_diags diags;
	sts_diags_init(&diags);
	int r = sts_plugin_host_new(&c.host);
	if (r == STS_OK) {
		sts_plugin_host_set_log(c.host, log_sink, NULL);
		sts_plugin_host_set_basedir(c.host, dirname(dir));
		r = sts_plugin_find(c.host, c.plugin, &api, &diags);
	}
	for (size_t i = 0; i < diags.n; i++)
		conf_diag("%s", diags.v[i].message);
	sts_diags_release(&diags);
	if (r == STS_OK && strcmp(sts_plugin_kind_name(api->kind), kind) != 0)
		r = STS_EINVAL;
	c.api = api;
	if (r == STS_OK)
		c.caps = api->capabilities; /* what the plugin declares, by its descriptor */
	if (r < 0) {
		printf("Bail out! %s plugin '%s': %s\n", kind, c.plugin, conf_err_name(r));
		return 1;
	}
	printf("# %s plugin '%s' (ABI v%u) declares:", kind, c.plugin, api->abi_version);
	for (unsigned bit = 0; bit < 32; bit++)
		if (c.caps & (1u << bit))
			printf(" %s",
			       sts_plugin_cap_name(bit) ? sts_plugin_cap_name(bit) : "(unknown)");
	printf("%s\n", c.caps ? "" : " no capabilities");
	size_t i;
	json_t *kase;
	json_array_foreach(json_object_get(cases, "cases"), i, kase)
	{
		char missing[128];
		uint32_t need = needs_of(kase, missing, sizeof(missing));
		c.case_name = json_string_value(json_object_get(kase, "name"));
		if (need >> 31) { /* the table names a capability the ABI does not have */
			conf_point(&c, false, "%s", missing);
			continue;
		}
		if ((need & c.caps) != need) {
			printf("# not applicable to %s: %s (needs %s)\n", c.plugin, c.case_name,
			       missing);
			continue;
		}
		/* an optional op the descriptor does not offer: not applicable either */
		const char *op = json_string_value(json_object_get(kase, "needs_op"));
		if (op && !strcmp(op, "zones") && !sts_plugin_api_has_zones(api)) {
			printf("# not applicable to %s: %s (the plugin has no zones operation)\n",
			       c.plugin, c.case_name);
			continue;
		}
		long t0 = conf_now_ms();
		if (!strcmp(kind, "dns"))
			conf_run_dns(&c, kase);
		else
			conf_run_web(&c, kase);
		printf("# %s: %.1f s\n", c.case_name, (double)(conf_now_ms() - t0) / 1000.0);
	}
	printf("1..%u\n", c.n);
	sts_plugin_host_free(c.host);
	json_decref(c.target);
	json_decref(cases);
	free(dir);
	return c.failed || c.n == 0 ? 1 : 0;
}
