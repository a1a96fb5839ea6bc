/* SPDX-License-Identifier: MIT */
/*
 * qvk quantize: a model (GGUF or llama2.c) to a self-contained quantized
 * GGUF file (tokenizer included), with RTN, MSE clipping, AWQ, SmoothQuant
 * or GPTQ, calibrated on a text file where the method needs it. The file
 * is written as it is made, tensor by tensor (qvk_quantize_to_file()).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <qvk/quantize.h>

#include "llm_setup.h"
#include "quantize_calib.h"
#include "quantize_mix.h"

const char qvk_cmd_quantize_summary[] =
	"quantize a model to a self-contained GGUF file";

struct qvk_quantize_args {
	const char *in, *out, *tokenizer, *calib, *imatrix;
	enum qvk_calib_where where;
	uint64_t calib_tokens;
	bool allow_requantize;
	struct qvk_quantize_options opt;
	struct qvk_mix_args mix;
};

static int qvk_quantize_usage(void)
{
	printf("usage: qvk quantize IN OUT [--format F] [--group G] "
	       "[--method M] [--calib TEXT]\n"
	       "                    [--calib-tokens N] [--calib-ctx N] "
	       "[--calib-device D]\n"
	       "                    [--keep LIST] [-t TOKENIZER] [--alpha A] "
	       "[--allow-requantize]\n"
	       "                    [--imatrix F] [--sensitivity TEXT "
	       "[--sensitivity-tokens N]\n"
	       "                     [--sensitivity-json F] [--target-bpw B | "
	       "--target-size BYTES]]\n\n"
	       "Writes OUT, a GGUF file with the model quantized and its "
	       "tokenizer. Group 32\nwith K a multiple of 32 uses GGUF's "
	       "Q8_0/Q4_0/Q4_1 (llama.cpp runs such files);\nother groups "
	       "and padded rows use qvk's own tensor types (qvk.* metadata).\n"
	       "K-quant formats write GGUF Q4_K/Q5_K/Q6_K (llama.cpp runs "
	       "them too). Tensors\nare read, quantized and written one at a "
	       "time into a temporary file renamed\nto OUT when complete; "
	       "peak memory is reported at the end.\n\n"
	       "  IN                GGUF (llama) or llama2.c checkpoint\n"
	       "  -t TOKENIZER      llama2.c tokenizer.bin (GGUF files carry "
	       "their own)\n"
	       "  --format F        f32|f16|q8|q4|q4a, or the GGUF names F32, "
	       "F16, Q8_0,\n"
	       "                    Q4_0, Q4_1 (= q8, q4, q4a at group 32; "
	       "default q8),\n"
	       "                    or q4_k|q5_k|q6_k|q4_k_m|q5_k_m (K-quants; "
	       "_m: llama.cpp's\n"
	       "                    mix, Q6_K classifier and some attn_v, "
	       "ffn_down; rows that\n"
	       "                    are not 256-blocks fall back to Q4_1 or "
	       "Q8_0)\n"
	       "  --group G         32|64|128|0 (0: one group per row; "
	       "default 32)\n"
	       "  --method M        rtn|mse|awq|smoothquant|gptq (default "
	       "rtn)\n"
	       "  --calib TEXT      calibration text (needed by awq, "
	       "smoothquant, gptq;\n"
	       "                    mse uses it for channel importance)\n"
	       "  --calib-tokens N  calibration tokens used (default 8192)\n"
	       "  --calib-ctx N     positions per calibration window, BOS "
	       "included\n"
	       "                    (default min(256, the model's context))\n"
	       "  --calib-device D  auto|gpu|cpu: where calibration runs. gpu: "
	       "the windows\n"
	       "                    through qvk's forward pass on the Vulkan "
	       "device (f16\n"
	       "                    weights, q8 where f16 is refused), every "
	       "linear layer's\n"
	       "                    inputs summed on the device: the float "
	       "model's statistics.\n"
	       "                    cpu: the batched fp32 pass on the host, "
	       "sequential (each\n"
	       "                    layer's inputs from the quantized layers "
	       "before it, as\n"
	       "                    GPTQ and AWQ calibrate). auto (default): "
	       "gpu for mse, awq\n"
	       "                    and smoothquant when the device is a GPU "
	       "(on a CPU Vulkan\n"
	       "                    device such as lavapipe the host pass is "
	       "faster), cpu for\n"
	       "                    gptq (sequential GPTQ stays on the host); "
	       "a line says which\n"
	       "                    ran and why\n"
	       "  --keep LIST       GLOB=f16|f32,... tensors kept in higher "
	       "precision,\n"
	       "                    e.g. output.weight=f16 or "
	       "'blk.*.ffn_down.weight=f32';\n"
	       "                    a GLOB that matches no tensor is an "
	       "error\n"
	       "  --alpha A         SmoothQuant migration strength (default "
	       "0.5)\n"
	       "  --imatrix F       llama.cpp importance matrix (imatrix "
	       "GGUF or .dat): the\n"
	       "                    channel weights of mse's clip search "
	       "(K-quants too),\n"
	       "                    instead of --calib\n"
	       "  --sensitivity TEXT  print each matrix's KL (nats/token, "
	       "first N tokens of\n"
	       "                    TEXT) when only it is quantized to q8 g32, "
	       "q4a g32, q4 g32,\n"
	       "                    q4 g64 or q4 g128 with --method (scalar "
	       "reference, CPU)\n"
	       "  --sensitivity-tokens N  tokens scored (default 512; as many "
	       "more are held out)\n"
	       "  --sensitivity-json F    the table as JSON\n"
	       "  --target-bpw B    with --sensitivity: a type per matrix "
	       "minimising the summed\n"
	       "                    KL at B bits per weight of the matrices; "
	       "writes OUT with it\n"
	       "                    and reports its KL and perplexity on the "
	       "held-out tokens\n"
	       "  --target-size BYTES  the same for a size of the matrices in "
	       "bytes\n"
	       "  --allow-requantize  quantize an IN that already holds "
	       "quantized weights\n"
	       "                    (refused by default: a second rounding on "
	       "top of the first;\n"
	       "                    quantize the F32/F16 original instead)\n\n"
	       "OUT's folder is checked for writing before any work starts.\n");
	return 0;
}

/* Whether @o rounds the weights (not an f32/f16 conversion). */
static bool qvk_quantize_rounds(const struct qvk_quantize_options *o)
{
	return o->kmix || o->format >= QVK_WEIGHTS_Q8;
}

static bool qvk_quantize_parse(int argc, char **argv,
			       struct qvk_quantize_args *a)
{
	uint32_t type_group = UINT32_MAX; /* set by a GGUF --format name */
	const char *format_name = NULL;
	bool group_given = false;
	uint64_t v;
	double d;

	memset(a, 0, sizeof(*a));
	a->opt.format = QVK_WEIGHTS_Q8;
	a->opt.group = 32;
	a->opt.method = QVK_METHOD_RTN;
	a->calib_tokens = 8192;
	a->mix.tokens = 512;
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (arg[0] != '-') {
			if (!a->in)
				a->in = arg;
			else if (!a->out)
				a->out = arg;
			else {
				qvk_tool_usage_error("quantize", "unexpected "
						     "argument '%s'", arg);
				return false;
			}
			continue;
		}
		if (!strcmp(arg, "--allow-requantize")) {
			a->allow_requantize = true;
			continue;
		}
		if (!val) {
			qvk_tool_usage_error("quantize", "unknown or incomplete "
					     "argument '%s'", arg);
			return false;
		}
		i++;
		if (!strcmp(arg, "--format")) {
			format_name = val;
			a->opt.kmix = QVK_KMIX_NONE;
			if (qvk_kquant_mix_parse(val, &a->opt.kmix))
				continue;
			if (!qvk_weight_format_parse_type(val, &a->opt.format,
							  &type_group) ||
			    a->opt.format == QVK_WEIGHTS_AUTO) {
				qvk_tool_usage_error("quantize", "--format '%s': "
						     "use f32, f16, q8, q4, q4a, "
						     "q4_k, q5_k, q6_k, q4_k_m, "
						     "q5_k_m or a GGUF type qvk "
						     "writes: F32, F16, Q8_0, "
						     "Q4_0, Q4_1", val);
				return false;
			}
		} else if (!strcmp(arg, "--group")) {
			if (!qvk_tool_parse_u64("quantize", arg, val, 0, 128, &v))
				return false;
			if (!qvk_group_valid((uint32_t)v)) {
				qvk_tool_usage_error("quantize", "--group %s: use "
						     QVK_GROUPS_TEXT, val);
				return false;
			}
			a->opt.group = (uint32_t)v;
			group_given = true;
		} else if (!strcmp(arg, "--method")) {
			if (!qvk_quant_method_parse(val, &a->opt.method)) {
				qvk_tool_usage_error("quantize", "--method '%s': "
						     "use rtn, mse, awq, "
						     "smoothquant or gptq", val);
				return false;
			}
		} else if (!strcmp(arg, "--calib")) {
			a->calib = val;
		} else if (!strcmp(arg, "--calib-tokens")) {
			if (!qvk_tool_parse_u64("quantize", arg, val, 1,
						1u << 24, &a->calib_tokens))
				return false;
		} else if (!strcmp(arg, "--calib-ctx")) {
			if (!qvk_tool_parse_u64("quantize", arg, val, 2,
						1u << 20, &v))
				return false;
			a->opt.calib_window = (uint32_t)v;
		} else if (!strcmp(arg, "--calib-device")) {
			if (!strcmp(val, "auto")) {
				a->where = QVK_WHERE_AUTO;
			} else if (!strcmp(val, "gpu")) {
				a->where = QVK_WHERE_GPU;
			} else if (!strcmp(val, "cpu")) {
				a->where = QVK_WHERE_CPU;
			} else {
				qvk_tool_usage_error("quantize", "--calib-device "
						     "'%s': use auto, gpu or cpu",
						     val);
				return false;
			}
		} else if (!strcmp(arg, "--imatrix")) {
			a->imatrix = val;
		} else if (!strcmp(arg, "--sensitivity")) {
			a->mix.text = val;
		} else if (!strcmp(arg, "--sensitivity-json")) {
			a->mix.json = val;
		} else if (!strcmp(arg, "--sensitivity-tokens")) {
			if (!qvk_tool_parse_u64("quantize", arg, val, 16,
						1u << 20, &a->mix.tokens))
				return false;
		} else if (!strcmp(arg, "--target-bpw")) {
			if (!qvk_tool_parse_double("quantize", arg, val, 1, 32,
						   &a->mix.target_bpw))
				return false;
		} else if (!strcmp(arg, "--target-size")) {
			if (!qvk_tool_parse_u64("quantize", arg, val, 1,
						UINT64_MAX, &a->mix.target_size))
				return false;
		} else if (!strcmp(arg, "--keep")) {
			if (!qvk_tool_keep_ok("quantize", val))
				return false;
			a->opt.keep = val;
		} else if (!strcmp(arg, "-t")) {
			a->tokenizer = val;
		} else if (!strcmp(arg, "--alpha")) {
			if (!qvk_tool_parse_double("quantize", arg, val, 0.01, 1,
						   &d))
				return false;
			a->opt.smooth_alpha = (float)d;
		} else {
			qvk_tool_usage_error("quantize", "unknown argument '%s'",
					     arg);
			return false;
		}
	}
	if (a->opt.kmix && group_given) {
		qvk_tool_usage_error("quantize", "--group does not apply to "
				     "--format %s (K-quants: super-blocks of "
				     "256)", format_name);
		return false;
	}
	/* Q8_0, Q4_0, Q4_1 are group 32 by definition */
	if (type_group != UINT32_MAX) {
		if (group_given && a->opt.group != type_group) {
			qvk_tool_usage_error("quantize", "--group %u contradicts "
					     "--format %s, which is group %u",
					     a->opt.group, format_name,
					     type_group);
			return false;
		}
		a->opt.group = type_group;
	}
	if (!a->in || !a->out) {
		qvk_tool_usage_error("quantize", "needs IN and OUT");
		return false;
	}
	if ((a->mix.target_bpw || a->mix.target_size) &&
	    (!a->mix.text || a->opt.kmix ||
	     (a->mix.target_bpw && a->mix.target_size))) {
		qvk_tool_usage_error("quantize", "--target-bpw or --target-size "
				     "(one of them) needs --sensitivity TEXT and "
				     "chooses among grouped types, not with a "
				     "K-quant --format");
		return false;
	}
	if (qvk_quant_method_needs_calib(a->opt.method) &&
	    qvk_quantize_rounds(&a->opt) && !a->calib) {
		qvk_tool_usage_error("quantize", "--method %s needs calibration "
				     "text: give it with --calib TEXT",
				     qvk_quant_method_name(a->opt.method));
		return false;
	}
	return true;
}

/* Tokenize the calibration text into a->opt (caller frees the tokens). */
static bool qvk_quantize_calib(struct qvk_ctx *ctx,
			       const struct qvk_tokenizer *tok,
			       struct qvk_quantize_args *a, uint32_t **tokens)
{
	size_t len = 0, n = 0;
	char *text = qvk_tool_read_file(a->calib, &len);
	qvk_status st;

	*tokens = NULL;
	if (!text) {
		perror(a->calib);
		return false;
	}
	*tokens = malloc(QVK_TOKENIZE_MAX(len) * sizeof(**tokens));
	st = *tokens ? qvk_tokenizer_encode(tok, ctx, text, len, 0, *tokens,
					    QVK_TOKENIZE_MAX(len), &n) :
		       QVK_ERR_NO_MEMORY;
	free(text);
	if (st != QVK_OK) {
		qvk_tool_fail(ctx, st, "quantize", a->calib);
		return false;
	}
	if (n == 0) {
		fprintf(stderr, "qvk quantize: %s holds no tokens\n", a->calib);
		return false;
	}
	a->opt.calib_tokens = *tokens;
	a->opt.n_calib_tokens = QVK_MIN(n, (size_t)a->calib_tokens);
	a->opt.bos = qvk_tokenizer_bos(tok);
	return true;
}

/*
 * OUT must be writable before any work: not a folder, and a file can be
 * made in its folder (a probe made and removed there, which also catches
 * read-only mounts that access(2) would not).
 */
static bool qvk_quantize_out_ok(const char *out)
{
	const char *slash = strrchr(out, '/');
	char *probe = malloc(strlen(out) + 32);
	struct stat sb;
	int fd = -1;

	if (!probe) {
		fprintf(stderr, "qvk quantize: out of memory\n");
		return false;
	}
	if (stat(out, &sb) == 0 && !S_ISREG(sb.st_mode)) {
		fprintf(stderr, "qvk quantize: OUT %s is %s: give the path of "
				"the file to write\n", out,
			S_ISDIR(sb.st_mode) ? "a folder" : "not a regular file");
		goto out_free;
	}
	if (!slash)
		strcpy(probe, ".");
	else
		snprintf(probe, strlen(out) + 32, "%.*s", slash == out ? 1 :
			 (int)(slash - out), out);
	strcat(probe, "/.qvk-quantize-XXXXXX");
	fd = mkstemp(probe);
	if (fd < 0) {
		int err = errno;

		*strrchr(probe, '/') = 0;
		fprintf(stderr, "qvk quantize: cannot write OUT %s: its folder "
				"%s: %s\n", out, probe, strerror(err));
		goto out_free;
	}
	close(fd);
	unlink(probe);
out_free:
	free(probe);
	return fd >= 0;
}

/* Quantized weights are not quantized again without --allow-requantize. */
static bool qvk_quantize_input_ok(const struct qvk_quantize_args *a,
				  const struct qvk_model *model)
{
	const struct qvk_host_tensor *q = qvk_llm_first_quantized(model);

	if (!q || !qvk_quantize_rounds(&a->opt) || a->allow_requantize)
		return true;
	fprintf(stderr, "qvk quantize: %s already holds quantized weights "
			"(%s is %s): quantizing them again adds a second "
			"rounding error to the first. Quantize the F32/F16 "
			"original, or pass --allow-requantize\n", a->in,
		q->name, qvk_ggml_type_name(q->type));
	return false;
}

static int qvk_quantize_run(struct qvk_ctx *ctx, struct qvk_quantize_args *a)
{
	struct qvk_device *dev = NULL;
	struct qvk_tokenizer *tok = NULL;
	struct qvk_model *model = NULL;
	struct qvk_quantize_report r;
	struct qvk_mix mix = { 0 };
	struct qvk_imatrix *im = NULL;
	uint32_t *tokens = NULL;
	qvk_status st;
	int rc = 1;

	if (!qvk_quantize_out_ok(a->out))
		return 1;
	st = qvk_model_load(ctx, a->in, &model);
	if (st != QVK_OK)
		return qvk_tool_fail(ctx, st, "quantize", a->in);
	if (!qvk_quantize_input_ok(a, model))
		goto out;
	if (a->tokenizer)
		st = qvk_tokenizer_load(ctx, a->tokenizer, &tok);
	else if (model->gguf)
		st = qvk_tokenizer_from_gguf(ctx, model->gguf, &tok);
	else {
		qvk_tool_usage_error("quantize", "%s is a llama2.c checkpoint: "
				     "give its tokenizer with -t", a->in);
		goto out;
	}
	if (st != QVK_OK) {
		qvk_tool_fail(ctx, st, "quantize", a->tokenizer ? a->tokenizer :
					"tokenizer in the GGUF file");
		goto out;
	}
	if (qvk_tokenizer_vocab_size(tok) != model->params.vocab_size) {
		fprintf(stderr, "qvk quantize: the tokenizer has %u tokens but "
				"the model %u\n", qvk_tokenizer_vocab_size(tok),
			model->params.vocab_size);
		goto out;
	}
	/* only methods that use it read the calibration text */
	if (a->calib && qvk_quantize_rounds(&a->opt) &&
	    (qvk_quant_method_needs_calib(a->opt.method) ||
	     a->opt.method == QVK_METHOD_MSE) &&
	    !qvk_quantize_calib(ctx, tok, a, &tokens))
		goto out;
	if (a->imatrix) {
		st = qvk_imatrix_load(ctx, a->imatrix, &im);
		if (st != QVK_OK) {
			qvk_tool_fail(ctx, st, "quantize", a->imatrix);
			goto out;
		}
		a->opt.imatrix = im;
	}
	if (a->mix.text && !qvk_mix_prepare(ctx, model, tok, &a->opt, &a->mix,
					    &mix))
		goto out;
	if (!qvk_calib_choose(ctx, a->where, &a->opt, &dev))
		goto out;
	st = qvk_quantize_to_file(ctx, model, &a->opt, tok, a->out, &r);
	if (st != QVK_OK && a->where == QVK_WHERE_AUTO && dev &&
	    qvk_calib_device_failure(st)) {
		fprintf(stderr, "calibration: on the device failed "
				"(%s: %s); calibrating on the CPU instead\n",
			qvk_strerror(st), qvk_ctx_message(ctx));
		a->opt.calib_device = QVK_CALIB_CPU;
		a->opt.calib_dev = NULL;
		st = qvk_quantize_to_file(ctx, model, &a->opt, tok, a->out, &r);
	}
	a->opt.calib_device = QVK_CALIB_CPU;
	a->opt.calib_dev = NULL;
	if (st != QVK_OK) {
		qvk_tool_fail(ctx, st, "quantize", a->in);
		goto out;
	}
	if (!qvk_mix_report(ctx, model, a->out, &a->opt, &mix))
		goto out;
	if (a->opt.kmix)
		fprintf(stderr, "qvk quantize: %s -> %s: %s %s", a->in, a->out,
			qvk_kquant_mix_name(a->opt.kmix),
			qvk_quant_method_name(a->opt.method));
	else
		fprintf(stderr, "qvk quantize: %s -> %s: %s g%u %s", a->in,
			a->out, qvk_weight_format_name(a->opt.format),
			a->opt.group, qvk_quant_method_name(a->opt.method));
	fprintf(stderr, "%s%s, %llu calibration tokens, %llu bytes, %.1f s\n"
			"qvk quantize: peak host memory %.1f MiB (largest "
			"tensor as fp32 %.1f MiB, calibration %.1f MiB)\n",
		a->opt.keep ? ", keep " : "", a->opt.keep ? a->opt.keep : "",
		(unsigned long long)a->opt.n_calib_tokens,
		(unsigned long long)r.file_bytes, r.seconds,
		(double)r.peak_host_bytes / (1 << 20),
		(double)r.largest_f32_bytes / (1 << 20),
		(double)r.calib_bytes / (1 << 20));
	rc = 0;
out:
	qvk_device_destroy(dev);
	qvk_mix_free(&mix);
	qvk_imatrix_destroy(im);
	free(tokens);
	qvk_tokenizer_destroy(tok);
	qvk_model_destroy(model);
	return rc;
}

int qvk_cmd_quantize(int argc, char **argv)
{
	struct qvk_quantize_args a;
	struct qvk_ctx *ctx;
	int rc;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return qvk_quantize_usage();
	if (!qvk_quantize_parse(argc, argv, &a))
		return 2;
	ctx = qvk_tool_ctx("quantize");
	if (!ctx)
		return 1;
	rc = qvk_quantize_run(ctx, &a);
	qvk_ctx_destroy(ctx);
	return rc;
}
