/* SPDX-License-Identifier: MIT */
/*
 * Sensitivity and the mixed-precision budget of qvk quantize (issue #14
 * item 5):
 *   - the knapsack picks the exact optimum of small random tables (brute
 *     force over every choice), and refuses a budget nothing fits;
 *   - on stories260K the table holds every matrix and the classifier, its
 *     KLs are finite and Q8_0 always costs less KL than Q4_0;
 *   - a mix chosen at the size of uniform q4 g32 and quantized with GPTQ
 *     gives a lower KL on held-out text (tinystories-eval) than the best
 *     uniform q4 g32 method (rtn, mse, awq, gptq); candidates Q8_0, Q4_0
 *     and q4 g64.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/quantize.h>

#include "harness.h"

START_TEST(test_choose_is_optimal)
{
	uint64_t seed = qvk_test_seed("mix knapsack");
	enum { N = 5, M = 3 };
	uint32_t types[M] = { 1, 2, 3 }, choice[N];
	char names[N][64] = { "a", "b", "c", "d", "e" };
	uint64_t elems[N], bytes[N * M], used;
	double kl[N * M];
	struct qvk_sensitivity s = { .n_tensors = N, .n_types = M,
				     .types = types, .names = names,
				     .elems = elems, .bytes = bytes, .kl = kl };

	for (int trial = 0; trial < 20; trial++) {
		uint64_t budget, lo = 0;
		double best = INFINITY, got = 0;

		for (int i = 0; i < N; i++) {
			elems[i] = 1000;
			for (int c = 0; c < M; c++) {
				/* cheaper types cost more KL, as they do */
				bytes[i * M + c] = 400 + 300 * (M - c) +
						   qvk_test_rand(&seed) % 200;
				kl[i * M + c] = (c + 1) * qvk_test_uniform(&seed,
									   0.1f, 1);
			}
			lo += bytes[i * M + M - 1];
		}
		budget = lo + qvk_test_rand(&seed) % 2500;
		for (int code = 0; code < 243; code++) { /* 3^5 choices */
			uint64_t b = 0;
			double k = 0;

			for (int i = 0, x = code; i < N; i++, x /= M) {
				b += bytes[i * M + x % M];
				k += kl[i * M + x % M];
			}
			if (b <= budget)
				best = fmin(best, k);
		}
		ck_assert_int_eq(qvk_sensitivity_choose(qvk_test_ctx, &s, budget,
							choice, &used), QVK_OK);
		for (int i = 0; i < N; i++)
			got += kl[i * M + choice[i]];
		ck_assert_uint_le(used, budget);
		/* budgets under 65536 bytes are solved exactly */
		ck_assert_msg(got <= best + 1e-9, "trial %d: knapsack %.4f, "
			      "optimum %.4f", trial, got, best);
	}
	ck_assert_int_eq(qvk_sensitivity_choose(qvk_test_ctx, &s, 100, choice,
						&used), QVK_ERR_INVALID_ARG);
	printf("mix knapsack: 20 random tables, the optimum each time; %s\n",
	       qvk_ctx_message(qvk_test_ctx));
}
END_TEST

/* The first @max tokens of $QVK_MODELS/@file, or NULL after a SKIP. */
static uint32_t *qvk_mix_text(const struct qvk_tokenizer *tok, const char *file,
			      size_t max, size_t *n)
{
	char path[512];
	size_t len;
	char *text;
	uint32_t *ids;

	if (!qvk_test_model_path(file, path, sizeof(path)))
		return NULL;
	text = qvk_test_read_file(path, &len);
	ids = malloc(QVK_TOKENIZE_MAX(len) * sizeof(*ids));
	ck_assert_ptr_nonnull(ids);
	ck_assert_int_eq(qvk_tokenizer_encode(tok, qvk_test_ctx, text, len, 0,
					      ids, QVK_TOKENIZE_MAX(len), n),
			 QVK_OK);
	free(text);
	ck_assert_uint_ge(*n, max);
	*n = max;
	return ids;
}

static double qvk_mix_kl(const struct qvk_model *m,
			 const struct qvk_quantize_options *o,
			 const uint32_t *eval, size_t n_eval)
{
	struct qvk_quantized *q;
	double kl;

	ck_assert_msg(qvk_quantize_model(qvk_test_ctx, m, o, &q) == QVK_OK, "%s",
		      qvk_ctx_message(qvk_test_ctx));
	ck_assert_int_eq(qvk_ref_kl(qvk_test_ctx, m, qvk_quantized_model(q),
				    eval, n_eval, 128, 1, &kl, NULL), QVK_OK);
	qvk_quantized_destroy(q);
	ck_assert(isfinite(kl) && kl > 0);
	return kl;
}

START_TEST(test_target_beats_uniform)
{
	static const enum qvk_quant_method methods[] = {
		QVK_METHOD_RTN, QVK_METHOD_MSE, QVK_METHOD_AWQ, QVK_METHOD_GPTQ,
	};
	char mpath[512], tpath[512];
	struct qvk_model *m = qvk_test_model_load(qvk_test_source_path(
		"tests/data/stories260K.bin", mpath, sizeof(mpath)));
	struct qvk_tokenizer *tok = qvk_test_tokenizer_load(qvk_test_source_path(
		"tests/data/tok512.bin", tpath, sizeof(tpath)));
	/* stories260K's rows are 64 or 172 wide: g64 is the cheaper q4 */
	uint32_t types[3] = { QVK_GGML_TYPE_Q8_0, QVK_GGML_TYPE_Q4_0,
			      qvk_ggml_type_qvk(QVK_QFORMAT_Q4, 64) };
	uint32_t *calib = NULL, *eval = NULL, *choice = NULL;
	size_t n_calib, n_eval;
	struct qvk_quantize_options o = { .format = QVK_WEIGHTS_Q4, .group = 32,
					  .calib_window = 128, .bos = 1 };
	struct qvk_sensitivity *s = NULL;
	struct qvk_tensor_type *tt = NULL;
	uint64_t budget = 0, used;
	double best = INFINITY, mixed;
	const char *best_name = "";
	uint32_t n_q8 = 0;

	if (!qvk_quant_has_blas()) {
		printf("SKIP: mix: AWQ and GPTQ left out of this build "
		       "(QVK_BLAS=0)\n");
		goto out;
	}
	calib = qvk_mix_text(tok, "tinystories-calib.txt", 1024, &n_calib);
	eval = calib ? qvk_mix_text(tok, "tinystories-eval.txt", 256, &n_eval) :
		       NULL;
	if (!eval)
		goto out;
	o.calib_tokens = calib;
	o.n_calib_tokens = n_calib;
	/* the table on the calibration text, RTN: each tensor alone */
	ck_assert_msg(qvk_sensitivity_measure(qvk_test_ctx, m, &o, types, 3,
					      calib, 128, 128, &s) == QVK_OK, "%s",
		      qvk_ctx_message(qvk_test_ctx));
	ck_assert_uint_eq(s->n_tensors, 7 * m->params.n_layers + 1);
	ck_assert_str_eq(s->names[s->n_tensors - 1], "output.weight");
	for (uint32_t i = 0; i < s->n_tensors; i++) {
		for (uint32_t c = 0; c < 3; c++)
			ck_assert(isfinite(s->kl[i * 3 + c]) &&
				  s->kl[i * 3 + c] > -1e-9);
		ck_assert_msg(s->kl[i * 3] < s->kl[i * 3 + 1], "%s: Q8_0 KL "
			      "%.3g not below Q4_0's %.3g", s->names[i],
			      s->kl[i * 3], s->kl[i * 3 + 1]);
		budget += s->bytes[i * 3 + 1]; /* uniform q4 g32 */
	}
	choice = calloc(s->n_tensors, sizeof(*choice));
	tt = calloc(s->n_tensors, sizeof(*tt));
	ck_assert(choice && tt);
	ck_assert_msg(qvk_sensitivity_choose(qvk_test_ctx, s, budget, choice,
					     &used) == QVK_OK, "%s",
		      qvk_ctx_message(qvk_test_ctx));
	ck_assert_uint_le(used, budget);
	for (uint32_t i = 0; i < s->n_tensors; i++) {
		tt[i].name = s->names[i];
		tt[i].type = types[choice[i]];
		n_q8 += choice[i] == 0;
	}
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		double kl;

		o.method = methods[i];
		kl = qvk_mix_kl(m, &o, eval, n_eval);
		printf("mix: uniform q4 g32 %-5s KL %.5f on %zu held-out tokens\n",
		       qvk_quant_method_name(methods[i]), kl, n_eval);
		fflush(stdout);
		if (kl < best) {
			best = kl;
			best_name = qvk_quant_method_name(methods[i]);
		}
	}
	o.method = QVK_METHOD_GPTQ;
	o.tensor_types = tt;
	o.n_tensor_types = s->n_tensors;
	mixed = qvk_mix_kl(m, &o, eval, n_eval);
	printf("mix: %u of %u matrices Q8_0, the rest Q4_0 or q4 g64, %llu of "
	       "%llu bytes (uniform q4 g32), gptq: KL %.5f vs the best uniform "
	       "(%s) %.5f\n", n_q8, s->n_tensors, (unsigned long long)used,
	       (unsigned long long)budget, mixed, best_name, best);
	fflush(stdout);
	ck_assert(n_q8 > 0);
	ck_assert(mixed < best);
out:
	free(tt);
	free(choice);
	qvk_sensitivity_destroy(s);
	free(calib);
	free(eval);
	qvk_tokenizer_destroy(tok);
	qvk_model_destroy(m);
}
END_TEST

Suite *suite_quantize_mix(void);
Suite *suite_quantize_mix(void)
{
	Suite *s = suite_create("quantize_mix");
	TCase *tc = tcase_create("stories260K");

	tcase_add_checked_fixture(tc, qvk_test_ctx_setup, qvk_test_ctx_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_choose_is_optimal);
	tcase_add_test(tc, test_target_beats_uniform);
	suite_add_tcase(s, tc);
	return s;
}
