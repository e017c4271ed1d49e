/* SPDX-License-Identifier: MIT */
/*
 * A plugin built against ABI 1 (the layout of the v1 descriptor, spelled
 * out here because <stsctl/plugin.h> is ABI 2): the host must refuse it
 * before calling anything, with a message naming both versions.
 */
#include <stdint.h>

struct v1_plugin_api {
	uint32_t abi_version; /* 1 */
	uint32_t struct_size;
	const char *name;
	int kind;
	const char *description;
	const void *schema;
	void *check, *load, *unload;
	const void *dns, *web;
};

__attribute__((visibility("default"))) const struct v1_plugin_api sts_plugin_api = {
    .abi_version = 1,
    .struct_size = sizeof(struct v1_plugin_api),
    .name = "abi1",
    .kind = 1,
    .description = "a plugin of ABI 1",
};
