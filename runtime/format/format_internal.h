/* SPDX-License-Identifier: MIT */
/* Private header of runtime/format/: the type table and host tensors. */
#ifndef QVK_RUNTIME_FORMAT_INTERNAL_H
#define QVK_RUNTIME_FORMAT_INTERNAL_H

#include <qvk/format.h>

#include "internal.h"

/* The row of @type when qvk reads that type, else NULL. */
const struct qvk_type_info *qvk_type_readable(uint32_t type);

#endif
