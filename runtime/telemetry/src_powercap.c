/* SPDX-License-Identifier: MIT */
/*
 * Source: powercap sysfs, /sys/class/powercap/intel-rapl:N[:M] (the kernel's
 * RAPL driver, Intel and AMD alike). energy_uj counts up to
 * max_energy_range_uj and wraps to 0; it is root-only since the PLATYPUS
 * fix (CVE-2020-8694), which is reported as such.
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry_internal.h"

static enum qvk_telemetry_kind qvk_powercap_kind(const char *name)
{
	if (!strncmp(name, "package", 7))
		return QVK_TELEMETRY_CPU_PACKAGE;
	if (!strcmp(name, "core"))
		return QVK_TELEMETRY_CPU_CORES;
	if (!strcmp(name, "uncore"))
		return QVK_TELEMETRY_GPU_INTEGRATED;
	if (!strcmp(name, "dram"))
		return QVK_TELEMETRY_DRAM;
	if (!strcmp(name, "psys"))
		return QVK_TELEMETRY_PLATFORM;
	return QVK_TELEMETRY_OTHER;
}

static int qvk_powercap_filter(const struct dirent *e)
{
	return !strncmp(e->d_name, "intel-rapl:", 11);
}

/* One zone: validate its files, then add it. */
static void qvk_powercap_zone(struct qvk_telemetry *t, const char *dir,
			      const char *zone)
{
	char path[400], name[64], err[256];
	uint64_t energy, range;
	unsigned package = 0, sub;
	int fields = sscanf(zone, "intel-rapl:%u:%u", &package, &sub);
	struct qvk_tdom *d;

	qvk_fmt(path, sizeof(path), "%s/%s/name", dir, zone);
	if (qvk_sysfs_read_line(path, name, sizeof(name), err, sizeof(err)) != QVK_OK ||
	    !name[0]) {
		qvk_telemetry_note(t, "powercap: %s: no name (%s), skipped", zone,
				   name[0] ? err : "empty");
		return;
	}
	qvk_fmt(path, sizeof(path), "%s/%s/max_energy_range_uj", dir, zone);
	if (qvk_sysfs_read_u64(path, &range, err, sizeof(err)) != QVK_OK || !range) {
		qvk_telemetry_note(t, "powercap: %s: %s", zone,
				   range ? err : "max_energy_range_uj is 0");
		return;
	}
	qvk_fmt(path, sizeof(path), "%s/%s/energy_uj", dir, zone);
	if (qvk_sysfs_read_u64(path, &energy, err, sizeof(err)) != QVK_OK) {
		qvk_telemetry_note(t, "powercap: %s%s", err,
				   strstr(err, "denied") ?
				   " (root-only since CVE-2020-8694; the qvk_telem module with group= is the unprivileged path)" : "");
		return;
	}
	if (energy > range) {
		qvk_telemetry_note(t, "powercap: %s: energy_uj %llu above max_energy_range_uj %llu, skipped",
				   zone, (unsigned long long)energy,
				   (unsigned long long)range);
		return;
	}
	d = qvk_telemetry_add(t);
	if (!d)
		return;
	/* Subzones ("core", "dram") get their package: "core-0". */
	if (fields == 2)
		qvk_fmt(d->pub.name, sizeof(d->pub.name), "%s-%u", name, package);
	else
		qvk_fmt(d->pub.name, sizeof(d->pub.name), "%s", name);
	d->pub.source = QVK_TELEMETRY_POWERCAP;
	d->pub.kind = qvk_powercap_kind(name);
	/* psys is a zone of its own ("intel-rapl:1") but platform-wide. */
	d->pub.package = d->pub.kind == QVK_TELEMETRY_PLATFORM ? 0 : package;
	d->pub.counter = true;
	d->pub.update_period_s = 1e-3;
	d->pub.resolution = 1e-6;
	qvk_fmt(d->pub.path, sizeof(d->pub.path), "%s", path);
	d->read = qvk_tdom_read_sysfs_counter;
	d->unit_j = 1e-6;
	d->wrap = range;
	d->lag_s = 1e-3;
	qvk_telemetry_note(t, "powercap: %s: %s, counter in uJ, wraps at %llu uJ",
			   zone, d->pub.name, (unsigned long long)range);
}

qvk_status qvk_telemetry_probe_powercap(struct qvk_telemetry *t)
{
	struct dirent **list;
	char dir[300];
	uint32_t before = t->n_domains;
	int n;

	n = qvk_sysfs_scan_class(t, "powercap", dir, sizeof(dir), qvk_powercap_filter,
				 &list);
	if (n < 0)
		return QVK_OK;
	for (int i = 0; i < n; i++) {
		qvk_powercap_zone(t, dir, list[i]->d_name);
		free(list[i]);
	}
	free(list);
	if (n == 0)
		qvk_telemetry_note(t, "powercap: %s: no intel-rapl zones (no RAPL driver, or no RAPL)",
				   dir);
	else if (t->n_domains == before)
		qvk_telemetry_note(t, "powercap: %s: no readable zone", dir);
	return QVK_OK;
}
