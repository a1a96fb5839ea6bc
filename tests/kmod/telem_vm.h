/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers of the qvk_telem VM test program, one file per area:
 *   telem_vm_test.c    ABI, timer, seqcount, wraps; main() and the table
 *   telem_vm_access.c  bad calls, privileges, unload, read cost
 *   telem_vm_abuse.c   random ioctls, crowds of openers, load/unload loops
 *   telem_vm_policy.c  CPU hotplug of the sampling CPU, coarse readers
 *   telem_vm_proc.c    run as another user, load/unload, CPU online
 * Written against the UAPI header only. A new test is a function here and
 * a line in the table of telem_vm_test.c (and its marker in
 * run-vm-test.sh).
 */
#ifndef QVK_TELEM_VM_H
#define QVK_TELEM_VM_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include <uapi/linux/qvk_telem.h>

#include "vm_check.h"

#define DEV "/dev/" QVK_TELEM_DEVICE_NAME
#define SYSFS_ENERGY "/sys/class/misc/" QVK_TELEM_DEVICE_NAME "/energy_uj"
#define MODULE_FILE "/qvk_telem.ko"

extern __u64 rate_uw;        /* the module's synthetic_uw */
extern uint32_t counter_bits; /* the module's synthetic_bits */
extern uint32_t coarse_step_uj, coarse_interval_ms; /* unpriv_* (coarse) */

__u64 now_ns(void);
void sleep_ms(unsigned ms);
int dev_open(void);
const struct qvk_telem_page *page_map(int fd);
/* The reader side of the seqcount, exactly as the UAPI header shows it. */
void page_read(const struct qvk_telem_page *page, struct qvk_telem_sample *s,
	       __u64 *retries);
int info_get(int fd, struct qvk_telem_info *info);
int synth_index(int fd);
int set_period(int fd, uint32_t us);

/* telem_vm_access.c */
void test_badioctl(void);
void test_unpriv_refused(void);
void test_unpriv_admitted(void);
void test_unload(void);
void test_bench(void);

/* telem_vm_abuse.c */
void test_fuzz_root(void);
void test_fuzz_unpriv(void);
void test_crowd(void);
void test_modloop(void);
void test_kmemleak(void);

/* telem_vm_policy.c */
void test_hotplug(void);
void test_coarse(void);

/* telem_vm_proc.c */
/*
 * fn(arg) in a child as @uid/@gid with @groups (ngroups < 0: stay root);
 * the child exits 0 when its checks passed. reap() waits for it and
 * returns that status (-1 when there is no such child).
 */
pid_t spawn_as(uid_t uid, gid_t gid, const gid_t *groups, int ngroups,
	       void (*fn)(void *), void *arg);
int reap(pid_t pid);
/* spawn_as() and reap() in one. */
int run_as(uid_t uid, gid_t gid, const gid_t *groups, int ngroups,
	   void (*fn)(void *), void *arg);
/* finit_module(MODULE_FILE, @params); -1 and errno on failure. */
int mod_load(const char *params);
/* delete_module, retrying up to @wait_ms while a file holds it. */
int mod_unload(unsigned wait_ms);
int cpu_set_online(unsigned cpu, bool online);

#endif
