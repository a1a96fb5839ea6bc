/* SPDX-License-Identifier: MIT */
/* Private header of runtime/model/: the GGUF reader's state and helpers. */
#ifndef QVK_RUNTIME_MODEL_INTERNAL_H
#define QVK_RUNTIME_MODEL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <qvk/model.h>
#include <qvk/tokenizer.h>

#include "../internal.h"

struct qvk_gguf {
	const uint8_t *base; /* the whole file */
	size_t size_bytes;
	void *map;           /* our mmap, or NULL for qvk_gguf_open_memory() */
	uint32_t version;
	uint32_t alignment;
	uint64_t n_kv;
	struct qvk_gguf_kv *kvs;        /* [n_kv] */
	uint64_t n_tensors;
	struct qvk_host_tensor *tensors; /* [n_tensors] */
	uint64_t data_offset;           /* start of the tensor data section */
};

/* Size in bytes of one fixed-size GGUF value; 0 for STRING/ARRAY/unknown. */
size_t qvk_gguf_type_size(uint32_t type);

/* mmap @path read-only; *size_bytes is the file size (> 0). */
qvk_status qvk_map_file(struct qvk_ctx *ctx, const char *path, void **map,
			size_t *size_bytes);
void qvk_unmap_file(void *map, size_t size_bytes);

/* Size in bytes of a tensor of @type and @ne, false on overflow/bad shape. */
bool qvk_ggml_tensor_size(uint32_t type, uint32_t n_dims, const uint64_t *ne,
			  uint64_t *size_bytes);

/* Little-endian loads from unaligned file bytes. */
static inline uint32_t qvk_load_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static inline uint64_t qvk_load_u64(const uint8_t *p)
{
	return (uint64_t)qvk_load_u32(p) | (uint64_t)qvk_load_u32(p + 4) << 32;
}

static inline float qvk_load_f32(const uint8_t *p)
{
	union { uint32_t u; float f; } v = { .u = qvk_load_u32(p) };

	return v.f;
}

#endif
