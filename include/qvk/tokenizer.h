/* SPDX-License-Identifier: MIT */
/*
 * Tokenizers: from a llama2.c tokenizer file (tokenizer.bin, tok512.bin) or
 * from GGUF metadata (tokenizer.ggml.*), encoding exactly as llama.cpp
 * does (its test vectors are qvk's tests).
 *
 * SentencePiece (tokenizer.ggml.model "llama": Llama 1/2, Mistral, Phi-3,
 * Gemma): spaces become U+2581 (kept as ' ' inside qvk), a dummy-prefix
 * space goes in front of the text, the text splits into UTF-8 characters,
 * the adjacent pair whose concatenation is in the vocabulary with the
 * highest score merges first (ties: leftmost), and a character that is no
 * token becomes its <0xXX> byte tokens.
 *
 * Byte-level BPE ("gpt2": Llama 3, Qwen2, GPT-2, DeepSeek, ...): the text
 * is cut into words by the pre-tokenizer tokenizer.ggml.pre names (its
 * regular expression over Unicode classes), each word's bytes merge by
 * tokenizer.ggml.merges rank, lowest first. Invalid UTF-8 becomes U+FFFD.
 *
 * Special tokens (control, user-defined, unknown) written in the text are
 * cut out first, longest first, and become one token each: user-defined
 * ones always, control ones only with QVK_TOKENIZE_PARSE_SPECIAL
 * (llama.cpp's parse_special), so typed text cannot forge them.
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

/*
 * Load @path: a GGUF file (its tokenizer metadata; a vocabulary-only file
 * with no tensors will do) or a llama2.c file.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_tokenizer_load(
	struct qvk_ctx *ctx, const char *path, struct qvk_tokenizer **out);
QVK_API QVK_MUST_CHECK qvk_status qvk_tokenizer_from_gguf(
	struct qvk_ctx *ctx, const struct qvk_gguf *gguf,
	struct qvk_tokenizer **out);
QVK_API void qvk_tokenizer_destroy(struct qvk_tokenizer *tok);

QVK_API uint32_t qvk_tokenizer_vocab_size(const struct qvk_tokenizer *tok);
/* The BOS and EOS ids; QVK_TOKEN_NONE when the vocabulary has none. */
QVK_API uint32_t qvk_tokenizer_bos(const struct qvk_tokenizer *tok);
QVK_API uint32_t qvk_tokenizer_eos(const struct qvk_tokenizer *tok);

#define QVK_TOKEN_NONE UINT32_MAX

/*
 * What the model's text starts and ends with: GGUF's
 * tokenizer.ggml.add_bos_token / add_eos_token, by default as llama.cpp
 * (BOS for SentencePiece and Llama 3's BPE, no EOS); BOS for llama2.c.
 */
QVK_API bool qvk_tokenizer_adds_bos(const struct qvk_tokenizer *tok);
QVK_API bool qvk_tokenizer_adds_eos(const struct qvk_tokenizer *tok);

/*
 * Whether @token ends generation: EOS, end-of-turn tokens (<|eot_id|>,
 * <|im_end|>, <|end|>, <end_of_turn>, ... as llama.cpp recognises them by
 * their text, and tokenizer.ggml.eot_token_id / eom_token_id).
 */
QVK_API bool qvk_tokenizer_is_eog(const struct qvk_tokenizer *tok,
				  uint32_t token);

/*
 * "SentencePiece" or "BPE (PRE)" with the pre-tokenizer's name, for
 * messages. Static storage or the tokenizer's.
 */
QVK_API const char *qvk_tokenizer_describe(const struct qvk_tokenizer *tok);

/* tokenizer.chat_template of the GGUF file (NUL-terminated), or NULL. */
QVK_API const char *qvk_tokenizer_chat_template(const struct qvk_tokenizer *tok);

#define QVK_TOKENIZE_BOS 1u /* prepend the BOS token */
#define QVK_TOKENIZE_EOS 2u /* append the EOS token */
/* BOS and EOS as the model wants them (qvk_tokenizer_adds_bos/eos) */
#define QVK_TOKENIZE_ADD_SPECIAL 4u
/* control tokens written in the text ("<|im_start|>") become tokens */
#define QVK_TOKENIZE_PARSE_SPECIAL 8u

/*
 * Upper bound of the token count of @text_len bytes, BOS and EOS included:
 * an invalid UTF-8 byte becomes U+FFFD, up to 3 BPE tokens.
 */
#define QVK_TOKENIZE_MAX(text_len) (3 * (text_len) + 3)

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
 * The bytes @token stands for when it follows @prev: byte tokens give
 * their byte, control and unknown tokens nothing (llama.cpp's
 * token_to_piece without special), and for SentencePiece the leading
 * space of the first token after BOS is dropped. Not NUL-terminated: *len
 * bytes, which may end inside a UTF-8 character. An out-of-range token
 * gives "".
 */
QVK_API const char *qvk_tokenizer_decode(const struct qvk_tokenizer *tok,
					 uint32_t prev, uint32_t token,
					 size_t *len);

/*
 * The vocabulary entry (SentencePiece: spaces as ' ', not U+2581; BPE: the
 * bytes it stands for; special tokens as written), its score and type.
 */
QVK_API const char *qvk_tokenizer_piece(const struct qvk_tokenizer *tok,
					uint32_t token, size_t *len);
QVK_API float qvk_tokenizer_score(const struct qvk_tokenizer *tok,
				  uint32_t token);
QVK_API enum qvk_token_type qvk_tokenizer_type(const struct qvk_tokenizer *tok,
					       uint32_t token);

/*
 * Add tokenizer.ggml.* metadata for this vocabulary to @w (SentencePiece:
 * model "llama", tokens with U+2581, scores; BPE: model "gpt2", the
 * pre-tokenizer, tokens and merges as the source file had them; both:
 * token types, BOS/EOS/UNK ids, add_bos/add_eos, the chat template), so
 * that a file written by qvk carries its tokenizer.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_tokenizer_to_gguf(
	const struct qvk_tokenizer *tok, struct qvk_gguf_writer *w);

#endif
