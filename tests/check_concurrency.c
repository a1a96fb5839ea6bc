/* SPDX-License-Identifier: MIT */
/*
 * Two contexts in two threads at once (issue #13 item 7): each thread has
 * its own context, device (validation on) and qvk_llm, while the model and
 * the tokenizer, read-only after loading, are shared between them as the
 * headers allow. Each thread's greedy generation and final logits must be
 * bit-identical to the same work done alone first. `make check
 * SANITIZE=thread` runs this suite under ThreadSanitizer.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/llm.h>
#include <qvk/model.h>
#include <qvk/tokenizer.h>

#include "cache_sandbox.h"
#include "harness.h"

Suite *suite_concurrency(void);

#define QVK_CONC_TOKENS 24u
#define QVK_CONC_THREADS 2u

static struct qvk_model *conc_model;
static struct qvk_tokenizer *conc_tok;
static struct qvk_cache_sandbox conc_cache;

/* One thread's work and what came out of it. */
struct conc_run {
	enum qvk_weight_format format;
	const char *prompt;
	uint32_t tokens[QVK_CONC_TOKENS];
	uint32_t n_tokens;
	float *last;             /* (vocab) logits after the last token */
	uint32_t validation;     /* messages the validation layer gave */
	qvk_status st;
	char what[64], message[512];
};

static void conc_setup(void)
{
	char path[4096];

	qvk_test_ctx_setup();
	conc_model = qvk_test_model_load(qvk_test_source_path(
		"tests/data/stories260K.bin", path, sizeof(path)));
	conc_tok = qvk_test_tokenizer_load(qvk_test_source_path(
		"tests/data/tok512.bin", path, sizeof(path)));
	/* The threads' devices save the pipeline cache at once: not the user's. */
	qvk_cache_sandbox_enter(&conc_cache, "conc-cache");
}

static void conc_teardown(void)
{
	qvk_tokenizer_destroy(conc_tok);
	qvk_model_destroy(conc_model);
	conc_tok = NULL;
	conc_model = NULL;
	qvk_cache_sandbox_leave(&conc_cache);
	qvk_test_ctx_teardown();
}

static qvk_status conc_fail(struct conc_run *r, struct qvk_ctx *ctx,
			    qvk_status st, const char *what)
{
	if (st != QVK_OK && r->st == QVK_OK) {
		r->st = st;
		snprintf(r->what, sizeof(r->what), "%s", what);
		snprintf(r->message, sizeof(r->message), "%s",
			 qvk_ctx_message(ctx));
	}
	return st;
}

/* A whole generation on a context of its own; never calls Check. */
static void *conc_generate(void *arg)
{
	struct conc_run *r = arg;
	struct qvk_device_options dopt = { .validation = true };
	struct qvk_llm_options lopt = { .format = r->format, .group = 32 };
	uint32_t vocab = conc_model->params.vocab_size, prompt[64], token;
	struct qvk_device *dev = NULL;
	struct qvk_llm *llm = NULL;
	struct qvk_ctx *ctx = NULL;
	const float *logits;
	size_t n_prompt;

	r->st = QVK_OK;
	if (conc_fail(r, NULL, qvk_ctx_create(&ctx), "context"))
		return NULL;
	qvk_ctx_set_log(ctx, QVK_LOG_ERROR, NULL, NULL);
	if (conc_fail(r, ctx, qvk_tokenizer_encode(conc_tok, ctx, r->prompt,
						   strlen(r->prompt),
						   QVK_TOKENIZE_BOS, prompt, 64,
						   &n_prompt),
		      "encode") ||
	    conc_fail(r, ctx, qvk_device_create(ctx, &dopt, &dev), "device") ||
	    conc_fail(r, ctx, qvk_llm_create(dev, conc_model, &lopt, &llm),
		      "llm") ||
	    conc_fail(r, ctx, qvk_llm_forward(llm, prompt, (uint32_t)n_prompt,
					      0, NULL, &logits),
		      "prefill"))
		goto out;
	for (uint32_t i = 0; i < QVK_CONC_TOKENS; i++) {
		/* greedy: the lowest index among equal maxima */
		token = 0;
		for (uint32_t v = 1; v < vocab; v++)
			if (logits[v] > logits[token])
				token = v;
		r->tokens[r->n_tokens++] = token;
		if (conc_fail(r, ctx, qvk_llm_forward(llm, &token, 1,
						      (uint32_t)n_prompt + i,
						      NULL, &logits),
			      "decode"))
			goto out;
	}
	memcpy(r->last, logits, vocab * sizeof(float));
out:
	qvk_llm_destroy(llm);
	r->validation = qvk_device_validation_messages(dev);
	qvk_device_destroy(dev);
	qvk_ctx_destroy(ctx);
	return NULL;
}

static void conc_check_ok(const struct conc_run *r, const char *when)
{
	ck_assert_msg(r->st == QVK_OK, "%s, %s: %s: %s: %s", when,
		      qvk_weight_format_name(r->format), r->what,
		      qvk_strerror(r->st), r->message);
	ck_assert_msg(r->validation == 0, "%s, %s: %u validation message(s)",
		      when, qvk_weight_format_name(r->format), r->validation);
}

START_TEST(test_two_contexts_two_threads)
{
	static const enum qvk_weight_format formats[QVK_CONC_THREADS] = {
		QVK_WEIGHTS_Q8, QVK_WEIGHTS_Q4A,
	};
	static const char *const prompts[QVK_CONC_THREADS] = {
		"Once upon a time", "The little dog",
	};
	uint32_t vocab = conc_model->params.vocab_size;
	struct conc_run alone[QVK_CONC_THREADS], together[QVK_CONC_THREADS];
	pthread_t threads[QVK_CONC_THREADS];

	for (uint32_t t = 0; t < QVK_CONC_THREADS; t++) {
		alone[t] = (struct conc_run){ .format = formats[t],
					      .prompt = prompts[t] };
		alone[t].last = malloc(vocab * sizeof(float));
		together[t] = alone[t];
		together[t].last = malloc(vocab * sizeof(float));
		ck_assert(alone[t].last && together[t].last);
		/* The oracle: the same work on this thread, alone. */
		conc_generate(&alone[t]);
		conc_check_ok(&alone[t], "alone");
	}
	for (uint32_t t = 0; t < QVK_CONC_THREADS; t++)
		ck_assert_int_eq(pthread_create(&threads[t], NULL,
						conc_generate, &together[t]),
				 0);
	for (uint32_t t = 0; t < QVK_CONC_THREADS; t++)
		ck_assert_int_eq(pthread_join(threads[t], NULL), 0);
	for (uint32_t t = 0; t < QVK_CONC_THREADS; t++) {
		conc_check_ok(&together[t], "two threads");
		ck_assert_uint_eq(together[t].n_tokens, QVK_CONC_TOKENS);
		ck_assert_msg(!memcmp(together[t].tokens, alone[t].tokens,
				      sizeof(alone[t].tokens)),
			      "%s: the tokens generated beside another thread "
			      "differ from those generated alone",
			      qvk_weight_format_name(formats[t]));
		ck_assert_msg(!memcmp(together[t].last, alone[t].last,
				      vocab * sizeof(float)),
			      "%s: the final logits beside another thread differ "
			      "from those alone",
			      qvk_weight_format_name(formats[t]));
		printf("concurrency: %s '%s': %u greedy tokens and the final "
		       "logits identical alone and beside a second thread\n",
		       qvk_weight_format_name(formats[t]), prompts[t],
		       QVK_CONC_TOKENS);
		free(alone[t].last);
		free(together[t].last);
	}
}
END_TEST

Suite *suite_concurrency(void)
{
	Suite *s = suite_create("concurrency");
	TCase *tc = tcase_create("threads");

	tcase_add_checked_fixture(tc, conc_setup, conc_teardown);
	/* ~3 s quiet; several times that under ThreadSanitizer */
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_two_contexts_two_threads);
	suite_add_tcase(s, tc);
	return s;
}
