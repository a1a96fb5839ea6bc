// SPDX-License-Identifier: MIT
// fp32 rows -> int8 activations (act_layout.glsl), one workgroup per token.
// Used where no fused producer exists (after attention, generic inputs).
// VEC4: k and x_stride multiples of 4.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "ops_common.glsl"

layout(constant_id = 1) const bool VEC4 = false;

layout(std430, binding = 0) readonly buffer X { float x[]; };   // (m, k)
layout(std430, binding = 0) readonly buffer X4 { vec4 x4[]; };
layout(std430, binding = 1) writeonly buffer Qa { uint qa[]; };
layout(std430, binding = 2) writeonly buffer Sa { float sa[]; };
layout(std430, binding = 3) writeonly buffer Suma { int suma[]; };

layout(push_constant) uniform Push {
	uint k;
	uint k_padded;
	uint x_stride; // floats between rows of x
} pc;

float qvk_act_value(uint row, uint k)
{
	return x[row * pc.x_stride + k];
}

vec4 qvk_act_value4(uint row, uint k4)
{
	return x4[row * (pc.x_stride / 4u) + k4];
}

#define QVK_ACT_ROW_QUANT
#include "act_layout.glsl"

void main()
{
	uint row = gl_WorkGroupID.x;

	qvk_act_quant_row(row, pc.k, pc.k_padded, qvk_act_row_amax(row, pc.k));
}
