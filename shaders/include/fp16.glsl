// SPDX-License-Identifier: MIT
// fp16 -> fp32 with integer operations: qvk_unpack_half2x16 is a drop-in
// for GLSL's unpackHalf2x16 and gives, for every one of the 65536 halves,
// the bits of qvk_fp16_to_f32 (include/qvk/fp16.h): subnormals exact,
// +-0, +-inf, NaN with its sign and payload. tests/check_fp16.c runs all
// of them through shaders/fp16_test.comp and compares the bits.
//
// Why not unpackHalf2x16: Mesa 22.3's lavapipe with LLVM 15 on aarch64
// (Debian bookworm's arm64 mesa-vulkan-drivers) aborts while compiling it
// in the vectorised form every fp16 scale and weight read takes ("LLVM
// ERROR: Cannot select: v4f32 = truncate ...": its AArch64 backend cannot
// select the f16 conversion). Integer operations and a uint-to-float
// conversion compile everywhere. Unlike attention's qvk_widen8 (a
// multiply by 2^112), no fp32 subnormal appears on the way, so a device
// that flushes denormals still gets fp16 subnormals right.
#ifndef QVK_FP16_GLSL
#define QVK_FP16_GLSL

const float QVK_F16_SUBNORMAL_ULP = 5.9604644775390625e-8; // 2^-24, exact

// The halves in bits 0-15 of each component (bits 16-31 are ignored).
vec2 qvk_f16_to_f32(uvec2 h)
{
	const uvec2 em = h & 0x7fffu; // exponent and mantissa
	const uvec2 sign = (h & 0x8000u) << 16;
	// Normal: the exponent rebiased by 127 - 15 = 112 (0x38000000 as an
	// fp32 exponent field). Inf and NaN: fp32's all-ones exponent, the
	// mantissa (NaN payload) kept in its top bits.
	const uvec2 bits = mix((em << 13) + 0x38000000u, (em << 13) | 0x7f800000u,
			       greaterThanEqual(em, uvec2(0x7c00u)));
	// Zero and subnormal: m * 2^-24, exact (m < 2^10, the product >= 2^-24
	// is a normal fp32).
	const vec2 mag = mix(uintBitsToFloat(bits), vec2(em) * QVK_F16_SUBNORMAL_ULP,
			     lessThan(em, uvec2(0x0400u)));
	return uintBitsToFloat(floatBitsToUint(mag) | sign);
}

// As unpackHalf2x16: .x from bits 0-15 of @w, .y from bits 16-31.
vec2 qvk_unpack_half2x16(uint w)
{
	return qvk_f16_to_f32(uvec2(w, w >> 16));
}

#endif
