/* SPDX-License-Identifier: MIT */
/*
 * Seeds for the GGUF fuzz corpus: `fuzz_seeds DIR [MODEL TOKENIZER]` writes
 * a tiny valid llama model (dim 32, hidden 64, one layer, grouped-query,
 * an 8-token SentencePiece vocabulary) in every tensor type qvk reads:
 * F32, F16, GGUF Q8_0/Q4_0/Q4_1 (group 32) and qvk's own types (q8/q4/q4a at
 * groups 64, 128 and per row), so that every payload check starts from a
 * valid file. With MODEL and TOKENIZER (the real stories260K), also that
 * model as q4a at group 64: real weights, padded rows (hidden 172).
 *
 * `fuzz_seeds --chat DIR GGUF...` writes instead the tokenizer.chat_template
 * of each GGUF, followed by a short conversation, for fuzz_chat.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stdbool.h>

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

/*
 * The tiny model as a llama2.c checkpoint and tokenizer (@model, @tok),
 * the simplest formats to write by hand; loaded, they are converted.
 */
static int seed_tiny_llama2c(const char *model, const char *tok)
{
	static const char *const pieces[VOCAB] = { "<unk>", "<s>", "</s>",
		"<0x41>", " ", "H", "e", " H" };
	static const float scores[VOCAB] = { 0, 0, 0, 0, -1, -2, -3, -0.5f };
	/* dim, hidden, layers, heads, kv heads, vocab (> 0: shared), seq */
	const int32_t hdr[7] = { DIM, HIDDEN, 1, 2, 1, VOCAB, 16 };
	size_t floats = VOCAB * DIM + DIM + DIM * DIM + 2 * KV * DIM +
			DIM * DIM + DIM + 3 * HIDDEN * DIM + DIM +
			16 * (DIM / 2 / 2) * 2; /* freq_cis real, imag */
	uint32_t seed = 1;
	int32_t max_len = 8;
	FILE *f = fopen(model, "wb");
	bool ok = f && fwrite(hdr, sizeof(hdr), 1, f) == 1;

	for (size_t i = 0; ok && i < floats; i++) {
		float w;

		seed = seed * 1664525u + 1013904223u;
		w = (float)(seed >> 8) / (float)(1u << 24) - 0.5f;
		ok = fwrite(&w, sizeof(w), 1, f) == 1;
	}
	if (f && fclose(f))
		ok = false;
	f = ok ? fopen(tok, "wb") : NULL;
	ok = f && fwrite(&max_len, sizeof(max_len), 1, f) == 1;
	for (int i = 0; ok && i < VOCAB; i++) {
		int32_t len = (int32_t)strlen(pieces[i]);

		ok = fwrite(&scores[i], sizeof(float), 1, f) == 1 &&
		     fwrite(&len, sizeof(len), 1, f) == 1 &&
		     fwrite(pieces[i], 1, (size_t)len, f) == (size_t)len;
	}
	if (f && fclose(f))
		ok = false;
	if (!ok)
		fprintf(stderr, "fuzz_seeds: cannot write %s / %s\n", model, tok);
	return ok ? 0 : 1;
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

/* A chat seed: the template text, then NUL-separated role/content pairs. */
static int seed_chat(struct qvk_ctx *ctx, const char *dir, const char *gguf)
{
	static const char talk[] = "\0system\0You are kind.\0user\0Hello!"
				   "\0assistant\0Hi. \0user\0 And now?";
	const char *base = strrchr(gguf, '/') ? strrchr(gguf, '/') + 1 : gguf;
	struct qvk_gguf_str tpl;
	struct qvk_gguf *g;
	char path[4096];
	FILE *f;
	int rc = 0;

	if (qvk_gguf_open(ctx, gguf, &g))
		return seed_fail(ctx, gguf);
	if (qvk_gguf_get_str(ctx, g, "tokenizer.chat_template", &tpl) == QVK_OK) {
		snprintf(path, sizeof(path), "%s/%s.chat", dir, base);
		f = fopen(path, "wb");
		if (!f || fwrite(tpl.ptr, 1, tpl.len, f) != tpl.len ||
		    fwrite(talk, 1, sizeof(talk) - 1, f) != sizeof(talk) - 1)
			rc = 1;
		if (f && fclose(f))
			rc = 1;
	}
	qvk_gguf_close(g);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct {
		enum qvk_weight_format format;
		uint32_t group;
		const char *name;
	} variants[] = {
		{ QVK_WEIGHTS_F32, 32, "f32" },
		{ QVK_WEIGHTS_F16, 32, "f16" },
		{ QVK_WEIGHTS_Q8, 32, "q8_0" },   /* GGUF Q8_0 */
		{ QVK_WEIGHTS_Q4, 32, "q4_0" },   /* GGUF Q4_0 */
		{ QVK_WEIGHTS_Q4A, 32, "q4_1" },  /* GGUF Q4_1 */
		{ QVK_WEIGHTS_Q8, 64, "qvk-q8-g64" },
		{ QVK_WEIGHTS_Q4, 128, "qvk-q4-g128" },
		{ QVK_WEIGHTS_Q4A, QVK_GROUP_ROW, "qvk-q4a-row" },
		{ QVK_WEIGHTS_Q8, QVK_GROUP_ROW, "qvk-q8-row" },
	};
	char path[4096], tiny[4096], tiny_tok[4096];
	struct qvk_tokenizer *tok = NULL;
	struct qvk_model *model = NULL;
	struct qvk_ctx *ctx;
	int rc = 1;

	if (argc >= 3 && !strcmp(argv[1], "--chat")) {
		if (qvk_ctx_create(&ctx))
			return 2;
		for (int i = 3; i < argc; i++)
			if (seed_chat(ctx, argv[2], argv[i]))
				goto out;
		rc = 0;
		goto out;
	}
	if ((argc != 2 && argc != 4) || qvk_ctx_create(&ctx)) {
		fprintf(stderr, "usage: fuzz_seeds DIR [MODEL TOKENIZER] | "
			"--chat DIR GGUF...\n");
		return 2;
	}
	/* Outside DIR: only GGUF files are corpus entries. */
	snprintf(tiny, sizeof(tiny), "%s.tiny.bin", argv[1]);
	snprintf(tiny_tok, sizeof(tiny_tok), "%s.tiny-tok.bin", argv[1]);
	if (seed_tiny_llama2c(tiny, tiny_tok))
		goto out;
	if (qvk_model_load(ctx, tiny, &model) ||
	    qvk_tokenizer_load(ctx, tiny_tok, &tok)) {
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
	remove(tiny);
	remove(tiny_tok);
	qvk_tokenizer_destroy(tok);
	qvk_model_destroy(model);
	qvk_ctx_destroy(ctx);
	return rc;
}
