/* SPDX-License-Identifier: MIT */
/* JSON output of the qvk command: strings, numbers, a device's facts. */
#ifndef QVK_TOOLS_JSON_H
#define QVK_TOOLS_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <qvk/device.h>

/* A quoted JSON string, control characters escaped. */
void qvk_json_str(FILE *f, const char *s);
/* A number with %.*g precision, or null when not finite. */
void qvk_json_num(FILE *f, double v, int digits);
/* A 16-byte UUID as 32 hex digits and a NUL. */
void qvk_uuid_text(const uint8_t *u, char *out);
/* One device as `qvk info --json` lists it. */
void qvk_json_device(FILE *f, const struct qvk_device_info *d, bool is_default);

/* Vulkan's packed version: variant:3, major:7, minor:10, patch:12 bits. */
#define QVK_VK_VERSION_MAJOR(v) (((v) >> 22) & 0x7fu)
#define QVK_VK_VERSION_MINOR(v) (((v) >> 12) & 0x3ffu)
#define QVK_VK_VERSION_PATCH(v) ((v) & 0xfffu)

#endif
