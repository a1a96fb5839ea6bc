// SPDX-License-Identifier: MIT
/*
 * The benchmark's energy path end to end inside the test VM: a static
 * program linked with libqvk's telemetry and runtime/bench/energy.c (the
 * code qvk bench uses) measures idle power and joules per token on the
 * module's synthetic domain, whose ramp is known exactly.
 *
 *   bench_test --rate-uw N     (the module's synthetic_uw)
 *
 * Prints "QVK_TEST bench-energy PASS|FAIL" for run-vm-test.sh.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <qvk/bench.h>

#include "vm_check.h"

int check_failures;

struct work {
	unsigned ms;      /* each run sleeps this long */
	uint32_t tokens;  /* and "processes" this many tokens */
};

static qvk_status work_run(void *user, uint64_t *tokens)
{
	const struct work *w = user;
	struct timespec ts = { w->ms / 1000, (long)(w->ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
	*tokens += w->tokens;
	return QVK_OK;
}

/* One phase: J/token from the benchmark's code against the ramp. */
static void check_phase(struct qvk_telemetry *t, int d,
			const struct qvk_idle_power *idle, double rate_w,
			struct work w, uint32_t max_runs)
{
	const struct qvk_energy_per_token *e;
	struct qvk_phase_energy p;
	double expect;

	CHECK(qvk_energy_measure_phase(t, idle, max_runs, 10, work_run, &w, &p) ==
		      QVK_OK, "measure phase");
	e = &p.domains[d];
	expect = rate_w * p.elapsed_s / (double)p.tokens;
	printf("bench: %u ms x %u runs (target %.3f s): %llu tokens in %.6f s, "
	       "%.9f J/token (ramp %.9f, error %.2e, bound %.2e), net %.3e ± "
	       "%.2e, %s%s\n", w.ms, p.runs, p.target_s,
	       (unsigned long long)p.tokens, p.elapsed_s, e->j_per_token, expect,
	       e->j_per_token - expect, e->error_j_per_token, e->net_j_per_token,
	       e->net_error_j_per_token, e->note, e->short_window ? " [short]" : "");
	CHECK(e->valid, "invalid: %s", e->note);
	CHECK(p.tokens == (uint64_t)w.tokens * p.runs, "tokens");
	/* Flagged exactly when the window stayed under 20 update periods. */
	CHECK(e->short_window == (p.elapsed_s < p.target_s), "short window %d in "
	      "%.4f s", e->short_window, p.elapsed_s);
	CHECK(max_runs == 1 || p.elapsed_s >= p.target_s, "window %.4f s < %.4f s",
	      p.elapsed_s, p.target_s);
	/*
	 * The ramp is exact: the window's J/token may differ from
	 * rate x elapsed / tokens only by the 1 uJ counter steps, far inside
	 * the stated bound, which must itself hold.
	 */
	CHECK(fabs(e->j_per_token - expect) <= 1e-4 * (1 + p.elapsed_s) / (double)p.tokens,
	      "off the ramp by %.3e J/token", e->j_per_token - expect);
	CHECK(fabs(e->j_per_token - expect) <= e->error_j_per_token,
	      "beyond the bound %.3e J/token", e->error_j_per_token);
	CHECK(fabs(e->avg_w - rate_w) <= 1e-4 * rate_w, "avg %.6f W", e->avg_w);
	/* Idle is the same ramp: nothing is left once it is subtracted. */
	CHECK(e->net_valid, "no net figure");
	CHECK(fabs(e->net_j_per_token) <= e->net_error_j_per_token,
	      "net %.3e J/token beyond its bound %.3e", e->net_j_per_token,
	      e->net_error_j_per_token);
	CHECK(e->synthetic && strstr(e->note, "synthetic"), "not labelled synthetic");
}

int main(int argc, char **argv)
{
	struct qvk_telemetry_options opt = { .poll_period_s = -1 };
	struct qvk_idle_power idle[QVK_TELEMETRY_MAX_DOMAINS];
	struct qvk_telemetry *t = NULL;
	struct qvk_ctx *ctx = NULL;
	double rate_w = 50.0;
	int synth = -1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && !strcmp(argv[1], "--rate-uw"))
		rate_w = strtod(argv[2], NULL) * 1e-6;
	CHECK(qvk_ctx_create(&ctx) == QVK_OK, "context");
	if (!ctx)
		goto out;
	CHECK(qvk_telemetry_create(ctx, &opt, &t) == QVK_OK, "create: %s",
	      qvk_ctx_message(ctx));
	if (!t)
		goto out;
	for (uint32_t i = 0; i < qvk_telemetry_domain_count(t); i++) {
		const struct qvk_telemetry_domain *d = qvk_telemetry_domain(t, i);

		if (d->synthetic && d->source == QVK_TELEMETRY_MODULE)
			synth = (int)i;
	}
	CHECK(synth >= 0, "no synthetic domain from the module");
	if (synth < 0)
		goto out;
	printf("bench: synthetic domain update %.4f s, windows >= %.4f s\n",
	       qvk_telemetry_domain(t, (uint32_t)synth)->update_period_s,
	       qvk_energy_min_window_s(qvk_telemetry_domain(t, (uint32_t)synth)));

	CHECK(qvk_energy_measure_idle(t, 0.1, 4, idle) == QVK_OK, "idle");
	printf("bench: idle %.6f W ± %.2e over %.3f s in %u windows\n",
	       idle[synth].avg_w, idle[synth].error_w, idle[synth].window_s,
	       idle[synth].n_windows);
	CHECK(idle[synth].valid, "idle invalid: %s", idle[synth].note);
	CHECK(fabs(idle[synth].avg_w - rate_w) <= idle[synth].error_w,
	      "idle %.6f W, the ramp is %.6f W", idle[synth].avg_w, rate_w);
	CHECK(fabs(idle[synth].avg_w - rate_w) <= 1e-4 * rate_w, "idle off the ramp");

	/* Runs shorter than the window are repeated inside it... */
	check_phase(t, synth, idle, rate_w, (struct work){ 3, 16 }, 1000);
	/* ...a long one is measured once... */
	check_phase(t, synth, idle, rate_w, (struct work){ 60, 128 }, 1000);
	/* ...and one that may not be repeated is flagged. */
	check_phase(t, synth, idle, rate_w, (struct work){ 2, 1 }, 1);
out:
	qvk_telemetry_destroy(t);
	qvk_ctx_destroy(ctx);
	printf("QVK_TEST bench-energy %s\n", check_failures ? "FAIL" : "PASS");
	return check_failures != 0;
}
