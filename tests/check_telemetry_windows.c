/* SPDX-License-Identifier: MIT */
/*
 * suite_telemetry_windows: energy windows on scripted domains (the
 * cross-source self-check, interpolation to the window's edges and the
 * error bound, counter re-basing), the poll thread, and the mapping of GPU
 * timestamps to CLOCK_MONOTONIC.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "telemetry_fixtures.h"
#include "telemetry/telemetry_internal.h"

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
	struct qvk_telemetry *t = telem_open("/nonexistent", ALL_SOURCES, NULL);

	add_scripted(t, &a, "package", QVK_TELEMETRY_MODULE);
	add_scripted(t, &b, "package-0", QVK_TELEMETRY_POWERCAP);

	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	qvk_test_sleep_ms(10);
	a.raw += 1000000;
	b.raw += 1000000;
	ck_assert_int_eq(qvk_energy_window_end(t, w, &r), QVK_OK);
	ck_assert_uint_eq(r.n_checks, 1);
	ck_assert(r.checks[0].agree);
	/* Only the few microseconds between the two reads differ. */
	ck_assert_double_le(r.checks[0].rel_diff, 1e-2);

	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	qvk_test_sleep_ms(10);
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
	struct qvk_telemetry *t = telem_open("/nonexistent", ALL_SOURCES, NULL);
	uint64_t t0;
	double span_s, expect;

	add_scripted(t, &a, "stale", QVK_TELEMETRY_MODULE);
	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	t0 = qvk_telemetry_now_ns();
	qvk_test_sleep_ms(30);
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
	qvk_test_sleep_ms(2);
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

/*
 * A counter that goes backwards is a wrap only when the wrap is possible
 * at the power ceiling (4 kW). 900000 -> 100 uJ on powercap's 262 kJ range
 * within milliseconds would be a wrap at thousands of kW: before the fix
 * that window was "valid" with 262 kJ.
 */
START_TEST(test_backwards_counter)
{
	const uint64_t range = 262143328850ull;
	struct script a = { .raw = 900000 }, b = { .raw = 5000 }, c = { .raw = 1000 };
	struct qvk_energy_window *w;
	struct qvk_energy_result r;
	struct qvk_telemetry *t = telem_open("/nonexistent", ALL_SOURCES, NULL);

	add_scripted(t, &a, "package-0", QVK_TELEMETRY_POWERCAP);
	t->dom[0].wrap = range;
	add_scripted(t, &b, "energy1", QVK_TELEMETRY_HWMON); /* no wrap point */
	t->dom[1].pub.kind = QVK_TELEMETRY_OTHER; /* not cross-checked */
	/* 20 J range: 5 ms to wrap at 4 kW, so a 10 ms gap may hide wraps. */
	add_scripted(t, &c, "small-range", QVK_TELEMETRY_POWERCAP);
	t->dom[2].wrap = 20000000;

	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	a.raw = 100;
	b.raw = 100;
	c.raw = 2000;
	qvk_test_sleep_ms(10);
	ck_assert_int_eq(qvk_energy_window_end(t, w, &r), QVK_OK);
	for (int i = 0; i < 3; i++)
		fprintf(stderr, "backwards: %s: valid %d, %.3f J: %s\n",
			t->dom[i].pub.name, r.domains[i].valid, r.domains[i].energy_j,
			r.domains[i].note);
	ck_assert_msg(!r.domains[0].valid, "%.0f J taken as a wrap", r.domains[0].energy_j);
	ck_assert_msg(strstr(r.domains[0].note, "went backwards (900000 -> 100") &&
		      strstr(r.domains[0].note, "over the 4 kW ceiling"), "%s",
		      r.domains[0].note);
	ck_assert(!r.domains[1].valid);
	ck_assert_msg(strstr(r.domains[1].note, "no wrap point"), "%s", r.domains[1].note);
	ck_assert(!r.domains[2].valid);
	ck_assert_msg(strstr(r.domains[2].note, "needs to wrap at 4 kW"), "%s",
		      r.domains[2].note);

	/* A believable wrap (1.5 mJ over the top in 10 ms) still counts. */
	a.raw = range - 1000;
	ck_assert_int_eq(qvk_telemetry_poll(t), QVK_OK);
	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	a.raw = 500;
	qvk_test_sleep_ms(10);
	ck_assert_int_eq(qvk_energy_window_end(t, w, &r), QVK_OK);
	ck_assert_msg(r.domains[0].valid, "%s", r.domains[0].note);
	ck_assert_double_le(fabs(r.domains[0].energy_j - 0.0015),
			    r.domains[0].error_bound_j + 1e-4);
	qvk_telemetry_destroy(t);
}
END_TEST

START_TEST(test_poll_thread)
{
	/* The thread integrates power domains on its own. */
	const char *root = telem_fixture_copy("hwmon");
	struct qvk_telemetry_options opt = { .sysfs_root = root,
					     .module_path = "/nonexistent",
					     .disable = ONLY(QVK_TELEMETRY_HWMON),
					     .poll_period_s = 0.002 };
	struct qvk_energy_window *w;
	struct qvk_energy_result r;
	struct qvk_telemetry *t = NULL;
	int amd;
	uint64_t begin_ns;
	double max_gap_s;
	bool read = false;

	ck_assert_int_eq(qvk_telemetry_create(qvk_test_ctx, &opt, &t), QVK_OK);
	amd = telem_find_domain(t, "amdgpu hwmon0 PPT");
	ck_assert_int_ge(amd, 0);
	ck_assert_int_eq(qvk_energy_window_begin(t, &w), QVK_OK);
	begin_ns = qvk_telemetry_now_ns();
	/*
	 * Until the thread has read the domain on its own. 30 ms are plenty
	 * on a quiet machine; on a loaded one the thread may wake much later,
	 * so wait for the reading (up to 5 s) instead of assuming it.
	 */
	for (int i = 0; i < 500 && !read; i++) {
		qvk_test_sleep_ms(i ? 10 : 30);
		pthread_mutex_lock(&t->lock);
		read = t->dom[amd].last.t_ns > begin_ns;
		pthread_mutex_unlock(&t->lock);
	}
	ck_assert_msg(read, "the poll thread did not read the domain in 5 s");
	ck_assert_int_eq(qvk_energy_window_end(t, w, &r), QVK_OK);
	ck_assert_msg(r.domains[amd].valid, "%s", r.domains[amd].note);
	ck_assert_double_eq_tol(r.domains[amd].avg_w, 25.0, 1e-9);
	pthread_mutex_lock(&t->lock);
	max_gap_s = t->dom[amd].max_gap_s;
	pthread_mutex_unlock(&t->lock);
	/* A reading inside the window: no gap spans all of it. */
	ck_assert_msg(max_gap_s < r.elapsed_s, "longest gap %.3f s of a %.3f s "
		      "window", max_gap_s, r.elapsed_s);
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
	qvk_test_sleep_ms(20);
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

Suite *suite_telemetry_windows(void);
Suite *suite_telemetry_windows(void)
{
	Suite *s = suite_create("telemetry_windows");
	TCase *tc;

	tc = tcase_create("windows");
	tcase_add_checked_fixture(tc, telem_setup, telem_teardown);
	tcase_add_test(tc, test_self_check);
	tcase_add_test(tc, test_interpolation_and_bound);
	tcase_add_test(tc, test_backwards_counter);
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
