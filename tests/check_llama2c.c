/* SPDX-License-Identifier: MIT */
/*
 * llama2.c checkpoints: stories260K's header facts and tensor layout, an
 * unshared classifier, hostile files (truncated, padded, bad headers), and
 * the conversion stories260K -> GGUF f32 (with its tokenizer) -> load that
 * must give byte-identical tensors and bit-identical reference logits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <qvk/model.h>
#include <qvk/tokenizer.h>

#include "harness.h"

static const char *src(const char *rel, char *buf, size_t len)
{
	return qvk_test_source_path(rel, buf, len);
}

START_TEST(test_stories260k_layout)
{
	char path[4096];
	struct qvk_model *m = qvk_test_model_load(
		src("tests/data/stories260K.bin", path, sizeof(path)));
	const struct qvk_model_params *hp = &m->params;
	const struct qvk_host_tensor *t;
	const float *emb;

	ck_assert_int_eq(m->format, QVK_MODEL_LLAMA2C);
	ck_assert_uint_eq(hp->dim, 64);
	ck_assert_uint_eq(hp->hidden_dim, 172);
	ck_assert_uint_eq(hp->n_layers, 5);
	ck_assert_uint_eq(hp->n_heads, 8);
	ck_assert_uint_eq(hp->n_kv_heads, 4);
	ck_assert_uint_eq(hp->head_dim, 8);
	ck_assert_uint_eq(hp->vocab_size, 512);
	ck_assert_uint_eq(hp->seq_len, 512);
	ck_assert(hp->shared_classifier);
	ck_assert(hp->rope_theta == 10000.0f && hp->norm_eps == 1e-5f);
	ck_assert_uint_eq(qvk_model_tensor_count(m), 2 + 9 * 5);
	/* every float of the file but the header and freq_cis: 260,032 */
	ck_assert_uint_eq(qvk_model_param_count(m), (1056540 - 28) / 4 - 4096);
	ck_assert_uint_eq(qvk_model_weight_bytes(m), 4 * qvk_model_param_count(m));
	/* the first weight follows the 28-byte header */
	emb = m->tok_embd.data;
	ck_assert_ptr_eq(emb, (const uint8_t *)m->map + 28);
	ck_assert_ptr_eq(m->output.data, m->tok_embd.data);
	t = &m->layers[4].w2;
	ck_assert_str_eq(t->name, "blk.4.ffn_down.weight");
	ck_assert_uint_eq(t->ne[0], 172);
	ck_assert_uint_eq(t->ne[1], 64);
	ck_assert_uint_eq(m->layers[0].wk.ne[1], 32);
	ck_assert_uint_eq(m->layers[0].attn_norm.n_dims, 1);
	/* output_norm is followed by freq_cis (512 * 4 * 2 floats) to the end */
	ck_assert_uint_eq((size_t)((const uint8_t *)m->output_norm.data -
				   (const uint8_t *)m->map) + 64 * 4 + 512 * 8 * 4,
			  m->map_size_bytes);
	for (uint32_t i = 0; i < qvk_model_tensor_count(m); i++)
		ck_assert_ptr_nonnull(qvk_model_tensor_at(m, i)->data);
	ck_assert_ptr_null(qvk_model_tensor_at(m, qvk_model_tensor_count(m)));
	qvk_model_destroy(m);
}
END_TEST

static void expect_bad_model(const void *data, size_t len, qvk_status want,
			     const char *what)
{
	char path[256];
	struct qvk_model *m = (struct qvk_model *)1;
	qvk_status st;

	snprintf(path, sizeof(path), "/tmp/qvk-badmodel-%d.bin", (int)getpid());
	qvk_test_write_file(path, data, len);
	st = qvk_model_load(qvk_test_ctx, path, &m);
	remove(path);
	printf("%-28s -> %s: %s\n", what, qvk_strerror(st),
	       qvk_ctx_message(qvk_test_ctx));
	ck_assert_msg(st == want, "%s: %s", what, qvk_strerror(st));
	ck_assert_ptr_null(m);
}

START_TEST(test_hostile_checkpoints)
{
	char path[4096];
	size_t len;
	uint8_t *good = qvk_test_read_file(
		src("tests/data/stories260K.bin", path, sizeof(path)), &len);
	uint8_t *bad = malloc(len + 64);
	static const struct { int field; int32_t value; const char *what; } hdr[] = {
		{ 0, 0, "dim 0" }, { 0, -64, "dim -64" },
		{ 0, 0x7fffffff, "dim 2^31-1" }, { 1, 0, "hidden 0" },
		{ 2, 100000, "layers 100000" }, { 3, 7, "heads 7 (64 % 7)" },
		{ 4, 3, "kv heads 3 (8 % 3)" }, { 5, 0, "vocab 0" },
		{ 5, (int32_t)0x80000000u, "vocab INT32_MIN" },
		{ 6, 0, "seq_len 0" }, { 6, 1 << 20, "seq_len 2^20" },
		{ 5, -512, "unshared, no classifier" },
	};

	expect_bad_model(good, 0, QVK_ERR_FORMAT, "empty file");
	expect_bad_model(good, 3, QVK_ERR_FORMAT, "3 bytes");
	expect_bad_model(good, 20, QVK_ERR_FORMAT, "half a header");
	expect_bad_model(good, 28, QVK_ERR_FORMAT, "header only");
	expect_bad_model(good, len - 1, QVK_ERR_FORMAT, "one byte short");
	expect_bad_model(good, len / 2, QVK_ERR_FORMAT, "half the file");
	memcpy(bad, good, len);
	memset(bad + len, 0, 64);
	expect_bad_model(bad, len + 4, QVK_ERR_FORMAT, "trailing bytes");
	for (size_t i = 0; i < sizeof(hdr) / sizeof(hdr[0]); i++) {
		memcpy(bad, good, len);
		memcpy(bad + 4 * hdr[i].field, &hdr[i].value, 4);
		expect_bad_model(bad, len, QVK_ERR_FORMAT, hdr[i].what);
	}
	memcpy(bad, good, len);
	memcpy(bad, "24ka", 4); /* "ak42" little-endian: export version 1+ */
	expect_bad_model(bad, len, QVK_ERR_UNSUPPORTED, "ak42 header");
	memcpy(bad, "GGUF", 4);
	expect_bad_model(bad, len, QVK_ERR_UNSUPPORTED, "GGUF magic, junk after");
	free(bad);
	free(good);
}
END_TEST

/* vocab < 0: a separate classifier after freq_cis. */
START_TEST(test_unshared_classifier)
{
	char path[4096], out[256];
	size_t len;
	uint8_t *good = qvk_test_read_file(
		src("tests/data/stories260K.bin", path, sizeof(path)), &len);
	size_t cls = 512 * 64 * 4;
	uint8_t *f = malloc(len + cls);
	int32_t neg = -512;
	struct qvk_model *a, *b;
	struct qvk_reference *ra, *rb;
	const float *la, *lb;

	memcpy(f, good, len);
	memcpy(f + 20, &neg, 4);
	memcpy(f + len, good + 28, cls); /* wcls = tok_embd: same logits */
	snprintf(out, sizeof(out), "/tmp/qvk-unshared-%d.bin", (int)getpid());
	qvk_test_write_file(out, f, len + cls);
	a = qvk_test_model_load(path);
	b = qvk_test_model_load(out);
	remove(out);
	ck_assert(!b->params.shared_classifier);
	ck_assert_uint_eq(qvk_model_tensor_count(b), qvk_model_tensor_count(a) + 1);
	ck_assert_ptr_ne(b->output.data, b->tok_embd.data);
	ck_assert_str_eq(b->output.name, "output.weight");
	ck_assert_int_eq(qvk_reference_create(qvk_test_ctx, a, &ra), QVK_OK);
	ck_assert_int_eq(qvk_reference_create(qvk_test_ctx, b, &rb), QVK_OK);
	for (uint32_t pos = 0, tok = 1; pos < 8; pos++, tok = 100 + pos) {
		ck_assert_int_eq(qvk_reference_forward(ra, tok, pos, &la), QVK_OK);
		ck_assert_int_eq(qvk_reference_forward(rb, tok, pos, &lb), QVK_OK);
		ck_assert_mem_eq(la, lb, 512 * sizeof(float));
	}
	qvk_reference_destroy(ra);
	qvk_reference_destroy(rb);
	qvk_model_destroy(a);
	qvk_model_destroy(b);
	free(f);
	free(good);
}
END_TEST

/* stories260K -> GGUF f32 with tokenizer -> load: identical in every bit. */
START_TEST(test_gguf_conversion_identical)
{
	char path[4096], tpath[4096], out[256];
	struct qvk_model *a = qvk_test_model_load(
		src("tests/data/stories260K.bin", path, sizeof(path)));
	struct qvk_tokenizer *ta = NULL, *tb = NULL;
	struct qvk_gguf_writer *w;
	struct qvk_model *b;
	struct qvk_reference *ra, *rb;
	const char *text = "Once upon a time, Lily found a shiny red ball.";
	uint32_t ia[128], ib[128], tok_a, tok_b;
	size_t na, nb;

	ta = qvk_test_tokenizer_load(src("tests/data/tok512.bin", tpath,
					 sizeof(tpath)));
	ck_assert_int_eq(qvk_gguf_writer_create(qvk_test_ctx, &w), QVK_OK);
	ck_assert_int_eq(qvk_model_to_gguf(a, w), QVK_OK);
	ck_assert_int_eq(qvk_tokenizer_to_gguf(ta, w), QVK_OK);
	snprintf(out, sizeof(out), "/tmp/qvk-conv-%d.gguf", (int)getpid());
	ck_assert_int_eq(qvk_gguf_writer_write(w, out), QVK_OK);
	qvk_gguf_writer_destroy(w);

	b = qvk_test_model_load(out);
	tb = qvk_test_tokenizer_load(out);
	remove(out); /* the mapping keeps the data */
	ck_assert_int_eq(b->format, QVK_MODEL_GGUF);
	ck_assert_mem_eq(&a->params, &b->params, sizeof(a->params));
	ck_assert_uint_eq(qvk_model_tensor_count(a), qvk_model_tensor_count(b));
	for (uint32_t i = 0; i < qvk_model_tensor_count(a); i++) {
		const struct qvk_host_tensor *x = qvk_model_tensor_at(a, i);
		const struct qvk_host_tensor *y = qvk_model_tensor_at(b, i);

		ck_assert_str_eq(x->name, y->name);
		ck_assert_uint_eq(x->type, y->type);
		ck_assert_uint_eq(x->n_dims, y->n_dims);
		ck_assert_mem_eq(x->ne, y->ne, sizeof(x->ne));
		ck_assert_uint_eq(x->size_bytes, y->size_bytes);
		ck_assert_mem_eq(x->data, y->data, x->size_bytes);
		ck_assert_uint_eq((uintptr_t)y->data % 32, 0);
	}
	ck_assert_ptr_eq(b->output.data, b->tok_embd.data);

	/* the tokenizer travelled with the model */
	ck_assert_int_eq(qvk_tokenizer_encode(ta, qvk_test_ctx, text, strlen(text),
					      QVK_TOKENIZE_BOS, ia, 128, &na), QVK_OK);
	ck_assert_int_eq(qvk_tokenizer_encode(tb, qvk_test_ctx, text, strlen(text),
					      QVK_TOKENIZE_BOS, ib, 128, &nb), QVK_OK);
	ck_assert(na == nb && !memcmp(ia, ib, na * sizeof(*ia)));

	/* same logits, bit for bit, over the prompt and 24 greedy tokens */
	ck_assert_int_eq(qvk_reference_create(qvk_test_ctx, a, &ra), QVK_OK);
	ck_assert_int_eq(qvk_reference_create(qvk_test_ctx, b, &rb), QVK_OK);
	tok_a = tok_b = ia[0];
	for (uint32_t pos = 0; pos < na + 24; pos++) {
		const float *la, *lb;
		uint32_t best = 0;

		ck_assert_int_eq(qvk_reference_forward(ra, tok_a, pos, &la), QVK_OK);
		ck_assert_int_eq(qvk_reference_forward(rb, tok_b, pos, &lb), QVK_OK);
		ck_assert_mem_eq(la, lb, 512 * sizeof(float));
		for (uint32_t i = 1; i < 512; i++)
			best = la[i] > la[best] ? i : best;
		tok_a = tok_b = pos + 1 < na ? ia[pos + 1] : best;
	}
	printf("llama2.c -> GGUF f32: %u tensors byte-identical, logits "
	       "bit-identical over %zu positions\n", qvk_model_tensor_count(a),
	       na + 24);
	qvk_reference_destroy(ra);
	qvk_reference_destroy(rb);
	qvk_tokenizer_destroy(ta);
	qvk_tokenizer_destroy(tb);
	qvk_model_destroy(a);
	qvk_model_destroy(b);
}
END_TEST

/* Hostile GGUF models: wrong architecture, a tensor of the wrong shape. */
START_TEST(test_gguf_model_checks)
{
	char path[4096], out[256];
	struct qvk_model *a = qvk_test_model_load(
		src("tests/data/stories260K.bin", path, sizeof(path)));
	struct qvk_gguf_writer *w;
	struct qvk_model *b = NULL;
	qvk_status st;

	snprintf(out, sizeof(out), "/tmp/qvk-gm-%d.gguf", (int)getpid());
	for (int variant = 0; variant < 5; variant++) {
		struct qvk_model fake = *a;
		struct qvk_layer_weights layers[5];

		/* variant 2: blk.0.attn_k is wq's (64, 64) instead of (32, 64) */
		memcpy(layers, a->layers, sizeof(layers));
		layers[0].wk = layers[0].wq;
		snprintf(layers[0].wk.name, sizeof(layers[0].wk.name),
			 "blk.0.attn_k.weight");
		fake.layers = layers;
		ck_assert_int_eq(qvk_gguf_writer_create(qvk_test_ctx, &w), QVK_OK);
		ck_assert_int_eq(qvk_model_to_gguf(variant == 2 ? &fake : a, w),
				 QVK_OK);
		if (variant == 0)
			ck_assert_int_eq(qvk_gguf_writer_set_str(w,
				"general.architecture", "gpt2"), QVK_OK);
		if (variant == 1)
			ck_assert_int_eq(qvk_gguf_writer_set_u32(w,
				"llama.attention.head_count_kv", 3), QVK_OK);
		if (variant == 3)
			ck_assert_int_eq(qvk_gguf_writer_set_str(w,
				"llama.rope.scaling.type", "yarn"), QVK_OK);
		if (variant == 4) /* found by fuzz_gguf: 3 GB of layer slots */
			ck_assert_int_eq(qvk_gguf_writer_set_u32(w,
				"llama.block_count", 1u << 24), QVK_OK);
		ck_assert_int_eq(qvk_gguf_writer_write(w, out), QVK_OK);
		qvk_gguf_writer_destroy(w);
		st = qvk_model_load(qvk_test_ctx, out, &b);
		printf("GGUF model variant %d -> %s: %s\n", variant,
		       qvk_strerror(st), qvk_ctx_message(qvk_test_ctx));
		ck_assert_int_ne(st, QVK_OK);
		ck_assert_ptr_null(b);
	}
	remove(out);
	qvk_model_destroy(a);
}
END_TEST

Suite *suite_llama2c(void);
Suite *suite_llama2c(void)
{
	Suite *s = suite_create("llama2c");
	TCase *tc = tcase_create("load");

	tcase_add_checked_fixture(tc, qvk_test_ctx_setup, qvk_test_ctx_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_stories260k_layout);
	tcase_add_test(tc, test_hostile_checkpoints);
	tcase_add_test(tc, test_unshared_classifier);
	tcase_add_test(tc, test_gguf_conversion_identical);
	tcase_add_test(tc, test_gguf_model_checks);
	suite_add_tcase(s, tc);
	return s;
}
