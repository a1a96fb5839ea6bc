/* SPDX-License-Identifier: MIT */
/*
 * Tokenizers from GGUF metadata (tokenizer.ggml.*), read as llama.cpp's
 * llama_vocab::impl::load reads them -- defaults, special ids, the
 * end-of-generation set and the per-model token attributes GGUF does not
 * store -- and written back.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer_internal.h"

#define QVK_SPM_SPACE "\xe2\x96\x81" /* U+2581 */

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

/* A token id from @key, kept at its default when absent. */
static qvk_status qvk_tokenizer_special(struct qvk_ctx *ctx,
					const struct qvk_gguf *g,
					const char *key, uint32_t n,
					uint32_t *id)
{
	qvk_status st = qvk_gguf_get_u32(ctx, g, key, id);

	if (st == QVK_ERR_NOT_FOUND)
		return QVK_OK;
	if (st)
		return st;
	if (*id >= n)
		return qvk_error(ctx, QVK_ERR_FORMAT,
				 "GGUF: %s = %u is past the %u tokens", key, *id,
				 n);
	return QVK_OK;
}

static qvk_status qvk_tokenizer_flag(struct qvk_ctx *ctx,
				     const struct qvk_gguf *g, const char *key,
				     bool *v)
{
	qvk_status st = qvk_gguf_get_bool(ctx, g, key, v);

	return st == QVK_ERR_NOT_FOUND ? QVK_OK : st;
}

static bool qvk_str_is(const struct qvk_gguf_str *s, const char *lit)
{
	return s->len == strlen(lit) && !memcmp(s->ptr, lit, s->len);
}

/*
 * Tokens that end generation by their text, as llama.cpp's list (and its
 * FIM pad/repo/separator tokens); each is made a control token.
 */
static const char *const qvk_eog_texts[] = {
	"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>",
	"<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]",
	"[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>",
	/* <｜end▁of▁sentence｜> (DeepSeek), \234 = 0x9c: 'e' is a hex digit */
	"<\xef\xbd\234end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
	"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<|fim_repo|>",
	"<|repo_name|>", "<fim-repo>", "<reponame>", "<|file_sep|>",
};

static void qvk_tokenizer_mark_eog(struct qvk_tokenizer *t,
				   const struct qvk_gguf_str *raw,
				   uint32_t eot, uint32_t eom)
{
	for (uint32_t id = 0; id < t->n_vocab; id++)
		for (size_t k = 0; k < QVK_ARRAY_SIZE(qvk_eog_texts); k++)
			if (qvk_str_is(&raw[id], qvk_eog_texts[k])) {
				t->attrs[id] |= QVK_ATTR_EOG | QVK_ATTR_CONTROL;
				break;
			}
	if (t->eos != QVK_TOKEN_NONE)
		t->attrs[t->eos] |= QVK_ATTR_EOG;
	if (eot != QVK_TOKEN_NONE)
		t->attrs[eot] |= QVK_ATTR_EOG;
	if (eom != QVK_TOKEN_NONE)
		t->attrs[eom] |= QVK_ATTR_EOG;
}

/*
 * GGUF has no per-token strip attributes; llama.cpp sets them by model
 * name. Phi-3's tokenizer.json strips white space after its special tokens
 * ("<|user|>\n" is <|user|> alone), except <unk>, <s>, <|endoftext|>.
 */
static void qvk_tokenizer_name_attrs(struct qvk_tokenizer *t,
				     const struct qvk_gguf *g,
				     const struct qvk_gguf_str *raw)
{
	struct qvk_gguf_str name;
	char lower[256];
	size_t n;

	if (qvk_gguf_get_str(NULL, g, "general.name", &name))
		return;
	n = QVK_MIN((size_t)name.len, sizeof(lower) - 1);
	for (size_t i = 0; i < n; i++)
		lower[i] = (char)tolower((unsigned char)name.ptr[i]);
	lower[n] = '\0';
	if (!strstr(lower, "phi-3") && !strstr(lower, "phi3"))
		return;
	for (uint32_t id = 0; id < t->n_vocab; id++) {
		if ((t->attrs[id] & QVK_ATTR_SPECIAL) || qvk_str_is(&raw[id], "</s>"))
			t->attrs[id] |= QVK_ATTR_RSTRIP;
		if (qvk_str_is(&raw[id], "<unk>") || qvk_str_is(&raw[id], "<s>") ||
		    qvk_str_is(&raw[id], "<|endoftext|>"))
			t->attrs[id] &= (uint16_t)~QVK_ATTR_RSTRIP;
	}
}

/* The model, pre-tokenizer and defaults of tokenizer.ggml.model. */
static qvk_status qvk_tokenizer_kind_of(struct qvk_ctx *ctx,
					const struct qvk_gguf *g,
					struct qvk_tokenizer *t)
{
	struct qvk_gguf_str pre = { "default", 7 };
	char known[1024];
	qvk_status st;

	if (t->kind == QVK_TOKENIZER_SPM) {
		t->unk = 0;
		t->bos = 1;
		t->eos = 2;
		t->add_bos = true;
		t->add_space_prefix = true;
		return QVK_OK;
	}
	st = qvk_gguf_get_str(ctx, g, "tokenizer.ggml.pre", &pre);
	if (st == QVK_ERR_NOT_FOUND) {
		qvk_log(ctx, QVK_LOG_WARN, "GGUF: no tokenizer.ggml.pre: the "
			"'default' BPE pre-tokenizer (as llama.cpp; the model "
			"may tokenize worse than it was trained)");
		pre = (struct qvk_gguf_str){ "default", 7 };
	} else if (st) {
		return st;
	}
	t->pre = qvk_pretok_find(pre.ptr, (size_t)pre.len);
	if (!t->pre) {
		qvk_pretok_list(known, sizeof(known));
		return qvk_error(ctx, QVK_ERR_UNSUPPORTED,
				 "GGUF: tokenizer.ggml.pre '%.*s' is a BPE "
				 "pre-tokenizer qvk does not know (it knows %s)",
				 (int)QVK_MIN(pre.len, 64), pre.ptr, known);
	}
	snprintf(t->pre_name, sizeof(t->pre_name), "%.*s",
		 (int)QVK_MIN(pre.len, sizeof(t->pre_name) - 1), pre.ptr);
	snprintf(t->describe, sizeof(t->describe), "BPE (%s)", t->pre_name);
	/* GPT-2's <|endoftext|> is 50256, but llama.cpp's default is 11 */
	t->bos = t->eos = 11;
	t->add_bos = qvk_pretok_add_bos(t->pre);
	t->ignore_merges = qvk_pretok_ignore_merges(t->pre);
	return QVK_OK;
}

/* Copy tokenizer.chat_template, if any, so the tokenizer can carry it. */
static qvk_status qvk_tokenizer_template(struct qvk_ctx *ctx,
					 const struct qvk_gguf *g,
					 struct qvk_tokenizer *t)
{
	struct qvk_gguf_str s;
	qvk_status st = qvk_gguf_get_str(ctx, g, "tokenizer.chat_template", &s);

	if (st == QVK_ERR_NOT_FOUND)
		return QVK_OK;
	if (st)
		return st;
	if (s.len > (1u << 20) || memchr(s.ptr, '\0', (size_t)s.len))
		return qvk_error(ctx, QVK_ERR_FORMAT,
				 "GGUF: tokenizer.chat_template is over 1 MiB "
				 "or holds a NUL byte");
	t->chat_template = malloc((size_t)s.len + 1);
	if (!t->chat_template)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "chat template");
	memcpy(t->chat_template, s.ptr, (size_t)s.len);
	t->chat_template[s.len] = '\0';
	return QVK_OK;
}

qvk_status qvk_tokenizer_from_gguf(struct qvk_ctx *ctx,
				   const struct qvk_gguf *g,
				   struct qvk_tokenizer **out)
{
	const struct qvk_gguf_kv *tokens, *scores = NULL, *iscores = NULL,
				 *types = NULL;
	struct qvk_gguf_str model, *raw = NULL;
	struct qvk_tokenizer *t = NULL;
	enum qvk_tokenizer_kind kind;
	uint32_t n, eot = QVK_TOKEN_NONE, eom = QVK_TOKEN_NONE;
	qvk_status st;

	if (!out || !g)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "tokenizer: no GGUF");
	*out = NULL;
	if ((st = qvk_gguf_get_str(ctx, g, "tokenizer.ggml.model", &model)))
		return st;
	if (qvk_str_is(&model, "llama"))
		kind = QVK_TOKENIZER_SPM;
	else if (qvk_str_is(&model, "gpt2"))
		kind = QVK_TOKENIZER_BPE;
	else
		return qvk_error(ctx, QVK_ERR_UNSUPPORTED,
				 "GGUF: tokenizer.ggml.model '%.*s' (qvk reads "
				 "'llama', SentencePiece, and 'gpt2', byte-level "
				 "BPE)", (int)QVK_MIN(model.len, 64), model.ptr);
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
	if (st == QVK_ERR_FORMAT && scores->elem_type == QVK_GGUF_INT32 &&
	    scores->count == n) { /* llama.cpp takes integer scores too */
		iscores = scores;
		scores = NULL;
		st = QVK_OK;
	}
	if (st && st != QVK_ERR_NOT_FOUND)
		return st;
	st = qvk_tokenizer_array(ctx, g, "tokenizer.ggml.token_type",
				 QVK_GGUF_INT32, n, &types);
	if (st && st != QVK_ERR_NOT_FOUND)
		return st;

	raw = calloc(n, sizeof(*raw));
	if (!raw)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "tokenizer");
	if ((st = qvk_tokenizer_alloc(ctx, kind, n, &t)) ||
	    (st = qvk_tokenizer_kind_of(ctx, g, t)))
		goto out_free;
	/* a default past the vocabulary is no token (llama.cpp: disabled) */
	if (t->bos >= n)
		t->bos = QVK_TOKEN_NONE;
	if (t->eos >= n)
		t->eos = QVK_TOKEN_NONE;
	if ((st = qvk_tokenizer_flag(ctx, g, "tokenizer.ggml.add_space_prefix",
				     &t->add_space_prefix)) ||
	    (st = qvk_tokenizer_flag(ctx, g, "tokenizer.ggml.add_bos_token",
				     &t->add_bos)) ||
	    (st = qvk_tokenizer_flag(ctx, g, "tokenizer.ggml.add_eos_token",
				     &t->add_eos)) ||
	    (st = qvk_tokenizer_special(ctx, g, "tokenizer.ggml.bos_token_id",
					n, &t->bos)) ||
	    (st = qvk_tokenizer_special(ctx, g, "tokenizer.ggml.eos_token_id",
					n, &t->eos)) ||
	    (st = qvk_tokenizer_special(ctx, g,
					"tokenizer.ggml.unknown_token_id", n,
					&t->unk)) ||
	    (st = qvk_tokenizer_special(ctx, g, "tokenizer.ggml.eot_token_id",
					n, &eot)) ||
	    (st = qvk_tokenizer_special(ctx, g, "tokenizer.ggml.eom_token_id",
					n, &eom)))
		goto out_free;
	if ((t->add_bos && t->bos == QVK_TOKEN_NONE) ||
	    (t->add_eos && t->eos == QVK_TOKEN_NONE)) {
		st = qvk_error(ctx, QVK_ERR_FORMAT,
			       "GGUF: tokenizer.ggml.add_%s_token is set but "
			       "the vocabulary has no such token",
			       t->bos == QVK_TOKEN_NONE ? "bos" : "eos");
		goto out_free;
	}
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

		t->scores[id] = scores ? qvk_load_f32(scores->data + 4 * id) :
				iscores ? (float)(int32_t)qvk_load_u32(
						  iscores->data + 4 * id) : 0;
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
		t->attrs[id] = qvk_token_type_attr((uint8_t)type);
	}
	/* attributes first: they decide how BPE pieces print */
	qvk_tokenizer_mark_eog(t, raw, eot, eom);
	qvk_tokenizer_name_attrs(t, g, raw);
	if ((st = qvk_tokenizer_index(ctx, t, raw, kind == QVK_TOKENIZER_SPM)) ||
	    (kind == QVK_TOKENIZER_BPE && (st = qvk_bpe_merges_load(ctx, g, t))) ||
	    (st = qvk_tokenizer_index_special(ctx, t)) ||
	    (st = qvk_tokenizer_template(ctx, g, t)))
		goto out_free;
out_free:
	free(raw);
	if (st)
		qvk_tokenizer_destroy(t);
	else
		*out = t;
	return st;
}

/* SentencePiece pieces with ' ' written back as U+2581. */
static qvk_status qvk_tokenizer_spm_texts(const struct qvk_tokenizer *t,
					  char **texts, uint64_t *lens)
{
	for (uint32_t id = 0; id < t->n_vocab; id++) {
		const char *s = t->pieces[id];
		size_t n = 0;

		texts[id] = malloc(3 * (size_t)t->piece_lens[id] + 1);
		if (!texts[id])
			return QVK_ERR_NO_MEMORY;
		for (uint32_t j = 0; j < t->piece_lens[id]; j++) {
			if (s[j] == ' ') {
				memcpy(texts[id] + n, QVK_SPM_SPACE, 3);
				n += 3;
			} else {
				texts[id][n++] = s[j];
			}
		}
		lens[id] = n;
	}
	return QVK_OK;
}

static qvk_status qvk_tokenizer_bpe_to_gguf(const struct qvk_tokenizer *t,
					    struct qvk_gguf_writer *w)
{
	const struct qvk_bpe_merges *m = &t->merges;
	const char **strs = calloc(m->n ? m->n : 1, sizeof(*strs));
	uint64_t *lens = calloc(m->n ? m->n : 1, sizeof(*lens));
	qvk_status st = QVK_ERR_NO_MEMORY;

	if (!strs || !lens)
		goto out_free;
	for (uint32_t r = 0; r < m->n; r++) {
		strs[r] = m->raw + m->raw_off[r];
		lens[r] = m->raw_off[r + 1] - m->raw_off[r];
	}
	if ((st = qvk_gguf_writer_set_str(w, "tokenizer.ggml.pre", t->pre_name)))
		goto out_free;
	st = qvk_gguf_writer_set_str_array(w, "tokenizer.ggml.merges",
					   (const char *const *)strs, lens, m->n);
out_free:
	free(strs);
	free(lens);
	return st;
}

qvk_status qvk_tokenizer_to_gguf(const struct qvk_tokenizer *t,
				 struct qvk_gguf_writer *w)
{
	bool bpe = t->kind == QVK_TOKENIZER_BPE;
	char **texts = bpe ? NULL : calloc(t->n_vocab, sizeof(*texts));
	uint64_t *lens = calloc(t->n_vocab, sizeof(*lens));
	int32_t *types = calloc(t->n_vocab, sizeof(*types));
	qvk_status st = QVK_ERR_NO_MEMORY;
	const struct {
		const char *key;
		uint32_t id;
	} ids[] = {
		{ "tokenizer.ggml.bos_token_id", t->bos },
		{ "tokenizer.ggml.eos_token_id", t->eos },
		{ "tokenizer.ggml.unknown_token_id", t->unk },
	};

	if ((!bpe && !texts) || !lens || !types)
		goto out_free;
	if (bpe)
		for (uint32_t id = 0; id < t->n_vocab; id++)
			lens[id] = t->raw_lens[id];
	else if ((st = qvk_tokenizer_spm_texts(t, texts, lens)))
		goto out_free;
	for (uint32_t id = 0; id < t->n_vocab; id++)
		types[id] = t->types[id];
	if ((st = qvk_gguf_writer_set_str(w, "tokenizer.ggml.model",
					  bpe ? "gpt2" : "llama")) ||
	    (st = qvk_gguf_writer_set_str_array(w, "tokenizer.ggml.tokens",
				(const char *const *)(bpe ? t->raws : texts), lens,
				t->n_vocab)) ||
	    (!bpe && (st = qvk_gguf_writer_set_array(w, "tokenizer.ggml.scores",
				QVK_GGUF_FLOAT32, t->scores, t->n_vocab))) ||
	    (st = qvk_gguf_writer_set_array(w, "tokenizer.ggml.token_type",
				QVK_GGUF_INT32, types, t->n_vocab)) ||
	    (bpe && (st = qvk_tokenizer_bpe_to_gguf(t, w))) ||
	    (st = qvk_gguf_writer_set_bool(w, "tokenizer.ggml.add_bos_token",
					   t->add_bos)) ||
	    (st = qvk_gguf_writer_set_bool(w, "tokenizer.ggml.add_eos_token",
					   t->add_eos)) ||
	    (!bpe && (st = qvk_gguf_writer_set_bool(w,
				"tokenizer.ggml.add_space_prefix",
				t->add_space_prefix))) ||
	    (t->chat_template && (st = qvk_gguf_writer_set_str(w,
				"tokenizer.chat_template", t->chat_template))))
		goto out_free;
	for (size_t i = 0; i < QVK_ARRAY_SIZE(ids); i++)
		if (ids[i].id != QVK_TOKEN_NONE &&
		    (st = qvk_gguf_writer_set_u32(w, ids[i].key, ids[i].id)))
			goto out_free;
out_free:
	if (texts)
		for (uint32_t id = 0; id < t->n_vocab; id++)
			free(texts[id]);
	free(texts);
	free(lens);
	free(types);
	return st;
}
