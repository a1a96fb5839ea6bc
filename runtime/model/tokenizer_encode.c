/* SPDX-License-Identifier: MIT */
/*
 * Encoding, as llama.cpp's llama_vocab::impl::tokenize: special tokens
 * are cut out of the text first (tokenizer_st_partition), then each piece
 * of raw text goes through SentencePiece (tokenizer_spm.c) or byte-level
 * BPE (tokenizer_bpe.c), and BOS/EOS are added as asked.
 *
 * User-defined tokens are always cut out (Hugging Face tokenizers do the
 * same); control and unknown tokens only with QVK_TOKENIZE_PARSE_SPECIAL,
 * so that text a user typed cannot forge "<|im_start|>" unless the caller
 * wants template text parsed.
 */
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

/* A piece of the text: raw text, or one special token found in it. */
struct qvk_fragment {
	size_t start, len;
	uint32_t token; /* UINT32_MAX for raw text */
};

/* C's isspace() in the C locale, which llama.cpp strips with. */
static bool qvk_c_space(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* A growing list of fragments. */
struct qvk_fragments {
	struct qvk_fragment *v;
	size_t n, cap;
};

static bool qvk_fragments_push(struct qvk_fragments *f, size_t start,
			       size_t len, uint32_t token)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 16;
		struct qvk_fragment *v = cap < SIZE_MAX / sizeof(*v) ?
			realloc(f->v, cap * sizeof(*v)) : NULL;

		if (!v)
			return false;
		f->v = v;
		f->cap = cap;
	}
	f->v[f->n++] = (struct qvk_fragment){ start, len, token };
	return true;
}

/*
 * Cut the special tokens out of @text into @out, longest first, each
 * one's occurrences left to right, dropping the white space next to one
 * that has LSTRIP/RSTRIP. Only raw text is searched, so a token never
 * matches inside one cut out before.
 */
static qvk_status qvk_tokenizer_partition(const struct qvk_tokenizer *tok,
					  struct qvk_ctx *ctx, const char *text,
					  size_t len, bool parse_special,
					  struct qvk_fragments *out)
{
	struct qvk_fragments next = { 0 }, swap;
	bool ok = qvk_fragments_push(out, 0, len, UINT32_MAX);

	for (uint32_t u = 0; ok && u < tok->n_special; u++) {
		uint32_t id = tok->special[u];
		uint16_t attr = tok->attrs[id];
		const char *piece = tok->pieces[id];
		size_t plen = tok->piece_lens[id];

		if (!parse_special &&
		    (attr & (QVK_ATTR_CONTROL | QVK_ATTR_UNKNOWN)))
			continue;
		next.n = 0;
		for (size_t f = 0; ok && f < out->n; f++) {
			const struct qvk_fragment *fr = &out->v[f];
			size_t pos = fr->start, end = pos + fr->len;
			const char *hit;

			if (fr->token != UINT32_MAX) {
				ok = qvk_fragments_push(&next, fr->start, fr->len,
							fr->token);
				continue;
			}
			while (ok && (hit = memmem(text + pos, end - pos, piece,
						   plen))) {
				size_t at = (size_t)(hit - text), left_end = at;

				if (attr & QVK_ATTR_LSTRIP)
					while (left_end > pos &&
					       qvk_c_space(text[left_end - 1]))
						left_end--;
				if (left_end > pos)
					ok = qvk_fragments_push(&next, pos,
								left_end - pos,
								UINT32_MAX);
				ok = ok && qvk_fragments_push(&next, at, plen, id);
				pos = at + plen;
				if (attr & QVK_ATTR_RSTRIP)
					while (pos < end && qvk_c_space(text[pos]))
						pos++;
			}
			if (ok && end > pos)
				ok = qvk_fragments_push(&next, pos, end - pos,
							UINT32_MAX);
		}
		swap = *out;
		*out = next;
		next = swap;
	}
	free(next.v);
	return ok ? QVK_OK : qvk_error(ctx, QVK_ERR_NO_MEMORY,
				       "tokenizer: text fragments");
}

/*
 * SentencePiece's dummy prefix (" " before text that follows a token), and
 * for GGUF vocabularies spaces as U+2581: llama.cpp merges the escaped
 * text, and an invalid UTF-8 lead byte claims bytes of a U+2581 there.
 */
static qvk_status qvk_tokenizer_encode_spm(const struct qvk_tokenizer *tok,
					   struct qvk_ctx *ctx, const char *text,
					   size_t len, bool prefix,
					   uint32_t *tokens, size_t max,
					   size_t *n)
{
	size_t cap, m = 0;
	char *buf;
	qvk_status st;

	if (!prefix && !tok->spm_escaped)
		return qvk_spm_encode(tok, ctx, text, len, tokens, max, n);
	if (!qvk_add_size(len, 1, &cap) || !qvk_mul_size(cap, 3, &cap) ||
	    !(buf = malloc(cap)))
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "tokenizer: %zu bytes",
				 len);
	for (size_t i = !prefix; i <= len; i++) {
		char c = i ? text[i - 1] : ' ';

		if (c == ' ' && tok->spm_escaped) {
			memcpy(buf + m, "\xe2\x96\x81", 3);
			m += 3;
		} else {
			buf[m++] = c;
		}
	}
	st = qvk_spm_encode(tok, ctx, buf, m, tokens, max, n);
	free(buf);
	return st;
}

qvk_status qvk_tokenizer_encode(const struct qvk_tokenizer *tok,
				struct qvk_ctx *ctx, const char *text,
				size_t len, unsigned flags, uint32_t *tokens,
				size_t max_tokens, size_t *n_tokens)
{
	struct qvk_fragments frags = { 0 };
	bool prev_special = true; /* the first text gets the dummy prefix */
	bool bos, eos;
	size_t n = 0;
	qvk_status st = QVK_OK;

	if (!tok || !n_tokens || (!text && len) || (!tokens && max_tokens) ||
	    (flags & ~(QVK_TOKENIZE_BOS | QVK_TOKENIZE_EOS |
		       QVK_TOKENIZE_ADD_SPECIAL | QVK_TOKENIZE_PARSE_SPECIAL)))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "tokenizer: bad encode arguments");
	*n_tokens = 0;
	bos = (flags & QVK_TOKENIZE_BOS) ||
	      ((flags & QVK_TOKENIZE_ADD_SPECIAL) && tok->add_bos);
	eos = (flags & QVK_TOKENIZE_EOS) ||
	      ((flags & QVK_TOKENIZE_ADD_SPECIAL) && tok->add_eos);
	if ((bos && tok->bos == QVK_TOKEN_NONE) ||
	    (eos && tok->eos == QVK_TOKEN_NONE))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "tokenizer: this vocabulary has no %s token",
				 bos && tok->bos == QVK_TOKEN_NONE ? "BOS" : "EOS");
	if (bos)
		qvk_tokens_emit(tokens, max_tokens, &n, tok->bos);
	if (len)
		st = qvk_tokenizer_partition(tok, ctx, text, len,
					     flags & QVK_TOKENIZE_PARSE_SPECIAL,
					     &frags);
	for (size_t f = 0; st == QVK_OK && f < frags.n; f++) {
		const struct qvk_fragment *fr = &frags.v[f];

		if (fr->token != UINT32_MAX) {
			qvk_tokens_emit(tokens, max_tokens, &n, fr->token);
			prev_special = true;
			continue;
		}
		if (tok->kind == QVK_TOKENIZER_BPE)
			st = qvk_bpe_encode(tok, ctx, text + fr->start, fr->len,
					    tokens, max_tokens, &n);
		else
			st = qvk_tokenizer_encode_spm(tok, ctx, text + fr->start,
						      fr->len,
						      tok->add_space_prefix &&
							      prev_special,
						      tokens, max_tokens, &n);
		prev_special = false;
	}
	free(frags.v);
	if (st)
		return st;
	if (eos)
		qvk_tokens_emit(tokens, max_tokens, &n, tok->eos);
	*n_tokens = n;
	if (n > max_tokens)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "tokenizer: %zu tokens do not fit in %zu", n,
				 max_tokens);
	return QVK_OK;
}
