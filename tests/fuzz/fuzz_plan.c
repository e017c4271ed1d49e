/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: plan files, what `stsctl plan --out FILE` writes and
 * `stsctl apply PLANFILE` reads (sts_plan_file_detect, sts_plan_file_load,
 * then sts_plan_file_check against a fresh plan of two domains, as apply
 * does). The input is the file, served from a memfd by its /proc path.
 * Besides memory errors it aborts when load and detect disagree, a loaded
 * file has no inventory path or more targets than its array, and when a
 * failure carries no message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sts_err.h"
#include "sts_plan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* the hashes the seeds carry, so the check gets as far as the domains */
#define INV_HASH "6f1ed002ab5595859014ebf0951522d9c3e7f1c2b1a2a8e5b0d6b2f1c9f1e3a4"
#define PLAN_FP	 "0b3e4c2a9d8f7e6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a"
#define DOM1_FP	 "1111111111111111111111111111111111111111111111111111111111111111"
#define DOM2_FP	 "2222222222222222222222222222222222222222222222222222222222222222"

static int fd = -1;
static char path[64];

static bool put(const uint8_t *data, size_t size)
{
	if (fd < 0) {
		fd = memfd_create("plan", 0);
		if (fd < 0)
			return false;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		return false;
	for (size_t off = 0; off < size;) {
		ssize_t k = write(fd, data + off, size - off);
		if (k <= 0)
			return false;
		off += (size_t)k;
	}
	return true;
}

static void check(const struct sts_plan_file *f)
{
	struct sts_plan_domain doms[2];
	memset(doms, 0, sizeof(doms));
	doms[0].name = (char *)"example.com";
	doms[1].name = (char *)"example.org";
	snprintf(doms[0].fingerprint, sizeof(doms[0].fingerprint), "%s", DOM1_FP);
	snprintf(doms[1].fingerprint, sizeof(doms[1].fingerprint), "%s", DOM2_FP);
	struct sts_plan fresh = {
	    .version = STS_PLAN_FORMAT,
	    .inventory_path = (char *)"/srv/stsctl/inventory.json",
	    .domains = doms,
	    .n_domains = 2,
	};
	snprintf(fresh.inventory_hash, sizeof(fresh.inventory_hash), "%s", INV_HASH);
	snprintf(fresh.fingerprint, sizeof(fresh.fingerprint), "%s", PLAN_FP);
	char *err = NULL;
	int r = sts_plan_file_check(f, &fresh, &err);
	if (r != STS_OK && r != STS_ESTALE && r != STS_ENOMEM)
		abort();
	if (r == STS_ESTALE && !err)
		abort();
	free(err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!put(data, size))
		return 0;
	bool plan = sts_plan_file_detect(path);
	struct sts_plan_file *f = NULL;
	char *err = NULL;
	int r = sts_plan_file_load(path, &f, &err);
	if (r == STS_OK) {
		if (!plan || !f->inventory_path)
			abort();
		for (size_t i = 0; i < f->n_targets; i++)
			if (!f->targets[i])
				abort();
		check(f);
		sts_plan_file_free(f);
	} else if (r == STS_EPARSE && !err) {
		abort();
	}
	free(err);
	return 0;
}
