// SPDX-License-Identifier: MIT
// Streaming read of a large buffer: the device's own read bandwidth, the
// roofline every weight-streaming kernel is measured against. Two access
// patterns, because devices disagree on which is fastest:
//   PER_LANE = false: neighbouring invocations read neighbouring uvec4s
//     (coalesced; what GPUs want);
//   PER_LANE = true: each invocation streams its own contiguous chunk
//     (what a CPU device such as lavapipe runs best, one SIMD lane a row).
// Every word is folded into the result so no read can be skipped.
#version 450

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint PATTERN = 0;
const uint ROW_VEC4 = 512; // 8 KiB

layout(std430, binding = 0) readonly buffer Src { uvec4 src[]; };
layout(std430, binding = 1) writeonly buffer Dst { uint dst[]; };

layout(push_constant) uniform Push {
	uint n_vec4;
} pc;

void main()
{
	const uint threads = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
	uvec4 acc = uvec4(0);
	if (PATTERN == 2u) {
		const uint rows = pc.n_vec4 / ROW_VEC4;
		for (uint r = gl_GlobalInvocationID.x; r < rows; r += threads)
			for (uint i = 0u; i < ROW_VEC4; i++)
				acc ^= src[r * ROW_VEC4 + i];
	} else if (PATTERN == 1u) {
		const uint per = (pc.n_vec4 + threads - 1u) / threads;
		const uint begin = gl_GlobalInvocationID.x * per;
		const uint end = min(begin + per, pc.n_vec4);
		for (uint i = begin; i < end; i++)
			acc ^= src[i];
	} else {
		for (uint i = gl_GlobalInvocationID.x; i < pc.n_vec4; i += threads)
			acc ^= src[i];
	}
	dst[gl_GlobalInvocationID.x] = acc.x ^ acc.y ^ acc.z ^ acc.w;
}
