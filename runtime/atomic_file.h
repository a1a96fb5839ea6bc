/* SPDX-License-Identifier: MIT */
/*
 * Atomic file replacement, the one way libqvk writes a file (GGUF output,
 * the pipeline cache): a temporary file created exclusively in the
 * target's own folder, written, fsync()ed, renamed over the target, and
 * the folder fsync()ed. Readers see the old file or the whole new one,
 * never half; a crash leaves at most a stray "NAME.<random>.tmp".
 *
 * The temporary name is random and opened with O_CREAT|O_EXCL|O_NOFOLLOW,
 * so a file or symlink planted under a predictable name is never written
 * through, and two writers of the same target never share a temporary
 * file (the last rename wins, whole).
 */
#ifndef QVK_RUNTIME_ATOMIC_FILE_H
#define QVK_RUNTIME_ATOMIC_FILE_H

#include <limits.h>
#include <stdio.h>
#include <sys/types.h>

#include "internal.h"

struct qvk_atomic_file {
	FILE *f;                 /* write the contents through this */
	int dir_fd;              /* the target's folder */
	char tmp_name[NAME_MAX + 1]; /* the temporary file, inside dir_fd */
	char name[NAME_MAX + 1]; /* the target's name, inside dir_fd */
	char path[PATH_MAX];     /* the target as given, for messages */
};

/*
 * Create the temporary file for @path with @mode (less the umask). On
 * failure nothing is left behind and @ctx names the path and the cause.
 */
QVK_MUST_CHECK qvk_status qvk_atomic_file_begin(struct qvk_ctx *ctx,
						const char *path, mode_t mode,
						struct qvk_atomic_file *af);

/*
 * Flush, fsync, rename over the target and fsync its folder. @af is
 * finished either way; on failure the temporary file is removed and the
 * target is untouched.
 */
QVK_MUST_CHECK qvk_status qvk_atomic_file_commit(struct qvk_ctx *ctx,
						 struct qvk_atomic_file *af);

/* Drop the temporary file without touching the target. */
void qvk_atomic_file_abort(struct qvk_atomic_file *af);

#endif
