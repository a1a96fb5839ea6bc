// SPDX-License-Identifier: MIT
// Pass 2 of split-KV decode attention (attn_split.glsl): merges the P
// splits' partials of each (token, query head) into the attention output.
// With M the largest of the splits' maxima, w_s = exp(mx_s - M):
//   out = sum_s w_s acc_s / sum_s w_s l_s
// (the log-sum-exp rescaling of the online softmax, applied once per split
// instead of once per tile). Only the splits that had positions are read:
// their count follows from the step's position exactly as in pass 1.
//
// One workgroup per (query head, token); invocations own output elements.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "ops_common.glsl"
#include "ops_step.glsl"
#include "attn_split.glsl"

layout(std430, binding = 1) readonly buffer Part { float part[]; };
layout(std430, binding = 2) writeonly buffer O { float o[]; };

layout(push_constant) uniform Push {
	uint head_dim;
	uint n_heads;
	uint max_seq;
	uint m;
	uint splits;    // P, the z size of pass 1's grid
	uint split_min; // as pass 1
} pc;

void main()
{
	uint h = gl_WorkGroupID.x, row = gl_WorkGroupID.y;
	uint n = min(step_pos + row + 1u, pc.max_seq);
	uint len = qvk_split_len(n, pc.splits, pc.split_min);
	uint n_split = (n + len - 1u) / len; // >= 1: n >= 1
	uint ph0 = (row * pc.n_heads + h) * pc.splits;
	uint ml0 = pc.m * pc.n_heads * pc.splits * pc.head_dim;
	float mx = -3.0e38, l = 0.0;

	// Every invocation merges the statistics itself: P is small, and the
	// addresses are uniform (one load each on any device).
	for (uint s = 0u; s < n_split; s++)
		mx = max(mx, part[ml0 + 2u * (ph0 + s)]);
	for (uint s = 0u; s < n_split; s++)
		l += exp(part[ml0 + 2u * (ph0 + s)] - mx) *
		     part[ml0 + 2u * (ph0 + s) + 1u];
	// A NaN statistic (a kernel built for another subgroup size) stays NaN.
	for (uint s = 0u; s < n_split; s++)
		if (qvk_nonfinite(part[ml0 + 2u * (ph0 + s)]))
			l = uintBitsToFloat(0x7fc00000u);
	float inv = 1.0 / l;
	for (uint d = gl_LocalInvocationID.x; d < pc.head_dim; d += WG) {
		float acc = 0.0;

		for (uint s = 0u; s < n_split; s++)
			acc += exp(part[ml0 + 2u * (ph0 + s)] - mx) *
			       part[(ph0 + s) * pc.head_dim + d];
		o[(row * pc.n_heads + h) * pc.head_dim + d] = acc * inv;
	}
}
