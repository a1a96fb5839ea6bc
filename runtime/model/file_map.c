/* SPDX-License-Identifier: MIT */
/* The read-only file mapping shared by the loaders (GGUF and llama2.c). */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model_internal.h"

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
