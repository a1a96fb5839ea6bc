// SPDX-License-Identifier: MIT
// GPTQ's Hessian sums on the device: h += XᵀX over one window's rows of
// x (m, k), the upper triangle (j >= i) of the row-major (k, k) matrix as
// the host's cblas_ssyrk(CblasUpper) keeps it, the lower one left zero.
// The matrix may be bound in pieces of whole rows (a Hessian of 11008
// channels is 484 MiB, past maxStorageBufferRange on many devices): one
// dispatch per piece, rows [row0, row0 + rows). Invocation (i, j) runs
// down the window: along x neighbouring invocations read neighbouring
// floats of a row of x and all read the same x[t][i], which caches serve.
#version 450

layout(local_size_x_id = 0, local_size_y_id = 1) in;

layout(std430, binding = 0) readonly buffer X { float x[]; }; // (m, k)
layout(std430, binding = 1) buffer H { float h[]; };          // (rows, k)

layout(push_constant) uniform Push {
	uint k;
	uint m;
	uint row0; // first row of the matrix this piece holds
	uint rows; // rows in this piece
} pc;

void main()
{
	uint j = gl_GlobalInvocationID.x, r = gl_GlobalInvocationID.y;
	uint i = pc.row0 + r;
	if (j >= pc.k || r >= pc.rows || j < i)
		return;
	float acc = 0.0;
	for (uint t = 0u; t < pc.m; t++)
		acc += x[t * pc.k + i] * x[t * pc.k + j];
	h[r * pc.k + j] += acc;
}
