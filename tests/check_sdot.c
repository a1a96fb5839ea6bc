/* SPDX-License-Identifier: MIT */
/*
 * The shared OpSDot wrapper (shaders/include/sdot.glsl) against the C
 * reference, in both variants, on fresh random packed inputs with the
 * extreme lanes (-128, 127) forced in, output poisoned before each run.
 */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "vk/vk.h"

static int32_t qvk_ref_sdot4(uint32_t a, uint32_t b)
{
	int32_t acc = 0;

	for (int lane = 0; lane < 4; lane++)
		acc += (int32_t)(int8_t)(a >> (8 * lane)) *
		       (int32_t)(int8_t)(b >> (8 * lane));
	return acc;
}

static void qvk_run_sdot(bool expect_int_dot)
{
	struct qvk_device *dev = qvk_test_dev;
	const uint32_t n_out = 4099, words = 8, n_in = n_out * words;
	struct qvk_pipeline_desc desc = {
		.shader = "sdot_test",
		.int_variants = true,
		.n_bindings = 3,
		.push_bytes = 8,
		.n_spec = 1,
		.spec = { 64 },
	};
	struct qvk_buffer *a, *b, *c;
	struct qvk_pipeline *pipe;
	struct qvk_cmd cmd;
	VkDescriptorSet set;
	uint64_t seed = qvk_test_seed(expect_int_dot ? "sdot intdot" :
						       "sdot fallback");
	uint32_t *ha = malloc(n_in * 4), *hb = malloc(n_in * 4), push[2];
	int32_t *hc = malloc(n_out * 4);

	ck_assert(ha && hb && hc);
	ck_assert_int_eq(qvk_device_uses_int_dot(dev),
			 expect_int_dot && dev->info.int_dot);
	for (uint32_t i = 0; i < n_in; i++) {
		ha[i] = (uint32_t)qvk_test_rand(&seed);
		hb[i] = (uint32_t)qvk_test_rand(&seed);
	}
	/* Extremes: -128*-128 summed is the largest lane product. */
	ha[0] = hb[0] = 0x80808080u;
	ha[1] = 0x7f7f7f7fu;
	hb[1] = 0x80808080u;
	ck_assert_int_eq(qvk_buffer_create(dev, QVK_MEM_DEVICE, n_in * 4, 4, &a),
			 QVK_OK);
	ck_assert_int_eq(qvk_buffer_create(dev, QVK_MEM_DEVICE, n_in * 4, 4, &b),
			 QVK_OK);
	ck_assert_int_eq(qvk_buffer_create(dev, QVK_MEM_READBACK, n_out * 4, 4,
					   &c),
			 QVK_OK);
	ck_assert_ptr_nonnull(qvk_buffer_piece_map(a, 0)); /* unified/host */
	ck_assert_int_eq(qvk_buffer_write(a, 0, ha, n_in * 4), QVK_OK);
	ck_assert_int_eq(qvk_buffer_write(b, 0, hb, n_in * 4), QVK_OK);
	ck_assert_int_eq(qvk_pipeline_create(dev, &desc, &pipe), QVK_OK);
	ck_assert_int_eq(qvk_descset_create(pipe,
					    (struct qvk_binding[]){
						    { a, 0, 0, 0 },
						    { b, 0, 0, 0 },
						    { c, 0, 0, 0 } },
					    &set),
			 QVK_OK);
	ck_assert_int_eq(qvk_cmd_init(dev, &cmd), QVK_OK);
	for (uint32_t wpo = 1; wpo <= words; wpo *= words) {
		uint32_t n = n_in / wpo;

		qvk_buffer_fill_u32(c, 0x7fc00001u); /* poison: a NaN pattern */
		push[0] = n;
		push[1] = wpo;
		ck_assert_int_eq(qvk_cmd_begin(&cmd), QVK_OK);
		qvk_cmd_dispatch(&cmd, pipe, set, push,
				 QVK_DIV_ROUND_UP(QVK_MIN(n, n_out), 64), 1, 1);
		qvk_cmd_barrier(&cmd);
		ck_assert_int_eq(qvk_cmd_submit_wait(&cmd, true), QVK_OK);
		ck_assert_int_eq(qvk_buffer_read(c, 0, hc, n_out * 4), QVK_OK);
		for (uint32_t i = 0; i < QVK_MIN(n, n_out); i++) {
			int32_t want = 0;

			for (uint32_t j = 0; j < wpo; j++)
				want += qvk_ref_sdot4(ha[i * wpo + j],
						      hb[i * wpo + j]);
			ck_assert_msg(hc[i] == want,
				      "out[%u] (%u words) = %d, want %d", i,
				      wpo, hc[i], want);
		}
	}
	ck_assert_int_eq(qvk_ref_sdot4(0x80808080u, 0x80808080u), 65536);
	qvk_cmd_finish(&cmd);
	qvk_pipeline_destroy(pipe);
	qvk_buffer_destroy(a);
	qvk_buffer_destroy(b);
	qvk_buffer_destroy(c);
	free(ha);
	free(hb);
	free(hc);
}

START_TEST(test_sdot_intdot_matches_reference)
{
	qvk_run_sdot(true);
}
END_TEST

START_TEST(test_sdot_fallback_matches_reference)
{
	qvk_run_sdot(false);
}
END_TEST

Suite *suite_sdot(void);
Suite *suite_sdot(void)
{
	Suite *s = suite_create("sdot");
	TCase *tc = tcase_create("intdot");

	tcase_add_checked_fixture(tc, qvk_test_gpu_setup, qvk_test_gpu_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_sdot_intdot_matches_reference);
	suite_add_tcase(s, tc);
	tc = tcase_create("fallback");
	tcase_add_checked_fixture(tc, qvk_test_gpu_fallback_setup,
				  qvk_test_gpu_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_sdot_fallback_matches_reference);
	suite_add_tcase(s, tc);
	return s;
}
