/* SPDX-License-Identifier: MIT */
/*
 * The pipeline cache on disk, under $XDG_CACHE_HOME/qvk (else ~/.cache/qvk),
 * one file per device UUID and driver version, so the second start skips
 * shader compilation. A cache is only a hint: any problem reading or
 * writing it is logged and ignored, never fatal.
 *
 * The file is qvk's header (struct qvk_cache_file) and then the driver's
 * data. The header's length and checksum catch a truncated or corrupted
 * file before the driver parses a byte of it (drivers differ in how well
 * they survive bad cache data); such a file is ignored and rewritten
 * whole when the device is destroyed. The checksum is against accidents
 * (a full disk, a crash of another writer, a bad sector), not an attacker
 * who can write the user's cache folder.
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

/* The qvk header in front of the driver's data (little-endian here). */
struct qvk_cache_file {
	char magic[8];       /* "QVKPIPE" and a NUL */
	uint32_t version;    /* QVK_CACHE_FILE_VERSION */
	uint32_t reserved;   /* 0 */
	uint64_t data_bytes; /* the driver's data after this header */
	uint64_t fnv1a64;    /* FNV-1a of those bytes */
};
_Static_assert(sizeof(struct qvk_cache_file) == 32, "cache file header");
#define QVK_CACHE_FILE_VERSION 1u
static const char qvk_cache_magic[8] = "QVKPIPE";

static uint64_t qvk_cache_fnv1a64(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	while (n--)
		h = (h ^ *p++) * 0x100000001b3ull;
	return h;
}

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

/*
 * The driver's data inside a cache file of @size bytes at @file, or NULL
 * after a log line saying what is wrong with the file.
 */
static const uint8_t *qvk_cache_unframe(struct qvk_device *dev,
					const uint8_t *file, size_t *size)
{
	const char *path = dev->pipeline_cache_path;
	struct qvk_cache_file h;

	if (*size < sizeof(h) || memcmp(file, qvk_cache_magic, sizeof(h.magic))) {
		qvk_log(dev->ctx, QVK_LOG_INFO, "pipeline cache %s is not a qvk "
			"cache file (an older qvk?): rebuilt", path);
		return NULL;
	}
	memcpy(&h, file, sizeof(h));
	if (h.version != QVK_CACHE_FILE_VERSION || h.reserved) {
		qvk_log(dev->ctx, QVK_LOG_INFO, "pipeline cache %s has version "
			"%u: rebuilt", path, h.version);
		return NULL;
	}
	if (h.data_bytes != *size - sizeof(h)) {
		qvk_log(dev->ctx, QVK_LOG_WARN, "pipeline cache %s is truncated "
			"or overlong (%zu bytes of data, the header says %llu): "
			"ignored, rebuilt at exit", path, *size - sizeof(h),
			(unsigned long long)h.data_bytes);
		return NULL;
	}
	if (qvk_cache_fnv1a64(file + sizeof(h), *size - sizeof(h)) != h.fnv1a64) {
		qvk_log(dev->ctx, QVK_LOG_WARN, "pipeline cache %s is corrupt "
			"(checksum mismatch): ignored, rebuilt at exit", path);
		return NULL;
	}
	*size -= sizeof(h);
	return file + sizeof(h);
}

/* qvk's header, then the driver's @size bytes at @data. */
static bool qvk_cache_write(FILE *f, const void *data, size_t size)
{
	struct qvk_cache_file h = {
		.version = QVK_CACHE_FILE_VERSION,
		.data_bytes = size,
		.fnv1a64 = qvk_cache_fnv1a64(data, size),
	};

	memcpy(h.magic, qvk_cache_magic, sizeof(h.magic));
	return fwrite(&h, sizeof(h), 1, f) == 1 &&
	       fwrite(data, 1, size, f) == size;
}

void qvk_pipeline_cache_load(struct qvk_device *dev)
{
	VkPipelineCacheCreateInfo ci = {
		.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
	};
	const uint8_t *vk_data = NULL;
	char dir[400];
	size_t size = 0;
	void *data = NULL;

	if (getenv("QVK_NO_PIPELINE_CACHE"))
		dev->pipeline_cache_path[0] = 0;
	else if (qvk_cache_path(dev, dir, sizeof(dir)))
		data = qvk_cache_read(dev, &size);
	if (data)
		vk_data = qvk_cache_unframe(dev, data, &size);
	if (vk_data && qvk_cache_header_ok(dev, vk_data, size)) {
		ci.initialDataSize = size;
		ci.pInitialData = vk_data;
		qvk_log(dev->ctx, QVK_LOG_INFO, "pipeline cache: %zu bytes from "
			"%s", size, dev->pipeline_cache_path);
	} else if (vk_data) {
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

void qvk_cache_mkdir(char *dir)
{
	for (char *p = dir + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			mkdir(dir, 0755);
			*p = '/';
		}
	mkdir(dir, 0755);
}

bool qvk_cache_sibling_path(const struct qvk_device *dev, const char *suffix,
			    char *path, size_t len)
{
	const char *p = dev->pipeline_cache_path;
	const char *dot = strrchr(p, '.');
	int n;

	if (!p[0] || !dot)
		return false;
	n = snprintf(path, len, "%.*s%s", (int)(dot - p), p, suffix);
	return n > 0 && (size_t)n < len;
}

void qvk_cache_text_save(struct qvk_device *dev, const char *path,
			 const char *text, const char *what)
{
	struct qvk_ctx *ctx = dev->ctx;
	char saved[QVK_MESSAGE_MAX], dir[PATH_MAX];
	struct qvk_atomic_file af;
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = 0;
		qvk_cache_mkdir(dir);
	}
	/* A cache problem must not replace the context's last error. */
	memcpy(saved, ctx->message, sizeof(saved));
	if (qvk_atomic_file_begin(ctx, path, 0666, &af) != QVK_OK) {
		qvk_log(ctx, QVK_LOG_INFO, "%s: %s", what, qvk_ctx_message(ctx));
	} else if (fputs(text, af.f) == EOF || ferror(af.f)) {
		qvk_log(ctx, QVK_LOG_INFO, "%s: cannot write %s", what, path);
		qvk_atomic_file_abort(&af);
	} else if (qvk_atomic_file_commit(ctx, &af) != QVK_OK) {
		qvk_log(ctx, QVK_LOG_INFO, "%s: %s", what, qvk_ctx_message(ctx));
	}
	memcpy(ctx->message, saved, sizeof(saved));
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
		qvk_cache_mkdir(dir);
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
		} else if (!qvk_cache_write(af.f, data, size)) {
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
