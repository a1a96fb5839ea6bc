/* SPDX-License-Identifier: MIT */
/*
 * llama.cpp importance matrices read as calibration statistics
 * (include/qvk/quantize.h): the mean square of each input channel of
 * each weight tensor, which is what qvk's MSE clip search and K-quant
 * error search weigh their errors by. Every count, length and offset of
 * the legacy file is checked against its size before it is used.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quantize_internal.h"

struct qvk_imatrix_entry {
	char name[QVK_TENSOR_NAME_MAX];
	uint32_t k;
	float *mean_sq; /* (k) */
};

struct qvk_imatrix {
	struct qvk_imatrix_entry *e;
	uint32_t n;
};

void qvk_imatrix_destroy(struct qvk_imatrix *im)
{
	if (!im)
		return;
	for (uint32_t i = 0; i < im->n; i++)
		free(im->e[i].mean_sq);
	free(im->e);
	free(im);
}

uint32_t qvk_imatrix_count(const struct qvk_imatrix *im)
{
	return im ? im->n : 0;
}

const float *qvk_imatrix_find(const struct qvk_imatrix *im, const char *name,
			      uint32_t *k)
{
	for (uint32_t i = 0; im && name && i < im->n; i++)
		if (!strcmp(im->e[i].name, name)) {
			*k = im->e[i].k;
			return im->e[i].mean_sq;
		}
	return NULL;
}

/*
 * Entry @name of @n_mat stacked rows of @k sums (@sum: n_mat * k) with
 * @count[m] positions each; rows without positions are left out.
 */
static qvk_status qvk_imatrix_add(struct qvk_ctx *ctx, struct qvk_imatrix *im,
				  const char *path, const char *name,
				  size_t name_len, const float *sum,
				  const float *count, uint32_t n_mat,
				  uint32_t k)
{
	struct qvk_imatrix_entry *e = &im->e[im->n];
	double n_used = 0;

	if (name_len == 0 || name_len >= QVK_TENSOR_NAME_MAX || !k)
		return qvk_error(ctx, QVK_ERR_FORMAT, "imatrix %s: entry %u: a "
				 "name of %zu bytes (1..%d) or no values", path,
				 im->n, name_len, QVK_TENSOR_NAME_MAX - 1);
	memcpy(e->name, name, name_len);
	e->name[name_len] = '\0';
	e->k = k;
	e->mean_sq = calloc(k, sizeof(float));
	if (!e->mean_sq)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "imatrix %s", path);
	im->n++;
	for (uint32_t m = 0; m < n_mat; m++) {
		if (!isfinite(count[m]) || count[m] < 0)
			return qvk_error(ctx, QVK_ERR_FORMAT, "imatrix %s: %s: "
					 "count %g", path, e->name,
					 (double)count[m]);
		if (count[m] == 0)
			continue;
		n_used++;
		for (uint32_t j = 0; j < k; j++) {
			float v = sum[(size_t)m * k + j];

			if (!isfinite(v) || v < 0)
				return qvk_error(ctx, QVK_ERR_FORMAT, "imatrix "
						 "%s: %s: value %g at %u is not "
						 "a sum of squares", path,
						 e->name, (double)v, j);
			e->mean_sq[j] += v / count[m];
		}
	}
	if (!n_used)
		return qvk_error(ctx, QVK_ERR_FORMAT, "imatrix %s: %s has no "
				 "data", path, e->name);
	for (uint32_t j = 0; j < k; j++)
		e->mean_sq[j] = (float)(e->mean_sq[j] / n_used);
	return QVK_OK;
}

static qvk_status qvk_imatrix_gguf(struct qvk_ctx *ctx, const char *path,
				   struct qvk_imatrix *im)
{
	struct qvk_gguf *g = NULL;
	qvk_status st = qvk_gguf_open(ctx, path, &g);
	uint64_t n;

	if (st)
		return st;
	n = qvk_gguf_tensor_count(g);
	im->e = calloc(n ? n : 1, sizeof(*im->e));
	if (!im->e)
		st = qvk_error(ctx, QVK_ERR_NO_MEMORY, "imatrix %s", path);
	for (uint64_t i = 0; st == QVK_OK && i < n; i++) {
		const struct qvk_host_tensor *s = qvk_gguf_tensor_at(g, i), *c;
		size_t len = strlen(s->name);
		char cname[QVK_TENSOR_NAME_MAX + 8];

		if (len < 8 || strcmp(s->name + len - 8, ".in_sum2"))
			continue;
		snprintf(cname, sizeof(cname), "%.*s.counts", (int)(len - 8),
			 s->name);
		c = qvk_gguf_tensor_find(g, cname);
		if (!c || s->type != QVK_GGML_TYPE_F32 ||
		    c->type != QVK_GGML_TYPE_F32 || s->n_dims > 2 ||
		    c->ne[0] != 1 || c->ne[1] != (s->n_dims > 1 ? s->ne[1] : 1) ||
		    s->ne[0] > UINT32_MAX || c->ne[1] > UINT32_MAX) {
			st = qvk_error(ctx, QVK_ERR_FORMAT, "imatrix %s: %s needs "
				       "F32 sums (k, n) and F32 %s (1, n)", path,
				       s->name, cname);
			break;
		}
		st = qvk_imatrix_add(ctx, im, path, s->name, len - 8, s->data,
				     c->data, (uint32_t)c->ne[1],
				     (uint32_t)s->ne[0]);
	}
	if (st == QVK_OK && !im->n)
		st = qvk_error(ctx, QVK_ERR_FORMAT, "imatrix %s: a GGUF file "
			       "without NAME.in_sum2 tensors", path);
	qvk_gguf_close(g);
	return st;
}

/* The next int32 of the legacy file, or false at its end. */
static bool qvk_imatrix_i32(const uint8_t *p, size_t size, size_t *at,
			    int32_t *v)
{
	if (size - *at < 4)
		return false;
	memcpy(v, p + *at, 4);
	*at += 4;
	return true;
}

static qvk_status qvk_imatrix_dat(struct qvk_ctx *ctx, const char *path,
				  const uint8_t *p, size_t size,
				  struct qvk_imatrix *im)
{
	size_t at = 0;
	int32_t n, len, ncall, nval;
	qvk_status st = QVK_OK;

	if (!qvk_imatrix_i32(p, size, &at, &n) || n <= 0 ||
	    (size_t)n > size / 12)
		return qvk_error(ctx, QVK_ERR_FORMAT, "imatrix %s: not a GGUF "
				 "file, and no entry count at its start", path);
	im->e = calloc((size_t)n, sizeof(*im->e));
	if (!im->e)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "imatrix %s", path);
	for (int32_t i = 0; st == QVK_OK && i < n; i++) {
		const char *name;
		float *vals, count;

		if (!qvk_imatrix_i32(p, size, &at, &len) || len <= 0 ||
		    (size_t)len > size - at)
			return qvk_error(ctx, QVK_ERR_FORMAT, "imatrix %s: entry "
					 "%d: bad name length at byte %zu", path,
					 i, at);
		name = (const char *)p + at;
		at += (size_t)len;
		if (!qvk_imatrix_i32(p, size, &at, &ncall) ||
		    !qvk_imatrix_i32(p, size, &at, &nval) || ncall <= 0 ||
		    nval <= 0 || (size_t)nval > (size - at) / 4)
			return qvk_error(ctx, QVK_ERR_FORMAT, "imatrix %s: entry "
					 "%d (%.*s): bad ncall or value count, "
					 "or the file ends", path, i,
					 QVK_MIN(len, 64), name);
		vals = malloc((size_t)nval * 4);
		if (!vals)
			return qvk_error(ctx, QVK_ERR_NO_MEMORY, "imatrix %s",
					 path);
		memcpy(vals, p + at, (size_t)nval * 4);
		at += (size_t)nval * 4;
		count = (float)ncall; /* the values are mean x² times ncall */
		st = qvk_imatrix_add(ctx, im, path, name, (size_t)len, vals,
				     &count, 1, (uint32_t)nval);
		free(vals);
	}
	return st;
}

qvk_status qvk_imatrix_load(struct qvk_ctx *ctx, const char *path,
			    struct qvk_imatrix **out)
{
	struct qvk_imatrix *im;
	uint8_t *data = NULL;
	size_t size = 0;
	FILE *f;
	long end;
	qvk_status st;

	if (!out || !path)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "imatrix: no path");
	*out = NULL;
	f = fopen(path, "rb");
	if (!f)
		return qvk_error(ctx, QVK_ERR_IO, "imatrix %s: cannot open it",
				 path);
	if (fseek(f, 0, SEEK_END) == 0 && (end = ftell(f)) >= 0) {
		size = (size_t)end;
		rewind(f);
		data = malloc(size ? size : 1);
		if (data && fread(data, 1, size, f) != size) {
			free(data);
			data = NULL;
		}
	}
	fclose(f);
	if (!data)
		return qvk_error(ctx, QVK_ERR_IO, "imatrix %s: cannot read it",
				 path);
	im = calloc(1, sizeof(*im));
	if (!im)
		st = qvk_error(ctx, QVK_ERR_NO_MEMORY, "imatrix %s", path);
	else if (size >= 4 && !memcmp(data, "GGUF", 4))
		st = qvk_imatrix_gguf(ctx, path, im);
	else
		st = qvk_imatrix_dat(ctx, path, data, size, im);
	free(data);
	if (st) {
		qvk_imatrix_destroy(im);
		return st;
	}
	*out = im;
	return QVK_OK;
}
