/* SPDX-License-Identifier: MIT */
/*
 * GGUF accessors: metadata lookup with typed, range-checked getters, and
 * tensor lookup. The file was validated at open (gguf.c), so walking string
 * arrays here stays inside it.
 */
#include <math.h>
#include <string.h>

#include "model_internal.h"

uint32_t qvk_gguf_version(const struct qvk_gguf *g)
{
	return g->version;
}

uint32_t qvk_gguf_alignment(const struct qvk_gguf *g)
{
	return g->alignment;
}

uint64_t qvk_gguf_kv_count(const struct qvk_gguf *g)
{
	return g->n_kv;
}

const struct qvk_gguf_kv *qvk_gguf_kv_at(const struct qvk_gguf *g,
					 uint64_t index)
{
	return index < g->n_kv ? &g->kvs[index] : NULL;
}

const struct qvk_gguf_kv *qvk_gguf_find(const struct qvk_gguf *g,
					const char *key)
{
	size_t len = strlen(key);

	for (uint64_t i = 0; i < g->n_kv; i++)
		if (g->kvs[i].key.len == len &&
		    !memcmp(g->kvs[i].key.ptr, key, len))
			return &g->kvs[i];
	return NULL;
}

static qvk_status qvk_gguf_lookup(struct qvk_ctx *ctx,
				  const struct qvk_gguf *g, const char *key,
				  const struct qvk_gguf_kv **out)
{
	*out = qvk_gguf_find(g, key);
	if (!*out)
		return qvk_error(ctx, QVK_ERR_NOT_FOUND,
				 "GGUF: metadata key '%s' is missing", key);
	return QVK_OK;
}

static qvk_status qvk_gguf_wrong_type(struct qvk_ctx *ctx,
				      const struct qvk_gguf_kv *kv,
				      const char *key, const char *want)
{
	return qvk_error(ctx, QVK_ERR_FORMAT,
			 "GGUF: metadata '%s' at byte offset %llu has type %u%s, "
			 "expected %s", key, (unsigned long long)kv->offset,
			 kv->type, kv->type == QVK_GGUF_ARRAY ? " (array)" : "",
			 want);
}

qvk_status qvk_gguf_get_u64(struct qvk_ctx *ctx, const struct qvk_gguf *g,
			    const char *key, uint64_t *out)
{
	const struct qvk_gguf_kv *kv;
	const uint8_t *p;
	int64_t s;
	qvk_status st = qvk_gguf_lookup(ctx, g, key, &kv);

	if (st)
		return st;
	p = kv->data;
	switch (kv->type) {
	case QVK_GGUF_UINT8: *out = p[0]; return QVK_OK;
	case QVK_GGUF_UINT16: *out = (uint64_t)(p[0] | p[1] << 8); return QVK_OK;
	case QVK_GGUF_UINT32: *out = qvk_load_u32(p); return QVK_OK;
	case QVK_GGUF_UINT64: *out = qvk_load_u64(p); return QVK_OK;
	case QVK_GGUF_INT8: s = (int8_t)p[0]; break;
	case QVK_GGUF_INT16: s = (int16_t)(uint16_t)(p[0] | p[1] << 8); break;
	case QVK_GGUF_INT32: s = (int32_t)qvk_load_u32(p); break;
	case QVK_GGUF_INT64: s = (int64_t)qvk_load_u64(p); break;
	default:
		return qvk_gguf_wrong_type(ctx, kv, key, "an integer");
	}
	if (s < 0)
		return qvk_error(ctx, QVK_ERR_FORMAT,
				 "GGUF: metadata '%s' at byte offset %llu is "
				 "negative (%lld)", key,
				 (unsigned long long)kv->offset, (long long)s);
	*out = (uint64_t)s;
	return QVK_OK;
}

qvk_status qvk_gguf_get_u32(struct qvk_ctx *ctx, const struct qvk_gguf *g,
			    const char *key, uint32_t *out)
{
	uint64_t v;
	qvk_status st = qvk_gguf_get_u64(ctx, g, key, &v);

	if (st)
		return st;
	if (v > UINT32_MAX)
		return qvk_error(ctx, QVK_ERR_FORMAT,
				 "GGUF: metadata '%s' at byte offset %llu: %llu "
				 "does not fit 32 bits", key,
				 (unsigned long long)qvk_gguf_find(g, key)->offset,
				 (unsigned long long)v);
	*out = (uint32_t)v;
	return QVK_OK;
}

qvk_status qvk_gguf_get_f32(struct qvk_ctx *ctx, const struct qvk_gguf *g,
			    const char *key, float *out)
{
	const struct qvk_gguf_kv *kv;
	qvk_status st = qvk_gguf_lookup(ctx, g, key, &kv);
	double v;

	if (st)
		return st;
	if (kv->type == QVK_GGUF_FLOAT32) {
		v = qvk_load_f32(kv->data);
	} else if (kv->type == QVK_GGUF_FLOAT64) {
		union { uint64_t u; double d; } u = { .u = qvk_load_u64(kv->data) };

		v = u.d;
	} else {
		return qvk_gguf_wrong_type(ctx, kv, key, "a float");
	}
	if (!isfinite(v) || fabs(v) > 3.4e38)
		return qvk_error(ctx, QVK_ERR_FORMAT,
				 "GGUF: metadata '%s' at byte offset %llu is not "
				 "a finite float", key,
				 (unsigned long long)kv->offset);
	*out = (float)v;
	return QVK_OK;
}

qvk_status qvk_gguf_get_bool(struct qvk_ctx *ctx, const struct qvk_gguf *g,
			     const char *key, bool *out)
{
	const struct qvk_gguf_kv *kv;
	qvk_status st = qvk_gguf_lookup(ctx, g, key, &kv);

	if (st)
		return st;
	if (kv->type != QVK_GGUF_BOOL)
		return qvk_gguf_wrong_type(ctx, kv, key, "a bool");
	*out = kv->data[0] != 0;
	return QVK_OK;
}

qvk_status qvk_gguf_get_str(struct qvk_ctx *ctx, const struct qvk_gguf *g,
			    const char *key, struct qvk_gguf_str *out)
{
	const struct qvk_gguf_kv *kv;
	qvk_status st = qvk_gguf_lookup(ctx, g, key, &kv);

	if (st)
		return st;
	if (kv->type != QVK_GGUF_STRING)
		return qvk_gguf_wrong_type(ctx, kv, key, "a string");
	out->len = qvk_load_u64(kv->data);
	out->ptr = (const char *)kv->data + 8;
	return QVK_OK;
}

qvk_status qvk_gguf_array_str(struct qvk_ctx *ctx,
			      const struct qvk_gguf_kv *kv, uint64_t index,
			      struct qvk_gguf_str *out)
{
	const uint8_t *p;

	if (!kv || kv->type != QVK_GGUF_ARRAY ||
	    kv->elem_type != QVK_GGUF_STRING || index >= kv->count)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "GGUF: element %llu of a non-string array or "
				 "past its end", (unsigned long long)index);
	p = kv->data;
	for (uint64_t i = 0; i < index; i++)
		p += 8 + qvk_load_u64(p);
	out->len = qvk_load_u64(p);
	out->ptr = (const char *)p + 8;
	return QVK_OK;
}

uint64_t qvk_gguf_tensor_count(const struct qvk_gguf *g)
{
	return g->n_tensors;
}

const struct qvk_host_tensor *qvk_gguf_tensor_at(const struct qvk_gguf *g,
						 uint64_t index)
{
	return index < g->n_tensors ? &g->tensors[index] : NULL;
}

const struct qvk_host_tensor *qvk_gguf_tensor_find(const struct qvk_gguf *g,
						   const char *name)
{
	for (uint64_t i = 0; i < g->n_tensors; i++)
		if (!strcmp(g->tensors[i].name, name))
			return &g->tensors[i];
	return NULL;
}
