/* SPDX-License-Identifier: MIT */
/*
 * Seeds for the GGUF fuzz corpus: `fuzz_seeds DIR [MODEL TOKENIZER]` writes
 * a tiny valid llama model (dim 32, hidden 64, one layer, grouped-query,
 * an 8-token SentencePiece vocabulary) in every tensor type qvk reads:
 * F32, F16, GGUF Q8_0/Q4_0/Q4_1 (group 32) and qvk's own types (q8/q4/q4a at
 * groups 64, 128 and per row), so that every payload check starts from a
 * valid file. With MODEL and TOKENIZER (the real stories260K), also that
 * model as q4a at group 64: real weights, padded rows (hidden 172).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/quantize.h>

int main(int argc, char **argv);

#define DIM 32
#define HIDDEN 64
#define VOCAB 8
#define KV (DIM / 2) /* one kv head of two */

static int seed_fail(struct qvk_ctx *ctx, const char *what)
{
	fprintf(stderr, "fuzz_seeds: %s: %s\n", what, qvk_ctx_message(ctx));
	return 1;
}

/* The f32 model with its tokenizer. */
static int seed_tiny_f32(struct qvk_ctx *ctx, const char *path)
{
	static float w[VOCAB * DIM + 3 * DIM + DIM * DIM + 2 * KV * DIM +
		       DIM * DIM + 3 * HIDDEN * DIM];
	static const char *const toks[VOCAB] = { "<unk>", "<s>", "</s>",
		"<0x41>", "\xe2\x96\x81", "H", "e", "\xe2\x96\x81H" };
	static const uint64_t lens[VOCAB] = { 5, 3, 4, 6, 3, 1, 1, 4 };
	static const float scores[VOCAB] = { 0, 0, 0, 0, -1, -2, -3, -0.5f };
	static const int32_t types[VOCAB] = { 2, 3, 3, 6, 1, 1, 1, 1 };
	struct qvk_layer_weights layer;
	struct qvk_model m = { .format = QVK_MODEL_GGUF, .layers = &layer };
	struct qvk_gguf_writer *wr;
	float *p = w;
	uint32_t seed = 1;
	qvk_status st;

	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		seed = seed * 1664525u + 1013904223u;
		w[i] = (float)(seed >> 8) / (float)(1u << 24) - 0.5f;
	}
	m.params = (struct qvk_model_params){ DIM, HIDDEN, 1, 2, 1, DIM / 2,
					      VOCAB, 16, 10000.0f, 1.0f, 1e-5f,
					      true };
#define T(t, nm, rows, cols)                                                   \
	do {                                                                   \
		snprintf((t).name, sizeof((t).name), "%s", nm);                \
		(t).type = QVK_GGML_TYPE_F32;                                  \
		(t).n_dims = (rows) ? 2 : 1;                                   \
		(t).ne[0] = cols;                                              \
		(t).ne[1] = (rows) ? (rows) : 1;                               \
		(t).ne[2] = (t).ne[3] = 1;                                     \
		(t).data = p;                                                  \
		(t).size_bytes = (t).ne[0] * (t).ne[1] * 4;                    \
		p += (t).ne[0] * (t).ne[1];                                    \
	} while (0)
	T(m.tok_embd, "token_embd.weight", VOCAB, DIM);
	T(layer.attn_norm, "blk.0.attn_norm.weight", 0, DIM);
	T(m.output_norm, "output_norm.weight", 0, DIM);
	T(layer.wq, "blk.0.attn_q.weight", DIM, DIM);
	T(layer.wk, "blk.0.attn_k.weight", KV, DIM);
	T(layer.wv, "blk.0.attn_v.weight", KV, DIM);
	T(layer.wo, "blk.0.attn_output.weight", DIM, DIM);
	T(layer.ffn_norm, "blk.0.ffn_norm.weight", 0, DIM);
	T(layer.w1, "blk.0.ffn_gate.weight", HIDDEN, DIM);
	T(layer.w2, "blk.0.ffn_down.weight", DIM, HIDDEN);
	T(layer.w3, "blk.0.ffn_up.weight", HIDDEN, DIM);
#undef T
	m.output = m.tok_embd;
	st = qvk_gguf_writer_create(ctx, &wr);
	if (st == QVK_OK)
		st = qvk_model_to_gguf(&m, wr);
	if (st == QVK_OK)
		st = qvk_gguf_writer_set_str(wr, "tokenizer.ggml.model", "llama");
	if (st == QVK_OK)
		st = qvk_gguf_writer_set_str_array(wr, "tokenizer.ggml.tokens",
						   toks, lens, VOCAB);
	if (st == QVK_OK)
		st = qvk_gguf_writer_set_array(wr, "tokenizer.ggml.scores",
					       QVK_GGUF_FLOAT32, scores, VOCAB);
	if (st == QVK_OK)
		st = qvk_gguf_writer_set_array(wr, "tokenizer.ggml.token_type",
					       QVK_GGUF_INT32, types, VOCAB);
	if (st == QVK_OK)
		st = qvk_gguf_writer_write(wr, path);
	qvk_gguf_writer_destroy(wr);
	return st == QVK_OK ? 0 : seed_fail(ctx, path);
}

/* @model (with @tok) quantized as @format at @group into @path. */
static int seed_quantized(struct qvk_ctx *ctx, const struct qvk_model *model,
			  const struct qvk_tokenizer *tok,
			  enum qvk_weight_format format, uint32_t group,
			  const char *path)
{
	struct qvk_quantize_options opt = { .format = format, .group = group };
	struct qvk_quantized *q;
	qvk_status st = qvk_quantize_model(ctx, model, &opt, &q);

	if (st == QVK_OK) {
		st = qvk_quantized_write(ctx, q, tok, path);
		qvk_quantized_destroy(q);
	}
	return st == QVK_OK ? 0 : seed_fail(ctx, path);
}

int main(int argc, char **argv)
{
	static const struct {
		enum qvk_weight_format format;
		uint32_t group;
		const char *name;
	} variants[] = {
		{ QVK_WEIGHTS_F16, 32, "f16" },
		{ QVK_WEIGHTS_Q8, 32, "q8_0" },   /* GGUF Q8_0 */
		{ QVK_WEIGHTS_Q4, 32, "q4_0" },   /* GGUF Q4_0 */
		{ QVK_WEIGHTS_Q4A, 32, "q4_1" },  /* GGUF Q4_1 */
		{ QVK_WEIGHTS_Q8, 64, "qvk-q8-g64" },
		{ QVK_WEIGHTS_Q4, 128, "qvk-q4-g128" },
		{ QVK_WEIGHTS_Q4A, QVK_GROUP_ROW, "qvk-q4a-row" },
		{ QVK_WEIGHTS_Q8, QVK_GROUP_ROW, "qvk-q8-row" },
	};
	char path[4096], tiny[4096];
	struct qvk_tokenizer *tok = NULL;
	struct qvk_model *model = NULL;
	struct qvk_ctx *ctx;
	int rc = 1;

	if ((argc != 2 && argc != 4) || qvk_ctx_create(&ctx)) {
		fprintf(stderr, "usage: fuzz_seeds DIR [MODEL TOKENIZER]\n");
		return 2;
	}
	snprintf(tiny, sizeof(tiny), "%s/tiny-f32.gguf", argv[1]);
	if (seed_tiny_f32(ctx, tiny))
		goto out;
	if (qvk_model_load(ctx, tiny, &model) ||
	    qvk_tokenizer_load(ctx, tiny, &tok)) {
		rc = seed_fail(ctx, tiny);
		goto out;
	}
	for (size_t i = 0; i < sizeof(variants) / sizeof(variants[0]); i++) {
		snprintf(path, sizeof(path), "%s/tiny-%s.gguf", argv[1],
			 variants[i].name);
		if (seed_quantized(ctx, model, tok, variants[i].format,
				   variants[i].group, path))
			goto out;
	}
	qvk_tokenizer_destroy(tok);
	qvk_model_destroy(model);
	tok = NULL;
	model = NULL;
	if (argc == 4) {
		snprintf(path, sizeof(path), "%s/stories260K-q4a-g64.gguf", argv[1]);
		if (qvk_model_load(ctx, argv[2], &model) ||
		    qvk_tokenizer_load(ctx, argv[3], &tok)) {
			rc = seed_fail(ctx, argv[2]);
			goto out;
		}
		if (seed_quantized(ctx, model, tok, QVK_WEIGHTS_Q4A, 64, path))
			goto out;
	}
	rc = 0;
out:
	qvk_tokenizer_destroy(tok);
	qvk_model_destroy(model);
	qvk_ctx_destroy(ctx);
	return rc;
}
