/* SPDX-License-Identifier: MIT */
/*
 * The conversation of qvk chat: a message a line from stdin, the reply
 * streamed to stdout until an end token, the -n limit or a full context.
 *
 * The KV cache lives as long as the session: each turn renders the whole
 * conversation, and only what follows the text the cache already holds
 * (the previous prompt and reply) is tokenized and prefilled -- the end of
 * the last reply, the new user message and the assistant header.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chat_session.h"

static bool qvk_chat_text_put(struct qvk_chat_text *t, const char *s,
			      size_t n)
{
	if (t->len + n + 1 > t->cap) {
		size_t cap = 2 * (t->len + n + 1);
		char *grown = realloc(t->s, cap);

		if (!grown)
			return false;
		t->s = grown;
		t->cap = cap;
	}
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->s[t->len] = '\0';
	return true;
}

static bool qvk_chat_push(struct qvk_chat_session *s, const char *role,
			  const char *content, size_t len)
{
	struct qvk_chat_message *m = realloc(s->msgs, (s->n_msgs + 1) *
							      sizeof(*m));
	char *copy = malloc(len + 1);

	if (m)
		s->msgs = m;
	if (!m || !copy) {
		free(copy);
		return false;
	}
	memcpy(copy, content, len);
	copy[len] = '\0';
	s->msgs[s->n_msgs++] = (struct qvk_chat_message){ role, copy };
	return true;
}

/* The whole conversation rendered with the assistant header, malloc()ed. */
static char *qvk_chat_render(struct qvk_chat_session *s, size_t *len)
{
	char *buf;

	if (qvk_chat_template_apply(s->ctx, s->tmpl, s->msgs, s->n_msgs, true,
				    NULL, 0, len) != QVK_ERR_INVALID_ARG ||
	    !(buf = malloc(*len + 1)))
		return NULL;
	if (qvk_chat_template_apply(s->ctx, s->tmpl, s->msgs, s->n_msgs, true,
				    buf, *len + 1, len)) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* Where the new prompt @p differs from what the cache holds: its start. */
static size_t qvk_chat_resume(struct qvk_chat_session *s, const char *p,
			      size_t len, uint32_t *pos)
{
	if (len >= s->fed.len &&
	    (!s->fed.len || !memcmp(p, s->fed.s, s->fed.len))) {
		*pos = s->n_past;
		return s->fed.len;
	}
	/*
	 * The format rewrote the last reply (Llama 3 and Gemma trim it):
	 * feed the reply again as rendered, from the end of the last prompt.
	 */
	if (s->prompt_len && len >= s->prompt_len &&
	    !memcmp(p, s->fed.s, s->prompt_len)) {
		*pos = s->n_past_prompt;
		return s->prompt_len;
	}
	fprintf(stderr, "qvk chat: the chat format rewrote earlier turns; "
			"prefilling the whole conversation again\n");
	*pos = 0;
	return 0;
}

static void qvk_chat_context_full(const struct qvk_chat_session *s,
				  uint32_t need)
{
	fprintf(stderr, "\nqvk chat: the context is full: %u of %u positions "
			"are used and %u more are needed; start a new chat, or "
			"give a larger -c\n", s->n_past, s->n_ctx, need);
}

/* Prefill the new part of the conversation; false ends the session. */
static bool qvk_chat_prefill(struct qvk_chat_session *s, const float **logits)
{
	const struct qvk_tokenizer *tok = s->tok;
	size_t len, start, n = 0;
	char *p = qvk_chat_render(s, &len);
	uint32_t pos, *ids = NULL;
	unsigned flags = QVK_TOKENIZE_PARSE_SPECIAL;
	qvk_status st = QVK_ERR_NO_MEMORY;

	if (!p) {
		qvk_tool_fail(s->ctx, QVK_ERR_NO_MEMORY, "chat", "rendering");
		return false;
	}
	start = qvk_chat_resume(s, p, len, &pos);
	/* the model's BOS opens the conversation (not its EOS, if any) */
	if (!pos && qvk_tokenizer_adds_bos(tok))
		flags |= QVK_TOKENIZE_BOS;
	ids = malloc(QVK_TOKENIZE_MAX(len - start) * sizeof(*ids));
	if (ids)
		st = qvk_tokenizer_encode(tok, s->ctx, p + start, len - start,
					  flags, ids,
					  QVK_TOKENIZE_MAX(len - start), &n);
	if (st == QVK_OK && !n) { /* cannot happen: the message is new text */
		fprintf(stderr, "qvk chat: the turn renders to no new tokens\n");
		goto out_fail;
	}
	if (st == QVK_OK && pos + n >= s->n_ctx) {
		s->n_past = pos;
		qvk_chat_context_full(s, (uint32_t)QVK_MIN(n + 1, UINT32_MAX));
		goto out_fail;
	}
	if (st == QVK_OK && s->verbose) {
		fprintf(stderr, "turn %u: %zu prompt tokens at position %u:",
			s->turns + 1, n, pos);
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, " %u", ids[i]);
		fputc('\n', stderr);
	}
	if (st == QVK_OK)
		st = qvk_llm_forward(s->llm, ids, (uint32_t)n, pos, NULL, logits);
	if (st != QVK_OK) {
		qvk_tool_fail(s->ctx, st, "chat", "prompt");
		goto out_fail;
	}
	for (size_t i = 0; i < n; i++)
		qvk_sampler_accept(s->smp, ids[i]);
	s->fed.len = start;
	if (!qvk_chat_text_put(&s->fed, p + start, len - start)) {
		qvk_tool_fail(s->ctx, QVK_ERR_NO_MEMORY, "chat", "prompt");
		goto out_fail;
	}
	s->prompt_len = len;
	s->n_past = s->n_past_prompt = pos + (uint32_t)n;
	s->prompt_tokens += (uint32_t)n;
	free(ids);
	free(p);
	return true;

out_fail:
	free(ids);
	free(p);
	return false;
}

/*
 * Sample and stream one reply until an end token, the -n limit or a full
 * context; every token printed is fed, so the cache matches the text.
 * Returns 0 to go on, 1 when the session must end (reported).
 */
static int qvk_chat_reply(struct qvk_chat_session *s, const float *logits)
{
	struct qvk_chat_text reply = { 0 };
	uint32_t token, prev = QVK_TOKEN_NONE, n = 0;
	double t0 = qvk_tool_now_s();
	const char *why = "the -n limit";
	qvk_status st = QVK_OK;
	int rc = 0;

	while (n < s->max_reply) {
		const char *piece;
		size_t len;

		st = qvk_sampler_sample(s->smp, logits, &token);
		if (st != QVK_OK)
			break;
		if (qvk_tokenizer_is_eog(s->tok, token) || token == s->end_token) {
			why = "an end token";
			break;
		}
		piece = qvk_tokenizer_decode(s->tok, prev, token, &len);
		fwrite(piece, 1, len, stdout);
		fflush(stdout);
		if (!qvk_chat_text_put(&reply, piece, len)) {
			st = QVK_ERR_NO_MEMORY;
			break;
		}
		n++;
		prev = token;
		if (s->n_past + 1 >= s->n_ctx) {
			putchar('\n');
			qvk_chat_context_full(s, 1);
			rc = 1;
			break;
		}
		st = qvk_llm_forward(s->llm, &token, 1, s->n_past, NULL, &logits);
		if (st != QVK_OK)
			break;
		s->n_past++;
	}
	s->decode_s += qvk_tool_now_s() - t0;
	s->reply_tokens += n;
	if (!rc)
		putchar('\n');
	fflush(stdout);
	if (st != QVK_OK) {
		qvk_tool_fail(s->ctx, st, "chat", "generating");
		rc = 1;
	} else if (!qvk_chat_push(s, "assistant", reply.s ? reply.s : "",
				  reply.len) ||
		   !qvk_chat_text_put(&s->fed, reply.s ? reply.s : "",
				      reply.len)) {
		qvk_tool_fail(s->ctx, QVK_ERR_NO_MEMORY, "chat", "history");
		rc = 1;
	}
	if (s->verbose)
		fprintf(stderr, "turn %u: %u tokens generated, stopped by %s\n",
			s->turns + 1, n, rc ? "a full context" : why);
	free(reply.s);
	return rc;
}

int qvk_chat_session_run(struct qvk_chat_session *s, const char *system)
{
	bool tty = isatty(STDIN_FILENO);
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int rc = 0;

	if (system && !qvk_chat_push(s, "system", system, strlen(system)))
		return qvk_tool_fail(s->ctx, QVK_ERR_NO_MEMORY, "chat", "history");
	for (;;) {
		const float *logits;

		if (tty)
			fputs("> ", stderr);
		errno = 0;
		len = getline(&line, &cap, stdin);
		if (len < 0) {
			if (errno) {
				fprintf(stderr, "qvk chat: reading stdin: %s\n",
					strerror(errno));
				rc = 1;
			}
			break;
		}
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (!len)
			continue;
		if (!qvk_chat_push(s, "user", line, (size_t)len)) {
			rc = qvk_tool_fail(s->ctx, QVK_ERR_NO_MEMORY, "chat",
					   "history");
			break;
		}
		if (!qvk_chat_prefill(s, &logits) || qvk_chat_reply(s, logits)) {
			rc = 1;
			break;
		}
		s->turns++;
	}
	free(line);
	fprintf(stderr, "chat: turns %u, prompt tokens %u, reply tokens %u "
		"(%.1f tokens/s), context %u of %u (seed %llu)\n", s->turns,
		s->prompt_tokens, s->reply_tokens,
		s->decode_s > 0 ? s->reply_tokens / s->decode_s : 0, s->n_past,
		s->n_ctx, (unsigned long long)s->seed);
	return rc;
}

void qvk_chat_session_finish(struct qvk_chat_session *s)
{
	for (size_t i = 0; i < s->n_msgs; i++)
		free((char *)s->msgs[i].content);
	free(s->msgs);
	free(s->fed.s);
	s->msgs = NULL;
	s->n_msgs = 0;
	s->fed = (struct qvk_chat_text){ 0 };
}
