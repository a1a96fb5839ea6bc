/* SPDX-License-Identifier: MIT */
/*
 * Calibration on the device (issue #14 item 2): the statistics that qvk's
 * own forward pass gathers (runtime/quantize/calib_gpu.c, kernels
 * calib_stats.comp and calib_xtx.comp) against the oracle, the scalar
 * fp32 reference forward pass with its capture hook (qvk_calib_run), on
 * the same windows:
 *   - stories260K (GQA 8/4) and a random 2-layer model with 4 query
 *     heads on one kv head and a hidden width of 92 (no multiple of the
 *     workgroups): every site's Σ|x|, Σx², max|x|, XᵀX and AWQ's row
 *     sample within QVK_CG_TOL of their largest magnitude; the device
 *     model holds f16 weights, so the bound is f16's rounding carried
 *     through the layers (measured below 2e-3);
 *   - one layer per pass (several XᵀX passes) gives the same bits as one
 *     pass, and so does XᵀX bound in pieces of rows; every host value is
 *     written (poisoned with NaN before);
 *   - a layer whose input overflows is refused by the matrix's name;
 *   - GPTQ with device statistics writes a model as close to the float
 *     one as with the CPU's float statistics (within 10% in KL) and beats
 *     RTN; AWQ within 25% (its grid of alphas may step elsewhere);
 *   - the time of the device calibration against the scalar reference and
 *     the batched CPU pass on the same windows, printed as ratios.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <qvk/quantize.h>

#include "vk/vk.h"

#include "check_arch.h"
#include "harness.h"
#include "quantize/quantize_internal.h"

#define QVK_CG_TOKENS 250u
#define QVK_CG_WINDOW 64u
#define QVK_CG_ROWS 40u
#define QVK_CG_TOL 5e-3

static char qvk_cg_path[96];

static void qvk_cg_setup(void)
{
	qvk_test_gpu_setup();
	qvk_cg_path[0] = 0;
}

static void qvk_cg_teardown(void)
{
	if (qvk_cg_path[0])
		unlink(qvk_cg_path);
	qvk_test_gpu_teardown();
}

static struct qvk_model *qvk_cg_stories(void)
{
	char path[512];

	return qvk_test_model_load(qvk_test_source_path(
		"tests/data/stories260K.bin", path, sizeof(path)));
}

/*
 * A random llama2.c model: dim 64, hidden 92, 2 layers, 4 heads on 1 kv
 * head, vocab 96, its own classifier; rms_ffn of layer 1 set to
 * @ffn_norm_1 when not 0.
 */
static struct qvk_model *qvk_cg_synthetic(uint64_t *seed, float ffn_norm_1)
{
	const int32_t dim = 64, hid = 92, nl = 2, nh = 4, nkv = 1, voc = 96,
		      seq = 128;
	const int32_t hdr[7] = { dim, hid, nl, nh, nkv, -voc, seq };
	size_t kv = (size_t)dim * nkv / nh, hs = (size_t)dim / nh;
	/* sizes in llama2.c order; norms are 1 + noise, matrices ~ 1/sqrt(k) */
	const struct { size_t n; float scale; bool norm; } part[] = {
		{ (size_t)voc * dim, 1.0f, false },
		{ (size_t)nl * dim, 0.1f, true },
		{ (size_t)nl * dim * dim, 0.125f, false },
		{ (size_t)nl * kv * dim, 0.125f, false },
		{ (size_t)nl * kv * dim, 0.125f, false },
		{ (size_t)nl * dim * dim, 0.125f, false },
		{ (size_t)nl * dim, 0.1f, true },     /* rms_ffn */
		{ (size_t)nl * hid * dim, 0.125f, false },
		{ (size_t)nl * dim * hid, 0.104f, false },
		{ (size_t)nl * hid * dim, 0.125f, false },
		{ (size_t)dim, 0.1f, true },
		{ (size_t)seq * hs / 2, 0.0f, false }, /* freq_cis, unused */
		{ (size_t)seq * hs / 2, 0.0f, false },
		{ (size_t)voc * dim, 0.125f, false }, /* wcls */
	};
	size_t total = 0;
	float *f, *at;

	for (size_t i = 0; i < sizeof(part) / sizeof(part[0]); i++)
		total += part[i].n;
	f = malloc(sizeof(hdr) + total * sizeof(float));
	ck_assert_ptr_nonnull(f);
	memcpy(f, hdr, sizeof(hdr));
	at = f + 7;
	for (size_t i = 0; i < sizeof(part) / sizeof(part[0]); i++) {
		for (size_t j = 0; j < part[i].n; j++)
			at[j] = (part[i].norm ? 1.0f : 0.0f) +
				part[i].scale * qvk_test_normal(seed);
		if (i == 6 && ffn_norm_1 != 0)
			for (int32_t j = 0; j < dim; j++)
				at[dim + j] = ffn_norm_1;
		at += part[i].n;
	}
	snprintf(qvk_cg_path, sizeof(qvk_cg_path), "/tmp/qvk-calib-gpu-%d.bin",
		 (int)getpid());
	qvk_test_write_file(qvk_cg_path, f, sizeof(hdr) + total * sizeof(float));
	free(f);
	return qvk_test_model_load(qvk_cg_path);
}

static void qvk_cg_tokens(uint32_t *tokens, uint32_t n, uint32_t vocab,
			  uint64_t *seed)
{
	for (uint32_t i = 0; i < n; i++)
		tokens[i] = 3 + (uint32_t)(qvk_test_rand(seed) % (vocab - 3));
}

/* Worst |a - b| over max |b| of @n values; NaN never passes. */
static double qvk_cg_rel(const void *a, const void *b, size_t n, bool dbl)
{
	double d = 0, m = 0;

	for (size_t i = 0; i < n; i++) {
		double x = dbl ? ((const double *)a)[i] : ((const float *)a)[i];
		double y = dbl ? ((const double *)b)[i] : ((const float *)b)[i];

		if (!isfinite(x))
			return INFINITY;
		d = fmax(d, fabs(x - y));
		m = fmax(m, fabs(y));
	}
	return m > 0 ? d / m : d;
}

/* The same over the upper triangles of two (k, k) matrices. */
static double qvk_cg_rel_upper(const float *a, const float *b, uint32_t k)
{
	double d = 0, m = 0;

	for (uint32_t i = 0; i < k; i++)
		for (uint32_t j = i; j < k; j++) {
			double x = a[(size_t)i * k + j], y = b[(size_t)i * k + j];

			if (!isfinite(x))
				return INFINITY;
			d = fmax(d, fabs(x - y));
			m = fmax(m, fabs(y));
		}
	return m > 0 ? d / m : d;
}

/* Every site of @gpu against @ref; the worst relative difference. */
static double qvk_cg_compare(const struct qvk_calib *ref,
			     const struct qvk_calib *gpu, const char *what)
{
	double worst = 0;

	ck_assert_uint_eq(gpu->n_sites, ref->n_sites);
	for (uint32_t i = 0; i < ref->n_sites; i++) {
		const struct qvk_calib_site *r = &ref->sites[i], *g = &gpu->sites[i];
		double e[5];

		ck_assert_uint_eq(g->k, r->k);
		ck_assert_uint_eq(g->tokens, r->tokens);
		ck_assert_uint_eq(g->n_rows, r->n_rows);
		e[0] = qvk_cg_rel(g->sum_abs, r->sum_abs, r->k, true);
		e[1] = qvk_cg_rel(g->sum_sq, r->sum_sq, r->k, true);
		e[2] = qvk_cg_rel(g->absmax, r->absmax, r->k, false);
		ck_assert(!g->xtx == !r->xtx);
		e[3] = r->xtx ? qvk_cg_rel_upper(g->xtx, r->xtx, r->k) : 0;
		e[4] = qvk_cg_rel(g->rows, r->rows, (size_t)r->n_rows * r->k,
				  false);
		for (int j = 0; j < 5; j++) {
			ck_assert_msg(e[j] <= QVK_CG_TOL, "%s: site %u (k %u): "
				      "statistic %d off by %.3g of its largest "
				      "value (limit %.0e)", what, i, r->k, j,
				      e[j], QVK_CG_TOL);
			worst = fmax(worst, e[j]);
		}
	}
	return worst;
}

static double qvk_cg_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/*
 * Seconds of the windows on the device (every site fetched), the model's
 * upload and the pipelines apart (*@upload_s).
 */
static double qvk_cg_windows_s(const struct qvk_model *m,
			       const struct qvk_quantize_options *o,
			       double *upload_s)
{
	struct qvk_calib_gpu *g = NULL;
	struct qvk_calib_site s;
	double t0 = qvk_cg_now(), t1;
	uint32_t n = qvk_site_index(m->params.n_layers, 0) + 1;

	ck_assert_int_eq(qvk_calib_gpu_create(qvk_test_ctx, qvk_test_dev, m, o,
					      true, QVK_CG_ROWS, 0, &g), QVK_OK);
	t1 = qvk_cg_now();
	*upload_s = t1 - t0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t kind = i % QVK_SITE_KINDS;
		uint32_t k = i == n - 1 || kind == QVK_SITE_ATTN_IN ||
				     kind == QVK_SITE_FFN_IN ? m->params.dim :
			     kind == QVK_SITE_FFN_OUT ? m->params.hidden_dim :
			     m->params.n_heads * m->params.head_dim;

		ck_assert_int_eq(qvk_calib_site_init(qvk_test_ctx, &s, k, true,
						     QVK_CG_ROWS), QVK_OK);
		ck_assert_int_eq(qvk_calib_gpu_site(g, i, &s), QVK_OK);
		qvk_calib_site_finish(&s);
	}
	qvk_calib_gpu_destroy(g);
	return qvk_cg_now() - t1;
}

/* Device statistics of @m against the reference, one pass and several. */
static void qvk_cg_check_model(struct qvk_model *m, const char *what,
			       uint64_t seed, uint32_t n_tokens, bool timing)
{
	uint32_t tokens[QVK_CG_TOKENS];
	struct qvk_quantize_options o = { .format = QVK_WEIGHTS_Q8, .group = 32,
					  .calib_tokens = tokens,
					  .n_calib_tokens = n_tokens,
					  .calib_window = QVK_CG_WINDOW, .bos = 1 };
	struct qvk_calib *ref = NULL, *gpu = NULL, *split = NULL, *bat = NULL;
	bool xtx = qvk_quant_has_blas(); /* the reference's XᵀX is BLAS's */
	double t0, t_ref, t_gpu, t_bat = 0, t_win = 0, t_up = 0, worst;
	uint32_t n_sites;
	qvk_status st;

	ck_assert_uint_le(n_tokens, QVK_CG_TOKENS);
	qvk_cg_tokens(tokens, n_tokens, m->params.vocab_size, &seed);
	t0 = qvk_cg_now();
	ck_assert_int_eq(qvk_calib_run(qvk_test_ctx, m, &o, xtx, QVK_CG_ROWS,
				       &ref), QVK_OK);
	t_ref = qvk_cg_now() - t0;
	t0 = qvk_cg_now();
	st = qvk_calib_gpu_run(qvk_test_ctx, qvk_test_dev, m, &o, xtx,
			       QVK_CG_ROWS, 0, &gpu);
	t_gpu = qvk_cg_now() - t0;
	ck_assert_msg(st == QVK_OK, "%s", qvk_ctx_message(qvk_test_ctx));
	worst = qvk_cg_compare(ref, gpu, what);
	/* a pass per layer: the same kernels on the same windows */
	st = qvk_calib_gpu_run(qvk_test_ctx, qvk_test_dev, m, &o, xtx,
			       QVK_CG_ROWS, 1, &split);
	ck_assert_msg(st == QVK_OK, "%s", qvk_ctx_message(qvk_test_ctx));
	n_sites = gpu->n_sites;
	for (uint32_t i = 0; i < n_sites; i++) {
		const struct qvk_calib_site *a = &gpu->sites[i], *b = &split->sites[i];

		ck_assert(!memcmp(a->sum_sq, b->sum_sq, a->k * sizeof(double)));
		ck_assert(!memcmp(a->absmax, b->absmax, a->k * sizeof(float)));
		ck_assert(!xtx || !memcmp(a->xtx, b->xtx, (size_t)a->k * a->k * 4));
		ck_assert(!memcmp(a->rows, b->rows, (size_t)a->n_rows * a->k * 4));
	}
	if (timing && qvk_quant_has_blas()) {
		t0 = qvk_cg_now();
		ck_assert_int_eq(qvk_calib_batched(qvk_test_ctx, m, &o, &bat),
				 QVK_OK);
		t_bat = qvk_cg_now() - t0;
	}
	if (timing) /* again, the windows apart from the upload */
		t_win = qvk_cg_windows_s(m, &o, &t_up);
	printf("calibration on the device, %s: %u sites, %u positions, f16 "
	       "weights: worst relative difference to the fp32 reference "
	       "%.2e (limit %.0e); one layer per pass: identical\n", what,
	       n_sites, (unsigned)ref->sites[0].tokens, worst, QVK_CG_TOL);
	if (timing)
		printf("calibration time (XtX, rows), same windows: device %.3f s "
		       "(again: %.3f s upload, pipelines and tuning, %.3f s the "
		       "windows), scalar reference %.3f s: reference/device %.2f (windows "
		       "alone %.2f)\n", t_gpu, t_up, t_win, t_ref, t_ref / t_gpu,
		       t_ref / t_win);
	if (timing && bat)
		printf("  batched CPU pass %.3f s: batched/device %.2f (windows "
		       "alone %.2f)\n", t_bat, t_bat / t_gpu, t_bat / t_win);
	else if (timing)
		printf("  batched CPU pass: unavailable (QVK_BLAS=0: its XtX is "
		       "BLAS's)\n");
	qvk_calib_destroy(bat);
	qvk_calib_destroy(split);
	qvk_calib_destroy(gpu);
	qvk_calib_destroy(ref);
}

START_TEST(test_stories_matches_reference)
{
	struct qvk_model *m = qvk_cg_stories();

	qvk_cg_check_model(m, "stories260K", qvk_test_seed("calib gpu stories"),
			   QVK_CG_TOKENS, true);
	qvk_model_destroy(m);
}
END_TEST

START_TEST(test_gqa_matches_reference)
{
	uint64_t seed = qvk_test_seed("calib gpu gqa");
	struct qvk_model *m = qvk_cg_synthetic(&seed, 0);

	ck_assert_uint_eq(m->params.n_heads / m->params.n_kv_heads, 4);
	qvk_cg_check_model(m, "random GQA 4:1, hidden 92", seed, QVK_CG_TOKENS,
			   false);
	qvk_model_destroy(m);
}
END_TEST

/*
 * The architectures' extras (Qwen2's q/k/v biases, Qwen3's q/k norms and
 * head_dim 128, Phi-3's fused matrices and LongRoPE) go through the
 * device's forward pass as through the reference's: synthetic presets.
 */
START_TEST(test_arch_presets_match_reference)
{
	static const char *const presets[] = { "qwen2", "qwen3", "phi3" };
	uint64_t seed = qvk_test_seed("calib gpu presets");

	for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++) {
		const struct qvk_synth_spec *sp = qvk_synth_preset(presets[i]);
		char dir[512], path[600];
		struct qvk_model *m;

		snprintf(path, sizeof(path), "%s/calib-%s-%d.gguf",
			 qvk_arch_dir(dir, sizeof(dir), "arch-tests"), sp->preset,
			 (int)getpid());
		if (!qvk_arch_synth(sp, QVK_GGML_TYPE_F32, path))
			return;
		m = qvk_test_model_load(path);
		qvk_cg_check_model(m, presets[i], seed + i, 96, false);
		qvk_model_destroy(m);
		unlink(path);
	}
}
END_TEST

/* Every value a site hands over is written: NaN-poisoned copies fill. */
START_TEST(test_site_fully_written)
{
	struct qvk_model *m = qvk_cg_stories();
	uint64_t seed = qvk_test_seed("calib gpu poison");
	uint32_t tokens[QVK_CG_TOKENS];
	struct qvk_quantize_options o = { .calib_tokens = tokens,
					  .n_calib_tokens = QVK_CG_TOKENS,
					  .calib_window = QVK_CG_WINDOW, .bos = 1 };
	struct qvk_calib_gpu *g = NULL;
	struct qvk_calib_site s;
	uint32_t site = qvk_site_index(m->params.n_layers - 1,
				       QVK_SITE_FFN_OUT);

	qvk_cg_tokens(tokens, QVK_CG_TOKENS, m->params.vocab_size, &seed);
	ck_assert_int_eq(qvk_calib_gpu_create(qvk_test_ctx, qvk_test_dev, m, &o,
					      true, QVK_CG_ROWS, 0, &g), QVK_OK);
	ck_assert_int_eq(qvk_calib_site_init(qvk_test_ctx, &s,
					     m->params.hidden_dim, true,
					     QVK_CG_ROWS), QVK_OK);
	for (uint32_t j = 0; j < s.k; j++)
		s.sum_abs[j] = s.sum_sq[j] = s.absmax[j] = NAN;
	for (size_t j = 0; j < (size_t)s.k * s.k; j++)
		s.xtx[j] = NAN;
	for (size_t j = 0; j < (size_t)QVK_CG_ROWS * s.k; j++)
		s.rows[j] = NAN;
	ck_assert_int_eq(qvk_calib_gpu_site(g, site, &s), QVK_OK);
	ck_assert_uint_eq(s.n_rows, QVK_CG_ROWS);
	for (uint32_t j = 0; j < s.k; j++) {
		ck_assert(isfinite(s.sum_abs[j]) && isfinite(s.sum_sq[j]) &&
			  isfinite(s.absmax[j]));
		for (uint32_t c = j; c < s.k; c++)
			ck_assert(isfinite(s.xtx[(size_t)j * s.k + c]));
	}
	for (size_t j = 0; j < (size_t)QVK_CG_ROWS * s.k; j++)
		ck_assert(isfinite(s.rows[j]));
	/* a site of another width is refused, not overrun */
	qvk_calib_site_finish(&s);
	ck_assert_int_eq(qvk_calib_site_init(qvk_test_ctx, &s, m->params.dim,
					     true, QVK_CG_ROWS), QVK_OK);
	ck_assert_int_eq(qvk_calib_gpu_site(g, site, &s), QVK_ERR_INVALID_ARG);
	qvk_calib_site_finish(&s);
	qvk_calib_gpu_destroy(g);
	qvk_model_destroy(m);
}
END_TEST

/*
 * XᵀX bound in pieces of whole rows (a device with a small storage range,
 * made so by lowering the limit qvk read from this one after the model's
 * upload): the same bits as in one piece.
 */
START_TEST(test_xtx_in_pieces)
{
	uint64_t seed = qvk_test_seed("calib gpu pieces");
	struct qvk_model *m = qvk_cg_synthetic(&seed, 0);
	uint32_t tokens[100], hid = m->params.hidden_dim;
	struct qvk_quantize_options o = { .calib_tokens = tokens,
					  .n_calib_tokens = 100,
					  .calib_window = 50, .bos = 1 };
	struct qvk_calib *whole = NULL;
	struct qvk_calib_gpu *g = NULL;
	VkDeviceSize range = qvk_test_dev->info.max_storage_buffer_range;
	/* 44 rows of the FFN_OUT site's 92 (368 bytes each) per piece */
	VkDeviceSize small = 44 * 4 * hid + 16;
	uint32_t n_sites;

	qvk_cg_tokens(tokens, 100, m->params.vocab_size, &seed);
	ck_assert_int_eq(qvk_calib_gpu_run(qvk_test_ctx, qvk_test_dev, m, &o,
					   true, 0, 0, &whole), QVK_OK);
	n_sites = whole->n_sites;
	ck_assert_int_eq(qvk_calib_gpu_create(qvk_test_ctx, qvk_test_dev, m, &o,
					      true, 0, 0, &g), QVK_OK);
	qvk_test_dev->info.max_storage_buffer_range = small;
	for (uint32_t i = 0; i < n_sites; i++) {
		const struct qvk_calib_site *w = &whole->sites[i];
		struct qvk_calib_site s;
		qvk_status st;

		ck_assert_int_eq(qvk_calib_site_init(qvk_test_ctx, &s, w->k, true,
						     0), QVK_OK);
		st = qvk_calib_gpu_site(g, i, &s);
		ck_assert_msg(st == QVK_OK, "site %u: %s", i,
			      qvk_ctx_message(qvk_test_ctx));
		ck_assert_msg(!memcmp(s.xtx, w->xtx, (size_t)w->k * w->k * 4),
			      "site %u (k %u): XtX in pieces of %llu bytes differs",
			      i, w->k, (unsigned long long)small - 16);
		ck_assert(!memcmp(s.sum_sq, w->sum_sq, w->k * sizeof(double)));
		qvk_calib_site_finish(&s);
	}
	qvk_test_dev->info.max_storage_buffer_range = range;
	printf("XtX of %u channels in pieces of 44 rows: identical to one "
	       "piece\n", hid);
	qvk_calib_gpu_destroy(g);
	qvk_calib_destroy(whole);
	qvk_model_destroy(m);
}
END_TEST

START_TEST(test_nonfinite_refused)
{
	uint64_t seed = qvk_test_seed("calib gpu nonfinite");
	struct qvk_model *m = qvk_cg_synthetic(&seed, 3e38f);
	uint32_t tokens[40];
	struct qvk_quantize_options o = { .calib_tokens = tokens,
					  .n_calib_tokens = 40,
					  .calib_window = 32, .bos = 1 };
	struct qvk_calib *c = NULL;
	const char *msg;
	qvk_status st;

	qvk_cg_tokens(tokens, 40, m->params.vocab_size, &seed);
	st = qvk_calib_gpu_run(qvk_test_ctx, qvk_test_dev, m, &o, false, 0, 0,
			       &c);
	msg = qvk_ctx_message(qvk_test_ctx);
	printf("overflowing FFN norm: %s: %s\n", qvk_strerror(st), msg);
	ck_assert_msg(st == QVK_ERR_NUMERIC, "%s: %s", qvk_strerror(st), msg);
	ck_assert_msg(strstr(msg, "blk.1.ffn_gate.weight"), "%s", msg);
	ck_assert_ptr_null(c);
	/* and the device is no place for bad arguments either */
	o.calib_window = 1000;
	ck_assert_int_eq(qvk_calib_gpu_run(qvk_test_ctx, qvk_test_dev, m, &o,
					   false, 0, 0, &c),
			 QVK_ERR_INVALID_ARG);
	o.calib_window = 32;
	tokens[7] = m->params.vocab_size;
	ck_assert_int_eq(qvk_calib_gpu_run(qvk_test_ctx, qvk_test_dev, m, &o,
					   false, 0, 0, &c),
			 QVK_ERR_INVALID_ARG);
	qvk_model_destroy(m);
}
END_TEST

/* KL to the float model of @o's quantization of @m, on @eval. */
static double qvk_cg_kl(const struct qvk_model *m,
			const struct qvk_quantize_options *o,
			const uint32_t *eval, size_t n)
{
	struct qvk_quantized *q = NULL;
	double kl = 0, ppl = 0;
	qvk_status st = qvk_quantize_model(qvk_test_ctx, m, o, &q);

	ck_assert_msg(st == QVK_OK, "%s", qvk_ctx_message(qvk_test_ctx));
	ck_assert_int_eq(qvk_ref_kl(qvk_test_ctx, m, qvk_quantized_model(q), eval,
				    n, 64, 1, &kl, &ppl), QVK_OK);
	qvk_quantized_destroy(q);
	ck_assert(isfinite(kl));
	return kl;
}

START_TEST(test_methods_with_device_statistics)
{
	struct qvk_model *m = qvk_cg_stories();
	uint64_t seed = qvk_test_seed("calib gpu gptq");
	uint32_t tokens[QVK_CG_TOKENS], eval[126];
	struct qvk_quantize_options o = { .format = QVK_WEIGHTS_Q4, .group = 32,
					  .method = QVK_METHOD_GPTQ,
					  .calib_tokens = tokens,
					  .n_calib_tokens = QVK_CG_TOKENS,
					  .calib_window = QVK_CG_WINDOW, .bos = 1,
					  .float_calib = true };
	double kl_cpu, kl_gpu, kl_awq, kl_awq_cpu, kl_rtn;

	if (!qvk_quant_has_blas()) {
		printf("SKIP: GPTQ left out of this build (QVK_BLAS=0)\n");
		qvk_model_destroy(m);
		return;
	}
	qvk_cg_tokens(tokens, QVK_CG_TOKENS, m->params.vocab_size, &seed);
	qvk_cg_tokens(eval, 126, m->params.vocab_size, &seed);
	kl_cpu = qvk_cg_kl(m, &o, eval, 126);
	o.calib_device = QVK_CALIB_GPU;
	o.calib_dev = qvk_test_dev;
	kl_gpu = qvk_cg_kl(m, &o, eval, 126);
	o.method = QVK_METHOD_AWQ;
	kl_awq = qvk_cg_kl(m, &o, eval, 126);
	o.calib_device = QVK_CALIB_CPU;
	kl_awq_cpu = qvk_cg_kl(m, &o, eval, 126);
	o.calib_device = QVK_CALIB_GPU;
	o.method = QVK_METHOD_RTN;
	kl_rtn = qvk_cg_kl(m, &o, eval, 126);
	printf("q4 g32 on stories260K, KL to the float model, float statistics "
	       "from the CPU / the device: GPTQ %.5f / %.5f, AWQ %.5f / %.5f; "
	       "RTN %.5f\n", kl_cpu, kl_gpu, kl_awq_cpu, kl_awq, kl_rtn);
	/* AWQ's grid of alphas may step elsewhere on statistics 1e-3 apart */
	ck_assert_msg(fabs(kl_awq - kl_awq_cpu) <= 0.25 * kl_awq_cpu, "AWQ: KL "
		      "%.5f with the device's statistics, %.5f with the CPU's",
		      kl_awq, kl_awq_cpu);
	ck_assert_msg(kl_gpu < kl_rtn, "GPTQ (device statistics) %.5f does not "
		      "beat RTN %.5f", kl_gpu, kl_rtn);
	ck_assert_msg(fabs(kl_gpu - kl_cpu) <= 0.1 * kl_cpu, "KL %.5f with the "
		      "device's statistics, %.5f with the CPU's", kl_gpu, kl_cpu);
	/* without a device, or with no such choice, the option is refused */
	o.method = QVK_METHOD_GPTQ;
	o.calib_dev = NULL;
	{
		struct qvk_quantized *q = NULL;

		ck_assert_int_eq(qvk_quantize_model(qvk_test_ctx, m, &o, &q),
				 QVK_ERR_INVALID_ARG);
		ck_assert(strstr(qvk_ctx_message(qvk_test_ctx), "no device"));
		ck_assert_ptr_null(q);
		o.calib_device = (enum qvk_calib_device)7;
		ck_assert_int_eq(qvk_quantize_model(qvk_test_ctx, m, &o, &q),
				 QVK_ERR_INVALID_ARG);
		ck_assert(strstr(qvk_ctx_message(qvk_test_ctx), "calib_device 7"));
		ck_assert_ptr_null(q);
	}
	qvk_model_destroy(m);
}
END_TEST

Suite *suite_calib_gpu(void);
Suite *suite_calib_gpu(void)
{
	Suite *s = suite_create("calib_gpu");
	TCase *tc = tcase_create("device statistics");

	tcase_add_checked_fixture(tc, qvk_cg_setup, qvk_cg_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_stories_matches_reference);
	tcase_add_test(tc, test_gqa_matches_reference);
	tcase_add_test(tc, test_arch_presets_match_reference);
	tcase_add_test(tc, test_site_fully_written);
	tcase_add_test(tc, test_xtx_in_pieces);
	tcase_add_test(tc, test_nonfinite_refused);
	tcase_add_test(tc, test_methods_with_device_statistics);
	suite_add_tcase(s, tc);
	return s;
}
