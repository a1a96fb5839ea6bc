/* SPDX-License-Identifier: MIT */
/*
 * Source: AMD GPUs through libdrm_amdgpu's sensor queries
 * (amdgpu_query_sensor_info: average GPU power in W, shader and memory
 * clocks in MHz, temperature in millidegrees C) on the render node the
 * device layer matched, or on every render node whose driver is amdgpu.
 * The library is dlopen()ed: no build or run dependency on it.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <amdgpu_drm.h>

#include "telemetry_internal.h"

#define QVK_AMDGPU_MAX_NODES 8
/* The SMU averages power over about a second. */
#define QVK_AMDGPU_POWER_PERIOD_S 1.0

struct qvk_tamdgpu_node {
	char path[64];
	int fd;
	amdgpu_device_handle dev;
	uint32_t index; /* gpuN in clock names */
};

struct qvk_tamdgpu {
	void *lib;      /* dlopen() handle; NULL with a fake */
	struct qvk_amdgpu_api api;
	uint32_t n_nodes;
	struct qvk_tamdgpu_node nodes[QVK_AMDGPU_MAX_NODES];
};

static int qvk_amdgpu_open_node(void *user, const char *path)
{
	(void)user;
	return open(path, O_RDWR | O_CLOEXEC);
}

static void qvk_amdgpu_close_node(void *user, int fd)
{
	(void)user;
	close(fd);
}

static bool qvk_amdgpu_load(struct qvk_telemetry *t, struct qvk_tamdgpu *a)
{
	a->lib = dlopen("libdrm_amdgpu.so.1", RTLD_NOW | RTLD_LOCAL);
	if (!a->lib) {
		qvk_telemetry_note(t, "amdgpu: libdrm_amdgpu.so.1 not loadable: %s",
				   dlerror());
		return false;
	}
	a->api.open_node = qvk_amdgpu_open_node;
	a->api.close_node = qvk_amdgpu_close_node;
	*(void **)&a->api.device_initialize = dlsym(a->lib, "amdgpu_device_initialize");
	*(void **)&a->api.device_deinitialize = dlsym(a->lib, "amdgpu_device_deinitialize");
	*(void **)&a->api.query_sensor_info = dlsym(a->lib, "amdgpu_query_sensor_info");
	if (!a->api.device_initialize || !a->api.device_deinitialize ||
	    !a->api.query_sensor_info) {
		qvk_telemetry_note(t, "amdgpu: libdrm_amdgpu.so.1 lacks the sensor API");
		return false;
	}
	return true;
}

/* Render nodes whose driver is amdgpu, from sysfs (DRIVER= in uevent). */
static uint32_t qvk_amdgpu_find_nodes(struct qvk_telemetry *t,
				      char nodes[][64], uint32_t max)
{
	char dir[300], path[400], text[4096], err[256];
	struct dirent *e;
	uint32_t n = 0;
	size_t got;
	DIR *dp;

	if (!qvk_sysfs_path(t, dir, sizeof(dir), "class/drm") || !(dp = opendir(dir)))
		return 0;
	while ((e = readdir(dp)) && n < max) {
		if (strncmp(e->d_name, "renderD", 7))
			continue;
		qvk_fmt(path, sizeof(path), "%s/%s/device/uevent", dir, e->d_name);
		if (qvk_sysfs_read_text(path, text, sizeof(text), &got, err,
					sizeof(err)) != QVK_OK) {
			if (!strstr(err, "No such file"))
				qvk_telemetry_note(t, "amdgpu: %s", err);
			continue;
		}
		if (!strncmp(text, "DRIVER=amdgpu\n", 14) ||
		    strstr(text, "\nDRIVER=amdgpu\n"))
			qvk_fmt(nodes[n++], 64, "/dev/dri/%.20s", e->d_name);
	}
	closedir(dp);
	return n;
}

static qvk_status qvk_amdgpu_read_power(struct qvk_telemetry *t,
					struct qvk_tdom *d,
					struct qvk_treading *r)
{
	struct qvk_tamdgpu *a = t->amdgpu;
	struct qvk_tamdgpu_node *node = &a->nodes[d->index];
	uint64_t t0 = qvk_telemetry_now_ns(), t1;
	uint32_t watts = 0;
	int err = a->api.query_sensor_info(node->dev, AMDGPU_INFO_SENSOR_GPU_AVG_POWER,
					   sizeof(watts), &watts);

	t1 = qvk_telemetry_now_ns();
	if (err) {
		qvk_fmt(d->error, sizeof(d->error), "amdgpu %s: GPU_AVG_POWER query: %s",
			 node->path, strerror(err < 0 ? -err : err));
		return QVK_ERR_IO;
	}
	/* Integer watts; above 5 kW is a garbled answer, not a GPU. */
	if (watts > 5000) {
		qvk_fmt(d->error, sizeof(d->error), "amdgpu %s: GPU_AVG_POWER %u W is not plausible",
			 node->path, watts);
		return QVK_ERR_FORMAT;
	}
	r->power_w = watts;
	r->t_ns = t0 + (t1 - t0) / 2;
	r->t_unc_ns = (t1 - t0) / 2;
	return QVK_OK;
}

static void qvk_amdgpu_add_node(struct qvk_telemetry *t, struct qvk_tamdgpu *a,
				const char *path)
{
	struct qvk_tamdgpu_node *node = &a->nodes[a->n_nodes];
	uint32_t major, minor, watts;
	struct qvk_tdom *d;
	int err;

	qvk_fmt(node->path, sizeof(node->path), "%s", path);
	node->fd = a->api.open_node(a->api.user, path);
	if (node->fd < 0) {
		qvk_telemetry_note(t, "amdgpu: %s: %s", path, strerror(errno));
		return;
	}
	err = a->api.device_initialize(node->fd, &major, &minor, &node->dev);
	if (err) {
		qvk_telemetry_note(t, "amdgpu: %s: amdgpu_device_initialize: %s", path,
				   strerror(err < 0 ? -err : err));
		a->api.close_node(a->api.user, node->fd);
		return;
	}
	node->index = a->n_nodes++;
	err = a->api.query_sensor_info(node->dev, AMDGPU_INFO_SENSOR_GPU_AVG_POWER,
				       sizeof(watts), &watts);
	if (err) {
		qvk_telemetry_note(t, "amdgpu: %s: no average power sensor (%s); clocks only",
				   path, strerror(err < 0 ? -err : err));
		return;
	}
	d = qvk_telemetry_add(t);
	if (!d)
		return;
	qvk_fmt(d->pub.name, sizeof(d->pub.name), "amdgpu %s", strrchr(path, '/') ?
		 strrchr(path, '/') + 1 : path);
	d->pub.source = QVK_TELEMETRY_AMDGPU;
	d->pub.kind = QVK_TELEMETRY_GPU;
	d->pub.counter = false;
	d->pub.update_period_s = QVK_AMDGPU_POWER_PERIOD_S;
	d->pub.resolution = 1.0; /* integer watts */
	qvk_fmt(d->pub.path, sizeof(d->pub.path), "%s (libdrm_amdgpu %u.%u)", path,
		 major, minor);
	d->read = qvk_amdgpu_read_power;
	d->index = node->index;
	d->lag_s = QVK_AMDGPU_POWER_PERIOD_S;
	qvk_telemetry_note(t, "amdgpu: %s: average GPU power in W (1 W steps), integrated; clocks and temperature",
			   path);
}

qvk_status qvk_telemetry_probe_amdgpu(struct qvk_telemetry *t)
{
	char nodes[QVK_AMDGPU_MAX_NODES][64];
	struct qvk_tamdgpu *a;
	uint32_t n;

	if (t->render_node[0]) {
		qvk_fmt(nodes[0], sizeof(nodes[0]), "%.63s", t->render_node);
		n = 1;
	} else {
		n = qvk_amdgpu_find_nodes(t, nodes, QVK_AMDGPU_MAX_NODES);
	}
	if (n == 0) {
		qvk_telemetry_note(t, "amdgpu: no render node with the amdgpu driver");
		return QVK_OK;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return qvk_error(t->ctx, QVK_ERR_NO_MEMORY, "telemetry: out of memory");
	t->amdgpu = a;
	if (t->backends && t->backends->amdgpu)
		a->api = *t->backends->amdgpu;
	else if (!qvk_amdgpu_load(t, a))
		return QVK_OK; /* note made; close() frees */
	for (uint32_t i = 0; i < n; i++)
		qvk_amdgpu_add_node(t, a, nodes[i]);
	return QVK_OK;
}

void qvk_telemetry_amdgpu_clocks(struct qvk_telemetry *t,
				 struct qvk_energy_result *res)
{
	static const struct {
		unsigned sensor;
		const char *what, *unit;
		double scale;
	} sensors[] = {
		{ AMDGPU_INFO_SENSOR_GFX_SCLK, "sclk_mhz", "MHz", 1 },
		{ AMDGPU_INFO_SENSOR_GFX_MCLK, "mclk_mhz", "MHz", 1 },
		{ AMDGPU_INFO_SENSOR_GPU_TEMP, "temp_c", "C", 1e-3 },
	};
	struct qvk_tamdgpu *a = t->amdgpu;

	if (!a)
		return;
	for (uint32_t i = 0; i < a->n_nodes; i++) {
		for (size_t s = 0; s < QVK_ARRAY_SIZE(sensors); s++) {
			uint32_t v;
			char name[48];

			if (a->api.query_sensor_info(a->nodes[i].dev, sensors[s].sensor,
						     sizeof(v), &v))
				continue;
			qvk_fmt(name, sizeof(name), "amdgpu%u_%s", a->nodes[i].index,
				 sensors[s].what);
			qvk_telemetry_add_clock(res, name, v * sensors[s].scale,
						sensors[s].unit);
		}
	}
}

void qvk_telemetry_amdgpu_close(struct qvk_telemetry *t)
{
	struct qvk_tamdgpu *a = t->amdgpu;

	if (!a)
		return;
	for (uint32_t i = a->n_nodes; i--;) {
		a->api.device_deinitialize(a->nodes[i].dev);
		a->api.close_node(a->api.user, a->nodes[i].fd);
	}
	if (a->lib)
		dlclose(a->lib);
	free(a);
	t->amdgpu = NULL;
}
