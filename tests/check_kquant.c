/* SPDX-License-Identifier: MIT */
/*
 * K-quants and IQ4 (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS) on fresh
 * random blocks each run (seed printed):
 *  - dequantization (the host rows the reference forward reads, and the
 *    device-layout tensor) equals ggml's formulas, written out here again
 *    straight from the file bytes of ggml-common.h's structs, bit for bit;
 *  - the GLSL decoding (kquant.glsl through kquant_layout_test.comp)
 *    gives the C layout header's codes, scales, mins and d for every chunk;
 *  - the matmul_kq kernels (both layouts: rows per invocation and a
 *    subgroup per row; OpSDot and the fallback; decode and prefill token
 *    counts; activations per token and per 32-block) give the exact int32
 *    sub-block dots of the scalar reference, outputs poisoned, and fp32
 *    outputs within 1e-5 of the magnitude of their terms;
 *  - bad blocks are refused: a wrong size, a NaN d.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/format.h>
#include <qvk/fp16.h>
#include <qvk/kquant.h>
#include <qvk/quant.h>

#include "format/format_internal.h"
#include "format/kquant_layout.h"
#include "harness.h"
#include "matmul/matmul.h"

static const uint32_t qvk_kq_types[] = {
	QVK_GGML_TYPE_Q2_K, QVK_GGML_TYPE_Q3_K, QVK_GGML_TYPE_Q4_K,
	QVK_GGML_TYPE_Q5_K, QVK_GGML_TYPE_Q6_K, QVK_GGML_TYPE_IQ4_NL,
	QVK_GGML_TYPE_IQ4_XS,
};
#define QVK_N_TYPES (sizeof(qvk_kq_types) / sizeof(qvk_kq_types[0]))

static const int8_t iq4nl[16] = { -127, -104, -83, -65, -49, -35, -22, -10,
				  1,    13,   25,  38,  53,  69,  89,  113 };

static float half_at(const uint8_t *p)
{
	return qvk_fp16_to_f32((uint16_t)(p[0] | p[1] << 8));
}

/* A random finite fp16 in about ±[2^-14, 2^-2], stored at @p. */
static void put_half(uint64_t *seed, uint8_t *p)
{
	uint16_t h = (uint16_t)(qvk_test_rand(seed) & 0x83ffu) |
		     (uint16_t)((1 + qvk_test_rand(seed) % 13) << 10);

	p[0] = (uint8_t)h;
	p[1] = (uint8_t)(h >> 8);
}

/* Byte offsets of d and dmin in a ggml file block (-1: none). */
static void file_d_offsets(uint32_t type, int *d, int *dmin)
{
	*dmin = -1;
	switch (type) {
	case QVK_GGML_TYPE_Q2_K: *d = 80; *dmin = 82; break;
	case QVK_GGML_TYPE_Q3_K: *d = 108; break;
	case QVK_GGML_TYPE_Q4_K:
	case QVK_GGML_TYPE_Q5_K: *d = 0; *dmin = 2; break;
	case QVK_GGML_TYPE_Q6_K: *d = 208; break;
	default: *d = 0; break; /* IQ4_NL, IQ4_XS */
	}
}

/* @count random file blocks of @type: random bytes, sane d and dmin. */
static uint8_t *random_blocks(uint32_t type, size_t count, uint64_t *seed)
{
	const struct qvk_type_info *t = qvk_type_info(type);
	uint8_t *b = malloc(count * t->block_bytes);
	int od, om;

	ck_assert_ptr_nonnull(b);
	file_d_offsets(type, &od, &om);
	for (size_t i = 0; i < count * t->block_bytes; i++)
		b[i] = (uint8_t)qvk_test_rand(seed);
	for (size_t i = 0; i < count; i++) {
		put_half(seed, b + i * t->block_bytes + od);
		if (om >= 0)
			put_half(seed, b + i * t->block_bytes + om);
	}
	return b;
}

/* ggml's get_scale_min_k4, over the 12 bytes at @q. */
static void scale_min_k4(int j, const uint8_t *q, int *d, int *m)
{
	if (j < 4) {
		*d = q[j] & 63;
		*m = q[j + 4] & 63;
	} else {
		*d = (q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4);
		*m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
	}
}

/*
 * One block as ggml-quants.c's dequantize_row_* computes it, from the
 * struct fields of ggml-common.h (each element's expression, with the
 * same float operations in the same order).
 */
static void ggml_dequant_block(uint32_t type, const uint8_t *x, float *y)
{
	switch (type) {
	case QVK_GGML_TYPE_Q2_K: { /* scales[16] qs[64] d dmin */
		float d = half_at(x + 80), min = half_at(x + 82);

		for (int e = 0; e < 256; e++) {
			int half = e / 128, j = (e % 128) / 32, l = e % 32;
			uint8_t sc = x[e / 16];
			float dl = d * (float)(sc & 0xf), ml = min * (float)(sc >> 4);

			y[e] = dl * (float)(int8_t)((x[16 + 32 * half + l] >> (2 * j)) &
						    3) - ml;
		}
		break;
	}
	case QVK_GGML_TYPE_Q3_K: { /* hmask[32] qs[64] scales[12] d */
		float d_all = half_at(x + 108);
		int8_t scales[16];

		for (int i = 0; i < 16; i++) {
			int lo = (x[96 + (i % 8)] >> (4 * (i / 8))) & 0xf;
			int hi = (x[104 + (i % 4)] >> (2 * (i / 4))) & 3;

			scales[i] = (int8_t)((lo | hi << 4) - 32);
		}
		for (int e = 0; e < 256; e++) {
			int half = e / 128, j = (e % 128) / 32, l = e % 32;
			float dl = d_all * (float)scales[e / 16];
			int q = (x[32 + 32 * half + l] >> (2 * j)) & 3;

			y[e] = dl * (float)((int8_t)q -
					    ((x[l] & (1 << (4 * half + j))) ? 0 : 4));
		}
		break;
	}
	case QVK_GGML_TYPE_Q4_K:
	case QVK_GGML_TYPE_Q5_K: { /* d dmin scales[12] (qh[32]) qs[128] */
		bool q5 = type == QVK_GGML_TYPE_Q5_K;
		const uint8_t *qs = x + (q5 ? 48 : 16), *qh = x + 16;
		float d = half_at(x), min = half_at(x + 2);

		for (int e = 0; e < 256; e++) {
			int c = e / 64, hi = (e % 64) / 32, l = e % 32, sc, m;
			int q;

			scale_min_k4(2 * c + hi, x + 4, &sc, &m);
			q = hi ? qs[32 * c + l] >> 4 : qs[32 * c + l] & 0xf;
			if (q5 && (qh[l] & (1 << (2 * c + hi))))
				q += 16;
			y[e] = (d * (float)sc) * (float)q - min * (float)m;
		}
		break;
	}
	case QVK_GGML_TYPE_Q6_K: { /* ql[128] qh[64] scales[16] d */
		float d = half_at(x + 208);

		for (int e = 0; e < 256; e++) {
			int half = e / 128, q = (e % 128) / 32, l = e % 32;
			const uint8_t *ql = x + 64 * half, *qh = x + 128 + 32 * half;
			int lo = (q & 1) ? ql[l + 32] : ql[l];
			int v = ((q & 2) ? lo >> 4 : lo & 0xf) |
				(((qh[l] >> (2 * q)) & 3) << 4);

			y[e] = d * (float)(int8_t)x[192 + 8 * half + 2 * q + l / 16] *
			       (float)(int8_t)(v - 32);
		}
		break;
	}
	case QVK_GGML_TYPE_IQ4_NL: { /* d qs[16] */
		float d = half_at(x);

		for (int e = 0; e < 16; e++) {
			y[e] = d * (float)iq4nl[x[2 + e] & 0xf];
			y[e + 16] = d * (float)iq4nl[x[2 + e] >> 4];
		}
		break;
	}
	default: { /* IQ4_XS: d scales_h scales_l[4] qs[128] */
		float d = half_at(x);
		int sh = x[2] | x[3] << 8;

		for (int ib = 0; ib < 8; ib++) {
			int ls = ((x[4 + ib / 2] >> (4 * (ib % 2))) & 0xf) |
				 (((sh >> (2 * ib)) & 3) << 4);
			float dl = d * (float)(ls - 32);
			const uint8_t *qs = x + 8 + 16 * ib;

			for (int j = 0; j < 16; j++) {
				y[32 * ib + j] = dl * (float)iq4nl[qs[j] & 0xf];
				y[32 * ib + j + 16] = dl * (float)iq4nl[qs[j] >> 4];
			}
		}
		break;
	}
	}
}

static bool same_float(float a, float b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

START_TEST(test_dequant_matches_ggml)
{
	uint64_t seed = qvk_test_seed("kquant dequant");
	size_t checked = 0;

	for (size_t ti = 0; ti < QVK_N_TYPES; ti++) {
		uint32_t type = qvk_kq_types[ti];
		const struct qvk_type_info *info = qvk_type_info(type);
		uint32_t n = 5, k = 4 * info->block_elems;
		uint8_t *blocks = random_blocks(type, (size_t)n * k / info->block_elems,
						&seed);
		float *host = malloc(sizeof(float) * n * k);
		float *dev = malloc(sizeof(float) * n * k);
		float want[256];
		struct qvk_host_tensor t = { .type = type, .n_dims = 2,
					     .ne = { k, n, 1, 1 }, .data = blocks };
		struct qvk_kqtensor *kt;

		ck_assert(qvk_ggml_tensor_size(type, 2, t.ne, &t.size_bytes));
		for (uint32_t r = 0; r < n; r++)
			ck_assert_int_eq(qvk_host_tensor_row(&t, r, host + (size_t)r * k),
					 QVK_OK);
		ck_assert_int_eq(qvk_kqtensor_from_gguf(qvk_test_ctx, "w", type,
							blocks, t.size_bytes, n, k,
							&kt), QVK_OK);
		ck_assert_uint_eq(kt->unit, info->group);
		qvk_kqtensor_dequantize(kt, dev);
		for (size_t b = 0; b < (size_t)n * k / info->block_elems; b++) {
			ggml_dequant_block(type, blocks + b * info->block_bytes, want);
			for (uint32_t e = 0; e < info->block_elems; e++) {
				size_t i = b * info->block_elems + e;

				ck_assert_msg(same_float(host[i], want[e]) &&
						      same_float(dev[i], want[e]),
					      "%s block %zu element %u: host %a, "
					      "device layout %a, ggml %a",
					      info->name, b, e, (double)host[i],
					      (double)dev[i], (double)want[e]);
				checked++;
			}
		}
		qvk_kqtensor_destroy(kt);
		free(blocks);
		free(host);
		free(dev);
	}
	printf("kquant: %zu values of 7 types equal ggml's formulas bit for "
	       "bit\n", checked);
}
END_TEST

START_TEST(test_bad_blocks_refused)
{
	uint64_t seed = qvk_test_seed("kquant rejects");
	uint8_t *b = random_blocks(QVK_GGML_TYPE_Q6_K, 4, &seed);
	struct qvk_kqtensor *kt = NULL;

	ck_assert_int_eq(qvk_kqtensor_from_gguf(qvk_test_ctx, "w", QVK_GGML_TYPE_Q6_K,
						b, 4 * 210 - 1, 2, 512, &kt),
			 QVK_ERR_FORMAT);
	ck_assert_ptr_null(kt);
	ck_assert_int_eq(qvk_kqtensor_from_gguf(qvk_test_ctx, "w", QVK_GGML_TYPE_Q6_K,
						b, 4 * 210, 2, 500, &kt),
			 QVK_ERR_FORMAT);
	ck_assert_int_eq(qvk_kqtensor_from_gguf(qvk_test_ctx, "w", QVK_GGML_TYPE_Q8_0,
						b, 4 * 210, 2, 512, &kt),
			 QVK_ERR_UNSUPPORTED);
	ck_assert_ptr_nonnull(strstr(qvk_ctx_message(qvk_test_ctx),
				     "Q8_0 is not a K-quant"));
	b[3 * 210 + 209] = 0x7e; /* NaN d in row 1, block 1 */
	ck_assert_int_eq(qvk_kqtensor_from_gguf(qvk_test_ctx, "blk.0.ffn_down",
						QVK_GGML_TYPE_Q6_K, b, 4 * 210, 2,
						512, &kt),
			 QVK_ERR_NUMERIC);
	ck_assert_ptr_nonnull(strstr(qvk_ctx_message(qvk_test_ctx),
				     "blk.0.ffn_down: non-finite Q6_K d or dmin in "
				     "row 1, block 1"));
	free(b);
}
END_TEST

/* ------------------------------------------------------------- GPU */

struct qvk_decode_push {
	uint32_t blocks;
};

START_TEST(test_glsl_decode_matches_c)
{
	uint64_t seed = qvk_test_seed("kquant glsl decode");
	struct qvk_device *dev = qvk_test_dev;
	size_t checked = 0;

	for (size_t ti = 0; ti < QVK_N_TYPES; ti++) {
		uint32_t type = qvk_kq_types[ti];
		const struct qvk_type_info *info = qvk_type_info(type);
		uint32_t nb = 37, chunks = info->block_elems / 32;
		uint32_t words = qvk_kq_block_words(type);
		uint8_t *file = random_blocks(type, nb, &seed);
		uint32_t *blocks = malloc((size_t)nb * words * 4);
		uint32_t *dec = malloc((size_t)nb * chunks * 12 * 4);
		float *dd = malloc((size_t)nb * 2 * 4);
		struct qvk_pipeline_desc desc = {
			.shader = "kquant_layout_test", .n_bindings = 3,
			.push_bytes = sizeof(struct qvk_decode_push), .n_spec = 1,
			.spec = { type },
		};
		struct qvk_decode_push push = { nb };
		struct qvk_buffer *bq, *bdec, *bd;
		struct qvk_pipeline *pipe;
		struct qvk_cmd cmd;
		VkDescriptorSet set;

		for (uint32_t b = 0; b < nb; b++)
			qvk_kq_block_from_file(type, file + (size_t)b * info->block_bytes,
					       blocks + (size_t)b * words);
		ck_assert_int_eq(qvk_buffer_create(dev, QVK_MEM_DEVICE,
						   (VkDeviceSize)nb * words * 4, 4, &bq),
				 QVK_OK);
		ck_assert_int_eq(qvk_buffer_create(dev, QVK_MEM_READBACK,
						   (VkDeviceSize)nb * chunks * 48, 4,
						   &bdec), QVK_OK);
		ck_assert_int_eq(qvk_buffer_create(dev, QVK_MEM_READBACK,
						   (VkDeviceSize)nb * 8, 4, &bd),
				 QVK_OK);
		ck_assert_int_eq(qvk_buffer_upload(bq, 0, blocks,
						   (VkDeviceSize)nb * words * 4),
				 QVK_OK);
		qvk_buffer_fill_u32(bdec, 0xdeadbeefu); /* poison */
		qvk_buffer_fill_u32(bd, 0x7fc00000u);
		ck_assert_int_eq(qvk_pipeline_create(dev, &desc, &pipe), QVK_OK);
		ck_assert_int_eq(qvk_descset_create(pipe,
				(struct qvk_binding[]){ { bq, 0, 0, 0 },
							{ bdec, 0, 0, 0 },
							{ bd, 0, 0, 0 } },
				&set), QVK_OK);
		ck_assert_int_eq(qvk_cmd_init(dev, &cmd), QVK_OK);
		ck_assert_int_eq(qvk_cmd_begin(&cmd), QVK_OK);
		qvk_cmd_dispatch(&cmd, pipe, set, &push,
				 QVK_DIV_ROUND_UP(nb * chunks, 64), 1, 1);
		qvk_cmd_barrier(&cmd);
		ck_assert_int_eq(qvk_cmd_submit_wait(&cmd, true), QVK_OK);
		ck_assert_int_eq(qvk_buffer_read(bdec, 0, dec,
						 (VkDeviceSize)nb * chunks * 48), QVK_OK);
		ck_assert_int_eq(qvk_buffer_read(bd, 0, dd, (VkDeviceSize)nb * 8),
				 QVK_OK);
		for (uint32_t b = 0; b < nb; b++) {
			const uint32_t *blk = blocks + (size_t)b * words;
			float d, dmin;

			qvk_kq_block_d(type, blk, &d, &dmin);
			ck_assert_msg(same_float(dd[2 * b], d) &&
					      same_float(dd[2 * b + 1], dmin),
				      "%s block %u: GLSL d %g dmin %g, C %g %g",
				      info->name, b, (double)dd[2 * b],
				      (double)dd[2 * b + 1], (double)d, (double)dmin);
			for (uint32_t j = 0; j < chunks; j++) {
				const uint32_t *g = dec + ((size_t)b * chunks + j) * 12;
				uint32_t codes[8];
				int32_t sc[2], mn[2];

				qvk_kq_codes(type, blk, j, codes);
				qvk_kq_scales(type, blk, j, sc, mn);
				for (uint32_t w = 0; w < 8; w++)
					ck_assert_msg(g[w] == codes[w],
						      "%s block %u chunk %u word %u: "
						      "GLSL %08x, C %08x", info->name,
						      b, j, w, g[w], codes[w]);
				for (uint32_t h = 0; h < 2; h++)
					ck_assert_msg((int32_t)g[8 + 2 * h] == sc[h] &&
							      (int32_t)g[9 + 2 * h] == mn[h],
						      "%s block %u chunk %u half %u: "
						      "GLSL scale %d min %d, C %d %d",
						      info->name, b, j, h,
						      (int32_t)g[8 + 2 * h],
						      (int32_t)g[9 + 2 * h], sc[h], mn[h]);
				checked++;
			}
		}
		qvk_cmd_finish(&cmd);
		qvk_descset_free(dev, &set, 1);
		qvk_pipeline_destroy(pipe);
		qvk_buffer_destroy(bq);
		qvk_buffer_destroy(bdec);
		qvk_buffer_destroy(bd);
		free(file);
		free(blocks);
		free(dec);
		free(dd);
	}
	printf("kquant: GLSL and C decode %zu chunks of 7 types alike\n", checked);
}
END_TEST

struct qvk_kq_case {
	uint32_t m, n, k;
};

/* Σ_e |x_e · w_e| of output (i, j): the scale of its rounding error. */
static double qvk_kq_magnitude(const float *xf, const float *wf, uint32_t k,
			       uint32_t i, uint32_t j)
{
	double mag = 0;

	for (uint32_t e = 0; e < k; e++)
		mag += fabs((double)xf[(size_t)i * k + e] * wf[(size_t)j * k + e]);
	return mag;
}

static void qvk_kq_check_case(struct qvk_mm *mm, uint32_t type,
			      struct qvk_kq_case c,
			      enum qvk_act_granularity gran, uint64_t *seed)
{
	struct qvk_device *dev = qvk_test_dev;
	struct qvk_ctx *ctx = qvk_test_ctx;
	const struct qvk_type_info *info = qvk_type_info(type);
	size_t nblk = (size_t)c.n * c.k / info->block_elems;
	uint8_t *file = random_blocks(type, nblk, seed);
	float *x = malloc((size_t)c.m * c.k * 4), *xf = malloc((size_t)c.m * c.k * 4);
	float *wf = malloc((size_t)c.n * c.k * 4);
	float *y_ref = malloc((size_t)c.m * c.n * 4), *y_gpu = malloc((size_t)c.m * c.n * 4);
	struct qvk_kqtensor *kt;
	struct qvk_mm_weight *dw;
	struct qvk_mm_act *da;
	struct qvk_buffer *y, *dots_buf;
	struct qvk_mm_binding bind;
	struct qvk_qact *qa;
	struct qvk_cmd cmd;
	int32_t *dots_ref, *dots_gpu;
	size_t n_dots;
	double worst = 0;

	ck_assert(x && xf && wf && y_ref && y_gpu);
	for (size_t i = 0; i < (size_t)c.m * c.k; i++)
		x[i] = qvk_test_normal(seed) * (i % 53 == 0 ? 8.0f : 1.0f);
	ck_assert_int_eq(qvk_kqtensor_from_gguf(ctx, "w", type, file,
						nblk * info->block_bytes, c.n, c.k,
						&kt), QVK_OK);
	ck_assert_int_eq(qvk_mm_act_create(dev, c.m, c.k,
					   gran == QVK_ACT_PER_BLOCK32, &da), QVK_OK);
	ck_assert_int_eq(qvk_qact_create(ctx, gran, c.m, c.k, da->k_padded, &qa),
			 QVK_OK);
	ck_assert_int_eq(qvk_quantize_act(ctx, "x", x, qa), QVK_OK);
	n_dots = (size_t)c.m * c.n * qvk_ref_kq_units(kt);
	dots_ref = malloc(n_dots * 4);
	dots_gpu = malloc(n_dots * 4);
	ck_assert(dots_ref && dots_gpu);
	ck_assert_int_eq(qvk_ref_kqdots(ctx, kt, qa, dots_ref), QVK_OK);
	ck_assert_int_eq(qvk_ref_matmul_kq(ctx, kt, qa, y_ref), QVK_OK);

	ck_assert_int_eq(qvk_mm_weight_upload_kq(dev, kt, &dw), QVK_OK);
	ck_assert_int_eq(qvk_mm_act_write_q(da, qa), QVK_OK);
	ck_assert_int_eq(qvk_buffer_create(dev, QVK_MEM_READBACK,
					   (VkDeviceSize)c.m * c.n * 4, 4, &y), QVK_OK);
	ck_assert_int_eq(qvk_buffer_create(dev, QVK_MEM_READBACK, n_dots * 4, 4,
					   &dots_buf), QVK_OK);
	qvk_buffer_fill_u32(y, 0x7fc00000u);        /* NaN */
	qvk_buffer_fill_u32(dots_buf, 0x80000000u); /* INT_MIN */
	ck_assert_int_eq(qvk_mm_bind(mm, dw, da, y, c.n, false, dots_buf, &bind),
			 QVK_OK);
	ck_assert_int_eq(qvk_cmd_init(dev, &cmd), QVK_OK);
	ck_assert_int_eq(qvk_cmd_begin(&cmd), QVK_OK);
	qvk_mm_record(&cmd, &bind, c.m);
	qvk_cmd_barrier(&cmd);
	ck_assert_int_eq(qvk_cmd_submit_wait(&cmd, true), QVK_OK);
	ck_assert_int_eq(qvk_buffer_read(y, 0, y_gpu, (size_t)c.m * c.n * 4), QVK_OK);
	ck_assert_int_eq(qvk_buffer_read(dots_buf, 0, dots_gpu, n_dots * 4), QVK_OK);

	for (size_t i = 0; i < n_dots; i++)
		ck_assert_msg(dots_gpu[i] == dots_ref[i],
			      "%s m%u n%u k%u: dot %zu = %d, want %d", info->name,
			      c.m, c.n, c.k, i, dots_gpu[i], dots_ref[i]);
	/* the tolerance's scale: Σ|x·w| of the dequantized pair */
	qvk_qact_dequantize(qa, xf);
	qvk_kqtensor_dequantize(kt, wf);
	for (uint32_t i = 0; i < c.m; i++)
		for (uint32_t j = 0; j < c.n; j++) {
			float got = y_gpu[(size_t)i * c.n + j];
			float want = y_ref[(size_t)i * c.n + j];
			double mag = qvk_kq_magnitude(xf, wf, c.k, i, j);
			double err = fabs((double)got - want);

			ck_assert_msg(isfinite(got) && err <= 1e-5 * mag + 1e-30,
				      "%s m%u n%u k%u: y[%u][%u] = %g, want %g "
				      "(error %g, magnitude %g)", info->name, c.m,
				      c.n, c.k, i, j, got, want, err, mag);
			if (mag > 0 && err / mag > worst)
				worst = err / mag;
		}
	printf("  %-6s m%-3u n%-3u k%-4u %s: %zu dots exact, worst error %.2e "
	       "of Σ|x·w|\n", info->name, c.m, c.n, c.k,
	       gran == QVK_ACT_PER_BLOCK32 ? "act/32" : "act/tok", n_dots, worst);
	qvk_cmd_finish(&cmd);
	qvk_mm_unbind(&bind);
	qvk_buffer_destroy(y);
	qvk_buffer_destroy(dots_buf);
	qvk_mm_act_destroy(da);
	qvk_mm_weight_destroy(dw);
	qvk_qact_destroy(qa);
	qvk_kqtensor_destroy(kt);
	free(file);
	free(x);
	free(xf);
	free(wf);
	free(y_ref);
	free(y_gpu);
	free(dots_ref);
	free(dots_gpu);
}

static void qvk_kq_check_all(const char *name, bool subgroup_rows)
{
	uint64_t seed = qvk_test_seed(name);
	struct qvk_mm mm;

	ck_assert_int_eq(qvk_mm_init_untuned(qvk_test_dev, &mm), QVK_OK);
	/* Both layouts on every device: rows per invocation, subgroup per row. */
	mm.subgroup_rows = subgroup_rows;
	printf("  kernel: %s\n", subgroup_rows ? "matmul_kq_sg (subgroup per row)" :
						 "matmul_kq (rows per invocation)");
	for (size_t ti = 0; ti < QVK_N_TYPES; ti++) {
		uint32_t be = qvk_type_info(qvk_kq_types[ti])->block_elems;
		/* decode (1 token), a partial prefill tile, several tiles */
		const struct qvk_kq_case cases[] = {
			{ 1, 33, 2 * 256 }, { 3, 17, be }, { 20, 9, 5 * 256 },
		};

		for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
			qvk_kq_check_case(&mm, qvk_kq_types[ti], cases[c],
					  QVK_ACT_PER_BLOCK32, &seed);
			qvk_kq_check_case(&mm, qvk_kq_types[ti], cases[c],
					  QVK_ACT_PER_TOKEN, &seed);
		}
	}
	qvk_mm_finish(&mm);
}

START_TEST(test_kq_intdot_matches_reference)
{
	qvk_kq_check_all("matmul_kq intdot", false);
}
END_TEST

START_TEST(test_kq_sg_intdot_matches_reference)
{
	qvk_kq_check_all("matmul_kq_sg intdot", true);
}
END_TEST

START_TEST(test_kq_fallback_matches_reference)
{
	qvk_kq_check_all("matmul_kq fallback", false);
}
END_TEST

START_TEST(test_kq_sg_fallback_matches_reference)
{
	qvk_kq_check_all("matmul_kq_sg fallback", true);
}
END_TEST

Suite *suite_kquant(void);
Suite *suite_kquant(void)
{
	Suite *s = suite_create("kquant");
	TCase *tc = tcase_create("host");

	tcase_add_checked_fixture(tc, qvk_test_ctx_setup, qvk_test_ctx_teardown);
	tcase_add_test(tc, test_dequant_matches_ggml);
	tcase_add_test(tc, test_bad_blocks_refused);
	suite_add_tcase(s, tc);
	tc = tcase_create("intdot");
	tcase_add_checked_fixture(tc, qvk_test_gpu_setup, qvk_test_gpu_teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_glsl_decode_matches_c);
	tcase_add_test(tc, test_kq_intdot_matches_reference);
	tcase_add_test(tc, test_kq_sg_intdot_matches_reference);
	suite_add_tcase(s, tc);
	tc = tcase_create("fallback");
	tcase_add_checked_fixture(tc, qvk_test_gpu_fallback_setup,
				  qvk_test_gpu_teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_kq_fallback_matches_reference);
	tcase_add_test(tc, test_kq_sg_fallback_matches_reference);
	suite_add_tcase(s, tc);
	return s;
}
