// SPDX-License-Identifier: MIT
// Decode attention (one token per row of the step) for CPU devices, where
// every buffer or shared-memory access costs one memory operation per
// lane: a subgroup-only flash-decoding kernel with no shared memory.
// runtime/ops picks it on CPU devices; GPUs keep attention.comp. Same
// inputs, outputs and results as attention.comp (see there).
//
// One workgroup (= one subgroup of SG lanes) per (kv head, token); the
// kv head's G query heads are handled GMAX at a time, their q in registers
// (HU = head_dim / 8 and GMAX are specialization constants, so every loop
// unrolls and the arrays stay out of scratch memory). Positions go SG at a
// time: lane l computes the scores of position t0 + l (its own key row),
// the tile's maximum and sum come from subgroupMax/subgroupAdd (online
// softmax: earlier sums and outputs rescaled by exp(old max - new max)),
// then lanes switch to owning 8-dimension slices of the output and take
// each position's weight from its lane with subgroupShuffle. Every cache
// word is loaded exactly once per pass.
//
// SPLIT (flash-decoding, attn_split.glsl): the grid's z is the split of
// the positions; each workgroup covers one split and writes its unscaled
// partials (output sum, maximum, sum of weights) for attention_combine.comp
// to merge, in the buffer bound as O.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#include "ops_step.glsl"
#include "attn_split.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 8;  // == SG
layout(constant_id = 1) const uint HU = 8;  // head_dim / 8
layout(constant_id = 2) const uint GMAX = 1; // query heads per pass
layout(constant_id = 3) const uint SG = 8;  // the device's subgroup size
layout(constant_id = 4) const bool SPLIT = false; // write split partials

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
	uint split_min; // SPLIT: positions per split at least, a multiple of SG
} pc;

const uint UPT = (HU + SG - 1u) / SG; // output slices per lane
const float QVK_NEG_BIG = -3.0e38;

// As attention.comp: 8 fp16 -> even (a) and odd (b) elements.
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
	uint lane = gl_SubgroupInvocationID;
	uint G = pc.n_heads / pc.n_kv_heads;
	uint n = min(step_pos + row + 1u, pc.max_seq);
	uint cbase = kvh * pc.max_seq * HU;
	// Positions [lo, hi) of this workgroup: all of them, or one split.
	uint lo = 0u, hi = n;
	uint P = gl_NumWorkGroups.z, split = gl_WorkGroupID.z;
	uint ml0 = pc.m * pc.n_heads * P * pc.head_dim;

	if (SPLIT) {
		uint len = qvk_split_len(n, P, pc.split_min);

		lo = min(split * len, n);
		hi = min(lo + len, n);
		if (lo == hi)
			return; // past the context: the combine skips this split
	}
	if (gl_SubgroupSize != SG || gl_NumSubgroups != 1u) {
		// Not what the pipeline was built for: a visible NaN.
		for (uint i = lane; i < G * pc.head_dim; i += gl_SubgroupSize) {
			uint h = kvh * G + i / pc.head_dim;
			uint d = i - (i / pc.head_dim) * pc.head_dim;
			uint ph = (row * pc.n_heads + h) * P + split;

			o[SPLIT ? ph * pc.head_dim + d :
				  (row * pc.n_heads + h) * pc.head_dim + d] =
				uintBitsToFloat(0x7fc00000u);
			if (SPLIT && d == 0u)
				o[ml0 + 2u * ph] = uintBitsToFloat(0x7fc00000u);
		}
		return;
	}
	for (uint g0 = 0u; g0 < G; g0 += GMAX) {
		uint head0 = kvh * G + g0;
		vec4 qa[GMAX * HU], qb[GMAX * HU];
		vec4 acc_a[GMAX * UPT], acc_b[GMAX * UPT];
		float m_run[GMAX], l_run[GMAX];

		for (uint g = 0u; g < GMAX; g++) {
			uint qbase = (row * pc.n_heads + head0 + g) * pc.head_dim;
			for (uint u = 0u; u < HU; u++) {
				uint b = qbase + 8u * u;
				qa[g * HU + u] = vec4(q[b], q[b + 2u], q[b + 4u], q[b + 6u]);
				qb[g * HU + u] = vec4(q[b + 1u], q[b + 3u], q[b + 5u], q[b + 7u]);
			}
			for (uint k = 0u; k < UPT; k++) {
				acc_a[g * UPT + k] = vec4(0.0);
				acc_b[g * UPT + k] = vec4(0.0);
			}
			m_run[g] = QVK_NEG_BIG;
			l_run[g] = 0.0;
		}
		for (uint t0 = lo; t0 < hi; t0 += SG) {
			bool valid = t0 + lane < hi;
			uint tl = min(t0 + lane, hi - 1u);
			float s[GMAX], p[GMAX];

			for (uint g = 0u; g < GMAX; g++)
				s[g] = 0.0;
			for (uint u = 0u; u < HU; u++) {
				vec4 ka, kb;
				qvk_k8(cbase + tl * HU + u, ka, kb);
				for (uint g = 0u; g < GMAX; g++)
					s[g] += dot(qa[g * HU + u], ka) + dot(qb[g * HU + u], kb);
			}
			for (uint g = 0u; g < GMAX; g++) {
				float sg = valid ? s[g] * pc.scale : QVK_NEG_BIG;
				float m_new = max(m_run[g], subgroupMax(sg));
				float corr = exp(m_run[g] - m_new);
				p[g] = valid ? exp(sg - m_new) : 0.0;
				l_run[g] = l_run[g] * corr + subgroupAdd(p[g]);
				m_run[g] = m_new;
				for (uint k = 0u; k < UPT; k++) {
					acc_a[g * UPT + k] *= corr;
					acc_b[g * UPT + k] *= corr;
				}
			}
			uint tn = min(SG, hi - t0);
			for (uint j = 0u; j < SG; j++) {
				if (j >= tn)
					break; // uniform: the last tile only
				float pj[GMAX];
				for (uint g = 0u; g < GMAX; g++)
					pj[g] = subgroupShuffle(p[g], j);
				for (uint k = 0u; k < UPT; k++) {
					uint u = lane + k * SG;
					if (u < HU) {
						vec4 va, vb;
						qvk_v8(cbase + (t0 + j) * HU + u, va, vb);
						for (uint g = 0u; g < GMAX; g++) {
							acc_a[g * UPT + k] += pj[g] * va;
							acc_b[g * UPT + k] += pj[g] * vb;
						}
					}
				}
			}
		}
		for (uint g = 0u; g < GMAX; g++) {
			uint qbase = (row * pc.n_heads + head0 + g) * pc.head_dim;
			float inv = 1.0 / l_run[g];

			if (SPLIT) {
				// Unscaled: the combine rescales by exp(mx - max).
				uint ph = (row * pc.n_heads + head0 + g) * P + split;

				qbase = ph * pc.head_dim;
				inv = 1.0;
				if (lane == 0u) {
					o[ml0 + 2u * ph] = m_run[g];
					o[ml0 + 2u * ph + 1u] = l_run[g];
				}
			}
			for (uint k = 0u; k < UPT; k++) {
				uint u = lane + k * SG;
				if (u < HU) {
					uint b = qbase + 8u * u;
					vec4 a = acc_a[g * UPT + k] * inv;
					vec4 c = acc_b[g * UPT + k] * inv;
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
}
