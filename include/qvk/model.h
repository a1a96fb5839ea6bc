/* SPDX-License-Identifier: MIT */
/*
 * Models on the host: the GGUF reader and writer, llama2.c checkpoints, one
 * model description whatever the file was, and the scalar C reference
 * forward pass (the oracle of the GPU forward pass).
 *
 * Files are memory-mapped read-only; tensors point into the mapping and live
 * as long as their model (or GGUF file). Every count, size, offset,
 * alignment and string length of a file is checked before use: a bad file
 * gets QVK_ERR_FORMAT with the field and its byte offset in
 * qvk_ctx_message(), never a crash or an over-read.
 *
 * Matrix convention everywhere: row-major (out, in) like PyTorch's
 * nn.Linear.weight: y[o] = sum_i W[o][i] x[i]. In GGUF terms ne[0] = in (the
 * contiguous dimension, along which quantization blocks run) and ne[1] = out.
 * Shape comments below are written (rows, cols) = (out, in).
 *
 * Thread-safety: a loaded model and its tensors are read-only and may be
 * shared between threads (each calling thread passes its own context); so
 * may an open GGUF file. A GGUF writer and a reference forward pass object
 * are not thread-safe: one thread at a time each.
 */
#ifndef QVK_MODEL_H
#define QVK_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <qvk/ctx.h>
#include <qvk/format.h>

/* ------------------------------------------------------------- GGUF */

/* Metadata value types of GGUF. */
enum qvk_gguf_type {
	QVK_GGUF_UINT8 = 0,
	QVK_GGUF_INT8 = 1,
	QVK_GGUF_UINT16 = 2,
	QVK_GGUF_INT16 = 3,
	QVK_GGUF_UINT32 = 4,
	QVK_GGUF_INT32 = 5,
	QVK_GGUF_FLOAT32 = 6,
	QVK_GGUF_BOOL = 7,
	QVK_GGUF_STRING = 8,
	QVK_GGUF_ARRAY = 9,
	QVK_GGUF_UINT64 = 10,
	QVK_GGUF_INT64 = 11,
	QVK_GGUF_FLOAT64 = 12,
};

#define QVK_GGUF_DEFAULT_ALIGNMENT 32

/* An opened, fully validated GGUF file. */
struct qvk_gguf;

/* A string inside the file: not NUL-terminated. */
struct qvk_gguf_str {
	const char *ptr;
	uint64_t len;
};

/* One metadata entry, as found by qvk_gguf_find(). */
struct qvk_gguf_kv {
	struct qvk_gguf_str key;
	enum qvk_gguf_type type;
	/* Arrays: the element type and count; scalars: count 1. */
	enum qvk_gguf_type elem_type;
	uint64_t count;
	/* The value (scalar) or the array's first element, in the file. */
	const uint8_t *data;
	uint64_t offset; /* byte offset of data in the file */
};

/* Open and validate @path (mmap). */
QVK_API QVK_MUST_CHECK qvk_status qvk_gguf_open(struct qvk_ctx *ctx,
						const char *path,
						struct qvk_gguf **out);
/*
 * The same over @size bytes at @data, which must stay valid and unchanged
 * until qvk_gguf_close() (tests, fuzzing, files already in memory).
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_gguf_open_memory(
	struct qvk_ctx *ctx, const void *data, size_t size,
	struct qvk_gguf **out);
QVK_API void qvk_gguf_close(struct qvk_gguf *gguf);

QVK_API uint32_t qvk_gguf_version(const struct qvk_gguf *gguf);
QVK_API uint32_t qvk_gguf_alignment(const struct qvk_gguf *gguf);
QVK_API uint64_t qvk_gguf_kv_count(const struct qvk_gguf *gguf);
QVK_API const struct qvk_gguf_kv *qvk_gguf_kv_at(const struct qvk_gguf *gguf,
						 uint64_t index);
/* The entry for @key, or NULL. */
QVK_API const struct qvk_gguf_kv *qvk_gguf_find(const struct qvk_gguf *gguf,
						const char *key);

/*
 * Typed getters: QVK_ERR_NOT_FOUND when absent, QVK_ERR_FORMAT (naming the
 * key and offset) when of another type or out of range. Integers accept any
 * integer type whose value fits.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_gguf_get_u64(struct qvk_ctx *ctx,
						   const struct qvk_gguf *gguf,
						   const char *key,
						   uint64_t *out);
QVK_API QVK_MUST_CHECK qvk_status qvk_gguf_get_u32(struct qvk_ctx *ctx,
						   const struct qvk_gguf *gguf,
						   const char *key,
						   uint32_t *out);
QVK_API QVK_MUST_CHECK qvk_status qvk_gguf_get_f32(struct qvk_ctx *ctx,
						   const struct qvk_gguf *gguf,
						   const char *key, float *out);
QVK_API QVK_MUST_CHECK qvk_status qvk_gguf_get_bool(struct qvk_ctx *ctx,
						    const struct qvk_gguf *gguf,
						    const char *key, bool *out);
QVK_API QVK_MUST_CHECK qvk_status qvk_gguf_get_str(
	struct qvk_ctx *ctx, const struct qvk_gguf *gguf, const char *key,
	struct qvk_gguf_str *out);
/* Element @index of a string array (validated at open; O(index) walk). */
QVK_API QVK_MUST_CHECK qvk_status qvk_gguf_array_str(
	struct qvk_ctx *ctx, const struct qvk_gguf_kv *kv, uint64_t index,
	struct qvk_gguf_str *out);

QVK_API uint64_t qvk_gguf_tensor_count(const struct qvk_gguf *gguf);
QVK_API const struct qvk_host_tensor *qvk_gguf_tensor_at(
	const struct qvk_gguf *gguf, uint64_t index);
/* The tensor named @name, or NULL. */
QVK_API const struct qvk_host_tensor *qvk_gguf_tensor_find(
	const struct qvk_gguf *gguf, const char *name);

/* ------------------------------------------------------- GGUF writer */

/*
 * Collects metadata and tensors, then writes a GGUF v3 file in one go:
 * header, metadata, tensor infos, padding to the alignment, tensor data each
 * at an aligned offset. Keys and strings are copied; tensor data is only
 * referenced and must stay valid until qvk_gguf_writer_write() returns.
 * Setting a key twice replaces its value (keys stay unique in the file).
 */
struct qvk_gguf_writer;

QVK_API QVK_MUST_CHECK qvk_status qvk_gguf_writer_create(
	struct qvk_ctx *ctx, struct qvk_gguf_writer **out);
QVK_API void qvk_gguf_writer_destroy(struct qvk_gguf_writer *w);

QVK_API QVK_MUST_CHECK qvk_status qvk_gguf_writer_set_u32(
	struct qvk_gguf_writer *w, const char *key, uint32_t value);
QVK_API QVK_MUST_CHECK qvk_status qvk_gguf_writer_set_i32(
	struct qvk_gguf_writer *w, const char *key, int32_t value);
QVK_API QVK_MUST_CHECK qvk_status qvk_gguf_writer_set_u64(
	struct qvk_gguf_writer *w, const char *key, uint64_t value);
QVK_API QVK_MUST_CHECK qvk_status qvk_gguf_writer_set_f32(
	struct qvk_gguf_writer *w, const char *key, float value);
QVK_API QVK_MUST_CHECK qvk_status qvk_gguf_writer_set_bool(
	struct qvk_gguf_writer *w, const char *key, bool value);
QVK_API QVK_MUST_CHECK qvk_status qvk_gguf_writer_set_str(
	struct qvk_gguf_writer *w, const char *key, const char *value);
/* An array of @count fixed-size elements of @elem_type (not STRING/ARRAY). */
QVK_API QVK_MUST_CHECK qvk_status qvk_gguf_writer_set_array(
	struct qvk_gguf_writer *w, const char *key, enum qvk_gguf_type elem_type,
	const void *values, uint64_t count);
/* An array of @count strings; @lens[i] bytes at @strs[i]. */
QVK_API QVK_MUST_CHECK qvk_status qvk_gguf_writer_set_str_array(
	struct qvk_gguf_writer *w, const char *key, const char *const *strs,
	const uint64_t *lens, uint64_t count);
/* Copy one entry of an open file verbatim (e.g. the tokenizer's). */
QVK_API QVK_MUST_CHECK qvk_status qvk_gguf_writer_copy_kv(
	struct qvk_gguf_writer *w, const struct qvk_gguf_kv *kv);
/*
 * Power of two in 8..2^30, written as general.alignment (32 when never
 * set). Setting or copying general.alignment any other way has the same
 * effect, so the key and the layout always agree.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_gguf_writer_set_alignment(
	struct qvk_gguf_writer *w, uint32_t alignment);
/*
 * Add a tensor; @t->size_bytes must equal the size its type and shape
 * give. Names must be unique and shorter than QVK_TENSOR_NAME_MAX.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_gguf_writer_add_tensor(
	struct qvk_gguf_writer *w, const struct qvk_host_tensor *t);
/*
 * Write to @path through a temporary file created exclusively beside it,
 * fsync()ed and renamed over @path: never half a file, never written
 * through a planted symlink; on failure @path is untouched.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_gguf_writer_write(
	struct qvk_gguf_writer *w, const char *path);

/*
 * Streaming, for files larger than memory (qvk quantize): call
 * qvk_gguf_writer_defer_data() on a new writer, add the metadata and the
 * tensors (data may be NULL: only the type, shape and size count), then
 * qvk_gguf_writer_begin() writes everything before the tensor data to a
 * temporary file beside @path, qvk_gguf_writer_put_data() takes each
 * tensor's bytes in the order the tensors were added, and
 * qvk_gguf_writer_commit() completes the file and renames it over @path.
 * The magic "GGUF" is written last, just before the rename: the temporary
 * file of a run that is interrupted (killed, out of disk) is never a GGUF
 * file. Destroying the writer before the commit removes the temporary
 * file; @path is untouched until the commit succeeds.
 */
QVK_API void qvk_gguf_writer_defer_data(struct qvk_gguf_writer *w);
QVK_API QVK_MUST_CHECK qvk_status qvk_gguf_writer_begin(
	struct qvk_gguf_writer *w, const char *path);
QVK_API QVK_MUST_CHECK qvk_status qvk_gguf_writer_put_data(
	struct qvk_gguf_writer *w, const void *data, uint64_t size_bytes);
QVK_API QVK_MUST_CHECK qvk_status qvk_gguf_writer_commit(
	struct qvk_gguf_writer *w);

/* ------------------------------------------------------------ model */

enum qvk_model_format {
	QVK_MODEL_LLAMA2C, /* llama2.c legacy checkpoint (run.c's format) */
	QVK_MODEL_GGUF,    /* GGUF v2/v3, an architecture of enum qvk_arch */
};

/*
 * The architectures qvk runs (GGUF general.architecture). All are the
 * Llama block -- RMSNorm, grouped-query attention with RoPE, SwiGLU -- with
 * what each adds:
 *   llama  Llama 1/2/3, Mistral, TinyLlama...: interleaved RoPE, Llama 3's
 *          per-frequency factors (rope_freqs.weight)
 *   qwen2  q/k/v biases, NeoX RoPE (pairs (i, i + rope_dims/2))
 *   qwen3  per-head RMSNorm of q and k before RoPE, NeoX RoPE
 *   phi3   fused attn_qkv and gate|up (ffn_up of 2*hidden rows), NeoX RoPE,
 *          LongRoPE factors
 * Any of them may carry a fused attn_qkv and biases on any linear layer,
 * as llama.cpp's loaders accept.
 */
enum qvk_arch {
	QVK_ARCH_LLAMA,
	QVK_ARCH_QWEN2,
	QVK_ARCH_QWEN3,
	QVK_ARCH_PHI3,
	QVK_ARCH_COUNT,
};

/* "llama", "qwen2", ...; NULL past the table. */
QVK_API const char *qvk_arch_name(enum qvk_arch arch);

struct qvk_model_params {
	enum qvk_arch arch;
	uint32_t dim;        /* residual stream width */
	uint32_t hidden_dim; /* SwiGLU width */
	uint32_t n_layers;
	uint32_t n_heads;
	uint32_t n_kv_heads; /* grouped-query: n_heads % n_kv_heads == 0 */
	uint32_t head_dim;   /* dim / n_heads unless the file says otherwise */
	uint32_t vocab_size;
	uint32_t seq_len;    /* the context the model was trained for */
	float rope_theta;    /* RoPE base, 10000 for Llama 1/2 */
	/*
	 * Linear RoPE scaling: angles use pos * rope_freq_scale (1 = none;
	 * GGUF {arch}.rope.scaling.type "linear" with factor f gives 1/f).
	 */
	float rope_freq_scale;
	/* Rotated dimensions of each head (rope.dimension_count); 0: head_dim. */
	uint32_t rope_dims;
	/* Pairs (i, i + rope_dims/2) (NeoX: qwen2, qwen3, phi3), else (2i, 2i+1). */
	bool rope_neox;
	/* cos/sin multiplier (LongRoPE's rope.scaling.attn_factor); 0: 1. */
	float rope_attn_factor;
	/* LongRoPE: contexts past this many positions use the long factors. */
	uint32_t rope_orig_ctx;
	float norm_eps;      /* RMSNorm epsilon (also of the per-head norms) */
	bool shared_classifier; /* output is tok_embd */
};

/*
 * RoPE: each head's first rope_dims dimensions rotate, pair i by the angle
 * pos * rope_freq_scale * theta^(-2i/rope_dims) / factor[i] (factor 1
 * without Llama 3 / LongRoPE factors) -- llama2.c's run.c, and llama.cpp's
 * ggml_rope_ext for these architectures: LLAMA_ROPE_TYPE_NORM (interleaved
 * pairs; the HF converter permutes wq/wk rows so that is right for llama
 * GGUF files) or NEOX.
 *
 * Tensors absent from the file have data NULL (biases, q/k norms).
 */
struct qvk_layer_weights {
	struct qvk_host_tensor attn_norm; /* (dim) */
	struct qvk_host_tensor wq;  /* (n_heads*head_dim, dim) */
	struct qvk_host_tensor wk;  /* (n_kv_heads*head_dim, dim) */
	struct qvk_host_tensor wv;  /* (n_kv_heads*head_dim, dim) */
	struct qvk_host_tensor wo;  /* (dim, n_heads*head_dim) */
	struct qvk_host_tensor ffn_norm; /* (dim) */
	struct qvk_host_tensor w1;  /* gate: (hidden_dim, dim) */
	struct qvk_host_tensor w2;  /* down: (dim, hidden_dim) */
	struct qvk_host_tensor w3;  /* up:   (hidden_dim, dim) */
	/* Optional biases, one per output of the matrix above (Qwen2: q, k, v). */
	struct qvk_host_tensor bq, bk, bv, bo, b1, b2, b3;
	/* Per-head RMSNorm weights of q and k, (head_dim) each (Qwen3). */
	struct qvk_host_tensor q_norm, k_norm;
};

struct qvk_model {
	enum qvk_model_format format;
	struct qvk_model_params params;
	struct qvk_host_tensor tok_embd;    /* (vocab_size, dim) */
	struct qvk_layer_weights *layers;   /* [n_layers] */
	struct qvk_host_tensor output_norm; /* (dim) */
	/* (vocab_size, dim); a copy of tok_embd's view when shared */
	struct qvk_host_tensor output;
	struct qvk_host_tensor output_b;    /* (vocab_size), optional */
	/*
	 * RoPE frequency divisors, (rope_dims/2) floats each, or NULL:
	 * Llama 3's rope_freqs.weight (or computed from rope.scaling.type
	 * "llama3" keys), LongRoPE's short factors; and LongRoPE's long ones,
	 * used when the context exceeds rope_orig_ctx. See
	 * qvk_model_rope_freqs(). Owned by the model, checked positive.
	 */
	const float *rope_factors;
	const float *rope_factors_long;
	/*
	 * Some matrices are row ranges of one fused file tensor (attn_qkv,
	 * Phi-3's gate|up ffn_up); they keep the fused tensor's name.
	 */
	bool fused_views;
	/* The GGUF file (metadata, tokenizer), or NULL for llama2.c. */
	struct qvk_gguf *gguf;
	/* private: the llama2.c mapping, the RoPE factors' storage */
	void *map;
	size_t map_size_bytes;
	float *rope_storage;
};

/*
 * The angle per position of each of the rope_dims/2 pairs into @freq for
 * a context of @n_ctx positions: rope_freq_scale * theta^(-2i/rope_dims) /
 * factor[i], the factors as described above (LongRoPE's long ones when
 * n_ctx > rope_orig_ctx). The GPU forward pass and the reference use it.
 */
QVK_API void qvk_model_rope_freqs(const struct qvk_model *model,
				  uint32_t n_ctx, float *freq);
/* Rotated dimensions per head and the cos/sin multiplier, defaults resolved. */
QVK_API uint32_t qvk_model_rope_dims(const struct qvk_model_params *params);
QVK_API float qvk_model_rope_mscale(const struct qvk_model_params *params);

/* Load @path, GGUF or llama2.c by its first bytes. */
QVK_API QVK_MUST_CHECK qvk_status qvk_model_load(struct qvk_ctx *ctx,
						 const char *path,
						 struct qvk_model **out);
QVK_API QVK_MUST_CHECK qvk_status qvk_model_load_llama2c(
	struct qvk_ctx *ctx, const char *path, struct qvk_model **out);
QVK_API QVK_MUST_CHECK qvk_status qvk_model_load_gguf(struct qvk_ctx *ctx,
						      const char *path,
						      struct qvk_model **out);
/*
 * Build the model description of an already opened GGUF file. The model
 * takes @gguf over, also on failure (it is closed then).
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_model_from_gguf(struct qvk_ctx *ctx,
						      struct qvk_gguf *gguf,
						      struct qvk_model **out);
QVK_API void qvk_model_destroy(struct qvk_model *model);

/*
 * Every matrix and norm of @model in file order (tok_embd, per layer
 * attn_norm wq wk wv wo ffn_norm w1 w2 w3, output_norm, then output unless
 * shared): the Llama block's 9 per layer. Biases, q/k norms and RoPE
 * factors are not listed (qvk_model_param_count() counts them).
 */
QVK_API uint32_t qvk_model_tensor_count(const struct qvk_model *model);
QVK_API const struct qvk_host_tensor *qvk_model_tensor_at(
	const struct qvk_model *model, uint32_t index);

/* Weights (a shared classifier counted once) and the bytes they take. */
QVK_API uint64_t qvk_model_param_count(const struct qvk_model *model);
QVK_API uint64_t qvk_model_weight_bytes(const struct qvk_model *model);

/*
 * Fill @w with the llama hyper-parameters and every tensor of @model under
 * the GGUF names llama.cpp uses (general.architecture "llama"; Llama 3's
 * rope_freqs.weight when the model has factors), and general.file_type
 * when all matrices share one type. Other architectures, biases, q/k
 * norms and fused tensors are refused (QVK_ERR_UNSUPPORTED): `qvk
 * quantize` writes llama models only (qvk_model_check_llama_export()). The tokenizer is
 * added separately (qvk_tokenizer_to_gguf()). To write a converted model
 * (quantized tensors), copy the struct and its layers, point the tensors
 * at the new data and types, and pass the copy.
 */
/* QVK_OK when qvk_model_to_gguf() can write @model, else why not. */
QVK_API QVK_MUST_CHECK qvk_status qvk_model_check_llama_export(
	struct qvk_ctx *ctx, const struct qvk_model *model);
/* Only the llama.* hyper-parameters and general.architecture. */
QVK_API QVK_MUST_CHECK qvk_status qvk_model_params_to_gguf(
	const struct qvk_model_params *params, struct qvk_gguf_writer *w);
QVK_API QVK_MUST_CHECK qvk_status qvk_model_to_gguf(
	const struct qvk_model *model, struct qvk_gguf_writer *w);

/* ------------------------------------------- reference forward pass */

/*
 * The scalar C forward pass, llama2.c's run.c written for any tensor type:
 * weights are dequantized row by row and every sum is float, so it is the
 * oracle for the GPU forward pass of the same (quantized) model. Owns an
 * fp32 KV cache of seq_len positions. Not thread-safe.
 */
struct qvk_reference;

QVK_API QVK_MUST_CHECK qvk_status qvk_reference_create(
	struct qvk_ctx *ctx, const struct qvk_model *model,
	struct qvk_reference **out);
QVK_API void qvk_reference_destroy(struct qvk_reference *ref);
/*
 * Run @token at @pos (positions 0..pos-1 must have been run before, in
 * order; pos < seq_len) and point @logits at vocab_size floats owned by
 * @ref, valid until the next call.
 */
/*
 * Round the cached keys and values to fp16 as they are stored, as the GPU's
 * fp16 KV cache does, so that both compute the same function (default off:
 * an fp32 cache, llama2.c's).
 */
QVK_API void qvk_reference_set_kv_f16(struct qvk_reference *ref, bool kv_f16);

/*
 * Calibration hook: called before every matrix-vector product with the
 * weight tensor (a pointer into the model given to qvk_reference_create,
 * so callers can tell the layers apart) and its input @x of w->ne[0]
 * floats. NULL removes it. (`qvk quantize` gathers activation statistics
 * and GPTQ Hessians this way.)
 */
typedef void (*qvk_reference_capture_fn)(void *user,
					 const struct qvk_host_tensor *w,
					 const float *x);
QVK_API void qvk_reference_set_capture(struct qvk_reference *ref,
				       qvk_reference_capture_fn fn, void *user);

QVK_API QVK_MUST_CHECK qvk_status qvk_reference_forward(
	struct qvk_reference *ref, uint32_t token, uint32_t pos,
	const float **logits);

/*
 * Negative log-likelihood of a token window: run @tokens[0..n-1] from
 * position 0 (n <= seq_len) and sum -log softmax(logits at i)[tokens[i+1]]
 * in double for i < n-1 into *nll_sum. Perplexity is
 * exp(nll_sum / (n - 1)). The CPU oracle of `qvk ppl`.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_reference_nll(
	struct qvk_reference *ref, const uint32_t *tokens, uint32_t n,
	double *nll_sum);

#endif
