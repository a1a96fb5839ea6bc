// SPDX-License-Identifier: MIT
// Test kernel for fp16.glsl: out[2i], out[2i + 1] = qvk_unpack_half2x16 of
// word i, so that tests/check_fp16.c can compare every half's widening with
// qvk_fp16_to_f32 bit for bit.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "fp16.glsl"

layout(local_size_x = 64) in;

layout(std430, binding = 0) readonly buffer In { uint words[]; };
layout(std430, binding = 1) writeonly buffer Out { uint out_bits[]; };

layout(push_constant) uniform Push { uint n_words; } pc;

void main()
{
	const uint i = gl_GlobalInvocationID.x;
	if (i >= pc.n_words)
		return;
	// As bits: a float store may quieten a NaN or change its payload.
	const vec2 f = qvk_unpack_half2x16(words[i]);
	out_bits[2u * i] = floatBitsToUint(f.x);
	out_bits[2u * i + 1u] = floatBitsToUint(f.y);
}
