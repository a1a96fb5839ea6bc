/* SPDX-License-Identifier: MIT */
/*
 * qvk ppl: perplexity over a text file in non-overlapping windows, and the
 * KL divergence and top-1 agreement of the chosen format against a
 * reference in fp32 (--ref, or a float model itself), both run in this
 * process on the same windows.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/metrics.h>
#include <qvk/quantize.h>

#include "llm_setup.h"

const char qvk_cmd_ppl_summary[] =
	"perplexity, KL and top-1 vs an fp32 reference over a text file";

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
	       "[--kv-f32] [--act-per-token]\n"
	       "               [--profile] [--json]\n\n"
	       "Splits TEXT into non-overlapping windows of W tokens, each "
	       "starting with BOS,\nand scores every next token: perplexity "
	       "of the chosen format, and its KL\ndivergence and top-1 "
	       "agreement against a reference in fp32: --ref, or\nwithout it "
	       "MODEL itself when its weights are float (then the figures "
	       "measure\nthe quantization done at load). A file that stores "
	       "quantized weights has no\nindependent reference of its own: "
	       "without --ref there is no KL or top-1.\n\n%s"
	       "  -f TEXT           the held-out text (required)\n"
	       "  --ref MODEL       KL/top-1 against this model in fp32 (e.g. "
	       "the original\n"
	       "                    of a quantized file)\n"
	       "  --ctx W           window in tokens, BOS included (default: "
	       "min(256, seq_len))\n"
	       "  --max-tokens N    score exactly N tokens (the last window "
	       "shorter; default:\n"
	       "                    every whole window)\n"
	       "  --json            {\"ppl\", \"kl\", \"top1\", \"tokens\", "
	       "\"windows\", \"ctx\", \"format\",\n"
	       "                    \"reference\"} on stdout (kl, top1 and "
	       "reference null without one)\n",
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

/* The KL/top-1 reference: --ref, @model itself if float, or none (*why). */
static const char *qvk_ppl_reference(const struct qvk_ppl_args *a,
				     const struct qvk_model *model,
				     char *why, size_t why_len)
{
	const struct qvk_host_tensor *q = qvk_llm_first_quantized(model);

	if (a->ref_path)
		return a->ref_path;
	if (!q)
		return a->llm.model_path;
	snprintf(why, why_len, "%s stores quantized weights (%s %s), so the "
		 "same file in f32 has those weights too; give the original "
		 "model with --ref for KL and top-1", a->llm.model_path, q->name,
		 qvk_ggml_type_name(q->type));
	return NULL;
}

static void qvk_ppl_print(const struct qvk_ppl_args *a, const char *ref,
			  const char *why, const struct qvk_llm *lq,
			  const struct qvk_ppl_result *r)
{
	uint64_t last = r->tokens - (uint64_t)(r->windows - 1) * (r->ctx - 1);

	if (a->json) {
		printf("{\"ppl\":%.6f,", r->ppl);
		if (ref)
			printf("\"kl\":%.8f,\"top1\":%.6f,", r->kl, r->top1);
		else
			printf("\"kl\":null,\"top1\":null,");
		printf("\"tokens\":%llu,\"windows\":%u,\"ctx\":%u,\"format\":",
		       (unsigned long long)r->tokens, r->windows, r->ctx);
		qvk_tool_json_string(stdout, qvk_llm_describe(lq),
				     strlen(qvk_llm_describe(lq)));
		printf(",\"reference\":");
		if (ref)
			qvk_tool_json_string(stdout, ref, strlen(ref));
		else
			printf("null");
		printf("}\n");
		return;
	}
	printf("weights: %s\nperplexity: %.4f over %llu tokens (%u window%s of "
	       "%u", qvk_llm_describe(lq), r->ppl,
	       (unsigned long long)r->tokens, r->windows,
	       r->windows == 1 ? "" : "s", r->ctx);
	if (last + 1 < r->ctx)
		printf(", the last of %llu for --max-tokens",
		       (unsigned long long)last + 1);
	printf(")\n");
	if (!ref) {
		printf("reference: none: %s\n", why);
		return;
	}
	printf("reference: %s in f32%s\nvs reference: KL %.6f nats/token, "
	       "top-1 agreement %.2f%%\n", ref,
	       a->ref_path ? " (--ref)" :
			     " (the same weights before quantization at load)",
	       r->kl, 100.0 * r->top1);
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
	char *text = qvk_tool_read_file(a->text_path, &len), why[512] = "";
	const char *ref = qvk_ppl_reference(a, model, why, sizeof(why));
	qvk_status st;
	int rc = 1;

	if (!text) {
		perror(a->text_path);
		return 1;
	}
	if (!w)
		w = QVK_MIN(256u, model->params.seq_len);
	if (w > model->params.seq_len) {
		rc = qvk_tool_usage_error("ppl", "--ctx %u exceeds the model's "
					  "context of %u", w,
					  model->params.seq_len);
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
	fopt.profile = false;
	fopt.max_batch = a->llm.opt.max_batch = w;
	fopt.max_seq = a->llm.opt.max_seq = w;
	st = qvk_llm_create(dev, model, &a->llm.opt, &lq);
	if (st == QVK_OK && ref)
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
	qvk_ppl_print(a, ref, why, lq, &r);
	if (a->llm.opt.profile) {
		fprintf(stderr, "profile of %s (GPU timestamps):\n",
			qvk_llm_describe(lq));
		qvk_llm_print_profile(stderr, lq, "  ");
	}
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
