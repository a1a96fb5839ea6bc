/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: GGUF bytes -> reader -> llama model -> tokenizer ->
 * one reference step when a model comes out. Nothing may crash, hang or
 * read outside the input. Build and run: tests/fuzz/README.md.
 * With -DQVK_FUZZ_SEED it is instead a program that writes a tiny valid
 * model (with tokenizer) as the first corpus entry.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <qvk/model.h>
#include <qvk/tokenizer.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qvk_ctx *ctx;
	struct qvk_gguf *g;
	struct qvk_tokenizer *tok = NULL;
	struct qvk_model *m = NULL;

	if (qvk_ctx_create(&ctx))
		return 0;
	qvk_ctx_set_log(ctx, QVK_LOG_ERROR, NULL, NULL);
	if (qvk_gguf_open_memory(ctx, data, size, &g) == QVK_OK) {
		if (qvk_tokenizer_from_gguf(ctx, g, &tok) == QVK_OK) {
			uint32_t ids[64];
			size_t n;

			if (qvk_tokenizer_encode(tok, ctx, "Hello world", 11,
						 QVK_TOKENIZE_BOS, ids, 64,
						 &n) == QVK_OK) {
				for (size_t i = 1; i < n; i++) {
					size_t len;

					qvk_tokenizer_decode(tok, ids[i - 1],
							     ids[i], &len);
				}
			}
			qvk_tokenizer_destroy(tok);
		}
		/* the model takes g over, also on failure */
		if (qvk_model_from_gguf(ctx, g, &m) == QVK_OK) {
			const struct qvk_model_params *hp = &m->params;
			struct qvk_reference *ref;
			const float *logits;

			/* keep a step cheap: tiny models only */
			if ((uint64_t)hp->dim * hp->hidden_dim * hp->n_layers <
				    (1u << 16) &&
			    (uint64_t)hp->vocab_size * hp->dim < (1u << 16) &&
			    hp->seq_len < 4096 &&
			    qvk_reference_create(ctx, m, &ref) == QVK_OK) {
				if (qvk_reference_forward(ref, 0, 0, &logits))
					logits = NULL;
				qvk_reference_destroy(ref);
			}
			qvk_model_destroy(m);
		}
	}
	qvk_ctx_destroy(ctx);
	return 0;
}

#ifdef QVK_FUZZ_SEED
#include <stdio.h>

/* A tiny valid llama model: dim 8, hidden 16, 1 layer, 2 heads, 1 kv head. */
int main(int argc, char **argv);
int main(int argc, char **argv)
{
	static float w[8 * 8 + 3 * 8 + 8 * 8 + 2 * 4 * 8 + 8 * 8 + 3 * 16 * 8];
	static const char *const toks[8] = { "<unk>", "<s>", "</s>", "<0x41>",
		"\xe2\x96\x81", "H", "e", "\xe2\x96\x81H" };
	static const uint64_t lens[8] = { 5, 3, 4, 6, 3, 1, 1, 4 };
	static const float scores[8] = { 0, 0, 0, 0, -1, -2, -3, -0.5f };
	static const int32_t types[8] = { 2, 3, 3, 6, 1, 1, 1, 1 };
	struct qvk_layer_weights layer;
	struct qvk_model m = { .format = QVK_MODEL_GGUF, .layers = &layer };
	struct qvk_gguf_writer *wr;
	struct qvk_ctx *ctx;
	float *p = w;
	uint32_t seed = 1;

	if (argc != 2 || qvk_ctx_create(&ctx))
		return 2;
	for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
		seed = seed * 1664525u + 1013904223u;
		w[i] = (float)(seed >> 8) / (float)(1u << 24) - 0.5f;
	}
	m.params = (struct qvk_model_params){ 8, 16, 1, 2, 1, 4, 8, 8, 10000.0f,
					      1.0f, 1e-5f, true };
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
	T(m.tok_embd, "token_embd.weight", 8, 8);
	T(layer.attn_norm, "blk.0.attn_norm.weight", 0, 8);
	T(m.output_norm, "output_norm.weight", 0, 8);
	T(layer.wq, "blk.0.attn_q.weight", 8, 8);
	T(layer.wk, "blk.0.attn_k.weight", 4, 8);
	T(layer.wv, "blk.0.attn_v.weight", 4, 8);
	T(layer.wo, "blk.0.attn_output.weight", 8, 8);
	T(layer.ffn_norm, "blk.0.ffn_norm.weight", 0, 8);
	T(layer.w1, "blk.0.ffn_gate.weight", 16, 8);
	T(layer.w2, "blk.0.ffn_down.weight", 8, 16);
	T(layer.w3, "blk.0.ffn_up.weight", 16, 8);
#undef T
	m.output = m.tok_embd;
	if (qvk_gguf_writer_create(ctx, &wr) || qvk_model_to_gguf(&m, wr) ||
	    qvk_gguf_writer_set_str(wr, "tokenizer.ggml.model", "llama") ||
	    qvk_gguf_writer_set_str_array(wr, "tokenizer.ggml.tokens", toks,
					  lens, 8) ||
	    qvk_gguf_writer_set_array(wr, "tokenizer.ggml.scores",
				      QVK_GGUF_FLOAT32, scores, 8) ||
	    qvk_gguf_writer_set_array(wr, "tokenizer.ggml.token_type",
				      QVK_GGUF_INT32, types, 8) ||
	    qvk_gguf_writer_write(wr, argv[1])) {
		fprintf(stderr, "seed: %s\n", qvk_ctx_message(ctx));
		return 1;
	}
	qvk_gguf_writer_destroy(wr);
	qvk_ctx_destroy(ctx);
	return 0;
}
#endif
