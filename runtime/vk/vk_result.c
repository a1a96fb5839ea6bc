/* SPDX-License-Identifier: MIT */
/* VkResult to qvk_status, once, at the failing call. */
#include <string.h>

#include "vk/vk.h"

const char *qvk_vk_result_name(VkResult res)
{
	switch (res) {
#define QVK_VK_NAME(r)                                                         \
	case r:                                                                \
		return #r;
		QVK_VK_NAME(VK_SUCCESS)
		QVK_VK_NAME(VK_NOT_READY)
		QVK_VK_NAME(VK_TIMEOUT)
		QVK_VK_NAME(VK_INCOMPLETE)
		QVK_VK_NAME(VK_ERROR_OUT_OF_HOST_MEMORY)
		QVK_VK_NAME(VK_ERROR_OUT_OF_DEVICE_MEMORY)
		QVK_VK_NAME(VK_ERROR_INITIALIZATION_FAILED)
		QVK_VK_NAME(VK_ERROR_DEVICE_LOST)
		QVK_VK_NAME(VK_ERROR_MEMORY_MAP_FAILED)
		QVK_VK_NAME(VK_ERROR_LAYER_NOT_PRESENT)
		QVK_VK_NAME(VK_ERROR_EXTENSION_NOT_PRESENT)
		QVK_VK_NAME(VK_ERROR_FEATURE_NOT_PRESENT)
		QVK_VK_NAME(VK_ERROR_INCOMPATIBLE_DRIVER)
		QVK_VK_NAME(VK_ERROR_TOO_MANY_OBJECTS)
		QVK_VK_NAME(VK_ERROR_FORMAT_NOT_SUPPORTED)
		QVK_VK_NAME(VK_ERROR_FRAGMENTED_POOL)
		QVK_VK_NAME(VK_ERROR_UNKNOWN)
		QVK_VK_NAME(VK_ERROR_OUT_OF_POOL_MEMORY)
		QVK_VK_NAME(VK_ERROR_INVALID_EXTERNAL_HANDLE)
		QVK_VK_NAME(VK_ERROR_FRAGMENTATION)
		QVK_VK_NAME(VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS)
		QVK_VK_NAME(VK_PIPELINE_COMPILE_REQUIRED)
#undef QVK_VK_NAME
	default:
		return "VkResult(unknown)";
	}
}

qvk_status qvk_vk_result(struct qvk_ctx *ctx, VkResult res, const char *call,
			 const char *file, int line)
{
	qvk_status st;

	if (res == VK_SUCCESS || res == VK_INCOMPLETE)
		return QVK_OK;
	switch (res) {
	case VK_ERROR_OUT_OF_HOST_MEMORY:
		st = QVK_ERR_NO_MEMORY;
		break;
	case VK_ERROR_OUT_OF_DEVICE_MEMORY:
	case VK_ERROR_TOO_MANY_OBJECTS:
	case VK_ERROR_FRAGMENTATION:
		st = QVK_ERR_DEVICE_MEMORY;
		break;
	case VK_ERROR_DEVICE_LOST:
		st = QVK_ERR_DEVICE_LOST;
		break;
	case VK_ERROR_LAYER_NOT_PRESENT:
	case VK_ERROR_EXTENSION_NOT_PRESENT:
	case VK_ERROR_FEATURE_NOT_PRESENT:
	case VK_ERROR_INCOMPATIBLE_DRIVER:
		st = QVK_ERR_UNSUPPORTED;
		break;
	default:
		st = QVK_ERR_VULKAN;
		break;
	}
	/* Name the function, not its whole argument list. */
	return qvk_error(ctx, st, "%.*s failed with %s (%d) at %s:%d",
			 (int)strcspn(call, "("), call, qvk_vk_result_name(res),
			 (int)res, file, line);
}
