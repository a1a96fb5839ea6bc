/* SPDX-License-Identifier: MIT */
/*
 * qvk quantize --sensitivity / --target-bpw / --target-size: the
 * per-tensor sensitivity table and the mixed-precision choice it drives
 * (runtime/quantize/sensitivity.c), for tools/cmd_quantize.c.
 */
#ifndef QVK_TOOLS_QUANTIZE_MIX_H
#define QVK_TOOLS_QUANTIZE_MIX_H

#include <stdbool.h>
#include <stdint.h>

#include <qvk/quantize.h>

struct qvk_mix_args {
	const char *text;    /* --sensitivity TEXT, or NULL */
	const char *json;    /* --sensitivity-json FILE, or NULL */
	uint64_t tokens;     /* --sensitivity-tokens (scored; as many held out) */
	double target_bpw;   /* 0: none */
	uint64_t target_size; /* bytes of the quantized matrices; 0: none */
};

struct qvk_mix {
	uint32_t *tokens;    /* the text, tokenized */
	size_t n_tokens;     /* scored: [0, n); held out: [n, 2n) */
	size_t n_held;
	struct qvk_sensitivity *s;
	struct qvk_tensor_type *types; /* the choice, into the options */
	uint64_t elems, bytes;         /* of the chosen matrices */
};

/*
 * Measure and print the table (and write the JSON); with a target, set
 * opt->tensor_types to the choice. false after a message.
 */
bool qvk_mix_prepare(struct qvk_ctx *ctx, const struct qvk_model *model,
		     const struct qvk_tokenizer *tok,
		     struct qvk_quantize_options *opt,
		     const struct qvk_mix_args *a, struct qvk_mix *mix);
/* The written file's measured KL and perplexity on the held-out tokens. */
bool qvk_mix_report(struct qvk_ctx *ctx, const struct qvk_model *model,
		    const char *path, const struct qvk_quantize_options *opt,
		    const struct qvk_mix *mix);
void qvk_mix_free(struct qvk_mix *mix);

#endif
