// SPDX-License-Identifier: MIT
// The step buffer: what changes from one token to the next. Decode replays
// one pre-recorded command buffer per token, so push constants (frozen at
// record time) cannot carry the position or the token id; the host writes
// this buffer before each submit. MUST AGREE with struct qvk_ops_step in
// runtime/ops/ops.h.
#ifndef QVK_OPS_STEP_GLSL
#define QVK_OPS_STEP_GLSL

layout(std430, binding = 0) readonly buffer Step {
	uint step_pos;         // position of the step's first token (p0)
	uint step_reserved[3];
	uint step_tokens[];    // token ids of the step's m tokens
};

#endif
