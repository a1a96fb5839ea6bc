/* SPDX-License-Identifier: MIT */
/*
 * Choosing the device deliberately: by QVK_DEVICE (index or name), else by
 * type, discrete > integrated > virtual > CPU, the first of equals winning.
 * Every candidate gets a log line saying why it was chosen or skipped.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk/vk.h"

static int qvk_type_rank(enum qvk_device_type t)
{
	switch (t) {
	case QVK_DEVICE_DISCRETE:
		return 4;
	case QVK_DEVICE_INTEGRATED:
		return 3;
	case QVK_DEVICE_VIRTUAL:
		return 2;
	case QVK_DEVICE_CPU:
		return 1;
	default:
		return 0;
	}
}

static bool qvk_name_contains(const char *name, const char *needle)
{
	size_t n = strlen(needle);

	for (; *name; name++)
		if (!strncasecmp(name, needle, n))
			return true;
	return false;
}

static bool qvk_parse_index(const char *s, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (!*s || !isdigit((unsigned char)*s))
		return false;
	v = strtoul(s, &end, 10);
	if (*end || v > UINT32_MAX)
		return false;
	*out = (uint32_t)v;
	return true;
}

static qvk_status qvk_select_failed(struct qvk_ctx *ctx,
				    const struct qvk_device_info *infos,
				    uint32_t count, const char *select,
				    const char *why)
{
	char list[QVK_MESSAGE_MAX / 2] = "";
	size_t len = 0;

	for (uint32_t i = 0; i < count && len < sizeof(list); i++)
		len += (size_t)snprintf(list + len, sizeof(list) - len,
					"%s%u: %s (%s)", i ? "; " : "", i,
					infos[i].name,
					qvk_device_type_name(infos[i].type));
	return qvk_error(ctx, QVK_ERR_NOT_FOUND,
			 "QVK_DEVICE='%s' %s; devices: %s", select, why,
			 count ? list : "none");
}

qvk_status qvk_device_select(struct qvk_ctx *ctx,
			     const struct qvk_device_info *infos,
			     uint32_t count, const char *select,
			     uint32_t *chosen)
{
	uint32_t idx, best = UINT32_MAX;

	if (!select)
		select = getenv("QVK_DEVICE");
	if (select && !*select)
		select = NULL;
	if (!count)
		return qvk_error(ctx, QVK_ERR_NO_DEVICE,
				 "no Vulkan device found (is a Vulkan driver "
				 "installed? on Debian: mesa-vulkan-drivers)");
	if (select && qvk_parse_index(select, &idx)) {
		if (idx >= count)
			return qvk_select_failed(ctx, infos, count, select,
						 "is past the last index");
		if (!infos[idx].usable)
			return qvk_select_failed(ctx, infos, count, select,
						 infos[idx].skip_reason);
		qvk_log(ctx, QVK_LOG_INFO, "device %u (%s): chosen by index "
			"from QVK_DEVICE", idx, infos[idx].name);
		*chosen = idx;
		return QVK_OK;
	}
	for (uint32_t i = 0; i < count; i++) {
		const struct qvk_device_info *d = &infos[i];

		if (!d->usable) {
			qvk_log(ctx, QVK_LOG_INFO, "device %u (%s): skipped: %s",
				i, d->name, d->skip_reason);
			continue;
		}
		if (select && !qvk_name_contains(d->name, select)) {
			qvk_log(ctx, QVK_LOG_INFO, "device %u (%s): skipped: "
				"name does not contain '%s'", i, d->name,
				select);
			continue;
		}
		if (best != UINT32_MAX &&
		    qvk_type_rank(d->type) <= qvk_type_rank(infos[best].type)) {
			qvk_log(ctx, QVK_LOG_INFO, "device %u (%s): skipped: "
				"%s ranks below or equal to %s device %u", i,
				d->name, qvk_device_type_name(d->type),
				qvk_device_type_name(infos[best].type), best);
			continue;
		}
		if (best != UINT32_MAX)
			qvk_log(ctx, QVK_LOG_INFO, "device %u (%s): dropped: "
				"%s device %u ranks higher", best,
				infos[best].name, qvk_device_type_name(d->type),
				i);
		best = i;
	}
	if (best == UINT32_MAX)
		return select ? qvk_select_failed(ctx, infos, count, select,
						  "matches no usable device") :
				qvk_error(ctx, QVK_ERR_NO_DEVICE,
					  "no usable Vulkan device (each needs "
					  "Vulkan 1.2 and a compute queue)");
	qvk_log(ctx, QVK_LOG_INFO, "device %u (%s): chosen: %s%s%s", best,
		infos[best].name, select ? "name matches QVK_DEVICE, " : "",
		qvk_device_type_name(infos[best].type),
		select ? "" : " ranks highest (discrete > integrated > "
			      "virtual > cpu)");
	*chosen = best;
	return QVK_OK;
}
