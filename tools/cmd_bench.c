/* SPDX-License-Identifier: MIT */
/* qvk bench NAME: dispatch to tools/bench_NAME.c; "all" runs each. */
#include <stdio.h>
#include <string.h>

#include "tool.h"

const char qvk_cmd_bench_summary[] = "benchmarks (qvk bench --help lists them)";

struct qvk_bench {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct qvk_bench qvk_benches[] = {
#define QVK_COMMAND(name)
#define QVK_BENCH(name) { #name, qvk_bench_##name, qvk_bench_##name##_summary },
#include "tool_commands.h"
#undef QVK_COMMAND
#undef QVK_BENCH
};

static void qvk_bench_usage(FILE *f)
{
	fprintf(f, "usage: qvk bench -m MODEL|--synthetic SHAPE [ARGS]   "
		   "(= qvk bench model; --help)\n"
		   "       qvk bench NAME [ARGS]   (qvk bench NAME --help)\n"
		   "       qvk bench all           every benchmark with its "
		   "defaults\n\nbenchmarks:\n");
	for (size_t i = 0; i < QVK_ARRAY_SIZE(qvk_benches); i++)
		fprintf(f, "  %-8s %s\n", qvk_benches[i].name,
			qvk_benches[i].summary);
}

int qvk_cmd_bench(int argc, char **argv)
{
	int rc = 0;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		qvk_bench_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	/* qvk bench -m MODEL ...: the model benchmark, the common case. */
	if (argv[1][0] == '-')
		return qvk_bench_model(argc, argv);
	if (!strcmp(argv[1], "all")) {
		for (int i = 2; i < argc; i++) {
			if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
				qvk_bench_usage(stdout);
				return 0;
			}
			return qvk_tool_usage_error("bench", "bench all takes "
						    "no options ('%s'); run "
						    "one benchmark for those",
						    argv[i]);
		}
		for (size_t i = 0; i < QVK_ARRAY_SIZE(qvk_benches); i++) {
			char *args[] = { (char *)qvk_benches[i].name, NULL };

			printf("== qvk bench %s\n", qvk_benches[i].name);
			fflush(stdout);
			rc |= qvk_benches[i].run(1, args);
		}
		return rc;
	}
	for (size_t i = 0; i < QVK_ARRAY_SIZE(qvk_benches); i++)
		if (!strcmp(argv[1], qvk_benches[i].name))
			return qvk_benches[i].run(argc - 1, argv + 1);
	fprintf(stderr, "qvk bench: unknown benchmark '%s'\n\n", argv[1]);
	qvk_bench_usage(stderr);
	return 2;
}
