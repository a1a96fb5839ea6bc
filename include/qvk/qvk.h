/* SPDX-License-Identifier: MIT */
/* libqvk: quantized LLM inference on any Vulkan device. Umbrella header. */
#ifndef QVK_QVK_H
#define QVK_QVK_H

#include <qvk/status.h>
#include <qvk/ctx.h>
#include <qvk/device.h>

#endif
