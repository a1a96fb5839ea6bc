/* SPDX-License-Identifier: MIT */
/*
 * Token sampling from logits: greedy, temperature, top-k, top-p (nucleus),
 * repetition penalty. The random state lives in the sampler (no globals),
 * so a given seed and the same logits give the same tokens on every run.
 * A sampler is not thread-safe; use one per sequence.
 *
 * Order of operations: repetition penalty on the tokens of the last
 * repeat_last_n accepted ones (CTRL: positive logits divided by the
 * penalty, negative ones multiplied), banned tokens removed, then greedy
 * argmax when temperature is 0, else min-p (tokens less likely than min_p
 * times the most likely one dropped, judged before temperature as
 * llama.cpp does), logits / temperature, top-k, softmax, top-p, and a draw
 * from what is left. Ties are broken by the lower token id.
 */
#ifndef QVK_SAMPLER_H
#define QVK_SAMPLER_H

#include <stdint.h>

#include <qvk/ctx.h>

struct qvk_sampler;

struct qvk_sampler_options {
	float temperature;       /* 0: greedy */
	uint32_t top_k;          /* 0: off */
	float top_p;             /* in (0, 1]; 1: off */
	float min_p;             /* in [0, 1]; 0: off */
	float repeat_penalty;    /* >= 1; 1: off */
	uint32_t repeat_last_n;  /* tokens the penalty looks back on */
	uint64_t seed;
};

/*
 * temperature 1, top_k 0, top_p 1, min_p 0, repeat_penalty 1, last_n 64,
 * seed 0.
 */
QVK_API void qvk_sampler_options_default(struct qvk_sampler_options *opt);

QVK_API QVK_MUST_CHECK qvk_status qvk_sampler_create(
	struct qvk_ctx *ctx, uint32_t vocab_size,
	const struct qvk_sampler_options *opt, struct qvk_sampler **out);
QVK_API void qvk_sampler_destroy(struct qvk_sampler *s);

/*
 * Pick the next token from @logits (vocab_size values, not modified) and
 * accept it into the penalty window. Non-finite logits give
 * QVK_ERR_NUMERIC naming the first bad index.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_sampler_sample(struct qvk_sampler *s,
						     const float *logits,
						     uint32_t *token);
/*
 * Never pick @token again (e.g. the end-of-sequence token when the caller
 * wants exactly N tokens). QVK_ERR_INVALID_ARG when it is not in the
 * vocabulary; sampling fails once every token is banned.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_sampler_ban(struct qvk_sampler *s,
						  uint32_t token);
/* Put a token (e.g. of the prompt) into the penalty window. */
QVK_API void qvk_sampler_accept(struct qvk_sampler *s, uint32_t token);
/* Forget the window and restart the random sequence from @seed. */
QVK_API void qvk_sampler_reset(struct qvk_sampler *s, uint64_t seed);

#endif
