// SPDX-License-Identifier: MIT
// Test kernel for sdot.glsl: out[i] = sum over j < lanes_per_out of
// qvk_sdot4(a[i * n + j], b[i * n + j]), so both single dots and
// accumulation across words are checked against the C reference.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "sdot.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer A { uint a[]; };
layout(std430, binding = 1) readonly buffer B { uint b[]; };
layout(std430, binding = 2) writeonly buffer C { int c[]; };

layout(push_constant) uniform Push {
	uint n_out;
	uint words_per_out;
} pc;

void main()
{
	uint i = gl_GlobalInvocationID.x;
	if (i >= pc.n_out)
		return;
	int acc = 0;
	for (uint j = 0; j < pc.words_per_out; j++)
		acc += qvk_sdot4(a[i * pc.words_per_out + j],
				 b[i * pc.words_per_out + j]);
	c[i] = acc;
}
