/* SPDX-License-Identifier: MIT */
/*
 * qvk quantize --calib-device: where the calibration statistics are
 * gathered (the Vulkan device's forward pass or the host's scalar one),
 * for tools/cmd_quantize.c.
 */
#ifndef QVK_TOOLS_QUANTIZE_CALIB_H
#define QVK_TOOLS_QUANTIZE_CALIB_H

#include <stdbool.h>

#include <qvk/quantize.h>

/* --calib-device */
enum qvk_calib_where { QVK_WHERE_AUTO = 0, QVK_WHERE_GPU, QVK_WHERE_CPU };

/*
 * Set opt->calib_device (and opt->calib_dev) for a run that calibrates,
 * with a line saying where and why; false when an explicit
 * --calib-device gpu finds no device. *@dev: the device to close
 * afterwards, or NULL.
 */
bool qvk_calib_choose(struct qvk_ctx *ctx, enum qvk_calib_where where,
		      struct qvk_quantize_options *opt, struct qvk_device **dev);
/* Failures of the device itself, after which the host pass can still run. */
bool qvk_calib_device_failure(qvk_status st);

#endif
