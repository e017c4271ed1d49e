/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the digitalocean plugin's record parser (plugins/digitalocean/do_rec.c) on a
 * DigitalOcean records listing: its "domain_records" through do_rec_rrsets() (fz_host_rrsets).
 * Besides memory errors it aborts when an rrset is returned at a name not
 * asked for or without values, and when a failure records no message.
 */
#include <stdint.h>

#include "do_rec.h"
#include "plugin_host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_host_rrsets(data, size, "domain_records", do_rec_rrsets);
	return 0;
}
