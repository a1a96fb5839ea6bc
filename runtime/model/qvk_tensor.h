/* SPDX-License-Identifier: MIT */
/* Private: the qvk GGUF tensor types for the reader (runtime/model/). */
#ifndef QVK_RUNTIME_MODEL_QVK_TENSOR_H
#define QVK_RUNTIME_MODEL_QVK_TENSOR_H

#include <stdbool.h>
#include <stdint.h>

#include <qvk/model.h>

#include "../internal.h"

/* "QVK_Q4_G64", ...; NULL when @type is not a qvk type. */
const char *qvk_qvk_type_name(uint32_t type);
/* Size of a qvk-typed tensor of shape @ne; false on overflow/bad shape. */
bool qvk_qvk_tensor_size(uint32_t type, uint32_t n_dims, const uint64_t *ne,
			 uint64_t *size_bytes);
/* Row @row dequantized (ne[0] floats), as qvk_qtensor_dequantize does. */
qvk_status qvk_qvk_tensor_row(const struct qvk_host_tensor *t, uint64_t row,
			      float *out);

#endif
