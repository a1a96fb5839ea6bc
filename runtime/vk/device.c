/* SPDX-License-Identifier: MIT */
/* The logical device: features enabled when present, one compute queue. */
#include <stdlib.h>
#include <string.h>

#include "vk/vk.h"

static qvk_status qvk_enumerate(struct qvk_ctx *ctx, VkInstance instance,
				VkPhysicalDevice **pdevs, uint32_t *count)
{
	qvk_status st;

	*pdevs = NULL;
	*count = 0;
	st = QVK_VK(ctx, vkEnumeratePhysicalDevices(instance, count, NULL));
	if (st != QVK_OK || !*count)
		return st;
	*pdevs = calloc(*count, sizeof(**pdevs));
	if (!*pdevs)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "device list");
	st = QVK_VK(ctx, vkEnumeratePhysicalDevices(instance, count, *pdevs));
	if (st != QVK_OK) {
		free(*pdevs);
		*pdevs = NULL;
	}
	return st;
}

static qvk_status qvk_query_all(struct qvk_ctx *ctx, VkPhysicalDevice *pdevs,
				uint32_t count, struct qvk_device_info **infos)
{
	*infos = calloc(count ? count : 1, sizeof(**infos));
	if (!*infos)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "device info list");
	for (uint32_t i = 0; i < count; i++)
		qvk_device_info_query(ctx, pdevs[i], i, &(*infos)[i]);
	return QVK_OK;
}

qvk_status qvk_device_list(struct qvk_ctx *ctx, struct qvk_device_info **infos,
			   uint32_t *count, uint32_t *default_index)
{
	struct qvk_instance inst;
	VkPhysicalDevice *pdevs;
	qvk_status st;

	if (!infos || !count || !default_index)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "qvk_device_list: NULL output");
	*infos = NULL;
	st = qvk_instance_init(&inst, ctx, false);
	if (st != QVK_OK)
		return st;
	st = qvk_enumerate(ctx, inst.instance, &pdevs, count);
	if (st == QVK_OK)
		st = qvk_query_all(ctx, pdevs, *count, infos);
	if (st == QVK_OK &&
	    qvk_device_select(ctx, *infos, *count, NULL, default_index) !=
		    QVK_OK)
		*default_index = UINT32_MAX; /* the message says why */
	free(pdevs);
	qvk_instance_finish(&inst);
	return st;
}

static uint32_t qvk_compute_family(VkPhysicalDevice pdev)
{
	VkQueueFamilyProperties qf[16];
	uint32_t n = QVK_ARRAY_SIZE(qf), any = UINT32_MAX;

	vkGetPhysicalDeviceQueueFamilyProperties(pdev, &n, qf);
	/* Prefer a compute-only family: async compute engines on dGPUs. */
	for (uint32_t i = 0; i < n; i++) {
		if (!(qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT))
			continue;
		if (!(qf[i].queueFlags & VK_QUEUE_GRAPHICS_BIT) &&
		    qf[i].timestampValidBits)
			return i;
		if (any == UINT32_MAX)
			any = i;
	}
	return any;
}

static qvk_status qvk_create_logical(struct qvk_device *dev,
				     const struct qvk_pdev_exts *exts)
{
	const struct qvk_device_info *info = &dev->info;
	bool v13 = info->api_version >= VK_API_VERSION_1_3;
	VkPhysicalDeviceShaderIntegerDotProductFeatures dotf = {
		.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_INTEGER_DOT_PRODUCT_FEATURES,
		.shaderIntegerDotProduct = info->int_dot,
	};
	VkPhysicalDeviceSubgroupSizeControlFeatures sgf = {
		.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_SIZE_CONTROL_FEATURES,
		.subgroupSizeControl = info->subgroup_size_control,
		.computeFullSubgroups = info->compute_full_subgroups,
	};
	VkPhysicalDeviceVulkan12Features f12 = {
		.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
		.storageBuffer8BitAccess = info->storage_8bit,
		.shaderInt8 = info->int8,
		.shaderFloat16 = info->fp16,
	};
	VkPhysicalDeviceVulkan11Features f11 = {
		.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES,
		.pNext = &f12,
		.storageBuffer16BitAccess = info->storage_16bit,
	};
	VkPhysicalDeviceFeatures2 feats = {
		.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2,
		.pNext = &f11,
		.features = { .shaderInt16 = info->int16,
			      .shaderInt64 = info->int64 },
	};
	float prio = 1.0f;
	VkDeviceQueueCreateInfo qci = {
		.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
		.queueFamilyIndex = dev->queue_family,
		.queueCount = 1,
		.pQueuePriorities = &prio,
	};
	const char *ext_names[4];
	uint32_t n_ext = 0;
	VkDeviceCreateInfo dci = {
		.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
		.pNext = &feats,
		.queueCreateInfoCount = 1,
		.pQueueCreateInfos = &qci,
		.ppEnabledExtensionNames = ext_names,
	};

	/* On 1.2 devices the 1.3 features come from their extensions. */
	if (info->int_dot) {
		qvk_chain(&feats, &dotf);
		if (!v13)
			ext_names[n_ext++] =
				VK_KHR_SHADER_INTEGER_DOT_PRODUCT_EXTENSION_NAME;
	}
	if (info->subgroup_size_control) {
		qvk_chain(&feats, &sgf);
		if (!v13)
			ext_names[n_ext++] =
				VK_EXT_SUBGROUP_SIZE_CONTROL_EXTENSION_NAME;
	}
	if (exts->memory_budget)
		ext_names[n_ext++] = VK_EXT_MEMORY_BUDGET_EXTENSION_NAME;
	if (exts->calibrated_timestamps)
		ext_names[n_ext++] = VK_EXT_CALIBRATED_TIMESTAMPS_EXTENSION_NAME;
	dci.enabledExtensionCount = n_ext;
	return QVK_VK(dev->ctx, vkCreateDevice(dev->pdev, &dci, NULL,
					       &dev->device));
}

static qvk_status qvk_create_pools(struct qvk_device *dev)
{
	VkCommandPoolCreateInfo cpci = {
		.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
		.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
		.queueFamilyIndex = dev->queue_family,
	};
	/* Descriptor sets are written once per kernel binding and reused. */
	VkDescriptorPoolSize sizes[] = {
		{ VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 16384 },
		{ VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, 8192 },
	};
	VkDescriptorPoolCreateInfo dpci = {
		.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
		.flags = VK_DESCRIPTOR_POOL_CREATE_FREE_DESCRIPTOR_SET_BIT,
		.maxSets = 4096,
		.poolSizeCount = QVK_ARRAY_SIZE(sizes),
		.pPoolSizes = sizes,
	};
	qvk_status st;

	st = QVK_VK(dev->ctx, vkCreateCommandPool(dev->device, &cpci, NULL,
						  &dev->cmd_pool));
	if (st != QVK_OK)
		return st;
	return QVK_VK(dev->ctx, vkCreateDescriptorPool(dev->device, &dpci, NULL,
						       &dev->desc_pool));
}

qvk_status qvk_device_create(struct qvk_ctx *ctx,
			     const struct qvk_device_options *opt,
			     struct qvk_device **out)
{
	static const struct qvk_device_options defaults;
	struct qvk_device_info *infos = NULL;
	VkPhysicalDevice *pdevs = NULL;
	struct qvk_pdev_exts exts;
	struct qvk_device *dev;
	uint32_t count, chosen;
	qvk_status st;

	if (!out)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "qvk_device_create: NULL output");
	*out = NULL;
	if (!opt)
		opt = &defaults;
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "device");
	dev->ctx = ctx;
	st = qvk_instance_init(&dev->inst, ctx, opt->validation);
	if (st != QVK_OK)
		goto out_free_dev;
	st = qvk_enumerate(ctx, dev->inst.instance, &pdevs, &count);
	if (st == QVK_OK)
		st = qvk_query_all(ctx, pdevs, count, &infos);
	if (st == QVK_OK)
		st = qvk_device_select(ctx, infos, count, opt->select, &chosen);
	if (st != QVK_OK)
		goto out_destroy;
	dev->pdev = pdevs[chosen];
	dev->info = infos[chosen];
	dev->use_int_dot = dev->info.int_dot && !opt->no_int_dot;
	dev->queue_family = qvk_compute_family(dev->pdev);
	vkGetPhysicalDeviceMemoryProperties(dev->pdev, &dev->mem_props);
	st = qvk_pdev_exts_query(ctx, dev->pdev, &exts);
	if (st == QVK_OK)
		st = qvk_create_logical(dev, &exts);
	if (st != QVK_OK)
		goto out_destroy;
	vkGetDeviceQueue(dev->device, dev->queue_family, 0, &dev->queue);
	st = qvk_create_pools(dev);
	if (st == QVK_OK)
		st = qvk_memory_init(dev);
	if (st != QVK_OK)
		goto out_destroy;
	qvk_pipeline_cache_load(dev);
	qvk_log(ctx, QVK_LOG_INFO, "using %s with %s integer kernels",
		dev->info.name, dev->use_int_dot ? "OpSDot" : "fallback");
	free(pdevs);
	free(infos);
	*out = dev;
	return QVK_OK;

out_destroy:
	free(pdevs);
	free(infos);
	qvk_device_destroy(dev);
	return st;
out_free_dev:
	free(dev);
	return st;
}

void qvk_device_destroy(struct qvk_device *dev)
{
	if (!dev)
		return;
	if (dev->device) {
		vkDeviceWaitIdle(dev->device);
		qvk_pipeline_cache_save(dev);
		qvk_memory_finish(dev);
		vkDestroyDescriptorPool(dev->device, dev->desc_pool, NULL);
		vkDestroyCommandPool(dev->device, dev->cmd_pool, NULL);
		vkDestroyDevice(dev->device, NULL);
	}
	qvk_instance_finish(&dev->inst);
	free(dev);
}

const struct qvk_device_info *qvk_device_info(const struct qvk_device *dev)
{
	return &dev->info;
}

bool qvk_device_uses_int_dot(const struct qvk_device *dev)
{
	return dev->use_int_dot;
}

uint32_t qvk_device_validation_messages(const struct qvk_device *dev)
{
	return dev ? __atomic_load_n(&dev->inst.validation_messages,
				     __ATOMIC_RELAXED) :
		     0;
}
