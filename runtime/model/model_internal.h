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

/* RoPE scaling keys that turn into factors once the tensors are known. */
struct qvk_rope_scaling {
	bool llama3; /* rope.scaling.type "llama3": factors from these keys */
	float factor, low_freq_factor, high_freq_factor;
	uint32_t orig_ctx;
};

/* Architecture and every hyper-parameter of @g (model_hparams.c). */
qvk_status qvk_model_gguf_params(struct qvk_ctx *ctx, const struct qvk_gguf *g,
				 struct qvk_model_params *hp,
				 struct qvk_rope_scaling *rs);
/*
 * The model's RoPE factors from rope_freqs.weight (@freqs), LongRoPE's
 * rope_factors_short/long.weight, or the llama3 keys; any may be NULL.
 */
qvk_status qvk_model_rope_setup(struct qvk_ctx *ctx, struct qvk_model *m,
				const struct qvk_rope_scaling *rs,
				const struct qvk_host_tensor *freqs,
				const struct qvk_host_tensor *f_short,
				const struct qvk_host_tensor *f_long);

#define QVK_GGUF_MAGIC 0x46554747u /* "GGUF" read little-endian */

/* The context a writer reports its errors to (gguf_write.c). */
struct qvk_ctx *qvk_gguf_writer_ctx(const struct qvk_gguf_writer *w);

/* Size in bytes of one fixed-size GGUF value; 0 for STRING/ARRAY/unknown. */
size_t qvk_gguf_type_size(uint32_t type);

/* mmap @path read-only; *size_bytes is the file size (> 0). */
qvk_status qvk_map_file(struct qvk_ctx *ctx, const char *path, void **map,
			size_t *size_bytes);
void qvk_unmap_file(void *map, size_t size_bytes);

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
