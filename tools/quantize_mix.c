/* SPDX-License-Identifier: MIT */
/*
 * The sensitivity table of qvk quantize: every quantized matrix against
 * the candidate types q8 g32 (Q8_0), q4a g32 (Q4_1), q4 g32 (Q4_0),
 * q4 g64 and q4 g128, each alone in an otherwise F32 model, scored by
 * KL on the first N tokens of the text; the next N tokens are held out to
 * score the file finally written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "quantize_mix.h"
#include "tool.h"

static void qvk_mix_candidates(uint32_t *t)
{
	t[0] = QVK_GGML_TYPE_Q8_0;
	t[1] = QVK_GGML_TYPE_Q4_1;
	t[2] = QVK_GGML_TYPE_Q4_0;
	t[3] = qvk_ggml_type_qvk(QVK_QFORMAT_Q4, 64);
	t[4] = qvk_ggml_type_qvk(QVK_QFORMAT_Q4, 128);
}
#define QVK_MIX_TYPES 5u

static bool qvk_mix_tokenize(struct qvk_ctx *ctx, const struct qvk_tokenizer *tok,
			     const struct qvk_mix_args *a, struct qvk_mix *mix)
{
	size_t len = 0, n = 0;
	char *text = qvk_tool_read_file(a->text, &len);
	qvk_status st;

	if (!text) {
		perror(a->text);
		return false;
	}
	mix->tokens = malloc(QVK_TOKENIZE_MAX(len) * sizeof(*mix->tokens));
	st = mix->tokens ? qvk_tokenizer_encode(tok, ctx, text, len, 0,
						mix->tokens,
						QVK_TOKENIZE_MAX(len), &n) :
			   QVK_ERR_NO_MEMORY;
	free(text);
	if (st != QVK_OK) {
		qvk_tool_fail(ctx, st, "quantize", a->text);
		return false;
	}
	if (n < 2 * a->tokens) {
		fprintf(stderr, "qvk quantize: --sensitivity %s holds %zu tokens; "
			"%llu are scored and as many held out (lower "
			"--sensitivity-tokens)\n", a->text, n,
			(unsigned long long)a->tokens);
		return false;
	}
	mix->n_tokens = (size_t)a->tokens;
	mix->n_held = (size_t)a->tokens;
	return true;
}

static void qvk_mix_print(const struct qvk_sensitivity *s, FILE *f)
{
	char label[QVK_TYPE_LABEL_MAX];

	fprintf(f, "sensitivity: KL (nats/token, %llu tokens) with only this "
		"tensor quantized\n%-28s", (unsigned long long)s->tokens, "tensor");
	for (uint32_t c = 0; c < s->n_types; c++)
		fprintf(f, " %11s", qvk_type_label(s->types[c], label));
	fputc('\n', f);
	for (uint32_t i = 0; i < s->n_tensors; i++) {
		fprintf(f, "%-28s", s->names[i]);
		for (uint32_t c = 0; c < s->n_types; c++)
			fprintf(f, " %11.6f", s->kl[(size_t)i * s->n_types + c]);
		fputc('\n', f);
	}
}

static bool qvk_mix_json(const struct qvk_sensitivity *s, const char *path)
{
	FILE *f = fopen(path, "w");
	char label[QVK_TYPE_LABEL_MAX];

	if (!f) {
		perror(path);
		return false;
	}
	fprintf(f, "{\"tokens\": %llu, \"types\": [",
		(unsigned long long)s->tokens);
	for (uint32_t c = 0; c < s->n_types; c++) {
		fputs(c ? ", " : "", f);
		qvk_json_str(f, qvk_type_label(s->types[c], label));
	}
	fputs("], \"tensors\": [", f);
	for (uint32_t i = 0; i < s->n_tensors; i++) {
		fprintf(f, "%s\n  {\"name\": ", i ? "," : "");
		qvk_json_str(f, s->names[i]);
		fprintf(f, ", \"elements\": %llu, \"bytes\": [",
			(unsigned long long)s->elems[i]);
		for (uint32_t c = 0; c < s->n_types; c++)
			fprintf(f, "%s%llu", c ? ", " : "",
				(unsigned long long)s->bytes[(size_t)i * s->n_types + c]);
		fputs("], \"kl\": [", f);
		for (uint32_t c = 0; c < s->n_types; c++) {
			fputs(c ? ", " : "", f);
			qvk_json_num(f, s->kl[(size_t)i * s->n_types + c], 6);
		}
		fputs("]}", f);
	}
	fputs("\n]}\n", f);
	if (fclose(f) != 0) {
		perror(path);
		return false;
	}
	return true;
}

bool qvk_mix_prepare(struct qvk_ctx *ctx, const struct qvk_model *model,
		     const struct qvk_tokenizer *tok,
		     struct qvk_quantize_options *opt,
		     const struct qvk_mix_args *a, struct qvk_mix *mix)
{
	uint32_t types[QVK_MIX_TYPES], window = QVK_MIN(256u, model->params.seq_len);
	uint32_t *choice = NULL;
	uint64_t budget = 0, total = 0;
	qvk_status st;
	bool ok = false;

	memset(mix, 0, sizeof(*mix));
	if (!qvk_mix_tokenize(ctx, tok, a, mix))
		return false;
	opt->bos = qvk_tokenizer_bos(tok);
	qvk_mix_candidates(types);
	st = qvk_sensitivity_measure(ctx, model, opt, types, QVK_MIX_TYPES,
				     mix->tokens, mix->n_tokens, window, &mix->s);
	if (st != QVK_OK) {
		qvk_tool_fail(ctx, st, "quantize", "sensitivity");
		return false;
	}
	qvk_mix_print(mix->s, stdout);
	if (a->json && !qvk_mix_json(mix->s, a->json))
		return false;
	if (!a->target_bpw && !a->target_size)
		return true;
	for (uint32_t i = 0; i < mix->s->n_tensors; i++)
		total += mix->s->elems[i];
	budget = a->target_size ? a->target_size :
				  (uint64_t)(a->target_bpw * (double)total / 8);
	choice = calloc(mix->s->n_tensors, sizeof(*choice));
	mix->types = calloc(mix->s->n_tensors, sizeof(*mix->types));
	if (!choice || !mix->types) {
		fprintf(stderr, "qvk quantize: out of memory\n");
		goto out;
	}
	st = qvk_sensitivity_choose(ctx, mix->s, budget, choice, &mix->bytes);
	if (st != QVK_OK) {
		qvk_tool_fail(ctx, st, "quantize", "--target-bpw/--target-size");
		goto out;
	}
	for (uint32_t i = 0; i < mix->s->n_tensors; i++) {
		mix->types[i].name = mix->s->names[i];
		mix->types[i].type = mix->s->types[choice[i]];
	}
	mix->elems = total;
	opt->tensor_types = mix->types;
	opt->n_tensor_types = mix->s->n_tensors;
	ok = true;
out:
	free(choice);
	return ok;
}

bool qvk_mix_report(struct qvk_ctx *ctx, const struct qvk_model *model,
		    const char *path, const struct qvk_quantize_options *opt,
		    const struct qvk_mix *mix)
{
	char label[QVK_TYPE_LABEL_MAX];
	struct qvk_model *q = NULL;
	double kl = 0, ppl = 0;
	qvk_status st;

	if (!mix->types)
		return true;
	printf("mix:");
	for (uint32_t c = 0; c < mix->s->n_types; c++) {
		uint32_t n = 0;

		for (uint32_t i = 0; i < mix->s->n_tensors; i++)
			n += mix->types[i].type == mix->s->types[c];
		if (n)
			printf(" %u x %s", n, qvk_type_label(mix->s->types[c],
							     label));
	}
	printf("; %.3f bits per weight over the %u matrices (%llu bytes)\n",
	       8.0 * (double)mix->bytes / (double)mix->elems,
	       mix->s->n_tensors, (unsigned long long)mix->bytes);
	st = qvk_model_load(ctx, path, &q);
	if (st == QVK_OK)
		st = qvk_ref_kl(ctx, model, q, mix->tokens + mix->n_tokens,
				mix->n_held, QVK_MIN(256u, model->params.seq_len),
				opt->bos, &kl, &ppl);
	qvk_model_destroy(q);
	if (st != QVK_OK) {
		qvk_tool_fail(ctx, st, "quantize", path);
		return false;
	}
	printf("measured on %zu held-out tokens: KL %.5f nats/token, "
	       "perplexity %.4f\n", mix->n_held, kl, ppl);
	return true;
}

void qvk_mix_free(struct qvk_mix *mix)
{
	qvk_sensitivity_destroy(mix->s);
	free(mix->types);
	free(mix->tokens);
}
