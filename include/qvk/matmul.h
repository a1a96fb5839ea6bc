/* SPDX-License-Identifier: MIT */
/*
 * Grouped integer matmuls on the device: Y (m, n) = X (m, k) · Wᵀ with W
 * quantized group-wise (Q8, Q4, Q4A; include/qvk/quant.h) and X quantized
 * per token to int8, or W in fp32/fp16 as the baseline.
 *
 * Upload once, bind once, run many times: a qvk_matmul_run holds the
 * descriptor sets and device buffers for its weights and up to max_m
 * tokens, so running it never rebuilds pipelines or descriptor sets.
 *
 * Thread-safety: none of these objects is; they belong to their device
 * and are used on the device's thread (include/qvk/device.h).
 */
#ifndef QVK_MATMUL_H
#define QVK_MATMUL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <qvk/device.h>
#include <qvk/kquant.h>
#include <qvk/quant.h>

struct qvk_matmul; /* the kernels of one device */
struct qvk_weight; /* a weight matrix in device memory */
struct qvk_matmul_run;

QVK_API QVK_MUST_CHECK qvk_status qvk_matmul_create(struct qvk_device *dev,
						    struct qvk_matmul **out);
QVK_API void qvk_matmul_destroy(struct qvk_matmul *mm);

/*
 * The kernel each grouped format (Q8, Q4, Q4A) runs on this device, chosen
 * at qvk_matmul_create from timings measured there (each candidate checked
 * exactly against the C reference first; kept beside the pipeline cache),
 * and what was measured: one line into @buf.
 */
QVK_API void qvk_matmul_describe(const struct qvk_matmul *mm, char *buf,
				 size_t len);
/*
 * Run every grouped format on one kernel instead, for runs created
 * afterwards (benchmarks): @shader "matmul_q" (rows per invocation),
 * "matmul_q_sg" (a subgroup per row) or "matmul_q_texel" (rows per
 * invocation through texel buffers), @rows_per_invocation 1, 2 or 4 (1
 * for matmul_q_sg); NULL: the device type's default, what ran before
 * tuning. QVK_ERR_UNSUPPORTED where the device cannot run it.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_matmul_set_kernel(
	struct qvk_matmul *mm, const char *shader,
	uint32_t rows_per_invocation);
/*
 * Prefill (more than one token) of the grouped formats with groups of 32,
 * 64 or 128: the tiles of the shared-memory kernel matmul_q_tiled this
 * device's limits allow (numbered 1..count), tile @tile's name
 * ("64x32/4x2": rows x tokens a workgroup / an invocation; "decode" for
 * 0), and running every format's prefill on it for runs created
 * afterwards (0: the decode kernel at 8 tokens a workgroup).
 */
QVK_API uint32_t qvk_matmul_tile_count(const struct qvk_matmul *mm);
QVK_API void qvk_matmul_tile_name(const struct qvk_matmul *mm, uint32_t tile,
				  char *buf, size_t len);
QVK_API QVK_MUST_CHECK qvk_status qvk_matmul_set_prefill(
	struct qvk_matmul *mm, uint32_t tile);

/*
 * Upload a quantized tensor (staging copy, or written in place on unified
 * memory). Tensors past maxStorageBufferRange are bound in pieces of whole
 * rows.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_weight_upload(struct qvk_matmul *mm,
						    const struct qvk_qtensor *qt,
						    struct qvk_weight **out);
/* K-quant/IQ4 weights (include/qvk/kquant.h), blocks as stored. */
QVK_API QVK_MUST_CHECK qvk_status qvk_weight_upload_kq(
	struct qvk_matmul *mm, const struct qvk_kqtensor *kt,
	struct qvk_weight **out);
/* fp32 weights (n, k) row-major, kept as fp32 or stored as fp16. */
QVK_API QVK_MUST_CHECK qvk_status qvk_weight_upload_float(
	struct qvk_matmul *mm, const float *w, uint32_t n, uint32_t k,
	bool as_f16, struct qvk_weight **out);
QVK_API void qvk_weight_destroy(struct qvk_weight *w);
/* Bytes a call streams: codes, scales and mins (or the float data). */
QVK_API uint64_t qvk_weight_bytes(const struct qvk_weight *w);

/*
 * A run over @n_weights weights of one shape (more than one only to rotate
 * through copies, as the benchmark does to defeat caches) with activation
 * and output buffers for up to @max_m tokens.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_matmul_run_create(
	struct qvk_matmul *mm, struct qvk_weight *const *weights,
	uint32_t n_weights, uint32_t max_m, struct qvk_matmul_run **out);
QVK_API void qvk_matmul_run_destroy(struct qvk_matmul_run *run);

/*
 * Set the activations: int8 (@q, for quantized weights: per token, or per
 * 32-block for K-quant weights, as the forward pass feeds them) or fp32
 * (@x, (m, k), for float weights); the other may be NULL.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_matmul_run_set_input(
	struct qvk_matmul_run *run, const struct qvk_qact *q, const float *x,
	uint32_t m);

/* Run weights[0] on the input once; @y (m, n) receives the result. */
QVK_API QVK_MUST_CHECK qvk_status qvk_matmul_run_exec(
	struct qvk_matmul_run *run, float *y);

/*
 * Time one call: @reps submissions, each running every rotated weight
 * once in order (a barrier between calls, as in a forward pass); @ms gets
 * the GPU-timestamp time per call of each submission.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_matmul_run_time(
	struct qvk_matmul_run *run, uint32_t reps, double *ms);

/*
 * The device's read bandwidth in GB/s: a streaming-read kernel over
 * @size_bytes (make it larger than the caches), best of three access
 * patterns (coalesced, a chunk per invocation, 8 KiB rows one per
 * invocation) and of @reps runs.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_device_read_bandwidth(
	struct qvk_device *dev, uint64_t size_bytes, uint32_t reps,
	double *gbps);

#endif
