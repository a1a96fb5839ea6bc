/* SPDX-License-Identifier: MIT */
/*
 * Private header of the tokenizer files (tokenizer*.c): the vocabulary,
 * SentencePiece and BPE state, and the pieces they share.
 */
#ifndef QVK_RUNTIME_MODEL_TOKENIZER_INTERNAL_H
#define QVK_RUNTIME_MODEL_TOKENIZER_INTERNAL_H

#include "model_internal.h"
#include "unicode.h"

/* Token attributes, as llama.cpp derives them (llama_token_attr). */
enum qvk_token_attr {
	QVK_ATTR_NORMAL = 1u << 0,
	QVK_ATTR_UNKNOWN = 1u << 1,
	QVK_ATTR_CONTROL = 1u << 2,
	QVK_ATTR_USER_DEFINED = 1u << 3,
	QVK_ATTR_UNUSED = 1u << 4,
	QVK_ATTR_BYTE = 1u << 5,
	QVK_ATTR_LSTRIP = 1u << 6, /* white space before it in text dropped */
	QVK_ATTR_RSTRIP = 1u << 7, /* white space after it in text dropped */
	QVK_ATTR_EOG = 1u << 8,    /* ends generation */
};

/* Tokens cut out of the text before encoding: they may appear as text. */
#define QVK_ATTR_SPECIAL (QVK_ATTR_CONTROL | QVK_ATTR_USER_DEFINED | \
			  QVK_ATTR_UNKNOWN)

enum qvk_tokenizer_kind {
	QVK_TOKENIZER_SPM, /* tokenizer.ggml.model "llama", llama2.c files */
	QVK_TOKENIZER_BPE, /* "gpt2": byte-level BPE with a pre-tokenizer */
};

struct qvk_pretok;

/*
 * BPE merges (tokenizer.ggml.merges, "A B" in rank order), with A and B as
 * the raw bytes they stand for: [off, off + len_a) is A, then len_b bytes
 * of B. The table maps (A, B) to the rank by open addressing (rank + 1).
 */
struct qvk_bpe_merge {
	uint32_t off;
	uint32_t len_a, len_b;
};

struct qvk_bpe_merges {
	struct qvk_bpe_merge *merge; /* [n] in rank order */
	uint32_t n;
	char *arena;
	/* the file's strings, for export: merge r is [raw_off[r], raw_off[r+1]) */
	char *raw;
	uint32_t *raw_off; /* [n + 1] */
	uint32_t *table;
	uint32_t table_mask;
};

struct qvk_tokenizer {
	enum qvk_tokenizer_kind kind;
	uint32_t n_vocab;
	/*
	 * What a token prints (decode) and what it is matched as in text
	 * (special tokens): SentencePiece pieces with ' ' for U+2581; BPE
	 * pieces as the bytes they stand for, special tokens as written.
	 */
	char **pieces;        /* [n_vocab] NUL-terminated */
	uint32_t *piece_lens; /* [n_vocab] */
	/*
	 * What encoding looks tokens up by: the piece itself, except for a
	 * GGUF SentencePiece piece with spaces (the key keeps U+2581), and a
	 * BPE token whose text is no byte-level string (UINT32_MAX length:
	 * never produced by merging) or whose bytes differ from its text.
	 */
	char **keys;        /* [n_vocab] */
	uint32_t *key_lens; /* [n_vocab] */
	/* BPE: each token's text as the file has it (export), else NULL */
	char **raws;
	uint32_t *raw_lens;
	float *scores;      /* [n_vocab] */
	uint8_t *types;     /* [n_vocab] enum qvk_token_type, as in the file */
	uint16_t *attrs;    /* [n_vocab] enum qvk_token_attr */
	char *arena;        /* storage of all pieces and keys */
	uint32_t *table;    /* key -> id by open addressing: id + 1, 0 empty */
	uint32_t table_mask;
	uint32_t byte_tokens[256]; /* SPM <0xXX> token of each byte, or unk */
	uint32_t bos, eos, unk;
	uint32_t *special; /* QVK_ATTR_SPECIAL ids, longest piece first */
	uint32_t n_special;
	const struct qvk_pretok *pre; /* BPE */
	char pre_name[64];            /* BPE: tokenizer.ggml.pre as written */
	char describe[96];            /* BPE: "BPE (llama-bpe)" */
	struct qvk_bpe_merges merges; /* BPE */
	char *chat_template;          /* tokenizer.chat_template, or NULL */
	bool add_space_prefix; /* SPM */
	bool spm_escaped;      /* SPM from GGUF: keys hold U+2581 for ' ' */
	bool ignore_merges;    /* BPE: a word that is a token is kept whole */
	bool add_bos, add_eos;
};

#define QVK_VOCAB_MAX (1u << 24)

/* ---------------------------------------------- tokenizer.c */

/* A zeroed tokenizer of @n tokens (scores, types, attrs allocated). */
qvk_status qvk_tokenizer_alloc(struct qvk_ctx *ctx,
			       enum qvk_tokenizer_kind kind, uint32_t n,
			       struct qvk_tokenizer **out);
/* The attributes a GGUF token_type gives (0 for an unknown type). */
uint16_t qvk_token_type_attr(uint8_t type);
/*
 * Pieces, keys and the lookup table from the file's texts @raw (U+2581 ->
 * ' ' when @spm_escaped), and the SentencePiece byte tokens; types and
 * attrs must be filled already.
 */
qvk_status qvk_tokenizer_index(struct qvk_ctx *ctx, struct qvk_tokenizer *t,
			       const struct qvk_gguf_str *raw, bool spm_escaped);
/* The list of special tokens, once every attribute is final. */
qvk_status qvk_tokenizer_index_special(struct qvk_ctx *ctx,
				       struct qvk_tokenizer *t);

/* Token id of the @len key bytes at @text, or UINT32_MAX. */
uint32_t qvk_tokenizer_lookup(const struct qvk_tokenizer *tok,
			      const char *text, size_t len);
uint64_t qvk_tokenizer_hash(const char *s, size_t len);

/* Append @id to @tokens, or only count it once @max is reached. */
static inline void qvk_tokens_emit(uint32_t *tokens, size_t max, size_t *n,
				   uint32_t id)
{
	if (*n < max)
		tokens[*n] = id;
	(*n)++;
}

/* ---------------------------------------------- tokenizer_merge.c */

/* A run of bytes of the text being merged, linked to its neighbours. */
struct qvk_merge_symbol {
	uint32_t start, n;   /* bytes; n = 0 once merged into the left one */
	uint32_t prev, next; /* UINT32_MAX at the ends */
};

struct qvk_merge_pair {
	uint32_t left, right;
	uint32_t size; /* bytes of left + right when pushed */
	uint32_t key;  /* the higher merges first */
};

/*
 * Whether the @len_a bytes at @ab merge with the @len - @len_a after them,
 * and if so with what key.
 */
typedef bool (*qvk_merge_rank_fn)(const struct qvk_tokenizer *tok,
				  const char *ab, uint32_t len_a, uint32_t len,
				  uint32_t *key);

struct qvk_merge {
	const struct qvk_tokenizer *tok;
	qvk_merge_rank_fn rank;
	const char *text;
	struct qvk_merge_symbol *sym; /* set up by the caller, linked */
	struct qvk_merge_pair *heap;  /* room for 3 * symbols */
	size_t heap_len;
};

/* Merge the @n_sym symbols until no adjacent pair ranks. */
void qvk_merge_run(struct qvk_merge *m, uint32_t n_sym);

/* ---------------------------------------------- tokenizer_spm.c */

/*
 * SentencePiece over @len bytes at @text (the dummy prefix already in),
 * appending to @tokens.
 */
qvk_status qvk_spm_encode(const struct qvk_tokenizer *tok, struct qvk_ctx *ctx,
			  const char *text, size_t len, uint32_t *tokens,
			  size_t max, size_t *n);

/* ---------------------------------------------- tokenizer_bpe.c */

/* Read tokenizer.ggml.merges of @g into @tok->merges (keys built). */
qvk_status qvk_bpe_merges_load(struct qvk_ctx *ctx, const struct qvk_gguf *g,
			       struct qvk_tokenizer *tok);
void qvk_bpe_merges_free(struct qvk_bpe_merges *m);

/*
 * The bytes a GPT-2 byte-level string stands for (each codepoint one
 * byte): into @out (room for @len bytes); false if some codepoint is no
 * byte's.
 */
bool qvk_bpe_unescape(const char *s, size_t len, char *out, size_t *out_len);

/* Pre-tokenize and merge one fragment of text, appending to @tokens. */
qvk_status qvk_bpe_encode(const struct qvk_tokenizer *tok, struct qvk_ctx *ctx,
			  const char *text, size_t len, uint32_t *tokens,
			  size_t max, size_t *n);

/* ---------------------------------------------- tokenizer_pretok.c */

/* The pre-tokenizer of tokenizer.ggml.pre @name, or NULL. */
const struct qvk_pretok *qvk_pretok_find(const char *name, size_t len);
bool qvk_pretok_ignore_merges(const struct qvk_pretok *p);
bool qvk_pretok_add_bos(const struct qvk_pretok *p);
/* Every accepted name, comma-separated, into @buf; returns the length. */
size_t qvk_pretok_list(char *buf, size_t cap);

/*
 * Split @n codepoints @cp (with their qvk_unicode_flags()) into words:
 * their lengths in codepoints go to @lens; returns the count. @lens and
 * @tmp need room for @n entries.
 */
size_t qvk_pretok_split(const struct qvk_pretok *pre, const uint32_t *cp,
			const uint8_t *flags, size_t n, uint32_t *lens,
			uint32_t *tmp);

#endif
