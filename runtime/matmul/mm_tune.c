/* SPDX-License-Identifier: MIT */
/*
 * The grouped kernel of each kind (Q8, Q4; Q4A takes Q4's), chosen on this
 * device from measured timings instead of device-type guesses.
 *
 * Each candidate (variant x rows per invocation the device can run) first
 * runs decode matmuls whose exact answers are known: integer codes,
 * activation codes in [-15, 15] and power-of-two scales (1 or 2), so every
 * partial sum is an integer below 2^24 and the fp32 result must equal the
 * C reference's int32 dots bit for bit, in any summation order. A
 * candidate that differs (drivers ship integer-dot bugs) is disabled with
 * a log line. The correct ones are timed on the same calls; the fastest is
 * kept for the device, and written to a ".tune" file beside the
 * pipeline cache, keyed by a hash of the kernels' SPIR-V, so later starts
 * skip all of this. The file is outside input: anything unexpected in it
 * means tuning again. After decode, the prefill kernel of each kind is
 * chosen the same way between that decode kernel and the tiles of
 * matmul_q_tiled (mm_tiled.c), and kept in the same file.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <qvk/fp16.h>

#include "shaders.h"
#include "matmul/matmul.h"

/*
 * The decode shapes timed: many rows (TinyLlama's FFN up; 4000 is no
 * multiple of any workgroup's rows) and few long ones (its FFN down). One
 * shape alone picked 4 rows an invocation on lavapipe, 2-3x slower than 1
 * on the long rows; the kernel kept is the one with the least time summed
 * over both, each relative to that shape's fastest.
 */
static const uint32_t qvk_tune_shapes[][2] = { { 4000, 2048 }, { 2048, 5632 } };
#define QVK_TUNE_SHAPES 2u /* the note prints both */
_Static_assert(QVK_ARRAY_SIZE(qvk_tune_shapes) == QVK_TUNE_SHAPES,
	       "one entry per decode shape timed");
#define QVK_TUNE_FILE_VERSION 3u

static const char *const qvk_tune_kind_names[] = { "", "q8", "q4", "q4a" };

_Static_assert(sizeof(((struct qvk_mm *)0)->q) ==
		       sizeof(((struct qvk_device *)0)->mm_choice),
	       "the device keeps one choice per grouped kind");
_Static_assert(sizeof(((struct qvk_mm *)0)->prefill) ==
		       sizeof(((struct qvk_device *)0)->mm_prefill),
	       "the device keeps one prefill choice per grouped kind");
_Static_assert(sizeof(((struct qvk_mm *)0)->tune_note) ==
		       sizeof(((struct qvk_device *)0)->mm_tune_note),
	       "the device keeps the whole note");

static uint64_t qvk_tune_fnv(uint64_t h, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n--)
		h = (h ^ *b++) * 0x100000001b3ull;
	return h;
}

/*
 * The kernels' SPIR-V (both integer paths) and the prefill tiles this
 * device is offered: a new build, or new host rules for the tiles,
 * retunes (a stored choice is only ever one of the candidates timed).
 */
static uint64_t qvk_tune_hash(const struct qvk_mm *mm)
{
	static const char *const names[] = {
		"matmul_q_intdot",	   "matmul_q_fallback",
		"matmul_q_sg_intdot",	   "matmul_q_sg_fallback",
		"matmul_q_texel_intdot", "matmul_q_texel_fallback",
		"matmul_q_tiled_intdot", "matmul_q_tiled_fallback",
	};
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < QVK_ARRAY_SIZE(names); i++) {
		const struct qvk_spirv *s = qvk_spirv_find(names[i]);

		if (s)
			h = qvk_tune_fnv(h, s->code, s->size_bytes);
	}
	for (uint32_t i = 0; i < mm->n_tiles; i++) {
		char name[32];

		qvk_mm_tile_name(&mm->tiles[i], name, sizeof(name));
		h = qvk_tune_fnv(h, name, strlen(name) + 1);
	}
	return h;
}

/*
 * "<pipeline cache path minus .pipelines>-intdot.tune" (or -fallback:
 * the integer path changes every kernel), or false.
 */
static bool qvk_tune_path(const struct qvk_device *dev, char *path,
			  size_t len)
{
	return qvk_cache_sibling_path(dev, dev->use_int_dot ? "-intdot.tune" :
							      "-fallback.tune",
				      path, len);
}

static bool qvk_tune_parse_choice(const struct qvk_mm *mm, const char *v,
				  uint32_t rpi, struct qvk_mm_choice *out)
{
	for (uint32_t i = 0; i < QVK_MM_VARIANT_COUNT; i++)
		if (!strcmp(v, qvk_mm_variant_shader(i)) && mm->can[i] &&
		    (rpi == 1 || rpi == 2 || rpi == 4) &&
		    (i != QVK_MM_SUBGROUP || rpi == 1)) {
			*out = (struct qvk_mm_choice){ i, rpi };
			return true;
		}
	return false;
}

/* A prefill choice: "decode" (0) or one of this device's tiles. */
static bool qvk_tune_parse_prefill(const struct qvk_mm *mm, const char *v,
				   uint32_t *out)
{
	char name[32];

	*out = 0;
	if (!strcmp(v, "decode"))
		return true;
	for (uint32_t i = 0; i < mm->n_tiles; i++) {
		qvk_mm_tile_name(&mm->tiles[i], name, sizeof(name));
		if (!strcmp(v, name)) {
			*out = i + 1;
			return true;
		}
	}
	return false;
}

static void qvk_tune_prefill_name(const struct qvk_mm *mm, uint32_t p,
				  char *buf, size_t len)
{
	if (p)
		qvk_mm_tile_name(&mm->tiles[p - 1], buf, len);
	else
		snprintf(buf, len, "decode");
}

/*
 * The stored choices: "qvk-matmul-tune VERSION HASH", one "KIND SHADER
 * RPI PREFILL" line per kind (PREFILL "decode" or a tile of
 * matmul_q_tiled), "note TEXT". False (nothing changed) on anything else.
 */
static bool qvk_tune_load(struct qvk_mm *mm, const char *path, uint64_t hash)
{
	struct qvk_mm_choice got[QVK_ARRAY_SIZE(mm->q)];
	uint32_t got_prefill[QVK_ARRAY_SIZE(mm->q)] = { 0 };
	char line[sizeof(mm->tune_note) + 8], word[64], shader[64], prefill[64];
	unsigned version, rpi;
	uint64_t file_hash;
	bool ok = true;
	FILE *f = fopen(path, "re");

	if (!f)
		return false;
	memset(got, 0, sizeof(got));
	ok = fgets(line, sizeof(line), f) &&
	     sscanf(line, "qvk-matmul-tune %u %" SCNx64, &version,
		    &file_hash) == 2 &&
	     version == QVK_TUNE_FILE_VERSION && file_hash == hash;
	for (uint32_t k = QVK_MM_Q8; ok && k <= QVK_MM_Q4A; k++)
		ok = fgets(line, sizeof(line), f) &&
		     sscanf(line, "%63s %63s %u %63s", word, shader, &rpi,
			    prefill) == 4 &&
		     !strcmp(word, qvk_tune_kind_names[k]) &&
		     qvk_tune_parse_choice(mm, shader, rpi, &got[k]) &&
		     qvk_tune_parse_prefill(mm, prefill, &got_prefill[k]);
	if (ok && fgets(line, sizeof(line), f) && !strncmp(line, "note ", 5)) {
		line[strcspn(line, "\n")] = 0;
		snprintf(mm->tune_note, sizeof(mm->tune_note), "%.*s",
			 (int)sizeof(mm->tune_note) - 1, line + 5);
	} else {
		ok = false;
	}
	fclose(f);
	if (!ok) {
		mm->tune_note[0] = 0;
		qvk_log(mm->dev->ctx, QVK_LOG_INFO, "matmul tuning %s is stale "
			"or malformed: tuning again", path);
		return false;
	}
	for (uint32_t k = QVK_MM_Q8; k <= QVK_MM_Q4A; k++) {
		mm->q[k] = got[k];
		mm->prefill[k] = got_prefill[k];
	}
	return true;
}

static void qvk_tune_save(struct qvk_mm *mm, const char *path, uint64_t hash)
{
	char text[sizeof(mm->tune_note) + 1024], prefill[32];
	int n = snprintf(text, sizeof(text), "qvk-matmul-tune %u %016" PRIx64
			 "\n", QVK_TUNE_FILE_VERSION, hash);

	for (uint32_t k = QVK_MM_Q8; k <= QVK_MM_Q4A; k++) {
		qvk_tune_prefill_name(mm, mm->prefill[k], prefill,
				      sizeof(prefill));
		n += snprintf(text + n, sizeof(text) - (size_t)n,
			      "%s %s %u %s\n", qvk_tune_kind_names[k],
			      qvk_mm_variant_shader(mm->q[k].variant),
			      mm->q[k].rpi, prefill);
	}
	snprintf(text + n, sizeof(text) - (size_t)n, "note %s\n", mm->tune_note);
	qvk_cache_text_save(mm->dev, path, text, "matmul tuning");
}

static uint32_t qvk_tune_rand(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(*s >> 32);
}

qvk_status qvk_mm_tune_case_create(struct qvk_mm *mm, enum qvk_qformat fmt,
				   uint32_t m, uint32_t n, uint32_t k,
				   struct qvk_mm_tune_case *c)
{
	struct qvk_device *dev = mm->dev;
	struct qvk_ctx *ctx = dev->ctx;
	const uint16_t one = qvk_fp16_from_f32(1.0f), two = qvk_fp16_from_f32(2.0f);
	uint64_t seed = 0x7a11u + fmt;
	int32_t *dots = NULL;
	qvk_status st;
	size_t words;
	uint32_t blocks;

	memset(c, 0, sizeof(*c));
	c->m = m;
	c->n = n;
	st = qvk_qtensor_create(ctx, fmt, n, k, 32, &c->qt);
	if (st == QVK_OK)
		st = qvk_qact_create(ctx, QVK_ACT_PER_BLOCK32, m, k,
				     c->qt->k_padded, &c->qa);
	if (st != QVK_OK)
		return st;
	words = (size_t)n * c->qt->row_words;
	/* Q8 codes in [-127, 127], as the quantizer writes them. */
	for (size_t i = 0; i < words; i++) {
		uint32_t v = qvk_tune_rand(&seed);

		for (uint32_t l = 0; fmt == QVK_QFORMAT_Q8 && l < 4; l++)
			if ((v >> (8 * l) & 0xff) == 0x80)
				v ^= 1u << (8 * l);
		c->qt->qs[i] = v;
	}
	for (size_t i = 0; i < (size_t)n * c->qt->n_groups; i++)
		c->qt->scales[i] = qvk_tune_rand(&seed) & 1 ? two : one;
	/* Activation codes in [-15, 15]: |partial sums| < 2^24 (above). */
	blocks = c->qa->k_padded / 32;
	for (uint32_t b = 0; b < m * blocks; b++) {
		int32_t sum = 0;

		for (uint32_t i = 0; i < 8; i++) {
			uint32_t word = 0;

			for (uint32_t l = 0; l < 4; l++) {
				int32_t q = (int32_t)(qvk_tune_rand(&seed) % 31) - 15;

				if (b % blocks * 32 + i * 4 + l >= k)
					q = 0;
				sum += q;
				word |= (uint32_t)(uint8_t)(int8_t)q << (8 * l);
			}
			c->qa->qs[b * 8 + i] = word;
		}
		c->qa->sums[b] = sum;
		c->qa->scales[b] = qvk_tune_rand(&seed) & 1 ? 2.0f : 1.0f;
	}
	c->want = malloc((size_t)m * n * sizeof(float));
	c->got = malloc((size_t)m * n * sizeof(float));
	dots = malloc((size_t)m * n * blocks * sizeof(*dots));
	if (!c->want || !c->got || !dots) {
		st = qvk_error(ctx, QVK_ERR_NO_MEMORY, "matmul tuning");
		goto out_free_dots;
	}
	/* The int32 block dots of the C reference, scaled exactly. */
	st = qvk_ref_qdots(ctx, c->qt, c->qa, dots);
	for (size_t o = 0; st == QVK_OK && o < (size_t)m * n; o++) {
		size_t t = o / n, j = o % n;
		int64_t acc = 0;

		for (uint32_t b = 0; b < blocks; b++)
			acc += (int64_t)dots[o * blocks + b] *
			       (c->qt->scales[j * c->qt->n_groups + b] ==
					two ? 2 : 1) *
			       (int64_t)c->qa->scales[t * blocks + b];
		c->want[o] = (float)acc;
	}
	if (st == QVK_OK)
		st = qvk_mm_weight_upload_q(dev, c->qt, &c->w);
	if (st == QVK_OK)
		st = qvk_mm_act_create(dev, m, k, true, &c->a);
	if (st == QVK_OK)
		st = qvk_mm_act_write_q(c->a, c->qa);
	if (st == QVK_OK)
		st = qvk_buffer_create(dev, QVK_MEM_READBACK,
				       (VkDeviceSize)m * n * sizeof(float), 4,
				       &c->y);
out_free_dots:
	free(dots);
	return st;
}

void qvk_mm_tune_case_destroy(struct qvk_mm_tune_case *c)
{
	qvk_buffer_destroy(c->y);
	qvk_mm_act_destroy(c->a);
	qvk_mm_weight_destroy(c->w);
	qvk_qact_destroy(c->qa);
	qvk_qtensor_destroy(c->qt);
	free(c->want);
	free(c->got);
}

double qvk_mm_tune_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

qvk_status qvk_mm_tune_check(struct qvk_cmd *cmd,
			     const struct qvk_mm_binding *b,
			     struct qvk_mm_tune_case *c, size_t *bad)
{
	size_t outs = (size_t)c->m * c->n;
	qvk_status st;

	qvk_buffer_fill_u32(c->y, 0x7fc00000u); /* NaN: unwritten rows fail */
	st = qvk_cmd_begin(cmd);
	if (st != QVK_OK)
		return st;
	qvk_mm_record(cmd, b, c->m);
	qvk_cmd_barrier(cmd);
	st = qvk_cmd_submit_wait(cmd, true);
	if (st == QVK_OK)
		st = qvk_buffer_read(c->y, 0, c->got, outs * sizeof(float));
	for (*bad = 0; st == QVK_OK && *bad < outs; (*bad)++)
		if (!(c->got[*bad] == c->want[*bad])) /* NaN fails */
			break;
	return st;
}

qvk_status qvk_mm_tune_time(struct qvk_cmd *cmd,
			    const struct qvk_mm_binding *b, uint32_t m,
			    double *ms)
{
	double t0 = qvk_mm_tune_now_ms(), ns[2];
	qvk_status st = qvk_cmd_begin(cmd);

	if (st != QVK_OK)
		return st;
	if (cmd->timestamps) {
		qvk_cmd_timestamps_reset(cmd);
		qvk_cmd_timestamp(cmd, 0);
	}
	/* A barrier between calls, as in a forward pass. */
	for (uint32_t i = 0; i < QVK_MM_TUNE_CALLS; i++) {
		qvk_mm_record(cmd, b, m);
		qvk_cmd_barrier(cmd);
	}
	if (cmd->timestamps)
		qvk_cmd_timestamp(cmd, 1);
	st = qvk_cmd_submit_wait(cmd, true);
	*ms = qvk_mm_tune_now_ms() - t0;
	if (st == QVK_OK && cmd->timestamps) {
		st = qvk_cmd_timestamps_read_ns(cmd, 2, ns);
		*ms = ns[1] * 1e-6;
	}
	*ms /= QVK_MM_TUNE_CALLS;
	return st;
}

/* Variant x rows per invocation, where the device can run them. */
#define QVK_TUNE_MAX_CANDS 9u

static uint32_t qvk_tune_candidates(const struct qvk_mm *mm,
				    const struct qvk_mm_tune_case *c,
				    struct qvk_mm_choice *cands)
{
	static const uint32_t rpis[] = { 1, 2, 4 };
	uint32_t n = 0;

	for (uint32_t v = 0; v < QVK_MM_VARIANT_COUNT; v++)
		for (size_t r = 0; r < QVK_ARRAY_SIZE(rpis); r++)
			/* One row per subgroup; four rows per lane only
			 * where texel loads keep the registers few. */
			if (mm->can[v] &&
			    (v != QVK_MM_SUBGROUP || rpis[r] == 1) &&
			    (v != QVK_MM_LANES || rpis[r] != 4) &&
			    (v != QVK_MM_TEXEL || c->w->qs_views))
				cands[n++] = (struct qvk_mm_choice){ v, rpis[r] };
	return n;
}

/*
 * Tune kind @fmt; the note gets "q8: q x1 1.23/4.56, ..." (ms per call on
 * each shape). The candidates are timed in turns, best of QVK_MM_TUNE_REPS
 * each, so that a busy spell of the machine hits all of them alike.
 */
static qvk_status qvk_tune_kind(struct qvk_mm *mm, enum qvk_qformat fmt,
				char *note, size_t note_len)
{
	struct qvk_mm_binding binds[QVK_TUNE_SHAPES][QVK_TUNE_MAX_CANDS];
	struct qvk_mm_choice cands[QVK_TUNE_MAX_CANDS];
	double best_ms[QVK_TUNE_SHAPES][QVK_TUNE_MAX_CANDS] = { { 0 } };
	double fastest[QVK_TUNE_SHAPES] = { 0 }, score[QVK_TUNE_MAX_CANDS];
	bool ok[QVK_TUNE_MAX_CANDS];
	char others[300] = "";
	uint32_t n_cands = 0, n_bound[QVK_TUNE_SHAPES] = { 0 }, best = UINT32_MAX;
	struct qvk_mm_tune_case c[QVK_TUNE_SHAPES];
	struct qvk_cmd cmd = { 0 };
	qvk_status st = QVK_OK;

	memset(binds, 0, sizeof(binds));
	memset(c, 0, sizeof(c));
	for (uint32_t s = 0; st == QVK_OK && s < QVK_TUNE_SHAPES; s++)
		st = qvk_mm_tune_case_create(mm, fmt, 1, qvk_tune_shapes[s][0],
					     qvk_tune_shapes[s][1], &c[s]);
	if (st == QVK_OK)
		st = qvk_cmd_init(mm->dev, &cmd);
	if (st == QVK_OK && mm->dev->info.timestamps)
		st = qvk_cmd_timestamps_init(&cmd, 2);
	if (st == QVK_OK)
		n_cands = qvk_tune_candidates(mm, &c[0], cands);
	for (uint32_t i = 0; i < n_cands; i++)
		ok[i] = true;
	for (uint32_t s = 0; s < QVK_TUNE_SHAPES; s++)
		for (uint32_t i = 0; st == QVK_OK && i < n_cands; i++) {
			uint32_t n = qvk_tune_shapes[s][0];
			size_t row = 0;

			mm->q[fmt] = cands[i];
			st = qvk_mm_bind(mm, c[s].w, c[s].a, c[s].y, n, false,
					 NULL, &binds[s][i]);
			if (st == QVK_OK)
				n_bound[s]++;
			if (st == QVK_OK && ok[i])
				st = qvk_mm_tune_check(&cmd, &binds[s][i], &c[s],
						       &row);
			if (st != QVK_OK || !ok[i] || row == n)
				continue;
			ok[i] = false;
			qvk_log(mm->dev->ctx, QVK_LOG_WARN,
				"matmul: %s (%u rows per invocation) gives %s "
				"row %zu = %g where the C reference gives %g on "
				"%s: disabled", qvk_mm_variant_shader(cands[i].variant),
				cands[i].rpi, qvk_tune_kind_names[fmt], row,
				c[s].got[row], c[s].want[row], mm->dev->info.name);
		}
	for (uint32_t r = 0; st == QVK_OK && r < QVK_MM_TUNE_REPS; r++)
		for (uint32_t i = 0; i < n_cands; i++)
			for (uint32_t s = 0; st == QVK_OK && ok[i] &&
					     s < QVK_TUNE_SHAPES; s++) {
				double ms;

				st = qvk_mm_tune_time(&cmd, &binds[s][i], 1, &ms);
				if (st == QVK_OK && (r == 0 || ms < best_ms[s][i]))
					best_ms[s][i] = ms;
			}
	for (uint32_t s = 0; st == QVK_OK && s < QVK_TUNE_SHAPES; s++)
		for (uint32_t i = 0; i < n_cands; i++)
			if (ok[i] && (!fastest[s] || best_ms[s][i] < fastest[s]))
				fastest[s] = best_ms[s][i];
	for (uint32_t i = 0; st == QVK_OK && i < n_cands; i++) {
		size_t used = strlen(others);

		if (!ok[i])
			continue;
		score[i] = 0;
		for (uint32_t s = 0; s < QVK_TUNE_SHAPES; s++)
			score[i] += fastest[s] > 0 ? best_ms[s][i] / fastest[s] : 1;
		snprintf(others + used, sizeof(others) - used,
			 "%s%s x%u %.3f/%.3f", used ? ", " : "",
			 qvk_mm_variant_shader(cands[i].variant) + 7,
			 cands[i].rpi, best_ms[0][i], best_ms[1][i]);
		if (best == UINT32_MAX || score[i] < score[best])
			best = i;
	}
	mm->q[fmt] = best != UINT32_MAX ? cands[best] : mm->fallback;
	if (st == QVK_OK && best == UINT32_MAX)
		qvk_log(mm->dev->ctx, QVK_LOG_WARN, "matmul: no %s kernel "
			"matches the C reference on %s; keeping %s",
			qvk_tune_kind_names[fmt], mm->dev->info.name,
			qvk_mm_variant_shader(mm->fallback.variant));
	snprintf(note, note_len, "%s: %s", qvk_tune_kind_names[fmt],
		 others[0] ? others : "none correct");
	for (uint32_t s = 0; s < QVK_TUNE_SHAPES; s++)
		while (n_bound[s]--)
			qvk_mm_unbind(&binds[s][n_bound[s]]);
	qvk_cmd_finish(&cmd);
	for (uint32_t s = 0; s < QVK_TUNE_SHAPES; s++)
		qvk_mm_tune_case_destroy(&c[s]);
	return st;
}

void qvk_mm_tune(struct qvk_mm *mm)
{
	struct qvk_device *dev = mm->dev;
	struct qvk_mm_choice saved[QVK_ARRAY_SIZE(mm->q)];
	char path[600], n8[312], n4[312], p8[160], p4[160];
	uint64_t hash = qvk_tune_hash(mm);
	bool have_path = qvk_tune_path(dev, path, sizeof(path));
	double t0 = qvk_mm_tune_now_ms();
	qvk_status st;

	/* Once per device and process; once per cache folder on disk. */
	if (dev->mm_tuned) {
		memcpy(mm->q, dev->mm_choice, sizeof(mm->q));
		memcpy(mm->prefill, dev->mm_prefill, sizeof(mm->prefill));
		snprintf(mm->tune_note, sizeof(mm->tune_note), "%s",
			 dev->mm_tune_note);
		return;
	}
	memcpy(saved, mm->q, sizeof(saved));
	if (!have_path || !qvk_tune_load(mm, path, hash)) {
		st = qvk_tune_kind(mm, QVK_QFORMAT_Q8, n8, sizeof(n8));
		if (st == QVK_OK)
			st = qvk_tune_kind(mm, QVK_QFORMAT_Q4, n4, sizeof(n4));
		/* Prefill after decode: its first candidate is that kernel. */
		if (st == QVK_OK)
			st = qvk_mm_tune_prefill(mm, QVK_QFORMAT_Q8, p8,
						 sizeof(p8));
		if (st == QVK_OK)
			st = qvk_mm_tune_prefill(mm, QVK_QFORMAT_Q4, p4,
						 sizeof(p4));
		if (st != QVK_OK) {
			/* Not fatal: the defaults run, untimed. */
			qvk_log(dev->ctx, QVK_LOG_WARN, "matmul tuning failed "
				"(%s): device defaults kept",
				qvk_ctx_message(dev->ctx));
			memcpy(mm->q, saved, sizeof(saved));
			memset(mm->prefill, 0, sizeof(mm->prefill));
			return;
		}
		/* Q4A is Q4's loop with a second scale: the same choice. */
		mm->q[QVK_MM_Q4A] = mm->q[QVK_MM_Q4];
		mm->prefill[QVK_MM_Q4A] = mm->prefill[QVK_MM_Q4];
		snprintf(mm->tune_note, sizeof(mm->tune_note), "ms per %ux%u/"
			 "%ux%u call: %s; %s; %s; %s", qvk_tune_shapes[0][0],
			 qvk_tune_shapes[0][1], qvk_tune_shapes[1][0],
			 qvk_tune_shapes[1][1], n8, n4,
			 p8, p4);
		qvk_log(dev->ctx, QVK_LOG_INFO, "matmul tuned in %.0f ms: %s",
			qvk_mm_tune_now_ms() - t0, mm->tune_note);
		if (have_path)
			qvk_tune_save(mm, path, hash);
	}
	memcpy(dev->mm_choice, mm->q, sizeof(mm->q));
	memcpy(dev->mm_prefill, mm->prefill, sizeof(mm->prefill));
	snprintf(dev->mm_tune_note, sizeof(dev->mm_tune_note), "%s",
		 mm->tune_note);
	dev->mm_tuned = true;
}
