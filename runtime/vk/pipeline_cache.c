/* SPDX-License-Identifier: MIT */
/*
 * The pipeline cache on disk, under $XDG_CACHE_HOME/qvk (else ~/.cache/qvk),
 * one file per device UUID and driver version, so the second start skips
 * shader compilation. A cache is only a hint: any problem reading or
 * writing it is logged and ignored, never fatal.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vk/vk.h"

#define QVK_CACHE_MAX_BYTES (256u << 20)

static bool qvk_cache_path(struct qvk_device *dev, char *dir, size_t dir_len)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char uuid[33];
	int n;

	if (xdg && *xdg)
		n = snprintf(dir, dir_len, "%s/qvk", xdg);
	else if (home && *home)
		n = snprintf(dir, dir_len, "%s/.cache/qvk", home);
	else
		return false;
	if (n < 0 || (size_t)n >= dir_len)
		return false;
	for (int i = 0; i < 16; i++)
		snprintf(uuid + 2 * i, 3, "%02x", dev->info.device_uuid[i]);
	n = snprintf(dev->pipeline_cache_path, sizeof(dev->pipeline_cache_path),
		     "%s/%s-%08x.pipelines", dir, uuid,
		     dev->info.driver_version);
	return n > 0 && (size_t)n < sizeof(dev->pipeline_cache_path);
}

static void *qvk_cache_read(struct qvk_device *dev, size_t *size)
{
	FILE *f = fopen(dev->pipeline_cache_path, "rb");
	void *data = NULL;
	long len;

	*size = 0;
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0 &&
	    (unsigned long)len <= QVK_CACHE_MAX_BYTES &&
	    fseek(f, 0, SEEK_SET) == 0 && (data = malloc((size_t)len)) &&
	    fread(data, 1, (size_t)len, f) == (size_t)len)
		*size = (size_t)len;
	fclose(f);
	if (!*size) {
		free(data);
		return NULL;
	}
	return data;
}

/*
 * The header Vulkan defines for cache data (VkPipelineCacheHeaderVersionOne):
 * length, version, vendor, device, UUID. Reject data for another device
 * before the driver sees it.
 */
static bool qvk_cache_header_ok(const struct qvk_device *dev,
				const uint8_t *data, size_t size)
{
	VkPhysicalDeviceProperties p;
	uint32_t hdr[4];

	if (size < 32)
		return false;
	memcpy(hdr, data, sizeof(hdr));
	vkGetPhysicalDeviceProperties(dev->pdev, &p);
	return hdr[0] >= 32 && hdr[0] <= size &&
	       hdr[1] == VK_PIPELINE_CACHE_HEADER_VERSION_ONE &&
	       hdr[2] == p.vendorID && hdr[3] == p.deviceID &&
	       !memcmp(data + 16, p.pipelineCacheUUID, VK_UUID_SIZE);
}

void qvk_pipeline_cache_load(struct qvk_device *dev)
{
	VkPipelineCacheCreateInfo ci = {
		.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
	};
	char dir[400];
	size_t size = 0;
	void *data = NULL;

	if (getenv("QVK_NO_PIPELINE_CACHE"))
		dev->pipeline_cache_path[0] = 0;
	else if (qvk_cache_path(dev, dir, sizeof(dir)))
		data = qvk_cache_read(dev, &size);
	if (data && qvk_cache_header_ok(dev, data, size)) {
		ci.initialDataSize = size;
		ci.pInitialData = data;
		qvk_log(dev->ctx, QVK_LOG_INFO, "pipeline cache: %zu bytes from "
			"%s", size, dev->pipeline_cache_path);
	} else if (data) {
		qvk_log(dev->ctx, QVK_LOG_INFO, "pipeline cache %s is for "
			"another device or driver: ignored",
			dev->pipeline_cache_path);
	}
	if (vkCreatePipelineCache(dev->device, &ci, NULL,
				  &dev->pipeline_cache) != VK_SUCCESS) {
		ci.initialDataSize = 0;
		ci.pInitialData = NULL;
		if (vkCreatePipelineCache(dev->device, &ci, NULL,
					  &dev->pipeline_cache) != VK_SUCCESS)
			dev->pipeline_cache = VK_NULL_HANDLE;
	}
	free(data);
}

static void qvk_mkdir_p(char *dir)
{
	for (char *p = dir + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			mkdir(dir, 0755);
			*p = '/';
		}
	mkdir(dir, 0755);
}

void qvk_pipeline_cache_save(struct qvk_device *dev)
{
	char dir[sizeof(dev->pipeline_cache_path)], tmp[sizeof(dir) + 16];
	size_t size = 0;
	void *data = NULL;
	char *slash;
	FILE *f;

	if (!dev->pipeline_cache)
		return;
	if (dev->pipeline_cache_path[0] &&
	    vkGetPipelineCacheData(dev->device, dev->pipeline_cache, &size,
				   NULL) == VK_SUCCESS &&
	    size && (data = malloc(size)) &&
	    vkGetPipelineCacheData(dev->device, dev->pipeline_cache, &size,
				   data) == VK_SUCCESS) {
		snprintf(dir, sizeof(dir), "%s", dev->pipeline_cache_path);
		slash = strrchr(dir, '/');
		if (slash)
			*slash = 0;
		qvk_mkdir_p(dir);
		/* Write a temporary file and rename: readers never see half. */
		snprintf(tmp, sizeof(tmp), "%s.%d", dev->pipeline_cache_path,
			 (int)getpid());
		f = fopen(tmp, "wb");
		if (f && fwrite(data, 1, size, f) == size && fclose(f) == 0) {
			if (rename(tmp, dev->pipeline_cache_path) != 0)
				unlink(tmp);
		} else {
			if (f)
				fclose(f);
			unlink(tmp);
			qvk_log(dev->ctx, QVK_LOG_INFO, "pipeline cache: cannot "
				"write %s: %s", tmp, strerror(errno));
		}
	}
	free(data);
	vkDestroyPipelineCache(dev->device, dev->pipeline_cache, NULL);
	dev->pipeline_cache = VK_NULL_HANDLE;
}
