/* SPDX-License-Identifier: MIT */
/*
 * Device memory: suballocated from large blocks, because drivers cap the
 * number of allocations (maxMemoryAllocationCount, often 4096) and make each
 * one slow. Blocks are min(256 MiB, maxMemoryAllocationSize); a request
 * bigger than half a block gets a dedicated allocation. First fit over a
 * sorted free list per block, neighbours merged on free.
 *
 * Before the driver is asked, every block is held to its heap's size and to
 * the budget (qvk_device_options.max_device_bytes or QVK_MAX_DEVICE_BYTES),
 * so a model too big for the device fails with a message naming the limit
 * instead of whatever the driver does past it (lavapipe's heap is host RAM,
 * which the kernel overcommits). Near a limit the shared block shrinks to
 * what is left.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk/vk.h"

#define QVK_BLOCK_BYTES_MAX (256ull << 20)

struct qvk_free_range {
	VkDeviceSize offset, size;
};

struct qvk_mem_block {
	struct qvk_mem_block *next;
	VkDeviceMemory memory;
	uint32_t type_index;
	enum qvk_mem_kind kind;
	bool dedicated;
	VkDeviceSize size_bytes;
	void *mapped;
	struct qvk_free_range *free; /* sorted by offset */
	uint32_t n_free, cap_free;
};

static const char *const qvk_mem_kind_names[] = { "device", "upload",
						  "readback" };

/* Memory type for @kind among @bits, best preference first. */
static uint32_t qvk_pick_type(const struct qvk_device *dev,
			      enum qvk_mem_kind kind, uint32_t bits)
{
	const VkMemoryPropertyFlags DL = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT,
				    HV = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT,
				    HC = VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
				    CA = VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
	VkMemoryPropertyFlags prefs[3][3] = {
		/* Unified memory: device-local and mappable, no staging. */
		[QVK_MEM_DEVICE] = { DL | HV | HC, DL, 0 },
		[QVK_MEM_UPLOAD] = { HV | HC, HV | HC, HV | HC },
		[QVK_MEM_READBACK] = { HV | HC | CA, HV | HC, HV | HC },
	};
	const VkPhysicalDeviceMemoryProperties *mp = &dev->mem_props;

	if (kind == QVK_MEM_DEVICE && !dev->info.unified_memory)
		prefs[kind][0] = DL;
	for (int p = 0; p < 3; p++) {
		VkMemoryPropertyFlags want = prefs[kind][p];

		if (!want)
			break;
		for (uint32_t t = 0; t < mp->memoryTypeCount; t++)
			if ((bits & (1u << t)) &&
			    (mp->memoryTypes[t].propertyFlags & want) == want)
				return t;
	}
	return UINT32_MAX;
}

qvk_status qvk_memory_init(struct qvk_device *dev, uint64_t max_bytes)
{
	VkDeviceSize cap = dev->info.max_memory_allocation_size;
	const char *env = getenv("QVK_MAX_DEVICE_BYTES");

	dev->mem.block_bytes = QVK_BLOCK_BYTES_MAX;
	if (cap && cap < dev->mem.block_bytes)
		dev->mem.block_bytes = cap;
	dev->mem.max_bytes = max_bytes;
	if (!max_bytes && env && *env) {
		unsigned long long v;
		char *end;

		/* Digits only: strtoull would take "-1", " 5" and "0x10". */
		errno = 0;
		v = strtoull(env, &end, 10);
		if (env[0] < '0' || env[0] > '9' || errno || *end || !v)
			return qvk_error(dev->ctx, QVK_ERR_INVALID_ARG,
					 "QVK_MAX_DEVICE_BYTES='%.40s' is not a "
					 "positive decimal byte count", env);
		dev->mem.max_bytes = v;
		dev->mem.budget_from_env = true;
	}
	return QVK_OK;
}

/* "%llu bytes" below 1 MiB, else MiB with one decimal. */
static const char *qvk_memory_size_text(char buf[32], uint64_t bytes)
{
	if (bytes < (1u << 20))
		snprintf(buf, 32, "%llu bytes", (unsigned long long)bytes);
	else
		snprintf(buf, 32, "%.1f MiB", (double)bytes / (1 << 20));
	return buf;
}

/* Bytes qvk may still take from @type's heap; from the budget. */
static VkDeviceSize qvk_memory_heap_left(const struct qvk_device *dev,
					 uint32_t type)
{
	uint32_t heap = dev->mem_props.memoryTypes[type].heapIndex;
	VkDeviceSize size = dev->mem_props.memoryHeaps[heap].size;

	return size - QVK_MIN(size, dev->mem.heap_held_bytes[heap]);
}

static VkDeviceSize qvk_memory_budget_left(const struct qvk_memory *m)
{
	return m->max_bytes ? m->max_bytes - QVK_MIN(m->max_bytes, m->held_bytes) :
			      UINT64_MAX;
}

/*
 * Refuse a block of @size on @type's heap that would take qvk past the
 * heap's size or the budget, naming which.
 */
static qvk_status qvk_memory_check_room(struct qvk_device *dev,
					enum qvk_mem_kind kind, uint32_t type,
					VkDeviceSize size)
{
	const struct qvk_memory *m = &dev->mem;
	uint32_t heap = dev->mem_props.memoryTypes[type].heapIndex;
	char a[32], b[32], c[32];

	if (size > qvk_memory_heap_left(dev, type))
		return qvk_error(dev->ctx, QVK_ERR_DEVICE_MEMORY,
				 "allocating %s of %s memory: past the size "
				 "of memory heap %u (%s, %s already held by "
				 "qvk)", qvk_memory_size_text(a, size),
				 qvk_mem_kind_names[kind], heap,
				 qvk_memory_size_text(b, dev->mem_props
							      .memoryHeaps[heap]
							      .size),
				 qvk_memory_size_text(c, m->heap_held_bytes[heap]));
	if (size > qvk_memory_budget_left(m))
		return qvk_error(dev->ctx, QVK_ERR_DEVICE_MEMORY,
				 "allocating %s of %s memory: past the budget "
				 "%s=%llu (%s already held)",
				 qvk_memory_size_text(a, size),
				 qvk_mem_kind_names[kind],
				 m->budget_from_env ? "QVK_MAX_DEVICE_BYTES" :
						      "max_device_bytes",
				 (unsigned long long)m->max_bytes,
				 qvk_memory_size_text(b, m->held_bytes));
	return QVK_OK;
}

static void qvk_block_destroy(struct qvk_device *dev, struct qvk_mem_block *b)
{
	uint32_t heap = dev->mem_props.memoryTypes[b->type_index].heapIndex;

	if (b->mapped)
		vkUnmapMemory(dev->device, b->memory);
	vkFreeMemory(dev->device, b->memory, NULL);
	dev->mem.held_bytes -= b->size_bytes;
	dev->mem.heap_held_bytes[heap] -= b->size_bytes;
	free(b->free);
	free(b);
}

void qvk_memory_finish(struct qvk_device *dev)
{
	struct qvk_mem_block *b = dev->mem.blocks, *next;

	for (; b; b = next) {
		next = b->next;
		qvk_block_destroy(dev, b);
	}
	dev->mem.blocks = NULL;
}

static qvk_status qvk_block_create(struct qvk_device *dev,
				   enum qvk_mem_kind kind, uint32_t type,
				   VkDeviceSize size, bool dedicated,
				   struct qvk_mem_block **out)
{
	VkMemoryAllocateInfo mai = {
		.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
		.allocationSize = size,
		.memoryTypeIndex = type,
	};
	struct qvk_mem_block *b;
	qvk_status st;

	st = qvk_memory_check_room(dev, kind, type, size);
	if (st != QVK_OK)
		return st;
	b = calloc(1, sizeof(*b));
	if (!b)
		return qvk_error(dev->ctx, QVK_ERR_NO_MEMORY, "memory block");
	b->free = malloc(sizeof(*b->free) * 4);
	if (!b->free) {
		free(b);
		return qvk_error(dev->ctx, QVK_ERR_NO_MEMORY, "memory block");
	}
	b->cap_free = 4;
	b->n_free = 1;
	b->free[0] = (struct qvk_free_range){ 0, size };
	b->size_bytes = size;
	b->type_index = type;
	b->kind = kind;
	b->dedicated = dedicated;
	st = QVK_VK(dev->ctx, vkAllocateMemory(dev->device, &mai, NULL,
					       &b->memory));
	if (st != QVK_OK) {
		qvk_error(dev->ctx, st, "allocating %llu MiB of %s memory: %s",
			  (unsigned long long)(size >> 20),
			  qvk_mem_kind_names[kind], qvk_ctx_message(dev->ctx));
		free(b->free);
		free(b);
		return st;
	}
	dev->mem.held_bytes += size;
	dev->mem.heap_held_bytes[dev->mem_props.memoryTypes[type].heapIndex] +=
		size;
	if (dev->mem_props.memoryTypes[type].propertyFlags &
	    VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) {
		st = QVK_VK(dev->ctx, vkMapMemory(dev->device, b->memory, 0,
						  VK_WHOLE_SIZE, 0,
						  &b->mapped));
		if (st != QVK_OK) {
			qvk_block_destroy(dev, b);
			return st;
		}
	}
	b->next = dev->mem.blocks;
	dev->mem.blocks = b;
	*out = b;
	return QVK_OK;
}

/*
 * First fit with alignment; splits the range it takes. 1: taken, 0: no
 * room in @b, -1: no host memory for the split (an error to report, not a
 * reason to allocate another device block).
 */
static int qvk_block_take(struct qvk_mem_block *b, VkDeviceSize size,
			  VkDeviceSize align, VkDeviceSize *offset)
{
	for (uint32_t i = 0; i < b->n_free; i++) {
		struct qvk_free_range *r = &b->free[i];
		VkDeviceSize start = QVK_ALIGN_UP(r->offset, align);
		VkDeviceSize end = r->offset + r->size;

		if (start > end || end - start < size)
			continue;
		if (start > r->offset && start + size < end) {
			struct qvk_free_range *grown;

			/* Two pieces remain: needs one more slot. */
			if (b->n_free == b->cap_free) {
				grown = realloc(b->free, sizeof(*grown) *
								 b->cap_free * 2);
				if (!grown)
					return -1;
				b->free = grown;
				b->cap_free *= 2;
				r = &b->free[i];
			}
			memmove(&b->free[i + 2], &b->free[i + 1],
				(b->n_free - i - 1) * sizeof(*r));
			b->n_free++;
			b->free[i + 1] = (struct qvk_free_range){
				start + size, end - start - size
			};
			r->size = start - r->offset;
		} else if (start > r->offset) {
			r->size = start - r->offset;
		} else if (start + size < end) {
			r->offset = start + size;
			r->size = end - r->offset;
		} else {
			memmove(r, r + 1, (b->n_free - i - 1) * sizeof(*r));
			b->n_free--;
		}
		*offset = start;
		return 1;
	}
	return 0;
}

static void qvk_block_give(struct qvk_mem_block *b, VkDeviceSize offset,
			   VkDeviceSize size)
{
	uint32_t i = 0;

	while (i < b->n_free && b->free[i].offset < offset)
		i++;
	/* cap_free >= n_free + 1 holds: every take that split grew it. */
	if (b->n_free == b->cap_free) {
		struct qvk_free_range *grown =
			realloc(b->free, sizeof(*grown) * b->cap_free * 2);

		if (!grown)
			return; /* the range leaks inside the block, safely */
		b->free = grown;
		b->cap_free *= 2;
	}
	memmove(&b->free[i + 1], &b->free[i], (b->n_free - i) * sizeof(*b->free));
	b->free[i] = (struct qvk_free_range){ offset, size };
	b->n_free++;
	if (i + 1 < b->n_free &&
	    b->free[i].offset + b->free[i].size == b->free[i + 1].offset) {
		b->free[i].size += b->free[i + 1].size;
		memmove(&b->free[i + 1], &b->free[i + 2],
			(b->n_free - i - 2) * sizeof(*b->free));
		b->n_free--;
	}
	if (i > 0 && b->free[i - 1].offset + b->free[i - 1].size ==
			     b->free[i].offset) {
		b->free[i - 1].size += b->free[i].size;
		memmove(&b->free[i], &b->free[i + 1],
			(b->n_free - i - 1) * sizeof(*b->free));
		b->n_free--;
	}
}

qvk_status qvk_memory_alloc(struct qvk_device *dev, enum qvk_mem_kind kind,
			    const VkMemoryRequirements *req,
			    struct qvk_alloc *out)
{
	uint32_t type = qvk_pick_type(dev, kind, req->memoryTypeBits);
	VkDeviceSize align = req->alignment ? req->alignment : 1;
	struct qvk_mem_block *b;
	VkDeviceSize offset = 0;
	qvk_status st;

	memset(out, 0, sizeof(*out));
	if (type == UINT32_MAX)
		return qvk_error(dev->ctx, QVK_ERR_UNSUPPORTED,
				 "no memory type for %s buffers",
				 qvk_mem_kind_names[kind]);
	if (req->size > dev->info.max_memory_allocation_size &&
	    dev->info.max_memory_allocation_size)
		return qvk_error(dev->ctx, QVK_ERR_DEVICE_MEMORY,
				 "%llu bytes exceed maxMemoryAllocationSize "
				 "%llu", (unsigned long long)req->size,
				 (unsigned long long)
					 dev->info.max_memory_allocation_size);
	if (req->size > dev->mem.block_bytes / 2) {
		st = qvk_block_create(dev, kind, type, req->size, true, &b);
		if (st != QVK_OK)
			return st;
		qvk_block_take(b, req->size, 1, &offset);
		goto out_fill;
	}
	for (b = dev->mem.blocks; b; b = b->next) {
		int taken = b->dedicated || b->type_index != type ? 0 :
			    qvk_block_take(b, req->size, align, &offset);

		if (taken > 0)
			goto out_fill;
		if (taken < 0)
			return qvk_error(dev->ctx, QVK_ERR_NO_MEMORY,
					 "device memory free list");
	}
	/* Near a limit: a smaller block, or the error naming the limit. */
	st = qvk_block_create(dev, kind, type,
			      QVK_MAX(QVK_MIN(dev->mem.block_bytes,
					      QVK_MIN(qvk_memory_heap_left(dev, type),
						      qvk_memory_budget_left(&dev->mem))),
				      req->size),
			      false, &b);
	if (st != QVK_OK)
		return st;
	if (qvk_block_take(b, req->size, align, &offset) <= 0)
		return qvk_error(dev->ctx, QVK_ERR_NO_MEMORY,
				 "device memory free list");
out_fill:
	out->block = b;
	out->memory = b->memory;
	out->offset = offset;
	out->size_bytes = req->size;
	out->mapped = b->mapped ? (char *)b->mapped + offset : NULL;
	dev->mem.used_bytes[kind] += req->size;
	return QVK_OK;
}

void qvk_memory_free(struct qvk_device *dev, struct qvk_alloc *alloc)
{
	struct qvk_mem_block *b = alloc->block, **link;

	if (!b)
		return;
	dev->mem.used_bytes[b->kind] -= alloc->size_bytes;
	qvk_block_give(b, alloc->offset, alloc->size_bytes);
	/* Give empty blocks back so a long session does not hoard memory. */
	if (b->n_free == 1 && b->free[0].size == b->size_bytes) {
		for (link = &dev->mem.blocks; *link != b; link = &(*link)->next)
			;
		*link = b->next;
		qvk_block_destroy(dev, b);
	}
	memset(alloc, 0, sizeof(*alloc));
}

uint32_t qvk_memory_block_count(const struct qvk_device *dev)
{
	uint32_t n = 0;

	for (const struct qvk_mem_block *b = dev->mem.blocks; b; b = b->next)
		n++;
	return n;
}

void qvk_device_memory_usage(const struct qvk_device *dev, uint64_t *used_bytes,
			     uint64_t *budget_bytes)
{
	VkPhysicalDeviceMemoryBudgetPropertiesEXT budget = {
		.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_BUDGET_PROPERTIES_EXT,
	};
	VkPhysicalDeviceMemoryProperties2 mp = {
		.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MEMORY_PROPERTIES_2,
		.pNext = &budget,
	};

	*used_bytes = 0;
	for (int k = 0; k < QVK_MEM_KIND_COUNT; k++)
		*used_bytes += dev->mem.used_bytes[k];
	*budget_bytes = 0;
	if (!dev->info.memory_budget)
		return;
	vkGetPhysicalDeviceMemoryProperties2(dev->pdev, &mp);
	for (uint32_t h = 0; h < mp.memoryProperties.memoryHeapCount; h++)
		if (mp.memoryProperties.memoryHeaps[h].flags &
		    VK_MEMORY_HEAP_DEVICE_LOCAL_BIT)
			*budget_bytes = QVK_MAX(*budget_bytes,
						budget.heapBudget[h]);
}
