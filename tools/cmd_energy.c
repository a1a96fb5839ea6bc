/* SPDX-License-Identifier: MIT */
/*
 * qvk energy [--json] [--sysfs-root DIR] [--poll-ms N] -- COMMAND [ARGS...]
 *
 * Runs COMMAND and prints the energy each domain used meanwhile, with
 * average power, error bounds and the elapsed time, like
 * `perf stat -e power/energy-pkg/`. Exits with COMMAND's exit status
 * (128 + signal when it was killed, 127 when it could not be started);
 * a machine with no energy source is reported as such, not as an error.
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <qvk/telemetry.h>

#include "tool.h"

extern char **environ;

const char qvk_cmd_energy_summary[] =
	"run a command and report the energy it used (joules, watts, per domain)";

static void qvk_energy_usage(FILE *f)
{
	fprintf(f,
		"usage: qvk energy [--json] [--sysfs-root DIR] [--poll-ms N] -- COMMAND [ARGS...]\n"
		"\n"
		"Runs COMMAND and reports joules and average watts per energy domain\n"
		"(qvk_telem module, powercap RAPL, hwmon, amdgpu, NVML), each with an\n"
		"error bound, the elapsed time, clocks and throttle events. Exits with\n"
		"COMMAND's exit status.\n"
		"\n"
		"  --json           one JSON object on stdout\n"
		"  --sysfs-root DIR read sysfs from DIR (tests; default $QVK_SYSFS_ROOT or /sys)\n"
		"  --poll-ms N      period of power-domain integration, 1..10000 (default 20)\n");
}

/* JSON string with the escapes RFC 8259 requires. */
static void qvk_json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

/* describe() lines as a JSON array of strings. */
static void qvk_json_lines(FILE *f, const char *text)
{
	const char *p = text;
	bool first = true;

	fputc('[', f);
	while (*p) {
		size_t n = strcspn(p, "\n");
		char line[512];

		snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) - 1 ? n : sizeof(line) - 1), p);
		fputs(first ? "" : ", ", f);
		qvk_json_string(f, line);
		first = false;
		p += n + (p[n] == '\n');
	}
	fputc(']', f);
}

static void qvk_energy_print_json(const struct qvk_telemetry *t,
				  const struct qvk_energy_result *r,
				  int exit_status)
{
	uint32_t n = qvk_telemetry_domain_count(t);

	printf("{\"elapsed_s\": %.6f, \"exit_status\": %d, \"sources\": ", r->elapsed_s,
	       exit_status);
	qvk_json_lines(stdout, qvk_telemetry_describe(t));
	printf(", \"domains\": [");
	for (uint32_t i = 0; i < n; i++) {
		const struct qvk_telemetry_domain *d = qvk_telemetry_domain(t, i);
		const struct qvk_energy_domain_result *dr = &r->domains[i];

		printf("%s{\"name\": ", i ? ", " : "");
		qvk_json_string(stdout, d->name);
		printf(", \"source\": ");
		qvk_json_string(stdout, qvk_telemetry_source_name(d->source));
		printf(", \"kind\": ");
		qvk_json_string(stdout, qvk_telemetry_kind_name(d->kind));
		printf(", \"synthetic\": %s, \"valid\": %s", d->synthetic ? "true" : "false",
		       dr->valid ? "true" : "false");
		if (dr->valid)
			printf(", \"energy_j\": %.6f, \"avg_w\": %.6f, \"error_bound_j\": %.6f",
			       dr->energy_j, dr->avg_w, dr->error_bound_j);
		else
			printf(", \"energy_j\": null, \"avg_w\": null, \"error_bound_j\": null");
		if (dr->note[0]) {
			printf(", \"note\": ");
			qvk_json_string(stdout, dr->note);
		}
		printf("}");
	}
	printf("], \"clocks\": [");
	for (uint32_t i = 0; i < r->n_clocks; i++) {
		printf("%s{\"name\": ", i ? ", " : "");
		qvk_json_string(stdout, r->clocks[i].name);
		printf(", \"value\": %.3f, \"unit\": ", r->clocks[i].value);
		qvk_json_string(stdout, r->clocks[i].unit);
		printf("}");
	}
	printf("], \"checks\": [");
	for (uint32_t i = 0; i < r->n_checks; i++) {
		const struct qvk_energy_check *c = &r->checks[i];

		printf("%s{\"a\": ", i ? ", " : "");
		qvk_json_string(stdout, qvk_telemetry_domain(t, c->domain_a)->name);
		printf(", \"b\": ");
		qvk_json_string(stdout, qvk_telemetry_domain(t, c->domain_b)->name);
		printf(", \"rel_diff\": %.6f, \"tolerance\": %.6f, \"agree\": %s}",
		       c->rel_diff, c->tolerance, c->agree ? "true" : "false");
	}
	printf("]");
	if (n == 0) {
		printf(", \"unavailable\": ");
		qvk_json_string(stdout, "no energy source on this machine; see sources");
	}
	printf("}\n");
}

static void qvk_energy_print_text(const struct qvk_telemetry *t,
				  const struct qvk_energy_result *r,
				  char **cmd, int exit_status)
{
	uint32_t n = qvk_telemetry_domain_count(t);

	fprintf(stderr, "\n Energy for '");
	for (char **a = cmd; *a; a++)
		fprintf(stderr, "%s%s", a == cmd ? "" : " ", *a);
	fprintf(stderr, "':\n\n");
	if (n == 0)
		fprintf(stderr, "   not measured: no energy source on this machine (see sources above)\n");
	for (uint32_t i = 0; i < n; i++) {
		const struct qvk_telemetry_domain *d = qvk_telemetry_domain(t, i);
		const struct qvk_energy_domain_result *dr = &r->domains[i];

		if (dr->valid)
			fprintf(stderr, "   %12.4f J  +-%-9.4f %9.3f W   %s [%s]%s%s\n",
				dr->energy_j, dr->error_bound_j, dr->avg_w, d->name,
				qvk_telemetry_source_name(d->source),
				dr->note[0] ? "  " : "", dr->note);
		else
			fprintf(stderr, "   %12s                          %s [%s]: %s\n",
				"not measured", d->name,
				qvk_telemetry_source_name(d->source), dr->note);
	}
	for (uint32_t i = 0; i < r->n_clocks; i++)
		fprintf(stderr, "   %12.1f %-8s  %s\n", r->clocks[i].value,
			r->clocks[i].unit, r->clocks[i].name);
	for (uint32_t i = 0; i < r->n_checks; i++) {
		const struct qvk_energy_check *c = &r->checks[i];

		fprintf(stderr, "   check: %s vs %s differ by %.2f%% (tolerance %.2f%%): %s\n",
			qvk_telemetry_domain(t, c->domain_a)->name,
			qvk_telemetry_domain(t, c->domain_b)->name, 100 * c->rel_diff,
			100 * c->tolerance, c->agree ? "agree" : "DISAGREE");
	}
	fprintf(stderr, "\n   %12.6f seconds elapsed, exit status %d\n\n", r->elapsed_s,
		exit_status);
}

/* Run @cmd and wait; the exit status in the shell's convention. */
static int qvk_energy_run(char **cmd)
{
	struct sigaction ignore = { .sa_handler = SIG_IGN }, old_int, old_quit;
	pid_t pid;
	int err, status;

	/* Like system(): Ctrl-C goes to the command; we still report. */
	sigemptyset(&ignore.sa_mask);
	sigaction(SIGINT, &ignore, &old_int);
	sigaction(SIGQUIT, &ignore, &old_quit);
	{
		posix_spawnattr_t attr;
		sigset_t dfl;

		posix_spawnattr_init(&attr);
		sigemptyset(&dfl);
		sigaddset(&dfl, SIGINT);
		sigaddset(&dfl, SIGQUIT);
		posix_spawnattr_setsigdefault(&attr, &dfl);
		posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
		err = posix_spawnp(&pid, cmd[0], NULL, &attr, cmd, environ);
		posix_spawnattr_destroy(&attr);
	}
	if (err) {
		fprintf(stderr, "qvk energy: cannot run '%s': %s\n", cmd[0], strerror(err));
		status = 127;
		goto out_restore;
	}
	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			fprintf(stderr, "qvk energy: waitpid: %s\n", strerror(errno));
			status = 127;
			goto out_restore;
		}
	}
	status = WIFEXITED(status) ? WEXITSTATUS(status) :
		 WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 127;
out_restore:
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	return status;
}

int qvk_cmd_energy(int argc, char **argv)
{
	struct qvk_telemetry_options opt = { 0 };
	struct qvk_telemetry *t = NULL;
	struct qvk_energy_window *w = NULL;
	struct qvk_energy_result *res = NULL;
	struct qvk_ctx *ctx;
	bool json = false;
	uint64_t poll_ms;
	qvk_status st;
	int i, status = 1;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--")) {
			i++;
			break;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			qvk_energy_usage(stdout);
			return 0;
		} else if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--sysfs-root") && i + 1 < argc) {
			opt.sysfs_root = argv[++i];
		} else if (!strcmp(argv[i], "--poll-ms") && i + 1 < argc) {
			if (!qvk_tool_parse_u64("energy", "--poll-ms", argv[++i], 1, 10000,
						&poll_ms))
				return 2;
			opt.poll_period_s = (double)poll_ms * 1e-3;
		} else if (argv[i][0] == '-') {
			qvk_energy_usage(stderr);
			return qvk_tool_usage_error("energy", "unknown option '%s'", argv[i]);
		} else {
			break;
		}
	}
	if (i >= argc) {
		qvk_energy_usage(stderr);
		return qvk_tool_usage_error("energy", "no command to run");
	}

	ctx = qvk_tool_ctx("energy");
	if (!ctx)
		return 1;
	res = calloc(1, sizeof(*res));
	if (!res) {
		status = qvk_tool_fail(ctx, QVK_ERR_NO_MEMORY, "energy", "result");
		goto out_destroy_ctx;
	}
	st = qvk_telemetry_create(ctx, &opt, &t);
	if (st != QVK_OK) {
		status = qvk_tool_fail(ctx, st, "energy", "telemetry");
		goto out_free_res;
	}
	if (!json) {
		fprintf(stderr, "qvk energy: sources:\n");
		for (const char *p = qvk_telemetry_describe(t); *p;) {
			size_t n = strcspn(p, "\n");

			fprintf(stderr, "  %.*s\n", (int)n, p);
			p += n + (p[n] == '\n');
		}
	}
	st = qvk_energy_window_begin(t, &w);
	if (st != QVK_OK) {
		status = qvk_tool_fail(ctx, st, "energy", "window");
		goto out_destroy_telemetry;
	}
	fflush(stdout);
	status = qvk_energy_run(argv + i);
	st = qvk_energy_window_end(t, w, res);
	if (st != QVK_OK) {
		qvk_tool_fail(ctx, st, "energy", "window");
		goto out_destroy_telemetry;
	}
	if (json)
		qvk_energy_print_json(t, res, status);
	else
		qvk_energy_print_text(t, res, argv + i, status);

out_destroy_telemetry:
	qvk_telemetry_destroy(t);
out_free_res:
	free(res);
out_destroy_ctx:
	qvk_ctx_destroy(ctx);
	return status;
}
