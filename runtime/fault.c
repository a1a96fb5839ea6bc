/* SPDX-License-Identifier: MIT */
/*
 * Fault injection for test builds: the counters, the QVK_FAULT parser and
 * the allocator wrappers. The contract is in fault.h. Nothing here may
 * allocate: the wrappers run inside malloc.
 */
#include "fault.h"

#if QVK_FAULT_INJECTION
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

enum qvk_fault_site {
	QVK_FAULT_MALLOC,
	QVK_FAULT_VK_ALLOCATE,
	QVK_FAULT_VK_CREATE,
	QVK_FAULT_VK_MAP,
	QVK_FAULT_LOST,
	QVK_FAULT_SITE_COUNT,
	QVK_FAULT_PREFIX = -1, /* a spec naming a Vulkan function prefix */
	QVK_FAULT_NONE = -1,   /* a call no site counts */
};

static const char *const qvk_fault_site_names[QVK_FAULT_SITE_COUNT] = {
	"malloc", "vkAllocate", "vkCreate", "vkMapMemory", "lost",
};

#define QVK_FAULT_MAX_SPECS 8

struct qvk_fault_spec {
	char prefix[48];
	int site;       /* enum qvk_fault_site, or QVK_FAULT_PREFIX */
	uint64_t nth;   /* 1-based call to fail */
	uint64_t seen;  /* calls counted so far (atomic) */
};

/* See fault.h for why this state is process-wide. */
static struct {
	pthread_once_t once;
	pthread_mutex_t lock; /* one qvk_fault_arm() at a time */
	bool from_env;        /* QVK_FAULT was set: report the counts at exit */
	bool counting;        /* QVK_FAULT set or qvk_fault_arm() called */
	bool lost;            /* a device-lost fault fired: stays lost */
	unsigned n_specs;     /* published with release after spec[] */
	struct qvk_fault_spec spec[QVK_FAULT_MAX_SPECS];
	uint64_t calls[QVK_FAULT_SITE_COUNT]; /* atomic */
} qvk_fault = { PTHREAD_ONCE_INIT, PTHREAD_MUTEX_INITIALIZER };

static _Thread_local VkResult qvk_fault_last;

/* Print without allocating (stdio may allocate for its buffers). */
static void qvk_fault_say(const char *fmt, ...) QVK_PRINTF(1, 2);
static void qvk_fault_say(const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		(void)!write(STDERR_FILENO, line,
			     QVK_MIN((size_t)n, sizeof(line) - 1));
}

static void qvk_fault_report(void)
{
	const uint64_t *c = qvk_fault.calls;

	if (!qvk_fault.from_env)
		return;
	qvk_fault_say("qvk fault: calls: malloc %llu vkAllocate %llu vkCreate "
		      "%llu vkMapMemory %llu lost %llu\n",
		      (unsigned long long)__atomic_load_n(&c[0], __ATOMIC_RELAXED),
		      (unsigned long long)__atomic_load_n(&c[1], __ATOMIC_RELAXED),
		      (unsigned long long)__atomic_load_n(&c[2], __ATOMIC_RELAXED),
		      (unsigned long long)__atomic_load_n(&c[3], __ATOMIC_RELAXED),
		      (unsigned long long)__atomic_load_n(&c[4], __ATOMIC_RELAXED));
}

/*
 * Parse "SITE:N[,SITE:N...]" or "count" into spec[]; returns how many
 * specs, or -1 on a malformed list.
 */
static int qvk_fault_parse(const char *text)
{
	const char *p = text;
	unsigned n = 0;

	if (!strcmp(text, "count"))
		return 0;
	while (*p) {
		struct qvk_fault_spec *s = &qvk_fault.spec[n];
		size_t len = strcspn(p, ":,");
		char *end;

		if (n == QVK_FAULT_MAX_SPECS || !len ||
		    len >= sizeof(s->prefix) || p[len] != ':')
			return -1;
		memset(s, 0, sizeof(*s));
		memcpy(s->prefix, p, len);
		s->site = QVK_FAULT_PREFIX;
		for (int i = 0; i < QVK_FAULT_SITE_COUNT; i++)
			if (!strcmp(s->prefix, qvk_fault_site_names[i]))
				s->site = i;
		if (s->site == QVK_FAULT_PREFIX && strncmp(s->prefix, "vk", 2))
			return -1;
		p += len + 1;
		errno = 0;
		s->nth = strtoull(p, &end, 10);
		if (errno || end == p || !s->nth || (*end && *end != ',') ||
		    (*end == ',' && !end[1]))
			return -1;
		p = *end ? end + 1 : end;
		n++;
	}
	return n ? (int)n : -1;
}

static void qvk_fault_init(void)
{
	const char *env = getenv("QVK_FAULT");
	int n;

	if (!env || !*env)
		return;
	n = qvk_fault_parse(env);
	if (n < 0) {
		qvk_fault_say("qvk fault: QVK_FAULT='%.100s' is not SITE:N[,...] "
			      "(sites: malloc vkAllocate vkCreate vkMapMemory "
			      "lost, or a vk function name prefix) or 'count'; "
			      "counting only\n", env);
		n = 0;
	}
	qvk_fault.n_specs = (unsigned)n;
	qvk_fault.from_env = qvk_fault.counting = true;
	atexit(qvk_fault_report);
}

bool qvk_fault_arm(const char *spec)
{
	int n = 0;

	pthread_once(&qvk_fault.once, qvk_fault_init);
	pthread_mutex_lock(&qvk_fault.lock);
	__atomic_store_n(&qvk_fault.n_specs, 0, __ATOMIC_RELEASE);
	for (int i = 0; i < QVK_FAULT_SITE_COUNT; i++)
		__atomic_store_n(&qvk_fault.calls[i], 0, __ATOMIC_RELAXED);
	__atomic_store_n(&qvk_fault.lost, false, __ATOMIC_RELAXED);
	if (spec)
		n = qvk_fault_parse(spec);
	__atomic_store_n(&qvk_fault.counting, spec != NULL || qvk_fault.from_env,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&qvk_fault.n_specs, n > 0 ? (unsigned)n : 0,
			 __ATOMIC_RELEASE);
	pthread_mutex_unlock(&qvk_fault.lock);
	return n >= 0;
}

uint64_t qvk_fault_calls(const char *site)
{
	for (int i = 0; i < QVK_FAULT_SITE_COUNT; i++)
		if (!strcmp(site, qvk_fault_site_names[i]))
			return __atomic_load_n(&qvk_fault.calls[i],
					       __ATOMIC_RELAXED);
	return 0;
}

/*
 * Count one call of @site (@name for prefix specs, may be NULL) and say
 * whether a spec asks for it to fail.
 */
static bool qvk_fault_hit(int site, const char *name, const char *what)
{
	unsigned n_specs;
	bool fail = false;

	pthread_once(&qvk_fault.once, qvk_fault_init);
	if (!__atomic_load_n(&qvk_fault.counting, __ATOMIC_RELAXED))
		return false;
	if (site != QVK_FAULT_NONE)
		__atomic_add_fetch(&qvk_fault.calls[site], 1, __ATOMIC_RELAXED);
	n_specs = __atomic_load_n(&qvk_fault.n_specs, __ATOMIC_ACQUIRE);
	for (unsigned i = 0; i < n_specs; i++) {
		struct qvk_fault_spec *s = &qvk_fault.spec[i];
		bool match = s->site == QVK_FAULT_PREFIX ?
				     name && !strncmp(name, s->prefix,
						      strlen(s->prefix)) :
				     s->site == site;

		if (match && __atomic_add_fetch(&s->seen, 1, __ATOMIC_RELAXED) ==
				     s->nth) {
			qvk_fault_say("qvk fault: injected: %s (%s call %llu)\n",
				      what, s->prefix,
				      (unsigned long long)s->nth);
			fail = true;
		}
	}
	return fail;
}

/* ------------------------------------------------------------ Vulkan */
static int qvk_fault_vk_site(const char *call)
{
	static const char *const lost[] = { "vkQueueSubmit", "vkWaitForFences",
					    "vkQueueWaitIdle",
					    "vkDeviceWaitIdle" };

	if (!strncmp(call, "vkAllocate", 10))
		return QVK_FAULT_VK_ALLOCATE;
	if (!strncmp(call, "vkCreate", 8))
		return QVK_FAULT_VK_CREATE;
	if (!strncmp(call, "vkMapMemory", 11))
		return QVK_FAULT_VK_MAP;
	for (size_t i = 0; i < sizeof(lost) / sizeof(lost[0]); i++)
		if (!strncmp(call, lost[i], strlen(lost[i])))
			return QVK_FAULT_LOST;
	return QVK_FAULT_NONE;
}

VkResult qvk_fault_vk(const char *call)
{
	static const VkResult errors[QVK_FAULT_SITE_COUNT] = {
		[QVK_FAULT_VK_ALLOCATE] = VK_ERROR_OUT_OF_DEVICE_MEMORY,
		[QVK_FAULT_VK_CREATE] = VK_ERROR_OUT_OF_HOST_MEMORY,
		[QVK_FAULT_VK_MAP] = VK_ERROR_MEMORY_MAP_FAILED,
		[QVK_FAULT_LOST] = VK_ERROR_DEVICE_LOST,
	};
	int site = qvk_fault_vk_site(call);
	char what[64];
	VkResult res = VK_SUCCESS;

	snprintf(what, sizeof(what), "%.*s", (int)strcspn(call, "("), call);
	if (qvk_fault_hit(site, call, what)) {
		res = site == QVK_FAULT_NONE ? VK_ERROR_UNKNOWN : errors[site];
		if (site == QVK_FAULT_LOST)
			__atomic_store_n(&qvk_fault.lost, true, __ATOMIC_RELAXED);
	} else if (site == QVK_FAULT_LOST &&
		   __atomic_load_n(&qvk_fault.lost, __ATOMIC_RELAXED)) {
		res = VK_ERROR_DEVICE_LOST;
	}
	qvk_fault_last = res;
	return res;
}

VkResult qvk_fault_vk_last(void)
{
	return qvk_fault_last;
}

/* --------------------------------------------------------- allocator */
/*
 * The link wraps qvk's own calls (-Wl,--wrap=malloc,...): __real_* are the
 * allocator's (ASan's under ASan), __wrap_* count and fail on demand.
 */
void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
char *__real_strdup(const char *s);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
char *__wrap_strdup(const char *s);

static bool qvk_fault_alloc(const char *fn)
{
	if (!qvk_fault_hit(QVK_FAULT_MALLOC, NULL, fn))
		return false;
	errno = ENOMEM;
	return true;
}

void *__wrap_malloc(size_t size)
{
	return qvk_fault_alloc("malloc") ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return qvk_fault_alloc("calloc") ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
	return qvk_fault_alloc("realloc") ? NULL : __real_realloc(p, size);
}

char *__wrap_strdup(const char *s)
{
	return qvk_fault_alloc("strdup") ? NULL : __real_strdup(s);
}
#endif
