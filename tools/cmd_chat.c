/* SPDX-License-Identifier: MIT */
/*
 * qvk chat: a conversation with a model on stdin/stdout, one message a
 * line, in the model's chat format (tokenizer.chat_template, recognised as
 * llama.cpp recognises it, or --template). The replies stream to stdout;
 * everything else goes to stderr, so stdout holds only the replies. This
 * file parses the options and sets the model, format and sampler up; the
 * conversation itself is tools/chat_session.c.
 */
#include <stdio.h>
#include <string.h>

#include <qvk/chat.h>

#include "chat_session.h"
#include "llm_setup.h"
#include "sampling_args.h"

const char qvk_cmd_chat_summary[] = "chat with a model in its chat format";

#define QVK_CHAT_DEFAULT_CTX 4096

struct qvk_chat_args {
	struct qvk_llm_args llm;
	const char *template_name;
	const char *system;
	uint32_t ctx_size; /* 0: the model's, at most QVK_CHAT_DEFAULT_CTX */
	uint32_t max_reply;
	struct qvk_sampling_args sampling;
	bool verbose_prompt;
};

/* The format names, comma-separated, in lines of @width after @indent. */
static void qvk_chat_print_names(const char *indent, size_t width)
{
	size_t col = 0;

	for (int t = QVK_CHAT_UNKNOWN + 1; t < QVK_CHAT_TEMPLATE_COUNT; t++) {
		const char *name = qvk_chat_template_name(t);
		size_t need = strlen(name) + 1; /* with its comma */

		if (col && col + 1 + need > width) {
			printf("\n");
			col = 0;
		}
		printf("%s%s%s", col ? " " : indent, name,
		       t + 1 == QVK_CHAT_TEMPLATE_COUNT ? "\n" : ",");
		col += (col ? 1 : 0) + need;
	}
}

static int qvk_chat_usage(void)
{
	printf("usage: qvk chat -m MODEL [-t TOKENIZER] [--template NAME] "
	       "[--system TEXT] [-c N]\n"
	       "                [-n N] [--temp T] [--top-k K] [--top-p P] "
	       "[--min-p P] [--repeat-penalty R]\n"
	       "                [-s S] [--verbose-prompt] [--format F] [--group G] "
	       "[--keep LIST]\n"
	       "                [--kv-f32] [--act-per-token] [--profile]\n\n"
	       "Reads one message a line from stdin and streams each reply to "
	       "stdout, in the\nmodel's chat format; the KV cache is kept "
	       "across turns. Ends at end of input.\n\n%s"
	       "  --template NAME   the chat format, when the model's "
	       "tokenizer.chat_template\n"
	       "                    is missing or not recognised, one of:\n",
	       qvk_llm_args_help);
	qvk_chat_print_names("                    ", 58);
	printf("  --system TEXT     a system message before the first turn\n"
	       "  -c, --ctx-size N  context in tokens for the whole session "
	       "(default: the\n"
	       "                    model's, at most %u)\n"
	       "  -n N              most tokens per reply (default 512)\n%s"
	       "  --verbose-prompt  print each turn's prompt token ids and "
	       "position to stderr\n",
	       QVK_CHAT_DEFAULT_CTX, qvk_sampling_args_help);
	return 0;
}

static bool qvk_chat_parse(int argc, char **argv, struct qvk_chat_args *a)
{
	uint64_t v;

	memset(a, 0, sizeof(*a));
	a->llm.opt.group = 32;
	a->max_reply = 512;
	qvk_sampling_args_init(&a->sampling);
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		int took = qvk_llm_args_parse("chat", argc, argv, &i, &a->llm);

		if (!took)
			took = qvk_sampling_args_parse("chat", argc, argv, &i,
						       &a->sampling);
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
		} else {
			qvk_tool_usage_error("chat", "unknown argument '%s'", arg);
			return false;
		}
	}
	qvk_sampling_args_finish(&a->sampling);
	return true;
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
	s.max_reply = a.max_reply;
	s.verbose = a.verbose_prompt;
	s.seed = a.sampling.opt.seed;
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
					&a.sampling.opt, &s.smp);
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
	rc = qvk_chat_session_run(&s, a.system);
	if (a.llm.opt.profile) {
		fprintf(stderr, "profile (GPU timestamps):\n");
		qvk_llm_print_profile(stderr, s.llm, "  ");
	}
out:
	qvk_chat_session_finish(&s);
	qvk_sampler_destroy(s.smp);
	qvk_llm_destroy(s.llm);
	qvk_device_destroy(dev);
	qvk_tokenizer_destroy(tok);
	qvk_model_destroy(model);
	qvk_ctx_destroy(s.ctx);
	return rc;
}
