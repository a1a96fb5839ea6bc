/* SPDX-License-Identifier: MIT */
/*
 * Storage buffers bound in pieces: no piece exceeds maxStorageBufferRange,
 * so a 2 GiB tensor on a device with a 128 MiB range becomes 16 bindings
 * that kernels address piece by piece.
 */
#include <stdlib.h>
#include <string.h>

#include "vk/vk.h"

static void qvk_buffer_pieces_destroy(struct qvk_buffer *buf, uint32_t n)
{
	while (n--) {
		vkDestroyBuffer(buf->dev->device, buf->pieces[n].buffer, NULL);
		qvk_memory_free(buf->dev, &buf->pieces[n].alloc);
	}
}

static qvk_status qvk_piece_create(struct qvk_buffer *buf,
				   struct qvk_buffer_piece *p)
{
	struct qvk_device *dev = buf->dev;
	VkBufferCreateInfo bci = {
		.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
		/* Rounded to 16 so vec4 loads of the tail stay in bounds. */
		.size = QVK_ALIGN_UP(p->size_bytes, 16),
		.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT |
			 VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT |
			 VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
			 VK_BUFFER_USAGE_TRANSFER_DST_BIT,
		.sharingMode = VK_SHARING_MODE_EXCLUSIVE,
	};
	VkMemoryRequirements req;
	qvk_status st;

	st = QVK_VK(dev->ctx, vkCreateBuffer(dev->device, &bci, NULL,
					     &p->buffer));
	if (st != QVK_OK)
		return st;
	vkGetBufferMemoryRequirements(dev->device, p->buffer, &req);
	st = qvk_memory_alloc(dev, buf->kind, &req, &p->alloc);
	if (st == QVK_OK)
		st = QVK_VK(dev->ctx, vkBindBufferMemory(dev->device, p->buffer,
							 p->alloc.memory,
							 p->alloc.offset));
	if (st != QVK_OK) {
		qvk_memory_free(dev, &p->alloc);
		vkDestroyBuffer(dev->device, p->buffer, NULL);
	}
	return st;
}

qvk_status qvk_buffer_create(struct qvk_device *dev, enum qvk_mem_kind kind,
			     VkDeviceSize size_bytes, VkDeviceSize piece_align,
			     struct qvk_buffer **out)
{
	VkDeviceSize range = dev->info.max_storage_buffer_range, piece;
	struct qvk_buffer *buf;
	qvk_status st;
	uint32_t i;

	*out = NULL;
	if (!size_bytes || !piece_align)
		return qvk_error(dev->ctx, QVK_ERR_INVALID_ARG,
				 "buffer of %llu bytes, piece alignment %llu",
				 (unsigned long long)size_bytes,
				 (unsigned long long)piece_align);
	/* The range minus the 16-byte tail pad, in whole aligned units. */
	piece = (range - 16) / piece_align * piece_align;
	if (!piece)
		return qvk_error(dev->ctx, QVK_ERR_UNSUPPORTED,
				 "piece alignment %llu exceeds "
				 "maxStorageBufferRange %llu",
				 (unsigned long long)piece_align,
				 (unsigned long long)range);
	buf = calloc(1, sizeof(*buf));
	if (!buf)
		return qvk_error(dev->ctx, QVK_ERR_NO_MEMORY, "buffer");
	buf->dev = dev;
	buf->kind = kind;
	buf->size_bytes = size_bytes;
	buf->piece_bytes = QVK_MIN(piece, size_bytes);
	buf->n_pieces = (uint32_t)QVK_DIV_ROUND_UP(size_bytes, buf->piece_bytes);
	buf->pieces = calloc(buf->n_pieces, sizeof(*buf->pieces));
	if (!buf->pieces) {
		free(buf);
		return qvk_error(dev->ctx, QVK_ERR_NO_MEMORY, "buffer pieces");
	}
	for (i = 0; i < buf->n_pieces; i++) {
		struct qvk_buffer_piece *p = &buf->pieces[i];

		p->offset_bytes = (VkDeviceSize)i * buf->piece_bytes;
		p->size_bytes = QVK_MIN(buf->piece_bytes,
					size_bytes - p->offset_bytes);
		st = qvk_piece_create(buf, p);
		if (st != QVK_OK)
			goto out_destroy_pieces;
	}
	*out = buf;
	return QVK_OK;

out_destroy_pieces:
	qvk_buffer_pieces_destroy(buf, i);
	free(buf->pieces);
	free(buf);
	return st;
}

void qvk_buffer_destroy(struct qvk_buffer *buf)
{
	if (!buf)
		return;
	qvk_buffer_pieces_destroy(buf, buf->n_pieces);
	free(buf->pieces);
	free(buf);
}

qvk_status qvk_buffer_view_create(const struct qvk_buffer *buf, uint32_t i,
				  VkFormat format, uint32_t texel_bytes,
				  VkBufferView *out)
{
	struct qvk_device *dev = buf->dev;
	VkBufferViewCreateInfo bvci = {
		.sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO,
		.buffer = i < buf->n_pieces ? buf->pieces[i].buffer : NULL,
		.format = format,
		.offset = 0,
		.range = VK_WHOLE_SIZE,
	};
	uint64_t texels;

	*out = VK_NULL_HANDLE;
	if (i >= buf->n_pieces)
		return qvk_error(dev->ctx, QVK_ERR_INVALID_ARG,
				 "view of piece %u of a %u-piece buffer", i,
				 buf->n_pieces);
	/* The view covers the piece's 16-byte-rounded tail, like loads. */
	texels = QVK_ALIGN_UP(buf->pieces[i].size_bytes, 16) / texel_bytes;
	if (texels > dev->info.max_texel_buffer_elements)
		return qvk_error(dev->ctx, QVK_ERR_UNSUPPORTED,
				 "texel view of %llu elements exceeds "
				 "maxTexelBufferElements %u",
				 (unsigned long long)texels,
				 dev->info.max_texel_buffer_elements);
	return QVK_VK(dev->ctx, vkCreateBufferView(dev->device, &bvci, NULL,
						   out));
}

void qvk_buffer_view_destroy(struct qvk_device *dev, VkBufferView view)
{
	if (view != VK_NULL_HANDLE)
		vkDestroyBufferView(dev->device, view, NULL);
}

void *qvk_buffer_piece_map(const struct qvk_buffer *buf, uint32_t i)
{
	return i < buf->n_pieces ? buf->pieces[i].alloc.mapped : NULL;
}

/* Walk [offset, offset + size) across pieces, copying to or from host. */
static qvk_status qvk_buffer_copy(const struct qvk_buffer *buf,
				  VkDeviceSize offset, void *host,
				  VkDeviceSize size, bool to_buffer)
{
	char *h = host;

	if (offset > buf->size_bytes || size > buf->size_bytes - offset)
		return qvk_error(buf->dev->ctx, QVK_ERR_INVALID_ARG,
				 "copy of %llu bytes at %llu past a %llu-byte "
				 "buffer", (unsigned long long)size,
				 (unsigned long long)offset,
				 (unsigned long long)buf->size_bytes);
	while (size) {
		uint32_t i = (uint32_t)(offset / buf->piece_bytes);
		const struct qvk_buffer_piece *p = &buf->pieces[i];
		VkDeviceSize in = offset - p->offset_bytes;
		VkDeviceSize n = QVK_MIN(size, p->size_bytes - in);
		char *m = p->alloc.mapped;

		if (!m)
			return qvk_error(buf->dev->ctx, QVK_ERR_INVALID_ARG,
					 "buffer is not host-visible");
		if (to_buffer)
			memcpy(m + in, h, n);
		else
			memcpy(h, m + in, n);
		h += n;
		offset += n;
		size -= n;
	}
	return QVK_OK;
}

qvk_status qvk_buffer_write(struct qvk_buffer *buf, VkDeviceSize offset,
			    const void *src, VkDeviceSize size_bytes)
{
	return qvk_buffer_copy(buf, offset, (void *)src, size_bytes, true);
}

qvk_status qvk_buffer_read(const struct qvk_buffer *buf, VkDeviceSize offset,
			   void *dst, VkDeviceSize size_bytes)
{
	return qvk_buffer_copy(buf, offset, dst, size_bytes, false);
}

void qvk_buffer_fill_u32(struct qvk_buffer *buf, uint32_t pattern)
{
	for (uint32_t i = 0; i < buf->n_pieces; i++) {
		uint32_t *m = buf->pieces[i].alloc.mapped;

		if (!m)
			continue;
		for (VkDeviceSize w = 0; w < buf->pieces[i].size_bytes / 4; w++)
			m[w] = pattern;
	}
}

/*
 * Between host memory and a buffer the host cannot map, through a staging
 * buffer: chunks of at most 64 MiB, one transfer (and submission) per chunk
 * and piece: from @up, or into @down when it is not NULL. A download
 * first waits for the compute work submitted before.
 */
static qvk_status qvk_buffer_staged(const struct qvk_buffer *buf,
				    VkDeviceSize offset, const void *up,
				    void *down, VkDeviceSize size)
{
	bool download = down != NULL;
	struct qvk_device *dev = buf->dev;
	/* the shaders' writes before the copy reads them... */
	VkMemoryBarrier to_copy = {
		.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
		.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
		.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT,
	};
	/* ...and the copy's before the host reads the staging buffer */
	VkMemoryBarrier to_host = {
		.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
		.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
		.dstAccessMask = VK_ACCESS_HOST_READ_BIT,
	};
	struct qvk_buffer *staging;
	struct qvk_cmd cmd;
	VkDeviceSize done = 0;
	qvk_status st;

	if (!size)
		return QVK_OK;
	st = qvk_buffer_create(dev, download ? QVK_MEM_READBACK : QVK_MEM_UPLOAD,
			       QVK_MIN(size, 64u << 20), 4, &staging);
	if (st != QVK_OK)
		return st;
	st = qvk_cmd_init(dev, &cmd);
	while (st == QVK_OK && done < size) {
		VkDeviceSize at = offset + done;
		uint32_t p = (uint32_t)(at / buf->piece_bytes);
		VkDeviceSize in = at - buf->pieces[p].offset_bytes;
		/* within the staging buffer's first piece too */
		VkDeviceSize n = QVK_MIN(QVK_MIN(size - done,
						 staging->pieces[0].size_bytes),
					 buf->pieces[p].size_bytes - in);
		VkBufferCopy region = { download ? in : 0, download ? 0 : in, n };

		if (!download)
			st = qvk_buffer_write(staging, 0, (const char *)up + done,
					      n);
		if (st == QVK_OK)
			st = qvk_cmd_begin(&cmd);
		if (st != QVK_OK)
			break;
		if (download) {
			vkCmdPipelineBarrier(cmd.cb,
					     VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
					     VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1,
					     &to_copy, 0, NULL, 0, NULL);
			vkCmdCopyBuffer(cmd.cb, buf->pieces[p].buffer,
					staging->pieces[0].buffer, 1, &region);
			vkCmdPipelineBarrier(cmd.cb, VK_PIPELINE_STAGE_TRANSFER_BIT,
					     VK_PIPELINE_STAGE_HOST_BIT, 0, 1,
					     &to_host, 0, NULL, 0, NULL);
		} else {
			vkCmdCopyBuffer(cmd.cb, staging->pieces[0].buffer,
					buf->pieces[p].buffer, 1, &region);
		}
		st = qvk_cmd_submit_wait(&cmd, true);
		if (st == QVK_OK && download)
			st = qvk_buffer_read(staging, 0, (char *)down + done, n);
		done += n;
	}
	qvk_cmd_finish(&cmd);
	qvk_buffer_destroy(staging);
	return st;
}

qvk_status qvk_buffer_upload(struct qvk_buffer *dst,
			     VkDeviceSize offset, const void *src,
			     VkDeviceSize size)
{
	if (dst->pieces[0].alloc.mapped)
		return qvk_buffer_write(dst, offset, src, size);
	return qvk_buffer_staged(dst, offset, src, NULL, size);
}

qvk_status qvk_buffer_zero(struct qvk_buffer *buf)
{
	/* the fills land before any later compute access (next submits too) */
	VkMemoryBarrier to_shader = {
		.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
		.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
		.dstAccessMask = VK_ACCESS_SHADER_READ_BIT |
				 VK_ACCESS_SHADER_WRITE_BIT,
	};
	struct qvk_cmd cmd;
	qvk_status st = qvk_cmd_init(buf->dev, &cmd);

	if (st == QVK_OK)
		st = qvk_cmd_begin(&cmd);
	if (st == QVK_OK) {
		for (uint32_t i = 0; i < buf->n_pieces; i++)
			vkCmdFillBuffer(cmd.cb, buf->pieces[i].buffer, 0,
					VK_WHOLE_SIZE, 0);
		vkCmdPipelineBarrier(cmd.cb, VK_PIPELINE_STAGE_TRANSFER_BIT,
				     VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1,
				     &to_shader, 0, NULL, 0, NULL);
		st = qvk_cmd_submit_wait(&cmd, true);
	}
	qvk_cmd_finish(&cmd);
	return st;
}

qvk_status qvk_buffer_download(const struct qvk_buffer *src,
			       VkDeviceSize offset, void *dst,
			       VkDeviceSize size)
{
	if (offset > src->size_bytes || size > src->size_bytes - offset)
		return qvk_error(src->dev->ctx, QVK_ERR_INVALID_ARG, "download "
				 "of %llu bytes at %llu past a %llu-byte buffer",
				 (unsigned long long)size,
				 (unsigned long long)offset,
				 (unsigned long long)src->size_bytes);
	return qvk_buffer_staged(src, offset, NULL, dst, size);
}
