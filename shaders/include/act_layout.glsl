// SPDX-License-Identifier: MIT
// int8 activation layout shared by the op kernels that write activations
// (rmsnorm_q8, swiglu_q8, act_quant) and the matmul kernels that read them.
// MUST AGREE with runtime/ops/act_layout.h (tests/check_ops.c checks the
// constants through shaders/act_layout_test.comp) and with the activation
// section of include/qvk/quant.h.
//
// M tokens of K features; Kp = K rounded up to QVK_ACT_K_ALIGN (128).
//   qa   uint  [M][Kp/4]  element k of token m: int8 in byte k%4 (little
//                         endian lanes) of word m*Kp/4 + k/4; 0 past K
//   sa   float [M]        d = amax/127 (0 when the row is all zeros; NaN,
//                         with all codes 0, when the row holds Inf or NaN)
//        or    [M][Kp/32] with ACT_BLOCK: one d per 32-element block, of
//                         the block's amax, as llama.cpp's Q8_0
//                         activations (NaN and codes 0 for a non-finite
//                         block)
//   suma int   [M][Kp/32] Σ q over each 32-element block
// q = clamp(round(x * (1/d)), -127, 127): 1/d is a float reciprocal and
// round() rounds half away from zero (C roundf), exactly as the quantization
// core's qvk_quantize_act; q = 0 when d = 0.
#ifndef QVK_ACT_LAYOUT_GLSL
#define QVK_ACT_LAYOUT_GLSL

const uint QVK_ACT_K_ALIGN = 128u;
const uint QVK_ACT_BLOCK = 32u;
const float QVK_ACT_QMAX = 127.0;

// roundf(): half away from zero. floor(|t| + 0.5) is not used because the
// addition itself rounds (0.49999997 + 0.5 == 1.0 in fp32); |t| - floor(|t|)
// is exact.
int qvk_act_round(float t)
{
	float a = abs(t);
	float r = floor(a);
	if (a - r >= 0.5)
		r += 1.0;
	r = min(r, QVK_ACT_QMAX);
	return int(t < 0.0 ? -r : r);
}

#ifdef QVK_ACT_ROW_QUANT
// Quantize one row into qa/sa/suma (declared by the including kernel, with
// its row values as float qvk_act_value(uint row, uint k) and, when the
// kernel's spec constant VEC4 is true (K % 4 == 0),
// vec4 qvk_act_value4(uint row, uint k4) for elements 4*k4 .. 4*k4+3).
// Call from every invocation (uniform control flow).

// Scales per 32-block instead of per token (spec constant 2 of every
// kernel that includes this part).
layout(constant_id = 2) const bool ACT_BLOCK = false;

// The row's max |value|, or +Inf when any value is Inf or NaN (max()
// may drop a NaN operand, so non-finite values are tested on their bits).
// 0 with ACT_BLOCK, whose scales come from each block: no reduction then.
float qvk_act_row_amax(uint row, uint K)
{
	float amax = 0.0;
	bool bad = false;

	if (ACT_BLOCK)
		return 0.0;
	if (VEC4) {
		for (uint k = gl_LocalInvocationID.x; k < K / 4u; k += WG) {
			vec4 a = abs(qvk_act_value4(row, k));
			bad = bad || qvk_nonfinite(a.x) || qvk_nonfinite(a.y) ||
			      qvk_nonfinite(a.z) || qvk_nonfinite(a.w);
			amax = max(amax, max(max(a.x, a.y), max(a.z, a.w)));
		}
	} else {
		for (uint k = gl_LocalInvocationID.x; k < K; k += WG) {
			float a = abs(qvk_act_value(row, k));
			bad = bad || qvk_nonfinite(a);
			amax = max(amax, a);
		}
	}
	return qvk_wg_max(bad ? uintBitsToFloat(0x7f800000u) : amax);
}

// One invocation owns one 32-block: its 8 words, its sum (and with
// ACT_BLOCK its scale). The values are computed again here (same code as
// for amax, so the same floats) and kept in registers for the block. A
// non-finite row (or block) must not become finite integers: zero codes
// and a NaN scale make every product with it NaN.
void qvk_act_quant_row(uint row, uint K, uint Kp, float amax)
{
	uint nb = Kp / QVK_ACT_BLOCK;

	if (!ACT_BLOCK && gl_LocalInvocationID.x == 0u)
		sa[row] = qvk_nonfinite(amax) ? uintBitsToFloat(0x7fc00000u) :
						amax / QVK_ACT_QMAX;
	for (uint b = gl_LocalInvocationID.x; b < nb; b += WG) {
		vec4 v[8];
		float d = amax / QVK_ACT_QMAX;
		bool bad = qvk_nonfinite(amax);
		int s = 0;

		for (uint w = 0u; w < 8u; w++) {
			uint k = b * QVK_ACT_BLOCK + w * 4u;
			v[w] = vec4(0.0);
			if (bad) {
				continue;
			} else if (VEC4) {
				if (k < K)
					v[w] = qvk_act_value4(row, k / 4u);
			} else {
				for (uint l = 0u; l < 4u; l++)
					if (k + l < K)
						v[w][l] = qvk_act_value(row, k + l);
			}
		}
		if (ACT_BLOCK) {
			float bmax = 0.0;
			for (uint w = 0u; w < 8u; w++) {
				vec4 a = abs(v[w]);
				bad = bad || qvk_nonfinite(a.x) || qvk_nonfinite(a.y) ||
				      qvk_nonfinite(a.z) || qvk_nonfinite(a.w);
				bmax = max(bmax, max(max(a.x, a.y), max(a.z, a.w)));
			}
			d = bmax / QVK_ACT_QMAX;
			sa[row * nb + b] = bad ? uintBitsToFloat(0x7fc00000u) : d;
		}
		float inv = !bad && d > 0.0 ? 1.0 / d : 0.0;
		for (uint w = 0u; w < 8u; w++) {
			ivec4 q = bad ? ivec4(0) :
				ivec4(qvk_act_round(v[w].x * inv), qvk_act_round(v[w].y * inv),
				      qvk_act_round(v[w].z * inv), qvk_act_round(v[w].w * inv));
			s += q.x + q.y + q.z + q.w;
			qa[row * (Kp / 4u) + b * 8u + w] =
				(uint(q.x) & 0xffu) | ((uint(q.y) & 0xffu) << 8) |
				((uint(q.z) & 0xffu) << 16) | (uint(q.w) << 24);
		}
		suma[row * nb + b] = s;
	}
}
#endif

#endif
