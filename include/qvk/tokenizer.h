/* SPDX-License-Identifier: MIT */
/*
 * The Llama SentencePiece-BPE tokenizer: from a llama2.c tokenizer file
 * (tokenizer.bin, tok512.bin) or from GGUF metadata (tokenizer.ggml.*).
 *
 * Encoding follows llama.cpp's SPM tokenizer, which reproduces
 * SentencePiece: spaces become U+2581 (kept as ' ' inside qvk), a dummy-prefix
 * space goes in front of non-empty text, the text splits into UTF-8
 * characters, the adjacent pair whose concatenation is in the vocabulary
 * with the highest score merges first (ties: leftmost), and a character that
 * is no token becomes its <0xXX> byte tokens. User-defined tokens (GGUF
 * token type 4) are cut out of the text first, longest first, and the text
 * after one gets the dummy prefix again; control tokens in the text are not
 * parsed (llama.cpp's parse_special = false).
 *
 * A tokenizer is read-only after creation and may be shared by threads.
 */
#ifndef QVK_TOKENIZER_H
#define QVK_TOKENIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <qvk/ctx.h>

struct qvk_tokenizer;
struct qvk_gguf;
struct qvk_gguf_writer;

/* Token kinds, numbered as GGUF's tokenizer.ggml.token_type. */
enum qvk_token_type {
	QVK_TOKEN_NORMAL = 1,
	QVK_TOKEN_UNKNOWN = 2,
	QVK_TOKEN_CONTROL = 3,
	QVK_TOKEN_USER_DEFINED = 4,
	QVK_TOKEN_UNUSED = 5,
	QVK_TOKEN_BYTE = 6,
};

/* Load @path: a GGUF file (its tokenizer metadata) or a llama2.c file. */
QVK_API QVK_MUST_CHECK qvk_status qvk_tokenizer_load(
	struct qvk_ctx *ctx, const char *path, struct qvk_tokenizer **out);
QVK_API QVK_MUST_CHECK qvk_status qvk_tokenizer_from_gguf(
	struct qvk_ctx *ctx, const struct qvk_gguf *gguf,
	struct qvk_tokenizer **out);
QVK_API void qvk_tokenizer_destroy(struct qvk_tokenizer *tok);

QVK_API uint32_t qvk_tokenizer_vocab_size(const struct qvk_tokenizer *tok);
QVK_API uint32_t qvk_tokenizer_bos(const struct qvk_tokenizer *tok);
QVK_API uint32_t qvk_tokenizer_eos(const struct qvk_tokenizer *tok);

/*
 * Whether text for this model starts with BOS: GGUF's
 * tokenizer.ggml.add_bos_token (default true), true for llama2.c.
 */
QVK_API bool qvk_tokenizer_adds_bos(const struct qvk_tokenizer *tok);

#define QVK_TOKENIZE_BOS 1u /* prepend the BOS token */
#define QVK_TOKENIZE_EOS 2u /* append the EOS token */

/* Upper bound of the token count of @text_len bytes, BOS and EOS included. */
#define QVK_TOKENIZE_MAX(text_len) ((text_len) + 3)

/*
 * Encode @len bytes of @text (need not be NUL-terminated or valid UTF-8)
 * into @tokens (room for @max_tokens; QVK_TOKENIZE_MAX(len) always
 * suffices). *n_tokens gets the count, or the count needed when @max_tokens
 * was too small (QVK_ERR_INVALID_ARG).
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_tokenizer_encode(
	const struct qvk_tokenizer *tok, struct qvk_ctx *ctx, const char *text,
	size_t len, unsigned flags, uint32_t *tokens, size_t max_tokens,
	size_t *n_tokens);

/*
 * The bytes @token stands for when it follows @prev (llama2.c's decode):
 * byte tokens give their byte, control tokens nothing, and the leading space
 * of the first token after BOS is dropped. Not NUL-terminated: *len bytes.
 * An out-of-range token gives "" .
 */
QVK_API const char *qvk_tokenizer_decode(const struct qvk_tokenizer *tok,
					 uint32_t prev, uint32_t token,
					 size_t *len);

/* The vocabulary entry (spaces as ' ', not U+2581), its score and type. */
QVK_API const char *qvk_tokenizer_piece(const struct qvk_tokenizer *tok,
					uint32_t token, size_t *len);
QVK_API float qvk_tokenizer_score(const struct qvk_tokenizer *tok,
				  uint32_t token);
QVK_API enum qvk_token_type qvk_tokenizer_type(const struct qvk_tokenizer *tok,
					       uint32_t token);

/*
 * Add tokenizer.ggml.* metadata for this vocabulary to @w (model "llama",
 * tokens with U+2581, scores, token types, BOS/EOS/UNK ids), so that a file
 * written by qvk carries its tokenizer.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_tokenizer_to_gguf(
	const struct qvk_tokenizer *tok, struct qvk_gguf_writer *w);

#endif
