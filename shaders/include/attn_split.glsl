// SPDX-License-Identifier: MIT
// Split-KV decode attention (flash-decoding): the positions a token attends
// are cut into the P = gl_NumWorkGroups.z splits of its pass-1 grid, and a
// combine kernel merges their partial results. The grid is fixed when a
// decode command buffer is recorded, but the context grows every token, so
// the split length is computed here from the token's n positions: the
// smallest multiple of SPLIT_MIN (a push constant, a multiple of the
// kernel's position tile) with which P splits cover n. Short contexts then
// use few splits of SPLIT_MIN positions (the rest exit at once), long ones
// all P splits of equal length. MUST AGREE with qvk_ops_attn_split_len()
// in runtime/ops/ops.h.
//
// Partials, in the buffer the pass-1 kernel writes (fp32), for split s of
// query head h of token row r, ph = (r * n_heads + h) * P + s:
//   acc  [ph * head_dim + d]     sum over the split of exp(s_t - mx) v_t[d]
//   stats[ML0 + 2 ph + 0, 1]     mx (the split's largest score), and
//                                l = sum over the split of exp(s_t - mx)
// with ML0 = m * n_heads * P * head_dim. Only splits with positions are
// written (and read).
#ifndef QVK_ATTN_SPLIT_GLSL
#define QVK_ATTN_SPLIT_GLSL

uint qvk_split_len(uint n, uint splits, uint split_min)
{
	uint per = splits * split_min;

	return split_min * ((n + per - 1u) / per);
}

#endif
