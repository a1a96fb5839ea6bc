/* SPDX-License-Identifier: MIT */
/*
 * The amdgpu sensor source in a QVK_DRM=0 build: libdrm_amdgpu's headers
 * are not there, so src_amdgpu.c is left out and the probe says so. AMD
 * GPUs' hwmon power (src_hwmon.c) still works: it needs only sysfs.
 * The Makefile builds this file only when QVK_DRM=0; the guard keeps a
 * build that takes every .c file of runtime/telemetry/ (the module VM test)
 * from defining these twice.
 */
#include "telemetry_internal.h"

#if !QVK_DRM

qvk_status qvk_telemetry_probe_amdgpu(struct qvk_telemetry *t)
{
	qvk_telemetry_note(t, "amdgpu: off: libqvk was built with QVK_DRM=0 "
			      "(no libdrm)");
	return QVK_OK;
}

void qvk_telemetry_amdgpu_clocks(struct qvk_telemetry *t,
				 struct qvk_energy_result *res)
{
	(void)t, (void)res;
}

void qvk_telemetry_amdgpu_close(struct qvk_telemetry *t)
{
	(void)t;
}
#endif
