// SPDX-License-Identifier: MIT
// RMSNorm as llama2.c: o = w * (x / sqrt(mean(x²) + eps)), fp32 in and out.
// One workgroup per token row; o may alias x (each invocation reads and
// writes only its own elements after the reduction).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "ops_common.glsl"

layout(std430, binding = 0) readonly buffer X { float x[]; };   // (m, dim)
layout(std430, binding = 1) readonly buffer Wt { float w[]; };  // (dim)
layout(std430, binding = 2) writeonly buffer O { float o[]; };  // (m, dim)

layout(push_constant) uniform Push {
	uint dim;
	float eps;
} pc;

void main()
{
	uint base = gl_WorkGroupID.x * pc.dim;
	float ss = 0.0;

	for (uint k = gl_LocalInvocationID.x; k < pc.dim; k += WG) {
		float v = x[base + k];
		ss += v * v;
	}
	ss = qvk_wg_sum(ss);
	float r = 1.0 / sqrt(ss / float(pc.dim) + pc.eps);
	for (uint k = gl_LocalInvocationID.x; k < pc.dim; k += WG)
		o[base + k] = w[k] * (r * x[base + k]);
}
