/* SPDX-License-Identifier: MIT */
/*
 * Architectures (issue #10): every preset of tests/oracle/synth.c -- Llama
 * 3 with rope_freqs, Mistral, Qwen2 with q/k/v biases, Qwen3 with per-head
 * q/k norms and head_dim != dim / n_heads, Phi-3 with fused attn_qkv and
 * gate|up and LongRoPE -- loads with every hyper-parameter taken from its
 * key, and the GPU forward pass matches the scalar C reference on it;
 * fused tensors give exactly the split model's logits; Llama 3 factors
 * from rope.scaling keys equal those of the tensor; LongRoPE picks its
 * long factors past the original context; bad files are refused by name.
 * (qvk against llama.cpp itself: check_oracle.c.)
 *
 * Tolerances, max over 24 positions of |gpu - ref|_2 / |ref|_2:
 * - F32 weights, fp32 KV cache on both sides: 1e-4 (summation orders).
 * - Q8_0 as stored, int8 activations per 32-block on the GPU (the
 *   reference keeps them float), fp16 cache on both: 3e-2 (measured
 *   1.9e-2..2.8e-2: activation rounding at every matmul input, carried
 *   through the layers).
 * and top-1 on every position for F32, all but 2 for Q8_0.
 */
#include "check_arch.h"

#define QVK_ARCH_POSITIONS 24u

/* Preset @name written as @type into the scratch folder; NULL if skipped. */
static struct qvk_model *qvk_arch_load(const struct qvk_synth_spec *sp,
				       enum qvk_ggml_type type, char *path,
				       size_t len)
{
	char dir[512];

	snprintf(path, len, "%s/%s-%d-%u.gguf",
		 qvk_arch_dir(dir, sizeof(dir), "arch-tests"), sp->preset,
		 (int)getpid(), (unsigned)type);
	if (!qvk_arch_synth(sp, type, path))
		return NULL;
	return qvk_test_model_load(path);
}

/* ------------------------------------------------------ hyper-params */
START_TEST(test_hparams_from_keys)
{
	for (size_t i = 0; i < QVK_ARRAY_SIZE(qvk_arch_presets); i++) {
		const struct qvk_synth_spec *sp = qvk_synth_preset(qvk_arch_presets[i]);
		char path[600];
		struct qvk_model *m = qvk_arch_load(sp, QVK_GGML_TYPE_F32, path,
						    sizeof(path));
		const struct qvk_model_params *p;
		uint32_t hd = sp->head_dim ? sp->head_dim : sp->dim / sp->n_heads;

		if (!m)
			return;
		p = &m->params;
		ck_assert_int_eq(p->arch, sp->arch);
		ck_assert_uint_eq(p->dim, sp->dim);
		ck_assert_uint_eq(p->hidden_dim, sp->hidden_dim);
		ck_assert_uint_eq(p->n_layers, sp->n_layers);
		ck_assert_uint_eq(p->n_heads, sp->n_heads);
		ck_assert_uint_eq(p->n_kv_heads, sp->n_kv_heads);
		ck_assert_uint_eq(p->head_dim, hd);
		ck_assert_uint_eq(qvk_model_rope_dims(p), hd);
		ck_assert_uint_eq(p->seq_len, sp->context);
		ck_assert_uint_eq(p->vocab_size, sp->vocab_limit);
		ck_assert(p->rope_theta == sp->rope_theta);
		ck_assert(p->norm_eps == sp->norm_eps);
		ck_assert(p->rope_neox == (sp->arch != QVK_ARCH_LLAMA));
		ck_assert(p->shared_classifier == sp->tied);
		ck_assert(m->fused_views == sp->fused);
		ck_assert(!!m->layers[0].bq.data == sp->qkv_bias);
		ck_assert(!!m->layers[1].k_norm.data == sp->qk_norm);
		ck_assert(!!m->rope_factors == (sp->rope != QVK_SYNTH_ROPE_PLAIN));
		ck_assert(!!m->rope_factors_long ==
			  (sp->rope == QVK_SYNTH_ROPE_LONGROPE));
		if (sp->rope == QVK_SYNTH_ROPE_LONGROPE) {
			ck_assert_float_eq(p->rope_attn_factor, 1.1902381f);
			ck_assert_uint_eq(p->rope_orig_ctx, sp->rope_orig_ctx);
		}
		printf("%s: %s, dim %u, %u layers, heads %u/%u x %u, rope %u "
		       "dims%s, theta %g, eps %g, %s classifier, %llu params\n",
		       sp->preset, qvk_arch_name(p->arch), p->dim, p->n_layers,
		       p->n_heads, p->n_kv_heads, p->head_dim,
		       qvk_model_rope_dims(p), p->rope_neox ? " neox" : "",
		       (double)p->rope_theta, (double)p->norm_eps,
		       p->shared_classifier ? "tied" : "separate",
		       (unsigned long long)qvk_model_param_count(m));
		qvk_model_destroy(m);
		unlink(path);
	}
}
END_TEST

/* ------------------------------------------------- GPU vs reference */
static void qvk_arch_check_preset(const char *name, enum qvk_ggml_type type)
{
	const struct qvk_synth_spec *sp = qvk_synth_preset(name);
	bool f32 = type == QVK_GGML_TYPE_F32;
	/* As stored: F32 in F32, Q8_0 in its blocks. */
	struct qvk_llm_options opt = { .format = f32 ? QVK_WEIGHTS_F32 :
							QVK_WEIGHTS_AUTO,
				       .max_batch = 16, .max_seq = 64,
				       .kv_f32 = f32 };
	uint32_t tokens[QVK_ARCH_POSITIONS], vocab;
	double bound = f32 ? 1e-4 : 3e-2;
	uint32_t min_top1 = f32 ? QVK_ARCH_POSITIONS : QVK_ARCH_POSITIONS - 2;
	char path[600];
	struct qvk_model *m = qvk_arch_load(sp, type, path, sizeof(path));
	float *ref, *gpu;

	if (!m)
		return;
	vocab = m->params.vocab_size;
	qvk_arch_prompt(tokens, QVK_ARCH_POSITIONS, vocab);
	ref = malloc((size_t)QVK_ARCH_POSITIONS * vocab * 4);
	gpu = malloc((size_t)QVK_ARCH_POSITIONS * vocab * 4);
	ck_assert(ref && gpu);
	qvk_arch_ref_logits(m, !f32, tokens, QVK_ARCH_POSITIONS, ref);
	for (int prefill = 0; prefill < 2; prefill++) {
		struct qvk_logit_cmp c;

		qvk_arch_gpu_logits(m, &opt, tokens, QVK_ARCH_POSITIONS, prefill,
				    gpu);
		c = qvk_logits_compare(gpu, ref, QVK_ARCH_POSITIONS, vocab);
		printf("%s %s %s vs reference: rel L2 max %.2e mean %.2e (bound "
		       "%.0e), top-1 %u/%u (need >= %u)\n", name,
		       f32 ? "F32" : "Q8_0", prefill ? "prefill" : "decode",
		       c.max_rel_l2, c.mean_rel_l2, bound, c.top1,
		       QVK_ARCH_POSITIONS, min_top1);
		fflush(stdout);
		ck_assert(c.max_rel_l2 <= bound);
		ck_assert_uint_ge(c.top1, min_top1);
	}
	free(ref);
	free(gpu);
	qvk_model_destroy(m);
	unlink(path);
}

START_TEST(test_presets_f32_match_reference)
{
	qvk_arch_check_preset(qvk_arch_presets[_i], QVK_GGML_TYPE_F32);
}
END_TEST

START_TEST(test_presets_q8_0_match_reference)
{
	qvk_arch_check_preset(qvk_arch_presets[_i], QVK_GGML_TYPE_Q8_0);
}
END_TEST

/* ------------------------------------------------- fused and factors */
/*
 * Phi-3's fused attn_qkv and gate|up hold the rows of q, k, v and gate,
 * up in order, and the generator draws them in that order either way: the
 * split model is the same model, so the reference's logits are equal bit
 * for bit (and so are the GPU's, same weights, same kernels).
 */
START_TEST(test_fused_views_equal_split)
{
	struct qvk_synth_spec split = *qvk_synth_preset("phi3");
	uint32_t tokens[8], vocab;
	char pf[600], ps[600], dir[512];
	struct qvk_model *fused, *apart;
	float *a, *b;

	split.fused = false;
	snprintf(ps, sizeof(ps), "%s/phi3-split-%d.gguf",
		 qvk_arch_dir(dir, sizeof(dir), "arch-tests"), (int)getpid());
	fused = qvk_arch_load(qvk_synth_preset("phi3"), QVK_GGML_TYPE_F16, pf,
			      sizeof(pf));
	if (!fused || !qvk_arch_synth(&split, QVK_GGML_TYPE_F16, ps))
		return;
	apart = qvk_test_model_load(ps);
	ck_assert(fused->fused_views && !apart->fused_views);
	vocab = fused->params.vocab_size;
	qvk_arch_prompt(tokens, 8, vocab);
	a = malloc(8ull * vocab * 4);
	b = malloc(8ull * vocab * 4);
	qvk_arch_ref_logits(fused, true, tokens, 8, a);
	qvk_arch_ref_logits(apart, true, tokens, 8, b);
	ck_assert_int_eq(memcmp(a, b, 8ull * vocab * 4), 0);
	ck_assert_str_eq(fused->layers[1].wk.name, "blk.1.attn_qkv.weight");
	ck_assert_ptr_eq(fused->layers[1].wk.data,
			 (const uint8_t *)fused->layers[1].wq.data +
				 fused->layers[1].wq.size_bytes);
	printf("phi3 fused attn_qkv, gate|up: reference logits of 8 positions "
	       "equal the split model's bit for bit\n");
	free(a);
	free(b);
	qvk_model_destroy(fused);
	qvk_model_destroy(apart);
	unlink(pf);
	unlink(ps);
}
END_TEST

/* rope.scaling.type "llama3" keys give the converter's rope_freqs factors. */
START_TEST(test_llama3_keys_equal_tensor)
{
	struct qvk_synth_spec keys = *qvk_synth_preset("llama3");
	float ft[64], fk[64];
	char pt[600], pk[600], dir[512];
	struct qvk_model *t, *k;
	uint32_t half, scaled = 0;

	keys.rope = QVK_SYNTH_ROPE_LLAMA3_KEYS;
	snprintf(pk, sizeof(pk), "%s/llama3-keys-%d.gguf",
		 qvk_arch_dir(dir, sizeof(dir), "arch-tests"), (int)getpid());
	t = qvk_arch_load(qvk_synth_preset("llama3"), QVK_GGML_TYPE_F32, pt,
			  sizeof(pt));
	if (!t || !qvk_arch_synth(&keys, QVK_GGML_TYPE_F32, pk))
		return;
	k = qvk_test_model_load(pk);
	half = qvk_model_rope_dims(&t->params) / 2;
	ck_assert_uint_le(half, 64);
	qvk_model_rope_freqs(t, 64, ft);
	qvk_model_rope_freqs(k, 64, fk);
	for (uint32_t i = 0; i < half; i++) {
		ck_assert_msg(fabsf(ft[i] - fk[i]) <= 1e-6f * ft[i],
			      "pair %u: tensor %.9g, keys %.9g", i, (double)ft[i],
			      (double)fk[i]);
		scaled += t->rope_factors[i] != 1.0f;
	}
	/* The preset's original context of 64 scales most pairs. */
	ck_assert_uint_ge(scaled, half / 2);
	printf("llama3 factors from keys equal rope_freqs.weight's on %u "
	       "pairs (%u scaled)\n", half, scaled);
	qvk_model_destroy(t);
	qvk_model_destroy(k);
	unlink(pt);
	unlink(pk);
}
END_TEST

/*
 * LongRoPE: short factors up to the original context, long ones past it;
 * the GPU with a cache past it matches the reference, which (seq_len past
 * it) uses the long ones too.
 */
START_TEST(test_longrope_long_factors)
{
	struct qvk_synth_spec sp = *qvk_synth_preset("phi3");
	struct qvk_llm_options opt = { .format = QVK_WEIGHTS_F32,
				       .max_batch = 8, .max_seq = 256,
				       .kv_f32 = true };
	float fs[64], fl[64], *ref, *gpu;
	uint32_t tokens[16], vocab;
	char path[600], dir[512];
	struct qvk_model *m;
	struct qvk_logit_cmp c;

	sp.rope_orig_ctx = 128;
	snprintf(path, sizeof(path), "%s/phi3-long-%d.gguf",
		 qvk_arch_dir(dir, sizeof(dir), "arch-tests"), (int)getpid());
	if (!qvk_arch_synth(&sp, QVK_GGML_TYPE_F32, path))
		return;
	m = qvk_test_model_load(path);
	ck_assert_ptr_nonnull(m->rope_factors_long);
	qvk_model_rope_freqs(m, 128, fs);
	qvk_model_rope_freqs(m, 129, fl);
	for (uint32_t i = 0; i < 32; i++) {
		float base = 1.0f / powf(10000.0f, (float)(2 * i) / 64.0f);

		ck_assert_float_eq(fs[i], base / m->rope_factors[i]);
		ck_assert_float_eq(fl[i], base / m->rope_factors_long[i]);
	}
	vocab = m->params.vocab_size;
	qvk_arch_prompt(tokens, 16, vocab);
	ref = malloc(16ull * vocab * 4);
	gpu = malloc(16ull * vocab * 4);
	qvk_arch_ref_logits(m, false, tokens, 16, ref);
	qvk_arch_gpu_logits(m, &opt, tokens, 16, true, gpu);
	c = qvk_logits_compare(gpu, ref, 16, vocab);
	printf("phi3 long factors (cache 256 > 128): rel L2 max %.2e (bound "
	       "1e-4), top-1 %u/16\n", c.max_rel_l2, c.top1);
	ck_assert(c.max_rel_l2 <= 1e-4);
	ck_assert_uint_eq(c.top1, 16);
	free(ref);
	free(gpu);
	qvk_model_destroy(m);
	unlink(path);
}
END_TEST

/* ------------------------------------------------------------ refusals */
/* Copy @src's metadata and tensors, let @edit change them, write @dst. */
typedef void (*qvk_arch_edit_fn)(struct qvk_gguf_writer *w,
				 const struct qvk_gguf *g);

static void qvk_arch_rewrite(const char *src, const char *dst,
			     const char *skip_tensor, qvk_arch_edit_fn edit)
{
	struct qvk_gguf *g;
	struct qvk_gguf_writer *w;

	ck_assert_int_eq(qvk_gguf_open(qvk_test_ctx, src, &g), QVK_OK);
	ck_assert_int_eq(qvk_gguf_writer_create(qvk_test_ctx, &w), QVK_OK);
	for (uint64_t i = 0; i < qvk_gguf_kv_count(g); i++)
		ck_assert_int_eq(qvk_gguf_writer_copy_kv(w, qvk_gguf_kv_at(g, i)),
				 QVK_OK);
	for (uint64_t i = 0; i < qvk_gguf_tensor_count(g); i++) {
		const struct qvk_host_tensor *t = qvk_gguf_tensor_at(g, i);

		if (!skip_tensor || strcmp(t->name, skip_tensor))
			ck_assert_int_eq(qvk_gguf_writer_add_tensor(w, t), QVK_OK);
	}
	if (edit)
		edit(w, g);
	ck_assert_int_eq(qvk_gguf_writer_write(w, dst), QVK_OK);
	qvk_gguf_writer_destroy(w);
	qvk_gguf_close(g);
}

static void qvk_edit_arch(struct qvk_gguf_writer *w, const struct qvk_gguf *g)
{
	(void)g;
	ck_assert_int_eq(qvk_gguf_writer_set_str(w, "general.architecture",
						 "gemma2"), QVK_OK);
}

static float qvk_extra_bias_[256];

static void qvk_edit_extra_tensor(struct qvk_gguf_writer *w,
				  const struct qvk_gguf *g)
{
	struct qvk_host_tensor t = {
		.name = "blk.0.attn_norm.bias", .type = QVK_GGML_TYPE_F32,
		.n_dims = 1, .ne = { 256, 1, 1, 1 }, .data = qvk_extra_bias_,
		.size_bytes = sizeof(qvk_extra_bias_),
	};

	(void)g;
	ck_assert_int_eq(qvk_gguf_writer_add_tensor(w, &t), QVK_OK);
}

static void qvk_edit_yarn(struct qvk_gguf_writer *w, const struct qvk_gguf *g)
{
	(void)g;
	ck_assert_int_eq(qvk_gguf_writer_set_str(w, "qwen2.rope.scaling.type",
						 "yarn"), QVK_OK);
}

static void qvk_edit_rope_dims(struct qvk_gguf_writer *w, const struct qvk_gguf *g)
{
	(void)g;
	ck_assert_int_eq(qvk_gguf_writer_set_u32(w, "qwen2.rope.dimension_count",
						 65), QVK_OK);
}

static float qvk_zero_factors_[32];

static void qvk_edit_zero_factor(struct qvk_gguf_writer *w,
				 const struct qvk_gguf *g)
{
	struct qvk_host_tensor t = {
		.name = "rope_freqs.weight", .type = QVK_GGML_TYPE_F32,
		.n_dims = 1, .ne = { 32, 1, 1, 1 }, .data = qvk_zero_factors_,
		.size_bytes = sizeof(qvk_zero_factors_),
	};

	(void)g;
	for (int i = 0; i < 32; i++)
		qvk_zero_factors_[i] = i == 5 ? 0.0f : 2.0f;
	ck_assert_int_eq(qvk_gguf_writer_add_tensor(w, &t), QVK_OK);
}

/* Load @path: refused with @want, the message naming @needle (and @needle2). */
static void qvk_arch_refused(const char *path, qvk_status want,
			     const char *needle, const char *needle2)
{
	struct qvk_model *m = (struct qvk_model *)1;
	qvk_status st = qvk_model_load(qvk_test_ctx, path, &m);
	const char *msg = qvk_ctx_message(qvk_test_ctx);

	printf("  refused (%s): %s\n", qvk_strerror(st), msg);
	ck_assert_int_eq(st, want);
	ck_assert_ptr_null(m);
	ck_assert_msg(strstr(msg, needle), "message lacks '%s'", needle);
	ck_assert_msg(!needle2 || strstr(msg, needle2), "message lacks '%s'",
		      needle2);
}

START_TEST(test_bad_files_refused_by_name)
{
	char src[600], dst[600], dir[512];
	struct qvk_model *m;
	struct qvk_gguf_writer *w;

	m = qvk_arch_load(qvk_synth_preset("qwen2"), QVK_GGML_TYPE_F32, src,
			  sizeof(src));
	if (!m)
		return;
	snprintf(dst, sizeof(dst), "%s/bad-%d.gguf",
		 qvk_arch_dir(dir, sizeof(dir), "arch-tests"), (int)getpid());
	/* An architecture qvk does not run: named, with the ones it runs. */
	qvk_arch_rewrite(src, dst, NULL, qvk_edit_arch);
	qvk_arch_refused(dst, QVK_ERR_UNSUPPORTED, "'gemma2'",
			 "llama, qwen2, qwen3, phi3");
	/* A tensor the architecture does not use: named. */
	qvk_arch_rewrite(src, dst, NULL, qvk_edit_extra_tensor);
	qvk_arch_refused(dst, QVK_ERR_UNSUPPORTED, "blk.0.attn_norm.bias", "qwen2");
	/* A missing one: named. */
	qvk_arch_rewrite(src, dst, "blk.1.attn_v.weight", NULL);
	qvk_arch_refused(dst, QVK_ERR_FORMAT, "blk.1.attn_v.weight", "missing");
	/* YaRN scaling, odd rotated dims. */
	qvk_arch_rewrite(src, dst, NULL, qvk_edit_yarn);
	qvk_arch_refused(dst, QVK_ERR_UNSUPPORTED, "'yarn'", "longrope");
	qvk_arch_rewrite(src, dst, NULL, qvk_edit_rope_dims);
	qvk_arch_refused(dst, QVK_ERR_UNSUPPORTED, "rope dims 65", NULL);
	/* A RoPE factor of 0 would divide by zero: named with its index. */
	qvk_arch_rewrite(src, dst, NULL, qvk_edit_zero_factor);
	qvk_arch_refused(dst, QVK_ERR_FORMAT, "rope_freqs.weight[5]", NULL);
	/* qvk writes llama models only: a qwen2 one is refused, not mangled. */
	ck_assert_int_eq(qvk_gguf_writer_create(qvk_test_ctx, &w), QVK_OK);
	ck_assert_int_eq(qvk_model_to_gguf(m, w), QVK_ERR_UNSUPPORTED);
	printf("  export refused: %s\n", qvk_ctx_message(qvk_test_ctx));
	ck_assert_ptr_nonnull(strstr(qvk_ctx_message(qvk_test_ctx), "qwen2"));
	qvk_gguf_writer_destroy(w);
	qvk_model_destroy(m);
	unlink(src);
	unlink(dst);
}
END_TEST

/* Qwen3 without its q/k norms is not Qwen3: refused. */
START_TEST(test_qwen3_needs_qk_norm)
{
	char src[600], dst[600], dir[512];
	struct qvk_model *m = qvk_arch_load(qvk_synth_preset("qwen3"),
					    QVK_GGML_TYPE_F32, src, sizeof(src));

	if (!m)
		return;
	qvk_model_destroy(m);
	snprintf(dst, sizeof(dst), "%s/qwen3-nonorm-%d.gguf",
		 qvk_arch_dir(dir, sizeof(dir), "arch-tests"), (int)getpid());
	qvk_arch_rewrite(src, dst, "blk.0.attn_k_norm.weight", NULL);
	qvk_arch_refused(dst, QVK_ERR_FORMAT, "blk.0.attn_k_norm.weight",
			 "missing");
	unlink(src);
	unlink(dst);
}
END_TEST

/* A Llama 3 model (rope_freqs) round-trips through qvk's GGUF export. */
START_TEST(test_llama3_export_keeps_factors)
{
	char src[600], dst[600], dir[512];
	struct qvk_model *a = qvk_arch_load(qvk_synth_preset("llama3"),
					    QVK_GGML_TYPE_F32, src, sizeof(src));
	struct qvk_gguf_writer *w;
	struct qvk_model *b;
	uint32_t half;

	if (!a)
		return;
	snprintf(dst, sizeof(dst), "%s/llama3-export-%d.gguf",
		 qvk_arch_dir(dir, sizeof(dir), "arch-tests"), (int)getpid());
	ck_assert_int_eq(qvk_gguf_writer_create(qvk_test_ctx, &w), QVK_OK);
	ck_assert_int_eq(qvk_model_to_gguf(a, w), QVK_OK);
	ck_assert_int_eq(qvk_gguf_writer_write(w, dst), QVK_OK);
	qvk_gguf_writer_destroy(w);
	b = qvk_test_model_load(dst);
	half = qvk_model_rope_dims(&a->params) / 2;
	ck_assert_ptr_nonnull(b->rope_factors);
	ck_assert_int_eq(memcmp(a->rope_factors, b->rope_factors, half * 4), 0);
	ck_assert(b->params.rope_theta == a->params.rope_theta);
	qvk_model_destroy(a);
	qvk_model_destroy(b);
	unlink(src);
	unlink(dst);
}
END_TEST

Suite *suite_arch(void);
Suite *suite_arch(void)
{
	Suite *s = suite_create("arch");
	TCase *tc = tcase_create("model");

	tcase_add_checked_fixture(tc, qvk_test_ctx_setup, qvk_test_ctx_teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_hparams_from_keys);
	tcase_add_test(tc, test_fused_views_equal_split);
	tcase_add_test(tc, test_llama3_keys_equal_tensor);
	tcase_add_test(tc, test_bad_files_refused_by_name);
	tcase_add_test(tc, test_qwen3_needs_qk_norm);
	tcase_add_test(tc, test_llama3_export_keeps_factors);
	suite_add_tcase(s, tc);
	tc = tcase_create("forward");
	tcase_add_checked_fixture(tc, qvk_test_gpu_setup, qvk_test_gpu_teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_loop_test(tc, test_presets_f32_match_reference, 0,
			    QVK_ARRAY_SIZE(qvk_arch_presets));
	tcase_add_loop_test(tc, test_presets_q8_0_match_reference, 0,
			    QVK_ARRAY_SIZE(qvk_arch_presets));
	tcase_add_test(tc, test_longrope_long_factors);
	suite_add_tcase(s, tc);
	return s;
}
