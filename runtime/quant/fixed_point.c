/* SPDX-License-Identifier: MIT */
/*
 * Fixed-point requantization of int32 accumulators: a real scale as an
 * int32 multiplier and a right shift, applied with a rounding doubling
 * high multiply and a rounding shift (gemmlowp's SaturatingRounding-
 * DoublingHighMul and RoundingDivideByPOT, TFLite's MultiplyByQuantized-
 * Multiplier), so integer-only engines need no float. Ties round away from
 * zero in both steps here (gemmlowp's nudge rounds -x.5 up), which makes
 * the error bound symmetric. The bound is in quant.h.
 */
#include <math.h>

#include "quant/quant_internal.h"

qvk_status qvk_fixed_point_from_scale(struct qvk_ctx *ctx, double scale,
				      struct qvk_fixed_point *out)
{
	int exp2;
	double frac;
	int64_t mult;

	if (!out)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "fixed point: out is NULL");
	if (!(scale >= 0x1p-31 && scale < 1.0))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "fixed point: scale %g is not in [2^-31, 1)",
				 scale);
	frac = frexp(scale, &exp2); /* scale = frac * 2^exp2, frac in [0.5, 1) */
	mult = llround(frac * 0x1p31);
	if (mult == (int64_t)1 << 31) { /* frac rounded up to 1.0 */
		mult >>= 1;
		exp2++;
	}
	out->shift = -exp2;
	if (out->shift < 0) { /* scale within 2^-32 of 1: saturate M */
		out->shift = 0;
		mult = INT32_MAX;
	}
	out->multiplier = (int32_t)mult;
	return QVK_OK;
}

/* round(a·b / 2^31), ties away from zero; INT32_MIN² saturates. */
static int32_t rounding_doubling_high_mul(int32_t a, int32_t b)
{
	int64_t ab = (int64_t)a * b;
	int64_t mag = ab < 0 ? -ab : ab;
	int64_t q;

	if (a == INT32_MIN && b == INT32_MIN)
		return INT32_MAX;
	q = (mag + ((int64_t)1 << 30)) >> 31;
	return (int32_t)(ab < 0 ? -q : q);
}

/* round(x / 2^shift), ties away from zero. */
static int32_t rounding_shift_right(int32_t x, int32_t shift)
{
	int64_t mag = x < 0 ? -(int64_t)x : x;
	int64_t q;

	if (shift == 0)
		return x;
	q = (mag + ((int64_t)1 << (shift - 1))) >> shift;
	return (int32_t)(x < 0 ? -q : q);
}

int32_t qvk_fixed_point_apply(struct qvk_fixed_point fp, int32_t acc)
{
	return rounding_shift_right(
		rounding_doubling_high_mul(acc, fp.multiplier), fp.shift);
}

int8_t qvk_fixed_point_requantize_i8(struct qvk_fixed_point fp, int32_t acc,
				     int32_t zero_point)
{
	int64_t v = (int64_t)qvk_fixed_point_apply(fp, acc) + zero_point;

	return (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
}
