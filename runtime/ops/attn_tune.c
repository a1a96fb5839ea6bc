/* SPDX-License-Identifier: MIT */
/*
 * Whether decode attention splits the KV length on this device, and into
 * how many workgroups, from measured timings instead of device-type
 * guesses (issue #12). On one decode token of TinyLlama's attention (32
 * query heads over 4 kv heads of 64, 2048 positions) the one-pass kernel
 * and the split kernel at 2..32 splits per kv head are each first checked
 * against the C reference (drivers ship fp16 and subgroup bugs: a split
 * that disagrees is disabled with a log line), then timed in turns, best
 * of QVK_ATTN_TUNE_REPS. The fastest split wins only if it beats the one
 * pass by QVK_ATTN_TUNE_MARGIN (a tie keeps the simpler kernel); the
 * result is the number of pass-1 workgroups it ran (splits x kv heads),
 * which qvk_ops_attention_splits() turns into splits for any model. Kept
 * for the device in this process and in a ".tune" file beside the
 * pipeline cache, keyed by a hash of the kernels' SPIR-V. The file is
 * outside input: anything unexpected in it means tuning again.
 *
 * Prefill (m > 1) alike: on 32 tokens after a cached prefix of 224 (256
 * positions, the same heads) every prefill kernel that applies here
 * (attention.comp; attention_prefill.comp with subgroup shuffles; the
 * tiled kernel at both tile sizes where they fit) is checked against the
 * C reference there and on 19 tokens from position 0 (a partial token
 * block, short tiles), disabled with a log line if it disagrees, and
 * timed; the fastest wins if it beats the device's default kernel by the
 * same margin. QVK_ATTN_PREFILL forces a kernel over the stored choice.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "shaders.h"
#include "ops.h"

#define QVK_ATTN_TUNE_HEADS 32u
#define QVK_ATTN_TUNE_KV 4u
#define QVK_ATTN_TUNE_HD 64u
#define QVK_ATTN_TUNE_CTX 2048u
#define QVK_ATTN_TUNE_CALLS 4u
#define QVK_ATTN_TUNE_REPS 3u
#define QVK_ATTN_TUNE_MARGIN 0.95 /* split ms / one-pass ms to win */
#define QVK_ATTN_TUNE_VERSION 2u
#define QVK_ATTN_TUNE_PM 32u     /* prefill tokens */
#define QVK_ATTN_TUNE_PCTX 256u  /* positions the last one attends */
#define QVK_ATTN_TUNE_PM_ODD 19u /* the second check's tokens, from 0 */

static const uint32_t qvk_attn_tune_splits[] = { 0, 2, 4, 8, 16, 32 };
#define QVK_ATTN_TUNE_CANDS QVK_ARRAY_SIZE(qvk_attn_tune_splits)

static uint64_t qvk_attn_tune_hash(const struct qvk_ops *ops)
{
	static const char *const names[] = {
		"attention", "attention_decode", "attention_combine",
		"attention_prefill", "attention_prefill_tiled",
	};
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < QVK_ARRAY_SIZE(names); i++) {
		const struct qvk_spirv *s = qvk_spirv_find(names[i]);
		const uint8_t *b = s ? (const uint8_t *)s->code : NULL;

		for (size_t j = 0; s && j < s->size_bytes; j++)
			h = (h ^ b[j]) * 0x100000001b3ull;
	}
	/* Which kernel family pass 1 is (CPU devices: subgroup kernel). */
	return h ^ ops->cpu_attention ^ (uint64_t)ops->subgroup_prefill << 1;
}

/* A workgroup count the tuning can have chosen. */
static bool qvk_attn_tune_known(uint32_t wgs)
{
	for (size_t i = 0; i < QVK_ATTN_TUNE_CANDS; i++)
		if (wgs == qvk_attn_tune_splits[i] * QVK_ATTN_TUNE_KV)
			return true;
	return false;
}

/*
 * "qvk-attention-tune VERSION HASH", "split_wgs N", "prefill NAME",
 * "note TEXT".
 */
static bool qvk_attn_tune_load(struct qvk_device *dev, const char *path,
			       uint64_t hash)
{
	char line[600], name[32];
	unsigned version, wgs;
	enum qvk_attn_prefill prefill;
	uint64_t file_hash;
	bool ok;
	FILE *f = fopen(path, "re");

	if (!f)
		return false;
	ok = fgets(line, sizeof(line), f) &&
	     sscanf(line, "qvk-attention-tune %u %" SCNx64, &version,
		    &file_hash) == 2 &&
	     version == QVK_ATTN_TUNE_VERSION && file_hash == hash &&
	     fgets(line, sizeof(line), f) &&
	     sscanf(line, "split_wgs %u", &wgs) == 1 &&
	     qvk_attn_tune_known(wgs) &&
	     fgets(line, sizeof(line), f) &&
	     sscanf(line, "prefill %31s", name) == 1 &&
	     qvk_attn_prefill_parse(name, &prefill) &&
	     fgets(line, sizeof(line), f) && !strncmp(line, "note ", 5);
	fclose(f);
	if (!ok) {
		qvk_log(dev->ctx, QVK_LOG_INFO, "attention tuning %s is stale "
			"or malformed: tuning again", path);
		return false;
	}
	line[strcspn(line, "\n")] = 0;
	dev->attn_split_wgs = wgs;
	dev->attn_prefill = prefill;
	snprintf(dev->attn_tune_note, sizeof(dev->attn_tune_note), "%.*s",
		 (int)sizeof(dev->attn_tune_note) - 1, line + 5);
	return true;
}

static void qvk_attn_tune_save(struct qvk_device *dev, const char *path,
			       uint64_t hash)
{
	char text[sizeof(dev->attn_tune_note) + 128];

	snprintf(text, sizeof(text), "qvk-attention-tune %u %016" PRIx64
		 "\nsplit_wgs %u\nprefill %s\nnote %s\n", QVK_ATTN_TUNE_VERSION,
		 hash, dev->attn_split_wgs,
		 qvk_attn_prefill_name((enum qvk_attn_prefill)dev->attn_prefill),
		 dev->attn_tune_note);
	qvk_cache_text_save(dev, path, text, "attention tuning");
}

/* Check, then time every prefill kernel; dev->attn_prefill and @note. */
static qvk_status qvk_attn_tune_prefill(struct qvk_ops *ops,
					struct qvk_attn_rig *rig, char *note,
					size_t note_len)
{
	struct qvk_device *dev = ops->dev;
	struct qvk_op ops2[QVK_ATTN_PREFILL_KINDS][2], odd[2];
	double best_ms[QVK_ATTN_PREFILL_KINDS] = { 0 };
	bool ok[QVK_ATTN_PREFILL_KINDS] = { false };
	enum qvk_attn_prefill base = ops->cpu_attention ?
		QVK_ATTN_PREFILL_SUBGROUP : QVK_ATTN_PREFILL_ONEPASS, best = base;
	qvk_status st = QVK_OK;
	size_t used;

	for (uint32_t k = 0; st == QVK_OK && k < QVK_ATTN_PREFILL_KINDS; k++) {
		double worst = 0, worst_odd = 0;
		bool ok_odd = false;

		if (!qvk_ops_attn_prefill_runs(ops, &rig->mdl, k))
			continue;
		st = qvk_attn_rig_bind_prefill(rig, k, QVK_ATTN_TUNE_PM, ops2[k]);
		if (st == QVK_OK)
			st = qvk_attn_rig_check(rig, ops2[k], QVK_ATTN_TUNE_PM,
						QVK_ATTN_TUNE_PCTX, &worst, &ok[k]);
		if (st == QVK_OK)
			st = qvk_attn_rig_bind_prefill(rig, k, QVK_ATTN_TUNE_PM_ODD,
						       odd);
		if (st == QVK_OK)
			st = qvk_attn_rig_check(rig, odd, QVK_ATTN_TUNE_PM_ODD,
						QVK_ATTN_TUNE_PM_ODD, &worst_odd,
						&ok_odd);
		ok[k] = ok[k] && ok_odd;
		if (st == QVK_OK && !ok[k])
			qvk_log(dev->ctx, QVK_LOG_WARN,
				"attention: prefill kernel %s gives errors up to "
				"%g from the C reference on %s: disabled",
				qvk_attn_prefill_name(k),
				worst > worst_odd ? worst : worst_odd,
				dev->info.name);
	}
	for (uint32_t r = 0; st == QVK_OK && r < QVK_ATTN_TUNE_REPS; r++)
		for (uint32_t k = 0; st == QVK_OK && k < QVK_ATTN_PREFILL_KINDS; k++) {
			double ms;

			if (!ok[k])
				continue;
			st = qvk_attn_rig_time(rig, ops2[k], QVK_ATTN_TUNE_PM,
					       QVK_ATTN_TUNE_PCTX, 1, &ms);
			if (st == QVK_OK && (r == 0 || ms < best_ms[k]))
				best_ms[k] = ms;
		}
	if (st != QVK_OK)
		return st;
	if (!ok[base])
		base = best = QVK_ATTN_PREFILL_ONEPASS;
	if (!ok[base])
		return qvk_error(dev->ctx, QVK_ERR_NUMERIC, "attention: prefill "
				 "with attention.comp disagrees with the C "
				 "reference");
	snprintf(note, note_len, "prefill ms for %u tokens after %u:",
		 QVK_ATTN_TUNE_PM, QVK_ATTN_TUNE_PCTX - QVK_ATTN_TUNE_PM);
	for (uint32_t k = 0; k < QVK_ATTN_PREFILL_KINDS; k++) {
		if (!ok[k])
			continue;
		used = strlen(note);
		snprintf(note + used, note_len - used, " %s %.3f",
			 qvk_attn_prefill_name(k), best_ms[k]);
		if (best_ms[k] < best_ms[best])
			best = k;
	}
	if (!(best_ms[best] < QVK_ATTN_TUNE_MARGIN * best_ms[base]))
		best = base;
	dev->attn_prefill = best;
	return QVK_OK;
}

/* Check, then time every candidate; dev->attn_split_wgs and the note. */
static qvk_status qvk_attn_tune_measure(struct qvk_ops *ops)
{
	struct qvk_device *dev = ops->dev;
	struct qvk_op ops2[QVK_ATTN_TUNE_CANDS][2];
	double best_ms[QVK_ATTN_TUNE_CANDS] = { 0 };
	bool ok[QVK_ATTN_TUNE_CANDS] = { false };
	uint32_t best = 0;
	struct qvk_attn_rig rig;
	char pnote[240] = "";
	size_t used;
	qvk_status st;

	st = qvk_attn_rig_init(ops, QVK_ATTN_TUNE_HEADS, QVK_ATTN_TUNE_KV,
			       QVK_ATTN_TUNE_HD, QVK_ATTN_TUNE_CTX, QVK_ATTN_TUNE_PM,
			       qvk_attn_tune_splits[QVK_ATTN_TUNE_CANDS - 1],
			       &rig);
	if (st != QVK_OK)
		return st;
	for (uint32_t i = 0; st == QVK_OK && i < QVK_ATTN_TUNE_CANDS; i++) {
		uint32_t splits = qvk_attn_tune_splits[i];
		double worst = 0, worst_short = 0;
		bool ok_short = false;

		st = qvk_attn_rig_bind(&rig, splits, ops2[i]);
		/* The whole cache, and a context that leaves splits empty. */
		if (st == QVK_OK)
			st = qvk_attn_rig_check(&rig, ops2[i], 1, QVK_ATTN_TUNE_CTX,
						&worst, &ok[i]);
		if (st == QVK_OK)
			st = qvk_attn_rig_check(&rig, ops2[i], 1,
						ops->attn_split_min + 3,
						&worst_short, &ok_short);
		ok[i] = ok[i] && ok_short;
		if (st == QVK_OK && !ok[i])
			qvk_log(dev->ctx, QVK_LOG_WARN,
				"attention: %u splits (0: one pass) give errors "
				"up to %g from the C reference on %s: disabled",
				splits, worst > worst_short ? worst : worst_short,
				dev->info.name);
	}
	for (uint32_t r = 0; st == QVK_OK && r < QVK_ATTN_TUNE_REPS; r++)
		for (uint32_t i = 0; st == QVK_OK && i < QVK_ATTN_TUNE_CANDS; i++) {
			double ms;

			if (!ok[i])
				continue;
			st = qvk_attn_rig_time(&rig, ops2[i], 1, QVK_ATTN_TUNE_CTX,
					       QVK_ATTN_TUNE_CALLS, &ms);
			if (st == QVK_OK && (r == 0 || ms < best_ms[i]))
				best_ms[i] = ms;
		}
	if (st == QVK_OK)
		st = qvk_attn_tune_prefill(ops, &rig, pnote, sizeof(pnote));
	qvk_attn_rig_finish(&rig);
	if (st != QVK_OK)
		return st;
	if (!ok[0])
		return qvk_error(dev->ctx, QVK_ERR_NUMERIC, "attention: the "
				 "one-pass kernel disagrees with the C reference");
	snprintf(dev->attn_tune_note, sizeof(dev->attn_tune_note),
		 "ms per token at %u positions of %u/%u heads of %u: one pass "
		 "%.3f", QVK_ATTN_TUNE_CTX, QVK_ATTN_TUNE_HEADS, QVK_ATTN_TUNE_KV,
		 QVK_ATTN_TUNE_HD, best_ms[0]);
	for (uint32_t i = 1; i < QVK_ATTN_TUNE_CANDS; i++) {
		used = strlen(dev->attn_tune_note);
		if (ok[i])
			snprintf(dev->attn_tune_note + used,
				 sizeof(dev->attn_tune_note) - used,
				 ", split x%u %.3f", qvk_attn_tune_splits[i],
				 best_ms[i]);
		if (ok[i] && (!best || best_ms[i] < best_ms[best]))
			best = i;
	}
	if (best && !(best_ms[best] < QVK_ATTN_TUNE_MARGIN * best_ms[0]))
		best = 0;
	used = strlen(dev->attn_tune_note);
	snprintf(dev->attn_tune_note + used, sizeof(dev->attn_tune_note) - used,
		 "; %s", pnote);
	dev->attn_split_wgs = qvk_attn_tune_splits[best] * QVK_ATTN_TUNE_KV;
	return QVK_OK;
}

void qvk_ops_attn_tune(struct qvk_ops *ops)
{
	struct qvk_device *dev = ops->dev;
	uint64_t hash = qvk_attn_tune_hash(ops);
	char path[600];
	bool have_path = qvk_cache_sibling_path(dev, "-attention.tune", path,
						sizeof(path));
	struct timespec t0, t1;
	qvk_status st;

	/* Once per device and process; once per cache folder on disk. */
	if (dev->attn_tuned) {
		ops->attn_split_wgs = dev->attn_split_wgs;
		if (!ops->attn_prefill_forced)
			ops->attn_prefill = (enum qvk_attn_prefill)dev->attn_prefill;
		return;
	}
	if (!have_path || !qvk_attn_tune_load(dev, path, hash)) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		st = qvk_attn_tune_measure(ops);
		if (st != QVK_OK) {
			/* Not fatal: one pass runs, untimed. */
			qvk_log(dev->ctx, QVK_LOG_WARN, "attention tuning "
				"failed (%s): one-pass decode kept",
				qvk_ctx_message(dev->ctx));
			dev->attn_split_wgs = 0;
			dev->attn_prefill = ops->cpu_attention ?
				QVK_ATTN_PREFILL_SUBGROUP : QVK_ATTN_PREFILL_ONEPASS;
			snprintf(dev->attn_tune_note, sizeof(dev->attn_tune_note),
				 "tuning failed");
		} else {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			qvk_log(dev->ctx, QVK_LOG_INFO, "attention tuned in "
				"%.0f ms: %s", (t1.tv_sec - t0.tv_sec) * 1e3 +
				(t1.tv_nsec - t0.tv_nsec) * 1e-6,
				dev->attn_tune_note);
			if (have_path)
				qvk_attn_tune_save(dev, path, hash);
		}
	}
	dev->attn_tuned = true;
	ops->attn_split_wgs = dev->attn_split_wgs;
	if (!ops->attn_prefill_forced)
		ops->attn_prefill = (enum qvk_attn_prefill)dev->attn_prefill;
}

void qvk_ops_attn_describe(const struct qvk_ops *ops, char *buf, size_t len)
{
	const struct qvk_device *dev = ops->dev;
	size_t used;

	if (ops->attn_split_wgs)
		snprintf(buf, len, "split-KV decode, %u workgroups (splits of "
			 ">= %u positions) (%s)", ops->attn_split_wgs,
			 ops->attn_split_min, dev->attn_tuned ?
			 dev->attn_tune_note : "not tuned");
	else
		snprintf(buf, len, "one pass per kv head (%s)", dev->attn_tuned ?
			 dev->attn_tune_note : "not tuned");
	used = strlen(buf);
	snprintf(buf + used, len - used, "; prefill: %s%s",
		 qvk_attn_prefill_name(ops->attn_prefill),
		 ops->attn_prefill_forced ? " (forced by QVK_ATTN_PREFILL or "
					    "options)" : "");
}
