/* SPDX-License-Identifier: MIT */
/*
 * qvk bench model as text: the machine and its ceilings, one table row per
 * model and format (median [min, max]), the roofline, the ratios between
 * formats that issue #12's targets are stated in, energy per token; and
 * every raw sample as CSV.
 */
#include <math.h>
#include <string.h>

#include "report.h"

void qvk_report_format_label(const struct qvk_mb_result *r, char *out,
			     size_t len)
{
	enum qvk_weight_format f = r->format;

	if (f == QVK_WEIGHTS_Q8 || f == QVK_WEIGHTS_Q4 || f == QVK_WEIGHTS_Q4A) {
		if (r->group)
			snprintf(out, len, "%s g%u", qvk_weight_format_name(f),
				 r->group);
		else
			snprintf(out, len, "%s row", qvk_weight_format_name(f));
	} else {
		snprintf(out, len, "%s", qvk_weight_format_name(f));
	}
}

/* The file name, or the synthetic shape, to keep the table narrow. */
static const char *qvk_report_model_label(const struct qvk_mb_result *r)
{
	const char *slash = strrchr(r->model, '/');

	return slash && !r->synthetic ? slash + 1 : r->model;
}

void qvk_report_header(FILE *f, const struct qvk_report *rep)
{
	const struct qvk_mb_machine *mc = rep->mc;

	fprintf(f, "device: %s (%s %s); %s; %s\n", mc->info->name,
		mc->info->driver_name, mc->info->driver_info, mc->kernel,
		mc->cpu);
	fprintf(f, "load average (1/5/15 min): %.2f %.2f %.2f at the start, "
		"%.2f %.2f %.2f at the end\n", mc->load_begin[0],
		mc->load_begin[1], mc->load_begin[2], mc->load_end[0],
		mc->load_end[1], mc->load_end[2]);
	fprintf(f, "ceilings measured in this run: read %.2f GB/s, int8-dot "
		"%.1f GOPS, fp32-fma %.1f GOPS\n", mc->read_gbps,
		mc->peak_gops[QVK_COMPUTE_INT8_DOT],
		mc->peak_gops[QVK_COMPUTE_FP32_FMA]);
	if (mc->energy_unavailable[0]) {
		fprintf(f, "energy: unavailable: %s\n", mc->energy_unavailable);
	} else {
		for (uint32_t i = 0; i < qvk_telemetry_domain_count(mc->telemetry); i++) {
			const struct qvk_telemetry_domain *d =
				qvk_telemetry_domain(mc->telemetry, i);
			const struct qvk_idle_power *idle = &mc->idle[i];

			fprintf(f, "energy: %s [%s %s%s], update %.3g s, windows "
				">= %.3g s; ", d->name,
				qvk_telemetry_source_name(d->source),
				qvk_telemetry_kind_name(d->kind),
				d->synthetic ? ", synthetic test ramp, not a "
					       "measurement" : "",
				d->update_period_s, qvk_energy_min_window_s(d));
			if (!mc->have_idle)
				fprintf(f, "idle not measured (--idle-s 0)\n");
			else if (idle->valid)
				fprintf(f, "idle %.3f W ± %.3f over %.1f s\n",
					idle->avg_w, idle->error_w, idle->window_s);
			else
				fprintf(f, "idle unavailable: %s\n", idle->note);
		}
	}
	fprintf(f, "prefill %u tokens, then decode %u, %u repetitions after a "
		"warm-up; median [min, max] of every run\n\n", rep->cfg->prefill,
		rep->cfg->decode, rep->cfg->reps);
}

static void qvk_report_stat(FILE *f, const struct qvk_stats *s, int width,
			    int digits)
{
	char text[96];

	snprintf(text, sizeof(text), "%.*f [%.*f, %.*f]", digits, s->median,
		 digits, s->min, digits, s->max);
	fprintf(f, "%-*s", width, text);
}

/* The median of @phase's tok/s of the row with @model and @format. */
static double qvk_report_find(const struct qvk_report *rep,
			      const struct qvk_mb_result *like,
			      enum qvk_weight_format format, bool decode)
{
	for (uint32_t i = 0; i < rep->n_results; i++) {
		const struct qvk_mb_result *r = &rep->results[i];

		if (r->format == format && !r->skipped[0] &&
		    !strcmp(r->model, like->model))
			return decode ? r->decode_tok_s.median :
					r->prefill_tok_s.median;
	}
	return NAN;
}

/* Ratios between formats of one model: what the speed targets compare. */
static void qvk_report_ratios(FILE *f, const struct qvk_report *rep)
{
	static const struct {
		enum qvk_weight_format a, b;
	} pairs[] = {
		{ QVK_WEIGHTS_Q4, QVK_WEIGHTS_Q8 },
		{ QVK_WEIGHTS_Q4A, QVK_WEIGHTS_Q8 },
		{ QVK_WEIGHTS_Q8, QVK_WEIGHTS_F32 },
		{ QVK_WEIGHTS_Q8, QVK_WEIGHTS_F16 },
	};
	bool title = false;

	for (uint32_t i = 0; i < rep->n_results; i++) {
		const struct qvk_mb_result *r = &rep->results[i];
		bool first_of_model = true;

		for (uint32_t j = 0; j < i; j++)
			first_of_model &= !!strcmp(rep->results[j].model, r->model);
		if (!first_of_model)
			continue;
		for (size_t p = 0; p < sizeof(pairs) / sizeof(pairs[0]); p++) {
			double da = qvk_report_find(rep, r, pairs[p].a, true),
			       db = qvk_report_find(rep, r, pairs[p].b, true),
			       pa = qvk_report_find(rep, r, pairs[p].a, false),
			       pb = qvk_report_find(rep, r, pairs[p].b, false);

			if (!isfinite(da / db))
				continue;
			if (!title)
				fprintf(f, "\nformat ratios (tokens/s medians of this "
					"run):\n");
			title = true;
			fprintf(f, "  %-28s %s/%s: decode %.2fx, prefill %.2fx\n",
				qvk_report_model_label(r),
				qvk_weight_format_name(pairs[p].a),
				qvk_weight_format_name(pairs[p].b), da / db,
				pa / pb);
		}
	}
}

static void qvk_report_energy(FILE *f, const struct qvk_report *rep)
{
	const struct qvk_mb_machine *mc = rep->mc;
	char label[32];

	if (mc->energy_unavailable[0])
		return;
	fprintf(f, "\nenergy per token (median [min, max] of the windows, "
		"± the largest error bound; net: idle power subtracted):\n");
	for (uint32_t i = 0; i < rep->n_results; i++) {
		const struct qvk_mb_result *r = &rep->results[i];

		qvk_report_format_label(r, label, sizeof(label));
		for (int ph = 0; ph < QVK_MB_PHASES && !r->skipped[0]; ph++) {
			for (uint32_t d = 0; d < r->n_domains; d++) {
				const struct qvk_mb_energy *e = &r->energy[ph][d];

				fprintf(f, "  %-28s %-10s %-7s %-22s ",
					qvk_report_model_label(r), label,
					qvk_mb_phase_names[ph],
					qvk_telemetry_domain(mc->telemetry, d)->name);
				if (!e->valid) {
					fprintf(f, "unavailable: %s\n", e->note);
					continue;
				}
				fprintf(f, "%.4g J/tok [%.4g, %.4g] ± %.2g, %.2f W",
					e->j_per_tok.median, e->j_per_tok.min,
					e->j_per_tok.max, e->error_j,
					e->avg_w.median);
				if (e->net_valid)
					fprintf(f, "; net %.4g ± %.2g J/tok",
						e->net_j_per_tok.median,
						e->net_error_j);
				if (e->note[0])
					fprintf(f, "  (%s)", e->note);
				fputc('\n', f);
			}
		}
	}
}

void qvk_report_table(FILE *f, const struct qvk_report *rep)
{
	char label[32];

	fprintf(f, "%-28s %-10s %-28s %-28s %-24s %9s\n", "model", "format",
		"prefill tok/s", "decode tok/s", "TTFT ms", "peak MiB");
	for (uint32_t i = 0; i < rep->n_results; i++) {
		const struct qvk_mb_result *r = &rep->results[i];

		qvk_report_format_label(r, label, sizeof(label));
		fprintf(f, "%-28s %-10s ", qvk_report_model_label(r), label);
		if (r->skipped[0]) {
			fprintf(f, "skipped: %s\n", r->skipped);
			continue;
		}
		qvk_report_stat(f, &r->prefill_tok_s, 29, 2);
		qvk_report_stat(f, &r->decode_tok_s, 29, 2);
		qvk_report_stat(f, &r->ttft_ms, 25, 1);
		fprintf(f, "%9.1f\n", r->peak_mib);
		if (r->profile[0])
			fprintf(f, "    GPU time per kernel kind:\n%s", r->profile);
	}
	fprintf(f, "\nroofline: decode reads its bytes per token (weights + KV "
		"cache) at the read bandwidth; prefill does its operations at "
		"the compute peak:\n");
	fprintf(f, "%-28s %-10s %12s %10s %16s %14s %10s %16s\n", "model",
		"format", "decode B/tok", "best tok/s", "achieved (GB/s)",
		"prefill op/tok", "best tok/s", "achieved (GOPS)");
	for (uint32_t i = 0; i < rep->n_results; i++) {
		const struct qvk_mb_result *r = &rep->results[i];
		char a[40], b[40];

		if (r->skipped[0])
			continue;
		qvk_report_format_label(r, label, sizeof(label));
		snprintf(a, sizeof(a), "%.1f%% (%.2f)", 100 * r->decode_frac,
			 r->decode_gbps);
		snprintf(b, sizeof(b), "%.1f%% (%.1f)", 100 * r->prefill_frac,
			 r->prefill_gops);
		fprintf(f, "%-28s %-10s %12.4g %10.2f %16s %14.4g %10.1f %16s\n",
			qvk_report_model_label(r), label, r->decode_bytes_per_tok,
			r->decode_best_tok_s, a, r->prefill_ops / r->prefill,
			r->prefill_best_tok_s, b);
	}
	qvk_report_ratios(f, rep);
	qvk_report_energy(f, rep);
}

/* One CSV field: quoted, with quotes doubled, when it needs to be. */
static void qvk_csv_str(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++)
		fprintf(f, *s == '"' ? "\"\"" : "%c", *s);
	fputc('"', f);
}

static void qvk_csv_num(FILE *f, double v)
{
	if (isfinite(v))
		fprintf(f, ",%.9g", v);
	else
		fputc(',', f);
}

/* The columns every row starts with: which model and format. */
static void qvk_csv_row(FILE *f, const struct qvk_mb_result *r,
			const char *kind)
{
	qvk_csv_str(f, r->model);
	fprintf(f, ",%d,%s,%u,%s", r->synthetic,
		qvk_weight_format_name(r->format), r->group, kind);
}

void qvk_report_csv(FILE *f, const struct qvk_report *rep)
{
	const struct qvk_mb_machine *mc = rep->mc;

	fprintf(f, "model,synthetic,format,group,kind,rep,phase,run,tokens,"
		   "seconds,tok_s,ttft_ms,domain,j_per_tok,error_j_per_tok,"
		   "net_j_per_tok,net_error_j_per_tok,avg_w,short_window,note\n");
	for (uint32_t i = 0; i < rep->n_results; i++) {
		const struct qvk_mb_result *r = &rep->results[i];

		if (r->skipped[0]) {
			qvk_csv_row(f, r, "skipped");
			fprintf(f, ",,,,,,,,,,,,,,,");
			qvk_csv_str(f, r->skipped);
			fputc('\n', f);
			continue;
		}
		for (uint32_t t = 0; t < r->n_times; t++) {
			const struct qvk_mb_time *s = &r->times[t];

			qvk_csv_row(f, r, "time");
			fprintf(f, ",%u,%s,%u,%u", s->rep,
				qvk_mb_phase_names[s->phase], s->run, s->tokens);
			qvk_csv_num(f, s->seconds);
			qvk_csv_num(f, s->tokens / s->seconds);
			qvk_csv_num(f, s->ttft_s * 1e3);
			fprintf(f, ",,,,,,,,\n");
		}
		for (uint32_t w = 0; w < r->n_windows; w++) {
			const struct qvk_mb_window *win = &r->windows[w];

			for (uint32_t d = 0; d < win->e.n_domains; d++) {
				const struct qvk_energy_per_token *e =
					&win->e.domains[d];

				qvk_csv_row(f, r, "energy");
				fprintf(f, ",%u,%s,,%llu", win->rep,
					qvk_mb_phase_names[win->phase],
					(unsigned long long)e->tokens);
				qvk_csv_num(f, e->window_s);
				qvk_csv_num(f, (double)e->tokens / e->window_s);
				fprintf(f, ",,");
				qvk_csv_str(f, qvk_telemetry_domain(mc->telemetry,
								    d)->name);
				qvk_csv_num(f, e->valid ? e->j_per_token : NAN);
				qvk_csv_num(f, e->valid ? e->error_j_per_token : NAN);
				qvk_csv_num(f, e->net_valid ? e->net_j_per_token : NAN);
				qvk_csv_num(f, e->net_valid ?
						       e->net_error_j_per_token : NAN);
				qvk_csv_num(f, e->valid ? e->avg_w : NAN);
				fprintf(f, ",%d,", e->short_window);
				qvk_csv_str(f, e->note);
				fputc('\n', f);
			}
		}
	}
}
