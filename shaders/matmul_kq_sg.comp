// SPDX-License-Identifier: MIT
// K-quant / IQ4 integer matmul for GPUs: one subgroup per weight row, its
// lanes splitting the row's 32-element chunks (lane l takes chunks l,
// l + SG, ...), so that neighbouring lanes read neighbouring weight and
// activation words (coalesced). Same types, layouts, int32 sub-block dots
// and results as matmul_kq.comp (one lane per row, what CPU devices run
// best); the device type picks the kernel.
//
// Every sub-block is scaled as soon as its dot is known (its scale is its
// own), so lanes never exchange integers: each keeps an fp32 sum per token
// and one subgroupAdd per token ends the row.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#include "sdot.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint TYPE = 12;
layout(constant_id = 2) const uint TM = 1;
layout(constant_id = 3) const bool ACCUMULATE = false;
layout(constant_id = 4) const bool WRITE_DOTS = false;
layout(constant_id = 5) const bool BROADCAST = true; // unused: no broadcasts
layout(constant_id = 6) const uint GROUP_BLOCKS = 0; // unused: matmul_q's number
layout(constant_id = 7) const uint RPI = 1;          // unused: a subgroup per row
layout(constant_id = 8) const bool ACT_BLOCK = false;

layout(std430, binding = 0) readonly buffer Qw { uint qw[]; };
layout(std430, binding = 1) readonly buffer Qa { uint qa[]; };
layout(std430, binding = 2) readonly buffer Sa { float sa[]; };
layout(std430, binding = 3) readonly buffer Suma { int suma[]; };
layout(std430, binding = 4) buffer Y { float y[]; };
layout(std430, binding = 5) writeonly buffer Dots { int dots[]; };

layout(push_constant) uniform Push {
	uint n;
	uint row0;
	uint m;
	uint blocks;
	uint row_words;
	uint act_words;
	uint y_stride;
} pc;

#include "kquant.glsl"

const uint HALVES = QVK_KQ_HALVES ? 2u : 1u;

void main()
{
	const uint sg = gl_SubgroupSize, lane = gl_SubgroupInvocationID;
	const uint row = gl_WorkGroupID.x * gl_NumSubgroups + gl_SubgroupID;
	// Whole subgroups past the last row still run the collectives.
	const bool live = row < pc.n;
	const uint r = live ? row : 0u;
	const uint t0 = gl_WorkGroupID.y * TM;
	const uint chunks = pc.blocks * QVK_KQ_CHUNKS;
	const uint act_blocks = pc.act_words / 8u;
	float acc[TM];
	for (uint t = 0; t < TM; t++)
		acc[t] = 0.0;

	for (uint ab = lane; ab < chunks; ab += sg) {
		const uint b = ab / QVK_KQ_CHUNKS, j = ab % QVK_KQ_CHUNKS;
		const uint base = r * pc.row_words + b * QVK_KQ_WORDS;
		const vec2 dd = qvk_kq_d(base);
		const ivec2 s0 = qvk_kq_scale(base, j, 0u);
		const ivec2 s1 = QVK_KQ_HALVES ? qvk_kq_scale(base, j, 1u) : s0;
		const vec2 ds = dd.x * vec2(s0.x, s1.x), dm = dd.y * vec2(s0.y, s1.y);
		uint c[8];
		for (uint w = 0; w < 8u; w++)
			c[w] = qvk_kq_code_word(base, j, w);

		for (uint t = 0; t < TM; t++) {
			const uint tok = min(t0 + t, pc.m - 1u);
			const uint abase = tok * pc.act_words + ab * 8u;
			int dlo = 0, dhi = 0, slo = 0;
			for (uint w = 0; w < 8u; w++) {
				const uint a = qa[abase + w];
				if (QVK_KQ_HALVES && QVK_KQ_HAS_MIN && w < 4u)
					slo += qvk_sdot4(a, 0x01010101u);
				if (w < 4u)
					dlo += qvk_sdot4(c[w], a);
				else
					dhi += qvk_sdot4(c[w], a);
			}
			const int sum = QVK_KQ_HAS_MIN ? suma[tok * act_blocks + ab] : 0;
			const float da = ACT_BLOCK ? sa[tok * act_blocks + ab] : 1.0;
			if (QVK_KQ_HALVES) {
				float tl = float(dlo) * ds.x, th = float(dhi) * ds.y;
				if (QVK_KQ_HAS_MIN) {
					tl = fma(-float(slo), dm.x, tl);
					th = fma(-float(sum - slo), dm.y, th);
				}
				acc[t] = fma(th, da, fma(tl, da, acc[t]));
			} else {
				float tv = float(dlo + dhi) * ds.x;
				if (QVK_KQ_HAS_MIN)
					tv = fma(-float(sum), dm.x, tv);
				acc[t] = fma(tv, da, acc[t]);
			}
			if (WRITE_DOTS && live && t0 + t < pc.m) {
				const uint o = ((t0 + t) * pc.y_stride + pc.row0 + row) *
					       (chunks * HALVES) + ab * HALVES;
				if (QVK_KQ_HALVES) {
					dots[o] = dlo;
					dots[o + 1u] = dhi;
				} else {
					dots[o] = dlo + dhi;
				}
			}
		}
	}
	for (uint t = 0; t < TM; t++) {
		const float total = subgroupAdd(acc[t]);
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
