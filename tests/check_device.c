/* SPDX-License-Identifier: MIT */
/* Device selection, the feature report, memory and buffer pieces. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
	suite_add_tcase(s, tc);
	return s;
}
