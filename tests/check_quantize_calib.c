/* SPDX-License-Identifier: MIT */
/*
 * The batched, layer-by-layer calibration pass of qvk quantize (issue #14
 * item 3) against its oracle, the scalar reference forward pass with a
 * capture hook (runtime/quantize/calib.c), on stories260K:
 *   - over the float weights (float_calib) every site's token count,
 *     Σ|x|, Σx², max|x| and XᵀX equal the reference's within 2e-5 of
 *     their largest magnitude (measured 1.5e-6; the two differ only in
 *     summation order: sgemm against scalar dot products);
 *   - sequential calibration (each layer's inputs from the quantized
 *     layers before it, the default) changes what GPTQ writes, and both
 *     it and the float statistics beat RTN on the KL to the float model;
 *   - llama.cpp importance matrices (item 6): a legacy .dat file holding
 *     the reference's mean squares makes the MSE method write exactly the
 *     bytes that calibration text gives it; the GGUF form reads back the
 *     same values; truncated or mismatched files are refused by name.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/quantize.h>

#include "check_arch.h"
#include "harness.h"
#include "quantize/quantize_internal.h"

/* A matrix of stories260K and the calibration site it reads. */
static const struct { const char *name; enum qvk_site_kind kind; } qvk_cal_mats[] = {
	{ "attn_q", QVK_SITE_ATTN_IN }, { "attn_k", QVK_SITE_ATTN_IN },
	{ "attn_v", QVK_SITE_ATTN_IN }, { "attn_output", QVK_SITE_ATTN_OUT },
	{ "ffn_gate", QVK_SITE_FFN_IN }, { "ffn_up", QVK_SITE_FFN_IN },
	{ "ffn_down", QVK_SITE_FFN_OUT },
};

#define QVK_CAL_TOKENS 300u
#define QVK_CAL_POS 48u
#define QVK_CAL_TOL 2e-5

static struct qvk_model *qvk_cal_model(void)
{
	char path[512];

	return qvk_test_model_load(qvk_test_source_path(
		"tests/data/stories260K.bin", path, sizeof(path)));
}

/* Worst |a - b| over max |b| of @n values. */
static double qvk_cal_rel_d(const double *a, const double *b, size_t n)
{
	double d = 0, m = 0;

	for (size_t i = 0; i < n; i++) {
		ck_assert(isfinite(a[i]));
		d = fmax(d, fabs(a[i] - b[i]));
		m = fmax(m, fabs(b[i]));
	}
	return m > 0 ? d / m : d;
}

static double qvk_cal_rel_f(const float *a, const float *b, size_t n)
{
	double d = 0, m = 0;

	for (size_t i = 0; i < n; i++) {
		ck_assert(isfinite(a[i]));
		d = fmax(d, fabs((double)a[i] - b[i]));
		m = fmax(m, fabs((double)b[i]));
	}
	return m > 0 ? d / m : d;
}

START_TEST(test_batched_matches_reference)
{
	uint64_t seed = qvk_test_seed("calibration batched");
	struct qvk_model *m = qvk_cal_model();
	uint32_t tokens[QVK_CAL_TOKENS];
	struct qvk_quantize_options o = { .format = QVK_WEIGHTS_Q8, .group = 32,
					  .calib_tokens = tokens,
					  .n_calib_tokens = QVK_CAL_TOKENS,
					  .calib_window = 64, .bos = 1 };
	struct qvk_calib *ref = NULL, *bat = NULL;
	double worst = 0;

	if (!qvk_quant_has_blas()) {
		printf("SKIP: batched calibration: GPTQ left out of this build "
		       "(QVK_BLAS=0)\n");
		qvk_model_destroy(m);
		return;
	}
	for (uint32_t i = 0; i < QVK_CAL_TOKENS; i++)
		tokens[i] = 3 + (uint32_t)(qvk_test_rand(&seed) % 509);
	ck_assert_int_eq(qvk_calib_run(qvk_test_ctx, m, &o, true, 0, &ref),
			 QVK_OK);
	ck_assert_msg(qvk_calib_batched(qvk_test_ctx, m, &o, &bat) == QVK_OK,
		      "%s", qvk_ctx_message(qvk_test_ctx));
	ck_assert_uint_eq(ref->n_sites, bat->n_sites);
	for (uint32_t i = 0; i < ref->n_sites; i++) {
		const struct qvk_calib_site *r = &ref->sites[i], *b = &bat->sites[i];
		double e[4];
		float *ru, *bu;
		size_t nu = 0;

		ck_assert_uint_eq(b->k, r->k);
		ck_assert_uint_eq(b->tokens, r->tokens);
		ck_assert_uint_eq(r->tokens, QVK_CAL_TOKENS + 5); /* + 5 BOS */
		ru = malloc((size_t)r->k * r->k * 4);
		bu = malloc((size_t)r->k * r->k * 4);
		ck_assert(ru && bu);
		for (uint32_t a = 0; a < r->k; a++) /* upper triangles */
			for (uint32_t c = a; c < r->k; c++, nu++) {
				ru[nu] = r->xtx[(size_t)a * r->k + c];
				bu[nu] = b->xtx[(size_t)a * r->k + c];
			}
		e[0] = qvk_cal_rel_d(b->sum_abs, r->sum_abs, r->k);
		e[1] = qvk_cal_rel_d(b->sum_sq, r->sum_sq, r->k);
		e[2] = qvk_cal_rel_f(b->absmax, r->absmax, r->k);
		e[3] = qvk_cal_rel_f(bu, ru, nu);
		for (int j = 0; j < 4; j++) {
			ck_assert_msg(e[j] <= QVK_CAL_TOL, "site %u (k %u): "
				      "statistic %d off by %.3g of its largest "
				      "value", i, r->k, j, e[j]);
			worst = fmax(worst, e[j]);
		}
		free(ru);
		free(bu);
	}
	printf("calibration: batched pass = scalar reference over %u sites, "
	       "%u positions: worst relative difference %.2e (limit %.0e)\n",
	       ref->n_sites, QVK_CAL_TOKENS + 5, worst, QVK_CAL_TOL);
	qvk_calib_destroy(ref);
	qvk_calib_destroy(bat);
	qvk_model_destroy(m);
}
END_TEST

/* KL of @q's reference logits on @prompt to @want (float model's). */
static double qvk_cal_kl(const struct qvk_model *q, const uint32_t *prompt,
			 const float *want)
{
	uint32_t vocab = q->params.vocab_size;
	float *l = malloc((size_t)QVK_CAL_POS * vocab * 4);
	struct qvk_logit_stats ls;
	double kl;

	ck_assert_ptr_nonnull(l);
	qvk_arch_ref_logits(q, false, prompt, QVK_CAL_POS, l);
	ck_assert_int_eq(qvk_logit_stats_compute(qvk_test_ctx, "calib logits",
						 want, l, QVK_CAL_POS, vocab, &ls),
			 QVK_OK);
	kl = ls.kl_mean;
	free(l);
	return kl;
}

START_TEST(test_sequential_gptq)
{
	uint64_t seed = qvk_test_seed("calibration sequential");
	struct qvk_model *m = qvk_cal_model();
	uint32_t vocab = m->params.vocab_size, prompt[QVK_CAL_POS];
	uint32_t *tokens = malloc(2048 * sizeof(*tokens));
	struct qvk_quantize_options o = { .format = QVK_WEIGHTS_Q4, .group = 32,
					  .calib_tokens = tokens,
					  .n_calib_tokens = 2048,
					  .calib_window = 128, .bos = 1 };
	float *want = malloc((size_t)QVK_CAL_POS * vocab * 4);
	struct qvk_quantized *q[3];
	double kl[3];
	bool differ = false;

	ck_assert(tokens && want);
	if (!qvk_quant_has_blas()) {
		printf("SKIP: sequential GPTQ: left out of this build "
		       "(QVK_BLAS=0)\n");
		goto out;
	}
	/*
	 * Text-like tokens: a random walk over a small band of ids, so the
	 * calibration and the test prompt share their statistics.
	 */
	for (uint32_t i = 0, t = 300; i < 2048; i++) {
		t = 259 + (t - 259 + (uint32_t)(qvk_test_rand(&seed) % 31)) % 253;
		tokens[i] = t;
	}
	prompt[0] = 1;
	for (uint32_t p = 1; p < QVK_CAL_POS; p++)
		prompt[p] = tokens[(p * 37) % 2048];
	qvk_arch_ref_logits(m, false, prompt, QVK_CAL_POS, want);
	for (int i = 0; i < 3; i++) {
		o.method = i == 0 ? QVK_METHOD_RTN : QVK_METHOD_GPTQ;
		o.float_calib = i == 2;
		ck_assert_int_eq(qvk_quantize_model(qvk_test_ctx, m, &o, &q[i]),
				 QVK_OK);
		kl[i] = qvk_cal_kl(qvk_quantized_model(q[i]), prompt, want);
	}
	for (uint32_t t = 0; t < qvk_model_tensor_count(qvk_quantized_model(q[1]));
	     t++) {
		const struct qvk_host_tensor *a =
			qvk_model_tensor_at(qvk_quantized_model(q[1]), t);
		const struct qvk_host_tensor *b =
			qvk_model_tensor_at(qvk_quantized_model(q[2]), t);

		ck_assert_uint_eq(a->size_bytes, b->size_bytes);
		differ |= memcmp(a->data, b->data, a->size_bytes) != 0;
	}
	printf("calibration: q4 g32 KL to float: rtn %.5f, gptq sequential "
	       "%.5f, gptq on float statistics %.5f; the two GPTQ files %s\n",
	       kl[0], kl[1], kl[2], differ ? "differ" : "are equal");
	ck_assert(differ);
	ck_assert(kl[1] < kl[0]);
	ck_assert(kl[2] < kl[0]);
	for (int i = 0; i < 3; i++)
		qvk_quantized_destroy(q[i]);
out:
	free(tokens);
	free(want);
	qvk_model_destroy(m);
}
END_TEST

/* Append @n bytes to the growing buffer @buf of *@len bytes. */
static uint8_t *qvk_put(uint8_t *buf, size_t *len, const void *p, size_t n)
{
	buf = realloc(buf, *len + n);
	ck_assert_ptr_nonnull(buf);
	memcpy(buf + *len, p, n);
	*len += n;
	return buf;
}

/* A legacy imatrix of @c's mean squares (ncall 1) for every matrix. */
static uint8_t *qvk_cal_dat(const struct qvk_model *m,
			    const struct qvk_calib *c, size_t *len)
{
	int32_t n = (int32_t)(7 * m->params.n_layers + 1), one = 1;
	uint8_t *buf = NULL;

	*len = 0;
	buf = qvk_put(buf, len, &n, 4);
	for (int32_t e = 0; e < n; e++) {
		uint32_t l = (uint32_t)e / 7;
		const struct qvk_calib_site *cs = e == n - 1 ?
			&c->sites[qvk_site_index(m->params.n_layers, 0)] :
			&c->sites[qvk_site_index(l, qvk_cal_mats[e % 7].kind)];
		char name[64];
		int32_t len_name, k = (int32_t)cs->k;
		float *imp = malloc(cs->k * sizeof(*imp));

		ck_assert_ptr_nonnull(imp);
		if (e == n - 1)
			snprintf(name, sizeof(name), "output.weight");
		else
			snprintf(name, sizeof(name), "blk.%u.%s.weight", l,
				 qvk_cal_mats[e % 7].name);
		len_name = (int32_t)strlen(name);
		qvk_calib_site_importance(cs, imp);
		buf = qvk_put(buf, len, &len_name, 4);
		buf = qvk_put(buf, len, name, (size_t)len_name);
		buf = qvk_put(buf, len, &one, 4);
		buf = qvk_put(buf, len, &k, 4);
		buf = qvk_put(buf, len, imp, cs->k * sizeof(*imp));
		free(imp);
	}
	return buf;
}

START_TEST(test_imatrix)
{
	uint64_t seed = qvk_test_seed("calibration imatrix");
	struct qvk_model *m = qvk_cal_model();
	uint32_t tokens[QVK_CAL_TOKENS];
	struct qvk_quantize_options o = { .format = QVK_WEIGHTS_Q4, .group = 32,
					  .method = QVK_METHOD_MSE,
					  .calib_tokens = tokens,
					  .n_calib_tokens = QVK_CAL_TOKENS,
					  .calib_window = 64, .bos = 1,
					  .float_calib = true };
	struct qvk_calib *c = NULL;
	struct qvk_imatrix *im = NULL;
	struct qvk_quantized *qa, *qb;
	struct qvk_gguf_writer *w;
	char dir[512], path[600];
	uint8_t *dat;
	size_t len;
	uint32_t k, equal = 0, n_t;
	const float *v;

	if (!qvk_quant_has_blas()) {
		printf("SKIP: imatrix: the batched statistics use GPTQ's run, "
		       "left out of this build (QVK_BLAS=0)\n");
		qvk_model_destroy(m);
		return;
	}
	for (uint32_t i = 0; i < QVK_CAL_TOKENS; i++)
		tokens[i] = 3 + (uint32_t)(qvk_test_rand(&seed) % 509);
	ck_assert_int_eq(qvk_calib_batched(qvk_test_ctx, m, &o, &c), QVK_OK);
	qvk_test_tmpdir("imatrix", dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/im.dat", dir);
	dat = qvk_cal_dat(m, c, &len);
	qvk_test_write_file(path, dat, len);
	ck_assert_msg(qvk_imatrix_load(qvk_test_ctx, path, &im) == QVK_OK, "%s",
		      qvk_ctx_message(qvk_test_ctx));
	ck_assert_uint_eq(qvk_imatrix_count(im), 7 * m->params.n_layers + 1);

	/* the same importances by text and by file: the same bytes */
	ck_assert_int_eq(qvk_quantize_model(qvk_test_ctx, m, &o, &qa), QVK_OK);
	o.calib_tokens = NULL;
	o.n_calib_tokens = 0;
	o.imatrix = im;
	ck_assert_int_eq(qvk_quantize_model(qvk_test_ctx, m, &o, &qb), QVK_OK);
	n_t = qvk_model_tensor_count(qvk_quantized_model(qa));
	for (uint32_t t = 0; t < n_t; t++) {
		const struct qvk_host_tensor *a =
			qvk_model_tensor_at(qvk_quantized_model(qa), t);
		const struct qvk_host_tensor *b =
			qvk_model_tensor_at(qvk_quantized_model(qb), t);

		ck_assert_uint_eq(a->size_bytes, b->size_bytes);
		ck_assert_msg(!memcmp(a->data, b->data, a->size_bytes), "%s: "
			      "the imatrix gives other codes than the text",
			      a->name);
		equal++;
	}
	printf("imatrix: .dat of %u entries, q4 g32 mse: %u of %u tensors "
	       "byte-equal to calibrating on the text\n", qvk_imatrix_count(im),
	       equal, n_t);
	qvk_quantized_destroy(qa);
	qvk_quantized_destroy(qb);
	qvk_imatrix_destroy(im);

	/* the GGUF form: sums of squares and counts */
	ck_assert_int_eq(qvk_gguf_writer_create(qvk_test_ctx, &w), QVK_OK);
	ck_assert_int_eq(qvk_gguf_writer_set_str(w, "general.type", "imatrix"),
			 QVK_OK);
	{
		const struct qvk_calib_site *cs = &c->sites[0];
		float *sum = malloc(cs->k * 4), count = (float)cs->tokens;
		struct qvk_host_tensor ts = { .name = "blk.0.attn_q.weight.in_sum2",
					      .type = QVK_GGML_TYPE_F32,
					      .n_dims = 2,
					      .ne = { cs->k, 1, 1, 1 },
					      .size_bytes = cs->k * 4 };
		struct qvk_host_tensor tc = { .name = "blk.0.attn_q.weight.counts",
					      .type = QVK_GGML_TYPE_F32,
					      .n_dims = 2, .ne = { 1, 1, 1, 1 },
					      .data = &count, .size_bytes = 4 };

		ck_assert_ptr_nonnull(sum);
		for (uint32_t j = 0; j < cs->k; j++)
			sum[j] = (float)cs->sum_sq[j];
		ts.data = sum;
		ck_assert_int_eq(qvk_gguf_writer_add_tensor(w, &ts), QVK_OK);
		ck_assert_int_eq(qvk_gguf_writer_add_tensor(w, &tc), QVK_OK);
		snprintf(path, sizeof(path), "%s/im.gguf", dir);
		ck_assert_int_eq(qvk_gguf_writer_write(w, path), QVK_OK);
		qvk_gguf_writer_destroy(w);
		ck_assert_int_eq(qvk_imatrix_load(qvk_test_ctx, path, &im), QVK_OK);
		v = qvk_imatrix_find(im, "blk.0.attn_q.weight", &k);
		ck_assert_ptr_nonnull(v);
		ck_assert_uint_eq(k, cs->k);
		for (uint32_t j = 0; j < k; j++) {
			double want = cs->sum_sq[j] / (double)cs->tokens;

			ck_assert_msg(fabs(v[j] - want) <= 1e-6 * want + 1e-30,
				      "GGUF imatrix value %u: %g, want %g", j,
				      (double)v[j], want);
		}
		qvk_imatrix_destroy(im);
		free(sum);
	}

	/* hostile: cut short, and an entry of the wrong width */
	snprintf(path, sizeof(path), "%s/short.dat", dir);
	qvk_test_write_file(path, dat, len - 7);
	ck_assert_int_eq(qvk_imatrix_load(qvk_test_ctx, path, &im),
			 QVK_ERR_FORMAT);
	printf("imatrix cut short: %s\n", qvk_ctx_message(qvk_test_ctx));
	ck_assert_ptr_nonnull(strstr(qvk_ctx_message(qvk_test_ctx), path));
	snprintf(path, sizeof(path), "%s/wide.dat", dir);
	{
		int32_t hdr[1] = { 1 }, nl = 19, one = 1, kk = 65;
		uint8_t *b = NULL;
		float vals[65];
		size_t bl = 0;

		for (int j = 0; j < 65; j++)
			vals[j] = 1.0f;
		b = qvk_put(b, &bl, hdr, 4);
		b = qvk_put(b, &bl, &nl, 4);
		b = qvk_put(b, &bl, "blk.0.attn_q.weight", 19);
		b = qvk_put(b, &bl, &one, 4);
		b = qvk_put(b, &bl, &kk, 4);
		b = qvk_put(b, &bl, vals, sizeof(vals));
		qvk_test_write_file(path, b, bl);
		free(b);
	}
	ck_assert_int_eq(qvk_imatrix_load(qvk_test_ctx, path, &im), QVK_OK);
	o.imatrix = im;
	ck_assert_int_eq(qvk_quantize_model(qvk_test_ctx, m, &o, &qa),
			 QVK_ERR_INVALID_ARG);
	printf("imatrix of the wrong width: %s\n", qvk_ctx_message(qvk_test_ctx));
	ck_assert_ptr_nonnull(strstr(qvk_ctx_message(qvk_test_ctx),
				     "blk.0.attn_q.weight"));
	qvk_imatrix_destroy(im);
	free(dat);
	qvk_test_rmtree(dir);
	qvk_calib_destroy(c);
	qvk_model_destroy(m);
}
END_TEST

Suite *suite_quantize_calib(void);
Suite *suite_quantize_calib(void)
{
	Suite *s = suite_create("quantize_calib");
	TCase *tc = tcase_create("stories260K");

	tcase_add_checked_fixture(tc, qvk_test_ctx_setup, qvk_test_ctx_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_batched_matches_reference);
	tcase_add_test(tc, test_sequential_gptq);
	tcase_add_test(tc, test_imatrix);
	suite_add_tcase(s, tc);
	return s;
}
