/* SPDX-License-Identifier: MIT */
/*
 * The merge loop SentencePiece and BPE share (llama.cpp's
 * llm_tokenizer_spm_session and llm_tokenizer_bpe_session differ only in
 * what ranks a pair): a heap holds every adjacent pair that may merge, the
 * best pops first (ties: the leftmost), merges into its left symbol, and
 * the new neighbours' pairs are pushed. A popped pair whose sides changed
 * since it was pushed is stale, and is recognised by its size: symbols only
 * grow, so equal sizes mean unchanged sides. O(n log n) in the symbols.
 */
#include "tokenizer_internal.h"

/* a pops before b: higher key, then the leftmost */
static bool qvk_merge_before(const struct qvk_merge_pair *a,
			     const struct qvk_merge_pair *b)
{
	return a->key > b->key || (a->key == b->key && a->left < b->left);
}

static void qvk_merge_push(struct qvk_merge *m, uint32_t left, uint32_t right)
{
	const struct qvk_merge_symbol *l, *r;
	struct qvk_merge_pair p;
	size_t i;

	if (left == UINT32_MAX || right == UINT32_MAX)
		return;
	l = &m->sym[left];
	r = &m->sym[right];
	p = (struct qvk_merge_pair){ left, right, l->n + r->n, 0 };
	if (!m->rank(m->tok, m->text + l->start, l->n, p.size, &p.key))
		return;
	/* sift up; the heap has room for every pair ever pushed (< 3n) */
	i = m->heap_len++;
	while (i && qvk_merge_before(&p, &m->heap[(i - 1) / 2])) {
		m->heap[i] = m->heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	m->heap[i] = p;
}

static struct qvk_merge_pair qvk_merge_pop(struct qvk_merge *m)
{
	struct qvk_merge_pair top = m->heap[0], last = m->heap[--m->heap_len];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= m->heap_len)
			break;
		if (c + 1 < m->heap_len &&
		    qvk_merge_before(&m->heap[c + 1], &m->heap[c]))
			c++;
		if (!qvk_merge_before(&m->heap[c], &last))
			break;
		m->heap[i] = m->heap[c];
		i = c;
	}
	if (m->heap_len)
		m->heap[i] = last;
	return top;
}

void qvk_merge_run(struct qvk_merge *m, uint32_t n_sym)
{
	m->heap_len = 0;
	for (uint32_t i = 1; i < n_sym; i++)
		qvk_merge_push(m, i - 1, i);
	while (m->heap_len) {
		struct qvk_merge_pair p = qvk_merge_pop(m);
		struct qvk_merge_symbol *l = &m->sym[p.left], *r = &m->sym[p.right];

		if (!l->n || !r->n || l->n + r->n != p.size)
			continue; /* stale: one side changed since the push */
		l->n += r->n;
		r->n = 0;
		l->next = r->next;
		if (r->next != UINT32_MAX)
			m->sym[r->next].prev = p.left;
		qvk_merge_push(m, l->prev, p.left);
		qvk_merge_push(m, p.left, l->next);
	}
}
