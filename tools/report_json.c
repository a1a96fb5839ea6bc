/* SPDX-License-Identifier: MIT */
/*
 * qvk bench model as one JSON object, in the schema of
 * tools/bench.schema.json (the tests validate every run against it).
 * Numbers that could not be measured are null, with a reason string
 * beside them.
 */
#include <math.h>
#include <string.h>

#include "json.h"
#include "report.h"

#define QVK_KEY(f, first, name) fprintf(f, "%s\"%s\":", (first) ? "" : ",", name)

static void qvk_json_key_num(FILE *f, const char *name, double v)
{
	QVK_KEY(f, false, name);
	qvk_json_num(f, v, 9);
}

static void qvk_json_key_str(FILE *f, const char *name, const char *s)
{
	QVK_KEY(f, false, name);
	if (s)
		qvk_json_str(f, s);
	else
		fputs("null", f);
}

static void qvk_json_stats(FILE *f, const char *name, const struct qvk_stats *s)
{
	QVK_KEY(f, false, name);
	if (!s->n) {
		fputs("null", f);
		return;
	}
	fprintf(f, "{\"n\":%u", s->n);
	qvk_json_key_num(f, "median", s->median);
	qvk_json_key_num(f, "min", s->min);
	qvk_json_key_num(f, "max", s->max);
	fputc('}', f);
}

static void qvk_json_load(FILE *f, const char *name, const double *l)
{
	QVK_KEY(f, false, name);
	fprintf(f, "[%.2f,%.2f,%.2f]", l[0], l[1], l[2]);
}

static void qvk_json_machine(FILE *f, const struct qvk_report *rep)
{
	const struct qvk_mb_machine *mc = rep->mc;
	const struct qvk_telemetry *t = mc->telemetry;
	uint32_t n = t && !mc->energy_unavailable[0] ?
			     qvk_telemetry_domain_count(t) : 0;

	fputs("\"machine\":{\"device\":", f);
	qvk_json_device(f, mc->info, true);
	qvk_json_key_str(f, "kernel", mc->kernel);
	qvk_json_key_str(f, "cpu", mc->cpu);
	{
		char driver[2 * QVK_NAME_MAX + 2];

		snprintf(driver, sizeof(driver), "%s %s", mc->info->driver_name,
			 mc->info->driver_info);
		qvk_json_key_str(f, "driver", driver);
	}
	qvk_json_key_str(f, "started", mc->started);
	qvk_json_load(f, "load_avg_begin", mc->load_begin);
	qvk_json_load(f, "load_avg_end", mc->load_end);
	qvk_json_key_num(f, "read_gbps", mc->read_gbps > 0 ? mc->read_gbps : NAN);
	fputs(",\"peak_gops\":{", f);
	for (int k = 0; k < 2; k++) {
		QVK_KEY(f, !k, qvk_compute_kind_name((enum qvk_compute_kind)k));
		qvk_json_num(f, mc->peak_gops[k] > 0 ? mc->peak_gops[k] : NAN, 6);
	}
	fputs("},\"telemetry\":{\"sources\":[", f);
	for (const char *p = t ? qvk_telemetry_describe(t) : ""; *p;) {
		size_t len = strcspn(p, "\n");
		char line[512];

		snprintf(line, sizeof(line), "%.*s", (int)len, p);
		if (p != qvk_telemetry_describe(t))
			fputc(',', f);
		qvk_json_str(f, line);
		p += len + (p[len] == '\n');
	}
	fputc(']', f);
	qvk_json_key_str(f, "unavailable", mc->energy_unavailable[0] ?
						   mc->energy_unavailable : NULL);
	qvk_json_key_num(f, "idle_s", mc->have_idle ? rep->idle_s : NAN);
	fputs(",\"domains\":[", f);
	for (uint32_t i = 0; i < n; i++) {
		const struct qvk_telemetry_domain *d = qvk_telemetry_domain(t, i);
		const struct qvk_idle_power *idle = &mc->idle[i];

		fprintf(f, "%s{", i ? "," : "");
		QVK_KEY(f, true, "name");
		qvk_json_str(f, d->name);
		qvk_json_key_str(f, "source", qvk_telemetry_source_name(d->source));
		qvk_json_key_str(f, "kind", qvk_telemetry_kind_name(d->kind));
		fprintf(f, ",\"synthetic\":%s,\"counter\":%s",
			d->synthetic ? "true" : "false",
			d->counter ? "true" : "false");
		qvk_json_key_num(f, "update_period_s", d->update_period_s);
		qvk_json_key_num(f, "min_window_s", qvk_energy_min_window_s(d));
		QVK_KEY(f, false, "idle");
		if (mc->have_idle && idle->valid) {
			fputc('{', f);
			QVK_KEY(f, true, "w");
			qvk_json_num(f, idle->avg_w, 9);
			qvk_json_key_num(f, "error_w", idle->error_w);
			qvk_json_key_num(f, "window_s", idle->window_s);
			fprintf(f, ",\"windows\":%u}", idle->n_windows);
		} else {
			fputs("null", f);
		}
		qvk_json_key_str(f, "idle_note", !mc->have_idle ?
				 "idle not measured (--idle-s 0)" :
				 idle->valid ? NULL : idle->note);
		fputc('}', f);
	}
	fputs("]}}", f);
}

/* Energy per token of one phase, one object per domain; null without. */
static void qvk_json_energy(FILE *f, const char *name,
			    const struct qvk_report *rep,
			    const struct qvk_mb_result *r, enum qvk_mb_phase ph)
{
	QVK_KEY(f, false, name);
	if (r->skipped[0] || !r->n_domains) {
		fputs("null", f);
		return;
	}
	fputc('[', f);
	for (uint32_t d = 0; d < r->n_domains; d++) {
		const struct qvk_mb_energy *e = &r->energy[ph][d];

		fprintf(f, "%s{", d ? "," : "");
		QVK_KEY(f, true, "domain");
		qvk_json_str(f, qvk_telemetry_domain(rep->mc->telemetry, d)->name);
		fprintf(f, ",\"synthetic\":%s,\"valid\":%s,\"windows\":%u",
			e->synthetic ? "true" : "false",
			e->valid ? "true" : "false", e->windows);
		qvk_json_key_num(f, "median", e->valid ? e->j_per_tok.median : NAN);
		qvk_json_key_num(f, "min", e->valid ? e->j_per_tok.min : NAN);
		qvk_json_key_num(f, "max", e->valid ? e->j_per_tok.max : NAN);
		qvk_json_key_num(f, "error_bound", e->valid ? e->error_j : NAN);
		qvk_json_key_num(f, "avg_w", e->valid ? e->avg_w.median : NAN);
		qvk_json_key_num(f, "net_median",
				 e->net_valid ? e->net_j_per_tok.median : NAN);
		qvk_json_key_num(f, "net_error_bound",
				 e->net_valid ? e->net_error_j : NAN);
		fprintf(f, ",\"short_window\":%s", e->short_window ? "true" : "false");
		qvk_json_key_str(f, "note", e->note);
		fputc('}', f);
	}
	fputc(']', f);
}

static void qvk_json_samples(FILE *f, const struct qvk_report *rep,
			     const struct qvk_mb_result *r)
{
	bool first = true;

	fputs(",\"samples\":[", f);
	for (uint32_t i = 0; i < r->n_times; i++, first = false) {
		const struct qvk_mb_time *s = &r->times[i];

		fprintf(f, "%s{\"kind\":\"time\",\"rep\":%u,\"run\":%u,"
			"\"phase\":\"%s\",\"tokens\":%u", first ? "" : ",",
			s->rep, s->run, qvk_mb_phase_names[s->phase], s->tokens);
		qvk_json_key_num(f, "seconds", s->seconds);
		qvk_json_key_num(f, "tok_s", s->tokens / s->seconds);
		qvk_json_key_num(f, "ttft_ms", s->ttft_s * 1e3);
		fputc('}', f);
	}
	for (uint32_t w = 0; w < r->n_windows; w++) {
		const struct qvk_mb_window *win = &r->windows[w];

		for (uint32_t d = 0; d < win->e.n_domains; d++, first = false) {
			const struct qvk_energy_per_token *e = &win->e.domains[d];

			fprintf(f, "%s{\"kind\":\"energy\",\"rep\":%u,"
				"\"phase\":\"%s\",\"runs\":%u,\"tokens\":%llu",
				first ? "" : ",", win->rep,
				qvk_mb_phase_names[win->phase], win->e.runs,
				(unsigned long long)e->tokens);
			qvk_json_key_num(f, "seconds", e->window_s);
			qvk_json_key_num(f, "target_s", win->e.target_s);
			qvk_json_key_str(f, "domain",
					 qvk_telemetry_domain(rep->mc->telemetry,
							      d)->name);
			fprintf(f, ",\"valid\":%s,\"short_window\":%s",
				e->valid ? "true" : "false",
				e->short_window ? "true" : "false");
			qvk_json_key_num(f, "j_per_tok", e->valid ? e->j_per_token : NAN);
			qvk_json_key_num(f, "error_j_per_tok",
					 e->valid ? e->error_j_per_token : NAN);
			qvk_json_key_num(f, "net_j_per_tok",
					 e->net_valid ? e->net_j_per_token : NAN);
			qvk_json_key_num(f, "net_error_j_per_tok",
					 e->net_valid ? e->net_error_j_per_token : NAN);
			qvk_json_key_num(f, "avg_w", e->valid ? e->avg_w : NAN);
			qvk_json_key_str(f, "note", e->note);
			fputc('}', f);
		}
	}
	fputc(']', f);
}

static void qvk_json_result(FILE *f, const struct qvk_report *rep,
			    const struct qvk_mb_result *r)
{
	const struct qvk_mb_machine *mc = rep->mc;
	bool ran = !r->skipped[0];

	fputc('{', f);
	QVK_KEY(f, true, "model");
	qvk_json_str(f, r->model);
	qvk_json_key_str(f, "format", qvk_weight_format_name(r->format));
	QVK_KEY(f, false, "group");
	if (r->format == QVK_WEIGHTS_Q8 || r->format == QVK_WEIGHTS_Q4 ||
	    r->format == QVK_WEIGHTS_Q4A || r->format == QVK_WEIGHTS_AUTO)
		fprintf(f, "%u", r->group);
	else
		fputs("null", f);
	fprintf(f, ",\"synthetic\":%s", r->synthetic ? "true" : "false");
	qvk_json_key_str(f, "describe", ran ? r->describe : NULL);
	qvk_json_key_str(f, "skipped", ran ? NULL : r->skipped);
	fprintf(f, ",\"prefill_tokens\":%u,\"decode_tokens\":%u,\"reps\":%u",
		r->prefill, r->decode, r->reps);
	qvk_json_stats(f, "prefill_tok_s", &r->prefill_tok_s);
	qvk_json_stats(f, "decode_tok_s", &r->decode_tok_s);
	qvk_json_stats(f, "ttft_ms", &r->ttft_ms);
	qvk_json_key_num(f, "peak_mib", ran ? r->peak_mib : NAN);
	qvk_json_key_num(f, "model_mib", ran ? r->model_mib : NAN);
	qvk_json_energy(f, "decode_j_per_tok", rep, r, QVK_MB_DECODE);
	qvk_json_energy(f, "prefill_j_per_tok", rep, r, QVK_MB_PREFILL);
	qvk_json_key_str(f, "energy_unavailable", mc->energy_unavailable[0] ?
				 mc->energy_unavailable : NULL);
	QVK_KEY(f, false, "idle_w");
	if (!ran || !r->n_domains || !mc->have_idle) {
		fputs("null", f);
	} else {
		fputc('[', f);
		for (uint32_t d = 0; d < r->n_domains; d++) {
			fprintf(f, "%s{", d ? "," : "");
			QVK_KEY(f, true, "domain");
			qvk_json_str(f, qvk_telemetry_domain(mc->telemetry, d)->name);
			qvk_json_key_num(f, "w", mc->idle[d].valid ?
						 mc->idle[d].avg_w : NAN);
			qvk_json_key_num(f, "error_w", mc->idle[d].valid ?
						       mc->idle[d].error_w : NAN);
			fputc('}', f);
		}
		fputc(']', f);
	}
	QVK_KEY(f, false, "roofline_frac");
	if (ran) {
		fputc('{', f);
		QVK_KEY(f, true, "decode");
		qvk_json_num(f, r->decode_frac, 6);
		qvk_json_key_num(f, "prefill", r->prefill_frac);
		qvk_json_key_num(f, "decode_compute", r->decode_compute_frac);
		fputc('}', f);
		fputs(",\"roofline\":{", f);
		QVK_KEY(f, true, "compute");
		qvk_json_str(f, qvk_compute_kind_name(r->cost.compute));
		fprintf(f, ",\"weight_bytes\":%llu,\"kv_bytes_per_position\":%llu",
			(unsigned long long)r->cost.weight_bytes,
			(unsigned long long)r->cost.kv_bytes_per_position);
		qvk_json_key_num(f, "decode_bytes_per_tok", r->decode_bytes_per_tok);
		qvk_json_key_num(f, "decode_ops_per_tok", r->decode_ops_per_tok);
		qvk_json_key_num(f, "decode_best_tok_s", r->decode_best_tok_s);
		qvk_json_key_num(f, "prefill_ops", r->prefill_ops);
		qvk_json_key_num(f, "prefill_bytes", r->prefill_bytes);
		qvk_json_key_num(f, "prefill_best_tok_s", r->prefill_best_tok_s);
		fputc('}', f);
	} else {
		fputs("null,\"roofline\":null", f);
	}
	qvk_json_key_num(f, "decode_gbps", ran ? r->decode_gbps : NAN);
	qvk_json_key_num(f, "prefill_gops", ran ? r->prefill_gops : NAN);
	qvk_json_samples(f, rep, r);
	fputc('}', f);
}

void qvk_report_json(FILE *f, const struct qvk_report *rep)
{
	const struct qvk_mb_config *cfg = rep->cfg;

	fprintf(f, "{\"schema\":\"qvk-bench-1\",\"qvk_version\":\"%s\","
		"\"command\":[", QVK_VERSION);
	for (int i = 0; i < rep->argc; i++) {
		if (i)
			fputc(',', f);
		qvk_json_str(f, rep->argv[i]);
	}
	fputs("],", f);
	qvk_json_machine(f, rep);
	fprintf(f, ",\"config\":{\"prefill\":%u,\"decode\":%u,\"reps\":%u,"
		"\"group\":%u,\"kv_f32\":%s", cfg->prefill, cfg->decode,
		cfg->reps, cfg->group, cfg->kv_f32 ? "true" : "false");
	qvk_json_key_num(f, "max_window_s", cfg->max_window_s);
	fputs("},\"results\":[", f);
	for (uint32_t i = 0; i < rep->n_results; i++) {
		if (i)
			fputc(',', f);
		qvk_json_result(f, rep, &rep->results[i]);
	}
	fputs("]}\n", f);
}
