/* SPDX-License-Identifier: MIT */
/*
 * Source: the qvk_telem module's page, read through mmap under its
 * seqcount (include/uapi/linux/qvk_telem.h): no syscall per reading. The
 * file stays open for the telemetry object's life, which keeps the
 * module's sampling timer running.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uapi/linux/qvk_telem.h>

#include "telemetry_internal.h"

/* A writer holds the sequence odd for well under a microsecond. */
#define QVK_TMODULE_MAX_RETRIES 10000000u

struct qvk_tmodule {
	int fd;
	const struct qvk_telem_page *page;
	struct qvk_telem_info info;
};

/* The reader loop documented in the UAPI header. */
static bool qvk_tmodule_read_page(const struct qvk_telem_page *page,
				  struct qvk_telem_sample *s)
{
	for (uint32_t tries = 0; tries < QVK_TMODULE_MAX_RETRIES; tries++) {
		uint32_t seq = __atomic_load_n(&page->seq, __ATOMIC_ACQUIRE);

		if (seq & 1)
			continue;
		memcpy(s, &page->sample, sizeof(*s));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&page->seq, __ATOMIC_RELAXED) == seq)
			return true;
	}
	return false;
}

static qvk_status qvk_tmodule_read(struct qvk_telemetry *t, struct qvk_tdom *d,
				   struct qvk_treading *r)
{
	struct qvk_tmodule *m = d->src;
	struct qvk_telem_sample s;

	(void)t;
	if (!qvk_tmodule_read_page(m->page, &s)) {
		qvk_fmt(d->error, sizeof(d->error),
			 "qvk_telem page: sequence never settled");
		return QVK_ERR_IO;
	}
	if (d->index >= s.n_domains || s.n_domains > QVK_TELEM_MAX_DOMAINS) {
		qvk_fmt(d->error, sizeof(d->error),
			 "qvk_telem page: %u domains, expected more than %u",
			 s.n_domains, d->index);
		return QVK_ERR_FORMAT;
	}
	r->t_ns = s.timestamp_ns;
	r->t_unc_ns = 0; /* the kernel stamps the MSR read itself */
	r->raw = s.energy_uj[d->index];
	r->epoch = s.epoch;
	return QVK_OK;
}

static enum qvk_telemetry_kind qvk_tmodule_kind(uint32_t kind)
{
	switch (kind) {
	case QVK_TELEM_KIND_PACKAGE: return QVK_TELEMETRY_CPU_PACKAGE;
	case QVK_TELEM_KIND_CORES: return QVK_TELEMETRY_CPU_CORES;
	case QVK_TELEM_KIND_UNCORE: return QVK_TELEMETRY_GPU_INTEGRATED;
	case QVK_TELEM_KIND_DRAM: return QVK_TELEMETRY_DRAM;
	case QVK_TELEM_KIND_PLATFORM: return QVK_TELEMETRY_PLATFORM;
	case QVK_TELEM_KIND_SYNTHETIC: return QVK_TELEMETRY_SYNTHETIC;
	default: return QVK_TELEMETRY_OTHER;
	}
}

static const char *qvk_tmodule_why(int err)
{
	switch (err) {
	case ENOENT:
		return "absent (module not loaded)";
	case EACCES:
	case EPERM:
		return "no permission (root, or the module's group= with the udev rule)";
	default:
		return strerror(err);
	}
}

/* Check what the kernel says about the ABI before trusting the page. */
static qvk_status qvk_tmodule_validate(struct qvk_telemetry *t,
				       const struct qvk_tmodule *m)
{
	const struct qvk_telem_info *i = &m->info;

	if (i->size != sizeof(*i) || i->abi_version != QVK_TELEM_ABI_VERSION ||
	    i->page_size < sizeof(struct qvk_telem_page) ||
	    i->mmap_size != QVK_TELEM_MMAP_SIZE ||
	    i->sample_size != sizeof(struct qvk_telem_sample) ||
	    i->n_domains > QVK_TELEM_MAX_DOMAINS) {
		qvk_telemetry_note(t, "qvk_telem: %s: ABI %u (page %u, sample %u bytes, %u domains) is not the ABI %u this libqvk reads",
				   t->module_path, i->abi_version, i->page_size,
				   i->sample_size, i->n_domains, QVK_TELEM_ABI_VERSION);
		return QVK_ERR_UNSUPPORTED;
	}
	return QVK_OK;
}

qvk_status qvk_telemetry_probe_module(struct qvk_telemetry *t)
{
	struct qvk_tmodule *m;
	char coarse[96] = "";
	struct stat sb;
	void *page;

	m = calloc(1, sizeof(*m));
	if (!m)
		return qvk_error(t->ctx, QVK_ERR_NO_MEMORY, "telemetry: out of memory");
	/* O_NONBLOCK: a FIFO at the path (QVK_TELEM_DEV) must not block. */
	m->fd = open(t->module_path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (m->fd < 0) {
		qvk_telemetry_note(t, "qvk_telem: %s: %s", t->module_path,
				   qvk_tmodule_why(errno));
		goto out_free;
	}
	if (fstat(m->fd, &sb) != 0 || !S_ISCHR(sb.st_mode)) {
		qvk_telemetry_note(t, "qvk_telem: %s: not a character device (not the qvk_telem module)",
				   t->module_path);
		goto out_close;
	}
	m->info.size = sizeof(m->info);
	if (ioctl(m->fd, QVK_TELEM_IOC_INFO, &m->info)) {
		qvk_telemetry_note(t, "qvk_telem: %s: INFO ioctl: %s (not the qvk_telem module?)",
				   t->module_path, strerror(errno));
		goto out_close;
	}
	if (qvk_tmodule_validate(t, m) != QVK_OK)
		goto out_close;
	page = mmap(NULL, QVK_TELEM_MMAP_SIZE, PROT_READ, MAP_SHARED, m->fd, 0);
	if (page == MAP_FAILED) {
		qvk_telemetry_note(t, "qvk_telem: %s: mmap: %s", t->module_path,
				   strerror(errno));
		goto out_close;
	}
	m->page = page;
	if (m->page->version != QVK_TELEM_ABI_VERSION) {
		qvk_telemetry_note(t, "qvk_telem: page version %u, expected %u",
				   m->page->version, QVK_TELEM_ABI_VERSION);
		goto out_unmap;
	}
	t->module = m;
	if (m->page->coarse_step_uj || m->page->coarse_interval_ms)
		qvk_fmt(coarse, sizeof(coarse), " (coarse for this user: steps of %u uJ, at most every %u ms)",
			m->page->coarse_step_uj, m->page->coarse_interval_ms);
	if (m->info.n_domains == 0)
		qvk_telemetry_note(t, "qvk_telem: %s: loaded, no energy domain (no RAPL found by the module)",
				   t->module_path);
	for (uint32_t i = 0; i < m->info.n_domains; i++) {
		const struct qvk_telem_domain *kd = &m->info.domains[i];
		struct qvk_tdom *d = qvk_telemetry_add(t);
		bool synth = kd->flags & QVK_TELEM_DOMAIN_SYNTHETIC;

		if (!d)
			break;
		qvk_fmt(d->pub.name, sizeof(d->pub.name), "%.*s",
			 (int)strnlen(kd->name, sizeof(kd->name)), kd->name);
		d->pub.source = QVK_TELEMETRY_MODULE;
		d->pub.kind = qvk_tmodule_kind(kd->kind);
		d->pub.counter = true;
		d->pub.synthetic = synth;
		/*
		 * A coarse page (a reader without CAP_SYS_ADMIN, module
		 * loaded with unpriv_step_uj/unpriv_interval_ms) steps and
		 * lags by that much: the error bounds must know.
		 */
		d->pub.update_period_s = QVK_MAX(m->info.period_us * 1e-6,
						 m->page->coarse_interval_ms * 1e-3);
		d->pub.resolution = QVK_MAX(QVK_MAX((double)kd->unit_fj * 1e-15, 1e-6),
					    m->page->coarse_step_uj * 1e-6);
		qvk_fmt(d->pub.path, sizeof(d->pub.path), "%s (mmap)", t->module_path);
		d->read = qvk_tmodule_read;
		d->src = m;
		d->index = i;
		d->unit_j = 1e-6; /* the page carries extended microjoules */
		/* RAPL refreshes its MSRs about every millisecond. */
		d->lag_s = synth ? 0 : 1e-3;
		qvk_telemetry_note(t, "qvk_telem: %s: %s%s, counter in uJ, period %u us%s",
				   t->module_path, d->pub.name,
				   synth ? " (synthetic test ramp, not a measurement)" : "",
				   m->info.period_us, coarse);
	}
	return QVK_OK;

out_unmap:
	munmap(page, QVK_TELEM_MMAP_SIZE);
out_close:
	close(m->fd);
out_free:
	free(m);
	return QVK_OK;
}

void qvk_telemetry_module_close(struct qvk_telemetry *t)
{
	struct qvk_tmodule *m = t->module;

	if (!m)
		return;
	munmap((void *)m->page, QVK_TELEM_MMAP_SIZE);
	close(m->fd);
	free(m);
	t->module = NULL;
}

void qvk_telemetry_module_clocks(struct qvk_telemetry *t,
				 struct qvk_energy_result *res)
{
	const struct qvk_telem_page *p = t->module ? t->module->page : NULL;
	uint32_t khz[QVK_TELEM_MAX_CPUS], n, seq, known = 0;
	double sum = 0, lo = 0, hi = 0;

	if (!p || p->clock_source == QVK_TELEM_CLOCK_NONE)
		return;
	for (uint32_t tries = 0;; tries++) {
		if (tries == QVK_TMODULE_MAX_RETRIES)
			return; /* never settled: no clocks rather than torn ones */
		seq = __atomic_load_n(&p->seq, __ATOMIC_ACQUIRE);
		if (seq & 1)
			continue;
		n = QVK_MIN(p->n_cpus, (uint32_t)QVK_TELEM_MAX_CPUS);
		memcpy(khz, p->cpu_khz, n * sizeof(khz[0]));
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&p->seq, __ATOMIC_RELAXED) == seq)
			break;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (!khz[i])
			continue;
		lo = known ? QVK_MIN(lo, (double)khz[i]) : khz[i];
		hi = QVK_MAX(hi, (double)khz[i]);
		sum += khz[i];
		known++;
	}
	if (!known)
		return;
	qvk_telemetry_add_clock(res, "cpu_khz_avg", sum / known, "kHz");
	qvk_telemetry_add_clock(res, "cpu_khz_min", lo, "kHz");
	qvk_telemetry_add_clock(res, "cpu_khz_max", hi, "kHz");
}
