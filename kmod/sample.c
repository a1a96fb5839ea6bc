// SPDX-License-Identifier: GPL-2.0
/*
 * Sampling: the hrtimer, the extension of hardware counters to 64-bit
 * microjoules, per-CPU clocks, and publication in the mapped page under
 * its seqcount (the reader loop is documented in the UAPI header).
 *
 * Locking: t->lock (a spinlock, taken with interrupts off) serialises
 * every sample and every write to the pages, so each page's seqcount has
 * exactly one writer at a time. The timer is pinned to t->sample_cpu
 * because package- and core-scope MSRs read the counter of the CPU that
 * executes rdmsr; the snapshot path gets there by IPI, under
 * cpus_read_lock() so that the CPU cannot go away meanwhile (cpu.c moves
 * sampling when it does).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpu.h>
#include <linux/cpufreq.h>
#include <linux/cpumask.h>
#include <linux/ktime.h>
#include <linux/math64.h>
#include <linux/smp.h>
#include <linux/string.h>
#include <linux/version.h>
#include <asm/msr.h>
#include <asm/tsc.h>

#include "telem.h"

/* Seqcount writer side: odd while fields change, with ordered stores. */
static void qvk_telem_write_begin(struct qvk_telem_page *p)
{
	WRITE_ONCE(p->seq, READ_ONCE(p->seq) + 1);
	smp_wmb();
}

static void qvk_telem_write_end(struct qvk_telem_page *p)
{
	smp_wmb();
	WRITE_ONCE(p->seq, READ_ONCE(p->seq) + 1);
}

static bool qvk_telem_read_raw(struct qvk_telem *t, struct qvk_telem_dom *d,
			       u64 now_ns, u64 *raw)
{
	u64 v;

	if (d->abi.flags & QVK_TELEM_DOMAIN_SYNTHETIC) {
		v = t->synth_offset + mul_u64_u32_div(now_ns - t->synth_t0_ns,
						      t->synth_uw,
						      NSEC_PER_SEC);
	} else if (qvk_telem_rdmsr_safe(d->abi.msr, &v)) {
		return false;
	}
	*raw = v & d->mask;
	return true;
}

static void qvk_telem_fill_sample(const struct qvk_telem *t,
				  struct qvk_telem_sample *s)
{
	u32 i;

	memset(s, 0, sizeof(*s));
	s->timestamp_ns = t->last_ns;
	s->sample_count = t->sample_count;
	s->epoch = t->epoch;
	s->n_domains = t->n_domains;
	for (i = 0; i < t->n_domains; i++)
		s->energy_uj[i] = t->dom[i].energy_uj;
}

/*
 * The coarse page, for readers without CAP_SYS_ADMIN when coarsening is
 * on: energies rounded down to coarse_step_uj, republished at most every
 * coarse_interval_ms (clocks with them, at the same pace), so that a group
 * member cannot watch energy at the resolution PLATYPUS needs. Under
 * t->lock, after a sample.
 */
static void qvk_telem_publish_coarse(struct qvk_telem *t, u64 now_ns)
{
	struct qvk_telem_page *p = t->coarse_pub;
	struct qvk_telem_sample *s = &t->coarse_sample;
	u32 i;

	if (!p || now_ns < t->coarse_due_ns)
		return;
	t->coarse_due_ns = now_ns + (u64)t->coarse_interval_ms * NSEC_PER_MSEC;
	qvk_telem_fill_sample(t, s);
	if (t->coarse_step_uj)
		for (i = 0; i < s->n_domains; i++)
			s->energy_uj[i] = div_u64(s->energy_uj[i],
						  t->coarse_step_uj) *
					  t->coarse_step_uj;

	qvk_telem_write_begin(p);
	WRITE_ONCE(p->sample.timestamp_ns, s->timestamp_ns);
	WRITE_ONCE(p->sample.sample_count, s->sample_count);
	WRITE_ONCE(p->sample.epoch, s->epoch);
	WRITE_ONCE(p->sample.n_domains, s->n_domains);
	for (i = 0; i < s->n_domains; i++)
		WRITE_ONCE(p->sample.energy_uj[i], s->energy_uj[i]);
	WRITE_ONCE(p->clock_timestamp_ns, now_ns);
	for (i = 0; i < t->n_cpus; i++)
		WRITE_ONCE(p->cpu_khz[i], READ_ONCE(t->clk[i].khz));
	WRITE_ONCE(p->sample_cpu, (u32)t->sample_cpu);
	WRITE_ONCE(p->cpu_moves, t->cpu_moves);
	qvk_telem_write_end(p);
}

/*
 * Take one sample and publish it. Called with t->lock held and interrupts
 * off, on t->sample_cpu when any domain is an MSR. A gap longer than the
 * smallest domain's max_gap_ns could hide a whole wrap, so the counters are
 * re-based (energy stays monotonic, the epoch moves) instead of guessing.
 */
static void qvk_telem_sample_locked(struct qvk_telem *t)
{
	struct qvk_telem_page *p = t->pub;
	u64 raw[QVK_TELEM_MAX_DOMAINS];
	u64 now_ns = ktime_get_ns();
	bool rebase;
	u32 i;

	for (i = 0; i < t->n_domains; i++) {
		if (t->dom[i].abi.msr && smp_processor_id() != t->sample_cpu)
			return; /* the timer migrated (CPU hot-unplug) */
		if (!qvk_telem_read_raw(t, &t->dom[i], now_ns, &raw[i])) {
			pr_debug("MSR 0x%x read failed, sample skipped\n",
				 t->dom[i].abi.msr);
			return;
		}
	}

	rebase = !t->based || now_ns - t->last_ns > t->min_gap_ns;
	for (i = 0; i < t->n_domains; i++) {
		struct qvk_telem_dom *d = &t->dom[i];

		if (rebase) {
			d->base_uj = d->energy_uj;
			d->steps = 0;
		} else {
			d->steps += (raw[i] - d->last_raw) & d->mask;
		}
		d->last_raw = raw[i];
		d->energy_uj = d->base_uj +
			       mul_u64_u64_div_u64(d->steps, d->abi.unit_fj,
						   1000000000ull);
	}
	if (rebase) {
		t->epoch++;
		t->based = true;
	}
	t->last_ns = now_ns;
	t->sample_count++;

	qvk_telem_write_begin(p);
	WRITE_ONCE(p->sample.timestamp_ns, now_ns);
	WRITE_ONCE(p->sample.sample_count, t->sample_count);
	WRITE_ONCE(p->sample.epoch, t->epoch);
	WRITE_ONCE(p->sample.n_domains, t->n_domains);
	for (i = 0; i < t->n_domains; i++)
		WRITE_ONCE(p->sample.energy_uj[i], t->dom[i].energy_uj);
	WRITE_ONCE(p->sample_cpu, (u32)t->sample_cpu);
	WRITE_ONCE(p->cpu_moves, t->cpu_moves);
	qvk_telem_write_end(p);
	qvk_telem_publish_coarse(t, now_ns);
}

static enum hrtimer_restart qvk_telem_timer_fn(struct hrtimer *timer)
{
	struct qvk_telem *t = container_of(timer, struct qvk_telem, timer);
	u64 now_ns;

	spin_lock(&t->lock);
	qvk_telem_sample_locked(t);
	spin_unlock(&t->lock);

	/* Reading other CPUs' APERF/MPERF needs IPIs: not from hardirq. */
	now_ns = ktime_get_ns();
	if (t->clock_source != QVK_TELEM_CLOCK_NONE && now_ns >= t->clock_due_ns) {
		t->clock_due_ns = now_ns + QVK_TELEM_CLOCK_PERIOD_NS;
		queue_work(system_unbound_wq, &t->clock_work);
	}
	hrtimer_forward_now(timer, ns_to_ktime(READ_ONCE(t->period_ns)));
	return HRTIMER_RESTART;
}

static void qvk_telem_clock_local(void *arg)
{
	struct qvk_telem *t = arg;
	unsigned int cpu = smp_processor_id();
	struct qvk_telem_cpu_clock *c;

	if (cpu >= t->n_cpus)
		return;
	c = &t->clk[cpu];
	c->valid_now = !qvk_telem_rdmsr_safe(MSR_IA32_APERF, &c->aperf_now) &&
		       !qvk_telem_rdmsr_safe(MSR_IA32_MPERF, &c->mperf_now);
}

/*
 * APERF counts at the actual clock and MPERF at the TSC rate, both only
 * while the CPU is not idle, so tsc_khz * dAPERF / dMPERF is the average
 * clock while busy (turbostat's Bzy_MHz). 0 means unknown.
 */
static void qvk_telem_clock_work_fn(struct work_struct *work)
{
	struct qvk_telem *t = container_of(work, struct qvk_telem, clock_work);
	struct qvk_telem_page *p = t->pub;
	unsigned long flags;
	u32 cpu;

	if (t->clock_source == QVK_TELEM_CLOCK_APERFMPERF) {
		for (cpu = 0; cpu < t->n_cpus; cpu++)
			t->clk[cpu].valid_now = false;
		on_each_cpu(qvk_telem_clock_local, t, 1);
		for (cpu = 0; cpu < t->n_cpus; cpu++) {
			struct qvk_telem_cpu_clock *c = &t->clk[cpu];
			u64 da = c->aperf_now - c->aperf;
			u64 dm = c->mperf_now - c->mperf;

			c->khz = 0;
			if (c->valid_now && c->valid && dm && da <= 16 * dm)
				c->khz = (u32)mul_u64_u64_div_u64(da, tsc_khz, dm);
			c->aperf = c->aperf_now;
			c->mperf = c->mperf_now;
			c->valid = c->valid_now;
		}
	} else {
		for (cpu = 0; cpu < t->n_cpus; cpu++)
			t->clk[cpu].khz = cpu_online(cpu) ? cpufreq_quick_get(cpu) : 0;
	}

	spin_lock_irqsave(&t->lock, flags);
	qvk_telem_write_begin(p);
	WRITE_ONCE(p->clock_timestamp_ns, ktime_get_ns());
	for (cpu = 0; cpu < t->n_cpus; cpu++)
		WRITE_ONCE(p->cpu_khz[cpu], t->clk[cpu].khz);
	qvk_telem_write_end(p);
	spin_unlock_irqrestore(&t->lock, flags);
}

/*
 * The sampling CPU into both pages at once, for when it changes while no
 * sample follows (no CPU of the package left, or the device closed).
 * Under t->lock; the pages may not exist yet while the module loads.
 */
void qvk_telem_publish_cpu(struct qvk_telem *t)
{
	struct qvk_telem_page *pages[] = { t->pub, t->coarse_pub };
	u32 i;

	for (i = 0; i < ARRAY_SIZE(pages); i++) {
		if (!pages[i])
			continue;
		qvk_telem_write_begin(pages[i]);
		WRITE_ONCE(pages[i]->sample_cpu, (u32)t->sample_cpu);
		WRITE_ONCE(pages[i]->cpu_moves, t->cpu_moves);
		qvk_telem_write_end(pages[i]);
	}
}

void qvk_telem_page_init(struct qvk_telem *t, struct qvk_telem_page *p,
			 bool coarse)
{
	memset(p, 0, QVK_TELEM_MMAP_SIZE);
	p->version = QVK_TELEM_ABI_VERSION;
	p->size = sizeof(*p);
	p->period_us = (u32)div_u64(t->period_ns, NSEC_PER_USEC);
	p->clock_source = t->clock_source;
	p->n_cpus = t->n_cpus;
	p->sample.n_domains = t->n_domains;
	p->sample_cpu = (u32)t->sample_cpu;
	p->coarse_step_uj = coarse ? t->coarse_step_uj : 0;
	p->coarse_interval_ms = coarse ? t->coarse_interval_ms : 0;
}

void qvk_telem_sampling_init(struct qvk_telem *t)
{
	spin_lock_init(&t->lock);
	INIT_WORK(&t->clock_work, qvk_telem_clock_work_fn);
	t->synth_t0_ns = ktime_get_ns();
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 13, 0)
	hrtimer_setup(&t->timer, qvk_telem_timer_fn, CLOCK_MONOTONIC,
		      HRTIMER_MODE_REL_PINNED);
#else
	hrtimer_init(&t->timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL_PINNED);
	t->timer.function = qvk_telem_timer_fn;
#endif
}

/* Runs on t->sample_cpu: a first (re-basing) sample, then the timer. */
static void qvk_telem_start_local(void *arg)
{
	struct qvk_telem *t = arg;

	spin_lock(&t->lock);
	t->based = false;
	t->coarse_due_ns = 0;
	qvk_telem_sample_locked(t);
	spin_unlock(&t->lock);
	t->clock_due_ns = 0;
	hrtimer_start(&t->timer, ns_to_ktime(READ_ONCE(t->period_ns)),
		      HRTIMER_MODE_REL_PINNED);
}

/*
 * Called with open_lock held when the first file opens, or when cpu.c
 * moves sampling; the caller holds the hotplug lock (either side).
 */
int qvk_telem_sampling_start(struct qvk_telem *t)
{
	if (t->sample_cpu < 0)
		return -ENODEV;
	return smp_call_function_single(t->sample_cpu, qvk_telem_start_local,
					t, 1);
}

/* Called with open_lock held when the last file closes. */
void qvk_telem_sampling_stop(struct qvk_telem *t)
{
	/* The timer re-arms itself; hrtimer_cancel() waits that out. */
	hrtimer_cancel(&t->timer);
	cancel_work_sync(&t->clock_work);
}

struct qvk_telem_snapshot_arg {
	struct qvk_telem *t;
	struct qvk_telem_sample *out;
};

static void qvk_telem_snapshot_local(void *arg)
{
	struct qvk_telem_snapshot_arg *a = arg;

	spin_lock(&a->t->lock);
	qvk_telem_sample_locked(a->t);
	qvk_telem_fill_sample(a->t, a->out);
	spin_unlock(&a->t->lock);
}

/* A fresh sample taken now, also published in the page. */
int qvk_telem_snapshot(struct qvk_telem *t, struct qvk_telem_sample *out)
{
	struct qvk_telem_snapshot_arg a = { .t = t, .out = out };
	int err = -ENODEV;

	cpus_read_lock();
	if (t->sample_cpu >= 0)
		err = smp_call_function_single(t->sample_cpu,
					       qvk_telem_snapshot_local, &a, 1);
	cpus_read_unlock();
	return err;
}

/* What the coarse page holds now: a coarse reader samples nothing. */
void qvk_telem_snapshot_coarse(struct qvk_telem *t,
			       struct qvk_telem_sample *out)
{
	unsigned long flags;

	spin_lock_irqsave(&t->lock, flags);
	*out = t->coarse_sample;
	spin_unlock_irqrestore(&t->lock, flags);
}

void qvk_telem_set_period(struct qvk_telem *t, u32 period_us)
{
	unsigned long flags;

	WRITE_ONCE(t->period_ns, (u64)period_us * NSEC_PER_USEC);
	spin_lock_irqsave(&t->lock, flags);
	qvk_telem_write_begin(t->pub);
	WRITE_ONCE(t->pub->period_us, period_us);
	qvk_telem_write_end(t->pub);
	if (t->coarse_pub) {
		qvk_telem_write_begin(t->coarse_pub);
		WRITE_ONCE(t->coarse_pub->period_us, period_us);
		qvk_telem_write_end(t->coarse_pub);
	}
	spin_unlock_irqrestore(&t->lock, flags);
}
