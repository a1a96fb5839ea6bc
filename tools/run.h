/* SPDX-License-Identifier: MIT */
/*
 * qvk run in three parts: the options and set-up (cmd_run.c), generation
 * with stop strings and the context shift (run_generate.c), and the
 * summary as text or JSON (run_report.c).
 */
#ifndef QVK_TOOLS_RUN_H
#define QVK_TOOLS_RUN_H

#include <qvk/telemetry.h>

#include "llm_setup.h"
#include "sampling_args.h"

#define QVK_RUN_MAX_STOPS 16u

struct qvk_run_args {
	struct qvk_llm_args llm;
	const char *prompt;      /* -p TEXT, or the text read for -f / -p - */
	size_t prompt_len;
	const char *prompt_file; /* -f FILE, or "-" for -p - (stdin) */
	uint32_t n_tokens;       /* -n */
	uint32_t ctx_size;       /* -c; 0: the model's context */
	bool context_shift;
	int64_t n_keep;          /* prompt tokens after BOS a shift keeps; -1: all */
	bool ignore_eos;
	const char *stops[QVK_RUN_MAX_STOPS];
	uint32_t n_stops;
	bool json;
	struct qvk_sampling_args sampling;
};

enum qvk_run_stop {
	QVK_RUN_STOP_LENGTH,  /* -n tokens were made */
	QVK_RUN_STOP_EOS,     /* the model ended the text */
	QVK_RUN_STOP_STRING,  /* a --stop string appeared */
	QVK_RUN_STOP_CONTEXT, /* the context is full and may not shift */
};

/* "length", "eos", "stop", "context": the JSON names. */
const char *qvk_run_stop_name(enum qvk_run_stop stop);

/* What one generation did: the figures of the summary. */
struct qvk_run_result {
	uint32_t ctx_size;       /* KV cache positions */
	uint32_t n_prompt;       /* BOS included */
	uint32_t n_kept;         /* tokens a context shift keeps at the front */
	uint32_t generated;      /* tokens sampled */
	uint32_t *tokens;        /* [generated] their ids */
	char *text;              /* their text, a matched stop string cut off */
	size_t text_len;
	enum qvk_run_stop stop;
	uint32_t shifts;         /* context shifts */
	uint64_t reprefilled;    /* tokens the shifts ran through prefill again */
	double prefill_s, first_token_s, decode_s, shift_s;
	struct qvk_energy_result prefill_energy, decode_energy;
	bool have_prefill_energy, have_decode_energy;
};

/*
 * Tokenize a->prompt, prefill, then sample up to a->n_tokens tokens,
 * streaming the prompt and the text to stdout unless a->json. @t may be
 * NULL (no energy source). Prints its own errors; false on failure. The
 * result holds allocations either way: qvk_run_result_finish() frees them.
 */
bool qvk_run_generate(struct qvk_ctx *ctx, struct qvk_llm *llm,
		      const struct qvk_model *model, struct qvk_tokenizer *tok,
		      const struct qvk_run_args *a, struct qvk_telemetry *t,
		      struct qvk_run_result *r);
void qvk_run_result_finish(struct qvk_run_result *r);

/* The summary: lines on stderr, or with a->json one object on stdout. */
void qvk_run_report(struct qvk_ctx *ctx, const struct qvk_run_args *a,
		    const struct qvk_llm *llm, const struct qvk_device *dev,
		    const struct qvk_telemetry *t, const struct qvk_run_result *r);

#endif
