/* SPDX-License-Identifier: MIT */
/*
 * GPU timestamps to CLOCK_MONOTONIC through VK_EXT_calibrated_timestamps,
 * so energy can be charged to the GPU work inside a window.
 */
#include <math.h>
#include <string.h>

#include "telemetry_internal.h"
#include "vk/vk.h"

/* Pairs taken; the one the driver pairs most tightly wins. */
#define QVK_GPU_CLOCK_TRIES 8

static bool qvk_gpu_clock_has_domains(struct qvk_device *dev,
				      PFN_vkGetPhysicalDeviceCalibrateableTimeDomainsEXT get)
{
	VkTimeDomainEXT domains[16];
	uint32_t n = QVK_ARRAY_SIZE(domains);
	bool device = false, monotonic = false;
	VkResult res = get(dev->pdev, &n, domains);

	if (res != VK_SUCCESS && res != VK_INCOMPLETE)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		device |= domains[i] == VK_TIME_DOMAIN_DEVICE_EXT;
		monotonic |= domains[i] == VK_TIME_DOMAIN_CLOCK_MONOTONIC_EXT;
	}
	return device && monotonic;
}

qvk_status qvk_gpu_clock_calibrate(struct qvk_device *dev,
				   struct qvk_gpu_clock_map *out)
{
	PFN_vkGetPhysicalDeviceCalibrateableTimeDomainsEXT get_domains;
	PFN_vkGetCalibratedTimestampsEXT get_stamps;
	const VkCalibratedTimestampInfoEXT infos[2] = {
		{ .sType = VK_STRUCTURE_TYPE_CALIBRATED_TIMESTAMP_INFO_EXT,
		  .timeDomain = VK_TIME_DOMAIN_DEVICE_EXT },
		{ .sType = VK_STRUCTURE_TYPE_CALIBRATED_TIMESTAMP_INFO_EXT,
		  .timeDomain = VK_TIME_DOMAIN_CLOCK_MONOTONIC_EXT },
	};
	uint64_t best_dev = UINT64_MAX;
	uint32_t bits;

	if (!dev || !out)
		return QVK_ERR_INVALID_ARG;
	memset(out, 0, sizeof(*out));
	bits = dev->info.timestamp_valid_bits;
	if (!dev->info.calibrated_timestamps || bits == 0 ||
	    !(dev->info.timestamp_period_ns > 0) || !isfinite(dev->info.timestamp_period_ns))
		return qvk_error(dev->ctx, QVK_ERR_UNSUPPORTED,
				 "gpu clock: %s has no VK_EXT_calibrated_timestamps or no valid timestamp bits",
				 dev->info.name);
	get_domains = (PFN_vkGetPhysicalDeviceCalibrateableTimeDomainsEXT)vkGetInstanceProcAddr(
		dev->inst.instance, "vkGetPhysicalDeviceCalibrateableTimeDomainsEXT");
	get_stamps = (PFN_vkGetCalibratedTimestampsEXT)vkGetDeviceProcAddr(
		dev->device, "vkGetCalibratedTimestampsEXT");
	if (!get_domains || !get_stamps || !qvk_gpu_clock_has_domains(dev, get_domains))
		return qvk_error(dev->ctx, QVK_ERR_UNSUPPORTED,
				 "gpu clock: %s cannot pair the device clock with CLOCK_MONOTONIC",
				 dev->info.name);

	for (int i = 0; i < QVK_GPU_CLOCK_TRIES; i++) {
		uint64_t stamps[2], deviation;
		qvk_status st = QVK_VK(dev->ctx, get_stamps(dev->device, 2, infos, stamps,
							     &deviation));

		if (st != QVK_OK)
			return st;
		if (deviation < best_dev) {
			best_dev = deviation;
			out->gpu_ticks = stamps[0];
			out->monotonic_ns = stamps[1];
		}
	}
	out->ns_per_tick = dev->info.timestamp_period_ns;
	out->tick_mask = bits >= 64 ? UINT64_MAX : (1ull << bits) - 1;
	out->max_deviation_ns = best_dev;
	return QVK_OK;
}

uint64_t qvk_gpu_clock_to_monotonic_ns(const struct qvk_gpu_clock_map *m,
				       uint64_t gpu_ticks)
{
	uint64_t ahead = (gpu_ticks - m->gpu_ticks) & m->tick_mask;
	uint64_t behind = (m->gpu_ticks - gpu_ticks) & m->tick_mask;

	/* More than half the counter's range ahead means behind. */
	if (ahead <= m->tick_mask / 2)
		return m->monotonic_ns + (uint64_t)llround((double)ahead * m->ns_per_tick);
	return m->monotonic_ns - (uint64_t)llround((double)behind * m->ns_per_tick);
}
