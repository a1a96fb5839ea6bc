/* SPDX-License-Identifier: MIT */
/*
 * Packed weight formats: the half-step bound of round-to-nearest, the
 * exact asymmetric zero, degenerate and padded groups, non-finite input,
 * the bit layout the GPU reads, and byte-exact GGUF conversion.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/fp16.h>
#include <qvk/format.h>
#include <qvk/quant.h>

#include "harness.h"

Suite *suite_quant_format(void);

static const enum qvk_qformat formats[] = { QVK_QFORMAT_Q8, QVK_QFORMAT_Q4,
					    QVK_QFORMAT_Q4A };
static const uint32_t groups[] = { 32, 64, 128, QVK_GROUP_ROW };

/* Rows of different magnitudes, some skewed, a few outliers. */
static void fill_weights(uint64_t *st, float *w, uint32_t n, uint32_t k)
{
	for (uint32_t r = 0; r < n; r++) {
		float scale = powf(10.0f, qvk_test_uniform(st, -3.0f, 2.0f));
		float shift = (r % 3 == 1) ? 1.5f * scale : 0.0f;

		for (uint32_t j = 0; j < k; j++) {
			float v = qvk_test_normal(st) * scale + shift;

			if (qvk_test_rand(st) % 97 == 0)
				v *= 8.0f;
			w[(size_t)r * k + j] = v;
		}
	}
}

static float group_d(const struct qvk_qtensor *qt, uint32_t r, uint32_t j)
{
	return fabsf(qvk_fp16_to_f32(qt->scales[(size_t)r * qt->n_groups +
						 j / qt->group]));
}

START_TEST(test_rtn_half_step)
{
	uint64_t seed = qvk_test_seed("rtn half step"), st = seed;
	static const uint32_t ks[] = { 172, 256, 360 };
	double worst = 0.0;

	for (size_t f = 0; f < 3; f++)
		for (size_t g = 0; g < 4; g++)
			for (size_t ki = 0; ki < 3; ki++) {
				uint32_t n = 7, k = ks[ki];
				float *w = malloc(sizeof(float) * n * k);
				float *dq = malloc(sizeof(float) * n * k);
				struct qvk_quant_params p =
					qvk_quant_params_default(formats[f], groups[g]);
				struct qvk_qtensor *qt;

				fill_weights(&st, w, n, k);
				ck_assert_int_eq(qvk_quantize_weights(qvk_test_ctx, "w", w,
								      n, k, &p, &qt),
						 QVK_OK);
				qvk_qtensor_dequantize(qt, dq);
				for (uint32_t r = 0; r < n; r++)
					for (uint32_t j = 0; j < k; j++) {
						size_t i = (size_t)r * k + j;
						double half = group_d(qt, r, j) / 2.0;
						double e = fabs((double)dq[i] - w[i]);
						double ratio = e / half;

						if (ratio > worst)
							worst = ratio;
						ck_assert_msg(e <= half * (1.0 + 1e-5),
							      "%s g%u k%u (%u,%u): %g vs %g, "
							      "error %g > half step %g",
							      qvk_qformat_name(formats[f]),
							      qt->group, k, r, j,
							      (double)dq[i], (double)w[i], e,
							      half);
					}
				qvk_qtensor_destroy(qt);
				free(w);
				free(dq);
			}
	printf("rtn: worst error / half step = %.6f (bound 1)\n", worst);
}
END_TEST

START_TEST(test_asym_zero_exact)
{
	uint64_t seed = qvk_test_seed("asym zero"), st = seed;
	uint32_t n = 16, k = 200, zeros = 0;
	float *w = malloc(sizeof(float) * n * k);
	float *dq = malloc(sizeof(float) * n * k);
	struct qvk_quant_params p = qvk_quant_params_default(QVK_QFORMAT_Q4A, 32);
	struct qvk_qtensor *qt;

	fill_weights(&st, w, n, k);
	for (uint32_t r = 0; r < n; r++)
		for (uint32_t j = 0; j < k; j++) {
			size_t i = (size_t)r * k + j;

			if (r % 4 == 2) /* all-positive and all-negative rows */
				w[i] = fabsf(w[i]) + 0.01f;
			if (r % 4 == 3)
				w[i] = -fabsf(w[i]) - 0.01f;
			if (qvk_test_rand(&st) % 5 == 0)
				w[i] = 0.0f;
		}
	for (int clip = 0; clip < 3; clip++) {
		p.clip = (enum qvk_clip)clip;
		ck_assert_int_eq(qvk_quantize_weights(qvk_test_ctx, "w", w, n, k,
						      &p, &qt), QVK_OK);
		qvk_qtensor_dequantize(qt, dq);
		for (size_t i = 0; i < (size_t)n * k; i++)
			if (w[i] == 0.0f) {
				zeros++;
				ck_assert_msg(dq[i] == 0.0f,
					      "clip %d: zero at %zu came back as %g",
					      clip, i, (double)dq[i]);
			}
		qvk_qtensor_destroy(qt);
	}
	printf("q4a: %u zeros reproduced exactly\n", zeros);
	ck_assert_uint_gt(zeros, 100);
	free(w);
	free(dq);
}
END_TEST

START_TEST(test_zero_and_constant_groups)
{
	uint32_t n = 3, k = 64;
	float w[3 * 64], dq[3 * 64];

	for (uint32_t j = 0; j < k; j++) {
		w[j] = 0.0f;           /* all zero */
		w[k + j] = 0.37f;      /* constant positive */
		w[2 * k + j] = -1e-3f; /* constant negative */
	}
	for (size_t f = 0; f < 3; f++)
		for (size_t g = 0; g < 4; g++) {
			struct qvk_quant_params p =
				qvk_quant_params_default(formats[f], groups[g]);
			struct qvk_qtensor *qt;

			ck_assert_int_eq(qvk_quantize_weights(qvk_test_ctx, "w", w,
							      n, k, &p, &qt),
					 QVK_OK);
			qvk_qtensor_dequantize(qt, dq);
			for (uint32_t j = 0; j < n * k; j++) {
				double half = group_d(qt, j / k, j % k) / 2.0;

				ck_assert(isfinite(dq[j]));
				ck_assert_msg(fabs(dq[j] - w[j]) <= half * (1 + 1e-5),
					      "%s g%u: %g -> %g",
					      qvk_qformat_name(formats[f]),
					      qt->group, (double)w[j], (double)dq[j]);
			}
			for (uint32_t j = 0; j < k; j++)
				ck_assert(dq[j] == 0.0f);
			ck_assert_uint_eq(qt->scales[0], 0);
			qvk_qtensor_destroy(qt);
		}
}
END_TEST

/*
 * K = 172 at group 32: the last group holds 12 real values. Its scale must
 * be the one those 12 values get on their own, and its padding must
 * encode 0.0.
 */
START_TEST(test_padded_last_group)
{
	uint64_t seed = qvk_test_seed("padded group"), st = seed;
	uint32_t n = 5, k = 172;
	float w[5 * 172], tail[5 * 12];

	fill_weights(&st, w, n, k);
	for (uint32_t r = 0; r < n; r++)
		memcpy(tail + r * 12, w + r * k + 160, 12 * sizeof(float));
	for (size_t f = 0; f < 3; f++) {
		struct qvk_quant_params p = qvk_quant_params_default(formats[f], 32);
		struct qvk_qtensor *qt, *qs;

		ck_assert_int_eq(qvk_quantize_weights(qvk_test_ctx, "w", w, n, k,
						      &p, &qt), QVK_OK);
		ck_assert_int_eq(qvk_quantize_weights(qvk_test_ctx, "tail", tail, n,
						      12, &p, &qs), QVK_OK);
		ck_assert_uint_eq(qt->k_padded, 192);
		ck_assert_uint_eq(qt->n_groups, 6);
		for (uint32_t r = 0; r < n; r++) {
			size_t gi = (size_t)r * 6 + 5;
			float d = qvk_fp16_to_f32(qt->scales[gi]);
			float m = qt->mins ? qvk_fp16_to_f32(qt->mins[gi]) : 0.0f;

			ck_assert_uint_eq(qt->scales[gi], qs->scales[r]);
			if (qt->mins)
				ck_assert_uint_eq(qt->mins[gi], qs->mins[r]);
			for (uint32_t j = 172; j < 192; j++) {
				int c = qvk_qtensor_get_code(qt, r, j);
				float v = formats[f] == QVK_QFORMAT_Q8 ? d * c :
					  formats[f] == QVK_QFORMAT_Q4 ? d * (c - 8) :
					  d * c + m;

				ck_assert_msg(fabsf(v) <= fabsf(d) / 2,
					      "pad (%u,%u) code %d is %g", r, j, c,
					      (double)v);
				ck_assert_int_eq(c, qvk_qtensor_get_code(qs, r,
									 j - 160));
			}
		}
		qvk_qtensor_destroy(qt);
		qvk_qtensor_destroy(qs);
	}
}
END_TEST

START_TEST(test_nonfinite_named)
{
	float w[4 * 100] = { 0 }, x[2 * 100] = { 0 };
	struct qvk_quant_params p = qvk_quant_params_default(QVK_QFORMAT_Q4, 32);
	struct qvk_qtensor *qt = (void *)1;
	struct qvk_qact *qa;
	const char *msg;

	w[3 * 100 + 77] = NAN;
	ck_assert_int_eq(qvk_quantize_weights(qvk_test_ctx, "blk.3.attn_q", w,
					      4, 100, &p, &qt), QVK_ERR_NUMERIC);
	ck_assert_ptr_null(qt);
	msg = qvk_ctx_message(qvk_test_ctx);
	printf("nan: %s\n", msg);
	ck_assert_ptr_nonnull(strstr(msg, "blk.3.attn_q"));
	ck_assert_ptr_nonnull(strstr(msg, "row 3, column 77"));
	w[3 * 100 + 77] = 0.0f;
	w[1 * 100 + 5] = -INFINITY;
	ck_assert_int_eq(qvk_quantize_weights(qvk_test_ctx, "wi", w, 4, 100, &p,
					      &qt), QVK_ERR_NUMERIC);
	ck_assert_ptr_nonnull(strstr(qvk_ctx_message(qvk_test_ctx),
				     "row 1, column 5"));
	/* a range whose fp16 scale would overflow */
	w[1 * 100 + 5] = 1e30f;
	ck_assert_int_eq(qvk_quantize_weights(qvk_test_ctx, "big", w, 4, 100, &p,
					      &qt), QVK_ERR_NUMERIC);
	ck_assert_ptr_nonnull(strstr(qvk_ctx_message(qvk_test_ctx), "fp16"));

	ck_assert_int_eq(qvk_qact_create(qvk_test_ctx, QVK_ACT_PER_TOKEN, 2, 100,
					 0, &qa), QVK_OK);
	x[100 + 42] = INFINITY;
	ck_assert_int_eq(qvk_quantize_act(qvk_test_ctx, "ffn_in", x, qa),
			 QVK_ERR_NUMERIC);
	ck_assert_ptr_nonnull(strstr(qvk_ctx_message(qvk_test_ctx),
				     "ffn_in: non-finite value inf at token 1, "
				     "column 42"));
	qvk_qact_destroy(qa);
	/* bad shapes */
	ck_assert_int_eq(qvk_qtensor_create(qvk_test_ctx, QVK_QFORMAT_Q8, 4, 64,
					    48, &qt), QVK_ERR_INVALID_ARG);
	ck_assert_int_eq(qvk_qtensor_create(qvk_test_ctx, 9, 4, 64, 32, &qt),
			 QVK_ERR_INVALID_ARG);
}
END_TEST

/* The documented bit positions, checked word by word. */
START_TEST(test_layout_bits)
{
	struct qvk_qtensor *q8, *q4;
	uint32_t n = 2, k = 96;

	ck_assert_int_eq(qvk_qtensor_create(qvk_test_ctx, QVK_QFORMAT_Q8, n, k,
					    32, &q8), QVK_OK);
	ck_assert_int_eq(qvk_qtensor_create(qvk_test_ctx, QVK_QFORMAT_Q4A, n, k,
					    32, &q4), QVK_OK);
	ck_assert_uint_eq(q8->row_words, 24);
	ck_assert_uint_eq(q4->row_words, 12);
	for (uint32_t r = 0; r < n; r++)
		for (uint32_t j = 0; j < k; j++) {
			qvk_qtensor_set_code(q8, r, j, (int)((j * 7 + r) % 256) - 128);
			qvk_qtensor_set_code(q4, r, j, (int)((j * 5 + r) % 16));
		}
	for (uint32_t r = 0; r < n; r++)
		for (uint32_t j = 0; j < k; j++) {
			uint32_t w8 = q8->qs[r * q8->row_words + j / 4];
			int8_t c8 = (int8_t)(w8 >> (8 * (j % 4)));
			uint32_t b = j / 32, e = j % 32, lane = e % 4;
			uint32_t word = q4->qs[r * q4->row_words + 4 * b + (e % 16) / 4];
			uint32_t shift = e < 16 ? 0 : 4;
			uint32_t c4 = ((word >> shift) & 0x0f0f0f0fu) >> (8 * lane) & 0xff;

			ck_assert_int_eq(c8, (int)((j * 7 + r) % 256) - 128);
			ck_assert_int_eq(qvk_qtensor_get_code(q8, r, j), c8);
			ck_assert_uint_eq(c4, (j * 5 + r) % 16);
			ck_assert_int_eq(qvk_qtensor_get_code(q4, r, j), (int)c4);
		}
	qvk_qtensor_destroy(q8);
	qvk_qtensor_destroy(q4);
}
END_TEST

static const uint32_t gguf_types[] = { QVK_GGML_TYPE_Q8_0, QVK_GGML_TYPE_Q4_0,
				       QVK_GGML_TYPE_Q4_1 };

/* The GGUF definition of a block's values, straight from its bytes. */
static float gguf_value(uint32_t t, const uint8_t *blk, uint32_t j)
{
	float d = qvk_fp16_to_f32((uint16_t)(blk[0] | blk[1] << 8));

	if (t == QVK_GGML_TYPE_Q8_0)
		return d * (float)(int8_t)blk[2 + j];
	if (t == QVK_GGML_TYPE_Q4_0) {
		uint8_t b = blk[2 + j % 16];

		return d * (float)((j < 16 ? b & 15 : b >> 4) - 8);
	}
	{
		float m = qvk_fp16_to_f32((uint16_t)(blk[2] | blk[3] << 8));
		uint8_t b = blk[4 + j % 16];

		return d * (float)(j < 16 ? b & 15 : b >> 4) + m;
	}
}

START_TEST(test_gguf_bytes_exact)
{
	uint64_t seed = qvk_test_seed("gguf blocks"), st = seed;
	uint32_t n = 9, k = 256;
	size_t checked = 0;

	for (size_t ti = 0; ti < 3; ti++) {
		uint32_t t = gguf_types[ti];
		size_t bb = qvk_type_info(t)->block_bytes, bytes = bb * n * (k / 32);
		uint8_t *src = malloc(bytes), *back = malloc(bytes);
		float *dq = malloc(sizeof(float) * n * k);
		float *w = malloc(sizeof(float) * n * k);
		struct qvk_qtensor *qt, *qt2;
		struct qvk_quant_params p;
		enum qvk_qformat fmt;

		/* random bytes; scales as finite random halves */
		for (size_t i = 0; i < bytes; i++)
			src[i] = (uint8_t)qvk_test_rand(&st);
		for (size_t b = 0; b < (size_t)n * k / 32; b++) {
			uint8_t *blk = src + b * bb;

			blk[1] &= 0x3f; /* exponent below 16: finite */
			if (t == QVK_GGML_TYPE_Q4_1)
				blk[3] &= 0xbf;
		}
		ck_assert_int_eq(qvk_qtensor_from_gguf(qvk_test_ctx, "g", t, src,
						       bytes, n, k, &qt), QVK_OK);
		memset(back, 0xa5, bytes);
		ck_assert_int_eq(qvk_qtensor_to_gguf(qvk_test_ctx, "g", qt, t, back,
						     bytes), QVK_OK);
		ck_assert_msg(!memcmp(src, back, bytes), "%s not byte-exact",
			      qvk_ggml_type_name(t));
		/* the values are GGUF's values */
		qvk_qtensor_dequantize(qt, dq);
		for (uint32_t r = 0; r < n; r++)
			for (uint32_t j = 0; j < k; j++) {
				const uint8_t *blk = src + ((size_t)r * (k / 32) + j / 32) *
								   bb;

				ck_assert(dq[(size_t)r * k + j] == gguf_value(t, blk, j % 32));
				checked++;
			}
		/* and the other way: qvk tensor -> GGUF -> qvk tensor */
		fmt = qvk_type_info(t)->qformat;
		fill_weights(&st, w, n, k);
		p = qvk_quant_params_default(fmt, 32);
		qvk_qtensor_destroy(qt);
		ck_assert_int_eq(qvk_quantize_weights(qvk_test_ctx, "w", w, n, k, &p,
						      &qt), QVK_OK);
		ck_assert_int_eq(qvk_qtensor_to_gguf(qvk_test_ctx, "w", qt, t, back,
						     bytes), QVK_OK);
		ck_assert_int_eq(qvk_qtensor_from_gguf(qvk_test_ctx, "w", t, back,
						       bytes, n, k, &qt2), QVK_OK);
		ck_assert(!memcmp(qt->qs, qt2->qs, qvk_qtensor_qs_bytes(qt)));
		ck_assert(!memcmp(qt->scales, qt2->scales,
				  qvk_qtensor_scales_bytes(qt)));
		if (qt->mins)
			ck_assert(!memcmp(qt->mins, qt2->mins,
					  qvk_qtensor_scales_bytes(qt)));
		qvk_qtensor_destroy(qt);
		qvk_qtensor_destroy(qt2);
		free(src);
		free(back);
		free(dq);
		free(w);
	}
	printf("gguf: 3 types byte-exact both ways, %zu values checked\n",
	       checked);
}
END_TEST

START_TEST(test_gguf_rejects)
{
	uint8_t buf[4096] = { 0 };
	struct qvk_qtensor *qt = NULL;
	float w[2 * 172] = { 0 };
	struct qvk_quant_params p = qvk_quant_params_default(QVK_QFORMAT_Q8, 32);

	ck_assert_int_eq(qvk_qtensor_from_gguf(qvk_test_ctx, "t", QVK_GGML_TYPE_Q8_0,
					       buf, 34 * 4, 2, 64, &qt), QVK_OK);
	qvk_qtensor_destroy(qt);
	ck_assert_int_eq(qvk_qtensor_from_gguf(qvk_test_ctx, "t", QVK_GGML_TYPE_Q8_0,
					       buf, 34 * 4 - 1, 2, 64, &qt),
			 QVK_ERR_FORMAT);
	ck_assert_int_eq(qvk_qtensor_from_gguf(qvk_test_ctx, "t", QVK_GGML_TYPE_Q8_0,
					       buf, 34 * 4, 2, 60, &qt),
			 QVK_ERR_UNSUPPORTED);
	ck_assert_int_eq(qvk_qtensor_from_gguf(qvk_test_ctx, "t", 7, buf, 34 * 4,
					       2, 64, &qt), QVK_ERR_UNSUPPORTED);
	buf[34 * 3 + 1] = 0x7e; /* a NaN scale in row 1, block 1 */
	ck_assert_int_eq(qvk_qtensor_from_gguf(qvk_test_ctx, "tok_embd",
					       QVK_GGML_TYPE_Q8_0, buf, 34 * 4, 2, 64,
					       &qt), QVK_ERR_NUMERIC);
	ck_assert_ptr_nonnull(strstr(qvk_ctx_message(qvk_test_ctx),
				     "tok_embd: non-finite fp16 scale or min in "
				     "row 1, block 1"));
	buf[34 * 3 + 1] = 0;
	ck_assert_int_eq(qvk_quantize_weights(qvk_test_ctx, "w", w, 2, 172, &p,
					      &qt), QVK_OK);
	ck_assert_int_eq(qvk_qtensor_to_gguf(qvk_test_ctx, "w", qt, QVK_GGML_TYPE_Q8_0,
					     buf, sizeof(buf)), QVK_ERR_UNSUPPORTED);
	ck_assert_int_eq(qvk_qtensor_to_gguf(qvk_test_ctx, "w", qt, QVK_GGML_TYPE_Q4_0,
					     buf, sizeof(buf)), QVK_ERR_UNSUPPORTED);
	qvk_qtensor_destroy(qt);
}
END_TEST

Suite *suite_quant_format(void)
{
	Suite *s = suite_create("quant_format");
	TCase *rtn = tcase_create("rtn");
	TCase *layout = tcase_create("layout");

	tcase_add_checked_fixture(rtn, qvk_test_ctx_setup, qvk_test_ctx_teardown);
	tcase_add_test(rtn, test_rtn_half_step);
	tcase_add_test(rtn, test_asym_zero_exact);
	tcase_add_test(rtn, test_zero_and_constant_groups);
	tcase_add_test(rtn, test_padded_last_group);
	tcase_add_test(rtn, test_nonfinite_named);
	suite_add_tcase(s, rtn);
	tcase_add_checked_fixture(layout, qvk_test_ctx_setup,
				  qvk_test_ctx_teardown);
	tcase_add_test(layout, test_layout_bits);
	tcase_add_test(layout, test_gguf_bytes_exact);
	tcase_add_test(layout, test_gguf_rejects);
	suite_add_tcase(s, layout);
	return s;
}
