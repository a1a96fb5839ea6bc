// SPDX-License-Identifier: MIT
/*
 * The benchmark's energy path end to end inside the test VM: a static
 * program linked with libqvk's telemetry and runtime/bench/energy.c (the
 * code qvk bench uses) measures idle power and joules per token on the
 * module's synthetic domain, whose ramp is known exactly.
 *
 * The VM runs under TCG on a shared host, where the module's 1 ms timer
 * can fire many milliseconds late. The windows are therefore sized from
 * the update period measured on the page first, and a window that saw no
 * new reading (which the library reports as such, with no figure) is
 * measured again, a bounded number of times: every figure the code does
 * produce is checked in full, and each case must produce one.
 *
 *   bench_test --rate-uw N     (the module's synthetic_uw)
 *
 * Prints "QVK_TEST bench-energy PASS|FAIL" for run-vm-test.sh.
 */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <qvk/bench.h>
#include <uapi/linux/qvk_telem.h>

#include "vm_check.h"

int check_failures;

/* Attempts per case before a window without a reading is a failure. */
#define BENCH_ATTEMPTS 8
/* How long the page is watched for its update period. */
#define BENCH_PROBE_S 0.3

/* The update period the sampling timer achieves in this VM right now. */
struct probe {
	double mean_s;    /* time between the first and last sample / samples */
	double max_gap_s; /* the longest wait for a new sample */
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };

	nanosleep(&ts, NULL);
}

/* The sample's time and count, by the UAPI header's seqcount protocol. */
static void page_sample(const struct qvk_telem_page *page, __u64 *t_ns,
			__u64 *count)
{
	uint32_t seq;

	for (;;) {
		seq = __atomic_load_n(&page->seq, __ATOMIC_ACQUIRE);
		if (!(seq & 1)) {
			*t_ns = page->sample.timestamp_ns;
			*count = page->sample.sample_count;
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (__atomic_load_n(&page->seq, __ATOMIC_RELAXED) == seq)
				return;
		}
	}
}

/*
 * Watch the module's page for BENCH_PROBE_S, polling every 100 us: the
 * mean period and the longest gap between samples, seen by a reader.
 */
static bool probe_period(struct probe *out)
{
	__u64 t0, c0, t, c, last_t;
	double t_new, end, gap = 0;
	void *map;
	int fd;

	fd = open("/dev/" QVK_TELEM_DEVICE_NAME, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0, "open the module's device");
	if (fd < 0)
		return false;
	map = mmap(NULL, QVK_TELEM_MMAP_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	CHECK(map != MAP_FAILED, "mmap the module's page");
	if (map == MAP_FAILED)
		return false;
	page_sample(map, &t0, &c0);
	last_t = t0;
	t_new = now_s();
	end = t_new + BENCH_PROBE_S;
	do {
		sleep_s(1e-4);
		page_sample(map, &t, &c);
		if (t != last_t) {
			gap = fmax(gap, now_s() - t_new);
			t_new = now_s();
			last_t = t;
		}
	} while (now_s() < end);
	gap = fmax(gap, now_s() - t_new);
	munmap(map, QVK_TELEM_MMAP_SIZE);
	CHECK(c > c0, "no sample in %.1f s", BENCH_PROBE_S);
	if (c <= c0)
		return false;
	out->mean_s = (double)(t - t0) * 1e-9 / (double)(c - c0);
	out->max_gap_s = gap;
	return true;
}

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

/*
 * One phase: J/token from the benchmark's code against the ramp. Returns
 * false when the attempt proved nothing and is to be made again: no new
 * reading fell inside the window (the library must then give no figure and
 * say so), or a window meant to be short overran its target.
 */
static bool check_phase(struct qvk_telemetry *t, int d,
			const struct qvk_idle_power *idle, double rate_w,
			struct work w, uint32_t max_runs, bool want_short)
{
	const struct qvk_energy_per_token *e;
	struct qvk_phase_energy p;
	double expect;

	if (qvk_energy_measure_phase(t, idle, max_runs, 10, work_run, &w, &p) !=
	    QVK_OK) {
		CHECK(false, "measure phase");
		return true;
	}
	e = &p.domains[d];
	if (!e->valid && strstr(e->note, "no new reading")) {
		printf("bench: %u ms x %u runs: no reading inside %.6f s (%s): again\n",
		       w.ms, p.runs, p.elapsed_s, e->note);
		return false;
	}
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
	if (want_short && !e->short_window) {
		printf("bench: the window overran its %.4f s target: again\n", p.target_s);
		return false;
	}
	return true;
}

static void check_case(struct qvk_telemetry *t, int d,
		       const struct qvk_idle_power *idle, double rate_w,
		       struct work w, uint32_t max_runs, bool want_short)
{
	for (int i = 0; i < BENCH_ATTEMPTS; i++)
		if (check_phase(t, d, idle, rate_w, w, max_runs, want_short))
			return;
	CHECK(false, "%u ms x %u runs: no conclusive window in %d attempts", w.ms,
	      max_runs, BENCH_ATTEMPTS);
}

int main(int argc, char **argv)
{
	struct qvk_telemetry_options opt = { .poll_period_s = -1 };
	struct qvk_idle_power idle[QVK_TELEMETRY_MAX_DOMAINS];
	struct qvk_telemetry *t = NULL;
	struct qvk_ctx *ctx = NULL;
	double rate_w = 50.0, target_s, idle_each_s;
	unsigned short_ms;
	struct probe pr;
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
	target_s = qvk_energy_min_window_s(qvk_telemetry_domain(t, (uint32_t)synth));
	if (!probe_period(&pr))
		goto out;
	/*
	 * The short window must outlast the longest gap seen (twice over) to
	 * hold a reading, and stay under half the target to be flagged.
	 */
	short_ms = (unsigned)fmax(2, fmin(ceil(2e3 * pr.max_gap_s), 5e2 * target_s));
	idle_each_s = fmax(target_s, 3 * pr.max_gap_s);
	printf("bench: synthetic domain update %.4f s, windows >= %.4f s; measured "
	       "%.4f s mean, %.4f s longest gap: idle windows %.4f s, short run %u ms\n",
	       qvk_telemetry_domain(t, (uint32_t)synth)->update_period_s, target_s,
	       pr.mean_s, pr.max_gap_s, idle_each_s, short_ms);

	memset(idle, 0, sizeof(idle));
	for (int i = 0; i < BENCH_ATTEMPTS; i++) {
		qvk_status st = qvk_energy_measure_idle(t, 4 * idle_each_s, 4, idle);

		CHECK(st == QVK_OK, "idle");
		if (st != QVK_OK || idle[synth].valid ||
		    !strstr(idle[synth].note, "no new reading"))
			break;
		printf("bench: idle: %s: again\n", idle[synth].note);
	}
	printf("bench: idle %.6f W ± %.2e over %.3f s in %u windows\n",
	       idle[synth].avg_w, idle[synth].error_w, idle[synth].window_s,
	       idle[synth].n_windows);
	CHECK(idle[synth].valid, "idle invalid: %s", idle[synth].note);
	CHECK(fabs(idle[synth].avg_w - rate_w) <= idle[synth].error_w,
	      "idle %.6f W, the ramp is %.6f W", idle[synth].avg_w, rate_w);
	CHECK(fabs(idle[synth].avg_w - rate_w) <= 1e-4 * rate_w, "idle off the ramp");

	/* Runs shorter than the window are repeated inside it... */
	check_case(t, synth, idle, rate_w, (struct work){ 3, 16 }, 1000, false);
	/* ...a long one is measured once... */
	check_case(t, synth, idle, rate_w, (struct work){ 60, 128 }, 1000, false);
	/* ...and one that may not be repeated is flagged. */
	check_case(t, synth, idle, rate_w, (struct work){ short_ms, 1 }, 1, true);
out:
	qvk_telemetry_destroy(t);
	qvk_ctx_destroy(ctx);
	printf("QVK_TEST bench-energy %s\n", check_failures ? "FAIL" : "PASS");
	return check_failures != 0;
}
