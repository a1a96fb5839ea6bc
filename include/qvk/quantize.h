/* SPDX-License-Identifier: MIT */
/*
 * Whole-model post-training quantization (`qvk quantize`) and the GGUF
 * extension that carries qvk's own tensor layouts, plus the perplexity /
 * KL / top-1 scoring that `qvk ppl` and the tests share.
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
 * uses qvk types also has the metadata
 *   qvk.tensor_types  u32  1 (this layout's version)
 * and `qvk quantize` records how it was made:
 *   qvk.quantize.method string (rtn, mse, awq, smoothquant, gptq),
 *   qvk.quantize.format string, qvk.quantize.group u32 (0 per row),
 *   qvk.quantize.calib_tokens u32, qvk.quantize.keep string (when given).
 * llama.cpp refuses tensors of unknown types, so only files without qvk
 * types (group 32, every K a multiple of 32) are portable.
 */
#ifndef QVK_QUANTIZE_H
#define QVK_QUANTIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <qvk/llm.h>
#include <qvk/model.h>
#include <qvk/quant.h>
#include <qvk/tokenizer.h>

#define QVK_GGML_TYPE_QVK_BASE 1024u
#define QVK_GGML_TYPE_QVK_COUNT 12u
/* Version of the layout above, in the qvk.tensor_types key. */
#define QVK_TENSOR_TYPES_VERSION 1u

/* The qvk type of @format at @group (32, 64, 128, QVK_GROUP_ROW); 0: none. */
QVK_API uint32_t qvk_ggml_type_qvk(enum qvk_qformat format, uint32_t group);
/* Whether @type is a qvk type; its format and group (QVK_GROUP_ROW: row). */
QVK_API bool qvk_ggml_type_is_qvk(uint32_t type, enum qvk_qformat *format,
				  uint32_t *group);
/* Bytes of one row of K real inputs of qvk type @type; false if not one. */
QVK_API bool qvk_ggml_type_qvk_row_bytes(uint32_t type, uint64_t k,
					 uint64_t *row_bytes);

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

/* ------------------------------------------------------- quantize model */

enum qvk_quant_method {
	QVK_METHOD_RTN = 0,     /* round to nearest, min/max range */
	QVK_METHOD_MSE,         /* MSE clip search (importance with calib) */
	QVK_METHOD_AWQ,         /* activation-aware scales folded, clip search */
	QVK_METHOD_SMOOTHQUANT, /* max|X|^a / max|W|^(1-a) scales folded, RTN */
	QVK_METHOD_GPTQ,        /* Hessian error feedback, act-order */
};

/* "rtn", "mse", "awq", "smoothquant", "gptq" and back. */
QVK_API const char *qvk_quant_method_name(enum qvk_quant_method m);
QVK_API bool qvk_quant_method_parse(const char *name,
				    enum qvk_quant_method *m);
/* Whether @m needs calibration text (AWQ, SmoothQuant, GPTQ). */
QVK_API bool qvk_quant_method_needs_calib(enum qvk_quant_method m);

struct qvk_quantize_options {
	enum qvk_weight_format format; /* F32, F16, Q8, Q4, Q4A */
	uint32_t group;                /* 32, 64, 128 or QVK_GROUP_ROW */
	enum qvk_quant_method method;
	/* "GLOB=f16|f32,...", GGUF tensor names; NULL: none */
	const char *keep;
	/*
	 * Calibration tokens (the text, tokenized, no BOS): run through the
	 * reference forward pass in windows of @calib_window positions, each
	 * starting with @bos. NULL/0 when the method needs none.
	 */
	const uint32_t *calib_tokens;
	size_t n_calib_tokens;
	uint32_t calib_window; /* 0: min(256, seq_len) */
	uint32_t bos;
	float smooth_alpha;    /* SmoothQuant alpha (0: 0.5) */
};

/*
 * The quantized model, in memory: the description that
 * qvk_model_to_gguf() writes (tensors point at storage owned here).
 */
struct qvk_quantized;

QVK_API QVK_MUST_CHECK qvk_status qvk_quantize_model(
	struct qvk_ctx *ctx, const struct qvk_model *model,
	const struct qvk_quantize_options *opt, struct qvk_quantized **out);
QVK_API const struct qvk_model *qvk_quantized_model(
	const struct qvk_quantized *q);
QVK_API void qvk_quantized_destroy(struct qvk_quantized *q);

/*
 * Write @q with @tok's vocabulary and the qvk.* metadata to @path (a
 * complete GGUF file, through a temporary and a rename).
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_quantized_write(
	struct qvk_ctx *ctx, const struct qvk_quantized *q,
	const struct qvk_tokenizer *tok, const char *path);

/*
 * The float model with the method's smoothing scales folded in (AWQ or
 * SmoothQuant), before any rounding: it computes the same function as
 * @model up to float rounding. For tests of the folding; other methods
 * give an unchanged copy.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_quantize_fold_only(
	struct qvk_ctx *ctx, const struct qvk_model *model,
	const struct qvk_quantize_options *opt, struct qvk_quantized **out);

/* ------------------------------------------------------------ scoring */

struct qvk_ppl_result {
	double ppl;      /* exp(mean NLL) of the tested model */
	double kl;       /* mean KL(ref || test) nats/token; 0 without ref */
	double top1;     /* fraction of positions with the same argmax */
	uint64_t tokens; /* scored positions */
	uint32_t windows;
	uint32_t ctx;    /* window length, BOS included */
};

/*
 * Perplexity of @test over @tokens (the text, no BOS) in non-overlapping
 * windows of @window positions (BOS then window-1 text tokens), and the
 * KL divergence and top-1 agreement against @ref on the same windows when
 * @ref is not NULL. @max_tokens (0: all) scores exactly that many tokens
 * (the last window then holds fewer; text past the last whole window is
 * never scored). Both models must have max_seq and max_batch >= @window.
 * Progress "perplexity" through @ctx per window.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_ppl_evaluate(
	struct qvk_ctx *ctx, struct qvk_llm *test, struct qvk_llm *ref,
	uint32_t vocab, uint32_t bos, const uint32_t *tokens, size_t n_tokens,
	uint32_t window, uint64_t max_tokens, struct qvk_ppl_result *out);

#endif
