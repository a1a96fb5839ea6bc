/* SPDX-License-Identifier: MIT */
/*
 * Compute pipelines from the SPIR-V embedded in libqvk. Integer kernels
 * exist twice (NAME_intdot with OpSDot, NAME_fallback with multiply-add);
 * the device's features pick one here, at creation, never per dispatch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shaders.h"
#include "vk/vk.h"

const struct qvk_spirv *qvk_spirv_find(const char *name)
{
	for (size_t i = 0; i < qvk_spirv_count; i++)
		if (!strcmp(qvk_spirv_table[i].name, name))
			return &qvk_spirv_table[i];
	return NULL;
}

static VkDescriptorType qvk_descriptor_type(const struct qvk_pipeline *pipe,
					    uint32_t binding)
{
	return pipe->texel_bindings >> binding & 1 ?
		       VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER :
		       VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
}

static qvk_status qvk_layouts_create(struct qvk_pipeline *pipe)
{
	struct qvk_device *dev = pipe->dev;
	VkDescriptorSetLayoutBinding b[QVK_MAX_BINDINGS];
	VkDescriptorSetLayoutCreateInfo dslci = {
		.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
		.bindingCount = pipe->n_bindings,
		.pBindings = b,
	};
	VkPushConstantRange pcr = {
		.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
		.size = pipe->push_bytes,
	};
	VkPipelineLayoutCreateInfo plci = {
		.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
		.setLayoutCount = 1,
		.pSetLayouts = &pipe->set_layout,
		.pushConstantRangeCount = pipe->push_bytes ? 1 : 0,
		.pPushConstantRanges = &pcr,
	};
	qvk_status st;

	for (uint32_t i = 0; i < pipe->n_bindings; i++)
		b[i] = (VkDescriptorSetLayoutBinding){
			.binding = i,
			.descriptorType = qvk_descriptor_type(pipe, i),
			.descriptorCount = 1,
			.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
		};
	st = QVK_VK(dev->ctx, vkCreateDescriptorSetLayout(dev->device, &dslci,
							  NULL,
							  &pipe->set_layout));
	if (st != QVK_OK)
		return st;
	return QVK_VK(dev->ctx, vkCreatePipelineLayout(dev->device, &plci, NULL,
						       &pipe->layout));
}

qvk_status qvk_pipeline_create(struct qvk_device *dev,
			       const struct qvk_pipeline_desc *desc,
			       struct qvk_pipeline **out)
{
	VkSpecializationMapEntry map[QVK_MAX_SPEC];
	VkSpecializationInfo spec = {
		.mapEntryCount = desc->n_spec,
		.pMapEntries = map,
		.dataSize = desc->n_spec * sizeof(uint32_t),
		.pData = desc->spec,
	};
	VkPipelineShaderStageRequiredSubgroupSizeCreateInfo sgsize = {
		.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_REQUIRED_SUBGROUP_SIZE_CREATE_INFO,
		.requiredSubgroupSize = desc->subgroup_size,
	};
	VkComputePipelineCreateInfo cpci = {
		.sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
		.stage = {
			.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
			.stage = VK_SHADER_STAGE_COMPUTE_BIT,
			.pName = "main",
			.pSpecializationInfo = desc->n_spec ? &spec : NULL,
		},
	};
	VkShaderModuleCreateInfo smci = {
		.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
	};
	const struct qvk_spirv *spv;
	struct qvk_pipeline *pipe;
	VkShaderModule module;
	char name[128];
	qvk_status st;

	*out = NULL;
	if (desc->n_bindings > QVK_MAX_BINDINGS || desc->n_spec > QVK_MAX_SPEC ||
	    desc->push_bytes > dev->info.max_push_constants_bytes)
		return qvk_error(dev->ctx, QVK_ERR_INVALID_ARG,
				 "pipeline %s: %u bindings, %u constants, %u "
				 "push bytes exceed the limits", desc->shader,
				 desc->n_bindings, desc->n_spec,
				 desc->push_bytes);
	snprintf(name, sizeof(name), "%s%s", desc->shader,
		 !desc->int_variants ? "" :
		 dev->use_int_dot    ? "_intdot" :
				       "_fallback");
	spv = qvk_spirv_find(name);
	if (!spv)
		return qvk_error(dev->ctx, QVK_ERR_NOT_FOUND,
				 "no embedded shader named %s", name);
	pipe = calloc(1, sizeof(*pipe));
	if (!pipe)
		return qvk_error(dev->ctx, QVK_ERR_NO_MEMORY, "pipeline");
	pipe->dev = dev;
	pipe->n_bindings = desc->n_bindings;
	pipe->push_bytes = desc->push_bytes;
	pipe->texel_bindings = desc->texel_bindings;
	st = qvk_layouts_create(pipe);
	if (st != QVK_OK)
		goto out_destroy;
	for (uint32_t i = 0; i < desc->n_spec; i++)
		map[i] = (VkSpecializationMapEntry){ i, i * 4, 4 };
	smci.codeSize = spv->size_bytes;
	smci.pCode = spv->code;
	st = QVK_VK(dev->ctx, vkCreateShaderModule(dev->device, &smci, NULL,
						   &module));
	if (st != QVK_OK)
		goto out_destroy;
	cpci.stage.module = module;
	if (desc->subgroup_size && dev->info.subgroup_size_control &&
	    desc->subgroup_size >= dev->info.min_subgroup_size &&
	    desc->subgroup_size <= dev->info.max_subgroup_size)
		cpci.stage.pNext = &sgsize;
	cpci.layout = pipe->layout;
	st = QVK_VK(dev->ctx, vkCreateComputePipelines(dev->device,
						       dev->pipeline_cache, 1,
						       &cpci, NULL,
						       &pipe->pipeline));
	vkDestroyShaderModule(dev->device, module, NULL);
	if (st != QVK_OK) {
		qvk_error(dev->ctx, st, "pipeline %s: %s", name,
			  qvk_ctx_message(dev->ctx));
		goto out_destroy;
	}
	*out = pipe;
	return QVK_OK;

out_destroy:
	qvk_pipeline_destroy(pipe);
	return st;
}

void qvk_pipeline_destroy(struct qvk_pipeline *pipe)
{
	VkDevice d;

	if (!pipe)
		return;
	d = pipe->dev->device;
	vkDestroyPipeline(d, pipe->pipeline, NULL);
	vkDestroyPipelineLayout(d, pipe->layout, NULL);
	vkDestroyDescriptorSetLayout(d, pipe->set_layout, NULL);
	free(pipe);
}

qvk_status qvk_descset_create(struct qvk_pipeline *pipe,
			      const struct qvk_binding *bindings,
			      VkDescriptorSet *out)
{
	struct qvk_device *dev = pipe->dev;
	VkDescriptorSetAllocateInfo ai = {
		.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
		.descriptorPool = dev->desc_pool,
		.descriptorSetCount = 1,
		.pSetLayouts = &pipe->set_layout,
	};
	VkDescriptorBufferInfo bi[QVK_MAX_BINDINGS];
	VkWriteDescriptorSet w[QVK_MAX_BINDINGS];
	qvk_status st;

	st = QVK_VK(dev->ctx, vkAllocateDescriptorSets(dev->device, &ai, out));
	if (st != QVK_OK)
		return st;
	for (uint32_t i = 0; i < pipe->n_bindings; i++) {
		const struct qvk_binding *b = &bindings[i];
		bool texel = pipe->texel_bindings >> i & 1;

		w[i] = (VkWriteDescriptorSet){
			.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
			.dstSet = *out,
			.dstBinding = i,
			.descriptorCount = 1,
			.descriptorType = qvk_descriptor_type(pipe, i),
			.pBufferInfo = &bi[i],
			.pTexelBufferView = &b->view,
		};
		if (texel ? b->view == VK_NULL_HANDLE :
			    !b->buf || b->piece >= b->buf->n_pieces) {
			qvk_descset_free(dev, out, 1);
			return qvk_error(dev->ctx, QVK_ERR_INVALID_ARG,
					 "binding %u has no %s", i,
					 texel ? "texel view" : "buffer piece");
		}
		if (texel) {
			w[i].pBufferInfo = NULL;
			continue;
		}
		w[i].pTexelBufferView = NULL;
		bi[i] = (VkDescriptorBufferInfo){
			.buffer = b->buf->pieces[b->piece].buffer,
			.offset = b->offset_bytes,
			.range = b->range_bytes ? b->range_bytes : VK_WHOLE_SIZE,
		};
	}
	vkUpdateDescriptorSets(dev->device, pipe->n_bindings, w, 0, NULL);
	return QVK_OK;
}

void qvk_descset_free(struct qvk_device *dev, VkDescriptorSet *sets,
		      uint32_t n)
{
	if (n)
		vkFreeDescriptorSets(dev->device, dev->desc_pool, n, sets);
}
