/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: bytes as a llama2.c checkpoint and as a llama2.c
 * tokenizer file (the loaders map paths, so the input goes through a
 * memfd and /proc/self/fd). Build and run: tests/fuzz/README.md.
 */
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include <qvk/model.h>
#include <qvk/tokenizer.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct qvk_ctx *ctx;
	struct qvk_model *m = NULL;
	struct qvk_tokenizer *tok = NULL;
	char path[64];
	int fd = memfd_create("qvk-fuzz", MFD_CLOEXEC);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size || qvk_ctx_create(&ctx)) {
		close(fd);
		return 0;
	}
	qvk_ctx_set_log(ctx, QVK_LOG_ERROR, NULL, NULL);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (qvk_model_load(ctx, path, &m) == QVK_OK)
		qvk_model_destroy(m);
	if (qvk_tokenizer_load(ctx, path, &tok) == QVK_OK) {
		uint32_t ids[64];
		size_t n;

		if (qvk_tokenizer_encode(tok, ctx, "a b\xc3\xa9", 5, 0, ids, 64,
					 &n) == QVK_OK && n)
			(void)qvk_tokenizer_decode(tok, 1, ids[0], &n);
		qvk_tokenizer_destroy(tok);
	}
	qvk_ctx_destroy(ctx);
	close(fd);
	return 0;
}
