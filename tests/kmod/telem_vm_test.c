// SPDX-License-Identifier: MIT
/*
 * The qvk_telem test program that runs inside the VM (static, as root),
 * written against the UAPI header only. Each test prints
 * "QVK_TEST <name> PASS" or "QVK_TEST <name> FAIL" after one
 * "QVK_CHECK_FAIL file:line: ..." line per failed check; run-vm-test.sh
 * reads those markers from the serial console.
 *
 *   telem_test [--rate-uw N] [--bits N] TEST...
 *
 * TEST: abi period torn wrap badioctl unpriv-refused unpriv-admitted
 * bench unload. The synthetic domain must be loaded (synthetic=1) with
 * the rate and width given here.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <uapi/linux/qvk_telem.h>

#define DEV "/dev/" QVK_TELEM_DEVICE_NAME
#define SYSFS_ENERGY "/sys/class/misc/" QVK_TELEM_DEVICE_NAME "/energy_uj"

/* The ABI is fixed-size and padded: the same layout on every ABI. */
_Static_assert(sizeof(struct qvk_telem_sample) == 88, "sample size");
_Static_assert(sizeof(struct qvk_telem_domain) == 56, "domain size");
_Static_assert(sizeof(struct qvk_telem_info) == 512, "info size");
_Static_assert(sizeof(struct qvk_telem_snapshot) == 104, "snapshot size");
_Static_assert(sizeof(struct qvk_telem_period) == 16, "period size");
_Static_assert(sizeof(struct qvk_telem_page) <= QVK_TELEM_MMAP_SIZE, "page");
_Static_assert(offsetof(struct qvk_telem_page, seq) == 8, "seq offset");
_Static_assert(offsetof(struct qvk_telem_page, sample) == 16, "sample offset");
_Static_assert(offsetof(struct qvk_telem_info, domains) == 64, "domains");

static int check_failures;
static __u64 rate_uw = 50000000;
static uint32_t counter_bits = 24;

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			printf("QVK_CHECK_FAIL %s:%d: ", __FILE__, __LINE__);  \
			printf(__VA_ARGS__);                                   \
			printf(" [%s]\n", #cond);                              \
			fflush(stdout);                                        \
			__atomic_fetch_add(&check_failures, 1,                 \
					   __ATOMIC_RELAXED);                  \
		}                                                              \
	} while (0)

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (__u64)ts.tv_sec * 1000000000ull + (__u64)ts.tv_nsec;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int dev_open(void)
{
	int fd = open(DEV, O_RDONLY | O_CLOEXEC);

	CHECK(fd >= 0, "open %s: %s", DEV, strerror(errno));
	return fd;
}

static const struct qvk_telem_page *page_map(int fd)
{
	void *p = mmap(NULL, QVK_TELEM_MMAP_SIZE, PROT_READ, MAP_SHARED, fd, 0);

	CHECK(p != MAP_FAILED, "mmap: %s", strerror(errno));
	return p == MAP_FAILED ? NULL : p;
}

/* The reader side of the seqcount, exactly as the UAPI header shows it. */
static void page_read(const struct qvk_telem_page *page,
		      struct qvk_telem_sample *s, __u64 *retries)
{
	uint32_t seq;

	for (;;) {
		seq = __atomic_load_n(&page->seq, __ATOMIC_ACQUIRE);
		if (!(seq & 1)) {
			memcpy(s, &page->sample, sizeof(*s));
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (__atomic_load_n(&page->seq, __ATOMIC_RELAXED) == seq)
				return;
		}
		if (retries)
			(*retries)++;
	}
}

static int info_get(int fd, struct qvk_telem_info *info)
{
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	return ioctl(fd, QVK_TELEM_IOC_INFO, info);
}

static int synth_index(int fd)
{
	struct qvk_telem_info info;

	if (info_get(fd, &info))
		return -1;
	for (uint32_t i = 0; i < info.n_domains; i++)
		if (info.domains[i].flags & QVK_TELEM_DOMAIN_SYNTHETIC)
			return (int)i;
	return -1;
}

/*
 * The synthetic counter is floor((t - t0) * rate / 1e9) uJ, so two samples
 * of one epoch differ by the ramp over their timestamps to within 1 uJ.
 * A torn sample (a timestamp of one sample with energy of another) is off
 * by rate * period: 50 000 uJ at 50 W and 1 ms.
 */
static bool ramp_ok(const struct qvk_telem_sample *a,
		    const struct qvk_telem_sample *b, int d, double *err_uj)
{
	__int128 de = (__int128)b->energy_uj[d] - a->energy_uj[d];
	__int128 dt = (__int128)b->timestamp_ns - a->timestamp_ns;
	__int128 diff = de * 1000000000 - dt * rate_uw;

	if (err_uj)
		*err_uj = (double)diff / 1e9;
	return a->epoch == b->epoch && diff > -1000000000 && diff < 1000000000;
}

/* ------------------------------------------------------------------ abi */
static void test_abi(void)
{
	struct qvk_telem_info info;
	const struct qvk_telem_page *page;
	int fd = dev_open(), d;

	if (fd < 0)
		return;
	CHECK(info_get(fd, &info) == 0, "INFO: %s", strerror(errno));
	CHECK(info.size == sizeof(info), "size %u", info.size);
	CHECK(info.abi_version == QVK_TELEM_ABI_VERSION, "abi %u", info.abi_version);
	CHECK(info.page_size == sizeof(struct qvk_telem_page), "page %u", info.page_size);
	CHECK(info.sample_size == sizeof(struct qvk_telem_sample), "sample %u",
	      info.sample_size);
	CHECK(info.mmap_size == QVK_TELEM_MMAP_SIZE, "mmap %u", info.mmap_size);
	CHECK(info.period_us == 1000, "period %u", info.period_us);
	CHECK(info.min_period_us <= 100 && info.max_period_us >= 1000,
	      "bounds %u..%u", info.min_period_us, info.max_period_us);
	CHECK(info.users == 1, "users %u", info.users);
	CHECK(info.n_domains >= 1 && info.n_domains <= QVK_TELEM_MAX_DOMAINS,
	      "n_domains %u", info.n_domains);
	CHECK(info.n_cpus >= 1, "n_cpus %u", info.n_cpus);
	printf("abi: version %u, page %u bytes, period %u us (%u..%u), %u CPUs, clock source %u\n",
	       info.abi_version, info.page_size, info.period_us,
	       info.min_period_us, info.max_period_us, info.n_cpus,
	       info.clock_source);
	for (uint32_t i = 0; i < info.n_domains && i < QVK_TELEM_MAX_DOMAINS; i++) {
		const struct qvk_telem_domain *dm = &info.domains[i];

		printf("abi: domain %u: %.16s kind %u flags %#x bits %u unit %llu"
		       " fJ wrap %llu" " uJ gap bound %llu" " ns\n",
		       i, dm->name, dm->kind, dm->flags, dm->counter_bits,
		       dm->unit_fj, dm->wrap_uj, dm->max_gap_ns);
		CHECK(memchr(dm->name, 0, sizeof(dm->name)) != NULL, "name unterminated");
	}
	d = synth_index(fd);
	CHECK(d >= 0, "no synthetic domain");
	if (d >= 0) {
		const struct qvk_telem_domain *dm = &info.domains[d];

		CHECK(!strcmp(dm->name, "synthetic"), "name %.16s", dm->name);
		CHECK(dm->kind == QVK_TELEM_KIND_SYNTHETIC, "kind %u", dm->kind);
		CHECK(dm->counter_bits == counter_bits, "bits %u", dm->counter_bits);
		CHECK(dm->unit_fj == 1000000000ull, "unit %llu", dm->unit_fj);
		CHECK(dm->wrap_uj == 1ull << counter_bits, "wrap %llu", dm->wrap_uj);
		CHECK(dm->msr == 0, "msr %#x", dm->msr);
	}
	page = page_map(fd);
	if (page) {
		CHECK(page->version == QVK_TELEM_ABI_VERSION, "page version %u", page->version);
		CHECK(page->size == sizeof(*page), "page size %u", page->size);
		CHECK(page->period_us == 1000, "page period %u", page->period_us);
		CHECK(page->n_cpus == info.n_cpus, "page n_cpus %u", page->n_cpus);
		CHECK(page->sample.n_domains == info.n_domains, "page n_domains");
		munmap((void *)page, QVK_TELEM_MMAP_SIZE);
	}
	close(fd);
}

/* --------------------------------------------------------------- period */
static void test_period(void)
{
	struct qvk_telem_sample s1, s2;
	struct qvk_telem_info info;
	const struct qvk_telem_page *page;
	__u64 count, closed_count, expect = 300;
	int fd = dev_open();

	if (fd < 0 || !(page = page_map(fd)))
		return;
	page_read(page, &s1, NULL);
	sleep_ms(300);
	page_read(page, &s2, NULL);
	count = s2.sample_count - s1.sample_count;
	printf("period: %llu" " samples in %.1f ms while open (1 ms period, %llu" " expected)\n",
	       count, (double)(s2.timestamp_ns - s1.timestamp_ns) / 1e6, expect);
	/* TCG delivers timers late under load; missing ones are tolerated. */
	CHECK(count >= expect / 4 && count <= expect * 3 / 2 + 5,
	      "%llu" " samples", count);
	CHECK(s2.timestamp_ns > s1.timestamp_ns, "timestamp did not move");
	closed_count = s2.sample_count;
	page_read(page, &s2, NULL);
	closed_count = s2.sample_count;
	munmap((void *)page, QVK_TELEM_MMAP_SIZE);
	close(fd);

	sleep_ms(300);
	fd = dev_open();
	if (fd < 0)
		return;
	CHECK(info_get(fd, &info) == 0, "INFO: %s", strerror(errno));
	printf("period: %llu" " samples while closed for 300 ms (0 expected, +1 for the reopen)\n",
	       info.sample_count - closed_count);
	CHECK(info.sample_count - closed_count <= 5,
	      "timer ran while closed: %llu" " samples",
	      info.sample_count - closed_count);
	close(fd);
}

/* ----------------------------------------------------------------- torn */
struct torn_reader {
	const struct qvk_telem_page *page;
	int domain;
	bool naive;                   /* no seqcount: the negative control */
	volatile bool *stop;
	__u64 reads, retries, changes, bad;
	double worst_uj;
};

static void *torn_reader_run(void *arg)
{
	struct torn_reader *r = arg;
	struct qvk_telem_sample prev, s;
	double err = 0;

	page_read(r->page, &prev, NULL);
	while (!*r->stop) {
		if (r->naive)
			memcpy(&s, (const void *)&r->page->sample, sizeof(s));
		else
			page_read(r->page, &s, &r->retries);
		r->reads++;
		if (s.sample_count == prev.sample_count)
			continue;
		r->changes++;
		if (!ramp_ok(&prev, &s, r->domain, &err) ||
		    s.sample_count < prev.sample_count ||
		    s.timestamp_ns < prev.timestamp_ns) {
			r->bad++;
		}
		if (err > r->worst_uj || -err > r->worst_uj)
			r->worst_uj = err < 0 ? -err : err;
		prev = s;
	}
	return NULL;
}

static int set_period(int fd, uint32_t us)
{
	struct qvk_telem_period p = { .size = sizeof(p), .period_us = us };

	return ioctl(fd, QVK_TELEM_IOC_SET_PERIOD, &p);
}

static void *snapshot_hammer(void *arg)
{
	struct torn_reader *r = arg;
	struct qvk_telem_snapshot snap;
	int fd = open(DEV, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	while (!*r->stop) {
		memset(&snap, 0, sizeof(snap));
		snap.size = sizeof(snap);
		if (ioctl(fd, QVK_TELEM_IOC_SNAPSHOT, &snap))
			r->bad++;
		r->reads++;
	}
	close(fd);
	return NULL;
}

static void test_torn(void)
{
	struct torn_reader r[4];
	pthread_t th[4];
	volatile bool stop = false;
	const struct qvk_telem_page *page;
	int fd = dev_open(), d;

	if (fd < 0 || !(page = page_map(fd)))
		return;
	d = synth_index(fd);
	CHECK(set_period(fd, 100) == 0, "SET_PERIOD 100: %s", strerror(errno));
	for (int i = 0; i < 4; i++)
		r[i] = (struct torn_reader){ .page = page, .domain = d,
					     .naive = i == 2, .stop = &stop };
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, torn_reader_run, &r[i]);
	pthread_create(&th[3], NULL, snapshot_hammer, &r[3]);
	sleep_ms(1000);
	stop = true;
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	CHECK(set_period(fd, 1000) == 0, "SET_PERIOD 1000: %s", strerror(errno));

	for (int i = 0; i < 2; i++) {
		printf("torn: reader %d: %llu" " reads, %llu" " retries, %llu"
		       " new samples, %llu" " inconsistent, worst ramp error %.3f uJ\n",
		       i, r[i].reads, r[i].retries, r[i].changes, r[i].bad, r[i].worst_uj);
		CHECK(r[i].bad == 0, "reader %d saw %llu" " torn samples", i, r[i].bad);
		CHECK(r[i].changes >= 100, "reader %d saw only %llu" " samples", i,
		      r[i].changes);
	}
	printf("torn: control without the seqcount: %llu" " reads, %llu"
	       " inconsistent (informative; may be 0)\n", r[2].reads, r[2].bad);
	printf("torn: %llu" " concurrent SNAPSHOT ioctls, %llu" " failed\n",
	       r[3].reads, r[3].bad);
	CHECK(r[3].bad == 0 && r[3].reads > 0, "snapshots failed");
	munmap((void *)page, QVK_TELEM_MMAP_SIZE);
	close(fd);
}

/* ----------------------------------------------------------------- wrap */
static void test_wrap(void)
{
	struct qvk_telem_snapshot snap;
	struct qvk_telem_sample s0, prev, s;
	const struct qvk_telem_page *page;
	__u64 wrap = 1ull << counter_bits, t_end, pairs = 0;
	double err, worst = 0;
	int fd = dev_open(), d;

	if (fd < 0 || !(page = page_map(fd)))
		return;
	d = synth_index(fd);
	if (d < 0)
		return;
	page_read(page, &s0, NULL);
	prev = s0;
	/* Three wraps take 1 s at 50 W with 24 bits; give up after 3 s. */
	t_end = now_ns() + 3000000000ull;
	while (now_ns() < t_end) {
		sleep_ms(5);
		page_read(page, &s, NULL);
		if (s.sample_count == prev.sample_count)
			continue;
		CHECK(ramp_ok(&prev, &s, d, &err),
		      "ramp broken: %llu" " -> %llu" " uJ over %llu"
		      " ns, epoch %u -> %u", prev.energy_uj[d], s.energy_uj[d],
		      s.timestamp_ns - prev.timestamp_ns, prev.epoch, s.epoch);
		worst = err > worst ? err : -err > worst ? -err : worst;
		pairs++;
		prev = s;
		if (s.energy_uj[d] - s0.energy_uj[d] > 3 * wrap)
			break;
	}
	CHECK(s.energy_uj[d] - s0.energy_uj[d] > 3 * wrap,
	      "only %llu" " uJ in 3 s", s.energy_uj[d] - s0.energy_uj[d]);
	CHECK(ramp_ok(&s0, &s, d, &err), "whole-run ramp error %.3f uJ", err);
	printf("wrap: %llu" " uJ = %.2f counter wraps over %.3f s, ramp exact to %.3f uJ over %llu"
	       " sample pairs (end to end %.3f uJ)\n",
	       s.energy_uj[d] - s0.energy_uj[d],
	       (double)(s.energy_uj[d] - s0.energy_uj[d]) / (double)wrap,
	       (double)(s.timestamp_ns - s0.timestamp_ns) / 1e9, worst, pairs, err);

	memset(&snap, 0, sizeof(snap));
	snap.size = sizeof(snap);
	CHECK(ioctl(fd, QVK_TELEM_IOC_SNAPSHOT, &snap) == 0, "SNAPSHOT: %s",
	      strerror(errno));
	CHECK(snap.size == sizeof(snap), "snapshot size %u", snap.size);
	CHECK(ramp_ok(&s0, &snap.sample, d, &err), "snapshot off the ramp by %.3f uJ",
	      err);
	CHECK(snap.sample.sample_count > s.sample_count, "snapshot count");
	munmap((void *)page, QVK_TELEM_MMAP_SIZE);
	close(fd);
}

/* ------------------------------------------------------------- badioctl */
static void expect_errno(int ret, int want, const char *what)
{
	CHECK(ret == -1 && errno == want, "%s: returned %d errno %d (%s), want %s",
	      what, ret, ret ? errno : 0, ret ? strerror(errno) : "ok",
	      strerror(want));
}

static void test_badioctl(void)
{
	struct {
		struct qvk_telem_info info;
		uint8_t tail[64];
	} big;
	struct qvk_telem_info info;
	struct qvk_telem_snapshot snap;
	struct qvk_telem_period per;
	void *p;
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

static void test_unpriv_refused(void)
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
static void test_unpriv_admitted(void)
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
static void test_unload(void)
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
static double bench_sysfs_pread(const char *path, int n)
{
	char buf[256];
	__u64 t0, sink = 0;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -1;
	t0 = now_ns();
	for (int i = 0; i < n; i++) {
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
	return (double)(now_ns() - t0) / n;
}

static double bench_sysfs_open_read(const char *path, int n)
{
	char buf[256];
	__u64 t0 = now_ns(), sink = 0;

	for (int i = 0; i < n; i++) {
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
	return (double)(now_ns() - t0) / n;
}

static void test_bench(void)
{
	const int n_map = 1000000, n_sys = 20000;
	struct qvk_telem_sample s;
	struct qvk_telem_snapshot snap;
	const struct qvk_telem_page *page;
	__u64 t0, sink = 0;
	double map_ns, ioctl_ns, clock_ns, pread_ns, open_ns;
	char powercap[128];
	int fd = dev_open();

	if (fd < 0 || !(page = page_map(fd)))
		return;
	t0 = now_ns();
	for (int i = 0; i < n_map; i++) {
		page_read(page, &s, NULL);
		sink += s.energy_uj[0];
	}
	map_ns = (double)(now_ns() - t0) / n_map;
	t0 = now_ns();
	for (int i = 0; i < n_map; i++)
		sink += now_ns();
	clock_ns = (double)(now_ns() - t0) / n_map;
	t0 = now_ns();
	for (int i = 0; i < n_sys; i++) {
		memset(&snap, 0, sizeof(snap));
		snap.size = sizeof(snap);
		if (ioctl(fd, QVK_TELEM_IOC_SNAPSHOT, &snap))
			break;
		sink += snap.sample.energy_uj[0];
	}
	ioctl_ns = (double)(now_ns() - t0) / n_sys;
	__asm__ volatile("" : : "r"(sink));
	pread_ns = bench_sysfs_pread(SYSFS_ENERGY, n_sys);
	open_ns = bench_sysfs_open_read(SYSFS_ENERGY, n_sys / 4);
	CHECK(pread_ns > 0 && open_ns > 0, "cannot read %s", SYSFS_ENERGY);
	CHECK(map_ns > 0 && map_ns < ioctl_ns, "mmap %.1f ns vs ioctl %.1f ns",
	      map_ns, ioctl_ns);

	printf("QVK_BENCH where=qemu-tcg-smp2 (emulated CPU: absolute numbers are TCG's, compare ratios)\n");
	printf("QVK_BENCH mmap_seqcount_read_ns=%.1f (page read under the seqcount, %d reads)\n",
	       map_ns, n_map);
	printf("QVK_BENCH clock_gettime_vdso_ns=%.1f (reference: a vDSO call)\n", clock_ns);
	printf("QVK_BENCH ioctl_snapshot_ns=%.1f (QVK_TELEM_IOC_SNAPSHOT, synchronous sample, %d calls)\n",
	       ioctl_ns, n_sys);
	printf("QVK_BENCH sysfs_pread_ns=%.1f (pread()+strtoull of %s on a kept fd, synchronous sample like powercap energy_uj, %d reads)\n",
	       pread_ns, SYSFS_ENERGY, n_sys);
	printf("QVK_BENCH sysfs_open_read_close_ns=%.1f (open+read+close of the same file each time, %d reads)\n",
	       open_ns, n_sys / 4);
	snprintf(powercap, sizeof(powercap),
		 "/sys/class/powercap/intel-rapl:0/energy_uj");
	if (access(powercap, R_OK) == 0)
		printf("QVK_BENCH powercap_pread_ns=%.1f (%s)\n",
		       bench_sysfs_pread(powercap, n_sys), powercap);
	else
		printf("QVK_BENCH powercap: %s absent in the VM (no RAPL under TCG); the module's sysfs energy_uj stands in\n",
		       powercap);
	printf("QVK_BENCH ratio sysfs_pread/mmap=%.0fx ioctl/mmap=%.0fx\n",
	       pread_ns / map_ns, ioctl_ns / map_ns);
	munmap((void *)page, QVK_TELEM_MMAP_SIZE);
	close(fd);
}

/* ----------------------------------------------------------------- main */
static const struct {
	const char *name;
	void (*fn)(void);
} tests[] = {
	{ "abi", test_abi },
	{ "period", test_period },
	{ "torn", test_torn },
	{ "wrap", test_wrap },
	{ "badioctl", test_badioctl },
	{ "unpriv-refused", test_unpriv_refused },
	{ "unpriv-admitted", test_unpriv_admitted },
	{ "bench", test_bench },
	{ "unload", test_unload },
};

int main(int argc, char **argv)
{
	int status = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool found = false;

		if (!strcmp(a, "--rate-uw") && i + 1 < argc) {
			rate_uw = strtoull(argv[++i], NULL, 10);
			continue;
		}
		if (!strcmp(a, "--bits") && i + 1 < argc) {
			counter_bits = (uint32_t)strtoul(argv[++i], NULL, 10);
			continue;
		}
		for (size_t t = 0; t < sizeof(tests) / sizeof(tests[0]); t++) {
			int before = check_failures;

			if (strcmp(a, tests[t].name))
				continue;
			found = true;
			tests[t].fn();
			printf("QVK_TEST %s %s\n", a,
			       check_failures == before ? "PASS" : "FAIL");
			if (check_failures != before)
				status = 1;
		}
		if (!found) {
			printf("QVK_TEST %s FAIL: unknown test\n", a);
			status = 1;
		}
	}
	return status;
}
