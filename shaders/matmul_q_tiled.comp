// SPDX-License-Identifier: MIT
// Grouped integer matmul Y = X · Wᵀ for prefill on GPUs, tiled through
// shared memory: the buffers, push constants, layouts and results of
// matmul_q.comp (Q8, Q4, Q4A; activations per token or per 32-block;
// int32 dots per group or block for the tests), groups of 32, 64 or 128.
//
// A workgroup computes a BM (weight rows) x BN (tokens) tile of Y. Per K
// step of one weight group it stages the group's weight codes of its BM
// rows and int8 activation words of its BN tokens in shared memory, then
// each invocation computes a TMR x TNT register tile from there: every
// weight word read from shared memory serves TNT tokens and every
// activation word TMR rows, and each code crosses the memory bus once per
// workgroup instead of once per token (matmul_q) or per 8 tokens.
//
// Q4/Q4A codes stay packed (two nibbles a byte) in shared memory: staging
// moves exactly the bytes of the weights, twice the rows fit in the same
// shared memory as unpacked codes would need, and the unpack (two ANDs
// and a shift a word) happens once per register tile row and serves TNT
// tokens. The per-group weight scale (and min), the token's or block's
// activation scale and the Q4 offset 8·Σqa are applied in fp32 after the
// int32 dots of each group (or block), as in matmul_q.
//
// Tile sizes are specialization constants chosen on the host from the
// device's limits (runtime/matmul/mm_tiled.c); WG = (BM / TMR) * (BN / TNT).
// Rows past n and tokens past m are staged from the last row and token
// (every invocation reaches every barrier) and never written.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "sdot.glsl"
#include "fp16.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint FMT = 1;        // 1 Q8, 2 Q4, 3 Q4A
layout(constant_id = 2) const uint BN = 32;        // tokens per workgroup
layout(constant_id = 3) const bool ACCUMULATE = false; // y += result (residual)
layout(constant_id = 4) const bool WRITE_DOTS = false; // test hook: int32 dots
layout(constant_id = 5) const uint BM = 64;        // weight rows per workgroup
layout(constant_id = 6) const uint GROUP_BLOCKS = 1; // 32-blocks per group: 1, 2, 4
layout(constant_id = 7) const uint TMR = 4;        // rows per invocation
layout(constant_id = 8) const bool ACT_BLOCK = false; // activation scale per 32-block
layout(constant_id = 9) const uint TNT = 2;        // tokens per invocation

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
	uint group_blocks;  // 32-element blocks per group (== GROUP_BLOCKS)
	uint row_vec4;      // uvec4s per weight row (row_words / 4)
	uint act_words;     // words per activation row (k_padded_act / 4)
	uint y_stride;      // floats per output row (N of the whole tensor)
} pc;

const uint BW = FMT == 1 ? 8u : 4u;   // weight words per 32-block
const uint WW = GROUP_BLOCKS * BW;    // weight words of a row per step
const uint AW = GROUP_BLOCKS * 8u;    // activation words of a token per step
// Row strides in shared memory, padded to odd word counts: the invocations
// of a warp read consecutive rows (or tokens) at the same word, which then
// fall in distinct banks.
const uint WS = WW + 1u;
const uint AS = AW + 1u;
const uint RT = BM / TMR;             // invocations along the rows
const uint CT = BN / TNT;             // invocations along the tokens
const uint NI = RT * CT;              // == local_size_x

shared uint ws[BM * WS]; // (BM, WW) weight words of the step
shared uint xs[BN * AS]; // (BN, AW) activation words of the step

float qvk_half(uint idx_buf, bool mins)
{
	uint word = mins ? mw[idx_buf >> 1] : sw[idx_buf >> 1];
	return qvk_unpack_half2x16(word >> ((idx_buf & 1u) * 16u)).x;
}

void main()
{
	const uint li = gl_LocalInvocationIndex;
	const uint lr = li % RT, lc = li / RT;
	const uint rbase = gl_WorkGroupID.x * BM, tbase = gl_WorkGroupID.y * BN;
	const uint act_blocks = pc.act_words / 8u; // 32-blocks per token
	// This invocation's rows lr + i·RT and tokens lc + j·CT, clamped.
	uint rows[TMR], toks[TNT];
	for (uint i = 0; i < TMR; i++)
		rows[i] = min(rbase + lr + i * RT, pc.n - 1u);
	for (uint j = 0; j < TNT; j++)
		toks[j] = min(tbase + lc + j * CT, pc.m - 1u);
	float acc[TMR * TNT];
	for (uint i = 0; i < TMR * TNT; i++)
		acc[i] = 0.0;

	for (uint g = 0; g < pc.n_groups; g++) {
		barrier(); // the last step's reads of ws and xs are done
		for (uint i = li; i < BM * (WW / 4u); i += NI) {
			const uint r = i / (WW / 4u), v = i % (WW / 4u);
			const uint row = min(rbase + r, pc.n - 1u);
			const uvec4 q = qw[row * pc.row_vec4 + g * (WW / 4u) + v];
			const uint o = r * WS + v * 4u;
			ws[o] = q.x; ws[o + 1u] = q.y; ws[o + 2u] = q.z; ws[o + 3u] = q.w;
		}
		for (uint i = li; i < BN * AW; i += NI) {
			const uint t = i / AW, wd = i % AW;
			const uint tok = min(tbase + t, pc.m - 1u);
			xs[t * AS + wd] = qa[tok * pc.act_words + g * AW + wd];
		}
		barrier();

		float d[TMR], mn[TMR];
		for (uint i = 0; i < TMR; i++) {
			const uint sidx = (pc.row0 + rows[i]) * pc.n_groups + g;
			d[i] = qvk_half(sidx, false);
			mn[i] = FMT == 3 ? qvk_half(sidx, true) : 0.0;
		}
		int idot[TMR * TNT], isum[TNT];
		for (uint i = 0; i < TMR * TNT; i++)
			idot[i] = 0;
		for (uint j = 0; j < TNT; j++)
			isum[j] = 0;
		for (uint bi = 0; bi < GROUP_BLOCKS; bi++) {
			const uint b = g * GROUP_BLOCKS + bi;
			int bd[TMR * TNT];
			for (uint i = 0; i < TMR * TNT; i++)
				bd[i] = 0;
			for (uint wd = 0; wd < BW; wd++) {
				uint wlo[TMR], whi[TMR];
				for (uint i = 0; i < TMR; i++) {
					const uint w = ws[(lr + i * RT) * WS + bi * BW + wd];
					// Q4: nibble codes of elements 4wd.. (low) and
					// 16+4wd.. (high) of the block.
					wlo[i] = FMT == 1 ? w : w & 0x0f0f0f0fu;
					whi[i] = FMT == 1 ? 0u : (w >> 4) & 0x0f0f0f0fu;
				}
				for (uint j = 0; j < TNT; j++) {
					const uint xo = (lc + j * CT) * AS + bi * 8u + wd;
					const uint a = xs[xo];
					const uint a_hi = FMT == 1 ? 0u : xs[xo + 4u];
					for (uint i = 0; i < TMR; i++)
						bd[i * TNT + j] += FMT == 1 ?
							qvk_sdot4(wlo[i], a) :
							qvk_sdot4(wlo[i], a) + qvk_sdot4(whi[i], a_hi);
				}
			}
			for (uint j = 0; j < TNT; j++) {
				const uint tok = toks[j];
				const int sumb = FMT != 1 ? suma[tok * act_blocks + b] : 0;
				isum[j] += sumb;
				for (uint i = 0; i < TMR; i++) {
					if (!ACT_BLOCK) {
						idot[i * TNT + j] += bd[i * TNT + j];
						continue;
					}
					// Per-block activation scales: the block is the
					// unit, scaled now (Q4: codes q, weights q - 8).
					const int dot = FMT == 2 ? bd[i * TNT + j] - 8 * sumb :
								   bd[i * TNT + j];
					float tv = float(dot) * d[i];
					if (FMT == 3)
						tv = fma(float(sumb), mn[i], tv);
					acc[i * TNT + j] += tv * sa[tok * act_blocks + b];
					const uint row = rbase + lr + i * RT;
					const uint t = tbase + lc + j * CT;
					if (WRITE_DOTS && row < pc.n && t < pc.m)
						dots[(t * pc.y_stride + pc.row0 + row) *
						     (pc.n_groups * GROUP_BLOCKS) + b] = dot;
				}
			}
		}
		for (uint j = 0; !ACT_BLOCK && j < TNT; j++)
			for (uint i = 0; i < TMR; i++) {
				// Q4: codes are q, the weights q - 8: subtract 8·Σqa.
				const int dot = FMT == 2 ? idot[i * TNT + j] - 8 * isum[j] :
							   idot[i * TNT + j];
				float tv = float(dot) * d[i];
				if (FMT == 3)
					tv = fma(float(isum[j]), mn[i], tv);
				acc[i * TNT + j] += tv;
				const uint row = rbase + lr + i * RT;
				const uint t = tbase + lc + j * CT;
				if (WRITE_DOTS && row < pc.n && t < pc.m)
					dots[(t * pc.y_stride + pc.row0 + row) *
					     pc.n_groups + g] = dot;
			}
	}
	for (uint j = 0; j < TNT; j++) {
		const uint t = tbase + lc + j * CT;
		for (uint i = 0; i < TMR; i++) {
			const uint row = rbase + lr + i * RT;
			if (t >= pc.m || row >= pc.n)
				continue;
			const uint o = t * pc.y_stride + pc.row0 + row;
			const float v = ACT_BLOCK ? acc[i * TNT + j] :
						    acc[i * TNT + j] * sa[t];
			if (ACCUMULATE)
				y[o] += v;
			else
				y[o] = v;
		}
	}
}
