/* SPDX-License-Identifier: MIT */
/*
 * Tokenizer: llama.cpp's test vectors for the Llama SentencePiece vocabulary,
 * the same vectors through llama2.c's export of that vocabulary, an
 * independent llama2.c-style encoder as a second oracle on real text,
 * round trips through decode and through GGUF, and hostile files.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <qvk/model.h>
#include <qvk/tokenizer.h>

#include "harness.h"

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	ck_assert(buf != NULL);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_msg(f != NULL, "cannot create %s", path);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static struct qvk_tokenizer *load_tok(const char *path)
{
	struct qvk_tokenizer *tok = NULL;
	qvk_status st = qvk_tokenizer_load(qvk_test_ctx, path, &tok);

	ck_assert_msg(st == QVK_OK, "%s: %s: %s", path, qvk_strerror(st),
		      qvk_ctx_message(qvk_test_ctx));
	return tok;
}

/*
 * llama.cpp's test-tokenizer-0 format: inputs separated by
 * "\n__ggml_vocab_test__\n" in .inp; one line of ids per input in .out.
 * Encoded without BOS, with the dummy-prefix space.
 */
static void check_vocab_vectors(struct qvk_tokenizer *tok, const char *inp_path,
				const char *out_path)
{
	static const char sep[] = "\n__ggml_vocab_test__\n";
	size_t inp_len, out_len, n_inputs = 0, n_ok = 0;
	char *inp = read_file(inp_path, &inp_len);
	char *out = read_file(out_path, &out_len);
	char *pos = inp, *line = out;

	while (pos < inp + inp_len) {
		char *next = strstr(pos, sep), *eol;
		size_t len = next ? (size_t)(next - pos) : strlen(pos);
		uint32_t expect[512], got[600];
		size_t n_expect = 0, n_got = 0;
		qvk_status st;

		ck_assert_msg(line < out + out_len, "fewer .out lines than inputs");
		eol = strchr(line, '\n');
		if (eol)
			*eol = '\0';
		for (char *p = line, *end; ; p = end) {
			unsigned long v = strtoul(p, &end, 10);

			if (end == p)
				break;
			ck_assert(n_expect < 512);
			expect[n_expect++] = (uint32_t)v;
		}
		ck_assert(len + 3 <= 600);
		st = qvk_tokenizer_encode(tok, qvk_test_ctx, pos, len, 0, got,
					  600, &n_got);
		ck_assert_int_eq(st, QVK_OK);
		if (n_got == n_expect &&
		    !memcmp(got, expect, n_got * sizeof(*got))) {
			n_ok++;
		} else {
			printf("vector %zu '%.*s': got %zu tokens, expected %zu:",
			       n_inputs, (int)len, pos, n_got, n_expect);
			for (size_t i = 0; i < n_got; i++)
				printf(" %u", got[i]);
			printf("\n");
		}
		n_inputs++;
		line = eol ? eol + 1 : out + out_len;
		pos = next ? next + strlen(sep) : inp + inp_len;
	}
	printf("%s: %zu/%zu vectors encode exactly\n", inp_path, n_ok, n_inputs);
	ck_assert_uint_ge(n_inputs, 30);
	ck_assert_uint_eq(n_ok, n_inputs);
	free(inp);
	free(out);
}

START_TEST(test_llama_spm_vectors)
{
	char path[4096], inp[4200], out[4200];
	struct qvk_tokenizer *tok;

	if (!qvk_test_model_path("ggml-vocab-llama-spm.gguf", path, sizeof(path)))
		return;
	snprintf(inp, sizeof(inp), "%s.inp", path);
	snprintf(out, sizeof(out), "%s.out", path);
	tok = load_tok(path);
	ck_assert_uint_eq(qvk_tokenizer_vocab_size(tok), 32000);
	ck_assert_uint_eq(qvk_tokenizer_bos(tok), 1);
	ck_assert_uint_eq(qvk_tokenizer_eos(tok), 2);
	ck_assert(qvk_tokenizer_adds_bos(tok));
	check_vocab_vectors(tok, inp, out);
	qvk_tokenizer_destroy(tok);
}
END_TEST

/* llama2.c's export of the same vocabulary must encode identically. */
START_TEST(test_llama2c_32000_vectors)
{
	char path[4096], gguf[4096], inp[4200], out[4200];
	struct qvk_tokenizer *tok;

	if (!qvk_test_model_path("tokenizer_llama2_32000.bin", path, sizeof(path)) ||
	    !qvk_test_model_path("ggml-vocab-llama-spm.gguf", gguf, sizeof(gguf)))
		return;
	snprintf(inp, sizeof(inp), "%s.inp", gguf);
	snprintf(out, sizeof(out), "%s.out", gguf);
	tok = load_tok(path);
	ck_assert_uint_eq(qvk_tokenizer_vocab_size(tok), 32000);
	check_vocab_vectors(tok, inp, out);
	qvk_tokenizer_destroy(tok);
}
END_TEST

/*
 * A second oracle, written the way llama2.c's encode() is: codepoints to
 * ids (bytes + 3 when missing), then repeatedly merge the best-scoring
 * adjacent pair, found by a full scan with bsearch over sorted pieces.
 */
struct ref_vocab {
	const struct qvk_tokenizer *tok;
	uint32_t *sorted;
	uint32_t n;
};

static const struct qvk_tokenizer *ref_cmp_tok;

static int ref_cmp(const void *a, const void *b)
{
	size_t la, lb;
	const char *pa = qvk_tokenizer_piece(ref_cmp_tok, *(const uint32_t *)a, &la);
	const char *pb = qvk_tokenizer_piece(ref_cmp_tok, *(const uint32_t *)b, &lb);
	int c = memcmp(pa, pb, la < lb ? la : lb);

	return c ? c : (la > lb) - (la < lb);
}

static int ref_find(const struct ref_vocab *v, const char *s, size_t len)
{
	size_t lo = 0, hi = v->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2, l;
		const char *p = qvk_tokenizer_piece(v->tok, v->sorted[mid], &l);
		int c = memcmp(p, s, l < len ? l : len);

		if (!c)
			c = (l > len) - (l < len);
		if (!c) {
			/* the lowest id among equal pieces */
			uint32_t best = v->sorted[mid];

			for (size_t k = mid; k-- > 0;) {
				p = qvk_tokenizer_piece(v->tok, v->sorted[k], &l);
				if (l != len || memcmp(p, s, len))
					break;
				best = v->sorted[k] < best ? v->sorted[k] : best;
			}
			return (int)best;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

static size_t ref_encode(const struct ref_vocab *v, const char *text,
			 uint32_t *out)
{
	char buf[1024];
	size_t n = 0;

	out[n++] = (uint32_t)ref_find(v, " ", 1);
	for (const char *c = text; *c;) {
		size_t len = 1;
		int id;

		while ((c[len] & 0xc0) == 0x80 && len < 4)
			len++;
		id = ref_find(v, c, len);
		if (id >= 0)
			out[n++] = (uint32_t)id;
		else
			for (size_t i = 0; i < len; i++)
				out[n++] = (uint8_t)c[i] + 3;
		c += len;
	}
	for (;;) {
		float best = -1e30f;
		int best_id = -1;
		size_t best_i = 0;

		for (size_t i = 0; i + 1 < n; i++) {
			size_t l1, l2;
			const char *p1 = qvk_tokenizer_piece(v->tok, out[i], &l1);
			const char *p2 = qvk_tokenizer_piece(v->tok, out[i + 1], &l2);
			int id;

			if (l1 + l2 >= sizeof(buf))
				continue;
			memcpy(buf, p1, l1);
			memcpy(buf + l1, p2, l2);
			id = ref_find(v, buf, l1 + l2);
			if (id >= 0 && qvk_tokenizer_score(v->tok, (uint32_t)id) > best) {
				best = qvk_tokenizer_score(v->tok, (uint32_t)id);
				best_id = id;
				best_i = i;
			}
		}
		if (best_id < 0)
			break;
		out[best_i] = (uint32_t)best_id;
		memmove(out + best_i + 1, out + best_i + 2,
			(n - best_i - 2) * sizeof(*out));
		n--;
	}
	return n;
}

/*
 * Encode up to @max_lines lines (of at most @max_len bytes) of @text_file
 * with @tok and with the llama2.c-style oracle; they must agree.
 */
static void compare_with_oracle(struct qvk_tokenizer *tok, const char *name,
				const char *text_file, size_t max_lines,
				size_t max_len)
{
	char text_path[4096];
	struct ref_vocab v = { tok, NULL, qvk_tokenizer_vocab_size(tok) };
	size_t text_len, lines = 0, tokens = 0;
	char *text, *line, *save = NULL;

	if (!qvk_test_model_path(text_file, text_path, sizeof(text_path)))
		return;
	v.sorted = malloc(v.n * sizeof(*v.sorted));
	for (uint32_t i = 0; i < v.n; i++)
		v.sorted[i] = i;
	ref_cmp_tok = tok;
	qsort(v.sorted, v.n, sizeof(*v.sorted), ref_cmp);
	text = read_file(text_path, &text_len);
	for (line = strtok_r(text, "\n", &save); line && lines < max_lines;
	     line = strtok_r(NULL, "\n", &save)) {
		size_t len = strlen(line), n_got, n_ref;
		uint32_t *got, *ref;

		if (len > max_len)
			continue;
		got = malloc(QVK_TOKENIZE_MAX(len) * sizeof(*got));
		ref = malloc((4 * len + 2) * sizeof(*ref));
		ck_assert_int_eq(qvk_tokenizer_encode(tok, qvk_test_ctx, line, len,
						      0, got, QVK_TOKENIZE_MAX(len),
						      &n_got), QVK_OK);
		n_ref = ref_encode(&v, line, ref);
		ck_assert_msg(n_got == n_ref && !memcmp(got, ref, n_ref * 4),
			      "%s, line %zu '%s': %zu tokens vs reference %zu",
			      name, lines, line, n_got, n_ref);
		lines++;
		tokens += n_got;
		free(got);
		free(ref);
	}
	printf("%s on %s: %zu lines (%zu tokens) equal to the llama2.c-style "
	       "encoder\n", name, text_file, lines, tokens);
	ck_assert_uint_ge(lines, max_lines / 3);
	free(text);
	free(v.sorted);
}

START_TEST(test_matches_llama2c_encoder)
{
	char path[4096];
	struct qvk_tokenizer *tok = load_tok(
		qvk_test_source_path("tests/data/tok512.bin", path, sizeof(path)));

	ck_assert_uint_eq(qvk_tokenizer_vocab_size(tok), 512);
	compare_with_oracle(tok, "tok512", "tinystories-calib.txt", 300, 900);
	qvk_tokenizer_destroy(tok);
	/* the Llama 2 vocabulary on general English with non-ASCII text */
	if (!qvk_test_model_path("tokenizer_llama2_32000.bin", path, sizeof(path)))
		return;
	tok = load_tok(path);
	compare_with_oracle(tok, "llama2-32000", "wikitext2-test.txt", 400, 700);
	qvk_tokenizer_destroy(tok);
}
END_TEST

static void round_trip(struct qvk_tokenizer *tok, const char *text)
{
	size_t len = strlen(text), n, out_len = 0;
	uint32_t *ids = malloc(QVK_TOKENIZE_MAX(len) * sizeof(*ids));
	char *out = malloc(len + 1);

	ck_assert_int_eq(qvk_tokenizer_encode(tok, qvk_test_ctx, text, len,
					      QVK_TOKENIZE_BOS | QVK_TOKENIZE_EOS,
					      ids, QVK_TOKENIZE_MAX(len), &n),
			 QVK_OK);
	ck_assert_uint_eq(ids[0], qvk_tokenizer_bos(tok));
	ck_assert_uint_eq(ids[n - 1], qvk_tokenizer_eos(tok));
	for (size_t i = 1; i < n; i++) {
		size_t pl;
		const char *p = qvk_tokenizer_decode(tok, ids[i - 1], ids[i], &pl);

		ck_assert_uint_le(out_len + pl, len);
		memcpy(out + out_len, p, pl);
		out_len += pl;
	}
	ck_assert_msg(out_len == len && !memcmp(out, text, len),
		      "round trip of '%s' gave '%.*s'", text, (int)out_len, out);
	free(ids);
	free(out);
}

START_TEST(test_tok512_round_trip)
{
	char path[4096];
	struct qvk_tokenizer *tok = load_tok(
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
	struct qvk_tokenizer *a = load_tok(
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
	b = load_tok(out);
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
	struct qvk_tokenizer *tok = load_tok(
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
			size_t n, out_len = 0;

			ck_assert_int_eq(qvk_tokenizer_encode(tok, qvk_test_ctx, text,
				len, QVK_TOKENIZE_BOS, ids, QVK_TOKENIZE_MAX(len), &n),
				QVK_OK);
			for (size_t i = 1; i < n; i++) {
				size_t pl;
				const char *p = qvk_tokenizer_decode(tok, ids[i - 1],
								     ids[i], &pl);

				ck_assert_uint_le(out_len + pl, len);
				memcpy(out + out_len, p, pl);
				out_len += pl;
			}
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
	struct qvk_tokenizer *base = load_tok(
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
	tok = load_tok(out);
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
	write_file(path, data, len);
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
	char *good = read_file(qvk_test_source_path("tests/data/tok512.bin", path,
						    sizeof(path)), &len);
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
		"tokenizer.ggml.model", "tokenizer.ggml.tokens",
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
	TCase *vec = tcase_create("vectors");
	TCase *rt = tcase_create("round_trip");
	TCase *bad = tcase_create("hostile");

	tcase_add_checked_fixture(vec, qvk_test_ctx_setup, qvk_test_ctx_teardown);
	tcase_set_timeout(vec, 120);
	tcase_add_test(vec, test_llama_spm_vectors);
	tcase_add_test(vec, test_llama2c_32000_vectors);
	tcase_add_test(vec, test_matches_llama2c_encoder);
	suite_add_tcase(s, vec);

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
