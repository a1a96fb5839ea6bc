// SPDX-License-Identifier: MIT
// SwiGLU as llama2.c: o = g * (1 / (1 + exp(-g))) * u, elementwise over
// (m, hidden). gate/up rows are x_stride floats apart (hidden when they are
// separate tensors, 2*hidden for a fused gate|up output); o is (m, hidden)
// and may alias gate when x_stride == hidden. VEC4 (hidden and x_stride
// multiples of 4): one vec4 per invocation.
#version 450

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const bool VEC4 = false;

layout(std430, binding = 0) readonly buffer G { float g[]; };
layout(std430, binding = 0) readonly buffer G4 { vec4 g4[]; };
layout(std430, binding = 1) readonly buffer U { float u[]; };
layout(std430, binding = 1) readonly buffer U4 { vec4 u4[]; };
layout(std430, binding = 2) writeonly buffer O { float o[]; };
layout(std430, binding = 2) writeonly buffer O4 { vec4 o4[]; };

layout(push_constant) uniform Push {
	uint hidden;
	uint m;
	uint x_stride;
} pc;

void main()
{
	// Two-dimensional grids: one dimension caps at 65535 workgroups.
	uint i = gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x +
		gl_GlobalInvocationID.x;
	uint width = VEC4 ? pc.hidden / 4u : pc.hidden;
	if (i >= width * pc.m)
		return;
	uint row = i / width, j = i - row * width;
	if (VEC4) {
		uint src = row * (pc.x_stride / 4u) + j;
		vec4 v = g4[src];
		v *= 1.0 / (1.0 + exp(-v));
		o4[i] = v * u4[src];
	} else {
		uint src = row * pc.x_stride + j;
		float v = g[src];
		v *= 1.0 / (1.0 + exp(-v));
		o[i] = v * u[src];
	}
}
