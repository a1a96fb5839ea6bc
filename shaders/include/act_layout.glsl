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
//   sa   float [M]        d = amax/127 (0 when the row is all zeros)
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
// Quantize one row into qa/sa/suma (declared by the including kernel,
// with float qvk_act_value(uint row, uint k) for the row's values).
// Call from every invocation; amax is the workgroup's max |value|.
// One invocation owns one 32-block: its 8 words and its sum.
void qvk_act_quant_row(uint row, uint K, uint Kp, float amax)
{
	float d = amax / QVK_ACT_QMAX;
	float inv = d > 0.0 ? 1.0 / d : 0.0;
	uint nb = Kp / QVK_ACT_BLOCK;

	if (gl_LocalInvocationID.x == 0u)
		sa[row] = d;
	for (uint b = gl_LocalInvocationID.x; b < nb; b += WG) {
		int s = 0;
		for (uint w = 0u; w < 8u; w++) {
			uint word = 0u;
			for (uint l = 0u; l < 4u; l++) {
				uint k = b * QVK_ACT_BLOCK + w * 4u + l;
				int q = k < K ? qvk_act_round(qvk_act_value(row, k) * inv) : 0;
				s += q;
				word |= (uint(q) & 0xffu) << (8u * l);
			}
			qa[row * (Kp / 4u) + b * 8u + w] = word;
		}
		suma[row * nb + b] = s;
	}
}
#endif

#endif
