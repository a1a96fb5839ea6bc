/* SPDX-License-Identifier: MIT */
/*
 * Chat formats against llama.cpp: every conversation of
 * tests/fixtures/chat/conversations.txt rendered in every format qvk knows
 * (and through the real templates of the qwen2 and phi-3 vocabularies)
 * must be byte for byte what llama_chat_apply_template wrote
 * (render.txt, made by gen-chat-fixtures.py); recognition of template
 * texts; the buffer contract.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/chat.h>
#include <qvk/tokenizer.h>

#include "harness.h"

#define MAX_MSGS 16
#define MAX_CONVS 16

struct conv {
	char name[32];
	struct qvk_chat_message msgs[MAX_MSGS];
	size_t n;
};

/* \n \t \s \\ in place. */
static void unescape(char *s)
{
	char *d = s;

	for (; *s; s++) {
		if (*s == '\\' && s[1]) {
			s++;
			*d++ = *s == 'n' ? '\n' : *s == 't' ? '\t' :
			       *s == 's' ? ' ' : *s;
		} else {
			*d++ = *s;
		}
	}
	*d = '\0';
}

/* Parse conversations.txt; @text is kept and pointed into. */
static size_t load_conversations(char *text, struct conv *convs)
{
	size_t n = 0;
	char *save = NULL;

	for (char *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *sp;

		if (line[0] == '#')
			continue;
		if (!strncmp(line, "conversation ", 13)) {
			ck_assert_uint_lt(n, MAX_CONVS);
			snprintf(convs[n].name, sizeof(convs[n].name), "%s",
				 line + 13);
			convs[n++].n = 0;
			continue;
		}
		sp = strchr(line, ' ');
		ck_assert_msg(sp && n && convs[n - 1].n < MAX_MSGS,
			      "bad line '%s'", line);
		*sp = '\0';
		unescape(sp + 1);
		convs[n - 1].msgs[convs[n - 1].n++] =
			(struct qvk_chat_message){ line, sp + 1 };
	}
	return n;
}

static size_t unhex(const char *hex, char *out)
{
	size_t n = 0;

	for (; hex[0] && hex[1]; hex += 2) {
		unsigned v;

		ck_assert(sscanf(hex, "%2x", &v) == 1);
		out[n++] = (char)v;
	}
	return n;
}

/* The format of a render.txt line: a name, or file:VOCAB's template. */
static bool format_of(const char *spec, enum qvk_chat_template *t)
{
	char path[4096];
	struct qvk_tokenizer *tok;

	if (strncmp(spec, "file:", 5)) {
		*t = qvk_chat_template_detect(spec, NULL);
		ck_assert_msg(*t != QVK_CHAT_UNKNOWN, "format '%s' unknown", spec);
		ck_assert_str_eq(qvk_chat_template_name(*t), spec);
		return true;
	}
	if (!qvk_test_model_path(spec + 5, path, sizeof(path)))
		return false;
	tok = qvk_test_tokenizer_load(path);
	ck_assert_ptr_nonnull(qvk_tokenizer_chat_template(tok));
	*t = qvk_chat_template_detect(qvk_tokenizer_chat_template(tok), NULL);
	qvk_tokenizer_destroy(tok);
	ck_assert_msg(*t != QVK_CHAT_UNKNOWN, "%s: template not recognised",
		      spec);
	return true;
}

START_TEST(test_render_matches_llama_cpp)
{
	char path[4096], *convs_text, *render, *save = NULL;
	struct conv convs[MAX_CONVS];
	size_t len, n_convs, n_ok = 0, n_skipped = 0;

	convs_text = qvk_test_read_file(qvk_test_source_path(
		"tests/fixtures/chat/conversations.txt", path, sizeof(path)), &len);
	render = qvk_test_read_file(qvk_test_source_path(
		"tests/fixtures/chat/render.txt", path, sizeof(path)), &len);
	n_convs = load_conversations(convs_text, convs);
	ck_assert_uint_ge(n_convs, 5);
	for (char *line = strtok_r(render, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char spec[64], conv_name[32], hex[16384], want[8192], got[8192];
		enum qvk_chat_template t;
		const struct conv *c = NULL;
		size_t n_want, n_got = 0;
		int add;

		if (line[0] == '#')
			continue;
		hex[0] = '\0';
		ck_assert(sscanf(line, "%63s %31s %d %16383s", spec, conv_name,
				 &add, hex) >= 3);
		for (size_t i = 0; i < n_convs; i++)
			if (!strcmp(convs[i].name, conv_name))
				c = &convs[i];
		ck_assert_msg(c, "conversation %s unknown", conv_name);
		if (!format_of(spec, &t)) {
			n_skipped++;
			continue;
		}
		n_want = unhex(hex, want);
		ck_assert_int_eq(qvk_chat_template_apply(qvk_test_ctx, t, c->msgs,
							 c->n, add, got,
							 sizeof(got), &n_got),
				 QVK_OK);
		ck_assert_msg(n_got == n_want && !memcmp(got, want, n_want),
			      "%s (%s) on '%s', assistant %d:\n qvk  '%.*s'\n "
			      "llama.cpp '%.*s'", spec, qvk_chat_template_name(t),
			      conv_name, add, (int)n_got, got, (int)n_want, want);
		n_ok++;
	}
	printf("chat formats: %zu renders equal llama.cpp's (%zu skipped: no "
	       "vocabulary file)\n", n_ok, n_skipped);
	ck_assert_uint_ge(n_ok, 16 * 6 * 2);
	free(render);
	free(convs_text);
}
END_TEST

/*
 * Template texts recognised by the marks llama.cpp looks for, in its
 * order (so a ChatML template mentioning [INST] is still ChatML).
 */
START_TEST(test_detect)
{
	static const struct {
		const char *text;
		enum qvk_chat_template want;
		const char *llama;
	} cases[] = {
		{ "{% for m in messages %}<|im_start|>{{ m['role'] }}\n", QVK_CHAT_CHATML, NULL },
		{ "<|im_start|> ... [INST]", QVK_CHAT_CHATML, NULL },
		{ "<|im_start|>{{ role }}<|im_sep|>", QVK_CHAT_PHI4, NULL },
		{ "<|im_start|><end_of_utterance>", QVK_CHAT_UNKNOWN, "smolvlm" },
		{ "{{ bos_token }}<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n", QVK_CHAT_LLAMA3, NULL },
		{ "{% if messages[0]['role'] == 'system' %}[SYSTEM_PROMPT]{% endif %}[INST]", QVK_CHAT_MISTRAL_V7, NULL },
		{ "[SYSTEM_PROMPT] without the other mark", QVK_CHAT_UNKNOWN, NULL },
		{ "{{ ' [INST] ' + system_message }}", QVK_CHAT_MISTRAL_V1, NULL },
		{ "[AVAILABLE_TOOLS] {{ \"[INST]\" }}", QVK_CHAT_MISTRAL_V3_TEKKEN, NULL },
		{ "[AVAILABLE_TOOLS][INST]", QVK_CHAT_MISTRAL_V3, NULL },
		{ "{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}", QVK_CHAT_LLAMA2_SYS_STRIP, NULL },
		{ "{{ bos_token + '[INST] ' }}<<SYS>>", QVK_CHAT_LLAMA2_SYS_BOS, NULL },
		{ "[INST] <<SYS>>\n", QVK_CHAT_LLAMA2_SYS, NULL },
		{ "[INST] {{ content }} [/INST]", QVK_CHAT_LLAMA2, NULL },
		{ "mistral", QVK_CHAT_LLAMA2, NULL },
		{ "<|user|>\n{{ content }}<|end|>\n<|assistant|>\n", QVK_CHAT_PHI3, NULL },
		{ "<|user|><|assistant|></s>", QVK_CHAT_FALCON3, NULL },
		{ "<|user|><|endoftext|>", QVK_CHAT_ZEPHYR, NULL },
		{ "<start_of_turn>user\n", QVK_CHAT_GEMMA, NULL },
		{ "USER: {{ c }} ASSISTANT: ", QVK_CHAT_UNKNOWN, "vicuna" },
		{ "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>", QVK_CHAT_UNKNOWN, "command-r" },
		{ "[gMASK]<sop><|user|>", QVK_CHAT_UNKNOWN, "chatglm4" },
		{ "{{ messages }}", QVK_CHAT_UNKNOWN, NULL },
		{ "", QVK_CHAT_UNKNOWN, NULL },
		{ "gemma", QVK_CHAT_GEMMA, NULL },
		{ "llama2-sys-bos", QVK_CHAT_LLAMA2_SYS_BOS, NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *llama = "unset";
		enum qvk_chat_template t = qvk_chat_template_detect(cases[i].text,
								    &llama);

		ck_assert_msg(t == cases[i].want, "case %zu '%s': %s, expected %s",
			      i, cases[i].text, qvk_chat_template_name(t),
			      qvk_chat_template_name(cases[i].want));
		if (cases[i].llama)
			ck_assert_str_eq(llama, cases[i].llama);
		else
			ck_assert_ptr_null(llama);
	}
	ck_assert_int_eq(qvk_chat_template_detect(NULL, NULL), QVK_CHAT_UNKNOWN);
	/* every name comes back as itself, and has an end text */
	for (int t = QVK_CHAT_UNKNOWN + 1; t < QVK_CHAT_TEMPLATE_COUNT; t++) {
		ck_assert_int_eq(qvk_chat_template_detect(
				 qvk_chat_template_name(t), NULL), t);
		ck_assert_ptr_nonnull(qvk_chat_template_end_text(t));
	}
	ck_assert_ptr_null(qvk_chat_template_name(QVK_CHAT_UNKNOWN));
	ck_assert_ptr_null(qvk_chat_template_name(QVK_CHAT_TEMPLATE_COUNT));
}
END_TEST

/* Sizing with cap 0, a buffer one byte short, bad arguments. */
START_TEST(test_apply_buffer)
{
	const struct qvk_chat_message m[2] = { { "user", "hi" },
					       { "assistant", "yo" } };
	const struct qvk_chat_message bad[1] = { { "user", NULL } };
	const char *want = "<|im_start|>user\nhi<|im_end|>\n<|im_start|>"
			   "assistant\nyo<|im_end|>\n<|im_start|>assistant\n";
	char buf[128], names[256];
	size_t len = 0;

	ck_assert_int_eq(qvk_chat_template_apply(qvk_test_ctx, QVK_CHAT_CHATML,
						 m, 2, true, NULL, 0, &len),
			 QVK_ERR_INVALID_ARG);
	ck_assert_uint_eq(len, strlen(want));
	memset(buf, 'X', sizeof(buf));
	ck_assert_int_eq(qvk_chat_template_apply(qvk_test_ctx, QVK_CHAT_CHATML,
						 m, 2, true, buf, len, &len),
			 QVK_ERR_INVALID_ARG);
	ck_assert_int_eq(buf[len], 'X'); /* nothing past the buffer */
	ck_assert_int_eq(qvk_chat_template_apply(qvk_test_ctx, QVK_CHAT_CHATML,
						 m, 2, true, buf, len + 1, &len),
			 QVK_OK);
	ck_assert_str_eq(buf, want);
	ck_assert_int_eq(qvk_chat_template_apply(qvk_test_ctx, QVK_CHAT_CHATML,
						 bad, 1, true, buf, sizeof(buf),
						 &len), QVK_ERR_INVALID_ARG);
	ck_assert_int_eq(qvk_chat_template_apply(qvk_test_ctx, QVK_CHAT_UNKNOWN,
						 m, 2, true, buf, sizeof(buf),
						 &len), QVK_ERR_INVALID_ARG);
	ck_assert_int_eq(qvk_chat_template_apply(qvk_test_ctx,
						 QVK_CHAT_TEMPLATE_COUNT, m, 2,
						 true, buf, sizeof(buf), &len),
			 QVK_ERR_INVALID_ARG);
	ck_assert_int_eq(qvk_chat_template_apply(qvk_test_ctx, QVK_CHAT_CHATML,
						 m, 2, true, buf, sizeof(buf),
						 NULL), QVK_ERR_INVALID_ARG);
	/* no messages: just the header */
	ck_assert_int_eq(qvk_chat_template_apply(qvk_test_ctx, QVK_CHAT_CHATML,
						 NULL, 0, true, buf, sizeof(buf),
						 &len), QVK_OK);
	ck_assert_str_eq(buf, "<|im_start|>assistant\n");
	ck_assert_uint_eq(qvk_chat_template_list(names, sizeof(names)),
			  strlen(names));
	ck_assert_ptr_nonnull(strstr(names, "chatml, llama3, "));
	/* a short list buffer is cut, still terminated, and the length told */
	ck_assert_uint_eq(qvk_chat_template_list(buf, 8), strlen(names));
	ck_assert_uint_eq(strlen(buf), 7);
}
END_TEST

Suite *suite_chat_template(void);
Suite *suite_chat_template(void)
{
	Suite *s = suite_create("chat_template");
	TCase *tc = tcase_create("formats");

	tcase_add_checked_fixture(tc, qvk_test_ctx_setup, qvk_test_ctx_teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_render_matches_llama_cpp);
	tcase_add_test(tc, test_detect);
	tcase_add_test(tc, test_apply_buffer);
	suite_add_tcase(s, tc);
	return s;
}
