// SPDX-License-Identifier: MIT
// Grouped integer matmul Y = X · Wᵀ (Q8, Q4, Q4A weights; int8 activations
// per token or per 32-block) reading everything through uniform texel
// buffers: the kernel for CPU devices.
//
// Why texel buffers: a CPU driver runs one SIMD lane per invocation, and
// lavapipe (Mesa 22.3) turns every storage-buffer load inside a loop into a
// loop over the lanes with a branch and a bounds check per 32-bit word
// (~12 instructions a word, a load of an address all lanes share
// included), while a texelFetch of an R32G32B32A32_UINT view is one 16-byte
// load per lane and a transpose, without branches. Sharing a word between
// lanes with subgroupShuffle at a constant lane is one permute, where
// subgroupBroadcast is a loop over the lanes.
//
// One invocation owns RPI weight rows; each loop step takes one chunk of
// four 32-element blocks (128 elements): lane L of the subgroup fetches
// activation texel L of the chunk (words 4L..4L+3, all eight lanes: the
// chunk's 32 words) and the rows' weights are fetched 16 bytes at a time,
// each block's weights once for all TM tokens. Blocks past the end of a
// row (the last chunk of a row whose blocks are not a multiple of four)
// re-read the row's last block, meet activations that are zero there
// (activation rows are padded to 128) and their scales are forced to
// zero, so they add exactly nothing.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_EXT_control_flow_attributes : require
#include "sdot.glsl"
#include "fp16.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint FMT = 1;        // 1 Q8, 2 Q4, 3 Q4A
layout(constant_id = 2) const uint TM = 1;         // tokens per workgroup, <= 8
layout(constant_id = 3) const bool ACCUMULATE = false; // y += result (residual)
layout(constant_id = 4) const bool WRITE_DOTS = false; // test hook: int32 dots
// Share the chunk's activation texels through subgroupShuffle (subgroups
// of at least 8); otherwise every lane fetches all eight itself.
layout(constant_id = 5) const bool BROADCAST = true;
// Blocks per group: 1, 2 or 4 (groups of 32, 64, 128); 0: one group per row.
layout(constant_id = 6) const uint GROUP_BLOCKS = 1;
layout(constant_id = 7) const uint RPI = 2;        // rows per invocation
layout(constant_id = 8) const bool ACT_BLOCK = false; // scales per 32-block
// Scales and mins bound as R32G32_UINT views (four halves a texel; rows
// of a multiple of four groups): one fetch per chunk and row instead of
// one per group.
layout(constant_id = 9) const bool SCALES_VEC = false;

layout(binding = 0) uniform usamplerBuffer qw;   // (n, row_vec4) code texels
layout(binding = 1) uniform usamplerBuffer sw;   // fp16 pairs (R32UI, RG32UI)
layout(binding = 2) uniform usamplerBuffer mw;   // likewise: Q4A mins
layout(binding = 3) uniform usamplerBuffer qa;   // (m, act_words / 4) texels
layout(binding = 4) uniform usamplerBuffer sa;   // f32 bits: per token or block
layout(binding = 5) uniform usamplerBuffer suma; // int32: per 32-block sums
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

const uint BLOCK_VEC4 = FMT == 1 ? 2 : 1;  // weight texels per 32 elements

float qvk_half(usamplerBuffer t, uint idx)
{
	const uint word = texelFetch(t, int(idx >> 1)).x;
	return qvk_unpack_half2x16(word >> ((idx & 1u) * 16u)).x;
}

// Half @i (0..3) of a texel of four.
float qvk_half4(uvec2 v, uint i)
{
	return qvk_unpack_half2x16(v[i >> 1] >> ((i & 1u) * 16u)).x;
}

// Word i (0..7) of block j (0..3) of the chunk whose texel this lane holds.
uint qvk_act_word(uvec4 mine, uvec4 chunk[8], uint j, uint i)
{
	const uint c = i & 3u, src = 2u * j + (i >> 2);
	return BROADCAST ? subgroupShuffle(mine[c], src) : chunk[src][c];
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
// The activation side, fields swapped: a' = a2 + a0·2^16 (see matmul_q).
ivec2 qvk_act_fields(uint a)
{
	const uint rot = (a >> 16) | (a << 16);
	return ivec2(qvk_even_fields(rot), qvk_odd_fields(rot));
}
int qvk_pair_dot(int w, int a_swapped)
{
	return (w * a_swapped + 0x8000) >> 16;
}
#endif

void main()
{
	const uint lane = gl_SubgroupInvocationID & 7u;
	const uint row_first = gl_GlobalInvocationID.x * RPI;
	const uint t0 = gl_WorkGroupID.y * TM;
	const uint blocks = pc.n_groups * pc.group_blocks;
	const uint n_chunks = (blocks + 3u) / 4u;
	const uint act_vec4 = pc.act_words / 4u, act_blocks = pc.act_words / 8u;
	const uint gb = GROUP_BLOCKS;
	uint wbase[RPI], sbase[RPI], tok[TM];
	float acc[TM * RPI];
	int gdot[TM * RPI], gsum[TM];

	// Rows past the end still run (shuffles need every lane) but read
	// the last row.
	for (uint ri = 0; ri < RPI; ri++) {
		const uint row = min(row_first + ri, pc.n - 1u);
		wbase[ri] = row * pc.row_vec4;
		sbase[ri] = (pc.row0 + row) * pc.n_groups;
	}
	for (uint t = 0; t < TM; t++) {
		tok[t] = min(t0 + t, pc.m - 1u);
		gsum[t] = 0;
	}
	for (uint i = 0; i < TM * RPI; i++) {
		acc[i] = 0.0;
		gdot[i] = 0;
	}

	for (uint c = 0; c < n_chunks; c++) {
		// The chunk's activations, per token: this lane's texel (or all
		// eight), its blocks' sums and (per block) scales.
		uvec4 am[TM], ach[TM][8];
		int asum[TM];
		float ascale[TM];
		for (uint t = 0; t < TM; t++) {
			const uint tv = tok[t] * act_vec4 + c * 8u;
			const uint tb = tok[t] * act_blocks + c * 4u + (lane & 3u);
			am[t] = texelFetch(qa, int(tv + lane));
			for (uint i = 0; !BROADCAST && i < 8u; i++)
				ach[t][i] = texelFetch(qa, int(tv + i));
			asum[t] = FMT != 1 ? int(texelFetch(suma, int(tb)).x) : 0;
			ascale[t] = ACT_BLOCK ? uintBitsToFloat(texelFetch(sa, int(tb)).x) :
						0.0;
		}
		// The chunk's scales (and mins) of each row: groups
		// c * 4 / gb .. of the row, in one texel of four.
		uvec2 sv[RPI], mv[RPI];
		for (uint ri = 0; SCALES_VEC && ri < RPI; ri++) {
			const uint at = (sbase[ri] + c * (4u / gb)) / 4u;
			sv[ri] = texelFetch(sw, int(at)).xy;
			mv[ri] = FMT == 3 ? texelFetch(mw, int(at)).xy : uvec2(0);
		}
#if !QVK_INTDOT
		// Each lane splits its own activation words into fields once.
		ivec2 af[TM][4];
		for (uint t = 0; t < TM; t++)
			for (uint i = 0; BROADCAST && i < 4u; i++)
				af[t][i] = qvk_act_fields(am[t][i]);
#endif
		[[unroll]] for (uint j = 0; j < 4u; j++) {
			const uint b = c * 4u + j;
			const bool valid = b < blocks;
			// Per-block activation data of block j, from lane j.
			int sb[TM];
			float ab[TM];
			for (uint t = 0; t < TM; t++) {
				sb[t] = BROADCAST ? subgroupShuffle(asum[t], j) :
					FMT != 1 ? int(texelFetch(suma, int(tok[t] * act_blocks + b)).x) : 0;
				ab[t] = !ACT_BLOCK ? 0.0 : BROADCAST ?
					subgroupShuffle(ascale[t], j) :
					uintBitsToFloat(texelFetch(sa, int(tok[t] * act_blocks + b)).x);
			}
			for (uint ri = 0; ri < RPI; ri++) {
				uint w[8];
				// Past the row's end (the last chunk's tail) read
				// its last block again: the last row's tail would
				// be past the buffer, and texel fetches out of
				// bounds are undefined without robustBufferAccess.
				// Its activations are 0: it adds nothing.
				const uint wt = wbase[ri] + min(b, blocks - 1u) * BLOCK_VEC4;
				const uvec4 v0 = texelFetch(qw, int(wt));
				w[0] = v0.x; w[1] = v0.y; w[2] = v0.z; w[3] = v0.w;
				if (FMT == 1) {
					const uvec4 v1 = texelFetch(qw, int(wt + 1u));
					w[4] = v1.x; w[5] = v1.y; w[6] = v1.z; w[7] = v1.w;
				}
				// The group's scale (and min) at its first block;
				// zero past the row's end.
				const uint g = gb == 0u ? 0u : b / gb;
				float d = 0.0, mn = 0.0;
				if (SCALES_VEC) {
					// position of group g in its texel
					const uint h = (c * (4u / gb) + j / gb) & 3u;
					d = valid ? qvk_half4(sv[ri], h) : 0.0;
					mn = FMT == 3 && valid ? qvk_half4(mv[ri], h) : 0.0;
				} else if (ACT_BLOCK || (gb != 0u && (j % gb) == gb - 1u)) {
					d = valid ? qvk_half(sw, sbase[ri] + g) : 0.0;
					mn = FMT == 3 && valid ? qvk_half(mw, sbase[ri] + g) : 0.0;
				}
#if !QVK_INTDOT
				// Weight fields depend only on the row: built once
				// for all tokens.
				int we[8], wo[8];
				for (uint i = 0; i < 4u; i++) {
					if (FMT == 1) {
						we[i] = qvk_even_fields(w[i]);
						wo[i] = qvk_odd_fields(w[i]);
						we[i + 4] = qvk_even_fields(w[i + 4]);
						wo[i + 4] = qvk_odd_fields(w[i + 4]);
					} else {
						// Codes 0..15: low nibbles pair with
						// words i, high ones with words 4 + i.
						we[i] = int(w[i] & 0x000f000fu);
						wo[i] = int((w[i] >> 8) & 0x000f000fu);
						we[i + 4] = int((w[i] >> 4) & 0x000f000fu);
						wo[i + 4] = int((w[i] >> 12) & 0x000f000fu);
					}
				}
#endif
				for (uint t = 0; t < TM; t++) {
					int bd = 0;
#if QVK_INTDOT
					for (uint i = 0; i < 4u; i++) {
						const uint a = qvk_act_word(am[t], ach[t], j, i);
						const uint a_hi = qvk_act_word(am[t], ach[t], j, i + 4u);
						if (FMT == 1)
							bd += qvk_sdot4(w[i], a) +
							      qvk_sdot4(w[i + 4], a_hi);
						else
							bd += qvk_sdot4(w[i] & 0x0f0f0f0fu, a) +
							      qvk_sdot4((w[i] >> 4) & 0x0f0f0f0fu, a_hi);
					}
#else
					int p = 0;
					for (uint i = 0; i < 8u; i++) {
						const uint c4 = i & 3u, src = 2u * j + (i >> 2);
						ivec2 f;
						if (BROADCAST)
							f = ivec2(subgroupShuffle(af[t][c4].x, src),
								  subgroupShuffle(af[t][c4].y, src));
						else
							f = qvk_act_fields(ach[t][src][c4]);
						if (FMT == 1) {
							bd += qvk_pair_dot(we[i], f.x) +
							      qvk_pair_dot(wo[i], f.y);
						} else {
							// Codes <= 15: four words' products and
							// cross terms stay below 2^15.
							p += we[i] * f.x + wo[i] * f.y;
							if ((i & 3u) == 3u) {
								bd += (p + 0x8000) >> 16;
								p = 0;
							}
						}
					}
#endif
					const uint o = t * RPI + ri;
					if (ACT_BLOCK) {
						// The block is the unit (Q4: weights q - 8).
						const int dot = FMT == 2 ? bd - 8 * sb[t] : bd;
						float tv = float(dot) * d;
						if (FMT == 3)
							tv = fma(float(sb[t]), mn, tv);
						acc[o] = fma(tv, ab[t], acc[o]);
						if (WRITE_DOTS && valid && row_first + ri < pc.n &&
						    t0 + t < pc.m)
							dots[((t0 + t) * pc.y_stride + pc.row0 +
							      row_first + ri) * blocks + b] = dot;
						continue;
					}
					gdot[o] += bd;
					if (ri == 0u)
						gsum[t] += sb[t];
					if (gb == 0u || (j % gb) != gb - 1u)
						continue;
					// The group ends with this block.
					const int dot = FMT == 2 ? gdot[o] - 8 * gsum[t] : gdot[o];
					float tv = float(dot) * d;
					if (FMT == 3)
						tv = fma(float(gsum[t]), mn, tv);
					acc[o] += tv;
					if (WRITE_DOTS && valid && row_first + ri < pc.n &&
					    t0 + t < pc.m)
						dots[((t0 + t) * pc.y_stride + pc.row0 +
						      row_first + ri) * pc.n_groups + g] = dot;
					gdot[o] = 0;
				}
			}
			if (!ACT_BLOCK && gb != 0u && (j % gb) == gb - 1u)
				for (uint t = 0; t < TM; t++)
					gsum[t] = 0;
		}
	}
	// One group per row: the whole row's dot, scaled once.
	if (!ACT_BLOCK && gb == 0u)
		for (uint ri = 0; ri < RPI; ri++) {
			const float d = qvk_half(sw, sbase[ri]);
			const float mn = FMT == 3 ? qvk_half(mw, sbase[ri]) : 0.0;
			for (uint t = 0; t < TM; t++) {
				const uint o = t * RPI + ri;
				const int dot = FMT == 2 ? gdot[o] - 8 * gsum[t] : gdot[o];
				float tv = float(dot) * d;
				if (FMT == 3)
					tv = fma(float(gsum[t]), mn, tv);
				acc[o] = tv;
				if (WRITE_DOTS && row_first + ri < pc.n && t0 + t < pc.m)
					dots[(t0 + t) * pc.y_stride + pc.row0 + row_first + ri] = dot;
			}
		}
	for (uint t = 0; t < TM; t++) {
		if (t0 + t >= pc.m)
			break;
		const float st = ACT_BLOCK ? 1.0 : uintBitsToFloat(texelFetch(sa, int(t0 + t)).x);
		for (uint ri = 0; ri < RPI; ri++) {
			const uint row = row_first + ri;
			if (row >= pc.n)
				break;
			const uint o = (t0 + t) * pc.y_stride + pc.row0 + row;
			const float v = acc[t * RPI + ri] * st;
			if (ACCUMULATE)
				y[o] += v;
			else
				y[o] = v;
		}
	}
}
