// SPDX-License-Identifier: MIT
// Bias of a linear layer: y (m, n) += b (n), every row, in place (Qwen2's
// q/k/v biases, and any other bias a GGUF file carries). One invocation per
// element; the matmul's output is read and written once, which costs what a
// fused epilogue would save only on the smallest models.
#version 450

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) buffer Y { float y[]; };          // (m, n)
layout(std430, binding = 1) readonly buffer B { float b[]; }; // (n)

layout(push_constant) uniform Push {
	uint n;
	uint m;
} pc;

void main()
{
	// Two-dimensional grids: one dimension caps at 65535 workgroups.
	uint i = gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x +
		gl_GlobalInvocationID.x;
	if (i >= pc.n * pc.m)
		return;
	y[i] += b[i % pc.n];
}
