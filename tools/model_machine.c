/* SPDX-License-Identifier: MIT */
/*
 * The machine qvk bench model runs on: the facts a published figure needs
 * (kernel, CPU, driver, load average, time), the energy sources and their
 * idle power, and the device's ceilings, measured before any model, in
 * that order, so that idle is taken with nothing of ours running.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "model_bench.h"
#include "tool.h"

/* The facts of the run that are not the device's own. */
static void qvk_mb_machine_facts(struct qvk_mb_machine *mc)
{
	struct utsname u;
	time_t now = time(NULL);
	struct tm tm;
	FILE *f;
	char line[256];

	snprintf(mc->kernel, sizeof(mc->kernel), "unknown kernel");
	if (!uname(&u))
		snprintf(mc->kernel, sizeof(mc->kernel), "%s %s %s", u.sysname,
			 u.release, u.machine);
	snprintf(mc->cpu, sizeof(mc->cpu), "unknown CPU");
	f = fopen("/proc/cpuinfo", "r");
	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (!strncmp(line, "model name", 10) && colon) {
			colon[strcspn(colon, "\n")] = 0;
			snprintf(mc->cpu, sizeof(mc->cpu), "%s, %ld CPUs",
				 colon + 2, sysconf(_SC_NPROCESSORS_ONLN));
			break;
		}
	}
	if (f)
		fclose(f);
	if (getloadavg(mc->load_begin, 3) != 3)
		mc->load_begin[0] = mc->load_begin[1] = mc->load_begin[2] = NAN;
	gmtime_r(&now, &tm);
	strftime(mc->started, sizeof(mc->started), "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void qvk_mb_telemetry(struct qvk_mb_machine *mc)
{
	struct qvk_telemetry_options topt = { 0 };
	const char *p, *sep = ":";
	size_t n;

	if (mc->info->has_drm && mc->info->drm_render_node[0])
		topt.drm_render_node = mc->info->drm_render_node;
	if (qvk_telemetry_create(mc->ctx, &topt, &mc->telemetry) != QVK_OK) {
		mc->telemetry = NULL;
		snprintf(mc->energy_unavailable, sizeof(mc->energy_unavailable),
			 "telemetry failed: %s", qvk_ctx_message(mc->ctx));
		return;
	}
	if (qvk_telemetry_domain_count(mc->telemetry))
		return;
	/* The reason, then what every source said, joined. */
	n = (size_t)snprintf(mc->energy_unavailable,
			     sizeof(mc->energy_unavailable),
			     "no energy source on this machine");
	for (p = qvk_telemetry_describe(mc->telemetry);
	     *p && n < sizeof(mc->energy_unavailable);) {
		size_t len = strcspn(p, "\n");

		if (strncmp(p, mc->energy_unavailable, len))
			n += (size_t)snprintf(mc->energy_unavailable + n,
					      sizeof(mc->energy_unavailable) - n,
					      "%s %.*s", sep, (int)len, p);
		sep = ";";
		p += len + (p[len] == '\n');
	}
}

qvk_status qvk_mb_machine_init(struct qvk_mb_machine *mc, double idle_s)
{
	qvk_status st;

	qvk_mb_machine_facts(mc);
	st = qvk_device_create(mc->ctx, NULL, &mc->dev);
	if (st != QVK_OK)
		return st;
	mc->info = qvk_device_info(mc->dev);
	qvk_mb_telemetry(mc);
	if (!mc->energy_unavailable[0] && idle_s > 0) {
		fprintf(stderr, "qvk bench: measuring idle power for %.1f s\n",
			idle_s);
		st = qvk_energy_measure_idle(mc->telemetry, idle_s, 5, mc->idle);
		if (st != QVK_OK)
			return st;
		mc->have_idle = true;
	}
	/* A quarter of the heap at most, enough to defeat any cache. */
	fprintf(stderr, "qvk bench: measuring the device's ceilings\n");
	st = qvk_device_read_bandwidth(mc->dev,
				       QVK_MIN(mc->info->device_local_heap_bytes / 4,
					       256ull << 20), 5, &mc->read_gbps);
	if (st == QVK_OK)
		st = qvk_device_compute_peak(mc->dev, QVK_COMPUTE_INT8_DOT, 3,
					     &mc->peak_gops[QVK_COMPUTE_INT8_DOT]);
	if (st == QVK_OK)
		st = qvk_device_compute_peak(mc->dev, QVK_COMPUTE_FP32_FMA, 3,
					     &mc->peak_gops[QVK_COMPUTE_FP32_FMA]);
	return st;
}

void qvk_mb_machine_finish(struct qvk_mb_machine *mc)
{
	qvk_telemetry_destroy(mc->telemetry);
	qvk_device_destroy(mc->dev);
	mc->telemetry = NULL;
	mc->dev = NULL;
}
