/* SPDX-License-Identifier: MIT */
/*
 * Energy per token: idle power measured first, then each phase of work in
 * one window, repeated until the window is long enough for its source
 * (QVK_ENERGY_MIN_PERIODS update periods), divided by the tokens it
 * processed, with and without idle power, each with its error bound. Only
 * the public telemetry API is used, so the kernel-module VM test links
 * this file as it is.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <qvk/bench.h>

#include "../internal.h"

static double qvk_bench_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Sleep @s seconds of CLOCK_MONOTONIC, through interruptions. */
static void qvk_bench_sleep_s(double s)
{
	struct timespec until;
	double end = qvk_bench_now_s() + s;

	until.tv_sec = (time_t)end;
	until.tv_nsec = (long)((end - (double)until.tv_sec) * 1e9);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL) ==
	       EINTR)
		;
}

double qvk_energy_min_window_s(const struct qvk_telemetry_domain *d)
{
	return QVK_ENERGY_MIN_PERIODS * d->update_period_s;
}

/* The window every domain of @t resolves. */
static double qvk_energy_target_s(const struct qvk_telemetry *t)
{
	double target = 0;

	for (uint32_t i = 0; i < qvk_telemetry_domain_count(t); i++)
		target = fmax(target,
			      qvk_energy_min_window_s(qvk_telemetry_domain(t, i)));
	return target;
}

void qvk_idle_power_from_windows(const struct qvk_energy_result *w,
				 uint32_t n, uint32_t domain,
				 struct qvk_idle_power *out)
{
	double energy_j = 0, bound_j = 0, time_s = 0, lo = INFINITY,
	       hi = -INFINITY;

	memset(out, 0, sizeof(*out));
	out->n_windows = n;
	for (uint32_t i = 0; i < n; i++) {
		const struct qvk_energy_domain_result *r = &w[i].domains[domain];

		if (domain >= w[i].n_domains || !r->valid) {
			snprintf(out->note, sizeof(out->note),
				 "idle window %u: %s", i,
				 domain >= w[i].n_domains ? "no such domain" :
							    r->note);
			return;
		}
		if (!(w[i].elapsed_s > 0)) {
			snprintf(out->note, sizeof(out->note),
				 "idle window %u is empty", i);
			return;
		}
		energy_j += r->energy_j;
		bound_j += r->error_bound_j;
		time_s += w[i].elapsed_s;
		lo = fmin(lo, r->energy_j / w[i].elapsed_s);
		hi = fmax(hi, r->energy_j / w[i].elapsed_s);
	}
	if (!n) {
		snprintf(out->note, sizeof(out->note), "no idle window");
		return;
	}
	out->valid = true;
	out->window_s = time_s;
	out->avg_w = energy_j / time_s;
	out->error_w = bound_j / time_s + 0.5 * (hi - lo);
}

qvk_status qvk_energy_measure_idle(struct qvk_telemetry *t, double seconds,
				   uint32_t n_windows,
				   struct qvk_idle_power *out)
{
	uint32_t n_domains = qvk_telemetry_domain_count(t), done = 0;
	struct qvk_energy_result *w;
	qvk_status st = QVK_OK;
	double each_s;

	if (!(seconds > 0 && seconds <= 3600) || n_windows < 1 || n_windows > 16)
		return qvk_error(NULL, QVK_ERR_INVALID_ARG,
				 "idle measurement of %g s in %u windows "
				 "(0 < s <= 3600, 1..16 windows)",
				 seconds, n_windows);
	if (!n_domains)
		return QVK_OK;
	w = calloc(n_windows, sizeof(*w));
	if (!w)
		return qvk_error(NULL, QVK_ERR_NO_MEMORY, "idle windows");
	each_s = fmax(seconds / n_windows, qvk_energy_target_s(t));
	for (; st == QVK_OK && done < n_windows; done++) {
		struct qvk_energy_window *win;

		st = qvk_energy_window_begin(t, &win);
		if (st != QVK_OK)
			break;
		qvk_bench_sleep_s(each_s);
		st = qvk_energy_window_end(t, win, &w[done]);
	}
	for (uint32_t d = 0; st == QVK_OK && d < n_domains; d++)
		qvk_idle_power_from_windows(w, n_windows, d, &out[d]);
	free(w);
	return st;
}

void qvk_energy_per_token(const struct qvk_telemetry_domain *d,
			  const struct qvk_energy_domain_result *e,
			  double elapsed_s, uint64_t tokens,
			  const struct qvk_idle_power *idle,
			  struct qvk_energy_per_token *out)
{
	double min_s = qvk_energy_min_window_s(d);

	memset(out, 0, sizeof(*out));
	out->synthetic = d->synthetic;
	out->tokens = tokens;
	out->window_s = elapsed_s;
	if (!e->valid) {
		snprintf(out->note, sizeof(out->note), "%s", e->note);
		return;
	}
	if (!tokens || !(elapsed_s > 0)) {
		snprintf(out->note, sizeof(out->note), "no tokens in the window");
		return;
	}
	out->valid = true;
	out->j_per_token = e->energy_j / (double)tokens;
	out->error_j_per_token = e->error_bound_j / (double)tokens;
	out->avg_w = e->avg_w;
	out->short_window = elapsed_s < min_s;
	if (idle && idle->valid) {
		out->net_valid = true;
		out->net_j_per_token =
			(e->energy_j - idle->avg_w * elapsed_s) / (double)tokens;
		out->net_error_j_per_token =
			(e->error_bound_j + idle->error_w * elapsed_s) /
			(double)tokens;
	}
	snprintf(out->note, sizeof(out->note), "%s%s%s",
		 d->synthetic ? "synthetic test ramp, not a measurement" : "",
		 d->synthetic && out->short_window ? "; " : "",
		 out->short_window ? "window shorter than 20 update periods" :
				     "");
}

qvk_status qvk_energy_measure_phase(struct qvk_telemetry *t,
				    const struct qvk_idle_power *idle,
				    uint32_t max_runs, double max_s,
				    qvk_bench_run_fn run, void *user,
				    struct qvk_phase_energy *out)
{
	struct qvk_energy_window *win = NULL;
	struct qvk_energy_result res;
	qvk_status st, end_st;
	double t0;

	memset(out, 0, sizeof(*out));
	if (!max_runs || !(max_s >= 0))
		return qvk_error(NULL, QVK_ERR_INVALID_ARG,
				 "phase of at most %u runs and %g s", max_runs,
				 max_s);
	if (!t || !qvk_telemetry_domain_count(t)) {
		t0 = qvk_bench_now_s();
		st = run(user, &out->tokens);
		out->runs = 1;
		out->elapsed_s = qvk_bench_now_s() - t0;
		return st;
	}
	out->target_s = qvk_energy_target_s(t);
	st = qvk_energy_window_begin(t, &win);
	if (st != QVK_OK)
		return st;
	t0 = qvk_bench_now_s();
	do {
		st = run(user, &out->tokens);
		out->runs++;
		out->elapsed_s = qvk_bench_now_s() - t0;
	} while (st == QVK_OK && out->runs < max_runs &&
		 out->elapsed_s < out->target_s && out->elapsed_s < max_s);
	/* The window is closed (and freed) also when a run failed. */
	end_st = qvk_energy_window_end(t, win, &res);
	if (st != QVK_OK)
		return st;
	if (end_st != QVK_OK)
		return end_st;
	out->elapsed_s = res.elapsed_s;
	out->n_domains = res.n_domains;
	for (uint32_t i = 0; i < res.n_domains; i++)
		qvk_energy_per_token(qvk_telemetry_domain(t, i),
				     &res.domains[i], res.elapsed_s,
				     out->tokens, idle ? &idle[i] : NULL,
				     &out->domains[i]);
	return QVK_OK;
}
