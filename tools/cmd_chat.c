/* SPDX-License-Identifier: MIT */
/*
 * qvk chat: a conversation with a model on stdin/stdout, one message a
 * line, in the model's chat format (tokenizer.chat_template, recognised as
 * llama.cpp recognises it, or --template). The replies stream to stdout;
 * everything else goes to stderr, so stdout holds only the replies.
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
#include <time.h>
#include <unistd.h>

#include <qvk/chat.h>
#include <qvk/sampler.h>

#include "llm_setup.h"

const char qvk_cmd_chat_summary[] = "chat with a model in its chat format";

#define QVK_CHAT_DEFAULT_CTX 4096

struct qvk_chat_args {
	struct qvk_llm_args llm;
	const char *template_name;
	const char *system;
	uint32_t ctx_size; /* 0: the model's, at most QVK_CHAT_DEFAULT_CTX */
	uint32_t max_reply;
	struct qvk_sampler_options sampling;
	bool seed_set;
	bool verbose_prompt;
};

static int qvk_chat_usage(void)
{
	char names[512];

	qvk_chat_template_list(names, sizeof(names));
	printf("usage: qvk chat -m MODEL [--template NAME] [--system TEXT] "
	       "[-c N] [-n N]\n"
	       "                [--temp T] [--top-k K] [--top-p P] "
	       "[--repeat-penalty R] [--seed S]\n"
	       "                [--verbose-prompt] [--format F] [--group G] "
	       "[--keep LIST] [--kv-f32]\n\n"
	       "Reads one message a line from stdin and streams each reply to "
	       "stdout, in the\nmodel's chat format; the KV cache is kept "
	       "across turns. Ends at end of input.\n\n%s"
	       "  --template NAME   the chat format, when the model's "
	       "tokenizer.chat_template\n"
	       "                    is missing or not recognised: %s\n"
	       "  --system TEXT     a system message before the first turn\n"
	       "  -c, --ctx-size N  context in tokens for the whole session "
	       "(default: the\n"
	       "                    model's, at most %u)\n"
	       "  -n N              most tokens per reply (default 512)\n"
	       "  --temp T          0 is greedy (default 0.8)\n"
	       "  --top-k K         keep the K most likely (default 0: off)\n"
	       "  --top-p P         nucleus sampling (default 0.9)\n"
	       "  --repeat-penalty R  >= 1 (default 1: off)\n"
	       "  --seed S          sampling seed (default: from the clock, "
	       "printed)\n"
	       "  --verbose-prompt  print each turn's prompt token ids and "
	       "position to stderr\n",
	       qvk_llm_args_help, names, QVK_CHAT_DEFAULT_CTX);
	return 0;
}

static bool qvk_chat_parse(int argc, char **argv, struct qvk_chat_args *a)
{
	uint64_t v;
	double d;

	memset(a, 0, sizeof(*a));
	a->llm.opt.group = 32;
	a->max_reply = 512;
	qvk_sampler_options_default(&a->sampling);
	a->sampling.temperature = 0.8f;
	a->sampling.top_p = 0.9f;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		int took = qvk_llm_args_parse("chat", argc, argv, &i, &a->llm);

		if (took < 0)
			return false;
		if (took)
			continue;
		if (!strcmp(arg, "--verbose-prompt")) {
			a->verbose_prompt = true;
			continue;
		}
		if (!val) {
			qvk_tool_usage_error("chat", "unknown or incomplete "
					     "argument '%s'", arg);
			return false;
		}
		i++;
		if (!strcmp(arg, "--template")) {
			enum qvk_chat_template t = qvk_chat_template_detect(val,
									    NULL);
			char names[512];

			/* a name, not a template text */
			if (t == QVK_CHAT_UNKNOWN ||
			    strcmp(val, qvk_chat_template_name(t))) {
				qvk_chat_template_list(names, sizeof(names));
				qvk_tool_usage_error("chat", "--template '%s': use "
						     "one of %s", val, names);
				return false;
			}
			a->template_name = val;
		} else if (!strcmp(arg, "--system")) {
			a->system = val;
		} else if (!strcmp(arg, "-c") || !strcmp(arg, "--ctx-size")) {
			if (!qvk_tool_parse_u64("chat", arg, val, 8, 1u << 24, &v))
				return false;
			a->ctx_size = (uint32_t)v;
		} else if (!strcmp(arg, "-n")) {
			if (!qvk_tool_parse_u64("chat", arg, val, 1, 1u << 20, &v))
				return false;
			a->max_reply = (uint32_t)v;
		} else if (!strcmp(arg, "--temp")) {
			if (!qvk_tool_parse_double("chat", arg, val, 0, 100, &d))
				return false;
			a->sampling.temperature = (float)d;
		} else if (!strcmp(arg, "--top-k")) {
			if (!qvk_tool_parse_u64("chat", arg, val, 0, 1u << 24, &v))
				return false;
			a->sampling.top_k = (uint32_t)v;
		} else if (!strcmp(arg, "--top-p")) {
			if (!qvk_tool_parse_double("chat", arg, val, 1e-6, 1, &d))
				return false;
			a->sampling.top_p = (float)d;
		} else if (!strcmp(arg, "--repeat-penalty")) {
			if (!qvk_tool_parse_double("chat", arg, val, 1, 100, &d))
				return false;
			a->sampling.repeat_penalty = (float)d;
		} else if (!strcmp(arg, "--seed")) {
			if (!qvk_tool_parse_u64("chat", arg, val, 0, UINT64_MAX,
						&a->sampling.seed))
				return false;
			a->seed_set = true;
		} else {
			qvk_tool_usage_error("chat", "unknown argument '%s'", arg);
			return false;
		}
	}
	if (!a->seed_set)
		a->sampling.seed = (uint64_t)time(NULL);
	return true;
}

/* A growing byte string. */
struct qvk_chat_text {
	char *s;
	size_t len, cap;
};

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
	const struct qvk_chat_args *a;
	enum qvk_chat_template tmpl;
	uint32_t end_token; /* the format's end of reply, or QVK_TOKEN_NONE */
	uint32_t n_ctx;
	struct qvk_chat_message *msgs;
	size_t n_msgs;
	struct qvk_chat_text fed;
	size_t prompt_len;
	uint32_t n_past, n_past_prompt; /* positions: all, before the reply */
	uint32_t turns, prompt_tokens, reply_tokens;
	double decode_s;
};

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
	if (len >= s->fed.len && !memcmp(p, s->fed.s, s->fed.len)) {
		*pos = s->n_past;
		return s->fed.len;
	}
	/*
	 * The format rewrote the last reply (Llama 3 and Gemma trim it):
	 * feed the reply again as rendered, from the end of the last prompt.
	 */
	if (len >= s->prompt_len && !memcmp(p, s->fed.s, s->prompt_len)) {
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
	if (st == QVK_OK && s->a->verbose_prompt) {
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

	while (n < s->a->max_reply) {
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
	if (s->a->verbose_prompt)
		fprintf(stderr, "turn %u: %u tokens generated, stopped by %s\n",
			s->turns + 1, n, rc ? "a full context" : why);
	free(reply.s);
	return rc;
}

static int qvk_chat_loop(struct qvk_chat_session *s)
{
	bool tty = isatty(STDIN_FILENO);
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int rc = 0;

	if (s->a->system &&
	    !qvk_chat_push(s, "system", s->a->system, strlen(s->a->system)))
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
		s->n_ctx, (unsigned long long)s->a->sampling.seed);
	return rc;
}

/* The chat format: --template, else the model's template recognised. */
static bool qvk_chat_pick_template(const struct qvk_chat_args *a,
				   const struct qvk_tokenizer *tok,
				   enum qvk_chat_template *t)
{
	const char *text = qvk_tokenizer_chat_template(tok), *llama = NULL;
	char names[512];

	qvk_chat_template_list(names, sizeof(names));
	if (a->template_name) { /* checked when parsed */
		*t = qvk_chat_template_detect(a->template_name, NULL);
		return true;
	}
	if (!text) {
		fprintf(stderr, "qvk chat: %s has no tokenizer.chat_template; "
				"give the format with --template NAME (one of "
				"%s)\n", a->llm.model_path, names);
		return false;
	}
	*t = qvk_chat_template_detect(text, &llama);
	if (*t != QVK_CHAT_UNKNOWN)
		return true;
	if (llama)
		fprintf(stderr, "qvk chat: the chat template of %s is "
				"llama.cpp's '%s' format, which qvk does not "
				"render; ", a->llm.model_path, llama);
	else
		fprintf(stderr, "qvk chat: the chat template of %s is not one "
				"qvk recognises; ", a->llm.model_path);
	fprintf(stderr, "give the format with --template NAME (one of %s)\n",
		names);
	return false;
}

/* The token the format's end text is, when it is one. */
static uint32_t qvk_chat_end_token(struct qvk_ctx *ctx,
				   const struct qvk_tokenizer *tok,
				   enum qvk_chat_template t)
{
	const char *end = qvk_chat_template_end_text(t);
	uint32_t ids[QVK_TOKENIZE_MAX(32)];
	size_t n;

	if (!end || strlen(end) > 32 ||
	    qvk_tokenizer_encode(tok, ctx, end, strlen(end),
				 QVK_TOKENIZE_PARSE_SPECIAL, ids,
				 QVK_ARRAY_SIZE(ids), &n) ||
	    n != 1)
		return QVK_TOKEN_NONE;
	return ids[0];
}

int qvk_cmd_chat(int argc, char **argv)
{
	struct qvk_chat_session s = { 0 };
	struct qvk_tokenizer *tok = NULL;
	struct qvk_model *model = NULL;
	struct qvk_device *dev = NULL;
	struct qvk_chat_args a;
	uint32_t seq_len;
	qvk_status st;
	int rc = 1;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return qvk_chat_usage();
	if (!qvk_chat_parse(argc, argv, &a))
		return 2;
	s.a = &a;
	s.ctx = qvk_tool_ctx("chat");
	if (!s.ctx)
		return 1;
	if (!qvk_llm_open_model("chat", s.ctx, &a.llm, &model, &tok) ||
	    !qvk_chat_pick_template(&a, tok, &s.tmpl))
		goto out;
	seq_len = model->params.seq_len;
	s.n_ctx = a.ctx_size ? a.ctx_size : QVK_MIN(seq_len, QVK_CHAT_DEFAULT_CTX);
	if (s.n_ctx > seq_len) {
		fprintf(stderr, "qvk chat: -c %u is more than the model's "
				"context of %u tokens\n", s.n_ctx, seq_len);
		goto out;
	}
	a.llm.opt.max_seq = s.n_ctx;
	s.tok = tok;
	s.end_token = qvk_chat_end_token(s.ctx, tok, s.tmpl);
	st = qvk_device_create(s.ctx, NULL, &dev);
	if (st == QVK_OK)
		st = qvk_llm_create(dev, model, &a.llm.opt, &s.llm);
	if (st == QVK_OK)
		st = qvk_sampler_create(s.ctx, model->params.vocab_size,
					&a.sampling, &s.smp);
	if (st != QVK_OK) {
		qvk_tool_fail(s.ctx, st, "chat", "loading the model onto the "
			      "device");
		goto out;
	}
	fprintf(stderr, "model: %s (%u layers, dim %u, vocab %u, %s) on %s, "
		"weights %s\nchat format %s, context %u tokens; one message a "
		"line, end of input ends the chat\n", a.llm.model_path,
		model->params.n_layers, model->params.dim,
		model->params.vocab_size, qvk_tokenizer_describe(tok),
		qvk_device_info(dev)->name, qvk_llm_describe(s.llm),
		qvk_chat_template_name(s.tmpl), s.n_ctx);
	rc = qvk_chat_loop(&s);
	if (a.llm.opt.profile) {
		fprintf(stderr, "profile (GPU timestamps):\n");
		qvk_llm_print_profile(stderr, s.llm, "  ");
	}
out:
	for (size_t i = 0; i < s.n_msgs; i++)
		free((char *)s.msgs[i].content);
	free(s.msgs);
	free(s.fed.s);
	qvk_sampler_destroy(s.smp);
	qvk_llm_destroy(s.llm);
	qvk_device_destroy(dev);
	qvk_tokenizer_destroy(tok);
	qvk_model_destroy(model);
	qvk_ctx_destroy(s.ctx);
	return rc;
}
