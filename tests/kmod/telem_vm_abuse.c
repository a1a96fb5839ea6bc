// SPDX-License-Identifier: MIT
/*
 * qvk_telem under abuse (issue #13 item 6): random ioctl numbers and
 * argument buffers from root and from an unprivileged group member, a
 * crowd of processes opening, mapping and closing at once, load/unload
 * loops while readers keep opening, and kmemleak where the kernel has it.
 * The kernel log is checked by run-vm-test.sh for WARNING/BUG/Oops.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <unistd.h>

#include "telem_vm.h"

#define FUZZ_CALLS 100000u
/* TCG on a loaded host can be slow: stop early rather than time out. */
#define FUZZ_BUDGET_NS (40ull * 1000000000ull)

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

struct fuzz_stats {
	uint64_t seed;
	unsigned calls, ok, enotty, einval, efault, eperm, other;
	int first_other_errno;
	unsigned first_other_cmd;
};

/* One random ioctl number: random, ours with random fields, or a real one. */
static unsigned fuzz_cmd(uint64_t *rng)
{
	static const unsigned real[] = { QVK_TELEM_IOC_INFO, QVK_TELEM_IOC_SNAPSHOT,
					 QVK_TELEM_IOC_SET_PERIOD };
	uint64_t r = splitmix64(rng);
	unsigned cmd = real[(r >> 8) % 3];

	switch (r & 7) {
	case 0:
	case 1:
		return (unsigned)(r >> 32);
	case 2:
	case 3:
		return _IOC((unsigned)(r >> 16) & 3, QVK_TELEM_IOC_MAGIC,
			    (unsigned)(r >> 20) & 7, (unsigned)(r >> 24) & 0x3fff);
	case 4:
		/* A real number with other direction or size bits. */
		return _IOC((unsigned)(r >> 16) & 3, _IOC_TYPE(cmd), _IOC_NR(cmd),
			    (unsigned)(r >> 24) & 0x3fff);
	default:
		return cmd;
	}
}

/* The struct size to claim: right, near, a page, past it, or anything. */
static uint32_t fuzz_size(uint64_t *rng, unsigned cmd)
{
	uint64_t r = splitmix64(rng);
	uint32_t right = _IOC_NR(cmd) == 1 ? sizeof(struct qvk_telem_info) :
			 _IOC_NR(cmd) == 2 ? sizeof(struct qvk_telem_snapshot) :
					     sizeof(struct qvk_telem_period);

	switch (r & 7) {
	case 0:
	case 1:
	case 2:
		return right;
	case 3:
		return right + (uint32_t)((r >> 8) % 64) - 32;
	case 4:
		return 4096;
	case 5:
		return 4097 + (uint32_t)((r >> 8) % 8192);
	case 6:
		return 0xffffffffu - (uint32_t)((r >> 8) % 4);
	default:
		return (uint32_t)(r >> 32);
	}
}

/*
 * @calls random ioctls on @fd with argument buffers inside @buf (3 pages,
 * the last one PROT_NONE): mostly zeroed structs with a chosen size, so
 * that many calls get past the size check, with random bytes sprinkled in,
 * and pointers that are NULL, kernel, unaligned or run into the guard page.
 */
static void fuzz_run(int fd, uint8_t *buf, bool root, struct fuzz_stats *st)
{
	const size_t usable = 2 * 4096;
	uint64_t rng = st->seed, t_end = now_ns() + FUZZ_BUDGET_NS;

	for (st->calls = 0; st->calls < FUZZ_CALLS; st->calls++) {
		unsigned cmd = fuzz_cmd(&rng);
		uint64_t r = splitmix64(&rng);
		uint8_t *arg = buf;
		uint32_t size;
		int ret;

		if ((st->calls & 1023) == 0 && now_ns() > t_end)
			break;
		memset(buf, (r & 1) ? 0 : (int)(r >> 8), usable);
		if (r & 2) {
			/* A few random bytes in an otherwise zero struct. */
			for (int k = 0; k < (int)((r >> 16) & 3); k++)
				buf[splitmix64(&rng) % 600] = (uint8_t)splitmix64(&rng);
		}
		size = fuzz_size(&rng, cmd);
		memcpy(buf, &size, sizeof(size));
		if (_IOC_NR(cmd) == 3 && (r & 4)) {
			/* A valid-looking period: keep it slow enough for TCG. */
			uint32_t us = 500 + (uint32_t)((r >> 32) % 1500);

			memcpy(buf + 8, &us, sizeof(us));
		}
		switch ((r >> 40) & 15) {
		case 0:
			arg = NULL;
			break;
		case 1:
			arg = (uint8_t *)(uintptr_t)0xffff888000000000ull; /* kernel */
			break;
		case 2:
			arg = buf + 1 + ((r >> 44) & 7); /* unaligned */
			memcpy(arg, &size, sizeof(size));
			break;
		case 3:
			arg = buf + usable - 64; /* the struct runs into the guard */
			memcpy(arg, &size, sizeof(size));
			break;
		case 4:
			arg = (uint8_t *)(uintptr_t)0x1000; /* unmapped */
			break;
		default:
			break;
		}
		ret = ioctl(fd, cmd, arg);
		if (ret == 0) {
			st->ok++;
			continue;
		}
		switch (errno) {
		case ENOTTY: st->enotty++; break;
		case EINVAL: st->einval++; break;
		case EFAULT: st->efault++; break;
		case EPERM:
			/* Only SET_PERIOD may say EPERM, and only to non-root. */
			if (!root && _IOC_NR(cmd) == 3) {
				st->eperm++;
				break;
			}
			/* fall through */
		default:
			if (!st->other++) {
				st->first_other_errno = errno;
				st->first_other_cmd = cmd;
			}
		}
	}
}

static void fuzz_check(void *arg)
{
	const bool root = arg != NULL;
	struct fuzz_stats st = { .seed = now_ns() ^ ((uint64_t)getpid() << 32) };
	struct qvk_telem_info info;
	struct qvk_telem_sample s1, s2;
	const struct qvk_telem_page *page;
	uint8_t *buf;
	int fd = dev_open();

	if (fd < 0 || !(page = page_map(fd)))
		return;
	buf = mmap(NULL, 3 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		   -1, 0);
	CHECK(buf != MAP_FAILED, "mmap: %s", strerror(errno));
	if (buf == MAP_FAILED)
		return;
	CHECK(mprotect(buf + 2 * 4096, 4096, PROT_NONE) == 0, "guard page");
	fuzz_run(fd, buf, root, &st);
	printf("fuzz: %s: %u random ioctls (seed %llu): %u ok, ENOTTY %u, EINVAL %u, EFAULT %u, EPERM %u, other %u\n",
	       root ? "root" : "uid 1001 (group member)", st.calls,
	       (unsigned long long)st.seed, st.ok, st.enotty, st.einval, st.efault,
	       st.eperm, st.other);
	CHECK(st.other == 0, "%u calls gave another errno, first %d (%s) for cmd %#x",
	      st.other, st.first_other_errno, strerror(st.first_other_errno),
	      st.first_other_cmd);
	CHECK(st.calls == FUZZ_CALLS, "only %u of %u calls within the time budget",
	      st.calls, FUZZ_CALLS);
	CHECK(st.ok > 0 && st.einval > 0 && st.enotty > 0 && st.efault > 0,
	      "the fuzz did not reach every path");
	/* Still alive and well: INFO, a moving page, the period restorable. */
	if (root)
		CHECK(set_period(fd, 1000) == 0, "SET_PERIOD 1000: %s", strerror(errno));
	CHECK(info_get(fd, &info) == 0 && info.users >= 1, "INFO after the fuzz: %s",
	      strerror(errno));
	page_read(page, &s1, NULL);
	sleep_ms(50);
	page_read(page, &s2, NULL);
	CHECK(s2.sample_count > s1.sample_count, "page stopped after the fuzz");
	munmap(buf, 3 * 4096);
	munmap((void *)page, QVK_TELEM_MMAP_SIZE);
	close(fd);
}

void test_fuzz_root(void)
{
	fuzz_check((void *)1);
}

/* Needs the module loaded with group=1000. */
void test_fuzz_unpriv(void)
{
	const gid_t member[] = { 1000 };

	CHECK(run_as(1001, 1001, member, 1, fuzz_check, NULL) == 0,
	      "the unprivileged fuzz failed");
}

/* ---------------------------------------------------------------- crowd */
#define CROWD_PROCS 6
#define CROWD_MS 1500

/* Open, map (once or twice), read, ioctl, unmap, close, in a loop. */
static void crowd_member(void *arg)
{
	unsigned id = (unsigned)(uintptr_t)arg, rounds = 0;
	uint64_t t_end = now_ns() + CROWD_MS * 1000000ull;

	while (now_ns() < t_end) {
		const struct qvk_telem_page *p1 = NULL, *p2 = NULL;
		struct qvk_telem_snapshot snap;
		struct qvk_telem_info info;
		struct qvk_telem_sample s;
		int fd = open(DEV, O_RDONLY | O_CLOEXEC);

		CHECK(fd >= 0, "crowd %u: open: %s", id, strerror(errno));
		if (fd < 0)
			return;
		if (rounds % 3 != 2) {
			p1 = page_map(fd);
			if (rounds % 2)
				p2 = page_map(fd);
		}
		if (p1) {
			page_read(p1, &s, NULL);
			CHECK(p1->version == QVK_TELEM_ABI_VERSION && s.n_domains >= 1,
			      "crowd %u: page version %u, %u domains", id, p1->version,
			      s.n_domains);
		}
		if (rounds % 5 == 0) {
			memset(&snap, 0, sizeof(snap));
			snap.size = sizeof(snap);
			CHECK(ioctl(fd, QVK_TELEM_IOC_SNAPSHOT, &snap) == 0,
			      "crowd %u: SNAPSHOT: %s", id, strerror(errno));
		}
		if (rounds % 7 == 0)
			CHECK(info_get(fd, &info) == 0 && info.users >= 1,
			      "crowd %u: INFO: %s", id, strerror(errno));
		/* Close before unmapping now and then: the mapping holds the file. */
		if (rounds % 4 == 1)
			close(fd);
		if (p1)
			munmap((void *)p1, QVK_TELEM_MMAP_SIZE);
		if (p2)
			munmap((void *)p2, QVK_TELEM_MMAP_SIZE);
		if (rounds % 4 != 1)
			close(fd);
		rounds++;
	}
	printf("crowd: process %u: %u open/map/close rounds\n", id, rounds);
}

void test_crowd(void)
{
	struct qvk_telem_info info;
	pid_t pids[CROWD_PROCS];
	int failed = 0, fd;

	for (unsigned i = 0; i < CROWD_PROCS; i++)
		pids[i] = spawn_as(0, 0, NULL, -1, crowd_member, (void *)(uintptr_t)i);
	for (unsigned i = 0; i < CROWD_PROCS; i++)
		failed += reap(pids[i]) != 0;
	CHECK(failed == 0, "%d crowd processes failed", failed);
	/* Every file and mapping is gone again: one user, ours. */
	fd = dev_open();
	if (fd < 0)
		return;
	CHECK(info_get(fd, &info) == 0, "INFO: %s", strerror(errno));
	printf("crowd: %d processes for %d ms; afterwards %u user(s) of the device\n",
	       CROWD_PROCS, CROWD_MS, info.users);
	CHECK(info.users == 1, "%u users after the crowd left", info.users);
	close(fd);
}

/* -------------------------------------------------------------- modloop */
#define MODLOOP_CYCLES 20
#define MODLOOP_READERS 3
#define MODLOOP_BUDGET_NS (60ull * 1000000000ull)

/*
 * Keep opening while the module comes and goes. The node may be absent
 * (ENOENT) or not backed by a driver yet or any more (ENODEV, ENXIO);
 * anything else, or a bad page once open, is a failure.
 */
static void modloop_reader(void *arg)
{
	volatile bool *stop = arg;
	unsigned opened = 0, absent = 0;

	while (!*stop) {
		struct qvk_telem_info info;
		const struct qvk_telem_page *p;
		struct qvk_telem_sample s;
		int fd = open(DEV, O_RDONLY | O_CLOEXEC);

		if (fd < 0) {
			CHECK(errno == ENOENT || errno == ENODEV || errno == ENXIO,
			      "modloop: open: %s", strerror(errno));
			absent++;
			sleep_ms(1);
			continue;
		}
		opened++;
		p = page_map(fd);
		if (p) {
			page_read(p, &s, NULL);
			CHECK(p->version == QVK_TELEM_ABI_VERSION, "modloop: page version %u",
			      p->version);
			munmap((void *)p, QVK_TELEM_MMAP_SIZE);
		}
		CHECK(info_get(fd, &info) == 0, "modloop: INFO: %s", strerror(errno));
		close(fd);
		/* Let unloads through now and then, as real readers do. */
		sleep_ms(opened % 4 ? 0 : 3);
	}
	printf("modloop: reader %d: %u opens, %u while unloaded\n", (int)getpid(), opened,
	       absent);
}

/* Runs with the module unloaded; leaves it unloaded. */
void test_modloop(void)
{
	static const char *const params[] = {
		"synthetic=1",
		"synthetic=1 group=1000 unpriv_step_uj=1000 unpriv_interval_ms=10",
	};
	volatile bool *stop = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
				   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	uint64_t t_end = now_ns() + MODLOOP_BUDGET_NS;
	pid_t pids[MODLOOP_READERS];
	unsigned cycles = 0, busy_waits = 0;
	int failed = 0;

	if (stop == MAP_FAILED)
		return;
	*stop = false;
	for (unsigned i = 0; i < MODLOOP_READERS; i++)
		pids[i] = spawn_as(0, 0, NULL, -1, modloop_reader, (void *)stop);
	while (cycles < MODLOOP_CYCLES && now_ns() < t_end) {
		uint64_t t0;

		if (mod_load(params[cycles % 2])) {
			CHECK(0, "modloop: load %u: %s", cycles, strerror(errno));
			break;
		}
		sleep_ms(10 + cycles % 20);
		t0 = now_ns();
		if (mod_unload(5000)) {
			CHECK(0, "modloop: unload %u: %s", cycles, strerror(errno));
			break;
		}
		busy_waits += now_ns() - t0 > 3000000ull;
		cycles++;
	}
	*stop = true;
	for (unsigned i = 0; i < MODLOOP_READERS; i++)
		failed += reap(pids[i]) != 0;
	printf("modloop: %u load/unload cycles with %d readers (%u unloads waited for a reader)\n",
	       cycles, MODLOOP_READERS, busy_waits);
	CHECK(failed == 0, "%d readers failed", failed);
	CHECK(cycles == MODLOOP_CYCLES, "only %u of %d cycles", cycles, MODLOOP_CYCLES);
	munmap((void *)stop, 4096);
}

/* ------------------------------------------------------------- kmemleak */
#define KMEMLEAK "/sys/kernel/debug/kmemleak"

/*
 * After the loops above. Prints "QVK_TEST kmemleak UNAVAILABLE: why" when
 * the kernel has no kmemleak (Debian's does not: CONFIG_DEBUG_KMEMLEAK is
 * off); run-vm-test.sh accepts that for this test only.
 */
void test_kmemleak(void)
{
	char buf[4096];
	ssize_t n;
	int fd;

	mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	fd = open(KMEMLEAK, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		printf("QVK_TEST kmemleak UNAVAILABLE: %s: %s (this kernel has no CONFIG_DEBUG_KMEMLEAK)\n",
		       KMEMLEAK, strerror(errno));
		return;
	}
	/* Two scans: an object is reported once it stays unreferenced. */
	for (int i = 0; i < 2; i++) {
		CHECK(write(fd, "scan", 4) == 4, "kmemleak scan: %s", strerror(errno));
		sleep_ms(1000);
	}
	lseek(fd, 0, SEEK_SET);
	while ((n = read(fd, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = 0;
		CHECK(!strstr(buf, "qvk_telem"), "kmemleak: %s", buf);
	}
	close(fd);
	printf("kmemleak: no unreferenced object of qvk_telem\n");
}
