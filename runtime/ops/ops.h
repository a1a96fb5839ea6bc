/* SPDX-License-Identifier: MIT */
/*
 * libqvk private header for runtime/ops/: every non-matmul op of a Llama
 * block as a compute kernel, and the scalar C references they are tested
 * against.
 *
 * Use: qvk_ops_init() once per device creates every pipeline (work sizes
 * from the device's subgroup size and limits, as specialization
 * constants). Then per op and per set of buffers, a qvk_ops_*_bind() call
 * writes one descriptor set and fills a struct qvk_op (pipeline, set, push
 * constants, grid); qvk_op_record() records it into a command buffer as
 * often as wanted. Nothing is created while recording.
 *
 * Per-token values live in the STEP BUFFER, never in push constants:
 * decode replays one pre-recorded command buffer per token, and push
 * constants are frozen when recorded. The host writes struct qvk_ops_step
 * (qvk_ops_step_write) before each submit: the position of the step's first
 * token and the token ids. Model sizes (dim, heads, eps, theta, max_seq)
 * and the step's token count m are fixed at bind time.
 *
 * Layouts (fp32 unless said; m = tokens of the step, rows contiguous):
 *   x, residual stream      (m, dim)
 *   q, attention out        (m, n_heads, head_dim)
 *   k, v                    (m, n_kv_heads, head_dim)
 *   gate, up                (m, hidden), row stride x_stride floats
 *   int8 activations        runtime/ops/act_layout.h
 *   KV cache of one layer   K and V each [n_kv_heads][max_seq][head_dim]
 *                           fp16 (binary16, two per uint32, lower half
 *                           first), or fp32 with kv_f32: attention streams one head's keys and
 *                           values contiguously. Bytes per layer and
 *                           tensor: qvk_ops_kv_layer_bytes().
 *   embedding table         (n_vocab, dim) fp32 or fp16, in <= 8 pieces
 *                           of whole rows
 *
 * One layer, in recording order (each qvk_op_record ends with the barrier
 * the next op needs; MM = the lead's matmuls, which read the int8
 * activations of act_layout.h):
 *   rmsnorm_q8(x, attn_norm) -> act     MM q, k, v <- act
 *   rope(q, k)                          k must be rotated before it is cached
 *   kv_write(k, v -> layer's cache)     every position attention reads
 *   attention(q, cache) -> att          decode (m = 1) and prefill alike
 *   act_quant(att) -> act               MM x += wo · act (residual epilogue,
 *                                       or residual_add)
 *   rmsnorm_q8(x, ffn_norm) -> act      MM gate, up <- act
 *   swiglu_q8(gate, up) -> act          MM x += w2 · act
 * then rmsnorm(x, output_norm), the classifier, and argmax for greedy.
 *
 * Kernels by device: decode attention runs attention.comp on GPUs; on CPU
 * devices (lavapipe), where every lane-varying memory access costs one
 * operation per lane, attention_decode.comp passes data between lanes
 * with subgroup shuffles instead. Decode may split the KV length over
 * more workgroups (split-KV, attn_split.c) and prefill (m > 1) runs
 * attention.comp, attention_prefill.comp (shuffles) or the tiled
 * attention_prefill_tiled.comp (attn_prefill.c), as this device measured
 * fastest (attn_tune.c). Row ops take vec4
 * paths when sizes are multiples of 4.
 *
 * Threads: recording only reads struct qvk_ops and struct qvk_op; binding
 * allocates descriptor sets and may create a CPU or split attention
 * pipeline, so bind from one thread at a time.
 */
#ifndef QVK_RUNTIME_OPS_H
#define QVK_RUNTIME_OPS_H

#include "vk/vk.h"
#include "act_layout.h"

/* ------------------------------------------------------------- step */
/* std430 image of the step buffer; MUST AGREE with shaders/include/ops_step.glsl. */
struct qvk_ops_step {
	uint32_t pos;         /* position of the step's first token (p0) */
	uint32_t reserved[3]; /* zero */
	uint32_t tokens[];    /* m token ids */
};
#define QVK_OPS_STEP_BYTES(m) (16u + 4u * (uint64_t)(m))

/*
 * Write pos and @m token ids (NULL: leave the ids) into the host-visible
 * step buffer, refusing a position range past @max_seq and ids >= @n_vocab.
 */
qvk_status qvk_ops_step_write(struct qvk_buffer *step, uint32_t pos,
			      const uint32_t *tokens, uint32_t m,
			      uint32_t max_seq, uint32_t n_vocab);

/* ------------------------------------------------------------ model */
enum qvk_rope_mode {
	QVK_ROPE_INTERLEAVED = 0, /* pairs (2i, 2i+1): llama2.c, llama.cpp normal */
	QVK_ROPE_NEOX = 1,        /* pairs (i, i + head_dim/2) */
};

/* The sizes the ops need; fixed per model. */
struct qvk_ops_model {
	uint32_t dim;        /* residual width */
	uint32_t hidden_dim; /* feed-forward width */
	uint32_t n_heads, n_kv_heads, head_dim; /* head_dim % 8 == 0, <= QVK_OPS_MAX_HEAD_DIM */
	uint32_t max_seq;    /* positions in the KV cache */
	uint32_t n_vocab;
	float norm_eps;      /* RMSNorm epsilon */
	float rope_theta;    /* 10000 for Llama 2 */
	enum qvk_rope_mode rope_mode;
	/*
	 * Rotated dimensions of each head (GGUF rope.dimension_count): even,
	 * <= head_dim, the rest pass unrotated (partial rotary); 0: head_dim.
	 */
	uint32_t rope_dims;
	/*
	 * Angle per position of each of the rope_dims/2 pairs (the model's
	 * frequencies with its scaling and Llama 3 / LongRoPE factors,
	 * qvk_model_rope_freqs()); NULL: theta^(-2i/rope_dims). Read at bind.
	 */
	const float *rope_freqs;
	/* cos and sin multiplier (LongRoPE's attention factor); 0: 1. */
	float rope_mscale;
	/*
	 * KV cache in fp32 instead of fp16: twice the memory, and no rounding
	 * of k and v, so a fp32 forward pass can be compared with an fp32 C
	 * reference to 1e-4 (fp16 rounding flips of 1-ulp differences alone
	 * move logits by ~5e-4).
	 */
	bool kv_f32;
};

#define QVK_OPS_MAX_HEAD_DIM 256u
/*
 * Attention kernels handle 1, 2, 4 or 8 query heads per pass over a kv
 * head's cache (spec constant GMAX): the largest that divides the model's
 * n_heads / n_kv_heads is bound, so grouped-query models read each key and
 * value once per GMAX heads and no kernel runs idle head slots (a CPU
 * device executes masked-off code anyway).
 */
#define QVK_OPS_ATTN_VARIANTS 4u
#define QVK_OPS_EMBED_PIECES 8u

/* Check the sizes: heads divide, head_dim a multiple of 8 in range, nothing zero. */
qvk_status qvk_ops_model_check(struct qvk_ctx *ctx,
			       const struct qvk_ops_model *mdl);

/* Bytes of K (and of V) of one layer: n_kv_heads * max_seq * head_dim * 2. */
uint64_t qvk_ops_kv_layer_bytes(const struct qvk_ops_model *mdl);

/* ------------------------------------------------------------ kernels */
/* Prefill attention kernels (attn_prefill.c); the values are stored. */
enum qvk_attn_prefill {
	QVK_ATTN_PREFILL_ONEPASS = 0,  /* attention.comp: cache read per token */
	QVK_ATTN_PREFILL_SUBGROUP = 1, /* attention_prefill.comp */
	QVK_ATTN_PREFILL_TILED = 2,    /* attention_prefill_tiled.comp */
	QVK_ATTN_PREFILL_TILED_SMALL = 3, /* the same, smaller tiles */
	QVK_ATTN_PREFILL_KINDS
};

struct qvk_ops {
	struct qvk_device *dev;
	uint32_t wg_row;   /* invocations per row/head workgroup */
	uint32_t wg_flat;  /* invocations per elementwise workgroup */
	uint32_t wg_attn;  /* invocations per attention (kv head, token) */
	/* Positions per attention round (shared memory), per GMAX variant. */
	uint32_t attn_chunk[QVK_OPS_ATTN_VARIANTS];
	uint32_t grid_x_max; /* workgroups along x before folding into y */
	struct qvk_pipeline *embed_f32, *embed_f16;
	/* [0] scalar, [1] vec4 accesses (sizes % 4 == 0, 16-byte offsets) */
	struct qvk_pipeline *rmsnorm[2], *swiglu[2];
	/* int8 producers: [per 32-block scales][vec4] */
	struct qvk_pipeline *rmsnorm_q8[2][2], *act_quant[2][2], *swiglu_q8[2][2];
	struct qvk_pipeline *rope, *rope_neox, *kv_write, *bias_add;
	struct qvk_pipeline *attention[QVK_OPS_ATTN_VARIANTS]; /* GMAX 1, 2, 4, 8 */
	/*
	 * CPU-device attention (cpu_attention: CPU devices with subgroup
	 * shuffles), created by the first bind that needs each: prefill
	 * (m > 1, invocations on tokens) per head_dim / 8, and decode
	 * (subgroup flash-decoding) per head_dim / 8 and GMAX variant.
	 */
	struct qvk_pipeline *attention_prefill[QVK_OPS_MAX_HEAD_DIM / 8 + 1];
	struct qvk_pipeline *attention_decode[QVK_OPS_MAX_HEAD_DIM / 8 + 1]
					     [QVK_OPS_ATTN_VARIANTS];
	bool cpu_attention;
	/*
	 * Split-KV decode (attn_split.c): the one-pass kernels with SPLIT set
	 * (GPU kernel per GMAX variant, CPU kernel per head_dim / 8 and
	 * variant) and the combine, created on first use.
	 */
	struct qvk_pipeline *attention_split[QVK_OPS_ATTN_VARIANTS];
	struct qvk_pipeline *attention_decode_split[QVK_OPS_MAX_HEAD_DIM / 8 + 1]
						   [QVK_OPS_ATTN_VARIANTS];
	struct qvk_pipeline *attention_combine;
	/*
	 * Prefill (m > 1) kernel (attn_prefill.c): measured per device by
	 * qvk_ops_attn_tune() unless forced (QVK_ATTN_PREFILL, options);
	 * subgroup_prefill: attention_prefill.comp can run here. Tiled
	 * pipelines per head_dim / 8, GMAX variant and tile size.
	 */
	enum qvk_attn_prefill attn_prefill;
	bool attn_prefill_forced, subgroup_prefill;
	struct qvk_pipeline *attention_tiled[QVK_OPS_MAX_HEAD_DIM / 8 + 1]
					    [QVK_OPS_ATTN_VARIANTS][2];
	/* Positions per split at least: a multiple of the kernel's tile. */
	uint32_t attn_split_min;
	/*
	 * Pass-1 workgroups the split is sized to (n_kv_heads * m * splits
	 * >= this), measured per device by qvk_ops_attn_tune(); 0: decode
	 * runs the one-pass kernel.
	 */
	uint32_t attn_split_wgs;
	struct qvk_pipeline *residual_add, *argmax;
};

/* Push constants of every op kernel fit in this many bytes. */
#define QVK_OPS_PUSH_BYTES 32u

/* One bound dispatch: what qvk_op_record needs, nothing more. */
struct qvk_op {
	const struct qvk_pipeline *pipe;
	VkDescriptorSet set;
	uint32_t push[QVK_OPS_PUSH_BYTES / 4];
	uint32_t groups[3];
	struct qvk_buffer *owned; /* RoPE's frequency table; freed by finish */
};

qvk_status qvk_ops_init(struct qvk_device *dev, struct qvk_ops *ops);
/*
 * Work sizes by hand; 0 keeps the device's choice. Any size up to the
 * device's limits is correct (reductions use gl_NumSubgroups); the tests
 * use GPU-like sizes on lavapipe to run the multi-subgroup paths too.
 */
struct qvk_ops_options {
	uint32_t wg_row, wg_flat, wg_attn;
	uint32_t grid_x_max; /* fold flat grids into y past this (tests) */
	bool no_cpu_attention; /* attention.comp only, as on GPUs */
	/*
	 * Prefill kernel, forced (over QVK_ATTN_PREFILL and tuning): 0 keeps
	 * the device's, else enum qvk_attn_prefill + 1.
	 */
	uint32_t attn_prefill;
};
qvk_status qvk_ops_init_opts(struct qvk_device *dev,
			     const struct qvk_ops_options *opt,
			     struct qvk_ops *ops);
void qvk_ops_finish(struct qvk_ops *ops);
/* Free what a bound op owns (the set stays in the device's pool). */
void qvk_op_finish(struct qvk_op *op);

/*
 * Record a successfully bound @op: the dispatch, then a compute-to-compute
 * barrier (the only kind a forward pass needs): every op's output
 * is the next op's input in a Llama block (norm -> matmul -> rope -> cache
 * -> attention -> ...), and the barrier also makes the last op's results
 * visible to the host after the fence.
 */
void qvk_op_record(struct qvk_cmd *cmd, const struct qvk_op *op);
/* The dispatch alone, for ops the caller knows to be independent. */
void qvk_op_record_nobarrier(struct qvk_cmd *cmd, const struct qvk_op *op);

/* A binding of a whole (single-piece) buffer. */
struct qvk_binding qvk_ops_whole(const struct qvk_buffer *buf);
/* The binding of layer @layer's K or V in a cache buffer of n_layers layers. */
qvk_status qvk_ops_kv_layer_binding(struct qvk_ctx *ctx,
				    const struct qvk_buffer *cache,
				    const struct qvk_ops_model *mdl,
				    uint32_t layer, struct qvk_binding *out);

/*
 * int8 activation buffers (act_layout.h) for one bind; @per_block: one
 * scale per 32-block in sa (m, Kp/32), as llama.cpp's Q8_0 activations,
 * else one per token (ZeroQuant).
 */
struct qvk_ops_act {
	struct qvk_binding qa, sa, suma;
	bool per_block;
};

/*
 * Binds. @m is the step's token count (grid size, fixed at bind time).
 * Every binding is checked to hold what the kernel touches.
 */
/* out (m, dim) = table[step.tokens[r]]; @table's pieces hold whole rows. */
qvk_status qvk_ops_embed_bind(struct qvk_ops *ops, struct qvk_op *op,
			      const struct qvk_ops_model *mdl, uint32_t m,
			      bool f16, const struct qvk_binding *step,
			      const struct qvk_buffer *table,
			      const struct qvk_binding *out);
/* out (m, dim) = rmsnorm(x) * w; out may be x. */
qvk_status qvk_ops_rmsnorm_bind(struct qvk_ops *ops, struct qvk_op *op,
				const struct qvk_ops_model *mdl, uint32_t m,
				const struct qvk_binding *x,
				const struct qvk_binding *w,
				const struct qvk_binding *out);
/*
 * Per-head RMSNorm in place (Qwen3's q_norm/k_norm): each of the
 * m * n_heads rows of head_dim floats of x becomes rmsnorm(row) * w, w of
 * head_dim floats; the rmsnorm kernel with rows of head_dim.
 */
qvk_status qvk_ops_head_rmsnorm_bind(struct qvk_ops *ops, struct qvk_op *op,
				     const struct qvk_ops_model *mdl, uint32_t m,
				     uint32_t n_heads,
				     const struct qvk_binding *x,
				     const struct qvk_binding *w);
/* act (m, dim) = int8(rmsnorm(x) * w). */
qvk_status qvk_ops_rmsnorm_q8_bind(struct qvk_ops *ops, struct qvk_op *op,
				   const struct qvk_ops_model *mdl, uint32_t m,
				   const struct qvk_binding *x,
				   const struct qvk_binding *w,
				   const struct qvk_ops_act *act);
/* act (m, k) = int8(x), x rows x_stride floats apart (>= k). */
qvk_status qvk_ops_act_quant_bind(struct qvk_ops *ops, struct qvk_op *op,
				  uint32_t k, uint32_t m, uint32_t x_stride,
				  const struct qvk_binding *x,
				  const struct qvk_ops_act *act);
/*
 * RoPE in place on q and k at positions step.pos + r: the first rope_dims
 * of each head, pairs as rope_mode says, by pos * rope_freqs[i], cos and
 * sin times rope_mscale. Owns its frequency table.
 */
qvk_status qvk_ops_rope_bind(struct qvk_ops *ops, struct qvk_op *op,
			     const struct qvk_ops_model *mdl, uint32_t m,
			     const struct qvk_binding *step,
			     const struct qvk_binding *q,
			     const struct qvk_binding *k);
/* The attention variant (log2 GMAX) bound for @mdl. */
uint32_t qvk_ops_attention_variant(const struct qvk_ops_model *mdl);
/* Cache (one layer) [.][step.pos + r][.] = fp16(k), fp16(v). */
qvk_status qvk_ops_kv_write_bind(struct qvk_ops *ops, struct qvk_op *op,
				 const struct qvk_ops_model *mdl, uint32_t m,
				 const struct qvk_binding *step,
				 const struct qvk_binding *k,
				 const struct qvk_binding *v,
				 const struct qvk_binding *k_cache,
				 const struct qvk_binding *v_cache);
/* out (m, n_heads, head_dim) = causal GQA of q over one layer's cache. */
qvk_status qvk_ops_attention_bind(struct qvk_ops *ops, struct qvk_op *op,
				  const struct qvk_ops_model *mdl, uint32_t m,
				  const struct qvk_binding *step,
				  const struct qvk_binding *q,
				  const struct qvk_binding *k_cache,
				  const struct qvk_binding *v_cache,
				  const struct qvk_binding *out);
/* out (m, hidden) = silu(gate) * up; rows of gate/up x_stride apart. */
qvk_status qvk_ops_swiglu_bind(struct qvk_ops *ops, struct qvk_op *op,
			       const struct qvk_ops_model *mdl, uint32_t m,
			       uint32_t x_stride,
			       const struct qvk_binding *gate,
			       const struct qvk_binding *up,
			       const struct qvk_binding *out);
/* act (m, hidden) = int8(silu(gate) * up). */
qvk_status qvk_ops_swiglu_q8_bind(struct qvk_ops *ops, struct qvk_op *op,
				  const struct qvk_ops_model *mdl, uint32_t m,
				  uint32_t x_stride,
				  const struct qvk_binding *gate,
				  const struct qvk_binding *up,
				  const struct qvk_ops_act *act);
/* y (m, n) += b (n) in every row: the biases of linear layers (Qwen2's q/k/v). */
qvk_status qvk_ops_bias_add_bind(struct qvk_ops *ops, struct qvk_op *op,
				 uint32_t n, uint32_t m,
				 const struct qvk_binding *y,
				 const struct qvk_binding *b);
/* x (n) += y (n). */
qvk_status qvk_ops_residual_add_bind(struct qvk_ops *ops, struct qvk_op *op,
				     uint32_t n, const struct qvk_binding *x,
				     const struct qvk_binding *y);

/*
 * Split-KV decode attention (flash-decoding; shaders/include/attn_split.glsl):
 * pass 1 runs the one-pass kernel on n_kv_heads x m x @splits workgroups,
 * each over one split of the positions, writing partials (@part, of
 * qvk_ops_attention_split_bytes()); pass 2 (attention_combine.comp)
 * merges them into @out. ops[0] and ops[1] are recorded in order, each
 * with its barrier. @splits >= 2, at most QVK_OPS_ATTN_MAX_SPLITS;
 * @split_min (positions per split at least) a non-zero multiple of
 * qvk_ops_attn_split_tile(). Same inputs, outputs and tolerance as
 * qvk_ops_attention_bind().
 */
#define QVK_OPS_ATTN_MAX_SPLITS 64u
#define QVK_OPS_ATTN_SPLIT_MIN 64u /* positions; see qvk_ops_init_opts */
qvk_status qvk_ops_attention_split_bind(struct qvk_ops *ops, struct qvk_op op[2],
					const struct qvk_ops_model *mdl,
					uint32_t m, uint32_t splits,
					uint32_t split_min,
					const struct qvk_binding *step,
					const struct qvk_binding *q,
					const struct qvk_binding *k_cache,
					const struct qvk_binding *v_cache,
					const struct qvk_binding *part,
					const struct qvk_binding *out);
/* Bytes of the partials of @m tokens in @splits splits. */
uint64_t qvk_ops_attention_split_bytes(const struct qvk_ops_model *mdl,
				       uint32_t m, uint32_t splits);
/* Positions of the kernels' tile: split lengths are multiples of it. */
uint32_t qvk_ops_attn_split_tile(const struct qvk_ops *ops);
/*
 * The splits decode of @m tokens of @mdl uses on this device: enough for
 * ops->attn_split_wgs pass-1 workgroups, within the limits; 0 or 1: the
 * one-pass kernel.
 */
uint32_t qvk_ops_attention_splits(const struct qvk_ops *ops,
				  const struct qvk_ops_model *mdl, uint32_t m);
/* Positions per split for a token attending @n: attn_split.glsl's rule. */
static inline uint32_t qvk_ops_attn_split_len(uint32_t n, uint32_t splits,
					      uint32_t split_min)
{
	uint32_t per = splits * split_min;

	return split_min * ((n + per - 1) / per);
}
/*
 * attn_rig.c: a synthetic attention problem (random q of up to max_m
 * tokens, fp16 cache of random keys and values, n_heads/n_kv_heads heads
 * of head_dim, max_seq positions) on the device, for tuning and benchmarks.
 */
struct qvk_attn_rig {
	struct qvk_ops *ops;
	struct qvk_ops_model mdl;
	uint32_t max_splits, max_m;
	uint32_t want_m, want_n;      /* what want holds (0: nothing) */
	uint16_t *kc, *vc;            /* host copies of the cache */
	float *q, *want, *got, *att;  /* (max_m, n_heads, head_dim); att max_seq */
	struct qvk_buffer *step, *qb, *kcb, *vcb, *ob, *pb;
	struct qvk_cmd cmd;
};
qvk_status qvk_attn_rig_init(struct qvk_ops *ops, uint32_t n_heads,
			     uint32_t n_kv_heads, uint32_t head_dim,
			     uint32_t max_seq, uint32_t max_m,
			     uint32_t max_splits, struct qvk_attn_rig *r);
void qvk_attn_rig_finish(struct qvk_attn_rig *r);
/* Decode: the one-pass kernel (@splits 0: op[1] stays empty) or the split pair. */
qvk_status qvk_attn_rig_bind(struct qvk_attn_rig *r, uint32_t splits,
			     struct qvk_op op[2]);
/* Prefill of @m tokens (2..max_m) with @kind (op[1] stays empty). */
qvk_status qvk_attn_rig_bind_prefill(struct qvk_attn_rig *r,
				     enum qvk_attn_prefill kind, uint32_t m,
				     struct qvk_op op[2]);
/*
 * Run @op once for @m tokens (what it was bound for) of which the last
 * attends @n positions; *ok: every output within 2e-5 + 1e-4 |ref| of the
 * C reference (NaN fails), *worst: the largest absolute error.
 */
qvk_status qvk_attn_rig_check(struct qvk_attn_rig *r, const struct qvk_op op[2],
			      uint32_t m, uint32_t n, double *worst, bool *ok);
/* Milliseconds per call of @calls back-to-back calls, as rig_check. */
qvk_status qvk_attn_rig_time(struct qvk_attn_rig *r, const struct qvk_op op[2],
			     uint32_t m, uint32_t n, uint32_t calls, double *ms);

/*
 * Choose ops->attn_split_wgs on this device from measured timings of the
 * one-pass and split kernels (attn_tune.c), each split candidate first
 * checked against the C reference; kept in the device and in a file beside
 * the pipeline cache. Never fails: any problem is logged and the one-pass
 * kernel stays.
 */
void qvk_ops_attn_tune(struct qvk_ops *ops);
/* What decode attention runs on this device and why, for qvk info. */
void qvk_ops_attn_describe(const struct qvk_ops *ops, char *buf, size_t len);

/*
 * Prefill attention with @kind (attn_prefill.c); a kind that does not
 * apply to @mdl here (tiles that do not fit, no subgroup shuffles, q or
 * out not 16-byte aligned) runs attention.comp. Same contract as
 * qvk_ops_attention_bind().
 */
qvk_status qvk_ops_attention_prefill_bind(struct qvk_ops *ops,
					  struct qvk_op *op,
					  const struct qvk_ops_model *mdl,
					  uint32_t m, enum qvk_attn_prefill kind,
					  const struct qvk_binding *step,
					  const struct qvk_binding *q,
					  const struct qvk_binding *k_cache,
					  const struct qvk_binding *v_cache,
					  const struct qvk_binding *out);
void qvk_ops_attention_prefill_finish(struct qvk_ops *ops);
/* The tiled kernel's tiles for @mdl: WG = br * gq * tpr invocations. */
struct qvk_attn_tile {
	uint32_t wg, br, gq, bc, tpr; /* tokens, heads, positions, lanes/row */
};
/* False: @kind is not tiled, or no tile fits this device's limits. */
bool qvk_ops_attn_tile(const struct qvk_ops *ops,
		       const struct qvk_ops_model *mdl,
		       enum qvk_attn_prefill kind, struct qvk_attn_tile *t);
/* Whether @kind has a kernel of its own for @mdl here (not the fallback). */
bool qvk_ops_attn_prefill_runs(const struct qvk_ops *ops,
				const struct qvk_ops_model *mdl,
				enum qvk_attn_prefill kind);
const char *qvk_attn_prefill_name(enum qvk_attn_prefill kind);
bool qvk_attn_prefill_parse(const char *name, enum qvk_attn_prefill *kind);

/* The CPU-device attention pipeline for @mdl and @m, created on first use. */
qvk_status qvk_ops_cpu_attention_pipeline(struct qvk_ops *ops,
					  const struct qvk_ops_model *mdl,
					  uint32_t m, struct qvk_pipeline **out);
/*
 * tokens (m) uint32 = first index of the largest of each row of logits
 * (m, n); NaN never wins, a row without numbers gives 0. Greedy decode
 * then reads back 4 bytes per token.
 */
qvk_status qvk_ops_argmax_bind(struct qvk_ops *ops, struct qvk_op *op,
			       uint32_t n, uint32_t m,
			       const struct qvk_binding *logits,
			       const struct qvk_binding *tokens);

/* Shared by the bind functions (ops_bind.c, attn_split.c). */
#define QVK_OPS_CHECK(expr)                 \
	do {                                \
		qvk_status st_ = (expr);    \
		if (st_ != QVK_OK)          \
			return st_;         \
	} while (0)

qvk_status qvk_ops_check_binding(struct qvk_ctx *ctx, const char *what,
				 const struct qvk_binding *b,
				 uint64_t need_bytes);
/* attention's checks and push constants (no pipeline, no set yet). */
qvk_status qvk_ops_attention_prepare(struct qvk_ops *ops, struct qvk_op *op,
				     const struct qvk_ops_model *mdl, uint32_t m,
				     const struct qvk_binding *step,
				     const struct qvk_binding *q,
				     const struct qvk_binding *k_cache,
				     const struct qvk_binding *v_cache,
				     const struct qvk_binding *out);
qvk_status qvk_ops_bind_set(struct qvk_ops *ops, struct qvk_op *op,
			    struct qvk_pipeline *pipe,
			    const struct qvk_binding *bindings);

/* --------------------------------------------- scalar C references */
/* fp16 (binary16) conversion, round to nearest even; and back. */
uint16_t qvk_ref_f32_to_f16(float f);
float qvk_ref_f16_to_f32(uint16_t h);

void qvk_ref_rmsnorm(const float *x, const float *w, uint32_t dim,
		     uint32_t m, float eps, float *out);
/*
 * The act_layout.h quantizer for m rows of k (x rows x_stride apart); sa
 * (m) or with @per_block (m, Kp/32).
 */
void qvk_ref_act_quant(const float *x, uint32_t k, uint32_t m,
		       uint32_t x_stride, bool per_block, uint32_t *qa,
		       float *sa, int32_t *suma);
/* theta^(-2i/n_dims) for i < n_dims/2, as llama2.c computes it. */
void qvk_ref_rope_freqs(float theta, uint32_t n_dims, float *freq);
/* The rotated dims, frequencies and multiplier that @mdl's RoPE uses. */
uint32_t qvk_ops_rope_dims(const struct qvk_ops_model *mdl);
void qvk_ops_rope_table(const struct qvk_ops_model *mdl, float *freq);
float qvk_ops_rope_mscale(const struct qvk_ops_model *mdl);
/* RoPE in place as qvk_ops_rope_bind; vec (m, n_heads, head_dim), token r at pos + r. */
void qvk_ref_rope(const struct qvk_ops_model *mdl, float *vec, uint32_t m,
		  uint32_t n_heads, uint32_t pos);
/* Per-head RMSNorm in place: rows (rows, head_dim), w (head_dim). */
void qvk_ref_head_rmsnorm(float *x, const float *w, uint32_t head_dim,
			  uint32_t rows, float eps);
/* y (m, n) += b (n). */
void qvk_ref_bias_add(float *y, const float *b, uint32_t n, uint32_t m);
/* Append k, v (m, n_kv_heads, head_dim) at pos into one layer's cache. */
void qvk_ref_kv_write(const struct qvk_ops_model *mdl, uint32_t m,
		      uint32_t pos, const float *k, const float *v,
		      uint16_t *k_cache, uint16_t *v_cache);
/*
 * Causal GQA over one layer's fp16 cache; out (m, n_heads, head_dim);
 * @att: max_seq floats of scratch.
 */
void qvk_ref_attention(const struct qvk_ops_model *mdl, uint32_t m,
		       uint32_t pos, const float *q, const uint16_t *k_cache,
		       const uint16_t *v_cache, float *att, float *out);
/* As qvk_ops_argmax_bind, for one row. */
uint32_t qvk_ref_argmax(const float *x, uint32_t n);
void qvk_ref_swiglu(const float *gate, const float *up, uint32_t hidden,
		    uint32_t m, uint32_t x_stride, float *out);

#endif
