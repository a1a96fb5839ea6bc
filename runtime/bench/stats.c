/* SPDX-License-Identifier: MIT */
/* Median, minimum and maximum of a benchmark's samples. */
#include <math.h>
#include <stdlib.h>

#include <qvk/bench.h>

static int qvk_stats_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

void qvk_stats_summarize(double *x, uint32_t n, struct qvk_stats *out)
{
	out->n = n;
	if (!n) {
		out->median = out->min = out->max = NAN;
		return;
	}
	qsort(x, n, sizeof(*x), qvk_stats_cmp);
	out->min = x[0];
	out->max = x[n - 1];
	out->median = n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}
