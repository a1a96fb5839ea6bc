// SPDX-License-Identifier: MIT
/*
 * qvk_telem VM tests of the sampling policy: the sampling CPU going
 * offline (with the device closed, and while it is open and mapped), and
 * the coarse page that readers without CAP_SYS_ADMIN get when the module
 * is loaded with unpriv_step_uj/unpriv_interval_ms (PLATYPUS).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "telem_vm.h"

/* -------------------------------------------------------------- hotplug */
/* Load on CPU 1 when the module knows cpu= (older ones sample on CPU 0). */
static int hotplug_load(void)
{
	if (mod_load("synthetic=1 cpu=1") == 0)
		return 0;
	printf("hotplug: cpu=1 refused (%s): loading on the default CPU\n", strerror(errno));
	return mod_load("synthetic=1");
}

static unsigned page_sample_cpu(const struct qvk_telem_page *p)
{
	return __atomic_load_n(&p->sample_cpu, __ATOMIC_RELAXED);
}

/* The device works: the page moves, SNAPSHOT and sysfs answer. */
static void hotplug_works(int fd, const struct qvk_telem_page *page, const char *when)
{
	struct qvk_telem_snapshot snap;
	struct qvk_telem_sample s1, s2;
	char buf[64];
	int sfd;

	unsigned int waited_ms = 0;

	/* 100 ms gives ~100 samples; TCG under host load can give 1, so a
	 * page that moves slowly is waited for, up to 2 s, before it counts
	 * as stopped. */
	page_read(page, &s1, NULL);
	do {
		sleep_ms(100);
		waited_ms += 100;
		page_read(page, &s2, NULL);
	} while (s2.sample_count < s1.sample_count + 5 && waited_ms < 2000);
	printf("hotplug: %s: %llu samples in %u ms on CPU %u, %u move(s), epoch %u\n",
	       when, s2.sample_count - s1.sample_count, waited_ms, page_sample_cpu(page),
	       page->cpu_moves, s2.epoch);
	CHECK(s2.sample_count >= s1.sample_count + 5, "%s: page stopped (%llu -> %llu)",
	      when, s1.sample_count, s2.sample_count);
	memset(&snap, 0, sizeof(snap));
	snap.size = sizeof(snap);
	CHECK(ioctl(fd, QVK_TELEM_IOC_SNAPSHOT, &snap) == 0, "%s: SNAPSHOT: %s", when,
	      strerror(errno));
	sfd = open(SYSFS_ENERGY, O_RDONLY | O_CLOEXEC);
	CHECK(sfd >= 0 && read(sfd, buf, sizeof(buf)) > 0, "%s: sysfs energy_uj: %s", when,
	      strerror(errno));
	if (sfd >= 0)
		close(sfd);
}

void test_hotplug(void)
{
	const struct qvk_telem_page *page;
	struct qvk_telem_sample s1, s2;
	unsigned cpu;
	int fd;

	/* Closed: the sampling CPU goes away, then the device is opened. */
	if (hotplug_load()) {
		CHECK(0, "load: %s", strerror(errno));
		return;
	}
	fd = dev_open();
	if (fd < 0 || !(page = page_map(fd)))
		goto out_unload;
	cpu = page_sample_cpu(page);
	munmap((void *)page, QVK_TELEM_MMAP_SIZE);
	close(fd);
	printf("hotplug: sampling on CPU %u; taking it offline with the device closed\n", cpu);
	if (cpu_set_online(cpu, false)) {
		CHECK(0, "cannot take CPU %u offline: %s", cpu, strerror(errno));
		goto out_unload;
	}
	fd = open(DEV, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0, "open after CPU %u went offline: %s", cpu, strerror(errno));
	if (fd >= 0 && (page = page_map(fd))) {
		hotplug_works(fd, page, "closed, then opened");
		CHECK(page_sample_cpu(page) != cpu && page->cpu_moves == 1,
		      "page says CPU %u, %u moves", page_sample_cpu(page), page->cpu_moves);
		munmap((void *)page, QVK_TELEM_MMAP_SIZE);
	}
	if (fd >= 0)
		close(fd);
	CHECK(cpu_set_online(cpu, true) == 0, "CPU %u back online: %s", cpu, strerror(errno));
	CHECK(mod_unload(2000) == 0, "unload: %s", strerror(errno));

	/* Open and mapped: the timer moves while readers watch. */
	if (hotplug_load()) {
		CHECK(0, "reload: %s", strerror(errno));
		return;
	}
	fd = dev_open();
	if (fd < 0 || !(page = page_map(fd)))
		goto out_unload;
	page_read(page, &s1, NULL);
	cpu = page_sample_cpu(page);
	if (cpu_set_online(cpu, false)) {
		CHECK(0, "cannot take CPU %u offline: %s", cpu, strerror(errno));
	} else {
		hotplug_works(fd, page, "while open");
		page_read(page, &s2, NULL);
		CHECK(page_sample_cpu(page) != cpu && page->cpu_moves == 1,
		      "page says CPU %u, %u moves", page_sample_cpu(page), page->cpu_moves);
		/* Another CPU's counters: the module re-based. */
		CHECK(s2.epoch > s1.epoch, "epoch %u -> %u across the move", s1.epoch, s2.epoch);
		CHECK(cpu_set_online(cpu, true) == 0, "CPU %u back online: %s", cpu,
		      strerror(errno));
		hotplug_works(fd, page, "CPU back online");
	}
	munmap((void *)page, QVK_TELEM_MMAP_SIZE);
	close(fd);
out_unload:
	CHECK(mod_unload(2000) == 0, "unload: %s", strerror(errno));
}

/* --------------------------------------------------------------- coarse */
uint32_t coarse_step_uj = 1000000, coarse_interval_ms = 50;

struct coarse_seen {
	unsigned updates, multiples;
	__u64 min_gap_ns;
};

/* Watch the page for @ms: how often it changed and how its values look. */
static void coarse_watch(const struct qvk_telem_page *page, int d, unsigned ms,
			 struct coarse_seen *seen)
{
	struct qvk_telem_sample prev, s;
	__u64 t_end = now_ns() + (__u64)ms * 1000000ull;

	memset(seen, 0, sizeof(*seen));
	seen->min_gap_ns = ~0ull;
	page_read(page, &prev, NULL);
	while (now_ns() < t_end) {
		sleep_ms(1);
		page_read(page, &s, NULL);
		if (s.sample_count == prev.sample_count)
			continue;
		seen->updates++;
		seen->multiples += s.energy_uj[d] % coarse_step_uj == 0;
		if (s.timestamp_ns - prev.timestamp_ns < seen->min_gap_ns)
			seen->min_gap_ns = s.timestamp_ns - prev.timestamp_ns;
		prev = s;
	}
}

static void coarse_member(void *arg)
{
	struct qvk_telem_snapshot snap;
	struct coarse_seen seen;
	const struct qvk_telem_page *page;
	__u64 counts[20];
	unsigned distinct = 1;
	int fd = dev_open(), d;

	(void)arg;
	if (fd < 0 || !(page = page_map(fd)))
		return;
	d = synth_index(fd);
	CHECK(page->coarse_step_uj == coarse_step_uj &&
	      page->coarse_interval_ms == coarse_interval_ms,
	      "the group member's page says step %u uJ, interval %u ms", page->coarse_step_uj,
	      page->coarse_interval_ms);
	coarse_watch(page, d, 1000, &seen);
	printf("coarse: group member: %u updates in 1 s, %u of them multiples of %u uJ, closest %.1f ms apart\n",
	       seen.updates, seen.multiples, coarse_step_uj, (double)seen.min_gap_ns / 1e6);
	CHECK(seen.updates >= 3, "only %u updates", seen.updates);
	CHECK(seen.multiples == seen.updates, "energy finer than %u uJ", coarse_step_uj);
	CHECK(seen.updates <= 1000 / coarse_interval_ms + 2, "%u updates in 1 s", seen.updates);
	CHECK(seen.min_gap_ns >= (__u64)coarse_interval_ms * 1000000ull,
	      "updates %.3f ms apart", (double)seen.min_gap_ns / 1e6);
	/* SNAPSHOT gives the coarse sample, never a fresh one. */
	for (int i = 0; i < 20; i++) {
		memset(&snap, 0, sizeof(snap));
		snap.size = sizeof(snap);
		CHECK(ioctl(fd, QVK_TELEM_IOC_SNAPSHOT, &snap) == 0, "SNAPSHOT: %s",
		      strerror(errno));
		CHECK(snap.sample.energy_uj[d] % coarse_step_uj == 0, "SNAPSHOT energy %llu",
		      snap.sample.energy_uj[d]);
		counts[i] = snap.sample.sample_count;
		distinct += i && counts[i] != counts[i - 1];
	}
	CHECK(distinct <= 2, "20 quick SNAPSHOTs gave %u different samples", distinct);
	munmap((void *)page, QVK_TELEM_MMAP_SIZE);
	close(fd);
}

/* Needs the module loaded with group=1000 and the coarse parameters. */
void test_coarse(void)
{
	const gid_t member[] = { 1000 };
	struct coarse_seen seen;
	const struct qvk_telem_page *page;
	int fd = dev_open(), d;

	if (fd < 0 || !(page = page_map(fd)))
		return;
	d = synth_index(fd);
	CHECK(page->coarse_step_uj == 0 && page->coarse_interval_ms == 0,
	      "root's page is coarse: %u uJ, %u ms", page->coarse_step_uj,
	      page->coarse_interval_ms);
	coarse_watch(page, d, 200, &seen);
	printf("coarse: root: %u updates in 200 ms, %u multiples of %u uJ (exact values)\n",
	       seen.updates, seen.multiples, coarse_step_uj);
	CHECK(seen.updates >= 20 && seen.multiples < seen.updates,
	      "root saw %u updates, %u multiples", seen.updates, seen.multiples);
	CHECK(run_as(1001, 1001, member, 1, coarse_member, NULL) == 0,
	      "the group member's checks failed");
	munmap((void *)page, QVK_TELEM_MMAP_SIZE);
	close(fd);
}
