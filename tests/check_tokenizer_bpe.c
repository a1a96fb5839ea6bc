/* SPDX-License-Identifier: MIT */
/*
 * Byte-level BPE: the Unicode class table (known classes, llama.cpp's
 * UTF-8 rules, the committed table equal to what the generator makes),
 * special and control tokens in text, BOS/EOS as the model wants them,
 * random round trips, the GGUF round trip, and hostile BPE files.
 * llama.cpp's vectors are in check_tokenizer_vectors.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <qvk/model.h>
#include <qvk/tokenizer.h>

#include "harness.h"
#include "model/unicode.h"

/* ---------------------------------------------------------- Unicode */

/* Known classes (Unicode 15.0) and llama.cpp's UTF-8 decoding rules. */
START_TEST(test_unicode_classes)
{
	static const struct {
		uint32_t cp;
		unsigned flags;
	} cases[] = {
		{ 'a', QVK_UCAT_LETTER }, { '7', QVK_UCAT_NUMBER },
		{ ' ', QVK_UCAT_SEPARATOR | QVK_UFLAG_SPACE },
		{ '\n', QVK_UCAT_CONTROL | QVK_UFLAG_SPACE },
		{ '$', QVK_UCAT_SYMBOL }, { '!', QVK_UCAT_PUNCT },
		{ 0x85, QVK_UCAT_CONTROL | QVK_UFLAG_SPACE },
		{ 0xa0, QVK_UCAT_SEPARATOR | QVK_UFLAG_SPACE },
		{ 0xb2, QVK_UCAT_NUMBER }, { 0xdf, QVK_UCAT_LETTER },
		{ 0x301, QVK_UCAT_MARK }, { 0x378, QVK_UCAT_UNDEFINED },
		{ 0x200d, QVK_UCAT_CONTROL }, { 0x2028, QVK_UCAT_SEPARATOR | QVK_UFLAG_SPACE },
		{ 0x3000, QVK_UCAT_SEPARATOR | QVK_UFLAG_SPACE },
		{ 0x4e2d, QVK_UCAT_LETTER }, { 0x9fff, QVK_UCAT_LETTER },
		{ 0xac00, QVK_UCAT_LETTER }, { 0xd800, QVK_UCAT_CONTROL },
		{ 0xe000, QVK_UCAT_CONTROL }, { 0xff01, QVK_UCAT_PUNCT },
		{ 0x1f999, QVK_UCAT_SYMBOL }, { 0x20000, QVK_UCAT_LETTER },
		{ 0xe0100, QVK_UCAT_MARK }, { 0x10ffff, QVK_UCAT_UNDEFINED },
		{ 0x110000, QVK_UCAT_UNDEFINED }, { 0xffffffff, QVK_UCAT_UNDEFINED },
	};
	static const struct {
		const char *s;
		size_t len;
		uint32_t cp;
		size_t n;
	} utf8[] = {
		{ "A", 1, 'A', 1 }, { "\xc3\xa9", 2, 0xe9, 2 },
		{ "\xe4\xb8\xad", 3, 0x4e2d, 3 }, { "\xf0\x9f\xa6\x99", 4, 0x1f999, 4 },
		{ "\xc0\xaf", 2, '/', 2 },           /* overlong: its value */
		{ "\xed\xa0\x80", 3, 0xd800, 3 },    /* a surrogate: its value */
		{ "\x80", 1, 0xfffd, 1 }, { "\xff", 1, 0xfffd, 1 },
		{ "\xc3", 1, 0xfffd, 1 },            /* cut short */
		{ "\xe4\xb8" "A", 3, 0xfffd, 1 },    /* no continuation */
		{ "\xf4\x90\x80\x80", 4, 0xfffd, 1 }, /* past U+10FFFF */
	};

	printf("Unicode %s: %u runs\n", qvk_unicode_version, qvk_unicode_run_count);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(qvk_unicode_flags(cases[i].cp) == cases[i].flags,
			      "U+%04X: flags %u, expected %u", cases[i].cp,
			      qvk_unicode_flags(cases[i].cp), cases[i].flags);
	for (size_t i = 0; i < sizeof(utf8) / sizeof(utf8[0]); i++) {
		size_t n;
		uint32_t cp = qvk_utf8_decode(utf8[i].s, utf8[i].len, &n);
		char out[4];

		ck_assert_msg(cp == utf8[i].cp && n == utf8[i].n,
			      "utf8 case %zu: U+%04X (%zu bytes)", i, cp, n);
		if (cp < 0xd800 || cp > 0xdfff)
			ck_assert_uint_eq(qvk_utf8_encode(cp, out),
					  cp < 0x80 ? 1 : cp < 0x800 ? 2 :
					  cp < 0x10000 ? 3 : 4);
	}
	/* every run is sorted and the first starts at U+0000 */
	ck_assert_uint_eq(qvk_unicode_runs[0] >> 4, 0);
	for (uint32_t i = 1; i < qvk_unicode_run_count; i++)
		ck_assert_uint_gt(qvk_unicode_runs[i] >> 4,
				  qvk_unicode_runs[i - 1] >> 4);
}
END_TEST

/* The committed table is what the generator makes from Debian's data. */
START_TEST(test_unicode_table_generated)
{
	char script[4096], table[4096], cmd[9000], dir[256], out[300];
	size_t a_len, b_len;
	char *a, *b;

	if (access("/usr/share/unicode/UnicodeData.txt", R_OK)) {
		qvk_test_skip_missing("/usr/share/unicode/UnicodeData.txt not "
				      "found (apt-get install unicode-data)");
		return;
	}
	qvk_test_tmpdir("unicode", dir, sizeof(dir));
	snprintf(out, sizeof(out), "%s/unicode_table.c", dir);
	snprintf(cmd, sizeof(cmd), "%s > %s",
		 qvk_test_source_path("tools/gen-unicode-table.sh", script,
				      sizeof(script)), out);
	ck_assert_int_eq(system(cmd), 0);
	a = qvk_test_read_file(out, &a_len);
	b = qvk_test_read_file(qvk_test_source_path("runtime/model/unicode_table.c",
						    table, sizeof(table)), &b_len);
	qvk_test_rmtree(dir);
	ck_assert_msg(a_len == b_len && !memcmp(a, b, a_len),
		      "runtime/model/unicode_table.c differs from what "
		      "tools/gen-unicode-table.sh makes of this machine's "
		      "unicode-data: regenerate it");
	free(a);
	free(b);
}
END_TEST

/* ---------------------------------------------------------- BPE */

static struct qvk_tokenizer *shared_tokenizer(const char *name)
{
	char path[4096];

	if (!qvk_test_model_path(name, path, sizeof(path)))
		return NULL;
	return qvk_test_tokenizer_load(path);
}

static size_t encode(struct qvk_tokenizer *tok, const char *text,
		     unsigned flags, uint32_t *ids, size_t max)
{
	size_t n;

	ck_assert_int_eq(qvk_tokenizer_encode(tok, qvk_test_ctx, text,
					      strlen(text), flags, ids, max, &n),
			 QVK_OK);
	return n;
}

static bool has_token(const uint32_t *ids, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/*
 * Control tokens in text are text unless PARSE_SPECIAL; user-defined ones
 * are always cut out; ADD_SPECIAL adds BOS as the model says (Llama 3 yes,
 * Qwen2 no), BOS/EOS force them.
 */
START_TEST(test_bpe_special_tokens)
{
	struct qvk_tokenizer *qwen = shared_tokenizer("ggml-vocab-qwen2.gguf");
	struct qvk_tokenizer *llama = shared_tokenizer("ggml-vocab-llama-bpe.gguf");
	uint32_t ids[128];
	size_t n;

	if (!qwen || !llama) {
		qvk_tokenizer_destroy(qwen);
		qvk_tokenizer_destroy(llama);
		return;
	}
	n = encode(qwen, "<|im_start|>user", QVK_TOKENIZE_PARSE_SPECIAL, ids, 128);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(ids[0], 151644);
	ck_assert_uint_eq(ids[1], 872); /* "user" */
	n = encode(qwen, "<|im_start|>user", 0, ids, 128);
	ck_assert(n > 2 && !has_token(ids, n, 151644));
	/* a user-defined token ([PAD151646]) is one token either way */
	n = encode(qwen, "a[PAD151646]b", 0, ids, 128);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(ids[1], 151646);
	n = encode(qwen, "hi", QVK_TOKENIZE_ADD_SPECIAL, ids, 128);
	ck_assert_uint_eq(n, 1); /* Qwen2 adds no BOS */
	n = encode(qwen, "hi", QVK_TOKENIZE_BOS | QVK_TOKENIZE_EOS, ids, 128);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(ids[0], 151643);
	ck_assert_uint_eq(ids[2], 151643);
	n = encode(llama, "hi", QVK_TOKENIZE_ADD_SPECIAL, ids, 128);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(ids[0], 128000);
	/* decode prints control tokens as nothing */
	{
		size_t len;

		qvk_tokenizer_decode(qwen, 0, 151645, &len);
		ck_assert_uint_eq(len, 0);
		ck_assert_str_eq(qvk_tokenizer_decode(qwen, 0, 872, &len), "user");
	}
	qvk_tokenizer_destroy(qwen);
	qvk_tokenizer_destroy(llama);
}
END_TEST

/*
 * Random UTF-8 (letters, digits, space runs, CJK, emoji, marks, odd white
 * space) encodes and decodes back to itself; an invalid byte comes back as
 * U+FFFD, as llama.cpp reads it.
 */
START_TEST(test_bpe_random_round_trip)
{
	static const char *const pool[] = { "a", "Z", "qu", " ", "  ", "\n",
		"\r\n", "\t", "0", "42", "'s", "'LL", ".", "!?", "$", "<|", "é",
		"中文", "한", "🦙", "\xcc\x81", "\xc2\xa0", "\xe3\x80\x80", "٣",
		"Ω", "Hello", " world" };
	uint64_t seed = qvk_test_seed("test_bpe_random_round_trip"), rng = seed;
	struct qvk_tokenizer *tok = shared_tokenizer("ggml-vocab-llama-bpe.gguf");
	char text[256], out[256];
	uint32_t ids[QVK_TOKENIZE_MAX(256)];
	size_t total = 0, n, at;

	if (!tok)
		return;
	for (int it = 0; it < 2000; it++) {
		size_t len = 0, parts = qvk_test_rand(&rng) % 20;

		for (size_t k = 0; k < parts; k++) {
			const char *p = pool[qvk_test_rand(&rng) %
					     (sizeof(pool) / sizeof(pool[0]))];

			memcpy(text + len, p, strlen(p));
			len += strlen(p);
		}
		text[len] = '\0';
		n = encode(tok, text, 0, ids, QVK_TOKENIZE_MAX(256));
		at = 0;
		for (size_t i = 0; i < n; i++) {
			size_t pl;
			const char *p = qvk_tokenizer_decode(tok, 0, ids[i], &pl);

			ck_assert_uint_le(at + pl, sizeof(out));
			memcpy(out + at, p, pl);
			at += pl;
		}
		ck_assert_msg(at == len && !memcmp(out, text, len),
			      "iteration %d: '%s' came back as '%.*s'", it, text,
			      (int)at, out);
		total += n;
	}
	n = encode(tok, "a\xff" "b", 0, ids, 16);
	at = 0;
	for (size_t i = 0; i < n; i++) {
		size_t pl;
		const char *p = qvk_tokenizer_decode(tok, 0, ids[i], &pl);

		memcpy(out + at, p, pl);
		at += pl;
	}
	ck_assert(at == 5 && !memcmp(out, "a\xef\xbf\xbd" "b", 5));
	printf("2000 random UTF-8 strings round-trip through Llama 3's BPE "
	       "(%zu tokens)\n", total);
	qvk_tokenizer_destroy(tok);
}
END_TEST

/* Llama 3's tokenizer -> GGUF -> load: same tokens, merges, ids, flags. */
START_TEST(test_bpe_gguf_round_trip)
{
	struct qvk_tokenizer *a = shared_tokenizer("ggml-vocab-qwen2.gguf"), *b;
	const char *text = "It's 2024: naïve café — 東京 🦙\n\n  spaces\tand 12345!";
	struct qvk_gguf_writer *w;
	uint32_t ia[256], ib[256];
	size_t na, nb;
	char dir[256], out[300];

	if (!a)
		return;
	qvk_test_tmpdir("bpe-gguf", dir, sizeof(dir));
	snprintf(out, sizeof(out), "%s/tokenizer.gguf", dir);
	ck_assert_int_eq(qvk_gguf_writer_create(qvk_test_ctx, &w), QVK_OK);
	ck_assert_int_eq(qvk_tokenizer_to_gguf(a, w), QVK_OK);
	ck_assert_int_eq(qvk_gguf_writer_write(w, out), QVK_OK);
	qvk_gguf_writer_destroy(w);
	b = qvk_test_tokenizer_load(out);
	qvk_test_rmtree(dir);
	ck_assert_uint_eq(qvk_tokenizer_vocab_size(a), qvk_tokenizer_vocab_size(b));
	ck_assert_str_eq(qvk_tokenizer_describe(b), "BPE (qwen2)");
	ck_assert_str_eq(qvk_tokenizer_chat_template(a),
			 qvk_tokenizer_chat_template(b));
	ck_assert(qvk_tokenizer_adds_bos(a) == qvk_tokenizer_adds_bos(b));
	for (uint32_t i = 0; i < qvk_tokenizer_vocab_size(a); i++) {
		size_t la, lb;
		const char *pa = qvk_tokenizer_piece(a, i, &la);
		const char *pb = qvk_tokenizer_piece(b, i, &lb);

		ck_assert(la == lb && !memcmp(pa, pb, la));
		ck_assert_int_eq(qvk_tokenizer_type(a, i), qvk_tokenizer_type(b, i));
		ck_assert(qvk_tokenizer_is_eog(a, i) == qvk_tokenizer_is_eog(b, i));
	}
	na = encode(a, text, QVK_TOKENIZE_ADD_SPECIAL, ia, 256);
	nb = encode(b, text, QVK_TOKENIZE_ADD_SPECIAL, ib, 256);
	ck_assert(na == nb && !memcmp(ia, ib, na * sizeof(*ia)));
	qvk_tokenizer_destroy(a);
	qvk_tokenizer_destroy(b);
}
END_TEST

/* A tiny byte-level vocabulary in a GGUF, with one thing broken. */
static qvk_status load_bpe_variant(int v, struct qvk_tokenizer **tok)
{
	/* "a", "b", "ab", " " written as Ġ, and a token that is no byte text */
	static const char *const toks[6] = { "a", "b", "ab", "\xc4\xa0",
					     "<|end|>", "\xe2\x82\xac" };
	static const uint64_t lens[6] = { 1, 1, 2, 2, 7, 3 };
	static const int32_t types[6] = { 1, 1, 1, 1, 3, 1 };
	static const char *const merges[2] = { "a b", "nospace" };
	static const uint64_t mlens[2] = { 3, 7 };
	static const int32_t ints[2] = { 1, 2 };
	char dir[256], path[300];
	struct qvk_gguf_writer *w;
	qvk_status st;

	qvk_test_tmpdir("bad-bpe", dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/tokenizer.gguf", dir);
	ck_assert_int_eq(qvk_gguf_writer_create(qvk_test_ctx, &w), QVK_OK);
	ck_assert_int_eq(qvk_gguf_writer_set_str(w, "tokenizer.ggml.model",
						 "gpt2"), QVK_OK);
	ck_assert_int_eq(qvk_gguf_writer_set_str(w, "tokenizer.ggml.pre",
		v == 1 ? "no-such-pre" : "gpt-2"), QVK_OK);
	ck_assert_int_eq(qvk_gguf_writer_set_str_array(w, "tokenizer.ggml.tokens",
						       toks, lens, 6), QVK_OK);
	ck_assert_int_eq(qvk_gguf_writer_set_array(w, "tokenizer.ggml.token_type",
						   QVK_GGUF_INT32, types, 6),
			 QVK_OK);
	if (v == 2)
		ck_assert_int_eq(qvk_gguf_writer_set_array(w,
			"tokenizer.ggml.merges", QVK_GGUF_INT32, ints, 2), QVK_OK);
	else if (v != 3)
		ck_assert_int_eq(qvk_gguf_writer_set_str_array(w,
			"tokenizer.ggml.merges", merges, mlens, 2), QVK_OK);
	if (v == 4)
		ck_assert_int_eq(qvk_gguf_writer_set_bool(w,
			"tokenizer.ggml.add_bos_token", true), QVK_OK);
	else
		ck_assert_int_eq(qvk_gguf_writer_set_u32(w,
			"tokenizer.ggml.eos_token_id", 4), QVK_OK);
	ck_assert_int_eq(qvk_gguf_writer_write(w, path), QVK_OK);
	qvk_gguf_writer_destroy(w);
	st = qvk_tokenizer_load(qvk_test_ctx, path, tok);
	qvk_test_rmtree(dir);
	return st;
}

/*
 * A good tiny vocabulary works (merge "a b", a merge without a space
 * ignored, "€" no token but its bytes are none either: dropped as
 * llama.cpp drops them); bad ones are refused naming what is wrong.
 */
START_TEST(test_hostile_bpe)
{
	static const char *const needle[] = { NULL, "no-such-pre",
		"tokenizer.ggml.merges", "tokenizer.ggml.merges",
		"add_bos_token" };
	struct qvk_tokenizer *tok = NULL;
	uint32_t ids[16];
	size_t n;

	ck_assert_int_eq(load_bpe_variant(0, &tok), QVK_OK);
	n = encode(tok, "ab a b", 0, ids, 16);
	ck_assert_uint_eq(n, 5);
	ck_assert(ids[0] == 2 && ids[1] == 3 && ids[2] == 0 && ids[3] == 3 &&
		  ids[4] == 1);
	ck_assert_uint_eq(encode(tok, "\xe2\x82\xac", 0, ids, 16), 0);
	ck_assert(qvk_tokenizer_is_eog(tok, 4));
	ck_assert_uint_eq(qvk_tokenizer_bos(tok), QVK_TOKEN_NONE);
	ck_assert_int_eq(qvk_tokenizer_encode(tok, qvk_test_ctx, "a", 1,
					      QVK_TOKENIZE_BOS, ids, 16, &n),
			 QVK_ERR_INVALID_ARG);
	qvk_tokenizer_destroy(tok);
	for (int v = 1; v < 5; v++) {
		qvk_status st = load_bpe_variant(v, &tok);

		printf("BPE variant %d -> %s: %s\n", v, qvk_strerror(st),
		       qvk_ctx_message(qvk_test_ctx));
		ck_assert_int_ne(st, QVK_OK);
		ck_assert_ptr_null(tok);
		ck_assert_msg(strstr(qvk_ctx_message(qvk_test_ctx), needle[v]),
			      "variant %d: message lacks '%s'", v, needle[v]);
	}
	/* the known names are listed */
	ck_assert_int_ne(load_bpe_variant(1, &tok), QVK_OK);
	ck_assert_ptr_nonnull(strstr(qvk_ctx_message(qvk_test_ctx), "llama-bpe"));
}
END_TEST

Suite *suite_tokenizer_bpe(void);
Suite *suite_tokenizer_bpe(void)
{
	Suite *s = suite_create("tokenizer_bpe");
	TCase *tc = tcase_create("bpe");
	TCase *bad = tcase_create("hostile");

	tcase_add_checked_fixture(tc, qvk_test_ctx_setup, qvk_test_ctx_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_unicode_classes);
	tcase_add_test(tc, test_unicode_table_generated);
	tcase_add_test(tc, test_bpe_special_tokens);
	tcase_add_test(tc, test_bpe_random_round_trip);
	tcase_add_test(tc, test_bpe_gguf_round_trip);
	suite_add_tcase(s, tc);

	tcase_add_checked_fixture(bad, qvk_test_ctx_setup, qvk_test_ctx_teardown);
	tcase_add_test(bad, test_hostile_bpe);
	suite_add_tcase(s, bad);
	return s;
}
