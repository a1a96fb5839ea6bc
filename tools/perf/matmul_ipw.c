/* SPDX-License-Identifier: MIT */
/*
 * Instructions per weight of one grouped matmul kernel, for CPU devices
 * (lavapipe), where the decode kernels are bound by instructions: run
 * under callgrind, which counts every instruction of every driver thread
 * between the start and stop requests below (4 decode calls of an N x K
 * matmul, per-token activations; the pipeline is built before).
 *
 *   cc -O1 -Iinclude -o build/matmul_ipw tools/perf/matmul_ipw.c \
 *      -Lbuild -lqvk -Wl,-rpath,$PWD/build
 *   valgrind --tool=callgrind --instr-atstart=no build/matmul_ipw \
 *      matmul_q_texel 2 q8        # "I refs" / (4 * N * K)
 *
 * Not part of make check: valgrind is slow and optional. Needs
 * valgrind (Debian: valgrind, which has the headers).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <valgrind/callgrind.h>

#include <qvk/ctx.h>
#include <qvk/device.h>
#include <qvk/fp16.h>
#include <qvk/matmul.h>
#include <qvk/quant.h>

#define QVK_IPW_N 2048u
#define QVK_IPW_K 2048u
#define QVK_IPW_CALLS 4u

int main(int argc, char **argv)
{
	struct qvk_device_options dopt = { 0 };
	struct qvk_ctx *ctx = NULL;
	struct qvk_device *dev = NULL;
	struct qvk_matmul *mm = NULL;
	struct qvk_qtensor *qt = NULL;
	struct qvk_weight *w = NULL;
	struct qvk_matmul_run *run = NULL;
	struct qvk_qact *qa = NULL;
	float x[QVK_IPW_K];
	enum qvk_qformat fmt;
	uint64_t s = 1;
	int rc = 1;

	if (argc != 4 || (strcmp(argv[3], "q8") && strcmp(argv[3], "q4"))) {
		fprintf(stderr, "usage: matmul_ipw SHADER ROWS_PER_INVOCATION "
			"q8|q4\n");
		return 2;
	}
	fmt = !strcmp(argv[3], "q8") ? QVK_QFORMAT_Q8 : QVK_QFORMAT_Q4;
	if (qvk_ctx_create(&ctx) != QVK_OK)
		return 1;
	if (qvk_device_create(ctx, &dopt, &dev) != QVK_OK ||
	    qvk_matmul_create(dev, &mm) != QVK_OK ||
	    qvk_matmul_set_kernel(mm, argv[1], (uint32_t)atoi(argv[2])) != QVK_OK ||
	    qvk_qtensor_create(ctx, fmt, QVK_IPW_N, QVK_IPW_K, 32, &qt) != QVK_OK)
		goto out;
	for (size_t i = 0; i < (size_t)QVK_IPW_N * qt->row_words; i++) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		qt->qs[i] = (uint32_t)(s >> 32);
	}
	for (size_t i = 0; i < (size_t)QVK_IPW_N * qt->n_groups; i++)
		qt->scales[i] = qvk_fp16_from_f32(0.01f);
	for (uint32_t i = 0; i < QVK_IPW_K; i++)
		x[i] = (float)((i * 7919u) % 200u) / 100.0f - 1.0f;
	if (qvk_weight_upload(mm, qt, &w) != QVK_OK ||
	    qvk_matmul_run_create(mm, &w, 1, 1, &run) != QVK_OK ||
	    qvk_qact_create(ctx, QVK_ACT_PER_TOKEN, 1, QVK_IPW_K, 0, &qa) != QVK_OK ||
	    qvk_quantize_act(ctx, "x", x, qa) != QVK_OK ||
	    qvk_matmul_run_set_input(run, qa, NULL, 1) != QVK_OK ||
	    qvk_matmul_run_exec(run, NULL) != QVK_OK) /* builds the pipeline */
		goto out;
	CALLGRIND_ZERO_STATS;
	CALLGRIND_START_INSTRUMENTATION;
	for (uint32_t i = 0; i < QVK_IPW_CALLS; i++)
		if (qvk_matmul_run_exec(run, NULL) != QVK_OK)
			goto out;
	CALLGRIND_STOP_INSTRUMENTATION;
	printf("%s x%s %s: %u calls of %ux%u (divide callgrind's I refs by "
	       "%.0f)\n", argv[1], argv[2], argv[3], QVK_IPW_CALLS, QVK_IPW_N,
	       QVK_IPW_K, (double)QVK_IPW_CALLS * QVK_IPW_N * QVK_IPW_K);
	rc = 0;
out:
	if (rc)
		fprintf(stderr, "matmul_ipw: %s\n", qvk_ctx_message(ctx));
	qvk_qact_destroy(qa);
	qvk_matmul_run_destroy(run);
	qvk_weight_destroy(w);
	qvk_qtensor_destroy(qt);
	qvk_matmul_destroy(mm);
	qvk_device_destroy(dev);
	qvk_ctx_destroy(ctx);
	return rc;
}
