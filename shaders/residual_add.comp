// SPDX-License-Identifier: MIT
// Residual add x += y over n floats: four per invocation (vec4 accesses
// are one memory operation per invocation instead of four on CPU devices),
// the n % 4 tail by the first invocations past the vec4 part.
#version 450

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) buffer X { vec4 x4[]; };
layout(std430, binding = 1) readonly buffer Y { vec4 y4[]; };
layout(std430, binding = 0) buffer X1 { float x[]; };
layout(std430, binding = 1) readonly buffer Y1 { float y[]; };

layout(push_constant) uniform Push {
	uint n;
} pc;

void main()
{
	// Two-dimensional grids: one dimension caps at 65535 workgroups.
	uint i = gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x +
		gl_GlobalInvocationID.x;
	uint n4 = pc.n / 4u;
	if (i < n4) {
		x4[i] += y4[i];
	} else if (i - n4 < pc.n % 4u) {
		uint j = n4 * 4u + (i - n4);
		x[j] += y[j];
	}
}
