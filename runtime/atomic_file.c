/* SPDX-License-Identifier: MIT */
/*
 * Atomic file replacement (atomic_file.h): exclusive random temporary file
 * in the target's folder, fsync, rename, fsync of the folder.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "atomic_file.h"

/* ".<16 hex digits>.tmp" after the target's name. */
#define QVK_ATOMIC_SUFFIX_LEN 21
#define QVK_ATOMIC_TRIES 16

/*
 * 64 random bits for a temporary name. getrandom() does not fail for 8
 * bytes once the kernel's pool is ready; if it ever does, a clock and pid
 * mix still gives distinct names, and O_EXCL keeps any clash harmless.
 */
static uint64_t qvk_atomic_random(uint32_t attempt)
{
	struct timespec ts;
	uint64_t r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) == (ssize_t)sizeof(r))
		return r;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	r = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
	    ((uint64_t)getpid() << 40) ^ attempt;
	/* splitmix64's finaliser spreads the bits. */
	r = (r ^ (r >> 30)) * 0xbf58476d1ce4e5b9ull;
	r = (r ^ (r >> 27)) * 0x94d049bb133111ebull;
	return r ^ (r >> 31);
}

/* Split @path into its folder (opened) and its last component. */
static qvk_status qvk_atomic_split(struct qvk_ctx *ctx, const char *path,
				   struct qvk_atomic_file *af)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	char dir[PATH_MAX];
	size_t dir_len = slash ? (size_t)(slash - path) : 0;

	if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "%s: not a file name", path);
	if (strlen(base) + QVK_ATOMIC_SUFFIX_LEN > NAME_MAX)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "%s: file name longer than %d bytes", path,
				 NAME_MAX - QVK_ATOMIC_SUFFIX_LEN);
	if (!slash)
		memcpy(dir, ".", 2);
	else if (dir_len == 0)
		memcpy(dir, "/", 2);
	else {
		memcpy(dir, path, dir_len);
		dir[dir_len] = 0;
	}
	memcpy(af->name, base, strlen(base) + 1);
	af->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (af->dir_fd < 0)
		return qvk_error(ctx, QVK_ERR_IO, "%s: folder %s: %s", path, dir,
				 strerror(errno));
	return QVK_OK;
}

qvk_status qvk_atomic_file_begin(struct qvk_ctx *ctx, const char *path,
				 mode_t mode, struct qvk_atomic_file *af)
{
	qvk_status st;
	int fd = -1, err = EEXIST;

	memset(af, 0, sizeof(*af));
	af->dir_fd = -1;
	if (!path || !*path || strlen(path) >= sizeof(af->path))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "output path empty or longer than %zu bytes",
				 sizeof(af->path) - 1);
	memcpy(af->path, path, strlen(path) + 1);
	st = qvk_atomic_split(ctx, path, af);
	if (st != QVK_OK)
		return st;
	for (uint32_t i = 0; fd < 0 && err == EEXIST && i < QVK_ATOMIC_TRIES; i++) {
		int n = snprintf(af->tmp_name, sizeof(af->tmp_name),
				 "%s.%016llx.tmp", af->name,
				 (unsigned long long)qvk_atomic_random(i));

		if (n < 0 || (size_t)n >= sizeof(af->tmp_name))
			break; /* cannot happen: the name's length was checked */
		/* O_EXCL: never an existing file, nor through a symlink. */
		fd = openat(af->dir_fd, af->tmp_name,
			    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
			    mode);
		err = fd < 0 ? errno : 0;
	}
	if (fd < 0) {
		st = qvk_error(ctx, QVK_ERR_IO, "%s: cannot create a temporary "
			       "file beside it: %s", path, strerror(err));
		goto out_close_dir;
	}
	af->f = fdopen(fd, "wb");
	if (!af->f) {
		st = qvk_error(ctx, QVK_ERR_NO_MEMORY, "%s: fdopen: %s", path,
			       strerror(errno));
		close(fd);
		goto out_unlink;
	}
	return QVK_OK;

out_unlink:
	unlinkat(af->dir_fd, af->tmp_name, 0);
out_close_dir:
	close(af->dir_fd);
	af->dir_fd = -1;
	return st;
}

qvk_status qvk_atomic_file_commit(struct qvk_ctx *ctx,
				  struct qvk_atomic_file *af)
{
	qvk_status st = QVK_OK;
	int err = 0;

	/* The data must be on disk before the name points at it. */
	errno = 0;
	if (fflush(af->f) != 0 || ferror(af->f) || fsync(fileno(af->f)) != 0)
		err = errno ? errno : EIO;
	if (fclose(af->f) != 0 && !err)
		err = errno;
	af->f = NULL;
	if (err) {
		st = qvk_error(ctx, QVK_ERR_IO, "%s: write failed: %s (nothing "
			       "was replaced)", af->path, strerror(err));
		goto out_unlink;
	}
	/* rename() replaces a symlink at the target, never its target. */
	if (renameat(af->dir_fd, af->tmp_name, af->dir_fd, af->name) != 0) {
		st = qvk_error(ctx, QVK_ERR_IO, "%s: cannot replace: %s",
			       af->path, strerror(errno));
		goto out_unlink;
	}
	/* The rename itself is durable once the folder is synced. */
	if (fsync(af->dir_fd) != 0)
		qvk_log(ctx, QVK_LOG_WARN, "%s: written, but syncing its folder "
			"failed: %s", af->path, strerror(errno));
	goto out_close_dir;

out_unlink:
	unlinkat(af->dir_fd, af->tmp_name, 0);
out_close_dir:
	close(af->dir_fd);
	af->dir_fd = -1;
	return st;
}

void qvk_atomic_file_abort(struct qvk_atomic_file *af)
{
	if (af->f)
		fclose(af->f);
	af->f = NULL;
	if (af->dir_fd >= 0) {
		unlinkat(af->dir_fd, af->tmp_name, 0);
		close(af->dir_fd);
	}
	af->dir_fd = -1;
}
