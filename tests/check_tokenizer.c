/* SPDX-License-Identifier: MIT */
/*
 * Tokenizer round trips (through decode and through GGUF), user-defined
 * and control tokens in text, BOS/EOS as the model wants them, the
 * Unicode class table, and hostile files. The outside oracles (llama.cpp's
 * vectors, a llama2.c-style encoder) are in check_tokenizer_vectors.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <qvk/model.h>
#include <qvk/tokenizer.h>

#include "harness.h"
#include "model/unicode.h"

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
	char script[4096], table[4096], cmd[9000], out[64];
	size_t a_len, b_len;
	char *a, *b;

	if (access("/usr/share/unicode/UnicodeData.txt", R_OK)) {
		printf("skipped: /usr/share/unicode/UnicodeData.txt is absent "
		       "(apt-get install unicode-data)\n");
		return;
	}
	snprintf(out, sizeof(out), "/tmp/qvk-unicode-%d.c", (int)getpid());
	snprintf(cmd, sizeof(cmd), "%s > %s",
		 qvk_test_source_path("tools/gen-unicode-table.sh", script,
				      sizeof(script)), out);
	ck_assert_int_eq(system(cmd), 0);
	a = qvk_test_read_file(out, &a_len);
	b = qvk_test_read_file(qvk_test_source_path("runtime/model/unicode_table.c",
						    table, sizeof(table)), &b_len);
	remove(out);
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
	char out[64];

	if (!a)
		return;
	snprintf(out, sizeof(out), "/tmp/qvk-bpe-%d.gguf", (int)getpid());
	ck_assert_int_eq(qvk_gguf_writer_create(qvk_test_ctx, &w), QVK_OK);
	ck_assert_int_eq(qvk_tokenizer_to_gguf(a, w), QVK_OK);
	ck_assert_int_eq(qvk_gguf_writer_write(w, out), QVK_OK);
	qvk_gguf_writer_destroy(w);
	b = qvk_test_tokenizer_load(out);
	remove(out);
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
	char path[64];
	struct qvk_gguf_writer *w;
	qvk_status st;

	snprintf(path, sizeof(path), "/tmp/qvk-badbpe-%d.gguf", (int)getpid());
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
	remove(path);
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
	tcase_add_test(rt, test_unicode_classes);
	tcase_add_test(rt, test_unicode_table_generated);
	tcase_add_test(rt, test_bpe_special_tokens);
	tcase_add_test(rt, test_bpe_random_round_trip);
	tcase_add_test(rt, test_bpe_gguf_round_trip);
	tcase_set_timeout(rt, 120);
	suite_add_tcase(s, rt);

	tcase_add_checked_fixture(bad, qvk_test_ctx_setup, qvk_test_ctx_teardown);
	tcase_add_test(bad, test_hostile_tokenizer_files);
	tcase_add_test(bad, test_hostile_gguf_tokenizer);
	tcase_add_test(bad, test_hostile_bpe);
	suite_add_tcase(s, bad);
	return s;
}
