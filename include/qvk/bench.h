/* SPDX-License-Identifier: MIT */
/*
 * What a benchmark computes from its measurements, in the library so that
 * qvk bench, the tests and the kernel-module VM test get the same numbers:
 * sample statistics, idle power and energy per token with error bounds
 * (windows lengthened by repetition until the energy source can resolve
 * them), and the roofline of a loaded model: the bytes and operations one
 * token costs, against the device's ceilings measured in the same run
 * (qvk_device_read_bandwidth() in <qvk/matmul.h>, qvk_device_compute_peak()
 * below).
 */
#ifndef QVK_BENCH_H
#define QVK_BENCH_H

#include <stdbool.h>
#include <stdint.h>

#include <qvk/telemetry.h>

/* ------------------------------------------------------- statistics */

struct qvk_stats {
	uint32_t n;
	double median, min, max; /* NaN when n == 0 */
};

/*
 * Median, minimum and maximum of @x[0..n). Sorts @x in place; the median
 * of an even count is the mean of the middle two.
 */
QVK_API void qvk_stats_summarize(double *x, uint32_t n, struct qvk_stats *out);

/* ------------------------------------------------------------ energy */

/*
 * A window shorter than this many update periods of its source is mostly
 * edge: the reading at each end can be stale by up to one period.
 */
#define QVK_ENERGY_MIN_PERIODS 20

/* The shortest window that domain @d resolves: 20 update periods. */
QVK_API double qvk_energy_min_window_s(const struct qvk_telemetry_domain *d);

/* The power of one domain while nothing runs, measured before the work. */
struct qvk_idle_power {
	bool valid;          /* false: @note says why */
	double avg_w;        /* energy of all windows over their total time */
	/*
	 * Bound on |avg_w - idle level|: the windows' error bounds over their
	 * total time, plus half the spread of the windows' own averages, since
	 * subtracting idle power later assumes that it did not drift further.
	 */
	double error_w;
	double window_s;     /* total time measured */
	uint32_t n_windows;
	char note[128];
};

/*
 * Idle power of domain @domain from @n consecutive windows @w (taken while
 * idle); what qvk_energy_measure_idle() does after sleeping.
 */
QVK_API void qvk_idle_power_from_windows(const struct qvk_energy_result *w,
					 uint32_t n, uint32_t domain,
					 struct qvk_idle_power *out);

/*
 * Sleep through @n_windows (1..16) consecutive windows of @seconds /
 * @n_windows each, lengthened to the longest qvk_energy_min_window_s() of
 * the domains, and fill @out[0..domain_count) with each domain's idle power.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_energy_measure_idle(
	struct qvk_telemetry *t, double seconds, uint32_t n_windows,
	struct qvk_idle_power *out);

/* Energy per token of one domain over one window. */
struct qvk_energy_per_token {
	bool valid;             /* false: @note says why */
	bool synthetic;         /* a test ramp, never a measurement */
	/* Shorter than qvk_energy_min_window_s(): kept, but flagged. */
	bool short_window;
	uint64_t tokens;
	double window_s;
	double j_per_token;
	double error_j_per_token; /* the window's error bound / tokens */
	double avg_w;
	/* With idle power subtracted: (energy - idle_w * window) / tokens. */
	bool net_valid;         /* false without a valid idle measurement */
	double net_j_per_token;
	/* Both bounds: the window's and idle's error_w * window, / tokens. */
	double net_error_j_per_token;
	char note[160];
};

/*
 * Energy per token of @tokens processed in a window of @elapsed_s over
 * which domain @d measured @e; @idle (may be NULL) is the domain's idle
 * power.
 */
QVK_API void qvk_energy_per_token(const struct qvk_telemetry_domain *d,
				  const struct qvk_energy_domain_result *e,
				  double elapsed_s, uint64_t tokens,
				  const struct qvk_idle_power *idle,
				  struct qvk_energy_per_token *out);

/*
 * One run of the work being measured: add the tokens it processed to
 * *@tokens. Any status but QVK_OK stops the phase with that status.
 */
typedef qvk_status (*qvk_bench_run_fn)(void *user, uint64_t *tokens);

/* One phase (prefill or decode) of one repetition, in one energy window. */
struct qvk_phase_energy {
	uint32_t runs;       /* calls of the run function inside the window */
	uint64_t tokens;
	double elapsed_s;
	double target_s;     /* the window length it aimed for */
	uint32_t n_domains;  /* 0 without telemetry */
	struct qvk_energy_per_token domains[QVK_TELEMETRY_MAX_DOMAINS];
};

/*
 * Open one energy window, call @run until the window lasts at least the
 * longest qvk_energy_min_window_s() of the domains (at least once, at most
 * @max_runs times, and no more calls once @max_s have passed), close it and
 * compute every domain's energy per token against @idle (NULL, or one per
 * domain). A window that stays short is flagged per domain. @t NULL: @run
 * is called once and no energy is computed (n_domains 0).
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_energy_measure_phase(
	struct qvk_telemetry *t, const struct qvk_idle_power *idle,
	uint32_t max_runs, double max_s, qvk_bench_run_fn run, void *user,
	struct qvk_phase_energy *out);

/* ---------------------------------------------------------- roofline */

struct qvk_device;
struct qvk_llm;

enum qvk_compute_kind {
	QVK_COMPUTE_INT8_DOT, /* 4x8-bit dot products, what W8A8/W4A8 run */
	QVK_COMPUTE_FP32_FMA, /* fp32 fused multiply-add, what f32/f16 run */
};

/* "int8-dot", "fp32-fma". */
QVK_API const char *qvk_compute_kind_name(enum qvk_compute_kind kind);

/*
 * The device's arithmetic ceiling in GOPS (a multiply and an add count as
 * two operations, as in a matmul's 2·m·n·k): shaders/compute_peak.comp
 * runs independent dependency chains in registers on every invocation of
 * enough workgroups to fill the device, through the integer path the
 * device uses (OpSDot or the fallback). Best of @reps timed runs.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_device_compute_peak(
	struct qvk_device *dev, enum qvk_compute_kind kind, uint32_t reps,
	double *gops);

/* What one token costs a model loaded on a device. */
struct qvk_llm_cost {
	/* Every linear layer as stored on the device, classifier included. */
	uint64_t weight_bytes;
	uint64_t classifier_bytes;
	/* Keys and values of one cached position, all layers. */
	uint64_t kv_bytes_per_position;
	/* Per token, besides matmuls and attention: embedding row, norms. */
	uint64_t other_bytes_per_token;
	/* 2 ops per weight (multiply and add); the classifier's part. */
	double matmul_ops_per_token;
	double classifier_ops;
	/* q·k and p·v for one cached position, all heads and layers. */
	double attention_ops_per_position;
	uint32_t max_batch;  /* prefill tokens per batch */
	enum qvk_compute_kind compute; /* what its matmuls run on */
};

QVK_API void qvk_llm_cost(const struct qvk_llm *llm, struct qvk_llm_cost *out);

/*
 * Decode: the bytes read per token over @n tokens at positions pos0..
 * (weights once per token, plus the keys and values of every position up
 * to the token's own), and the operations per token.
 */
QVK_API double qvk_llm_decode_bytes_per_token(const struct qvk_llm_cost *c,
					      uint32_t pos0, uint32_t n);
QVK_API double qvk_llm_decode_ops_per_token(const struct qvk_llm_cost *c,
					    uint32_t pos0, uint32_t n);
/*
 * Prefill of @n tokens from position 0 in batches of max_batch: the
 * operations (only the last token reaches the classifier) and the bytes
 * (weights once per batch, the cache as attention reads it).
 */
QVK_API double qvk_llm_prefill_ops(const struct qvk_llm_cost *c, uint32_t n);
QVK_API double qvk_llm_prefill_bytes(const struct qvk_llm_cost *c, uint32_t n);

#endif
