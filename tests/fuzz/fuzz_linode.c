/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target: the linode plugin's record parser (plugins/linode/li_rec.c) on a
 * Linode records listing: its "data" through li_rec_rrsets() (fz_host_rrsets).
 * Besides memory errors it aborts when an rrset is returned at a name not
 * asked for or without values, and when a failure records no message.
 */
#include <stdint.h>

#include "li_rec.h"
#include "plugin_host.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_host_rrsets(data, size, "data", li_rec_rrsets);
	return 0;
}
