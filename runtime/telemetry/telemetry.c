/* SPDX-License-Identifier: MIT */
/*
 * libqvk telemetry: the object, its domain table, the poll thread that
 * integrates power-only domains and extends wrapping counters, and energy
 * windows with interpolation, error bounds and cross-source checks.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "telemetry_internal.h"

#define QVK_TELEMETRY_DEFAULT_POLL_S 0.02
/* Extra tolerance of the cross-source check beyond the error bounds. */
#define QVK_TELEMETRY_CHECK_SLACK 0.02

struct qvk_energy_window_dom {
	bool ok;
	uint64_t t_ns, t_unc_ns;
	double total_j, bound_j;
	uint32_t breaks;
	char error[128];
};

struct qvk_energy_window {
	uint64_t begin_ns;
	struct qvk_energy_result clocks_begin; /* throttle counters at begin */
	struct qvk_energy_window_dom dom[QVK_TELEMETRY_MAX_DOMAINS];
};

void qvk_telemetry_note(struct qvk_telemetry *t, const char *fmt, ...)
{
	size_t room = sizeof(t->describe) - t->describe_len;
	va_list ap;
	int n;

	if (room < 2)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->describe + t->describe_len, room - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	t->describe_len += QVK_MIN((size_t)n, room - 2);
	t->describe[t->describe_len++] = '\n';
	t->describe[t->describe_len] = 0;
}

struct qvk_tdom *qvk_telemetry_add(struct qvk_telemetry *t)
{
	struct qvk_tdom *d;

	if (t->n_domains >= QVK_TELEMETRY_MAX_DOMAINS) {
		qvk_telemetry_note(t, "telemetry: more than %d domains; the rest are ignored",
				   QVK_TELEMETRY_MAX_DOMAINS);
		return NULL;
	}
	d = &t->dom[t->n_domains++];
	memset(d, 0, sizeof(*d));
	return d;
}

const char *qvk_telemetry_source_name(enum qvk_telemetry_source s)
{
	static const char *const names[] = { "qvk_telem", "powercap", "hwmon",
					     "amdgpu", "nvml" };

	return (unsigned)s < QVK_ARRAY_SIZE(names) ? names[s] : "unknown";
}

const char *qvk_telemetry_kind_name(enum qvk_telemetry_kind k)
{
	static const char *const names[] = { "cpu-package", "cpu-cores",
					     "gpu-integrated", "dram", "platform",
					     "gpu", "other", "synthetic" };

	return (unsigned)k < QVK_ARRAY_SIZE(names) ? names[k] : "unknown";
}

/*
 * Continuity of a counter is lost: no energy can be given across this
 * pair of readings. @why ends up in the note of any window spanning it.
 */
static void qvk_tdom_break(struct qvk_tdom *d, const char *why, ...)
	QVK_PRINTF(2, 3);
static void qvk_tdom_break(struct qvk_tdom *d, const char *why, ...)
{
	va_list ap;

	d->breaks++;
	va_start(ap, why);
	vsnprintf(d->break_note, sizeof(d->break_note), why, ap);
	va_end(ap);
}

/*
 * A counter's step from @d->last to @r. Between two readings dt apart the
 * counter moved by (r - last) mod wrap plus some whole number of wraps. At
 * most QVK_TELEMETRY_MAX_POWER_W, one wrap takes wrap_j / P_max seconds:
 * for a shorter gap only the first candidate is possible, and it is the
 * answer if it stays under the ceiling; anything else is not a wrap but a
 * reset, a different counter or a gap that may hide wraps.
 */
static void qvk_tdom_count(struct qvk_tdom *d, const struct qvk_treading *r,
			   double dt_s)
{
	const struct qvk_treading *l = &d->last;
	double wrap_j = (double)d->wrap * d->unit_j, step_j;
	/* The counter may have moved over the readings' lag as well. */
	double span_s = dt_s + 2 * d->lag_s + (double)(l->t_unc_ns + r->t_unc_ns) * 1e-9;

	if (r->epoch != l->epoch) {
		qvk_tdom_break(d, "continuity lost: the module re-based its counter (epoch %u -> %u)",
			       l->epoch, r->epoch);
		return;
	}
	if (d->wrap && dt_s > wrap_j / QVK_TELEMETRY_MAX_POWER_W) {
		qvk_tdom_break(d, "continuity lost: readings %.3f s apart, over the %.3g s the counter needs to wrap at %.0f kW",
			       dt_s, wrap_j / QVK_TELEMETRY_MAX_POWER_W,
			       QVK_TELEMETRY_MAX_POWER_W / 1000);
		return;
	}
	if (r->raw >= l->raw) {
		d->total_j += (double)(r->raw - l->raw) * d->unit_j;
		return;
	}
	if (!d->wrap) {
		qvk_tdom_break(d, "counter went backwards (%llu -> %llu) and has no wrap point: reset or another counter",
			       (unsigned long long)l->raw, (unsigned long long)r->raw);
		return;
	}
	/* powercap: counts 0..max_energy_range_uj, then 0 again */
	step_j = (double)(d->wrap - l->raw + r->raw) * d->unit_j;
	if (step_j > QVK_TELEMETRY_MAX_POWER_W * span_s) {
		qvk_tdom_break(d, "counter went backwards (%llu -> %llu in %.3f s): a wrap would mean %.3g kW, over the %.0f kW ceiling",
			       (unsigned long long)l->raw, (unsigned long long)r->raw,
			       dt_s, step_j / span_s / 1000,
			       QVK_TELEMETRY_MAX_POWER_W / 1000);
		return;
	}
	d->total_j += step_j;
}

/* Fold a new reading into a domain's running energy. Under t->lock. */
static void qvk_tdom_advance(struct qvk_tdom *d, const struct qvk_treading *r)
{
	double dt_s;

	if (!d->have) {
		d->have = true;
		d->last = *r;
		return;
	}
	if (r->t_ns < d->last.t_ns)
		return; /* not newer than what we have */
	dt_s = (double)(r->t_ns - d->last.t_ns) * 1e-9;
	d->max_gap_s = fmax(d->max_gap_s, dt_s);
	if (d->pub.counter) {
		qvk_tdom_count(d, r, dt_s);
	} else {
		d->total_j += 0.5 * (d->last.power_w + r->power_w) * dt_s;
		d->bound_j += 0.5 * fabs(r->power_w - d->last.power_w) * dt_s;
	}
	d->last = *r;
}

static bool qvk_tdom_update(struct qvk_telemetry *t, struct qvk_tdom *d)
{
	struct qvk_treading r = { 0 };

	if (d->read(t, d, &r) != QVK_OK)
		return false;
	d->error[0] = 0;
	qvk_tdom_advance(d, &r);
	return true;
}

qvk_status qvk_telemetry_poll(struct qvk_telemetry *t)
{
	uint32_t failed = 0;

	if (!t)
		return QVK_ERR_INVALID_ARG;
	pthread_mutex_lock(&t->lock);
	for (uint32_t i = 0; i < t->n_domains; i++)
		failed += !qvk_tdom_update(t, &t->dom[i]);
	pthread_mutex_unlock(&t->lock);
	if (failed)
		return qvk_error(t->ctx, QVK_ERR_IO,
				 "telemetry: %u domain(s) could not be read", failed);
	return QVK_OK;
}

static void *qvk_telemetry_thread(void *arg)
{
	struct qvk_telemetry *t = arg;
	uint64_t period_ns = (uint64_t)(t->poll_period_s * 1e9);
	struct timespec ts;

	pthread_mutex_lock(&t->lock);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	for (;;) {
		uint64_t ns = (uint64_t)ts.tv_nsec + period_ns;
		int rc = 0;

		ts.tv_sec += (time_t)(ns / 1000000000ull);
		ts.tv_nsec = (long)(ns % 1000000000ull);
		while (!t->stop && rc != ETIMEDOUT)
			rc = pthread_cond_timedwait(&t->wake, &t->lock, &ts);
		if (t->stop)
			break;
		for (uint32_t i = 0; i < t->n_domains; i++)
			(void)qvk_tdom_update(t, &t->dom[i]);
	}
	pthread_mutex_unlock(&t->lock);
	return NULL;
}

static qvk_status qvk_telemetry_start_thread(struct qvk_telemetry *t)
{
	pthread_condattr_t attr;
	bool needed = false;
	int err;

	for (uint32_t i = 0; i < t->n_domains; i++)
		needed |= !t->dom[i].pub.counter || t->dom[i].wrap != 0;
	if (!needed || t->poll_period_s < 0)
		return QVK_OK;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_destroy(&t->wake);
	err = pthread_cond_init(&t->wake, &attr);
	pthread_condattr_destroy(&attr);
	if (err)
		return qvk_error(t->ctx, QVK_ERR_NO_MEMORY, "telemetry: cond: %s",
				 strerror(err));
	err = pthread_create(&t->thread, NULL, qvk_telemetry_thread, t);
	if (err)
		return qvk_error(t->ctx, QVK_ERR_NO_MEMORY,
				 "telemetry: poll thread: %s", strerror(err));
	t->thread_started = true;
	return QVK_OK;
}

static const char *qvk_telemetry_pick(const char *opt, const char *env,
				      const char *def)
{
	const char *v = opt ? opt : getenv(env);

	return v && *v ? v : def;
}

qvk_status qvk_telemetry_create_with(struct qvk_ctx *ctx,
				     const struct qvk_telemetry_options *opt,
				     const struct qvk_telemetry_backends *fake,
				     struct qvk_telemetry **out)
{
	static const struct qvk_telemetry_options defaults = { 0 };
	static qvk_status (*const probes[])(struct qvk_telemetry *) = {
		qvk_telemetry_probe_module, qvk_telemetry_probe_powercap,
		qvk_telemetry_probe_hwmon, qvk_telemetry_probe_amdgpu,
		qvk_telemetry_probe_nvml,
	};
	struct qvk_telemetry *t;
	qvk_status st;

	if (!out)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG, "telemetry: out is NULL");
	*out = NULL;
	if (!opt)
		opt = &defaults;
	if (!isfinite(opt->poll_period_s) || opt->poll_period_s > 10)
		return qvk_error(ctx, QVK_ERR_INVALID_ARG,
				 "telemetry: poll period %g s is not in (0, 10]",
				 opt->poll_period_s);
	t = calloc(1, sizeof(*t));
	if (!t)
		return qvk_error(ctx, QVK_ERR_NO_MEMORY, "telemetry: out of memory");
	t->ctx = ctx;
	t->disable = opt->disable;
	t->backends = fake;
	t->poll_period_s = opt->poll_period_s == 0 ? QVK_TELEMETRY_DEFAULT_POLL_S :
						    opt->poll_period_s;
	pthread_mutex_init(&t->lock, NULL);
	pthread_cond_init(&t->wake, NULL);
	if (!qvk_fmt(t->sysfs_root, sizeof(t->sysfs_root), "%s",
		     qvk_telemetry_pick(opt->sysfs_root, "QVK_SYSFS_ROOT", "/sys"))) {
		st = qvk_error(ctx, QVK_ERR_INVALID_ARG, "telemetry: sysfs root too long");
		goto out_destroy;
	}
	if (!qvk_fmt(t->module_path, sizeof(t->module_path), "%s",
		     qvk_telemetry_pick(opt->module_path, "QVK_TELEM_DEV",
					"/dev/qvk_telem"))) {
		st = qvk_error(ctx, QVK_ERR_INVALID_ARG, "telemetry: module path too long");
		goto out_destroy;
	}
	qvk_fmt(t->render_node, sizeof(t->render_node), "%s",
		 opt->drm_render_node ? opt->drm_render_node : "");

	for (unsigned s = 0; s < QVK_ARRAY_SIZE(probes); s++) {
		if (t->disable & (1u << s)) {
			qvk_telemetry_note(t, "%s: disabled by the caller",
					   qvk_telemetry_source_name(s));
			continue;
		}
		st = probes[s](t);
		if (st != QVK_OK)
			goto out_destroy;
	}
	if (t->n_domains == 0)
		qvk_telemetry_note(t, "no energy source on this machine");

	/* First readings: every later one is a difference against them. */
	if (qvk_telemetry_poll(t) != QVK_OK) {
		/* Each domain keeps its error; windows report it. */
	}
	st = qvk_telemetry_start_thread(t);
	if (st != QVK_OK)
		goto out_destroy;
	*out = t;
	return QVK_OK;

out_destroy:
	qvk_telemetry_destroy(t);
	return st;
}

qvk_status qvk_telemetry_create(struct qvk_ctx *ctx,
				const struct qvk_telemetry_options *opt,
				struct qvk_telemetry **out)
{
	return qvk_telemetry_create_with(ctx, opt, NULL, out);
}

void qvk_telemetry_destroy(struct qvk_telemetry *t)
{
	if (!t)
		return;
	if (t->thread_started) {
		pthread_mutex_lock(&t->lock);
		t->stop = true;
		pthread_cond_signal(&t->wake);
		pthread_mutex_unlock(&t->lock);
		pthread_join(t->thread, NULL);
	}
	qvk_telemetry_nvml_close(t);
	qvk_telemetry_amdgpu_close(t);
	qvk_telemetry_module_close(t);
	pthread_cond_destroy(&t->wake);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

const char *qvk_telemetry_describe(const struct qvk_telemetry *t)
{
	return t ? t->describe : "";
}

uint32_t qvk_telemetry_domain_count(const struct qvk_telemetry *t)
{
	return t ? t->n_domains : 0;
}

const struct qvk_telemetry_domain *
qvk_telemetry_domain(const struct qvk_telemetry *t, uint32_t index)
{
	return t && index < t->n_domains ? &t->dom[index].pub : NULL;
}

qvk_status qvk_energy_window_begin(struct qvk_telemetry *t,
				   struct qvk_energy_window **out)
{
	struct qvk_energy_window *w;

	if (!t || !out)
		return QVK_ERR_INVALID_ARG;
	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return qvk_error(t->ctx, QVK_ERR_NO_MEMORY, "telemetry: out of memory");
	qvk_telemetry_read_clocks(t, &w->clocks_begin);
	pthread_mutex_lock(&t->lock);
	w->begin_ns = qvk_telemetry_now_ns();
	for (uint32_t i = 0; i < t->n_domains; i++) {
		struct qvk_tdom *d = &t->dom[i];
		struct qvk_energy_window_dom *b = &w->dom[i];

		b->ok = qvk_tdom_update(t, d) && d->have;
		b->t_ns = d->last.t_ns;
		b->t_unc_ns = d->last.t_unc_ns;
		b->total_j = d->total_j;
		b->bound_j = d->bound_j;
		b->breaks = d->breaks;
		qvk_fmt(b->error, sizeof(b->error), "%s", d->error);
	}
	pthread_mutex_unlock(&t->lock);
	*out = w;
	return QVK_OK;
}

/*
 * The energy between two readings, scaled to the window: the average power
 * over [ta, tb] stands in for the power at the window's edges, which is
 * also what the edge term of the bound assumes.
 */
static void qvk_energy_domain_finish(const struct qvk_tdom *d,
				     const struct qvk_energy_window_dom *b,
				     uint64_t begin_ns, uint64_t end_ns,
				     struct qvk_energy_domain_result *r)
{
	double window_s = (double)(end_ns - begin_ns) * 1e-9;
	double span_s = (double)(d->last.t_ns - b->t_ns) * 1e-9;
	double energy_j = d->total_j - b->total_j, power_w, edge_s;

	if (!b->ok) {
		qvk_fmt(r->note, sizeof(r->note), "unreadable at begin: %s", b->error);
		return;
	}
	if (d->error[0]) {
		qvk_fmt(r->note, sizeof(r->note), "unreadable at end: %s", d->error);
		return;
	}
	if (d->breaks != b->breaks) {
		qvk_fmt(r->note, sizeof(r->note), "%s", d->break_note);
		return;
	}
	if (span_s <= 0 || window_s <= 0) {
		qvk_fmt(r->note, sizeof(r->note),
			 "no new reading inside the window (shorter than the %.3f s update period)",
			 d->pub.update_period_s);
		return;
	}
	power_w = energy_j / span_s;
	edge_s = fabs((double)((int64_t)b->t_ns - (int64_t)begin_ns)) * 1e-9 +
		 fabs((double)((int64_t)end_ns - (int64_t)d->last.t_ns)) * 1e-9 +
		 (double)(b->t_unc_ns + d->last.t_unc_ns) * 1e-9 + 2 * d->lag_s;
	r->valid = true;
	r->energy_j = power_w * window_s;
	r->avg_w = power_w;
	if (d->pub.counter)
		r->error_bound_j = fabs(power_w) * edge_s + 2 * d->pub.resolution;
	else
		r->error_bound_j = (d->bound_j - b->bound_j) +
				   d->pub.resolution * window_s +
				   fabs(power_w) * edge_s;
	if (d->pub.synthetic)
		qvk_fmt(r->note, sizeof(r->note), "synthetic test ramp, not a measurement");
}

static bool qvk_energy_checkable(enum qvk_telemetry_kind k)
{
	return k == QVK_TELEMETRY_CPU_PACKAGE || k == QVK_TELEMETRY_CPU_CORES ||
	       k == QVK_TELEMETRY_GPU_INTEGRATED || k == QVK_TELEMETRY_DRAM ||
	       k == QVK_TELEMETRY_PLATFORM || k == QVK_TELEMETRY_SYNTHETIC;
}

/* Two sources on the same RAPL domain must agree within their bounds. */
static void qvk_energy_self_check(const struct qvk_telemetry *t,
				  struct qvk_energy_result *res)
{
	for (uint32_t i = 0; i < t->n_domains; i++) {
		for (uint32_t j = i + 1; j < t->n_domains; j++) {
			const struct qvk_telemetry_domain *a = &t->dom[i].pub;
			const struct qvk_telemetry_domain *b = &t->dom[j].pub;
			const struct qvk_energy_domain_result *ra = &res->domains[i];
			const struct qvk_energy_domain_result *rb = &res->domains[j];
			struct qvk_energy_check *c;
			double big;

			if (a->source == b->source || a->kind != b->kind ||
			    a->package != b->package || !qvk_energy_checkable(a->kind) ||
			    !ra->valid || !rb->valid ||
			    res->n_checks >= QVK_TELEMETRY_MAX_CHECKS)
				continue;
			c = &res->checks[res->n_checks++];
			big = fmax(fabs(ra->energy_j), fabs(rb->energy_j));
			c->domain_a = i;
			c->domain_b = j;
			c->rel_diff = big > 0 ? fabs(ra->energy_j - rb->energy_j) / big : 0;
			c->tolerance = big > 0 ? (ra->error_bound_j + rb->error_bound_j) / big +
							 QVK_TELEMETRY_CHECK_SLACK :
						 QVK_TELEMETRY_CHECK_SLACK;
			c->agree = c->rel_diff <= c->tolerance;
			if (!c->agree)
				qvk_log(t->ctx, QVK_LOG_WARN,
					"telemetry: %s (%s) and %s (%s) disagree: %.4f J vs %.4f J (%.1f%% > %.1f%%)",
					a->name, qvk_telemetry_source_name(a->source), b->name,
					qvk_telemetry_source_name(b->source), ra->energy_j,
					rb->energy_j, 100 * c->rel_diff, 100 * c->tolerance);
		}
	}
}

qvk_status qvk_energy_window_end(struct qvk_telemetry *t,
				 struct qvk_energy_window *w,
				 struct qvk_energy_result *out)
{
	if (!t || !w || !out) {
		free(w);
		return QVK_ERR_INVALID_ARG;
	}
	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&t->lock);
	out->end_ns = qvk_telemetry_now_ns();
	for (uint32_t i = 0; i < t->n_domains; i++)
		(void)qvk_tdom_update(t, &t->dom[i]);
	out->begin_ns = w->begin_ns;
	out->elapsed_s = (double)(out->end_ns - out->begin_ns) * 1e-9;
	out->n_domains = t->n_domains;
	for (uint32_t i = 0; i < t->n_domains; i++)
		qvk_energy_domain_finish(&t->dom[i], &w->dom[i], w->begin_ns,
					 out->end_ns, &out->domains[i]);
	pthread_mutex_unlock(&t->lock);

	qvk_telemetry_read_clocks(t, out);
	/* Throttle counters become events inside the window. */
	for (uint32_t i = 0; i < out->n_clocks; i++)
		for (uint32_t j = 0; j < w->clocks_begin.n_clocks; j++)
			if (strstr(out->clocks[i].name, "throttle_events") &&
			    !strcmp(out->clocks[i].name, w->clocks_begin.clocks[j].name))
				out->clocks[i].value -= w->clocks_begin.clocks[j].value;
	qvk_energy_self_check(t, out);
	free(w);
	return QVK_OK;
}
