/* SPDX-License-Identifier: MIT */
/*
 * libqvk private header: weights on the device and the matmul kernels:
 * grouped (shaders/matmul_q*.comp), K-quant/IQ4 (shaders/matmul_kq*.comp)
 * and float (shaders/matmul_float.comp). The type table
 * (include/qvk/format.h) says which kernel runs which stored type.
 *
 * Recording never builds anything: pipelines are created once per
 * (format, tokens per workgroup, epilogue) in struct qvk_mm and descriptor
 * sets once per binding in struct qvk_mm_binding; a record call only binds
 * and dispatches, so a command buffer can be recorded once and replayed.
 */
#ifndef QVK_RUNTIME_MATMUL_H
#define QVK_RUNTIME_MATMUL_H

#include <qvk/kquant.h>
#include <qvk/quant.h>

#include "vk/vk.h"

enum qvk_mm_kind {
	QVK_MM_F32 = 0,
	QVK_MM_Q8 = QVK_QFORMAT_Q8,
	QVK_MM_Q4 = QVK_QFORMAT_Q4,
	QVK_MM_Q4A = QVK_QFORMAT_Q4A,
	QVK_MM_F16 = 4,
	QVK_MM_KQ = 5, /* K-quant/IQ4 blocks; the ggml type in qvk_mm_weight */
	QVK_MM_KIND_COUNT,
};

/* Tokens one workgroup handles at most: the register tile of a row. */
#define QVK_MM_MAX_TM 8u
/* Activation rows are padded to this many elements (act_layout). */
#define QVK_ACT_ALIGN 128u

/* A weight matrix (n, k) on the device. */
struct qvk_mm_weight {
	enum qvk_mm_kind kind;
	uint32_t type;          /* QVK_MM_KQ: the ggml type (Q4_K, ...) */
	uint32_t n, k;
	/* quantized: as in qvk_qtensor; float: ALIGN_UP(k, 8); KQ: k */
	uint32_t k_padded;
	/* elements per scale and scales per row (KQ: sub-blocks) */
	uint32_t group, n_groups;
	uint32_t blocks;        /* QVK_MM_KQ: blocks per row */
	uint32_t row_words;     /* uint32 per row of qs (or of the float data) */
	struct qvk_buffer *qs;  /* (n, row_words), pieces of whole rows */
	struct qvk_buffer *scales, *mins; /* (n, n_groups) fp16; mins Q4A only */
	uint32_t rows_per_piece;
	/*
	 * Uniform texel views for matmul_q_texel (grouped kinds, where the
	 * device has them and every piece fits maxTexelBufferElements; else
	 * NULL): qs as R32G32B32A32_UINT, one per piece; scales, mins R32_UINT.
	 */
	VkBufferView *qs_views, scales_view, mins_view;
	/* scales and mins viewed as R32G32_UINT (n_groups % 4 == 0) */
	bool scales_vec;
};

qvk_status qvk_mm_weight_upload_q(struct qvk_device *dev,
				  const struct qvk_qtensor *qt,
				  struct qvk_mm_weight **out);
/* K-quant/IQ4 blocks as stored (QVK_MM_KQ). */
qvk_status qvk_mm_weight_upload_kq(struct qvk_device *dev,
				   const struct qvk_kqtensor *kt,
				   struct qvk_mm_weight **out);
/* fp32 weights (n, k), kept as fp32 or converted to fp16. */
qvk_status qvk_mm_weight_upload_float(struct qvk_device *dev, const float *w,
				      uint32_t n, uint32_t k, bool as_f16,
				      struct qvk_mm_weight **out);
void qvk_mm_weight_destroy(struct qvk_mm_weight *w);
void qvk_mm_weight_views_destroy(struct qvk_device *dev,
				 struct qvk_mm_weight *w);

/*
 * Activations of up to max_m tokens of k features on the device: int8
 * (qa, per-token scale sa, per-32-block sums suma; the layout of
 * struct qvk_qact with k_padded = ALIGN_UP(k, QVK_ACT_ALIGN)) and fp32 (x).
 */
struct qvk_mm_act {
	uint32_t max_m, k, k_padded;
	bool per_block; /* sa: one scale per 32-block, not per token */
	struct qvk_buffer *qa, *sa, *suma, *x;
	/* texel views (as in qvk_mm_weight): qa RGBA32UI, sa and suma R32UI */
	VkBufferView qa_view, sa_view, suma_view;
};

/* @per_block: scales per 32-block (QVK_ACT_PER_BLOCK32), else per token. */
qvk_status qvk_mm_act_create(struct qvk_device *dev, uint32_t max_m,
			     uint32_t k, bool per_block,
			     struct qvk_mm_act **out);
void qvk_mm_act_destroy(struct qvk_mm_act *a);
void qvk_mm_act_views_destroy(struct qvk_mm_act *a);
/* Host-side upload of quantized activations (qact->k_padded <= a->k_padded). */
qvk_status qvk_mm_act_write_q(struct qvk_mm_act *a, const struct qvk_qact *q);

/*
 * A tile of matmul_q_tiled: BM weight rows x BN tokens a workgroup, each
 * invocation TM rows x TN tokens; (bm / tm) * (bn / tn) invocations.
 */
struct qvk_mm_tile {
	uint32_t bm, bn, tm, tn;
};

struct qvk_mm_pipe_key {
	enum qvk_mm_kind kind;
	uint32_t type;         /* QVK_MM_KQ: the ggml type */
	uint32_t tm;
	uint32_t group_blocks; /* 1, 2, 4; 0 for per-row groups */
	bool act_block;        /* activations scaled per 32-block */
	bool accumulate, write_dots;
	bool scales_vec;       /* matmul_q_texel: four scales a texel */
	uint32_t variant;      /* enum qvk_mm_variant */
	uint32_t rpi;          /* rows per invocation (LANES, TEXEL) */
	struct qvk_mm_tile tile; /* matmul_q_tiled; all zero for the others */
};

/* The kernel of the grouped kinds (Q8, Q4, Q4A). */
enum qvk_mm_variant {
	/* matmul_q: RPI rows per invocation, storage buffers */
	QVK_MM_LANES,
	/* matmul_q_sg: a subgroup per row, lanes across K (coalesced) */
	QVK_MM_SUBGROUP,
	/* matmul_q_texel: RPI rows per invocation, uniform texel buffers */
	QVK_MM_TEXEL,
	QVK_MM_VARIANT_COUNT,
};

/* A grouped kernel and its tile, as tuned (mm_tune.c) or forced. */
struct qvk_mm_choice {
	enum qvk_mm_variant variant;
	uint32_t rpi; /* 1, 2 or 4; 1 for QVK_MM_SUBGROUP */
};

/* Shader name of a variant ("matmul_q_texel"). */
const char *qvk_mm_variant_shader(enum qvk_mm_variant v);

#define QVK_MM_MAX_PIPES 256
/* Candidate tiles of matmul_q_tiled kept for one device (mm_tiled.c). */
#define QVK_MM_MAX_TILES 4u
#define QVK_MM_TILED_SHADER "matmul_q_tiled"

/* The matmul kernels of one device; thread-compatible, not thread-safe. */
struct qvk_mm {
	struct qvk_device *dev;
	uint32_t wg;          /* invocations per workgroup */
	uint32_t rpi;         /* weight rows per invocation (quantized kernels) */
	/*
	 * K-quant kernel: one subgroup per row with lanes across K
	 * (matmul_kq_sg, coalesced: GPUs), or one invocation per row
	 * (matmul_kq: CPU devices, and GPUs without subgroup shuffles). May be
	 * changed before the first bind (tests run both).
	 */
	bool subgroup_rows;
	/*
	 * Grouped kinds (indexed by enum qvk_mm_kind: Q8, Q4, Q4A): the
	 * kernel each runs, measured on this device at first use and kept
	 * in the pipeline cache folder (mm_tune.c). Tests set it. A TEXEL
	 * choice falls back to @fallback where a weight or activation has
	 * no texel views.
	 */
	struct qvk_mm_choice q[QVK_MM_Q4A + 1];
	struct qvk_mm_choice fallback;
	/*
	 * Prefill (m > 1) of each grouped kind: 0 runs the kind's q[] kernel
	 * QVK_MM_MAX_TM tokens a workgroup; i > 0 runs matmul_q_tiled on
	 * tiles[i - 1] (groups of 32, 64, 128; other groups keep q[]). Tuned
	 * with q[] (mm_tiled.c); tests and QVK_MM_PREFILL set it.
	 */
	uint32_t prefill[QVK_MM_Q4A + 1];
	/* The tiles this device's limits allow, best guess first. */
	struct qvk_mm_tile tiles[QVK_MM_MAX_TILES];
	uint32_t n_tiles;
	/* The variants this device can run at all. */
	bool can[QVK_MM_VARIANT_COUNT];
	/* What the tuning measured (qvk info), "" before it ran. */
	char tune_note[1024];
	bool broadcast;       /* subgroups of >= 8 share activation words */
	struct qvk_buffer *dummy; /* bound where a kernel has no buffer */
	VkBufferView dummy_view;  /* its R32UI view, if the device has them */
	uint32_t n_pipes;
	struct qvk_mm_pipe_key keys[QVK_MM_MAX_PIPES];
	struct qvk_pipeline *pipes[QVK_MM_MAX_PIPES];
};

/*
 * The kernels of @dev with the grouped kernel of each kind tuned
 * (qvk_mm_tune), or _untuned: the device type's defaults, for tests that
 * set their own and for the tuning itself.
 */
qvk_status qvk_mm_init(struct qvk_device *dev, struct qvk_mm *mm);
qvk_status qvk_mm_init_untuned(struct qvk_device *dev, struct qvk_mm *mm);
void qvk_mm_finish(struct qvk_mm *mm);

/*
 * mm_tune.c: time every variant the device can run on one decode shape per
 * kind after checking its result exactly against the C reference, keep the
 * fastest correct one (then the same for prefill: that kernel against the
 * tiles of matmul_q_tiled), and store the choices beside the pipeline cache
 * (loaded from there next time). Never fails: any problem is logged and
 * the defaults stay.
 */
void qvk_mm_tune(struct qvk_mm *mm);

/*
 * mm_tune.c's exactly known problem (integer codes, activation codes in
 * [-15, 15], power-of-two scales: every fp32 partial sum exact for
 * k <= 2048), shared with the prefill tuning of mm_tiled.c.
 */
struct qvk_mm_binding;

struct qvk_mm_tune_case {
	uint32_t m, n;
	struct qvk_qtensor *qt;
	struct qvk_qact *qa;
	struct qvk_mm_weight *w;
	struct qvk_mm_act *a;
	struct qvk_buffer *y;
	float *want, *got; /* (m, n) */
};

#define QVK_MM_TUNE_CALLS 4u /* per timed submission */
#define QVK_MM_TUNE_REPS 5u  /* turns of every candidate; the best counts */

qvk_status qvk_mm_tune_case_create(struct qvk_mm *mm, enum qvk_qformat fmt,
				   uint32_t m, uint32_t n, uint32_t k,
				   struct qvk_mm_tune_case *c);
void qvk_mm_tune_case_destroy(struct qvk_mm_tune_case *c);
/* Run @b once on @c (outputs poisoned first); *bad: the first output
 * unlike the reference, or m * n. */
qvk_status qvk_mm_tune_check(struct qvk_cmd *cmd,
			     const struct qvk_mm_binding *b,
			     struct qvk_mm_tune_case *c, size_t *bad);
/* Milliseconds per call of QVK_MM_TUNE_CALLS back-to-back calls of @b. */
qvk_status qvk_mm_tune_time(struct qvk_cmd *cmd,
			    const struct qvk_mm_binding *b, uint32_t m,
			    double *ms);
double qvk_mm_tune_now_ms(void);

/*
 * mm_tiled.c: the tiles of matmul_q_tiled that fit this device's limits
 * (into mm->tiles), their names ("64x32/4x2"), the prefill tuning of kind
 * @fmt (after its decode kernel is chosen; the note gets the ms per call
 * of each correct candidate) and the QVK_MM_PREFILL override.
 */
void qvk_mm_tiles_pick(struct qvk_mm *mm);
void qvk_mm_tile_name(const struct qvk_mm_tile *t, char *buf, size_t len);
qvk_status qvk_mm_tune_prefill(struct qvk_mm *mm, enum qvk_qformat fmt,
			       char *note, size_t note_len);
qvk_status qvk_mm_prefill_env(struct qvk_mm *mm);

/*
 * y (m, w->n, row stride y_stride floats) = act · wᵀ (or += with
 * accumulate: the residual epilogue). One descriptor set per weight piece,
 * written here once. @dots (tests only): int32 dots per (token, row,
 * group), or NULL.
 */
struct qvk_mm_binding {
	struct qvk_mm *mm;
	const struct qvk_mm_weight *w;
	const struct qvk_mm_act *a;
	const struct qvk_buffer *y;
	uint32_t y_stride;
	bool accumulate, write_dots;
	struct qvk_mm_choice choice;    /* grouped kinds: the kernel bound */
	uint32_t n_sets;
	VkDescriptorSet *sets;          /* one per weight piece */
	struct qvk_pipeline *pipes[QVK_MM_MAX_TM + 1]; /* by tokens per group */
	/* Prefill on matmul_q_tiled (m > 1), where the kind chose it: its
	 * pipeline and one set per weight piece; NULL otherwise. */
	struct qvk_mm_tile tile;
	struct qvk_pipeline *tiled;
	VkDescriptorSet *tiled_sets;
};

qvk_status qvk_mm_bind(struct qvk_mm *mm, const struct qvk_mm_weight *w,
		       const struct qvk_mm_act *a, const struct qvk_buffer *y,
		       uint32_t y_stride, bool accumulate,
		       const struct qvk_buffer *dots,
		       struct qvk_mm_binding *out);
void qvk_mm_unbind(struct qvk_mm_binding *b);

/* Record the dispatches for @m tokens (1 <= m <= a->max_m). */
void qvk_mm_record(struct qvk_cmd *cmd, const struct qvk_mm_binding *b,
		   uint32_t m);

#endif
