/* SPDX-License-Identifier: MIT */
/*
 * libqvk private header for the Vulkan layer: the device object, memory
 * suballocation, buffers bound in pieces, pipelines and command buffers.
 */
#ifndef QVK_RUNTIME_VK_H
#define QVK_RUNTIME_VK_H

#include <stdbool.h>
#include <vulkan/vulkan.h>

#include <qvk/device.h>

#include "fault.h"
#include "internal.h"

/*
 * Convert a VkResult once, where it happens, keeping the call, file and
 * line. Returns QVK_OK for VK_SUCCESS (and VK_INCOMPLETE, which callers of
 * two-call enumerations handle themselves). In test builds the call may
 * be replaced by an injected failure (fault.h).
 */
qvk_status qvk_vk_result(struct qvk_ctx *ctx, VkResult res, const char *call,
			 const char *file, int line);
#define QVK_VK(ctx, call)                                                      \
	qvk_vk_result((ctx), QVK_FAULT_VK(#call, call), #call, __FILE__,       \
		      __LINE__)
const char *qvk_vk_result_name(VkResult res);

/* Insert structure @s right after @head in a Vulkan pNext chain. */
static inline void qvk_chain(void *head, void *s)
{
	((VkBaseOutStructure *)s)->pNext = ((VkBaseOutStructure *)head)->pNext;
	((VkBaseOutStructure *)head)->pNext = s;
}

/* ---------------------------------------------------------- instance */
struct qvk_instance {
	VkInstance instance;
	VkDebugUtilsMessengerEXT messenger;
	uint32_t validation_messages; /* counted by the messenger */
	struct qvk_ctx *ctx;
};

qvk_status qvk_instance_init(struct qvk_instance *inst, struct qvk_ctx *ctx,
			     bool validation);
void qvk_instance_finish(struct qvk_instance *inst);

/* Device extensions qvk uses when present. */
struct qvk_pdev_exts {
	bool int_dot_khr;           /* VK_KHR_shader_integer_dot_product */
	bool subgroup_size_ctl_ext; /* VK_EXT_subgroup_size_control */
	bool memory_budget;         /* VK_EXT_memory_budget */
	bool calibrated_timestamps; /* VK_EXT_calibrated_timestamps */
	bool drm;                   /* VK_EXT_physical_device_drm */
	bool pci_bus_info;          /* VK_EXT_pci_bus_info */
};
qvk_status qvk_pdev_exts_query(struct qvk_ctx *ctx, VkPhysicalDevice pdev,
			       struct qvk_pdev_exts *exts);

/* Fill @info for @pdev (features, limits, memory, DRM match). */
void qvk_device_info_query(struct qvk_ctx *ctx, VkPhysicalDevice pdev,
			   uint32_t index, struct qvk_device_info *info);
/* What Vulkan itself says about the device's DRM node and PCI address. */
struct qvk_drm_ids {
	bool has_render, has_primary; /* VK_EXT_physical_device_drm */
	int64_t render_major, render_minor, primary_major, primary_minor;
	bool has_pci;                 /* VK_EXT_pci_bus_info */
	uint32_t pci_domain, pci_bus, pci_dev, pci_func;
};
/* Match @info to a DRM node through libdrm; fills the drm_* fields. */
void qvk_drm_match(struct qvk_ctx *ctx, const struct qvk_drm_ids *ids,
		   struct qvk_device_info *info);

/*
 * Choose among @infos: @select (index or name substring, NULL for the env
 * QVK_DEVICE, else best type). Logs why each was chosen or skipped. On a
 * bad selection returns QVK_ERR_NOT_FOUND with the list of devices.
 */
qvk_status qvk_device_select(struct qvk_ctx *ctx,
			     const struct qvk_device_info *infos,
			     uint32_t count, const char *select,
			     uint32_t *chosen);

/* ------------------------------------------------------------ memory */
enum qvk_mem_kind {
	QVK_MEM_DEVICE,   /* device-local; host-visible too on unified memory */
	QVK_MEM_UPLOAD,   /* host-visible, coherent: staging and uniforms */
	QVK_MEM_READBACK, /* host-visible, cached when available */
	QVK_MEM_KIND_COUNT,
};

struct qvk_mem_block;

/* A suballocation: memory + offset, mapped when host-visible. */
struct qvk_alloc {
	struct qvk_mem_block *block;
	VkDeviceMemory memory;
	VkDeviceSize offset, size_bytes;
	void *mapped; /* NULL unless host-visible */
};

struct qvk_memory {
	VkDeviceSize block_bytes;     /* size of shared blocks */
	struct qvk_mem_block *blocks; /* singly linked */
	uint64_t used_bytes[QVK_MEM_KIND_COUNT]; /* suballocated */
	uint64_t max_bytes;                      /* budget; 0: none */
	bool budget_from_env;                    /* QVK_MAX_DEVICE_BYTES */
	uint64_t held_bytes;                     /* in blocks, all heaps */
	uint64_t heap_held_bytes[VK_MAX_MEMORY_HEAPS];
};

/* @max_bytes: qvk_device_options.max_device_bytes (0: QVK_MAX_DEVICE_BYTES). */
qvk_status qvk_memory_init(struct qvk_device *dev, uint64_t max_bytes);
void qvk_memory_finish(struct qvk_device *dev);
qvk_status qvk_memory_alloc(struct qvk_device *dev, enum qvk_mem_kind kind,
			    const VkMemoryRequirements *req,
			    struct qvk_alloc *out);
void qvk_memory_free(struct qvk_device *dev, struct qvk_alloc *alloc);
/* Device memory blocks currently held (for tests of the suballocator). */
uint32_t qvk_memory_block_count(const struct qvk_device *dev);

/* ----------------------------------------------------------- buffers */
/*
 * A storage buffer of any size, bound as pieces no larger than the
 * device's maxStorageBufferRange (128 MiB on lavapipe). Each piece starts at
 * a multiple of piece_align bytes of the logical buffer, so a kernel can
 * be given whole rows or blocks per piece.
 */
struct qvk_buffer_piece {
	VkBuffer buffer;
	struct qvk_alloc alloc;
	VkDeviceSize offset_bytes; /* where this piece starts in the buffer */
	VkDeviceSize size_bytes;
};

struct qvk_buffer {
	struct qvk_device *dev;
	enum qvk_mem_kind kind;
	VkDeviceSize size_bytes;
	VkDeviceSize piece_bytes; /* size of every piece but the last */
	uint32_t n_pieces;
	struct qvk_buffer_piece *pieces;
};

qvk_status qvk_buffer_create(struct qvk_device *dev, enum qvk_mem_kind kind,
			     VkDeviceSize size_bytes, VkDeviceSize piece_align,
			     struct qvk_buffer **out);
void qvk_buffer_destroy(struct qvk_buffer *buf);
/* Host pointer to the whole piece @i, or NULL if not host-visible. */
void *qvk_buffer_piece_map(const struct qvk_buffer *buf, uint32_t i);
/*
 * A uniform texel buffer view of the whole piece @i as @format (@texel_bytes
 * per element); QVK_ERR_UNSUPPORTED past maxTexelBufferElements.
 */
qvk_status qvk_buffer_view_create(const struct qvk_buffer *buf, uint32_t i,
				  VkFormat format, uint32_t texel_bytes,
				  VkBufferView *out);
void qvk_buffer_view_destroy(struct qvk_device *dev, VkBufferView view);
/* Copy host data in/out across pieces (host-visible buffers only). */
qvk_status qvk_buffer_write(struct qvk_buffer *buf, VkDeviceSize offset,
			    const void *src, VkDeviceSize size_bytes);
qvk_status qvk_buffer_read(const struct qvk_buffer *buf, VkDeviceSize offset,
			   void *dst, VkDeviceSize size_bytes);
/*
 * Copy host data into any buffer: written in place when mapped (unified
 * memory), else through a staging buffer and a transfer.
 */
qvk_status qvk_buffer_upload(struct qvk_buffer *dst, VkDeviceSize offset,
			     const void *src, VkDeviceSize size_bytes);
/*
 * Any buffer to the host, always through a transfer into a staging
 * buffer, after the compute work submitted before (device-local memory of
 * a discrete GPU included).
 */
qvk_status qvk_buffer_download(const struct qvk_buffer *src,
			       VkDeviceSize offset, void *dst,
			       VkDeviceSize size_bytes);
/* Zero any buffer on the device, before the compute work submitted after. */
qvk_status qvk_buffer_zero(struct qvk_buffer *buf);
/* Fill with a 32-bit pattern (host-visible): the poison before a test run. */
void qvk_buffer_fill_u32(struct qvk_buffer *buf, uint32_t pattern);

/* --------------------------------------------------------- pipelines */
#define QVK_MAX_BINDINGS 12
#define QVK_MAX_SPEC 16

struct qvk_pipeline_desc {
	const char *shader;   /* embedded module name without variant suffix */
	bool int_variants;    /* built as NAME_intdot / NAME_fallback */
	uint32_t n_bindings;  /* storage buffers 0..n-1 in set 0 */
	/*
	 * Bit i: binding i is a uniform texel buffer instead (a view in its
	 * struct qvk_binding; the shader reads it as a usamplerBuffer).
	 */
	uint32_t texel_bindings;
	uint32_t push_bytes;  /* push constant block size */
	uint32_t n_spec;      /* specialization constants 0..n-1 (uint32) */
	uint32_t spec[QVK_MAX_SPEC];
	uint32_t subgroup_size; /* required subgroup size, 0 = any */
};

struct qvk_pipeline {
	struct qvk_device *dev;
	VkDescriptorSetLayout set_layout;
	VkPipelineLayout layout;
	VkPipeline pipeline;
	uint32_t n_bindings, push_bytes, texel_bindings;
};

qvk_status qvk_pipeline_create(struct qvk_device *dev,
			       const struct qvk_pipeline_desc *desc,
			       struct qvk_pipeline **out);
void qvk_pipeline_destroy(struct qvk_pipeline *pipe);

/* Find an embedded SPIR-V module by full name; NULL if absent. */
const struct qvk_spirv *qvk_spirv_find(const char *name);

/* A descriptor set of the pipeline's layout, written once, reused. */
struct qvk_binding {
	const struct qvk_buffer *buf;
	uint32_t piece;
	VkDeviceSize offset_bytes; /* within the piece */
	VkDeviceSize range_bytes;  /* VK_WHOLE_SIZE for the rest of the piece */
	VkBufferView view;         /* texel bindings: the view (buf unused) */
};

qvk_status qvk_descset_create(struct qvk_pipeline *pipe,
			      const struct qvk_binding *bindings,
			      VkDescriptorSet *out);

/* Give descriptor sets back to the device's pool. */
void qvk_descset_free(struct qvk_device *dev, VkDescriptorSet *sets,
		      uint32_t n);

/* ---------------------------------------------------------- commands */
struct qvk_cmd {
	struct qvk_device *dev;
	VkCommandBuffer cb;
	VkFence fence;
	VkQueryPool timestamps; /* optional: qvk_cmd_timestamps_init() */
	uint32_t n_timestamps;
};

qvk_status qvk_cmd_init(struct qvk_device *dev, struct qvk_cmd *cmd);
void qvk_cmd_finish(struct qvk_cmd *cmd);
qvk_status qvk_cmd_begin(struct qvk_cmd *cmd);
void qvk_cmd_dispatch(struct qvk_cmd *cmd, const struct qvk_pipeline *pipe,
		      VkDescriptorSet set, const void *push, uint32_t gx,
		      uint32_t gy, uint32_t gz);
/* Make compute writes visible to later compute reads (and host reads). */
void qvk_cmd_barrier(struct qvk_cmd *cmd);
/*
 * GPU timestamps (devices with timestamps on the compute queue): @n query
 * slots, reset by qvk_cmd_timestamps_reset() (record it first), written by
 * qvk_cmd_timestamp() after all earlier work, read back in nanoseconds.
 */
qvk_status qvk_cmd_timestamps_init(struct qvk_cmd *cmd, uint32_t n);
void qvk_cmd_timestamps_reset(struct qvk_cmd *cmd);
void qvk_cmd_timestamp(struct qvk_cmd *cmd, uint32_t slot);
qvk_status qvk_cmd_timestamps_read_ns(struct qvk_cmd *cmd, uint32_t n,
				      double *ns);

/* End, submit, wait. The command buffer may be submitted again. */
qvk_status qvk_cmd_submit_wait(struct qvk_cmd *cmd, bool end_first);

/* ------------------------------------------------------------ device */
struct qvk_device {
	struct qvk_ctx *ctx;
	struct qvk_instance inst;
	VkPhysicalDevice pdev;
	struct qvk_device_info info;
	VkDevice device;
	uint32_t queue_family;
	VkQueue queue;
	VkCommandPool cmd_pool;
	VkDescriptorPool desc_pool;
	VkPipelineCache pipeline_cache;
	char pipeline_cache_path[512];
	bool use_int_dot;
	/*
	 * The grouped matmul kernels tuned on this device (matmul/mm_tune.c:
	 * struct qvk_mm_choice per kind, and what was measured), once per
	 * process.
	 */
	bool mm_tuned;
	uint32_t mm_choice[8];
	uint32_t mm_prefill[4]; /* struct qvk_mm's prefill per kind */
	char mm_tune_note[1024];
	/*
	 * Split-KV decode attention tuned on this device (ops/attn_tune.c:
	 * pass-1 workgroups wanted, 0 for the one-pass kernel, and what was
	 * measured), once per process.
	 */
	bool attn_tuned;
	uint32_t attn_split_wgs;
	uint32_t attn_prefill; /* enum qvk_attn_prefill of ops/ops.h */
	char attn_tune_note[512];
	struct qvk_memory mem;
	VkPhysicalDeviceMemoryProperties mem_props;
};

/* Pipeline cache on disk, keyed by device UUID and driver version. */
void qvk_pipeline_cache_load(struct qvk_device *dev);
void qvk_pipeline_cache_save(struct qvk_device *dev);
/* mkdir -p @dir (modified in place and restored); errors are ignored. */
void qvk_cache_mkdir(char *dir);
/*
 * A file beside the pipeline cache (the tunings): its path minus the
 * extension, then @suffix ("-attention.tune"); false without a cache path.
 */
bool qvk_cache_sibling_path(const struct qvk_device *dev, const char *suffix,
			    char *path, size_t len);
/*
 * @text as the whole of @path, replaced atomically, its folder created.
 * A cache: failures are logged (under @what) and otherwise ignored, and the
 * context's last message is kept.
 */
void qvk_cache_text_save(struct qvk_device *dev, const char *path,
			 const char *text, const char *what);

#endif
