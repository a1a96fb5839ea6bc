/* SPDX-License-Identifier: MIT */
/*
 * qvk bench attention: decode attention of one token at several context
 * lengths, the one-pass kernel (one workgroup per kv head) against
 * split-KV (flash-decoding) at several split counts; then a prefill chunk
 * after a cached prefix at the same contexts, attention.comp against the
 * subgroup and tiled prefill kernels; ratios measured in the same run
 * (synthetic q and fp16 cache; each kernel checked against the C
 * reference first).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/attention.h>

#include "tool.h"

const char qvk_bench_attention_summary[] =
	"attention at 512..4096 positions: decode one pass vs split-KV, "
	"prefill kernels";

#define BENCH "bench attention"
#define MAX_LIST 16u

struct attn_shape {
	const char *name;
	uint32_t heads, kv, hd;
};

static const struct attn_shape attn_shapes[] = {
	{ "tinyllama-1.1b", 32, 4, 64 },
	{ "llama-2-7b", 32, 32, 128 },
	{ "qwen2-0.5b", 14, 2, 64 },
	{ "falcon-7b", 71, 1, 64 }, /* one kv head: one-pass decode is one workgroup */
};

struct attn_opts {
	const struct attn_shape *shape;
	uint32_t contexts[MAX_LIST], n_contexts;
	uint32_t splits[MAX_LIST], n_splits; /* splits[0] == 0: the baseline */
	uint32_t reps, calls;
	uint32_t prefill; /* tokens of the prefill chunk; 0: no prefill rows */
	bool json;
};

/* Prefill rows: at most this many turns (a chunk is 10^4 x a token). */
#define PREFILL_REPS 3u

/* "a,b,c" of numbers in [min, max] into @out (at most MAX_LIST). */
static int attn_parse_list(const char *opt, const char *text, uint64_t min,
			   uint64_t max, uint32_t *out, uint32_t *n)
{
	char item[32];

	*n = 0;
	for (const char *p = text; *p;) {
		size_t len = strcspn(p, ",");
		uint64_t v;

		if (*n == MAX_LIST || !len || len >= sizeof(item))
			return qvk_tool_usage_error(BENCH, "%s: at most %u "
						    "comma-separated numbers",
						    opt, MAX_LIST);
		memcpy(item, p, len);
		item[len] = 0;
		if (!qvk_tool_parse_u64(BENCH, opt, item, min, max, &v))
			return 2;
		out[(*n)++] = (uint32_t)v;
		p += len + (p[len] == ',');
	}
	return *n ? 0 : qvk_tool_usage_error(BENCH, "%s is empty", opt);
}

static int attn_parse(int argc, char **argv, struct attn_opts *o)
{
	static const uint32_t def_ctx[] = { 512, 2048, 4096 };
	static const uint32_t def_splits[] = { 2, 4, 8, 16, 32 };
	uint32_t splits[MAX_LIST], n = QVK_ARRAY_SIZE(def_splits);
	uint64_t v;

	*o = (struct attn_opts){ .shape = &attn_shapes[0], .reps = 5,
				 .calls = 4, .n_contexts = 3, .prefill = 128 };
	memcpy(o->contexts, def_ctx, sizeof(def_ctx));
	memcpy(splits, def_splits, sizeof(def_splits));
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
		if (!strcmp(a, "--shape")) {
			o->shape = NULL;
			for (size_t s = 0; s < QVK_ARRAY_SIZE(attn_shapes); s++)
				if (!strcmp(val, attn_shapes[s].name))
					o->shape = &attn_shapes[s];
			if (!o->shape)
				return qvk_tool_usage_error(BENCH, "--shape is "
							    "tinyllama-1.1b, "
							    "llama-2-7b, "
							    "qwen2-0.5b or "
							    "falcon-7b");
		} else if (!strcmp(a, "--contexts")) {
			if (attn_parse_list(a, val, 1, 65536, o->contexts,
					    &o->n_contexts))
				return 2;
		} else if (!strcmp(a, "--splits")) {
			if (attn_parse_list(a, val, 2, 64, splits, &n))
				return 2;
			if (n == MAX_LIST)
				return qvk_tool_usage_error(BENCH, "--splits: at "
							    "most %u", MAX_LIST - 1);
		} else if (!strcmp(a, "--prefill")) {
			if (!qvk_tool_parse_u64(BENCH, a, val, 0, 1024, &v))
				return 2;
			if (v == 1)
				return qvk_tool_usage_error(BENCH, "--prefill: 0 "
							    "or 2..1024 tokens");
			o->prefill = (uint32_t)v;
		} else if (!strcmp(a, "--reps")) {
			if (!qvk_tool_parse_u64(BENCH, a, val, 1, 100, &v))
				return 2;
			o->reps = (uint32_t)v;
		} else {
			return qvk_tool_usage_error(BENCH, "unknown option '%s'", a);
		}
	}
	for (uint32_t c = 0; o->prefill && c < o->n_contexts; c++)
		if (o->contexts[c] < o->prefill)
			return qvk_tool_usage_error(BENCH, "--prefill %u is more "
						    "than the context %u",
						    o->prefill, o->contexts[c]);
	/* The one-pass kernel first: every ratio is against it. */
	o->splits[0] = 0;
	memcpy(o->splits + 1, splits, n * sizeof(*splits));
	o->n_splits = n + 1;
	return 0;
}

static void attn_print(const struct attn_opts *o,
		       const struct qvk_attention_timing *t, uint32_t tuned,
		       const char *choice,
		       const struct qvk_attention_prefill_timing *pt,
		       const char *ptuned)
{
	const uint32_t nk = QVK_ATTENTION_PREFILL_KERNELS;
	uint32_t ns = o->n_splits;

	if (o->json) {
		printf("{\"shape\": \"%s\", \"n_heads\": %u, \"n_kv_heads\": %u, "
		       "\"head_dim\": %u, \"data\": \"synthetic\", "
		       "\"tuned_splits\": %u, \"choice\": ", o->shape->name,
		       o->shape->heads, o->shape->kv, o->shape->hd, tuned);
		qvk_tool_json_string(stdout, choice, strlen(choice));
		printf(", \"results\": [");
		for (uint32_t i = 0; i < o->n_contexts * ns; i++)
			printf("%s{\"context\": %u, \"splits\": %u, \"ms\": %.4f, "
			       "\"speedup_vs_one_pass\": %.3f, \"max_abs_err\": "
			       "%.3g}", i ? ", " : "", t[i].context, t[i].splits,
			       t[i].ms, t[i - i % ns].ms / t[i].ms,
			       t[i].max_abs_err);
		printf("]");
		if (o->prefill) {
			printf(", \"prefill_tokens\": %u, \"prefill_choice\": "
			       "\"%s\", \"prefill\": [", o->prefill, ptuned);
			for (uint32_t i = 0, n = 0; i < o->n_contexts * nk; i++) {
				if (!pt[i].runs)
					continue;
				printf("%s{\"context\": %u, \"kernel\": \"%s\", "
				       "\"ms\": %.4f, \"speedup_vs_onepass\": "
				       "%.3f, \"max_abs_err\": %.3g}", n++ ? ", " : "",
				       pt[i].context, pt[i].kernel, pt[i].ms,
				       pt[i - i % nk].ms / pt[i].ms,
				       pt[i].max_abs_err);
			}
			printf("]");
		}
		printf("}\n");
		return;
	}
	printf("decode attention, %s heads (%u query / %u kv, head_dim %u), "
	       "fp16 cache, one token; ms per token (best of %u x %u calls) "
	       "and speed-up over one pass\n", o->shape->name, o->shape->heads,
	       o->shape->kv, o->shape->hd, o->reps, o->calls);
	printf("%8s %10s", "context", "one pass");
	for (uint32_t s = 1; s < ns; s++) {
		char h[24];

		snprintf(h, sizeof(h), "split x%u", o->splits[s]);
		printf(" %17s", h);
	}
	printf("\n");
	for (uint32_t c = 0; c < o->n_contexts; c++) {
		const struct qvk_attention_timing *row = &t[c * ns];

		printf("%8u %10.3f", row[0].context, row[0].ms);
		for (uint32_t s = 1; s < ns; s++)
			printf(" %9.3f (%4.2fx)", row[s].ms, row[0].ms / row[s].ms);
		printf("\n");
	}
	printf("decode of this shape on this device: %s (%s)\n",
	       tuned ? "split-KV" : "one pass", choice);
	if (tuned)
		printf("  %u splits per kv head\n", tuned);
	if (!o->prefill)
		return;
	printf("\nprefill attention, %u tokens after a cached prefix (the last "
	       "attends the context); ms per chunk (best of %u) and speed-up "
	       "over attention.comp (onepass)\n%8s", o->prefill,
	       QVK_MIN(o->reps, PREFILL_REPS), "context");
	for (uint32_t k = 0; k < nk; k++)
		printf(" %19s", pt[k].kernel);
	printf("\n");
	for (uint32_t c = 0; c < o->n_contexts; c++) {
		const struct qvk_attention_prefill_timing *row = &pt[c * nk];

		printf("%8u", row[0].context);
		for (uint32_t k = 0; k < nk; k++)
			if (row[k].runs)
				printf(" %11.3f (%4.2fx)", row[k].ms,
				       row[0].ms / row[k].ms);
			else
				printf(" %19s", "does not apply");
		printf("\n");
	}
	printf("prefill on this device: %s\n", ptuned);
}

int qvk_bench_attention(int argc, char **argv)
{
	struct qvk_attention_timing *t = NULL;
	struct qvk_attention_prefill_timing *pt = NULL;
	const char *ptuned = "";
	struct qvk_device_options dopt = { 0 };
	struct qvk_device *dev = NULL;
	struct qvk_attention_bench_desc d;
	struct attn_opts o;
	uint32_t tuned = 0;
	struct qvk_ctx *ctx;
	char choice[600];
	qvk_status st;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") && strcmp(argv[i], "-h"))
			continue;
		printf("usage: qvk bench attention [--shape NAME] [--contexts "
		       "LIST] [--splits LIST]\n"
		       "                           [--prefill N] [--reps N] "
		       "[--json]\n\n"
		       "Times decode attention of one token over a random fp16 "
		       "KV cache: the one-pass\nkernel (one workgroup per kv "
		       "head over the whole context) against split-KV\n"
		       "(flash-decoding: the context cut into splits that run "
		       "in parallel, then merged),\nas ratios measured in the "
		       "same run. Each kernel is checked against the C\n"
		       "reference first. Also prints what decode of the shape "
		       "uses on this device.\n\n"
		       "Then a prefill chunk of N tokens after a cached prefix, "
		       "the last attending each\ncontext: attention.comp (the "
		       "cache read once per token) against\nattention_prefill."
		       "comp (subgroup shuffles, where they exist) and the tiled "
		       "kernel\n(K/V tiles in shared memory, built for GPUs) at "
		       "its two tile sizes.\n\n"
		       "  --shape NAME     tinyllama-1.1b (32/4 heads of 64, "
		       "default), llama-2-7b (32/32\n"
		       "                   of 128), qwen2-0.5b (14/2 of 64) or "
		       "falcon-7b (71/1 of 64)\n"
		       "  --contexts LIST  positions attended, 1..65536 (default "
		       "512,2048,4096)\n"
		       "  --splits LIST    splits per kv head, 2..64 (default "
		       "2,4,8,16,32)\n"
		       "  --prefill N      prefill chunk, 2..1024 tokens, at most "
		       "every context; 0: no\n"
		       "                   prefill rows (default 128)\n"
		       "  --reps N         turns of every kernel, the best counts, "
		       "1..100 (default 5;\n"
		       "                   prefill at most %u)\n"
		       "  --json           one JSON object on stdout instead of "
		       "the table\n", PREFILL_REPS);
		return 0;
	}
	rc = attn_parse(argc, argv, &o);
	if (rc)
		return rc;
	ctx = qvk_tool_ctx(BENCH);
	if (!ctx)
		return 1;
	t = calloc((size_t)o.n_contexts * o.n_splits, sizeof(*t));
	pt = calloc((size_t)o.n_contexts * QVK_ATTENTION_PREFILL_KERNELS,
		    sizeof(*pt));
	if (!t || !pt) {
		rc = qvk_tool_fail(ctx, QVK_ERR_NO_MEMORY, BENCH, "results");
		goto out_destroy;
	}
	d = (struct qvk_attention_bench_desc){
		.n_heads = o.shape->heads, .n_kv_heads = o.shape->kv,
		.head_dim = o.shape->hd, .contexts = o.contexts,
		.n_contexts = o.n_contexts, .splits = o.splits,
		.n_splits = o.n_splits, .reps = o.reps, .calls = o.calls,
	};
	st = qvk_device_create(ctx, &dopt, &dev);
	if (st == QVK_OK)
		st = qvk_attention_bench(dev, &d, t, &tuned);
	if (st == QVK_OK)
		st = qvk_attention_describe(dev, choice, sizeof(choice));
	if (st != QVK_OK) {
		rc = qvk_tool_fail(ctx, st, BENCH, "decode attention");
		goto out_destroy;
	}
	d.reps = QVK_MIN(o.reps, PREFILL_REPS);
	d.calls = 1;
	if (o.prefill)
		st = qvk_attention_prefill_bench(dev, &d, o.prefill, pt, &ptuned);
	if (st != QVK_OK) {
		rc = qvk_tool_fail(ctx, st, BENCH, "prefill attention");
		goto out_destroy;
	}
	attn_print(&o, t, tuned, choice, pt, ptuned);
	rc = 0;
out_destroy:
	free(t);
	free(pt);
	qvk_device_destroy(dev);
	qvk_ctx_destroy(ctx);
	return rc;
}
