/* SPDX-License-Identifier: MIT */
/* The Vulkan instance, with the validation layer and its messenger on request. */
#include <stdlib.h>
#include <string.h>

#include "vk/vk.h"

static const char qvk_validation_layer[] = "VK_LAYER_KHRONOS_validation";

/*
 * Every validation message is a failure for qvk's tests: log it as an
 * error and count it so the caller can fail on a non-zero count.
 *
 * The loader reports through the same messenger (id name "Loader
 * Message", type GENERAL): e.g. an ICD manifest of another architecture
 * that multiarch packages install beside ours (mesa-vulkan-drivers:arm64
 * on an x86 host). That is the machine's setup, not a fault of qvk's
 * Vulkan usage: logged as a warning, not counted. A layer that fails to
 * load is still caught: the test that the messenger is live fails then.
 */
static bool qvk_is_loader_message(VkDebugUtilsMessageTypeFlagsEXT types,
				  const VkDebugUtilsMessengerCallbackDataEXT *data)
{
	return types == VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT && data &&
	       data->pMessageIdName &&
	       !strcmp(data->pMessageIdName, "Loader Message");
}

static VKAPI_ATTR VkBool32 VKAPI_CALL
qvk_debug_messenger(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
		    VkDebugUtilsMessageTypeFlagsEXT types,
		    const VkDebugUtilsMessengerCallbackDataEXT *data, void *user)
{
	struct qvk_instance *inst = user;

	if (qvk_is_loader_message(types, data)) {
		qvk_log(inst->ctx, QVK_LOG_WARN, "vulkan loader: %s",
			data->pMessage ? data->pMessage : "(no message)");
		return VK_FALSE;
	}
	__atomic_add_fetch(&inst->validation_messages, 1, __ATOMIC_RELAXED);
	qvk_log(inst->ctx, QVK_LOG_ERROR, "vulkan validation (%s): %s",
		severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT ?
			"error" : "warning",
		data && data->pMessage ? data->pMessage : "(no message)");
	return VK_FALSE;
}

static bool qvk_has_layer(const char *name)
{
	VkLayerProperties *props;
	uint32_t n = 0;
	bool found = false;

	if (vkEnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS || !n)
		return false;
	props = calloc(n, sizeof(*props));
	if (!props)
		return false;
	if (vkEnumerateInstanceLayerProperties(&n, props) == VK_SUCCESS)
		for (uint32_t i = 0; i < n && !found; i++)
			found = !strcmp(props[i].layerName, name);
	free(props);
	return found;
}

qvk_status qvk_instance_init(struct qvk_instance *inst, struct qvk_ctx *ctx,
			     bool validation)
{
	VkDebugUtilsMessengerCreateInfoEXT dbg = {
		.sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
		.messageSeverity =
			VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
			VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
		.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
			       VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
			       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
		.pfnUserCallback = qvk_debug_messenger,
		.pUserData = inst,
	};
	VkApplicationInfo app = {
		.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
		.pApplicationName = "qvk",
		.applicationVersion = 1,
		.pEngineName = "libqvk",
		.engineVersion = 1,
		.apiVersion = VK_API_VERSION_1_3,
	};
	const char *layers[] = { qvk_validation_layer };
	const char *exts[] = { VK_EXT_DEBUG_UTILS_EXTENSION_NAME };
	VkInstanceCreateInfo ci = {
		.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
		.pApplicationInfo = &app,
	};
	PFN_vkCreateDebugUtilsMessengerEXT create_messenger;
	const char *env = getenv("QVK_VALIDATION");
	qvk_status st;

	memset(inst, 0, sizeof(*inst));
	inst->ctx = ctx;
	if (env && !strcmp(env, "1"))
		validation = true;
	if (validation) {
		if (!qvk_has_layer(qvk_validation_layer))
			return qvk_error(ctx, QVK_ERR_UNSUPPORTED,
					 "validation requested but %s is not "
					 "installed (Debian package "
					 "vulkan-validationlayers)",
					 qvk_validation_layer);
		ci.enabledLayerCount = 1;
		ci.ppEnabledLayerNames = layers;
		ci.enabledExtensionCount = 1;
		ci.ppEnabledExtensionNames = exts;
		/* Also catches messages from instance creation itself. */
		ci.pNext = &dbg;
	}
	st = QVK_VK(ctx, vkCreateInstance(&ci, NULL, &inst->instance));
	if (st != QVK_OK)
		return st;
	if (validation) {
		create_messenger = (PFN_vkCreateDebugUtilsMessengerEXT)
			vkGetInstanceProcAddr(inst->instance,
					      "vkCreateDebugUtilsMessengerEXT");
		if (!create_messenger) {
			qvk_instance_finish(inst);
			return qvk_error(ctx, QVK_ERR_UNSUPPORTED,
					 "vkCreateDebugUtilsMessengerEXT is "
					 "missing");
		}
		st = QVK_VK(ctx, create_messenger(inst->instance, &dbg, NULL,
						  &inst->messenger));
		if (st != QVK_OK) {
			qvk_instance_finish(inst);
			return st;
		}
	}
	return QVK_OK;
}

void qvk_instance_finish(struct qvk_instance *inst)
{
	PFN_vkDestroyDebugUtilsMessengerEXT destroy_messenger;

	if (!inst->instance)
		return;
	if (inst->messenger) {
		destroy_messenger = (PFN_vkDestroyDebugUtilsMessengerEXT)
			vkGetInstanceProcAddr(inst->instance,
					      "vkDestroyDebugUtilsMessengerEXT");
		if (destroy_messenger)
			destroy_messenger(inst->instance, inst->messenger,
					  NULL);
	}
	vkDestroyInstance(inst->instance, NULL);
	inst->instance = VK_NULL_HANDLE;
}
