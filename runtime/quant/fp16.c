/* SPDX-License-Identifier: MIT */
/*
 * binary32 <-> binary16 by bit manipulation, so the rounding is exactly
 * IEEE 754 round-to-nearest-even whatever the compiler and CPU offer
 * (F16C and _Float16 are not everywhere qvk runs).
 */
#include <string.h>

#include <qvk/fp16.h>

uint16_t qvk_fp16_from_f32(float value)
{
	uint32_t f, abs, sign, mant, h, rem, half;
	int shift;

	memcpy(&f, &value, sizeof(f));
	sign = (f >> 16) & 0x8000u;
	abs = f & 0x7fffffffu;

	if (abs > 0x7f800000u) /* NaN: quiet it, keep the top payload bits */
		return (uint16_t)(sign | 0x7e00u | ((abs >> 13) & 0x3ffu));
	/* 65520 = 65504 + half an ulp: it and everything above round to Inf. */
	if (abs >= 0x477ff000u)
		return (uint16_t)(sign | 0x7c00u);
	if (abs >= 0x38800000u) { /* normal half: |x| >= 2^-14 */
		h = ((abs >> 23) - 127 + 15) << 10 | ((abs >> 13) & 0x3ffu);
		rem = abs & 0x1fffu;
		/* A carry out of the mantissa bumps the exponent: still right. */
		if (rem > 0x1000u || (rem == 0x1000u && (h & 1u)))
			h++;
		return (uint16_t)(sign | h);
	}
	/* 2^-25 is the tie between 0 and the smallest subnormal: even is 0. */
	if (abs <= 0x33000000u)
		return (uint16_t)sign;
	/* Subnormal half: the value in units of 2^-24, rounded to even. */
	mant = (abs & 0x7fffffu) | 0x800000u;
	shift = 126 - (int)(abs >> 23); /* 14..24 */
	h = mant >> shift;
	rem = mant & ((1u << shift) - 1u);
	half = 1u << (shift - 1);
	if (rem > half || (rem == half && (h & 1u)))
		h++; /* may carry into the smallest normal, 0x0400: right too */
	return (uint16_t)(sign | h);
}

float qvk_fp16_to_f32(uint16_t half)
{
	uint32_t sign = (uint32_t)(half & 0x8000u) << 16;
	uint32_t exp = (half >> 10) & 0x1fu;
	uint32_t mant = half & 0x3ffu;
	uint32_t f;
	float out;

	if (exp == 0) {
		/* Zero or subnormal: mant * 2^-24, exact in binary32. */
		out = (float)mant * 0x1p-24f;
		return sign ? -out : out;
	}
	if (exp == 31)
		f = sign | 0x7f800000u | (mant << 13);
	else
		f = sign | ((exp + 112) << 23) | (mant << 13);
	memcpy(&out, &f, sizeof(out));
	return out;
}

void qvk_fp16_from_f32_n(uint16_t *dst, const float *src, size_t count)
{
	for (size_t i = 0; i < count; i++)
		dst[i] = qvk_fp16_from_f32(src[i]);
}

void qvk_fp16_to_f32_n(float *dst, const uint16_t *src, size_t count)
{
	for (size_t i = 0; i < count; i++)
		dst[i] = qvk_fp16_to_f32(src[i]);
}
