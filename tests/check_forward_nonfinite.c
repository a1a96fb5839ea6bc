/* SPDX-License-Identifier: MIT */
/*
 * suite_forward_nonfinite: finite weights that overflow inside the forward
 * pass stop it with an error naming the first layer whose output is not
 * finite, never with tokens. The models are stories260K with one tensor
 * replaced by 3e38: the embedding (its square overflows fp32 in the first
 * RMSNorm) or one layer's ffn_norm (the FFN of that layer overflows). Each
 * runs through decode (one token) and batched prefill, in fp32 and in the
 * int8 path, where a non-finite row must not turn into finite integers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <qvk/llm.h>
#include <qvk/model.h>

#include "harness.h"

/* The llama2.c header: dim, hidden, layers, heads, kv heads, vocab, seq. */
struct l2c_header {
	int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab, seq_len;
};

enum huge_tensor { HUGE_EMBEDDING, HUGE_FFN_NORM };

#define QVK_ARRAY_SIZE_TEST(a) (sizeof(a) / sizeof((a)[0]))

static char model_path[64];

static void nonfinite_setup(void)
{
	qvk_test_gpu_setup();
	model_path[0] = 0;
}

static void nonfinite_teardown(void)
{
	if (model_path[0])
		unlink(model_path);
	qvk_test_gpu_teardown();
}

/*
 * stories260K with @what set to 3e38 (the FFN norm of @layer only), and a
 * classifier of its own (negative vocab: the original embedding appended)
 * so that the int8 formats can quantize it. Returns the loaded model.
 */
static struct qvk_model *huge_model(enum huge_tensor what, uint32_t layer)
{
	char src[512];
	size_t len, off;
	uint8_t *data = qvk_test_read_file(qvk_test_source_path("tests/data/stories260K.bin",
								  src, sizeof(src)), &len);
	struct l2c_header h;
	size_t n, emb_bytes, kv_dim;
	uint8_t *out;
	float *f;

	memcpy(&h, data, sizeof(h));
	ck_assert_int_gt(h.vocab, 0); /* shared classifier in the original */
	kv_dim = (size_t)h.dim * h.n_kv_heads / h.n_heads;
	emb_bytes = (size_t)h.vocab * h.dim * 4;
	out = malloc(len + emb_bytes);
	ck_assert_ptr_nonnull(out);
	memcpy(out, data, len);
	memcpy(out + len, data + sizeof(h), emb_bytes); /* wcls */
	h.vocab = -h.vocab;
	memcpy(out, &h, sizeof(h));
	if (what == HUGE_EMBEDDING) {
		off = sizeof(h);
		n = (size_t)-h.vocab * h.dim;
	} else {
		/* embedding, rms_att, wq, wk, wv, wo, then rms_ffn per layer */
		off = sizeof(h) + emb_bytes +
		      4 * ((size_t)h.n_layers * h.dim +
			   2 * (size_t)h.n_layers * h.dim * h.dim +
			   2 * (size_t)h.n_layers * h.dim * kv_dim) +
		      4 * (size_t)layer * h.dim;
		n = (size_t)h.dim;
	}
	f = (float *)(out + off);
	for (size_t i = 0; i < n; i++)
		f[i] = 3e38f;
	snprintf(model_path, sizeof(model_path), "/tmp/qvk-huge-%d.bin", (int)getpid());
	qvk_test_write_file(model_path, out, len + emb_bytes);
	free(out);
	free(data);
	return qvk_test_model_load(model_path);
}

/* A pass of @n tokens must fail with QVK_ERR_NUMERIC naming @expect. */
static void expect_stopped(struct qvk_llm *llm, uint32_t n, const char *expect)
{
	static const uint32_t tokens[] = { 1, 403, 407, 261, 378, 1 };
	const float *last = NULL;
	const char *msg;
	qvk_status st;

	ck_assert_uint_le(n, QVK_ARRAY_SIZE_TEST(tokens));
	st = qvk_llm_forward(llm, tokens, n, 0, NULL, &last);
	msg = qvk_ctx_message(qvk_test_ctx);
	fprintf(stderr, "%u token(s): %s: %s\n", n, qvk_strerror(st), msg);
	ck_assert_msg(st == QVK_ERR_NUMERIC, "forward returned %s: %s", qvk_strerror(st),
		      msg);
	ck_assert_msg(strstr(msg, expect), "message lacks '%s': %s", expect, msg);
}

static void run_case(enum huge_tensor what, uint32_t layer,
		     enum qvk_weight_format format, const char *expect)
{
	struct qvk_model *model = huge_model(what, layer);
	struct qvk_llm_options opt = { .format = format };
	struct qvk_llm *llm;
	qvk_status st = qvk_llm_create(qvk_test_dev, model, &opt, &llm);

	ck_assert_msg(st == QVK_OK, "%s", qvk_ctx_message(qvk_test_ctx));
	fprintf(stderr, "%s: ", qvk_llm_describe(llm));
	expect_stopped(llm, 1, expect);
	expect_stopped(llm, 5, expect);
	qvk_llm_destroy(llm);
	qvk_model_destroy(model);
}

START_TEST(test_huge_embedding_f32)
{
	run_case(HUGE_EMBEDDING, 0, QVK_WEIGHTS_F32, "first produced by layer 0 (blk.0)");
	ck_assert_ptr_nonnull(strstr(qvk_ctx_message(qvk_test_ctx),
				     "whose square overflows fp32 in RMSNorm"));
}
END_TEST

START_TEST(test_huge_embedding_q8)
{
	run_case(HUGE_EMBEDDING, 0, QVK_WEIGHTS_Q8, "first produced by layer 0 (blk.0)");
}
END_TEST

START_TEST(test_huge_ffn_norm_layer)
{
	run_case(HUGE_FFN_NORM, 2, QVK_WEIGHTS_F32, "first produced by layer 2 (blk.2)");
	run_case(HUGE_FFN_NORM, 3, QVK_WEIGHTS_Q8, "first produced by layer 3 (blk.3)");
}
END_TEST

Suite *suite_forward_nonfinite(void);
Suite *suite_forward_nonfinite(void)
{
	Suite *s = suite_create("forward_nonfinite");
	TCase *tc = tcase_create("huge_weights");

	tcase_add_checked_fixture(tc, nonfinite_setup, nonfinite_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_huge_embedding_f32);
	tcase_add_test(tc, test_huge_embedding_q8);
	tcase_add_test(tc, test_huge_ffn_norm_layer);
	suite_add_tcase(s, tc);
	return s;
}
