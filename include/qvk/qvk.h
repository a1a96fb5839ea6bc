/* SPDX-License-Identifier: MIT */
/*
 * libqvk: quantized LLM inference on any Vulkan device. Umbrella header.
 *
 * Thread-safety per object (each header says the same for its own):
 *   qvk_ctx          one thread at a time, with every object made on it
 *   qvk_device       one thread at a time (with its context); so are its
 *                    qvk_matmul, qvk_weight, qvk_matmul_run and qvk_llm
 *   qvk_model, qvk_gguf (reader), qvk_tokenizer, qvk_quantized
 *                    read-only once made: share them between threads
 *   qvk_gguf_writer, qvk_reference, qvk_sampler
 *                    one thread at a time
 *   qvk_telemetry    one thread at a time; its own poll thread locks
 *   quant.h, fp16.h, metrics.h functions
 *                    keep no state: call them from any thread
 * No library state is shared between contexts: two contexts run in two
 * threads at once (tests/check_concurrency.c, under ThreadSanitizer with
 * `make check SANITIZE=thread`). The only process-wide things are the
 * Vulkan loader and driver (thread-safe per the Vulkan spec for distinct
 * objects) and, in test builds only, the fault-injection counters.
 */
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
#include <qvk/attention.h>
#include <qvk/model.h>
#include <qvk/tokenizer.h>
#include <qvk/chat.h>
#include <qvk/sampler.h>
#include <qvk/llm.h>
#include <qvk/quantize.h>
#include <qvk/telemetry.h>
#include <qvk/bench.h>

#endif
