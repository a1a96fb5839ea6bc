/* SPDX-License-Identifier: MIT */
/*
 * Shared by the telemetry suites (check_telemetry*.c): the fixture sysfs
 * trees in tests/fixtures/telemetry (real file formats), writable copies of
 * them, and short ways to open a telemetry object and look into it.
 */
#ifndef QVK_TESTS_TELEMETRY_FIXTURES_H
#define QVK_TESTS_TELEMETRY_FIXTURES_H

#include <stdint.h>

#include <qvk/telemetry.h>

#include "harness.h"

struct qvk_telemetry_backends; /* telemetry/telemetry_internal.h */

/* A disable mask with every source off, or every source but @src off. */
#define ALL_SOURCES ((1u << QVK_TELEMETRY_SOURCE_COUNT) - 1)
#define ONLY(src) (ALL_SOURCES & ~(1u << (src)))

/*
 * Checked fixture: qvk_test_ctx (harness.h) and no temporary tree yet;
 * teardown removes the tree telem_fixture_copy() made, if any.
 */
void telem_setup(void);
void telem_teardown(void);

/* Path of tests/fixtures/telemetry/@name, in a static buffer. */
const char *telem_fixture(const char *name);
/* A writable copy of a fixture tree in /tmp; removed by the teardown. */
const char *telem_fixture_copy(const char *name);
/* Replace the file @root/@rel with @text. */
void telem_put(const char *root, const char *rel, const char *text);

/*
 * Telemetry on the sysfs tree @root with the sources in @disable off, no
 * module and no poll thread (the tests poll by hand); @fake replaces the
 * GPU libraries where not NULL. Fails the test when creation fails.
 */
struct qvk_telemetry *telem_open(const char *root, uint32_t disable,
				 const struct qvk_telemetry_backends *fake);
/* Index of the domain called @name, or -1. */
int telem_find_domain(const struct qvk_telemetry *t, const char *name);
/* Fails the test unless qvk_telemetry_describe() contains @text. */
void telem_describes(const struct qvk_telemetry *t, const char *text);
/* The clock reading called @name in @r, or NULL. */
const struct qvk_clock_reading *telem_find_clock(const struct qvk_energy_result *r,
						 const char *name);

#endif
