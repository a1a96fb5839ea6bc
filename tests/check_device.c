/* SPDX-License-Identifier: MIT */
/* Device selection, the feature report, memory, buffer pieces, budgets. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/llm.h>
#include <qvk/model.h>

#include "harness.h"
#include "vk/vk.h"

static void qvk_unsetenv_device(void)
{
	unsetenv("QVK_DEVICE");
}

START_TEST(test_list_reports_lavapipe_features)
{
	struct qvk_device_info *infos = NULL;
	uint32_t count = 0, def = 0;

	ck_assert_int_eq(qvk_device_list(qvk_test_ctx, &infos, &count, &def),
			 QVK_OK);
	ck_assert_uint_gt(count, 0);
	ck_assert_uint_lt(def, count);
	for (uint32_t i = 0; i < count; i++) {
		const struct qvk_device_info *d = &infos[i];

		ck_assert_uint_eq(d->index, i);
		ck_assert(strlen(d->name) > 0);
		if (!d->usable)
			continue;
		/* Limits must be real numbers, whatever the device. */
		ck_assert_uint_gt(d->max_storage_buffer_range, 0);
		ck_assert_uint_gt(d->max_memory_allocation_size, 0);
		ck_assert_uint_gt(d->subgroup_size, 0);
		ck_assert_uint_le(d->min_subgroup_size, d->subgroup_size);
		ck_assert_uint_ge(d->max_subgroup_size, d->subgroup_size);
		/* Every device has a DRM node or says why not. */
		ck_assert(d->has_drm || strlen(d->drm_note) > 0);
#if !QVK_DRM
		ck_assert(!d->has_drm);
		ck_assert_msg(strstr(d->drm_note, "DRM matching is off"), "%s",
			      d->drm_note);
#endif
		if (d->type == QVK_DEVICE_CPU)
			ck_assert(!d->has_drm);
	}
	free(infos);
}
END_TEST

START_TEST(test_bad_qvk_device_lists_devices)
{
	struct qvk_device_options opt = { .select = "no-such-device" };
	struct qvk_device *dev = (struct qvk_device *)&opt;
	const char *msg;

	ck_assert_int_eq(qvk_device_create(qvk_test_ctx, &opt, &dev),
			 QVK_ERR_NOT_FOUND);
	ck_assert_ptr_null(dev);
	msg = qvk_ctx_message(qvk_test_ctx);
	ck_assert_msg(strstr(msg, "no-such-device") && strstr(msg, "0: "),
		      "message names the request and the devices: %s", msg);
	opt.select = "4294967296"; /* past UINT32_MAX: a name, matches none */
	ck_assert_int_eq(qvk_device_create(qvk_test_ctx, &opt, &dev),
			 QVK_ERR_NOT_FOUND);
	opt.select = "999";
	ck_assert_int_eq(qvk_device_create(qvk_test_ctx, &opt, &dev),
			 QVK_ERR_NOT_FOUND);
	ck_assert(strstr(qvk_ctx_message(qvk_test_ctx), "past the last"));
}
END_TEST

START_TEST(test_env_selects_by_index_and_name)
{
	struct qvk_device_info *infos = NULL;
	uint32_t count = 0, def = 0;
	char name[QVK_NAME_MAX];

	setenv("QVK_DEVICE", "0", 1);
	ck_assert_int_eq(qvk_device_list(qvk_test_ctx, &infos, &count, &def),
			 QVK_OK);
	ck_assert_uint_eq(def, 0);
	/* A case-changed prefix of the name selects the same device. */
	snprintf(name, sizeof(name), "%.4s", infos[0].name);
	for (char *p = name; *p; p++)
		*p = (char)(islower((unsigned char)*p) ? toupper((unsigned char)*p) :
							 tolower((unsigned char)*p));
	free(infos);
	setenv("QVK_DEVICE", name, 1);
	ck_assert_int_eq(qvk_device_list(qvk_test_ctx, &infos, &count, &def),
			 QVK_OK);
	ck_assert_uint_eq(def, 0);
	free(infos);
	setenv("QVK_DEVICE", "no-such-device", 1);
	ck_assert_int_eq(qvk_device_list(qvk_test_ctx, &infos, &count, &def),
			 QVK_OK);
	ck_assert_uint_eq(def, UINT32_MAX);
	free(infos);
	qvk_unsetenv_device();
}
END_TEST

START_TEST(test_device_create_with_validation)
{
	const struct qvk_device_info *d = qvk_device_info(qvk_test_dev);

	ck_assert(d->usable);
	ck_assert_int_eq(qvk_device_uses_int_dot(qvk_test_dev), d->int_dot);
}
END_TEST

/*
 * The validation layer must really be listening, or every "silent" run
 * proves nothing: a buffer with no usage bits breaks a VUID it checks.
 */
START_TEST(test_validation_layer_is_live)
{
	struct qvk_ctx *ctx;
	struct qvk_device *dev;
	struct qvk_device_options opt = { .validation = true };
	VkBufferCreateInfo bci = {
		.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
		.size = 256,
		.usage = 0,
	};
	VkBuffer b = VK_NULL_HANDLE;

	ck_assert_int_eq(qvk_ctx_create(&ctx), QVK_OK);
	qvk_ctx_set_log(ctx, QVK_LOG_SILENT, NULL, NULL);
	ck_assert_int_eq(qvk_device_create(ctx, &opt, &dev), QVK_OK);
	ck_assert_uint_eq(qvk_device_validation_messages(dev), 0);
	if (vkCreateBuffer(dev->device, &bci, NULL, &b) == VK_SUCCESS)
		vkDestroyBuffer(dev->device, b, NULL);
	ck_assert_uint_gt(qvk_device_validation_messages(dev), 0);
	qvk_device_destroy(dev);
	qvk_ctx_destroy(ctx);
}
END_TEST

START_TEST(test_buffer_pieces_obey_storage_range)
{
	struct qvk_device *dev = qvk_test_dev;
	VkDeviceSize range = dev->info.max_storage_buffer_range;
	/* Just past the range: needs two pieces on any device. */
	VkDeviceSize size = range + 4096 * 3;
	struct qvk_buffer *buf;
	uint64_t used, budget;
	uint32_t probe[4] = { 1, 2, 3, 4 }, back[4];

	ck_assert_int_eq(qvk_buffer_create(dev, QVK_MEM_UPLOAD, size, 4096, &buf),
			 QVK_OK);
	ck_assert_uint_ge(buf->n_pieces, 2);
	for (uint32_t i = 0; i < buf->n_pieces; i++) {
		ck_assert_uint_le(QVK_ALIGN_UP(buf->pieces[i].size_bytes, 16),
				  range);
		ck_assert_uint_eq(buf->pieces[i].offset_bytes % 4096, 0);
	}
	/* A write across the piece boundary reads back intact. */
	ck_assert_int_eq(qvk_buffer_write(buf, buf->piece_bytes - 8, probe, 16),
			 QVK_OK);
	ck_assert_int_eq(qvk_buffer_read(buf, buf->piece_bytes - 8, back, 16),
			 QVK_OK);
	ck_assert_mem_eq(probe, back, 16);
	ck_assert_int_eq(qvk_buffer_write(buf, size - 8, probe, 16),
			 QVK_ERR_INVALID_ARG);
	qvk_device_memory_usage(dev, &used, &budget);
	ck_assert_uint_ge(used, size);
	qvk_buffer_destroy(buf);
	qvk_device_memory_usage(dev, &used, &budget);
	ck_assert_uint_eq(used, 0);
}
END_TEST

START_TEST(test_suballocation_reuses_blocks)
{
	struct qvk_device *dev = qvk_test_dev;
	struct qvk_buffer *bufs[64];
	uint64_t seed = qvk_test_seed("suballocation");
	uint32_t n_blocks = 0;

	for (int i = 0; i < 64; i++) {
		VkDeviceSize size = 256 + qvk_test_rand(&seed) % (1 << 20);

		ck_assert_int_eq(qvk_buffer_create(dev, QVK_MEM_DEVICE, size, 4,
						   &bufs[i]),
				 QVK_OK);
	}
	n_blocks = qvk_memory_block_count(dev);
	/* 64 buffers of at most 1 MiB share one or two blocks, not 64. */
	ck_assert_uint_le(n_blocks, 2);
	/* Free every other one, then allocate again into the holes. */
	for (int i = 0; i < 64; i += 2)
		qvk_buffer_destroy(bufs[i]);
	for (int i = 0; i < 64; i += 2)
		ck_assert_int_eq(qvk_buffer_create(dev, QVK_MEM_DEVICE, 4096, 4,
						   &bufs[i]),
				 QVK_OK);
	for (int i = 0; i < 64; i++)
		qvk_buffer_destroy(bufs[i]);
	ck_assert_uint_eq(qvk_memory_block_count(dev), 0);
}
END_TEST

/*
 * A device of its own with @budget_bytes (0: none) and, when @heap_bytes,
 * every heap shrunk to that size as on a small GPU. Uploads stories260K:
 * returns the status, with every byte given back whatever happened.
 */
static qvk_status budget_upload(const struct qvk_model *model,
				uint64_t budget_bytes, uint64_t heap_bytes,
				char *msg, size_t msg_len)
{
	struct qvk_device_options dopt = { .validation = true,
					   .max_device_bytes = budget_bytes };
	struct qvk_llm_options lopt = { .format = QVK_WEIGHTS_Q8, .group = 32 };
	struct qvk_llm *llm = (struct qvk_llm *)&dopt; /* must be reset */
	struct qvk_device *dev;
	uint64_t used, budget;
	qvk_status st;

	ck_assert_int_eq(qvk_device_create(qvk_test_ctx, &dopt, &dev), QVK_OK);
	for (uint32_t h = 0; heap_bytes && h < dev->mem_props.memoryHeapCount; h++)
		dev->mem_props.memoryHeaps[h].size = heap_bytes;
	st = qvk_llm_create(dev, model, &lopt, &llm);
	snprintf(msg, msg_len, "%s", qvk_ctx_message(qvk_test_ctx));
	if (st == QVK_OK) {
		ck_assert_uint_le(dev->mem.held_bytes, budget_bytes ? budget_bytes :
								     UINT64_MAX);
		qvk_llm_destroy(llm);
	} else {
		ck_assert_msg(llm == NULL, "output not cleared");
	}
	qvk_device_memory_usage(dev, &used, &budget);
	ck_assert_uint_eq(used, 0);
	ck_assert_uint_eq(qvk_memory_block_count(dev), 0);
	ck_assert_uint_eq(dev->mem.held_bytes, 0);
	ck_assert_uint_eq(qvk_device_validation_messages(dev), 0);
	qvk_device_destroy(dev);
	return st;
}

/*
 * Issue #13 item 4: a model past the budget (max_device_bytes or
 * QVK_MAX_DEVICE_BYTES) or past a heap fails with QVK_ERR_DEVICE_MEMORY
 * naming the limit, at every point of the upload, and frees everything.
 */
START_TEST(test_budget_and_heap_refuse_cleanly)
{
	static const char *const bad[] = { "0", "-1", " 5", "0x10", "1M", "x",
					   "99999999999999999999999" };
	char path[4096], msg[512];
	struct qvk_model *model = qvk_test_model_load(qvk_test_source_path(
		"tests/data/stories260K.bin", path, sizeof(path)));
	struct qvk_device *dev;
	const uint64_t step = 64 << 10;
	uint64_t fits = 0;
	qvk_status st;

	/* Budgets from 64 KiB up, until the model fits (~1.1 MiB). */
	for (uint64_t b = step; !fits && b <= (8u << 20); b += step) {
		char want[64];

		st = budget_upload(model, b, 0, msg, sizeof(msg));
		if (st == QVK_OK) {
			fits = b;
			break;
		}
		snprintf(want, sizeof(want), "past the budget max_device_bytes=%llu",
			 (unsigned long long)b);
		ck_assert_msg(st == QVK_ERR_DEVICE_MEMORY && strstr(msg, want),
			      "budget %llu: %s: %s", (unsigned long long)b,
			      qvk_strerror(st), msg);
	}
	ck_assert_msg(fits, "stories260K did not fit in 8 MiB");
	printf("device budget: refused cleanly below %llu KiB (%llu budgets "
	       "tried), fits at %llu KiB: %s\n", (unsigned long long)fits >> 10,
	       (unsigned long long)(fits / step - 1),
	       (unsigned long long)fits >> 10, "freed all every time");

	/* A heap smaller than the model: named, as on a small GPU. */
	st = budget_upload(model, 0, fits / 2, msg, sizeof(msg));
	ck_assert_msg(st == QVK_ERR_DEVICE_MEMORY &&
			      strstr(msg, "past the size of memory heap"),
		      "%s: %s", qvk_strerror(st), msg);
	printf("device heap of %llu KiB: %s\n", (unsigned long long)fits >> 11,
	       msg);

	/* The variable, and what it refuses. Unset before any assert. */
	setenv("QVK_MAX_DEVICE_BYTES", "65536", 1);
	st = budget_upload(model, 0, 0, msg, sizeof(msg));
	unsetenv("QVK_MAX_DEVICE_BYTES");
	ck_assert_msg(st == QVK_ERR_DEVICE_MEMORY &&
			      strstr(msg, "QVK_MAX_DEVICE_BYTES=65536"),
		      "%s: %s", qvk_strerror(st), msg);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		dev = NULL;
		setenv("QVK_MAX_DEVICE_BYTES", bad[i], 1);
		st = qvk_device_create(qvk_test_ctx, NULL, &dev);
		unsetenv("QVK_MAX_DEVICE_BYTES");
		if (st == QVK_OK)
			qvk_device_destroy(dev);
		ck_assert_msg(st == QVK_ERR_INVALID_ARG &&
				      strstr(qvk_ctx_message(qvk_test_ctx),
					     "QVK_MAX_DEVICE_BYTES"),
			      "'%s': %s: %s", bad[i], qvk_strerror(st),
			      qvk_ctx_message(qvk_test_ctx));
	}
	qvk_model_destroy(model);
}
END_TEST

Suite *suite_device(void);
Suite *suite_device(void)
{
	Suite *s = suite_create("device");
	TCase *tc = tcase_create("selection");

	tcase_add_checked_fixture(tc, qvk_test_ctx_setup, qvk_test_ctx_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_list_reports_lavapipe_features);
	tcase_add_test(tc, test_bad_qvk_device_lists_devices);
	tcase_add_test(tc, test_validation_layer_is_live);
	tcase_add_test(tc, test_env_selects_by_index_and_name);
	suite_add_tcase(s, tc);

	tc = tcase_create("memory");
	tcase_add_checked_fixture(tc, qvk_test_gpu_setup, qvk_test_gpu_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_device_create_with_validation);
	tcase_add_test(tc, test_buffer_pieces_obey_storage_range);
	tcase_add_test(tc, test_suballocation_reuses_blocks);
	tcase_add_test(tc, test_budget_and_heap_refuse_cleanly);
	suite_add_tcase(s, tc);
	return s;
}
