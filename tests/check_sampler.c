/* SPDX-License-Identifier: MIT */
/*
 * Sampler: greedy and its tie rule, reproducibility per seed, the sampled
 * frequencies against the exact distribution after temperature, top-k and
 * top-p and min-p, banned tokens, the repetition penalty, and rejected
 * inputs.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <qvk/sampler.h>

#include "harness.h"

static struct qvk_sampler *make(uint32_t vocab, float temp, uint32_t top_k,
				float top_p, float penalty, uint64_t seed)
{
	struct qvk_sampler_options o;
	struct qvk_sampler *s = NULL;

	qvk_sampler_options_default(&o);
	o.temperature = temp;
	o.top_k = top_k;
	o.top_p = top_p;
	o.repeat_penalty = penalty;
	o.seed = seed;
	ck_assert_int_eq(qvk_sampler_create(qvk_test_ctx, vocab, &o, &s), QVK_OK);
	return s;
}

START_TEST(test_greedy)
{
	const float logits[6] = { -1.0f, 3.0f, 0.5f, 3.0f, -7.0f, 2.9f };
	struct qvk_sampler *s = make(6, 0.0f, 0, 1.0f, 1.0f, 1);
	uint32_t t;

	for (int i = 0; i < 10; i++) {
		ck_assert_int_eq(qvk_sampler_sample(s, logits, &t), QVK_OK);
		ck_assert_uint_eq(t, 1); /* tie between 1 and 3: the lower id */
	}
	qvk_sampler_destroy(s);
}
END_TEST

START_TEST(test_seed_reproducible)
{
	uint64_t seed = qvk_test_seed("test_seed_reproducible"), rng = seed;
	float logits[100];
	uint32_t a[500], b[500], c[500];
	struct qvk_sampler *s;
	int differ = 0;

	for (int i = 0; i < 100; i++)
		logits[i] = qvk_test_normal(&rng);
	for (int run = 0; run < 3; run++) {
		uint32_t *out = run == 0 ? a : run == 1 ? b : c;

		s = make(100, 0.8f, 40, 0.95f, 1.1f, run < 2 ? seed : seed + 1);
		for (int i = 0; i < 500; i++)
			ck_assert_int_eq(qvk_sampler_sample(s, logits, &out[i]), QVK_OK);
		qvk_sampler_destroy(s);
	}
	for (int i = 0; i < 500; i++) {
		ck_assert_uint_eq(a[i], b[i]);
		differ += a[i] != c[i];
	}
	printf("seed %llu vs %llu: %d/500 tokens differ\n",
	       (unsigned long long)seed, (unsigned long long)seed + 1, differ);
	ck_assert_int_gt(differ, 100);
	/* reset restarts the same sequence */
	s = make(100, 0.8f, 40, 0.95f, 1.1f, seed);
	for (int i = 0; i < 50; i++)
		ck_assert_int_eq(qvk_sampler_sample(s, logits, &c[i]), QVK_OK);
	qvk_sampler_reset(s, seed);
	for (int i = 0; i < 50; i++) {
		ck_assert_int_eq(qvk_sampler_sample(s, logits, &c[i]), QVK_OK);
		ck_assert_uint_eq(c[i], a[i]);
	}
	qvk_sampler_destroy(s);
}
END_TEST

/*
 * Draw @n tokens and compare the frequencies with @expect: the largest
 * deviation in standard deviations of a binomial count must stay under 5.
 */
static void check_frequencies(struct qvk_sampler *s, const float *logits,
			      uint32_t vocab, const double *expect, int n,
			      const char *what)
{
	int count[16] = { 0 };
	double worst = 0.0;
	uint32_t t;

	for (int i = 0; i < n; i++) {
		ck_assert_int_eq(qvk_sampler_sample(s, logits, &t), QVK_OK);
		ck_assert_uint_lt(t, vocab);
		count[t]++;
	}
	for (uint32_t i = 0; i < vocab; i++) {
		double sd = sqrt(n * expect[i] * (1 - expect[i]));
		double z = sd > 0 ? fabs(count[i] - n * expect[i]) / sd :
				    (count[i] ? INFINITY : 0.0);

		worst = fmax(worst, z);
	}
	printf("%s: %d draws, worst deviation %.2f sigma\n", what, n, worst);
	ck_assert_msg(worst < 5.0, "%s: deviation %.2f sigma", what, worst);
}

START_TEST(test_distributions)
{
	uint64_t seed = qvk_test_seed("test_distributions");
	const float p[5] = { 0.05f, 0.4f, 0.15f, 0.1f, 0.3f };
	float logits[5];
	double e[5], z = 0;
	struct qvk_sampler *s;

	for (int i = 0; i < 5; i++)
		logits[i] = logf(p[i]) + 3.0f; /* a shift changes nothing */
	/* temperature 1: the softmax itself */
	for (int i = 0; i < 5; i++)
		e[i] = p[i];
	s = make(5, 1.0f, 0, 1.0f, 1.0f, seed);
	check_frequencies(s, logits, 5, e, 200000, "temperature 1");
	qvk_sampler_destroy(s);
	/* temperature 0.5: p^2 renormalised */
	for (int i = 0; i < 5; i++)
		z += (double)p[i] * p[i];
	for (int i = 0; i < 5; i++)
		e[i] = (double)p[i] * p[i] / z;
	s = make(5, 0.5f, 0, 1.0f, 1.0f, seed);
	check_frequencies(s, logits, 5, e, 200000, "temperature 0.5");
	qvk_sampler_destroy(s);
	/* top-k 2: tokens 1 and 4 only, 0.4 : 0.3 */
	memset(e, 0, sizeof(e));
	e[1] = 0.4 / 0.7;
	e[4] = 0.3 / 0.7;
	s = make(5, 1.0f, 2, 1.0f, 1.0f, seed);
	check_frequencies(s, logits, 5, e, 200000, "top-k 2");
	qvk_sampler_destroy(s);
	/* top-p 0.8: 0.4 + 0.3 < 0.8 <= 0.4 + 0.3 + 0.15: three tokens */
	memset(e, 0, sizeof(e));
	e[1] = 0.4 / 0.85;
	e[4] = 0.3 / 0.85;
	e[2] = 0.15 / 0.85;
	s = make(5, 1.0f, 0, 0.8f, 1.0f, seed);
	check_frequencies(s, logits, 5, e, 200000, "top-p 0.8");
	qvk_sampler_destroy(s);
}
END_TEST

START_TEST(test_min_p)
{
	uint64_t seed = qvk_test_seed("test_min_p");
	const float p[5] = { 0.05f, 0.4f, 0.15f, 0.1f, 0.3f };
	struct qvk_sampler_options o;
	struct qvk_sampler *s = NULL;
	float logits[5];
	double e[5] = { 0 };

	for (int i = 0; i < 5; i++)
		logits[i] = logf(p[i]) - 1.0f;
	qvk_sampler_options_default(&o);
	o.seed = seed;
	/* min-p 0.3: p >= 0.12 keeps 0.4, 0.3 and 0.15 (0.1 and 0.05 go) */
	o.min_p = 0.3f;
	ck_assert_int_eq(qvk_sampler_create(qvk_test_ctx, 5, &o, &s), QVK_OK);
	e[1] = 0.4 / 0.85;
	e[4] = 0.3 / 0.85;
	e[2] = 0.15 / 0.85;
	check_frequencies(s, logits, 5, e, 200000, "min-p 0.3");
	qvk_sampler_destroy(s);
	/*
	 * Judged before temperature: at temperature 2 token 3 (p 0.1) would
	 * pass if judged after it (sqrt(0.1 / 0.4) = 0.5 >= 0.3); it stays
	 * out, and the three kept are drawn with weights p^(1/2).
	 */
	o.temperature = 2.0f;
	ck_assert_int_eq(qvk_sampler_create(qvk_test_ctx, 5, &o, &s), QVK_OK);
	e[1] = sqrt(0.4);
	e[4] = sqrt(0.3);
	e[2] = sqrt(0.15);
	{
		double z = e[1] + e[4] + e[2];

		e[1] /= z;
		e[4] /= z;
		e[2] /= z;
	}
	check_frequencies(s, logits, 5, e, 200000, "min-p 0.3, temperature 2");
	qvk_sampler_destroy(s);
	/* min-p 1 keeps the most likely token only: greedy */
	o.min_p = 1.0f;
	ck_assert_int_eq(qvk_sampler_create(qvk_test_ctx, 5, &o, &s), QVK_OK);
	for (int i = 0; i < 2000; i++) {
		uint32_t t;

		ck_assert_int_eq(qvk_sampler_sample(s, logits, &t), QVK_OK);
		ck_assert_uint_eq(t, 1);
	}
	qvk_sampler_destroy(s);
	o.min_p = 1.5f;
	ck_assert_int_eq(qvk_sampler_create(qvk_test_ctx, 5, &o, &s),
			 QVK_ERR_INVALID_ARG);
	o.min_p = NAN;
	ck_assert_int_eq(qvk_sampler_create(qvk_test_ctx, 5, &o, &s),
			 QVK_ERR_INVALID_ARG);
}
END_TEST

START_TEST(test_ban)
{
	uint64_t seed = qvk_test_seed("test_ban");
	const float p[4] = { 0.1f, 0.6f, 0.2f, 0.1f };
	float logits[4];
	double e[4] = { 0.25, 0, 0.5, 0.25 };
	struct qvk_sampler *s;
	uint32_t t;

	for (int i = 0; i < 4; i++)
		logits[i] = logf(p[i]);
	/* greedy: the banned argmax gives way to the next best */
	s = make(4, 0.0f, 0, 1.0f, 1.0f, seed);
	ck_assert_int_eq(qvk_sampler_sample(s, logits, &t), QVK_OK);
	ck_assert_uint_eq(t, 1);
	ck_assert_int_eq(qvk_sampler_ban(s, 1), QVK_OK);
	ck_assert_int_eq(qvk_sampler_ban(s, 1), QVK_OK);
	ck_assert_int_eq(qvk_sampler_sample(s, logits, &t), QVK_OK);
	ck_assert_uint_eq(t, 2);
	ck_assert_int_eq(qvk_sampler_ban(s, 4), QVK_ERR_INVALID_ARG);
	qvk_sampler_destroy(s);
	/* sampled: the others keep their relative odds */
	s = make(4, 1.0f, 0, 1.0f, 1.0f, seed);
	ck_assert_int_eq(qvk_sampler_ban(s, 1), QVK_OK);
	check_frequencies(s, logits, 4, e, 200000, "token 1 banned");
	for (uint32_t i = 0; i < 4; i++)
		ck_assert_int_eq(qvk_sampler_ban(s, i), QVK_OK);
	ck_assert_int_eq(qvk_sampler_sample(s, logits, &t), QVK_ERR_INVALID_ARG);
	printf("all banned: %s\n", qvk_ctx_message(qvk_test_ctx));
	qvk_sampler_destroy(s);
}
END_TEST

START_TEST(test_repeat_penalty)
{
	const float logits[4] = { 2.0f, 1.9f, -1.0f, -1.05f };
	struct qvk_sampler *s = make(4, 0.0f, 0, 1.0f, 1.1f, 1);
	uint32_t t;

	ck_assert_int_eq(qvk_sampler_sample(s, logits, &t), QVK_OK);
	ck_assert_uint_eq(t, 0);
	/* 0 was accepted: 2.0 / 1.1 = 1.82 < 1.9 */
	ck_assert_int_eq(qvk_sampler_sample(s, logits, &t), QVK_OK);
	ck_assert_uint_eq(t, 1);
	/* both penalised: 1.82 vs 1.73 */
	ck_assert_int_eq(qvk_sampler_sample(s, logits, &t), QVK_OK);
	ck_assert_uint_eq(t, 0);
	qvk_sampler_destroy(s);
	/* negative logits are multiplied: -1 * 1.1 < -1.05 */
	{
		const float neg[2] = { -1.0f, -1.05f };

		s = make(2, 0.0f, 0, 1.0f, 1.1f, 1);
		qvk_sampler_accept(s, 0);
		ck_assert_int_eq(qvk_sampler_sample(s, neg, &t), QVK_OK);
		ck_assert_uint_eq(t, 1);
		qvk_sampler_destroy(s);
	}
}
END_TEST

START_TEST(test_rejects)
{
	struct qvk_sampler_options o;
	struct qvk_sampler *s = NULL;
	float logits[3] = { 0.0f, NAN, 1.0f };
	uint32_t t;

	qvk_sampler_options_default(&o);
	o.top_p = 0.0f;
	ck_assert_int_eq(qvk_sampler_create(qvk_test_ctx, 3, &o, &s),
			 QVK_ERR_INVALID_ARG);
	o.top_p = 1.0f;
	o.temperature = -1.0f;
	ck_assert_int_eq(qvk_sampler_create(qvk_test_ctx, 3, &o, &s),
			 QVK_ERR_INVALID_ARG);
	o.temperature = 1.0f;
	o.repeat_penalty = 0.5f;
	ck_assert_int_eq(qvk_sampler_create(qvk_test_ctx, 3, &o, &s),
			 QVK_ERR_INVALID_ARG);
	ck_assert_ptr_null(s);
	s = make(3, 1.0f, 0, 1.0f, 1.0f, 7);
	ck_assert_int_eq(qvk_sampler_sample(s, logits, &t), QVK_ERR_NUMERIC);
	printf("NaN logit: %s\n", qvk_ctx_message(qvk_test_ctx));
	qvk_sampler_destroy(s);
}
END_TEST

Suite *suite_sampler(void);
Suite *suite_sampler(void)
{
	Suite *s = suite_create("sampler");
	TCase *tc = tcase_create("sampling");

	tcase_add_checked_fixture(tc, qvk_test_ctx_setup, qvk_test_ctx_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_greedy);
	tcase_add_test(tc, test_seed_reproducible);
	tcase_add_test(tc, test_distributions);
	tcase_add_test(tc, test_min_p);
	tcase_add_test(tc, test_ban);
	tcase_add_test(tc, test_repeat_penalty);
	tcase_add_test(tc, test_rejects);
	suite_add_tcase(s, tc);
	return s;
}
