// SPDX-License-Identifier: MIT
// The device's arithmetic ceiling, the roofline prefill is measured against:
// every invocation runs CHAINS independent dependency chains in registers,
// so nothing but the arithmetic units limits it.
//   KIND 0: acc = sdot4(acc, b) + acc, the 4x8-bit dot product the integer
//     matmuls run (OpSDot, or the fallback variant's multiply-add); 8
//     operations a step, counted as a matmul counts 2·k per output.
//   KIND 1: x = fma(x, y, z) in fp32, what the float matmuls run; 2 a step.
// Each chain feeds its own result back as an operand, so no step can be
// hoisted or folded, and the result is written so none can be dropped.
#version 450
#extension GL_GOOGLE_include_directive : require
#include "sdot.glsl"

layout(local_size_x_id = 0) in;
layout(constant_id = 1) const uint KIND = 0;
const uint CHAINS = 8;

layout(std430, binding = 0) writeonly buffer Dst { uint dst[]; };

layout(push_constant) uniform Push {
	uint iters;
	uint seed;
} pc;

void main()
{
	const uint id = gl_GlobalInvocationID.x;
	uint r = 0u;
	if (KIND == 0u) {
		int acc[CHAINS];
		const uint b = pc.seed ^ (id * 0x9e3779b9u);
		for (uint c = 0u; c < CHAINS; c++)
			acc[c] = int(id * 31u + c);
		for (uint i = 0u; i < pc.iters; i++)
			for (uint c = 0u; c < CHAINS; c++)
				acc[c] = qvk_sdot4(uint(acc[c]), b) + acc[c];
		for (uint c = 0u; c < CHAINS; c++)
			r ^= uint(acc[c]);
	} else {
		float x[CHAINS];
		// y < 1 and z > 0: every chain converges to z / (1 - y), no
		// denormals, no overflow.
		const float y = 0.999f - float(pc.seed & 7u) * 1e-6f;
		const float z = 1e-3f;
		for (uint c = 0u; c < CHAINS; c++)
			x[c] = float(id & 255u) + float(c);
		for (uint i = 0u; i < pc.iters; i++)
			for (uint c = 0u; c < CHAINS; c++)
				x[c] = fma(x[c], y, z);
		for (uint c = 0u; c < CHAINS; c++)
			r ^= floatBitsToUint(x[c]);
	}
	dst[id] = r;
}
