/* SPDX-License-Identifier: MIT */
/*
 * CHECK() for the programs that run inside the test VM (telem_vm_test.c
 * with telem_vm_access.c, and libqvk_vm_test.c): a failed check prints a
 * QVK_CHECK_FAIL line, which run-vm-test.sh reports, and counts in
 * check_failures, atomically since the UAPI test checks from several
 * threads. Each program defines check_failures once.
 */
#ifndef QVK_VM_CHECK_H
#define QVK_VM_CHECK_H

#include <stdio.h>

extern int check_failures;

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

#endif
