/* SPDX-License-Identifier: MIT */
/*
 * Weight types: the one table of every tensor type qvk knows (ggml's, by
 * their GGUF ids, and qvk's own), the weight formats a model runs in, the
 * --keep rules that pin tensors to a float type, and host tensors (typed
 * views of file bytes, read row by row as float).
 *
 * Everything that asks "how big is a block of type T", "is T quantized",
 * "which kernel runs T", "may a group be G" asks this table
 * (runtime/format/types.c); nothing else restates it.
 *
 * ---------------------------------------------------------------------------
 * GGUF extension: qvk tensor types.
 *
 * GGUF's Q8_0/Q4_0/Q4_1 are exactly qvk's Q8/Q4/Q4A at group 32 when K is a
 * multiple of 32, and qvk writes those tensors in GGUF's own types so that
 * llama.cpp and other readers can run them. Anything else (groups of 64,
 * 128 or a whole row, or a K that needs a zero-padded last group, such as
 * stories260K's hidden size 172) gets a qvk tensor type, numbered from
 * QVK_GGML_TYPE_QVK_BASE (1024) where ggml has nothing (its ids are < 64):
 *
 *   type = 1024 + 4 * (format - 1) + g,  format Q8 = 1, Q4 = 2, Q4A = 3,
 *          g = 0 per row, 1 group 32, 2 group 64, 3 group 128
 *   (1024..1035; names "QVK_Q8_ROW", "QVK_Q4_G64", "QVK_Q4A_G128", ...)
 *
 * The tensor info keeps the real shape: ne[0] = K (the real inputs, need
 * not be a multiple of anything), ne[1..] = rows R. The data is a
 * struct qvk_qtensor (include/qvk/quant.h) written as is, structure of
 * arrays, little-endian:
 *
 *   k_padded  = ALIGN_UP(K, 32) per row, else ALIGN_UP(K, group)
 *   row_words = k_padded / 4 (Q8) or k_padded / 8 (Q4, Q4A)
 *   n_groups  = 1 per row, else k_padded / group
 *   uint32 qs[R * row_words]      codes, qvk's packed layout
 *   uint16 scales[R * n_groups]   fp16
 *   uint16 mins[R * n_groups]     fp16, Q4A only
 *
 * so the size is R * (4 * row_words + 2 * n_groups * (Q4A ? 2 : 1)) and
 * follows from the type and the shape alone, like any ggml type; readers
 * validate it, and the data must be 4-byte aligned (GGUF's alignment of 32
 * gives that). The GPU takes the arrays without conversion. A file that
 * uses qvk types also has the metadata qvk.tensor_types = 1 (u32, this
 * layout's version). llama.cpp refuses tensors of unknown types, so only
 * files without qvk types (group 32, every K a multiple of 32) are
 * portable.
 *
 * Thread-safety: the table is constant; keep rules count their matches
 * and belong to one thread.
 */
#ifndef QVK_FORMAT_H
#define QVK_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <qvk/ctx.h>
#include <qvk/quant.h>

/* ------------------------------------------------------------ types */

/* Tensor element types, numbered as ggml/GGUF number them (those qvk reads). */
enum qvk_ggml_type {
	QVK_GGML_TYPE_F32 = 0,
	QVK_GGML_TYPE_F16 = 1,
	QVK_GGML_TYPE_Q4_0 = 2,  /* 32 per block: fp16 d, 16 B nibbles (18 B) */
	QVK_GGML_TYPE_Q4_1 = 3,  /* 32 per block: fp16 d, fp16 m, 16 B (20 B) */
	QVK_GGML_TYPE_Q8_0 = 8,  /* 32 per block: fp16 d, 32 int8 (34 B) */
	QVK_GGML_TYPE_Q2_K = 10, /* K-quants: 256 per super-block, see */
	QVK_GGML_TYPE_Q3_K = 11, /* runtime/format/kquant_layout.h */
	QVK_GGML_TYPE_Q4_K = 12,
	QVK_GGML_TYPE_Q5_K = 13,
	QVK_GGML_TYPE_Q6_K = 14,
	QVK_GGML_TYPE_IQ4_NL = 20, /* 32 per block, non-linear 4-bit codes */
	QVK_GGML_TYPE_IQ4_XS = 23, /* 256 per super-block, IQ4_NL codes */
	QVK_GGML_TYPE_BF16 = 30,
};

#define QVK_GGML_TYPE_QVK_BASE 1024u
#define QVK_GGML_TYPE_QVK_COUNT 12u
/* Version of the qvk type layout above, in the qvk.tensor_types key. */
#define QVK_TENSOR_TYPES_VERSION 1u

/* The GPU kernel that runs a type as stored. */
enum qvk_type_kernel {
	QVK_KERNEL_NONE = 0, /* converted when loaded (float or requantized) */
	QVK_KERNEL_FLOAT,    /* matmul_float: fp32 or fp16 rows */
	QVK_KERNEL_GROUPED,  /* matmul_q(_sg): struct qvk_qtensor groups */
	QVK_KERNEL_KQUANT,   /* matmul_kq(_sg): K-quant/IQ4 super-blocks */
};

/* One row of the table. */
struct qvk_type_info {
	uint32_t id;          /* ggml type id, or qvk's 1024.. */
	const char *name;     /* "Q4_K", "QVK_Q4_G64", ... */
	bool readable;        /* qvk loads tensors of this type */
	bool writable;        /* qvk quantize writes it */
	bool quantized;       /* codes and scales, not float values */
	bool gguf_native;     /* a ggml type (llama.cpp reads it) */
	/*
	 * Elements and bytes per block along ne[0] (1 and 4 for F32); 0 and
	 * 0 for qvk types, whose rows are a qvk_qtensor row (see above).
	 */
	uint32_t block_elems, block_bytes;
	/*
	 * Elements sharing one scale: 32 for Q8_0..Q4_1 and IQ4_NL, the
	 * sub-block (16 or 32) for K-quants, the qvk type's group
	 * (QVK_GROUP_ROW: a whole row); 0 for float types.
	 */
	uint32_t group;
	/* The qvk_qtensor format that holds it losslessly, or 0. */
	enum qvk_qformat qformat;
	enum qvk_type_kernel kernel;
};

/* The row of @type, or NULL for a number qvk does not know at all. */
QVK_API const struct qvk_type_info *qvk_type_info(uint32_t type);
/* The row named @name (any case: "q4_k" finds Q4_K), or NULL. */
QVK_API const struct qvk_type_info *qvk_type_find(const char *name);
/* "Q4_K", "BF16", "QVK_Q8_G64", ...; NULL for an unknown number. */
QVK_API const char *qvk_ggml_type_name(uint32_t type);
/*
 * The name of @type, or "unknown type N" for a number qvk does not know,
 * written into @buf (QVK_TYPE_LABEL_MAX bytes); returns @buf. For errors.
 */
#define QVK_TYPE_LABEL_MAX 32
QVK_API const char *qvk_type_label(uint32_t type, char *buf);
/*
 * The names of every readable type, comma-separated, into @buf (always
 * NUL-terminated; truncated to @size): what an error about an unreadable
 * type lists. Returns the length the whole list needs.
 */
QVK_API size_t qvk_type_readable_names(char *buf, size_t size);

/*
 * Elements and bytes per block of a readable @type; false for a type qvk
 * does not read, and for qvk's own types (no fixed blocks).
 */
QVK_API bool qvk_ggml_type_block(uint32_t type, uint32_t *block_elems,
				 uint32_t *block_bytes);

/* ------------------------------------------------------------ groups */

/* The groups qvk's quantizer and its tensor types take. */
#define QVK_GROUPS_TEXT "32, 64, 128 or 0 (one group per row)"
/* Whether @group is one of them (QVK_GROUP_ROW is 0). */
QVK_API bool qvk_group_valid(uint32_t group);

/* The GGUF type that holds @format at group 32 (Q8_0...); 0: none. */
QVK_API uint32_t qvk_ggml_type_gguf(enum qvk_qformat format);
/* The qvk type of @format at @group; 0 when there is none. */
QVK_API uint32_t qvk_ggml_type_qvk(enum qvk_qformat format, uint32_t group);
/* Whether @type is a qvk type; its format and group (QVK_GROUP_ROW: row). */
QVK_API bool qvk_ggml_type_is_qvk(uint32_t type, enum qvk_qformat *format,
				  uint32_t *group);
/* Bytes of one row of K real inputs of qvk type @type; false if not one. */
QVK_API bool qvk_ggml_type_qvk_row_bytes(uint32_t type, uint64_t k,
					 uint64_t *row_bytes);

/* ------------------------------------------------------ weight formats */

/* What the linear layers of a model run as (qvk run --format). */
enum qvk_weight_format {
	/*
	 * Quantized tensors as stored (any qvk group, K-quants, losslessly);
	 * float tensors as q8 at the requested group, except in a file
	 * written by qvk quantize, whose float tensors were kept on purpose.
	 */
	QVK_WEIGHTS_AUTO = 0,
	QVK_WEIGHTS_F32,
	QVK_WEIGHTS_F16,
	QVK_WEIGHTS_Q8,
	QVK_WEIGHTS_Q4,
	QVK_WEIGHTS_Q4A,
};

/* "auto", "f32", "f16", "q8", "q4", "q4a" and back (false: unknown name). */
QVK_API const char *qvk_weight_format_name(enum qvk_weight_format f);
QVK_API bool qvk_weight_format_parse(const char *name,
				     enum qvk_weight_format *f);
/*
 * The same, and also the GGUF name (any case) of a type qvk writes: F32,
 * F16, Q8_0, Q4_0, Q4_1. A GGUF name of a quantized type fixes the group
 * too: *group = 32 then, untouched otherwise.
 */
QVK_API bool qvk_weight_format_parse_type(const char *name,
					  enum qvk_weight_format *f,
					  uint32_t *group);
/* The qvk_qtensor format of a quantized weight format (Q8 for others). */
QVK_API enum qvk_qformat qvk_weight_format_qformat(enum qvk_weight_format f);

/* ------------------------------------------------------------ --keep */

/*
 * "GLOB=TYPE,GLOB=TYPE,...": tensors whose GGUF name matches GLOB
 * (fnmatch(3): * ? [...]) stay in TYPE, f16 or f32 (F16/F32 too); the
 * first matching rule wins. A classifier tied to the embedding answers to
 * both output.weight and token_embd.weight.
 */
struct qvk_keep;

/*
 * Parse @list (NULL or "" gives no rules). A bad entry is
 * QVK_ERR_INVALID_ARG naming it: "--keep 'x': ..." (no '=', empty glob,
 * unknown type, empty entry, glob over 255 bytes).
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_keep_parse(struct qvk_ctx *ctx,
						 const char *list,
						 struct qvk_keep **out);
QVK_API void qvk_keep_destroy(struct qvk_keep *keep);
/*
 * The format the first rule matching @name or @alias (may be NULL) asks
 * for, QVK_WEIGHTS_AUTO when none does (or @keep is NULL). Every rule that
 * matches counts the match.
 */
QVK_API enum qvk_weight_format qvk_keep_lookup(struct qvk_keep *keep,
					       const char *name,
					       const char *alias);
QVK_API uint32_t qvk_keep_count(const struct qvk_keep *keep);
/* Rule @i as written ("blk.*.ffn_down.weight=f32") and its matches. */
QVK_API const char *qvk_keep_rule(const struct qvk_keep *keep, uint32_t i);
QVK_API uint64_t qvk_keep_matches(const struct qvk_keep *keep, uint32_t i);

/* ------------------------------------------------------------ tensors */

#define QVK_TENSOR_MAX_DIMS 4
#define QVK_TENSOR_NAME_MAX 64 /* bytes including the NUL, as ggml's */

/* A typed view of a tensor in a mapped file (or in caller memory). */
struct qvk_host_tensor {
	char name[QVK_TENSOR_NAME_MAX]; /* GGUF name, e.g. "blk.0.attn_q.weight" */
	enum qvk_ggml_type type;
	uint32_t n_dims;
	uint64_t ne[QVK_TENSOR_MAX_DIMS]; /* ne[0] contiguous; unused dims 1 */
	const void *data;                 /* NULL when absent */
	uint64_t size_bytes;
};

/* Rows (the product of ne[1..3]). */
QVK_API uint64_t qvk_host_tensor_rows(const struct qvk_host_tensor *t);

/*
 * Size in bytes of a tensor of @type and shape @ne; false for a type qvk
 * does not read, a bad shape (ne[0] not a whole number of blocks) or
 * overflow.
 */
QVK_API bool qvk_ggml_tensor_size(uint32_t type, uint32_t n_dims,
				  const uint64_t *ne, uint64_t *size_bytes);

/*
 * Row @row of @t as float (ne[0] values) into @out: F32 copied, F16 and
 * BF16 converted, GGUF blocks dequantized exactly as ggml does, qvk types
 * as qvk_qtensor_dequantize() does.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_host_tensor_row(
	const struct qvk_host_tensor *t, uint64_t row, float *out);

/*
 * A qvk-typed host tensor to a new qvk_qtensor, losslessly (codes, scales
 * and mins copied). A scale or min that is Inf or NaN is QVK_ERR_NUMERIC
 * naming the tensor, row and group.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_qtensor_from_host(
	struct qvk_ctx *ctx, const struct qvk_host_tensor *t,
	struct qvk_qtensor **out);

/*
 * The bytes of @qt in the qvk type layout (malloc'ed into *data) and the
 * type; for writers. @qt keeps its own storage.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_qtensor_to_host_bytes(
	struct qvk_ctx *ctx, const struct qvk_qtensor *qt, uint32_t *type,
	void **data, uint64_t *size_bytes);

#endif
