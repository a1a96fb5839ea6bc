// SPDX-License-Identifier: MIT
// SwiGLU as llama2.c: o = g * (1 / (1 + exp(-g))) * u, elementwise over
// (m, hidden). gate/up rows are x_stride floats apart (hidden when they are
// separate tensors, 2*hidden for a fused gate|up output); o is (m, hidden)
// and may alias gate when x_stride == hidden.
#version 450

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer G { float g[]; };
layout(std430, binding = 1) readonly buffer U { float u[]; };
layout(std430, binding = 2) writeonly buffer O { float o[]; };

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
	if (i >= pc.hidden * pc.m)
		return;
	uint row = i / pc.hidden, j = i - row * pc.hidden;
	uint src = row * pc.x_stride + j;
	float v = g[src];
	v *= 1.0 / (1.0 + exp(-v));
	o[i] = v * u[src];
}
