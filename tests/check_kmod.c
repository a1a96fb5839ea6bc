/* SPDX-License-Identifier: MIT */
/*
 * suite_kmod: the qvk_telem kernel module, tested in a QEMU (TCG) VM by
 * tests/kmod/run-vm-test.sh, which builds the module if needed, boots
 * Debian's kernel with an initramfs holding the module and two static test
 * programs, and checks the markers on the serial console. On failure this
 * test fails with the script's verdict and the tail of the serial log.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/*
 * The script bounds QEMU itself (QVK_VM_TIMEOUT, 240 s: the abuse test runs
 * long under TCG); this is the outer guard. All three scale with
 * CK_TIMEOUT_MULTIPLIER (Check scales the TCase's).
 */
#define QVK_KMOD_VM_TIMEOUT_S 240
#define QVK_KMOD_SCRIPT_TIMEOUT_S 420
#define QVK_KMOD_TCASE_TIMEOUT_S 430
#define QVK_KMOD_TAIL_BYTES 3000
#define QVK_KMOD_VERDICT_BYTES 1200

/* The last @max bytes of @path, or a note that it is missing. */
static void qvk_kmod_tail(const char *path, char *buf, size_t max)
{
	FILE *f = fopen(path, "r");
	long size, from;
	size_t n;

	if (!f) {
		snprintf(buf, max, "(%s: %s)", path, strerror(errno));
		return;
	}
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	from = size > (long)max - 1 ? size - ((long)max - 1) : 0;
	fseek(f, from, SEEK_SET);
	n = fread(buf, 1, max - 1, f);
	buf[n] = 0;
	fclose(f);
	/* Whole lines only: drop the one the cut went through. */
	if (from > 0) {
		char *nl = strchr(buf, '\n');

		if (nl)
			memmove(buf, nl + 1, strlen(nl + 1) + 1);
	}
}

/*
 * make kmod names the kernel it built for, and says when that is not the
 * running kernel (the module cannot load here then).
 */
static void qvk_kmod_check_make_log(const char *build)
{
	char path[700], want[128], *log, *line;
	struct utsname u;
	size_t len;

	snprintf(path, sizeof(path), "%s/kmod-vm-make.log", build);
	log = qvk_test_read_file(path, &len);
	line = strstr(log, "qvk: built qvk_telem.ko for kernel ");
	ck_assert_msg(line, "make kmod did not name the kernel it built for:\n%s",
		      log);
	ck_assert_int_eq(uname(&u), 0);
	snprintf(want, sizeof(want), "for kernel %s ", u.release);
	printf("kmod: %.*s (running %s)\n", (int)strcspn(line, "\n"), line,
	       u.release);
	if (strncmp(strstr(line, "for kernel "), want, strlen(want)))
		ck_assert_msg(strstr(log, "this module cannot be loaded here"),
			      "make kmod built for another kernel than the "
			      "running %s without saying so:\n%s", u.release,
			      log);
	else
		ck_assert_msg(!strstr(log, "cannot be loaded here"),
			      "make kmod warned about the running kernel:\n%s",
			      log);
	free(log);
}

START_TEST(test_vm_module)
{
	char build[512], script[600], out_log[700], serial[700];
	char out_tail[QVK_KMOD_TAIL_BYTES], serial_tail[QVK_KMOD_TAIL_BYTES];
	char timeout_s[16], vm_timeout_s[16];
	double mult = qvk_test_timeout_multiplier();
	int status = -1;
	pid_t pid;

	qvk_test_build_dir(build, sizeof(build));
	snprintf(script, sizeof(script), "%s/tests/kmod/run-vm-test.sh", QVK_SOURCE_DIR);
	snprintf(out_log, sizeof(out_log), "%s/kmod-vm-run.log", build);
	snprintf(serial, sizeof(serial), "%s/kmod-vm/serial.log", build);
	snprintf(timeout_s, sizeof(timeout_s), "%.0f", QVK_KMOD_SCRIPT_TIMEOUT_S * mult);
	snprintf(vm_timeout_s, sizeof(vm_timeout_s), "%.0f", QVK_KMOD_VM_TIMEOUT_S * mult);

	pid = fork();
	ck_assert_msg(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		FILE *out = freopen(out_log, "w", stdout);

		if (!out || dup2(STDOUT_FILENO, STDERR_FILENO) < 0)
			_exit(126);
		setenv("QVK_BUILD_DIR", build, 1);
		setenv("QVK_VM_TIMEOUT", vm_timeout_s, 0);
		execlp("timeout", "timeout", "-k", "5", timeout_s, script, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	qvk_kmod_tail(out_log, out_tail, sizeof(out_tail));
	fprintf(stderr, "kmod: %s\n", out_tail);
	/* The make log is there whether the VM part passed or not. */
	if (!getenv("QVK_VM_NO_BUILD"))
		qvk_kmod_check_make_log(build);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char verdict[QVK_KMOD_VERDICT_BYTES];

		/* Check refuses long messages: the tails go to stderr. */
		qvk_kmod_tail(serial, serial_tail, sizeof(serial_tail));
		fprintf(stderr, "--- serial log tail (%s) ---\n%s\n", serial, serial_tail);
		qvk_kmod_tail(out_log, verdict, sizeof(verdict));
		ck_abort_msg("run-vm-test.sh failed (status %d); the end of its output:\n%s",
			     WIFEXITED(status) ? WEXITSTATUS(status) : -1, verdict);
	}
}
END_TEST

Suite *suite_kmod(void);
Suite *suite_kmod(void)
{
	Suite *s = suite_create("kmod");
	TCase *tc = tcase_create("vm");

	tcase_set_timeout(tc, QVK_KMOD_TCASE_TIMEOUT_S);
	tcase_add_test(tc, test_vm_module);
	suite_add_tcase(s, tc);
	return s;
}
