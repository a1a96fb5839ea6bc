/* SPDX-License-Identifier: MIT */
/*
 * The type table and the --keep rules (runtime/format/): every row agrees
 * with ggml's block sizes and with the qvk type numbering, names are
 * unique and found in any case; --keep rejects each kind of bad entry
 * with a message naming it, the first matching rule wins, a tied
 * classifier answers to output.weight, and a rule that matches nothing is
 * an error in qvk quantize and a warning when a model is loaded to run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/format.h>
#include <qvk/llm.h>
#include <qvk/quantize.h>

#include "harness.h"

/* Block sizes from ggml-common.h's static_asserts, written out again. */
static const struct {
	uint32_t id, elems, bytes;
} qvk_ggml_blocks[] = {
	{ QVK_GGML_TYPE_F32, 1, 4 },
	{ QVK_GGML_TYPE_F16, 1, 2 },
	{ QVK_GGML_TYPE_BF16, 1, 2 },
	{ QVK_GGML_TYPE_Q4_0, 32, 2 + 16 },
	{ QVK_GGML_TYPE_Q4_1, 32, 2 + 2 + 16 },
	{ QVK_GGML_TYPE_Q8_0, 32, 2 + 32 },
	{ QVK_GGML_TYPE_Q2_K, 256, 256 / 16 + 256 / 4 + 2 * 2 },
	{ QVK_GGML_TYPE_Q3_K, 256, 256 / 8 + 256 / 4 + 12 + 2 },
	{ QVK_GGML_TYPE_Q4_K, 256, 2 * 2 + 12 + 256 / 2 },
	{ QVK_GGML_TYPE_Q5_K, 256, 2 * 2 + 12 + 256 / 8 + 256 / 2 },
	{ QVK_GGML_TYPE_Q6_K, 256, 256 / 2 + 256 / 4 + 256 / 16 + 2 },
	{ QVK_GGML_TYPE_IQ4_NL, 32, 2 + 16 },
	{ QVK_GGML_TYPE_IQ4_XS, 256, 2 + 2 + 256 / 64 + 256 / 2 },
};

START_TEST(test_table_matches_ggml)
{
	const char *names[] = { "F32", "F16", "BF16", "Q4_0", "Q4_1", "Q8_0",
				"Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL",
				"IQ4_XS" };
	char list[512], label[QVK_TYPE_LABEL_MAX];

	for (size_t i = 0; i < sizeof(qvk_ggml_blocks) / sizeof(qvk_ggml_blocks[0]);
	     i++) {
		const struct qvk_type_info *t = qvk_type_info(qvk_ggml_blocks[i].id);

		ck_assert_ptr_nonnull(t);
		ck_assert_str_eq(t->name, names[i]);
		ck_assert_msg(t->block_elems == qvk_ggml_blocks[i].elems &&
				      t->block_bytes == qvk_ggml_blocks[i].bytes,
			      "%s: %u elements in %u bytes, ggml says %u in %u",
			      t->name, t->block_elems, t->block_bytes,
			      qvk_ggml_blocks[i].elems, qvk_ggml_blocks[i].bytes);
		ck_assert(t->gguf_native);
		ck_assert_int_eq(t->quantized, t->block_elems > 1);
		/* found by name, in any case */
		ck_assert_ptr_eq(qvk_type_find(names[i]), t);
		for (char *p = strcpy(list, names[i]); *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
		ck_assert_ptr_eq(qvk_type_find(list), t);
	}
	/* only named: the file is refused with the name */
	ck_assert_str_eq(qvk_ggml_type_name(16), "IQ2_XXS");
	ck_assert(!qvk_type_info(16)->readable);
	ck_assert_str_eq(qvk_type_label(16, label), "IQ2_XXS");
	ck_assert_str_eq(qvk_type_label(99, label), "unknown type 99");
	ck_assert_ptr_null(qvk_type_info(99));
	/* the list an error prints holds every readable type */
	ck_assert_uint_lt(qvk_type_readable_names(list, sizeof(list)), sizeof(list));
	ck_assert_ptr_nonnull(strstr(list, "F32, F16, Q4_0, Q4_1, Q8_0"));
	ck_assert_ptr_nonnull(strstr(list, "qvk's own 1024..1035"));
	printf("format: readable types: %s\n", list);
}
END_TEST

START_TEST(test_qvk_types_follow_the_numbering)
{
	static const uint32_t groups[4] = { QVK_GROUP_ROW, 32, 64, 128 };
	uint32_t seen = 0;

	for (uint32_t f = QVK_QFORMAT_Q8; f <= QVK_QFORMAT_Q4A; f++)
		for (uint32_t g = 0; g < 4; g++) {
			uint32_t id = QVK_GGML_TYPE_QVK_BASE + 4 * (f - 1) + g, group;
			const struct qvk_type_info *t = qvk_type_info(id);
			enum qvk_qformat qf;

			ck_assert_ptr_nonnull(t);
			ck_assert_uint_eq(qvk_ggml_type_qvk(f, groups[g]), id);
			ck_assert(qvk_ggml_type_is_qvk(id, &qf, &group));
			ck_assert_uint_eq(qf, f);
			ck_assert_uint_eq(group, groups[g]);
			ck_assert(t->readable && t->writable && !t->gguf_native);
			ck_assert_int_eq(t->kernel, QVK_KERNEL_GROUPED);
			ck_assert(qvk_group_valid(groups[g]));
			seen++;
		}
	ck_assert_uint_eq(seen, QVK_GGML_TYPE_QVK_COUNT);
	ck_assert(!qvk_ggml_type_is_qvk(QVK_GGML_TYPE_Q8_0, NULL, NULL));
	ck_assert(!qvk_group_valid(16) && !qvk_group_valid(256));
	ck_assert_uint_eq(qvk_ggml_type_gguf(QVK_QFORMAT_Q4A), QVK_GGML_TYPE_Q4_1);
}
END_TEST

START_TEST(test_format_names)
{
	enum qvk_weight_format f;
	uint32_t group = 7;

	ck_assert(qvk_weight_format_parse_type("q4a", &f, &group));
	ck_assert(f == QVK_WEIGHTS_Q4A && group == 7); /* group untouched */
	ck_assert(qvk_weight_format_parse_type("Q4_1", &f, &group));
	ck_assert(f == QVK_WEIGHTS_Q4A && group == 32);
	group = 7;
	ck_assert(qvk_weight_format_parse_type("q8_0", &f, &group));
	ck_assert(f == QVK_WEIGHTS_Q8 && group == 32);
	ck_assert(qvk_weight_format_parse_type("F16", &f, &group));
	ck_assert(f == QVK_WEIGHTS_F16);
	/* read but not written (yet): refused */
	ck_assert(!qvk_weight_format_parse_type("Q4_K", &f, &group));
	ck_assert(!qvk_weight_format_parse_type("BF16", &f, &group));
	ck_assert(!qvk_weight_format_parse_type("QVK_Q4_G64", &f, &group));
	ck_assert(!qvk_weight_format_parse_type("q5", &f, &group));
}
END_TEST

/* @list fails to parse, with a message containing @needle. */
static void qvk_keep_bad(const char *list, const char *needle)
{
	struct qvk_keep *k = (struct qvk_keep *)1;

	ck_assert_int_eq(qvk_keep_parse(qvk_test_ctx, list, &k),
			 QVK_ERR_INVALID_ARG);
	ck_assert_ptr_null(k);
	ck_assert_msg(strstr(qvk_ctx_message(qvk_test_ctx), needle),
		      "--keep %s: message '%s' lacks '%s'", list,
		      qvk_ctx_message(qvk_test_ctx), needle);
}

START_TEST(test_keep_rejects_bad_entries)
{
	char long_glob[300];

	qvk_keep_bad("output.weight=f16,blk.*", "'blk.*': no '='");
	qvk_keep_bad("=f16", "'=f16': the glob is empty");
	qvk_keep_bad("output.weight=q8", "'output.weight=q8': type 'q8' is not "
					 "f16 or f32");
	qvk_keep_bad("output.weight=f16x", "type 'f16x'");
	qvk_keep_bad("a=f16,,b=f32", "an empty entry");
	qvk_keep_bad("a=f16,", "an empty entry");
	memset(long_glob, 'a', 280);
	strcpy(long_glob + 280, "=f16");
	qvk_keep_bad(long_glob, "the glob is 280 bytes");
}
END_TEST

START_TEST(test_keep_lookup)
{
	struct qvk_keep *k;

	ck_assert_int_eq(qvk_keep_parse(qvk_test_ctx, NULL, &k), QVK_OK);
	ck_assert_uint_eq(qvk_keep_count(k), 0);
	ck_assert_int_eq(qvk_keep_lookup(k, "output.weight", NULL),
			 QVK_WEIGHTS_AUTO);
	qvk_keep_destroy(k);
	ck_assert_int_eq(qvk_keep_parse(qvk_test_ctx, "blk.0.*=F32,blk.*=f16,"
					"output.weight=f16,nothing*=f32", &k),
			 QVK_OK);
	ck_assert_uint_eq(qvk_keep_count(k), 4);
	ck_assert_str_eq(qvk_keep_rule(k, 1), "blk.*=f16");
	/* the first matching rule wins; every matching rule counts */
	ck_assert_int_eq(qvk_keep_lookup(k, "blk.0.attn_q.weight", NULL),
			 QVK_WEIGHTS_F32);
	ck_assert_int_eq(qvk_keep_lookup(k, "blk.1.attn_q.weight", NULL),
			 QVK_WEIGHTS_F16);
	/* a tied classifier: its own name and the alias */
	ck_assert_int_eq(qvk_keep_lookup(k, "token_embd.weight", "output.weight"),
			 QVK_WEIGHTS_F16);
	ck_assert_int_eq(qvk_keep_lookup(k, "token_embd.weight", NULL),
			 QVK_WEIGHTS_AUTO);
	ck_assert_uint_eq(qvk_keep_matches(k, 0), 1);
	ck_assert_uint_eq(qvk_keep_matches(k, 1), 2);
	ck_assert_uint_eq(qvk_keep_matches(k, 2), 1);
	ck_assert_uint_eq(qvk_keep_matches(k, 3), 0);
	qvk_keep_destroy(k);
}
END_TEST

/* stories260K (a classifier tied to the embedding) and its tokenizer. */
static struct qvk_model *qvk_stories(void)
{
	char path[512];

	return qvk_test_model_load(qvk_test_source_path("tests/data/stories260K.bin",
							path, sizeof(path)));
}

START_TEST(test_keep_in_quantize)
{
	struct qvk_model *m = qvk_stories();
	struct qvk_quantize_options o = { .format = QVK_WEIGHTS_Q8, .group = 32,
					  .keep = "output.weight=f16" };
	const struct qvk_model *qm;
	struct qvk_quantized *q;

	ck_assert(m->params.shared_classifier);
	/* the README's example: the tied classifier is output.weight */
	ck_assert_int_eq(qvk_quantize_model(qvk_test_ctx, m, &o, &q), QVK_OK);
	qm = qvk_quantized_model(q);
	ck_assert_int_eq(qm->output.type, QVK_GGML_TYPE_F16);
	ck_assert_int_eq(qm->layers[0].wq.type, QVK_GGML_TYPE_Q8_0);
	qvk_quantized_destroy(q);
	/* a rule that matches nothing: an error before any work, naming it */
	o.keep = "output.weight=f16,blk.*.ffn_dwn.weight=f32";
	ck_assert_int_eq(qvk_quantize_model(qvk_test_ctx, m, &o, &q),
			 QVK_ERR_INVALID_ARG);
	ck_assert_ptr_null(q);
	ck_assert_ptr_nonnull(strstr(qvk_ctx_message(qvk_test_ctx),
				     "--keep 'blk.*.ffn_dwn.weight=f32' matches "
				     "no tensor"));
	o.keep = "output.weight=f8";
	ck_assert_int_eq(qvk_quantize_model(qvk_test_ctx, m, &o, &q),
			 QVK_ERR_INVALID_ARG);
	qvk_model_destroy(m);
}
END_TEST

struct qvk_log_capture {
	char text[2048];
	uint32_t warnings;
};

static void qvk_capture_log(void *user, enum qvk_log_level level,
			    const char *message)
{
	struct qvk_log_capture *c = user;
	size_t len = strlen(c->text);

	if (level != QVK_LOG_WARN)
		return;
	c->warnings++;
	snprintf(c->text + len, sizeof(c->text) - len, "%s\n", message);
}

START_TEST(test_keep_in_run)
{
	struct qvk_model *m = qvk_stories();
	struct qvk_llm_options o = { .format = QVK_WEIGHTS_Q8, .group = 32,
				     .max_seq = 16,
				     .keep = "output.weight=f16,nope*=f32" };
	struct qvk_log_capture cap = { .text = "" };
	struct qvk_llm *llm;

	qvk_ctx_set_log(qvk_test_ctx, QVK_LOG_WARN, qvk_capture_log, &cap);
	ck_assert_int_eq(qvk_llm_create(qvk_test_dev, m, &o, &llm), QVK_OK);
	/* the tied classifier answered to output.weight */
	ck_assert_msg(strstr(qvk_llm_describe(llm), "classifier f16"), "%s",
		      qvk_llm_describe(llm));
	ck_assert_uint_eq(cap.warnings, 1);
	ck_assert_msg(strstr(cap.text, "--keep 'nope*=f32' matched no linear "
				       "layer"), "%s", cap.text);
	qvk_llm_destroy(llm);
	o.keep = "output.weight";
	ck_assert_int_eq(qvk_llm_create(qvk_test_dev, m, &o, &llm),
			 QVK_ERR_INVALID_ARG);
	ck_assert_ptr_nonnull(strstr(qvk_ctx_message(qvk_test_ctx),
				     "'output.weight': no '='"));
	qvk_model_destroy(m);
}
END_TEST

Suite *suite_format(void);
Suite *suite_format(void)
{
	Suite *s = suite_create("format");
	TCase *tc = tcase_create("table");

	tcase_add_checked_fixture(tc, qvk_test_ctx_setup, qvk_test_ctx_teardown);
	tcase_add_test(tc, test_table_matches_ggml);
	tcase_add_test(tc, test_qvk_types_follow_the_numbering);
	tcase_add_test(tc, test_format_names);
	tcase_add_test(tc, test_keep_rejects_bad_entries);
	tcase_add_test(tc, test_keep_lookup);
	tcase_add_test(tc, test_keep_in_quantize);
	suite_add_tcase(s, tc);
	tc = tcase_create("run");
	tcase_add_checked_fixture(tc, qvk_test_gpu_setup, qvk_test_gpu_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_keep_in_run);
	suite_add_tcase(s, tc);
	return s;
}
