// SPDX-License-Identifier: MIT
/*
 * llama-oracle: llama.cpp as the outside oracle for qvk's tests and
 * benchmarks. It links the prebuilt libllama that the npm package
 * node-llama-cpp (pinned 3.21.1) bundles, and is built by
 * tools/oracle/setup.sh into build/oracle/. It is never part of qvk.
 *
 *   llama-oracle version
 *   llama-oracle quantize IN.gguf OUT.gguf TYPE     (Q4_K_M, Q6_K, IQ4_XS, ...)
 *   llama-oracle tokenize MODEL TEXT [--bos]        ids, one line
 *   llama-oracle logits MODEL OUT.f32 ID...         float32 [n_ids][n_vocab]
 *   llama-oracle generate MODEL N ID...             N greedy ids, one line
 *   llama-oracle dequant MODEL TENSOR OUT.f32       the tensor as float32,
 *                                                   ggml's own to_float
 *   llama-oracle template MODEL|TEMPLATE_FILE ROLE=TEXT... [--no-assistant]
 *                                                   the formatted prompt on
 *                                                   stdout (llama_chat_apply_template)
 *
 * Everything runs on llama.cpp's CPU backend, single sequence, all
 * positions' logits kept. Errors go to stderr with exit status 1.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llama.h"
#include "ggml-backend.h"
#include "gguf.h"

#ifndef ORACLE_BACKEND_DIR
#define ORACLE_BACKEND_DIR "."
#endif

static const struct {
	const char *name;
	enum llama_ftype ftype;
} oracle_types[] = {
	{ "F32", LLAMA_FTYPE_ALL_F32 },        { "F16", LLAMA_FTYPE_MOSTLY_F16 },
	{ "BF16", LLAMA_FTYPE_MOSTLY_BF16 },   { "Q8_0", LLAMA_FTYPE_MOSTLY_Q8_0 },
	{ "Q4_0", LLAMA_FTYPE_MOSTLY_Q4_0 },   { "Q4_1", LLAMA_FTYPE_MOSTLY_Q4_1 },
	{ "Q5_0", LLAMA_FTYPE_MOSTLY_Q5_0 },   { "Q5_1", LLAMA_FTYPE_MOSTLY_Q5_1 },
	{ "Q2_K", LLAMA_FTYPE_MOSTLY_Q2_K },   { "Q2_K_S", LLAMA_FTYPE_MOSTLY_Q2_K_S },
	{ "Q3_K_S", LLAMA_FTYPE_MOSTLY_Q3_K_S }, { "Q3_K_M", LLAMA_FTYPE_MOSTLY_Q3_K_M },
	{ "Q3_K_L", LLAMA_FTYPE_MOSTLY_Q3_K_L }, { "Q4_K_S", LLAMA_FTYPE_MOSTLY_Q4_K_S },
	{ "Q4_K_M", LLAMA_FTYPE_MOSTLY_Q4_K_M }, { "Q5_K_S", LLAMA_FTYPE_MOSTLY_Q5_K_S },
	{ "Q5_K_M", LLAMA_FTYPE_MOSTLY_Q5_K_M }, { "Q6_K", LLAMA_FTYPE_MOSTLY_Q6_K },
	{ "IQ4_NL", LLAMA_FTYPE_MOSTLY_IQ4_NL }, { "IQ4_XS", LLAMA_FTYPE_MOSTLY_IQ4_XS },
};

static int oracle_usage(void)
{
	fprintf(stderr,
		"usage: llama-oracle version\n"
		"       llama-oracle quantize IN OUT TYPE\n"
		"       llama-oracle tokenize MODEL TEXT [--bos]\n"
		"       llama-oracle logits MODEL OUT.f32 ID...\n"
		"       llama-oracle generate MODEL N ID...\n"
		"       llama-oracle dequant MODEL TENSOR OUT.f32\n"
		"       llama-oracle template MODEL|TEMPLATE_FILE ROLE=TEXT... [--no-assistant]\n");
	return 2;
}

/* Parse token ids; returns a malloc()ed array or NULL on a bad id. */
static llama_token *oracle_parse_ids(char **argv, int n)
{
	llama_token *ids = calloc(n ? (size_t)n : 1, sizeof(*ids));

	for (int i = 0; ids && i < n; i++) {
		char *end;
		long v = strtol(argv[i], &end, 10);

		if (*end || end == argv[i] || v < 0 || v > 0x7fffffff) {
			fprintf(stderr, "llama-oracle: bad token id '%s'\n", argv[i]);
			free(ids);
			return NULL;
		}
		ids[i] = (llama_token)v;
	}
	return ids;
}

static struct llama_model *oracle_load(const char *path, bool vocab_only)
{
	struct llama_model_params mp = llama_model_default_params();
	struct llama_model *m;

	mp.vocab_only = vocab_only;
	mp.n_gpu_layers = 0;
	m = llama_model_load_from_file(path, mp);
	if (!m)
		fprintf(stderr, "llama-oracle: %s: llama.cpp cannot load it\n", path);
	return m;
}

static struct llama_context *oracle_context(struct llama_model *m, int n_tokens)
{
	struct llama_context_params cp = llama_context_default_params();
	struct llama_context *c;

	cp.n_ctx = (uint32_t)(n_tokens < 64 ? 64 : n_tokens);
	cp.n_batch = cp.n_ctx;
	cp.n_ubatch = cp.n_ctx;
	cp.n_threads = 2;
	cp.n_threads_batch = 2;
	cp.no_perf = true;
	c = llama_init_from_model(m, cp);
	if (!c)
		fprintf(stderr, "llama-oracle: cannot make a context of %u tokens\n",
			cp.n_ctx);
	return c;
}

/* Decode @ids[0..n) at positions @pos.. with logits for every position. */
static int oracle_decode(struct llama_context *c, const llama_token *ids, int n,
			 int pos)
{
	struct llama_batch b = llama_batch_init(n, 0, 1);
	int rc;

	for (int i = 0; i < n; i++) {
		b.token[i] = ids[i];
		b.pos[i] = pos + i;
		b.n_seq_id[i] = 1;
		b.seq_id[i][0] = 0;
		b.logits[i] = 1;
	}
	b.n_tokens = n;
	rc = llama_decode(c, b);
	llama_batch_free(b);
	if (rc)
		fprintf(stderr, "llama-oracle: llama_decode failed (%d)\n", rc);
	return rc;
}

static int oracle_quantize(char **argv)
{
	struct llama_model_quantize_params qp = llama_model_quantize_default_params();
	size_t i;

	for (i = 0; i < sizeof(oracle_types) / sizeof(oracle_types[0]); i++)
		if (!strcmp(argv[2], oracle_types[i].name))
			break;
	if (i == sizeof(oracle_types) / sizeof(oracle_types[0])) {
		fprintf(stderr, "llama-oracle: unknown type '%s'\n", argv[2]);
		return 1;
	}
	qp.ftype = oracle_types[i].ftype;
	qp.nthread = 2;
	if (llama_model_quantize(argv[0], argv[1], &qp)) {
		fprintf(stderr, "llama-oracle: quantizing %s to %s failed\n", argv[0],
			argv[2]);
		return 1;
	}
	return 0;
}

static int oracle_tokenize(const char *model, const char *text, bool bos)
{
	struct llama_model *m = oracle_load(model, true);
	int32_t len = (int32_t)strlen(text), n;
	llama_token *ids;

	if (!m)
		return 1;
	ids = calloc((size_t)len + 8, sizeof(*ids));
	n = ids ? llama_tokenize(llama_model_get_vocab(m), text, len, ids, len + 8,
				 bos, true) : -1;
	for (int32_t i = 0; i < n; i++)
		printf(i ? " %d" : "%d", ids[i]);
	printf("\n");
	free(ids);
	llama_model_free(m);
	return n < 0;
}

static int oracle_logits(const char *model, const char *out, char **argv, int n)
{
	llama_token *ids = oracle_parse_ids(argv, n);
	struct llama_model *m = NULL;
	struct llama_context *c = NULL;
	int rc = 1;
	FILE *f = NULL;

	if (!ids || !n || !(m = oracle_load(model, false)) ||
	    !(c = oracle_context(m, n)) || oracle_decode(c, ids, n, 0))
		goto out;
	f = fopen(out, "wb");
	if (!f) {
		perror(out);
		goto out;
	}
	rc = 0;
	for (int i = 0; i < n; i++) {
		int32_t nv = llama_vocab_n_tokens(llama_model_get_vocab(m));

		if (fwrite(llama_get_logits_ith(c, i), sizeof(float), (size_t)nv, f) !=
		    (size_t)nv)
			rc = 1;
	}
	if (fclose(f) || rc) {
		fprintf(stderr, "llama-oracle: %s: write failed\n", out);
		rc = 1;
	}
out:
	llama_free(c);
	llama_model_free(m);
	free(ids);
	return rc;
}

static int oracle_generate(const char *model, const char *count, char **argv,
			   int n)
{
	llama_token *ids = oracle_parse_ids(argv, n);
	int steps = atoi(count), rc = 1;
	struct llama_model *m = NULL;
	struct llama_context *c = NULL;
	llama_token tok;

	if (!ids || !n || steps <= 0 || !(m = oracle_load(model, false)) ||
	    !(c = oracle_context(m, n + steps)) || oracle_decode(c, ids, n, 0))
		goto out;
	for (int s = 0; s < steps; s++) {
		const float *lg = llama_get_logits_ith(c, -1);
		int32_t nv = llama_vocab_n_tokens(llama_model_get_vocab(m));

		tok = 0;
		for (int32_t v = 1; v < nv; v++)
			if (lg[v] > lg[tok])
				tok = v;
		printf(s ? " %d" : "%d", tok);
		if (s + 1 < steps && oracle_decode(c, &tok, 1, n + s))
			goto out;
	}
	printf("\n");
	rc = 0;
out:
	llama_free(c);
	llama_model_free(m);
	free(ids);
	return rc;
}

/*
 * Tensor @name of the GGUF file @model as float32, through ggml's own
 * type traits (the dequantization every llama.cpp backend is checked
 * against), written to @out in row-major order.
 */
static int oracle_dequant(const char *model, const char *name, const char *out)
{
	struct ggml_context *gctx = NULL;
	struct gguf_init_params gp = { .no_alloc = false, .ctx = &gctx };
	struct gguf_context *g = gguf_init_from_file(model, gp);
	const struct ggml_type_traits *tr;
	struct ggml_tensor *t;
	float *buf = NULL;
	int64_t n;
	FILE *f;
	int rc = 1;

	if (!g) {
		fprintf(stderr, "llama-oracle: %s: ggml cannot read it\n", model);
		return 1;
	}
	t = ggml_get_tensor(gctx, name);
	if (!t) {
		fprintf(stderr, "llama-oracle: %s has no tensor '%s'\n", model, name);
		goto out;
	}
	n = ggml_nelements(t);
	tr = ggml_get_type_traits(t->type);
	buf = malloc((size_t)n * sizeof(float));
	if (!buf)
		goto out;
	if (t->type == GGML_TYPE_F32) {
		memcpy(buf, t->data, (size_t)n * sizeof(float));
	} else if (tr->to_float) {
		tr->to_float(t->data, buf, n); /* rows are whole blocks */
	} else {
		fprintf(stderr, "llama-oracle: no to_float for %s\n", tr->type_name);
		goto out;
	}
	f = fopen(out, "wb");
	if (!f || fwrite(buf, sizeof(float), (size_t)n, f) != (size_t)n) {
		perror(out);
		if (f)
			fclose(f);
		goto out;
	}
	rc = fclose(f) != 0;
out:
	free(buf);
	gguf_free(g);
	ggml_free(gctx);
	return rc;
}

/* The template text: a model's tokenizer.chat_template, or a file's bytes. */
static char *oracle_template_text(const char *src)
{
	struct llama_model *m;
	const char *t;
	char *dup = NULL;
	FILE *f;
	long len;

	if (strlen(src) > 5 && !strcmp(src + strlen(src) - 5, ".gguf")) {
		m = oracle_load(src, true);
		if (!m)
			return NULL;
		t = llama_model_chat_template(m, NULL);
		if (!t)
			fprintf(stderr, "llama-oracle: %s has no chat template\n", src);
		else
			dup = strdup(t);
		llama_model_free(m);
		return dup;
	}
	f = fopen(src, "rb");
	if (!f || fseek(f, 0, SEEK_END) || (len = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) || !(dup = calloc((size_t)len + 1, 1)) ||
	    fread(dup, 1, (size_t)len, f) != (size_t)len) {
		perror(src);
		free(dup);
		dup = NULL;
	}
	if (f)
		fclose(f);
	return dup;
}

static int oracle_template(const char *src, char **argv, int n)
{
	struct llama_chat_message *msgs = calloc((size_t)n + 1, sizeof(*msgs));
	char *tmpl = oracle_template_text(src), *buf = NULL;
	bool add_ass = true;
	int nm = 0, rc = 1;
	int32_t need;

	if (!msgs || !tmpl)
		goto out;
	for (int i = 0; i < n; i++) {
		char *eq = strchr(argv[i], '=');

		if (!strcmp(argv[i], "--no-assistant")) {
			add_ass = false;
			continue;
		}
		if (!eq) {
			fprintf(stderr, "llama-oracle: message '%s' is not ROLE=TEXT\n",
				argv[i]);
			goto out;
		}
		*eq = '\0';
		msgs[nm].role = argv[i];
		msgs[nm++].content = eq + 1;
	}
	need = llama_chat_apply_template(tmpl, msgs, (size_t)nm, add_ass, NULL, 0);
	if (need < 0) {
		fprintf(stderr, "llama-oracle: llama.cpp does not know this template\n");
		goto out;
	}
	buf = malloc((size_t)need + 1);
	if (!buf ||
	    llama_chat_apply_template(tmpl, msgs, (size_t)nm, add_ass, buf, need + 1) != need)
		goto out;
	fwrite(buf, 1, (size_t)need, stdout);
	rc = 0;
out:
	free(buf);
	free(tmpl);
	free(msgs);
	return rc;
}

static void oracle_log_quiet(enum ggml_log_level level, const char *text, void *data)
{
	(void)data;
	if (level == GGML_LOG_LEVEL_ERROR || getenv("ORACLE_VERBOSE"))
		fputs(text, stderr);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "";
	int rc;

	llama_log_set(oracle_log_quiet, NULL);
	if (!strcmp(cmd, "version")) {
		printf("llama.cpp %s (node-llama-cpp bundle)\n", llama_version());
		return 0;
	}
	ggml_backend_load_all_from_path(ORACLE_BACKEND_DIR);
	llama_backend_init();
	if (!strcmp(cmd, "quantize") && argc == 5)
		rc = oracle_quantize(argv + 2);
	else if (!strcmp(cmd, "tokenize") && (argc == 4 || argc == 5))
		rc = oracle_tokenize(argv[2], argv[3],
				     argc == 5 && !strcmp(argv[4], "--bos"));
	else if (!strcmp(cmd, "logits") && argc >= 5)
		rc = oracle_logits(argv[2], argv[3], argv + 4, argc - 4);
	else if (!strcmp(cmd, "generate") && argc >= 5)
		rc = oracle_generate(argv[2], argv[3], argv + 4, argc - 4);
	else if (!strcmp(cmd, "dequant") && argc == 5)
		rc = oracle_dequant(argv[2], argv[3], argv[4]);
	else if (!strcmp(cmd, "template") && argc >= 4)
		rc = oracle_template(argv[2], argv + 3, argc - 3);
	else
		rc = oracle_usage();
	llama_backend_free();
	return rc;
}
