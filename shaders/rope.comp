// SPDX-License-Identifier: MIT
// Rotary position embedding on q (m, n_heads, head_dim) and
// k (m, n_kv_heads, head_dim), in place. Token r of the step is at position
// step_pos + r. Only the first rot_dims = 2 * rot_half dimensions of a head
// rotate (partial rotary; the rest are left as they are). Pair i
// (0 <= i < rot_half) is rotated by pos * freq[i]: the host computes
// freq[i] = freq_scale * theta^(-2i/rot_dims) / factor[i] (Llama 3 and
// LongRoPE frequency factors) with the C library's powf, so the angle is
// the same float as in the C reference, and cos/sin are multiplied by
// mscale (LongRoPE's attention factor, else 1) as ggml's rope does.
// NEOX = false: pairs (2i, 2i+1) as llama2.c and llama.cpp's normal mode
// (Llama); NEOX = true: pairs (i, i + rot_half) (Qwen, Phi-3).
#version 450
#extension GL_GOOGLE_include_directive : require
#include "ops_step.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const bool NEOX = false;

layout(std430, binding = 1) readonly buffer F { float freq[]; }; // (rot_half)
layout(std430, binding = 2) buffer Q { float q[]; };
layout(std430, binding = 3) buffer K { float k[]; };

layout(push_constant) uniform Push {
	uint head_dim;
	uint n_heads;
	uint n_kv_heads;
	uint m;
	uint rot_half;
	float mscale;
} pc;

// Angles reach max_seq radians; GLSL's sin/cos are only specified on
// [-pi, pi]. Cody-Waite reduction with 2*pi = HI + LO, HI exact in 8 bits so
// n * HI is exact for n < 2^16; precise keeps the compiler from folding the
// two steps back into one.
const float QVK_TWO_PI_HI = 6.28125;
const float QVK_TWO_PI_LO = 1.9353071795864769e-3;
const float QVK_INV_TWO_PI = 0.15915494309189535;

void rotate(inout float v0, inout float v1, float angle)
{
	precise float n = floor(angle * QVK_INV_TWO_PI + 0.5);
	precise float r = (angle - n * QVK_TWO_PI_HI) - n * QVK_TWO_PI_LO;
	float c = cos(r) * pc.mscale, s = sin(r) * pc.mscale;
	float a = v0, b = v1;
	v0 = a * c - b * s;
	v1 = a * s + b * c;
}

void main()
{
	uint half_dim = pc.rot_half;
	uint per_token = (pc.n_heads + pc.n_kv_heads) * half_dim;
	// Two-dimensional grids: one dimension caps at 65535 workgroups.
	uint idx = gl_GlobalInvocationID.y * gl_NumWorkGroups.x * gl_WorkGroupSize.x +
		gl_GlobalInvocationID.x;
	if (idx >= per_token * pc.m)
		return;
	uint row = idx / per_token, rem = idx - row * per_token;
	uint head = rem / half_dim, i = rem - head * half_dim;
	float angle = float(step_pos + row) * freq[i];
	uint j0 = NEOX ? i : 2u * i;
	uint j1 = NEOX ? i + half_dim : 2u * i + 1u;

	if (head < pc.n_heads) {
		uint base = (row * pc.n_heads + head) * pc.head_dim;
		float v0 = q[base + j0], v1 = q[base + j1];
		rotate(v0, v1, angle);
		q[base + j0] = v0;
		q[base + j1] = v1;
	} else {
		uint base = (row * pc.n_kv_heads + head - pc.n_heads) * pc.head_dim;
		float v0 = k[base + j0], v1 = k[base + j1];
		rotate(v0, v1, angle);
		k[base + j0] = v0;
		k[base + j1] = v1;
	}
}
