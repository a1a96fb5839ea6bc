/* SPDX-License-Identifier: MIT */
/*
 * Source: hwmon (Documentation/hwmon/sysfs-interface.rst): energyN_input in
 * microjoules, powerN_average in microwatts with powerN_average_interval in
 * milliseconds. GPU drivers (amdgpu, i915, xe) publish these. A device with
 * an energy counter is read through it; one with only power is integrated.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry_internal.h"

/* powerN_average without an interval file: assume the common 1 s. */
#define QVK_HWMON_DEFAULT_INTERVAL_S 1.0

static qvk_status qvk_hwmon_read_power(struct qvk_telemetry *t,
				       struct qvk_tdom *d,
				       struct qvk_treading *r)
{
	uint64_t t0 = qvk_telemetry_now_ns(), t1, uw;
	qvk_status st;

	(void)t;
	st = qvk_sysfs_read_u64(d->pub.path, &uw, d->error, sizeof(d->error));
	t1 = qvk_telemetry_now_ns();
	if (st != QVK_OK)
		return st;
	r->power_w = (double)uw * 1e-6;
	r->t_ns = t0 + (t1 - t0) / 2;
	r->t_unc_ns = (t1 - t0) / 2;
	return QVK_OK;
}

static int qvk_hwmon_filter(const struct dirent *e)
{
	return !strncmp(e->d_name, "hwmon", 5);
}

static bool qvk_hwmon_is_gpu(const char *name)
{
	return !strcmp(name, "amdgpu") || !strcmp(name, "i915") ||
	       !strcmp(name, "xe") || !strcmp(name, "nouveau") ||
	       !strcmp(name, "radeon");
}

/*
 * Add channels 1..16 of one device: energyN_input (@energy), else
 * powerN_@file ("average", or "input" where a driver has no average).
 * Returns how many were added.
 */
static uint32_t qvk_hwmon_channels(struct qvk_telemetry *t, const char *dir,
				   const char *dev, const char *name, bool energy,
				   const char *power_file)
{
	char path[400], label[48], err[256];
	uint32_t added = 0;

	for (unsigned ch = 1; ch <= 16; ch++) {
		const char *what = energy ? "energy" : "power";
		const char *file = energy ? "input" : power_file;
		struct qvk_tdom *d;
		uint64_t v, interval_ms = 0;

		qvk_fmt(path, sizeof(path), "%s/%s/%s%u_%s", dir, dev, what, ch, file);
		switch (qvk_sysfs_read_u64(path, &v, err, sizeof(err))) {
		case QVK_OK:
			break;
		case QVK_ERR_NOT_FOUND:
			continue;
		default:
			qvk_telemetry_note(t, "hwmon: %s (%s): %s, skipped", dev, name, err);
			continue;
		}
		if (!energy) {
			char ipath[420];

			qvk_fmt(ipath, sizeof(ipath), "%s/%s/power%u_average_interval",
				 dir, dev, ch);
			if (qvk_sysfs_read_u64(ipath, &interval_ms, err, sizeof(err)) != QVK_OK)
				interval_ms = 0;
		}
		qvk_fmt(label, sizeof(label), "%s%u", what, ch);
		{
			char lpath[420], text[40];

			qvk_fmt(lpath, sizeof(lpath), "%s/%s/%s%u_label", dir, dev, what, ch);
			if (qvk_sysfs_read_line(lpath, text, sizeof(text), err,
						sizeof(err)) == QVK_OK && text[0])
				qvk_fmt(label, sizeof(label), "%s", text);
		}
		d = qvk_telemetry_add(t);
		if (!d)
			break;
		qvk_fmt(d->pub.name, sizeof(d->pub.name), "%s %s %s", name, dev, label);
		d->pub.source = QVK_TELEMETRY_HWMON;
		d->pub.kind = qvk_hwmon_is_gpu(name) ? QVK_TELEMETRY_GPU : QVK_TELEMETRY_OTHER;
		d->pub.counter = energy;
		qvk_fmt(d->pub.path, sizeof(d->pub.path), "%s", path);
		if (energy) {
			d->pub.update_period_s = 1e-3; /* not published; typical */
			d->pub.resolution = 1e-6;
			d->read = qvk_tdom_read_sysfs_counter;
			d->unit_j = 1e-6;
			d->lag_s = 1e-3;
		} else {
			d->pub.update_period_s = interval_ms ? (double)interval_ms * 1e-3 :
							      QVK_HWMON_DEFAULT_INTERVAL_S;
			d->pub.resolution = 1e-6;
			d->read = qvk_hwmon_read_power;
			d->lag_s = d->pub.update_period_s;
		}
		qvk_telemetry_note(t, "hwmon: %s: %s, %s, update %.3f s%s", dev, d->pub.name,
				   energy ? "energy counter in uJ" : !strcmp(power_file, "input") ?
				   "instantaneous power in uW, integrated" : "average power in uW, integrated",
				   d->pub.update_period_s,
				   !energy && !interval_ms ? " (no interval file: assumed)" : "");
		added++;
	}
	return added;
}

qvk_status qvk_telemetry_probe_hwmon(struct qvk_telemetry *t)
{
	struct dirent **list;
	char dir[300], path[400], name[48], err[256];
	uint32_t before = t->n_domains;
	int n;

	n = qvk_sysfs_scan_class(t, "hwmon", dir, sizeof(dir), qvk_hwmon_filter, &list);
	if (n < 0)
		return QVK_OK;
	for (int i = 0; i < n; i++) {
		const char *dev = list[i]->d_name;

		qvk_fmt(path, sizeof(path), "%s/%s/name", dir, dev);
		if (qvk_sysfs_read_line(path, name, sizeof(name), err, sizeof(err)) != QVK_OK ||
		    !name[0])
			qvk_fmt(name, sizeof(name), "unnamed");
		if (!qvk_hwmon_channels(t, dir, dev, name, true, NULL) &&
		    !qvk_hwmon_channels(t, dir, dev, name, false, "average"))
			(void)qvk_hwmon_channels(t, dir, dev, name, false, "input");
		free(list[i]);
	}
	free(list);
	if (t->n_domains == before)
		qvk_telemetry_note(t, "hwmon: %s: no energy or average power input in %d device(s)",
				   dir, n);
	return QVK_OK;
}
