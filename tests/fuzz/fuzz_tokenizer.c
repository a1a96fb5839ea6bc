/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: text -> encode -> decode with the real vocabularies,
 * loaded once from $QVK_MODELS (tests/fuzz/run.sh sets it): SentencePiece
 * (tok512, the Llama 2 32000-token vocabulary, the llama-spm and phi-3
 * GGUFs) and BPE (the llama-bpe and qwen2 GGUFs). A vocabulary that does
 * not load is left out with its error printed once.
 *
 * Input: byte 0 picks the vocabulary, byte 1 bit 0 adds EOS, the rest is
 * the text (any bytes). The round trip decode(encode(text)) must give the
 * text back exactly, as check_tokenizer.c states for random strings:
 *   - for the llama2.c vocabularies, whatever the bytes (byte fallback);
 *   - for the GGUF ones, when the text is valid UTF-8 without U+2581:
 *     SentencePiece GGUF vocabularies escape spaces to U+2581 and decode
 *     it back to a space, so a U+2581 of the text comes back as a space
 *     and an invalid lead byte before a space swallows part of the escape
 *     (both as in llama.cpp), and BPE replaces invalid UTF-8 by U+FFFD
 *     (as llama.cpp does);
 *   - unless the text holds a user-defined token: the text after one gets
 *     the dummy-prefix space again, as in llama.cpp.
 * A mismatch aborts, so the fuzzer reports it like a crash. Every
 * vocabulary must keep each id in range and within QVK_TOKENIZE_MAX; the
 * input bytes are also decoded as token ids (any value, in range or not).
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
	bool any_bytes; /* llama2.c: lossless on any bytes, not only UTF-8 */
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
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (qvk_tokenizer_load(fuzz_ctx, path, &v->tok) != QVK_OK) {
		fprintf(stderr, "fuzz_tokenizer: %s left out: %s\n", path,
			qvk_ctx_message(fuzz_ctx));
		return;
	}
	v->any_bytes = !strstr(file, ".gguf");
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
		v->any_bytes ? ", round trip on any bytes" :
			       ", round trip on UTF-8");
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

/* Is @s (@len bytes) valid UTF-8 (no overlongs, surrogates or > U+10FFFF)? */
static bool fuzz_utf8_ok(const uint8_t *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		uint8_t c = s[i];
		size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 :
			   (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
		uint32_t cp = n == 1 ? c : n == 2 ? c & 0x1f : n == 3 ? c & 0x0f :
								  c & 0x07;

		if (!n || i + n > len)
			return false;
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
		    (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n;
	}
	return true;
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
	if ((v->any_bytes || (fuzz_utf8_ok((const uint8_t *)text, len) &&
			      !memmem(text, len, "\xe2\x96\x81", 3))) &&
	    (out_len != len || memcmp(out, text, len)) &&
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
