/* SPDX-License-Identifier: MIT */
/*
 * Fixed-point requantization against double over 10^6 random scales and
 * accumulators: the bound stated in quant.h must hold for every case.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <qvk/quant.h>

#include "harness.h"

Suite *suite_fixed_point(void);

START_TEST(test_bound_random)
{
	uint64_t seed = qvk_test_seed("fixed point"), st = seed;
	double worst = 0.0, worst_abs = 0.0;
	uint64_t exact = 0, cases = 1000000;

	for (uint64_t i = 0; i < cases; i++) {
		/* log-uniform scales over [2^-31, 1); accumulators of every size */
		double scale = exp2(-31.0 * (double)qvk_test_uniform(&st, 0.0f, 1.0f)) *
			       (1.0 - 1e-12);
		int bits = (int)(qvk_test_rand(&st) % 32);
		int32_t acc = (int32_t)(qvk_test_rand(&st) >> (64 - 32)) >> (31 - bits);
		struct qvk_fixed_point fp;
		double want, bound, err;
		int32_t got;
		int8_t q8;
		double clamped;

		if (i < 4) /* the extremes */
			acc = i == 0 ? INT32_MIN : i == 1 ? INT32_MAX : i == 2 ? 0 : -1;
		if (i == 5)
			scale = nextafter(1.0, 0.0);
		if (i == 6)
			scale = 0x1p-31;
		ck_assert_int_eq(qvk_fixed_point_from_scale(qvk_test_ctx, scale, &fp),
				 QVK_OK);
		ck_assert(fp.shift >= 0 && fp.shift <= 31);
		ck_assert(fp.multiplier >= (1 << 30));
		got = qvk_fixed_point_apply(fp, acc);
		want = (double)acc * scale;
		bound = 0.5 + ldexp(1.0, -(fp.shift + 1)) +
			fabs((double)acc) * ldexp(1.0, -(fp.shift + 31));
		err = fabs((double)got - want);
		worst = fmax(worst, err / bound);
		worst_abs = fmax(worst_abs, err);
		exact += (double)got == round(want);
		ck_assert_msg(err <= bound * (1.0 + 1e-12),
			      "scale %.17g acc %d: got %d, exact %.6f, bound %g",
			      scale, acc, got, want, bound);
		/* int8 with a zero point: the clamp of the same result */
		q8 = qvk_fixed_point_requantize_i8(fp, acc, 3);
		clamped = fmin(fmax((double)got + 3, -128.0), 127.0);
		ck_assert(q8 == (int8_t)clamped);
	}
	printf("fixed point: %llu cases, seed %llu: worst error %.4f, worst "
	       "error / bound %.4f, %.4f%% equal to round(acc*s)\n",
	       (unsigned long long)cases, (unsigned long long)seed, worst_abs,
	       worst, 100.0 * (double)exact / (double)cases);
}
END_TEST

START_TEST(test_known_and_rejects)
{
	struct qvk_fixed_point fp;

	ck_assert_int_eq(qvk_fixed_point_from_scale(qvk_test_ctx, 0.5, &fp), QVK_OK);
	ck_assert_int_eq(fp.multiplier, 1 << 30);
	ck_assert_int_eq(fp.shift, 0);
	ck_assert_int_eq(qvk_fixed_point_apply(fp, 7), 4);   /* 3.5 -> 4 */
	ck_assert_int_eq(qvk_fixed_point_apply(fp, -7), -4); /* ties away */
	ck_assert_int_eq(qvk_fixed_point_from_scale(qvk_test_ctx, 0.25, &fp), QVK_OK);
	ck_assert_int_eq(fp.shift, 1);
	ck_assert_int_eq(qvk_fixed_point_apply(fp, 1000), 250);
	ck_assert_int_eq(qvk_fixed_point_requantize_i8(fp, 1000, 0), 127);
	ck_assert_int_eq(qvk_fixed_point_requantize_i8(fp, -1000, -5), -128);
	ck_assert_int_eq(qvk_fixed_point_from_scale(qvk_test_ctx, 1.0, &fp),
			 QVK_ERR_INVALID_ARG);
	ck_assert_int_eq(qvk_fixed_point_from_scale(qvk_test_ctx, 0.0, &fp),
			 QVK_ERR_INVALID_ARG);
	ck_assert_int_eq(qvk_fixed_point_from_scale(qvk_test_ctx, NAN, &fp),
			 QVK_ERR_INVALID_ARG);
	ck_assert_int_eq(qvk_fixed_point_from_scale(qvk_test_ctx, 1e-10, &fp),
			 QVK_ERR_INVALID_ARG);
}
END_TEST

Suite *suite_fixed_point(void)
{
	Suite *s = suite_create("fixed_point");
	TCase *tc = tcase_create("requantize");

	tcase_add_checked_fixture(tc, qvk_test_ctx_setup, qvk_test_ctx_teardown);
	tcase_add_test(tc, test_bound_random);
	tcase_add_test(tc, test_known_and_rejects);
	suite_add_tcase(s, tc);
	return s;
}
