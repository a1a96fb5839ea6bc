/* SPDX-License-Identifier: MIT */
/*
 * suite_telemetry: libqvk telemetry on fixture sysfs trees
 * (tests/fixtures/telemetry, real file formats) and with fake libdrm_amdgpu
 * and NVML entry points injected at the library boundary. Trees that a
 * test changes are copied to a temporary directory first.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <amdgpu_drm.h>
#include <qvk/telemetry.h>

#include "harness.h"
#include "telemetry/telemetry_internal.h"

#define ALL_SOURCES ((1u << QVK_TELEMETRY_SOURCE_COUNT) - 1)
#define ONLY(src) (ALL_SOURCES & ~(1u << (src)))

static struct qvk_ctx *ctx;
static char tmp_root[256];

static void setup(void)
{
	ck_assert_int_eq(qvk_ctx_create(&ctx), QVK_OK);
	tmp_root[0] = 0;
}

static void teardown(void)
{
	char cmd[300];

	if (tmp_root[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp_root);
		if (system(cmd) != 0)
			fprintf(stderr, "telemetry: could not remove %s\n", tmp_root);
	}
	qvk_ctx_destroy(ctx);
	ctx = NULL;
}

static const char *fixture(const char *name)
{
	static char path[512];

	snprintf(path, sizeof(path), "%s/tests/fixtures/telemetry/%s", QVK_SOURCE_DIR,
		 name);
	return path;
}

/* A writable copy of a fixture tree; removed by teardown. */
static const char *fixture_copy(const char *name)
{
	char cmd[1024];

	snprintf(tmp_root, sizeof(tmp_root), "/tmp/qvk-telemetry-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp_root));
	snprintf(cmd, sizeof(cmd), "cp -R '%s/.' '%s'", fixture(name), tmp_root);
	ck_assert_int_eq(system(cmd), 0);
	return tmp_root;
}

static void put(const char *root, const char *rel, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	f = fopen(path, "w");
	ck_assert_msg(f != NULL, "open %s", path);
	fputs(text, f);
	fclose(f);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { 0, (long)ms * 1000000L };

	nanosleep(&ts, NULL);
}

static struct qvk_telemetry *open_telemetry(const char *root, uint32_t disable,
					    const struct qvk_telemetry_backends *fake)
{
	struct qvk_telemetry_options opt = {
		.sysfs_root = root,
		.module_path = "/nonexistent/qvk_telem",
		.disable = disable,
		.poll_period_s = -1, /* tests poll by hand */
	};
	struct qvk_telemetry *t = NULL;
	qvk_status st = qvk_telemetry_create_with(ctx, &opt, fake, &t);

	ck_assert_msg(st == QVK_OK, "create: %s: %s", qvk_strerror(st),
		      qvk_ctx_message(ctx));
	return t;
}

static int find_domain(const struct qvk_telemetry *t, const char *name)
{
	for (uint32_t i = 0; i < qvk_telemetry_domain_count(t); i++)
		if (!strcmp(qvk_telemetry_domain(t, i)->name, name))
			return (int)i;
	return -1;
}

static void describes(const struct qvk_telemetry *t, const char *text)
{
	ck_assert_msg(strstr(qvk_telemetry_describe(t), text) != NULL,
		      "describe() lacks '%s':\n%s", text, qvk_telemetry_describe(t));
}

static const struct qvk_clock_reading *find_clock(const struct qvk_energy_result *r,
						  const char *name)
{
	for (uint32_t i = 0; i < r->n_clocks; i++)
		if (!strcmp(r->clocks[i].name, name))
			return &r->clocks[i];
	return NULL;
}

/* ------------------------------------------------------------ powercap */

START_TEST(test_powercap_domains)
{
	struct qvk_telemetry *t = open_telemetry(fixture("rapl"),
						 ONLY(QVK_TELEMETRY_POWERCAP), NULL);
	int pkg = find_domain(t, "package-0"), core = find_domain(t, "core-0");
	int dram = find_domain(t, "dram-0"), psys = find_domain(t, "psys");

	ck_assert_uint_eq(qvk_telemetry_domain_count(t), 4);
	ck_assert_int_ge(pkg, 0);
	ck_assert_int_ge(core, 0);
	ck_assert_int_ge(dram, 0);
	ck_assert_int_ge(psys, 0);
	ck_assert_int_eq(qvk_telemetry_domain(t, pkg)->kind, QVK_TELEMETRY_CPU_PACKAGE);
	ck_assert_int_eq(qvk_telemetry_domain(t, core)->kind, QVK_TELEMETRY_CPU_CORES);
	ck_assert_int_eq(qvk_telemetry_domain(t, dram)->kind, QVK_TELEMETRY_DRAM);
	ck_assert_int_eq(qvk_telemetry_domain(t, psys)->kind, QVK_TELEMETRY_PLATFORM);
	ck_assert_int_eq(qvk_telemetry_domain(t, psys)->package, 0); /* platform-wide */
	ck_assert(qvk_telemetry_domain(t, pkg)->counter);
	ck_assert_int_eq(qvk_telemetry_domain(t, pkg)->source, QVK_TELEMETRY_POWERCAP);
	describes(t, "wraps at 262143328850 uJ");
	describes(t, "wraps at 65712999613 uJ");
	qvk_telemetry_destroy(t);
}
END_TEST

START_TEST(test_powercap_wrap)
{
	const uint64_t range = 262143328850ull;
	const char *root = fixture_copy("rapl");
	const char *file = "class/powercap/intel-rapl:0/energy_uj";
	struct qvk_energy_window *w;
	struct qvk_energy_result r;
	struct qvk_telemetry *t;
	char text[64];
	int pkg;

	snprintf(text, sizeof(text), "%llu\n", (unsigned long long)(range - 1000));
	put(root, file, text);
	t = open_telemetry(root, ONLY(QVK_TELEMETRY_POWERCAP), NULL);
	pkg = find_domain(t, "package-0");
	ck_assert_int_ge(pkg, 0);

	/* One wrap inside the window: 1000 to the top, then 500, then 2000. */
	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	sleep_ms(10);
	put(root, file, "500\n");
	ck_assert_int_eq(qvk_telemetry_poll(t), QVK_OK);
	sleep_ms(10);
	put(root, file, "2000\n");
	ck_assert_int_eq(qvk_energy_window_end(t, w, &r), QVK_OK);
	fprintf(stderr, "powercap wrap: %.6f J (expect 0.003000), bound %.2e J\n",
		r.domains[pkg].energy_j, r.domains[pkg].error_bound_j);
	ck_assert_msg(r.domains[pkg].valid, "%s", r.domains[pkg].note);
	ck_assert_double_eq_tol(r.domains[pkg].energy_j, 0.003, 2e-5);
	ck_assert(fabs(r.domains[pkg].energy_j - 0.003) <= r.domains[pkg].error_bound_j);

	/* Three wraps, polled in between as the poll thread would. */
	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	for (int i = 0; i < 3; i++) {
		snprintf(text, sizeof(text), "%llu\n", (unsigned long long)(range - 10));
		put(root, file, text);
		ck_assert_int_eq(qvk_telemetry_poll(t), QVK_OK);
		put(root, file, "10\n");
		ck_assert_int_eq(qvk_telemetry_poll(t), QVK_OK);
	}
	sleep_ms(5);
	put(root, file, "30\n");
	ck_assert_int_eq(qvk_energy_window_end(t, w, &r), QVK_OK);
	/* 2000 -> top: range - 2000; then 2 x (range - 20) more; then 20 uJ + 20. */
	{
		double expect = ((double)(range - 2000) + 20 + 2.0 * (double)(range - 20) + 20 +
				 20) * 1e-6;

		fprintf(stderr, "powercap 3 wraps: %.6f J (expect %.6f)\n",
			r.domains[pkg].energy_j, expect);
		ck_assert_msg(r.domains[pkg].valid, "%s", r.domains[pkg].note);
		ck_assert_double_le(fabs(r.domains[pkg].energy_j - expect),
				    r.domains[pkg].error_bound_j + 1e-4);
		ck_assert_double_eq_tol(r.domains[pkg].energy_j, expect, expect * 1e-2);
	}
	qvk_telemetry_destroy(t);
}
END_TEST

START_TEST(test_powercap_garbled)
{
	struct qvk_telemetry *t = open_telemetry(fixture("rapl-garbled"),
						 ONLY(QVK_TELEMETRY_POWERCAP), NULL);

	ck_assert_uint_eq(qvk_telemetry_domain_count(t), 0);
	describes(t, "not an unsigned number: '12ab34'");
	describes(t, "above max_energy_range_uj 200");
	describes(t, "no name");
	describes(t, "number out of range");
	describes(t, "max_energy_range_uj is 0");
	describes(t, "no readable zone");
	describes(t, "no energy source on this machine");
	qvk_telemetry_destroy(t);
}
END_TEST

START_TEST(test_powercap_garbled_at_runtime)
{
	const char *root = fixture_copy("rapl");
	struct qvk_energy_window *w;
	struct qvk_energy_result r;
	struct qvk_telemetry *t = open_telemetry(root, ONLY(QVK_TELEMETRY_POWERCAP), NULL);
	int pkg = find_domain(t, "package-0"), core = find_domain(t, "core-0");

	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	put(root, "class/powercap/intel-rapl:0/energy_uj", "garbage\n");
	put(root, "class/powercap/intel-rapl:0:0/energy_uj", "2234567\n");
	sleep_ms(20);
	ck_assert_int_eq(qvk_energy_window_end(t, w, &r), QVK_OK);
	ck_assert(!r.domains[pkg].valid);
	ck_assert_msg(strstr(r.domains[pkg].note, "not an unsigned number: 'garbage'"),
		      "%s", r.domains[pkg].note);
	ck_assert_msg(r.domains[core].valid, "%s", r.domains[core].note);
	/* Scaled to the window: off the file delta by at most the bound. */
	ck_assert_double_le(fabs(r.domains[core].energy_j - 1.0), r.domains[core].error_bound_j);
	ck_assert_double_eq_tol(r.domains[core].energy_j, 1.0, 1e-2);

	/* The file comes back: the next window is fine again. */
	put(root, "class/powercap/intel-rapl:0/energy_uj", "100\n");
	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	put(root, "class/powercap/intel-rapl:0/energy_uj", "1100\n");
	sleep_ms(2);
	ck_assert_int_eq(qvk_energy_window_end(t, w, &r), QVK_OK);
	ck_assert_msg(r.domains[pkg].valid, "%s", r.domains[pkg].note);
	qvk_telemetry_destroy(t);
}
END_TEST

START_TEST(test_missing_root)
{
	struct qvk_energy_window *w;
	struct qvk_energy_result r;
	struct qvk_telemetry *t = open_telemetry("/nonexistent/qvk-sysfs", 0, NULL);

	ck_assert_uint_eq(qvk_telemetry_domain_count(t), 0);
	describes(t, "qvk_telem: /nonexistent/qvk_telem: absent (module not loaded)");
	describes(t, "powercap: /nonexistent/qvk-sysfs/class/powercap: No such file");
	describes(t, "hwmon: /nonexistent/qvk-sysfs/class/hwmon: No such file");
	describes(t, "no energy source on this machine");
	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	ck_assert_int_eq(qvk_energy_window_end(t, w, &r), QVK_OK);
	ck_assert_uint_eq(r.n_domains, 0);
	qvk_telemetry_destroy(t);
}
END_TEST

START_TEST(test_env_root_and_module_errors)
{
	struct qvk_telemetry_options opt = { .module_path = fixture("rapl/class/powercap/intel-rapl:0/name"),
					     .poll_period_s = -1 };
	struct qvk_telemetry *t = NULL;

	setenv("QVK_SYSFS_ROOT", fixture("rapl"), 1);
	ck_assert_int_eq(qvk_telemetry_create(ctx, &opt, &t), QVK_OK);
	unsetenv("QVK_SYSFS_ROOT");
	ck_assert_int_ge(find_domain(t, "package-0"), 0);
	describes(t, "INFO ioctl");
	describes(t, "not the qvk_telem module?");
	qvk_telemetry_destroy(t);

	opt.poll_period_s = 11;
	ck_assert_int_eq(qvk_telemetry_create(ctx, &opt, &t), QVK_ERR_INVALID_ARG);
	ck_assert_ptr_null(t);
	ck_assert_int_eq(qvk_telemetry_create(ctx, NULL, NULL), QVK_ERR_INVALID_ARG);
	ck_assert_int_eq(qvk_telemetry_poll(NULL), QVK_ERR_INVALID_ARG);
	ck_assert_int_eq(qvk_energy_window_begin(NULL, NULL), QVK_ERR_INVALID_ARG);
	qvk_telemetry_destroy(NULL);
}
END_TEST

/* --------------------------------------------------------------- hwmon */

START_TEST(test_hwmon_units)
{
	struct qvk_telemetry *t = open_telemetry(fixture("hwmon"),
						 ONLY(QVK_TELEMETRY_HWMON), NULL);
	int amd = find_domain(t, "amdgpu hwmon0 PPT");
	int i915 = find_domain(t, "i915 hwmon1 energy1");
	const struct qvk_telemetry_domain *d;

	int apu = find_domain(t, "amdgpu hwmon5 power1");

	ck_assert_uint_eq(qvk_telemetry_domain_count(t), 3);
	ck_assert_int_ge(amd, 0);
	ck_assert_int_ge(i915, 0);
	ck_assert_int_ge(apu, 0); /* power1_input where there is no average */
	ck_assert(!qvk_telemetry_domain(t, apu)->counter);
	describes(t, "instantaneous power in uW, integrated");
	d = qvk_telemetry_domain(t, amd);
	ck_assert(!d->counter);
	ck_assert_int_eq(d->kind, QVK_TELEMETRY_GPU);
	ck_assert_double_eq_tol(d->update_period_s, 0.1, 1e-12); /* 100 ms interval */
	d = qvk_telemetry_domain(t, i915);
	ck_assert(d->counter);
	describes(t, "hwmon2 (xe): ");
	describes(t, "not an unsigned number: '12a34'");
	describes(t, "power_meter): ");
	describes(t, "power1_average: empty");
	qvk_telemetry_destroy(t);
}
END_TEST

START_TEST(test_hwmon_energy_and_power)
{
	const char *root = fixture_copy("hwmon");
	struct qvk_energy_window *w;
	struct qvk_energy_result r;
	struct qvk_telemetry *t = open_telemetry(root, ONLY(QVK_TELEMETRY_HWMON), NULL);
	int amd = find_domain(t, "amdgpu hwmon0 PPT");
	int i915 = find_domain(t, "i915 hwmon1 energy1");
	double expect;

	/* Constant 25 W: the trapezoid is exact, the bound has no |dP| term. */
	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	sleep_ms(20);
	ck_assert_int_eq(qvk_telemetry_poll(t), QVK_OK);
	put(root, "class/hwmon/hwmon1/energy1_input", "8500000\n"); /* +0.5 J */
	sleep_ms(20);
	ck_assert_int_eq(qvk_energy_window_end(t, w, &r), QVK_OK);
	expect = 25.0 * r.elapsed_s;
	fprintf(stderr, "hwmon power: %.6f J (expect %.6f), bound %.3f J; energy %.6f J\n",
		r.domains[amd].energy_j, expect, r.domains[amd].error_bound_j,
		r.domains[i915].energy_j);
	ck_assert_msg(r.domains[amd].valid, "%s", r.domains[amd].note);
	ck_assert_double_eq_tol(r.domains[amd].energy_j, expect, expect * 1e-9);
	ck_assert_double_eq_tol(r.domains[amd].avg_w, 25.0, 1e-9);
	/* The 100 ms average lags the window: 25 W x 2 x 0.1 s at least. */
	ck_assert(r.domains[amd].error_bound_j >= 5.0);
	ck_assert_msg(r.domains[i915].valid, "%s", r.domains[i915].note);
	ck_assert_double_le(fabs(r.domains[i915].energy_j - 0.5), r.domains[i915].error_bound_j);
	ck_assert_double_eq_tol(r.domains[i915].energy_j, 0.5, 0.5 * 1e-2);

	/* A step 10 W -> 30 W: trapezoid between readings, |dP| dt / 2 bound. */
	put(root, "class/hwmon/hwmon0/power1_average", "10000000\n");
	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	sleep_ms(20);
	put(root, "class/hwmon/hwmon0/power1_average", "30000000\n");
	ck_assert_int_eq(qvk_energy_window_end(t, w, &r), QVK_OK);
	ck_assert_msg(r.domains[amd].valid, "%s", r.domains[amd].note);
	ck_assert_double_eq_tol(r.domains[amd].avg_w, 20.0, 1e-6);
	ck_assert(r.domains[amd].error_bound_j >= 10.0 * r.elapsed_s * 0.99);
	qvk_telemetry_destroy(t);
}
END_TEST

START_TEST(test_clocks_and_throttle)
{
	const char *root = fixture_copy("hwmon");
	struct qvk_energy_window *w;
	struct qvk_energy_result r;
	struct qvk_telemetry *t = open_telemetry(root, ALL_SOURCES, NULL);
	const struct qvk_clock_reading *c;

	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	put(root, "devices/system/cpu/cpu0/thermal_throttle/package_throttle_count", "9\n");
	put(root, "devices/system/cpu/cpu1/thermal_throttle/package_throttle_count", "9\n");
	put(root, "devices/system/cpu/cpu1/thermal_throttle/core_throttle_count", "4\n");
	ck_assert_int_eq(qvk_energy_window_end(t, w, &r), QVK_OK);
	c = find_clock(&r, "cpu_khz_avg");
	ck_assert_ptr_nonnull(c);
	ck_assert_double_eq_tol(c->value, 3000000, 1e-6);
	ck_assert_double_eq_tol(find_clock(&r, "cpu_khz_min")->value, 2400000, 1e-6);
	ck_assert_double_eq_tol(find_clock(&r, "cpu_khz_max")->value, 3600000, 1e-6);
	c = find_clock(&r, "cpu_package_throttle_events");
	ck_assert_ptr_nonnull(c);
	ck_assert_double_eq_tol(c->value, 2, 1e-12);
	ck_assert_double_eq_tol(find_clock(&r, "cpu_core_throttle_events")->value, 3, 1e-12);
	qvk_telemetry_destroy(t);
}
END_TEST

/* -------------------------------------------------------- amdgpu (fake) */

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
	t = open_telemetry(fixture("drm"), ONLY(QVK_TELEMETRY_AMDGPU), &fake);
	gpu = find_domain(t, "amdgpu renderD128");
	ck_assert_uint_eq(qvk_telemetry_domain_count(t), 1); /* not renderD129 (i915) */
	ck_assert_int_eq(gpu, 0);
	ck_assert_str_eq(fake_gpu.last_path, "/dev/dri/renderD128");
	ck_assert(!qvk_telemetry_domain(t, gpu)->counter);
	ck_assert_double_eq(qvk_telemetry_domain(t, gpu)->resolution, 1.0);

	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	sleep_ms(20);
	ck_assert_int_eq(qvk_energy_window_end(t, w, &r), QVK_OK);
	ck_assert_msg(r.domains[gpu].valid, "%s", r.domains[gpu].note);
	ck_assert_double_eq_tol(r.domains[gpu].avg_w, 180.0, 1e-9);
	ck_assert_double_eq(find_clock(&r, "amdgpu0_sclk_mhz")->value, 2500);
	ck_assert_double_eq(find_clock(&r, "amdgpu0_mclk_mhz")->value, 1250);
	ck_assert_double_eq_tol(find_clock(&r, "amdgpu0_temp_c")->value, 61.0, 1e-9);

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
		.sysfs_root = fixture("drm"),
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
	ck_assert_int_eq(qvk_telemetry_create_with(ctx, &opt, &fake, &t), QVK_OK);
	ck_assert_str_eq(fake_gpu.last_path, "/dev/dri/renderD131");
	ck_assert_uint_eq(qvk_telemetry_domain_count(t), 0);
	describes(t, "no average power sensor");
	describes(t, "clocks only");
	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	ck_assert_int_eq(qvk_energy_window_end(t, w, &r), QVK_OK);
	ck_assert_ptr_nonnull(find_clock(&r, "amdgpu0_sclk_mhz"));
	qvk_telemetry_destroy(t);
	ck_assert_int_eq(fake_gpu.inits, fake_gpu.deinits);
}
END_TEST

START_TEST(test_amdgpu_real_library_no_device)
{
	/* The real dlopen path against a node that does not exist. */
	struct qvk_telemetry *t = open_telemetry(fixture("drm"), ONLY(QVK_TELEMETRY_AMDGPU),
						 NULL);

	ck_assert_uint_eq(qvk_telemetry_domain_count(t), 0);
	ck_assert(strstr(qvk_telemetry_describe(t), "amdgpu: /dev/dri/renderD128:") ||
		  strstr(qvk_telemetry_describe(t), "libdrm_amdgpu.so.1 not loadable"));
	qvk_telemetry_destroy(t);
}
END_TEST

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
	t = open_telemetry(fixture("drm"), ONLY(QVK_TELEMETRY_NVML), &fake);
	ck_assert_uint_eq(qvk_telemetry_domain_count(t), 1);
	ck_assert_str_eq(qvk_telemetry_domain(t, 0)->name, "nvidia0 NVIDIA Fake 4090");
	ck_assert(qvk_telemetry_domain(t, 0)->counter);

	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	sleep_ms(10);
	fake_nv.energy_mj += 1500;
	ck_assert_int_eq(qvk_energy_window_end(t, w, &r), QVK_OK);
	ck_assert_msg(r.domains[0].valid, "%s", r.domains[0].note);
	ck_assert_double_le(fabs(r.domains[0].energy_j - 1.5), r.domains[0].error_bound_j);
	ck_assert_double_eq_tol(r.domains[0].energy_j, 1.5, 1.5 * 1e-2);
	ck_assert_double_eq(find_clock(&r, "nvidia0_sm_mhz")->value, 2520);
	ck_assert_double_eq(find_clock(&r, "nvidia0_mem_mhz")->value, 10501);
	ck_assert_double_eq(find_clock(&r, "nvidia0_temp_c")->value, 70);
	ck_assert_double_eq(find_clock(&r, "nvidia0_throttle_reasons")->value, 4);
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
	t = open_telemetry(fixture("drm"), ONLY(QVK_TELEMETRY_NVML), &fake);
	ck_assert_uint_eq(qvk_telemetry_domain_count(t), 1);
	ck_assert(!qvk_telemetry_domain(t, 0)->counter);
	describes(t, "no energy counter before Volta");
	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	sleep_ms(10);
	ck_assert_int_eq(qvk_energy_window_end(t, w, &r), QVK_OK);
	ck_assert_double_eq_tol(r.domains[0].avg_w, 150.0, 1e-9);
	qvk_telemetry_destroy(t);

	memset(&fake_nv, 0, sizeof(fake_nv));
	fake_nv.init_err = 9; /* NVML_ERROR_DRIVER_NOT_LOADED */
	t = open_telemetry(fixture("drm"), ONLY(QVK_TELEMETRY_NVML), &fake);
	ck_assert_uint_eq(qvk_telemetry_domain_count(t), 0);
	describes(t, "nvmlInit failed: NVML error 9");
	qvk_telemetry_destroy(t);
	ck_assert_int_eq(fake_nv.shutdowns, 0);

	/* No fake: the real library, absent on a machine without the driver. */
	t = open_telemetry(fixture("drm"), ONLY(QVK_TELEMETRY_NVML), NULL);
	ck_assert(strstr(qvk_telemetry_describe(t), "nvml: ") != NULL);
	qvk_telemetry_destroy(t);
}
END_TEST

/* ------------------------------------------- windows on scripted domains */

/* A scripted counter: value and how stale its timestamp is. */
struct script {
	uint64_t raw;
	uint64_t age_ns;
	uint32_t epoch;
};

static qvk_status script_read(struct qvk_telemetry *t, struct qvk_tdom *d,
			      struct qvk_treading *r)
{
	const struct script *s = d->src;

	(void)t;
	r->t_ns = qvk_telemetry_now_ns() - s->age_ns;
	r->raw = s->raw;
	r->epoch = s->epoch;
	return QVK_OK;
}

static void add_scripted(struct qvk_telemetry *t, struct script *s, const char *name,
			 enum qvk_telemetry_source source)
{
	struct qvk_tdom *d = qvk_telemetry_add(t);

	ck_assert_ptr_nonnull(d);
	snprintf(d->pub.name, sizeof(d->pub.name), "%s", name);
	d->pub.source = source;
	d->pub.kind = QVK_TELEMETRY_CPU_PACKAGE;
	d->pub.counter = true;
	d->pub.resolution = 1e-6;
	d->read = script_read;
	d->src = s;
	d->unit_j = 1e-6;
	d->have = false;
}

START_TEST(test_self_check)
{
	struct script a = { 0 }, b = { 0 };
	struct qvk_energy_window *w;
	struct qvk_energy_result r;
	struct qvk_telemetry *t = open_telemetry("/nonexistent", ALL_SOURCES, NULL);

	add_scripted(t, &a, "package", QVK_TELEMETRY_MODULE);
	add_scripted(t, &b, "package-0", QVK_TELEMETRY_POWERCAP);

	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	sleep_ms(10);
	a.raw += 1000000;
	b.raw += 1000000;
	ck_assert_int_eq(qvk_energy_window_end(t, w, &r), QVK_OK);
	ck_assert_uint_eq(r.n_checks, 1);
	ck_assert(r.checks[0].agree);
	/* Only the few microseconds between the two reads differ. */
	ck_assert_double_le(r.checks[0].rel_diff, 1e-2);

	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	sleep_ms(10);
	a.raw += 1000000;
	b.raw += 1200000;
	ck_assert_int_eq(qvk_energy_window_end(t, w, &r), QVK_OK);
	fprintf(stderr, "self-check: rel diff %.4f tolerance %.4f\n", r.checks[0].rel_diff,
		r.checks[0].tolerance);
	ck_assert_uint_eq(r.n_checks, 1);
	ck_assert(!r.checks[0].agree);
	ck_assert_double_eq_tol(r.checks[0].rel_diff, 0.2 / 1.2, 1e-3);
	qvk_telemetry_destroy(t);
}
END_TEST

START_TEST(test_interpolation_and_bound)
{
	/* Readings 5 ms stale: energy is scaled to the window, bound covers the edges. */
	struct script a = { .age_ns = 5000000 };
	struct qvk_energy_window *w;
	struct qvk_energy_result r;
	struct qvk_telemetry *t = open_telemetry("/nonexistent", ALL_SOURCES, NULL);
	uint64_t t0;
	double span_s, expect;

	add_scripted(t, &a, "stale", QVK_TELEMETRY_MODULE);
	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	t0 = qvk_telemetry_now_ns();
	sleep_ms(30);
	span_s = (double)(qvk_telemetry_now_ns() - t0) * 1e-9;
	a.raw += (uint64_t)(10.0 * span_s * 1e6); /* 10 W over about the span */
	ck_assert_int_eq(qvk_energy_window_end(t, w, &r), QVK_OK);
	ck_assert_msg(r.domains[0].valid, "%s", r.domains[0].note);
	expect = r.domains[0].avg_w * r.elapsed_s;
	ck_assert_double_eq_tol(r.domains[0].energy_j, expect, 1e-9);
	ck_assert_double_ge(r.domains[0].error_bound_j, r.domains[0].avg_w * 0.010 * 0.99);
	fprintf(stderr, "interpolation: %.6f J at %.3f W, bound %.2e J\n", r.domains[0].energy_j,
		r.domains[0].avg_w, r.domains[0].error_bound_j);

	/* A re-based counter (module epoch moved) gives no number, a reason. */
	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	a.epoch++;
	a.raw += 5;
	sleep_ms(2);
	ck_assert_int_eq(qvk_energy_window_end(t, w, &r), QVK_OK);
	ck_assert(!r.domains[0].valid);
	ck_assert_msg(strstr(r.domains[0].note, "continuity"), "%s", r.domains[0].note);

	/* No reading newer than the begin: a reason, not a zero. */
	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	a.age_ns = 1000000000;
	ck_assert_int_eq(qvk_energy_window_end(t, w, &r), QVK_OK);
	ck_assert(!r.domains[0].valid);
	qvk_telemetry_destroy(t);
}
END_TEST

START_TEST(test_poll_thread)
{
	/* The thread integrates power domains on its own. */
	const char *root = fixture_copy("hwmon");
	struct qvk_telemetry_options opt = { .sysfs_root = root,
					     .module_path = "/nonexistent",
					     .disable = ONLY(QVK_TELEMETRY_HWMON),
					     .poll_period_s = 0.002 };
	struct qvk_energy_window *w;
	struct qvk_energy_result r;
	struct qvk_telemetry *t = NULL;
	int amd;

	ck_assert_int_eq(qvk_telemetry_create(ctx, &opt, &t), QVK_OK);
	amd = find_domain(t, "amdgpu hwmon0 PPT");
	ck_assert_int_ge(amd, 0);
	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	sleep_ms(30);
	ck_assert_int_eq(qvk_energy_window_end(t, w, &r), QVK_OK);
	ck_assert_msg(r.domains[amd].valid, "%s", r.domains[amd].note);
	ck_assert_double_eq_tol(r.domains[amd].avg_w, 25.0, 1e-9);
	ck_assert(t->dom[amd].max_gap_s < 0.030);
	qvk_telemetry_destroy(t);
}
END_TEST

/* ------------------------------------------------------ GPU timestamps */

START_TEST(test_gpu_clock_mapping_math)
{
	const struct qvk_gpu_clock_map m = { .gpu_ticks = (1ull << 36) - 11,
					     .monotonic_ns = 5000000000ull,
					     .ns_per_tick = 2.5,
					     .tick_mask = (1ull << 36) - 1 };

	ck_assert_uint_eq(qvk_gpu_clock_to_monotonic_ns(&m, m.gpu_ticks), m.monotonic_ns);
	/* 16 ticks later, across the 36-bit wrap. */
	ck_assert_uint_eq(qvk_gpu_clock_to_monotonic_ns(&m, 5), m.monotonic_ns + 40);
	/* 10 ticks before the calibration. */
	ck_assert_uint_eq(qvk_gpu_clock_to_monotonic_ns(&m, m.gpu_ticks - 10),
			  m.monotonic_ns - 25);
}
END_TEST

START_TEST(test_gpu_clock_calibrate)
{
	struct qvk_gpu_clock_map a, b;
	const struct qvk_device_info *info = qvk_device_info(qvk_test_dev);
	qvk_status st = qvk_gpu_clock_calibrate(qvk_test_dev, &a);
	uint64_t now = qvk_telemetry_now_ns();
	double drift_ns;

	if (!info->calibrated_timestamps) {
		ck_assert_int_eq(st, QVK_ERR_UNSUPPORTED);
		fprintf(stderr, "SKIP gpu clock: %s lacks VK_EXT_calibrated_timestamps\n",
			info->name);
		return;
	}
	ck_assert_msg(st == QVK_OK, "%s", qvk_ctx_message(qvk_test_ctx));
	ck_assert_double_eq(a.ns_per_tick, info->timestamp_period_ns);
	ck_assert_uint_le(a.monotonic_ns, now);
	ck_assert_uint_lt(now - a.monotonic_ns, 1000000000ull);
	sleep_ms(20);
	ck_assert_int_eq(qvk_gpu_clock_calibrate(qvk_test_dev, &b), QVK_OK);
	/* Two calibrations 20 ms apart must describe the same line. */
	drift_ns = (double)qvk_gpu_clock_to_monotonic_ns(&a, b.gpu_ticks) -
		   (double)b.monotonic_ns;
	fprintf(stderr, "gpu clock: %s, %.3f ns/tick, deviation %llu ns, two calibrations 20 ms apart disagree by %.0f ns\n",
		info->name, a.ns_per_tick, (unsigned long long)a.max_deviation_ns, drift_ns);
	ck_assert_double_le(fabs(drift_ns),
			    (double)(a.max_deviation_ns + b.max_deviation_ns) + 100000.0);
	ck_assert_int_eq(qvk_gpu_clock_calibrate(NULL, &a), QVK_ERR_INVALID_ARG);
}
END_TEST

Suite *suite_telemetry(void);
Suite *suite_telemetry(void)
{
	Suite *s = suite_create("telemetry");
	TCase *tc;

	tc = tcase_create("powercap");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_powercap_domains);
	tcase_add_test(tc, test_powercap_wrap);
	tcase_add_test(tc, test_powercap_garbled);
	tcase_add_test(tc, test_powercap_garbled_at_runtime);
	tcase_add_test(tc, test_missing_root);
	tcase_add_test(tc, test_env_root_and_module_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("hwmon");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_hwmon_units);
	tcase_add_test(tc, test_hwmon_energy_and_power);
	tcase_add_test(tc, test_clocks_and_throttle);
	suite_add_tcase(s, tc);

	tc = tcase_create("gpu_libraries");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_amdgpu_fake);
	tcase_add_test(tc, test_amdgpu_matched_node_without_power);
	tcase_add_test(tc, test_amdgpu_real_library_no_device);
	tcase_add_test(tc, test_nvml_energy_counter);
	tcase_add_test(tc, test_nvml_power_fallback_and_failures);
	suite_add_tcase(s, tc);

	tc = tcase_create("windows");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_self_check);
	tcase_add_test(tc, test_interpolation_and_bound);
	tcase_add_test(tc, test_poll_thread);
	tcase_add_test(tc, test_gpu_clock_mapping_math);
	suite_add_tcase(s, tc);

	tc = tcase_create("gpu_clock");
	tcase_add_checked_fixture(tc, qvk_test_gpu_setup, qvk_test_gpu_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_gpu_clock_calibrate);
	suite_add_tcase(s, tc);
	return s;
}
