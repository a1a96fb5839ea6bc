/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers of the qvk_telem VM test program (telem_vm_test.c: ABI,
 * timer, seqcount and wraps; telem_vm_access.c: bad calls, privileges,
 * unload, read cost). Written against the UAPI header only.
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

#include <uapi/linux/qvk_telem.h>

#include "vm_check.h"

#define DEV "/dev/" QVK_TELEM_DEVICE_NAME
#define SYSFS_ENERGY "/sys/class/misc/" QVK_TELEM_DEVICE_NAME "/energy_uj"

extern __u64 rate_uw;        /* the module's synthetic_uw */
extern uint32_t counter_bits; /* the module's synthetic_bits */

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

#endif
