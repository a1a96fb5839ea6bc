/* SPDX-License-Identifier: MIT */
/*
 * The device's own ceilings, the roofline every kernel is judged against:
 * read bandwidth (shaders/read_bandwidth.comp over a buffer larger than
 * the caches, piece by piece, best of three access patterns, through
 * storage buffers and, where the device has them, texel buffers:
 * read_bandwidth_texel.comp) and
 * arithmetic throughput (shaders/compute_peak.comp, register-only chains
 * of integer dot products or fp32 fma).
 */
#include <qvk/bench.h>
#include <qvk/matmul.h>

#include "vk/vk.h"

static qvk_status qvk_read_pattern(struct qvk_device *dev,
				   struct qvk_buffer *src,
				   const VkBufferView *views,
				   struct qvk_buffer *dst, uint32_t pattern,
				   uint32_t reps, double *best_ns)
{
	const uint32_t wg = QVK_ALIGN_UP(64u, dev->info.subgroup_size);
	struct qvk_pipeline_desc d = {
		.shader = views ? "read_bandwidth_texel" : "read_bandwidth",
		.n_bindings = 2,
		.texel_bindings = views ? 1u : 0u,
		.push_bytes = 4,
		.n_spec = 2,
		.spec = { wg, pattern },
	};
	VkDescriptorSet sets[64];
	struct qvk_pipeline *pipe;
	struct qvk_cmd cmd;
	uint32_t n_sets = 0;
	double ns[2];
	qvk_status st;

	st = qvk_pipeline_create(dev, &d, &pipe);
	if (st != QVK_OK)
		return st;
	st = qvk_cmd_init(dev, &cmd);
	if (st == QVK_OK)
		st = qvk_cmd_timestamps_init(&cmd, 2);
	for (uint32_t p = 0; st == QVK_OK && p < src->n_pieces; p++) {
		st = qvk_descset_create(pipe,
					(struct qvk_binding[]){
						{ src, p, 0, 0,
						  views ? views[p] : VK_NULL_HANDLE },
						{ dst, 0, 0, 0, VK_NULL_HANDLE } },
					&sets[p]);
		n_sets += st == QVK_OK;
	}
	if (st == QVK_OK)
		st = qvk_cmd_begin(&cmd);
	if (st == QVK_OK) {
		qvk_cmd_timestamps_reset(&cmd);
		qvk_cmd_timestamp(&cmd, 0);
		for (uint32_t p = 0; p < n_sets; p++) {
			uint32_t n_vec4 = (uint32_t)(src->pieces[p].size_bytes / 16);

			/* 256 workgroups: enough to fill any device. */
			qvk_cmd_dispatch(&cmd, pipe, sets[p], &n_vec4, 256, 1, 1);
		}
		qvk_cmd_timestamp(&cmd, 1);
		st = QVK_VK(dev->ctx, vkEndCommandBuffer(cmd.cb));
	}
	for (uint32_t r = 0; st == QVK_OK && r < reps; r++) {
		st = qvk_cmd_submit_wait(&cmd, false);
		if (st == QVK_OK)
			st = qvk_cmd_timestamps_read_ns(&cmd, 2, ns);
		if (st == QVK_OK && (*best_ns == 0 || ns[1] < *best_ns))
			*best_ns = ns[1];
	}
	qvk_descset_free(dev, sets, n_sets);
	qvk_cmd_finish(&cmd);
	qvk_pipeline_destroy(pipe);
	return st;
}

qvk_status qvk_device_read_bandwidth(struct qvk_device *dev,
				     uint64_t size_bytes, uint32_t reps,
				     double *gbps)
{
	struct qvk_buffer *src, *dst;
	VkBufferView views[64] = { VK_NULL_HANDLE };
	uint32_t n_views = 0;
	double best_ns = 0;
	qvk_status st;

	*gbps = 0;
	if (size_bytes < (1u << 20) || !reps)
		return qvk_error(dev->ctx, QVK_ERR_INVALID_ARG,
				 "read bandwidth over %llu bytes, %u runs",
				 (unsigned long long)size_bytes, reps);
	st = qvk_buffer_create(dev, QVK_MEM_DEVICE, size_bytes & ~15ull, 16,
			       &src);
	if (st != QVK_OK)
		return st;
	if (src->n_pieces > 64) {
		qvk_buffer_destroy(src);
		return qvk_error(dev->ctx, QVK_ERR_INVALID_ARG,
				 "read bandwidth buffer too large");
	}
	/* Pages touched first, so the first run does not time page faults. */
	qvk_buffer_fill_u32(src, 0x5a5a5a5au);
	st = qvk_buffer_create(dev, QVK_MEM_DEVICE, 256 * 1024 * 4, 4, &dst);
	/* Coalesced, a chunk per invocation, the matmuls' row walk. */
	for (uint32_t pattern = 0; st == QVK_OK && pattern < 3; pattern++)
		st = qvk_read_pattern(dev, src, NULL, dst, pattern, reps,
				      &best_ns);
	/* The same through texel views, as matmul_q_texel reads weights. */
	while (st == QVK_OK && dev->info.max_texel_buffer_elements &&
	       n_views < src->n_pieces &&
	       qvk_buffer_view_create(src, n_views, VK_FORMAT_R32G32B32A32_UINT,
				      16, &views[n_views]) == QVK_OK)
		n_views++;
	for (uint32_t pattern = 0;
	     st == QVK_OK && n_views == src->n_pieces && pattern < 3; pattern++)
		st = qvk_read_pattern(dev, src, views, dst, pattern, reps,
				      &best_ns);
	if (st == QVK_OK)
		*gbps = (double)src->size_bytes / best_ns;
	while (n_views--)
		qvk_buffer_view_destroy(dev, views[n_views]);
	qvk_buffer_destroy(dst);
	qvk_buffer_destroy(src);
	return st;
}

const char *qvk_compute_kind_name(enum qvk_compute_kind kind)
{
	return kind == QVK_COMPUTE_INT8_DOT ? "int8-dot" : "fp32-fma";
}

/* One dispatch of @groups workgroups, @iters steps per chain, GPU time. */
static qvk_status qvk_peak_run(struct qvk_device *dev,
			       const struct qvk_pipeline *pipe,
			       VkDescriptorSet set, uint32_t groups,
			       uint32_t iters, double *ns)
{
	const uint32_t push[2] = { iters, 0x01020304u };
	double t[2];
	struct qvk_cmd cmd;
	qvk_status st;

	st = qvk_cmd_init(dev, &cmd);
	if (st == QVK_OK)
		st = qvk_cmd_timestamps_init(&cmd, 2);
	if (st == QVK_OK)
		st = qvk_cmd_begin(&cmd);
	if (st == QVK_OK) {
		qvk_cmd_timestamps_reset(&cmd);
		qvk_cmd_timestamp(&cmd, 0);
		qvk_cmd_dispatch(&cmd, pipe, set, push, groups, 1, 1);
		qvk_cmd_timestamp(&cmd, 1);
		st = qvk_cmd_submit_wait(&cmd, true);
	}
	if (st == QVK_OK)
		st = qvk_cmd_timestamps_read_ns(&cmd, 2, t);
	if (st == QVK_OK)
		*ns = t[1];
	qvk_cmd_finish(&cmd);
	return st;
}

qvk_status qvk_device_compute_peak(struct qvk_device *dev,
				   enum qvk_compute_kind kind, uint32_t reps,
				   double *gops)
{
	/* Steps per chain (8 chains) and operations per step, as counted. */
	const double chains = 8, ops = kind == QVK_COMPUTE_INT8_DOT ? 8 : 2;
	const uint32_t wg = QVK_ALIGN_UP(64u, dev->info.subgroup_size),
		       groups = 4096; /* enough to fill any device */
	struct qvk_pipeline_desc d = {
		.shader = "compute_peak",
		.int_variants = true,
		.n_bindings = 1,
		.push_bytes = 8,
		.n_spec = 2,
		.spec = { wg, kind == QVK_COMPUTE_INT8_DOT ? 0u : 1u },
	};
	struct qvk_pipeline *pipe = NULL;
	struct qvk_buffer *dst = NULL;
	VkDescriptorSet set = VK_NULL_HANDLE;
	uint32_t iters = 4;
	double ns = 0, best_ns = 0;
	qvk_status st;

	*gops = 0;
	if (!reps || reps > 100)
		return qvk_error(dev->ctx, QVK_ERR_INVALID_ARG,
				 "compute peak over %u runs (1..100)", reps);
	st = qvk_buffer_create(dev, QVK_MEM_DEVICE, (uint64_t)groups * wg * 4, 4,
			       &dst);
	if (st != QVK_OK)
		return st;
	st = qvk_pipeline_create(dev, &d, &pipe);
	if (st != QVK_OK)
		goto out_destroy_buffer;
	st = qvk_descset_create(pipe, (struct qvk_binding[]){ { dst, 0, 0, 0 } },
				&set);
	if (st != QVK_OK)
		goto out_destroy_pipeline;
	/*
	 * Lengthen the chains until one dispatch takes 20 ms: long enough
	 * for launch costs and timestamp resolution to vanish, short enough
	 * for any watchdog. The first run also compiles the shader on CPU
	 * devices, so it is never the one kept.
	 */
	while (st == QVK_OK && ns < 20e6 && iters < (1u << 24)) {
		iters *= 2;
		st = qvk_peak_run(dev, pipe, set, groups, iters, &ns);
	}
	for (uint32_t r = 0; st == QVK_OK && r < reps; r++) {
		st = qvk_peak_run(dev, pipe, set, groups, iters, &ns);
		if (st == QVK_OK && (best_ns == 0 || ns < best_ns))
			best_ns = ns;
	}
	if (st == QVK_OK && best_ns > 0)
		*gops = (double)groups * wg * chains * iters * ops / best_ns;
	qvk_descset_free(dev, &set, 1);
out_destroy_pipeline:
	qvk_pipeline_destroy(pipe);
out_destroy_buffer:
	qvk_buffer_destroy(dst);
	return st;
}
