// SPDX-License-Identifier: MIT
// Grouped-query attention over the fp16 KV cache of one layer, for decode
// (m = 1) and for prefill (m tokens at positions p0 .. p0+m-1, causal).
// Token r of the step (position p = step_pos + r) attends positions 0..p:
//   s_t = (q · k_t) * scale,  a = softmax(s),  out = Σ_t a_t v_t
// q, out: (m, n_heads, head_dim) fp32; cache: [kv_head][max_seq][head_dim]
// fp16 pairs; q head h reads kv head h / (n_heads / n_kv_heads).
//
// One workgroup per (q head, token). Positions are taken CHUNK at a time
// (scores in shared memory, CHUNK from the device's shared-memory size) with
// the online softmax of Milakov & Gimelshein (2018): the running maximum is
// subtracted before exp and earlier sums and outputs are rescaled by
// exp(old max - new max), so nothing overflows and no score buffer in device
// memory is needed whatever the context length. Invocations own positions
// for the scores and pairs of output dimensions for the weighted sum of v.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "ops_common.glsl"
#include "ops_step.glsl"

layout(constant_id = 1) const uint CHUNK = 256;  // positions per round
layout(constant_id = 2) const uint MAX_HD = 256; // head_dim limit
layout(constant_id = 3) const uint WPT = 16;     // ceil(MAX_HD / 2 / WG)

layout(std430, binding = 1) readonly buffer Q { float q[]; };
layout(std430, binding = 2) readonly buffer Kc { uint kc[]; };
layout(std430, binding = 3) readonly buffer Vc { uint vc[]; };
layout(std430, binding = 4) writeonly buffer O { vec2 o[]; };

layout(push_constant) uniform Push {
	uint head_dim;
	uint n_heads;
	uint n_kv_heads;
	uint max_seq;
	float scale; // 1/sqrt(head_dim)
} pc;

shared float s_q[MAX_HD];
shared float s_p[CHUNK];

const float QVK_NEG_BIG = -3.0e38; // exp(QVK_NEG_BIG - m) == 0, no inf - inf

void main()
{
	uint h = gl_WorkGroupID.x, row = gl_WorkGroupID.y;
	uint tid = gl_LocalInvocationID.x;
	uint hw = pc.head_dim / 2u;
	uint kvh = h / (pc.n_heads / pc.n_kv_heads);
	uint n = min(step_pos + row + 1u, pc.max_seq);
	uint qbase = (row * pc.n_heads + h) * pc.head_dim;
	uint cbase = kvh * pc.max_seq * hw;
	float m_run = QVK_NEG_BIG, l_run = 0.0;
	vec2 acc[WPT];

	for (uint j = 0u; j < WPT; j++)
		acc[j] = vec2(0.0);
	for (uint d = tid; d < pc.head_dim; d += WG)
		s_q[d] = q[qbase + d];
	barrier(); // q is in shared memory

	for (uint c0 = 0u; c0 < n; c0 += CHUNK) {
		uint cn = min(CHUNK, n - c0);
		float lmax = QVK_NEG_BIG, lsum = 0.0;

		for (uint t = tid; t < cn; t += WG) {
			uint kb = cbase + (c0 + t) * hw;
			float s = 0.0;
			for (uint w = 0u; w < hw; w++) {
				vec2 kk = unpackHalf2x16(kc[kb + w]);
				s += s_q[2u * w] * kk.x + s_q[2u * w + 1u] * kk.y;
			}
			s *= pc.scale;
			s_p[t] = s;
			lmax = max(lmax, s);
		}
		float m_new = max(m_run, qvk_wg_max(lmax));
		float corr = exp(m_run - m_new);
		// Same positions per invocation as above: no barrier needed yet.
		for (uint t = tid; t < cn; t += WG) {
			float p = exp(s_p[t] - m_new);
			s_p[t] = p;
			lsum += p;
		}
		l_run = l_run * corr + qvk_wg_sum(lsum);
		barrier(); // every weight of the chunk is in shared memory
		for (uint j = 0u; j < WPT; j++) {
			uint w = tid + j * WG;
			if (w < hw) {
				vec2 a = acc[j] * corr;
				uint vb = cbase + c0 * hw + w;
				for (uint t = 0u; t < cn; t++)
					a += s_p[t] * unpackHalf2x16(vc[vb + t * hw]);
				acc[j] = a;
			}
		}
		m_run = m_new;
		barrier(); // all have read the weights before the next chunk
	}
	float inv = 1.0 / l_run;
	for (uint j = 0u; j < WPT; j++) {
		uint w = tid + j * WG;
		if (w < hw)
			o[qbase / 2u + w] = acc[j] * inv;
	}
}
