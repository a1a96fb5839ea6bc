/* SPDX-License-Identifier: MIT */
#include <qvk/status.h>

const char *qvk_strerror(qvk_status status)
{
	switch (status) {
#define QVK_STATUS_TEXT(name, text)                                            \
	case QVK_##name:                                                       \
		return text;
		QVK_STATUS_MAP(QVK_STATUS_TEXT)
#undef QVK_STATUS_TEXT
	case QVK_STATUS_COUNT:
		break;
	}
	return "unknown qvk status";
}
