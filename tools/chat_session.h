/* SPDX-License-Identifier: MIT */
/*
 * The session of qvk chat (tools/chat_session.c): the conversation so far
 * and the text the KV cache holds. The caller sets up the model, the
 * sampler and the format, then runs the session over stdin.
 */
#ifndef QVK_TOOLS_CHAT_SESSION_H
#define QVK_TOOLS_CHAT_SESSION_H

#include <qvk/chat.h>
#include <qvk/llm.h>
#include <qvk/sampler.h>
#include <qvk/tokenizer.h>

#include "tool.h"

/* A growing byte string. */
struct qvk_chat_text {
	char *s;
	size_t len, cap;
};

/*
 * The session: the messages so far, and the text the KV cache holds, which
 * is the rendered prompts and replies fed so far (fed[0..prompt_len) was
 * the last prompt, the rest its reply).
 */
struct qvk_chat_session {
	struct qvk_ctx *ctx;
	struct qvk_llm *llm;
	const struct qvk_tokenizer *tok;
	struct qvk_sampler *smp;
	enum qvk_chat_template tmpl;
	uint32_t end_token; /* the format's end of reply, or QVK_TOKEN_NONE */
	uint32_t n_ctx;     /* positions of the KV cache */
	uint32_t max_reply; /* tokens per reply (-n) */
	bool verbose;       /* --verbose-prompt */
	uint64_t seed;      /* for the summary */
	/* the conversation, kept by the session */
	struct qvk_chat_message *msgs;
	size_t n_msgs;
	struct qvk_chat_text fed;
	size_t prompt_len;
	uint32_t n_past, n_past_prompt; /* positions: all, before the reply */
	uint32_t turns, prompt_tokens, reply_tokens;
	double decode_s;
};

/*
 * Chat over stdin/stdout (@system, if any, first) until end of input;
 * prints the summary. Returns the exit status: 0, or 1 after a reported
 * error or a full context.
 */
int qvk_chat_session_run(struct qvk_chat_session *s, const char *system);
/* Free the conversation (not the objects the caller set). */
void qvk_chat_session_finish(struct qvk_chat_session *s);

#endif
