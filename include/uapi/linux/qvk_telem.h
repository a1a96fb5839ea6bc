/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note OR MIT */
/*
 * qvk_telem: energy and clock telemetry published by the qvk_telem module
 * through the misc device /dev/qvk_telem.
 *
 * Two ways to read:
 *
 *  1. mmap() one page of the device read-only (offset 0, PROT_READ;
 *     MAP_SHARED or MAP_PRIVATE) with a length of QVK_TELEM_MMAP_SIZE. mmap()
 *     rounds any length up to whole pages before a driver sees it, so 1 to
 *     QVK_TELEM_MMAP_SIZE bytes all map this one page; more is refused. The
 *     kernel refreshes it on an hrtimer every period_us while at least one
 *     file is open on the device. Read it without a syscall under the
 *     seqcount:
 *
 *	struct qvk_telem_sample s;
 *	__u32 seq;
 *	do {
 *		seq = __atomic_load_n(&page->seq, __ATOMIC_ACQUIRE);
 *		if (seq & 1)
 *			continue;             // the kernel is writing: retry
 *		memcpy(&s, &page->sample, sizeof(s));
 *		__atomic_thread_fence(__ATOMIC_ACQUIRE);
 *	} while ((seq & 1) ||
 *		 __atomic_load_n(&page->seq, __ATOMIC_RELAXED) != seq);
 *
 *     (the same protocol as perf_event_mmap_page's lock). The sample is the
 *     copy in @s; anything read outside the loop may be torn.
 *
 *  2. ioctl(QVK_TELEM_IOC_SNAPSHOT): a fresh synchronous sample, taken in the
 *     call (it also refreshes the page). For a coarse reader (below) it
 *     returns the last coarse sample instead and samples nothing.
 *
 * Coarse readers. Energy counters are a side channel (PLATYPUS,
 * CVE-2020-8694). When the module is loaded with unpriv_step_uj or
 * unpriv_interval_ms, a file opened without CAP_SYS_ADMIN (a member of the
 * group= GID) maps a second page whose energies are rounded down to
 * multiples of coarse_step_uj and which is republished at most every
 * coarse_interval_ms; both fields say so in the page (0: exact).
 *
 * Sampling CPU. The counters are read on sample_cpu (package-scope MSRs
 * read the package of the CPU that executes rdmsr). When that CPU goes
 * offline the module moves sampling to another online CPU of the same
 * package, increments cpu_moves and re-bases (epoch moves). With no CPU of
 * that package online, sample_cpu is QVK_TELEM_NO_CPU, the page stops, and
 * opening the device and SNAPSHOT fail with ENODEV until one returns.
 *
 * ioctl(QVK_TELEM_IOC_INFO) gives the ABI version, the struct sizes, the
 * domains (names, kinds, counter widths and units) and the period.
 *
 * Energy is in microjoules, extended in the kernel from the hardware's
 * 32-bit (or narrower) counters to 64 bits. The extension is continuous
 * only while sampling runs: sampling stops when the last file is closed,
 * and a wrap that happens while nobody samples cannot be counted, so the
 * kernel re-bases the counters and increments @epoch whenever the gap since
 * the previous sample could have hidden a wrap. Only subtract two samples
 * with the same epoch.
 *
 * Compatibility: every ioctl struct starts with a size field set by the
 * caller to sizeof(the struct it was compiled with). The kernel accepts
 * smaller known versions and larger ones, up to one page, whose unknown
 * tail is zero, and fills min(size, its own size) bytes. Padding and
 * reserved fields must be zero; unknown flags are rejected with EINVAL.
 * New fields go at the end. The direction bits of each ioctl number must
 * be as defined below (its size bits are not checked: the size field
 * rules); a number with other direction bits gets ENOTTY.
 */
#ifndef _UAPI_LINUX_QVK_TELEM_H
#define _UAPI_LINUX_QVK_TELEM_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define QVK_TELEM_ABI_VERSION 1
#define QVK_TELEM_DEVICE_NAME "qvk_telem" /* /dev/qvk_telem */

#define QVK_TELEM_MAX_DOMAINS 8
#define QVK_TELEM_MAX_CPUS 256 /* CPUs past this are not published */
#define QVK_TELEM_NAME_LEN 16
#define QVK_TELEM_MMAP_SIZE 4096 /* mmap length; one page on x86 */
#define QVK_TELEM_NO_CPU 0xffffffffu /* sample_cpu: no CPU can sample */

/* What a domain measures. */
enum qvk_telem_kind {
	QVK_TELEM_KIND_PACKAGE = 0,   /* RAPL PKG: whole socket */
	QVK_TELEM_KIND_CORES = 1,     /* RAPL PP0 (Intel), core (AMD) */
	QVK_TELEM_KIND_UNCORE = 2,    /* RAPL PP1: the integrated GPU */
	QVK_TELEM_KIND_DRAM = 3,      /* RAPL DRAM */
	QVK_TELEM_KIND_PLATFORM = 4,  /* RAPL PSys: the whole platform */
	QVK_TELEM_KIND_SYNTHETIC = 5, /* test ramp, not a measurement */
};

/* Domain flags. */
#define QVK_TELEM_DOMAIN_SYNTHETIC (1u << 0) /* never a real measurement */

/* Where cpu_khz comes from. */
enum qvk_telem_clock_source {
	QVK_TELEM_CLOCK_NONE = 0,     /* unknown: every cpu_khz is 0 */
	QVK_TELEM_CLOCK_APERFMPERF = 1, /* busy clock: tsc_khz * dAPERF/dMPERF */
	QVK_TELEM_CLOCK_CPUFREQ = 2,  /* cpufreq's current frequency */
};

/* One sample. */
struct qvk_telem_sample {
	__u64 timestamp_ns;  /* CLOCK_MONOTONIC when the counters were read */
	__u64 sample_count;  /* samples taken since the module loaded */
	__u32 epoch;         /* bumped on every re-base; see above */
	__u32 n_domains;     /* valid entries of energy_uj */
	__u64 energy_uj[QVK_TELEM_MAX_DOMAINS]; /* same order as INFO */
};

/*
 * The mapped page. version and size are fixed for the life of the module;
 * everything else follows the seqcount protocol above.
 */
struct qvk_telem_page {
	__u32 version;       /* QVK_TELEM_ABI_VERSION */
	__u32 size;          /* sizeof(struct qvk_telem_page) in the kernel */
	__u32 seq;           /* seqcount: odd while the kernel writes */
	__u32 period_us;     /* current sampling period */
	struct qvk_telem_sample sample;
	__u64 clock_timestamp_ns; /* CLOCK_MONOTONIC of the cpu_khz values */
	__u32 clock_source;  /* enum qvk_telem_clock_source */
	__u32 n_cpus;        /* valid entries of cpu_khz */
	__u32 cpu_khz[QVK_TELEM_MAX_CPUS]; /* 0: unknown for that CPU */
	/*
	 * Added within version 1, where these were reserved and zero (which
	 * reads as: CPU 0, never moved, exact values).
	 */
	__u32 sample_cpu;    /* the CPU that reads the counters, or _NO_CPU */
	__u32 cpu_moves;     /* times sampling left a CPU going offline */
	__u32 coarse_step_uj;     /* this page's energy step; 0: exact */
	__u32 coarse_interval_ms; /* republished at most this often; 0: each sample */
	__u64 reserved[6];   /* zero */
};

struct qvk_telem_domain {
	char name[QVK_TELEM_NAME_LEN]; /* "package", "synthetic", NUL-ended */
	__u32 kind;          /* enum qvk_telem_kind */
	__u32 flags;         /* QVK_TELEM_DOMAIN_* */
	__u32 counter_bits;  /* width of the hardware counter */
	__u32 msr;           /* energy status MSR, 0 for synthetic */
	__u64 unit_fj;       /* energy of one counter step, femtojoules */
	__u64 wrap_uj;       /* energy of one counter wrap, microjoules */
	__u64 max_gap_ns;    /* longest sample gap that cannot hide a wrap */
};

/* QVK_TELEM_IOC_INFO: in: size, flags (0). out: the rest. */
struct qvk_telem_info {
	__u32 size;          /* in: sizeof(struct qvk_telem_info) */
	__u32 flags;         /* in: 0 */
	__u32 abi_version;   /* QVK_TELEM_ABI_VERSION */
	__u32 page_size;     /* sizeof(struct qvk_telem_page) */
	__u32 mmap_size;     /* QVK_TELEM_MMAP_SIZE */
	__u32 sample_size;   /* sizeof(struct qvk_telem_sample) */
	__u32 period_us;     /* current sampling period */
	__u32 min_period_us; /* bounds for QVK_TELEM_IOC_SET_PERIOD */
	__u32 max_period_us; /* also bounded by every domain's max_gap_ns */
	__u32 n_domains;
	__u32 n_cpus;
	__u32 clock_source;  /* enum qvk_telem_clock_source */
	__u64 sample_count;  /* samples taken since load */
	__u32 users;         /* files open on the device (timer runs if > 0) */
	__u32 reserved0;     /* zero */
	struct qvk_telem_domain domains[QVK_TELEM_MAX_DOMAINS];
};

/* QVK_TELEM_IOC_SNAPSHOT: in: size, flags (0), reserved0 (0). */
struct qvk_telem_snapshot {
	__u32 size;
	__u32 flags;
	__u32 reserved0;
	__u32 reserved1;
	struct qvk_telem_sample sample; /* out */
};

/* QVK_TELEM_IOC_SET_PERIOD (CAP_SYS_ADMIN only): in: everything. */
struct qvk_telem_period {
	__u32 size;
	__u32 flags;         /* 0 */
	__u32 period_us;     /* within [min_period_us, max_period_us] */
	__u32 reserved0;     /* 0 */
};

/*
 * The size bits of these numbers are those of the first version of each
 * struct; the kernel matches the numbers with the size bits masked off and
 * trusts the size field instead, so grown structs keep working.
 */
#define QVK_TELEM_IOC_MAGIC 0xB7
#define QVK_TELEM_IOC_INFO _IOWR(QVK_TELEM_IOC_MAGIC, 0x01, struct qvk_telem_info)
#define QVK_TELEM_IOC_SNAPSHOT \
	_IOWR(QVK_TELEM_IOC_MAGIC, 0x02, struct qvk_telem_snapshot)
#define QVK_TELEM_IOC_SET_PERIOD \
	_IOW(QVK_TELEM_IOC_MAGIC, 0x03, struct qvk_telem_period)

#endif /* _UAPI_LINUX_QVK_TELEM_H */
