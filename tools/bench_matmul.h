/* SPDX-License-Identifier: MIT */
/*
 * qvk bench matmul, shared between the runs (bench_matmul.c) and their
 * report (mm_report.c): the results of one invocation.
 */
#ifndef QVK_TOOLS_BENCH_MATMUL_H
#define QVK_TOOLS_BENCH_MATMUL_H

#include <stdbool.h>
#include <stdint.h>

#include <qvk/qvk.h>

struct qvk_shape {
	const char *model;
	uint32_t n, k;
};


enum qvk_kernel { K_F32, K_F16, K_W8A8, K_W4A8, K_W4A8_ASYM, K_Q4_K, K_Q6_K,
		  K_COUNT };

struct qvk_bench_opts {
	bool json, all, quick;
	uint32_t prefill_m, group, reps;
	const char *only; /* model name filter */
};

struct qvk_result {
	const char *model;
	enum qvk_kernel kernel;
	const char *path;
	/* grouped formats: "tuned" (qvk_matmul_create's choice),
	 * "untuned" (the device type's default, what ran before tuning) or
	 * "tiled BMxBN/TMxTN" (prefill forced onto matmul_q_tiled's tile) */
	const char *kernels;
	uint32_t m, n, k, group;
	double median_ms, min_ms, max_ms, weight_gbps, gops;
};

struct qvk_bench_state {
	struct qvk_bench_opts opt;
	struct qvk_ctx *ctx;
	uint64_t rng;
	double read_gbps;
	const char *kernels; /* label of the pass running */
	char tile_labels[8][48]; /* "tiled 64x32/4x2": the tiled passes */
	struct qvk_result *results;
	uint32_t n_results, cap_results;
};

extern const char *const qvk_kernel_names[K_COUNT];

/* The table's ratios: the targets on @path, then every other
 * pass of the grouped kernels against the tuned one. */
void qvk_bench_mm_print_ratios(const struct qvk_bench_state *bs,
			       const char *path);
void qvk_bench_mm_print_kernel_ratios(const struct qvk_bench_state *bs);
void qvk_bench_mm_print_json(const struct qvk_bench_state *bs,
			     const struct qvk_device_info *info);

#endif
