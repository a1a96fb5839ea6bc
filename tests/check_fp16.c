/* SPDX-License-Identifier: MIT */
/*
 * fp16 conversion: every one of the 65536 halves exactly, every tie and
 * its neighbours between adjacent halves, the overflow threshold, and 10^6
 * random floats against the compiler's own conversion where it has one;
 * and the shaders' widening (shaders/include/fp16.glsl) against the C one,
 * bit for bit, for all 65536 halves.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/fp16.h>

#include "harness.h"
#include "vk/vk.h"

Suite *suite_fp16(void);

static uint32_t bits_of(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

static float float_of(uint32_t u)
{
	float f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

/* The value of a half from its fields, in double: an independent oracle. */
static double half_value(uint16_t h)
{
	int e = (h >> 10) & 31, m = h & 0x3ff;
	double v = e ? ldexp(1024 + m, e - 25) : ldexp(m, -24);

	return (h & 0x8000) ? -v : v;
}

START_TEST(test_all_halves_exact)
{
	uint32_t bad = 0;

	for (uint32_t h = 0; h < 65536; h++) {
		float f = qvk_fp16_to_f32((uint16_t)h);
		int e = (h >> 10) & 31;

		if (e == 31) {
			if ((h & 0x3ff) == 0 ? !isinf(f) || (!!signbit(f) != !!(h & 0x8000))
					     : !isnan(f))
				bad++;
			/* NaN back: quiet NaN with the same sign and top bits */
			if ((h & 0x3ff) &&
			    qvk_fp16_from_f32(f) != (uint16_t)(h | 0x200))
				bad++;
			continue;
		}
		if ((double)f != half_value((uint16_t)h) ||
		    !!signbit(f) != !!(h & 0x8000))
			bad++;
		if (qvk_fp16_from_f32(f) != h) /* exact values come back */
			bad++;
	}
	printf("fp16: 65536 halves, %u mismatches\n", bad);
	ck_assert_uint_eq(bad, 0);
}
END_TEST

/*
 * Between every pair of adjacent finite halves of the same sign: the exact
 * midpoint goes to the even one, one float ulp either side to the nearer.
 */
START_TEST(test_ties_to_even)
{
	uint32_t bad = 0, ties = 0;

	for (uint32_t h = 0; h < 0x7bff; h++) {
		for (int neg = 0; neg < 2; neg++) {
			uint16_t a = (uint16_t)(h | (neg ? 0x8000 : 0));
			uint16_t b = (uint16_t)(a + 1);
			double mid = (half_value(a) + half_value(b)) / 2.0;
			float fm = (float)mid; /* exact: 12 significant bits */
			uint16_t even = (a & 1) ? b : a;

			if ((double)fm != mid) {
				bad++;
				continue;
			}
			ties++;
			if (qvk_fp16_from_f32(fm) != even)
				bad++;
			if (qvk_fp16_from_f32(nextafterf(fm, 0.0f)) != a)
				bad++;
			if (qvk_fp16_from_f32(nextafterf(fm, neg ? -INFINITY
								 : INFINITY)) != b)
				bad++;
		}
	}
	printf("fp16: %u ties and neighbours checked, %u wrong\n", ties, bad);
	ck_assert_uint_eq(bad, 0);
}
END_TEST

START_TEST(test_known_vectors)
{
	static const struct {
		float f;
		uint16_t h;
	} v[] = {
		{ 0.0f, 0x0000 },        { -0.0f, 0x8000 },
		{ 1.0f, 0x3c00 },        { -2.0f, 0xc000 },
		{ 65504.0f, 0x7bff },    { 65519.99f, 0x7bff },
		{ 65520.0f, 0x7c00 },    { 1e6f, 0x7c00 },
		{ -1e6f, 0xfc00 },       { INFINITY, 0x7c00 },
		{ 0x1p-14f, 0x0400 },    { 0x1p-24f, 0x0001 },
		{ 0x1p-25f, 0x0000 },    { 0x1.000002p-25f, 0x0001 },
		{ 0x1.8p-24f, 0x0002 },  { 0x1.ffcp-15f, 0x0400 },
		{ 0.1f, 0x2e66 },        { 3.14159265f, 0x4248 },
		{ 1.0009765625f, 0x3c01 }, { 1.00048828125f, 0x3c00 },
		{ 1.00146484375f, 0x3c02 },
	};
	uint16_t nan = qvk_fp16_from_f32(NAN);

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint16_t got = qvk_fp16_from_f32(v[i].f);

		ck_assert_msg(got == v[i].h, "%a -> 0x%04x, want 0x%04x",
			      (double)v[i].f, got, v[i].h);
	}
	ck_assert_msg((nan & 0x7c00) == 0x7c00 && (nan & 0x3ff),
		      "NaN -> 0x%04x", nan);
	ck_assert(isnan(qvk_fp16_to_f32(nan)));
}
END_TEST

START_TEST(test_random_against_compiler)
{
#if defined(__FLT16_MAX__)
	uint64_t seed = qvk_test_seed("fp16 random"), st = seed;
	uint32_t bad = 0;

	for (int i = 0; i < 1000000; i++) {
		/* Bias towards the half range: exponents 2^-30 .. 2^17. */
		uint32_t u = (uint32_t)qvk_test_rand(&st);
		float f;
		_Float16 c;
		uint16_t cb;

		if (i & 1)
			u = (u & 0x807fffffu) | ((97u + u % 48u) << 23);
		f = float_of(u);
		if (isnan(f))
			continue;
		c = (_Float16)f;
		memcpy(&cb, &c, sizeof(cb));
		if (qvk_fp16_from_f32(f) != cb)
			bad++;
	}
	printf("fp16: 10^6 random floats vs _Float16, %u mismatches\n", bad);
	ck_assert_uint_eq(bad, 0);
#else
	printf("SKIP: the compiler has no _Float16\n");
#endif
}
END_TEST

/*
 * The GLSL widening of every half (two per word, so bits 16-31 are both
 * read and ignored) has the bits of qvk_fp16_to_f32: subnormals exact,
 * signed zeros, infinities, NaN payloads. Output poisoned first.
 */
START_TEST(test_glsl_widening_matches_c)
{
	struct qvk_device *dev = qvk_test_dev;
	const uint32_t n_words = 32768, n_halves = 2 * n_words;
	struct qvk_pipeline_desc desc = {
		.shader = "fp16_test", .n_bindings = 2, .push_bytes = 4,
	};
	uint32_t *words = malloc(n_words * 4), *got = malloc(n_halves * 4);
	struct qvk_buffer *in, *out;
	struct qvk_pipeline *pipe;
	struct qvk_cmd cmd;
	VkDescriptorSet set;
	uint32_t bad = 0, sub = 0, special = 0;

	ck_assert(words && got);
	for (uint32_t i = 0; i < n_words; i++)
		words[i] = (2 * i) | (2 * i + 1) << 16;
	ck_assert_int_eq(qvk_buffer_create(dev, QVK_MEM_DEVICE, n_words * 4, 4, &in),
			 QVK_OK);
	ck_assert_int_eq(qvk_buffer_create(dev, QVK_MEM_READBACK, n_halves * 4, 4,
					   &out),
			 QVK_OK);
	ck_assert_int_eq(qvk_buffer_upload(in, 0, words, n_words * 4), QVK_OK);
	qvk_buffer_fill_u32(out, 0x7fc0dead); /* poison: a NaN no half gives */
	ck_assert_int_eq(qvk_pipeline_create(dev, &desc, &pipe), QVK_OK);
	ck_assert_int_eq(qvk_descset_create(pipe,
					    (struct qvk_binding[]){
						    { in, 0, 0, 0 }, { out, 0, 0, 0 } },
					    &set),
			 QVK_OK);
	ck_assert_int_eq(qvk_cmd_init(dev, &cmd), QVK_OK);
	ck_assert_int_eq(qvk_cmd_begin(&cmd), QVK_OK);
	qvk_cmd_dispatch(&cmd, pipe, set, &n_words, QVK_DIV_ROUND_UP(n_words, 64),
			 1, 1);
	qvk_cmd_barrier(&cmd);
	ck_assert_int_eq(qvk_cmd_submit_wait(&cmd, true), QVK_OK);
	ck_assert_int_eq(qvk_buffer_read(out, 0, got, n_halves * 4), QVK_OK);
	for (uint32_t h = 0; h < n_halves; h++) {
		uint32_t want = bits_of(qvk_fp16_to_f32((uint16_t)h));
		uint32_t e = (h >> 10) & 31;

		sub += e == 0 && (h & 0x3ff);
		special += e == 31;
		if (got[h] != want && bad++ < 8)
			printf("fp16 glsl: half 0x%04x -> 0x%08x, C 0x%08x\n", h,
			       got[h], want);
	}
	printf("fp16 glsl: 65536 halves (%u subnormal, %u inf/NaN) widened on %s, "
	       "%u differ from qvk_fp16_to_f32\n", sub, special,
	       dev->info.name, bad);
	ck_assert_uint_eq(bad, 0);
	qvk_cmd_finish(&cmd);
	qvk_pipeline_destroy(pipe);
	qvk_buffer_destroy(in);
	qvk_buffer_destroy(out);
	free(words);
	free(got);
}
END_TEST

Suite *suite_fp16(void)
{
	Suite *s = suite_create("fp16");
	TCase *tc = tcase_create("convert");

	tcase_add_test(tc, test_all_halves_exact);
	tcase_add_test(tc, test_ties_to_even);
	tcase_add_test(tc, test_known_vectors);
	tcase_add_test(tc, test_random_against_compiler);
	suite_add_tcase(s, tc);
	tc = tcase_create("glsl");
	tcase_add_checked_fixture(tc, qvk_test_gpu_setup, qvk_test_gpu_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_glsl_widening_matches_c);
	suite_add_tcase(s, tc);
	return s;
}
