/* SPDX-License-Identifier: MIT */
/*
 * suite_telemetry: libqvk telemetry's sysfs sources (powercap, hwmon, CPU
 * clocks and throttle counters) on the fixture trees in
 * tests/fixtures/telemetry (real file formats). Trees that a test changes
 * are copied to a temporary directory first. The GPU libraries are in
 * check_telemetry_gpu_libs.c, energy windows in check_telemetry_windows.c.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "telemetry_fixtures.h"

/* ------------------------------------------------------------ powercap */

START_TEST(test_powercap_domains)
{
	struct qvk_telemetry *t = telem_open(telem_fixture("rapl"),
						 ONLY(QVK_TELEMETRY_POWERCAP), NULL);
	int pkg = telem_find_domain(t, "package-0"), core = telem_find_domain(t, "core-0");
	int dram = telem_find_domain(t, "dram-0"), psys = telem_find_domain(t, "psys");

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
	telem_describes(t, "wraps at 262143328850 uJ");
	telem_describes(t, "wraps at 65712999613 uJ");
	qvk_telemetry_destroy(t);
}
END_TEST

START_TEST(test_powercap_wrap)
{
	const uint64_t range = 262143328850ull;
	const char *root = telem_fixture_copy("rapl");
	const char *file = "class/powercap/intel-rapl:0/energy_uj";
	struct qvk_energy_window *w;
	struct qvk_energy_result r;
	struct qvk_telemetry *t;
	char text[64];
	int pkg;

	snprintf(text, sizeof(text), "%llu\n", (unsigned long long)(range - 1000));
	telem_put(root, file, text);
	t = telem_open(root, ONLY(QVK_TELEMETRY_POWERCAP), NULL);
	pkg = telem_find_domain(t, "package-0");
	ck_assert_int_ge(pkg, 0);

	/* One wrap inside the window: 1000 to the top, then 500, then 2000. */
	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	qvk_test_sleep_ms(10);
	telem_put(root, file, "500\n");
	ck_assert_int_eq(qvk_telemetry_poll(t), QVK_OK);
	qvk_test_sleep_ms(10);
	telem_put(root, file, "2000\n");
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
		telem_put(root, file, text);
		ck_assert_int_eq(qvk_telemetry_poll(t), QVK_OK);
		telem_put(root, file, "10\n");
		ck_assert_int_eq(qvk_telemetry_poll(t), QVK_OK);
	}
	qvk_test_sleep_ms(5);
	telem_put(root, file, "30\n");
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
	struct qvk_telemetry *t = telem_open(telem_fixture("rapl-garbled"),
						 ONLY(QVK_TELEMETRY_POWERCAP), NULL);

	ck_assert_uint_eq(qvk_telemetry_domain_count(t), 0);
	telem_describes(t, "not an unsigned number: '12ab34'");
	telem_describes(t, "above max_energy_range_uj 200");
	telem_describes(t, "no name");
	telem_describes(t, "number out of range");
	telem_describes(t, "max_energy_range_uj is 0");
	telem_describes(t, "no readable zone");
	telem_describes(t, "no energy source on this machine");
	qvk_telemetry_destroy(t);
}
END_TEST

START_TEST(test_powercap_garbled_at_runtime)
{
	const char *root = telem_fixture_copy("rapl");
	struct qvk_energy_window *w;
	struct qvk_energy_result r;
	struct qvk_telemetry *t = telem_open(root, ONLY(QVK_TELEMETRY_POWERCAP), NULL);
	int pkg = telem_find_domain(t, "package-0"), core = telem_find_domain(t, "core-0");

	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	telem_put(root, "class/powercap/intel-rapl:0/energy_uj", "garbage\n");
	telem_put(root, "class/powercap/intel-rapl:0:0/energy_uj", "2234567\n");
	qvk_test_sleep_ms(20);
	ck_assert_int_eq(qvk_energy_window_end(t, w, &r), QVK_OK);
	ck_assert(!r.domains[pkg].valid);
	ck_assert_msg(strstr(r.domains[pkg].note, "not an unsigned number: 'garbage'"),
		      "%s", r.domains[pkg].note);
	ck_assert_msg(r.domains[core].valid, "%s", r.domains[core].note);
	/* Scaled to the window: off the file delta by at most the bound. */
	ck_assert_double_le(fabs(r.domains[core].energy_j - 1.0), r.domains[core].error_bound_j);
	ck_assert_double_eq_tol(r.domains[core].energy_j, 1.0, 1e-2);

	/* The file comes back: the next window is fine again. */
	telem_put(root, "class/powercap/intel-rapl:0/energy_uj", "100\n");
	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	telem_put(root, "class/powercap/intel-rapl:0/energy_uj", "1100\n");
	qvk_test_sleep_ms(2);
	ck_assert_int_eq(qvk_energy_window_end(t, w, &r), QVK_OK);
	ck_assert_msg(r.domains[pkg].valid, "%s", r.domains[pkg].note);
	qvk_telemetry_destroy(t);
}
END_TEST

START_TEST(test_missing_root)
{
	struct qvk_energy_window *w;
	struct qvk_energy_result r;
	struct qvk_telemetry *t = telem_open("/nonexistent/qvk-sysfs", 0, NULL);

	ck_assert_uint_eq(qvk_telemetry_domain_count(t), 0);
	telem_describes(t, "qvk_telem: /nonexistent/qvk_telem: absent (module not loaded)");
	telem_describes(t, "powercap: /nonexistent/qvk-sysfs/class/powercap: No such file");
	telem_describes(t, "hwmon: /nonexistent/qvk-sysfs/class/hwmon: No such file");
	telem_describes(t, "no energy source on this machine");
	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	ck_assert_int_eq(qvk_energy_window_end(t, w, &r), QVK_OK);
	ck_assert_uint_eq(r.n_domains, 0);
	qvk_telemetry_destroy(t);
}
END_TEST

START_TEST(test_env_root_and_module_errors)
{
	struct qvk_telemetry_options opt = { .poll_period_s = -1 };
	struct qvk_telemetry *t = NULL;
	char module_path[512];

	/* A character device that is not the module: its INFO ioctl fails. */
	opt.module_path = "/dev/null";
	setenv("QVK_SYSFS_ROOT", telem_fixture("rapl"), 1);
	ck_assert_int_eq(qvk_telemetry_create(qvk_test_ctx, &opt, &t), QVK_OK);
	unsetenv("QVK_SYSFS_ROOT");
	ck_assert_int_ge(telem_find_domain(t, "package-0"), 0);
	telem_describes(t, "INFO ioctl");
	telem_describes(t, "not the qvk_telem module?");
	qvk_telemetry_destroy(t);

	/* telem_fixture() returns a static buffer: copy before calling again. */
	snprintf(module_path, sizeof(module_path), "%s",
		 telem_fixture("rapl/class/powercap/intel-rapl:0/name"));
	opt.module_path = module_path;
	ck_assert_int_eq(qvk_telemetry_create(qvk_test_ctx, &opt, &t), QVK_OK);
	telem_describes(t, "not a character device (not the qvk_telem module)");
	qvk_telemetry_destroy(t);

	opt.poll_period_s = 11;
	ck_assert_int_eq(qvk_telemetry_create(qvk_test_ctx, &opt, &t), QVK_ERR_INVALID_ARG);
	ck_assert_ptr_null(t);
	ck_assert_int_eq(qvk_telemetry_create(qvk_test_ctx, NULL, NULL), QVK_ERR_INVALID_ARG);
	ck_assert_int_eq(qvk_telemetry_poll(NULL), QVK_ERR_INVALID_ARG);
	ck_assert_int_eq(qvk_energy_window_begin(NULL, NULL), QVK_ERR_INVALID_ARG);
	qvk_telemetry_destroy(NULL);
}
END_TEST

/* --------------------------------------------------------------- hwmon */

START_TEST(test_hwmon_units)
{
	struct qvk_telemetry *t = telem_open(telem_fixture("hwmon"),
						 ONLY(QVK_TELEMETRY_HWMON), NULL);
	int amd = telem_find_domain(t, "amdgpu hwmon0 PPT");
	int i915 = telem_find_domain(t, "i915 hwmon1 energy1");
	const struct qvk_telemetry_domain *d;

	int apu = telem_find_domain(t, "amdgpu hwmon5 power1");

	ck_assert_uint_eq(qvk_telemetry_domain_count(t), 3);
	ck_assert_int_ge(amd, 0);
	ck_assert_int_ge(i915, 0);
	ck_assert_int_ge(apu, 0); /* power1_input where there is no average */
	ck_assert(!qvk_telemetry_domain(t, apu)->counter);
	telem_describes(t, "instantaneous power in uW, integrated");
	d = qvk_telemetry_domain(t, amd);
	ck_assert(!d->counter);
	ck_assert_int_eq(d->kind, QVK_TELEMETRY_GPU);
	ck_assert_double_eq_tol(d->update_period_s, 0.1, 1e-12); /* 100 ms interval */
	d = qvk_telemetry_domain(t, i915);
	ck_assert(d->counter);
	telem_describes(t, "hwmon2 (xe): ");
	telem_describes(t, "not an unsigned number: '12a34'");
	telem_describes(t, "power_meter): ");
	telem_describes(t, "power1_average: empty");
	qvk_telemetry_destroy(t);
}
END_TEST

START_TEST(test_hwmon_energy_and_power)
{
	const char *root = telem_fixture_copy("hwmon");
	struct qvk_energy_window *w;
	struct qvk_energy_result r;
	struct qvk_telemetry *t = telem_open(root, ONLY(QVK_TELEMETRY_HWMON), NULL);
	int amd = telem_find_domain(t, "amdgpu hwmon0 PPT");
	int i915 = telem_find_domain(t, "i915 hwmon1 energy1");
	double expect;

	/* Constant 25 W: the trapezoid is exact, the bound has no |dP| term. */
	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	qvk_test_sleep_ms(20);
	ck_assert_int_eq(qvk_telemetry_poll(t), QVK_OK);
	telem_put(root, "class/hwmon/hwmon1/energy1_input", "8500000\n"); /* +0.5 J */
	qvk_test_sleep_ms(20);
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
	telem_put(root, "class/hwmon/hwmon0/power1_average", "10000000\n");
	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	qvk_test_sleep_ms(20);
	telem_put(root, "class/hwmon/hwmon0/power1_average", "30000000\n");
	ck_assert_int_eq(qvk_energy_window_end(t, w, &r), QVK_OK);
	ck_assert_msg(r.domains[amd].valid, "%s", r.domains[amd].note);
	ck_assert_double_eq_tol(r.domains[amd].avg_w, 20.0, 1e-6);
	ck_assert(r.domains[amd].error_bound_j >= 10.0 * r.elapsed_s * 0.99);
	qvk_telemetry_destroy(t);
}
END_TEST

START_TEST(test_clocks_and_throttle)
{
	const char *root = telem_fixture_copy("hwmon");
	struct qvk_energy_window *w;
	struct qvk_energy_result r;
	struct qvk_telemetry *t = telem_open(root, ALL_SOURCES, NULL);
	const struct qvk_clock_reading *c;

	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	telem_put(root, "devices/system/cpu/cpu0/thermal_throttle/package_throttle_count",
		  "9\n");
	telem_put(root, "devices/system/cpu/cpu1/thermal_throttle/package_throttle_count",
		  "9\n");
	telem_put(root, "devices/system/cpu/cpu1/thermal_throttle/core_throttle_count", "4\n");
	ck_assert_int_eq(qvk_energy_window_end(t, w, &r), QVK_OK);
	c = telem_find_clock(&r, "cpu_khz_avg");
	ck_assert_ptr_nonnull(c);
	ck_assert_double_eq_tol(c->value, 3000000, 1e-6);
	ck_assert_double_eq_tol(telem_find_clock(&r, "cpu_khz_min")->value, 2400000, 1e-6);
	ck_assert_double_eq_tol(telem_find_clock(&r, "cpu_khz_max")->value, 3600000, 1e-6);
	c = telem_find_clock(&r, "cpu_package_throttle_events");
	ck_assert_ptr_nonnull(c);
	ck_assert_double_eq_tol(c->value, 2, 1e-12);
	ck_assert_double_eq_tol(telem_find_clock(&r, "cpu_core_throttle_events")->value, 3,
				1e-12);
	qvk_telemetry_destroy(t);
}

/* ------------------------------------------------------ hostile trees */

/* Replace @root/@rel with a FIFO that nobody ever writes. */
static const char *put_fifo(const char *root, const char *rel, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", root, rel);
	ck_assert_int_eq(unlink(buf), 0);
	ck_assert_int_eq(mkfifo(buf, 0644), 0);
	return buf;
}

/*
 * FIFOs, symlinks and oversized files in the tree: refused with a reason,
 * without blocking. Before the fix, open() of the FIFO waited for a writer
 * forever (this test then hits its timeout).
 */
START_TEST(test_sysfs_fifo_symlink_oversized)
{
	const char *root = telem_fixture_copy("rapl");
	struct qvk_telemetry_options opt = { .sysfs_root = root,
					     .disable = ONLY(QVK_TELEMETRY_MODULE),
					     .poll_period_s = -1 };
	char path[512], target[512], fifo[512];
	struct qvk_telemetry *t;
	FILE *f;

	put_fifo(root, "class/powercap/intel-rapl:0/energy_uj", path, sizeof(path));
	put_fifo(root, "class/powercap/intel-rapl:0:0/name", path, sizeof(path));
	snprintf(path, sizeof(path), "%s/class/powercap/intel-rapl:0:1/energy_uj", root);
	snprintf(target, sizeof(target), "%s/class/powercap/intel-rapl:1/energy_uj", root);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(symlink(target, path), 0);
	snprintf(path, sizeof(path), "%s/class/powercap/intel-rapl:1/max_energy_range_uj",
		 root);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < 100; i++)
		fputc('0', f);
	fputs("262143328850\n", f);
	fclose(f);

	t = telem_open(root, ONLY(QVK_TELEMETRY_POWERCAP), NULL);
	fprintf(stderr, "hostile tree:\n%s", qvk_telemetry_describe(t));
	ck_assert_uint_eq(qvk_telemetry_domain_count(t), 0);
	telem_describes(t, "intel-rapl:0/energy_uj: a FIFO, refused");
	telem_describes(t, "intel-rapl:0:0: no name");
	telem_describes(t, "intel-rapl:0:1/energy_uj: a symlink, refused");
	telem_describes(t, "max_energy_range_uj: longer than 63 bytes");
	qvk_telemetry_destroy(t);

	/* The module's node as a FIFO (QVK_TELEM_DEV): refused, not waited on. */
	put_fifo(root, "class/powercap/intel-rapl/enabled", fifo, sizeof(fifo));
	opt.module_path = fifo;
	ck_assert_int_eq(qvk_telemetry_create(qvk_test_ctx, &opt, &t), QVK_OK);
	telem_describes(t, "not a character device");
	qvk_telemetry_destroy(t);
}
END_TEST

START_TEST(test_sysfs_fifo_at_runtime)
{
	const char *root = telem_fixture_copy("rapl");
	struct qvk_energy_window *w;
	struct qvk_energy_result r;
	struct qvk_telemetry *t = telem_open(root, ONLY(QVK_TELEMETRY_POWERCAP), NULL);
	int core = telem_find_domain(t, "core-0"), pkg = telem_find_domain(t, "package-0");
	char path[512];

	ck_assert_int_ge(core, 0);
	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	put_fifo(root, "class/powercap/intel-rapl:0:0/energy_uj", path, sizeof(path));
	telem_put(root, "class/powercap/intel-rapl:0/energy_uj", "1001000\n");
	qvk_test_sleep_ms(5);
	ck_assert_int_eq(qvk_energy_window_end(t, w, &r), QVK_OK);
	ck_assert(!r.domains[core].valid);
	ck_assert_msg(strstr(r.domains[core].note, "a FIFO, refused"), "%s",
		      r.domains[core].note);
	ck_assert_msg(r.domains[pkg].valid, "%s", r.domains[pkg].note);
	qvk_telemetry_destroy(t);
}
END_TEST

START_TEST(test_amdgpu_uevent_fifo)
{
	const char *root = telem_fixture_copy("drm");
	struct qvk_telemetry *t;
	char path[512];

	put_fifo(root, "class/drm/renderD128/device/uevent", path, sizeof(path));
	t = telem_open(root, ONLY(QVK_TELEMETRY_AMDGPU), NULL);
	telem_describes(t, "renderD128/device/uevent: a FIFO, refused");
	telem_describes(t, "amdgpu: no render node with the amdgpu driver");
	qvk_telemetry_destroy(t);
}
END_TEST

Suite *suite_telemetry(void);
Suite *suite_telemetry(void)
{
	Suite *s = suite_create("telemetry");
	TCase *tc;

	tc = tcase_create("powercap");
	tcase_add_checked_fixture(tc, telem_setup, telem_teardown);
	tcase_add_test(tc, test_powercap_domains);
	tcase_add_test(tc, test_powercap_wrap);
	tcase_add_test(tc, test_powercap_garbled);
	tcase_add_test(tc, test_powercap_garbled_at_runtime);
	tcase_add_test(tc, test_missing_root);
	tcase_add_test(tc, test_env_root_and_module_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("hwmon");
	tcase_add_checked_fixture(tc, telem_setup, telem_teardown);
	tcase_add_test(tc, test_hwmon_units);
	tcase_add_test(tc, test_hwmon_energy_and_power);
	tcase_add_test(tc, test_clocks_and_throttle);
	suite_add_tcase(s, tc);

	/* A hang here is the failure: the timeout reports it. */
	tc = tcase_create("hostile");
	tcase_add_checked_fixture(tc, telem_setup, telem_teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_sysfs_fifo_symlink_oversized);
	tcase_add_test(tc, test_sysfs_fifo_at_runtime);
	tcase_add_test(tc, test_amdgpu_uevent_fifo);
	suite_add_tcase(s, tc);
	return s;
}
