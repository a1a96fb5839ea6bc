/* SPDX-License-Identifier: MIT */
/*
 * Tokenizer vocabularies: llama2.c tokenizer files and GGUF
 * tokenizer.ggml.* metadata, one hash table from piece to id, decoding, and
 * the export back to GGUF. Encoding lives in tokenizer_encode.c.
 *
 * Pieces are kept with plain spaces: GGUF (SentencePiece) writes U+2581
 * "▁" for a space, llama2.c's export already replaced it with ' '.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_internal.h"

#define QVK_VOCAB_MAX (1u << 24)
#define QVK_SPM_SPACE "\xe2\x96\x81" /* U+2581 LOWER ONE EIGHTH BLOCK */

static uint64_t qvk_tokenizer_hash(const char *s, size_t len)
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
		if (t->piece_lens[id] == len && !memcmp(t->pieces[id], text, len))
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
static int qvk_tokenizer_user_cmp(const void *a, const void *b, void *arg)
{
	const struct qvk_tokenizer *t = arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	if (t->piece_lens[x] != t->piece_lens[y])
		return t->piece_lens[x] < t->piece_lens[y] ? 1 : -1;
	return (x > y) - (x < y);
}

/*
 * Copy @raw pieces (U+2581 -> ' ' when @spm_escaped) into one arena, build
 * the lookup table (the first id wins for a duplicate piece) and the byte
 * fallback table. scores/types must be filled already.
 */
static qvk_status qvk_tokenizer_index(struct qvk_ctx *ctx,
				      struct qvk_tokenizer *t,
				      const struct qvk_gguf_str *raw,
				      bool spm_escaped)
{
	size_t arena = 0, pos = 0, table_size = 1;

	for (uint32_t i = 0; i < t->n_vocab; i++)
		if (raw[i].len > UINT32_MAX - 1 ||
		    !qvk_add_size(arena, (size_t)raw[i].len + 1, &arena))
			return qvk_error(ctx, QVK_ERR_FORMAT,
					 "tokenizer: token %u is too long", i);
	while (table_size < 2 * (size_t)t->n_vocab)
		table_size *= 2;
	t->arena = malloc(arena);
	t->pieces = calloc(t->n_vocab, sizeof(*t->pieces));
	t->piece_lens = calloc(t->n_vocab, sizeof(*t->piece_lens));
	t->table = calloc(table_size, sizeof(*t->table));
	if (!t->arena || !t->pieces || !t->piece_lens || !t->table)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "tokenizer: %u tokens",
				 t->n_vocab);
	t->table_mask = (uint32_t)(table_size - 1);

	for (uint32_t id = 0; id < t->n_vocab; id++) {
		const char *s = raw[id].ptr;
		char *dst = t->arena + pos;
		size_t n = 0, len = (size_t)raw[id].len;
		uint32_t slot;

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
		t->pieces[id] = dst;
		t->piece_lens[id] = (uint32_t)n;
		pos += n + 1;
		if (qvk_tokenizer_lookup(t, dst, n) != UINT32_MAX)
			continue; /* duplicate piece: keep the first id */
		slot = (uint32_t)qvk_tokenizer_hash(dst, n) & t->table_mask;
		while (t->table[slot])
			slot = (slot + 1) & t->table_mask;
		t->table[slot] = id + 1;
	}

	/* user-defined tokens, cut out before encoding: longest first */
	for (uint32_t id = 0; id < t->n_vocab; id++)
		t->n_user += t->types[id] == QVK_TOKEN_USER_DEFINED &&
			     t->piece_lens[id] > 0;
	if (t->n_user) {
		uint32_t k = 0;

		t->user_tokens = malloc(t->n_user * sizeof(*t->user_tokens));
		if (!t->user_tokens)
			return qvk_error(ctx, QVK_ERR_NO_MEMORY, "tokenizer");
		for (uint32_t id = 0; id < t->n_vocab; id++)
			if (t->types[id] == QVK_TOKEN_USER_DEFINED &&
			    t->piece_lens[id] > 0)
				t->user_tokens[k++] = id;
		qsort_r(t->user_tokens, t->n_user, sizeof(*t->user_tokens),
			qvk_tokenizer_user_cmp, t);
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

static qvk_status qvk_tokenizer_alloc(struct qvk_ctx *ctx, uint32_t n,
				      struct qvk_tokenizer **out)
{
	struct qvk_tokenizer *t = calloc(1, sizeof(*t));

	*out = t;
	if (!t)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "tokenizer");
	t->n_vocab = n;
	t->scores = calloc(n, sizeof(*t->scores));
	t->types = calloc(n, sizeof(*t->types));
	if (!t->scores || !t->types)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "tokenizer: %u tokens",
				 n);
	t->add_space_prefix = true;
	t->add_bos = true;
	return QVK_OK;
}

void qvk_tokenizer_destroy(struct qvk_tokenizer *t)
{
	if (!t)
		return;
	free(t->user_tokens);
	free(t->table);
	free(t->piece_lens);
	free(t->pieces);
	free(t->arena);
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
	if ((st = qvk_tokenizer_alloc(ctx, n, &t)))
		goto out_free;
	t->unk = 0;
	t->bos = 1;
	t->eos = 2;
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
	}
	st = qvk_tokenizer_index(ctx, t, raw, false);
out_free:
	free(raw);
	if (st)
		qvk_tokenizer_destroy(t);
	else
		*out = t;
	return st;
}

static qvk_status qvk_tokenizer_array(struct qvk_ctx *ctx,
				      const struct qvk_gguf *g,
				      const char *key, enum qvk_gguf_type type,
				      uint64_t n, const struct qvk_gguf_kv **out)
{
	*out = qvk_gguf_find(g, key);
	if (!*out)
		return QVK_ERR_NOT_FOUND;
	if ((*out)->type != QVK_GGUF_ARRAY || (*out)->elem_type != type ||
	    (*out)->count != n)
		return qvk_error(ctx, QVK_ERR_FORMAT,
				 "GGUF: %s at byte offset %llu is not an array of "
				 "%llu values of type %u", key,
				 (unsigned long long)(*out)->offset,
				 (unsigned long long)n, type);
	return QVK_OK;
}

static qvk_status qvk_tokenizer_special(struct qvk_ctx *ctx,
					const struct qvk_gguf *g,
					const char *key, uint32_t n,
					uint32_t *id)
{
	qvk_status st = qvk_gguf_get_u32(ctx, g, key, id);

	if (st == QVK_ERR_NOT_FOUND)
		return QVK_OK; /* keep the default */
	if (st)
		return st;
	if (*id >= n)
		return qvk_error(ctx, QVK_ERR_FORMAT,
				 "GGUF: %s = %u is past the %u tokens", key, *id,
				 n);
	return QVK_OK;
}

qvk_status qvk_tokenizer_from_gguf(struct qvk_ctx *ctx,
				   const struct qvk_gguf *g,
				   struct qvk_tokenizer **out)
{
	const struct qvk_gguf_kv *tokens, *scores = NULL, *types = NULL;
	struct qvk_gguf_str model, *raw = NULL;
	struct qvk_tokenizer *t = NULL;
	bool space_prefix = true, add_bos = true;
	qvk_status st;
	uint32_t n;

	if (!out || !g)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "tokenizer: no GGUF");
	*out = NULL;
	if ((st = qvk_gguf_get_str(ctx, g, "tokenizer.ggml.model", &model)))
		return st;
	if (model.len != 5 || memcmp(model.ptr, "llama", 5))
		return qvk_error(ctx, QVK_ERR_UNSUPPORTED,
				 "GGUF: tokenizer.ggml.model '%.*s' (qvk reads "
				 "the SentencePiece 'llama' tokenizer)",
				 (int)QVK_MIN(model.len, 64), model.ptr);
	tokens = qvk_gguf_find(g, "tokenizer.ggml.tokens");
	if (!tokens || tokens->type != QVK_GGUF_ARRAY ||
	    tokens->elem_type != QVK_GGUF_STRING || tokens->count < 3 ||
	    tokens->count > QVK_VOCAB_MAX)
		return qvk_error(ctx, QVK_ERR_FORMAT,
				 "GGUF: tokenizer.ggml.tokens missing or not an "
				 "array of 3..%u strings", QVK_VOCAB_MAX);
	n = (uint32_t)tokens->count;
	st = qvk_tokenizer_array(ctx, g, "tokenizer.ggml.scores",
				 QVK_GGUF_FLOAT32, n, &scores);
	if (st && st != QVK_ERR_NOT_FOUND)
		return st;
	st = qvk_tokenizer_array(ctx, g, "tokenizer.ggml.token_type",
				 QVK_GGUF_INT32, n, &types);
	if (st && st != QVK_ERR_NOT_FOUND)
		return st;
	st = qvk_gguf_get_bool(ctx, g, "tokenizer.ggml.add_space_prefix",
			       &space_prefix);
	if (st && st != QVK_ERR_NOT_FOUND)
		return st;
	st = qvk_gguf_get_bool(ctx, g, "tokenizer.ggml.add_bos_token", &add_bos);
	if (st && st != QVK_ERR_NOT_FOUND)
		return st;

	raw = calloc(n, sizeof(*raw));
	if (!raw)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "tokenizer");
	if ((st = qvk_tokenizer_alloc(ctx, n, &t)))
		goto out_free;
	t->add_space_prefix = space_prefix;
	t->add_bos = add_bos;
	t->unk = 0;
	t->bos = 1;
	t->eos = 2;
	if ((st = qvk_tokenizer_special(ctx, g, "tokenizer.ggml.bos_token_id",
					n, &t->bos)) ||
	    (st = qvk_tokenizer_special(ctx, g, "tokenizer.ggml.eos_token_id",
					n, &t->eos)) ||
	    (st = qvk_tokenizer_special(ctx, g,
					"tokenizer.ggml.unknown_token_id", n,
					&t->unk)))
		goto out_free;
	{
		const uint8_t *p = tokens->data;

		for (uint32_t id = 0; id < n; id++) { /* validated at open */
			raw[id].len = qvk_load_u64(p);
			raw[id].ptr = (const char *)p + 8;
			p += 8 + raw[id].len;
		}
	}
	for (uint32_t id = 0; id < n; id++) {
		int32_t type = types ? (int32_t)qvk_load_u32(types->data + 4 * id) :
				       QVK_TOKEN_NORMAL;

		t->scores[id] = scores ? qvk_load_f32(scores->data + 4 * id) : 0;
		if (!isfinite(t->scores[id]) || type < QVK_TOKEN_NORMAL ||
		    type > QVK_TOKEN_BYTE) {
			st = qvk_error(ctx, QVK_ERR_FORMAT,
				       "GGUF: token %u: tokenizer.ggml.scores %g "
				       "(must be finite) or token_type %d (must "
				       "be 1..6)", id, (double)t->scores[id],
				       type);
			goto out_free;
		}
		t->types[id] = (uint8_t)type;
	}
	st = qvk_tokenizer_index(ctx, t, raw, true);
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

uint32_t qvk_tokenizer_bos(const struct qvk_tokenizer *t)
{
	return t->bos;
}

uint32_t qvk_tokenizer_eos(const struct qvk_tokenizer *t)
{
	return t->eos;
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
	int b;

	*len = 0;
	if (id >= t->n_vocab || t->types[id] == QVK_TOKEN_CONTROL ||
	    t->types[id] == QVK_TOKEN_UNUSED)
		return "";
	p = t->pieces[id];
	*len = t->piece_lens[id];
	if (t->types[id] == QVK_TOKEN_BYTE &&
	    (b = qvk_tokenizer_byte_piece(p, *len)) >= 0) {
		*len = 1;
		return &bytes[b];
	}
	/* SentencePiece drops the dummy-prefix space of the first word */
	if (prev == t->bos && *len && p[0] == ' ') {
		p++;
		(*len)--;
	}
	return p;
}

qvk_status qvk_tokenizer_to_gguf(const struct qvk_tokenizer *t,
				 struct qvk_gguf_writer *w)
{
	char **escaped = calloc(t->n_vocab, sizeof(*escaped));
	uint64_t *lens = calloc(t->n_vocab, sizeof(*lens));
	int32_t *types = calloc(t->n_vocab, sizeof(*types));
	qvk_status st = QVK_ERR_NO_MEMORY;

	if (!escaped || !lens || !types)
		goto out_free;
	for (uint32_t id = 0; id < t->n_vocab; id++) {
		const char *s = t->pieces[id];
		size_t n = 0;

		escaped[id] = malloc(3 * (size_t)t->piece_lens[id] + 1);
		if (!escaped[id])
			goto out_free;
		for (uint32_t j = 0; j < t->piece_lens[id]; j++) {
			if (s[j] == ' ') {
				memcpy(escaped[id] + n, QVK_SPM_SPACE, 3);
				n += 3;
			} else {
				escaped[id][n++] = s[j];
			}
		}
		lens[id] = n;
		types[id] = t->types[id];
	}
	if ((st = qvk_gguf_writer_set_str(w, "tokenizer.ggml.model", "llama")) ||
	    (st = qvk_gguf_writer_set_str_array(w, "tokenizer.ggml.tokens",
				(const char *const *)escaped, lens, t->n_vocab)) ||
	    (st = qvk_gguf_writer_set_array(w, "tokenizer.ggml.scores",
				QVK_GGUF_FLOAT32, t->scores, t->n_vocab)) ||
	    (st = qvk_gguf_writer_set_array(w, "tokenizer.ggml.token_type",
				QVK_GGUF_INT32, types, t->n_vocab)) ||
	    (st = qvk_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id",
					  t->bos)) ||
	    (st = qvk_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id",
					  t->eos)) ||
	    (st = qvk_gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id",
					  t->unk)) ||
	    (st = qvk_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token",
					   t->add_bos)) ||
	    (st = qvk_gguf_writer_set_bool(w, "tokenizer.ggml.add_space_prefix",
					   t->add_space_prefix)))
		goto out_free;
out_free:
	if (escaped)
		for (uint32_t id = 0; id < t->n_vocab; id++)
			free(escaped[id]);
	free(escaped);
	free(lens);
	free(types);
	return st;
}
