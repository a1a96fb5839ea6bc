/* SPDX-License-Identifier: MIT */
/* libqvk: quantized LLM inference on any Vulkan device. Umbrella header. */
#ifndef QVK_QVK_H
#define QVK_QVK_H

#include <qvk/status.h>
#include <qvk/ctx.h>
#include <qvk/device.h>
#include <qvk/fp16.h>
#include <qvk/quant.h>
#include <qvk/format.h>
#include <qvk/kquant.h>
#include <qvk/metrics.h>
#include <qvk/matmul.h>
#include <qvk/model.h>
#include <qvk/tokenizer.h>
#include <qvk/chat.h>
#include <qvk/sampler.h>
#include <qvk/llm.h>
#include <qvk/quantize.h>
#include <qvk/telemetry.h>
#include <qvk/bench.h>

#endif
