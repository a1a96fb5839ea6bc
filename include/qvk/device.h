/* SPDX-License-Identifier: MIT */
/*
 * Vulkan devices: enumeration with the facts that matter for quantized
 * inference, a deliberate choice of the default, and the logical device.
 *
 * Thread-safety: a qvk_device (its queue, memory suballocator and pools)
 * and everything created on it (matmuls, weights, llms) are used by one
 * thread at a time, together with the device's context. Two devices on two
 * contexts run in parallel, even on the same physical device; they may
 * share the pipeline cache file, which is replaced atomically.
 * qvk_device_list() only reads.
 */
#ifndef QVK_DEVICE_H
#define QVK_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

#include <qvk/ctx.h>

struct qvk_device;

enum qvk_device_type {
	QVK_DEVICE_DISCRETE,
	QVK_DEVICE_INTEGRATED,
	QVK_DEVICE_VIRTUAL,
	QVK_DEVICE_CPU,
	QVK_DEVICE_OTHER,
};

#define QVK_NAME_MAX 256

struct qvk_device_info {
	uint32_t index; /* position in vkEnumeratePhysicalDevices */
	char name[QVK_NAME_MAX];
	enum qvk_device_type type;
	uint32_t vendor_id, device_id;
	uint32_t api_version, driver_version;
	char driver_name[QVK_NAME_MAX]; /* VkPhysicalDeviceDriverProperties */
	char driver_info[QVK_NAME_MAX];
	uint8_t device_uuid[16];
	uint8_t driver_uuid[16];

	/* Features: each true only when the device reports it. */
	bool int_dot;                /* shaderIntegerDotProduct */
	bool int_dot_4x8_signed_accelerated;   /* packed 4x8-bit signed */
	bool int_dot_8bit_signed_accelerated;
	bool storage_8bit, storage_16bit; /* storageBuffer{8,16}BitAccess */
	bool int8, fp16;             /* shaderInt8, shaderFloat16 */
	bool int16, int64;
	bool subgroup_size_control, compute_full_subgroups;
	bool subgroup_arithmetic, subgroup_shuffle; /* in compute shaders */
	bool timestamps;             /* compute queue has valid bits */
	bool memory_budget;          /* VK_EXT_memory_budget */
	bool calibrated_timestamps;  /* VK_EXT_calibrated_timestamps */
	bool unified_memory;         /* device-local memory is host-visible */

	/* Limits everything above the device layer obeys. */
	uint32_t subgroup_size, min_subgroup_size, max_subgroup_size;
	uint64_t max_storage_buffer_range;
	/*
	 * Uniform texel buffers (maxTexelBufferElements): kernels may read
	 * weights and activations through R32G32B32A32_UINT, R32G32_UINT and
	 * R32_UINT views, which CPU devices turn into vector gathers where
	 * storage-buffer loads are per-lane loops. 0 when those formats are
	 * not supported.
	 */
	uint32_t max_texel_buffer_elements;
	uint64_t max_memory_allocation_size;
	uint64_t min_storage_buffer_offset_alignment;
	uint64_t device_local_heap_bytes; /* largest device-local heap */
	uint32_t max_shared_memory_bytes;
	uint32_t max_workgroup_invocations;
	uint32_t max_workgroup_size[3];
	uint32_t max_workgroup_count[3];
	uint32_t max_push_constants_bytes;
	uint32_t timestamp_valid_bits;
	float timestamp_period_ns;

	/* DRM node match through libdrm. */
	bool has_drm;
	char drm_render_node[64];    /* "/dev/dri/renderD128" */
	char drm_primary_node[64];
	char kernel_driver[64];      /* "amdgpu", "i915", ... */
	int kernel_driver_version[3];
	char pci_bus_id[32];         /* "0000:03:00.0" */
	uint32_t pci_vendor_id, pci_device_id;
	char drm_note[160];          /* why there is no node, or how matched */

	/* Selection. */
	bool usable;                 /* has a compute queue, Vulkan >= 1.2 */
	char skip_reason[160];       /* why it is unusable */
};

/*
 * Enumerate every Vulkan device. @infos is allocated (free() it);
 * @default_index is the device qvk_device_create() would pick with
 * @select = NULL (honouring QVK_DEVICE), or UINT32_MAX when QVK_DEVICE names
 * nothing, in which case the call still succeeds so the list can be shown.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_device_list(struct qvk_ctx *ctx,
					  struct qvk_device_info **infos,
					  uint32_t *count,
					  uint32_t *default_index);

struct qvk_device_options {
	/*
	 * Device by index ("1") or by case-insensitive name substring
	 * ("llvmpipe"). NULL: the QVK_DEVICE environment variable, else the best
	 * by type: discrete > integrated > virtual > CPU.
	 */
	const char *select;
	/*
	 * Enable VK_LAYER_KHRONOS_validation with a debug messenger that logs
	 * every message as an error and counts it. Also on when QVK_VALIDATION=1.
	 */
	bool validation;
	/* Force the fallback kernels even where integer dot product exists. */
	bool no_int_dot;
};

QVK_API QVK_MUST_CHECK qvk_status qvk_device_create(struct qvk_ctx *ctx,
					    const struct qvk_device_options *opt,
					    struct qvk_device **out);
QVK_API void qvk_device_destroy(struct qvk_device *dev);

QVK_API const struct qvk_device_info *qvk_device_info(const struct qvk_device *dev);

/* True when integer kernels use OpSDot; false for the fallback variant. */
QVK_API bool qvk_device_uses_int_dot(const struct qvk_device *dev);

/* Validation messages seen since creation (0 when validation is off). */
QVK_API uint32_t qvk_device_validation_messages(const struct qvk_device *dev);

/* Device-local memory in use by qvk, and the budget when known (else 0). */
QVK_API void qvk_device_memory_usage(const struct qvk_device *dev, uint64_t *used_bytes,
			     uint64_t *budget_bytes);

QVK_API const char *qvk_device_type_name(enum qvk_device_type type);

#endif
