// SPDX-License-Identifier: MIT
// SwiGLU fused with int8 activation quantization for the down projection:
// one workgroup per token, max |silu(g)*u| then quantization per 32-block;
// the fp32 product never goes to memory.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "ops_common.glsl"

layout(std430, binding = 0) readonly buffer G { float g[]; };
layout(std430, binding = 1) readonly buffer U { float u[]; };
layout(std430, binding = 2) writeonly buffer Qa { uint qa[]; };
layout(std430, binding = 3) writeonly buffer Sa { float sa[]; };
layout(std430, binding = 4) writeonly buffer Suma { int suma[]; };

layout(push_constant) uniform Push {
	uint hidden;
	uint hidden_padded;
	uint x_stride; // floats between rows of gate/up
} pc;

float qvk_act_value(uint row, uint k)
{
	uint src = row * pc.x_stride + k;
	float v = g[src];
	v *= 1.0 / (1.0 + exp(-v));
	return v * u[src];
}

#define QVK_ACT_ROW_QUANT
#include "act_layout.glsl"

void main()
{
	uint row = gl_WorkGroupID.x;
	float amax = 0.0;

	for (uint k = gl_LocalInvocationID.x; k < pc.hidden; k += WG)
		amax = max(amax, abs(qvk_act_value(row, k)));
	amax = qvk_wg_max(amax);
	qvk_act_quant_row(row, pc.hidden, pc.hidden_padded, amax);
}
