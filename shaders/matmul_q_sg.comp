// SPDX-License-Identifier: MIT
// Grouped integer matmul for GPUs: one subgroup per weight row, its lanes
// splitting the row's 32-element blocks (lane l takes blocks l, l + SG, ...),
// so that neighbouring lanes load neighbouring weight and activation words
// (coalesced). Same formats, layouts, results and int32 group dots as
// matmul_q.comp (one lane per row, what CPU devices run best); the device
// type picks the kernel.
//
// Group dots stay exact: a group of 1, 2 or 4 blocks is a cluster of
// neighbouring lanes, and a butterfly of subgroupShuffleXor (clustered
// arithmetic is rarer than shuffles, lavapipe lacks it) gives its int32 dot
// (and activation sum) to every lane of the cluster; the first applies the
// group's scale. A per-row group sums its blocks' dots over the whole
// subgroup at the end.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#include "sdot.glsl"
#include "fp16.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint FMT = 1;        // 1 Q8, 2 Q4, 3 Q4A
layout(constant_id = 2) const uint TM = 1;         // tokens per workgroup, <= 8
layout(constant_id = 3) const bool ACCUMULATE = false;
layout(constant_id = 4) const bool WRITE_DOTS = false;
layout(constant_id = 5) const bool BROADCAST = true; // unused: no broadcasts
layout(constant_id = 6) const uint GROUP_BLOCKS = 1; // 1, 2, 4; 0 per-row
layout(constant_id = 7) const uint RPI = 1;          // unused: one row per subgroup
layout(constant_id = 8) const bool ACT_BLOCK = false;

layout(std430, binding = 0) readonly buffer Qw { uint qw[]; };
layout(std430, binding = 1) readonly buffer Sw { uint sw[]; };
layout(std430, binding = 2) readonly buffer Mw { uint mw[]; };
layout(std430, binding = 3) readonly buffer Qa { uint qa[]; };
layout(std430, binding = 4) readonly buffer Sa { float sa[]; };
layout(std430, binding = 5) readonly buffer Suma { int suma[]; };
layout(std430, binding = 6) buffer Y { float y[]; };
layout(std430, binding = 7) writeonly buffer Dots { int dots[]; };

layout(push_constant) uniform Push {
	uint n;
	uint row0;
	uint m;
	uint n_groups;
	uint group_blocks;
	uint row_vec4;
	uint act_words;
	uint y_stride;
} pc;

const uint BLOCK_WORDS = FMT == 1 ? 8 : 4;

float qvk_half(uint i, bool mins)
{
	uint word = mins ? mw[i >> 1] : sw[i >> 1];
	return qvk_unpack_half2x16(word >> ((i & 1u) * 16u)).x;
}

// The int32 dot of block @b of weight row @r with token @tok's activations.
int qvk_block_dot(uint r, uint b, uint tok)
{
	const uint wbase = r * pc.row_vec4 * 4u + b * BLOCK_WORDS;
	const uint abase = tok * pc.act_words + b * 8u;
	int d = 0;
	for (uint i = 0; i < BLOCK_WORDS; i++) {
		const uint w = qw[wbase + i];
		if (FMT == 1) {
			d += qvk_sdot4(w, qa[abase + i]);
		} else {
			d += qvk_sdot4(w & 0x0f0f0f0fu, qa[abase + i]);
			d += qvk_sdot4((w >> 4) & 0x0f0f0f0fu, qa[abase + i + 4u]);
		}
	}
	return d;
}

void main()
{
	const uint sg = gl_SubgroupSize, lane = gl_SubgroupInvocationID;
	const uint row = gl_WorkGroupID.x * gl_NumSubgroups + gl_SubgroupID;
	// Whole subgroups past the last row still run the collectives.
	const bool live = row < pc.n;
	const uint r = live ? row : 0u;
	const uint t0 = gl_WorkGroupID.y * TM;
	const uint gb = GROUP_BLOCKS != 0u ? GROUP_BLOCKS : pc.group_blocks;
	const uint blocks = pc.n_groups * gb;
	const uint act_blocks = pc.act_words / 8u;

	for (uint t = 0; t < TM; t++) {
		const uint tok = min(t0 + t, pc.m - 1u);
		float acc = 0.0;
		int row_dot = 0, row_sum = 0; // per-row groups only

		// Chunks of sg blocks; GROUP_BLOCKS divides sg, so clusters
		// never straddle a chunk.
		for (uint c = 0; c < blocks; c += sg) {
			const uint b = c + lane;
			const bool in_row = b < blocks;
			const int bd = in_row ? qvk_block_dot(r, b, tok) : 0;
			const int bs = in_row && FMT != 1 ?
					       suma[tok * act_blocks + b] : 0;
			const uint g = in_row ? b / gb : 0u;
			const uint sidx = (pc.row0 + r) * pc.n_groups + g;

			if (ACT_BLOCK) {
				// The block is the unit: scale it here.
				const int dot = FMT == 2 ? bd - 8 * bs : bd;
				float tv = float(dot) * qvk_half(sidx, false);
				if (FMT == 3)
					tv = fma(float(bs), qvk_half(sidx, true), tv);
				if (in_row)
					acc += tv * sa[tok * act_blocks + b];
				if (WRITE_DOTS && in_row && live && t0 + t < pc.m)
					dots[((t0 + t) * pc.y_stride + pc.row0 + row) *
					     blocks + b] = dot;
			} else if (GROUP_BLOCKS == 0u) {
				row_dot += bd;
				row_sum += bs;
			} else {
				int gd = bd, gs = bs;
				for (uint x = 1u; x < GROUP_BLOCKS; x <<= 1) {
					gd += subgroupShuffleXor(gd, x);
					gs += subgroupShuffleXor(gs, x);
				}
				if (in_row && lane % GROUP_BLOCKS == 0u) {
					const int dot = FMT == 2 ? gd - 8 * gs : gd;
					float tv = float(dot) * qvk_half(sidx, false);
					if (FMT == 3)
						tv = fma(float(gs), qvk_half(sidx, true), tv);
					acc += tv;
					if (WRITE_DOTS && live && t0 + t < pc.m)
						dots[((t0 + t) * pc.y_stride + pc.row0 + row) *
						     pc.n_groups + g] = dot;
				}
			}
		}
		if (!ACT_BLOCK && GROUP_BLOCKS == 0u) {
			// One group per row: the whole subgroup's blocks.
			const int gd = subgroupAdd(row_dot), gs = subgroupAdd(row_sum);
			const uint sidx = (pc.row0 + r) * pc.n_groups;
			const int dot = FMT == 2 ? gd - 8 * gs : gd;
			float tv = float(dot) * qvk_half(sidx, false);
			if (FMT == 3)
				tv = fma(float(gs), qvk_half(sidx, true), tv);
			acc = lane == 0u ? tv : 0.0;
			if (WRITE_DOTS && lane == 0u && live && t0 + t < pc.m)
				dots[((t0 + t) * pc.y_stride + pc.row0 + row) *
				     pc.n_groups] = dot;
		}
		const float total = subgroupAdd(acc);
		if (lane == 0u && live && t0 + t < pc.m) {
			const uint o = (t0 + t) * pc.y_stride + pc.row0 + row;
			const float v = ACT_BLOCK ? total : total * sa[t0 + t];
			if (ACCUMULATE)
				y[o] += v;
			else
				y[o] = v;
		}
	}
}
