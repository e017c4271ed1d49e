/* SPDX-License-Identifier: MIT */
/*
 * stsctl --version [--json]: the version (git describe at build, the
 * package's when packaged), the plugin ABI, and the libraries this binary
 * runs with, as they report themselves at run time (a library upgraded
 * under the binary shows its new version).
 */
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#if STS_HAVE_LIBSSH2
#include <libssh2.h>
#endif

#include "cli.h"
#include "sts_config.h"
#include "sts_version.h"
#include <stsctl/plugin.h>

struct lib_version {
	const char *name;
	const char *version;
};

/* The libraries, in a fixed order; version NULL = not linked. */
static size_t lib_versions(struct lib_version *ret, size_t max)
{
	size_t n = 0;
	const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
	ret[n++] = (struct lib_version){"libcurl", cv ? cv->version : "?"};
	/* "OpenSSL 3.0.15 3 Sep 2024" -> "3.0.15" */
	static char ssl[64];
	const char *s = OpenSSL_version(OPENSSL_VERSION);
	if (strncmp(s, "OpenSSL ", 8) == 0)
		s += 8;
	snprintf(ssl, sizeof(ssl), "%.*s", (int)strcspn(s, " "), s);
	ret[n++] = (struct lib_version){"OpenSSL", ssl};
	ret[n++] = (struct lib_version){"jansson", jansson_version_str()};
	ret[n++] = (struct lib_version){"SQLite", sqlite3_libversion()};
#if STS_HAVE_LIBSSH2
	ret[n++] = (struct lib_version){"libssh2", libssh2_version(0)};
#else
	ret[n++] = (struct lib_version){"libssh2", NULL};
#endif
	(void)max;
	return n;
}

int cli_print_version(bool json)
{
	struct lib_version libs[8];
	size_t n = lib_versions(libs, sizeof(libs) / sizeof(libs[0]));
	if (!json) {
		printf("stsctl %s\n", STS_VCS_VERSION);
		printf("plugin ABI %u\n", (unsigned)STS_PLUGIN_ABI_VERSION);
		for (size_t i = 0; i < n; i++)
			printf("%s %s\n", libs[i].name,
			       libs[i].version ? libs[i].version : "(not built in)");
		return 0;
	}
	json_t *doc = json_pack("{s:s, s:i}", "version", STS_VCS_VERSION, "plugin_abi",
				(int)STS_PLUGIN_ABI_VERSION);
	json_t *l = json_object();
	if (!doc || !l) {
		json_decref(doc);
		json_decref(l);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		json_object_set_new(l, libs[i].name,
				    libs[i].version ? json_string(libs[i].version) : json_null());
	json_object_set_new(doc, "libraries", l);
	int r = json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 &&
			putchar('\n') != EOF
		    ? 0
		    : -1;
	json_decref(doc);
	return r;
}
