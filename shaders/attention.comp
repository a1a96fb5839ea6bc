// SPDX-License-Identifier: MIT
// Grouped-query attention over the fp16 KV cache of one layer, for decode
// (m = 1) and for prefill (m tokens at positions p0 .. p0+m-1, causal).
// Token r of the step (position p = step_pos + r) attends positions 0..p:
//   s_t = (q · k_t) * scale,  a = softmax(s),  out = Σ_t a_t v_t
// q, out: (m, n_heads, head_dim) fp32; cache: [kv_head][max_seq][head_dim]
// fp16; q head h reads kv head h / G, G = n_heads / n_kv_heads.
//
// One workgroup per (kv head, token): the G query heads that share a kv
// head are handled together, GMAX at a time, so each key and value is
// loaded and widened once for up to GMAX heads instead of once per head.
// Positions are taken CHUNK at a time (scores in shared memory, CHUNK from
// the device's shared-memory size) with the online softmax of Milakov &
// Gimelshein (2018): the running maximum is subtracted before exp and
// earlier sums and outputs are rescaled by exp(old max - new max), so
// nothing overflows and no score buffer in device memory is needed at any
// context length. For the scores invocations own positions; for the
// weighted sum of v they own 8-dimension slices (one uvec4 of fp16).
// head_dim is a multiple of 8, so every cache row is uvec4-aligned.
//
// SPLIT (flash-decoding, attn_split.glsl): the grid's z is the split of
// the positions; each workgroup covers one split and writes its unscaled
// partials (output sum, maximum, sum of weights) for attention_combine.comp
// to merge, in the buffer bound as O. A long context then occupies
// n_kv_heads * m * P workgroups instead of n_kv_heads * m.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "ops_common.glsl"
#include "ops_step.glsl"
#include "attn_split.glsl"

layout(constant_id = 1) const uint CHUNK = 256;  // positions per round
layout(constant_id = 2) const uint MAX_HD = 256; // head_dim limit
layout(constant_id = 3) const uint UPT = 4;      // ceil(MAX_HD / 8 / WG)
layout(constant_id = 4) const uint GMAX = 4;     // query heads per pass
layout(constant_id = 5) const bool SPLIT = false; // write split partials

layout(std430, binding = 1) readonly buffer Q { float q[]; };
layout(std430, binding = 2) readonly buffer Kc { uvec4 kc[]; };
layout(std430, binding = 3) readonly buffer Vc { uvec4 vc[]; };
layout(std430, binding = 4) writeonly buffer O { float o[]; };

layout(push_constant) uniform Push {
	uint head_dim;
	uint n_heads;
	uint n_kv_heads;
	uint max_seq;
	float scale; // 1/sqrt(head_dim)
	uint m;
	uint kv_f32; // the cache holds fp32 (two uvec4 per 8 elements), not fp16
	uint split_min; // SPLIT: positions per split at least, a multiple of WG
} pc;

const uint MAX_HU = MAX_HD / 8u;
// q of the pass's heads, even elements (a) and odd elements (b) of each
// 8-slice, matching the halves of a cache uvec4.
shared vec4 s_qa[GMAX * MAX_HU];
shared vec4 s_qb[GMAX * MAX_HU];
shared float s_p[GMAX * CHUNK];

const float QVK_NEG_BIG = -3.0e38; // exp(QVK_NEG_BIG - m) == 0, no inf - inf

// Widen 8 fp16 (one uvec4, element 2i in the low half of word i):
// a = elements 0, 2, 4, 6 and b = 1, 3, 5, 7. The half's exponent and
// mantissa go to the top of a float's and a multiply by 2^112 rebiases the
// exponent: exact for every finite half (subnormal halves become fp32
// subnormals first, which a device may flush: an error under 6.1e-5), and
// cheaper than unpackHalf2x16 on CPU devices. fp16 inf/NaN (|x| > 65504
// written to the cache) come out as large finite values.
void qvk_widen8(uvec4 w, out vec4 a, out vec4 b)
{
	a = uintBitsToFloat(((w & 0x7fffu) << 13) | ((w & 0x8000u) << 16)) *
	    5.192296858534828e33;
	b = uintBitsToFloat(((w >> 3) & 0x0fffe000u) | (w & 0x80000000u)) *
	    5.192296858534828e33;
}

// Elements 8x..8x+7 of the K or V cache, whichever precision it holds.
void qvk_k8(uint x, out vec4 a, out vec4 b)
{
	if (pc.kv_f32 != 0u) {
		// As qvk_widen8: a = even elements, b = odd ones.
		vec4 lo = uintBitsToFloat(kc[2u * x]);
		vec4 hi = uintBitsToFloat(kc[2u * x + 1u]);
		a = vec4(lo.x, lo.z, hi.x, hi.z);
		b = vec4(lo.y, lo.w, hi.y, hi.w);
	} else {
		qvk_widen8(kc[x], a, b);
	}
}

void qvk_v8(uint x, out vec4 a, out vec4 b)
{
	if (pc.kv_f32 != 0u) {
		// As qvk_widen8: a = even elements, b = odd ones.
		vec4 lo = uintBitsToFloat(vc[2u * x]);
		vec4 hi = uintBitsToFloat(vc[2u * x + 1u]);
		a = vec4(lo.x, lo.z, hi.x, hi.z);
		b = vec4(lo.y, lo.w, hi.y, hi.w);
	} else {
		qvk_widen8(vc[x], a, b);
	}
}

void main()
{
	uint kvh = gl_WorkGroupID.x, row = gl_WorkGroupID.y;
	uint tid = gl_LocalInvocationID.x;
	uint hu = pc.head_dim / 8u;
	uint G = pc.n_heads / pc.n_kv_heads;
	uint n = min(step_pos + row + 1u, pc.max_seq);
	uint cbase = kvh * pc.max_seq * hu;
	// Positions [lo, hi) of this workgroup: all of them, or one split.
	uint lo = 0u, hi = n;
	uint P = gl_NumWorkGroups.z, split = gl_WorkGroupID.z;

	if (SPLIT) {
		uint len = qvk_split_len(n, P, pc.split_min);

		lo = min(split * len, n);
		hi = min(lo + len, n);
		if (lo == hi)
			return; // past the context (uniform): the combine skips it
	}

	for (uint g0 = 0u; g0 < G; g0 += GMAX) {
		uint gn = min(GMAX, G - g0);
		uint head0 = kvh * G + g0;
		float m_run[GMAX], l_run[GMAX], corr[GMAX];
		vec4 acc_a[GMAX * UPT], acc_b[GMAX * UPT];

		for (uint g = 0u; g < GMAX; g++) {
			m_run[g] = QVK_NEG_BIG;
			l_run[g] = 0.0;
			corr[g] = 1.0; // stays 1 for the unused g >= gn
			for (uint j = 0u; j < UPT; j++) {
				acc_a[g * UPT + j] = vec4(0.0);
				acc_b[g * UPT + j] = vec4(0.0);
			}
		}
		barrier(); // the previous pass has finished with s_qa/s_qb
		for (uint i = tid; i < gn * hu; i += WG) {
			uint g = i / hu, u = i - g * hu;
			uint b = (row * pc.n_heads + head0 + g) * pc.head_dim + 8u * u;
			s_qa[g * MAX_HU + u] = vec4(q[b], q[b + 2u], q[b + 4u], q[b + 6u]);
			s_qb[g * MAX_HU + u] = vec4(q[b + 1u], q[b + 3u], q[b + 5u], q[b + 7u]);
		}
		barrier(); // q is in shared memory

		for (uint c0 = lo; c0 < hi; c0 += CHUNK) {
			uint cn = min(CHUNK, hi - c0);
			float lmax[GMAX], lsum[GMAX];

			for (uint g = 0u; g < GMAX; g++) {
				lmax[g] = QVK_NEG_BIG;
				lsum[g] = 0.0;
			}
			for (uint t = tid; t < cn; t += WG) {
				uint kb = cbase + (c0 + t) * hu;
				float s[GMAX];

				for (uint g = 0u; g < GMAX; g++)
					s[g] = 0.0;
				for (uint u = 0u; u < hu; u++) {
					vec4 ka, kb2;
					qvk_k8(kb + u, ka, kb2);
					for (uint g = 0u; g < GMAX; g++)
						if (g < gn)
							s[g] += dot(s_qa[g * MAX_HU + u], ka) +
								dot(s_qb[g * MAX_HU + u], kb2);
				}
				for (uint g = 0u; g < GMAX; g++) {
					if (g < gn) {
						s[g] *= pc.scale;
						s_p[g * CHUNK + t] = s[g];
						lmax[g] = max(lmax[g], s[g]);
					}
				}
			}
			for (uint g = 0u; g < GMAX; g++) {
				if (g < gn) {
					float m_new = max(m_run[g], qvk_wg_max(lmax[g]));
					corr[g] = exp(m_run[g] - m_new);
					m_run[g] = m_new;
				}
			}
			// Same positions per invocation as above: no barrier yet.
			for (uint t = tid; t < cn; t += WG) {
				for (uint g = 0u; g < GMAX; g++) {
					if (g < gn) {
						float p = exp(s_p[g * CHUNK + t] - m_run[g]);
						s_p[g * CHUNK + t] = p;
						lsum[g] += p;
					}
				}
			}
			for (uint g = 0u; g < GMAX; g++)
				if (g < gn)
					l_run[g] = l_run[g] * corr[g] + qvk_wg_sum(lsum[g]);
			barrier(); // every weight of the chunk is in shared memory
			for (uint j = 0u; j < UPT; j++) {
				uint u = tid + j * WG;
				if (u >= hu)
					continue;
				for (uint g = 0u; g < GMAX; g++) {
					acc_a[g * UPT + j] *= corr[g];
					acc_b[g * UPT + j] *= corr[g];
				}
				uint vb = cbase + c0 * hu + u;
				for (uint t = 0u; t < cn; t++) {
					vec4 va, vb2;
					qvk_v8(vb + t * hu, va, vb2);
					for (uint g = 0u; g < GMAX; g++) {
						if (g < gn) {
							float p = s_p[g * CHUNK + t];
							acc_a[g * UPT + j] += p * va;
							acc_b[g * UPT + j] += p * vb2;
						}
					}
				}
			}
			barrier(); // all have read the weights before the next chunk
		}
		for (uint j = 0u; j < UPT; j++) {
			uint u = tid + j * WG;
			if (u >= hu)
				continue;
			for (uint g = 0u; g < gn; g++) {
				uint b = (row * pc.n_heads + head0 + g) * pc.head_dim + 8u * u;
				float l = l_run[g];

				if (SPLIT) {
					// Unscaled: the combine rescales by exp(mx - max).
					uint ph = (row * pc.n_heads + head0 + g) * P + split;
					uint ml0 = pc.m * pc.n_heads * P * pc.head_dim;

					b = ph * pc.head_dim + 8u * u;
					l = 1.0;
					if (u == 0u) {
						o[ml0 + 2u * ph] = m_run[g];
						o[ml0 + 2u * ph + 1u] = l_run[g];
					}
				}
				vec4 a = acc_a[g * UPT + j] / l;
				vec4 c = acc_b[g * UPT + j] / l;
				o[b] = a.x;
				o[b + 1u] = c.x;
				o[b + 2u] = a.y;
				o[b + 3u] = c.y;
				o[b + 4u] = a.z;
				o[b + 5u] = c.z;
				o[b + 6u] = a.w;
				o[b + 7u] = c.w;
			}
		}
	}
}
