/* SPDX-License-Identifier: MIT */
/*
 * qvk bench model, the measuring part: one model in one weight format, a
 * warm-up, then R repetitions of prefill P tokens and decode N tokens,
 * each phase in an energy window lengthened by repetition until the
 * energy source resolves it (libqvk's qvk_energy_measure_phase()), every
 * run kept as a sample. The results and the machine they were measured
 * on feed the table, JSON, CSV and plot writers (report.h).
 */
#ifndef QVK_TOOLS_MODEL_BENCH_H
#define QVK_TOOLS_MODEL_BENCH_H

#include <stdio.h>

#include <qvk/bench.h>
#include <qvk/llm.h>

enum qvk_mb_phase { QVK_MB_PREFILL, QVK_MB_DECODE, QVK_MB_PHASES };
extern const char *const qvk_mb_phase_names[QVK_MB_PHASES];

/* What the whole run shares: the device, its ceilings, the energy sources. */
struct qvk_mb_machine {
	struct qvk_ctx *ctx;
	struct qvk_device *dev;
	const struct qvk_device_info *info;
	char kernel[200];        /* uname -srm */
	char cpu[128];           /* /proc/cpuinfo model name */
	double load_begin[3], load_end[3]; /* getloadavg() */
	char started[32];        /* UTC, ISO 8601 */
	double read_gbps;        /* qvk_device_read_bandwidth() */
	double peak_gops[2];     /* by enum qvk_compute_kind */
	struct qvk_telemetry *telemetry; /* NULL: creating it failed */
	char energy_unavailable[512]; /* "" when some domain exists */
	struct qvk_idle_power idle[QVK_TELEMETRY_MAX_DOMAINS];
	bool have_idle;
};

struct qvk_mb_config {
	uint32_t prefill, decode, reps; /* -p, -n, -r */
	uint32_t group;
	bool kv_f32, profile;
	const char *keep;
	double max_window_s;     /* an energy window never grows beyond */
};

/* One timed run of one phase. */
struct qvk_mb_time {
	uint32_t rep, run;
	enum qvk_mb_phase phase;
	uint32_t tokens;
	double seconds;
	double ttft_s;           /* prefill: to the first sampled token */
};

/* One energy window: a phase of one repetition. */
struct qvk_mb_window {
	uint32_t rep;
	enum qvk_mb_phase phase;
	struct qvk_phase_energy e;
};

/* One domain over every window of one phase. */
struct qvk_mb_energy {
	bool valid;              /* false: @note says why */
	bool net_valid, short_window, synthetic;
	uint32_t windows;
	struct qvk_stats j_per_tok, net_j_per_tok, avg_w;
	/* Largest bound of any window: holds for each value, so for the median. */
	double error_j, net_error_j;
	char note[160];
};

struct qvk_mb_result {
	char model[300];         /* file path, or "synthetic SHAPE" */
	bool synthetic;
	enum qvk_weight_format format;
	uint32_t group;          /* 0: one group per row */
	char describe[256];      /* what each linear layer got */
	char skipped[512];       /* not run: why ("" when it ran) */
	uint32_t prefill, decode, reps;
	struct qvk_stats prefill_tok_s, decode_tok_s, ttft_ms;
	double peak_mib, model_mib;
	struct qvk_llm_cost cost;
	/* Roofline: best tokens/s from the ceilings, and the achieved share. */
	double decode_bytes_per_tok, decode_ops_per_tok;
	double prefill_ops, prefill_bytes;  /* the whole prompt */
	double decode_best_tok_s, decode_frac;      /* read bandwidth */
	double decode_compute_frac;                 /* the compute ceiling */
	double prefill_best_tok_s, prefill_frac;    /* the compute ceiling */
	double decode_gbps, prefill_gops;           /* achieved */
	struct qvk_mb_time *times;
	uint32_t n_times, cap_times;
	struct qvk_mb_window *windows;
	uint32_t n_windows;
	uint32_t n_domains;
	struct qvk_mb_energy energy[QVK_MB_PHASES][QVK_TELEMETRY_MAX_DOMAINS];
	char profile[2048];      /* --profile: GPU time per kernel kind */
};

/*
 * Facts, device (@ctx set by the caller), energy sources, idle power
 * (@idle_s seconds; 0: none) and ceilings (tools/model_machine.c).
 */
qvk_status qvk_mb_machine_init(struct qvk_mb_machine *mc, double idle_s);
void qvk_mb_machine_finish(struct qvk_mb_machine *mc);

/* Progress: one short line about what runs now; @minor: a step within it. */
typedef void (*qvk_mb_progress_fn)(void *user, const char *line, bool minor);

/*
 * Load @model in @format onto the machine's device and measure it. A
 * failure to load (out of memory, unsupported) fills r->skipped and
 * returns QVK_OK; a failure while measuring returns its status.
 */
qvk_status qvk_mb_run(struct qvk_mb_machine *mc, const struct qvk_model *model,
		      const struct qvk_mb_config *cfg, struct qvk_mb_result *r,
		      qvk_mb_progress_fn progress, void *user);

void qvk_mb_result_finish(struct qvk_mb_result *r);

#endif
