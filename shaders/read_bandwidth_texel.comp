// SPDX-License-Identifier: MIT
// The streaming read of read_bandwidth.comp (same PATTERNs, same folding
// of every word into the result) through a uniform texel buffer of
// R32G32B32A32_UINT. CPU devices load texels with one vector load per lane
// where storage-buffer loads in a loop become per-lane loops with bounds
// checks (lavapipe, see matmul_q_texel.comp): without this pattern the
// roofline would be the storage-buffer path's ceiling, not the device's.
#version 450

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint PATTERN = 0;
const uint ROW_VEC4 = 512; // 8 KiB

layout(binding = 0) uniform usamplerBuffer src;
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
				acc ^= texelFetch(src, int(r * ROW_VEC4 + i));
	} else if (PATTERN == 1u) {
		const uint per = (pc.n_vec4 + threads - 1u) / threads;
		const uint begin = gl_GlobalInvocationID.x * per;
		const uint end = min(begin + per, pc.n_vec4);
		for (uint i = begin; i < end; i++)
			acc ^= texelFetch(src, int(i));
	} else {
		for (uint i = gl_GlobalInvocationID.x; i < pc.n_vec4; i += threads)
			acc ^= texelFetch(src, int(i));
	}
	dst[gl_GlobalInvocationID.x] = acc.x ^ acc.y ^ acc.z ^ acc.w;
}
