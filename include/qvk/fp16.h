/* SPDX-License-Identifier: MIT */
/*
 * IEEE 754 binary16 <-> binary32 conversion on the CPU. Scales of quantized
 * tensors are stored as fp16 (GGUF's ggml_fp16_t, GLSL's float16_t).
 *
 * float -> half rounds to nearest, ties to even, in one step (no double
 * rounding through an intermediate): values at or past 65520 become +-Inf,
 * values below the smallest subnormal's half become +-0, subnormals are
 * produced exactly, NaN stays NaN (quiet, sign and top payload bits kept).
 * half -> float is exact for every one of the 65536 halves.
 */
#ifndef QVK_FP16_H
#define QVK_FP16_H

#include <stddef.h>
#include <stdint.h>

#include <qvk/status.h>

#define QVK_FP16_MAX 65504.0f

QVK_API uint16_t qvk_fp16_from_f32(float value);
QVK_API float qvk_fp16_to_f32(uint16_t half);

/* The same over arrays; @count elements each. */
QVK_API void qvk_fp16_from_f32_n(uint16_t *dst, const float *src, size_t count);
QVK_API void qvk_fp16_to_f32_n(float *dst, const uint16_t *src, size_t count);

#endif
