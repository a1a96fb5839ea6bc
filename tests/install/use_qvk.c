/* SPDX-License-Identifier: MIT */
/*
 * A program outside the tree, built against an installed libqvk with
 * `pkg-config --cflags --libs qvk` (tools/embedded/check-install.sh): it
 * proves the installed headers are self-contained, that qvk.pc names every
 * library, and that the installed libqvk finds a Vulkan device.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <linux/qvk_telem.h>
#include <qvk/qvk.h>

int main(void)
{
	struct qvk_device_info *infos = NULL;
	uint32_t count = 0, def = UINT32_MAX;
	struct qvk_ctx *ctx;
	qvk_status st;
	int rc = 1;

	st = qvk_ctx_create(&ctx);
	if (st != QVK_OK) {
		fprintf(stderr, "use_qvk: qvk_ctx_create: %s\n", qvk_strerror(st));
		return 1;
	}
	st = qvk_device_list(ctx, &infos, &count, &def);
	if (st != QVK_OK) {
		fprintf(stderr, "use_qvk: qvk_device_list: %s: %s\n",
			qvk_strerror(st), qvk_ctx_message(ctx));
		goto out_destroy_ctx;
	}
	if (def >= count) {
		fprintf(stderr, "use_qvk: %u devices and no default\n", count);
		goto out_free_infos;
	}
	printf("use_qvk: %u Vulkan device(s), default \"%s\"; telemetry ABI %d "
	       "(/dev/%s)\n", count, infos[def].name, QVK_TELEM_ABI_VERSION,
	       QVK_TELEM_DEVICE_NAME);
	rc = 0;
out_free_infos:
	free(infos);
out_destroy_ctx:
	qvk_ctx_destroy(ctx);
	return rc;
}
