/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "llm_setup.h"

const char qvk_llm_args_help[] =
	"  -m MODEL          GGUF (llama, qwen2, qwen3, phi3) or llama2.c\n"
	"                    checkpoint (required)\n"
	"  -t TOKENIZER      llama2.c tokenizer.bin (GGUF files carry their own)\n"
	"  --format F        auto|f32|f16|q8|q4|q4a (default auto: quantized\n"
	"                    tensors as stored, float ones quantized to q8, except\n"
	"                    in files from qvk quantize, which keep them float)\n"
	"  --group G         32|64|128|0 (0: one group per row; default 32)\n"
	"  --keep LIST       GLOB=f16|f32,... keep linear layers in higher\n"
	"                    precision, e.g. output.weight=f16 (a classifier tied\n"
	"                    to the embedding answers to it too) or\n"
	"                    'blk.*.ffn_down.weight=f32'; a GLOB that matches no\n"
	"                    layer gets a warning\n"
	"  --kv-f32          keep the KV cache in fp32 (default fp16)\n"
	"  --act-per-token   int8 activations with one scale per token (default:\n"
	"                    one per 32 values, as llama.cpp's Q8_0 activations;\n"
	"                    what K-quant weights read stays per 32)\n"
	"  --profile         GPU time per kernel kind at the end\n";

int qvk_llm_args_parse(const char *cmd, int argc, char **argv, int *i,
		       struct qvk_llm_args *a)
{
	const char *arg = argv[*i];
	const char *val = *i + 1 < argc ? argv[*i + 1] : NULL;
	uint64_t v;

	if (!strcmp(arg, "--profile")) {
		a->opt.profile = true;
		return 1;
	}
	if (!strcmp(arg, "--kv-f32")) {
		a->opt.kv_f32 = true;
		return 1;
	}
	if (!strcmp(arg, "--act-per-token")) {
		a->opt.act_per_token = true;
		return 1;
	}
	if (strcmp(arg, "-m") && strcmp(arg, "-t") && strcmp(arg, "--format") &&
	    strcmp(arg, "--group") && strcmp(arg, "--keep"))
		return 0;
	if (!val) {
		qvk_tool_usage_error(cmd, "%s needs a value", arg);
		return -1;
	}
	++*i;
	if (!strcmp(arg, "-m")) {
		a->model_path = val;
	} else if (!strcmp(arg, "-t")) {
		a->tokenizer_path = val;
	} else if (!strcmp(arg, "--format")) {
		if (!qvk_weight_format_parse(val, &a->opt.format)) {
			qvk_tool_usage_error(cmd, "--format '%s': use auto, f32, "
					     "f16, q8, q4 or q4a", val);
			return -1;
		}
	} else if (!strcmp(arg, "--group")) {
		if (!qvk_tool_parse_u64(cmd, arg, val, 0, 128, &v))
			return -1;
		if (!qvk_group_valid((uint32_t)v)) {
			qvk_tool_usage_error(cmd, "--group %s: use "
					     QVK_GROUPS_TEXT, val);
			return -1;
		}
		a->opt.group = (uint32_t)v;
		a->group_set = true;
	} else {
		if (!qvk_tool_keep_ok(cmd, val))
			return -1;
		a->opt.keep = val;
	}
	return 1;
}

bool qvk_llm_open_model(const char *cmd, struct qvk_ctx *ctx,
			const struct qvk_llm_args *a, struct qvk_model **model,
			struct qvk_tokenizer **tok)
{
	qvk_status st;

	*model = NULL;
	*tok = NULL;
	if (!a->model_path) {
		qvk_tool_usage_error(cmd, "-m MODEL is required");
		return false;
	}
	st = qvk_model_load(ctx, a->model_path, model);
	if (st != QVK_OK) {
		qvk_tool_fail(ctx, st, cmd, a->model_path);
		return false;
	}
	if (a->tokenizer_path)
		st = qvk_tokenizer_load(ctx, a->tokenizer_path, tok);
	else if ((*model)->gguf)
		st = qvk_tokenizer_from_gguf(ctx, (*model)->gguf, tok);
	else {
		qvk_tool_usage_error(cmd, "%s is a llama2.c checkpoint: give "
				     "its tokenizer with -t", a->model_path);
		goto out_model;
	}
	if (st != QVK_OK) {
		qvk_tool_fail(ctx, st, cmd, a->tokenizer_path ?
						    a->tokenizer_path :
						    "tokenizer in the GGUF file");
		goto out_model;
	}
	if (qvk_tokenizer_vocab_size(*tok) != (*model)->params.vocab_size) {
		fprintf(stderr, "qvk %s: the tokenizer has %u tokens but the "
				"model %u\n", cmd, qvk_tokenizer_vocab_size(*tok),
			(*model)->params.vocab_size);
		qvk_tokenizer_destroy(*tok);
		*tok = NULL;
		goto out_model;
	}
	return true;

out_model:
	qvk_model_destroy(*model);
	*model = NULL;
	return false;
}

const struct qvk_host_tensor *qvk_llm_first_quantized(
	const struct qvk_model *model)
{
	for (uint32_t i = 0; i < qvk_model_tensor_count(model); i++) {
		const struct qvk_host_tensor *t = qvk_model_tensor_at(model, i);
		const struct qvk_type_info *info = qvk_type_info(t->type);

		if (info && info->quantized)
			return t;
	}
	return NULL;
}

void qvk_llm_print_profile(FILE *f, const struct qvk_llm *llm,
			   const char *indent)
{
	struct qvk_llm_profile_entry e[16];
	uint32_t n = qvk_llm_profile(llm, e, 16);
	double total = 0;

	for (uint32_t i = 0; i < n; i++)
		total += e[i].ms;
	for (uint32_t i = 0; i < n; i++)
		fprintf(f, "%s%-12s %10.2f ms  %5.1f%%  %8llu dispatches\n",
			indent, e[i].kind, e[i].ms,
			total > 0 ? 100 * e[i].ms / total : 0,
			(unsigned long long)e[i].dispatches);
}
