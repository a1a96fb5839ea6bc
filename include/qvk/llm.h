/* SPDX-License-Identifier: MIT */
/*
 * A Llama-style model on a Vulkan device, run token by token: every op of
 * the forward pass is a compute shader, the linear layers go through the
 * grouped integer matmuls of the chosen weight format.
 *
 * Decode records one command buffer per model and replays it for every
 * token; the token and its position reach the shaders through a small
 * host-written buffer, because push constants are frozen when recorded.
 * Prefill runs the prompt in batches through the same kernels with many
 * tokens per workgroup. Not thread-safe: one qvk_llm per thread.
 */
#ifndef QVK_LLM_H
#define QVK_LLM_H

#include <stdbool.h>
#include <stdint.h>

#include <qvk/device.h>
#include <qvk/model.h>

struct qvk_llm_options {
	enum qvk_weight_format format;
	uint32_t group;       /* 32, 64, 128, or 0 for one group per row */
	/*
	 * Tensors kept in higher precision: "GLOB=f16,GLOB=f32,..." with
	 * GGUF names ("output.weight", "blk.*.ffn_down.weight"; rules in
	 * include/qvk/format.h). NULL: none. A bad rule fails
	 * qvk_llm_create(); one that matches no linear layer is logged as a
	 * warning.
	 */
	const char *keep;
	uint32_t max_batch;   /* prefill tokens per batch (0: 64) */
	uint32_t max_seq;     /* KV cache positions (0: the model's seq_len) */
	bool profile;         /* GPU timestamps per kernel kind */
	/*
	 * fp32 KV cache (default fp16): twice the cache memory, no rounding of
	 * keys and values; what an exact comparison with an fp32 reference
	 * needs.
	 */
	bool kv_f32;
	/*
	 * int8 activations with one scale per token (ZeroQuant) instead of
	 * the default one per 32-element block, which is what llama.cpp does
	 * for Q8_0 weights (its Q8_0 activations, same rounding): finer, so
	 * closer to the float model and to llama.cpp, at a little matmul time.
	 */
	bool act_per_token;
	/*
	 * Decode attention: 0 as tuned for the device (split-KV where the
	 * split measured faster, qvk info shows the choice), 1 the one-pass
	 * kernel, >= 2 that many splits of each token's positions per kv
	 * head (at most 64; fewer where the cache is short).
	 */
	uint32_t attn_splits;
};

struct qvk_llm;

/*
 * Quantize (at load, with progress through the context) and upload
 * @model; @model must outlive nothing: the device holds its own copy.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_llm_create(
	struct qvk_device *dev, const struct qvk_model *model,
	const struct qvk_llm_options *opt, struct qvk_llm **out);
QVK_API void qvk_llm_destroy(struct qvk_llm *llm);

/*
 * Run @n tokens at positions pos0.. (positions before pos0 must have been
 * run; pos0 + n <= max_seq). @logits (n * vocab floats, may be NULL) gets
 * the logits of every token; @last (may be NULL) points at the last
 * token's, owned by @llm until the next call. n == 1 replays the
 * recorded decode command buffer; larger n runs batched prefill.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_llm_forward(struct qvk_llm *llm,
						  const uint32_t *tokens,
						  uint32_t n, uint32_t pos0,
						  float *logits,
						  const float **last);

/* Device memory held by the model (weights, KV cache, activations). */
QVK_API uint64_t qvk_llm_device_bytes(const struct qvk_llm *llm);
/* The format each linear layer actually got, e.g. "q8 g32 (output f16)". */
QVK_API const char *qvk_llm_describe(const struct qvk_llm *llm);

/* Accumulated GPU time per kernel kind (profile option). */
struct qvk_llm_profile_entry {
	const char *kind; /* "matmul", "attention", "rmsnorm", ... */
	double ms;
	uint64_t dispatches;
};
/* Up to @max entries; returns how many were filled. */
QVK_API uint32_t qvk_llm_profile(const struct qvk_llm *llm,
				 struct qvk_llm_profile_entry *entries,
				 uint32_t max);
/*
 * Start the sums afresh, e.g. after a warm-up: the first dispatch of a
 * kernel can include its JIT compilation on CPU devices (llvmpipe builds
 * shader variants when they first run).
 */
QVK_API void qvk_llm_profile_reset(struct qvk_llm *llm);

#endif
