/* SPDX-License-Identifier: MIT */
/*
 * Synthetic Llama models for the benchmarks: random weights of a real
 * shape (speed does not depend on the values), always labelled synthetic.
 */
#ifndef QVK_TOOLS_SYNTH_MODEL_H
#define QVK_TOOLS_SYNTH_MODEL_H

#include <qvk/llm.h>
#include <qvk/model.h>
#include <qvk/tokenizer.h>

struct qvk_synth_shape {
	char name[64];  /* "tinyllama-1.1b", or the DIM,LAYERS,... text */
	struct qvk_model_params p;
};

/* The named shapes, for --help. */
extern const char qvk_synth_shape_names[];

/*
 * A named shape (110m, tinyllama-1.1b, llama-2-7b, llama-3.2-1b) or
 * "DIM,LAYERS,HIDDEN,HEADS,KVHEADS,VOCAB"; false with a message naming
 * what is wrong in @why.
 */
bool qvk_synth_shape_parse(const char *text, struct qvk_synth_shape *out,
			   char *why, size_t why_len);

/*
 * The tensor type a synthetic model of @format (group @group) is built
 * in: the GGUF block type the loader takes as is (Q8_0, Q4_0, Q4_1 at
 * group 32; F16 or F32 for float formats), or F16 to be quantized at
 * load for other groups.
 */
enum qvk_ggml_type qvk_synth_type(enum qvk_weight_format format,
				  uint32_t group);

/* Host bytes of the model's tensors in @type (what building it takes). */
uint64_t qvk_synth_bytes(const struct qvk_model_params *p,
			 enum qvk_ggml_type type);

/* Model with every tensor allocated and filled; NULL when out of memory. */
struct qvk_model *qvk_synth_create(const struct qvk_model_params *p,
				   enum qvk_ggml_type type, uint64_t seed);
void qvk_synth_destroy(struct qvk_model *m);

/* Write @m as a GGUF file with @tok's vocabulary (llama.cpp can run it). */
qvk_status qvk_synth_save(struct qvk_ctx *ctx, const struct qvk_model *m,
			  const struct qvk_tokenizer *tok, const char *path);

#endif
