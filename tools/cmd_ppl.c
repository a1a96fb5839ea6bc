/* SPDX-License-Identifier: MIT */
/*
 * qvk ppl: perplexity over a text file in non-overlapping windows, and the
 * KL divergence and top-1 agreement of the chosen format against the same
 * model in fp32, both run in this process on the same windows.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/metrics.h>
#include <qvk/quantize.h>

#include "llm_setup.h"

const char qvk_cmd_ppl_summary[] =
	"perplexity, KL and top-1 vs fp32 over a text file";

struct qvk_ppl_args {
	struct qvk_llm_args llm;
	const char *text_path;
	const char *ref_path; /* KL baseline from another file, or NULL */
	uint32_t ctx_window;
	uint64_t max_tokens;
	bool json;
};

static int qvk_ppl_usage(void)
{
	printf("usage: qvk ppl -m MODEL [-t TOKENIZER] -f TEXT [--format F] "
	       "[--group G] [--keep LIST]\n"
	       "               [--ref MODEL] [--ctx W] [--max-tokens N] "
	       "[--json]\n\n"
	       "Splits TEXT into non-overlapping windows of W tokens, each "
	       "starting with BOS,\nand scores every next token: perplexity "
	       "of the chosen format, and its KL\ndivergence and top-1 "
	       "agreement against the same model in fp32.\n\n%s"
	       "  -f TEXT           the held-out text (required)\n"
	       "  --ref MODEL       KL/top-1 against this model in fp32 (e.g. "
	       "the original\n"
	       "                    of a quantized file; default: MODEL "
	       "itself)\n"
	       "  --ctx W           window in tokens, BOS included (default: "
	       "min(256, seq_len))\n"
	       "  --max-tokens N    stop after N scored tokens (default: all)\n"
	       "  --json            {\"ppl\", \"kl\", \"top1\", \"tokens\", "
	       "\"ctx\"} on stdout\n",
	       qvk_llm_args_help);
	return 0;
}

static bool qvk_ppl_parse(int argc, char **argv, struct qvk_ppl_args *a)
{
	uint64_t v;

	memset(a, 0, sizeof(*a));
	a->llm.opt.group = 32;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		int took = qvk_llm_args_parse("ppl", argc, argv, &i, &a->llm);

		if (took < 0)
			return false;
		if (took)
			continue;
		if (!strcmp(arg, "--json")) {
			a->json = true;
			continue;
		}
		if (!val) {
			qvk_tool_usage_error("ppl", "unknown or incomplete "
					     "argument '%s'", arg);
			return false;
		}
		i++;
		if (!strcmp(arg, "-f")) {
			a->text_path = val;
		} else if (!strcmp(arg, "--ref")) {
			a->ref_path = val;
		} else if (!strcmp(arg, "--ctx")) {
			if (!qvk_tool_parse_u64("ppl", arg, val, 2, 1u << 20, &v))
				return false;
			a->ctx_window = (uint32_t)v;
		} else if (!strcmp(arg, "--max-tokens")) {
			if (!qvk_tool_parse_u64("ppl", arg, val, 1, UINT64_MAX,
						&a->max_tokens))
				return false;
		} else {
			qvk_tool_usage_error("ppl", "unknown argument '%s'", arg);
			return false;
		}
	}
	if (!a->text_path) {
		qvk_tool_usage_error("ppl", "-f TEXT is required");
		return false;
	}
	return true;
}

static int qvk_ppl_run(struct qvk_ctx *ctx, struct qvk_device *dev,
		       struct qvk_model *model, struct qvk_tokenizer *tok,
		       struct qvk_ppl_args *a)
{
	const uint32_t vocab = model->params.vocab_size;
	struct qvk_llm_options fopt = a->llm.opt;
	struct qvk_llm *lq = NULL, *lf = NULL;
	struct qvk_model *ref_model = NULL;
	struct qvk_ppl_result r;
	uint32_t *tokens = NULL, w = a->ctx_window;
	size_t len = 0, n_tok = 0;
	char *text = qvk_tool_read_file(a->text_path, &len);
	qvk_status st;
	int rc = 1;

	if (!text) {
		perror(a->text_path);
		return 1;
	}
	if (!w)
		w = QVK_MIN(256u, model->params.seq_len);
	if (w > model->params.seq_len) {
		qvk_tool_usage_error("ppl", "--ctx %u exceeds the model's "
				     "context of %u", w, model->params.seq_len);
		goto out;
	}
	tokens = malloc(QVK_TOKENIZE_MAX(len) * sizeof(*tokens));
	st = tokens ? qvk_tokenizer_encode(tok, ctx, text, len, 0, tokens,
					   QVK_TOKENIZE_MAX(len), &n_tok) :
		      QVK_ERR_NO_MEMORY;
	if (st != QVK_OK) {
		qvk_tool_fail(ctx, st, "ppl", "tokenizing the text");
		goto out;
	}
	if (n_tok / (w - 1) == 0) {
		fprintf(stderr, "qvk ppl: %s has %zu tokens, fewer than one "
				"window of %u\n", a->text_path, n_tok, w);
		goto out;
	}
	if (a->ref_path) {
		st = qvk_model_load(ctx, a->ref_path, &ref_model);
		if (st != QVK_OK) {
			qvk_tool_fail(ctx, st, "ppl", a->ref_path);
			goto out;
		}
		if (ref_model->params.vocab_size != vocab) {
			fprintf(stderr, "qvk ppl: --ref %s has %u tokens, the "
					"model %u\n", a->ref_path,
				ref_model->params.vocab_size, vocab);
			goto out;
		}
	}
	fopt.format = QVK_WEIGHTS_F32;
	fopt.keep = NULL;
	fopt.max_batch = a->llm.opt.max_batch = w;
	fopt.max_seq = a->llm.opt.max_seq = w;
	st = qvk_llm_create(dev, model, &a->llm.opt, &lq);
	if (st == QVK_OK)
		st = qvk_llm_create(dev, ref_model ? ref_model : model, &fopt,
				    &lf);
	if (st != QVK_OK) {
		qvk_tool_fail(ctx, st, "ppl", "loading the model");
		goto out;
	}
	st = qvk_ppl_evaluate(ctx, lq, lf, vocab, qvk_tokenizer_bos(tok),
			      tokens, n_tok, w, a->max_tokens, &r);
	if (st != QVK_OK) {
		qvk_tool_fail(ctx, st, "ppl", "forward pass");
		goto out;
	}
	if (a->json)
		printf("{\"ppl\":%.6f,\"kl\":%.8f,\"top1\":%.6f,\"tokens\":%llu,"
		       "\"ctx\":%u,\"format\":\"%s\"}\n", r.ppl, r.kl, r.top1,
		       (unsigned long long)r.tokens, w, qvk_llm_describe(lq));
	else
		printf("weights: %s\nperplexity: %.4f over %llu tokens (%u "
		       "windows of %u)\nvs f32%s%s: KL %.6f nats/token, top-1 "
		       "agreement %.2f%%\n", qvk_llm_describe(lq), r.ppl,
		       (unsigned long long)r.tokens, r.windows, w,
		       a->ref_path ? " " : "", a->ref_path ? a->ref_path : "",
		       r.kl, 100.0 * r.top1);
	rc = 0;
out:
	qvk_llm_destroy(lq);
	qvk_llm_destroy(lf);
	qvk_model_destroy(ref_model);
	free(tokens);
	free(text);
	return rc;
}

int qvk_cmd_ppl(int argc, char **argv)
{
	struct qvk_tokenizer *tok = NULL;
	struct qvk_model *model = NULL;
	struct qvk_device *dev = NULL;
	struct qvk_ppl_args a;
	struct qvk_ctx *ctx;
	qvk_status st;
	int rc = 1;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return qvk_ppl_usage();
	if (!qvk_ppl_parse(argc, argv, &a))
		return 2;
	ctx = qvk_tool_ctx("ppl");
	if (!ctx)
		return 1;
	if (!qvk_llm_open_model("ppl", ctx, &a.llm, &model, &tok))
		goto out;
	st = qvk_device_create(ctx, NULL, &dev);
	if (st != QVK_OK) {
		qvk_tool_fail(ctx, st, "ppl", "device");
		goto out;
	}
	rc = qvk_ppl_run(ctx, dev, model, tok, &a);
out:
	qvk_device_destroy(dev);
	qvk_tokenizer_destroy(tok);
	qvk_model_destroy(model);
	qvk_ctx_destroy(ctx);
	return rc;
}
