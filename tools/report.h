/* SPDX-License-Identifier: MIT */
/*
 * The outputs of qvk bench model: the readable table with the ratios issue
 * #12 tracks (report_text.c), JSON in the schema of tools/bench.schema.json
 * (report_json.c), every raw sample as CSV (report_text.c), and a PNG plot
 * through gnuplot (report_plot.c).
 */
#ifndef QVK_TOOLS_REPORT_H
#define QVK_TOOLS_REPORT_H

#include <stdio.h>

#include "model_bench.h"

struct qvk_report {
	const struct qvk_mb_machine *mc;
	const struct qvk_mb_config *cfg;
	const struct qvk_mb_result *results;
	uint32_t n_results;
	double idle_s;           /* idle measured before the run (0: none) */
	int argc;                /* the command line, as run */
	char **argv;
};

/* The machine: device, ceilings, energy sources and idle power. */
void qvk_report_header(FILE *f, const struct qvk_report *rep);
void qvk_report_table(FILE *f, const struct qvk_report *rep);
void qvk_report_json(FILE *f, const struct qvk_report *rep);
void qvk_report_csv(FILE *f, const struct qvk_report *rep);
/*
 * Tokens/s and joules per token by format, as a PNG at @path. Returns
 * false with a message in @why (no gnuplot, a write error).
 */
bool qvk_report_plot(const struct qvk_report *rep, const char *path,
		     char *why, size_t why_len);

/* "q8 g32", "f32", "auto" for the table and the plot. */
void qvk_report_format_label(const struct qvk_mb_result *r, char *out,
			     size_t len);

#endif
