// SPDX-License-Identifier: MIT
/*
 * libqvk's telemetry inside the test VM: a static program linked with
 * the runtime/telemetry sources reads the module's synthetic domain through the
 * mapped page and checks that energy windows match the known ramp.
 *
 *   libqvk_test --rate-uw N [--as UID:GROUP --coarse-step-uj N]
 *
 * --rate-uw is the module's synthetic_uw. --as runs as UID with GROUP as
 * supplementary group (a group= member), who reads the coarse page when
 * the module was loaded with unpriv_step_uj=N: the windows must then be
 * valid and within their stated bounds, which must cover the step.
 * Prints "QVK_TEST libqvk-synthetic PASS|FAIL" (libqvk-coarse with --as)
 * for run-vm-test.sh.
 */
#include <grp.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <qvk/telemetry.h>

#include "vm_check.h"

int check_failures;

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int main(int argc, char **argv)
{
	static const unsigned windows_ms[] = { 100, 400, 800 };
	struct qvk_telemetry_options opt = { .poll_period_s = -1 };
	struct qvk_energy_result res;
	struct qvk_telemetry *t = NULL;
	struct qvk_ctx *ctx = NULL;
	const char *test = "libqvk-synthetic";
	double rate_w = 50.0, step_j = 0;
	int synth = -1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i + 1 < argc; i += 2) {
		unsigned uid, group;

		if (!strcmp(argv[i], "--rate-uw")) {
			rate_w = strtod(argv[i + 1], NULL) * 1e-6;
		} else if (!strcmp(argv[i], "--coarse-step-uj")) {
			step_j = strtod(argv[i + 1], NULL) * 1e-6;
		} else if (!strcmp(argv[i], "--as") &&
			   sscanf(argv[i + 1], "%u:%u", &uid, &group) == 2) {
			gid_t g = group;

			test = "libqvk-coarse";
			CHECK(setgroups(1, &g) == 0 && setgid(uid) == 0 && setuid(uid) == 0,
			      "cannot become uid %u in group %u", uid, group);
		} else {
			CHECK(0, "unknown option %s", argv[i]);
		}
	}
	CHECK(qvk_ctx_create(&ctx) == QVK_OK, "context");
	if (!ctx)
		goto out;
	CHECK(qvk_telemetry_create(ctx, &opt, &t) == QVK_OK, "create: %s",
	      qvk_ctx_message(ctx));
	if (!t)
		goto out;
	for (const char *p = qvk_telemetry_describe(t); *p;) {
		size_t n = strcspn(p, "\n");

		printf("libqvk: source: %.*s\n", (int)n, p);
		p += n + (p[n] == '\n');
	}
	for (uint32_t i = 0; i < qvk_telemetry_domain_count(t); i++) {
		const struct qvk_telemetry_domain *d = qvk_telemetry_domain(t, i);

		printf("libqvk: domain %u: %s [%s] %s%s\n", i, d->name,
		       qvk_telemetry_source_name(d->source),
		       qvk_telemetry_kind_name(d->kind),
		       d->synthetic ? " (synthetic)" : "");
		if (d->synthetic && d->source == QVK_TELEMETRY_MODULE)
			synth = (int)i;
	}
	CHECK(synth >= 0, "no synthetic domain from the module");
	if (synth < 0)
		goto out;
	/* A coarse page's step is the counter's resolution now. */
	CHECK(qvk_telemetry_domain(t, synth)->resolution >= step_j,
	      "resolution %.3g J below the %.3g J step",
	      qvk_telemetry_domain(t, synth)->resolution, step_j);

	for (size_t k = 0; k < sizeof(windows_ms) / sizeof(windows_ms[0]); k++) {
		struct qvk_energy_window *w = NULL;
		const struct qvk_energy_domain_result *r = &res.domains[synth];
		double expect_j, err_j;

		CHECK(qvk_energy_window_begin(t, &w) == QVK_OK, "begin");
		sleep_ms(windows_ms[k]);
		CHECK(qvk_energy_window_end(t, w, &res) == QVK_OK, "end");
		expect_j = rate_w * res.elapsed_s;
		err_j = r->energy_j - expect_j;
		printf("libqvk: window %u ms: %.6f J in %.6f s (ramp %.6f J, error %.2e J, bound %.2e J), %.6f W, note '%s'\n",
		       windows_ms[k], r->energy_j, res.elapsed_s, expect_j, err_j,
		       r->error_bound_j, r->avg_w, r->note);
		CHECK(r->valid, "window invalid: %s", r->note);
		/*
		 * The ramp is exact: the interpolated energy may differ from
		 * rate x elapsed only by the 1 uJ counter steps over the span,
		 * far inside the stated bound, which must itself be honest. A
		 * coarse page's steps make the error larger, never the bound
		 * smaller than the error.
		 */
		if (step_j == 0) {
			CHECK(fabs(err_j) <= 1e-4 * (1 + res.elapsed_s),
			      "off the ramp by %.3e J", err_j);
			CHECK(fabs(r->avg_w - rate_w) <= 1e-4 * rate_w, "avg %.6f W", r->avg_w);
		}
		CHECK(fabs(err_j) <= r->error_bound_j, "error %.3e J beyond the bound %.3e J",
		      err_j, r->error_bound_j);
		CHECK(strstr(r->note, "synthetic") != NULL, "not labelled synthetic");
	}
out:
	qvk_telemetry_destroy(t);
	qvk_ctx_destroy(ctx);
	printf("QVK_TEST %s %s\n", test, check_failures ? "FAIL" : "PASS");
	return check_failures != 0;
}
