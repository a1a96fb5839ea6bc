/* SPDX-License-Identifier: MIT */
/*
 * SentencePiece-BPE encoding as llama.cpp's llm_tokenizer_spm does it:
 * symbols are the UTF-8 characters of " " + text (spaces as U+2581 for
 * GGUF vocabularies), the adjacent pair whose concatenation is the token
 * with the highest score merges first, ties to the leftmost
 * (tokenizer_merge.c), and a final symbol that is no token becomes its
 * bytes' <0xXX> tokens. O(n log n) in the text length, so a whole
 * evaluation text can be encoded in one call. Special tokens are cut out
 * of the text before (tokenizer_encode.c).
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

/*
 * A pair merges if its bytes are a token; the higher the token's score
 * the earlier. The key keeps the order of the scores (finite, validated at
 * load): IEEE floats compare as their bits with the sign flipped, or all
 * bits flipped when negative; +0.0 stands for -0.0, which compares equal.
 */
static bool qvk_spm_rank(const struct qvk_tokenizer *tok, const char *ab,
			 uint32_t len_a, uint32_t len, uint32_t *key)
{
	uint32_t id = qvk_tokenizer_lookup(tok, ab, len);
	union { float f; uint32_t u; } v;

	(void)len_a;
	if (id == UINT32_MAX)
		return false;
	v.f = tok->scores[id] + 0.0f;
	*key = v.u & 0x80000000u ? ~v.u : v.u | 0x80000000u;
	return true;
}

/* Bytes of the UTF-8 sequence led by @c (1 for a stray continuation byte). */
static size_t qvk_utf8_len(uint8_t c)
{
	static const uint8_t len[16] = { 1, 1, 1, 1, 1, 1, 1, 1,
					 1, 1, 1, 1, 2, 2, 3, 4 };

	return len[c >> 4];
}

qvk_status qvk_spm_encode(const struct qvk_tokenizer *tok, struct qvk_ctx *ctx,
			  const char *text, size_t len, uint32_t *tokens,
			  size_t max, size_t *n)
{
	struct qvk_merge m = { .tok = tok, .rank = qvk_spm_rank, .text = text };
	uint32_t n_sym = 0;
	size_t heap_cap;

	if (!len)
		return QVK_OK;
	if (len >= UINT32_MAX || !qvk_mul_size(len, 3, &heap_cap) ||
	    !(m.sym = malloc(len * sizeof(*m.sym))) ||
	    !(m.heap = malloc(heap_cap * sizeof(*m.heap)))) {
		free(m.sym);
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "tokenizer: %zu bytes "
				 "of text", len);
	}
	/* symbols: the UTF-8 characters, by their lead byte as llama.cpp */
	for (uint32_t pos = 0; pos < len; n_sym++) {
		uint32_t c = (uint32_t)QVK_MIN(qvk_utf8_len((uint8_t)text[pos]),
					       len - pos);

		m.sym[n_sym] = (struct qvk_merge_symbol){
			pos, c, n_sym ? n_sym - 1 : UINT32_MAX, UINT32_MAX };
		if (n_sym)
			m.sym[n_sym - 1].next = n_sym;
		pos += c;
	}
	qvk_merge_run(&m, n_sym);
	for (uint32_t i = 0; i != UINT32_MAX; i = m.sym[i].next) {
		const struct qvk_merge_symbol *y = &m.sym[i];
		uint32_t id = qvk_tokenizer_lookup(tok, text + y->start, y->n);

		if (id != UINT32_MAX) {
			qvk_tokens_emit(tokens, max, n, id);
			continue;
		}
		for (uint32_t j = 0; j < y->n; j++) /* byte fallback */
			qvk_tokens_emit(tokens, max, n,
					tok->byte_tokens[(uint8_t)text[y->start + j]]);
	}
	free(m.heap);
	free(m.sym);
	return QVK_OK;
}
