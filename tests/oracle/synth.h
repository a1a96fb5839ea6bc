/* SPDX-License-Identifier: MIT */
/*
 * Synthetic-weight GGUF models of real shapes, one preset per architecture
 * qvk runs, for comparing qvk with llama.cpp (tests/check_oracle.c,
 * tools/oracle/record-fixtures.sh) and the GPU forward pass with the C
 * reference (tests/check_arch.c).
 *
 * Weights are uniform with the variance of N(0, 1/K) for a matrix of K
 * inputs (activations keep their scale through the layers), norms near 1,
 * biases ~0.3; drawn from splitmix64 with integer-to-float conversions and
 * IEEE multiplies only, so the same preset and seed give the same bytes
 * on every machine (the committed llama.cpp logits depend on it; the
 * file's FNV-1a hash is recorded with them). The tokenizer comes from a
 * llama.cpp vocab GGUF (tokenizer.* keys copied; a SentencePiece vocab can
 * be cut to its first N tokens to keep files small).
 */
#ifndef QVK_TESTS_ORACLE_SYNTH_H
#define QVK_TESTS_ORACLE_SYNTH_H

#include <stdbool.h>
#include <stdint.h>

#include <qvk/model.h>

enum qvk_synth_rope {
	QVK_SYNTH_ROPE_PLAIN,    /* theta only */
	QVK_SYNTH_ROPE_LLAMA3,   /* rope_freqs.weight, transformers' llama3 formula */
	QVK_SYNTH_ROPE_LLAMA3_KEYS, /* rope.scaling.type "llama3" keys instead (qvk only) */
	QVK_SYNTH_ROPE_LONGROPE, /* Phi-3: rope_factors_short/long, attn_factor */
};

struct qvk_synth_spec {
	const char *preset;   /* "llama3", "mistral", "qwen2", "qwen3", "phi3" */
	enum qvk_arch arch;
	uint32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads;
	uint32_t head_dim;    /* 0: dim / n_heads (else key_length is written) */
	uint32_t rope_dims;   /* 0: head_dim */
	uint32_t context;     /* {arch}.context_length */
	float rope_theta, norm_eps;
	enum qvk_synth_rope rope;
	uint32_t rope_orig_ctx; /* Llama 3 formula's / LongRoPE's original context */
	bool tied;            /* no output.weight: the embedding classifies */
	bool qkv_bias;        /* Qwen2 */
	bool qk_norm;         /* Qwen3 */
	bool fused;           /* Phi-3: attn_qkv and ffn_up of gate|up */
	bool output_bias;
	uint32_t vocab_limit; /* 0: the vocab file's own; else its first N (SPM) */
	const char *vocab;    /* vocab file name in $QVK_MODELS */
};

/* The preset named @name, or NULL. Presets list: qvk_synth_presets[]. */
const struct qvk_synth_spec *qvk_synth_preset(const char *name);
extern const struct qvk_synth_spec qvk_synth_presets[];
extern const uint32_t qvk_synth_n_presets;

/*
 * Write @spec with matrices of @type (F32, F16 or Q8_0; vectors F32) and
 * the tokenizer of the vocab GGUF @vocab to @path, weights from @seed.
 */
qvk_status qvk_synth_write(struct qvk_ctx *ctx,
			   const struct qvk_synth_spec *spec,
			   enum qvk_ggml_type type, uint64_t seed,
			   const struct qvk_gguf *vocab, const char *path);

/* FNV-1a 64 of the file at @path into *hash; false if it cannot be read. */
bool qvk_synth_file_hash(const char *path, uint64_t *hash);

#endif
