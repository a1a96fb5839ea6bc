/* SPDX-License-Identifier: MIT */
/*
 * Byte-level BPE (tokenizer.ggml.model "gpt2"), as llama.cpp's
 * llm_tokenizer_bpe_session does it: the text is cut into words by the
 * pre-tokenizer, each word's bytes start as one symbol each, and the
 * adjacent pair with the lowest merge rank (ties: the leftmost) merges
 * until no pair has a rank (tokenizer_merge.c); each final symbol is a
 * token.
 *
 * GPT-2's byte-level encoding writes every byte as a printable codepoint
 * (the 188 printable Latin-1 bytes as themselves, the other 68 as U+0100
 * onwards) so that vocabularies and merges are text. Merging that text
 * character by character is the same as merging the bytes it stands for,
 * so qvk converts tokens and merges back to bytes once, at load, and
 * merges raw bytes: no encoding step per word, and decoding is a copy.
 *
 * Like llama.cpp, invalid UTF-8 in the text becomes U+FFFD (its 3 bytes)
 * before anything else, since the pre-tokenizer works on codepoints.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

/* ------------------------------------------------- byte-level encoding */

/* The byte GPT-2's bytes_to_unicode() writes as @cp, or -1. */
static int qvk_bpe_byte_of(uint32_t cp)
{
	uint32_t n;

	if ((cp >= 0x21 && cp <= 0x7e) || (cp >= 0xa1 && cp <= 0xac) ||
	    (cp >= 0xae && cp <= 0xff))
		return (int)cp;
	if (cp < 0x100 || cp >= 0x100 + 68)
		return -1;
	/* the other bytes in order: 0x00..0x20, 0x7f..0xa0, 0xad */
	n = cp - 0x100;
	return n < 33 ? (int)n : n < 67 ? (int)(0x7f + n - 33) : 0xad;
}

bool qvk_bpe_unescape(const char *s, size_t len, char *out, size_t *out_len)
{
	size_t n = 0;

	for (size_t i = 0; i < len;) {
		size_t step;
		uint32_t cp = qvk_utf8_decode(s + i, len - i, &step);
		int b = qvk_bpe_byte_of(cp);

		if (b < 0)
			return false;
		out[n++] = (char)b;
		i += step;
	}
	*out_len = n;
	return true;
}

/* ---------------------------------------------------------- merges */

static uint64_t qvk_bpe_pair_hash(const char *ab, size_t len_a, size_t len)
{
	return qvk_tokenizer_hash(ab, len) ^ (len_a * 0x9e3779b97f4a7c15ull);
}

/* Rank of merging the @len_a bytes at @ab with the next len - len_a, or -1. */
static int64_t qvk_bpe_rank(const struct qvk_bpe_merges *m, const char *ab,
			    size_t len_a, size_t len)
{
	uint32_t i = (uint32_t)qvk_bpe_pair_hash(ab, len_a, len) & m->table_mask;

	for (;; i = (i + 1) & m->table_mask) {
		uint32_t r = m->table[i];
		const struct qvk_bpe_merge *e;

		if (!r)
			return -1;
		e = &m->merge[r - 1];
		if (e->len_a == len_a && e->len_a + e->len_b == len &&
		    !memcmp(m->arena + e->off, ab, len))
			return r - 1;
	}
}

void qvk_bpe_merges_free(struct qvk_bpe_merges *m)
{
	free(m->merge);
	free(m->arena);
	free(m->raw);
	free(m->raw_off);
	free(m->table);
	memset(m, 0, sizeof(*m));
}

qvk_status qvk_bpe_merges_load(struct qvk_ctx *ctx, const struct qvk_gguf *g,
			       struct qvk_tokenizer *tok)
{
	const struct qvk_gguf_kv *kv = qvk_gguf_find(g, "tokenizer.ggml.merges");
	struct qvk_bpe_merges *m = &tok->merges;
	size_t arena = 0, pos = 0, table_size = 1;
	const uint8_t *p;

	if (!kv || kv->type != QVK_GGUF_ARRAY ||
	    kv->elem_type != QVK_GGUF_STRING || kv->count >= UINT32_MAX / 2)
		return qvk_error(ctx, QVK_ERR_FORMAT,
				 "GGUF: tokenizer.ggml.merges missing or not an "
				 "array of strings (BPE needs its merges)");
	/* count first: one arena of bytes no longer than the strings */
	p = kv->data;
	for (uint64_t i = 0; i < kv->count; i++) { /* validated at open */
		uint64_t len = qvk_load_u64(p);

		if (len > UINT32_MAX || !qvk_add_size(arena, (size_t)len, &arena) ||
		    arena >= UINT32_MAX)
			return qvk_error(ctx, QVK_ERR_FORMAT,
					 "GGUF: tokenizer.ggml.merges[%llu] is "
					 "too long", (unsigned long long)i);
		p += 8 + len;
	}
	while (table_size < 2 * kv->count)
		table_size *= 2;
	m->merge = calloc(kv->count ? kv->count : 1, sizeof(*m->merge));
	m->arena = malloc(arena ? arena : 1);
	m->raw = malloc(arena ? arena : 1);
	m->raw_off = malloc((kv->count + 1) * sizeof(*m->raw_off));
	m->table = calloc(table_size, sizeof(*m->table));
	if (!m->merge || !m->arena || !m->raw || !m->raw_off || !m->table)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "tokenizer: %llu merges",
				 (unsigned long long)kv->count);
	m->table_mask = (uint32_t)(table_size - 1);
	m->n = (uint32_t)kv->count;

	p = kv->data;
	m->raw_off[0] = 0;
	for (uint32_t r = 0; r < m->n; r++) {
		size_t len = (size_t)qvk_load_u64(p), la, lb;
		const char *s = (const char *)p + 8;
		/* llama.cpp splits at the first space after the first byte */
		const char *sp = len > 1 ? memchr(s + 1, ' ', len - 1) : NULL;
		struct qvk_bpe_merge *e = &m->merge[r];
		uint32_t slot;

		p += 8 + len;
		memcpy(m->raw + m->raw_off[r], s, len);
		m->raw_off[r + 1] = m->raw_off[r] + (uint32_t)len;
		/*
		 * A merge with no space, or with a side that is no byte-level
		 * string, can never match a word: it keeps its rank, unused.
		 */
		if (!sp || !qvk_bpe_unescape(s, (size_t)(sp - s), m->arena + pos,
					     &la) ||
		    !qvk_bpe_unescape(sp + 1, len - (size_t)(sp - s) - 1,
				      m->arena + pos + la, &lb) ||
		    !la || !lb)
			continue;
		if (qvk_bpe_rank(m, m->arena + pos, la, la + lb) >= 0)
			continue; /* a repeated pair: the first rank wins */
		*e = (struct qvk_bpe_merge){ (uint32_t)pos, (uint32_t)la,
					     (uint32_t)lb };
		slot = (uint32_t)qvk_bpe_pair_hash(m->arena + pos, la, la + lb) &
		       m->table_mask;
		while (m->table[slot])
			slot = (slot + 1) & m->table_mask;
		m->table[slot] = r + 1;
		pos += la + lb;
	}
	return QVK_OK;
}

/* ---------------------------------------------------------- merging */

/* A pair merges if (A, B) is a merge; the lower its rank the earlier. */
static bool qvk_bpe_merge_rank(const struct qvk_tokenizer *tok,
			       const char *ab, uint32_t len_a, uint32_t len,
			       uint32_t *key)
{
	int64_t rank = qvk_bpe_rank(&tok->merges, ab, len_a, len);

	if (rank < 0)
		return false;
	*key = UINT32_MAX - (uint32_t)rank;
	return true;
}

/* Merge the @len bytes of one word and append its tokens. */
static void qvk_bpe_word(struct qvk_merge *m, const char *word, uint32_t len,
			 uint32_t *tokens, size_t max, size_t *n)
{
	const struct qvk_tokenizer *tok = m->tok;
	uint32_t id;

	if (tok->ignore_merges &&
	    (id = qvk_tokenizer_lookup(tok, word, len)) != UINT32_MAX) {
		qvk_tokens_emit(tokens, max, n, id);
		return;
	}
	m->text = word;
	for (uint32_t i = 0; i < len; i++) /* one symbol a byte */
		m->sym[i] = (struct qvk_merge_symbol){
			i, 1, i ? i - 1 : UINT32_MAX,
			i + 1 < len ? i + 1 : UINT32_MAX };
	qvk_merge_run(m, len);
	for (uint32_t i = 0; i != UINT32_MAX; i = m->sym[i].next) {
		const struct qvk_merge_symbol *y = &m->sym[i];

		id = qvk_tokenizer_lookup(tok, word + y->start, y->n);
		if (id != UINT32_MAX) {
			qvk_tokens_emit(tokens, max, n, id);
			continue;
		}
		/*
		 * Only a vocabulary without some single byte gets here; as
		 * llama.cpp, each byte that is a token stands for itself and
		 * the others are dropped.
		 */
		for (uint32_t j = 0; j < y->n; j++)
			if ((id = qvk_tokenizer_lookup(tok, word + y->start + j,
						       1)) != UINT32_MAX)
				qvk_tokens_emit(tokens, max, n, id);
	}
}

qvk_status qvk_bpe_encode(const struct qvk_tokenizer *tok, struct qvk_ctx *ctx,
			  const char *text, size_t len, uint32_t *tokens,
			  size_t max, size_t *n)
{
	struct qvk_merge m = { .tok = tok, .rank = qvk_bpe_merge_rank };
	uint32_t *cp = NULL, *lens, *tmp;
	uint8_t *flags;
	char *word = NULL;
	size_t n_cp = 0, n_words, word_max = 0, heap_cap;
	qvk_status st = QVK_OK;

	if (!len)
		return QVK_OK;
	if (len > UINT32_MAX / 4 ||
	    !(cp = malloc(len * (3 * sizeof(uint32_t) + 1)))) {
		st = qvk_error(ctx, QVK_ERR_NO_MEMORY, "tokenizer: %zu bytes of "
			       "text", len);
		goto out_free;
	}
	lens = cp + len;
	tmp = lens + len;
	flags = (uint8_t *)(tmp + len);
	for (size_t i = 0; i < len; n_cp++) {
		size_t step;

		cp[n_cp] = qvk_utf8_decode(text + i, len - i, &step);
		flags[n_cp] = (uint8_t)qvk_unicode_flags(cp[n_cp]);
		i += step;
	}
	n_words = qvk_pretok_split(tok->pre, cp, flags, n_cp, lens, tmp);
	/* merging needs room for the longest word only (U+FFFD: 3 bytes) */
	for (size_t w = 0; w < n_words; w++)
		word_max = QVK_MAX(word_max, 4 * (size_t)lens[w]);
	if (!(word = malloc(word_max)) ||
	    !(m.sym = malloc(word_max * sizeof(*m.sym))) ||
	    !qvk_mul_size(word_max, 3, &heap_cap) ||
	    !(m.heap = malloc(heap_cap * sizeof(*m.heap)))) {
		st = qvk_error(ctx, QVK_ERR_NO_MEMORY, "tokenizer: a word of %zu "
			       "bytes", word_max / 4);
		goto out_free;
	}
	for (size_t w = 0, c = 0; w < n_words; w++) {
		size_t bytes = 0;

		for (uint32_t k = 0; k < lens[w]; k++, c++)
			bytes += qvk_utf8_encode(cp[c], word + bytes);
		qvk_bpe_word(&m, word, (uint32_t)bytes, tokens, max, n);
	}
out_free:
	free(m.heap);
	free(m.sym);
	free(word);
	free(cp);
	return st;
}
