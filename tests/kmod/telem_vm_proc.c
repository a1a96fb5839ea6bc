// SPDX-License-Identifier: MIT
/*
 * Process and module helpers of the VM test program: run a check as
 * another user in a child, load and unload the module from its file
 * (finit_module/delete_module, as insmod and rmmod do), and take a CPU
 * offline or online through sysfs.
 */
#include <fcntl.h>
#include <grp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "telem_vm.h"

pid_t spawn_as(uid_t uid, gid_t gid, const gid_t *groups, int ngroups,
	       void (*fn)(void *), void *arg)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	if (ngroups >= 0 &&
	    (setgroups((size_t)ngroups, groups) || setgid(gid) || setuid(uid))) {
		printf("QVK_CHECK_FAIL spawn_as: cannot become %u:%u: %s\n", uid, gid,
		       strerror(errno));
		_exit(125);
	}
	check_failures = 0;
	fn(arg);
	fflush(stdout);
	_exit(check_failures ? 1 : 0);
}

int reap(pid_t pid)
{
	int status;

	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int run_as(uid_t uid, gid_t gid, const gid_t *groups, int ngroups,
	   void (*fn)(void *), void *arg)
{
	return reap(spawn_as(uid, gid, groups, ngroups, fn, arg));
}

/* close(@fd), keeping the errno of the call that gave @ret. */
static int close_keep_errno(int fd, int ret)
{
	int err = errno;

	close(fd);
	errno = err;
	return ret;
}

int mod_load(const char *params)
{
	int fd = open(MODULE_FILE, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	return close_keep_errno(fd, syscall(SYS_finit_module, fd, params, 0) ? -1 : 0);
}

int mod_unload(unsigned wait_ms)
{
	for (unsigned ms = 0;; ms += 2) {
		if (syscall(SYS_delete_module, QVK_TELEM_DEVICE_NAME, O_NONBLOCK) == 0)
			return 0;
		/* Busy while a file is open: readers hold it for moments. */
		if ((errno != EAGAIN && errno != EBUSY) || ms >= wait_ms)
			return -1;
		sleep_ms(2);
	}
}

int cpu_set_online(unsigned cpu, bool online)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/sys/devices/system/cpu/cpu%u/online", cpu);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	return close_keep_errno(fd, write(fd, online ? "1" : "0", 1) == 1 ? 0 : -1);
}
