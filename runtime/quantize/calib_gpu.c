/* SPDX-License-Identifier: MIT */
/*
 * Calibration on the device: the calibration windows through qvk's own
 * forward pass (the model uploaded with float weights, f16, or q8 where
 * the device cannot take f16), each linear layer's inputs accumulated on
 * the device (runtime/forward/llm_capture.c), and the sums handed to the
 * same struct qvk_calib_site the batched CPU pass fills. They are the
 * float model's statistics (what --float-calib gives on the CPU), never
 * sequential: the device model is not requantized layer by layer.
 *
 * The sites come in passes over ranges of layers: every window is run
 * once per pass, up to the pass's last layer, so a pass costs at most a
 * forward pass per window; a pass holds as many layers as fit
 * max_pass_bytes of sums (XᵀX dominates: 4·k² bytes per site), so GPTQ on
 * a wide model takes several passes and the statistics without XᵀX one.
 * The layers are asked for in order (the streaming run quantizes them so)
 * and only the current pass's sites are held on the host.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward/forward.h"
#include "quantize_internal.h"

struct qvk_calib_gpu {
	struct qvk_ctx *ctx;
	const struct qvk_model *m;
	const struct qvk_quantize_options *opt;
	struct qvk_llm *llm;
	uint32_t window, n_windows;
	uint64_t positions;
	bool hessian;
	uint32_t max_rows, stride;
	uint32_t layers_per_pass;
	uint64_t layer_bytes;      /* one layer's sums */
	uint32_t *tokens;          /* (window) one window's tokens */
	/* the last pass: layers [first, first + count), the head too */
	uint32_t first, count;
	bool head, held;
	struct qvk_calib_site *sites; /* (4 * layers_per_pass + 1) */
	char describe[64];
};

void qvk_calib_gpu_destroy(struct qvk_calib_gpu *g)
{
	if (!g)
		return;
	for (uint32_t i = 0; g->sites && i < 4 * g->layers_per_pass + 1; i++)
		qvk_calib_site_finish(&g->sites[i]);
	free(g->sites);
	free(g->tokens);
	qvk_llm_destroy(g->llm);
	free(g);
}

/* Bytes of one layer's sums on the device. */
static uint64_t qvk_calib_gpu_layer_bytes(const struct qvk_model_params *p,
					  bool hessian, uint32_t max_rows)
{
	uint64_t q_dim = (uint64_t)p->n_heads * p->head_dim;
	uint64_t ks = 2 * (uint64_t)p->dim + q_dim + p->hidden_dim;
	uint64_t kk = 2 * (uint64_t)p->dim * p->dim + q_dim * q_dim +
		      (uint64_t)p->hidden_dim * p->hidden_dim;

	return 4 * (ks * (3 + (uint64_t)max_rows) + (hessian ? kk : 0));
}

qvk_status qvk_calib_gpu_create(struct qvk_ctx *ctx, struct qvk_device *dev,
				const struct qvk_model *m,
				const struct qvk_quantize_options *opt,
				bool hessian, uint32_t max_rows,
				uint64_t max_pass_bytes,
				struct qvk_calib_gpu **out)
{
	const struct qvk_model_params *p = &m->params;
	uint32_t w = opt->calib_window ? opt->calib_window :
					 QVK_MIN(256u, p->seq_len);
	struct qvk_llm_options lo = { .format = QVK_WEIGHTS_F16, .group = 32,
				      .max_batch = w, .max_seq = w,
				      .kv_f32 = true };
	uint64_t layer_bytes = qvk_calib_gpu_layer_bytes(p, hessian, max_rows);
	struct qvk_calib_gpu *g;
	qvk_status st;

	*out = NULL;
	if (!dev)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "calibration on the "
				 "device: no device given");
	if (!opt->calib_tokens || !opt->n_calib_tokens || w < 2 ||
	    w > p->seq_len)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "calibration: no "
				 "tokens, or window %u outside 2..%u", w,
				 p->seq_len);
	if (opt->bos >= p->vocab_size)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "calibration: BOS %u "
				 "past the vocabulary (%u)", opt->bos,
				 p->vocab_size);
	for (size_t i = 0; i < opt->n_calib_tokens; i++)
		if (opt->calib_tokens[i] >= p->vocab_size)
			return qvk_error(ctx, QVK_ERR_INVALID_ARG, "calibration: "
					 "token %u at %zu past the vocabulary "
					 "(%u)", opt->calib_tokens[i], i,
					 p->vocab_size);
	g = calloc(1, sizeof(*g));
	if (!g)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "calibration");
	g->ctx = ctx;
	g->m = m;
	g->opt = opt;
	g->window = w;
	g->n_windows = (uint32_t)QVK_DIV_ROUND_UP(opt->n_calib_tokens,
						  (size_t)w - 1);
	g->positions = opt->n_calib_tokens + g->n_windows;
	g->hessian = hessian;
	g->max_rows = max_rows;
	/* as the CPU pass samples: every (positions / max_rows)-th */
	g->stride = max_rows ? (uint32_t)QVK_MAX(1u, g->positions / max_rows) :
			       0;
	g->tokens = malloc(w * sizeof(*g->tokens));
	if (!g->tokens) {
		qvk_calib_gpu_destroy(g);
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "calibration");
	}
	st = qvk_llm_create(dev, m, &lo, &g->llm);
	if (st == QVK_ERR_UNSUPPORTED) { /* no 16-bit storage: int8 weights */
		qvk_log(ctx, QVK_LOG_INFO, "calibration: f16 weights refused "
			"(%s); the device model takes q8 g32",
			qvk_ctx_message(ctx));
		lo.format = QVK_WEIGHTS_Q8;
		st = qvk_llm_create(dev, m, &lo, &g->llm);
	}
	if (st == QVK_OK && !max_pass_bytes) {
		uint64_t used, budget;

		qvk_device_memory_usage(dev, &used, &budget);
		max_pass_bytes = QVK_MIN(1ull << 30,
					 budget > used ? (budget - used) / 2 : 0);
	}
	g->layers_per_pass = (uint32_t)QVK_MAX(1u, QVK_MIN((uint64_t)p->n_layers,
							   max_pass_bytes /
							   QVK_MAX(layer_bytes, 1)));
	g->layer_bytes = layer_bytes;
	if (st == QVK_OK) {
		g->sites = calloc(4 * (size_t)g->layers_per_pass + 1,
				  sizeof(*g->sites));
		if (!g->sites)
			st = qvk_error(ctx, QVK_ERR_NO_MEMORY, "calibration");
	}
	if (st != QVK_OK) {
		qvk_calib_gpu_destroy(g);
		return st;
	}
	snprintf(g->describe, sizeof(g->describe), "%s weights, %u layer%s "
		 "per pass", qvk_llm_describe(g->llm), g->layers_per_pass,
		 g->layers_per_pass == 1 ? "" : "s");
	*out = g;
	return QVK_OK;
}

const char *qvk_calib_gpu_describe(const struct qvk_calib_gpu *g)
{
	return g->describe;
}

uint64_t qvk_calib_gpu_host_bytes(const struct qvk_calib_gpu *g)
{
	return g->layer_bytes * (g->layers_per_pass + 1);
}

/* The name of the first matrix that reads site @i of the pass. */
static const char *qvk_calib_gpu_name(const struct qvk_calib_gpu *g, uint32_t i)
{
	const struct qvk_model *m = g->m;
	const struct qvk_layer_weights *L;

	if (i == 4 * g->count)
		return m->params.shared_classifier ? m->tok_embd.name :
						     m->output.name;
	L = &m->layers[g->first + i / 4];
	switch (i % 4) {
	case QVK_SITE_ATTN_IN: return L->wq.name;
	case QVK_SITE_ATTN_OUT: return L->wo.name;
	case QVK_SITE_FFN_IN: return L->w1.name;
	default: return L->w2.name;
	}
}

/* Site @i of the capture into the host's form, refusing non-finite sums. */
static qvk_status qvk_calib_gpu_fetch(struct qvk_calib_gpu *g,
				      const struct qvk_llm_capture *cap,
				      uint32_t i, float *stats)
{
	struct qvk_calib_site *s = &g->sites[i];
	uint32_t k = s->k;
	qvk_status st = qvk_llm_capture_read(cap, i, stats, s->xtx, s->rows);

	for (uint32_t j = 0; st == QVK_OK && j < k; j++) {
		if (!isfinite(stats[j]) || !isfinite(stats[k + j]) ||
		    !isfinite(stats[2 * k + j]))
			return qvk_error(g->ctx, QVK_ERR_NUMERIC, "calibration "
					 "on the device: input %u of %s is not "
					 "finite", j, qvk_calib_gpu_name(g, i));
		s->sum_abs[j] = stats[j];
		s->sum_sq[j] = stats[k + j];
		s->absmax[j] = stats[2 * k + j];
	}
	s->tokens = g->positions;
	if (s->rows)
		s->n_rows = (uint32_t)QVK_MIN((uint64_t)g->max_rows,
					      QVK_DIV_ROUND_UP(g->positions,
							       g->stride));
	return st;
}

/* Every window through a capture of layers [first, first + count). */
static qvk_status qvk_calib_gpu_pass(struct qvk_calib_gpu *g, uint32_t first)
{
	const struct qvk_model_params *p = &g->m->params;
	uint32_t count = QVK_MIN(g->layers_per_pass, p->n_layers - first);
	struct qvk_llm_capture_options co = {
		.first_layer = first, .n_layers = count,
		.head = first + count == p->n_layers, .xtx = g->hessian,
		.max_rows = g->max_rows, .row_stride = g->stride,
	};
	struct qvk_llm_capture *cap = NULL;
	float *stats = NULL;
	qvk_status st;

	for (uint32_t i = 0; i < 4 * g->layers_per_pass + 1; i++)
		qvk_calib_site_finish(&g->sites[i]);
	g->held = false;
	g->first = first;
	g->count = count;
	g->head = co.head;
	st = qvk_llm_capture_create(g->llm, &co, &cap);
	for (uint32_t i = 0; st == QVK_OK && i < 4 * count + co.head; i++)
		st = qvk_calib_site_init(g->ctx, &g->sites[i],
					 qvk_llm_capture_site_width(
						 g->llm, i == 4 * count ? 0 : i % 4),
					 g->hessian, g->max_rows);
	for (uint32_t wi = 0, base = 0; st == QVK_OK && wi < g->n_windows; wi++) {
		size_t at = (size_t)wi * (g->window - 1);
		uint32_t len = (uint32_t)QVK_MIN((size_t)g->window - 1,
						 g->opt->n_calib_tokens - at);

		g->tokens[0] = g->opt->bos;
		memcpy(g->tokens + 1, g->opt->calib_tokens + at,
		       len * sizeof(*g->tokens));
		st = qvk_llm_capture_window(cap, g->tokens, len + 1, base);
		base += len + 1;
		/* done once: the last pass ends at the last layer */
		qvk_progress(g->ctx, "calibrating on the device",
			     (double)first * g->n_windows +
				     (double)count * (wi + 1),
			     (double)p->n_layers * g->n_windows);
	}
	if (st == QVK_OK) {
		stats = malloc(3 * sizeof(*stats) *
			       QVK_MAX(p->dim, QVK_MAX(p->n_heads * p->head_dim,
						       p->hidden_dim)));
		if (!stats)
			st = qvk_error(g->ctx, QVK_ERR_NO_MEMORY, "calibration");
	}
	for (uint32_t i = 0; st == QVK_OK && i < 4 * count + co.head; i++)
		st = qvk_calib_gpu_fetch(g, cap, i, stats);
	free(stats);
	qvk_llm_capture_destroy(cap);
	g->held = st == QVK_OK;
	return st;
}

qvk_status qvk_calib_gpu_site(struct qvk_calib_gpu *g, uint32_t site,
			      struct qvk_calib_site *dst)
{
	const struct qvk_model_params *p = &g->m->params;
	uint32_t layer = site / QVK_SITE_KINDS, i;
	const struct qvk_calib_site *s;
	qvk_status st = QVK_OK;

	if (site > qvk_site_index(p->n_layers, 0))
		return qvk_error(g->ctx, QVK_ERR_INVALID_ARG, "calibration: "
				 "site %u", site);
	/* the head's statistics come with the pass of the last layer */
	if (layer == p->n_layers)
		layer = p->n_layers - 1;
	if (!g->held || layer < g->first || layer >= g->first + g->count)
		st = qvk_calib_gpu_pass(g, layer);
	if (st != QVK_OK)
		return st;
	i = site == qvk_site_index(p->n_layers, 0) ?
		    4 * g->count : 4 * (layer - g->first) + site % 4;
	s = &g->sites[i];
	if (dst->k != s->k || !dst->xtx != !s->xtx ||
	    dst->max_rows != s->max_rows)
		return qvk_error(g->ctx, QVK_ERR_INVALID_ARG, "calibration: "
				 "site %u of %u channels asked as %u", site,
				 s->k, dst->k);
	dst->tokens = s->tokens;
	memcpy(dst->sum_abs, s->sum_abs, s->k * sizeof(double));
	memcpy(dst->sum_sq, s->sum_sq, s->k * sizeof(double));
	memcpy(dst->absmax, s->absmax, s->k * sizeof(float));
	if (s->xtx)
		memcpy(dst->xtx, s->xtx, (size_t)s->k * s->k * sizeof(float));
	dst->n_pending = 0;
	if (s->rows)
		memcpy(dst->rows, s->rows, (size_t)s->n_rows * s->k *
		       sizeof(float));
	dst->n_rows = s->n_rows;
	return QVK_OK;
}

qvk_status qvk_calib_gpu_run(struct qvk_ctx *ctx, struct qvk_device *dev,
			     const struct qvk_model *m,
			     const struct qvk_quantize_options *opt,
			     bool hessian, uint32_t max_rows,
			     uint64_t max_pass_bytes, struct qvk_calib **out)
{
	struct qvk_calib_gpu *g = NULL;
	struct qvk_calib *c;
	qvk_status st;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (c) {
		c->n_sites = m->params.n_layers * QVK_SITE_KINDS + 1;
		c->sites = calloc(c->n_sites, sizeof(*c->sites));
	}
	if (!c || !c->sites) {
		qvk_calib_destroy(c);
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "calibration");
	}
	st = qvk_calib_gpu_create(ctx, dev, m, opt, hessian, max_rows,
				  max_pass_bytes, &g);
	for (uint32_t i = 0; st == QVK_OK && i < c->n_sites; i++) {
		uint32_t kind = i % QVK_SITE_KINDS;
		bool head = i == c->n_sites - 1;

		st = qvk_calib_site_init(ctx, &c->sites[i],
					 qvk_llm_capture_site_width(g->llm,
								    head ? 0 : kind),
					 hessian, max_rows);
		if (st == QVK_OK)
			st = qvk_calib_gpu_site(g, i, &c->sites[i]);
	}
	qvk_calib_gpu_destroy(g);
	if (st) {
		qvk_calib_destroy(c);
		return st;
	}
	*out = c;
	return QVK_OK;
}
