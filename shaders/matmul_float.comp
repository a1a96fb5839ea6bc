// SPDX-License-Identifier: MIT
// Y = X · Wᵀ with fp32 or fp16 weights and fp32 activations: the baseline
// the integer kernels are measured against, and the path for tensors kept
// unquantized. Same shape as matmul_q.comp: one invocation per weight row,
// streamed front to back in chunks of 8 elements; TM tokens per workgroup
// reuse each chunk; activations shared with subgroupBroadcast.
//
// Weight rows are padded with zeros to a multiple of 8 elements (the
// upload does it); activation rows are not, so the last partial chunk is
// read element by element.
#version 450
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_ballot : require
#extension GL_GOOGLE_include_directive : require
#include "fp16.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const bool F16 = false;
layout(constant_id = 2) const uint TM = 1;
layout(constant_id = 3) const bool ACCUMULATE = false;
layout(constant_id = 4) const bool BROADCAST = true;

layout(std430, binding = 0) readonly buffer W { uvec4 w[]; };
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) buffer Y { float y[]; };

layout(push_constant) uniform Push {
	uint n;         // rows in this piece of the weights
	uint row0;      // first row of the piece in the whole tensor
	uint m;         // tokens
	uint k;         // real inputs per row
	uint row_vec4;  // uvec4s per weight row
	uint x_stride;  // floats per activation row
	uint y_stride;  // floats per output row
} pc;

void qvk_load8(uint r, uint c, out float wv[8])
{
	if (F16) {
		uvec4 v = w[r * pc.row_vec4 + c];
		vec2 a = qvk_unpack_half2x16(v.x), b = qvk_unpack_half2x16(v.y);
		vec2 e = qvk_unpack_half2x16(v.z), f = qvk_unpack_half2x16(v.w);
		wv[0] = a.x; wv[1] = a.y; wv[2] = b.x; wv[3] = b.y;
		wv[4] = e.x; wv[5] = e.y; wv[6] = f.x; wv[7] = f.y;
	} else {
		vec4 a = uintBitsToFloat(w[r * pc.row_vec4 + 2 * c]);
		vec4 b = uintBitsToFloat(w[r * pc.row_vec4 + 2 * c + 1]);
		wv[0] = a.x; wv[1] = a.y; wv[2] = a.z; wv[3] = a.w;
		wv[4] = b.x; wv[5] = b.y; wv[6] = b.z; wv[7] = b.w;
	}
}

void main()
{
	const uint lane = gl_SubgroupInvocationID & 7u;
	const uint row = gl_GlobalInvocationID.x;
	const bool live = row < pc.n;
	const uint r = live ? row : 0u;
	const uint t0 = gl_WorkGroupID.y * TM;
	const uint full = pc.k / 8u;
	float acc[TM];
	for (uint t = 0; t < TM; t++)
		acc[t] = 0.0;

	for (uint c = 0; c < full; c++) {
		float wv[8];
		qvk_load8(r, c, wv);
		for (uint t = 0; t < TM; t++) {
			const uint base = min(t0 + t, pc.m - 1u) * pc.x_stride + c * 8u;
			const float mine = BROADCAST ? x[base + lane] : 0.0;
			for (uint i = 0; i < 8u; i++)
				acc[t] = fma(wv[i], BROADCAST ? subgroupBroadcast(mine, i) :
								x[base + i], acc[t]);
		}
	}
	if (full * 8u < pc.k) {
		float wv[8];
		qvk_load8(r, full, wv);
		for (uint t = 0; t < TM; t++) {
			const uint base = min(t0 + t, pc.m - 1u) * pc.x_stride + full * 8u;
			for (uint i = 0; i < pc.k - full * 8u; i++)
				acc[t] = fma(wv[i], x[base + i], acc[t]);
		}
	}
	if (!live)
		return;
	for (uint t = 0; t < TM; t++) {
		if (t0 + t >= pc.m)
			break;
		const uint o = (t0 + t) * pc.y_stride + pc.row0 + row;
		if (ACCUMULATE)
			y[o] += acc[t];
		else
			y[o] = acc[t];
	}
}
