/* SPDX-License-Identifier: MIT */
/*
 * Energy and clock telemetry: what a piece of work cost in joules.
 *
 * Sources, probed in this order, each reporting what it measures:
 *   qvk_telem  the qvk_telem module's mapped page (RAPL, synthetic test ramp),
 *              read without a syscall
 *   powercap   /sys/class/powercap/intel-rapl:* energy_uj (wraps at
 *              max_energy_range_uj)
 *   hwmon      /sys/class/hwmon/hwmon*: energyN_input (uJ) or, where a
 *              device has no energy counter, powerN_average (uW)
 *   amdgpu     average GPU power, shader/memory clocks and temperature
 *              through libdrm_amdgpu's sensor queries (dlopen()ed)
 *   nvml       NVIDIA's total energy counter (or power), clocks and
 *              throttle reasons through libnvidia-ml.so.1 (dlopen()ed)
 * No source is reported as such (qvk_telemetry_describe()), never as zero.
 *
 * A telemetry object is not thread-safe except that its own poll thread
 * (integrating power-only domains) synchronises with the calls below.
 */
#ifndef QVK_TELEMETRY_H
#define QVK_TELEMETRY_H

#include <stdbool.h>
#include <stdint.h>

#include <qvk/ctx.h>

struct qvk_telemetry;

#define QVK_TELEMETRY_MAX_DOMAINS 32
#define QVK_TELEMETRY_MAX_CLOCKS 16
#define QVK_TELEMETRY_MAX_CHECKS 8

/* Sources, also usable as bits in qvk_telemetry_options.disable. */
enum qvk_telemetry_source {
	QVK_TELEMETRY_MODULE = 0,
	QVK_TELEMETRY_POWERCAP = 1,
	QVK_TELEMETRY_HWMON = 2,
	QVK_TELEMETRY_AMDGPU = 3,
	QVK_TELEMETRY_NVML = 4,
	QVK_TELEMETRY_SOURCE_COUNT
};

enum qvk_telemetry_kind {
	QVK_TELEMETRY_CPU_PACKAGE,  /* RAPL package */
	QVK_TELEMETRY_CPU_CORES,    /* RAPL PP0 / AMD core */
	QVK_TELEMETRY_GPU_INTEGRATED, /* RAPL PP1 (uncore) */
	QVK_TELEMETRY_DRAM,
	QVK_TELEMETRY_PLATFORM,     /* RAPL PSys */
	QVK_TELEMETRY_GPU,          /* a discrete or separately metered GPU */
	QVK_TELEMETRY_OTHER,
	QVK_TELEMETRY_SYNTHETIC,    /* a test ramp, never a measurement */
};

struct qvk_telemetry_domain {
	char name[64];       /* "package-0", "synthetic", "amdgpu renderD128" */
	enum qvk_telemetry_source source;
	enum qvk_telemetry_kind kind;
	uint32_t package;    /* CPU package for CPU kinds, else 0 */
	bool counter;        /* true: an energy counter; false: power, integrated */
	bool synthetic;      /* never a real measurement */
	double update_period_s; /* how often the source refreshes the value */
	double resolution;   /* one step: joules (counter) or watts (power) */
	char path[160];      /* file, device node or library it comes from */
};

struct qvk_telemetry_options {
	/* Root of sysfs; NULL: $QVK_SYSFS_ROOT, else "/sys". */
	const char *sysfs_root;
	/* The module's node; NULL: $QVK_TELEM_DEV, else "/dev/qvk_telem". */
	const char *module_path;
	/*
	 * The render node the device layer matched ("/dev/dri/renderD128"),
	 * for amdgpu sensors; NULL: every render node whose driver is amdgpu.
	 */
	const char *drm_render_node;
	/* Bits (1u << enum qvk_telemetry_source) of sources not to probe. */
	uint32_t disable;
	/*
	 * Period of the thread that integrates power-only domains and
	 * extends sysfs counters between windows; 0: 20 ms. No thread runs
	 * when no such domain exists. Negative: no thread; call
	 * qvk_telemetry_poll() yourself.
	 */
	double poll_period_s;
};

QVK_API QVK_MUST_CHECK qvk_status qvk_telemetry_create(
	struct qvk_ctx *ctx, const struct qvk_telemetry_options *opt,
	struct qvk_telemetry **out);
QVK_API void qvk_telemetry_destroy(struct qvk_telemetry *t);

/*
 * What was probed: one line per source saying what it found or why it
 * found nothing ("powercap: /sys/class/powercap: no intel-rapl zones").
 * Valid until destroy.
 */
QVK_API const char *qvk_telemetry_describe(const struct qvk_telemetry *t);

/* Domains found; 0 means no source exists (describe() says why). */
QVK_API uint32_t qvk_telemetry_domain_count(const struct qvk_telemetry *t);
QVK_API const struct qvk_telemetry_domain *
qvk_telemetry_domain(const struct qvk_telemetry *t, uint32_t index);

QVK_API const char *qvk_telemetry_source_name(enum qvk_telemetry_source s);
QVK_API const char *qvk_telemetry_kind_name(enum qvk_telemetry_kind k);

/* Read every domain now (what the poll thread does). */
QVK_API QVK_MUST_CHECK qvk_status qvk_telemetry_poll(struct qvk_telemetry *t);

/* ---------------------------------------------------------- windows */

/* Opaque state of one open window; begin allocates, end frees. */
struct qvk_energy_window;

struct qvk_energy_domain_result {
	bool valid;          /* false: @note says why */
	double energy_j;     /* energy inside [begin, end] */
	double avg_w;
	/*
	 * Bound on |energy_j - truth|: counter steps, plus the unsampled
	 * edges of the window (between a sample and the window's begin or
	 * end, and the source's update period) at the window's average power,
	 * plus, for power-only domains, the trapezoid bound sum |dP| dt / 2
	 * and the sensor's resolution over the window.
	 */
	double error_bound_j;
	char note[128];
};

struct qvk_clock_reading {
	char name[48];       /* "cpu_khz_avg", "gpu0_sclk_mhz", ... */
	double value;
	char unit[12];
};

/* Two sources measuring the same domain over the same window. */
struct qvk_energy_check {
	uint32_t domain_a, domain_b;
	double rel_diff;     /* |a - b| / max(a, b) */
	double tolerance;    /* combined error bounds / max(a, b) + 2% */
	bool agree;
};

struct qvk_energy_result {
	uint64_t begin_ns, end_ns; /* CLOCK_MONOTONIC */
	double elapsed_s;
	uint32_t n_domains;  /* == qvk_telemetry_domain_count() */
	struct qvk_energy_domain_result domains[QVK_TELEMETRY_MAX_DOMAINS];
	/* Clocks and throttle state read with the window (end values). */
	uint32_t n_clocks;
	struct qvk_clock_reading clocks[QVK_TELEMETRY_MAX_CLOCKS];
	uint32_t n_checks;
	struct qvk_energy_check checks[QVK_TELEMETRY_MAX_CHECKS];
};

QVK_API QVK_MUST_CHECK qvk_status qvk_energy_window_begin(
	struct qvk_telemetry *t, struct qvk_energy_window **out);
/* Ends and frees @w (also on failure). */
QVK_API QVK_MUST_CHECK qvk_status qvk_energy_window_end(
	struct qvk_telemetry *t, struct qvk_energy_window *w,
	struct qvk_energy_result *out);

/* ------------------------------------------------- GPU timestamps */

struct qvk_device;

/*
 * A calibration between the device's timestamp counter and
 * CLOCK_MONOTONIC (VK_EXT_calibrated_timestamps), so that the interval of
 * GPU work, read with vkCmdWriteTimestamp, can be placed inside an energy
 * window and charged its share: avg_w x (end - begin).
 */
struct qvk_gpu_clock_map {
	uint64_t gpu_ticks;        /* device timestamp at calibration */
	uint64_t monotonic_ns;     /* CLOCK_MONOTONIC at the same moment */
	double ns_per_tick;        /* VkPhysicalDeviceLimits::timestampPeriod */
	uint64_t tick_mask;        /* timestampValidBits wide */
	uint64_t max_deviation_ns; /* the driver's bound on the pairing */
};

/*
 * Calibrate on @dev: the best (smallest deviation) of a few pairs.
 * QVK_ERR_UNSUPPORTED when the device lacks the extension, the device or
 * the CLOCK_MONOTONIC time domain, or valid timestamp bits.
 */
QVK_API QVK_MUST_CHECK qvk_status qvk_gpu_clock_calibrate(
	struct qvk_device *dev, struct qvk_gpu_clock_map *out);

/* CLOCK_MONOTONIC ns of a device timestamp, across counter wraps. */
QVK_API uint64_t qvk_gpu_clock_to_monotonic_ns(const struct qvk_gpu_clock_map *m,
					       uint64_t gpu_ticks);

#endif
