/* SPDX-License-Identifier: MIT */
/*
 * Split-KV decode attention (runtime/ops/attn_split.c) against the C
 * reference, its argument checks, and the tuning that chooses it
 * (runtime/ops/attn_tune.c). Tolerance as check_ops_attn.c's attention:
 * |gpu - ref| <= 2e-5 + 1e-4 |ref| (the merge adds one rescaling per split).
 */
#include "check_ops_attn.h"

/*
 * Split-KV decode against the reference: with S = split_min, one position;
 * fewer positions than the splits cover (splits past the context never
 * run, and their poisoned partials must not be read); a context not a
 * multiple of the split length; one exactly filling every split; several
 * GMAX variants (GQA 8, 4, 3 = GMAX 1, MQA), 2 tokens, a peaked softmax
 * (large q: one split's maximum dominates the merge), and 4096 positions
 * of TinyLlama's heads.
 */
START_TEST(test_attention_split_matches_reference)
{
	uint64_t seed = qvk_test_seed("attention split");
	struct qvk_ops ops;

	qvk_ops_test_init(&ops, _i);
	uint32_t s = qvk_ops_attn_split_tile(&ops);
	const struct qvk_attn_case cases[] = {
		{ 64, 8, 4, 512, 1, 0, 1.0f, 4, 1 },          /* n = 1 */
		{ 64, 8, 4, 512, 1, s + 2, 1.0f, 4, 1 },      /* 2 of 4 active */
		{ 64, 8, 4, 16 * s, 1, 8 * s - 6, 1.0f, 4, 1 }, /* last one short */
		{ 64, 8, 4, 16 * s, 1, 8 * s - 1, 1.0f, 4, 1 }, /* all exactly full */
		{ 128, 16, 2, 12 * s, 1, 12 * s - 1, 1.0f, 3, 2 }, /* GMAX 8 */
		{ 64, 12, 3, 9 * s, 1, 7 * s + 3, 1.0f, 5, 1 },  /* GMAX 4 */
		{ 64, 6, 2, 9 * s, 1, 9 * s - 1, 1.0f, 7, 1 },   /* G = 3 */
		{ 48, 8, 1, 10 * s, 2, 6 * s - 1, 1.0f, 2, 1 },  /* MQA, m = 2 */
		{ 64, 6, 6, 8 * s, 1, 8 * s - 3, 20.0f, 8, 1 },  /* peaked */
		{ 64, 32, 4, 4096, 1, 4095, 1.0f, 16, 64 / s ? 64 / s : 1 },
	};
	for (size_t c = 0; c < QVK_ARRAY_SIZE(cases); c++)
		qvk_attn_run_case(&ops, &seed, &cases[c]);
	qvk_ops_finish(&ops);
}
END_TEST

/* Split counts, lengths and buffers that the kernels cannot take. */
START_TEST(test_attention_split_rejects_bad_args)
{
	struct qvk_ops_model mdl = qvk_attn_model(64, 8, 4, 512);
	struct qvk_buffer *step, *qb, *kcb, *vcb, *ob, *pb;
	struct qvk_ops ops;
	struct qvk_op op[2];
	uint32_t s;

	qvk_ops_test_init(&ops, _i);
	s = qvk_ops_attn_split_tile(&ops);
	step = qvk_attn_step_buffer(1);
	qb = qvk_ops_test_buffer(NULL, 4ull * 8 * 64);
	kcb = qvk_ops_test_buffer(NULL, qvk_ops_kv_layer_bytes(&mdl));
	vcb = qvk_ops_test_buffer(NULL, qvk_ops_kv_layer_bytes(&mdl));
	ob = qvk_ops_test_buffer(NULL, 4ull * 8 * 64);
	pb = qvk_ops_test_buffer(NULL, qvk_ops_attention_split_bytes(&mdl, 1, 4));
	const struct {
		uint32_t splits, split_min;
		const char *why;
	} bad[] = {
		{ 1, s, "one split" },
		{ QVK_OPS_ATTN_MAX_SPLITS + 1, s, "too many splits" },
		{ 4, 0, "no minimum length" },
		{ 4, s + (s > 1), "length off the tile" },
		{ 5, s, "partials too small" },
	};
	for (size_t i = 0; i < QVK_ARRAY_SIZE(bad); i++) {
		qvk_status st;

		if (i == 3 && s == 1)
			continue; /* every length is a multiple of 1 */
		st = qvk_ops_attention_split_bind(
			&ops, op, &mdl, 1, bad[i].splits, bad[i].split_min,
			QVK_WHOLE(step), QVK_WHOLE(qb), QVK_WHOLE(kcb),
			QVK_WHOLE(vcb), QVK_WHOLE(pb), QVK_WHOLE(ob));
		ck_assert_msg(st == QVK_ERR_INVALID_ARG, "%s: %s", bad[i].why,
			      qvk_strerror(st));
		printf("  refused (%s): %s\n", bad[i].why,
		       qvk_ctx_message(qvk_test_ctx));
	}
	qvk_buffer_destroy(step);
	qvk_buffer_destroy(qb);
	qvk_buffer_destroy(kcb);
	qvk_buffer_destroy(vcb);
	qvk_buffer_destroy(ob);
	qvk_buffer_destroy(pb);
	qvk_ops_finish(&ops);
}
END_TEST

/*
 * The tuning (attn_tune.c) on this device: a workgroup count it can have
 * chosen and a prefill kernel, stored beside the pipeline cache; a stored
 * choice is what the next start uses (a planted one shows it, and turns into splits
 * per kv head for a model), and a malformed file means tuning again and
 * replacing it.
 */
static void qvk_attn_tune_write(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	ck_assert_int_eq(fclose(f), 0);
}

START_TEST(test_attention_tune_stores_choice)
{
	struct qvk_device *dev = qvk_test_dev;
	struct qvk_ops_model tiny = qvk_attn_model(64, 32, 4, 4096);
	char saved[sizeof(dev->pipeline_cache_path)];
	char dir[256], path[600], header[64], text[256], desc[700];
	char *file;
	size_t len;
	struct qvk_ops ops;

	memcpy(saved, dev->pipeline_cache_path, sizeof(saved));
	qvk_test_tmpdir("attn-tune", dir, sizeof(dir));
	snprintf(dev->pipeline_cache_path, sizeof(dev->pipeline_cache_path),
		 "%s/sub/dev.pipelines", dir);
	snprintf(path, sizeof(path), "%s/sub/dev-attention.tune", dir);

	dev->attn_tuned = false;
	qvk_ops_test_init(&ops, 0);
	qvk_ops_attn_tune(&ops);
	qvk_ops_attn_describe(&ops, desc, sizeof(desc));
	printf("  tuned: %s\n", desc);
	ck_assert_msg(strstr(desc, "ms per token"), "'%s'", desc);
	ck_assert_msg(strstr(desc, "prefill ms for") && strstr(desc, "; prefill: "),
		      "'%s'", desc);
	ck_assert_msg(ops.attn_split_wgs % 4 == 0 && ops.attn_split_wgs <= 128 &&
			      ops.attn_split_wgs != 4,
		      "%u workgroups", ops.attn_split_wgs);
	qvk_ops_finish(&ops);
	file = qvk_test_read_file(path, &len);
	ck_assert_ptr_nonnull(file);
	ck_assert_msg(!strncmp(file, "qvk-attention-tune 2 ", 21), "'%s'", file);
	snprintf(header, sizeof(header), "%.*s", (int)strcspn(file, "\n") + 1,
		 file);
	free(file);

	/* Planted: used as is, by this start and the device's later ones. */
	snprintf(text, sizeof(text), "%ssplit_wgs 32\nprefill tiled-small\nnote planted\n", header);
	qvk_attn_tune_write(path, text);
	dev->attn_tuned = false;
	for (int again = 0; again < 2; again++) {
		qvk_ops_test_init(&ops, 0);
		qvk_ops_attn_tune(&ops);
		qvk_ops_attn_describe(&ops, desc, sizeof(desc));
		ck_assert_uint_eq(ops.attn_split_wgs, 32);
		ck_assert_uint_eq(ops.attn_prefill, QVK_ATTN_PREFILL_TILED_SMALL);
		ck_assert_msg(strstr(desc, "prefill: tiled-small"), "'%s'", desc);
		ck_assert_msg(strstr(desc, "split-KV") && strstr(desc, "planted"),
			      "'%s'", desc);
		/* 32 workgroups over TinyLlama's 4 kv heads: 8 splits each. */
		ck_assert_uint_eq(qvk_ops_attention_splits(&ops, &tiny, 1), 8);
		qvk_ops_finish(&ops);
	}

	/* Malformed (a count no candidate gives): tuned again, replaced. */
	snprintf(text, sizeof(text), "%ssplit_wgs 33\nprefill tiled\nnote planted\n", header);
	qvk_attn_tune_write(path, text);
	dev->attn_tuned = false;
	qvk_ops_test_init(&ops, 0);
	qvk_ops_attn_tune(&ops);
	qvk_ops_attn_describe(&ops, desc, sizeof(desc));
	ck_assert_msg(!strstr(desc, "planted"), "'%s'", desc);
	qvk_ops_finish(&ops);
	file = qvk_test_read_file(path, &len);
	ck_assert_ptr_nonnull(file);
	ck_assert_msg(!strncmp(file, header, strlen(header)) &&
			      !strstr(file, "planted"), "'%s'", file);
	free(file);

	memcpy(dev->pipeline_cache_path, saved, sizeof(saved));
	qvk_test_rmtree(dir);
}
END_TEST

Suite *suite_ops_attn_split(void);
Suite *suite_ops_attn_split(void)
{
	Suite *s = suite_create("ops_attn_split");
	TCase *tc = tcase_create("split");

	tcase_add_checked_fixture(tc, qvk_test_gpu_setup, qvk_test_gpu_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_attention_split_matches_reference, 0, 2);
	tcase_add_loop_test(tc, test_attention_split_rejects_bad_args, 0, 2);
	tcase_add_test(tc, test_attention_tune_stores_choice);
	suite_add_tcase(s, tc);
	return s;
}
