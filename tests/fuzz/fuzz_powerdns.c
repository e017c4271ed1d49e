/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: PowerDNS API responses, through the powerdns plugin's own
 * read() and apply() (plugins/powerdns/ sources compiled in, with the fake
 * host of plugin_host.c answering HTTP from the input). The input is a
 * list of responses separated by "\n%%\n", each "STATUS\nBODY" (status:
 * three digits; no more responses: a network error). read() of zone
 * example.com takes the first (GET), apply() of three changes the next
 * (PATCH; GET then PATCH when read() failed and nothing is cached).
 * Besides memory errors it aborts when read() succeeds with an rrset at
 * a name it did not ask for, and when a failure records no message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plugin_host.h"
#include "sts_err.h"
#include "sts_plugin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

extern const struct sts_plugin_api sts_plugin_api;

static const char settings[] = "{\"url\": \"http://127.0.0.1:8081/\", \"api_key\": "
			       "\"${env:STS_FUZZ_SECRET}\", \"server_id\": \"localhost\", "
			       "\"timeout\": 5, \"retries\": 0, \"max_concurrency\": 1}";

static const char *const names[] = {"_mta-sts.example.com.", "_smtp._tls.example.com.",
				    "mta-sts.example.com."};
#define N_NAMES (sizeof(names) / sizeof(names[0]))

static int http(struct fz_host *h, const struct sts_http_req *req, struct sts_http_resp *ret)
{
	if (!req->url || !req->method)
		abort();
	if (h->pos >= h->size)
		return STS_ENET; /* no more responses: the server went away */
	const uint8_t *p = h->data + h->pos, *end = h->data + h->size;
	const uint8_t *sep = memmem(p, (size_t)(end - p), "\n%%\n", 4);
	const uint8_t *stop = sep ? sep : end;
	h->pos = sep ? (size_t)(sep + 4 - h->data) : h->size;
	ret->attempts = 1;
	long status = 0;
	size_t k = 0;
	while (p + k < stop && k < 3 && p[k] >= '0' && p[k] <= '9')
		status = status * 10 + (p[k++] - '0');
	ret->status = status;
	if (p + k < stop && p[k] == '\n')
		k++;
	return sts_buf_append(&ret->body, p + k, (size_t)(stop - p - k));
}

static void apply(struct sts_plugin *p)
{
	static char *v_sts[] = {(char *)"v=STSv1; id=20261206T210000"};
	static char *v_rpt[] = {(char *)"v=TLSRPTv1; rua=mailto:tlsrpt@example.com"};
	static char *v_cname[] = {(char *)"mta-sts.hosting.example.net."};
	struct sts_dns_change ch[3];
	memset(ch, 0, sizeof(ch));
	ch[0].action = STS_CHANGE_REPLACE;
	ch[0].rrset = (struct sts_rrset){.name = (char *)names[0],
					 .type = (char *)"TXT",
					 .ttl = 300,
					 .values = v_sts,
					 .n_values = 1};
	ch[1].action = STS_CHANGE_CREATE;
	ch[1].rrset = (struct sts_rrset){.name = (char *)names[1],
					 .type = (char *)"TXT",
					 .ttl = 3600,
					 .values = v_rpt,
					 .n_values = 1};
	ch[2].action = STS_CHANGE_DELETE;
	ch[2].rrset = (struct sts_rrset){
	    .name = (char *)names[2], .type = (char *)"CNAME", .values = v_cname, .n_values = 1};
	fz_host_apply((struct fz_host *)(void *)p, &sts_plugin_api, "example.com", ch, 3);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_host h;
	fz_host_init(&h, data, size);
	h.http = http;
	setenv("STS_FUZZ_SECRET", "fuzz-api-key", 0);
	if (fz_host_load(&h, &sts_plugin_api, settings) < 0)
		abort();
	struct sts_plugin *p = fz_host_plugin(&h);
	struct sts_rrsets got;
	sts_rrsets_init(&got);
	fz_host_read(&h, &sts_plugin_api, "example.com", names, N_NAMES, &got);
	sts_rrsets_release(&got);
	apply(p);
	fz_host_unload(&h, &sts_plugin_api);
	return 0;
}
