/* SPDX-License-Identifier: MIT */
/*
 * What qvk run, qvk ppl and qvk quantize share: the model, tokenizer and
 * weight-format options, and opening them in order with clear errors.
 */
#ifndef QVK_TOOLS_LLM_SETUP_H
#define QVK_TOOLS_LLM_SETUP_H

#include <stdio.h>

#include <qvk/llm.h>
#include <qvk/model.h>
#include <qvk/tokenizer.h>

#include "tool.h"

struct qvk_llm_args {
	const char *model_path;
	const char *tokenizer_path;
	struct qvk_llm_options opt;
	bool group_set;
};

/*
 * Consume one model option at argv[*i] (-m, -t, --format, --group, --keep,
 * --kv-f32, --act-per-token, --profile); returns 1 if taken, 0 if not a
 * model option, -1 on a bad value (already reported).
 */
int qvk_llm_args_parse(const char *cmd, int argc, char **argv, int *i,
		       struct qvk_llm_args *a);

/* The option lines for --help. */
extern const char qvk_llm_args_help[];

/* Model and tokenizer (from -t, else the GGUF's own); prints errors. */
bool qvk_llm_open_model(const char *cmd, struct qvk_ctx *ctx,
			const struct qvk_llm_args *a, struct qvk_model **model,
			struct qvk_tokenizer **tok);

/*
 * The first tensor of @model stored in a quantized type (the type table's
 * "quantized": not F32, F16 or BF16), or NULL when every weight is float.
 */
const struct qvk_host_tensor *qvk_llm_first_quantized(
	const struct qvk_model *model);

/* GPU time per kernel kind with its share, one line each after @indent. */
void qvk_llm_print_profile(FILE *f, const struct qvk_llm *llm,
			   const char *indent);

#endif
