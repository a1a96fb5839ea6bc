/* SPDX-License-Identifier: MIT */
/* The grouped matmul kernels: pipelines, bindings, recording. */
#include <stdlib.h>
#include <string.h>

#include "matmul/matmul.h"

/* Push constants of matmul_q.comp and matmul_float.comp (std430 uints). */
struct qvk_mm_push_q {
	uint32_t n, row0, m, n_groups, group_blocks, row_vec4, act_words,
		y_stride;
};

/* Push constants of matmul_kq.comp and matmul_kq_sg.comp. */
struct qvk_mm_push_kq {
	uint32_t n, row0, m, blocks, row_words, act_words, y_stride;
};

struct qvk_mm_push_f {
	uint32_t n, row0, m, k, row_vec4, x_stride, y_stride;
};

const char *qvk_mm_variant_shader(enum qvk_mm_variant v)
{
	static const char *const names[QVK_MM_VARIANT_COUNT] = {
		[QVK_MM_LANES] = "matmul_q",
		[QVK_MM_SUBGROUP] = "matmul_q_sg",
		[QVK_MM_TEXEL] = "matmul_q_texel",
	};

	return (unsigned)v < QVK_MM_VARIANT_COUNT ? names[v] : "?";
}

qvk_status qvk_mm_init_untuned(struct qvk_device *dev, struct qvk_mm *mm)
{
	const struct qvk_device_info *info = &dev->info;
	uint32_t sg = info->subgroup_size ? info->subgroup_size : 1;
	qvk_status st;

	memset(mm, 0, sizeof(*mm));
	mm->dev = dev;
	/*
	 * 64 rows per workgroup, rounded to whole subgroups and capped by the
	 * device: enough rows to amortise each workgroup's start, few enough
	 * that small layers still spread over every core or compute unit.
	 */
	mm->wg = QVK_ALIGN_UP(64u, sg);
	if (mm->wg > info->max_workgroup_invocations)
		mm->wg = info->max_workgroup_invocations / sg * sg;
	if (mm->wg > info->max_workgroup_size[0])
		mm->wg = info->max_workgroup_size[0] / sg * sg;
	mm->broadcast = sg >= 8;
	/*
	 * Two rows per invocation where lanes are SIMD lanes of a CPU: the
	 * broadcast activation words and the loop overhead are shared (about
	 * 20% on lavapipe). GPUs keep one row per invocation.
	 */
	mm->rpi = info->type == QVK_DEVICE_CPU ? 2 : 1;
	mm->can[QVK_MM_LANES] = true;
	mm->can[QVK_MM_SUBGROUP] = info->subgroup_shuffle &&
				   info->subgroup_arithmetic && sg >= 4 &&
				   sg <= mm->wg;
	/* Texel views of every weight and activation, shuffles to share. */
	mm->can[QVK_MM_TEXEL] = info->max_texel_buffer_elements &&
				info->subgroup_shuffle;
	mm->subgroup_rows = info->type != QVK_DEVICE_CPU &&
			    mm->can[QVK_MM_SUBGROUP];
	/* The defaults until measured: what each device type ran before. */
	mm->fallback = (struct qvk_mm_choice){
		mm->subgroup_rows ? QVK_MM_SUBGROUP : QVK_MM_LANES,
		mm->subgroup_rows ? 1 : mm->rpi
	};
	for (uint32_t k = 0; k < QVK_ARRAY_SIZE(mm->q); k++)
		mm->q[k] = mm->fallback;
	qvk_mm_tiles_pick(mm);
	st = qvk_buffer_create(dev, QVK_MEM_DEVICE, 256, 4, &mm->dummy);
	if (st == QVK_OK && info->max_texel_buffer_elements)
		st = qvk_buffer_view_create(mm->dummy, 0, VK_FORMAT_R32_UINT, 4,
					    &mm->dummy_view);
	if (st != QVK_OK)
		qvk_mm_finish(mm);
	return st;
}

qvk_status qvk_mm_init(struct qvk_device *dev, struct qvk_mm *mm)
{
	qvk_status st = qvk_mm_init_untuned(dev, mm);

	if (st == QVK_OK)
		qvk_mm_tune(mm);
	if (st == QVK_OK)
		st = qvk_mm_prefill_env(mm);
	if (st != QVK_OK)
		qvk_mm_finish(mm);
	return st;
}

void qvk_mm_finish(struct qvk_mm *mm)
{
	for (uint32_t i = 0; i < mm->n_pipes; i++)
		qvk_pipeline_destroy(mm->pipes[i]);
	if (mm->dev)
		qvk_buffer_view_destroy(mm->dev, mm->dummy_view);
	qvk_buffer_destroy(mm->dummy);
	memset(mm, 0, sizeof(*mm));
}

static bool qvk_mm_is_float(enum qvk_mm_kind kind)
{
	return kind == QVK_MM_F32 || kind == QVK_MM_F16;
}

/* The pipeline for @key, created on first use and kept. */
static qvk_status qvk_mm_pipe(struct qvk_mm *mm, struct qvk_mm_pipe_key key,
			      struct qvk_pipeline **out)
{
	struct qvk_pipeline_desc d = { .n_spec = 10 };
	qvk_status st;

	for (uint32_t i = 0; i < mm->n_pipes; i++)
		if (!memcmp(&mm->keys[i], &key, sizeof(key))) {
			*out = mm->pipes[i];
			return QVK_OK;
		}
	if (mm->n_pipes == QVK_MM_MAX_PIPES)
		return qvk_error(mm->dev->ctx, QVK_ERR_NO_MEMORY,
				 "too many matmul pipeline variants");
	d.spec[0] = mm->wg;
	if (key.tile.bm) {
		/* matmul_q_tiled: the tile in matmul_q's unused slots */
		d.shader = QVK_MM_TILED_SHADER;
		d.int_variants = true;
		d.n_bindings = 8;
		d.push_bytes = sizeof(struct qvk_mm_push_q);
		d.spec[0] = key.tile.bm / key.tile.tm * (key.tile.bn / key.tile.tn);
		d.spec[1] = key.kind;
		d.spec[2] = key.tile.bn;
		d.spec[3] = key.accumulate;
		d.spec[4] = key.write_dots;
		d.spec[5] = key.tile.bm;
		d.spec[6] = key.group_blocks;
		d.spec[7] = key.tile.tm;
		d.spec[8] = key.act_block;
		d.spec[9] = key.tile.tn;
	} else if (qvk_mm_is_float(key.kind)) {
		d.shader = "matmul_float";
		d.n_bindings = 3;
		d.push_bytes = sizeof(struct qvk_mm_push_f);
		d.spec[1] = key.kind == QVK_MM_F16;
		d.spec[2] = key.tm;
		d.spec[3] = key.accumulate;
		d.spec[4] = mm->broadcast;
		d.n_spec = 5;
	} else {
		bool kq = key.kind == QVK_MM_KQ;
		bool texel = !kq && key.variant == QVK_MM_TEXEL;
		bool sg_rows = kq ? mm->subgroup_rows :
				    key.variant == QVK_MM_SUBGROUP;

		d.shader = kq ? (sg_rows ? "matmul_kq_sg" : "matmul_kq") :
				qvk_mm_variant_shader(key.variant);
		/* matmul_q_texel reads codes, scales and activations as
		 * uniform texel buffers (bindings 0..5). */
		d.texel_bindings = texel ? 0x3fu : 0;
		/*
		 * The subgroup kernels map one row per subgroup and the dispatch
		 * counts rows with the reported size: pin it where the device
		 * lets us (some compilers pick another size otherwise).
		 */
		if (sg_rows)
			d.subgroup_size = mm->dev->info.subgroup_size;
		d.int_variants = true;
		d.n_bindings = kq ? 6 : 8;
		d.push_bytes = kq ? sizeof(struct qvk_mm_push_kq) :
				    sizeof(struct qvk_mm_push_q);
		/* both kernel families number their constants alike */
		d.spec[1] = kq ? key.type : key.kind;
		d.spec[2] = key.tm;
		d.spec[3] = key.accumulate;
		d.spec[4] = key.write_dots;
		d.spec[5] = mm->broadcast;
		d.spec[6] = key.group_blocks;
		d.spec[7] = key.rpi;
		d.spec[8] = key.act_block;
		d.spec[9] = key.scales_vec;
	}
	st = qvk_pipeline_create(mm->dev, &d, out);
	if (st != QVK_OK)
		return st;
	/*
	 * Keys are compared with memcmp; the caller zeroed @key, padding
	 * included, so copy its bytes rather than its members.
	 */
	memcpy(&mm->keys[mm->n_pipes], &key, sizeof(key));
	mm->pipes[mm->n_pipes++] = *out;
	return QVK_OK;
}

qvk_status qvk_mm_bind(struct qvk_mm *mm, const struct qvk_mm_weight *w,
		       const struct qvk_mm_act *a, const struct qvk_buffer *y,
		       uint32_t y_stride, bool accumulate,
		       const struct qvk_buffer *dots,
		       struct qvk_mm_binding *out)
{
	struct qvk_ctx *ctx = mm->dev->ctx;
	struct qvk_mm_pipe_key key;
	qvk_status st;

	memset(out, 0, sizeof(*out));
	if (a->k != w->k || y_stride < w->n ||
	    (!qvk_mm_is_float(w->kind) && a->k_padded < w->k_padded))
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "matmul shapes: weight (%u, %u), activations "
				 "k %u, output stride %u", w->n, w->k, a->k,
				 y_stride);
	if (y->n_pieces != 1 || a->qa->n_pieces != 1 || a->x->n_pieces != 1 ||
	    (w->scales && w->scales->n_pieces != 1))
		return qvk_error(ctx, QVK_ERR_UNSUPPORTED,
				 "matmul activations, scales and outputs must "
				 "fit in maxStorageBufferRange (%llu bytes)",
				 (unsigned long long)
					 mm->dev->info.max_storage_buffer_range);
	out->mm = mm;
	out->w = w;
	out->a = a;
	out->y = y;
	out->y_stride = y_stride;
	out->accumulate = accumulate;
	out->write_dots = dots != NULL;
	memset(&key, 0, sizeof(key));
	key.kind = w->kind;
	key.type = w->kind == QVK_MM_KQ ? w->type : 0;
	key.accumulate = accumulate;
	key.write_dots = dots != NULL;
	key.act_block = a->per_block;
	if (w->kind == QVK_MM_KQ) {
		out->choice = (struct qvk_mm_choice){
			mm->subgroup_rows ? QVK_MM_SUBGROUP : QVK_MM_LANES,
			mm->rpi
		};
	} else if (!qvk_mm_is_float(w->kind)) {
		out->choice = mm->q[w->kind];
		if (out->choice.variant == QVK_MM_TEXEL &&
		    (!w->qs_views || !a->qa_view))
			out->choice = mm->fallback;
	}
	key.variant = out->choice.variant;
	key.rpi = out->choice.rpi;
	key.scales_vec = key.variant == QVK_MM_TEXEL && w->scales_vec;
	/* Groups of 32/64/128 unroll; per-row groups (any size) loop. */
	key.group_blocks = qvk_mm_is_float(w->kind) || w->kind == QVK_MM_KQ ||
					   w->group > 128 ?
				   0 : w->group / 32;
	/*
	 * Two tiles only: one token (decode) and up to QVK_MM_MAX_TM (prefill,
	 * where a partial last tile repeats its last token), so that a new
	 * batch size never compiles a new pipeline.
	 */
	for (uint32_t tm = 1; tm <= QVK_MIN(QVK_MM_MAX_TM, a->max_m);
	     tm = tm == 1 ? QVK_MIN(QVK_MM_MAX_TM, a->max_m) : tm + 1) {
		key.tm = tm;
		st = qvk_mm_pipe(mm, key, &out->pipes[tm]);
		if (st != QVK_OK)
			return st;
		if (tm == QVK_MIN(QVK_MM_MAX_TM, a->max_m))
			break;
	}
	/* Prefill on the tiled kernel where the kind chose it. */
	if (!qvk_mm_is_float(w->kind) && w->kind != QVK_MM_KQ &&
	    a->max_m > 1 && mm->prefill[w->kind] &&
	    key.group_blocks) {
		struct qvk_mm_pipe_key tk = key;

		tk.tile = mm->tiles[mm->prefill[w->kind] - 1];
		tk.variant = 0;
		tk.rpi = 0;
		tk.scales_vec = false;
		tk.tm = 0;
		st = qvk_mm_pipe(mm, tk, &out->tiled);
		if (st != QVK_OK)
			return st;
		out->tile = tk.tile;
		out->tiled_sets = calloc(w->qs->n_pieces,
					 sizeof(*out->tiled_sets));
	}
	out->sets = calloc(w->qs->n_pieces, sizeof(*out->sets));
	if (!out->sets || (out->tiled && !out->tiled_sets)) {
		qvk_mm_unbind(out);
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "matmul bindings");
	}
	for (uint32_t p = 0; p < w->qs->n_pieces; p++) {
		struct qvk_binding qb[8] = {
			{ w->qs, p, 0, 0 },
			{ w->scales ? w->scales : mm->dummy, 0, 0, 0 },
			{ w->mins ? w->mins : mm->dummy, 0, 0, 0 },
			{ a->qa, 0, 0, 0 },
			{ a->sa, 0, 0, 0 },
			{ a->suma, 0, 0, 0 },
			{ y, 0, 0, 0 },
			{ dots ? dots : mm->dummy, 0, 0, 0 },
		};
		struct qvk_binding fb[3] = {
			{ w->qs, p, 0, 0 }, { a->x, 0, 0, 0 }, { y, 0, 0, 0 }
		};
		bool texel = key.variant == QVK_MM_TEXEL;
		struct qvk_binding tb[8] = {
			{ .view = w->qs_views ? w->qs_views[p] : VK_NULL_HANDLE },
			{ .view = w->scales_view },
			{ .view = w->mins_view ? w->mins_view : mm->dummy_view },
			{ .view = a->qa_view },
			{ .view = a->sa_view },
			{ .view = a->suma_view },
			{ y, 0, 0, 0 },
			{ dots ? dots : mm->dummy, 0, 0, 0 },
		};
		struct qvk_binding kb[6] = {
			{ w->qs, p, 0, 0 },
			{ a->qa, 0, 0, 0 },
			{ a->sa, 0, 0, 0 },
			{ a->suma, 0, 0, 0 },
			{ y, 0, 0, 0 },
			{ dots ? dots : mm->dummy, 0, 0, 0 },
		};

		st = qvk_descset_create(out->pipes[1],
					qvk_mm_is_float(w->kind) ? fb :
					w->kind == QVK_MM_KQ ? kb :
					texel		     ? tb : qb,
					&out->sets[p]);
		if (st == QVK_OK && out->tiled) {
			st = qvk_descset_create(out->tiled, qb,
						&out->tiled_sets[p]);
			if (st != QVK_OK)
				qvk_descset_free(mm->dev, &out->sets[p], 1);
		}
		if (st != QVK_OK) {
			qvk_mm_unbind(out);
			return st;
		}
		out->n_sets++;
	}
	return QVK_OK;
}

void qvk_mm_unbind(struct qvk_mm_binding *b)
{
	if (b->mm) {
		qvk_descset_free(b->mm->dev, b->sets, b->n_sets);
		if (b->tiled_sets)
			qvk_descset_free(b->mm->dev, b->tiled_sets, b->n_sets);
	}
	free(b->sets);
	free(b->tiled_sets);
	memset(b, 0, sizeof(*b));
}

void qvk_mm_record(struct qvk_cmd *cmd, const struct qvk_mm_binding *b,
		   uint32_t m)
{
	const struct qvk_mm_weight *w = b->w;
	uint32_t tm = m == 1 ? 1 : QVK_MIN(QVK_MM_MAX_TM, b->a->max_m);
	const struct qvk_pipeline *pipe = b->pipes[tm];

	for (uint32_t p = 0; p < b->n_sets; p++) {
		uint32_t row0 = p * w->rows_per_piece;
		uint32_t rows = QVK_MIN(w->rows_per_piece, w->n - row0);
		struct qvk_mm_push_q pq = {
			.n = rows,
			.row0 = row0,
			.m = m,
			.n_groups = w->n_groups,
			.group_blocks = w->group / 32,
			.row_vec4 = w->row_words / 4,
			.act_words = b->a->k_padded / 4,
			.y_stride = b->y_stride,
		};
		struct qvk_mm_push_kq pk = {
			.n = rows,
			.row0 = row0,
			.m = m,
			.blocks = w->blocks,
			.row_words = w->row_words,
			.act_words = b->a->k_padded / 4,
			.y_stride = b->y_stride,
		};
		struct qvk_mm_push_f pf = {
			.n = rows,
			.row0 = row0,
			.m = m,
			.k = w->k,
			.row_vec4 = w->row_words / 4,
			.x_stride = b->a->k,
			.y_stride = b->y_stride,
		};

		/* Rows per workgroup: invocations x rows each, or subgroups. */
		uint32_t per_wg = qvk_mm_is_float(w->kind) ? b->mm->wg :
				  b->choice.variant == QVK_MM_SUBGROUP ?
					  b->mm->wg / b->mm->dev->info.subgroup_size :
					  b->mm->wg * b->choice.rpi;

		if (m > 1 && b->tiled) {
			qvk_cmd_dispatch(cmd, b->tiled, b->tiled_sets[p], &pq,
					 QVK_DIV_ROUND_UP(rows, b->tile.bm),
					 QVK_DIV_ROUND_UP(m, b->tile.bn), 1);
			continue;
		}
		qvk_cmd_dispatch(cmd, pipe, b->sets[p],
				 qvk_mm_is_float(w->kind) ? (void *)&pf :
				 w->kind == QVK_MM_KQ ? (void *)&pk :
							(void *)&pq,
				 QVK_DIV_ROUND_UP(rows, per_wg),
				 QVK_DIV_ROUND_UP(m, tm), 1);
	}
}
