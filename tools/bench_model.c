/* SPDX-License-Identifier: MIT */
/*
 * qvk bench model (also plain `qvk bench -m ...`): prefill and decode
 * tokens/s, time to first token, device memory and joules per token, per
 * model and weight format, against the roofline of ceilings measured in
 * the same run. Parses, sets up the machine, runs model_bench.c for each
 * model and format, and hands the results to the writers in report_*.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"
#include "synth_model.h"
#include "tool.h"

const char qvk_bench_model_summary[] =
	"tokens/s, TTFT, memory, J/token per model and format vs the roofline "
	"(qvk bench -m ...)";

#define QVK_BM_MAX_MODELS 16
#define QVK_BM_MAX_FORMATS 8

struct qvk_bm_args {
	const char *models[QVK_BM_MAX_MODELS];
	uint32_t n_models;
	struct qvk_synth_shape shapes[QVK_BM_MAX_MODELS];
	uint32_t n_shapes;
	enum qvk_weight_format formats[QVK_BM_MAX_FORMATS];
	uint32_t n_formats;
	struct qvk_mb_config cfg;
	double idle_s;
	const char *tokenizer, *save_gguf;
	bool json;
	const char *json_path, *csv_path, *plot_path;
};

static int qvk_bm_usage(void)
{
	printf("usage: qvk bench -m MODEL [-m MODEL2 ...] [--synthetic SHAPE ...]\n"
	       "                 [--formats f32,f16,q8,q4,q4a,auto] [-p 128] "
	       "[-n 128] [-r 5]\n"
	       "                 [--group 32|64|128|0] [--keep LIST] [--kv-f32] "
	       "[--profile]\n"
	       "                 [--idle-s 5] [--max-window-s 60] [--json [FILE]] "
	       "[--csv [FILE]]\n"
	       "                 [--plot FILE.png]\n"
	       "       qvk bench model      (no arguments, as qvk bench all "
	       "runs it: --synthetic 110m\n"
	       "                             -p 64 -n 32 -r 3)\n"
	       "       qvk bench --synthetic SHAPE --formats F -t TOKENIZER "
	       "--save-gguf OUT.gguf\n\n"
	       "For each model and format: a warm-up, then -r repetitions of "
	       "prefill of -p\ntokens and decode of -n tokens (greedy), each "
	       "run timed; median [min, max] of\nprefill and decode tokens/s, "
	       "time to first token and peak device memory.\n"
	       "Where an energy source exists (qvk energy lists them): idle "
	       "power first\n(--idle-s, 0: none), then joules per token per "
	       "domain with and without idle\npower, each with its error "
	       "bound; a phase shorter than 20 update periods of\nits source "
	       "is repeated inside its window until it is not (up to "
	       "--max-window-s,\nthen flagged). Elsewhere the energy fields "
	       "are null with the reason.\n"
	       "The roofline: the device's read bandwidth and integer-dot / "
	       "fp32 peaks are\nmeasured first, in the same run; decode is "
	       "judged by its bytes per token\n(weights + KV cache), prefill "
	       "by its operations.\n\n"
	       "  --synthetic SHAPE  random weights of a real shape (%s,\n"
	       "                     or DIM,LAYERS,HIDDEN,HEADS,KVHEADS,VOCAB), "
	       "labelled synthetic;\n"
	       "                     shapes that do not fit the device are "
	       "skipped with the reason\n"
	       "  --formats LIST     default q8,q4; auto: as the file stores "
	       "them\n"
	       "  --json [FILE]      JSON (tools/bench.schema.json) to FILE, "
	       "or instead of the\n"
	       "                     table on stdout\n"
	       "  --csv [FILE]       every raw sample (runs and energy "
	       "windows), same rule\n"
	       "  --plot FILE.png    tokens/s and J/token per format (needs "
	       "gnuplot)\n"
	       "  --save-gguf OUT    write the synthetic model as a GGUF file "
	       "with TOKENIZER's\n"
	       "                     vocabulary (for llama.cpp; "
	       "tools/bench-peers.sh) and stop\n",
	       qvk_synth_shape_names);
	return 0;
}

static bool qvk_bm_formats(const char *list, struct qvk_bm_args *a)
{
	char buf[128], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", list);
	a->n_formats = 0;
	for (char *f = strtok_r(buf, ",", &save); f; f = strtok_r(NULL, ",", &save)) {
		if (a->n_formats == QVK_BM_MAX_FORMATS ||
		    !qvk_weight_format_parse(f, &a->formats[a->n_formats])) {
			qvk_tool_usage_error("bench", "--formats: '%s' is not one "
					     "of f32, f16, q8, q4, q4a, auto "
					     "(at most %u)", f, QVK_BM_MAX_FORMATS);
			return false;
		}
		a->n_formats++;
	}
	if (!a->n_formats)
		qvk_tool_usage_error("bench", "--formats: empty list");
	return a->n_formats > 0;
}

/* An optional FILE after --json / --csv: the next word unless an option. */
static const char *qvk_bm_optional_file(int argc, char **argv, int *i)
{
	if (*i + 1 < argc && argv[*i + 1][0] != '-')
		return argv[++*i];
	return NULL;
}

static bool qvk_bm_parse(int argc, char **argv, struct qvk_bm_args *a)
{
	char why[256];
	uint64_t v;
	double d;

	memset(a, 0, sizeof(*a));
	a->cfg = (struct qvk_mb_config){ .prefill = 128, .decode = 128,
					 .reps = 5, .group = 32,
					 .max_window_s = 60 };
	a->idle_s = 5;
	a->formats[0] = QVK_WEIGHTS_Q8;
	a->formats[1] = QVK_WEIGHTS_Q4;
	a->n_formats = 2;
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(o, "--json")) {
			a->json = true;
			a->json_path = qvk_bm_optional_file(argc, argv, &i);
			continue;
		}
		if (!strcmp(o, "--csv")) {
			a->csv_path = qvk_bm_optional_file(argc, argv, &i);
			if (!a->csv_path)
				a->csv_path = "-";
			continue;
		}
		if (!strcmp(o, "--kv-f32") || !strcmp(o, "--profile")) {
			*(o[2] == 'k' ? &a->cfg.kv_f32 : &a->cfg.profile) = true;
			continue;
		}
		if (!val)
			return (qvk_tool_usage_error("bench", "unknown or incomplete "
						    "argument '%s'", o), false);
		i++;
		if (!strcmp(o, "-m")) {
			if (a->n_models == QVK_BM_MAX_MODELS)
				return (qvk_tool_usage_error("bench", "at most %u -m",
							    QVK_BM_MAX_MODELS), false);
			a->models[a->n_models++] = val;
		} else if (!strcmp(o, "--synthetic")) {
			if (a->n_shapes == QVK_BM_MAX_MODELS)
				return (qvk_tool_usage_error("bench", "at most %u "
							    "--synthetic",
							    QVK_BM_MAX_MODELS), false);
			if (!qvk_synth_shape_parse(val, &a->shapes[a->n_shapes],
						   why, sizeof(why)))
				return (qvk_tool_usage_error("bench", "--synthetic: "
							    "%s", why), false);
			a->n_shapes++;
		} else if (!strcmp(o, "--formats")) {
			if (!qvk_bm_formats(val, a))
				return false;
		} else if (!strcmp(o, "-p") || !strcmp(o, "-n")) {
			if (!qvk_tool_parse_u64("bench", o, val, 1, 8192, &v))
				return false;
			*(o[1] == 'p' ? &a->cfg.prefill : &a->cfg.decode) =
				(uint32_t)v;
		} else if (!strcmp(o, "-r")) {
			if (!qvk_tool_parse_u64("bench", o, val, 1, 100, &v))
				return false;
			a->cfg.reps = (uint32_t)v;
		} else if (!strcmp(o, "--group")) {
			if (!qvk_tool_parse_u64("bench", o, val, 0, 128, &v))
				return false;
			if (v && v != 32 && v != 64 && v != 128)
				return (qvk_tool_usage_error("bench", "--group must "
							    "be 32, 64, 128 or "
							    "0"), false);
			a->cfg.group = (uint32_t)v;
		} else if (!strcmp(o, "--keep")) {
			a->cfg.keep = val;
		} else if (!strcmp(o, "--idle-s")) {
			if (!qvk_tool_parse_double("bench", o, val, 0, 3600, &a->idle_s))
				return false;
		} else if (!strcmp(o, "--max-window-s")) {
			if (!qvk_tool_parse_double("bench", o, val, 0, 3600, &d))
				return false;
			a->cfg.max_window_s = d;
		} else if (!strcmp(o, "--plot")) {
			a->plot_path = val;
		} else if (!strcmp(o, "-t")) {
			a->tokenizer = val;
		} else if (!strcmp(o, "--save-gguf")) {
			a->save_gguf = val;
		} else {
			return (qvk_tool_usage_error("bench", "unknown argument "
						    "'%s'", o), false);
		}
	}
	/* Nothing at all (qvk bench all): the quick synthetic set. */
	if (argc == 1) {
		qvk_synth_shape_parse("110m", &a->shapes[a->n_shapes++], why,
				      sizeof(why));
		a->cfg.prefill = 64;
		a->cfg.decode = 32;
		a->cfg.reps = 3;
	}
	if (!a->n_models && !a->n_shapes)
		return (qvk_tool_usage_error("bench", "no model: give -m MODEL or "
					    "--synthetic SHAPE (qvk bench "
					    "--help)"), false);
	if (a->json && !a->json_path && a->csv_path && !strcmp(a->csv_path, "-"))
		return (qvk_tool_usage_error("bench", "--json and --csv cannot "
					    "both go to stdout"), false);
	if (a->save_gguf && (a->n_shapes != 1 || a->n_models ||
			     a->n_formats != 1 || !a->tokenizer))
		return (qvk_tool_usage_error("bench", "--save-gguf needs exactly "
					    "one --synthetic, one format and "
					    "-t TOKENIZER"), false);
	return true;
}

/* --save-gguf: the synthetic model as a file llama.cpp can run too. */
static int qvk_bm_save(struct qvk_ctx *ctx, const struct qvk_bm_args *a)
{
	const struct qvk_synth_shape *sh = &a->shapes[0];
	enum qvk_ggml_type type = qvk_synth_type(a->formats[0], 32);
	struct qvk_tokenizer *tok = NULL;
	struct qvk_model *m = NULL;
	qvk_status st;
	int rc = 1;

	if (a->formats[0] == QVK_WEIGHTS_AUTO || a->cfg.group != 32) {
		fprintf(stderr, "qvk bench: --save-gguf writes GGUF's own types: "
			"f32, f16, q8 (Q8_0), q4 (Q4_0) or q4a (Q4_1), group 32\n");
		return 2;
	}
	st = qvk_tokenizer_load(ctx, a->tokenizer, &tok);
	if (st != QVK_OK) {
		rc = qvk_tool_fail(ctx, st, "bench", a->tokenizer);
		goto out;
	}
	if (qvk_tokenizer_vocab_size(tok) != sh->p.vocab_size) {
		fprintf(stderr, "qvk bench: %s has %u tokens, shape %s has a "
			"vocabulary of %u\n", a->tokenizer,
			qvk_tokenizer_vocab_size(tok), sh->name, sh->p.vocab_size);
		goto out;
	}
	m = qvk_synth_create(&sh->p, type, 0x51);
	if (!m) {
		rc = qvk_tool_fail(ctx, QVK_ERR_NO_MEMORY, "bench", sh->name);
		goto out;
	}
	st = qvk_synth_save(ctx, m, tok, a->save_gguf);
	if (st != QVK_OK) {
		rc = qvk_tool_fail(ctx, st, "bench", a->save_gguf);
		goto out;
	}
	fprintf(stderr, "qvk bench: wrote %s: synthetic %s, random %s weights\n",
		a->save_gguf, sh->name, qvk_ggml_type_name(type));
	rc = 0;
out:
	qvk_synth_destroy(m);
	qvk_tokenizer_destroy(tok);
	return rc;
}

struct qvk_bm_progress {
	bool tty;
	char prefix[400];
};

static void qvk_bm_progress(void *user, const char *line, bool minor)
{
	struct qvk_bm_progress *pg = user;

	if (pg->tty)
		fprintf(stderr, "\r\033[K%s %s", pg->prefix, line);
	else if (!minor)
		fprintf(stderr, "%s %s\n", pg->prefix, line);
	fflush(stderr);
}

static void qvk_bm_progress_done(struct qvk_bm_progress *pg)
{
	if (pg->tty)
		fprintf(stderr, "\r\033[K");
}

/* Device (and, unified, host) memory a synthetic model needs, roughly. */
static bool qvk_bm_synth_fits(const struct qvk_mb_machine *mc,
			      const struct qvk_synth_shape *sh,
			      enum qvk_weight_format f, uint32_t group,
			      char *why, size_t len)
{
	uint64_t host = qvk_synth_bytes(&sh->p, qvk_synth_type(f, group)),
		 dev = qvk_synth_bytes(&sh->p, qvk_synth_type(f, 32)),
		 avail = (uint64_t)sysconf(_SC_AVPHYS_PAGES) *
			 (uint64_t)sysconf(_SC_PAGESIZE);

	if (dev > mc->info->device_local_heap_bytes) {
		snprintf(why, len, "needs about %.0f MiB of device memory, the "
			 "device-local heap has %.0f MiB", (double)dev / (1 << 20),
			 (double)mc->info->device_local_heap_bytes / (1 << 20));
		return false;
	}
	if (host + (mc->info->unified_memory ? dev : 0) > avail / 10 * 9) {
		snprintf(why, len, "needs about %.0f MiB of host memory to build, "
			 "%.0f MiB are free", (double)(host + (mc->info->unified_memory ? dev : 0)) /
			 (1 << 20), (double)avail / (1 << 20));
		return false;
	}
	return true;
}

/* Every model in every format, in order; results[] gets one entry each. */
static qvk_status qvk_bm_run_all(struct qvk_mb_machine *mc,
				 const struct qvk_bm_args *a,
				 struct qvk_model **models,
				 struct qvk_mb_result *results, uint32_t *n)
{
	uint32_t total = (a->n_models + a->n_shapes) * a->n_formats;
	struct qvk_bm_progress pg = { .tty = isatty(2) };
	qvk_status st = QVK_OK;

	for (uint32_t m = 0; st == QVK_OK && m < a->n_models + a->n_shapes; m++) {
		bool synthetic = m >= a->n_models;
		const struct qvk_synth_shape *sh =
			synthetic ? &a->shapes[m - a->n_models] : NULL;

		for (uint32_t f = 0; st == QVK_OK && f < a->n_formats; f++) {
			struct qvk_mb_result *r = &results[(*n)++];
			struct qvk_model *model = synthetic ? NULL : models[m];
			char label[32];

			r->synthetic = synthetic;
			r->format = a->formats[f];
			r->group = a->cfg.group;
			if (synthetic)
				snprintf(r->model, sizeof(r->model), "synthetic %s",
					 sh->name);
			else
				snprintf(r->model, sizeof(r->model), "%s",
					 a->models[m]);
			qvk_report_format_label(r, label, sizeof(label));
			snprintf(pg.prefix, sizeof(pg.prefix), "qvk bench: [%u/%u] "
				 "%s %s:", *n, total, r->model, label);
			if (synthetic &&
			    !qvk_bm_synth_fits(mc, sh, r->format, a->cfg.group,
					       r->skipped, sizeof(r->skipped)))
				continue;
			if (synthetic) {
				qvk_bm_progress(&pg, "building random weights", false);
				model = qvk_synth_create(&sh->p,
							 qvk_synth_type(r->format,
									a->cfg.group),
							 0x51 + m);
				if (!model) {
					snprintf(r->skipped, sizeof(r->skipped),
						 "out of host memory building it");
					continue;
				}
			}
			st = qvk_mb_run(mc, model, &a->cfg, r, qvk_bm_progress, &pg);
			qvk_bm_progress_done(&pg);
			if (synthetic)
				qvk_synth_destroy(model);
		}
	}
	return st;
}

static FILE *qvk_bm_open(const char *path)
{
	FILE *f = !strcmp(path, "-") ? stdout : fopen(path, "w");

	if (!f)
		fprintf(stderr, "qvk bench: %s: cannot write it\n", path);
	return f;
}

static bool qvk_bm_close(FILE *f, const char *path)
{
	bool ok = !ferror(f);

	if (f != stdout)
		ok &= fclose(f) == 0;
	else
		ok &= fflush(f) == 0;
	if (!ok)
		fprintf(stderr, "qvk bench: %s: write failed\n", path);
	return ok;
}

/* Table, JSON, CSV and plot, as asked. */
static int qvk_bm_outputs(const struct qvk_bm_args *a, const struct qvk_report *rep)
{
	bool json_stdout = a->json && !a->json_path,
	     csv_stdout = a->csv_path && !strcmp(a->csv_path, "-");
	char why[300];
	FILE *f;
	int rc = 0;

	if (!json_stdout && !csv_stdout) {
		qvk_report_header(stdout, rep);
		qvk_report_table(stdout, rep);
	}
	if (a->json) {
		const char *path = a->json_path ? a->json_path : "-";

		f = qvk_bm_open(path);
		if (f)
			qvk_report_json(f, rep);
		rc |= !f || !qvk_bm_close(f, path);
	}
	if (a->csv_path) {
		f = qvk_bm_open(a->csv_path);
		if (f)
			qvk_report_csv(f, rep);
		rc |= !f || !qvk_bm_close(f, a->csv_path);
	}
	if (a->plot_path) {
		if (qvk_report_plot(rep, a->plot_path, why, sizeof(why))) {
			fprintf(stderr, "qvk bench: plot written to %s\n",
				a->plot_path);
		} else {
			fprintf(stderr, "qvk bench: --plot: %s\n", why);
			rc = 1;
		}
	}
	return rc;
}

int qvk_bench_model(int argc, char **argv)
{
	struct qvk_model *models[QVK_BM_MAX_MODELS] = { 0 };
	struct qvk_mb_machine mc = { 0 };
	struct qvk_mb_result *results = NULL;
	struct qvk_bm_args a;
	uint32_t n_results = 0;
	qvk_status st;
	int rc = 1;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return qvk_bm_usage();
	if (!qvk_bm_parse(argc, argv, &a))
		return 2;
	mc.ctx = qvk_tool_ctx("bench");
	if (!mc.ctx)
		return 1;
	if (a.save_gguf) {
		rc = qvk_bm_save(mc.ctx, &a);
		goto out;
	}
	/* Every file is opened before anything is measured. */
	for (uint32_t m = 0; m < a.n_models; m++) {
		st = qvk_model_load(mc.ctx, a.models[m], &models[m]);
		if (st != QVK_OK) {
			rc = qvk_tool_fail(mc.ctx, st, "bench", a.models[m]);
			goto out;
		}
	}
	results = calloc((size_t)(a.n_models + a.n_shapes) * a.n_formats,
			 sizeof(*results));
	if (!results) {
		rc = qvk_tool_fail(mc.ctx, QVK_ERR_NO_MEMORY, "bench", "results");
		goto out;
	}
	st = qvk_mb_machine_init(&mc, a.idle_s);
	if (st != QVK_OK) {
		rc = qvk_tool_fail(mc.ctx, st, "bench", "setting up the device");
		goto out;
	}
	st = qvk_bm_run_all(&mc, &a, models, results, &n_results);
	if (getloadavg(mc.load_end, 3) != 3)
		mc.load_end[0] = mc.load_end[1] = mc.load_end[2] = NAN;
	if (st != QVK_OK) {
		rc = qvk_tool_fail(mc.ctx, st, "bench", results[n_results - 1].model);
		goto out;
	}
	rc = qvk_bm_outputs(&a, &(struct qvk_report){
		.mc = &mc, .cfg = &a.cfg, .results = results,
		.n_results = n_results, .idle_s = a.idle_s, .argc = argc,
		.argv = argv });
out:
	for (uint32_t i = 0; results && i < n_results; i++)
		qvk_mb_result_finish(&results[i]);
	free(results);
	qvk_mb_machine_finish(&mc);
	for (uint32_t m = 0; m < a.n_models; m++)
		qvk_model_destroy(models[m]);
	qvk_ctx_destroy(mc.ctx);
	return rc;
}
