/* SPDX-License-Identifier: MIT */
/*
 * Where qvk quantize calibrates (quantize_calib.h): auto picks the device
 * only when it is a real GPU (on a CPU implementation such as lavapipe
 * the device pass is many times slower than the host's batched one) and
 * never for GPTQ, which calibrates sequentially through the quantized
 * layers on the host.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "quantize_calib.h"
#include "tool.h"

/*
 * Whether the device qvk would pick is a GPU, from the list (no device is
 * made for a CPU one); otherwise the line saying why the CPU calibrates.
 */
static bool qvk_calib_gpu_listed(struct qvk_ctx *ctx)
{
	struct qvk_device_info *infos = NULL;
	uint32_t n = 0, pick = UINT32_MAX;
	qvk_status st = qvk_device_list(ctx, &infos, &n, &pick);
	bool gpu = st == QVK_OK && pick < n && infos[pick].type != QVK_DEVICE_CPU;

	if (st != QVK_OK || pick >= n)
		fprintf(stderr, "calibration: on the CPU: no "
				"Vulkan device (%s)\n", st != QVK_OK ?
			qvk_ctx_message(ctx) : "QVK_DEVICE names none");
	else if (!gpu)
		fprintf(stderr, "calibration: on the CPU: the "
				"Vulkan device %s is a CPU implementation, where "
				"the host's batched pass is faster "
				"(--calib-device gpu runs it there)\n",
			infos[pick].name);
	free(infos);
	return gpu;
}

/*
 * Where calibration runs (when the run calibrates at all), with a line
 * saying which and why; false when an explicit --calib-device gpu finds
 * no device. *@dev: the device to close afterwards, or NULL.
 */
bool qvk_calib_choose(struct qvk_ctx *ctx, enum qvk_calib_where where,
		      struct qvk_quantize_options *opt, struct qvk_device **dev)
{
	const struct qvk_device_info *info;
	qvk_status st;

	*dev = NULL;
	opt->calib_device = QVK_CALIB_CPU;
	if (!opt->calib_tokens)
		return true;
	if (where == QVK_WHERE_CPU) {
		fprintf(stderr, "calibration: on the CPU "
				"(--calib-device cpu)\n");
		return true;
	}
	if (where == QVK_WHERE_AUTO && opt->method == QVK_METHOD_GPTQ) {
		fprintf(stderr, "calibration: on the CPU: GPTQ "
				"calibrates sequentially, through the quantized "
				"layers (--calib-device gpu: the float model's "
				"statistics on the device)\n");
		return true;
	}
	if (where == QVK_WHERE_AUTO && !qvk_calib_gpu_listed(ctx))
		return true;
	st = qvk_device_create(ctx, NULL, dev);
	if (st != QVK_OK) {
		if (where == QVK_WHERE_GPU) {
			qvk_tool_fail(ctx, st, "quantize", "--calib-device gpu");
			return false;
		}
		fprintf(stderr, "calibration: on the CPU: no "
				"Vulkan device (%s)\n", qvk_ctx_message(ctx));
		return true;
	}
	info = qvk_device_info(*dev);
	fprintf(stderr, "calibration: on the device %s "
			"(%s): the float model's statistics\n", info->name,
		where == QVK_WHERE_GPU ? "--calib-device gpu" :
					    "a GPU, auto");
	opt->calib_device = QVK_CALIB_GPU;
	opt->calib_dev = *dev;
	return true;
}

/* Failures of the device itself, after which the host pass can still run. */
bool qvk_calib_device_failure(qvk_status st)
{
	return st == QVK_ERR_DEVICE_MEMORY || st == QVK_ERR_VULKAN ||
	       st == QVK_ERR_NO_DEVICE || st == QVK_ERR_UNSUPPORTED ||
	       st == QVK_ERR_DEVICE_LOST;
}

