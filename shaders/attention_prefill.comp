// SPDX-License-Identifier: MIT
// Causal attention for a batch of m tokens (prefill) with invocations on
// tokens, for CPU devices (runtime/ops picks it for m > 1 there; GPUs keep
// attention.comp, which covers prefill too). Same inputs, outputs and
// results as attention.comp (see there).
//
// Why: on lavapipe every buffer access costs one memory operation per
// lane, whatever the addresses. Here each subgroup owns SG consecutive
// tokens and walks the cache SG positions at a time: lane l loads one
// 16-byte word of position t0 + l and the subgroup passes it around with
// subgroupShuffle (register moves), so each cache word is loaded once per
// SG tokens instead of once per token. Every invocation keeps its token's
// q and output row in registers (HU = head_dim / 8 is a specialization
// constant, so the loops unroll and nothing spills to scratch memory).
// Online softmax as flash attention: per tile of SG positions the running
// maximum is subtracted before exp and the output and sum are rescaled by
// exp(old max - new max) once.
#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#include "ops_step.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 8;
layout(constant_id = 1) const uint HU = 8;  // head_dim / 8
layout(constant_id = 2) const uint SG = 8;  // the device's subgroup size

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
} pc;

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
	uint h = gl_WorkGroupID.x, lane = gl_SubgroupInvocationID;
	uint row0 = gl_WorkGroupID.y * WG + gl_SubgroupID * SG;
	if (row0 >= pc.m)
		return; // the whole subgroup
	uint row = row0 + lane;
	uint r = min(row, pc.m - 1u); // rows past m compute row m-1, unwritten
	uint my_pos = step_pos + r;
	uint n = min(step_pos + min(row0 + SG, pc.m), pc.max_seq);
	uint kvh = h / (pc.n_heads / pc.n_kv_heads);
	uint cbase = kvh * pc.max_seq * HU;
	uint qbase = (r * pc.n_heads + h) * pc.head_dim;
	vec4 qa[HU], qb[HU], aa[HU], ab[HU];
	float m_run = QVK_NEG_BIG, l_run = 0.0;

	if (gl_SubgroupSize != SG) { // not what the pipeline was built for
		if (row < pc.m)
			for (uint d = 0u; d < pc.head_dim; d++)
				o[qbase + d] = uintBitsToFloat(0x7fc00000u);
		return;
	}
	for (uint u = 0u; u < HU; u++) {
		uint b = qbase + 8u * u;
		qa[u] = vec4(q[b], q[b + 2u], q[b + 4u], q[b + 6u]);
		qb[u] = vec4(q[b + 1u], q[b + 3u], q[b + 5u], q[b + 7u]);
		aa[u] = vec4(0.0);
		ab[u] = vec4(0.0);
	}
	for (uint t0 = 0u; t0 < n; t0 += SG) {
		// This lane loads position t0 + lane; past n (only in the last
		// tile) it loads n - 1, which the mask below hides from everyone.
		uint tl = min(t0 + lane, n - 1u);
		float s[SG], p[SG];
		float tmax = QVK_NEG_BIG;

		for (uint j = 0u; j < SG; j++)
			s[j] = 0.0;
		for (uint u = 0u; u < HU; u++) {
			vec4 ka, kb;
			qvk_k8(cbase + tl * HU + u, ka, kb);
			for (uint j = 0u; j < SG; j++)
				s[j] += dot(qa[u], subgroupShuffle(ka, j)) +
					dot(qb[u], subgroupShuffle(kb, j));
		}
		for (uint j = 0u; j < SG; j++) {
			s[j] = t0 + j <= my_pos ? s[j] * pc.scale : QVK_NEG_BIG;
			tmax = max(tmax, s[j]);
		}
		// Position 0 is in the first tile and visible to every token, so
		// m_run is a real score from then on.
		float m_new = max(m_run, tmax);
		float corr = exp(m_run - m_new);
		l_run *= corr;
		for (uint j = 0u; j < SG; j++) {
			p[j] = t0 + j <= my_pos ? exp(s[j] - m_new) : 0.0;
			l_run += p[j];
		}
		for (uint u = 0u; u < HU; u++) {
			vec4 va, vb, a = aa[u] * corr, b = ab[u] * corr;
			qvk_v8(cbase + tl * HU + u, va, vb);
			for (uint j = 0u; j < SG; j++) {
				a += p[j] * subgroupShuffle(va, j);
				b += p[j] * subgroupShuffle(vb, j);
			}
			aa[u] = a;
			ab[u] = b;
		}
		m_run = m_new;
	}
	if (row >= pc.m)
		return;
	float inv = 1.0 / l_run;
	for (uint u = 0u; u < HU; u++) {
		uint b = qbase + 8u * u;
		vec4 a = aa[u] * inv, c = ab[u] * inv;
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
