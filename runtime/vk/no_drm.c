/* SPDX-License-Identifier: MIT */
/*
 * DRM node matching in a QVK_DRM=0 build, which has no libdrm (drm.c is
 * left out): every device says that matching is off and why, so qvk info
 * and the logs never read as if the device had no node.
 */
#include <stdio.h>

#include "vk/vk.h"

void qvk_drm_match(struct qvk_ctx *ctx, const struct qvk_drm_ids *ids,
		   struct qvk_device_info *info)
{
	(void)ids;
	snprintf(info->drm_note, sizeof(info->drm_note),
		 "DRM matching is off: libqvk was built with QVK_DRM=0 "
		 "(no libdrm)");
	qvk_log(ctx, QVK_LOG_DEBUG, "%s: %s", info->name, info->drm_note);
}
