/* SPDX-License-Identifier: MIT */
/*
 * The qvk context: error detail and logging. Every other object hangs off
 * one; there is no global mutable state. A context is not thread-safe: use
 * one per thread, or serialise calls on it. Objects created on a context
 * (devices and what hangs off them, models, telemetry) record their errors
 * in it, so a context and the objects made on it are used by one thread at
 * a time; separate contexts share nothing and run in parallel (tested with
 * two threads under ThreadSanitizer: tests/check_concurrency.c).
 */
#ifndef QVK_CTX_H
#define QVK_CTX_H

#include <qvk/status.h>

struct qvk_ctx;

enum qvk_log_level {
	QVK_LOG_SILENT = -1, /* nothing is logged */
	QVK_LOG_ERROR = 0,
	QVK_LOG_WARN = 1,
	QVK_LOG_INFO = 2,
	QVK_LOG_DEBUG = 3,
};

typedef void (*qvk_log_fn)(void *user, enum qvk_log_level level,
			   const char *message);

QVK_API QVK_MUST_CHECK qvk_status qvk_ctx_create(struct qvk_ctx **out);
QVK_API void qvk_ctx_destroy(struct qvk_ctx *ctx);

/*
 * Messages at or below @level go to @fn (NULL: stderr, prefixed "qvk: ").
 * The default level is QVK_LOG_WARN, or QVK_LOG=error|warn|info|debug.
 */
QVK_API void qvk_ctx_set_log(struct qvk_ctx *ctx, enum qvk_log_level level,
		     qvk_log_fn fn, void *user);

/*
 * Detail of the last failure on this context ("" if none): what failed and
 * where (file and byte offset, tensor and index, Vulkan call and VkResult).
 */
QVK_API const char *qvk_ctx_message(const struct qvk_ctx *ctx);

/* Optional progress reports for long work (quantization, perplexity). */
typedef void (*qvk_progress_fn)(void *user, const char *what, double done,
				double total);
QVK_API void qvk_ctx_set_progress(struct qvk_ctx *ctx, qvk_progress_fn fn, void *user);

#endif
