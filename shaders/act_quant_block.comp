// SPDX-License-Identifier: MIT
// fp32 -> int8 activations with one scale per 32-element block (the
// per-block granularity of include/qvk/quant.h, QVK_ACT_PER_BLOCK32): one
// invocation per (token, block) computes the block's amax, writes its 8
// packed words, its scale and its sum. Layout as act_layout.glsl, except
// that sa holds [M][Kp/32] scales. Rounding as qvk_quantize_act: the
// shared qvk_act_round() of a float reciprocal.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "act_layout.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer X { float x[]; };   // (m, x_stride)
layout(std430, binding = 1) writeonly buffer Qa { uint qa[]; };
layout(std430, binding = 2) writeonly buffer Sa { float sa[]; }; // (m, Kp/32)
layout(std430, binding = 3) writeonly buffer Suma { int suma[]; };

layout(push_constant) uniform Push {
	uint k;        // real features per token
	uint kp;       // Kp: k rounded up to QVK_ACT_K_ALIGN
	uint m;        // tokens
	uint x_stride; // floats between token rows of x
} pc;

void main()
{
	const uint nb = pc.kp / QVK_ACT_BLOCK;
	const uint id = gl_GlobalInvocationID.x;
	if (id >= pc.m * nb)
		return;
	const uint row = id / nb, b = id - row * nb;
	const uint k0 = b * QVK_ACT_BLOCK;
	float v[32];
	float amax = 0.0;

	for (uint i = 0u; i < 32u; i++) {
		v[i] = k0 + i < pc.k ? x[row * pc.x_stride + k0 + i] : 0.0;
		amax = max(amax, abs(v[i]));
	}
	const float d = amax / QVK_ACT_QMAX;
	const float inv = d > 0.0 ? 1.0 / d : 0.0;
	int s = 0;
	for (uint w = 0u; w < 8u; w++) {
		uint word = 0u;
		for (uint l = 0u; l < 4u; l++) {
			const int q = d > 0.0 ? qvk_act_round(v[4u * w + l] * inv) : 0;
			s += q;
			word |= (uint(q) & 0xffu) << (8u * l);
		}
		qa[row * (pc.kp / 4u) + b * 8u + w] = word;
	}
	sa[row * nb + b] = d;
	suma[row * nb + b] = s;
}
