/* SPDX-License-Identifier: MIT */
/*
 * SentencePiece tokenizer round trips (through decode and through GGUF),
 * user-defined tokens, and hostile files. BPE and the Unicode table are in
 * check_tokenizer_bpe.c; the outside oracles (llama.cpp's vectors, a
 * llama2.c-style encoder) in check_tokenizer_vectors.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <qvk/model.h>
#include <qvk/tokenizer.h>

#include "harness.h"

/*
 * Decodes @ids[1..@n) (@ids[0] is the BOS) into @out, each piece given its
 * predecessor; fails the test as soon as the text grows past @cap bytes.
 * Returns the text's length.
 */
static size_t decode_ids(struct qvk_tokenizer *tok, const uint32_t *ids, size_t n,
			 char *out, size_t cap)
{
	size_t out_len = 0;

	for (size_t i = 1; i < n; i++) {
		size_t pl;
		const char *p = qvk_tokenizer_decode(tok, ids[i - 1], ids[i], &pl);

		ck_assert_uint_le(out_len + pl, cap);
		memcpy(out + out_len, p, pl);
		out_len += pl;
	}
	return out_len;
}

static void round_trip(struct qvk_tokenizer *tok, const char *text)
{
	size_t len = strlen(text), n, out_len;
	uint32_t *ids = malloc(QVK_TOKENIZE_MAX(len) * sizeof(*ids));
	char *out = malloc(len + 1);

	ck_assert_int_eq(qvk_tokenizer_encode(tok, qvk_test_ctx, text, len,
					      QVK_TOKENIZE_BOS | QVK_TOKENIZE_EOS,
					      ids, QVK_TOKENIZE_MAX(len), &n),
			 QVK_OK);
	ck_assert_uint_eq(ids[0], qvk_tokenizer_bos(tok));
	ck_assert_uint_eq(ids[n - 1], qvk_tokenizer_eos(tok));
	out_len = decode_ids(tok, ids, n, out, len);
	ck_assert_msg(out_len == len && !memcmp(out, text, len),
		      "round trip of '%s' gave '%.*s'", text, (int)out_len, out);
	free(ids);
	free(out);
}

START_TEST(test_tok512_round_trip)
{
	char path[4096];
	struct qvk_tokenizer *tok = qvk_test_tokenizer_load(
		qvk_test_source_path("tests/data/tok512.bin", path, sizeof(path)));
	uint32_t ids[64];
	size_t n;

	ck_assert_uint_eq(qvk_tokenizer_vocab_size(tok), 512);
	round_trip(tok, "Once upon a time, there was a little girl named Lily.");
	round_trip(tok, "She said \"hello!\"\n\nThe end.");
	/* characters missing from the 512-token vocabulary: byte fallback */
	round_trip(tok, "caf\xc3\xa9 \xf0\x9f\x98\x80 \xe2\x82\xac 5$ \x7f");
	round_trip(tok, "  two leading spaces");
	/* empty text: BOS/EOS only */
	ck_assert_int_eq(qvk_tokenizer_encode(tok, qvk_test_ctx, "", 0,
					      QVK_TOKENIZE_BOS, ids, 64, &n),
			 QVK_OK);
	ck_assert_uint_eq(n, 1);
	/* too small a buffer says how many are needed */
	ck_assert_int_eq(qvk_tokenizer_encode(tok, qvk_test_ctx, "Once upon", 9,
					      0, ids, 1, &n),
			 QVK_ERR_INVALID_ARG);
	ck_assert_uint_gt(n, 1);
	qvk_tokenizer_destroy(tok);
}
END_TEST

/* tok512 -> GGUF tokenizer metadata -> load: same vocabulary, same ids. */
START_TEST(test_tok512_gguf_round_trip)
{
	char path[4096], out[4096];
	struct qvk_tokenizer *a = qvk_test_tokenizer_load(
		qvk_test_source_path("tests/data/tok512.bin", path, sizeof(path)));
	struct qvk_tokenizer *b;
	struct qvk_gguf_writer *w;
	const char *text = "The little dog ran to the park. It was happy!";
	uint32_t ia[128], ib[128];
	size_t na, nb;

	snprintf(out, sizeof(out), "/tmp/qvk-tok-%d.gguf", (int)getpid());
	ck_assert_int_eq(qvk_gguf_writer_create(qvk_test_ctx, &w), QVK_OK);
	ck_assert_int_eq(qvk_tokenizer_to_gguf(a, w), QVK_OK);
	ck_assert_int_eq(qvk_gguf_writer_write(w, out), QVK_OK);
	qvk_gguf_writer_destroy(w);
	b = qvk_test_tokenizer_load(out);
	remove(out);
	ck_assert_uint_eq(qvk_tokenizer_vocab_size(a), qvk_tokenizer_vocab_size(b));
	for (uint32_t i = 0; i < qvk_tokenizer_vocab_size(a); i++) {
		size_t la, lb;
		const char *pa = qvk_tokenizer_piece(a, i, &la);
		const char *pb = qvk_tokenizer_piece(b, i, &lb);

		ck_assert(la == lb && !memcmp(pa, pb, la));
		ck_assert(qvk_tokenizer_score(a, i) == qvk_tokenizer_score(b, i));
		ck_assert_int_eq(qvk_tokenizer_type(a, i), qvk_tokenizer_type(b, i));
	}
	ck_assert_int_eq(qvk_tokenizer_encode(a, qvk_test_ctx, text, strlen(text),
					      QVK_TOKENIZE_BOS, ia, 128, &na), QVK_OK);
	ck_assert_int_eq(qvk_tokenizer_encode(b, qvk_test_ctx, text, strlen(text),
					      QVK_TOKENIZE_BOS, ib, 128, &nb), QVK_OK);
	ck_assert(na == nb && !memcmp(ia, ib, na * sizeof(*ia)));
	qvk_tokenizer_destroy(a);
	qvk_tokenizer_destroy(b);
}
END_TEST

/*
 * Random byte strings (letters, spaces, newlines, any byte, invalid UTF-8)
 * encode within QVK_TOKENIZE_MAX and decode back to themselves: the byte
 * fallback makes the tokenizer lossless.
 */
START_TEST(test_random_round_trip)
{
	uint64_t seed = qvk_test_seed("test_random_round_trip"), rng = seed;
	char path[4096], text[80];
	struct qvk_tokenizer *tok = qvk_test_tokenizer_load(
		qvk_test_source_path("tests/data/tok512.bin", path, sizeof(path)));
	size_t total = 0;

	for (int it = 0; it < 3000; it++) {
		size_t len = qvk_test_rand(&rng) % 64;

		for (size_t i = 0; i < len; i++) {
			uint64_t r = qvk_test_rand(&rng);

			switch (r % 5) {
			case 0: text[i] = ' '; break;
			case 1: text[i] = (char)(r >> 8); break; /* any byte */
			case 2: text[i] = '\n'; break;
			default: text[i] = (char)('a' + (r >> 8) % 26); break;
			}
		}
		text[len] = '\0';
		{
			uint32_t ids[QVK_TOKENIZE_MAX(80)];
			char out[80];
			size_t n, out_len;

			ck_assert_int_eq(qvk_tokenizer_encode(tok, qvk_test_ctx, text,
				len, QVK_TOKENIZE_BOS, ids, QVK_TOKENIZE_MAX(len), &n),
				QVK_OK);
			out_len = decode_ids(tok, ids, n, out, len);
			ck_assert_msg(out_len == len && !memcmp(out, text, len),
				      "iteration %d: round trip failed", it);
			total += n;
		}
	}
	printf("3000 random strings round-trip exactly (%zu tokens)\n", total);
	qvk_tokenizer_destroy(tok);
}
END_TEST

/*
 * User-defined tokens are cut out of the text before SentencePiece, longest
 * first (llama.cpp's partition), and the text after one gets the dummy
 * prefix again: tok512 plus "<|x|>" and "|>" as user-defined tokens.
 */
START_TEST(test_user_defined_tokens)
{
	char path[4096], out[64];
	struct qvk_tokenizer *base = qvk_test_tokenizer_load(
		qvk_test_source_path("tests/data/tok512.bin", path, sizeof(path)));
	uint32_t n = qvk_tokenizer_vocab_size(base) + 2, got[64], want[64], part[64];
	char **pieces = calloc(n, sizeof(*pieces));
	uint64_t *lens = calloc(n, sizeof(*lens));
	float *scores = calloc(n, sizeof(*scores));
	int32_t *types = calloc(n, sizeof(*types));
	static const char *const texts[] = { "hello", "world", " end" };
	struct qvk_gguf_writer *w;
	struct qvk_tokenizer *tok;
	size_t n_got, n_want = 0, n_part;

	for (uint32_t id = 0; id < n - 2; id++) {
		size_t len;
		const char *p = qvk_tokenizer_piece(base, id, &len);

		pieces[id] = malloc(3 * len + 1);
		for (size_t j = 0; j < len; j++) {
			if (p[j] == ' ') {
				memcpy(pieces[id] + lens[id], "\xe2\x96\x81", 3);
				lens[id] += 3;
			} else {
				pieces[id][lens[id]++] = p[j];
			}
		}
		scores[id] = qvk_tokenizer_score(base, id);
		types[id] = (int32_t)qvk_tokenizer_type(base, id);
	}
	pieces[n - 2] = strdup("<|x|>");
	lens[n - 2] = 5;
	pieces[n - 1] = strdup("|>");
	lens[n - 1] = 2;
	types[n - 2] = types[n - 1] = QVK_TOKEN_USER_DEFINED;
	ck_assert_int_eq(qvk_gguf_writer_create(qvk_test_ctx, &w), QVK_OK);
	ck_assert_int_eq(qvk_gguf_writer_set_str(w, "tokenizer.ggml.model",
						 "llama"), QVK_OK);
	ck_assert_int_eq(qvk_gguf_writer_set_str_array(w, "tokenizer.ggml.tokens",
			 (const char *const *)pieces, lens, n), QVK_OK);
	ck_assert_int_eq(qvk_gguf_writer_set_array(w, "tokenizer.ggml.scores",
			 QVK_GGUF_FLOAT32, scores, n), QVK_OK);
	ck_assert_int_eq(qvk_gguf_writer_set_array(w, "tokenizer.ggml.token_type",
			 QVK_GGUF_INT32, types, n), QVK_OK);
	snprintf(out, sizeof(out), "/tmp/qvk-user-%d.gguf", (int)getpid());
	ck_assert_int_eq(qvk_gguf_writer_write(w, out), QVK_OK);
	qvk_gguf_writer_destroy(w);
	tok = qvk_test_tokenizer_load(out);
	remove(out);

	/* hello <|x|> world |> " end": each text part encoded on its own */
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(qvk_tokenizer_encode(base, qvk_test_ctx, texts[i],
				 strlen(texts[i]), 0, part, 64, &n_part), QVK_OK);
		memcpy(want + n_want, part, n_part * sizeof(*part));
		n_want += n_part;
		if (i < 2)
			want[n_want++] = i == 0 ? n - 2 : n - 1;
	}
	ck_assert_int_eq(qvk_tokenizer_encode(tok, qvk_test_ctx,
			 "hello<|x|>world|> end", 21, 0, got, 64, &n_got), QVK_OK);
	ck_assert_uint_eq(n_got, n_want);
	ck_assert_mem_eq(got, want, n_want * sizeof(*got));
	/* without user-defined tokens in the text, nothing changes */
	ck_assert_int_eq(qvk_tokenizer_encode(tok, qvk_test_ctx, "hello world", 11,
					      0, got, 64, &n_got), QVK_OK);
	ck_assert_int_eq(qvk_tokenizer_encode(base, qvk_test_ctx, "hello world",
					      11, 0, want, 64, &n_want), QVK_OK);
	ck_assert(n_got == n_want && !memcmp(got, want, n_got * sizeof(*got)));
	for (uint32_t id = 0; id < n; id++)
		free(pieces[id]);
	free(pieces);
	free(lens);
	free(scores);
	free(types);
	qvk_tokenizer_destroy(tok);
	qvk_tokenizer_destroy(base);
}
END_TEST

static void expect_bad_tokenizer(const void *data, size_t len, const char *what)
{
	char path[256];
	struct qvk_tokenizer *tok = (struct qvk_tokenizer *)1;
	qvk_status st;

	snprintf(path, sizeof(path), "/tmp/qvk-badtok-%d.bin", (int)getpid());
	qvk_test_write_file(path, data, len);
	st = qvk_tokenizer_load(qvk_test_ctx, path, &tok);
	remove(path);
	printf("%s: %s: %s\n", what, qvk_strerror(st),
	       qvk_ctx_message(qvk_test_ctx));
	ck_assert_msg(st != QVK_OK, "%s was accepted", what);
	ck_assert_ptr_null(tok);
	ck_assert_str_ne(qvk_ctx_message(qvk_test_ctx), "");
}

START_TEST(test_hostile_tokenizer_files)
{
	char path[4096];
	size_t len;
	char *good = qvk_test_read_file(qvk_test_source_path("tests/data/tok512.bin",
							     path, sizeof(path)), &len);
	char *bad = malloc(len + 16);
	uint32_t v;

	/* truncated at every kind of boundary */
	expect_bad_tokenizer(good, 2, "tokenizer cut to 2 bytes");
	expect_bad_tokenizer(good, 4, "tokenizer with no tokens");
	expect_bad_tokenizer(good, 4 + 8 + 5 + 3, "tokenizer cut in a header");
	expect_bad_tokenizer(good, len - 1, "tokenizer cut in the last piece");
	/* max_token_length 0 */
	memcpy(bad, good, len);
	v = 0;
	memcpy(bad, &v, 4);
	expect_bad_tokenizer(bad, len, "max_token_length 0");
	/* a piece length past the file and near 2^32 */
	memcpy(bad, good, len);
	v = 0xfffffff0u;
	memcpy(bad + 8, &v, 4);
	expect_bad_tokenizer(bad, len, "piece length near 2^32");
	/* a NaN score */
	memcpy(bad, good, len);
	v = 0x7fc00000u;
	memcpy(bad + 4, &v, 4);
	expect_bad_tokenizer(bad, len, "NaN score");
	/* empty file */
	expect_bad_tokenizer(good, 0, "empty tokenizer file");
	free(bad);
	free(good);
}
END_TEST

/* Bad tokenizer.ggml.* metadata: each variant refused with its key named. */
START_TEST(test_hostile_gguf_tokenizer)
{
	static const char *const toks[4] = { "<unk>", "<s>", "</s>", "a" };
	static const uint64_t lens[4] = { 5, 3, 4, 1 };
	static const float scores[4] = { 0, 0, 0, -1 };
	static const int32_t types[4] = { 2, 3, 3, 1 }, bad_types[4] = { 2, 3, 3, 9 };
	static const int32_t ints[4] = { 1, 2, 3, 4 };
	static const char *const needle[] = { "tokenizer.ggml.model",
		"tokenizer.ggml.merges", "tokenizer.ggml.tokens",
		"tokenizer.ggml.scores", "token_type 9", "bos_token_id",
		"tokenizer.ggml.tokens", "scores nan" };
	char path[64];

	snprintf(path, sizeof(path), "/tmp/qvk-badgt-%d.gguf", (int)getpid());
	for (int v = 0; v < 8; v++) {
		struct qvk_gguf_writer *w;
		struct qvk_tokenizer *tok = NULL;
		const float nan_scores[4] = { 0, 0, 0, NAN };
		qvk_status st;

		ck_assert_int_eq(qvk_gguf_writer_create(qvk_test_ctx, &w), QVK_OK);
		if (v != 0)
			ck_assert_int_eq(qvk_gguf_writer_set_str(w,
				"tokenizer.ggml.model", v == 1 ? "gpt2" : "llama"),
				QVK_OK);
		if (v == 2 || v == 6)
			ck_assert_int_eq(qvk_gguf_writer_set_array(w,
				"tokenizer.ggml.tokens", QVK_GGUF_INT32, ints,
				v == 2 ? 4 : 0), QVK_OK);
		else
			ck_assert_int_eq(qvk_gguf_writer_set_str_array(w,
				"tokenizer.ggml.tokens", toks, lens, 4), QVK_OK);
		ck_assert_int_eq(qvk_gguf_writer_set_array(w, "tokenizer.ggml.scores",
			QVK_GGUF_FLOAT32, v == 7 ? nan_scores : scores,
			v == 3 ? 3 : 4), QVK_OK);
		ck_assert_int_eq(qvk_gguf_writer_set_array(w,
			"tokenizer.ggml.token_type", QVK_GGUF_INT32,
			v == 4 ? bad_types : types, 4), QVK_OK);
		if (v == 5)
			ck_assert_int_eq(qvk_gguf_writer_set_u32(w,
				"tokenizer.ggml.bos_token_id", 4), QVK_OK);
		ck_assert_int_eq(qvk_gguf_writer_write(w, path), QVK_OK);
		qvk_gguf_writer_destroy(w);
		st = qvk_tokenizer_load(qvk_test_ctx, path, &tok);
		printf("GGUF tokenizer variant %d -> %s: %s\n", v, qvk_strerror(st),
		       qvk_ctx_message(qvk_test_ctx));
		ck_assert_int_ne(st, QVK_OK);
		ck_assert_ptr_null(tok);
		ck_assert_msg(strstr(qvk_ctx_message(qvk_test_ctx), needle[v]),
			      "variant %d: message lacks '%s'", v, needle[v]);
	}
	remove(path);
}
END_TEST

Suite *suite_tokenizer(void);
Suite *suite_tokenizer(void)
{
	Suite *s = suite_create("tokenizer");
	TCase *rt = tcase_create("round_trip");
	TCase *bad = tcase_create("hostile");

	tcase_add_checked_fixture(rt, qvk_test_ctx_setup, qvk_test_ctx_teardown);
	tcase_add_test(rt, test_tok512_round_trip);
	tcase_add_test(rt, test_tok512_gguf_round_trip);
	tcase_add_test(rt, test_random_round_trip);
	tcase_add_test(rt, test_user_defined_tokens);
	suite_add_tcase(s, rt);

	tcase_add_checked_fixture(bad, qvk_test_ctx_setup, qvk_test_ctx_teardown);
	tcase_add_test(bad, test_hostile_tokenizer_files);
	tcase_add_test(bad, test_hostile_gguf_tokenizer);
	suite_add_tcase(s, bad);
	return s;
}
