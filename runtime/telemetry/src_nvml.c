/* SPDX-License-Identifier: MIT */
/*
 * Source: NVIDIA GPUs through NVML, dlopen("libnvidia-ml.so.1") when
 * present: the total energy counter (mJ, Volta and newer), else power
 * (mW, integrated); SM and memory clocks, temperature and throttle
 * reasons. No build dependency: the few entry points are declared here.
 */
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry_internal.h"

#define QVK_NVML_MAX_DEVICES 8
#define QVK_NVML_CLOCK_SM 1
#define QVK_NVML_CLOCK_MEM 2
#define QVK_NVML_TEMPERATURE_GPU 0
/* Not published by NVML; what its counters are commonly refreshed at. */
#define QVK_NVML_ENERGY_PERIOD_S 0.1
#define QVK_NVML_POWER_PERIOD_S 1.0

struct qvk_tnvml {
	void *lib;
	struct qvk_nvml_api api;
	bool initialized;
	unsigned n_devices;
	qvk_nvml_device devices[QVK_NVML_MAX_DEVICES];
};

static bool qvk_nvml_load(struct qvk_telemetry *t, struct qvk_tnvml *v)
{
	static const char *const names[] = {
		"nvmlInit_v2", "nvmlShutdown", "nvmlDeviceGetCount_v2",
		"nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetName",
		"nvmlDeviceGetTotalEnergyConsumption", "nvmlDeviceGetPowerUsage",
		"nvmlDeviceGetClockInfo", "nvmlDeviceGetCurrentClocksThrottleReasons",
		"nvmlDeviceGetTemperature",
	};
	void **slots[] = {
		(void **)&v->api.init, (void **)&v->api.shutdown,
		(void **)&v->api.device_count, (void **)&v->api.device_handle,
		(void **)&v->api.device_name, (void **)&v->api.total_energy,
		(void **)&v->api.power_usage, (void **)&v->api.clock_info,
		(void **)&v->api.throttle_reasons, (void **)&v->api.temperature,
	};

	v->lib = dlopen("libnvidia-ml.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!v->lib) {
		qvk_telemetry_note(t, "nvml: libnvidia-ml.so.1 not loadable (no NVIDIA driver): %s",
				   dlerror());
		return false;
	}
	for (size_t i = 0; i < QVK_ARRAY_SIZE(names); i++) {
		*slots[i] = dlsym(v->lib, names[i]);
		if (!*slots[i] && i < 5) {
			qvk_telemetry_note(t, "nvml: libnvidia-ml.so.1 lacks %s", names[i]);
			return false;
		}
	}
	return true;
}

static qvk_status qvk_nvml_read(struct qvk_telemetry *t, struct qvk_tdom *d,
				struct qvk_treading *r)
{
	struct qvk_tnvml *v = t->nvml;
	qvk_nvml_device dev = v->devices[d->index];
	uint64_t t0 = qvk_telemetry_now_ns(), t1;
	unsigned long long mj = 0;
	unsigned mw = 0;
	int err = d->pub.counter ? v->api.total_energy(dev, &mj) :
				   v->api.power_usage(dev, &mw);

	t1 = qvk_telemetry_now_ns();
	if (err) {
		qvk_fmt(d->error, sizeof(d->error), "nvml %s: %s failed: NVML error %d",
			 d->pub.name, d->pub.counter ? "total energy" : "power", err);
		return QVK_ERR_IO;
	}
	r->raw = mj;
	r->power_w = mw * 1e-3;
	r->t_ns = t0 + (t1 - t0) / 2;
	r->t_unc_ns = (t1 - t0) / 2;
	return QVK_OK;
}

static void qvk_nvml_add_device(struct qvk_telemetry *t, struct qvk_tnvml *v,
				unsigned index)
{
	qvk_nvml_device dev = v->devices[index];
	unsigned long long mj;
	unsigned mw;
	char name[96] = "";
	bool energy = v->api.total_energy && !v->api.total_energy(dev, &mj);
	struct qvk_tdom *d;

	if (!energy && (!v->api.power_usage || v->api.power_usage(dev, &mw))) {
		qvk_telemetry_note(t, "nvml: GPU %u: neither energy nor power readable", index);
		return;
	}
	if (v->api.device_name(dev, name, sizeof(name)))
		qvk_fmt(name, sizeof(name), "GPU %u", index);
	name[sizeof(name) - 1] = 0;
	d = qvk_telemetry_add(t);
	if (!d)
		return;
	qvk_fmt(d->pub.name, sizeof(d->pub.name), "nvidia%u %.48s", index, name);
	d->pub.source = QVK_TELEMETRY_NVML;
	d->pub.kind = QVK_TELEMETRY_GPU;
	d->pub.counter = energy;
	d->pub.update_period_s = energy ? QVK_NVML_ENERGY_PERIOD_S : QVK_NVML_POWER_PERIOD_S;
	d->pub.resolution = 1e-3; /* mJ or mW */
	qvk_fmt(d->pub.path, sizeof(d->pub.path), "libnvidia-ml.so.1 device %u", index);
	d->read = qvk_nvml_read;
	d->index = index;
	d->unit_j = 1e-3;
	d->lag_s = d->pub.update_period_s;
	qvk_telemetry_note(t, "nvml: %s: %s", d->pub.name,
			   energy ? "total energy counter in mJ" :
				    "power in mW, integrated (no energy counter before Volta)");
}

qvk_status qvk_telemetry_probe_nvml(struct qvk_telemetry *t)
{
	struct qvk_tnvml *v = calloc(1, sizeof(*v));
	unsigned count = 0;
	int err;

	if (!v)
		return qvk_error(t->ctx, QVK_ERR_NO_MEMORY, "telemetry: out of memory");
	t->nvml = v;
	if (t->backends && t->backends->nvml)
		v->api = *t->backends->nvml;
	else if (!qvk_nvml_load(t, v))
		return QVK_OK;
	err = v->api.init();
	if (err) {
		qvk_telemetry_note(t, "nvml: nvmlInit failed: NVML error %d", err);
		return QVK_OK;
	}
	v->initialized = true;
	err = v->api.device_count(&count);
	if (err || count == 0) {
		qvk_telemetry_note(t, "nvml: no NVIDIA GPU (%s)",
				   err ? "device count failed" : "count 0");
		return QVK_OK;
	}
	for (unsigned i = 0; i < count && v->n_devices < QVK_NVML_MAX_DEVICES; i++) {
		if (v->api.device_handle(i, &v->devices[v->n_devices])) {
			qvk_telemetry_note(t, "nvml: GPU %u: no handle", i);
			continue;
		}
		qvk_nvml_add_device(t, v, v->n_devices++);
	}
	return QVK_OK;
}

void qvk_telemetry_nvml_clocks(struct qvk_telemetry *t,
			       struct qvk_energy_result *res)
{
	struct qvk_tnvml *v = t->nvml;
	char name[48];

	if (!v || !v->initialized)
		return;
	for (unsigned i = 0; i < v->n_devices; i++) {
		unsigned mhz, c;
		unsigned long long reasons;

		if (v->api.clock_info && !v->api.clock_info(v->devices[i], QVK_NVML_CLOCK_SM, &mhz)) {
			qvk_fmt(name, sizeof(name), "nvidia%u_sm_mhz", i);
			qvk_telemetry_add_clock(res, name, mhz, "MHz");
		}
		if (v->api.clock_info && !v->api.clock_info(v->devices[i], QVK_NVML_CLOCK_MEM, &mhz)) {
			qvk_fmt(name, sizeof(name), "nvidia%u_mem_mhz", i);
			qvk_telemetry_add_clock(res, name, mhz, "MHz");
		}
		if (v->api.temperature &&
		    !v->api.temperature(v->devices[i], QVK_NVML_TEMPERATURE_GPU, &c)) {
			qvk_fmt(name, sizeof(name), "nvidia%u_temp_c", i);
			qvk_telemetry_add_clock(res, name, c, "C");
		}
		if (v->api.throttle_reasons &&
		    !v->api.throttle_reasons(v->devices[i], &reasons)) {
			qvk_fmt(name, sizeof(name), "nvidia%u_throttle_reasons", i);
			qvk_telemetry_add_clock(res, name, (double)reasons, "bitmask");
		}
	}
}

void qvk_telemetry_nvml_close(struct qvk_telemetry *t)
{
	struct qvk_tnvml *v = t->nvml;

	if (!v)
		return;
	if (v->initialized && v->api.shutdown)
		v->api.shutdown();
	if (v->lib)
		dlclose(v->lib);
	free(v);
	t->nvml = NULL;
}
