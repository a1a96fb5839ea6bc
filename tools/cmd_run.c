/* SPDX-License-Identifier: MIT */
/*
 * qvk run: generate text with a model on the default device, streaming it
 * to stdout, then a summary on stderr: prefill and decode speed, time to
 * first token, device memory, and energy per token or why there is none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <qvk/sampler.h>
#include <qvk/telemetry.h>

#include "llm_setup.h"

const char qvk_cmd_run_summary[] = "generate text with a model on the GPU";

struct qvk_run_args {
	struct qvk_llm_args llm;
	const char *prompt;
	uint32_t n_tokens;
	struct qvk_sampler_options sampling;
	bool seed_set;
};

static int qvk_run_usage(void)
{
	printf("usage: qvk run -m MODEL [-t TOKENIZER] [-p PROMPT] [-n N] "
	       "[--temp T] [--top-k K]\n"
	       "               [--top-p P] [--repeat-penalty R] [--seed S] "
	       "[--format F] [--group G]\n"
	       "               [--keep LIST] [--kv-f32] [--act-per-token] "
	       "[--profile]\n\n"
	       "Streams the generated text to stdout (with no prompt, from "
	       "BOS), then prints\nprefill and decode tokens/s, time to first "
	       "token, device memory and energy per\ntoken (or why energy is "
	       "unavailable) to stderr.\n\n%s"
	       "  -p PROMPT         text to continue (default: none)\n"
	       "  -n N              tokens to generate (default 128)\n"
	       "  --temp T          0 is greedy (default 0.8)\n"
	       "  --top-k K         keep the K most likely (default 0: off)\n"
	       "  --top-p P         nucleus sampling (default 0.9)\n"
	       "  --repeat-penalty R  >= 1 (default 1: off)\n"
	       "  --seed S          sampling seed (default: from the clock, "
	       "printed)\n",
	       qvk_llm_args_help);
	return 0;
}

static bool qvk_run_parse(int argc, char **argv, struct qvk_run_args *a)
{
	uint64_t v;
	double d;

	memset(a, 0, sizeof(*a));
	a->llm.opt.group = 32;
	a->n_tokens = 128;
	qvk_sampler_options_default(&a->sampling);
	a->sampling.temperature = 0.8f;
	a->sampling.top_p = 0.9f;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		int took = qvk_llm_args_parse("run", argc, argv, &i, &a->llm);

		if (took < 0)
			return false;
		if (took)
			continue;
		if (!val) {
			qvk_tool_usage_error("run", "unknown or incomplete "
					     "argument '%s'", arg);
			return false;
		}
		i++;
		if (!strcmp(arg, "-p")) {
			a->prompt = val;
		} else if (!strcmp(arg, "-n")) {
			if (!qvk_tool_parse_u64("run", arg, val, 1, 1u << 20, &v))
				return false;
			a->n_tokens = (uint32_t)v;
		} else if (!strcmp(arg, "--temp")) {
			if (!qvk_tool_parse_double("run", arg, val, 0, 100, &d))
				return false;
			a->sampling.temperature = (float)d;
		} else if (!strcmp(arg, "--top-k")) {
			if (!qvk_tool_parse_u64("run", arg, val, 0, 1u << 24, &v))
				return false;
			a->sampling.top_k = (uint32_t)v;
		} else if (!strcmp(arg, "--top-p")) {
			if (!qvk_tool_parse_double("run", arg, val, 1e-6, 1, &d))
				return false;
			a->sampling.top_p = (float)d;
		} else if (!strcmp(arg, "--repeat-penalty")) {
			if (!qvk_tool_parse_double("run", arg, val, 1, 100, &d))
				return false;
			a->sampling.repeat_penalty = (float)d;
		} else if (!strcmp(arg, "--seed")) {
			if (!qvk_tool_parse_u64("run", arg, val, 0, UINT64_MAX,
						&a->sampling.seed))
				return false;
			a->seed_set = true;
		} else {
			qvk_tool_usage_error("run", "unknown argument '%s'", arg);
			return false;
		}
	}
	if (!a->seed_set)
		a->sampling.seed = (uint64_t)time(NULL);
	return true;
}

static void qvk_print_energy(const char *phase, const struct qvk_telemetry *t,
			     const struct qvk_energy_result *r, uint32_t tokens)
{
	for (uint32_t i = 0; i < r->n_domains; i++) {
		const struct qvk_telemetry_domain *d = qvk_telemetry_domain(t, i);
		const struct qvk_energy_domain_result *e = &r->domains[i];

		if (!e->valid) {
			fprintf(stderr, "energy %s %s: unavailable (%s)\n", phase,
				d->name, e->note);
			continue;
		}
		fprintf(stderr, "energy %s %s%s: %.4f J/token (± %.4f), %.2f W "
			"over %.3f s\n", phase, d->name,
			d->synthetic ? " [synthetic test ramp, not a measurement]" :
				       "",
			e->energy_j / tokens, e->error_bound_j / tokens,
			e->avg_w, r->elapsed_s);
	}
}

/* Energy windows, or nothing at all when no source exists. */
struct qvk_run_energy {
	struct qvk_telemetry *t;
	struct qvk_energy_window *w;
	struct qvk_energy_result prefill, decode;
	bool have_prefill, have_decode;
};

static void qvk_energy_begin(struct qvk_run_energy *e)
{
	if (e->t && qvk_energy_window_begin(e->t, &e->w) != QVK_OK)
		e->w = NULL;
}

static bool qvk_energy_end(struct qvk_run_energy *e,
			   struct qvk_energy_result *r)
{
	bool ok = e->w && qvk_energy_window_end(e->t, e->w, r) == QVK_OK;

	e->w = NULL;
	return ok;
}

static int qvk_generate(struct qvk_ctx *ctx, struct qvk_llm *llm,
			const struct qvk_model *model,
			struct qvk_tokenizer *tok, struct qvk_run_args *a,
			struct qvk_run_energy *en)
{
	const struct qvk_model_params *p = &model->params;
	size_t plen = a->prompt ? strlen(a->prompt) : 0, n_prompt = 0;
	uint32_t *prompt = malloc(QVK_TOKENIZE_MAX(plen) * sizeof(uint32_t));
	struct qvk_sampler *smp = NULL;
	double t0, t_first = 0, t_prefill, t_end;
	uint32_t pos, token, prev, generated = 0;
	const float *logits;
	qvk_status st;
	int rc = 1;

	if (!prompt)
		return qvk_tool_fail(ctx, QVK_ERR_NO_MEMORY, "run", "prompt");
	st = qvk_tokenizer_encode(tok, ctx, a->prompt ? a->prompt : "", plen,
				  QVK_TOKENIZE_BOS, prompt,
				  QVK_TOKENIZE_MAX(plen), &n_prompt);
	if (st == QVK_OK && n_prompt >= p->seq_len) {
		fprintf(stderr, "qvk run: the prompt has %zu tokens, the "
				"model's context is %u\n", n_prompt, p->seq_len);
		goto out;
	}
	if (st == QVK_OK)
		st = qvk_sampler_create(ctx, p->vocab_size, &a->sampling, &smp);
	if (st != QVK_OK) {
		rc = qvk_tool_fail(ctx, st, "run", "prompt");
		goto out;
	}
	for (size_t i = 0; i < n_prompt; i++)
		qvk_sampler_accept(smp, prompt[i]);
	if (a->prompt)
		fputs(a->prompt, stdout);
	fflush(stdout);

	t0 = qvk_tool_now_s();
	qvk_energy_begin(en);
	st = qvk_llm_forward(llm, prompt, (uint32_t)n_prompt, 0, NULL, &logits);
	en->have_prefill = qvk_energy_end(en, &en->prefill);
	t_prefill = qvk_tool_now_s();
	qvk_energy_begin(en);
	pos = (uint32_t)n_prompt;
	prev = prompt[n_prompt - 1];
	while (st == QVK_OK && generated < a->n_tokens && pos < p->seq_len) {
		size_t len;
		const char *piece;

		st = qvk_sampler_sample(smp, logits, &token);
		if (st != QVK_OK || token == qvk_tokenizer_eos(tok))
			break;
		if (!generated)
			t_first = qvk_tool_now_s();
		piece = qvk_tokenizer_decode(tok, prev, token, &len);
		fwrite(piece, 1, len, stdout);
		fflush(stdout);
		generated++;
		prev = token;
		if (generated < a->n_tokens && pos + 1 < p->seq_len)
			st = qvk_llm_forward(llm, &token, 1, pos, NULL, &logits);
		pos++;
	}
	t_end = qvk_tool_now_s();
	en->have_decode = qvk_energy_end(en, &en->decode);
	putchar('\n');
	fflush(stdout);
	if (st != QVK_OK) {
		rc = qvk_tool_fail(ctx, st, "run", "generating");
		goto out;
	}
	fprintf(stderr, "\nprompt: %zu tokens (BOS included), prefill %.1f "
		"tokens/s, time to first token %.1f ms\n", n_prompt,
		n_prompt / (t_prefill - t0),
		((generated ? t_first : t_end) - t0) * 1e3);
	fprintf(stderr, "decode: %u tokens, %.1f tokens/s (seed %llu)\n",
		generated, generated > 1 ? (generated - 1) / (t_end - t_first) : 0,
		(unsigned long long)a->sampling.seed);
	rc = 0;
out:
	qvk_sampler_destroy(smp);
	free(prompt);
	return rc;
}

int qvk_cmd_run(int argc, char **argv)
{
	struct qvk_telemetry_options topt = { 0 };
	struct qvk_run_energy en = { 0 };
	struct qvk_tokenizer *tok = NULL;
	struct qvk_model *model = NULL;
	struct qvk_device *dev = NULL;
	struct qvk_llm *llm = NULL;
	struct qvk_run_args a;
	struct qvk_ctx *ctx;
	qvk_status st;
	int rc = 1;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return qvk_run_usage();
	if (!qvk_run_parse(argc, argv, &a))
		return 2;
	ctx = qvk_tool_ctx("run");
	if (!ctx)
		return 1;
	if (!qvk_llm_open_model("run", ctx, &a.llm, &model, &tok))
		goto out;
	st = qvk_device_create(ctx, NULL, &dev);
	if (st != QVK_OK) {
		qvk_tool_fail(ctx, st, "run", "device");
		goto out;
	}
	st = qvk_llm_create(dev, model, &a.llm.opt, &llm);
	if (st != QVK_OK) {
		qvk_tool_fail(ctx, st, "run", "loading the model onto the device");
		goto out;
	}
	fprintf(stderr, "model: %s (%s, %u layers, dim %u, vocab %u) on %s, "
		"weights %s\n", a.llm.model_path,
		qvk_arch_name(model->params.arch), model->params.n_layers,
		model->params.dim, model->params.vocab_size,
		qvk_device_info(dev)->name, qvk_llm_describe(llm));
	/* amdgpu sensors of the very GPU the device layer matched. */
	topt.drm_render_node = qvk_device_info(dev)->has_drm &&
					       qvk_device_info(dev)->drm_render_node[0] ?
				       qvk_device_info(dev)->drm_render_node :
				       NULL;
	if (qvk_telemetry_create(ctx, &topt, &en.t) != QVK_OK)
		en.t = NULL;
	rc = qvk_generate(ctx, llm, model, tok, &a, &en);
	if (rc)
		goto out;
	fprintf(stderr, "device memory: %.1f MiB\n",
		(double)qvk_llm_device_bytes(llm) / (1 << 20));
	if (!en.t || !qvk_telemetry_domain_count(en.t)) {
		/* The reason, then what each source said, indented. */
		const char *why = en.t ? qvk_telemetry_describe(en.t) :
					 qvk_ctx_message(ctx);

		fprintf(stderr, "energy: unavailable: no energy source could "
				"be read here; sources probed:\n  ");
		for (; *why; why++)
			fprintf(stderr, why[0] == '\n' && why[1] ? "\n  " : "%c",
				*why);
		fputc('\n', stderr);
	} else {
		if (en.have_prefill)
			qvk_print_energy("prefill", en.t, &en.prefill, 1);
		if (en.have_decode)
			qvk_print_energy("decode", en.t, &en.decode, 1);
	}
	if (a.llm.opt.profile) {
		fprintf(stderr, "profile (GPU timestamps):\n");
		qvk_llm_print_profile(stderr, llm, "  ");
	}
out:
	qvk_telemetry_destroy(en.t);
	qvk_llm_destroy(llm);
	qvk_device_destroy(dev);
	qvk_tokenizer_destroy(tok);
	qvk_model_destroy(model);
	qvk_ctx_destroy(ctx);
	return rc;
}
