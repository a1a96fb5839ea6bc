/* SPDX-License-Identifier: MIT */
/*
 * Error metrics for quantization: how far a result is from its reference.
 * Sums run in double. @ref is the reference, @got the approximation, both
 * @count long.
 */
#ifndef QVK_METRICS_H
#define QVK_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include <qvk/ctx.h>
#include <qvk/status.h>

struct qvk_error_stats {
	double nmse;        /* Σ(got−ref)² / Σref² (Σ(got−ref)² when ref is 0) */
	double max_abs_err; /* max |got − ref| */
	double sqnr_db;     /* 10·log10(Σref² / Σ(got−ref)²); +Inf if exact */
	double cosine;      /* ⟨ref,got⟩ / (‖ref‖‖got‖); 1 if both are 0 */
};

/* QVK_ERR_NUMERIC names @name and the index of a NaN/Inf in either. */
QVK_API QVK_MUST_CHECK qvk_status qvk_error_stats_compute(
	struct qvk_ctx *ctx, const char *name, const float *ref,
	const float *got, size_t count, struct qvk_error_stats *out);

/*
 * Logits of @rows positions of @vocab entries each: mean KL(P_ref ‖ P_got)
 * in nats, softmax in double with the max subtracted, and the fraction of
 * rows whose argmax agrees (ties: the lowest index).
 */
struct qvk_logit_stats {
	double kl_mean;
	double kl_max;
	double top1;
	uint64_t rows;
};

QVK_API QVK_MUST_CHECK qvk_status qvk_logit_stats_compute(
	struct qvk_ctx *ctx, const char *name, const float *ref,
	const float *got, uint32_t rows, uint32_t vocab,
	struct qvk_logit_stats *out);

#endif
