/* SPDX-License-Identifier: MIT */
/*
 * qvk run's generation loop: prefill, sample, stream the text (holding
 * back what could be the start of a stop string), and when the context is
 * full either stop, saying so, or shift it as llama.cpp does.
 *
 * The context shift keeps the first n_kept tokens (BOS and --n-keep prompt
 * tokens), drops the oldest half of the rest and continues. llama.cpp
 * re-rotates the cached keys to their new positions; qvk runs the kept
 * tokens through prefill again instead. That costs one batched prefill of
 * about half the context for every half context of new tokens, but it
 * needs no inverse of each architecture's RoPE variant (nor a shader that
 * moves and rotates cache rows), and it leaves the cache exactly as a
 * fresh run over the kept tokens would, with no second fp16 rounding of
 * rotated keys.
 */
#include <stdlib.h>
#include <string.h>

#include "run.h"

struct qvk_run_gen {
	struct qvk_llm *llm;
	const struct qvk_run_args *a;
	struct qvk_run_result *r;
	uint32_t *hist;      /* [ctx_size] the tokens in the KV cache, in order */
	uint32_t n_past;     /* how many */
	const float *logits; /* of the last token run */
	size_t text_cap;
	size_t printed;      /* bytes of r->text already on stdout */
};

const char *qvk_run_stop_name(enum qvk_run_stop stop)
{
	static const char *const names[] = { "length", "eos", "stop",
					     "context" };

	return names[stop];
}

static void qvk_run_flush(struct qvk_run_gen *g, size_t upto)
{
	if (g->a->json || upto <= g->printed)
		return;
	fwrite(g->r->text + g->printed, 1, upto - g->printed, stdout);
	fflush(stdout);
	g->printed = upto;
}

static bool qvk_run_text_add(struct qvk_run_gen *g, const char *piece,
			     size_t len)
{
	struct qvk_run_result *r = g->r;

	if (r->text_len + len + 1 > g->text_cap) {
		size_t cap = 2 * (r->text_len + len + 1);
		char *grown = realloc(r->text, cap);

		if (!grown)
			return false;
		r->text = grown;
		g->text_cap = cap;
	}
	memcpy(r->text + r->text_len, piece, len);
	r->text_len += len;
	r->text[r->text_len] = 0;
	return true;
}

/* Start of the earliest stop string that ends at or after @from; or -1. */
static ptrdiff_t qvk_run_find_stop(const struct qvk_run_args *a,
				   const char *text, size_t len, size_t from)
{
	ptrdiff_t best = -1;

	for (uint32_t i = 0; i < a->n_stops; i++) {
		size_t slen = strlen(a->stops[i]);
		size_t start = from >= slen ? from - slen + 1 : 0;
		const char *hit = start < len ? memmem(text + start, len - start,
						       a->stops[i], slen) :
						NULL;

		if (hit && (best < 0 || hit - text < best))
			best = hit - text;
	}
	return best;
}

/* Bytes at the end of @text that could begin a stop string. */
static size_t qvk_run_stop_prefix(const struct qvk_run_args *a,
				  const char *text, size_t len)
{
	size_t hold = 0;

	for (uint32_t i = 0; i < a->n_stops; i++) {
		size_t slen = strlen(a->stops[i]);

		for (size_t k = QVK_MIN(slen - 1, len); k > hold; k--)
			if (!memcmp(text + len - k, a->stops[i], k)) {
				hold = k;
				break;
			}
	}
	return hold;
}

/* Add a token's text; *stop when a stop string has now appeared. */
static qvk_status qvk_run_emit(struct qvk_run_gen *g, const char *piece,
			       size_t len, bool *stop)
{
	struct qvk_run_result *r = g->r;
	size_t before = r->text_len;
	ptrdiff_t at;

	if (!qvk_run_text_add(g, piece, len))
		return QVK_ERR_NO_MEMORY;
	at = qvk_run_find_stop(g->a, r->text, r->text_len, before);
	if (at >= 0) {
		r->text_len = (size_t)at;
		r->text[at] = 0;
		*stop = true;
	}
	qvk_run_flush(g, r->text_len - (*stop ? 0 : qvk_run_stop_prefix(
							    g->a, r->text,
							    r->text_len)));
	return QVK_OK;
}

static void qvk_run_say_full(const struct qvk_run_gen *g, uint32_t model_ctx)
{
	const struct qvk_run_result *r = g->r;

	if (g->a->context_shift) {
		fprintf(stderr, "qvk run: the context (%u tokens) is full and "
				"a shift would drop nothing: it keeps the first "
				"%u (--n-keep); stopped after %u of the %u "
				"tokens asked for with -n\n", r->ctx_size,
			r->n_kept, r->generated, g->a->n_tokens);
		return;
	}
	/* The last token generated is sampled, never fed: one more than fit. */
	fprintf(stderr, "qvk run: the context is full (%u tokens: %u of the "
			"prompt, %u generated, whose last position gave one "
			"more); stopped after %u of the %u tokens asked for "
			"with -n. --context-shift continues past it (it keeps "
			"the first tokens and drops the oldest half of the "
			"rest)", r->ctx_size, r->n_prompt,
		r->ctx_size - r->n_prompt, r->generated, g->a->n_tokens);
	if (r->ctx_size < model_ctx)
		fprintf(stderr, "; -c sets the context, up to the model's %u",
			model_ctx);
	fputs("\n", stderr);
}

/*
 * Run @token at the next position. With the context full: shift it, or
 * set *full and run nothing.
 */
static qvk_status qvk_run_feed(struct qvk_run_gen *g, uint32_t token,
			       bool *full)
{
	struct qvk_run_result *r = g->r;
	uint32_t n_discard;
	double t0;
	qvk_status st;

	if (g->n_past < r->ctx_size) {
		g->hist[g->n_past] = token;
		return qvk_llm_forward(g->llm, &token, 1, g->n_past++, NULL,
				       &g->logits);
	}
	/* llama.cpp: n_discard = (n_past - n_keep) / 2 */
	n_discard = (g->n_past - r->n_kept) / 2;
	if (!g->a->context_shift || !n_discard) {
		*full = true;
		return QVK_OK;
	}
	memmove(g->hist + r->n_kept, g->hist + r->n_kept + n_discard,
		(g->n_past - r->n_kept - n_discard) * sizeof(*g->hist));
	g->n_past -= n_discard;
	g->hist[g->n_past++] = token;
	t0 = qvk_tool_now_s();
	st = qvk_llm_forward(g->llm, g->hist, g->n_past, 0, NULL, &g->logits);
	r->shift_s += qvk_tool_now_s() - t0;
	r->shifts++;
	r->reprefilled += g->n_past;
	return st;
}

struct qvk_run_energy {
	struct qvk_telemetry *t;
	struct qvk_energy_window *w;
};

static void qvk_run_energy_begin(struct qvk_run_energy *e)
{
	if (e->t && qvk_energy_window_begin(e->t, &e->w) != QVK_OK)
		e->w = NULL;
}

static bool qvk_run_energy_end(struct qvk_run_energy *e,
			       struct qvk_energy_result *r)
{
	bool ok = e->w && qvk_energy_window_end(e->t, e->w, r) == QVK_OK;

	e->w = NULL;
	return ok;
}

/* The prompt as tokens into g->hist; prints its own errors. */
static bool qvk_run_prompt(struct qvk_ctx *ctx, struct qvk_tokenizer *tok,
			   const struct qvk_run_args *a, uint32_t model_ctx,
			   struct qvk_run_gen *g)
{
	struct qvk_run_result *r = g->r;
	size_t cap = QVK_TOKENIZE_MAX(a->prompt_len), n = 0;
	uint32_t *ids = malloc(cap * sizeof(*ids));
	qvk_status st = ids ? qvk_tokenizer_encode(tok, ctx, a->prompt ?
							      a->prompt : "",
						   a->prompt_len,
						   QVK_TOKENIZE_BOS, ids, cap,
						   &n) :
			      QVK_ERR_NO_MEMORY;

	if (st != QVK_OK) {
		free(ids);
		qvk_tool_fail(ctx, st, "run", "prompt");
		return false;
	}
	if (n > r->ctx_size) {
		fprintf(stderr, "qvk run: the prompt has %zu tokens, the "
				"context %u%s\n", n, r->ctx_size,
			r->ctx_size < model_ctx ? " (-c)" : "");
		free(ids);
		return false;
	}
	if (!n) {
		fprintf(stderr, "qvk run: the prompt is empty and the model "
				"adds no BOS token: give a prompt\n");
		free(ids);
		return false;
	}
	memcpy(g->hist, ids, n * sizeof(*ids));
	free(ids);
	g->n_past = r->n_prompt = (uint32_t)n;
	/* BOS and --n-keep prompt tokens after it */
	r->n_kept = a->n_keep < 0 || (uint64_t)a->n_keep >= n - 1 ?
			    (uint32_t)n : 1 + (uint32_t)a->n_keep;
	return true;
}

bool qvk_run_generate(struct qvk_ctx *ctx, struct qvk_llm *llm,
		      const struct qvk_model *model, struct qvk_tokenizer *tok,
		      const struct qvk_run_args *a, struct qvk_telemetry *t,
		      struct qvk_run_result *r)
{
	const uint32_t model_ctx = model->params.seq_len;
	struct qvk_run_gen g = { .llm = llm, .a = a, .r = r };
	struct qvk_run_energy en = { .t = t };
	struct qvk_sampler *smp = NULL;
	uint32_t token, prev, eos = qvk_tokenizer_eos(tok);
	double t0, t_first = 0, t_prefill;
	bool full = false, stopped = false, ok = false;
	qvk_status st;

	memset(r, 0, sizeof(*r));
	r->ctx_size = a->ctx_size ? a->ctx_size : model_ctx;
	g.hist = malloc(r->ctx_size * sizeof(*g.hist));
	r->tokens = malloc((size_t)a->n_tokens * sizeof(*r->tokens));
	if (!g.hist || !r->tokens) {
		fprintf(stderr, "qvk run: out of memory for %u tokens\n",
			a->n_tokens);
		goto out;
	}
	if (!qvk_run_prompt(ctx, tok, a, model_ctx, &g))
		goto out;
	st = qvk_sampler_create(ctx, model->params.vocab_size, &a->sampling.opt,
				&smp);
	if (st == QVK_OK && a->ignore_eos)
		st = qvk_sampler_ban(smp, eos);
	if (st != QVK_OK) {
		qvk_tool_fail(ctx, st, "run", "sampler");
		goto out;
	}
	for (uint32_t i = 0; i < r->n_prompt; i++)
		qvk_sampler_accept(smp, g.hist[i]);
	if (!a->json && a->prompt) {
		fwrite(a->prompt, 1, a->prompt_len, stdout);
		fflush(stdout);
	}

	t0 = qvk_tool_now_s();
	qvk_run_energy_begin(&en);
	st = qvk_llm_forward(llm, g.hist, r->n_prompt, 0, NULL, &g.logits);
	r->have_prefill_energy = qvk_run_energy_end(&en, &r->prefill_energy);
	t_prefill = qvk_tool_now_s();
	r->prefill_s = t_prefill - t0;
	qvk_run_energy_begin(&en);
	prev = g.hist[r->n_prompt - 1];
	r->stop = QVK_RUN_STOP_LENGTH;
	while (st == QVK_OK && r->generated < a->n_tokens) {
		const char *piece;
		size_t len;

		st = qvk_sampler_sample(smp, g.logits, &token);
		if (st != QVK_OK)
			break;
		if (token == eos && !a->ignore_eos) {
			r->stop = QVK_RUN_STOP_EOS;
			break;
		}
		if (!r->generated)
			t_first = qvk_tool_now_s();
		r->tokens[r->generated++] = token;
		piece = qvk_tokenizer_decode(tok, prev, token, &len);
		prev = token;
		st = qvk_run_emit(&g, piece, len, &stopped);
		if (st != QVK_OK || stopped) {
			r->stop = QVK_RUN_STOP_STRING;
			break;
		}
		if (r->generated == a->n_tokens)
			break;
		st = qvk_run_feed(&g, token, &full);
		if (full) {
			r->stop = QVK_RUN_STOP_CONTEXT;
			break;
		}
	}
	r->decode_s = qvk_tool_now_s() - t_prefill;
	r->first_token_s = (r->generated ? t_first : t_prefill) - t0;
	r->have_decode_energy = qvk_run_energy_end(&en, &r->decode_energy);
	qvk_run_flush(&g, r->text_len);
	if (!a->json) {
		putchar('\n');
		fflush(stdout);
	}
	if (st != QVK_OK) {
		qvk_tool_fail(ctx, st, "run", "generating");
		goto out;
	}
	if (full)
		qvk_run_say_full(&g, model_ctx);
	ok = true;
out:
	qvk_sampler_destroy(smp);
	free(g.hist);
	return ok;
}

void qvk_run_result_finish(struct qvk_run_result *r)
{
	free(r->tokens);
	free(r->text);
	memset(r, 0, sizeof(*r));
}
