/* SPDX-License-Identifier: MIT */
/*
 * qvk bench model --plot FILE.png: tokens/s (prefill, decode) and joules
 * per token by model and format, median with min-max bars, drawn by
 * gnuplot (Debian's gnuplot-nox; a run-time dependency of this option
 * only). The data goes through a temporary file, the script through a
 * pipe.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"
#include "tool.h"

/* gnuplot's path, searched in $PATH; NULL when absent. */
static char *qvk_plot_find_gnuplot(void)
{
	const char *path = getenv("PATH");
	char *dirs, *save = NULL, *exe = NULL;

	dirs = strdup(path && *path ? path : "/usr/bin:/bin");
	for (char *d = dirs ? strtok_r(dirs, ":", &save) : NULL; d && !exe;
	     d = strtok_r(NULL, ":", &save)) {
		size_t len = strlen(d) + sizeof("/gnuplot");
		char *cand = malloc(len);

		if (cand && (snprintf(cand, len, "%s/gnuplot", d),
			     access(cand, X_OK) == 0))
			exe = cand;
		else
			free(cand);
	}
	free(dirs);
	return exe;
}

/* The domain the energy panel shows: the first valid real one, else any. */
static int qvk_plot_domain(const struct qvk_report *rep)
{
	int any = -1;

	for (uint32_t i = 0; i < rep->n_results; i++) {
		const struct qvk_mb_result *r = &rep->results[i];

		for (uint32_t d = 0; d < r->n_domains; d++) {
			if (!r->energy[QVK_MB_DECODE][d].valid)
				continue;
			if (!r->energy[QVK_MB_DECODE][d].synthetic)
				return (int)d;
			if (any < 0)
				any = (int)d;
		}
	}
	return any;
}

static void qvk_plot_stat(FILE *f, const struct qvk_stats *s)
{
	if (s->n && isfinite(s->median))
		fprintf(f, "\t%.9g\t%.9g\t%.9g", s->median, s->min, s->max);
	else
		fprintf(f, "\tNaN\tNaN\tNaN");
}

/* One row per result that ran: label, then median/min/max four times. */
static bool qvk_plot_data(FILE *f, const struct qvk_report *rep, int domain)
{
	uint32_t rows = 0;

	for (uint32_t i = 0; i < rep->n_results; i++) {
		const struct qvk_mb_result *r = &rep->results[i];
		const char *name = strrchr(r->model, '/');
		struct qvk_stats none = { 0 };
		char label[48];

		if (r->skipped[0])
			continue;
		qvk_report_format_label(r, label, sizeof(label));
		/* Three short lines: file (or shape, "synthetic"), format. */
		fputc('"', f);
		for (const char *c = r->synthetic ? r->model + strlen("synthetic ") :
				     name ? name + 1 : r->model; *c; c++)
			fputc(*c == '"' || *c == '\t' ? '\'' : *c, f);
		fprintf(f, "%s\\n%s\"", r->synthetic ? "\\nsynthetic" : "", label);
		qvk_plot_stat(f, &r->prefill_tok_s);
		qvk_plot_stat(f, &r->decode_tok_s);
		for (int ph = QVK_MB_DECODE; ph >= QVK_MB_PREFILL; ph--)
			qvk_plot_stat(f, domain >= 0 && (uint32_t)domain < r->n_domains &&
						 r->energy[ph][domain].valid ?
					 &r->energy[ph][domain].j_per_tok : &none);
		fputc('\n', f);
		rows++;
	}
	return rows > 0;
}

/*
 * Without an energy panel, the speed panel's title says why: the reason's
 * first clause (the table and the JSON have all of it), no quotes.
 */
static void qvk_plot_energy_note(const struct qvk_mb_machine *mc, int domain,
				 char *note, size_t len)
{
	const char *text = mc->energy_unavailable[0] ? mc->energy_unavailable :
						       "no valid energy window";

	note[0] = 0;
	if (domain >= 0)
		return;
	snprintf(note, len, "; energy per token unavailable: %.*s",
		 (int)QVK_MIN(strcspn(text, ":;"), 120), text);
	for (char *c = note; *c; c++)
		if (*c == '\'' || *c == '\n')
			*c = ' ';
}

bool qvk_report_plot(const struct qvk_report *rep, const char *path,
		     char *why, size_t why_len)
{
	const struct qvk_mb_machine *mc = rep->mc;
	char data_path[] = "/tmp/qvk-plot-XXXXXX";
	char *gnuplot = qvk_plot_find_gnuplot();
	int domain = qvk_plot_domain(rep), fd, status;
	char note[200];
	bool ok = false;
	FILE *data, *gp;

	if (!gnuplot) {
		snprintf(why, why_len, "gnuplot is not installed (Debian: "
			 "apt-get install gnuplot-nox); the other outputs were "
			 "written");
		return false;
	}
	if (strpbrk(path, "'\"\n")) {
		snprintf(why, why_len, "the plot path '%s' has a quote or a "
			 "newline", path);
		goto out_free;
	}
	fd = mkstemp(data_path);
	data = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!data) {
		snprintf(why, why_len, "%s: %s", data_path, strerror(errno));
		goto out_free;
	}
	if (!qvk_plot_data(data, rep, domain)) {
		fclose(data);
		snprintf(why, why_len, "nothing to plot: every model was skipped");
		goto out_unlink;
	}
	if (fclose(data)) {
		snprintf(why, why_len, "%s: %s", data_path, strerror(errno));
		goto out_unlink;
	}
	gp = popen(gnuplot, "w");
	if (!gp) {
		snprintf(why, why_len, "%s: %s", gnuplot, strerror(errno));
		goto out_unlink;
	}
	qvk_plot_energy_note(mc, domain, note, sizeof(note));
	fprintf(gp, "set terminal pngcairo size 1280,%d font 'sans,10'\n"
		"set output '%s'\n"
		"set datafile separator '\\t'\n"
		"set multiplot layout %d,1 title 'qvk bench on %s, load average "
		"%.2f-%.2f' noenhanced\n"
		"set style data histograms\n"
		"set style histogram errorbars gap 2 lw 1\n"
		"set style fill solid 0.7 border -1\n"
		"set grid ytics\nset key top right\nset xtics noenhanced\n"
		"set bmargin 5\n"
		"set logscale y\n"
		"set ylabel 'tokens/s (median, bars: min-max)'\n"
		"set title 'prefill %u and decode %u tokens, %u repetitions%s' "
		"noenhanced\n"
		"plot '%s' using 2:3:4:xtic(1) title 'prefill', '' using 5:6:7 "
		"title 'decode'\n"
		"unset logscale y\n",
		domain >= 0 ? 1000 : 600, path, domain >= 0 ? 2 : 1,
		mc->info->name, mc->load_begin[0], mc->load_end[0],
		rep->cfg->prefill, rep->cfg->decode, rep->cfg->reps, note,
		data_path);
	if (domain >= 0)
		fprintf(gp, "set ylabel 'J/token, %s (median, bars: min-max)' "
			"noenhanced\n"
			"set title 'energy per token%s'\n"
			"plot '%s' using 11:12:13:xtic(1) title 'prefill', '' using "
			"8:9:10 title 'decode'\n",
			qvk_telemetry_domain(mc->telemetry, (uint32_t)domain)->name,
			qvk_telemetry_domain(mc->telemetry, (uint32_t)domain)->synthetic ?
				" (SYNTHETIC test ramp, not a measurement)" : "",
			data_path);
	fprintf(gp, "unset multiplot\n");
	status = pclose(gp);
	if (status != 0)
		snprintf(why, why_len, "gnuplot failed (status %d) writing %s",
			 status, path);
	else
		ok = true;
out_unlink:
	unlink(data_path);
out_free:
	free(gnuplot);
	return ok;
}
