/* SPDX-License-Identifier: MIT */
/* JSON output shared by qvk info and qvk bench. */
#include <math.h>

#include "json.h"

void qvk_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

void qvk_json_num(FILE *f, double v, int digits)
{
	if (isfinite(v))
		fprintf(f, "%.*g", digits, v);
	else
		fputs("null", f);
}

void qvk_uuid_text(const uint8_t *u, char *out)
{
	for (int i = 0; i < 16; i++)
		sprintf(out + 2 * i, "%02x", u[i]);
}

#define JB(name, v) fprintf(f, ",\"%s\":%s", name, (v) ? "true" : "false")
#define JU(name, v) fprintf(f, ",\"%s\":%llu", name, (unsigned long long)(v))
#define JS(name, v) (fprintf(f, ",\"%s\":", name), qvk_json_str(f, v))

void qvk_json_device(FILE *f, const struct qvk_device_info *d, bool is_default)
{
	char uuid[33];

	qvk_uuid_text(d->device_uuid, uuid);
	fprintf(f, "{\"index\":%u", d->index);
	JS("name", d->name);
	JS("type", qvk_device_type_name(d->type));
	JB("default", is_default);
	JB("usable", d->usable);
	if (!d->usable)
		JS("skip_reason", d->skip_reason);
	JU("vendor_id", d->vendor_id);
	JU("device_id", d->device_id);
	fprintf(f, ",\"api_version\":\"%u.%u.%u\"",
		QVK_VK_VERSION_MAJOR(d->api_version),
		QVK_VK_VERSION_MINOR(d->api_version),
		QVK_VK_VERSION_PATCH(d->api_version));
	JS("driver_name", d->driver_name);
	JS("driver_info", d->driver_info);
	JS("uuid", uuid);
	JB("integer_dot_product", d->int_dot);
	JB("integer_dot_4x8_packed_accelerated",
	   d->int_dot_4x8_signed_accelerated);
	JS("kernels", d->int_dot ? "intdot" : "fallback");
	JB("storage_8bit", d->storage_8bit);
	JB("storage_16bit", d->storage_16bit);
	JB("int8", d->int8);
	JB("fp16", d->fp16);
	JB("subgroup_size_control", d->subgroup_size_control);
	JU("subgroup_size", d->subgroup_size);
	JU("min_subgroup_size", d->min_subgroup_size);
	JU("max_subgroup_size", d->max_subgroup_size);
	JB("timestamps", d->timestamps);
	JB("calibrated_timestamps", d->calibrated_timestamps);
	JB("memory_budget", d->memory_budget);
	JB("unified_memory", d->unified_memory);
	JU("device_local_heap_bytes", d->device_local_heap_bytes);
	JU("max_memory_allocation_size", d->max_memory_allocation_size);
	JU("max_storage_buffer_range", d->max_storage_buffer_range);
	JU("max_shared_memory_bytes", d->max_shared_memory_bytes);
	JU("max_workgroup_invocations", d->max_workgroup_invocations);
	JB("drm", d->has_drm);
	JS("drm_note", d->drm_note);
	if (d->has_drm) {
		JS("render_node", d->drm_render_node);
		JS("primary_node", d->drm_primary_node);
		JS("kernel_driver", d->kernel_driver);
		fprintf(f, ",\"kernel_driver_version\":\"%d.%d.%d\"",
			d->kernel_driver_version[0], d->kernel_driver_version[1],
			d->kernel_driver_version[2]);
		JS("pci_bus_id", d->pci_bus_id);
	}
	fputc('}', f);
}
