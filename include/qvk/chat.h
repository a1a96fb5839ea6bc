/* SPDX-License-Identifier: MIT */
/*
 * Chat templates: recognising a model's tokenizer.chat_template (a Jinja
 * program in the GGUF file) by its text, and rendering a conversation in
 * that format -- what llama.cpp's llama_chat_apply_template does, with the
 * same rules and byte for byte the same output, so that a prompt qvk
 * builds is the one llama.cpp would build. Like llama.cpp, qvk does not
 * run Jinja: it knows the formats below.
 *
 * Stateless and thread-safe.
 */
#ifndef QVK_CHAT_H
#define QVK_CHAT_H

#include <stdbool.h>
#include <stddef.h>

#include <qvk/ctx.h>

enum qvk_chat_template {
	QVK_CHAT_UNKNOWN = 0,
	QVK_CHAT_CHATML,            /* Qwen, Yi, ...: <|im_start|>role\n */
	QVK_CHAT_LLAMA3,            /* <|start_header_id|>role<|end_header_id|> */
	QVK_CHAT_LLAMA2,            /* [INST] ... [/INST], no system prompt */
	QVK_CHAT_LLAMA2_SYS,        /* ... with <<SYS>> */
	QVK_CHAT_LLAMA2_SYS_BOS,    /* ... and <s> inside the history */
	QVK_CHAT_LLAMA2_SYS_STRIP,  /* ... and messages trimmed */
	QVK_CHAT_MISTRAL_V1,        /* " [INST] ... [/INST]" */
	QVK_CHAT_MISTRAL_V3,        /* "[INST] ... [/INST]", replies trimmed */
	QVK_CHAT_MISTRAL_V3_TEKKEN, /* "[INST]...[/INST]" */
	QVK_CHAT_MISTRAL_V7,        /* [SYSTEM_PROMPT] ... [/SYSTEM_PROMPT] */
	QVK_CHAT_MISTRAL_V7_TEKKEN,
	QVK_CHAT_PHI3,              /* <|user|>\n ... <|end|>\n */
	QVK_CHAT_PHI4,              /* <|im_start|>role<|im_sep|> */
	QVK_CHAT_FALCON3,           /* <|user|>\n ... \n */
	QVK_CHAT_ZEPHYR,            /* <|user|>\n ... <|endoftext|>\n */
	QVK_CHAT_GEMMA,             /* <start_of_turn>user\n ... <end_of_turn>\n */
	QVK_CHAT_TEMPLATE_COUNT
};

/*
 * Recognise @text: one of the names below, or a tokenizer.chat_template
 * by the marks llama.cpp looks for, in llama.cpp's order. Templates that
 * llama.cpp knows but qvk does not render, and anything else, give
 * QVK_CHAT_UNKNOWN; @llama_name (may be NULL) then gets llama.cpp's name
 * for it when it has one, else NULL.
 */
QVK_API enum qvk_chat_template qvk_chat_template_detect(const char *text,
							const char **llama_name);

/* "chatml", "llama3", "llama2-sys", ..., "gemma"; NULL for UNKNOWN. */
QVK_API const char *qvk_chat_template_name(enum qvk_chat_template t);

/* Every name qvk renders, comma-separated, into @buf; returns the length. */
QVK_API size_t qvk_chat_template_list(char *buf, size_t cap);

/*
 * The text that ends a reply in this format, e.g. "<|im_end|>", "</s>"
 * (a special token of the model's vocabulary); NULL for UNKNOWN.
 */
QVK_API const char *qvk_chat_template_end_text(enum qvk_chat_template t);

struct qvk_chat_message {
	const char *role;    /* "system", "user", "assistant" */
	const char *content; /* NUL-terminated */
};

/*
 * Render @n messages in format @t into @buf (room for @cap bytes; NUL-
 * terminated when it fits), and with @add_assistant the start of the
 * assistant's reply. *len gets the length of the whole text (without the
 * NUL) also when @cap was too small (QVK_ERR_INVALID_ARG then): call
 * with cap 0 to size the buffer.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_chat_template_apply(
	struct qvk_ctx *ctx, enum qvk_chat_template t,
	const struct qvk_chat_message *msgs, size_t n, bool add_assistant,
	char *buf, size_t cap, size_t *len);

#endif
