// SPDX-License-Identifier: MIT
// Residual add x += y over n floats, one per invocation.
#version 450

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Y { float y[]; };

layout(push_constant) uniform Push {
	uint n;
} pc;

void main()
{
	// Two-dimensional grids: one dimension caps at 65535 workgroups.
	uint i = gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x +
		gl_GlobalInvocationID.x;
	if (i < pc.n)
		x[i] += y[i];
}
