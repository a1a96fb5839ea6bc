/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: text -> encode -> decode with the real vocabularies,
 * loaded once from $QVK_MODELS (tests/fuzz/run.sh sets it): tok512,
 * the Llama 2 32000-token vocabulary, the GGUF SentencePiece ones
 * (llama-spm, phi-3), and the BPE ones (llama-bpe, qwen2) as soon as the
 * tokenizer accepts them (until then their load error is printed once and
 * they are left out).
 *
 * Input: byte 0 picks the vocabulary, byte 1 bit 0 adds EOS, the rest is
 * the text (any bytes). For SentencePiece vocabularies with byte fallback
 * the round trip must be exact (decode(encode(text)) == text), as
 * check_tokenizer.c states for random strings, unless the text holds a
 * user-defined token (the text after one gets the dummy-prefix space
 * again, as in llama.cpp); a mismatch aborts, so the fuzzer reports it
 * like a crash. Every vocabulary must keep each id in
 * range and within QVK_TOKENIZE_MAX; the input bytes are also decoded as
 * token ids (any value, in range or not).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/model.h>
#include <qvk/tokenizer.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_VOCABS 8

struct fuzz_vocab {
	struct qvk_tokenizer *tok;
	const char *file;
	bool lossless; /* SentencePiece with byte fallback */
	uint32_t n_user;
	uint32_t *user; /* ids of the user-defined tokens */
};

/* Loaded once for the whole run: the state a fuzz target may keep. */
static struct qvk_ctx *fuzz_ctx;
static struct fuzz_vocab fuzz_vocabs[FUZZ_MAX_VOCABS];
static unsigned fuzz_n_vocabs;

static void fuzz_vocab_add(const char *dir, const char *file)
{
	struct fuzz_vocab *v = &fuzz_vocabs[fuzz_n_vocabs];
	struct qvk_gguf_str model = { .ptr = "llama", .len = 5 };
	struct qvk_gguf *g = NULL;
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (qvk_tokenizer_load(fuzz_ctx, path, &v->tok) != QVK_OK) {
		fprintf(stderr, "fuzz_tokenizer: %s left out: %s\n", path,
			qvk_ctx_message(fuzz_ctx));
		return;
	}
	if (strstr(file, ".gguf") &&
	    qvk_gguf_open(fuzz_ctx, path, &g) == QVK_OK &&
	    qvk_gguf_get_str(fuzz_ctx, g, "tokenizer.ggml.model", &model) !=
		    QVK_OK)
		model.len = 0;
	v->lossless = model.len == 5 && !memcmp(model.ptr, "llama", 5);
	qvk_gguf_close(g);
	for (uint32_t id = 0; id < qvk_tokenizer_vocab_size(v->tok); id++)
		if (qvk_tokenizer_type(v->tok, id) == QVK_TOKEN_USER_DEFINED) {
			uint32_t *u = realloc(v->user, (v->n_user + 1) *
							       sizeof(*u));

			if (!u)
				abort();
			v->user = u;
			v->user[v->n_user++] = id;
		}
	v->file = file;
	fprintf(stderr, "fuzz_tokenizer: %s: %u tokens (%u user-defined)%s\n",
		file, qvk_tokenizer_vocab_size(v->tok), v->n_user,
		v->lossless ? ", round trip checked" : "");
	fuzz_n_vocabs++;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const files[] = {
		"tok512.bin", "tokenizer_llama2_32000.bin",
		"ggml-vocab-llama-spm.gguf", "ggml-vocab-phi-3.gguf",
		"ggml-vocab-llama-bpe.gguf", "ggml-vocab-qwen2.gguf",
	};
	const char *dir = getenv("QVK_MODELS");

	(void)argc;
	(void)argv;
	if (!dir || qvk_ctx_create(&fuzz_ctx)) {
		fprintf(stderr, "fuzz_tokenizer: set QVK_MODELS\n");
		abort();
	}
	qvk_ctx_set_log(fuzz_ctx, QVK_LOG_ERROR, NULL, NULL);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		fuzz_vocab_add(dir, files[i]);
	if (!fuzz_n_vocabs)
		abort();
	return 0;
}

/* Does @text hold the piece of a user-defined token of @v? */
static bool fuzz_has_user_token(const struct fuzz_vocab *v, const char *text,
				size_t len)
{
	for (uint32_t i = 0; i < v->n_user; i++) {
		size_t pl;
		const char *p = qvk_tokenizer_piece(v->tok, v->user[i], &pl);

		if (pl && memmem(text, len, p, pl))
			return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct fuzz_vocab *v;
	const char *text = (const char *)data + 2;
	size_t len, n = 0, out_len = 0, max;
	uint32_t vocab, *ids;
	char *out;

	if (size < 2 || size > 4096)
		return 0;
	v = &fuzz_vocabs[data[0] % fuzz_n_vocabs];
	vocab = qvk_tokenizer_vocab_size(v->tok);
	len = size - 2;
	max = QVK_TOKENIZE_MAX(len);
	ids = malloc(max * sizeof(*ids));
	out = malloc(4 * max + 16);
	if (!ids || !out)
		abort();
	if (qvk_tokenizer_encode(v->tok, fuzz_ctx, text, len,
				 QVK_TOKENIZE_BOS |
					 ((data[1] & 1) ? QVK_TOKENIZE_EOS : 0),
				 ids, max, &n) != QVK_OK || n > max || !n) {
		fprintf(stderr, "%s: encode of %zu bytes failed: %s\n", v->file,
			len, qvk_ctx_message(fuzz_ctx));
		abort();
	}
	for (size_t i = 0; i < n; i++)
		if (ids[i] >= vocab)
			abort();
	for (size_t i = 1; i < n; i++) {
		size_t pl;
		const char *p = qvk_tokenizer_decode(v->tok, ids[i - 1], ids[i],
						     &pl);

		if (out_len + pl > 4 * max + 16)
			abort();
		memcpy(out + out_len, p, pl);
		out_len += pl;
	}
	if (v->lossless && (out_len != len || memcmp(out, text, len)) &&
	    !fuzz_has_user_token(v, text, len)) {
		fprintf(stderr, "%s: round trip of %zu bytes gave %zu bytes\n",
			v->file, len, out_len);
		abort();
	}
	/* The input as token ids, in range or not. */
	for (size_t i = 0; i + 4 <= len; i += 4) {
		uint32_t id, prev = ids[0];
		size_t pl;

		memcpy(&id, text + i, 4);
		(void)qvk_tokenizer_decode(v->tok, prev, id, &pl);
		(void)qvk_tokenizer_decode(v->tok, id, id % (vocab + 2), &pl);
		(void)qvk_tokenizer_piece(v->tok, id, &pl);
	}
	free(ids);
	free(out);
	return 0;
}
