/* SPDX-License-Identifier: MIT */
/*
 * The one table of tensor types (include/qvk/format.h): a row per type
 * qvk reads, writes or only names in messages, and the questions the rest
 * of libqvk asks it. Block sizes are ggml's (ggml-common.h); the K-quant
 * layouts themselves are in kquant_layout.h.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "format/format_internal.h"

#define F32 QVK_KERNEL_FLOAT
#define GRP QVK_KERNEL_GROUPED
#define KQ QVK_KERNEL_KQUANT
#define CVT QVK_KERNEL_NONE

/* A ggml type qvk only names (its files are refused with the name). */
#define NAMED(id_, name_) { .id = id_, .name = name_, .gguf_native = true }

/* qvk's own types: 1024 + 4 * (format - 1) + (row, g32, g64, g128). */
#define QVK_TYPE(fmt_, g_, group_, name_)                                      \
	{ .id = QVK_GGML_TYPE_QVK_BASE + 4 * ((fmt_) - 1) + (g_),               \
	  .name = name_, .readable = true, .writable = true, .quantized = true, \
	  .group = group_, .qformat = fmt_, .kernel = GRP }

static const struct qvk_type_info qvk_types[] = {
	/* id, name, readable, writable, quantized, gguf, block elems/bytes,
	 * group, qformat, kernel */
	{ QVK_GGML_TYPE_F32, "F32", true, true, false, true, 1, 4, 0, 0, F32 },
	{ QVK_GGML_TYPE_F16, "F16", true, true, false, true, 1, 2, 0, 0, F32 },
	{ QVK_GGML_TYPE_Q4_0, "Q4_0", true, true, true, true, 32, 18, 32,
	  QVK_QFORMAT_Q4, GRP },
	{ QVK_GGML_TYPE_Q4_1, "Q4_1", true, true, true, true, 32, 20, 32,
	  QVK_QFORMAT_Q4A, GRP },
	NAMED(6, "Q5_0"),
	NAMED(7, "Q5_1"),
	{ QVK_GGML_TYPE_Q8_0, "Q8_0", true, true, true, true, 32, 34, 32,
	  QVK_QFORMAT_Q8, GRP },
	NAMED(9, "Q8_1"),
	/* K-quants: 256-element super-blocks of 16- or 32-element sub-blocks */
	{ QVK_GGML_TYPE_Q2_K, "Q2_K", true, false, true, true, 256, 84, 16, 0,
	  KQ },
	{ QVK_GGML_TYPE_Q3_K, "Q3_K", true, false, true, true, 256, 110, 16, 0,
	  KQ },
	{ QVK_GGML_TYPE_Q4_K, "Q4_K", true, true, true, true, 256, 144, 32, 0,
	  KQ },
	{ QVK_GGML_TYPE_Q5_K, "Q5_K", true, true, true, true, 256, 176, 32, 0,
	  KQ },
	{ QVK_GGML_TYPE_Q6_K, "Q6_K", true, true, true, true, 256, 210, 16, 0,
	  KQ },
	NAMED(15, "Q8_K"),
	NAMED(16, "IQ2_XXS"),
	NAMED(17, "IQ2_XS"),
	NAMED(18, "IQ3_XXS"),
	NAMED(19, "IQ1_S"),
	{ QVK_GGML_TYPE_IQ4_NL, "IQ4_NL", true, false, true, true, 32, 18, 32,
	  0, KQ },
	NAMED(21, "IQ3_S"),
	NAMED(22, "IQ2_S"),
	{ QVK_GGML_TYPE_IQ4_XS, "IQ4_XS", true, false, true, true, 256, 136,
	  32, 0, KQ },
	NAMED(24, "I8"),
	NAMED(25, "I16"),
	NAMED(26, "I32"),
	NAMED(27, "I64"),
	NAMED(28, "F64"),
	NAMED(29, "IQ1_M"),
	{ QVK_GGML_TYPE_BF16, "BF16", true, false, false, true, 1, 2, 0, 0,
	  CVT },
	NAMED(34, "TQ1_0"),
	NAMED(35, "TQ2_0"),
	NAMED(39, "MXFP4"),
	NAMED(40, "NVFP4"),
	NAMED(41, "Q1_0"),
	NAMED(42, "Q2_0"),
	QVK_TYPE(QVK_QFORMAT_Q8, 0, QVK_GROUP_ROW, "QVK_Q8_ROW"),
	QVK_TYPE(QVK_QFORMAT_Q8, 1, 32, "QVK_Q8_G32"),
	QVK_TYPE(QVK_QFORMAT_Q8, 2, 64, "QVK_Q8_G64"),
	QVK_TYPE(QVK_QFORMAT_Q8, 3, 128, "QVK_Q8_G128"),
	QVK_TYPE(QVK_QFORMAT_Q4, 0, QVK_GROUP_ROW, "QVK_Q4_ROW"),
	QVK_TYPE(QVK_QFORMAT_Q4, 1, 32, "QVK_Q4_G32"),
	QVK_TYPE(QVK_QFORMAT_Q4, 2, 64, "QVK_Q4_G64"),
	QVK_TYPE(QVK_QFORMAT_Q4, 3, 128, "QVK_Q4_G128"),
	QVK_TYPE(QVK_QFORMAT_Q4A, 0, QVK_GROUP_ROW, "QVK_Q4A_ROW"),
	QVK_TYPE(QVK_QFORMAT_Q4A, 1, 32, "QVK_Q4A_G32"),
	QVK_TYPE(QVK_QFORMAT_Q4A, 2, 64, "QVK_Q4A_G64"),
	QVK_TYPE(QVK_QFORMAT_Q4A, 3, 128, "QVK_Q4A_G128"),
};

_Static_assert(QVK_GGML_TYPE_QVK_COUNT == 12, "12 qvk types in the table");

const struct qvk_type_info *qvk_type_info(uint32_t type)
{
	for (size_t i = 0; i < QVK_ARRAY_SIZE(qvk_types); i++)
		if (qvk_types[i].id == type)
			return &qvk_types[i];
	return NULL;
}

const struct qvk_type_info *qvk_type_find(const char *name)
{
	for (size_t i = 0; name && i < QVK_ARRAY_SIZE(qvk_types); i++)
		if (!strcasecmp(qvk_types[i].name, name))
			return &qvk_types[i];
	return NULL;
}

const char *qvk_ggml_type_name(uint32_t type)
{
	const struct qvk_type_info *t = qvk_type_info(type);

	return t ? t->name : NULL;
}

const char *qvk_type_label(uint32_t type, char *buf)
{
	const char *name = qvk_ggml_type_name(type);

	if (name)
		snprintf(buf, QVK_TYPE_LABEL_MAX, "%s", name);
	else
		snprintf(buf, QVK_TYPE_LABEL_MAX, "unknown type %u", type);
	return buf;
}

/* The row of @type when qvk reads that type, else NULL. */
static const struct qvk_type_info *qvk_type_readable(uint32_t type)
{
	const struct qvk_type_info *t = qvk_type_info(type);

	return t && t->readable ? t : NULL;
}

size_t qvk_type_readable_names(char *buf, size_t size)
{
	size_t len = 0;
	bool qvk_done = false;

	if (size)
		buf[0] = '\0';
	for (size_t i = 0; i < QVK_ARRAY_SIZE(qvk_types); i++) {
		const struct qvk_type_info *t = &qvk_types[i];
		char one[48];
		int n;

		if (!t->readable || (!t->gguf_native && qvk_done))
			continue;
		/* qvk's twelve types as one entry */
		if (!t->gguf_native) {
			qvk_done = true;
			snprintf(one, sizeof(one), "qvk's own %u..%u",
				 QVK_GGML_TYPE_QVK_BASE,
				 QVK_GGML_TYPE_QVK_BASE + QVK_GGML_TYPE_QVK_COUNT - 1);
		} else {
			snprintf(one, sizeof(one), "%s", t->name);
		}
		n = snprintf(len < size ? buf + len : NULL,
			     len < size ? size - len : 0, "%s%s",
			     len ? ", " : "", one);
		len += (size_t)n;
	}
	return len;
}

bool qvk_ggml_type_block(uint32_t type, uint32_t *block_elems,
			 uint32_t *block_bytes)
{
	const struct qvk_type_info *t = qvk_type_readable(type);

	if (!t || !t->block_elems)
		return false;
	*block_elems = t->block_elems;
	*block_bytes = t->block_bytes;
	return true;
}

bool qvk_group_valid(uint32_t group)
{
	return group == QVK_GROUP_ROW || group == 32 || group == 64 ||
	       group == 128;
}

uint32_t qvk_ggml_type_gguf(enum qvk_qformat format)
{
	for (size_t i = 0; i < QVK_ARRAY_SIZE(qvk_types); i++)
		if (qvk_types[i].gguf_native && qvk_types[i].writable &&
		    qvk_types[i].qformat == format)
			return qvk_types[i].id;
	return 0;
}

uint32_t qvk_ggml_type_qvk(enum qvk_qformat format, uint32_t group)
{
	for (size_t i = 0; i < QVK_ARRAY_SIZE(qvk_types); i++)
		if (!qvk_types[i].gguf_native && qvk_types[i].qformat == format &&
		    qvk_types[i].group == group)
			return qvk_types[i].id;
	return 0;
}

bool qvk_ggml_type_is_qvk(uint32_t type, enum qvk_qformat *format,
			  uint32_t *group)
{
	const struct qvk_type_info *t = qvk_type_info(type);

	if (!t || t->gguf_native)
		return false;
	if (format)
		*format = t->qformat;
	if (group)
		*group = t->group;
	return true;
}

static const char *const qvk_weight_format_names[] = {
	"auto", "f32", "f16", "q8", "q4", "q4a",
};

const char *qvk_weight_format_name(enum qvk_weight_format f)
{
	return (unsigned)f < QVK_ARRAY_SIZE(qvk_weight_format_names) ?
		       qvk_weight_format_names[f] : "unknown";
}

bool qvk_weight_format_parse(const char *name, enum qvk_weight_format *f)
{
	for (unsigned i = 0; name && i < QVK_ARRAY_SIZE(qvk_weight_format_names);
	     i++)
		if (!strcmp(name, qvk_weight_format_names[i])) {
			*f = (enum qvk_weight_format)i;
			return true;
		}
	return false;
}

bool qvk_weight_format_parse_type(const char *name, enum qvk_weight_format *f,
				  uint32_t *group)
{
	const struct qvk_type_info *t = qvk_type_find(name);

	if (qvk_weight_format_parse(name, f))
		return true;
	if (!t || !t->writable || !t->gguf_native ||
	    t->kernel == QVK_KERNEL_KQUANT) /* K-quants: qvk_kquant_mix */
		return false;
	if (!t->quantized) {
		*f = t->id == QVK_GGML_TYPE_F16 ? QVK_WEIGHTS_F16 : QVK_WEIGHTS_F32;
		return true;
	}
	*f = t->qformat == QVK_QFORMAT_Q4 ? QVK_WEIGHTS_Q4 :
	     t->qformat == QVK_QFORMAT_Q4A ? QVK_WEIGHTS_Q4A : QVK_WEIGHTS_Q8;
	*group = t->group;
	return true;
}

enum qvk_qformat qvk_weight_format_qformat(enum qvk_weight_format f)
{
	return f == QVK_WEIGHTS_Q4 ? QVK_QFORMAT_Q4 :
	       f == QVK_WEIGHTS_Q4A ? QVK_QFORMAT_Q4A : QVK_QFORMAT_Q8;
}
