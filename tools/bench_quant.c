/* SPDX-License-Identifier: MIT */
/*
 * qvk bench quant: CPU quantization throughput of RTN, MSE clipping, AWQ
 * and GPTQ on one linear layer (default 4096 x 4096, 2048 calibration
 * tokens) of synthetic data, with the output NMSE each reaches on held-out
 * tokens so that speed is never read without quality.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/metrics.h>
#include <qvk/quant.h>

#include "tool.h"

const char qvk_bench_quant_summary[] =
	"quantization throughput: RTN, MSE-clip, AWQ, GPTQ on a synthetic layer";

#define BENCH "bench quant"
#define EVAL_TOKENS 64u

enum method { M_RTN, M_MSE, M_AWQ, M_GPTQ, M_COUNT };
static const char *const method_names[M_COUNT] = { "rtn", "mse", "awq", "gptq" };

struct bench_opts {
	uint32_t n, k, tokens, group;
	enum qvk_qformat format;
	bool json;
	bool run[M_COUNT];
};

struct bench_result {
	double seconds;
	double nmse;
	float alpha; /* AWQ only */
	bool done;
};

/* Box-Muller on qvk_tool_rand(): reproducible synthetic data. */
static float bench_normal(uint64_t *s)
{
	double u1 = ((double)(qvk_tool_rand(s) >> 11) + 1.0) * 0x1.0p-53;
	double u2 = (double)(qvk_tool_rand(s) >> 11) * 0x1.0p-53;

	return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2));
}

/*
 * Inputs like a transformer's: channels correlated along K (AR(1), ρ=0.8),
 * log-normal channel scales, 1 in 512 channels 20x (salient). Weights
 * normal, σ = 0.02.
 */
static void bench_data(const struct bench_opts *o, float *w, float *x,
		       uint32_t rows)
{
	uint64_t st = 0x5eed;
	float *chan = malloc((size_t)o->k * sizeof(*chan));

	for (uint32_t j = 0; j < o->k; j++)
		chan[j] = expf(0.5f * bench_normal(&st)) *
			  (qvk_tool_rand(&st) % 512 == 0 ? 20.0f : 1.0f);
	for (size_t i = 0; i < (size_t)o->n * o->k; i++)
		w[i] = 0.02f * bench_normal(&st);
	for (uint32_t t = 0; t < rows; t++) {
		float prev = bench_normal(&st);

		for (uint32_t j = 0; j < o->k; j++) {
			prev = 0.8f * prev + 0.6f * bench_normal(&st);
			x[(size_t)t * o->k + j] = prev * chan[j];
		}
	}
	free(chan);
}

/* Output NMSE on the held-out rows of W ≈ deq(qt)/s (s NULL: 1). */
static qvk_status bench_nmse(struct qvk_ctx *ctx, const struct bench_opts *o,
			     const float *xev, const float *yref,
			     const struct qvk_qtensor *qt, const float *s,
			     double *nmse)
{
	float *wd = malloc((size_t)o->n * o->k * sizeof(*wd));
	float *y = malloc((size_t)EVAL_TOKENS * o->n * sizeof(*y));
	struct qvk_error_stats es;
	qvk_status st = QVK_ERR_NO_MEMORY;

	if (wd && y) {
		qvk_qtensor_dequantize(qt, wd);
		if (s)
			for (size_t i = 0; i < (size_t)o->n * o->k; i++)
				wd[i] /= s[i % o->k];
		qvk_ref_matmul_f32(xev, wd, y, EVAL_TOKENS, o->n, o->k);
		st = qvk_error_stats_compute(ctx, "bench output", yref, y,
					     (size_t)EVAL_TOKENS * o->n, &es);
		*nmse = es.nmse;
	}
	free(wd);
	free(y);
	return st;
}

static qvk_status bench_one(struct qvk_ctx *ctx, const struct bench_opts *o,
			    enum method m, const float *w, const float *x,
			    const float *xev, const float *yref,
			    struct bench_result *r)
{
	struct qvk_quant_params qp = qvk_quant_params_default(o->format, o->group);
	struct qvk_qtensor *qt = NULL;
	float *s = NULL;
	qvk_status st;
	double t0 = qvk_tool_now_s();

	if (m == M_RTN || m == M_MSE) {
		qp.clip = m == M_MSE ? QVK_CLIP_MSE : QVK_CLIP_MINMAX;
		st = qvk_quantize_weights(ctx, method_names[m], w, o->n, o->k, &qp,
					  &qt);
	} else if (m == M_AWQ) {
		struct qvk_awq_params ap = { .quant = qp, .clip_search = 1 };

		s = malloc((size_t)o->k * sizeof(*s));
		if (!s)
			return QVK_ERR_NO_MEMORY;
		st = qvk_awq_search(ctx, "awq", x, o->tokens, w, o->n, o->k, &ap, s,
				    &r->alpha);
		if (!st)
			st = qvk_awq_quantize(ctx, "awq", x, o->tokens, w, o->n,
					      o->k, s, &ap, &qt);
	} else {
		struct qvk_gptq_params gp = { .quant = qp, .damp = 0.01f,
					      .block = 128 };

		st = qvk_gptq_quantize(ctx, "gptq", x, o->tokens, w, o->n, o->k,
				       &gp, &qt);
	}
	r->seconds = qvk_tool_now_s() - t0;
	if (!st)
		st = bench_nmse(ctx, o, xev, yref, qt, s, &r->nmse);
	r->done = st == QVK_OK;
	qvk_qtensor_destroy(qt);
	free(s);
	return st;
}

/* "rtn,gptq" into @run; a name that is not a method is an error, not nothing. */
static int bench_parse_methods(const char *list, bool run[M_COUNT])
{
	for (int m = 0; m < M_COUNT; m++)
		run[m] = false;
	for (const char *p = list; *p;) {
		size_t len = strcspn(p, ",");
		int m = 0;

		while (m < M_COUNT && (strlen(method_names[m]) != len ||
				       strncmp(p, method_names[m], len)))
			m++;
		if (m == M_COUNT)
			return qvk_tool_usage_error(BENCH, "--methods: '%.*s' is "
						    "none of rtn, mse, awq, gptq",
						    (int)len, p);
		run[m] = true;
		p += len + (p[len] == ',');
	}
	for (int m = 0; m < M_COUNT; m++)
		if (run[m])
			return 0;
	return qvk_tool_usage_error(BENCH, "--methods names no method");
}

static int bench_parse(int argc, char **argv, struct bench_opts *o)
{
	uint64_t v;

	*o = (struct bench_opts){ .n = 4096, .k = 4096, .tokens = 2048,
				  .group = 128, .format = QVK_QFORMAT_Q4 };
	for (int m = 0; m < M_COUNT; m++)
		o->run[m] = true;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--json")) {
			o->json = true;
			continue;
		}
		if (!val)
			return qvk_tool_usage_error(BENCH, "unknown or incomplete "
						    "option '%s' (try --help)", a);
		i++;
		if (!strcmp(a, "--n") || !strcmp(a, "--k") ||
		    !strcmp(a, "--tokens")) {
			if (!qvk_tool_parse_u64(BENCH, a, val, 32, 65536, &v))
				return 2;
			*(a[2] == 'n' ? &o->n : a[2] == 'k' ? &o->k : &o->tokens) =
				(uint32_t)v;
		} else if (!strcmp(a, "--group")) {
			if (!qvk_tool_parse_u64(BENCH, a, val, 0, 128, &v) ||
			    (v && v != 32 && v != 64 && v != 128))
				return qvk_tool_usage_error(BENCH, "--group is 32, 64, "
							    "128 or 0 (per row)");
			o->group = (uint32_t)v;
		} else if (!strcmp(a, "--format")) {
			if (!strcmp(val, "q8"))
				o->format = QVK_QFORMAT_Q8;
			else if (!strcmp(val, "q4"))
				o->format = QVK_QFORMAT_Q4;
			else if (!strcmp(val, "q4a"))
				o->format = QVK_QFORMAT_Q4A;
			else
				return qvk_tool_usage_error(BENCH, "--format is q8, q4 "
							    "or q4a");
		} else if (!strcmp(a, "--methods")) {
			if (bench_parse_methods(val, o->run))
				return 2;
		} else {
			return qvk_tool_usage_error(BENCH, "unknown option '%s'", a);
		}
	}
	return 0;
}

static void bench_print(const struct bench_opts *o,
			const struct bench_result *r)
{
	double weights = (double)o->n * o->k;

	if (o->json) {
		bool first = true;

		printf("{\"n\": %u, \"k\": %u, \"tokens\": %u, \"format\": \"%s\", "
		       "\"group\": %u, \"eval_tokens\": %u, \"data\": \"synthetic\", "
		       "\"blas\": %s, \"results\": [", o->n, o->k, o->tokens,
		       qvk_qformat_name(o->format), o->group, EVAL_TOKENS,
		       qvk_quant_has_blas() ? "true" : "false");
		for (int m = 0; m < M_COUNT; m++) {
			if (!r[m].done)
				continue;
			printf("%s{\"method\": \"%s\", \"seconds\": %.3f, "
			       "\"mweights_per_s\": %.3f, \"output_nmse\": %.6g}",
			       first ? "" : ", ", method_names[m], r[m].seconds,
			       weights / r[m].seconds / 1e6, r[m].nmse);
			first = false;
		}
		printf("]}\n");
		return;
	}
	printf("quantization of a %u x %u layer to %s g%u, %u calibration tokens "
	       "(synthetic: correlated channels, salient 20x); output NMSE on %u "
	       "held-out tokens\n", o->n, o->k, qvk_qformat_name(o->format),
	       o->group, o->tokens, EVAL_TOKENS);
	printf("%-6s %10s %14s %12s\n", "method", "seconds", "Mweights/s",
	       "output NMSE");
	for (int m = 0; m < M_COUNT; m++)
		if (r[m].done)
			printf("%-6s %10.3f %14.2f %12.4g%s\n", method_names[m],
			       r[m].seconds, weights / r[m].seconds / 1e6, r[m].nmse,
			       m == M_AWQ ? "  (alpha searched)" : "");
}

int qvk_bench_quant(int argc, char **argv)
{
	struct bench_result r[M_COUNT] = { 0 };
	struct bench_opts o;
	float *w = NULL, *x = NULL, *yref = NULL;
	struct qvk_ctx *ctx;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") && strcmp(argv[i], "-h"))
			continue;
		printf("usage: qvk bench quant [--n N] [--k K] [--tokens T] "
		       "[--format q8|q4|q4a]\n"
		       "                       [--group 32|64|128|0] "
		       "[--methods rtn,mse,awq,gptq] [--json]\n\n"
		       "Quantizes one synthetic N x K linear layer (correlated "
		       "channels, salient ones\n20x) on the CPU with each method "
		       "and prints its time, Mweights/s and the\noutput NMSE on "
		       "%u held-out tokens, so speed is never read without quality.\n\n"
		       "  --n N, --k K    the layer's rows and columns, 32..65536 "
		       "(default 4096 x 4096)\n"
		       "  --tokens T      calibration tokens for AWQ and GPTQ, "
		       "32..65536 (default 2048)\n"
		       "  --format F      q8|q4|q4a (default q4)\n"
		       "  --group G       32|64|128|0 (0: one group per row; default "
		       "128)\n"
		       "  --methods LIST  the methods to run (default all four; "
		       "awq and gptq need BLAS)\n"
		       "  --json          one JSON object on stdout instead of the "
		       "table\n", EVAL_TOKENS);
		return 0;
	}
	rc = bench_parse(argc, argv, &o);
	if (rc)
		return rc;
	ctx = qvk_tool_ctx(BENCH);
	if (!ctx)
		return 1;
	w = malloc((size_t)o.n * o.k * sizeof(*w));
	x = malloc(((size_t)o.tokens + EVAL_TOKENS) * o.k * sizeof(*x));
	yref = malloc((size_t)EVAL_TOKENS * o.n * sizeof(*yref));
	if (!w || !x || !yref) {
		rc = qvk_tool_fail(ctx, QVK_ERR_NO_MEMORY, BENCH, "test data");
		goto out_free;
	}
	bench_data(&o, w, x, o.tokens + EVAL_TOKENS);
	qvk_ref_matmul_f32(x + (size_t)o.tokens * o.k, w, yref, EVAL_TOKENS, o.n,
			   o.k);
	for (int m = 0; m < M_COUNT; m++) {
		qvk_status st;

		if (!o.run[m])
			continue;
		if ((m == M_AWQ || m == M_GPTQ) && !qvk_quant_has_blas()) {
			fprintf(stderr, "qvk " BENCH ": %s skipped: built with "
				"QVK_BLAS=0\n", method_names[m]);
			continue;
		}
		st = bench_one(ctx, &o, (enum method)m, w, x,
			       x + (size_t)o.tokens * o.k, yref, &r[m]);
		if (st) {
			rc = qvk_tool_fail(ctx, st, BENCH, method_names[m]);
			goto out_free;
		}
	}
	bench_print(&o, r);
	rc = 0;
out_free:
	free(yref);
	free(x);
	free(w);
	qvk_ctx_destroy(ctx);
	return rc;
}
