// SPDX-License-Identifier: MIT
// Causal attention for a batch of m tokens (prefill), tiled for GPUs in
// the manner of FlashAttention-2 (Dao 2023). Same inputs, outputs and
// results as attention.comp (see there); runtime/ops/attn_tiled.c picks
// the tiles and binds it where this device measured it fastest.
//
// Why: attention.comp runs one workgroup per (kv head, token), so a
// prefill of m tokens reads the whole cache m times. Here one workgroup
// owns BR consecutive tokens of GQ query heads that share one kv head
// (QR = BR * GQ query rows) and walks the cache BC positions at a time:
// each tile of keys and values is read from device memory once, widened
// to fp32 once, and kept in shared memory for all QR rows. Grouping the
// heads of one kv head (grouped-query attention) multiplies that reuse by
// GQ at no extra cost: the rows of a kv head's heads read the same tile.
//
// Per tile, with TPR invocations per query row:
//   1. all invocations load K and V[k0 .. k0+BC) into shared memory;
//   2. invocation (row, lane) scores positions lane, lane+TPR, ... of the
//      tile against the row's q (in shared memory), masked causally
//      (position k0 + c visible to token t iff k0 + c <= step_pos + t);
//   3. each reads its row's BC scores (broadcast reads), takes the tile
//      maximum, rescales its output slice and partial sum by
//      exp(old max - new max) once (online softmax), turns its own scores
//      into weights in place;
//   4. each adds the weighted values into its HD4 / TPR vec4s of the
//      row's output (vec4 lane, lane + TPR, ...: neighbouring lanes read
//      neighbouring words of the V tile), held in registers.
// Rows past m compute row m - 1 and are not written.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "ops_step.glsl"
#include "fp16.glsl" // not unpackHalf2x16: see fp16.glsl

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 64;  // BR * GQ * TPR
layout(constant_id = 1) const uint HD4 = 16; // head_dim / 4
layout(constant_id = 2) const uint BR = 8;   // tokens per workgroup
layout(constant_id = 3) const uint GQ = 1;   // query heads (one kv head's)
layout(constant_id = 4) const uint BC = 32;  // positions per tile
layout(constant_id = 5) const uint TPR = 8;  // invocations per row; divides HD4

layout(std430, binding = 1) readonly buffer Q { vec4 q[]; };
layout(std430, binding = 2) readonly buffer Kc { uvec2 kc[]; };
layout(std430, binding = 3) readonly buffer Vc { uvec2 vc[]; };
layout(std430, binding = 4) writeonly buffer O { vec4 o[]; };

layout(push_constant) uniform Push {
	uint head_dim;
	uint n_heads;
	uint n_kv_heads;
	uint max_seq;
	float scale; // 1/sqrt(head_dim)
	uint m;
	uint kv_f32; // the cache holds fp32 (two uvec2 per 4 elements), not fp16
} pc;

const uint QR = BR * GQ;
const uint DPT = HD4 / TPR;   // vec4s of the output per invocation
const uint KS = HD4 + 1u;     // tile row stride in vec4: one of padding
                              // spreads the rows of a tile over banks
const float QVK_NEG_BIG = -3.0e38; // exp(QVK_NEG_BIG - m) == 0, no inf - inf

shared vec4 s_q[QR * HD4];
shared vec4 s_k[BC * KS];
shared vec4 s_v[BC * KS];
shared float s_p[QR * BC]; // scores, then weights; at the end, sums

// Elements 4x..4x+3 of the K or V cache, whichever precision it holds.
vec4 qvk_k4(uint x)
{
	if (pc.kv_f32 != 0u)
		return uintBitsToFloat(uvec4(kc[2u * x], kc[2u * x + 1u]));
	uvec2 w = kc[x];
	return vec4(qvk_unpack_half2x16(w.x), qvk_unpack_half2x16(w.y));
}

vec4 qvk_v4(uint x)
{
	if (pc.kv_f32 != 0u)
		return uintBitsToFloat(uvec4(vc[2u * x], vc[2u * x + 1u]));
	uvec2 w = vc[x];
	return vec4(qvk_unpack_half2x16(w.x), qvk_unpack_half2x16(w.y));
}

void main()
{
	uint tid = gl_LocalInvocationID.x;
	uint row = tid / TPR, lane = tid - row * TPR;
	uint g = row / BR, t = row - g * BR; // head of the group, token
	uint tok0 = gl_WorkGroupID.y * BR;
	uint G = pc.n_heads / pc.n_kv_heads;
	uint head0 = gl_WorkGroupID.x * GQ; // GQ divides G: one kv head
	uint kvh = head0 / G;
	uint tok = min(tok0 + t, pc.m - 1u);
	uint my_pos = step_pos + tok;
	// Positions any row of the workgroup sees: 0 .. n-1.
	uint n = min(step_pos + min(tok0 + BR, pc.m), pc.max_seq);
	uint cbase = kvh * pc.max_seq * HD4;
	vec4 acc[DPT];
	float m_run = QVK_NEG_BIG, l_part = 0.0;

	for (uint j = 0u; j < DPT; j++)
		acc[j] = vec4(0.0);
	for (uint i = tid; i < QR * HD4; i += WG) {
		uint r = i / HD4, u = i - r * HD4;
		uint rg = r / BR, rt = min(tok0 + r - rg * BR, pc.m - 1u);
		s_q[i] = q[(rt * pc.n_heads + head0 + rg) * HD4 + u] * pc.scale;
	}
	for (uint k0 = 0u; k0 < n; k0 += BC) {
		uint cn = min(BC, n - k0);

		barrier(); // the previous tile is no longer read
		for (uint i = tid; i < cn * HD4; i += WG) {
			uint c = i / HD4, u = i - c * HD4;
			uint x = cbase + (k0 + c) * HD4 + u;
			s_k[c * KS + u] = qvk_k4(x);
			s_v[c * KS + u] = qvk_v4(x);
		}
		barrier(); // the tile (and at first, q) is in shared memory
		for (uint c = lane; c < BC; c += TPR) {
			float s = QVK_NEG_BIG;
			if (c < cn && k0 + c <= my_pos) {
				s = 0.0;
				for (uint u = 0u; u < HD4; u++)
					s += dot(s_q[row * HD4 + u], s_k[c * KS + u]);
			}
			s_p[row * BC + c] = s;
		}
		barrier(); // the row's scores are all written
		float tmax = QVK_NEG_BIG;
		for (uint c = 0u; c < cn; c++)
			tmax = max(tmax, s_p[row * BC + c]);
		// Position 0 is in the first tile and visible to every row, so
		// m_run is a real score from then on and masked scores give 0.
		float m_new = max(m_run, tmax);
		float corr = exp(m_run - m_new);
		m_run = m_new;
		l_part *= corr;
		for (uint j = 0u; j < DPT; j++)
			acc[j] *= corr;
		barrier(); // every invocation of the row has read the scores
		for (uint c = lane; c < BC; c += TPR) {
			float s = s_p[row * BC + c];
			float p = s > QVK_NEG_BIG ? exp(s - m_new) : 0.0;
			s_p[row * BC + c] = p;
			l_part += p;
		}
		barrier(); // the row's weights are all written
		for (uint c = 0u; c < cn; c++) {
			float p = s_p[row * BC + c];
			for (uint j = 0u; j < DPT; j++)
				acc[j] += p * s_v[c * KS + lane + j * TPR];
		}
	}
	barrier(); // done with s_p's weights: it holds the partial sums now
	s_p[row * BC + lane] = l_part; // TPR <= BC (attn_tiled.c)
	barrier();
	float l = 0.0;
	for (uint i = 0u; i < TPR; i++)
		l += s_p[row * BC + i];
	if (tok0 + t >= pc.m)
		return;
	uint ob = ((tok0 + t) * pc.n_heads + head0 + g) * HD4 + lane;
	for (uint j = 0u; j < DPT; j++)
		o[ob + j * TPR] = acc[j] / l;
}
