/* SPDX-License-Identifier: MIT */
/*
 * qvk chat, driven through stdin like a user would: three turns with the
 * real chat templates of the qwen2 and phi-3 vocabulary files and a
 * synthetic model (tests/chat_model.c) that answers "Hello world" and then
 * its format's end token. Each turn's prompt tokens (--verbose-prompt)
 * must equal llama.cpp's for the same messages (tests/fixtures/chat/
 * turns.txt, from llama_chat_apply_template and llama_tokenize), start
 * where the previous turn's tokens ended (the KV cache is kept), and the
 * replies must stop at the end token. Also: a full context, a model
 * without a template, a bad --template.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/chat.h>
#include <qvk/tokenizer.h>

#include "chat_model.h"
#include "cli.h"
#include "harness.h"

#define MAX_IDS 256

static const char *const users[3] = { "Hello!", "What is 2+2?",
				       "Thanks, bye." };

/* The ids llama.cpp gave turn @turn of @vocab (turns.txt); their count. */
static size_t fixture_turn(const char *vocab, int turn, uint32_t *ids)
{
	char path[4096], *text, *line, *save = NULL, head[128];
	size_t len, n = 0;

	text = qvk_test_read_file(qvk_test_source_path(
		"tests/fixtures/chat/turns.txt", path, sizeof(path)), &len);
	snprintf(head, sizeof(head), "%s %d ", vocab, turn);
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, head, strlen(head)))
			continue;
		for (char *p = line + strlen(head), *end;; p = end) {
			unsigned long v = strtoul(p, &end, 10);

			if (end == p)
				break;
			ck_assert_uint_lt(n, MAX_IDS);
			ids[n++] = (uint32_t)v;
		}
		break;
	}
	free(text);
	ck_assert_msg(n, "turns.txt has no turn %d of %s", turn, vocab);
	return n;
}

/* "turn K: N prompt tokens at position P: ids" from qvk's stderr. */
static size_t parse_turn(const char *err, int turn, uint32_t *pos,
			 uint32_t *ids)
{
	char head[64];
	const char *p;
	size_t n = 0, count;
	int used;

	snprintf(head, sizeof(head), "turn %d: ", turn);
	for (p = strstr(err, head); p; p = strstr(p + 1, head))
		if (sscanf(p + strlen(head), "%zu prompt tokens at position %u:%n",
			   &count, pos, &used) == 2)
			break;
	ck_assert_msg(p, "no prompt line for turn %d in:\n%s", turn, err);
	p += strlen(head) + (size_t)used;
	for (char *end;; p = end) {
		unsigned long v = strtoul(p, &end, 10);

		if (end == p || n == MAX_IDS)
			break;
		ids[n++] = (uint32_t)v;
	}
	ck_assert_uint_eq(n, count);
	return n;
}

static uint32_t one_token(struct qvk_tokenizer *tok, const char *text,
			  unsigned flags)
{
	uint32_t ids[QVK_TOKENIZE_MAX(32)];
	size_t n;

	ck_assert_int_eq(qvk_tokenizer_encode(tok, qvk_test_ctx, text,
					      strlen(text), flags, ids,
					      QVK_TOKENIZE_MAX(32), &n), QVK_OK);
	ck_assert_msg(n == 1, "'%s' is %zu tokens, not one", text, n);
	return ids[0];
}

struct chat_case {
	const char *vocab;    /* a ggml-vocab file with a chat template */
	const char *system;   /* --system, or NULL */
	const char *words[2]; /* the two reply tokens' texts */
	const char *reply;    /* what they decode to after the header */
};

/* A fresh folder and the synthetic model's path in it. */
static void chat_paths(char *dir, size_t dir_len, char *model, size_t len)
{
	qvk_test_tmpdir("cli", dir, dir_len);
	snprintf(model, len, "%s/model.gguf", dir);
}

/*
 * Write the synthetic model of @c: it answers c->words after @first, the
 * last token of every prompt, and ends with the format's end token.
 */
static void chat_setup(const struct chat_case *c, const char *vocab_path,
		       const char *model, uint32_t first)
{
	struct qvk_tokenizer *tok = qvk_test_tokenizer_load(vocab_path);
	enum qvk_chat_template t = qvk_chat_template_detect(
		qvk_tokenizer_chat_template(tok), NULL);
	struct qvk_test_chat_plan plan = { .first = first };
	size_t l0, l1;
	const char *p0, *p1;

	ck_assert_int_ne(t, QVK_CHAT_UNKNOWN);
	plan.reply[0] = one_token(tok, c->words[0], 0);
	plan.reply[1] = one_token(tok, c->words[1], 0);
	plan.end = one_token(tok, qvk_chat_template_end_text(t),
			     QVK_TOKENIZE_PARSE_SPECIAL);
	ck_assert(qvk_tokenizer_is_eog(tok, plan.end));
	/* the reply as qvk chat prints it: decoded after the header */
	p0 = qvk_tokenizer_decode(tok, first, plan.reply[0], &l0);
	p1 = qvk_tokenizer_decode(tok, plan.reply[0], plan.reply[1], &l1);
	ck_assert(l0 + l1 == strlen(c->reply) && !memcmp(c->reply, p0, l0) &&
		  !memcmp(c->reply + l0, p1, l1));
	qvk_test_write_chat_model(vocab_path, model, 256, &plan,
				  qvk_test_seed("chat model"));
	qvk_tokenizer_destroy(tok);
}

static void check_three_turns(const struct chat_case *c)
{
	char path[4096], dir[256], model[300], lines[256], ctx_arg[16];
	char expect_out[256];
	uint32_t want[MAX_IDS], got[MAX_IDS], pos, next_pos = 0;
	size_t n_want, n_got;
	struct qvk_cli r;

	if (!qvk_test_model_path(c->vocab, path, sizeof(path)))
		return;
	chat_paths(dir, sizeof(dir), model, sizeof(model));
	n_want = fixture_turn(c->vocab, 1, want);
	chat_setup(c, path, model, want[n_want - 1]);
	/* an empty line between turns is skipped */
	snprintf(lines, sizeof(lines), "%s\n%s\n\n%s\n", users[0], users[1],
		 users[2]);
	qvk_cli_run(&r, lines, "chat", "-m", model, "--temp", "0", "-n", "16",
		    "--verbose-prompt", c->system ? "--system" : NULL, c->system,
		    NULL);
	printf("%s", r.err);
	ck_assert_int_eq(r.status, 0);
	for (int turn = 1; turn <= 3; turn++) {
		char stop[96];

		n_want = fixture_turn(c->vocab, turn, want);
		n_got = parse_turn(r.err, turn, &pos, got);
		ck_assert_msg(n_got == n_want &&
			      !memcmp(got, want, n_want * sizeof(*got)),
			      "%s turn %d: %zu prompt tokens, llama.cpp %zu",
			      c->vocab, turn, n_got, n_want);
		/* the cache is kept: this turn starts where the last ended */
		ck_assert_uint_eq(pos, next_pos);
		next_pos = pos + (uint32_t)n_got + 2;
		snprintf(stop, sizeof(stop), "turn %d: 2 tokens generated, "
			 "stopped by an end token", turn);
		ck_assert_msg(strstr(r.err, stop), "no '%s'", stop);
	}
	snprintf(expect_out, sizeof(expect_out), "%s\n%s\n%s\n", c->reply,
		 c->reply, c->reply);
	ck_assert_str_eq(r.out, expect_out);
	printf("%s: 3 turns, prompt tokens equal llama.cpp's, positions 0..%u\n",
	       c->vocab, next_pos);
	qvk_cli_free(&r);

	/* a context that holds turn 1 (and its reply) but not turn 2 */
	n_want = fixture_turn(c->vocab, 1, want);
	snprintf(ctx_arg, sizeof(ctx_arg), "%zu", n_want + 4);
	qvk_cli_run(&r, lines, "chat", "-m", model, "--temp", "0", "-c", ctx_arg,
		    c->system ? "--system" : NULL, c->system, NULL);
	printf("%s", r.err);
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "the context is full"));
	snprintf(expect_out, sizeof(expect_out), "%s\n", c->reply);
	ck_assert_str_eq(r.out, expect_out);
	qvk_cli_free(&r);
	qvk_test_rmtree(dir);
}

START_TEST(test_three_turns_qwen2)
{
	static const struct chat_case c = {
		"ggml-vocab-qwen2.gguf", "You are a terse assistant.",
		{ "Hello", " world" }, "Hello world" };

	check_three_turns(&c);
}
END_TEST

START_TEST(test_three_turns_phi3)
{
	static const struct chat_case c = {
		"ggml-vocab-phi-3.gguf", NULL, { "Hello", "world" },
		" Hello world" };

	check_three_turns(&c);
}
END_TEST

/*
 * Llama 3's vocabulary file has no chat template: qvk chat says so and
 * names --template; with --template llama3 it chats; a bad name is a
 * usage error listing the names.
 */
START_TEST(test_template_option)
{
	char path[4096], dir[256], model[300];
	struct qvk_tokenizer *tok;
	struct qvk_test_chat_plan plan;
	struct qvk_cli r;

	if (!qvk_test_model_path("ggml-vocab-llama-bpe.gguf", path, sizeof(path)))
		return;
	chat_paths(dir, sizeof(dir), model, sizeof(model));
	tok = qvk_test_tokenizer_load(path);
	ck_assert_ptr_null(qvk_tokenizer_chat_template(tok));
	/* the header ends with "\n\n"; the reply is "Hello world" */
	plan.first = one_token(tok, "\n\n", 0);
	plan.reply[0] = one_token(tok, "Hello", 0);
	plan.reply[1] = one_token(tok, " world", 0);
	plan.end = one_token(tok, "<|eot_id|>", QVK_TOKENIZE_PARSE_SPECIAL);
	qvk_tokenizer_destroy(tok);
	qvk_test_write_chat_model(path, model, 128, &plan,
				  qvk_test_seed("chat model"));

	qvk_cli_run(&r, "Hi\n", "chat", "-m", model, NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "has no tokenizer.chat_template"));
	ck_assert_ptr_nonnull(strstr(r.err, "--template NAME"));
	qvk_cli_free(&r);

	qvk_cli_run(&r, "Hi\n", "chat", "-m", model, "--template", "jinja", NULL);
	ck_assert_int_eq(r.status, 2);
	ck_assert_ptr_nonnull(strstr(r.err, "'jinja'"));
	ck_assert_ptr_nonnull(strstr(r.err, "chatml, llama3"));
	qvk_cli_free(&r);

	qvk_cli_run(&r, "Hi\n", "chat", "-m", model, "--temp", "0",
		    "--template", "llama3", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, "Hello world\n");
	qvk_cli_free(&r);
	qvk_test_rmtree(dir);
}
END_TEST

Suite *suite_chat(void);
Suite *suite_chat(void)
{
	Suite *s = suite_create("chat");
	TCase *tc = tcase_create("session");

	tcase_add_checked_fixture(tc, qvk_test_ctx_setup, qvk_test_ctx_teardown);
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, test_three_turns_qwen2);
	tcase_add_test(tc, test_three_turns_phi3);
	tcase_add_test(tc, test_template_option);
	suite_add_tcase(s, tc);
	return s;
}
