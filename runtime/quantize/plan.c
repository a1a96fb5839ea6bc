/* SPDX-License-Identifier: MIT */
/*
 * The plan of a quantization: for every tensor of the output, what it is
 * read from, the type it is quantized to and the type it is stored in,
 * decided before any work so that the file's header can be written first.
 *
 * Types come from the one table (include/qvk/format.h): a grouped format
 * is named by the type that stores it at group 32 (Q8_0, Q4_0, Q4_1) or by
 * its qvk type (QVK_Q4_G64, ...); a row whose K is not a multiple of 32 is
 * stored in the qvk type of its format at group 32 (padded). K-quant mixes
 * follow llama.cpp's (src/llama-quant.cpp, llama_tensor_get_type):
 *
 *   q4_k, q5_k, q6_k   every matrix, the embedding and classifier too
 *   q4_k_m             Q4_K; the classifier Q6_K; attn_v and ffn_down
 *                      Q6_K in the layers use_more_bits() picks
 *   q5_k_m             the same over Q5_K
 *   use_more_bits(i, n) = i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2
 *
 * In the _m mixes a classifier tied to the embedding stays one tensor,
 * typed as the classifier (Q6_K), as llama.cpp keeps it: untied, the
 * looked-up copy was Q4_K, which on the model tools/kquant-vs-llama.sh
 * trains gave qvk's file 1.5x the KL of llama.cpp's (AWQ, whose classifier
 * scale cannot fold into a tied embedding, still unties).
 *
 * Where a row is not whole 256-blocks a K-quant falls back, as
 * llama.cpp falls back to Q5_0/Q5_1/Q8_0 (types qvk does not write or
 * read): Q4_K to q4a g32 (Q4_1, a 4-bit code with a min per 32, as Q4_K
 * has), Q5_K and Q6_K to Q8_0. Norms stay F32; the embedding stays F32
 * outside K-quant mixes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quantize_internal.h"

/* Calibration site of output tensor @index, or UINT32_MAX. */
static uint32_t qvk_plan_site(const struct qvk_model *m, uint32_t index)
{
	static const int kinds[9] = { -1, QVK_SITE_ATTN_IN, QVK_SITE_ATTN_IN,
				      QVK_SITE_ATTN_IN, QVK_SITE_ATTN_OUT, -1,
				      QVK_SITE_FFN_IN, QVK_SITE_FFN_OUT,
				      QVK_SITE_FFN_IN };
	uint32_t n = 9 * m->params.n_layers;

	if (index == 0)
		return UINT32_MAX;
	if (index - 1 < n)
		return kinds[(index - 1) % 9] < 0 ?
			       UINT32_MAX :
			       qvk_site_index((index - 1) / 9,
					      (enum qvk_site_kind)
						      kinds[(index - 1) % 9]);
	return index == n + 2 ? qvk_site_index(m->params.n_layers, 0) :
				UINT32_MAX;
}

uint32_t qvk_qplan_stored_type(uint32_t spec, uint64_t k)
{
	const struct qvk_type_info *t = qvk_type_info(spec);
	enum qvk_qformat f;
	uint32_t group;
	uint64_t kp;

	if (!t || !t->quantized || t->kernel != QVK_KERNEL_GROUPED)
		return spec;
	f = t->qformat;
	group = t->group;
	if (t->gguf_native) /* Q8_0, Q4_0, Q4_1: padded rows take qvk's */
		return k % 32 ? qvk_ggml_type_qvk(f, 32) : spec;
	/* a row that is one group of 32, 64 or 128 is that group's layout */
	kp = QVK_ALIGN_UP(k, 32);
	if (group == QVK_GROUP_ROW && (kp == 32 || kp == 64 || kp == 128))
		return qvk_ggml_type_qvk(f, (uint32_t)kp);
	return spec;
}

/* The spec of a grouped weight format (q8/q4/q4a at @group). */
static uint32_t qvk_plan_grouped(enum qvk_weight_format f, uint32_t group)
{
	enum qvk_qformat q = qvk_weight_format_qformat(f);

	return group == 32 ? qvk_ggml_type_gguf(q) : qvk_ggml_type_qvk(q, group);
}

static bool qvk_use_more_bits(uint32_t i, uint32_t n)
{
	return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

/* The type a K-quant mix gives output tensor @index (a matrix). */
static uint32_t qvk_plan_kmix(const struct qvk_model *m, enum qvk_kquant_mix mix,
			      uint32_t index)
{
	uint32_t n_layers = m->params.n_layers, base, j, l;

	switch (mix) {
	case QVK_KMIX_Q4_K: return QVK_GGML_TYPE_Q4_K;
	case QVK_KMIX_Q5_K: return QVK_GGML_TYPE_Q5_K;
	case QVK_KMIX_Q6_K: return QVK_GGML_TYPE_Q6_K;
	default: break;
	}
	base = mix == QVK_KMIX_Q4_K_M ? QVK_GGML_TYPE_Q4_K : QVK_GGML_TYPE_Q5_K;
	if (index == 0) /* tied: the embedding is the classifier too */
		return m->params.shared_classifier ? QVK_GGML_TYPE_Q6_K : base;
	if (index > 9 * n_layers)
		return QVK_GGML_TYPE_Q6_K; /* the classifier */
	l = (index - 1) / 9;
	j = (index - 1) % 9;
	/* attn_v (3) and ffn_down (7) of the layers that get more bits */
	if ((j == 3 || j == 7) && qvk_use_more_bits(l, n_layers))
		return QVK_GGML_TYPE_Q6_K;
	return base;
}

/* A K-quant for rows that are not whole 256-blocks: llama.cpp's idea. */
static uint32_t qvk_plan_kq_fallback(uint32_t spec)
{
	return spec == QVK_GGML_TYPE_Q4_K ? QVK_GGML_TYPE_Q4_1 :
					    QVK_GGML_TYPE_Q8_0;
}

/* Whether @name has an entry in opt->tensor_types; its type into @type. */
static bool qvk_plan_override(const struct qvk_quantize_options *opt,
			      const char *name, uint32_t *type)
{
	for (uint32_t i = 0; i < opt->n_tensor_types; i++)
		if (opt->tensor_types[i].name &&
		    !strcmp(opt->tensor_types[i].name, name)) {
			*type = opt->tensor_types[i].type;
			return true;
		}
	return false;
}

/*
 * Every --keep rule must match a tensor of @m (a tied classifier answers
 * to output.weight too): a pattern that matches nothing is a typo, and
 * quantizing a whole model to find that out wastes the user's time.
 */
static qvk_status qvk_plan_keep_check(struct qvk_ctx *ctx,
				      struct qvk_keep *rules,
				      const struct qvk_model *m)
{
	uint32_t n = qvk_model_tensor_count(m);

	for (uint32_t i = 0; i < n && qvk_keep_count(rules); i++)
		(void)qvk_keep_lookup(rules, qvk_model_tensor_at(m, i)->name,
				      NULL);
	if (m->params.shared_classifier)
		(void)qvk_keep_lookup(rules, "output.weight", NULL);
	for (uint32_t r = 0; r < qvk_keep_count(rules); r++)
		if (!qvk_keep_matches(rules, r))
			return qvk_error(ctx, QVK_ERR_INVALID_ARG, "--keep '%s' "
					 "matches no tensor of the model (names "
					 "are GGUF's: token_embd.weight, "
					 "blk.N.attn_q.weight ... "
					 "blk.N.ffn_down.weight, output.weight)",
					 qvk_keep_rule(rules, r));
	return QVK_OK;
}

/* The spec of output tensor @i before fallbacks. */
static uint32_t qvk_plan_spec(const struct qvk_qplan *p, struct qvk_keep *rules,
			      const struct qvk_quantize_options *opt, uint32_t i)
{
	const struct qvk_host_tensor *t = qvk_model_tensor_at(&p->out, i);
	bool classifier = p->site[i] != UINT32_MAX &&
			  p->site[i] == qvk_site_index(p->out.params.n_layers, 0);
	/* a classifier that was tied answers to both names */
	enum qvk_weight_format keep = qvk_keep_lookup(
		rules, t->name, p->tied && classifier ? "token_embd.weight" :
							 NULL);
	uint32_t over;

	if (t->n_dims == 1)
		return QVK_GGML_TYPE_F32;
	if (qvk_plan_override(opt, t->name, &over))
		return over;
	if (keep == QVK_WEIGHTS_F16 || keep == QVK_WEIGHTS_F32)
		return keep == QVK_WEIGHTS_F16 ? QVK_GGML_TYPE_F16 :
						 QVK_GGML_TYPE_F32;
	if (i == 0) /* the embedding is looked up, not multiplied */
		return opt->kmix ? qvk_plan_kmix(&p->out, opt->kmix, 0) :
				   QVK_GGML_TYPE_F32;
	if (opt->kmix)
		return qvk_plan_kmix(&p->out, opt->kmix, i);
	if (opt->format == QVK_WEIGHTS_F32 || opt->format == QVK_WEIGHTS_F16)
		return opt->format == QVK_WEIGHTS_F16 ? QVK_GGML_TYPE_F16 :
							QVK_GGML_TYPE_F32;
	return qvk_plan_grouped(opt->format, opt->group);
}

void qvk_qplan_destroy(struct qvk_qplan *p)
{
	if (!p)
		return;
	free(p->out.layers);
	free(p->src);
	free(p->spec);
	free(p->site);
	free(p);
}

/* Whether a float classifier may stay the embedding's tensor. */
static bool qvk_plan_stays_tied(const struct qvk_model *m,
				const struct qvk_quantize_options *opt,
				struct qvk_keep *rules, bool rounding)
{
	bool smooth = opt->method == QVK_METHOD_AWQ ||
		      opt->method == QVK_METHOD_SMOOTHQUANT;
	enum qvk_weight_format ko, ke;
	uint32_t type;

	if (!m->params.shared_classifier ||
	    qvk_plan_override(opt, "output.weight", &type))
		return false;
	if (!rounding)
		return !smooth && !opt->kmix;
	if (opt->kmix) {
		/* llama.cpp's _m mixes keep the tied tensor (plan_kmix) */
		if (smooth || (opt->kmix != QVK_KMIX_Q4_K_M &&
			       opt->kmix != QVK_KMIX_Q5_K_M))
			return false;
	} else if (opt->format != QVK_WEIGHTS_F32 &&
		   opt->format != QVK_WEIGHTS_F16) {
		return false;
	}
	/* both names give the tensor one type */
	ko = qvk_keep_lookup(rules, "output.weight", NULL);
	ke = qvk_keep_lookup(rules, "token_embd.weight", NULL);
	return ko == ke;
}

/*
 * Tensor @i planned as @spec, stored so; without @rounding (the folds
 * only) stored F32, the spec still what AWQ's search tries.
 */
static qvk_status qvk_plan_tensor(struct qvk_ctx *ctx, struct qvk_qplan *p,
				  uint32_t i, uint32_t spec, bool rounding)
{
	struct qvk_host_tensor *t =
		(struct qvk_host_tensor *)(uintptr_t)qvk_model_tensor_at(&p->out, i);
	const struct qvk_type_info *ti = qvk_type_info(spec);
	char label[QVK_TYPE_LABEL_MAX];

	if (!ti || !ti->writable || (ti->quantized && t->n_dims != 2))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "quantize: tensor "
				 "%s: qvk does not write it as %s", t->name,
				 qvk_type_label(spec, label));
	if (ti->kernel == QVK_KERNEL_KQUANT && t->ne[0] % 256) {
		uint32_t fb = qvk_plan_kq_fallback(spec);

		qvk_log(ctx, QVK_LOG_INFO, "quantize: %s: rows of %llu are not "
			"whole 256-blocks of %s: %s instead", t->name,
			(unsigned long long)t->ne[0], ti->name,
			qvk_ggml_type_name(fb));
		spec = fb;
	}
	p->spec[i] = spec;
	t->type = (enum qvk_ggml_type)(rounding ?
				       qvk_qplan_stored_type(spec, t->ne[0]) :
				       QVK_GGML_TYPE_F32);
	t->data = NULL;
	if (!qvk_ggml_tensor_size(t->type, t->n_dims, t->ne, &t->size_bytes))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "quantize: tensor %s "
				 "(%llu x %llu) has no size as %s", t->name,
				 (unsigned long long)t->ne[0],
				 (unsigned long long)qvk_host_tensor_rows(t),
				 qvk_type_label(t->type, label));
	if (qvk_ggml_type_is_qvk(t->type, NULL, NULL))
		p->qvk_types = true;
	if (p->site[i] != UINT32_MAX && ti->quantized && rounding)
		p->weight_elems += t->ne[0] * qvk_host_tensor_rows(t);
	return QVK_OK;
}

qvk_status qvk_qplan_create(struct qvk_ctx *ctx, const struct qvk_model *m,
			    const struct qvk_quantize_options *opt,
			    bool rounding, struct qvk_qplan **out)
{
	struct qvk_qplan *p = calloc(1, sizeof(*p));
	struct qvk_keep *rules = NULL;
	qvk_status st;

	*out = NULL;
	if (!p)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "quantize: plan");
	st = qvk_model_check_llama_export(ctx, m);
	if (st == QVK_OK)
		st = qvk_keep_parse(ctx, opt->keep, &rules);
	if (st == QVK_OK)
		st = qvk_plan_keep_check(ctx, rules, m);
	if (st)
		goto out_free;
	p->tied = m->params.shared_classifier;
	p->out = *m;
	p->out.gguf = NULL;
	p->out.map = NULL;
	p->out.map_size_bytes = 0;
	p->out.rope_storage = NULL;
	p->out.layers = malloc(QVK_MAX(m->params.n_layers, 1u) *
			       sizeof(*p->out.layers));
	if (p->out.layers)
		memcpy(p->out.layers, m->layers,
		       m->params.n_layers * sizeof(*m->layers));
	if (p->tied && !qvk_plan_stays_tied(m, opt, rules, rounding)) {
		/* the classifier gets its own tensor, read from the embedding */
		p->out.params.shared_classifier = false;
		p->out.output = m->tok_embd;
		snprintf(p->out.output.name, sizeof(p->out.output.name),
			 "output.weight");
	}
	p->n = qvk_model_tensor_count(&p->out);
	p->src = calloc(p->n, sizeof(*p->src));
	p->spec = calloc(p->n, sizeof(*p->spec));
	p->site = calloc(p->n, sizeof(*p->site));
	if (!p->out.layers || !p->src || !p->spec || !p->site) {
		st = qvk_error(ctx, QVK_ERR_NO_MEMORY, "quantize: plan");
		goto out_free;
	}
	for (uint32_t i = 0; i < p->n; i++) {
		p->src[i] = i < qvk_model_tensor_count(m) ?
				    qvk_model_tensor_at(m, i) : &m->tok_embd;
		p->site[i] = qvk_plan_site(&p->out, i);
	}
	for (uint32_t r = 0; st == QVK_OK && r < opt->n_tensor_types; r++) {
		uint32_t i = 0;
		const char *name = opt->tensor_types[r].name;

		while (name && i < p->n &&
		       strcmp(qvk_model_tensor_at(&p->out, i)->name, name))
			i++;
		if (i == p->n || !name)
			st = qvk_error(ctx, QVK_ERR_INVALID_ARG, "quantize: a type "
				       "is given for tensor '%s', which the "
				       "output does not have", name ? name :
				       "(null)");
	}
	for (uint32_t i = 0; st == QVK_OK && i < p->n; i++)
		st = qvk_plan_tensor(ctx, p, i, qvk_plan_spec(p, rules, opt, i),
				     rounding);
out_free:
	qvk_keep_destroy(rules);
	if (st) {
		qvk_qplan_destroy(p);
		return st;
	}
	*out = p;
	return QVK_OK;
}
