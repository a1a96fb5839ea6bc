/* SPDX-License-Identifier: MIT */
/*
 * GGUF through the API: writer -> reader round trips of every metadata and
 * tensor type, the llama.cpp-written vocabulary file (read, copied entry by
 * entry, refused as a model), and ggml block dequantization on hand-made
 * blocks. Byte-level hostile files live in check_gguf_hostile.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <qvk/model.h>

#include "harness.h"

START_TEST(test_block_dequant)
{
	/* F16: 1, -2, 2^-24 (subnormal), 65504, -0, Inf */
	const uint16_t h[6] = { 0x3c00, 0xc000, 0x0001, 0x7bff, 0x8000, 0x7c00 };
	const float hf[6] = { 1.0f, -2.0f, 0x1p-24f, 65504.0f, -0.0f, INFINITY };
	uint8_t q8[34], q40[18], q41[20];
	float out[32];
	struct qvk_host_tensor t = { .n_dims = 1, .ne = { 6, 1, 1, 1 } };

	t.type = QVK_GGML_TYPE_F16;
	t.data = h;
	t.size_bytes = sizeof(h);
	ck_assert_int_eq(qvk_host_tensor_row(&t, 0, out), QVK_OK);
	for (int i = 0; i < 6; i++)
		ck_assert_msg(out[i] == hf[i] && signbit(out[i]) == signbit(hf[i]),
			      "half %04x -> %g", h[i], (double)out[i]);

	/* BF16: the top half of an fp32: 1, -2, 2^-133 (subnormal), -0, Inf */
	{
		const uint16_t b[5] = { 0x3f80, 0xc000, 0x0001, 0x8000, 0x7f80 };
		const float bf[5] = { 1.0f, -2.0f, 0x1p-133f, -0.0f, INFINITY };

		t = (struct qvk_host_tensor){ .type = QVK_GGML_TYPE_BF16,
					      .n_dims = 1, .ne = { 5, 1, 1, 1 },
					      .data = b, .size_bytes = sizeof(b) };
		ck_assert_int_eq(qvk_host_tensor_row(&t, 0, out), QVK_OK);
		for (int i = 0; i < 5; i++)
			ck_assert_msg(out[i] == bf[i] &&
					      signbit(out[i]) == signbit(bf[i]),
				      "bf16 %04x -> %g", b[i], (double)out[i]);
	}

	/* Q8_0, d = 0.5 (0x3800): q_j = j - 16 */
	q8[0] = 0x00;
	q8[1] = 0x38;
	for (int j = 0; j < 32; j++)
		q8[2 + j] = (uint8_t)(int8_t)(j - 16);
	t = (struct qvk_host_tensor){ .type = QVK_GGML_TYPE_Q8_0, .n_dims = 1,
				      .ne = { 32, 1, 1, 1 }, .data = q8,
				      .size_bytes = 34 };
	ck_assert_int_eq(qvk_host_tensor_row(&t, 0, out), QVK_OK);
	for (int j = 0; j < 32; j++)
		ck_assert(out[j] == 0.5f * (float)(j - 16));

	/* Q4_0, d = 2: byte j holds element j (low nibble), j+16 (high) */
	q40[0] = 0x00;
	q40[1] = 0x40;
	for (int j = 0; j < 16; j++)
		q40[2 + j] = (uint8_t)(j | (15 - j) << 4);
	t = (struct qvk_host_tensor){ .type = QVK_GGML_TYPE_Q4_0, .n_dims = 1,
				      .ne = { 32, 1, 1, 1 }, .data = q40,
				      .size_bytes = 18 };
	ck_assert_int_eq(qvk_host_tensor_row(&t, 0, out), QVK_OK);
	for (int j = 0; j < 16; j++) {
		ck_assert(out[j] == 2.0f * (float)(j - 8));
		ck_assert(out[j + 16] == 2.0f * (float)(15 - j - 8));
	}

	/* Q4_1, d = 0.25 (0x3400), m = -1 (0xbc00) */
	q41[0] = 0x00; q41[1] = 0x34; q41[2] = 0x00; q41[3] = 0xbc;
	for (int j = 0; j < 16; j++)
		q41[4 + j] = (uint8_t)(j | (15 - j) << 4);
	t = (struct qvk_host_tensor){ .type = QVK_GGML_TYPE_Q4_1, .n_dims = 1,
				      .ne = { 32, 1, 1, 1 }, .data = q41,
				      .size_bytes = 20 };
	ck_assert_int_eq(qvk_host_tensor_row(&t, 0, out), QVK_OK);
	for (int j = 0; j < 16; j++) {
		ck_assert(out[j] == 0.25f * (float)j - 1.0f);
		ck_assert(out[j + 16] == 0.25f * (float)(15 - j) - 1.0f);
	}
	ck_assert_int_eq(qvk_host_tensor_row(&t, 1, out), QVK_ERR_INVALID_ARG);
}
END_TEST

/* Writer -> reader: every metadata type and tensor type, alignment 64. */
START_TEST(test_writer_round_trip)
{
	uint64_t seed = qvk_test_seed("test_writer_round_trip"), rng = seed;
	const uint32_t types[6] = { QVK_GGML_TYPE_F32, QVK_GGML_TYPE_F16,
				    QVK_GGML_TYPE_Q8_0, QVK_GGML_TYPE_Q4_0,
				    QVK_GGML_TYPE_Q4_1, QVK_GGML_TYPE_BF16 };
	struct qvk_host_tensor t[6];
	uint8_t *data[6];
	const char *strs[3] = { "a", "", "c\xe2\x96\x81" };
	const uint64_t lens[3] = { 1, 0, 4 };
	const int32_t ints[4] = { -1, 0, 1, 7 };
	struct qvk_gguf_writer *w;
	struct qvk_gguf *g;
	char path[64];
	uint64_t u64;
	uint32_t u32;
	float f;
	bool bv;
	struct qvk_gguf_str s;

	ck_assert_int_eq(qvk_gguf_writer_create(qvk_test_ctx, &w), QVK_OK);
	ck_assert_int_eq(qvk_gguf_writer_set_alignment(w, 128), QVK_OK);
	ck_assert_int_eq(qvk_gguf_writer_set_alignment(w, 24), QVK_ERR_INVALID_ARG);
	ck_assert_int_eq(qvk_gguf_writer_set_str(w, "general.alignment", "64"),
			 QVK_ERR_INVALID_ARG);
	/* the key, however set, moves the data: 64 wins over 128 */
	ck_assert_int_eq(qvk_gguf_writer_set_u32(w, "general.alignment", 64),
			 QVK_OK);
	ck_assert_int_eq(qvk_gguf_writer_set_u32(w, "x.u32", 7), QVK_OK);
	ck_assert_int_eq(qvk_gguf_writer_set_u32(w, "x.u32", 9), QVK_OK); /* replace */
	ck_assert_int_eq(qvk_gguf_writer_set_u64(w, "x.u64", 1ull << 40), QVK_OK);
	ck_assert_int_eq(qvk_gguf_writer_set_i32(w, "x.i32", 5), QVK_OK);
	ck_assert_int_eq(qvk_gguf_writer_set_f32(w, "x.f32", 0.125f), QVK_OK);
	ck_assert_int_eq(qvk_gguf_writer_set_bool(w, "x.bool", true), QVK_OK);
	ck_assert_int_eq(qvk_gguf_writer_set_str(w, "x.str", "hello"), QVK_OK);
	ck_assert_int_eq(qvk_gguf_writer_set_str_array(w, "x.strs", strs, lens, 3),
			 QVK_OK);
	ck_assert_int_eq(qvk_gguf_writer_set_array(w, "x.ints", QVK_GGUF_INT32,
						   ints, 4), QVK_OK);
	for (int i = 0; i < 6; i++) {
		uint32_t be, bb;

		ck_assert(qvk_ggml_type_block(types[i], &be, &bb));
		t[i] = (struct qvk_host_tensor){ .type = types[i], .n_dims = 2,
			.ne = { 64, (uint64_t)(i + 1), 1, 1 } };
		snprintf(t[i].name, sizeof(t[i].name), "blk.%d.%s", i,
			 qvk_ggml_type_name(types[i]));
		t[i].size_bytes = 64 / be * bb * (uint64_t)(i + 1);
		data[i] = malloc(t[i].size_bytes);
		for (uint64_t j = 0; j < t[i].size_bytes; j++)
			data[i][j] = (uint8_t)qvk_test_rand(&rng);
		t[i].data = data[i];
		ck_assert_int_eq(qvk_gguf_writer_add_tensor(w, &t[i]), QVK_OK);
	}
	ck_assert_int_eq(qvk_gguf_writer_add_tensor(w, &t[0]), QVK_ERR_INVALID_ARG);
	snprintf(path, sizeof(path), "/tmp/qvk-rt-%d.gguf", (int)getpid());
	ck_assert_int_eq(qvk_gguf_writer_write(w, path), QVK_OK);
	qvk_gguf_writer_destroy(w);

	ck_assert_int_eq(qvk_gguf_open(qvk_test_ctx, path, &g), QVK_OK);
	remove(path);
	ck_assert_uint_eq(qvk_gguf_alignment(g), 64);
	ck_assert_int_eq(qvk_gguf_get_u32(qvk_test_ctx, g, "x.u32", &u32), QVK_OK);
	ck_assert_uint_eq(u32, 9);
	ck_assert_int_eq(qvk_gguf_get_u64(qvk_test_ctx, g, "x.u64", &u64), QVK_OK);
	ck_assert_uint_eq(u64, 1ull << 40);
	ck_assert_int_eq(qvk_gguf_get_u32(qvk_test_ctx, g, "x.u64", &u32),
			 QVK_ERR_FORMAT);
	ck_assert_int_eq(qvk_gguf_get_u32(qvk_test_ctx, g, "x.i32", &u32), QVK_OK);
	ck_assert_uint_eq(u32, 5);
	ck_assert_int_eq(qvk_gguf_get_f32(qvk_test_ctx, g, "x.f32", &f), QVK_OK);
	ck_assert(f == 0.125f);
	ck_assert_int_eq(qvk_gguf_get_bool(qvk_test_ctx, g, "x.bool", &bv), QVK_OK);
	ck_assert(bv);
	ck_assert_int_eq(qvk_gguf_get_str(qvk_test_ctx, g, "x.str", &s), QVK_OK);
	ck_assert(s.len == 5 && !memcmp(s.ptr, "hello", 5));
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(qvk_gguf_array_str(qvk_test_ctx,
				 qvk_gguf_find(g, "x.strs"), (uint64_t)i, &s), QVK_OK);
		ck_assert(s.len == lens[i] && !memcmp(s.ptr, strs[i], lens[i]));
	}
	ck_assert_uint_eq(qvk_gguf_find(g, "x.ints")->count, 4);
	ck_assert_mem_eq(qvk_gguf_find(g, "x.ints")->data, ints, sizeof(ints));
	ck_assert_uint_eq(qvk_gguf_tensor_count(g), 6);
	for (int i = 0; i < 6; i++) {
		const struct qvk_host_tensor *r = qvk_gguf_tensor_at(g, (uint64_t)i);

		ck_assert_str_eq(r->name, t[i].name);
		ck_assert_uint_eq(r->type, t[i].type);
		ck_assert_uint_eq(r->n_dims, 2);
		ck_assert_uint_eq(r->ne[0], 64);
		ck_assert_uint_eq(r->ne[1], (uint64_t)i + 1);
		ck_assert_uint_eq(r->size_bytes, t[i].size_bytes);
		ck_assert_uint_eq((uintptr_t)r->data % 64, 0);
		ck_assert_mem_eq(r->data, data[i], t[i].size_bytes);
		free(data[i]);
	}
	qvk_gguf_close(g);
}
END_TEST

/* Bytes of an entry's value (arrays: the elements). */
static size_t kv_value_bytes(const struct qvk_gguf_kv *kv)
{
	const uint8_t *p = kv->data;
	uint64_t len;

	if (kv->elem_type != QVK_GGUF_STRING) {
		static const size_t size[] = { 1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8 };

		return (size_t)kv->count * size[kv->elem_type];
	}
	for (uint64_t i = 0; i < kv->count; i++) {
		memcpy(&len, p, 8);
		p += 8 + len;
	}
	return (size_t)(p - kv->data);
}

/* The llama.cpp-written vocabulary file: metadata as llama.cpp wrote it. */
START_TEST(test_llama_cpp_file)
{
	char path[4096], out[4200];
	struct qvk_gguf *g, *g2;
	struct qvk_model *m = NULL;
	struct qvk_gguf_writer *w;
	uint32_t v;
	float eps;

	if (!qvk_test_model_path("ggml-vocab-llama-spm.gguf", path, sizeof(path)))
		return;
	ck_assert_int_eq(qvk_gguf_open(qvk_test_ctx, path, &g), QVK_OK);
	ck_assert_uint_eq(qvk_gguf_version(g), 3);
	ck_assert_uint_eq(qvk_gguf_tensor_count(g), 0);
	ck_assert_int_eq(qvk_gguf_get_u32(qvk_test_ctx, g, "llama.embedding_length",
					  &v), QVK_OK);
	ck_assert_uint_eq(v, 4096);
	ck_assert_int_eq(qvk_gguf_get_u32(qvk_test_ctx, g, "llama.block_count", &v),
			 QVK_OK);
	ck_assert_uint_eq(v, 32);
	ck_assert_int_eq(qvk_gguf_get_f32(qvk_test_ctx, g,
			 "llama.attention.layer_norm_rms_epsilon", &eps), QVK_OK);
	printf("%s: %llu keys, n_embd %u, rms eps %g\n", path,
	       (unsigned long long)qvk_gguf_kv_count(g), 4096, (double)eps);

	/* copy every entry into a new file; the copy reads back the same */
	ck_assert_int_eq(qvk_gguf_writer_create(qvk_test_ctx, &w), QVK_OK);
	for (uint64_t i = 0; i < qvk_gguf_kv_count(g); i++)
		ck_assert_int_eq(qvk_gguf_writer_copy_kv(w, qvk_gguf_kv_at(g, i)),
				 QVK_OK);
	snprintf(out, sizeof(out), "/tmp/qvk-copy-%d.gguf", (int)getpid());
	ck_assert_int_eq(qvk_gguf_writer_write(w, out), QVK_OK);
	qvk_gguf_writer_destroy(w);
	ck_assert_int_eq(qvk_gguf_open(qvk_test_ctx, out, &g2), QVK_OK);
	remove(out);
	ck_assert_uint_eq(qvk_gguf_kv_count(g2), qvk_gguf_kv_count(g));
	for (uint64_t i = 0; i < qvk_gguf_kv_count(g); i++) {
		const struct qvk_gguf_kv *a = qvk_gguf_kv_at(g, i);
		const struct qvk_gguf_kv *b = qvk_gguf_kv_at(g2, i);

		ck_assert(a->key.len == b->key.len &&
			  !memcmp(a->key.ptr, b->key.ptr, a->key.len));
		ck_assert_uint_eq(a->type, b->type);
		ck_assert_uint_eq(a->elem_type, b->elem_type);
		ck_assert_uint_eq(a->count, b->count);
		ck_assert_uint_eq(kv_value_bytes(a), kv_value_bytes(b));
		ck_assert_mem_eq(a->data, b->data, kv_value_bytes(a));
	}
	qvk_gguf_close(g2);

	/* a vocabulary file is no model: a clear error, no crash */
	ck_assert_int_eq(qvk_model_from_gguf(qvk_test_ctx, g, &m), QVK_ERR_FORMAT);
	ck_assert_ptr_null(m);
	printf("model from a vocabulary-only file: %s\n",
	       qvk_ctx_message(qvk_test_ctx));
}
END_TEST

Suite *suite_gguf(void);
Suite *suite_gguf(void)
{
	Suite *s = suite_create("gguf");
	TCase *ok = tcase_create("api");

	tcase_add_checked_fixture(ok, qvk_test_ctx_setup, qvk_test_ctx_teardown);
	tcase_add_test(ok, test_block_dequant);
	tcase_add_test(ok, test_writer_round_trip);
	tcase_add_test(ok, test_llama_cpp_file);
	suite_add_tcase(s, ok);
	return s;
}
