/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tool.h"

int qvk_tool_fail(struct qvk_ctx *ctx, qvk_status st, const char *cmd,
		  const char *what)
{
	const char *detail = qvk_ctx_message(ctx);
	size_t what_len = strlen(what);

	/* The library names the file too: say it once. */
	if (!strncmp(detail, what, what_len) &&
	    !strncmp(detail + what_len, ": ", 2))
		detail += what_len + 2;
	fprintf(stderr, "qvk %s: %s: %s%s%s\n", cmd, what, qvk_strerror(st),
		*detail ? ": " : "", detail);
	return 1;
}

int qvk_tool_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "qvk %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see qvk %s --help)\n", cmd);
	return 2;
}

bool qvk_tool_parse_u64(const char *cmd, const char *opt, const char *text,
			uint64_t min, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!text || !*text || *text == '-' || *text == '+') {
		qvk_tool_usage_error(cmd, "%s needs a whole number from %llu to "
				     "%llu", opt, (unsigned long long)min,
				     (unsigned long long)max);
		return false;
	}
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || *end || v < min || v > max) {
		qvk_tool_usage_error(cmd, "%s: '%s' is not a whole number from "
				     "%llu to %llu", opt, text,
				     (unsigned long long)min,
				     (unsigned long long)max);
		return false;
	}
	*out = v;
	return true;
}

bool qvk_tool_parse_double(const char *cmd, const char *opt, const char *text,
			   double min, double max, double *out)
{
	double v;
	char *end;

	errno = 0;
	v = text && *text ? strtod(text, &end) : NAN;
	if (!text || !*text || errno || *end || !isfinite(v) || v < min ||
	    v > max) {
		qvk_tool_usage_error(cmd, "%s: '%s' is not a number from %g to "
				     "%g", opt, text ? text : "", min, max);
		return false;
	}
	*out = v;
	return true;
}

void qvk_tool_progress(void *user, const char *what, double done,
		       double total)
{
	/* Off a terminal (logs, CI): a line every 2 s of long work, and the end. */
	static double last_line_s;
	double frac = total > 0 ? done / total : 0, now = qvk_tool_now_s();
	int width = 30, filled;

	(void)user;
	if (frac < 0)
		frac = 0;
	if (frac > 1)
		frac = 1;
	if (isatty(STDERR_FILENO)) {
		filled = (int)(frac * width);
		fprintf(stderr, "\r%-32.32s [%.*s%*s] %5.1f%%", what, filled,
			"##############################", width - filled, "",
			frac * 100);
		if (done >= total)
			fputc('\n', stderr);
	} else if (done >= total) {
		fprintf(stderr, "%s: done\n", what);
		last_line_s = 0;
	} else if (!last_line_s) {
		last_line_s = now;
	} else if (now - last_line_s >= 2.0) {
		fprintf(stderr, "%s: %.0f%%\n", what, frac * 100);
		last_line_s = now;
	}
	fflush(stderr);
}

struct qvk_ctx *qvk_tool_ctx(const char *cmd)
{
	struct qvk_ctx *ctx;
	qvk_status st = qvk_ctx_create(&ctx);

	if (st != QVK_OK) {
		fprintf(stderr, "qvk %s: %s\n", cmd, qvk_strerror(st));
		return NULL;
	}
	qvk_ctx_set_progress(ctx, qvk_tool_progress, NULL);
	return ctx;
}

uint64_t qvk_tool_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

double qvk_tool_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

char *qvk_tool_read_stream(FILE *f, size_t *len)
{
	size_t cap = 4096, n = 0, got;
	char *buf = malloc(cap), *grown;

	if (!buf)
		return NULL;
	errno = 0;
	while ((got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
		n += got;
		if (cap - n - 1 > 0)
			continue;
		grown = cap < SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
		if (!grown) {
			free(buf);
			errno = ENOMEM;
			return NULL;
		}
		buf = grown;
		cap *= 2;
	}
	if (ferror(f)) {
		free(buf);
		if (!errno)
			errno = EIO;
		return NULL;
	}
	buf[n] = 0;
	*len = n;
	return buf;
}

char *qvk_tool_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct stat sb;
	char *buf;
	int err;

	if (!f)
		return NULL;
	/* fopen() takes a folder; reading one fails with a less clear errno. */
	if (fstat(fileno(f), &sb) == 0 && !S_ISREG(sb.st_mode)) {
		fclose(f);
		errno = S_ISDIR(sb.st_mode) ? EISDIR : EINVAL;
		return NULL;
	}
	buf = qvk_tool_read_stream(f, len);
	err = errno;
	fclose(f);
	errno = err;
	return buf;
}

void qvk_tool_json_string(FILE *f, const char *s, size_t len)
{
	fputc('"', f);
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		size_t n = qvk_tool_utf8_len(s + i, len - i);

		if (!n) {
			/* Not UTF-8 (a byte token, half a character): JSON
			 * text must be, so it becomes U+FFFD. */
			fputs("\\ufffd", f);
			i++;
			continue;
		}
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fwrite(s + i, 1, n, f);
		i += n;
	}
	fputc('"', f);
}

size_t qvk_tool_utf8_len(const char *text, size_t avail)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t n;
	uint32_t cp;

	if (!avail)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates and past U+10FFFF are not UTF-8 */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

bool qvk_tool_keep_ok(const char *cmd, const char *list)
{
	struct qvk_keep *keep = NULL;
	struct qvk_ctx *ctx;
	qvk_status st = qvk_ctx_create(&ctx);

	if (st == QVK_OK)
		st = qvk_keep_parse(ctx, list, &keep);
	if (st != QVK_OK)
		qvk_tool_usage_error(cmd, "%s", ctx ? qvk_ctx_message(ctx) :
						      qvk_strerror(st));
	qvk_keep_destroy(keep);
	qvk_ctx_destroy(ctx);
	return st == QVK_OK;
}
