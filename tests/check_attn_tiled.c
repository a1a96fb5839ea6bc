/* SPDX-License-Identifier: MIT */
/*
 * The tiled prefill attention kernel (attention_prefill_tiled.comp,
 * runtime/ops/attn_prefill.c), forced, against the C reference; and a
 * whole-model prefill with it forced against the device's default kernel.
 *
 * Tolerances:
 * - op: |gpu - ref| <= 2e-5 + 1e-4 |ref|, as every attention kernel
 *   (check_ops_attn.c): only summation orders and the online softmax's
 *   rescaling (once per tile) differ. Outputs are poisoned (NaN) and
 *   cache positions past the step are NaN, so an unwritten output or a
 *   read past the causal mask fails.
 * - model: stories260K, fp32 weights and cache, 32 tokens prefilled after
 *   a prefix of 40: logits within 1e-5 of the largest logit of the default
 *   kernel's, every argmax the same (the attention outputs differ by
 *   ~1e-7; fp32 all the way, so nothing rounds them apart).
 */
#include "check_ops_attn.h"
#include "check_arch.h"
#include "forward/llm_internal.h"

#define QVK_TILED (QVK_ATTN_PREFILL_TILED + 1)
#define QVK_TILED_SMALL (QVK_ATTN_PREFILL_TILED_SMALL + 1)

/*
 * Token counts and positions from the tile this device gets for each
 * shape, so that the cases hit what they name on any device: m = 1,
 * m < BR, m not a multiple of BR, a cached prefix (pos > 0), a context
 * not a multiple of BC, GQA (GMAX 2, 8), MQA, MHA, fp16 and fp32 caches,
 * head_dim 8 (stories260K), 48, 64, 128, a peaked softmax.
 */
START_TEST(test_tiled_prefill_matches_reference)
{
	uint64_t seed = qvk_test_seed("tiled prefill");
	struct qvk_ops ops;
	const struct {
		uint32_t hd, heads, kv;
		uint32_t m_tiles, m_extra, pos_tiles, pos_extra; /* BR, BC units */
		float q_scale;
		uint32_t kind;
		bool f32;
	} cases[] = {
		{ 64, 8, 4, 0, 1, 0, 0, 1.0f, QVK_TILED, false },  /* m = 1 */
		{ 64, 8, 4, 0, 1, 2, 5, 1.0f, QVK_TILED, true },   /* m = 1, prefix */
		{ 64, 8, 4, 1, -1u, 0, 0, 1.0f, QVK_TILED, false }, /* m < BR */
		{ 64, 8, 4, 2, 3, 1, 7, 1.0f, QVK_TILED, false },  /* 2 BR + 3 */
		{ 128, 16, 2, 1, 5, 2, 3, 1.0f, QVK_TILED, false }, /* GMAX 8 */
		{ 64, 32, 4, 1, 2, 3, 1, 20.0f, QVK_TILED, false }, /* peaked */
		{ 8, 8, 1, 2, 1, 1, 3, 1.0f, QVK_TILED, false },   /* MQA, hd 8 */
		{ 8, 8, 4, 1, 3, 0, 0, 1.0f, QVK_TILED, true },    /* stories260K */
		{ 48, 6, 6, 1, 1, 2, 0, 1.0f, QVK_TILED, true },   /* MHA, hd 48 */
		{ 64, 8, 4, 3, 1, 1, 2, 1.0f, QVK_TILED_SMALL, false },
		{ 128, 16, 2, 1, 1, 1, 1, 1.0f, QVK_TILED_SMALL, true },
	};

	qvk_ops_test_init(&ops, 0);
	for (size_t i = 0; i < QVK_ARRAY_SIZE(cases); i++) {
		struct qvk_ops_model mdl = qvk_attn_model(cases[i].hd,
							  cases[i].heads,
							  cases[i].kv, 1);
		struct qvk_attn_case c = {
			.hd = cases[i].hd, .heads = cases[i].heads,
			.kv = cases[i].kv, .q_scale = cases[i].q_scale,
			.prefill = cases[i].kind, .f32 = cases[i].f32,
		};
		struct qvk_attn_tile t;

		if (!qvk_ops_attn_tile(&ops, &mdl, cases[i].kind - 1, &t)) {
			printf("  hd %u heads %u/%u: no %s tile fits this device "
			       "(attention.comp runs)\n", c.hd, c.heads, c.kv,
			       qvk_attn_prefill_name(cases[i].kind - 1));
			continue;
		}
		c.m = cases[i].m_tiles * t.br + cases[i].m_extra;
		if (!c.m || c.m > 4 * t.br + 8) {
			printf("  m < BR skipped: this device's tile has %u token\n",
			       t.br);
			continue;
		}
		c.pos = cases[i].pos_tiles * t.bc + cases[i].pos_extra;
		c.max_seq = c.pos + c.m + 3;
		qvk_attn_run_case(&ops, &seed, &c);
	}
	qvk_ops_finish(&ops);
}
END_TEST

/* The tile respects the device's limits for every head_dim models use. */
START_TEST(test_tiled_prefill_tiles_fit_limits)
{
	const struct qvk_device_info *info = &qvk_test_dev->info;
	const uint32_t hds[] = { 8, 48, 64, 80, 96, 128, 256 };
	struct qvk_ops ops;

	qvk_ops_test_init(&ops, 0);
	for (size_t i = 0; i < QVK_ARRAY_SIZE(hds); i++)
		for (uint32_t k = QVK_ATTN_PREFILL_TILED;
		     k <= QVK_ATTN_PREFILL_TILED_SMALL; k++) {
			struct qvk_ops_model mdl = qvk_attn_model(hds[i], 32, 4, 1);
			struct qvk_attn_tile t;
			uint64_t hd4 = hds[i] / 4, qr, shared;

			if (!qvk_ops_attn_tile(&ops, &mdl, k, &t)) {
				printf("  hd %u %s: no tile fits\n", hds[i],
				       qvk_attn_prefill_name(k));
				continue;
			}
			qr = (uint64_t)t.br * t.gq;
			shared = 16 * (qr * hd4 + 2ull * t.bc * (hd4 + 1)) +
				 4 * qr * t.bc;
			printf("  hd %u %s: %u invocations = %u tokens x %u heads "
			       "x %u lanes, %u positions, %llu of %u shared bytes\n",
			       hds[i], qvk_attn_prefill_name(k), t.wg, t.br, t.gq,
			       t.tpr, t.bc, (unsigned long long)shared,
			       info->max_shared_memory_bytes);
			ck_assert_uint_eq(t.wg, qr * t.tpr);
			ck_assert_uint_le(t.wg, info->max_workgroup_invocations);
			ck_assert_uint_le(t.wg, info->max_workgroup_size[0]);
			ck_assert_uint_le(shared, info->max_shared_memory_bytes);
			ck_assert_uint_eq(hd4 % t.tpr, 0);
			ck_assert_uint_ge(t.bc, t.tpr);
			ck_assert_uint_eq(8 % t.gq, 0);
		}
	qvk_ops_finish(&ops);
}
END_TEST

static struct qvk_model *qvk_tiled_model_;

static void qvk_tiled_model_setup(void)
{
	char path[512];

	qvk_test_gpu_setup();
	ck_assert_int_eq(qvk_model_load(qvk_test_ctx,
					qvk_test_source_path("tests/data/stories260K.bin",
							     path, sizeof(path)),
					&qvk_tiled_model_),
			 QVK_OK);
}

static void qvk_tiled_model_teardown(void)
{
	qvk_model_destroy(qvk_tiled_model_);
	qvk_tiled_model_ = NULL;
	qvk_test_gpu_teardown();
}

/* Logits of tokens[40..72) prefilled after tokens[0..40), @kind forced. */
static void qvk_tiled_model_run(const char *kind, const uint32_t *tokens,
				float *logits)
{
	struct qvk_llm_options opt = { .format = QVK_WEIGHTS_F32,
				       .max_batch = 64, .kv_f32 = true };
	struct qvk_llm *llm;

	if (kind)
		ck_assert_int_eq(setenv("QVK_ATTN_PREFILL", kind, 1), 0);
	else
		ck_assert_int_eq(unsetenv("QVK_ATTN_PREFILL"), 0);
	ck_assert_msg(qvk_llm_create(qvk_test_dev, qvk_tiled_model_, &opt,
				     &llm) == QVK_OK,
		      "llm: %s", qvk_ctx_message(qvk_test_ctx));
	ck_assert_int_eq(qvk_llm_forward(llm, tokens, 40, 0, NULL, NULL),
			 QVK_OK);
	ck_assert_int_eq(qvk_llm_forward(llm, tokens + 40, 32, 40, logits, NULL),
			 QVK_OK);
	if (kind) {
		/* The tiled kernel was bound, not the fallback: its pipeline
		 * exists (heads of 8, 2 per kv head: GMAX variant 1). */
		ck_assert_uint_eq(llm->ops.attn_prefill, QVK_ATTN_PREFILL_TILED);
		ck_assert_ptr_nonnull(llm->ops.attention_tiled[1][1][0]);
	}
	qvk_llm_destroy(llm);
	ck_assert_int_eq(unsetenv("QVK_ATTN_PREFILL"), 0);
}

START_TEST(test_tiled_prefill_model_matches_default)
{
	uint32_t vocab = qvk_tiled_model_->params.vocab_size, tokens[72];
	uint64_t seed = qvk_test_seed("tiled prefill model");
	float *want = qvk_ops_test_alloc(32ull * vocab * 4);
	float *got = qvk_ops_test_alloc(32ull * vocab * 4);
	double worst = 0;
	uint32_t top1 = 0;

	for (uint32_t i = 0; i < QVK_ARRAY_SIZE(tokens); i++)
		tokens[i] = (uint32_t)(qvk_test_rand(&seed) % vocab);
	qvk_tiled_model_run(NULL, tokens, want);
	for (size_t i = 0; i < 32ull * vocab; i++)
		got[i] = NAN; /* poisoned: every logit is read back */
	qvk_tiled_model_run("tiled", tokens, got);
	for (uint32_t p = 0; p < 32; p++) {
		const float *g = got + (size_t)p * vocab, *w = want + (size_t)p * vocab;
		double diff = 0, mag = 0;

		for (uint32_t i = 0; i < vocab; i++) {
			ck_assert_msg(isfinite(g[i]), "logit %u of token %u: %g",
				      i, p, g[i]);
			diff = fmax(diff, fabs((double)g[i] - w[i]));
			mag = fmax(mag, fabs((double)w[i]));
		}
		worst = fmax(worst, diff / mag);
		top1 += qvk_test_argmax(g, vocab) == qvk_test_argmax(w, vocab);
	}
	printf("  stories260K prefill of 32 tokens after 40, tiled vs default: "
	       "worst max|diff|/max|logit| %.2e (bound 1e-5), top-1 %u/32\n",
	       worst, top1);
	ck_assert(worst <= 1e-5);
	ck_assert_uint_eq(top1, 32);
	free(want);
	free(got);
}
END_TEST

/* A name QVK_ATTN_PREFILL does not know is refused, naming it. */
START_TEST(test_tiled_prefill_env_refused)
{
	struct qvk_ops ops;
	qvk_status st;

	ck_assert_int_eq(setenv("QVK_ATTN_PREFILL", "tiles", 1), 0);
	st = qvk_ops_init(qvk_test_dev, &ops);
	ck_assert_int_eq(unsetenv("QVK_ATTN_PREFILL"), 0);
	ck_assert_int_eq(st, QVK_ERR_INVALID_ARG);
	ck_assert_msg(strstr(qvk_ctx_message(qvk_test_ctx), "QVK_ATTN_PREFILL=tiles"),
		      "'%s'", qvk_ctx_message(qvk_test_ctx));
	printf("  refused: %s\n", qvk_ctx_message(qvk_test_ctx));
}
END_TEST

Suite *suite_attn_tiled(void);
Suite *suite_attn_tiled(void)
{
	Suite *s = suite_create("attn_tiled");
	TCase *tc = tcase_create("op");

	tcase_add_checked_fixture(tc, qvk_test_gpu_setup, qvk_test_gpu_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_tiled_prefill_matches_reference);
	tcase_add_test(tc, test_tiled_prefill_tiles_fit_limits);
	tcase_add_test(tc, test_tiled_prefill_env_refused);
	suite_add_tcase(s, tc);
	tc = tcase_create("model");
	tcase_add_checked_fixture(tc, qvk_tiled_model_setup,
				  qvk_tiled_model_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_tiled_prefill_model_matches_default);
	suite_add_tcase(s, tc);
	return s;
}
