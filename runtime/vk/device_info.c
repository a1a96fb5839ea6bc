/* SPDX-License-Identifier: MIT */
/* What a physical device offers: features, limits, memory, DRM node. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk/vk.h"

qvk_status qvk_pdev_exts_query(struct qvk_ctx *ctx, VkPhysicalDevice pdev,
			       struct qvk_pdev_exts *exts)
{
	VkExtensionProperties *props;
	uint32_t n = 0;
	qvk_status st;

	memset(exts, 0, sizeof(*exts));
	st = QVK_VK(ctx, vkEnumerateDeviceExtensionProperties(pdev, NULL, &n,
							      NULL));
	if (st != QVK_OK || !n)
		return st;
	props = calloc(n, sizeof(*props));
	if (!props)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "device extension list");
	st = QVK_VK(ctx, vkEnumerateDeviceExtensionProperties(pdev, NULL, &n,
							      props));
	for (uint32_t i = 0; st == QVK_OK && i < n; i++) {
		const char *e = props[i].extensionName;

		exts->int_dot_khr |=
			!strcmp(e, VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME);
		exts->subgroup_size_ctl_ext |=
			!strcmp(e, VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME);
		exts->memory_budget |=
			!strcmp(e, VK_EXT_MEMORY_BUDGET_EXTENSION_NAME);
		exts->calibrated_timestamps |=
			!strcmp(e, VK_EXT_CALIBRATED_TIMESTAMPS_EXTENSION_NAME);
		exts->drm |= !strcmp(e, VK_EXT_PHYSICAL_DEVICE_DRM_EXTENSION_NAME);
		exts->pci_bus_info |= !strcmp(e, VK_EXT_PCI_BUS_INFO_EXTENSION_NAME);
	}
	free(props);
	return st;
}

static enum qvk_device_type qvk_type_from_vk(VkPhysicalDeviceType t)
{
	switch (t) {
	case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
		return QVK_DEVICE_DISCRETE;
	case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
		return QVK_DEVICE_INTEGRATED;
	case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
		return QVK_DEVICE_VIRTUAL;
	case VK_PHYSICAL_DEVICE_TYPE_CPU:
		return QVK_DEVICE_CPU;
	default:
		return QVK_DEVICE_OTHER;
	}
}

const char *qvk_device_type_name(enum qvk_device_type type)
{
	static const char *const names[] = { "discrete", "integrated",
					     "virtual", "cpu", "other" };

	return (unsigned)type < QVK_ARRAY_SIZE(names) ? names[type] : "other";
}

static void qvk_query_memory(VkPhysicalDevice pdev,
			     struct qvk_device_info *info)
{
	const VkMemoryPropertyFlags unified =
		VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT |
		VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
		VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
	VkPhysicalDeviceMemoryProperties mp;
	uint32_t largest = UINT32_MAX;

	vkGetPhysicalDeviceMemoryProperties(pdev, &mp);
	for (uint32_t h = 0; h < mp.memoryHeapCount; h++)
		if ((mp.memoryHeaps[h].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) &&
		    mp.memoryHeaps[h].size > info->device_local_heap_bytes) {
			info->device_local_heap_bytes = mp.memoryHeaps[h].size;
			largest = h;
		}
	/*
	 * Unified memory: the main device-local heap itself is host-visible,
	 * so uploads can write in place. A small host-visible BAR window on a
	 * discrete GPU is not the largest heap and does not count.
	 */
	for (uint32_t t = 0; t < mp.memoryTypeCount; t++)
		if ((mp.memoryTypes[t].propertyFlags & unified) == unified &&
		    mp.memoryTypes[t].heapIndex == largest)
			info->unified_memory = true;
}

static bool qvk_has_compute_queue(VkPhysicalDevice pdev, uint32_t *ts_bits)
{
	VkQueueFamilyProperties qf[16];
	uint32_t n = QVK_ARRAY_SIZE(qf);
	bool found = false;

	vkGetPhysicalDeviceQueueFamilyProperties(pdev, &n, qf);
	for (uint32_t i = 0; i < n; i++)
		if (qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
			if (!found)
				*ts_bits = qf[i].timestampValidBits;
			found = true;
		}
	return found;
}

/* Mandatory in Vulkan for these formats, but checked: drivers have bugs. */
static bool qvk_uniform_texel_format(VkPhysicalDevice pdev, VkFormat fmt)
{
	VkFormatProperties fp;

	vkGetPhysicalDeviceFormatProperties(pdev, fmt, &fp);
	return fp.bufferFeatures & VK_FORMAT_FEATURE_UNIFORM_TEXEL_BUFFER_BIT;
}

void qvk_device_info_query(struct qvk_ctx *ctx, VkPhysicalDevice pdev,
			   uint32_t index, struct qvk_device_info *info)
{
	VkPhysicalDeviceShaderIntegerDotProductProperties dotp = {
		.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_PROPERTIES,
	};
	VkPhysicalDeviceSubgroupSizeControlProperties sgp = {
		.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_PROPERTIES,
	};
	VkPhysicalDeviceDrmPropertiesEXT drmp = {
		.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRM_PROPERTIES_EXT,
	};
	VkPhysicalDevicePCIBusInfoPropertiesEXT pcip = {
		.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PCI_BUS_INFO_PROPERTIES_EXT,
	};
	VkPhysicalDeviceVulkan12Properties p12 = {
		.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_PROPERTIES,
	};
	VkPhysicalDeviceVulkan11Properties p11 = {
		.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_PROPERTIES,
		.pNext = &p12,
	};
	VkPhysicalDeviceProperties2 props = {
		.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
	};
	VkPhysicalDeviceShaderIntegerDotProductFeatures dotf = {
		.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES,
	};
	VkPhysicalDeviceSubgroupSizeControlFeatures sgf = {
		.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES,
	};
	VkPhysicalDeviceVulkan12Features f12 = {
		.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
	};
	VkPhysicalDeviceVulkan11Features f11 = {
		.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES,
		.pNext = &f12,
	};
	VkPhysicalDeviceFeatures2 feats = {
		.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
	};
	const VkPhysicalDeviceLimits *lim = &props.properties.limits;
	struct qvk_drm_ids ids = { 0 };
	struct qvk_pdev_exts exts;
	VkPhysicalDeviceProperties base;
	bool v13, have_dot, have_sg;

	memset(info, 0, sizeof(*info));
	info->index = index;
	vkGetPhysicalDeviceProperties(pdev, &base);
	snprintf(info->name, sizeof(info->name), "%s", base.deviceName);
	info->type = qvk_type_from_vk(base.deviceType);
	info->vendor_id = base.vendorID;
	info->device_id = base.deviceID;
	info->api_version = base.apiVersion;
	info->driver_version = base.driverVersion;
	if (base.apiVersion < VK_API_VERSION_1_2) {
		snprintf(info->skip_reason, sizeof(info->skip_reason),
			 "Vulkan %u.%u < 1.2", VK_API_VERSION_MAJOR(base.apiVersion),
			 VK_API_VERSION_MINOR(base.apiVersion));
		return;
	}
	if (qvk_pdev_exts_query(ctx, pdev, &exts) != QVK_OK)
		memset(&exts, 0, sizeof(exts));
	v13 = base.apiVersion >= VK_API_VERSION_1_3;
	have_dot = v13 || exts.int_dot_khr;
	have_sg = v13 || exts.subgroup_size_ctl_ext;

	/* Chain only the structures the device can fill (valid usage). */
	props.pNext = &p11;
	if (have_dot) {
		qvk_chain(&props, &dotp);
	}
	if (have_sg) {
		qvk_chain(&props, &sgp);
	}
	if (exts.drm) {
		qvk_chain(&props, &drmp);
	}
	if (exts.pci_bus_info) {
		qvk_chain(&props, &pcip);
	}
	vkGetPhysicalDeviceProperties2(pdev, &props);
	feats.pNext = &f11;
	if (have_dot) {
		qvk_chain(&feats, &dotf);
	}
	if (have_sg) {
		qvk_chain(&feats, &sgf);
	}
	vkGetPhysicalDeviceFeatures2(pdev, &feats);

	snprintf(info->driver_name, sizeof(info->driver_name), "%s",
		 p12.driverName);
	snprintf(info->driver_info, sizeof(info->driver_info), "%s",
		 p12.driverInfo);
	memcpy(info->device_uuid, p11.deviceUUID, 16);
	memcpy(info->driver_uuid, p11.driverUUID, 16);

	info->int_dot = have_dot && dotf.shaderIntegerDotProduct;
	info->int_dot_4x8_signed_accelerated =
		info->int_dot &&
		dotp.integerDotProduct4x8BitPackedSignedAccelerated;
	info->int_dot_8bit_signed_accelerated =
		info->int_dot && dotp.integerDotProduct8BitSignedAccelerated;
	info->storage_8bit = f12.storageBuffer8BitAccess;
	info->storage_16bit = f11.storageBuffer16BitAccess;
	info->int8 = f12.shaderInt8;
	info->fp16 = f12.shaderFloat16;
	info->int16 = feats.features.shaderInt16;
	info->int64 = feats.features.shaderInt64;
	/* Only useful to qvk where compute pipelines may require a size. */
	info->subgroup_size_control = have_sg && sgf.subgroupSizeControl &&
				      (sgp.requiredSubgroupSizeStages &
				       VK_SHADER_STAGE_COMPUTE_BIT);
	info->compute_full_subgroups = have_sg && sgf.computeFullSubgroups;
	info->memory_budget = exts.memory_budget;
	info->calibrated_timestamps = exts.calibrated_timestamps;

	info->subgroup_size = p11.subgroupSize;
	if (p11.subgroupSupportedStages & VK_SHADER_STAGE_COMPUTE_BIT) {
		info->subgroup_arithmetic = p11.subgroupSupportedOperations &
					    VK_SUBGROUP_FEATURE_ARITHMETIC_BIT;
		info->subgroup_shuffle = p11.subgroupSupportedOperations &
					 VK_SUBGROUP_FEATURE_SHUFFLE_BIT;
	}
	info->min_subgroup_size = have_sg ? sgp.minSubgroupSize : p11.subgroupSize;
	info->max_subgroup_size = have_sg ? sgp.maxSubgroupSize : p11.subgroupSize;
	info->max_storage_buffer_range = lim->maxStorageBufferRange;
	if (qvk_uniform_texel_format(pdev, VK_FORMAT_R32G32B32A32_UINT) &&
	    qvk_uniform_texel_format(pdev, VK_FORMAT_R32G32_UINT) &&
	    qvk_uniform_texel_format(pdev, VK_FORMAT_R32_UINT))
		info->max_texel_buffer_elements = lim->maxTexelBufferElements;
	info->max_memory_allocation_size = p11.maxMemoryAllocationSize;
	info->min_storage_buffer_offset_alignment =
		lim->minStorageBufferOffsetAlignment;
	info->max_shared_memory_bytes = lim->maxComputeSharedMemorySize;
	info->max_workgroup_invocations = lim->maxComputeWorkGroupInvocations;
	for (int i = 0; i < 3; i++) {
		info->max_workgroup_size[i] = lim->maxComputeWorkGroupSize[i];
		info->max_workgroup_count[i] = lim->maxComputeWorkGroupCount[i];
	}
	info->max_push_constants_bytes = lim->maxPushConstantsSize;
	info->timestamp_period_ns = lim->timestampPeriod;
	qvk_query_memory(pdev, info);

	info->usable = qvk_has_compute_queue(pdev, &info->timestamp_valid_bits);
	info->timestamps = info->timestamp_valid_bits > 0 &&
			   lim->timestampComputeAndGraphics;
	if (!info->usable)
		snprintf(info->skip_reason, sizeof(info->skip_reason),
			 "no compute queue");

	ids.has_render = exts.drm && drmp.hasRender;
	ids.has_primary = exts.drm && drmp.hasPrimary;
	ids.render_major = drmp.renderMajor;
	ids.render_minor = drmp.renderMinor;
	ids.primary_major = drmp.primaryMajor;
	ids.primary_minor = drmp.primaryMinor;
	ids.has_pci = exts.pci_bus_info;
	ids.pci_domain = pcip.pciDomain;
	ids.pci_bus = pcip.pciBus;
	ids.pci_dev = pcip.pciDevice;
	ids.pci_func = pcip.pciFunction;
	qvk_drm_match(ctx, &ids, info);
}
