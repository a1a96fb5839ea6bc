/* SPDX-License-Identifier: MIT */
/*
 * suite_cli_run: qvk run's options, run as a program (tests/cli.h): the
 * prompt from -p, -f and stdin; -c sizing the KV cache; a full context
 * said on stderr; the context shift checked token by token against the
 * scalar reference forward pass replaying the documented rule; stop
 * strings; --ignore-eos; --min-p; -s; --json.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/model.h>
#include <qvk/tokenizer.h>

#include "cli.h"
#include "harness.h"

#define QVK_CLI_RUN_TIMEOUT_S 600
#define QVK_CLI_MAX_IDS 1024

static char qvk_model_[512], qvk_tok_[512];

static void qvk_cli_run_setup(void)
{
	qvk_test_ctx_setup();
	qvk_test_source_path("tests/data/stories260K.bin", qvk_model_,
			     sizeof(qvk_model_));
	qvk_test_source_path("tests/data/tok512.bin", qvk_tok_, sizeof(qvk_tok_));
}

static const char qvk_prompt_[] = "Once upon a time";

START_TEST(test_prompt_sources)
{
	char dir[256], file[300], with_nl[64];
	struct qvk_cli p, f, in, both;

	qvk_test_tmpdir("cli", dir, sizeof(dir));
	snprintf(file, sizeof(file), "%s/prompt.txt", dir);
	snprintf(with_nl, sizeof(with_nl), "%s\n", qvk_prompt_);
	qvk_test_write_file(file, with_nl, strlen(with_nl));
	qvk_cli_run(&p, NULL, "run", "-m", qvk_model_, "-t", qvk_tok_, "-p",
		    qvk_prompt_, "-n", "12", "--temp", "0", NULL);
	qvk_cli_run(&f, NULL, "run", "-m", qvk_model_, "-t", qvk_tok_, "-f",
		    file, "-n", "12", "--temp", "0", NULL);
	qvk_cli_run(&in, with_nl, "run", "-m", qvk_model_, "-t", qvk_tok_, "-p",
		    "-", "-n", "12", "--temp", "0", NULL);
	ck_assert_msg(p.status == 0 && f.status == 0 && in.status == 0,
		      "%s\n%s\n%s", p.err, f.err, in.err);
	printf("-p: %s", p.out);
	ck_assert_msg(!strncmp(p.out, qvk_prompt_, strlen(qvk_prompt_)) &&
		      strlen(p.out) > strlen(qvk_prompt_) + 10, "%s", p.out);
	ck_assert_str_eq(f.out, p.out);
	ck_assert_str_eq(in.out, p.out);
	ck_assert_msg(strstr(p.err, "prompt: 5 tokens (BOS included)"), "%s",
		      p.err);
	qvk_cli_run(&both, NULL, "run", "-m", qvk_model_, "-t", qvk_tok_, "-p",
		    qvk_prompt_, "-f", file, NULL);
	ck_assert_int_eq(both.status, 2);
	ck_assert_msg(strstr(both.err, "give one prompt"), "%s", both.err);
	qvk_cli_free(&both);
	qvk_cli_free(&p);
	qvk_cli_free(&f);
	qvk_cli_free(&in);
	qvk_test_rmtree(dir);
}
END_TEST

START_TEST(test_context_full_is_said)
{
	struct qvk_cli r;

	/* no prompt: BOS alone, "1 token" */
	qvk_cli_run(&r, NULL, "run", "-m", qvk_model_, "-t", qvk_tok_, "-c",
		    "16", "-n", "100", "--temp", "0", NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_msg(strstr(r.err, "the context is full (16 tokens: 1 of the "
				    "prompt, 15 generated, whose last position "
				    "gave one more); stopped after 16 of the "
				    "100 tokens") &&
		      strstr(r.err, "--context-shift") &&
		      strstr(r.err, "-c sets the context, up to the model's 512") &&
		      strstr(r.err, "prompt: 1 token (BOS included)") &&
		      strstr(r.err, "stopped by the full context"), "%s", r.err);
	qvk_cli_free(&r);
	/* the model's own context: the same, without offering -c */
	qvk_cli_run(&r, NULL, "run", "-m", qvk_model_, "-t", qvk_tok_, "-n",
		    "600", "--temp", "0", "--json", NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	qvk_cli_json_expect(r.out, "stop", "context");
	ck_assert_int_eq(qvk_cli_json_number(r.out, "generated"), 512);
	ck_assert_msg(strstr(r.err, "stopped after 512 of the 600 tokens") &&
		      !strstr(r.err, "-c sets"), "%s", r.err);
	qvk_cli_free(&r);
	qvk_cli_run(&r, NULL, "run", "-m", qvk_model_, "-t", qvk_tok_, "-c",
		    "600", NULL);
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.err, "-c 600 exceeds the model's context of 512"),
		      "%s", r.err);
	qvk_cli_free(&r);
	qvk_cli_run(&r, NULL, "run", "-m", qvk_model_, "-t", qvk_tok_, "-c", "3",
		    "-p", qvk_prompt_, NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "the prompt has 5 tokens, the context 3 (-c)"),
		      "%s", r.err);
	qvk_cli_free(&r);
}
END_TEST

/* -c sizes the KV cache: device memory shrinks by at least its share. */
START_TEST(test_ctx_size_sizes_kv_cache)
{
	/* stories260K: 5 layers, 4 kv heads of 8, fp16 K and V */
	const double kv_bytes_per_pos = 2.0 * 5 * 4 * 8 * 2;
	struct qvk_cli full, small;
	double a, b;

	qvk_cli_run(&full, NULL, "run", "-m", qvk_model_, "-t", qvk_tok_, "-n",
		    "4", "--json", NULL);
	qvk_cli_run(&small, NULL, "run", "-m", qvk_model_, "-t", qvk_tok_,
		    "--ctx-size", "32", "-n", "4", "--json", NULL);
	ck_assert_msg(full.status == 0 && small.status == 0, "%s\n%s", full.err,
		      small.err);
	ck_assert_int_eq(qvk_cli_json_number(full.out, "context"), 512);
	ck_assert_int_eq(qvk_cli_json_number(small.out, "context"), 32);
	a = qvk_cli_json_number(full.out, "device_memory_bytes");
	b = qvk_cli_json_number(small.out, "device_memory_bytes");
	printf("device memory: %.0f bytes at context 512, %.0f at 32 (KV "
	       "cache share %.0f)\n", a, b, kv_bytes_per_pos * 480);
	ck_assert_msg(a - b >= kv_bytes_per_pos * 480 * 0.99,
		      "-c 32 saved %.0f bytes, the KV cache alone is %.0f", a - b,
		      kv_bytes_per_pos * 480);
	qvk_cli_free(&full);
	qvk_cli_free(&small);
}
END_TEST

/* Reference logits after running @hist[from..n) at positions from.. */
static const float *qvk_ref_run(struct qvk_reference *ref, const uint32_t *hist,
				uint32_t from, uint32_t n)
{
	const float *logits = NULL;

	for (uint32_t i = from; i < n; i++)
		ck_assert_int_eq(qvk_reference_forward(ref, hist[i], i, &logits),
				 QVK_OK);
	return logits;
}

/*
 * Greedy generation past a small context with --context-shift, f32
 * weights and KV cache: every token must be the reference's argmax (or
 * within 1e-3 of it, a near tie) for the window the shift rule leaves:
 * keep BOS and --n-keep prompt tokens, drop half of the rest, go on.
 */
static void qvk_check_shift(const char *prompt, const char *n_keep,
			    uint32_t ctx_len, uint32_t n_gen)
{
	struct qvk_tokenizer *tok = qvk_test_tokenizer_load(qvk_tok_);
	struct qvk_model *model = qvk_test_model_load(qvk_model_);
	uint32_t ids[QVK_CLI_MAX_IDS], hist[QVK_CLI_MAX_IDS], n_past, n_kept;
	uint32_t shifts = 0, vocab = model->params.vocab_size, near = 0;
	char c_arg[16], n_arg[16];
	struct qvk_reference *ref;
	const float *logits;
	struct qvk_cli r;
	double worst = 0;
	size_t n_prompt;
	int n;

	snprintf(c_arg, sizeof(c_arg), "%u", ctx_len);
	snprintf(n_arg, sizeof(n_arg), "%u", n_gen);
	qvk_cli_run(&r, NULL, "run", "-m", qvk_model_, "-t", qvk_tok_, "-p",
		    prompt, "--n-keep", n_keep, "-c", c_arg, "-n", n_arg,
		    "--context-shift", "--temp", "0", "--format", "f32",
		    "--kv-f32", "--ignore-eos", "--json", NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	n = qvk_cli_json_ids(r.out, "tokens", ids, QVK_CLI_MAX_IDS);
	ck_assert_int_eq(n, (int)n_gen);
	qvk_cli_json_expect(r.out, "stop", "length");

	ck_assert_int_eq(qvk_tokenizer_encode(tok, qvk_test_ctx, prompt,
					      strlen(prompt), QVK_TOKENIZE_BOS,
					      hist, QVK_CLI_MAX_IDS, &n_prompt),
			 QVK_OK);
	n_kept = !strcmp(n_keep, "-1") ? (uint32_t)n_prompt :
		 (uint32_t)fmin((double)n_prompt, 1 + strtol(n_keep, NULL, 10));
	ck_assert_int_eq(qvk_cli_json_number(r.out, "context_kept"), n_kept);
	ck_assert_int_eq(qvk_reference_create(qvk_test_ctx, model, &ref), QVK_OK);
	n_past = (uint32_t)n_prompt;
	logits = qvk_ref_run(ref, hist, 0, n_past);
	for (int i = 0; i < n; i++) {
		uint32_t best = qvk_test_argmax(logits, vocab);
		double gap = (double)logits[best] - logits[ids[i]];

		ck_assert_uint_lt(ids[i], vocab);
		ck_assert_msg(gap <= 1e-3, "token %d (after %u shifts): qvk chose "
			      "%u, the reference %u, %.4g below it", i, shifts,
			      ids[i], best, gap);
		near += ids[i] != best;
		worst = fmax(worst, gap);
		if (i + 1 == n)
			break;
		if (n_past < ctx_len) {
			hist[n_past] = ids[i];
			logits = qvk_ref_run(ref, hist, n_past, n_past + 1);
			n_past++;
			continue;
		}
		{
			uint32_t n_discard = (n_past - n_kept) / 2;

			memmove(hist + n_kept, hist + n_kept + n_discard,
				(n_past - n_kept - n_discard) * sizeof(*hist));
			n_past -= n_discard;
			hist[n_past++] = ids[i];
			logits = qvk_ref_run(ref, hist, 0, n_past);
			shifts++;
		}
	}
	printf("context %u, keep %s: %d tokens, %u shifts, all the reference's "
	       "argmax (%u near ties, worst gap %.2g)\n", ctx_len, n_keep, n,
	       shifts, near, worst);
	ck_assert_uint_ge(shifts, 3);
	ck_assert_int_eq(qvk_cli_json_number(r.out, "context_shifts"), shifts);
	ck_assert_msg(strstr(r.out, "\"stop\":\"length\""), "%s", r.out);
	qvk_reference_destroy(ref);
	qvk_model_destroy(model);
	qvk_tokenizer_destroy(tok);
	qvk_cli_free(&r);
}

START_TEST(test_context_shift_matches_reference)
{
	qvk_check_shift("", "0", 24, 80);
	qvk_check_shift(qvk_prompt_, "2", 20, 60);
	qvk_check_shift(qvk_prompt_, "-1", 14, 40);
}
END_TEST

START_TEST(test_stop_strings)
{
	struct qvk_cli base, r, j, many;
	char *text, *stop_text, stop[8], expect[512];
	const char *at;
	size_t len, k = 0;
	int spaces = 0;

	qvk_cli_run(&base, NULL, "run", "-m", qvk_model_, "-t", qvk_tok_, "-n",
		    "40", "--temp", "0", "--json", NULL);
	ck_assert_msg(base.status == 0, "%s", base.err);
	text = qvk_cli_json_string(base.out, "text", &len);
	/*
	 * Five bytes from the second letter of the fourth word on: across
	 * token boundaries, so the streamed text must hold back a prefix.
	 */
	while (k < len && spaces < 3)
		spaces += text[k++] == ' ';
	ck_assert_uint_lt(k + 6, len);
	snprintf(stop, sizeof(stop), "%.5s", text + k + 1);
	at = strstr(text, stop);
	snprintf(expect, sizeof(expect), "%.*s\n", (int)(at - text), text);
	printf("stop string '%s' at byte %zu of: %s\n", stop, (size_t)(at - text),
	       text);
	qvk_cli_run(&r, NULL, "run", "-m", qvk_model_, "-t", qvk_tok_, "-n",
		    "40", "--temp", "0", "--stop", "never-there", "--stop", stop,
		    NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_str_eq(r.out, expect);
	ck_assert_msg(strstr(r.err, "stopped by a --stop string"), "%s", r.err);
	qvk_cli_run(&j, NULL, "run", "-m", qvk_model_, "-t", qvk_tok_, "-n",
		    "40", "--temp", "0", "--stop", stop, "--json", NULL);
	stop_text = qvk_cli_json_string(j.out, "text", NULL);
	qvk_cli_json_expect(j.out, "stop", "stop");
	ck_assert_int_eq(strlen(stop_text) + 1, strlen(expect));
	ck_assert(!strncmp(stop_text, expect, strlen(stop_text)));
	/* at most 16 */
	qvk_cli_run(&many, NULL, "run", "-m", qvk_model_, "--stop", "a",
		    "--stop", "b", "--stop", "c", "--stop", "d", "--stop", "e",
		    "--stop", "f", "--stop", "g", "--stop", "h", "--stop", "i",
		    "--stop", "j", "--stop", "k", "--stop", "l", "--stop", "m",
		    "--stop", "n", "--stop", "o", "--stop", "p", "--stop", "q",
		    NULL);
	ck_assert_int_eq(many.status, 2);
	ck_assert_msg(strstr(many.err, "at most 16"), "%s", many.err);
	free(text);
	free(stop_text);
	qvk_cli_free(&base);
	qvk_cli_free(&r);
	qvk_cli_free(&j);
	qvk_cli_free(&many);
}
END_TEST

START_TEST(test_json_seed_and_min_p)
{
	static const char *const keys[] = {
		"prompt_tokens", "generated", "prefill_tokens_per_s", "ttft_ms",
		"decode_tokens_per_s", "seed", "context", "context_shifts",
		"reprefilled_tokens", "shift_ms", "device_memory_bytes",
	};
	uint32_t a[64], b[64], g[64];
	struct qvk_cli s, seed, text, greedy, minp;
	char *json_text, with_nl[512];
	int na, nb, ng;

	qvk_cli_run(&s, NULL, "run", "-m", qvk_model_, "-t", qvk_tok_, "-n",
		    "24", "--temp", "0.9", "-s", "42", "--json", NULL);
	qvk_cli_run(&seed, NULL, "run", "-m", qvk_model_, "-t", qvk_tok_, "-n",
		    "24", "--temp", "0.9", "--seed", "42", "--json", NULL);
	qvk_cli_run(&text, NULL, "run", "-m", qvk_model_, "-t", qvk_tok_, "-n",
		    "24", "--temp", "0.9", "-s", "42", NULL);
	ck_assert_msg(s.status == 0 && seed.status == 0 && text.status == 0,
		      "%s", s.err);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ck_assert(isfinite(qvk_cli_json_number(s.out, keys[i])));
	ck_assert_int_eq(qvk_cli_json_number(s.out, "seed"), 42);
	ck_assert_int_eq(qvk_cli_json_number(s.out, "generated"), 24);
	ck_assert_msg(strstr(s.out, "\"energy\":{\"available\":"), "%s", s.out);
	/* --json alone is on stdout, nothing but errors on stderr */
	ck_assert_msg(s.out[0] == '{' && !strchr(s.out, '\n')[1], "%s", s.out);
	ck_assert_msg(!strstr(s.err, "prompt:"), "%s", s.err);
	na = qvk_cli_json_ids(s.out, "tokens", a, 64);
	nb = qvk_cli_json_ids(seed.out, "tokens", b, 64);
	ck_assert_int_eq(na, 24);
	ck_assert_int_eq(nb, 24);
	ck_assert(!memcmp(a, b, sizeof(a[0]) * 24));
	/* the streamed text is the JSON text */
	json_text = qvk_cli_json_string(s.out, "text", NULL);
	snprintf(with_nl, sizeof(with_nl), "%s\n", json_text);
	ck_assert_str_eq(text.out, with_nl);
	free(json_text);
	/* min-p 1 leaves the most likely token only: greedy at any T */
	qvk_cli_run(&greedy, NULL, "run", "-m", qvk_model_, "-t", qvk_tok_, "-n",
		    "24", "--temp", "0", "--json", NULL);
	qvk_cli_run(&minp, NULL, "run", "-m", qvk_model_, "-t", qvk_tok_, "-n",
		    "24", "--temp", "1.5", "--min-p", "1", "-s", "7", "--json",
		    NULL);
	ng = qvk_cli_json_ids(greedy.out, "tokens", g, 64);
	ck_assert_int_eq(qvk_cli_json_ids(minp.out, "tokens", b, 64), ng);
	ck_assert(!memcmp(g, b, sizeof(g[0]) * (size_t)ng));
	ck_assert_msg(memcmp(a, g, sizeof(a[0]) * 24),
		      "temperature 0.9 gave the greedy tokens: no test");
	qvk_cli_free(&s);
	qvk_cli_free(&seed);
	qvk_cli_free(&text);
	qvk_cli_free(&greedy);
	qvk_cli_free(&minp);
}
END_TEST

/* @src with tokenizer.ggml.eos_token_id replaced by @eos, into @dst. */
static void qvk_gguf_with_eos(const char *src, const char *dst, uint32_t eos)
{
	struct qvk_gguf_writer *w;
	struct qvk_gguf *g;

	ck_assert_int_eq(qvk_gguf_open(qvk_test_ctx, src, &g), QVK_OK);
	ck_assert_int_eq(qvk_gguf_writer_create(qvk_test_ctx, &w), QVK_OK);
	for (uint64_t i = 0; i < qvk_gguf_kv_count(g); i++)
		ck_assert_int_eq(qvk_gguf_writer_copy_kv(w, qvk_gguf_kv_at(g, i)),
				 QVK_OK);
	ck_assert_int_eq(qvk_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id",
						 eos), QVK_OK);
	for (uint64_t i = 0; i < qvk_gguf_tensor_count(g); i++)
		ck_assert_int_eq(qvk_gguf_writer_add_tensor(w, qvk_gguf_tensor_at(g, i)),
				 QVK_OK);
	ck_assert_int_eq(qvk_gguf_writer_write(w, dst), QVK_OK);
	qvk_gguf_writer_destroy(w);
	qvk_gguf_close(g);
}

/*
 * stories260K never ends a text within 512 tokens, so the test makes a
 * token it does produce the end-of-text token of a copy of the model.
 */
START_TEST(test_ignore_eos)
{
	char dir[256], q8[300], eos_file[300], eos_arg[16];
	uint32_t base[64], ids[64], eos = 0;
	struct qvk_cli r;
	int n, at = -1;

	qvk_test_tmpdir("cli", dir, sizeof(dir));
	snprintf(q8, sizeof(q8), "%s/q8.gguf", dir);
	snprintf(eos_file, sizeof(eos_file), "%s/eos.gguf", dir);
	qvk_cli_run(&r, NULL, "quantize", qvk_model_, q8, "-t", qvk_tok_, NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	qvk_cli_free(&r);
	qvk_cli_run(&r, NULL, "run", "-m", q8, "-n", "40", "--temp", "0",
		    "--json", NULL);
	ck_assert_int_eq(qvk_cli_json_ids(r.out, "tokens", base, 64), 40);
	qvk_cli_free(&r);
	/* the first token after the 5th that has not come before */
	for (int i = 5; i < 40 && at < 0; i++) {
		at = i;
		for (int j = 0; j < i; j++)
			if (base[j] == base[i])
				at = -1;
	}
	ck_assert_int_ge(at, 5);
	eos = base[at];
	printf("token %u (first at %d) becomes the end-of-text token\n", eos, at);
	qvk_gguf_with_eos(q8, eos_file, eos);
	snprintf(eos_arg, sizeof(eos_arg), "%u", eos);

	qvk_cli_run(&r, NULL, "run", "-m", eos_file, "-n", "40", "--temp", "0",
		    "--json", NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	qvk_cli_json_expect(r.out, "stop", "eos");
	ck_assert_int_eq(qvk_cli_json_ids(r.out, "tokens", ids, 64), at);
	ck_assert(!memcmp(ids, base, sizeof(ids[0]) * (size_t)at));
	qvk_cli_free(&r);
	qvk_cli_run(&r, NULL, "run", "-m", eos_file, "-n", "40", "--temp", "0",
		    "--ignore-eos", "--json", NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	qvk_cli_json_expect(r.out, "stop", "length");
	n = qvk_cli_json_ids(r.out, "tokens", ids, 64);
	ck_assert_int_eq(n, 40);
	ck_assert(!memcmp(ids, base, sizeof(ids[0]) * (size_t)at));
	for (int i = 0; i < n; i++)
		ck_assert_msg(ids[i] != eos, "--ignore-eos picked %u at %d",
			      eos, i);
	qvk_cli_free(&r);
	qvk_test_rmtree(dir);
}
END_TEST

Suite *suite_cli_run(void);
Suite *suite_cli_run(void)
{
	Suite *s = suite_create("cli_run");
	TCase *tc = tcase_create("run");

	tcase_add_checked_fixture(tc, qvk_cli_run_setup, qvk_test_ctx_teardown);
	tcase_set_timeout(tc, QVK_CLI_RUN_TIMEOUT_S);
	tcase_add_test(tc, test_prompt_sources);
	tcase_add_test(tc, test_context_full_is_said);
	tcase_add_test(tc, test_ctx_size_sizes_kv_cache);
	tcase_add_test(tc, test_context_shift_matches_reference);
	tcase_add_test(tc, test_stop_strings);
	tcase_add_test(tc, test_json_seed_and_min_p);
	tcase_add_test(tc, test_ignore_eos);
	suite_add_tcase(s, tc);
	return s;
}
