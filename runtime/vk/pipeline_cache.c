/* SPDX-License-Identifier: MIT */
/*
 * The pipeline cache on disk, under $XDG_CACHE_HOME/qvk (else ~/.cache/qvk),
 * one file per device UUID and driver version, so the second start skips
 * shader compilation. A cache is only a hint: any problem reading or
 * writing it is logged and ignored, never fatal.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
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

/*
 * The whole cache file, or NULL. O_NONBLOCK and the type check keep a FIFO
 * or device planted at the cache's name from blocking or feeding us.
 */
static void *qvk_cache_read(struct qvk_device *dev, size_t *size)
{
	int fd = open(dev->pipeline_cache_path,
		      O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	void *data = NULL;
	struct stat st;
	size_t got = 0;

	*size = 0;
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    (uint64_t)st.st_size <= QVK_CACHE_MAX_BYTES &&
	    (data = malloc((size_t)st.st_size))) {
		while (got < (size_t)st.st_size) {
			ssize_t n = read(fd, (char *)data + got,
					 (size_t)st.st_size - got);

			if (n <= 0)
				break;
			got += (size_t)n;
		}
	}
	close(fd);
	if (!data || got != (size_t)st.st_size) {
		free(data);
		return NULL;
	}
	*size = got;
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
	char dir[sizeof(dev->pipeline_cache_path)];
	char saved[QVK_MESSAGE_MAX];
	struct qvk_atomic_file af;
	size_t size = 0;
	void *data = NULL;
	char *slash;

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
		/* A cache problem must not replace the context's last error. */
		memcpy(saved, dev->ctx->message, sizeof(saved));
		/*
		 * Readers never see half a file; two processes saving at once
		 * each write their own temporary file and the last rename wins.
		 * A failure only costs the next start its compile time.
		 */
		if (qvk_atomic_file_begin(dev->ctx, dev->pipeline_cache_path,
					  0666, &af) != QVK_OK) {
			qvk_log(dev->ctx, QVK_LOG_INFO, "pipeline cache: %s",
				qvk_ctx_message(dev->ctx));
		} else if (fwrite(data, 1, size, af.f) != size) {
			qvk_log(dev->ctx, QVK_LOG_INFO, "pipeline cache: cannot "
				"write %s: %s", dev->pipeline_cache_path,
				strerror(errno));
			qvk_atomic_file_abort(&af);
		} else if (qvk_atomic_file_commit(dev->ctx, &af) != QVK_OK) {
			qvk_log(dev->ctx, QVK_LOG_INFO, "pipeline cache: %s",
				qvk_ctx_message(dev->ctx));
		}
		memcpy(dev->ctx->message, saved, sizeof(saved));
	}
	free(data);
	vkDestroyPipelineCache(dev->device, dev->pipeline_cache, NULL);
	dev->pipeline_cache = VK_NULL_HANDLE;
}
