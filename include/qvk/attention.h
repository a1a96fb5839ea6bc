/* SPDX-License-Identifier: MIT */
/*
 * Attention on the device: which kernel a decode token's attention runs
 * (one workgroup per kv head over the whole context, or split-KV:
 * flash-decoding, the context cut into splits that run in parallel and are
 * merged) and which kernel a prefill chunk runs, as measured on first use,
 * and benchmarks of them.
 *
 * Thread-safety: as the device (include/qvk/device.h).
 */
#ifndef QVK_ATTENTION_H
#define QVK_ATTENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <qvk/device.h>

/*
 * What decode attention runs on @dev (tuning on first use, kept beside the
 * pipeline cache) and what was measured, into @buf.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_attention_describe(struct qvk_device *dev,
							 char *buf, size_t len);

/* One decode token attending @context positions with @splits. */
struct qvk_attention_timing {
	uint32_t context;
	uint32_t splits;    /* per kv head; 0: the one-pass kernel */
	double ms;          /* best of the repetitions, per token */
	double max_abs_err; /* against the C reference, checked first */
};

struct qvk_attention_bench_desc {
	uint32_t n_heads, n_kv_heads, head_dim; /* head_dim % 8 == 0, <= 256 */
	const uint32_t *contexts;               /* 1 .. 65536 positions */
	uint32_t n_contexts;
	const uint32_t *splits;                 /* 0 or 2 .. 64 */
	uint32_t n_splits;
	uint32_t reps;                          /* turns; the best counts */
	uint32_t calls;                         /* back to back per turn */
};

/*
 * Time one decode token of random q over a random fp16 cache for every
 * (context, splits) pair, in turns so that a busy spell of the machine
 * hits every kernel alike: @out[c * n_splits + s]. Each is checked against
 * the C reference before it is timed; a disagreement is an error
 * (QVK_ERR_NUMERIC). *@tuned_splits (may be NULL): the splits per kv head
 * that decode of this shape uses on @dev (0: one pass).
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_attention_bench(
	struct qvk_device *dev, const struct qvk_attention_bench_desc *d,
	struct qvk_attention_timing *out, uint32_t *tuned_splits);

/*
 * Prefill: @tokens new tokens after a cached prefix, the last attending
 * @context positions, with each prefill kernel: 0 attention.comp (the
 * cache read once per token), 1 attention_prefill.comp (subgroup
 * shuffles), 2 and 3 the tiled kernel at its large and small tiles.
 */
#define QVK_ATTENTION_PREFILL_KERNELS 4u
struct qvk_attention_prefill_timing {
	uint32_t context, tokens;
	const char *kernel; /* "onepass", "subgroup", "tiled", "tiled-small" */
	bool runs;          /* false: does not apply on this device (no ms) */
	double ms;          /* best of the repetitions, per chunk */
	double max_abs_err; /* against the C reference, checked first */
};

/*
 * Time a prefill chunk of @tokens (2..1024, <= every context) for every
 * context of @d and every kernel, in turns: @out[c * KERNELS + k]. Each
 * kernel that runs here is checked against the C reference first (a
 * disagreement is QVK_ERR_NUMERIC). @d->splits is not used. *@tuned (may
 * be NULL): the kernel prefill uses on @dev.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_attention_prefill_bench(
	struct qvk_device *dev, const struct qvk_attention_bench_desc *d,
	uint32_t tokens, struct qvk_attention_prefill_timing *out,
	const char **tuned);

#endif
