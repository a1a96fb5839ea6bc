/* SPDX-License-Identifier: MIT */
/*
 * The C reference forward pass on stories260K: against an independent
 * double-precision transformer written here from llama2.c's description
 * (reading the checkpoint with stdio, not through qvk's loader), greedy
 * generation that is deterministic and reads as TinyStories English, and
 * argument checks.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <qvk/metrics.h>
#include <qvk/model.h>
#include <qvk/quant.h>
#include <qvk/tokenizer.h>

#include "harness.h"

/* ------------------------------------------ independent double oracle */

struct dmodel {
	int dim, hidden, layers, heads, kv_heads, vocab, seq, hs, kv_dim;
	float *w; /* all floats after the header */
	const float *emb, *rms_att, *wq, *wk, *wv, *wo, *rms_ffn, *w1, *w2,
		*w3, *rms_final, *cls;
	double *kc, *vc; /* (layers, seq, kv_dim) */
};

static void dmodel_load(struct dmodel *m, const char *path)
{
	FILE *f = fopen(path, "rb");
	int hdr[7];
	long size;
	const float *p;

	ck_assert(f != NULL);
	ck_assert_uint_eq(fread(hdr, sizeof(int), 7, f), 7);
	fseek(f, 0, SEEK_END);
	size = ftell(f) - 28;
	fseek(f, 28, SEEK_SET);
	m->w = malloc((size_t)size);
	ck_assert_uint_eq(fread(m->w, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	m->dim = hdr[0]; m->hidden = hdr[1]; m->layers = hdr[2];
	m->heads = hdr[3]; m->kv_heads = hdr[4]; m->vocab = abs(hdr[5]);
	m->seq = hdr[6];
	m->hs = m->dim / m->heads;
	m->kv_dim = m->kv_heads * m->hs;
	p = m->w;
	m->emb = p; p += m->vocab * m->dim;
	m->rms_att = p; p += m->layers * m->dim;
	m->wq = p; p += m->layers * m->dim * m->dim;
	m->wk = p; p += m->layers * m->kv_dim * m->dim;
	m->wv = p; p += m->layers * m->kv_dim * m->dim;
	m->wo = p; p += m->layers * m->dim * m->dim;
	m->rms_ffn = p; p += m->layers * m->dim;
	m->w1 = p; p += m->layers * m->hidden * m->dim;
	m->w2 = p; p += m->layers * m->dim * m->hidden;
	m->w3 = p; p += m->layers * m->hidden * m->dim;
	m->rms_final = p; p += m->dim;
	p += m->seq * m->hs; /* freq_cis tables */
	m->cls = hdr[5] > 0 ? m->emb : p;
	m->kc = calloc((size_t)m->layers * m->seq * m->kv_dim, sizeof(double));
	m->vc = calloc((size_t)m->layers * m->seq * m->kv_dim, sizeof(double));
}

static void dmodel_free(struct dmodel *m)
{
	free(m->w);
	free(m->kc);
	free(m->vc);
}

/* y = W x with W (n, d) row-major float, everything else double */
static void dmatvec(double *y, const float *w, const double *x, int n, int d)
{
	for (int i = 0; i < n; i++) {
		double s = 0;

		for (int j = 0; j < d; j++)
			s += (double)w[(size_t)i * d + j] * x[j];
		y[i] = s;
	}
}

static void dnorm(double *y, const double *x, const float *g, int n)
{
	double ss = 0;

	for (int i = 0; i < n; i++)
		ss += x[i] * x[i];
	ss = 1.0 / sqrt(ss / n + 1e-5);
	for (int i = 0; i < n; i++)
		y[i] = g[i] * x[i] * ss;
}

/* Rotate a head as a complex number per pair: (a + ib) * e^(i pos f). */
static void drope(double *v, int hs, int pos)
{
	for (int j = 0; j < hs / 2; j++) {
		double f = pow(10000.0, -2.0 * j / hs), a = v[2 * j], b = v[2 * j + 1];
		double c = cos(pos * f), s = sin(pos * f);

		v[2 * j] = a * c - b * s;
		v[2 * j + 1] = a * s + b * c;
	}
}

static void dforward(struct dmodel *m, int token, int pos, double *logits)
{
	double x[256], h[256], q[256], o[256], g[512], u[512];
	int d = m->dim;

	for (int i = 0; i < d; i++)
		x[i] = m->emb[(size_t)token * d + i];
	for (int l = 0; l < m->layers; l++) {
		double *kc = m->kc + ((size_t)l * m->seq + pos) * m->kv_dim;
		double *vc = m->vc + ((size_t)l * m->seq + pos) * m->kv_dim;

		dnorm(h, x, m->rms_att + l * d, d);
		dmatvec(q, m->wq + (size_t)l * d * d, h, d, d);
		dmatvec(kc, m->wk + (size_t)l * m->kv_dim * d, h, m->kv_dim, d);
		dmatvec(vc, m->wv + (size_t)l * m->kv_dim * d, h, m->kv_dim, d);
		for (int hd = 0; hd < m->heads; hd++)
			drope(q + hd * m->hs, m->hs, pos);
		for (int hd = 0; hd < m->kv_heads; hd++)
			drope(kc + hd * m->hs, m->hs, pos);
		for (int hd = 0; hd < m->heads; hd++) {
			int kvh = hd * m->kv_heads / m->heads;
			double w[1024], mx = -1e300, z = 0;

			for (int t = 0; t <= pos; t++) {
				const double *k = m->kc + ((size_t)l * m->seq + t) *
						  m->kv_dim + kvh * m->hs;
				double s = 0;

				for (int i = 0; i < m->hs; i++)
					s += q[hd * m->hs + i] * k[i];
				w[t] = s / sqrt((double)m->hs);
				mx = fmax(mx, w[t]);
			}
			for (int t = 0; t <= pos; t++)
				z += (w[t] = exp(w[t] - mx));
			for (int i = 0; i < m->hs; i++) {
				double s = 0;

				for (int t = 0; t <= pos; t++)
					s += w[t] / z * m->vc[((size_t)l * m->seq + t) *
							      m->kv_dim + kvh * m->hs + i];
				o[hd * m->hs + i] = s;
			}
		}
		dmatvec(h, m->wo + (size_t)l * d * d, o, d, d);
		for (int i = 0; i < d; i++)
			x[i] += h[i];
		dnorm(h, x, m->rms_ffn + l * d, d);
		dmatvec(g, m->w1 + (size_t)l * m->hidden * d, h, m->hidden, d);
		dmatvec(u, m->w3 + (size_t)l * m->hidden * d, h, m->hidden, d);
		for (int i = 0; i < m->hidden; i++)
			g[i] = g[i] / (1 + exp(-g[i])) * u[i];
		dmatvec(h, m->w2 + (size_t)l * d * m->hidden, g, d, m->hidden);
		for (int i = 0; i < d; i++)
			x[i] += h[i];
	}
	dnorm(h, x, m->rms_final, d);
	dmatvec(logits, m->cls, h, m->vocab, d);
}

/* ------------------------------------------------------------- tests */

static const char *model_path(char *buf, size_t len)
{
	return qvk_test_source_path("tests/data/stories260K.bin", buf, len);
}

static struct qvk_model *load_model(void)
{
	char path[4096];

	return qvk_test_model_load(model_path(path, sizeof(path)));
}

/*
 * Greedy from BOS for 128 positions; at every position the float reference
 * must match the double oracle within 1e-4 of the largest logit.
 */
START_TEST(test_matches_double_oracle)
{
	char path[4096];
	struct qvk_model *m = load_model();
	struct qvk_reference *ref;
	struct dmodel dm;
	double dl[512], worst = 0;
	uint32_t tok = 1;
	int agree = 0;

	dmodel_load(&dm, model_path(path, sizeof(path)));
	ck_assert_int_eq(dm.vocab, 512);
	ck_assert_int_eq(qvk_reference_create(qvk_test_ctx, m, &ref), QVK_OK);
	for (uint32_t pos = 0; pos < 128; pos++) {
		const float *l;
		double scale = 0, err = 0;
		uint32_t next;

		ck_assert_int_eq(qvk_reference_forward(ref, tok, pos, &l), QVK_OK);
		dforward(&dm, (int)tok, (int)pos, dl);
		for (int i = 0; i < 512; i++) {
			ck_assert(isfinite(l[i]));
			scale = fmax(scale, fabs(dl[i]));
			err = fmax(err, fabs(l[i] - dl[i]));
		}
		err /= fmax(scale, 1.0);
		worst = fmax(worst, err);
		ck_assert_msg(err < 1e-4, "position %u: relative error %.3g",
			      pos, err);
		next = qvk_test_argmax(l, 512);
		{
			int dbest = 0;

			for (int i = 1; i < 512; i++)
				if (dl[i] > dl[dbest])
					dbest = i;
			agree += (uint32_t)dbest == next;
		}
		tok = next;
	}
	printf("reference vs double oracle: 128 positions, worst max|diff| / "
	       "max|logit| = %.3g, argmax agrees at %d/128\n", worst, agree);
	ck_assert_int_ge(agree, 126);
	qvk_reference_destroy(ref);
	dmodel_free(&dm);
	qvk_model_destroy(m);
}
END_TEST

/*
 * The start of the greedy story from BOS, found by running this reference
 * (every step of which the double oracle above confirms).
 */
static const char expected_story[] =
	"Once upon a time, there was a little girl named Lily. She loved to "
	"play outside in the park. One day, she saw a big, red ball.";

START_TEST(test_greedy_story)
{
	char path[4096];
	struct qvk_model *m = load_model();
	struct qvk_tokenizer *tok = NULL;
	struct qvk_reference *ref;
	uint32_t ids[2][64];
	char text[1024];

	tok = qvk_test_tokenizer_load(
		qvk_test_source_path("tests/data/tok512.bin", path, sizeof(path)));
	for (int run = 0; run < 2; run++) {
		uint32_t t = qvk_tokenizer_bos(tok), prev;
		size_t len = 0;

		ck_assert_int_eq(qvk_reference_create(qvk_test_ctx, m, &ref), QVK_OK);
		for (uint32_t pos = 0; pos < 64; pos++) {
			const float *l;
			const char *piece;
			size_t pl;

			ck_assert_int_eq(qvk_reference_forward(ref, t, pos, &l), QVK_OK);
			prev = t;
			t = ids[run][pos] = qvk_test_argmax(l, m->params.vocab_size);
			piece = qvk_tokenizer_decode(tok, prev, t, &pl);
			if (len + pl < sizeof(text)) {
				memcpy(text + len, piece, pl);
				len += pl;
			}
		}
		text[len] = '\0';
		qvk_reference_destroy(ref);
	}
	printf("greedy from BOS: \"%s\"\n", text);
	ck_assert_mem_eq(ids[0], ids[1], sizeof(ids[0]));
	ck_assert_msg(!strncmp(text, expected_story, strlen(expected_story)),
		      "greedy text does not start with \"%s\"", expected_story);
	/* English: mostly letters and spaces, words of sane length */
	{
		size_t letters = 0, word = 0, longest = 0;

		for (const char *c = text; *c; c++) {
			if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')) {
				letters++;
				longest = ++word > longest ? word : longest;
			} else {
				word = 0;
			}
		}
		ck_assert_uint_gt(letters * 10, strlen(text) * 7);
		ck_assert_uint_le(longest, 12);
	}
	qvk_tokenizer_destroy(tok);
	qvk_model_destroy(m);
}
END_TEST

START_TEST(test_forward_arguments)
{
	struct qvk_model *m = load_model();
	struct qvk_reference *ref;
	const float *l, *first;
	float saved[512];

	ck_assert_int_eq(qvk_reference_create(qvk_test_ctx, m, &ref), QVK_OK);
	ck_assert_int_eq(qvk_reference_forward(ref, 512, 0, &l),
			 QVK_ERR_INVALID_ARG);
	ck_assert_int_eq(qvk_reference_forward(ref, 1, 1, &l),
			 QVK_ERR_INVALID_ARG); /* position 0 not run yet */
	ck_assert_int_eq(qvk_reference_forward(ref, 1, 0, &first), QVK_OK);
	memcpy(saved, first, sizeof(saved));
	ck_assert_int_eq(qvk_reference_forward(ref, 5, 1, &l), QVK_OK);
	/* rerunning position 0 gives the same logits (the cache is per position) */
	ck_assert_int_eq(qvk_reference_forward(ref, 1, 0, &l), QVK_OK);
	ck_assert_mem_eq(l, saved, sizeof(saved));
	ck_assert_int_eq(qvk_reference_forward(ref, 1, 512, &l),
			 QVK_ERR_INVALID_ARG);
	qvk_reference_destroy(ref);
	qvk_model_destroy(m);
}
END_TEST

/*
 * A mixed-precision GGUF file: every matrix with K = 64 in @block (Q8_0,
 * Q4_0 or Q4_1, quantized by the quantization core), ffn_down (K = 172, no
 * whole blocks) and the norms kept F32. The reference on that file must
 * equal, bit for bit, the reference on an F32 file holding the core's own
 * dequantization of the same codes: the block decoder agrees with
 * qvk_qtensor_dequantize(). The distance to the F32 model is printed.
 */
struct qmodel {
	struct qvk_model fake;
	struct qvk_layer_weights layers[5];
	void *buffers[64];
	int n_buffers;
};

static void quantize_tensor(struct qmodel *q, struct qvk_host_tensor *t,
			    uint32_t block, bool dequantized)
{
	const enum qvk_qformat fmt = block == QVK_GGML_TYPE_Q8_0 ? QVK_QFORMAT_Q8 :
				     block == QVK_GGML_TYPE_Q4_0 ? QVK_QFORMAT_Q4 :
							      QVK_QFORMAT_Q4A;
	struct qvk_quant_params p = qvk_quant_params_default(fmt, 32);
	uint32_t n = (uint32_t)t->ne[1], k = (uint32_t)t->ne[0];
	struct qvk_qtensor *qt;
	void *out;

	ck_assert_int_eq(qvk_quantize_weights(qvk_test_ctx, t->name, t->data, n,
					      k, &p, &qt), QVK_OK);
	if (dequantized) {
		out = malloc((size_t)n * k * sizeof(float));
		qvk_qtensor_dequantize(qt, out);
	} else {
		size_t bytes = (size_t)n * k / 32 * qvk_type_info(block)->block_bytes;

		out = malloc(bytes);
		ck_assert_int_eq(qvk_qtensor_to_gguf(qvk_test_ctx, t->name, qt,
						     block, out, bytes), QVK_OK);
		t->type = (enum qvk_ggml_type)block;
		t->size_bytes = bytes;
	}
	qvk_qtensor_destroy(qt);
	t->data = out;
	q->buffers[q->n_buffers++] = out;
}

static struct qvk_model *write_quantized(const struct qvk_model *m,
					 uint32_t block,
					 bool dequantized, const char *path)
{
	struct qmodel q = { .fake = *m };
	struct qvk_gguf_writer *w;
	struct qvk_model *out = NULL;

	memcpy(q.layers, m->layers, sizeof(q.layers));
	q.fake.layers = q.layers;
	quantize_tensor(&q, &q.fake.tok_embd, block, dequantized);
	q.fake.output = q.fake.tok_embd;
	for (int l = 0; l < 5; l++) {
		struct qvk_layer_weights *lw = &q.layers[l];

		quantize_tensor(&q, &lw->wq, block, dequantized);
		quantize_tensor(&q, &lw->wk, block, dequantized);
		quantize_tensor(&q, &lw->wv, block, dequantized);
		quantize_tensor(&q, &lw->wo, block, dequantized);
		quantize_tensor(&q, &lw->w1, block, dequantized);
		quantize_tensor(&q, &lw->w3, block, dequantized);
	}
	ck_assert_int_eq(qvk_gguf_writer_create(qvk_test_ctx, &w), QVK_OK);
	ck_assert_int_eq(qvk_model_to_gguf(&q.fake, w), QVK_OK);
	ck_assert_int_eq(qvk_gguf_writer_write(w, path), QVK_OK);
	qvk_gguf_writer_destroy(w);
	while (q.n_buffers--)
		free(q.buffers[q.n_buffers]);
	ck_assert_int_eq(qvk_model_load(qvk_test_ctx, path, &out), QVK_OK);
	remove(path);
	return out;
}

START_TEST(test_quantized_gguf)
{
	static const uint32_t blocks[3] = { QVK_GGML_TYPE_Q8_0,
						       QVK_GGML_TYPE_Q4_0,
						       QVK_GGML_TYPE_Q4_1 };
	enum { POS = 64 };
	struct qvk_model *m = load_model();
	float *ref_logits = malloc(POS * 512 * sizeof(float));
	float *q_logits = malloc(POS * 512 * sizeof(float));
	uint32_t tokens[POS + 1] = { 1 };
	struct qvk_reference *r;
	char path[64];

	/* F32 greedy path from BOS: the positions every model is run on */
	ck_assert_int_eq(qvk_reference_create(qvk_test_ctx, m, &r), QVK_OK);
	for (uint32_t pos = 0; pos < POS; pos++) {
		const float *l;

		ck_assert_int_eq(qvk_reference_forward(r, tokens[pos], pos, &l), QVK_OK);
		memcpy(ref_logits + pos * 512, l, 512 * sizeof(float));
		tokens[pos + 1] = qvk_test_argmax(l, 512);
	}
	qvk_reference_destroy(r);
	snprintf(path, sizeof(path), "/tmp/qvk-q-%d.gguf", (int)getpid());

	for (int b = 0; b < 3; b++) {
		struct qvk_model *qm = write_quantized(m, blocks[b], false, path);
		struct qvk_model *dm = write_quantized(m, blocks[b], true, path);
		struct qvk_reference *rq, *rd;
		struct qvk_logit_stats ls;

		ck_assert_uint_eq(qm->layers[3].w1.type, (uint32_t)blocks[b]);
		ck_assert_uint_eq(qm->layers[3].w2.type, QVK_GGML_TYPE_F32);
		ck_assert_uint_eq(dm->layers[3].w1.type, QVK_GGML_TYPE_F32);
		ck_assert_int_eq(qvk_reference_create(qvk_test_ctx, qm, &rq), QVK_OK);
		ck_assert_int_eq(qvk_reference_create(qvk_test_ctx, dm, &rd), QVK_OK);
		for (uint32_t pos = 0; pos < POS; pos++) {
			const float *lq, *ld;

			ck_assert_int_eq(qvk_reference_forward(rq, tokens[pos], pos,
							       &lq), QVK_OK);
			ck_assert_int_eq(qvk_reference_forward(rd, tokens[pos], pos,
							       &ld), QVK_OK);
			ck_assert_msg(!memcmp(lq, ld, 512 * sizeof(float)),
				      "%s: block decoder and core dequantization "
				      "differ at position %u",
				      qvk_ggml_type_name(blocks[b]), pos);
			memcpy(q_logits + pos * 512, lq, 512 * sizeof(float));
		}
		ck_assert_int_eq(qvk_logit_stats_compute(qvk_test_ctx, "logits",
				 ref_logits, q_logits, POS, 512, &ls), QVK_OK);
		printf("stories260K %s (ffn_down F32) vs F32 over %d positions: "
		       "KL %.5f nats (max %.5f), top-1 %.1f%%\n",
		       qvk_ggml_type_name(blocks[b]), POS, ls.kl_mean, ls.kl_max,
		       100.0 * ls.top1);
		if (blocks[b] == QVK_GGML_TYPE_Q8_0)
			ck_assert(ls.kl_mean < 0.01 && ls.top1 >= 0.9);
		else
			ck_assert(ls.kl_mean < 1.0 && ls.top1 >= 0.5);
		qvk_reference_destroy(rq);
		qvk_reference_destroy(rd);
		qvk_model_destroy(qm);
		qvk_model_destroy(dm);
	}
	free(ref_logits);
	free(q_logits);
	qvk_model_destroy(m);
}
END_TEST

/*
 * Perplexity of stories260K on held-out TinyStories text, one window of
 * 256 tokens: the reference's NLL against the double oracle's.
 */
START_TEST(test_perplexity)
{
	char path[4096], tpath[4096], epath[4096];
	struct qvk_model *m = load_model();
	struct qvk_tokenizer *tok = NULL;
	struct qvk_reference *ref;
	struct dmodel dm;
	enum { N = 256 };
	uint32_t *ids;
	double nll, dnll = 0, dl[512];
	size_t len, n;
	char *text;
	FILE *f;

	if (!qvk_test_model_path("tinystories-eval.txt", epath, sizeof(epath))) {
		qvk_model_destroy(m);
		return;
	}
	f = fopen(epath, "rb");
	ck_assert(f != NULL);
	text = malloc(4096);
	len = fread(text, 1, 4096, f);
	fclose(f);
	tok = qvk_test_tokenizer_load(
		qvk_test_source_path("tests/data/tok512.bin", tpath, sizeof(tpath)));
	ids = malloc(QVK_TOKENIZE_MAX(len) * sizeof(*ids));
	ck_assert_int_eq(qvk_tokenizer_encode(tok, qvk_test_ctx, text, len,
					      QVK_TOKENIZE_BOS, ids,
					      QVK_TOKENIZE_MAX(len), &n), QVK_OK);
	ck_assert_uint_ge(n, N);
	ck_assert_int_eq(qvk_reference_create(qvk_test_ctx, m, &ref), QVK_OK);
	ck_assert_int_eq(qvk_reference_nll(ref, ids, N, &nll), QVK_OK);
	dmodel_load(&dm, model_path(path, sizeof(path)));
	for (int i = 0; i + 1 < N; i++) {
		double mx = -1e300, z = 0;

		dforward(&dm, (int)ids[i], i, dl);
		for (int v = 0; v < 512; v++)
			mx = fmax(mx, dl[v]);
		for (int v = 0; v < 512; v++)
			z += exp(dl[v] - mx);
		dnll += mx + log(z) - dl[ids[i + 1]];
	}
	printf("stories260K perplexity on %d tokens of tinystories-eval: %.4f "
	       "(double oracle %.4f)\n", N, exp(nll / (N - 1)),
	       exp(dnll / (N - 1)));
	ck_assert(fabs(nll - dnll) / dnll < 1e-4);
	/* a trained model: far better than uniform over 512 tokens */
	ck_assert(exp(nll / (N - 1)) < 10.0);
	ck_assert_int_eq(qvk_reference_nll(ref, ids, 1, &nll), QVK_ERR_INVALID_ARG);
	dmodel_free(&dm);
	qvk_reference_destroy(ref);
	qvk_tokenizer_destroy(tok);
	free(ids);
	free(text);
	qvk_model_destroy(m);
}
END_TEST

Suite *suite_reference(void);
Suite *suite_reference(void)
{
	Suite *s = suite_create("reference");
	TCase *tc = tcase_create("stories260K");

	tcase_add_checked_fixture(tc, qvk_test_ctx_setup, qvk_test_ctx_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_matches_double_oracle);
	tcase_add_test(tc, test_greedy_story);
	tcase_add_test(tc, test_forward_arguments);
	tcase_add_test(tc, test_quantized_gguf);
	tcase_add_test(tc, test_perplexity);
	suite_add_tcase(s, tc);
	return s;
}
