/* SPDX-License-Identifier: MIT */
/*
 * The GPU forward pass (qvk_llm) against the scalar C reference on the real
 * stories260K model: fp32 logits within 1e-4 of the largest logit for the
 * first 32 positions of a real prompt, through decode (one token at a time)
 * and batched prefill; fp16 and quantized formats against the reference of
 * the same quantized (dequantized) weights; greedy generation of 64 tokens
 * equal to the reference's; split-KV decode attention against one pass;
 * prefill on the shared-memory tiled kernel against the default one.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/llm.h>
#include <qvk/model.h>
#include <qvk/quant.h>
#include <qvk/tokenizer.h>

#include "check_arch.h"
#include "forward/llm_internal.h"
#include "matmul/matmul.h"

#define QVK_POSITIONS 32u

static struct qvk_model *qvk_model_;
static struct qvk_tokenizer *qvk_tok_;

static void qvk_forward_setup(void)
{
	char mpath[512], tpath[512];

	qvk_test_gpu_setup();
	ck_assert_int_eq(qvk_model_load(qvk_test_ctx,
					qvk_test_source_path("tests/data/stories260K.bin",
							     mpath, sizeof(mpath)),
					&qvk_model_),
			 QVK_OK);
	ck_assert_int_eq(qvk_tokenizer_load(qvk_test_ctx,
					    qvk_test_source_path("tests/data/tok512.bin",
								 tpath, sizeof(tpath)),
					    &qvk_tok_),
			 QVK_OK);
}

static void qvk_forward_teardown(void)
{
	qvk_tokenizer_destroy(qvk_tok_);
	qvk_model_destroy(qvk_model_);
	qvk_tok_ = NULL;
	qvk_model_ = NULL;
	qvk_test_gpu_teardown();
}

/*
 * The prompt's tokens, then the reference's greedy continuation up to
 * QVK_POSITIONS, with the reference's logits for every position.
 */
static void qvk_reference_run(const struct qvk_model *model, bool kv_f16,
			      uint32_t *tokens, float *logits)
{
	const char *prompt = "Once upon a time, there was a little dog named Max";
	uint32_t vocab = model->params.vocab_size;
	struct qvk_reference *ref;
	size_t n = 0;

	ck_assert_int_eq(qvk_tokenizer_encode(qvk_tok_, qvk_test_ctx, prompt,
					      strlen(prompt), QVK_TOKENIZE_BOS,
					      tokens, QVK_POSITIONS, &n),
			 QVK_OK);
	ck_assert_uint_gt(n, 8);
	ck_assert_int_eq(qvk_reference_create(qvk_test_ctx, model, &ref), QVK_OK);
	qvk_reference_set_kv_f16(ref, kv_f16); /* as the GPU's cache */
	for (uint32_t pos = 0; pos < QVK_POSITIONS; pos++) {
		const float *l;

		ck_assert_int_eq(qvk_reference_forward(ref, tokens[pos], pos, &l),
				 QVK_OK);
		memcpy(logits + (size_t)pos * vocab, l, vocab * sizeof(float));
		if (pos + 1 >= n && pos + 1 < QVK_POSITIONS)
			tokens[pos + 1] = qvk_test_argmax(l, vocab);
	}
	qvk_reference_destroy(ref);
}

struct qvk_cmp {
	double worst;    /* max over positions of max|diff| / max|ref| */
	uint32_t top1;   /* positions whose argmax agrees */
};

static struct qvk_cmp qvk_compare(const float *got, const float *want,
				  uint32_t vocab)
{
	struct qvk_cmp c = { 0, 0 };

	for (uint32_t p = 0; p < QVK_POSITIONS; p++) {
		const float *g = got + (size_t)p * vocab, *w = want + (size_t)p * vocab;
		double diff = 0, mag = 0;

		for (uint32_t i = 0; i < vocab; i++) {
			ck_assert_msg(isfinite(g[i]), "logit %u at %u is %g", i,
				      p, g[i]);
			diff = fmax(diff, fabs((double)g[i] - w[i]));
			mag = fmax(mag, fabs((double)w[i]));
		}
		c.worst = fmax(c.worst, diff / mag);
		c.top1 += qvk_test_argmax(g, vocab) == qvk_test_argmax(w, vocab);
	}
	return c;
}

/* GPU logits for tokens[0..QVK_POSITIONS): one at a time, or all at once. */
static void qvk_gpu_logits(const struct qvk_model *model,
			   const struct qvk_llm_options *opt,
			   const uint32_t *tokens, bool prefill, float *out)
{
	qvk_arch_gpu_logits(model, opt, tokens, QVK_POSITIONS, prefill, out);
}

START_TEST(test_f32_logits_match_reference)
{
	uint32_t vocab = qvk_model_->params.vocab_size, tokens[QVK_POSITIONS];
	float *ref = malloc((size_t)QVK_POSITIONS * vocab * 4);
	float *gpu = malloc((size_t)QVK_POSITIONS * vocab * 4);
	/* fp32 KV cache: the reference keeps keys and values in fp32 too. */
	struct qvk_llm_options opt = { .format = QVK_WEIGHTS_F32,
				       .max_batch = 16, .kv_f32 = true };

	ck_assert(ref && gpu);
	qvk_reference_run(qvk_model_, false, tokens, ref);
	for (int prefill = 0; prefill < 2; prefill++) {
		struct qvk_cmp c;

		qvk_gpu_logits(qvk_model_, &opt, tokens, prefill, gpu);
		c = qvk_compare(gpu, ref, vocab);
		printf("f32 %s: worst max|diff|/max|logit| %.2e over %u "
		       "positions (bound 1e-4), top-1 %u/%u\n",
		       prefill ? "prefill (batches of 16)" : "decode", c.worst,
		       QVK_POSITIONS, c.top1, QVK_POSITIONS);
		fflush(stdout);
		ck_assert(c.worst <= 1e-4);
		ck_assert_uint_eq(c.top1, QVK_POSITIONS);
	}
	free(ref);
	free(gpu);
}
END_TEST

/*
 * A copy of @src whose linear layers hold the dequantized @fmt weights (the
 * same RTN quantization qvk_llm applies at load), for the reference.
 */
static struct qvk_model qvk_dequantized(const struct qvk_model *src,
					enum qvk_weight_format fmt,
					uint32_t group, float ***owned,
					uint32_t *n_owned)
{
	struct qvk_model m = *src;
	uint32_t n_lin = 7 * src->params.n_layers + 1, k = 0;

	m.layers = malloc(src->params.n_layers * sizeof(*m.layers));
	*owned = calloc(n_lin + 1, sizeof(**owned));
	ck_assert(m.layers && *owned);
	memcpy(m.layers, src->layers, src->params.n_layers * sizeof(*m.layers));
	for (uint32_t l = 0; l <= src->params.n_layers; l++) {
		struct qvk_layer_weights *L = l < src->params.n_layers ?
						      &m.layers[l] : NULL;
		struct qvk_host_tensor *lin[7] = { 0 };

		if (L) {
			struct qvk_host_tensor *t[7] = { &L->wq, &L->wk, &L->wv,
							 &L->wo, &L->w1, &L->w2,
							 &L->w3 };
			memcpy(lin, t, sizeof(t));
		} else {
			lin[0] = &m.output;
		}
		for (int i = 0; i < 7 && lin[i]; i++) {
			struct qvk_host_tensor *t = lin[i];
			uint32_t n = (uint32_t)qvk_host_tensor_rows(t),
				 kk = (uint32_t)t->ne[0];
			float *w = malloc((size_t)n * kk * 4);
			struct qvk_qtensor *qt;
			struct qvk_quant_params qp;

			ck_assert_ptr_nonnull(w);
			for (uint32_t r = 0; r < n; r++)
				ck_assert_int_eq(qvk_host_tensor_row(t, r,
								     w + (size_t)r * kk),
						 QVK_OK);
			if (fmt == QVK_WEIGHTS_F16) {
				for (size_t e = 0; e < (size_t)n * kk; e++)
					w[e] = qvk_fp16_to_f32(qvk_fp16_from_f32(w[e]));
			} else {
				qp = qvk_quant_params_default(
					fmt == QVK_WEIGHTS_Q8 ? QVK_QFORMAT_Q8 :
					fmt == QVK_WEIGHTS_Q4 ? QVK_QFORMAT_Q4 :
								QVK_QFORMAT_Q4A,
					group);
				ck_assert_int_eq(qvk_quantize_weights(qvk_test_ctx,
								      t->name, w, n,
								      kk, &qp, &qt),
						 QVK_OK);
				qvk_qtensor_dequantize(qt, w);
				qvk_qtensor_destroy(qt);
			}
			t->type = QVK_GGML_TYPE_F32;
			t->data = w;
			t->size_bytes = (uint64_t)n * kk * 4;
			(*owned)[k++] = w;
		}
	}
	*n_owned = k;
	return m;
}

static void qvk_check_format(enum qvk_weight_format fmt, uint32_t group,
			     double bound, uint32_t min_top1)
{
	uint32_t vocab = qvk_model_->params.vocab_size, tokens[QVK_POSITIONS];
	float *ref = malloc((size_t)QVK_POSITIONS * vocab * 4);
	float *gpu = malloc((size_t)QVK_POSITIONS * vocab * 4);
	/*
	 * fp16 weights against their exact values: an fp32 cache so that only
	 * arithmetic differs. Integer formats run with the default fp16 cache,
	 * mirrored by the reference.
	 */
	struct qvk_llm_options opt = { .format = fmt, .group = group,
				       .max_batch = 8,
				       .kv_f32 = fmt == QVK_WEIGHTS_F16 };
	float **owned;
	uint32_t n_owned;
	struct qvk_model deq = qvk_dequantized(qvk_model_, fmt, group, &owned,
					       &n_owned);
	struct qvk_cmp c;

	ck_assert(ref && gpu);
	qvk_reference_run(&deq, !opt.kv_f32, tokens, ref);
	qvk_gpu_logits(qvk_model_, &opt, tokens, true, gpu);
	c = qvk_compare(gpu, ref, vocab);
	printf("%s g%u vs the reference of the same weights: worst "
	       "max|diff|/max|logit| %.2e (bound %.0e), top-1 %u/%u (need "
	       ">= %u)\n", qvk_weight_format_name(fmt), group, c.worst, bound,
	       c.top1, QVK_POSITIONS, min_top1);
	fflush(stdout);
	ck_assert(c.worst <= bound);
	ck_assert_uint_ge(c.top1, min_top1);
	for (uint32_t i = 0; i < n_owned; i++)
		free(owned[i]);
	free(owned);
	free(deq.layers);
	free(ref);
	free(gpu);
}

/*
 * fp16 weights: the same values on both sides, fp32 arithmetic: 1e-4.
 * Integer formats: the GPU also quantizes activations to int8 per token
 * (the reference keeps them in float), about 0.4% per matmul input; the
 * bounds leave room for that across 5 layers and nothing more.
 */
START_TEST(test_f16_logits_match_reference)
{
	qvk_check_format(QVK_WEIGHTS_F16, 32, 1e-4, QVK_POSITIONS);
}
END_TEST

START_TEST(test_q8_logits_match_reference)
{
	qvk_check_format(QVK_WEIGHTS_Q8, 32, 3e-2, QVK_POSITIONS - 2);
	qvk_check_format(QVK_WEIGHTS_Q8, 128, 3e-2, QVK_POSITIONS - 2);
}
END_TEST

START_TEST(test_q4_logits_match_reference)
{
	qvk_check_format(QVK_WEIGHTS_Q4, 32, 5e-2, QVK_POSITIONS - 4);
	qvk_check_format(QVK_WEIGHTS_Q4A, 64, 5e-2, QVK_POSITIONS - 4);
	qvk_check_format(QVK_WEIGHTS_Q4, 0, 5e-2, QVK_POSITIONS - 4);
}
END_TEST

/*
 * Prefill through matmul_q_tiled (QVK_MM_PREFILL=tiled, the device's first
 * tile) against the decode kernel (=default) on the same quantized model:
 * the int32 dots are exact on both and the fp32 sums per group run in
 * the same order, so only contraction into FMAs may differ: 1e-5 of the
 * largest logit, every argmax equal.
 */
static void qvk_check_tiled_prefill(enum qvk_weight_format fmt, uint32_t group)
{
	uint32_t vocab = qvk_model_->params.vocab_size, tokens[QVK_POSITIONS];
	float *tiled = malloc((size_t)QVK_POSITIONS * vocab * 4);
	float *plain = malloc((size_t)QVK_POSITIONS * vocab * 4);
	struct qvk_llm_options opt = { .format = fmt, .group = group,
				       .max_batch = QVK_POSITIONS };
	struct qvk_mm mm;
	struct qvk_cmp c;

	ck_assert(tiled && plain);
	for (uint32_t i = 0; i < QVK_POSITIONS; i++)
		tokens[i] = 1 + (i * 131u) % (vocab - 1);
	ck_assert_int_eq(setenv("QVK_MM_PREFILL", "tiled", 1), 0);
	ck_assert_int_eq(qvk_mm_init(qvk_test_dev, &mm), QVK_OK);
	ck_assert_uint_eq(mm.prefill[QVK_MM_Q8], 1); /* the override holds */
	qvk_mm_finish(&mm);
	qvk_gpu_logits(qvk_model_, &opt, tokens, true, tiled);
	ck_assert_int_eq(setenv("QVK_MM_PREFILL", "default", 1), 0);
	qvk_gpu_logits(qvk_model_, &opt, tokens, true, plain);
	ck_assert_int_eq(unsetenv("QVK_MM_PREFILL"), 0);
	c = qvk_compare(tiled, plain, vocab);
	printf("%s g%u prefill of %u tokens, tiled vs default kernel: worst "
	       "max|diff|/max|logit| %.2e (bound 1e-5), top-1 %u/%u\n",
	       qvk_weight_format_name(fmt), group, QVK_POSITIONS, c.worst,
	       c.top1, QVK_POSITIONS);
	fflush(stdout);
	ck_assert(c.worst <= 1e-5);
	ck_assert_uint_eq(c.top1, QVK_POSITIONS);
	free(tiled);
	free(plain);
}

START_TEST(test_tiled_prefill_matches_default)
{
	struct qvk_mm mm;
	uint32_t n_tiles;

	ck_assert_int_eq(qvk_mm_init_untuned(qvk_test_dev, &mm), QVK_OK);
	n_tiles = mm.n_tiles;
	qvk_mm_finish(&mm);
	if (!n_tiles) {
		printf("tiled prefill: %s has no tile (skipped)\n",
		       qvk_test_dev->info.name);
		return;
	}
	qvk_check_tiled_prefill(QVK_WEIGHTS_Q8, 32);
	qvk_check_tiled_prefill(QVK_WEIGHTS_Q4A, 64);
}
END_TEST

/* Greedy decoding from BOS: 64 tokens equal to the reference's, in fp32. */
START_TEST(test_greedy_64_tokens_match_reference)
{
	const struct qvk_model_params *p = &qvk_model_->params;
	struct qvk_llm_options opt = { .format = QVK_WEIGHTS_F32 };
	uint32_t tok_ref = qvk_tokenizer_bos(qvk_tok_), tok_gpu = tok_ref;
	struct qvk_reference *ref;
	struct qvk_llm *llm;

	ck_assert_int_eq(qvk_reference_create(qvk_test_ctx, qvk_model_, &ref),
			 QVK_OK);
	qvk_reference_set_kv_f16(ref, true);
	ck_assert_int_eq(qvk_llm_create(qvk_test_dev, qvk_model_, &opt, &llm),
			 QVK_OK);
	for (uint32_t pos = 0; pos < 64; pos++) {
		const float *lr, *lg;

		ck_assert_int_eq(qvk_reference_forward(ref, tok_ref, pos, &lr),
				 QVK_OK);
		ck_assert_int_eq(qvk_llm_forward(llm, &tok_gpu, 1, pos, NULL, &lg),
				 QVK_OK);
		tok_ref = qvk_test_argmax(lr, p->vocab_size);
		tok_gpu = qvk_test_argmax(lg, p->vocab_size);
		ck_assert_msg(tok_gpu == tok_ref, "position %u: GPU %u, "
			      "reference %u", pos, tok_gpu, tok_ref);
	}
	printf("greedy: 64 tokens from BOS equal to the reference's\n");
	qvk_llm_destroy(llm);
	qvk_reference_destroy(ref);
}
END_TEST

/*
 * Decode logits of one llm with split-KV attention, for QVK_POSITIONS
 * tokens at positions @prefill.. after a batched prefill of @prefill
 * tokens (the same random tokens for every call).
 */
static void qvk_split_run(uint32_t splits, uint32_t prefill,
			  const uint32_t *tokens, float *logits)
{
	uint32_t vocab = qvk_model_->params.vocab_size;
	struct qvk_llm_options opt = { .format = QVK_WEIGHTS_F32,
				       .max_batch = 64, .kv_f32 = true,
				       .attn_splits = splits };
	struct qvk_llm *llm;

	ck_assert_int_eq(qvk_llm_create(qvk_test_dev, qvk_model_, &opt, &llm),
			 QVK_OK);
	ck_assert_uint_eq(llm->attn_splits, splits > 1 ? splits : 0);
	for (uint32_t p = 0; p < prefill; p += 64)
		ck_assert_int_eq(qvk_llm_forward(llm, tokens + p, 64, p, NULL,
						 NULL),
				 QVK_OK);
	for (uint32_t i = 0; i < QVK_POSITIONS; i++) {
		const float *last;

		ck_assert_int_eq(qvk_llm_forward(llm, &tokens[prefill + i], 1,
						 prefill + i, NULL, &last),
				 QVK_OK);
		memcpy(logits + (size_t)i * vocab, last, 4ull * vocab);
	}
	qvk_llm_destroy(llm);
}

/*
 * Whole-model decode with split-KV attention equals the one-pass kernel's:
 * only the attention's summation order differs (one more rescaling per
 * split), so the logits agree to 1e-5 of the largest logit and every
 * argmax is the same. The cache is fp32: with fp16, a 1e-7 difference in
 * a key can round to the other fp16 neighbour (1e-3 apart) and move
 * logits by ~7e-4, which would hide a real error of that size. 4 splits of 64 positions cover the
 * contexts 193..224 (the last split partly filled); 8 splits leave some
 * empty.
 */
START_TEST(test_split_decode_matches_one_pass)
{
	const uint32_t prefill = 192, vocab = qvk_model_->params.vocab_size;
	uint64_t seed = qvk_test_seed("split decode");
	uint32_t tokens[192 + QVK_POSITIONS];
	float *one = malloc((size_t)QVK_POSITIONS * vocab * 4);
	float *split = malloc((size_t)QVK_POSITIONS * vocab * 4);
	struct qvk_llm_options bad = { .format = QVK_WEIGHTS_F32,
				       .attn_splits = QVK_OPS_ATTN_MAX_SPLITS + 1 };
	struct qvk_llm *llm;

	ck_assert(one && split);
	for (uint32_t i = 0; i < QVK_ARRAY_SIZE(tokens); i++)
		tokens[i] = (uint32_t)(qvk_test_rand(&seed) % vocab);
	qvk_split_run(1, prefill, tokens, one);
	for (uint32_t splits = 4; splits <= 8; splits += 4) {
		struct qvk_cmp c;

		for (size_t i = 0; i < (size_t)QVK_POSITIONS * vocab; i++)
			split[i] = NAN; /* poisoned: every logit is read back */
		qvk_split_run(splits, prefill, tokens, split);
		c = qvk_compare(split, one, vocab);
		printf("split decode x%u vs one pass at positions %u..%u: worst "
		       "max|diff|/max|logit| %.2e (bound 1e-5), top-1 %u/%u\n",
		       splits, prefill, prefill + QVK_POSITIONS - 1, c.worst,
		       c.top1, QVK_POSITIONS);
		fflush(stdout);
		ck_assert(c.worst <= 1e-5);
		ck_assert_uint_eq(c.top1, QVK_POSITIONS);
	}
	ck_assert_int_eq(qvk_llm_create(qvk_test_dev, qvk_model_, &bad, &llm),
			 QVK_ERR_INVALID_ARG);
	free(one);
	free(split);
}
END_TEST

Suite *suite_forward(void);
Suite *suite_forward(void)
{
	Suite *s = suite_create("forward");
	TCase *tc = tcase_create("stories260K");

	tcase_add_checked_fixture(tc, qvk_forward_setup, qvk_forward_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_f32_logits_match_reference);
	tcase_add_test(tc, test_f16_logits_match_reference);
	tcase_add_test(tc, test_q8_logits_match_reference);
	tcase_add_test(tc, test_q4_logits_match_reference);
	tcase_add_test(tc, test_tiled_prefill_matches_default);
	tcase_add_test(tc, test_greedy_64_tokens_match_reference);
	tcase_add_test(tc, test_split_decode_matches_one_pass);
	suite_add_tcase(s, tc);
	return s;
}
