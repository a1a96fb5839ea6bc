/* SPDX-License-Identifier: MIT */
/*
 * Tokenizer vocabularies: the piece and key tables, one hash table from key
 * to id, llama2.c tokenizer files, loading by file kind, accessors and
 * decoding. GGUF metadata is read in tokenizer_gguf.c, encoding lives in
 * tokenizer_encode.c (SentencePiece: tokenizer_spm.c, BPE: tokenizer_bpe.c).
 *
 * SentencePiece pieces are kept with plain spaces: GGUF writes U+2581 "▁"
 * for a space, llama2.c's export already replaced it with ' '. BPE pieces
 * are kept as the bytes they stand for (tokenizer_bpe.c says why).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

#define QVK_SPM_SPACE "\xe2\x96\x81" /* U+2581 LOWER ONE EIGHTH BLOCK */

uint64_t qvk_tokenizer_hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
	return h;
}

uint32_t qvk_tokenizer_lookup(const struct qvk_tokenizer *t, const char *text,
			      size_t len)
{
	uint32_t i = (uint32_t)qvk_tokenizer_hash(text, len) & t->table_mask;

	for (;; i = (i + 1) & t->table_mask) {
		uint32_t id = t->table[i];

		if (!id)
			return UINT32_MAX;
		id--;
		if (t->key_lens[id] == len && !memcmp(t->keys[id], text, len))
			return id;
	}
}

/* "<0xAB>" -> 0xAB, or -1. */
static int qvk_tokenizer_byte_piece(const char *p, size_t len)
{
	unsigned v;
	char tail;

	if (len != 6 || memcmp(p, "<0x", 3) || p[5] != '>')
		return -1;
	if (sscanf(p + 3, "%2x%c", &v, &tail) != 2 || tail != '>')
		return -1;
	return (int)v;
}

/* Longer piece first, then the lower id (qsort_r: glibc's argument order). */
static int qvk_tokenizer_special_cmp(const void *a, const void *b, void *arg)
{
	const struct qvk_tokenizer *t = arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	if (t->piece_lens[x] != t->piece_lens[y])
		return t->piece_lens[x] < t->piece_lens[y] ? 1 : -1;
	return (x > y) - (x < y);
}

uint16_t qvk_token_type_attr(uint8_t type)
{
	switch (type) {
	case QVK_TOKEN_NORMAL: return QVK_ATTR_NORMAL;
	case QVK_TOKEN_UNKNOWN: return QVK_ATTR_UNKNOWN;
	case QVK_TOKEN_CONTROL: return QVK_ATTR_CONTROL;
	case QVK_TOKEN_USER_DEFINED: return QVK_ATTR_USER_DEFINED;
	case QVK_TOKEN_UNUSED: return QVK_ATTR_UNUSED;
	case QVK_TOKEN_BYTE: return QVK_ATTR_BYTE;
	default: return 0;
	}
}

/* Insert @id under its key unless the key is absent or taken (first wins). */
static void qvk_tokenizer_insert(struct qvk_tokenizer *t, uint32_t id)
{
	uint32_t slot;

	if (t->key_lens[id] == UINT32_MAX ||
	    qvk_tokenizer_lookup(t, t->keys[id], t->key_lens[id]) != UINT32_MAX)
		return;
	slot = (uint32_t)qvk_tokenizer_hash(t->keys[id], t->key_lens[id]) &
	       t->table_mask;
	while (t->table[slot])
		slot = (slot + 1) & t->table_mask;
	t->table[slot] = id + 1;
}

qvk_status qvk_tokenizer_index(struct qvk_ctx *ctx, struct qvk_tokenizer *t,
			       const struct qvk_gguf_str *raw, bool spm_escaped)
{
	bool bpe = t->kind == QVK_TOKENIZER_BPE;
	size_t arena = 0, pos = 0, table_size = 1;

	/*
	 * BPE keeps the file's text (for export) and the bytes; GGUF
	 * SentencePiece the text (the key: llama.cpp merges U+2581, not ' ')
	 * and the piece: 2 copies.
	 */
	t->spm_escaped = spm_escaped;
	for (uint32_t i = 0; i < t->n_vocab; i++)
		if (raw[i].len > UINT32_MAX - 1 ||
		    !qvk_add_size(arena, ((size_t)raw[i].len + 1) <<
					  (bpe || spm_escaped), &arena))
			return qvk_error(ctx, QVK_ERR_FORMAT,
					 "tokenizer: token %u is too long", i);
	while (table_size < 2 * (size_t)t->n_vocab)
		table_size *= 2;
	t->arena = malloc(arena);
	t->pieces = calloc(t->n_vocab, sizeof(*t->pieces));
	t->piece_lens = calloc(t->n_vocab, sizeof(*t->piece_lens));
	t->keys = calloc(t->n_vocab, sizeof(*t->keys));
	t->key_lens = calloc(t->n_vocab, sizeof(*t->key_lens));
	t->table = calloc(table_size, sizeof(*t->table));
	if (bpe) {
		t->raws = calloc(t->n_vocab, sizeof(*t->raws));
		t->raw_lens = calloc(t->n_vocab, sizeof(*t->raw_lens));
	}
	if (!t->arena || !t->pieces || !t->piece_lens || !t->keys ||
	    !t->key_lens || !t->table || (bpe && (!t->raws || !t->raw_lens)))
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "tokenizer: %u tokens",
				 t->n_vocab);
	t->table_mask = (uint32_t)(table_size - 1);

	for (uint32_t id = 0; id < t->n_vocab; id++) {
		const char *s = raw[id].ptr;
		char *dst = t->arena + pos;
		size_t n = 0, len = (size_t)raw[id].len;

		if (bpe) {
			size_t key_len;

			memcpy(dst, s, len);
			dst[len] = '\0';
			t->raws[id] = dst;
			t->raw_lens[id] = (uint32_t)len;
			pos += len + 1;
			t->keys[id] = t->arena + pos;
			if (!qvk_bpe_unescape(s, len, t->keys[id], &key_len)) {
				t->key_lens[id] = UINT32_MAX;
			} else if (key_len == len && !memcmp(t->keys[id], s, len)) {
				t->keys[id] = dst; /* the same bytes: share them */
				t->key_lens[id] = (uint32_t)len;
			} else {
				t->keys[id][key_len] = '\0';
				t->key_lens[id] = (uint32_t)key_len;
				pos += key_len + 1;
			}
			/* special tokens print as written, others as bytes */
			if ((t->attrs[id] & QVK_ATTR_SPECIAL) ||
			    t->key_lens[id] == UINT32_MAX) {
				t->pieces[id] = dst;
				t->piece_lens[id] = (uint32_t)len;
			} else {
				t->pieces[id] = t->keys[id];
				t->piece_lens[id] = t->key_lens[id];
			}
			qvk_tokenizer_insert(t, id);
			continue;
		}
		for (size_t j = 0; j < len;) {
			if (spm_escaped && len - j >= 3 &&
			    !memcmp(s + j, QVK_SPM_SPACE, 3)) {
				dst[n++] = ' ';
				j += 3;
			} else {
				dst[n++] = s[j++];
			}
		}
		dst[n] = '\0';
		t->pieces[id] = t->keys[id] = dst;
		t->piece_lens[id] = t->key_lens[id] = (uint32_t)n;
		pos += n + 1;
		if (n != len) { /* spaces were escaped: the key is the text */
			t->keys[id] = t->arena + pos;
			memcpy(t->keys[id], s, len);
			t->keys[id][len] = '\0';
			t->key_lens[id] = (uint32_t)len;
			pos += len + 1;
		}
		qvk_tokenizer_insert(t, id);
	}

	for (int b = 0; b < 256; b++)
		t->byte_tokens[b] = t->unk;
	for (uint32_t id = t->n_vocab; id--;) {
		int b = t->types[id] == QVK_TOKEN_BYTE ?
			qvk_tokenizer_byte_piece(t->pieces[id], t->piece_lens[id]) : -1;

		if (b >= 0)
			t->byte_tokens[b] = id; /* lowest id wins */
	}
	return QVK_OK;
}

qvk_status qvk_tokenizer_index_special(struct qvk_ctx *ctx,
				       struct qvk_tokenizer *t)
{
	uint32_t k = 0;

	for (uint32_t id = 0; id < t->n_vocab; id++)
		t->n_special += (t->attrs[id] & QVK_ATTR_SPECIAL) &&
				t->piece_lens[id] > 0;
	if (!t->n_special)
		return QVK_OK;
	t->special = malloc(t->n_special * sizeof(*t->special));
	if (!t->special)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "tokenizer");
	for (uint32_t id = 0; id < t->n_vocab; id++)
		if ((t->attrs[id] & QVK_ATTR_SPECIAL) && t->piece_lens[id] > 0)
			t->special[k++] = id;
	qsort_r(t->special, t->n_special, sizeof(*t->special),
		qvk_tokenizer_special_cmp, t);
	return QVK_OK;
}

qvk_status qvk_tokenizer_alloc(struct qvk_ctx *ctx,
			       enum qvk_tokenizer_kind kind, uint32_t n,
			       struct qvk_tokenizer **out)
{
	struct qvk_tokenizer *t = calloc(1, sizeof(*t));

	*out = t;
	if (!t)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "tokenizer");
	t->kind = kind;
	t->n_vocab = n;
	t->scores = calloc(n, sizeof(*t->scores));
	t->types = calloc(n, sizeof(*t->types));
	t->attrs = calloc(n, sizeof(*t->attrs));
	if (!t->scores || !t->types || !t->attrs)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "tokenizer: %u tokens",
				 n);
	t->bos = t->eos = t->unk = QVK_TOKEN_NONE;
	return QVK_OK;
}

void qvk_tokenizer_destroy(struct qvk_tokenizer *t)
{
	if (!t)
		return;
	qvk_bpe_merges_free(&t->merges);
	free(t->chat_template);
	free(t->special);
	free(t->table);
	free(t->raw_lens);
	free(t->raws);
	free(t->key_lens);
	free(t->keys);
	free(t->piece_lens);
	free(t->pieces);
	free(t->arena);
	free(t->attrs);
	free(t->types);
	free(t->scores);
	free(t);
}

/*
 * llama2.c: int32 max_token_length, then until the end of the file
 * { float32 score, int32 length, bytes }. Ids 0 <unk>, 1 BOS ("\n<s>\n"),
 * 2 EOS ("\n</s>\n"), as llama2.c's tokenizer.py exports them.
 */
static qvk_status qvk_tokenizer_parse_llama2c(struct qvk_ctx *ctx,
					      const char *path,
					      const uint8_t *p, size_t size,
					      struct qvk_tokenizer **out)
{
	struct qvk_gguf_str *raw = NULL;
	struct qvk_tokenizer *t = NULL;
	uint32_t max_len, n = 0;
	size_t pos;
	qvk_status st;

	if (size < 4 || (max_len = qvk_load_u32(p)) == 0 || max_len > (1u << 16))
		return qvk_error(ctx, QVK_ERR_FORMAT,
				 "%s: llama2.c tokenizer: max_token_length at "
				 "byte offset 0 missing or not 1..65536", path);
	/* count first (checking every entry), then fill */
	for (pos = 4; pos < size; n++) {
		uint32_t len;

		if (size - pos < 8)
			return qvk_error(ctx, QVK_ERR_FORMAT,
					 "%s: token %u at byte offset %zu: header "
					 "truncated", path, n, pos);
		len = qvk_load_u32(p + pos + 4);
		if (!isfinite(qvk_load_f32(p + pos)) || len > max_len ||
		    len > size - pos - 8)
			return qvk_error(ctx, QVK_ERR_FORMAT,
					 "%s: token %u at byte offset %zu: score "
					 "not finite, or length %u over "
					 "max_token_length %u or past the end",
					 path, n, pos, len, max_len);
		if (n == QVK_VOCAB_MAX)
			return qvk_error(ctx, QVK_ERR_FORMAT,
					 "%s: over %u tokens", path, QVK_VOCAB_MAX);
		pos += 8 + len;
	}
	if (n < 3)
		return qvk_error(ctx, QVK_ERR_FORMAT,
				 "%s: %u tokens (at least <unk>, BOS, EOS)", path,
				 n);
	raw = calloc(n, sizeof(*raw));
	if (!raw)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "tokenizer");
	if ((st = qvk_tokenizer_alloc(ctx, QVK_TOKENIZER_SPM, n, &t)))
		goto out_free;
	t->unk = 0;
	t->bos = 1;
	t->eos = 2;
	t->add_space_prefix = true;
	t->add_bos = true;
	pos = 4;
	for (uint32_t id = 0; id < n; id++) {
		raw[id].len = qvk_load_u32(p + pos + 4);
		raw[id].ptr = (const char *)p + pos + 8;
		t->scores[id] = qvk_load_f32(p + pos);
		pos += 8 + raw[id].len;
		if (id == t->bos || id == t->eos) {
			/* "\n<s>\n" -> "<s>": the text SentencePiece knows */
			if (raw[id].len >= 2 && raw[id].ptr[0] == '\n' &&
			    raw[id].ptr[raw[id].len - 1] == '\n') {
				raw[id].ptr++;
				raw[id].len -= 2;
			}
			t->types[id] = QVK_TOKEN_CONTROL;
		} else if (id == t->unk) {
			t->types[id] = QVK_TOKEN_UNKNOWN;
		} else if (qvk_tokenizer_byte_piece(raw[id].ptr,
						    (size_t)raw[id].len) >= 0) {
			t->types[id] = QVK_TOKEN_BYTE;
		} else {
			t->types[id] = QVK_TOKEN_NORMAL;
		}
		t->attrs[id] = qvk_token_type_attr(t->types[id]);
	}
	t->attrs[t->eos] |= QVK_ATTR_EOG;
	if (!(st = qvk_tokenizer_index(ctx, t, raw, false)))
		st = qvk_tokenizer_index_special(ctx, t);
out_free:
	free(raw);
	if (st)
		qvk_tokenizer_destroy(t);
	else
		*out = t;
	return st;
}

qvk_status qvk_tokenizer_load(struct qvk_ctx *ctx, const char *path,
			      struct qvk_tokenizer **out)
{
	struct qvk_gguf *g;
	void *map;
	size_t size;
	qvk_status st;

	if (!out || !path)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "tokenizer: no path");
	*out = NULL;
	if ((st = qvk_map_file(ctx, path, &map, &size)))
		return st;
	if (size >= 4 && !memcmp(map, "GGUF", 4)) {
		qvk_unmap_file(map, size);
		if ((st = qvk_gguf_open(ctx, path, &g)))
			return st;
		st = qvk_tokenizer_from_gguf(ctx, g, out);
		qvk_gguf_close(g); /* the tokenizer copied what it needs */
		if (st && ctx) { /* name the file in front of the detail */
			char detail[QVK_MESSAGE_MAX];

			snprintf(detail, sizeof(detail), "%s",
				 qvk_ctx_message(ctx));
			qvk_error(ctx, st, "%s: %s", path, detail);
		}
		return st;
	}
	st = qvk_tokenizer_parse_llama2c(ctx, path, map, size, out);
	qvk_unmap_file(map, size);
	return st;
}

uint32_t qvk_tokenizer_vocab_size(const struct qvk_tokenizer *t)
{
	return t->n_vocab;
}

bool qvk_tokenizer_adds_bos(const struct qvk_tokenizer *t)
{
	return t->add_bos;
}

bool qvk_tokenizer_adds_eos(const struct qvk_tokenizer *t)
{
	return t->add_eos;
}

uint32_t qvk_tokenizer_bos(const struct qvk_tokenizer *t)
{
	return t->bos;
}

uint32_t qvk_tokenizer_eos(const struct qvk_tokenizer *t)
{
	return t->eos;
}

bool qvk_tokenizer_is_eog(const struct qvk_tokenizer *t, uint32_t id)
{
	return id < t->n_vocab && (t->attrs[id] & QVK_ATTR_EOG);
}

const char *qvk_tokenizer_describe(const struct qvk_tokenizer *t)
{
	return t->kind == QVK_TOKENIZER_SPM ? "SentencePiece" : t->describe;
}

const char *qvk_tokenizer_chat_template(const struct qvk_tokenizer *t)
{
	return t->chat_template;
}

const char *qvk_tokenizer_piece(const struct qvk_tokenizer *t, uint32_t id,
				size_t *len)
{
	if (id >= t->n_vocab) {
		*len = 0;
		return "";
	}
	*len = t->piece_lens[id];
	return t->pieces[id];
}

float qvk_tokenizer_score(const struct qvk_tokenizer *t, uint32_t id)
{
	return id < t->n_vocab ? t->scores[id] : 0.0f;
}

enum qvk_token_type qvk_tokenizer_type(const struct qvk_tokenizer *t,
				       uint32_t id)
{
	return id < t->n_vocab ? (enum qvk_token_type)t->types[id] :
				 QVK_TOKEN_UNUSED;
}

const char *qvk_tokenizer_decode(const struct qvk_tokenizer *t, uint32_t prev,
				 uint32_t id, size_t *len)
{
	/* one static byte per value: read-only, so no shared mutable state */
	static const char bytes[256] = {
#define QVK_B4(n) (char)(n), (char)(n + 1), (char)(n + 2), (char)(n + 3)
#define QVK_B16(n) QVK_B4(n), QVK_B4(n + 4), QVK_B4(n + 8), QVK_B4(n + 12)
#define QVK_B64(n) QVK_B16(n), QVK_B16(n + 16), QVK_B16(n + 32), QVK_B16(n + 48)
		QVK_B64(0), QVK_B64(64), QVK_B64(128), QVK_B64(192)
#undef QVK_B64
#undef QVK_B16
#undef QVK_B4
	};
	const char *p;
	uint16_t attr;
	int b;

	*len = 0;
	if (id >= t->n_vocab)
		return "";
	attr = t->attrs[id];
	/* llama.cpp prints nothing for these unless asked for special ones */
	if ((attr & (QVK_ATTR_CONTROL | QVK_ATTR_UNKNOWN)) ||
	    !(attr & (QVK_ATTR_NORMAL | QVK_ATTR_USER_DEFINED | QVK_ATTR_BYTE)))
		return "";
	p = t->pieces[id];
	*len = t->piece_lens[id];
	if ((attr & QVK_ATTR_BYTE) &&
	    (b = qvk_tokenizer_byte_piece(p, *len)) >= 0) {
		*len = 1;
		return &bytes[b];
	}
	/* SentencePiece drops the dummy-prefix space of the first word */
	if (t->kind == QVK_TOKENIZER_SPM && prev == t->bos && *len &&
	    p[0] == ' ') {
		p++;
		(*len)--;
	}
	return p;
}
