/* SPDX-License-Identifier: MIT */
/*
 * SentencePiece-BPE encoding as llama.cpp's llm_tokenizer_spm does it:
 * symbols are the UTF-8 characters of " " + text; a max-heap holds every
 * adjacent pair whose concatenation is a token, ordered by that token's
 * score, ties to the leftmost pair; the best pair merges, its neighbours'
 * pairs are pushed, and stale heap entries (a side merged away since) are
 * recognised by their size and skipped. A final symbol that is no token
 * becomes its bytes' <0xXX> tokens. O(n log n) in the text length, so a
 * whole evaluation text can be encoded in one call. Special tokens are cut
 * out of the text before (tokenizer_encode.c).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

struct qvk_spm_symbol {
	size_t start;     /* byte offset in the text */
	size_t n;         /* bytes; 0 once merged into its left neighbour */
	size_t prev, next; /* SIZE_MAX at the ends */
};

struct qvk_spm_bigram {
	size_t left, right;
	float score;
	size_t size; /* bytes of left + right when pushed */
};

struct qvk_spm_state {
	const struct qvk_tokenizer *tok;
	const char *text;
	struct qvk_spm_symbol *sym;
	struct qvk_spm_bigram *heap;
	size_t heap_len;
};

/* a ranks above b: higher score, then the leftmost */
static bool qvk_spm_above(const struct qvk_spm_bigram *a,
			  const struct qvk_spm_bigram *b)
{
	return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static void qvk_spm_push(struct qvk_spm_state *s, size_t left, size_t right)
{
	const struct qvk_spm_symbol *l, *r;
	struct qvk_spm_bigram b;
	size_t i;
	uint32_t id;

	if (left == SIZE_MAX || right == SIZE_MAX)
		return;
	l = &s->sym[left];
	r = &s->sym[right];
	id = qvk_tokenizer_lookup(s->tok, s->text + l->start, l->n + r->n);
	if (id == UINT32_MAX)
		return;
	b = (struct qvk_spm_bigram){ left, right, s->tok->scores[id],
				     l->n + r->n };
	/* sift up; the heap has room for every pair ever pushed (< 3n) */
	i = s->heap_len++;
	while (i && qvk_spm_above(&b, &s->heap[(i - 1) / 2])) {
		s->heap[i] = s->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	s->heap[i] = b;
}

static struct qvk_spm_bigram qvk_spm_pop(struct qvk_spm_state *s)
{
	struct qvk_spm_bigram top = s->heap[0], last = s->heap[--s->heap_len];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= s->heap_len)
			break;
		if (c + 1 < s->heap_len &&
		    qvk_spm_above(&s->heap[c + 1], &s->heap[c]))
			c++;
		if (!qvk_spm_above(&s->heap[c], &last))
			break;
		s->heap[i] = s->heap[c];
		i = c;
	}
	if (s->heap_len)
		s->heap[i] = last;
	return top;
}

/* Bytes of the UTF-8 sequence led by @c (1 for a stray continuation byte). */
static size_t qvk_utf8_len(uint8_t c)
{
	static const uint8_t len[16] = { 1, 1, 1, 1, 1, 1, 1, 1,
					 1, 1, 1, 1, 2, 2, 3, 4 };

	return len[c >> 4];
}

static void qvk_spm_merge(struct qvk_spm_state *s, size_t len,
			  uint32_t *tokens, size_t max, size_t *n_out)
{
	size_t n_sym = 0;

	for (size_t pos = 0; pos < len; n_sym++) {
		size_t n = QVK_MIN(qvk_utf8_len((uint8_t)s->text[pos]), len - pos);

		s->sym[n_sym] = (struct qvk_spm_symbol){
			pos, n, n_sym ? n_sym - 1 : SIZE_MAX, SIZE_MAX };
		if (n_sym)
			s->sym[n_sym - 1].next = n_sym;
		pos += n;
	}
	for (size_t i = 1; i < n_sym; i++)
		qvk_spm_push(s, i - 1, i);
	while (s->heap_len) {
		struct qvk_spm_bigram b = qvk_spm_pop(s);
		struct qvk_spm_symbol *l = &s->sym[b.left], *r = &s->sym[b.right];

		if (!l->n || !r->n || l->n + r->n != b.size)
			continue; /* stale: one side changed since the push */
		l->n += r->n;
		r->n = 0;
		l->next = r->next;
		if (r->next != SIZE_MAX)
			s->sym[r->next].prev = b.left;
		qvk_spm_push(s, l->prev, b.left);
		qvk_spm_push(s, b.left, l->next);
	}
	for (size_t i = n_sym ? 0 : SIZE_MAX; i != SIZE_MAX; i = s->sym[i].next) {
		const struct qvk_spm_symbol *y = &s->sym[i];
		uint32_t id = qvk_tokenizer_lookup(s->tok, s->text + y->start, y->n);

		if (id != UINT32_MAX) {
			qvk_tokens_emit(tokens, max, n_out, id);
			continue;
		}
		for (size_t j = 0; j < y->n; j++) /* byte fallback */
			qvk_tokens_emit(tokens, max, n_out,
				     s->tok->byte_tokens[(uint8_t)s->text[y->start + j]]);
	}
}

qvk_status qvk_spm_encode(const struct qvk_tokenizer *tok, struct qvk_ctx *ctx,
			  const char *text, size_t len, uint32_t *tokens,
			  size_t max, size_t *n)
{
	struct qvk_spm_state s = { .tok = tok, .text = text };
	size_t heap_cap;

	if (!len)
		return QVK_OK;
	if (!qvk_mul_size(len, 3, &heap_cap) ||
	    !(s.sym = malloc(len * sizeof(*s.sym))) ||
	    !(s.heap = malloc(heap_cap * sizeof(*s.heap)))) {
		free(s.sym);
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "tokenizer: %zu bytes "
				 "of text", len);
	}
	qvk_spm_merge(&s, len, tokens, max, n);
	free(s.heap);
	free(s.sym);
	return QVK_OK;
}
