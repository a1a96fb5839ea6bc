/* SPDX-License-Identifier: MIT */
/*
 * Tokenizer against outside oracles: llama.cpp's test vectors for the Llama
 * SentencePiece, Phi-3 SentencePiece, Llama 3 BPE and Qwen2 BPE
 * vocabularies (each vector must also decode back to its text), the Llama
 * vectors through llama2.c's export of that vocabulary, and an independent
 * llama2.c-style encoder on real text. Round trips and hostile files are in
 * check_tokenizer.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <qvk/model.h>
#include <qvk/tokenizer.h>

#include "harness.h"

/* Strict UTF-8: no overlong forms, surrogates or values past U+10FFFF. */
static bool valid_utf8(const char *s, size_t len)
{
	const uint8_t *p = (const uint8_t *)s;

	for (size_t i = 0; i < len;) {
		uint32_t cp, min;
		size_t n = p[i] < 0x80 ? 1 : p[i] >= 0xc2 && p[i] < 0xe0 ? 2 :
			   p[i] >= 0xe0 && p[i] < 0xf0 ? 3 :
			   p[i] >= 0xf0 && p[i] < 0xf5 ? 4 : 0;

		if (!n || i + n > len)
			return false;
		cp = n == 1 ? p[i] : p[i] & (0x7fu >> n);
		for (size_t k = 1; k < n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3fu);
		}
		min = n == 1 ? 0 : n == 2 ? 0x80 : n == 3 ? 0x800 : 0x10000;
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000))
			return false;
		i += n;
	}
	return true;
}

/* Decode @ids as following BOS: the text again, if it was valid UTF-8. */
static bool decodes_to(struct qvk_tokenizer *tok, const uint32_t *ids,
		       size_t n, const char *text, size_t len)
{
	uint32_t prev = qvk_tokenizer_bos(tok);
	size_t at = 0;

	for (size_t i = 0; i < n; prev = ids[i++]) {
		size_t pl;
		const char *p = qvk_tokenizer_decode(tok, prev, ids[i], &pl);

		if (at + pl > len || memcmp(text + at, p, pl))
			return false;
		at += pl;
	}
	return at == len;
}

/*
 * llama.cpp's test-tokenizer-0 format: inputs separated by
 * "\n__ggml_vocab_test__\n" in .inp; one line of ids per input in .out.
 * Encoded without BOS (SentencePiece: with the dummy-prefix space).
 */
static size_t check_vocab_vectors(struct qvk_tokenizer *tok,
				  const char *inp_path, const char *out_path)
{
	static const char sep[] = "\n__ggml_vocab_test__\n";
	size_t inp_len, out_len, n_inputs = 0, n_ok = 0;
	char *inp = qvk_test_read_file(inp_path, &inp_len);
	char *out = qvk_test_read_file(out_path, &out_len);
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
			ck_assert_msg(!valid_utf8(pos, len) ||
				      decodes_to(tok, got, n_got, pos, len),
				      "vector %zu '%.*s' does not decode back",
				      n_inputs, (int)len, pos);
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
	printf("%s: %zu/%zu vectors encode exactly and decode back\n", inp_path,
	       n_ok, n_inputs);
	ck_assert_uint_ge(n_inputs, 30);
	ck_assert_uint_eq(n_ok, n_inputs);
	free(inp);
	free(out);
	return n_inputs;
}

START_TEST(test_llama_spm_vectors)
{
	char path[4096], inp[4200], out[4200];
	struct qvk_tokenizer *tok;

	if (!qvk_test_model_path("ggml-vocab-llama-spm.gguf", path, sizeof(path)))
		return;
	snprintf(inp, sizeof(inp), "%s.inp", path);
	snprintf(out, sizeof(out), "%s.out", path);
	tok = qvk_test_tokenizer_load(path);
	ck_assert_uint_eq(qvk_tokenizer_vocab_size(tok), 32000);
	ck_assert_uint_eq(qvk_tokenizer_bos(tok), 1);
	ck_assert_uint_eq(qvk_tokenizer_eos(tok), 2);
	ck_assert(qvk_tokenizer_adds_bos(tok));
	check_vocab_vectors(tok, inp, out);
	qvk_tokenizer_destroy(tok);
}
END_TEST

/* A vocabulary file of @name with its .inp/.out vectors, or NULL (skip). */
static struct qvk_tokenizer *vocab_with_vectors(const char *name, char *inp,
						char *out, size_t len)
{
	char path[4096];

	if (!qvk_test_model_path(name, path, sizeof(path)))
		return NULL;
	snprintf(inp, len, "%s.inp", path);
	snprintf(out, len, "%s.out", path);
	return qvk_test_tokenizer_load(path);
}

/* Llama 3: BPE with the llama-bpe pre-tokenizer, BOS added by default. */
START_TEST(test_llama_bpe_vectors)
{
	char inp[4200], out[4200];
	struct qvk_tokenizer *tok = vocab_with_vectors("ggml-vocab-llama-bpe.gguf",
						       inp, out, sizeof(inp));

	if (!tok)
		return;
	ck_assert_uint_eq(qvk_tokenizer_vocab_size(tok), 128256);
	ck_assert_str_eq(qvk_tokenizer_describe(tok), "BPE (llama-bpe)");
	ck_assert_uint_eq(qvk_tokenizer_bos(tok), 128000);
	ck_assert(qvk_tokenizer_adds_bos(tok) && !qvk_tokenizer_adds_eos(tok));
	/* <|end_of_text|> (EOS) and <|eot_id|>; not <|begin_of_text|> */
	ck_assert(qvk_tokenizer_is_eog(tok, 128001));
	ck_assert(qvk_tokenizer_is_eog(tok, 128009));
	ck_assert(!qvk_tokenizer_is_eog(tok, 128000));
	ck_assert(!qvk_tokenizer_is_eog(tok, 128008)); /* a reserved token */
	check_vocab_vectors(tok, inp, out);
	qvk_tokenizer_destroy(tok);
}
END_TEST

/* Qwen2: BPE with single-digit numbers, no BOS by default. */
START_TEST(test_qwen2_vectors)
{
	char inp[4200], out[4200];
	struct qvk_tokenizer *tok = vocab_with_vectors("ggml-vocab-qwen2.gguf",
						       inp, out, sizeof(inp));

	if (!tok)
		return;
	ck_assert_uint_eq(qvk_tokenizer_vocab_size(tok), 151936);
	ck_assert_str_eq(qvk_tokenizer_describe(tok), "BPE (qwen2)");
	ck_assert(!qvk_tokenizer_adds_bos(tok) && !qvk_tokenizer_adds_eos(tok));
	ck_assert(qvk_tokenizer_is_eog(tok, 151643)); /* <|endoftext|> */
	ck_assert(qvk_tokenizer_is_eog(tok, 151645)); /* <|im_end|> */
	ck_assert(!qvk_tokenizer_is_eog(tok, 151644)); /* <|im_start|> */
	ck_assert_ptr_nonnull(qvk_tokenizer_chat_template(tok));
	check_vocab_vectors(tok, inp, out);
	qvk_tokenizer_destroy(tok);
}
END_TEST

/* Phi-3: SentencePiece with 32064 tokens, <|end|> ends a turn. */
START_TEST(test_phi3_vectors)
{
	char inp[4200], out[4200];
	struct qvk_tokenizer *tok = vocab_with_vectors("ggml-vocab-phi-3.gguf",
						       inp, out, sizeof(inp));

	if (!tok)
		return;
	ck_assert_uint_eq(qvk_tokenizer_vocab_size(tok), 32064);
	ck_assert_str_eq(qvk_tokenizer_describe(tok), "SentencePiece");
	ck_assert(qvk_tokenizer_adds_bos(tok) && !qvk_tokenizer_adds_eos(tok));
	ck_assert(qvk_tokenizer_is_eog(tok, 32000)); /* EOS <|endoftext|> */
	ck_assert(qvk_tokenizer_is_eog(tok, 32007)); /* <|end|> */
	ck_assert(!qvk_tokenizer_is_eog(tok, 32010)); /* <|user|> */
	check_vocab_vectors(tok, inp, out);
	qvk_tokenizer_destroy(tok);
}
END_TEST

/*
 * The BPE pre-tokenizers no shared vocabulary uses: Llama 3's vocabulary
 * with tokenizer.ggml.pre set to each, on tests/fixtures/tokenizer/
 * pretok.inp (llama.cpp's inputs, cases for each expression, random
 * strings with CJK, marks, odd white space and invalid UTF-8); llama.cpp's
 * ids for each are in pretok-NAME.out (gen-pretok-vectors.py).
 */
START_TEST(test_pretokenizers_match_llama_cpp)
{
	static const char *const names[] = { "default", "gpt-2", "dbrx",
		"qwen35", "starcoder", "falcon", "deepseek-llm",
		"deepseek-coder" };
	char path[4096], inp[4200], out[4200], dir[256], tmp[300];
	struct qvk_gguf *g;
	size_t total = 0;

	if (!qvk_test_model_path("ggml-vocab-llama-bpe.gguf", path, sizeof(path)))
		return;
	qvk_test_source_path("tests/fixtures/tokenizer/pretok.inp", inp,
			     sizeof(inp));
	qvk_test_tmpdir("pretok", dir, sizeof(dir));
	snprintf(tmp, sizeof(tmp), "%s/vocab.gguf", dir);
	ck_assert_int_eq(qvk_gguf_open(qvk_test_ctx, path, &g), QVK_OK);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct qvk_gguf_writer *w;
		struct qvk_tokenizer *tok;
		char rel[128], want[64];

		ck_assert_int_eq(qvk_gguf_writer_create(qvk_test_ctx, &w), QVK_OK);
		for (uint64_t k = 0; k < qvk_gguf_kv_count(g); k++) {
			const struct qvk_gguf_kv *kv = qvk_gguf_kv_at(g, k);

			if (kv->key.len != 18 ||
			    memcmp(kv->key.ptr, "tokenizer.ggml.pre", 18))
				ck_assert_int_eq(qvk_gguf_writer_copy_kv(w, kv),
						 QVK_OK);
		}
		ck_assert_int_eq(qvk_gguf_writer_set_str(w, "tokenizer.ggml.pre",
							 names[i]), QVK_OK);
		ck_assert_int_eq(qvk_gguf_writer_write(w, tmp), QVK_OK);
		qvk_gguf_writer_destroy(w);
		tok = qvk_test_tokenizer_load(tmp);
		snprintf(want, sizeof(want), "BPE (%s)", names[i]);
		ck_assert_str_eq(qvk_tokenizer_describe(tok), want);
		snprintf(rel, sizeof(rel), "tests/fixtures/tokenizer/pretok-%s.out",
			 names[i]);
		total += check_vocab_vectors(tok, inp,
			qvk_test_source_path(rel, out, sizeof(out)));
		qvk_tokenizer_destroy(tok);
	}
	qvk_test_rmtree(dir);
	qvk_gguf_close(g);
	printf("%zu pre-tokenizer vectors equal llama.cpp's\n", total);
}
END_TEST

/*
 * GGUF SentencePiece vocabularies write a space as U+2581, and llama.cpp
 * merges the text with its spaces so written. So an invalid UTF-8 lead
 * byte, which claims the bytes after it as llama.cpp splits characters,
 * takes bytes of a space's U+2581 (they go to byte fallback), and a
 * U+2581 in the text is a space. The ids are llama.cpp's (tools/oracle:
 * llama-oracle tokenize), the same for Llama 2 and Phi-3; such text does
 * not decode back to itself, in llama.cpp or in qvk
 * (tests/fuzz/regress/tokenizer/spm-*).
 */
START_TEST(test_spm_space_as_u2581)
{
	static const uint32_t lead[] = { 263, 258, 229, 153, 132, 12328, 29871,
					 198, 229, 153, 132, 29881 };
	static const uint32_t u2581[] = { 263, 289, 274 }; /* as "a b c" */
	static const char *const files[] = { "ggml-vocab-llama-spm.gguf",
					     "ggml-vocab-phi-3.gguf" };
	static const struct {
		const char *text;
		const uint32_t *want;
		size_t n;
	} cases[] = {
		{ "a\xff bc \xc3 d", lead, sizeof(lead) / sizeof(lead[0]) },
		{ "a\xe2\x96\x81" "b c", u2581, 3 },
	};
	uint32_t got[64];
	char path[4096];
	size_t n;

	for (size_t f = 0; f < 2; f++) {
		struct qvk_tokenizer *tok;

		if (!qvk_test_model_path(files[f], path, sizeof(path)))
			return;
		tok = qvk_test_tokenizer_load(path);
		for (size_t c = 0; c < 2; c++) {
			ck_assert_int_eq(qvk_tokenizer_encode(tok, qvk_test_ctx,
					 cases[c].text, strlen(cases[c].text), 0,
					 got, 64, &n), QVK_OK);
			ck_assert_uint_eq(n, cases[c].n);
			ck_assert_mem_eq(got, cases[c].want,
					 cases[c].n * sizeof(*got));
		}
		qvk_tokenizer_destroy(tok);
	}
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
	tok = qvk_test_tokenizer_load(path);
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
	text = qvk_test_read_file(text_path, &text_len);
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
	struct qvk_tokenizer *tok = qvk_test_tokenizer_load(
		qvk_test_source_path("tests/data/tok512.bin", path, sizeof(path)));

	ck_assert_uint_eq(qvk_tokenizer_vocab_size(tok), 512);
	compare_with_oracle(tok, "tok512", "tinystories-calib.txt", 300, 900);
	qvk_tokenizer_destroy(tok);
	/* the Llama 2 vocabulary on general English with non-ASCII text */
	if (!qvk_test_model_path("tokenizer_llama2_32000.bin", path, sizeof(path)))
		return;
	tok = qvk_test_tokenizer_load(path);
	compare_with_oracle(tok, "llama2-32000", "wikitext2-test.txt", 400, 700);
	qvk_tokenizer_destroy(tok);
}
END_TEST

Suite *suite_tokenizer_vectors(void);
Suite *suite_tokenizer_vectors(void)
{
	Suite *s = suite_create("tokenizer_vectors");
	TCase *vec = tcase_create("vectors");

	tcase_add_checked_fixture(vec, qvk_test_ctx_setup, qvk_test_ctx_teardown);
	tcase_set_timeout(vec, 120);
	tcase_add_test(vec, test_llama_spm_vectors);
	tcase_add_test(vec, test_llama_bpe_vectors);
	tcase_add_test(vec, test_qwen2_vectors);
	tcase_add_test(vec, test_phi3_vectors);
	tcase_add_test(vec, test_pretokenizers_match_llama_cpp);
	tcase_add_test(vec, test_spm_space_as_u2581);
	tcase_add_test(vec, test_llama2c_32000_vectors);
	tcase_add_test(vec, test_matches_llama2c_encoder);
	suite_add_tcase(s, vec);
	return s;
}
