// SPDX-License-Identifier: MIT
// Grouped integer matmul Y = X · Wᵀ with quantized weights (Q8, Q4, Q4A)
// and int8 per-token activations: int32 dots inside each weight group,
// scaled by the group's fp16 scale (and min) and accumulated in fp32, then
// times the token's activation scale. Layouts: include/qvk/quant.h.
//
// One invocation owns RPI weight rows and streams them front to back; a
// workgroup covers WG * RPI consecutive rows and TM tokens. Each 32-element block
// of the row is loaded once into registers and reused for all TM tokens,
// so decode (M <= 8, TM = M) streams the weights once and prefill tiles
// tokens TM at a time. The activation words of a block are loaded one per
// lane and shared with subgroupBroadcast: every row needs the same words,
// and a broadcast is cheaper than each lane loading all of them.
//
// The _intdot variant uses OpSDot (sdot.glsl). The _fallback variant uses
// SWAR multiplies: two signed 16-bit fields per 32-bit word, one operand
// with its fields swapped, so one multiply yields the sum of two products
// in its top half (see qvk_pair_dot below) — about half the instructions
// of byte-by-byte multiply-add on devices without integer dot products.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_ballot : require
#include "sdot.glsl"
#include "fp16.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint FMT = 1;        // 1 Q8, 2 Q4, 3 Q4A
layout(constant_id = 2) const uint TM = 1;         // tokens per workgroup, <= 8
layout(constant_id = 3) const bool ACCUMULATE = false; // y += result (residual)
layout(constant_id = 4) const bool WRITE_DOTS = false; // test hook: int32 dots
// Share activation words through subgroupBroadcast (needs subgroups of at
// least 8); otherwise every lane loads them itself.
layout(constant_id = 5) const bool BROADCAST = true;
// 32-element blocks per group when known when the pipeline is made (groups
// of 32, 64, 128), so that the block loop unrolls; 0: per-row groups, the
// count from the push constants.
layout(constant_id = 6) const uint GROUP_BLOCKS = 1;
// Rows per invocation: on CPU devices one lane working on two rows shares
// each broadcast activation word and the loop overhead between them.
layout(constant_id = 7) const uint RPI = 1;
// Activations quantized per 32-block (one scale per block) instead of per
// token: each block's dot is scaled on its own (the reference's unit 32).
layout(constant_id = 8) const bool ACT_BLOCK = false;

layout(std430, binding = 0) readonly buffer Qw { uvec4 qw[]; };
layout(std430, binding = 1) readonly buffer Sw { uint sw[]; };  // fp16 pairs
layout(std430, binding = 2) readonly buffer Mw { uint mw[]; };  // fp16 pairs (Q4A)
layout(std430, binding = 3) readonly buffer Qa { uint qa[]; };
layout(std430, binding = 4) readonly buffer Sa { float sa[]; }; // per token or block
layout(std430, binding = 5) readonly buffer Suma { int suma[]; };
layout(std430, binding = 6) buffer Y { float y[]; };
layout(std430, binding = 7) writeonly buffer Dots { int dots[]; };

layout(push_constant) uniform Push {
	uint n;             // rows in this piece of the weights
	uint row0;          // first row of the piece in the whole tensor
	uint m;             // tokens
	uint n_groups;      // groups per row
	uint group_blocks;  // 32-element blocks per group
	uint row_vec4;      // uvec4s per weight row (row_words / 4)
	uint act_words;     // words per activation row (k_padded_act / 4)
	uint y_stride;      // floats per output row (N of the whole tensor)
} pc;

const uint BLOCK_WORDS = FMT == 1 ? 8 : 4;  // weight words per 32 elements

float qvk_half(uint idx_buf, bool mins)
{
	uint word = mins ? mw[idx_buf >> 1] : sw[idx_buf >> 1];
	return qvk_unpack_half2x16(word >> ((idx_buf & 1u) * 16u)).x;
}

#if !QVK_INTDOT
// Two int8 lanes, sign-extended, as the 16-bit fields of one int:
// lanes 0 and 2 (even) or 1 and 3 (odd) of a packed word.
int qvk_even_fields(uint w)
{
	return int((w & 0x00ff00ffu) ^ 0x00800080u) - 0x00800080;
}
int qvk_odd_fields(uint w)
{
	return qvk_even_fields(w >> 8);
}
// w = w0 + w2·2^16 and a' = a2 + a0·2^16 (swapped): w·a' mod 2^32 =
// w0·a2 + (w0·a0 + w2·a2)·2^16. With |w0·a2| < 2^15 and
// |w0·a0 + w2·a2| < 2^15 (|a| <= 127, |w| <= 128), adding 2^15 and
// shifting right by 16 leaves exactly w0·a0 + w2·a2.
int qvk_pair_dot(int w, int a_swapped)
{
	return (w * a_swapped + 0x8000) >> 16;
}
#endif

// Rows past the end still run (broadcasts need every lane) but read row 0.
uint qvk_row(uint row)
{
	return row < pc.n ? row : 0u;
}

// Word i of the current block's activations (which start at word @base):
// broadcast from lane i, or without BROADCAST loaded directly.
uint qvk_act_u(uint mine, uint base, uint i)
{
	return BROADCAST ? subgroupBroadcast(mine, i) : qa[base + i];
}

#if !QVK_INTDOT
int qvk_act_fields(uint word, bool odd)
{
	const uint rot = (word >> 16) | (word << 16);
	return odd ? qvk_odd_fields(rot) : qvk_even_fields(rot);
}

int qvk_act(int mine_fields, uint base, uint i, bool odd)
{
	return BROADCAST ? subgroupBroadcast(mine_fields, i) :
			   qvk_act_fields(qa[base + i], odd);
}
#endif

void main()
{
	const uint lane = gl_SubgroupInvocationID & 7u;
	const uint row0 = gl_GlobalInvocationID.x * RPI;
	const uint t0 = gl_WorkGroupID.y * TM;
	float acc[TM * RPI];
	for (uint i = 0; i < TM * RPI; i++)
		acc[i] = 0.0;

	for (uint g = 0; g < pc.n_groups; g++) {
		float d[RPI], mn[RPI];
		int idot[TM * RPI], isum[TM];
		for (uint ri = 0; ri < RPI; ri++) {
			const uint sidx = (pc.row0 + qvk_row(row0 + ri)) * pc.n_groups + g;
			d[ri] = qvk_half(sidx, false);
			mn[ri] = FMT == 3 ? qvk_half(sidx, true) : 0.0;
		}
		for (uint i = 0; i < TM * RPI; i++)
			idot[i] = 0;
		for (uint t = 0; t < TM; t++)
			isum[t] = 0;
		const uint gb = GROUP_BLOCKS != 0u ? GROUP_BLOCKS : pc.group_blocks;
		for (uint bi = 0; bi < gb; bi++) {
			const uint b = g * gb + bi;
			uint wv[8 * RPI];
			for (uint ri = 0; ri < RPI; ri++) {
				const uint base = qvk_row(row0 + ri) * pc.row_vec4 +
						  b * (BLOCK_WORDS / 4);
				uvec4 v0 = qw[base];
				wv[8 * ri] = v0.x; wv[8 * ri + 1] = v0.y;
				wv[8 * ri + 2] = v0.z; wv[8 * ri + 3] = v0.w;
				if (FMT == 1) {
					uvec4 v1 = qw[base + 1u];
					wv[8 * ri + 4] = v1.x; wv[8 * ri + 5] = v1.y;
					wv[8 * ri + 6] = v1.z; wv[8 * ri + 7] = v1.w;
				}
			}
#if !QVK_INTDOT
			// Weight fields depend only on the row: built once per block.
			int we[8 * RPI], wo[8 * RPI];
			for (uint ri = 0; ri < RPI; ri++)
				for (uint i = 0; i < BLOCK_WORDS; i++) {
					const uint w = wv[8 * ri + i], j = 8 * ri + i;
					if (FMT == 1) {
						we[j] = qvk_even_fields(w);
						wo[j] = qvk_odd_fields(w);
					} else {
						// Nibble codes 0..15: lanes 0,2 / 1,3 of
						// the low (elements 4i..) and high
						// (16+4i..) halves.
						we[j] = int(w & 0x000f000fu);
						wo[j] = int((w >> 8) & 0x000f000fu);
						we[j + 4] = int((w >> 4) & 0x000f000fu);
						wo[j + 4] = int((w >> 12) & 0x000f000fu);
					}
				}
#endif
			for (uint t = 0; t < TM; t++) {
				const uint tok = min(t0 + t, pc.m - 1u);
				const uint abase = tok * pc.act_words + b * 8u;
				const uint mine = BROADCAST ? qa[abase + lane] : 0u;
				const int sumb = FMT != 1 ?
					suma[tok * (pc.act_words / 8u) + b] : 0;
				isum[t] += sumb;
#if QVK_INTDOT
				// Each activation word is fetched once for all rows.
				int bd[RPI];
				for (uint ri = 0; ri < RPI; ri++)
					bd[ri] = 0;
				for (uint i = 0; i < BLOCK_WORDS; i++) {
					const uint a = qvk_act_u(mine, abase, i);
					const uint a_hi = FMT == 1 ? 0u :
						qvk_act_u(mine, abase, i + 4u);
					for (uint ri = 0; ri < RPI; ri++) {
						const uint w = wv[8 * ri + i];
						if (FMT == 1)
							bd[ri] += qvk_sdot4(w, a);
						else
							bd[ri] += qvk_sdot4(w & 0x0f0f0f0fu, a) +
								  qvk_sdot4((w >> 4) & 0x0f0f0f0fu, a_hi);
					}
				}
#else
				// Each lane swaps and splits its own activation word
				// once; the fields are then broadcast to every row.
				const int ae_mine = qvk_act_fields(mine, false);
				const int ao_mine = qvk_act_fields(mine, true);
				int p[RPI], bd[RPI];
				for (uint ri = 0; ri < RPI; ri++) {
					p[ri] = 0;
					bd[ri] = 0;
				}
				for (uint i = 0; i < 8u; i++) {
					const int ae = qvk_act(ae_mine, abase, i, false);
					const int ao = qvk_act(ao_mine, abase, i, true);
					for (uint ri = 0; ri < RPI; ri++) {
						const uint j = 8 * ri + i;
						if (FMT == 1) {
							bd[ri] += qvk_pair_dot(we[j], ae) +
								  qvk_pair_dot(wo[j], ao);
						} else {
							// Codes <= 15: the 16 products of
							// four words and their cross terms
							// stay below 2^15, so one extraction
							// serves four words.
							p[ri] += we[j] * ae + wo[j] * ao;
							if ((i & 3u) == 3u) {
								bd[ri] += (p[ri] + 0x8000) >> 16;
								p[ri] = 0;
							}
						}
					}
				}
#endif
				for (uint ri = 0; ri < RPI; ri++) {
					if (!ACT_BLOCK) {
						idot[t * RPI + ri] += bd[ri];
						continue;
					}
					// Per-block activation scales: the block is the
					// unit, scaled now (Q4: codes q, weights q - 8).
					const uint row = row0 + ri;
					const int dot = FMT == 2 ? bd[ri] - 8 * sumb : bd[ri];
					float tv = float(dot) * d[ri];
					if (FMT == 3)
						tv = fma(float(sumb), mn[ri], tv);
					acc[t * RPI + ri] += tv * sa[tok * (pc.act_words / 8u) + b];
					if (WRITE_DOTS && row < pc.n && t0 + t < pc.m)
						dots[((t0 + t) * pc.y_stride + pc.row0 + row) *
						     (pc.n_groups * gb) + b] = dot;
				}
			}
		}
		for (uint t = 0; !ACT_BLOCK && t < TM; t++)
			for (uint ri = 0; ri < RPI; ri++) {
				const uint row = row0 + ri;
				// Q4: codes are q, the weights q - 8: subtract 8·Σqa.
				int dot = FMT == 2 ? idot[t * RPI + ri] - 8 * isum[t] :
						     idot[t * RPI + ri];
				float tv = float(dot) * d[ri];
				if (FMT == 3)
					tv = fma(float(isum[t]), mn[ri], tv);
				acc[t * RPI + ri] += tv;
				if (WRITE_DOTS && row < pc.n && t0 + t < pc.m)
					dots[((t0 + t) * pc.y_stride + pc.row0 + row) *
					     pc.n_groups + g] = dot;
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
