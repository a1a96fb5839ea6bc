// SPDX-License-Identifier: MIT
// Writes the constants of act_layout.glsl and the rounding of a few values
// so that tests/check_ops.c can check them against runtime/ops/act_layout.h.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "act_layout.glsl"

layout(local_size_x = 1) in;

layout(std430, binding = 0) buffer Io { float t[16]; int r[16]; uint c[4]; };

void main()
{
	c[0] = QVK_ACT_K_ALIGN;
	c[1] = QVK_ACT_BLOCK;
	c[2] = floatBitsToUint(QVK_ACT_QMAX);
	for (uint i = 0u; i < 16u; i++)
		r[i] = qvk_act_round(t[i]);
}
