/* SPDX-License-Identifier: MIT */
/*
 * Prefill on matmul_q_tiled (shaders/matmul_q_tiled.comp): which tiles a
 * device can run, and whether one of them beats the kind's decode kernel
 * at prefill on this device.
 *
 * The candidate tiles are fixed shapes filtered by the device's limits
 * (maxComputeWorkGroupInvocations and size, whole subgroups, and
 * maxComputeSharedMemorySize at the largest step: Q8 groups of 128), so a
 * device with a 16 KiB minimum of shared memory or 128 invocations still
 * gets a tile and a large GPU its larger ones. Which one runs is measured
 * (qvk_mm_tune_prefill): each candidate and the decode kernel at
 * QVK_MM_MAX_TM tokens a workgroup first run one prefill matmul whose
 * exact answer is known (mm_tune.c's case), a candidate that differs is
 * disabled with a log line, and the fastest correct one is kept.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "matmul/matmul.h"

/* The prefill shape timed: tokens and rows not multiples of any tile. */
#define QVK_TUNE_PREFILL_M 40u
#define QVK_TUNE_PREFILL_N 1000u
#define QVK_TUNE_PREFILL_K 1024u

/*
 * Larger tiles first (more reuse per staged word where the device has the
 * room), then a 128-invocation one: Vulkan's minimum limit.
 */
static const struct qvk_mm_tile qvk_mm_tile_shapes[] = {
	{ 128, 64, 8, 4 }, { 64, 64, 4, 4 }, { 64, 32, 4, 2 }, { 32, 32, 4, 2 },
};

/* Shared memory of tile @t at its largest step: Q8, a group of 128. */
static uint64_t qvk_mm_tile_shared_bytes(const struct qvk_mm_tile *t)
{
	/* words of a row or token per step (4 blocks x 8), plus the pad */
	return ((uint64_t)t->bm + t->bn) * (4 * 8 + 1) * 4;
}

void qvk_mm_tiles_pick(struct qvk_mm *mm)
{
	const struct qvk_device_info *info = &mm->dev->info;
	uint32_t sg = info->subgroup_size ? info->subgroup_size : 1;

	mm->n_tiles = 0;
	for (size_t i = 0; i < QVK_ARRAY_SIZE(qvk_mm_tile_shapes) &&
			   mm->n_tiles < QVK_MM_MAX_TILES; i++) {
		const struct qvk_mm_tile *t = &qvk_mm_tile_shapes[i];
		uint32_t inv = t->bm / t->tm * (t->bn / t->tn);

		if (inv <= info->max_workgroup_invocations &&
		    inv <= info->max_workgroup_size[0] && inv % sg == 0 &&
		    qvk_mm_tile_shared_bytes(t) <= info->max_shared_memory_bytes)
			mm->tiles[mm->n_tiles++] = *t;
	}
}

void qvk_mm_tile_name(const struct qvk_mm_tile *t, char *buf, size_t len)
{
	snprintf(buf, len, "%ux%u/%ux%u", t->bm, t->bn, t->tm, t->tn);
}

/* "q8 prefill 40x1000x1024: decode 1.23, 64x32/4x2 0.98" (ms a call). */
static void qvk_mm_note_add(char *note, size_t len, const struct qvk_mm *mm,
			    uint32_t cand, double ms)
{
	size_t used = strlen(note);
	char name[32] = "decode";

	if (cand)
		qvk_mm_tile_name(&mm->tiles[cand - 1], name, sizeof(name));
	snprintf(note + used, len - used, "%s%s %.3f",
		 note[used - 1] == ':' ? " " : ", ", name, ms);
}

qvk_status qvk_mm_tune_prefill(struct qvk_mm *mm, enum qvk_qformat fmt,
			       char *note, size_t note_len)
{
	const uint32_t n_cands = 1 + mm->n_tiles; /* 0: the decode kernel */
	const uint32_t m = QVK_TUNE_PREFILL_M;
	struct qvk_mm_binding binds[1 + QVK_MM_MAX_TILES];
	double best_ms[1 + QVK_MM_MAX_TILES] = { 0 };
	bool ok[1 + QVK_MM_MAX_TILES] = { false };
	uint32_t n_bound = 0, best = UINT32_MAX;
	struct qvk_mm_tune_case c;
	struct qvk_cmd cmd = { 0 };
	qvk_status st;

	memset(binds, 0, sizeof(binds));
	snprintf(note, note_len, "%s prefill %ux%ux%u:", qvk_qformat_name(fmt),
		 QVK_TUNE_PREFILL_M, QVK_TUNE_PREFILL_N, QVK_TUNE_PREFILL_K);
	st = qvk_mm_tune_case_create(mm, fmt, m, QVK_TUNE_PREFILL_N,
				     QVK_TUNE_PREFILL_K, &c);
	if (st == QVK_OK)
		st = qvk_cmd_init(mm->dev, &cmd);
	if (st == QVK_OK && mm->dev->info.timestamps)
		st = qvk_cmd_timestamps_init(&cmd, 2);
	for (uint32_t i = 0; st == QVK_OK && i < n_cands; i++) {
		char name[32] = "";
		size_t bad = 0;

		mm->prefill[fmt] = i;
		st = qvk_mm_bind(mm, c.w, c.a, c.y, c.n, false, NULL, &binds[i]);
		if (st == QVK_OK)
			n_bound++;
		if (st == QVK_OK)
			st = qvk_mm_tune_check(&cmd, &binds[i], &c, &bad);
		ok[i] = st == QVK_OK && bad == (size_t)m * c.n;
		if (st != QVK_OK || ok[i])
			continue;
		if (i)
			qvk_mm_tile_name(&mm->tiles[i - 1], name, sizeof(name));
		qvk_log(mm->dev->ctx, QVK_LOG_WARN,
			"matmul: prefill on %s%s%s gives %s token %zu row %zu "
			"= %g where the C reference gives %g on %s: disabled",
			i ? QVK_MM_TILED_SHADER : qvk_mm_variant_shader(
						  mm->q[fmt].variant),
			i ? " tile " : "", name, qvk_qformat_name(fmt),
			bad / c.n, bad % c.n, c.got[bad], c.want[bad],
			mm->dev->info.name);
	}
	for (uint32_t r = 0; st == QVK_OK && r < QVK_MM_TUNE_REPS; r++)
		for (uint32_t i = 0; st == QVK_OK && i < n_cands; i++) {
			double ms, least = best_ms[i];

			for (uint32_t j = 0; r && j < n_cands; j++)
				if (ok[j] && best_ms[j] < least)
					least = best_ms[j];
			/*
			 * Only candidates within 2x of the best so far get more
			 * turns: noise is not a factor of two, and the tuning
			 * of a CPU device stays short.
			 */
			if (!ok[i] || (r && best_ms[i] > 2 * least))
				continue;
			st = qvk_mm_tune_time(&cmd, &binds[i], m, &ms);
			if (st == QVK_OK && (r == 0 || ms < best_ms[i]))
				best_ms[i] = ms;
		}
	for (uint32_t i = 0; st == QVK_OK && i < n_cands; i++) {
		if (!ok[i])
			continue;
		qvk_mm_note_add(note, note_len, mm, i, best_ms[i]);
		if (best == UINT32_MAX || best_ms[i] < best_ms[best])
			best = i;
	}
	/* The decode kernel (checked by its own tuning) when none is right. */
	mm->prefill[fmt] = best != UINT32_MAX ? best : 0;
	while (n_bound--)
		qvk_mm_unbind(&binds[n_bound]);
	qvk_cmd_finish(&cmd);
	qvk_mm_tune_case_destroy(&c);
	return st;
}

qvk_status qvk_mm_prefill_env(struct qvk_mm *mm)
{
	const char *v = getenv("QVK_MM_PREFILL");
	char name[32], have[160] = "";
	uint32_t pick = UINT32_MAX;

	if (!v)
		return QVK_OK;
	if (!strcmp(v, "default"))
		pick = 0;
	else if (!strcmp(v, "tiled") && mm->n_tiles)
		pick = 1;
	for (uint32_t i = 0; i < mm->n_tiles; i++) {
		size_t used = strlen(have);

		qvk_mm_tile_name(&mm->tiles[i], name, sizeof(name));
		if (!strcmp(v, name))
			pick = i + 1;
		snprintf(have + used, sizeof(have) - used, ", %s", name);
	}
	if (pick == UINT32_MAX)
		return qvk_error(mm->dev->ctx, QVK_ERR_INVALID_ARG,
				 "QVK_MM_PREFILL=%s: want default, tiled or a "
				 "tile %s can run (%s)", v, mm->dev->info.name,
				 have[0] ? have + 2 : "none");
	for (uint32_t k = QVK_MM_Q8; k <= QVK_MM_Q4A; k++)
		mm->prefill[k] = pick;
	qvk_log(mm->dev->ctx, QVK_LOG_INFO, "matmul prefill forced by "
		"QVK_MM_PREFILL=%s", v);
	return QVK_OK;
}
