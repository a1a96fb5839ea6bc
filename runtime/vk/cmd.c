/* SPDX-License-Identifier: MIT */
/* Command buffers: record once, submit and wait, resubmit as often as needed. */
#include <stdlib.h>
#include <string.h>

#include "vk/vk.h"

qvk_status qvk_cmd_init(struct qvk_device *dev, struct qvk_cmd *cmd)
{
	VkCommandBufferAllocateInfo ai = {
		.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
		.commandPool = dev->cmd_pool,
		.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
		.commandBufferCount = 1,
	};
	VkFenceCreateInfo fci = { .sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO };
	qvk_status st;

	memset(cmd, 0, sizeof(*cmd));
	cmd->dev = dev;
	st = QVK_VK(dev->ctx, vkAllocateCommandBuffers(dev->device, &ai,
						       &cmd->cb));
	if (st != QVK_OK)
		return st;
	st = QVK_VK(dev->ctx, vkCreateFence(dev->device, &fci, NULL,
					    &cmd->fence));
	if (st != QVK_OK)
		qvk_cmd_finish(cmd);
	return st;
}

void qvk_cmd_finish(struct qvk_cmd *cmd)
{
	if (!cmd->dev)
		return;
	if (cmd->timestamps)
		vkDestroyQueryPool(cmd->dev->device, cmd->timestamps, NULL);
	if (cmd->fence)
		vkDestroyFence(cmd->dev->device, cmd->fence, NULL);
	if (cmd->cb)
		vkFreeCommandBuffers(cmd->dev->device, cmd->dev->cmd_pool, 1,
				     &cmd->cb);
	memset(cmd, 0, sizeof(*cmd));
}

qvk_status qvk_cmd_begin(struct qvk_cmd *cmd)
{
	VkCommandBufferBeginInfo bi = {
		.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
	};

	return QVK_VK(cmd->dev->ctx, vkBeginCommandBuffer(cmd->cb, &bi));
}

void qvk_cmd_dispatch(struct qvk_cmd *cmd, const struct qvk_pipeline *pipe,
		      VkDescriptorSet set, const void *push, uint32_t gx,
		      uint32_t gy, uint32_t gz)
{
	vkCmdBindPipeline(cmd->cb, VK_PIPELINE_BIND_POINT_COMPUTE,
			  pipe->pipeline);
	vkCmdBindDescriptorSets(cmd->cb, VK_PIPELINE_BIND_POINT_COMPUTE,
				pipe->layout, 0, 1, &set, 0, NULL);
	if (pipe->push_bytes)
		vkCmdPushConstants(cmd->cb, pipe->layout,
				   VK_SHADER_STAGE_COMPUTE_BIT, 0,
				   pipe->push_bytes, push);
	vkCmdDispatch(cmd->cb, gx, gy, gz);
}

void qvk_cmd_barrier(struct qvk_cmd *cmd)
{
	/*
	 * A kernel reads what the previous one wrote (activations flow from
	 * one op to the next), and the host reads the final results after the
	 * fence: shader writes must be available to both.
	 */
	VkMemoryBarrier mb = {
		.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
		.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
		.dstAccessMask = VK_ACCESS_SHADER_READ_BIT |
				 VK_ACCESS_SHADER_WRITE_BIT |
				 VK_ACCESS_HOST_READ_BIT,
	};

	vkCmdPipelineBarrier(cmd->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
			     VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT |
				     VK_PIPELINE_STAGE_HOST_BIT,
			     0, 1, &mb, 0, NULL, 0, NULL);
}

qvk_status qvk_cmd_submit_wait(struct qvk_cmd *cmd, bool end_first)
{
	struct qvk_device *dev = cmd->dev;
	VkSubmitInfo si = {
		.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
		.commandBufferCount = 1,
		.pCommandBuffers = &cmd->cb,
	};
	qvk_status st;

	if (end_first) {
		st = QVK_VK(dev->ctx, vkEndCommandBuffer(cmd->cb));
		if (st != QVK_OK)
			return st;
	}
	st = QVK_VK(dev->ctx, vkQueueSubmit(dev->queue, 1, &si, cmd->fence));
	if (st != QVK_OK)
		return st;
	st = QVK_VK(dev->ctx, vkWaitForFences(dev->device, 1, &cmd->fence,
					      VK_TRUE, UINT64_MAX));
	if (st != QVK_OK) {
		/*
		 * The wait failed, not necessarily the work: drain the queue
		 * so that the caller may free what the submission uses (on a
		 * lost device this returns at once, Vulkan 1.3 §5.2.3).
		 */
		(void)vkQueueWaitIdle(dev->queue);
		return st;
	}
	return QVK_VK(dev->ctx, vkResetFences(dev->device, 1, &cmd->fence));
}

qvk_status qvk_cmd_timestamps_init(struct qvk_cmd *cmd, uint32_t n)
{
	VkQueryPoolCreateInfo qci = {
		.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
		.queryType = VK_QUERY_TYPE_TIMESTAMP,
		.queryCount = n,
	};

	if (!cmd->dev->info.timestamps)
		return qvk_error(cmd->dev->ctx, QVK_ERR_UNSUPPORTED,
				 "%s has no timestamps on its compute queue",
				 cmd->dev->info.name);
	cmd->n_timestamps = n;
	return QVK_VK(cmd->dev->ctx, vkCreateQueryPool(cmd->dev->device, &qci,
						       NULL, &cmd->timestamps));
}

void qvk_cmd_timestamps_reset(struct qvk_cmd *cmd)
{
	vkCmdResetQueryPool(cmd->cb, cmd->timestamps, 0, cmd->n_timestamps);
}

void qvk_cmd_timestamp(struct qvk_cmd *cmd, uint32_t slot)
{
	/* Bottom of pipe: the time when all earlier commands have finished. */
	vkCmdWriteTimestamp(cmd->cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT,
			    cmd->timestamps, slot);
}

qvk_status qvk_cmd_timestamps_read_ns(struct qvk_cmd *cmd, uint32_t n,
				      double *ns)
{
	const struct qvk_device_info *info = &cmd->dev->info;
	uint64_t *ticks;
	uint64_t mask = info->timestamp_valid_bits >= 64 ?
				UINT64_MAX :
				(1ull << info->timestamp_valid_bits) - 1;
	qvk_status st;

	if (!n || n > cmd->n_timestamps)
		return qvk_error(cmd->dev->ctx, QVK_ERR_INVALID_ARG,
				 "%u timestamps requested", n);
	ticks = malloc(n * sizeof(*ticks));
	if (!ticks)
		return qvk_error(cmd->dev->ctx, QVK_ERR_NO_MEMORY, "timestamps");
	st = QVK_VK(cmd->dev->ctx,
		    vkGetQueryPoolResults(cmd->dev->device, cmd->timestamps, 0,
					  n, n * sizeof(*ticks), ticks, 8,
					  VK_QUERY_RESULT_64_BIT |
						  VK_QUERY_RESULT_WAIT_BIT));
	/* Only valid bits count; deltas wrap within them. */
	for (uint32_t i = 0; st == QVK_OK && i < n; i++)
		ns[i] = (double)((ticks[i] - ticks[0]) & mask) *
			(double)info->timestamp_period_ns;
	free(ticks);
	return st;
}
