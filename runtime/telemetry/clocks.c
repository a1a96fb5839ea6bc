/* SPDX-License-Identifier: MIT */
/*
 * Clocks and throttle state read with every energy window: CPU clocks
 * from the module's page (APERF/MPERF) or cpufreq, Intel's thermal
 * throttle counters, and GPU clocks from the amdgpu and NVML sources.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry_internal.h"

void qvk_telemetry_add_clock(struct qvk_energy_result *res, const char *name,
			     double value, const char *unit)
{
	struct qvk_clock_reading *c;

	if (res->n_clocks >= QVK_TELEMETRY_MAX_CLOCKS)
		return;
	c = &res->clocks[res->n_clocks++];
	qvk_fmt(c->name, sizeof(c->name), "%s", name);
	qvk_fmt(c->unit, sizeof(c->unit), "%s", unit);
	c->value = value;
}

static bool qvk_is_cpu_dir(const char *name)
{
	if (strncmp(name, "cpu", 3) || !name[3])
		return false;
	for (const char *p = name + 3; *p; p++)
		if (*p < '0' || *p > '9')
			return false;
	return true;
}

/* cpufreq's scaling_cur_freq (kHz) and the throttle counters per CPU. */
static void qvk_telemetry_sysfs_cpu(struct qvk_telemetry *t,
				    struct qvk_energy_result *res,
				    bool want_khz)
{
	char dir[300], path[400], err[160];
	uint64_t v, pkg_max = 0, core_sum = 0;
	double khz_sum = 0, khz_min = 0, khz_max = 0;
	uint32_t n_khz = 0, n_throttle = 0;
	struct dirent *e;
	DIR *dp;

	if (!qvk_sysfs_path(t, dir, sizeof(dir), "devices/system/cpu"))
		return;
	dp = opendir(dir);
	if (!dp)
		return;
	while ((e = readdir(dp))) {
		if (!qvk_is_cpu_dir(e->d_name))
			continue;
		qvk_fmt(path, sizeof(path), "%s/%s/cpufreq/scaling_cur_freq", dir,
			 e->d_name);
		if (want_khz && qvk_sysfs_read_u64(path, &v, err, sizeof(err)) == QVK_OK) {
			khz_min = n_khz ? QVK_MIN(khz_min, (double)v) : (double)v;
			khz_max = QVK_MAX(khz_max, (double)v);
			khz_sum += (double)v;
			n_khz++;
		}
		qvk_fmt(path, sizeof(path),
			 "%s/%s/thermal_throttle/package_throttle_count", dir, e->d_name);
		if (qvk_sysfs_read_u64(path, &v, err, sizeof(err)) == QVK_OK) {
			pkg_max = QVK_MAX(pkg_max, v); /* one counter per package */
			n_throttle++;
		}
		qvk_fmt(path, sizeof(path),
			 "%s/%s/thermal_throttle/core_throttle_count", dir, e->d_name);
		if (qvk_sysfs_read_u64(path, &v, err, sizeof(err)) == QVK_OK)
			core_sum += v;
	}
	closedir(dp);
	if (n_khz) {
		qvk_telemetry_add_clock(res, "cpu_khz_avg", khz_sum / n_khz, "kHz");
		qvk_telemetry_add_clock(res, "cpu_khz_min", khz_min, "kHz");
		qvk_telemetry_add_clock(res, "cpu_khz_max", khz_max, "kHz");
	}
	if (n_throttle) {
		qvk_telemetry_add_clock(res, "cpu_package_throttle_events",
					(double)pkg_max, "events");
		qvk_telemetry_add_clock(res, "cpu_core_throttle_events",
					(double)core_sum, "events");
	}
}

void qvk_telemetry_read_clocks(struct qvk_telemetry *t,
			       struct qvk_energy_result *res)
{
	uint32_t before = res->n_clocks;

	qvk_telemetry_module_clocks(t, res);
	qvk_telemetry_sysfs_cpu(t, res, res->n_clocks == before);
	qvk_telemetry_amdgpu_clocks(t, res);
	qvk_telemetry_nvml_clocks(t, res);
}
