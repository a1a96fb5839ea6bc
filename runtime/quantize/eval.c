/* SPDX-License-Identifier: MIT */
/*
 * Perplexity, and KL divergence and top-1 agreement against a reference
 * model, over non-overlapping windows of a text: the scoring behind
 * `qvk ppl` and the quantization tests. All sums in double.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "quantize_internal.h"

/* log softmax(@logits)[@target]; the softmax into @p. */
static double qvk_log_softmax_at(const float *logits, uint32_t vocab,
				 uint32_t target, double *p)
{
	double mx = logits[0], sum = 0;

	for (uint32_t i = 1; i < vocab; i++)
		mx = fmax(mx, logits[i]);
	for (uint32_t i = 0; i < vocab; i++)
		sum += (p[i] = exp(logits[i] - mx));
	for (uint32_t i = 0; i < vocab; i++)
		p[i] /= sum;
	return logits[target] - mx - log(sum);
}

static uint32_t qvk_argmax(const float *x, uint32_t n)
{
	uint32_t best = 0;

	for (uint32_t i = 1; i < n; i++)
		if (x[i] > x[best])
			best = i;
	return best;
}

struct qvk_ppl_sums {
	double nll, kl;
	uint64_t tokens, top1;
};

/* One window: tokens[0] is BOS, positions 0..n-2 predict 1..n-1. */
static void qvk_score_window(const uint32_t *tokens, uint32_t n,
			     uint32_t vocab, const float *lt, const float *lr,
			     double *pt, double *pr, struct qvk_ppl_sums *s)
{
	for (uint32_t i = 0; i + 1 < n; i++) {
		const float *t = lt + (size_t)i * vocab;
		double kl = 0;

		s->nll -= qvk_log_softmax_at(t, vocab, tokens[i + 1], pt);
		s->tokens++;
		if (!lr)
			continue;
		qvk_log_softmax_at(lr + (size_t)i * vocab, vocab,
				   tokens[i + 1], pr);
		for (uint32_t v = 0; v < vocab; v++)
			if (pr[v] > 0)
				kl += pr[v] * (log(pr[v]) -
					       log(fmax(pt[v], 1e-300)));
		s->kl += kl;
		s->top1 += qvk_argmax(t, vocab) ==
			   qvk_argmax(lr + (size_t)i * vocab, vocab);
	}
}

qvk_status qvk_ppl_evaluate(struct qvk_ctx *ctx, struct qvk_llm *test,
			    struct qvk_llm *ref, uint32_t vocab, uint32_t bos,
			    const uint32_t *tokens, size_t n_tokens,
			    uint32_t window, uint64_t max_tokens,
			    struct qvk_ppl_result *out)
{
	struct qvk_ppl_sums s = { 0, 0, 0, 0 };
	size_t n_windows;
	uint64_t to_score;
	float *lt = NULL, *lr = NULL;
	double *pt = NULL, *pr = NULL;
	uint32_t *win = NULL;
	qvk_status st = QVK_OK;

	if (!test || !out || !tokens || window < 2 || !vocab)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "perplexity: no "
				 "model, tokens or result, or window %u < 2",
				 window);
	memset(out, 0, sizeof(*out));
	/*
	 * Whole windows of the text; a cap ends on a shorter last window.
	 * Causal attention makes its predictions those of the same positions
	 * of a whole window, so exactly @max_tokens are scored.
	 */
	n_windows = n_tokens / (window - 1);
	to_score = (uint64_t)n_windows * (window - 1);
	if (max_tokens && max_tokens < to_score) {
		to_score = max_tokens;
		n_windows = (size_t)QVK_DIV_ROUND_UP(to_score, window - 1);
	}
	if (!n_windows || n_windows > UINT32_MAX)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "perplexity: %zu "
				 "tokens do not fill one window of %u", n_tokens,
				 window);
	lt = malloc((size_t)window * vocab * sizeof(float));
	lr = ref ? malloc((size_t)window * vocab * sizeof(float)) : NULL;
	pt = malloc(vocab * sizeof(double));
	pr = malloc(vocab * sizeof(double));
	win = malloc(window * sizeof(*win));
	if (!lt || (ref && !lr) || !pt || !pr || !win) {
		st = qvk_error(ctx, QVK_ERR_NO_MEMORY, "perplexity: logits of "
			       "%u positions x %u", window, vocab);
		goto out;
	}
	for (size_t wi = 0; wi < n_windows; wi++) {
		uint32_t n = (uint32_t)QVK_MIN((uint64_t)window - 1,
					       to_score - wi * (window - 1)) + 1;

		win[0] = bos;
		memcpy(win + 1, tokens + wi * (window - 1),
		       (n - 1) * sizeof(*win));
		st = qvk_llm_forward(test, win, n, 0, lt, NULL);
		if (st == QVK_OK && ref)
			st = qvk_llm_forward(ref, win, n, 0, lr, NULL);
		if (st)
			goto out;
		qvk_score_window(win, n, vocab, lt, lr, pt, pr, &s);
		qvk_progress(ctx, "perplexity", (double)wi + 1,
			     (double)n_windows);
	}
	out->ppl = exp(s.nll / (double)s.tokens);
	out->kl = ref ? s.kl / (double)s.tokens : 0.0;
	out->top1 = ref ? (double)s.top1 / (double)s.tokens : 0.0;
	out->tokens = s.tokens;
	out->windows = (uint32_t)n_windows;
	out->ctx = window;
out:
	free(lt);
	free(lr);
	free(pt);
	free(pr);
	free(win);
	return st;
}
