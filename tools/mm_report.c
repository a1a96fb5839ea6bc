/* SPDX-License-Identifier: MIT */
/* qvk bench matmul's report: the ratios of one run, or its JSON. */
#include <stdio.h>
#include <string.h>

#include "bench_matmul.h"

static const struct qvk_result *qvk_find(const struct qvk_bench_state *bs,
					 const char *model, uint32_t m,
					 uint32_t n, uint32_t k,
					 enum qvk_kernel kern, const char *path,
					 const char *kernels)
{
	for (uint32_t i = 0; i < bs->n_results; i++) {
		const struct qvk_result *r = &bs->results[i];

		if (r->m == m && r->n == n && r->k == k && r->kernel == kern &&
		    !strcmp(r->model, model) && (!path || !strcmp(r->path, path)) &&
		    !strcmp(r->kernels, kernels))
			return r;
	}
	return NULL;
}

/* The targets, as ratios measured in this run. */
void qvk_bench_mm_print_ratios(const struct qvk_bench_state *bs,
			       const char *path)
{
	printf("\nratios (%s path; targets: decode w8a8 >= 50%% of read "
	       "bandwidth, w4a8 >= 1.5x w8a8,\n  w8a8 >= 3x f32; prefill "
	       "w8a8 >= 2x f32 GOPS):\n", path);
	for (uint32_t i = 0; i < bs->n_results; i++) {
		const struct qvk_result *r = &bs->results[i], *w4, *f32;

		if (r->kernel != K_W8A8 || strcmp(r->path, path) ||
		    strcmp(r->kernels, "tuned"))
			continue;
		f32 = qvk_find(bs, r->model, r->m, r->n, r->k, K_F32, NULL,
			       "tuned");
		w4 = qvk_find(bs, r->model, r->m, r->n, r->k, K_W4A8, path,
			      "tuned");
		printf("  %-15s m=%-4u %5ux%-5u", r->model, r->m, r->n, r->k);
		if (r->m <= 8)
			printf("  w8a8 %3.0f%% of read", 100 * r->weight_gbps /
								 bs->read_gbps);
		if (w4)
			printf("  w4a8 %.2fx w8a8", r->median_ms / w4->median_ms);
		if (f32)
			printf("  w8a8 %.2fx f32 %s", f32->median_ms / r->median_ms,
			       r->m <= 8 ? "time" : "GOPS");
		putchar('\n');
	}
}

/* Every other pass of the grouped kernels (untuned, tiled) vs the tuned. */
void qvk_bench_mm_print_kernel_ratios(const struct qvk_bench_state *bs)
{
	bool head = false;

	for (uint32_t i = 0; i < bs->n_results; i++) {
		const struct qvk_result *r = &bs->results[i], *t;

		if (!strcmp(r->kernels, "tuned"))
			continue;
		t = qvk_find(bs, r->model, r->m, r->n, r->k, r->kernel, r->path,
			     "tuned");
		if (!t)
			continue;
		if (!head)
			printf("\nother grouped kernels vs the tuned ones "
			       "(time ratio, same run; > 1: tuned faster):\n");
		head = true;
		printf("  %-15s m=%-4u %5ux%-5u %-9s %-8s %-21s %.2fx\n",
		       r->model, r->m, r->n, r->k, qvk_kernel_names[r->kernel],
		       r->path, r->kernels, r->median_ms / t->median_ms);
	}
}

void qvk_bench_mm_print_json(const struct qvk_bench_state *bs,
			     const struct qvk_device_info *info)
{
	printf("{\"device\":\"");
	for (const char *c = info->name; *c; c++)
		printf(*c == '"' || *c == '\\' ? "\\%c" : "%c", *c);
	printf("\",\"synthetic_weights\":true,\"read_gbps\":%.3f,\"results\":[",
	       bs->read_gbps);
	for (uint32_t i = 0; i < bs->n_results; i++) {
		const struct qvk_result *r = &bs->results[i];

		printf("%s{\"model\":\"%s\",\"kernel\":\"%s\",\"path\":\"%s\","
		       "\"kernels\":\"%s\",\"m\":%u,\"n\":%u,\"k\":%u,\"group\":%u,"
		       "\"median_ms\":%.6f,\"min_ms\":%.6f,\"max_ms\":%.6f,"
		       "\"weight_gbps\":%.4f,\"gops\":%.4f,"
		       "\"read_fraction\":%.4f}",
		       i ? "," : "", r->model, qvk_kernel_names[r->kernel],
		       r->path, r->kernels, r->m, r->n, r->k, r->group, r->median_ms,
		       r->min_ms, r->max_ms, r->weight_gbps, r->gops,
		       r->weight_gbps / bs->read_gbps);
	}
	printf("]}\n");
}

