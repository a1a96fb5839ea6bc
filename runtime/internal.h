/* SPDX-License-Identifier: MIT */
/* libqvk private header for runtime/: the context and error helpers. */
#ifndef QVK_RUNTIME_INTERNAL_H
#define QVK_RUNTIME_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <qvk/ctx.h>
#include <qvk/status.h>

#define QVK_MESSAGE_MAX 1024

struct qvk_ctx {
	enum qvk_log_level log_level;
	qvk_log_fn log_fn;
	void *log_user;
	qvk_progress_fn progress_fn;
	void *progress_user;
	char message[QVK_MESSAGE_MAX];
};

/*
 * Record @status with a formatted detail on @ctx and return it, so that
 * failure sites read `return qvk_error(ctx, QVK_ERR_FORMAT, "...", ...);`.
 * The detail is also logged at QVK_LOG_DEBUG. @ctx may be NULL.
 */
qvk_status qvk_error(struct qvk_ctx *ctx, qvk_status status, const char *fmt,
		     ...) QVK_PRINTF(3, 4);

void qvk_log(struct qvk_ctx *ctx, enum qvk_log_level level, const char *fmt,
	     ...) QVK_PRINTF(3, 4);

/* Report progress if a callback is set; cheap when none is. */
void qvk_progress(struct qvk_ctx *ctx, const char *what, double done,
		  double total);

/* Overflow-checked size arithmetic: return false on overflow. */
static inline int qvk_mul_size(size_t a, size_t b, size_t *out)
{
	return !__builtin_mul_overflow(a, b, out);
}

static inline int qvk_add_size(size_t a, size_t b, size_t *out)
{
	return !__builtin_add_overflow(a, b, out);
}

#define QVK_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define QVK_MIN(a, b) ((a) < (b) ? (a) : (b))
#define QVK_MAX(a, b) ((a) > (b) ? (a) : (b))
#define QVK_DIV_ROUND_UP(a, b) (((a) + (b) - 1) / (b))
#define QVK_ALIGN_UP(a, b) (QVK_DIV_ROUND_UP(a, b) * (b))

#endif
