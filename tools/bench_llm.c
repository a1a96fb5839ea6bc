/* SPDX-License-Identifier: MIT */
/*
 * qvk bench llm: whole-model prefill and decode speed on synthetic models
 * of real shapes (TinyLlama-1.1B, and a 768-wide one). Weights are random
 * GGUF Q8_0 or Q4_0 blocks (speed does not depend on the values); always
 * labelled synthetic. No real model this size can be brought here.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/fp16.h>
#include <qvk/llm.h>
#include <qvk/matmul.h>

#include "llm_setup.h"

const char qvk_bench_llm_summary[] =
	"whole-model prefill/decode tokens/s on synthetic TinyLlama shapes";

struct qvk_synth_shape {
	const char *name;
	struct qvk_model_params p;
};

static const struct qvk_synth_shape qvk_synth_shapes[] = {
	{ "tinyllama-1.1b", { .dim = 2048, .hidden_dim = 5632, .n_layers = 22,
			      .n_heads = 32, .n_kv_heads = 4, .head_dim = 64,
			      .vocab_size = 32000, .seq_len = 2048,
			      .rope_theta = 10000, .rope_freq_scale = 1,
			      .norm_eps = 1e-5f } },
	{ "small-768", { .dim = 768, .hidden_dim = 2048, .n_layers = 12,
			 .n_heads = 12, .n_kv_heads = 12, .head_dim = 64,
			 .vocab_size = 32000, .seq_len = 1024,
			 .rope_theta = 10000, .rope_freq_scale = 1,
			 .norm_eps = 1e-5f } },
};

struct qvk_synth {
	struct qvk_model model;
	void **owned;
	uint32_t n_owned;
	uint64_t rng;
};

static void *qvk_synth_alloc(struct qvk_synth *s, size_t bytes)
{
	void *p = malloc(bytes);

	if (p)
		s->owned[s->n_owned++] = p;
	return p;
}

/* A (rows, cols) tensor: F32 filled with @fill, or random GGUF blocks. */
static bool qvk_synth_tensor(struct qvk_synth *s, struct qvk_host_tensor *t,
			     const char *name, enum qvk_ggml_type type,
			     uint64_t rows, uint64_t cols, float fill)
{
	uint32_t be, bb;
	uint8_t *d;

	if (!qvk_ggml_type_block(type, &be, &bb))
		return false;
	memset(t, 0, sizeof(*t));
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->type = type;
	t->n_dims = 2;
	t->ne[0] = cols;
	t->ne[1] = rows;
	t->ne[2] = t->ne[3] = 1;
	t->size_bytes = rows * (cols / be) * bb;
	d = qvk_synth_alloc(s, t->size_bytes);
	if (!d)
		return false;
	t->data = d;
	if (type == QVK_GGML_TYPE_F32) {
		for (uint64_t i = 0; i < rows * cols; i++)
			((float *)d)[i] = fill != 0 ? fill :
				(float)((int)(qvk_tool_rand(&s->rng) % 2001) - 1000) * 1e-5f;
		return true;
	}
	for (uint64_t i = 0; i + 8 <= t->size_bytes; i += 8) {
		uint64_t r = qvk_tool_rand(&s->rng);

		memcpy(d + i, &r, 8);
	}
	/* Every block's fp16 scale(s) finite and small. */
	for (uint64_t b = 0; b < t->size_bytes / bb; b++) {
		uint16_t h = qvk_fp16_from_f32(0.002f);

		memcpy(d + b * bb, &h, 2);
		if (type == QVK_GGML_TYPE_Q4_1) {
			h = qvk_fp16_from_f32(-0.01f);
			memcpy(d + b * bb + 2, &h, 2);
		}
	}
	return true;
}

static bool qvk_synth_build(struct qvk_synth *s, const struct qvk_model_params *p,
			    enum qvk_ggml_type type)
{
	struct qvk_model *m = &s->model;
	uint32_t q_dim = p->n_heads * p->head_dim,
		 kv_dim = p->n_kv_heads * p->head_dim;
	bool ok;
	char name[64];

	memset(s, 0, sizeof(*s));
	s->rng = 0x51;
	s->owned = calloc(16 * (size_t)p->n_layers + 8, sizeof(*s->owned));
	m->layers = calloc(p->n_layers, sizeof(*m->layers));
	if (!s->owned || !m->layers)
		return false;
	m->format = QVK_MODEL_GGUF;
	m->params = *p;
	ok = qvk_synth_tensor(s, &m->tok_embd, "token_embd.weight",
			      QVK_GGML_TYPE_F32, p->vocab_size, p->dim, 0) &&
	     qvk_synth_tensor(s, &m->output_norm, "output_norm.weight",
			      QVK_GGML_TYPE_F32, 1, p->dim, 1) &&
	     qvk_synth_tensor(s, &m->output, "output.weight", type,
			      p->vocab_size, p->dim, 0);
	for (uint32_t l = 0; ok && l < p->n_layers; l++) {
		struct qvk_layer_weights *L = &m->layers[l];
		struct {
			struct qvk_host_tensor *t;
			const char *what;
			uint32_t rows, cols;
		} lin[] = {
			{ &L->wq, "attn_q", q_dim, p->dim },
			{ &L->wk, "attn_k", kv_dim, p->dim },
			{ &L->wv, "attn_v", kv_dim, p->dim },
			{ &L->wo, "attn_output", p->dim, q_dim },
			{ &L->w1, "ffn_gate", p->hidden_dim, p->dim },
			{ &L->w2, "ffn_down", p->dim, p->hidden_dim },
			{ &L->w3, "ffn_up", p->hidden_dim, p->dim },
		};

		snprintf(name, sizeof(name), "blk.%u.attn_norm.weight", l);
		ok = qvk_synth_tensor(s, &L->attn_norm, name, QVK_GGML_TYPE_F32,
				      1, p->dim, 1);
		snprintf(name, sizeof(name), "blk.%u.ffn_norm.weight", l);
		ok = ok && qvk_synth_tensor(s, &L->ffn_norm, name,
					    QVK_GGML_TYPE_F32, 1, p->dim, 1);
		for (size_t i = 0; ok && i < QVK_ARRAY_SIZE(lin); i++) {
			snprintf(name, sizeof(name), "blk.%u.%s.weight", l,
				 lin[i].what);
			ok = qvk_synth_tensor(s, lin[i].t, name, type,
					      lin[i].rows, lin[i].cols, 0);
		}
	}
	return ok;
}

static void qvk_synth_free(struct qvk_synth *s)
{
	for (uint32_t i = 0; i < s->n_owned; i++)
		free(s->owned[i]);
	free(s->owned);
	free(s->model.layers);
}

static int qvk_bench_llm_usage(void)
{
	printf("usage: qvk bench llm [--json] [--model tinyllama-1.1b|small-768] "
	       "[--prefill N] [--decode N]\n"
	       "                     [--profile]\n\n"
	       "Loads a synthetic model of a real shape (random Q8_0 and "
	       "Q4_0 weights, never a\nreal model) and times prefill of N "
	       "tokens (default 64) and decode of N tokens\n(default 16) "
	       "with wall-clock time, the way qvk run does. Weight GB/s is "
	       "the\nlinear-layer bytes per decode step over its time.\n");
	return 0;
}

int qvk_bench_llm(int argc, char **argv)
{
	uint32_t n_prefill = 64, n_decode = 16;
	const char *only = NULL;
	struct qvk_device *dev = NULL;
	struct qvk_ctx *ctx;
	bool json = false, first = true, profile = false;
	uint64_t v;
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--help") || !strcmp(a, "-h"))
			return qvk_bench_llm_usage();
		if (!strcmp(a, "--json")) {
			json = true;
		} else if (!strcmp(a, "--profile")) {
			profile = true;
		} else if (!strcmp(a, "--model") && val) {
			only = argv[++i];
		} else if ((!strcmp(a, "--prefill") || !strcmp(a, "--decode")) &&
			   val) {
			if (!qvk_tool_parse_u64("bench llm", a, val, 2, 512, &v))
				return 2;
			*(a[2] == 'p' ? &n_prefill : &n_decode) = (uint32_t)v;
			i++;
		} else {
			return qvk_tool_usage_error("bench llm", "unknown or "
						    "incomplete argument '%s'",
						    a);
		}
	}
	ctx = qvk_tool_ctx("bench llm");
	if (!ctx)
		return 1;
	qvk_ctx_set_progress(ctx, NULL, NULL);
	if (qvk_device_create(ctx, NULL, &dev) != QVK_OK) {
		rc = qvk_tool_fail(ctx, QVK_ERR_NO_DEVICE, "bench llm", "device");
		goto out;
	}
	if (json)
		printf("{\"device\":\"%s\",\"synthetic_weights\":true,"
		       "\"results\":[", qvk_device_info(dev)->name);
	else
		printf("device: %s; synthetic weights (random Q8_0/Q4_0 "
		       "blocks), wall-clock times\n", qvk_device_info(dev)->name);
	for (size_t s = 0; s < QVK_ARRAY_SIZE(qvk_synth_shapes); s++) {
		static const enum qvk_ggml_type types[] = { QVK_GGML_TYPE_Q8_0,
							    QVK_GGML_TYPE_Q4_0 };
		const struct qvk_synth_shape *sh = &qvk_synth_shapes[s];

		if (only && strcmp(only, sh->name))
			continue;
		for (size_t t = 0; t < QVK_ARRAY_SIZE(types); t++) {
			struct qvk_llm_options opt = { .group = 32,
						       .profile = profile,
						       .max_batch = n_prefill,
						       .max_seq = n_prefill +
								  n_decode };
			uint32_t *toks = calloc(n_prefill + n_decode, 4);
			struct qvk_llm *llm = NULL;
			struct qvk_synth syn = { 0 };
			double t0, t1, t2, wbytes = 0;
			const float *last;
			qvk_status st = QVK_ERR_NO_MEMORY;

			if (toks && qvk_synth_build(&syn, &sh->p, types[t]))
				st = qvk_llm_create(dev, &syn.model, &opt, &llm);
			for (uint32_t i = 0; toks && i < n_prefill + n_decode; i++)
				toks[i] = (uint32_t)(qvk_tool_rand(&syn.rng) %
						     sh->p.vocab_size);
			/* Warm-up: both plans recorded, pipelines compiled. */
			if (st == QVK_OK)
				st = qvk_llm_forward(llm, toks, n_prefill, 0, NULL,
						     &last);
			if (st == QVK_OK)
				st = qvk_llm_forward(llm, toks, 1, 0, NULL, &last);
			if (st == QVK_OK)
				qvk_llm_profile_reset(llm);
			t0 = qvk_tool_now_s();
			if (st == QVK_OK)
				st = qvk_llm_forward(llm, toks, n_prefill, 0, NULL,
						     &last);
			t1 = qvk_tool_now_s();
			for (uint32_t i = 0; st == QVK_OK && i < n_decode; i++)
				st = qvk_llm_forward(llm, toks + n_prefill + i, 1,
						     n_prefill + i, NULL, &last);
			t2 = qvk_tool_now_s();
			if (st != QVK_OK) {
				rc = qvk_tool_fail(ctx, st, "bench llm", sh->name);
			} else {
				for (uint32_t i = 0; i < qvk_model_tensor_count(&syn.model); i++) {
					const struct qvk_host_tensor *ht =
						qvk_model_tensor_at(&syn.model, i);

					if (ht->type != QVK_GGML_TYPE_F32)
						wbytes += (double)ht->size_bytes;
				}
				if (json)
					printf("%s{\"model\":\"%s\",\"weights\":\"%s\","
					       "\"prefill_tokens\":%u,\"prefill_tps\":%.3f,"
					       "\"decode_tokens\":%u,\"decode_tps\":%.3f,"
					       "\"decode_weight_gbps\":%.3f,"
					       "\"device_bytes\":%llu}",
					       first ? "" : ",", sh->name,
					       qvk_llm_describe(llm), n_prefill,
					       n_prefill / (t1 - t0), n_decode,
					       n_decode / (t2 - t1),
					       wbytes * n_decode / (t2 - t1) / 1e9,
					       (unsigned long long)qvk_llm_device_bytes(llm));
				else
					printf("  %-15s %-28s prefill %4u tok: %8.2f "
					       "tok/s   decode %3u tok: %7.2f tok/s "
					       "(%.2f GB/s of weights)   %.0f MiB\n",
					       sh->name, qvk_llm_describe(llm),
					       n_prefill, n_prefill / (t1 - t0),
					       n_decode, n_decode / (t2 - t1),
					       wbytes * n_decode / (t2 - t1) / 1e9,
					       (double)qvk_llm_device_bytes(llm) /
						       (1 << 20));
				first = false;
				/* The timed runs only: reset after warm-up. */
				if (profile && !json)
					qvk_llm_print_profile(stdout, llm, "      ");
				fflush(stdout);
			}
			qvk_llm_destroy(llm);
			qvk_synth_free(&syn);
			free(toks);
		}
	}
	if (json)
		printf("]}\n");
out:
	qvk_device_destroy(dev);
	qvk_ctx_destroy(ctx);
	return rc;
}
