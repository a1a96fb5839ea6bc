/* SPDX-License-Identifier: MIT */
/*
 * Fault injection at the API (issue #13 items 4 and 5), in the test builds
 * that carry it (make check SANITIZE=1 or thread; other builds have no
 * hooks and this suite has no tests): an injected device loss on a submit
 * or on a wait reaches the caller as QVK_ERR_DEVICE_LOST with the call
 * named, stays lost for every later call, and the model, device and
 * context are destroyed cleanly; a failed vkCreate or allocation leaves
 * nothing behind and the next attempt works. The whole-command sweeps are
 * tests/fault/sweep.sh (make check-faults).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <qvk/llm.h>
#include <qvk/model.h>

#include "fault.h"
#include "harness.h"
#include "vk/vk.h"

Suite *suite_fault(void);

#if QVK_FAULT_INJECTION
static struct qvk_model *fault_model;

static void fault_setup(void)
{
	char path[4096];

	qvk_test_gpu_setup();
	fault_model = qvk_test_model_load(qvk_test_source_path(
		"tests/data/stories260K.bin", path, sizeof(path)));
}

static void fault_teardown(void)
{
	ck_assert(qvk_fault_arm(NULL));
	qvk_model_destroy(fault_model);
	fault_model = NULL;
	qvk_test_gpu_teardown();
}

/* Loss on the @nth submit-or-wait: every later forward says so too. */
static void fault_lost_at(const char *spec, const char *call)
{
	struct qvk_llm_options opt = { .format = QVK_WEIGHTS_Q8, .group = 32 };
	uint32_t tokens[4] = { 1, 403, 407, 261 };
	struct qvk_llm *llm = NULL;
	const float *logits;
	qvk_status st;

	ck_assert_int_eq(qvk_llm_create(qvk_test_dev, fault_model, &opt, &llm),
			 QVK_OK);
	/* Only device losses are injected: Check's allocations go through. */
	ck_assert(qvk_fault_arm(spec));
	st = qvk_llm_forward(llm, tokens, 4, 0, NULL, &logits);
	ck_assert_msg(st == QVK_ERR_DEVICE_LOST, "%s: %s: %s", spec,
		      qvk_strerror(st), qvk_ctx_message(qvk_test_ctx));
	ck_assert_msg(strstr(qvk_ctx_message(qvk_test_ctx), call) &&
			      strstr(qvk_ctx_message(qvk_test_ctx),
				     "VK_ERROR_DEVICE_LOST"),
		      "the message names %s: %s", call,
		      qvk_ctx_message(qvk_test_ctx));
	printf("fault %s: %s: %s\n", spec, qvk_strerror(st),
	       qvk_ctx_message(qvk_test_ctx));
	/* A lost device stays lost: decode too. */
	ck_assert_int_eq(qvk_llm_forward(llm, tokens, 1, 4, NULL, &logits),
			 QVK_ERR_DEVICE_LOST);
	ck_assert_uint_ge(qvk_fault_calls("lost"), 2);
	qvk_llm_destroy(llm);
}

START_TEST(test_device_lost_on_submit)
{
	fault_lost_at("vkQueueSubmit:1", "vkQueueSubmit");
}
END_TEST

START_TEST(test_device_lost_on_wait)
{
	fault_lost_at("vkWaitForFences:1", "vkWaitForFences");
}
END_TEST

/* The Nth vkCreate* of a model upload fails cleanly, for N all along. */
START_TEST(test_create_and_alloc_fail_then_work)
{
	static const char *const sites[] = { "vkCreate", "vkAllocate", "malloc" };
	struct qvk_llm_options opt = { .format = QVK_WEIGHTS_Q4A, .group = 64 };
	struct qvk_llm *llm = NULL;
	uint64_t seed = qvk_test_seed("fault upload points");
	char spec[64];

	/*
	 * A first upload on a fresh device tunes the matmul kernels (its own
	 * vkCreate calls, whose failure only keeps the defaults: not an
	 * error); the counted uploads below are the steady ones after it.
	 */
	ck_assert_int_eq(qvk_llm_create(qvk_test_dev, fault_model, &opt, &llm),
			 QVK_OK);
	qvk_llm_destroy(llm);
	for (size_t s = 0; s < sizeof(sites) / sizeof(sites[0]); s++) {
		uint64_t calls, tried = 0;

		qvk_status st;

		qvk_fault_arm("count");
		st = qvk_llm_create(qvk_test_dev, fault_model, &opt, &llm);
		calls = qvk_fault_calls(sites[s]);
		qvk_fault_arm(NULL);
		ck_assert_int_eq(st, QVK_OK);
		qvk_llm_destroy(llm);
		ck_assert_uint_gt(calls, 0);
		/*
		 * Up to 16 points spread over the upload (each upload costs
		 * ~0.6 s under ASan), from a seeded offset: runs cover
		 * different points, QVK_TEST_SEED replays one.
		 */
		uint64_t stride = calls / 16 + 1;

		for (uint64_t n = 1 + seed % stride; n <= calls;
		     n += stride, tried++) {
			bool armed;

			snprintf(spec, sizeof(spec), "%s:%llu", sites[s],
				 (unsigned long long)n);
			llm = (struct qvk_llm *)spec; /* must be reset */
			/*
			 * Check itself is linked statically, so its own
			 * allocations are wrapped too: armed only around the
			 * call, never around a ck_assert.
			 */
			armed = qvk_fault_arm(spec);
			st = qvk_llm_create(qvk_test_dev, fault_model, &opt, &llm);
			qvk_fault_arm(NULL);
			ck_assert(armed);
			if (st == QVK_OK)
				qvk_llm_destroy(llm);
			ck_assert_msg(st != QVK_OK, "%s: not reported", spec);
			ck_assert_msg(llm == NULL, "%s: output not cleared", spec);
			ck_assert_msg(*qvk_ctx_message(qvk_test_ctx) ||
					      st == QVK_ERR_NO_MEMORY,
				      "%s: %s without a message", spec,
				      qvk_strerror(st));
		}
		/* Nothing broken: the next upload works. */
		ck_assert_int_eq(qvk_llm_create(qvk_test_dev, fault_model, &opt,
						&llm),
				 QVK_OK);
		qvk_llm_destroy(llm);
		printf("fault %s: %llu calls in a model upload, %llu of them "
		       "failed in turn: each reported, nothing left\n", sites[s],
		       (unsigned long long)calls, (unsigned long long)tried);
	}
}
END_TEST

START_TEST(test_bad_plans_refused)
{
	static const char *const bad[] = { "", "vkCreate", "vkCreate:0",
		"vkCreate:x", "malloc:1,", "nosuch:3", ":4",
		"vkCreate:1,vkCreate:2,vkCreate:3,vkCreate:4,vkCreate:5,"
		"vkCreate:6,vkCreate:7,vkCreate:8,vkCreate:9" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(!qvk_fault_arm(bad[i]), "'%s' accepted", bad[i]);
	ck_assert(qvk_fault_arm("vkCreateBuffer:2,malloc:10"));
	ck_assert(qvk_fault_arm("count"));
}
END_TEST
#endif

Suite *suite_fault(void)
{
	Suite *s = suite_create("fault");
#if QVK_FAULT_INJECTION
	TCase *tc = tcase_create("injected");

	tcase_add_checked_fixture(tc, fault_setup, fault_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, test_device_lost_on_submit);
	tcase_add_test(tc, test_device_lost_on_wait);
	tcase_add_test(tc, test_create_and_alloc_fail_then_work);
	tcase_add_test(tc, test_bad_plans_refused);
	suite_add_tcase(s, tc);
#endif
	return s;
}
