/* SPDX-License-Identifier: MIT */
/*
 * libqvk telemetry, private: the domain table every source fills, the
 * source probes, and the library boundaries (libdrm_amdgpu, NVML) that
 * tests replace with fakes.
 */
#ifndef QVK_TELEMETRY_INTERNAL_H
#define QVK_TELEMETRY_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* The Makefile's QVK_DRM switch; a build that does not say is a DRM one. */
#ifndef QVK_DRM
#define QVK_DRM 1
#endif
#if QVK_DRM
#include <amdgpu.h> /* types only: the library itself is dlopen()ed */
#else
/* No libdrm headers (QVK_DRM=0): the opaque handle as amdgpu.h has it. */
typedef struct amdgpu_device *amdgpu_device_handle;
#endif

#include <qvk/telemetry.h>

#include "../internal.h"

struct qvk_telemetry;
struct qvk_tdom;

/*
 * The highest power any energy domain is believed to draw (a whole server
 * is below it), the same ceiling as the qvk_telem module's. A counter step
 * that implies more is not energy: a wrapping counter that went backwards
 * by more than that over the gap was reset or replaced, and a gap longer
 * than the counter's wrap time at this power may hide whole wraps.
 */
#define QVK_TELEMETRY_MAX_POWER_W 4000.0

/* One reading of a domain. */
struct qvk_treading {
	uint64_t t_ns;       /* CLOCK_MONOTONIC when the value was valid */
	uint64_t t_unc_ns;   /* uncertainty of t_ns (half the read's duration) */
	uint64_t raw;        /* counters: the raw value */
	double power_w;      /* power domains */
	uint32_t epoch;      /* counters that re-base (the module) */
};

typedef qvk_status (*qvk_tdom_read_fn)(struct qvk_telemetry *t,
				       struct qvk_tdom *d,
				       struct qvk_treading *r);

struct qvk_tdom {
	struct qvk_telemetry_domain pub;
	qvk_tdom_read_fn read;
	void *src;           /* the source's state, not owned */
	uint32_t index;      /* index inside the source */
	double unit_j;       /* counters: joules per raw step */
	uint64_t wrap;       /* counters: raw wraps to 0 after this (0: never) */
	/* How stale a value can be when read (RAPL: ~1 ms updates). */
	double lag_s;

	/* Running state, under t->lock. */
	bool have;           /* a reading has been taken */
	struct qvk_treading last;
	double total_j;      /* energy since the first reading, extended */
	double bound_j;      /* power domains: accumulated trapezoid bound */
	double max_gap_s;    /* longest gap between consecutive readings */
	uint32_t breaks;     /* continuity lost (re-base, counter went back) */
	char break_note[128]; /* why, the last time (a window's note) */
	char error[128];     /* last read failure, "" if none */
};

/* libdrm_amdgpu entry points (dlopen()ed; tests inject fakes). */
struct qvk_amdgpu_api {
	void *user;          /* for fakes */
	int (*open_node)(void *user, const char *path);
	void (*close_node)(void *user, int fd);
	int (*device_initialize)(int fd, uint32_t *major, uint32_t *minor,
				 amdgpu_device_handle *dev);
	int (*device_deinitialize)(amdgpu_device_handle dev);
	int (*query_sensor_info)(amdgpu_device_handle dev, unsigned sensor_type,
				 unsigned size, void *value);
};

/* NVML entry points we use, with NVML's own types reduced to C ones. */
typedef int qvk_nvml_return;  /* nvmlReturn_t: 0 is NVML_SUCCESS */
typedef void *qvk_nvml_device; /* nvmlDevice_t */
struct qvk_nvml_api {
	qvk_nvml_return (*init)(void);                   /* nvmlInit_v2 */
	qvk_nvml_return (*shutdown)(void);               /* nvmlShutdown */
	qvk_nvml_return (*device_count)(unsigned *count); /* ..GetCount_v2 */
	qvk_nvml_return (*device_handle)(unsigned index, qvk_nvml_device *dev);
	qvk_nvml_return (*device_name)(qvk_nvml_device dev, char *name,
				       unsigned len);
	/* mJ since the driver loaded (Volta and newer) */
	qvk_nvml_return (*total_energy)(qvk_nvml_device dev,
					unsigned long long *mj);
	qvk_nvml_return (*power_usage)(qvk_nvml_device dev, unsigned *mw);
	/* type: 1 = SM, 2 = memory; MHz */
	qvk_nvml_return (*clock_info)(qvk_nvml_device dev, int type,
				      unsigned *mhz);
	qvk_nvml_return (*throttle_reasons)(qvk_nvml_device dev,
					    unsigned long long *reasons);
	qvk_nvml_return (*temperature)(qvk_nvml_device dev, int sensor,
				       unsigned *celsius);
};

/* Fakes for tests; NULL members use the real libraries. */
struct qvk_telemetry_backends {
	const struct qvk_amdgpu_api *amdgpu;
	const struct qvk_nvml_api *nvml;
};

#define QVK_TELEMETRY_DESCRIBE_MAX 4096

struct qvk_tmodule;
struct qvk_tamdgpu;
struct qvk_tnvml;

struct qvk_telemetry {
	struct qvk_ctx *ctx;
	char sysfs_root[256];
	char module_path[256];
	char render_node[256];
	uint32_t disable;
	const struct qvk_telemetry_backends *backends;

	char describe[QVK_TELEMETRY_DESCRIBE_MAX];
	size_t describe_len;

	uint32_t n_domains;
	struct qvk_tdom dom[QVK_TELEMETRY_MAX_DOMAINS];

	struct qvk_tmodule *module;
	struct qvk_tamdgpu *amdgpu;
	struct qvk_tnvml *nvml;

	/* The poll thread. lock guards every domain's running state. */
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool thread_started, stop;
	double poll_period_s;
};

/*
 * Create with fake library backends (tests). qvk_telemetry_create() is
 * this with NULL.
 */
qvk_status qvk_telemetry_create_with(struct qvk_ctx *ctx,
				     const struct qvk_telemetry_options *opt,
				     const struct qvk_telemetry_backends *fake,
				     struct qvk_telemetry **out);

/* Append a line to describe(); printf-like. */
void qvk_telemetry_note(struct qvk_telemetry *t, const char *fmt, ...)
	QVK_PRINTF(2, 3);

/* A new domain slot, zeroed, or NULL (and a note) when the table is full. */
struct qvk_tdom *qvk_telemetry_add(struct qvk_telemetry *t);

/*
 * snprintf() that says whether the text fit; a cut message or path is
 * harmless here (a cut path is then simply not found).
 */
bool qvk_fmt(char *buf, size_t len, const char *fmt, ...) QVK_PRINTF(3, 4);

/* CLOCK_MONOTONIC in ns. */
uint64_t qvk_telemetry_now_ns(void);

/* "<root>/<rel>" into @buf; false if it does not fit. */
bool qvk_sysfs_path(const struct qvk_telemetry *t, char *buf, size_t len,
		    const char *fmt, ...) QVK_PRINTF(4, 5);

/*
 * scandir() of "<root>/class/@class" (path into @dir), keeping what
 * @filter accepts, in alphasort() order. Returns the count, or -1 after a
 * note "@class: ..." when the path does not fit or the folder cannot be
 * read: a missing source is not an error.
 */
struct dirent;
int qvk_sysfs_scan_class(struct qvk_telemetry *t, const char *class, char *dir,
			 size_t dirlen, int (*filter)(const struct dirent *),
			 struct dirent ***list);

/*
 * Read a whole small sysfs file as one unsigned decimal number (optional
 * trailing newline). Failures are described in @err: open/read errno, an
 * empty file, or the text that is not a number.
 */
qvk_status qvk_sysfs_read_u64(const char *path, uint64_t *out, char *err,
			      size_t errlen);
/*
 * A whole small file (at most @len - 1 bytes) into @buf, NUL-terminated,
 * its length in *@got. Refuses symlinks at the file itself and anything
 * that is not a regular file (FIFOs, devices) without blocking; a file
 * longer than @buf is an error, never silently cut.
 */
qvk_status qvk_sysfs_read_text(const char *path, char *buf, size_t len,
			       size_t *got, char *err, size_t errlen);
/* Read the first line of a small text file, newline stripped. */
qvk_status qvk_sysfs_read_line(const char *path, char *buf, size_t len,
			       char *err, size_t errlen);

/* A counter read from a sysfs file, timestamped around the read. */
qvk_status qvk_tdom_read_sysfs_counter(struct qvk_telemetry *t,
				       struct qvk_tdom *d,
				       struct qvk_treading *r);

/* Source probes: add domains and notes; a missing source is not an error. */
qvk_status qvk_telemetry_probe_module(struct qvk_telemetry *t);
qvk_status qvk_telemetry_probe_powercap(struct qvk_telemetry *t);
qvk_status qvk_telemetry_probe_hwmon(struct qvk_telemetry *t);
qvk_status qvk_telemetry_probe_amdgpu(struct qvk_telemetry *t);
qvk_status qvk_telemetry_probe_nvml(struct qvk_telemetry *t);
void qvk_telemetry_module_close(struct qvk_telemetry *t);
void qvk_telemetry_amdgpu_close(struct qvk_telemetry *t);
void qvk_telemetry_nvml_close(struct qvk_telemetry *t);

/*
 * Clocks and throttle state: append readings to @res (CPU clocks from the
 * module page or cpufreq, throttle counters, GPU clocks from amdgpu and
 * NVML). Throttle counters are given as deltas against @begin when
 * non-NULL.
 */
void qvk_telemetry_read_clocks(struct qvk_telemetry *t,
			       struct qvk_energy_result *res);
void qvk_telemetry_module_clocks(struct qvk_telemetry *t,
				 struct qvk_energy_result *res);
void qvk_telemetry_amdgpu_clocks(struct qvk_telemetry *t,
				 struct qvk_energy_result *res);
void qvk_telemetry_nvml_clocks(struct qvk_telemetry *t,
			       struct qvk_energy_result *res);
void qvk_telemetry_add_clock(struct qvk_energy_result *res, const char *name,
			     double value, const char *unit);

#endif
