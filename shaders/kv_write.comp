// SPDX-License-Identifier: MIT
// Append the step's k and v (fp32, (m, n_kv_heads, head_dim)) to the fp16
// KV cache of one layer at positions step_pos .. step_pos + m - 1.
// Cache layout per layer (runtime/ops/ops.h): [kv_head][max_seq][head_dim]
// fp16, two per uint, so that attention streams one head's keys and values
// contiguously. One invocation writes one word of k and one of v.
// Positions at or past max_seq are not written (the host refuses them).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "ops_step.glsl"

layout(local_size_x_id = 0) in;

layout(std430, binding = 1) readonly buffer K { vec2 k[]; };
layout(std430, binding = 2) readonly buffer V { vec2 v[]; };
layout(std430, binding = 3) writeonly buffer Kc { uint kc[]; };
layout(std430, binding = 4) writeonly buffer Vc { uint vc[]; };

layout(push_constant) uniform Push {
	uint head_dim;
	uint n_kv_heads;
	uint max_seq;
	uint m;
	uint kv_f32; // store fp32 (two words per pair) instead of fp16
} pc;

void main()
{
	uint half_dim = pc.head_dim / 2u;
	uint per_token = pc.n_kv_heads * half_dim;
	// Two-dimensional grids: one dimension caps at 65535 workgroups.
	uint idx = gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x +
		gl_GlobalInvocationID.x;
	if (idx >= per_token * pc.m)
		return;
	uint row = idx / per_token, rem = idx - row * per_token;
	uint head = rem / half_dim, w = rem - head * half_dim;
	uint pos = step_pos + row;
	if (pos >= pc.max_seq)
		return;
	uint dst = (head * pc.max_seq + pos) * half_dim + w;
	if (pc.kv_f32 != 0u) {
		kc[2u * dst] = floatBitsToUint(k[idx].x);
		kc[2u * dst + 1u] = floatBitsToUint(k[idx].y);
		vc[2u * dst] = floatBitsToUint(v[idx].x);
		vc[2u * dst + 1u] = floatBitsToUint(v[idx].y);
	} else {
		kc[dst] = packHalf2x16(k[idx]);
		vc[dst] = packHalf2x16(v[idx]);
	}
}
