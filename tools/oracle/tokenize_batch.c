// SPDX-License-Identifier: MIT
/*
 * tokenize-batch: llama.cpp's token ids of every input of a file in
 * llama.cpp's test-vector format (inputs separated by
 * "\n__ggml_vocab_test__\n"), one line each, like its .out files --
 * one vocabulary load for all inputs instead of one llama-oracle run per
 * input. Tokenized as test-tokenizer-0 does: no BOS/EOS, special tokens
 * not parsed. Built against the same prebuilt libllama as llama-oracle by
 * the fixture scripts that use it (tests/fixtures/tokenizer/).
 *
 *   tokenize-batch MODEL INPUTS
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llama.h"
#include "ggml-backend.h"

static void quiet(enum ggml_log_level level, const char *text, void *data)
{
	(void)data;
	if (level == GGML_LOG_LEVEL_ERROR)
		fputs(text, stderr);
}

static char *read_all(const char *path, long *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;

	if (f && !fseek(f, 0, SEEK_END) && (*len = ftell(f)) >= 0 &&
	    !fseek(f, 0, SEEK_SET) && (buf = malloc((size_t)*len + 1)) &&
	    fread(buf, 1, (size_t)*len, f) == (size_t)*len) {
		buf[*len] = '\0';
	} else {
		perror(path);
		free(buf);
		buf = NULL;
	}
	if (f)
		fclose(f);
	return buf;
}

int main(int argc, char **argv)
{
	static const char sep[] = "\n__ggml_vocab_test__\n";
	struct llama_model_params mp = llama_model_default_params();
	struct llama_model *m;
	char *text, *pos;
	long len;

	if (argc != 3) {
		fprintf(stderr, "usage: tokenize-batch MODEL INPUTS\n");
		return 2;
	}
	llama_log_set(quiet, NULL);
	llama_backend_init();
	mp.vocab_only = true;
	m = llama_model_load_from_file(argv[1], mp);
	text = read_all(argv[2], &len);
	if (!m || !text)
		return 1;
	for (pos = text; pos < text + len;) {
		char *next = strstr(pos, sep);
		int32_t n = (int32_t)(next ? next - pos : text + len - pos);
		llama_token *ids = calloc((size_t)n * 3 + 8, sizeof(*ids));
		int32_t k = ids ? llama_tokenize(llama_model_get_vocab(m), pos, n,
						 ids, n * 3 + 8, false, false) : -1;

		if (k < 0)
			return 1;
		for (int32_t i = 0; i < k; i++)
			printf(i ? " %d" : "%d", ids[i]);
		printf("\n");
		free(ids);
		pos = next ? next + strlen(sep) : text + len;
	}
	free(text);
	llama_model_free(m);
	llama_backend_free();
	return 0;
}
