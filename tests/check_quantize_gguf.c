/* SPDX-License-Identifier: MIT */
/*
 * qvk's own GGUF tensor types (include/qvk/quantize.h) against hostile
 * files: an id past the range, a type whose size runs past the data, and a
 * NaN scale, each refused with a clear error; the valid file reads back
 * losslessly.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <qvk/model.h>
#include <qvk/quant.h>
#include <qvk/quantize.h>

#include "harness.h"

/* A tiny GGUF with one qvk-typed tensor, patched into hostile variants. */
START_TEST(test_qvk_type_hostile)
{
	struct qvk_quant_params qp = qvk_quant_params_default(QVK_QFORMAT_Q4,
							      64);
	struct qvk_host_tensor t = { .name = "t.weight", .n_dims = 2,
				     .ne = { 100, 3, 1, 1 } };
	struct qvk_qtensor *qt, *back;
	struct qvk_gguf_writer *w;
	struct qvk_gguf *g;
	uint32_t type;
	void *data;
	float x[300];
	char path[600];
	uint8_t *file, *p;
	size_t len, type_at, data_at;
	FILE *f;

	for (int i = 0; i < 300; i++)
		x[i] = sinf((float)i * 0.37f);
	ck_assert_int_eq(qvk_quantize_weights(qvk_test_ctx, "t", x, 3, 100, &qp,
					      &qt), QVK_OK);
	ck_assert_int_eq(qvk_qtensor_to_host_bytes(qvk_test_ctx, qt, &type,
						   &data, &t.size_bytes), QVK_OK);
	ck_assert_uint_eq(type, qvk_ggml_type_qvk(QVK_QFORMAT_Q4, 64));
	/* 3 rows of k_padded 128: 16 words + 2 fp16 scales = 68 bytes */
	ck_assert_uint_eq(t.size_bytes, 3 * 68);
	t.type = (enum qvk_ggml_type)type;
	t.data = data;
	snprintf(path, sizeof(path), "/tmp/qvk-qtype-%d.gguf", (int)getpid());
	ck_assert_int_eq(qvk_gguf_writer_create(qvk_test_ctx, &w), QVK_OK);
	ck_assert_int_eq(qvk_gguf_writer_add_tensor(w, &t), QVK_OK);
	ck_assert_int_eq(qvk_gguf_writer_write(w, path), QVK_OK);
	qvk_gguf_writer_destroy(w);
	f = fopen(path, "rb");
	file = malloc(4096);
	len = fread(file, 1, 4096, f);
	fclose(f);
	unlink(path);
	/* valid: reads back losslessly */
	ck_assert_int_eq(qvk_gguf_open_memory(qvk_test_ctx, file, len, &g),
			 QVK_OK);
	ck_assert_str_eq(qvk_ggml_type_name(qvk_gguf_tensor_at(g, 0)->type),
			 "QVK_Q4_G64");
	ck_assert_int_eq(qvk_qtensor_from_host(qvk_test_ctx,
					       qvk_gguf_tensor_at(g, 0), &back),
			 QVK_OK);
	ck_assert(!memcmp(back->qs, qt->qs, qvk_qtensor_qs_bytes(qt)));
	ck_assert(!memcmp(back->scales, qt->scales,
			  qvk_qtensor_scales_bytes(qt)));
	data_at = (size_t)((const uint8_t *)qvk_gguf_tensor_at(g, 0)->data -
			   file);
	qvk_qtensor_destroy(back);
	qvk_gguf_close(g);
	p = memmem(file, len, "t.weight", 8);
	ck_assert_ptr_nonnull(p);
	type_at = (size_t)(p - file) + 8 + 4 + 16;
	ck_assert_uint_eq(file[type_at] | file[type_at + 1] << 8, type);
	/* an id past qvk's range */
	file[type_at] = (uint8_t)(QVK_GGML_TYPE_QVK_BASE + 12);
	file[type_at + 1] = (uint8_t)((QVK_GGML_TYPE_QVK_BASE + 12) >> 8);
	ck_assert_int_eq(qvk_gguf_open_memory(qvk_test_ctx, file, len, &g),
			 QVK_ERR_UNSUPPORTED);
	printf("quantize hostile: %s\n", qvk_ctx_message(qvk_test_ctx));
	/* a larger type than the data holds (Q8 rows are 128 + 4 bytes) */
	type = qvk_ggml_type_qvk(QVK_QFORMAT_Q8, QVK_GROUP_ROW);
	file[type_at] = (uint8_t)type;
	file[type_at + 1] = (uint8_t)(type >> 8);
	ck_assert_int_eq(qvk_gguf_open_memory(qvk_test_ctx, file, len, &g),
			 QVK_ERR_FORMAT);
	printf("quantize hostile: %s\n", qvk_ctx_message(qvk_test_ctx));
	/* back to Q4_G64, with a NaN scale in row 1 */
	type = qvk_ggml_type_qvk(QVK_QFORMAT_Q4, 64);
	file[type_at] = (uint8_t)type;
	file[type_at + 1] = (uint8_t)(type >> 8);
	file[data_at + 3 * 64 + 2 * 2] = 0x00;
	file[data_at + 3 * 64 + 2 * 2 + 1] = 0x7e;
	ck_assert_int_eq(qvk_gguf_open_memory(qvk_test_ctx, file, len, &g),
			 QVK_OK);
	ck_assert_int_eq(qvk_qtensor_from_host(qvk_test_ctx,
					       qvk_gguf_tensor_at(g, 0), &back),
			 QVK_ERR_NUMERIC);
	printf("quantize hostile: %s\n", qvk_ctx_message(qvk_test_ctx));
	qvk_gguf_close(g);
	qvk_qtensor_destroy(qt);
	free(data);
	free(file);
}
END_TEST

Suite *suite_quantize_gguf(void);
Suite *suite_quantize_gguf(void)
{
	Suite *s = suite_create("quantize_gguf");
	TCase *tc = tcase_create("qvk types");

	tcase_add_checked_fixture(tc, qvk_test_ctx_setup, qvk_test_ctx_teardown);
	tcase_add_test(tc, test_qvk_type_hostile);
	suite_add_tcase(s, tc);
	return s;
}
