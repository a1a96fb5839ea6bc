/* SPDX-License-Identifier: MIT */
/*
 * Fault injection, compiled into test builds only (QVK_FAULT_INJECTION=1:
 * the sanitizer builds, `make SANITIZE=1|thread`); other builds compile
 * every hook to nothing.
 *
 * QVK_FAULT=SITE:N[,SITE:N...] fails the Nth call of SITE, counted from
 * the start of the process:
 *
 *   malloc       malloc, calloc, realloc, strdup called by qvk's own code
 *                (the link wraps them; the driver's allocations are not
 *                counted): returns NULL with errno ENOMEM
 *   vkAllocate   vkAllocateMemory, vkAllocateCommandBuffers,
 *                vkAllocateDescriptorSets: VK_ERROR_OUT_OF_DEVICE_MEMORY
 *   vkCreate     every vkCreate* through QVK_VK(): VK_ERROR_OUT_OF_HOST_MEMORY
 *   vkMapMemory  VK_ERROR_MEMORY_MAP_FAILED
 *   lost         vkQueueSubmit, vkWaitForFences, vkQueueWaitIdle,
 *                vkDeviceWaitIdle: VK_ERROR_DEVICE_LOST for the Nth call
 *                and every later one (a lost device stays lost)
 *   vkNAME...    any other prefix of a Vulkan function's name, counted on
 *                its own: vkCreateBuffer:3 fails the third vkCreateBuffer
 *
 * The failing call is not made, so nothing it would have created exists.
 * Each injected fault prints one line to stderr naming the call.
 * QVK_FAULT=count injects nothing; with any QVK_FAULT the process prints
 * at exit how many calls each site saw ("qvk fault: calls: malloc 1234
 * vkAllocate 9 ..."), which is how a sweep learns the range of N.
 *
 * The counters are process-wide on purpose: they model the allocator and
 * the driver, which are process-wide too, and they exist only in test
 * builds (the one exception to "no global mutable state").
 */
#ifndef QVK_RUNTIME_FAULT_H
#define QVK_RUNTIME_FAULT_H

#include <stdbool.h>
#include <stdint.h>
#include <vulkan/vulkan.h>

#ifndef QVK_FAULT_INJECTION
#define QVK_FAULT_INJECTION 0
#endif

#if QVK_FAULT_INJECTION
/*
 * Count a Vulkan call (@call: its source text, "vkCreateBuffer(...)") and
 * return the error to inject, or VK_SUCCESS to make the call.
 */
VkResult qvk_fault_vk(const char *call);
#define QVK_FAULT_VK(name, call)                                               \
	(qvk_fault_vk(name) != VK_SUCCESS ? qvk_fault_vk_last() : (call))
/* The error qvk_fault_vk() just returned in this thread. */
VkResult qvk_fault_vk_last(void);

/*
 * For tests: replace the plan with @spec (QVK_FAULT's syntax; NULL: no
 * plan, nothing counted) and zero the counters. False if @spec is
 * malformed (then nothing is injected).
 */
bool qvk_fault_arm(const char *spec);
/* Calls counted at @site ("malloc", "vkCreate", ...) since the last arm. */
uint64_t qvk_fault_calls(const char *site);
#else
#define QVK_FAULT_VK(name, call) (call)
#endif

#endif
