// SPDX-License-Identifier: MIT
// Integer matmul Y = X · Wᵀ for K-quant and IQ4 weights (Q2_K..Q6_K,
// IQ4_NL, IQ4_XS; the type is a specialization constant) and int8
// activations per token or per 32-block. Each 32-element chunk of a weight
// block decodes into 8 words of int8 codes (kquant.glsl), dotted with the
// 8 activation words of the same 32 elements by OpSDot into one int32 per
// sub-block (16 or 32 elements), which is scaled by its integer sub-block
// scale times the block's fp16 d (and, with mins, corrected by dmin · mn ·
// Σ qa) and accumulated in fp32. Layouts: runtime/format/kquant_layout.h,
// include/qvk/kquant.h (the reference and its accumulation order).
//
// One invocation owns RPI rows and streams them front to back, TM tokens
// per workgroup (decode: TM = M; prefill tiles TM = 8): what CPU devices
// run best, as matmul_q.comp. Activation words are loaded one per lane
// and shared with subgroupBroadcast (every row needs the same words).
// matmul_kq_sg.comp is the subgroup-per-row twin for GPUs.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_ballot : require
#include "sdot.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint TYPE = 12;      // ggml type id
layout(constant_id = 2) const uint TM = 1;         // tokens per workgroup, <= 8
layout(constant_id = 3) const bool ACCUMULATE = false; // y += result (residual)
layout(constant_id = 4) const bool WRITE_DOTS = false; // test hook: int32 dots
layout(constant_id = 5) const bool BROADCAST = true;   // subgroups of >= 8
layout(constant_id = 6) const uint GROUP_BLOCKS = 0; // unused: matmul_q's number
layout(constant_id = 7) const uint RPI = 1;        // rows per invocation
layout(constant_id = 8) const bool ACT_BLOCK = false; // activation scale per 32

layout(std430, binding = 0) readonly buffer Qw { uint qw[]; };
layout(std430, binding = 1) readonly buffer Qa { uint qa[]; };
layout(std430, binding = 2) readonly buffer Sa { float sa[]; }; // per token or block
layout(std430, binding = 3) readonly buffer Suma { int suma[]; };
layout(std430, binding = 4) buffer Y { float y[]; };
layout(std430, binding = 5) writeonly buffer Dots { int dots[]; };

layout(push_constant) uniform Push {
	uint n;         // rows in this piece of the weights
	uint row0;      // first row of the piece in the whole tensor
	uint m;         // tokens
	uint blocks;    // blocks per row
	uint row_words; // words per weight row
	uint act_words; // words per activation row (k_padded_act / 4)
	uint y_stride;  // floats per output row (N of the whole tensor)
} pc;

#include "kquant.glsl"

// Sub-blocks per 32-element chunk (the dot units of a chunk).
const uint HALVES = QVK_KQ_HALVES ? 2u : 1u;

uint qvk_row(uint row)
{
	return row < pc.n ? row : 0u; // rows past the end read row 0
}

uint qvk_act_u(uint mine, uint base, uint i)
{
	return BROADCAST ? subgroupBroadcast(mine, i) : qa[base + i];
}

void main()
{
	const uint lane = gl_SubgroupInvocationID & 7u;
	const uint row0 = gl_GlobalInvocationID.x * RPI;
	const uint t0 = gl_WorkGroupID.y * TM;
	const uint act_blocks = pc.act_words / 8u;
	const uint units = pc.blocks * QVK_KQ_CHUNKS * HALVES;
	float acc[TM * RPI];
	for (uint i = 0; i < TM * RPI; i++)
		acc[i] = 0.0;

	for (uint b = 0; b < pc.blocks; b++) {
		uint base[RPI];
		vec2 dd[RPI];
		for (uint ri = 0; ri < RPI; ri++) {
			base[ri] = qvk_row(row0 + ri) * pc.row_words + b * QVK_KQ_WORDS;
			dd[ri] = qvk_kq_d(base[ri]);
		}
		for (uint j = 0; j < QVK_KQ_CHUNKS; j++) {
			const uint ab = b * QVK_KQ_CHUNKS + j; // activation block
			uint c[8 * RPI];
			vec2 ds[RPI], dm[RPI]; // per half: d * sc, dmin * mn
			for (uint ri = 0; ri < RPI; ri++) {
				for (uint w = 0; w < 8u; w++)
					c[8 * ri + w] = qvk_kq_code_word(base[ri], j, w);
				const ivec2 s0 = qvk_kq_scale(base[ri], j, 0u);
				const ivec2 s1 = QVK_KQ_HALVES ? qvk_kq_scale(base[ri], j, 1u) : s0;
				ds[ri] = dd[ri].x * vec2(s0.x, s1.x);
				dm[ri] = dd[ri].y * vec2(s0.y, s1.y);
			}
			for (uint t = 0; t < TM; t++) {
				const uint tok = min(t0 + t, pc.m - 1u);
				const uint abase = tok * pc.act_words + ab * 8u;
				const uint mine = BROADCAST ? qa[abase + lane] : 0u;
				int dlo[RPI], dhi[RPI], slo = 0;
				for (uint ri = 0; ri < RPI; ri++) {
					dlo[ri] = 0;
					dhi[ri] = 0;
				}
				for (uint w = 0; w < 8u; w++) {
					const uint a = qvk_act_u(mine, abase, w);
					// Q2_K's mins need Σ qa of each 16-element half
					if (QVK_KQ_HALVES && QVK_KQ_HAS_MIN && w < 4u)
						slo += qvk_sdot4(a, 0x01010101u);
					for (uint ri = 0; ri < RPI; ri++) {
						if (w < 4u)
							dlo[ri] += qvk_sdot4(c[8 * ri + w], a);
						else
							dhi[ri] += qvk_sdot4(c[8 * ri + w], a);
					}
				}
				const int sum = QVK_KQ_HAS_MIN ? suma[tok * act_blocks + ab] : 0;
				const float da = ACT_BLOCK ? sa[tok * act_blocks + ab] : 1.0;
				for (uint ri = 0; ri < RPI; ri++) {
					const uint row = row0 + ri;
					float tv;
					if (QVK_KQ_HALVES) {
						float tl = float(dlo[ri]) * ds[ri].x;
						float th = float(dhi[ri]) * ds[ri].y;
						if (QVK_KQ_HAS_MIN) {
							tl = fma(-float(slo), dm[ri].x, tl);
							th = fma(-float(sum - slo), dm[ri].y, th);
						}
						acc[t * RPI + ri] = fma(th, da,
							fma(tl, da, acc[t * RPI + ri]));
					} else {
						tv = float(dlo[ri] + dhi[ri]) * ds[ri].x;
						if (QVK_KQ_HAS_MIN)
							tv = fma(-float(sum), dm[ri].x, tv);
						acc[t * RPI + ri] = fma(tv, da, acc[t * RPI + ri]);
					}
					if (WRITE_DOTS && row < pc.n && t0 + t < pc.m) {
						const uint o = ((t0 + t) * pc.y_stride + pc.row0 +
								row) * units + ab * HALVES;
						if (QVK_KQ_HALVES) {
							dots[o] = dlo[ri];
							dots[o + 1u] = dhi[ri];
						} else {
							dots[o] = dlo[ri] + dhi[ri];
						}
					}
				}
			}
		}
	}
	for (uint t = 0; t < TM; t++) {
		if (t0 + t >= pc.m)
			break;
		for (uint ri = 0; ri < RPI; ri++) {
			const uint row = row0 + ri;
			if (row >= pc.n)
				break;
			const uint o = (t0 + t) * pc.y_stride + pc.row0 + row;
			const float v = ACT_BLOCK ? acc[t * RPI + ri] :
						    acc[t * RPI + ri] * sa[t0 + t];
			if (ACCUMULATE)
				y[o] += v;
			else
				y[o] = v;
		}
	}
}
