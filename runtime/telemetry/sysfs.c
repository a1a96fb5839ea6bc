/* SPDX-License-Identifier: MIT */
/*
 * Small sysfs helpers for the telemetry sources: paths under an
 * overridable root, and strict reads of one-number files. sysfs files are
 * external input: a garbled or truncated file is an error with the text
 * quoted, never a zero.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "telemetry_internal.h"

uint64_t qvk_telemetry_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

bool qvk_fmt(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < len;
}

bool qvk_sysfs_path(const struct qvk_telemetry *t, char *buf, size_t len,
		    const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(buf, len, "%s/", t->sysfs_root);
	int m;

	if (n < 0 || (size_t)n >= len)
		return false;
	va_start(ap, fmt);
	m = vsnprintf(buf + n, len - (size_t)n, fmt, ap);
	va_end(ap);
	return m >= 0 && (size_t)m < len - (size_t)n;
}

int qvk_sysfs_scan_class(struct qvk_telemetry *t, const char *class, char *dir,
			 size_t dirlen, int (*filter)(const struct dirent *),
			 struct dirent ***list)
{
	int n;

	if (!qvk_sysfs_path(t, dir, dirlen, "class/%s", class)) {
		qvk_telemetry_note(t, "%s: sysfs root too long", class);
		return -1;
	}
	n = scandir(dir, list, filter, alphasort);
	if (n < 0)
		qvk_telemetry_note(t, "%s: %s: %s", class, dir, strerror(errno));
	return n;
}

static const char *qvk_file_type_name(mode_t mode)
{
	return S_ISFIFO(mode) ? "a FIFO" : S_ISCHR(mode) ? "a character device" :
	       S_ISBLK(mode) ? "a block device" : S_ISDIR(mode) ? "a folder" :
	       S_ISSOCK(mode) ? "a socket" : "not a regular file";
}

/*
 * The whole file, at most @len - 1 bytes (sysfs values are far shorter
 * than a page), NUL-terminated. The tree is outside input: open() must not
 * block (O_NONBLOCK: a FIFO would wait for a writer forever), a symlink at
 * the file itself is refused (sysfs attributes never are symlinks; the
 * folders above them may be), and anything but a regular file is refused
 * before the first read.
 */
qvk_status qvk_sysfs_read_text(const char *path, char *buf, size_t len,
			       size_t *got, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
	qvk_status st = QVK_OK;
	struct stat sb;
	char extra;
	ssize_t n;

	if (fd < 0) {
		int e = errno;

		qvk_fmt(err, errlen, "%s: %s", path, e == ELOOP ?
			"a symlink, refused" : strerror(e));
		return e == ENOENT ? QVK_ERR_NOT_FOUND : QVK_ERR_IO;
	}
	if (fstat(fd, &sb) != 0) {
		qvk_fmt(err, errlen, "%s: fstat: %s", path, strerror(errno));
		st = QVK_ERR_IO;
		goto out_close;
	}
	if (!S_ISREG(sb.st_mode)) {
		qvk_fmt(err, errlen, "%s: %s, refused", path,
			qvk_file_type_name(sb.st_mode));
		st = QVK_ERR_FORMAT;
		goto out_close;
	}
	n = read(fd, buf, len - 1);
	if (n < 0) {
		qvk_fmt(err, errlen, "%s: read: %s", path, strerror(errno));
		st = QVK_ERR_IO;
		goto out_close;
	}
	/* A value that does not fit is not one we know how to read. */
	if ((size_t)n == len - 1 && read(fd, &extra, 1) > 0) {
		qvk_fmt(err, errlen, "%s: longer than %zu bytes", path, len - 1);
		st = QVK_ERR_FORMAT;
		goto out_close;
	}
	buf[n] = 0;
	*got = (size_t)n;
out_close:
	close(fd);
	return st;
}

qvk_status qvk_sysfs_read_line(const char *path, char *buf, size_t len,
			       char *err, size_t errlen)
{
	size_t got;
	qvk_status st = qvk_sysfs_read_text(path, buf, len, &got, err, errlen);

	if (st != QVK_OK)
		return st;
	buf[strcspn(buf, "\n")] = 0;
	return QVK_OK;
}

qvk_status qvk_sysfs_read_u64(const char *path, uint64_t *out, char *err,
			      size_t errlen)
{
	char buf[64];
	size_t got, i = 0;
	uint64_t v = 0;
	qvk_status st = qvk_sysfs_read_text(path, buf, sizeof(buf), &got, err, errlen);

	if (st != QVK_OK)
		return st;
	if (got == 0) {
		qvk_fmt(err, errlen, "%s: empty", path);
		return QVK_ERR_FORMAT;
	}
	for (; i < got && isdigit((unsigned char)buf[i]); i++) {
		unsigned digit = (unsigned)(buf[i] - '0');

		if (v > (UINT64_MAX - digit) / 10) {
			qvk_fmt(err, errlen, "%s: number out of range", path);
			return QVK_ERR_FORMAT;
		}
		v = v * 10 + digit;
	}
	/* Only a trailing newline may follow the digits. */
	if (i == 0 || !(i == got || (buf[i] == '\n' && i + 1 == got))) {
		buf[strcspn(buf, "\n")] = 0;
		qvk_fmt(err, errlen, "%s: not an unsigned number: '%.24s'", path,
			 buf);
		return QVK_ERR_FORMAT;
	}
	*out = v;
	return QVK_OK;
}

qvk_status qvk_tdom_read_sysfs_counter(struct qvk_telemetry *t,
				       struct qvk_tdom *d,
				       struct qvk_treading *r)
{
	uint64_t t0 = qvk_telemetry_now_ns(), t1;
	qvk_status st;

	(void)t;
	st = qvk_sysfs_read_u64(d->pub.path, &r->raw, d->error, sizeof(d->error));
	t1 = qvk_telemetry_now_ns();
	if (st != QVK_OK)
		return st;
	if (d->wrap && r->raw > d->wrap) {
		qvk_fmt(d->error, sizeof(d->error),
			 "%s: %llu above the wrap point %llu", d->pub.path,
			 (unsigned long long)r->raw, (unsigned long long)d->wrap);
		return QVK_ERR_FORMAT;
	}
	r->t_ns = t0 + (t1 - t0) / 2;
	r->t_unc_ns = (t1 - t0) / 2;
	return QVK_OK;
}
