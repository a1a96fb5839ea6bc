/* SPDX-License-Identifier: MIT */
/*
 * suite_telemetry_gpu_libs: libqvk telemetry through libdrm_amdgpu and
 * NVML, with fake entry points injected at the library boundary, and the
 * real libraries' failure paths on a machine without the hardware.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "telemetry_fixtures.h"
#include "telemetry/telemetry_internal.h"

#if QVK_DRM
#include <amdgpu_drm.h>
#endif

/* -------------------------------------------------------- amdgpu (fake) */
#if QVK_DRM

/* The fake device behind the fake libdrm_amdgpu; tests set its answers. */
static struct {
	uint32_t power_w, sclk_mhz, mclk_mhz, temp_mc;
	int power_err;
	int opens, closes, inits, deinits;
	char last_path[64];
} fake_gpu;

static int fake_open_node(void *user, const char *path)
{
	(void)user;
	fake_gpu.opens++;
	snprintf(fake_gpu.last_path, sizeof(fake_gpu.last_path), "%s", path);
	return 100 + fake_gpu.opens;
}

static void fake_close_node(void *user, int fd)
{
	(void)user;
	(void)fd;
	fake_gpu.closes++;
}

static int fake_device_initialize(int fd, uint32_t *major, uint32_t *minor,
				  amdgpu_device_handle *dev)
{
	(void)fd;
	*major = 3;
	*minor = 54;
	*dev = (amdgpu_device_handle)&fake_gpu;
	fake_gpu.inits++;
	return 0;
}

static int fake_device_deinitialize(amdgpu_device_handle dev)
{
	ck_assert_ptr_eq(dev, (amdgpu_device_handle)&fake_gpu);
	fake_gpu.deinits++;
	return 0;
}

static int fake_query_sensor_info(amdgpu_device_handle dev, unsigned sensor,
				  unsigned size, void *value)
{
	uint32_t v;

	ck_assert_ptr_eq(dev, (amdgpu_device_handle)&fake_gpu);
	ck_assert_uint_eq(size, 4);
	switch (sensor) {
	case AMDGPU_INFO_SENSOR_GPU_AVG_POWER:
		if (fake_gpu.power_err)
			return fake_gpu.power_err;
		v = fake_gpu.power_w;
		break;
	case AMDGPU_INFO_SENSOR_GFX_SCLK: v = fake_gpu.sclk_mhz; break;
	case AMDGPU_INFO_SENSOR_GFX_MCLK: v = fake_gpu.mclk_mhz; break;
	case AMDGPU_INFO_SENSOR_GPU_TEMP: v = fake_gpu.temp_mc; break;
	default: return -22;
	}
	memcpy(value, &v, sizeof(v));
	return 0;
}

static const struct qvk_amdgpu_api fake_amdgpu = {
	.open_node = fake_open_node,
	.close_node = fake_close_node,
	.device_initialize = fake_device_initialize,
	.device_deinitialize = fake_device_deinitialize,
	.query_sensor_info = fake_query_sensor_info,
};

static void fake_gpu_reset(void)
{
	memset(&fake_gpu, 0, sizeof(fake_gpu));
	fake_gpu.power_w = 180;
	fake_gpu.sclk_mhz = 2500;
	fake_gpu.mclk_mhz = 1250;
	fake_gpu.temp_mc = 61000;
}

START_TEST(test_amdgpu_fake)
{
	const struct qvk_telemetry_backends fake = { .amdgpu = &fake_amdgpu };
	struct qvk_energy_window *w;
	struct qvk_energy_result r;
	struct qvk_telemetry *t;
	int gpu;

	fake_gpu_reset();
	t = telem_open(telem_fixture("drm"), ONLY(QVK_TELEMETRY_AMDGPU), &fake);
	gpu = telem_find_domain(t, "amdgpu renderD128");
	ck_assert_uint_eq(qvk_telemetry_domain_count(t), 1); /* not renderD129 (i915) */
	ck_assert_int_eq(gpu, 0);
	ck_assert_str_eq(fake_gpu.last_path, "/dev/dri/renderD128");
	ck_assert(!qvk_telemetry_domain(t, gpu)->counter);
	ck_assert_double_eq(qvk_telemetry_domain(t, gpu)->resolution, 1.0);

	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	qvk_test_sleep_ms(20);
	ck_assert_int_eq(qvk_energy_window_end(t, w, &r), QVK_OK);
	ck_assert_msg(r.domains[gpu].valid, "%s", r.domains[gpu].note);
	ck_assert_double_eq_tol(r.domains[gpu].avg_w, 180.0, 1e-9);
	ck_assert_double_eq(telem_find_clock(&r, "amdgpu0_sclk_mhz")->value, 2500);
	ck_assert_double_eq(telem_find_clock(&r, "amdgpu0_mclk_mhz")->value, 1250);
	ck_assert_double_eq_tol(telem_find_clock(&r, "amdgpu0_temp_c")->value, 61.0, 1e-9);

	/* A garbled sensor answer spoils the window with a reason. */
	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	fake_gpu.power_w = 90000;
	ck_assert_int_eq(qvk_energy_window_end(t, w, &r), QVK_OK);
	ck_assert(!r.domains[gpu].valid);
	ck_assert_msg(strstr(r.domains[gpu].note, "not plausible"), "%s", r.domains[gpu].note);
	qvk_telemetry_destroy(t);
	ck_assert_int_eq(fake_gpu.inits, fake_gpu.deinits);
	ck_assert_int_eq(fake_gpu.opens, fake_gpu.closes);
}
END_TEST

START_TEST(test_amdgpu_matched_node_without_power)
{
	const struct qvk_telemetry_backends fake = { .amdgpu = &fake_amdgpu };
	struct qvk_telemetry_options opt = {
		.sysfs_root = telem_fixture("drm"),
		.module_path = "/nonexistent",
		.drm_render_node = "/dev/dri/renderD131",
		.disable = ONLY(QVK_TELEMETRY_AMDGPU),
		.poll_period_s = -1,
	};
	struct qvk_energy_window *w;
	struct qvk_energy_result r;
	struct qvk_telemetry *t = NULL;

	fake_gpu_reset();
	fake_gpu.power_err = -95; /* -EOPNOTSUPP */
	ck_assert_int_eq(qvk_telemetry_create_with(qvk_test_ctx, &opt, &fake, &t), QVK_OK);
	ck_assert_str_eq(fake_gpu.last_path, "/dev/dri/renderD131");
	ck_assert_uint_eq(qvk_telemetry_domain_count(t), 0);
	telem_describes(t, "no average power sensor");
	telem_describes(t, "clocks only");
	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	ck_assert_int_eq(qvk_energy_window_end(t, w, &r), QVK_OK);
	ck_assert_ptr_nonnull(telem_find_clock(&r, "amdgpu0_sclk_mhz"));
	qvk_telemetry_destroy(t);
	ck_assert_int_eq(fake_gpu.inits, fake_gpu.deinits);
}
END_TEST

START_TEST(test_amdgpu_real_library_no_device)
{
	/* The real dlopen path against a node that does not exist. */
	struct qvk_telemetry *t = telem_open(telem_fixture("drm"), ONLY(QVK_TELEMETRY_AMDGPU),
						 NULL);

	ck_assert_uint_eq(qvk_telemetry_domain_count(t), 0);
	ck_assert(strstr(qvk_telemetry_describe(t), "amdgpu: /dev/dri/renderD128:") ||
		  strstr(qvk_telemetry_describe(t), "libdrm_amdgpu.so.1 not loadable"));
	qvk_telemetry_destroy(t);
}
END_TEST

#else
START_TEST(test_amdgpu_off_without_drm)
{
	/* A QVK_DRM=0 build has no amdgpu source, and says so. */
	struct qvk_telemetry *t = telem_open(telem_fixture("drm"), ONLY(QVK_TELEMETRY_AMDGPU),
						 NULL);

	ck_assert_uint_eq(qvk_telemetry_domain_count(t), 0);
	telem_describes(t, "amdgpu: off: libqvk was built with QVK_DRM=0");
	qvk_telemetry_destroy(t);
}
END_TEST
#endif

/* ---------------------------------------------------------- NVML (fake) */

static struct {
	unsigned long long energy_mj;
	unsigned power_mw;
	int energy_err, init_err;
	int inits, shutdowns;
} fake_nv;
static int fake_nv_device;

static qvk_nvml_return fake_nv_init(void) { fake_nv.inits++; return fake_nv.init_err; }
static qvk_nvml_return fake_nv_shutdown(void) { fake_nv.shutdowns++; return 0; }
static qvk_nvml_return fake_nv_count(unsigned *n) { *n = 1; return 0; }

static qvk_nvml_return fake_nv_handle(unsigned i, qvk_nvml_device *dev)
{
	ck_assert_uint_eq(i, 0);
	*dev = &fake_nv_device;
	return 0;
}

static qvk_nvml_return fake_nv_name(qvk_nvml_device dev, char *name, unsigned len)
{
	(void)dev;
	snprintf(name, len, "NVIDIA Fake 4090");
	return 0;
}

static qvk_nvml_return fake_nv_energy(qvk_nvml_device dev, unsigned long long *mj)
{
	ck_assert_ptr_eq(dev, &fake_nv_device);
	*mj = fake_nv.energy_mj;
	return fake_nv.energy_err;
}

static qvk_nvml_return fake_nv_power(qvk_nvml_device dev, unsigned *mw)
{
	(void)dev;
	*mw = fake_nv.power_mw;
	return 0;
}

static qvk_nvml_return fake_nv_clock(qvk_nvml_device dev, int type, unsigned *mhz)
{
	(void)dev;
	*mhz = type == 1 ? 2520 : 10501;
	return 0;
}

static qvk_nvml_return fake_nv_throttle(qvk_nvml_device dev, unsigned long long *r)
{
	(void)dev;
	*r = 0x4; /* SW power cap */
	return 0;
}

static qvk_nvml_return fake_nv_temp(qvk_nvml_device dev, int sensor, unsigned *c)
{
	(void)dev;
	ck_assert_int_eq(sensor, 0);
	*c = 70;
	return 0;
}

static const struct qvk_nvml_api fake_nvml = {
	.init = fake_nv_init,
	.shutdown = fake_nv_shutdown,
	.device_count = fake_nv_count,
	.device_handle = fake_nv_handle,
	.device_name = fake_nv_name,
	.total_energy = fake_nv_energy,
	.power_usage = fake_nv_power,
	.clock_info = fake_nv_clock,
	.throttle_reasons = fake_nv_throttle,
	.temperature = fake_nv_temp,
};

START_TEST(test_nvml_energy_counter)
{
	const struct qvk_telemetry_backends fake = { .nvml = &fake_nvml };
	struct qvk_energy_window *w;
	struct qvk_energy_result r;
	struct qvk_telemetry *t;

	memset(&fake_nv, 0, sizeof(fake_nv));
	fake_nv.energy_mj = 123456789;
	t = telem_open(telem_fixture("drm"), ONLY(QVK_TELEMETRY_NVML), &fake);
	ck_assert_uint_eq(qvk_telemetry_domain_count(t), 1);
	ck_assert_str_eq(qvk_telemetry_domain(t, 0)->name, "nvidia0 NVIDIA Fake 4090");
	ck_assert(qvk_telemetry_domain(t, 0)->counter);

	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	qvk_test_sleep_ms(10);
	fake_nv.energy_mj += 1500;
	ck_assert_int_eq(qvk_energy_window_end(t, w, &r), QVK_OK);
	ck_assert_msg(r.domains[0].valid, "%s", r.domains[0].note);
	ck_assert_double_le(fabs(r.domains[0].energy_j - 1.5), r.domains[0].error_bound_j);
	ck_assert_double_eq_tol(r.domains[0].energy_j, 1.5, 1.5 * 1e-2);
	ck_assert_double_eq(telem_find_clock(&r, "nvidia0_sm_mhz")->value, 2520);
	ck_assert_double_eq(telem_find_clock(&r, "nvidia0_mem_mhz")->value, 10501);
	ck_assert_double_eq(telem_find_clock(&r, "nvidia0_temp_c")->value, 70);
	ck_assert_double_eq(telem_find_clock(&r, "nvidia0_throttle_reasons")->value, 4);
	qvk_telemetry_destroy(t);
	ck_assert_int_eq(fake_nv.inits, 1);
	ck_assert_int_eq(fake_nv.shutdowns, 1);
}
END_TEST

START_TEST(test_nvml_power_fallback_and_failures)
{
	const struct qvk_telemetry_backends fake = { .nvml = &fake_nvml };
	struct qvk_energy_window *w;
	struct qvk_energy_result r;
	struct qvk_telemetry *t;

	memset(&fake_nv, 0, sizeof(fake_nv));
	fake_nv.energy_err = 3; /* NVML_ERROR_NOT_SUPPORTED: pre-Volta */
	fake_nv.power_mw = 150000;
	t = telem_open(telem_fixture("drm"), ONLY(QVK_TELEMETRY_NVML), &fake);
	ck_assert_uint_eq(qvk_telemetry_domain_count(t), 1);
	ck_assert(!qvk_telemetry_domain(t, 0)->counter);
	telem_describes(t, "no energy counter before Volta");
	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	qvk_test_sleep_ms(10);
	ck_assert_int_eq(qvk_energy_window_end(t, w, &r), QVK_OK);
	ck_assert_double_eq_tol(r.domains[0].avg_w, 150.0, 1e-9);
	qvk_telemetry_destroy(t);

	memset(&fake_nv, 0, sizeof(fake_nv));
	fake_nv.init_err = 9; /* NVML_ERROR_DRIVER_NOT_LOADED */
	t = telem_open(telem_fixture("drm"), ONLY(QVK_TELEMETRY_NVML), &fake);
	ck_assert_uint_eq(qvk_telemetry_domain_count(t), 0);
	telem_describes(t, "nvmlInit failed: NVML error 9");
	qvk_telemetry_destroy(t);
	ck_assert_int_eq(fake_nv.shutdowns, 0);

	/* No fake: the real library, absent on a machine without the driver. */
	t = telem_open(telem_fixture("drm"), ONLY(QVK_TELEMETRY_NVML), NULL);
	ck_assert(strstr(qvk_telemetry_describe(t), "nvml: ") != NULL);
	qvk_telemetry_destroy(t);
}
END_TEST

Suite *suite_telemetry_gpu_libs(void);
Suite *suite_telemetry_gpu_libs(void)
{
	Suite *s = suite_create("telemetry_gpu_libs");
	TCase *tc;

	tc = tcase_create("gpu_libraries");
	tcase_add_checked_fixture(tc, telem_setup, telem_teardown);
#if QVK_DRM
	tcase_add_test(tc, test_amdgpu_fake);
	tcase_add_test(tc, test_amdgpu_matched_node_without_power);
	tcase_add_test(tc, test_amdgpu_real_library_no_device);
#else
	tcase_add_test(tc, test_amdgpu_off_without_drm);
#endif
	tcase_add_test(tc, test_nvml_energy_counter);
	tcase_add_test(tc, test_nvml_power_fallback_and_failures);
	suite_add_tcase(s, tc);
	return s;
}
