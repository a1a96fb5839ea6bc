/* SPDX-License-Identifier: MIT */
/*
 * --keep rules: "GLOB=f16,GLOB=f32,..." parsed once, every entry checked
 * (a bad one is an error naming it, never silently skipped), and matches
 * counted so that callers can say which rule matched no tensor.
 */
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "format/format_internal.h"

#define QVK_KEEP_GLOB_MAX 256u

struct qvk_keep_rule {
	char *text;    /* the entry as written, NUL-terminated */
	char *glob;    /* its pattern */
	enum qvk_weight_format format;
	uint64_t matches;
};

struct qvk_keep {
	uint32_t n;
	struct qvk_keep_rule *rules;
	char *arena; /* text and glob of every rule */
};

void qvk_keep_destroy(struct qvk_keep *keep)
{
	if (!keep)
		return;
	free(keep->rules);
	free(keep->arena);
	free(keep);
}

/* Check one entry (@len bytes at @p) and fill @r with copies in @arena. */
static qvk_status qvk_keep_entry(struct qvk_ctx *ctx, const char *p,
				 size_t len, struct qvk_keep_rule *r,
				 char **arena)
{
	const char *eq = memchr(p, '=', len);
	size_t glob_len = eq ? (size_t)(eq - p) : 0;
	size_t type_len = eq ? len - glob_len - 1 : 0;
	char type[8];

	if (len == 0)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "--keep: an empty "
				 "entry (two commas, or one at an end): give "
				 "GLOB=f16 or GLOB=f32");
	if (!eq || glob_len == 0)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "--keep '%.*s': %s; "
				 "give GLOB=f16 or GLOB=f32", (int)len, p,
				 eq ? "the glob is empty" : "no '='");
	if (glob_len >= QVK_KEEP_GLOB_MAX)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "--keep '%.40s...': "
				 "the glob is %zu bytes (at most %u)", p, glob_len,
				 QVK_KEEP_GLOB_MAX - 1);
	if (type_len >= sizeof(type))
		type_len = sizeof(type) - 1; /* too long for any name */
	memcpy(type, eq + 1, type_len);
	type[type_len] = '\0';
	if (len - glob_len - 1 != 3 ||
	    (strcasecmp(type, "f16") && strcasecmp(type, "f32")))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "--keep '%.*s': "
				 "type '%.*s' is not f16 or f32", (int)len, p,
				 (int)(len - glob_len - 1), eq + 1);
	r->format = !strcasecmp(type, "f16") ? QVK_WEIGHTS_F16 : QVK_WEIGHTS_F32;
	r->text = *arena;
	memcpy(r->text, p, len);
	r->text[len] = '\0';
	r->glob = r->text + len + 1;
	memcpy(r->glob, p, glob_len);
	r->glob[glob_len] = '\0';
	*arena += 2 * len + 2;
	return QVK_OK;
}

qvk_status qvk_keep_parse(struct qvk_ctx *ctx, const char *list,
			  struct qvk_keep **out)
{
	struct qvk_keep *keep;
	size_t len = list ? strlen(list) : 0;
	uint32_t n = 1;
	char *arena;
	qvk_status st = QVK_OK;

	if (!out)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "--keep: out is NULL");
	*out = NULL;
	for (size_t i = 0; i < len; i++)
		n += list[i] == ',';
	keep = calloc(1, sizeof(*keep));
	if (!keep)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "--keep rules");
	if (len == 0) {
		*out = keep;
		return QVK_OK;
	}
	keep->rules = calloc(n, sizeof(*keep->rules));
	/* each entry twice (text and glob) with their NULs */
	keep->arena = malloc(2 * len + 2 * n);
	if (!keep->rules || !keep->arena) {
		qvk_keep_destroy(keep);
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "--keep rules");
	}
	arena = keep->arena;
	for (const char *p = list; st == QVK_OK && keep->n < n;) {
		const char *comma = strchr(p, ',');
		size_t elen = comma ? (size_t)(comma - p) : strlen(p);

		st = qvk_keep_entry(ctx, p, elen, &keep->rules[keep->n], &arena);
		keep->n += st == QVK_OK;
		p = comma ? comma + 1 : p + elen;
	}
	if (st != QVK_OK) {
		qvk_keep_destroy(keep);
		return st;
	}
	*out = keep;
	return QVK_OK;
}

enum qvk_weight_format qvk_keep_lookup(struct qvk_keep *keep, const char *name,
				       const char *alias)
{
	enum qvk_weight_format f = QVK_WEIGHTS_AUTO;

	for (uint32_t i = 0; keep && i < keep->n; i++) {
		struct qvk_keep_rule *r = &keep->rules[i];

		if (fnmatch(r->glob, name, 0) &&
		    (!alias || fnmatch(r->glob, alias, 0)))
			continue;
		r->matches++;
		if (f == QVK_WEIGHTS_AUTO)
			f = r->format;
	}
	return f;
}

uint32_t qvk_keep_count(const struct qvk_keep *keep)
{
	return keep ? keep->n : 0;
}

const char *qvk_keep_rule(const struct qvk_keep *keep, uint32_t i)
{
	return keep && i < keep->n ? keep->rules[i].text : NULL;
}

uint64_t qvk_keep_matches(const struct qvk_keep *keep, uint32_t i)
{
	return keep && i < keep->n ? keep->rules[i].matches : 0;
}
