/* SPDX-License-Identifier: MIT */
/*
 * qvk run: generate text with a model on the default device, streaming it
 * to stdout, then a summary on stderr: prefill and decode speed, time to
 * first token, the context, device memory, and energy per token or why
 * there is none. This file holds the options and the set-up; run.h names
 * the other parts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"

const char qvk_cmd_run_summary[] = "generate text with a model on the GPU";

static int qvk_run_usage(void)
{
	printf("usage: qvk run -m MODEL [-t TOKENIZER] [-p PROMPT | -p - | -f "
	       "FILE] [-n N]\n"
	       "               [-c N] [--context-shift] [--n-keep N] [--temp T] "
	       "[--top-k K]\n"
	       "               [--top-p P] [--min-p P] [--repeat-penalty R] "
	       "[-s S] [--ignore-eos]\n"
	       "               [--stop TEXT]... [--json] [--format F] [--group G] "
	       "[--keep LIST]\n"
	       "               [--kv-f32] [--act-per-token] [--profile]\n\n"
	       "Streams the generated text to stdout (with no prompt, from "
	       "BOS), then prints\nprefill and decode tokens/s, time to first "
	       "token, the context, device memory\nand energy per token (or "
	       "why energy is unavailable) to stderr.\n\n%s"
	       "  -p PROMPT         text to continue (default: none); -p - "
	       "reads it from stdin\n"
	       "  -f FILE           read the prompt from FILE (as with -p -, "
	       "one trailing\n"
	       "                    newline is dropped, as llama.cpp does)\n"
	       "  -n N              tokens to generate (default 128)\n"
	       "  -c, --ctx-size N  context in tokens: the KV cache holds N "
	       "positions\n"
	       "                    (default 0: the model's own context)\n"
	       "  --context-shift   when the context is full, keep its first "
	       "tokens (BOS and\n"
	       "                    --n-keep prompt tokens), drop the oldest "
	       "half of the rest\n"
	       "                    and go on, as llama.cpp does; qvk runs the "
	       "kept tokens\n"
	       "                    through prefill again instead of "
	       "re-rotating cached keys.\n"
	       "                    Without it, generation stops there and "
	       "says so\n"
	       "  --n-keep N        prompt tokens after BOS a shift keeps "
	       "(default 0; -1: all)\n%s"
	       "  --ignore-eos      never pick the end-of-text token (exactly "
	       "N tokens unless\n"
	       "                    the context or a stop string ends it "
	       "first)\n"
	       "  --stop TEXT       stop when TEXT appears in the generated text, "
	       "which ends\n"
	       "                    before it (repeatable, up to %u)\n"
	       "  --json            no streaming: one JSON object on stdout with "
	       "the text, its\n"
	       "                    token ids and every figure of the summary\n",
	       qvk_llm_args_help, qvk_sampling_args_help, QVK_RUN_MAX_STOPS);
	return 0;
}

/* The options that take no value; true if @arg was one. */
static bool qvk_run_flag(const char *arg, struct qvk_run_args *a)
{
	if (!strcmp(arg, "--context-shift"))
		a->context_shift = true;
	else if (!strcmp(arg, "--ignore-eos"))
		a->ignore_eos = true;
	else if (!strcmp(arg, "--json"))
		a->json = true;
	else
		return false;
	return true;
}

/* One option with its value @val; false after reporting a bad one. */
static bool qvk_run_option(const char *arg, const char *val,
			   struct qvk_run_args *a)
{
	uint64_t v;

	if (!strcmp(arg, "-p")) {
		if (!strcmp(val, "-"))
			a->prompt_file = "-";
		else
			a->prompt = val;
	} else if (!strcmp(arg, "-f")) {
		a->prompt_file = val;
	} else if (!strcmp(arg, "-n")) {
		if (!qvk_tool_parse_u64("run", arg, val, 1, 1u << 20, &v))
			return false;
		a->n_tokens = (uint32_t)v;
	} else if (!strcmp(arg, "-c") || !strcmp(arg, "--ctx-size")) {
		if (!qvk_tool_parse_u64("run", arg, val, 0, 1u << 24, &v))
			return false;
		a->ctx_size = (uint32_t)v;
	} else if (!strcmp(arg, "--n-keep")) {
		if (!strcmp(val, "-1"))
			a->n_keep = -1;
		else if (qvk_tool_parse_u64("run", arg, val, 0, 1u << 24, &v))
			a->n_keep = (int64_t)v;
		else
			return false;
	} else if (!strcmp(arg, "--stop")) {
		if (!*val || a->n_stops == QVK_RUN_MAX_STOPS) {
			qvk_tool_usage_error("run", "--stop needs a non-empty "
					     "TEXT, at most %u times",
					     QVK_RUN_MAX_STOPS);
			return false;
		}
		a->stops[a->n_stops++] = val;
	} else {
		qvk_tool_usage_error("run", "unknown argument '%s'", arg);
		return false;
	}
	return true;
}

static bool qvk_run_parse(int argc, char **argv, struct qvk_run_args *a)
{
	const char *prompt_arg = NULL;

	memset(a, 0, sizeof(*a));
	a->llm.opt.group = 32;
	a->n_tokens = 128;
	qvk_sampling_args_init(&a->sampling);
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		int took = qvk_llm_args_parse("run", argc, argv, &i, &a->llm);

		if (!took)
			took = qvk_sampling_args_parse("run", argc, argv, &i,
						       &a->sampling);
		if (took < 0)
			return false;
		if (took || qvk_run_flag(arg, a))
			continue;
		if (!val) {
			qvk_tool_usage_error("run", "unknown or incomplete "
					     "argument '%s'", arg);
			return false;
		}
		i++;
		if (!strcmp(arg, "-p") || !strcmp(arg, "-f")) {
			if (prompt_arg) {
				qvk_tool_usage_error("run", "%s and %s: give "
						     "one prompt", prompt_arg,
						     arg);
				return false;
			}
			prompt_arg = arg;
		}
		if (!qvk_run_option(arg, val, a))
			return false;
	}
	qvk_sampling_args_finish(&a->sampling);
	return true;
}

/* -f FILE or -p -: the prompt's text, one trailing newline dropped. */
static char *qvk_run_read_prompt(struct qvk_run_args *a)
{
	bool is_stdin = !strcmp(a->prompt_file, "-");
	char *text;
	size_t len;

	text = is_stdin ? qvk_tool_read_stream(stdin, &len) :
			  qvk_tool_read_file(a->prompt_file, &len);
	if (!text) {
		fprintf(stderr, "qvk run: %s: %s\n",
			is_stdin ? "reading the prompt from stdin" :
				   a->prompt_file,
			strerror(errno));
		return NULL;
	}
	if (len && text[len - 1] == '\n')
		text[--len] = 0;
	a->prompt = text;
	a->prompt_len = len;
	return text;
}

int qvk_cmd_run(int argc, char **argv)
{
	struct qvk_telemetry_options topt = { 0 };
	struct qvk_telemetry *t = NULL;
	struct qvk_tokenizer *tok = NULL;
	struct qvk_model *model = NULL;
	struct qvk_device *dev = NULL;
	struct qvk_llm *llm = NULL;
	struct qvk_run_result r = { 0 };
	char *prompt_text = NULL;
	struct qvk_run_args a;
	struct qvk_ctx *ctx;
	qvk_status st;
	int rc = 1;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return qvk_run_usage();
	if (!qvk_run_parse(argc, argv, &a))
		return 2;
	if (a.prompt_file && !(prompt_text = qvk_run_read_prompt(&a)))
		return 1;
	if (!a.prompt_file)
		a.prompt_len = a.prompt ? strlen(a.prompt) : 0;
	ctx = qvk_tool_ctx("run");
	if (!ctx)
		goto out_prompt;
	if (!qvk_llm_open_model("run", ctx, &a.llm, &model, &tok))
		goto out;
	if (a.ctx_size > model->params.seq_len) {
		rc = qvk_tool_usage_error("run", "-c %u exceeds the model's "
					  "context of %u tokens", a.ctx_size,
					  model->params.seq_len);
		goto out;
	}
	/* The KV cache is sized to the context asked for. */
	a.llm.opt.max_seq = a.ctx_size;
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
	if (!a.json)
		fprintf(stderr, "model: %s (%s, %u layers, dim %u, vocab %u) on "
			"%s, weights %s\n", a.llm.model_path,
			qvk_arch_name(model->params.arch), model->params.n_layers,
			model->params.dim, model->params.vocab_size,
			qvk_device_info(dev)->name, qvk_llm_describe(llm));
	/* amdgpu sensors of the very GPU the device layer matched. */
	topt.drm_render_node = qvk_device_info(dev)->has_drm &&
					       qvk_device_info(dev)->drm_render_node[0] ?
				       qvk_device_info(dev)->drm_render_node :
				       NULL;
	if (qvk_telemetry_create(ctx, &topt, &t) != QVK_OK)
		t = NULL;
	if (!qvk_run_generate(ctx, llm, model, tok, &a, t, &r))
		goto out;
	qvk_run_report(ctx, &a, llm, dev, t, &r);
	rc = 0;
out:
	qvk_run_result_finish(&r);
	qvk_telemetry_destroy(t);
	qvk_llm_destroy(llm);
	qvk_device_destroy(dev);
	qvk_tokenizer_destroy(tok);
	qvk_model_destroy(model);
	qvk_ctx_destroy(ctx);
out_prompt:
	free(prompt_text);
	return rc;
}
