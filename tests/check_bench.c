/* SPDX-License-Identifier: MIT */
/*
 * suite_bench: what benchmarks compute (qvk/bench.h) -- sample statistics,
 * idle power, energy per token with idle subtracted and its bound, phases
 * lengthened until the source resolves them, a model's bytes and
 * operations per token, the compute ceiling -- and `qvk bench` itself on
 * stories260K: its JSON validated against tools/bench.schema.json (by
 * tests/bench_json_check.py with python3-jsonschema), its CSV, and its
 * joules per token against a constant-power hwmon source.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "telemetry_fixtures.h"
#include "telemetry/telemetry_internal.h"

/* ------------------------------------------------------ statistics */

START_TEST(test_stats_summarize)
{
	double odd[] = { 5, 1, 4, 2, 3 }, even[] = { 10, 2, 4, 8 };
	struct qvk_stats s;

	qvk_stats_summarize(odd, 5, &s);
	ck_assert_uint_eq(s.n, 5);
	ck_assert_double_eq(s.median, 3);
	ck_assert_double_eq(s.min, 1);
	ck_assert_double_eq(s.max, 5);
	qvk_stats_summarize(even, 4, &s);
	ck_assert_double_eq(s.median, 6); /* mean of 4 and 8 */
	ck_assert_double_eq(s.min, 2);
	ck_assert_double_eq(s.max, 10);
	qvk_stats_summarize(NULL, 0, &s);
	ck_assert_uint_eq(s.n, 0);
	ck_assert(isnan(s.median) && isnan(s.min) && isnan(s.max));
}
END_TEST

/* ---------------------------------------------------- energy per token */

static const struct qvk_telemetry_domain qvk_test_rapl = {
	.name = "package-0", .kind = QVK_TELEMETRY_CPU_PACKAGE, .counter = true,
	.update_period_s = 1e-3, .resolution = 1e-6,
};

START_TEST(test_energy_per_token)
{
	struct qvk_energy_domain_result e = { .valid = true, .energy_j = 2.0,
					      .avg_w = 4.0, .error_bound_j = 0.01 };
	struct qvk_idle_power idle = { .valid = true, .avg_w = 1.5,
				       .error_w = 0.1 };
	struct qvk_energy_per_token out;

	ck_assert_double_eq(qvk_energy_min_window_s(&qvk_test_rapl), 0.02);
	qvk_energy_per_token(&qvk_test_rapl, &e, 0.5, 100, &idle, &out);
	ck_assert_msg(out.valid, "%s", out.note);
	ck_assert(!out.short_window && !out.synthetic);
	ck_assert_double_eq_tol(out.j_per_token, 0.02, 1e-15);
	ck_assert_double_eq_tol(out.error_j_per_token, 1e-4, 1e-15);
	ck_assert_double_eq(out.avg_w, 4.0);
	ck_assert(out.net_valid);
	/* (2 J - 1.5 W x 0.5 s) / 100 and (0.01 J + 0.1 W x 0.5 s) / 100 */
	ck_assert_double_eq_tol(out.net_j_per_token, 0.0125, 1e-15);
	ck_assert_double_eq_tol(out.net_error_j_per_token, 6e-4, 1e-15);

	/* Shorter than 20 update periods: kept, flagged, said. */
	qvk_energy_per_token(&qvk_test_rapl, &e, 0.019, 100, NULL, &out);
	ck_assert(out.valid && out.short_window && !out.net_valid);
	ck_assert_msg(strstr(out.note, "20 update periods"), "%s", out.note);

	/* An invalid window passes its reason on; no tokens is no number. */
	e.valid = false;
	snprintf(e.note, sizeof(e.note), "counter went backwards");
	qvk_energy_per_token(&qvk_test_rapl, &e, 0.5, 100, &idle, &out);
	ck_assert(!out.valid && !out.net_valid);
	ck_assert_str_eq(out.note, "counter went backwards");
	e.valid = true;
	qvk_energy_per_token(&qvk_test_rapl, &e, 0.5, 0, &idle, &out);
	ck_assert(!out.valid);
	ck_assert_msg(strstr(out.note, "no tokens"), "%s", out.note);
}
END_TEST

START_TEST(test_idle_from_windows)
{
	struct qvk_energy_result w[3] = { 0 };
	const double watts[3] = { 2.0, 2.2, 1.9 };
	struct qvk_idle_power idle;

	for (int i = 0; i < 3; i++) {
		w[i].n_domains = 1;
		w[i].elapsed_s = 0.5;
		w[i].domains[0] = (struct qvk_energy_domain_result){
			.valid = true, .energy_j = watts[i] * 0.5,
			.avg_w = watts[i], .error_bound_j = 0.003 };
	}
	qvk_idle_power_from_windows(w, 3, 0, &idle);
	ck_assert_msg(idle.valid, "%s", idle.note);
	ck_assert_uint_eq(idle.n_windows, 3);
	ck_assert_double_eq_tol(idle.window_s, 1.5, 1e-12);
	ck_assert_double_eq_tol(idle.avg_w, 6.1 / 3, 1e-12);
	/* 0.009 J over 1.5 s, plus half of the 1.9..2.2 W spread. */
	ck_assert_double_eq_tol(idle.error_w, 0.006 + 0.15, 1e-12);

	w[1].domains[0].valid = false;
	snprintf(w[1].domains[0].note, sizeof(w[1].domains[0].note), "gone");
	qvk_idle_power_from_windows(w, 3, 0, &idle);
	ck_assert(!idle.valid);
	ck_assert_msg(strstr(idle.note, "idle window 1: gone"), "%s", idle.note);
	qvk_idle_power_from_windows(w, 3, 5, &idle);
	ck_assert(!idle.valid);
}
END_TEST

/* A scripted counter that each run advances by 10 W over its 4 ms. */
struct qvk_test_meter {
	uint64_t raw;
	uint32_t runs;
};

static qvk_status qvk_test_meter_read(struct qvk_telemetry *t,
				      struct qvk_tdom *d, struct qvk_treading *r)
{
	const struct qvk_test_meter *m = d->src;

	(void)t;
	r->t_ns = qvk_telemetry_now_ns();
	r->raw = m->raw;
	return QVK_OK;
}

static qvk_status qvk_test_run(void *user, uint64_t *tokens)
{
	struct qvk_test_meter *m = user;

	qvk_test_sleep_ms(4);
	m->raw += 40000; /* uJ */
	m->runs++;
	*tokens += 7;
	return m->runs == 1000 ? QVK_ERR_CANCELLED : QVK_OK;
}

static struct qvk_telemetry *qvk_test_meter_open(struct qvk_test_meter *m)
{
	struct qvk_telemetry *t = telem_open("/nonexistent", ALL_SOURCES, NULL);
	struct qvk_tdom *d = qvk_telemetry_add(t);

	ck_assert_ptr_nonnull(d);
	snprintf(d->pub.name, sizeof(d->pub.name), "meter");
	d->pub.kind = QVK_TELEMETRY_OTHER;
	d->pub.counter = true;
	d->pub.resolution = 1e-6;
	d->pub.update_period_s = 2e-3; /* windows >= 40 ms */
	d->read = qvk_test_meter_read;
	d->src = m;
	d->unit_j = 1e-6;
	return t;
}

START_TEST(test_phase_lengthened)
{
	struct qvk_test_meter m = { 0 };
	struct qvk_telemetry *t = qvk_test_meter_open(&m);
	struct qvk_idle_power idle = { .valid = true, .avg_w = 10, .error_w = 0 };
	struct qvk_phase_energy p;
	const struct qvk_energy_per_token *e = &p.domains[0];

	ck_assert_int_eq(qvk_energy_measure_phase(t, &idle, 1000, 10, qvk_test_run,
						  &m, &p), QVK_OK);
	fprintf(stderr, "phase: %u runs, %llu tokens, %.4f s (target %.3f s), "
		"%.6f J/token ± %.2e, net %.3e ± %.2e\n", p.runs,
		(unsigned long long)p.tokens, p.elapsed_s, p.target_s,
		e->j_per_token, e->error_j_per_token, e->net_j_per_token,
		e->net_error_j_per_token);
	ck_assert_double_eq_tol(p.target_s, 0.04, 1e-12);
	ck_assert_uint_eq(p.n_domains, 1);
	ck_assert_uint_eq(p.runs, m.runs);
	/* Repeated until 40 ms had passed and no further: runs take >= 4 ms. */
	ck_assert_uint_ge(p.runs, 2);
	ck_assert_uint_le(p.runs, 10);
	ck_assert_uint_eq(p.tokens, 7ull * p.runs);
	ck_assert_double_ge(p.elapsed_s, 0.04);
	ck_assert_msg(e->valid && !e->short_window, "%s", e->note);
	/* Every joule the runs added, per token, within the window's bound. */
	ck_assert_double_le(fabs(e->j_per_token * (double)p.tokens - 0.04 * p.runs),
			    e->error_j_per_token * (double)p.tokens + 1e-9);
	ck_assert_double_eq_tol(e->net_j_per_token,
				e->j_per_token - 10 * p.elapsed_s / (double)p.tokens,
				1e-12);

	/* Capped at 2 runs: a short window, flagged. */
	ck_assert_int_eq(qvk_energy_measure_phase(t, NULL, 2, 10, qvk_test_run,
						  &m, &p), QVK_OK);
	ck_assert_uint_eq(p.runs, 2);
	ck_assert(e->valid && e->short_window && !e->net_valid);

	/* A failing run stops the phase with its status. */
	m.runs = 998;
	ck_assert_int_eq(qvk_energy_measure_phase(t, NULL, 1000, 10, qvk_test_run,
						  &m, &p), QVK_ERR_CANCELLED);
	ck_assert_int_eq(qvk_energy_measure_phase(t, NULL, 0, 10, qvk_test_run,
						  &m, &p), QVK_ERR_INVALID_ARG);
	qvk_telemetry_destroy(t);

	/* No telemetry: one run, no energy. */
	m.runs = 0;
	ck_assert_int_eq(qvk_energy_measure_phase(NULL, NULL, 1000, 10,
						  qvk_test_run, &m, &p), QVK_OK);
	ck_assert_uint_eq(p.runs, 1);
	ck_assert_uint_eq(p.n_domains, 0);
	ck_assert_uint_eq(p.tokens, 7);
}
END_TEST

/* A sysfs tree with one hwmon power meter of @watts, updated every 5 ms. */
static void qvk_test_power_tree(char *root, size_t len, double watts)
{
	char path[600], text[32];

	snprintf(root, len, "/tmp/qvk-bench-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
	snprintf(path, sizeof(path), "mkdir -p '%s/class/hwmon/hwmon0'", root);
	ck_assert_int_eq(system(path), 0);
	snprintf(path, sizeof(path), "%s/class/hwmon/hwmon0/name", root);
	qvk_test_write_file(path, "power_meter\n", 12);
	snprintf(path, sizeof(path), "%s/class/hwmon/hwmon0/power1_average", root);
	snprintf(text, sizeof(text), "%.0f\n", watts * 1e6);
	qvk_test_write_file(path, text, strlen(text));
	snprintf(path, sizeof(path), "%s/class/hwmon/hwmon0/power1_average_interval",
		 root);
	qvk_test_write_file(path, "5\n", 2);
}

static void qvk_test_remove_tree(const char *root)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "bench: could not remove %s\n", root);
}

START_TEST(test_idle_measured)
{
	char root[64];
	struct qvk_telemetry_options opt = { .module_path = "/nonexistent",
					     .disable = ONLY(QVK_TELEMETRY_HWMON),
					     .poll_period_s = 0.002 };
	struct qvk_idle_power idle[QVK_TELEMETRY_MAX_DOMAINS];
	struct qvk_telemetry *t = NULL;

	qvk_test_power_tree(root, sizeof(root), 25);
	opt.sysfs_root = root;
	ck_assert_int_eq(qvk_telemetry_create(qvk_test_ctx, &opt, &t), QVK_OK);
	ck_assert_uint_eq(qvk_telemetry_domain_count(t), 1);
	/* 2 windows of 10 ms each are lengthened to 20 x 5 ms. */
	ck_assert_int_eq(qvk_energy_measure_idle(t, 0.02, 2, idle), QVK_OK);
	fprintf(stderr, "idle: %.6f W ± %.2e over %.3f s\n", idle[0].avg_w,
		idle[0].error_w, idle[0].window_s);
	ck_assert_msg(idle[0].valid, "%s", idle[0].note);
	ck_assert_uint_eq(idle[0].n_windows, 2);
	ck_assert_double_ge(idle[0].window_s, 0.2);
	ck_assert_double_eq_tol(idle[0].avg_w, 25.0, 1e-9);
	/*
	 * The bound: the edges, one 5 ms update period stale at each end of
	 * windows of 20 periods, i.e. 2/20 of the power; and the spread of a
	 * constant meter is 0.
	 */
	ck_assert_double_le(idle[0].error_w, 25.0 * 2.0 / QVK_ENERGY_MIN_PERIODS * 1.05);
	ck_assert_int_eq(qvk_energy_measure_idle(t, 0, 2, idle), QVK_ERR_INVALID_ARG);
	ck_assert_int_eq(qvk_energy_measure_idle(t, 1, 17, idle), QVK_ERR_INVALID_ARG);
	qvk_telemetry_destroy(t);
	qvk_test_remove_tree(root);
}
END_TEST

/* ------------------------------------------------------------ roofline */

START_TEST(test_llm_cost)
{
	char path[512];
	struct qvk_model *model = qvk_test_model_load(
		qvk_test_source_path("tests/data/stories260K.bin", path,
				     sizeof(path)));
	const struct qvk_model_params *p = &model->params;
	struct qvk_llm_options opt = { .format = QVK_WEIGHTS_Q8, .group = 32,
				       .max_batch = 16, .max_seq = 64 };
	uint64_t linear = 0, kv_dim = (uint64_t)p->n_kv_heads * p->head_dim;
	struct qvk_llm *llm = NULL;
	struct qvk_llm_cost c;

	ck_assert_int_eq(qvk_llm_create(qvk_test_dev, model, &opt, &llm), QVK_OK);
	qvk_llm_cost(llm, &c);
	/* Weights: 7 matrices a layer and the classifier, 2 ops each. */
	linear = (uint64_t)p->n_layers *
		 (2 * (uint64_t)p->dim * p->n_heads * p->head_dim +
		  2 * (uint64_t)p->dim * kv_dim + 3 * (uint64_t)p->dim * p->hidden_dim) +
		 (uint64_t)p->vocab_size * p->dim;
	ck_assert_double_eq(c.matmul_ops_per_token, 2.0 * (double)linear);
	ck_assert_double_eq(c.classifier_ops, 2.0 * p->vocab_size * p->dim);
	/* q8 at g32: at least 34 bytes per 32 weights (rows padded to 32). */
	ck_assert_uint_ge(c.weight_bytes, linear / 32 * 34);
	ck_assert_uint_le(c.weight_bytes, linear * 2);
	ck_assert_uint_eq(c.kv_bytes_per_position, 2ull * p->n_layers * kv_dim * 2);
	ck_assert_int_eq(c.compute, QVK_COMPUTE_INT8_DOT);
	ck_assert_uint_eq(c.max_batch, 16);
	/* Decode at positions 10..13 reads 11..14 cached positions. */
	ck_assert_double_eq_tol(qvk_llm_decode_bytes_per_token(&c, 10, 4),
				(double)(c.weight_bytes + c.other_bytes_per_token) +
					12.5 * (double)c.kv_bytes_per_position,
				1e-6);
	ck_assert_double_eq_tol(qvk_llm_decode_ops_per_token(&c, 10, 4),
				c.matmul_ops_per_token +
					12.5 * c.attention_ops_per_position, 1e-6);
	/* A 20-token prompt: the classifier once, 2 batches of weights. */
	ck_assert_double_eq_tol(qvk_llm_prefill_ops(&c, 20),
				20 * (c.matmul_ops_per_token - c.classifier_ops) +
					c.classifier_ops +
					210 * c.attention_ops_per_position, 1e-3);
	ck_assert_double_eq_tol(qvk_llm_prefill_bytes(&c, 20),
				2.0 * (double)(c.weight_bytes - c.classifier_bytes) +
					(double)c.classifier_bytes +
					20.0 * (double)c.other_bytes_per_token +
					210.0 * (double)c.kv_bytes_per_position, 1e-3);
	ck_assert_double_eq(qvk_llm_prefill_ops(&c, 0), 0);
	qvk_llm_destroy(llm);
	qvk_model_destroy(model);
}
END_TEST

START_TEST(test_compute_peak)
{
	double int_gops = 0, fp_gops = 0;

	ck_assert_int_eq(qvk_device_compute_peak(qvk_test_dev, QVK_COMPUTE_INT8_DOT,
						 2, &int_gops), QVK_OK);
	ck_assert_int_eq(qvk_device_compute_peak(qvk_test_dev, QVK_COMPUTE_FP32_FMA,
						 2, &fp_gops), QVK_OK);
	fprintf(stderr, "compute peak: int8-dot %.2f GOPS, fp32-fma %.2f GOPS\n",
		int_gops, fp_gops);
	/* Any device does more than 10 MOPS and less than 10 POPS. */
	ck_assert(int_gops > 0.01 && int_gops < 1e7);
	ck_assert(fp_gops > 0.01 && fp_gops < 1e7);
	ck_assert_int_eq(qvk_device_compute_peak(qvk_test_dev, QVK_COMPUTE_INT8_DOT,
						 0, &int_gops), QVK_ERR_INVALID_ARG);
	ck_assert_double_eq(int_gops, 0);
}
END_TEST

/* ------------------------------------------------------ qvk bench itself */

/* Run @args through the shell; returns the exit status. */
static int qvk_test_sh(const char *args)
{
	int status = system(args);

	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/*
 * Runs qvk bench on stories260K with energy from @sysfs_root only (the
 * module's node made absent), checks the JSON and CSV with
 * tests/bench_json_check.py (--power @watts when > 0), and the table.
 * @plot: also --plot, checked for a PNG (or the message without gnuplot).
 */
static void qvk_test_bench_run(const char *sysfs_root, double watts, bool plot)
{
	const char *build = getenv("QVK_BUILD_DIR");
	char dir[] = "/tmp/qvk-bench-run-XXXXXX", cmd[4096], model[512],
	     power[32] = "";
	size_t len;
	char *err;
	int rc;

	ck_assert_msg(build && *build, "QVK_BUILD_DIR is not set (make check sets it)");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	qvk_test_source_path("tests/data/stories260K.bin", model, sizeof(model));
	/*
	 * Small and quick: 2 formats, 8 + 8 tokens, 2 repetitions; the
	 * validation layer on, and any message it prints is a failure.
	 */
	snprintf(cmd, sizeof(cmd),
		 "QVK_VALIDATION=1 QVK_SYSFS_ROOT='%s' QVK_TELEM_DEV=/nonexistent "
		 "'%s/qvk' bench -m '%s' --formats q8,q4 -p 8 -n 8 -r 2 "
		 "--idle-s 0.2 --json '%s/out.json' --csv '%s/out.csv' %s%s%s "
		 ">'%s/table.txt' 2>'%s/stderr.txt'",
		 sysfs_root, build, model, dir, dir, plot ? "--plot '" : "",
		 plot ? dir : "", plot ? "/out.png'" : "", dir, dir);
	rc = qvk_test_sh(cmd);
	snprintf(cmd, sizeof(cmd), "%s/stderr.txt", dir);
	err = qvk_test_read_file(cmd, &len);
	ck_assert_msg(!strstr(err, "validation"), "validation messages:\n%s", err);
	if (plot && !strstr(err, "plot written")) {
		/* Without gnuplot: the clear message, exit status 1. */
		ck_assert_msg(rc == 1 && strstr(err, "gnuplot is not installed"),
			      "--plot without gnuplot (%d):\n%s", rc, err);
		fprintf(stderr, "bench: no gnuplot here, its message checked\n");
	} else {
		ck_assert_msg(rc == 0, "qvk bench exited with %d:\n%s", rc, err);
	}
	free(err);
	if (plot && rc == 0) {
		unsigned char *png;

		snprintf(cmd, sizeof(cmd), "%s/out.png", dir);
		png = qvk_test_read_file(cmd, &len);
		ck_assert_msg(len > 1000 && !memcmp(png, "\x89PNG\r\n\x1a\n", 8),
			      "%s is not a PNG (%zu bytes)", cmd, len);
		free(png);
	}
	if (watts > 0)
		snprintf(power, sizeof(power), "--power %g", watts);
	snprintf(cmd, sizeof(cmd), "python3 '%s/tests/bench_json_check.py' "
		 "'%s/tools/bench.schema.json' '%s/out.json' --csv '%s/out.csv' %s "
		 ">'%s/check.txt' 2>&1", QVK_SOURCE_DIR, QVK_SOURCE_DIR, dir, dir,
		 power, dir);
	rc = qvk_test_sh(cmd);
	snprintf(cmd, sizeof(cmd), "%s/check.txt", dir);
	err = qvk_test_read_file(cmd, &len);
	fprintf(stderr, "%s", err);
	ck_assert_msg(rc == 0, "the JSON check failed (%d):\n%s", rc, err);
	free(err);
	snprintf(cmd, sizeof(cmd), "%s/table.txt", dir);
	err = qvk_test_read_file(cmd, &len);
	ck_assert_msg(strstr(err, "stories260K.bin") && strstr(err, "q4 g32") &&
			      strstr(err, "roofline") && strstr(err, "q4/q8"),
		      "table:\n%s", err);
	free(err);
	qvk_test_remove_tree(dir);
}

START_TEST(test_bench_json_no_energy)
{
	struct qvk_telemetry_options opt = { .sysfs_root = "/nonexistent",
					     .module_path = "/nonexistent" };
	struct qvk_telemetry *t = NULL;
	uint32_t n;

	/* GPU sources (amdgpu, NVML) do not go through sysfs. */
	ck_assert_int_eq(qvk_telemetry_create(qvk_test_ctx, &opt, &t), QVK_OK);
	n = qvk_telemetry_domain_count(t);
	qvk_telemetry_destroy(t);
	if (n) {
		fprintf(stderr, "SKIP: bench without energy: this machine has a GPU "
			"energy source, so qvk bench cannot be run without one\n");
		return;
	}
	qvk_test_bench_run("/nonexistent", 0, true);
}
END_TEST

START_TEST(test_bench_json_constant_power)
{
	char root[64];

	qvk_test_power_tree(root, sizeof(root), 12.5);
	qvk_test_bench_run(root, 12.5, false);
	qvk_test_remove_tree(root);
}
END_TEST

START_TEST(test_bench_bad_arguments)
{
	const char *build = getenv("QVK_BUILD_DIR");
	static const char *const bad[] = {
		"bench -p 8",                         /* no model */
		"bench --synthetic 3b",               /* unknown shape */
		"bench --synthetic 100,2,64,4,4,10",  /* dim not a multiple of 32 */
		"bench --synthetic 128,2,64,4,3,10",  /* kv heads do not divide */
		"bench --synthetic 110m --formats q8,q5", /* unknown format */
		"bench --synthetic 110m -r 0",
		"bench --synthetic 110m --group 48",
		"bench --synthetic 110m --json --csv",  /* both on stdout */
		"bench --synthetic 110m --save-gguf /nonexistent/x.gguf", /* no -t */
		"bench -m /nonexistent.gguf",
	};
	char cmd[1024];

	ck_assert_ptr_nonnull(build);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc;

		snprintf(cmd, sizeof(cmd), "'%s/qvk' %s >/dev/null 2>&1", build,
			 bad[i]);
		rc = qvk_test_sh(cmd);
		ck_assert_msg(rc == 1 || rc == 2, "'qvk %s' exited with %d", bad[i],
			      rc);
	}
}
END_TEST

Suite *suite_bench(void);
Suite *suite_bench(void)
{
	Suite *s = suite_create("bench");
	TCase *tc;

	tc = tcase_create("stats");
	tcase_add_checked_fixture(tc, telem_setup, telem_teardown);
	tcase_add_test(tc, test_stats_summarize);
	tcase_add_test(tc, test_energy_per_token);
	tcase_add_test(tc, test_idle_from_windows);
	tcase_add_test(tc, test_phase_lengthened);
	tcase_add_test(tc, test_idle_measured);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);

	tc = tcase_create("roofline");
	tcase_add_checked_fixture(tc, qvk_test_gpu_setup, qvk_test_gpu_teardown);
	tcase_add_test(tc, test_llm_cost);
	tcase_add_test(tc, test_compute_peak);
	tcase_set_timeout(tc, 120);
	suite_add_tcase(s, tc);

	tc = tcase_create("command");
	tcase_add_checked_fixture(tc, qvk_test_ctx_setup, qvk_test_ctx_teardown);
	tcase_add_test(tc, test_bench_json_no_energy);
	tcase_add_test(tc, test_bench_json_constant_power);
	tcase_add_test(tc, test_bench_bad_arguments);
	tcase_set_timeout(tc, 300);
	suite_add_tcase(s, tc);
	return s;
}
