// SPDX-License-Identifier: MIT
// Calibration statistics of one linear layer's input (qvk quantize on the
// device): for each of the k channels of x (m, k), Σ|x|, Σx² and max|x|
// over the m positions of one window, added to the running sums in s, and
// every stride-th position (counted over all windows from p.base) copied
// into the row sample AWQ's scale search reads. One invocation per
// channel walks the window's rows: neighbouring invocations read
// neighbouring floats of a row, and no two write the same sum, so there
// are no atomics. A non-finite input makes its Σx² non-finite, which the
// host refuses when it reads the sums back.
#version 450

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer X { float x[]; };  // (m, k)
layout(std430, binding = 1) buffer S { float s[]; };           // (3, k)
layout(std430, binding = 2) writeonly buffer R { float rows[]; }; // (max_rows, k)
// Written by the host before each window: push constants are frozen when
// the plan is recorded, and one plan serves every window.
layout(std430, binding = 3) readonly buffer P {
	uint base;     // index of the window's first position over all windows
	uint stride;   // sample every stride-th position; 0: no sample
	uint max_rows;
	uint reserved;
} p;

layout(push_constant) uniform Push {
	uint k;
	uint m;
} pc;

void main()
{
	uint j = gl_GlobalInvocationID.x;
	if (j >= pc.k)
		return;
	float sum_abs = 0.0, sum_sq = 0.0, amax = s[2u * pc.k + j];
	for (uint t = 0u; t < pc.m; t++) {
		float v = x[t * pc.k + j];
		float a = abs(v);
		sum_abs += a;
		sum_sq += v * v;
		amax = max(amax, a);
		uint g = p.base + t;
		if (p.stride != 0u && g % p.stride == 0u && g / p.stride < p.max_rows)
			rows[(g / p.stride) * pc.k + j] = v;
	}
	s[j] += sum_abs;
	s[pc.k + j] += sum_sq;
	s[2u * pc.k + j] = amax;
}
