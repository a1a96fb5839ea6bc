// SPDX-License-Identifier: MIT
// Decodes K-quant/IQ4 device blocks with kquant.glsl, one invocation per
// (block, chunk), so that tests/check_kquant.c can compare every code
// word, scale and min with runtime/format/kquant_layout.h.
#version 450
#extension GL_GOOGLE_include_directive : require

layout(local_size_x = 64) in;
layout(constant_id = 0) const uint TYPE = 12;

layout(std430, binding = 0) readonly buffer Qw { uint qw[]; };
// per (block, chunk): 8 code words, then sc0, mn0, sc1, mn1
layout(std430, binding = 1) writeonly buffer Dec { uint dec[]; };
layout(std430, binding = 2) writeonly buffer D { vec2 dd[]; }; // per block

layout(push_constant) uniform Push { uint blocks; } pc;

#include "kquant.glsl"

void main()
{
	const uint id = gl_GlobalInvocationID.x;
	if (id >= pc.blocks * QVK_KQ_CHUNKS)
		return;
	const uint b = id / QVK_KQ_CHUNKS, j = id % QVK_KQ_CHUNKS;
	const uint base = b * QVK_KQ_WORDS;

	for (uint w = 0u; w < 8u; w++)
		dec[id * 12u + w] = qvk_kq_code_word(base, j, w);
	for (uint h = 0u; h < 2u; h++) {
		const ivec2 s = qvk_kq_scale(base, j, h);
		dec[id * 12u + 8u + 2u * h] = uint(s.x);
		dec[id * 12u + 9u + 2u * h] = uint(s.y);
	}
	if (j == 0u)
		dd[b] = qvk_kq_d(base);
}
