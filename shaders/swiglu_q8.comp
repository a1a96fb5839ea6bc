// SPDX-License-Identifier: MIT
// SwiGLU fused with int8 activation quantization for the down projection:
// one workgroup per token, max |silu(g)*u| then quantization per 32-block;
// the fp32 product never goes to memory. VEC4: hidden and x_stride
// multiples of 4.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "ops_common.glsl"

layout(constant_id = 1) const bool VEC4 = false;

layout(std430, binding = 0) readonly buffer G { float g[]; };
layout(std430, binding = 0) readonly buffer G4 { vec4 g4[]; };
layout(std430, binding = 1) readonly buffer U { float u[]; };
layout(std430, binding = 1) readonly buffer U4 { vec4 u4[]; };
layout(std430, binding = 2) writeonly buffer Qa { uint qa[]; };
layout(std430, binding = 3) writeonly buffer Sa { float sa[]; };
layout(std430, binding = 4) writeonly buffer Suma { int suma[]; };

layout(push_constant) uniform Push {
	uint hidden;
	uint hidden_padded;
	uint x_stride; // floats between rows of gate/up
} pc;

// As llama2.c: v * (1 / (1 + exp(-v))) * up.
float qvk_act_value(uint row, uint k)
{
	uint src = row * pc.x_stride + k;
	float v = g[src];
	v *= 1.0 / (1.0 + exp(-v));
	return v * u[src];
}

vec4 qvk_act_value4(uint row, uint k4)
{
	uint src = row * (pc.x_stride / 4u) + k4;
	vec4 v = g4[src];
	v *= 1.0 / (1.0 + exp(-v));
	return v * u4[src];
}

#define QVK_ACT_ROW_QUANT
#include "act_layout.glsl"

void main()
{
	uint row = gl_WorkGroupID.x;

	qvk_act_quant_row(row, pc.hidden, pc.hidden_padded,
			  qvk_act_row_amax(row, pc.hidden));
}
