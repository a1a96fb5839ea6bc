/* SPDX-License-Identifier: MIT */
/*
 * A synthetic chat model for the chat tests: a small llama whose
 * vocabulary, chat template and general.name come from a real GGUF
 * (the ggml-vocab files), and whose weights make it a bigram model with a
 * known reply: after @first it says reply[0], then reply[1], then @end.
 */
#ifndef QVK_TESTS_CHAT_MODEL_H
#define QVK_TESTS_CHAT_MODEL_H

#include <stdint.h>

struct qvk_test_chat_plan {
	uint32_t first;    /* the last token of the assistant header */
	uint32_t reply[2]; /* what the model answers */
	uint32_t end;      /* the token it ends the reply with */
};

/*
 * Write @path: a 2-layer llama (dim 64) with every tokenizer.* key and
 * general.name of the GGUF at @vocab_path and a context of @seq_len.
 * Attention and FFN outputs are zero, so the logits follow the current
 * token alone: its embedding is a one-hot class, and the output rows of
 * the reply tokens pick the classes of their predecessors. Every other
 * weight is random (from @seed), small. Fails the test on any error.
 */
void qvk_test_write_chat_model(const char *vocab_path, const char *path,
			       uint32_t seq_len,
			       const struct qvk_test_chat_plan *plan,
			       uint64_t seed);

#endif
