/* SPDX-License-Identifier: MIT */
/* Sampling: see include/qvk/sampler.h for the order of operations. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/sampler.h>

#include "../internal.h"

struct qvk_sampler_cand {
	float logit; /* then probability */
	uint32_t id;
};

struct qvk_sampler {
	struct qvk_ctx *ctx;
	struct qvk_sampler_options opt;
	uint32_t vocab_size;
	uint64_t rng;                   /* splitmix64 state */
	struct qvk_sampler_cand *cands; /* [vocab_size] */
	uint32_t *history;              /* ring of repeat_last_n tokens */
	uint32_t history_len, history_pos;
	uint8_t *seen;                  /* [vocab_size] penalty applied */
	uint8_t *banned;                /* [vocab_size] never picked */
	uint32_t n_banned;
};

void qvk_sampler_options_default(struct qvk_sampler_options *opt)
{
	*opt = (struct qvk_sampler_options){
		.temperature = 1.0f, .top_k = 0, .top_p = 1.0f, .min_p = 0.0f,
		.repeat_penalty = 1.0f, .repeat_last_n = 64, .seed = 0,
	};
}

static uint64_t qvk_sampler_next(struct qvk_sampler *s)
{
	uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1) with 53 random bits. */
static double qvk_sampler_uniform(struct qvk_sampler *s)
{
	return (double)(qvk_sampler_next(s) >> 11) * 0x1.0p-53;
}

qvk_status qvk_sampler_create(struct qvk_ctx *ctx, uint32_t vocab_size,
			      const struct qvk_sampler_options *opt,
			      struct qvk_sampler **out)
{
	struct qvk_sampler *s;

	if (!out || !opt)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "sampler: no options");
	*out = NULL;
	if (vocab_size == 0 || !(opt->temperature >= 0.0f) ||
	    !isfinite(opt->temperature) || !(opt->top_p > 0.0f && opt->top_p <= 1.0f) ||
	    !(opt->min_p >= 0.0f && opt->min_p <= 1.0f) ||
	    !(opt->repeat_penalty >= 1.0f) || !isfinite(opt->repeat_penalty) ||
	    opt->repeat_last_n > (1u << 20))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "sampler: vocab %u, temperature %g (>= 0), top_p "
				 "%g (0..1], min_p %g [0..1], repeat_penalty %g "
				 "(>= 1), last_n %u",
				 vocab_size, (double)opt->temperature,
				 (double)opt->top_p, (double)opt->min_p,
				 (double)opt->repeat_penalty, opt->repeat_last_n);
	s = calloc(1, sizeof(*s));
	if (!s)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "sampler");
	s->ctx = ctx;
	s->opt = *opt;
	s->vocab_size = vocab_size;
	s->cands = malloc(vocab_size * sizeof(*s->cands));
	s->seen = calloc(vocab_size, 1);
	s->banned = calloc(vocab_size, 1);
	s->history = malloc((opt->repeat_last_n ? opt->repeat_last_n : 1) *
			    sizeof(*s->history));
	if (!s->cands || !s->seen || !s->banned || !s->history) {
		qvk_sampler_destroy(s);
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "sampler: vocab %u",
				 vocab_size);
	}
	qvk_sampler_reset(s, opt->seed);
	*out = s;
	return QVK_OK;
}

void qvk_sampler_destroy(struct qvk_sampler *s)
{
	if (!s)
		return;
	free(s->history);
	free(s->banned);
	free(s->seen);
	free(s->cands);
	free(s);
}

void qvk_sampler_reset(struct qvk_sampler *s, uint64_t seed)
{
	s->rng = seed;
	s->history_len = 0;
	s->history_pos = 0;
}

qvk_status qvk_sampler_ban(struct qvk_sampler *s, uint32_t token)
{
	if (!s || token >= s->vocab_size)
		return qvk_error(s ? s->ctx : NULL, QVK_ERR_INVALID_ARG,
				 "sampler: cannot ban token %u of a vocabulary "
				 "of %u", token, s ? s->vocab_size : 0);
	s->n_banned += !s->banned[token];
	s->banned[token] = 1;
	return QVK_OK;
}

void qvk_sampler_accept(struct qvk_sampler *s, uint32_t token)
{
	if (!s->opt.repeat_last_n)
		return;
	s->history[s->history_pos] = token;
	s->history_pos = (s->history_pos + 1) % s->opt.repeat_last_n;
	if (s->history_len < s->opt.repeat_last_n)
		s->history_len++;
}

/* Descending logit, then ascending id: a total order, so runs agree. */
static int qvk_sampler_cmp(const void *a, const void *b)
{
	const struct qvk_sampler_cand *x = a, *y = b;

	if (x->logit != y->logit)
		return x->logit < y->logit ? 1 : -1;
	return (x->id > y->id) - (x->id < y->id);
}

static void qvk_sampler_penalise(struct qvk_sampler *s)
{
	float p = s->opt.repeat_penalty;

	if (p == 1.0f)
		return;
	for (uint32_t i = 0; i < s->history_len; i++) {
		uint32_t t = s->history[i];

		if (t >= s->vocab_size || s->seen[t])
			continue;
		s->seen[t] = 1; /* once per distinct token */
		s->cands[t].logit = s->cands[t].logit > 0.0f ?
				    s->cands[t].logit / p : s->cands[t].logit * p;
	}
	for (uint32_t i = 0; i < s->history_len; i++)
		if (s->history[i] < s->vocab_size)
			s->seen[s->history[i]] = 0;
}

qvk_status qvk_sampler_sample(struct qvk_sampler *s, const float *logits,
			      uint32_t *token)
{
	uint32_t n, best = 0;
	double sum = 0.0, cum = 0.0, r;
	float max;

	if (!s || !logits || !token)
		return qvk_error(s ? s->ctx : NULL, QVK_ERR_INVALID_ARG,
				 "sampler: no logits or output");
	n = s->vocab_size;
	for (uint32_t i = 0; i < n; i++) {
		if (!isfinite(logits[i]))
			return qvk_error(s->ctx, QVK_ERR_NUMERIC,
					 "sampler: logit %u is %g", i,
					 (double)logits[i]);
		s->cands[i] = (struct qvk_sampler_cand){ logits[i], i };
	}
	qvk_sampler_penalise(s);
	/* Candidates stay in id order, so the first maximum has the lower id. */
	if (s->n_banned) {
		uint32_t kept = 0;

		for (uint32_t i = 0; i < n; i++)
			if (!s->banned[s->cands[i].id])
				s->cands[kept++] = s->cands[i];
		n = kept;
		if (!n)
			return qvk_error(s->ctx, QVK_ERR_INVALID_ARG,
					 "sampler: every token is banned");
	}
	for (uint32_t i = 1; i < n; i++)
		if (s->cands[i].logit > s->cands[best].logit)
			best = i;
	if (s->opt.temperature == 0.0f) {
		*token = s->cands[best].id;
		qvk_sampler_accept(s, *token);
		return QVK_OK;
	}
	if (s->opt.min_p > 0.0f) {
		/* p_i >= min_p * p_max  <=>  logit_i >= logit_max + ln(min_p) */
		float floor = s->cands[best].logit + logf(s->opt.min_p);
		uint32_t kept = 0;

		for (uint32_t i = 0; i < n; i++)
			if (s->cands[i].logit >= floor)
				s->cands[kept++] = s->cands[i];
		n = kept;
	}

	for (uint32_t i = 0; i < n; i++)
		s->cands[i].logit /= s->opt.temperature;
	if (s->opt.top_k || s->opt.top_p < 1.0f) {
		qsort(s->cands, n, sizeof(*s->cands), qvk_sampler_cmp);
		if (s->opt.top_k && s->opt.top_k < n)
			n = s->opt.top_k;
	}
	max = s->cands[0].logit;
	for (uint32_t i = 1; i < n; i++)
		max = QVK_MAX(max, s->cands[i].logit);
	for (uint32_t i = 0; i < n; i++) {
		s->cands[i].logit = expf(s->cands[i].logit - max);
		sum += s->cands[i].logit;
	}
	if (s->opt.top_p < 1.0f) {
		/* the smallest prefix whose probability reaches top_p */
		for (uint32_t i = 0; i < n; i++) {
			cum += s->cands[i].logit / sum;
			if (cum >= s->opt.top_p) {
				n = i + 1;
				break;
			}
		}
		sum = 0.0;
		for (uint32_t i = 0; i < n; i++)
			sum += s->cands[i].logit;
	}
	r = qvk_sampler_uniform(s) * sum;
	cum = 0.0;
	*token = s->cands[n - 1].id; /* rounding fallback: the last kept */
	for (uint32_t i = 0; i < n; i++) {
		cum += s->cands[i].logit;
		if (r < cum) {
			*token = s->cands[i].id;
			break;
		}
	}
	qvk_sampler_accept(s, *token);
	return QVK_OK;
}
