// SPDX-License-Identifier: GPL-2.0
/*
 * qvk_telem: energy (RAPL) and per-CPU clock telemetry for qvk, published
 * in a read-only page that userspace maps and reads without syscalls.
 *
 * This file: module parameters, the misc device /dev/qvk_telem and its
 * file operations (open/release start and stop sampling, mmap, ioctl), a
 * sysfs attribute, load and unload. The ABI is include/uapi/linux/qvk_telem.h.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/cpu.h>
#include <linux/cpumask.h>
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/version.h>

#include "telem.h"

#ifndef CONFIG_X86
#error "qvk_telem reads x86 MSRs"
#endif

static unsigned int period_us = 1000;
module_param(period_us, uint, 0444);
MODULE_PARM_DESC(period_us, "Sampling period in microseconds (100..1000000, default 1000); root may change it with QVK_TELEM_IOC_SET_PERIOD");

static int group = -1;
module_param(group, int, 0444);
MODULE_PARM_DESC(group, "GID (in the initial user namespace) whose members may open /dev/qvk_telem; -1 (default): root (CAP_SYS_ADMIN) only. Energy counters are a side channel (CVE-2020-8694).");

static bool synthetic;
module_param(synthetic, bool, 0444);
MODULE_PARM_DESC(synthetic, "Add the synthetic test domain (a deterministic ramp, never a measurement)");

static unsigned int synthetic_uw = 50000000;
module_param(synthetic_uw, uint, 0444);
MODULE_PARM_DESC(synthetic_uw, "Ramp rate of the synthetic domain in microwatts (default 50 W)");

static unsigned int synthetic_bits = 24;
module_param(synthetic_bits, uint, 0444);
MODULE_PARM_DESC(synthetic_bits, "Counter width of the synthetic domain, 16..32 (default 24: a wrap every 335 ms at 50 W)");

static int sample_cpu_param = -1;
module_param_named(cpu, sample_cpu_param, int, 0444);
MODULE_PARM_DESC(cpu, "CPU that samples, and so the package measured (default -1: the first online CPU); sampling moves to another CPU of the package when it goes offline");

static unsigned int unpriv_step_uj;
module_param(unpriv_step_uj, uint, 0444);
MODULE_PARM_DESC(unpriv_step_uj, "Readers without CAP_SYS_ADMIN (group=) see energy rounded down to multiples of this many microjoules (default 0: exact); a PLATYPUS mitigation");

static unsigned int unpriv_interval_ms;
module_param(unpriv_interval_ms, uint, 0444);
MODULE_PARM_DESC(unpriv_interval_ms, "Readers without CAP_SYS_ADMIN see a new value at most this often, 0..60000 ms (default 0: every sample)");

static struct qvk_telem *qvk_telem_dev;

static struct qvk_telem_view *qvk_telem_view_of(struct file *file)
{
	/* open() replaced misc_open()'s miscdevice with the reader's view. */
	return file->private_data;
}

static bool qvk_telem_may_read(void)
{
	if (capable(CAP_SYS_ADMIN))
		return true;
	return group >= 0 && in_group_p(make_kgid(&init_user_ns, group));
}

static int qvk_telem_open(struct inode *inode, struct file *file)
{
	/* misc_open() stores the miscdevice in private_data. */
	struct qvk_telem *t = container_of(file->private_data, struct qvk_telem,
					   misc);
	bool coarse;
	int err = 0;

	/*
	 * The node's mode is the first gate; this is the second, so a node
	 * made world-readable by mistake still admits only root and @group.
	 */
	if (!qvk_telem_may_read())
		return -EPERM;
	if (file->f_mode & FMODE_WRITE)
		return -EPERM; /* nothing here is writable */
	/* Decided once, with the opener's credentials, like the checks above. */
	coarse = t->coarse_page && !capable(CAP_SYS_ADMIN);

	/* The sampling CPU must not go away while the timer starts there. */
	cpus_read_lock();
	mutex_lock(&t->open_lock);
	if (t->users == 0)
		err = qvk_telem_sampling_start(t);
	if (!err)
		t->users++;
	mutex_unlock(&t->open_lock);
	cpus_read_unlock();
	if (!err)
		file->private_data = &t->views[coarse];
	return err;
}

static int qvk_telem_release(struct inode *inode, struct file *file)
{
	struct qvk_telem *t = qvk_telem_view_of(file)->t;

	mutex_lock(&t->open_lock);
	if (--t->users == 0)
		qvk_telem_sampling_stop(t);
	mutex_unlock(&t->open_lock);
	return 0;
}

static int qvk_telem_mmap(struct file *file, struct vm_area_struct *vma)
{
	struct qvk_telem_view *v = qvk_telem_view_of(file);
	struct page *page = v->coarse ? v->t->coarse_page : v->t->page;

	/*
	 * mmap() has rounded the length up to whole pages already: lengths
	 * 1..4096 all arrive here as one page (the UAPI header says so).
	 */
	if (vma->vm_pgoff != 0 ||
	    vma->vm_end - vma->vm_start != QVK_TELEM_MMAP_SIZE)
		return -EINVAL;
	if (vma->vm_flags & (VM_WRITE | VM_EXEC))
		return -EPERM;
	/* No mprotect() to writable or executable later either. */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 3, 0)
	vm_flags_clear(vma, VM_MAYWRITE | VM_MAYEXEC);
	vm_flags_set(vma, VM_DONTEXPAND | VM_DONTDUMP);
#else
	vma->vm_flags &= ~(VM_MAYWRITE | VM_MAYEXEC);
	vma->vm_flags |= VM_DONTEXPAND | VM_DONTDUMP;
#endif
	return vm_insert_page(vma, vma->vm_start, page);
}

/*
 * Copy in a size-prefixed ioctl struct: sizes below the first version are
 * invalid, larger ones must have a zero tail (copy_struct_from_user()).
 * A page bounds the tail: no struct here will grow that far, and a 4 GiB
 * size would have the kernel scan 4 GiB of user memory for zeros.
 * Returns the user's size in *usize.
 */
static int qvk_telem_copy_in(void *karg, size_t ksize, void __user *uarg,
			     u32 *usize)
{
	int err;

	if (get_user(*usize, (u32 __user *)uarg))
		return -EFAULT;
	if (*usize < ksize || *usize > PAGE_SIZE)
		return -EINVAL;
	err = copy_struct_from_user(karg, ksize, uarg, *usize);
	return err == -E2BIG ? -EINVAL : err;
}

static int qvk_telem_copy_out(void __user *uarg, void *karg, size_t ksize,
			      u32 usize)
{
	u32 n = min_t(u32, usize, ksize);

	*(u32 *)karg = n; /* every struct starts with its size */
	return copy_to_user(uarg, karg, n) ? -EFAULT : 0;
}

static long qvk_telem_ioc_info(struct qvk_telem *t, void __user *uarg)
{
	struct qvk_telem_info *info;
	unsigned long flags;
	u32 usize, i;
	long err;

	info = kzalloc(sizeof(*info), GFP_KERNEL);
	if (!info)
		return -ENOMEM;
	err = qvk_telem_copy_in(info, sizeof(*info), uarg, &usize);
	if (err)
		goto out_free_info;
	if (info->flags || info->reserved0) {
		err = -EINVAL;
		goto out_free_info;
	}
	memset(info, 0, sizeof(*info));
	info->abi_version = QVK_TELEM_ABI_VERSION;
	info->page_size = sizeof(struct qvk_telem_page);
	info->mmap_size = QVK_TELEM_MMAP_SIZE;
	info->sample_size = sizeof(struct qvk_telem_sample);
	info->min_period_us = t->min_period_us;
	info->max_period_us = t->max_period_us;
	info->n_domains = t->n_domains;
	info->n_cpus = t->n_cpus;
	info->clock_source = t->clock_source;
	mutex_lock(&t->open_lock);
	info->users = t->users;
	mutex_unlock(&t->open_lock);
	spin_lock_irqsave(&t->lock, flags);
	info->period_us = (u32)div_u64(READ_ONCE(t->period_ns), NSEC_PER_USEC);
	info->sample_count = t->sample_count;
	for (i = 0; i < t->n_domains; i++)
		info->domains[i] = t->dom[i].abi;
	spin_unlock_irqrestore(&t->lock, flags);
	err = qvk_telem_copy_out(uarg, info, sizeof(*info), usize);
out_free_info:
	kfree(info);
	return err;
}

static long qvk_telem_ioc_snapshot(struct qvk_telem_view *v, void __user *uarg)
{
	struct qvk_telem_snapshot snap;
	u32 usize;
	long err;

	err = qvk_telem_copy_in(&snap, sizeof(snap), uarg, &usize);
	if (err)
		return err;
	if (snap.flags || snap.reserved0 || snap.reserved1)
		return -EINVAL;
	/* A coarse reader must not get finer samples on demand. */
	if (v->coarse)
		qvk_telem_snapshot_coarse(v->t, &snap.sample);
	else
		err = qvk_telem_snapshot(v->t, &snap.sample);
	if (err)
		return err;
	return qvk_telem_copy_out(uarg, &snap, sizeof(snap), usize);
}

static long qvk_telem_ioc_set_period(struct qvk_telem *t, void __user *uarg)
{
	struct qvk_telem_period per;
	u32 usize;
	long err;

	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;
	err = qvk_telem_copy_in(&per, sizeof(per), uarg, &usize);
	if (err)
		return err;
	if (per.flags || per.reserved0 || per.period_us < t->min_period_us ||
	    per.period_us > t->max_period_us)
		return -EINVAL;
	qvk_telem_set_period(t, per.period_us);
	return 0;
}

/*
 * An ioctl number matches when its type, number and direction bits are
 * those defined; its size bits are ignored because the size field rules
 * (a grown struct keeps its number). A read-only or no-data variant of a
 * read-write ioctl is another command: ENOTTY.
 */
static bool qvk_telem_ioc_is(unsigned int cmd, unsigned int defined)
{
	return _IOC_TYPE(cmd) == _IOC_TYPE(defined) &&
	       _IOC_NR(cmd) == _IOC_NR(defined) &&
	       _IOC_DIR(cmd) == _IOC_DIR(defined);
}

static long qvk_telem_ioctl(struct file *file, unsigned int cmd,
			    unsigned long arg)
{
	struct qvk_telem_view *v = qvk_telem_view_of(file);
	void __user *uarg = (void __user *)arg;

	if (qvk_telem_ioc_is(cmd, QVK_TELEM_IOC_INFO))
		return qvk_telem_ioc_info(v->t, uarg);
	if (qvk_telem_ioc_is(cmd, QVK_TELEM_IOC_SNAPSHOT))
		return qvk_telem_ioc_snapshot(v, uarg);
	if (qvk_telem_ioc_is(cmd, QVK_TELEM_IOC_SET_PERIOD))
		return qvk_telem_ioc_set_period(v->t, uarg);
	return -ENOTTY;
}

static const struct file_operations qvk_telem_fops = {
	.owner = THIS_MODULE,
	.open = qvk_telem_open,
	.release = qvk_telem_release,
	.mmap = qvk_telem_mmap,
	.unlocked_ioctl = qvk_telem_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
	.llseek = noop_llseek,
};

/*
 * energy_uj: one synchronous sample per read, every domain's energy on one
 * line in INFO order, like powercap's energy_uj (also root-only, 0400).
 * It exists to compare a sysfs read with the mapped page.
 */
static ssize_t energy_uj_show(struct device *dev, struct device_attribute *attr,
			      char *buf)
{
	struct miscdevice *misc = dev_get_drvdata(dev);
	struct qvk_telem *t = container_of(misc, struct qvk_telem, misc);
	struct qvk_telem_sample s;
	int len = 0, err;
	u32 i;

	err = qvk_telem_snapshot(t, &s);
	if (err)
		return err;
	for (i = 0; i < s.n_domains; i++)
		len += sysfs_emit_at(buf, len, "%s%llu", i ? " " : "",
				     s.energy_uj[i]);
	len += sysfs_emit_at(buf, len, "\n");
	return len;
}
static DEVICE_ATTR_ADMIN_RO(energy_uj);

static struct attribute *qvk_telem_attrs[] = {
	&dev_attr_energy_uj.attr,
	NULL,
};
ATTRIBUTE_GROUPS(qvk_telem);

static int qvk_telem_bounds(struct qvk_telem *t)
{
	u64 max_us = QVK_TELEM_MAX_PERIOD_US;
	u32 i;

	t->min_gap_ns = U64_MAX;
	for (i = 0; i < t->n_domains; i++)
		t->min_gap_ns = min(t->min_gap_ns, t->dom[i].abi.max_gap_ns);
	/* The period stays below half the gap bound: a late timer is safe. */
	max_us = min(max_us, div_u64(t->min_gap_ns / 2, NSEC_PER_USEC));
	t->min_period_us = QVK_TELEM_MIN_PERIOD_US;
	t->max_period_us = (u32)max_us;
	if (t->max_period_us < t->min_period_us) {
		pr_err("domains wrap too fast: no period is safe (gap bound %llu ns)\n",
		       t->min_gap_ns);
		return -EINVAL;
	}
	if (period_us < t->min_period_us || period_us > t->max_period_us) {
		pr_err("period_us=%u outside %u..%u\n", period_us,
		       t->min_period_us, t->max_period_us);
		return -EINVAL;
	}
	t->period_ns = (u64)period_us * NSEC_PER_USEC;
	return 0;
}

/* The coarse page for readers without CAP_SYS_ADMIN, if asked for. */
static int qvk_telem_coarse_init(struct qvk_telem *t)
{
	if (unpriv_interval_ms > QVK_TELEM_MAX_COARSE_INTERVAL_MS) {
		pr_err("unpriv_interval_ms=%u above %u\n", unpriv_interval_ms,
		       QVK_TELEM_MAX_COARSE_INTERVAL_MS);
		return -EINVAL;
	}
	t->views[0] = (struct qvk_telem_view){ .t = t, .coarse = false };
	t->views[1] = (struct qvk_telem_view){ .t = t, .coarse = true };
	if (!unpriv_step_uj && !unpriv_interval_ms)
		return 0;
	t->coarse_step_uj = unpriv_step_uj;
	t->coarse_interval_ms = unpriv_interval_ms;
	t->coarse_page = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!t->coarse_page)
		return -ENOMEM;
	t->coarse_pub = page_address(t->coarse_page);
	return 0;
}

static int __init qvk_telem_init(void)
{
	struct qvk_telem *t;
	bool has_msr = false;
	int err;
	u32 i;

	BUILD_BUG_ON(sizeof(struct qvk_telem_page) > QVK_TELEM_MMAP_SIZE);
	BUILD_BUG_ON(QVK_TELEM_MMAP_SIZE != PAGE_SIZE);

	if (group >= 0 && !gid_valid(make_kgid(&init_user_ns, group))) {
		pr_err("group=%d is not a valid GID\n", group);
		return -EINVAL;
	}
	t = kzalloc(sizeof(*t), GFP_KERNEL);
	if (!t)
		return -ENOMEM;
	mutex_init(&t->open_lock);
	qvk_telem_sampling_init(t);
	t->n_cpus = min_t(u32, nr_cpu_ids, QVK_TELEM_MAX_CPUS);
	err = qvk_telem_coarse_init(t);
	if (err)
		goto out_free_coarse;
	/* Until the domains are known, a move must stay in the package. */
	t->has_msr = true;
	err = qvk_telem_cpu_init(t, sample_cpu_param);
	if (err)
		goto out_free_coarse;

	err = qvk_telem_rapl_probe(t);
	if (err)
		goto out_cpu_exit;
	if (synthetic) {
		err = qvk_telem_synth_add(t, synthetic_uw, synthetic_bits);
		if (err)
			goto out_cpu_exit;
	}
	if (t->n_domains == 0)
		pr_info("no energy domain (no RAPL, synthetic=0): the page carries clocks only\n");
	for (i = 0; i < t->n_domains; i++)
		has_msr |= t->dom[i].abi.msr != 0;
	cpus_read_lock();
	t->has_msr = has_msr; /* a synthetic-only module samples anywhere */
	cpus_read_unlock();
	err = qvk_telem_bounds(t);
	if (err)
		goto out_cpu_exit;
	qvk_telem_clock_probe(t);

	t->clk = kcalloc(t->n_cpus, sizeof(*t->clk), GFP_KERNEL);
	if (!t->clk) {
		err = -ENOMEM;
		goto out_cpu_exit;
	}
	t->page = alloc_page(GFP_KERNEL | __GFP_ZERO);
	if (!t->page) {
		err = -ENOMEM;
		goto out_free_clk;
	}
	t->pub = page_address(t->page);
	qvk_telem_page_init(t, t->pub, false);
	if (t->coarse_pub)
		qvk_telem_page_init(t, t->coarse_pub, true);

	t->misc.minor = MISC_DYNAMIC_MINOR;
	t->misc.name = QVK_TELEM_DEVICE_NAME;
	t->misc.fops = &qvk_telem_fops;
	t->misc.groups = qvk_telem_groups;
	/* 0600 by default; with a group, 0640 for a udev rule to chgrp. */
	t->misc.mode = group >= 0 ? 0640 : 0600;
	err = misc_register(&t->misc);
	if (err) {
		pr_err("misc_register failed: %d\n", err);
		goto out_free_page;
	}
	qvk_telem_dev = t;
	pr_info("/dev/%s: %u domain(s), period %u us (%u..%u), sampling on CPU %d, access: %s\n",
		QVK_TELEM_DEVICE_NAME, t->n_domains, period_us,
		t->min_period_us, t->max_period_us, t->sample_cpu,
		group >= 0 ? "root and the group parameter" : "root only");
	if (t->coarse_page)
		pr_info("readers without CAP_SYS_ADMIN see energy in steps of %u uJ, at most every %u ms\n",
			t->coarse_step_uj, t->coarse_interval_ms);
	return 0;

out_free_page:
	__free_page(t->page);
out_free_clk:
	kfree(t->clk);
out_cpu_exit:
	qvk_telem_cpu_exit(t);
out_free_coarse:
	if (t->coarse_page)
		__free_page(t->coarse_page);
	kfree(t);
	return err;
}

static void __exit qvk_telem_exit(void)
{
	struct qvk_telem *t = qvk_telem_dev;

	/*
	 * Open files and mappings hold a module reference (fops.owner; a
	 * mapping holds its file), so nothing can reach the pages any more
	 * and the timer is stopped.
	 */
	misc_deregister(&t->misc);
	qvk_telem_cpu_exit(t);
	__free_page(t->page);
	if (t->coarse_page)
		__free_page(t->coarse_page);
	kfree(t->clk);
	kfree(t);
}

module_init(qvk_telem_init);
module_exit(qvk_telem_exit);

MODULE_DESCRIPTION("qvk energy and clock telemetry through a read-only mmap page");
MODULE_AUTHOR("qvk project");
MODULE_LICENSE("GPL");
MODULE_VERSION("0.1.0");
