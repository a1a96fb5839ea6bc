// SPDX-License-Identifier: MIT
// Embedding lookup: out row r = table row step_tokens[r], fp32 or fp16
// table, fp32 out (m, dim). The table may exceed maxStorageBufferRange, so
// it comes as up to 8 bound pieces of rows_per_piece whole rows each.
// A token id past n_vocab (the host refuses those) gives a NaN row rather
// than a read out of bounds, so the mistake shows in the logits.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "ops_step.glsl"
#include "fp16.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 64;
layout(constant_id = 1) const bool F16 = false;

layout(std430, binding = 1) writeonly buffer O { float o[]; };
layout(std430, binding = 2) readonly buffer T0 { uint t0[]; };
layout(std430, binding = 3) readonly buffer T1 { uint t1[]; };
layout(std430, binding = 4) readonly buffer T2 { uint t2[]; };
layout(std430, binding = 5) readonly buffer T3 { uint t3[]; };
layout(std430, binding = 6) readonly buffer T4 { uint t4[]; };
layout(std430, binding = 7) readonly buffer T5 { uint t5[]; };
layout(std430, binding = 8) readonly buffer T6 { uint t6[]; };
layout(std430, binding = 9) readonly buffer T7 { uint t7[]; };

layout(push_constant) uniform Push {
	uint dim;
	uint n_vocab;
	uint rows_per_piece;
} pc;

uint word_at(uint piece, uint i)
{
	switch (piece) {
	case 0u: return t0[i];
	case 1u: return t1[i];
	case 2u: return t2[i];
	case 3u: return t3[i];
	case 4u: return t4[i];
	case 5u: return t5[i];
	case 6u: return t6[i];
	default: return t7[i];
	}
}

void main()
{
	uint row = gl_WorkGroupID.x;
	uint tok = step_tokens[row];
	uint piece = tok / pc.rows_per_piece;
	uint first = (tok - piece * pc.rows_per_piece) * pc.dim; // in the piece

	for (uint k = gl_LocalInvocationID.x; k < pc.dim; k += WG) {
		float v;
		if (tok >= pc.n_vocab) {
			v = uintBitsToFloat(0x7fc00000u);
		} else if (F16) {
			uint e = first + k;
			v = qvk_unpack_half2x16(word_at(piece, e / 2u) >> (16u * (e & 1u))).x;
		} else {
			v = uintBitsToFloat(word_at(piece, first + k));
		}
		o[row * pc.dim + k] = v;
	}
}
