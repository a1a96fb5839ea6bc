/* SPDX-License-Identifier: MIT */
/*
 * qvk run's summary: speed, context, device memory, energy per token (or
 * why there is none) and the GPU profile; as lines on stderr, or with
 * --json as one object on stdout together with the text and token ids.
 */
#include <string.h>

#include "run.h"

static const char *qvk_plural(uint64_t n)
{
	return n == 1 ? "" : "s";
}

static double qvk_rate(double n, double s)
{
	return s > 0 ? n / s : 0;
}

/* Decode speed over the tokens after the first (which came from prefill). */
static double qvk_run_decode_rate(const struct qvk_run_result *r)
{
	double s = r->prefill_s + r->decode_s - r->first_token_s;

	return r->generated > 1 ? qvk_rate(r->generated - 1, s) : 0;
}

/* The reason energy is unavailable, one source per line. */
static const char *qvk_run_energy_why(struct qvk_ctx *ctx,
				      const struct qvk_telemetry *t)
{
	return t ? qvk_telemetry_describe(t) : qvk_ctx_message(ctx);
}

static bool qvk_run_have_energy(const struct qvk_telemetry *t)
{
	return t && qvk_telemetry_domain_count(t);
}

static void qvk_print_energy(const char *phase, const struct qvk_telemetry *t,
			     const struct qvk_energy_result *r,
			     uint32_t tokens)
{
	for (uint32_t i = 0; i < r->n_domains; i++) {
		const struct qvk_telemetry_domain *d = qvk_telemetry_domain(t, i);
		const struct qvk_energy_domain_result *e = &r->domains[i];

		if (!e->valid) {
			fprintf(stderr, "energy %s %s: unavailable (%s)\n", phase,
				d->name, e->note);
			continue;
		}
		fprintf(stderr, "energy %s %s%s: %.4f J/token (± %.4f) over %u "
			"token%s, %.2f W over %.3f s\n", phase, d->name,
			d->synthetic ? " [synthetic test ramp, not a measurement]" :
				       "",
			e->energy_j / tokens, e->error_bound_j / tokens, tokens,
			qvk_plural(tokens), e->avg_w, r->elapsed_s);
	}
}

static void qvk_run_report_text(struct qvk_ctx *ctx,
				const struct qvk_run_args *a,
				const struct qvk_llm *llm,
				const struct qvk_telemetry *t,
				const struct qvk_run_result *r)
{
	fprintf(stderr, "\nprompt: %u token%s (BOS included), prefill %.1f "
		"tokens/s, time to first token %.1f ms\n", r->n_prompt,
		qvk_plural(r->n_prompt), qvk_rate(r->n_prompt, r->prefill_s),
		r->first_token_s * 1e3);
	fprintf(stderr, "decode: %u token%s, %.1f tokens/s (seed %llu), "
		"stopped by %s\n", r->generated, qvk_plural(r->generated),
		qvk_run_decode_rate(r), (unsigned long long)a->sampling.opt.seed,
		r->stop == QVK_RUN_STOP_LENGTH ? "-n" :
		r->stop == QVK_RUN_STOP_EOS	 ? "the end-of-text token" :
		r->stop == QVK_RUN_STOP_STRING ? "a --stop string" :
						 "the full context");
	fprintf(stderr, "context: %u tokens", r->ctx_size);
	if (r->shifts)
		fprintf(stderr, ", %u shift%s (each kept the first %u and the "
			"newer half of the rest; %llu tokens re-run through "
			"prefill in %.1f ms)", r->shifts, qvk_plural(r->shifts),
			r->n_kept, (unsigned long long)r->reprefilled,
			r->shift_s * 1e3);
	fputc('\n', stderr);
	fprintf(stderr, "device memory: %.1f MiB\n",
		(double)qvk_llm_device_bytes(llm) / (1 << 20));
	if (!qvk_run_have_energy(t)) {
		/* The reason, then what each source said, indented. */
		const char *why = qvk_run_energy_why(ctx, t);

		fprintf(stderr, "energy: unavailable: no energy source could "
				"be read here; sources probed:\n  ");
		for (; *why; why++)
			fprintf(stderr, why[0] == '\n' && why[1] ? "\n  " : "%c",
				*why);
		fputc('\n', stderr);
	} else {
		if (r->have_prefill_energy)
			qvk_print_energy("prefill", t, &r->prefill_energy,
					 r->n_prompt);
		if (r->have_decode_energy && r->generated)
			qvk_print_energy("decode", t, &r->decode_energy,
					 r->generated);
	}
	if (a->llm.opt.profile) {
		fprintf(stderr, "profile (GPU timestamps):\n");
		qvk_llm_print_profile(stderr, llm, "  ");
	}
}

static void qvk_json_text(const char *key, const char *s, bool comma)
{
	printf("\"%s\":", key);
	qvk_tool_json_string(stdout, s, strlen(s));
	if (comma)
		putchar(',');
}

static void qvk_run_json_energy(const char *phase,
				const struct qvk_telemetry *t,
				const struct qvk_energy_result *r,
				uint32_t tokens)
{
	printf("\"%s\":[", phase);
	for (uint32_t i = 0; i < r->n_domains; i++) {
		const struct qvk_telemetry_domain *d = qvk_telemetry_domain(t, i);
		const struct qvk_energy_domain_result *e = &r->domains[i];

		printf("%s{", i ? "," : "");
		qvk_json_text("domain", d->name, true);
		printf("\"synthetic\":%s,\"valid\":%s,",
		       d->synthetic ? "true" : "false",
		       e->valid ? "true" : "false");
		if (e->valid)
			printf("\"j_per_token\":%.6g,\"error_j_per_token\":%.6g,"
			       "\"avg_w\":%.6g,\"elapsed_s\":%.6f", e->energy_j /
			       tokens, e->error_bound_j / tokens, e->avg_w,
			       r->elapsed_s);
		else
			qvk_json_text("note", e->note, false);
		putchar('}');
	}
	putchar(']');
}

static void qvk_run_report_json(struct qvk_ctx *ctx,
				const struct qvk_run_args *a,
				const struct qvk_llm *llm,
				const struct qvk_device *dev,
				const struct qvk_telemetry *t,
				const struct qvk_run_result *r)
{
	struct qvk_llm_profile_entry e[16];
	uint32_t n_prof;

	putchar('{');
	qvk_json_text("model", a->llm.model_path, true);
	qvk_json_text("device", qvk_device_info(dev)->name, true);
	qvk_json_text("weights", qvk_llm_describe(llm), true);
	printf("\"text\":");
	qvk_tool_json_string(stdout, r->text ? r->text : "", r->text_len);
	printf(",\"tokens\":[");
	for (uint32_t i = 0; i < r->generated; i++)
		printf("%s%u", i ? "," : "", r->tokens[i]);
	printf("],\"prompt_tokens\":%u,\"generated\":%u,\"stop\":\"%s\","
	       "\"prefill_tokens_per_s\":%.3f,\"ttft_ms\":%.3f,"
	       "\"decode_tokens_per_s\":%.3f,\"seed\":%llu,\"context\":%u,"
	       "\"context_shifts\":%u,\"context_kept\":%u,"
	       "\"reprefilled_tokens\":%llu,\"shift_ms\":%.3f,"
	       "\"device_memory_bytes\":%llu,\"energy\":{",
	       r->n_prompt, r->generated, qvk_run_stop_name(r->stop),
	       qvk_rate(r->n_prompt, r->prefill_s), r->first_token_s * 1e3,
	       qvk_run_decode_rate(r), (unsigned long long)a->sampling.opt.seed,
	       r->ctx_size, r->shifts, r->n_kept,
	       (unsigned long long)r->reprefilled, r->shift_s * 1e3,
	       (unsigned long long)qvk_llm_device_bytes(llm));
	if (!qvk_run_have_energy(t)) {
		printf("\"available\":false,");
		qvk_json_text("reason", qvk_run_energy_why(ctx, t), false);
	} else {
		printf("\"available\":true");
		if (r->have_prefill_energy) {
			putchar(',');
			qvk_run_json_energy("prefill", t, &r->prefill_energy,
					    r->n_prompt);
		}
		if (r->have_decode_energy && r->generated) {
			putchar(',');
			qvk_run_json_energy("decode", t, &r->decode_energy,
					    r->generated);
		}
	}
	putchar('}');
	if (a->llm.opt.profile) {
		n_prof = qvk_llm_profile(llm, e, QVK_ARRAY_SIZE(e));
		printf(",\"profile\":[");
		for (uint32_t i = 0; i < n_prof; i++)
			printf("%s{\"kind\":\"%s\",\"ms\":%.4f,\"dispatches\":"
			       "%llu}", i ? "," : "", e[i].kind, e[i].ms,
			       (unsigned long long)e[i].dispatches);
		putchar(']');
	}
	printf("}\n");
	fflush(stdout);
}

void qvk_run_report(struct qvk_ctx *ctx, const struct qvk_run_args *a,
		    const struct qvk_llm *llm, const struct qvk_device *dev,
		    const struct qvk_telemetry *t, const struct qvk_run_result *r)
{
	if (a->json)
		qvk_run_report_json(ctx, a, llm, dev, t, r);
	else
		qvk_run_report_text(ctx, a, llm, t, r);
}
