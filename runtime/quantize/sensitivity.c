/* SPDX-License-Identifier: MIT */
/*
 * Per-tensor sensitivity and the mixed-precision choice under a size
 * budget (qvk quantize --sensitivity, --target-bpw). Each trial is a
 * whole quantization in which one matrix takes a candidate type and the
 * rest stay F32 (per-tensor types over the plan), scored by its output's
 * KL to the float model on the scalar reference; the choice then assumes
 * the KLs add up (they do to first order for small perturbations) and
 * solves the multiple-choice knapsack exactly on a grid of the budget.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quantize_internal.h"

/*
 * Log-softmax rows of @model's logits over the windows of @tokens into
 * @out (positions, vocab): BOS, then window - 1 tokens, as qvk ppl scores.
 */
static qvk_status qvk_ref_logprobs(struct qvk_ctx *ctx,
				   const struct qvk_model *model,
				   const uint32_t *tokens, size_t n_tokens,
				   uint32_t window, uint32_t bos, double *nll,
				   float *out)
{
	uint32_t vocab = model->params.vocab_size;
	struct qvk_reference *ref = NULL;
	size_t row = 0;
	qvk_status st = qvk_reference_create(ctx, model, &ref);

	*nll = 0;
	for (size_t first = 0; st == QVK_OK && first < n_tokens;
	     first += window - 1) {
		size_t len = QVK_MIN((size_t)window - 1, n_tokens - first);

		for (size_t pos = 0; st == QVK_OK && pos < len; pos++, row++) {
			uint32_t tok = pos ? tokens[first + pos - 1] : bos;
			float *o = out + row * vocab;
			const float *l;
			double max = -INFINITY, sum = 0;

			st = qvk_reference_forward(ref, tok, (uint32_t)pos, &l);
			for (uint32_t v = 0; st == QVK_OK && v < vocab; v++) {
				if (!isfinite(l[v]))
					st = qvk_error(ctx, QVK_ERR_NUMERIC,
						       "sensitivity: logit %u at "
						       "position %zu is not finite",
						       v, first + pos);
				max = fmax(max, l[v]);
			}
			for (uint32_t v = 0; st == QVK_OK && v < vocab; v++)
				sum += exp(l[v] - max);
			for (uint32_t v = 0; st == QVK_OK && v < vocab; v++)
				o[v] = (float)(l[v] - max - log(sum));
			if (st == QVK_OK)
				*nll -= o[tokens[first + pos]];
		}
	}
	qvk_reference_destroy(ref);
	return st;
}

/* Σ KL(p || q) of @rows log-softmax rows. */
static double qvk_kl_rows(const float *lp, const float *lq, size_t rows,
			  uint32_t vocab)
{
	double kl = 0;

	for (size_t i = 0; i < rows * vocab; i++)
		kl += exp((double)lp[i]) * ((double)lp[i] - lq[i]);
	return kl;
}

static qvk_status qvk_kl_check(struct qvk_ctx *ctx, const struct qvk_model *m,
			       const uint32_t *tokens, size_t n_tokens,
			       uint32_t window, uint32_t bos, float **a, float **b)
{
	size_t rows = n_tokens, bytes;

	*a = *b = NULL;
	if (!tokens || !n_tokens || window < 2 || window > m->params.seq_len ||
	    bos >= m->params.vocab_size)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "KL: no tokens, a "
				 "window %u outside 2..%u or BOS %u past the "
				 "vocabulary", window, m->params.seq_len, bos);
	for (size_t i = 0; i < n_tokens; i++)
		if (tokens[i] >= m->params.vocab_size)
			return qvk_error(ctx, QVK_ERR_INVALID_ARG, "KL: token %u "
					 "at %zu past the vocabulary (%u)",
					 tokens[i], i, m->params.vocab_size);
	if (!qvk_mul_size(rows, m->params.vocab_size, &bytes) ||
	    !qvk_mul_size(bytes, sizeof(float), &bytes) ||
	    !(*a = malloc(bytes)) || !(*b = malloc(bytes))) {
		free(*a);
		*a = NULL;
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "KL: logits of %zu "
				 "positions", rows);
	}
	return QVK_OK;
}

qvk_status qvk_ref_kl(struct qvk_ctx *ctx, const struct qvk_model *ref,
		      const struct qvk_model *test, const uint32_t *tokens,
		      size_t n_tokens, uint32_t window, uint32_t bos, double *kl,
		      double *ppl)
{
	float *a, *b;
	double nll_ref, nll;
	qvk_status st;

	if (!ref || !test || ref->params.vocab_size != test->params.vocab_size)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "KL: two models of "
				 "one vocabulary needed");
	st = qvk_kl_check(ctx, ref, tokens, n_tokens, window, bos, &a, &b);
	if (st == QVK_OK)
		st = qvk_ref_logprobs(ctx, ref, tokens, n_tokens, window, bos,
				      &nll_ref, a);
	if (st == QVK_OK)
		st = qvk_ref_logprobs(ctx, test, tokens, n_tokens, window, bos,
				      &nll, b);
	if (st == QVK_OK) {
		*kl = qvk_kl_rows(a, b, n_tokens, ref->params.vocab_size) /
		      (double)n_tokens;
		if (ppl)
			*ppl = exp(nll / (double)n_tokens);
	}
	free(a);
	free(b);
	return st;
}

void qvk_sensitivity_destroy(struct qvk_sensitivity *s)
{
	if (!s)
		return;
	free(s->types);
	free(s->names);
	free(s->elems);
	free(s->bytes);
	free(s->kl);
	free(s);
}

static qvk_status qvk_sens_alloc(struct qvk_ctx *ctx, const struct qvk_qplan *p,
				 const uint32_t *types, uint32_t n_types,
				 struct qvk_sensitivity **out)
{
	struct qvk_sensitivity *s = calloc(1, sizeof(*s));
	uint32_t n = 0;

	for (uint32_t i = 0; i < p->n; i++)
		n += p->site[i] != UINT32_MAX;
	if (s) {
		s->n_tensors = n;
		s->n_types = n_types;
		s->types = malloc(n_types * sizeof(*s->types));
		s->names = calloc(n, sizeof(*s->names));
		s->elems = calloc(n, sizeof(*s->elems));
		s->bytes = calloc((size_t)n * n_types, sizeof(*s->bytes));
		s->kl = calloc((size_t)n * n_types, sizeof(*s->kl));
	}
	if (!s || !s->types || !s->names || !s->elems || !s->bytes || !s->kl) {
		qvk_sensitivity_destroy(s);
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "sensitivity table");
	}
	memcpy(s->types, types, n_types * sizeof(*types));
	n = 0;
	for (uint32_t i = 0; i < p->n; i++) {
		const struct qvk_host_tensor *t = qvk_model_tensor_at(&p->out, i);

		if (p->site[i] == UINT32_MAX)
			continue;
		snprintf(s->names[n], sizeof(s->names[n]), "%s", t->name);
		s->elems[n] = t->ne[0] * qvk_host_tensor_rows(t);
		for (uint32_t c = 0; c < n_types; c++) {
			struct qvk_host_tensor q = *t;

			q.type = (enum qvk_ggml_type)qvk_qplan_stored_type(
				types[c], t->ne[0]);
			if (!qvk_ggml_tensor_size(q.type, q.n_dims, q.ne,
						  &s->bytes[(size_t)n * n_types + c])) {
				char label[QVK_TYPE_LABEL_MAX];

				qvk_sensitivity_destroy(s);
				return qvk_error(ctx, QVK_ERR_INVALID_ARG,
						 "sensitivity: %s cannot be "
						 "stored as %s", t->name,
						 qvk_type_label(types[c], label));
			}
		}
		n++;
	}
	*out = s;
	return QVK_OK;
}

qvk_status qvk_sensitivity_measure(struct qvk_ctx *ctx,
				   const struct qvk_model *model,
				   const struct qvk_quantize_options *opt,
				   const uint32_t *types, uint32_t n_types,
				   const uint32_t *tokens, size_t n_tokens,
				   uint32_t window, struct qvk_sensitivity **out)
{
	struct qvk_quantize_options o;
	struct qvk_tensor_type *tt = NULL, untie = { "output.weight",
						     QVK_GGML_TYPE_F32 };
	struct qvk_sensitivity *s = NULL;
	struct qvk_qplan *plan = NULL;
	float *base = NULL, *lq = NULL;
	qvk_progress_fn progress = ctx ? ctx->progress_fn : NULL;
	double nll;
	qvk_status st;

	if (!out || !model || !opt || !types || !n_types)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "sensitivity: needs "
				 "a model, options and candidate types");
	*out = NULL;
	o = *opt;
	o.kmix = QVK_KMIX_NONE;
	o.format = QVK_WEIGHTS_F32;
	/* a shared classifier gets its own row, as quantizing gives it */
	o.tensor_types = &untie;
	o.n_tensor_types = model->params.shared_classifier ? 1 : 0;
	st = qvk_qplan_create(ctx, model, &o, true, &plan);
	if (st == QVK_OK)
		st = qvk_sens_alloc(ctx, plan, types, n_types, &s);
	if (st == QVK_OK)
		st = qvk_kl_check(ctx, model, tokens, n_tokens, window, opt->bos,
				  &base, &lq);
	if (st == QVK_OK)
		st = qvk_ref_logprobs(ctx, model, tokens, n_tokens, window,
				      opt->bos, &nll, base);
	if (st == QVK_OK && !(tt = calloc(s->n_tensors, sizeof(*tt))))
		st = qvk_error(ctx, QVK_ERR_NO_MEMORY, "sensitivity");
	for (uint32_t i = 0; st == QVK_OK && i < s->n_tensors; i++) {
		tt[i].name = s->names[i];
		tt[i].type = QVK_GGML_TYPE_F32;
	}
	o.tensor_types = tt;
	o.n_tensor_types = s ? s->n_tensors : 0;
	for (uint32_t i = 0; st == QVK_OK && i < s->n_tensors; i++) {
		for (uint32_t c = 0; st == QVK_OK && c < n_types; c++) {
			struct qvk_quantized *q = NULL;

			qvk_progress(ctx, "sensitivity",
				     (double)i * n_types + c,
				     (double)s->n_tensors * n_types);
			if (ctx)
				ctx->progress_fn = NULL;
			tt[i].type = types[c];
			st = qvk_quantize_model(ctx, model, &o, &q);
			if (st == QVK_OK)
				st = qvk_ref_logprobs(ctx, qvk_quantized_model(q),
						      tokens, n_tokens, window,
						      opt->bos, &nll, lq);
			if (ctx)
				ctx->progress_fn = progress;
			if (st == QVK_OK)
				s->kl[(size_t)i * n_types + c] =
					qvk_kl_rows(base, lq, n_tokens,
						    model->params.vocab_size) /
					(double)n_tokens;
			qvk_quantized_destroy(q);
		}
		if (st == QVK_OK)
			tt[i].type = QVK_GGML_TYPE_F32;
	}
	if (st == QVK_OK) {
		qvk_progress(ctx, "sensitivity", 1, 1);
		s->tokens = n_tokens;
		*out = s;
		s = NULL;
	}
	qvk_sensitivity_destroy(s);
	qvk_qplan_destroy(plan);
	free(tt);
	free(base);
	free(lq);
	return st;
}

/* Exact below this many bytes; else on a grid of this many steps. */
#define QVK_KNAPSACK_STEPS 65536u

/*
 * The least ΣKL over choices whose costs, in grid units rounded down, sum
 * to at most @limit; @choice and the exact bytes into *@used. false when
 * nothing fits.
 */
static bool qvk_knapsack(const struct qvk_sensitivity *s, double unit,
			 uint32_t limit, double *best, double *next,
			 uint8_t *pick, uint32_t *choice, uint64_t *used)
{
	uint32_t n = s->n_tensors, m = s->n_types;

	for (uint32_t b = 0; b <= limit; b++)
		best[b] = 0;
	for (uint32_t i = 0; i < n; i++) {
		for (uint32_t b = 0; b <= limit; b++) {
			next[b] = INFINITY;
			pick[(size_t)i * (limit + 1) + b] = 0;
			for (uint32_t c = 0; c < m; c++) {
				uint32_t cost = (uint32_t)floor(
					(double)s->bytes[(size_t)i * m + c] / unit);
				double v;

				if (cost > b)
					continue;
				v = best[b - cost] + s->kl[(size_t)i * m + c];
				if (v < next[b]) {
					next[b] = v;
					pick[(size_t)i * (limit + 1) + b] = (uint8_t)c;
				}
			}
		}
		memcpy(best, next, (limit + 1) * sizeof(*best));
	}
	if (!isfinite(best[limit]))
		return false;
	*used = 0;
	for (uint32_t i = n, b = limit; i-- > 0;) {
		uint32_t c = pick[(size_t)i * (limit + 1) + b];

		choice[i] = c;
		*used += s->bytes[(size_t)i * m + c];
		b -= (uint32_t)floor((double)s->bytes[(size_t)i * m + c] / unit);
	}
	return true;
}

qvk_status qvk_sensitivity_choose(struct qvk_ctx *ctx,
				  const struct qvk_sensitivity *s,
				  uint64_t budget_bytes, uint32_t *choice,
				  uint64_t *used_bytes)
{
	uint32_t n = s->n_tensors, m = s->n_types;
	uint32_t limit = (uint32_t)QVK_MIN(budget_bytes,
					   (uint64_t)QVK_KNAPSACK_STEPS);
	double unit = (double)budget_bytes / QVK_MAX(limit, 1u);
	double *best = NULL, *next = NULL;
	uint8_t *pick = NULL;
	uint64_t used = 0;
	qvk_status st = QVK_OK;

	if (!n || m > 255 || budget_bytes == 0)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "choose: an empty "
				 "table, more than 255 types or no budget");
	best = malloc((limit + 1) * sizeof(*best));
	next = malloc((limit + 1) * sizeof(*next));
	pick = malloc((size_t)n * (limit + 1));
	if (!best || !next || !pick) {
		st = qvk_error(ctx, QVK_ERR_NO_MEMORY, "choose: %u x %u table",
			       n, limit);
		goto out;
	}
	/*
	 * Costs rounded down can sum past the budget in bytes (unit > 1):
	 * lower the limit by the excess until the exact bytes fit.
	 */
	for (;;) {
		if (!qvk_knapsack(s, unit, limit, best, next, pick, choice,
				  &used)) {
			st = qvk_error(ctx, QVK_ERR_INVALID_ARG, "choose: %llu "
				       "bytes hold no choice of the candidate "
				       "types", (unsigned long long)budget_bytes);
			goto out;
		}
		if (used <= budget_bytes)
			break;
		limit -= (uint32_t)QVK_MIN((double)limit,
					   ceil((double)(used - budget_bytes) / unit));
	}
	if (used_bytes)
		*used_bytes = used;
out:
	free(best);
	free(next);
	free(pick);
	return st;
}
