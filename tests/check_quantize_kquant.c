/* SPDX-License-Identifier: MIT */
/*
 * K-quant output of qvk quantize (issue #14 item 4) and the streaming
 * writer (item 1):
 *   - blocks: random rows fitted to Q4_K/Q5_K/Q6_K (range and error
 *     search, with and without an importance) decode, through the same
 *     readers that load files, within each type's error bound; the search
 *     never does worse than the range on the weighted error; bad inputs
 *     are refused naming what is wrong;
 *   - a tied classifier (stories260K) stays one tensor in the _m mixes,
 *     typed as the classifier, as llama.cpp keeps it;
 *   - files: a synthetic llama (the "mistral" preset: dim 256, 3 layers,
 *     GQA, untied) quantized to q4_k_m streams to a file equal byte for
 *     byte to the in-memory path's; a run that fails half-way leaves
 *     neither OUT nor a temporary; GPTQ and the MSE search beat RTN on
 *     the KL to the float model (scalar reference logits);
 *   - llama.cpp (tools/oracle, skipped with the reason when unavailable,
 *     a failure under QVK_TEST_STRICT=1): its quantizer given the same
 *     F32 file picks the same type for every tensor as qvk's mix; ggml's
 *     dequantization of every tensor qvk wrote equals qvk's bit for bit;
 *     llama.cpp runs the file, and its KL to the F32 file's logits is
 *     within a stated ratio of its own Q4_K_M file's.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

#include <qvk/kquant.h>
#include <qvk/quantize.h>

#include "check_arch.h"
#include "harness.h"
#include "oracle_harness.h"

#define QVK_KQ_POS 128u
/*
 * Positions of the prompt llama.cpp evaluates: the KL of a 32-token
 * prompt varies with the prompt by more than the quantizers differ
 * (ratio 0.81..1.15 over four seeds), 256 tokens average that out.
 */
#define QVK_KQ_LLAMA_POS 256u

/* ------------------------------------------------------------- blocks */

/* Weighted SSE of @n decoded values against @x, weights @w or 1. */
static double qvk_wsse(const float *x, const float *y, const float *w,
		       size_t n)
{
	double s = 0;

	for (size_t i = 0; i < n; i++) {
		double d = (double)x[i] - y[i];

		s += (w ? w[i % 512] : 1.0) * d * d;
	}
	return s;
}

/* @x (n, k) through @type, decoded by the host tensor reader into @y. */
static void qvk_kq_roundtrip(uint32_t type, const float *x, uint32_t n,
			     uint32_t k, const float *imp, int search, float *y)
{
	struct qvk_host_tensor t = { .name = "w", .type = type, .n_dims = 2,
				     .ne = { k, n, 1, 1 } };
	void *blocks;

	ck_assert(qvk_ggml_tensor_size(t.type, 2, t.ne, &t.size_bytes));
	blocks = malloc(t.size_bytes);
	ck_assert_ptr_nonnull(blocks);
	memset(blocks, 0xA5, t.size_bytes); /* poison */
	ck_assert_msg(qvk_kq_quantize(qvk_test_ctx, "w", type, x, n, k, imp,
				      search, blocks, t.size_bytes) == QVK_OK,
		      "%s", qvk_ctx_message(qvk_test_ctx));
	t.data = blocks;
	for (uint32_t r = 0; r < n; r++) {
		ck_assert_int_eq(qvk_host_tensor_row(&t, r, y + (size_t)r * k),
				 QVK_OK);
		for (uint32_t j = 0; j < k; j++)
			ck_assert(isfinite(y[(size_t)r * k + j]));
	}
	free(blocks);
}

START_TEST(test_kq_blocks)
{
	/*
	 * Relative RMS error bounds on Gaussian rows with a few outliers:
	 * the step of b bits over a sub-block's range is about 6σ / 2^b, an
	 * RMS of step / √12; measured 0.090..0.101, 0.044..0.049,
	 * 0.023..0.027 (range) over seeds here.
	 */
	static const struct { uint32_t type; double bound; } types[] = {
		{ QVK_GGML_TYPE_Q4_K, 0.13 },
		{ QVK_GGML_TYPE_Q5_K, 0.065 },
		{ QVK_GGML_TYPE_Q6_K, 0.034 },
	};
	uint64_t seed = qvk_test_seed("kquant blocks");
	const uint32_t n = 8, k = 512;
	float *x = malloc((size_t)n * k * 4), *y = malloc((size_t)n * k * 4);
	float imp[512];
	double xs = 0;

	ck_assert(x && y);
	for (size_t i = 0; i < (size_t)n * k; i++) {
		x[i] = qvk_test_normal(&seed) * 0.02f;
		if (qvk_test_rand(&seed) % 97 == 0)
			x[i] *= 8; /* outliers, as trained weights have */
		xs += (double)x[i] * x[i];
	}
	for (uint32_t j = 0; j < k; j++) /* a few columns matter far more */
		imp[j] = j % 37 == 0 ? 50.0f : qvk_test_uniform(&seed, 0.5f, 1.5f);
	for (size_t ti = 0; ti < QVK_ARRAY_SIZE(types); ti++) {
		double e_range, e_search, w_plain, w_imp;

		qvk_kq_roundtrip(types[ti].type, x, n, k, NULL, 0, y);
		e_range = qvk_wsse(x, y, NULL, (size_t)n * k);
		qvk_kq_roundtrip(types[ti].type, x, n, k, NULL, 1, y);
		e_search = qvk_wsse(x, y, NULL, (size_t)n * k);
		w_plain = qvk_wsse(x, y, imp, (size_t)n * k);
		qvk_kq_roundtrip(types[ti].type, x, n, k, imp, 1, y);
		w_imp = qvk_wsse(x, y, imp, (size_t)n * k);
		printf("kquant %s: relative RMS error range %.4f, search %.4f "
		       "(bound %.3f); importance-weighted SSE %.4g plain, %.4g "
		       "with the importance\n",
		       qvk_ggml_type_name(types[ti].type), sqrt(e_range / xs),
		       sqrt(e_search / xs), types[ti].bound, w_plain, w_imp);
		ck_assert(sqrt(e_range / xs) < types[ti].bound);
		ck_assert(e_search <= e_range * 1.0001);
		ck_assert(w_imp <= w_plain * 1.0001);
	}
	free(x);
	free(y);
}
END_TEST

START_TEST(test_kq_bad_inputs)
{
	float x[512] = { 0 };
	uint8_t blocks[2 * 210];

	ck_assert_int_eq(qvk_kq_quantize(qvk_test_ctx, "w", QVK_GGML_TYPE_Q6_K,
					 x, 1, 320, NULL, 0, blocks,
					 sizeof(blocks)), QVK_ERR_INVALID_ARG);
	printf("kquant K 320: %s\n", qvk_ctx_message(qvk_test_ctx));
	ck_assert_int_eq(qvk_kq_quantize(qvk_test_ctx, "w", QVK_GGML_TYPE_Q6_K,
					 x, 1, 512, NULL, 0, blocks, 210),
			 QVK_ERR_INVALID_ARG);
	ck_assert_int_eq(qvk_kq_quantize(qvk_test_ctx, "w", QVK_GGML_TYPE_Q3_K,
					 x, 1, 512, NULL, 0, blocks,
					 sizeof(blocks)), QVK_ERR_UNSUPPORTED);
	printf("kquant Q3_K: %s\n", qvk_ctx_message(qvk_test_ctx));
	x[300] = NAN;
	ck_assert_int_eq(qvk_kq_quantize(qvk_test_ctx, "w", QVK_GGML_TYPE_Q6_K,
					 x, 1, 512, NULL, 0, blocks,
					 sizeof(blocks)), QVK_ERR_NUMERIC);
	printf("kquant NaN: %s\n", qvk_ctx_message(qvk_test_ctx));
	ck_assert_ptr_nonnull(strstr(qvk_ctx_message(qvk_test_ctx), "300"));
}
END_TEST

/* -------------------------------------------------------------- files */

struct qvk_kq_fixture {
	char dir[512], f32[600];
	struct qvk_model *m;
	struct qvk_tokenizer *tok;
	uint32_t prompt[QVK_KQ_LLAMA_POS]; /* the first QVK_KQ_POS have ref */
	uint32_t calib[1024];
	float *ref; /* (QVK_KQ_POS, vocab) reference logits of the F32 model */
};

/*
 * The F32 "mistral" preset in a fresh folder, with its reference logits
 * when @ref; false after a SKIP line.
 */
static bool qvk_kq_fixture_make(struct qvk_kq_fixture *f, const char *name,
				bool ref)
{
	uint64_t seed = qvk_test_seed(name);
	uint32_t vocab;
	qvk_status st;

	memset(f, 0, sizeof(*f));
	qvk_test_tmpdir(name, f->dir, sizeof(f->dir));
	snprintf(f->f32, sizeof(f->f32), "%s/f32.gguf", f->dir);
	if (!qvk_arch_synth(qvk_synth_preset("mistral"), QVK_GGML_TYPE_F32,
			    f->f32)) {
		qvk_test_rmtree(f->dir);
		return false;
	}
	f->m = qvk_test_model_load(f->f32);
	st = qvk_tokenizer_from_gguf(qvk_test_ctx, f->m->gguf, &f->tok);
	ck_assert_msg(st == QVK_OK, "%s", qvk_ctx_message(qvk_test_ctx));
	vocab = f->m->params.vocab_size;
	f->prompt[0] = qvk_tokenizer_bos(f->tok);
	for (uint32_t p = 1; p < QVK_KQ_LLAMA_POS; p++)
		f->prompt[p] = 3 + (uint32_t)(qvk_test_rand(&seed) % (vocab - 3));
	for (uint32_t i = 0; i < QVK_ARRAY_SIZE(f->calib); i++)
		f->calib[i] = 3 + (uint32_t)(qvk_test_rand(&seed) % (vocab - 3));
	if (!ref)
		return true;
	f->ref = malloc((size_t)QVK_KQ_POS * vocab * 4);
	ck_assert_ptr_nonnull(f->ref);
	qvk_arch_ref_logits(f->m, false, f->prompt, QVK_KQ_POS, f->ref);
	return true;
}

static void qvk_kq_fixture_free(struct qvk_kq_fixture *f)
{
	free(f->ref);
	qvk_tokenizer_destroy(f->tok);
	qvk_model_destroy(f->m);
	qvk_test_rmtree(f->dir);
}

/* Mean KL(softmax(@p) || softmax(@q)) over @n positions of @vocab. */
static double qvk_kl_mean(const float *p, const float *q, uint32_t n,
			  uint32_t vocab)
{
	struct qvk_logit_stats ls;

	ck_assert_int_eq(qvk_logit_stats_compute(qvk_test_ctx, "kquant logits",
						 p, q, n, vocab, &ls), QVK_OK);
	return ls.kl_mean;
}

static struct qvk_quantize_options qvk_kq_opt(const struct qvk_kq_fixture *f,
					      enum qvk_kquant_mix mix,
					      enum qvk_quant_method method)
{
	struct qvk_quantize_options o = { .kmix = mix, .method = method,
					  .format = QVK_WEIGHTS_Q8, .group = 32 };

	if (method != QVK_METHOD_RTN) {
		o.calib_tokens = f->calib;
		o.n_calib_tokens = QVK_ARRAY_SIZE(f->calib);
		o.calib_window = 128;
		o.bos = qvk_tokenizer_bos(f->tok);
	}
	return o;
}

/* KL of @path's reference logits to the F32 model's. */
static double qvk_kq_file_kl(const struct qvk_kq_fixture *f, const char *path)
{
	struct qvk_model *q = qvk_test_model_load(path);
	uint32_t vocab = f->m->params.vocab_size;
	float *l = malloc((size_t)QVK_KQ_POS * vocab * 4);
	double kl;

	ck_assert_ptr_nonnull(l);
	qvk_arch_ref_logits(q, false, f->prompt, QVK_KQ_POS, l);
	kl = qvk_kl_mean(f->ref, l, QVK_KQ_POS, vocab);
	free(l);
	qvk_model_destroy(q);
	return kl;
}

static uint32_t qvk_dir_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	uint32_t n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.' || strlen(e->d_name) > 2;
	closedir(d);
	return n;
}

/*
 * A classifier tied to the embedding (stories260K's) stays one tensor in
 * the _m mixes, typed as llama.cpp types it, as the classifier: Q6_K, which
 * stories260K's 64-wide rows turn into Q8_0; the uniform mixes untie it.
 */
START_TEST(test_kq_tied)
{
	static const enum qvk_kquant_mix mixes[] = {
		QVK_KMIX_Q4_K_M, QVK_KMIX_Q5_K_M, QVK_KMIX_Q4_K,
	};
	struct qvk_model *m = NULL;
	char path[512];

	ck_assert_int_eq(qvk_model_load(qvk_test_ctx,
		qvk_test_source_path("tests/data/stories260K.bin", path,
				     sizeof(path)), &m), QVK_OK);
	ck_assert(m->params.shared_classifier);
	for (size_t i = 0; i < QVK_ARRAY_SIZE(mixes); i++) {
		struct qvk_quantize_options o = { .kmix = mixes[i],
			.method = QVK_METHOD_RTN, .format = QVK_WEIGHTS_Q8,
			.group = 32 };
		bool tied = mixes[i] != QVK_KMIX_Q4_K;
		struct qvk_quantized *q;
		const struct qvk_model *out;

		ck_assert_msg(qvk_quantize_model(qvk_test_ctx, m, &o, &q) ==
			      QVK_OK, "%s", qvk_ctx_message(qvk_test_ctx));
		out = qvk_quantized_model(q);
		printf("k-quant tied classifier: mix %zu: %s, token_embd %s\n", i,
		       out->params.shared_classifier ? "tied" : "untied",
		       qvk_ggml_type_name(out->tok_embd.type));
		ck_assert_int_eq(out->params.shared_classifier, tied);
		ck_assert_uint_eq(qvk_model_tensor_count(out),
				  qvk_model_tensor_count(m) + !tied);
		ck_assert_uint_eq(out->tok_embd.type, tied ? QVK_GGML_TYPE_Q8_0 :
							     QVK_GGML_TYPE_Q4_1);
		qvk_quantized_destroy(q);
	}
	qvk_model_destroy(m);
}
END_TEST

START_TEST(test_kq_stream_file)
{
	struct qvk_kq_fixture f;
	static const enum qvk_quant_method methods[] = {
		QVK_METHOD_RTN, QVK_METHOD_MSE, QVK_METHOD_AWQ, QVK_METHOD_GPTQ,
	};
	double kl[QVK_ARRAY_SIZE(methods)];
	struct qvk_quantize_options o;
	struct qvk_quantize_report r;
	struct qvk_quantized *q;
	char a[700], b[700];
	void *da, *db;
	size_t la, lb;

	if (!qvk_kq_fixture_make(&f, "kq-stream", true))
		return;
	snprintf(a, sizeof(a), "%s/stream.gguf", f.dir);
	snprintf(b, sizeof(b), "%s/memory.gguf", f.dir);
	for (size_t i = 0; i < QVK_ARRAY_SIZE(methods); i++) {
		if (!qvk_quant_has_blas() && (methods[i] == QVK_METHOD_AWQ ||
					      methods[i] == QVK_METHOD_GPTQ)) {
			printf("SKIP: q4_k_m %s: left out of this build "
			       "(QVK_BLAS=0)\n", qvk_quant_method_name(methods[i]));
			kl[i] = NAN;
			continue;
		}
		o = qvk_kq_opt(&f, QVK_KMIX_Q4_K_M, methods[i]);
		ck_assert_msg(qvk_quantize_to_file(qvk_test_ctx, f.m, &o, f.tok, a,
						   &r) == QVK_OK,
			      "%s", qvk_ctx_message(qvk_test_ctx));
		ck_assert_int_eq(qvk_quantize_model(qvk_test_ctx, f.m, &o, &q),
				 QVK_OK);
		ck_assert_int_eq(qvk_quantized_write(qvk_test_ctx, q, f.tok, b),
				 QVK_OK);
		qvk_quantized_destroy(q);
		da = qvk_test_read_file(a, &la);
		db = qvk_test_read_file(b, &lb);
		ck_assert_msg(la == lb && !memcmp(da, db, la), "q4_k_m %s: the "
			      "streamed file differs from the in-memory one",
			      qvk_quant_method_name(methods[i]));
		ck_assert_uint_eq(r.file_bytes, la);
		free(da);
		free(db);
		kl[i] = qvk_kq_file_kl(&f, a);
		printf("q4_k_m %-5s: %zu bytes, streamed = in memory; KL to F32 "
		       "%.5f; peak host %.1f MiB, largest fp32 tensor %.2f MiB\n",
		       qvk_quant_method_name(methods[i]), la, kl[i],
		       (double)r.peak_host_bytes / (1 << 20),
		       (double)r.largest_f32_bytes / (1 << 20));
		/* measured 0.23..0.44 over four seeds at 128 positions (RTN highest) */
		ck_assert(kl[i] > 0 && kl[i] < 0.8);
	}
	/* the search and GPTQ improve on round-to-nearest (AWQ: printed) */
	ck_assert(kl[1] < kl[0]);
	if (!isnan(kl[3]))
		ck_assert(kl[3] < kl[0]);

	/* a run that fails after the header leaves nothing behind */
	unlink(a);
	unlink(b);
	o = qvk_kq_opt(&f, QVK_KMIX_Q4_K_M, QVK_METHOD_MSE);
	f.calib[700] = f.m->params.vocab_size + 5;
	ck_assert_int_eq(qvk_quantize_to_file(qvk_test_ctx, f.m, &o, f.tok, a,
					      NULL), QVK_ERR_INVALID_ARG);
	printf("q4_k_m failing run: %s; folder holds %u entries besides "
	       "f32.gguf\n", qvk_ctx_message(qvk_test_ctx),
	       qvk_dir_entries(f.dir) - 1);
	ck_assert_int_ne(access(a, F_OK), 0);
	ck_assert_uint_eq(qvk_dir_entries(f.dir), 1);
	qvk_kq_fixture_free(&f);
}
END_TEST

/* ---------------------------------------------------------- llama.cpp */

/* llama.cpp's logits of the fixture's long prompt on @path into @out. */
static void qvk_kq_llama_logits(const char *bin, const struct qvk_kq_fixture *f,
				const char *path, float *out)
{
	uint32_t vocab = f->m->params.vocab_size;
	char cmd[8192], lpath[700];
	size_t len;
	float *l;

	snprintf(lpath, sizeof(lpath), "%s/logits.f32", f->dir);
	snprintf(cmd, sizeof(cmd), "'%s' logits '%s' '%s'", bin, path, lpath);
	qvk_test_ids_append(cmd, sizeof(cmd), f->prompt, QVK_KQ_LLAMA_POS);
	qvk_test_oracle_run(cmd, NULL, 0);
	l = qvk_test_read_file(lpath, &len);
	ck_assert_uint_eq(len, (size_t)QVK_KQ_LLAMA_POS * vocab * 4);
	memcpy(out, l, len);
	free(l);
	unlink(lpath);
}

/* Every tensor of @ours has @theirs' type, and ggml decodes it as qvk does. */
static void qvk_kq_same_as_ggml(const char *bin, const struct qvk_kq_fixture *f,
				const char *ours, const char *theirs)
{
	struct qvk_model *a = qvk_test_model_load(ours);
	struct qvk_model *b = qvk_test_model_load(theirs);
	char cmd[4096], out[700];

	ck_assert_uint_eq(qvk_model_tensor_count(a), qvk_model_tensor_count(b));
	snprintf(out, sizeof(out), "%s/t.f32", f->dir);
	for (uint32_t i = 0; i < qvk_model_tensor_count(a); i++) {
		const struct qvk_host_tensor *t = qvk_model_tensor_at(a, i);
		const struct qvk_host_tensor *u = qvk_model_tensor_at(b, i);
		uint64_t rows = qvk_host_tensor_rows(t), k = t->ne[0];
		float *row = malloc(k * 4), *g;
		size_t len;

		ck_assert_str_eq(t->name, u->name);
		ck_assert_msg(t->type == u->type, "%s: qvk's mix gives %s, "
			      "llama.cpp's %s", t->name,
			      qvk_ggml_type_name(t->type),
			      qvk_ggml_type_name(u->type));
		snprintf(cmd, sizeof(cmd), "'%s' dequant '%s' '%s' '%s'", bin,
			 ours, t->name, out);
		qvk_test_oracle_run(cmd, NULL, 0);
		g = qvk_test_read_file(out, &len);
		ck_assert_uint_eq(len, rows * k * 4);
		for (uint64_t r = 0; r < rows; r++) {
			ck_assert_int_eq(qvk_host_tensor_row(t, r, row), QVK_OK);
			ck_assert_msg(!memcmp(row, g + r * k, k * 4), "%s (%s) "
				      "row %llu: ggml decodes qvk's blocks "
				      "differently", t->name,
				      qvk_ggml_type_name(t->type),
				      (unsigned long long)r);
		}
		free(g);
		free(row);
	}
	unlink(out);
	qvk_model_destroy(a);
	qvk_model_destroy(b);
}

/*
 * llama.cpp's KL to its F32 logits: qvk's file at most this many times
 * its own Q4_K_M file's. Measured here over 20 seeds (256 positions):
 * RTN from each sub-block's range 1.10..1.42, the MSE search 0.88..1.09
 * (mean 0.99, sd 0.05: the random calibration tokens move it; llama.cpp's
 * own quantizer searches too). 1.20 is four sd above that mean, and
 * below RTN's mean (1.26).
 */
#define QVK_KQ_MSE_RATIO 1.20

START_TEST(test_kq_llama_cpp)
{
	struct qvk_kq_fixture f;
	char bin[1024], ours[700], theirs[700], cmd[4096];
	uint32_t vocab;
	float *l32, *l;
	double kl_theirs, kl_rtn, kl_mse;
	struct qvk_quantize_options o;

	if (!qvk_test_oracle(bin, sizeof(bin)))
		return;
	if (!qvk_kq_fixture_make(&f, "kq-llama", false))
		return;
	vocab = f.m->params.vocab_size;
	l32 = malloc((size_t)QVK_KQ_LLAMA_POS * vocab * 4);
	l = malloc((size_t)QVK_KQ_LLAMA_POS * vocab * 4);
	ck_assert(l32 && l);
	snprintf(ours, sizeof(ours), "%s/qvk.gguf", f.dir);
	snprintf(theirs, sizeof(theirs), "%s/llama.gguf", f.dir);
	snprintf(cmd, sizeof(cmd), "'%s' quantize '%s' '%s' Q4_K_M", bin, f.f32,
		 theirs);
	qvk_test_oracle_run(cmd, NULL, 0);
	qvk_kq_llama_logits(bin, &f, f.f32, l32);
	qvk_kq_llama_logits(bin, &f, theirs, l);
	kl_theirs = qvk_kl_mean(l32, l, QVK_KQ_LLAMA_POS, vocab);

	o = qvk_kq_opt(&f, QVK_KMIX_Q4_K_M, QVK_METHOD_RTN);
	ck_assert_int_eq(qvk_quantize_to_file(qvk_test_ctx, f.m, &o, f.tok,
					      ours, NULL), QVK_OK);
	qvk_kq_same_as_ggml(bin, &f, ours, theirs);
	qvk_kq_llama_logits(bin, &f, ours, l);
	kl_rtn = qvk_kl_mean(l32, l, QVK_KQ_LLAMA_POS, vocab);

	o = qvk_kq_opt(&f, QVK_KMIX_Q4_K_M, QVK_METHOD_MSE);
	ck_assert_int_eq(qvk_quantize_to_file(qvk_test_ctx, f.m, &o, f.tok,
					      ours, NULL), QVK_OK);
	qvk_kq_llama_logits(bin, &f, ours, l);
	kl_mse = qvk_kl_mean(l32, l, QVK_KQ_LLAMA_POS, vocab);
	printf("llama.cpp runs qvk's Q4_K_M (same type per tensor as its own "
	       "quantizer, every tensor decoded by ggml as by qvk): KL to its "
	       "F32 logits: llama.cpp's file %.5f, qvk rtn %.5f (x%.2f), qvk "
	       "mse %.5f (x%.2f, limit %.2f)\n", kl_theirs, kl_rtn,
	       kl_rtn / kl_theirs, kl_mse, kl_mse / kl_theirs,
	       QVK_KQ_MSE_RATIO);
	ck_assert(kl_theirs > 0 && kl_rtn > 0 && kl_mse > 0);
	ck_assert(kl_mse <= QVK_KQ_MSE_RATIO * kl_theirs);
	free(l32);
	free(l);
	qvk_kq_fixture_free(&f);
}
END_TEST

Suite *suite_quantize_kquant(void);
Suite *suite_quantize_kquant(void)
{
	Suite *s = suite_create("quantize_kquant");
	TCase *tb = tcase_create("blocks");
	TCase *tf = tcase_create("files");
	TCase *tl = tcase_create("llama.cpp");

	tcase_add_checked_fixture(tb, qvk_test_ctx_setup, qvk_test_ctx_teardown);
	tcase_add_test(tb, test_kq_blocks);
	tcase_add_test(tb, test_kq_bad_inputs);
	tcase_add_test(tb, test_kq_tied);
	suite_add_tcase(s, tb);
	tcase_add_checked_fixture(tf, qvk_test_ctx_setup, qvk_test_ctx_teardown);
	tcase_set_timeout(tf, 300);
	tcase_add_test(tf, test_kq_stream_file);
	suite_add_tcase(s, tf);
	tcase_add_checked_fixture(tl, qvk_test_ctx_setup, qvk_test_ctx_teardown);
	/* the first run may install the oracle (npm, about a minute) */
	tcase_set_timeout(tl, 900);
	tcase_add_test(tl, test_kq_llama_cpp);
	suite_add_tcase(s, tl);
	return s;
}
