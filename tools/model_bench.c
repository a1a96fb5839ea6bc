/* SPDX-License-Identifier: MIT */
/*
 * One model in one weight format on the device: load, warm up, then R
 * repetitions of a request: prefill the P-token prompt, sample its first
 * token (greedy), decode N more. Each phase runs inside one energy window
 * (qvk_energy_measure_phase() repeats it until the window is long enough
 * for the energy source); every run is a time sample. Summaries, energy
 * per token and the roofline come from libqvk (qvk/bench.h).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm_setup.h"
#include "model_bench.h"

const char *const qvk_mb_phase_names[QVK_MB_PHASES] = { "prefill", "decode" };

/* The state the phase callbacks share. */
struct qvk_mb_job {
	struct qvk_llm *llm;
	struct qvk_mb_result *r;
	const uint32_t *prompt;  /* (prefill) token ids */
	uint32_t prefill, decode; /* tokens per run */
	uint32_t vocab;
	uint32_t first;          /* the prompt's greedy next token */
	uint32_t rep, run;
	bool record;             /* false during warm-up */
	qvk_mb_progress_fn progress;
	void *user;
};

static uint32_t qvk_mb_argmax(const float *x, uint32_t n)
{
	uint32_t best = 0;

	for (uint32_t i = 1; i < n; i++)
		if (x[i] > x[best])
			best = i;
	return best;
}

static qvk_status qvk_mb_record(struct qvk_mb_job *job, enum qvk_mb_phase ph,
				uint32_t tokens, double seconds, double ttft_s)
{
	struct qvk_mb_result *r = job->r;

	if (!job->record)
		return QVK_OK;
	if (r->n_times == r->cap_times) {
		uint32_t cap = r->cap_times ? 2 * r->cap_times : 64;
		struct qvk_mb_time *t = realloc(r->times, cap * sizeof(*t));

		if (!t)
			return QVK_ERR_NO_MEMORY;
		r->times = t;
		r->cap_times = cap;
	}
	r->times[r->n_times++] = (struct qvk_mb_time){
		.rep = job->rep, .run = job->run++, .phase = ph,
		.tokens = tokens, .seconds = seconds, .ttft_s = ttft_s,
	};
	return QVK_OK;
}

/* One prefill of the prompt and the greedy choice of its next token. */
static qvk_status qvk_mb_prefill(void *user, uint64_t *tokens)
{
	struct qvk_mb_job *job = user;
	const float *last = NULL;
	double t0 = qvk_tool_now_s(), t1;
	qvk_status st;

	st = qvk_llm_forward(job->llm, job->prompt, job->prefill, 0, NULL, &last);
	t1 = qvk_tool_now_s();
	if (st != QVK_OK)
		return st;
	job->first = qvk_mb_argmax(last, job->vocab);
	*tokens += job->prefill;
	return qvk_mb_record(job, QVK_MB_PREFILL, job->prefill, t1 - t0,
			     qvk_tool_now_s() - t0);
}

/* Decode after the prompt, each token the greedy choice of the last. */
static qvk_status qvk_mb_decode(void *user, uint64_t *tokens)
{
	struct qvk_mb_job *job = user;
	uint32_t tok = job->first;
	double t0 = qvk_tool_now_s();
	qvk_status st = QVK_OK;
	char line[160];

	for (uint32_t i = 0; st == QVK_OK && i < job->decode; i++) {
		const float *last = NULL;

		st = qvk_llm_forward(job->llm, &tok, 1, job->prefill + i, NULL,
				     &last);
		if (st == QVK_OK)
			tok = qvk_mb_argmax(last, job->vocab);
		if (job->record && job->progress && (i + 1) % 16 == 0) {
			snprintf(line, sizeof(line), "rep %u/%u decode %u/%u",
				 job->rep + 1, job->r->reps, i + 1, job->decode);
			job->progress(job->user, line, true);
		}
	}
	if (st != QVK_OK)
		return st;
	*tokens += job->decode;
	return qvk_mb_record(job, QVK_MB_DECODE, job->decode,
			     qvk_tool_now_s() - t0, NAN);
}

static void qvk_mb_track_memory(const struct qvk_mb_machine *mc,
				struct qvk_mb_result *r)
{
	uint64_t used, budget;

	qvk_device_memory_usage(mc->dev, &used, &budget);
	r->peak_mib = fmax(r->peak_mib, (double)used / (1 << 20));
}

static void qvk_mb_summarize_times(struct qvk_mb_result *r)
{
	double *v[3];
	uint32_t n[3] = { 0 };

	for (int i = 0; i < 3; i++)
		v[i] = malloc((r->n_times + 1) * sizeof(double));
	for (uint32_t i = 0; v[0] && v[1] && v[2] && i < r->n_times; i++) {
		const struct qvk_mb_time *t = &r->times[i];
		int k = t->phase == QVK_MB_PREFILL ? 0 : 1;

		v[k][n[k]++] = t->tokens / t->seconds;
		if (t->phase == QVK_MB_PREFILL)
			v[2][n[2]++] = t->ttft_s * 1e3;
	}
	qvk_stats_summarize(v[0], n[0], &r->prefill_tok_s);
	qvk_stats_summarize(v[1], n[1], &r->decode_tok_s);
	qvk_stats_summarize(v[2], n[2], &r->ttft_ms);
	for (int i = 0; i < 3; i++)
		free(v[i]);
}

/* One domain over the windows of one phase. */
static void qvk_mb_summarize_energy(struct qvk_mb_result *r,
				    enum qvk_mb_phase ph, uint32_t d)
{
	struct qvk_mb_energy *s = &r->energy[ph][d];
	double *j = malloc(3 * (r->n_windows + 1) * sizeof(double));
	double *net = j + r->n_windows + 1, *w = net + r->n_windows + 1;
	uint32_t n = 0, n_net = 0;

	memset(s, 0, sizeof(*s));
	if (!j) {
		snprintf(s->note, sizeof(s->note), "out of memory");
		return;
	}
	for (uint32_t i = 0; i < r->n_windows; i++) {
		const struct qvk_energy_per_token *e = &r->windows[i].e.domains[d];

		if (r->windows[i].phase != ph || d >= r->windows[i].e.n_domains)
			continue;
		s->windows++;
		s->synthetic = e->synthetic;
		if (!e->valid) {
			if (!s->note[0])
				snprintf(s->note, sizeof(s->note), "%s", e->note);
			continue;
		}
		if (e->note[0] && (!s->note[0] || e->short_window))
			snprintf(s->note, sizeof(s->note), "%s", e->note);
		s->short_window |= e->short_window;
		s->error_j = fmax(s->error_j, e->error_j_per_token);
		j[n] = e->j_per_token;
		w[n++] = e->avg_w;
		if (e->net_valid) {
			s->net_error_j = fmax(s->net_error_j,
					      e->net_error_j_per_token);
			net[n_net++] = e->net_j_per_token;
		}
	}
	/* Valid only when every window of the phase was. */
	s->valid = n && n == s->windows;
	s->net_valid = s->valid && n_net == n;
	qvk_stats_summarize(j, n, &s->j_per_tok);
	qvk_stats_summarize(w, n, &s->avg_w);
	qvk_stats_summarize(net, n_net, &s->net_j_per_tok);
	free(j);
}

static void qvk_mb_roofline(const struct qvk_mb_machine *mc,
			    struct qvk_mb_result *r)
{
	const struct qvk_llm_cost *c = &r->cost;
	double peak = mc->peak_gops[c->compute] > 0 ?
			      mc->peak_gops[c->compute] * 1e9 : NAN;
	double read = mc->read_gbps > 0 ? mc->read_gbps * 1e9 : NAN;

	r->decode_bytes_per_tok =
		qvk_llm_decode_bytes_per_token(c, r->prefill, r->decode);
	r->decode_ops_per_tok = qvk_llm_decode_ops_per_token(c, r->prefill,
							     r->decode);
	r->prefill_ops = qvk_llm_prefill_ops(c, r->prefill);
	r->prefill_bytes = qvk_llm_prefill_bytes(c, r->prefill);
	r->decode_best_tok_s = read / r->decode_bytes_per_tok;
	r->decode_frac = r->decode_tok_s.median / r->decode_best_tok_s;
	r->decode_compute_frac =
		r->decode_tok_s.median * r->decode_ops_per_tok / peak;
	r->prefill_best_tok_s = r->prefill / (r->prefill_ops / peak);
	r->prefill_frac = r->prefill_tok_s.median / r->prefill_best_tok_s;
	r->decode_gbps = r->decode_tok_s.median * r->decode_bytes_per_tok / 1e9;
	r->prefill_gops = r->prefill_tok_s.median / r->prefill *
			  r->prefill_ops / 1e9;
}

static void qvk_mb_profile(struct qvk_llm *llm, struct qvk_mb_result *r)
{
	size_t len = 0;
	char *text = NULL;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return;
	qvk_llm_print_profile(f, llm, "    ");
	fclose(f);
	snprintf(r->profile, sizeof(r->profile), "%s", text ? text : "");
	free(text);
}

static qvk_status qvk_mb_phase(struct qvk_mb_machine *mc, struct qvk_mb_job *job,
			       enum qvk_mb_phase ph, const struct qvk_mb_config *cfg)
{
	struct qvk_mb_result *r = job->r;
	struct qvk_mb_window *w = &r->windows[r->n_windows];
	bool energy = mc->telemetry && !mc->energy_unavailable[0];
	char line[160];
	qvk_status st;

	snprintf(line, sizeof(line), "rep %u/%u %s", job->rep + 1, r->reps,
		 qvk_mb_phase_names[ph]);
	if (job->progress)
		job->progress(job->user, line, false);
	job->run = 0;
	w->rep = job->rep;
	w->phase = ph;
	st = qvk_energy_measure_phase(energy ? mc->telemetry : NULL,
				      mc->have_idle ? mc->idle : NULL, 100000,
				      cfg->max_window_s,
				      ph == QVK_MB_PREFILL ? qvk_mb_prefill :
							     qvk_mb_decode,
				      job, &w->e);
	if (st == QVK_OK)
		r->n_windows++;
	qvk_mb_track_memory(mc, r);
	return st;
}

qvk_status qvk_mb_run(struct qvk_mb_machine *mc, const struct qvk_model *model,
		      const struct qvk_mb_config *cfg, struct qvk_mb_result *r,
		      qvk_mb_progress_fn progress, void *user)
{
	struct qvk_llm_options opt = {
		.format = r->format, .group = cfg->group, .keep = cfg->keep,
		.max_batch = cfg->prefill, .max_seq = cfg->prefill + cfg->decode,
		.profile = cfg->profile, .kv_f32 = cfg->kv_f32,
	};
	struct qvk_mb_job job = { .r = r, .prefill = cfg->prefill,
				  .decode = cfg->decode,
				  .vocab = model->params.vocab_size,
				  .progress = progress, .user = user };
	uint64_t rng = 0x70c3e5;
	uint32_t *prompt = NULL;
	qvk_status st;

	r->prefill = cfg->prefill;
	r->decode = cfg->decode;
	r->reps = cfg->reps;
	r->group = cfg->group;
	if (cfg->prefill + cfg->decode > model->params.seq_len) {
		snprintf(r->skipped, sizeof(r->skipped), "-p %u + -n %u is past "
			 "the model's context of %u", cfg->prefill, cfg->decode,
			 model->params.seq_len);
		return QVK_OK;
	}
	if (progress)
		progress(user, "loading", false);
	st = qvk_llm_create(mc->dev, model, &opt, &job.llm);
	if (st != QVK_OK) {
		snprintf(r->skipped, sizeof(r->skipped), "loading failed: %s: %s",
			 qvk_strerror(st), qvk_ctx_message(mc->ctx));
		return QVK_OK;
	}
	snprintf(r->describe, sizeof(r->describe), "%s",
		 qvk_llm_describe(job.llm));
	r->model_mib = (double)qvk_llm_device_bytes(job.llm) / (1 << 20);
	qvk_mb_track_memory(mc, r);
	qvk_llm_cost(job.llm, &r->cost);
	r->windows = calloc(2 * (size_t)cfg->reps, sizeof(*r->windows));
	prompt = malloc(cfg->prefill * sizeof(*prompt));
	if (!r->windows || !prompt) {
		st = QVK_ERR_NO_MEMORY;
		goto out;
	}
	for (uint32_t i = 0; i < cfg->prefill; i++)
		prompt[i] = (uint32_t)(qvk_tool_rand(&rng) % job.vocab);
	job.prompt = prompt;
	/*
	 * Warm-up: records both plans and compiles every pipeline (CPU
	 * devices compile shader variants when they first run).
	 */
	if (progress)
		progress(user, "warm-up", false);
	{
		uint64_t ignored = 0;

		job.decode = QVK_MIN(cfg->decode, 2u);
		st = qvk_mb_prefill(&job, &ignored);
		if (st == QVK_OK)
			st = qvk_mb_decode(&job, &ignored);
		job.decode = cfg->decode;
	}
	if (st == QVK_OK && cfg->profile)
		qvk_llm_profile_reset(job.llm);
	job.record = true;
	for (job.rep = 0; st == QVK_OK && job.rep < cfg->reps; job.rep++) {
		st = qvk_mb_phase(mc, &job, QVK_MB_PREFILL, cfg);
		if (st == QVK_OK)
			st = qvk_mb_phase(mc, &job, QVK_MB_DECODE, cfg);
	}
	if (st != QVK_OK)
		goto out;
	qvk_mb_summarize_times(r);
	r->n_domains = mc->energy_unavailable[0] || !mc->telemetry ? 0 :
		       qvk_telemetry_domain_count(mc->telemetry);
	for (int ph = 0; ph < QVK_MB_PHASES; ph++)
		for (uint32_t d = 0; d < r->n_domains; d++)
			qvk_mb_summarize_energy(r, (enum qvk_mb_phase)ph, d);
	qvk_mb_roofline(mc, r);
	if (cfg->profile)
		qvk_mb_profile(job.llm, r);
out:
	free(prompt);
	qvk_llm_destroy(job.llm);
	return st;
}

void qvk_mb_result_finish(struct qvk_mb_result *r)
{
	free(r->times);
	free(r->windows);
	r->times = NULL;
	r->windows = NULL;
}
