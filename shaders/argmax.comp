// SPDX-License-Identifier: MIT
// Greedy sampling on the device: out[r] = the first index of the largest
// logit of row r (NaN logits never win; 0 for a row with no number), so
// greedy decode reads back 4 bytes per token instead of the logits.
// One workgroup per row; each invocation scans a strided share keeping its
// first maximum, then the workgroup takes the largest value and, among the
// invocations holding it, the smallest index.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "ops_common.glsl"

layout(std430, binding = 0) readonly buffer L { float logits[]; }; // (m, n)
layout(std430, binding = 1) writeonly buffer T { uint tok[]; };    // (m)

layout(push_constant) uniform Push {
	uint n;
} pc;

shared uint s_idx[WG];

uint qvk_wg_min_u(uint v)
{
	v = subgroupMin(v);
	if (gl_NumSubgroups == 1u)
		return v;
	if (subgroupElect())
		s_idx[gl_SubgroupID] = v;
	barrier();
	uint t = s_idx[0];
	for (uint i = 1u; i < gl_NumSubgroups; i++)
		t = min(t, s_idx[i]);
	barrier();
	return t;
}

void main()
{
	uint row = gl_WorkGroupID.x, base = row * pc.n;
	float best = uintBitsToFloat(0xff800000u); // -inf
	uint idx = 0xffffffffu;

	for (uint k = gl_LocalInvocationID.x; k < pc.n; k += WG) {
		float v = logits[base + k];
		if (v > best || (idx == 0xffffffffu && v == best)) {
			best = v;
			idx = k;
		}
	}
	float wmax = qvk_wg_max(best);
	uint wi = qvk_wg_min_u(best == wmax ? idx : 0xffffffffu);
	if (gl_LocalInvocationID.x == 0u)
		tok[row] = wi == 0xffffffffu ? 0u : wi;
}
