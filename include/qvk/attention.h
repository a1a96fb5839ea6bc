/* SPDX-License-Identifier: MIT */
/*
 * Decode attention on the device: which kernel a token's attention runs
 * (one workgroup per kv head over the whole context, or split-KV:
 * flash-decoding, the context cut into splits that run in parallel and are
 * merged), as measured on first use, and a benchmark of both.
 *
 * Thread-safety: as the device (include/qvk/device.h).
 */
#ifndef QVK_ATTENTION_H
#define QVK_ATTENTION_H

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

#endif
