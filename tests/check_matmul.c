/* SPDX-License-Identifier: MIT */
/*
 * The grouped integer matmul kernels against the exact integer reference of
 * the quantization core: every format x group x path (OpSDot and the SWAR
 * fallback) x grouped kernel (matmul_q, matmul_q_sg, matmul_q_texel and
 * their rows per invocation; matmul_q_tiled's tiles at prefill), decode and
 * prefill token counts, odd N, K equal to the group,
 * K = 4352 and the padded K = 172 of stories260K. The int32 group dots must
 * match exactly; the fp32 outputs within 1e-5 of the magnitude of their
 * terms. Fresh random inputs each run (seed printed), outputs poisoned.
 * And the per-device tuning's choice and the file that keeps it.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/fp16.h>
#include <qvk/matmul.h>
#include <qvk/quant.h>

#include "harness.h"
#include "matmul/matmul.h"

struct qvk_mm_case {
	uint32_t m, n, k;
};

static const uint32_t qvk_groups[] = { 32, 64, 128, QVK_GROUP_ROW };
static const enum qvk_qformat qvk_formats[] = { QVK_QFORMAT_Q8, QVK_QFORMAT_Q4,
						QVK_QFORMAT_Q4A };

static float *qvk_random_matrix(uint64_t *seed, uint32_t rows, uint32_t cols,
				float scale)
{
	float *x = malloc((size_t)rows * cols * sizeof(*x));

	ck_assert_ptr_nonnull(x);
	for (size_t i = 0; i < (size_t)rows * cols; i++)
		x[i] = scale * qvk_test_normal(seed);
	/* An outlier per row, as real activations have. */
	for (uint32_t r = 0; r < rows; r++)
		x[(size_t)r * cols + qvk_test_rand(seed) % cols] *= 8.0f;
	return x;
}

/*
 * Σ over dot units of |t_u · d_a|: the scale of the sum, for the tolerance.
 * A unit is a weight group (per-token activations) or a 32-block.
 */
static double qvk_term_magnitude(const struct qvk_qtensor *w,
				 const struct qvk_qact *a, const int32_t *dots,
				 uint32_t i, uint32_t j)
{
	uint32_t units = qvk_ref_qdot_units(w, a), unit = w->k_padded / units;
	double mag = 0;

	for (uint32_t u = 0; u < units; u++) {
		size_t si = (size_t)j * w->n_groups + u * unit / w->group;
		double t = (double)dots[((size_t)i * w->n + j) * units + u] *
			   qvk_fp16_to_f32(w->scales[si]);
		double da = a->scales[(size_t)i * a->n_scales +
				      (a->n_scales == 1 ? 0 : u * unit / 32)];

		if (w->format == QVK_QFORMAT_Q4A) {
			int32_t sum = 0;

			for (uint32_t b = u * unit / 32; b < (u + 1) * unit / 32; b++)
				sum += a->sums[(size_t)i * (a->k_padded / 32) + b];
			t = fabs(t) + fabs((double)sum * qvk_fp16_to_f32(w->mins[si]));
		}
		mag += fabs(t) * da;
	}
	return mag;
}

static void qvk_check_case(struct qvk_mm *mm, enum qvk_qformat fmt,
			   uint32_t group, struct qvk_mm_case c,
			   enum qvk_act_granularity gran, uint64_t *seed)
{
	struct qvk_device *dev = qvk_test_dev;
	struct qvk_ctx *ctx = qvk_test_ctx;
	float *w = qvk_random_matrix(seed, c.n, c.k, 0.05f);
	float *x = qvk_random_matrix(seed, c.m, c.k, 1.0f);
	float *y_ref = malloc((size_t)c.m * c.n * 4);
	float *y_gpu = malloc((size_t)c.m * c.n * 4);
	struct qvk_quant_params qp = qvk_quant_params_default(fmt, group);
	struct qvk_mm_binding bind;
	struct qvk_mm_weight *dw;
	struct qvk_buffer *y, *dots_buf;
	struct qvk_qtensor *qt;
	struct qvk_qact *qa;
	struct qvk_mm_act *da;
	int32_t *dots_ref, *dots_gpu;
	size_t n_dots;
	struct qvk_cmd cmd;
	double worst = 0;

	ck_assert_int_eq(qvk_quantize_weights(ctx, "w", w, c.n, c.k, &qp, &qt),
			 QVK_OK);
	ck_assert_int_eq(qvk_qact_create(ctx, gran, c.m, c.k, qt->k_padded, &qa),
			 QVK_OK);
	ck_assert_int_eq(qvk_quantize_act(ctx, "x", x, qa), QVK_OK);
	n_dots = (size_t)c.m * c.n * qvk_ref_qdot_units(qt, qa);
	dots_ref = malloc(n_dots * 4);
	dots_gpu = malloc(n_dots * 4);
	ck_assert(y_ref && y_gpu && dots_ref && dots_gpu);
	ck_assert_int_eq(qvk_ref_qdots(ctx, qt, qa, dots_ref), QVK_OK);
	ck_assert_int_eq(qvk_ref_matmul_q(ctx, qt, qa, y_ref), QVK_OK);

	ck_assert_int_eq(qvk_mm_weight_upload_q(dev, qt, &dw), QVK_OK);
	ck_assert_int_eq(qvk_mm_act_create(dev, c.m, c.k,
					   gran == QVK_ACT_PER_BLOCK32, &da),
			 QVK_OK);
	ck_assert_int_eq(qvk_mm_act_write_q(da, qa), QVK_OK);
	ck_assert_int_eq(qvk_buffer_create(dev, QVK_MEM_READBACK,
					   (VkDeviceSize)c.m * c.n * 4, 4, &y),
			 QVK_OK);
	ck_assert_int_eq(qvk_buffer_create(dev, QVK_MEM_READBACK, n_dots * 4, 4,
					   &dots_buf),
			 QVK_OK);
	qvk_buffer_fill_u32(y, 0x7fc00000u);        /* NaN */
	qvk_buffer_fill_u32(dots_buf, 0x80000000u); /* INT_MIN */
	ck_assert_int_eq(qvk_mm_bind(mm, dw, da, y, c.n, false, dots_buf, &bind),
			 QVK_OK);
	/* A forced tile runs wherever it applies: prefill, groups <= 128. */
	if (mm->prefill[fmt] && c.m > 1 && group && group <= 128)
		ck_assert_ptr_nonnull(bind.tiled);
	ck_assert_int_eq(qvk_cmd_init(dev, &cmd), QVK_OK);
	ck_assert_int_eq(qvk_cmd_begin(&cmd), QVK_OK);
	qvk_mm_record(&cmd, &bind, c.m);
	qvk_cmd_barrier(&cmd);
	ck_assert_int_eq(qvk_cmd_submit_wait(&cmd, true), QVK_OK);
	ck_assert_int_eq(qvk_buffer_read(y, 0, y_gpu, (size_t)c.m * c.n * 4),
			 QVK_OK);
	ck_assert_int_eq(qvk_buffer_read(dots_buf, 0, dots_gpu, n_dots * 4),
			 QVK_OK);

	for (size_t i = 0; i < n_dots; i++)
		ck_assert_msg(dots_gpu[i] == dots_ref[i],
			      "%s g%u m%u n%u k%u: dot %zu = %d, want %d",
			      qvk_qformat_name(fmt), group, c.m, c.n, c.k, i,
			      dots_gpu[i], dots_ref[i]);
	for (uint32_t i = 0; i < c.m; i++)
		for (uint32_t j = 0; j < c.n; j++) {
			float got = y_gpu[(size_t)i * c.n + j];
			float want = y_ref[(size_t)i * c.n + j];
			double mag = qvk_term_magnitude(qt, qa, dots_ref, i, j);
			double err = fabs((double)got - want);

			ck_assert_msg(isfinite(got) && err <= 1e-5 * mag + 1e-30,
				      "%s g%u m%u n%u k%u: y[%u][%u] = %g, want "
				      "%g (error %g, term magnitude %g)",
				      qvk_qformat_name(fmt), group, c.m, c.n,
				      c.k, i, j, got, want, err, mag);
			if (mag > 0 && err / mag > worst)
				worst = err / mag;
		}
	printf("  %-3s g%-3u m%-3u n%-3u k%-4u %s: dots exact, worst error "
	       "%.2e of term magnitude\n", qvk_qformat_name(fmt),
	       group ? group : qt->group, c.m, c.n, c.k,
	       gran == QVK_ACT_PER_BLOCK32 ? "act/32" : "act/tok", worst);
	qvk_cmd_finish(&cmd);
	qvk_mm_unbind(&bind);
	qvk_buffer_destroy(y);
	qvk_buffer_destroy(dots_buf);
	qvk_mm_act_destroy(da);
	qvk_mm_weight_destroy(dw);
	qvk_qact_destroy(qa);
	qvk_qtensor_destroy(qt);
	free(w);
	free(x);
	free(y_ref);
	free(y_gpu);
	free(dots_ref);
	free(dots_gpu);
}

/*
 * Every format x group x case on grouped kernel @v with @rpi rows per
 * invocation; @quick: groups of 32 and per row, two cases (a variant's
 * other tiles or path, where the full set already ran on one).
 */
static void qvk_check_all(const char *name, enum qvk_mm_variant v,
			  uint32_t rpi, bool quick)
{
	uint64_t seed = qvk_test_seed(name);
	struct qvk_mm mm;

	ck_assert_int_eq(qvk_mm_init_untuned(qvk_test_dev, &mm), QVK_OK);
	if (!mm.can[v]) {
		printf("  %s: %s cannot run on %s (skipped)\n", name,
		       qvk_mm_variant_shader(v), qvk_test_dev->info.name);
		qvk_mm_finish(&mm);
		return;
	}
	/* Every variant on every device that can run it. */
	for (uint32_t k = QVK_MM_Q8; k <= QVK_MM_Q4A; k++)
		mm.q[k] = (struct qvk_mm_choice){ v, rpi };
	printf("  kernel: %s, %u rows per invocation\n",
	       qvk_mm_variant_shader(v), rpi);
	for (size_t f = 0; f < QVK_ARRAY_SIZE(qvk_formats); f++)
		for (size_t g = 0; g < QVK_ARRAY_SIZE(qvk_groups); g++) {
			uint32_t gs = qvk_groups[g] ? qvk_groups[g] : 96;
			const struct qvk_mm_case cases[] = {
				{ 1, 33, 172 },  { 7, 65, 4352 },
				{ 2, 17, gs },   { 64, 31, 256 },
				{ 300, 19, 172 }, { 8, 129, 2048 },
			};

			if (quick && (g == 1 || g == 2))
				continue;
			for (size_t c = 0; c < QVK_ARRAY_SIZE(cases); c++) {
				if (quick && c >= 2)
					break;
				qvk_check_case(&mm, qvk_formats[f], qvk_groups[g],
					       cases[c], QVK_ACT_PER_TOKEN, &seed);
				qvk_check_case(&mm, qvk_formats[f], qvk_groups[g],
					       cases[c], QVK_ACT_PER_BLOCK32,
					       &seed);
			}
		}
	qvk_mm_finish(&mm);
}

/*
 * Prefill on matmul_q_tiled's tile @tile (1-based) forced: every format x
 * group of 32/64/128 x activation granularity, tokens 2, 7, BN + 1 and
 * 129, rows not a multiple of BM, K equal to the group and six groups;
 * @quick: Q8 at groups of 32 and Q4 at 128, BN + 1 tokens only.
 */
static void qvk_check_tiled(const char *name, uint32_t tile, bool quick)
{
	uint64_t seed = qvk_test_seed(name);
	struct qvk_mm mm;
	char tname[32];

	ck_assert_int_eq(qvk_mm_init_untuned(qvk_test_dev, &mm), QVK_OK);
	if (tile > mm.n_tiles) {
		printf("  %s: %s has %u tiles (skipped)\n", name,
		       qvk_test_dev->info.name, mm.n_tiles);
		qvk_mm_finish(&mm);
		return;
	}
	for (uint32_t k = QVK_MM_Q8; k <= QVK_MM_Q4A; k++)
		mm.prefill[k] = tile;
	qvk_mm_tile_name(&mm.tiles[tile - 1], tname, sizeof(tname));
	printf("  kernel: %s, tile %s\n", QVK_MM_TILED_SHADER, tname);
	for (size_t f = 0; f < QVK_ARRAY_SIZE(qvk_formats); f++)
		for (size_t g = 0; g < 3; g++) {
			const struct qvk_mm_tile *t = &mm.tiles[tile - 1];
			uint32_t gs = qvk_groups[g];
			const struct qvk_mm_case cases[] = {
				{ t->bn + 1, 2 * t->bm - 1, 6 * gs },
				{ 2, t->bm + 3, gs },
				{ 7, 37, 6 * gs },
				{ 129, t->bm + 1, gs },
			};

			/* quick: Q8 at groups of 32, Q4 at 128 */
			if (quick && !(f == 0 && g == 0) && !(f == 1 && g == 2))
				continue;
			for (size_t c = 0; c < QVK_ARRAY_SIZE(cases); c++) {
				if (quick && c >= 1)
					break;
				qvk_check_case(&mm, qvk_formats[f], gs, cases[c],
					       QVK_ACT_PER_TOKEN, &seed);
				qvk_check_case(&mm, qvk_formats[f], gs, cases[c],
					       QVK_ACT_PER_BLOCK32, &seed);
			}
		}
	qvk_mm_finish(&mm);
}

/*
 * The fp32/fp16 baseline kernels through the public API (upload, run,
 * exec) against the double-precision float reference, K not a multiple
 * of 8 included; fp16 weights are compared with their own rounded values.
 */
static void qvk_check_float(bool f16, uint32_t m, uint32_t n, uint32_t k,
			    uint64_t *seed)
{
	float *w = qvk_random_matrix(seed, n, k, 0.05f);
	float *x = qvk_random_matrix(seed, m, k, 1.0f);
	float *y = malloc((size_t)m * n * 4), *ref = malloc((size_t)m * n * 4);
	struct qvk_matmul *mm;
	struct qvk_weight *dw;
	struct qvk_matmul_run *run;
	double worst = 0;

	ck_assert(y && ref);
	if (f16)
		for (size_t i = 0; i < (size_t)n * k; i++)
			w[i] = qvk_fp16_to_f32(qvk_fp16_from_f32(w[i]));
	qvk_ref_matmul_f32(x, w, ref, m, n, k);
	for (size_t i = 0; i < (size_t)m * n; i++)
		y[i] = NAN;
	ck_assert_int_eq(qvk_matmul_create(qvk_test_dev, &mm), QVK_OK);
	ck_assert_int_eq(qvk_weight_upload_float(mm, w, n, k, f16, &dw), QVK_OK);
	ck_assert_int_eq(qvk_matmul_run_create(mm, &dw, 1, m, &run), QVK_OK);
	ck_assert_int_eq(qvk_matmul_run_set_input(run, NULL, x, m), QVK_OK);
	ck_assert_int_eq(qvk_matmul_run_exec(run, y), QVK_OK);
	for (uint32_t i = 0; i < m; i++)
		for (uint32_t j = 0; j < n; j++) {
			double mag = 0, err;

			for (uint32_t e = 0; e < k; e++)
				mag += fabs((double)x[(size_t)i * k + e] *
					    w[(size_t)j * k + e]);
			err = fabs((double)y[(size_t)i * n + j] - ref[(size_t)i * n + j]);
			ck_assert_msg(isfinite(y[(size_t)i * n + j]) &&
					      err <= 1e-5 * mag + 1e-30,
				      "%s m%u n%u k%u: y[%u][%u] = %g, want %g",
				      f16 ? "f16" : "f32", m, n, k, i, j,
				      y[(size_t)i * n + j], ref[(size_t)i * n + j]);
			if (mag > 0 && err / mag > worst)
				worst = err / mag;
		}
	printf("  %s m%-3u n%-3u k%-4u: worst error %.2e of term magnitude "
	       "(bound 1e-5)\n", f16 ? "f16" : "f32", m, n, k, worst);
	qvk_matmul_run_destroy(run);
	qvk_weight_destroy(dw);
	qvk_matmul_destroy(mm);
	free(w);
	free(x);
	free(y);
	free(ref);
}

START_TEST(test_matmul_float_matches_reference)
{
	uint64_t seed = qvk_test_seed("matmul float");
	const struct qvk_mm_case cases[] = {
		{ 1, 33, 172 }, { 7, 65, 4352 }, { 64, 31, 256 }, { 300, 19, 13 },
		/* 139 MB of fp32 weights: past lavapipe's 128 MiB storage
		 * range, so bound as two pieces of whole rows. */
		{ 2, 17000, 2048 },
	};

	for (int f16 = 0; f16 < 2; f16++)
		for (size_t c = 0; c < QVK_ARRAY_SIZE(cases); c++)
			qvk_check_float(f16, cases[c].m, cases[c].n, cases[c].k,
					&seed);
}
END_TEST

START_TEST(test_matmul_intdot_matches_reference)
{
	qvk_check_all("matmul intdot", QVK_MM_LANES, 2, false);
	qvk_check_all("matmul intdot 1 row", QVK_MM_LANES, 1, true);
}
END_TEST

START_TEST(test_matmul_fallback_matches_reference)
{
	qvk_check_all("matmul fallback", QVK_MM_LANES, 2, false);
}
END_TEST

START_TEST(test_matmul_sg_intdot_matches_reference)
{
	qvk_check_all("matmul subgroup intdot", QVK_MM_SUBGROUP, 1, false);
}
END_TEST

START_TEST(test_matmul_sg_fallback_matches_reference)
{
	qvk_check_all("matmul subgroup fallback", QVK_MM_SUBGROUP, 1, false);
}
END_TEST

START_TEST(test_matmul_texel_intdot_matches_reference)
{
	qvk_check_all("matmul texel intdot", QVK_MM_TEXEL, 2, false);
}
END_TEST

START_TEST(test_matmul_texel_tiles_match_reference)
{
	qvk_check_all("matmul texel intdot 1 row", QVK_MM_TEXEL, 1, true);
	qvk_check_all("matmul texel intdot 4 rows", QVK_MM_TEXEL, 4, true);
}
END_TEST

START_TEST(test_matmul_texel_fallback_matches_reference)
{
	qvk_check_all("matmul texel fallback", QVK_MM_TEXEL, 2, true);
}
END_TEST

START_TEST(test_matmul_tiled_intdot_matches_reference)
{
	qvk_check_tiled("matmul tiled intdot", 1, false);
	for (uint32_t t = 2; t <= QVK_MM_MAX_TILES; t++)
		qvk_check_tiled("matmul tiled intdot other tile", t, true);
}
END_TEST

START_TEST(test_matmul_tiled_fallback_matches_reference)
{
	qvk_check_tiled("matmul tiled fallback", 1, true);
}
END_TEST

static void qvk_check_choices(const struct qvk_mm *mm)
{
	for (uint32_t k = QVK_MM_Q8; k <= QVK_MM_Q4A; k++) {
		const struct qvk_mm_choice *c = &mm->q[k];

		ck_assert_msg(mm->prefill[k] <= mm->n_tiles, "kind %u: prefill "
			      "tile %u of %u", k, mm->prefill[k], mm->n_tiles);

		ck_assert_msg(c->variant < QVK_MM_VARIANT_COUNT &&
				      mm->can[c->variant] &&
				      (c->rpi == 1 || c->rpi == 2 || c->rpi == 4),
			      "kind %u: variant %u, %u rows", k, c->variant,
			      c->rpi);
	}
}

/* The first line of @path into @line; fails the test if absent. */
static void qvk_read_line(const char *path, char *line, size_t len)
{
	FILE *f = fopen(path, "r");

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_ptr_nonnull(fgets(line, (int)len, f));
	fclose(f);
}

static void qvk_write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

/*
 * The tuning (mm_tune.c) on this device: a choice the device can run,
 * stored beside the pipeline cache; a stored choice is what the next
 * start uses (a planted one shows it), and a malformed file or one of
 * another hash means tuning again and replacing it.
 */
START_TEST(test_matmul_tune_stores_choice)
{
	struct qvk_device *dev = qvk_test_dev;
	char saved[sizeof(dev->pipeline_cache_path)];
	char dir[256], tune[600], header[128], line[128], text[512], tile[32];
	uint32_t planted;
	struct qvk_mm mm;

	memcpy(saved, dev->pipeline_cache_path, sizeof(saved));
	qvk_test_tmpdir("tune", dir, sizeof(dir));
	snprintf(dev->pipeline_cache_path, sizeof(dev->pipeline_cache_path),
		 "%s/sub/dev.pipelines", dir);
	snprintf(tune, sizeof(tune), "%s/sub/dev-%s.tune", dir,
		 dev->use_int_dot ? "intdot" : "fallback");

	dev->mm_tuned = false;
	ck_assert_int_eq(qvk_mm_init(dev, &mm), QVK_OK);
	qvk_check_choices(&mm);
	ck_assert_msg(strstr(mm.tune_note, "ms per"), "note '%s'", mm.tune_note);
	printf("  tuned: q8 %s x%u, q4 %s x%u (%s)\n",
	       qvk_mm_variant_shader(mm.q[QVK_MM_Q8].variant),
	       mm.q[QVK_MM_Q8].rpi,
	       qvk_mm_variant_shader(mm.q[QVK_MM_Q4].variant),
	       mm.q[QVK_MM_Q4].rpi, mm.tune_note);
	qvk_mm_finish(&mm);
	qvk_read_line(tune, header, sizeof(header));
	ck_assert_msg(!strncmp(header, "qvk-matmul-tune 3 ", 18), "header '%s'",
		      header);

	/*
	 * Planted: used as is, by this start and the device's later ones;
	 * Q8's prefill on the device's first tile, where it has one.
	 */
	ck_assert_int_eq(qvk_mm_init_untuned(dev, &mm), QVK_OK);
	planted = mm.n_tiles ? 1 : 0;
	if (planted)
		qvk_mm_tile_name(&mm.tiles[0], tile, sizeof(tile));
	else
		snprintf(tile, sizeof(tile), "decode");
	qvk_mm_finish(&mm);
	snprintf(text, sizeof(text), "%sq8 matmul_q 1 %s\nq4 matmul_q 1 decode\n"
		 "q4a matmul_q 1 decode\nnote planted\n", header, tile);
	qvk_write_text(tune, text);
	dev->mm_tuned = false;
	for (int again = 0; again < 2; again++) {
		ck_assert_int_eq(qvk_mm_init(dev, &mm), QVK_OK);
		for (uint32_t k = QVK_MM_Q8; k <= QVK_MM_Q4A; k++)
			ck_assert(mm.q[k].variant == QVK_MM_LANES &&
				  mm.q[k].rpi == 1 &&
				  mm.prefill[k] == (k == QVK_MM_Q8 ? planted : 0));
		ck_assert_str_eq(mm.tune_note, "planted");
		qvk_mm_finish(&mm);
	}

	/* Malformed (3 rows per invocation): tuned again, file replaced. */
	snprintf(text, sizeof(text), "%sq8 matmul_q 3 decode\nq4 matmul_q 1 "
		 "decode\nq4a matmul_q 1 decode\nnote planted\n", header);
	qvk_write_text(tune, text);
	dev->mm_tuned = false;
	ck_assert_int_eq(qvk_mm_init(dev, &mm), QVK_OK);
	qvk_check_choices(&mm);
	ck_assert_msg(strstr(mm.tune_note, "ms per"), "note '%s'", mm.tune_note);
	qvk_mm_finish(&mm);
	qvk_read_line(tune, line, sizeof(line));
	ck_assert_str_eq(line, header);

	/*
	 * Another build's (or tile rules') hash, the stored one with its
	 * first digit changed: tuned again, replaced.
	 */
	snprintf(text, sizeof(text), "%sq8 matmul_q 1 decode\nq4 matmul_q 1 "
		 "decode\nq4a matmul_q 1 decode\nnote planted\n", header);
	text[18] = text[18] == '0' ? '1' : '0';
	qvk_write_text(tune, text);
	dev->mm_tuned = false;
	ck_assert_int_eq(qvk_mm_init(dev, &mm), QVK_OK);
	ck_assert_msg(strstr(mm.tune_note, "ms per"), "note '%s'", mm.tune_note);
	qvk_mm_finish(&mm);
	qvk_read_line(tune, line, sizeof(line));
	ck_assert_str_eq(line, header);

	memcpy(dev->pipeline_cache_path, saved, sizeof(saved));
	qvk_test_rmtree(dir);
}
END_TEST

Suite *suite_matmul(void);
Suite *suite_matmul(void)
{
	Suite *s = suite_create("matmul");
	TCase *tc = tcase_create("intdot");

	tcase_add_checked_fixture(tc, qvk_test_gpu_setup, qvk_test_gpu_teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_matmul_intdot_matches_reference);
	tcase_add_test(tc, test_matmul_float_matches_reference);
	tcase_add_test(tc, test_matmul_sg_intdot_matches_reference);
	suite_add_tcase(s, tc);
	/* Prefill through shared memory: a case of its own. */
	tc = tcase_create("tiled");
	tcase_add_checked_fixture(tc, qvk_test_gpu_setup, qvk_test_gpu_teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_matmul_tiled_intdot_matches_reference);
	suite_add_tcase(s, tc);
	/* The texel kernel and the tuning: a case of their own. */
	tc = tcase_create("texel");
	tcase_add_checked_fixture(tc, qvk_test_gpu_setup, qvk_test_gpu_teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_matmul_texel_intdot_matches_reference);
	tcase_add_test(tc, test_matmul_texel_tiles_match_reference);
	tcase_add_test(tc, test_matmul_tune_stores_choice);
	suite_add_tcase(s, tc);
	tc = tcase_create("fallback");
	tcase_add_checked_fixture(tc, qvk_test_gpu_fallback_setup,
				  qvk_test_gpu_teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_matmul_fallback_matches_reference);
	tcase_add_test(tc, test_matmul_sg_fallback_matches_reference);
	tcase_add_test(tc, test_matmul_tiled_fallback_matches_reference);
	suite_add_tcase(s, tc);
	tc = tcase_create("texel_fallback");
	tcase_add_checked_fixture(tc, qvk_test_gpu_fallback_setup,
				  qvk_test_gpu_teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_matmul_texel_fallback_matches_reference);
	suite_add_tcase(s, tc);
	return s;
}
