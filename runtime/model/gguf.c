/* SPDX-License-Identifier: MIT */
/*
 * GGUF reader, versions 2 and 3 (ggml's docs/gguf.md):
 *
 *   u32 magic "GGUF", u32 version, u64 tensor_count, u64 metadata_kv_count,
 *   metadata: { string key, u32 type, value }*,
 *   tensor infos: { string name, u32 n_dims, u64 ne[n_dims], u32 type,
 *                   u64 offset (relative to the data section) }*,
 *   padding to general.alignment (default 32), tensor data.
 *   string = u64 length + bytes (no NUL); array = u32 type, u64 n, values.
 *
 * Everything is little-endian. The whole file is validated at open: every
 * read is bounds-checked against the bytes left, every count is checked
 * against what the rest of the file could hold before anything is
 * allocated, keys and tensor names must be unique, and each tensor's data
 * must be aligned, inside the file and disjoint from the others. Later
 * accessors can therefore walk the file without further checks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/quantize.h>

#include "model_internal.h"

/* A bounds-checked cursor over the file. */
struct qvk_gguf_reader {
	struct qvk_ctx *ctx;
	const uint8_t *base;
	uint64_t size;
	uint64_t pos;
};

static qvk_status qvk_gguf_need(struct qvk_gguf_reader *r, uint64_t n,
				const char *field)
{
	if (n > r->size - r->pos)
		return qvk_error(r->ctx, QVK_ERR_FORMAT,
				 "GGUF: %s at byte offset %llu needs %llu bytes, "
				 "only %llu left (truncated file?)",
				 field, (unsigned long long)r->pos,
				 (unsigned long long)n,
				 (unsigned long long)(r->size - r->pos));
	return QVK_OK;
}

static qvk_status qvk_gguf_u32(struct qvk_gguf_reader *r, const char *field,
			       uint32_t *out)
{
	qvk_status st = qvk_gguf_need(r, 4, field);

	if (st)
		return st;
	*out = qvk_load_u32(r->base + r->pos);
	r->pos += 4;
	return QVK_OK;
}

static qvk_status qvk_gguf_u64(struct qvk_gguf_reader *r, const char *field,
			       uint64_t *out)
{
	qvk_status st = qvk_gguf_need(r, 8, field);

	if (st)
		return st;
	*out = qvk_load_u64(r->base + r->pos);
	r->pos += 8;
	return QVK_OK;
}

static qvk_status qvk_gguf_string(struct qvk_gguf_reader *r,
				  const char *field, struct qvk_gguf_str *out)
{
	uint64_t at = r->pos, len;
	qvk_status st = qvk_gguf_u64(r, field, &len);

	if (st)
		return st;
	if (len > r->size - r->pos)
		return qvk_error(r->ctx, QVK_ERR_FORMAT,
				 "GGUF: %s at byte offset %llu: string length "
				 "%llu exceeds the %llu bytes left",
				 field, (unsigned long long)at,
				 (unsigned long long)len,
				 (unsigned long long)(r->size - r->pos));
	out->ptr = (const char *)r->base + r->pos;
	out->len = len;
	r->pos += len;
	return QVK_OK;
}

size_t qvk_gguf_type_size(uint32_t type)
{
	switch (type) {
	case QVK_GGUF_UINT8: case QVK_GGUF_INT8: case QVK_GGUF_BOOL:
		return 1;
	case QVK_GGUF_UINT16: case QVK_GGUF_INT16:
		return 2;
	case QVK_GGUF_UINT32: case QVK_GGUF_INT32: case QVK_GGUF_FLOAT32:
		return 4;
	case QVK_GGUF_UINT64: case QVK_GGUF_INT64: case QVK_GGUF_FLOAT64:
		return 8;
	default:
		return 0;
	}
}

/* Skip (and validate) @count values of @type starting at the cursor. */
static qvk_status qvk_gguf_values(struct qvk_gguf_reader *r,
				  const struct qvk_gguf_str *key,
				  uint32_t type, uint64_t count)
{
	size_t elem = qvk_gguf_type_size(type);
	uint64_t at = r->pos, bytes;
	struct qvk_gguf_str s;
	qvk_status st;

	if (type == QVK_GGUF_STRING) {
		/* each string takes at least its 8-byte length */
		if (count > (r->size - r->pos) / 8)
			goto out_past_end;
		for (uint64_t i = 0; i < count; i++)
			if ((st = qvk_gguf_string(r, "string value", &s)))
				return st;
		return QVK_OK;
	}
	if (!elem)
		return qvk_error(r->ctx, QVK_ERR_FORMAT,
				 "GGUF: key '%.*s': value type %u at byte offset "
				 "%llu is unknown%s", (int)QVK_MIN(key->len, 200),
				 key->ptr, type, (unsigned long long)at,
				 type == QVK_GGUF_ARRAY ?
				 " (nested arrays are not supported)" : "");
	if (__builtin_mul_overflow(count, (uint64_t)elem, &bytes) ||
	    bytes > r->size - r->pos)
		goto out_past_end;
	if (type == QVK_GGUF_BOOL)
		for (uint64_t i = 0; i < count; i++)
			if (r->base[r->pos + i] > 1)
				return qvk_error(r->ctx, QVK_ERR_FORMAT,
						 "GGUF: key '%.*s': bool at byte "
						 "offset %llu is %u, not 0 or 1",
						 (int)QVK_MIN(key->len, 200),
						 key->ptr,
						 (unsigned long long)(r->pos + i),
						 r->base[r->pos + i]);
	r->pos += bytes;
	return QVK_OK;

out_past_end:
	return qvk_error(r->ctx, QVK_ERR_FORMAT,
			 "GGUF: key '%.*s': %llu values at byte offset %llu "
			 "run past the end of the file (%llu bytes left)",
			 (int)QVK_MIN(key->len, 200), key->ptr,
			 (unsigned long long)count, (unsigned long long)at,
			 (unsigned long long)(r->size - r->pos));
}

static int qvk_gguf_kv_cmp(const void *a, const void *b)
{
	const struct qvk_gguf_kv *x = *(const struct qvk_gguf_kv *const *)a;
	const struct qvk_gguf_kv *y = *(const struct qvk_gguf_kv *const *)b;
	int c = memcmp(x->key.ptr, y->key.ptr, QVK_MIN(x->key.len, y->key.len));

	if (c)
		return c;
	return (x->key.len > y->key.len) - (x->key.len < y->key.len);
}

static qvk_status qvk_gguf_read_kvs(struct qvk_gguf_reader *r,
				    struct qvk_gguf *g)
{
	const struct qvk_gguf_kv **sorted;
	qvk_status st = QVK_OK;

	/* a key-value takes at least 8 (key length) + 1 + 4 + 1 bytes */
	if (g->n_kv > (r->size - r->pos) / 14)
		return qvk_error(r->ctx, QVK_ERR_FORMAT,
				 "GGUF: metadata_kv_count %llu at byte offset 16 "
				 "cannot fit in a %llu-byte file",
				 (unsigned long long)g->n_kv,
				 (unsigned long long)r->size);
	g->kvs = calloc(g->n_kv ? g->n_kv : 1, sizeof(*g->kvs));
	if (!g->kvs)
		return qvk_error(r->ctx, QVK_ERR_NO_MEMORY,
				 "GGUF: %llu metadata entries",
				 (unsigned long long)g->n_kv);
	for (uint64_t i = 0; i < g->n_kv; i++) {
		struct qvk_gguf_kv *kv = &g->kvs[i];
		uint64_t key_at = r->pos;
		uint32_t type;

		if ((st = qvk_gguf_string(r, "metadata key", &kv->key)))
			return st;
		if (kv->key.len == 0 || memchr(kv->key.ptr, 0, kv->key.len))
			return qvk_error(r->ctx, QVK_ERR_FORMAT,
					 "GGUF: metadata key %llu at byte offset "
					 "%llu is empty or contains a NUL",
					 (unsigned long long)i,
					 (unsigned long long)key_at);
		if ((st = qvk_gguf_u32(r, "metadata value type", &type)))
			return st;
		kv->type = (enum qvk_gguf_type)type;
		kv->elem_type = kv->type;
		kv->count = 1;
		if (type == QVK_GGUF_ARRAY) {
			uint32_t et;

			if ((st = qvk_gguf_u32(r, "array element type", &et)) ||
			    (st = qvk_gguf_u64(r, "array length", &kv->count)))
				return st;
			kv->elem_type = (enum qvk_gguf_type)et;
			type = et;
		}
		kv->data = r->base + r->pos;
		kv->offset = r->pos;
		if ((st = qvk_gguf_values(r, &kv->key, type, kv->count)))
			return st;
	}

	/* keys must be unique: sort pointers, compare neighbours */
	sorted = malloc((g->n_kv ? g->n_kv : 1) * sizeof(*sorted));
	if (!sorted)
		return qvk_error(r->ctx, QVK_ERR_NO_MEMORY, "GGUF: key index");
	for (uint64_t i = 0; i < g->n_kv; i++)
		sorted[i] = &g->kvs[i];
	qsort(sorted, g->n_kv, sizeof(*sorted), qvk_gguf_kv_cmp);
	for (uint64_t i = 1; i < g->n_kv; i++) {
		if (!qvk_gguf_kv_cmp(&sorted[i - 1], &sorted[i])) {
			const struct qvk_gguf_kv *a = sorted[i - 1], *b = sorted[i];

			st = qvk_error(r->ctx, QVK_ERR_FORMAT,
				       "GGUF: duplicate metadata key '%.*s' "
				       "(values at byte offsets %llu and %llu)",
				       (int)QVK_MIN(a->key.len, 200), a->key.ptr,
				       (unsigned long long)QVK_MIN(a->offset, b->offset),
				       (unsigned long long)QVK_MAX(a->offset, b->offset));
			break;
		}
	}
	free(sorted);
	return st;
}

static qvk_status qvk_gguf_read_alignment(struct qvk_ctx *ctx,
					  struct qvk_gguf *g)
{
	const struct qvk_gguf_kv *kv = qvk_gguf_find(g, "general.alignment");
	uint64_t v;
	qvk_status st;

	g->alignment = QVK_GGUF_DEFAULT_ALIGNMENT;
	if (!kv)
		return QVK_OK;
	if ((st = qvk_gguf_get_u64(ctx, g, "general.alignment", &v)))
		return st;
	if (v == 0 || v > (1u << 30) || (v & (v - 1)))
		return qvk_error(ctx, QVK_ERR_FORMAT,
				 "GGUF: general.alignment at byte offset %llu is "
				 "%llu, not a power of two up to 2^30",
				 (unsigned long long)kv->offset,
				 (unsigned long long)v);
	g->alignment = (uint32_t)v;
	return QVK_OK;
}

static qvk_status qvk_gguf_read_tensor_info(struct qvk_gguf_reader *r,
					    uint64_t index,
					    struct qvk_host_tensor *t,
					    uint64_t *rel_offset,
					    uint64_t *field_at)
{
	struct qvk_gguf_str name;
	uint64_t at = r->pos;
	uint32_t n_dims, type;
	qvk_status st;

	if ((st = qvk_gguf_string(r, "tensor name", &name)))
		return st;
	if (name.len == 0 || name.len >= QVK_TENSOR_NAME_MAX ||
	    memchr(name.ptr, 0, name.len))
		return qvk_error(r->ctx, QVK_ERR_FORMAT,
				 "GGUF: tensor %llu at byte offset %llu: name of "
				 "%llu bytes (must be 1..%d, without NUL)",
				 (unsigned long long)index,
				 (unsigned long long)at,
				 (unsigned long long)name.len,
				 QVK_TENSOR_NAME_MAX - 1);
	memcpy(t->name, name.ptr, name.len);
	t->name[name.len] = '\0';
	at = r->pos;
	if ((st = qvk_gguf_u32(r, "tensor n_dims", &n_dims)))
		return st;
	if (n_dims < 1 || n_dims > QVK_TENSOR_MAX_DIMS)
		return qvk_error(r->ctx, QVK_ERR_FORMAT,
				 "GGUF: tensor '%s': n_dims %u at byte offset "
				 "%llu (must be 1..%d)", t->name, n_dims,
				 (unsigned long long)at, QVK_TENSOR_MAX_DIMS);
	t->n_dims = n_dims;
	for (uint32_t d = 0; d < QVK_TENSOR_MAX_DIMS; d++)
		t->ne[d] = 1;
	for (uint32_t d = 0; d < n_dims; d++) {
		at = r->pos;
		if ((st = qvk_gguf_u64(r, "tensor dimension", &t->ne[d])))
			return st;
		if (t->ne[d] == 0 || t->ne[d] > INT64_MAX)
			return qvk_error(r->ctx, QVK_ERR_FORMAT,
					 "GGUF: tensor '%s': ne[%u] = %llu at byte "
					 "offset %llu", t->name, d,
					 (unsigned long long)t->ne[d],
					 (unsigned long long)at);
	}
	at = r->pos;
	if ((st = qvk_gguf_u32(r, "tensor type", &type)))
		return st;
	if (!qvk_type_info(type) || !qvk_type_info(type)->readable) {
		char label[QVK_TYPE_LABEL_MAX], names[256];

		qvk_type_readable_names(names, sizeof(names));
		return qvk_error(r->ctx, QVK_ERR_UNSUPPORTED,
				 "GGUF: tensor '%s' is of type %s (ggml type %u, "
				 "byte offset %llu), which qvk does not read; it "
				 "reads %s (a file of another quantization of the "
				 "same model, or its F16 file through qvk "
				 "quantize, would work)", t->name,
				 qvk_type_label(type, label), type,
				 (unsigned long long)at, names);
	}
	t->type = (enum qvk_ggml_type)type;
	if (!qvk_ggml_tensor_size(type, n_dims, t->ne, &t->size_bytes))
		return qvk_error(r->ctx, QVK_ERR_FORMAT,
				 "GGUF: tensor '%s' (byte offset %llu): shape "
				 "[%llu, %llu, %llu, %llu] of type %s has no valid "
				 "size (ne[0] not a multiple of the block, or "
				 "overflow)", t->name, (unsigned long long)at,
				 (unsigned long long)t->ne[0],
				 (unsigned long long)t->ne[1],
				 (unsigned long long)t->ne[2],
				 (unsigned long long)t->ne[3],
				 qvk_ggml_type_name(type));
	*field_at = r->pos;
	return qvk_gguf_u64(r, "tensor offset", rel_offset);
}

static int qvk_gguf_offset_cmp(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return (x[0] > y[0]) - (x[0] < y[0]);
}

static int qvk_gguf_name_cmp(const void *a, const void *b)
{
	const struct qvk_host_tensor *x = *(const struct qvk_host_tensor *const *)a;
	const struct qvk_host_tensor *y = *(const struct qvk_host_tensor *const *)b;

	return strcmp(x->name, y->name);
}

/*
 * Place each tensor's data; check bounds, alignment, overlap, names.
 * @offsets[2i] is tensor i's data offset, @offsets[2i+1] where the file
 * says so.
 */
static qvk_status qvk_gguf_place_tensors(struct qvk_ctx *ctx,
					 struct qvk_gguf *g,
					 const uint64_t *offsets)
{
	const struct qvk_host_tensor **by_name;
	uint64_t *spans; /* pairs (start, index) sorted by start */
	qvk_status st = QVK_OK;
	uint64_t n = g->n_tensors;

	for (uint64_t i = 0; i < n; i++) {
		struct qvk_host_tensor *t = &g->tensors[i];
		/*
		 * F32 and qvk types (uint32 code words) read whole words;
		 * every ggml block type starts with or is made of 16-bit
		 * fields.
		 */
		uint64_t start, end,
			align = t->type == QVK_GGML_TYPE_F32 ||
					qvk_ggml_type_is_qvk(t->type, NULL, NULL) ?
				4 : 2;

		uint64_t rel = offsets[2 * i], at = offsets[2 * i + 1];

		if (rel % g->alignment)
			return qvk_error(ctx, QVK_ERR_FORMAT,
					 "GGUF: tensor '%s': offset %llu at byte "
					 "offset %llu is not a multiple of the "
					 "alignment %u", t->name,
					 (unsigned long long)rel,
					 (unsigned long long)at, g->alignment);
		if (__builtin_add_overflow(g->data_offset, rel, &start) ||
		    __builtin_add_overflow(start, t->size_bytes, &end) ||
		    end > g->size_bytes)
			return qvk_error(ctx, QVK_ERR_FORMAT,
					 "GGUF: tensor '%s': %llu bytes at data "
					 "offset %llu (byte offset %llu) run past "
					 "the end of the %llu-byte file (data "
					 "section at %llu)", t->name,
					 (unsigned long long)t->size_bytes,
					 (unsigned long long)rel,
					 (unsigned long long)at,
					 (unsigned long long)g->size_bytes,
					 (unsigned long long)g->data_offset);
		t->data = g->base + start;
		if ((uintptr_t)t->data % align)
			return qvk_error(ctx, QVK_ERR_FORMAT,
					 "GGUF: tensor '%s' at file offset %llu is "
					 "not %llu-byte aligned for %s", t->name,
					 (unsigned long long)start,
					 (unsigned long long)align,
					 qvk_ggml_type_name(t->type));
	}

	spans = malloc((n ? n : 1) * 2 * sizeof(*spans));
	by_name = malloc((n ? n : 1) * sizeof(*by_name));
	if (!spans || !by_name) {
		st = qvk_error(ctx, QVK_ERR_NO_MEMORY, "GGUF: tensor index");
		goto out_free;
	}
	for (uint64_t i = 0; i < n; i++) {
		spans[2 * i] = offsets[2 * i];
		spans[2 * i + 1] = i;
		by_name[i] = &g->tensors[i];
	}
	qsort(spans, n, 2 * sizeof(*spans), qvk_gguf_offset_cmp);
	for (uint64_t i = 1; i < n; i++) {
		const struct qvk_host_tensor *a = &g->tensors[spans[2 * i - 1]];

		if (spans[2 * i - 2] + a->size_bytes > spans[2 * i]) {
			st = qvk_error(ctx, QVK_ERR_FORMAT,
				       "GGUF: tensors '%s' and '%s' overlap (data "
				       "offsets %llu and %llu)", a->name,
				       g->tensors[spans[2 * i + 1]].name,
				       (unsigned long long)spans[2 * i - 2],
				       (unsigned long long)spans[2 * i]);
			goto out_free;
		}
	}
	qsort(by_name, n, sizeof(*by_name), qvk_gguf_name_cmp);
	for (uint64_t i = 1; i < n; i++) {
		if (!strcmp(by_name[i - 1]->name, by_name[i]->name)) {
			st = qvk_error(ctx, QVK_ERR_FORMAT,
				       "GGUF: duplicate tensor name '%s'",
				       by_name[i]->name);
			goto out_free;
		}
	}
out_free:
	free(by_name);
	free(spans);
	return st;
}

static qvk_status qvk_gguf_parse(struct qvk_ctx *ctx, struct qvk_gguf *g)
{
	struct qvk_gguf_reader r = { ctx, g->base, g->size_bytes, 0 };
	uint64_t *offsets = NULL;
	uint32_t magic;
	qvk_status st;

	if ((st = qvk_gguf_u32(&r, "magic", &magic)))
		return st;
	if (magic != QVK_GGUF_MAGIC)
		return qvk_error(ctx, QVK_ERR_FORMAT,
				 "GGUF: bad magic 0x%08x at byte offset 0 (not a "
				 "GGUF file)", magic);
	if ((st = qvk_gguf_u32(&r, "version", &g->version)))
		return st;
	if (g->version == 1 || g->version > 3)
		return qvk_error(ctx, QVK_ERR_UNSUPPORTED,
				 "GGUF: version %u at byte offset 4 (qvk reads "
				 "versions 2 and 3%s)", g->version,
				 (g->version & 0xffff) == 0 ?
				 "; this looks like a big-endian file" : "");
	if (g->version == 0)
		return qvk_error(ctx, QVK_ERR_FORMAT,
				 "GGUF: version 0 at byte offset 4");
	if ((st = qvk_gguf_u64(&r, "tensor_count", &g->n_tensors)) ||
	    (st = qvk_gguf_u64(&r, "metadata_kv_count", &g->n_kv)))
		return st;
	if ((st = qvk_gguf_read_kvs(&r, g)) ||
	    (st = qvk_gguf_read_alignment(ctx, g)))
		return st;

	/* a tensor info takes at least 8 + 1 + 4 + 8 + 4 + 8 bytes */
	if (g->n_tensors > (r.size - r.pos) / 33)
		return qvk_error(ctx, QVK_ERR_FORMAT,
				 "GGUF: tensor_count %llu at byte offset 8 cannot "
				 "fit in the %llu bytes after the metadata",
				 (unsigned long long)g->n_tensors,
				 (unsigned long long)(r.size - r.pos));
	g->tensors = calloc(g->n_tensors ? g->n_tensors : 1,
			    sizeof(*g->tensors));
	offsets = calloc(g->n_tensors ? 2 * g->n_tensors : 1, sizeof(*offsets));
	if (!g->tensors || !offsets) {
		st = qvk_error(ctx, QVK_ERR_NO_MEMORY, "GGUF: %llu tensors",
			       (unsigned long long)g->n_tensors);
		goto out_free_offsets;
	}
	for (uint64_t i = 0; i < g->n_tensors; i++)
		if ((st = qvk_gguf_read_tensor_info(&r, i, &g->tensors[i],
						    &offsets[2 * i],
						    &offsets[2 * i + 1])))
			goto out_free_offsets;
	/* r.pos <= size <= SIZE_MAX and alignment <= 2^30: cannot overflow */
	g->data_offset = QVK_ALIGN_UP(r.pos, (uint64_t)g->alignment);
	if (g->n_tensors && g->data_offset > g->size_bytes) {
		st = qvk_error(ctx, QVK_ERR_FORMAT,
			       "GGUF: data section at byte offset %llu starts "
			       "past the end of the %llu-byte file",
			       (unsigned long long)g->data_offset,
			       (unsigned long long)g->size_bytes);
		goto out_free_offsets;
	}
	st = qvk_gguf_place_tensors(ctx, g, offsets);
out_free_offsets:
	free(offsets);
	return st;
}

qvk_status qvk_gguf_open_memory(struct qvk_ctx *ctx, const void *data,
				size_t size, struct qvk_gguf **out)
{
	struct qvk_gguf *g;
	qvk_status st;

	if (!out || (!data && size))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "GGUF: no buffer");
	*out = NULL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "GGUF reader");
	g->base = data;
	g->size_bytes = size;
	st = qvk_gguf_parse(ctx, g);
	if (st) {
		qvk_gguf_close(g);
		return st;
	}
	*out = g;
	return QVK_OK;
}

qvk_status qvk_gguf_open(struct qvk_ctx *ctx, const char *path,
			 struct qvk_gguf **out)
{
	void *map;
	size_t size;
	qvk_status st;

	if (!out || !path)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "GGUF: no path");
	*out = NULL;
	if ((st = qvk_map_file(ctx, path, &map, &size)))
		return st;
	st = qvk_gguf_open_memory(ctx, map, size, out);
	if (st) {
		qvk_unmap_file(map, size);
		/* keep the detail, add the path in front */
		if (ctx) {
			char detail[QVK_MESSAGE_MAX];

			snprintf(detail, sizeof(detail), "%s",
				 qvk_ctx_message(ctx));
			qvk_error(ctx, st, "%s: %s", path, detail);
		}
		return st;
	}
	(*out)->map = map;
	return QVK_OK;
}

void qvk_gguf_close(struct qvk_gguf *g)
{
	if (!g)
		return;
	qvk_unmap_file(g->map, g->size_bytes);
	free(g->tensors);
	free(g->kvs);
	free(g);
}
