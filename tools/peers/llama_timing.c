// SPDX-License-Identifier: MIT
/*
 * llama-timing: llama.cpp timed the way qvk bench times qvk, for
 * tools/bench-peers.sh. Linked against the prebuilt libllama that the npm
 * package node-llama-cpp (pinned 3.21.1) bundles; never part of qvk.
 *
 *   llama-timing MODEL.gguf PREFILL DECODE REPS cpu|gpu [THREADS]
 *
 * A warm-up, then REPS repetitions of one request: the PREFILL-token
 * prompt (random ids, one batch), the greedy next token from its logits,
 * then DECODE more tokens one at a time, each the greedy choice of the
 * last -- what qvk bench does. Prints one line per repetition:
 *   rep R prefill_s S decode_s S
 * after a line naming the llama.cpp version and the device. "gpu" puts
 * every layer on the first GPU-type device (Vulkan; with
 * GGML_VK_VISIBLE_DEVICES=0 that is lavapipe); "cpu" none. THREADS: the
 * CPU threads (default: the online CPUs, as llama-bench's default of the
 * physical cores is on this machine).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ggml-backend.h"
#include "llama.h"

#ifndef TIMING_BACKEND_DIR
#define TIMING_BACKEND_DIR "."
#endif

static double timing_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static llama_token timing_argmax(struct llama_context *c, int32_t n_vocab)
{
	const float *lg = llama_get_logits_ith(c, -1);
	llama_token best = 0;

	for (int32_t v = 1; v < n_vocab; v++)
		if (lg[v] > lg[best])
			best = v;
	return best;
}

/* One request; false on a llama_decode failure. */
static bool timing_request(struct llama_context *c, llama_token *prompt,
			   int n_prompt, int n_decode, int32_t n_vocab,
			   double *prefill_s, double *decode_s)
{
	double t0, t1;
	llama_token tok;

	llama_memory_clear(llama_get_memory(c), true);
	t0 = timing_now_s();
	if (llama_decode(c, llama_batch_get_one(prompt, n_prompt)))
		return false;
	llama_synchronize(c);
	t1 = timing_now_s();
	tok = timing_argmax(c, n_vocab);
	for (int i = 0; i < n_decode; i++) {
		if (llama_decode(c, llama_batch_get_one(&tok, 1)))
			return false;
		llama_synchronize(c);
		tok = timing_argmax(c, n_vocab);
	}
	*prefill_s = t1 - t0;
	*decode_s = timing_now_s() - t1;
	return true;
}

static void timing_log(enum ggml_log_level level, const char *text, void *data)
{
	(void)data;
	if (level == GGML_LOG_LEVEL_ERROR || getenv("TIMING_VERBOSE"))
		fputs(text, stderr);
}

int main(int argc, char **argv)
{
	struct llama_model_params mp;
	struct llama_context_params cp;
	struct llama_model *m = NULL;
	struct llama_context *c = NULL;
	ggml_backend_dev_t devs[2] = { NULL, NULL };
	llama_token *prompt = NULL;
	int n_prompt, n_decode, reps, rc = 1;
	int threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
	bool gpu;
	int32_t n_vocab;
	double p_s, d_s;

	if ((argc != 6 && argc != 7) ||
	    (strcmp(argv[5], "cpu") && strcmp(argv[5], "gpu")) ||
	    (n_prompt = atoi(argv[2])) < 1 || (n_decode = atoi(argv[3])) < 1 ||
	    (reps = atoi(argv[4])) < 1 || (argc == 7 && (threads = atoi(argv[6])) < 1)) {
		fprintf(stderr, "usage: llama-timing MODEL PREFILL DECODE REPS "
			"cpu|gpu [THREADS]\n");
		return 2;
	}
	gpu = !strcmp(argv[5], "gpu");
	llama_log_set(timing_log, NULL);
	ggml_backend_load_all_from_path(TIMING_BACKEND_DIR);
	llama_backend_init();
	mp = llama_model_default_params();
	if (gpu) {
		for (size_t i = 0; i < ggml_backend_dev_count() && !devs[0]; i++) {
			ggml_backend_dev_t d = ggml_backend_dev_get(i);

			if (ggml_backend_dev_type(d) == GGML_BACKEND_DEVICE_TYPE_GPU ||
			    ggml_backend_dev_type(d) == GGML_BACKEND_DEVICE_TYPE_IGPU)
				devs[0] = d;
		}
		if (!devs[0]) {
			fprintf(stderr, "llama-timing: no GPU-type device (Vulkan on "
				"lavapipe needs GGML_VK_VISIBLE_DEVICES=0)\n");
			goto out;
		}
		mp.devices = devs;
		mp.n_gpu_layers = 999;
	} else {
		mp.n_gpu_layers = 0;
	}
	m = llama_model_load_from_file(argv[1], mp);
	if (!m) {
		fprintf(stderr, "llama-timing: %s: llama.cpp cannot load it\n", argv[1]);
		goto out;
	}
	cp = llama_context_default_params();
	cp.n_ctx = (uint32_t)(n_prompt + n_decode + 1);
	cp.n_batch = cp.n_ubatch = (uint32_t)n_prompt;
	cp.n_threads = cp.n_threads_batch = threads;
	cp.no_perf = true;
	c = llama_init_from_model(m, cp);
	n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(m));
	prompt = calloc((size_t)n_prompt, sizeof(*prompt));
	if (!c || !prompt) {
		fprintf(stderr, "llama-timing: no context of %u tokens\n", cp.n_ctx);
		goto out;
	}
	srand(0x5eed);
	for (int i = 0; i < n_prompt; i++)
		prompt[i] = rand() % n_vocab;
	printf("llama.cpp %s on %s, %d threads\n", llama_version(),
	       gpu ? ggml_backend_dev_description(devs[0]) : "CPU", threads);
	fflush(stdout);
	/* Warm-up: the shorter decode is enough to load every kernel. */
	if (!timing_request(c, prompt, n_prompt, n_decode < 2 ? n_decode : 2,
			    n_vocab, &p_s, &d_s))
		goto out_decode;
	for (int r = 0; r < reps; r++) {
		if (!timing_request(c, prompt, n_prompt, n_decode, n_vocab, &p_s, &d_s))
			goto out_decode;
		printf("rep %d prefill_s %.9f decode_s %.9f\n", r, p_s, d_s);
		fflush(stdout);
	}
	rc = 0;
	goto out;
out_decode:
	fprintf(stderr, "llama-timing: llama_decode failed\n");
out:
	free(prompt);
	llama_free(c);
	llama_model_free(m);
	llama_backend_free();
	return rc;
}
