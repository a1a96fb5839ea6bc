// SPDX-License-Identifier: MIT
// Streaming read of a large buffer: the device's own read bandwidth, the
// roofline every weight-streaming kernel is measured against. Each
// invocation sums a strided slice of uvec4s so the reads cannot be skipped,
// and writes one word per workgroup.
#version 450

layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Src { uvec4 src[]; };
layout(std430, binding = 1) writeonly buffer Dst { uint dst[]; };

layout(push_constant) uniform Push {
	uint n_vec4;
} pc;

shared uint partial[1024];

void main()
{
	uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
	uvec4 acc = uvec4(0);
	for (uint i = gl_GlobalInvocationID.x; i < pc.n_vec4; i += stride)
		acc ^= src[i];
	partial[gl_LocalInvocationID.x] = acc.x ^ acc.y ^ acc.z ^ acc.w;
	barrier();
	if (gl_LocalInvocationID.x == 0) {
		uint r = 0;
		for (uint t = 0; t < gl_WorkGroupSize.x; t++)
			r ^= partial[t];
		dst[gl_WorkGroupID.x] = r;
	}
}
