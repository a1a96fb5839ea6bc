/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: GGUF bytes -> reader -> every tensor's payload checks
 * (rows decoded for every type qvk reads, include/qvk/format.h; GGUF
 * blocks and qvk types converted as the GPU upload converts them, which
 * refuses Inf/NaN scales) -> llama
 * model -> tokenizer -> one reference step when a model comes out.
 * Nothing may crash, hang or read outside the input. `make fuzz`; the
 * seeds (tests/fuzz/seeds.c) are a tiny model in every tensor type.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/format.h>
#include <qvk/model.h>
#include <qvk/quantize.h>
#include <qvk/tokenizer.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Work bounds per input, so that one input cannot take seconds. */
#define FUZZ_ROW_MAX (1u << 16)   /* elements in a decoded row */
#define FUZZ_ROWS_MAX 8u          /* rows decoded per tensor */
#define FUZZ_CONVERT_MAX (1u << 20) /* payload bytes converted per tensor */

/* What the loaders and the upload check in a tensor's bytes. */
static void fuzz_tensor_payload(struct qvk_ctx *ctx,
				const struct qvk_host_tensor *t)
{
	uint64_t k = t->ne[0], rows = qvk_host_tensor_rows(t);
	const struct qvk_type_info *info;
	struct qvk_qtensor *qt = NULL;
	enum qvk_qformat qf;
	uint32_t group;
	float *row;

	if (!t->data || !k || k > FUZZ_ROW_MAX)
		return;
	row = malloc(k * sizeof(*row));
	if (!row)
		return;
	for (uint64_t r = 0; r < rows && r < FUZZ_ROWS_MAX; r++)
		if (qvk_host_tensor_row(t, r, row) != QVK_OK)
			break;
	/* the last row too: it ends at the payload's end */
	if (rows > FUZZ_ROWS_MAX && qvk_host_tensor_row(t, rows - 1, row))
		row[0] = 0;
	free(row);
	if (t->size_bytes > FUZZ_CONVERT_MAX || rows > UINT32_MAX)
		return;
	if (qvk_ggml_type_is_qvk(t->type, &qf, &group)) {
		if (qvk_qtensor_from_host(ctx, t, &qt) == QVK_OK)
			qvk_qtensor_destroy(qt);
	} else if ((info = qvk_type_info(t->type)) && info->gguf_native &&
		   info->kernel == QVK_KERNEL_GROUPED && t->n_dims == 2 &&
		   k % 32 == 0) {
		if (qvk_qtensor_from_gguf(ctx, t->name, t->type, t->data,
					  (size_t)t->size_bytes, (uint32_t)rows,
					  (uint32_t)k, &qt) == QVK_OK)
			qvk_qtensor_destroy(qt);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qvk_ctx *ctx;
	struct qvk_gguf *g;
	struct qvk_tokenizer *tok = NULL;
	struct qvk_model *m = NULL;

	if (qvk_ctx_create(&ctx))
		return 0;
	qvk_ctx_set_log(ctx, QVK_LOG_ERROR, NULL, NULL);
	if (qvk_gguf_open_memory(ctx, data, size, &g) == QVK_OK) {
		for (uint64_t i = 0; i < qvk_gguf_tensor_count(g); i++)
			fuzz_tensor_payload(ctx, qvk_gguf_tensor_at(g, i));
		if (qvk_tokenizer_from_gguf(ctx, g, &tok) == QVK_OK) {
			uint32_t ids[64];
			size_t n;

			if (qvk_tokenizer_encode(tok, ctx, "Hello world", 11,
						 QVK_TOKENIZE_BOS, ids, 64,
						 &n) == QVK_OK) {
				for (size_t i = 1; i < n; i++) {
					size_t len;

					qvk_tokenizer_decode(tok, ids[i - 1],
							     ids[i], &len);
				}
			}
			qvk_tokenizer_destroy(tok);
		}
		/* the model takes g over, also on failure */
		if (qvk_model_from_gguf(ctx, g, &m) == QVK_OK) {
			const struct qvk_model_params *hp = &m->params;
			struct qvk_reference *ref;
			const float *logits;

			/* keep a step cheap: tiny models only */
			if ((uint64_t)hp->dim * hp->hidden_dim * hp->n_layers <
				    (1u << 16) &&
			    (uint64_t)hp->vocab_size * hp->dim < (1u << 16) &&
			    hp->seq_len < 4096 &&
			    qvk_reference_create(ctx, m, &ref) == QVK_OK) {
				if (qvk_reference_forward(ref, 0, 0, &logits))
					logits = NULL;
				qvk_reference_destroy(ref);
			}
			qvk_model_destroy(m);
		}
	}
	qvk_ctx_destroy(ctx);
	return 0;
}
