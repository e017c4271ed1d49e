/* SPDX-License-Identifier: MIT */
/* placeholder: being written */
#include "sts_api.h"
typedef int sts_placeholder_;
