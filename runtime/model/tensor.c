/* SPDX-License-Identifier: MIT */
/*
 * Host tensors: the ggml types qvk reads, their sizes, row dequantization
 * (ggml's block layouts, dequantized exactly as ggml-quants.c does), and
 * the read-only file mapping shared by the loaders.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <qvk/fp16.h>

#include "model_internal.h"
#include "qvk_tensor.h"

#define QVK_QK 32 /* elements per Q8_0/Q4_0/Q4_1 block */

static const struct {
	uint32_t type;
	const char *name;
	uint32_t block_elems, block_bytes;
} qvk_ggml_types[] = {
	{ QVK_GGML_TYPE_F32, "F32", 1, 4 },
	{ QVK_GGML_TYPE_F16, "F16", 1, 2 },
	{ QVK_GGML_TYPE_Q4_0, "Q4_0", QVK_QK, 2 + QVK_QK / 2 },
	{ QVK_GGML_TYPE_Q4_1, "Q4_1", QVK_QK, 4 + QVK_QK / 2 },
	{ QVK_GGML_TYPE_Q8_0, "Q8_0", QVK_QK, 2 + QVK_QK },
};

const char *qvk_ggml_type_name(uint32_t type)
{
	for (size_t i = 0; i < QVK_ARRAY_SIZE(qvk_ggml_types); i++)
		if (qvk_ggml_types[i].type == type)
			return qvk_ggml_types[i].name;
	return qvk_qvk_type_name(type); /* qvk's GGUF extension, or NULL */
}

bool qvk_ggml_type_block(uint32_t type, uint32_t *block_elems,
			 uint32_t *block_bytes)
{
	for (size_t i = 0; i < QVK_ARRAY_SIZE(qvk_ggml_types); i++) {
		if (qvk_ggml_types[i].type == type) {
			*block_elems = qvk_ggml_types[i].block_elems;
			*block_bytes = qvk_ggml_types[i].block_bytes;
			return true;
		}
	}
	return false;
}

bool qvk_ggml_tensor_size(uint32_t type, uint32_t n_dims, const uint64_t *ne,
			  uint64_t *size_bytes)
{
	uint32_t be, bb;
	uint64_t size;

	if (qvk_qvk_type_name(type)) /* no fixed block: size per row of K */
		return qvk_qvk_tensor_size(type, n_dims, ne, size_bytes);
	if (!qvk_ggml_type_block(type, &be, &bb) || n_dims < 1 ||
	    n_dims > QVK_TENSOR_MAX_DIMS || ne[0] == 0 || ne[0] % be)
		return false;
	size = ne[0] / be * bb;
	for (uint32_t i = 1; i < n_dims; i++)
		if (ne[i] == 0 || __builtin_mul_overflow(size, ne[i], &size))
			return false;
	*size_bytes = size;
	return true;
}

uint64_t qvk_host_tensor_rows(const struct qvk_host_tensor *t)
{
	uint64_t rows = 1;

	for (uint32_t i = 1; i < t->n_dims && i < QVK_TENSOR_MAX_DIMS; i++)
		rows *= t->ne[i];
	return rows;
}

static float qvk_block_half(const uint8_t *p)
{
	return qvk_fp16_to_f32((uint16_t)(p[0] | p[1] << 8));
}

qvk_status qvk_host_tensor_row(const struct qvk_host_tensor *t, uint64_t row,
			       float *out)
{
	uint32_t be, bb;
	uint64_t k, row_bytes;
	const uint8_t *src;

	if (t && out && qvk_qvk_type_name(t->type))
		return qvk_qvk_tensor_row(t, row, out);
	if (!t || !out || !t->data ||
	    !qvk_ggml_type_block(t->type, &be, &bb))
		return QVK_ERR_INVALID_ARG;
	k = t->ne[0];
	if (row >= qvk_host_tensor_rows(t))
		return QVK_ERR_INVALID_ARG;
	row_bytes = k / be * bb;
	src = (const uint8_t *)t->data + row * row_bytes;

	switch (t->type) {
	case QVK_GGML_TYPE_F32:
		memcpy(out, src, k * sizeof(float));
		break;
	case QVK_GGML_TYPE_F16:
		for (uint64_t i = 0; i < k; i++)
			out[i] = qvk_block_half(src + 2 * i);
		break;
	case QVK_GGML_TYPE_Q8_0:
		for (uint64_t b = 0; b < k / QVK_QK; b++, src += bb) {
			float d = qvk_block_half(src);

			for (int j = 0; j < QVK_QK; j++)
				out[b * QVK_QK + j] = (float)(int8_t)src[2 + j] * d;
		}
		break;
	case QVK_GGML_TYPE_Q4_0:
		for (uint64_t b = 0; b < k / QVK_QK; b++, src += bb) {
			float d = qvk_block_half(src);
			float *y = out + b * QVK_QK;

			for (int j = 0; j < QVK_QK / 2; j++) {
				y[j] = (float)((src[2 + j] & 0x0f) - 8) * d;
				y[j + QVK_QK / 2] = (float)((src[2 + j] >> 4) - 8) * d;
			}
		}
		break;
	case QVK_GGML_TYPE_Q4_1:
		for (uint64_t b = 0; b < k / QVK_QK; b++, src += bb) {
			float d = qvk_block_half(src), m = qvk_block_half(src + 2);
			float *y = out + b * QVK_QK;

			for (int j = 0; j < QVK_QK / 2; j++) {
				y[j] = (float)(src[4 + j] & 0x0f) * d + m;
				y[j + QVK_QK / 2] = (float)(src[4 + j] >> 4) * d + m;
			}
		}
		break;
	}
	return QVK_OK;
}

qvk_status qvk_map_file(struct qvk_ctx *ctx, const char *path, void **map,
			size_t *size_bytes)
{
	struct stat st;
	void *p;
	int fd;

	*map = NULL;
	*size_bytes = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return qvk_error(ctx, QVK_ERR_IO, "%s: cannot open: %s", path,
				 strerror(errno));
	if (fstat(fd, &st) != 0) {
		close(fd);
		return qvk_error(ctx, QVK_ERR_IO, "%s: cannot stat: %s", path,
				 strerror(errno));
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return qvk_error(ctx, QVK_ERR_IO, "%s: %s", path,
				 S_ISDIR(st.st_mode) ? "is a folder, not a file" :
						       "not a regular file");
	}
	if (st.st_size <= 0) {
		close(fd);
		return qvk_error(ctx, QVK_ERR_FORMAT, "%s: empty file", path);
	}
	if ((uint64_t)st.st_size > SIZE_MAX) {
		close(fd);
		return qvk_error(ctx, QVK_ERR_UNSUPPORTED,
				 "%s: too large to map", path);
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd); /* the mapping keeps the file */
	if (p == MAP_FAILED)
		return qvk_error(ctx, QVK_ERR_IO, "%s: cannot mmap %lld bytes: %s",
				 path, (long long)st.st_size, strerror(errno));
	*map = p;
	*size_bytes = (size_t)st.st_size;
	return QVK_OK;
}

void qvk_unmap_file(void *map, size_t size_bytes)
{
	if (map)
		munmap(map, size_bytes);
}
