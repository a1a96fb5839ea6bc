/* SPDX-License-Identifier: MIT */
/*
 * qvk-synth: write a synthetic-weight GGUF model of a preset (synth.h).
 *
 *   qvk-synth PRESET f32|f16|q8_0 OUT.gguf [SEED]    vocab from $QVK_MODELS
 *   qvk-synth --list
 *
 * Prints the file's FNV-1a 64 hash (what tests/fixtures/oracle/ records).
 * A test tool (built by `make tests`), never installed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synth.h"

static int qvk_synth_usage(void)
{
	fprintf(stderr, "usage: qvk-synth PRESET f32|f16|q8_0 OUT.gguf [SEED]\n"
			"       qvk-synth --list\n");
	return 2;
}

int main(int argc, char **argv)
{
	const struct qvk_synth_spec *sp;
	const char *models = getenv("QVK_MODELS");
	struct qvk_ctx *ctx = NULL;
	struct qvk_gguf *vocab = NULL;
	enum qvk_ggml_type type;
	uint64_t seed = 1, hash;
	char path[1024];
	int rc = 1;

	if (argc == 2 && !strcmp(argv[1], "--list")) {
		for (uint32_t i = 0; i < qvk_synth_n_presets; i++)
			printf("%s (%s, vocab %s)\n", qvk_synth_presets[i].preset,
			       qvk_arch_name(qvk_synth_presets[i].arch),
			       qvk_synth_presets[i].vocab);
		return 0;
	}
	if (argc != 4 && argc != 5)
		return qvk_synth_usage();
	sp = qvk_synth_preset(argv[1]);
	if (!sp) {
		fprintf(stderr, "qvk-synth: no preset '%s' (--list)\n", argv[1]);
		return 2;
	}
	if (!strcmp(argv[2], "f32"))
		type = QVK_GGML_TYPE_F32;
	else if (!strcmp(argv[2], "f16"))
		type = QVK_GGML_TYPE_F16;
	else if (!strcmp(argv[2], "q8_0"))
		type = QVK_GGML_TYPE_Q8_0;
	else
		return qvk_synth_usage();
	if (argc == 5)
		seed = strtoull(argv[4], NULL, 0);
	snprintf(path, sizeof(path), "%s/%s", models ? models : "../shared/models",
		 sp->vocab);
	if (qvk_ctx_create(&ctx) ||
	    qvk_gguf_open(ctx, path, &vocab) ||
	    qvk_synth_write(ctx, sp, type, seed, vocab, argv[3])) {
		fprintf(stderr, "qvk-synth: %s\n",
			ctx ? qvk_ctx_message(ctx) : "no context");
		goto out;
	}
	if (!qvk_synth_file_hash(argv[3], &hash)) {
		fprintf(stderr, "qvk-synth: %s: cannot read it back\n", argv[3]);
		goto out;
	}
	printf("%016llx\n", (unsigned long long)hash);
	rc = 0;
out:
	qvk_gguf_close(vocab);
	qvk_ctx_destroy(ctx);
	return rc;
}
