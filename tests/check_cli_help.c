/* SPDX-License-Identifier: MIT */
/*
 * suite_cli_help: the --help texts of the built qvk (tests/cli.h) as a
 * new user reads them: every command's and benchmark's --help prints help
 * and exits 0 (none starts work), every option an option line explains
 * is in that help's usage lines, and those usage lines name exactly the
 * options of the command's row in README.md's Commands table (both ways),
 * or, for the benchmarks without a row, options README's section on them
 * names.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "harness.h"

#define QVK_CLI_HELP_TIMEOUT_S 300
#define QVK_CLI_MAX_OPTS 64

/* The names listed under @heading ("commands:") of a usage text. */
static int qvk_cli_listed(const char *usage, const char *heading,
			  char names[][32], int max)
{
	const char *p = strstr(usage, heading);
	int n = 0;

	ck_assert_msg(p, "no '%s' in:\n%s", heading, usage);
	p = strchr(p, '\n');
	while (p && p[1] == ' ' && p[2] == ' ' && isalpha((unsigned char)p[3]) &&
	       n < max) {
		sscanf(p + 3, "%31s", names[n++]);
		p = strchr(p + 1, '\n');
	}
	ck_assert_int_gt(n, 0);
	return n;
}

static void qvk_cli_expect_help(const char *what, const struct qvk_cli *r)
{
	ck_assert_msg(r->status == 0, "%s: exit %d\n%s", what, r->status, r->err);
	ck_assert_msg(!strncmp(r->out, "usage: qvk", 10),
		      "%s: stdout does not start with usage:\n%s", what, r->out);
	ck_assert_msg(!strstr(r->out, "== qvk bench"),
		      "%s started a benchmark:\n%s", what, r->out);
	ck_assert_msg(r->wall_s < 30, "%s took %.1f s: it did work", what,
		      r->wall_s);
}

START_TEST(test_every_help_exits_0)
{
	char cmds[32][32], benches[32][32];
	struct qvk_cli r, h;
	int n_cmds, n_benches;

	qvk_cli_run(&r, NULL, "--help", NULL);
	ck_assert_int_eq(r.status, 0);
	n_cmds = qvk_cli_listed(r.out, "commands:", cmds, 32);
	for (int i = 0; i < n_cmds; i++) {
		qvk_cli_run(&h, NULL, cmds[i], "--help", NULL);
		qvk_cli_expect_help(cmds[i], &h);
		qvk_cli_free(&h);
	}
	qvk_cli_free(&r);
	qvk_cli_run(&r, NULL, "bench", "--help", NULL);
	qvk_cli_expect_help("bench", &r);
	n_benches = qvk_cli_listed(r.out, "benchmarks:", benches, 32);
	for (int i = 0; i < n_benches; i++) {
		qvk_cli_run(&h, NULL, "bench", benches[i], "--help", NULL);
		qvk_cli_expect_help(benches[i], &h);
		qvk_cli_free(&h);
		/* --help after another option still only prints help */
		qvk_cli_run(&h, NULL, "bench", benches[i], "--json", "--help",
			    NULL);
		qvk_cli_expect_help(benches[i], &h);
		qvk_cli_free(&h);
	}
	/* "all" runs every benchmark: its --help must not */
	qvk_cli_run(&h, NULL, "bench", "all", "--help", NULL);
	qvk_cli_expect_help("bench all", &h);
	qvk_cli_free(&h);
	qvk_cli_run(&h, NULL, "bench", "all", "--json", NULL);
	ck_assert_int_eq(h.status, 2);
	qvk_cli_free(&h);
	qvk_cli_free(&r);
	printf("%d commands and %d benchmarks print --help\n", n_cmds,
	       n_benches);
}
END_TEST

struct qvk_cli_opts {
	char name[QVK_CLI_MAX_OPTS][32];
	int n;
};

static bool qvk_cli_opts_has(const struct qvk_cli_opts *o, const char *name)
{
	for (int i = 0; i < o->n; i++)
		if (!strcmp(o->name[i], name))
			return true;
	return false;
}

/*
 * Adds to @o the options (-x, --long) named in @text[0, len): a '-' at
 * the start or after white space, '[', '(', '|' or '`', then a letter or a
 * second '-' and a letter (so "16-bit" and "-1" are not options).
 */
static void qvk_cli_opts_scan(const char *text, size_t len,
			      struct qvk_cli_opts *o)
{
	for (size_t i = 0; i < len; i++) {
		const char *p = text + i;
		char name[32];
		size_t n;

		if (*p != '-' || (i && !strchr(" \t\n[(|`", p[-1])))
			continue;
		n = p[1] == '-' ? 2 : 1;
		if (!isalpha((unsigned char)p[n]))
			continue;
		while (n < sizeof(name) - 1 && i + n < len &&
		       (isalnum((unsigned char)p[n]) || p[n] == '-'))
			n++;
		memcpy(name, p, n);
		name[n] = 0;
		i += n - 1;
		if (qvk_cli_opts_has(o, name))
			continue;
		ck_assert_int_lt(o->n, QVK_CLI_MAX_OPTS);
		strcpy(o->name[o->n++], name);
	}
}

/* Every option of @a is in @b; @what names the two for the message. */
static void qvk_cli_opts_within(const struct qvk_cli_opts *a,
				const struct qvk_cli_opts *b, const char *what)
{
	for (int i = 0; i < a->n; i++)
		ck_assert_msg(qvk_cli_opts_has(b, a->name[i]), "%s: %s",
			      what, a->name[i]);
}

/*
 * `qvk ARGV --help`: its usage lines (up to the first blank line) into
 * @usage, and each option line ("  -x, --long ARG  what it does") checked
 * to explain an option of those usage lines.
 */
static void qvk_cli_help_usage(const char *argv1, const char *argv2,
			       struct qvk_cli_opts *usage)
{
	struct qvk_cli r;
	const char *end;

	if (argv2)
		qvk_cli_run(&r, NULL, argv1, argv2, "--help", NULL);
	else
		qvk_cli_run(&r, NULL, argv1, "--help", NULL);
	ck_assert_int_eq(r.status, 0);
	usage->n = 0;
	end = strstr(r.out, "\n\n");
	qvk_cli_opts_scan(r.out, end ? (size_t)(end - r.out) : r.out_len, usage);
	for (const char *p = end; p && (p = strstr(p, "\n  -"));) {
		struct qvk_cli_opts line = { .n = 0 };

		p += 3;
		qvk_cli_opts_scan(p, strcspn(p, ", \n"), &line);
		ck_assert_msg(line.n == 1 && qvk_cli_opts_has(usage, line.name[0]),
			      "qvk %s%s%s --help explains %s, its usage lines do "
			      "not name it:\n%s", argv1, argv2 ? " " : "",
			      argv2 ? argv2 : "", line.n ? line.name[0] : p, r.out);
	}
	qvk_cli_free(&r);
}

/*
 * Adds to @row the options of the synopsis (the first cell) of the row of
 * README's Commands table that starts "| `qvk @synopsis".
 */
static void qvk_cli_readme_row(const char *readme, const char *synopsis,
			       struct qvk_cli_opts *row)
{
	char start[64];
	const char *p, *end;

	snprintf(start, sizeof(start), "\n| `qvk %s", synopsis);
	p = strstr(readme, start);
	ck_assert_msg(p, "README.md's Commands table has no row '%s'", start + 1);
	p += 3;
	end = strstr(p, "` |");
	ck_assert_msg(end && end < p + strcspn(p, "\n"), "row '%s' has no "
		      "synopsis cell", start + 1);
	qvk_cli_opts_scan(p, (size_t)(end - p), row);
}

START_TEST(test_help_matches_readme)
{
	/* command, benchmark (or NULL), the start of its README rows */
	static const char *const rows[][4] = {
		{ "info", NULL, "info ", NULL },   { "run", NULL, "run ", NULL },
		{ "chat", NULL, "chat ", NULL },
		{ "tokenize", NULL, "tokenize ", NULL },
		{ "ppl", NULL, "ppl ", NULL },
		{ "quantize", NULL, "quantize ", NULL },
		{ "energy", NULL, "energy ", NULL },
		{ "bench", "model", "bench -m ", "bench --synthetic " },
	};
	/* benchmarks without a row: README's section on each */
	static const char *const sections[][2] = {
		{ "matmul", "### Grouped matmuls: `qvk bench matmul`" },
		{ "quant", "### Quantization: `qvk bench quant`" },
		{ "attention", "### Decode attention, split-KV: `qvk bench attention`" },
	};
	char path[512];
	size_t len;
	char *readme = qvk_test_read_file(
		qvk_test_source_path("README.md", path, sizeof(path)), &len);
	unsigned checked = 0;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct qvk_cli_opts usage, row = { .n = 0 };
		char what[128];

		qvk_cli_help_usage(rows[i][0], rows[i][1], &usage);
		qvk_cli_readme_row(readme, rows[i][2], &row);
		if (rows[i][3])
			qvk_cli_readme_row(readme, rows[i][3], &row);
		snprintf(what, sizeof(what), "README's row for qvk %s%s lacks "
			 "an option of its --help usage", rows[i][0],
			 rows[i][1] ? " -m" : "");
		qvk_cli_opts_within(&usage, &row, what);
		snprintf(what, sizeof(what), "README's row for qvk %s%s names "
			 "an option its --help usage lacks", rows[i][0],
			 rows[i][1] ? " -m" : "");
		qvk_cli_opts_within(&row, &usage, what);
		checked += (unsigned)usage.n;
	}
	for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++) {
		struct qvk_cli_opts usage, text = { .n = 0 };
		const char *p = strstr(readme, sections[i][1]), *end;
		char what[128];

		ck_assert_msg(p, "README.md has no section '%s'", sections[i][1]);
		end = strstr(p + 1, "\n### ");
		qvk_cli_help_usage("bench", sections[i][0], &usage);
		qvk_cli_opts_scan(p, end ? (size_t)(end - p) : strlen(p), &text);
		snprintf(what, sizeof(what), "README's section on qvk bench %s "
			 "lacks an option of its --help", sections[i][0]);
		qvk_cli_opts_within(&usage, &text, what);
		checked += (unsigned)usage.n;
	}
	printf("%u options of --help usage lines match README.md\n", checked);
	free(readme);
}
END_TEST

Suite *suite_cli_help(void);
Suite *suite_cli_help(void)
{
	Suite *s = suite_create("cli_help");
	TCase *tc = tcase_create("help");

	tcase_set_timeout(tc, QVK_CLI_HELP_TIMEOUT_S);
	tcase_add_test(tc, test_every_help_exits_0);
	tcase_add_test(tc, test_help_matches_readme);
	suite_add_tcase(s, tc);
	return s;
}
