/* SPDX-License-Identifier: MIT */
/* qvk info: every Vulkan device, the facts qvk uses, and the default. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qvk/attention.h>
#include <qvk/matmul.h>

#include "json.h"
#include "tool.h"

const char qvk_cmd_info_summary[] = "list Vulkan devices, features, limits, "
				    "DRM nodes and the default";

static const char *qvk_kernel_variant(const struct qvk_device_info *d)
{
	return d->int_dot ? "intdot (OpSDot)" : "fallback (multiply-add)";
}

/*
 * The grouped matmul kernels of the default device, as qvk_matmul_create
 * chooses them (tuning on first use), into @buf, and its decode attention
 * kernel (also tuned) into @attn; "" where that fails.
 */
static void qvk_info_kernels(struct qvk_ctx *ctx, char *buf, size_t len,
			     char *attn, size_t attn_len)
{
	struct qvk_device_options dopt = { 0 };
	struct qvk_device *dev = NULL;
	struct qvk_matmul *mm = NULL;

	buf[0] = attn[0] = 0;
	if (qvk_device_create(ctx, &dopt, &dev) != QVK_OK)
		return;
	/* Said on stderr, so that --json stays one object on stdout. */
	if (qvk_matmul_create(dev, &mm) == QVK_OK)
		qvk_matmul_describe(mm, buf, len);
	else
		fprintf(stderr, "qvk info: matmul kernels unavailable: %s\n",
			qvk_ctx_message(ctx));
	if (qvk_attention_describe(dev, attn, attn_len) != QVK_OK) {
		attn[0] = 0;
		fprintf(stderr, "qvk info: decode attention unavailable: %s\n",
			qvk_ctx_message(ctx));
	}
	qvk_matmul_destroy(mm);
	qvk_device_destroy(dev);
}

static void qvk_info_text(const struct qvk_device_info *d, bool is_default,
			  const char *matmul, const char *attn)
{
	char uuid[33];

	qvk_uuid_text(d->device_uuid, uuid);
	printf("device %u: %s%s\n", d->index, d->name,
	       is_default ? "  [default]" : "");
	printf("  type:             %s\n", qvk_device_type_name(d->type));
	printf("  vendor:device:    %04x:%04x\n", d->vendor_id, d->device_id);
	printf("  vulkan:           %u.%u.%u\n",
	       QVK_VK_VERSION_MAJOR(d->api_version),
	       QVK_VK_VERSION_MINOR(d->api_version),
	       QVK_VK_VERSION_PATCH(d->api_version));
	printf("  driver:           %s (%s)\n", d->driver_name, d->driver_info);
	printf("  uuid:             %s\n", uuid);
	if (!d->usable) {
		printf("  unusable:         %s\n\n", d->skip_reason);
		return;
	}
	printf("  integer dot:      %s%s\n", d->int_dot ? "yes" : "no",
	       d->int_dot_4x8_signed_accelerated ? " (4x8 packed accelerated)" :
	       d->int_dot			  ? " (not accelerated)" :
							    "");
	printf("  kernels:          %s\n", qvk_kernel_variant(d));
	if (is_default && matmul[0])
		printf("  matmul kernels:   %s\n", matmul);
	if (is_default && attn[0])
		printf("  decode attention: %s\n", attn);
	printf("  storage 8/16-bit: %s/%s   int8: %s   fp16: %s\n",
	       d->storage_8bit ? "yes" : "no", d->storage_16bit ? "yes" : "no",
	       d->int8 ? "yes" : "no", d->fp16 ? "yes" : "no");
	printf("  subgroup:         %u (range %u-%u, size control %s)\n",
	       d->subgroup_size, d->min_subgroup_size, d->max_subgroup_size,
	       d->subgroup_size_control ? "yes" : "no");
	printf("  timestamps:       %s (%u valid bits, %.3f ns/tick)%s\n",
	       d->timestamps ? "yes" : "no", d->timestamp_valid_bits,
	       (double)d->timestamp_period_ns,
	       d->calibrated_timestamps ? ", calibrated" : "");
	printf("  memory:           %.2f GiB device-local heap, %s%s\n",
	       (double)d->device_local_heap_bytes / (1 << 30),
	       d->unified_memory ? "unified (host-visible)" : "separate",
	       d->memory_budget ? ", budget ext" : "");
	printf("  limits:           alloc %.2f GiB, storage range %llu MiB, "
	       "shared %u KiB, workgroup %u\n",
	       (double)d->max_memory_allocation_size / (1 << 30),
	       (unsigned long long)(d->max_storage_buffer_range >> 20),
	       d->max_shared_memory_bytes >> 10, d->max_workgroup_invocations);
	if (d->has_drm) {
		printf("  drm:              %s %s, driver %s %d.%d.%d, pci %s "
		       "%04x:%04x (%s)\n", d->drm_render_node,
		       d->drm_primary_node, d->kernel_driver,
		       d->kernel_driver_version[0], d->kernel_driver_version[1],
		       d->kernel_driver_version[2], d->pci_bus_id,
		       d->pci_vendor_id, d->pci_device_id, d->drm_note);
	} else {
		printf("  drm:              %s\n", d->drm_note);
	}
	putchar('\n');
}

int qvk_cmd_info(int argc, char **argv)
{
	struct qvk_device_info *infos = NULL;
	uint32_t count = 0, def = UINT32_MAX;
	char matmul[1536] = "", attn[768] = "";
	bool json = false;
	struct qvk_ctx *ctx;
	qvk_status st;
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			printf("usage: qvk info [--json]\n\n"
			       "Lists every Vulkan device with its features, "
			       "limits and DRM node, marks the\ndefault "
			       "(QVK_DEVICE=INDEX|NAME overrides the choice "
			       "discrete > integrated >\nvirtual > cpu) and the "
			       "integer kernels it uses, with the matmul kernels and the "
			       "decode attention\nkernel (one pass or split-KV) tuned "
			       "for the default device (measured on first\nuse, kept "
			       "beside the pipeline cache). QVK_LOG=info shows why each "
			       "device was\nchosen or skipped.\n");
			return 0;
		} else {
			return qvk_tool_usage_error("info", "unknown argument "
						    "'%s'", argv[i]);
		}
	}
	ctx = qvk_tool_ctx("info");
	if (!ctx)
		return 1;
	st = qvk_device_list(ctx, &infos, &count, &def);
	if (st != QVK_OK) {
		rc = qvk_tool_fail(ctx, st, "info", "listing devices");
		goto out;
	}
	if (def != UINT32_MAX && infos[def].usable)
		qvk_info_kernels(ctx, matmul, sizeof(matmul), attn,
				 sizeof(attn));
	if (json) {
		printf("{\"default\":");
		if (def == UINT32_MAX)
			printf("null");
		else
			printf("%u", def);
		printf(",\"devices\":[");
		for (uint32_t i = 0; i < count; i++) {
			if (i)
				putchar(',');
			qvk_json_device(stdout, &infos[i], i == def);
		}
		printf("],\"matmul_kernels\":");
		if (matmul[0])
			qvk_json_str(stdout, matmul);
		else
			printf("null");
		printf(",\"decode_attention\":");
		if (attn[0])
			qvk_json_str(stdout, attn);
		else
			printf("null");
		printf("}\n");
	} else {
		for (uint32_t i = 0; i < count; i++)
			qvk_info_text(&infos[i], i == def, matmul, attn);
		if (!count)
			printf("no Vulkan devices\n");
	}
	/* A QVK_DEVICE that names nothing is an error, after the list. */
	if (def == UINT32_MAX)
		rc = qvk_tool_fail(ctx, QVK_ERR_NOT_FOUND, "info",
				   "choosing the default device");
out:
	free(infos);
	qvk_ctx_destroy(ctx);
	return rc;
}
