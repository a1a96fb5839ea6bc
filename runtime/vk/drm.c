/* SPDX-License-Identifier: MIT */
/*
 * Match a Vulkan device to its DRM node through libdrm: by the render node's
 * major:minor from VK_EXT_physical_device_drm (as wlroots'
 * vulkan_find_drm_phdev does), else by PCI address from VK_EXT_pci_bus_info,
 * else by a unique PCI vendor:device pair. CPU devices such as lavapipe have
 * no node, and say so.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <xf86drm.h>

#include "vk/vk.h"

static bool qvk_node_is(const char *path, int64_t major_nr, int64_t minor_nr)
{
	struct stat st;

	return path && stat(path, &st) == 0 && S_ISCHR(st.st_mode) &&
	       (int64_t)major(st.st_rdev) == major_nr &&
	       (int64_t)minor(st.st_rdev) == minor_nr;
}

static bool qvk_drm_dev_matches(const struct qvk_drm_ids *ids,
				const struct qvk_device_info *info,
				drmDevicePtr d)
{
	const drmPciBusInfo *bus;

	if (ids->has_render && (d->available_nodes & (1 << DRM_NODE_RENDER)))
		return qvk_node_is(d->nodes[DRM_NODE_RENDER],
				   ids->render_major, ids->render_minor);
	if (ids->has_primary && (d->available_nodes & (1 << DRM_NODE_PRIMARY)))
		return qvk_node_is(d->nodes[DRM_NODE_PRIMARY],
				   ids->primary_major, ids->primary_minor);
	if (d->bustype != DRM_BUS_PCI)
		return false;
	bus = d->businfo.pci;
	if (ids->has_pci)
		return bus->domain == ids->pci_domain &&
		       bus->bus == ids->pci_bus && bus->dev == ids->pci_dev &&
		       bus->func == ids->pci_func;
	return d->deviceinfo.pci->vendor_id == info->vendor_id &&
	       d->deviceinfo.pci->device_id == info->device_id;
}

static void qvk_drm_fill(drmDevicePtr d, struct qvk_device_info *info)
{
	drmVersionPtr ver;
	int fd;

	info->has_drm = true;
	if (d->available_nodes & (1 << DRM_NODE_RENDER))
		snprintf(info->drm_render_node, sizeof(info->drm_render_node),
			 "%s", d->nodes[DRM_NODE_RENDER]);
	if (d->available_nodes & (1 << DRM_NODE_PRIMARY))
		snprintf(info->drm_primary_node, sizeof(info->drm_primary_node),
			 "%s", d->nodes[DRM_NODE_PRIMARY]);
	if (d->bustype == DRM_BUS_PCI) {
		snprintf(info->pci_bus_id, sizeof(info->pci_bus_id),
			 "%04x:%02x:%02x.%u", d->businfo.pci->domain,
			 d->businfo.pci->bus, d->businfo.pci->dev,
			 d->businfo.pci->func);
		info->pci_vendor_id = d->deviceinfo.pci->vendor_id;
		info->pci_device_id = d->deviceinfo.pci->device_id;
	}
	fd = open(info->drm_render_node[0] ? info->drm_render_node :
					     info->drm_primary_node,
		  O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return;
	ver = drmGetVersion(fd);
	if (ver) {
		snprintf(info->kernel_driver, sizeof(info->kernel_driver),
			 "%.*s", ver->name_len, ver->name);
		info->kernel_driver_version[0] = ver->version_major;
		info->kernel_driver_version[1] = ver->version_minor;
		info->kernel_driver_version[2] = ver->version_patchlevel;
		drmFreeVersion(ver);
	}
	close(fd);
}

void qvk_drm_match(struct qvk_ctx *ctx, const struct qvk_drm_ids *ids,
		   struct qvk_device_info *info)
{
	drmDevicePtr devs[64];
	int n, matched = -1, n_matches = 0;

	if (info->type == QVK_DEVICE_CPU) {
		snprintf(info->drm_note, sizeof(info->drm_note),
			 "no DRM node: a CPU device (software rendering) has "
			 "no kernel GPU driver");
		return;
	}
	n = drmGetDevices2(0, devs, (int)QVK_ARRAY_SIZE(devs));
	if (n <= 0) {
		snprintf(info->drm_note, sizeof(info->drm_note),
			 "no DRM node: libdrm found no DRM devices (%d)", n);
		return;
	}
	for (int i = 0; i < n; i++)
		if (qvk_drm_dev_matches(ids, info, devs[i])) {
			if (matched < 0)
				matched = i;
			n_matches++;
		}
	if (matched >= 0 && n_matches == 1) {
		qvk_drm_fill(devs[matched], info);
		snprintf(info->drm_note, sizeof(info->drm_note),
			 "matched by %s",
			 ids->has_render || ids->has_primary ?
				 "VK_EXT_physical_device_drm node numbers" :
			 ids->has_pci ? "PCI bus address" :
					"PCI vendor:device id");
	} else {
		snprintf(info->drm_note, sizeof(info->drm_note),
			 n_matches > 1 ? "no DRM node: %d DRM devices share "
					 "this PCI id and the driver gives no "
					 "address to tell them apart" :
					 "no DRM node matches this device",
			 n_matches);
	}
	qvk_log(ctx, QVK_LOG_DEBUG, "%s: %s", info->name, info->drm_note);
	drmFreeDevices(devs, n);
}
