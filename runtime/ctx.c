/* SPDX-License-Identifier: MIT */
/* The context: error detail, logging and progress callbacks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static enum qvk_log_level qvk_log_level_from_env(void)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	const char *env = getenv("QVK_LOG");

	if (env)
		for (size_t i = 0; i < QVK_ARRAY_SIZE(names); i++)
			if (!strcmp(env, names[i]))
				return (enum qvk_log_level)i;
	return QVK_LOG_WARN;
}

qvk_status qvk_ctx_create(struct qvk_ctx **out)
{
	struct qvk_ctx *ctx;

	if (!out)
		return QVK_ERR_INVALID_ARG;
	*out = NULL;
	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return QVK_ERR_NO_MEMORY;
	ctx->log_level = qvk_log_level_from_env();
	*out = ctx;
	return QVK_OK;
}

void qvk_ctx_destroy(struct qvk_ctx *ctx)
{
	free(ctx);
}

void qvk_ctx_set_log(struct qvk_ctx *ctx, enum qvk_log_level level,
		     qvk_log_fn fn, void *user)
{
	ctx->log_level = level;
	ctx->log_fn = fn;
	ctx->log_user = user;
}

void qvk_ctx_set_progress(struct qvk_ctx *ctx, qvk_progress_fn fn, void *user)
{
	ctx->progress_fn = fn;
	ctx->progress_user = user;
}

const char *qvk_ctx_message(const struct qvk_ctx *ctx)
{
	return ctx ? ctx->message : "";
}

static void qvk_vlog(struct qvk_ctx *ctx, enum qvk_log_level level,
		     const char *fmt, va_list ap)
{
	char line[QVK_MESSAGE_MAX];

	if (ctx && level > ctx->log_level)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (ctx && ctx->log_fn)
		ctx->log_fn(ctx->log_user, level, line);
	else
		fprintf(stderr, "qvk: %s\n", line);
}

void qvk_log(struct qvk_ctx *ctx, enum qvk_log_level level, const char *fmt,
	     ...)
{
	va_list ap;

	va_start(ap, fmt);
	qvk_vlog(ctx, level, fmt, ap);
	va_end(ap);
}

qvk_status qvk_error(struct qvk_ctx *ctx, qvk_status status, const char *fmt,
		     ...)
{
	char message[QVK_MESSAGE_MAX];
	va_list ap;

	if (!ctx)
		return status;
	/*
	 * Through a copy: callers that add context pass the old message as
	 * an argument, and vsnprintf() into its own source is undefined.
	 */
	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
	memcpy(ctx->message, message, sizeof(message));
	qvk_log(ctx, QVK_LOG_DEBUG, "error (%s): %s", qvk_strerror(status),
		ctx->message);
	return status;
}

void qvk_progress(struct qvk_ctx *ctx, const char *what, double done,
		  double total)
{
	if (ctx && ctx->progress_fn)
		ctx->progress_fn(ctx->progress_user, what, done, total);
}
