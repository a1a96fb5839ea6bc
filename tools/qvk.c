/* SPDX-License-Identifier: MIT */
/* The qvk command: dispatch to tools/cmd_NAME.c. */
#include <stdio.h>
#include <string.h>

#include "tool.h"

struct qvk_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct qvk_command qvk_commands[] = {
#define QVK_COMMAND(name) { #name, qvk_cmd_##name, qvk_cmd_##name##_summary },
#define QVK_BENCH(name)
#include "tool_commands.h"
#undef QVK_COMMAND
#undef QVK_BENCH
};

static void qvk_usage(FILE *f)
{
	fprintf(f, "usage: qvk COMMAND [ARGS]   (qvk COMMAND --help for more)\n\n"
		   "commands:\n");
	for (size_t i = 0; i < sizeof(qvk_commands) / sizeof(qvk_commands[0]);
	     i++)
		fprintf(f, "  %-10s %s\n", qvk_commands[i].name,
			qvk_commands[i].summary);
	fprintf(f, "\nenvironment: QVK_DEVICE (index or name), QVK_LOG "
		   "(error|warn|info|debug),\n  QVK_VALIDATION=1 (Vulkan "
		   "validation layer), QVK_NO_PIPELINE_CACHE=1,\n"
		   "  QVK_MODELS (model folder), QVK_SYSFS_ROOT (sysfs for "
		   "energy sources)\n");
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		qvk_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("qvk %s\n", QVK_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof(qvk_commands) / sizeof(qvk_commands[0]);
	     i++)
		if (!strcmp(argv[1], qvk_commands[i].name))
			return qvk_commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "qvk: unknown command '%s'\n\n", argv[1]);
	qvk_usage(stderr);
	return 2;
}
