/* SPDX-License-Identifier: MIT */
/*
 * GGUF v3 writer. Metadata values are serialised when set (so the write is
 * a plain stream); tensors are referenced and their data streamed at write
 * time, each at an offset aligned to general.alignment, with zero padding
 * between them as ggml's gguf writer does.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "atomic_file.h"
#include "model_internal.h"

struct qvk_gguf_wkv {
	char *key;
	uint32_t type;
	uint8_t *value; /* serialised value (arrays: elem type, count, data) */
	size_t value_bytes;
};

struct qvk_gguf_writer {
	struct qvk_ctx *ctx;
	uint32_t alignment;
	struct qvk_gguf_wkv *kvs;
	size_t n_kv, cap_kv;
	struct qvk_host_tensor *tensors;
	size_t n_tensors, cap_tensors;
	/* streaming (qvk_gguf_writer_begin): the open file and progress */
	bool deferred;     /* tensors are added without data */
	bool streaming;    /* begun, not yet committed or aborted */
	struct qvk_atomic_file af;
	size_t next;       /* the next tensor whose data is due */
	uint64_t pos;      /* bytes written */
};

qvk_status qvk_gguf_writer_create(struct qvk_ctx *ctx,
				  struct qvk_gguf_writer **out)
{
	struct qvk_gguf_writer *w;

	if (!out)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "GGUF writer");
	w = calloc(1, sizeof(*w));
	*out = w;
	if (!w)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "GGUF writer");
	w->ctx = ctx;
	w->alignment = QVK_GGUF_DEFAULT_ALIGNMENT;
	return QVK_OK;
}

struct qvk_ctx *qvk_gguf_writer_ctx(const struct qvk_gguf_writer *w)
{
	return w ? w->ctx : NULL;
}

void qvk_gguf_writer_destroy(struct qvk_gguf_writer *w)
{
	if (!w)
		return;
	if (w->streaming)
		qvk_atomic_file_abort(&w->af);
	for (size_t i = 0; i < w->n_kv; i++) {
		free(w->kvs[i].key);
		free(w->kvs[i].value);
	}
	free(w->kvs);
	free(w->tensors);
	free(w);
}

/* Take ownership of @value (freed on failure too). */
static qvk_status qvk_gguf_writer_put(struct qvk_gguf_writer *w,
				      const char *key, uint32_t type,
				      uint8_t *value, size_t value_bytes)
{
	struct qvk_gguf_wkv *kv = NULL;
	char *key_copy;

	if (!key || !*key) {
		free(value);
		return qvk_error(w->ctx, QVK_ERR_INVALID_ARG,
				 "GGUF writer: empty key");
	}
	/*
	 * general.alignment decides where the data goes, however it is set
	 * (set_alignment, set_u32, copy_kv): keep the two in agreement.
	 */
	if (!strcmp(key, "general.alignment")) {
		uint32_t a = 0;

		if (type == QVK_GGUF_UINT32)
			memcpy(&a, value, 4);
		if (a < 8 || a > (1u << 30) || (a & (a - 1))) {
			free(value);
			return qvk_error(w->ctx, QVK_ERR_INVALID_ARG,
					 "GGUF writer: general.alignment must be "
					 "a uint32 power of two in 8..2^30");
		}
		w->alignment = a;
	}
	for (size_t i = 0; i < w->n_kv; i++)
		if (!strcmp(w->kvs[i].key, key))
			kv = &w->kvs[i];
	if (kv) { /* replace: keys stay unique */
		free(kv->value);
		kv->type = type;
		kv->value = value;
		kv->value_bytes = value_bytes;
		return QVK_OK;
	}
	if (w->n_kv == w->cap_kv) {
		size_t cap = w->cap_kv ? 2 * w->cap_kv : 16;
		struct qvk_gguf_wkv *kvs = realloc(w->kvs, cap * sizeof(*kvs));

		if (!kvs) {
			free(value);
			return qvk_error(w->ctx, QVK_ERR_NO_MEMORY,
					 "GGUF writer: metadata");
		}
		w->kvs = kvs;
		w->cap_kv = cap;
	}
	key_copy = strdup(key);
	if (!key_copy) {
		free(value);
		return qvk_error(w->ctx, QVK_ERR_NO_MEMORY, "GGUF writer: key");
	}
	w->kvs[w->n_kv++] = (struct qvk_gguf_wkv){ key_copy, type, value,
						   value_bytes };
	return QVK_OK;
}

static qvk_status qvk_gguf_writer_scalar(struct qvk_gguf_writer *w,
					 const char *key, uint32_t type,
					 const void *value)
{
	size_t n = qvk_gguf_type_size(type);
	uint8_t *v = malloc(n);

	if (!v)
		return qvk_error(w->ctx, QVK_ERR_NO_MEMORY, "GGUF writer");
	memcpy(v, value, n); /* little-endian host (x86, arm64) */
	return qvk_gguf_writer_put(w, key, type, v, n);
}

qvk_status qvk_gguf_writer_set_u32(struct qvk_gguf_writer *w, const char *key,
				   uint32_t value)
{
	return qvk_gguf_writer_scalar(w, key, QVK_GGUF_UINT32, &value);
}

qvk_status qvk_gguf_writer_set_i32(struct qvk_gguf_writer *w, const char *key,
				   int32_t value)
{
	return qvk_gguf_writer_scalar(w, key, QVK_GGUF_INT32, &value);
}

qvk_status qvk_gguf_writer_set_u64(struct qvk_gguf_writer *w, const char *key,
				   uint64_t value)
{
	return qvk_gguf_writer_scalar(w, key, QVK_GGUF_UINT64, &value);
}

qvk_status qvk_gguf_writer_set_f32(struct qvk_gguf_writer *w, const char *key,
				   float value)
{
	return qvk_gguf_writer_scalar(w, key, QVK_GGUF_FLOAT32, &value);
}

qvk_status qvk_gguf_writer_set_bool(struct qvk_gguf_writer *w,
				    const char *key, bool value)
{
	uint8_t b = value;

	return qvk_gguf_writer_scalar(w, key, QVK_GGUF_BOOL, &b);
}

qvk_status qvk_gguf_writer_set_str(struct qvk_gguf_writer *w, const char *key,
				   const char *value)
{
	uint64_t len = strlen(value);
	uint8_t *v = malloc(8 + len);

	if (!v)
		return qvk_error(w->ctx, QVK_ERR_NO_MEMORY, "GGUF writer");
	memcpy(v, &len, 8);
	memcpy(v + 8, value, len);
	return qvk_gguf_writer_put(w, key, QVK_GGUF_STRING, v, 8 + len);
}

/* Serialise an array header followed by @data_bytes of @data. */
static qvk_status qvk_gguf_writer_array(struct qvk_gguf_writer *w,
					const char *key, uint32_t elem_type,
					uint64_t count, const void *data,
					size_t data_bytes)
{
	uint8_t *v;

	if (data_bytes > SIZE_MAX - 12 || !(v = malloc(12 + data_bytes)))
		return qvk_error(w->ctx, QVK_ERR_NO_MEMORY,
				 "GGUF writer: array '%s'", key);
	memcpy(v, &elem_type, 4);
	memcpy(v + 4, &count, 8);
	if (data_bytes)
		memcpy(v + 12, data, data_bytes);
	return qvk_gguf_writer_put(w, key, QVK_GGUF_ARRAY, v, 12 + data_bytes);
}

qvk_status qvk_gguf_writer_set_array(struct qvk_gguf_writer *w,
				     const char *key,
				     enum qvk_gguf_type elem_type,
				     const void *values, uint64_t count)
{
	size_t elem = qvk_gguf_type_size(elem_type), bytes;

	if (!elem || (count && !values))
		return qvk_error(w->ctx, QVK_ERR_INVALID_ARG,
				 "GGUF writer: array '%s' of type %u", key,
				 elem_type);
	if (count > SIZE_MAX || !qvk_mul_size((size_t)count, elem, &bytes))
		return qvk_error(w->ctx, QVK_ERR_NO_MEMORY,
				 "GGUF writer: array '%s' too large", key);
	return qvk_gguf_writer_array(w, key, elem_type, count, values, bytes);
}

qvk_status qvk_gguf_writer_set_str_array(struct qvk_gguf_writer *w,
					 const char *key,
					 const char *const *strs,
					 const uint64_t *lens, uint64_t count)
{
	size_t bytes = 0, pos = 0;
	uint8_t *buf;
	qvk_status st;

	for (uint64_t i = 0; i < count; i++)
		if (lens[i] > SIZE_MAX ||
		    !qvk_add_size(bytes, 8, &bytes) ||
		    !qvk_add_size(bytes, (size_t)lens[i], &bytes))
			return qvk_error(w->ctx, QVK_ERR_NO_MEMORY,
					 "GGUF writer: array '%s' too large", key);
	buf = malloc(bytes ? bytes : 1);
	if (!buf)
		return qvk_error(w->ctx, QVK_ERR_NO_MEMORY,
				 "GGUF writer: array '%s'", key);
	for (uint64_t i = 0; i < count; i++) {
		memcpy(buf + pos, &lens[i], 8);
		if (lens[i])
			memcpy(buf + pos + 8, strs[i], (size_t)lens[i]);
		pos += 8 + (size_t)lens[i];
	}
	st = qvk_gguf_writer_array(w, key, QVK_GGUF_STRING, count, buf, bytes);
	free(buf);
	return st;
}

qvk_status qvk_gguf_writer_copy_kv(struct qvk_gguf_writer *w,
				   const struct qvk_gguf_kv *kv)
{
	char key[256];
	size_t bytes;
	uint8_t *v;

	if (!kv || kv->key.len >= sizeof(key))
		return qvk_error(w->ctx, QVK_ERR_INVALID_ARG,
				 "GGUF writer: copy of a missing or over-long key");
	memcpy(key, kv->key.ptr, kv->key.len);
	key[kv->key.len] = '\0';
	if (kv->type == QVK_GGUF_ARRAY) {
		const uint8_t *p = kv->data;

		if (kv->elem_type == QVK_GGUF_STRING) {
			/* validated at open: the walk stays in the file */
			for (uint64_t i = 0; i < kv->count; i++)
				p += 8 + qvk_load_u64(p);
		} else {
			p += kv->count * qvk_gguf_type_size(kv->elem_type);
		}
		return qvk_gguf_writer_array(w, key, kv->elem_type, kv->count,
					     kv->data, (size_t)(p - kv->data));
	}
	bytes = kv->type == QVK_GGUF_STRING ? 8 + qvk_load_u64(kv->data) :
					      qvk_gguf_type_size(kv->type);
	v = malloc(bytes);
	if (!v)
		return qvk_error(w->ctx, QVK_ERR_NO_MEMORY, "GGUF writer");
	memcpy(v, kv->data, bytes);
	return qvk_gguf_writer_put(w, key, kv->type, v, bytes);
}

qvk_status qvk_gguf_writer_set_alignment(struct qvk_gguf_writer *w,
					 uint32_t alignment)
{
	return qvk_gguf_writer_set_u32(w, "general.alignment", alignment);
}

qvk_status qvk_gguf_writer_add_tensor(struct qvk_gguf_writer *w,
				      const struct qvk_host_tensor *t)
{
	uint64_t size;
	size_t len = t ? strnlen(t->name, QVK_TENSOR_NAME_MAX) : 0;

	if (w->streaming)
		return qvk_error(w->ctx, QVK_ERR_INVALID_ARG, "GGUF writer: "
				 "tensor added after the header was written");
	if (!t || len == 0 || len >= QVK_TENSOR_NAME_MAX ||
	    (!t->data && !w->deferred))
		return qvk_error(w->ctx, QVK_ERR_INVALID_ARG,
				 "GGUF writer: tensor without a name (1..%d "
				 "bytes) or data", QVK_TENSOR_NAME_MAX - 1);
	if (!qvk_ggml_tensor_size(t->type, t->n_dims, t->ne, &size) ||
	    size != t->size_bytes)
		return qvk_error(w->ctx, QVK_ERR_INVALID_ARG,
				 "GGUF writer: tensor '%s': type %u, %u dims, "
				 "%llu bytes do not agree", t->name, t->type,
				 t->n_dims, (unsigned long long)t->size_bytes);
	for (size_t i = 0; i < w->n_tensors; i++)
		if (!strcmp(w->tensors[i].name, t->name))
			return qvk_error(w->ctx, QVK_ERR_INVALID_ARG,
					 "GGUF writer: duplicate tensor '%s'",
					 t->name);
	if (w->n_tensors == w->cap_tensors) {
		size_t cap = w->cap_tensors ? 2 * w->cap_tensors : 64;
		struct qvk_host_tensor *ts =
			realloc(w->tensors, cap * sizeof(*ts));

		if (!ts)
			return qvk_error(w->ctx, QVK_ERR_NO_MEMORY,
					 "GGUF writer: tensors");
		w->tensors = ts;
		w->cap_tensors = cap;
	}
	w->tensors[w->n_tensors++] = *t;
	return QVK_OK;
}

static bool qvk_gguf_put_bytes(FILE *f, const void *p, size_t n, uint64_t *pos)
{
	*pos += n;
	return fwrite(p, 1, n, f) == n;
}

static bool qvk_gguf_put_u32(FILE *f, uint32_t v, uint64_t *pos)
{
	return qvk_gguf_put_bytes(f, &v, 4, pos);
}

static bool qvk_gguf_put_u64(FILE *f, uint64_t v, uint64_t *pos)
{
	return qvk_gguf_put_bytes(f, &v, 8, pos);
}

static bool qvk_gguf_put_pad(FILE *f, uint32_t alignment, uint64_t *pos)
{
	static const uint8_t zeros[64];
	uint64_t pad = QVK_ALIGN_UP(*pos, (uint64_t)alignment) - *pos;

	while (pad) {
		size_t n = (size_t)QVK_MIN(pad, (uint64_t)sizeof(zeros));

		if (!qvk_gguf_put_bytes(f, zeros, n, pos))
			return false;
		pad -= n;
	}
	return true;
}

/*
 * Header, metadata, tensor infos and the padding before the data. The
 * magic is written as zeros when @magic is false: a streamed file gets its
 * magic only once every tensor is in (qvk_gguf_writer_commit()), so an
 * interrupted run never leaves a file that any GGUF reader would load.
 */
static bool qvk_gguf_writer_header(struct qvk_gguf_writer *w, FILE *f,
				   bool magic, uint64_t *pos)
{
	uint64_t offset = 0;
	bool ok = qvk_gguf_put_u32(f, magic ? QVK_GGUF_MAGIC : 0, pos) &&
		  qvk_gguf_put_u32(f, 3, pos) &&
		  qvk_gguf_put_u64(f, w->n_tensors, pos) &&
		  qvk_gguf_put_u64(f, w->n_kv, pos);

	for (size_t i = 0; ok && i < w->n_kv; i++) {
		const struct qvk_gguf_wkv *kv = &w->kvs[i];
		uint64_t len = strlen(kv->key);

		ok = qvk_gguf_put_u64(f, len, pos) &&
		     qvk_gguf_put_bytes(f, kv->key, len, pos) &&
		     qvk_gguf_put_u32(f, kv->type, pos) &&
		     qvk_gguf_put_bytes(f, kv->value, kv->value_bytes, pos);
	}
	for (size_t i = 0; ok && i < w->n_tensors; i++) {
		const struct qvk_host_tensor *t = &w->tensors[i];
		uint64_t len = strlen(t->name);

		ok = qvk_gguf_put_u64(f, len, pos) &&
		     qvk_gguf_put_bytes(f, t->name, len, pos) &&
		     qvk_gguf_put_u32(f, t->n_dims, pos);
		for (uint32_t d = 0; ok && d < t->n_dims; d++)
			ok = qvk_gguf_put_u64(f, t->ne[d], pos);
		ok = ok && qvk_gguf_put_u32(f, t->type, pos) &&
		     qvk_gguf_put_u64(f, offset, pos);
		offset = QVK_ALIGN_UP(offset + t->size_bytes,
				      (uint64_t)w->alignment);
	}
	if (ok && w->n_tensors)
		ok = qvk_gguf_put_pad(f, w->alignment, pos);
	return ok;
}

static bool qvk_gguf_writer_stream(struct qvk_gguf_writer *w, FILE *f)
{
	uint64_t pos = 0;
	bool ok = qvk_gguf_writer_header(w, f, true, &pos);

	for (size_t i = 0; ok && i < w->n_tensors; i++) {
		ok = qvk_gguf_put_bytes(f, w->tensors[i].data,
					(size_t)w->tensors[i].size_bytes, &pos) &&
		     qvk_gguf_put_pad(f, w->alignment, &pos);
	}
	return ok;
}

qvk_status qvk_gguf_writer_write(struct qvk_gguf_writer *w, const char *path)
{
	if (w->deferred)
		return qvk_error(w->ctx, QVK_ERR_INVALID_ARG, "GGUF writer: "
				 "%s: tensors without data are streamed "
				 "(qvk_gguf_writer_begin)", path);

	struct qvk_atomic_file af;
	qvk_status st = qvk_atomic_file_begin(w->ctx, path, 0666, &af);

	if (st != QVK_OK)
		return st;
	if (!qvk_gguf_writer_stream(w, af.f)) {
		int err = errno;

		qvk_atomic_file_abort(&af);
		return qvk_error(w->ctx, QVK_ERR_IO, "%s: write failed: %s "
				 "(nothing was replaced)", path, strerror(err));
	}
	return qvk_atomic_file_commit(w->ctx, &af);
}

void qvk_gguf_writer_defer_data(struct qvk_gguf_writer *w)
{
	if (w && !w->n_tensors)
		w->deferred = true;
}

static qvk_status qvk_gguf_writer_io_error(struct qvk_gguf_writer *w)
{
	int err = errno;

	qvk_atomic_file_abort(&w->af);
	w->streaming = false;
	return qvk_error(w->ctx, QVK_ERR_IO, "%s: write failed: %s (nothing "
			 "was replaced)", w->af.path, strerror(err));
}

qvk_status qvk_gguf_writer_begin(struct qvk_gguf_writer *w, const char *path)
{
	qvk_status st;

	if (!w->deferred || w->streaming)
		return qvk_error(w->ctx, QVK_ERR_INVALID_ARG, "GGUF writer: "
				 "%s: begin needs a writer made for streaming "
				 "and not begun yet", path);
	st = qvk_atomic_file_begin(w->ctx, path, 0666, &w->af);
	if (st != QVK_OK)
		return st;
	w->streaming = true;
	w->next = 0;
	w->pos = 0;
	if (!qvk_gguf_writer_header(w, w->af.f, false, &w->pos))
		return qvk_gguf_writer_io_error(w);
	return QVK_OK;
}

qvk_status qvk_gguf_writer_put_data(struct qvk_gguf_writer *w,
				    const void *data, uint64_t size_bytes)
{
	const struct qvk_host_tensor *t;

	if (!w->streaming || w->next >= w->n_tensors)
		return qvk_error(w->ctx, QVK_ERR_INVALID_ARG, "GGUF writer: "
				 "tensor data %s", w->streaming ?
				 "past the last tensor" : "before begin");
	t = &w->tensors[w->next];
	if (!data || size_bytes != t->size_bytes)
		return qvk_error(w->ctx, QVK_ERR_INVALID_ARG, "GGUF writer: "
				 "tensor '%s' needs %llu bytes, got %llu",
				 t->name, (unsigned long long)t->size_bytes,
				 (unsigned long long)size_bytes);
	if (!qvk_gguf_put_bytes(w->af.f, data, (size_t)size_bytes, &w->pos) ||
	    !qvk_gguf_put_pad(w->af.f, w->alignment, &w->pos))
		return qvk_gguf_writer_io_error(w);
	w->next++;
	return QVK_OK;
}

qvk_status qvk_gguf_writer_commit(struct qvk_gguf_writer *w)
{
	uint32_t magic = QVK_GGUF_MAGIC;

	if (!w->streaming || w->next != w->n_tensors)
		return qvk_error(w->ctx, QVK_ERR_INVALID_ARG, "GGUF writer: "
				 "commit with %zu of %zu tensors written",
				 w->streaming ? w->next : 0, w->n_tensors);
	/* the magic last: only a complete file is a GGUF file */
	if (fflush(w->af.f) != 0 ||
	    pwrite(fileno(w->af.f), &magic, 4, 0) != 4)
		return qvk_gguf_writer_io_error(w);
	w->streaming = false;
	return qvk_atomic_file_commit(w->ctx, &w->af);
}
