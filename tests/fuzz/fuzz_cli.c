/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the qvk command's argument parsers, called as the
 * commands call them: qvk run, qvk ppl, qvk quantize and qvk chat (with
 * the shared model options of tools/llm_setup.c and the strict number
 * parsers of tools/tool.c). The parsers are static in tools/cmd_*.c, so this file
 * includes those sources instead of changing them; a name clash between
 * them would show here as a build error.
 *
 * Input: byte 0 picks the command, the rest is argv split at NUL bytes.
 * Whatever a parser accepts must be in the documented ranges (checked
 * below); nothing may crash or read past an argument.
 */
#include <math.h>

#include "../../tools/cmd_chat.c"
#include "../../tools/cmd_ppl.c"
#include "../../tools/cmd_quantize.c"
#include "../../tools/cmd_run.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_ARGS 32

static void fuzz_check_llm(const struct qvk_llm_args *a)
{
	uint32_t g = a->opt.group;

	if (g != 0 && g != 32 && g != 64 && g != 128)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[FUZZ_MAX_ARGS + 1], *buf;
	int argc = 1;

	if (size < 1 || size > 4096)
		return 0;
	/* A copy that ends in NUL: every argument is a C string. */
	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = 0;
	for (char *p = buf; p < buf + size - 1 && argc < FUZZ_MAX_ARGS;
	     p += strlen(p) + 1)
		argv[argc++] = p;
	argv[argc] = NULL;
	switch (data[0] % 4) {
	case 0: {
		struct qvk_run_args a;

		argv[0] = "run";
		if (qvk_run_parse(argc, argv, &a)) {
			const struct qvk_sampler_options *o = &a.sampling.opt;

			fuzz_check_llm(&a.llm);
			if (a.n_tokens < 1 || a.n_tokens > (1u << 20) ||
			    !isfinite(o->temperature) ||
			    !(o->top_p > 0 && o->top_p <= 1) ||
			    !(o->repeat_penalty >= 1))
				abort();
		}
		break;
	}
	case 1: {
		struct qvk_ppl_args a;

		argv[0] = "ppl";
		if (qvk_ppl_parse(argc, argv, &a))
			fuzz_check_llm(&a.llm);
		break;
	}
	case 3: {
		struct qvk_chat_args a;

		argv[0] = "chat";
		if (qvk_chat_parse(argc, argv, &a)) {
			fuzz_check_llm(&a.llm);
			if (a.max_reply < 1 || (a.ctx_size && a.ctx_size < 8) ||
			    (a.template_name &&
			     qvk_chat_template_detect(a.template_name, NULL) ==
				     QVK_CHAT_UNKNOWN))
				abort();
		}
		break;
	}
	default: {
		struct qvk_quantize_args a;

		argv[0] = "quantize";
		if (qvk_quantize_parse(argc, argv, &a)) {
			uint32_t g = a.opt.group;

			if ((g != 0 && g != 32 && g != 64 && g != 128) ||
			    !a.in || !a.out || a.opt.format == QVK_WEIGHTS_AUTO)
				abort();
		}
		break;
	}
	}
	free(buf);
	return 0;
}
