// SPDX-License-Identifier: MIT
// Shared by the row kernels of runtime/ops (one workgroup per row or head):
// the workgroup size as specialization constant 0 and workgroup-wide sums
// and maxima. A reduction is a subgroup operation, then, only when the
// workgroup holds several subgroups, one shared-memory round: with
// WG == subgroup size (what runtime/ops picks on CPU devices such as
// lavapipe, where a workgroup runs on one thread anyway) no barrier is
// executed at all. gl_NumSubgroups and gl_SubgroupID are used, never an
// assumed subgroup size, so 8-, 32- and 64-wide subgroups are all right.
#ifndef QVK_OPS_COMMON_GLSL
#define QVK_OPS_COMMON_GLSL

#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require

layout(local_size_x_id = 0) in;
layout(constant_id = 0) const uint WG = 64;

// One partial per subgroup; WG entries cover subgroups of size 1.
shared float qvk_red[WG];

// Inf or NaN, tested on the bits: float comparisons such as v != v may be
// folded away by a compiler that assumes finite math.
bool qvk_nonfinite(float v)
{
	return (floatBitsToUint(v) & 0x7f800000u) == 0x7f800000u;
}

// Every invocation of the workgroup must call these (uniform control flow).
float qvk_wg_sum(float v)
{
	v = subgroupAdd(v);
	if (gl_NumSubgroups == 1u)
		return v;
	if (subgroupElect())
		qvk_red[gl_SubgroupID] = v;
	barrier(); // the partials are written
	float t = 0.0;
	for (uint i = 0u; i < gl_NumSubgroups; i++)
		t += qvk_red[i];
	barrier(); // all have read before a later call overwrites them
	return t;
}

float qvk_wg_max(float v)
{
	v = subgroupMax(v);
	if (gl_NumSubgroups == 1u)
		return v;
	if (subgroupElect())
		qvk_red[gl_SubgroupID] = v;
	barrier();
	float t = qvk_red[0];
	for (uint i = 1u; i < gl_NumSubgroups; i++)
		t = max(t, qvk_red[i]);
	barrier();
	return t;
}

#endif
