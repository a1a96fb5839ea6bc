/* SPDX-License-Identifier: MIT */
/*
 * Whole-model post-training quantization (`qvk quantize`), plus the
 * perplexity / KL / top-1 scoring that `qvk ppl` and the tests share.
 *
 * The files it writes use GGUF's Q8_0/Q4_0/Q4_1 where they hold a tensor
 * exactly and qvk's own tensor types otherwise (include/qvk/format.h).
 * `qvk quantize` records how a file was made:
 *   qvk.quantize.method string (rtn, mse, awq, smoothquant, gptq),
 *   qvk.quantize.format string, qvk.quantize.group u32 (0 per row),
 *   qvk.quantize.calib_tokens u32, qvk.quantize.keep string (when given).
 *
 * Thread-safety: qvk_quantize_model() only reads @model (which may be
 * shared); a qvk_quantized result is read-only once made. Scoring uses the
 * llms' devices and so runs on their thread.
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

/*
 * K-quant output (GGUF Q4_K/Q5_K/Q6_K super-blocks of 256), with
 * llama.cpp's type mixes for the _m variants (runtime/quantize/plan.c):
 * the classifier and some layers' attn_v and ffn_down get Q6_K.
 */
enum qvk_kquant_mix {
	QVK_KMIX_NONE = 0,
	QVK_KMIX_Q4_K,
	QVK_KMIX_Q5_K,
	QVK_KMIX_Q6_K,
	QVK_KMIX_Q4_K_M,
	QVK_KMIX_Q5_K_M,
};

/* "q4_k", "q5_k", "q6_k", "q4_k_m", "q5_k_m" (any case) and back. */
QVK_API const char *qvk_kquant_mix_name(enum qvk_kquant_mix m);
QVK_API bool qvk_kquant_mix_parse(const char *name, enum qvk_kquant_mix *m);

/* One tensor's type chosen by name (a mixed-precision plan). */
struct qvk_tensor_type {
	const char *name; /* GGUF name: blk.3.attn_v.weight, output.weight */
	uint32_t type;    /* a writable type of the table (include/qvk/format.h) */
};

/*
 * llama.cpp's importance matrix (llama-imatrix): per weight tensor, the
 * mean square of each input channel over its calibration text. Both of
 * its files are read: the GGUF one (general.type "imatrix"; tensors
 * NAME.in_sum2 (k, n_mat) and NAME.counts (1, n_mat)) and the legacy
 * .dat one (int32 entries; per entry int32 name length, name, int32
 * ncall, int32 nval, nval floats of mean x² times ncall). Expert-stacked
 * entries (n_mat > 1) are averaged over the experts.
 */
struct qvk_imatrix;

QVK_API QVK_MUST_CHECK qvk_status qvk_imatrix_load(struct qvk_ctx *ctx,
						   const char *path,
						   struct qvk_imatrix **out);
QVK_API void qvk_imatrix_destroy(struct qvk_imatrix *im);
/* Entries held. */
QVK_API uint32_t qvk_imatrix_count(const struct qvk_imatrix *im);
/* The mean x² (*k values) of tensor @name's inputs, or NULL. */
QVK_API const float *qvk_imatrix_find(const struct qvk_imatrix *im,
				      const char *name, uint32_t *k);

/* Where the calibration statistics are gathered. */
enum qvk_calib_device {
	/*
	 * The batched fp32 pass on the host: sequential through the
	 * quantized layers, or the float model's with float_calib.
	 */
	QVK_CALIB_CPU = 0,
	/*
	 * qvk's own forward pass on calib_dev (weights uploaded in f16, or
	 * q8 where the device takes no f16), each linear layer's inputs
	 * accumulated on the device: the float model's statistics, as
	 * float_calib, never sequential.
	 */
	QVK_CALIB_GPU,
};

struct qvk_quantize_options {
	enum qvk_weight_format format; /* F32, F16, Q8, Q4, Q4A */
	uint32_t group;                /* 32, 64, 128 or QVK_GROUP_ROW */
	enum qvk_quant_method method;
	/*
	 * "GLOB=f16|f32,...", GGUF tensor names (include/qvk/format.h);
	 * NULL: none. A bad rule, or one that matches no tensor of the
	 * model, fails qvk_quantize_model() before any work.
	 */
	const char *keep;
	/*
	 * Calibration tokens (the text, tokenized, no BOS): run through the
	 * model (@calib_device says where) in windows of @calib_window
	 * positions, each starting with @bos. NULL/0 when the method needs
	 * none.
	 */
	const uint32_t *calib_tokens;
	size_t n_calib_tokens;
	uint32_t calib_window; /* 0: min(256, seq_len) */
	uint32_t bos;
	float smooth_alpha;    /* SmoothQuant alpha (0: 0.5) */
	/* K-quant output; NONE: @format and @group */
	enum qvk_kquant_mix kmix;
	/* per-tensor types over everything above; names must exist */
	const struct qvk_tensor_type *tensor_types;
	uint32_t n_tensor_types;
	/*
	 * Calibration statistics from the float model (as the scalar
	 * reference sees it) instead of sequentially: by default each
	 * layer's inputs come from the layers before it as quantized.
	 */
	bool float_calib;
	/*
	 * Channel importances for the MSE method's clip search and the
	 * K-quant error search, instead of calibration text (a matrix it
	 * has no entry for is searched unweighted); NULL: none.
	 */
	const struct qvk_imatrix *imatrix;
	/*
	 * Where calibration runs; GPU needs @calib_dev (not owned), which
	 * the call then uses from its thread (a qvk_device is not
	 * thread-safe: no other call may use it meanwhile).
	 */
	enum qvk_calib_device calib_device;
	struct qvk_device *calib_dev;
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

/* What a streaming run measured (qvk_quantize_to_file()). */
struct qvk_quantize_report {
	uint64_t peak_host_bytes;    /* the process's peak resident set */
	uint64_t largest_f32_bytes;  /* the largest tensor as fp32 */
	uint64_t calib_bytes;        /* calibration activations and statistics */
	uint64_t file_bytes;         /* the file written */
	double seconds;
};

/*
 * qvk_quantize_model() and qvk_quantized_write() in one streaming pass:
 * tensors are read from @model (its mapping), converted and written one
 * at a time, so the model is never held in memory, into a temporary file
 * beside @path renamed over it only when complete. @report may be NULL.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_quantize_to_file(
	struct qvk_ctx *ctx, const struct qvk_model *model,
	const struct qvk_quantize_options *opt, const struct qvk_tokenizer *tok,
	const char *path, struct qvk_quantize_report *report);

/* ------------------------------------------------------ sensitivity */

/*
 * How much each linear layer matters: for every quantized matrix of the
 * plan (the classifier included, the embedding not) and every candidate
 * type, the mean KL divergence (nats/token) of the model's output when
 * only that matrix is quantized to that type (the rest F32) with @opt's
 * method, against the float model, over @tokens in windows of @window
 * (BOS first), on the scalar reference forward pass.
 */
struct qvk_sensitivity {
	uint32_t n_tensors, n_types;
	uint32_t *types;      /* (n_types) candidates, table types */
	char (*names)[64];    /* (n_tensors) GGUF names */
	uint64_t *elems;      /* (n_tensors) weights */
	uint64_t *bytes;      /* (n_tensors, n_types) stored size */
	double *kl;           /* (n_tensors, n_types) */
	uint64_t tokens;      /* positions scored */
};

QVK_API QVK_MUST_CHECK qvk_status qvk_sensitivity_measure(
	struct qvk_ctx *ctx, const struct qvk_model *model,
	const struct qvk_quantize_options *opt, const uint32_t *types,
	uint32_t n_types, const uint32_t *tokens, size_t n_tokens,
	uint32_t window, struct qvk_sensitivity **out);
QVK_API void qvk_sensitivity_destroy(struct qvk_sensitivity *s);

/*
 * The type of each tensor (index into s->types, @choice: n_tensors) that
 * minimises the summed measured KL with the summed stored bytes at most
 * @budget_bytes: a multiple-choice knapsack, by dynamic programming over
 * the budget (exact up to 65536 bytes, else on a grid of 65536 steps).
 * QVK_ERR_INVALID_ARG when even the smallest
 * types do not fit. *@used_bytes: the chosen tensors' bytes.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_sensitivity_choose(
	struct qvk_ctx *ctx, const struct qvk_sensitivity *s,
	uint64_t budget_bytes, uint32_t *choice, uint64_t *used_bytes);

/*
 * Mean KL (nats/token) of @test's output to @ref's, and @test's
 * perplexity, over @tokens in windows of @window on the scalar reference
 * forward pass (CPU: small models, tests, the sensitivity table).
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_ref_kl(
	struct qvk_ctx *ctx, const struct qvk_model *ref,
	const struct qvk_model *test, const uint32_t *tokens, size_t n_tokens,
	uint32_t window, uint32_t bos, double *kl, double *ppl);

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
