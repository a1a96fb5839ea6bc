/* SPDX-License-Identifier: MIT */
/*
 * suite_cli: the qvk command as a user meets it, run as a program
 * (tests/cli.h): error messages say what is wrong in plain words, a
 * --keep rule that matches nothing is said (an error in qvk quantize, a
 * warning in qvk run), qvk quantize checks OUT before any work and
 * refuses to requantize without --allow-requantize, and qvk ppl says what
 * its reference is (or that there is none), scores exactly --max-tokens
 * and implements --profile. --help texts are in check_cli_help.c, qvk
 * run's options in check_cli_run.c.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "harness.h"

#define QVK_CLI_TCASE_TIMEOUT_S 600

static char qvk_model_[512], qvk_tok_[512];

static void qvk_cli_paths(void)
{
	qvk_test_source_path("tests/data/stories260K.bin", qvk_model_,
			     sizeof(qvk_model_));
	qvk_test_source_path("tests/data/tok512.bin", qvk_tok_, sizeof(qvk_tok_));
}

START_TEST(test_missing_file_says_errno)
{
	struct qvk_cli r;

	qvk_cli_run(&r, NULL, "run", "-m", "/nonexistent/model.gguf", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "cannot open: No such file or directory"),
		      "%s", r.err);
	ck_assert_uint_eq(qvk_cli_count(r.err, "/nonexistent/model.gguf"), 1);
	qvk_cli_free(&r);
	qvk_cli_run(&r, NULL, "ppl", "-m", "/nonexistent/model.gguf", "-f",
		    "/nonexistent/text.txt", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "No such file or directory"), "%s", r.err);
	qvk_cli_free(&r);
}
END_TEST

/*
 * qvk info names the default device and the kernels its tuning chose; a
 * setting that stops a kernel's set-up is named on stderr, the rest of
 * the report still printed and --json still one object.
 */
START_TEST(test_info_reports_kernels)
{
	struct qvk_cli r;
	char *mm;

	qvk_cli_run(&r, NULL, "info", NULL);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strstr(r.out, "  [default]\n"), "%s", r.out);
	ck_assert_msg(strstr(r.out, "\n  matmul kernels:   q8 "), "%s", r.out);
	ck_assert_msg(strstr(r.out, "\n  decode attention: "), "%s", r.out);
	qvk_cli_free(&r);

	ck_assert_int_eq(setenv("QVK_ATTN_PREFILL", "bogus", 1), 0);
	qvk_cli_run(&r, NULL, "info", "--json", NULL);
	ck_assert_int_eq(unsetenv("QVK_ATTN_PREFILL"), 0);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strstr(r.err, "decode attention unavailable: "
				    "QVK_ATTN_PREFILL=bogus"), "%s", r.err);
	ck_assert(qvk_cli_json_is_null(r.out, "decode_attention"));
	mm = qvk_cli_json_string(r.out, "matmul_kernels", NULL);
	ck_assert_msg(!strncmp(mm, "q8 ", 3), "%s", mm);
	free(mm);
	qvk_cli_free(&r);
}
END_TEST

START_TEST(test_folder_as_input)
{
	char dir[256], text[300];
	struct qvk_cli r;

	qvk_test_tmpdir("cli", dir, sizeof(dir));
	qvk_cli_run(&r, NULL, "run", "-m", dir, NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "is a folder, not a model file"), "%s",
		      r.err);
	ck_assert_msg(!strstr(r.err, "too short"), "%s", r.err);
	qvk_cli_free(&r);
	qvk_cli_run(&r, NULL, "run", "-m", qvk_model_, "-t", dir, NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "is a folder"), "%s", r.err);
	qvk_cli_free(&r);
	/* a text file that is a folder, before any model work */
	snprintf(text, sizeof(text), "%s", dir);
	qvk_cli_run(&r, NULL, "run", "-m", qvk_model_, "-t", qvk_tok_, "-f",
		    text, NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "Is a directory"), "%s", r.err);
	qvk_cli_free(&r);
	qvk_test_rmtree(dir);
}
END_TEST

/* A file-format limit is not worded as a device limit. */
START_TEST(test_unsupported_is_not_a_device_limit)
{
	static const unsigned char v1[] = { 'G', 'G', 'U', 'F', 1, 0, 0, 0,
					    0, 0, 0, 0, 0, 0, 0, 0 };
	char dir[256], path[300];
	struct qvk_cli r;

	qvk_test_tmpdir("cli", dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/v1.gguf", dir);
	qvk_test_write_file(path, v1, sizeof(v1));
	qvk_cli_run(&r, NULL, "run", "-m", path, NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "not supported: GGUF: version 1"), "%s",
		      r.err);
	ck_assert_msg(strstr(r.err, "qvk reads versions 2 and 3"), "%s", r.err);
	ck_assert_msg(!strstr(r.err, "device"), "%s", r.err);
	qvk_cli_free(&r);
	qvk_test_rmtree(dir);
}
END_TEST

START_TEST(test_usage_hint_once)
{
	struct qvk_cli r;

	qvk_cli_run(&r, NULL, "quantize", "only-in.gguf", NULL);
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(qvk_cli_count(r.err, "(see qvk quantize --help)") == 1,
		      "%s", r.err);
	qvk_cli_free(&r);
}
END_TEST

/* ------------------------------------------------------- qvk quantize */

static void qvk_cli_quantize_q8(const char *out)
{
	struct qvk_cli r;

	qvk_cli_run(&r, NULL, "quantize", qvk_model_, out, "-t", qvk_tok_,
		    "--format", "q8", NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	qvk_cli_free(&r);
}

START_TEST(test_quantize_checks_out_first)
{
	char dir[256], out[300], calib[300];
	struct qvk_cli r;
	struct stat sb;

	qvk_test_tmpdir("cli", dir, sizeof(dir));
	/* calibration that would run first if OUT were checked last */
	snprintf(calib, sizeof(calib), "%s/calib.txt", dir);
	qvk_test_write_file(calib, "Once upon a time there was a cat.", 33);
	snprintf(out, sizeof(out), "%s/no-such-folder/out.gguf", dir);
	qvk_cli_run(&r, NULL, "quantize", qvk_model_, out, "-t", qvk_tok_,
		    "--method", "smoothquant", "--calib", calib, NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "cannot write OUT") &&
		      strstr(r.err, "No such file or directory"), "%s", r.err);
	ck_assert_msg(!strstr(r.err, "calibrating") && !strstr(r.err, "quantizing"),
		      "work started before OUT was checked:\n%s", r.err);
	qvk_cli_free(&r);
	qvk_cli_run(&r, NULL, "quantize", qvk_model_, dir, "-t", qvk_tok_, NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "is a folder"), "%s", r.err);
	qvk_cli_free(&r);
	/* the probe of OUT's folder leaves nothing behind */
	snprintf(out, sizeof(out), "%s/out.gguf", dir);
	qvk_cli_quantize_q8(out);
	ck_assert_int_eq(stat(out, &sb), 0);
	{
		DIR *d = opendir(dir);
		struct dirent *e;
		int n = 0;

		ck_assert_ptr_nonnull(d);
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
				printf("  %s\n", e->d_name);
				n++;
			}
		closedir(d);
		ck_assert_msg(n == 2, "%d files in %s: calib.txt and out.gguf "
			      "expected", n, dir);
	}
	qvk_test_rmtree(dir);
}
END_TEST

START_TEST(test_quantize_refuses_requantize)
{
	char dir[256], q8[300], q4[300], f16[300];
	struct qvk_cli r;
	struct stat sb;

	qvk_test_tmpdir("cli", dir, sizeof(dir));
	snprintf(q8, sizeof(q8), "%s/q8.gguf", dir);
	snprintf(q4, sizeof(q4), "%s/q4.gguf", dir);
	snprintf(f16, sizeof(f16), "%s/f16.gguf", dir);
	qvk_cli_quantize_q8(q8);
	qvk_cli_run(&r, NULL, "quantize", q8, q4, "--format", "q4", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "already holds quantized weights") &&
		      strstr(r.err, "Q8_0") && strstr(r.err, "--allow-requantize"),
		      "%s", r.err);
	ck_assert_msg(stat(q4, &sb) != 0, "%s was written", q4);
	qvk_cli_free(&r);
	qvk_cli_run(&r, NULL, "quantize", q8, q4, "--format", "q4",
		    "--allow-requantize", NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_int_eq(stat(q4, &sb), 0);
	qvk_cli_free(&r);
	/* dequantizing to float adds no rounding: allowed */
	qvk_cli_run(&r, NULL, "quantize", q8, f16, "--format", "f16", NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	qvk_cli_free(&r);
	qvk_test_rmtree(dir);
}
END_TEST

/*
 * A --keep rule that matches nothing: qvk quantize refuses before any
 * work and writes nothing; qvk run warns and runs. README's example
 * output.weight=f16 does match stories260K's classifier, tied to
 * token_embd.weight.
 */
START_TEST(test_keep_matching_nothing)
{
	char dir[256], out[300];
	struct qvk_cli r;
	struct stat sb;

	qvk_test_tmpdir("cli", dir, sizeof(dir));
	snprintf(out, sizeof(out), "%s/out.gguf", dir);
	qvk_cli_run(&r, NULL, "quantize", qvk_model_, out, "-t", qvk_tok_,
		    "--keep", "output.weight=f16,blk.*.ffn_dwn.weight=f32", NULL);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(strstr(r.err, "--keep 'blk.*.ffn_dwn.weight=f32' matches "
				    "no tensor") &&
		      !strstr(r.err, "quantizing"), "%s", r.err);
	ck_assert_msg(stat(out, &sb) != 0, "%s was written", out);
	qvk_cli_free(&r);
	qvk_cli_run(&r, NULL, "run", "-m", qvk_model_, "-t", qvk_tok_, "-n", "2",
		    "--keep", "output.weight=f16,nope*=f32", NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_msg(qvk_cli_count(r.err, "matched no linear layer") == 1 &&
		      strstr(r.err, "--keep 'nope*=f32' matched no linear layer") &&
		      strstr(r.err, "classifier f16"), "%s", r.err);
	qvk_cli_free(&r);
	qvk_test_rmtree(dir);
}
END_TEST

/* A fresh folder @dir holding calib.txt (@calib): about 4 KiB of text. */
static void qvk_cli_calib_text(char *dir, size_t dir_len, char *calib,
			       size_t calib_len)
{
	char text[4096] = "";

	qvk_test_tmpdir("cli", dir, dir_len);
	while (strlen(text) < sizeof(text) - 80)
		strcat(text, "Once upon a time, there was a little girl named "
			     "Lily. ");
	snprintf(calib, calib_len, "%s/calib.txt", dir);
	qvk_test_write_file(calib, text, strlen(text));
}

/* Each stage's progress ends once ("awq: done" came once per trial). */
START_TEST(test_quantize_progress_once)
{
	char dir[256], out[300], calib[300];
	struct qvk_cli r;

	qvk_cli_calib_text(dir, sizeof(dir), calib, sizeof(calib));
	snprintf(out, sizeof(out), "%s/awq.gguf", dir);
	qvk_cli_run(&r, NULL, "quantize", qvk_model_, out, "-t", qvk_tok_,
		    "--method", "awq", "--calib", calib, "--calib-tokens", "256",
		    NULL);
	if (r.status && strstr(r.err, "needs BLAS")) {
		printf("SKIP: this qvk has no AWQ (QVK_BLAS=0)\n");
	} else {
		ck_assert_msg(r.status == 0, "%s", r.err);
		for (const char *p = r.err; (p = strstr(p, ": done\n")); p++) {
			const char *line = p;
			char what[128];

			while (line > r.err && line[-1] != '\n' && line[-1] != '\r')
				line--;
			snprintf(what, sizeof(what), "%.*s: done\n",
				 (int)(p - line), line);
			ck_assert_msg(qvk_cli_count(r.err, what) == 1,
				      "'%.*s' printed %u times:\n%s",
				      (int)strlen(what) - 1, what,
				      qvk_cli_count(r.err, what), r.err);
		}
	}
	qvk_cli_free(&r);
	qvk_test_rmtree(dir);
}
END_TEST

/* --calib-device: each choice says which path ran; a bad one is refused. */
START_TEST(test_quantize_calib_device)
{
	static const struct { const char *where, *method, *says; } cases[] = {
		{ "gpu", "smoothquant", "calibration: on the device " },
		{ "cpu", "smoothquant", "calibration: on the CPU (--calib-device cpu)" },
		{ "auto", "gptq", "GPTQ calibrates sequentially" },
	};
	char dir[256], out[300], calib[300];
	struct qvk_cli r;

	qvk_cli_calib_text(dir, sizeof(dir), calib, sizeof(calib));
	snprintf(out, sizeof(out), "%s/out.gguf", dir);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		qvk_cli_run(&r, NULL, "quantize", qvk_model_, out, "-t", qvk_tok_,
			    "--method", cases[i].method, "--calib", calib,
			    "--calib-tokens", "200", "--calib-ctx", "64",
			    "--calib-device", cases[i].where, NULL);
		ck_assert_msg(r.status == 0 || strstr(r.err, "needs BLAS"),
			      "%s: %s", cases[i].where, r.err);
		ck_assert_msg(qvk_cli_count(r.err, cases[i].says) == 1,
			      "--calib-device %s does not say '%s' once:\n%s",
			      cases[i].where, cases[i].says, r.err);
		if (!strcmp(cases[i].where, "gpu"))
			ck_assert_msg(strstr(r.err, "calibrating on the device: "
					     "done"), "%s", r.err);
		qvk_cli_free(&r);
	}
	qvk_cli_run(&r, NULL, "quantize", qvk_model_, out, "-t", qvk_tok_,
		    "--method", "awq", "--calib", calib, "--calib-device", "npu",
		    NULL);
	ck_assert_int_eq(r.status, 2);
	ck_assert_msg(strstr(r.err, "--calib-device 'npu': use auto, gpu or cpu"),
		      "%s", r.err);
	qvk_cli_free(&r);
	qvk_test_rmtree(dir);
}
END_TEST

/* ------------------------------------------------------------ qvk ppl */

/* A fresh folder @dir holding text.txt (@text): ~700 stories260K tokens. */
static void qvk_cli_text(char *dir, size_t dir_len, char *text, size_t len)
{
	static const char s[] =
		"Once upon a time, there was a little girl named Lily. She "
		"loved to play outside with her friends. One day, Lily's mom "
		"told her that they were going to the park. Lily was very "
		"happy and ran to get her shoes. At the park, she saw a big "
		"dog and a red ball. The dog wanted to play with the ball too. "
		"Lily threw the ball and the dog ran after it. They played "
		"all day and had lots of fun.\n\n";
	char body[sizeof(s) * 6] = "";

	for (int i = 0; i < 5; i++)
		strcat(body, s);
	qvk_test_tmpdir("cli", dir, dir_len);
	snprintf(text, len, "%s/text.txt", dir);
	qvk_test_write_file(text, body, strlen(body));
}

START_TEST(test_ppl_says_its_reference)
{
	char dir[256], q8[300], text[300];
	struct qvk_cli r;

	qvk_cli_text(dir, sizeof(dir), text, sizeof(text));
	snprintf(q8, sizeof(q8), "%s/q8.gguf", dir);
	qvk_cli_quantize_q8(q8);
	/* a float model is its own reference: quantization at load */
	qvk_cli_run(&r, NULL, "ppl", "-m", qvk_model_, "-t", qvk_tok_, "-f",
		    text, "--ctx", "64", NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_msg(strstr(r.out, "reference: ") &&
		      strstr(r.out, "stories260K.bin in f32 (the same weights "
				    "before quantization at load)") &&
		      strstr(r.out, "vs reference: KL "), "%s", r.out);
	qvk_cli_free(&r);
	/* a quantized file alone has no independent reference */
	qvk_cli_run(&r, NULL, "ppl", "-m", q8, "-f", text, "--ctx", "64", NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_msg(strstr(r.out, "reference: none: ") &&
		      strstr(r.out, "stores quantized weights") &&
		      strstr(r.out, "--ref") && !strstr(r.out, "vs reference"),
		      "%s", r.out);
	qvk_cli_free(&r);
	qvk_cli_run(&r, NULL, "ppl", "-m", q8, "-f", text, "--ctx", "64",
		    "--json", NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert(qvk_cli_json_is_null(r.out, "kl"));
	ck_assert(qvk_cli_json_is_null(r.out, "top1"));
	ck_assert(qvk_cli_json_is_null(r.out, "reference"));
	qvk_cli_free(&r);
	/* --ref names the original and measures the file against it */
	qvk_cli_run(&r, NULL, "ppl", "-m", q8, "--ref", qvk_model_, "-f", text,
		    "--ctx", "64", "--json", NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	{
		char *ref = qvk_cli_json_string(r.out, "reference", NULL);
		double kl = qvk_cli_json_number(r.out, "kl");

		printf("q8 vs its original: KL %.6f\n", kl);
		ck_assert_str_eq(ref, qvk_model_);
		ck_assert_msg(kl > 1e-5 && kl < 0.05, "KL %g", kl);
		free(ref);
	}
	qvk_cli_free(&r);
	qvk_test_rmtree(dir);
}
END_TEST

START_TEST(test_ppl_max_tokens_exact)
{
	char dir[256], text[300];
	struct qvk_cli r;

	qvk_cli_text(dir, sizeof(dir), text, sizeof(text));
	qvk_cli_run(&r, NULL, "ppl", "-m", qvk_model_, "-t", qvk_tok_, "-f",
		    text, "--ctx", "64", "--max-tokens", "100", "--json", NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_int_eq(qvk_cli_json_number(r.out, "tokens"), 100);
	ck_assert_int_eq(qvk_cli_json_number(r.out, "windows"), 2);
	qvk_cli_free(&r);
	qvk_cli_run(&r, NULL, "ppl", "-m", qvk_model_, "-t", qvk_tok_, "-f",
		    text, "--ctx", "64", "--max-tokens", "100", NULL);
	ck_assert_msg(strstr(r.out, "over 100 tokens (2 windows of 64, the "
				    "last of 38 for --max-tokens)"), "%s", r.out);
	qvk_cli_free(&r);
	/* a cap past the text: every whole window, and so many said */
	qvk_cli_run(&r, NULL, "ppl", "-m", qvk_model_, "-t", qvk_tok_, "-f",
		    text, "--ctx", "64", "--max-tokens", "100000", "--json",
		    NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_int_eq(qvk_cli_json_number(r.out, "tokens"),
			 63 * qvk_cli_json_number(r.out, "windows"));
	qvk_cli_free(&r);
	qvk_test_rmtree(dir);
}
END_TEST

START_TEST(test_ppl_profile)
{
	char dir[256], text[300];
	struct qvk_cli r;

	qvk_cli_text(dir, sizeof(dir), text, sizeof(text));
	qvk_cli_run(&r, NULL, "ppl", "-m", qvk_model_, "-t", qvk_tok_, "-f",
		    text, "--ctx", "64", "--max-tokens", "63", "--profile", NULL);
	ck_assert_msg(r.status == 0, "%s", r.err);
	ck_assert_msg(strstr(r.err, "profile of ") && strstr(r.err, "matmul") &&
		      strstr(r.err, "attention") && strstr(r.err, "dispatches"),
		      "%s", r.err);
	qvk_cli_free(&r);
	qvk_test_rmtree(dir);
}
END_TEST

Suite *suite_cli(void);
Suite *suite_cli(void)
{
	Suite *s = suite_create("cli");
	TCase *help = tcase_create("help_and_messages");
	TCase *quantize = tcase_create("quantize");
	TCase *ppl = tcase_create("ppl");

	tcase_add_unchecked_fixture(help, qvk_cli_paths, NULL);
	tcase_set_timeout(help, QVK_CLI_TCASE_TIMEOUT_S);
	tcase_add_test(help, test_missing_file_says_errno);
	tcase_add_test(help, test_folder_as_input);
	tcase_add_test(help, test_unsupported_is_not_a_device_limit);
	tcase_add_test(help, test_usage_hint_once);
	tcase_add_test(help, test_info_reports_kernels);
	suite_add_tcase(s, help);
	tcase_add_unchecked_fixture(quantize, qvk_cli_paths, NULL);
	tcase_set_timeout(quantize, QVK_CLI_TCASE_TIMEOUT_S);
	tcase_add_test(quantize, test_quantize_checks_out_first);
	tcase_add_test(quantize, test_quantize_refuses_requantize);
	tcase_add_test(quantize, test_quantize_progress_once);
	tcase_add_test(quantize, test_keep_matching_nothing);
	tcase_add_test(quantize, test_quantize_calib_device);
	suite_add_tcase(s, quantize);
	tcase_add_unchecked_fixture(ppl, qvk_cli_paths, NULL);
	tcase_set_timeout(ppl, QVK_CLI_TCASE_TIMEOUT_S);
	tcase_add_test(ppl, test_ppl_says_its_reference);
	tcase_add_test(ppl, test_ppl_max_tokens_exact);
	tcase_add_test(ppl, test_ppl_profile);
	suite_add_tcase(s, ppl);
	return s;
}
