// SPDX-License-Identifier: GPL-2.0
/*
 * Probing what the module can measure: RAPL energy counters (Intel and
 * AMD family 17h+), the synthetic test domain, and where per-CPU clocks
 * come from. Runs once at load, in process context.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpufreq.h>
#include <linux/delay.h>
#include <linux/math64.h>
#include <linux/string.h>
#include <asm/cpufeature.h>
#include <asm/msr.h>
#include <asm/processor.h>
#include <asm/topology.h>

#include "telem.h"

struct qvk_telem_rapl_msr {
	const char *name;
	u32 kind;
	u32 msr;
};

static const struct qvk_telem_rapl_msr qvk_telem_intel_msrs[] = {
	{ "package", QVK_TELEM_KIND_PACKAGE, 0x611 },
	{ "cores", QVK_TELEM_KIND_CORES, 0x639 },
	{ "uncore", QVK_TELEM_KIND_UNCORE, 0x641 },
	{ "dram", QVK_TELEM_KIND_DRAM, 0x619 },
	{ "platform", QVK_TELEM_KIND_PLATFORM, 0x64d },
};

static const struct qvk_telem_rapl_msr qvk_telem_amd_msrs[] = {
	{ "package", QVK_TELEM_KIND_PACKAGE, 0xc001029b },
	{ "core", QVK_TELEM_KIND_CORES, 0xc001029a },
};

#define QVK_TELEM_INTEL_UNIT_MSR 0x606
#define QVK_TELEM_AMD_UNIT_MSR 0xc0010299

/*
 * Energy status unit: bits 12:8 of the unit register, 1/2^ESU J. Real parts
 * use 14 (Intel client), 16 (AMD, Intel server DRAM); an emulated MSR that
 * reads 0 gives ESU 0, a 1 J unit, which is rejected here.
 */
#define QVK_TELEM_ESU_MIN 8
#define QVK_TELEM_ESU_MAX 24

/* How long to wait for a counter to move (RAPL updates about every 1 ms). */
#define QVK_TELEM_ADVANCE_TRIES 5
#define QVK_TELEM_ADVANCE_WAIT_MS 10

static int qvk_telem_rdmsr64(int cpu, u32 msr, u64 *out)
{
	u32 lo, hi;
	int err = rdmsr_safe_on_cpu(cpu, msr, &lo, &hi);

	if (err)
		return err;
	*out = ((u64)hi << 32) | lo;
	return 0;
}

static struct qvk_telem_dom *qvk_telem_dom_add(struct qvk_telem *t,
					       const char *name, u32 kind,
					       u32 bits, u64 unit_fj,
					       u64 max_gap_ns)
{
	struct qvk_telem_dom *d;

	if (t->n_domains >= QVK_TELEM_MAX_DOMAINS)
		return NULL;
	d = &t->dom[t->n_domains++];
	memset(d, 0, sizeof(*d));
	strscpy(d->abi.name, name, sizeof(d->abi.name));
	d->abi.kind = kind;
	d->abi.counter_bits = bits;
	d->abi.unit_fj = unit_fj;
	d->abi.wrap_uj = mul_u64_u64_div_u64(1ull << bits, unit_fj,
					     1000000000ull);
	d->abi.max_gap_ns = max_gap_ns;
	d->mask = bits == 64 ? ~0ull : (1ull << bits) - 1;
	return d;
}

int qvk_telem_rapl_probe(struct qvk_telem *t)
{
	const struct qvk_telem_rapl_msr *msrs;
	u64 first[ARRAY_SIZE(qvk_telem_intel_msrs)];
	bool ok[ARRAY_SIZE(qvk_telem_intel_msrs)] = { false };
	bool moved[ARRAY_SIZE(qvk_telem_intel_msrs)] = { false };
	u32 unit_msr, esu;
	size_t n, i;
	u64 units, raw, unit_fj, wrap_uj;
	int try;

	if (boot_cpu_data.x86_vendor == X86_VENDOR_INTEL) {
		msrs = qvk_telem_intel_msrs;
		n = ARRAY_SIZE(qvk_telem_intel_msrs);
		unit_msr = QVK_TELEM_INTEL_UNIT_MSR;
	} else if ((boot_cpu_data.x86_vendor == X86_VENDOR_AMD ||
		    boot_cpu_data.x86_vendor == X86_VENDOR_HYGON) &&
		   boot_cpu_data.x86 >= 0x17) {
		msrs = qvk_telem_amd_msrs;
		n = ARRAY_SIZE(qvk_telem_amd_msrs);
		unit_msr = QVK_TELEM_AMD_UNIT_MSR;
	} else {
		pr_info("no RAPL on this CPU vendor/family\n");
		return 0;
	}

	if (qvk_telem_rdmsr64(t->sample_cpu, unit_msr, &units)) {
		pr_info("RAPL unit MSR 0x%x faults: no RAPL\n", unit_msr);
		return 0;
	}
	esu = (units >> 8) & 0x1f;
	if (esu < QVK_TELEM_ESU_MIN || esu > QVK_TELEM_ESU_MAX) {
		pr_info("RAPL unit MSR 0x%x = 0x%llx: energy unit 2^-%u J is not plausible, no RAPL\n",
			unit_msr, units, esu);
		return 0;
	}
	/* 1 J = 1e15 fJ; truncation loses < 1e-10 of the unit. */
	unit_fj = div_u64(1000000000000000ull, 1u << esu);

	for (i = 0; i < n; i++)
		ok[i] = !qvk_telem_rdmsr64(t->sample_cpu, msrs[i].msr, &first[i]);

	/*
	 * A read that succeeds proves nothing under emulators that return 0
	 * for unimplemented MSRs: keep a domain only if its counter moves.
	 */
	for (try = 0; try < QVK_TELEM_ADVANCE_TRIES; try++) {
		bool all = true;

		msleep(QVK_TELEM_ADVANCE_WAIT_MS);
		for (i = 0; i < n; i++) {
			if (!ok[i] || moved[i])
				continue;
			if (!qvk_telem_rdmsr64(t->sample_cpu, msrs[i].msr, &raw) &&
			    (u32)raw != (u32)first[i])
				moved[i] = true;
			else
				all = false;
		}
		if (all)
			break;
	}

	/*
	 * Package MSRs read the package of the CPU that executes rdmsr, and
	 * the timer runs on one CPU: other packages are not covered.
	 */
	if (topology_max_packages() > 1)
		pr_info("%u packages: RAPL domains cover only the package of CPU %d\n",
			topology_max_packages(), t->sample_cpu);
	/*
	 * Intel server parts count DRAM in a fixed 2^-16 J unit that the unit
	 * register does not report (intel_rapl's dram_domain_energy_unit);
	 * their "dram" here is off by that ratio, which libqvk's cross-check
	 * against powercap reports.
	 */
	wrap_uj = mul_u64_u64_div_u64(1ull << 32, unit_fj, 1000000000ull);
	for (i = 0; i < n; i++) {
		struct qvk_telem_dom *d;

		if (!moved[i]) {
			pr_info("RAPL %s (MSR 0x%x): %s\n", msrs[i].name,
				msrs[i].msr,
				ok[i] ? "counter does not advance, left out" :
					"read faults, left out");
			continue;
		}
		d = qvk_telem_dom_add(t, msrs[i].name, msrs[i].kind, 32,
				      unit_fj,
				      div64_u64(wrap_uj * 1000ull,
						QVK_TELEM_RAPL_MAX_POWER_MW));
		if (!d)
			return -ENOSPC;
		d->abi.msr = msrs[i].msr;
		pr_info("RAPL %s (MSR 0x%x): unit %llu fJ, wraps every %llu uJ\n",
			msrs[i].name, msrs[i].msr, unit_fj, d->abi.wrap_uj);
	}
	return 0;
}

/*
 * The synthetic domain: a @bits-wide counter in 1 uJ steps ramping at
 * @rate_uw, started a quarter of a wrap before its first wrap so that the
 * extension is exercised at once. Its gap bound is three quarters of the
 * wrap time: the ramp is exact, so any gap shorter than one wrap is safe.
 */
int qvk_telem_synth_add(struct qvk_telem *t, u32 rate_uw, u32 bits)
{
	struct qvk_telem_dom *d;
	u64 wrap_ns;

	if (bits < 16 || bits > 32 || rate_uw == 0) {
		pr_err("synthetic domain: synthetic_bits %u must be 16..32 and synthetic_uw %u > 0\n",
		       bits, rate_uw);
		return -EINVAL;
	}
	wrap_ns = mul_u64_u32_div(1ull << bits, NSEC_PER_SEC, rate_uw);
	d = qvk_telem_dom_add(t, "synthetic", QVK_TELEM_KIND_SYNTHETIC, bits,
			      1000000000ull, wrap_ns / 4 * 3);
	if (!d)
		return -ENOSPC;
	d->abi.flags = QVK_TELEM_DOMAIN_SYNTHETIC;
	t->synth = true;
	t->synth_uw = rate_uw;
	t->synth_offset = d->mask - (d->mask >> 2);
	pr_info("synthetic domain (a test ramp, not a measurement): %u uW, %u-bit counter, wraps every %llu ms\n",
		rate_uw, bits, div_u64(wrap_ns, NSEC_PER_MSEC));
	return 0;
}

void qvk_telem_clock_probe(struct qvk_telem *t)
{
	u64 m0, m1, a1;

	t->clock_source = QVK_TELEM_CLOCK_NONE;
	if (boot_cpu_has(X86_FEATURE_APERFMPERF) && tsc_khz &&
	    !qvk_telem_rdmsr64(t->sample_cpu, MSR_IA32_MPERF, &m0)) {
		msleep(1);
		if (!qvk_telem_rdmsr64(t->sample_cpu, MSR_IA32_MPERF, &m1) &&
		    !qvk_telem_rdmsr64(t->sample_cpu, MSR_IA32_APERF, &a1) &&
		    m1 != m0 && a1 != 0) {
			t->clock_source = QVK_TELEM_CLOCK_APERFMPERF;
			pr_info("per-CPU clocks from APERF/MPERF (TSC %u kHz)\n",
				tsc_khz);
			return;
		}
	}
	if (cpufreq_quick_get(t->sample_cpu)) {
		t->clock_source = QVK_TELEM_CLOCK_CPUFREQ;
		pr_info("per-CPU clocks from cpufreq\n");
		return;
	}
	pr_info("no per-CPU clock source (no APERF/MPERF, no cpufreq)\n");
}
