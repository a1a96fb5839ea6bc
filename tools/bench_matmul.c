/* SPDX-License-Identifier: MIT */
/*
 * qvk bench matmul: grouped integer matmuls on real model shapes (weights
 * synthetic: speed does not depend on the values), against the device's
 * own read bandwidth and the fp32/fp16 baselines measured in the same run.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/fp16.h>
#include <qvk/matmul.h>

#include "bench_matmul.h"
#include "tool.h"

const char qvk_bench_matmul_summary[] =
	"W8A8/W4A8/Q4_K/Q6_K matmuls vs read bandwidth and fp32/fp16 (synthetic "
	"weights)";

static const struct qvk_shape qvk_shapes[] = {
	{ "small-768", 768, 768 },      { "small-768", 3072, 768 },
	{ "small-768", 768, 3072 },     { "tinyllama-1.1b", 2048, 2048 },
	{ "tinyllama-1.1b", 5632, 2048 }, { "tinyllama-1.1b", 2048, 5632 },
	{ "tinyllama-1.1b", 32000, 2048 }, { "llama-2-7b", 4096, 4096 },
	{ "llama-2-7b", 11008, 4096 },  { "llama-2-7b", 4096, 11008 },
};

const char *const qvk_kernel_names[K_COUNT] = { "f32", "f16", "w8a8", "w4a8",
						"w4a8_asym", "q4_k", "q6_k" };

static int qvk_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Synthetic quantized weights: random codes, scales and mins of 0.01. */
static qvk_status qvk_synthetic_q(struct qvk_bench_state *bs,
				  enum qvk_qformat fmt, uint32_t n, uint32_t k,
				  struct qvk_qtensor **out)
{
	qvk_status st = qvk_qtensor_create(bs->ctx, fmt, n, k, bs->opt.group,
					   out);
	size_t words, groups;

	if (st != QVK_OK)
		return st;
	words = (size_t)n * (*out)->row_words;
	groups = (size_t)n * (*out)->n_groups;
	for (size_t i = 0; i < words; i++)
		(*out)->qs[i] = (uint32_t)qvk_tool_rand(&bs->rng);
	for (size_t i = 0; i < groups; i++) {
		(*out)->scales[i] = qvk_fp16_from_f32(0.01f);
		if ((*out)->mins)
			(*out)->mins[i] = qvk_fp16_from_f32(-0.08f);
	}
	return QVK_OK;
}

/*
 * Synthetic K-quant weights (GGUF blocks of @type): random bytes, every
 * block's d (and dmin) 2^-12.
 */
static qvk_status qvk_synthetic_kq(struct qvk_bench_state *bs, uint32_t type,
				   uint32_t n, uint32_t k,
				   struct qvk_kqtensor **out)
{
	const struct qvk_type_info *t = qvk_type_info(type);
	size_t count = (size_t)n * (k / t->block_elems), bytes = count * t->block_bytes;
	uint8_t *b = malloc(bytes);
	size_t d_at = type == QVK_GGML_TYPE_Q6_K ? 208 : 0;
	qvk_status st;

	if (!b)
		return QVK_ERR_NO_MEMORY;
	for (size_t i = 0; i < bytes; i++)
		b[i] = (uint8_t)qvk_tool_rand(&bs->rng);
	for (size_t i = 0; i < count; i++) {
		uint8_t *blk = b + i * t->block_bytes + d_at;

		blk[0] = 0x00; /* 0x0c00: 2^-12 as fp16 */
		blk[1] = 0x0c;
		if (type == QVK_GGML_TYPE_Q4_K) { /* dmin too */
			blk[2] = 0x00;
			blk[3] = 0x0c;
		}
	}
	st = qvk_kqtensor_from_gguf(bs->ctx, "w", type, b, bytes, n, k, out);
	free(b);
	return st;
}

static qvk_status qvk_make_weights(struct qvk_bench_state *bs,
				   struct qvk_matmul *mm, enum qvk_kernel kern,
				   uint32_t n, uint32_t k, const float *wf,
				   uint32_t copies, struct qvk_weight **ws)
{
	static const enum qvk_qformat fmts[K_COUNT] = {
		[K_W8A8] = QVK_QFORMAT_Q8, [K_W4A8] = QVK_QFORMAT_Q4,
		[K_W4A8_ASYM] = QVK_QFORMAT_Q4A,
	};
	struct qvk_qtensor *qt = NULL;
	struct qvk_kqtensor *kt = NULL;
	qvk_status st = QVK_OK;

	if (kern >= K_Q4_K)
		st = qvk_synthetic_kq(bs, kern == K_Q4_K ? QVK_GGML_TYPE_Q4_K :
							   QVK_GGML_TYPE_Q6_K,
				      n, k, &kt);
	else if (kern >= K_W8A8)
		st = qvk_synthetic_q(bs, fmts[kern], n, k, &qt);
	for (uint32_t i = 0; st == QVK_OK && i < copies; i++)
		st = kt ? qvk_weight_upload_kq(mm, kt, &ws[i]) :
		     qt ? qvk_weight_upload(mm, qt, &ws[i]) :
			  qvk_weight_upload_float(mm, wf, n, k, kern == K_F16,
						  &ws[i]);
	qvk_qtensor_destroy(qt);
	qvk_kqtensor_destroy(kt);
	return st;
}

static void qvk_add_result(struct qvk_bench_state *bs, struct qvk_result r)
{
	if (bs->n_results == bs->cap_results) {
		uint32_t cap = bs->cap_results ? bs->cap_results * 2 : 64;
		struct qvk_result *grown =
			realloc(bs->results, cap * sizeof(*grown));

		if (!grown)
			return;
		bs->results = grown;
		bs->cap_results = cap;
	}
	bs->results[bs->n_results++] = r;
}

/* One kernel on one shape and token count, timed and recorded. */
static qvk_status qvk_bench_one(struct qvk_bench_state *bs,
				struct qvk_device *dev, struct qvk_matmul *mm,
				enum qvk_kernel kern, const char *path,
				const struct qvk_shape *shape, uint32_t m,
				const float *wf, const float *x,
				const struct qvk_qact *qa,
				const struct qvk_qact *qa_block)
{
	const struct qvk_device_info *info = qvk_device_info(dev);
	struct qvk_weight *ws[192] = { 0 };
	struct qvk_matmul_run *run = NULL;
	uint32_t copies = 1, reps = bs->opt.reps;
	double ms[64], wbytes;
	struct qvk_result r;
	qvk_status st;

	st = qvk_make_weights(bs, mm, kern, shape->n, shape->k, wf, 1, ws);
	if (st != QVK_OK)
		goto out;
	wbytes = (double)qvk_weight_bytes(ws[0]);
	/*
	 * Decode streams weights once per call: rotate through copies worth
	 * at least 768 MiB (a third of the heap at most) so that no cache
	 * holds them. Prefill reuses each weight across m tokens and is
	 * compute-bound: one copy.
	 */
	if (m <= 8) {
		double budget = fmin(768.0 * (1 << 20),
				     (double)info->device_local_heap_bytes / 3);

		copies = (uint32_t)fmax(1, fmin(QVK_ARRAY_SIZE(ws),
						  ceil(budget / wbytes)));
		if (bs->opt.quick)
			copies = (uint32_t)fmin(copies, 4);
	} else {
		reps = reps / 4 > 3 ? reps / 4 : 3;
	}
	st = qvk_make_weights(bs, mm, kern, shape->n, shape->k, wf, copies - 1,
			      ws + 1);
	if (st == QVK_OK)
		st = qvk_matmul_run_create(mm, ws, copies, m, &run);
	if (st == QVK_OK)
		st = qvk_matmul_run_set_input(run, kern >= K_Q4_K ? qa_block :
						   kern >= K_W8A8 ? qa : NULL,
					      kern >= K_W8A8 ? NULL : x, m);
	if (st == QVK_OK)
		st = qvk_matmul_run_exec(run, NULL); /* warm-up */
	if (st == QVK_OK)
		st = qvk_matmul_run_time(run, reps, ms);
	if (st != QVK_OK)
		goto out;
	qsort(ms, reps, sizeof(ms[0]), qvk_cmp_double);
	r = (struct qvk_result){
		.model = shape->model, .kernel = kern, .path = path,
		.kernels = bs->kernels, .m = m,
		.n = shape->n, .k = shape->k,
		/* K-quants: their sub-block */
		.group = kern == K_Q4_K ? 32 : kern == K_Q6_K ? 16 :
			 kern >= K_W8A8 ? (bs->opt.group ? bs->opt.group :
							   shape->k) : 0,
		.median_ms = ms[reps / 2], .min_ms = ms[0],
		.max_ms = ms[reps - 1],
	};
	r.weight_gbps = wbytes / (r.median_ms * 1e6);
	r.gops = 2.0 * m * shape->n * shape->k / (r.median_ms * 1e6);
	qvk_add_result(bs, r);
	if (!bs->opt.json) {
		/* Prefill is compute-bound: a share of read bandwidth says
		 * nothing there (it rounds to 0%). */
		printf("  %-15s m=%-4u %5ux%-5u %-9s %-8s %-7s %9.3f ms  %7.2f "
		       "GB/s ", shape->model, m, shape->n, shape->k,
		       qvk_kernel_names[kern], path,
		       kern >= K_W8A8 && kern < K_Q4_K ? r.kernels : "", r.median_ms,
		       r.weight_gbps);
		if (m <= 8)
			printf("(%3.0f%% of read)", 100 * r.weight_gbps /
							bs->read_gbps);
		else
			printf("%16s", "");
		printf("  %8.2f GOPS  [%u copies]\n", r.gops, copies);
		fflush(stdout);
	}
out:
	qvk_matmul_run_destroy(run);
	for (uint32_t i = 0; i < QVK_ARRAY_SIZE(ws); i++)
		qvk_weight_destroy(ws[i]);
	return st;
}

static int qvk_bench_usage(void)
{
	printf("usage: qvk bench matmul [--json] [--quick] [--all] [--model NAME]\n"
	       "                        [--group 32|64|128|0] [--prefill-m M] "
	       "[--reps N]\n\n"
	       "Times W8A8, W4A8, W4A8-asym, Q4_K and Q6_K matmuls (both "
	       "integer paths:\nOpSDot and the fallback) and the fp32/fp16 "
	       "baselines on TinyLlama-1.1B, Llama-2-7B\nand 768-wide shapes, "
	       "decode (m=1) and prefill, with synthetic weights; decode\n"
	       "weights rotate through >= 768 MiB of copies so that no cache "
	       "holds them.\nThe device's read bandwidth is measured first, "
	       "in the same run. Times are GPU\ntimestamps, the median of the "
	       "runs after a warm-up.\n\n"
	       "  --json          one JSON object on stdout instead of the table\n"
	       "  --quick         at most 4 copies of each decode weight, 3 "
	       "bandwidth runs\n"
	       "  --all           also prefill of the Llama-2-7B and 32000-row "
	       "classifier shapes,\n"
	       "                  and of every tile of matmul_q_tiled\n"
	       "                  (minutes on a CPU device)\n"
	       "  --model NAME    only the shapes of NAME: small-768, "
	       "tinyllama-1.1b, llama-2-7b\n"
	       "  --group G       32|64|128|0 (0: one group per row; default "
	       "32)\n"
	       "  --prefill-m M   prefill tokens, 9..4096 (default 128)\n"
	       "  --reps N        decode runs, 3..64 (default 7; prefill: N/4, "
	       "at least 3)\n\n"
	       "W8A8/W4A8/W4A8-asym run twice: on the kernels tuned for the "
	       "device (qvk info)\nand on the device type's default "
	       "(\"untuned\"); their prefill also on the shared-\nmemory "
	       "kernel matmul_q_tiled (\"tiled BMxBN/TMxTN\": the device's "
	       "largest tile,\nwith --all each tile it can run); all with "
	       "their time ratios to the tuned ones.\n");
	return 0;
}

static bool qvk_bench_parse(int argc, char **argv, struct qvk_bench_opts *o)
{
	uint64_t v;

	*o = (struct qvk_bench_opts){ .prefill_m = 128, .group = 32,
				      .reps = 7 };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--json")) {
			o->json = true;
		} else if (!strcmp(a, "--quick")) {
			o->quick = true;
		} else if (!strcmp(a, "--all")) {
			o->all = true;
		} else if (!strcmp(a, "--model") && val) {
			bool known = false;

			for (size_t s = 0; s < QVK_ARRAY_SIZE(qvk_shapes); s++)
				known |= !strcmp(val, qvk_shapes[s].model);
			if (!known) {
				qvk_tool_usage_error("bench matmul", "--model '%s' "
						     "is none of small-768, "
						     "tinyllama-1.1b, llama-2-7b",
						     val);
				return false;
			}
			o->only = val;
			i++;
		} else if (!strcmp(a, "--group") && val) {
			if (!qvk_tool_parse_u64("bench matmul", a, val, 0, 128,
						&v) ||
			    (v && v != 32 && v != 64 && v != 128)) {
				if (v && v != 32 && v != 64 && v != 128)
					qvk_tool_usage_error("bench matmul",
							     "--group must be "
							     "32, 64, 128 or 0");
				return false;
			}
			o->group = (uint32_t)v;
			i++;
		} else if (!strcmp(a, "--prefill-m") && val) {
			if (!qvk_tool_parse_u64("bench matmul", a, val, 9, 4096,
						&v))
				return false;
			o->prefill_m = (uint32_t)v;
			i++;
		} else if (!strcmp(a, "--reps") && val) {
			if (!qvk_tool_parse_u64("bench matmul", a, val, 3, 64,
						&v))
				return false;
			o->reps = (uint32_t)v;
			i++;
		} else {
			qvk_tool_usage_error("bench matmul", "unknown or "
					     "incomplete argument '%s'", a);
			return false;
		}
	}
	return true;
}

/*
 * Every shape and token count for the kernels in [first, last]; @tile > 0:
 * prefill only, forced onto matmul_q_tiled's tile @tile, where the device
 * has that many (*n_tiles: how many it has).
 */
static qvk_status qvk_bench_kernels(struct qvk_bench_state *bs,
				    struct qvk_device *dev, const char *path,
				    enum qvk_kernel first, enum qvk_kernel last,
				    bool untuned, uint32_t tile,
				    uint32_t *n_tiles)
{
	struct qvk_matmul *mm;
	qvk_status st = qvk_matmul_create(dev, &mm);
	char desc[1536], *label = bs->tile_labels[tile ? tile - 1 : 0];

	bs->kernels = untuned ? "untuned" : "tuned";
	if (st == QVK_OK && untuned)
		st = qvk_matmul_set_kernel(mm, NULL, 0);
	if (st == QVK_OK && n_tiles)
		*n_tiles = qvk_matmul_tile_count(mm);
	if (st == QVK_OK && tile) {
		if (tile > qvk_matmul_tile_count(mm) ||
		    tile > QVK_ARRAY_SIZE(bs->tile_labels)) {
			qvk_matmul_destroy(mm);
			return QVK_OK;
		}
		st = qvk_matmul_set_prefill(mm, tile);
		memcpy(label, "tiled ", 7);
		qvk_matmul_tile_name(mm, tile, label + 6,
				     sizeof(bs->tile_labels[0]) - 6);
		bs->kernels = label;
	}
	if (st == QVK_OK && !bs->opt.json && tile) {
		printf("prefill forced onto matmul_q_tiled, tile %s\n", label + 6);
	} else if (st == QVK_OK && !bs->opt.json) {
		qvk_matmul_describe(mm, desc, sizeof(desc));
		printf("%s grouped kernels: %s\n", bs->kernels, desc);
	}

	for (size_t s = 0; st == QVK_OK && s < QVK_ARRAY_SIZE(qvk_shapes); s++) {
		const struct qvk_shape *sh = &qvk_shapes[s];
		uint32_t ms[2] = { 1, bs->opt.prefill_m };
		float *wf = NULL, *x = NULL;
		struct qvk_qact *qa = NULL, *qa_block = NULL;

		if (bs->opt.only && strcmp(bs->opt.only, sh->model))
			continue;
		if (first == K_F32)
			wf = malloc((size_t)sh->n * sh->k * sizeof(*wf));
		x = malloc((size_t)bs->opt.prefill_m * sh->k * sizeof(*x));
		if ((first == K_F32 && !wf) || !x)
			st = QVK_ERR_NO_MEMORY;
		for (size_t i = 0; wf && i < (size_t)sh->n * sh->k; i++)
			wf[i] = (float)((int)(qvk_tool_rand(&bs->rng) % 2001) - 1000) *
				1e-5f;
		for (size_t i = 0; x && i < (size_t)bs->opt.prefill_m * sh->k; i++)
			x[i] = (float)((int)(qvk_tool_rand(&bs->rng) % 2001) - 1000) *
			       1e-3f;
		for (int mi = 0; st == QVK_OK && mi < 2; mi++) {
			/*
			 * Prefill of the Llama-2-7B and classifier shapes
			 * takes minutes on a CPU device: only with --all.
			 */
			if (mi == 1 && !bs->opt.all &&
			    (!strcmp(sh->model, "llama-2-7b") || sh->n > 16384))
				continue;
			if (mi == 0 && tile)
				continue;
			qvk_qact_destroy(qa);
			qvk_qact_destroy(qa_block);
			qa = qa_block = NULL;
			st = qvk_qact_create(bs->ctx, QVK_ACT_PER_TOKEN, ms[mi],
					     sh->k, 0, &qa);
			if (st == QVK_OK)
				st = qvk_quantize_act(bs->ctx, "x", x, qa);
			/* K-quants read activations per 32-block */
			if (st == QVK_OK)
				st = qvk_qact_create(bs->ctx, QVK_ACT_PER_BLOCK32,
						     ms[mi], sh->k, 0, &qa_block);
			if (st == QVK_OK)
				st = qvk_quantize_act(bs->ctx, "x", x, qa_block);
			for (enum qvk_kernel kn = first; st == QVK_OK && kn <= last;
			     kn++)
				st = qvk_bench_one(bs, dev, mm, kn, path, sh,
						   ms[mi], wf, x, qa, qa_block);
		}
		qvk_qact_destroy(qa);
		qvk_qact_destroy(qa_block);
		free(wf);
		free(x);
	}
	qvk_matmul_destroy(mm);
	return st;
}

int qvk_bench_matmul(int argc, char **argv)
{
	struct qvk_bench_state bs = { .rng = 0x5eed };
	struct qvk_device_options dopt = { 0 };
	const struct qvk_device_info *info;
	struct qvk_device *dev = NULL;
	const char *path;
	uint32_t n_tiles = 0;
	uint64_t read_bytes;
	qvk_status st;
	int rc = 0;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return qvk_bench_usage();
	if (!qvk_bench_parse(argc, argv, &bs.opt))
		return 2;
	bs.ctx = qvk_tool_ctx("bench matmul");
	if (!bs.ctx)
		return 1;
	st = qvk_device_create(bs.ctx, &dopt, &dev);
	if (st != QVK_OK) {
		rc = qvk_tool_fail(bs.ctx, st, "bench matmul", "device");
		goto out;
	}
	info = qvk_device_info(dev);
	read_bytes = info->device_local_heap_bytes / 4 < (512ull << 20) ?
			     info->device_local_heap_bytes / 4 :
			     512ull << 20;
	st = qvk_device_read_bandwidth(dev, read_bytes,
				       bs.opt.quick ? 3 : 7, &bs.read_gbps);
	if (st != QVK_OK) {
		rc = qvk_tool_fail(bs.ctx, st, "bench matmul", "read bandwidth");
		goto out;
	}
	if (!bs.opt.json)
		printf("device: %s\nread bandwidth: %.2f GB/s (streaming-read "
		       "kernel over %.0f MiB, best of three access patterns\n"
		       "through storage and texel buffers)\nweights: "
		       "synthetic, group %u; times: GPU timestamps, median\n\n",
		       info->name, bs.read_gbps, (double)read_bytes / (1 << 20),
		       bs.opt.group);
	path = qvk_device_uses_int_dot(dev) ? "intdot" : "fallback";
	/* Baselines and the integer kernels on the device's chosen path. */
	st = qvk_bench_kernels(&bs, dev, path, K_F32, K_Q6_K, false, 0,
			       &n_tiles);
	/* The grouped formats again on the kernels they ran before tuning. */
	if (st == QVK_OK)
		st = qvk_bench_kernels(&bs, dev, path, K_W8A8, K_W4A8_ASYM, true,
				       0, NULL);
	/*
	 * And their prefill on the shared-memory kernel: its first tile (the
	 * device's largest), every tile with --all (minutes on a CPU device).
	 */
	for (uint32_t t = 1; st == QVK_OK && t <= (bs.opt.all ? n_tiles : 1);
	     t++)
		st = qvk_bench_kernels(&bs, dev, path, K_W8A8, K_W4A8_ASYM,
				       false, t, NULL);
	/* The other integer path, where the device has integer dot product. */
	if (st == QVK_OK && info->int_dot) {
		bool was_intdot = qvk_device_uses_int_dot(dev);

		qvk_device_destroy(dev);
		dopt.no_int_dot = was_intdot;
		st = qvk_device_create(bs.ctx, &dopt, &dev);
		if (st == QVK_OK)
			st = qvk_bench_kernels(&bs, dev, was_intdot ? "fallback" :
								     "intdot",
					       K_W8A8, K_Q6_K, false, 0, NULL);
	}
	if (st != QVK_OK) {
		rc = qvk_tool_fail(bs.ctx, st, "bench matmul", "benchmark");
		goto out;
	}
	if (bs.opt.json) {
		qvk_bench_mm_print_json(&bs, qvk_device_info(dev));
	} else {
		qvk_bench_mm_print_ratios(&bs, "intdot");
		qvk_bench_mm_print_ratios(&bs, "fallback");
		qvk_bench_mm_print_kernel_ratios(&bs);
	}
out:
	free(bs.results);
	qvk_device_destroy(dev);
	qvk_ctx_destroy(bs.ctx);
	return rc;
}
