/* SPDX-License-Identifier: MIT */
/* qvk status codes: one X-macro table gives the enum and qvk_strerror(). */
#ifndef QVK_STATUS_H
#define QVK_STATUS_H

#define QVK_STATUS_MAP(X)                                                      \
	X(OK, "success")                                                       \
	X(ERR_INVALID_ARG, "invalid argument")                                 \
	X(ERR_NO_MEMORY, "out of host memory")                                 \
	X(ERR_DEVICE_MEMORY, "out of device memory")                           \
	X(ERR_VULKAN, "Vulkan call failed")                                    \
	X(ERR_NO_DEVICE, "no usable Vulkan device")                            \
	X(ERR_UNSUPPORTED, "not supported")                                    \
	X(ERR_IO, "input/output error")                                        \
	X(ERR_FORMAT, "malformed input")                                       \
	X(ERR_NOT_FOUND, "not found")                                          \
	X(ERR_NUMERIC, "non-finite or out-of-range number")                    \
	X(ERR_VALIDATION, "Vulkan validation layer reported a problem")        \
	X(ERR_CANCELLED, "cancelled")                                          \
	X(ERR_DEVICE_LOST, "Vulkan device lost (reset, hang or removal)")

typedef enum qvk_status {
#define QVK_STATUS_ENUM(name, text) QVK_##name,
	QVK_STATUS_MAP(QVK_STATUS_ENUM)
#undef QVK_STATUS_ENUM
	QVK_STATUS_COUNT
} qvk_status;

/* Public API symbols: libqvk.so is built with -fvisibility=hidden. */
#if defined(__GNUC__)
#define QVK_API __attribute__((visibility("default")))
#define QVK_MUST_CHECK __attribute__((warn_unused_result))
#define QVK_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define QVK_API
#define QVK_MUST_CHECK
#define QVK_PRINTF(fmt, args)
#endif

/* Short fixed text for a status; never NULL (unknown codes say so). */
QVK_API const char *qvk_strerror(qvk_status status);

#endif
