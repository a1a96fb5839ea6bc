// SPDX-License-Identifier: MIT
/*
 * qvk_telem VM tests of what must be refused or survive: every bad ioctl
 * and mmap, unprivileged readers with and without group=, unloading with a
 * live mapping; and the read-cost benchmark (mmap vs ioctl vs sysfs).
 */
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "telem_vm.h"

/* ------------------------------------------------------------- badioctl */
static void expect_errno(int ret, int want, const char *what)
{
	CHECK(ret == -1 && errno == want, "%s: returned %d errno %d (%s), want %s",
	      what, ret, ret ? errno : 0, ret ? strerror(errno) : "ok",
	      strerror(want));
}

void test_badioctl(void)
{
	struct {
		struct qvk_telem_info info;
		uint8_t tail[64];
	} big;
	struct qvk_telem_info info;
	struct qvk_telem_snapshot snap;
	struct qvk_telem_period per;
	void *p, *huge;
	int fd = dev_open();

	if (fd < 0)
		return;
	expect_errno(ioctl(fd, _IO(QVK_TELEM_IOC_MAGIC, 0x7f)), ENOTTY, "unknown nr");
	expect_errno(ioctl(fd, _IOWR('x', 0x01, struct qvk_telem_info), &info),
		     ENOTTY, "wrong magic");

	memset(&info, 0, sizeof(info));
	info.size = 8;
	expect_errno(ioctl(fd, QVK_TELEM_IOC_INFO, &info), EINVAL, "short size");
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	info.flags = 1;
	expect_errno(ioctl(fd, QVK_TELEM_IOC_INFO, &info), EINVAL, "info flags");
	info.flags = 0;
	info.reserved0 = 1;
	expect_errno(ioctl(fd, QVK_TELEM_IOC_INFO, &info), EINVAL, "info reserved");
	/* The direction bits are part of the number (size bits are not). */
	memset(&info, 0, sizeof(info));
	info.size = sizeof(info);
	expect_errno(ioctl(fd, _IO(QVK_TELEM_IOC_MAGIC, 0x01), &info), ENOTTY, "_IO INFO");
	expect_errno(ioctl(fd, _IOR(QVK_TELEM_IOC_MAGIC, 0x01, struct qvk_telem_info), &info),
		     ENOTTY, "_IOR INFO");
	expect_errno(ioctl(fd, _IOW(QVK_TELEM_IOC_MAGIC, 0x01, struct qvk_telem_info), &info),
		     ENOTTY, "_IOW INFO");
	memset(&snap, 0, sizeof(snap));
	snap.size = sizeof(snap);
	expect_errno(ioctl(fd, _IO(QVK_TELEM_IOC_MAGIC, 0x02), &snap), ENOTTY, "_IO SNAPSHOT");
	expect_errno(ioctl(fd, _IOR(QVK_TELEM_IOC_MAGIC, 0x02, struct qvk_telem_snapshot),
			   &snap), ENOTTY, "_IOR SNAPSHOT");
	per = (struct qvk_telem_period){ .size = sizeof(per), .period_us = 1000 };
	expect_errno(ioctl(fd, _IOWR(QVK_TELEM_IOC_MAGIC, 0x03, struct qvk_telem_period),
			   &per), ENOTTY, "_IOWR SET_PERIOD");
	/* Other size bits are fine: the size field rules. */
	CHECK(ioctl(fd, _IOWR(QVK_TELEM_IOC_MAGIC, 0x01, struct qvk_telem_snapshot),
		    &info) == 0, "INFO with other size bits: %s", strerror(errno));

	/* A size field past a page: refused before any tail is scanned. */
	huge = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(huge != MAP_FAILED, "mmap 1 MiB: %s", strerror(errno));
	if (huge != MAP_FAILED) {
		struct qvk_telem_info *hi = huge;

		hi->size = 4096; /* a page with a zero tail: a grown struct */
		CHECK(ioctl(fd, QVK_TELEM_IOC_INFO, hi) == 0, "INFO size 4096: %s",
		      strerror(errno));
		hi->size = 4097;
		expect_errno(ioctl(fd, QVK_TELEM_IOC_INFO, hi), EINVAL, "INFO size 4097");
		hi->size = 1 << 20;
		expect_errno(ioctl(fd, QVK_TELEM_IOC_INFO, hi), EINVAL, "INFO size 1 MiB");
		hi->size = 0xffffffffu;
		expect_errno(ioctl(fd, QVK_TELEM_IOC_INFO, hi), EINVAL, "INFO size 4 GiB");
		munmap(huge, 1 << 20);
	}

	expect_errno(ioctl(fd, QVK_TELEM_IOC_INFO, NULL), EFAULT, "NULL pointer");
	expect_errno(ioctl(fd, QVK_TELEM_IOC_INFO, (void *)16), EFAULT, "bad pointer");

	/* A newer, larger struct: fine with a zero tail, refused otherwise. */
	memset(&big, 0, sizeof(big));
	big.info.size = sizeof(big);
	CHECK(ioctl(fd, QVK_TELEM_IOC_INFO, &big) == 0, "grown INFO: %s", strerror(errno));
	CHECK(big.info.size == sizeof(big.info), "grown INFO size %u", big.info.size);
	memset(&big, 0, sizeof(big));
	big.info.size = sizeof(big);
	big.tail[10] = 1;
	expect_errno(ioctl(fd, QVK_TELEM_IOC_INFO, &big), EINVAL, "nonzero tail");

	memset(&snap, 0, sizeof(snap));
	snap.size = sizeof(snap);
	snap.reserved1 = 1;
	expect_errno(ioctl(fd, QVK_TELEM_IOC_SNAPSHOT, &snap), EINVAL, "snapshot reserved");
	snap.reserved1 = 0;
	snap.flags = 0x80000000u;
	expect_errno(ioctl(fd, QVK_TELEM_IOC_SNAPSHOT, &snap), EINVAL, "snapshot flags");
	snap.flags = 0;
	snap.size = sizeof(snap) - 8;
	expect_errno(ioctl(fd, QVK_TELEM_IOC_SNAPSHOT, &snap), EINVAL, "snapshot size");

	expect_errno(set_period(fd, 50), EINVAL, "period below minimum");
	expect_errno(set_period(fd, 2000000), EINVAL, "period above maximum");
	per = (struct qvk_telem_period){ .size = sizeof(per), .flags = 2,
					 .period_us = 1000 };
	expect_errno(ioctl(fd, QVK_TELEM_IOC_SET_PERIOD, &per), EINVAL, "period flags");
	per.flags = 0;
	per.reserved0 = 7;
	expect_errno(ioctl(fd, QVK_TELEM_IOC_SET_PERIOD, &per), EINVAL, "period reserved");

	/* mmap: only one read-only page at offset 0. */
	p = mmap(NULL, QVK_TELEM_MMAP_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	expect_errno(p == MAP_FAILED ? -1 : 0, EPERM, "private writable mmap");
	p = mmap(NULL, QVK_TELEM_MMAP_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	expect_errno(p == MAP_FAILED ? -1 : 0, EACCES, "shared writable mmap of O_RDONLY");
	p = mmap(NULL, QVK_TELEM_MMAP_SIZE, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
	expect_errno(p == MAP_FAILED ? -1 : 0, EPERM, "executable mmap");
	p = mmap(NULL, 2 * QVK_TELEM_MMAP_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	expect_errno(p == MAP_FAILED ? -1 : 0, EINVAL, "oversized mmap");
	p = mmap(NULL, QVK_TELEM_MMAP_SIZE + 1, PROT_READ, MAP_SHARED, fd, 0);
	expect_errno(p == MAP_FAILED ? -1 : 0, EINVAL, "mmap of 4097 bytes");
	/* mmap() rounds 100 bytes up to the page: the whole page, read-only. */
	p = mmap(NULL, 100, PROT_READ, MAP_SHARED, fd, 0);
	CHECK(p != MAP_FAILED, "mmap of 100 bytes: %s", strerror(errno));
	if (p != MAP_FAILED) {
		const struct qvk_telem_page *pg = p;

		CHECK(pg->version == QVK_TELEM_ABI_VERSION && pg->size == sizeof(*pg),
		      "100-byte mapping: version %u size %u", pg->version, pg->size);
		expect_errno(mprotect(p, 100, PROT_READ | PROT_WRITE), EACCES,
			     "mprotect of the 100-byte mapping");
		munmap(p, 100);
	}
	p = mmap(NULL, QVK_TELEM_MMAP_SIZE, PROT_READ, MAP_SHARED, fd,
		 QVK_TELEM_MMAP_SIZE);
	expect_errno(p == MAP_FAILED ? -1 : 0, EINVAL, "mmap at offset 4096");
	p = mmap(NULL, QVK_TELEM_MMAP_SIZE, PROT_READ, MAP_PRIVATE, fd, 0);
	CHECK(p != MAP_FAILED, "private read-only mmap: %s", strerror(errno));
	if (p != MAP_FAILED) {
		expect_errno(mprotect(p, QVK_TELEM_MMAP_SIZE, PROT_READ | PROT_WRITE),
			     EACCES, "mprotect to writable");
		munmap(p, QVK_TELEM_MMAP_SIZE);
	}
	close(fd);
	expect_errno(open(DEV, O_RDWR), EPERM, "open O_RDWR");
	expect_errno(open(DEV, O_WRONLY), EPERM, "open O_WRONLY");
}

/* ------------------------------------------------------- unprivileged */
/*
 * Fork, drop to @uid/@gid with @groups, open the node and, when that
 * works, read the page and try to change the period. Returns the open
 * errno (0 when admitted) or -1 when the child itself failed.
 */
static int child_open(uid_t uid, gid_t gid, const gid_t *groups, int ngroups,
		      int *set_period_errno)
{
	int status, pipefd[2], res[2] = { -1, -1 };
	pid_t pid;

	if (pipe(pipefd))
		return -1;
	pid = fork();
	if (pid == 0) {
		int fd;

		res[0] = -1;
		if (setgroups((size_t)ngroups, groups) || setgid(gid) || setuid(uid))
			_exit(1);
		fd = open(DEV, O_RDONLY);
		res[0] = fd < 0 ? errno : 0;
		if (fd >= 0) {
			const struct qvk_telem_page *page =
				mmap(NULL, QVK_TELEM_MMAP_SIZE, PROT_READ,
				     MAP_SHARED, fd, 0);
			struct qvk_telem_sample s;

			if (page == MAP_FAILED)
				_exit(2);
			page_read(page, &s, NULL);
			if (page->version != QVK_TELEM_ABI_VERSION)
				_exit(3);
			res[1] = set_period(fd, 500) ? errno : 0;
		}
		if (write(pipefd[1], res, sizeof(res)) != sizeof(res))
			_exit(4);
		_exit(0);
	}
	close(pipefd[1]);
	if (pid < 0 || read(pipefd[0], res, sizeof(res)) != sizeof(res))
		res[0] = -1;
	close(pipefd[0]);
	if (pid > 0)
		waitpid(pid, &status, 0);
	if (set_period_errno)
		*set_period_errno = res[1];
	return res[0];
}

void test_unpriv_refused(void)
{
	int err;

	err = child_open(1000, 1000, NULL, 0, NULL);
	printf("unpriv-refused: uid 1000 on the 0600 node: %s\n", strerror(err));
	CHECK(err == EACCES, "default node admitted uid 1000 (open errno %d)", err);

	/* A node opened up by mistake: the module's own check still refuses. */
	CHECK(chmod(DEV, 0666) == 0, "chmod: %s", strerror(errno));
	err = child_open(1000, 1000, NULL, 0, NULL);
	printf("unpriv-refused: uid 1000 on a 0666 node without group=: %s\n",
	       strerror(err));
	CHECK(err == EPERM, "module admitted uid 1000 without group= (errno %d)", err);
	CHECK(chmod(DEV, 0600) == 0, "chmod back: %s", strerror(errno));
}

/* Module loaded with group=1000 and the node chgrp'ed to 1000 (udev). */
void test_unpriv_admitted(void)
{
	const gid_t member[] = { 1000 };
	const gid_t other[] = { 1002 };
	struct stat st;
	int err, per_err = -1;

	CHECK(stat(DEV, &st) == 0, "stat: %s", strerror(errno));
	printf("unpriv-admitted: node mode %o gid %u\n", st.st_mode & 07777, st.st_gid);
	CHECK((st.st_mode & 07777) == 0640, "node mode %o, want 0640", st.st_mode & 07777);

	err = child_open(1001, 1001, member, 1, &per_err);
	printf("unpriv-admitted: uid 1001 in group 1000: open %s, SET_PERIOD %s\n",
	       err ? strerror(err) : "ok", per_err ? strerror(per_err) : "ok");
	CHECK(err == 0, "group member refused (errno %d)", err);
	CHECK(per_err == EPERM, "group member changed the period (errno %d)", per_err);

	err = child_open(1002, 1002, other, 1, NULL);
	CHECK(err == EACCES, "non-member admitted through the node (errno %d)", err);
	CHECK(chmod(DEV, 0644) == 0, "chmod: %s", strerror(errno));
	err = child_open(1002, 1002, other, 1, NULL);
	printf("unpriv-admitted: uid 1002 outside the group on a 0644 node: %s\n",
	       strerror(err));
	CHECK(err == EPERM, "non-member admitted by the module (errno %d)", err);
	CHECK(chmod(DEV, 0640) == 0, "chmod back: %s", strerror(errno));
}

/* --------------------------------------------------------------- unload */
void test_unload(void)
{
	struct qvk_telem_sample s1, s2;
	const struct qvk_telem_page *page;
	struct stat st;
	int fd = dev_open(), ret;

	if (fd < 0 || !(page = page_map(fd)))
		return;
	close(fd); /* the mapping alone keeps the file, and the module */
	page_read(page, &s1, NULL);
	ret = (int)syscall(SYS_delete_module, "qvk_telem", O_NONBLOCK);
	CHECK(ret == -1 && (errno == EAGAIN || errno == EBUSY),
	      "unload with a live mapping: ret %d errno %d", ret, errno);
	printf("unload: with the page mapped: %s\n", ret ? strerror(errno) : "unloaded!");
	sleep_ms(50);
	page_read(page, &s2, NULL);
	CHECK(s2.sample_count > s1.sample_count, "page stopped while mapped");
	munmap((void *)page, QVK_TELEM_MMAP_SIZE);
	ret = (int)syscall(SYS_delete_module, "qvk_telem", O_NONBLOCK);
	CHECK(ret == 0, "unload after munmap: %s", strerror(errno));
	CHECK(stat(DEV, &st) == -1 && errno == ENOENT, "node still there");
	printf("unload: after munmap: %s\n", ret ? strerror(errno) : "unloaded");
}

/* ---------------------------------------------------------------- bench */
/*
 * Each measurement runs @n times or for BENCH_BUDGET_NS, whichever comes
 * first, so that a slow (loaded) TCG host shortens the benchmark instead
 * of timing the VM out; the counts are printed with the results.
 */
#define BENCH_BUDGET_NS 400000000ull

static double bench_sysfs_pread(const char *path, int n, int *done)
{
	char buf[256];
	__u64 t0, t_end, sink = 0;
	int fd = open(path, O_RDONLY), i;

	if (fd < 0)
		return -1;
	t0 = now_ns();
	t_end = t0 + BENCH_BUDGET_NS;
	for (i = 0; i < n && (i & 63 || now_ns() < t_end); i++) {
		ssize_t len = pread(fd, buf, sizeof(buf) - 1, 0);

		if (len <= 0) {
			close(fd);
			return -1;
		}
		buf[len] = 0;
		sink += strtoull(buf, NULL, 10);
	}
	close(fd);
	__asm__ volatile("" : : "r"(sink));
	*done = i;
	return (double)(now_ns() - t0) / i;
}

static double bench_sysfs_open_read(const char *path, int n, int *done)
{
	char buf[256];
	__u64 t0 = now_ns(), t_end = t0 + BENCH_BUDGET_NS, sink = 0;
	int i;

	for (i = 0; i < n && (i & 15 || now_ns() < t_end); i++) {
		int fd = open(path, O_RDONLY);
		ssize_t len;

		if (fd < 0)
			return -1;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			return -1;
		buf[len] = 0;
		sink += strtoull(buf, NULL, 10);
	}
	__asm__ volatile("" : : "r"(sink));
	*done = i;
	return (double)(now_ns() - t0) / i;
}

/*
 * One pass of the benchmark with the reader pinned to @cpu. The snapshot
 * ioctl and the sysfs read sample on the timer's CPU (0): from another CPU
 * they wait for an IPI, which is slow under TCG.
 */
static void bench_on_cpu(int cpu, const struct qvk_telem_page *page, int fd)
{
	const int n_map = 1000000, n_sys = 20000;
	struct qvk_telem_sample s;
	struct qvk_telem_snapshot snap;
	__u64 t0, t_end, sink = 0;
	double map_ns, ioctl_ns, clock_ns, pread_ns, open_ns;
	int i_map, i_clock, i_ioctl, i_pread = 0, i_open = 0;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	CHECK(sched_setaffinity(0, sizeof(set), &set) == 0, "pin to CPU %d: %s", cpu,
	      strerror(errno));
	t0 = now_ns();
	t_end = t0 + BENCH_BUDGET_NS;
	for (i_map = 0; i_map < n_map && (i_map & 1023 || now_ns() < t_end); i_map++) {
		page_read(page, &s, NULL);
		sink += s.energy_uj[0];
	}
	map_ns = (double)(now_ns() - t0) / i_map;
	t0 = now_ns();
	t_end = t0 + BENCH_BUDGET_NS;
	for (i_clock = 0; i_clock < n_map && (i_clock & 1023 || now_ns() < t_end); i_clock++)
		sink += now_ns();
	clock_ns = (double)(now_ns() - t0) / i_clock;
	t0 = now_ns();
	t_end = t0 + BENCH_BUDGET_NS;
	for (i_ioctl = 0; i_ioctl < n_sys && (i_ioctl & 63 || now_ns() < t_end); i_ioctl++) {
		memset(&snap, 0, sizeof(snap));
		snap.size = sizeof(snap);
		if (ioctl(fd, QVK_TELEM_IOC_SNAPSHOT, &snap))
			break;
		sink += snap.sample.energy_uj[0];
	}
	ioctl_ns = (double)(now_ns() - t0) / (i_ioctl ? i_ioctl : 1);
	__asm__ volatile("" : : "r"(sink));
	pread_ns = bench_sysfs_pread(SYSFS_ENERGY, n_sys, &i_pread);
	open_ns = bench_sysfs_open_read(SYSFS_ENERGY, n_sys / 4, &i_open);
	CHECK(pread_ns > 0 && open_ns > 0, "cannot read %s", SYSFS_ENERGY);
	CHECK(i_ioctl > 0, "SNAPSHOT: %s", strerror(errno));
	CHECK(map_ns > 0 && map_ns < ioctl_ns, "mmap %.1f ns vs ioctl %.1f ns",
	      map_ns, ioctl_ns);

	printf("QVK_BENCH cpu=%d mmap_seqcount_read_ns=%.1f (page read under the seqcount, %d reads)\n",
	       cpu, map_ns, i_map);
	printf("QVK_BENCH cpu=%d clock_gettime_ns=%.1f (reference, %d calls)\n", cpu, clock_ns,
	       i_clock);
	printf("QVK_BENCH cpu=%d ioctl_snapshot_ns=%.1f (QVK_TELEM_IOC_SNAPSHOT, synchronous sample, %d calls)\n",
	       cpu, ioctl_ns, i_ioctl);
	printf("QVK_BENCH cpu=%d sysfs_pread_ns=%.1f (pread()+strtoull of %s on a kept fd, synchronous sample like powercap energy_uj, %d reads)\n",
	       cpu, pread_ns, SYSFS_ENERGY, i_pread);
	printf("QVK_BENCH cpu=%d sysfs_open_read_close_ns=%.1f (open+read+close each time, %d reads)\n",
	       cpu, open_ns, i_open);
	printf("QVK_BENCH cpu=%d ratio sysfs_pread/mmap=%.0fx ioctl/mmap=%.0fx\n", cpu,
	       pread_ns / map_ns, ioctl_ns / map_ns);
}

void test_bench(void)
{
	const char *powercap = "/sys/class/powercap/intel-rapl:0/energy_uj";
	const struct qvk_telem_page *page;
	cpu_set_t all;
	int fd = dev_open();

	if (fd < 0 || !(page = page_map(fd)))
		return;
	CHECK(sched_getaffinity(0, sizeof(all), &all) == 0, "affinity");
	printf("QVK_BENCH where=qemu-tcg-smp2 (emulated CPU: absolute numbers are TCG's, compare ratios; the timer samples on CPU 0)\n");
	for (int cpu = 0; cpu < 2 && cpu < CPU_COUNT(&all); cpu++)
		bench_on_cpu(cpu, page, fd);
	sched_setaffinity(0, sizeof(all), &all);
	if (access(powercap, R_OK) == 0) {
		int n = 0;
		double ns = bench_sysfs_pread(powercap, 20000, &n);

		printf("QVK_BENCH powercap_pread_ns=%.1f (%s, %d reads)\n", ns, powercap, n);
	}
	else
		printf("QVK_BENCH powercap: %s absent in the VM (no RAPL under TCG); the module's sysfs energy_uj stands in\n",
		       powercap);
	munmap((void *)page, QVK_TELEM_MMAP_SIZE);
	close(fd);
}

