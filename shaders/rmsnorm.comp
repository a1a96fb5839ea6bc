// SPDX-License-Identifier: MIT
// RMSNorm as llama2.c: o = w * (x / sqrt(mean(x²) + eps)), fp32 in and out.
// One workgroup per token row; o may alias x (each invocation reads and
// writes only its own elements after the reduction). VEC4 (dim % 4 == 0,
// 16-byte aligned bindings) moves four floats per access: on CPU devices
// every lane-varying access costs about the same whatever its width.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "ops_common.glsl"

layout(constant_id = 1) const bool VEC4 = false;

layout(std430, binding = 0) readonly buffer X { float x[]; };   // (m, dim)
layout(std430, binding = 0) readonly buffer X4 { vec4 x4[]; };
layout(std430, binding = 1) readonly buffer Wt { float w[]; };  // (dim)
layout(std430, binding = 1) readonly buffer Wt4 { vec4 w4[]; };
layout(std430, binding = 2) writeonly buffer O { float o[]; };  // (m, dim)
layout(std430, binding = 2) writeonly buffer O4 { vec4 o4[]; };

layout(push_constant) uniform Push {
	uint dim;
	float eps;
} pc;

void main()
{
	uint row = gl_WorkGroupID.x, tid = gl_LocalInvocationID.x;
	float ss = 0.0;

	if (VEC4) {
		uint d4 = pc.dim / 4u, base = row * d4;
		for (uint k = tid; k < d4; k += WG) {
			vec4 v = x4[base + k];
			ss += dot(v, v);
		}
	} else {
		uint base = row * pc.dim;
		for (uint k = tid; k < pc.dim; k += WG) {
			float v = x[base + k];
			ss += v * v;
		}
	}
	ss = qvk_wg_sum(ss);
	// A sum of squares that overflowed (|x| past ~1e19) or met a NaN
	// has no meaningful norm: NaN, not a silent zero row, flows on.
	float r = qvk_nonfinite(ss) ? uintBitsToFloat(0x7fc00000u) :
				      1.0 / sqrt(ss / float(pc.dim) + pc.eps);
	if (VEC4) {
		uint d4 = pc.dim / 4u, base = row * d4;
		for (uint k = tid; k < d4; k += WG)
			o4[base + k] = w4[k] * (r * x4[base + k]);
	} else {
		uint base = row * pc.dim;
		for (uint k = tid; k < pc.dim; k += WG)
			o[base + k] = w[k] * (r * x[base + k]);
	}
}
