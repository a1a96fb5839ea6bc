/* SPDX-License-Identifier: MIT */
/*
 * A cache folder of a test's own (XDG_CACHE_HOME pointed at a fresh
 * folder), for tests that write qvk's pipeline cache file and must not
 * touch the user's. What is not under test comes along: the device's
 * tuning results (qvk/<device>*.tune) are copied in from the cache folder
 * in use, and Mesa's shader cache stays where it was (MESA_SHADER_CACHE_DIR)
 * — without them each such test re-timed every matmul and attention
 * candidate and the driver recompiled every shader, a minute per suite on
 * lavapipe. Where nothing was tuned yet the test tunes itself, as a first
 * run does.
 */
#ifndef QVK_TESTS_CACHE_SANDBOX_H
#define QVK_TESTS_CACHE_SANDBOX_H

struct qvk_cache_sandbox {
	char dir[512];       /* the fresh XDG_CACHE_HOME */
	char *saved_xdg;     /* XDG_CACHE_HOME before, or NULL */
	int mesa_set;        /* MESA_SHADER_CACHE_DIR was set by enter */
};

/* Make the folder (qvk-NAME.XXXXXX under TMPDIR) and point the variables. */
void qvk_cache_sandbox_enter(struct qvk_cache_sandbox *s, const char *name);
/* Remove the folder and its files; restore the variables. */
void qvk_cache_sandbox_leave(struct qvk_cache_sandbox *s);

/*
 * A lasting cache folder @dir for commands the tests run (tests/cli.c):
 * made and seeded with the tuning on its first use, kept after. @mesa
 * gets the Mesa shader cache folder to point MESA_SHADER_CACHE_DIR at
 * ("" where the variable is set already or no cache folder is in use).
 */
void qvk_cache_sandbox_lasting(const char *dir, char *mesa, size_t len);

#endif
