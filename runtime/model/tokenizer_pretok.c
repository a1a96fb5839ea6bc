/* SPDX-License-Identifier: MIT */
/*
 * BPE pre-tokenizers: the text is cut into words before merging, by the
 * regular expressions that tokenizer.ggml.pre names. These reproduce
 * llama.cpp (src/unicode.cpp, src/llama-vocab.cpp) exactly, which is what
 * GGUF files are made and tested against:
 *
 * - the GPT-2 and Llama 3 / Qwen2 expressions, which llama.cpp matches
 *   with hand-written code (unicode_regex_split_custom_*), are translated
 *   from that code, including its edge cases;
 * - the others, which llama.cpp runs through std::regex, all have one of a
 *   few shapes (C+, \s?C+, C, \s+$, [0-9]{3}) over a character class C, so
 *   each step is a shape and a class. std::regex sees either the
 *   "collapsed" text, where every codepoint >= 128 is replaced by a byte
 *   standing for its category, or the codepoints themselves; in both,
 *   non-ASCII white space is replaced by \v. The classes below encode
 *   exactly what such a replaced character can match.
 *
 * Each step splits every piece the previous one made: the matches and the
 * text between them become pieces. Pieces are counted in codepoints.
 */
#include <stdio.h>
#include <string.h>

#include "tokenizer_internal.h"

/*
 * A character class: explicit codepoint ranges (ASCII included), plus, for
 * codepoints >= 128 that are not white space, the categories (bits of
 * enum qvk_ucat) the collapsed text's category byte stands for. Non-ASCII
 * white space is \v (0x0b) to std::regex, so it is a member if \v is.
 */
struct qvk_cpclass {
	const uint32_t *ranges; /* [lo, hi] pairs */
	uint32_t n_ranges;
	unsigned cats;
};

enum qvk_pretok_shape {
	QVK_PRETOK_GPT2,     /* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+|... */
	QVK_PRETOK_LLAMA3,   /* (?i:'s|...)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|... */
	QVK_PRETOK_RUN,      /* C+ */
	QVK_PRETOK_SPACE_RUN, /* \s?C+ */
	QVK_PRETOK_EACH,     /* C */
	QVK_PRETOK_TRAILING_SPACE, /* \s+$ */
	QVK_PRETOK_DIGITS3,  /* [0-9][0-9][0-9] */
};

struct qvk_pretok_step {
	enum qvk_pretok_shape shape;
	const struct qvk_cpclass *cls;
	/* LLAMA3: digits per group (3: Llama 3, 1: Qwen2) and whether letter
	 * runs take marks too (Qwen3.5's [\p{L}\p{M}]+) */
	uint8_t max_digits;
	bool marks;
};

#define QVK_PRETOK_MAX_STEPS 6

struct qvk_pretok {
	const char *const *names; /* NULL-terminated tokenizer.ggml.pre values */
	struct qvk_pretok_step steps[QVK_PRETOK_MAX_STEPS];
	uint32_t n_steps;
	/* llama.cpp's per-type flags: a word that is a token skips merging;
	 * BOS by default (tokenizer.ggml.add_bos_token still decides) */
	bool ignore_merges, add_bos;
};

/* ------------------------------------------------------------ classes */

#define QVK_RANGES(...) (const uint32_t[]){ __VA_ARGS__ }, \
	sizeof((const uint32_t[]){ __VA_ARGS__ }) / (2 * sizeof(uint32_t))
#define QVK_CAT(c) (1u << QVK_UCAT_##c)

/* \p{N} collapsed: 0-9 and the NUMBER byte */
static const struct qvk_cpclass qvk_cls_number = {
	QVK_RANGES('0', '9'), QVK_CAT(NUMBER) };
/* \p{L} collapsed */
static const struct qvk_cpclass qvk_cls_letter = {
	QVK_RANGES('A', 'Z', 'a', 'z'), QVK_CAT(LETTER) };
/* \p{P} collapsed: llama.cpp's ASCII punctuation !-#%-*,-/:-;?-@[-]_{} */
#define QVK_ASCII_PUNCT '!', '#', '%', '*', ',', '/', ':', ';', '?', '@', \
	'[', ']', '_', '_', '{', '{', '}', '}'
static const struct qvk_cpclass qvk_cls_punct = {
	QVK_RANGES(QVK_ASCII_PUNCT), QVK_CAT(PUNCT) };
/* [\p{P}\$\+<=>\^~\|] (default) and the same with ` (falcon) */
static const struct qvk_cpclass qvk_cls_punct_sym = {
	QVK_RANGES(QVK_ASCII_PUNCT, '$', '$', '+', '+', '<', '>', '^', '^',
		   '~', '~', '|', '|'), QVK_CAT(PUNCT) };
static const struct qvk_cpclass qvk_cls_punct_sym_tick = {
	QVK_RANGES(QVK_ASCII_PUNCT, '$', '$', '+', '+', '<', '>', '^', '^',
		   '~', '~', '|', '|', '`', '`'), QVK_CAT(PUNCT) };
static const struct qvk_cpclass qvk_cls_digit = { QVK_RANGES('0', '9'), 0 };
static const struct qvk_cpclass qvk_cls_newline = {
	QVK_RANGES('\n', '\n', '\r', '\r'), 0 };
/* deepseek-llm: the letters of its second expression, as written there */
static const struct qvk_cpclass qvk_cls_deepseek_letters = { QVK_RANGES(
	0x41, 0x5a, 0x61, 0x7a, 0xb5, 0xb5, 0xc0, 0xd6, 0xd8, 0xf6,
	0xf8, 0x1ba, 0x1bc, 0x1bf, 0x1c4, 0x293, 0x295, 0x2af, 0x370, 0x373,
	0x376, 0x377, 0x37b, 0x37d, 0x37f, 0x37f, 0x386, 0x386, 0x388, 0x38a,
	0x38c, 0x38c, 0x38e, 0x3a1, 0x3a3, 0x3f5, 0x3f7, 0x481, 0x48a, 0x52f,
	0x531, 0x556, 0x10a0, 0x10c5, 0x13a0, 0x13f5, 0x13f8, 0x13fd,
	0x1c90, 0x1cba, 0x1cbd, 0x1cbf, 0x1d00, 0x1d2b, 0x1d6b, 0x1d77,
	0x1d79, 0x1d9a, 0x1e00, 0x1f15, 0x1f18, 0x1f1d, 0x1f20, 0x1f45,
	0x1f48, 0x1f4d, 0x1f50, 0x1f57, 0x1f59, 0x1f59, 0x1f5b, 0x1f5b,
	0x1f5d, 0x1f5d, 0x1f5f, 0x1f7d, 0x1f80, 0x1fb4, 0x1fb6, 0x1fbc,
	0x1fbe, 0x1fbe, 0x1fc2, 0x1fc4, 0x1fc6, 0x1fcc, 0x1fd0, 0x1fd3,
	0x1fd6, 0x1fdb, 0x1fe0, 0x1fec, 0x1ff2, 0x1ff4, 0x1ff6, 0x1ffc,
	0x2102, 0x2102, 0x2107, 0x2107, 0x210a, 0x2113, 0x2115, 0x2115,
	0x2119, 0x211d, 0x2124, 0x2124, 0x2126, 0x2126, 0x2128, 0x2128,
	0x212a, 0x212d, 0x212f, 0x2134, 0x2139, 0x2139, 0x213c, 0x213f,
	0x2145, 0x2149, 0x214e, 0x214e, 0x2183, 0x2184, 0x2c00, 0x2c7b,
	0x2c7e, 0x2ce4, 0x2ceb, 0x2cee, 0x2cf2, 0x2cf3, 0xa640, 0xa66d,
	0xa680, 0xa69b, 0xa722, 0xa76f, 0xa771, 0xa787, 0xa78b, 0xa78e,
	0xab70, 0xabbf, 0xfb00, 0xfb06, 0xfb13, 0xfb17, 0xff21, 0xff3a,
	0xff41, 0xff5a, 0x10400, 0x1044f, 0x104b0, 0x104d3, 0x104d8, 0x104fb,
	0x10c80, 0x10cb2, 0x10cc0, 0x10cf2, 0x118a0, 0x118df, 0x1e900,
	0x1e943), 0 };
/* deepseek-llm: [!-/:-~！-／：-～‘-‟　-。] (U+3000 is white space, hence \v) */
static const struct qvk_cpclass qvk_cls_deepseek_punct = { QVK_RANGES(
	0x21, 0x2f, 0x3a, 0x7e, 0xff01, 0xff0f, 0xff1a, 0xff5e, 0x2018,
	0x201f, 0x3000, 0x3002), 0 };
/* [一-龥ࠀ-一가-퟿] */
static const struct qvk_cpclass qvk_cls_cjk = { QVK_RANGES(
	0x4e00, 0x9fa5, 0x800, 0x4e00, 0xac00, 0xd7ff), 0 };

/* ------------------------------------------------------- pre-tokenizers */

#define QVK_STEP(s, c) { QVK_PRETOK_##s, c, 0, false }
#define QVK_NAMES(...) (const char *const[]){ __VA_ARGS__, NULL }

static const struct qvk_pretok qvk_pretoks[] = {
	{ QVK_NAMES("default"), {
		QVK_STEP(RUN, &qvk_cls_punct_sym), QVK_STEP(GPT2, NULL),
		QVK_STEP(RUN, &qvk_cls_number), QVK_STEP(DIGITS3, &qvk_cls_digit) },
	  4, false, false },
	{ QVK_NAMES("llama-bpe", "llama3", "llama-v3", "falcon3", "falcon-h1",
		    "pixtral", "midm-2.0", "lfm2"),
	  { { QVK_PRETOK_LLAMA3, NULL, 3, false } }, 1, true, true },
	{ QVK_NAMES("dbrx", "smaug-bpe"),
	  { { QVK_PRETOK_LLAMA3, NULL, 3, false } }, 1, false, false },
	{ QVK_NAMES("qwen2", "deepseek-r1-qwen", "stablelm2", "megrez"),
	  { { QVK_PRETOK_LLAMA3, NULL, 1, false } }, 1, false, false },
	{ QVK_NAMES("qwen35"),
	  { { QVK_PRETOK_LLAMA3, NULL, 1, true } }, 1, false, false },
	{ QVK_NAMES("gpt-2", "phi-2", "mpt", "olmo", "jais", "exaone4"),
	  { QVK_STEP(GPT2, NULL) }, 1, false, false },
	{ QVK_NAMES("starcoder", "refact", "command-r", "smollm", "codeshell",
		    "exaone", "minerva-7b"),
	  { QVK_STEP(EACH, &qvk_cls_number), QVK_STEP(GPT2, NULL) }, 2, false,
	  false },
	{ QVK_NAMES("falcon"), {
		QVK_STEP(RUN, &qvk_cls_punct_sym_tick), QVK_STEP(GPT2, NULL),
		QVK_STEP(DIGITS3, &qvk_cls_digit) }, 3, false, false },
	{ QVK_NAMES("deepseek-llm"), {
		QVK_STEP(EACH, &qvk_cls_newline),
		QVK_STEP(SPACE_RUN, &qvk_cls_deepseek_letters),
		QVK_STEP(SPACE_RUN, &qvk_cls_deepseek_punct),
		QVK_STEP(TRAILING_SPACE, NULL), QVK_STEP(RUN, &qvk_cls_cjk),
		QVK_STEP(RUN, &qvk_cls_number) }, 6, false, false },
	{ QVK_NAMES("deepseek-coder"), {
		QVK_STEP(EACH, &qvk_cls_newline),
		QVK_STEP(SPACE_RUN, &qvk_cls_letter),
		QVK_STEP(SPACE_RUN, &qvk_cls_punct), QVK_STEP(RUN, &qvk_cls_cjk),
		QVK_STEP(EACH, &qvk_cls_number) }, 5, false, false },
};

const struct qvk_pretok *qvk_pretok_find(const char *name, size_t len)
{
	for (size_t i = 0; i < QVK_ARRAY_SIZE(qvk_pretoks); i++)
		for (const char *const *n = qvk_pretoks[i].names; *n; n++)
			if (strlen(*n) == len && !memcmp(*n, name, len))
				return &qvk_pretoks[i];
	return NULL;
}

bool qvk_pretok_ignore_merges(const struct qvk_pretok *p)
{
	return p->ignore_merges;
}

bool qvk_pretok_add_bos(const struct qvk_pretok *p)
{
	return p->add_bos;
}

size_t qvk_pretok_list(char *buf, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < QVK_ARRAY_SIZE(qvk_pretoks); i++)
		for (const char *const *s = qvk_pretoks[i].names; *s; s++) {
			int w = snprintf(buf + n, n < cap ? cap - n : 0, "%s%s",
					 n ? ", " : "", *s);

			n += w > 0 ? (size_t)w : 0;
		}
	return n;
}

/* ------------------------------------------------------------ splitting */

/* The text of one split: codepoints, their classes, and the piece list. */
struct qvk_pretok_text {
	const uint32_t *cp;
	const uint8_t *flags; /* qvk_unicode_flags() of each codepoint */
	uint32_t *out;        /* lengths of the pieces made so far */
	size_t n_out;
};

static bool qvk_cpclass_has(const struct qvk_cpclass *c, uint32_t cp,
			    unsigned flags)
{
	if (cp >= 128 && (flags & QVK_UFLAG_SPACE))
		cp = 0x0b; /* what std::regex sees for non-ASCII white space */
	else if (cp >= 128 && ((c->cats >> (flags & QVK_UCAT_MASK)) & 1))
		return true;
	for (uint32_t i = 0; i < c->n_ranges; i++)
		if (cp >= c->ranges[2 * i] && cp <= c->ranges[2 * i + 1])
			return true;
	return false;
}

/* std::regex's \s: ASCII white space, or \v standing for the rest. */
static bool qvk_regex_space(uint32_t cp, unsigned flags)
{
	return cp == ' ' || (cp >= '\t' && cp <= '\r') ||
	       (cp >= 128 && (flags & QVK_UFLAG_SPACE));
}

static void qvk_pretok_emit(struct qvk_pretok_text *t, size_t len)
{
	if (len)
		t->out[t->n_out++] = (uint32_t)len;
}

/*
 * std::regex_iterator over one piece [b, e): matches and the text between
 * them become pieces. @match returns the end of the match starting at @p,
 * or @p when none starts there.
 */
static void qvk_pretok_regex(struct qvk_pretok_text *t,
			     const struct qvk_pretok_step *s, size_t b,
			     size_t e)
{
	size_t gap = b, p = b;

	while (p < e) {
		size_t m = p;

		switch (s->shape) {
		case QVK_PRETOK_RUN:
			while (m < e && qvk_cpclass_has(s->cls, t->cp[m], t->flags[m]))
				m++;
			break;
		case QVK_PRETOK_SPACE_RUN:
			/* \s? first tries to take one, then to take none */
			if (p + 1 < e && qvk_regex_space(t->cp[p], t->flags[p]) &&
			    qvk_cpclass_has(s->cls, t->cp[p + 1], t->flags[p + 1]))
				m = p + 1;
			if (!qvk_cpclass_has(s->cls, t->cp[m], t->flags[m])) {
				m = p;
				break;
			}
			while (m < e && qvk_cpclass_has(s->cls, t->cp[m], t->flags[m]))
				m++;
			break;
		case QVK_PRETOK_EACH:
			m = p + qvk_cpclass_has(s->cls, t->cp[p], t->flags[p]);
			break;
		case QVK_PRETOK_TRAILING_SPACE:
			/* \s+$: only the run that reaches the end matches; no
			 * start inside a shorter run can, so skip it whole */
			while (m < e && qvk_regex_space(t->cp[m], t->flags[m]))
				m++;
			if (m != e) {
				p = m > p ? m : p + 1;
				continue;
			}
			break;
		case QVK_PRETOK_DIGITS3:
			while (m < e && m - p < 3 &&
			       qvk_cpclass_has(s->cls, t->cp[m], t->flags[m]))
				m++;
			if (m - p < 3)
				m = p;
			break;
		default:
			break;
		}
		if (m == p) {
			p++;
			continue;
		}
		qvk_pretok_emit(t, p - gap);
		qvk_pretok_emit(t, m - p);
		gap = p = m;
	}
	qvk_pretok_emit(t, e - gap);
}

/* Flags of position @i, or 0xff ("no character") outside [b, e). */
#define QVK_NONE 0xffu
#define QVK_FL(i) ((i) >= b && (i) < e ? t->flags[i] : QVK_NONE)
#define QVK_CP(i) ((i) >= b && (i) < e ? t->cp[i] : 0xffffffffu)
#define QVK_IS(f, cat) ((f) != QVK_NONE && ((f) & QVK_UCAT_MASK) == QVK_UCAT_##cat)
#define QVK_SPACE(f) ((f) != QVK_NONE && ((f) & QVK_UFLAG_SPACE))

static uint32_t qvk_ascii_lower(uint32_t c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* 's 't 'm 'd, 're 've 'll at @p: the length (0: none); @fold: any case. */
static size_t qvk_pretok_contraction(const struct qvk_pretok_text *t,
				     size_t b, size_t e, size_t p, bool fold)
{
	uint32_t c1, c2;

	if (QVK_CP(p) != '\'' || p + 1 >= e)
		return 0;
	/* only ASCII capitals lower-case to these letters */
	c1 = fold ? qvk_ascii_lower(QVK_CP(p + 1)) : QVK_CP(p + 1);
	if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd')
		return 2;
	if (p + 2 >= e)
		return 0;
	c2 = fold ? qvk_ascii_lower(QVK_CP(p + 2)) : QVK_CP(p + 2);
	if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') ||
	    (c1 == 'l' && c2 == 'l'))
		return 3;
	return 0;
}

/* White space from @p: how many, and the end of the last \r or \n (or 0). */
static size_t qvk_pretok_spaces(const struct qvk_pretok_text *t, size_t b,
				size_t e, size_t p, size_t *last_rn)
{
	size_t n = 0;

	*last_rn = 0;
	while (QVK_SPACE(QVK_FL(p + n))) {
		if (QVK_CP(p + n) == '\r' || QVK_CP(p + n) == '\n')
			*last_rn = p + n + 1;
		n++;
	}
	return n;
}

/* llama.cpp's unicode_regex_split_custom_gpt2 over [b, e). */
static void qvk_pretok_gpt2(struct qvk_pretok_text *t, size_t b, size_t e)
{
	size_t p = b;

	while (p < e) {
		uint32_t cp = t->cp[p];
		unsigned f2 = cp == ' ' ? QVK_FL(p + 1) : t->flags[p];
		size_t n = qvk_pretok_contraction(t, b, e, p, false), start = p,
		       rn;

		if (n) {
			p += n;
		} else if (QVK_IS(f2, LETTER) || QVK_IS(f2, NUMBER)) {
			/* ?\p{L}+ and ?\p{N}+ */
			unsigned cat = f2 & QVK_UCAT_MASK;

			p += cp == ' ';
			while (QVK_FL(p) != QVK_NONE &&
			       (QVK_FL(p) & QVK_UCAT_MASK) == cat)
				p++;
		} else if (f2 != QVK_NONE && !QVK_SPACE(f2)) {
			/* ?[^\s\p{L}\p{N}]+ */
			p += cp == ' ';
			while (QVK_FL(p) != QVK_NONE && !QVK_SPACE(QVK_FL(p)) &&
			       !QVK_IS(QVK_FL(p), LETTER) &&
			       !QVK_IS(QVK_FL(p), NUMBER))
				p++;
		} else {
			n = qvk_pretok_spaces(t, b, e, p, &rn);
			if (n > 1 && p + n < e)
				p += n - 1; /* \s+(?!\S) */
			else
				p += n ? n : 1; /* \s+, or no match */
		}
		qvk_pretok_emit(t, p - start);
	}
}

/* Letter run member: \p{L}, or [\p{L}\p{M}] for Qwen3.5. */
static bool qvk_pretok_word(unsigned f, bool marks)
{
	return QVK_IS(f, LETTER) || (marks && QVK_IS(f, MARK));
}

/*
 * llama.cpp's unicode_regex_split_custom_llama3 (@max_digits 3) and
 * _qwen2 (1) and _qwen35 (1, @marks) over [b, e).
 */
static void qvk_pretok_llama3(struct qvk_pretok_text *t, size_t b, size_t e,
			      uint32_t max_digits, bool marks)
{
	size_t p = b;

	while (p < e) {
		uint32_t cp = t->cp[p];
		unsigned f = t->flags[p], f2;
		size_t n = qvk_pretok_contraction(t, b, e, p, true), start = p,
		       rn;

		if (n) { /* (?i:'s|'t|'re|'ve|'m|'ll|'d) */
			qvk_pretok_emit(t, n);
			p += n;
			continue;
		}
		/* [^\r\n\p{L}\p{N}]?\p{L}+ */
		if (cp != '\r' && cp != '\n' && !QVK_IS(f, NUMBER) &&
		    (qvk_pretok_word(f, marks) ||
		     qvk_pretok_word(QVK_FL(p + 1), marks))) {
			p++;
			while (qvk_pretok_word(QVK_FL(p), marks))
				p++;
			qvk_pretok_emit(t, p - start);
			continue;
		}
		if (QVK_IS(f, NUMBER)) { /* \p{N}{1,max_digits} */
			while (QVK_IS(QVK_FL(p), NUMBER)) {
				if (++p - start >= max_digits) {
					qvk_pretok_emit(t, p - start);
					start = p;
				}
			}
			qvk_pretok_emit(t, p - start);
			continue;
		}
		/* ?[^\s\p{L}\p{N}]+[\r\n]* -- llama.cpp tests the first
		 * character's flags for presence, the next one's for class */
		f2 = cp == ' ' ? QVK_FL(p + 1) : f;
		if (!QVK_SPACE(f2) && !qvk_pretok_word(f2, marks) &&
		    !QVK_IS(f2, NUMBER)) {
			p += cp == ' ';
			for (f2 = QVK_FL(p); f2 != QVK_NONE && !QVK_SPACE(f2) &&
			     !qvk_pretok_word(f2, marks) && !QVK_IS(f2, NUMBER);
			     f2 = QVK_FL(p))
				p++;
			while (QVK_CP(p) == '\r' || QVK_CP(p) == '\n')
				p++;
			qvk_pretok_emit(t, p - start);
			continue;
		}
		n = qvk_pretok_spaces(t, b, e, p, &rn);
		if (rn) /* \s*[\r\n]+ */
			p = rn;
		else if (n > 1 && p + n < e) /* \s+(?!\S) */
			p += n - 1;
		else /* \s+, or no match */
			p += n ? n : 1;
		qvk_pretok_emit(t, p - start);
	}
}

size_t qvk_pretok_split(const struct qvk_pretok *pre, const uint32_t *cp,
			const uint8_t *flags, size_t n, uint32_t *lens,
			uint32_t *tmp)
{
	struct qvk_pretok_text t = { cp, flags, lens, 0 };

	if (!n)
		return 0;
	lens[t.n_out++] = (uint32_t)n;
	for (uint32_t s = 0; s < pre->n_steps; s++) {
		const struct qvk_pretok_step *step = &pre->steps[s];
		size_t n_in = t.n_out, b = 0;
		uint32_t *in = t.out;

		/* read the last list from @in, write the new one to the other */
		t.out = in == lens ? tmp : lens;
		t.n_out = 0;
		for (size_t i = 0; i < n_in; b += in[i++]) {
			size_t e = b + in[i];

			if (step->shape == QVK_PRETOK_GPT2)
				qvk_pretok_gpt2(&t, b, e);
			else if (step->shape == QVK_PRETOK_LLAMA3)
				qvk_pretok_llama3(&t, b, e, step->max_digits,
						  step->marks);
			else
				qvk_pretok_regex(&t, step, b, e);
		}
	}
	if (t.out != lens)
		memcpy(lens, t.out, t.n_out * sizeof(*lens));
	return t.n_out;
}
