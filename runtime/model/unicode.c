/* SPDX-License-Identifier: MIT */
/* Codepoint classes (a binary search over the generated runs) and UTF-8. */
#include "unicode.h"

unsigned qvk_unicode_flags(uint32_t cp)
{
	uint32_t lo = 0, hi = qvk_unicode_run_count;

	if (cp > 0x10ffff)
		return QVK_UCAT_UNDEFINED;
	/* the last run starting at or before cp; run 0 starts at U+0000 */
	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (qvk_unicode_runs[mid] >> 4 <= cp)
			lo = mid;
		else
			hi = mid;
	}
	return qvk_unicode_runs[lo] & 15u;
}

uint32_t qvk_utf8_decode(const char *s, size_t len, size_t *n)
{
	const uint8_t *p = (const uint8_t *)s;
	uint32_t cp;
	size_t need;

	*n = 1;
	if (p[0] < 0x80)
		return p[0];
	if (p[0] < 0xc0 || p[0] >= 0xf8)
		return QVK_UNICODE_REPLACEMENT; /* continuation or no UTF-8 lead */
	need = p[0] < 0xe0 ? 2 : p[0] < 0xf0 ? 3 : 4;
	if (len < need)
		return QVK_UNICODE_REPLACEMENT;
	cp = p[0] & (0x7fu >> need);
	for (size_t i = 1; i < need; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return QVK_UNICODE_REPLACEMENT;
		cp = cp << 6 | (p[i] & 0x3fu);
	}
	if (cp > 0x10ffff)
		return QVK_UNICODE_REPLACEMENT;
	*n = need;
	return cp;
}

size_t qvk_utf8_encode(uint32_t cp, char out[4])
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}
