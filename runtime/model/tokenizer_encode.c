/* SPDX-License-Identifier: MIT */
/*
 * SentencePiece-BPE encoding as llama.cpp's llm_tokenizer_spm does it:
 * symbols are the UTF-8 characters of " " + text; a max-heap holds every
 * adjacent pair whose concatenation is a token, ordered by that token's
 * score, ties to the leftmost pair; the best pair merges, its neighbours'
 * pairs are pushed, and stale heap entries (a side merged away since) are
 * recognised by their size and skipped. A final symbol that is no token
 * becomes its bytes' <0xXX> tokens. O(n log n) in the text length, so a
 * whole evaluation text can be encoded in one call. User-defined tokens
 * are cut out of the text before that (qvk_tokenizer_partition).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

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

/* Append to the output, or only count when it is full. */
static void qvk_spm_emit(uint32_t *tokens, size_t max, size_t *n, uint32_t id)
{
	if (*n < max)
		tokens[*n] = id;
	(*n)++;
}

static void qvk_spm_encode(struct qvk_spm_state *s, size_t len,
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
			qvk_spm_emit(tokens, max, n_out, id);
			continue;
		}
		for (size_t j = 0; j < y->n; j++) /* byte fallback */
			qvk_spm_emit(tokens, max, n_out,
				     s->tok->byte_tokens[(uint8_t)s->text[y->start + j]]);
	}
}

/* A piece of the text: raw text, or one user-defined token found in it. */
struct qvk_fragment {
	size_t start, len;
	uint32_t token; /* UINT32_MAX for raw text */
};

/*
 * llama.cpp's tokenizer_st_partition with parse_special off: user-defined
 * tokens are cut out of the raw text before SentencePiece runs, longest
 * token first, each one's occurrences left to right. @frags has room for
 * 2 * len + 1 fragments (every cut adds at most two).
 */
static size_t qvk_tokenizer_partition(const struct qvk_tokenizer *tok,
				      const char *text, size_t len,
				      struct qvk_fragment *frags,
				      struct qvk_fragment *tmp)
{
	size_t n = 1;

	frags[0] = (struct qvk_fragment){ 0, len, UINT32_MAX };
	for (uint32_t u = 0; u < tok->n_user; u++) {
		uint32_t id = tok->user_tokens[u];
		const char *piece = tok->pieces[id];
		size_t plen = tok->piece_lens[id], m = 0;

		for (size_t f = 0; f < n; f++) {
			size_t pos = frags[f].start, end = pos + frags[f].len;
			const char *hit;

			if (frags[f].token != UINT32_MAX) {
				tmp[m++] = frags[f];
				continue;
			}
			while ((hit = memmem(text + pos, end - pos, piece, plen))) {
				size_t at = (size_t)(hit - text);

				if (at > pos)
					tmp[m++] = (struct qvk_fragment){
						pos, at - pos, UINT32_MAX };
				tmp[m++] = (struct qvk_fragment){ at, plen, id };
				pos = at + plen;
			}
			if (end > pos)
				tmp[m++] = (struct qvk_fragment){ pos, end - pos,
								  UINT32_MAX };
		}
		memcpy(frags, tmp, m * sizeof(*frags));
		n = m;
	}
	return n;
}

qvk_status qvk_tokenizer_encode(const struct qvk_tokenizer *tok,
				struct qvk_ctx *ctx, const char *text,
				size_t len, unsigned flags, uint32_t *tokens,
				size_t max_tokens, size_t *n_tokens)
{
	struct qvk_spm_state s = { .tok = tok };
	struct qvk_fragment one, *frags = &one, *tmp = NULL;
	size_t n = 0, n_frags = 0, cap, heap_cap, n_frag_max;
	bool prev_special = true; /* the first text gets the dummy prefix */
	char *buf = NULL;
	qvk_status st = QVK_OK;

	if (!tok || !n_tokens || (!text && len) || (!tokens && max_tokens) ||
	    (flags & ~(QVK_TOKENIZE_BOS | QVK_TOKENIZE_EOS)))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "tokenizer: bad encode arguments");
	*n_tokens = 0;
	if (flags & QVK_TOKENIZE_BOS)
		qvk_spm_emit(tokens, max_tokens, &n, tok->bos);
	if (len) {
		/* room for the longest fragment plus the dummy-prefix space */
		if (!qvk_add_size(len, 1, &cap) ||
		    !qvk_mul_size(cap, 3, &heap_cap) ||
		    !qvk_mul_size(len, 2, &n_frag_max) ||
		    !(buf = malloc(cap)) ||
		    !(s.sym = malloc(cap * sizeof(*s.sym))) ||
		    !(s.heap = malloc(heap_cap * sizeof(*s.heap)))) {
			st = qvk_error(ctx, QVK_ERR_NO_MEMORY,
				       "tokenizer: %zu bytes of text", len);
			goto out_free;
		}
		if (tok->n_user) {
			frags = malloc((n_frag_max + 1) * sizeof(*frags));
			tmp = malloc((n_frag_max + 1) * sizeof(*tmp));
			if (!frags || !tmp) {
				if (frags == NULL)
					frags = &one;
				st = qvk_error(ctx, QVK_ERR_NO_MEMORY,
					       "tokenizer: fragments");
				goto out_free;
			}
		}
		n_frags = qvk_tokenizer_partition(tok, text, len, frags, tmp);
	}
	s.text = buf;
	for (size_t f = 0; f < n_frags; f++) {
		size_t prefix;

		if (frags[f].token != UINT32_MAX) {
			qvk_spm_emit(tokens, max_tokens, &n, frags[f].token);
			prev_special = true;
			continue;
		}
		/* the dummy prefix: " " before text that follows a token */
		prefix = tok->add_space_prefix && prev_special;
		buf[0] = ' ';
		memcpy(buf + prefix, text + frags[f].start, frags[f].len);
		s.heap_len = 0;
		qvk_spm_encode(&s, frags[f].len + prefix, tokens, max_tokens, &n);
		prev_special = false;
	}
	if (flags & QVK_TOKENIZE_EOS)
		qvk_spm_emit(tokens, max_tokens, &n, tok->eos);
	*n_tokens = n;
	if (n > max_tokens)
		st = qvk_error(ctx, QVK_ERR_INVALID_ARG,
			       "tokenizer: %zu tokens do not fit in %zu", n,
			       max_tokens);
out_free:
	if (frags != &one)
		free(frags);
	free(tmp);
	free(s.heap);
	free(s.sym);
	free(buf);
	return st;
}
