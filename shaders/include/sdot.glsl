// SPDX-License-Identifier: MIT
// Signed 4x8-bit packed integer dot product, shared by every integer kernel.
//
// glslang 12 (Debian bookworm) has no GL_EXT_integer_dot_product, so the
// _intdot variant emits SPV_KHR_integer_dot_product's OpSDot (opcode 4450)
// directly through GL_EXT_spirv_intrinsics, with capabilities
// DotProductKHR (6019) and DotProductInput4x8BitPackedKHR (6018); the last
// operand is PackedVectorFormat4x8Bit (0). The device needs
// shaderIntegerDotProduct. The _fallback variant (QVK_INTDOT=0) computes
// the same value with shifts and multiply-adds for devices without it.
//
// Packing (little-endian, as in the C layout headers): lane i of a uint is
// bits [8i, 8i+8), a two's-complement int8.
#ifndef QVK_SDOT_GLSL
#define QVK_SDOT_GLSL

#if QVK_INTDOT
#extension GL_EXT_spirv_intrinsics : require
spirv_instruction(extensions = ["SPV_KHR_integer_dot_product"],
                  capabilities = [6019, 6018], id = 4450)
int qvk_spv_sdot(uint a, uint b, spirv_literal int packed_format);

int qvk_sdot4(uint a, uint b)
{
	return qvk_spv_sdot(a, b, 0);
}
#else
int qvk_sdot4(uint a, uint b)
{
	// Arithmetic shifts sign-extend each byte lane.
	ivec4 va = ivec4(int(a << 24), int(a << 16), int(a << 8), int(a)) >> 24;
	ivec4 vb = ivec4(int(b << 24), int(b << 16), int(b << 8), int(b)) >> 24;
	return va.x * vb.x + va.y * vb.y + va.z * vb.z + va.w * vb.w;
}
#endif

#endif
