/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by tests/check_arch.c (GPU vs C reference per
 * architecture) and tests/check_oracle.c (qvk vs llama.cpp): synthetic
 * models written to a scratch folder, logits of a token sequence from the
 * reference and the GPU, and their comparison. static inline: each suite
 * uses a subset.
 */
#ifndef QVK_TESTS_CHECK_ARCH_H
#define QVK_TESTS_CHECK_ARCH_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <qvk/llm.h>
#include <qvk/model.h>

#include "harness.h"
#include "oracle/synth.h"

#ifndef QVK_ARRAY_SIZE
#define QVK_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#endif

/* The presets of every architecture on a small vocabulary (synth.c). */
static const char *const qvk_arch_presets[] = {
	"llama3", "mistral", "qwen2", "qwen3", "phi3",
};

/* A scratch folder under the build tree (QVK_BUILD_DIR, else /tmp). */
static inline const char *qvk_arch_dir(char *buf, size_t len, const char *sub)
{
	const char *build = getenv("QVK_BUILD_DIR");

	snprintf(buf, len, "%s/%s", build && *build ? build : "/tmp", sub);
	mkdir(buf, 0755); /* exists already, or the write below fails */
	return buf;
}

/*
 * Write preset @sp as @type into @path; false (after a SKIP line) when its
 * vocab file is not in $QVK_MODELS.
 */
static inline bool qvk_arch_synth(const struct qvk_synth_spec *sp,
				  enum qvk_ggml_type type, const char *path)
{
	char vpath[512];
	struct qvk_gguf *vocab = NULL;
	qvk_status st;

	if (!qvk_test_model_path(sp->vocab, vpath, sizeof(vpath)))
		return false;
	ck_assert_int_eq(qvk_gguf_open(qvk_test_ctx, vpath, &vocab), QVK_OK);
	st = qvk_synth_write(qvk_test_ctx, sp, type, 1, vocab, path);
	qvk_gguf_close(vocab);
	ck_assert_msg(st == QVK_OK, "synth %s: %s", sp->preset,
		      qvk_ctx_message(qvk_test_ctx));
	return true;
}

/* Reference logits (n, vocab) of tokens[0..n) from position 0. */
static inline void qvk_arch_ref_logits(const struct qvk_model *m, bool kv_f16,
				       const uint32_t *tokens, uint32_t n,
				       float *out)
{
	uint32_t vocab = m->params.vocab_size;
	struct qvk_reference *ref;

	ck_assert_int_eq(qvk_reference_create(qvk_test_ctx, m, &ref), QVK_OK);
	qvk_reference_set_kv_f16(ref, kv_f16);
	for (uint32_t p = 0; p < n; p++) {
		const float *l;

		ck_assert_int_eq(qvk_reference_forward(ref, tokens[p], p, &l),
				 QVK_OK);
		memcpy(out + (size_t)p * vocab, l, vocab * sizeof(float));
	}
	qvk_reference_destroy(ref);
}

/* GPU logits (n, vocab), poisoned first: all at once, or one at a time. */
static inline void qvk_arch_gpu_logits(const struct qvk_model *m,
				       const struct qvk_llm_options *opt,
				       const uint32_t *tokens, uint32_t n,
				       bool prefill, float *out)
{
	uint32_t vocab = m->params.vocab_size;
	struct qvk_llm *llm;
	qvk_status st = qvk_llm_create(qvk_test_dev, m, opt, &llm);

	ck_assert_msg(st == QVK_OK, "llm: %s", qvk_ctx_message(qvk_test_ctx));
	for (size_t i = 0; i < (size_t)n * vocab; i++)
		out[i] = NAN;
	if (prefill) {
		ck_assert_int_eq(qvk_llm_forward(llm, tokens, n, 0, out, NULL),
				 QVK_OK);
	} else {
		for (uint32_t p = 0; p < n; p++)
			ck_assert_int_eq(qvk_llm_forward(llm, tokens + p, 1, p,
							 out + (size_t)p * vocab,
							 NULL),
					 QVK_OK);
	}
	qvk_llm_destroy(llm);
}

struct qvk_logit_cmp {
	double max_rel_l2;  /* max over positions of |got - want|_2 / |want|_2 */
	double mean_rel_l2;
	uint32_t top1;      /* positions whose argmax agrees */
};

/* Compare (n, vocab) logits; any non-finite value of @got fails. */
static inline struct qvk_logit_cmp qvk_logits_compare(const float *got,
						      const float *want,
						      uint32_t n,
						      uint32_t vocab)
{
	struct qvk_logit_cmp c = { 0, 0, 0 };

	for (uint32_t p = 0; p < n; p++) {
		const float *g = got + (size_t)p * vocab, *w = want + (size_t)p * vocab;
		double d2 = 0, w2 = 0, r;

		for (uint32_t i = 0; i < vocab; i++) {
			ck_assert_msg(isfinite(g[i]), "logit %u at position %u is "
				      "%g", i, p, (double)g[i]);
			d2 += ((double)g[i] - w[i]) * ((double)g[i] - w[i]);
			w2 += (double)w[i] * w[i];
		}
		r = sqrt(d2 / fmax(w2, 1e-30));
		c.max_rel_l2 = fmax(c.max_rel_l2, r);
		c.mean_rel_l2 += r / n;
		c.top1 += qvk_test_argmax(g, vocab) == qvk_test_argmax(w, vocab);
	}
	return c;
}

/* A fixed prompt of @n ids below @vocab: BOS, then a spread of ids. */
static inline void qvk_arch_prompt(uint32_t *ids, uint32_t n, uint32_t vocab)
{
	ids[0] = 1;
	for (uint32_t i = 1; i < n; i++)
		ids[i] = (uint32_t)((259u + 7919u * i) % (vocab - 3) + 3);
}

#endif
