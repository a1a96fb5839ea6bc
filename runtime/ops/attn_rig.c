/* SPDX-License-Identifier: MIT */
/*
 * A synthetic attention problem on the device (random q of up to max_m
 * tokens and an fp16 cache of random keys and values), run through the
 * decode kernels (one pass, split-KV) or a prefill kernel, checked against
 * the C reference and timed: what the tuning (attn_tune.c) and qvk bench
 * attention measure. Speed does not depend on the values.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops.h"

static float qvk_rig_uniform(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (float)(*s >> 40) / (float)(1u << 24) * 2.0f - 1.0f;
}

qvk_status qvk_attn_rig_init(struct qvk_ops *ops, uint32_t n_heads,
			     uint32_t n_kv_heads, uint32_t head_dim,
			     uint32_t max_seq, uint32_t max_m,
			     uint32_t max_splits, struct qvk_attn_rig *r)
{
	struct qvk_device *dev = ops->dev;
	uint64_t seed = 0x5eed0a77u, lb;
	size_t nq = (size_t)QVK_MAX(max_m, 1u) * n_heads * head_dim;
	qvk_status st;

	memset(r, 0, sizeof(*r));
	r->ops = ops;
	r->max_m = QVK_MAX(max_m, 1u);
	r->max_splits = max_splits;
	r->mdl = (struct qvk_ops_model){
		.dim = n_heads * head_dim, .hidden_dim = n_heads * head_dim,
		.n_heads = n_heads, .n_kv_heads = n_kv_heads,
		.head_dim = head_dim, .max_seq = max_seq, .n_vocab = 1,
		.norm_eps = 1e-5f, .rope_theta = 10000.0f,
	};
	st = qvk_ops_model_check(dev->ctx, &r->mdl);
	if (st != QVK_OK)
		return st;
	lb = qvk_ops_kv_layer_bytes(&r->mdl);
	r->kc = malloc(lb);
	r->vc = malloc(lb);
	r->q = malloc(4 * nq);
	r->want = malloc(4 * nq);
	r->got = malloc(4 * nq);
	r->att = malloc(4ull * max_seq);
	if (!r->kc || !r->vc || !r->q || !r->want || !r->got || !r->att) {
		st = qvk_error(dev->ctx, QVK_ERR_NO_MEMORY, "attention rig");
		goto out_finish;
	}
	for (uint64_t i = 0; i < lb / 2; i++) {
		r->kc[i] = qvk_ref_f32_to_f16(qvk_rig_uniform(&seed));
		r->vc[i] = qvk_ref_f32_to_f16(qvk_rig_uniform(&seed));
	}
	for (size_t i = 0; i < nq; i++)
		r->q[i] = 2.0f * qvk_rig_uniform(&seed);
	st = qvk_buffer_create(dev, QVK_MEM_UPLOAD, QVK_OPS_STEP_BYTES(r->max_m), 4,
			       &r->step);
	if (st == QVK_OK)
		st = qvk_buffer_create(dev, QVK_MEM_DEVICE, 4 * nq, 4, &r->qb);
	if (st == QVK_OK)
		st = qvk_buffer_create(dev, QVK_MEM_DEVICE, lb, 4, &r->kcb);
	if (st == QVK_OK)
		st = qvk_buffer_create(dev, QVK_MEM_DEVICE, lb, 4, &r->vcb);
	if (st == QVK_OK)
		st = qvk_buffer_create(dev, QVK_MEM_READBACK, 4 * nq, 4, &r->ob);
	if (st == QVK_OK && max_splits)
		st = qvk_buffer_create(dev, QVK_MEM_DEVICE,
				       qvk_ops_attention_split_bytes(&r->mdl, 1,
								     max_splits),
				       4, &r->pb);
	if (st == QVK_OK)
		st = qvk_buffer_write(r->qb, 0, r->q, 4 * nq);
	if (st == QVK_OK)
		st = qvk_buffer_write(r->kcb, 0, r->kc, lb);
	if (st == QVK_OK)
		st = qvk_buffer_write(r->vcb, 0, r->vc, lb);
	if (st == QVK_OK)
		st = qvk_cmd_init(dev, &r->cmd);
	if (st == QVK_OK && dev->info.timestamps)
		st = qvk_cmd_timestamps_init(&r->cmd, 2);
	if (st == QVK_OK)
		return QVK_OK;
out_finish:
	qvk_attn_rig_finish(r);
	return st;
}

void qvk_attn_rig_finish(struct qvk_attn_rig *r)
{
	if (r->cmd.dev)
		qvk_cmd_finish(&r->cmd);
	qvk_buffer_destroy(r->step);
	qvk_buffer_destroy(r->qb);
	qvk_buffer_destroy(r->kcb);
	qvk_buffer_destroy(r->vcb);
	qvk_buffer_destroy(r->ob);
	qvk_buffer_destroy(r->pb);
	free(r->kc);
	free(r->vc);
	free(r->q);
	free(r->want);
	free(r->got);
	free(r->att);
	memset(r, 0, sizeof(*r));
}

qvk_status qvk_attn_rig_bind(struct qvk_attn_rig *r, uint32_t splits,
			     struct qvk_op op[2])
{
	struct qvk_binding step = qvk_ops_whole(r->step), q = qvk_ops_whole(r->qb),
			   kc = qvk_ops_whole(r->kcb), vc = qvk_ops_whole(r->vcb),
			   out = qvk_ops_whole(r->ob), part = qvk_ops_whole(r->pb);

	if (!splits) {
		memset(&op[1], 0, sizeof(op[1]));
		return qvk_ops_attention_bind(r->ops, &op[0], &r->mdl, 1, &step,
					      &q, &kc, &vc, &out);
	}
	if (splits > r->max_splits)
		return qvk_error(r->ops->dev->ctx, QVK_ERR_INVALID_ARG,
				 "attention rig: %u splits, room for %u", splits,
				 r->max_splits);
	return qvk_ops_attention_split_bind(r->ops, op, &r->mdl, 1, splits,
					    r->ops->attn_split_min, &step, &q,
					    &kc, &vc, &part, &out);
}

qvk_status qvk_attn_rig_bind_prefill(struct qvk_attn_rig *r,
				     enum qvk_attn_prefill kind, uint32_t m,
				     struct qvk_op op[2])
{
	struct qvk_binding step = qvk_ops_whole(r->step), q = qvk_ops_whole(r->qb),
			   kc = qvk_ops_whole(r->kcb), vc = qvk_ops_whole(r->vcb),
			   out = qvk_ops_whole(r->ob);

	memset(&op[1], 0, sizeof(op[1]));
	if (m < 2 || m > r->max_m)
		return qvk_error(r->ops->dev->ctx, QVK_ERR_INVALID_ARG,
				 "attention rig: prefill of %u tokens (2..%u)",
				 m, r->max_m);
	return qvk_ops_attention_prefill_bind(r->ops, &op[0], &r->mdl, m, kind,
					      &step, &q, &kc, &vc, &out);
}

static void qvk_rig_record(struct qvk_attn_rig *r, const struct qvk_op op[2])
{
	qvk_op_record(&r->cmd, &op[0]);
	if (op[1].pipe)
		qvk_op_record(&r->cmd, &op[1]);
}

/* The step of @m tokens of which the last attends @n positions. */
static qvk_status qvk_rig_step(struct qvk_attn_rig *r, uint32_t m, uint32_t n)
{
	if (!m || m > r->max_m || m > n)
		return qvk_error(r->ops->dev->ctx, QVK_ERR_INVALID_ARG,
				 "attention rig: %u tokens ending at %u "
				 "positions (room for %u)", m, n, r->max_m);
	return qvk_ops_step_write(r->step, n - m, NULL, m, r->mdl.max_seq, 1);
}

qvk_status qvk_attn_rig_check(struct qvk_attn_rig *r, const struct qvk_op op[2],
			      uint32_t m, uint32_t n, double *worst, bool *ok)
{
	size_t nq = (size_t)m * r->mdl.n_heads * r->mdl.head_dim;
	qvk_status st = qvk_rig_step(r, m, n);

	*ok = false;
	*worst = 0;
	if (st != QVK_OK)
		return st;
	qvk_buffer_fill_u32(r->ob, 0x7fc00000u); /* NaN: unwritten values fail */
	st = qvk_cmd_begin(&r->cmd);
	if (st != QVK_OK)
		return st;
	qvk_rig_record(r, op);
	st = qvk_cmd_submit_wait(&r->cmd, true);
	if (st == QVK_OK)
		st = qvk_buffer_read(r->ob, 0, r->got, 4 * nq);
	if (st != QVK_OK)
		return st;
	/* The reference is the slow part: once per (m, n). */
	if (r->want_m != m || r->want_n != n) {
		qvk_ref_attention(&r->mdl, m, n - m, r->q, r->kc, r->vc, r->att,
				  r->want);
		r->want_m = m;
		r->want_n = n;
	}
	*ok = true;
	for (size_t i = 0; i < nq; i++) {
		float e = r->got[i] - r->want[i];
		float a = e < 0 ? -e : e, w = r->want[i] < 0 ? -r->want[i] : r->want[i];

		/* The tests' tolerance; NaN fails. */
		if (!(a <= 2e-5f + 1e-4f * w))
			*ok = false;
		if (!(a <= *worst))
			*worst = a;
	}
	return QVK_OK;
}

static double qvk_rig_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

qvk_status qvk_attn_rig_time(struct qvk_attn_rig *r, const struct qvk_op op[2],
			     uint32_t m, uint32_t n, uint32_t calls, double *ms)
{
	double t0, ns[2];
	qvk_status st = qvk_rig_step(r, m, n);

	if (st == QVK_OK)
		st = qvk_cmd_begin(&r->cmd);
	if (st != QVK_OK)
		return st;
	t0 = qvk_rig_now_ms();
	if (r->cmd.timestamps) {
		qvk_cmd_timestamps_reset(&r->cmd);
		qvk_cmd_timestamp(&r->cmd, 0);
	}
	/* Back to back with the barriers of a forward pass between them. */
	for (uint32_t i = 0; i < calls; i++)
		qvk_rig_record(r, op);
	if (r->cmd.timestamps)
		qvk_cmd_timestamp(&r->cmd, 1);
	st = qvk_cmd_submit_wait(&r->cmd, true);
	*ms = qvk_rig_now_ms() - t0;
	if (st == QVK_OK && r->cmd.timestamps) {
		st = qvk_cmd_timestamps_read_ns(&r->cmd, 2, ns);
		*ms = ns[1] * 1e-6;
	}
	*ms /= calls ? calls : 1;
	return st;
}
