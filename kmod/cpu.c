// SPDX-License-Identifier: GPL-2.0
/*
 * The sampling CPU across CPU hotplug. Package-scope RAPL MSRs read the
 * package of the CPU that executes rdmsr, so the timer is pinned to one
 * CPU of the sampled package. When that CPU goes offline, the timer would
 * migrate and stop sampling (the sample path refuses to read MSRs on
 * another CPU) and every IPI to it would fail with ENXIO; instead sampling
 * moves to another online CPU of the same package, re-bases (a core-scope
 * counter, AMD's, is another core's now) and the page says so
 * (sample_cpu, cpu_moves). With no CPU of the package left, sampling
 * stops until one comes back.
 *
 * Locking: the callbacks run with the hotplug lock held for writing and
 * take open_lock, then t->lock; open() takes cpus_read_lock() before
 * open_lock, so the order is the same everywhere.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/cpu.h>
#include <linux/cpuhotplug.h>
#include <linux/cpumask.h>
#include <linux/topology.h>

#include "telem.h"

static bool qvk_telem_cpu_fits(const struct qvk_telem *t, unsigned int cpu)
{
	return !t->has_msr ||
	       (topology_physical_package_id(cpu) == t->package_id &&
		topology_die_id(cpu) == t->die_id);
}

/*
 * Point sampling at @cpu (-1: none) and restart the timer there if the
 * device is open. Hotplug lock held; takes open_lock.
 */
static void qvk_telem_cpu_move(struct qvk_telem *t, int cpu, bool counted)
{
	unsigned long flags;
	int err = 0;

	mutex_lock(&t->open_lock);
	if (t->users)
		qvk_telem_sampling_stop(t);
	spin_lock_irqsave(&t->lock, flags);
	t->sample_cpu = cpu;
	t->based = false; /* another CPU's counters: re-base, epoch moves */
	if (counted)
		t->cpu_moves++;
	qvk_telem_publish_cpu(t);
	spin_unlock_irqrestore(&t->lock, flags);
	if (t->users && cpu >= 0)
		err = qvk_telem_sampling_start(t);
	mutex_unlock(&t->open_lock);
	if (err)
		pr_warn("sampling could not restart on CPU %d: %d\n", cpu, err);
}

/* The sampling CPU is about to go offline (runs on that CPU). */
static int qvk_telem_cpu_offline(unsigned int cpu, struct hlist_node *node)
{
	struct qvk_telem *t = hlist_entry_safe(node, struct qvk_telem, cpuhp_node);
	unsigned int other;
	int next = -1;

	if ((int)cpu != t->sample_cpu)
		return 0;
	for_each_online_cpu(other) {
		if (other != cpu && qvk_telem_cpu_fits(t, other)) {
			next = (int)other;
			break;
		}
	}
	qvk_telem_cpu_move(t, next, true);
	if (next >= 0)
		pr_info("CPU %u going offline: sampling moved to CPU %d of the same package (epoch moves)\n",
			cpu, next);
	else
		pr_warn("CPU %u going offline: no other online CPU in its package; sampling stops until one returns\n",
			cpu);
	return 0;
}

/* A CPU came online: adopt it if none of the package was left. */
static int qvk_telem_cpu_online(unsigned int cpu, struct hlist_node *node)
{
	struct qvk_telem *t = hlist_entry_safe(node, struct qvk_telem, cpuhp_node);

	if (t->sample_cpu >= 0 || !qvk_telem_cpu_fits(t, cpu))
		return 0;
	qvk_telem_cpu_move(t, (int)cpu, false);
	pr_info("CPU %u online: sampling resumes there\n", cpu);
	return 0;
}

/*
 * Pick the sampling CPU (@cpu, or the first online one when @cpu is -1) and
 * follow hotplug from now on. Call after the domains are known (has_msr)
 * and before the device is registered.
 */
int qvk_telem_cpu_init(struct qvk_telem *t, int cpu)
{
	unsigned int other;
	int state, err;

	state = cpuhp_setup_state_multi(CPUHP_AP_ONLINE_DYN, "misc/qvk_telem:online",
					qvk_telem_cpu_online,
					qvk_telem_cpu_offline);
	if (state < 0) {
		pr_err("cannot register for CPU hotplug: %d\n", state);
		return state;
	}
	if (cpu == -1)
		cpu = (int)cpumask_first(cpu_online_mask);
	if (cpu < 0 || cpu >= nr_cpu_ids || !cpu_online(cpu)) {
		pr_err("cpu=%d is not an online CPU\n", cpu);
		err = -EINVAL;
		goto out_remove_state;
	}
	t->sample_cpu = cpu;
	t->package_id = topology_physical_package_id(cpu);
	t->die_id = topology_die_id(cpu);
	err = cpuhp_state_add_instance_nocalls(state, &t->cpuhp_node);
	if (err) {
		pr_err("cannot register for CPU hotplug: %d\n", err);
		goto out_remove_state;
	}
	t->cpuhp_state = state;
	/*
	 * From here on the callbacks follow every change; one that happened
	 * before the instance was added is caught here.
	 */
	cpus_read_lock();
	if (!cpu_online(t->sample_cpu)) {
		t->sample_cpu = -1;
		for_each_online_cpu(other) {
			if (qvk_telem_cpu_fits(t, other)) {
				t->sample_cpu = (int)other;
				break;
			}
		}
	}
	cpus_read_unlock();
	return 0;

out_remove_state:
	cpuhp_remove_multi_state(state);
	return err;
}

void qvk_telem_cpu_exit(struct qvk_telem *t)
{
	if (!t->cpuhp_state)
		return;
	cpuhp_state_remove_instance_nocalls(t->cpuhp_state, &t->cpuhp_node);
	cpuhp_remove_multi_state(t->cpuhp_state);
	t->cpuhp_state = 0;
}
