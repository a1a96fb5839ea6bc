/* SPDX-License-Identifier: MIT */
/*
 * qvk tokenize: the token ids of a text, space-separated on one line, as
 * llama.cpp's tokenizer test vectors write them. Needs no device and no
 * weights: a vocabulary-only GGUF file or a llama2.c tokenizer.bin will do.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tool.h"

const char qvk_cmd_tokenize_summary[] = "print the token ids of a text";

static int qvk_tokenize_usage(void)
{
	printf("usage: qvk tokenize -m MODEL (-p TEXT | -f FILE) [--bos] "
	       "[--special]\n\n"
	       "Prints the token ids of the text, space-separated on one line.\n\n"
	       "  -m MODEL    GGUF file (a vocabulary-only one will do) or a "
	       "llama2.c\n"
	       "              tokenizer.bin\n"
	       "  -p TEXT     the text\n"
	       "  -f FILE     the text is FILE's bytes as they are (- for stdin)\n"
	       "  --bos       add BOS/EOS as the model does "
	       "(tokenizer.ggml.add_bos_token,\n"
	       "              add_eos_token; default: neither)\n"
	       "  --special   control tokens written in the text (<|im_start|>, "
	       "<s>) become\n"
	       "              their token, as in chat templates (default: they "
	       "are text)\n");
	return 0;
}

/* All of stdin, NUL-terminated; NULL with errno on failure. */
static char *qvk_tokenize_read_stdin(size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap + 1), *grown;

	while (buf) {
		size_t got = fread(buf + n, 1, cap - n, stdin);

		n += got;
		if (got == 0) {
			if (ferror(stdin)) {
				free(buf);
				errno = EIO;
				return NULL;
			}
			buf[n] = '\0';
			*len = n;
			return buf;
		}
		if (n == cap) {
			grown = cap <= SIZE_MAX / 4 ? realloc(buf, 2 * cap + 1) : NULL;
			if (!grown)
				free(buf);
			buf = grown;
			cap *= 2;
		}
	}
	errno = ENOMEM;
	return NULL;
}

int qvk_cmd_tokenize(int argc, char **argv)
{
	const char *model = NULL, *text = NULL, *file = NULL;
	unsigned flags = 0;
	struct qvk_tokenizer *tok = NULL;
	uint32_t *ids = NULL;
	char *buf = NULL;
	size_t len, n;
	struct qvk_ctx *ctx;
	qvk_status st;
	int rc = 1;

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(arg, "--help") || !strcmp(arg, "-h"))
			return qvk_tokenize_usage();
		if (!strcmp(arg, "--bos")) {
			flags |= QVK_TOKENIZE_ADD_SPECIAL;
			continue;
		}
		if (!strcmp(arg, "--special")) {
			flags |= QVK_TOKENIZE_PARSE_SPECIAL;
			continue;
		}
		if (strcmp(arg, "-m") && strcmp(arg, "-p") && strcmp(arg, "-f"))
			return qvk_tool_usage_error("tokenize", "unknown argument "
						    "'%s'", arg);
		if (!val)
			return qvk_tool_usage_error("tokenize", "%s needs a value",
						    arg);
		i++;
		if (!strcmp(arg, "-m"))
			model = val;
		else if (!strcmp(arg, "-p"))
			text = val;
		else
			file = val;
	}
	if (!model)
		return qvk_tool_usage_error("tokenize", "-m MODEL is required");
	if (!text == !file)
		return qvk_tool_usage_error("tokenize", "give the text with "
					    "either -p TEXT or -f FILE");
	ctx = qvk_tool_ctx("tokenize");
	if (!ctx)
		return 1;
	if (file) {
		buf = strcmp(file, "-") ? qvk_tool_read_file(file, &len) :
					  qvk_tokenize_read_stdin(&len);
		if (!buf) {
			fprintf(stderr, "qvk tokenize: %s: %s\n", file,
				strerror(errno));
			goto out;
		}
		text = buf;
	} else {
		len = strlen(text);
	}
	st = qvk_tokenizer_load(ctx, model, &tok);
	if (st != QVK_OK) {
		rc = qvk_tool_fail(ctx, st, "tokenize", model);
		goto out;
	}
	ids = malloc(QVK_TOKENIZE_MAX(len) * sizeof(*ids));
	st = ids ? qvk_tokenizer_encode(tok, ctx, text, len, flags, ids,
					QVK_TOKENIZE_MAX(len), &n) :
		   QVK_ERR_NO_MEMORY;
	if (st != QVK_OK) {
		rc = qvk_tool_fail(ctx, st, "tokenize", "encoding");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		printf(i ? " %u" : "%u", ids[i]);
	printf("\n");
	rc = fflush(stdout) ? 1 : 0;
out:
	free(ids);
	qvk_tokenizer_destroy(tok);
	free(buf);
	qvk_ctx_destroy(ctx);
	return rc;
}
