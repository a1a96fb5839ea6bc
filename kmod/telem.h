/* SPDX-License-Identifier: GPL-2.0 */
/*
 * qvk_telem private header: the device state shared by main.c (the misc
 * device and its file operations), sample.c (the hrtimer, the 64-bit
 * extension and the pages), rapl.c (probing the energy and clock MSRs) and
 * cpu.c (the sampling CPU across CPU hotplug).
 */
#ifndef QVK_TELEM_KMOD_TELEM_H
#define QVK_TELEM_KMOD_TELEM_H

#include <linux/hrtimer.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/version.h>
#include <linux/workqueue.h>
#include <asm/msr.h>

#include <uapi/linux/qvk_telem.h>

/* rdmsrl_safe() was renamed rdmsrq_safe() in 6.16 (x86 MSR API cleanup). */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 16, 0)
#define qvk_telem_rdmsr_safe rdmsrq_safe
#else
#define qvk_telem_rdmsr_safe rdmsrl_safe
#endif

/* Sampling period bounds (µs); the default is the period_us parameter. */
#define QVK_TELEM_MIN_PERIOD_US 100u
#define QVK_TELEM_MAX_PERIOD_US 1000000u

/*
 * Highest power a RAPL domain is assumed to draw when bounding the gap
 * between samples: 4 kW. With the usual 2^-14 J unit a 32-bit counter
 * wraps after 262144 J, so at 4 kW after 65 s; the gap bound is that wrap
 * time, the period bound half of it (both far above the 1 s period cap).
 */
#define QVK_TELEM_RAPL_MAX_POWER_MW 4000000ull

/* Per-CPU clocks are refreshed at most this often (an IPI per CPU each). */
#define QVK_TELEM_CLOCK_PERIOD_NS (10 * NSEC_PER_MSEC)

struct qvk_telem_dom {
	struct qvk_telem_domain abi; /* what QVK_TELEM_IOC_INFO reports */
	u64 mask;                    /* counter_bits wide */
	u64 last_raw;                /* counter at the previous sample */
	u64 steps;                   /* counter steps since the last re-base */
	u64 base_uj;                 /* energy at the last re-base */
	u64 energy_uj;               /* published value */
};

/* Longest coarse interval (unpriv_interval_ms): a minute. */
#define QVK_TELEM_MAX_COARSE_INTERVAL_MS 60000u

struct qvk_telem;

/*
 * What an open file reads: the exact page, or (for openers without
 * CAP_SYS_ADMIN when coarsening is on) the coarse one. file->private_data.
 */
struct qvk_telem_view {
	struct qvk_telem *t;
	bool coarse;
};

struct qvk_telem_cpu_clock {
	u64 aperf, mperf;            /* previous reading */
	u64 aperf_now, mperf_now;    /* written by the CPU itself (IPI) */
	bool valid_now, valid;
	u32 khz;
};

struct qvk_telem {
	struct miscdevice misc;
	struct page *page;           /* the mmap()ed page */
	struct qvk_telem_page *pub;  /* its kernel address */
	struct qvk_telem_view views[2]; /* [0] exact, [1] coarse */

	/*
	 * The coarse page (PLATYPUS mitigation for group= readers): energy in
	 * steps of coarse_step_uj, republished at most every
	 * coarse_interval_ms. NULL when both are 0 (everyone reads exact).
	 */
	struct page *coarse_page;
	struct qvk_telem_page *coarse_pub;
	u32 coarse_step_uj, coarse_interval_ms;
	u64 coarse_due_ns;
	struct qvk_telem_sample coarse_sample; /* what the coarse page holds */

	/* Open files; the timer runs while users > 0. */
	struct mutex open_lock;
	u32 users;

	/*
	 * lock serialises sampling (timer, snapshot ioctl, sysfs read, clock
	 * work) and every write to the page: the seqcount has one writer.
	 */
	spinlock_t lock;
	struct hrtimer timer;
	u64 period_ns;               /* READ_ONCE/WRITE_ONCE: timer reads it */
	u32 min_period_us, max_period_us;

	/*
	 * The timer is pinned to sample_cpu; -1 when no CPU of the sampled
	 * package is online. Written by the hotplug callbacks (cpu.c) with the
	 * hotplug lock held for writing, open_lock and lock; readers that IPI
	 * it hold cpus_read_lock().
	 */
	int sample_cpu;
	int package_id, die_id;      /* the package MSR domains belong to */
	bool has_msr;                /* false: any CPU can sample */
	u32 cpu_moves;
	int cpuhp_state;             /* dynamic hotplug state, 0: none */
	struct hlist_node cpuhp_node;

	u32 n_domains;
	struct qvk_telem_dom dom[QVK_TELEM_MAX_DOMAINS];
	bool based;                  /* false: next sample re-bases */
	u64 last_ns;                 /* timestamp of the previous sample */
	u64 min_gap_ns;              /* smallest max_gap_ns of all domains */
	u64 sample_count;
	u32 epoch;

	/* The synthetic test domain: a counter ramping at synth_uw. */
	bool synth;
	u32 synth_uw;
	u64 synth_t0_ns;
	u64 synth_offset;            /* starts near the wrap on purpose */

	/* Per-CPU effective clocks. */
	u32 clock_source;            /* enum qvk_telem_clock_source */
	u32 n_cpus;
	struct qvk_telem_cpu_clock *clk; /* n_cpus entries */
	struct work_struct clock_work;
	u64 clock_due_ns;
};

/* rapl.c */
int qvk_telem_rapl_probe(struct qvk_telem *t);
void qvk_telem_clock_probe(struct qvk_telem *t);
int qvk_telem_synth_add(struct qvk_telem *t, u32 rate_uw, u32 bits);

/* sample.c */
void qvk_telem_sampling_init(struct qvk_telem *t);
int qvk_telem_sampling_start(struct qvk_telem *t);
void qvk_telem_sampling_stop(struct qvk_telem *t);
int qvk_telem_snapshot(struct qvk_telem *t, struct qvk_telem_sample *out);
void qvk_telem_snapshot_coarse(struct qvk_telem *t,
			       struct qvk_telem_sample *out);
void qvk_telem_set_period(struct qvk_telem *t, u32 period_us);
void qvk_telem_publish_cpu(struct qvk_telem *t);
void qvk_telem_page_init(struct qvk_telem *t, struct qvk_telem_page *p,
			 bool coarse);

/* cpu.c */
int qvk_telem_cpu_init(struct qvk_telem *t, int cpu);
void qvk_telem_cpu_exit(struct qvk_telem *t);

#endif
