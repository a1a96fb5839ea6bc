// SPDX-License-Identifier: MIT
// RMSNorm fused with int8 activation quantization (ZeroQuant-style: the
// normalized row never goes to memory in fp32). One workgroup per token:
// sum of squares, then max |w * r * x|, then quantization per 32-block;
// the row is read three times from cache instead of being kept in shared
// memory, whose size would cap the model width. VEC4: dim % 4 == 0.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "ops_common.glsl"

layout(constant_id = 1) const bool VEC4 = false;

layout(std430, binding = 0) readonly buffer X { float x[]; };   // (m, dim)
layout(std430, binding = 0) readonly buffer X4 { vec4 x4[]; };
layout(std430, binding = 1) readonly buffer Wt { float w[]; };  // (dim)
layout(std430, binding = 1) readonly buffer Wt4 { vec4 w4[]; };
layout(std430, binding = 2) writeonly buffer Qa { uint qa[]; };
layout(std430, binding = 3) writeonly buffer Sa { float sa[]; };
layout(std430, binding = 4) writeonly buffer Suma { int suma[]; };

layout(push_constant) uniform Push {
	uint dim;
	uint dim_padded; // Kp of act_layout.glsl
	float eps;
} pc;

float g_r; // 1/rms of the current row

float qvk_act_value(uint row, uint k)
{
	return w[k] * (g_r * x[row * pc.dim + k]);
}

vec4 qvk_act_value4(uint row, uint k4)
{
	return w4[k4] * (g_r * x4[row * (pc.dim / 4u) + k4]);
}

#define QVK_ACT_ROW_QUANT
#include "act_layout.glsl"

void main()
{
	uint row = gl_WorkGroupID.x, tid = gl_LocalInvocationID.x;
	float ss = 0.0, amax = 0.0;

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
	g_r = qvk_nonfinite(ss) ? uintBitsToFloat(0x7fc00000u) :
				  1.0 / sqrt(ss / float(pc.dim) + pc.eps);
	amax = qvk_act_row_amax(row, pc.dim);
	qvk_act_quant_row(row, pc.dim, pc.dim_padded, amax);
}
